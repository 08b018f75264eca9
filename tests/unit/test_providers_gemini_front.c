/* test_providers_gemini_front.c - the Gemini front door (src/providers/gemini_front.c): the
 * request fixtures decoded into the IR (roles, functionCall/functionResponse pairing by name and
 * order, schemas turned into JSON Schema, extras), Gemini -> IR -> Gemini round trips, answers
 * encoded and read back by the Gemini provider decoder, recorded streams re-encoded and
 * re-parsed at every split point, and errors in Google's shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "providers/gemini.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

#define GF_GET(doc, o, lit) lx_json_get((doc), (o), LX_STR(lit))

static bool gf_has(struct lx_str s, const char *lit)
{
    size_t n = strlen(lit);

    for (size_t i = 0; s.ptr != NULL && i + n <= s.len; i++)
        if (memcmp(s.ptr + i, lit, n) == 0)
            return true;
    return false;
}

static struct lx_str gf_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

static int gf_decode(struct lx_str body, struct lx_arena *a, struct lx_chat_req *r,
                     struct lx_err *err)
{
    return lx_frontdoor_gemini.decode_request(body, a, r, err);
}

LX_TEST(gemini_front_decode_fixture)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    char *keep;
    struct lx_str body = gf_read("protocols/fixtures/gemini/generate_request.json", &keep);
    struct lx_buf b = LX_BUF_INIT(1u << 20);

    LX_ASSERT(body.ptr != NULL);
    if (gf_decode(body, a, &r, &err) != LX_OK)
        LX_FAIL("decode: %s", err.msg);
    LX_ASSERT_EQ(LX_SRC_GEMINI, r.source);
    LX_ASSERT_EQ(4, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_SYSTEM, r.msgs[0].role);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "You are a concise weather assistant.");
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[1].role);
    LX_ASSERT_EQ(2, r.msgs[1].n_parts);
    LX_ASSERT_EQ(LX_PART_IMAGE, r.msgs[1].parts[1].type);
    LX_ASSERT_STR(r.msgs[1].parts[1].media_type, "image/png");
    LX_ASSERT(lx_str_starts_with(r.msgs[1].parts[1].data, LX_STR("iVBORw0KGgo")));
    LX_ASSERT_EQ(LX_ROLE_ASSISTANT, r.msgs[2].role);
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, r.msgs[2].parts[0].type);
    LX_ASSERT_STR(r.msgs[2].parts[0].name, "get_weather");
    LX_ASSERT(gf_has(r.msgs[2].parts[0].args, "\"city\": \"Paris\""));
    LX_ASSERT(lx_str_starts_with(r.msgs[2].parts[0].id, LX_STR("call_")));
    LX_ASSERT_EQ(LX_ROLE_TOOL, r.msgs[3].role);
    LX_ASSERT_EQ(LX_PART_TOOL_RESULT, r.msgs[3].parts[0].type);
    LX_ASSERT(lx_str_eq(r.msgs[3].parts[0].id, r.msgs[2].parts[0].id));
    LX_ASSERT_STR(r.msgs[3].parts[0].name, "get_weather");
    LX_ASSERT(gf_has(r.msgs[3].parts[0].text, "\"temp_c\": 18"));
    LX_ASSERT_EQ(1, r.n_tools);
    LX_ASSERT_STR(r.tools[0].name, "get_weather");
    LX_ASSERT_STR(r.tools[0].parameters, "{\"type\":\"object\",\"properties\":{\"city\":"
                                         "{\"type\":\"string\"}},\"required\":[\"city\"]}");
    LX_ASSERT_EQ(LX_TOOL_CHOICE_AUTO, r.tool_choice);
    LX_ASSERT_STR(r.temperature.raw, "0.7");
    LX_ASSERT_STR(r.top_p.raw, "0.95");
    LX_ASSERT_EQ(1024, r.max_tokens);
    LX_ASSERT_EQ(1, r.n_stop);
    LX_ASSERT_STR(r.stop[0], "\n\nUser:");
    LX_ASSERT_EQ(1, r.n);
    LX_ASSERT_EQ(1, r.n_extra);
    LX_ASSERT_STR(r.extra[0].key, "safetySettings");
    LX_ASSERT(gf_has(r.extra[0].value, "HARM_CATEGORY_HARASSMENT"));

    /* Gemini -> IR -> Gemini: what the upstream gets keeps the client's meaning */
    if (lx_gemini_encode_body(&r, &b, &err) != LX_OK)
        LX_FAIL("encode: %s", err.msg);
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"systemInstruction\":{\"parts\":[{\"text\":\"You are a "
                                     "concise weather assistant.\"}]}"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
                                     "\"get_weather\",\"args\":{"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "{\"role\":\"user\",\"parts\":[{\"functionResponse\":"
                                     "{\"name\":\"get_weather\",\"response\":{"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"safetySettings\":["));
    LX_ASSERT(gf_has(lx_buf_str(&b), "HARM_CATEGORY_HARASSMENT"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
                                     "\"AUTO\"}}"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"stopSequences\":[\"\\n\\nUser:\"],\"candidateCount\":1"));
    {
        struct lx_json doc;

        lx_json_init(&doc, NULL);
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
        LX_ASSERT_EQ(3, lx_json_count(&doc, GF_GET(&doc, 0, "contents")));
        lx_json_release(&doc);
    }
    lx_buf_release(&b);
    free(keep);

    body = gf_read("protocols/fixtures/gemini/generate_request_json_mode.json", &keep);
    LX_ASSERT_EQ(LX_OK, gf_decode(body, a, &r, &err));
    LX_ASSERT_EQ(LX_RF_JSON_SCHEMA, r.response_format);
    LX_ASSERT_STR(r.schema, "{\"type\":\"object\",\"properties\":{\"colors\":{\"type\":"
                            "\"array\",\"items\":{\"type\":\"string\"}}},\"required\":"
                            "[\"colors\"]}");
    LX_ASSERT_EQ(1, r.n_msgs);
    free(keep);
    lx_arena_free(a);
    return 0;
}

