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

/* Tool-call arguments as the JSON object Ollama wants: the IR's text when it is an object,
 * else {} (empty or not JSON: a model's broken arguments must not make the history unsendable). */
static struct lx_str oll_args_object(struct lx_str args, struct lx_arena *a)
{
    struct lx_json doc;

    if (args.len == 0)
        return LX_STR("{}");
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (lx_json_parse(&doc, args.ptr, args.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_STR("{}");
    return lx_json_raw(&doc, 0);
}

static void oll_write_tool_result(struct lx_json_writer *w, const struct lx_chat_req *req,
                                  size_t msg_i, const struct lx_part *p, struct lx_arena *a)
{
    struct lx_str name = p->name.len > 0 ? p->name : lx_chat_req_tool_name(req, msg_i, p->id);

    lx_json_write_object_begin(w);
    OLL_KEY(w, "role");
    lx_json_write_str(w, LX_STR("tool"));
    OLL_KEY(w, "content");
    lx_json_write_str(w, p->n_sub > 0 ? lx_wire_join_parts(p->sub, p->n_sub, LX_PART_TEXT, a)
                                      : p->text);
    if (name.len > 0) {
        OLL_KEY(w, "tool_name");
        lx_json_write_str(w, name);
    }
    lx_json_write_object_end(w);
}

static int oll_write_msg(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                         struct lx_arena *a, struct lx_err *err)
{
    const struct lx_msg *m = &req->msgs[msg_i];
    const char *role = "user";
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
            oll_write_tool_result(w, req, msg_i, p, a);
            break;
        case LX_PART_FILE:
        case LX_PART_AUDIO: return oll_unsupported(err, "file and audio parts are not supported");
        }
    }
    if (n_other == 0 && n_images == 0 && n_calls == 0 &&
        (m->role == LX_ROLE_TOOL || m->n_parts > 0))
        return LX_OK; /* tool results only (written above), or only thinking */
    switch (m->role) {
    case LX_ROLE_SYSTEM:
    case LX_ROLE_DEVELOPER: role = "system"; break;
    case LX_ROLE_USER:
    case LX_ROLE_TOOL: role = "user"; break;
    case LX_ROLE_ASSISTANT: role = "assistant"; break;
    }
    text = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a);
    thinking = lx_wire_join_parts(m->parts, m->n_parts, LX_PART_THINKING, a);
    lx_json_write_object_begin(w);
    OLL_KEY(w, "role");
    lx_json_write_str(w, lx_str_cstr(role));
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
    if (n_calls > 0) {
        OLL_KEY(w, "tool_calls");
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < m->n_parts; i++) {
            const struct lx_part *p = &m->parts[i];

            if (p->type != LX_PART_TOOL_CALL)
                continue;
            lx_json_write_object_begin(w);
            OLL_KEY(w, "function");
            lx_json_write_object_begin(w);
            OLL_KEY(w, "name");
            lx_json_write_str(w, p->name);
            OLL_KEY(w, "arguments");
            lx_json_write_raw(w, oll_args_object(p->args, a));
            lx_json_write_object_end(w);
            lx_json_write_object_end(w);
        }
        lx_json_write_array_end(w);
    }
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
    int rc = LX_OK;

    if (req->n > 1)
        return oll_unsupported(err, "n > 1 is not supported");
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    OLL_KEY(&w, "model");
    lx_json_write_str(&w, call->model.len > 0 ? call->model : req->model);
    OLL_KEY(&w, "messages");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_msgs && rc == LX_OK; i++)
        rc = oll_write_msg(&w, req, i, a, err);
    lx_json_write_array_end(&w);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    /* tool_choice: Ollama has none. NONE drops the tools; NAMED sends only that tool */
    if (req->n_tools > 0 && req->tool_choice != LX_TOOL_CHOICE_NONE) {
        OLL_KEY(&w, "tools");
        lx_json_write_array_begin(&w);
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct lx_tool *t = &req->tools[i];

            if (req->tool_choice == LX_TOOL_CHOICE_NAMED &&
                !lx_str_eq(t->name, req->tool_choice_name))
                continue;
            lx_json_write_object_begin(&w);
            OLL_KEY(&w, "type");
            lx_json_write_str(&w, LX_STR("function"));
            OLL_KEY(&w, "function");
            lx_json_write_object_begin(&w);
            OLL_KEY(&w, "name");
            lx_json_write_str(&w, t->name);
            if (t->description.len > 0) {
                OLL_KEY(&w, "description");
                lx_json_write_str(&w, t->description);
            }
            OLL_KEY(&w, "parameters");
            lx_json_write_raw(&w, t->parameters.len > 0
                                      ? t->parameters
                                      : LX_STR("{\"type\":\"object\",\"properties\":{}}"));
            lx_json_write_object_end(&w);
            lx_json_write_object_end(&w);
        }
        lx_json_write_array_end(&w);
    }
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

