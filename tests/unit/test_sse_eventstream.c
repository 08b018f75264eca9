/* test_sse_eventstream.c - the AWS event-stream decoder (sse/eventstream.h): the recorded
 * Bedrock fixtures whole, split at every byte and one byte at a time against their
 * .decoded.jsonl; every corrupted byte caught; truncation at every point; every header type,
 * built with a small encoder below; limits, callback errors, allocation failures.
 * Single-threaded. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "sse/eventstream.h"
#include "tests/unit/test.h"

static const char *const fixtures[] = {
    "converse_stream",
    "converse_stream_midstream_exception",
    "converse_stream_tools",
    "invoke_anthropic_stream",
};

/* ---- recording frames: "message|event|exception|content|payload\n" per frame ---- */

static int record_cb(void *ctx, const struct lx_es_frame *f)
{
    struct lx_buf *b = ctx;

    lx_buf_append_str(b, f->message_type);
    lx_buf_append_char(b, '|');
    lx_buf_append_str(b, f->event_type);
    lx_buf_append_char(b, '|');
    lx_buf_append_str(b, f->exception_type);
    lx_buf_append_char(b, '|');
    lx_buf_append_str(b, f->content_type);
    lx_buf_append_char(b, '|');
    lx_buf_append_str(b, f->payload);
    lx_buf_append_char(b, '\n');
    return b->err;
}

static int count_cb(void *ctx, const struct lx_es_frame *f)
{
    (void)f;
    ++*(size_t *)ctx;
    return LX_OK;
}

/* Feeds in as [0,cut) [cut,len) (cut == (size_t)-1: one byte at a time), then finish. */
static int run(struct lx_str in, size_t cut, size_t max, lx_es_frame_cb *cb, void *ctx)
{
    struct lx_es_decoder d;
    int rc = LX_OK;

    lx_es_init(&d, max);
    if (cut == (size_t)-1) {
        for (size_t i = 0; i < in.len && rc == LX_OK; i++)
            rc = lx_es_feed(&d, lx_str_make(in.ptr + i, 1), cb, ctx);
    } else {
        rc = lx_es_feed(&d, lx_str_make(in.ptr, cut), cb, ctx);
        if (rc == LX_OK)
            rc = lx_es_feed(&d, lx_str_make(in.ptr + cut, in.len - cut), cb, ctx);
    }
    if (rc == LX_OK)
        rc = lx_es_finish(&d);
    lx_es_release(&d);
    return rc;
}

/* ---- the .decoded.jsonl side: {"headers":{...},"payload":{...}, ...} one per line ---- */

/* The string value of "name":"..." inside line (header names and values have no escapes). */
static struct lx_str json_header(struct lx_str line, const char *name)
{
    char key[64];
    int n = snprintf(key, sizeof(key), "\"%s\":\"", name);
    const char *end = line.ptr + line.len;

    for (const char *p = line.ptr; p + n <= end; p++)
        if (memcmp(p, key, (size_t)n) == 0) {
            const char *v = p + n, *q = memchr(v, '"', (size_t)(end - v));
            return q ? lx_str_make(v, (size_t)(q - v)) : LX_STR_NULL;
        }
    return LX_STR_NULL;
}

/* The raw bytes of the JSON value after "payload": (an object: braces matched outside
 * strings). The fixtures' payloads are byte-identical to the frames' payloads. */
static struct lx_str json_payload(struct lx_str line)
{
    static const char key[] = "\"payload\":";
    const char *end = line.ptr + line.len, *p = NULL;
    int depth = 0;
    bool in_str = false;

    for (const char *s = line.ptr; s + sizeof(key) - 1 <= end; s++)
        if (memcmp(s, key, sizeof(key) - 1) == 0) {
            p = s + sizeof(key) - 1;
            break;
        }
    if (p == NULL || p >= end || *p != '{')
        return LX_STR_NULL;
    for (const char *s = p; s < end; s++) {
        if (in_str) {
            if (*s == '\\')
                s++;
            else if (*s == '"')
                in_str = false;
        } else if (*s == '"') {
            in_str = true;
        } else if (*s == '{') {
            depth++;
        } else if (*s == '}' && --depth == 0) {
            return lx_str_make(p, (size_t)(s - p + 1));
        }
    }
    return LX_STR_NULL;
}

