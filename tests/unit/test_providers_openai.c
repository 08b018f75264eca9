/* test_providers_openai.c - the OpenAI-compatible provider adapter (src/providers/openai.c):
 * every recorded stream of fixtures/openai, compat, mistral, openrouter (and Ollama's /v1)
 * replayed at every split point, every error fixture classified, non-stream answers parsed,
 * and IR -> request body round trips read back with the JSON tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "providers/openai_wire.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

static const char *oai_find(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);

    if (p == NULL)
        return NULL;
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, lit, l) == 0)
            return p + i;
    return NULL;
}

static struct lx_config_provider oai_conf(const char *type)
{
    struct lx_config_provider c;

    memset(&c, 0, sizeof(c));
    c.name = "p";
    c.type = type;
    c.proto = LX_CONFIG_PROTO_OPENAI;
    c.base_url = "https://api.example.com/v1";
    return c;
}

static struct lx_str oai_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

/* ---- streams -------------------------------------------------------------------------- */

static const struct oai_stream_case {
    const char *path;
    const char *text;     /* choice 0, concatenated */
    size_t thinking_len;  /* bytes of THINKING */
    int n_tools;
    const char *id0, *name0, *args0;
    enum lx_finish finish;
    int64_t in, out, total, cache_read, reasoning;
    int done, errors;
} oai_streams[] = {
    {"protocols/fixtures/openai/chat_stream.sse",
     "Hi there! How can I help today? I can answer questions, explain concepts, help with writing "
     "or brainstorming, code, plan something, and more. Tell me what you\xe2\x80\x99" "d like to "
     "work on or a topic you\xe2\x80\x99re curious about.",
     0, 0, "", "", "", LX_FINISH_STOP, -1, -1, -1, -1, -1, 1, 0},
    {"protocols/fixtures/openai/chat_stream_include_usage.sse", "", 0, 0, "", "", "",
     LX_FINISH_LENGTH, 12, 100, 112, 0, 100, 1, 0},
    {"protocols/fixtures/openai/chat_stream_midstream_error.sse", "Hel", 0, 0, "", "", "",
     LX_FINISH_UNSET, -1, -1, -1, -1, -1, 0, 1},
    {"protocols/fixtures/openai/chat_stream_n2_logprobs.sse", "Yes", 0, 0, "", "", "",
     LX_FINISH_STOP, -1, -1, -1, -1, -1, 1, 0},
    {"protocols/fixtures/openai/chat_stream_parallel_tools_usage.sse", "", 0, 2, "call_aa11",
     "get_weather", "{\"city\": \"Paris\"}", LX_FINISH_TOOL_CALLS, 82, 46, 128, 0, 0, 1, 0},
    {"protocols/fixtures/openai/chat_stream_refusal.sse", "I'm sorry, I can't help with that.", 0,
     0, "", "", "", LX_FINISH_STOP, -1, -1, -1, -1, -1, 1, 0},
    {"protocols/fixtures/openai/chat_stream_tools.sse", "", 0, 1, "call_O17Uplv4lJvD6DVdIvFFeRMw",
     "test-tool", "{\"value\":\"Sparkle Day\"}", LX_FINISH_TOOL_CALLS, 53, 17, 70, -1, -1, 1, 0},
    {"protocols/fixtures/openai/completions_stream_include_usage.sse",
     " + fib(n-3) + fib(n-4)\n\ndef fibn(n):\n    if n <= 1:\n       ", 0, 0, "", "", "",
     LX_FINISH_LENGTH, 31, 25, 56, -1, -1, 1, 0},
    {"protocols/fixtures/compat/deepseek_stream_reasoning_tools.sse", "", 191, 1,
     "call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", "weather", "{\"location\": \"San Francisco\"}",
     LX_FINISH_TOOL_CALLS, 339, 83, 422, 320, 39, 1, 0},
    {"protocols/fixtures/compat/groq_stream_tools.sse", "", 0, 1, "tk85n1k4m", "weather", "{}",
     LX_FINISH_TOOL_CALLS, 210, 15, 225, -1, -1, 1, 0},
    {"protocols/fixtures/compat/moonshot_stream_reasoning.sse", "Hello!", 16, 0, "", "", "",
     LX_FINISH_STOP, 9, 12, 21, -1, 7, 1, 0},
    {"protocols/fixtures/compat/qwen_dashscope_stream_tools.sse", "", 0, 1,
     "call_eee11723464a4b9eb8cee71d", "weather", "{\"location\": \"San Francisco\"}",
     LX_FINISH_TOOL_CALLS, 295, 22, 317, 0, -1, 1, 0},
    /* xAI: completion_tokens 26 leaves out 227 reasoning tokens; the IR counts them in output */
    {"protocols/fixtures/compat/xai_stream_tools.sse", "", 1069, 1, "call_79382389", "weather",
     "{\"location\":\"San Francisco\"}", LX_FINISH_TOOL_CALLS, 307, 253, 560, 306, 227, 1, 0},
    {"protocols/fixtures/mistral/chat_stream.sse", "Hello, world! This is a test response.", 0, 0,
     "", "", "", LX_FINISH_STOP, 13, 8, 21, -1, -1, 1, 0},
    {"protocols/fixtures/mistral/chat_stream_tools.sse", "", 0, 1, "gSIMJiOkT", "weather",
     "{\"location\": \"San Francisco\"}", LX_FINISH_TOOL_CALLS, 124, 22, 146, -1, -1, 1, 0},
    {"protocols/fixtures/openrouter/chat_stream.sse", "Hello there!", 0, 0, "", "", "",
     LX_FINISH_STOP, 9, 3, 12, 0, 0, 1, 0},
    {"protocols/fixtures/openrouter/chat_stream_midstream_error.sse", "Hel", 0, 0, "", "", "",
     LX_FINISH_UNSET, -1, -1, -1, -1, -1, 0, 1},
    {"protocols/fixtures/ollama/openai_compat_stream_include_usage.sse", "The sky is blue.", 0, 0,
     "", "", "", LX_FINISH_STOP, 26, 5, 31, -1, -1, 1, 0},
};

