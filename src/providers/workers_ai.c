/* workers_ai.c - the Cloudflare Workers AI provider adapter (lx_provider_workers_ai): IR ->
 * POST {base}/ai/run/{model} bodies (base: .../client/v4/accounts/{account_id}); the result
 * envelope, SSE chunks ({"response":"…","p":"…"}, usage, [DONE]) and error envelopes -> IR.
 * Owned by the small-providers engineer (docs/internals/providers-small.md).
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given.
 * Any thread. Traps: the model is a path (validated, never escaped); "response" may be a JSON
 * object in JSON mode; tools use the legacy flat shape; the stream has no finish reason. */
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "providers/provider.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define WAI_MAX_BODY ((size_t)64 << 20)
#define WAI_MAX_MSG 512u
#define WAI_MAX_CALLS 4096
#define WAI_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))

/* ---- small helpers ---------------------------------------------------------------------- */

/* URL, method and headers: Content-Type, Accept, Bearer key, the configured headers. */
static int wai_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                      struct lx_upstream_req *out, struct lx_err *err)
{
    return lx_wire_bearer_target(call, LX_STR_NULL, path, LX_STR("text/event-stream"), a, out, err);
}

/* ---- request body ----------------------------------------------------------------------- */

static int wai_unsupported(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EINVAL, 400, "workers-ai: %s", what);
    return LX_EINVAL;
}

/* The model goes into the path as is ("@cf/meta/llama-3.1-8b-instruct": '/' separates path
 * segments, '@' is allowed there), so it must not be able to climb out of /ai/run/ or carry a
 * query: letters, digits, "@/._-:" only, no empty, "." or ".." segment. */
static bool wai_model_ok(struct lx_str m)
{
    size_t seg = 0;

    if (m.len == 0 || m.len > 256)
        return false;
    for (size_t i = 0; i <= m.len; i++) {
        char c = i < m.len ? m.ptr[i] : '/';

        if (c == '/') {
            struct lx_str s = lx_str_sub(m, seg, i - seg);

            if (s.len == 0 || lx_str_eq(s, LX_STR(".")) || lx_str_eq(s, LX_STR("..")))
                return false;
            seg = i + 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '@' || c == '.' || c == '_' || c == '-' || c == ':'))
            return false;
    }
    return true;
}

static int wai_run_target(const struct lx_provider_call *call, struct lx_str model,
                          struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_str parts[2] = {LX_STR("/ai/run/"), model};
    struct lx_str path;
    int rc;

    if (call->conf == NULL || call->conf->base_url == NULL) {
        lx_err_set(err, LX_EINVAL, 500, "workers-ai: the provider has no base_url "
                                        "(https://api.cloudflare.com/client/v4/accounts/ID)");
        return LX_EINVAL;
    }
    if (!wai_model_ok(model)) {
        lx_err_set(err, LX_EINVAL, 400, "workers-ai: the model name is not a valid model path");
        return LX_EINVAL;
    }
    path = lx_wire_concat(a, parts, 2);
    if (path.ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    rc = wai_target(call, path.ptr, a, out, err);
    return rc;
}

static void wai_write_tool_result(struct lx_json_writer *w, const struct lx_chat_req *req,
                                  size_t msg_i, const struct lx_part *p, struct lx_arena *a)
{
    struct lx_str name = p->name.len > 0 ? p->name : lx_chat_req_tool_name(req, msg_i, p->id);

    lx_json_write_object_begin(w);
    WAI_KEY(w, "role");
    lx_json_write_str(w, LX_STR("tool"));
    WAI_KEY(w, "content");
    lx_json_write_str(w, p->n_sub > 0 ? lx_wire_join_parts(p->sub, p->n_sub, LX_PART_TEXT, a)
                                      : p->text);
    if (p->id.len > 0) {
        WAI_KEY(w, "tool_call_id");
        lx_json_write_str(w, p->id);
    }
    if (name.len > 0) {
        WAI_KEY(w, "name");
        lx_json_write_str(w, name);
    }
    lx_json_write_object_end(w);
}

static int wai_write_msg(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                         struct lx_arena *a, struct lx_err *err)
{
    const struct lx_msg *m = &req->msgs[msg_i];
    size_t n_text = 0, n_calls = 0;
    const char *role = "user";

    for (size_t i = 0; i < m->n_parts; i++) {
        const struct lx_part *p = &m->parts[i];

        switch (p->type) {
        case LX_PART_TEXT: n_text++; break;
        case LX_PART_THINKING:
        case LX_PART_REDACTED_THINKING: break; /* not sent back: Workers AI has no field */
        case LX_PART_TOOL_CALL: n_calls++; break;
        case LX_PART_TOOL_RESULT: wai_write_tool_result(w, req, msg_i, p, a); break;
        case LX_PART_IMAGE:
        case LX_PART_FILE:
        case LX_PART_AUDIO:
            return wai_unsupported(err, "image, file and audio parts are not supported");
        }
    }
    if (n_text == 0 && n_calls == 0 && (m->role == LX_ROLE_TOOL || m->n_parts > 0))
        return LX_OK;
    switch (m->role) {
    case LX_ROLE_SYSTEM:
    case LX_ROLE_DEVELOPER: role = "system"; break;
    case LX_ROLE_USER:
    case LX_ROLE_TOOL: role = "user"; break;
    case LX_ROLE_ASSISTANT: role = "assistant"; break;
    }
    lx_json_write_object_begin(w);
    WAI_KEY(w, "role");
    lx_json_write_str(w, lx_str_cstr(role));
    WAI_KEY(w, "content");
    lx_json_write_str(w, lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a));
    if (n_calls > 0) {
        WAI_KEY(w, "tool_calls");
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < m->n_parts; i++) {
            const struct lx_part *p = &m->parts[i];

            if (p->type != LX_PART_TOOL_CALL)
                continue;
            lx_json_write_object_begin(w);
            WAI_KEY(w, "id");
            lx_json_write_str(w, p->id);
            WAI_KEY(w, "type");
            lx_json_write_str(w, LX_STR("function"));
            WAI_KEY(w, "function");
            lx_json_write_object_begin(w);
            WAI_KEY(w, "name");
            lx_json_write_str(w, p->name);
            WAI_KEY(w, "arguments");
            lx_json_write_str(w, p->args.len > 0 ? p->args : LX_STR("{}"));
            lx_json_write_object_end(w);
            lx_json_write_object_end(w);
        }
        lx_json_write_array_end(w);
    }
    lx_json_write_object_end(w);
    return LX_OK;
}

