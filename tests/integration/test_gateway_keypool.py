"""test_gateway_keypool.py - key-pool configuration end to end (issue 5): a provider's
key_strategy and key weights, and the top-level key_pool: rules, as llmux applies them. The
mock counts requests per key (/mock/stats, by the key's last six characters) and is scripted per
key (POST /mock/keys). Round-robin over three keys rotates exactly and skips a key answering
429; weights 1:3 share 2,000 requests; `max_attempts: 1` sends a 500 back after one attempt;
`consecutive_429: 1` gives the long cooldown on the first 429 (route-check shows it); a SIGHUP
reload that changes key_strategy takes effect for the next requests.

A weighted pool's weight-0 key is a spare: unused while the other serves, taking over when it
is disabled. Two llmux instances: A with the default rules (and the reload), B with strict
ones."""
import json
import os
import signal
import tempfile
import time

from harness import check, eq, http, run, start_llmux, start_mock, test

MASTER = "mk-keypool-%d" % os.getpid()
# distinct last six characters: the mock counts per key by them
KEYS = {"r1": "sk-test-key-rrrrr1", "r2": "sk-test-key-rrrrr2", "r3": "sk-test-key-rrrrr3",
        "w1": "sk-test-key-wwwww1", "w3": "sk-test-key-wwwww3",
        "h1": "sk-test-key-hhhhh1", "h2": "sk-test-key-hhhhh2", "h3": "sk-test-key-hhhhh3",
        "m1": "sk-test-key-mmmmm1", "m2": "sk-test-key-mmmmm2",
        "c1": "sk-test-key-ccccc1", "c2": "sk-test-key-ccccc2",
        "s1": "sk-test-key-sssss1", "s0": "sk-test-key-sssss0"}
AUTH = {"Authorization": "Bearer " + MASTER}
ENV = dict({"M": MASTER}, **{"K_" + k.upper(): v for k, v in KEYS.items()})
_env = {}


def provider(name, base, items, strategy=None):
    s = "  - name: %s\n    type: openai\n    base_url: %s\n    keys:\n" % (name, base)
    for it in items:
        if isinstance(it, tuple):
            s += "      - {key: \"${K_%s}\", weight: %d}\n" % (it[0].upper(), it[1])
        else:
            s += "      - \"${K_%s}\"\n" % it.upper()
    if strategy:
        s += "    key_strategy: %s\n" % strategy
    return s


def yaml_a(base, hot_strategy):
    hot = [("h1", 1), ("h2", 1000000), ("h3", 1)] if hot_strategy == "weighted" else \
        ["h1", "h2", "h3"]
    return ("master_key: \"${M}\"\nproviders:\n" +
            provider("rr", base, ["r1", "r2", "r3"], "round-robin") +
            provider("wt", base, [("w1", 1), ("w3", 3)], "weighted") +
            provider("hot", base, hot, hot_strategy) +
            provider("ma", base, ["m1", "m2"]) +
            provider("sp", base, [("s1", 1), ("s0", 0)], "weighted"))


def yaml_b(base):
    return ("master_key: \"${M}\"\n"
            "key_pool:\n  max_attempts: 1\n  consecutive_429: 1\n  long_cooldown_s: 3600\n"
            "  backoff: {base_ms: 10, cap_ms: 50}\n"
            "providers:\n" +
            provider("ma", base, ["m1", "m2"]) +
            provider("cc", base, ["c1", "c2"], "round-robin"))


def env():
    if "a" in _env and _env["a"].p.poll() is None:
        return
    _env["mock"] = start_mock()
    base = "http://127.0.0.1:%d/v1" % _env["mock"].port
    for name, text in (("a", yaml_a(base, "weighted")), ("b", yaml_b(base))):
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(text)
        f.close()
        _env["path_" + name] = f.name
        _env[name] = start_llmux(["--config", f.name, "--workers", "1"], env=ENV)
    _env["base"] = base


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def fresh():
    mock("DELETE", "/mock/keys")
    mock("POST", "/mock/reset")


def counts(*names):
    st = mock("GET", "/mock/stats")
    return [st.get("keys", {}).get(KEYS[n][-6:], {}).get("requests", 0) for n in names]


