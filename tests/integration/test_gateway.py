"""test_gateway.py - the first pipeline end to end: llmux and the mock provider on loopback
ports, real sockets both sides. The mock's behaviour is chosen per request through the model
name ("mock:<X-Mock spec>", tests/mock/README.md), which llmux relays untouched."""
import json
import os
import signal
import socket
import time

from harness import (FIXTURES, check, eq, established, free_port, http, raw_exchange, run,
                     sse_events, start_llmux, start_mock, stream, test, wait_port)

CANARY = "sk-CANARY-%d" % os.getpid()
_mock = None
_llmux = None


def env():
    global _mock, _llmux
    if _llmux is None or _llmux.p.poll() is not None:
        _mock = start_mock()
        _llmux = start_llmux(["--upstream", "http://127.0.0.1:%d/v1" % _mock.port,
                              "--workers", "2", "--first-byte-timeout-ms", "1500",
                              "--idle-timeout-ms", "1500"],
                             env={"LLMUX_UPSTREAM_KEY": CANARY})
    return _llmux.port


def fresh():
    """A new llmux (and mock): after an answer that disabled the only key (401, 403, quota),
    every later request would get 503 no_usable_key (issue 5's key pools)."""
    global _llmux
    if _llmux is not None:
        _llmux.stop()
    return env()


def disables_key(status, body):
    return status in (401, 402, 403) or b"insufficient_quota" in body


def chat(model, stream_=False, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream_:
        body["stream"] = True
    body.update(extra)
    return body


def fixture_events(rel):
    return sse_events(open(os.path.join(FIXTURES, rel), "rb").read())


@test
def health():
    status, h, body = http(env(), "GET", "/health")
    eq(status, 200)
    eq(json.loads(body)["status"], "ok")


@test
def chat_non_stream():
    port = env()
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"))
    eq(status, 200, body)
    doc = json.loads(body)
    eq(doc["object"], "chat.completion")
    check(doc["choices"][0]["message"]["content"], "no content")
    check(h.get("x-request-id", "").startswith("req_"), "no generated X-Request-Id")
    status, h, body2 = http(port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"),
                            headers={"X-Request-Id": "my-id-1"})
    eq(h.get("x-request-id"), "my-id-1")
    check(json.loads(body2)["id"] != doc["id"], "mock ids should differ per response")


@test
def chat_fixture_replayed_exactly():
    port = env()
    raw = open(os.path.join(FIXTURES, "openai/chat_basic_response.json"), "rb").read()
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           chat("mock:fixture=openai/chat_basic_response.json"))
    eq(status, 200)
    eq(body, raw, "non-streamed body must pass through byte for byte")


@test
def stream_fixture_events_identical():
    port = env()
    for rel in ("openai/chat_stream.sse", "openai/chat_stream_tools.sse",
                "openai/chat_stream_parallel_tools_usage.sse", "mistral/chat_stream.sse",
                "openrouter/chat_stream.sse", "azure/chat_stream.sse",
                "ollama/openai_compat_stream_include_usage.sse"):
        # include_usage as the fixtures were recorded: then nothing is held back
        status, h, evs = stream(port, "/v1/chat/completions",
                                chat("mock:fixture=" + rel, True,
                                     stream_options={"include_usage": True}))
        eq(status, 200, rel)
        check(h["content-type"].startswith("text/event-stream"), rel)
        eq([d for _, d in evs], fixture_events(rel), rel)
        eq(evs[-1][1], b"[DONE]", rel)


@test
def stream_events_pass_on_as_they_arrive():
    port = env()
    t0 = time.time()
    status, h, evs = stream(port, "/v1/chat/completions",
                            chat("mock:tokens=6,token-ms=150", True))
    eq(status, 200)
    eq(evs[-1][1], b"[DONE]")
    content = [t for t, d in evs if b'"content"' in d]
    check(len(content) >= 6, "expected 6 content events, got %d" % len(content))
    # paced 150 ms apart at the mock: they must not arrive in one burst at the end
    check(content[1] - t0 < 0.6, "second token arrived late: %.3f s" % (content[1] - t0))
    gaps = [b - a for a, b in zip(content, content[1:])]
    check(min(gaps[1:]) > 0.08, "events were batched: gaps %r" % gaps)


@test
def upstream_errors_keep_status_and_body():
    port = env()
    for rel, code in (("openai/error_429_rate_limit.json", 429),
                      ("openai/error_401_invalid_api_key.json", 401),
                      ("openai/error_404_model_not_found.json", 404),
                      ("openai/error_400_context_length.json", 400),
                      ("openai/error_500.json", 500)):
        raw = open(os.path.join(FIXTURES, rel), "rb").read()
        status, h, body = http(port, "POST", "/v1/chat/completions", chat("mock:fixture=" + rel))
        eq(status, code, rel)
        eq(body, raw, rel)
        if disables_key(status, body):
            # the only key is disabled now: llmux says so instead of sending it again
            status, h, body = http(port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"))
            eq(status, 503, body)
            eq(json.loads(body)["error"]["code"], "no_usable_key")
            check(CANARY.encode() not in body, "key leaked")
            port = fresh()
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           chat("mock:status=429,retry-after=7"))
    eq(status, 429)
    eq(h.get("retry-after"), "7", "Retry-After must reach the client")


