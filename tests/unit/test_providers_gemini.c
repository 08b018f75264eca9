/* test_providers_gemini.c - the Gemini provider adapter (src/providers/gemini.c): every recorded
 * stream of fixtures/gemini replayed at every split point and compared with its transcript,
 * the recorded answers parsed, every error fixture classified (API_KEY_INVALID, RetryInfo,
 * per-day quota, the array form), the request target (URL, x-goog-api-key, never ?key=), and
 * IR -> body round trips read back with the JSON tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "providers/gemini.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

#define GM_GET(doc, o, lit) lx_json_get((doc), (o), LX_STR(lit))

static bool gm_has(struct lx_str s, const char *lit)
{
    size_t n = strlen(lit);

    for (size_t i = 0; s.ptr != NULL && i + n <= s.len; i++)
        if (memcmp(s.ptr + i, lit, n) == 0)
            return true;
    return false;
}

static struct lx_config_provider gm_conf(void)
{
    struct lx_config_provider c;

    memset(&c, 0, sizeof(c));
    c.name = "g";
    c.type = "gemini";
    c.proto = LX_CONFIG_PROTO_GEMINI;
    c.base_url = "https://generativelanguage.googleapis.com/v1beta";
    return c;
}

static struct lx_str gm_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

/* ---- streams ---------------------------------------------------------------------------- */

static const char gm_tool_call_transcript[] =
    "START id=\"b36LacjwM668nsEP2tbsgQQ\" model=\"gemini-3-pro-preview\"\n"
    "TOOL c=0 i=0 id=\"call_";

static int gm_replay(const char *rel, struct lx_pt_summary *s)
{
    struct lx_config_provider conf = gm_conf();
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("gemini-2.5-flash"),
                                    .key = LX_STR("AIzaTESTKEY"), .stream = true};
    char *keep;
    struct lx_str bytes = gm_read(rel, &keep);
    int rc;

    if (bytes.ptr == NULL)
        return -1;
    lx_pt_summary_init(s);
    rc = lx_pt_replay_all_splits(&lx_provider_gemini, &call, bytes, 1, s);
    free(keep);
    return rc;
}

LX_TEST(gemini_stream_text)
{
    struct lx_pt_summary s;
    const char *lines;

    LX_ASSERT_EQ(0, gm_replay("protocols/fixtures/gemini/stream.sse", &s));
    lines = lx_pt_lines(&s);
    LX_ASSERT(strncmp(lines, "START id=\"otSfaMfSOu3xn9kP5pnMyQ4\" model=\"gemini-2.0-flash\"\n"
                             "TEXT c=0 \"Rain\"\nUSAGE in=12 out=-1 total=12",
                      100) == 0);
    LX_ASSERT(strstr(lines, "FINISH c=0 stop raw=\"STOP\" seq=\"\"\n"
                            "USAGE in=11 out=132 total=143 cache_read=-1 cache_write=-1 "
                            "reasoning=-1\nDONE\nEND rc=OK done=1 failed=0\n") != NULL);
    LX_ASSERT(strncmp(s.text.ptr, "Rain lashed against the bakery window.", 38) == 0);
    LX_ASSERT(strstr(s.text.ptr, "a beacon in the tempest.\n") != NULL);
    LX_ASSERT_EQ(1, s.n_start);
    LX_ASSERT_EQ(1, s.n_done);
    LX_ASSERT_EQ(LX_FINISH_STOP, s.finish);
    LX_ASSERT_EQ(0, s.n_tools);
    lx_pt_summary_release(&s);
    return 0;
}