static int oai_check_stream(const struct lx_provider_ops *ops, const struct lx_provider_call *call,
                            const struct oai_stream_case *c)
{
    struct lx_pt_summary s;
    char *raw;
    struct lx_str bytes = oai_read(c->path, &raw);
    int rc = 1;

    if (raw == NULL)
        LX_FAIL("cannot read %s", c->path);
    lx_pt_summary_init(&s);
    if (lx_pt_replay_all_splits(ops, call, bytes, bytes.len > 16384 ? 17 : 1, &s) != 0) {
        fprintf(stderr, "%s: transcripts differ across split points\n", c->path);
        goto out;
    }
#define OAI_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: %s failed\n%s", c->path, #cond, lx_pt_lines(&s));                 \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
    OAI_CHECK(s.n_start == 1);
    OAI_CHECK(strstr(lx_pt_lines(&s), "START id=\"\"") == NULL);
    OAI_CHECK(s.text.len == strlen(c->text) && memcmp(s.text.ptr, c->text, s.text.len) == 0);
    OAI_CHECK(s.thinking.len == c->thinking_len);
    OAI_CHECK(s.n_tools == c->n_tools);
    OAI_CHECK(strcmp(s.tools[0].id, c->id0) == 0);
    OAI_CHECK(strcmp(s.tools[0].name, c->name0) == 0);
    OAI_CHECK(s.tools[0].args.len == strlen(c->args0) &&
              memcmp(s.tools[0].args.ptr, c->args0, s.tools[0].args.len) == 0);
    OAI_CHECK(s.finish == c->finish);
    OAI_CHECK(s.usage.input == c->in && s.usage.output == c->out && s.usage.total == c->total);
    OAI_CHECK(s.usage.cache_read == c->cache_read && s.usage.reasoning == c->reasoning);
    OAI_CHECK(s.n_done == c->done && s.n_error == c->errors);
    OAI_CHECK(strstr(lx_pt_lines(&s), "END rc=OK") != NULL);
#undef OAI_CHECK
    rc = 0;
out:
    lx_pt_summary_release(&s);
    free(raw);
    return rc;
}

LX_TEST(test_providers_openai_streams)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};

    for (size_t i = 0; i < sizeof(oai_streams) / sizeof(oai_streams[0]); i++)
        if (oai_check_stream(&lx_provider_openai, &call, &oai_streams[i]) != 0)
            return 1;
    return 0;
}

static int oai_transcript(const char *rel, const char *want)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};
    struct lx_pt_summary s;
    char *raw;
    struct lx_str bytes = oai_read(rel, &raw);
    int same;

    if (raw == NULL)
        LX_FAIL("cannot read %s", rel);
    lx_pt_summary_init(&s);
    lx_pt_replay(&lx_provider_openai, &call, bytes, LX_PT_NO_SPLIT, &s);
    same = strcmp(lx_pt_lines(&s), want) == 0;
    if (!same)
        fprintf(stderr, "%s:\n--- got\n%s--- want\n%s", rel, lx_pt_lines(&s), want);
    lx_pt_summary_release(&s);
    free(raw);
    return same ? 0 : 1;
}

LX_TEST(test_providers_openai_stream_transcripts)
{
    /* Groq: a whole call in one chunk */
    if (oai_transcript("protocols/fixtures/compat/groq_stream_tools.sse",
                       "START id=\"chatcmpl-b610d559-f156-4aca-8827-24b4fe6af54f\" "
                       "model=\"llama-3.3-70b-versatile\"\n"
                       "TOOL c=0 i=0 id=\"tk85n1k4m\" name=\"weather\" args=\"{}\" sig=\"\"\n"
                       "FINISH c=0 tool_calls raw=\"tool_calls\" seq=\"\"\n"
                       "USAGE in=210 out=15 total=225 cache_read=-1 cache_write=-1 reasoning=-1\n"
                       "DONE\nEND rc=OK done=1 failed=0\n") != 0)
        return 1;
    /* Qwen: "id":"" on later fragments is not a new call; the empty trailing fragment says
     * nothing */
    if (oai_transcript(
            "protocols/fixtures/compat/qwen_dashscope_stream_tools.sse",
            "START id=\"chatcmpl-8e243c57-23b3-9db2-a02e-e3c53929c368\" model=\"qwen3-max\"\n"
            "TOOL c=0 i=0 id=\"call_eee11723464a4b9eb8ce"
            "e71d\" name=\"weather\" args=\"\" sig=\"\"\n"
            "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{\\\""
            "location\\\": \\\"San Francisco\" sig=\"\"\n"
            "TOOL c=0 i=0 id=\"\" name=\"\" args=\"\\\"}\" sig=\"\"\n"
            "FINISH c=0 tool_calls raw=\"tool_calls\" seq=\"\"\n"
            "USAGE in=295 out=22 total=317 cache_read=0 cache_write=-1 reasoning=-1\n"
            "DONE\nEND rc=OK done=1 failed=0\n") != 0)
        return 1;
    /* Mistral: no index, usage on the finish chunk */
    if (oai_transcript("protocols/fixtures/mistral/chat_stream_tools.sse",
                       "START id=\"b3999b8c93e04e11bcbff7bcab82"
                       "9667\" model=\"mistral-small-latest\"\n"
                       "TOOL c=0 i=0 id=\"gSIMJiOkT\" name=\"weather\" "
                       "args=\"{\\\"location\\\": \\\"San Francisco\\\"}\" sig=\"\"\n"
                       "FINISH c=0 tool_calls raw=\"tool_calls\" seq=\"\"\n"
                       "USAGE in=124 out=22 total=146 cache_read=-1 cache_write=-1 reasoning=-1\n"
                       "DONE\nEND rc=OK done=1 failed=0\n") != 0)
        return 1;
    /* a stream error: ERROR, failed, no DONE */
    if (oai_transcript("protocols/fixtures/openai/chat_stream_midstream_error.sse",
                       "START id=\"chatcmpl-AbC123ref\" model=\"gpt-4o-2024-08-06\"\n"
                       "TEXT c=0 \"Hel\"\n"
                       "ERROR status=500 type=11 retryable=1 key=0 code=\"server_error\" "
                       "msg=\"The server had an error while processing your request. Sorry about "
                       "that!\"\nEND rc=OK done=0 failed=1\n") != 0)
        return 1;
    if (oai_transcript("protocols/fixtures/openrouter/chat_stream_midstream_error.sse",
                       "START id=\"gen-1736942400-AbCdEfGhIjKlM"
                       "nOpQrSt\" model=\"openai/gpt-4o-mini\"\n"
                       "TEXT c=0 \"Hel\"\n"
                       "ERROR status=500 type=11 retryable=1 key=0 code=\"server_error\" "
                       "msg=\"Provider disconnected\"\nEND rc=OK done=0 failed=1\n") != 0)
        return 1;
    /* parallel calls by index; n=2 choices keep their own index */
    if (oai_transcript("protocols/fixtures/openai/chat_stream_parallel_tools_usage.sse",
                       "START id=\"chatcmpl-AbC123parallel\" model=\"gpt-4o-2024-08-06\"\n"
                       "TOOL c=0 i=0 id=\"call_aa11\" name=\"get_weather\" args=\"\" sig=\"\"\n"
                       "TOOL c=0 i=0 id=\"\" name=\"\" args=\"{\\\"city\\\": \\\"Par\" sig=\"\"\n"
                       "TOOL c=0 i=0 id=\"\" name=\"\" args=\"is\\\"}\" sig=\"\"\n"
                       "TOOL c=0 i=1 id=\"call_bb22\" name=\"get_weather\" args=\"\" sig=\"\"\n"
                       "TOOL c=0 i=1 id=\"\" name=\"\" args=\"{\\\""
                       "city\\\": \\\"Tokyo\\\"}\" sig=\"\"\n"
                       "FINISH c=0 tool_calls raw=\"tool_calls\" seq=\"\"\n"
                       "USAGE in=82 out=46 total=128 cache_read=0 cache_write=-1 reasoning=0\n"
                       "DONE\nEND rc=OK done=1 failed=0\n") != 0)
        return 1;
    return oai_transcript("protocols/fixtures/openai/chat_stream_n2_logprobs.sse",
                          "START id=\"chatcmpl-AbC123n2\" model=\"gpt-4o-mini-2024-07-18\"\n"
                          "TEXT c=0 \"Yes\"\nTEXT c=1 \"No\"\n"
                          "FINISH c=0 stop raw=\"stop\" seq=\"\"\n"
                          "FINISH c=1 stop raw=\"stop\" seq=\"\"\nDONE\n"
                          "END rc=OK done=1 failed=0\n");
}

