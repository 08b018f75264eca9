/* cohere.c - the Cohere v2 provider adapter (lx_provider_cohere): IR -> POST {base}/v2/chat and
 * /v2/embed bodies; Cohere's answers, SSE stream events (message-start ... message-end) and
 * error bodies -> IR. Owned by the small-providers engineer (docs/internals/providers-small.md).
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given
 * (bodies are built in a bounded lx_buf, copied into the arena, released before return). Any
 * thread. Decision: Cohere's tool_plan is reasoning-like preamble -> LX_PART_THINKING /
 * LX_DELTA_THINKING, and an assistant message's THINKING text goes back as tool_plan. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "providers/provider.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define COH_MAX_BODY ((size_t)64 << 20)
#define COH_MAX_MSG 512u
#define COH_MAX_CALLS 4096
#define COH_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))

/* ---- small helpers ---------------------------------------------------------------------- */

/* URL, method and headers: Content-Type, Accept, Bearer key, the configured headers. */
static int coh_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                      struct lx_upstream_req *out, struct lx_err *err)
{
    return lx_wire_bearer_target(call, LX_STR("https://api.cohere.com"), path,
                                 LX_STR("text/event-stream"), a, out, err);
}

/* ---- request body ----------------------------------------------------------------------- */

static int coh_unsupported(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EINVAL, 400, "cohere: %s is not supported by this provider", what);
    return LX_EINVAL;
}

/* A tool result's content: its text, or the text of its sub parts. */
static int coh_write_tool_result(struct lx_json_writer *w, const struct lx_part *p,
                                 struct lx_err *err)
{
    lx_json_write_object_begin(w);
    COH_KEY(w, "role");
    lx_json_write_str(w, LX_STR("tool"));
    COH_KEY(w, "tool_call_id");
    lx_json_write_str(w, p->id);
    COH_KEY(w, "content");
    if (p->n_sub == 0) {
        lx_json_write_str(w, p->text);
    } else {
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < p->n_sub; i++) {
            if (p->sub[i].type != LX_PART_TEXT)
                return coh_unsupported(err, "a non-text tool result");
            lx_json_write_object_begin(w);
            COH_KEY(w, "type");
            lx_json_write_str(w, LX_STR("text"));
            COH_KEY(w, "text");
            lx_json_write_str(w, p->sub[i].text);
            lx_json_write_object_end(w);
        }
        lx_json_write_array_end(w);
    }
    lx_json_write_object_end(w);
    return LX_OK;
}

static int coh_write_user(struct lx_json_writer *w, const struct lx_msg *m, struct lx_arena *a,
                          struct lx_err *err)
{
    size_t n_content = 0;
    bool only_text = true;

    for (size_t i = 0; i < m->n_parts; i++) {
        const struct lx_part *p = &m->parts[i];

        if (p->type == LX_PART_TOOL_RESULT) {
            int rc = coh_write_tool_result(w, p, err);

            if (rc != LX_OK)
                return rc;
            continue;
        }
        if (p->type == LX_PART_IMAGE)
            only_text = false;
        else if (p->type != LX_PART_TEXT)
            return coh_unsupported(err, "this content part (file, audio, thinking) in a user "
                                        "message");
        n_content++;
    }
    if (n_content == 0)
        return LX_OK;
    lx_json_write_object_begin(w);
    COH_KEY(w, "role");
    lx_json_write_str(w, LX_STR("user"));
    COH_KEY(w, "content");
    if (only_text && n_content == 1) {
        for (size_t i = 0; i < m->n_parts; i++)
            if (m->parts[i].type == LX_PART_TEXT)
                lx_json_write_str(w, m->parts[i].text);
    } else {
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < m->n_parts; i++) {
            const struct lx_part *p = &m->parts[i];

            if (p->type == LX_PART_TEXT) {
                lx_json_write_object_begin(w);
                COH_KEY(w, "type");
                lx_json_write_str(w, LX_STR("text"));
                COH_KEY(w, "text");
                lx_json_write_str(w, p->text);
                lx_json_write_object_end(w);
            } else if (p->type == LX_PART_IMAGE) {
                struct lx_str url = p->url;

                if (url.len == 0) {
                    struct lx_str dp[4] = {LX_STR("data:"), p->media_type, LX_STR(";base64,"),
                                           p->data};

                    url = lx_wire_concat(a, dp, 4);
                    if (url.ptr == NULL) {
                        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
                        return LX_ENOMEM;
                    }
                }
                lx_json_write_object_begin(w);
                COH_KEY(w, "type");
                lx_json_write_str(w, LX_STR("image_url"));
                COH_KEY(w, "image_url");
                lx_json_write_object_begin(w);
                COH_KEY(w, "url");
                lx_json_write_str(w, url);
                lx_json_write_object_end(w);
                lx_json_write_object_end(w);
            }
        }
        lx_json_write_array_end(w);
    }
    lx_json_write_object_end(w);
    return LX_OK;
}

