"""test_server.py - the server/ connection layer at socket level, through tests/bin/echo_server:
keep-alive, pipelining, chunked bodies, Expect, HTTP/1.0, limits, timeouts, back-pressure,
client disconnects, drain, many connections, IPv6, and the HTTP corpus
(../shared/corpus/http) sent whole and, for a sample, one byte per send.

Run: LX_BUILD=build-x python3 tests/integration/test_server.py [name-substring]
"""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, SHARED, Proc, check, eq, free_port, run, test  # noqa: E402

ECHO = os.path.join(BUILD, "tests", "bin", "echo_server")
CORPUS = os.path.join(SHARED, "corpus", "http")


def start(*args, workers=1, host="127.0.0.1"):
    port = free_port()
    listen = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    logdir = os.path.join(BUILD, "test-logs", "procs")
    logfile = os.path.join(logdir, "echo_server-%d.log" % os.getpid())
    skip = os.path.getsize(logfile) if os.path.exists(logfile) else 0
    p = Proc("echo_server", [ECHO, "--listen", listen, "--workers", str(workers)] +
             [str(a) for a in args], port=None)
    deadline = time.time() + 5
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        try:
            s = socket.socket(fam)
            s.connect((host, port))
            s.close()
            break
        except OSError:
            s.close()
            if time.time() > deadline or p.p.poll() is not None:
                raise RuntimeError("echo_server did not start")
            time.sleep(0.02)
    p.port = port
    p.skip = skip
    return p


def out(p):
    """This server's log lines (Proc appends every server of a test run to one file)."""
    return p.output()[p.skip:]


class Resp:
    def __init__(self, status, headers, body, raw):
        self.status, self.headers, self.body, self.raw = status, headers, body, raw

    def h(self, name):
        return self.headers.get(name.lower())


