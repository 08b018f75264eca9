/* test_providers_anthropic.c - the Anthropic provider adapter (src/providers/anthropic.c):
 * every stream of fixtures/anthropic replayed at every split point against its exact
 * transcript, the same events without SSE names (Bedrock InvokeModel), answers and count_tokens
 * parsed, every error fixture classified (plus spend limits and rate-limit headers), and
 * IR -> request body round trips read back with the JSON tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "providers/anthropic.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"
#include "json/json.h"

static struct lx_config_provider ant_conf(void)
{
    struct lx_config_provider c;

    memset(&c, 0, sizeof(c));
    c.name = "anthropic";
    c.type = "anthropic";
    c.proto = LX_CONFIG_PROTO_ANTHROPIC;
    c.base_url = "https://api.anthropic.com/v1";
    return c;
}

static struct lx_str ant_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

/* ---- streams -------------------------------------------------------------------------- */

static const struct {
    const char *file;
    const char *transcript;
} ant_streams[] = {
    {"messages_stream.sse",
     "START id=\"msg_01QC4g3HwBThD4BaNtBckFDJ\" model=\"claude-sonnet-4-5-20250929\"\n"
     "USAGE in=12 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "TEXT c=0 \"Hello\"\n"
     "TEXT c=0 \"! I\"\n"
     "TEXT c=0 \"'m doing well, thank you for asking\"\n"
     "TEXT c=0 \". How are you doing today?\"\n"
     "TEXT c=0 \" Is\"\n"
     "TEXT c=0 \" there anything I can help you with?\"\n"
     "FINISH c=0 stop raw=\"end_turn\" seq=\"\"\n"
     "USAGE in=12 out=30 total=42 cache_read=0 cache_write=0 reasoning=-1\n"
     "DONE\n"
     "END rc=OK done=1 failed=0\n"},
    {"messages_stream_midstream_error.sse",
     "START id=\"msg_01QC4g3HwBThD4BaNtBckFDJ\" model=\"claude-sonnet-4-5-20250929\"\n"
     "USAGE in=12 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "TEXT c=0 \"Hello\"\n"
     "ERROR status=529 type=10 retryable=1 key=0 code=\"overloaded_error\" msg=\"Overloaded\"\n"
     "END rc=OK done=0 failed=1\n"},
    {"messages_stream_refusal.sse",
     "START id=\"msg_01RefusalStreamAbcdefghijk\" model=\"claude-fable-5\"\n"
     "USAGE in=18 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "FINISH c=0 content_filter raw=\"refusal\" seq=\"\"\n"
     "USAGE in=18 out=5 total=23 cache_read=0 cache_write=0 reasoning=-1\n"
     "DONE\n"
     "END rc=OK done=1 failed=0\n"},
    {"messages_stream_text_then_tool_no_args.sse",
     "START id=\"msg_01GE2RKp1VYsPzdFs3sS9z5S\" model=\"claude-sonnet-4-5-20250929\"\n"
     "USAGE in=565 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "TEXT c=0 \"I'll update the issue list for\"\n"
     "TEXT c=0 \" you.\"\n"
     "TOOL c=0 i=0 id=\"toolu_01QE1WLsSVp5hy5Q3GmGTmjP\" name=\"updateIssueList\" args=\"\" "
     "sig=\"\"\n"
     "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{}\" sig=\"\"\n"
     "FINISH c=0 tool_calls raw=\"tool_use\" seq=\"\"\n"
     "USAGE in=565 out=48 total=613 cache_read=0 cache_write=0 reasoning=-1\n"
     "DONE\n"
     "END rc=OK done=1 failed=0\n"},
    {"messages_stream_thinking.sse",
     "START id=\"msg_01Y6V41gqPaKWEw7iPouH7iW\" model=\"claude-sonnet-4-5-20250929\"\n"
     "USAGE in=69 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "THINKING c=0 \"The previous\"\n"
     "THINKING c=0 \" result\"\n"
     "THINKING c=0 \" was\"\n"
     "THINKING c=0 \" 925.\"\n"
     "THINKING c=0 \" Now\"\n"
     "THINKING c=0 \" I need to divide that\"\n"
     "THINKING c=0 \" by 5.\\n\\n925\"\n"
     "THINKING c=0 \" ÷ 5 \"\n"
     "THINKING c=0 \"= 185\"\n"
     "SIGNATURE c=0 "
     "\"EvQBCkYICxgCKkAxhD4NUKFzudtZ6NzbZdEiBACIScTzqjPViM596iWLZIk4EFKYYBj3B6Ptl3b0dcQv/"
     "VeJBNbejNWIWRBn+KPNEgz6HWtKx7p+QRgKsEoaDGjsiqfht7gTRFYHiyIwD1VSmNqHxv3wy8KEMP+LYb/"
     "TC4UH3H97tuoaADARFFcA0phdfxnzKQxFnc9lwY+dKlzUsaKSUAFeu1bDL5ikZJ1vL0Fkz6JjoFke0L/"
     "wOJRIUDUlDUOFJ1tZ3ea7g6LGE/5hwuvWgLwewdcm64d+43l7F57XrOmqNd6flI2K/oPr/4yzNgvi/EhT6Ca17BgB\"\n"
     "TEXT c=0 \"925\"\n"
     "TEXT c=0 \" ÷ 5 \"\n"
     "TEXT c=0 \"= 185\"\n"
     "FINISH c=0 stop raw=\"end_turn\" seq=\"\"\n"
     "USAGE in=69 out=53 total=122 cache_read=0 cache_write=0 reasoning=-1\n"
     "DONE\n"
     "END rc=OK done=1 failed=0\n"},
    {"messages_stream_tool_use.sse",
     "START id=\"msg_01K2JbSUMYhez5RHoK9ZCj9U\" model=\"claude-haiku-4-5-20251001\"\n"
     "USAGE in=849 out=-1 total=-1 cache_read=0 cache_write=0 reasoning=-1\n"
     "TOOL c=0 i=0 id=\"toolu_01KFbKqPYSuAKujiL6mTfzYA\" name=\"json\" args=\"\" sig=\"\"\n"
     "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{\\\"elements\\\": [{\\\"location\\\": \\\"San "
     "Francisco\\\", \\\"temperature\\\": 58, \\\"condition\\\": \\\"sunny\\\"}]\" sig=\"\"\n"
     "TOOL c=0 i=0 id=\"\" name=\"\" args=\"}\" sig=\"\"\n"
     "FINISH c=0 tool_calls raw=\"tool_use\" seq=\"\"\n"
     "USAGE in=849 out=47 total=896 cache_read=0 cache_write=0 reasoning=-1\n"
     "DONE\n"
     "END rc=OK done=1 failed=0\n"},
};

