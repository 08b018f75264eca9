/* ollama.c - the Ollama native provider adapter (lx_provider_ollama): IR -> POST {base}/api/chat
 * and /api/embed bodies; Ollama's answers, NDJSON stream lines and {"error":"..."} bodies -> IR.
 * Owned by the small-providers engineer (docs/internals/providers-small.md).
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given.
 * Any thread. Traps: Ollama streams unless told "stream":false; tool-call arguments are JSON
 * objects both ways; done_reason stays "stop" after tool calls; ids are optional (made up). */
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "providers/provider.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define OLL_MAX_BODY ((size_t)64 << 20)
#define OLL_MAX_MSG 512u
#define OLL_MAX_CALLS 4096
#define OLL_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))

/* ---- small helpers ---------------------------------------------------------------------- */

/* URL, method and headers: Content-Type, Accept, Bearer key, the configured headers. */
static int oll_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                      struct lx_upstream_req *out, struct lx_err *err)
{
    return lx_wire_bearer_target(call, LX_STR("http://127.0.0.1:11434"), path,
                                 LX_STR("application/x-ndjson"), a, out, err);
}

/* ---- request body ----------------------------------------------------------------------- */

static int oll_unsupported(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EINVAL, 400, "ollama: %s", what);
    return LX_EINVAL;
}

static int oll_write_msg(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                         struct lx_arena *a, struct lx_err *err)
{
    const struct lx_msg *m = &req->msgs[msg_i];
    size_t n_images = 0, n_calls = 0, n_other = 0;
    struct lx_str text, thinking;

    for (size_t i = 0; i < m->n_parts; i++) {
        const struct lx_part *p = &m->parts[i];

        switch (p->type) {
        case LX_PART_TEXT: n_other++; break;
        case LX_PART_THINKING:
        case LX_PART_REDACTED_THINKING: break;
        case LX_PART_IMAGE:
            if (p->data.len == 0)
                return oll_unsupported(err, "image URLs are not supported (Ollama takes inline "
                                            "base64 images only)");
            n_images++;
            break;
        case LX_PART_TOOL_CALL: n_calls++; break;
        case LX_PART_TOOL_RESULT:
            lx_wire_write_tool_result(w, req, msg_i, p, NULL, "tool_name", a);
            break;
        case LX_PART_FILE:
        case LX_PART_AUDIO: return oll_unsupported(err, "file and audio parts are not supported");
        }
    }
    if (n_other == 0 && n_images == 0 && n_calls == 0 &&
        (m->role == LX_ROLE_TOOL || m->n_parts > 0))
        return LX_OK; /* tool results only (written above), or only thinking */
    text = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a);
    thinking = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_THINKING, a);
    lx_json_write_object_begin(w);
    OLL_KEY(w, "role");
    lx_json_write_str(w, lx_str_cstr(lx_wire_role(m->role)));
    OLL_KEY(w, "content");
    lx_json_write_str(w, text);
    if (m->role == LX_ROLE_ASSISTANT && thinking.len > 0) {
        OLL_KEY(w, "thinking");
        lx_json_write_str(w, thinking);
    }
    if (n_images > 0) {
        OLL_KEY(w, "images");
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < m->n_parts; i++)
            if (m->parts[i].type == LX_PART_IMAGE)
                lx_json_write_str(w, m->parts[i].data);
        lx_json_write_array_end(w);
    }
    if (n_calls > 0)
        lx_wire_write_tool_calls(w, m->parts, m->n_parts, LX_WIRE_CALL_OBJECT, a);
    lx_json_write_object_end(w);
    return LX_OK;
}

static const char *oll_effort(enum lx_effort e)
{
    switch (e) {
    case LX_EFFORT_MINIMAL:
    case LX_EFFORT_LOW: return "low";
    case LX_EFFORT_MEDIUM: return "medium";
    case LX_EFFORT_HIGH: return "high";
    case LX_EFFORT_NONE:
    case LX_EFFORT_UNSET: break;
    }
    return NULL;
}

