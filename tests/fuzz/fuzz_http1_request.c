/* fuzz_http1_request.c - libFuzzer target for the inbound HTTP/1.1 parser (server/http1.c).
 * The first input byte picks a split point; the rest is fed once whole and once in two pieces
 * at that point (and a third time byte by byte for short inputs). Every way must deliver the
 * same requests (a hash of each head and body), the same verdict and the same error status,
 * because network reads can cut anywhere. Small limits make the limit paths reachable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "server/http1.h"

struct result {
    uint64_t hash;
    int requests, rc, status;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        *h = (*h ^ s[i]) * 1099511628211u;
}

static void mix_str(uint64_t *h, struct lx_str s)
{
    mix(h, &s.len, sizeof(s.len));
    if (s.len > 0)
        mix(h, s.ptr, s.len);
}

static int on_head(void *ctx, const struct lx_http1_head *hd)
{
    struct result *r = ctx;
    unsigned flags = hd->keep_alive | hd->expect_continue << 1 | hd->chunked << 2;

    mix_str(&r->hash, hd->method);
    mix_str(&r->hash, hd->target);
    mix_str(&r->hash, hd->path);
    mix_str(&r->hash, hd->query);
    mix_str(&r->hash, hd->host);
    mix(&r->hash, &hd->version_minor, sizeof(hd->version_minor));
    mix(&r->hash, &flags, sizeof(flags));
    mix(&r->hash, &hd->content_length, sizeof(hd->content_length));
    for (size_t i = 0; i < hd->n_headers; i++) {
        mix_str(&r->hash, hd->headers[i].name);
        mix_str(&r->hash, hd->headers[i].value);
    }
    return LX_OK;
}

static int on_body(void *ctx, struct lx_str chunk)
{
    struct result *r = ctx;

    mix(&r->hash, chunk.ptr, chunk.len); /* content only: piece boundaries may differ */
    return LX_OK;
}

static int on_complete(void *ctx, const struct lx_http1_head *hd)
{
    struct result *r = ctx;

    r->requests++;
    mix(&r->hash, "|", 1);
    return hd->keep_alive ? LX_OK : LX_EPAUSE;
}

static const struct lx_http1_cbs cbs = {on_head, on_body, on_complete};

static void run(const uint8_t *data, size_t len, size_t step, struct result *r)
{
    struct lx_http1_limits lim = {
        .max_header_bytes = 512, .max_header_fields = 8, .max_target = 128, .max_body = 1024};
    struct lx_http1_parser *p;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    r->hash = 14695981039346656037u;
    p = lx_http1_new(&lim, &cbs, r);
    if (p == NULL)
        abort();
    while (off < len) {
        size_t n = step ? (len - off < step ? len - off : step) : len - off, used = 0;
        int rc = lx_http1_feed(p, (const char *)data + off, n, &used);

        if (used > n)
            abort();
        off += used;
        if (rc == LX_EPAUSE) {
            break; /* only a closing request pauses here: the server stops reading */
        } else if (rc != LX_OK) {
            r->rc = rc;
            break;
        } else if (used != n) {
            abort(); /* LX_OK means everything was consumed */
        }
    }
    if (r->rc == LX_OK && off == len)
        r->rc = lx_http1_finish(p);
    r->status = lx_http1_error_status(p);
    if (r->rc == LX_OK && r->status != 0)
        abort();
    lx_http1_free(p);
}

static void split_run(const uint8_t *data, size_t len, size_t cut, struct result *r)
{
    struct lx_http1_limits lim = {
        .max_header_bytes = 512, .max_header_fields = 8, .max_target = 128, .max_body = 1024};
    struct lx_http1_parser *p;
    size_t off = 0, ends[2] = {cut, len};

    memset(r, 0, sizeof(*r));
    r->hash = 14695981039346656037u;
    p = lx_http1_new(&lim, &cbs, r);
    if (p == NULL)
        abort();
    for (int k = 0; k < 2 && r->rc == LX_OK; k++) {
        size_t used = 0;
        int rc = lx_http1_feed(p, (const char *)data + off, ends[k] - off, &used);

        off += used;
        if (rc == LX_EPAUSE)
            break;
        if (rc != LX_OK)
            r->rc = rc;
    }
    if (r->rc == LX_OK && off == len)
        r->rc = lx_http1_finish(p);
    r->status = lx_http1_error_status(p);
    lx_http1_free(p);
}

static void same(const struct result *a, const struct result *b)
{
    if (a->requests != b->requests || a->hash != b->hash || (a->rc == LX_OK) != (b->rc == LX_OK) ||
        a->status != b->status)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole, split, bytes;
    size_t cut;

    if (size < 1)
        return 0;
    cut = data[0];
    data++;
    size--;
    if (cut > size)
        cut = size;
    run(data, size, 0, &whole);
    split_run(data, size, cut, &split);
    same(&whole, &split);
    if (size <= 512) {
        run(data, size, 1, &bytes);
        same(&whole, &bytes);
    }
    return 0;
}
