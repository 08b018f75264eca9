"""test_gateway_vertex.py - a Vertex provider whose key is a service-account key file: llmux
signs a JWT (RS256) with the file's private key, exchanges it at the file's token_uri (a small
token endpoint here, on loopback, standing in for Google's), caches the access token and sends
it as the Bearer of Vertex requests (the mock, which echoes what it got). Checks the JWT's
shape and claims, that one exchange serves many requests, that the key file's project fills
the URL, and that a refused exchange is an authentication error that never shows the key."""
import base64
import http.server as httpserver
import json
import os
import subprocess
import tempfile
import threading
import urllib.parse

from harness import check, eq, http, run, start_llmux, start_mock, test

MASTER = "mk-vertex-%d" % os.getpid()
_env = {}


class TokenHandler(httpserver.BaseHTTPRequestHandler):
    grants = []
    refuse = False

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        TokenHandler.grants.append((self.headers.get("Content-Type"), form))
        if TokenHandler.refuse:
            body = json.dumps({"error": "invalid_grant",
                               "error_description": "Invalid JWT Signature."}).encode()
            self.send_response(400)
        else:
            body = json.dumps({"access_token": "ya29.test-token-%d" % len(TokenHandler.grants),
                               "expires_in": 3599, "token_type": "Bearer"}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def key_file(token_port):
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                          "rsa_keygen_bits:2048"], check=True, capture_output=True).stdout
    return json.dumps({"type": "service_account", "project_id": "proj-from-keyfile",
                       "private_key_id": "kid123", "private_key": pem.decode(),
                       "client_email": "llmux@proj-from-keyfile.iam.gserviceaccount.com",
                       "token_uri": "http://127.0.0.1:%d/token" % token_port})


def env():
    if "lx" in _env and _env["lx"].p.poll() is None:
        return _env["lx"].port
    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _env["srv"] = srv
    _env["mock"] = start_mock()
    _env["keyfile"] = key_file(srv.server_address[1])
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    # no project: in the configuration: the key file's project_id goes into the URL
    f.write("master_key: \"${M}\"\n"
            "providers:\n"
            "  - name: vtx\n    type: vertex\n    region: us-central1\n"
            "    base_url: http://127.0.0.1:%d\n    keys: [\"${SA}\"]\n" % _env["mock"].port)
    f.close()
    _env["lx"] = start_llmux(["--config", f.name, "--workers", "1"],
                             env={"M": MASTER, "SA": _env["keyfile"]})
    return _env["lx"].port


def hexmodel(items):
    return "mockx-" + items.encode().hex()


@test
def token_exchanged_once_and_sent():
    port = env()
    TokenHandler.grants.clear()
    for i in range(3):
        status, h, body = http(port, "POST", "/v1/chat/completions",
                               {"model": "vtx/gemini-2.0-flash",
                                "messages": [{"role": "user", "content": "hi %d" % i}]},
                               headers={"Authorization": "Bearer " + MASTER})
        eq(status, 200, body)
        doc = json.loads(body)
        eq(doc["object"], "chat.completion")
    eq(len(TokenHandler.grants), 1, "one exchange must serve every request until expiry")
    ctype, form = TokenHandler.grants[0]
    eq(ctype, "application/x-www-form-urlencoded")
    eq(form["grant_type"], ["urn:ietf:params:oauth:grant-type:jwt-bearer"])
    parts = form["assertion"][0].split(".")
    eq(len(parts), 3)
    head, claims = b64url_json(parts[0]), b64url_json(parts[1])
    eq(head["alg"], "RS256")
    eq(head.get("kid"), "kid123")
    eq(claims["iss"], "llmux@proj-from-keyfile.iam.gserviceaccount.com")
    eq(claims["aud"], "http://127.0.0.1:%d/token" % _env["srv"].server_address[1])
    eq(claims["exp"] - claims["iat"], 3600)
    check("cloud-platform" in claims["scope"], claims)


@test
def bearer_and_project_reach_vertex():
    port = env()
    status, h, body = http(port, "POST", "/v1/chat/completions",
                           {"model": "vtx/" + hexmodel("echo"),
                            "messages": [{"role": "user", "content": "hi"}]},
                           headers={"Authorization": "Bearer " + MASTER})
    # the echo is not a Gemini answer: llmux says so (502), but the mock saw the request
    check(status in (200, 502), body)
    status, h, stats = http(_env["mock"].port, "GET", "/mock/stats")
    paths = json.loads(stats)["by_path"]
    check(any("/projects/proj-from-keyfile/locations/us-central1/publishers/google/models/"
              in p for p in paths), paths)


@test
def refused_exchange_is_an_auth_error_without_the_key():
    port = env()
    # a fresh llmux: no cached token
    _env["lx"].stop()
    TokenHandler.refuse = True
    try:
        port = env()
        status, h, body = http(port, "POST", "/v1/chat/completions",
                               {"model": "vtx/gemini-2.0-flash",
                                "messages": [{"role": "user", "content": "hi"}]},
                               headers={"Authorization": "Bearer " + MASTER})
        eq(status, 401, body)
        check(b"PRIVATE KEY" not in body and b"invalid_grant" in body, body)
    finally:
        TokenHandler.refuse = False


if __name__ == "__main__":
    run()