LX_TEST(gemini_front_decode_pairing_and_errors)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    static const struct {
        const char *body, *needle;
    } bad[] = {
        {"{\"contents\":[]}", "contents is not specified"},
        {"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],\"tools\":[{"
         "\"googleSearch\":{}}]}", "googleSearch"},
        {"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"functionCall\":{\"name\":\"f\"}}]}]}",
         "model turn"},
        {"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"executableCode\":{}}]}]}",
         "executableCode"},
        {"{\"contents\":[{\"role\":\"bot\",\"parts\":[{\"text\":\"x\"}]}]}", "role"},
        {"{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}],\"generationConfig\":{\"temperature\":"
         "\"hot\"}}", "temperature"},
        {"{\"contents\":", "Invalid JSON payload"},
        {"{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}],\"generationConfig\":"
         "{\"responseMimeType\":\"text/x.enum\"}}", "responseMimeType"},
    };

    /* two calls of one name and one of another; results answer by name and order, or by id */
    LX_ASSERT_EQ(LX_OK,
                 gf_decode(LX_STR("{\"contents\":[{\"parts\":[{\"text\":\"go\"}]},"
                                  "{\"role\":\"model\",\"parts\":[{\"thought\":true,\"text\":"
                                  "\"plan\",\"thoughtSignature\":\"TS\"},{\"functionCall\":"
                                  "{\"name\":\"f\",\"args\":{\"i\":1}},\"thoughtSignature\":"
                                  "\"S1\"},{\"functionCall\":{\"name\":\"f\",\"args\":{\"i\":2}}},"
                                  "{\"functionCall\":{\"name\":\"g\",\"id\":\"gid\"}}]},"
                                  "{\"role\":\"function\",\"parts\":[{\"functionResponse\":{"
                                  "\"name\":\"g\",\"id\":\"gid\",\"response\":{\"ok\":true}}},"
                                  "{\"functionResponse\":{\"name\":\"f\",\"response\":{\"r\":1}}},"
                                  "{\"functionResponse\":{\"name\":\"f\",\"response\":{\"r\":2}}},"
                                  "{\"text\":\"and now?\"}]}],"
                                  "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":"
                                  "0,\"includeThoughts\":true},\"seed\":5,\"topK\":40.0},"
                                  "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
                                  "\"allowedFunctionNames\":[\"f\"]}},\"cachedContent\":"
                                  "\"cachedContents/x\"}"),
                           a, &r, &err));
    LX_ASSERT_EQ(6, r.n_msgs); /* user, model, tool x3, user */
    LX_ASSERT_EQ(4, r.msgs[1].n_parts);
    LX_ASSERT_EQ(LX_PART_THINKING, r.msgs[1].parts[0].type);
    LX_ASSERT_STR(r.msgs[1].parts[0].signature, "TS");
    LX_ASSERT_STR(r.msgs[1].parts[1].signature, "S1");
    LX_ASSERT_STR(r.msgs[1].parts[3].id, "gid");
    LX_ASSERT_STR(r.msgs[1].parts[3].args, "{}");
    LX_ASSERT_STR(r.msgs[2].parts[0].id, "gid");
    LX_ASSERT(lx_str_eq(r.msgs[3].parts[0].id, r.msgs[1].parts[1].id));
    LX_ASSERT(lx_str_eq(r.msgs[4].parts[0].id, r.msgs[1].parts[2].id));
    LX_ASSERT(!lx_str_eq(r.msgs[1].parts[1].id, r.msgs[1].parts[2].id));
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[5].role);
    LX_ASSERT_EQ(LX_THINKING_DISABLED, r.thinking);
    LX_ASSERT(r.include_thoughts);
    LX_ASSERT(r.has_seed && r.seed == 5);
    LX_ASSERT_EQ(40, r.top_k);
    LX_ASSERT_EQ(LX_TOOL_CHOICE_NAMED, r.tool_choice);
    LX_ASSERT_STR(r.tool_choice_name, "f");
    LX_ASSERT_EQ(1, r.n_extra);
    LX_ASSERT_STR(r.extra[0].key, "cachedContent");

    /* fuzz regression: a part with both functionCall and functionResponse is a call, and the
     * parts after it still fit their message */
    LX_ASSERT_EQ(LX_OK, gf_decode(LX_STR("{\"contents\":[{\"role\":\"model\",\"parts\":["
                                         "{\"text\":\"a\"},{\"functionCall\":{\"name\":\"f\"},"
                                         "\"functionResponse\":{}},{\"text\":\"b\"},{\"text\":"
                                         "\"c\"}]}]}"),
                                  a, &r, &err));
    LX_ASSERT_EQ(1, r.n_msgs);
    LX_ASSERT_EQ(4, r.msgs[0].n_parts);
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, r.msgs[0].parts[1].type);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = gf_decode(lx_str_cstr(bad[i].body), a, &r, &err);

        if (rc != LX_EINVAL || err.http_status != 400 || strstr(err.msg, bad[i].needle) == NULL)
            LX_FAIL("case %zu: rc %d status %d msg %s", i, rc, err.http_status, err.msg);
    }
    lx_arena_free(a);
    return 0;
}

