"""test_mock_keys.py - the mock provider mockllm scripted per key (issue 5's fault tests): POST
/mock/keys scripts (a behaviour, a sequence, times=, for=, until=), the key read from every
auth header, the per-key counters and request times of GET /mock/stats, and the error bodies
a key pool must classify (Google RetryInfo and per-day QuotaFailure, API_KEY_INVALID, OpenAI
insufficient_quota, Anthropic 529 and credit balance). Talks to the mock directly: no llmux."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, eq, http, run, start_mock, stream, test  # noqa: E402

MOCK = None


def port():
    global MOCK
    if MOCK is None:
        MOCK = start_mock(["--tokens", "5", "--token-ms", "5"])
    return MOCK.port


def scripts(body, want=200):
    st, h, data = http(port(), "POST", "/mock/keys", body)
    eq(st, want, "POST /mock/keys %r" % (data[:200],))
    return json.loads(data)


def clear():
    eq(http(port(), "DELETE", "/mock/keys")[0], 200)
    eq(http(port(), "POST", "/mock/reset", b"")[0], 200)


def stats():
    st, h, data = http(port(), "GET", "/mock/stats")
    eq(st, 200)
    return json.loads(data)


def chat(key, body=None, headers=None, path="/v1/chat/completions", timeout=5.0):
    h = {"Authorization": "Bearer " + key} if key else {}
    h.update(headers or {})
    st, hd, data = http(port(), "POST", path, body or {"model": "gpt-4o-mini"}, h, timeout)
    return st, hd, data


@test
def one_key_429_with_retry_after_others_ok():
    clear()
    scripts({"sk-test-aaaaaa": "status=429,retry-after=3"})
    st, h, data = chat("sk-test-aaaaaa")
    eq(st, 429)
    eq(h.get("retry-after"), "3")
    eq(json.loads(data)["error"]["type"], "rate_limit_error")
    st, h, data = chat("sk-test-aaaaaa")  # a single entry repeats
    eq(st, 429)
    st, h, data = chat("sk-test-bbbbbb")
    eq(st, 200)
    eq(json.loads(data)["object"], "chat.completion")
    s = stats()
    eq(s["by_key"], {"aaaaaa": 2, "bbbbbb": 1})
    eq(s["keys"]["aaaaaa"]["by_path"], {"/v1/chat/completions": 2})
    eq(s["requests"], 3)


@test
def sequence_then_ok_and_times():
    clear()
    scripts({"k-seq-000001": ["status=429", "status=429", "ok"],
             "k-tms-000002": ["status=500;times=3", "status=401"]})
    eq([chat("k-seq-000001")[0] for _ in range(5)], [429, 429, 200, 200, 200])
    eq([chat("k-tms-000002")[0] for _ in range(5)], [500, 500, 500, 401, 401])
    st, h, data = http(port(), "GET", "/mock/keys")
    j = json.loads(data)
    eq(j["keys"]["k-seq-000001"]["entry"], 2)
    eq(j["keys"]["k-tms-000002"]["items"], "status=401")
    # posting again restarts that key's script; the other stays where it is
    scripts({"k-seq-000001": ["status=429", "ok"]})
    eq([chat("k-seq-000001")[0] for _ in range(2)], [429, 200])
    eq(chat("k-tms-000002")[0], 401)


@test
def time_windows_for_and_until():
    clear()
    t0 = time.monotonic()
    scripts({"k-for-000001": "status=503;for=400",
             "k-unt-000002": "status=529,until=%d" % int((t0 + 0.4) * 1000),
             "k-chn-000003": ["status=500,for=200", "status=502,for=200", "status=418"]})
    eq(chat("k-for-000001")[0], 503)
    eq(chat("k-unt-000002")[0], 529)
    eq(chat("k-chn-000003")[0], 500)
    time.sleep(max(0, t0 + 0.25 - time.monotonic()))
    eq(chat("k-for-000001")[0], 503)
    eq(chat("k-chn-000003")[0], 502)  # windows chain: 200 ms each from the POST
    time.sleep(max(0, t0 + 0.5 - time.monotonic()))
    eq(chat("k-for-000001")[0], 200)  # then an implicit ok
    eq(chat("k-unt-000002")[0], 200)
    eq(chat("k-chn-000003")[0], 418)  # a count-based last entry repeats
    eq(chat("k-chn-000003")[0], 418)
    # a window reached by count starts when it becomes current
    scripts({"k-cnt-000004": ["status=429", "status=503;for=300", "ok"]})
    time.sleep(0.35)
    eq(chat("k-cnt-000004")[0], 429)
    eq(chat("k-cnt-000004")[0], 503)
    time.sleep(0.35)
    eq(chat("k-cnt-000004")[0], 200)


@test
def key_from_every_auth_header():
    clear()
    scripts({"ant-key-111111": "status=529", "goog-key-222222": "status=403",
             "azure-key-333333": "status=401", "query-key-444444": "status=500",
             "AKIDEXAMPLE55555": "status=429", "xapi-on-openai-6": "status=402"})
    st, h, data = chat(None, {"model": "claude"}, {"x-api-key": "ant-key-111111",
                                                   "anthropic-version": "2023-06-01"},
                       path="/v1/messages")
    eq(st, 529)
    eq(json.loads(data)["error"]["type"], "overloaded_error")
    st, h, data = chat(None, {}, {"x-goog-api-key": "goog-key-222222"},
                       path="/v1beta/models/gemini-2.0-flash:generateContent")
    eq(st, 403)
    eq(json.loads(data)["error"]["status"], "PERMISSION_DENIED")
    st, h, data = chat(None, {}, {"api-key": "azure-key-333333"},
                       path="/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21")
    eq(st, 401)
    st, h, data = chat(None, {}, None,
                       path="/v1beta/models/gemini-2.0-flash:generateContent?alt=json&key=query-key-444444")
    eq(st, 500)
    eq(json.loads(data)["error"]["status"], "INTERNAL")
    sig = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE55555/20250101/us-east-1/bedrock/aws4_request, "
           "SignedHeaders=host;x-amz-date, Signature=abcdef")
    st, h, data = chat(None, {}, {"Authorization": sig}, path="/model/anthropic.claude/converse")
    eq(st, 429)
    check(h.get("x-amzn-errortype", "").startswith("ThrottlingException"), h)
    st, h, data = chat(None, {}, {"x-api-key": "xapi-on-openai-6"})
    eq(st, 402)
    eq(chat("unscripted-key-7")[0], 200)
    s = stats()
    eq(s["by_key"], {"111111": 1, "222222": 1, "333333": 1, "444444": 1, "E55555": 1,
                     "enai-6": 1, "-key-7": 1})
    eq(s["keys"]["444444"]["by_path"], {"/v1beta/models/gemini-2.0-flash:generateContent": 1})


@test
def google_retry_info_and_daily_quota_bodies():
    clear()
    scripts({"g-retry-00001": "retry-delay=3400", "g-day-000002": "daily-quota",
             "g-both-00003": "daily-quota,retry-delay=20000", "g-inv-000004": "key-invalid",
             "g-fix-000005": "fixture=gemini/error_429_resource_exhausted.json"})
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    st, h, data = chat(None, {}, {"x-goog-api-key": "g-retry-00001"}, path=path)
    eq(st, 429)
    err = json.loads(data)["error"]
    eq(err["status"], "RESOURCE_EXHAUSTED")
    ri = [d for d in err["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    eq(ri, [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.400s"}])
    qf = [d for d in err["details"] if d["@type"].endswith("google.rpc.QuotaFailure")][0]
    check("PerMinute" in qf["violations"][0]["quotaId"], qf)
    st, h, data = chat(None, {}, {"x-goog-api-key": "g-day-000002"}, path=path)
    eq(st, 429)
    err = json.loads(data)["error"]
    qf = [d for d in err["details"] if d["@type"].endswith("google.rpc.QuotaFailure")][0]
    check("PerDay" in qf["violations"][0]["quotaId"], qf)
    check(not any(d["@type"].endswith("RetryInfo") for d in err["details"]), err)
    st, h, data = chat(None, {}, {"x-goog-api-key": "g-both-00003"}, path=path)
    err = json.loads(data)["error"]
    check(any(d.get("retryDelay") == "20s" for d in err["details"]), err)
    check("PerDay" in json.dumps(err), err)
    st, h, data = chat(None, {}, {"x-goog-api-key": "g-inv-000004"}, path=path)
    eq(st, 400)
    err = json.loads(data)["error"]
    eq(err["status"], "INVALID_ARGUMENT")
    eq(err["details"][0]["reason"], "API_KEY_INVALID")
    st, h, data = chat(None, {}, {"x-goog-api-key": "g-fix-000005"}, path=path)
    eq(st, 429)
    check("retryDelay" in json.loads(data)["error"]["details"][1], data)
    # Vertex's publishers/google path has the same shapes
    st, h, data = chat(None, {}, {"Authorization": "Bearer g-day-000002"},
                       path="/v1/projects/p/locations/us-central1/publishers/google/models/"
                            "gemini-2.5-flash:generateContent")
    eq(st, 429)
    check("PerDay" in data.decode(), data)
    # the same items ride in X-Mock without a key
    st, h, data = chat(None, {}, {"X-Mock": "retry-delay=1500"}, path=path)
    eq(st, 429)
    check('"retryDelay":"1.500s"' in data.decode(), data)


@test
def openai_and_anthropic_quota_and_key_errors():
    clear()
    scripts({"o-quota-0001": "quota", "o-inv-000002": "key-invalid",
             "a-quota-0003": "quota", "a-inv-000004": "key-invalid", "a-ovl-000005": "status=529",
             "o-500-000006": "status=500", "o-403-000007": "status=403"})
    st, h, data = chat("o-quota-0001")
    eq(st, 429)
    e = json.loads(data)["error"]
    eq((e["type"], e["code"]), ("insufficient_quota", "insufficient_quota"))
    st, h, data = chat("o-inv-000002")
    eq(st, 401)
    eq(json.loads(data)["error"]["code"], "invalid_api_key")
    eq(chat("o-500-000006")[0], 500)
    eq(chat("o-403-000007")[0], 403)
    ah = {"anthropic-version": "2023-06-01"}
    st, h, data = chat(None, {"model": "claude"}, dict(ah, **{"x-api-key": "a-quota-0003"}),
                       path="/v1/messages")
    eq(st, 400)
    e = json.loads(data)["error"]
    eq(e["type"], "invalid_request_error")
    check("credit balance" in e["message"], e)
    st, h, data = chat(None, {"model": "claude"}, dict(ah, **{"x-api-key": "a-inv-000004"}),
                       path="/v1/messages")
    eq(st, 401)
    eq(json.loads(data)["error"]["type"], "authentication_error")
    st, h, data = chat(None, {"model": "claude"}, dict(ah, **{"x-api-key": "a-ovl-000005"}),
                       path="/v1/messages")
    eq(st, 529)
    eq(json.loads(data)["type"], "error")
    eq(json.loads(data)["error"]["type"], "overloaded_error")
    # an explicit status wins over the implied one
    scripts({"o-quota-0001": "quota,status=402"})
    eq(chat("o-quota-0001")[0], 402)


@test
def faults_reset_hang_and_midstream():
    clear()
    scripts({"k-reset-00001": ["reset", "ok"], "k-hang-000002": "hang",
             "k-mid-000003": "tokens=20,token-ms=5,reset-after=300"})
    try:
        chat("k-reset-00001")
        check(False, "answered")
    except (ConnectionError, OSError) as e:
        check(not isinstance(e, socket.timeout), e)
    eq(chat("k-reset-00001")[0], 200)
    t0 = time.time()
    try:
        chat("k-hang-000002", timeout=0.5)
        check(False, "answered")
    except (socket.timeout, TimeoutError):
        pass
    check(time.time() - t0 < 3)
    st, h, evs = stream(port(), "/v1/chat/completions", {"model": "m", "stream": True},
                        {"Authorization": "Bearer k-mid-000003"})
    eq(st, 200)
    check(len(evs) >= 2 and evs[-1][1].startswith(b"<broken"), evs[-2:])
    eq(stats()["by_key"], {"-00001": 2, "000002": 1, "000003": 1})


@test
def precedence_xmock_then_key_then_model():
    clear()
    scripts({"k-prec-000001": ["status=418", "ok"]})
    # X-Mock wins, but the request still takes the entry (the script advances per request)
    st, h, data = chat("k-prec-000001", headers={"X-Mock": "status=409"})
    eq(st, 409)
    st, h, data = chat("k-prec-000001", {"model": "mock:status=404"})
    eq(st, 404)  # the "ok" entry leaves the model's items in charge
    scripts({"k-prec-000001": "status=418"})
    st, h, data = chat("k-prec-000001", {"model": "mock:status=404"})
    eq(st, 418)  # a key's items replace the model's
    scripts({"k-echo-000002": "echo,status=202"})
    st, h, data = chat("k-echo-000002")
    eq(st, 202)
    j = json.loads(data)
    check(["Authorization", "Bearer k-echo-000002"] in j["headers"], j["headers"])


@test
def stats_times_counts_and_reset():
    clear()
    eq(stats(), {"requests": 0, "by_path": {}})  # no key seen: the old shape
    chat(None)
    eq(stats(), {"requests": 1, "by_path": {"/v1/chat/completions": 1}})
    before = time.monotonic() * 1000
    for i in range(70):
        chat("k-times-000001")
    after = time.monotonic() * 1000
    chat("k-other-000002", path="/v1/embeddings", body={"model": "e", "input": "x"})
    s = stats()
    k = s["keys"]["000001"]
    eq(k["requests"], 70)
    eq(len(k["times_ms"]), 64)  # the last 64
    eq(k["times_ms"], sorted(k["times_ms"]))
    check(before - 5 <= k["times_ms"][0] and k["times_ms"][-1] <= after + 5,
          (before, k["times_ms"][0], k["times_ms"][-1], after))
    check(abs(s["now_ms"] - time.monotonic() * 1000) < 100, s["now_ms"])
    eq(s["keys"]["000002"]["by_path"], {"/v1/embeddings": 1})
    eq(s["by_path"], {"/v1/chat/completions": 71, "/v1/embeddings": 1})
    http(port(), "POST", "/mock/reset", b"")
    eq(stats(), {"requests": 0, "by_path": {}})
    # scripts survive /mock/reset (only DELETE /mock/keys clears them)
    scripts({"k-keep-000003": "status=429"})
    http(port(), "POST", "/mock/reset", b"")
    eq(chat("k-keep-000003")[0], 429)


@test
def no_quiet_gap_check_example():
    """The check issue 5's test will make through llmux: no request for a key during N s."""
    clear()
    scripts({"k-gap-000001": ["status=429,retry-after=1", "ok"]})
    eq(chat("k-gap-000001")[0], 429)
    time.sleep(0.3)
    eq(chat("k-gap-000001")[0], 200)
    t = stats()["keys"]["000001"]["times_ms"]
    eq(len(t), 2)
    check(250 <= t[1] - t[0] <= 400, t)