/* Hand-made chunks for the traps no recording shows. */
static int oai_replay_text(const char *sse, const char *want)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};
    struct lx_pt_summary s;
    int ok;

    lx_pt_summary_init(&s);
    if (lx_pt_replay_all_splits(&lx_provider_openai, &call, lx_str_cstr(sse), 1, &s) != 0) {
        lx_pt_summary_release(&s);
        LX_FAIL("split points differ");
    }
    ok = strcmp(lx_pt_lines(&s), want) == 0;
    if (!ok)
        fprintf(stderr, "--- got\n%s--- want\n%s", lx_pt_lines(&s), want);
    lx_pt_summary_release(&s);
    return ok ? 0 : 1;
}

LX_TEST(test_providers_openai_stream_traps)
{
    /* index-less whole calls (Mistral, several in one chunk): the next index each */
    if (oai_replay_text(
            "data: {\"id\":\"a\",\"model\":\"m\",\"choice"
            "s\":[{\"index\":0,\"delta\":{\"tool_calls\":["
            "{\"id\":\"AAAAAAAAA\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
            "{\"id\":\"BBBBBBBBB\",\"function\":{\"name\""
            ":\"g\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
            "\"finish_reason\":\"tool_calls\"}]}\n\n"
            "data: [DONE]\n\n",
            "START id=\"a\" model=\"m\"\n"
            "TOOL c=0 i=0 id=\"AAAAAAAAA\" name=\"f\" args=\"{}\" sig=\"\"\n"
            "TOOL c=0 i=1 id=\"BBBBBBBBB\" name=\"g\" args=\"{\\\"x\\\":1}\" sig=\"\"\n"
            "FINISH c=0 tool_calls raw=\"tool_calls\" seq=\"\"\nDONE\n"
            "END rc=OK done=1 failed=0\n") != 0)
        return 1;
    /* whole calls that all say index 0 but carry new ids: new calls */
    if (oai_replay_text(
            "data: {\"id\":\"a\",\"model\":\"m\",\"choice"
            "s\":[{\"index\":0,\"delta\":{\"tool_calls\":["
            "{\"index\":0,\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
            "\"arguments\":\"{}\"}}]}}]}\n\n"
            "data: {\"id\":\"a\",\"model\":\"m\",\"choice"
            "s\":[{\"index\":0,\"delta\":{\"tool_calls\":["
            "{\"index\":0,\"id\":\"c2\",\"function\":{\""
            "name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n"
            "data: {\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"code\":"
            "\"rate_limit_exceeded\"}}\n\n",
            "START id=\"a\" model=\"m\"\n"
            "TOOL c=0 i=0 id=\"c1\" name=\"f\" args=\"{}\" sig=\"\"\n"
            "TOOL c=0 i=1 id=\"c2\" name=\"g\" args=\"{}\" sig=\"\"\n"
            "ERROR status=429 type=6 retryable=1 key=1 code=\"rate_limit_exceeded\" "
            "msg=\"slow down\"\nEND rc=OK done=0 failed=1\n") != 0)
        return 1;
    /* Azure's empty first chunk, OpenRouter reasoning, Mistral content chunks, event: error */
    if (oai_replay_text(
            "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
            "\"prompt_filter_results\":[]}\n\n"
            "data: {\"id\":\"b\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
            "{\"reasoning\":\"hmm\",\"content\":null}}]}\n\n"
            "data: {\"id\":\"b\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":["
            "{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\",\"text\":\"deep\"}]},"
            "{\"type\":\"text\",\"text\":\"ok\"}]}}]}\n\n"
            "event: error\ndata: {\"message\":\"boom\",\"type\":\"server_error\"}\n\n",
            "START id=\"b\" model=\"m\"\n"
            "THINKING c=0 \"hmm\"\nTHINKING c=0 \"deep\"\nTEXT c=0 \"ok\"\n"
            "ERROR status=500 type=11 retryable=1 key=0 code=\"server_error\" msg=\"boom\"\n"
            "END rc=OK done=0 failed=1\n") != 0)
        return 1;
    /* not the protocol: EPARSE */
    {
        struct lx_config_provider conf = oai_conf("openai");
        struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};
        static const char *const bad[] = {
            "data: not json\n\n",
            "data: {\"id\":\"x\"}\n\n",
            "data: [1,2]\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":5}}]}\n\n",
            "data: {\"choices\":[{\"index\":99999,\"delta\":{}}]}\n\n",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            struct lx_pt_summary s;
            int rc;

            lx_pt_summary_init(&s);
            rc = lx_pt_replay(&lx_provider_openai, &call, lx_str_cstr(bad[i]), LX_PT_NO_SPLIT, &s);
            lx_pt_summary_release(&s);
            if (rc != LX_EPARSE)
                LX_FAIL("bad[%zu]: rc %d, want EPARSE", i, rc);
        }
    }
    return 0;
}

