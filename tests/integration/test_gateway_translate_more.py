"""test_gateway_translate_more.py - the OpenAI client's other endpoints through providers of
every protocol, end to end on real sockets: embeddings (float and base64) to OpenAI (passed
through), Gemini, Vertex, Bedrock (Titan and Cohere), Cohere, Ollama and Workers AI, and a
clear 400 from a provider without embeddings; legacy /v1/completions (plain and streamed) to
Anthropic, Gemini and Ollama; count_tokens passed through, asked of the provider, or estimated;
failover across protocols (with the access log's attempts); and every recorded error fixture
reaching the OpenAI client with the right status, an OpenAI error object and no pool key.

The mock (tests/mock/README.md) plays every provider. It has no Titan, Vertex :predict or
Workers AI embeddings answer of its own, so the mock here reads its fixtures from a temporary
folder: a copy of ../shared/protocols/fixtures plus a few answers written below (folder x/),
shaped as PROTOCOLS.md describes them."""
import atexit
import base64
import json
import os
import shutil
import struct
import tempfile
import time

from harness import (BUILD, FIXTURES, Proc, check, eq, free_port, http, run, start_llmux,
                     stream, test)

MASTER = "mk-more-%d" % os.getpid()
POOL_KEY = "sk-POOL-CANARY-more-%d" % os.getpid()
_env = {}

# The mock's own vector (tests/mock/mock_proto.c VEC, mockllm.c embeddings_body).
MOCK_VEC = [0.0023064255, -0.009327292, -0.0028842222, 0.021545823]
MOCK_TEXT = ("Hello! This is mockllm, the llmux mock provider. It gives the same short answer "
             "to every request so that a benchmark measures the gateway and not the model.")

# Answers the mock has no generator for, in each provider's documented shape.
VEC_A = [0.125, -0.5, 0.25, 1.0, -0.0625]
VEC_B = [0.5, 0.75, -1.5, 0.0, 2.0]
EXTRA = {
    # Bedrock InvokeModel, amazon.titan-embed-text-v2:0
    "x/titan_embed.json": {"embedding": VEC_A, "embeddingsByType": {"float": VEC_A},
                           "inputTextTokenCount": 7},
    # Bedrock InvokeModel, cohere.embed-english-v3 (embedding_types absent: a list of lists)
    "x/bedrock_cohere_embed.json": {"id": "emb-1", "embeddings": [VEC_A, VEC_B],
                                    "texts": ["hello", "world"],
                                    "response_type": "embeddings_floats"},
    # Vertex :predict (text-embedding-005)
    "x/vertex_predict.json": {"predictions": [
        {"embeddings": {"values": VEC_A, "statistics": {"token_count": 3, "truncated": False}}},
        {"embeddings": {"values": VEC_B, "statistics": {"token_count": 4, "truncated": False}}}]},
    # Workers AI /ai/run/@cf/baai/bge-small-en-v1.5
    "x/wai_embed.json": {"result": {"shape": [2, 5], "data": [VEC_A, VEC_B]},
                         "success": True, "errors": [], "messages": []},
    # count_tokens answers with a number nobody could guess
    "x/ant_count.json": {"input_tokens": 4242},
    "x/gem_count.json": {"totalTokens": 3131},
}


def hexmodel(items):
    """The mock's `mockx-<hex>` form, for adapters that allow only [A-Za-z0-9._@-]."""
    return "mockx-" + items.encode().hex()


def fixtures_dir():
    d = tempfile.mkdtemp(prefix="lx-more-fx-")
    atexit.register(shutil.rmtree, d, True)
    shutil.copytree(FIXTURES, os.path.join(d, "f"))
    root = os.path.join(d, "f")
    os.makedirs(os.path.join(root, "x"))
    for rel, doc in EXTRA.items():
        with open(os.path.join(root, rel), "w") as f:
            json.dump(doc, f)
    return root


