/* test_providers_anthropic_front.c - the front door for Anthropic clients
 * (src/providers/anthropic_front.c): the fixture request and hand-made ones decoded (and
 * refused in Anthropic's words), answers encoded and read back, and every Anthropic fixture
 * stream decoded by the provider, re-encoded by the front door and decoded again: the same
 * transcript, with the exact event sequence and block indexes Anthropic's SDK expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "providers/anthropic.h"
#include "providers/stream.h"
#include "sse/sse.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"
#include "json/json.h"

static const struct lx_frontdoor_ops *const fd = &lx_frontdoor_anthropic;

static struct lx_str fdt_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

/* ---- decode_request ------------------------------------------------------------------- */

LX_TEST(anthropic_front_decode_fixture)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_chat_req r;
    struct lx_err err = {0};
    char *raw;
    struct lx_str body = fdt_read("protocols/fixtures/anthropic/messages_request.json", &raw);
    const struct lx_part *p;

    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(LX_OK, fd->decode_request(body, a, &r, &err));
    LX_ASSERT_EQ(LX_SRC_ANTHROPIC, r.source);
    LX_ASSERT_STR(r.model, "claude-sonnet-4-5-20250929");
    LX_ASSERT_EQ(1024, r.max_tokens);
    LX_ASSERT_EQ(4, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_SYSTEM, r.msgs[0].role);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "You are a concise weather assistant.");
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[1].role);
    LX_ASSERT_EQ(2, r.msgs[1].n_parts);
    p = &r.msgs[1].parts[1];
    LX_ASSERT_EQ(LX_PART_IMAGE, p->type);
    LX_ASSERT_STR(p->media_type, "image/png");
    LX_ASSERT(p->data.len > 20);
    LX_ASSERT_EQ(LX_ROLE_ASSISTANT, r.msgs[2].role);
    p = &r.msgs[2].parts[1];
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, p->type);
    LX_ASSERT_STR(p->id, "toolu_01A09q90qw90lq917835lq9");
    LX_ASSERT_STR(p->name, "get_weather");
    LX_ASSERT_STR(p->args, "{\n            \"city\": \"Paris\"\n          }");
    LX_ASSERT_EQ(LX_ROLE_TOOL, r.msgs[3].role);
    p = &r.msgs[3].parts[0];
    LX_ASSERT_EQ(LX_PART_TOOL_RESULT, p->type);
    LX_ASSERT_STR(p->id, "toolu_01A09q90qw90lq917835lq9");
    LX_ASSERT_STR(p->name, "get_weather");
    LX_ASSERT_STR(p->text, "{\"temp_c\": 18, \"sky\": \"cloudy\"}");
    LX_ASSERT_EQ(1, r.n_tools);
    LX_ASSERT_STR(r.tools[0].name, "get_weather");
    LX_ASSERT(lx_str_starts_with(r.tools[0].parameters, LX_STR("{")));
    LX_ASSERT_EQ(LX_TOOL_CHOICE_AUTO, r.tool_choice);
    LX_ASSERT_EQ(1, r.parallel_tool_calls);
    LX_ASSERT_EQ(1, r.n_stop);
    LX_ASSERT_STR(r.stop[0], "\n\nHuman:");
    LX_ASSERT_STR(r.temperature.raw, "0.7");
    LX_ASSERT(!r.stream);
    LX_ASSERT_STR(r.user, "user-1234");
    LX_ASSERT_EQ(0, r.n_extra);
    free(raw);
    lx_arena_free(a);
    return 0;
}

