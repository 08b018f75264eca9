/* test_providers_bedrock.c - the Bedrock adapter (src/providers/bedrock.c): every fixture of
 * fixtures/bedrock replayed (event-stream bodies at every split point, through the real framing),
 * Converse answers, the .http error answers, request building (body parsed back, URL with the
 * model id encoded once, SigV4 Authorization checked against sigv4.h directly, Bearer keys),
 * embeddings, and input that must be refused. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "providers/provider.h"
#include "providers/sigv4.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"
#include "json/json.h"

#define BD_FIX(name) lx_test_shared("protocols/fixtures/bedrock/" name)
#define BD_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BD_TIME 1736942400 /* 2025-01-15T12:00:00Z */

static struct lx_config_provider bd_conf(const char *type, const char *region, const char *base)
{
    struct lx_config_provider c;

    memset(&c, 0, sizeof(c));
    c.name = "bedrock";
    c.type = type;
    c.proto = LX_CONFIG_PROTO_BEDROCK;
    c.region = region;
    c.base_url = base;
    c.enabled = true;
    return c;
}

static struct lx_provider_call bd_call(const struct lx_config_provider *conf, const char *model,
                                       const char *key, bool stream)
{
    struct lx_provider_call call;

    memset(&call, 0, sizeof(call));
    call.conf = conf;
    call.model = lx_str_cstr(model);
    call.key = lx_str_cstr(key);
    call.endpoint = LX_EP_CHAT;
    call.stream = stream;
    call.now_s = BD_TIME;
    return call;
}

/* Replays a fixture's bytes whole and at every split point; s keeps the whole transcript. */
static int bd_replay(const char *fixture, const struct lx_provider_call *call,
                     struct lx_pt_summary *s)
{
    size_t len;
    char *bytes = lx_test_read_file(fixture, &len);
    int rc;

    if (bytes == NULL)
        return -2;
    lx_pt_summary_init(s);
    rc = lx_pt_replay_all_splits(&lx_provider_bedrock, call, lx_str_make(bytes, len), 1, s);
    free(bytes);
    return rc;
}

LX_TEST(bedrock_stream_text)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-haiku-20241022-v1:0", "", true);
    struct lx_pt_summary s;
    static const char expect[] =
        "START id=\"\" model=\"\"\n"
        "TEXT c=0 \"Let\"\n"
        "TEXT c=0 \" me count the \\\"\"\n"
        "TEXT c=0 \"r\\\"s in \\\"\"\n"
        "TEXT c=0 \"strawberry\\\":\\n\\ns-t-\"\n"
        "TEXT c=0 \"**\"\n"
        "TEXT c=0 \"r**-a-w-b\"\n"
        "TEXT c=0 \"-e-**\"\n"
        "TEXT c=0 \"r**-**\"\n"
        "TEXT c=0 \"r**-y\\n\\nThere\"\n"
        "TEXT c=0 \" are **3\"\n"
        "TEXT c=0 \"** r\"\n"
        "TEXT c=0 \"'s in \\\"strawberry.\\\"\"\n"
        "FINISH c=0 stop raw=\"end_turn\" seq=\"\"\n"
        "USAGE in=22 out=55 total=77 cache_read=-1 cache_write=-1 reasoning=-1\n"
        "DONE\n"
        "END rc=OK done=1 failed=0\n";

    LX_ASSERT_EQ(0, bd_replay(BD_FIX("converse_stream.bin"), &call, &s));
    LX_ASSERT_STREQ(lx_pt_lines(&s), expect);
    LX_ASSERT_EQ(1, s.n_start);
    LX_ASSERT_EQ(1, s.n_done);
    LX_ASSERT_EQ(LX_FINISH_STOP, s.finish);
    lx_pt_summary_release(&s);
    return 0;
}

LX_TEST(bedrock_stream_tools)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-haiku-20241022-v1:0", "", true);
    struct lx_pt_summary s;
    static const char expect[] =
        "START id=\"\" model=\"\"\n"
        "TEXT c=0 \"Let me check the weather.\"\n"
        "TOOL c=0 i=0 id=\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\" name=\"get_weather\" args=\"\" "
        "sig=\"\"\n"
        "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{\\\"city\\\":\" sig=\"\"\n"
        "TOOL c=0 i=0 id=\"\" name=\"\" args=\" \\\"Paris\\\"}\" sig=\"\"\n"
        "FINISH c=0 tool_calls raw=\"tool_use\" seq=\"\"\n"
        "USAGE in=412 out=57 total=469 cache_read=0 cache_write=0 reasoning=-1\n"
        "DONE\n"
        "END rc=OK done=1 failed=0\n";

    LX_ASSERT_EQ(0, bd_replay(BD_FIX("converse_stream_tools.bin"), &call, &s));
    LX_ASSERT_STREQ(lx_pt_lines(&s), expect);
    LX_ASSERT_EQ(1, s.n_tools);
    LX_ASSERT_STREQ(s.tools[0].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    LX_ASSERT_STR(lx_buf_str(&s.tools[0].args), "{\"city\": \"Paris\"}");
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, s.finish);
    lx_pt_summary_release(&s);
    return 0;
}

LX_TEST(bedrock_stream_midstream_exception)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-haiku-20241022-v1:0", "", true);
    struct lx_pt_summary s;
    static const char expect[] =
        "START id=\"\" model=\"\"\n"
        "TEXT c=0 \"Let\"\n"
        "TEXT c=0 \" me count the \\\"\"\n"
        "ERROR status=429 type=6 retryable=1 key=1 code=\"throttlingException\" "
        "msg=\"Too many tokens, please wait before trying again.\"\n"
        "END rc=OK done=0 failed=1\n";

    LX_ASSERT_EQ(0, bd_replay(BD_FIX("converse_stream_midstream_exception.bin"), &call, &s));
    LX_ASSERT_STREQ(lx_pt_lines(&s), expect);
    LX_ASSERT_EQ(1, s.n_error);
    LX_ASSERT_EQ(0, s.n_done);
    LX_ASSERT_EQ(LX_ERRT_RATE_LIMIT, s.error.type);
    LX_ASSERT_EQ(LX_KEY_COOLDOWN, s.error.key_action);
    lx_pt_summary_release(&s);
    return 0;
}

