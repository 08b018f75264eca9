/* test_upstream.c - upstream/ against real loopback sockets. A scripted server runs in a
 * thread with blocking sockets (plain or OpenSSL) and answers with canned bytes; the client
 * runs on a libuv loop in the test's thread. Also the pure response parser, URL, proxy and
 * NO_PROXY helpers. Every test ends by freeing the ctx and checking the loop closes clean. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "tests/unit/test.h"
#include "upstream/upstream.h"
#include "upstream/upstream_int.h"

/* ---------------------------------------------------------------- scripted server */

struct sconn {
    int fd;
    SSL *ssl;
};

struct srv;
typedef void srv_handler(struct srv *s, struct sconn *c, int index);

struct srv {
    int lfd;
    uint16_t port;
    pthread_t th;
    srv_handler *handler;
    SSL_CTX *tls;
    atomic_int accepts, requests, stop, reused, eof_ms, live;
    atomic_long body_len;
    bool concurrent; /* a thread per connection (handlers must not use req/line then) */
    char sni[128];
    char req[8192]; /* the last request head + body received */
    size_t req_len;
    char line[512];       /* first line of the first request (proxy: the CONNECT line) */
    const char *resp;     /* canned response for simple handlers */
    uint16_t target_port; /* proxy handler: where to tunnel */
    void *arg;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ssize_t s_read(struct sconn *c, void *p, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, (int)n);
        return r > 0 ? r : (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
    }
    return read(c->fd, p, n);
}

static int s_write(struct sconn *c, const void *p, size_t n)
{
    const char *b = p;

    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, b, (int)n) : write(c->fd, b, n);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_writes(struct sconn *c, const char *s) { return s_write(c, s, strlen(s)); }

/* Reads one request (head + Content-Length body) into s->req. 0, or -1 on EOF/error. */
static int read_request(struct srv *s, struct sconn *c)
{
    size_t len = 0, need = 0;
    char *end = NULL;

    for (;;) {
        if (len == sizeof(s->req) - 1)
            return -1;
        ssize_t r = s_read(c, s->req + len,
                           end ? LX_MIN(need - len, sizeof(s->req) - 1 - len)
                               : 1); /* byte-wise head: never over-read */
        if (r <= 0)
            return -1;
        len += (size_t)r;
        s->req[len] = '\0';
        if (end == NULL && (end = strstr(s->req, "\r\n\r\n")) != NULL) {
            const char *cl = strstr(s->req, "Content-Length: ");
            need = (size_t)(end + 4 - s->req) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (end != NULL && len >= need)
            break;
    }
    s->req_len = len;
    if (s->line[0] == '\0') {
        size_t l = (size_t)(strstr(s->req, "\r\n") - s->req);
        memcpy(s->line, s->req, LX_MIN(l, sizeof(s->line) - 1));
    }
    s->requests++;
    return 0;
}

/* Waits up to ms for the client to close; returns how long it took, or -1. */
static int wait_eof(struct sconn *c, int ms)
{
    uint64_t t0 = lx_now_mono_ns();
    char b[4096];

    for (;;) {
        int left = ms - (int)((lx_now_mono_ns() - t0) / 1000000);
        struct pollfd p = {c->fd, POLLIN, 0};

        if (left <= 0)
            return -1;
        if (!(c->ssl && SSL_pending(c->ssl)) && poll(&p, 1, left) <= 0)
            return -1;
        if (s_read(c, b, sizeof(b)) <= 0)
            return (int)((lx_now_mono_ns() - t0) / 1000000);
    }
}

static void reset_close(int fd)
{
    struct linger l = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

struct conn_job {
    struct srv *s;
    int fd, index;
};

static void serve_conn(struct srv *s, int fd, int index)
{
    struct sconn c = {fd, NULL};
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->tls) {
        c.ssl = SSL_new(s->tls);
        SSL_set_fd(c.ssl, fd);
        if (SSL_accept(c.ssl) != 1) {
            ERR_clear_error();
            SSL_free(c.ssl);
            close(fd);
            return;
        }
        const char *sni = SSL_get_servername(c.ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
        if (SSL_session_reused(c.ssl))
            s->reused++;
    }
    s->handler(s, &c, index);
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    close(fd);
}

static void *conn_thread(void *arg)
{
    struct conn_job *j = arg;

    serve_conn(j->s, j->fd, j->index);
    j->s->live--;
    free(j);
    return NULL;
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;

    while (!s->stop) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int index = s->accepts++;
        if (s->concurrent) {
            struct conn_job *j = malloc(sizeof(*j));
            pthread_t th;

            *j = (struct conn_job){s, fd, index};
            s->live++;
            if (pthread_create(&th, NULL, conn_thread, j) != 0) {
                s->live--;
                close(fd);
                free(j);
                continue;
            }
            pthread_detach(th);
            continue;
        }
        serve_conn(s, fd, index);
    }
    while (s->live > 0) /* connection threads end when their clients leave */
        sleep_ms(5);
    return NULL;
}

static int srv_start(struct srv *s, srv_handler *h, SSL_CTX *tls)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);

    signal(SIGPIPE, SIG_IGN); /* the process's job (main.c); libuv writes with write(2) */
    memset(s, 0, sizeof(*s));
    s->handler = h;
    s->tls = tls;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 16) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* ---------------------------------------------------------------- handlers */

/* Answers every request on the connection with s->resp (keep-alive). */
static void h_canned(struct srv *s, struct sconn *c, int index)
{
    while (read_request(s, c) == 0)
        if (s_writes(c, s->resp) != 0)
            return;
}

/* Reads a head into a local buffer, then swallows Content-Length bytes; answers with the
 * count. Safe with concurrent connections. */
static void h_sink(struct srv *s, struct sconn *c, int index)
{
    for (;;) {
        char head[4096], scratch[65536], resp[128];
        size_t len = 0;
        long cl = 0, got = 0;

        while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
            if (len == sizeof(head) - 1 || s_read(c, head + len, 1) != 1)
                return;
            len++;
        }
        head[len] = '\0';
        const char *h = strstr(head, "Content-Length: ");
        if (h)
            cl = strtol(h + 16, NULL, 10);
        while (got < cl) {
            ssize_t r = s_read(c, scratch, (size_t)LX_MIN((long)sizeof(scratch), cl - got));
            if (r <= 0)
                return;
            got += r;
        }
        s->body_len = got;
        s->requests++;
        char num[24];
        snprintf(num, sizeof(num), "%ld", got);
        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(num), num);
        if (s_writes(c, resp) != 0)
            return;
    }
}

/* One response, then close. */
static void h_canned_close(struct srv *s, struct sconn *c, int index)
{
    if (read_request(s, c) == 0)
        s_writes(c, s->resp);
}

/* The response one byte per write: every split point a reader can see. */
static void h_bytewise(struct srv *s, struct sconn *c, int index)
{
    if (read_request(s, c) != 0)
        return;
    for (const char *p = s->resp; *p; p++)
        if (s_write(c, p, 1) != 0)
            return;
    wait_eof(c, 2000);
}