LX_TEST(gemini_stream_tool_call)
{
    struct lx_pt_summary s;
    const char *lines;

    LX_ASSERT_EQ(0, gm_replay("protocols/fixtures/gemini/stream_tool_call.sse", &s));
    lines = lx_pt_lines(&s);
    LX_ASSERT(strncmp(lines, gm_tool_call_transcript, strlen(gm_tool_call_transcript)) == 0);
    LX_ASSERT(strstr(lines, "name=\"weather\" args=\"{\\\"location\\\":\\\"San Francisco\\\"}\" "
                            "sig=\"EqUCCqICAb4+") != NULL);
    LX_ASSERT(strstr(lines, "FINISH c=0 tool_calls raw=\"STOP\" seq=\"\"\n"
                            "USAGE in=29 out=60 total=89 cache_read=-1 cache_write=-1 "
                            "reasoning=45\nDONE\nEND rc=OK done=1 failed=0\n") != NULL);
    LX_ASSERT(strstr(lines, "TEXT") == NULL); /* the empty text part is not a delta */
    LX_ASSERT_EQ(1, s.n_tools);
    LX_ASSERT_STREQ(s.tools[0].name, "weather");
    LX_ASSERT(strncmp(s.tools[0].id, "call_", 5) == 0 && strlen(s.tools[0].id) == 15);
    LX_ASSERT(s.tools[0].signature.len > 100);
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, s.finish);
    lx_pt_summary_release(&s);
    return 0;
}

LX_TEST(gemini_stream_thinking_signature)
{
    struct lx_pt_summary s;
    const char *lines;

    LX_ASSERT_EQ(0, gm_replay("protocols/fixtures/gemini/stream_thinking.sse", &s));
    lines = lx_pt_lines(&s);
    LX_ASSERT_STREQ(s.text.ptr, "There are **3** \"r\"s in strawberry.\n\nHere is the breakdown: "
                                "st**r**awbe**rr**y.");
    /* the signature rides on an empty text part: kept on a TEXT delta (gemini.md) */
    LX_ASSERT(strstr(lines, "TEXT c=0 \"\"\n") != NULL);
    LX_ASSERT(strstr(lines, "FINISH c=0 stop raw=\"STOP\"") != NULL);
    LX_ASSERT(strstr(lines, "USAGE in=9 out=285 total=294 cache_read=-1 cache_write=-1 "
                            "reasoning=256\nDONE\n") != NULL);
    LX_ASSERT_EQ(1, s.n_done);
    lx_pt_summary_release(&s);
    return 0;
}

/* Hand-made chunks: a thought part, a blocked prompt, an error inside the stream, garbage. */
static int gm_replay_bytes(const char *bytes, struct lx_pt_summary *s)
{
    struct lx_config_provider conf = gm_conf();
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};

    lx_pt_summary_init(s);
    return lx_pt_replay_all_splits(&lx_provider_gemini, &call, lx_str_cstr(bytes), 1, s);
}

LX_TEST(gemini_stream_thought_block_error)
{
    struct lx_pt_summary s;

    LX_ASSERT_EQ(0, gm_replay_bytes(
                        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\","
                        "\"thought\":true,\"thoughtSignature\":\"SIG\"},{\"text\":\"Hi\"}],"
                        "\"role\":\"model\"},\"index\":0}],\"responseId\":\"r1\"}\r\n\r\n"
                        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}]},"
                        "\"finishReason\":\"MAX_TOKENS\",\"index\":0}],\"usageMetadata\":"
                        "{\"promptTokenCount\":3,\"candidatesTokenCount\":2,"
                        "\"cachedContentTokenCount\":1,\"totalTokenCount\":5}}\r\n\r\n",
                        &s));
    LX_ASSERT_STREQ(lx_pt_lines(&s),
                    "START id=\"r1\" model=\"\"\nTHINKING c=0 \"hmm\"\nSIGNATURE c=0 \"SIG\"\n"
                    "TEXT c=0 \"Hi\"\nTEXT c=0 \"!\"\nFINISH c=0 length raw=\"MAX_TOKENS\" "
                    "seq=\"\"\nUSAGE in=3 out=2 total=5 cache_read=1 cache_write=-1 "
                    "reasoning=-1\nDONE\nEND rc=OK done=1 failed=0\n");
    lx_pt_summary_release(&s);

    LX_ASSERT_EQ(0, gm_replay_bytes("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
                                    "\"usageMetadata\":{\"promptTokenCount\":7,"
                                    "\"totalTokenCount\":7}}\n\n",
                                    &s));
    LX_ASSERT(strstr(lx_pt_lines(&s), "FINISH c=0 content_filter raw=\"SAFETY\"") != NULL);
    LX_ASSERT_EQ(1, s.n_done);
    lx_pt_summary_release(&s);

    LX_ASSERT_EQ(0, gm_replay_bytes("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                                    "\"a\"}]}}]}\n\ndata: {\"error\":{\"code\":503,\"message\":"
                                    "\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}"
                                    "\n\n",
                                    &s));
    LX_ASSERT(strstr(lx_pt_lines(&s), "ERROR status=503 type=10 retryable=1 key=0 "
                                      "code=\"UNAVAILABLE\" msg=\"The model is overloaded.\"\n"
                                      "END rc=OK done=0 failed=1\n") != NULL);
    lx_pt_summary_release(&s);

    /* a stream that is not Gemini's is broken, never an empty answer */
    lx_pt_summary_init(&s);
    {
        struct lx_config_provider conf = gm_conf();
        struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"), .stream = true};

        LX_ASSERT_EQ(LX_EPARSE, lx_pt_replay(&lx_provider_gemini, &call,
                                             LX_STR("data: {\"choices\":[]}\n\n"),
                                             LX_PT_NO_SPLIT, &s));
        LX_ASSERT_EQ(LX_EPARSE, lx_pt_replay(&lx_provider_gemini, &call,
                                             LX_STR("data: not json\n\n"), LX_PT_NO_SPLIT, &s));
        LX_ASSERT_EQ(LX_EPARSE,
                     lx_pt_replay(&lx_provider_gemini, &call,
                                  LX_STR("data: {\"candidates\":[{\"content\":{\"parts\":"
                                         "[{\"functionCall\":{\"args\":{}}}]}}]}\n\n"),
                                  LX_PT_NO_SPLIT, &s));
    }
    lx_pt_summary_release(&s);
    return 0;
}