static int oll_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                         struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(OLL_MAX_BODY);
    struct lx_json_writer w;
    bool any_option;
    int rc;

    if (req->n > 1)
        return oll_unsupported(err, "n > 1 is not supported");
    lx_wire_body_open(&w, &b, call, req->model);
    rc = lx_wire_write_msgs(&w, req, oll_write_msg, a, err);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    /* tool_choice: Ollama has none. NONE drops the tools; NAMED sends only that tool */
    lx_wire_write_tools_chosen(&w, req, false);
    OLL_KEY(&w, "stream"); /* explicit: Ollama streams when it is absent */
    lx_json_write_bool(&w, call->stream);
    if (req->response_format == LX_RF_JSON_OBJECT) {
        OLL_KEY(&w, "format");
        lx_json_write_str(&w, LX_STR("json"));
    } else if (req->response_format == LX_RF_JSON_SCHEMA) {
        OLL_KEY(&w, "format");
        if (req->schema.len > 0)
            lx_json_write_raw(&w, req->schema);
        else
            lx_json_write_str(&w, LX_STR("json"));
    }
    if (oll_effort(req->effort) != NULL) {
        OLL_KEY(&w, "think");
        lx_json_write_str(&w, lx_str_cstr(oll_effort(req->effort)));
    } else if (req->effort == LX_EFFORT_NONE || req->thinking == LX_THINKING_DISABLED) {
        OLL_KEY(&w, "think");
        lx_json_write_bool(&w, false);
    } else if (req->thinking == LX_THINKING_ENABLED) {
        OLL_KEY(&w, "think");
        lx_json_write_bool(&w, true);
    }
    any_option = req->temperature.raw.len > 0 || req->top_p.raw.len > 0 || req->top_k >= 0 ||
                 req->max_tokens >= 0 || req->n_stop > 0 || req->has_seed ||
                 req->presence_penalty.raw.len > 0 || req->frequency_penalty.raw.len > 0;
    if (any_option) {
        OLL_KEY(&w, "options");
        lx_json_write_object_begin(&w);
        lx_wire_write_num(&w, "temperature", &req->temperature);
        lx_wire_write_num(&w, "top_p", &req->top_p);
        if (req->top_k >= 0) {
            OLL_KEY(&w, "top_k");
            lx_json_write_int(&w, req->top_k);
        }
        if (req->max_tokens >= 0) {
            OLL_KEY(&w, "num_predict");
            lx_json_write_int(&w, req->max_tokens);
        }
        if (req->n_stop > 0) {
            OLL_KEY(&w, "stop");
            lx_wire_write_strs(&w, req->stop, req->n_stop);
        }
        if (req->has_seed) {
            OLL_KEY(&w, "seed");
            lx_json_write_int(&w, req->seed);
        }
        lx_wire_write_num(&w, "presence_penalty", &req->presence_penalty);
        lx_wire_write_num(&w, "frequency_penalty", &req->frequency_penalty);
        lx_json_write_object_end(&w);
    }
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, body, err);
}

static int oll_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    int rc;

    if (call->endpoint != LX_EP_CHAT)
        return oll_unsupported(err, "no token counting endpoint");
    rc = oll_target(call, "/api/chat", a, out, err);
    if (rc != LX_OK)
        return rc;
    return oll_chat_body(call, req, a, &out->body, err);
}

/* ---- decoding --------------------------------------------------------------------------- */

static void oll_usage(const struct lx_json *doc, struct lx_usage *out)
{
    *out = (struct lx_usage)LX_USAGE_INIT;
    out->input = lx_wire_int(doc, 0, "prompt_eval_count");
    out->output = lx_wire_int(doc, 0, "eval_count");
    if (out->input >= 0 && out->output >= 0)
        out->total = out->input + out->output;
}

/* done_reason (PROTOCOLS.md 7.1): stop stays stop unless a tool call was seen. */
static enum lx_finish oll_finish(struct lx_str raw, bool saw_calls)
{
    if (lx_str_eq(raw, LX_STR("length")))
        return LX_FINISH_LENGTH;
    return saw_calls ? LX_FINISH_TOOL_CALLS : LX_FINISH_STOP;
}