/* ---- errors --------------------------------------------------------------------------- */

static const struct oai_err_case {
    const char *path; /* NULL: body given */
    const char *body;
    int status;
    enum lx_err_type type;
    bool retryable;
    enum lx_key_action key;
    const char *code;
    const char *hdr_name, *hdr_value;
    int64_t retry_ms;
} oai_errors[] = {
    {"protocols/fixtures/openai/error_400_context_length.json", NULL, 400, LX_ERRT_CONTEXT_LENGTH,
     false, LX_KEY_KEEP, "context_length_exceeded", NULL, NULL, -1},
    {"protocols/fixtures/openai/error_400_empty_messages.json", NULL, 400,
     LX_ERRT_INVALID_REQUEST, false, LX_KEY_KEEP, "empty_array", NULL, NULL, -1},
    {"protocols/fixtures/openai/error_400_unsupported_parameter.json", NULL, 400,
     LX_ERRT_INVALID_REQUEST, false, LX_KEY_KEEP, "unsupported_parameter", NULL, NULL, -1},
    {"protocols/fixtures/openai/error_401_invalid_api_key.json", NULL, 401,
     LX_ERRT_AUTHENTICATION, true, LX_KEY_DISABLE, "invalid_api_key", NULL, NULL, -1},
    {"protocols/fixtures/openai/error_404_model_not_found.json", NULL, 404, LX_ERRT_NOT_FOUND,
     false, LX_KEY_KEEP, "model_not_found", NULL, NULL, -1},
    /* the recording's body is {}: the status alone says rate limit */
    {"protocols/fixtures/openai/error_429_insufficient_quota.json", NULL, 429, LX_ERRT_RATE_LIMIT,
     true, LX_KEY_COOLDOWN, "", "retry-after", "20", 20000},
    {NULL,
     "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\","
     "\"param\":null,\"code\":\"insufficient_quota\"}}",
     429, LX_ERRT_QUOTA, true, LX_KEY_DISABLE, "insufficient_quota", NULL, NULL, -1},
    {"protocols/fixtures/openai/error_429_rate_limit.json", NULL, 429, LX_ERRT_RATE_LIMIT, true,
     LX_KEY_COOLDOWN, "rate_limit_exceeded", "x-ratelimit-reset-tokens", "1.674s", 1674},
    {"protocols/fixtures/openai/error_500.json", NULL, 500, LX_ERRT_SERVER, true, LX_KEY_KEEP,
     "server_error", NULL, NULL, -1},
    {"protocols/fixtures/openrouter/error_402.json", NULL, 402, LX_ERRT_QUOTA, true,
     LX_KEY_DISABLE, "402", NULL, NULL, -1},
    {"protocols/fixtures/openrouter/error_429.json", NULL, 429, LX_ERRT_RATE_LIMIT, true,
     LX_KEY_COOLDOWN, "429", "Retry-After", "30", 30000},
    {"protocols/fixtures/openrouter/error_502_provider.json", NULL, 502, LX_ERRT_SERVER, true,
     LX_KEY_KEEP, "502", NULL, NULL, -1},
    {"protocols/fixtures/mistral/error_401.json", NULL, 401, LX_ERRT_AUTHENTICATION, true,
     LX_KEY_DISABLE, "", NULL, NULL, -1},
    {"protocols/fixtures/mistral/error_422.json", NULL, 422, LX_ERRT_INVALID_REQUEST, false,
     LX_KEY_KEEP, "invalid_request_error", NULL, NULL, -1},
    {"protocols/fixtures/azure/error_400_content_filter.json", NULL, 400,
     LX_ERRT_CONTENT_FILTER, false, LX_KEY_KEEP, "content_filter", NULL, NULL, -1},
    {"protocols/fixtures/azure/error_401.json", NULL, 401, LX_ERRT_AUTHENTICATION, true,
     LX_KEY_DISABLE, "401", NULL, NULL, -1},
    {"protocols/fixtures/azure/error_404_deployment.json", NULL, 404, LX_ERRT_NOT_FOUND, false,
     LX_KEY_KEEP, "DeploymentNotFound", NULL, NULL, -1},
    {"protocols/fixtures/azure/error_429.json", NULL, 429, LX_ERRT_RATE_LIMIT, true,
     LX_KEY_COOLDOWN, "429", "retry-after-ms", "6000", 6000},
    {NULL, "<html><body>502 Bad Gateway</body></html>", 502, LX_ERRT_SERVER, true, LX_KEY_KEEP,
     "", NULL, NULL, -1},
    {NULL, "", 503, LX_ERRT_OVERLOADED, true, LX_KEY_KEEP, "", NULL, NULL, -1},
    {NULL, "{\"error\":\"model 'x' not found\"}", 404, LX_ERRT_NOT_FOUND, false, LX_KEY_KEEP, "",
     NULL, NULL, -1},
    {NULL,
     "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens\","
     "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
     400, LX_ERRT_CONTEXT_LENGTH, false, LX_KEY_KEEP, "invalid_request_error", NULL, NULL, -1},
};

