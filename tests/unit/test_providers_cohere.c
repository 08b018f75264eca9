/* test_providers_cohere.c - lx_provider_cohere against the recorded fixtures
 * (../shared/protocols/fixtures/cohere): streams replayed at every split point, answers, errors,
 * request round trips through the JSON tokenizer, the finish table, embeddings. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "providers/ir.h"
#include "providers/provider.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

static const struct lx_config_provider coh_conf = {
    .name = "cohere", .type = "cohere", .proto = LX_CONFIG_PROTO_COHERE,
    .base_url = "https://api.cohere.com",
};

static struct lx_provider_call coh_call(bool stream)
{
    struct lx_provider_call c = {.conf = &coh_conf, .model = LX_STR("command-a-03-2025"),
                                 .key = LX_STR("co-test-key-123456"), .endpoint = LX_EP_CHAT,
                                 .stream = stream, .now_s = 1700000000};
    return c;
}

static char *coh_fixture(const char *name, size_t *len)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "protocols/fixtures/cohere/%s", name);
    return lx_test_read_file(lx_test_shared(rel), len);
}

/* Replays a fixture at every split and compares the transcript with want. */
static int coh_replay(const char *name, const char *want, struct lx_pt_summary *s)
{
    struct lx_provider_call call = coh_call(true);
    size_t len;
    char *bytes = coh_fixture(name, &len);
    int rc;

    if (bytes == NULL)
        LX_FAIL("cannot read %s", name);
    rc = lx_pt_replay_all_splits(&lx_provider_cohere, &call, lx_str_make(bytes, len), 1, s);
    free(bytes);
    LX_ASSERT_EQ(rc, 0);
    if (want != NULL)
        LX_ASSERT_STREQ(lx_pt_lines(s), want);
    return 0;
}

LX_TEST(cohere_stream_text)
{
    struct lx_pt_summary s;
    int rc;

    lx_pt_summary_init(&s);
    rc = coh_replay("chat_stream.sse",
                    "START id=\"321d178c-2c12-44d3-ae42-2f5510f6b1cc\" model=\"\"\n"
                    "TEXT c=0 \"The\"\n"
                    "TEXT c=0 \" capital\"\n"
                    "TEXT c=0 \" of\"\n"
                    "TEXT c=0 \" France\"\n"
                    "TEXT c=0 \" is\"\n"
                    "TEXT c=0 \" Paris\"\n"
                    "TEXT c=0 \".\"\n"
                    "FINISH c=0 stop raw=\"COMPLETE\" seq=\"\"\n"
                    "USAGE in=507 out=10 total=517 cache_read=448 cache_write=-1 reasoning=-1\n"
                    "DONE\n"
                    "END rc=OK done=1 failed=0\n",
                    &s);
    lx_pt_summary_release(&s);
    return rc;
}

LX_TEST(cohere_stream_tools)
{
    struct lx_pt_summary s;
    int rc;

    lx_pt_summary_init(&s);
    rc = coh_replay("chat_stream_tools.sse", NULL, &s);
    if (rc == 0) {
        const char *t = lx_pt_lines(&s);

        LX_ASSERT(strstr(t, "START id=\"2941521a-b87a-45f6-9b0d-235fd66c3025\"") == t);
        LX_ASSERT(strstr(t, "FINISH c=0 tool_calls raw=\"TOOL_CALL\"") != NULL);
        LX_ASSERT(strstr(t, "USAGE in=1549 out=95 total=1644 cache_read=1504") != NULL);
        LX_ASSERT(strstr(t, "DONE\nEND rc=OK done=1 failed=0\n") != NULL);
        LX_ASSERT(strstr(t, "TEXT") == NULL);
        LX_ASSERT_EQ(s.n_tools, 2);
        LX_ASSERT_STREQ(s.tools[0].id, "weather_e8p4pn45zt0t");
        LX_ASSERT_STREQ(s.tools[0].name, "weather");
        LX_ASSERT_STR(lx_buf_str(&s.tools[0].args), "{\"location\": \"San Francisco\"}");
        LX_ASSERT_STREQ(s.tools[1].id, "cityAttractions_pyxssbwnq9fq");
        LX_ASSERT_STREQ(s.tools[1].name, "cityAttractions");
        LX_ASSERT_STR(lx_buf_str(&s.tools[1].args), "{\"city\": \"San Francisco\"}");
        /* tool_plan -> THINKING */
        LX_ASSERT_STR(lx_buf_str(&s.thinking),
                      "I will use the weather tool to find the weather in San Francisco and the "
                      "cityAttractions tool to find attractions in San Francisco.");
        LX_ASSERT_EQ(s.finish, LX_FINISH_TOOL_CALLS);
        LX_ASSERT_EQ(s.n_start, 1);
        LX_ASSERT_EQ(s.n_done, 1);
    }
    lx_pt_summary_release(&s);
    return rc;
}