LX_TEST(anthropic_front_decode_shapes)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_chat_req r;
    struct lx_err err = {0};
    const char *body =
        "{\"model\":\"claude\",\"max_tokens\":64000,\"stream\":true,"
        "\"system\":[{\"type\":\"text\",\"text\":\"S\",\"cache_control\":{\"type\":\"ephemeral\"}}]"
        ","
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":10000},"
        "\"service_tier\":\"auto\",\"top_k\":5,"
        "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}"
        ","
        "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\",\"disable_parallel_tool_use\":true},"
        "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"},"
        "\"cache_control\":{\"type\":\"ephemeral\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
        "\"signature\":\"sig\"},{\"type\":\"redacted_thinking\",\"data\":\"d\"},"
        "{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":{}},"
        "{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"f\",\"input\":{\"x\":1}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"a\","
        "\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":\"r1\"},{\"type\":\"image\","
        "\"source\":{\"type\":\"url\",\"url\":\"https://x/i.png\"}}]},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"b\",\"content\":[{\"type\":\"text\","
        "\"text\":\"r2\"}]},{\"type\":\"text\",\"text\":\"go on\"},"
        "{\"type\":\"document\",\"title\":\"doc\",\"source\":{\"type\":\"base64\","
        "\"media_type\":\"application/pdf\",\"data\":\"JVBE\"}}]}]}";

    LX_ASSERT_EQ(LX_OK, fd->decode_request(lx_str_cstr(body), a, &r, &err));
    LX_ASSERT(r.stream);
    LX_ASSERT(r.msgs[0].parts[0].cache);
    LX_ASSERT_EQ(LX_THINKING_ENABLED, r.thinking);
    LX_ASSERT_EQ(10000, r.thinking_budget);
    LX_ASSERT_EQ(5, r.top_k);
    LX_ASSERT_EQ(LX_RF_JSON_SCHEMA, r.response_format);
    LX_ASSERT_STR(r.schema, "{\"type\":\"object\"}");
    LX_ASSERT_EQ(LX_TOOL_CHOICE_NAMED, r.tool_choice);
    LX_ASSERT_STR(r.tool_choice_name, "f");
    LX_ASSERT_EQ(0, r.parallel_tool_calls);
    LX_ASSERT(r.tools[0].cache);
    LX_ASSERT_EQ(1, r.n_extra);
    LX_ASSERT_STR(r.extra[0].key, "service_tier");
    LX_ASSERT_STR(r.extra[0].value, "\"auto\"");
    /* system, user, assistant, tool, tool, user (text + document) */
    LX_ASSERT_EQ(6, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_ASSISTANT, r.msgs[2].role);
    LX_ASSERT_EQ(4, r.msgs[2].n_parts);
    LX_ASSERT_STR(r.msgs[2].parts[0].signature, "sig");
    LX_ASSERT_EQ(LX_PART_REDACTED_THINKING, r.msgs[2].parts[1].type);
    LX_ASSERT_STR(r.msgs[2].parts[2].args, "{}");
    LX_ASSERT_EQ(LX_ROLE_TOOL, r.msgs[3].role);
    LX_ASSERT(r.msgs[3].parts[0].is_error);
    LX_ASSERT_EQ(2, r.msgs[3].parts[0].n_sub);
    LX_ASSERT_STR(r.msgs[3].parts[0].sub[1].url, "https://x/i.png");
    LX_ASSERT_EQ(LX_ROLE_TOOL, r.msgs[4].role);
    LX_ASSERT_STR(r.msgs[4].parts[0].text, "r2"); /* one text block: plain text */
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[5].role);
    LX_ASSERT_EQ(2, r.msgs[5].n_parts);
    LX_ASSERT_EQ(LX_PART_FILE, r.msgs[5].parts[1].type);
    LX_ASSERT_STR(r.msgs[5].parts[1].name, "doc");

    /* and back out to Anthropic (Vertex, Bedrock): ids, order, and the client's extra */
    {
        struct lx_buf b = LX_BUF_INIT(1 << 20);
        struct lx_json doc;
        int msgs, m;

        LX_ASSERT_EQ(LX_OK,
                     lx_anthropic_encode_body(&r, LX_STR("claude"), LX_STR_NULL, true, &b, &err));
        lx_json_init(&doc, NULL);
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
        LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("service_tier"))), "\"auto\"");
        LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("thinking"))),
                      "{\"type\":\"enabled\",\"budget_tokens\":10000}");
        LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("max_tokens"))), "64000");
        msgs = lx_json_get(&doc, 0, LX_STR("messages"));
        LX_ASSERT_EQ(3, lx_json_count(&doc, msgs));
        m = lx_json_sibling(&doc, msgs, lx_json_sibling(&doc, msgs, lx_json_first(&doc, msgs)));
        LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, m, LX_STR("content"))),
                      "[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":[{\"type\":"
                      "\"text\",\"text\":\"r1\"},{\"type\":\"image\",\"source\":{\"type\":\"url\","
                      "\"url\":\"https://x/i.png\"}}],\"is_error\":true},{\"type\":\"tool_result\","
                      "\"tool_use_id\":\"b\",\"content\":\"r2\"},{\"type\":\"text\",\"text\":"
                      "\"go on\"},{\"type\":\"document\",\"source\":{\"type\":\"base64\","
                      "\"media_type\":\"application/pdf\",\"data\":\"JVBE\"},\"title\":\"doc\"}]");
        lx_json_release(&doc);
        lx_buf_release(&b);
    }
    lx_arena_free(a);
    return 0;
}

