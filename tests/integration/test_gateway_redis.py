"""test_gateway_redis.py - two llmux instances sharing a real Redis server (Debian's
redis-server, started here on a free loopback port, no persistence): a key disabled or cooled
down through one instance is skipped by the other; Redis going away never fails a request and
/health says so (issue 5, shared state)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import Proc, check, eq, free_port, http, run, start_llmux, start_mock, test

MASTER = "mk-redis-%d" % os.getpid()
KEYS = {"a": "sk-test-key-rdsaaa", "b": "sk-test-key-rdsbbb", "c": "sk-test-key-rdsccc"}
AUTH = {"Authorization": "Bearer " + MASTER}
_env = {}


def wait_tcp(port, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_redis():
    exe = shutil.which("redis-server")
    check(exe is not None, "redis-server is not installed (make test installs it)")
    port = free_port()
    _env["redis"] = Proc("redis", [exe, "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"])
    check(wait_tcp(port), "redis-server did not start")
    return port


def env():
    if "lx1" in _env:
        return _env["lx1"].port, _env["lx2"].port
    rport = start_redis()
    _env["mock"] = start_mock()
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write("master_key: \"${M}\"\n"
            "redis:\n  url: redis://127.0.0.1:%d\n  prefix: \"llmux-test-%d:\"\n"
            "providers:\n"
            "  - name: p\n    type: openai\n    base_url: http://127.0.0.1:%d/v1\n"
            "    keys: [\"${KA}\", \"${KB}\", \"${KC}\"]\n"
            % (rport, os.getpid(), _env["mock"].port))
    f.close()
    e = {"M": MASTER, "KA": KEYS["a"], "KB": KEYS["b"], "KC": KEYS["c"]}
    _env["lx1"] = start_llmux(["--config", f.name, "--workers", "1"], env=e)
    _env["lx2"] = start_llmux(["--config", f.name, "--workers", "1"], env=e)
    return _env["lx1"].port, _env["lx2"].port


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def count(k):
    return mock("GET", "/mock/stats").get("keys", {}).get(KEYS[k][-6:], {}).get("requests", 0)


def chat(model):
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def shared_state(port):
    status, h, out = http(port, "GET", "/health")
    return json.loads(out).get("shared_state", "")


@test
def both_instances_connected():
    p1, p2 = env()
    deadline = time.time() + 5
    while time.time() < deadline and not (shared_state(p1) == "connected" ==
                                          shared_state(p2)):
        time.sleep(0.05)
    eq(shared_state(p1), "connected")
    eq(shared_state(p2), "connected")


@test
def disabled_through_one_is_skipped_by_the_other():
    p1, p2 = env()
    mock("POST", "/mock/reset")
    mock("POST", "/mock/keys", {KEYS["a"]: "status=401"})
    for _ in range(60):
        http(p1, "POST", "/v1/chat/completions", chat("p/m"), headers=AUTH)
        if count("a") >= 1:
            break
    eq(count("a"), 1, "key a was never picked through instance 1")
    time.sleep(0.3)  # published through Redis
    for i in range(40):
        status, h, out = http(p2, "POST", "/v1/chat/completions", chat("p/m%d" % i),
                              headers=AUTH)
        eq(status, 200, out[:200])
    eq(count("a"), 1, "instance 2 used a key disabled through instance 1")
    check('"remote":true' in _env["lx2"].output(), "instance 2 did not log the remote disable")


@test
def cooled_through_one_is_skipped_by_the_other():
    p1, p2 = env()
    mock("POST", "/mock/reset")
    mock("POST", "/mock/keys", {KEYS["b"]: "status=429,retry-after=30"})
    for _ in range(60):
        http(p1, "POST", "/v1/chat/completions", chat("p/cool"), headers=AUTH)
        if count("b") >= 1:
            break
    eq(count("b"), 1, "key b was never picked through instance 1")
    time.sleep(0.3)
    for _ in range(30):
        status, h, out = http(p2, "POST", "/v1/chat/completions", chat("p/cool"),
                              headers=AUTH)
        eq(status, 200, out[:200])
    eq(count("b"), 1, "instance 2 used a key cooling down through instance 1")


@test
def redis_down_never_fails_a_request():
    p1, p2 = env()
    _env["redis"].stop()
    deadline = time.time() + 5
    while time.time() < deadline and shared_state(p1) == "connected":
        time.sleep(0.05)
    check(shared_state(p1).startswith("down"), shared_state(p1))
    for i in range(10):
        status, h, out = http(p1, "POST", "/v1/chat/completions", chat("p/after%d" % i),
                              headers=AUTH)
        eq(status, 200, out[:200])


if __name__ == "__main__":
    run()
