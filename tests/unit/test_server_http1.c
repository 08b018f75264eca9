/* test_server_http1.c - the lx_http1_* API: pipelining with pause/resume, chunked bodies split
 * anywhere, limits, persistence, Expect, target forms, header storage, EOF, callback errors and
 * allocation failures. The corpus itself runs in test_server_http1_corpus.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "server/http1.h"
#include "tests/unit/test.h"

/* What the callbacks saw, copied out (slices die after on_complete). */
struct seen {
    int heads, completes;
    char method[16], target[1024], path[256], query[1024], host[128];
    char body[4096];
    size_t body_len;
    bool keep_alive, expect_continue, chunked;
    unsigned version_minor;
    uint64_t content_length;
    size_t n_headers;
    char hname[8][32], hvalue[8][64];
    bool pause_each;
    int head_rc;
};

static void copy(char *dst, size_t cap, struct lx_str s)
{
    size_t n = LX_MIN(s.len, cap - 1);

    if (n > 0)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static int on_head(void *ctx, const struct lx_http1_head *h)
{
    struct seen *s = ctx;

    s->heads++;
    copy(s->method, sizeof(s->method), h->method);
    copy(s->target, sizeof(s->target), h->target);
    copy(s->path, sizeof(s->path), h->path);
    copy(s->query, sizeof(s->query), h->query);
    copy(s->host, sizeof(s->host), h->host);
    s->keep_alive = h->keep_alive;
    s->expect_continue = h->expect_continue;
    s->chunked = h->chunked;
    s->version_minor = h->version_minor;
    s->content_length = h->content_length;
    s->n_headers = h->n_headers;
    for (size_t i = 0; i < h->n_headers && i < 8; i++) {
        copy(s->hname[i], sizeof(s->hname[i]), h->headers[i].name);
        copy(s->hvalue[i], sizeof(s->hvalue[i]), h->headers[i].value);
    }
    s->body_len = 0;
    return s->head_rc;
}

static int on_body(void *ctx, struct lx_str chunk)
{
    struct seen *s = ctx;

    if (s->body_len + chunk.len > sizeof(s->body))
        return LX_ETOOBIG;
    memcpy(s->body + s->body_len, chunk.ptr, chunk.len);
    s->body_len += chunk.len;
    return LX_OK;
}

static int on_complete(void *ctx, const struct lx_http1_head *h)
{
    struct seen *s = ctx;

    /* the head slices must still be valid here */
    if (strlen(s->method) != h->method.len || memcmp(s->method, h->method.ptr, h->method.len))
        return LX_EINVAL;
    s->completes++;
    return s->pause_each ? LX_EPAUSE : LX_OK;
}

static const struct lx_http1_cbs cbs = {on_head, on_body, on_complete};

/* Feeds all of `in` in pieces of `step` (0 = whole), resuming after pauses. */
static int feed_all(struct lx_http1_parser *p, const char *in, size_t len, size_t step)
{
    size_t off = 0;

    while (off < len) {
        size_t n = step ? LX_MIN(step, len - off) : len - off, used = 0;
        int rc = lx_http1_feed(p, in + off, n, &used);

        off += used;
        if (rc == LX_EPAUSE)
            lx_http1_resume(p);
        else if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

static int parse(const char *in, const struct lx_http1_limits *lim, struct seen *s, int *status)
{
    struct lx_http1_parser *p = lx_http1_new(lim, &cbs, s);
    int rc = feed_all(p, in, strlen(in), 0);

    *status = lx_http1_error_status(p);
    lx_http1_free(p);
    return rc;
}

LX_TEST(http1_simple_get)
{
    struct seen s = {0};
    int st;

    LX_ASSERT_EQ(LX_OK, parse("GET /v1/models HTTP/1.1\r\nHost: example.com\r\n"
                              "Accept:  */*  \r\n\r\n",
                              NULL, &s, &st));
    LX_ASSERT_EQ(1, s.completes);
    LX_ASSERT_STREQ(s.method, "GET");
    LX_ASSERT_STREQ(s.path, "/v1/models");
    LX_ASSERT_STREQ(s.query, "");
    LX_ASSERT_STREQ(s.host, "example.com");
    LX_ASSERT_EQ(2, s.n_headers);
    LX_ASSERT_STREQ(s.hname[1], "Accept");
    LX_ASSERT_STREQ(s.hvalue[1], "*/*");
    LX_ASSERT(s.keep_alive);
    LX_ASSERT_EQ(1, s.version_minor);
    return 0;
}

LX_TEST(http1_pipeline_pause_resume)
{
    static const char in[] = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                             "GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
                             "\r\nDELETE /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                             "GET /ignored HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *firsts[] = {"/a", "/b?x=1", "/c"};
    struct seen s = {.pause_each = true};
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &s);
    size_t off = 0, used;

    for (int k = 0; k < 3; k++) {
        LX_ASSERT_EQ(LX_EPAUSE, lx_http1_feed(p, in + off, sizeof(in) - 1 - off, &used));
        off += used;
        LX_ASSERT_EQ(k + 1, s.completes);
        LX_ASSERT_STREQ(s.target, firsts[k]);
        LX_ASSERT(!lx_http1_in_message(p));
        /* still paused: nothing is consumed */
        LX_ASSERT_EQ(LX_EPAUSE, lx_http1_feed(p, in + off, sizeof(in) - 1 - off, &used));
        LX_ASSERT_EQ(0, used);
        lx_http1_resume(p);
    }
    LX_ASSERT_STREQ(s.body, "abc");
    LX_ASSERT(!s.keep_alive);
    /* after the closing request the rest is ignored, not parsed */
    LX_ASSERT_EQ(LX_OK, lx_http1_feed(p, in + off, sizeof(in) - 1 - off, &used));
    LX_ASSERT_EQ(sizeof(in) - 1 - off, used);
    LX_ASSERT_EQ(3, s.completes);
    LX_ASSERT_EQ(LX_OK, lx_http1_finish(p));
    lx_http1_free(p);
    return 0;
}

LX_TEST(http1_chunked_split_anywhere)
{
    static const char in[] = "POST /v1/chat HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip , "
                             "\r\ntransfer-encoding: CHUNKED\r\n\r\n";
    static const char in_ok[] = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  chunked\r\n\r\n"
                                "5 ; a = b ;c=\"q\\\"x\"\r\nhello\r\n"
                                "00000000000000000000006\r\n world\r\n"
                                "0\r\nX-Trailer: t\r\nHost: evil\r\n\r\n"
                                "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = sizeof(in_ok) - 1;
    struct seen s0 = {0};
    int st;

    /* an empty list element in a combined TE is refused */
    LX_ASSERT_EQ(LX_EPARSE, parse(in, NULL, &s0, &st));
    LX_ASSERT_EQ(400, st);
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};
        struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &s);
        size_t used;

        LX_ASSERT_EQ(LX_OK, lx_http1_feed(p, in_ok, cut, &used));
        LX_ASSERT_EQ(cut, used);
        LX_ASSERT_EQ(LX_OK, lx_http1_feed(p, in_ok + cut, len - cut, &used));
        LX_ASSERT_EQ(len - cut, used);
        LX_ASSERT_EQ(LX_OK, lx_http1_finish(p));
        LX_ASSERT_EQ(2, s.completes);
        lx_http1_free(p);
    }
    /* bodies of the first request, byte by byte */
    struct seen s = {0};
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &s);
    LX_ASSERT_EQ(LX_OK, feed_all(p, in_ok, len - 31, 1));
    LX_ASSERT(s.chunked);
    LX_ASSERT_EQ(11, s.body_len);
    LX_ASSERT(memcmp(s.body, "hello world", 11) == 0);
    LX_ASSERT_STREQ(s.host, "h"); /* trailer Host is discarded */
    LX_ASSERT_EQ(1, s.completes);
    lx_http1_free(p);
    return 0;
}

