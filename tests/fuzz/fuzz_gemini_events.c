/* fuzz_gemini_events.c - libFuzzer target for the Gemini provider adapter (providers/gemini.c)
 * and the Gemini front door's stream encoder (gemini_front.c): the bytes go through SSE framing
 * into parse_event whole and cut in two (the transcripts must be equal, and nothing follows a
 * DONE or an ERROR); the deltas of the whole replay are re-encoded by the front door, and those
 * bytes must parse back without a protocol error; then the same bytes go to parse_response
 * (chat and countTokens), parse_embeddings and map_error. No crash, no leak, no sanitizer
 * report. Input: byte 0 = cut (scaled), byte 1 = bits 0-2: status, bit 3: include thoughts;
 * the rest = the upstream bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "providers/gemini.h"
#include "tests/unit/provider_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_order(struct lx_pt_summary *s)
{
    const char *t = lx_pt_lines(s);
    const char *end = strstr(t, "\nDONE\n");
    const char *err = strstr(t, "\nERROR ");

    if (end != NULL)
        CHECK(strncmp(end + 6, "END ", 4) == 0);
    if (err != NULL) {
        const char *nl = strchr(err + 1, '\n');

        CHECK(nl != NULL && strncmp(nl + 1, "END ", 4) == 0);
    }
    CHECK(s->n_start <= 1 && s->n_done <= 1 && s->n_error <= 1);
}

static bool has_key(struct lx_str s)
{
    for (size_t i = 0; i + 11 <= s.len; i++)
        if (memcmp(s.ptr + i, "AIzaFUZZKEY", 11) == 0)
            return true;
    return false;
}

struct pipe {
    struct lx_fd_stream st;
    struct lx_buf out;
};

static int pipe_emit(void *ctx, const struct lx_delta *d)
{
    struct pipe *p = ctx;
    int rc = lx_frontdoor_gemini.encode_delta(&p->st, d, &p->out);

    CHECK(rc == LX_OK || rc == LX_ENOMEM || rc == LX_ETOOBIG);
    return LX_OK;
}

static void reencode(const struct lx_provider_call *call, struct lx_str bytes, bool thoughts)
{
    struct lx_arena *a = lx_arena_new(0, 64u << 20);
    struct lx_chat_req req;
    struct pipe p;
    struct lx_delta_sink sink = {pipe_emit, &p};
    struct lx_stream_decoder d;
    struct lx_pt_summary again;

    if (a == NULL)
        return;
    lx_chat_req_init(&req);
    req.model = LX_STR("alias");
    req.include_thoughts = thoughts;
    memset(&p, 0, sizeof(p));
    p.st.req = &req;
    p.st.a = a;
    p.st.usage = (struct lx_usage)LX_USAGE_INIT;
    lx_buf_init(&p.out, 16u << 20);
    if (lx_stream_decoder_init(&d, &lx_provider_gemini, call, a, 1u << 20, &sink) == LX_OK) {
        if (lx_stream_decoder_feed(&d, bytes) == LX_OK)
            (void)lx_stream_decoder_finish(&d);
    }
    lx_stream_decoder_release(&d);
    if (p.out.err == LX_OK) {
        /* what the front door wrote is Gemini's protocol again */
        lx_pt_summary_init(&again);
        CHECK(lx_pt_replay(&lx_provider_gemini, call, lx_buf_str(&p.out), LX_PT_NO_SPLIT,
                           &again) != LX_EPARSE);
        check_order(&again);
        lx_pt_summary_release(&again);
    }
    lx_buf_release(&p.out);
    lx_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {400, 401, 403, 404, 429, 500, 503, 504};
    struct lx_config_provider conf;
    struct lx_provider_call call;
    struct lx_pt_summary whole, cut;
    struct lx_str bytes;
    struct lx_arena *a;
    size_t split;
    int rc1, rc2;

    if (size < 2)
        return 0;
    memset(&conf, 0, sizeof(conf));
    conf.name = "g";
    conf.type = "gemini";
    conf.proto = LX_CONFIG_PROTO_GEMINI;
    conf.base_url = "https://h/v1beta";
    memset(&call, 0, sizeof(call));
    call.conf = &conf;
    call.model = LX_STR("m");
    call.key = LX_STR("AIzaFUZZKEY");
    call.stream = true;
    call.now_s = 1700000000;
    bytes = lx_str_make(data + 2, size - 2);
    split = bytes.len * data[0] / 255;

    lx_pt_summary_init(&whole);
    lx_pt_summary_init(&cut);
    rc1 = lx_pt_replay(&lx_provider_gemini, &call, bytes, LX_PT_NO_SPLIT, &whole);
    rc2 = lx_pt_replay(&lx_provider_gemini, &call, bytes, split, &cut);
    CHECK(rc1 == rc2);
    CHECK(whole.lines.len == cut.lines.len &&
          memcmp(whole.lines.ptr, cut.lines.ptr, whole.lines.len) == 0);
    check_order(&whole);
    lx_pt_summary_release(&whole);
    lx_pt_summary_release(&cut);
    reencode(&call, bytes, (data[1] & 8) != 0);

    a = lx_arena_new(0, 64u << 20);
    if (a == NULL)
        return 0;
    {
        struct lx_chat_resp r;
        struct lx_embed_resp e;
        struct lx_upstream_error ue;
        struct lx_err err;
        struct lx_header h = {LX_STR("retry-after"), bytes};
        int rc;

        call.stream = false;
        rc = lx_gemini_parse_response(&call, bytes, a, &r, &err);
        CHECK(rc == LX_OK || rc == LX_EPARSE || rc == LX_ENOMEM);
        if (rc == LX_OK) {
            struct lx_chat_req req;
            struct lx_buf b = LX_BUF_INIT(64u << 20);

            CHECK(r.n_choices > 0);
            lx_chat_req_init(&req);
            req.model = LX_STR("alias");
            (void)lx_frontdoor_gemini.encode_response(&req, &r, 1, &b);
            lx_buf_release(&b);
        }
        call.endpoint = LX_EP_COUNT_TOKENS;
        rc = lx_gemini_parse_response(&call, bytes, a, &r, &err);
        CHECK(rc == LX_OK || rc == LX_EPARSE || rc == LX_ENOMEM);
        call.endpoint = LX_EP_EMBEDDINGS;
        rc = lx_gemini_parse_embeddings(&call, bytes, a, &e, &err);
        CHECK(rc == LX_OK || rc == LX_EPARSE || rc == LX_ENOMEM);
        lx_gemini_map_error(&call, statuses[data[1] & 7], &h, 1, bytes, a, &ue);
        CHECK(ue.type != LX_ERRT_UNSET);
        CHECK(ue.message.len > 0);
        CHECK(!has_key(ue.message));
    }
    lx_arena_free(a);
    return 0;
}