LX_TEST(anthropic_streams_every_split)
{
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c, .key = LX_STR("sk-ant-test-key-0123456789")};

    for (size_t i = 0; i < LX_ARRAY_SIZE(ant_streams); i++) {
        char rel[256], *raw;
        struct lx_pt_summary s;
        struct lx_str bytes;
        int rc;

        snprintf(rel, sizeof(rel), "protocols/fixtures/anthropic/%s", ant_streams[i].file);
        bytes = ant_read(rel, &raw);
        if (raw == NULL)
            LX_FAIL("cannot read %s", rel);
        lx_pt_summary_init(&s);
        rc = lx_pt_replay_all_splits(&lx_provider_anthropic, &call, bytes, 1, &s);
        if (rc == 0 && strcmp(lx_pt_lines(&s), ant_streams[i].transcript) != 0) {
            fprintf(stderr, "%s: got\n%s--- want\n%s", rel, lx_pt_lines(&s),
                    ant_streams[i].transcript);
            rc = -1;
        }
        lx_pt_summary_release(&s);
        free(raw);
        LX_ASSERT_EQ(0, rc);
    }
    return 0;
}

/* Bedrock's InvokeModel stream and Vertex hand us the same JSON without SSE event names. */
static int ant_feed(struct lx_stream_state *st, const char *json, struct lx_pt_summary *s)
{
    struct lx_stream_event ev = {LX_STR_NULL, lx_str_cstr(json), false};
    struct lx_delta_sink sink = {lx_pt_sink_emit, s};
    struct lx_err err = {0};
    int rc = lx_provider_anthropic.parse_event(st, &ev, &sink, &err);

    lx_arena_reset(st->scratch);
    return rc;
}

