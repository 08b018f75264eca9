"""test_gateway_auth.py - the master key (every form S2 allows, constant-time compared, never
echoed), BYOK (the client's own provider key used for one request, sent only to a configured
provider, never logged), failover across an alias's targets before the first byte, and the
route-check / model-options endpoints."""
import json
import os
import tempfile
import time
import urllib.parse

from harness import check, eq, http, run, start_llmux, start_mock, stream, test

MASTER = "sk-CANARY-master-%d" % os.getpid()
KEY_A = "sk-CANARY-a-%d" % os.getpid()
BYOK = "sk-CANARY-byok-%d" % os.getpid()
_env = {}


def env():
    if "lx" not in _env:
        ma, mb = start_mock(), start_mock()
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write("master_key: ${LLMUX_MASTER_KEY}\n"
                "providers:\n"
                "  - name: a\n"
                "    type: openai\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "    keys: [\"${KEY_A}\"]\n"
                "  - name: b\n"
                "    type: openai\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "  - name: c\n"
                "    type: openai\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "    keys: [\"${LLMUX_TEST_UNSET_KEY}\"]\n"
                "  - name: d\n"
                "    type: openai\n"
                "    base_url: http://127.0.0.1:%d/v1\n"
                "    enabled: false\n"
                "models:\n"
                "  - name: failover\n"
                "    targets: [\"a/mock:status=503\", \"a/mock:reset\", \"b/mock:echo\"]\n"
                "  - name: client-error\n"
                "    targets: [\"a/mock:status=400\", \"b/mock:echo\"]\n"
                % (ma.port, mb.port, mb.port, mb.port))
        f.close()
        _env["path"] = f.name
        _env["lx"] = start_llmux(["--config", f.name, "--workers", "1"],
                                 env={"LLMUX_MASTER_KEY": MASTER, "KEY_A": KEY_A})
    return _env["lx"]


def chat(model):
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


@test
def master_key_required_in_any_form():
    lx = env()
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("a/gpt-4o"))
    eq(st, 401)
    eq(json.loads(out)["error"]["code"], "missing_api_key")
    for hdrs, path in (({"Authorization": "Bearer " + MASTER}, "/v1/chat/completions"),
                       ({"x-api-key": MASTER}, "/v1/chat/completions"),
                       ({"X-AUTH-TOKEN": MASTER}, "/v1/chat/completions"),
                       ({}, "/v1/chat/completions?auth_token=" + urllib.parse.quote(MASTER))):
        st, h, out = http(lx.port, "POST", path, chat("a/gpt-4o"), headers=hdrs)
        eq(st, 200, (hdrs, path, out[:200]))
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("a/gpt-4o"),
                      headers={"Authorization": "Bearer " + MASTER[:-1] + "x"})
    eq(st, 401)
    err = json.loads(out)["error"]
    eq(err["code"], "invalid_api_key")
    check(MASTER[:-1] not in out.decode(), "the error echoed the key")
    st, h, out = http(lx.port, "GET", "/health")
    eq(st, 200, "health needs no key")
    st, h, out = http(lx.port, "GET", "/v1/models")
    eq(st, 401, "models needs the key")


def authed(extra=None):
    h = {"Authorization": "Bearer " + MASTER}
    h.update(extra or {})
    return h


@test
def byok_key_used_once_and_never_logged():
    lx = env()
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("a/mock:echo"),
                      headers=authed({"X-Provider-Key": BYOK}))
    eq(st, 200, out[:200])
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["authorization"], "Bearer " + BYOK, "the provider gets the client's key")
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("a/mock:echo"),
                      headers=authed())
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["authorization"], "Bearer " + KEY_A, "without BYOK the provider's own key")
    # S4: X-API-Key is a provider key only together with X-Provider
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("mock:echo"),
                      headers=authed({"X-Provider": "a", "X-API-Key": BYOK}))
    eq(st, 200, out[:200])
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["authorization"], "Bearer " + BYOK)
    # a key may only travel to a configured provider
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("gpt-4o"),
                      headers=authed({"X-Provider": "evil", "X-Provider-Key": BYOK}))
    eq(st, 400, out)
    check(BYOK not in out.decode())
    for secret in (BYOK, MASTER, KEY_A):
        check(secret not in lx.output(), "a key reached llmux's log")


@test
def byok_reaches_a_provider_that_has_no_key_of_its_own():
    lx = env()
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("c/mock:echo"),
                      headers=authed())
    eq(st, 503, out[:200])
    eq(json.loads(out)["error"]["code"], "provider_unavailable")
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("c/mock:echo"),
                      headers=authed({"X-Provider-Key": BYOK}))
    eq(st, 200, out[:200])
    hdrs = {k.lower(): v for k, v in json.loads(out)["headers"]}
    eq(hdrs["authorization"], "Bearer " + BYOK)
    # a provider switched off in the file stays off, whatever key the client brings
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("d/mock:echo"),
                      headers=authed({"X-Provider-Key": BYOK}))
    eq(st, 503, out[:200])


@test
def alias_fails_over_before_the_first_byte():
    lx = env()
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("failover"),
                      headers=authed({"X-Request-Id": "fo-1"}))
    eq(st, 200, out[:300])
    eq(json.loads(json.loads(out)["body"])["model"], "mock:echo")
    rec = []
    for _ in range(100):  # the access line is written after the answer, in the same loop turn
        rec = [json.loads(ln) for ln in lx.output().splitlines()
               if "fo-1" in ln and "access" in ln]
        if rec:
            break
        time.sleep(0.02)
    check(rec, "no access line for fo-1")
    eq(rec[0]["provider"], "b")
    eq(rec[0]["attempts"], 3)
    # a 400 is the client's request: no other target is tried
    st, h, out = http(lx.port, "POST", "/v1/chat/completions", chat("client-error"),
                      headers=authed())
    eq(st, 400, out[:300])


@test
def route_check_and_model_options():
    lx = env()
    st, h, out = http(lx.port, "GET", "/v1/route-check?model=failover", headers=authed())
    eq(st, 200, out)
    doc = json.loads(out)
    eq(doc["provider"], "a")
    eq(doc["available"], True)
    eq(doc["rule"], "alias")
    eq(len(doc["candidates"]), 3)
    st, h, out = http(lx.port, "GET", "/v1/route-check?model=nosuch", headers=authed())
    doc = json.loads(out)
    eq(doc["available"], False)
    st, h, out = http(lx.port, "GET", "/v1/model-options", headers=authed())
    eq(st, 200)
    ids = [m["id"] for m in json.loads(out)["data"]]
    check("failover" in ids, ids)


if __name__ == "__main__":
    try:
        run()
    finally:
        if "path" in _env:
            os.unlink(_env["path"])
