/* test_providers_ir.c - the IR helpers (ir.c) and the stream decoder (stream.c) through the
 * shared replay helper, with a toy adapter: framing, splits, scratch reset. */
#include <string.h>

#include "providers/ir.h"
#include "providers/provider.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

LX_TEST(ir_retry_after)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("17"), 0), 17000);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR(" 0 "), 0), 0);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777 - 5), 5000);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777 + 5), 0);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("Wed, 21 Oct 2015 07:28:00 GMT"), 1445412480 - 60), 60000);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("soon"), 0), -1);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR(""), 0), -1);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("Sun, 06 Xyz 1994 08:49:37 GMT"), 0), -1);
    LX_ASSERT_EQ(lx_retry_after_ms(LX_STR("99999999999"), 0), 86400 * 7 * 1000);
    return 0;
}

LX_TEST(ir_error_defaults)
{
    static const struct {
        int status;
        enum lx_err_type type;
        bool retryable;
        enum lx_key_action key;
    } cases[] = {
        {400, LX_ERRT_INVALID_REQUEST, false, LX_KEY_KEEP},
        {401, LX_ERRT_AUTHENTICATION, true, LX_KEY_DISABLE},
        {402, LX_ERRT_QUOTA, true, LX_KEY_DISABLE},
        {403, LX_ERRT_PERMISSION, true, LX_KEY_DISABLE},
        {404, LX_ERRT_NOT_FOUND, false, LX_KEY_KEEP},
        {429, LX_ERRT_RATE_LIMIT, true, LX_KEY_COOLDOWN},
        {500, LX_ERRT_SERVER, true, LX_KEY_KEEP},
        {503, LX_ERRT_OVERLOADED, true, LX_KEY_KEEP},
        {529, LX_ERRT_OVERLOADED, true, LX_KEY_KEEP},
        {504, LX_ERRT_TIMEOUT, true, LX_KEY_KEEP},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lx_upstream_error e;

        lx_upstream_error_init(&e);
        e.status = cases[i].status;
        lx_upstream_error_defaults(&e);
        LX_ASSERT_EQ(e.type, cases[i].type);
        LX_ASSERT_EQ(e.retryable, cases[i].retryable);
        LX_ASSERT_EQ(e.key_action, cases[i].key);
        LX_ASSERT_EQ(e.retry_after_ms, -1);
    }
    LX_ASSERT_STREQ(lx_err_type_anthropic(LX_ERRT_OVERLOADED), "overloaded_error");
    LX_ASSERT_STREQ(lx_err_type_gemini(LX_ERRT_RATE_LIMIT), "RESOURCE_EXHAUSTED");
    LX_ASSERT_STREQ(lx_finish_anthropic(LX_FINISH_TOOL_CALLS), "tool_use");
    LX_ASSERT_STREQ(lx_finish_openai(LX_FINISH_LENGTH), "length");
    LX_ASSERT_STREQ(lx_finish_gemini(LX_FINISH_CONTENT_FILTER), "SAFETY");
    return 0;
}

LX_TEST(ir_tool_name_lookup)
{
    struct lx_part call = {.type = LX_PART_TOOL_CALL, .id = LX_STR("c1"), .name = LX_STR("f")};
    struct lx_part res = {.type = LX_PART_TOOL_RESULT, .id = LX_STR("c1")};
    struct lx_msg msgs[2] = {{LX_ROLE_ASSISTANT, &call, 1, LX_STR_NULL},
                             {LX_ROLE_TOOL, &res, 1, LX_STR_NULL}};
    struct lx_chat_req req;

    lx_chat_req_init(&req);
    req.msgs = msgs;
    req.n_msgs = 2;
    LX_ASSERT_STR(lx_chat_req_tool_name(&req, 1, LX_STR("c1")), "f");
    LX_ASSERT_EQ(lx_chat_req_tool_name(&req, 0, LX_STR("c1")).len, 0);
    LX_ASSERT_EQ(lx_chat_req_tool_name(&req, 2, LX_STR("zz")).len, 0);
    LX_ASSERT_EQ(req.max_tokens, -1);
    LX_ASSERT_EQ(req.parallel_tool_calls, -1);
    return 0;
}

/* A toy adapter: every event's data is TEXT; data "end" is DONE; scratch use checked. */
static int toy_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct lx_delta d = {.type = LX_DELTA_TEXT};
    char *copy = lx_arena_alloc(st->scratch, ev->data.len + 1);

    (void)err;
    if (copy == NULL)
        return LX_ENOMEM;
    memcpy(copy, ev->data.ptr, ev->data.len);
    if (lx_str_eq(ev->data, LX_STR("end"))) {
        st->done = true;
        d.type = LX_DELTA_DONE;
    }
    d.text = lx_str_make(copy, ev->data.len);
    if (ev->event.len > 0)
        d.finish_raw = ev->event;
    return sink->emit(sink->ctx, &d);
}

static const struct lx_provider_ops toy_sse = {.name = "toy", .framing = LX_FRAMING_SSE,
                                               .parse_event = toy_parse_event};
static const struct lx_provider_ops toy_nd = {.name = "toy", .framing = LX_FRAMING_NDJSON,
                                              .parse_event = toy_parse_event};

LX_TEST(ir_replay_splits)
{
    static const char sse[] = ": comment\n\ndata: a\n\nevent: x\ndata: b\r\n\r\ndata: end\n\n";
    static const char nd[] = "{\"a\":1}\n\n{\"b\":2}\r\nend\n";
    struct lx_provider_call call = {0};
    struct lx_pt_summary s;

    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(lx_pt_replay_all_splits(&toy_sse, &call, lx_str_make(sse, sizeof(sse) - 1), 1, &s), 0);
    LX_ASSERT_STREQ(lx_pt_lines(&s), "TEXT c=0 \"a\"\nTEXT c=0 \"b\"\nDONE\nEND rc=OK done=1 failed=0\n");
    LX_ASSERT_STR(lx_buf_str(&s.text), "ab");
    LX_ASSERT_EQ(s.n_done, 1);
    lx_pt_summary_release(&s);

    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(lx_pt_replay_all_splits(&toy_nd, &call, lx_str_make(nd, sizeof(nd) - 1), 1, &s), 0);
    LX_ASSERT_STREQ(lx_pt_lines(&s),
                    "TEXT c=0 \"{\\\"a\\\":1}\"\nTEXT c=0 \"{\\\"b\\\":2}\"\nDONE\nEND rc=OK done=1 failed=0\n");
    lx_pt_summary_release(&s);

    /* a cut event is a truncation, not a clean end */
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(lx_pt_replay(&toy_sse, &call, LX_STR("data: a\n\ndata: b"), LX_PT_NO_SPLIT, &s),
                 LX_ETRUNCATED);
    lx_pt_summary_release(&s);
    return 0;
}