/* The recorded tool-call answer, through the provider decoder and the front door encoder, and
 * back through the provider decoder. */
LX_TEST(gemini_front_encode_response_round_trip)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_provider_call call = {.model = LX_STR("m")};
    struct lx_chat_req req;
    struct lx_chat_resp r, back;
    struct lx_err err;
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    char *keep;
    struct lx_str body = gf_read("protocols/fixtures/gemini/generate_response_tool_call.json",
                                 &keep);

    lx_chat_req_init(&req);
    req.model = LX_STR("my-alias");
    LX_ASSERT_EQ(LX_OK, lx_gemini_parse_response(&call, body, a, &r, &err));
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_response(&req, &r, 1700000000, &b));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"finishReason\":\"STOP\""));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"modelVersion\":\"my-alias\""));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"responseId\":\"m36LaZGyCLz1xs0PtNSB-QU\""));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"usageMetadata\":{\"promptTokenCount\":29,"
                                     "\"candidatesTokenCount\":15,\"thoughtsTokenCount\":893,"
                                     "\"totalTokenCount\":937}"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "{\"functionCall\":{\"id\":\"call_"));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"args\":{\"location\":\"San Francisco\"}},"
                                     "\"thoughtSignature\":\"EskgCsYgAb4"));
    LX_ASSERT_EQ(LX_OK, lx_gemini_parse_response(&call, lx_buf_str(&b), a, &back, &err));
    LX_ASSERT_EQ(LX_FINISH_TOOL_CALLS, back.choices[0].finish);
    LX_ASSERT(lx_str_eq(back.choices[0].message.parts[0].id, r.choices[0].message.parts[0].id));
    LX_ASSERT(lx_str_eq(back.choices[0].message.parts[0].signature,
                        r.choices[0].message.parts[0].signature));
    LX_ASSERT_EQ(r.usage.output, back.usage.output);
    LX_ASSERT_EQ(r.usage.reasoning, back.usage.reasoning);
    free(keep);

    /* a refusal from another provider: its word is not Gemini's */
    {
        struct lx_part txt = {.type = LX_PART_TEXT, .text = LX_STR("no")};
        struct lx_choice ch = {.index = 0, .message = {.role = LX_ROLE_ASSISTANT, .parts = &txt,
                                                       .n_parts = 1},
                               .finish = LX_FINISH_CONTENT_FILTER,
                               .finish_raw = LX_STR("refusal")};

        lx_chat_resp_init(&r);
        r.choices = &ch;
        r.n_choices = 1;
        lx_buf_reset(&b);
        LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_response(&req, &r, 255, &b));
        LX_ASSERT(gf_has(lx_buf_str(&b), "\"finishReason\":\"SAFETY\""));
        LX_ASSERT(gf_has(lx_buf_str(&b), "\"responseId\":\"llmux-ff\""));
        LX_ASSERT(!gf_has(lx_buf_str(&b), "usageMetadata"));
    }
    lx_buf_release(&b);
    lx_arena_free(a);
    return 0;
}