static int coh_write_assistant(struct lx_json_writer *w, const struct lx_msg *m,
                               struct lx_arena *a, struct lx_err *err)
{
    struct lx_str text = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a);
    struct lx_str plan = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_THINKING, a);
    size_t n_calls = 0;

    for (size_t i = 0; i < m->n_parts; i++) {
        enum lx_part_type t = m->parts[i].type;

        if (t == LX_PART_TOOL_CALL)
            n_calls++;
        else if (t != LX_PART_TEXT && t != LX_PART_THINKING && t != LX_PART_REDACTED_THINKING)
            return coh_unsupported(err, "this content part in an assistant message");
    }
    if (text.len == 0 && n_calls == 0)
        return LX_OK; /* Cohere rejects an assistant message with neither */
    lx_json_write_object_begin(w);
    COH_KEY(w, "role");
    lx_json_write_str(w, LX_STR("assistant"));
    if (text.len > 0) {
        COH_KEY(w, "content");
        lx_json_write_str(w, text);
    }
    if (n_calls > 0) {
        if (plan.len > 0) {
            COH_KEY(w, "tool_plan");
            lx_json_write_str(w, plan);
        }
        lx_wire_write_tool_calls(w, m->parts, m->n_parts, LX_WIRE_CALL_OPENAI, a);
    }
    lx_json_write_object_end(w);
    return LX_OK;
}

static int coh_write_msg(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                         struct lx_arena *a, struct lx_err *err)
{
    const struct lx_msg *m = &req->msgs[msg_i];
    int rc = LX_OK;

    switch (m->role) {
    case LX_ROLE_SYSTEM:
    case LX_ROLE_DEVELOPER:
        for (size_t j = 0; j < m->n_parts; j++)
            if (m->parts[j].type != LX_PART_TEXT)
                return coh_unsupported(err, "a non-text system part");
        lx_json_write_object_begin(w);
        COH_KEY(w, "role");
        lx_json_write_str(w, LX_STR("system"));
        COH_KEY(w, "content");
        lx_json_write_str(w, lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a));
        lx_json_write_object_end(w);
        break;
    case LX_ROLE_USER: rc = coh_write_user(w, m, a, err); break;
    case LX_ROLE_ASSISTANT: rc = coh_write_assistant(w, m, a, err); break;
    case LX_ROLE_TOOL:
        for (size_t j = 0; j < m->n_parts && rc == LX_OK; j++) {
            if (m->parts[j].type == LX_PART_TOOL_RESULT)
                rc = coh_write_tool_result(w, &m->parts[j], err);
            else if (m->parts[j].type != LX_PART_TEXT)
                rc = coh_unsupported(err, "a non-text tool message part");
        }
        break;
    }
    return rc;
}

