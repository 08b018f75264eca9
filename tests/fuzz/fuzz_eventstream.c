/* fuzz_eventstream.c - libFuzzer target for the AWS event-stream decoder (sse/eventstream.c).
 * The first input byte picks a split point, the second a frame limit; the rest is fed once
 * whole, once in two pieces, once in three, and one byte at a time for short inputs. Every way
 * must give the same frames (a hash of the picked headers, every walked header and the
 * payload) and the same result, because network reads can cut anywhere. Each delivered frame's
 * header block must walk cleanly to its end. Raw inputs rarely pass the CRCs, so a third run
 * re-frames the input with right CRCs (see reframe) to reach the header and payload code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sse/eventstream.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

struct result {
    uint64_t hash;
    size_t frames;
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

static int frame_cb(void *ctx, const struct lx_es_frame *f)
{
    struct result *r = ctx;
    struct lx_es_header h;
    size_t pos = 0;
    int rc;

    mix_str(&r->hash, f->message_type);
    mix_str(&r->hash, f->event_type);
    mix_str(&r->hash, f->exception_type);
    mix_str(&r->hash, f->content_type);
    mix_str(&r->hash, f->payload);
    while ((rc = lx_es_header_next(f->headers, &pos, &h)) == 1) {
        mix_str(&r->hash, h.name);
        mix(&r->hash, &h.type, sizeof(h.type));
        mix_str(&r->hash, h.value);
        mix(&r->hash, &h.num, sizeof(h.num));
    }
    CHECK(rc == 0 && pos == f->headers.len);
    r->frames++;
    return LX_OK;
}

static int run(const unsigned char *in, size_t len, const size_t *cuts, size_t n, size_t max,
               struct result *r)
{
    struct lx_es_decoder d;
    size_t from = 0;
    int rc = LX_OK;

    memset(r, 0, sizeof(*r));
    lx_es_init(&d, max);
    for (size_t k = 0; k <= n && rc == LX_OK; k++) {
        size_t to = k < n ? cuts[k] : len;

        rc = lx_es_feed(&d, lx_str_make(in + from, to - from), frame_cb, r);
        from = to;
    }
    if (rc == LX_OK)
        rc = lx_es_finish(&d);
    lx_es_release(&d);
    return rc;
}

/* Every way of cutting in must agree. */
static void compare(const unsigned char *in, size_t len, size_t cut, size_t max)
{
    struct result whole, split;
    size_t cuts[2];
    int rc_whole = run(in, len, NULL, 0, max, &whole), rc;

    rc = run(in, len, &cut, 1, max, &split);
    CHECK(rc == rc_whole && split.hash == whole.hash && split.frames == whole.frames);
    cuts[0] = cut / 2;
    cuts[1] = cut + (len - cut) / 3;
    rc = run(in, len, cuts, 2, max, &split);
    CHECK(rc == rc_whole && split.hash == whole.hash && split.frames == whole.frames);
    if (len <= 4096) {
        size_t *all = malloc(len * sizeof(*all) + 1);

        CHECK(all != NULL);
        for (size_t i = 0; i < len; i++)
            all[i] = i + 1;
        rc = run(in, len, all, len, max, &split);
        CHECK(rc == rc_whole && split.hash == whole.hash && split.frames == whole.frames);
        free(all);
    }
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Turns in into frames with right CRCs: each piece is <1-byte headers length><headers>
 * <1-byte payload length><payload>, cut short at the end of the input. */
static size_t reframe(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t at = 0, o = 0;

    while (at < len) {
        size_t hlen = in[at++], plen;
        const unsigned char *h = in + at;

        if (hlen > len - at)
            hlen = len - at;
        at += hlen;
        plen = at < len ? in[at++] : 0;
        if (plen > len - at)
            plen = len - at;
        put_be32(out + o, (uint32_t)(16 + hlen + plen));
        put_be32(out + o + 4, (uint32_t)hlen);
        put_be32(out + o + 8, lx_es_crc32(0, out + o, 8));
        memcpy(out + o + 12, h, hlen);
        memcpy(out + o + 12 + hlen, in + at, plen);
        at += plen;
        put_be32(out + o + 12 + hlen + plen, lx_es_crc32(0, out + o, 12 + hlen + plen));
        o += 16 + hlen + plen;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *in;
    size_t len, cut, max, out_len;
    unsigned char *framed;

    if (size < 2)
        return 0;
    in = data + 2;
    len = size - 2;
    cut = len * data[0] / 255;
    /* small limits now and then, so that the LX_ETOOBIG path is compared too */
    max = (data[1] & 1u) ? 16 + (size_t)(data[1] >> 1) * 2 : 0;

    compare(in, len, cut, max);

    /* a piece turns n >= 1 input bytes into at most n + 15 bytes: 16x is room enough */
    framed = malloc(len * 16 + 16);
    CHECK(framed != NULL);
    out_len = reframe(in, len, framed);
    compare(framed, out_len, out_len * data[0] / 255, max);
    free(framed);
    return 0;
}