/* ---- streams: provider deltas -> front door bytes -> provider deltas again -------------- */

struct gf_pipe {
    struct lx_fd_stream st;
    struct lx_buf out;
    int rc;
};

static int gf_pipe_emit(void *ctx, const struct lx_delta *d)
{
    struct gf_pipe *p = ctx;
    int rc = lx_frontdoor_gemini.encode_delta(&p->st, d, &p->out);

    if (rc != LX_OK && p->rc == LX_OK)
        p->rc = rc;
    return rc;
}

static int gf_reencode(const char *rel, const struct lx_chat_req *req, struct lx_arena *a,
                       struct lx_buf *out)
{
    struct lx_provider_call call = {.model = LX_STR("m"), .stream = true};
    struct gf_pipe p;
    struct lx_delta_sink sink = {gf_pipe_emit, &p};
    struct lx_stream_decoder d;
    char *keep;
    struct lx_str bytes = gf_read(rel, &keep);
    int rc;

    memset(&p, 0, sizeof(p));
    p.st.req = req;
    p.st.a = a;
    p.st.created = 1;
    p.st.usage = (struct lx_usage)LX_USAGE_INIT;
    lx_buf_init(&p.out, 1u << 22);
    rc = lx_stream_decoder_init(&d, &lx_provider_gemini, &call, a, 1u << 20, &sink);
    if (rc == LX_OK)
        rc = lx_stream_decoder_feed(&d, bytes);
    if (rc == LX_OK)
        rc = lx_stream_decoder_finish(&d);
    lx_stream_decoder_release(&d);
    free(keep);
    *out = p.out;
    return rc != LX_OK ? rc : p.rc;
}

