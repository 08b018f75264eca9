"""run.py BUILD - the llmux benchmark rig (PERFORMANCE.md section 2, scaled to ~10 minutes).

Targets, measured in alternating rounds in one run: direct (loadgen -> mockllm), llmux
(loadgen -> llmux -> mockllm) and nginx (loadgen -> nginx -> mockllm), plus a TLS lane where
llmux and nginx reach the mock through an nginx TLS terminator. The proxy under test is pinned
to CPU0; mock, loadgen and the TLS terminator to CPU1. The proxy's CPU and memory come from
/proc/PID/stat and /proc/PID/status (its whole process tree) before and after each run.
Prints one table, saves bench/results/<date>-<commit>.json and (full runs only) rewrites the
marked section of bench/README.md. BENCH_QUICK=1: fewer, shorter rounds. BENCH_WORKERS=N: workers per proxy.
Every process started here is stopped at the end, also on errors."""
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
# Both proxies log every request to a file, as they would in production: nginx its default
# access_log line, llmux its JSON access line (the whole pipeline: auth, JSON, routing, log).
LLMUX_ARGS = os.environ.get("BENCH_LLMUX_ARGS", "").split()
MOCK = os.path.join(BUILD, "mockllm")
LOADGEN = os.path.join(BUILD, "bench", "loadgen")
LLMUX = os.environ.get("LLMUX", os.path.join(BUILD, "llmux"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY_CPU, RIG_CPU = "0", "1"
CLK = os.sysconf("SC_CLK_TCK")

ROUNDS = 2 if QUICK else 5
SECS = 1.5 if QUICK else 3.0          # per timed run
W2_STREAMS = 128 if QUICK else 256    # concurrent 200-token streams
W2A_STREAMS = 10 if QUICK else 20     # c=1 streams of 10 tokens (TTFT lane)
W4_SIZES = [1000] if QUICK else [1000, 5000]

procs = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- processes and /proc sampling -----------------------------------------------------------

def start(name, argv, cpu, stdout=subprocess.PIPE):
    p = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=stdout,
                         stderr=open(os.path.join(TMP, name + ".log"), "ab"),
                         start_new_session=True)
    p.name = name
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.time() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


def tree(pid):
    """pid and all its descendants (nginx master + workers; llmux worker processes)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_us(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])  # utime, stime
    return total * 1e6 / CLK


def status_kb(pids, key):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def busy_us():
    """CPU time used by everything on the machine (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) * 1e6 / CLK  # minus idle and iowait


def wait_port(port, proc=None, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (proc.name, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.001)
    raise RuntimeError("nothing listening on %d" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_post(port, path, body, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, len(body))).encode()
              + body)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


# --- the stack: mocks, TLS terminator, nginx, llmux ------------------------------------------

def start_mock(name, tokens, token_ms):
    p = start(name, [MOCK, "--listen", "127.0.0.1:0", "--tokens", str(tokens),
                     "--token-ms", str(token_ms)], RIG_CPU)
    line = p.stdout.readline()
    p.port = json.loads(line)["listening"]
    return p


def make_certs():
    ca_key, ca = os.path.join(TMP, "ca.key"), os.path.join(TMP, "ca.pem")
    key, csr, crt = (os.path.join(TMP, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(TMP, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca,
                    "-days", "2", "-subj", "/CN=llmux bench CA"], **q)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=localhost"], **q)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext], **q)
    return ca, crt, key


NGINX_COMMON = """
worker_rlimit_nofile 20000;
error_log {tmp}/{name}-error.log warn;
pid {tmp}/{name}.pid;
events {{ worker_connections 12000; }}
"""
NGINX_HTTP = """
    access_log {tmp}/{name}-access.log;
    client_body_temp_path {tmp}/{name}-body;
    proxy_temp_path {tmp}/{name}-proxy;
    fastcgi_temp_path {tmp}/{name}-fcgi;
    uwsgi_temp_path {tmp}/{name}-uwsgi;
    scgi_temp_path {tmp}/{name}-scgi;
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
"""
LOC = """proxy_pass {scheme}://{up}; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_buffering off; proxy_read_timeout 300s;"""


def start_nginx(name, workers, servers, upstreams, cpu):
    """servers: [(port, upstream name, scheme, extra)]; upstreams: {name: port}."""
    http = NGINX_HTTP.format(tmp=TMP, name=name)
    for up, port in upstreams.items():
        http += "    upstream %s { server 127.0.0.1:%d; keepalive 256; }\n" % (up, port)
    for port, up, scheme, extra in servers:
        http += ("    server { listen 127.0.0.1:%d%s; %s\n        location / { %s %s }\n    }\n"
                 % (port, " ssl" if scheme == "tls-in" else "",
                    extra if scheme == "tls-in" else "",
                    LOC.format(scheme="https" if scheme == "https" else "http", up=up),
                    extra if scheme == "https" else ""))
    conf = ("worker_processes %d;\n" % workers + NGINX_COMMON.format(tmp=TMP, name=name) +
            "http {\n" + http + "}\n")
    path = os.path.join(TMP, name + ".conf")
    with open(path, "w") as f:
        f.write(conf)
    t0 = time.time()
    p = start(name, [NGINX, "-p", TMP, "-c", path, "-g", "daemon off;"], cpu,
              stdout=subprocess.DEVNULL)
    p.t0 = t0
    return p


def start_llmux(name, upstream, extra=()):
    port = free_port()
    t0 = time.time()
    p = start(name, [LLMUX, "serve", "--listen", "127.0.0.1:%d" % port, "--upstream", upstream,
                     "--workers", str(WORKERS)] + LLMUX_ARGS + list(extra), PROXY_CPU,
              stdout=subprocess.DEVNULL)
    p.t0, p.port = t0, port
    return p


def start_llmux_translating(name, mock_port):
    """llmux with one Anthropic-protocol provider (the mock's /v1/messages) for every model:
    OpenAI clients in, Anthropic out, through the IR (issue 4's translated path)."""
    cfg = os.path.join(TMP, name + ".yaml")
    with open(cfg, "w") as f:
        f.write("providers:\n"
                "  - name: ant\n    type: anthropic\n"
                "    base_url: http://127.0.0.1:%d/v1\n    keys: [\"sk-bench\"]\n"
                "routes:\n  - match: \"*\"\n    provider: ant\n" % mock_port)
    port = free_port()
    t0 = time.time()
    p = start(name, [LLMUX, "serve", "--config", cfg, "--listen", "127.0.0.1:%d" % port,
                     "--workers", str(WORKERS)] + LLMUX_ARGS, PROXY_CPU,
              stdout=subprocess.DEVNULL)
    p.t0, p.port = t0, port
    return p


def startup_figures(p, port, body):
    """Idle RSS once listening, before the first request; time from exec to the first 200."""
    wait_port(port, p, timeout=10)
    rss = status_kb(tree(p.pid), "VmRSS")
    status = 0
    deadline = time.time() + 5
    while status != 200 and time.time() < deadline:
        try:
            status = http_post(port, "/v1/chat/completions", body)
        except OSError:
            time.sleep(0.001)
    return {"idle_rss_kb": rss, "start_to_first_200_ms": (time.time() - p.t0) * 1000.0,
            "first_status": status}


# --- one measured run -----------------------------------------------------------------------

def loadgen(port, args, proxy=None, mock=None):
    """Runs loadgen on CPU1; returns its JSON plus the proxy's and the rig's CPU deltas."""
    pids = tree(proxy.pid) if proxy is not None else []
    c0, r0 = cpu_us(pids), status_kb(pids, "VmRSS")
    m0 = cpu_us([mock.pid]) if mock is not None else 0
    b0 = busy_us()
    t0 = time.time()
    # a proxy that stops answering must not stall the whole run
    out = subprocess.run(["taskset", "-c", RIG_CPU, LOADGEN, "--url",
                          "http://127.0.0.1:%d/v1/chat/completions" % port] + args +
                         ["--timeout-s", "45"], capture_output=True, text=True, timeout=120)
    wall = time.time() - t0
    busy = busy_us() - b0
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError("loadgen failed: %s" % out.stderr[-500:])
    r = json.loads(out.stdout)
    r["wall_s"] = wall
    ours = r["cpu_s"] * 1e6
    if proxy is not None:
        d = cpu_us(pids) - c0
        ours += d
        r["proxy_cpu_us"] = d
        r["cpu_us_per_req"] = d / r["completed"] if r["completed"] else None
        if r.get("events"):
            r["cpu_us_per_event"] = d / r["events"]
        r["proxy_rss_kb"] = status_kb(pids, "VmRSS")
        r["proxy_rss_before_kb"] = r0
        r["proxy_hwm_kb"] = status_kb(pids, "VmHWM")
    if mock is not None:
        mock_frac = (cpu_us([mock.pid]) - m0) / 1e6 / wall
        ours += mock_frac * wall * 1e6
        r["mock_cpu_frac"] = mock_frac
        # mock and loadgen share CPU1: near a full core there, the rig is the bottleneck
        r["rig_bound"] = mock_frac + r["cpu_frac"] > 0.8
    # other work on the machine (builds, fuzzers) during the run, in CPUs
    r["foreign_cpus"] = max(0.0, (busy - ours) / 1e6 / wall)
    r["noisy"] = r["foreign_cpus"] > 0.25
    return r


def many_streams(port, n, proxy, body):
    """W4: n streams opened at 1000/s, each 1 token/s; RSS when all are open."""
    pids = tree(proxy.pid) if proxy is not None else []
    rss0 = status_kb(pids, "VmRSS")
    p = subprocess.Popen(["taskset", "-c", RIG_CPU, LOADGEN, "--url",
                          "http://127.0.0.1:%d/v1/chat/completions" % port, "--body", body,
                          "--sse", "-c", str(n), "--requests", str(n), "--ramp", "1000",
                          "--expect", "8", "--timeout-s", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    rss_open = None
    for line in p.stderr:
        if '"all_open"' in line:
            time.sleep(0.5)
            rss_open = status_kb(pids, "VmRSS")
            fds = sum(len(os.listdir("/proc/%d/fd" % q)) for q in pids if os.path.isdir(
                "/proc/%d/fd" % q))
            break
    out, _ = p.communicate(timeout=120)
    r = json.loads(out) if out.strip() else {}
    r["n"] = n
    r["rss_before_kb"] = rss0
    if rss_open is not None:
        r["rss_open_kb"] = rss_open
        r["proxy_fds_open"] = fds
        r["rss_per_stream_kib"] = (rss_open - rss0) / n if pids else None
    return r


# --- the plan ---------------------------------------------------------------------------------

def bodies():
    w1 = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Say hello in one short sentence, please. This is a small "
                                    "benchmark request of about two hundred bytes."}]})
    w2 = json.dumps({"model": "gpt-4o-mini", "stream": True,
                     "stream_options": {"include_usage": True},
                     "messages": [{"role": "user", "content": "Count to two hundred."}]})
    w3 = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": ("lorem ipsum dolor sit amet " * 4000)[:100 * 1024]}]})
    paths = {}
    for k, v in (("w1", w1), ("w2", w2), ("w3", w3)):
        paths[k] = os.path.join(TMP, k + ".json")
        with open(paths[k], "w") as f:
            f.write(v)
    return paths


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def env_info():
    def cmd(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": cmd("git", "rev-parse", "--short", "HEAD") or "nogit",
            "dirty": bool(cmd("git", "status", "--porcelain", "--untracked-files=no")),
            "nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": model,
            "build": os.path.basename(BUILD), "build_flags": cmd("make", "-s", "-n", "BUILD=" +
                                                                  os.path.basename(BUILD),
                                                                  "MODULES=core",
                                                                  os.path.join(
                                                                      os.path.basename(BUILD),
                                                                      "src/core/str.o"),
                                                                  "-B")[:600],
            "nginx": cmd(NGINX, "-v") or subprocess.run([NGINX, "-v"], capture_output=True,
                                                        text=True).stderr.strip(),
            "pinning": {"proxy": "CPU" + PROXY_CPU, "mock+loadgen+tls_origin": "CPU" + RIG_CPU},
            "workers": {"llmux": WORKERS, "nginx": WORKERS}, "llmux_args": LLMUX_ARGS,
            "llmux_binary": os.path.relpath(LLMUX, ROOT),
            "quick": QUICK, "rounds": ROUNDS,
            "fd_limit": os.sysconf("SC_OPEN_MAX")}


