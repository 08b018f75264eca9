/* test_server_resp.c - unit tests of server/: the response head (framing and Connection
 * choices), the HTTP date, and a whole server in-process on an ephemeral port: run, one
 * request over a real socket, drain, and the cap/port handling of lx_server_new. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/buf.h"
#include "core/err.h"
#include "server/server.h"
#include "server/server_int.h"
#include "tests/unit/test.h"

LX_TEST(server_http_date)
{
    char d[LX_SERVER_DATE_LEN + 1];

    lx__format_http_date(0, d);
    LX_ASSERT_STREQ(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    lx__format_http_date(784111777, d); /* RFC 9110's example */
    LX_ASSERT_STREQ(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    lx__format_http_date(951782400, d); /* leap day of a century leap year */
    LX_ASSERT_STREQ(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    lx__format_http_date(4102444799, d);
    LX_ASSERT_STREQ(d, "Thu, 31 Dec 2099 23:59:59 GMT");
    return 0;
}

LX_TEST(server_resp_head_framing)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    struct lx_header h[] = {{LX_STR("Content-Type"), LX_STR("text/plain")},
                            {LX_STR("content-length"), LX_STR("999")}, /* dropped */
                            {LX_STR("Connection"), LX_STR("upgrade")}}; /* dropped */

    LX_ASSERT_EQ(LX_OK, lx__resp_head(&b, 200, h, 3, date, 5, false, true, false));
    LX_ASSERT_STREQ(b.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\n\r\n");
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx__resp_head(&b, 200, NULL, 0, date, -1, true, false, false));
    LX_ASSERT(strstr(b.ptr, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n") != NULL);
    lx_buf_reset(&b);
    /* HTTP/1.0 keep-alive must be announced; close-delimited has no framing field */
    LX_ASSERT_EQ(LX_OK, lx__resp_head(&b, 404, NULL, 0, date, 0, false, true, true));
    LX_ASSERT(strncmp(b.ptr, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    LX_ASSERT(strstr(b.ptr, "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n") != NULL);
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx__resp_head(&b, 200, NULL, 0, date, -1, false, false, true));
    LX_ASSERT(strstr(b.ptr, "Transfer-Encoding") == NULL);
    LX_ASSERT(strstr(b.ptr, "Content-Length") == NULL);
    LX_ASSERT(strstr(b.ptr, "Connection: close\r\n") != NULL);
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx__resp_head(&b, 1000, NULL, 0, date, 0, false, true, false));
    LX_ASSERT(strncmp(b.ptr, "HTTP/1.1 500 ", 13) == 0); /* out of range status */
    lx_buf_release(&b);
    LX_ASSERT_STREQ(lx__status_reason(431), "Request Header Fields Too Large");
    return 0;
}

/* ---- a real server in a thread ---- */

static void ok_handler(struct lx_http_req *req)
{
    struct lx_str body = lx_http_req_body(req);

    if (lx_str_eq(lx_http_req_head(req)->path, LX_STR("/stream"))) {
        lx_http_resp_start(req, 200, NULL, 0, -1);
        lx_http_resp_write(req, LX_STR("ab"));
        lx_http_resp_write(req, LX_STR("")); /* must not end the chunked body */
        lx_http_resp_write(req, LX_STR("cde"));
        lx_http_resp_end(req, false);
        return;
    }
    lx_http_resp_simple(req, 201, LX_STR("text/plain"), body.len ? body : LX_STR("ok"));
}

static void *run_thread(void *arg)
{
    lx_server_run(arg, false);
    return NULL;
}

static int connect_port(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Sends req and reads until the server closes; returns bytes read into out. */
static size_t exchange(unsigned port, const char *req, char *out, size_t cap)
{
    int fd = connect_port(port);
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return 0;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return 0;
    }
    while (got + 1 < cap && (n = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return got;
}

LX_TEST(server_in_process_roundtrip)
{
    struct lx_server_config cfg;
    struct lx_server *s, *s2;
    struct lx_err err;
    pthread_t th;
    char buf[4096];

    lx_server_config_default(&cfg);
    cfg.port = 0;
    cfg.workers = 1;
    cfg.handler = ok_handler;
    cfg.drain_timeout_ms = 200;
    s = lx_server_new(&cfg, &err);
    LX_ASSERT(s != NULL);
    LX_ASSERT(lx_server_port(s) != 0);
    /* a second server on a served port fails, SO_REUSEPORT notwithstanding */
    cfg.port = lx_server_port(s);
    s2 = lx_server_new(&cfg, &err);
    LX_ASSERT(s2 == NULL);
    LX_ASSERT_EQ(LX_ESYS, err.rc);
    cfg.host = "not-an-address"; /* only IP literals */
    s2 = lx_server_new(&cfg, &err);
    LX_ASSERT(s2 == NULL);
    LX_ASSERT_EQ(LX_EINVAL, err.rc);
    LX_ASSERT_EQ(0, pthread_create(&th, NULL, run_thread, s));

    exchange(lx_server_port(s), "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                                "Connection: close\r\n\r\nxyz",
             buf, sizeof(buf));
    LX_ASSERT(strncmp(buf, "HTTP/1.1 201 Created\r\n", 22) == 0);
    LX_ASSERT(strstr(buf, "Connection: close\r\n") != NULL);
    LX_ASSERT(strstr(buf, "\r\n\r\nxyz") != NULL);

    exchange(lx_server_port(s), "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
             buf, sizeof(buf));
    LX_ASSERT(strstr(buf, "\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n") != NULL);

    exchange(lx_server_port(s), "GET / HTTP/1.1\r\n\r\n", buf, sizeof(buf)); /* no Host */
    LX_ASSERT(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    LX_ASSERT(strstr(buf, "\"type\":\"invalid_request_error\"") != NULL);

    lx_server_stop(s, false);
    LX_ASSERT_EQ(0, pthread_join(th, NULL));
    LX_ASSERT(connect_port(lx_server_port(s)) < 0); /* listener gone */
    lx_server_free(s);
    return 0;
}

struct stop_probe {
    unsigned started, stopped;
};

static void *probe_start(uv_loop_t *loop, unsigned index, void *data)
{
    struct stop_probe *p = data;

    (void)loop;
    (void)index;
    __atomic_fetch_add(&p->started, 1, __ATOMIC_SEQ_CST);
    return p;
}

static void probe_stop(void *worker_data)
{
    struct stop_probe *p = worker_data;

    __atomic_fetch_add(&p->stopped, 1, __ATOMIC_SEQ_CST);
}

/* A stop that comes before run: every worker starts, sees it, stops, and run returns. */
LX_TEST(server_stop_before_run)
{
    struct lx_server_config cfg;
    struct lx_server *s;
    struct lx_err err;
    struct stop_probe probe = {0, 0};

    lx_server_config_default(&cfg);
    cfg.port = 0;
    cfg.workers = 2;
    cfg.handler = ok_handler;
    cfg.worker_start = probe_start;
    cfg.worker_stop = probe_stop;
    cfg.data = &probe;
    s = lx_server_new(&cfg, &err);
    LX_ASSERT(s != NULL);
    lx_server_stop(s, false);
    LX_ASSERT_EQ(LX_OK, lx_server_run(s, false));
    LX_ASSERT_EQ(2, probe.started);
    LX_ASSERT_EQ(2, probe.stopped);
    lx_server_free(s);
    return 0;
}
