/* fuzz_anthropic_request.c - libFuzzer target for the Anthropic front door's request decoder
 * (lx_frontdoor_anthropic.decode_request): any bytes are either an IR request or a 400 with a
 * message; an IR request must then encode again as an Anthropic body that the strict JSON
 * tokenizer accepts (lx_anthropic_encode_body, with and without stream), and be estimated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "providers/anthropic.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_arena *a = lx_arena_new(4096, 256u << 20);
    struct lx_chat_req req;
    struct lx_err err = {0};
    int rc;

    CHECK(a != NULL);
    rc = lx_frontdoor_anthropic.decode_request(lx_str_make(data, size), a, &req, &err);
    if (rc != LX_OK) {
        CHECK(err.http_status == 400 || rc == LX_ENOMEM);
        CHECK(err.msg[0] != '\0');
    } else {
        struct lx_buf b = LX_BUF_INIT(1u << 26);
        struct lx_json doc;
        int64_t n = -1;

        CHECK(req.model.ptr != NULL && req.max_tokens >= 1);
        rc = lx_anthropic_encode_body(&req, req.model, LX_STR_NULL, req.stream, &b, &err);
        CHECK(rc == LX_OK || rc == LX_EINVAL || rc == LX_ETOOBIG);
        if (rc == LX_OK) {
            lx_json_init(&doc, NULL);
            CHECK(lx_json_parse(&doc, b.ptr, b.len) == LX_OK);
            CHECK(lx_json_type(&doc, 0) == LX_JSON_OBJECT);
            lx_json_release(&doc);
        }
        lx_buf_release(&b);
        CHECK(lx_anthropic_estimate_tokens(&req, &n) == LX_OK && n >= 0);
    }
    lx_arena_free(a);
    return 0;
}
