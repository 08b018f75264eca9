/* test_providers_ollama.c - lx_provider_ollama against the fixtures
 * (../shared/protocols/fixtures/ollama): NDJSON streams replayed at every split point, the
 * answer, errors, request round trips (arguments as objects, images, stream false), the finish
 * table, embeddings. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "providers/ir.h"
#include "providers/provider.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

static const struct lx_config_provider oll_conf = {
    .name = "ollama", .type = "ollama", .proto = LX_CONFIG_PROTO_OLLAMA,
    .base_url = "http://127.0.0.1:11434",
};

static struct lx_provider_call oll_call(bool stream)
{
    struct lx_provider_call c = {.conf = &oll_conf, .model = LX_STR("llama3.2"),
                                 .endpoint = LX_EP_CHAT, .stream = stream, .now_s = 1700000000};
    return c;
}

static char *oll_fixture(const char *name, size_t *len)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "protocols/fixtures/ollama/%s", name);
    return lx_test_read_file(lx_test_shared(rel), len);
}

static int oll_replay(const char *name, const char *want)
{
    struct lx_provider_call call = oll_call(true);
    struct lx_pt_summary s;
    size_t len;
    char *bytes = oll_fixture(name, &len);
    int rc;

    if (bytes == NULL)
        LX_FAIL("cannot read %s", name);
    lx_pt_summary_init(&s);
    rc = lx_pt_replay_all_splits(&lx_provider_ollama, &call, lx_str_make(bytes, len), 1, &s);
    free(bytes);
    if (rc == 0 && strcmp(lx_pt_lines(&s), want) != 0) {
        fprintf(stderr, "%s: got\n%s--- want\n%s", name, lx_pt_lines(&s), want);
        rc = -1;
    }
    lx_pt_summary_release(&s);
    LX_ASSERT_EQ(rc, 0);
    return 0;
}

LX_TEST(ollama_stream_text)
{
    return oll_replay("chat.ndjson",
                      "START id=\"\" model=\"llama3.2\"\n"
                      "TEXT c=0 \"The\"\n"
                      "TEXT c=0 \" sky\"\n"
                      "TEXT c=0 \" is blue.\"\n"
                      "FINISH c=0 stop raw=\"stop\" seq=\"\"\n"
                      "USAGE in=26 out=282 total=308 cache_read=-1 cache_write=-1 reasoning=-1\n"
                      "DONE\n"
                      "END rc=OK done=1 failed=0\n");
}

LX_TEST(ollama_stream_tools)
{
    /* done_reason stays "stop": a tool call seen makes it tool_calls */
    return oll_replay("chat_tools.ndjson",
                      "START id=\"\" model=\"llama3.2\"\n"
                      "TOOL c=0 i=0 id=\"call_m7ylpp2x\" name=\"get_weather\" "
                      "args=\"{\\\"city\\\":\\\"Tokyo\\\"}\" sig=\"\"\n"
                      "FINISH c=0 tool_calls raw=\"stop\" seq=\"\"\n"
                      "USAGE in=169 out=15 total=184 cache_read=-1 cache_write=-1 reasoning=-1\n"
                      "DONE\n"
                      "END rc=OK done=1 failed=0\n");
}

LX_TEST(ollama_stream_midstream_error)
{
    return oll_replay("chat_midstream_error.ndjson",
                      "START id=\"\" model=\"llama3.2\"\n"
                      "TEXT c=0 \" Yes\"\n"
                      "ERROR status=500 type=11 retryable=1 key=0 code=\"\" "
                      "msg=\"an error was encountered while running the model\"\n"
                      "END rc=OK done=0 failed=1\n");
}

static int oll_replay_text(const char *text, struct lx_pt_summary *s)
{
    struct lx_provider_call call = oll_call(true);

    return lx_pt_replay(&lx_provider_ollama, &call, lx_str_cstr(text), LX_PT_NO_SPLIT, s);
}

