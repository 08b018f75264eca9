"""test_mock_protocols.py - the mock provider mockllm speaking each provider's own protocol:
Anthropic, Gemini (and Vertex), Bedrock (event-stream frames with both CRCs checked), Cohere,
Ollama (NDJSON), Workers AI, Azure: the default answer, the stream framing parsed the way a
client would, a fault on each, the model taken from the path, and GET /mock/stats."""
import base64
import json
import os
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, eq, http, run, start_mock, test  # noqa: E402

MOCK = None


def port():
    global MOCK
    if MOCK is None:
        MOCK = start_mock(["--tokens", "4", "--token-ms", "5"])
    return MOCK.port


def post(path, body=None, headers=None, timeout=10.0):
    body = {} if body is None else body
    return http(port(), "POST", path, body, headers, timeout)


def jpost(path, body=None, headers=None, want=200):
    st, h, data = post(path, body, headers)
    eq(st, want, "status of %s (%r)" % (path, data[:200]))
    return h, json.loads(data)


def raw(path, body, headers=None, timeout=5.0):
    """One request on a raw socket, read until the server closes; returns (status, headers,
    body with chunked framing removed as far as it goes, complete: the terminator was seen)."""
    data = json.dumps(body).encode()
    head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n" \
           "Content-Length: %d\r\n" % (path, len(data))
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    s = socket.create_connection(("127.0.0.1", port()), timeout=timeout)
    buf = b""
    err = None
    try:
        s.sendall(head.encode() + b"\r\n" + data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except OSError as e:  # a reset
        err = e
    finally:
        s.close()
    h, _, rest = buf.partition(b"\r\n\r\n")
    lines = h.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hd[k.strip().lower()] = v.strip()
    body_out, complete = rest, True
    if hd.get("transfer-encoding") == "chunked":
        body_out, complete = b"", False
        while True:
            n, sep, tail = rest.partition(b"\r\n")
            if not sep:
                break
            size = int(n, 16)
            if size == 0:
                complete = True
                break
            if len(tail) < size + 2:
                body_out += tail[:size]
                break
            body_out += tail[:size]
            rest = tail[size + 2:]
    return status, hd, body_out, complete, err


def sse(body):
    """[(event name or None, data bytes)] of an SSE body (CRLF or LF)."""
    out = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = None, []
        for ln in block.split(b"\n"):
            if ln.startswith(b"event:"):
                name = ln[6:].strip().decode()
            elif ln.startswith(b"data:"):
                data.append(ln[5:].lstrip(b" "))
        if data:
            out.append((name, b"\n".join(data)))
    return out


def frames(body):
    """Decodes application/vnd.amazon.eventstream frames, checking both CRCs; returns
    [(headers dict, payload bytes)] and the bytes left over (an incomplete frame)."""
    out = []
    while len(body) >= 16:
        total, hlen, pcrc = struct.unpack(">III", body[:12])
        if len(body) < total:
            break
        eq(zlib.crc32(body[:8]), pcrc, "prelude crc")
        eq(zlib.crc32(body[:total - 4]), struct.unpack(">I", body[total - 4:total])[0],
           "message crc")
        hb, hdrs, i = body[12:12 + hlen], {}, 0
        while i < len(hb):
            n = hb[i]
            name = hb[i + 1:i + 1 + n].decode()
            i += 1 + n
            eq(hb[i], 7, "header value type")
            vl = struct.unpack(">H", hb[i + 1:i + 3])[0]
            hdrs[name] = hb[i + 3:i + 3 + vl].decode()
            i += 3 + vl
        out.append((hdrs, body[12 + hlen:total - 4]))
        body = body[total:]
    return out, body


# ---- Anthropic ---------------------------------------------------------------------------

@test
def anthropic_message():
    h, j = jpost("/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": []})
    eq(j["type"], "message")
    eq(j["model"], "claude-x")
    check(j["id"].startswith("msg_"), j["id"])
    eq(j["content"][0]["type"], "text")
    eq(j["stop_reason"], "end_turn")
    check(j["usage"]["output_tokens"] > 0)
    _, j = jpost("/messages", {"model": "m"})
    eq(j["type"], "message")
    _, j = jpost("/v1/messages/count_tokens", {"model": "m", "messages": [{"role": "user",
                                                                          "content": "hi"}]})
    check(isinstance(j["input_tokens"], int) and j["input_tokens"] > 0, j)