LX_TEST(anthropic_events_without_names)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 20), *scratch = lx_arena_new(0, 1 << 20);
    struct lx_stream_state st = {0};
    struct lx_pt_summary s;

    st.a = a;
    st.scratch = scratch;
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
                                 "\"model\":\"m\",\"usage\":{\"input_tokens\":5,"
                                 "\"cache_read_input_tokens\":100,"
                                 "\"cache_creation_input_tokens\":7,\"output_tokens\":1}}}",
                                 &s));
    /* two tools: the IR index is the tool's own counter, not the block index */
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"content_block_start\",\"index\":0,"
                                 "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"content_block_delta\",\"index\":0,"
                                 "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"content_block_stop\",\"index\":0}", &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"content_block_start\",\"index\":1,"
                                 "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
                                 "\"name\":\"a\",\"input\":{}}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"content_block_delta\",\"index\":1,"
                                 "\"delta\":{\"type\":\"input_json_delta\","
                                 "\"partial_json\":\"{\\\"x\\\":1}\"}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"content_block_stop\",\"index\":1}", &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"content_block_start\",\"index\":2,"
                                 "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t2\","
                                 "\"name\":\"b\",\"input\":{}}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"content_block_stop\",\"index\":2}", &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"ping\"}", &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"some_future_event\",\"x\":1}", &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                                 "\"stop_sequence\",\"stop_sequence\":\"END\"},"
                                 "\"usage\":{\"output_tokens\":9}}",
                                 &s));
    LX_ASSERT_EQ(LX_OK, ant_feed(&st,
                                 "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":"
                                 "{\"inputTokenCount\":5}}",
                                 &s));
    LX_ASSERT(st.done);
    LX_ASSERT_STREQ(lx_pt_lines(&s),
                    "START id=\"msg_1\" model=\"m\"\n"
                    "USAGE in=112 out=-1 total=-1 cache_read=100 cache_write=7 reasoning=-1\n"
                    "TEXT c=0 \"Hi\"\n"
                    "TOOL c=0 i=0 id=\"t1\" name=\"a\" args=\"\" sig=\"\"\n"
                    "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{\\\"x\\\":1}\" sig=\"\"\n"
                    "TOOL c=0 i=1 id=\"t2\" name=\"b\" args=\"\" sig=\"\"\n"
                    "TOOL c=0 i=1 id=\"\" name=\"\" args=\"{}\" sig=\"\"\n"
                    "FINISH c=0 stop raw=\"stop_sequence\" seq=\"END\"\n"
                    "USAGE in=-1 out=9 total=-1 cache_read=-1 cache_write=-1 reasoning=-1\n"
                    "DONE\n");
    /* nothing after the end */
    LX_ASSERT_EQ(LX_OK, ant_feed(&st, "{\"type\":\"content_block_start\"}", &s));
    lx_pt_summary_release(&s);
    lx_arena_free(a);
    lx_arena_free(scratch);
    return 0;
}

LX_TEST(anthropic_events_not_the_protocol)
{
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"no_type\":1}",
        "{\"type\":7}",
        "{\"type\":\"message_start\"}",
        "{\"type\":\"content_block_start\",\"index\":\"0\",\"content_block\":{\"type\":\"text\"}}",
        "{\"type\":\"content_block_delta\",\"index\":5,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":5}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":3}}",
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        struct lx_arena *a = lx_arena_new(0, 1 << 20), *scratch = lx_arena_new(0, 1 << 20);
        struct lx_stream_state st = {0};
        struct lx_pt_summary s;

        st.a = a;
        st.scratch = scratch;
        lx_pt_summary_init(&s);
        if (ant_feed(&st, bad[i], &s) != LX_EPARSE)
            LX_FAIL("not rejected: %s", bad[i]);
        lx_pt_summary_release(&s);
        lx_arena_free(a);
        lx_arena_free(scratch);
    }
    return 0;
}

/* ---- answers -------------------------------------------------------------------------- */

LX_TEST(anthropic_parse_response_text)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c};
    struct lx_chat_resp r;
    struct lx_err err = {0};
    char *raw;
    struct lx_str body = ant_read("protocols/fixtures/anthropic/messages_response_text.json", &raw);

    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(LX_OK, lx_provider_anthropic.parse_response(&call, body, a, &r, &err));
    LX_ASSERT_STR(r.id, "msg_01VdEjxAP5ahtHKrrRdNBteQ");
    LX_ASSERT_STR(r.model, "claude-sonnet-4-5-20250929");
    LX_ASSERT_EQ(1, r.n_choices);
    LX_ASSERT_EQ(1, r.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, r.choices[0].message.parts[0].type);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text,
                  "Hello! I'm doing well, thanks for asking. How are you doing today? Is there "
                  "anything I can help you with?");
    LX_ASSERT_EQ(LX_FINISH_STOP, r.choices[0].finish);
    LX_ASSERT_STR(r.choices[0].finish_raw, "end_turn");
    LX_ASSERT_EQ(12, r.usage.input);
    LX_ASSERT_EQ(29, r.usage.output);
    LX_ASSERT_EQ(41, r.usage.total);
    LX_ASSERT_EQ(0, r.usage.cache_read);
    free(raw);
    lx_arena_free(a);
    return 0;
}

LX_TEST(anthropic_parse_response_tool_use)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c};
    struct lx_chat_resp r;
    struct lx_err err = {0};
    struct lx_json doc;
    char *raw;
    struct lx_str body =
        ant_read("protocols/fixtures/anthropic/messages_response_tool_use.json", &raw);
    const struct lx_part *p;

    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(LX_OK, lx_provider_anthropic.parse_response(&call, body, a, &r, &err));
    LX_ASSERT_EQ(1, r.choices[0].message.n_parts);
    p = &r.choices[0].message.parts[0];
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, p->type);
    LX_ASSERT_STR(p->id, "toolu_01Q9ExVZnzZj7E2QQYHYtNUa");
    LX_ASSERT_STR(p->name, "json");
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, p->args.ptr, p->args.len));
    LX_ASSERT_EQ(4, lx_json_count(&doc, lx_json_get(&doc, 0, LX_STR("elements"))));
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, r.choices[0].finish);
    LX_ASSERT_EQ(1151, r.usage.input);
    LX_ASSERT_EQ(87, r.usage.output);
    free(raw);
    lx_arena_free(a);
    return 0;
}

