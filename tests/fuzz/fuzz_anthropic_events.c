/* fuzz_anthropic_events.c - libFuzzer target for the Anthropic provider's decoders and the
 * Anthropic front door's stream encoder. The input is an upstream body: it goes through the SSE
 * framing into lx_provider_anthropic.parse_event (whole, then cut at a point taken from the
 * first byte: both must give the same deltas and result), every delta is re-encoded by
 * lx_frontdoor_anthropic.encode_delta (whose output must decode again without a parse error),
 * and the same bytes go to parse_response and map_error, which must not crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "providers/anthropic.h"
#include "providers/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

struct run {
    uint64_t hash;
    size_t n;
    struct lx_fd_stream fst;
    struct lx_buf out;
    struct lx_chat_req req;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        *h = (*h ^ s[i]) * 1099511628211u;
}

static int emit(void *ctx, const struct lx_delta *d)
{
    struct run *r = ctx;
    int t = (int)d->type;

    mix(&r->hash, &t, sizeof(t));
    mix(&r->hash, d->text.ptr, d->text.len);
    mix(&r->hash, d->id.ptr, d->id.len);
    mix(&r->hash, &d->tool_index, sizeof(d->tool_index));
    r->n++;
    CHECK(d->type != LX_DELTA_ERROR || d->error != NULL);
    /* the front door must take whatever the decoder says */
    CHECK(lx_frontdoor_anthropic.encode_delta(&r->fst, d, &r->out) == LX_OK || r->out.err != LX_OK);
    return LX_OK;
}

static int replay(const struct lx_provider_call *call, struct lx_str bytes, size_t cut,
                  struct run *r)
{
    struct lx_arena *a = lx_arena_new(4096, 64u << 20), *fa = lx_arena_new(4096, 64u << 20);
    struct lx_delta_sink sink = {emit, r};
    struct lx_stream_decoder d;
    int rc;

    CHECK(a != NULL && fa != NULL);
    memset(r, 0, sizeof(*r));
    lx_chat_req_init(&r->req);
    r->req.model = LX_STR("claude");
    r->fst.req = &r->req;
    r->fst.a = fa;
    lx_buf_init(&r->out, 1u << 24);
    rc = lx_stream_decoder_init(&d, &lx_provider_anthropic, call, a, 1u << 20, &sink);
    CHECK(rc == LX_OK);
    rc = lx_stream_decoder_feed(&d, lx_str_make(bytes.ptr, cut));
    if (rc == LX_OK)
        rc = lx_stream_decoder_feed(&d, lx_str_make(bytes.ptr + cut, bytes.len - cut));
    if (rc == LX_OK)
        rc = lx_stream_decoder_finish(&d);
    mix(&r->hash, &rc, sizeof(rc));
    lx_stream_decoder_release(&d);
    lx_arena_free(a);
    lx_arena_free(fa);
    return rc;
}

static int count_emit(void *ctx, const struct lx_delta *d)
{
    (void)ctx;
    (void)d;
    return LX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_config_provider conf;
    struct lx_provider_call call;
    struct lx_str bytes;
    struct run whole, split;
    size_t cut;
    int rc1, rc2;

    if (size < 1)
        return 0;
    memset(&conf, 0, sizeof(conf));
    memset(&call, 0, sizeof(call));
    conf.name = "anthropic";
    conf.base_url = "https://api.anthropic.com/v1";
    call.conf = &conf;
    call.key = LX_STR("sk-ant-fuzz-key");
    bytes = lx_str_make(data + 1, size - 1);
    cut = bytes.len ? data[0] % (bytes.len + 1) : 0;

    rc1 = replay(&call, bytes, bytes.len, &whole);
    rc2 = replay(&call, bytes, cut, &split);
    CHECK(rc1 == rc2 && whole.hash == split.hash && whole.n == split.n);
    CHECK(whole.out.len == split.out.len &&
          (whole.out.len == 0 || memcmp(whole.out.ptr, split.out.ptr, whole.out.len) == 0));

    /* what the front door wrote is Anthropic's protocol: it decodes again */
    if (whole.out.err == LX_OK && whole.out.len > 0) {
        struct lx_arena *a = lx_arena_new(4096, 64u << 20);
        struct lx_delta_sink sink = {count_emit, NULL};
        struct lx_stream_decoder d;
        int rc;

        CHECK(a != NULL);
        CHECK(lx_stream_decoder_init(&d, &lx_provider_anthropic, &call, a, 1u << 22, &sink) ==
              LX_OK);
        rc = lx_stream_decoder_feed(&d, lx_buf_str(&whole.out));
        CHECK(rc == LX_OK);
        lx_stream_decoder_release(&d);
        lx_arena_free(a);
    }
    lx_buf_release(&whole.out);
    lx_buf_release(&split.out);

    {
        struct lx_arena *a = lx_arena_new(4096, 64u << 20);
        struct lx_chat_resp resp;
        struct lx_upstream_error e;
        struct lx_err err = {0};
        struct lx_buf out = LX_BUF_INIT(1u << 24);
        struct lx_chat_req req;

        CHECK(a != NULL);
        if (lx_provider_anthropic.parse_response(&call, bytes, a, &resp, &err) == LX_OK) {
            lx_chat_req_init(&req);
            CHECK(lx_frontdoor_anthropic.encode_response(&req, &resp, 0, &out) == LX_OK);
        } else {
            CHECK(err.http_status == 502 || err.http_status == 503);
        }
        lx_provider_anthropic.map_error(&call, 400 + data[0] % 200, NULL, 0, bytes, a, &e);
        CHECK(e.status >= 400 && e.message.len > 0);
        lx_buf_release(&out);
        lx_arena_free(a);
    }
    return 0;
}
