"""test_gateway_probe.py - probes of disabled keys and active health checks per provider
(issue 5), end to end: llmux with `key_pool: {probe: ...}` and providers with `health_check:`,
the mock scripted per key (POST /mock/keys) and counting requests per key and path
(/mock/stats). A key answered 401 is disabled; with probes on, a cheap GET of the protocol's
model list is sent to it every interval, and it is back in use once that answers 200; with
probes off no probe ever reaches the mock. A provider whose checks fail `failures` times in a
row is logged unhealthy (and healthy again after one success); a 401 is a key's problem, not
the provider's. SIGTERM with a check in flight exits cleanly."""
import json
import os
import signal
import tempfile
import time

from harness import check, eq, free_port, http, run, start_llmux, start_mock, test

MASTER = "mk-probe-%d" % os.getpid()
# distinct last six characters: the mock counts per key by them
KEYS = {"a": "sk-probe-key-aaaaa1", "b": "sk-probe-key-bbbbb1",
        "g": "AIza-probe-key-ggggg1", "n": "sk-ant-probe-nnnnn1",
        "h": "sk-probe-key-hhhhh1", "h4": "sk-probe-key-hhhhh4", "d": "sk-probe-key-ddddd1",
        "u": "sk-probe-key-uuuuu1",
        "x": "sk-probe-key-xxxxx1", "y": "sk-probe-key-yyyyy1",
        "w": "sk-probe-key-wwwww1",
        "az": "azkey-probe-zzzzz1", "az1": "azkey-probe-zzzzz2", "co": "co-probe-key-ccccc1",
        "wk": "cf-probe-key-kkkkk1", "bd": "AKIDPROBEBBBBB1:secret-probe"}
AUTH = {"Authorization": "Bearer " + MASTER}
_env = {}


def key_env():
    e = {"M": MASTER}
    e.update({"K_" + k.upper(): v for k, v in KEYS.items()})
    return e


def write_config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(text)
    f.close()
    return f.name


def main_config(mock_port, dead_port, with_dead_check=True):
    base = "http://127.0.0.1:%d" % mock_port
    return ("master_key: \"${M}\"\n"
            "key_pool:\n  probe: {enabled: true, interval_s: 1}\n"
            "providers:\n"
            "  - name: p\n    type: openai\n    base_url: %s/v1\n"
            "    keys: [\"${K_A}\", \"${K_B}\"]\n"
            "  - name: g\n    type: gemini\n    base_url: %s/v1beta\n    keys: [\"${K_G}\"]\n"
            "  - name: an\n    type: anthropic\n    base_url: %s/v1\n    keys: [\"${K_N}\"]\n"
            "  - name: h\n    type: openai\n    base_url: %s/v1\n    keys: [\"${K_H}\"]\n"
            "    health_check: {enabled: true, interval_s: 1, failures: 2, timeout_ms: 1000}\n"
            "  - name: h4\n    type: openai\n    base_url: %s/v1\n    keys: [\"${K_H4}\"]\n"
            "    health_check: {enabled: true, interval_s: 1, failures: 2, timeout_ms: 1000}\n"
            "  - name: dead\n    type: openai\n    base_url: http://127.0.0.1:%d/v1\n"
            "    keys: [\"${K_D}\"]\n%s"
            "  - name: u\n    type: openai\n    base_url: %s/v1\n    keys: [\"${K_U}\"]\n"
            "models:\n"
            "  - name: hv\n    targets: [\"h/gpt-4o-mini\", \"u/gpt-4o-mini\"]\n"
            % (base, base, base, base, base, dead_port,
               "    health_check: {enabled: true, interval_s: 1, failures: 2, timeout_ms: 300}\n"
               if with_dead_check else "", base))


def env():
    if "lx" in _env and _env["lx"].p.poll() is None:
        return _env["lx"].port
    _env["mock"] = start_mock()
    _env["dead"] = free_port()  # nothing listens there: connection refused
    _env["cfg"] = write_config(main_config(_env["mock"].port, _env["dead"]))
    # checks start at once: script the health-checked keys before llmux starts
    script({"h": "status=500", "h4": "status=401"})
    _env["lx"] = start_llmux(["--config", _env["cfg"], "--workers", "2"], env=key_env())
    return _env["lx"].port


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def script(keys):
    mock("POST", "/mock/keys", {KEYS[k]: v for k, v in keys.items()})


def key_stats(k):
    st = mock("GET", "/mock/stats")
    return st.get("keys", {}).get(KEYS[k][-6:], {"requests": 0, "by_path": {}, "times_ms": []})