static int oai_check_error(const struct lx_provider_ops *ops, const struct oai_err_case *c)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"),
                                    .key = LX_STR("sk-secret-key-123"), .now_s = 1700000000};
    struct lx_arena *a = lx_arena_new(4096, 1u << 24);
    struct lx_upstream_error e;
    struct lx_header h[1];
    char *raw = NULL;
    struct lx_str body = c->path != NULL ? oai_read(c->path, &raw) : lx_str_cstr(c->body);
    const char *what = c->path != NULL ? c->path : c->body;
    int rc = 1;

    if (a == NULL || (c->path != NULL && raw == NULL))
        LX_FAIL("setup %s", what);
    if (c->hdr_name != NULL)
        h[0] = (struct lx_header){lx_str_cstr(c->hdr_name), lx_str_cstr(c->hdr_value)};
    ops->map_error(&call, c->status, h, c->hdr_name != NULL ? 1 : 0, body, a, &e);
    if (e.status != c->status || e.type != c->type || e.retryable != c->retryable ||
        e.key_action != c->key || e.retry_after_ms != c->retry_ms ||
        e.code.len != strlen(c->code) ||
        memcmp(e.code.ptr ? e.code.ptr : "", c->code, e.code.len) != 0) {
        fprintf(stderr,
                "%s: status %d type %d retryable %d key %d retry %lld code \"%.*s\" (want %d %d "
                "%d %d %lld \"%s\")\n",
                what, e.status, (int)e.type, (int)e.retryable, (int)e.key_action,
                (long long)e.retry_after_ms, (int)e.code.len, e.code.ptr ? e.code.ptr : "",
                c->status, (int)c->type, (int)c->retryable, (int)c->key, (long long)c->retry_ms,
                c->code);
        goto out;
    }
    if (strstr(what, "sk-") != NULL || (c->path && strstr(raw, "sk-abc") != NULL)) {
        if (oai_find(e.message.ptr ? e.message.ptr : "", e.message.len, "sk-") != NULL) {
            fprintf(stderr, "%s: the message quotes a key\n", what);
            goto out;
        }
    }
    if (body.len > 0 && e.message.len == 0) {
        fprintf(stderr, "%s: no message\n", what);
        goto out;
    }
    rc = 0;
out:
    free(raw);
    lx_arena_free(a);
    return rc;
}

LX_TEST(test_providers_openai_errors)
{
    for (size_t i = 0; i < sizeof(oai_errors) / sizeof(oai_errors[0]); i++) {
        if (oai_check_error(&lx_provider_openai, &oai_errors[i]) != 0)
            return 1;
        if (oai_check_error(&lx_provider_azure, &oai_errors[i]) != 0)
            return 1;
    }
    return 0;
}

LX_TEST(test_providers_openai_error_key_scrubbed)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .key = LX_STR("sk-live-ABCDEFGH")};
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_error e;
    const char *body = "{\"error\":{\"message\":\"bad key sk-live-ABCDEFGH here\",\"code\":\"x\"}}";

    LX_ASSERT(a != NULL);
    lx_provider_openai.map_error(&call, 400, NULL, 0, lx_str_cstr(body), a, &e);
    LX_ASSERT(e.message.len > 0);
    LX_ASSERT(oai_find(e.message.ptr, e.message.len, "ABCDEFGH") == NULL);
    lx_provider_openai.map_error(&call, 500, NULL, 0, LX_STR("oops sk-live-ABCDEFGH"), a, &e);
    LX_ASSERT(oai_find(e.message.ptr, e.message.len, "ABCDEFGH") == NULL);
    lx_arena_free(a);
    return 0;
}

/* ---- non-stream answers --------------------------------------------------------------- */

LX_TEST(test_providers_openai_parse_response)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m")};
    struct lx_arena *a = lx_arena_new(4096, 1u << 24);
    struct lx_chat_resp r;
    struct lx_err err;
    char *raw;
    struct lx_str body;

    LX_ASSERT(a != NULL);
    body = oai_read("protocols/fixtures/openai/chat_tools_response.json", &raw);
    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(lx_provider_openai.parse_response(&call, body, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.id, "chatcmpl-C4GmNWjg23NFd2DxEgJ1aMbICfhdA");
    LX_ASSERT_STR(r.model, "gpt-5-nano-2025-08-07");
    LX_ASSERT_EQ(r.created, 1755133847);
    LX_ASSERT_EQ(r.n_choices, 1);
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_TOOL_CALLS);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 1);
    LX_ASSERT_EQ(r.choices[0].message.parts[0].type, LX_PART_TOOL_CALL);
    LX_ASSERT_STR(r.choices[0].message.parts[0].id, "call_Xc4Aiih37EUJvqjoZlu4Vdoi");
    LX_ASSERT_STR(r.choices[0].message.parts[0].name, "get_current_weather");
    LX_ASSERT_STR(r.choices[0].message.parts[0].args, "{\"location\":\"San Francisco, CA\"}");
    LX_ASSERT_EQ(r.usage.input, 162);
    LX_ASSERT_EQ(r.usage.output, 219);
    LX_ASSERT_EQ(r.usage.total, 381);
    LX_ASSERT_EQ(r.usage.reasoning, 192);
    LX_ASSERT_EQ(r.usage.cache_read, 0);
    free(raw);

    static const char *const ok[] = {
        "protocols/fixtures/openai/chat_basic_response.json",
        "protocols/fixtures/openai/chat_json_mode_response.json",
        "protocols/fixtures/openai/chat_vision_response.json",
        "protocols/fixtures/openai/completions_response.json",
        "protocols/fixtures/azure/chat_response.json",
        "protocols/fixtures/mistral/chat_response_tools.json",
        "protocols/fixtures/ollama/chat_response.json", /* native: not ours */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int rc;

        body = oai_read(ok[i], &raw);
        LX_ASSERT(raw != NULL);
        rc = lx_provider_openai.parse_response(&call, body, a, &r, &err);
        free(raw);
        if (i + 1 == sizeof(ok) / sizeof(ok[0])) {
            LX_ASSERT_EQ(rc, LX_EPARSE);
            continue;
        }
        if (rc != LX_OK)
            LX_FAIL("%s: rc %d", ok[i], rc);
        LX_ASSERT(r.n_choices >= 1);
        LX_ASSERT(r.choices[0].message.n_parts >= 1);
        LX_ASSERT(r.choices[0].finish != LX_FINISH_UNSET);
        LX_ASSERT(r.usage.input > 0);
    }

    /* Mistral: a call without type, finish tool_calls */
    body = oai_read("protocols/fixtures/mistral/chat_response_tools.json", &raw);
    LX_ASSERT_EQ(lx_provider_openai.parse_response(&call, body, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.choices[0].message.parts[0].id, "gSIMJiOkT");
    free(raw);

    /* DeepSeek-style reasoning_content + refusal + content */
    LX_ASSERT_EQ(lx_provider_openai.parse_response(
                     &call,
                     LX_STR("{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                            "\"assistant\",\"reasoning_content\":\"think\",\"content\":\"hi\"},"
                            "\"finish_reason\":\"insufficient_system_resource\"}],\"usage\":{"
                            "\"prompt_tokens\":5,\"completion_tokens\":3,"
                            "\"prompt_cache_hit_tokens\":4}}"),
                     a, &r, &err),
                 LX_OK);
    LX_ASSERT_EQ(r.choices[0].message.n_parts, 2);
    LX_ASSERT_EQ(r.choices[0].message.parts[0].type, LX_PART_THINKING);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text, "think");
    LX_ASSERT_STR(r.choices[0].message.parts[1].text, "hi");
    LX_ASSERT_EQ(r.choices[0].finish, LX_FINISH_ERROR);
    LX_ASSERT_EQ(r.usage.cache_read, 4);
    LX_ASSERT_EQ(r.usage.total, 8);

    /* not a chat completion: EPARSE, never an empty answer */
    static const char *const bad[] = {
        "", "null", "[]", "{\"error\":{\"message\":\"x\"}}", "{\"choices\":{}}",
        "{\"choices\":[{\"index\":0}]}", "{\"choices\":[{\"message\":{\"tool_calls\":[1]}}]}",
        "{\"choices\":[{\"message\":{\"content\":7}}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (lx_provider_openai.parse_response(&call, lx_str_cstr(bad[i]), a, &r, &err) !=
            LX_EPARSE)
            LX_FAIL("bad[%zu] parsed", i);
    lx_arena_free(a);
    return 0;
}

