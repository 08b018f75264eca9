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

static int wai_write_msg(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                         struct lx_arena *a, struct lx_err *err)
{
    const struct lx_msg *m = &req->msgs[msg_i];
    size_t n_text = 0, n_calls = 0;

    for (size_t i = 0; i < m->n_parts; i++) {
        const struct lx_part *p = &m->parts[i];

        switch (p->type) {
        case LX_PART_TEXT: n_text++; break;
        case LX_PART_THINKING:
        case LX_PART_REDACTED_THINKING: break; /* not sent back: Workers AI has no field */
        case LX_PART_TOOL_CALL: n_calls++; break;
        case LX_PART_TOOL_RESULT:
            lx_wire_write_tool_result(w, req, msg_i, p, "tool_call_id", "name", a);
            break;
        case LX_PART_IMAGE:
        case LX_PART_FILE:
        case LX_PART_AUDIO:
            return wai_unsupported(err, "image, file and audio parts are not supported");
        }
    }
    if (n_text == 0 && n_calls == 0 && (m->role == LX_ROLE_TOOL || m->n_parts > 0))
        return LX_OK;
    lx_json_write_object_begin(w);
    WAI_KEY(w, "role");
    lx_json_write_str(w, lx_str_cstr(lx_wire_role(m->role)));
    WAI_KEY(w, "content");
    lx_json_write_str(w, lx_wire_join_parts(m->parts, m->n_parts, LX_PART_TEXT, a));
    if (n_calls > 0)
        lx_wire_write_tool_calls(w, m->parts, m->n_parts, LX_WIRE_CALL_OPENAI, a);
    lx_json_write_object_end(w);
    return LX_OK;
}

static int wai_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                         struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(WAI_MAX_BODY);
    struct lx_json_writer w;
    int rc;

    if (req->n > 1)
        return wai_unsupported(err, "n > 1 is not supported");
    lx_wire_body_open(&w, &b, NULL, LX_STR_NULL);
    rc = lx_wire_write_msgs(&w, req, wai_write_msg, a, err);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    /* the legacy flat tool shape {name, description, parameters}; no tool_choice: NONE drops
     * the tools, NAMED sends only that tool */
    lx_wire_write_tools_chosen(&w, req, true);
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
    rc = wai_run_target(call, lx_wire_model(call, req->model), a, out, err);
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

static int wai_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int res, calls, rc;
    size_t cap = 1, n = 0;
    struct lx_choice *ch;
    struct lx_part *parts;
    struct lx_str s;

    (void)call;
    lx_chat_resp_init(out);
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    res = lx_json_get(&doc, 0, LX_STR("result"));
    if (lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("success"))) == LX_JSON_FALSE ||
        lx_json_type(&doc, res) != LX_JSON_OBJECT)
        goto bad;
    calls = lx_json_get(&doc, res, LX_STR("tool_calls"));
    if (!lx_wire_array_room(&doc, calls, &cap))
        goto bad;
    if (lx_wire_choice_alloc(a, cap, &ch, &parts) != LX_OK)
        return LX_ENOMEM;
    if (wai_response_text(&doc, res, a, &s) != LX_OK)
        goto bad;
    lx_wire_add_text(parts, &n, LX_PART_TEXT, s);
    rc = lx_wire_call_parts(&doc, calls, true, a, parts, &n);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        goto bad;
    lx_wire_choice_set(out, ch, parts, n,
                       lx_json_type(&doc, calls) == LX_JSON_ARRAY && lx_json_count(&doc, calls) > 0
                           ? LX_FINISH_TOOL_CALLS
                           : LX_FINISH_STOP,
                       LX_STR_NULL);
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