/* Sends s->resp and then holds the connection open until the client leaves. */
static void h_hold(struct srv *s, struct sconn *c, int index)
{
    if (read_request(s, c) != 0)
        return;
    s_writes(c, s->resp);
    s->eof_ms = wait_eof(c, 3000);
}

/* Head, then one body byte every 40 ms forever (until the client leaves). */
static void h_trickle(struct srv *s, struct sconn *c, int index)
{
    if (read_request(s, c) != 0 || s_writes(c, s->resp) != 0)
        return;
    for (int i = 0; i < 100; i++) {
        sleep_ms(40);
        if (s_write(c, "x", 1) != 0)
            return;
    }
}

/* First connection: one good response, then reset on the next request; later ones reset. */
static void h_reset_after_first(struct srv *s, struct sconn *c, int index)
{
    if (index == 0) {
        if (read_request(s, c) != 0 || s_writes(c, s->resp) != 0)
            return;
    }
    if (read_request(s, c) == 0)
        reset_close(c->fd);
}

/* A CONNECT proxy: records the CONNECT line, tunnels to 127.0.0.1:target_port. */
static void h_proxy(struct srv *s, struct sconn *c, int index)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(s->target_port)};
    char buf[16384];
    int t;

    if (read_request(s, c) != 0)
        return;
    if (strncmp(s->req, "CONNECT ", 8) != 0) { /* absolute-form through a plain proxy */
        s_writes(c, s->resp);
        return;
    }
    t = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(t, (struct sockaddr *)&a, sizeof(a)) != 0) {
        s_writes(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        close(t);
        return;
    }
    s_writes(c, "HTTP/1.1 200 Connection established\r\n\r\n");
    for (;;) {
        struct pollfd p[2] = {{c->fd, POLLIN, 0}, {t, POLLIN, 0}};
        if (poll(p, 2, 3000) <= 0)
            break;
        if (p[0].revents) {
            ssize_t n = read(c->fd, buf, sizeof(buf));
            if (n <= 0 || write(t, buf, (size_t)n) != n)
                break;
        }
        if (p[1].revents) {
            ssize_t n = read(t, buf, sizeof(buf));
            if (n <= 0 || write(c->fd, buf, (size_t)n) != n)
                break;
        }
    }
    close(t);
}

/* ---------------------------------------------------------------- client side */

struct res {
    int done, heads, status, n_data;
    bool failed, in_api;
    struct lx_err err;
    struct lx_buf body;
    int pause_on; /* on_data call index that returns LX_EPAUSE (1-based), 0 none */
    bool cancel_on_head;
    struct lx_upstream *up;
    char location[128];
};

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct res *r = lx_upstream_data(up);
    const struct lx_header *loc = lx_header_find(h, n, LX_STR("location"));

    r->heads++;
    r->status = status;
    if (loc)
        snprintf(r->location, sizeof(r->location), "%.*s", LX_STR_FMT(loc->value));
    if (r->cancel_on_head) {
        r->in_api = true;
        lx_upstream_cancel(up);
        r->in_api = false;
    }
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct res *r = lx_upstream_data(up);

    r->n_data++;
    lx_buf_append(&r->body, chunk.ptr, chunk.len);
    return r->n_data == r->pause_on ? LX_EPAUSE : LX_OK;
}

static void on_done(struct lx_upstream *up, const struct lx_err *err)
{
    struct res *r = lx_upstream_data(up);

    if (r->in_api)
        fprintf(stderr, "on_done called from inside an lx_upstream_* call\n"), abort();
    r->done++;
    r->failed = err != NULL;
    if (err)
        r->err = *err;
}

struct env {
    uv_loop_t loop;
    struct lx_upstream_ctx *ctx;
    struct lx_upstream_config cfg;
};

static void env_init(struct env *e)
{
    uv_loop_init(&e->loop);
    lx_upstream_config_default(&e->cfg);
    e->cfg.https_proxy = e->cfg.http_proxy = e->cfg.no_proxy = "";
    e->ctx = NULL;
}

static int env_ctx(struct env *e)
{
    struct lx_err err;

    e->ctx = lx_upstream_ctx_new(&e->loop, &e->cfg, &err);
    if (e->ctx == NULL)
        fprintf(stderr, "ctx: %s\n", err.msg);
    return e->ctx ? 0 : -1;
}

/* Frees the ctx and checks that every handle closes. 0 ok. */
static int env_end(struct env *e)
{
    lx_upstream_ctx_free(e->ctx);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    return uv_loop_close(&e->loop) == 0 ? 0 : -1;
}

static void res_init(struct res *r)
{
    memset(r, 0, sizeof(*r));
    lx_buf_init(&r->body, 1 << 24);
}

static int start(struct env *e, struct res *r, const char *method, const char *url,
                 const char *body, const struct lx_upstream_req *tmpl)
{
    struct lx_upstream_req req = {0};
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done, r};

    if (tmpl)
        req = *tmpl;
    req.method = lx_str_cstr(method);
    req.url = lx_str_cstr(url);
    req.body = lx_str_cstr(body ? body : "");
    r->in_api = true;
    int rc = lx_upstream_start(e->ctx, &req, &cbs, &r->up);
    r->in_api = false;
    return rc;
}

/* Runs the loop until r is done (or 5 s pass). */
static void wait_done(struct env *e, struct res *r)
{
    uint64_t t0 = lx_now_mono_ns();

    while (!r->done && lx_now_mono_ns() - t0 < 5000000000ull)
        uv_run(&e->loop, UV_RUN_ONCE);
}