/* Builds the expected record of a whole .decoded.jsonl file; the number of lines in *n. */
static int expected(struct lx_str jsonl, struct lx_buf *out, size_t *n)
{
    const char *p = jsonl.ptr, *end = jsonl.ptr + jsonl.len;

    *n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct lx_str line = lx_str_make(p, (size_t)((nl ? nl : end) - p));
        struct lx_str payload = json_payload(line);

        p = nl ? nl + 1 : end;
        if (line.len == 0)
            continue;
        LX_ASSERT(payload.ptr != NULL);
        lx_buf_append_str(out, json_header(line, ":message-type"));
        lx_buf_append_char(out, '|');
        lx_buf_append_str(out, json_header(line, ":event-type"));
        lx_buf_append_char(out, '|');
        lx_buf_append_str(out, json_header(line, ":exception-type"));
        lx_buf_append_char(out, '|');
        lx_buf_append_str(out, json_header(line, ":content-type"));
        lx_buf_append_char(out, '|');
        lx_buf_append_str(out, payload);
        lx_buf_append_char(out, '\n');
        ++*n;
    }
    LX_ASSERT_EQ(out->err, LX_OK);
    return 0;
}

static char *load(const char *name, const char *ext, size_t *len)
{
    char rel[160];

    snprintf(rel, sizeof(rel), "protocols/fixtures/bedrock/%s%s", name, ext);
    return lx_test_read_file(lx_test_shared(rel), len);
}

static bool same_buf(const struct lx_buf *a, const struct lx_buf *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

LX_TEST(eventstream_fixtures_whole_split_bytewise)
{
    for (size_t k = 0; k < LX_ARRAY_SIZE(fixtures); k++) {
        struct lx_buf want = LX_BUF_INIT(1 << 20), got = LX_BUF_INIT(1 << 20);
        size_t bin_len, jsonl_len, n_frames, count = 0;
        char *bin = load(fixtures[k], ".bin", &bin_len);
        char *jsonl = load(fixtures[k], ".decoded.jsonl", &jsonl_len);
        struct lx_str in = lx_str_make(bin, bin_len);

        LX_ASSERT(bin != NULL && jsonl != NULL);
        if (expected(lx_str_make(jsonl, jsonl_len), &want, &n_frames) != 0)
            return 1;
        LX_ASSERT(n_frames >= 4);

        LX_ASSERT_EQ(run(in, bin_len, 0, record_cb, &got), LX_OK);
        if (!same_buf(&want, &got))
            LX_FAIL("%s whole:\n%.*s\nwant:\n%.*s", fixtures[k], LX_STR_FMT(lx_buf_str(&got)),
                    LX_STR_FMT(lx_buf_str(&want)));
        LX_ASSERT_EQ(run(in, bin_len, 0, count_cb, &count), LX_OK);
        LX_ASSERT_EQ(count, n_frames);

        for (size_t cut = 0; cut <= bin_len; cut++) {
            lx_buf_reset(&got);
            LX_ASSERT_EQ(run(in, cut, 0, record_cb, &got), LX_OK);
            if (!same_buf(&want, &got))
                LX_FAIL("%s split at %zu differs", fixtures[k], cut);
        }
        lx_buf_reset(&got);
        LX_ASSERT_EQ(run(in, (size_t)-1, 0, record_cb, &got), LX_OK);
        LX_ASSERT(same_buf(&want, &got));

        lx_buf_release(&want);
        lx_buf_release(&got);
        free(bin);
        free(jsonl);
    }
    return 0;
}

/* The first frame of converse_stream.bin, as PROTOCOLS.md §4.5 spells it out. */
LX_TEST(eventstream_first_frame_fields)
{
    size_t len, pos = 0, n = 0;
    char *bin = load("converse_stream", ".bin", &len);
    struct lx_buf got = LX_BUF_INIT(4096);
    struct lx_es_decoder d;
    struct lx_es_header h;

    LX_ASSERT(bin != NULL && len > 128);
    lx_es_init(&d, 0);
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(bin, 128), record_cb, &got), LX_OK);
    LX_ASSERT_EQ(lx_es_finish(&d), LX_OK);
    lx_es_release(&d);
    LX_ASSERT_STR(lx_buf_str(&got),
                  "event|messageStart||application/json|{\"role\":\"assistant\",\"p\":\"abc\"}\n");
    /* the raw header block walks to the same three string headers */
    {
        struct lx_str hs = lx_str_make(bin + 12, 82);
        const char *names[] = {":event-type", ":content-type", ":message-type"};

        while (lx_es_header_next(hs, &pos, &h) == 1) {
            LX_ASSERT(n < 3);
            LX_ASSERT_STR(h.name, names[n]);
            LX_ASSERT_EQ(h.type, LX_ES_STRING);
            n++;
        }
        LX_ASSERT_EQ(n, 3);
        LX_ASSERT_EQ(pos, 82);
    }
    lx_buf_release(&got);
    free(bin);
    return 0;
}

