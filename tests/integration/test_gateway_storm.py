"""test_gateway_storm.py - an outage does not multiply the traffic (issue 5): every key of the
only deployment answers 503 for 60 s while clients offer 200 requests a second. Upstream
attempts stay within 1.2 x requests + 10/s (retry budget, breaker), the open breaker answers at
once (server-side latency < 5 ms), and traffic flows again after the upstream heals (the
breaker's half-open probe). Takes about 90 s."""
import http.client as httpclient
import json
import os
import tempfile
import threading
import time

from harness import check, eq, http, run, start_llmux, start_mock, test

MASTER = "mk-storm-%d" % os.getpid()
KEYS = ["sk-test-key-storm1", "sk-test-key-storm2"]
STORM_S = 60
RATE = 200  # requests per second offered, in total
_env = {}


def env():
    if "lx" in _env and _env["lx"].p.poll() is None:
        return _env["lx"].port
    _env["mock"] = start_mock()
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write("master_key: \"${M}\"\n"
            "providers:\n"
            "  - name: w\n    type: openai\n    base_url: http://127.0.0.1:%d/v1\n"
            "    keys: [\"${K1}\", \"${K2}\"]\n"
            "models:\n  - name: storm\n    targets: [\"w/gpt-4o-mini\"]\n" % _env["mock"].port)
    f.close()
    _env["lx"] = start_llmux(["--config", f.name, "--workers", "1"],
                             env={"M": MASTER, "K1": KEYS[0], "K2": KEYS[1]})
    return _env["lx"].port


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def upstream_attempts():
    keys = mock("GET", "/mock/stats").get("keys", {})
    return sum(keys.get(k[-6:], {}).get("requests", 0) for k in KEYS)


BODY = json.dumps({"model": "storm", "messages": [{"role": "user", "content": "hi"}]}).encode()
HDRS = {"Content-Type": "application/json", "Authorization": "Bearer " + MASTER}


def client(port, until, rate, out, lock):
    """Sends at `rate` per second on one keep-alive connection until `until`."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() < until:
        due = t0 + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        n += 1
        try:
            conn.request("POST", "/v1/chat/completions", body=BODY, headers=HDRS)
            r = conn.getresponse()
            r.read()
            st = r.status
        except (OSError, httpclient.HTTPException):
            conn.close()
            conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
            st = 0
        with lock:
            out.append(st)
    conn.close()


@test
def storm_of_503s_is_contained_and_heals():
    port = env()
    mock("POST", "/mock/reset")
    mock("POST", "/mock/keys", {k: "status=503;for=%d" % (STORM_S * 1000) for k in KEYS})
    statuses, lock, threads = [], threading.Lock(), []
    until = time.monotonic() + STORM_S
    for _ in range(4):
        t = threading.Thread(target=client, args=(port, until, RATE / 4, statuses, lock))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    attempts = upstream_attempts()
    requests = len(statuses)
    check(requests >= RATE * STORM_S * 0.8, "only %d requests offered" % requests)
    check(attempts <= 1.2 * requests + 10 * STORM_S,
          "%d upstream attempts for %d requests" % (attempts, requests))
    check(all(s in (502, 503) for s in statuses), set(statuses))
    # the open breaker answered at once: llmux's own view (access log latency)
    lines = [json.loads(ln) for ln in _env["lx"].output().splitlines() if '"access"' in ln]
    shed = sorted(ln["latency_ms"] for ln in lines if ln.get("error") == "no_target")
    check(len(shed) > requests / 2, "the breaker shed only %d of %d requests" % (len(shed),
                                                                                 requests))
    check(shed[len(shed) // 2] < 5 and shed[int(len(shed) * 0.99)] < 5,
          "breaker answers: p50 %.3f ms, p99 %.3f ms" % (shed[len(shed) // 2],
                                                         shed[int(len(shed) * 0.99)]))
    # the upstream has healed (its scripts ended): the half-open probe closes the breaker
    deadline = time.monotonic() + 45
    healed = False
    while time.monotonic() < deadline and not healed:
        status, h, out = http(port, "POST", "/v1/chat/completions", json.loads(BODY),
                              headers={"Authorization": "Bearer " + MASTER})
        healed = status == 200
        if not healed:
            time.sleep(0.25)
    check(healed, "traffic did not flow again after the upstream healed")
    for _ in range(20):
        status, h, out = http(port, "POST", "/v1/chat/completions", json.loads(BODY),
                              headers={"Authorization": "Bearer " + MASTER})
        eq(status, 200, out[:200])
    print("storm: %d requests, %d upstream attempts, breaker p50 %.3f ms"
          % (requests, attempts, shed[len(shed) // 2]))


if __name__ == "__main__":
    run()