def path_count(k, path):
    return key_stats(k).get("by_path", {}).get(path, 0)


def log_events(lx, msg, **match):
    out = []
    for ln in lx.output().splitlines():
        if not ln.startswith("{"):
            continue
        try:
            d = json.loads(ln)
        except ValueError:
            continue
        if d.get("msg") == msg and all(d.get(k) == v for k, v in match.items()):
            out.append(d)
    return out


def wait_until(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return time.time()
        time.sleep(0.05)
    raise AssertionError("not within %.1f s: %s" % (timeout, what))


def chat(model):
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def disable_by_401(port, k, model, attempts=40):
    """Scripts key k 401 and sends requests to model until k got one (it is then disabled)."""
    script({k: "status=401"})
    for _ in range(attempts):
        http(port, "POST", "/v1/chat/completions", chat(model), headers=AUTH)
        if key_stats(k)["requests"] >= 1:
            return
    raise AssertionError("key %s never picked" % k)


@test
def a_401_key_is_probed_every_interval_and_comes_back():
    port = env()
    lx = _env["lx"]
    disable_by_401(port, "a", "p/gpt-4o-mini")
    t_disabled = time.time()
    chat_a = path_count("a", "/v1/chat/completions")
    eq(chat_a, 1, "the 401 key got more than one chat request")
    check(log_events(lx, "key_disabled") or '"key_disabled"' in lx.output(),
          "no key_disabled line")
    # still 401: it stays disabled and is probed at most once per interval
    for _ in range(20):
        status, _, out = http(port, "POST", "/v1/chat/completions", chat("p/gpt-4o-mini"),
                              headers=AUTH)
        eq(status, 200, out[:200])
    wait_until(lambda: path_count("a", "/v1/models") >= 2, 4.0, "two probes of the 401 key")
    time.sleep(max(0.0, t_disabled + 4.0 - time.time()))
    st = key_stats("a")
    probes = st["by_path"].get("/v1/models", 0)
    check(2 <= probes <= 5, "%d probes in ~4 s at interval 1 s" % probes)
    eq(st["by_path"].get("/v1/chat/completions", 0), 1, "a disabled key served a request")
    times = st["times_ms"][1:]  # the first was the chat request that disabled it
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 900 for g in gaps), "probes closer than the interval: %r" % gaps)
    check(log_events(lx, "key", event="probe_failed"), "no probe_failed event")
    for ev in log_events(lx, "key", event="probe_failed"):
        check(KEYS["a"] not in json.dumps(ev), "a probe log line holds the key")
    # the key answers again: back in use within ~2 s, through the cheap endpoint
    before = path_count("a", "/v1/models")
    script({"a": "ok"})
    t_ok = time.time()
    wait_until(lambda: log_events(lx, "key", event="probe_ok", key="p#0(...aaa1)"), 2.5,
               "probe_ok for the key")
    check(time.time() - t_ok <= 2.5, "the probe took too long")
    check(path_count("a", "/v1/models") > before, "the probe did not use GET /v1/models")
    for _ in range(30):
        status, _, out = http(port, "POST", "/v1/chat/completions", chat("p/gpt-4o-mini"),
                              headers=AUTH)
        eq(status, 200, out[:200])
    check(path_count("a", "/v1/chat/completions") > chat_a, "the key is not back in use")


@test
def probes_use_each_protocols_list_endpoint():
    port = env()
    lx = _env["lx"]
    disable_by_401(port, "g", "g/gemini-2.0-flash", attempts=3)
    disable_by_401(port, "n", "an/claude-3-5-haiku", attempts=3)
    script({"g": "ok", "n": "ok"})
    wait_until(lambda: path_count("g", "/v1beta/models") >= 1 and
               path_count("n", "/v1/models") >= 1, 4.0, "probes of the Gemini and Anthropic keys")
    wait_until(lambda: log_events(lx, "key", event="probe_ok", key="g#0(...ggg1)") and
               log_events(lx, "key", event="probe_ok", key="an#0(...nnn1)"), 4.0,
               "both keys probed back")
    status, _, out = http(port, "POST", "/v1/chat/completions", chat("g/gemini-2.0-flash"),
                          headers=AUTH)
    eq(status, 200, out[:200])
    status, _, out = http(port, "POST", "/v1/chat/completions", chat("an/claude-3-5-haiku"),
                          headers=AUTH)
    eq(status, 200, out[:200])