def yaml(mock_port):
    base = "http://127.0.0.1:%d" % mock_port
    p = []
    for name, lines in (
            ("oai", ["type: openai", "base_url: %s/v1" % base]),
            ("ant", ["type: anthropic", "base_url: %s/v1" % base]),
            ("gem", ["type: gemini", "base_url: %s/v1beta" % base]),
            ("vtx", ["type: vertex", "base_url: %s" % base, "region: us-central1",
                     "project: proj1"]),
            ("bed", ["type: bedrock", "base_url: %s" % base, "region: us-east-1"]),
            ("coh", ["type: cohere", "base_url: %s" % base]),
            ("oll", ["type: ollama", "base_url: %s" % base]),
            ("wai", ["type: workers-ai", "base_url: %s/client/v4/accounts/acc1" % base]),
            ("az", ["type: azure", "base_url: %s" % base, "api_version: \"2024-10-21\""])):
        p.append("  - name: %s\n" % name + "".join("    %s\n" % ln for ln in lines) +
                 "    keys: [\"${POOL}\"]\n")
    return ("master_key: \"${LLMUX_TEST_MASTER}\"\n"
            "routes: []\n"
            "providers:\n" + "".join(p) +
            "models:\n"
            "  - name: fo-529\n"
            "    targets: [\"ant/claude-mock:status=529\", \"gem/gemini-2.0-flash\"]\n"
            "  - name: fo-400\n"
            "    targets: [\"ant/claude-mock:status=400\", \"gem/gemini-2.0-flash\"]\n")


def env():
    if "lx" not in _env or _env["lx"].p.poll() is not None:
        fx = fixtures_dir()
        port = free_port()
        _env["mock"] = Proc("mockllm", [os.path.join(BUILD, "mockllm"), "--listen",
                                        "127.0.0.1:%d" % port, "--fixtures", fx,
                                        "--tokens", "3", "--token-ms", "1"], port=port)
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(yaml(port))
        f.close()
        atexit.register(os.unlink, f.name)
        _env["lx"] = start_llmux(["--config", f.name, "--workers", "1",
                                  "--first-byte-timeout-ms", "3000"],
                                 env={"POOL": POOL_KEY, "LLMUX_TEST_MASTER": MASTER})
    return _env["lx"].port


AUTH = {"Authorization": "Bearer " + MASTER}
ANT_AUTH = {"x-api-key": MASTER, "anthropic-version": "2023-06-01"}
GEM_AUTH = {"x-goog-api-key": MASTER}


def no_canary(h, body):
    check(POOL_KEY.encode() not in body, "the pool key reached the client's body")
    check(all(POOL_KEY not in v for v in h.values()), "the pool key reached a response header")


def restart():
    """A fresh llmux: an error case may have disabled a provider's only key (401, 403, quota,
    Google's invalid key: issue 5's key pools), which later cases must not inherit."""
    if "lx" in _env:
        _env["lx"].stop()


def post(path, body, headers=None):
    status, h, out = http(env(), "POST", path, body, headers=headers or AUTH)
    no_canary(h, out)
    return status, h, out


def post_json(path, body, want=200, headers=None):
    status, h, out = post(path, body, headers)
    eq(status, want, "%s %s -> %s" % (path, body.get("model"), out[:400]))
    return json.loads(out), h


def mock_reset():
    http(_env["mock"].port, "POST", "/mock/reset", b"")


def mock_paths():
    st, h, out = http(_env["mock"].port, "GET", "/mock/stats")
    return json.loads(out)["by_path"]


def f32(xs):
    """What a float32 holds of each value (base64 embeddings are float32 little-endian)."""
    return [struct.unpack("<f", struct.pack("<f", x))[0] for x in xs]


def b64_floats(s):
    raw = base64.b64decode(s)
    check(len(raw) % 4 == 0, "base64 embedding is not whole float32s: %d bytes" % len(raw))
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def openai_error(out, status_hint=""):
    doc = json.loads(out)
    check(isinstance(doc.get("error"), dict), "not an OpenAI error object: %r" % out[:300])
    e = doc["error"]
    check(isinstance(e.get("message"), str) and e["message"], "error without message: %r" % e)
    check(isinstance(e.get("type"), str) and e["type"], "error without type: %r" % e)
    return e


# ---- 1. embeddings ---------------------------------------------------------------------------

