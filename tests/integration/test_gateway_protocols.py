"""test_gateway_protocols.py - every client protocol to every provider protocol, end to end on
real sockets: OpenAI, Anthropic (/v1/messages) and Gemini (/v1beta/models/...) clients, and
providers of each protocol played by the mock replaying the recorded fixtures byte for byte
(the fixture rides in the model name, tests/mock/README.md). Checks the translated answers,
streams and errors in the client's own protocol, the pass-through fast paths, count_tokens and
the native /api/{provider}/ routes."""
import json
import os
import tempfile

from harness import (FIXTURES, check, eq, http, run, sse_events, start_llmux, start_mock,
                     stream, test)

MASTER = "mk-protocols-%d" % os.getpid()
POOL_KEY = "sk-POOL-CANARY-%d" % os.getpid()
_env = {}


def yaml(mock_port):
    base = "http://127.0.0.1:%d" % mock_port
    return ("master_key: \"${LLMUX_TEST_MASTER}\"\n"
            "providers:\n"
            "  - name: oai\n    type: openai\n    base_url: %s/v1\n    keys: [\"${POOL}\"]\n"
            "  - name: ant\n    type: anthropic\n    base_url: %s/v1\n    keys: [\"${POOL}\"]\n"
            "  - name: gem\n    type: gemini\n    base_url: %s/v1beta\n    keys: [\"${POOL}\"]\n"
            "  - name: az\n    type: azure\n    base_url: %s\n    api_version: 2024-10-21\n"
            "    keys: [\"${POOL}\"]\n"
            "models:\n"
            "  - name: claude-alias\n    targets: [\"ant/claude-sonnet-4-5\"]\n"
            "routes:\n"
            "  - match: \"claude-*\"\n    provider: ant\n"
            "  - match: \"gemini-*\"\n    provider: gem\n"
            "  - match: \"*\"\n    provider: oai\n") % (base, base, base, base)


def env():
    if "lx" not in _env or _env["lx"].p.poll() is not None:
        _env["mock"] = start_mock()
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(yaml(_env["mock"].port))
        f.close()
        _env["lx"] = start_llmux(["--config", f.name, "--workers", "1",
                                  "--first-byte-timeout-ms", "3000"],
                                 env={"POOL": POOL_KEY, "LLMUX_TEST_MASTER": MASTER})
    return _env["lx"].port


AUTH = {"Authorization": "Bearer " + MASTER}
ANT_AUTH = {"x-api-key": MASTER, "anthropic-version": "2023-06-01"}
GEM_AUTH = {"x-goog-api-key": MASTER}


def fixture(rel):
    return open(os.path.join(FIXTURES, rel), "rb").read()


def chat(model, stream_=False, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream_:
        body["stream"] = True
    body.update(extra)
    return body


def anthropic_events(raw):
    """[(event name, data dict)] of an Anthropic SSE body."""
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = None, []
        for ln in block.split(b"\n"):
            if ln.startswith(b"event:"):
                name = ln[6:].strip().decode()
            elif ln.startswith(b"data:"):
                data.append(ln[5:].lstrip(b" "))
        if data:
            out.append((name, json.loads(b"\n".join(data))))
    return out


def read_stream(port, path, body, headers):
    status, h, evs = stream(port, path, body, headers=headers)
    return status, h, b"".join(b"data: " + d + b"\n\n" for _, d in evs), [d for _, d in evs]


# ---- OpenAI client -> Anthropic provider (translated) ----------------------------------------

@test
def openai_to_anthropic_text():
    status, h, body = http(env(), "POST", "/v1/chat/completions",
                           chat("ant/mock:fixture=anthropic/messages_response_text.json"),
                           headers=AUTH)
    eq(status, 200, body)
    doc = json.loads(body)
    src = json.loads(fixture("anthropic/messages_response_text.json"))
    eq(doc["object"], "chat.completion")
    eq(doc["model"], "ant/mock:fixture=anthropic/messages_response_text.json")
    eq(doc["choices"][0]["message"]["role"], "assistant")
    eq(doc["choices"][0]["message"]["content"],
       "".join(b["text"] for b in src["content"] if b["type"] == "text"))
    eq(doc["choices"][0]["finish_reason"], "stop")
    u = src["usage"]
    eq(doc["usage"]["completion_tokens"], u["output_tokens"])
    check(doc["usage"]["prompt_tokens"] >= u["input_tokens"], doc["usage"])


@test
def openai_to_anthropic_tool_use():
    status, h, body = http(env(), "POST", "/v1/chat/completions",
                           chat("ant/mock:fixture=anthropic/messages_response_tool_use.json"),
                           headers=AUTH)
    eq(status, 200, body)
    doc = json.loads(body)
    src = json.loads(fixture("anthropic/messages_response_tool_use.json"))
    tu = [b for b in src["content"] if b["type"] == "tool_use"][0]
    call = doc["choices"][0]["message"]["tool_calls"][0]
    eq(call["id"], tu["id"])
    eq(call["function"]["name"], tu["name"])
    eq(json.loads(call["function"]["arguments"]), tu["input"])
    eq(doc["choices"][0]["finish_reason"], "tool_calls")


@test
def openai_to_anthropic_stream_every_fixture():
    port = env()
    for rel in ("anthropic/messages_stream.sse", "anthropic/messages_stream_tool_use.sse",
                "anthropic/messages_stream_thinking.sse",
                "anthropic/messages_stream_text_then_tool_no_args.sse"):
        status, h, raw, evs = read_stream(port, "/v1/chat/completions",
                                          chat("ant/mock:fixture=" + rel, True), AUTH)
        eq(status, 200, rel)
        eq(evs[-1], b"[DONE]", rel)
        chunks = [json.loads(e) for e in evs[:-1]]
        check(all(c["object"] == "chat.completion.chunk" for c in chunks), rel)
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])
        want = "".join(d["delta"].get("text", "") for n, d in anthropic_events(fixture(rel))
                       if n == "content_block_delta")
        eq(text, want, rel)
        finishes = [c["choices"][0]["finish_reason"] for c in chunks
                    if c["choices"] and c["choices"][0].get("finish_reason")]
        eq(len(finishes), 1, rel)
        if "tool" in rel:
            eq(finishes[0], "tool_calls", rel)
            calls = [tc for c in chunks if c["choices"]
                     for tc in c["choices"][0]["delta"].get("tool_calls") or []]
            check(calls and calls[0].get("id") and calls[0]["function"].get("name"), rel)
            args = "".join(tc["function"].get("arguments", "") for tc in calls
                           if tc["index"] == calls[-1]["index"])
            json.loads(args or "{}")