static int wai_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                         struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(WAI_MAX_BODY);
    struct lx_json_writer w;
    int rc = LX_OK;

    if (req->n > 1)
        return wai_unsupported(err, "n > 1 is not supported");
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    WAI_KEY(&w, "messages");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_msgs && rc == LX_OK; i++)
        rc = wai_write_msg(&w, req, i, a, err);
    lx_json_write_array_end(&w);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    /* the legacy flat tool shape {name, description, parameters}; no tool_choice: NONE drops
     * the tools, NAMED sends only that tool */
    if (req->n_tools > 0 && req->tool_choice != LX_TOOL_CHOICE_NONE) {
        WAI_KEY(&w, "tools");
        lx_json_write_array_begin(&w);
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct lx_tool *t = &req->tools[i];

            if (req->tool_choice == LX_TOOL_CHOICE_NAMED &&
                !lx_str_eq(t->name, req->tool_choice_name))
                continue;
            lx_json_write_object_begin(&w);
            WAI_KEY(&w, "name");
            lx_json_write_str(&w, t->name);
            WAI_KEY(&w, "description");
            lx_json_write_str(&w, t->description);
            WAI_KEY(&w, "parameters");
            lx_json_write_raw(&w, t->parameters.len > 0
                                      ? t->parameters
                                      : LX_STR("{\"type\":\"object\",\"properties\":{}}"));
            lx_json_write_object_end(&w);
        }
        lx_json_write_array_end(&w);
    }
    if (req->max_tokens >= 0) {
        WAI_KEY(&w, "max_tokens");
        lx_json_write_int(&w, req->max_tokens);
    }
    lx_wire_write_num(&w, "temperature", &req->temperature);
    lx_wire_write_num(&w, "top_p", &req->top_p);
    if (req->top_k >= 0) {
        WAI_KEY(&w, "top_k");
        lx_json_write_int(&w, req->top_k);
    }
    if (req->has_seed) {
        WAI_KEY(&w, "seed");
        lx_json_write_int(&w, req->seed);
    }
    lx_wire_write_num(&w, "frequency_penalty", &req->frequency_penalty);
    lx_wire_write_num(&w, "presence_penalty", &req->presence_penalty);
    if (req->response_format == LX_RF_JSON_OBJECT || req->response_format == LX_RF_JSON_SCHEMA) {
        WAI_KEY(&w, "response_format");
        lx_json_write_object_begin(&w);
        WAI_KEY(&w, "type");
        if (req->response_format == LX_RF_JSON_SCHEMA && req->schema.len > 0) {
            lx_json_write_str(&w, LX_STR("json_schema"));
            WAI_KEY(&w, "json_schema");
            lx_json_write_raw(&w, req->schema);
        } else {
            lx_json_write_str(&w, LX_STR("json_object"));
        }
        lx_json_write_object_end(&w);
    }
    WAI_KEY(&w, "stream");
    lx_json_write_bool(&w, call->stream);
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, body, err);
}