/* One parse_event call on a hand-made event. */
static int bd_event(struct lx_stream_state *st, const char *event, const char *data, bool exc,
                    struct lx_pt_summary *s)
{
    struct lx_stream_event ev = {lx_str_cstr(event), lx_str_cstr(data), exc};
    struct lx_delta_sink sink = {lx_pt_sink_emit, s};
    struct lx_err err;
    int rc;

    rc = lx_provider_bedrock.parse_event(st, &ev, &sink, &err);
    lx_arena_reset(st->scratch);
    return rc;
}

LX_TEST(bedrock_stream_reasoning_and_errors)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-7-sonnet-20250219-v1:0", "", true);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20), *scratch = lx_arena_new(4096, 1u << 20);
    struct lx_stream_state st;
    struct lx_pt_summary s;

    LX_ASSERT(a != NULL && scratch != NULL);
    memset(&st, 0, sizeof(st));
    st.call = &call;
    st.a = a;
    st.scratch = scratch;
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "messageStart", "{\"role\":\"assistant\"}", false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "contentBlockDelta",
                                 "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":"
                                 "{\"text\":\"hmm\"}}}",
                                 false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "contentBlockDelta",
                                 "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":"
                                 "{\"signature\":\"sig1\"}}}",
                                 false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "futureEvent", "{\"x\":1}", false, &s));
    /* a toolUse fragment for a block that never started as a tool is not the protocol */
    LX_ASSERT_EQ(LX_EPARSE, bd_event(&st, "contentBlockDelta",
                                     "{\"contentBlockIndex\":3,\"delta\":{\"toolUse\":"
                                     "{\"input\":\"{}\"}}}",
                                     false, &s));
    LX_ASSERT_EQ(LX_EPARSE, bd_event(&st, "contentBlockDelta", "not json", false, &s));
    LX_ASSERT_EQ(LX_EPARSE,
                 bd_event(&st, "contentBlockDelta",
                          "{\"contentBlockIndex\":99999,\"delta\":{\"text\":\"x\"}}", false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "messageStop", "{\"stopReason\":\"max_tokens\"}", false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "metadata",
                                 "{\"usage\":{\"inputTokens\":10,\"outputTokens\":5,"
                                 "\"cacheReadInputTokens\":100,\"cacheWriteInputTokens\":7,"
                                 "\"totalTokens\":15}}",
                                 false, &s));
    LX_ASSERT(st.done);
    LX_ASSERT_STREQ(lx_pt_lines(&s),
                    "START id=\"\" model=\"\"\n"
                    "THINKING c=0 \"hmm\"\n"
                    "SIGNATURE c=0 \"sig1\"\n"
                    "FINISH c=0 length raw=\"max_tokens\" seq=\"\"\n"
                    "USAGE in=117 out=5 total=122 cache_read=100 cache_write=7 reasoning=-1\n"
                    "DONE\n");
    lx_pt_summary_release(&s);

    /* in-stream exceptions of every documented kind */
    static const struct {
        const char *name;
        int status;
        enum lx_err_type type;
    } excs[] = {
        {"internalServerException", 500, LX_ERRT_SERVER},
        {"modelStreamErrorException", 424, LX_ERRT_SERVER},
        {"validationException", 400, LX_ERRT_INVALID_REQUEST},
        {"serviceUnavailableException", 503, LX_ERRT_OVERLOADED},
        {"throttlingException", 429, LX_ERRT_RATE_LIMIT},
        {"", 500, LX_ERRT_SERVER},
    };
    for (size_t i = 0; i < sizeof(excs) / sizeof(excs[0]); i++) {
        memset(&st, 0, sizeof(st));
        st.call = &call;
        st.a = a;
        st.scratch = scratch;
        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(LX_OK, bd_event(&st, excs[i].name, "{\"message\":\"boom\"}", true, &s));
        LX_ASSERT(st.failed);
        LX_ASSERT_EQ(1, s.n_error);
        LX_ASSERT_EQ(excs[i].status, s.error.status);
        LX_ASSERT_EQ(excs[i].type, s.error.type);
        /* nothing after the error */
        LX_ASSERT_EQ(LX_OK, bd_event(&st, "metadata", "{\"usage\":{}}", false, &s));
        LX_ASSERT_EQ(0, s.n_done);
        lx_pt_summary_release(&s);
    }
    lx_arena_free(scratch);
    lx_arena_free(a);
    return 0;
}

LX_TEST(bedrock_stream_invoke_anthropic)
{
    struct lx_config_provider conf = bd_conf("bedrock-invoke", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", true);
    struct lx_pt_summary s;

    LX_ASSERT_EQ(0, bd_replay(BD_FIX("invoke_anthropic_stream.bin"), &call, &s));
    LX_ASSERT(strstr(lx_pt_lines(&s), "START id=\"msg_bdrk_01QC4g3HwBThD4BaNtBckFDJ\"") != NULL);
    LX_ASSERT_STR(lx_buf_str(&s.text), "Hello! I'm doing well, thank you for asking. How are you "
                                       "doing today? Is there anything I can help you with?");
    LX_ASSERT_EQ(LX_FINISH_STOP, s.finish);
    LX_ASSERT_EQ(12, s.usage.input);
    LX_ASSERT_EQ(30, s.usage.output);
    LX_ASSERT_EQ(1, s.n_done);
    LX_ASSERT(strstr(lx_pt_lines(&s), "END rc=OK done=1 failed=0") != NULL);
    lx_pt_summary_release(&s);
    return 0;
}

static int bd_parse_fixture(const char *fixture, struct lx_arena *a, struct lx_chat_resp *r,
                            char **keep)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call = bd_call(&conf, "anthropic.claude", "", false);
    struct lx_err err;
    size_t len;

    *keep = lx_test_read_file(fixture, &len);
    if (*keep == NULL)
        return -2;
    return lx_provider_bedrock.parse_response(&call, lx_str_make(*keep, len), a, r, &err);
}