static void on_tick(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop for ms milliseconds. */
static void run_for(struct env *e, int ms)
{
    uv_timer_t t;
    int fired = 0;

    uv_timer_init(&e->loop, &t);
    t.data = &fired;
    uv_timer_start(&t, on_tick, (uint64_t)ms, 0);
    while (!fired)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

static char url_buf[256];
static const char *url(const char *scheme, const char *host, uint16_t port, const char *path)
{
    snprintf(url_buf, sizeof(url_buf), "%s://%s:%u%s", scheme, host, port, path);
    return url_buf;
}

/* One request to a fresh server with a canned response. */
static int one_shot(srv_handler *h, const char *resp, const char *method, struct res *r,
                    struct srv *s, const struct lx_upstream_req *tmpl)
{
    struct env e;

    env_init(&e);
    if (srv_start(s, h, NULL) != 0 || env_ctx(&e) != 0)
        return -1;
    s->resp = resp;
    res_init(r);
    if (start(&e, r, method, url("http", "127.0.0.1", s->port, "/v1/x"), "{}", tmpl) != LX_OK)
        return -1;
    wait_done(&e, r);
    int rc = env_end(&e);
    srv_stop(s);
    return rc;
}

/* ---------------------------------------------------------------- socket tests */

LX_TEST(upstream_content_length_and_request_format)
{
    struct srv s;
    struct res r;
    struct lx_header hs[] = {{LX_STR("Authorization"), LX_STR("Bearer k")},
                             {LX_STR("Expect"), LX_STR("")},
                             {LX_STR("Host"), LX_STR("evil")}};
    struct lx_upstream_req tmpl = {.headers = hs, .n_headers = 3};

    LX_ASSERT_EQ(0,
                 one_shot(h_canned, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
                          "POST", &r, &s, &tmpl));
    LX_ASSERT_EQ(1, r.done);
    LX_ASSERT(!r.failed);
    LX_ASSERT_EQ(200, r.status);
    LX_ASSERT_STR(lx_buf_str(&r.body), "hello");
    char want[256];
    snprintf(want, sizeof(want),
             "POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Length: 2\r\n"
             "Authorization: Bearer k\r\nConnection: keep-alive\r\n\r\n{}",
             s.port);
    LX_ASSERT_STREQ(s.req, want);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_chunked_bytewise)
{
    struct srv s;
    struct res r;

    LX_ASSERT_EQ(0, one_shot(h_bytewise,
                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n",
                             "GET", &r, &s, NULL));
    LX_ASSERT(!r.failed);
    LX_ASSERT_STR(lx_buf_str(&r.body), "hello world");
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_close_delimited)
{
    struct srv s;
    struct res r;

    LX_ASSERT_EQ(0,
                 one_shot(h_canned_close, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof",
                          "GET", &r, &s, NULL));
    LX_ASSERT(!r.failed);
    LX_ASSERT_STR(lx_buf_str(&r.body), "until eof");
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_truncated)
{
    struct srv s;
    struct res r;

    LX_ASSERT_EQ(0, one_shot(h_canned_close, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
                             "GET", &r, &s, NULL));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETRUNCATED, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT(!r.err.retryable);
    lx_buf_release(&r.body);

    LX_ASSERT_EQ(0, one_shot(h_canned_close,
                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                             "GET", &r, &s, NULL));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETRUNCATED, r.err.rc);
    LX_ASSERT_STR(lx_buf_str(&r.body), "hello");
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_redirect_not_followed_and_1xx_skipped)
{
    struct srv s;
    struct res r;

    LX_ASSERT_EQ(0, one_shot(h_canned,
                             "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                             "Content-Length: 0\r\n\r\n",
                             "GET", &r, &s, NULL));
    LX_ASSERT(!r.failed);
    LX_ASSERT_EQ(302, r.status);
    LX_ASSERT_STREQ(r.location, "http://127.0.0.1:1/elsewhere");
    LX_ASSERT_EQ(1, s.requests);
    lx_buf_release(&r.body);

    LX_ASSERT_EQ(
        0, one_shot(h_canned,
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                    "POST", &r, &s, NULL));
    LX_ASSERT(!r.failed);
    LX_ASSERT_EQ(1, r.heads);
    LX_ASSERT_EQ(201, r.status);
    LX_ASSERT_STR(lx_buf_str(&r.body), "ok");
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_head_too_large)
{
    struct srv s;
    struct res r;
    struct lx_buf big = LX_BUF_INIT(1 << 20);

    /* 8 headers of 6 KB: under the header count limit, 48 KB fits in 64 KiB */
    lx_buf_append_cstr(&big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 8; i++)
        lx_buf_appendf(&big, "X-Pad-%d: %06000d\r\n", i, 0);
    lx_buf_append_cstr(&big, "Content-Length: 2\r\n\r\nok");
    LX_ASSERT_EQ(0, one_shot(h_canned_close, big.ptr, "GET", &r, &s, NULL));
    LX_ASSERT(!r.failed);
    LX_ASSERT_STR(lx_buf_str(&r.body), "ok");
    lx_buf_release(&r.body);

    /* 12 of them: 72 KB is over max_response_head */
    lx_buf_reset(&big);
    lx_buf_append_cstr(&big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 12; i++)
        lx_buf_appendf(&big, "X-Pad-%d: %06000d\r\n", i, 0);
    lx_buf_append_cstr(&big, "Content-Length: 0\r\n\r\n");
    LX_ASSERT_EQ(0, one_shot(h_canned_close, big.ptr, "GET", &r, &s, NULL));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_EPROTO, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT(strstr(r.err.msg, "too large") != NULL);
    lx_buf_release(&r.body);

    /* 150 small headers: over the count limit */
    lx_buf_reset(&big);
    lx_buf_append_cstr(&big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 150; i++)
        lx_buf_appendf(&big, "X-H-%d: v\r\n", i);
    lx_buf_append_cstr(&big, "Content-Length: 0\r\n\r\n");
    LX_ASSERT_EQ(0, one_shot(h_canned_close, big.ptr, "GET", &r, &s, NULL));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_EPROTO, r.err.rc);
    LX_ASSERT(strstr(r.err.msg, "too many") != NULL);
    lx_buf_release(&r.body);
    lx_buf_release(&big);
    return 0;
}

LX_TEST(upstream_keepalive_reuse_and_dns_localhost)
{
    struct env e;
    struct srv s;
    struct res r;

    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 3; i++) {
        res_init(&r);
        /* localhost may resolve to ::1 first: the next address is tried */
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("http", "localhost", s.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        LX_ASSERT(!r.failed);
        LX_ASSERT_STR(lx_buf_str(&r.body), "ok");
        lx_buf_release(&r.body);
        run_for(&e, 5);
    }
    LX_ASSERT_EQ(3, s.requests);
    LX_ASSERT_EQ(1, s.accepts);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    return 0;
}

LX_TEST(upstream_dns_failure)
{
    struct env e;
    struct res r;

    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", "http://no-such-host.invalid/", NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_EDNS, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT(r.err.retryable);
    LX_ASSERT_EQ(0, env_end(&e));
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_connection_refused)
{
    struct env e;
    struct res r;
    struct srv s;

    LX_ASSERT_EQ(0, srv_start(&s, h_canned, NULL)); /* a port that was just free */
    srv_stop(&s);
    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ECONNREFUSED, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT(r.err.retryable);
    LX_ASSERT_EQ(0, env_end(&e));
    lx_buf_release(&r.body);
    return 0;
}

/* Request 2 goes out on the pooled connection the server closed right after response 1. */
static struct env *chain_env;
static struct res *chain_next;
static const char *chain_url;
static void on_done_chain(struct lx_upstream *up, const struct lx_err *err)
{
    on_done(up, err);
    if (chain_next != NULL) {
        struct res *n = chain_next;
        chain_next = NULL;
        start(chain_env, n, "GET", chain_url, NULL, NULL);
    }
}

static int stale_retry(SSL_CTX *server_tls, const char *ca_file)
{
    struct env e;
    struct srv s;
    struct res r1, r2;
    struct lx_upstream_req req = {.method = LX_STR("GET")};
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done_chain, &r1};

    env_init(&e);
    e.cfg.ca_file = ca_file;
    LX_ASSERT_EQ(0, srv_start(&s, h_canned_close, server_tls));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"; /* says keep-alive, then closes */
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r1);
    res_init(&r2);
    chain_env = &e;
    chain_next = &r2;
    chain_url = url(server_tls ? "https" : "http", "127.0.0.1", s.port, "/");
    req.url = lx_str_cstr(chain_url);
    LX_ASSERT_EQ(LX_OK, lx_upstream_start(e.ctx, &req, &cbs, &r1.up));
    wait_done(&e, &r1);
    wait_done(&e, &r2);
    LX_ASSERT(!r1.failed);
    if (r2.failed)
        LX_FAIL("second request failed: %s", r2.err.msg);
    LX_ASSERT_STR(lx_buf_str(&r2.body), "ok");
    LX_ASSERT_EQ(2, s.accepts);
    LX_ASSERT_EQ(2, s.requests);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    lx_buf_release(&r1.body);
    lx_buf_release(&r2.body);
    return 0;
}