static int oll_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int msg, calls, rc;
    size_t cap = 2, n = 0;
    struct lx_choice *ch;
    struct lx_part *parts;
    struct lx_str s;
    struct lx_str reason;

    (void)call;
    lx_chat_resp_init(out);
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    msg = lx_json_get(&doc, 0, LX_STR("message"));
    if (lx_json_type(&doc, msg) != LX_JSON_OBJECT)
        goto bad;
    calls = lx_json_get(&doc, msg, LX_STR("tool_calls"));
    if (!lx_wire_array_room(&doc, calls, &cap))
        goto bad;
    if (lx_wire_choice_alloc(a, cap, &ch, &parts) != LX_OK)
        return LX_ENOMEM;
    if (lx_wire_str(&doc, 0, "model", a, &out->model) != LX_OK ||
        lx_wire_str(&doc, 0, "done_reason", a, &reason) != LX_OK)
        goto bad;
    if (lx_wire_str(&doc, msg, "thinking", a, &s) != LX_OK)
        goto bad;
    lx_wire_add_text(parts, &n, LX_PART_THINKING, s);
    if (lx_wire_str(&doc, msg, "content", a, &s) != LX_OK)
        goto bad;
    lx_wire_add_text(parts, &n, LX_PART_TEXT, s);
    rc = lx_wire_call_parts(&doc, calls, false, a, parts, &n);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        goto bad;
    lx_wire_choice_set(out, ch, parts, n,
                       oll_finish(reason, lx_json_type(&doc, calls) == LX_JSON_ARRAY &&
                                              lx_json_count(&doc, calls) > 0),
                       reason);
    oll_usage(&doc, &out->usage);
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not an Ollama chat response");
    return LX_EPARSE;
}

/* ---- stream ----------------------------------------------------------------------------- */

struct oll_stream {
    bool started;
    int n_calls;
};

static void oll_classify(int status, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out);

static int oll_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct oll_stream *ps = st->priv;
    struct lx_arena *s = st->scratch;
    struct lx_json doc;
    struct lx_str str;
    struct lx_usage usage;
    int msg, calls, done, e, rc;
    bool bad_call;

    if (st->done || st->failed)
        return LX_OK;
    if (ps == NULL && (ps = lx_wire_stream_priv(st, sizeof(*ps))) == NULL)
        return LX_ENOMEM;
    if (lx_str_trim(ev->data).len == 0)
        return LX_OK; /* a blank line */
    if (!lx_wire_parse_object(&doc, s, ev->data))
        goto bad;
    e = lx_json_get(&doc, 0, LX_STR("error"));
    if (e >= 0) {
        struct lx_upstream_error *ue = lx_arena_zalloc(s, sizeof(*ue));

        if (ue == NULL)
            return LX_ENOMEM;
        if (lx_json_type(&doc, e) == LX_JSON_STRING) {
            if (lx_json_str(&doc, e, s, &str) != LX_OK)
                goto bad;
        } else {
            str = lx_json_raw(&doc, e);
        }
        oll_classify(500, str, lx_wire_call_key(st->call), ue);
        return lx_wire_stream_fail(st, sink, ue);
    }
    msg = lx_json_get(&doc, 0, LX_STR("message"));
    done = lx_json_get(&doc, 0, LX_STR("done"));
    if ((msg >= 0 && lx_json_type(&doc, msg) != LX_JSON_OBJECT) ||
        (lx_json_type(&doc, done) != LX_JSON_TRUE && lx_json_type(&doc, done) != LX_JSON_FALSE))
        goto bad;
    if (!ps->started) {
        if (lx_wire_str(&doc, 0, "model", s, &str) != LX_OK)
            goto bad;
        rc = lx_wire_emit_start(&ps->started, LX_STR_NULL, str, sink);
        if (rc != LX_OK)
            return rc;
    }
    if (msg >= 0) {
        if (lx_wire_str(&doc, msg, "thinking", s, &str) != LX_OK)
            goto bad;
        if ((rc = lx_wire_emit_text(sink, LX_DELTA_THINKING, str)) != LX_OK)
            return rc;
        if (lx_wire_str(&doc, msg, "content", s, &str) != LX_OK)
            goto bad;
        if ((rc = lx_wire_emit_text(sink, LX_DELTA_TEXT, str)) != LX_OK)
            return rc;
        calls = lx_json_get(&doc, msg, LX_STR("tool_calls"));
        if (calls >= 0 && lx_json_type(&doc, calls) != LX_JSON_ARRAY &&
            lx_json_type(&doc, calls) != LX_JSON_NULL)
            goto bad;
        rc = lx_wire_emit_calls(&doc, calls, false, OLL_MAX_CALLS, &ps->n_calls, s, sink,
                                &bad_call);
        if (bad_call)
            goto bad;
        if (rc != LX_OK)
            return rc;
    }
    if (lx_json_type(&doc, done) == LX_JSON_TRUE) {
        if (lx_wire_str(&doc, 0, "done_reason", s, &str) != LX_OK)
            goto bad;
        oll_usage(&doc, &usage);
        return lx_wire_stream_end(st, sink, oll_finish(str, ps->n_calls > 0), str, &usage);
    }
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream stream line is not an Ollama chat chunk");
    return LX_EPARSE;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void oll_classify(int status, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out)
{
    enum lx_err_type type;

    if (lx_wire_contains_nocase(msg, "context length") ||
        lx_wire_contains_nocase(msg, "context window") ||
        lx_wire_contains_nocase(msg, "exceeds the context"))
        type = LX_ERRT_CONTEXT_LENGTH;
    else if (status == 404 ||
             (lx_wire_contains_nocase(msg, "model '") && lx_wire_contains_nocase(msg, "not found")))
        type = LX_ERRT_NOT_FOUND;
    else if (status == 503)
        type = LX_ERRT_OVERLOADED; /* server busy, queue full */
    else
        type = lx_err_type_from_status(status);
    lx_wire_error_set(out, status, type, msg, key);
}