static const struct {
    const char *body;
    const char *msg; /* a part of err.msg */
} fdt_bad[] = {
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "max_tokens: Field required"},
    {"{\"max_tokens\":1,\"messages\":[]}", "model: Field required"},
    {"{\"model\":\"m\",\"max_tokens\":1}", "messages: Field required"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}", "at least one message"},
    {"{\"model\":\"m\",\"max_tokens\":\"10\",\"messages\":[]}", "max_tokens: Input should be"},
    {"{\"model\":\"m\",\"max_tokens\":0,\"messages\":[]}", "greater than or equal to 1"},
    {"not json", "not a JSON object"},
    {"{\"model\":\"m\",\"model\":\"n\"}", "duplicate key"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
     "messages.0: role: Input should be 'user' or 'assistant'"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"search_result\"}]}]}",
     "messages.0.content.0: content block type 'search_result' is not supported"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
     "\"web_search\"}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "tools.0: tool type 'web_search_20250305' is not supported"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":{}}]}]}",
     "belong in assistant messages"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":[{"
     "\"type\":"
     "\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":[]}]}]}",
     "input: Input should be a valid dictionary"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"thinking\":{\"type\":\"enabled\"},\"messages\":[{"
     "\"role\":"
     "\"user\",\"content\":\"x\"}]}",
     "budget_tokens: Field required"},
    {"{\"model\":\"m\",\"max_tokens\":1,\"temperature\":\"hot\",\"messages\":[{\"role\":"
     "\"user\",\"content\":\"x\"}]}",
     "temperature: Input should be a valid number"},
};

LX_TEST(anthropic_front_decode_errors)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(fdt_bad); i++) {
        struct lx_arena *a = lx_arena_new(0, 1 << 20);
        struct lx_chat_req r;
        struct lx_err err = {0};
        int rc = fd->decode_request(lx_str_cstr(fdt_bad[i].body), a, &r, &err);

        lx_arena_free(a);
        if (rc != LX_EINVAL || err.http_status != 400 || strstr(err.msg, fdt_bad[i].msg) == NULL)
            LX_FAIL("case %zu: rc %d status %d msg \"%s\", want \"%s\"", i, rc, err.http_status,
                    err.msg, fdt_bad[i].msg);
    }
    return 0;
}

/* ---- encode_response ------------------------------------------------------------------ */