LX_TEST(upstream_stale_pooled_connection_retried) { return stale_retry(NULL, NULL); }

LX_TEST(upstream_reset_twice_is_an_error)
{
    struct env e;
    struct srv s;
    struct res r;

    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_reset_after_first, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(!r.failed);
    lx_buf_release(&r.body);
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ECONNRESET, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT(r.err.retryable);
    LX_ASSERT_EQ(2, s.accepts); /* pooled one, then exactly one fresh retry */
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_connect_timeout)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[3];
    struct env e;
    struct res r;
    struct lx_upstream_req tmpl = {.connect_timeout_ms = 150};

    /* a listener with a full backlog drops SYNs: a connect that never completes */
    LX_ASSERT(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 0) == 0);
    LX_ASSERT(getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    sleep_ms(20);
    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    uint64_t t0 = lx_now_mono_ns();
    LX_ASSERT_EQ(
        LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", ntohs(a.sin_port), "/"), NULL, &tmpl));
    wait_done(&e, &r);
    uint64_t ms = (lx_now_mono_ns() - t0) / 1000000;
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETIMEDOUT, r.err.rc);
    LX_ASSERT_EQ(504, r.err.http_status);
    LX_ASSERT(strstr(r.err.msg, "connect") != NULL);
    if (ms < 140 || ms >= 1000)
        LX_FAIL("took %llu ms: %s", (unsigned long long)ms, r.err.msg);
    LX_ASSERT_EQ(0, env_end(&e));
    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(lfd);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_first_byte_idle_total_timeouts)
{
    struct srv s;
    struct res r;
    struct lx_upstream_req fb = {.first_byte_timeout_ms = 150};
    struct lx_upstream_req idle = {.idle_timeout_ms = 150};
    struct lx_upstream_req total = {.total_timeout_ms = 300, .idle_timeout_ms = 1000};

    LX_ASSERT_EQ(0, one_shot(h_hold, "", "POST", &r, &s, &fb));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETIMEDOUT, r.err.rc);
    LX_ASSERT_EQ(504, r.err.http_status);
    LX_ASSERT(strstr(r.err.msg, "first byte") != NULL);
    LX_ASSERT(s.eof_ms >= 0 && s.eof_ms < 1000); /* and the connection was closed */
    lx_buf_release(&r.body);

    LX_ASSERT_EQ(0, one_shot(h_hold, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET", &r,
                             &s, &idle));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETIMEDOUT, r.err.rc);
    LX_ASSERT(strstr(r.err.msg, "idle") != NULL);
    LX_ASSERT(!r.err.retryable);
    LX_ASSERT_STR(lx_buf_str(&r.body), "abc");
    lx_buf_release(&r.body);

    uint64_t t0 = lx_now_mono_ns();
    LX_ASSERT_EQ(0, one_shot(h_trickle, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "GET",
                             &r, &s, &total));
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETIMEDOUT, r.err.rc);
    LX_ASSERT(strstr(r.err.msg, "total") != NULL);
    LX_ASSERT(r.body.len >= 3); /* it was making progress: only the total limit stopped it */
    LX_ASSERT((lx_now_mono_ns() - t0) / 1000000 < 2000);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_cancel_closes_connection)
{
    struct srv s;
    struct res r;
    struct env e;

    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_hold, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial";
    s.eof_ms = -2;
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    r.cancel_on_head = true; /* on_head asserts on_done does not run inside cancel */
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT_EQ(1, r.done);
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ECANCELED, r.err.rc);
    LX_ASSERT_EQ(0, r.n_data); /* nothing delivered after cancel */
    run_for(&e, 50);
    LX_ASSERT_EQ(1, r.done);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    LX_ASSERT(s.eof_ms >= 0 && s.eof_ms < 1000);
    lx_buf_release(&r.body);

    /* cancel from outside any callback, while connecting/waiting */
    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_hold, NULL));
    s.resp = "";
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    run_for(&e, 30);
    r.in_api = true;
    lx_upstream_cancel(r.up);
    r.in_api = false;
    LX_ASSERT_EQ(0, r.done);
    wait_done(&e, &r);
    LX_ASSERT_EQ(LX_ECANCELED, r.err.rc);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    LX_ASSERT(s.eof_ms >= 0 && s.eof_ms < 1000);
    lx_buf_release(&r.body);
    return 0;
}

static int backpressure(SSL_CTX *server_tls, const char *ca_file)
{
    static char resp[300100];
    struct srv s;
    struct res r;
    struct env e;
    size_t n;

    n = (size_t)snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n");
    for (size_t i = 0; i < 300000; i++)
        resp[n + i] = (char)('a' + i % 26);
    resp[n + 300000] = '\0';
    env_init(&e);
    e.cfg.ca_file = ca_file;
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, server_tls));
    s.resp = resp;
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    r.pause_on = 1;
    LX_ASSERT_EQ(LX_OK,
                 start(&e, &r, "GET", url(server_tls ? "https" : "http", "127.0.0.1", s.port, "/"),
                       NULL, NULL));
    for (int i = 0; i < 500 && r.n_data == 0; i++)
        run_for(&e, 2);
    LX_ASSERT_EQ(1, r.n_data);
    size_t got = r.body.len;
    run_for(&e, 100);
    LX_ASSERT_EQ(1, r.n_data); /* paused: nothing more delivered */
    LX_ASSERT_EQ(got, r.body.len);
    LX_ASSERT_EQ(0, r.done);
    r.in_api = true;
    lx_upstream_resume(r.up);
    r.in_api = false;
    LX_ASSERT_EQ(1, r.n_data); /* resume never delivers synchronously */
    wait_done(&e, &r);
    if (r.failed)
        LX_FAIL("failed: %s", r.err.msg);
    LX_ASSERT_EQ(300000, r.body.len);
    LX_ASSERT(memcmp(r.body.ptr, resp + n, 300000) == 0);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_backpressure) { return backpressure(NULL, NULL); }

/* ---------------------------------------------------------------- TLS */

static char tls_dir[64];

static void remove_certs(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tls_dir);
}