@test
def bad_scripts_change_nothing():
    clear()
    scripts({"k-good-000001": "status=429"})
    for bad in (b"", b"[]", b"{\"k\": 5}", b"{\"k\": \"bogus=1\"}", b"{\"k\": [\"ok\", 7]}",
                b"{\"k\": \"status=500;for=10;times=2\"}", b"{\"k\": \"x\"", b"{\"k-good-000001\":"
                b" \"ok\", \"k2\": \"nope\"}", b"{\"k\": \"ok\"} x"):
        st, h, data = http(port(), "POST", "/mock/keys", bad)
        eq(st, 400, "%r -> %r" % (bad, data))
        check("bad key scripts" in json.loads(data)["error"]["message"], data)
    eq(chat("k-good-000001")[0], 429)  # unchanged by the failed posts
    eq(http(port(), "PUT", "/mock/keys", b"{}")[0], 405)
    scripts({})
    eq(chat("k-good-000001")[0], 429)
    eq(http(port(), "DELETE", "/mock/keys")[0], 200)
    eq(chat("k-good-000001")[0], 200)
    eq(json.loads(http(port(), "GET", "/mock/keys")[2])["keys"], {})
    # escapes in keys and items
    st, h, data = http(port(), "POST", "/mock/keys",
                       b'{"k\\u002desc-000002" : [ "status\\u003d503" ] }')
    eq(st, 200, data)
    eq(chat("k-esc-000002")[0], 503)


run()
