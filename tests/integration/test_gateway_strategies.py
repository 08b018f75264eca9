"""test_gateway_strategies.py - routing strategies end to end (issue 5): an alias's weighted
targets share 10,000 requests by their weights (within 5 %), and the lowest-latency strategy
moves to the faster target when the mock slows one down."""
import json
import os
import tempfile

from harness import check, eq, http, run, start_llmux, start_mock, test

MASTER = "mk-strat-%d" % os.getpid()
KEYS = {"w1": "sk-test-key-wght01", "w2": "sk-test-key-wght02",
        "l1": "sk-test-key-late01", "l2": "sk-test-key-late02"}
AUTH = {"Authorization": "Bearer " + MASTER}
_env = {}


def env():
    if "lx" in _env and _env["lx"].p.poll() is None:
        return _env["lx"].port
    _env["mock"] = start_mock()
    base = "http://127.0.0.1:%d/v1" % _env["mock"].port
    providers = "".join("  - name: %s\n    type: openai\n    base_url: %s\n    keys: [\"${K_%s}\"]\n"
                        % (k, base, k.upper()) for k in KEYS)
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write("master_key: \"${M}\"\nproviders:\n" + providers +
            "models:\n"
            "  - name: split\n    strategy: weighted\n    targets:\n"
            "      - {target: \"w1/gpt-4o-mini\", weight: 3}\n"
            "      - {target: \"w2/gpt-4o-mini\", weight: 1}\n"
            "  - name: quick\n    strategy: latency\n"
            "    targets: [\"l1/gpt-4o-mini\", \"l2/gpt-4o-mini\"]\n")
    f.close()
    e = {"M": MASTER}
    e.update({"K_" + k.upper(): v for k, v in KEYS.items()})
    _env["lx"] = start_llmux(["--config", f.name, "--workers", "1"], env=e)
    return _env["lx"].port


def mock(method, path, body=None):
    status, h, out = http(_env["mock"].port, method, path, body)
    eq(status, 200, out)
    return json.loads(out)


def count(k):
    return mock("GET", "/mock/stats").get("keys", {}).get(KEYS[k][-6:], {}).get("requests", 0)


def ask(port, model):
    status, h, out = http(port, "POST", "/v1/chat/completions",
                          {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                          headers=AUTH)
    eq(status, 200, out[:200])


@test
def weighted_shares_within_five_percent():
    port = env()
    mock("POST", "/mock/reset")
    n = 10000
    for _ in range(n):
        ask(port, "split")
    a, b = count("w1"), count("w2")
    eq(a + b, n)
    check(abs(a / n - 0.75) <= 0.75 * 0.05, "weight 3 got %.2f %% (want 75 %% +- 5 %%)"
          % (100.0 * a / n))
    check(abs(b / n - 0.25) <= 0.25 * 0.05, "weight 1 got %.2f %% (want 25 %% +- 5 %%)"
          % (100.0 * b / n))


@test
def lowest_latency_moves_to_the_faster_target():
    port = env()
    mock("POST", "/mock/reset")
    mock("POST", "/mock/keys", {KEYS["l2"]: "delay=40"})
    for _ in range(10):  # both get measured, then the faster one wins
        ask(port, "quick")
    before = (count("l1"), count("l2"))
    for _ in range(20):
        ask(port, "quick")
    check(count("l1") - before[0] >= 19, "l1 (fast) got %d of 20" % (count("l1") - before[0]))
    # now l1 slows down: its average passes l2's and traffic moves over
    mock("POST", "/mock/keys", {KEYS["l1"]: "delay=100", KEYS["l2"]: "ok"})
    for _ in range(30):
        ask(port, "quick")
    before = (count("l1"), count("l2"))
    for _ in range(20):
        ask(port, "quick")
    check(count("l2") - before[1] >= 18, "l2 (now faster) got %d of 20"
          % (count("l2") - before[1]))


if __name__ == "__main__":
    run()