/* ---- answers ---------------------------------------------------------------------------- */

LX_TEST(gemini_parse_response_fixtures)
{
    struct lx_config_provider conf = gm_conf();
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m")};
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_resp r;
    struct lx_err err;
    char *keep;
    struct lx_str body = gm_read("protocols/fixtures/gemini/generate_response_text.json", &keep);

    LX_ASSERT(a != NULL && body.ptr != NULL);
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.parse_response(&call, body, a, &r, &err));
    LX_ASSERT_STR(r.id, "Un6LacrVMcjUxs0PmJfWoQc");
    LX_ASSERT_STR(r.model, "gemini-3-pro-preview");
    LX_ASSERT_EQ(1, r.n_choices);
    LX_ASSERT_EQ(LX_FINISH_STOP, r.choices[0].finish);
    LX_ASSERT_STR(r.choices[0].finish_raw, "STOP");
    LX_ASSERT_EQ(1, r.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, r.choices[0].message.parts[0].type);
    LX_ASSERT_STR(r.choices[0].message.parts[0].text,
                  "There are **3** r's in strawberry.\n\nHere is the breakdown: "
                  "st**r**awbe**rr**y.");
    LX_ASSERT(lx_str_starts_with(r.choices[0].message.parts[0].signature, LX_STR("EtoFCtcF")));
    LX_ASSERT_EQ(9, r.usage.input);
    LX_ASSERT_EQ(28 + 244, r.usage.output);
    LX_ASSERT_EQ(244, r.usage.reasoning);
    LX_ASSERT_EQ(281, r.usage.total);
    LX_ASSERT_EQ(-1, r.usage.cache_read);
    free(keep);

    body = gm_read("protocols/fixtures/gemini/generate_response_tool_call.json", &keep);
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.parse_response(&call, body, a, &r, &err));
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, r.choices[0].finish);
    LX_ASSERT_EQ(1, r.choices[0].message.n_parts);
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, r.choices[0].message.parts[0].type);
    LX_ASSERT_STR(r.choices[0].message.parts[0].name, "weather");
    LX_ASSERT_STR(r.choices[0].message.parts[0].args, "{\n                \"location\": "
                                                      "\"San Francisco\"\n              }");
    LX_ASSERT(lx_str_starts_with(r.choices[0].message.parts[0].id, LX_STR("call_")));
    LX_ASSERT(lx_str_starts_with(r.choices[0].message.parts[0].signature,
                                 LX_STR("EskgCsYgAb4")));
    LX_ASSERT_EQ(893 + 15, r.usage.output);
    free(keep);

    /* blocked prompt: one choice, content_filter */
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.parse_response(
                            &call, LX_STR("{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_"
                                          "CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":4}}"),
                            a, &r, &err));
    LX_ASSERT_EQ(1, r.n_choices);
    LX_ASSERT_EQ(LX_FINISH_CONTENT_FILTER, r.choices[0].finish);
    LX_ASSERT_STR(r.choices[0].finish_raw, "PROHIBITED_CONTENT");
    /* not Gemini's answer */
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_gemini.parse_response(&call, LX_STR("{\"choices\":[]}"), a,
                                                              &r, &err));
    LX_ASSERT_EQ(502, err.http_status);
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_gemini.parse_response(&call, LX_STR("[1]"), a, &r, &err));
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_gemini.parse_response(
                                &call, LX_STR("{\"candidates\":[{\"content\":{\"parts\":[7]}}]}"),
                                a, &r, &err));
    /* finish words */
    LX_ASSERT_EQ(LX_FINISH_CONTENT_FILTER, lx_gemini_finish(LX_STR("RECITATION")));
    LX_ASSERT_EQ(LX_FINISH_CONTENT_FILTER, lx_gemini_finish(LX_STR("SPII")));
    LX_ASSERT_EQ(LX_FINISH_ERROR, lx_gemini_finish(LX_STR("MALFORMED_FUNCTION_CALL")));
    LX_ASSERT_EQ(LX_FINISH_LENGTH, lx_gemini_finish(LX_STR("MAX_TOKENS")));
    LX_ASSERT_EQ(LX_FINISH_STOP, lx_gemini_finish(LX_STR("OTHER")));
    /* countTokens */
    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.parse_response(&call, LX_STR("{\"totalTokens\":31}"), a,
                                                          &r, &err));
    LX_ASSERT_EQ(31, r.usage.input);
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_gemini.parse_response(&call, LX_STR("{}"), a, &r, &err));
    lx_arena_free(a);
    return 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