class Conn:
    """A client connection with a response reader (Content-Length, chunked, close)."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.s.sendall(data)

    def close(self):
        self.s.close()

    def _fill(self):
        if self.eof:
            return False
        try:
            b = self.s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            b = b""
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("closed while reading a line: %r" % self.buf[:200])
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("closed inside a body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, interim=False):
        """The next final response (1xx skipped unless interim=True)."""
        while True:
            line = self._line()
            parts = line.split(b" ", 2)
            check(len(parts) >= 2 and parts[0] == b"HTTP/1.1", "bad status line %r" % line)
            status = int(parts[1])
            headers = {}
            raw = [line]
            while True:
                hl = self._line()
                if hl == b"":
                    break
                raw.append(hl)
                k, v = hl.split(b":", 1)
                headers[k.decode().strip().lower()] = v.decode("latin-1").strip()
            if 100 <= status < 200:
                if interim:
                    return Resp(status, headers, b"", raw)
                continue
            body = b""
            if headers.get("x-echo-method") == "HEAD" or status in (204, 304):
                pass
            elif "content-length" in headers:
                body = self._take(int(headers["content-length"]))
            elif headers.get("transfer-encoding") == "chunked":
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        self._line()
                        break
                    body += self._take(size)
                    eq(self._line(), b"", "chunk CRLF")
            else:
                while self._fill():
                    pass
                body, self.buf = self.buf, b""
            return Resp(status, headers, body, raw)

    def closed_within(self, seconds):
        """True if the server closes (EOF or reset) within seconds, with no bytes first."""
        self.s.settimeout(seconds)
        try:
            return not self._fill() and self.buf == b""
        except socket.timeout:
            return False


def get(path, extra=b"", version=b"1.1"):
    return b"GET " + path + b" HTTP/" + version + b"\r\nHost: t\r\n" + extra + b"\r\n"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(pred, timeout, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@test
def keepalive_reuse():
    p = start()
    c = Conn(p.port)
    for _ in range(3):
        c.send(get(b"/health"))
        r = c.response()
        eq(r.status, 200)
        eq(r.body, b'{"status":"ok"}')
        check(r.h("connection") is None, "no Connection header on keep-alive 1.1")
        check(r.h("date") and r.h("date").endswith("GMT"), "Date header")
    c.close()
    eq(p.stop(), 0, "exit code")


@test
def pipelining_in_order():
    p = start()
    c = Conn(p.port)
    c.send(get(b"/sleep?ms=100") + get(b"/health") +
           b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    r1, r2, r3 = c.response(), c.response(), c.response()
    eq(r1.body, b"data: [DONE]\n\n", "first (slow) answer first")
    eq(r2.body, b'{"status":"ok"}')
    eq(r3.body, b"hello")
    c.close()
    p.stop()


@test
def head_has_length_but_no_body():
    p = start()
    c = Conn(p.port)
    c.send(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n" + get(b"/health"))
    time.sleep(0.2)
    c._fill()
    head, rest = c.buf.split(b"\r\n\r\n", 1)
    check(b"Content-Length: 15" in head, "HEAD keeps the length: %r" % head)
    check(rest.startswith(b"HTTP/1.1 200 OK\r\n"), "no body after a HEAD answer: %r" % rest[:40])
    check(rest.endswith(b'{"status":"ok"}'), "then the GET answer")
    p.stop()


@test
def chunked_request_body():
    p = start()
    c = Conn(p.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    r = c.response()
    eq(r.status, 200)
    eq(r.body, b"hello world")
    c.close()
    p.stop()


@test
def expect_100_continue():
    p = start("--max-body", 1000)
    c = Conn(p.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    r = c.response(interim=True)
    eq(r.status, 100, "interim response before the body")
    c.send(b"hello")
    r = c.response()
    eq((r.status, r.body), (200, b"hello"))
    # too big: 413 at once, no 100, then close
    c2 = Conn(p.port)
    c2.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n")
    r = c2.response(interim=True)
    eq(r.status, 413)
    eq(r.h("connection"), "close")
    check(c2.closed_within(2), "closed after 413")
    p.stop()


@test
def http10():
    p = start()
    c = Conn(p.port)
    c.send(get(b"/health", version=b"1.0"))
    r = c.response()
    eq(r.status, 200)
    eq(r.h("connection"), "close")
    check(c.closed_within(2), "1.0 without keep-alive closes")
    c = Conn(p.port)
    for _ in range(2):
        c.send(get(b"/health", b"Connection: keep-alive\r\n", version=b"1.0"))
        r = c.response()
        eq(r.status, 200)
        eq(r.h("connection"), "keep-alive")
    # unknown length on 1.0: close-delimited, never chunked
    c.send(get(b"/stream?n=3&ms=1", b"Connection: keep-alive\r\n", version=b"1.0"))
    r = c.response()
    check(r.h("transfer-encoding") is None, "no chunked for 1.0")
    check(r.body.endswith(b"data: [DONE]\n\n"), "close-delimited body %r" % r.body)
    check(c.eof, "closed after a close-delimited body")
    p.stop()


@test
def limits():
    p = start("--max-body", 1000)
    c = Conn(p.port)
    c.send(get(b"/health", b"X-Big: " + b"a" * (17 * 1024) + b"\r\n"))
    eq(c.response().status, 431, "header block > 16 KiB")
    check(c.closed_within(2), "closed")
    c = Conn(p.port)
    c.send(get(b"/health", b"".join(b"X-F%d: v\r\n" % i for i in range(101))))
    eq(c.response().status, 431, "> 100 fields")
    c = Conn(p.port)
    c.send(get(b"/" + b"a" * (9 * 1024)))
    eq(c.response().status, 414, "target > 8 KiB")
    c = Conn(p.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
    r = c.response()
    eq(r.status, 413, "declared body > max, answered before the body is sent")
    check(b'"type":"invalid_request_error"' in r.body, "OpenAI error shape: %r" % r.body)
    check(c.closed_within(2), "closed")
    c = Conn(p.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"400\r\n" + b"x" * 1024 + b"\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n")
    eq(c.response().status, 413, "chunked body past max")
    p.stop()


@test
def timeouts():
    p = start("--header-timeout-ms", 300, "--keepalive-timeout-ms", 300,
              "--body-timeout-ms", 300)
    c = Conn(p.port)
    t0 = time.time()
    c.send(b"GET /health HTTP/1.1\r\nHost: t\r\n")
    r = c.response()
    eq(r.status, 408, "unfinished head")
    check(0.2 < time.time() - t0 < 2, "after the header timeout")
    check(c.closed_within(2), "closed after 408")
    c = Conn(p.port)
    c.send(get(b"/health"))
    eq(c.response().status, 200)
    t0 = time.time()
    check(c.closed_within(3), "idle keep-alive closed quietly")
    check(0.2 < time.time() - t0 < 2, "after the keep-alive timeout")
    c = Conn(p.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    eq(c.response().status, 408, "body idle")
    c = Conn(p.port)
    check(c.closed_within(3), "a silent new connection is closed")
    p.stop()


@test
def slow_reader_bounded():
    p = start("--send-timeout-ms", 1000, "--write-max", 1048576)
    base = rss_kb(p.p.pid)
    c = Conn(p.port)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send(get(b"/big?kb=200000"))  # 200 MB, never read
    time.sleep(0.5)
    grown = rss_kb(p.p.pid) - base
    # 200 MB unbounded; the bound is loose for ASan builds (shadow memory, quarantine)
    check(grown < 32 * 1024, "server memory bounded with a stalled reader: +%d KiB" % grown)
    check(wait_for(lambda: '"abort"' in out(p) and "ETIMEDOUT" in out(p), 4),
          "send timeout aborts the stalled request")
    c.close()
    # a handler ignoring back-pressure is cut at write_max
    c = Conn(p.port)
    c.send(get(b"/flood?kb=8192"))
    check(wait_for(lambda: out(p).count('"abort"') >= 2, 3), "write_max aborts")
    c.close()
    eq(p.stop(), 0)


@test
def client_disconnect_mid_stream():
    p = start()
    c = Conn(p.port)
    c.send(get(b"/stream?n=100000&ms=20"))
    c._line()
    time.sleep(0.1)
    c.close()
    t0 = time.time()
    check(wait_for(lambda: '"abort"' in out(p), 1.0), "abort logged within 1 s")
    check('"ECLOSED"' in out(p), "reason ECLOSED")
    check(time.time() - t0 < 1.0, "in time")
    eq(p.stop(), 0)


@test
def half_close_still_answered():
    p = start()
    c = Conn(p.port)
    c.send(get(b"/sleep?ms=200") + get(b"/health"))
    c.s.shutdown(socket.SHUT_WR)
    eq(c.response().status, 200)
    eq(c.response().body, b'{"status":"ok"}')
    check(c.closed_within(2), "closed after the answers")
    check('"abort"' not in out(p), "no abort for a half-close")
    p.stop()


@test
def eof_before_response_aborts_when_configured():
    p = start("--abort-on-eof", 1)
    c = Conn(p.port)
    c.send(get(b"/sleep?ms=5000"))
    time.sleep(0.1)
    c.close()
    check(wait_for(lambda: '"abort"' in out(p), 1.0), "abort within 1 s of the close")
    p.stop()


@test
def drain_finishes_or_aborts():
    p = start("--drain-timeout-ms", 800)
    idle = Conn(p.port)
    idle.send(get(b"/health"))
    idle.response()
    short = Conn(p.port)
    short.send(get(b"/stream?n=5&ms=50"))
    long = Conn(p.port)
    long.send(get(b"/stream?n=100000&ms=50"))
    long._line()
    waiting = Conn(p.port)
    waiting.send(get(b"/sleep?ms=10000"))  # no answer started when the drain times out
    time.sleep(0.05)
    t0 = time.time()
    p.signal(signal.SIGTERM)
    time.sleep(0.1)
    refused = False
    try:
        socket.create_connection(("127.0.0.1", p.port), timeout=1).close()
    except OSError:
        refused = True
    check(refused, "new connections refused at once")
    check(idle.closed_within(1), "idle keep-alive connection closed")
    r = short.response()
    check(r.body.endswith(b"data: [DONE]\n\n"), "in-flight request finished")
    check(short.closed_within(1), "closed after the in-flight answer")
    long.buf = b""
    rest = b""
    long.s.settimeout(3)
    while long._fill():
        pass
    rest = long.buf
    check(b"shutting down" in rest and rest.endswith(b"0\r\n\r\n"),
          "long stream ends with an error event at the drain timeout: %r" % rest[-120:])
    r = waiting.response()
    eq(r.status, 503, "a request with no answer yet gets 503 at the drain timeout")
    p.p.wait(5)
    eq(p.p.returncode, 0, "exit code")
    check(0.6 < time.time() - t0 < 3, "exits after the drain timeout")
    check("ESHUTDOWN" in out(p), "abort reason logged")


@test
def second_sigterm_exits_at_once():
    p = start("--drain-timeout-ms", 10000)
    c = Conn(p.port)
    c.send(get(b"/stream?n=100000&ms=50"))
    c._line()
    p.signal(signal.SIGTERM)
    time.sleep(0.2)
    check(p.p.poll() is None, "still draining")
    t0 = time.time()
    p.signal(signal.SIGTERM)
    p.p.wait(2)
    # < 1.5 s: TSan builds sleep 1 s at exit (atexit_sleep_ms)
    check(time.time() - t0 < 1.5, "second signal exits at once")


@test
def many_connections():
    p = start("--workers", 2)
    conns = [Conn(p.port) for _ in range(500)]
    for rnd in range(2):
        for c in conns:
            c.send(get(b"/health"))
        for c in conns:
            eq(c.response().status, 200)
    for c in conns:
        c.close()
    eq(p.stop(), 0)


@test
def connection_cap():
    p = start("--max-connections", 3)
    time.sleep(0.1)  # start()'s probe connection must be gone first
    conns = [Conn(p.port) for _ in range(3)]
    for c in conns:
        c.send(get(b"/health"))
        eq(c.response().status, 200)
    extra = Conn(p.port)
    check(extra.closed_within(1), "past the cap a new connection is closed at once")
    check(wait_for(lambda: "connection cap" in out(p), 1), "cap logged: %r" % out(p))
    conns[0].close()
    time.sleep(0.1)
    again = Conn(p.port)
    again.send(get(b"/health"))
    eq(again.response().status, 200, "room again after a close")
    p.stop()


@test
def pipelined_flood_while_busy():
    """A client pipelining far more than the server buffers (80 KiB) while a slow request is
    handled: the server stops reading, resumes, and answers everything in order."""
    p = start()
    c = Conn(p.port, timeout=10)
    n = 6000
    reqs = get(b"/sleep?ms=200") + get(b"/health") * n  # ~210 KB
    sender = threading.Thread(target=c.s.sendall, args=(reqs,))
    sender.start()
    eq(c.response().status, 200)
    for i in range(n):
        eq(c.response().body, b'{"status":"ok"}', "answer %d" % i)
    sender.join()
    c.close()
    p.stop()


@test
def port_in_use_fails_at_start():
    p = start()
    import subprocess
    r = subprocess.run([ECHO, "--listen", "127.0.0.1:%d" % p.port], capture_output=True,
                       timeout=5)
    eq(r.returncode, 1, "second server on a served port")
    check(b"in use" in r.stderr, "says why: %r" % r.stderr)
    p.stop()


@test
def ipv6_listener():
    if not socket.has_ipv6:
        return
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        return  # no IPv6 loopback here
    p = start(host="::1")
    c = Conn(p.port, host="::1")
    c.send(get(b"/health"))
    eq(c.response().status, 200)
    p.stop()


# ---- the HTTP corpus at socket level ----

def load_cases():
    cases = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".expect"):
            continue
        base = name[:-len(".expect")]
        exp = {}
        with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
            for line in f:
                if ": " in line:
                    k, v = line.rstrip("\n").split(": ", 1)
                    exp[k] = v
        with open(os.path.join(CORPUS, base + ".http"), "rb") as f:
            data = f.read()
        exp["tags"] = exp.get("tags", "").split(",")
        cases.append((base, data, exp))
    return cases


def half_close(exp):
    """eof/truncated cases finish only at EOF (README point 2); so do rejects that leave the
    status open: their trailing bytes are an unfinished next request."""
    return ("eof" in exp["tags"] or "truncated" in exp["tags"] or
            (exp["verdict"] == "reject" and "status" not in exp))


def run_case(port, data, exp, bytewise):
    """Returns None when the server did what the .expect says, else why not."""
    c = Conn(port, timeout=3)
    try:
        try:
            if bytewise:
                for i in range(len(data)):
                    c.send(data[i:i + 1])
            else:
                c.send(data)
            if half_close(exp):
                c.s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused and closed while we were still sending
        want = int(exp.get("requests", "0"))
        for i in range(want):
            try:
                r = c.response()
            except (EOFError, socket.timeout) as e:
                return "response %d of %d missing (%s)" % (i + 1, want, type(e).__name__)
            if r.h("x-echo-method") is None and r.status != 200:
                return "response %d of %d is a server error %d" % (i + 1, want, r.status)
        if exp["verdict"] == "reject":
            try:
                r = c.response()
                if r.h("x-echo-method") is not None:
                    return "an extra request was routed instead of a reject"
                if "status" in exp and str(r.status) != exp["status"]:
                    return "status %d, want %s" % (r.status, exp["status"])
                if r.h("connection") != "close":
                    return "error response without Connection: close"
            except EOFError:
                if "status" in exp:
                    return "closed without the %s response" % exp["status"]
            except socket.timeout:
                return "no error response and no close"
            if not c.closed_within(3):
                return "not closed after the reject"
        elif exp.get("close") == "yes" or half_close(exp):
            if not c.closed_within(3):
                return "not closed (close: yes)"
        else:
            try:
                c.send(get(b"/health"))
                r = c.response()
                if r.status != 200:
                    return "follow-up request got %d" % r.status
            except (EOFError, socket.timeout, OSError) as e:
                return "connection not usable after (close: no): %s" % type(e).__name__
        return None
    finally:
        c.close()


def corpus(bytewise):
    p = start("--workers", 1, "--log-level", "warn")
    failures = []
    n = 0
    for i, (base, data, exp) in enumerate(load_cases()):
        if bytewise and (len(data) > 4096 or (i % 5 != 0 and "pipelining" not in exp["tags"])):
            continue
        n += 1
        why = run_case(p.port, data, exp, bytewise)
        if why:
            failures.append("%s: %s" % (base, why))
    eq(p.stop(), 0, "echo_server exit")
    print("  corpus%s: %d cases, %d failed" % (" (bytewise)" if bytewise else "", n, len(failures)))
    for f in failures:
        print("  corpus%s %s" % (" (bytewise)" if bytewise else "", f))
    check(not failures, "%d of %d corpus cases failed: %s" %
          (len(failures), n, ", ".join(f.split(":")[0][:3] for f in failures)))


@test
def random_clients_survive():
    """Mutated corpus bytes, random splits, and clients that vanish at random moments, some in
    the middle of streams and pipelines: the server stays up and still answers."""
    import random
    rnd = random.Random(1234)
    p = start("--workers", 2, "--log-level", "error", "--header-timeout-ms", 500)
    cases = [d for _, d, _ in load_cases()]
    extra = [get(b"/stream?n=50&ms=1"), get(b"/sleep?ms=20") + get(b"/health"),
             get(b"/big?kb=300"), get(b"/flood?kb=2048"),
             b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"]
    t_end = time.time() + 3
    n = 0
    while time.time() < t_end:
        n += 1
        data = bytearray(rnd.choice(cases + extra * 20))
        for _ in range(rnd.randrange(3)):
            if data:
                data[rnd.randrange(len(data))] = rnd.randrange(256)
        try:
            c = Conn(p.port, timeout=0.5)
            pos = 0
            while pos < len(data):
                step = rnd.choice((1, 7, 64, len(data)))
                c.send(bytes(data[pos:pos + step]))
                pos += step
            if rnd.random() < 0.5:
                c.s.shutdown(socket.SHUT_WR)
            if rnd.random() < 0.5:
                try:
                    c.s.recv(rnd.choice((1, 100, 65536)))
                except socket.timeout:
                    pass
            if rnd.random() < 0.3:  # vanish with a reset
                c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            c.close()
        except OSError:
            pass
    print("  %d random clients" % n)
    check(p.p.poll() is None, "server alive after %d random clients" % n)
    c = Conn(p.port)
    c.send(get(b"/health"))
    eq(c.response().status, 200)
    eq(p.stop(), 0, "clean exit (ASan builds check leaks here)")


@test
def corpus_whole():
    corpus(False)


@test
def corpus_one_byte_at_a_time():
    corpus(True)


if __name__ == "__main__":
    run()