/* Frame boundaries of a fixture: starts[i] is where frame i begins; returns the count. */
static size_t frame_starts(const unsigned char *p, size_t len, size_t *starts, size_t max)
{
    size_t n = 0, at = 0;

    while (at + 4 <= len && n < max) {
        starts[n++] = at;
        at += (size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3];
    }
    return n;
}

LX_TEST(eventstream_every_corrupted_byte_caught)
{
    for (size_t k = 0; k < LX_ARRAY_SIZE(fixtures); k++) {
        size_t len, starts[64], n;
        char *bin = load(fixtures[k], ".bin", &len);

        LX_ASSERT(bin != NULL);
        n = frame_starts((const unsigned char *)bin, len, starts, LX_ARRAY_SIZE(starts));
        for (size_t i = 0; i < len; i++) {
            size_t frame = 0, count = 0;
            int rc;

            while (frame + 1 < n && starts[frame + 1] <= i)
                frame++;
            for (unsigned bit = 0; bit < 8; bit += 7) { /* low and high bit */
                count = 0;
                bin[i] ^= (char)(1u << bit);
                rc = run(lx_str_make(bin, len), i / 2, 0, count_cb, &count);
                bin[i] ^= (char)(1u << bit);
                if (rc != LX_EPARSE)
                    LX_FAIL("%s byte %zu bit %u: %s", fixtures[k], i, bit, lx_err_name(rc));
                /* the frames before the damaged one still came out, none after it */
                LX_ASSERT_EQ(count, frame);
            }
        }
        free(bin);
    }
    return 0;
}

LX_TEST(eventstream_truncation_at_every_point)
{
    for (size_t k = 0; k < LX_ARRAY_SIZE(fixtures); k++) {
        size_t len, starts[64], n, frame = 0;
        char *bin = load(fixtures[k], ".bin", &len);

        LX_ASSERT(bin != NULL);
        n = frame_starts((const unsigned char *)bin, len, starts, LX_ARRAY_SIZE(starts));
        for (size_t cut = 0; cut < len; cut++) {
            size_t count = 0;
            int rc;

            while (frame < n && starts[frame] < cut)
                frame++;
            rc = run(lx_str_make(bin, cut), cut / 3, 0, count_cb, &count);
            if (frame < n && starts[frame] == cut) { /* between frames: a clean end */
                LX_ASSERT_EQ(rc, LX_OK);
                LX_ASSERT_EQ(count, frame);
            } else {
                if (rc != LX_ETRUNCATED)
                    LX_FAIL("%s cut at %zu: %s", fixtures[k], cut, lx_err_name(rc));
                LX_ASSERT_EQ(count, frame - 1);
            }
        }
        free(bin);
    }
    return 0;
}

/* ---- a small encoder, to build frames the fixtures do not have ---- */

struct enc {
    unsigned char b[1024];
    size_t len;
};

static void put(struct enc *e, const void *p, size_t n)
{
    if (e->len + n <= sizeof(e->b)) {
        memcpy(e->b + e->len, p, n);
        e->len += n;
    } else {
        abort(); /* a test bug */
    }
}