static const struct gm_err_case {
    const char *path;
    int status;
    enum lx_err_type type;
    bool retryable;
    enum lx_key_action key;
    int64_t retry_ms;
    bool daily;
    const char *code;
} gm_errs[] = {
    {"protocols/fixtures/gemini/error_400_api_key_invalid.json", 400, LX_ERRT_AUTHENTICATION,
     true, LX_KEY_DISABLE, -1, false, "API_KEY_INVALID"},
    {"protocols/fixtures/gemini/error_400_invalid_argument.json", 400, LX_ERRT_CONTEXT_LENGTH,
     false, LX_KEY_KEEP, -1, false, "INVALID_ARGUMENT"},
    {"protocols/fixtures/gemini/error_404_stream.json", 404, LX_ERRT_NOT_FOUND, false,
     LX_KEY_KEEP, -1, false, "NOT_FOUND"},
    {"protocols/fixtures/gemini/error_429_resource_exhausted.json", 429, LX_ERRT_RATE_LIMIT, true,
     LX_KEY_COOLDOWN, 34400 + 2000, false, "RESOURCE_EXHAUSTED"},
    {"protocols/fixtures/gemini/error_503_unavailable.json", 503, LX_ERRT_OVERLOADED, true,
     LX_KEY_KEEP, -1, false, "UNAVAILABLE"},
    {"protocols/fixtures/vertex/error_403_permission_denied.json", 403, LX_ERRT_PERMISSION, true,
     LX_KEY_DISABLE, -1, false, "PERMISSION_DENIED"},
};