LX_TEST(bedrock_parse_response)
{
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_chat_resp r;
    char *body;

    LX_ASSERT(a != NULL);
    LX_ASSERT_EQ(LX_OK, bd_parse_fixture(BD_FIX("converse_response.json"), a, &r, &body));
    LX_ASSERT_EQ(1, r.n_choices);
    LX_ASSERT_EQ(LX_ROLE_ASSISTANT, r.choices[0].message.role);
    LX_ASSERT_EQ(1, r.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, r.choices[0].message.parts[0].type);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text,
                  "Let me count the \"r\"s in \"strawberry\":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y"
                  "\n\nThere are **3** \"r\"s in \"strawberry.\"");
    LX_ASSERT_EQ(LX_FINISH_STOP, r.choices[0].finish);
    LX_ASSERT_STR(r.choices[0].finish_raw, "end_turn");
    LX_ASSERT_EQ(22, r.usage.input);
    LX_ASSERT_EQ(57, r.usage.output);
    LX_ASSERT_EQ(79, r.usage.total);
    LX_ASSERT_EQ(0, r.usage.cache_read);
    free(body);

    LX_ASSERT_EQ(LX_OK, bd_parse_fixture(BD_FIX("converse_response_tool_use.json"), a, &r, &body));
    LX_ASSERT_EQ(2, r.choices[0].message.n_parts);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text, "Let me check the weather.");
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, r.choices[0].message.parts[1].type);
    LX_ASSERT_STR(r.choices[0].message.parts[1].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    LX_ASSERT_STR(r.choices[0].message.parts[1].name, "get_weather");
    LX_ASSERT_STR(r.choices[0].message.parts[1].args, "{\"city\":\"Paris\"}");
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, r.choices[0].finish);
    LX_ASSERT_EQ(412, r.usage.input);
    LX_ASSERT_EQ(469, r.usage.total);
    free(body);

    /* reasoning, cache counts added to input, content filter */
    {
        static const char b[] =
            "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
            "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"think\",\"signature\":\"S\"}}},"
            "{\"reasoningContent\":{\"redactedContent\":\"QUJD\"}},{\"text\":\"hi\"}]}},"
            "\"stopReason\":\"guardrail_intervened\",\"usage\":{\"inputTokens\":5,"
            "\"outputTokens\":2,\"cacheReadInputTokens\":10,\"cacheWriteInputTokens\":3}}";
        struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
        struct lx_provider_call call = bd_call(&conf, "m", "", false);
        struct lx_err err;

        LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_response(&call, lx_str_make(b, sizeof(b) - 1),
                                                               a, &r, &err));
        LX_ASSERT_EQ(3, r.choices[0].message.n_parts);
        LX_ASSERT_EQ(LX_PART_THINKING, r.choices[0].message.parts[0].type);
        LX_ASSERT_STR(r.choices[0].message.parts[0].signature, "S");
        LX_ASSERT_EQ(LX_PART_REDACTED_THINKING, r.choices[0].message.parts[1].type);
        LX_ASSERT_STR(r.choices[0].message.parts[1].data, "QUJD");
        LX_ASSERT_EQ(LX_FINISH_CONTENT_FILTER, r.choices[0].finish);
        LX_ASSERT_EQ(18, r.usage.input);
        LX_ASSERT_EQ(20, r.usage.total);
        LX_ASSERT_EQ(10, r.usage.cache_read);
        LX_ASSERT_EQ(3, r.usage.cache_write);

        /* not the protocol */
        LX_ASSERT_EQ(LX_EPARSE,
                     lx_provider_bedrock.parse_response(&call, LX_STR("{}"), a, &r, &err));
        LX_ASSERT_EQ(LX_EPARSE,
                     lx_provider_bedrock.parse_response(&call, LX_STR("[1]"), a, &r, &err));
        LX_ASSERT_EQ(LX_EPARSE, lx_provider_bedrock.parse_response(
                                    &call, LX_STR("{\"output\":{\"message\":{\"content\":[7]}}}"),
                                    a, &r, &err));
        LX_ASSERT_EQ(LX_EPARSE, lx_provider_bedrock.parse_response(&call, LX_STR(""), a, &r, &err));
        LX_ASSERT_EQ(502, err.http_status);

        /* CountTokens */
        call.endpoint = LX_EP_COUNT_TOKENS;
        LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_response(
                                &call, LX_STR("{\"inputTokens\":42}"), a, &r, &err));
        LX_ASSERT_EQ(42, r.usage.input);
    }
    lx_arena_free(a);
    return 0;
}

/* ---- errors ---------------------------------------------------------------------------- */

/* Parses a raw .http fixture: status, headers (into h, slices into text), body. */
static int bd_parse_http(char *text, size_t len, int *status, struct lx_header *h, size_t *n,
                         struct lx_str *body)
{
    char *p = text, *end = text + len, *eol;

    *n = 0;
    eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL || strncmp(p, "HTTP/1.1 ", 9) != 0)
        return -1;
    *status = (int)strtol(p + 9, NULL, 10);
    p = eol + 1;
    while (p < end) {
        char *colon;
        size_t l;

        eol = memchr(p, '\n', (size_t)(end - p));
        l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (l == 0) {
            p = eol != NULL ? eol + 1 : end;
            break;
        }
        colon = memchr(p, ':', l);
        if (colon == NULL || *n >= 16)
            return -1;
        h[*n].name = lx_str_make(p, (size_t)(colon - p));
        h[*n].value = lx_str_trim(lx_str_make(colon + 1, l - (size_t)(colon + 1 - p)));
        (*n)++;
        p = eol != NULL ? eol + 1 : end;
    }
    *body = lx_str_make(p, (size_t)(end - p));
    return 0;
}

