/* test_providers_workers_ai.c - lx_provider_workers_ai against the fixtures
 * (../shared/protocols/fixtures/cloudflare): the SSE stream replayed at every split point, the
 * result envelope (text, JSON-mode objects, tool calls), error envelopes, the model path,
 * request round trips, embeddings. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "providers/ir.h"
#include "providers/provider.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

static const struct lx_config_provider wai_conf = {
    .name = "cf", .type = "workers_ai", .proto = LX_CONFIG_PROTO_WORKERS_AI,
    .base_url = "https://api.cloudflare.com/client/v4/accounts/0123abcd",
};

static struct lx_provider_call wai_call(bool stream)
{
    struct lx_provider_call c = {.conf = &wai_conf, .model = LX_STR("@cf/meta/llama-3.1-8b-instruct"),
                                 .key = LX_STR("cf-token-abcdef"), .endpoint = LX_EP_CHAT,
                                 .stream = stream, .now_s = 1700000000};
    return c;
}

static char *wai_fixture(const char *name, size_t *len)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "protocols/fixtures/cloudflare/%s", name);
    return lx_test_read_file(lx_test_shared(rel), len);
}

LX_TEST(workers_ai_stream)
{
    struct lx_provider_call call = wai_call(true);
    struct lx_pt_summary s;
    size_t len;
    char *bytes = wai_fixture("run_stream.sse", &len);
    int rc;

    LX_ASSERT(bytes != NULL);
    lx_pt_summary_init(&s);
    rc = lx_pt_replay_all_splits(&lx_provider_workers_ai, &call, lx_str_make(bytes, len), 1, &s);
    free(bytes);
    if (rc == 0)
        rc = strcmp(lx_pt_lines(&s),
                    "START id=\"\" model=\"\"\n"
                    "TEXT c=0 \"The\"\n"
                    "TEXT c=0 \" phrase\"\n"
                    "TEXT c=0 \" \\\"Hello\"\n"
                    "TEXT c=0 \", World!\\\"\"\n"
                    "TEXT c=0 \" first appeared\"\n"
                    "TEXT c=0 \" in 1972.\"\n"
                    "FINISH c=0 stop raw=\"\" seq=\"\"\n"
                    "USAGE in=32 out=12 total=44 cache_read=-1 cache_write=-1 reasoning=-1\n"
                    "DONE\n"
                    "END rc=OK done=1 failed=0\n") == 0
                 ? 0
                 : (fprintf(stderr, "got:\n%s", lx_pt_lines(&s)), -1);
    lx_pt_summary_release(&s);
    LX_ASSERT_EQ(rc, 0);
    return 0;
}

static int wai_replay_text(const char *text, struct lx_pt_summary *s)
{
    struct lx_provider_call call = wai_call(true);

    return lx_pt_replay(&lx_provider_workers_ai, &call, lx_str_cstr(text), LX_PT_NO_SPLIT, s);
}

LX_TEST(workers_ai_stream_more)
{
    static const char *const bad[] = {
        "data: nope\n\n",
        "data: [1]\n\n",
        "data: {\"choices\":[]}\n\n", /* an OpenAI chunk: the wrong endpoint */
        "data: {\"response\":\"x\",\"tool_calls\":{}}\n\n",
        "data: {\"tool_calls\":[{\"arguments\":{}}]}\n\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lx_pt_summary s;
        int rc;

        lx_pt_summary_init(&s);
        rc = wai_replay_text(bad[i], &s);
        lx_pt_summary_release(&s);
        if (rc != LX_EPARSE)
            LX_FAIL("case %zu: rc %d", i, rc);
    }
    {
        struct lx_pt_summary s;

        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(wai_replay_text("data: {\"response\":\"\",\"p\":\"ab\"}\n\n"
                                     "data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"get\","
                                     "\"arguments\":{\"q\":1}}]}\n\n"
                                     "data: [DONE]\n\n",
                                     &s),
                     LX_OK);
        LX_ASSERT_STREQ(lx_pt_lines(&s),
                        "START id=\"\" model=\"\"\n"
                        "TOOL c=0 i=0 id=\"call_0\" name=\"get\" args=\"{\\\"q\\\":1}\" sig=\"\"\n"
                        "FINISH c=0 tool_calls raw=\"\" seq=\"\"\n"
                        "DONE\n"
                        "END rc=OK done=1 failed=0\n");
        lx_pt_summary_release(&s);
    }
    {
        struct lx_pt_summary s;

        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(wai_replay_text("data: {\"response\":\"a\"}\n\n"
                                     "data: {\"errors\":[{\"code\":3040,\"message\":\"Capacity "
                                     "temporarily exceeded\"}]}\n\n",
                                     &s),
                     LX_OK);
        LX_ASSERT_STREQ(lx_pt_lines(&s),
                        "START id=\"\" model=\"\"\n"
                        "TEXT c=0 \"a\"\n"
                        "ERROR status=429 type=6 retryable=1 key=1 code=\"3040\" "
                        "msg=\"Capacity temporarily exceeded\"\n"
                        "END rc=OK done=0 failed=1\n");
        lx_pt_summary_release(&s);
    }
    return 0;
}