def embed(model, inputs, fmt=None, want=200, **extra):
    body = {"model": model, "input": inputs}
    if fmt:
        body["encoding_format"] = fmt
    body.update(extra)
    return post_json("/v1/embeddings", body, want)


def check_embeddings(model, inputs, vectors, prompt_tokens=None, path_suffix=None):
    """Float and base64 answers for `model`: one item per input in order, the expected vectors,
    usage, and the model as the client named it. path_suffix: the upstream path the mock must
    have been asked (a suffix of it)."""
    mock_reset()
    doc, h = embed(model, inputs)
    eq(doc.get("object"), "list", model)
    eq(doc.get("model"), model, "model must be what the client asked for")
    data = doc["data"]
    eq(len(data), len(vectors), "%s: one embedding per input" % model)
    for i, item in enumerate(data):
        eq(item.get("object"), "embedding", model)
        eq(item.get("index"), i, model)
        check(isinstance(item["embedding"], list), "%s: float embedding expected" % model)
        eq(len(item["embedding"]), len(vectors[i]), "%s: vector length" % model)
        for a, b in zip(item["embedding"], vectors[i]):
            check(abs(a - b) <= 1e-9 * max(1.0, abs(b)), "%s: %r != %r" % (model, a, b))
    u = doc.get("usage")
    check(isinstance(u, dict) and isinstance(u.get("prompt_tokens"), int) and
          isinstance(u.get("total_tokens"), int), "%s: usage %r" % (model, u))
    if prompt_tokens is not None:
        eq(u["prompt_tokens"], prompt_tokens, "%s: usage.prompt_tokens" % model)
        eq(u["total_tokens"], prompt_tokens, "%s: usage.total_tokens" % model)
    if path_suffix:
        paths = mock_paths()
        check(any(p.endswith(path_suffix) for p in paths),
              "%s: the mock was not asked ...%s: %r" % (model, path_suffix, paths))
    # base64: the same vectors as float32 little-endian
    doc, h = embed(model, inputs, "base64")
    eq(doc.get("model"), model)
    eq(len(doc["data"]), len(vectors))
    for i, item in enumerate(doc["data"]):
        eq(item.get("index"), i)
        check(isinstance(item["embedding"], str), "%s: base64 string expected, got %r" %
              (model, item["embedding"]))
        eq(b64_floats(item["embedding"]), f32(vectors[i]), "%s: base64 vector %d" % (model, i))
    check(isinstance(doc.get("usage"), dict), "%s: base64 answer without usage" % model)


@test
def embeddings_openai_passthrough():
    doc, h = embed("oai/text-embedding-3-small", "hello")
    eq(doc["data"][0]["embedding"], MOCK_VEC)
    eq(doc["model"], "text-embedding-3-small", "passed through: the provider's own answer")
    eq(doc["usage"], {"prompt_tokens": 8, "total_tokens": 8})
    # a recorded base64 answer passes through byte for byte
    rel = "openai/embeddings_response.json"
    status, h, out = post("/v1/embeddings", {"model": "oai/mock:fixture=" + rel,
                                             "input": "hello", "encoding_format": "base64"})
    eq(status, 200, out[:300])
    eq(out, open(os.path.join(FIXTURES, rel), "rb").read(), "pass-through changed the bytes")


@test
def embeddings_gemini():
    check_embeddings("gem/gemini-embedding-001", ["hello", "world"], [MOCK_VEC, MOCK_VEC],
                     path_suffix=":batchEmbedContents")


@test
def embeddings_vertex():
    model = "vtx/text-embedding-005-" + hexmodel("fixture=x/vertex_predict.json")
    check_embeddings(model, ["hello", "world"], [VEC_A, VEC_B], prompt_tokens=7,
                     path_suffix=":predict")