LX_TEST(http1_chunk_errors)
{
    static const char *bad[] = {
        "1\r\nab\r\n0\r\n\r\n",                     /* data longer than the size */
        "0x1\r\na\r\n0\r\n\r\n",                    /* 0x prefix */
        " 1\r\na\r\n0\r\n\r\n",                     /* leading space */
        "1 \r\na\r\n0\r\n\r\n",                     /* trailing space without ';' */
        "10000000000000001\r\na\r\n0\r\n\r\n",      /* overflow */
        "1;\r\na\r\n0\r\n\r\n",                     /* empty extension name */
        "1;a=\"x\r\na\r\n0\r\n\r\n",                /* unterminated quoted-string */
        "1\na\r\n0\r\n\r\n",                        /* bare LF */
        "1\r\na\r\n0\r\nContent-Length: 1\r\n\r\n", /* framing field in trailer */
        "1\r\na\r\n0\r\nX: a\r\n b\r\n\r\n",        /* obs-fold in trailer */
    };
    char req[256];

    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        struct seen s = {0};
        int st;

        snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "\r\n%s",
                 bad[i]);
        if (parse(req, NULL, &s, &st) == LX_OK)
            LX_FAIL("accepted chunked body %zu", i);
        LX_ASSERT_EQ(400, st);
        LX_ASSERT_EQ(0, s.completes);
    }
    return 0;
}

