/* fuzz_gemini_request.c - libFuzzer target for the Gemini front door's decode_request
 * (providers/gemini_front.c): any bytes either decode into an IR or fail with a 400/503 and a
 * message; an IR that decoded must encode back into a Gemini body (and a countTokens body) that
 * is valid JSON, or be refused with a 400 (contents that are only empty text or thoughts). No crash, no leak, no sanitizer report. Input: the client's body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "providers/gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_json(const struct lx_buf *b)
{
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    CHECK(lx_json_parse(&doc, b->ptr, b->len) == LX_OK);
    lx_json_release(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_arena *a = lx_arena_new(0, 64u << 20);
    struct lx_chat_req req;
    struct lx_err err;
    int rc;

    if (a == NULL)
        return 0;
    memset(&err, 0, sizeof(err));
    rc = lx_frontdoor_gemini.decode_request(lx_str_make(data, size), a, &req, &err);
    if (rc != LX_OK) {
        CHECK(rc == LX_EINVAL || rc == LX_ENOMEM);
        CHECK(err.http_status == 400 || err.http_status == 503);
        CHECK(err.msg[0] != '\0');
    } else {
        struct lx_buf b = LX_BUF_INIT(64u << 20);

        req.model = LX_STR("gemini-2.5-flash");
        rc = lx_gemini_encode_body(&req, &b, &err);
        CHECK(rc == LX_OK || rc == LX_ETOOBIG || rc == LX_ENOMEM ||
              (rc == LX_EINVAL && err.http_status == 400));
        if (rc == LX_OK)
            check_json(&b);
        lx_buf_reset(&b);
        rc = lx_gemini_encode_count_body(&req, req.model, &b, &err);
        CHECK(rc == LX_OK || rc == LX_ETOOBIG || rc == LX_ENOMEM ||
              (rc == LX_EINVAL && err.http_status == 400));
        if (rc == LX_OK)
            check_json(&b);
        lx_buf_release(&b);
    }
    lx_arena_free(a);
    return 0;
}