@test
def openai_to_anthropic_midstream_error():
    status, h, raw, evs = read_stream(
        env(), "/v1/chat/completions",
        chat("ant/mock:fixture=anthropic/messages_stream_midstream_error.sse", True), AUTH)
    eq(status, 200)
    check(b"[DONE]" not in evs, "a failed stream must not end cleanly")
    last = json.loads(evs[-1])
    check("error" in last, last)


@test
def openai_to_anthropic_errors_mapped():
    port = env()
    for rel, want_status, want_type in (
            ("anthropic/error_529_overloaded.json", 503, None),
            ("anthropic/error_429_rate_limit.json", 429, None),
            ("anthropic/error_401_authentication.json", 401, None),
            ("anthropic/error_400_context_length.json", 400, None)):
        _env["lx"].stop()  # a 401 disables the provider's only key (issue 5): start afresh
        port = env()
        status, h, body = http(port, "POST", "/v1/chat/completions",
                               chat("ant/mock:fixture=" + rel), headers=AUTH)
        eq(status, want_status, rel)
        doc = json.loads(body)
        check("error" in doc and doc["error"]["message"], body)
        check(POOL_KEY.encode() not in body, "key leaked")


# ---- Anthropic client ------------------------------------------------------------------------

@test
def anthropic_passthrough_stream_exact():
    rel = "anthropic/messages_stream.sse"
    status, h, raw, evs = read_stream(
        env(), "/v1/messages",
        {"model": "claude-mock:fixture=" + rel, "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": "hi"}]}, ANT_AUTH)
    eq(status, 200)
    eq(evs, sse_events(fixture(rel)), "pass-through must keep every event")


@test
def anthropic_passthrough_response_exact():
    rel = "anthropic/messages_response_text.json"
    status, h, body = http(env(), "POST", "/v1/messages",
                           {"model": "ant/mock:fixture=" + rel, "max_tokens": 64,
                            "messages": [{"role": "user", "content": "hi"}]}, headers=ANT_AUTH)
    eq(status, 200, body)
    eq(body, fixture(rel))


@test
def anthropic_client_to_openai_provider():
    status, h, body = http(env(), "POST", "/v1/messages",
                           {"model": "oai/mock:fixture=openai/chat_basic_response.json",
                            "max_tokens": 64, "system": "be brief",
                            "messages": [{"role": "user", "content": "hi"}]}, headers=ANT_AUTH)
    eq(status, 200, body)
    doc = json.loads(body)
    src = json.loads(fixture("openai/chat_basic_response.json"))
    eq(doc["type"], "message")
    eq(doc["role"], "assistant")
    eq(doc["content"][0]["type"], "text")
    eq(doc["content"][0]["text"], src["choices"][0]["message"]["content"])
    eq(doc["stop_reason"], "end_turn")
    eq(doc["usage"]["output_tokens"], src["usage"]["completion_tokens"])