LX_TEST(bedrock_map_error_fixtures)
{
    static const struct {
        const char *file;
        int status;
        enum lx_err_type type;
        bool retryable;
        enum lx_key_action key;
        const char *code, *msg_start;
    } cases[] = {
        {"error_400_validation.http", 400, LX_ERRT_CONTEXT_LENGTH, false, LX_KEY_KEEP,
         "ValidationException", "Input is too long"},
        {"error_403_access_denied.http", 403, LX_ERRT_PERMISSION, true, LX_KEY_DISABLE,
         "AccessDeniedException", "You don't have access"},
        {"error_403_signature.http", 403, LX_ERRT_AUTHENTICATION, true, LX_KEY_DISABLE,
         "InvalidSignatureException", "The request signature"},
        {"error_429_throttling.http", 429, LX_ERRT_RATE_LIMIT, true, LX_KEY_COOLDOWN,
         "ThrottlingException", "Too many requests"},
    };
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call = bd_call(&conf, "m", "AKIDEXAMPLE:" BD_SECRET, false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);

    LX_ASSERT(a != NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256];
        size_t len, n;
        char *text;
        int status;
        struct lx_header h[16];
        struct lx_str body;
        struct lx_upstream_error e;

        snprintf(path, sizeof(path), "protocols/fixtures/bedrock/%s", cases[i].file);
        text = lx_test_read_file(lx_test_shared(path), &len);
        LX_ASSERT(text != NULL);
        LX_ASSERT_EQ(0, bd_parse_http(text, len, &status, h, &n, &body));
        lx_provider_bedrock.map_error(&call, status, h, n, body, a, &e);
        LX_ASSERT_EQ(cases[i].status, e.status);
        LX_ASSERT_EQ(cases[i].type, e.type);
        LX_ASSERT_EQ(cases[i].retryable, e.retryable);
        LX_ASSERT_EQ(cases[i].key, e.key_action);
        LX_ASSERT_STR(e.code, cases[i].code);
        LX_ASSERT(lx_str_starts_with(e.message, lx_str_cstr(cases[i].msg_start)));
        free(text);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(bedrock_map_error_cases)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "m", "AKIDEXAMPLE:" BD_SECRET ":SESSIONTOKEN123", false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_error e;
    struct lx_header h[2];

    LX_ASSERT(a != NULL);
    /* name from the header, Retry-After honoured */
    h[0] =
        (struct lx_header){LX_STR("X-Amzn-Errortype"), LX_STR("ModelNotReadyException:http://x")};
    h[1] = (struct lx_header){LX_STR("Retry-After"), LX_STR("3")};
    lx_provider_bedrock.map_error(&call, 429, h, 2, LX_STR("{\"message\":\"not ready\"}"), a, &e);
    LX_ASSERT_EQ(LX_ERRT_OVERLOADED, e.type);
    LX_ASSERT(e.retryable);
    LX_ASSERT_EQ(LX_KEY_KEEP, e.key_action);
    LX_ASSERT_EQ(3000, e.retry_after_ms);

    h[0].value = LX_STR("ServiceUnavailableException");
    lx_provider_bedrock.map_error(&call, 503, h, 1, LX_STR("{\"message\":\"x\"}"), a, &e);
    LX_ASSERT_EQ(LX_ERRT_OVERLOADED, e.type);
    LX_ASSERT(e.retryable);

    h[0].value = LX_STR("ModelTimeoutException");
    lx_provider_bedrock.map_error(&call, 408, h, 1, LX_STR("{\"message\":\"x\"}"), a, &e);
    LX_ASSERT_EQ(LX_ERRT_TIMEOUT, e.type);
    LX_ASSERT(e.retryable);

    h[0].value = LX_STR("UnrecognizedClientException");
    lx_provider_bedrock.map_error(&call, 403, h, 1,
                                  LX_STR("{\"message\":\"The security token included in the "
                                         "request is invalid.\"}"),
                                  a, &e);
    LX_ASSERT_EQ(LX_ERRT_AUTHENTICATION, e.type);
    LX_ASSERT_EQ(LX_KEY_DISABLE, e.key_action);

    /* no header: the name comes from __type; "too many input tokens" is a context overflow */
    lx_provider_bedrock.map_error(&call, 400, NULL, 0,
                                  LX_STR("{\"__type\":\"com.amazon.bedrock#ValidationException\","
                                         "\"Message\":\"too many input tokens\"}"),
                                  a, &e);
    LX_ASSERT_STR(e.code, "ValidationException");
    LX_ASSERT_EQ(LX_ERRT_CONTEXT_LENGTH, e.type);
    LX_ASSERT(!e.retryable);

    /* a 403 whose message mentions the signature, with no name */
    lx_provider_bedrock.map_error(&call, 403, NULL, 0,
                                  LX_STR("{\"message\":\"Signature expired: 20250115T120000Z\"}"),
                                  a, &e);
    LX_ASSERT_EQ(LX_ERRT_AUTHENTICATION, e.type);

    /* a message that echoes the credential is withheld; the canonical request is cut */
    lx_provider_bedrock.map_error(&call, 403, NULL, 0,
                                  LX_STR("{\"message\":\"bad\\nx-amz-security-token:"
                                         "SESSIONTOKEN123\"}"),
                                  a, &e);
    LX_ASSERT(lx_str_starts_with(e.message, LX_STR("(the provider's message quoted a credential")));
    /* an authentication message keeps only its first line */
    lx_provider_bedrock.map_error(&call, 403, NULL, 0,
                                  LX_STR("{\"message\":\"The request signature we calculated does "
                                         "not match\\n\\nThe Canonical String for this request "
                                         "should have been\\n'POST'\"}"),
                                  a, &e);
    LX_ASSERT_STR(e.message, "The request signature we calculated does not match");

    /* not JSON at all: status decides, text kept bounded */
    lx_provider_bedrock.map_error(&call, 502, NULL, 0, LX_STR("<html>bad gateway</html>"), a, &e);
    LX_ASSERT_EQ(LX_ERRT_SERVER, e.type);
    LX_ASSERT(e.retryable);
    LX_ASSERT_STR(e.message, "<html>bad gateway</html>");
    lx_provider_bedrock.map_error(&call, 500, NULL, 0, LX_STR_NULL, a, &e);
    LX_ASSERT_EQ(500, e.status);
    lx_arena_free(a);
    return 0;
}

/* ---- request building ------------------------------------------------------------------- */