static int coh_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                         struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(COH_MAX_BODY);
    struct lx_json_writer w;
    bool strict = false, named = req->tool_choice == LX_TOOL_CHOICE_NAMED;
    int rc;

    if (req->n > 1) {
        lx_err_set(err, LX_EINVAL, 400, "cohere: n > 1 is not supported");
        return LX_EINVAL;
    }
    lx_wire_body_open(&w, &b, call, req->model);
    rc = lx_wire_write_msgs(&w, req, coh_write_msg, a, err);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    if (req->n_tools > 0) {
        size_t written = 0;

        COH_KEY(&w, "tools");
        lx_json_write_array_begin(&w);
        for (size_t i = 0; i < req->n_tools; i++) {
            /* no named tool choice in Cohere: send only that tool, with REQUIRED */
            if (named && !lx_str_eq(req->tools[i].name, req->tool_choice_name))
                continue;
            lx_wire_write_tool(&w, &req->tools[i], false);
            strict = strict || req->tools[i].strict;
            written++;
        }
        lx_json_write_array_end(&w);
        if (named && written == 0) {
            lx_buf_release(&b);
            lx_err_set(err, LX_EINVAL, 400, "tool_choice names a tool that is not in tools");
            return LX_EINVAL;
        }
        if (strict) {
            COH_KEY(&w, "strict_tools");
            lx_json_write_bool(&w, true);
        }
        if (req->tool_choice == LX_TOOL_CHOICE_REQUIRED || named) {
            COH_KEY(&w, "tool_choice");
            lx_json_write_str(&w, LX_STR("REQUIRED"));
        } else if (req->tool_choice == LX_TOOL_CHOICE_NONE) {
            COH_KEY(&w, "tool_choice");
            lx_json_write_str(&w, LX_STR("NONE"));
        }
    }
    if (req->max_tokens >= 0) {
        COH_KEY(&w, "max_tokens");
        lx_json_write_int(&w, req->max_tokens);
    }
    lx_wire_write_num(&w, "temperature", &req->temperature);
    lx_wire_write_num(&w, "p", &req->top_p);
    if (req->top_k >= 0) {
        COH_KEY(&w, "k");
        lx_json_write_int(&w, req->top_k);
    }
    lx_wire_write_num(&w, "frequency_penalty", &req->frequency_penalty);
    lx_wire_write_num(&w, "presence_penalty", &req->presence_penalty);
    if (req->n_stop > 0) {
        COH_KEY(&w, "stop_sequences");
        lx_wire_write_strs(&w, req->stop, req->n_stop);
    }
    if (req->has_seed) {
        COH_KEY(&w, "seed");
        lx_json_write_int(&w, req->seed);
    }
    if (req->response_format == LX_RF_JSON_OBJECT || req->response_format == LX_RF_JSON_SCHEMA) {
        COH_KEY(&w, "response_format");
        lx_json_write_object_begin(&w);
        COH_KEY(&w, "type");
        lx_json_write_str(&w, LX_STR("json_object"));
        if (req->response_format == LX_RF_JSON_SCHEMA && req->schema.len > 0) {
            COH_KEY(&w, "json_schema");
            lx_json_write_raw(&w, req->schema);
        }
        lx_json_write_object_end(&w);
    }
    if (req->thinking == LX_THINKING_ENABLED) {
        COH_KEY(&w, "thinking");
        lx_json_write_object_begin(&w);
        COH_KEY(&w, "type");
        lx_json_write_str(&w, LX_STR("enabled"));
        if (req->thinking_budget > 0) {
            COH_KEY(&w, "token_budget");
            lx_json_write_int(&w, req->thinking_budget);
        }
        lx_json_write_object_end(&w);
    } else if (req->thinking == LX_THINKING_DISABLED) {
        COH_KEY(&w, "thinking");
        lx_json_write_object_begin(&w);
        COH_KEY(&w, "type");
        lx_json_write_str(&w, LX_STR("disabled"));
        lx_json_write_object_end(&w);
    }
    COH_KEY(&w, "stream");
    lx_json_write_bool(&w, call->stream);
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, body, err);
}