static int wai_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    int rc;

    if (call->endpoint != LX_EP_CHAT)
        return wai_unsupported(err, "no token counting endpoint");
    rc = wai_run_target(call, call->model.len > 0 ? call->model : req->model, a, out, err);
    if (rc != LX_OK)
        return rc;
    return wai_chat_body(call, req, a, &out->body, err);
}

/* ---- decoding --------------------------------------------------------------------------- */

static void wai_usage(const struct lx_json *doc, int u, struct lx_usage *out)
{
    *out = (struct lx_usage)LX_USAGE_INIT;
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return;
    out->input = lx_wire_int(doc, u, "prompt_tokens");
    out->output = lx_wire_int(doc, u, "completion_tokens");
    out->total = lx_wire_int(doc, u, "total_tokens");
    if (out->total < 0 && out->input >= 0 && out->output >= 0)
        out->total = out->input + out->output;
}

/* "response": text, or (JSON mode) the object itself, kept as its JSON text. */
static int wai_response_text(const struct lx_json *doc, int obj, struct lx_arena *a,
                             struct lx_str *out)
{
    int t = lx_json_get(doc, obj, LX_STR("response"));

    *out = LX_STR_NULL;
    switch (lx_json_type(doc, t)) {
    case LX_JSON_STRING: return lx_json_str(doc, t, a, out);
    case LX_JSON_OBJECT:
    case LX_JSON_ARRAY:
    case LX_JSON_NUMBER:
    case LX_JSON_TRUE:
    case LX_JSON_FALSE: *out = lx_json_raw(doc, t); return LX_OK;
    case LX_JSON_NONE:
    case LX_JSON_NULL: return LX_OK;
    }
    return LX_EPARSE;
}

/* {name, arguments} (legacy) or {id, type, function:{name, arguments}} (newer models). */
static int wai_tool_call(const struct lx_json *doc, int c, int n, struct lx_arena *a,
                         struct lx_str *id, struct lx_str *name, struct lx_str *args)
{
    int fn = lx_json_get(doc, c, LX_STR("function")), t;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if (lx_json_type(doc, fn) != LX_JSON_OBJECT)
        fn = c;
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

static int wai_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int res, calls, k = 0;
    size_t cap = 1, n = 0;
    struct lx_choice *ch;
    struct lx_part *parts;
    struct lx_str s;

    (void)call;
    lx_chat_resp_init(out);
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    res = lx_json_get(&doc, 0, LX_STR("result"));
    if (lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("success"))) == LX_JSON_FALSE ||
        lx_json_type(&doc, res) != LX_JSON_OBJECT)
        goto bad;
    calls = lx_json_get(&doc, res, LX_STR("tool_calls"));
    if (lx_json_type(&doc, calls) == LX_JSON_ARRAY)
        cap += lx_json_count(&doc, calls);
    else if (calls >= 0 && lx_json_type(&doc, calls) != LX_JSON_NULL)
        goto bad;
    ch = lx_arena_zalloc(a, sizeof(*ch));
    parts = lx_arena_zalloc(a, cap * sizeof(*parts));
    if (ch == NULL || parts == NULL)
        return LX_ENOMEM;
    if (wai_response_text(&doc, res, a, &s) != LX_OK)
        goto bad;
    if (s.len > 0) {
        parts[n].type = LX_PART_TEXT;
        parts[n++].text = s;
    }
    for (int c = lx_json_first(&doc, calls); c >= 0; c = lx_json_sibling(&doc, calls, c)) {
        struct lx_part *p = &parts[n];
        int rc = wai_tool_call(&doc, c, k++, a, &p->id, &p->name, &p->args);

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
    ch->finish = k > 0 ? LX_FINISH_TOOL_CALLS : LX_FINISH_STOP;
    out->choices = ch;
    out->n_choices = 1;
    wai_usage(&doc, lx_json_get(&doc, res, LX_STR("usage")), &out->usage);
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a Workers AI result envelope");
    return LX_EPARSE;
}

/* ---- stream ----------------------------------------------------------------------------- */

struct wai_stream {
    bool started;
    bool has_usage;
    int n_calls;
    struct lx_usage usage; /* held until [DONE]: FINISH comes before USAGE, as elsewhere */
};

static void wai_classify(int status, int64_t code, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out);