LX_TEST(http1_limits)
{
    struct lx_http1_limits lim;
    struct seen s = {0};
    char big[2048];
    int st;

    lx_http1_limits_default(&lim);
    lim.max_header_fields = 2;
    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", &lim, &s, &st));
    LX_ASSERT_EQ(LX_ETOOBIG,
                 parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", &lim, &s, &st));
    LX_ASSERT_EQ(431, st);

    lx_http1_limits_default(&lim);
    lim.max_header_bytes = 64;
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    big[sizeof(big) - 1] = '\0'; /* the header section never ends */
    LX_ASSERT_EQ(LX_ETOOBIG, parse(big, &lim, &s, &st));
    LX_ASSERT_EQ(431, st);

    lx_http1_limits_default(&lim);
    lim.max_target = 100;
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    big[400] = '\0'; /* a long target still arriving (past max_target and the slack) */
    LX_ASSERT_EQ(LX_ETOOBIG, parse(big, &lim, &s, &st));
    LX_ASSERT_EQ(414, st);
    static const char tail[] = " HTTP/1.1\r\nHost: h\r\n\r\n";
    memcpy(big + 105, tail, sizeof(tail)); /* target of 101 bytes */
    LX_ASSERT_EQ(LX_ETOOBIG, parse(big, &lim, &s, &st));
    LX_ASSERT_EQ(414, st);
    memcpy(big + 104, tail, sizeof(tail)); /* exactly 100 */
    LX_ASSERT_EQ(LX_OK, parse(big, &lim, &s, &st));

    /* declared body too big: 413 with the head alone, before any body byte */
    lx_http1_limits_default(&lim);
    lim.max_body = 10;
    memset(&s, 0, sizeof(s));
    LX_ASSERT_EQ(LX_ETOOBIG,
                 parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", &lim, &s, &st));
    LX_ASSERT_EQ(413, st);
    LX_ASSERT_EQ(0, s.heads);
    LX_ASSERT_EQ(LX_OK, parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789",
                              &lim, &s, &st));
    /* chunked body growing past the limit */
    memset(&s, 0, sizeof(s));
    LX_ASSERT_EQ(LX_ETOOBIG,
                 parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "6\r\n012345\r\n5\r\n",
                       &lim, &s, &st));
    LX_ASSERT_EQ(413, st);
    LX_ASSERT_EQ(6, s.body_len);
    return 0;
}