LX_TEST(gemini_front_stream_reencode)
{
    static const char *const files[] = {"protocols/fixtures/gemini/stream.sse",
                                        "protocols/fixtures/gemini/stream_tool_call.sse",
                                        "protocols/fixtures/gemini/stream_thinking.sse"};
    struct lx_chat_req req;

    lx_chat_req_init(&req);
    req.model = LX_STR("alias");
    for (size_t i = 0; i < 3; i++) {
        struct lx_arena *a = lx_arena_new(0, 1u << 24);
        struct lx_buf bytes;
        struct lx_pt_summary orig, again;
        struct lx_provider_call call = {.model = LX_STR("m"), .stream = true};
        char *keep;
        struct lx_str raw = gf_read(files[i], &keep);

        LX_ASSERT_EQ(LX_OK, gf_reencode(files[i], &req, a, &bytes));
        LX_ASSERT(gf_has(lx_buf_str(&bytes), "\"modelVersion\":\"alias\""));
        lx_pt_summary_init(&orig);
        lx_pt_summary_init(&again);
        LX_ASSERT_EQ(LX_OK, lx_pt_replay(&lx_provider_gemini, &call, raw, LX_PT_NO_SPLIT, &orig));
        if (lx_pt_replay_all_splits(&lx_provider_gemini, &call, lx_buf_str(&bytes), 1, &again))
            LX_FAIL("%s: re-encoded stream differs across splits", files[i]);
        if (orig.text.len != again.text.len || memcmp(orig.text.ptr, again.text.ptr,
                                                      orig.text.len) != 0)
            LX_FAIL("%s: text differs:\n%s\n---\n%s", files[i], lx_pt_lines(&orig),
                    lx_pt_lines(&again));
        LX_ASSERT_EQ(orig.n_tools, again.n_tools);
        for (int t = 0; t < orig.n_tools; t++) {
            LX_ASSERT_STREQ(orig.tools[t].id, again.tools[t].id);
            LX_ASSERT_STREQ(orig.tools[t].name, again.tools[t].name);
            LX_ASSERT_STREQ(orig.tools[t].args.ptr, again.tools[t].args.ptr);
            LX_ASSERT_STREQ(orig.tools[t].signature.ptr, again.tools[t].signature.ptr);
        }
        LX_ASSERT_EQ(orig.finish, again.finish);
        LX_ASSERT_EQ(orig.usage.input, again.usage.input);
        LX_ASSERT_EQ(orig.usage.output, again.usage.output);
        LX_ASSERT_EQ(orig.usage.reasoning, again.usage.reasoning);
        LX_ASSERT_EQ(1, again.n_done);
        lx_pt_summary_release(&orig);
        lx_pt_summary_release(&again);
        lx_buf_release(&bytes);
        free(keep);
        lx_arena_free(a);
    }
    return 0;
}

/* OpenAI-style deltas: argument fragments of two calls, thinking the client did not ask for,
 * usage after the finish; then an error in the middle of a stream. */
