"""test_cli.py - the llmux command line: check-config (every message with FILE:LINE:COL, exit
status, --print with secrets redacted), version, and usage errors."""
import os
import subprocess
import tempfile

from harness import BUILD, ROOT, check, eq, run, test

LLMUX = os.path.join(BUILD, "llmux")
CANARY = "sk-CANARY-cli-%d" % os.getpid()


def llmux(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([LLMUX] + list(args), capture_output=True, timeout=20, env=e)


def write(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(text)
    f.close()
    return f.name


@test
def check_config_accepts_the_contract_example():
    path = os.path.join(ROOT, "tests", "fixtures", "config", "contract.yaml")
    p = llmux("check-config", path, env={"OPENAI_API_KEY": CANARY, "LLMUX_MASTER_KEY": CANARY})
    eq(p.returncode, 0, p.stderr)
    check(b": ok" in p.stderr, p.stderr)


@test
def check_config_reports_every_error_with_its_line():
    path = write("listen: 127.0.0.1:4000\n"
                 "providrs: []\n"
                 "providers:\n"
                 "  - name: a\n"
                 "    type: openai\n"
                 "    base_url: ftp://x\n"
                 "models:\n"
                 "  - name: m\n"
                 "    targets: [\"nosuch/model\"]\n")
    try:
        p = llmux("check-config", path)
    finally:
        os.unlink(path)
    eq(p.returncode, 1, p.stderr)
    err = p.stderr.decode()
    check("%s:2:" % path in err and "providrs" in err, err)
    check("%s:6:" % path in err, "the bad URL's line: " + err)
    check("%s:9:" % path in err, "the unknown provider's line: " + err)
    check(" 3 errors" in err, err)


@test
def check_config_print_redacts_secrets():
    path = write("master_key: ${CANARY_KEY}\n"
                 "providers:\n"
                 "  - name: openai\n"
                 "    type: openai\n"
                 "    base_url: https://api.openai.com/v1\n"
                 "    keys: [\"${CANARY_KEY}\", \"literal-" + CANARY + "\"]\n")
    try:
        p = llmux("check-config", path, "--print", env={"CANARY_KEY": CANARY})
    finally:
        os.unlink(path)
    eq(p.returncode, 0, p.stderr)
    out = p.stdout + p.stderr
    check(b"***" in p.stdout, p.stdout)
    check(CANARY.encode() not in out, "a key reached check-config's output")


@test
def version_and_usage():
    p = llmux("version")
    eq(p.returncode, 0)
    check(p.stdout.startswith(b"llmux "), p.stdout)
    p = llmux("frobnicate")
    eq(p.returncode, 2)
    p = llmux("check-config")
    eq(p.returncode, 2)
    p = llmux("serve", "--listen", "0.0.0.0:4999", env={"LLMUX_MASTER_KEY": ""})
    eq(p.returncode, 2, "without a master key llmux must refuse a public address")
    check(b"master key" in p.stderr, p.stderr)


if __name__ == "__main__":
    run()