LX_TEST(http1_header_storage_grows)
{
    /* a head larger than the first buffer, byte by byte: slices must survive every move */
    char in[6000];
    size_t n = 0;
    struct seen s = {0};
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &s);

    n += (size_t)snprintf(in + n, sizeof(in) - n, "OPTIONS /p?q=%0900d HTTP/1.1\r\nHost: h\r\n", 7);
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "X-%d: %0700d\r\n", i, i);
    n += (size_t)snprintf(in + n, sizeof(in) - n, "Last: v\r\n\r\n");
    LX_ASSERT_EQ(LX_OK, feed_all(p, in, n, 1));
    LX_ASSERT_EQ(1, s.completes);
    LX_ASSERT_STREQ(s.method, "OPTIONS");
    LX_ASSERT_STREQ(s.path, "/p");
    LX_ASSERT_EQ(902, strlen(s.query));
    LX_ASSERT_EQ(8, s.n_headers);
    LX_ASSERT_STREQ(s.hname[7], "Last");
    LX_ASSERT_STREQ(s.hvalue[7], "v");
    LX_ASSERT_STREQ(s.hname[3], "X-2");
    lx_http1_free(p);
    return 0;
}

LX_TEST(http1_persistence)
{
    struct seen s = {0};
    int st;

    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.0\r\n\r\n", NULL, &s, &st));
    LX_ASSERT(!s.keep_alive);
    LX_ASSERT_EQ(0, s.version_minor);
    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", NULL, &s, &st));
    LX_ASSERT(s.keep_alive);
    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.0\r\nKeep-Alive: 300\r\n\r\n", NULL, &s, &st));
    LX_ASSERT(!s.keep_alive);
    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n",
                              NULL, &s, &st));
    LX_ASSERT(!s.keep_alive);
    LX_ASSERT_EQ(LX_OK,
                 parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", NULL, &s, &st));
    LX_ASSERT(s.keep_alive);
    LX_ASSERT_EQ(LX_OK, parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT(s.keep_alive);
    LX_ASSERT_EQ(1, s.version_minor);
    return 0;
}

LX_TEST(http1_expect)
{
    struct seen s = {0};
    int st;

    LX_ASSERT_EQ(LX_OK, parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                              "Content-Length: 1\r\n\r\nx",
                              NULL, &s, &st));
    LX_ASSERT(s.expect_continue);
    LX_ASSERT_EQ(LX_OK, parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n"
                              "\r\nx",
                              NULL, &s, &st));
    LX_ASSERT(!s.expect_continue);
    LX_ASSERT_EQ(LX_EPARSE,
                 parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_EQ(417, st);
    return 0;
}