/* The IR of fixtures/bedrock/converse_request.json, as a front door would decode it. */
struct bd_ir {
    struct lx_part sys[1], u1[2], a1[2], t1[1];
    struct lx_msg msgs[4];
    struct lx_tool tools[1];
    struct lx_str stop[1];
    struct lx_chat_req req;
};

static void bd_ir_init(struct bd_ir *x)
{
    memset(x, 0, sizeof(*x));
    x->sys[0] = (struct lx_part){.type = LX_PART_TEXT,
                                 .text = LX_STR("You are a concise weather assistant.")};
    x->u1[0] = (struct lx_part){.type = LX_PART_TEXT,
                                .text = LX_STR("What is the weather in the city shown in this "
                                               "picture?")};
    x->u1[1] = (struct lx_part){
        .type = LX_PART_IMAGE, .media_type = LX_STR("image/png"), .data = LX_STR("iVBORw0KGgo=")};
    x->a1[0] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("That looks like Paris.")};
    x->a1[1] = (struct lx_part){.type = LX_PART_TOOL_CALL,
                                .id = LX_STR("tooluse_abc123"),
                                .name = LX_STR("get_weather"),
                                .args = LX_STR("{\"city\":\"Paris\"}")};
    x->t1[0] = (struct lx_part){.type = LX_PART_TOOL_RESULT,
                                .id = LX_STR("tooluse_abc123"),
                                .text = LX_STR("{\"temp_c\":18,\"sky\":\"cloudy\"}")};
    x->msgs[0] = (struct lx_msg){LX_ROLE_SYSTEM, x->sys, 1, LX_STR_NULL};
    x->msgs[1] = (struct lx_msg){LX_ROLE_USER, x->u1, 2, LX_STR_NULL};
    x->msgs[2] = (struct lx_msg){LX_ROLE_ASSISTANT, x->a1, 2, LX_STR_NULL};
    x->msgs[3] = (struct lx_msg){LX_ROLE_TOOL, x->t1, 1, LX_STR_NULL};
    x->tools[0] = (struct lx_tool){
        .name = LX_STR("get_weather"),
        .description = LX_STR("Get current weather for a city"),
        .parameters = LX_STR("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                             "\"required\":[\"city\"]}")};
    x->stop[0] = LX_STR("\n\nHuman:");
    lx_chat_req_init(&x->req);
    x->req.model = LX_STR("claude");
    x->req.msgs = x->msgs;
    x->req.n_msgs = 4;
    x->req.tools = x->tools;
    x->req.n_tools = 1;
    x->req.tool_choice = LX_TOOL_CHOICE_AUTO;
    x->req.max_tokens = 1024;
    x->req.temperature = (struct lx_num){LX_STR("0.7"), 0.7};
    x->req.top_p = (struct lx_num){LX_STR("0.9"), 0.9};
    x->req.top_k = 250;
    x->req.stop = x->stop;
    x->req.n_stop = 1;
}

static const struct lx_header *bd_find(const struct lx_upstream_req *r, const char *name)
{
    return lx_header_find(r->headers, r->n_headers, lx_str_cstr(name));
}

/* JSON path lookups for the round trip: "messages.2.content.1.toolUse.input". */
static int bd_path(const struct lx_json *doc, const char *path)
{
    int cur = 0;
    char seg[64];

    while (*path != '\0' && cur >= 0) {
        size_t n = strcspn(path, ".");

        if (n >= sizeof(seg))
            return -1;
        memcpy(seg, path, n);
        seg[n] = '\0';
        path += n + (path[n] == '.');
        if (lx_json_type(doc, cur) == LX_JSON_ARRAY) {
            long idx = strtol(seg, NULL, 10);
            int e = lx_json_first(doc, cur);

            while (idx-- > 0 && e >= 0)
                e = lx_json_sibling(doc, cur, e);
            cur = e;
        } else {
            cur = lx_json_get(doc, cur, lx_str_cstr(seg));
        }
    }
    return cur;
}

static bool bd_is(const struct lx_json *doc, const char *path, const char *raw)
{
    return lx_str_eq(lx_json_raw(doc, bd_path(doc, path)), lx_str_cstr(raw));
}

