/* fuzz_openai_events.c - libFuzzer target for the OpenAI-compatible provider adapter
 * (providers/openai.c, azure.c): the bytes go through SSE framing into parse_event whole and cut
 * in two (the transcripts must be equal, and a stream never says anything after its DONE or
 * ERROR), then the same bytes go to parse_response, parse_embeddings and map_error (with the
 * bytes as a header value too). No crash, no leak, no sanitizer report.
 * Input: byte 0 = cut (scaled), byte 1 = flags (bit 0: azure, bits 1-2: provider type, bits
 * 3-5: status), the rest = the upstream bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "providers/openai_wire.h"
#include "tests/unit/provider_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* After DONE or ERROR no line may follow but END. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"openai", "mistral", "openrouter", "groq"};
    static const int statuses[] = {400, 401, 402, 403, 404, 429, 500, 503};
    struct lx_config_provider conf;
    struct lx_provider_call call;
    const struct lx_provider_ops *ops;
    struct lx_pt_summary whole, cut;
    struct lx_str bytes;
    struct lx_arena *a;
    size_t split;
    int rc1, rc2;

    if (size < 2)
        return 0;
    memset(&conf, 0, sizeof(conf));
    conf.name = "f";
    conf.type = types[(data[1] >> 1) & 3];
    conf.proto = (data[1] & 1) ? LX_CONFIG_PROTO_AZURE : LX_CONFIG_PROTO_OPENAI;
    conf.base_url = "https://h";
    ops = (data[1] & 1) ? &lx_provider_azure : &lx_provider_openai;
    memset(&call, 0, sizeof(call));
    call.conf = &conf;
    call.model = LX_STR("m");
    call.key = LX_STR("sk-fuzz-key");
    call.stream = true;
    call.now_s = 1700000000;
    bytes = lx_str_make(data + 2, size - 2);
    split = bytes.len * data[0] / 255;

    lx_pt_summary_init(&whole);
    lx_pt_summary_init(&cut);
    rc1 = lx_pt_replay(ops, &call, bytes, LX_PT_NO_SPLIT, &whole);
    rc2 = lx_pt_replay(ops, &call, bytes, split, &cut);
    CHECK(rc1 == rc2);
    CHECK(whole.lines.len == cut.lines.len &&
          memcmp(whole.lines.ptr, cut.lines.ptr, whole.lines.len) == 0);
    check_order(&whole);
    lx_pt_summary_release(&whole);
    lx_pt_summary_release(&cut);

    a = lx_arena_new(4096, 64u << 20);
    if (a == NULL)
        return 0;
    {
        struct lx_chat_resp r;
        struct lx_embed_resp e;
        struct lx_upstream_error ue;
        struct lx_err err;
        struct lx_header h[2] = {{LX_STR("retry-after"), bytes},
                                 {LX_STR("x-ratelimit-reset-tokens"), bytes}};
        int status = statuses[(data[1] >> 3) & 7];

        if (ops->parse_response(&call, bytes, a, &r, &err) == LX_OK) {
            for (size_t i = 0; i < r.n_choices; i++)
                for (size_t j = 0; j < r.choices[i].message.n_parts; j++)
                    CHECK(r.choices[i].message.parts[j].type != LX_PART_TOOL_CALL ||
                          r.choices[i].message.parts[j].args.len > 0);
        }
        if (ops->parse_embeddings(&call, bytes, a, &e, &err) == LX_OK) {
            for (size_t i = 0; i < e.n_vectors; i++)
                CHECK(e.vectors[i].len >= 2 && e.vectors[i].ptr[0] == '[');
        }
        ops->map_error(&call, status, h, 2, bytes, a, &ue);
        CHECK(ue.status == status && ue.type != LX_ERRT_UNSET);
        CHECK(ue.message.len > 0);
        for (size_t i = 0; i + 11 <= ue.message.len; i++) /* never our key */
            CHECK(memcmp(ue.message.ptr + i, "sk-fuzz-key", 11) != 0);
    }
    lx_arena_free(a);
    return 0;
}