static void put_be(struct enc *e, uint64_t v, unsigned bytes)
{
    unsigned char b[8];

    for (unsigned i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(e, b, bytes);
}

/* Header: name, type, then value bytes as given (lengths included by the caller). */
static void hdr(struct enc *h, const char *name, unsigned type)
{
    put_be(h, strlen(name), 1);
    put(h, name, strlen(name));
    put_be(h, type, 1);
}

static void hdr_str(struct enc *h, const char *name, unsigned type, const char *v)
{
    hdr(h, name, type);
    put_be(h, strlen(v), 2);
    put(h, v, strlen(v));
}

/* A frame with these headers and payload, both CRCs right; total is the length field (0 =
 * the true length) so that wrong lengths can be framed with right CRCs too. */
static void frame(struct enc *out, const struct enc *h, const char *payload, uint32_t total,
                  uint32_t hlen)
{
    size_t plen = strlen(payload);

    out->len = 0;
    put_be(out, total ? total : (uint32_t)(16 + h->len + plen), 4);
    put_be(out, hlen != (uint32_t)-1 ? hlen : (uint32_t)h->len, 4);
    put_be(out, lx_es_crc32(0, out->b, 8), 4);
    put(out, h->b, h->len);
    put(out, payload, plen);
    put_be(out, lx_es_crc32(0, out->b, out->len), 4);
}

struct headers_seen {
    struct lx_es_header h[16];
    unsigned char copy[512]; /* the header block, copied: slices die with the callback */
    size_t n;
    struct lx_es_frame f;
    int rc;
};

static int walk_cb(void *ctx, const struct lx_es_frame *f)
{
    struct headers_seen *s = ctx;
    struct lx_str hs;
    size_t pos = 0;

    if (f->headers.len > sizeof(s->copy))
        return LX_ETOOBIG;
    memcpy(s->copy, f->headers.ptr, f->headers.len);
    hs = lx_str_make(s->copy, f->headers.len);
    s->f = *f;
    s->n = 0;
    while (s->n < LX_ARRAY_SIZE(s->h) && (s->rc = lx_es_header_next(hs, &pos, &s->h[s->n])) == 1)
        s->n++;
    return LX_OK;
}

LX_TEST(eventstream_every_header_type)
{
    static const unsigned char uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                           1,    2,    3,    4,    5,    6,    7,    0xff};
    struct enc h = {.len = 0}, f;
    struct headers_seen s = {.n = 0};

    hdr(&h, "t", LX_ES_BOOL_TRUE);
    hdr(&h, "f", LX_ES_BOOL_FALSE);
    hdr(&h, "byte", LX_ES_BYTE);
    put_be(&h, 0xfe, 1); /* -2 */
    hdr(&h, "i16", LX_ES_INT16);
    put_be(&h, 0x8000, 2);
    hdr(&h, "i32", LX_ES_INT32);
    put_be(&h, 0xfffffffb, 4); /* -5 */
    hdr(&h, "i64", LX_ES_INT64);
    put_be(&h, 0x0102030405060708u, 8);
    hdr_str(&h, "bytes", LX_ES_BYTES, "\x01\x02");
    hdr_str(&h, ":event-type", LX_ES_STRING, "contentBlockDelta");
    hdr(&h, "ts", LX_ES_TIMESTAMP);
    put_be(&h, 1755137933123u, 8);
    hdr(&h, "uuid", LX_ES_UUID);
    put(&h, uuid, 16);
    hdr_str(&h, "empty", LX_ES_STRING, "");
    frame(&f, &h, "{}", 0, (uint32_t)-1);

    LX_ASSERT_EQ(run(lx_str_make(f.b, f.len), 7, 0, walk_cb, &s), LX_OK);
    LX_ASSERT_EQ(s.rc, 0);
    LX_ASSERT_EQ(s.n, 11);
    LX_ASSERT_STR(s.h[0].name, "t");
    LX_ASSERT_EQ(s.h[0].type, LX_ES_BOOL_TRUE);
    LX_ASSERT_EQ(s.h[0].num, 1);
    LX_ASSERT_EQ(s.h[0].value.len, 0);
    LX_ASSERT_EQ(s.h[1].type, LX_ES_BOOL_FALSE);
    LX_ASSERT_EQ(s.h[1].num, 0);
    LX_ASSERT_EQ(s.h[2].type, LX_ES_BYTE);
    LX_ASSERT_EQ(s.h[2].num, -2);
    LX_ASSERT_EQ(s.h[3].type, LX_ES_INT16);
    LX_ASSERT_EQ(s.h[3].num, -32768);
    LX_ASSERT_EQ(s.h[4].type, LX_ES_INT32);
    LX_ASSERT_EQ(s.h[4].num, -5);
    LX_ASSERT_EQ(s.h[5].type, LX_ES_INT64);
    LX_ASSERT_EQ(s.h[5].num, 0x0102030405060708);
    LX_ASSERT_EQ(s.h[6].type, LX_ES_BYTES);
    LX_ASSERT_STR(s.h[6].value, "\x01\x02");
    LX_ASSERT_EQ(s.h[7].type, LX_ES_STRING);
    LX_ASSERT_STR(s.h[7].name, ":event-type");
    LX_ASSERT_STR(s.h[7].value, "contentBlockDelta");
    LX_ASSERT_EQ(s.h[8].type, LX_ES_TIMESTAMP);
    LX_ASSERT_EQ(s.h[8].num, 1755137933123);
    LX_ASSERT_EQ(s.h[9].type, LX_ES_UUID);
    LX_ASSERT_EQ(s.h[9].value.len, 16);
    LX_ASSERT(memcmp(s.h[9].value.ptr, uuid, 16) == 0);
    LX_ASSERT_STR(s.h[10].name, "empty");
    LX_ASSERT_EQ(s.h[10].value.len, 0);
    /* the known one is picked out; absent ones are null */
    LX_ASSERT_EQ(s.f.event_type.len, strlen("contentBlockDelta"));
    LX_ASSERT(s.f.message_type.ptr == NULL && s.f.exception_type.ptr == NULL);
    LX_ASSERT_EQ(s.f.payload.len, 2);
    return 0;
}