static int coh_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    int rc;

    if (call->endpoint != LX_EP_CHAT) {
        lx_err_set(err, LX_EINVAL, 400, "cohere: no token counting endpoint");
        return LX_EINVAL;
    }
    rc = coh_target(call, "/v2/chat", a, out, err);
    if (rc != LX_OK)
        return rc;
    return coh_chat_body(call, req, a, &out->body, err);
}

/* ---- decoding --------------------------------------------------------------------------- */

static enum lx_finish coh_finish(struct lx_str raw)
{
    if (lx_str_eq(raw, LX_STR("MAX_TOKENS")))
        return LX_FINISH_LENGTH;
    if (lx_str_eq(raw, LX_STR("TOOL_CALL")))
        return LX_FINISH_TOOL_CALLS;
    if (lx_str_eq(raw, LX_STR("ERROR")) || lx_str_eq(raw, LX_STR("TIMEOUT")))
        return LX_FINISH_ERROR;
    return LX_FINISH_STOP; /* COMPLETE, STOP_SEQUENCE, and words not known yet */
}

/* usage.tokens (what the model saw) preferred over billed_units; cached_tokens is part of
 * input. */
static void coh_usage(const struct lx_json *doc, int u, struct lx_usage *out)
{
    int t;

    *out = (struct lx_usage)LX_USAGE_INIT;
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return;
    t = lx_json_get(doc, u, LX_STR("tokens"));
    if (lx_json_type(doc, t) != LX_JSON_OBJECT)
        t = lx_json_get(doc, u, LX_STR("billed_units"));
    if (lx_json_type(doc, t) == LX_JSON_OBJECT) {
        out->input = lx_wire_int(doc, t, "input_tokens");
        out->output = lx_wire_int(doc, t, "output_tokens");
    }
    out->cache_read = lx_wire_int(doc, u, "cached_tokens");
    if (out->input >= 0 && out->output >= 0)
        out->total = out->input + out->output;
}

/* Arguments: Cohere sends a JSON string; an object (seen from proxies) is kept as its text. */
static int coh_args(const struct lx_json *doc, int fn, struct lx_arena *a, struct lx_str *out)
{
    int t = lx_json_get(doc, fn, LX_STR("arguments"));

    *out = LX_STR_NULL;
    if (lx_json_type(doc, t) == LX_JSON_STRING)
        return lx_json_str(doc, t, a, out);
    if (lx_json_type(doc, t) == LX_JSON_OBJECT)
        *out = lx_json_raw(doc, t);
    else if (t >= 0 && lx_json_type(doc, t) != LX_JSON_NULL)
        return LX_EPARSE;
    return LX_OK;
}