def main():
    global TMP
    for f in (MOCK, LOADGEN):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s is missing (make BUILD=%s)" % (f, os.path.basename(BUILD)))
    TMP = tempfile.mkdtemp(prefix="llmux-bench-")
    t_begin = time.time()
    res = {"env": env_info(), "startup": {}, "runs": {}, "w4": {}, "notes": []}
    have_llmux = os.access(LLMUX, os.X_OK)
    if not have_llmux:
        msg = "llmux lane skipped: %s does not exist yet" % LLMUX
        log("bench: " + msg)
        res["notes"].append(msg)
    try:
        run_all(res, have_llmux)
    finally:
        stop_all()
        shutil.rmtree(TMP, ignore_errors=True)
    res["elapsed_s"] = time.time() - t_begin
    report(res)


def run_all(res, have_llmux):
    b = bodies()
    mock = start_mock("mock", 200, 20)
    mock_ttft = start_mock("mock-ttft", 10, 20)
    mock_w4 = start_mock("mock-w4", 8, 1000)
    ca, crt, key = make_certs()
    tls_port = free_port()
    tls = start_nginx("tls-origin", 1, [(tls_port, "mock", "tls-in",
                                         "ssl_certificate %s; ssl_certificate_key %s;"
                                         % (crt, key))], {"mock": mock.port}, RIG_CPU)
    wait_port(tls_port, tls)
    ports = {k: free_port() for k in ("main", "ttft", "w4", "tls")}
    ngx = start_nginx("nginx", WORKERS, [
        (ports["main"], "mock", "http", ""), (ports["ttft"], "mock_ttft", "http", ""),
        (ports["w4"], "mock_w4", "http", ""),
        (ports["tls"], "tls_origin", "https",
         "proxy_ssl_trusted_certificate %s; proxy_ssl_verify on; proxy_ssl_name localhost;"
         " proxy_ssl_session_reuse on;" % ca)],
        {"mock": mock.port, "mock_ttft": mock_ttft.port, "mock_w4": mock_w4.port,
         "tls_origin": tls_port}, PROXY_CPU)
    res["startup"]["nginx"] = startup_figures(ngx, ports["main"], open(b["w1"], "rb").read())
    # the nginx figure that matters is the worker's; the master is reported beside it
    res["startup"]["nginx"]["processes"] = len(tree(ngx.pid))
    targets = {"direct": {"main": (mock.port, None), "ttft": (mock_ttft.port, None),
                          "w4": (mock_w4.port, None)},
               "nginx": {"main": (ports["main"], ngx), "ttft": (ports["ttft"], ngx),
                         "w4": (ports["w4"], ngx), "tls": (ports["tls"], ngx)}}
    if have_llmux:
        lx = {}
        try:
            lx["main"] = start_llmux("llmux", "http://127.0.0.1:%d" % mock.port)
            res["startup"]["llmux"] = startup_figures(lx["main"], lx["main"].port,
                                                      open(b["w1"], "rb").read())
            lx["ttft"] = start_llmux("llmux-ttft", "http://127.0.0.1:%d" % mock_ttft.port)
            lx["w4"] = start_llmux("llmux-w4", "http://127.0.0.1:%d" % mock_w4.port)
            lx["tls"] = start_llmux("llmux-tls", "https://127.0.0.1:%d" % tls_port,
                                    ["--ca-file", ca])
            lx["xlate"] = start_llmux_translating("llmux-xlate", mock.port)
            targets["llmux"] = {}
            for k, p in lx.items():
                try:
                    wait_port(p.port, p)
                    targets["llmux"][k] = (p.port, p)
                except RuntimeError as e:
                    res["notes"].append("llmux %s lane: %s" % (k, e))
                    log("bench: llmux %s lane skipped: %s" % (k, e))
        except RuntimeError as e:
            res["notes"].append("llmux lane failed to start: %s" % e)
            log("bench: llmux lane failed to start: %s (see its log)" % e)
            targets.pop("llmux", None)

    def job(name, lane, args, mock_p):
        order = list(targets)
        for rnd in range(ROUNDS):
            rot = order[rnd % len(order):] + order[:rnd % len(order)]
            for t in rot:
                if lane not in targets[t]:
                    continue
                port, proxy = targets[t][lane]
                try:
                    r = loadgen(port, args, proxy, mock_p)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                    r = {"error": str(e)[:300]}
                r["round"] = rnd
                res["runs"].setdefault(name, {}).setdefault(t, []).append(r)
                log("  %-9s %-6s round %d: %s" % (name, t, rnd, brief(r)))

    log("bench: %d rounds, %s s per timed run, targets %s" % (ROUNDS, SECS, list(targets)))
    job("w1_c1", "main", ["--body", b["w1"], "-c", "1", "--rate", "500", "-d", str(SECS),
                          "--warmup", "0.3"], mock)
    job("w1_c50", "main", ["--body", b["w1"], "-c", "50", "-d", str(SECS), "--warmup", "0.3"],
        mock)
    job("w3_c1", "main", ["--body", b["w3"], "-c", "1", "--rate", "100", "-d", str(SECS),
                          "--warmup", "0.2"], mock)
    job("w2_c1", "ttft", ["--body", b["w2"], "--sse", "-c", "1", "--requests",
                          str(W2A_STREAMS), "--expect", "10", "--stall-ms", "200"], mock_ttft)
    job("w2_conc", "main", ["--body", b["w2"], "--sse", "-c", str(W2_STREAMS), "--requests",
                            str(W2_STREAMS), "--ramp", "2000", "--expect", "200",
                            "--stall-ms", "200"], mock)
    saved = dict(targets)
    if "llmux" in targets and "xlate" in targets["llmux"]:
        # translated lane: the same W1 and W2 through the IR (OpenAI in, Anthropic out), set
        # against llmux's same-protocol figures of the same rounds
        targets.clear()
        targets["llmux"] = {"main": saved["llmux"]["main"]}
        targets["llmux-x"] = {"main": saved["llmux"]["xlate"]}
        job("x_w1_c50", "main", ["--body", b["w1"], "-c", "50", "-d", str(SECS), "--warmup",
                                 "0.3"], mock)
        job("x_w2_conc", "main", ["--body", b["w2"], "--sse", "-c", str(W2_STREAMS),
                                  "--requests", str(W2_STREAMS), "--ramp", "2000", "--expect",
                                  "200", "--stall-ms", "200"], mock)
        targets.clear()
        targets.update(saved)
    # TLS lane: proxies reach the mock through the TLS terminator
    tls_targets = {t: v for t, v in targets.items() if "tls" in v}
    targets.clear()
    targets.update(tls_targets)
    job("tls_w1_c1", "tls", ["--body", b["w1"], "-c", "1", "--rate", "500", "-d", str(SECS),
                             "--warmup", "0.3"], mock)
    job("tls_w1_c50", "tls", ["--body", b["w1"], "-c", "50", "-d", str(SECS), "--warmup",
                              "0.3"], mock)
    targets.clear()
    targets.update(saved)
    for n in W4_SIZES:
        for t in targets:
            if "w4" not in targets[t]:
                continue
            port, proxy = targets[t]["w4"]
            try:
                r = many_streams(port, n, proxy, b["w2"])
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                r = {"error": str(e)[:300]}
            res["w4"].setdefault(str(n), {})[t] = r
            log("  w4 %-5d %-6s: rss/stream %s KiB, intact %s/%s" % (
                n, t, fmt(r.get("rss_per_stream_kib")), r.get("intact"), r.get("streams")))


