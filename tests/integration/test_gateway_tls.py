"""test_gateway_tls.py - llmux to an https:// upstream: a TLS terminator (Python's ssl module,
a test CA made with the openssl command) in front of the mock provider. Checks verification
with --ca-file, refusal of an untrusted or misnamed certificate (502, never a silent
downgrade), and keep-alive over TLS."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

from harness import check, eq, free_port, http, run, start_llmux, start_mock, stream, test

_tmp = tempfile.mkdtemp(prefix="lx-tls-")
_handshakes = []


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=_tmp)


def make_pki():
    """ca.pem signs localhost.pem (SAN localhost, 127.0.0.1); other-ca.pem signs nothing."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lx test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other CA",
            "-keyout", "other.key", "-out", "other-ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
            "server.key", "-out", "server.csr")
    with open(os.path.join(_tmp, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
    # signed by the right CA, but for another name
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=wrong.example", "-keyout",
            "wrong.key", "-out", "wrong.csr")
    with open(os.path.join(_tmp, "wrong.cnf"), "w") as f:
        f.write("subjectAltName=DNS:wrong.example\n")
    openssl("x509", "-req", "-in", "wrong.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "wrong.cnf", "-out", "wrong.pem")


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def tls_terminator(target_port, cert="server"):
    """Listens with TLS on a free port and relays each connection to the mock."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(_tmp, cert + ".pem"), os.path.join(_tmp, cert + ".key"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    port = ls.getsockname()[1]

    def serve():
        while True:
            try:
                raw, _ = ls.accept()
            except OSError:
                return
            try:
                conn = ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            _handshakes.append(conn.server_hostname if hasattr(conn, "server_hostname") else None)
            up = socket.create_connection(("127.0.0.1", target_port))
            threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return port


_env = {}


def env():
    if not _env:
        make_pki()
        mock = start_mock()
        _env["tls_port"] = tls_terminator(mock.port)
        _env["wrong_port"] = tls_terminator(mock.port, "wrong")
        _env["mock"] = mock
    return _env


def llmux_to(host, ca, which="tls_port"):
    e = env()
    return start_llmux(["--upstream", "https://%s:%d/v1" % (host, e[which]), "--ca-file",
                        os.path.join(_tmp, ca), "--workers", "1"])


def chat(model, stream_=False):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream_:
        body["stream"] = True
    return body


@test
def verified_tls_upstream_relays_and_keeps_alive():
    lx = llmux_to("localhost", "ca.pem")
    before = len(_handshakes)
    for _ in range(3):
        status, h, body = http(lx.port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"))
        eq(status, 200, body)
        eq(json.loads(body)["object"], "chat.completion")
    status, h, evs = stream(lx.port, "/v1/chat/completions",
                            chat("mock:fixture=openai/chat_stream.sse", True))
    eq(status, 200)
    eq(evs[-1][1], b"[DONE]")
    check(len(_handshakes) - before == 1,
          "keep-alive over TLS: %d handshakes for 4 requests" % (len(_handshakes) - before))
    lx.stop()


@test
def untrusted_certificate_is_refused():
    lx = llmux_to("localhost", "other-ca.pem")
    status, h, body = http(lx.port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"))
    eq(status, 502, body)
    err = json.loads(body)["error"]
    eq(err["type"], "upstream_error")
    check("certificate" in err["message"] or "TLS" in err["message"], err["message"])
    lx.stop()


@test
def certificate_for_another_name_is_refused():
    lx = llmux_to("localhost", "ca.pem", "wrong_port")
    status, h, body = http(lx.port, "POST", "/v1/chat/completions", chat("gpt-4o-mini"))
    eq(status, 502, body)
    check("localhost" in json.loads(body)["error"]["message"])
    lx.stop()


@test
def unreadable_ca_file_is_refused_at_start():
    port = free_port()
    p = subprocess.run([os.path.join(os.environ.get("LX_BUILD", "build"), "llmux"), "serve",
                        "--listen", "127.0.0.1:%d" % port, "--upstream", "https://localhost:1/v1",
                        "--ca-file", "/nonexistent/ca.pem", "--workers", "1"],
                       capture_output=True, timeout=10)
    check(p.returncode != 0, "llmux started with a CA file it cannot read")
    check(b"/nonexistent/ca.pem" in p.stderr + p.stdout, "the error should name the CA file")


if __name__ == "__main__":
    try:
        run()
    finally:
        shutil.rmtree(_tmp, ignore_errors=True)