static int wai_parse(const char *body, struct lx_arena *a, struct lx_chat_resp *r)
{
    struct lx_provider_call call = wai_call(false);
    struct lx_err err = {0};

    return lx_provider_workers_ai.parse_response(&call, lx_str_cstr(body), a, r, &err);
}

LX_TEST(workers_ai_response)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_chat_resp r;
    size_t len;
    char *body = wai_fixture("run_response.json", &len);
    struct lx_str b;
    const struct lx_part *p;

    LX_ASSERT(body != NULL);
    b = lx_arena_dup(a, lx_str_make(body, len));
    free(body);
    LX_ASSERT_EQ(wai_parse(b.ptr, a, &r), LX_OK);
    LX_ASSERT_EQ(r.n_choices, 1);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 1);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text,
                  "The phrase \"Hello, World!\" first appeared in Brian Kernighan's 1972 tutorial "
                  "for the B language.");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_STOP);
    LX_ASSERT_EQ(r.usage.input, 32);
    LX_ASSERT_EQ(r.usage.output, 24);
    LX_ASSERT_EQ(r.usage.total, 56);

    /* JSON mode: "response" is an object -> its JSON text */
    LX_ASSERT_EQ(wai_parse("{\"result\":{\"response\":{\"a\":[1,2]}},\"success\":true,"
                           "\"errors\":[],\"messages\":[]}",
                           a, &r),
                 LX_OK);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text, "{\"a\":[1,2]}");
    /* tool calls, legacy and OpenAI-shaped */
    LX_ASSERT_EQ(wai_parse("{\"result\":{\"response\":null,\"tool_calls\":[{\"name\":\"f\","
                           "\"arguments\":{\"x\":1}},{\"id\":\"c9\",\"type\":\"function\","
                           "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},"
                           "\"success\":true}",
                           a, &r),
                 LX_OK);
    p = r.choices[0].message.parts;
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 2);
    LX_ASSERT_STR(p[0].id, "call_0");
    LX_ASSERT_STR(p[0].name, "f");
    LX_ASSERT_STR(p[0].args, "{\"x\":1}");
    LX_ASSERT_STR(p[1].id, "c9");
    LX_ASSERT_STR(p[1].name, "g");
    LX_ASSERT_STR(p[1].args, "{}");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_TOOL_CALLS);

    LX_ASSERT_EQ(wai_parse("", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(wai_parse("{\"response\":\"x\"}", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(wai_parse("{\"result\":null,\"success\":false,\"errors\":[]}", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(wai_parse("{\"result\":{\"response\":\"x\"},\"success\":false}", a, &r),
                 LX_EPARSE);
    LX_ASSERT_EQ(wai_parse("{\"result\":{\"tool_calls\":[{\"name\":5}]}}", a, &r), LX_EPARSE);
    lx_arena_free(a);
    return 0;
}

static void wai_map(int status, const char *file, const char *body, struct lx_arena *a,
                    struct lx_upstream_error *e)
{
    struct lx_provider_call call = wai_call(false);
    struct lx_str b = lx_str_cstr(body);

    if (file != NULL) {
        size_t len;
        char *bytes = wai_fixture(file, &len);

        b = bytes != NULL ? lx_arena_dup(a, lx_str_make(bytes, len)) : LX_STR_NULL;
        free(bytes);
    }
    lx_provider_workers_ai.map_error(&call, status, NULL, 0, b, a, e);
}

LX_TEST(workers_ai_errors)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    struct lx_upstream_error e;

    wai_map(401, "error_401.json", NULL, a, &e);
    LX_ASSERT_EQ(e.status, 401);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    LX_ASSERT_EQ(e.retryable, true);
    LX_ASSERT_STR(e.message, "Authentication error");
    LX_ASSERT_STR(e.code, "10000");
    /* code 10000 with another status is still the credential */
    wai_map(400, NULL, "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":\"Auth\"}]}",
            a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    wai_map(429, "error_429.json", NULL, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_RATE_LIMIT);
    LX_ASSERT_EQ(e.key_action, LX_KEY_COOLDOWN);
    LX_ASSERT_EQ(e.retryable, true);
    LX_ASSERT_STR(e.code, "3040");
    wai_map(400, "error_400_model.json", NULL, a, &e);
    LX_ASSERT_EQ(e.status, 400);
    LX_ASSERT_EQ(e.type, LX_ERRT_NOT_FOUND);
    LX_ASSERT_EQ(e.retryable, false);
    LX_ASSERT_EQ(e.key_action, LX_KEY_KEEP);
    LX_ASSERT_STR(e.message, "No such model @cf/meta/llama-9-nope or task");
    wai_map(429, NULL, "{\"success\":false,\"errors\":[{\"code\":3036,\"message\":\"daily free "
                       "allocation exceeded\"}]}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_QUOTA);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    wai_map(400, NULL, "{\"success\":false,\"errors\":[{\"code\":5021,\"message\":\"bad input\"}]}",
            a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_INVALID_REQUEST);
    LX_ASSERT_EQ(e.retryable, false);
    wai_map(500, NULL, "upstream connect error", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_SERVER);
    LX_ASSERT_EQ(e.retryable, true);
    LX_ASSERT_STR(e.message, "upstream connect error");
    wai_map(503, NULL, "", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_OVERLOADED);
    wai_map(401, NULL, "{\"errors\":[{\"code\":1,\"message\":\"token cf-token-abcdef bad\"}]}", a,
            &e);
    LX_ASSERT(strstr(e.message.ptr, "cf-token") == NULL);
    lx_arena_free(a);
    return 0;
}

static struct lx_str wai_get_str(const struct lx_json *doc, int obj, const char *key,
                                 struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;
    int t = lx_json_get(doc, obj, lx_str_cstr(key));

    if (lx_json_type(doc, t) == LX_JSON_STRING)
        (void)lx_json_str(doc, t, a, &s);
    return s;
}

LX_TEST(workers_ai_request_roundtrip)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_provider_call call = wai_call(false);
    struct lx_part sys = {.type = LX_PART_TEXT, .text = LX_STR("You are concise.")};
    struct lx_part user = {.type = LX_PART_TEXT,
                           .text = LX_STR("What is the origin of the phrase Hello, World?")};
    struct lx_part asst[2] = {
        {.type = LX_PART_TEXT, .text = LX_STR("Let me check.")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("call_0"), .name = LX_STR("search"),
         .args = LX_STR("{\"q\":\"hello world\"}")},
    };
    struct lx_part res = {.type = LX_PART_TOOL_RESULT, .id = LX_STR("call_0"),
                          .text = LX_STR("1972")};
    struct lx_msg msgs[4] = {
        {.role = LX_ROLE_SYSTEM, .parts = &sys, .n_parts = 1},
        {.role = LX_ROLE_USER, .parts = &user, .n_parts = 1},
        {.role = LX_ROLE_ASSISTANT, .parts = asst, .n_parts = 2},
        {.role = LX_ROLE_TOOL, .parts = &res, .n_parts = 1},
    };
    struct lx_tool tool = {.name = LX_STR("search"), .description = LX_STR("Search"),
                           .parameters = LX_STR("{\"type\":\"object\"}")};
    struct lx_chat_req req;
    struct lx_upstream_req out;
    struct lx_err err = {0};
    struct lx_json doc;
    int msgsj, m;

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 2;
    req.max_tokens = 256;
    req.temperature = (struct lx_num){LX_STR("0.6"), 0.6};
    req.top_p = (struct lx_num){LX_STR("0.9"), 0.9};
    LX_ASSERT_EQ(lx_provider_workers_ai.build_request(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(out.url, "https://api.cloudflare.com/client/v4/accounts/0123abcd/ai/run/"
                           "@cf/meta/llama-3.1-8b-instruct");
    LX_ASSERT_STR(lx_header_find(out.headers, out.n_headers, LX_STR("authorization"))->value,
                  "Bearer cf-token-abcdef");
    /* the recorded request, byte for byte */
    LX_ASSERT_STR(out.body, "{\"messages\":[{\"role\":\"system\",\"content\":\"You are concise.\"},"
                            "{\"role\":\"user\",\"content\":\"What is the origin of the phrase "
                            "Hello, World?\"}],\"max_tokens\":256,\"temperature\":0.6,"
                            "\"top_p\":0.9,\"stream\":false}");

    req.n_msgs = 4;
    req.tools = &tool;
    req.n_tools = 1;
    req.response_format = LX_RF_JSON_SCHEMA;
    req.schema = LX_STR("{\"type\":\"object\"}");
    req.top_k = 5;
    req.seed = 1;
    req.has_seed = true;
    call = wai_call(true);
    LX_ASSERT_EQ(lx_provider_workers_ai.build_request(&call, &req, a, &out, &err), LX_OK);
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, out.body.ptr, out.body.len), LX_OK);
    msgsj = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(lx_json_count(&doc, msgsj), 4);
    m = lx_json_sibling(&doc, msgsj, lx_json_sibling(&doc, msgsj, lx_json_first(&doc, msgsj)));
    LX_ASSERT_STR(wai_get_str(&doc, m, "role", a), "assistant");
    LX_ASSERT_STR(wai_get_str(&doc, m, "content", a), "Let me check.");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, m, LX_STR("tool_calls"))),
                  "[{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":\"search\","
                  "\"arguments\":\"{\\\"q\\\":\\\"hello world\\\"}\"}}]");
    m = lx_json_sibling(&doc, msgsj, m);
    LX_ASSERT_STR(wai_get_str(&doc, m, "role", a), "tool");
    LX_ASSERT_STR(wai_get_str(&doc, m, "tool_call_id", a), "call_0");
    LX_ASSERT_STR(wai_get_str(&doc, m, "name", a), "search");
    LX_ASSERT_STR(wai_get_str(&doc, m, "content", a), "1972");
    /* the legacy flat tool shape */
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("tools"))),
                  "[{\"name\":\"search\",\"description\":\"Search\","
                  "\"parameters\":{\"type\":\"object\"}}]");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("response_format"))),
                  "{\"type\":\"json_schema\",\"json_schema\":{\"type\":\"object\"}}");
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_TRUE);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("top_k"))), "5");

    /* model names that could leave /ai/run/ or carry a query are refused */
    {
        static const char *const bad[] = {"", "../../user/tokens", "@cf/a//b", "@cf/x?y=1",
                                          "@cf/x#f", "@cf/a b", "/abs", "@cf/..", "a/./b"};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            call.model = lx_str_cstr(bad[i]);
            req.model = call.model;
            if (lx_provider_workers_ai.build_request(&call, &req, a, &out, &err) != LX_EINVAL)
                LX_FAIL("model %s accepted", bad[i]);
        }
        call.model = LX_STR("@hf/nousresearch/hermes-2-pro-mistral-7b");
        LX_ASSERT_EQ(lx_provider_workers_ai.build_request(&call, &req, a, &out, &err), LX_OK);
        LX_ASSERT(lx_str_ends_with(out.url, LX_STR("/ai/run/@hf/nousresearch/hermes-2-pro-mistral-7b")));
    }
    /* images are not carried */
    {
        struct lx_part img = {.type = LX_PART_IMAGE, .data = LX_STR("AAAA"),
                              .media_type = LX_STR("image/png")};

        msgs[1].parts = &img;
        LX_ASSERT_EQ(lx_provider_workers_ai.build_request(&call, &req, a, &out, &err), LX_EINVAL);
        LX_ASSERT_EQ(err.http_status, 400);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(workers_ai_embeddings)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    struct lx_provider_call call = wai_call(false);
    struct lx_str inputs[2] = {LX_STR("a"), LX_STR("b")};
    struct lx_embed_req req = {.inputs = inputs, .n_inputs = 2, .dimensions = -1};
    struct lx_upstream_req out;
    struct lx_embed_resp r;
    struct lx_err err = {0};

    call.endpoint = LX_EP_EMBEDDINGS;
    call.model = LX_STR("@cf/baai/bge-base-en-v1.5");
    LX_ASSERT_EQ(lx_provider_workers_ai.build_embeddings(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT(lx_str_ends_with(out.url, LX_STR("/ai/run/@cf/baai/bge-base-en-v1.5")));
    LX_ASSERT_STR(out.body, "{\"text\":[\"a\",\"b\"]}");
    LX_ASSERT_EQ(lx_provider_workers_ai.parse_embeddings(
                     &call,
                     LX_STR("{\"result\":{\"shape\":[2,2],\"data\":[[0.1,0.2],[0.3,0.4]]},"
                            "\"success\":true,\"errors\":[],\"messages\":[]}"),
                     a, &r, &err),
                 LX_OK);
    LX_ASSERT_EQ(r.n_vectors, 2);
    LX_ASSERT_STR(r.vectors[1], "[0.3,0.4]");
    LX_ASSERT_EQ(lx_provider_workers_ai.parse_embeddings(&call, LX_STR("{\"result\":{}}"), a, &r,
                                                         &err),
                 LX_EPARSE);
    lx_arena_free(a);
    return 0;
}