/* errors[0] of an envelope (or of a stream event): code and message. */
static void wai_first_error(const struct lx_json *doc, int errs, struct lx_arena *a,
                            int64_t *code, struct lx_str *msg, struct lx_str *code_txt)
{
    int e = lx_json_first(doc, errs);

    *code = -1;
    *msg = *code_txt = LX_STR_NULL;
    if (lx_json_type(doc, e) != LX_JSON_OBJECT)
        return;
    *code = lx_wire_int(doc, e, "code");
    if (lx_json_type(doc, lx_json_get(doc, e, LX_STR("code"))) == LX_JSON_NUMBER)
        *code_txt = lx_json_raw(doc, lx_json_get(doc, e, LX_STR("code")));
    (void)lx_wire_str(doc, e, "message", a, msg);
}

static int wai_start(struct wai_stream *ps, const struct lx_delta_sink *sink)
{
    struct lx_delta d;

    if (ps->started)
        return LX_OK;
    ps->started = true;
    lx_wire_delta_init(&d, LX_DELTA_START);
    return sink->emit(sink->ctx, &d);
}

static int wai_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct wai_stream *ps = st->priv;
    struct lx_arena *s = st->scratch;
    struct lx_json doc;
    struct lx_delta d;
    int calls, usage, errs, rc;
    bool known = false;

    if (st->done || st->failed)
        return LX_OK;
    if (ps == NULL) {
        ps = lx_arena_zalloc(st->a, sizeof(*ps));
        if (ps == NULL)
            return LX_ENOMEM;
        st->priv = ps;
    }
    if (lx_str_eq(lx_str_trim(ev->data), LX_STR("[DONE]"))) {
        rc = wai_start(ps, sink);
        if (rc != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_FINISH);
        d.finish = ps->n_calls > 0 ? LX_FINISH_TOOL_CALLS : LX_FINISH_STOP;
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
        if (ps->has_usage) {
            lx_wire_delta_init(&d, LX_DELTA_USAGE);
            d.usage = ps->usage;
            rc = sink->emit(sink->ctx, &d);
            if (rc != LX_OK)
                return rc;
        }
        lx_wire_delta_init(&d, LX_DELTA_DONE);
        st->done = true;
        return sink->emit(sink->ctx, &d);
    }
    lx_wire_json_init(&doc, s);
    if (lx_json_parse(&doc, ev->data.ptr, ev->data.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    errs = lx_json_get(&doc, 0, LX_STR("errors"));
    if ((lx_json_type(&doc, errs) == LX_JSON_ARRAY && lx_json_count(&doc, errs) > 0) ||
        lx_json_get(&doc, 0, LX_STR("error")) >= 0) {
        struct lx_upstream_error *e = lx_arena_zalloc(s, sizeof(*e));
        struct lx_str msg, code_txt;
        int64_t code;

        if (e == NULL)
            return LX_ENOMEM;
        wai_first_error(&doc, errs, s, &code, &msg, &code_txt);
        if (msg.len == 0 && lx_wire_str(&doc, 0, "error", s, &msg) != LX_OK)
            msg = lx_json_raw(&doc, lx_json_get(&doc, 0, LX_STR("error")));
        wai_classify(500, code, msg, st->call != NULL ? st->call->key : LX_STR_NULL, e);
        if (e->type != LX_ERRT_SERVER) /* the status its code implies (3040 -> 429) */
            e->status = lx_err_type_status(e->type);
        e->code = code_txt;
        lx_wire_delta_init(&d, LX_DELTA_ERROR);
        d.error = e;
        st->failed = true;
        return sink->emit(sink->ctx, &d);
    }
    rc = wai_start(ps, sink);
    if (rc != LX_OK)
        return rc;
    if (lx_json_get(&doc, 0, LX_STR("response")) >= 0) {
        known = true;
        lx_wire_delta_init(&d, LX_DELTA_TEXT);
        if (wai_response_text(&doc, 0, s, &d.text) != LX_OK)
            goto bad;
        if (d.text.len > 0 && (rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    calls = lx_json_get(&doc, 0, LX_STR("tool_calls"));
    if (calls >= 0) {
        known = true;
        if (lx_json_type(&doc, calls) != LX_JSON_ARRAY && lx_json_type(&doc, calls) != LX_JSON_NULL)
            goto bad;
    }
    for (int c = lx_json_first(&doc, calls); c >= 0; c = lx_json_sibling(&doc, calls, c)) {
        if (ps->n_calls >= WAI_MAX_CALLS)
            goto bad;
        lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
        rc = wai_tool_call(&doc, c, ps->n_calls, s, &d.id, &d.name, &d.text);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            goto bad;
        d.tool_index = ps->n_calls++;
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    usage = lx_json_get(&doc, 0, LX_STR("usage"));
    if (lx_json_type(&doc, usage) == LX_JSON_OBJECT) {
        known = true;
        wai_usage(&doc, usage, &ps->usage);
        ps->has_usage = true;
    }
    if (!known && lx_json_get(&doc, 0, LX_STR("p")) < 0)
        goto bad; /* not a Workers AI chunk (an OpenAI-shaped chunk means the wrong endpoint) */
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream stream event is not a Workers AI chunk");
    return LX_EPARSE;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Cloudflare API codes: 10000 authentication, 3036 daily free allocation spent, 3040 capacity,
 * 5007 no such model (a 400). */
static void wai_classify(int status, int64_t code, struct lx_str msg, struct lx_str key,
                         struct lx_upstream_error *out)
{
    lx_upstream_error_init(out);
    out->status = status;
    if (code == 10000 || status == 401)
        out->type = LX_ERRT_AUTHENTICATION;
    else if (code == 3036 || status == 402)
        out->type = LX_ERRT_QUOTA;
    else if (code == 3040 || status == 429)
        out->type = LX_ERRT_RATE_LIMIT;
    else if (code == 5007 || status == 404)
        out->type = LX_ERRT_NOT_FOUND;
    else if (lx_wire_contains_nocase(msg, "context window") ||
             lx_wire_contains_nocase(msg, "too many tokens") ||
             lx_wire_contains_nocase(msg, "context length"))
        out->type = LX_ERRT_CONTEXT_LENGTH;
    else
        out->type = lx_err_type_from_status(status);
    lx_upstream_error_defaults(out);
    out->message = lx_wire_withhold(msg, key);
}

static void wai_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL, code_txt = LX_STR_NULL;
    int64_t code = -1;

    lx_wire_json_init(&doc, a);
    if (body.len > 0 && lx_json_parse(&doc, body.ptr, body.len) == LX_OK &&
        lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        wai_first_error(&doc, lx_json_get(&doc, 0, LX_STR("errors")), a, &code, &msg, &code_txt);
        if (msg.len == 0)
            (void)lx_wire_str(&doc, 0, "error", a, &msg);
    } else {
        msg = lx_wire_cut_utf8(lx_str_trim(body), WAI_MAX_MSG);
    }
    wai_classify(status, code, msg, call != NULL ? call->key : LX_STR_NULL, out);
    out->code = code_txt;
    lx_wire_retry_after(call, headers, n_headers, out);
}

/* ---- embeddings ------------------------------------------------------------------------- */

static int wai_build_embeddings(const struct lx_provider_call *call,
                                const struct lx_embed_req *req, struct lx_arena *a,
                                struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(WAI_MAX_BODY);
    struct lx_json_writer w;
    int rc = wai_run_target(call, call->model.len > 0 ? call->model : req->model, a, out, err);

    if (rc != LX_OK)
        return rc;
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    WAI_KEY(&w, "text");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_inputs; i++)
        lx_json_write_str(&w, req->inputs[i]);
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, &out->body, err);
}

static int wai_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                                struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int res, data;
    size_t n = 0;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    res = lx_json_get(&doc, 0, LX_STR("result"));
    data = lx_json_get(&doc, res, LX_STR("data"));
    if (lx_json_type(&doc, data) != LX_JSON_ARRAY)
        goto bad;
    out->vectors = lx_arena_zalloc(a, (lx_json_count(&doc, data) + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL)
        return LX_ENOMEM;
    for (int v = lx_json_first(&doc, data); v >= 0; v = lx_json_sibling(&doc, data, v)) {
        if (lx_json_type(&doc, v) != LX_JSON_ARRAY)
            goto bad;
        for (int x = lx_json_first(&doc, v); x >= 0; x = lx_json_sibling(&doc, v, x))
            if (lx_json_type(&doc, x) != LX_JSON_NUMBER)
                goto bad;
        out->vectors[n++] = lx_json_raw(&doc, v);
    }
    out->n_vectors = n;
    wai_usage(&doc, lx_json_get(&doc, res, LX_STR("usage")), &out->usage);
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a Workers AI embeddings result");
    return LX_EPARSE;
}

const struct lx_provider_ops lx_provider_workers_ai = {
    .name = "workers_ai",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_EMBEDDINGS,
    .framing = LX_FRAMING_SSE,
    .build_request = wai_build_request,
    .parse_response = wai_parse_response,
    .parse_event = wai_parse_event,
    .map_error = wai_map_error,
    .build_embeddings = wai_build_embeddings,
    .parse_embeddings = wai_parse_embeddings,
};