LX_TEST(gemini_front_stream_fragments_and_errors)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_delta d[9];
    struct lx_upstream_error ue;

    lx_chat_req_init(&req);
    req.model = LX_STR("m");
    memset(&st, 0, sizeof(st));
    st.req = &req;
    st.a = a;
    st.usage = (struct lx_usage)LX_USAGE_INIT;
    memset(d, 0, sizeof(d));
    for (int i = 0; i < 9; i++)
        d[i].usage = (struct lx_usage)LX_USAGE_INIT;
    d[0].type = LX_DELTA_START;
    d[0].id = LX_STR("chatcmpl-1");
    d[1].type = LX_DELTA_THINKING;
    d[1].text = LX_STR("hidden");
    d[2].type = LX_DELTA_TOOL_CALL;
    d[2].tool_index = 0;
    d[2].id = LX_STR("call_a");
    d[2].name = LX_STR("f");
    d[2].text = LX_STR("{\"x\":");
    d[3].type = LX_DELTA_TOOL_CALL;
    d[3].tool_index = 0;
    d[3].text = LX_STR("1}");
    d[4].type = LX_DELTA_TOOL_CALL;
    d[4].tool_index = 1;
    d[4].id = LX_STR("call_b");
    d[4].name = LX_STR("g");
    d[4].text = LX_STR("{}");
    d[5].type = LX_DELTA_FINISH;
    d[5].finish = LX_FINISH_TOOL_CALLS;
    d[5].finish_raw = LX_STR("tool_calls");
    d[6].type = LX_DELTA_USAGE;
    d[6].usage.input = 10;
    d[6].usage.output = 7;
    d[6].usage.reasoning = 2;
    d[7].type = LX_DELTA_DONE;
    d[8].type = LX_DELTA_TEXT;
    d[8].text = LX_STR("after the end");
    for (int i = 0; i < 9; i++)
        LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_delta(&st, &d[i], &out));
    LX_ASSERT_STR(lx_buf_str(&out),
                  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":"
                  "\"call_a\",\"name\":\"f\",\"args\":{\"x\":1}}}],\"role\":\"model\"},"
                  "\"index\":0}],\"modelVersion\":\"m\",\"responseId\":\"chatcmpl-1\"}\n\n"
                  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":"
                  "\"call_b\",\"name\":\"g\",\"args\":{}}}],\"role\":\"model\"},\"index\":0}],"
                  "\"modelVersion\":\"m\",\"responseId\":\"chatcmpl-1\"}\n\n"
                  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":"
                  "\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
                  "{\"promptTokenCount\":10,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":2,"
                  "\"totalTokenCount\":17},\"modelVersion\":\"m\",\"responseId\":"
                  "\"chatcmpl-1\"}\n\n");
    LX_ASSERT(st.finished);

    /* an error after the stream started */
    memset(&st, 0, sizeof(st));
    st.req = &req;
    st.a = a;
    lx_buf_reset(&out);
    lx_upstream_error_init(&ue);
    ue.status = 429;
    ue.type = LX_ERRT_RATE_LIMIT;
    ue.message = LX_STR("slow down");
    memset(&d[0], 0, sizeof(d[0]));
    d[0].type = LX_DELTA_ERROR;
    d[0].error = &ue;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_delta(&st, &d[0], &out));
    LX_ASSERT_STR(lx_buf_str(&out), "data: {\"error\":{\"code\":429,\"message\":\"slow down\","
                                    "\"status\":\"RESOURCE_EXHAUSTED\"}}\n\n");
    lx_buf_reset(&out);
    memset(&st, 0, sizeof(st));
    st.req = &req;
    st.a = a;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_stream_error(&st, LX_ERRT_OVERLOADED,
                                                                LX_STR("busy"), &out));
    LX_ASSERT_STR(lx_buf_str(&out), "data: {\"error\":{\"code\":503,\"message\":\"busy\","
                                    "\"status\":\"UNAVAILABLE\"}}\n\n");
    LX_ASSERT(st.finished);
    lx_buf_reset(&out);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_error(400, LX_ERRT_INVALID_REQUEST,
                                                         LX_STR("bad \"x\""), LX_STR(""), &out));
    LX_ASSERT_STR(lx_buf_str(&out), "{\"error\":{\"code\":400,\"message\":\"bad \\\"x\\\"\","
                                    "\"status\":\"INVALID_ARGUMENT\"}}");
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

/* A Gemini client's signed text and thoughts survive Gemini -> IR -> Gemini; thoughts go back to
 * the client only when it asked for them. */
