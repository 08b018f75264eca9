"""test_gateway_config.py - llmux serve --config: choosing the provider by name (provider/model
split at the first slash, aliases, pattern rules), the model field spliced for the provider
with every other byte kept, each provider's own key, and SIGHUP reloads (a good file applies
to new requests, a stream in flight finishes on the old one, a bad file is refused)."""
import json
import os
import signal
import tempfile
import threading
import time

from harness import check, eq, http, run, start_llmux, start_mock, stream, test

KEY_A = "sk-CANARY-a-%d" % os.getpid()
KEY_B = "sk-CANARY-b-%d" % os.getpid()
_env = {}


def yaml(alias_target):
    return ("listen: 127.0.0.1:4000\n"
            "providers:\n"
            "  - name: a\n"
            "    type: openai\n"
            "    base_url: http://127.0.0.1:%d/v1\n"
            "    keys: [\"${KEY_A}\"]\n"
            "  - name: b\n"
            "    type: openai\n"
            "    base_url: http://127.0.0.1:%d/v1\n"
            "    keys: [\"${KEY_B}\"]\n"
            "models:\n"
            "  - name: fast\n"
            "    targets: [\"%s\"]\n"
            "routes:\n"
            "  - match: \"gpt-*\"\n"
            "    provider: a\n"
            "cors:\n"
            "  origins: [\"https://app.example\"]\n") % (_env["ma"].port, _env["mb"].port,
                                                       alias_target)


def env():
    if "lx" not in _env:
        _env["ma"] = start_mock()
        _env["mb"] = start_mock()
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(yaml("b/mock:echo"))
        f.close()
        _env["path"] = f.name
        _env["lx"] = start_llmux(["--config", f.name, "--workers", "2"],
                                 env={"KEY_A": KEY_A, "KEY_B": KEY_B})
    return _env["lx"]


def echo(model, raw=None):
    lx = env()
    body = raw if raw is not None else {"model": model, "messages": [{"role": "user",
                                                                     "content": "hi"}]}
    status, h, out = http(lx.port, "POST", "/v1/chat/completions", body)
    eq(status, 200, out[:300])
    doc = json.loads(out)
    return doc, {k.lower(): v for k, v in doc["headers"]}


@test
def provider_prefix_is_split_and_spliced():
    doc, hdrs = echo("a/mock:echo")
    eq(hdrs["authorization"], "Bearer " + KEY_A)
    eq(json.loads(doc["body"])["model"], "mock:echo")
    doc, hdrs = echo("b/mock:echo")
    eq(hdrs["authorization"], "Bearer " + KEY_B)


@test
def splice_keeps_every_other_byte():
    raw = (b'{ "messages" : [ {"role":"user","content":"h\\u00e9"} ],\n'
           b'  "seed": 9223372036854775807, "temperature": 0.10,\n  "model":"a/mock:echo" }')
    doc, hdrs = echo(None, raw)
    eq(doc["body"].encode(), raw.replace(b'"a/mock:echo"', b'"mock:echo"'))


@test
def alias_and_pattern_rules():
    doc, hdrs = echo("fast")
    eq(hdrs["authorization"], "Bearer " + KEY_B, "alias fast -> b")
    eq(json.loads(doc["body"])["model"], "mock:echo")
    lx = env()
    status, h, out = http(lx.port, "POST", "/v1/chat/completions",
                          {"model": "gpt-4o-mini", "messages": []},
                          headers={"X-Request-Id": "route-gpt"})
    eq(status, 200, out)
    time.sleep(0.1)
    line = [json.loads(ln) for ln in lx.output().splitlines() if "route-gpt" in ln][0]
    eq(line["provider"], "a")


@test
def unknown_model_is_404_model_not_found():
    lx = env()
    for m in ("nosuch-model", "zz/gpt-4o"):
        status, h, out = http(lx.port, "POST", "/v1/chat/completions", {"model": m,
                                                                        "messages": []})
        eq(status, 404, m)
        err = json.loads(out)["error"]
        eq(err["code"], "model_not_found", m)
        eq(err["type"], "invalid_request_error")