/* One tool_calls element -> id, name, arguments (an object's text; a string is decoded). */
static int oll_tool_call(const struct lx_json *doc, int c, int n, struct lx_arena *a,
                         struct lx_str *id, struct lx_str *name, struct lx_str *args)
{
    int fn = lx_json_get(doc, c, LX_STR("function")), t;

    if (lx_json_type(doc, fn) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if (lx_wire_str(doc, c, "id", a, id) != LX_OK ||
        lx_wire_str(doc, fn, "name", a, name) != LX_OK || name->len == 0)
        return LX_EPARSE;
    if (id->len == 0) {
        *id = lx_wire_call_id(a, n);
        if (id->ptr == NULL)
            return LX_ENOMEM;
    }
    t = lx_json_get(doc, fn, LX_STR("arguments"));
    return lx_wire_tool_args(doc, t, a, args);
}

static int oll_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int msg, calls;
    size_t cap = 2, n = 0;
    int k = 0;
    struct lx_choice *ch;
    struct lx_part *parts;
    struct lx_str s;
    struct lx_str reason;

    (void)call;
    lx_chat_resp_init(out);
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    msg = lx_json_get(&doc, 0, LX_STR("message"));
    if (lx_json_type(&doc, msg) != LX_JSON_OBJECT)
        goto bad;
    calls = lx_json_get(&doc, msg, LX_STR("tool_calls"));
    if (lx_json_type(&doc, calls) == LX_JSON_ARRAY)
        cap += lx_json_count(&doc, calls);
    else if (calls >= 0 && lx_json_type(&doc, calls) != LX_JSON_NULL)
        goto bad;
    ch = lx_arena_zalloc(a, sizeof(*ch));
    parts = lx_arena_zalloc(a, cap * sizeof(*parts));
    if (ch == NULL || parts == NULL)
        return LX_ENOMEM;
    if (lx_wire_str(&doc, 0, "model", a, &out->model) != LX_OK ||
        lx_wire_str(&doc, 0, "done_reason", a, &reason) != LX_OK)
        goto bad;
    if (lx_wire_str(&doc, msg, "thinking", a, &s) != LX_OK)
        goto bad;
    if (s.len > 0) {
        parts[n].type = LX_PART_THINKING;
        parts[n++].text = s;
    }
    if (lx_wire_str(&doc, msg, "content", a, &s) != LX_OK)
        goto bad;
    if (s.len > 0) {
        parts[n].type = LX_PART_TEXT;
        parts[n++].text = s;
    }
    for (int c = lx_json_first(&doc, calls); c >= 0; c = lx_json_sibling(&doc, calls, c)) {
        struct lx_part *p = &parts[n];
        int rc = oll_tool_call(&doc, c, k++, a, &p->id, &p->name, &p->args);

        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            goto bad;
        p->type = LX_PART_TOOL_CALL;
        n++;
    }
    ch->message.role = LX_ROLE_ASSISTANT;
    ch->message.parts = parts;
    ch->message.n_parts = n;
    ch->finish_raw = reason;
    ch->finish = oll_finish(reason, lx_json_type(&doc, calls) == LX_JSON_ARRAY &&
                                        lx_json_count(&doc, calls) > 0);
    out->choices = ch;
    out->n_choices = 1;
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
    struct lx_delta d;
    struct lx_str str;
    int msg, calls, done, e, rc;