@test
def every_compatible_provider_error_fixture_passes_through():
    port = env()
    n = 0
    for prov in ("openai", "azure", "mistral", "openrouter", "ollama"):
        d = os.path.join(FIXTURES, prov)
        for name in sorted(os.listdir(d)):
            if not (name.startswith("error_") and name.endswith(".json")):
                continue
            code = int(name.split("_")[1].split(".")[0])
            raw = open(os.path.join(d, name), "rb").read()
            status, h, body = http(port, "POST", "/v1/chat/completions",
                                   chat("mock:fixture=%s/%s" % (prov, name)))
            eq(status, code, name)
            eq(body, raw, "%s/%s must reach the client unchanged" % (prov, name))
            n += 1
            if disables_key(status, body):
                port = fresh()
    check(n >= 15, "only %d error fixtures" % n)


@test
def bad_requests_are_openai_errors():
    port = env()
    cases = [(b'{"model":"x",', 400, "invalid_json"),
             (b'{"model":"x","model":"y","messages":[]}', 400, "invalid_json"),
             (b'[1,2]', 400, "invalid_json"),
             (b'{"messages":[]}', 400, "missing_model"),
             (b'{"model":"x","messages":[]} trailing', 400, "invalid_json"),
             (b'{"model":"\xff"}', 400, "invalid_json")]
    for body, st, code in cases:
        status, h, out = http(port, "POST", "/v1/chat/completions", body)
        eq(status, st, body)
        err = json.loads(out)["error"]
        eq(err["code"], code, body)
        eq(err["type"], "invalid_request_error", body)
        check("param" in err and err["message"], body)
    status, h, out = http(port, "GET", "/v1/chat/completions")
    eq(status, 405)
    eq(json.loads(out)["error"]["code"], "method_not_allowed")
    status, h, out = http(port, "GET", "/nope")
    eq(status, 404)
    eq(json.loads(out)["error"]["code"], "not_found")


@test
def stream_truncated_mid_event_is_an_error():
    port = env()
    raw = open(os.path.join(FIXTURES, "openai/chat_stream.sse"), "rb").read()
    cut = raw.index(b"\n\n", 1500) + 40  # inside the next event
    status, h, evs = stream(port, "/v1/chat/completions",
                            chat("mock:fixture=openai/chat_stream.sse,truncate=%d" % cut, True))
    eq(status, 200)
    datas = [d for _, d in evs]
    check(b"[DONE]" not in datas, "a cut stream must not end with [DONE]")
    last = json.loads(datas[-1])
    eq(last["error"]["code"], "stream_truncated")
    # every event before the error is a whole event of the fixture, in order
    eq(datas[:-1], fixture_events("openai/chat_stream.sse")[:len(datas) - 1])


@test
def stream_midstream_upstream_error_passes_through():
    port = env()
    rel = "openai/chat_stream_midstream_error.sse"
    status, h, evs = stream(port, "/v1/chat/completions", chat("mock:fixture=" + rel, True))
    datas = [d for _, d in evs]
    eq(datas, fixture_events(rel))
    check(b"[DONE]" not in datas)
    check(json.loads(datas[-1])["error"]["type"] == "server_error")


@test
def upstream_failures_before_first_byte():
    port = env()
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("mock:reset"))
    eq(status, 502, body)
    eq(json.loads(body)["error"]["type"], "upstream_error")
    t0 = time.time()
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("mock:hang"))
    eq(status, 504, body)
    check(time.time() - t0 < 4, "first-byte timeout took %.1f s" % (time.time() - t0))
    eq(json.loads(body)["error"]["code"], "upstream_timeout")
    # a non-streamed body cut short is never passed on as if complete
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           chat("mock:fixture=openai/chat_basic_response.json,truncate=100"))
    eq(status, 502, body)


@test
def client_disconnect_cancels_upstream():
    port = env()
    before = established(_mock.port)

    def stop_after_first(i, d, conn):
        return i < 1

    status, h, evs = stream(port, "/v1/chat/completions",
                            chat("mock:tokens=200,token-ms=50", True), on_event=stop_after_first)
    eq(status, 200)
    t0 = time.time()
    while time.time() - t0 < 1.0 and established(_mock.port) > before:
        time.sleep(0.02)
    check(established(_mock.port) <= before,
          "upstream connection still open %.2f s after the client left" % (time.time() - t0))


@test
def large_prompt_and_body_limit():
    port = env()
    big = "x" * (1024 * 1024)
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           chat("mock:echo", messages=[{"role": "user", "content": big}]))
    eq(status, 200, body[:200])
    echoed = json.loads(body)
    check(big in echoed["body"], "the 1 MB prompt did not reach the upstream intact")
    eq(echoed["path"], "/v1/chat/completions")
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           b'{"model":"x","messages":[{"role":"user","content":"' +
                           b"y" * (33 * 1024 * 1024) + b'"}]}', timeout=30)
    eq(status, 413)