/* A frame that must be refused with rc, whole and byte by byte, with no frame delivered. */
static int refused(const struct enc *f, size_t max, int rc)
{
    size_t count = 0;

    LX_ASSERT_EQ(run(lx_str_make(f->b, f->len), f->len, max, count_cb, &count), rc);
    LX_ASSERT_EQ(run(lx_str_make(f->b, f->len), (size_t)-1, max, count_cb, &count), rc);
    LX_ASSERT_EQ(count, 0);
    return 0;
}

LX_TEST(eventstream_bad_headers_refused)
{
    struct enc h, f;

    /* unknown value type 10 */
    h.len = 0;
    hdr(&h, "x", 10);
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* empty name */
    h.len = 0;
    hdr(&h, "", LX_ES_BOOL_TRUE);
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* a string whose length runs past the header block (into the payload) */
    h.len = 0;
    hdr(&h, "s", LX_ES_STRING);
    put_be(&h, 5, 2);
    put(&h, "ab", 2);
    frame(&f, &h, "xyz", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* an int64 cut by the end of the block; a name cut; a type byte missing */
    h.len = 0;
    hdr(&h, "n", LX_ES_INT64);
    put_be(&h, 7, 4);
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    h.len = 0;
    put_be(&h, 9, 1);
    put(&h, "abc", 3);
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    h.len = 0;
    put_be(&h, 1, 1);
    put(&h, "a", 1);
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* a Bedrock header twice, or not a string */
    h.len = 0;
    hdr_str(&h, ":message-type", LX_ES_STRING, "event");
    hdr_str(&h, ":message-type", LX_ES_STRING, "exception");
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    h.len = 0;
    hdr_str(&h, ":content-type", LX_ES_BYTES, "application/json");
    frame(&f, &h, "", 0, (uint32_t)-1);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    return 0;
}

LX_TEST(eventstream_lengths_and_limits)
{
    struct enc h = {.len = 0}, f;
    struct headers_seen s = {.n = 0};
    struct lx_es_decoder d;
    size_t count = 0;

    /* the smallest frame: no headers, no payload */
    frame(&f, &h, "", 0, (uint32_t)-1);
    LX_ASSERT_EQ(f.len, 16);
    LX_ASSERT_EQ(run(lx_str_make(f.b, f.len), 5, 0, walk_cb, &s), LX_OK);
    LX_ASSERT_EQ(s.n, 0);
    LX_ASSERT_EQ(s.f.payload.len, 0);
    LX_ASSERT(s.f.message_type.ptr == NULL);

    /* total under 16 with a right prelude CRC */
    frame(&f, &h, "", 15, 0);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    frame(&f, &h, "", 0x0c, 0);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* headers length past the end of the frame */
    hdr_str(&h, ":event-type", LX_ES_STRING, "chunk");
    frame(&f, &h, "ab", 0, (uint32_t)h.len + 3);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    frame(&f, &h, "ab", 0, 0xfffffff0u);
    if (refused(&f, 0, LX_EPARSE))
        return 1;
    /* total length that disagrees with the bytes: the message CRC lands elsewhere */
    frame(&f, &h, "ab", (uint32_t)(16 + h.len + 1), (uint32_t)-1);
    LX_ASSERT_EQ(run(lx_str_make(f.b, f.len), 3, 0, count_cb, &count), LX_EPARSE);

    /* over max_frame: refused from the 12-byte prelude alone, before any buffering */
    frame(&f, &h, "payload", 0, (uint32_t)-1);
    if (refused(&f, f.len - 1, LX_ETOOBIG))
        return 1;
    LX_ASSERT_EQ(run(lx_str_make(f.b, f.len), 3, f.len, count_cb, &count), LX_OK);
    LX_ASSERT_EQ(count, 1);
    f.b[0] = 0x7f; /* 2 GiB claimed, prelude CRC fixed up */
    {
        uint32_t c = lx_es_crc32(0, f.b, 8);

        for (int i = 0; i < 4; i++)
            f.b[8 + i] = (unsigned char)(c >> (24 - 8 * i));
    }
    lx_es_init(&d, 0);
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(f.b, 12), count_cb, &count), LX_ETOOBIG);
    LX_ASSERT_EQ(d.part.cap, 0); /* nothing was buffered for it */
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(f.b, 12), count_cb, &count), LX_ETOOBIG); /* sticky */
    LX_ASSERT_EQ(lx_es_finish(&d), LX_ETOOBIG);
    lx_es_release(&d);
    return 0;
}