static void oll_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL;
    int e;

    if (lx_wire_error_body(&doc, body, OLL_MAX_MSG, a, &msg)) {
        e = lx_json_get(&doc, 0, LX_STR("error"));
        if (lx_json_type(&doc, e) == LX_JSON_STRING)
            (void)lx_json_str(&doc, e, a, &msg);
        else if (lx_json_type(&doc, e) == LX_JSON_OBJECT)
            (void)lx_wire_str(&doc, e, "message", a, &msg); /* ollama.com's OpenAI-style errors */
    }
    oll_classify(status, msg, lx_wire_call_key(call), out);
    lx_wire_retry_after(call, headers, n_headers, out);
}

/* ---- embeddings ------------------------------------------------------------------------- */

static int oll_build_embeddings(const struct lx_provider_call *call,
                                const struct lx_embed_req *req, struct lx_arena *a,
                                struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(OLL_MAX_BODY);
    struct lx_json_writer w;
    int rc = oll_target(call, "/api/embed", a, out, err);

    if (rc != LX_OK)
        return rc;
    lx_wire_body_open(&w, &b, call, req->model);
    OLL_KEY(&w, "input");
    lx_wire_write_strs(&w, req->inputs, req->n_inputs);
    if (req->dimensions > 0) {
        OLL_KEY(&w, "dimensions");
        lx_json_write_int(&w, req->dimensions);
    }
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, &out->body, err);
}

static int oll_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                                struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int rc;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    rc = lx_wire_vectors(&doc, lx_json_get(&doc, 0, LX_STR("embeddings")), a, out);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        goto bad;
    (void)lx_wire_str(&doc, 0, "model", a, &out->model);
    out->usage.input = lx_wire_int(&doc, 0, "prompt_eval_count");
    out->usage.total = out->usage.input;
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not an Ollama embed response");
    return LX_EPARSE;
}

const struct lx_provider_ops lx_provider_ollama = {
    .name = "ollama",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS,
    .framing = LX_FRAMING_NDJSON,
    .build_request = oll_build_request,
    .parse_response = oll_parse_response,
    .parse_event = oll_parse_event,
    .map_error = oll_map_error,
    .build_embeddings = oll_build_embeddings,
    .parse_embeddings = oll_parse_embeddings,
};
