/* fuzz_vertex.c - libFuzzer target for the Vertex adapter (vertex.c: streamed-call folding
 * over the Gemini decoder, embeddings, errors) and vertex_auth.c (key file, token answer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "providers/vertex_auth.h"
#include "tests/unit/provider_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_config_provider conf = {.name = "vx", .type = "vertex",
                                      .proto = LX_CONFIG_PROTO_VERTEX, .project = "p",
                                      .region = "global"};
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gemini-3-pro"),
                                    .endpoint = LX_EP_CHAT, .stream = true};
    struct lx_str bytes;
    struct lx_pt_summary s, t;
    struct lx_arena *a;
    size_t cut;
    int r1, r2;

    if (size < 1)
        return 0;
    cut = (size_t)data[0] * (size - 1) / 255;
    bytes = lx_str_make((const char *)data + 1, size - 1);
    lx_pt_summary_init(&s);
    lx_pt_summary_init(&t);
    r1 = lx_pt_replay(&lx_provider_vertex, &call, bytes, LX_PT_NO_SPLIT, &s);
    r2 = lx_pt_replay(&lx_provider_vertex, &call, bytes, cut, &t);
    CHECK(r1 == r2);
    CHECK(s.lines.len == t.lines.len && memcmp(s.lines.ptr, t.lines.ptr, s.lines.len) == 0);
    lx_pt_summary_release(&s);
    lx_pt_summary_release(&t);

    a = lx_arena_new(4096, 64u << 20);
    {
        struct lx_err err = {0};
        struct lx_vertex_sa sa;
        struct lx_vertex_token tok;
        struct lx_embed_resp er;
        struct lx_chat_resp cr;
        struct lx_upstream_error ue;

        (void)lx_vertex_sa_parse(bytes, a, &sa, &err);
        (void)lx_vertex_token_parse(data[0] % 2 ? 200 : 400, bytes, 1000, a, &tok, &err);
        (void)lx_provider_vertex.parse_embeddings(&call, bytes, a, &er, &err);
        (void)lx_provider_vertex.parse_response(&call, bytes, a, &cr, &err);
        lx_provider_vertex.map_error(&call, 429, NULL, 0, bytes, a, &ue);
        call.model = LX_STR("claude-x");
        lx_provider_vertex.map_error(&call, 529, NULL, 0, bytes, a, &ue);
    }
    lx_arena_free(a);
    return 0;
}