LX_TEST(ollama_stream_more)
{
    static const char *const bad[] = {
        "not json\n",
        "[1]\n",
        "{\"model\":\"m\",\"message\":{\"content\":\"x\"}}\n",            /* no done */
        "{\"model\":\"m\",\"message\":\"x\",\"done\":false}\n",
        "{\"model\":\"m\",\"message\":{\"content\":5},\"done\":false}\n",
        "{\"model\":\"m\",\"message\":{\"tool_calls\":[{\"function\":{\"arguments\":{}}}]},"
        "\"done\":false}\n",                                               /* no name */
        "{\"model\":\"m\",\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
        "\"arguments\":[1]}}]},\"done\":false}\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lx_pt_summary s;
        int rc;

        lx_pt_summary_init(&s);
        rc = oll_replay_text(bad[i], &s);
        lx_pt_summary_release(&s);
        if (rc != LX_EPARSE)
            LX_FAIL("case %zu: rc %d", i, rc);
    }
    {
        struct lx_pt_summary s;

        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(oll_replay_text(
                         "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\","
                         "\"thinking\":\"Let me\"},\"done\":false}\n\n"
                         "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\","
                         "\"tool_calls\":[{\"function\":{\"name\":\"a\",\"arguments\":{}}},"
                         "{\"function\":{\"name\":\"b\",\"arguments\":{\"x\":[1,2]}}}]},"
                         "\"done\":false}\n"
                         "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                         "\"done_reason\":\"length\",\"done\":true,\"eval_count\":3}\n"
                         "{\"model\":\"qwen3\",\"message\":{\"content\":\"after\"},\"done\":false}\n",
                         &s),
                     LX_OK);
        LX_ASSERT_STREQ(lx_pt_lines(&s),
                        "START id=\"\" model=\"qwen3\"\n"
                        "THINKING c=0 \"Let me\"\n"
                        "TOOL c=0 i=0 id=\"call_0\" name=\"a\" args=\"{}\" sig=\"\"\n"
                        "TOOL c=0 i=1 id=\"call_1\" name=\"b\" args=\"{\\\"x\\\":[1,2]}\" sig=\"\"\n"
                        "FINISH c=0 length raw=\"length\" seq=\"\"\n"
                        "USAGE in=-1 out=3 total=-1 cache_read=-1 cache_write=-1 reasoning=-1\n"
                        "DONE\n"
                        "END rc=OK done=1 failed=0\n");
        lx_pt_summary_release(&s);
    }
    return 0;
}

static int oll_parse(const char *body, struct lx_arena *a, struct lx_chat_resp *r)
{
    struct lx_provider_call call = oll_call(false);
    struct lx_err err = {0};

    return lx_provider_ollama.parse_response(&call, lx_str_cstr(body), a, r, &err);
}