def brief(r):
    if "error" in r:
        return "ERROR " + r["error"][:120]
    s = "rps %.0f p50 %s p99 %s" % (r["rps"], r["latency_us"]["p50"], r["latency_us"]["p99"])
    if r.get("sse"):
        s += " ttft p50 %s gap p99 %s intact %s/%s" % (r["ttft_us"]["p50"], r["gap_us"]["p99"],
                                                       r["intact"], r["streams"])
    if r.get("cpu_us_per_req") is not None:
        s += " cpu/req %.1f" % r["cpu_us_per_req"]
    if r.get("cpu_us_per_event") is not None:
        s += " cpu/ev %.1f" % r["cpu_us_per_event"]
    if r.get("rig_bound"):
        s += " RIG-BOUND"
    if r.get("noisy"):
        s += " noisy(%.1f CPU busy elsewhere)" % r["foreign_cpus"]
    if r.get("errors"):
        s += " errors %d" % r["errors"]
    return s


def fmt(v, nd=0):
    if v is None:
        return "-"
    if isinstance(v, float) and nd:
        return ("%." + str(nd) + "f") % v
    return "%.0f" % v if isinstance(v, float) else str(v)


# --- the table ------------------------------------------------------------------------------

def per_round(res, job, t, f):
    return [f(r) if "error" not in r else None for r in res["runs"].get(job, {}).get(t, [])]