@test
def probes_off_send_nothing():
    mport = _env["mock"].port if "mock" in _env else env() and _env["mock"].port
    base = "http://127.0.0.1:%d/v1" % mport
    procs = []
    for name, probe in (("x", "key_pool:\n  probe: {enabled: false, interval_s: 1}\n"),
                        ("y", "")):  # explicitly off, and the default
        cfg = write_config("master_key: \"${M}\"\n%s"
                           "providers:\n  - name: q\n    type: openai\n    base_url: %s\n"
                           "    keys: [\"${K_%s}\", \"${K_W}\"]\n" % (probe, base, name.upper()))
        lx = start_llmux(["--config", cfg, "--workers", "1"], env=key_env())
        procs.append(lx)
        disable_by_401(lx.port, name, "q/gpt-4o-mini")
    time.sleep(2.5)
    for name in ("x", "y"):
        eq(path_count(name, "/v1/models"), 0, "a probe reached the mock with probes off")
        eq(key_stats(name)["requests"], 1, "the disabled key was used again")
    for lx in procs:
        eq(lx.stop(), 0, "llmux exit code")


@test
def failing_checks_mark_a_provider_unhealthy_and_one_success_heals_it():
    env()
    lx = _env["lx"]
    # h answers 500 to everything (scripted before start): unhealthy after 2 checks
    wait_until(lambda: log_events(lx, "health", event="unhealthy", provider="h"), 5.0,
               "h unhealthy")
    ev = log_events(lx, "health", event="unhealthy", provider="h")[0]
    eq(ev.get("consecutive_failures"), 2)
    eq(ev.get("status"), 500)
    check(path_count("h", "/v1/models") >= 2, "the checks did not GET /v1/models")
    # nothing listens on dead's port: unhealthy too, with the transport error
    wait_until(lambda: log_events(lx, "health", event="unhealthy", provider="dead"), 5.0,
               "dead unhealthy")
    # a 401 is a key problem, not the provider's health
    wait_until(lambda: path_count("h4", "/v1/models") >= 3, 5.0, "three checks of h4")
    eq(log_events(lx, "health", provider="h4"), [], "a 401 made the provider unhealthy")
    # one success heals
    script({"h": "ok"})
    wait_until(lambda: log_events(lx, "health", event="healthy", provider="h"), 3.0,
               "h healthy again")
    # checks keep their interval: about one a second
    st = key_stats("h")
    gaps = [b - a for a, b in zip(st["times_ms"], st["times_ms"][1:])]
    check(all(g >= 800 for g in gaps), "checks closer than the interval: %r" % gaps)


@test
def unhealthy_provider_is_skipped_by_routing():
    port = env()
    lx = _env["lx"]
    script({"h": "status=500"})
    wait_until(lambda: log_events(lx, "health", event="unhealthy", provider="h") and
               len(log_events(lx, "health", provider="h")) % 2 == 1, 5.0, "h unhealthy")
    before = path_count("h", "/v1/chat/completions")
    for _ in range(10):
        status, _, out = http(port, "POST", "/v1/chat/completions", chat("hv"), headers=AUTH)
        eq(status, 200, out[:200])
    eq(path_count("h", "/v1/chat/completions"), before, "an unhealthy provider got traffic")
    # a lone target on it: 503 at once, saying why
    status, _, out = http(port, "POST", "/v1/chat/completions", chat("h/gpt-4o-mini"),
                          headers=AUTH)
    eq(status, 503, out[:200])
    err = json.loads(out)["error"]
    eq(err["code"], "provider_unavailable")
    check("health checks" in err["message"], err)
    eq(path_count("h", "/v1/chat/completions"), before)
    # route-check, model-options and /health say so
    status, _, out = http(port, "GET", "/v1/route-check?model=hv", headers=AUTH)
    cands = {c["provider"]: c for c in json.loads(out)["candidates"]}
    eq(cands["h"]["skipped"], "provider_unhealthy")
    eq(cands["h"]["healthy"], False)
    eq(cands["u"]["healthy"], True)
    status, _, out = http(port, "GET", "/v1/model-options", headers=AUTH)
    eq({m["id"]: m for m in json.loads(out)["data"]}["hv"]["provider"], "u")
    status, _, out = http(port, "GET", "/health")
    hc = json.loads(out)["providers"]["h"]["health_check"]
    eq(hc["healthy"], False)
    check(hc["consecutive_failures"] >= 2 and hc["last_status"] == 500, hc)
    check("health_check" not in json.loads(out)["providers"]["u"], "u has no checks")
    script({"h": "ok"})