LX_TEST(http1_target_forms)
{
    struct seen s = {0};
    int st;

    LX_ASSERT_EQ(LX_OK, parse("POST http://api.example.com:8080/v1/chat?stream=1&x=%2F HTTP/1.1\r\n"
                              "Host: other\r\nContent-Length: 0\r\n\r\n",
                              NULL, &s, &st));
    LX_ASSERT_STREQ(s.host, "api.example.com:8080");
    LX_ASSERT_STREQ(s.path, "/v1/chat");
    LX_ASSERT_STREQ(s.query, "stream=1&x=%2F");
    LX_ASSERT_EQ(LX_OK, parse("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", NULL,
                              &s, &st));
    LX_ASSERT_STREQ(s.path, "/");
    LX_ASSERT_STREQ(s.query, "");
    LX_ASSERT_EQ(LX_OK, parse("GET http://[::1]:80?a HTTP/1.1\r\nHost: x\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_STREQ(s.host, "[::1]:80");
    LX_ASSERT_STREQ(s.path, "/");
    LX_ASSERT_STREQ(s.query, "a");
    LX_ASSERT_EQ(LX_OK, parse("GET /a/b?c=d?e/f HTTP/1.1\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_STREQ(s.path, "/a/b");
    LX_ASSERT_STREQ(s.query, "c=d?e/f");
    LX_ASSERT_EQ(LX_OK, parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_STREQ(s.path, "/a");
    LX_ASSERT_STREQ(s.query, "");
    LX_ASSERT_EQ(LX_OK, parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_STREQ(s.target, "*");

    static const char *bad[] = {
        "GET * HTTP/1.1",        "GET http://u@h/ HTTP/1.1", "GET http:///x HTTP/1.1",
        "GET ftp://h/ HTTP/1.1", "GET /a#f HTTP/1.1",        "GET /%zz HTTP/1.1",
        "GET /a|b HTTP/1.1",     "GET h:80 HTTP/1.1",        "GET /a  HTTP/1.1",
        "GET  /a HTTP/1.1",      "GET /a\tHTTP/1.1",         "GET /a HTTP/1.01",
    };
    char req[128];

    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        snprintf(req, sizeof(req), "%s\r\nHost: h\r\n\r\n", bad[i]);
        if (parse(req, NULL, &s, &st) != LX_EPARSE || st != 400)
            LX_FAIL("not refused with 400: %s (status %d)", bad[i], st);
    }
    LX_ASSERT_EQ(LX_EPARSE, parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_EQ(505, st);
    LX_ASSERT_EQ(LX_EPARSE, parse("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_EQ(501, st);
    return 0;
}

LX_TEST(http1_framing_fields)
{
    static const struct {
        const char *fields;
        int status;
    } cases[] = {
        {"Content-Length: 1\r\nContent-Length: 1\r\n", 400},
        {"Content-Length: 1, 1\r\n", 400},
        {"Content-Length: +1\r\n", 400},
        {"Content-Length: 99999999999999999999999\r\n", 400},
        {"Content_Length: 1\r\n", 400},
        {"Transfer----------------------------------------------------------------Encoding: "
         "chunked\r\n",
         400},
        {"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n", 400},
        {"Transfer-Encoding: chunked, gzip\r\n", 400},
        {"Transfer-Encoding: chunked;q=1\r\n", 400},
        {"Transfer-Encoding: \"chunked\"\r\n", 400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
        {"Transfer-Encoding: gzip, chunked\r\n", 501},
        {"Host : h\r\n", 400},
        {"X-A: a\x01\r\n", 400},
        {"X-A: a\x7f\r\n", 400},
    };
    char req[512];

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct seen s = {0};
        int st;

        snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].fields);
        if (parse(req, NULL, &s, &st) == LX_OK || st != cases[i].status)
            LX_FAIL("case %zu: status %d, want %d", i, st, cases[i].status);
    }
    /* obs-text in a value is fine; leading zeros in Content-Length too */
    struct seen s = {0};
    int st;
    LX_ASSERT_EQ(LX_OK, parse("POST / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\xff\r\n"
                              "Content-Length: 0003\r\n\r\nabc",
                              NULL, &s, &st));
    LX_ASSERT_EQ(3, s.content_length);
    LX_ASSERT_STREQ(s.hvalue[1], "caf\xc3\xa9\xff");
    return 0;
}

LX_TEST(http1_eof)
{
    struct seen s = {0};
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &s);
    static const char in[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab";
    size_t used;

    LX_ASSERT(!lx_http1_in_message(p));
    LX_ASSERT_EQ(LX_OK, lx_http1_finish(p));
    LX_ASSERT_EQ(LX_OK, lx_http1_feed(p, in, 5, &used));
    LX_ASSERT(lx_http1_in_message(p));
    LX_ASSERT_EQ(LX_OK, lx_http1_feed(p, in + 5, sizeof(in) - 6, &used));
    LX_ASSERT(lx_http1_in_message(p));
    LX_ASSERT_EQ(LX_ETRUNCATED, lx_http1_finish(p));
    LX_ASSERT_EQ(0, lx_http1_error_status(p)); /* no response owed */
    LX_ASSERT_EQ(0, s.completes);
    /* dead: stays dead */
    LX_ASSERT_EQ(LX_ETRUNCATED, lx_http1_feed(p, "x", 1, &used));
    LX_ASSERT_EQ(0, used);
    lx_http1_free(p);
    return 0;
}

LX_TEST(http1_callback_error)
{
    struct seen s = {.head_rc = LX_EINVAL};
    int st;

    LX_ASSERT_EQ(LX_EINVAL, parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", NULL, &s, &st));
    LX_ASSERT_EQ(0, st);
    LX_ASSERT_EQ(0, s.completes);
    return 0;
}

LX_TEST(http1_alloc_failures)
{
    char in[4000];
    int n = snprintf(in, sizeof(in), "GET /%02000d HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", 1);

    for (long k = 0;; k++) {
        struct seen s = {0};
        struct lx_http1_parser *p;
        int rc;

        lx_alloc_fail_after(k);
        p = lx_http1_new(NULL, &cbs, &s);
        if (p == NULL) {
            lx_alloc_fail_after(-1);
            continue;
        }
        rc = feed_all(p, in, (size_t)n, 7);
        lx_alloc_fail_after(-1);
        lx_http1_free(p);
        if (rc == LX_OK) {
            LX_ASSERT_EQ(1, s.completes);
            break;
        }
        LX_ASSERT_EQ(LX_ENOMEM, rc);
        LX_ASSERT(k < 50);
    }
    return 0;
}

LX_TEST(http1_value_ctl_anywhere)
{
    /* a control character or DEL at any place of a long value is refused; HTAB and obs-text
     * are not (the value check works on 8-byte blocks) */
    static const char bad[] = {'\0', '\x01', '\x1f', '\x7f', '\r', '\n'};
    char req[256], value[41];

    for (size_t pos = 0; pos < sizeof(value) - 1; pos++) {
        for (size_t k = 0; k <= LX_ARRAY_SIZE(bad); k++) {
            struct seen s = {0};
            struct lx_http1_parser *p;
            size_t n, used;
            int rc;

            memset(value, 'v', sizeof(value) - 1);
            value[sizeof(value) - 1] = '\0';
            value[pos] = k < LX_ARRAY_SIZE(bad) ? 'X' : '\t';
            if (pos % 3 == 0)
                value[(pos + 5) % 40] = '\xe9';
            n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nX: %s\r\n\r\n",
                                 value);
            if (k < LX_ARRAY_SIZE(bad))
                req[n - 4 - 40 + pos] = bad[k];
            p = lx_http1_new(NULL, &cbs, &s);
            rc = lx_http1_feed(p, req, n, &used);
            if (k < LX_ARRAY_SIZE(bad) && (rc != LX_EPARSE || lx_http1_error_status(p) != 400))
                LX_FAIL("byte %#x at %zu not refused", (unsigned char)bad[k], pos);
            if (k == LX_ARRAY_SIZE(bad) && (rc != LX_OK || s.completes != 1))
                LX_FAIL("HTAB at %zu refused", pos);
            lx_http1_free(p);
        }
    }
    return 0;
}

/* Feeds `in` whole or byte by byte with small limits; returns the error status (0 = none). */
static int status_of(const char *in, size_t len, size_t step)
{
    struct lx_http1_limits lim = {
        .max_header_bytes = 64, .max_header_fields = 8, .max_target = 32, .max_body = 64};
    struct seen s = {0};
    struct lx_http1_parser *p = lx_http1_new(&lim, &cbs, &s);
    int st;

    feed_all(p, in, len, step);
    st = lx_http1_error_status(p);
    lx_http1_free(p);
    return st;
}

LX_TEST(http1_limit_edge_split_independent)
{
    /* a bare CR or bad byte placed around where the limits bite, in lines of every length
     * around the limit: the first error must be the same whether the bytes come at once or
     * one by one */
    char in[512];

    for (int line = 0; line < 2; line++) {
        for (int width = 20; width < 90; width++) {
            for (size_t pos = 0; pos < 100; pos++) {
                for (int kind = 0; kind < 3; kind++) {
                    size_t n, at;

                    if (line == 0)
                        n = (size_t)snprintf(in, sizeof(in),
                                             "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", width, 0);
                    else
                        n = (size_t)snprintf(in, sizeof(in),
                                             "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d\r\n\r\n", width,
                                             0);
                    at = (line == 0 ? 5 : 28) + pos;
                    char c = kind == 0 ? '\r' : kind == 1 ? '\n' : '\x01';
                    if (at >= n - 4 || in[at] == c)
                        continue;
                    in[at] = c;
                    int whole = status_of(in, n, 0), bytes = status_of(in, n, 1);
                    if (whole != bytes)
                        LX_FAIL("line %d width %d pos %zu kind %d: whole %d, bytes %d", line, width,
                                pos, kind, whole, bytes);
                    LX_ASSERT(whole != 0);
                }
            }
        }
    }
    return 0;
}