    if (st->done || st->failed)
        return LX_OK;
    if (ps == NULL) {
        ps = lx_arena_zalloc(st->a, sizeof(*ps));
        if (ps == NULL)
            return LX_ENOMEM;
        st->priv = ps;
    }
    if (lx_str_trim(ev->data).len == 0)
        return LX_OK; /* a blank line */
    lx_wire_json_init(&doc, s);
    if (lx_json_parse(&doc, ev->data.ptr, ev->data.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT)
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
        oll_classify(500, str, st->call != NULL ? st->call->key : LX_STR_NULL, ue);
        lx_wire_delta_init(&d, LX_DELTA_ERROR);
        d.error = ue;
        st->failed = true;
        return sink->emit(sink->ctx, &d);
    }
    msg = lx_json_get(&doc, 0, LX_STR("message"));
    done = lx_json_get(&doc, 0, LX_STR("done"));
    if ((msg >= 0 && lx_json_type(&doc, msg) != LX_JSON_OBJECT) ||
        (lx_json_type(&doc, done) != LX_JSON_TRUE && lx_json_type(&doc, done) != LX_JSON_FALSE))
        goto bad;
    if (!ps->started) {
        lx_wire_delta_init(&d, LX_DELTA_START);
        if (lx_wire_str(&doc, 0, "model", s, &d.name) != LX_OK)
            goto bad;
        ps->started = true;
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
    }
    if (msg >= 0) {
        lx_wire_delta_init(&d, LX_DELTA_THINKING);
        if (lx_wire_str(&doc, msg, "thinking", s, &d.text) != LX_OK)
            goto bad;
        if (d.text.len > 0 && (rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_TEXT);
        if (lx_wire_str(&doc, msg, "content", s, &d.text) != LX_OK)
            goto bad;
        if (d.text.len > 0 && (rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
        calls = lx_json_get(&doc, msg, LX_STR("tool_calls"));
        if (calls >= 0 && lx_json_type(&doc, calls) != LX_JSON_ARRAY &&
            lx_json_type(&doc, calls) != LX_JSON_NULL)
            goto bad;
        for (int c = lx_json_first(&doc, calls); c >= 0; c = lx_json_sibling(&doc, calls, c)) {
            if (ps->n_calls >= OLL_MAX_CALLS)
                goto bad;
            lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
            rc = oll_tool_call(&doc, c, ps->n_calls, s, &d.id, &d.name, &d.text);
            if (rc == LX_ENOMEM)
                return rc;
            if (rc != LX_OK)
                goto bad;
            d.tool_index = ps->n_calls++;
            rc = sink->emit(sink->ctx, &d);
            if (rc != LX_OK)
                return rc;
        }
    }
    if (lx_json_type(&doc, done) == LX_JSON_TRUE) {
        lx_wire_delta_init(&d, LX_DELTA_FINISH);
        if (lx_wire_str(&doc, 0, "done_reason", s, &d.finish_raw) != LX_OK)
            goto bad;
        d.finish = oll_finish(d.finish_raw, ps->n_calls > 0);
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_USAGE);
        oll_usage(&doc, &d.usage);
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_DONE);
        st->done = true;
        return sink->emit(sink->ctx, &d);
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
    lx_upstream_error_init(out);
    out->status = status;
    if (lx_wire_contains_nocase(msg, "context length") ||
        lx_wire_contains_nocase(msg, "context window") ||
        lx_wire_contains_nocase(msg, "exceeds the context"))
        out->type = LX_ERRT_CONTEXT_LENGTH;
    else if (status == 404 ||
             (lx_wire_contains_nocase(msg, "model '") && lx_wire_contains_nocase(msg, "not found")))
        out->type = LX_ERRT_NOT_FOUND;
    else if (status == 503)
        out->type = LX_ERRT_OVERLOADED; /* server busy, queue full */
    else
        out->type = lx_err_type_from_status(status);
    lx_upstream_error_defaults(out);
    out->message = lx_wire_withhold(msg, key);
}

static void oll_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL;
    int e;

    lx_wire_json_init(&doc, a);
    if (body.len > 0 && lx_json_parse(&doc, body.ptr, body.len) == LX_OK &&
        lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        e = lx_json_get(&doc, 0, LX_STR("error"));
        if (lx_json_type(&doc, e) == LX_JSON_STRING)
            (void)lx_json_str(&doc, e, a, &msg);
        else if (lx_json_type(&doc, e) == LX_JSON_OBJECT)
            (void)lx_wire_str(&doc, e, "message", a, &msg); /* ollama.com's OpenAI-style errors */
    } else {
        msg = lx_wire_cut_utf8(lx_str_trim(body), OLL_MAX_MSG);
    }
    oll_classify(status, msg, call != NULL ? call->key : LX_STR_NULL, out);
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
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    OLL_KEY(&w, "model");
    lx_json_write_str(&w, call->model.len > 0 ? call->model : req->model);
    OLL_KEY(&w, "input");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_inputs; i++)
        lx_json_write_str(&w, req->inputs[i]);
    lx_json_write_array_end(&w);
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
    int emb;
    size_t n = 0;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    emb = lx_json_get(&doc, 0, LX_STR("embeddings"));
    if (lx_json_type(&doc, emb) != LX_JSON_ARRAY)
        goto bad;
    out->vectors = lx_arena_zalloc(a, (lx_json_count(&doc, emb) + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL)
        return LX_ENOMEM;
    for (int v = lx_json_first(&doc, emb); v >= 0; v = lx_json_sibling(&doc, emb, v)) {
        if (lx_json_type(&doc, v) != LX_JSON_ARRAY)
            goto bad;
        for (int x = lx_json_first(&doc, v); x >= 0; x = lx_json_sibling(&doc, v, x))
            if (lx_json_type(&doc, x) != LX_JSON_NUMBER)
                goto bad;
        out->vectors[n++] = lx_json_raw(&doc, v);
    }
    out->n_vectors = n;
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