LX_TEST(test_providers_openai_finish_table)
{
    static const struct {
        const char *raw;
        enum lx_finish f;
    } t[] = {
        {"stop", LX_FINISH_STOP},
        {"length", LX_FINISH_LENGTH},
        {"model_length", LX_FINISH_LENGTH},
        {"tool_calls", LX_FINISH_TOOL_CALLS},
        {"function_call", LX_FINISH_TOOL_CALLS},
        {"content_filter", LX_FINISH_CONTENT_FILTER},
        {"error", LX_FINISH_ERROR},
        {"insufficient_system_resource", LX_FINISH_ERROR},
        {"eos", LX_FINISH_STOP},
        {"something_new", LX_FINISH_STOP},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (lx_oai_finish(lx_str_cstr(t[i].raw)) != t[i].f)
            LX_FAIL("%s", t[i].raw);
    return 0;
}

/* ---- request round trips -------------------------------------------------------------- */

struct oai_rt {
    struct lx_part sys[1], user1[1], asst[3], user2[3], sub[2];
    struct lx_msg msgs[4];
    struct lx_tool tools[1];
    struct lx_str stop[2];
    struct lx_kv extra[2];
    struct lx_chat_req req;
};

static void oai_rt_init(struct oai_rt *t)
{
    memset(t, 0, sizeof(*t));
    lx_chat_req_init(&t->req);
    t->sys[0] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("be brief")};
    t->user1[0] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("weather in Paris?")};
    t->asst[0] = (struct lx_part){.type = LX_PART_THINKING, .text = LX_STR("SECRET-THOUGHT"),
                                  .signature = LX_STR("sig")};
    t->asst[1] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("Let me check.")};
    t->asst[2] = (struct lx_part){.type = LX_PART_TOOL_CALL, .id = LX_STR("toolu_01"),
                                  .name = LX_STR("get_weather"),
                                  .args = LX_STR("{\"city\":\"Paris\"}")};
    t->user2[0] = (struct lx_part){.type = LX_PART_TOOL_RESULT, .id = LX_STR("toolu_01"),
                                   .text = LX_STR("sunny, 21C")};
    t->user2[1] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("and this?")};
    t->user2[2] = (struct lx_part){.type = LX_PART_IMAGE, .media_type = LX_STR("image/png"),
                                   .data = LX_STR("iVBORw0KGgo="), .detail = LX_STR("low")};
    t->msgs[0] = (struct lx_msg){LX_ROLE_SYSTEM, t->sys, 1, LX_STR_NULL};
    t->msgs[1] = (struct lx_msg){LX_ROLE_USER, t->user1, 1, LX_STR_NULL};
    t->msgs[2] = (struct lx_msg){LX_ROLE_ASSISTANT, t->asst, 3, LX_STR_NULL};
    t->msgs[3] = (struct lx_msg){LX_ROLE_USER, t->user2, 3, LX_STR_NULL};
    t->tools[0] = (struct lx_tool){.name = LX_STR("get_weather"), .description = LX_STR("d"),
                                   .parameters = LX_STR("{\"type\":\"object\"}")};
    t->stop[0] = LX_STR("END");
    t->extra[0] = (struct lx_kv){LX_STR("logit_bias"), LX_STR("{\"50256\":-100}")};
    t->extra[1] = (struct lx_kv){LX_STR("model"), LX_STR("\"hijack\"")};
    t->req.model = LX_STR("client-model");
    t->req.msgs = t->msgs;
    t->req.n_msgs = 4;
    t->req.tools = t->tools;
    t->req.n_tools = 1;
    t->req.tool_choice = LX_TOOL_CHOICE_NAMED;
    t->req.tool_choice_name = LX_STR("get_weather");
    t->req.parallel_tool_calls = 0;
    t->req.max_tokens = 256;
    t->req.temperature = (struct lx_num){LX_STR("0.70"), 0.7};
    t->req.stop = t->stop;
    t->req.n_stop = 1;
    t->req.response_format = LX_RF_JSON_SCHEMA;
    t->req.schema = LX_STR("{\"type\":\"object\"}");
    t->req.schema_name = LX_STR("out");
    t->req.schema_strict = true;
    t->req.effort = LX_EFFORT_LOW;
    t->req.stream = true;
    t->req.source = LX_SRC_ANTHROPIC;
    t->req.extra = t->extra;
    t->req.n_extra = 2;
}

static const struct lx_header *oai_hdr(const struct lx_upstream_req *u, const char *name)
{
    return lx_header_find(u->headers, u->n_headers, lx_str_cstr(name));
}

