"""test_gateway_keys.py - key pools that heal (issue 5), end to end: llmux with providers of
several keys each, the mock scripted per key (POST /mock/keys) and counting requests per key
(/mock/stats). A key answered 429 + Retry-After gets no request for that long while the others
serve; two 429s in a row give it the long cooldown; a 401 key is never used again; all keys
cooling gives the client 429 with the soonest Retry-After and no upstream request; a fault
after the first streamed byte is never retried, one before it is, within the attempt limit."""
import json
import os
import tempfile
import time

from harness import check, eq, http, run, start_llmux, start_mock, stream, test

MASTER = "mk-keys-%d" % os.getpid()
# distinct last six characters: the mock counts per key by them
KEYS = {"a": "sk-test-key-aaaaaa", "b": "sk-test-key-bbbbbb", "c": "sk-test-key-cccccc",
        "q1": "sk-test-key-qqqqq1", "q2": "sk-test-key-qqqqq2",
        "s1": "sk-test-key-sssss1", "s2": "sk-test-key-sssss2",
        "t": "sk-test-key-tttttt", "u": "sk-test-key-uuuuuu"}
AUTH = {"Authorization": "Bearer " + MASTER}
_env = {}


def env():
    if "lx" in _env and _env["lx"].p.poll() is None:
        return _env["lx"].port
    _env["mock"] = start_mock()
    base = "http://127.0.0.1:%d/v1" % _env["mock"].port
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write("master_key: \"${M}\"\n"
            "providers:\n"
            "  - name: p\n    type: openai\n    base_url: %s\n"
            "    keys: [\"${KA}\", \"${KB}\", \"${KC}\"]\n"
            "  - name: q\n    type: openai\n    base_url: %s\n    keys: [\"${KQ1}\", \"${KQ2}\"]\n"
            "  - name: s\n    type: openai\n    base_url: %s\n    keys: [\"${KS1}\", \"${KS2}\"]\n"
            "  - name: t\n    type: openai\n    base_url: %s\n    keys: [\"${KT}\"]\n"
            "  - name: u\n    type: openai\n    base_url: %s\n    keys: [\"${KU}\"]\n"
            "models:\n"
            "  - name: flaky\n    targets: [\"t/mock:status=503\", \"u/gpt-4o-mini\"]\n"
            "  - name: dead\n    targets: [\"t/mock:status=503,delay=0\"]\n"
            "  - name: long\n    targets:\n"
            "      - {target: \"t/mock:fixture=openai/error_400_context_length.json\","
            " context_window: 8192}\n"
            "      - {target: \"u/mock:fixture=openai/chat_basic_response.json\","
            " context_window: 128000}\n"
            % (base, base, base, base, base))
    f.close()
    _env["lx"] = start_llmux(["--config", f.name, "--workers", "1"],
                             env={"M": MASTER, "KA": KEYS["a"], "KB": KEYS["b"],
                                  "KC": KEYS["c"], "KQ1": KEYS["q1"], "KQ2": KEYS["q2"],
                                  "KS1": KEYS["s1"], "KS2": KEYS["s2"], "KT": KEYS["t"],
                                  "KU": KEYS["u"]})
    return _env["lx"].port


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def script(keys):
    mock("POST", "/mock/keys", {KEYS[k]: v for k, v in keys.items()})


def per_key():
    st = mock("GET", "/mock/stats")
    return {k: st.get("keys", {}).get(v[-6:], {"requests": 0, "times_ms": []})
            for k, v in KEYS.items()}, st.get("now_ms", 0.0)