def ask(inst, model, want=200):
    status, h, out = http(_env[inst].port, "POST", "/v1/chat/completions",
                          {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                          headers=AUTH)
    if want is not None:
        eq(status, want, out[:200])
    return status, h, out


@test
def round_robin_rotates_exactly():
    env()
    fresh()
    for _ in range(30):
        ask("a", "rr/m-rotate")
    eq(counts("r1", "r2", "r3"), [10, 10, 10], "round-robin over 3 keys, 30 requests")


@test
def round_robin_skips_a_key_answering_429():
    env()
    fresh()
    mock("POST", "/mock/keys", {KEYS["r2"]: "status=429,retry-after=60"})
    for _ in range(30):
        ask("a", "rr/m-skip")  # the 429 goes to the next key at once: every request succeeds
    r1, r2, r3 = counts("r1", "r2", "r3")
    eq(r2, 1, "the key cooling down after its 429 got more requests")
    eq(r1 + r3, 30)
    # they alternate (the retry after the 429 takes the next turn), so at most one apart
    check(abs(r1 - r3) <= 1, "the other two keys do not alternate: %d / %d" % (r1, r3))


@test
def weighted_one_to_three_over_2000_requests():
    env()
    fresh()
    n = 2000
    for _ in range(n):
        ask("a", "wt/m-weights")
    w1, w3 = counts("w1", "w3")
    eq(w1 + w3, n)
    # 25 % +- 5 points: the standard deviation of the share over 2,000 draws is ~1 point
    check(abs(w1 / n - 0.25) <= 0.05, "weight 1 got %.1f %% (want 25 %%)" % (100.0 * w1 / n))
    check(abs(w3 / n - 0.75) <= 0.05, "weight 3 got %.1f %% (want 75 %%)" % (100.0 * w3 / n))


@test
def max_attempts_one_sends_a_500_back_after_one_attempt():
    env()
    fresh()
    mock("POST", "/mock/keys", {KEYS["m1"]: "status=500", KEYS["m2"]: "status=500"})
    status, h, out = ask("b", "ma/m-once", want=None)
    check(status >= 500, "a 500 from every key gave the client %d" % status)
    eq(sum(counts("m1", "m2")), 1, "max_attempts: 1 made more than one attempt")
    # the control: the default rules (instance A) try another key
    fresh()
    mock("POST", "/mock/keys", {KEYS["m1"]: "status=500", KEYS["m2"]: "status=500"})
    ask("a", "ma/m-once", want=None)
    check(sum(counts("m1", "m2")) >= 2, "the default max_attempts made a single attempt")


@test
def consecutive_429_one_gives_the_long_cooldown_at_once():
    env()
    fresh()
    mock("POST", "/mock/keys", {KEYS["c1"]: "status=429", KEYS["c2"]: "status=429"})
    status, h, out = ask("b", "cc/m-long", want=None)  # no Retry-After: 65 s, or the long one
    eq(status, 429, out[:200])
    eq(sum(counts("c1", "c2")), 1)
    status, h, out = http(_env["b"].port, "GET", "/v1/route-check?model=cc/m-long",
                          headers=AUTH)
    eq(status, 200, out[:300])
    keys = json.loads(out)["candidates"][0]["keys"]
    eq(keys["cooling"], 1, keys)
    # long_cooldown_s: 3600, where a first 429 alone would give cooldown_s (65 s)
    check(keys["cooldown_remaining_ms"] > 3000 * 1000,
          "cooldown of %s ms: not the long one" % keys["cooldown_remaining_ms"])
    check('"consecutive_429"' in _env["b"].output(), "no long-cooldown line in the log")


@test
def sighup_reload_changes_the_key_strategy():
    env()
    fresh()
    for _ in range(30):
        ask("a", "hot/m-reload")
    h1, h2, h3 = counts("h1", "h2", "h3")
    check(h2 >= 29, "weighted 1:1000000:1 gave %d/%d/%d" % (h1, h2, h3))
    with open(_env["path_a"], "w") as f:
        f.write(yaml_a(_env["base"], "round-robin"))
    _env["a"].signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "reloaded" not in _env["a"].output() and time.time() < deadline:
        time.sleep(0.02)
    check("reloaded" in _env["a"].output(), "no reload line after SIGHUP")
    fresh()
    for _ in range(30):
        ask("a", "hot/m-reload")
    eq(counts("h1", "h2", "h3"), [10, 10, 10], "after the reload to round-robin")


@test
def no_key_in_the_logs():
    env()
    for inst in ("a", "b"):
        out = _env[inst].output()
        for k in KEYS.values():
            check(k not in out, "a whole key reached the log of instance %s" % inst)



@test
def weight_zero_key_is_a_spare():
    env()
    fresh()
    for _ in range(20):
        ask("a", "sp/m-spare")
    eq(counts("s1", "s0"), [20, 0], "the spare key served while the weighted one was usable")
    mock("POST", "/mock/keys", {KEYS["s1"]: "status=401"})
    for _ in range(10):
        ask("a", "sp/m-spare")  # the 401 disables s1 and the same request moves to the spare
    eq(counts("s1", "s0"), [21, 10], "the spare did not take over from the disabled key")


if __name__ == "__main__":
    run()
