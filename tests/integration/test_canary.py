"""test_canary.py - keys never leak. Every key llmux holds (master key, provider keys, a
secret provider header) and every key a client brings (BYOK, wrong master keys) is a canary
"sk-CANARY-...". After every error path runs, no canary may appear in any response body or
header llmux sent, nor in llmux's log (its only output: llmux writes no other file)."""
import json
import os
import signal
import socket
import tempfile
import urllib.parse

from harness import check, eq, http, raw_exchange, run, start_llmux, start_mock, stream, test

PID = os.getpid()
MASTER = "sk-CANARY-master-%d" % PID
K1, K2, K3 = ("sk-CANARY-k%d-%d" % (i, PID) for i in (1, 2, 3))
BYOK = "sk-CANARY-byok-%d" % PID
WRONG = "sk-CANARY-wrong-%d" % PID
CANARIES = (MASTER, K1, K2, K3, BYOK, WRONG)
_env = {}
_seen = []  # (what, bytes) of everything llmux sent back


def env():
    if "lx" not in _env:
        m = start_mock()
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write("master_key: ${M}\n"
                "cors:\n  origins: [\"https://app.example\"]\n"
                "providers:\n"
                "  - name: op\n"
                "    type: openrouter\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "    keys: [\"${K1}\"]\n"
                "  - name: plain\n"
                "    type: openai\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "    keys: [\"${K2}\"]\n"
                "    headers:\n"
                "      X-Custom-Auth: \"${K3}\"\n" % (m.port, m.port))
        f.close()
        _env["path"] = f.name
        _env["lx"] = start_llmux(["--config", f.name, "--workers", "1",
                                  "--first-byte-timeout-ms", "500"],
                                 env={"M": MASTER, "K1": K1, "K2": K2, "K3": K3})
    return _env["lx"]


def call(method, path, body=None, headers=None, auth=True):
    h = {"Authorization": "Bearer " + MASTER} if auth else {}
    h.update(headers or {})
    st, hd, out = http(env().port, method, path, body, headers=h)
    _seen.append(("%s %s" % (method, path), json.dumps(hd).encode() + b"\n" + out))
    return st, hd, out


def chat(model, **kw):
    b = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    b.update(kw)
    return b


@test
def provider_headers_reach_the_provider():
    st, hd, out = http(env().port, "POST", "/v1/chat/completions", chat("op/mock:echo"),
                       headers={"Authorization": "Bearer " + MASTER})
    eq(st, 200, out[:200])
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["authorization"], "Bearer " + K1)
    eq(hdrs.get("x-title"), "llmux", "OpenRouter attribution")
    st, hd, out = http(env().port, "POST", "/v1/chat/completions", chat("plain/mock:echo"),
                       headers={"Authorization": "Bearer " + MASTER})
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["x-custom-auth"], K3)


@test
def every_error_path_keeps_keys_out():
    expect = [
        (call("POST", "/v1/chat/completions", chat("plain/gpt-4o"), auth=False), 401),
        (call("POST", "/v1/chat/completions", chat("plain/gpt-4o"),
              headers={"Authorization": "Bearer " + WRONG}), 401),
        (call("POST", "/v1/chat/completions", chat("plain/gpt-4o"),
              headers={"Authorization": "", "x-api-key": WRONG}), 401),
        (call("POST", "/v1/chat/completions?auth_token=" + urllib.parse.quote(WRONG),
              chat("plain/gpt-4o"), auth=False), 401),
        (call("POST", "/v1/chat/completions", chat("gpt-4o"),
              headers={"X-Provider": "nosuch", "X-Provider-Key": BYOK}), 400),
        (call("POST", "/v1/chat/completions", chat("plain/mock:status=401"),
              headers={"X-Provider-Key": BYOK}), 401),
        (call("POST", "/v1/chat/completions", chat("plain/mock:reset")), 502),
        (call("POST", "/v1/chat/completions", chat("plain/mock:hang")), 504),
        (call("POST", "/v1/chat/completions", chat("plain/mock:status=429,retry-after=3")), 429),
        # a 401 disables plain's only key (issue 5): after it, plain answers 503 no_usable_key
        (call("POST", "/v1/chat/completions",
              chat("plain/mock:fixture=openai/error_401_invalid_api_key.json")), 401),
        (call("POST", "/v1/chat/completions", chat("plain/gpt-4o")), 503),
        (call("POST", "/v1/chat/completions", b'{"model":'), 400),
        (call("POST", "/v1/chat/completions", chat("nosuch-model")), 404),
        (call("GET", "/v1/chat/completions"), 405),
        (call("OPTIONS", "/v1/chat/completions", headers={"Origin": "https://evil.example"}),
         403),
        (call("GET", "/v1/route-check?model=plain/x&auth_token=" + urllib.parse.quote(MASTER),
              auth=False), 200),
        (call("GET", "/health", auth=False), 200),
    ]
    for (st, hd, out), want in expect:
        eq(st, want, out[:200])
    # streams that break after they started
    lx = env()
    for m in ("plain/mock:fixture=openai/chat_stream.sse,truncate=900",
              "plain/mock:fixture=openai/chat_stream_midstream_error.sse"):
        st, hd, evs = stream(lx.port, "/v1/chat/completions", chat(m, stream=True),
                             headers={"Authorization": "Bearer " + MASTER,
                                      "X-Provider-Key": BYOK})
        _seen.append((m, json.dumps(hd).encode() + b"".join(d for _, d in evs)))
        check(b"[DONE]" not in [d for _, d in evs], m)
    # a raw request with a key in every place a client can put one
    req = ("POST /v1/chat/completions?auth_token=%s HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\nX-Provider-Key: %s\r\nContent-Length: 3\r\n"
           "Connection: close\r\n\r\n{x}" % (WRONG, WRONG, BYOK)).encode()
    _seen.append(("raw", raw_exchange(lx.port, req)))
    for what, data in _seen:
        for c in CANARIES:
            check(c.encode() not in data, "%s appeared in the answer to %s" % (c[:18], what))


@test
def log_holds_no_key_after_drain():
    lx = env()
    lx.signal(signal.SIGTERM)
    eq(lx.p.wait(10), 0)
    log = lx.output()
    check("access" in log, "the access log is there")
    for c in CANARIES:
        check(c not in log, "%s appeared in llmux's log" % c[:18])


if __name__ == "__main__":
    try:
        run()
    finally:
        if "path" in _env:
            os.unlink(_env["path"])