LX_TEST(gemini_map_error_fixtures)
{
    struct lx_config_provider conf = gm_conf();
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("m"),
                                    .key = LX_STR("AIzaSECRET")};
    struct lx_arena *a = lx_arena_new(0, 1u << 24);

    for (size_t i = 0; i < sizeof(gm_errs) / sizeof(gm_errs[0]); i++) {
        const struct gm_err_case *c = &gm_errs[i];
        struct lx_upstream_error e;
        char *keep;
        struct lx_str body = gm_read(c->path, &keep);

        if (body.ptr == NULL)
            LX_FAIL("cannot read %s", c->path);
        lx_provider_gemini.map_error(&call, c->status, NULL, 0, body, a, &e);
        if (e.type != c->type || e.retryable != c->retryable || e.key_action != c->key ||
            e.retry_after_ms != c->retry_ms || e.daily_quota != c->daily ||
            !lx_str_eq(e.code, lx_str_cstr(c->code)) || e.status != c->status ||
            e.message.len == 0)
            LX_FAIL("%s: type %d retryable %d key %d retry %lld daily %d code %.*s", c->path,
                    (int)e.type, (int)e.retryable, (int)e.key_action, (long long)e.retry_after_ms,
                    (int)e.daily_quota, (int)e.code.len, e.code.ptr ? e.code.ptr : "");
        free(keep);
    }
    {
        struct lx_upstream_error e;

        /* per-day quota, the array form, "37s" */
        lx_provider_gemini.map_error(
            &call, 429, NULL, 0,
            LX_STR("[{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_"
                   "EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
                   "QuotaFailure\",\"violations\":[{\"quotaId\":\"GenerateRequestsPerDayPer"
                   "ProjectPerModel-FreeTier\"}]},{\"@type\":\"type.googleapis.com/google.rpc."
                   "RetryInfo\",\"retryDelay\":\"37s\"}]}}]"),
            a, &e);
        LX_ASSERT_EQ(LX_ERRT_RATE_LIMIT, e.type);
        LX_ASSERT(e.daily_quota);
        LX_ASSERT_EQ(39000, e.retry_after_ms);
        LX_ASSERT_EQ(LX_KEY_COOLDOWN, e.key_action);
        /* a message that quotes the key is withheld */
        lx_provider_gemini.map_error(&call, 400, NULL, 0,
                                     LX_STR("{\"error\":{\"code\":400,\"message\":\"bad key "
                                            "AIzaSECRET\",\"status\":\"INVALID_ARGUMENT\"}}"),
                                     a, &e);
        LX_ASSERT(!gm_has(e.message, "AIzaSECRET"));
        /* not JSON */
        lx_provider_gemini.map_error(&call, 502, NULL, 0, LX_STR("<html>bad gateway</html>"), a,
                                     &e);
        LX_ASSERT_EQ(LX_ERRT_SERVER, e.type);
        LX_ASSERT(e.retryable);
        LX_ASSERT_STR(e.message, "<html>bad gateway</html>");
        lx_provider_gemini.map_error(&call, 500, NULL, 0, LX_STR(""), a, &e);
        LX_ASSERT_STR(e.message, "upstream error (HTTP 500)");
    }
    lx_arena_free(a);
    return 0;
}

/* ---- requests --------------------------------------------------------------------------- */


LX_TEST(gemini_build_request_target)
{
    struct lx_config_provider conf = gm_conf();
    struct lx_header extra[] = {{LX_STR("x-goog-api-key"), LX_STR("nope")},
                                {LX_STR("X-Extra"), LX_STR("1")}};
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("models/gemini 2.5/flash"),
                                    .key = LX_STR("AIzaKEY")};
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req req;
    struct lx_msg msg = {.role = LX_ROLE_USER};
    struct lx_part part = {.type = LX_PART_TEXT, .text = LX_STR("hi")};
    struct lx_upstream_req out;
    struct lx_err err;
    const struct lx_header *h;

    conf.headers = extra;
    conf.n_headers = 2;
    lx_chat_req_init(&req);
    msg.parts = &part;
    msg.n_parts = 1;
    req.msgs = &msg;
    req.n_msgs = 1;
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.build_request(&call, &req, a, &out, &err));
    LX_ASSERT_STR(out.method, "POST");
    LX_ASSERT_STR(out.url, "https://generativelanguage.googleapis.com/v1beta/models/"
                           "gemini%202.5%2Fflash:generateContent");
    h = lx_header_find(out.headers, out.n_headers, LX_STR("x-goog-api-key"));
    LX_ASSERT(h != NULL);
    LX_ASSERT_STR(h->value, "AIzaKEY");
    LX_ASSERT(lx_header_find(out.headers, out.n_headers, LX_STR("X-Extra")) != NULL);
    LX_ASSERT_EQ(3, out.n_headers);
    LX_ASSERT(!gm_has(out.url, "key="));
    LX_ASSERT_STR(out.body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}");

    call.stream = true;
    call.model = LX_STR("gemini-2.5-flash");
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.build_request(&call, &req, a, &out, &err));
    LX_ASSERT_STR(out.url, "https://generativelanguage.googleapis.com/v1beta/models/"
                           "gemini-2.5-flash:streamGenerateContent?alt=sse");
    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.build_request(&call, &req, a, &out, &err));
    LX_ASSERT(lx_str_ends_with(out.url, LX_STR("/models/gemini-2.5-flash:countTokens")));
    LX_ASSERT_STR(out.body, "{\"generateContentRequest\":{\"model\":\"models/gemini-2.5-flash\","
                            "\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}}");
    lx_arena_free(a);
    return 0;
}