@test
def anthropic_client_stream_from_openai():
    status, h, raw, evs = read_stream(
        env(), "/v1/messages",
        {"model": "oai/mock:tokens=5,token-ms=1", "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": "hi"}]}, ANT_AUTH)
    eq(status, 200)
    types = [json.loads(e)["type"] for e in evs]
    eq(types[0], "message_start")
    eq(types[-1], "message_stop")
    eq(types[-2], "message_delta")
    check("content_block_start" in types and "content_block_stop" in types, types)
    text = "".join(json.loads(e)["delta"].get("text", "") for e in evs
                   if json.loads(e)["type"] == "content_block_delta")
    eq(text, "1 2 3 4 5 ")


@test
def anthropic_client_stream_tools_from_openai():
    rel = "openai/chat_stream_tools.sse"
    status, h, raw, evs = read_stream(
        env(), "/v1/messages",
        {"model": "oai/mock:fixture=" + rel, "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": "weather?"}],
         "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}, ANT_AUTH)
    eq(status, 200)
    docs = [json.loads(e) for e in evs]
    starts = [d for d in docs if d["type"] == "content_block_start"]
    tools = [d for d in starts if d["content_block"]["type"] == "tool_use"]
    check(tools, docs)
    md = [d for d in docs if d["type"] == "message_delta"][0]
    eq(md["delta"]["stop_reason"], "tool_use")


@test
def anthropic_client_errors_in_its_shape():
    port = env()
    # the provider's 429, through the OpenAI provider: Anthropic's rate_limit_error
    status, h, body = http(port, "POST", "/v1/messages",
                           {"model": "oai/mock:status=429,retry-after=7", "max_tokens": 8,
                            "messages": [{"role": "user", "content": "hi"}]}, headers=ANT_AUTH)
    eq(status, 429, body)
    doc = json.loads(body)
    eq(doc["type"], "error")
    eq(doc["error"]["type"], "rate_limit_error")
    eq(h.get("retry-after"), "7")
    # llmux's own 401 in Anthropic's shape
    status, h, body = http(port, "POST", "/v1/messages",
                           {"model": "x", "max_tokens": 8, "messages": []},
                           headers={"x-api-key": "wrong"})
    eq(status, 401)
    eq(json.loads(body)["type"], "error")
    eq(json.loads(body)["error"]["type"], "authentication_error")


CLAUDE_CODE_BODY = {
    "max_tokens": 32000, "stream": True,
    "system": [{"type": "text", "text": "You are Claude Code.",
                "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": "x" * 200000}],  # a long context
    "messages": [{"role": "user", "content": [{"type": "text", "text": "list files",
                                                "cache_control": {"type": "ephemeral"}}]}],
    "tools": [{"name": "Bash", "description": "run a command",
               "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                                "required": ["command"]},
               "cache_control": {"type": "ephemeral"}}],
    "thinking": {"type": "enabled", "budget_tokens": 4096},
    "metadata": {"user_id": "user_abc"},
}
CC_HEADERS = dict(ANT_AUTH, **{"anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"})


@test
def claude_code_style_to_anthropic_keeps_beta_and_body():
    body = dict(CLAUDE_CODE_BODY, model="claude-mock:echo", stream=False)
    status, h, out = http(env(), "POST", "/v1/messages?beta=true", body, headers=CC_HEADERS)
    eq(status, 200, out[:300])
    echo = json.loads(out)
    hdrs = {k.lower(): v for k, v in echo["headers"]}
    eq(hdrs.get("anthropic-beta"), CC_HEADERS["anthropic-beta"])
    eq(hdrs.get("x-api-key"), POOL_KEY)
    sent = json.loads(echo["body"])
    eq(sent["system"], CLAUDE_CODE_BODY["system"], "pass-through keeps the body")
    eq(sent["tools"], CLAUDE_CODE_BODY["tools"])


@test
def claude_code_style_to_openai_provider_streams_tools():
    body = dict(CLAUDE_CODE_BODY, model="oai/mock:fixture=openai/chat_stream_tools.sse")
    status, h, raw, evs = read_stream(env(), "/v1/messages?beta=true", body, CC_HEADERS)
    eq(status, 200)
    docs = [json.loads(e) for e in evs]
    eq(docs[0]["type"], "message_start")
    eq(docs[-1]["type"], "message_stop")
    tool_starts = [d for d in docs if d["type"] == "content_block_start"
                   and d["content_block"]["type"] == "tool_use"]
    check(tool_starts, [d["type"] for d in docs])
    args = "".join(d["delta"]["partial_json"] for d in docs
                   if d["type"] == "content_block_delta"
                   and d["delta"]["type"] == "input_json_delta"
                   and d["index"] == tool_starts[0]["index"])
    json.loads(args)