LX_TEST(anthropic_front_encode_response)
{
    struct lx_part parts[5];
    struct lx_choice ch;
    struct lx_chat_resp resp;
    struct lx_chat_req req;
    struct lx_buf b = LX_BUF_INIT(1 << 16);

    memset(parts, 0, sizeof(parts));
    memset(&ch, 0, sizeof(ch));
    parts[0].type = LX_PART_THINKING;
    parts[0].text = LX_STR("hm");
    parts[0].signature = LX_STR("s");
    parts[1].type = LX_PART_TEXT;
    parts[1].text = LX_STR("Hi \"there\"");
    parts[2].type = LX_PART_TOOL_CALL;
    parts[2].id = LX_STR("call_1");
    parts[2].name = LX_STR("f");
    parts[2].args = LX_STR("{\"a\": [1, 2]}");
    parts[3].type = LX_PART_TOOL_CALL;
    parts[3].name = LX_STR("g");
    parts[3].args = LX_STR("{broken");
    parts[4].type = LX_PART_TEXT; /* empty: dropped */
    ch.message = (struct lx_msg){LX_ROLE_ASSISTANT, parts, 5, LX_STR_NULL};
    ch.finish = LX_FINISH_TOOL_CALLS;
    ch.finish_raw = LX_STR("tool_calls");
    lx_chat_resp_init(&resp);
    resp.id = LX_STR("chatcmpl-9x/y");
    resp.model = LX_STR("gpt-4o-2024");
    resp.choices = &ch;
    resp.n_choices = 1;
    resp.usage = (struct lx_usage){.input = 100,
                                   .output = 20,
                                   .total = 120,
                                   .cache_read = 30,
                                   .cache_write = 10,
                                   .reasoning = -1};
    lx_chat_req_init(&req);
    req.model = LX_STR("my-alias");
    LX_ASSERT_EQ(LX_OK, fd->encode_response(&req, &resp, 1700000000, &b));
    LX_ASSERT_STR(
        lx_buf_str(&b),
        "{\"id\":\"msg_chatcmpl-9xy\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"my-alias\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\","
        "\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"Hi \\\"there\\\"\"},"
        "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{\"a\": [1, 2]}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_chatcmpl-9xy_1\",\"name\":\"g\","
        "\"input\":{}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":60,\"cache_creation_input_tokens\":10,"
        "\"cache_read_input_tokens\":30,\"output_tokens\":20}}");

    /* a stop sequence, an id that is already Anthropic's, unknown usage */
    lx_buf_reset(&b);
    ch.message.n_parts = 2;
    ch.finish = LX_FINISH_STOP;
    ch.finish_raw = LX_STR("stop");
    ch.stop_sequence = LX_STR("END");
    resp.id = LX_STR("msg_abc");
    resp.usage = (struct lx_usage)LX_USAGE_INIT;
    LX_ASSERT_EQ(LX_OK, fd->encode_response(&req, &resp, 1700000000, &b));
    LX_ASSERT(strstr(b.ptr, "\"id\":\"msg_abc\"") != NULL);
    LX_ASSERT(strstr(b.ptr, "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"END\"") != NULL);
    LX_ASSERT(strstr(b.ptr, "\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,"
                            "\"cache_read_input_tokens\":0,\"output_tokens\":0}") != NULL);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(anthropic_front_errors)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_fd_stream st;
    struct lx_arena *a = lx_arena_new(0, 1 << 16);

    LX_ASSERT_EQ(LX_OK,
                 fd->encode_error(529, LX_ERRT_OVERLOADED, LX_STR("Overloaded"), LX_STR_NULL, &b));
    LX_ASSERT_STR(lx_buf_str(&b), "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                  "\"message\":\"Overloaded\"}}");
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, fd->encode_error(429, LX_ERRT_UNSET, LX_STR("slow"), LX_STR_NULL, &b));
    LX_ASSERT(strstr(b.ptr, "rate_limit_error") != NULL);
    lx_buf_reset(&b);
    memset(&st, 0, sizeof(st));
    st.a = a;
    LX_ASSERT_EQ(LX_OK, fd->encode_stream_error(&st, LX_ERRT_SERVER, LX_STR("boom"), &b));
    LX_ASSERT_STR(lx_buf_str(&b), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                  "\"api_error\",\"message\":\"boom\"}}\n\n");
    LX_ASSERT(st.finished);
    lx_buf_release(&b);
    lx_arena_free(a);
    return 0;
}

/* ---- encode_delta --------------------------------------------------------------------- */

struct fdt_relay {
    struct lx_fd_stream st;
    struct lx_buf out;
};

