/* test_providers_azure.c - the Azure OpenAI adapter (src/providers/azure.c): both URL styles,
 * the api-key header, the recorded stream (empty first chunk) at every split point, the
 * recorded answer and errors. The wire decoders themselves are tested in
 * test_providers_openai.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "providers/openai_wire.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

static struct lx_config_provider az_conf(const char *api_version)
{
    struct lx_config_provider c;

    memset(&c, 0, sizeof(c));
    c.name = "az";
    c.type = NULL; /* the proto alone makes it Azure */
    c.proto = LX_CONFIG_PROTO_AZURE;
    c.base_url = "https://res.openai.azure.com";
    c.api_version = api_version;
    return c;
}

static struct lx_str az_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

static const struct lx_header *az_hdr(const struct lx_upstream_req *u, const char *name)
{
    return lx_header_find(u->headers, u->n_headers, lx_str_cstr(name));
}

LX_TEST(test_providers_azure_urls)
{
    struct lx_config_provider conf = az_conf("2024-10-21");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gpt-5-nano"),
                                    .key = LX_STR("azkey"), .stream = true};
    struct lx_arena *a = lx_arena_new(4096, 1u << 22);
    struct lx_part p = {.type = LX_PART_TEXT, .text = LX_STR("Hello!")};
    struct lx_msg m = {LX_ROLE_USER, &p, 1, LX_STR_NULL};
    struct lx_chat_req req;
    struct lx_upstream_req u;
    struct lx_err err;
    struct lx_json doc;

    LX_ASSERT(a != NULL);
    lx_chat_req_init(&req);
    req.msgs = &m;
    req.n_msgs = 1;
    req.max_tokens = 50;

    /* deployment style */
    LX_ASSERT_EQ(lx_provider_azure.build_request(&call, &req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(u.method, "POST");
    LX_ASSERT_STR(u.url, "https://res.openai.azure.com/openai/deployments/gpt-5-nano/chat/"
                         "completions?api-version=2024-10-21");
    LX_ASSERT_STR(az_hdr(&u, "api-key")->value, "azkey");
    LX_ASSERT(az_hdr(&u, "Authorization") == NULL);
    LX_ASSERT_STR(az_hdr(&u, "Accept")->value, "text/event-stream");
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_completion_tokens"))), "50");
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("max_tokens")) < 0);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("model")), LX_STR("gpt-5-nano")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("stream_options"))),
                  "{\"include_usage\":true}");

    /* a deployment name with odd characters is escaped in the path */
    call.model = LX_STR("my dep/x");
    LX_ASSERT_EQ(lx_azure_target(&call, "/embeddings", a, &u), LX_OK);
    LX_ASSERT_STR(u.url, "https://res.openai.azure.com/openai/deployments/my%20dep%2Fx/"
                         "embeddings?api-version=2024-10-21");

    /* v1 style: no api-version, the model in the body */
    conf.api_version = NULL;
    call.model = LX_STR("gpt-5-nano");
    LX_ASSERT_EQ(lx_provider_azure.build_request(&call, &req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(u.url, "https://res.openai.azure.com/openai/v1/chat/completions");
    LX_ASSERT_STR(az_hdr(&u, "api-key")->value, "azkey");
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("model")), LX_STR("gpt-5-nano")));
    LX_ASSERT_EQ(lx_azure_target(&call, "/completions", a, &u), LX_OK);
    LX_ASSERT_STR(u.url, "https://res.openai.azure.com/openai/v1/completions");

    /* no deployment for the deployment style: 400 */
    conf.api_version = "2024-06-01";
    call.model = LX_STR_NULL;
    req.model = LX_STR_NULL;
    LX_ASSERT_EQ(lx_provider_azure.build_request(&call, &req, a, &u, &err), LX_EINVAL);
    LX_ASSERT_EQ(err.http_status, 400);
    lx_arena_free(a);
    return 0;
}