static int coh_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int msg, content, calls;
    size_t cap = 1, n = 0;
    struct lx_choice *ch;
    struct lx_part *parts;
    struct lx_str plan, reason;

    (void)call;
    lx_chat_resp_init(out);
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    msg = lx_json_get(&doc, 0, LX_STR("message"));
    if (lx_json_type(&doc, msg) != LX_JSON_OBJECT)
        goto bad;
    content = lx_json_get(&doc, msg, LX_STR("content"));
    calls = lx_json_get(&doc, msg, LX_STR("tool_calls"));
    if (!lx_wire_array_room(&doc, content, &cap) || !lx_wire_array_room(&doc, calls, &cap))
        goto bad;
    if (lx_wire_choice_alloc(a, cap, &ch, &parts) != LX_OK)
        return LX_ENOMEM;
    if (lx_wire_str(&doc, 0, "id", a, &out->id) != LX_OK ||
        lx_wire_str(&doc, msg, "tool_plan", a, &plan) != LX_OK)
        goto bad;
    lx_wire_add_text(parts, &n, LX_PART_THINKING, plan);
    for (int c = lx_json_first(&doc, content); c >= 0; c = lx_json_sibling(&doc, content, c)) {
        int ty = lx_json_get(&doc, c, LX_STR("type"));
        struct lx_str s;

        if (lx_json_type(&doc, c) != LX_JSON_OBJECT)
            goto bad;
        if (lx_json_str_eq(&doc, ty, LX_STR("text"))) {
            if (lx_wire_str(&doc, c, "text", a, &s) != LX_OK)
                goto bad;
            parts[n].type = LX_PART_TEXT;
        } else if (lx_json_str_eq(&doc, ty, LX_STR("thinking"))) {
            if (lx_wire_str(&doc, c, "thinking", a, &s) != LX_OK)
                goto bad;
            parts[n].type = LX_PART_THINKING;
        } else {
            continue; /* future block types */
        }
        parts[n++].text = s;
    }
    for (int c = lx_json_first(&doc, calls); c >= 0; c = lx_json_sibling(&doc, calls, c)) {
        int fn = lx_json_get(&doc, c, LX_STR("function"));
        struct lx_part *p = &parts[n];

        if (lx_json_type(&doc, fn) != LX_JSON_OBJECT)
            goto bad;
        p->type = LX_PART_TOOL_CALL;
        if (lx_wire_str(&doc, c, "id", a, &p->id) != LX_OK ||
            lx_wire_str(&doc, fn, "name", a, &p->name) != LX_OK ||
            coh_args(&doc, fn, a, &p->args) != LX_OK)
            goto bad;
        if (p->args.len == 0)
            p->args = LX_STR("{}");
        n++;
    }
    if (lx_wire_str(&doc, 0, "finish_reason", a, &reason) != LX_OK)
        goto bad;
    lx_wire_choice_set(out, ch, parts, n, coh_finish(reason), reason);
    coh_usage(&doc, lx_json_get(&doc, 0, LX_STR("usage")), &out->usage);
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a Cohere v2 chat response");
    return LX_EPARSE;
}

/* ---- stream ----------------------------------------------------------------------------- */

struct coh_stream {
    bool started;
    int n_calls; /* tool calls begun */
    int cur;     /* tool_index of the call being streamed, -1 none */
};

static void coh_classify(int status, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out);

