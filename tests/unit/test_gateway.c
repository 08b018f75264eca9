/* test_gateway.c - the parts of gateway/ that need no sockets: OpenAI error bodies (every
 * error llmux makes has this shape) and the upstream URL a base URL gives. The relay itself
 * is tested end to end in tests/integration/test_gateway.py. */
#include <stdlib.h>

#include "core/buf.h"
#include "gateway/errors.h"
#include "gateway/gateway.h"
#include "gateway/gateway_int.h"
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

static const char *chat_url_for(const char *base)
{
    static char out[512];
    struct lx_gateway_config c;
    struct lx_gateway *gw;
    struct lx_err err = {0};

    lx_gateway_config_default(&c);
    c.upstream_base = base;
    gw = lx_gateway_new(&c, &err);
    if (gw == NULL)
        return NULL;
    snprintf(out, sizeof(out), "%s", gw->chat_url);
    lx_gateway_free(gw);
    return out;
}

LX_TEST(gateway_upstream_urls)
{
    LX_ASSERT_STREQ("https://api.openai.com/v1/chat/completions",
                    chat_url_for("https://api.openai.com/v1"));
    LX_ASSERT_STREQ("https://api.openai.com/v1/chat/completions",
                    chat_url_for("https://api.openai.com/v1/"));
    LX_ASSERT_STREQ("http://127.0.0.1:8080/v1/chat/completions",
                    chat_url_for("http://127.0.0.1:8080"));
    LX_ASSERT_STREQ("http://h/api/openai/v1/chat/completions",
                    chat_url_for("http://h/api/openai/v1"));
    LX_ASSERT(chat_url_for("ftp://x/v1") == NULL);
    LX_ASSERT(chat_url_for("api.openai.com") == NULL);
    return 0;
}

LX_TEST(gateway_key_kept_out_of_config_copies)
{
    struct lx_gateway_config c;
    struct lx_gateway *gw;
    struct lx_err err = {0};
    char key[] = "sk-CANARY-unit";

    lx_gateway_config_default(&c);
    c.upstream_key = key;
    gw = lx_gateway_new(&c, &err);
    LX_ASSERT(gw != NULL);
    key[3] = 'X'; /* the gateway keeps its own copy */
    LX_ASSERT_STREQ("Bearer sk-CANARY-unit", gw->auth_header);
    LX_ASSERT_EQ(strlen("Bearer sk-CANARY-unit"), gw->auth_header_len);
    lx_gateway_free(gw);
    return 0;
}
