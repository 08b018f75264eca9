"""harness.py - the integration test harness: starts llmux and the mock provider on free
loopback ports, talks to them over real sockets, and always stops what it started.

A test file defines functions decorated with @test and ends with `run()`. Each test prints
"PASS name" or "FAIL name: reason"; `run()` exits non-zero when any failed. Only the Python
standard library is used, so the harness needs nothing beyond Debian's python3.

Paths: LX_BUILD is the build folder (default ./build), LX_SHARED the ../shared folder.
"""
import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LX_BUILD", os.path.join(ROOT, "build"))
SHARED = os.environ.get("LX_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
FIXTURES = os.path.join(SHARED, "protocols", "fixtures")

_tests = []
_procs = []


def test(fn):
    _tests.append(fn)
    return fn


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listening on port %d after %.1fs" % (port, timeout))


class Proc:
    """A child process with its output captured to a file under BUILD/test-logs."""

    def __init__(self, name, argv, port=None, env=None, wait=True):
        logdir = os.path.join(BUILD, "test-logs", "procs")
        os.makedirs(logdir, exist_ok=True)
        self.name = name
        self.port = port
        self.log_path = os.path.join(logdir, "%s-%d.log" % (name, os.getpid()))
        self.log = open(self.log_path, "ab")
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                  start_new_session=True)
        _procs.append(self)
        if wait and port is not None:
            wait_port(port, proc=self.p)

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit code (SIGKILL after timeout)."""
        if self.log.closed:
            return self.p.returncode
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def _cleanup():
    for pr in _procs:
        if pr.p.poll() is None:
            try:
                os.killpg(pr.p.pid, signal.SIGKILL)
            except OSError:
                pass


atexit.register(_cleanup)


def start_mock(extra=()):
    port = free_port()
    return Proc("mockllm", [os.path.join(BUILD, "mockllm"), "--listen", "127.0.0.1:%d" % port,
                            "--fixtures", FIXTURES] + list(extra), port=port)


def start_llmux(args=(), env=None):
    port = free_port()
    return Proc("llmux", [os.path.join(BUILD, "llmux"), "serve", "--listen",
                          "127.0.0.1:%d" % port] + list(args), port=port, env=env)


def raw_exchange(port, data, timeout=5.0, half_close=False, read_until_close=True):
    """Sends bytes on a fresh connection and returns everything read until the server closes
    (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(a, b, msg=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (msg or "values differ", a, b))


def run():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    failed = 0
    mod = os.path.splitext(os.path.basename(sys.modules["__main__"].__file__))[0]
    for fn in _tests:
        if only and only not in fn.__name__:
            continue
        name = "%s/%s" % (mod, fn.__name__)
        t0 = time.time()
        try:
            fn()
            print("PASS %s (%.2fs)" % (name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - any failure is a test failure
            failed += 1
            traceback.print_exc()
            print("FAIL %s: %s" % (name, str(e).splitlines()[0][:300] if str(e) else
                                   type(e).__name__), flush=True)
    failed += _check_procs(mod)
    _cleanup()
    sys.exit(1 if failed else 0)


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ThreadSanitizer")


def _check_procs(mod):
    """Stops every process still running with SIGTERM (so leak checks run at exit) and fails
    the file if any process's output has a sanitizer report or it exited on a signal."""
    bad = 0
    for pr in _procs:
        rc = pr.stop() if pr.p.poll() is None else pr.p.returncode
        out = pr.output()
        marks = [m for m in SANITIZER_MARKS if m in out]
        if marks:
            bad += 1
            print("FAIL %s/sanitizer-%s: %s in %s" % (mod, pr.name, marks[0], pr.log_path),
                  flush=True)
        elif rc is not None and rc < 0 and rc != -signal.SIGKILL:
            bad += 1
            print("FAIL %s/exit-%s: died on signal %d (%s)" % (mod, pr.name, -rc, pr.log_path),
                  flush=True)
    return bad


# ---- HTTP helpers (http.client: real sockets, no third-party code) ----
import http.client as _httpc  # noqa: E402
import json as _json  # noqa: E402


def http(port, method, path, body=None, headers=None, timeout=10.0):
    """One request on a fresh connection. Returns (status, headers dict lower-case, body bytes)."""
    c = _httpc.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = _json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def sse_events(raw):
    """Splits an SSE body into the data payloads of its events (comments dropped)."""
    events = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [ln[5:].lstrip(b" ") if ln.startswith(b"data:") else None
                for ln in block.split(b"\n")]
        data = [d for d in data if d is not None]
        if data:
            events.append(b"\n".join(data))
    return events


def stream(port, path, body, headers=None, timeout=10.0, on_event=None):
    """POSTs and reads an SSE response incrementally. Returns (status, headers, [(t, data)])
    where t is the arrival time of each event. on_event(i, data, sock) may return False to stop
    reading (the connection is then closed by the caller's exit)."""
    c = _httpc.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=_json.dumps(body).encode(), headers=h)
    r = c.getresponse()
    hd = {k.lower(): v for k, v in r.getheaders()}
    out = []
    if r.status != 200 or not hd.get("content-type", "").startswith("text/event-stream"):
        data = r.read()
        c.close()
        return r.status, hd, [(time.time(), data)]
    buf = b""
    try:
        while True:
            chunk = r.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                for d in sse_events(block + b"\n\n"):
                    out.append((time.time(), d))
                    if on_event and on_event(len(out) - 1, d, c) is False:
                        c.close()
                        return r.status, hd, out
    except (_httpc.IncompleteRead, ConnectionError) as e:
        out.append((time.time(), ("<broken: %s>" % type(e).__name__).encode()))
    c.close()
    return r.status, hd, out


def established(port):
    """Number of ESTABLISHED TCP connections on loopback to or from `port` (/proc/net/tcp*)."""
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            local, remote, st = parts[1], parts[2], parts[3]
            if st == "01" and (int(local.split(":")[1], 16) == port):
                n += 1
    return n