@test
def embeddings_bedrock_titan():
    model = "bed/amazon.titan-embed-text-v2-" + hexmodel("fixture=x/titan_embed.json")
    check_embeddings(model, "hello", [VEC_A], prompt_tokens=7, path_suffix="/invoke")
    # Titan takes one input per request: two are the client's error, said clearly
    mock_reset()
    status, h, out = post("/v1/embeddings", {"model": model, "input": ["a", "b"]})
    eq(status, 400, out[:300])
    e = openai_error(out)
    check("one input" in e["message"], "unclear message: %r" % e["message"])
    eq(mock_paths(), {}, "a refused request must not reach the provider")
    # v1 has a fixed size: dimensions is refused with a reason
    v1 = "bed/amazon.titan-embed-text-v1-" + hexmodel("fixture=x/titan_embed.json")
    status, h, out = post("/v1/embeddings", {"model": v1, "input": "a", "dimensions": 256})
    eq(status, 400, out[:300])
    check("dimensions" in openai_error(out)["message"], out[:300])
    eq(mock_paths(), {}, "a refused request must not reach the provider")


@test
def embeddings_bedrock_cohere():
    model = "bed/cohere.embed-english-v3-" + hexmodel("fixture=x/bedrock_cohere_embed.json")
    check_embeddings(model, ["hello", "world"], [VEC_A, VEC_B], path_suffix="/invoke")


@test
def embeddings_cohere():
    check_embeddings("coh/embed-english-v3.0", ["hello", "world", "again"],
                     [MOCK_VEC, MOCK_VEC, MOCK_VEC], prompt_tokens=8, path_suffix="/v2/embed")


@test
def embeddings_ollama():
    check_embeddings("oll/nomic-embed-text", ["hello", "world"], [MOCK_VEC, MOCK_VEC],
                     prompt_tokens=8, path_suffix="/api/embed")


@test
def embeddings_workers_ai():
    model = "wai/@cf/baai/bge-small-en-v1.5-" + hexmodel("fixture=x/wai_embed.json")
    check_embeddings(model, ["hello", "world"], [VEC_A, VEC_B], path_suffix=None)
    paths = mock_paths()
    check(any("/client/v4/accounts/acc1/ai/run/" in p for p in paths), paths)


@test
def embeddings_bad_requests():
    for body in ({"model": "gem/gemini-embedding-001", "input": []},
                 {"model": "coh/embed-english-v3.0"},
                 {"model": "oll/nomic-embed-text", "input": 42}):
        mock_reset()
        status, h, out = post("/v1/embeddings", body)
        eq(status, 400, "%r -> %r" % (body, out[:300]))
        openai_error(out)
        eq(mock_paths(), {}, "%r reached the provider" % body)


@test
def embeddings_provider_without_embeddings():
    mock_reset()
    status, h, out = post("/v1/embeddings", {"model": "ant/claude-sonnet-4-5", "input": "hi"})
    eq(status, 400, out[:300])
    e = openai_error(out)
    check("embedding" in e["message"].lower(), "unclear message: %r" % e["message"])
    eq(mock_paths(), {}, "nothing may be sent to a provider without embeddings")


# ---- 2. legacy completions -------------------------------------------------------------------

COMPLETION_TARGETS = (("ant/claude-sonnet-4-5", "/v1/messages"),
                      ("gem/gemini-2.0-flash", ":generateContent"),
                      ("oll/llama3.2", "/api/chat"))


@test
def completions_translated():
    for model, upstream in COMPLETION_TARGETS:
        mock_reset()
        doc, h = post_json("/v1/completions", {"model": model, "prompt": "Say hi",
                                               "max_tokens": 50})
        eq(doc.get("object"), "text_completion", model)
        eq(doc.get("model"), model, model)
        check(isinstance(doc.get("id"), str) and doc["id"], doc)
        eq(len(doc["choices"]), 1, model)
        c = doc["choices"][0]
        eq(c.get("index"), 0, model)
        eq(c.get("text"), MOCK_TEXT, model)
        eq(c.get("finish_reason"), "stop", model)
        eq(doc.get("usage"), {"prompt_tokens": 19, "completion_tokens": 33,
                              "total_tokens": 52}, model)
        paths = mock_paths()
        check(any(p.endswith(upstream) for p in paths), "%s: %r" % (model, paths))