@test
def upstream_key_sent_but_never_leaked():
    port = env()
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("mock:echo"))
    eq(status, 200)
    echoed = json.loads(body)
    hdrs = {k.lower(): v for k, v in echoed["headers"]}
    eq(hdrs.get("authorization"), "Bearer " + CANARY, "the upstream must get the key")
    # every error path once, then the key must not be in llmux's own output or responses
    for m in ("mock:reset", "mock:hang", "mock:status=401", "mock:truncate=10"):
        st, hh, b = http(port, "POST", "/v1/chat/completions", chat(m))
        check(CANARY.encode() not in b and CANARY not in json.dumps(hh), m)
    check(CANARY not in _llmux.output(), "the upstream key appeared in llmux's log")
    fresh()  # the 401 disabled the only key


@test
def pipelined_and_keepalive_requests():
    port = env()
    body = json.dumps(chat("gpt-4o-mini")).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    out = raw_exchange(port, req * 3 + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close"
                       b"\r\n\r\n")
    eq(out.count(b"HTTP/1.1 200"), 4, out[:300])
    last = out.split(b"HTTP/1.1 200")[-1]
    check(b'"status":"ok"' in last and b'"available_providers"' in last,
          "answers out of order")


@test
def access_log_has_one_line_per_request():
    port = env()
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"),
                           headers={"X-Request-Id": "log-check-1"})
    time.sleep(0.1)
    lines = [json.loads(ln) for ln in _llmux.output().splitlines()
             if ln.startswith("{") and "log-check-1" in ln]
    eq(len(lines), 1)
    rec = lines[0]
    eq(rec["msg"], "access")
    eq(rec["status"], 200)
    eq(rec["model"], "gpt-4o-mini")
    check(rec["latency_ms"] >= 0)


@test
def drain_on_sigterm_ends_streams_with_error_event():
    mock = start_mock()
    lx = start_llmux(["--upstream", "http://127.0.0.1:%d/v1" % mock.port, "--workers", "1",
                      "--drain-timeout-ms", "400"])
    got = {}

    def on_event(i, d, conn):
        if i == 0:
            lx.signal(signal.SIGTERM)
            got["t"] = time.time()
        return True

    status, h, evs = stream(lx.port, "/v1/chat/completions",
                            chat("mock:tokens=100,token-ms=50", True), on_event=on_event)
    eq(status, 200)
    last = json.loads(evs[-1][1])
    eq(last["error"]["code"], "server_shutdown")
    check(evs[-1][0] - got["t"] < 1.5, "stream not ended near the drain timeout")
    rc = lx.p.wait(5)
    eq(rc, 0, "llmux should exit 0 after a drain")
    try:
        socket.create_connection(("127.0.0.1", lx.port), timeout=0.5).close()
        raise AssertionError("still accepting after SIGTERM")
    except OSError:
        pass
    mock.stop()


def access_line(rid):
    time.sleep(0.1)
    lines = [json.loads(ln) for ln in _llmux.output().splitlines()
             if ln.startswith("{") and rid in ln]
    eq(len(lines), 1, rid)
    return lines[0]


@test
def stream_usage_asked_for_and_kept_from_clients_that_did_not():
    port = env()
    rel = "openai/chat_stream_include_usage.sse"
    fx = fixture_events(rel)
    usage_chunk = [d for d in fx if b'"choices":[]' in d]
    eq(len(usage_chunk), 1, "the fixture has one usage-only chunk")
    # a client that did not ask: the chunk is not passed on, but the tokens are logged
    status, h, evs = stream(port, "/v1/chat/completions", chat("mock:fixture=" + rel, True),
                            headers={"X-Request-Id": "usage-1"})
    eq([d for _, d in evs], [d for d in fx if d not in usage_chunk])
    rec = access_line("usage-1")
    eq((rec["prompt_tokens"], rec["completion_tokens"], rec["total_tokens"],
        rec["reasoning_tokens"]), (12, 100, 112, 100))
    # a client that asked gets every event
    status, h, evs = stream(port, "/v1/chat/completions",
                            chat("mock:fixture=" + rel, True,
                                 stream_options={"include_usage": True}))
    eq([d for _, d in evs], fx)


@test
def stream_options_spliced_with_other_members_kept():
    port = env()
    body = chat("mock:echo", True, stream_options={"include_obfuscation": False})
    status, h, out = http(port, "POST", "/v1/chat/completions", body)
    eq(status, 200, out[:200])
    sent = json.loads(json.loads(out)["body"])
    eq(sent["stream_options"], {"include_obfuscation": False, "include_usage": True})
    eq(sent["messages"], body["messages"])


@test
def non_stream_usage_in_access_log():
    port = env()
    status, h, out = http(port, "POST", "/v1/chat/completions",
                          chat("mock:fixture=openai/chat_basic_response.json"),
                          headers={"X-Request-Id": "usage-2"})
    eq(status, 200)
    rec = access_line("usage-2")
    eq((rec["prompt_tokens"], rec["completion_tokens"], rec["total_tokens"],
        rec["cached_tokens"], rec["reasoning_tokens"]), (8, 377, 385, 0, 320))


if __name__ == "__main__":
    run()