/* An OpenAI-style conversation: system, user with an image, an assistant tool call carrying a
 * thoughtSignature, two tool results (one JSON object, one text), thinking that is not sent
 * back; tools with a schema Gemini would refuse; every generation parameter. */
LX_TEST(gemini_body_round_trip)
{
    struct lx_part sys[] = {{.type = LX_PART_TEXT, .text = LX_STR("Be brief.")}};
    struct lx_part user[] = {
        {.type = LX_PART_TEXT, .text = LX_STR("Weather here and in Rome?")},
        {.type = LX_PART_IMAGE, .data = LX_STR("iVBORw0KGgo="), .media_type = LX_STR("image/png")},
        {.type = LX_PART_IMAGE, .url = LX_STR("https://example.com/a.jpg")}};
    struct lx_part asst[] = {
        {.type = LX_PART_THINKING, .text = LX_STR("secret reasoning"), .signature = LX_STR("T")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("call_1"), .name = LX_STR("get_weather"),
         .args = LX_STR("{\"city\":\"Paris\"}"), .signature = LX_STR("SIG1")},
        {.type = LX_PART_TOOL_CALL, .id = LX_STR("call_2"), .name = LX_STR("get_weather"),
         .args = LX_STR("not json")}};
    struct lx_part res1[] = {{.type = LX_PART_TOOL_RESULT, .id = LX_STR("call_1"),
                              .text = LX_STR("{\"temp_c\":18}")}};
    struct lx_part res2[] = {
        {.type = LX_PART_TOOL_RESULT, .id = LX_STR("call_2"), .text = LX_STR("sunny, 25C")}};
    struct lx_msg msgs[] = {{.role = LX_ROLE_SYSTEM, .parts = sys, .n_parts = 1},
                            {.role = LX_ROLE_USER, .parts = user, .n_parts = 3},
                            {.role = LX_ROLE_ASSISTANT, .parts = asst, .n_parts = 3},
                            {.role = LX_ROLE_TOOL, .parts = res1, .n_parts = 1},
                            {.role = LX_ROLE_TOOL, .parts = res2, .n_parts = 1}};
    struct lx_tool tools[] = {
        {.name = LX_STR("get_weather"), .description = LX_STR("Weather"),
         .parameters = LX_STR("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                              "\"type\":\"object\",\"additionalProperties\":false,"
                              "\"properties\":{\"city\":{\"type\":[\"string\",\"null\"],"
                              "\"format\":\"hostname\"},\"strict\":{\"const\":\"x\"}},"
                              "\"required\":[\"city\"]}")},
        {.name = LX_STR("noop"), .parameters = LX_STR("{\"type\":\"object\",\"properties\":{}}")}};
    struct lx_str stops[] = {LX_STR("END")};
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    struct lx_err err;
    struct lx_json doc;
    int c, p, gc;

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 5;
    req.tools = tools;
    req.n_tools = 2;
    req.tool_choice = LX_TOOL_CHOICE_NAMED;
    req.tool_choice_name = LX_STR("get_weather");
    req.max_tokens = 100;
    req.temperature = (struct lx_num){LX_STR("0.7"), 0.7};
    req.top_p = (struct lx_num){LX_STR("1"), 1};
    req.top_k = 40;
    req.n = 2;
    req.seed = 9007199254740993LL;
    req.has_seed = true;
    req.stop = stops;
    req.n_stop = 1;
    req.response_format = LX_RF_JSON_SCHEMA;
    req.schema = LX_STR("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                        "\"additionalProperties\":false}");
    req.effort = LX_EFFORT_MEDIUM;
    req.source = LX_SRC_OPENAI;
    if (lx_gemini_encode_body(&req, &b, &err) != LX_OK)
        LX_FAIL("encode: %s", err.msg);

    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
    c = GM_GET(&doc, 0, "contents");
    LX_ASSERT_EQ(3, lx_json_count(&doc, c)); /* user, model, user (two results merged) */
    p = lx_json_first(&doc, c);
    LX_ASSERT(lx_json_str_eq(&doc, GM_GET(&doc, p, "role"), LX_STR("user")));
    LX_ASSERT_EQ(3, lx_json_count(&doc, GM_GET(&doc, p, "parts")));
    p = lx_json_sibling(&doc, c, p);
    LX_ASSERT(lx_json_str_eq(&doc, GM_GET(&doc, p, "role"), LX_STR("model")));
    LX_ASSERT_EQ(2, lx_json_count(&doc, GM_GET(&doc, p, "parts"))); /* no thinking */
    p = lx_json_sibling(&doc, c, p);
    LX_ASSERT(lx_json_str_eq(&doc, GM_GET(&doc, p, "role"), LX_STR("user")));
    LX_ASSERT_EQ(2, lx_json_count(&doc, GM_GET(&doc, p, "parts")));
    gc = GM_GET(&doc, 0, "generationConfig");
    LX_ASSERT_STR(lx_json_raw(&doc, GM_GET(&doc, gc, "seed")), "9007199254740993");
    LX_ASSERT_STR(lx_json_raw(&doc, GM_GET(&doc, gc, "temperature")), "0.7");
    LX_ASSERT_STR(lx_json_raw(&doc, GM_GET(&doc, gc, "thinkingConfig")),
                  "{\"thinkingBudget\":8192}");
    lx_json_release(&doc);

    /* the exact text where it matters */
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"systemInstruction\":{\"parts\":[{\"text\":\"Be "
                                     "brief.\"}]}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":"
                                     "\"iVBORw0KGgo=\"}},{\"fileData\":{\"fileUri\":"
                                     "\"https://example.com/a.jpg\"}}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "{\"functionCall\":{\"name\":\"get_weather\",\"args\":"
                                     "{\"city\":\"Paris\"}},\"thoughtSignature\":\"SIG1\"},"
                                     "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{}}}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "{\"functionResponse\":{\"name\":\"get_weather\","
                                     "\"response\":{\"temp_c\":18}}},{\"functionResponse\":"
                                     "{\"name\":\"get_weather\",\"response\":{\"content\":"
                                     "\"sunny, 25C\"}}}"));
    LX_ASSERT(!gm_has(lx_buf_str(&b), "secret reasoning"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"parameters\":{\"type\":\"object\",\"properties\":"
                                     "{\"city\":{\"type\":\"string\",\"nullable\":true},"
                                     "\"strict\":{\"enum\":[\"x\"]}},\"required\":[\"city\"]}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "{\"name\":\"noop\"}"));
    LX_ASSERT(!gm_has(lx_buf_str(&b), "additionalProperties"));
    LX_ASSERT(!gm_has(lx_buf_str(&b), "$schema"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
                                     "\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"maxOutputTokens\":100,\"temperature\":0.7,\"topP\":1,"
                                     "\"topK\":40,\"stopSequences\":[\"END\"],"
                                     "\"candidateCount\":2"));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"responseMimeType\":\"application/json\","
                                     "\"responseSchema\":{\"type\":\"object\",\"properties\":"
                                     "{\"a\":{\"type\":\"integer\"}}}"));
    lx_buf_release(&b);

    /* only a system prompt: nothing Gemini can answer */
    {
        struct lx_chat_req only_sys;
        struct lx_buf b2 = LX_BUF_INIT(1u << 20);

        lx_chat_req_init(&only_sys);
        only_sys.msgs = msgs;
        only_sys.n_msgs = 1;
        LX_ASSERT_EQ(LX_EINVAL, lx_gemini_encode_body(&only_sys, &b2, &err));
        LX_ASSERT_EQ(400, err.http_status);
        lx_buf_release(&b2);
    }
    /* a tool result whose call is unknown cannot be named: 400 */
    res2[0].id = LX_STR("call_unknown");
    lx_buf_init(&b, 1u << 20);
    LX_ASSERT_EQ(LX_EINVAL, lx_gemini_encode_body(&req, &b, &err));
    LX_ASSERT_EQ(400, err.http_status);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(gemini_body_thinking_extra_embeddings)
{
    struct lx_part user[] = {{.type = LX_PART_TEXT, .text = LX_STR("x")}};
    struct lx_msg msgs[] = {{.role = LX_ROLE_USER, .parts = user, .n_parts = 1}};
    struct lx_kv extra[] = {{LX_STR("safetySettings"), LX_STR("[{\"category\":\"C\"}]")},
                            {LX_STR("contents"), LX_STR("[]")}};
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    struct lx_err err;
    struct lx_str inputs[] = {LX_STR("a"), LX_STR("b\"")};
    struct lx_embed_req er = {.inputs = inputs, .n_inputs = 2, .dimensions = 256,
                              .input_type = LX_STR("search_query")};
    struct lx_config_provider conf = gm_conf();
    struct lx_provider_call call = {.conf = &conf, .model = LX_STR("text-embedding-004")};
    struct lx_arena *a = lx_arena_new(0, 1u << 22);
    struct lx_embed_resp eresp;
    struct lx_upstream_req out;

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 1;
    req.thinking = LX_THINKING_ENABLED;
    req.thinking_budget = 2048;
    req.extra = extra;
    req.n_extra = 2;
    req.source = LX_SRC_ANTHROPIC;
    LX_ASSERT_EQ(LX_OK, lx_gemini_encode_body(&req, &b, &err));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"thinkingConfig\":{\"thinkingBudget\":2048,"
                                     "\"includeThoughts\":true}"));
    LX_ASSERT(!gm_has(lx_buf_str(&b), "safetySettings")); /* another family's extras */
    lx_buf_reset(&b);
    req.source = LX_SRC_GEMINI;
    req.thinking = LX_THINKING_DISABLED;
    LX_ASSERT_EQ(LX_OK, lx_gemini_encode_body(&req, &b, &err));
    LX_ASSERT(gm_has(lx_buf_str(&b), "\"thinkingConfig\":{\"thinkingBudget\":0}}"));
    LX_ASSERT(gm_has(lx_buf_str(&b), ",\"safetySettings\":[{\"category\":\"C\"}]}"));
    LX_ASSERT(!gm_has(lx_buf_str(&b), "\"contents\":[]"));
    lx_buf_release(&b);

    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.build_embeddings(&call, &er, a, &out, &err));
    LX_ASSERT(lx_str_ends_with(out.url, LX_STR("/models/text-embedding-004:batchEmbedContents")));
    LX_ASSERT_STR(out.body,
                  "{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":"
                  "[{\"text\":\"a\"}]},\"outputDimensionality\":256,\"taskType\":"
                  "\"RETRIEVAL_QUERY\"},{\"model\":\"models/text-embedding-004\",\"content\":"
                  "{\"parts\":[{\"text\":\"b\\\"\"}]},\"outputDimensionality\":256,\"taskType\":"
                  "\"RETRIEVAL_QUERY\"}]}");
    LX_ASSERT_EQ(LX_OK, lx_provider_gemini.parse_embeddings(
                            &call, LX_STR("{\"embeddings\":[{\"values\":[0.1,-2e-3]},{\"values\":"
                                          "[1]}]}"),
                            a, &eresp, &err));
    LX_ASSERT_EQ(2, eresp.n_vectors);
    LX_ASSERT_STR(eresp.vectors[0], "[0.1,-2e-3]");
    LX_ASSERT_EQ(LX_EPARSE, lx_provider_gemini.parse_embeddings(
                                &call, LX_STR("{\"embeddings\":[{\"values\":[\"x\"]}]}"), a,
                                &eresp, &err));
    lx_arena_free(a);
    return 0;
}