static int fdt_relay_emit(void *ctx, const struct lx_delta *d)
{
    struct fdt_relay *r = ctx;

    return fd->encode_delta(&r->st, d, &r->out);
}

/* The event names with their block index, "message_start content_block_start:0 ...", and
 * every event's data "type" must equal its name. */
struct fdt_events {
    struct lx_buf names;
    int bad;
};

static int fdt_event_cb(void *ctx, const struct lx_sse_event *ev)
{
    struct fdt_events *e = ctx;
    struct lx_json doc;
    int idx;

    lx_json_init(&doc, NULL);
    if (lx_json_parse(&doc, ev->data.ptr, ev->data.len) != LX_OK ||
        !lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("type")), ev->event))
        e->bad++;
    if (e->names.len > 0)
        lx_buf_append_char(&e->names, ' ');
    lx_buf_append_str(&e->names, ev->event);
    idx = lx_json_get(&doc, 0, LX_STR("index"));
    if (idx >= 0) {
        lx_buf_append_char(&e->names, ':');
        lx_buf_append_str(&e->names, lx_json_raw(&doc, idx));
    }
    lx_json_release(&doc);
    return LX_OK;
}

static int fdt_events(struct lx_str sse, struct fdt_events *e)
{
    struct lx_sse_parser p;
    int rc;

    lx_buf_init(&e->names, 1 << 20);
    e->bad = 0;
    lx_sse_init(&p, 1 << 20);
    rc = lx_sse_feed(&p, sse, fdt_event_cb, e);
    if (rc == LX_OK)
        rc = lx_sse_finish(&p);
    lx_sse_release(&p);
    lx_buf_append_char(&e->names, '\0');
    return rc;
}

static const struct {
    const char *file, *model, *events;
} fdt_streams[] = {
    {"messages_stream.sse", "claude-sonnet-4-5-20250929",
     "message_start content_block_start:0 content_block_delta:0 content_block_delta:0 "
     "content_block_delta:0 content_block_delta:0 content_block_delta:0 content_block_delta:0 "
     "content_block_stop:0 message_delta message_stop"},
    {"messages_stream_midstream_error.sse", "claude-sonnet-4-5-20250929",
     "message_start content_block_start:0 content_block_delta:0 error"},
    {"messages_stream_refusal.sse", "claude-fable-5", "message_start message_delta message_stop"},
    {"messages_stream_text_then_tool_no_args.sse", "claude-sonnet-4-5-20250929",
     "message_start content_block_start:0 content_block_delta:0 content_block_delta:0 "
     "content_block_stop:0 content_block_start:1 content_block_delta:1 content_block_stop:1 "
     "message_delta message_stop"},
    {"messages_stream_thinking.sse", "claude-sonnet-4-5-20250929",
     "message_start content_block_start:0 content_block_delta:0 content_block_delta:0 "
     "content_block_delta:0 content_block_delta:0 content_block_delta:0 content_block_delta:0 "
     "content_block_delta:0 content_block_delta:0 content_block_delta:0 content_block_delta:0 "
     "content_block_stop:0 content_block_start:1 content_block_delta:1 content_block_delta:1 "
     "content_block_delta:1 content_block_stop:1 message_delta message_stop"},
    {"messages_stream_tool_use.sse", "claude-haiku-4-5-20251001",
     "message_start content_block_start:0 content_block_delta:0 content_block_delta:0 "
     "content_block_stop:0 message_delta message_stop"},
};

/* Anthropic fixture -> provider -> IR -> front door -> SSE -> provider again: the same
 * transcript, and the exact event sequence. */
