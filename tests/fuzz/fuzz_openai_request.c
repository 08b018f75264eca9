/* fuzz_openai_request.c - libFuzzer target for the OpenAI front door (providers/openai_front.c):
 * the bytes go to decode_request, lx_openai_decode_completion and lx_openai_decode_embeddings.
 * A rejected body must come back as a 4xx/413/503 with a message; an accepted one must hold the
 * IR's invariants (tool-call arguments are JSON text, tool results have an id). Whatever decoded
 * is then answered: its messages' parts become a complete answer and a delta stream, and the
 * bytes the encoders write must be valid JSON / SSE whose every chunk is valid JSON. The bytes are
 * also tried as an embedding vector (the number scanner). No crash, no leak, no sanitizer report.
 * Input: byte 0 = flags (bit 0: include_usage, bit 1: echo), the rest = the request body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "providers/openai_front.h"
#include "providers/provider.h"
#include "sse/sse.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_json(struct lx_str s)
{
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    CHECK(lx_json_parse(&doc, s.ptr, s.len) == LX_OK);
    lx_json_release(&doc);
}

static int on_event(void *ctx, const struct lx_sse_event *ev)
{
    (void)ctx;
    if (!lx_str_eq(ev->data, LX_STR("[DONE]")))
        check_json(ev->data);
    return LX_OK;
}

static void check_sse(struct lx_str s)
{
    struct lx_sse_parser p;

    lx_sse_init(&p, 1u << 24);
    CHECK(lx_sse_feed(&p, s, on_event, NULL) == LX_OK);
    CHECK(lx_sse_finish(&p) == LX_OK);
    lx_sse_release(&p);
}

static void check_rejected(int rc, const struct lx_err *err)
{
    CHECK(rc == LX_EINVAL || rc == LX_ETOOBIG || rc == LX_ENOMEM);
    CHECK(err->http_status == 400 || err->http_status == 413 || err->http_status == 503);
    CHECK(err->msg[0] != '\0');
}

static void check_req(const struct lx_chat_req *r)
{
    for (size_t i = 0; i < r->n_msgs; i++) {
        for (size_t j = 0; j < r->msgs[i].n_parts; j++) {
            const struct lx_part *p = &r->msgs[i].parts[j];

            if (p->type == LX_PART_TOOL_CALL)
                check_json(p->args);
            CHECK(p->type != LX_PART_TOOL_RESULT || r->msgs[i].role == LX_ROLE_TOOL);
        }
    }
    for (size_t i = 0; i < r->n_tools; i++)
        CHECK(r->tools[i].parameters.len == 0 || r->tools[i].parameters.ptr[0] == '{');
}

/* The request's own parts as an answer, a stream of deltas and a few errors. */
static void answer(struct lx_chat_req *r, struct lx_arena *a, uint8_t flags)
{
    struct lx_buf out = LX_BUF_INIT(1u << 26);
    struct lx_chat_resp resp;
    struct lx_choice ch[2];
    struct lx_fd_stream st;
    struct lx_delta d;
    struct lx_upstream_error ue;
    int k = 0;

    lx_chat_resp_init(&resp);
    memset(ch, 0, sizeof(ch));
    for (size_t i = 0; i < r->n_msgs && i < 2; i++) {
        ch[i].index = (unsigned)i;
        ch[i].message = r->msgs[r->n_msgs - 1 - i];
        ch[i].finish = (enum lx_finish)(i % 6);
    }
    resp.choices = ch;
    resp.n_choices = r->n_msgs < 2 ? r->n_msgs : 2;
    resp.usage.input = 3;
    r->include_usage = flags & 1;
    r->echo = (flags >> 1) & 1;
    CHECK(lx_frontdoor_openai.encode_response(r, &resp, 1, &out) == LX_OK);
    check_json(lx_buf_str(&out));

    lx_buf_reset(&out);
    memset(&st, 0, sizeof(st));
    st.req = r;
    st.a = a;
    st.usage = (struct lx_usage)LX_USAGE_INIT;
    for (size_t i = 0; i < r->n_msgs; i++) {
        for (size_t j = 0; j < r->msgs[i].n_parts; j++) {
            const struct lx_part *p = &r->msgs[i].parts[j];

            memset(&d, 0, sizeof(d));
            d.usage = (struct lx_usage)LX_USAGE_INIT;
            d.choice = (unsigned)(i % 3);
            d.type = p->type == LX_PART_TOOL_CALL  ? LX_DELTA_TOOL_CALL
                     : p->type == LX_PART_THINKING ? LX_DELTA_THINKING
                                                   : LX_DELTA_TEXT;
            d.text = p->type == LX_PART_TOOL_CALL ? p->args : p->text;
            d.id = p->id;
            d.name = p->name;
            d.signature = p->signature;
            d.tool_index = k++ % 4 - 1;
            CHECK(lx_frontdoor_openai.encode_delta(&st, &d, &out) == LX_OK);
        }
    }
    memset(&d, 0, sizeof(d));
    d.usage = (struct lx_usage)LX_USAGE_INIT;
    if (flags & 4) {
        lx_upstream_error_init(&ue);
        ue.message = r->model;
        ue.code = r->user;
        d.type = LX_DELTA_ERROR;
        d.error = &ue;
    } else {
        d.type = LX_DELTA_DONE;
    }
    CHECK(lx_frontdoor_openai.encode_delta(&st, &d, &out) == LX_OK);
    CHECK(st.finished);
    check_sse(lx_buf_str(&out));

    lx_buf_reset(&out);
    CHECK(lx_frontdoor_openai.encode_error(400, LX_ERRT_UNSET, r->model, r->user, &out) == LX_OK);
    check_json(lx_buf_str(&out));
    lx_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_arena *a;
    struct lx_str body;
    struct lx_chat_req r;
    struct lx_embed_req e;
    struct lx_err err;
    uint8_t flags;
    int rc;

    if (size < 1)
        return 0;
    flags = data[0];
    body = lx_str_make(data + 1, size - 1);
    a = lx_arena_new(4096, 64u << 20);
    if (a == NULL)
        return 0;

    memset(&err, 0, sizeof(err));
    rc = lx_frontdoor_openai.decode_request(body, a, &r, &err);
    if (rc == LX_OK) {
        CHECK(r.model.ptr != NULL && r.n_msgs > 0);
        check_req(&r);
        answer(&r, a, flags);
    } else {
        check_rejected(rc, &err);
    }

    memset(&err, 0, sizeof(err));
    rc = lx_openai_decode_completion(body, a, &r, &err);
    if (rc == LX_OK) {
        CHECK(r.legacy_completion && r.n_msgs == 1 && r.max_tokens >= 1);
        answer(&r, a, flags);
    } else {
        check_rejected(rc, &err);
    }

    memset(&err, 0, sizeof(err));
    rc = lx_openai_decode_embeddings(body, a, &e, &err);
    if (rc != LX_OK) {
        check_rejected(rc, &err);
        memset(&e, 0, sizeof(e));
    }
    {
        struct lx_embed_resp er;
        struct lx_buf out = LX_BUF_INIT(1u << 26);

        memset(&er, 0, sizeof(er));
        er.usage = (struct lx_usage)LX_USAGE_INIT;
        er.vectors = &body;
        er.n_vectors = 1;
        e.base64 = flags & 8;
        rc = lx_openai_encode_embeddings(&e, &er, &out);
        CHECK(rc == LX_OK || rc == LX_EPARSE);
        if (rc == LX_OK)
            check_json(lx_buf_str(&out));
        lx_buf_release(&out);
    }
    lx_arena_free(a);
    return 0;
}