/* A CA and a server certificate for localhost / 127.0.0.1, made once per run with openssl(1). */
static const char *make_certs(void)
{
    char cmd[2048];

    if (tls_dir[0])
        return tls_dir;
    snprintf(tls_dir, sizeof(tls_dir), "/tmp/lx-up-tls-XXXXXX");
    if (mkdtemp(tls_dir) == NULL)
        return NULL;
    snprintf(cmd, sizeof(cmd),
             "cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
             "-out ca.pem -days 2 -subj /CN=llmux-test-ca 2>/dev/null && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
             "-out srv.csr -subj /CN=localhost 2>/dev/null && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
             "-days 2 -extfile ext 2>/dev/null && "
             "printf 'subjectAltName=DNS:wrong.example\\n' > ext2 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout wrong.key "
             "-out wrong.csr -subj /CN=wrong.example 2>/dev/null && "
             "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out wrong.pem -days 2 -extfile ext2 2>/dev/null",
             tls_dir);
    if (system(cmd) != 0)
        return NULL;
    atexit(remove_certs);
    return tls_dir;
}

static SSL_CTX *server_ctx_named(const char *name)
{
    char p[128];
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    const char *d = make_certs();

    if (c == NULL || d == NULL)
        return NULL;
    snprintf(p, sizeof(p), "%s/%s.pem", d, name);
    if (SSL_CTX_use_certificate_chain_file(c, p) != 1)
        return NULL;
    snprintf(p, sizeof(p), "%s/%s.key", d, name);
    if (SSL_CTX_use_PrivateKey_file(c, p, SSL_FILETYPE_PEM) != 1)
        return NULL;
    return c;
}

static SSL_CTX *server_ctx(void) { return server_ctx_named("srv"); }

static const char *ca_path(void)
{
    static char p[128];

    snprintf(p, sizeof(p), "%s/ca.pem", make_certs());
    return p;
}

LX_TEST(upstream_tls_verify_sni_resume_keepalive)
{
    SSL_CTX *sc = server_ctx();
    struct srv s;
    struct res r;
    struct env e;

    LX_ASSERT(sc != NULL);
    env_init(&e);
    e.cfg.ca_file = ca_path();
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, sc));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) { /* two requests, one connection */
        res_init(&r);
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("https", "localhost", s.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        if (r.failed)
            LX_FAIL("tls request failed: %s", r.err.msg);
        LX_ASSERT_STR(lx_buf_str(&r.body), "secret");
        lx_buf_release(&r.body);
    }
    LX_ASSERT_EQ(1, s.accepts);
    LX_ASSERT_STREQ(s.sni, "localhost");
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);

    /* resumption: each response closes the connection, the second handshake resumes */
    env_init(&e);
    e.cfg.ca_file = ca_path();
    LX_ASSERT_EQ(0, srv_start(&s, h_canned_close, sc));
    s.resp = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) {
        res_init(&r);
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("https", "127.0.0.1", s.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        if (r.failed)
            LX_FAIL("tls request failed: %s", r.err.msg);
        lx_buf_release(&r.body);
    }
    LX_ASSERT_EQ(2, s.accepts);
    LX_ASSERT_EQ(1, s.reused);
    LX_ASSERT_STREQ(s.sni, ""); /* no SNI for an IP address */
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    SSL_CTX_free(sc);
    return 0;
}

static int tls_fail_case(SSL_CTX *sc, const char *ca, const char *host, const char *why)
{
    struct srv s;
    struct res r;
    struct env e;

    env_init(&e);
    e.cfg.ca_file = ca;
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, sc));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    char u[128];
    snprintf(u, sizeof(u), "https://%s:%u/", host, s.port);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", u, NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(r.failed);
    LX_ASSERT_EQ(LX_ETLS, r.err.rc);
    LX_ASSERT_EQ(502, r.err.http_status);
    LX_ASSERT_EQ(0, s.requests);
    if (strstr(r.err.msg, why) == NULL)
        LX_FAIL("\"%s\" does not say \"%s\"", r.err.msg, why);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_tls_verification_failures)
{
    SSL_CTX *sc = server_ctx(), *wrong = server_ctx_named("wrong");
    char other[160];

    LX_ASSERT(sc != NULL && wrong != NULL);
    /* the system store does not know our test CA */
    LX_ASSERT_EQ(0, tls_fail_case(sc, NULL, "localhost", "issuer"));
    /* right CA, wrong name: the server shows a certificate for wrong.example */
    LX_ASSERT_EQ(0, tls_fail_case(wrong, ca_path(), "localhost", "hostname mismatch"));
    LX_ASSERT_EQ(0, tls_fail_case(wrong, ca_path(), "127.0.0.1", "IP address mismatch"));
    /* a CA file that is not the issuer */
    snprintf(other, sizeof(other), "%s/srv.pem", make_certs());
    LX_ASSERT_EQ(0, tls_fail_case(sc, other, "localhost", "issuer"));
    SSL_CTX_free(sc);
    SSL_CTX_free(wrong);
    return 0;
}

LX_TEST(upstream_tls_backpressure)
{
    SSL_CTX *sc = server_ctx();

    LX_ASSERT(sc != NULL);
    LX_ASSERT_EQ(0, backpressure(sc, ca_path()));
    SSL_CTX_free(sc);
    return 0;
}

LX_TEST(upstream_tls_stale_pooled_connection_retried)
{
    SSL_CTX *sc = server_ctx();

    LX_ASSERT(sc != NULL);
    LX_ASSERT_EQ(0, stale_retry(sc, ca_path()));
    SSL_CTX_free(sc);
    return 0;
}

LX_TEST(upstream_bad_ca_file)
{
    struct lx_upstream_config c;
    struct lx_err err;
    uv_loop_t loop;

    uv_loop_init(&loop);
    lx_upstream_config_default(&c);
    c.ca_file = "/nonexistent/ca.pem";
    LX_ASSERT(lx_upstream_ctx_new(&loop, &c, &err) == NULL);
    LX_ASSERT_EQ(LX_ETLS, err.rc);
    LX_ASSERT_EQ(0, uv_loop_close(&loop));
    return 0;
}

/* ---------------------------------------------------------------- proxy */

LX_TEST(upstream_https_via_connect_proxy_and_no_proxy)
{
    SSL_CTX *sc = server_ctx();
    struct srv target, proxy;
    struct res r;
    struct env e;
    char px[64], want[96];

    LX_ASSERT(sc != NULL);
    LX_ASSERT_EQ(0, srv_start(&target, h_canned, sc));
    target.resp = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ntunneled";
    LX_ASSERT_EQ(0, srv_start(&proxy, h_proxy, NULL));
    proxy.target_port = target.port;
    snprintf(px, sizeof(px), "http://user:pw@127.0.0.1:%u", proxy.port);

    env_init(&e);
    e.cfg.ca_file = ca_path();
    e.cfg.https_proxy = px;
    e.cfg.no_proxy = "example.com,.internal";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) { /* the second request reuses the pooled tunnel */
        res_init(&r);
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("https", "localhost", target.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        if (r.failed)
            LX_FAIL("via proxy: %s", r.err.msg);
        LX_ASSERT_STR(lx_buf_str(&r.body), "tunneled");
        if (i == 0)
            lx_buf_release(&r.body);
    }
    LX_ASSERT_EQ(2, target.requests);
    snprintf(want, sizeof(want), "CONNECT localhost:%u HTTP/1.1", target.port);
    LX_ASSERT_STREQ(proxy.line, want);
    LX_ASSERT(strstr(proxy.req, "Proxy-Authorization: Basic dXNlcjpwdw==\r\n") != NULL);
    LX_ASSERT_EQ(1, proxy.accepts);
    LX_ASSERT_STREQ(target.sni, "localhost"); /* TLS went end to end through the tunnel */
    lx_buf_release(&r.body);
    LX_ASSERT_EQ(0, env_end(&e));

    /* NO_PROXY matching the host: straight to the target */
    env_init(&e);
    e.cfg.ca_file = ca_path();
    e.cfg.https_proxy = px;
    e.cfg.no_proxy = "example.com, localhost";
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK,
                 start(&e, &r, "GET", url("https", "localhost", target.port, "/"), NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(!r.failed);
    LX_ASSERT_EQ(1, proxy.accepts);
    LX_ASSERT_EQ(2, target.accepts);
    lx_buf_release(&r.body);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&proxy);
    srv_stop(&target);
    SSL_CTX_free(sc);
    return 0;
}

