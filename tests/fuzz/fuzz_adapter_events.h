/* fuzz_adapter_events.h - the body of the libFuzzer targets of the small adapters (cohere,
 * ollama, workers_ai): each target defines FUZZ_OPS (the struct lx_provider_ops) and FUZZ_TYPE
 * (the provider type string) and includes this once. The input (after a first byte that picks
 * a split point) goes through the adapter's real stream framing and parse_event, whole and cut
 * in two; both runs must give the same deltas (hashed) and the same result, since network reads
 * cut anywhere. Every delta must be well formed (strings with a pointer when non-empty, an
 * error object on ERROR, nothing after DONE). The same bytes also go to parse_response,
 * map_error and parse_embeddings, which must never crash and must fill what they promise. */
#ifndef LX_FUZZ_ADAPTER_EVENTS_H
#define LX_FUZZ_ADAPTER_EVENTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "providers/provider.h"
#include "providers/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

struct fz_result {
    uint64_t hash;
    size_t n;
    bool done_seen;
};

static void fz_mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        *h = (*h ^ s[i]) * 1099511628211ull;
}

static void fz_str(uint64_t *h, struct lx_str s)
{
    CHECK(s.len == 0 || s.ptr != NULL);
    fz_mix(h, &s.len, sizeof(s.len));
    if (s.len > 0)
        fz_mix(h, s.ptr, s.len);
}

static int fz_emit(void *ctx, const struct lx_delta *d)
{
    struct fz_result *r = ctx;

    CHECK(!r->done_seen); /* nothing follows the terminal delta */
    fz_mix(&r->hash, &d->type, sizeof(d->type));
    fz_mix(&r->hash, &d->choice, sizeof(d->choice));
    fz_mix(&r->hash, &d->tool_index, sizeof(d->tool_index));
    fz_mix(&r->hash, &d->finish, sizeof(d->finish));
    fz_mix(&r->hash, &d->usage, sizeof(d->usage));
    fz_str(&r->hash, d->text);
    fz_str(&r->hash, d->id);
    fz_str(&r->hash, d->name);
    fz_str(&r->hash, d->finish_raw);
    if (d->type == LX_DELTA_TOOL_CALL)
        CHECK(d->tool_index >= 0);
    if (d->type == LX_DELTA_ERROR) {
        CHECK(d->error != NULL);
        CHECK(d->error->status >= 400 && d->error->status <= 599);
        CHECK(d->error->type != LX_ERRT_UNSET);
        fz_str(&r->hash, d->error->message);
        fz_str(&r->hash, d->error->code);
    }
    if (d->type == LX_DELTA_DONE)
        r->done_seen = true;
    r->n++;
    return LX_OK;
}

static int fz_run(const struct lx_provider_call *call, const uint8_t *p, size_t n, size_t cut,
                  struct fz_result *r)
{
    struct lx_arena *a = lx_arena_new(4096, 64u << 20);
    struct lx_delta_sink sink = {fz_emit, r};
    struct lx_stream_decoder d;
    int rc;

    memset(r, 0, sizeof(*r));
    r->hash = 14695981039346656037ull;
    if (a == NULL)
        return LX_ENOMEM;
    rc = lx_stream_decoder_init(&d, &FUZZ_OPS, call, a, 1u << 20, &sink);
    if (rc == LX_OK) {
        rc = lx_stream_decoder_feed(&d, lx_str_make(p, cut));
        if (rc == LX_OK)
            rc = lx_stream_decoder_feed(&d, lx_str_make(p + cut, n - cut));
        if (rc == LX_OK)
            rc = lx_stream_decoder_finish(&d);
        CHECK(d.st.done == r->done_seen);
        if (rc == LX_EPARSE && d.err.rc != 0)
            CHECK(d.err.http_status == 0 || d.err.http_status == 502);
    }
    lx_stream_decoder_release(&d);
    lx_arena_free(a);
    return rc;
}

static void fz_one_shot(const struct lx_provider_call *call, struct lx_str body, int status)
{
    struct lx_arena *a = lx_arena_new(4096, 64u << 20);
    struct lx_chat_resp resp;
    struct lx_embed_resp emb;
    struct lx_upstream_error e;
    struct lx_header h = {LX_STR("Retry-After"), LX_STR("3")};
    struct lx_err err = {0};
    int rc;

    if (a == NULL)
        return;
    rc = FUZZ_OPS.parse_response(call, body, a, &resp, &err);
    CHECK(rc == LX_OK || rc == LX_EPARSE || rc == LX_ENOMEM);
    if (rc == LX_OK) {
        CHECK(resp.n_choices == 1);
        for (size_t i = 0; i < resp.choices[0].message.n_parts; i++) {
            const struct lx_part *pt = &resp.choices[0].message.parts[i];

            CHECK(pt->text.len == 0 || pt->text.ptr != NULL);
            if (pt->type == LX_PART_TOOL_CALL)
                CHECK(pt->args.len > 0 || FUZZ_OPS.framing == LX_FRAMING_SSE);
        }
    }
    FUZZ_OPS.map_error(call, status, &h, 1, body, a, &e);
    CHECK(e.status == status);
    CHECK(e.type != LX_ERRT_UNSET);
    CHECK(e.retry_after_ms == 3000);
    CHECK(e.message.len == 0 || e.message.ptr != NULL);
    for (size_t i = 0; call->key.len > 0 && i + call->key.len <= e.message.len; i++)
        CHECK(memcmp(e.message.ptr + i, call->key.ptr, call->key.len) != 0); /* never our key */
    rc = FUZZ_OPS.parse_embeddings(call, body, a, &emb, &err);
    CHECK(rc == LX_OK || rc == LX_EPARSE || rc == LX_ENOMEM);
    lx_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct lx_config_provider conf = {.name = "fz", .type = FUZZ_TYPE,
                                                   .base_url = "http://127.0.0.1:1"};
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"),
                                    .key = LX_STR("KEY0123456789"), .endpoint = LX_EP_CHAT,
                                    .stream = true, .now_s = 0};
    struct fz_result whole, split;
    int rc1, rc2;
    size_t cut;

    if (size < 1 || size > (1u << 16))
        return 0;
    cut = size > 1 ? data[0] % size : 0;
    data++;
    size--;
    if (cut > size)
        cut = size;
    rc1 = fz_run(&call, data, size, size, &whole);
    rc2 = fz_run(&call, data, size, cut, &split);
    CHECK(rc1 == rc2);
    CHECK(whole.hash == split.hash && whole.n == split.n);
    fz_one_shot(&call, lx_str_make(data, size), 400 + (int)(cut % 200));
    return 0;
}

#endif /* LX_FUZZ_ADAPTER_EVENTS_H */