def chat(model, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    body.update(extra)
    return body


@test
def retry_after_cools_that_key_for_that_model_only():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    script({"a": "status=429,retry-after=2"})
    t0 = time.monotonic()
    for _ in range(30):
        status, h, out = http(port, "POST", "/v1/chat/completions", chat("p/m1"), headers=AUTH)
        eq(status, 200, out[:200])  # a 429 on one key goes to another at once
    counts, now = per_key()
    eq(counts["a"]["requests"], 1, "key a got a request while it cooled down")
    eq(counts["b"]["requests"] + counts["c"]["requests"], 30)
    # the cooldown is per model: another model may still use key a
    used = False
    for _ in range(40):
        http(port, "POST", "/v1/chat/completions", chat("p/m2"), headers=AUTH)
        used = per_key()[0]["a"]["requests"] > 1
        if used:
            break
    check(used, "key a was never used for another model")
    # after Retry-After (2 s), key a serves m1 again, and no sooner
    first = counts["a"]["times_ms"][0]
    n_before = per_key()[0]["a"]["requests"]
    mock("POST", "/mock/keys", {KEYS["a"]: "ok"})
    seen = None
    while time.monotonic() - t0 < 6 and seen is None:
        http(port, "POST", "/v1/chat/completions", chat("p/m1"), headers=AUTH)
        times = per_key()[0]["a"]["times_ms"]
        if len(times) > n_before:
            seen = times[n_before]
    check(seen is not None, "key a never came back after its Retry-After")
    check(seen - first >= 2000 - 100, "key a reused %.0f ms after its 429" % (seen - first))


@test
def two_429s_in_a_row_give_the_long_cooldown():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    script({"b": "status=429,retry-after=1"})
    model = "p/m-streak"

    def until_b_used(n):
        for _ in range(60):
            http(port, "POST", "/v1/chat/completions", chat(model), headers=AUTH)
            if per_key()[0]["b"]["requests"] >= n:
                return True
        return False

    check(until_b_used(1), "key b was never picked")
    time.sleep(1.2)  # its cooldown (Retry-After 1 s) ends
    check(until_b_used(2), "key b was not used again after its cooldown")
    # the second 429 in a row: b is out for this model for the long cooldown (24 h)
    time.sleep(1.2)
    for _ in range(30):
        status, h, out = http(port, "POST", "/v1/chat/completions", chat(model), headers=AUTH)
        eq(status, 200)
    eq(per_key()[0]["b"]["requests"], 2, "key b served again despite two 429s in a row")
    log = _env["lx"].output()
    check('"consecutive_429"' in log, "no long-cooldown line in the key lifecycle log")
    check(KEYS["b"] not in log, "a whole key reached the log")


@test
def unauthorized_key_is_never_used_again():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    script({"c": "status=401"})
    for i in range(40):
        status, h, out = http(port, "POST", "/v1/chat/completions", chat("p/m%d" % (i % 4)),
                              headers=AUTH)
        eq(status, 200, out[:200])
    eq(per_key()[0]["c"]["requests"], 1, "a 401 key was used again")
    log = _env["lx"].output()
    check('"key_disabled"' in log and "(...cccc)" in log, "no key_disabled line naming it")


@test
def all_keys_cooling_is_429_with_retry_after():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    script({"q1": "status=429,retry-after=5", "q2": "status=429,retry-after=8"})
    status, h, out = http(port, "POST", "/v1/chat/completions", chat("q/x"), headers=AUTH)
    eq(status, 429, out[:200])  # both keys tried, the provider's own 429 comes back
    before = per_key()[0]
    eq(before["q1"]["requests"] + before["q2"]["requests"], 2)
    status, h, out = http(port, "POST", "/v1/chat/completions", chat("q/x"), headers=AUTH)
    eq(status, 429, out[:200])
    ra = int(h.get("retry-after", "0"))
    check(4 <= ra <= 5, "Retry-After %r: the soonest cooldown end is ~5 s" % ra)
    eq(json.loads(out)["error"]["code"], "rate_limit_exceeded")
    after = per_key()[0]
    eq(after["q1"]["requests"] + after["q2"]["requests"], 2, "llmux asked a cooling key")


@test
def fault_after_first_byte_is_never_retried():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    st = {"s1": "fixture=openai/chat_stream.sse,truncate=900",
          "s2": "fixture=openai/chat_stream.sse,truncate=900"}
    script(st)
    status, h, evs = stream(port, "/v1/chat/completions", chat("s/x", stream=True), headers=AUTH)
    eq(status, 200)
    check(b"[DONE]" not in [d for _, d in evs], "a cut stream ended cleanly")
    c = per_key()[0]
    eq(c["s1"]["requests"] + c["s2"]["requests"], 1, "a second attempt after the first byte")


@test
def fault_before_first_byte_fails_over_within_the_limit():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    script({"s1": "reset", "s2": "reset"})
    status, h, out = http(port, "POST", "/v1/chat/completions", chat("s/x"), headers=AUTH)
    c = per_key()[0]
    # both keys reset the connection: two attempts (one per key), then the client's 502
    eq(c["s1"]["requests"] + c["s2"]["requests"], 2)
    eq(status, 502, out[:200])
    # one key resets, the other answers: every request succeeds, in at most two attempts
    script({"s1": "reset", "s2": "ok"})
    mock("POST", "/mock/reset")
    for i in range(10):
        status, h, out = http(port, "POST", "/v1/chat/completions", chat("s/y%d" % i),
                              headers=AUTH)
        eq(status, 200, out[:200])
    c = per_key()[0]
    eq(c["s2"]["requests"], 10)
    # s1 is picked first about half the time; the transport may resend once on a fresh
    # connection when a reused one is reset before any byte (upstream/), never more
    check(c["s1"]["requests"] <= 20, c["s1"])


@test
def breaker_opens_after_five_failures_and_sheds_the_target():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    for _ in range(12):
        status, h, out = http(port, "POST", "/v1/chat/completions", chat("flaky"), headers=AUTH)
        eq(status, 200, out[:200])  # the first target fails, the second answers
    c = per_key()[0]
    eq(c["t"]["requests"], 5, "the failing target kept getting traffic after 5 failures")
    eq(c["u"]["requests"], 12)
    # a target alone behind an open breaker: llmux answers at once, nothing goes upstream
    for _ in range(5):
        http(port, "POST", "/v1/chat/completions", chat("dead"), headers=AUTH)
    before = per_key()[0]["t"]["requests"]
    status, h, out = http(port, "POST", "/v1/chat/completions", chat("dead"),
                          headers=dict(AUTH, **{"X-Request-Id": "breaker-open-1"}))
    eq(status, 503, out[:200])
    eq(json.loads(out)["error"]["code"], "provider_unavailable")
    eq(per_key()[0]["t"]["requests"], before, "a request went through an open breaker")
    line = None
    for _ in range(100):
        line = [json.loads(ln) for ln in _env["lx"].output().splitlines()
                if "breaker-open-1" in ln and '"access"' in ln]
        if line:
            break
        time.sleep(0.02)
    check(line, "no access line")
    check(line[0]["latency_ms"] < 5, "the open breaker's answer took %s ms" % line[0]["latency_ms"])
    check('"breaker"' in _env["lx"].output(), "no breaker line in the log")
    # route-check explains it: the target is skipped, its breaker open
    status, h, out = http(port, "GET", "/v1/route-check?model=dead", headers=AUTH)
    eq(status, 200, out)
    doc = json.loads(out)
    eq(doc["available"], False)
    eq(doc["candidates"][0]["skipped"], "breaker_open")
    eq(doc["candidates"][0]["breaker"], "open")
    eq(doc["candidates"][0]["keys"]["usable"], 1)
    # model-options lists what is routable now: "flaky" goes to u first, "dead" is not routable
    status, h, out = http(port, "GET", "/v1/model-options", headers=AUTH)
    eq(status, 200, out)
    doc = json.loads(out)
    data = {m["id"]: m for m in doc["data"]}
    gone = {m["id"]: m for m in doc["unavailable"]}
    eq(data["flaky"]["provider"], "u", "the open breaker's target was offered first")
    eq(data["flaky"]["targets_available"], 1)
    check("dead" not in data and "dead" in gone, "dead listed as routable: %s" % out[:400])
    eq(gone["dead"]["status"], 503)
    check("breaker" in gone["dead"]["message"], gone["dead"])


@test
def context_window_fallback_moves_to_a_larger_window():
    port = env()
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")
    status, h, out = http(port, "POST", "/v1/chat/completions", chat("long"), headers=AUTH)
    eq(status, 200, out[:300])  # the first target said context_length_exceeded
    c = per_key()[0]
    eq(c["t"]["requests"], 1)
    eq(c["u"]["requests"], 1)


if __name__ == "__main__":
    run()