static int coh_replay_text(const char *text, struct lx_pt_summary *s)
{
    struct lx_provider_call call = coh_call(true);

    return lx_pt_replay(&lx_provider_cohere, &call, lx_str_cstr(text), LX_PT_NO_SPLIT, s);
}

LX_TEST(cohere_stream_bad_and_cut)
{
    static const char *const bad[] = {
        "event: message-start\ndata: not json\n\n",
        "data: [1,2]\n\n",
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"delta\":{\"message\":"
        "{\"content\":\"x\"}}}\n\n",
        "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":"
        "{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\"}}}}}\n\n",
        "data: {\"type\":\"message-start\",\"id\":\"x\"}\n\ndata: [DONE]\n\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":5}}\n\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lx_pt_summary s;
        int rc;

        lx_pt_summary_init(&s);
        rc = coh_replay_text(bad[i], &s);
        lx_pt_summary_release(&s);
        if (rc != LX_EPARSE)
            LX_FAIL("case %zu: rc %d", i, rc);
    }
    /* a stream that stops without message-end: clean framing, but not done */
    {
        struct lx_pt_summary s;

        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(coh_replay_text("event: content-delta\ndata: {\"type\":\"content-delta\","
                                     "\"index\":0,\"delta\":{\"message\":{\"content\":"
                                     "{\"text\":\"hi\"}}}}\n\n",
                                     &s),
                     LX_OK);
        LX_ASSERT(strstr(lx_pt_lines(&s), "TEXT c=0 \"hi\"\nEND rc=OK done=0 failed=0") != NULL);
        lx_pt_summary_release(&s);
    }
    /* an error object written into the stream; thinking content */
    {
        struct lx_pt_summary s;

        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(coh_replay_text("data: {\"type\":\"content-delta\",\"delta\":{\"message\":"
                                     "{\"content\":{\"thinking\":\"hmm\"}}}}\n\n"
                                     "data: {\"message\":\"internal error\"}\n\n"
                                     "data: {\"type\":\"content-delta\",\"delta\":{}}\n\n",
                                     &s),
                     LX_OK);
        LX_ASSERT_STREQ(lx_pt_lines(&s),
                        "START id=\"\" model=\"\"\n"
                        "THINKING c=0 \"hmm\"\n"
                        "ERROR status=500 type=11 retryable=1 key=0 code=\"\" "
                        "msg=\"internal error\"\n"
                        "END rc=OK done=0 failed=1\n");
        lx_pt_summary_release(&s);
    }
    return 0;
}

static int coh_parse(const char *name, struct lx_arena *a, struct lx_chat_resp *r)
{
    struct lx_provider_call call = coh_call(false);
    struct lx_err err = {0};
    size_t len;
    char *bytes = coh_fixture(name, &len);
    struct lx_str body;
    int rc;

    if (bytes == NULL)
        return LX_ENOTFOUND;
    body = lx_arena_dup(a, lx_str_make(bytes, len));
    free(bytes);
    rc = lx_provider_cohere.parse_response(&call, body, a, r, &err);
    return rc;
}