@test
def anthropic_stream():
    st, h, body, complete, _ = raw("/v1/messages", {"model": "claude-x", "stream": True})
    eq(st, 200)
    eq(h["content-type"], "text/event-stream")
    check(complete)
    ev = sse(body)
    names = [n for n, _ in ev if n != "ping"]
    eq(names, ["message_start", "content_block_start"] + ["content_block_delta"] * 4 +
       ["content_block_stop", "message_delta", "message_stop"])
    text = ""
    for n, d in ev:
        j = json.loads(d)
        eq(j["type"], n, "type matches the event name")
        if n == "content_block_delta":
            text += j["delta"]["text"]
        if n == "message_start":
            eq(j["message"]["model"], "claude-x")
        if n == "message_delta":
            eq(j["usage"]["output_tokens"], 4)
    eq(text, "1 2 3 4 ")
    check(b"[DONE]" not in body)


@test
def anthropic_errors_and_pacing():
    st, h, data = post("/v1/messages", {"model": "mock:status=529"})
    eq(st, 529)
    j = json.loads(data)
    eq(j["type"], "error")
    eq(j["error"]["type"], "overloaded_error")
    st, h, data = post("/v1/messages", {"model": "m"}, {"X-Mock": "status=429,retry-after=3"})
    eq(st, 429)
    eq(h.get("retry-after"), "3")
    eq(json.loads(data)["error"]["type"], "rate_limit_error")
    t0 = time.time()
    st, h, body, complete, _ = raw("/v1/messages", {"model": "mock:tokens=5,token-ms=40"})
    check(time.time() - t0 >= 0.18, "paced")
    eq(len([1 for n, _ in sse(body) if n == "content_block_delta"]), 5)
    st, h, body, complete, _ = raw("/v1/messages", {"model": "mock:truncate=300", "stream": True})
    eq(st, 200)
    check(not complete and len(body) == 300, (complete, len(body)))


@test
def vertex_anthropic():
    base = "/v1/projects/p1/locations/us-east5/publishers/anthropic/models/claude-sonnet%404"
    _, j = jpost(base + ":rawPredict", {"anthropic_version": "vertex-2023-10-16"})
    eq(j["model"], "claude-sonnet@4")
    st, h, body, complete, _ = raw(base + ":streamRawPredict", {"max_tokens": 5})
    eq(st, 200)
    check(complete)
    eq(sse(body)[-1][0], "message_stop")


# ---- Gemini ------------------------------------------------------------------------------