LX_TEST(bedrock_build_converse_round_trip)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call = bd_call(&conf, "anthropic.claude-3-5-sonnet-20240620-v1:0",
                                           "AKIDEXAMPLE:" BD_SECRET, false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req r;
    struct lx_err err;
    struct lx_json doc;
    struct bd_ir x;

    LX_ASSERT(a != NULL);
    bd_ir_init(&x);
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.method, "POST");
    LX_ASSERT_STR(r.url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                         "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    LX_ASSERT_STR(bd_find(&r, "Content-Type")->value, "application/json");
    LX_ASSERT_STR(bd_find(&r, "Accept")->value, "application/json");
    LX_ASSERT_STR(bd_find(&r, "X-Amz-Date")->value, "20250115T120000Z");

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
    LX_ASSERT(bd_is(&doc, "system.0.text", "\"You are a concise weather assistant.\""));
    LX_ASSERT_EQ(3, lx_json_count(&doc, bd_path(&doc, "messages")));
    LX_ASSERT(bd_is(&doc, "messages.0.role", "\"user\""));
    LX_ASSERT(bd_is(&doc, "messages.0.content.1.image.format", "\"png\""));
    LX_ASSERT(bd_is(&doc, "messages.0.content.1.image.source.bytes", "\"iVBORw0KGgo=\""));
    LX_ASSERT(bd_is(&doc, "messages.1.role", "\"assistant\""));
    LX_ASSERT(bd_is(&doc, "messages.1.content.0.text", "\"That looks like Paris.\""));
    LX_ASSERT(bd_is(&doc, "messages.1.content.1.toolUse.toolUseId", "\"tooluse_abc123\""));
    LX_ASSERT(bd_is(&doc, "messages.1.content.1.toolUse.name", "\"get_weather\""));
    LX_ASSERT(bd_is(&doc, "messages.1.content.1.toolUse.input", "{\"city\":\"Paris\"}"));
    LX_ASSERT(bd_is(&doc, "messages.2.role", "\"user\""));
    LX_ASSERT(bd_is(&doc, "messages.2.content.0.toolResult.toolUseId", "\"tooluse_abc123\""));
    LX_ASSERT(bd_is(&doc, "messages.2.content.0.toolResult.content.0.text",
                    "\"{\\\"temp_c\\\":18,\\\"sky\\\":\\\"cloudy\\\"}\""));
    LX_ASSERT_EQ(-1, bd_path(&doc, "messages.2.content.0.toolResult.status"));
    LX_ASSERT(bd_is(&doc, "inferenceConfig.maxTokens", "1024"));
    LX_ASSERT(bd_is(&doc, "inferenceConfig.temperature", "0.7"));
    LX_ASSERT(bd_is(&doc, "inferenceConfig.topP", "0.9"));
    LX_ASSERT(bd_is(&doc, "inferenceConfig.stopSequences.0", "\"\\n\\nHuman:\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.0.toolSpec.name", "\"get_weather\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.0.toolSpec.inputSchema.json.required.0", "\"city\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.toolChoice.auto", "{}"));
    LX_ASSERT(bd_is(&doc, "additionalModelRequestFields.top_k", "250"));

    /* consecutive same-role turns merge; an error tool result; named and required choice;
     * thinking; bad tool arguments become {} */
    {
        struct lx_part extra = {.type = LX_PART_TEXT, .text = LX_STR("and now?")};
        struct lx_msg m5 = {LX_ROLE_USER, &extra, 1, LX_STR_NULL};
        struct lx_msg msgs[5];

        memcpy(msgs, x.msgs, sizeof(x.msgs));
        msgs[4] = m5;
        x.req.msgs = msgs;
        x.req.n_msgs = 5;
        x.t1[0].is_error = true;
        x.a1[1].args = LX_STR("not json");
        x.req.tool_choice = LX_TOOL_CHOICE_NAMED;
        x.req.tool_choice_name = LX_STR("get_weather");
        x.req.thinking = LX_THINKING_ENABLED;
        x.req.thinking_budget = 2048;
        x.req.max_tokens = 4096;
        LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
        LX_ASSERT_EQ(3, lx_json_count(&doc, bd_path(&doc, "messages")));
        LX_ASSERT(bd_is(&doc, "messages.2.content.0.toolResult.status", "\"error\""));
        LX_ASSERT(bd_is(&doc, "messages.2.content.1.text", "\"and now?\""));
        LX_ASSERT(bd_is(&doc, "messages.1.content.1.toolUse.input", "{}"));
        LX_ASSERT(bd_is(&doc, "toolConfig.toolChoice.tool.name", "\"get_weather\""));
        LX_ASSERT(bd_is(&doc, "additionalModelRequestFields.thinking.type", "\"enabled\""));
        LX_ASSERT(bd_is(&doc, "additionalModelRequestFields.thinking.budget_tokens", "2048"));

        /* tool_choice none with tool history: tools stay (Bedrock requires toolConfig), no
         * toolChoice */
        x.req.tool_choice = LX_TOOL_CHOICE_NONE;
        LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
        LX_ASSERT(bd_path(&doc, "toolConfig.tools") >= 0);
        LX_ASSERT_EQ(-1, bd_path(&doc, "toolConfig.toolChoice"));
        /* no tools at all but tool history: a placeholder keeps Bedrock happy */
        x.req.n_tools = 0;
        LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
        LX_ASSERT(bd_is(&doc, "toolConfig.tools.0.toolSpec.name", "\"llmux_no_tools\""));
        x.req.msgs = x.msgs;
    }
    lx_arena_free(a);
    return 0;
}

/* The Authorization header of a built request, recomputed with sigv4.h from the request's own
 * URL, headers and body. */
LX_TEST(bedrock_build_sigv4)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-sonnet-20240620-v1:0", "AKIDEXAMPLE:" BD_SECRET, true);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req r;
    struct lx_err err;
    struct bd_ir x;
    struct lx_buf out = LX_BUF_INIT(1 << 16), cr = LX_BUF_INIT(1 << 16);
    struct lx_sigv4_result res;
    const struct lx_header *auth;
    static const char path[] = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream";
    struct lx_header signed_h[2] = {
        {LX_STR_INIT("Content-Type"), LX_STR_INIT("application/json")},
        {LX_STR_INIT("Accept"), LX_STR_INIT("application/vnd.amazon.eventstream")},
    };

    LX_ASSERT(a != NULL);
    bd_ir_init(&x);
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.url, "https://bedrock-runtime.us-east-1.amazonaws.com"
                         "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
    LX_ASSERT_STR(bd_find(&r, "Accept")->value, "application/vnd.amazon.eventstream");
    auth = bd_find(&r, "Authorization");
    LX_ASSERT(auth != NULL);
    LX_ASSERT(lx_str_starts_with(
        auth->value, LX_STR("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/"
                            "bedrock/aws4_request, SignedHeaders=accept;content-type;"
                            "host;x-amz-date, Signature=")));
    LX_ASSERT_EQ(strlen("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/bedrock/"
                        "aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, "
                        "Signature=") +
                     64,
                 auth->value.len);
    LX_ASSERT(strstr(auth->value.ptr, BD_SECRET) == NULL);
    {
        struct lx_sigv4_input in = {
            .method = LX_STR("POST"),
            .host = LX_STR("bedrock-runtime.us-east-1.amazonaws.com"),
            .path = lx_str_cstr(path),
            .headers = signed_h,
            .n_headers = 2,
            .payload = r.body,
            .region = LX_STR("us-east-1"),
            .service = LX_STR("bedrock"),
            .access_key_id = LX_STR("AKIDEXAMPLE"),
            .secret_key = LX_STR(BD_SECRET),
            .time = BD_TIME,
        };

        LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &out, &res));
        LX_ASSERT_EQ(2, res.n);
        LX_ASSERT(lx_str_eq(res.headers[1].value, auth->value));
        /* the canonical URI encodes the model id again: %3A -> %253A */
        LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
        LX_ASSERT(strstr(cr.ptr, "\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/"
                                 "converse-stream\n") != NULL);
    }
    lx_buf_release(&out);
    lx_buf_release(&cr);

    /* session token: signed and sent */
    call.key = LX_STR("AKIDEXAMPLE:" BD_SECRET ":TOKEN");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(bd_find(&r, "X-Amz-Security-Token")->value, "TOKEN");
    LX_ASSERT(strstr(bd_find(&r, "Authorization")->value.ptr, "x-amz-security-token") != NULL);

    /* Bedrock API key: Bearer, no signature */
    call.key = LX_STR("ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(bd_find(&r, "Authorization")->value, "Bearer ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl");
    LX_ASSERT(bd_find(&r, "X-Amz-Date") == NULL);

    /* ARN model ids: '/' and ':' encoded once on the wire */
    call.model = LX_STR("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                         "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                         "application-inference-profile%2Fabc/converse-stream");
    lx_arena_free(a);
    return 0;
}