LX_TEST(cohere_response_text)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_chat_resp r;

    LX_ASSERT_EQ(coh_parse("chat_response_text.json", a, &r), LX_OK);
    LX_ASSERT_STR(r.id, "e7592632-1e3d-424f-b129-bd5f9f980f7b");
    LX_ASSERT_EQ(r.n_choices, 1);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 1);
    LX_ASSERT_EQ(r.choices[0].message.parts[0].type, LX_PART_TEXT);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text, "The capital of France is Paris.");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_STOP);
    LX_ASSERT_STR(r.choices[0].finish_raw, "COMPLETE");
    LX_ASSERT_EQ(r.usage.input, 507);
    LX_ASSERT_EQ(r.usage.output, 10);
    LX_ASSERT_EQ(r.usage.total, 517);
    LX_ASSERT_EQ(r.usage.cache_read, 448);
    lx_arena_free(a);
    return 0;
}

LX_TEST(cohere_response_tools)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_chat_resp r;
    const struct lx_part *p;

    LX_ASSERT_EQ(coh_parse("chat_response_tools.json", a, &r), LX_OK);
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_TOOL_CALLS);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 3);
    p = r.choices[0].message.parts;
    LX_ASSERT_EQ(p[0].type, LX_PART_THINKING);
    LX_ASSERT(lx_str_starts_with(p[0].text, LX_STR("I will use the weather tool")));
    LX_ASSERT_EQ(p[1].type, LX_PART_TOOL_CALL);
    LX_ASSERT_STR(p[1].id, "weather_dqgshstja6p9");
    LX_ASSERT_STR(p[1].name, "weather");
    LX_ASSERT_STR(p[1].args, "{\"location\":\"San Francisco\"}");
    LX_ASSERT_STR(p[2].id, "cityAttractions_dcxfx4myvx68");
    LX_ASSERT_STR(p[2].args, "{\"city\":\"San Francisco\"}");
    LX_ASSERT_EQ(r.usage.input, 1549);
    LX_ASSERT_EQ(r.usage.output, 103);
    lx_arena_free(a);
    return 0;
}

LX_TEST(cohere_response_bad)
{
    static const char *const bad[] = {
        "", "[]", "{}", "{\"message\":\"x\"}", "{\"message\":{\"content\":{}}}",
        "{\"message\":{\"tool_calls\":[{\"id\":\"a\"}]}}",
        "{\"message\":{\"content\":[1]}}",
        ("{\"message\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\","
         "\"arguments\":5}}]}}"),
    };
    struct lx_provider_call call = coh_call(false);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lx_arena *a = lx_arena_new(4096, 1 << 20);
        struct lx_chat_resp r;
        struct lx_err err = {0};
        int rc = lx_provider_cohere.parse_response(&call, lx_str_cstr(bad[i]), a, &r, &err);

        lx_arena_free(a);
        if (rc != LX_EPARSE)
            LX_FAIL("case %zu: rc %d", i, rc);
        LX_ASSERT_EQ(err.http_status, 502);
    }
    return 0;
}

static void coh_map(int status, const char *body, const struct lx_header *h, size_t nh,
                    struct lx_arena *a, struct lx_upstream_error *e)
{
    struct lx_provider_call call = coh_call(false);

    lx_provider_cohere.map_error(&call, status, h, nh, lx_str_cstr(body), a, e);
}