LX_TEST(ollama_response)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_chat_resp r;
    size_t len;
    char *body = oll_fixture("chat_response.json", &len);
    const struct lx_part *p;

    LX_ASSERT(body != NULL);
    LX_ASSERT_EQ(oll_parse(body, a, &r), LX_OK);
    LX_ASSERT_STR(r.model, "llama3.2");
    LX_ASSERT_EQ(r.n_choices, 1);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 1);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text, "Hello! How are you today?");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_STOP);
    LX_ASSERT_STR(r.choices[0].finish_raw, "stop");
    LX_ASSERT_EQ(r.usage.input, 26);
    LX_ASSERT_EQ(r.usage.output, 298);
    LX_ASSERT_EQ(r.usage.total, 324);
    free(body);

    LX_ASSERT_EQ(oll_parse("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"ok\","
                           "\"thinking\":\"hm\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
                           "\"arguments\":{\"a\":1}}},{\"id\":\"own\",\"function\":{\"name\":\"g\","
                           "\"arguments\":{}}}]},\"done_reason\":\"stop\",\"done\":true}",
                           a, &r),
                 LX_OK);
    p = r.choices[0].message.parts;
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 4);
    LX_ASSERT_EQ(p[0].type, LX_PART_THINKING);
    LX_ASSERT_STR(p[0].text, "hm");
    LX_ASSERT_EQ(p[1].type, LX_PART_TEXT);
    LX_ASSERT_EQ(p[2].type, LX_PART_TOOL_CALL);
    LX_ASSERT_STR(p[2].id, "call_0");
    LX_ASSERT_STR(p[2].args, "{\"a\":1}");
    LX_ASSERT_STR(p[3].id, "own");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_TOOL_CALLS);
    LX_ASSERT_EQ(r.usage.input, -1);

    LX_ASSERT_EQ(oll_parse("", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(oll_parse("{\"error\":\"boom\"}", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(oll_parse("{\"message\":{\"tool_calls\":{}}}", a, &r), LX_EPARSE);
    LX_ASSERT_EQ(oll_parse("{\"message\":{\"content\":[]}}", a, &r), LX_EPARSE);
    lx_arena_free(a);
    return 0;
}

LX_TEST(ollama_finish_table)
{
    static const struct {
        const char *raw;
        bool calls;
        enum lx_finish f;
    } cases[] = {
        {"stop", false, LX_FINISH_STOP},   {"stop", true, LX_FINISH_TOOL_CALLS},
        {"length", false, LX_FINISH_LENGTH}, {"length", true, LX_FINISH_LENGTH},
        {"load", false, LX_FINISH_STOP},   {"unload", false, LX_FINISH_STOP},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lx_arena *a = lx_arena_new(4096, 1 << 20);
        struct lx_chat_resp r;
        char body[256];

        snprintf(body, sizeof(body),
                 "{\"model\":\"m\",\"message\":{\"content\":\"x\"%s},\"done_reason\":\"%s\","
                 "\"done\":true}",
                 cases[i].calls ? ",\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]" : "",
                 cases[i].raw);
        LX_ASSERT_EQ(oll_parse(body, a, &r), LX_OK);
        LX_ASSERT_EQ(r.choices[0].finish, cases[i].f);
        lx_arena_free(a);
    }
    return 0;
}

static void oll_map(int status, const char *body, struct lx_arena *a,
                    struct lx_upstream_error *e)
{
    struct lx_provider_call call = oll_call(false);

    call.key = LX_STR("sk-ollama-cloud-secret");
    lx_provider_ollama.map_error(&call, status, NULL, 0, lx_str_cstr(body), a, e);
}

LX_TEST(ollama_errors)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    struct lx_upstream_error e;
    size_t len;
    char *body = oll_fixture("error_404_model.json", &len);

    LX_ASSERT(body != NULL);
    oll_map(404, lx_arena_dup(a, lx_str_make(body, len)).ptr, a, &e);
    free(body);
    LX_ASSERT_EQ(e.status, 404);
    LX_ASSERT_EQ(e.type, LX_ERRT_NOT_FOUND);
    LX_ASSERT_EQ(e.retryable, false);
    LX_ASSERT_EQ(e.key_action, LX_KEY_KEEP);
    LX_ASSERT_STR(e.message, "model 'llama3.3' not found");
    oll_map(400, "{\"error\":\"model 'x' not found, try pulling it first\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_NOT_FOUND);
    oll_map(400, "{\"error\":\"invalid options\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_INVALID_REQUEST);
    oll_map(429, "{\"error\":\"too many requests\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_RATE_LIMIT);
    LX_ASSERT_EQ(e.key_action, LX_KEY_COOLDOWN);
    oll_map(401, "{\"error\":\"unauthorized\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_AUTHENTICATION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    oll_map(500, "{\"error\":\"llama runner process has terminated\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_SERVER);
    LX_ASSERT_EQ(e.retryable, true);
    oll_map(503, "{\"error\":\"server busy, please try again.  maximum pending requests "
                 "exceeded\"}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_OVERLOADED);
    oll_map(502, "Bad Gateway", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_SERVER);
    LX_ASSERT_STR(e.message, "Bad Gateway");
    oll_map(400, "{\"error\":{\"message\":\"the input exceeds the context length\"}}", a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_CONTEXT_LENGTH);
    oll_map(401, "{\"error\":\"key sk-ollama-cloud-secret is bad\"}", a, &e);
    LX_ASSERT(strstr(e.message.ptr, "secret") == NULL);
    lx_arena_free(a);
    return 0;
}

static struct lx_str oll_get_str(const struct lx_json *doc, int obj, const char *key,
                                 struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;
    int t = lx_json_get(doc, obj, lx_str_cstr(key));

    if (lx_json_type(doc, t) == LX_JSON_STRING)
        (void)lx_json_str(doc, t, a, &s);
    return s;
}

static int oll_nth(const struct lx_json *doc, int arr, int i)
{
    int m = lx_json_first(doc, arr);

    while (i-- > 0 && m >= 0)
        m = lx_json_sibling(doc, arr, m);
    return m;
}

LX_TEST(ollama_request_roundtrip)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 24);
    struct lx_provider_call call = oll_call(false);
    struct lx_part sys = {.type = LX_PART_TEXT, .text = LX_STR("You are concise.")};
    struct lx_part user[2] = {
        {.type = LX_PART_TEXT, .text = LX_STR("What is in this picture?")},
        {.type = LX_PART_IMAGE, .media_type = LX_STR("image/png"), .data = LX_STR("iVBORw0KGgo=")},
    };
    struct lx_part asst[3] = {
        {.type = LX_PART_THINKING, .text = LX_STR("Need the weather.")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("call_1"), .name = LX_STR("get_weather"),
         .args = LX_STR("{\"city\": \"Tokyo\"}")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("call_2"), .name = LX_STR("broken"),
         .args = LX_STR("{not json")},
    };
    struct lx_part res = {.type = LX_PART_TOOL_RESULT, .id = LX_STR("call_1"),
                          .text = LX_STR("sunny")};
    struct lx_msg msgs[4] = {
        {.role = LX_ROLE_DEVELOPER, .parts = &sys, .n_parts = 1},
        {.role = LX_ROLE_USER, .parts = user, .n_parts = 2},
        {.role = LX_ROLE_ASSISTANT, .parts = asst, .n_parts = 3},
        {.role = LX_ROLE_TOOL, .parts = &res, .n_parts = 1},
    };
    struct lx_tool tool = {.name = LX_STR("get_weather"), .description = LX_STR("Weather"),
                           .parameters = LX_STR("{\"type\":\"object\"}")};
    struct lx_str stop = LX_STR("\n\nUser:");
    struct lx_chat_req req;
    struct lx_upstream_req out;
    struct lx_err err = {0};
    struct lx_json doc;
    int msgsj, m, tc, opts;

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 4;
    req.tools = &tool;
    req.n_tools = 1;
    req.max_tokens = 256;
    req.temperature = (struct lx_num){LX_STR("0.7"), 0.7};
    req.top_p = (struct lx_num){LX_STR("0.9"), 0.9};
    req.top_k = 20;
    req.stop = &stop;
    req.n_stop = 1;
    req.seed = 42;
    req.has_seed = true;
    req.response_format = LX_RF_JSON_OBJECT;
    req.thinking = LX_THINKING_DISABLED;

    LX_ASSERT_EQ(lx_provider_ollama.build_request(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(out.url, "http://127.0.0.1:11434/api/chat");
    LX_ASSERT(lx_header_find(out.headers, out.n_headers, LX_STR("authorization")) == NULL);
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, out.body.ptr, out.body.len), LX_OK);
    LX_ASSERT_STR(oll_get_str(&doc, 0, "model", a), "llama3.2");
    /* Ollama streams by default: false must be explicit */
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_FALSE);
    LX_ASSERT_STR(oll_get_str(&doc, 0, "format", a), "json");
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("think"))), LX_JSON_FALSE);
    msgsj = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(lx_json_count(&doc, msgsj), 4);
    m = oll_nth(&doc, msgsj, 0);
    LX_ASSERT_STR(oll_get_str(&doc, m, "role", a), "system");
    m = oll_nth(&doc, msgsj, 1);
    LX_ASSERT_STR(oll_get_str(&doc, m, "role", a), "user");
    LX_ASSERT_STR(oll_get_str(&doc, m, "content", a), "What is in this picture?");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, m, LX_STR("images"))),
                  "[\"iVBORw0KGgo=\"]");
    m = oll_nth(&doc, msgsj, 2);
    LX_ASSERT_STR(oll_get_str(&doc, m, "role", a), "assistant");
    LX_ASSERT_STR(oll_get_str(&doc, m, "thinking", a), "Need the weather.");
    tc = lx_json_get(&doc, m, LX_STR("tool_calls"));
    LX_ASSERT_EQ(lx_json_count(&doc, tc), 2);
    /* arguments as an OBJECT; broken arguments become {} */
    LX_ASSERT_STR(lx_json_raw(&doc, tc),
                  "[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\": \"Tokyo\"}}},"
                  "{\"function\":{\"name\":\"broken\",\"arguments\":{}}}]");
    m = oll_nth(&doc, msgsj, 3);
    LX_ASSERT_STR(oll_get_str(&doc, m, "role", a), "tool");
    LX_ASSERT_STR(oll_get_str(&doc, m, "content", a), "sunny");
    LX_ASSERT_STR(oll_get_str(&doc, m, "tool_name", a), "get_weather"); /* looked up by id */
    opts = lx_json_get(&doc, 0, LX_STR("options"));
    LX_ASSERT_STR(lx_json_raw(&doc, opts),
                  "{\"temperature\":0.7,\"top_p\":0.9,\"top_k\":20,\"num_predict\":256,"
                  "\"stop\":[\"\\n\\nUser:\"],\"seed\":42}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("tools"))),
                  "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                  "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\"}}}]");

    /* stream, a key (ollama.com), schema format, effort */
    call = oll_call(true);
    call.key = LX_STR("cloud-key");
    req.response_format = LX_RF_JSON_SCHEMA;
    req.schema = LX_STR("{\"type\":\"object\",\"properties\":{}}");
    req.effort = LX_EFFORT_HIGH;
    req.tool_choice = LX_TOOL_CHOICE_NONE;
    LX_ASSERT_EQ(lx_provider_ollama.build_request(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(lx_header_find(out.headers, out.n_headers, LX_STR("authorization"))->value,
                  "Bearer cloud-key");
    LX_ASSERT_STR(lx_header_find(out.headers, out.n_headers, LX_STR("accept"))->value,
                  "application/x-ndjson");
    LX_ASSERT_EQ(lx_json_parse(&doc, out.body.ptr, out.body.len), LX_OK);
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_TRUE);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("format"))),
                  "{\"type\":\"object\",\"properties\":{}}");
    LX_ASSERT_STR(oll_get_str(&doc, 0, "think", a), "high");
    LX_ASSERT_EQ(lx_json_get(&doc, 0, LX_STR("tools")), -1); /* tool_choice none */

    /* http(s) image URLs: Ollama takes base64 only */
    {
        struct lx_part url_img = {.type = LX_PART_IMAGE, .url = LX_STR("https://x/y.png")};

        msgs[1].parts = &url_img;
        msgs[1].n_parts = 1;
        LX_ASSERT_EQ(lx_provider_ollama.build_request(&call, &req, a, &out, &err), LX_EINVAL);
        LX_ASSERT_EQ(err.http_status, 400);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(ollama_embeddings)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    struct lx_provider_call call = oll_call(false);
    struct lx_str inputs[2] = {LX_STR("a"), LX_STR("b")};
    struct lx_embed_req req = {.model = LX_STR("all-minilm"), .inputs = inputs, .n_inputs = 2,
                               .dimensions = 64};
    struct lx_upstream_req out;
    struct lx_embed_resp r;
    struct lx_err err = {0};

    call.endpoint = LX_EP_EMBEDDINGS;
    call.model = LX_STR("all-minilm");
    LX_ASSERT_EQ(lx_provider_ollama.build_embeddings(&call, &req, a, &out, &err), LX_OK);
    LX_ASSERT_STR(out.url, "http://127.0.0.1:11434/api/embed");
    LX_ASSERT_STR(out.body, "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\"],\"dimensions\":64}");
    LX_ASSERT_EQ(lx_provider_ollama.parse_embeddings(
                     &call,
                     LX_STR("{\"model\":\"all-minilm\",\"embeddings\":[[0.01,-0.5],[1,2]],"
                            "\"total_duration\":1,\"prompt_eval_count\":8}"),
                     a, &r, &err),
                 LX_OK);
    LX_ASSERT_EQ(r.n_vectors, 2);
    LX_ASSERT_STR(r.vectors[0], "[0.01,-0.5]");
    LX_ASSERT_EQ(r.usage.input, 8);
    LX_ASSERT_EQ(lx_provider_ollama.parse_embeddings(&call, LX_STR("{\"embedding\":[1]}"), a, &r,
                                                     &err),
                 LX_EPARSE);
    lx_arena_free(a);
    return 0;
}