static int coh_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct coh_stream *ps = st->priv;
    struct lx_arena *s = st->scratch;
    struct lx_json doc;
    struct lx_str type, str;
    struct lx_delta d;
    int delta, m, rc;

    if (st->done || st->failed)
        return LX_OK; /* message-end is terminal; a trailing [DONE] says nothing more */
    if (ps == NULL) {
        ps = lx_wire_stream_priv(st, sizeof(*ps));
        if (ps == NULL)
            return LX_ENOMEM;
        ps->cur = -1;
    }
    if (lx_str_eq(lx_str_trim(ev->data), LX_STR("[DONE]"))) {
        /* [DONE] without message-end: the stream was cut short by the upstream */
        lx_err_set(err, LX_EPARSE, 502, "cohere stream ended without message-end");
        return LX_EPARSE;
    }
    if (!lx_wire_parse_object(&doc, s, ev->data))
        goto bad;
    if (lx_wire_str(&doc, 0, "type", s, &type) != LX_OK)
        goto bad;
    if (type.len == 0)
        type = ev->event;
    if (type.len == 0) {
        struct lx_upstream_error *e;

        /* no type: an error object {"message":...} the upstream wrote into the stream */
        if (lx_wire_str(&doc, 0, "message", s, &str) != LX_OK || str.len == 0)
            goto bad;
        e = lx_arena_zalloc(s, sizeof(*e));
        if (e == NULL)
            return LX_ENOMEM;
        coh_classify(500, str, lx_wire_call_key(st->call), e);
        return lx_wire_stream_fail(st, sink, e);
    }
    delta = lx_json_get(&doc, 0, LX_STR("delta"));
    if (delta >= 0 && lx_json_type(&doc, delta) != LX_JSON_OBJECT)
        goto bad;
    m = lx_json_get(&doc, delta, LX_STR("message"));

    if (lx_str_eq(type, LX_STR("message-start"))) {
        if (lx_wire_str(&doc, 0, "id", s, &str) != LX_OK)
            goto bad;
        return lx_wire_emit_start(&ps->started, str, LX_STR_NULL, sink);
    }
    rc = lx_wire_emit_start(&ps->started, LX_STR_NULL, LX_STR_NULL, sink);
    if (rc != LX_OK)
        return rc;
    if (lx_str_eq(type, LX_STR("content-start")) || lx_str_eq(type, LX_STR("content-delta"))) {
        int c = lx_json_get(&doc, m, LX_STR("content"));

        if (lx_json_type(&doc, c) != LX_JSON_OBJECT)
            goto bad;
        if (lx_wire_str(&doc, c, "thinking", s, &str) != LX_OK)
            goto bad;
        rc = lx_wire_emit_text(sink, LX_DELTA_THINKING, str);
        if (rc != LX_OK)
            return rc;
        if (lx_wire_str(&doc, c, "text", s, &str) != LX_OK)
            goto bad;
        return lx_wire_emit_text(sink, LX_DELTA_TEXT, str);
    }
    if (lx_str_eq(type, LX_STR("tool-plan-delta"))) {
        if (lx_json_type(&doc, m) != LX_JSON_OBJECT ||
            lx_wire_str(&doc, m, "tool_plan", s, &str) != LX_OK)
            goto bad;
        return lx_wire_emit_text(sink, LX_DELTA_THINKING, str);
    }
    if (lx_str_eq(type, LX_STR("tool-call-start")) || lx_str_eq(type, LX_STR("tool-call-delta"))) {
        bool start = lx_str_eq(type, LX_STR("tool-call-start"));
        int tc = lx_json_get(&doc, m, LX_STR("tool_calls")), fn;

        if (lx_json_type(&doc, tc) == LX_JSON_ARRAY)
            tc = lx_json_first(&doc, tc);
        fn = lx_json_get(&doc, tc, LX_STR("function"));
        if (lx_json_type(&doc, tc) != LX_JSON_OBJECT || lx_json_type(&doc, fn) != LX_JSON_OBJECT)
            goto bad;
        lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
        if (start) {
            if (ps->n_calls >= COH_MAX_CALLS)
                goto bad;
            ps->cur = ps->n_calls++;
            if (lx_wire_str(&doc, tc, "id", s, &d.id) != LX_OK ||
                lx_wire_str(&doc, fn, "name", s, &d.name) != LX_OK)
                goto bad;
        } else if (ps->cur < 0) {
            goto bad; /* a fragment of no call */
        }
        if (coh_args(&doc, fn, s, &d.text) != LX_OK)
            goto bad;
        if (!start && d.text.len == 0)
            return LX_OK;
        d.tool_index = ps->cur;
        return sink->emit(sink->ctx, &d);
    }
    if (lx_str_eq(type, LX_STR("tool-call-end"))) {
        ps->cur = -1;
        return LX_OK;
    }
    if (lx_str_eq(type, LX_STR("message-end"))) {
        int u = lx_json_get(&doc, delta, LX_STR("usage"));
        struct lx_usage usage;
        enum lx_finish finish;

        if (lx_wire_str(&doc, delta, "finish_reason", s, &str) != LX_OK)
            goto bad;
        finish = coh_finish(str);
        if (str.len == 0 && ps->n_calls > 0)
            finish = LX_FINISH_TOOL_CALLS;
        coh_usage(&doc, u, &usage);
        return lx_wire_stream_end(st, sink, finish, str,
                                  lx_json_type(&doc, u) == LX_JSON_OBJECT ? &usage : NULL);
    }
    /* content-end, citation-start/-end, debug, and event types not known yet: nothing to say */
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream stream event is not a Cohere v2 chat event");
    return LX_EPARSE;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void coh_classify(int status, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out)
{
    enum lx_err_type type;

    if (lx_wire_contains_nocase(msg, "too many tokens") ||
        lx_wire_contains_nocase(msg, "context length") ||
        lx_wire_contains_nocase(msg, "context window"))
        type = LX_ERRT_CONTEXT_LENGTH;
    else if (status == 429 && lx_wire_contains_nocase(msg, "trial key") &&
             lx_wire_contains_nocase(msg, "month"))
        type = LX_ERRT_QUOTA; /* the trial key's monthly allowance: will not pass soon */
    else if (status == 401 || status == 498)
        type = LX_ERRT_AUTHENTICATION; /* 498: invalid token */
    else if (status == 402)
        type = LX_ERRT_QUOTA;
    else if (status == 422)
        type = LX_ERRT_INVALID_REQUEST;
    else if (status == 499)
        type = LX_ERRT_SERVER; /* the request was cancelled upstream: try elsewhere */
    else
        type = lx_err_type_from_status(status);
    lx_wire_error_set(out, status, type, msg, key);
}