@test
def completions_translated_stream():
    for model, upstream in COMPLETION_TARGETS:
        m = model.split("/")[0] + "/" + ("claude-" if model.startswith("ant") else "") + \
            "mock:tokens=3,token-ms=1"
        status, h, evs = stream(env(), "/v1/completions",
                                {"model": m, "prompt": "Say hi", "stream": True,
                                 "stream_options": {"include_usage": True}}, headers=AUTH)
        raw = b"".join(d for _, d in evs)
        check(POOL_KEY.encode() not in raw, "key leaked")
        eq(status, 200, "%s: %r" % (m, raw[:300]))
        check(h.get("content-type", "").startswith("text/event-stream"), h)
        datas = [d for _, d in evs]
        eq(datas[-1], b"[DONE]", "%s: a stream ends with [DONE]" % m)
        chunks = [json.loads(d) for d in datas[:-1]]
        check(chunks, m)
        for c in chunks:
            eq(c.get("object"), "text_completion", "%s: chunk object" % m)
            eq(c.get("model"), m, m)
        text = "".join(c["choices"][0].get("text") or "" for c in chunks if c.get("choices"))
        eq(text, "1 2 3 ", m)
        fins = [c["choices"][0]["finish_reason"] for c in chunks
                if c.get("choices") and c["choices"][0].get("finish_reason")]
        eq(fins, ["stop"], m)
        check(len({c.get("id") for c in chunks}) == 1, "%s: one id per stream" % m)
        usage = [c["usage"] for c in chunks if c.get("usage")]
        check(usage and usage[-1].get("completion_tokens") == 3, "%s: usage %r" % (m, usage))


@test
def completions_stream_without_usage_option():
    """A client that did not ask for include_usage gets no usage-only chunk."""
    for model, _ in COMPLETION_TARGETS:
        m = model.split("/")[0] + "/" + ("claude-" if model.startswith("ant") else "") + \
            "mock:tokens=2,token-ms=1"
        status, h, evs = stream(env(), "/v1/completions",
                                {"model": m, "prompt": "hi", "stream": True}, headers=AUTH)
        eq(status, 200, m)
        datas = [d for _, d in evs]
        check(all(POOL_KEY.encode() not in d for d in datas), "key leaked")
        eq(datas[-1], b"[DONE]", m)
        chunks = [json.loads(d) for d in datas[:-1]]
        eq("".join(c["choices"][0].get("text") or "" for c in chunks if c.get("choices")),
           "1 2 ", m)
        check(all(c.get("choices") for c in chunks),
              "%s: a usage-only chunk nobody asked for: %r" % (m, chunks[-1]))


@test
def completions_several_prompts_refused():
    for model, _ in COMPLETION_TARGETS:
        mock_reset()
        status, h, out = post("/v1/completions", {"model": model, "prompt": ["a", "b"]})
        eq(status, 400, "%s: %r" % (model, out[:300]))
        e = openai_error(out)
        check("prompt" in e["message"].lower(), "unclear message: %r" % e["message"])
        eq(mock_paths(), {}, "%s: a refused request must not reach the provider" % model)


# ---- 3. count_tokens -------------------------------------------------------------------------

def count_body(model, text="hello there"):
    return {"model": model, "messages": [{"role": "user", "content": text}]}


@test
def count_tokens_anthropic_passthrough():
    mock_reset()
    doc, h = post_json("/v1/messages/count_tokens",
                       count_body("ant/claude-mock:fixture=x/ant_count.json"),
                       headers=ANT_AUTH)
    eq(doc, {"input_tokens": 4242}, "the provider's answer")
    check(any(p.endswith("/messages/count_tokens") for p in mock_paths()), mock_paths())


@test
def count_tokens_gemini_asked():
    mock_reset()
    doc, h = post_json("/v1/messages/count_tokens",
                       count_body("gem/gemini-mock:fixture=x/gem_count.json"),
                       headers=ANT_AUTH)
    eq(doc, {"input_tokens": 3131}, "Gemini's totalTokens as Anthropic's input_tokens")
    check(any(p.endswith(":countTokens") for p in mock_paths()), mock_paths())


@test
def count_tokens_openai_estimate():
    mock_reset()
    text = "abcd " * 200  # 1000 bytes of text
    doc, h = post_json("/v1/messages/count_tokens", count_body("oai/gpt-4o", text),
                       headers=ANT_AUTH)
    n = doc["input_tokens"]
    check(isinstance(n, int) and 200 <= n <= 330, "estimate out of range (~bytes/4): %r" % n)
    eq(mock_paths(), {}, "an OpenAI provider cannot count: nothing is sent")


