"""test_gateway_images.py - image URLs fetched by the gateway and inlined as base64 for providers
that cannot fetch them (gateway/fetch.c, the `image_fetch:` configuration).

A tiny HTTP server on loopback (this file) plays the image origin: a real PNG made here, an
HTML page, a file larger than the limit (with and without Content-Length), a 404, a 500, a
redirect, a slow answer and one that never comes; it also plays an Ollama provider (POST
/api/chat), recording the body the gateway sends upstream so the test can check it carries
the PNG's base64.

Two layers:
  - tests/bin/fetch_probe drives the fetch API alone (policy table, transfers, errors, cancel);
  - the gateway: an OpenAI client sends image_url http://127.0.0.1:PORT/cat.png to the Ollama
    provider (no LX_CAP_IMAGE_URL); refusals come back as 400 with the host named, never the
    URL's query.
"""
import base64
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import BUILD, check, eq, free_port, http, run, start_llmux, test

MAX_BYTES = 4096


def make_png(w=2, h=2):
    """A minimal valid PNG: signature, IHDR, one IDAT (zlib), IEND, with real CRCs."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + bytes([255, 0, 0, 255]) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = make_png()
PNG_B64 = base64.b64encode(PNG).decode()
BIG = b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_BYTES * 4)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00" \
      b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []          # (path, headers dict) of every image request
    upstream = []      # bodies POSTed to /api/chat (the Ollama provider)

    def log_message(self, *a):
        pass

    def send(self, status, ctype, body, extra=()):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        Origin.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if path == "/cat.png":
            self.send(200, "image/png", PNG)
        elif path == "/dog.gif":
            self.send(200, "image/gif", GIF)
        elif path == "/liar.jpg":
            self.send(200, "image/jpeg; charset=binary", PNG)
        elif path == "/page.html":
            self.send(200, "text/html; charset=utf-8", b"<html><body>not an image</body></html>")
        elif path == "/fake.png":
            self.send(200, "image/png", b"this is not a png at all")
        elif path == "/big.png":
            self.send(200, "image/png", BIG)
        elif path == "/big-chunked.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(0, len(BIG), 1000):
                    part = BIG[i:i + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the gateway stops reading past the limit
        elif path == "/missing.png":
            self.send(404, "text/plain", b"no such image")
        elif path == "/broken.png":
            self.send(500, "text/plain", b"oops")
        elif path == "/redirect.png":
            self.send(302, "text/plain", b"", extra=(("Location", "/cat.png"),))
        elif path == "/slow.png":
            time.sleep(2.0)
            self.send(200, "image/png", PNG)
        elif path == "/hang.png":
            time.sleep(5.0)
        else:
            self.send(404, "text/plain", b"?")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path.startswith("/api/chat"):
            Origin.upstream.append(json.loads(body))
            self.send(200, "application/json", json.dumps({
                "model": "llava", "created_at": "2024-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": "a red square"},
                "done_reason": "stop", "done": True,
                "prompt_eval_count": 10, "eval_count": 3}).encode())
        else:
            self.send(404, "text/plain", b"?")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the gateway hangs up on refused answers: expected


_origin = {}


def origin_port():
    if "port" not in _origin:
        srv = QuietServer(("127.0.0.1", 0), Origin)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _origin["srv"] = srv
        _origin["port"] = srv.server_address[1]
    return _origin["port"]


def write_config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(text)
    f.close()
    return f.name


def fetch_yaml(enabled=True, hosts='["127.0.0.1"]', private=True, timeout_ms=1000,
               max_images=16):
    return ("image_fetch:\n  enabled: %s\n  allow_hosts: %s\n  allow_private: %s\n"
            "  max_bytes: %d\n  timeout_ms: %d\n  max_images: %d\n" %
            ("true" if enabled else "false", hosts, "true" if private else "false", MAX_BYTES,
             timeout_ms, max_images))


def probe(mode, yaml_text, *urls, timeout=20):
    exe = os.path.join(BUILD, "tests", "bin", "fetch_probe")
    p = subprocess.run([exe, mode, write_config(yaml_text)] + list(urls), capture_output=True,
                       timeout=timeout)
    out = p.stdout.decode()
    err = p.stderr.decode()
    check(p.returncode == 0, "fetch_probe exited %d: %s" % (p.returncode, err[-2000:]))
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "BUG:"):
        check(mark not in out + err, "%s in fetch_probe output:\n%s%s" % (mark, out, err[-3000:]))
    return out.splitlines()


def url(path):
    return "http://127.0.0.1:%d%s" % (origin_port(), path)


# ---- the policy ---------------------------------------------------------------------------

@test
def policy_table():
    cfg = ("image_fetch:\n  enabled: true\n  allow_hosts: [\"upload.wikimedia.org\", "
           "\"*.example-cdn.com\", \"127.0.0.1\", \"localhost\", \"10.1.2.3\", \"::1\"]\n")
    cases = [
        ("https://upload.wikimedia.org/a.png", "fetch upload.wikimedia.org"),
        ("https://img.example-cdn.com/a.png?sig=SEKRET", "fetch img.example-cdn.com"),
        ("https://example-cdn.com/a.png", "refuse 400"),         # *.suffix: subdomains only
        ("https://evil.com/a.png", "refuse 400"),
        ("https://upload.wikimedia.org.evil.com/a.png", "refuse 400"),
        ("http://127.0.0.1/a.png", "refuse 400"),                # listed, but private
        ("http://localhost/a.png", "refuse 400"),
        ("http://10.1.2.3/a.png", "refuse 400"),
        ("http://[::1]/a.png", "refuse 400"),
        ("http://169.254.169.254/latest/meta-data", "refuse 400"),
        ("data:image/png;base64,AAAA", "skip"),
        ("gs://bucket/a.png", "skip"),
        ("https://generativelanguage.googleapis.com/v1beta/files/abc", "skip"),
        ("HTTPS://upload.wikimedia.org/a.png", "refuse 400"),
        ("https://user:pw@upload.wikimedia.org/a.png", "refuse 400"),
        ("https://upload.wikimedia.org/a.png#frag", "refuse 400"),
    ]
    out = probe("check", cfg, *[c[0] for c in cases])
    eq(len(out), len(cases), "one line per URL")
    for (u, want), got in zip(cases, out):
        check(got.startswith(want), "%s: %r, wanted %r" % (u, got, want))
        check("SEKRET" not in got, "a query reached a message")


@test
def policy_private_addresses_in_every_spelling():
    cfg = "image_fetch:\n  enabled: true\n  allow_hosts: [\"*\"]\n"
    bad = ["http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f.0.0.1/",
           "http://0177.0.0.1/", "http://0.0.0.0/", "http://10.0.0.1/", "http://172.16.5.4/",
           "http://192.168.1.1/", "http://100.64.0.1/", "http://169.254.169.254/",
           "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/",
           "http://[fe80::1]/", "http://[fd00::1]/", "http://[64:ff9b::a00:1]/",
           "http://[2002:7f00:1::]/", "http://localhost/", "http://LocalHost./",
           "http://a.localhost/", "http://metadata.google.internal/", "http://printer.local/",
           "http://metadata/", "http://1.2.3.999/", "http://224.0.0.1/"]
    good = ["http://8.8.8.8/", "http://[2606:4700::1111]/", "https://example.com/x.png"]
    out = probe("check", cfg, *(bad + good))
    for u, got in zip(bad, out[:len(bad)]):
        check(got.startswith("refuse 400"), "%s was not refused: %r" % (u, got))
    for u, got in zip(good, out[len(bad):]):
        check(got.startswith("fetch "), "%s was refused: %r" % (u, got))


# ---- the transfers ------------------------------------------------------------------------

@test
def fetch_png_fills_every_part():
    Origin.seen.clear()
    out = probe("fetch", fetch_yaml(), url("/cat.png?token=abc"), url("/dog.gif"))
    eq(out[0], "rc EAGAIN")
    eq(out[1], "done ok")
    parts = [ln.split(" ") for ln in out[2:]]
    # parts: cat, dog, cat again (same URL), and the tool result's cat
    eq([p[2] for p in parts], ["image/png", "image/gif", "image/png", "image/png"])
    eq(parts[0][3], PNG_B64)
    eq(parts[1][3], base64.b64encode(GIF).decode())
    eq(parts[2][3], PNG_B64)
    eq(parts[3][3], PNG_B64)
    cats = [s for s in Origin.seen if s[0].startswith("/cat.png")]
    eq(len(cats), 1, "one transfer per distinct URL")
    hdrs = cats[0][1]
    check("image/png" in hdrs.get("accept", ""), hdrs)
    check("authorization" not in hdrs and "cookie" not in hdrs, "a credential was sent")


@test
def fetch_type_from_the_bytes():
    out = probe("fetch", fetch_yaml(), url("/liar.jpg"))
    eq(out[1], "done ok")
    eq(out[2].split(" ")[2], "image/png", "the bytes are a PNG whatever the header says")


@test
def fetch_errors():
    cases = [
        ("/page.html", "done error 400", "Content-Type"),
        ("/fake.png", "done error 400", "not a PNG"),
        ("/big.png", "done error 400", "limit of %d bytes" % MAX_BYTES),
        ("/big-chunked.png", "done error 400", "limit of %d bytes" % MAX_BYTES),
        ("/missing.png?token=SEKRET", "done error 400", "answered 404"),
        ("/broken.png", "done error 502", "answered 500"),
        ("/redirect.png", "done error 400", "redirects are not followed"),
        ("/slow.png", "done error 502", "timed out"),
    ]
    for path, want, words in cases:
        out = probe("fetch", fetch_yaml(timeout_ms=500), url(path))
        eq(out[0], "rc EAGAIN", path)
        check(out[1].startswith(want), "%s: %r, wanted %r" % (path, out[1], want))
        check(words in out[1], "%s: %r lacks %r" % (path, out[1], words))
        check("127.0.0.1" in out[1], "the host is named")
        check("SEKRET" not in out[1] and "/missing" not in out[1], "the URL's path or query "
              "reached the message: %r" % out[1])


@test
def fetch_unreachable_is_502():
    out = probe("fetch", fetch_yaml(), "http://127.0.0.1:%d/x.png" % free_port())
    check(out[1].startswith("done error 502"), out)


@test
def fetch_refused_before_any_connection():
    Origin.seen.clear()
    out = probe("fetch", fetch_yaml(hosts='["img.example.com"]'), url("/cat.png"))
    check(out[0].startswith("rc EINVAL 400"), out)
    check("not in the gateway's image_fetch.allow_hosts" in out[0], out)
    out = probe("fetch", fetch_yaml(private=False), url("/cat.png"))
    check(out[0].startswith("rc EINVAL 400") and "private" in out[0], out)
    out = probe("fetch", fetch_yaml(max_images=1), url("/cat.png"), url("/dog.gif"))
    check(out[0].startswith("rc EINVAL 400") and "more than 1 image" in out[0], out)
    eq(Origin.seen, [], "nothing was fetched")
    out = probe("fetch", fetch_yaml(enabled=False), url("/cat.png"))
    eq(out[0], "rc OK", "disabled: left to the adapter")
    eq(out[1].split(" ")[3], "-", "disabled: no data filled")


@test
def fetch_cancel_frees_everything():
    out = probe("cancel", fetch_yaml(timeout_ms=10000), url("/hang.png"), url("/slow.png"),
                url("/cat.png"), url("/dog.gif"), url("/liar.jpg"))
    eq(out[:2], ["rc EAGAIN", "canceled"])
    check(not any(ln.startswith("done") for ln in out), out)
    t0 = time.time()
    out = probe("cancel-late", fetch_yaml(timeout_ms=10000), url("/hang.png"), url("/slow.png"),
                url("/cat.png"), url("/dog.gif"), url("/liar.jpg"), url("/hang.png?2"))
    eq(out[:2], ["rc EAGAIN", "canceled"])
    check(not any(ln.startswith("done") for ln in out), out)
    check(time.time() - t0 < 4, "the cancel did not stop the transfers")


@test
def fetch_first_error_stops_the_others():
    t0 = time.time()
    out = probe("fetch", fetch_yaml(timeout_ms=10000), url("/hang.png"), url("/page.html"))
    check(out[1].startswith("done error 400"), out)
    check(time.time() - t0 < 4, "done waited for the hanging transfer")


# ---- through the gateway ------------------------------------------------------------------

_gw = {}


def gateway(key, fetch):
    if key not in _gw or _gw[key].p.poll() is not None:
        cfg = (fetch + "providers:\n  - name: oll\n    type: ollama\n"
               "    base_url: http://127.0.0.1:%d\n" % origin_port())
        _gw[key] = start_llmux(["--config", write_config(cfg), "--workers", "1"])
    return _gw[key].port


def image_chat(image_url):
    return {"model": "oll/llava", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": image_url}}]}]}


@test
def gateway_inlines_the_png_for_ollama():
    port = gateway("on", fetch_yaml())
    Origin.upstream.clear()
    status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(url("/cat.png")))
    eq(status, 200, body)
    eq(json.loads(body)["choices"][0]["message"]["content"], "a red square")
    eq(len(Origin.upstream), 1)
    msgs = Origin.upstream[0]["messages"]
    user = [m for m in msgs if m.get("role") == "user"][0]
    eq(user.get("images"), [PNG_B64], "the upstream body carries the PNG's base64")


@test
def gateway_refusals_are_400():
    port = gateway("on", fetch_yaml())
    cases = [
        (url("/page.html"), "Content-Type"),
        (url("/big.png"), "limit"),
        (url("/missing.png?token=SEKRET"), "404"),
    ]
    for u, words in cases:
        Origin.upstream.clear()
        status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(u))
        eq(status, 400, "%s: %s" % (u, body))
        msg = json.loads(body)["error"]["message"]
        check(words in msg, "%s: %r lacks %r" % (u, msg, words))
        check("SEKRET" not in msg, "the URL's query reached the client's message")
        eq(Origin.upstream, [], "nothing went to the provider")
    port = gateway("strict", fetch_yaml(hosts='["img.example.com"]'))
    status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(url("/cat.png")))
    eq(status, 400, body)
    check(b"allow_hosts" in body, body)
    port = gateway("noprivate", fetch_yaml(private=False))
    status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(url("/cat.png")))
    eq(status, 400, body)
    check(b"private" in body, body)


@test
def gateway_client_gone_while_fetching():
    port = gateway("on", fetch_yaml(timeout_ms=10000))
    body = json.dumps(image_chat(url("/hang.png?abort"))).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    time.sleep(0.3)  # the fetch is running
    s.close()
    time.sleep(0.2)
    Origin.upstream.clear()
    status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(url("/cat.png")))
    eq(status, 200, body)
    eq(Origin.upstream[0]["messages"][0].get("images"), [PNG_B64])


@test
def gateway_disabled_is_a_clear_400():
    port = gateway("off", "")
    Origin.upstream.clear()
    status, h, body = http(port, "POST", "/v1/chat/completions", image_chat(url("/cat.png")))
    eq(status, 400, body)
    check(b"image" in body.lower(), body)
    eq(Origin.upstream, [], "nothing went to the provider")


if __name__ == "__main__":
    run()
