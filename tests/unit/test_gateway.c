/* test_gateway.c - the parts of gateway/ that need no sockets: OpenAI error bodies (every
 * error llmux makes has this shape). The relay itself
 * is tested end to end in tests/integration/test_gateway.py (routing by name too). */
#include <stdlib.h>

#include "core/buf.h"
#include "gateway/errors.h"
#include "json/json.h"
#include "tests/unit/test.h"

LX_TEST(gateway_openai_error_shape)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_json doc;
    int e;

    LX_ASSERT_EQ(LX_OK, lx_openai_error_json(&b, "bad \"thing\"\n\x01", "invalid_request_error",
                                             "bad_json"));
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len)); /* valid, strict JSON */
    e = lx_json_get(&doc, 0, LX_STR("error"));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, e, LX_STR("message")),
                             LX_STR("bad \"thing\"\n\x01")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, e, LX_STR("type")),
                             LX_STR("invalid_request_error")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, e, LX_STR("code")), LX_STR("bad_json")));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, e, LX_STR("param"))));
    lx_json_release(&doc);
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx_openai_error_json(&b, "x", "server_error", NULL));
    LX_ASSERT(strstr(b.ptr, "\"code\":null") != NULL);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(gateway_openai_error_types)
{
    LX_ASSERT_STREQ("invalid_request_error", lx_openai_error_type(400));
    LX_ASSERT_STREQ("authentication_error", lx_openai_error_type(401));
    LX_ASSERT_STREQ("permission_error", lx_openai_error_type(403));
    LX_ASSERT_STREQ("invalid_request_error", lx_openai_error_type(404));
    LX_ASSERT_STREQ("invalid_request_error", lx_openai_error_type(413));
    LX_ASSERT_STREQ("rate_limit_error", lx_openai_error_type(429));
    LX_ASSERT_STREQ("server_error", lx_openai_error_type(500));
    LX_ASSERT_STREQ("upstream_error", lx_openai_error_type(502));
    LX_ASSERT_STREQ("upstream_error", lx_openai_error_type(504));
    return 0;
}