@test
def count_tokens_provider_error_in_anthropic_shape():
    status, h, out = post("/v1/messages/count_tokens",
                          count_body("gem/gemini-mock:status=429,retry-after=5"),
                          headers=ANT_AUTH)
    eq(status, 429, out[:300])
    doc = json.loads(out)
    eq(doc.get("type"), "error", out[:300])
    eq(doc["error"].get("type"), "rate_limit_error", out[:300])
    eq(h.get("retry-after"), "5")


@test
def count_tokens_gemini_front_door():
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
    mock_reset()
    status, h, out = post("/v1beta/models/gem%2Fgemini-mock%3Afixture%3Dx%2Fgem_count.json"
                          ":countTokens", body, headers=GEM_AUTH)
    eq(status, 200, out[:300])
    eq(json.loads(out).get("totalTokens"), 3131, out[:300])
    check(any(p.endswith(":countTokens") for p in mock_paths()), mock_paths())
    # an OpenAI provider: estimated locally, in Gemini's shape
    text = "abcd " * 200
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    mock_reset()
    status, h, out = post("/v1beta/models/oai%2Fgpt-4o:countTokens", body, headers=GEM_AUTH)
    eq(status, 200, out[:300])
    n = json.loads(out).get("totalTokens")
    check(isinstance(n, int) and 200 <= n <= 330, "estimate out of range: %r" % n)
    eq(mock_paths(), {})
    # an Anthropic provider: asked with its own count_tokens
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
    mock_reset()
    status, h, out = post("/v1beta/models/ant%2Fclaude-mock%3Afixture%3Dx%2Fant_count.json"
                          ":countTokens", body, headers=GEM_AUTH)
    eq(status, 200, out[:300])
    eq(json.loads(out).get("totalTokens"), 4242, out[:300])
    check(any(p.endswith("/messages/count_tokens") for p in mock_paths()), mock_paths())


# ---- 4. failover across protocols ------------------------------------------------------------

def access_line(rid):
    lx = _env["lx"]
    for _ in range(150):
        rec = [json.loads(ln) for ln in lx.output().splitlines()
               if rid in ln and "access" in ln and ln.startswith("{")]
        if rec:
            return rec[0]
        time.sleep(0.02)
    raise AssertionError("no access line for %s" % rid)


@test
def failover_anthropic_529_to_gemini():
    rid = "more-fo-%d" % os.getpid()
    mock_reset()
    status, h, out = post("/v1/chat/completions",
                          {"model": "fo-529", "messages": [{"role": "user", "content": "hi"}]},
                          headers=dict(AUTH, **{"X-Request-Id": rid}))
    eq(status, 200, out[:400])
    doc = json.loads(out)
    eq(doc["object"], "chat.completion")
    eq(doc["model"], "fo-529")
    eq(doc["choices"][0]["message"]["content"], MOCK_TEXT)
    eq(doc["choices"][0]["finish_reason"], "stop")
    eq(doc["usage"]["prompt_tokens"], 19)
    eq(doc["usage"]["completion_tokens"], 33)
    paths = mock_paths()
    check(paths.get("/v1/messages") == 1, "Anthropic asked once first: %r" % paths)
    check(any(p.endswith(":generateContent") for p in paths), paths)
    rec = access_line(rid)
    eq(rec.get("attempts"), 2, "attempts in %r" % rec)
    eq(rec.get("provider"), "gem", "provider in %r" % rec)
    eq(rec.get("status"), 200, "status in %r" % rec)


@test
def failover_anthropic_529_to_gemini_stream():
    rid = "more-fos-%d" % os.getpid()
    status, h, evs = stream(env(), "/v1/chat/completions",
                            {"model": "fo-529", "stream": True,
                             "messages": [{"role": "user", "content": "hi"}]},
                            headers=dict(AUTH, **{"X-Request-Id": rid}))
    eq(status, 200, evs[:1])
    datas = [d for _, d in evs]
    check(all(POOL_KEY.encode() not in d for d in datas), "key leaked")
    eq(datas[-1], b"[DONE]")
    chunks = [json.loads(d) for d in datas[:-1]]
    check(all(c["object"] == "chat.completion.chunk" for c in chunks), chunks[:1])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c.get("choices"))
    eq(text, "1 2 3 ", "the Gemini stream, translated")
    rec = access_line(rid)
    eq(rec.get("attempts"), 2, "attempts in %r" % rec)
    eq(rec.get("provider"), "gem", "provider in %r" % rec)