LX_TEST(anthropic_parse_response_shapes)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c};
    struct lx_chat_resp r;
    struct lx_err err = {0};
    const char *thinking =
        "{\"id\":\"msg_x\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"sig\"},"
        "{\"type\":\"redacted_thinking\",\"data\":\"opaque\"},"
        "{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\",\"input\":{}},"
        "{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"pause_turn\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":10,"
        "\"cache_creation_input_tokens\":20,\"output_tokens\":4}}";

    LX_ASSERT_EQ(LX_OK,
                 lx_provider_anthropic.parse_response(&call, lx_str_cstr(thinking), a, &r, &err));
    LX_ASSERT_EQ(3, r.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_THINKING, r.choices[0].message.parts[0].type);
    LX_ASSERT_STR(r.choices[0].message.parts[0].signature, "sig");
    LX_ASSERT_EQ(LX_PART_REDACTED_THINKING, r.choices[0].message.parts[1].type);
    LX_ASSERT_STR(r.choices[0].message.parts[1].data, "opaque");
    LX_ASSERT_EQ(LX_FINISH_STOP, r.choices[0].finish);
    LX_ASSERT_STR(r.choices[0].finish_raw, "pause_turn");
    LX_ASSERT_EQ(33, r.usage.input);
    LX_ASSERT_EQ(10, r.usage.cache_read);
    LX_ASSERT_EQ(20, r.usage.cache_write);

    /* count_tokens */
    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(LX_OK, lx_provider_anthropic.parse_response(&call, LX_STR("{\"input_tokens\":42}"),
                                                             a, &r, &err));
    LX_ASSERT_EQ(42, r.usage.input);
    call.endpoint = LX_EP_CHAT;

    /* not the protocol */
    LX_ASSERT_EQ(LX_EPARSE,
                 lx_provider_anthropic.parse_response(&call, LX_STR("{\"x\":1}"), a, &r, &err));
    LX_ASSERT_EQ(502, err.http_status);
    LX_ASSERT_EQ(LX_EPARSE,
                 lx_provider_anthropic.parse_response(&call, LX_STR("<html>"), a, &r, &err));
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_anthropic.parse_response(
                                &call,
                                LX_STR("{\"type\":\"message\",\"content\":[{\"type\":"
                                       "\"tool_use\",\"id\":\"a\",\"name\":\"b\","
                                       "\"input\":\"str\"}]}"),
                                a, &r, &err));
    lx_arena_free(a);
    return 0;
}

/* ---- errors --------------------------------------------------------------------------- */

static const struct {
    const char *file;
    int status;
    enum lx_err_type type;
    bool retryable;
    enum lx_key_action key;
    const char *code;
} ant_errors[] = {
    {"error_400_context_length.json", 400, LX_ERRT_CONTEXT_LENGTH, false, LX_KEY_KEEP,
     "invalid_request_error"},
    {"error_400_max_tokens_missing.json", 400, LX_ERRT_INVALID_REQUEST, false, LX_KEY_KEEP,
     "invalid_request_error"},
    {"error_401_authentication.json", 401, LX_ERRT_AUTHENTICATION, true, LX_KEY_DISABLE,
     "authentication_error"},
    {"error_429_rate_limit.json", 429, LX_ERRT_RATE_LIMIT, true, LX_KEY_COOLDOWN,
     "rate_limit_error"},
    {"error_529_overloaded.json", 529, LX_ERRT_OVERLOADED, true, LX_KEY_KEEP, "overloaded_error"},
};

LX_TEST(anthropic_error_fixtures)
{
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c, .key = LX_STR("sk-ant-api03-secret")};

    for (size_t i = 0; i < LX_ARRAY_SIZE(ant_errors); i++) {
        struct lx_arena *a = lx_arena_new(0, 1 << 20);
        struct lx_upstream_error e;
        char rel[256], *raw;
        struct lx_str body;

        snprintf(rel, sizeof(rel), "protocols/fixtures/anthropic/%s", ant_errors[i].file);
        body = ant_read(rel, &raw);
        LX_ASSERT(raw != NULL);
        lx_provider_anthropic.map_error(&call, ant_errors[i].status, NULL, 0, body, a, &e);
        if (e.status != ant_errors[i].status || e.type != ant_errors[i].type ||
            e.retryable != ant_errors[i].retryable || e.key_action != ant_errors[i].key)
            LX_FAIL("%s: status %d type %d retryable %d key %d", rel, e.status, (int)e.type,
                    (int)e.retryable, (int)e.key_action);
        LX_ASSERT_STR(e.code, ant_errors[i].code);
        LX_ASSERT(e.message.len > 0);
        LX_ASSERT_EQ(-1, e.retry_after_ms);
        free(raw);
        lx_arena_free(a);
    }
    return 0;
}