LX_TEST(upstream_http_via_proxy_absolute_form)
{
    struct srv proxy;
    struct res r;
    struct env e;
    char px[64];

    LX_ASSERT_EQ(0, srv_start(&proxy, h_proxy, NULL));
    proxy.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    snprintf(px, sizeof(px), "127.0.0.1:%u", proxy.port);
    env_init(&e);
    e.cfg.http_proxy = px;
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", "http://provider.example:8080/v1/m?x=1", NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(!r.failed);
    LX_ASSERT_STREQ(proxy.line, "GET http://provider.example:8080/v1/m?x=1 HTTP/1.1");
    LX_ASSERT(strstr(proxy.req, "\r\nHost: provider.example:8080\r\n") != NULL);
    lx_buf_release(&r.body);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&proxy);
    return 0;
}

LX_TEST(upstream_start_rejects_bad_requests)
{
    struct env e;
    struct res r;
    struct lx_header bad[] = {{LX_STR("X-A"), LX_STR("a\r\nInjected: 1")}};
    struct lx_upstream_req tmpl = {.headers = bad, .n_headers = 1};

    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    LX_ASSERT_EQ(LX_EINVAL, start(&e, &r, "GET", "ftp://x/", NULL, NULL));
    LX_ASSERT_EQ(LX_EINVAL, start(&e, &r, "GET", "http://u:p@x/", NULL, NULL));
    LX_ASSERT_EQ(LX_EINVAL, start(&e, &r, "G T", "http://x/", NULL, NULL));
    LX_ASSERT_EQ(LX_EINVAL, start(&e, &r, "GET", "http://x/", NULL, &tmpl));
    LX_ASSERT_EQ(0, r.done);
    LX_ASSERT_EQ(0, env_end(&e));
    lx_buf_release(&r.body);
    return 0;
}

/* ---------------------------------------------------------------- pure parts */

struct pres {
    int heads, status;
    struct lx_buf body;
};

static int p_head(void *arg, int status, const struct lx_header *h, size_t n)
{
    struct pres *p = arg;

    p->heads++;
    p->status = status;
    return LX_OK;
}

static int p_data(void *arg, struct lx_str chunk)
{
    struct pres *p = arg;

    lx_buf_append(&p->body, chunk.ptr, chunk.len);
    return LX_OK;
}

/* Feeds s in two pieces split at cut, then EOF when eof. Returns the final rc. */
static int parse_split(const char *s, size_t cut, bool head_req, bool eof, struct pres *p)
{
    struct lx__upstream_resp r;
    size_t len = strlen(s), used;
    int rc;

    memset(p, 0, sizeof(*p));
    lx_buf_init(&p->body, 1 << 20);
    lx__upstream_resp_init(&r, 4096, head_req, p_head, p_data, p);
    rc = lx__upstream_resp_feed(&r, s, cut, &used);
    if (rc == LX_OK && !r.complete)
        rc = lx__upstream_resp_feed(&r, s + cut, len - cut, &used);
    if (rc == LX_OK && !r.complete)
        rc = eof ? lx__upstream_resp_eof(&r) : LX_EAGAIN;
    lx__upstream_resp_release(&r);
    return rc;
}

LX_TEST(upstream_parse_split_everywhere)
{
    static const struct {
        const char *in;
        bool head_req, eof;
        int rc, status;
        const char *body;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, false, LX_OK, 200, "hello"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
         false, false, LX_OK, 200, "abcde"},
        {"HTTP/1.1 200 OK\r\n\r\nuntil close", false, true, LX_OK, 200, "until close"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, false, LX_OK, 200, ""},
        {"HTTP/1.1 204 No Content\r\n\r\n", false, false, LX_OK, 204, ""},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, false, LX_OK, 304, ""},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, false,
         LX_OK, 200, "x"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", false, true, LX_ETRUNCATED, 200, "abc"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false, true,
         LX_ETRUNCATED, 200, "abc"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", false, false,
         LX_EPROTO, 0, ""},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, false, LX_EPROTO, 0,
         ""},
        {"HTTP/1.1 2x0 OK\r\n\r\n", false, false, LX_EPROTO, 0, ""},
        {"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", false, false, LX_EPROTO, 0, ""},
        {"HTTP/1.1 200 OK\r\nA: b\r\n: x\r\nContent-Length: 0\r\n\r\n", false, false, LX_EPROTO, 0,
         ""},
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        size_t len = strlen(cases[i].in);
        for (size_t cut = 0; cut <= len; cut++) {
            struct pres p;
            int rc = parse_split(cases[i].in, cut, cases[i].head_req, cases[i].eof, &p);

            if (rc != cases[i].rc)
                LX_FAIL("case %zu cut %zu: rc %s, want %s", i, cut, lx_err_name(rc),
                        lx_err_name(cases[i].rc));
            if (cases[i].status)
                LX_ASSERT_EQ(cases[i].status, p.status);
            if (cases[i].rc == LX_OK) {
                LX_ASSERT_EQ(1, p.heads);
                LX_ASSERT_STR(lx_buf_str(&p.body), cases[i].body);
            }
            lx_buf_release(&p.body);
        }
    }
    return 0;
}

LX_TEST(upstream_parse_keepalive_and_extra)
{
    struct lx__upstream_resp r;
    struct pres p = {0};
    size_t used;
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n";

    lx_buf_init(&p.body, 100);
    lx__upstream_resp_init(&r, 4096, false, p_head, p_data, &p);
    LX_ASSERT_EQ(LX_OK, lx__upstream_resp_feed(&r, two, strlen(two), &used));
    LX_ASSERT(r.complete);
    LX_ASSERT_EQ(strlen("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"), used);
    LX_ASSERT(lx__upstream_resp_keep_alive(&r));
    lx__upstream_resp_release(&r);

    const char *cl = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na";
    lx__upstream_resp_init(&r, 4096, false, p_head, p_data, &p);
    LX_ASSERT_EQ(LX_OK, lx__upstream_resp_feed(&r, cl, strlen(cl), &used));
    LX_ASSERT(r.complete);
    LX_ASSERT(!lx__upstream_resp_keep_alive(&r));
    lx__upstream_resp_release(&r);

    const char *h10 = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na";
    lx__upstream_resp_init(&r, 4096, false, p_head, p_data, &p);
    LX_ASSERT_EQ(LX_OK, lx__upstream_resp_feed(&r, h10, strlen(h10), &used));
    LX_ASSERT(!lx__upstream_resp_keep_alive(&r));
    lx__upstream_resp_release(&r);

    lx__upstream_resp_init(&r, 4096, false, p_head, p_data, &p);
    LX_ASSERT_EQ(LX_ECONNRESET, lx__upstream_resp_eof(&r));
    lx__upstream_resp_release(&r);
    lx_buf_release(&p.body);
    return 0;
}