static void coh_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL, code = LX_STR_NULL;

    if (lx_wire_error_body(&doc, body, COH_MAX_MSG, a, &msg)) {
        (void)lx_wire_str(&doc, 0, "message", a, &msg);
        (void)lx_wire_str(&doc, 0, "code", a, &code);
    }
    coh_classify(status, msg, lx_wire_call_key(call), out);
    out->code = code;
    lx_wire_retry_after(call, headers, n_headers, out);
}

/* ---- embeddings ------------------------------------------------------------------------- */

static int coh_build_embeddings(const struct lx_provider_call *call,
                                const struct lx_embed_req *req, struct lx_arena *a,
                                struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(COH_MAX_BODY);
    struct lx_json_writer w;
    int rc = coh_target(call, "/v2/embed", a, out, err);

    if (rc != LX_OK)
        return rc;
    lx_wire_body_open(&w, &b, call, req->model);
    COH_KEY(&w, "texts");
    lx_wire_write_strs(&w, req->inputs, req->n_inputs);
    COH_KEY(&w, "input_type");
    lx_json_write_str(&w, req->input_type.len > 0 ? req->input_type : LX_STR("search_document"));
    COH_KEY(&w, "embedding_types");
    lx_json_write_array_begin(&w);
    lx_json_write_str(&w, LX_STR("float"));
    lx_json_write_array_end(&w);
    if (req->dimensions > 0) {
        COH_KEY(&w, "output_dimension");
        lx_json_write_int(&w, req->dimensions);
    }
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, &out->body, err);
}

static int coh_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                                struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int emb, meta, bu, rc;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    emb = lx_json_get(&doc, 0, LX_STR("embeddings"));
    rc = lx_wire_vectors(&doc, lx_json_get(&doc, emb, LX_STR("float")), a, out);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        goto bad;
    meta = lx_json_get(&doc, 0, LX_STR("meta"));
    bu = lx_json_get(&doc, meta, LX_STR("billed_units"));
    if (lx_json_type(&doc, bu) == LX_JSON_OBJECT) {
        out->usage.input = lx_wire_int(&doc, bu, "input_tokens");
        out->usage.total = out->usage.input;
    }
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a Cohere v2 embed response");
    return LX_EPARSE;
}

const struct lx_provider_ops lx_provider_cohere = {
    .name = "cohere",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS | LX_CAP_IMAGE_URL,
    .framing = LX_FRAMING_SSE,
    .build_request = coh_build_request,
    .parse_response = coh_parse_response,
    .parse_event = coh_parse_event,
    .map_error = coh_map_error,
    .build_embeddings = coh_build_embeddings,
    .parse_embeddings = coh_parse_embeddings,
};