LX_TEST(bedrock_build_region_and_refusals)
{
    struct lx_config_provider conf =
        bd_conf("bedrock", NULL, "https://bedrock-runtime.eu-west-3.amazonaws.com:443/");
    struct lx_provider_call call = bd_call(&conf, "amazon.nova-pro-v1:0", "AKID:SECRET", false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req r;
    struct lx_err err;
    struct bd_ir x;
    struct lx_part url_img = {.type = LX_PART_IMAGE, .url = LX_STR("https://example.com/a.png")};
    struct lx_part audio = {
        .type = LX_PART_AUDIO, .media_type = LX_STR("audio/wav"), .data = LX_STR("AAAA")};
    struct lx_msg bad = {LX_ROLE_USER, &url_img, 1, LX_STR_NULL};

    LX_ASSERT(a != NULL);
    bd_ir_init(&x);
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.url, "https://bedrock-runtime.eu-west-3.amazonaws.com:443/model/"
                         "amazon.nova-pro-v1%3A0/converse");
    LX_ASSERT(strstr(bd_find(&r, "Authorization")->value.ptr, "/eu-west-3/bedrock/") != NULL);

    /* http(s) image URLs: 400 */
    x.req.msgs = &bad;
    x.req.n_msgs = 1;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_EQ(400, err.http_status);
    bad.parts = &audio;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_EQ(400, err.http_status);

    /* no region anywhere and a key to sign with: a configuration error, no key in it */
    conf.base_url = "http://127.0.0.1:9000";
    bd_ir_init(&x);
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT(strstr(err.msg, "SECRET") == NULL);
    conf.region = "us-west-2";
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.url, "http://127.0.0.1:9000/model/amazon.nova-pro-v1%3A0/converse");
    conf.region = "us-west-2/../x";
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    /* neither base_url nor region */
    conf.base_url = NULL;
    conf.region = NULL;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));

    /* CountTokens: {"input":{"converse":{…}}}, no inferenceConfig */
    conf.region = "us-east-1";
    call.endpoint = LX_EP_COUNT_TOKENS;
    if (lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err) != LX_OK)
        LX_FAIL("count tokens: %s", err.msg);
    LX_ASSERT(lx_str_ends_with(r.url, LX_STR("/count-tokens")));
    LX_ASSERT(lx_str_starts_with(r.body, LX_STR("{\"input\":{\"converse\":{\"system\":")));
    LX_ASSERT(strstr(r.body.ptr, "inferenceConfig") == NULL);
    lx_arena_free(a);
    return 0;
}

LX_TEST(bedrock_build_invoke_anthropic)
{
    struct lx_config_provider conf = bd_conf("bedrock-invoke", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-haiku-20241022-v1:0", "AKIDEXAMPLE:" BD_SECRET, true);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req r;
    struct lx_err err;
    struct lx_json doc;
    struct bd_ir x;

    LX_ASSERT(a != NULL);
    bd_ir_init(&x);
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_STR(r.url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                         "anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke-with-response-stream");
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
    LX_ASSERT(bd_is(&doc, "anthropic_version", "\"bedrock-2023-05-31\""));
    LX_ASSERT_EQ(-1, bd_path(&doc, "model"));
    LX_ASSERT_EQ(-1, bd_path(&doc, "stream"));
    LX_ASSERT(bd_is(&doc, "max_tokens", "1024"));
    /* a non-Anthropic model on an invoke provider still goes through Converse */
    call.model = LX_STR("amazon.nova-pro-v1:0");
    call.stream = false;
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT(lx_str_ends_with(r.url, LX_STR("/converse")));
    lx_arena_free(a);
    return 0;
}

LX_TEST(bedrock_json_mode)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call =
        bd_call(&conf, "anthropic.claude-3-5-haiku-20241022-v1:0", "", false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20), *scratch = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req r;
    struct lx_chat_resp resp;
    struct lx_err err;
    struct lx_json doc;
    struct lx_stream_state st;
    struct lx_pt_summary s;
    struct bd_ir x;
    static const char answer[] =
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"toolUse\":"
        "{\"toolUseId\":\"tooluse_1\",\"name\":\"llmux_json_output\",\"input\":"
        "{\"city\": \"Paris\"}}}]}},\"stopReason\":\"tool_use\"}";

    LX_ASSERT(a != NULL && scratch != NULL);
    bd_ir_init(&x);
    x.req.response_format = LX_RF_JSON_SCHEMA;
    x.req.schema = LX_STR("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.0.toolSpec.name", "\"get_weather\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.1.toolSpec.name", "\"llmux_json_output\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.1.toolSpec.inputSchema.json.properties.city.type",
                    "\"string\""));
    LX_ASSERT(bd_is(&doc, "toolConfig.toolChoice.tool.name", "\"llmux_json_output\""));
    x.req.response_format = LX_RF_JSON_OBJECT;
    x.req.n_tools = 0;
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err));
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, r.body.ptr, r.body.len));
    LX_ASSERT(bd_is(&doc, "toolConfig.tools.0.toolSpec.inputSchema.json", "{\"type\":\"object\"}"));
    LX_ASSERT_EQ(1, lx_json_count(&doc, bd_path(&doc, "toolConfig.tools")));

    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_response(
                            &call, lx_str_make(answer, sizeof(answer) - 1), a, &resp, &err));
    LX_ASSERT_EQ(1, resp.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, resp.choices[0].message.parts[0].type);
    LX_ASSERT_STR(resp.choices[0].message.parts[0].text, "{\"city\":\"Paris\"}");
    LX_ASSERT_EQ(LX_FINISH_STOP, resp.choices[0].finish);

    memset(&st, 0, sizeof(st));
    st.call = &call;
    st.a = a;
    st.scratch = scratch;
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "contentBlockStart",
                                 "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":"
                                 "\"t\",\"name\":\"llmux_json_output\"}}}",
                                 false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "contentBlockDelta",
                                 "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":"
                                 "\"{\\\"a\\\":1}\"}}}",
                                 false, &s));
    LX_ASSERT_EQ(LX_OK, bd_event(&st, "messageStop", "{\"stopReason\":\"tool_use\"}", false, &s));
    LX_ASSERT_STREQ(lx_pt_lines(&s), "START id=\"\" model=\"\"\n"
                                     "TEXT c=0 \"{\\\"a\\\":1}\"\n"
                                     "FINISH c=0 stop raw=\"tool_use\" seq=\"\"\n");
    lx_pt_summary_release(&s);
    lx_arena_free(scratch);
    lx_arena_free(a);
    return 0;
}