LX_TEST(test_providers_azure_embeddings)
{
    struct lx_config_provider conf = az_conf("2024-10-21");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("emb"), .key = LX_STR("k"),
                                    .endpoint = LX_EP_EMBEDDINGS};
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_str in[1] = {LX_STR("hi")};
    struct lx_embed_req req = {.inputs = in, .n_inputs = 1, .dimensions = -1};
    struct lx_upstream_req u;
    struct lx_err err;

    LX_ASSERT(a != NULL);
    LX_ASSERT_EQ(lx_provider_azure.build_embeddings(&call, &req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(u.url,
                  "https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version="
                  "2024-10-21");
    LX_ASSERT_STR(u.body, "{\"model\":\"emb\",\"input\":[\"hi\"],\"encoding_format\":\"float\"}");
    lx_arena_free(a);
    return 0;
}

LX_TEST(test_providers_azure_stream)
{
    struct lx_config_provider conf = az_conf("2024-10-21");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gpt-5-nano"), .stream = true};
    struct lx_pt_summary s;
    char *raw;
    struct lx_str bytes = az_read("protocols/fixtures/azure/chat_stream.sse", &raw);
    const char *lines;

    LX_ASSERT(raw != NULL);
    lx_pt_summary_init(&s);
    if (lx_pt_replay_all_splits(&lx_provider_azure, &call, bytes, 1, &s) != 0) {
        lx_pt_summary_release(&s);
        free(raw);
        LX_FAIL("split points differ");
    }
    lines = lx_pt_lines(&s);
    /* the empty first chunk gave nothing: START comes from the first real chunk */
    LX_ASSERT(strncmp(lines, "START id=\"chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt\" "
                             "model=\"gpt-5-nano-2025-08-07\"\n", 79) == 0);
    LX_ASSERT_EQ(s.n_start, 1);
    LX_ASSERT_EQ(s.text.len, strlen("Capital of Denmark."));
    LX_ASSERT(memcmp(s.text.ptr, "Capital of Denmark.", s.text.len) == 0);
    LX_ASSERT_EQ(s.finish, LX_FINISH_STOP);
    LX_ASSERT_EQ(s.usage.input, 15);
    LX_ASSERT_EQ(s.usage.output, 78);
    LX_ASSERT_EQ(s.usage.reasoning, 64);
    LX_ASSERT_EQ(s.n_done, 1);
    LX_ASSERT(strstr(lines, "END rc=OK done=1 failed=0\n") != NULL);
    lx_pt_summary_release(&s);
    free(raw);

    /* a content-filtered output */
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(lx_pt_replay(&lx_provider_azure, &call,
                              LX_STR("data: {\"choices\":[],\"id\":\"\",\"model\":\"\","
                                     "\"prompt_filter_results\":[]}\n\n"
                                     "data: {\"id\":\"c\",\"model\":\"m\","
                                     "\"choices\":[{\"index\":0,"
                                     "\"delta\":{},\"finish_reason\":\"content_filter\","
                                     "\"content_filter_results\":{}}]}\n\ndata: [DONE]\n\n"),
                              LX_PT_NO_SPLIT, &s),
                 LX_OK);
    LX_ASSERT_EQ(s.finish, LX_FINISH_CONTENT_FILTER);
    LX_ASSERT_EQ(s.n_start, 1);
    lx_pt_summary_release(&s);
    return 0;
}

LX_TEST(test_providers_azure_response_and_errors)
{
    struct lx_config_provider conf = az_conf("2024-10-21");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gpt-5-nano"),
                                    .key = LX_STR("azkey"), .now_s = 1700000000};
    struct lx_arena *a = lx_arena_new(4096, 1u << 22);
    struct lx_chat_resp r;
    struct lx_upstream_error e;
    struct lx_err err;
    struct lx_header h[1] = {{LX_STR("retry-after-ms"), LX_STR("6000")}};
    char *raw;
    struct lx_str body;

    LX_ASSERT(a != NULL);
    body = az_read("protocols/fixtures/azure/chat_response.json", &raw);
    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(lx_provider_azure.parse_response(&call, body, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.id, "chatcmpl-CM9n9OhFOl4lSSFwarLEIMnPrNWSP");
    LX_ASSERT_EQ(r.n_choices, 1);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 1);
    LX_ASSERT(lx_str_starts_with(r.choices[0].message.parts[0].text, LX_STR("Hi there!")));
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_STOP);
    LX_ASSERT_EQ(r.usage.input, 8);
    LX_ASSERT_EQ(r.usage.output, 271);
    LX_ASSERT_EQ(r.usage.reasoning, 192);
    free(raw);

    body = az_read("protocols/fixtures/azure/error_400_content_filter.json", &raw);
    lx_provider_azure.map_error(&call, 400, NULL, 0, body, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_CONTENT_FILTER);
    LX_ASSERT(!e.retryable);
    LX_ASSERT_EQ(e.key_action, LX_KEY_KEEP);
    LX_ASSERT_STR(e.code, "content_filter");
    LX_ASSERT(lx_str_starts_with(e.message, LX_STR("The response was filtered")));
    free(raw);

    body = az_read("protocols/fixtures/azure/error_404_deployment.json", &raw);
    lx_provider_azure.map_error(&call, 404, NULL, 0, body, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_NOT_FOUND);
    LX_ASSERT_STR(e.code, "DeploymentNotFound");
    LX_ASSERT(!e.retryable);
    free(raw);

    body = az_read("protocols/fixtures/azure/error_429.json", &raw);
    lx_provider_azure.map_error(&call, 429, h, 1, body, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_RATE_LIMIT);
    LX_ASSERT_EQ(e.key_action, LX_KEY_COOLDOWN);
    LX_ASSERT_EQ(e.retry_after_ms, 6000);
    free(raw);

    body = az_read("protocols/fixtures/azure/error_401.json", &raw);
    lx_provider_azure.map_error(&call, 401, NULL, 0, body, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    free(raw);
    lx_arena_free(a);
    return 0;
}