LX_TEST(upstream_url_parse)
{
    struct lx__upstream_url u;

    LX_ASSERT_EQ(LX_OK, lx__upstream_url_parse(LX_STR("https://api.openai.com/v1/chat?x=1"), &u));
    LX_ASSERT(u.tls);
    LX_ASSERT_STR(u.host, "api.openai.com");
    LX_ASSERT_EQ(443, u.port);
    LX_ASSERT_STR(u.hostport, "api.openai.com");
    LX_ASSERT_STR(u.path, "/v1/chat?x=1");
    LX_ASSERT_EQ(LX_OK, lx__upstream_url_parse(LX_STR("http://[::1]:8080"), &u));
    LX_ASSERT_STR(u.host, "::1");
    LX_ASSERT_EQ(8080, u.port);
    LX_ASSERT_STR(u.hostport, "[::1]:8080");
    LX_ASSERT_STR(u.path, "/");
    LX_ASSERT_EQ(LX_OK, lx__upstream_url_parse(LX_STR("http://h:80/"), &u));
    LX_ASSERT_STR(u.hostport, "h");
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http://h:0/"), &u));
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http://h:65536/"), &u));
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http:///x"), &u));
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http://h/a b"), &u));
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http://h/a#f"), &u));
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_url_parse(LX_STR("http://h/\r\nX: y"), &u));
    return 0;
}