LX_TEST(anthropic_error_quota_and_headers)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 20);
    struct lx_config_provider c = ant_conf();
    struct lx_provider_call call = {.conf = &c,
                                    .key = LX_STR("sk-ant-api03-secret-key"),
                                    .now_s = 1735689600 /* 2025-01-01T00:00:00Z */};
    struct lx_upstream_error e;
    struct lx_header h[] = {
        {LX_STR("anthropic-ratelimit-requests-remaining"), LX_STR("10")},
        {LX_STR("anthropic-ratelimit-requests-reset"), LX_STR("2025-01-01T00:00:05Z")},
        {LX_STR("anthropic-ratelimit-tokens-remaining"), LX_STR("0")},
        {LX_STR("anthropic-ratelimit-tokens-reset"), LX_STR("2025-01-01T00:00:30.5Z")},
    };
    struct lx_header ra[] = {{LX_STR("Retry-After"), LX_STR("7")}};

    /* a spend limit is not a rate limit: the key is done, nothing to retry */
    lx_provider_anthropic.map_error(
        &call, 429, NULL, 0,
        LX_STR("{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"You "
               "have reached your specified API usage limits.\"}}"),
        a, &e);
    LX_ASSERT_EQ(LX_ERRT_QUOTA, e.type);
    LX_ASSERT_EQ(LX_KEY_DISABLE, e.key_action);
    LX_ASSERT(!e.retryable);
    lx_provider_anthropic.map_error(
        &call, 400, NULL, 0,
        LX_STR("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
               "\"Your credit balance is too low to access the Anthropic API.\"}}"),
        a, &e);
    LX_ASSERT_EQ(LX_ERRT_QUOTA, e.type);
    LX_ASSERT_EQ(LX_KEY_DISABLE, e.key_action);
    lx_provider_anthropic.map_error(
        &call, 429, NULL, 0,
        LX_STR("{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\","
               "\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}}}"),
        a, &e);
    LX_ASSERT_EQ(LX_ERRT_QUOTA, e.type);

    /* the reset of the limit that bit (remaining 0), relative to now */
    lx_provider_anthropic.map_error(
        &call, 429, h, LX_ARRAY_SIZE(h),
        LX_STR(
            "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}"),
        a, &e);
    LX_ASSERT_EQ(LX_ERRT_RATE_LIMIT, e.type);
    LX_ASSERT_EQ(LX_KEY_COOLDOWN, e.key_action);
    LX_ASSERT_EQ(30000, e.retry_after_ms);
    lx_provider_anthropic.map_error(&call, 529, ra, 1, LX_STR("{}"), a, &e);
    LX_ASSERT_EQ(7000, e.retry_after_ms);
    LX_ASSERT_EQ(LX_ERRT_OVERLOADED, e.type);

    /* other statuses, and bodies that are not Anthropic's */
    lx_provider_anthropic.map_error(&call, 403, NULL, 0,
                                    LX_STR("{\"type\":\"error\",\"error\":{\"type\":"
                                           "\"permission_error\",\"message\":\"no\"}}"),
                                    a, &e);
    LX_ASSERT_EQ(LX_ERRT_PERMISSION, e.type);
    LX_ASSERT_EQ(LX_KEY_DISABLE, e.key_action);
    lx_provider_anthropic.map_error(&call, 413, NULL, 0,
                                    LX_STR("{\"type\":\"error\",\"error\":{\"type\":"
                                           "\"request_too_large\",\"message\":\"big\"}}"),
                                    a, &e);
    LX_ASSERT_EQ(LX_ERRT_TOO_LARGE, e.type);
    LX_ASSERT(!e.retryable);
    lx_provider_anthropic.map_error(&call, 500, NULL, 0,
                                    LX_STR("{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                                           "\"message\":\"Internal server error\"}}"),
                                    a, &e);
    LX_ASSERT_EQ(LX_ERRT_SERVER, e.type);
    LX_ASSERT(e.retryable);
    lx_provider_anthropic.map_error(&call, 502, NULL, 0, LX_STR("<html>Bad gateway</html>"), a, &e);
    LX_ASSERT_EQ(LX_ERRT_SERVER, e.type);
    LX_ASSERT_STR(e.message, "<html>Bad gateway</html>");
    lx_provider_anthropic.map_error(&call, 404, NULL, 0, LX_STR(""), a, &e);
    LX_ASSERT_EQ(LX_ERRT_NOT_FOUND, e.type);
    LX_ASSERT_STR(e.message, "upstream error (HTTP 404)");
    /* a message quoting the key never travels */
    lx_provider_anthropic.map_error(&call, 401, NULL, 0,
                                    LX_STR("{\"type\":\"error\",\"error\":{\"type\":"
                                           "\"authentication_error\",\"message\":\"bad key "
                                           "sk-ant-api03-secret-key\"}}"),
                                    a, &e);
    LX_ASSERT(strstr(e.message.ptr, "secret") == NULL);
    lx_arena_free(a);
    return 0;
}

