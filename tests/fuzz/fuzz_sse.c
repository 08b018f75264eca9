/* fuzz_sse.c - libFuzzer target for sse/: the SSE parser must give the same events (and the
 * same final result) whether the input comes whole, in two chunks cut at a point taken from the
 * first byte, in three chunks, or one byte at a time; every event it gives must survive a
 * writer round trip unchanged; the NDJSON splitter must give the same lines however it is cut.
 * Input: byte 0 = cut, byte 1 = flags and limits, the rest = the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "sse/ndjson.h"
#include "sse/sse.h"
#include "sse/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void put_str(struct lx_buf *b, struct lx_str s)
{
    lx_buf_append(b, &s.len, sizeof(s.len));
    lx_buf_append(b, s.ptr, s.len);
}

/* Serializes every event exactly (lengths first) into the lx_buf ctx. */
static int record_cb(void *ctx, const struct lx_sse_event *ev)
{
    struct lx_buf *b = ctx;
    unsigned char head[2] = {(unsigned char)ev->kind, (unsigned char)ev->has_data};

    lx_buf_append(b, head, sizeof(head));
    lx_buf_append(b, &ev->retry, sizeof(ev->retry));
    put_str(b, ev->event);
    put_str(b, ev->data);
    put_str(b, ev->id);
    return b->err;
}

/* The event goes through the writer and a fresh parser and must come back the same. */
static int roundtrip_cb(void *ctx, const struct lx_sse_event *ev)
{
    struct lx_buf w = LX_BUF_INIT(1 << 22), a = LX_BUF_INIT(1 << 22), b = LX_BUF_INIT(1 << 22);
    struct lx_sse_parser p;
    int rc;

    (void)ctx;
    if (ev->kind != LX_SSE_EVENT || !ev->has_data)
        return LX_OK;
    /* parsed fields never hold a line end (nor the id a NUL), so the writer must accept them */
    CHECK(lx_sse_write(&w, ev->event, ev->id.len ? ev->id : LX_STR_NULL, ev->data) == LX_OK);
    lx_sse_init(&p, 1 << 22);
    rc = lx_sse_feed(&p, lx_buf_str(&w), record_cb, &b);
    CHECK(rc == LX_OK && lx_sse_finish(&p) == LX_OK);
    lx_sse_release(&p);
    struct lx_sse_event want = *ev;
    want.retry = -1;
    record_cb(&a, &want);
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
    lx_buf_release(&w);
    lx_buf_release(&a);
    lx_buf_release(&b);
    return LX_OK;
}

/* Feeds the chunks cut at cuts[0..n) and returns the result; events into out. */
static int run_sse(const char *in, size_t len, const size_t *cuts, size_t n, unsigned flags,
                   size_t max, lx_sse_event_cb *cb, struct lx_buf *out)
{
    struct lx_sse_parser p;
    size_t from = 0;
    int rc = LX_OK;

    lx_sse_init(&p, max);
    lx_sse_set_flags(&p, flags);
    for (size_t k = 0; k <= n && rc == LX_OK; k++) {
        size_t to = k < n ? cuts[k] : len;

        rc = lx_sse_feed(&p, lx_str_make(in + from, to - from), cb, out);
        from = to;
    }
    if (rc == LX_OK)
        rc = lx_sse_finish(&p);
    lx_sse_release(&p);
    return rc;
}

static int line_cb(void *ctx, struct lx_str line)
{
    struct lx_buf *b = ctx;

    CHECK(line.len > 0 && memchr(line.ptr, '\n', line.len) == NULL);
    put_str(b, line);
    return b->err;
}

static int run_ndjson(const char *in, size_t len, size_t cut, size_t max, struct lx_buf *out)
{
    struct lx_ndjson s;
    int rc;

    lx_ndjson_init(&s, max);
    rc = lx_ndjson_feed(&s, lx_str_make(in, cut), line_cb, out);
    if (rc == LX_OK)
        rc = lx_ndjson_feed(&s, lx_str_make(in + cut, len - cut), line_cb, out);
    if (rc == LX_OK)
        rc = lx_ndjson_finish(&s);
    lx_ndjson_release(&s);
    return rc;
}

static void same(const struct lx_buf *a, int rca, const struct lx_buf *b, int rcb)
{
    CHECK(rca == rcb);
    CHECK(a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in;
    size_t len, cut, cuts[2], max;
    unsigned flags;
    struct lx_buf whole = LX_BUF_INIT(1 << 24), split = LX_BUF_INIT(1 << 24);
    int rc_whole, rc;

    if (size < 2)
        return 0;
    in = (const char *)data + 2;
    len = size - 2;
    cut = len * data[0] / 255;
    flags = data[1] & 3u;
    /* small limits now and then, so that LX_ETOOBIG paths are compared too */
    max = (data[1] & 4u) ? 16 + (data[1] >> 3) * 4 : 1 << 20;

    rc_whole = run_sse(in, len, NULL, 0, flags, max, record_cb, &whole);
    CHECK(whole.err == LX_OK);

    rc = run_sse(in, len, &cut, 1, flags, max, record_cb, &split);
    same(&whole, rc_whole, &split, rc);

    lx_buf_reset(&split);
    cuts[0] = cut / 2;
    cuts[1] = cut + (len - cut) / 3;
    rc = run_sse(in, len, cuts, 2, flags, max, record_cb, &split);
    same(&whole, rc_whole, &split, rc);

    if (len <= 2048) {
        size_t *all = malloc(len * sizeof(*all) + 1);

        CHECK(all != NULL);
        for (size_t i = 0; i < len; i++)
            all[i] = i + 1;
        lx_buf_reset(&split);
        rc = run_sse(in, len, all, len, flags, max, record_cb, &split);
        same(&whole, rc_whole, &split, rc);
        free(all);
    }

    run_sse(in, len, NULL, 0, flags, 1 << 20, roundtrip_cb, NULL);

    lx_buf_reset(&whole);
    lx_buf_reset(&split);
    rc_whole = run_ndjson(in, len, len, max, &whole);
    rc = run_ndjson(in, len, cut, max, &split);
    same(&whole, rc_whole, &split, rc);

    lx_buf_release(&whole);
    lx_buf_release(&split);
    return 0;
}