LX_TEST(upstream_proxy_and_no_proxy)
{
    struct lx__upstream_proxy p;

    LX_ASSERT_EQ(LX_OK, lx__upstream_proxy_parse("http://user:pw@proxy.local:3128/", &p));
    LX_ASSERT_STR(p.host, "proxy.local");
    LX_ASSERT_EQ(3128, p.port);
    LX_ASSERT_STR(lx_str_make(p.auth, p.auth_len), "dXNlcjpwdw==");
    LX_ASSERT_EQ(LX_OK, lx__upstream_proxy_parse("10.0.0.1", &p));
    LX_ASSERT_EQ(80, p.port);
    LX_ASSERT_EQ(0, p.auth_len);
    LX_ASSERT_EQ(LX_EINVAL, lx__upstream_proxy_parse("socks5://x:1", &p));

    LX_ASSERT(lx__upstream_no_proxy_match("*", LX_STR("a.b"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match("example.com", LX_STR("api.example.com"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match(".example.com", LX_STR("api.example.com"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match(".example.com", LX_STR("example.com"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match("x, EXAMPLE.com ", LX_STR("example.COM"), 443));
    LX_ASSERT(!lx__upstream_no_proxy_match("example.com", LX_STR("notexample.com"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match("h:8080", LX_STR("h"), 8080));
    LX_ASSERT(!lx__upstream_no_proxy_match("h:8080", LX_STR("h"), 443));
    LX_ASSERT(lx__upstream_no_proxy_match("127.0.0.1,::1", LX_STR("::1"), 1));
    LX_ASSERT(lx__upstream_no_proxy_match("[::1]:5", LX_STR("::1"), 5));
    LX_ASSERT(!lx__upstream_no_proxy_match("", LX_STR("h"), 1));
    LX_ASSERT(!lx__upstream_no_proxy_match(NULL, LX_STR("h"), 1));
    return 0;
}

LX_TEST(upstream_pool_idle_expiry_and_server_close_while_idle)
{
    struct env e;
    struct srv s;
    struct res r;

    env_init(&e);
    e.cfg.pool_idle_ms = 30;
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) { /* the idle connection expires between the two */
        res_init(&r);
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        LX_ASSERT(!r.failed);
        lx_buf_release(&r.body);
        run_for(&e, 80);
    }
    LX_ASSERT_EQ(2, s.accepts);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);

    /* the server closes a kept-alive connection while it sits in the pool: we notice the EOF
     * and the next request opens a fresh connection without needing the retry */
    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_canned_close, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) {
        res_init(&r);
        LX_ASSERT_EQ(LX_OK,
                     start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
        wait_done(&e, &r);
        LX_ASSERT(!r.failed);
        lx_buf_release(&r.body);
        run_for(&e, 50);
    }
    LX_ASSERT_EQ(2, s.accepts);
    LX_ASSERT_EQ(2, s.requests); /* no request was lost to the closed socket */
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    return 0;
}

LX_TEST(upstream_ctx_free_cancels_running_requests)
{
    struct env e;
    struct srv s;
    struct res r, r2;

    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_hold, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab";
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    res_init(&r2);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    /* and one still resolving a name when the ctx goes */
    LX_ASSERT_EQ(LX_OK, start(&e, &r2, "GET", "http://localhost:9/", NULL, NULL));
    for (int i = 0; i < 200 && r.n_data == 0; i++)
        run_for(&e, 2);
    LX_ASSERT_EQ(1, r.n_data);
    r.in_api = r2.in_api = true;
    lx_upstream_ctx_free(e.ctx);
    r.in_api = r2.in_api = false;
    LX_ASSERT_EQ(0, r.done);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    LX_ASSERT_EQ(1, r.done);
    LX_ASSERT_EQ(LX_ECANCELED, r.err.rc);
    LX_ASSERT_EQ(1, r2.done);
    LX_ASSERT_EQ(0, uv_loop_close(&e.loop));
    srv_stop(&s);
    LX_ASSERT(s.eof_ms >= 0 && s.eof_ms < 1000);
    lx_buf_release(&r.body);
    lx_buf_release(&r2.body);
    return 0;
}

LX_TEST(upstream_next_address_on_connect_failure)
{
    struct env e;
    struct srv s, dead;
    struct res r;
    struct sockaddr_storage addrs[2];

    LX_ASSERT_EQ(0, srv_start(&dead, h_canned, NULL)); /* a port nobody listens on any more */
    srv_stop(&dead);
    LX_ASSERT_EQ(0, srv_start(&s, h_canned, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    LX_ASSERT_EQ(0, uv_ip4_addr("127.0.0.1", dead.port, (struct sockaddr_in *)&addrs[0]));
    LX_ASSERT_EQ(0, uv_ip4_addr("127.0.0.1", s.port, (struct sockaddr_in *)&addrs[1]));
    lx__upstream_dns_seed(e.ctx, "multi.test", 8080, addrs, 2, 10000);
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", "http://multi.test:8080/", NULL, NULL));
    wait_done(&e, &r);
    if (r.failed)
        LX_FAIL("failed: %s", r.err.msg);
    LX_ASSERT_STR(lx_buf_str(&r.body), "ok");
    LX_ASSERT(strstr(s.req, "\r\nHost: multi.test:8080\r\n") != NULL);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    lx_buf_release(&r.body);
    return 0;
}

LX_TEST(upstream_proxy_from_environment)
{
    struct srv proxy;
    struct res r;
    struct env e;
    char px[64];

    LX_ASSERT_EQ(0, srv_start(&proxy, h_proxy, NULL));
    proxy.resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    snprintf(px, sizeof(px), "http://127.0.0.1:%u/", proxy.port);
    setenv("HTTP_PROXY", px, 1);
    setenv("NO_PROXY", ".skip.invalid", 1);
    env_init(&e);
    e.cfg.https_proxy = e.cfg.http_proxy = e.cfg.no_proxy = NULL; /* from the environment */
    LX_ASSERT_EQ(0, env_ctx(&e));
    unsetenv("HTTP_PROXY");
    unsetenv("NO_PROXY");
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", "http://provider.example/v1", NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT(!r.failed);
    LX_ASSERT_STREQ(proxy.line, "GET http://provider.example/v1 HTTP/1.1");
    lx_buf_release(&r.body);
    /* NO_PROXY: straight there, which here means a DNS failure, not the proxy */
    res_init(&r);
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", "http://a.skip.invalid/", NULL, NULL));
    wait_done(&e, &r);
    LX_ASSERT_EQ(1, proxy.requests);
    lx_buf_release(&r.body);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&proxy);
    return 0;
}

LX_TEST(upstream_alloc_failures)
{
    struct srv s;
    struct env e;
    int n;

    LX_ASSERT_EQ(0, srv_start(&s, h_canned, NULL));
    s.resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    env_init(&e);
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (n = 0; n < 100; n++) {
        struct res r;

        res_init(&r);
        lx_alloc_fail_after(n);
        int rc = start(&e, &r, "POST", url("http", "127.0.0.1", s.port, "/"), "{}", NULL);
        if (rc == LX_OK)
            wait_done(&e, &r);
        lx_alloc_fail_after(-1);
        lx_buf_release(&r.body);
        if (rc != LX_OK) {
            LX_ASSERT_EQ(LX_ENOMEM, rc);
            continue;
        }
        if (!r.failed)
            break; /* n is past the last fallible allocation */
        if (r.err.rc != LX_ENOMEM)
            LX_FAIL("n=%d: %s", n, r.err.msg);
    }
    LX_ASSERT(n > 0 && n < 100);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    return 0;
}

LX_TEST(upstream_cancel_while_paused)
{
    static char resp[100100];
    struct srv s;
    struct res r;
    struct env e;
    size_t n =
        (size_t)snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");

    memset(resp + n, 'z', 100000);
    resp[n + 100000] = '\0';
    env_init(&e);
    LX_ASSERT_EQ(0, srv_start(&s, h_hold, NULL));
    s.resp = resp;
    s.eof_ms = -2;
    LX_ASSERT_EQ(0, env_ctx(&e));
    res_init(&r);
    r.pause_on = 1;
    LX_ASSERT_EQ(LX_OK, start(&e, &r, "GET", url("http", "127.0.0.1", s.port, "/"), NULL, NULL));
    for (int i = 0; i < 500 && r.n_data == 0; i++)
        run_for(&e, 2);
    LX_ASSERT_EQ(1, r.n_data);
    r.in_api = true;
    lx_upstream_resume(r.up); /* queued ... */
    lx_upstream_cancel(r.up); /* ... but the cancel wins: nothing more is delivered */
    r.in_api = false;
    wait_done(&e, &r);
    LX_ASSERT_EQ(1, r.done);
    LX_ASSERT_EQ(1, r.n_data);
    LX_ASSERT_EQ(LX_ECANCELED, r.err.rc);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    LX_ASSERT(s.eof_ms >= 0 && s.eof_ms < 1000);
    lx_buf_release(&r.body);
    return 0;
}

static int big_body(SSL_CTX *server_tls, const char *ca_file)
{
    size_t n = 5u << 20;
    char *body = malloc(n + 1), want[32];
    struct srv s;
    struct res r;
    struct env e;

    memset(body, 'b', n);
    body[n] = '\0';
    env_init(&e);
    e.cfg.ca_file = ca_file;
    LX_ASSERT_EQ(0, srv_start(&s, h_sink, server_tls));
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int i = 0; i < 2; i++) { /* and the connection is reusable after it */
        res_init(&r);
        LX_ASSERT_EQ(LX_OK, start(&e, &r, "POST",
                                  url(server_tls ? "https" : "http", "127.0.0.1", s.port, "/"),
                                  body, NULL));
        wait_done(&e, &r);
        if (r.failed)
            LX_FAIL("big body: %s", r.err.msg);
        snprintf(want, sizeof(want), "%zu", n);
        LX_ASSERT_STR(lx_buf_str(&r.body), want);
        lx_buf_release(&r.body);
    }
    LX_ASSERT_EQ(1, s.accepts);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    free(body);
    return 0;
}

LX_TEST(upstream_large_request_body)
{
    SSL_CTX *sc = server_ctx();

    LX_ASSERT(sc != NULL);
    LX_ASSERT_EQ(0, big_body(NULL, NULL));
    LX_ASSERT_EQ(0, big_body(sc, ca_path()));
    SSL_CTX_free(sc);
    return 0;
}

/* Many requests at once: one connection each; the pool then keeps max_idle_per_origin of them
 * and the next wave reuses those and opens the rest. */
LX_TEST(upstream_concurrent_requests_and_pool_limit)
{
    enum { WAVE = 12, KEEP = 4 };
    struct srv s;
    struct env e;
    static struct res r[WAVE];

    env_init(&e);
    e.cfg.max_idle_per_origin = KEEP;
    LX_ASSERT_EQ(0, srv_start(&s, h_sink, NULL));
    s.concurrent = true;
    LX_ASSERT_EQ(0, env_ctx(&e));
    for (int wave = 0; wave < 2; wave++) {
        for (int i = 0; i < WAVE; i++) {
            res_init(&r[i]);
            LX_ASSERT_EQ(LX_OK, start(&e, &r[i], "POST", url("http", "127.0.0.1", s.port, "/"),
                                      "12345", NULL));
        }
        for (int i = 0; i < WAVE; i++) {
            wait_done(&e, &r[i]);
            if (r[i].failed)
                LX_FAIL("request %d: %s", i, r[i].err.msg);
            LX_ASSERT_STR(lx_buf_str(&r[i].body), "5");
            lx_buf_release(&r[i].body);
        }
        run_for(&e, 20);
        LX_ASSERT_EQ(wave == 0 ? WAVE : 2 * WAVE - KEEP, s.accepts);
    }
    LX_ASSERT_EQ(2 * WAVE, s.requests);
    LX_ASSERT_EQ(0, env_end(&e));
    srv_stop(&s);
    return 0;
}