LX_TEST(anthropic_front_stream_round_trip)
{
    struct lx_config_provider c;
    struct lx_provider_call call;

    memset(&c, 0, sizeof(c));
    memset(&call, 0, sizeof(call));
    c.name = "anthropic";
    c.base_url = "https://api.anthropic.com/v1";
    call.conf = &c;
    for (size_t i = 0; i < LX_ARRAY_SIZE(fdt_streams); i++) {
        char rel[256], *raw;
        struct lx_str bytes;
        struct lx_arena *a = lx_arena_new(0, 1 << 22), *sa = lx_arena_new(0, 1 << 22);
        struct fdt_relay relay;
        struct lx_delta_sink sink = {fdt_relay_emit, &relay};
        struct lx_stream_decoder d;
        struct lx_chat_req req;
        struct lx_pt_summary first, second;
        struct fdt_events ev;
        int rc;

        snprintf(rel, sizeof(rel), "protocols/fixtures/anthropic/%s", fdt_streams[i].file);
        bytes = fdt_read(rel, &raw);
        LX_ASSERT(raw != NULL);
        lx_chat_req_init(&req);
        req.model = lx_str_cstr(fdt_streams[i].model);
        memset(&relay, 0, sizeof(relay));
        relay.st.req = &req;
        relay.st.a = sa;
        relay.st.created = 1700000000;
        lx_buf_init(&relay.out, 1 << 22);
        LX_ASSERT_EQ(LX_OK,
                     lx_stream_decoder_init(&d, &lx_provider_anthropic, &call, a, 1 << 20, &sink));
        rc = lx_stream_decoder_feed(&d, bytes);
        if (rc == LX_OK)
            rc = lx_stream_decoder_finish(&d);
        lx_stream_decoder_release(&d);
        LX_ASSERT_EQ(LX_OK, rc);

        lx_pt_summary_init(&first);
        lx_pt_summary_init(&second);
        lx_pt_replay(&lx_provider_anthropic, &call, bytes, LX_PT_NO_SPLIT, &first);
        lx_pt_replay(&lx_provider_anthropic, &call, lx_buf_str(&relay.out), LX_PT_NO_SPLIT,
                     &second);
        if (strcmp(lx_pt_lines(&first), lx_pt_lines(&second)) != 0)
            LX_FAIL("%s: re-encoded stream differs:\n--- upstream\n%s--- ours\n%s\n--- bytes\n%s",
                    rel, lx_pt_lines(&first), lx_pt_lines(&second), relay.out.ptr);
        LX_ASSERT_EQ(LX_OK, fdt_events(lx_buf_str(&relay.out), &ev));
        if (ev.bad != 0 || strcmp(ev.names.ptr, fdt_streams[i].events) != 0)
            LX_FAIL("%s: events (%d bad types)\n%s\nwant\n%s", rel, ev.bad, ev.names.ptr,
                    fdt_streams[i].events);
        LX_ASSERT(relay.st.finished);
        LX_ASSERT(relay.st.id.len > 4);
        lx_buf_release(&ev.names);
        lx_pt_summary_release(&first);
        lx_pt_summary_release(&second);
        lx_buf_release(&relay.out);
        lx_arena_free(a);
        lx_arena_free(sa);
        free(raw);
    }
    return 0;
}

static struct lx_delta fdt_delta(enum lx_delta_type t)
{
    struct lx_delta d;

    memset(&d, 0, sizeof(d));
    d.type = t;
    d.usage = (struct lx_usage)LX_USAGE_INIT;
    return d;
}

/* What an OpenAI upstream gives: reasoning without a signature, text, two tool calls with
 * fragments, usage at the very end. */