LX_TEST(gemini_front_signatures_and_thoughts)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    struct lx_fd_stream st;
    struct lx_delta d;

    LX_ASSERT_EQ(LX_OK, gf_decode(LX_STR("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
                                         "\"q\"}]},{\"role\":\"model\",\"parts\":[{\"text\":"
                                         "\"a\",\"thoughtSignature\":\"TSIG\"}]},{\"role\":"
                                         "\"user\",\"parts\":[{\"text\":\"more\"}]}]}"),
                                  a, &r, &err));
    LX_ASSERT_STR(r.msgs[1].parts[0].signature, "TSIG");
    LX_ASSERT_EQ(LX_OK, lx_gemini_encode_body(&r, &b, &err));
    LX_ASSERT(gf_has(lx_buf_str(&b), "{\"role\":\"model\",\"parts\":[{\"text\":\"a\","
                                     "\"thoughtSignature\":\"TSIG\"}]}"));
    lx_buf_reset(&b);

    memset(&st, 0, sizeof(st));
    st.req = &r;
    st.a = a;
    memset(&d, 0, sizeof(d));
    d.type = LX_DELTA_THINKING;
    d.text = LX_STR("think");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_delta(&st, &d, &b));
    LX_ASSERT_EQ(0, b.len); /* not asked for */
    r.include_thoughts = true;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_gemini.encode_delta(&st, &d, &b));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"parts\":[{\"text\":\"think\",\"thought\":true}]"));
    lx_buf_reset(&b);

    /* generationConfig members the IR does not know travel to a Gemini upstream */
    LX_ASSERT_EQ(LX_OK, gf_decode(LX_STR("{\"contents\":[{\"parts\":[{\"text\":\"q\"}]}],"
                                         "\"generationConfig\":{\"responseModalities\":"
                                         "[\"TEXT\"],\"temperature\":1,\"responseLogprobs\":"
                                         "true}}"),
                                  a, &r, &err));
    LX_ASSERT_EQ(1, r.n_extra);
    LX_ASSERT_STR(r.extra[0].value, "{\"responseModalities\":[\"TEXT\"],"
                                    "\"responseLogprobs\":true}");
    LX_ASSERT_EQ(LX_OK, lx_gemini_encode_body(&r, &b, &err));
    LX_ASSERT(gf_has(lx_buf_str(&b), "\"generationConfig\":{\"temperature\":1,"
                                     "\"responseModalities\":[\"TEXT\"],"
                                     "\"responseLogprobs\":true}}"));
    r.source = LX_SRC_OPENAI; /* another family's upstream never sees them */
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx_gemini_encode_body(&r, &b, &err));
    LX_ASSERT(!gf_has(lx_buf_str(&b), "responseModalities"));
    lx_buf_release(&b);
    lx_arena_free(a);
    return 0;
}

/* Arenas too small for the input: a clean LX_ENOMEM (503), never a crash or a partial IR. */
LX_TEST(gemini_front_small_arena)
{
    char *keep;
    struct lx_str body = gf_read("protocols/fixtures/gemini/generate_request.json", &keep);
    int n_ok = 0;

    LX_ASSERT(body.ptr != NULL);
    for (size_t max = 256; max <= (1u << 16); max *= 2) {
        struct lx_arena *a = lx_arena_new(256, max);
        struct lx_chat_req r;
        struct lx_chat_resp resp;
        struct lx_provider_call call = {.model = LX_STR("m")};
        struct lx_err err;
        int rc = gf_decode(body, a, &r, &err);

        if (rc == LX_OK)
            n_ok++;
        else if (rc != LX_ENOMEM || err.http_status != 503)
            LX_FAIL("max %zu: rc %d status %d", max, rc, err.http_status);
        rc = lx_gemini_parse_response(&call, LX_STR("{\"candidates\":[{\"content\":{\"parts\":["
                                                    "{\"text\":\"x\"}]}}]}"),
                                      a, &resp, &err);
        LX_ASSERT(rc == LX_OK || rc == LX_ENOMEM || rc == LX_EPARSE);
        lx_arena_free(a);
    }
    LX_ASSERT(n_ok > 0);
    free(keep);
    return 0;
}