LX_TEST(test_providers_openai_request_round_trip)
{
    struct lx_header extra_h[2] = {{LX_STR("OpenAI-Organization"), LX_STR("org-1")},
                                   {LX_STR("Content-Type"), LX_STR("text/plain")}};
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gpt-4o"),
                                    .key = LX_STR("sk-k"), .stream = true};
    struct lx_arena *a = lx_arena_new(4096, 1u << 24);
    struct oai_rt t;
    struct lx_upstream_req u;
    struct lx_err err;
    struct lx_json doc;
    int m, msg, x;

    LX_ASSERT(a != NULL);
    conf.headers = extra_h;
    conf.n_headers = 2;
    oai_rt_init(&t);
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(u.method, "POST");
    LX_ASSERT_STR(u.url, "https://api.example.com/v1/chat/completions");
    LX_ASSERT_STR(oai_hdr(&u, "Authorization")->value, "Bearer sk-k");
    LX_ASSERT_STR(oai_hdr(&u, "Content-Type")->value, "application/json");
    LX_ASSERT_STR(oai_hdr(&u, "Accept")->value, "text/event-stream");
    LX_ASSERT_STR(oai_hdr(&u, "OpenAI-Organization")->value, "org-1");
    LX_ASSERT(oai_hdr(&u, "X-Title") == NULL);
    LX_ASSERT(oai_hdr(&u, "api-key") == NULL);
    LX_ASSERT_EQ(u.total_timeout_ms, 0);

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("model")), LX_STR("gpt-4o")));
    m = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(lx_json_count(&doc, m), 5); /* system, user, assistant, tool, user */
    {
        static const char *const roles[] = {"system", "user", "assistant", "tool", "user"};
        int i = 0;

        for (msg = lx_json_first(&doc, m); msg >= 0; msg = lx_json_sibling(&doc, m, msg), i++)
            LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("role")),
                                     lx_str_cstr(roles[i])));
    }
    msg = lx_json_first(&doc, m);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("content")), LX_STR("be brief")));
    msg = lx_json_sibling(&doc, m, msg);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("content")),
                             LX_STR("weather in Paris?")));
    msg = lx_json_sibling(&doc, m, msg); /* assistant */
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("content")),
                             LX_STR("Let me check.")));
    x = lx_json_first(&doc, lx_json_get(&doc, msg, LX_STR("tool_calls")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("id")), LX_STR("toolu_01")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("type")), LX_STR("function")));
    x = lx_json_get(&doc, x, LX_STR("function"));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("name")), LX_STR("get_weather")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("arguments")),
                             LX_STR("{\"city\":\"Paris\"}")));
    msg = lx_json_sibling(&doc, m, msg); /* tool */
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("tool_call_id")),
                             LX_STR("toolu_01")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, msg, LX_STR("content")),
                             LX_STR("sunny, 21C")));
    msg = lx_json_sibling(&doc, m, msg); /* user: text + image parts */
    x = lx_json_get(&doc, msg, LX_STR("content"));
    LX_ASSERT_EQ(lx_json_type(&doc, x), LX_JSON_ARRAY);
    LX_ASSERT_EQ(lx_json_count(&doc, x), 2);
    x = lx_json_sibling(&doc, x, lx_json_first(&doc, x));
    x = lx_json_get(&doc, x, LX_STR("image_url"));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("url")),
                             LX_STR("data:image/png;base64,iVBORw0KGgo=")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("detail")), LX_STR("low")));
    /* thinking never goes upstream */
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "SECRET-THOUGHT") == NULL);
    /* parameters */
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("max_tokens")) < 0);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_completion_tokens"))), "256");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("temperature"))), "0.70");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("parallel_tool_calls"))), "false");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("stop"))), "[\"END\"]");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("tool_choice"))),
                  "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("response_format"))),
                  "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"out\",\"schema\":{"
                  "\"type\":\"object\"},\"strict\":true}}");
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("reasoning_effort")),
                             LX_STR("low")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("stream_options"))),
                  "{\"include_usage\":true}");
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, lx_json_first(&doc, lx_json_get(&doc, 0,
                                                                   LX_STR("tools"))),
                                                LX_STR("function"))),
                  "{\"name\":\"get_weather\",\"description\":\"d\",\"parameters\":{\"type\":"
                  "\"object\"}}");
    /* an Anthropic client's extras never go to an OpenAI upstream */
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("logit_bias")) < 0);

    /* an OpenAI client's extras do (but never over our own keys) */
    t.req.source = LX_SRC_OPENAI;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("logit_bias"))),
                  "{\"50256\":-100}");
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("model")), LX_STR("gpt-4o")));

    /* another compatible: max_tokens, "system" for developer */
    conf.type = "groq";
    t.msgs[0].role = LX_ROLE_DEVELOPER;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))), "256");
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("max_completion_tokens")) < 0);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, lx_json_first(&doc, lx_json_get(&doc, 0,
                                                                   LX_STR("messages"))),
                                               LX_STR("role")),
                             LX_STR("system")));
    conf.type = "openai";
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "\"role\":\"developer\"") != NULL);

    /* OpenRouter gets X-Title unless configured; Mistral gets no stream_options */
    conf.type = "openrouter";
    conf.n_headers = 0;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(oai_hdr(&u, "X-Title")->value, "llmux");
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "\"reasoning\"") == NULL); /* effort given */
    t.req.effort = LX_EFFORT_UNSET;
    t.req.thinking = LX_THINKING_ENABLED;
    t.req.thinking_budget = 2048;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "\"reasoning\":{\"max_tokens\":2048}") != NULL);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "reasoning_effort") == NULL);
    /* an OpenAI client's own reasoning object passes when we wrote none */
    t.req.thinking = LX_THINKING_UNSET;
    t.req.source = LX_SRC_OPENAI;
    t.extra[1] = (struct lx_kv){LX_STR("reasoning"), LX_STR("{\"effort\":\"high\"}")};
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "\"reasoning\":{\"effort\":\"high\"}") != NULL);
    conf.type = "mistral";
    t.req.has_seed = true;
    t.req.seed = 7;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_OK);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "stream_options") == NULL);
    LX_ASSERT(oai_find(u.body.ptr, u.body.len, "\"random_seed\":7") != NULL);

    /* a file by URL cannot be said: 400 */
    t.user2[2] = (struct lx_part){.type = LX_PART_FILE, .url = LX_STR("https://x/y.pdf")};
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &t.req, a, &u, &err), LX_EINVAL);
    LX_ASSERT_EQ(err.http_status, 400);
    lx_arena_free(a);
    return 0;
}