/* Fail the 1st, 2nd, ... fallible allocation in turn (arena blocks, lx_buf, the signer's
 * scratch): every call must come back with LX_ENOMEM (or succeed), never crash or leak. */
LX_TEST(bedrock_oom)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call = bd_call(&conf, "anthropic.claude-3-5-sonnet-20240620-v1:0",
                                           "AKIDEXAMPLE:" BD_SECRET ":TOKEN", false);
    struct bd_ir x;
    size_t len;
    char *answer = lx_test_read_file(BD_FIX("converse_response_tool_use.json"), &len);
    int done = 0;

    LX_ASSERT(answer != NULL);
    bd_ir_init(&x);
    for (long n = 0; n < 10000 && done < 2; n++) {
        struct lx_arena *a = lx_arena_new(256, 1u << 20);
        struct lx_upstream_req r;
        struct lx_chat_resp resp;
        struct lx_err err;
        int rc1, rc2;

        if (a == NULL)
            continue;
        lx_alloc_fail_after(n);
        rc1 = lx_provider_bedrock.build_request(&call, &x.req, a, &r, &err);
        rc2 = lx_provider_bedrock.parse_response(&call, lx_str_make(answer, len), a, &resp, &err);
        lx_alloc_fail_after(-1);
        lx_arena_free(a);
        if (rc1 != LX_OK)
            LX_ASSERT_EQ(LX_ENOMEM, rc1);
        if (rc2 != LX_OK)
            LX_ASSERT_EQ(LX_ENOMEM, rc2);
        done = rc1 == LX_OK && rc2 == LX_OK ? done + 1 : 0;
    }
    LX_ASSERT_EQ(2, done);
    free(answer);
    return 0;
}

/* ---- embeddings --------------------------------------------------------------------------- */

LX_TEST(bedrock_embeddings)
{
    struct lx_config_provider conf = bd_conf("bedrock", "us-east-1", NULL);
    struct lx_provider_call call = bd_call(&conf, "amazon.titan-embed-text-v2:0", "AK:SK", false);
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_str inputs[2] = {LX_STR("hello"), LX_STR("world")};
    struct lx_embed_req req = {
        .model = LX_STR("m"), .inputs = inputs, .n_inputs = 1, .dimensions = 256};
    struct lx_upstream_req r;
    struct lx_embed_resp e;
    struct lx_err err;

    LX_ASSERT(a != NULL);
    call.endpoint = LX_EP_EMBEDDINGS;
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    LX_ASSERT_STR(r.body, "{\"inputText\":\"hello\",\"dimensions\":256}");
    LX_ASSERT(lx_str_ends_with(r.url, LX_STR("/model/amazon.titan-embed-text-v2%3A0/invoke")));
    req.n_inputs = 2;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    LX_ASSERT_EQ(400, err.http_status);
    LX_ASSERT(strstr(err.msg, "one input") != NULL);
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_embeddings(
                            &call, LX_STR("{\"embedding\":[0.1,-0.2],\"inputTextTokenCount\":3}"),
                            a, &e, &err));
    LX_ASSERT_EQ(1, e.n_vectors);
    LX_ASSERT_STR(e.vectors[0], "[0.1,-0.2]");
    LX_ASSERT_EQ(3, e.usage.input);

    call.model = LX_STR("amazon.titan-embed-text-v1");
    req.n_inputs = 1;
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    req.dimensions = -1;
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    LX_ASSERT_STR(r.body, "{\"inputText\":\"hello\"}");
    req.n_inputs = 2;

    call.model = LX_STR("cohere.embed-english-v3");
    req.dimensions = -1;
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    LX_ASSERT_STR(r.body, "{\"texts\":[\"hello\",\"world\"],\"input_type\":\"search_document\"}");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_embeddings(
                            &call,
                            LX_STR("{\"id\":\"x\",\"embeddings\":[[1,2],[3,4]],"
                                   "\"texts\":[\"hello\",\"world\"]}"),
                            a, &e, &err));
    LX_ASSERT_EQ(2, e.n_vectors);
    LX_ASSERT_STR(e.vectors[1], "[3,4]");
    LX_ASSERT_EQ(LX_OK, lx_provider_bedrock.parse_embeddings(
                            &call, LX_STR("{\"embeddings\":{\"float\":[[5]]}}"), a, &e, &err));
    LX_ASSERT_STR(e.vectors[0], "[5]");
    LX_ASSERT_EQ(LX_EPARSE,
                 lx_provider_bedrock.parse_embeddings(&call, LX_STR("{\"x\":1}"), a, &e, &err));
    call.model = LX_STR("meta.llama3");
    LX_ASSERT_EQ(LX_EINVAL, lx_provider_bedrock.build_embeddings(&call, &req, a, &r, &err));
    lx_arena_free(a);
    return 0;
}