LX_TEST(anthropic_front_stream_from_openai)
{
    struct lx_arena *sa = lx_arena_new(0, 1 << 20);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1 << 20);
    struct fdt_events ev;
    struct lx_delta d;

    lx_chat_req_init(&req);
    req.model = LX_STR("alias");
    memset(&st, 0, sizeof(st));
    st.req = &req;
    st.a = sa;
    st.created = 1700000000;
    d = fdt_delta(LX_DELTA_START);
    d.id = LX_STR("chatcmpl-123");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(0, out.len); /* message_start waits for content */
    d = fdt_delta(LX_DELTA_THINKING);
    d.text = LX_STR("let me think");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_TEXT);
    d.text = LX_STR("Sure.");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_TOOL_CALL);
    d.tool_index = 0;
    d.id = LX_STR("call_a");
    d.name = LX_STR("f");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_TOOL_CALL);
    d.tool_index = 0;
    d.text = LX_STR("{\"x\":");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d.text = LX_STR("1}");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_TOOL_CALL);
    d.tool_index = 1;
    d.id = LX_STR("call_b");
    d.name = LX_STR("g");
    d.text = LX_STR("{}");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_TOOL_CALL); /* a late fragment for the closed call 0: dropped */
    d.tool_index = 0;
    d.text = LX_STR(" ");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_FINISH);
    d.finish = LX_FINISH_TOOL_CALLS;
    d.finish_raw = LX_STR("tool_calls");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_USAGE);
    d.usage.input = 50;
    d.usage.output = 7;
    d.usage.cache_read = 20;
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    d = fdt_delta(LX_DELTA_DONE);
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    LX_ASSERT(st.finished);
    LX_ASSERT_EQ(50, st.usage.input);
    LX_ASSERT_EQ(7, st.usage.output);
    LX_ASSERT_STR(st.id, "msg_chatcmpl-123");
    /* nothing after the end */
    d = fdt_delta(LX_DELTA_TEXT);
    d.text = LX_STR("late");
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    LX_ASSERT(strstr(out.ptr, "late") == NULL);

    LX_ASSERT_EQ(LX_OK, fdt_events(lx_buf_str(&out), &ev));
    LX_ASSERT_EQ(0, ev.bad);
    LX_ASSERT_STREQ(ev.names.ptr,
                    "message_start content_block_start:0 content_block_delta:0 "
                    "content_block_stop:0 content_block_start:1 content_block_delta:1 "
                    "content_block_stop:1 content_block_start:2 content_block_delta:2 "
                    "content_block_delta:2 content_block_stop:2 content_block_start:3 "
                    "content_block_delta:3 content_block_stop:3 message_delta message_stop");
    LX_ASSERT(strstr(out.ptr, "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":"
                              "{\"type\":\"tool_use\",\"id\":\"call_a\",\"name\":\"f\","
                              "\"input\":{}}}") != NULL);
    LX_ASSERT(strstr(out.ptr, "event: message_delta\ndata: {\"type\":\"message_delta\","
                              "\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
                              "\"usage\":{\"input_tokens\":30,\"cache_creation_input_tokens\":0,"
                              "\"cache_read_input_tokens\":20,\"output_tokens\":7}}\n\n") != NULL);
    LX_ASSERT(strstr(out.ptr, "\"id\":\"msg_chatcmpl-123\"") != NULL);
    lx_buf_release(&ev.names);
    lx_buf_release(&out);
    lx_arena_free(sa);
    return 0;
}

/* An empty answer still has Anthropic's whole frame; an error before any content is just the
 * error event. */
LX_TEST(anthropic_front_stream_edges)
{
    struct lx_arena *sa = lx_arena_new(0, 1 << 20);
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1 << 20);
    struct lx_delta d = fdt_delta(LX_DELTA_DONE);
    struct lx_upstream_error e;
    struct fdt_events ev;

    memset(&st, 0, sizeof(st));
    st.a = sa;
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(LX_OK, fdt_events(lx_buf_str(&out), &ev));
    LX_ASSERT_STREQ(ev.names.ptr, "message_start message_delta message_stop");
    LX_ASSERT(strstr(out.ptr, "\"stop_reason\":\"end_turn\"") != NULL);
    lx_buf_release(&ev.names);

    lx_buf_reset(&out);
    memset(&st, 0, sizeof(st));
    st.a = sa;
    lx_upstream_error_init(&e);
    e.type = LX_ERRT_RATE_LIMIT;
    e.message = LX_STR("slow down");
    d = fdt_delta(LX_DELTA_ERROR);
    d.error = &e;
    LX_ASSERT_EQ(LX_OK, fd->encode_delta(&st, &d, &out));
    LX_ASSERT_STR(lx_buf_str(&out), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                    "\"rate_limit_error\",\"message\":\"slow down\"}}\n\n");
    LX_ASSERT(st.finished);
    lx_buf_release(&out);
    lx_arena_free(sa);
    return 0;
}