LX_TEST(cohere_errors)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_upstream_error e;
    size_t len;
    char *body;
    struct lx_header ra = {LX_STR("Retry-After"), LX_STR("7")};

    body = coh_fixture("error_400.json", &len);
    LX_ASSERT(body != NULL);
    coh_map(400, lx_arena_dup(a, lx_str_make(body, len)).ptr, NULL, 0, a, &e);
    free(body);
    LX_ASSERT_EQ(e.status, 400);
    LX_ASSERT_EQ(e.type, LX_ERRT_INVALID_REQUEST);
    LX_ASSERT_EQ(e.retryable, false);
    LX_ASSERT_EQ(e.key_action, LX_KEY_KEEP);
    LX_ASSERT(lx_str_starts_with(e.message, LX_STR("invalid request: message must be")));

    /* the fixture's trial key limit is per minute: a cooldown, with Retry-After */
    body = coh_fixture("error_429.json", &len);
    LX_ASSERT(body != NULL);
    coh_map(429, lx_arena_dup(a, lx_str_make(body, len)).ptr, &ra, 1, a, &e);
    free(body);
    LX_ASSERT_EQ(e.type, LX_ERRT_RATE_LIMIT);
    LX_ASSERT_EQ(e.retryable, true);
    LX_ASSERT_EQ(e.key_action, LX_KEY_COOLDOWN);
    LX_ASSERT_EQ(e.retry_after_ms, 7000);
    LX_ASSERT(lx_str_starts_with(e.message, LX_STR("You are using a Trial key")));

    /* the monthly trial allowance: quota, the key is done */
    coh_map(429, "{\"message\":\"You are using a Trial key, which is limited to 1000 API calls "
                 "/ month.\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_QUOTA);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);

    coh_map(401, "{\"message\":\"invalid api token\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    coh_map(498, "{\"message\":\"invalid token\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    coh_map(402, "{\"message\":\"please add a payment method\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_QUOTA);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    coh_map(404, "{\"id\":\"x\",\"message\":\"model 'nope' not found\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_NOT_FOUND);
    LX_ASSERT_EQ(e.retryable, false);
    coh_map(422, "{\"message\":\"invalid type\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_INVALID_REQUEST);
    coh_map(400, "{\"message\":\"too many tokens: the prompt is 200000 tokens\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_CONTEXT_LENGTH);
    coh_map(499, "{\"message\":\"request cancelled\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_SERVER);
    LX_ASSERT_EQ(e.retryable, true);
    coh_map(500, "{\"message\":\"internal server error\"}", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_SERVER);
    LX_ASSERT_EQ(e.retryable, true);
    coh_map(503, "<html>busy</html>", NULL, 0, a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_OVERLOADED);
    LX_ASSERT_STR(e.message, "<html>busy</html>");
    /* a message quoting our key never comes back */
    coh_map(401, "{\"message\":\"bad key co-test-key-123456\"}", NULL, 0, a, &e);
    LX_ASSERT(strstr(e.message.ptr, "co-test-key") == NULL);
    lx_arena_free(a);
    return 0;
}

/* ---- request round trips ---------------------------------------------------------------- */

static int coh_parse_body(struct lx_str body, struct lx_arena *a, struct lx_json *doc)
{
    lx_json_init(doc, NULL);
    lx_json_use_arena(doc, a);
    return lx_json_parse(doc, body.ptr, body.len);
}

static int coh_msg(const struct lx_json *doc, int i)
{
    int msgs = lx_json_get(doc, 0, LX_STR("messages")), m = lx_json_first(doc, msgs);

    while (i-- > 0 && m >= 0)
        m = lx_json_sibling(doc, msgs, m);
    return m;
}

static struct lx_str coh_get_str(const struct lx_json *doc, int obj, const char *key,
                                 struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;
    int t = lx_json_get(doc, obj, lx_str_cstr(key));

    if (lx_json_type(doc, t) == LX_JSON_STRING)
        (void)lx_json_str(doc, t, a, &s);
    return s;
}

LX_TEST(cohere_request_roundtrip)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_provider_call call = coh_call(true);
    struct lx_part sys = {.type = LX_PART_TEXT, .text = LX_STR("Be brief.")};
    struct lx_part user[2] = {
        {.type = LX_PART_TEXT, .text = LX_STR("What is this?")},
        {.type = LX_PART_IMAGE, .media_type = LX_STR("image/png"), .data = LX_STR("iVBORw0=")},
    };
    struct lx_part asst[3] = {
        {.type = LX_PART_THINKING, .text = LX_STR("I will look it up.")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("get_weather_abc123"),
         .name = LX_STR("get_weather"), .args = LX_STR("{\"city\":\"Paris\"}")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("c2"), .name = LX_STR("noargs")},
    };
    struct lx_part res = {.type = LX_PART_TOOL_RESULT, .id = LX_STR("get_weather_abc123"),
                          .text = LX_STR("{\"temp_c\":18}")};
    struct lx_msg msgs[4] = {
        {.role = LX_ROLE_SYSTEM, .parts = &sys, .n_parts = 1},
        {.role = LX_ROLE_USER, .parts = user, .n_parts = 2},
        {.role = LX_ROLE_ASSISTANT, .parts = asst, .n_parts = 3},
        {.role = LX_ROLE_TOOL, .parts = &res, .n_parts = 1},
    };
    struct lx_tool tool = {.name = LX_STR("get_weather"), .description = LX_STR("Weather"),
                           .parameters = LX_STR("{\"type\":\"object\"}")};
    struct lx_str stop = LX_STR("END");
    struct lx_chat_req req;
    struct lx_upstream_req out;
    struct lx_err err = {0};
    struct lx_json doc;
    int m, tc, t;

    lx_chat_req_init(&req);
    req.model = LX_STR("ignored-client-model");
    req.msgs = msgs;
    req.n_msgs = 4;
    req.tools = &tool;
    req.n_tools = 1;
    req.tool_choice = LX_TOOL_CHOICE_REQUIRED;
    req.max_tokens = 512;
    req.temperature = (struct lx_num){LX_STR("0.3"), 0.3};
    req.top_p = (struct lx_num){LX_STR("0.9"), 0.9};
    req.top_k = 40;
    req.stop = &stop;
    req.n_stop = 1;
    req.seed = 7;
    req.has_seed = true;
    req.response_format = LX_RF_JSON_SCHEMA;
    req.schema = LX_STR("{\"type\":\"object\"}");
    req.thinking = LX_THINKING_ENABLED;
    req.thinking_budget = 1024;
    req.stream = true;

    LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(out.method, "POST");
    LX_ASSERT_STR(out.url, "https://api.cohere.com/v2/chat");
    LX_ASSERT(lx_header_find(out.headers, out.n_headers, LX_STR("authorization")) != NULL);
    LX_ASSERT_STR(lx_header_find(out.headers, out.n_headers, LX_STR("authorization"))->value,
                  "Bearer co-test-key-123456");
    LX_ASSERT_STR(lx_header_find(out.headers, out.n_headers, LX_STR("accept"))->value,
                  "text/event-stream");
    LX_ASSERT_EQ(coh_parse_body(out.body, a, &doc), LX_OK);
    LX_ASSERT_STR(coh_get_str(&doc, 0, "model", a), "command-a-03-2025");
    LX_ASSERT_EQ(lx_json_count(&doc, lx_json_get(&doc, 0, LX_STR("messages"))), 4);
    m = coh_msg(&doc, 0);
    LX_ASSERT_STR(coh_get_str(&doc, m, "role", a), "system");
    LX_ASSERT_STR(coh_get_str(&doc, m, "content", a), "Be brief.");
    m = coh_msg(&doc, 1);
    LX_ASSERT_STR(coh_get_str(&doc, m, "role", a), "user");
    t = lx_json_get(&doc, m, LX_STR("content"));
    LX_ASSERT_EQ(lx_json_type(&doc, t), LX_JSON_ARRAY);
    LX_ASSERT_STR(lx_json_raw(&doc, t),
                  "[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0=\"}}]");
    m = coh_msg(&doc, 2);
    LX_ASSERT_STR(coh_get_str(&doc, m, "role", a), "assistant");
    LX_ASSERT_STR(coh_get_str(&doc, m, "tool_plan", a), "I will look it up.");
    tc = lx_json_get(&doc, m, LX_STR("tool_calls"));
    LX_ASSERT_EQ(lx_json_count(&doc, tc), 2);
    t = lx_json_first(&doc, tc);
    LX_ASSERT_STR(coh_get_str(&doc, t, "id", a), "get_weather_abc123");
    LX_ASSERT_STR(coh_get_str(&doc, t, "type", a), "function");
    LX_ASSERT_STR(coh_get_str(&doc, lx_json_get(&doc, t, LX_STR("function")), "arguments", a),
                  "{\"city\":\"Paris\"}");
    t = lx_json_sibling(&doc, tc, t);
    LX_ASSERT_STR(coh_get_str(&doc, lx_json_get(&doc, t, LX_STR("function")), "arguments", a),
                  "{}");
    m = coh_msg(&doc, 3);
    LX_ASSERT_STR(coh_get_str(&doc, m, "role", a), "tool");
    LX_ASSERT_STR(coh_get_str(&doc, m, "tool_call_id", a), "get_weather_abc123");
    LX_ASSERT_STR(coh_get_str(&doc, m, "content", a), "{\"temp_c\":18}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("tools"))),
                  "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                  "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\"}}}]");
    LX_ASSERT_STR(coh_get_str(&doc, 0, "tool_choice", a), "REQUIRED");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))), "512");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("temperature"))), "0.3");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("p"))), "0.9");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("k"))), "40");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("seed"))), "7");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("stop_sequences"))), "[\"END\"]");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("response_format"))),
                  "{\"type\":\"json_object\",\"json_schema\":{\"type\":\"object\"}}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("thinking"))),
                  "{\"type\":\"enabled\",\"token_budget\":1024}");
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_TRUE);
    LX_ASSERT_EQ(lx_json_get(&doc, 0, LX_STR("top_p")), -1);

    /* a named tool choice: only that tool, REQUIRED; auto: no tool_choice; stream false */
    {
        struct lx_tool two[2] = {{.name = LX_STR("a")}, {.name = LX_STR("b")}};

        call = coh_call(false);
        req.tools = two;
        req.n_tools = 2;
        req.tool_choice = LX_TOOL_CHOICE_NAMED;
        req.tool_choice_name = LX_STR("b");
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_OK);
        LX_ASSERT_EQ(coh_parse_body(out.body, a, &doc), LX_OK);
        LX_ASSERT_EQ(lx_json_count(&doc, lx_json_get(&doc, 0, LX_STR("tools"))), 1);
        LX_ASSERT(strstr(out.body.ptr, "\"name\":\"b\"") != NULL);
        LX_ASSERT_STR(coh_get_str(&doc, 0, "tool_choice", a), "REQUIRED");
        LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_FALSE);
        req.tool_choice = LX_TOOL_CHOICE_AUTO;
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_OK);
        LX_ASSERT(strstr(out.body.ptr, "tool_choice") == NULL);
        req.tool_choice = LX_TOOL_CHOICE_NAMED;
        req.tool_choice_name = LX_STR("zzz");
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_EINVAL);
        LX_ASSERT_EQ(err.http_status, 400);
        req.tool_choice = LX_TOOL_CHOICE_UNSET;
    }
    /* what Cohere cannot carry: audio, n > 1, count_tokens */
    {
        struct lx_part audio = {.type = LX_PART_AUDIO, .data = LX_STR("AAAA"),
                                .media_type = LX_STR("audio/wav")};

        msgs[1].parts = &audio;
        msgs[1].n_parts = 1;
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_EINVAL);
        LX_ASSERT_EQ(err.http_status, 400);
        msgs[1].parts = user;
        msgs[1].n_parts = 2;
        req.n = 2;
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_EINVAL);
        req.n = -1;
        call.endpoint = LX_EP_COUNT_TOKENS;
        LX_ASSERT_EQ(lx_provider_cohere.build_request(&call, &req, a, &out, &err), LX_EINVAL);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(cohere_finish_table)
{
    static const struct {
        const char *raw;
        enum lx_finish f;
    } cases[] = {
        {"COMPLETE", LX_FINISH_STOP},         {"STOP_SEQUENCE", LX_FINISH_STOP},
        {"MAX_TOKENS", LX_FINISH_LENGTH},     {"TOOL_CALL", LX_FINISH_TOOL_CALLS},
        {"ERROR", LX_FINISH_ERROR},           {"TIMEOUT", LX_FINISH_ERROR},
        {"SOMETHING_NEW", LX_FINISH_STOP},
    };
    struct lx_provider_call call = coh_call(false);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lx_arena *a = lx_arena_new(4096, 1 << 20);
        struct lx_chat_resp r;
        struct lx_err err = {0};
        char body[256];
        struct lx_pt_summary s;

        snprintf(body, sizeof(body),
                 "{\"id\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":"
                 "\"text\",\"text\":\"hi\"}]},\"finish_reason\":\"%s\"}",
                 cases[i].raw);
        LX_ASSERT_EQ(lx_provider_cohere.parse_response(&call, lx_str_cstr(body), a, &r, &err),
                     LX_OK);
        LX_ASSERT_EQ(r.choices[0].finish, cases[i].f);
        LX_ASSERT_EQ(r.usage.input, -1);
        lx_arena_free(a);
        snprintf(body, sizeof(body),
                 "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"%s\"}}\n\n",
                 cases[i].raw);
        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(coh_replay_text(body, &s), LX_OK);
        LX_ASSERT_EQ(s.finish, cases[i].f);
        LX_ASSERT_EQ(s.n_done, 1);
        lx_pt_summary_release(&s);
    }
    return 0;
}