/* Ollama's OpenAI-compatible /v1 endpoint is served by lx_provider_openai: its recorded
 * include_usage stream must decode there too (the fixture lives with Ollama's). */
LX_TEST(ollama_openai_compat_stream)
{
    static const struct lx_config_provider conf = {
        .name = "ollama-v1", .type = "ollama", .proto = LX_CONFIG_PROTO_OPENAI,
        .base_url = "http://127.0.0.1:11434/v1",
    };
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("llama3.2"),
                                    .endpoint = LX_EP_CHAT, .stream = true};
    struct lx_pt_summary s;
    size_t len;
    char *bytes = oll_fixture("openai_compat_stream_include_usage.sse", &len);
    int rc;

    LX_ASSERT(bytes != NULL);
    lx_pt_summary_init(&s);
    rc = lx_pt_replay_all_splits(&lx_provider_openai, &call, lx_str_make(bytes, len), 1, &s);
    free(bytes);
    if (rc == 0) {
        LX_ASSERT_STR(lx_buf_str(&s.text), "The sky is blue.");
        LX_ASSERT_EQ(s.finish, LX_FINISH_STOP);
        LX_ASSERT_EQ(s.usage.input, 26);
        LX_ASSERT_EQ(s.usage.output, 5);
        LX_ASSERT_EQ(s.n_done, 1);
    }
    lx_pt_summary_release(&s);
    LX_ASSERT_EQ(rc, 0);
    return 0;
}

LX_TEST(ollama_registry)
{
    LX_ASSERT(lx_provider_for(LX_CONFIG_PROTO_OLLAMA) == &lx_provider_ollama);
    LX_ASSERT(lx_provider_for(LX_CONFIG_PROTO_COHERE) == &lx_provider_cohere);
    LX_ASSERT(lx_provider_for(LX_CONFIG_PROTO_WORKERS_AI) == &lx_provider_workers_ai);
    LX_ASSERT_EQ(lx_provider_ollama.framing, LX_FRAMING_NDJSON);
    LX_ASSERT_EQ(lx_provider_cohere.framing, LX_FRAMING_SSE);
    LX_ASSERT_EQ(lx_provider_workers_ai.framing, LX_FRAMING_SSE);
    LX_ASSERT(lx_provider_ollama.build_embeddings != NULL && lx_provider_cohere.parse_embeddings);
    LX_ASSERT(lx_provider_workers_ai.parse_embeddings != NULL);
    return 0;
}