/* ---- out of memory ---------------------------------------------------------------------- */

/* Upstream bytes -> provider -> front door, every allocation fallible. */
static int fdt_pipe(struct lx_str bytes)
{
    struct lx_config_provider c;
    struct lx_provider_call call;
    struct lx_arena *a = lx_arena_new(0, 1 << 22), *sa = lx_arena_new(0, 1 << 22);
    struct fdt_relay relay;
    struct lx_delta_sink sink = {fdt_relay_emit, &relay};
    struct lx_stream_decoder d;
    struct lx_chat_req req;
    int rc = LX_ENOMEM;

    memset(&c, 0, sizeof(c));
    memset(&call, 0, sizeof(call));
    c.base_url = "https://api.anthropic.com/v1";
    call.conf = &c;
    lx_chat_req_init(&req);
    req.model = LX_STR("claude");
    memset(&relay, 0, sizeof(relay));
    relay.st.req = &req;
    relay.st.a = sa;
    lx_buf_init(&relay.out, 1 << 22);
    if (a != NULL && sa != NULL) {
        rc = lx_stream_decoder_init(&d, &lx_provider_anthropic, &call, a, 1 << 20, &sink);
        if (rc == LX_OK) {
            rc = lx_stream_decoder_feed(&d, bytes);
            if (rc == LX_OK)
                rc = lx_stream_decoder_finish(&d);
            if (rc == LX_OK && (!d.st.done || !relay.st.finished))
                rc = LX_EINVAL; /* must not happen: a clean run ends cleanly */
        }
        lx_stream_decoder_release(&d);
    }
    lx_buf_release(&relay.out);
    lx_arena_free(a);
    lx_arena_free(sa);
    return rc;
}

static int fdt_decode(struct lx_str body)
{
    struct lx_arena *a = lx_arena_new(0, 1 << 22);
    struct lx_chat_req r;
    struct lx_err err = {0};
    int rc;

    if (a == NULL)
        return LX_ENOMEM;
    rc = fd->decode_request(body, a, &r, &err);
    if (rc == LX_ENOMEM && err.http_status != 503)
        rc = LX_EINVAL;
    lx_arena_free(a);
    return rc;
}

LX_TEST(anthropic_oom)
{
    static const char *const streams[] = {"messages_stream_thinking.sse",
                                          "messages_stream_text_then_tool_no_args.sse"};
    char *raw;
    struct lx_str bytes;
    int rc;

    for (size_t i = 0; i < LX_ARRAY_SIZE(streams); i++) {
        char rel[256];

        snprintf(rel, sizeof(rel), "protocols/fixtures/anthropic/%s", streams[i]);
        bytes = fdt_read(rel, &raw);
        LX_ASSERT(raw != NULL);
        for (long n = 0;; n++) {
            lx_alloc_fail_after(n);
            rc = fdt_pipe(bytes);
            lx_alloc_fail_after(-1);
            if (rc == LX_OK) {
                LX_ASSERT(n > 5); /* the arenas, buffers and decoders were all failed once */
                break;
            }
            if (rc != LX_ENOMEM)
                LX_FAIL("%s: allocation %ld failing gave %s", rel, n, lx_err_name(rc));
            LX_ASSERT(n < 100000);
        }
        free(raw);
    }
    bytes = fdt_read("protocols/fixtures/anthropic/messages_request.json", &raw);
    LX_ASSERT(raw != NULL);
    for (long n = 0;; n++) {
        lx_alloc_fail_after(n);
        rc = fdt_decode(bytes);
        lx_alloc_fail_after(-1);
        if (rc == LX_OK) {
            LX_ASSERT(n > 1);
            break;
        }
        if (rc != LX_ENOMEM)
            LX_FAIL("decode: allocation %ld failing gave %s", n, lx_err_name(rc));
        LX_ASSERT(n < 100000);
    }
    free(raw);
    return 0;
}
