/* fuzz_bedrock_events.c - libFuzzer target for the Bedrock adapter's decoders (src/providers/
 * bedrock.c). The first input byte picks what the rest is:
 *   bits 0-1 = 0: an event-stream body, through the real framing (providers/stream.h, CRCs
 *                 checked) into parse_event, whole and cut at a point the second byte picks;
 *            = 1: events without the framing (raw inputs rarely pass the CRCs): records
 *                 "name\npayload" separated by "\0\0", a name starting with '!' being an
 *                 exception frame;
 *            = 2: a complete answer: parse_response (Converse and CountTokens), map_error with
 *                 that body under a few statuses and headers, parse_embeddings.
 *   bit 2: the call is an InvokeModel one (type "bedrock-invoke", an Anthropic model id).
 * Invariants checked: no crash or leak (ASan), deltas well formed (a TOOL_CALL has an index, an
 * ERROR has its error, nothing after DONE), errors classified with a status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "providers/provider.h"
#include "providers/stream.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

struct seen {
    bool done;
    size_t n;
};

static int on_delta(void *ctx, const struct lx_delta *d)
{
    struct seen *s = ctx;

    CHECK(!s->done);
    CHECK((unsigned)d->type <= LX_DELTA_DONE);
    if (d->type == LX_DELTA_TOOL_CALL)
        CHECK(d->tool_index >= 0);
    if (d->type == LX_DELTA_ERROR)
        CHECK(d->error != NULL && d->error->status >= 400);
    if (d->type == LX_DELTA_DONE)
        s->done = true;
    CHECK(d->text.len == 0 || d->text.ptr != NULL);
    s->n++;
    return LX_OK;
}

static void run_framed(const struct lx_provider_call *call, const uint8_t *p, size_t n, size_t cut)
{
    struct lx_arena *a = lx_arena_new(4096, 8u << 20);
    struct seen s = {false, 0};
    struct lx_delta_sink sink = {on_delta, &s};
    struct lx_stream_decoder d;

    if (a == NULL)
        return;
    if (lx_stream_decoder_init(&d, &lx_provider_bedrock, call, a, 1u << 16, &sink) == LX_OK) {
        if (cut > n)
            cut = n;
        if (lx_stream_decoder_feed(&d, (struct lx_str){(const char *)p, cut}) == LX_OK &&
            lx_stream_decoder_feed(&d, (struct lx_str){(const char *)p + cut, n - cut}) == LX_OK)
            (void)lx_stream_decoder_finish(&d);
    }
    lx_stream_decoder_release(&d);
    lx_arena_free(a);
}

static void run_events(const struct lx_provider_call *call, const uint8_t *p, size_t n)
{
    struct lx_arena *a = lx_arena_new(4096, 8u << 20), *scratch = lx_arena_new(4096, 8u << 20);
    struct seen s = {false, 0};
    struct lx_delta_sink sink = {on_delta, &s};
    struct lx_stream_state st;
    size_t i = 0;

    if (a == NULL || scratch == NULL)
        goto out;
    memset(&st, 0, sizeof(st));
    st.call = call;
    st.a = a;
    st.scratch = scratch;
    while (i < n) {
        size_t end = i, nl;
        struct lx_stream_event ev;
        struct lx_err err;

        while (end + 1 < n && !(p[end] == 0 && p[end + 1] == 0))
            end++;
        if (end + 1 >= n)
            end = n;
        for (nl = i; nl < end && p[nl] != '\n'; nl++)
            ;
        ev.exception = nl > i && p[i] == '!';
        ev.event = (struct lx_str){(const char *)p + i + ev.exception, nl - i - ev.exception};
        ev.data = nl < end ? (struct lx_str){(const char *)p + nl + 1, end - nl - 1}
                           : (struct lx_str){"", 0};
        if (lx_provider_bedrock.parse_event(&st, &ev, &sink, &err) != LX_OK)
            break;
        lx_arena_reset(scratch);
        i = end + 2;
    }
out:
    lx_arena_free(scratch);
    lx_arena_free(a);
}

static void run_answers(struct lx_provider_call *call, const uint8_t *p, size_t n)
{
    struct lx_arena *a = lx_arena_new(4096, 8u << 20);
    struct lx_str body = {(const char *)p, n};
    static const int statuses[] = {400, 403, 429, 500, 503};
    struct lx_header h[2] = {
        {{"x-amzn-ErrorType", 16}, {"ThrottlingException:http://internal", 35}},
        {{"Retry-After", 11}, {"7", 1}},
    };
    struct lx_chat_resp r;
    struct lx_embed_resp e;
    struct lx_upstream_error ue;
    struct lx_err err;

    if (a == NULL)
        return;
    (void)lx_provider_bedrock.parse_response(call, body, a, &r, &err);
    call->endpoint = LX_EP_COUNT_TOKENS;
    (void)lx_provider_bedrock.parse_response(call, body, a, &r, &err);
    call->endpoint = LX_EP_EMBEDDINGS;
    (void)lx_provider_bedrock.parse_embeddings(call, body, a, &e, &err);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        lx_provider_bedrock.map_error(call, statuses[i], h, i & 1 ? 2 : 0, body, a, &ue);
        CHECK(ue.status >= 400 && ue.type != LX_ERRT_UNSET);
    }
    lx_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_config_provider conf;
    struct lx_provider_call call;

    if (size < 2)
        return 0;
    memset(&conf, 0, sizeof(conf));
    conf.name = "bedrock";
    conf.type = data[0] & 4 ? "bedrock-invoke" : "bedrock";
    conf.proto = LX_CONFIG_PROTO_BEDROCK;
    conf.region = "us-east-1";
    memset(&call, 0, sizeof(call));
    call.conf = &conf;
    call.model = data[0] & 4 ? (struct lx_str){"anthropic.claude-3-5-haiku-20241022-v1:0", 40}
                             : (struct lx_str){"amazon.titan-embed-text-v2:0", 28};
    call.key = (struct lx_str){"AKIDEXAMPLE:SECRETSECRET", 24};
    call.stream = true;
    call.now_s = 1736942400;
    switch (data[0] & 3) {
    case 0:
        run_framed(&call, data + 2, size - 2, size - 2);
        run_framed(&call, data + 2, size - 2, data[1] * (size - 2) / 256);
        break;
    case 1:
        run_events(&call, data + 1, size - 1);
        break;
    default:
        run_answers(&call, data + 1, size - 1);
        break;
    }
    return 0;
}