static int stop_cb(void *ctx, const struct lx_es_frame *f)
{
    (void)f;
    return ++*(size_t *)ctx == 2 ? LX_EPAUSE : LX_OK;
}

LX_TEST(eventstream_callback_error_and_reuse)
{
    size_t len, count = 0;
    char *bin = load("converse_stream", ".bin", &len);
    struct lx_es_decoder d;

    LX_ASSERT(bin != NULL);
    lx_es_init(&d, 0);
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(bin, len), stop_cb, &count), LX_EPAUSE);
    LX_ASSERT_EQ(count, 2); /* stopped right there */
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(bin, len), stop_cb, &count), LX_EPAUSE);
    LX_ASSERT_EQ(count, 2);
    lx_es_release(&d);

    /* after a clean finish the decoder takes a new stream; after a truncated one too */
    count = 0;
    lx_es_init(&d, 0);
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(bin, 100), count_cb, &count), LX_OK);
    LX_ASSERT_EQ(lx_es_finish(&d), LX_ETRUNCATED);
    LX_ASSERT_EQ(lx_es_feed(&d, lx_str_make(bin, len), count_cb, &count), LX_OK);
    LX_ASSERT_EQ(lx_es_finish(&d), LX_OK);
    LX_ASSERT_EQ(count, 16);
    lx_es_release(&d);
    free(bin);
    return 0;
}

LX_TEST(eventstream_alloc_failure)
{
    size_t len, count = 0;
    char *bin = load("converse_stream", ".bin", &len);

    LX_ASSERT(bin != NULL);
    /* whole chunks need no allocation at all */
    lx_alloc_fail_after(0);
    LX_ASSERT_EQ(run(lx_str_make(bin, len), 0, 0, count_cb, &count), LX_OK);
    LX_ASSERT_EQ(count, 16);
    /* a cut frame needs its buffer */
    LX_ASSERT_EQ(run(lx_str_make(bin, len), 50, 0, count_cb, &count), LX_ENOMEM);
    lx_alloc_fail_after(-1);
    free(bin);
    return 0;
}

LX_TEST(eventstream_crc32)
{
    /* the check value of CRC-32/ISO-HDLC, and the table against the bitwise definition */
    LX_ASSERT_EQ(lx_es_crc32(0, "123456789", 9), 0xcbf43926u);
    LX_ASSERT_EQ(lx_es_crc32(lx_es_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    LX_ASSERT_EQ(lx_es_crc32(0, "", 0), 0);
    for (unsigned v = 0; v < 256; v++) {
        unsigned char byte = (unsigned char)v;
        uint32_t c = 0xffffffffu ^ v;

        for (int i = 0; i < 8; i++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        LX_ASSERT_EQ(lx_es_crc32(0, &byte, 1), c ^ 0xffffffffu);
    }
    return 0;
}