LX_TEST(test_providers_openai_tool_messages)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m")};
    struct lx_arena *a = lx_arena_new(4096, 1u << 22);
    struct lx_part sub[2] = {{.type = LX_PART_TEXT, .text = LX_STR("line \"1\"")},
                             {.type = LX_PART_TEXT, .text = LX_STR("line 2")}};
    struct lx_part res[2] = {
        {.type = LX_PART_TOOL_RESULT, .id = LX_STR("c1"), .sub = sub, .n_sub = 2},
        {.type = LX_PART_TOOL_RESULT, .id = LX_STR("c2"), .text = LX_STR("")}};
    struct lx_msg msgs[2] = {{LX_ROLE_TOOL, res, 2, LX_STR_NULL},
                             {LX_ROLE_USER, res, 1, LX_STR_NULL}};
    struct lx_chat_req req;
    struct lx_upstream_req u;
    struct lx_err err;
    struct lx_json doc;
    int m, x;

    LX_ASSERT(a != NULL);
    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 2;
    LX_ASSERT_EQ(lx_provider_openai.build_request(&call, &req, a, &u, &err), LX_OK);
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, u.body.ptr, u.body.len), LX_OK);
    m = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(lx_json_count(&doc, m), 3); /* two tool messages, then one (no user left) */
    x = lx_json_first(&doc, m);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("content")),
                             LX_STR("line \"1\"\nline 2")));
    x = lx_json_sibling(&doc, m, x);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("tool_call_id")), LX_STR("c2")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, x, LX_STR("content")), LX_STR("")));
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("stream")) < 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("max_completion_tokens")) < 0);
    lx_arena_free(a);
    return 0;
}

/* ---- embeddings and the fast-path target ---------------------------------------------- */

LX_TEST(test_providers_openai_embeddings)
{
    struct lx_config_provider conf = oai_conf("openai");
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("text-embedding-3-small"),
                                    .key = LX_STR("k"), .endpoint = LX_EP_EMBEDDINGS};
    struct lx_arena *a = lx_arena_new(4096, 1u << 24);
    struct lx_str inputs[2] = {LX_STR("a"), LX_STR("b \"q\"")};
    struct lx_embed_req req = {.model = LX_STR("x"), .inputs = inputs, .n_inputs = 2,
                               .dimensions = 256, .base64 = true};
    struct lx_upstream_req u;
    struct lx_embed_resp r;
    struct lx_err err;
    char *raw;
    struct lx_str body;

    LX_ASSERT(a != NULL);
    LX_ASSERT_EQ(lx_provider_openai.build_embeddings(&call, &req, a, &u, &err), LX_OK);
    LX_ASSERT_STR(u.url, "https://api.example.com/v1/embeddings");
    LX_ASSERT_STR(u.body, "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b \\\"q\\\"\"],"
                          "\"encoding_format\":\"float\",\"dimensions\":256}");
    LX_ASSERT_EQ(lx_provider_openai.parse_embeddings(
                     &call,
                     LX_STR("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,"
                            "\"embedding\":[0.5,-1]},{\"object\":\"embedding\",\"index\":0,"
                            "\"embedding\":[1e-3, 2]}],\"model\":\"m\",\"usage\":{"
                            "\"prompt_tokens\":4,\"total_tokens\":4}}"),
                     a, &r, &err),
                 LX_OK);
    LX_ASSERT_EQ(r.n_vectors, 2);
    LX_ASSERT_STR(r.vectors[0], "[1e-3, 2]");
    LX_ASSERT_STR(r.vectors[1], "[0.5,-1]");
    LX_ASSERT_EQ(r.usage.input, 4);
    /* the recording is base64 (float32 LE): decoded into numbers */
    body = oai_read("protocols/fixtures/openai/embeddings_response.json", &raw);
    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(lx_provider_openai.parse_embeddings(&call, body, a, &r, &err), LX_OK);
    free(raw);
    LX_ASSERT(r.n_vectors >= 1);
    LX_ASSERT(r.vectors[0].len > 2 && r.vectors[0].ptr[0] == '[');
    {
        struct lx_json doc;

        lx_json_init(&doc, NULL);
        lx_json_use_arena(&doc, a);
        LX_ASSERT_EQ(lx_json_parse(&doc, r.vectors[0].ptr, r.vectors[0].len), LX_OK);
        LX_ASSERT(lx_json_count(&doc, 0) >= 256);
        LX_ASSERT_EQ(lx_json_type(&doc, 1), LX_JSON_NUMBER);
    }
    LX_ASSERT_EQ(lx_provider_openai.parse_embeddings(&call, LX_STR("{\"data\":[{\"index\":5,"
                                                                   "\"embedding\":[1]}]}"),
                                                     a, &r, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_provider_openai.parse_embeddings(&call, LX_STR("{}"), a, &r, &err), LX_EPARSE);
    lx_arena_free(a);
    return 0;
}

LX_TEST(test_providers_openai_target)
{
    struct lx_config_provider conf = oai_conf("openrouter");
    struct lx_header h[1] = {{LX_STR("X-Title"), LX_STR("mine")}};
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = false};
    struct lx_arena *a = lx_arena_new(4096, 1u << 20);
    struct lx_upstream_req u;

    LX_ASSERT(a != NULL);
    conf.base_url = "https://openrouter.ai/api/v1";
    conf.headers = h;
    conf.n_headers = 1;
    LX_ASSERT_EQ(lx_openai_target(&call, "/completions", a, &u), LX_OK);
    LX_ASSERT_STR(u.url, "https://openrouter.ai/api/v1/completions");
    LX_ASSERT_STR(oai_hdr(&u, "X-Title")->value, "mine");
    LX_ASSERT(oai_hdr(&u, "Authorization") == NULL); /* no key: no credential */
    LX_ASSERT_STR(oai_hdr(&u, "Accept")->value, "application/json");
    LX_ASSERT_EQ(u.body.len, 0);
    LX_ASSERT_EQ(lx_openai_target(&call, "/models", a, &u), LX_EINVAL);
    lx_arena_free(a);
    return 0;
}
