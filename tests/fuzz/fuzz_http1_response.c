/* fuzz_http1_response.c - arbitrary bytes as an upstream's response, fed to the socket-free
 * parser of upstream/ (response.c) whole and split at a point taken from the input, with and
 * without an EOF, as a GET and as a HEAD. Both ways must agree on the outcome, the status and
 * every body byte. Single-threaded; owns nothing past one call. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "upstream/upstream_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    int heads, status, rc;
    bool complete;
    size_t used;
    struct lx_buf body;
};

static int f_head(void *arg, int status, const struct lx_header *h, size_t n)
{
    struct out *o = arg;

    volatile unsigned sum = 0;

    for (size_t i = 0; i < n; i++) { /* touch every byte the slices claim (ASan checks) */
        if (h[i].name.len == 0)
            abort();
        for (size_t j = 0; j < h[i].name.len; j++)
            sum += (unsigned char)h[i].name.ptr[j];
        for (size_t j = 0; j < h[i].value.len; j++)
            sum += (unsigned char)h[i].value.ptr[j];
    }
    (void)sum;
    o->heads++;
    o->status = status;
    return LX_OK;
}

static int f_data(void *arg, struct lx_str chunk)
{
    struct out *o = arg;

    lx_buf_append(&o->body, chunk.ptr, chunk.len);
    /* pause now and then: a resumed parser must lose nothing */
    return (o->body.len & 7) == 3 ? LX_EPAUSE : LX_OK;
}

/* Feeds p[0..n) in pieces cut at `cut`, resuming after every pause, then EOF if asked. */
static void run(const char *p, size_t n, size_t cut, bool head_req, bool eof, struct out *o)
{
    struct lx__upstream_resp r;
    size_t off = 0, end = cut, used;

    memset(o, 0, sizeof(*o));
    lx_buf_init(&o->body, 1 << 20);
    lx__upstream_resp_init(&r, 4096, head_req, f_head, f_data, o);
    o->rc = LX_OK;
    while (off < n) {
        if (off >= end)
            end = n;
        o->rc = lx__upstream_resp_feed(&r, p + off, end - off, &used);
        off += used;
        o->used = off;
        if (o->rc == LX_EPAUSE) {
            o->rc = LX_OK;
            continue;
        }
        if (o->rc != LX_OK || r.complete)
            break;
    }
    if (o->rc == LX_OK && !r.complete && eof)
        o->rc = lx__upstream_resp_eof(&r);
    o->complete = r.complete;
    lx__upstream_resp_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct out a, b;
    size_t cut;
    bool head_req, eof;

    if (size < 1)
        return 0;
    cut = data[0] % (size + 1);
    head_req = data[0] & 0x40;
    eof = data[0] & 0x80;
    data++;
    size--;
    if (cut > size)
        cut = size;
    run((const char *)data, size, size, head_req, eof, &a);
    run((const char *)data, size, cut, head_req, eof, &b);
    if (a.rc != b.rc || a.heads != b.heads || a.status != b.status || a.complete != b.complete ||
        a.body.len != b.body.len || memcmp(a.body.ptr, b.body.ptr, a.body.len) != 0)
        abort();
    if (a.complete && a.used != b.used)
        abort();
    lx_buf_release(&a.body);
    lx_buf_release(&b.body);
    return 0;
}