@test
def sighup_reload_applies_to_new_requests_and_spares_streams():
    lx = env()
    result = {}

    def long_stream():
        result["r"] = stream(lx.port, "/v1/chat/completions",
                             {"model": "fast", "stream": True, "messages": []}, timeout=15)

    # a stream in flight on the old snapshot (alias fast -> b, here a paced stream)
    with open(_env["path"], "w") as f:
        f.write(yaml("b/mock:tokens=20,token-ms=50"))
    lx.signal(signal.SIGHUP)
    wait_log(lx, "reloaded", 1)
    t = threading.Thread(target=long_stream)
    t.start()
    time.sleep(0.3)
    with open(_env["path"], "w") as f:
        f.write(yaml("a/mock:echo"))
    lx.signal(signal.SIGHUP)
    wait_log(lx, "reloaded", 2)
    doc, hdrs = echo("fast")
    eq(hdrs["authorization"], "Bearer " + KEY_A, "new requests use the new file")
    t.join(20)
    status, h, evs = result["r"]
    eq(status, 200)
    eq(evs[-1][1], b"[DONE]", "the stream in flight must finish on its snapshot")
    check(len([d for _, d in evs if b'"content"' in d]) >= 20, "tokens lost")
    # a bad file is refused and the running configuration stays
    with open(_env["path"], "w") as f:
        f.write("providers: [ {name: a, type: openai, base_url: ftp://nope} ]\n")
    lx.signal(signal.SIGHUP)
    wait_log(lx, "refused", 1)
    doc, hdrs = echo("fast")
    eq(hdrs["authorization"], "Bearer " + KEY_A)
    check(KEY_A not in lx.output() and KEY_B not in lx.output(), "a key reached the log")


@test
def models_health_completions_embeddings():
    lx = env()
    status, h, out = http(lx.port, "GET", "/v1/models")
    eq(status, 200)
    doc = json.loads(out)
    eq(doc["object"], "list")
    ids = [m["id"] for m in doc["data"]]
    check("fast" in ids, ids)
    check(all(m["object"] == "model" for m in doc["data"]), doc)
    status, h, out = http(lx.port, "GET", "/health")
    eq(status, 200)
    doc = json.loads(out)
    eq(doc["providers"]["a"], {"type": "openai", "enabled": True})
    eq(sorted(doc["available_providers"]), ["a", "b"])
    status, h, out = http(lx.port, "POST", "/v1/embeddings",
                          {"model": "a/text-embedding-3-small", "input": "hi"})
    eq(status, 200, out)
    eq(json.loads(out)["object"], "list")
    status, h, out = http(lx.port, "POST", "/v1/completions",
                          {"model": "a/gpt-3.5-turbo-instruct", "prompt": "hi"})
    eq(status, 200, out)
    eq(json.loads(out)["object"], "text_completion")
    status, h, evs = stream(lx.port, "/v1/completions",
                            {"model": "a/mock:tokens=3,token-ms=5", "prompt": "hi",
                             "stream": True})
    eq(status, 200)
    eq(evs[-1][1], b"[DONE]")


@test
def reload_under_load_fails_nothing():
    lx = env()
    results = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                st, h, out = http(lx.port, "POST", "/v1/chat/completions",
                                  {"model": "fast", "messages": []}, timeout=10)
                results.append(st)
            except OSError as e:  # a refused or reset connection is a failure too
                results.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    before = sum(1 for ln in lx.output().splitlines() if "SIGHUP" in ln and "reloaded" in ln)
    for i in range(10):
        with open(_env["path"], "w") as f:
            f.write(yaml("a/gpt-4o" if i % 2 else "b/gpt-4o"))
        lx.signal(signal.SIGHUP)
        wait_log(lx, "reloaded", before + i + 1)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(15)
    check(len(results) > 50, "too few requests during the reloads: %d" % len(results))
    bad = [r for r in results if r != 200]
    eq(bad, [], "requests failed during reloads")


@test
def cors_preflight_and_headers():
    lx = env()
    st, h, out = http(lx.port, "OPTIONS", "/v1/chat/completions",
                      headers={"Origin": "https://app.example",
                               "Access-Control-Request-Method": "POST"})
    eq(st, 204)
    eq(h.get("access-control-allow-origin"), "https://app.example")
    check("POST" in h.get("access-control-allow-methods", ""), h)
    check("authorization" in h.get("access-control-allow-headers", "").lower(), h)
    st, h, out = http(lx.port, "OPTIONS", "/v1/chat/completions",
                      headers={"Origin": "https://evil.example"})
    eq(st, 403)
    check("access-control-allow-origin" not in h, h)
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", {"model": "nosuch"},
                      headers={"Origin": "https://app.example"})
    eq(st, 404)
    eq(h.get("access-control-allow-origin"), "https://app.example")
    check(h.get("x-request-id"), "X-Request-Id on errors")
    st, h, out = http(lx.port, "POST", "/v1/chat/completions",
                      {"model": "a/gpt-4o", "messages": []}, headers={"Origin": "https://x.example"})
    eq(st, 200)
    check("access-control-allow-origin" not in h, "CORS header for a foreign origin")


def wait_log(lx, word, n, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if sum(1 for ln in lx.output().splitlines() if "SIGHUP" in ln and word in ln) >= n:
            return
        time.sleep(0.02)
    raise AssertionError("no %d SIGHUP '%s' log lines" % (n, word))


if __name__ == "__main__":
    try:
        run()
    finally:
        if "path" in _env:
            os.unlink(_env["path"])