def med(res, job, t, f):
    return median(per_round(res, job, t, f))


def added(res, job, t, f):
    """Median over rounds of (target - direct) in the same round."""
    a = per_round(res, job, t, f)
    d = per_round(res, job, "direct", f)
    return median([x - y for x, y in zip(a, d) if x is not None and y is not None])


def fidelity(res, job, t):
    rs = [r for r in res["runs"].get(job, {}).get(t, []) if "error" not in r]
    streams = sum(r["streams"] for r in rs)
    return 100.0 * sum(r["intact"] for r in rs) / streams if streams else None


def table(res):
    T = ["direct", "llmux", "nginx"]
    rows = []

    def row(name, vals, target=None, check=None, nd=0):
        lx, ng = vals.get("llmux"), vals.get("nginx")
        ratio = lx / ng if lx is not None and ng not in (None, 0) else None
        ok = check(lx, ng) if check and lx is not None else None
        rows.append([name] + [fmt(vals.get(t), nd) for t in T] +
                    [fmt(ratio, 2), target or "", {True: "yes", False: "NO", None: ""}[ok]])

    def lat(job, key, pct):
        return lambda r: r[key][pct]

    v = {t: med(res, "w1_c1", t, lat("w1_c1", "latency_us", "p50")) for t in T}
    row("W1 p50 c=1 open-loop 500/s (us)", v)
    v = {t: added(res, "w1_c1", t, lat("w1_c1", "latency_us", "p50")) for t in T[1:]}
    row("W1 added p50 c=1 (us)", v, "<= 100 us", lambda a, b: a <= 100)
    v = {t: added(res, "w1_c1", t, lat("w1_c1", "latency_us", "p99")) for t in T[1:]}
    row("W1 added p99 c=1 (us)", v)
    v = {t: med(res, "w1_c50", t, lambda r: r["rps"]) for t in T}
    row("W1 req/s c=50 closed-loop", v, ">= 0.8x nginx", lambda a, b: b and a >= 0.8 * b)
    v = {t: med(res, "w1_c50", t, lambda r: r.get("cpu_us_per_req")) for t in T[1:]}
    row("W1 CPU us/req c=50", v, "<= 1.5x nginx", lambda a, b: b and a <= 1.5 * b, 1)
    v = {t: med(res, "w1_c1", t, lambda r: r.get("cpu_us_per_req")) for t in T[1:]}
    row("W1 CPU us/req c=1 (500/s)", v, "", None, 1)
    v = {t: added(res, "w3_c1", t, lat("w3_c1", "latency_us", "p50")) for t in T[1:]}
    row("W3 100 KB prompt added p50 (us)", v, "<= 300 us", lambda a, b: a <= 300)
    v = {t: med(res, "w3_c1", t, lambda r: r.get("cpu_us_per_req")) for t in T[1:]}
    row("W3 CPU us/req (100 KB)", v, "", None, 1)
    v = {t: med(res, "w2_c1", t, lat("w2_c1", "ttft_us", "p50")) for t in T}
    row("W2 TTFT p50 c=1 (us)", v)
    v = {t: added(res, "w2_c1", t, lat("w2_c1", "ttft_us", "p99")) for t in T[1:]}
    row("W2 added TTFT p99 c=1 (us)", v, "<= 300 us", lambda a, b: a <= 300)
    v = {t: added(res, "w2_c1", t, lat("w2_c1", "gap_us", "p50")) for t in T[1:]}
    row("W2 added gap p50 c=1 (us)", v)
    v = {t: added(res, "w2_c1", t, lat("w2_c1", "gap_us", "p99")) for t in T[1:]}
    row("W2 added gap p99 c=1 (us)", v)
    n = W2_STREAMS
    v = {t: fidelity(res, "w2_conc", t) for t in T}
    row("W2 fidelity %d streams (%% intact, in order)" % n, v, "100 %",
        lambda a, b: a >= 100.0, 1)
    v = {t: med(res, "w2_conc", t, lambda r: r.get("cpu_us_per_event")) for t in T[1:]}
    row("W2 CPU us/SSE event (%d streams)" % n, v, "<= 1.0x nginx",
        lambda a, b: b and a <= 1.0 * b, 1)
    v = {t: med(res, "w2_conc", t, lat("w2_conc", "gap_us", "p99")) for t in T}
    row("W2 gap p99 %d streams (us, D=20 ms)" % n, v)
    v = {t: med(res, "tls_w1_c1", t, lat("tls_w1_c1", "latency_us", "p50")) for t in T[1:]}
    row("TLS W1 p50 c=1 (us, via TLS origin)", v)
    v = {t: med(res, "tls_w1_c50", t, lambda r: r["rps"]) for t in T[1:]}
    row("TLS W1 req/s c=50", v, ">= 0.8x nginx", lambda a, b: b and a >= 0.8 * b)
    v = {t: med(res, "tls_w1_c50", t, lambda r: r.get("cpu_us_per_req")) for t in T[1:]}
    row("TLS W1 CPU us/req c=50", v, "<= 1.5x nginx", lambda a, b: b and a <= 1.5 * b, 1)
    for n in sorted(res["w4"], key=int):
        v = {t: res["w4"][n].get(t, {}).get("rss_per_stream_kib") for t in T[1:]}
        row("W4 RSS per open stream, %s streams (KiB)" % n, v, "<= 16 KiB",
            lambda a, b: a <= 16, 1)
        v = {t: (100.0 * r["intact"] / r["streams"] if r.get("streams") else None)
             for t, r in res["w4"][n].items()}
        row("W4 %s streams intact (%%)" % n, v, "100 %", lambda a, b: a >= 100.0, 1)
    st = res["startup"]
    v = {t: st[t]["idle_rss_kb"] / 1024.0 for t in st}
    row("idle RSS before 1st request (MB)", v, "<= 10 MB", lambda a, b: a <= 10, 1)
    v = {t: st[t]["start_to_first_200_ms"] for t in st}
    row("start to first 200 (ms)", v, "<= 50 ms", lambda a, b: a <= 50, 1)
    v = {}
    for t in T:
        rs = [r for j in res["runs"].values() for r in j.get(t, [])]
        rs += [w.get(t) for w in res["w4"].values() if w.get(t)]
        if rs:
            v[t] = sum(r.get("errors", 0) + r.get("non2xx", 0) + (1 if "error" in r else 0)
                       for r in rs)
    row("failed requests (errors, timeouts, non-2xx), all runs", v, "0", lambda a, b: a == 0)
    rig = sum(1 for j in res["runs"].values() for rs in j.values() for r in rs
              if r.get("rig_bound"))
    total = sum(len(rs) for j in res["runs"].values() for rs in j.values())
    noisy = sum(1 for j in res["runs"].values() for rs in j.values() for r in rs
                if r.get("noisy"))
    xrows = []
    for job, key, what in (("x_w1_c50", "cpu_us_per_req", "W1 CPU us/req c=50"),
                           ("x_w2_conc", "cpu_us_per_event", "W2 CPU us/SSE event")):
        same = med(res, job, "llmux", lambda r: r.get(key))
        xl = med(res, job, "llmux-x", lambda r: r.get(key))
        ratio = xl / same if xl is not None and same else None
        xrows.append([what, fmt(same, 1), fmt(xl, 1), fmt(ratio, 2), "<= 1.5x",
                      {True: "yes", False: "NO", None: ""}[ratio <= 1.5 if ratio else None]])
    xfail = sum(r.get("errors", 0) + r.get("non2xx", 0) + (1 if "error" in r else 0)
                for j in ("x_w1_c50", "x_w2_conc")
                for r in res["runs"].get(j, {}).get("llmux-x", []))
    head = ["metric", "direct", "llmux", "nginx", "llmux/nginx", "target", "met"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    if any(c != "-" for r in xrows for c in r[1:3]):
        out.append("")
        xh = ["translated path (OpenAI in, Anthropic out)", "llmux same protocol",
              "llmux translated", "translated/same", "target", "met"]
        out.append("| " + " | ".join(xh) + " |")
        out.append("|" + "---|" * len(xh))
        out += ["| " + " | ".join(r) + " |" for r in xrows]
        out.append("| failed requests, translated runs | | %d | | 0 | %s |"
                   % (xfail, "yes" if xfail == 0 else "NO"))
    env = res["env"]
    out.append("")
    out.append("%s, commit %s%s, %s, %d CPUs, kernel %s; proxy on CPU%s, mock+loadgen on CPU%s; "
               "workers llmux %d / nginx %d; %d rounds%s; rig-bound runs: %d of %d; noisy runs (other "
               "work used > 0.25 CPU): %d of %d."
               % (env["date"], env["commit"], " (dirty)" if env["dirty"] else "",
                  env["cpu_model"], env["nproc"], env["kernel"], PROXY_CPU, RIG_CPU,
                  WORKERS, WORKERS, ROUNDS, " (BENCH_QUICK)" if QUICK else "", rig, total,
                  noisy, total))
    out.append("llmux: `%s %s`." % (env.get("llmux_binary", "?"),
                                     " ".join(env.get("llmux_args", []))))
    for n in res["notes"]:
        out.append("Note: " + n)
    return "\n".join(out)


def report(res):
    text = table(res)
    print(text)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    env = res["env"]
    name = "%s-%s%s.json" % (time.strftime("%Y%m%d-%H%M%S", time.gmtime()), env["commit"],
                             "-quick" if QUICK else "")
    res["table"] = text
    path = os.path.join(ROOT, "bench", "results", name)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    log("bench: results in %s (%.0f s)" % (os.path.relpath(path, ROOT), res["elapsed_s"]))
    readme = os.path.join(ROOT, "bench", "README.md")
    if QUICK:
        log("bench: quick run, bench/README.md left as it is")
        return
    try:
        with open(readme) as f:
            doc = f.read()
        a, b = "<!-- bench:begin -->", "<!-- bench:end -->"
        if a in doc and b in doc:
            doc = (doc[:doc.index(a) + len(a)] + "\n" + text + "\n\nRaw: `bench/results/" +
                   name + "`\n" + doc[doc.index(b):])
            with open(readme, "w") as f:
                f.write(doc)
    except OSError:
        pass


if __name__ == "__main__":
    TMP = None
    main()
