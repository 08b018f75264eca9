/* upstream_bench.c - CPU cost of upstream/ per request: N sequential keep-alive requests against
 * nginx-light serving a fixed 600-byte body on a loopback port, measured with getrusage around
 * the loop (this process only; nginx's CPU is not counted). Starts nginx itself with a temp
 * config (nginx -c conf -p dir), stops it and removes the dir at the end.
 *
 *     build-x/tests/bin/upstream_bench [N=10000] [body_bytes=0]
 *
 * body_bytes > 0 sends a POST with that many bytes (2048 gives DESIGN.md's 2 KB POST). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "core/err.h"
#include "core/time.h"
#include "upstream/upstream.h"

static long n_total, n_done, n_failed;
static size_t bytes;
static struct lx_upstream_ctx *ctx;
static struct lx_upstream_req req;
static struct lx_upstream_cbs cbs;

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    if (status != 200)
        n_failed++;
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    bytes += chunk.len;
    return LX_OK;
}

static void on_done(struct lx_upstream *up, const struct lx_err *err)
{
    struct lx_upstream *next;

    if (err) {
        n_failed++;
        fprintf(stderr, "error: %s\n", err->msg);
    }
    if (++n_done < n_total && lx_upstream_start(ctx, &req, &cbs, &next) != LX_OK)
        n_failed++;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static double cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/lx-up-bench-XXXXXX", path[256], url[128], body600[601];
    long n_warm = 200;
    size_t body_len = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    char *body = NULL;
    int port = free_port();
    FILE *f;
    pid_t nginx;
    uv_loop_t loop;
    struct lx_upstream_config cfg;
    struct lx_err err;
    struct lx_upstream *up;

    n_total = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    if (mkdtemp(dir) == NULL || port < 0)
        return 1;
    memset(body600, 'a', 600);
    body600[600] = '\0';
    snprintf(path, sizeof(path), "%s/logs", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/nginx.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f,
            "daemon off; master_process off; worker_processes 1; pid %s/nginx.pid;\n"
            "error_log %s/error.log;\n"
            "events { worker_connections 64; }\n"
            "http { access_log off; keepalive_requests 1000000; client_body_buffer_size 64k;\n"
            "  server { listen 127.0.0.1:%d;\n"
            "    location / { default_type text/plain; return 200 \"%s\"; } } }\n",
            dir, dir, port, body600);
    fclose(f);
    nginx = fork();
    if (nginx == 0) {
        execl("/usr/sbin/nginx", "nginx", "-c", path, "-p", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* wait for the port */
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }

    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    lx_upstream_config_default(&cfg);
    cfg.https_proxy = cfg.http_proxy = cfg.no_proxy = "";
    ctx = lx_upstream_ctx_new(&loop, &cfg, &err);
    if (ctx == NULL)
        return 1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", port);
    if (body_len > 0) {
        body = malloc(body_len);
        memset(body, 'x', body_len);
    }
    static const struct lx_header hs[] = {{{"Content-Type", 12}, {"application/json", 16}},
                                          {{"Authorization", 13}, {"Bearer sk-test", 14}}};
    req.method = body_len ? LX_STR("POST") : LX_STR("GET");
    req.url = lx_str_cstr(url);
    req.headers = hs;
    req.n_headers = 2;
    req.body = lx_str_make(body, body_len);
    cbs = (struct lx_upstream_cbs){on_head, on_data, on_done, NULL};

    /* warm-up: connection, DNS-free path, allocator */
    long want = n_total;
    n_total = n_warm;
    lx_upstream_start(ctx, &req, &cbs, &up);
    uv_run(&loop, UV_RUN_DEFAULT);
    n_total = want;
    n_done = 0;
    bytes = 0;

    double c0 = cpu_us();
    uint64_t t0 = lx_now_mono_ns();
    lx_upstream_start(ctx, &req, &cbs, &up);
    while (n_done < n_total)
        uv_run(&loop, UV_RUN_ONCE);
    double cpu = cpu_us() - c0;
    double wall = (double)(lx_now_mono_ns() - t0) / 1e3;

    printf("upstream_bench: %ld %s requests (%zu B body out, %zu B bodies in), %ld failed\n",
           n_total, body_len ? "POST" : "GET", body_len, bytes, n_failed);
    printf("  client CPU %.2f us/request, wall %.2f us/request (nginx on the other core)\n",
           cpu / (double)n_total, wall / (double)n_total);

    lx_upstream_ctx_free(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(body);
    kill(nginx, SIGTERM);
    waitpid(nginx, NULL, 0);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        return 1;
    return n_failed ? 1 : 0;
}