@test
def reload_follows_providers_added_and_removed():
    env()
    lx = _env["lx"]
    wait_until(lambda: log_events(lx, "health", event="unhealthy", provider="dead"), 5.0,
               "dead unhealthy")
    # checks off for dead: its state is forgotten (routing reads it healthy again)
    with open(_env["cfg"], "w") as f:
        f.write(main_config(_env["mock"].port, _env["dead"], with_dead_check=False))
    lx.signal(signal.SIGHUP)
    wait_until(lambda: log_events(lx, "health", event="forgotten", provider="dead"), 5.0,
               "dead forgotten after the reload")
    # and back on: checks start again
    with open(_env["cfg"], "w") as f:
        f.write(main_config(_env["mock"].port, _env["dead"], with_dead_check=True))
    n = len(log_events(lx, "health", event="unhealthy", provider="dead"))
    lx.signal(signal.SIGHUP)
    wait_until(lambda: len(log_events(lx, "health", event="unhealthy", provider="dead")) > n,
               5.0, "dead checked again after the second reload")


@test
def checks_use_each_protocols_list_endpoint_and_auth_header():
    mport = _env["mock"].port if "mock" in _env else env() and _env["mock"].port
    base = "http://127.0.0.1:%d" % mport
    hc = "    health_check: {enabled: true, interval_s: 1, failures: 1, timeout_ms: 1000}\n"
    mock("POST", "/mock/reset")
    cfg = write_config("master_key: \"${M}\"\n"
                       "providers:\n"
                       "  - name: az\n    type: azure\n    base_url: %s\n"
                       "    api_version: \"2024-10-21\"\n    keys: [\"${K_AZ}\"]\n%s"
                       "  - name: az1\n    type: azure\n    base_url: %s\n"
                       "    keys: [\"${K_AZ1}\"]\n%s"
                       "  - name: co\n    type: cohere\n    base_url: %s\n    keys: [\"${K_CO}\"]\n%s"
                       "  - name: wk\n    type: workers-ai\n"
                       "    base_url: %s/client/v4/accounts/acc1\n    keys: [\"${K_WK}\"]\n%s"
                       "  - name: ol\n    type: ollama\n    base_url: %s\n%s"
                       "  - name: bd\n    type: bedrock\n    base_url: %s\n"
                       "    region: us-east-1\n    keys: [\"${K_BD}\"]\n%s"
                       % (base, hc, base, hc, base, hc, base, hc, base, hc, base, hc))
    lx = start_llmux(["--config", cfg, "--workers", "1"], env=key_env())
    want = {"az": "/openai/models", "az1": "/openai/v1/models", "co": "/v1/models",
            "wk": "/client/v4/accounts/acc1/ai/models/search"}
    wait_until(lambda: all(path_count(k, p) >= 1 for k, p in want.items()), 4.0,
               "a check of every provider, with its key in its own header")
    wait_until(lambda: mock("GET", "/mock/stats")["by_path"].get("/api/tags", 0) >= 1, 4.0,
               "the Ollama check")
    time.sleep(1.2)
    # the bedrock check sends no credentials (the mock would count its access key id)
    eq(key_stats("bd")["requests"], 0, "a SigV4 key was sent by a health check")
    check(mock("GET", "/mock/stats")["by_path"].get("/", 0) >= 1, "no Bedrock reachability check")
    # (every llmux of this file logs into one file: look at this one's providers only)
    bad = [e for e in log_events(lx, "health", event="unhealthy")
           if e.get("provider") in ("az", "az1", "co", "wk", "ol", "bd")]
    eq(bad, [], "a provider that answers is unhealthy")
    eq(lx.stop(), 0, "llmux exit code")


@test
def sigterm_with_checks_in_flight_exits_cleanly():
    mport = _env["mock"].port if "mock" in _env else env() and _env["mock"].port
    base = "http://127.0.0.1:%d/v1" % mport
    mock("POST", "/mock/keys", {KEYS["w"]: "hang"})
    cfg = write_config("master_key: \"${M}\"\n"
                       "key_pool:\n  probe: {enabled: true, interval_s: 1}\n"
                       "providers:\n  - name: s\n    type: openai\n    base_url: %s\n"
                       "    keys: [\"${K_W}\"]\n"
                       "    health_check: {enabled: true, interval_s: 1, timeout_ms: 60000}\n"
                       % base)
    lx = start_llmux(["--config", cfg, "--workers", "1"], env=key_env())
    wait_until(lambda: path_count("w", "/v1/models") >= 1, 4.0, "a hanging check in flight")
    t0 = time.time()
    rc = lx.stop(timeout=10.0)
    eq(rc, 0, "llmux exit code with a check in flight")
    check(time.time() - t0 < 5.0, "SIGTERM took %.1f s" % (time.time() - t0))
    mock("DELETE", "/mock/keys")


if __name__ == "__main__":
    run()