/* ---- request body --------------------------------------------------------------------- */

static struct lx_part ant_text(const char *t)
{
    struct lx_part p;

    memset(&p, 0, sizeof(p));
    p.type = LX_PART_TEXT;
    p.text = lx_str_cstr(t);
    return p;
}

/* An OpenAI-shaped conversation: system and developer messages in the middle, a tool loop
 * with two results, an image by URL, and a temperature above Anthropic's range. */
LX_TEST(anthropic_body_round_trip)
{
    struct lx_part sys1 = ant_text("Be brief."), dev = ant_text("Answer in French.");
    struct lx_part u1[2], a1[3], t1, t2, u2 = ant_text("Thanks"), u0 = ant_text("and more");
    struct lx_msg msgs[8];
    struct lx_tool tools[2];
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_err err = {0};
    struct lx_json doc;
    int m, sys, arr, blk, in;

    memset(msgs, 0, sizeof(msgs));
    memset(tools, 0, sizeof(tools));
    u1[0] = ant_text("Weather in Paris and Rome?");
    memset(&u1[1], 0, sizeof(u1[1]));
    u1[1].type = LX_PART_IMAGE;
    u1[1].url = LX_STR("https://example.com/a.png");
    a1[0] = ant_text("");
    memset(&a1[1], 0, sizeof(a1[1]));
    a1[1].type = LX_PART_TOOL_CALL;
    a1[1].id = LX_STR("call_1");
    a1[1].name = LX_STR("get_weather");
    a1[1].args = LX_STR("{\"city\":\"Paris\"}");
    a1[2] = a1[1];
    a1[2].id = LX_STR("call_2");
    a1[2].args = LX_STR("not json");
    memset(&t1, 0, sizeof(t1));
    t1.type = LX_PART_TOOL_RESULT;
    t1.id = LX_STR("call_1");
    t1.text = LX_STR("18C");
    t2 = t1;
    t2.id = LX_STR("call_2");
    t2.text = LX_STR("failed");
    t2.is_error = true;
    msgs[0] = (struct lx_msg){LX_ROLE_SYSTEM, &sys1, 1, LX_STR_NULL};
    msgs[1] = (struct lx_msg){LX_ROLE_USER, u1, 2, LX_STR_NULL};
    msgs[2] = (struct lx_msg){LX_ROLE_USER, &u0, 1, LX_STR_NULL};
    msgs[3] = (struct lx_msg){LX_ROLE_ASSISTANT, a1, 3, LX_STR_NULL};
    msgs[4] = (struct lx_msg){LX_ROLE_TOOL, &t1, 1, LX_STR_NULL};
    msgs[5] = (struct lx_msg){LX_ROLE_DEVELOPER, &dev, 1, LX_STR_NULL};
    msgs[6] = (struct lx_msg){LX_ROLE_TOOL, &t2, 1, LX_STR_NULL};
    msgs[7] = (struct lx_msg){LX_ROLE_USER, &u2, 1, LX_STR_NULL};
    tools[0].name = LX_STR("get_weather");
    tools[0].description = LX_STR("Weather");
    tools[0].parameters =
        LX_STR("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    tools[1].name = LX_STR("noop");
    tools[1].parameters = LX_STR("{}");
    lx_chat_req_init(&req);
    req.model = LX_STR("gpt-4o");
    req.msgs = msgs;
    req.n_msgs = LX_ARRAY_SIZE(msgs);
    req.tools = tools;
    req.n_tools = 2;
    req.tool_choice = LX_TOOL_CHOICE_REQUIRED;
    req.parallel_tool_calls = 0;
    req.temperature = (struct lx_num){LX_STR("1.5"), 1.5};
    req.top_p = (struct lx_num){LX_STR("0.9"), 0.9};
    req.user = LX_STR("u-1");

    LX_ASSERT_EQ(LX_OK,
                 lx_anthropic_encode_body(&req, LX_STR("claude-x"), LX_STR_NULL, true, &b, &err));
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("model")), LX_STR("claude-x")));
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("anthropic_version")) < 0);
    LX_ASSERT_EQ(LX_JSON_TRUE, lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens")), LX_STR("")) ||
              lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))) == LX_JSON_NUMBER);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))), "4096");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("temperature"))), "1");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("top_p"))), "0.9");
    sys = lx_json_get(&doc, 0, LX_STR("system"));
    LX_ASSERT(lx_json_str_eq(&doc, sys, LX_STR("Be brief.\n\nAnswer in French.")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("tool_choice"))),
                  "{\"type\":\"any\",\"disable_parallel_tool_use\":true}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("metadata"))),
                  "{\"user_id\":\"u-1\"}");
    arr = lx_json_get(&doc, 0, LX_STR("tools"));
    LX_ASSERT_EQ(2, lx_json_count(&doc, arr));
    LX_ASSERT_STR(
        lx_json_raw(&doc, lx_json_get(&doc, lx_json_first(&doc, arr) + 0, LX_STR("input_schema"))),
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    LX_ASSERT_STR(
        lx_json_raw(&doc, lx_json_get(&doc, lx_json_sibling(&doc, arr, lx_json_first(&doc, arr)),
                                      LX_STR("input_schema"))),
        "{\"type\":\"object\",\"properties\":{}}");

    /* user (2 merged), assistant, user (2 results merged, then the text) */
    arr = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(3, lx_json_count(&doc, arr));
    m = lx_json_first(&doc, arr);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, m, LX_STR("role")), LX_STR("user")));
    LX_ASSERT_STR(
        lx_json_raw(&doc, lx_json_get(&doc, m, LX_STR("content"))),
        "[{\"type\":\"text\",\"text\":\"Weather in Paris and Rome?\"},{\"type\":\"image\","
        "\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.png\"}},"
        "{\"type\":\"text\",\"text\":\"and more\"}]");
    m = lx_json_sibling(&doc, arr, m);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, m, LX_STR("role")), LX_STR("assistant")));
    blk = lx_json_get(&doc, m, LX_STR("content"));
    LX_ASSERT_EQ(2, lx_json_count(&doc, blk)); /* the empty text is dropped */
    in = lx_json_first(&doc, blk);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, in, LX_STR("id")), LX_STR("call_1")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, in, LX_STR("input"))),
                  "{\"city\":\"Paris\"}");
    in = lx_json_sibling(&doc, blk, in);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, in, LX_STR("id")), LX_STR("call_2")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, in, LX_STR("input"))), "{}");
    m = lx_json_sibling(&doc, arr, m);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, m, LX_STR("role")), LX_STR("user")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, m, LX_STR("content"))),
                  "[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"18C\"},"
                  "{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\",\"content\":\"failed\","
                  "\"is_error\":true},{\"type\":\"text\",\"text\":\"Thanks\"}]");
    lx_json_release(&doc);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(anthropic_body_thinking_cache_json)
{
    struct lx_part sys[2], u = ant_text("hi"), th[2];
    struct lx_msg msgs[3];
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_err err = {0};
    struct lx_json doc;
    int s;

    sys[0] = ant_text("A");
    sys[1] = ant_text("B");
    sys[1].cache = true;
    memset(th, 0, sizeof(th));
    th[0].type = LX_PART_THINKING; /* from another provider: no signature, dropped */
    th[0].text = LX_STR("reasoning");
    th[1] = ant_text("answer");
    msgs[0] = (struct lx_msg){LX_ROLE_SYSTEM, sys, 2, LX_STR_NULL};
    msgs[1] = (struct lx_msg){LX_ROLE_USER, &u, 1, LX_STR_NULL};
    msgs[2] = (struct lx_msg){LX_ROLE_ASSISTANT, th, 2, LX_STR_NULL};
    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 3;
    req.effort = LX_EFFORT_HIGH;
    req.temperature = (struct lx_num){LX_STR("0.2"), 0.2};
    req.top_k = 5;
    req.response_format = LX_RF_JSON_SCHEMA;
    req.schema = LX_STR("{\"type\":\"object\"}");

    LX_ASSERT_EQ(LX_OK, lx_anthropic_encode_body(&req, LX_STR_NULL, LX_STR("vertex-2023-10-16"),
                                                 false, &b, &err));
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("model")) < 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("stream")) < 0);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("anthropic_version")),
                             LX_STR("vertex-2023-10-16")));
    /* effort high: 16384 budget, max_tokens budget + 4096; temperature and top_k dropped */
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("thinking"))),
                  "{\"type\":\"enabled\",\"budget_tokens\":16384}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))), "20480");
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("temperature")) < 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("top_k")) < 0);
    s = lx_json_get(&doc, 0, LX_STR("system"));
    LX_ASSERT_EQ(LX_JSON_ARRAY, lx_json_type(&doc, s));
    LX_ASSERT_EQ(3, lx_json_count(&doc, s));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_sibling(&doc, s, lx_json_first(&doc, s))),
                  "{\"type\":\"text\",\"text\":\"B\",\"cache_control\":{\"type\":\"ephemeral\"}}");
    LX_ASSERT(strstr(b.ptr, "matching this JSON schema: {\\\"type\\\":\\\"object\\\"}") != NULL);
    LX_ASSERT(strstr(b.ptr, "reasoning") == NULL);
    lx_json_release(&doc);

    /* a small max_tokens shrinks an effort budget; too small turns thinking off */
    lx_buf_reset(&b);
    req.max_tokens = 2000;
    LX_ASSERT_EQ(LX_OK, lx_anthropic_encode_body(&req, LX_STR("m"), LX_STR_NULL, false, &b, &err));
    LX_ASSERT(strstr(b.ptr, "\"budget_tokens\":1999") != NULL);
    lx_buf_reset(&b);
    req.max_tokens = 500;
    LX_ASSERT_EQ(LX_OK, lx_anthropic_encode_body(&req, LX_STR("m"), LX_STR_NULL, false, &b, &err));
    LX_ASSERT(strstr(b.ptr, "thinking") == NULL);
    LX_ASSERT(strstr(b.ptr, "\"temperature\":0.2") != NULL);

    /* what Anthropic cannot take */
    lx_buf_reset(&b);
    req.n = 2;
    LX_ASSERT_EQ(LX_EINVAL,
                 lx_anthropic_encode_body(&req, LX_STR("m"), LX_STR_NULL, false, &b, &err));
    LX_ASSERT_EQ(400, err.http_status);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(anthropic_build_request)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 20);
    struct lx_config_provider c = ant_conf();
    struct lx_header extra[] = {{LX_STR("anthropic-beta"), LX_STR("prompt-caching-2024-07-31")}};
    struct lx_provider_call call = {.conf = &c,
                                    .model = LX_STR("claude-sonnet-4-5"),
                                    .key = LX_STR("sk-ant-k"),
                                    .stream = true};
    struct lx_part u = ant_text("hi");
    struct lx_msg msg = {LX_ROLE_USER, &u, 1, LX_STR_NULL};
    struct lx_chat_req req;
    struct lx_upstream_req out;
    struct lx_err err = {0};
    const struct lx_header *h;

    c.headers = extra;
    c.n_headers = 1;
    lx_chat_req_init(&req);
    req.model = LX_STR("alias");
    req.msgs = &msg;
    req.n_msgs = 1;
    req.max_tokens = 100;
    LX_ASSERT_EQ(LX_OK, lx_provider_anthropic.build_request(&call, &req, a, &out, &err));
    LX_ASSERT_STR(out.method, "POST");
    LX_ASSERT_STR(out.url, "https://api.anthropic.com/v1/messages");
    h = lx_header_find(out.headers, out.n_headers, LX_STR("x-api-key"));
    LX_ASSERT(h != NULL);
    LX_ASSERT_STR(h->value, "sk-ant-k");
    h = lx_header_find(out.headers, out.n_headers, LX_STR("anthropic-version"));
    LX_ASSERT(h != NULL);
    LX_ASSERT_STR(h->value, "2023-06-01");
    h = lx_header_find(out.headers, out.n_headers, LX_STR("anthropic-beta"));
    LX_ASSERT(h != NULL);
    LX_ASSERT_STR(out.body,
                  "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"messages\":"
                  "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],"
                  "\"stream\":true}");

    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(LX_OK, lx_provider_anthropic.build_request(&call, &req, a, &out, &err));
    LX_ASSERT_STR(out.url, "https://api.anthropic.com/v1/messages/count_tokens");
    LX_ASSERT_STR(out.body, "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\","
                            "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]}");

    /* audio cannot go to Anthropic */
    u.type = LX_PART_AUDIO;
    u.data = LX_STR("AAAA");
    call.endpoint = LX_EP_CHAT;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_anthropic.build_request(&call, &req, a, &out, &err));
    LX_ASSERT_EQ(400, err.http_status);
    lx_arena_free(a);
    return 0;
}