@test
def gemini_generate():
    for path in ("/v1beta/models/gemini-2.0-flash:generateContent",
                 "/models/gemini-2.0-flash:generateContent",
                 "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash"
                 ":generateContent"):
        _, j = jpost(path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        c = j["candidates"][0]
        eq(c["finishReason"], "STOP")
        eq(c["content"]["role"], "model")
        check(c["content"]["parts"][0]["text"])
        eq(j["modelVersion"], "gemini-2.0-flash")
        eq(j["usageMetadata"]["totalTokenCount"], 52)


@test
def gemini_stream():
    st, h, body, complete, _ = raw("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
                                   {"contents": []})
    eq(st, 200)
    eq(h["content-type"], "text/event-stream")
    check(complete)
    check(b"\r\n\r\n" in body, "CRLF event ends, as recorded")
    ev = [json.loads(d) for _, d in sse(body)]
    eq(len(ev), 4)
    text = "".join(p["text"] for e in ev for p in e["candidates"][0]["content"]["parts"])
    eq(text, "1 2 3 4 ")
    eq(ev[-1]["candidates"][0]["finishReason"], "STOP")
    check(all("finishReason" not in e["candidates"][0] for e in ev[:-1]))
    eq(ev[-1]["usageMetadata"]["candidatesTokenCount"], 4)


@test
def gemini_model_from_path_and_errors():
    st, h, data = post("/v1beta/models/mock%3Astatus%3D429:generateContent", {})
    eq(st, 429)
    j = json.loads(data)
    eq(j["error"]["status"], "RESOURCE_EXHAUSTED")
    eq(j["error"]["code"], 429)
    # the items ride in the path's model, colons and all, unencoded too
    st, h, data = post("/v1beta/models/mock:echo:generateContent?key=k1", {"x": 1})
    eq(st, 200)
    j = json.loads(data)
    eq(j["path"], "/v1beta/models/mock:echo:generateContent?key=k1")
    st, h, data = post("/v1beta/models/g:streamGenerateContent?alt=sse", {},
                       {"X-Mock": "status=503"})
    eq(st, 503)
    eq(json.loads(data)["error"]["status"], "UNAVAILABLE")
    st, h, body, complete, err = raw("/v1beta/models/g:streamGenerateContent?alt=sse", {},
                                     {"X-Mock": "reset-after=100"})
    check(not complete, "reset mid-stream")


@test
def hex_items_in_a_path_model():
    """mockx-<hex>: items for adapters that allow only [A-Za-z0-9._@-] in a model."""
    hx = "mockx-" + "status=429".encode().hex()
    st, h, data = post("/v1/projects/p/locations/l/publishers/google/models/%s:generateContent"
                       % hx, {})
    eq(st, 429)
    eq(json.loads(data)["error"]["status"], "RESOURCE_EXHAUSTED")
    hx = "mockx-" + "tokens=2,token-ms=1".encode().hex()
    st, h, body, complete, _ = raw("/client/v4/accounts/a/ai/run/" + hx, {"stream": True})
    eq([d for _, d in sse(body)][-1], b"[DONE]")
    eq(len(sse(body)), 4)
    st, h, data = post("/v2/chat", {"model": "mockx-" + "status=503".encode().hex()})
    eq(st, 503)
    st, h, data = post("/v1/messages", {"model": "claude-mock:status=529"})
    eq(st, 529, "items after mock: anywhere in the model")
    st, h, data = post("/v2/chat", {"model": "mockx-zz"})
    eq(st, 200, "not hex: an ordinary model")


@test
def gemini_embed_and_count():
    _, j = jpost("/v1beta/models/text-embedding-004:batchEmbedContents",
                 {"requests": [{"model": "models/t", "content": {"parts": [{"text": "a"}]}},
                               {"model": "models/t", "content": {"parts": [{"text": "b"}]}}]})
    eq(len(j["embeddings"]), 2)
    check(len(j["embeddings"][0]["values"]) > 0)
    _, j = jpost("/v1beta/models/text-embedding-004:embedContent", {"content": {"parts": []}})
    check(len(j["embedding"]["values"]) > 0)
    _, j = jpost("/v1beta/models/g:countTokens", {"contents": []})
    check(j["totalTokens"] > 0)


# ---- Bedrock -----------------------------------------------------------------------------

@test
def bedrock_converse():
    _, j = jpost("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                 {"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    eq(j["stopReason"], "end_turn")
    eq(j["output"]["message"]["role"], "assistant")
    check(j["output"]["message"]["content"][0]["text"])
    eq(j["usage"]["totalTokens"], 52)


@test
def bedrock_converse_stream():
    st, h, body, complete, _ = raw("/model/m%3A0/converse-stream", {"messages": []})
    eq(st, 200)
    eq(h["content-type"], "application/vnd.amazon.eventstream")
    check(complete)
    fr, rest = frames(body)
    eq(rest, b"")
    names = [f[0][":event-type"] for f in fr]
    eq(names, ["messageStart"] + ["contentBlockDelta"] * 4 +
       ["contentBlockStop", "messageStop", "metadata"])
    for hd, _ in fr:
        eq(hd[":message-type"], "event")
        eq(hd[":content-type"], "application/json")
    pl = [json.loads(p) for _, p in fr]
    eq("".join(p["delta"]["text"] for p in pl[1:5]), "1 2 3 4 ")
    eq(pl[6]["stopReason"], "end_turn")
    eq(pl[7]["usage"]["outputTokens"], 4)
    # a fault: cut inside a frame
    st, h, body, complete, _ = raw("/model/m/converse-stream", {}, {"X-Mock": "truncate=200"})
    fr, rest = frames(body)
    check(not complete and len(body) == 200 and rest, "truncated mid-frame")


@test
def bedrock_invoke():
    _, j = jpost("/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
                 {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []})
    eq(j["type"], "message")
    eq(j["model"], "anthropic.claude-3-haiku-20240307-v1:0")
    st, h, body, complete, _ = raw("/model/m/invoke-with-response-stream", {"max_tokens": 5})
    eq(st, 200)
    check(complete)
    fr, rest = frames(body)
    eq(rest, b"")
    check(all(hd[":event-type"] == "chunk" for hd, _ in fr))
    events = [json.loads(base64.b64decode(json.loads(p)["bytes"])) for _, p in fr]
    eq(events[0]["type"], "message_start")
    eq(events[-1]["type"], "message_stop")
    check("amazon-bedrock-invocationMetrics" in events[-1])


@test
def bedrock_errors():
    st, h, data = post("/model/m/converse", {}, {"X-Mock": "status=429"})
    eq(st, 429)
    check(h["x-amzn-errortype"].startswith("ThrottlingException:"), h)
    check("message" in json.loads(data))
    st, h, data = post("/model/mock%3Astatus%3D400/converse", {})
    eq(st, 400)
    check(h["x-amzn-errortype"].startswith("ValidationException"))


# ---- Cohere, Ollama, Workers AI, Azure ---------------------------------------------------

@test
def cohere():
    _, j = jpost("/v2/chat", {"model": "command-r", "messages": []})
    eq(j["finish_reason"], "COMPLETE")
    eq(j["message"]["content"][0]["type"], "text")
    eq(j["usage"]["tokens"]["output_tokens"], 33)
    st, h, body, complete, _ = raw("/v2/chat", {"model": "c", "stream": True})
    check(complete)
    ev = sse(body)
    eq([n for n, _ in ev], ["message-start", "content-start"] + ["content-delta"] * 4 +
       ["content-end", "message-end"])
    for n, d in ev:
        eq(json.loads(d)["type"], n)
    eq(json.loads(ev[-1][1])["delta"]["finish_reason"], "COMPLETE")
    _, j = jpost("/v2/embed", {"model": "e", "texts": ["a", "b", "c"], "input_type": "x"})
    eq(len(j["embeddings"]["float"]), 3)
    st, h, data = post("/v2/chat", {"model": "mock:status=429"})
    eq(st, 429)
    check("message" in json.loads(data))


@test
def ollama():
    st, h, body, complete, _ = raw("/api/chat", {"model": "llama3.2", "messages": []})
    eq(st, 200)
    eq(h["content-type"], "application/x-ndjson")
    check(complete)
    lines = [json.loads(ln) for ln in body.split(b"\n") if ln]
    eq(len(lines), 5)
    check(body.endswith(b"\n"))
    eq("".join(ln["message"]["content"] for ln in lines), "1 2 3 4 ")
    check(all(not ln["done"] for ln in lines[:-1]))
    eq(lines[-1]["done"], True)
    eq(lines[-1]["done_reason"], "stop")
    eq(lines[-1]["eval_count"], 4)
    st, h, data = post("/api/chat", {"model": "llama3.2", "stream": False})
    eq(st, 200)
    j = json.loads(data)  # one object, not NDJSON
    eq(j["done"], True)
    eq(j["model"], "llama3.2")
    _, j = jpost("/api/embed", {"model": "e", "input": ["a", "b"]})
    eq(len(j["embeddings"]), 2)
    st, h, data = post("/api/chat", {"model": "mock:status=404"})
    eq(st, 404)
    check(isinstance(json.loads(data)["error"], str))
    st, h, body, complete, err = raw("/api/chat", {"model": "mock:reset-after=150"})
    check(not complete)


@test
def workers_ai():
    for path in ("/ai/run/@cf/meta/llama-3.1-8b-instruct",
                 "/client/v4/accounts/acc1/ai/run/@cf/meta/llama-3.1-8b-instruct"):
        _, j = jpost(path, {"messages": []})
        eq(j["success"], True)
        check(j["result"]["response"])
        eq(j["result"]["usage"]["total_tokens"], 52)
    st, h, body, complete, _ = raw("/ai/run/@cf/x/y", {"messages": [], "stream": True})
    check(complete)
    ev = [d for _, d in sse(body)]
    eq(ev[-1], b"[DONE]")
    pl = [json.loads(d) for d in ev[:-1]]
    eq("".join(p["response"] for p in pl), "1 2 3 4 ")
    eq(pl[-1]["usage"]["completion_tokens"], 4)
    st, h, data = post("/ai/run/@cf/x", {}, {"X-Mock": "status=401"})
    eq(st, 401)
    j = json.loads(data)
    eq(j["success"], False)
    eq(j["errors"][0]["code"], 10000)


@test
def azure():
    _, j = jpost("/openai/deployments/gpt4o-dep/chat/completions?api-version=2024-10-21",
                 {"messages": []})
    eq(j["object"], "chat.completion")
    eq(j["model"], "gpt4o-dep")
    st, h, body, complete, _ = raw("/openai/v1/chat/completions", {"model": "g", "stream": True})
    check(complete)
    eq(sse(body)[-1][1], b"[DONE]")
    _, j = jpost("/openai/deployments/emb/embeddings?api-version=2024-10-21", {"input": "a"})
    eq(j["object"], "list")
    _, j = jpost("/chat/completions", {"model": "llama"})
    eq(j["object"], "chat.completion")
    st, h, data = post("/openai/deployments/mock%3Astatus%3D429/chat/completions", {})
    eq(st, 429)
    eq(json.loads(data)["error"]["type"], "rate_limit_error")


@test
def faults_hang_and_close():
    t0 = time.time()
    try:
        post("/v1/messages", {"model": "mock:hang"}, timeout=0.5)
        check(False, "answered")
    except (socket.timeout, TimeoutError):
        pass
    check(time.time() - t0 < 3)
    st, h, data = post("/v2/chat", {"model": "mock:close"})
    eq(st, 200)
    eq(h.get("connection"), "close")


@test
def stats_and_reset():
    st, h, data = http(port(), "POST", "/mock/reset", b"")
    eq(st, 200)
    post("/v1/messages", {"model": "m"})
    post("/v1/messages", {"model": "m"})
    post("/api/chat", {"model": "m", "stream": False})
    st, h, data = http(port(), "GET", "/mock/stats")
    eq(st, 200)
    j = json.loads(data)
    eq(j["requests"], 3)
    eq(j["by_path"], {"/v1/messages": 2, "/api/chat": 1})
    http(port(), "POST", "/mock/reset", b"")
    j = json.loads(http(port(), "GET", "/mock/stats")[2])
    eq(j, {"requests": 0, "by_path": {}})


run()