LX_TEST(cohere_embeddings)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    struct lx_provider_call call = coh_call(false);
    struct lx_str inputs[2] = {LX_STR("hello"), LX_STR("world")};
    struct lx_embed_req req = {.model = LX_STR("embed-v4.0"), .inputs = inputs, .n_inputs = 2,
                               .dimensions = -1};
    struct lx_upstream_req out;
    struct lx_embed_resp r;
    struct lx_err err = {0};
    const char *resp = "{\"id\":\"e\",\"embeddings\":{\"float\":[[0.1,-0.2],[3e-1,0]]},"
                       "\"texts\":[\"hello\",\"world\"],\"meta\":{\"billed_units\":"
                       "{\"input_tokens\":2}}}";

    call.endpoint = LX_EP_EMBEDDINGS;
    call.model = LX_STR("embed-v4.0");
    LX_ASSERT_EQ(lx_provider_cohere.build_embeddings(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(out.url, "https://api.cohere.com/v2/embed");
    LX_ASSERT_STR(out.body, "{\"model\":\"embed-v4.0\",\"texts\":[\"hello\",\"world\"],"
                            "\"input_type\":\"search_document\",\"embedding_types\":[\"float\"]}");
    req.input_type = LX_STR("search_query");
    req.dimensions = 256;
    LX_ASSERT_EQ(lx_provider_cohere.build_embeddings(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT(strstr(out.body.ptr, "\"input_type\":\"search_query\"") != NULL);
    LX_ASSERT(strstr(out.body.ptr, "\"output_dimension\":256") != NULL);
    LX_ASSERT_EQ(lx_provider_cohere.parse_embeddings(&call, lx_str_cstr(resp), a, &r, &err),
                 LX_OK);
    LX_ASSERT_EQ(r.n_vectors, 2);
    LX_ASSERT_STR(r.vectors[0], "[0.1,-0.2]");
    LX_ASSERT_STR(r.vectors[1], "[3e-1,0]");
    LX_ASSERT_EQ(r.usage.input, 2);
    LX_ASSERT_EQ(lx_provider_cohere.parse_embeddings(&call, LX_STR("{\"embeddings\":{}}"), a, &r,
                                                     &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_provider_cohere.parse_embeddings(
                     &call, LX_STR("{\"embeddings\":{\"float\":[[\"x\"]]}}"), a, &r, &err),
                 LX_EPARSE);
    lx_arena_free(a);
    return 0;
}