static int wai_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct wai_stream *ps = st->priv;
    struct lx_arena *s = st->scratch;
    struct lx_json doc;
    struct lx_str str;
    int calls, usage, errs, rc;
    bool known = false, bad_call;

    if (st->done || st->failed)
        return LX_OK;
    if (ps == NULL && (ps = lx_wire_stream_priv(st, sizeof(*ps))) == NULL)
        return LX_ENOMEM;
    if (lx_str_eq(lx_str_trim(ev->data), LX_STR("[DONE]"))) {
        rc = lx_wire_emit_start(&ps->started, LX_STR_NULL, LX_STR_NULL, sink);
        if (rc != LX_OK)
            return rc;
        return lx_wire_stream_end(st, sink,
                                  ps->n_calls > 0 ? LX_FINISH_TOOL_CALLS : LX_FINISH_STOP,
                                  LX_STR_NULL, ps->has_usage ? &ps->usage : NULL);
    }
    if (!lx_wire_parse_object(&doc, s, ev->data))
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
        wai_classify(500, code, msg, lx_wire_call_key(st->call), e);
        if (e->type != LX_ERRT_SERVER) /* the status its code implies (3040 -> 429) */
            e->status = lx_err_type_status(e->type);
        e->code = code_txt;
        return lx_wire_stream_fail(st, sink, e);
    }
    rc = lx_wire_emit_start(&ps->started, LX_STR_NULL, LX_STR_NULL, sink);
    if (rc != LX_OK)
        return rc;
    if (lx_json_get(&doc, 0, LX_STR("response")) >= 0) {
        known = true;
        if (wai_response_text(&doc, 0, s, &str) != LX_OK)
            goto bad;
        if ((rc = lx_wire_emit_text(sink, LX_DELTA_TEXT, str)) != LX_OK)
            return rc;
    }
    calls = lx_json_get(&doc, 0, LX_STR("tool_calls"));
    if (calls >= 0) {
        known = true;
        if (lx_json_type(&doc, calls) != LX_JSON_ARRAY && lx_json_type(&doc, calls) != LX_JSON_NULL)
            goto bad;
    }
    rc = lx_wire_emit_calls(&doc, calls, true, WAI_MAX_CALLS, &ps->n_calls, s, sink, &bad_call);
    if (bad_call)
        goto bad;
    if (rc != LX_OK)
        return rc;
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
    enum lx_err_type type;

    if (code == 10000 || status == 401)
        type = LX_ERRT_AUTHENTICATION;
    else if (code == 3036 || status == 402)
        type = LX_ERRT_QUOTA;
    else if (code == 3040 || status == 429)
        type = LX_ERRT_RATE_LIMIT;
    else if (code == 5007 || status == 404)
        type = LX_ERRT_NOT_FOUND;
    else if (lx_wire_contains_nocase(msg, "context window") ||
             lx_wire_contains_nocase(msg, "too many tokens") ||
             lx_wire_contains_nocase(msg, "context length"))
        type = LX_ERRT_CONTEXT_LENGTH;
    else
        type = lx_err_type_from_status(status);
    lx_wire_error_set(out, status, type, msg, key);
}

static void wai_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL, code_txt = LX_STR_NULL;
    int64_t code = -1;

    if (lx_wire_error_body(&doc, body, WAI_MAX_MSG, a, &msg)) {
        wai_first_error(&doc, lx_json_get(&doc, 0, LX_STR("errors")), a, &code, &msg, &code_txt);
        if (msg.len == 0)
            (void)lx_wire_str(&doc, 0, "error", a, &msg);
    }
    wai_classify(status, code, msg, lx_wire_call_key(call), out);
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
    int rc = wai_run_target(call, lx_wire_model(call, req->model), a, out, err);

    if (rc != LX_OK)
        return rc;
    lx_wire_body_open(&w, &b, NULL, LX_STR_NULL);
    WAI_KEY(&w, "text");
    lx_wire_write_strs(&w, req->inputs, req->n_inputs);
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, &out->body, err);
}

static int wai_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                                struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int res, rc;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    if (!lx_wire_parse_object(&doc, a, body))
        goto bad;
    res = lx_json_get(&doc, 0, LX_STR("result"));
    rc = lx_wire_vectors(&doc, lx_json_get(&doc, res, LX_STR("data")), a, out);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        goto bad;
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