@test
def failover_not_on_client_error():
    rid = "more-fo400-%d" % os.getpid()
    mock_reset()
    status, h, out = post("/v1/chat/completions",
                          {"model": "fo-400", "messages": [{"role": "user", "content": "hi"}]},
                          headers=dict(AUTH, **{"X-Request-Id": rid}))
    eq(status, 400, out[:400])
    openai_error(out)
    paths = mock_paths()
    check(not any(p.endswith(":generateContent") for p in paths),
          "a 400 must not fail over: %r" % paths)
    rec = access_line(rid)
    eq(rec.get("attempts", 1), 1, "attempts in %r" % rec)  # the line omits attempts == 1
    eq(rec.get("provider"), "ant", "provider in %r" % rec)
    eq(rec.get("status"), 400, "status in %r" % rec)


# ---- 5. errors of every provider family ------------------------------------------------------

# (provider, model prefix, use the mockx form, fixture, expected status)
ERROR_CASES = (
    ("oai", "", False, "openai/error_429_rate_limit.json", 429),
    ("oai", "", False, "openai/error_401_invalid_api_key.json", 401),
    ("oai", "", False, "openai/error_404_model_not_found.json", 404),
    ("oai", "", False, "openai/error_500.json", 500),
    ("az", "", False, "azure/error_429.json", 429),
    ("az", "", False, "azure/error_401.json", 401),
    ("az", "", False, "azure/error_404_deployment.json", 404),
    ("ant", "claude-", False, "anthropic/error_429_rate_limit.json", 429),
    ("ant", "claude-", False, "anthropic/error_401_authentication.json", 401),
    ("ant", "claude-", False, "anthropic/error_529_overloaded.json", 503),
    ("gem", "gemini-", False, "gemini/error_429_resource_exhausted.json", 429),
    ("gem", "gemini-", False, "gemini/error_503_unavailable.json", 503),
    ("gem", "gemini-", False, "gemini/error_404_stream.json", 404),
    ("vtx", "gemini-2.0-flash-", True, "vertex/error_429_resource_exhausted.json", 429),
    ("vtx", "gemini-2.0-flash-", True, "vertex/error_403_permission_denied.json", 403),
    ("bed", "anthropic.claude-", True, "bedrock/error_429_throttling.http", 429),
    ("bed", "anthropic.claude-", True, "bedrock/error_403_access_denied.http", 403),
    ("coh", "command-r-", False, "cohere/error_429.json", 429),
    ("oll", "", False, "ollama/error_404_model.json", 404),
    ("wai", "@cf/meta/llama-", True, "cloudflare/error_429.json", 429),
    ("wai", "@cf/meta/llama-", True, "cloudflare/error_401.json", 401),
)


def upstream_message(rel):
    """The provider's own message in a fixture, to find it in the client's error."""
    raw = open(os.path.join(FIXTURES, rel), "rb").read()
    if rel.endswith(".http"):
        raw = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[1]
    doc = json.loads(raw)
    for path in (("error", "message"), ("message",), ("errors", 0, "message"), ("error",)):
        v = doc
        try:
            for k in path:
                v = v[k]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(v, str):
            return v
    return None


PASS_PROVIDERS = ("oai", "az")  # same protocol as the client: the error passes through