@test
def count_tokens_pass_and_estimate():
    port = env()
    body = {"model": "oai/gpt-4o", "messages": [{"role": "user", "content": "x" * 400}]}
    status, h, out = http(port, "POST", "/v1/messages/count_tokens", body, headers=ANT_AUTH)
    eq(status, 200, out)
    n = json.loads(out)["input_tokens"]
    check(90 <= n <= 130, n)


# ---- Gemini client ---------------------------------------------------------------------------

GEM_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@test
def gemini_client_to_openai_provider():
    status, h, body = http(env(), "POST",
                           "/v1beta/models/oai%2Fmock%3Afixture%3Dopenai%2Fchat_basic_response.json:generateContent",
                           GEM_BODY, headers=GEM_AUTH)
    eq(status, 200, body)
    doc = json.loads(body)
    src = json.loads(fixture("openai/chat_basic_response.json"))
    eq(doc["candidates"][0]["content"]["parts"][0]["text"],
       src["choices"][0]["message"]["content"])
    eq(doc["candidates"][0]["finishReason"], "STOP")
    eq(doc["usageMetadata"]["promptTokenCount"], src["usage"]["prompt_tokens"])


@test
def gemini_client_stream_from_openai():
    status, h, raw, evs = read_stream(
        env(), "/v1beta/models/oai%2Fmock%3Atokens%3D4%2Ctoken-ms%3D1:streamGenerateContent?alt=sse",
        GEM_BODY, GEM_AUTH)
    eq(status, 200)
    docs = [json.loads(e) for e in evs]
    text = "".join(p.get("text", "") for d in docs for c in d.get("candidates", [])
                   for p in c.get("content", {}).get("parts", []))
    eq(text, "1 2 3 4 ")
    eq(docs[-1]["candidates"][0]["finishReason"], "STOP")


@test
def gemini_stream_needs_alt_sse():
    status, h, body = http(env(), "POST", "/v1beta/models/gemini-x:streamGenerateContent",
                           GEM_BODY, headers=GEM_AUTH)
    eq(status, 400)
    eq(json.loads(body)["error"]["status"], "INVALID_ARGUMENT")


@test
def gemini_client_bad_key_in_its_shape():
    status, h, body = http(env(), "POST", "/v1beta/models/gemini-x:generateContent", GEM_BODY,
                           headers={"x-goog-api-key": "wrong"})
    eq(status, 401)
    check(json.loads(body)["error"]["status"] in ("UNAUTHENTICATED",), body)


# ---- OpenAI client -> Azure (same protocol: passed through) --------------------------------

@test
def openai_to_azure_passthrough():
    port = env()
    raw = fixture("azure/chat_response.json")
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           chat("az/mock:fixture=azure/chat_response.json"), headers=AUTH)
    eq(status, 200, body)
    eq(body, raw, "Azure's answer passes through byte for byte")
    status, h, body = http(port, "POST", "/v1/chat/completions", chat("az/mock:echo"),
                           headers=AUTH)
    eq(status, 200, body)
    echo = json.loads(body)
    check(echo["path"].startswith("/openai/deployments/mock%3Aecho/chat/completions?"
                                  "api-version=2024-10-21"), echo["path"])
    hdrs = {k.lower(): v for k, v in echo["headers"]}
    eq(hdrs.get("api-key"), POOL_KEY)
    check("authorization" not in hdrs, "Azure takes api-key, not Authorization")


# ---- native routes ---------------------------------------------------------------------------

@test
def native_openai_route_swaps_the_key():
    port = env()
    status, h, body = http(port, "POST", "/api/oai/v1/chat/completions?key=" + MASTER + "&x=1",
                           chat("mock:echo"), headers={"x-goog-api-key": MASTER,
                                                       "X-Mock-Echo": "1"})
    eq(status, 200, body)
    check(MASTER.encode() not in body, "the client's llmux key reached the provider")
    echo = json.loads(body)
    eq(echo["path"], "/v1/chat/completions?x=1", "the client's ?key= must be stripped")
    hdrs = {k.lower(): v for k, v in echo["headers"]}
    eq(hdrs.get("authorization"), "Bearer " + POOL_KEY)
    check("x-goog-api-key" not in hdrs, "the client's key header must not be passed on")


@test
def native_unknown_provider():
    status, h, body = http(env(), "GET", "/api/nope/v1/models", headers=AUTH)
    eq(status, 404)


if __name__ == "__main__":
    run()