LX_TEST(anthropic_count_and_estimate)
{
    struct lx_buf b = LX_BUF_INIT(64);
    struct lx_part p = ant_text("12345678"); /* 8 bytes: 2 tokens */
    struct lx_msg m = {LX_ROLE_USER, &p, 1, LX_STR_NULL};
    struct lx_chat_req req;
    int64_t n = -1;

    LX_ASSERT_EQ(LX_OK, lx_anthropic_encode_count(42, &b));
    LX_ASSERT_STR(lx_buf_str(&b), "{\"input_tokens\":42}");
    lx_buf_release(&b);
    lx_chat_req_init(&req);
    req.msgs = &m;
    req.n_msgs = 1;
    LX_ASSERT_EQ(LX_OK, lx_anthropic_estimate_tokens(&req, &n));
    LX_ASSERT_EQ(2 + 3, n);
    return 0;
}

LX_TEST(anthropic_body_prefill_trimmed)
{
    struct lx_part u = ant_text("Say hi"), pre = ant_text("Sure: \n");
    struct lx_msg msgs[2] = {{LX_ROLE_USER, &u, 1, LX_STR_NULL},
                             {LX_ROLE_ASSISTANT, &pre, 1, LX_STR_NULL}};
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1 << 16);
    struct lx_err err = {0};

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 2;
    LX_ASSERT_EQ(LX_OK, lx_anthropic_encode_body(&req, LX_STR("m"), LX_STR_NULL, false, &b, &err));
    LX_ASSERT(strstr(b.ptr, "\"text\":\"Sure:\"}]}]") != NULL);
    lx_buf_release(&b);
    return 0;
}