@test
def errors_reach_openai_client():
    failures = []
    for prov, prefix, hexed, rel, want in ERROR_CASES:
        restart()
        # a .http fixture is a whole recorded response: X-Mock items cannot add headers to it
        raw_http = rel.endswith(".http")
        items = "fixture=%s,retry-after=7" % rel if want == 429 and not raw_http \
            else "fixture=" + rel
        model = "%s/%s%s" % (prov, prefix, hexmodel(items) if hexed else "mock:" + items)
        status, h, out = post("/v1/chat/completions",
                              {"model": model, "messages": [{"role": "user", "content": "hi"}]})
        try:
            eq(status, want, "status")
            if prov in PASS_PROVIDERS:
                # passed through: the provider's own body (Azure's errors have no "type")
                eq(out, open(os.path.join(FIXTURES, rel), "rb").read(), "pass-through body")
                doc = json.loads(out)
                check(doc["error"]["message"], "no message")
            else:
                openai_error(out)
            e = json.loads(out)["error"]
            if want == 429 and not raw_http:
                eq(h.get("retry-after"), "7", "Retry-After kept")
            msg = upstream_message(rel)
            if msg:
                check(msg[:40] in e["message"], "the provider's message is lost: %r vs %r" %
                      (msg[:40], e["message"][:200]))
        except AssertionError as ex:
            failures.append("%s %s: %s (got %d %r)" % (prov, rel, ex, status, out[:200]))
    check(not failures, "%d of %d cases:\n  %s" % (len(failures), len(ERROR_CASES),
                                                   "\n  ".join(failures)))


# Families whose recorded fixtures lack a status: the mock's generated error in the provider's
# own shape (tests/mock/README.md, "Error shapes").
GENERATED_CASES = (
    ("bed", "anthropic.claude-", True, "status=429,retry-after=7", 429),
    ("bed", "anthropic.claude-", True, "status=500", 500),
    ("ant", "claude-", False, "status=500", 500),
    ("ant", "claude-", False, "status=404", 404),
    ("gem", "gemini-", False, "status=401", 401),
    ("vtx", "gemini-2.0-flash-", True, "status=503", 503),
    ("coh", "command-r-", False, "status=401", 401),
    ("coh", "command-r-", False, "status=503", 503),
    ("oll", "", False, "status=500", 500),
    ("wai", "@cf/meta/llama-", True, "status=503", 503),
    ("wai", "@cf/meta/llama-", True, "status=429,retry-after=7", 429),
)


@test
def errors_generated_reach_openai_client():
    failures = []
    for prov, prefix, hexed, items, want in GENERATED_CASES:
        restart()
        model = "%s/%s%s" % (prov, prefix, hexmodel(items) if hexed else "mock:" + items)
        status, h, out = post("/v1/chat/completions",
                              {"model": model, "messages": [{"role": "user", "content": "hi"}]})
        try:
            eq(status, want, "status")
            e = openai_error(out)
            check("status requested by X-Mock" in e["message"],
                  "the provider's message is lost: %r" % e["message"][:200])
            if "retry-after" in items:
                eq(h.get("retry-after"), "7", "Retry-After kept")
        except AssertionError as ex:
            failures.append("%s %s: %s (got %d %r)" % (prov, items, ex, status, out[:200]))
    check(not failures, "%d of %d cases:\n  %s" % (len(failures), len(GENERATED_CASES),
                                                   "\n  ".join(failures)))


@test
def errors_stream_requests_too():
    """The same error before the first byte of a streamed request: a plain OpenAI error with
    the status, not a 200 stream."""
    for prov, prefix, hexed, rel, want in (
            ("ant", "claude-", False, "anthropic/error_429_rate_limit.json", 429),
            ("gem", "gemini-", False, "gemini/error_503_unavailable.json", 503),
            ("coh", "command-r-", False, "cohere/error_429.json", 429)):
        restart()
        model = "%s/%smock:fixture=%s" % (prov, prefix, rel)
        status, h, evs = stream(env(), "/v1/chat/completions",
                                {"model": model, "stream": True,
                                 "messages": [{"role": "user", "content": "hi"}]}, headers=AUTH)
        body = b"".join(d for _, d in evs)
        check(POOL_KEY.encode() not in body, "key leaked")
        eq(status, want, "%s: %r" % (rel, body[:300]))
        openai_error(body)


@test
def zz_pool_key_never_logged():
    """Last: after every request above, llmux's own output holds no pool key."""
    env()
    check(POOL_KEY not in _env["lx"].output(), "the pool key reached llmux's log")


if __name__ == "__main__":
    run()
