/* wire.c - the shared adapter toolkit (wire.h): the small string, JSON, target and error helpers
 * each provider adapter and front door used to carry its own copy of, and the request writers,
 * answer/stream decoders and error readers cohere.c, ollama.c and workers_ai.c shared as near
 * copies. Pure functions: no I/O, no globals, no clock; memory from the arena given (a request
 * body goes through a bounded lx_buf released before return); the stream helpers touch only the
 * stream state and sink given. Any thread. Owned by the providers module. */
#include "providers/wire.h"

#include <stdio.h>
#include <string.h>

/* ---- strings ---------------------------------------------------------------------------- */

struct lx_str lx_wire_concat(struct lx_arena *a, const struct lx_str *parts, size_t n)
{
    size_t len = 0, off = 0;
    char *p;

    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > SIZE_MAX / 2 - len)
            return LX_STR_NULL;
        len += parts[i].len;
    }
    p = lx_arena_alloc(a, len + 1);
    if (p == NULL)
        return LX_STR_NULL;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0)
            memcpy(p + off, parts[i].ptr, parts[i].len);
        off += parts[i].len;
    }
    p[len] = '\0';
    return lx_str_make(p, len);
}

struct lx_str lx_wire_concat2(struct lx_arena *a, struct lx_str x, struct lx_str y)
{
    struct lx_str parts[2] = {x, y};

    return lx_wire_concat(a, parts, 2);
}

bool lx_wire_contains(struct lx_str hay, struct lx_str needle)
{
    if (needle.len == 0 || hay.len < needle.len)
        return false;
    for (size_t i = 0; i + needle.len <= hay.len; i++)
        if (memcmp(hay.ptr + i, needle.ptr, needle.len) == 0)
            return true;
    return false;
}

bool lx_wire_contains_lit(struct lx_str hay, const char *lit)
{
    return lx_wire_contains(hay, lx_str_cstr(lit));
}

bool lx_wire_contains_nocase(struct lx_str hay, const char *lit)
{
    struct lx_str n = lx_str_cstr(lit);

    if (n.len == 0 || hay.len < n.len)
        return false;
    for (size_t i = 0; i + n.len <= hay.len; i++)
        if (lx_str_eq_nocase(lx_str_make(hay.ptr + i, n.len), n))
            return true;
    return false;
}

struct lx_str lx_wire_cut_utf8(struct lx_str s, size_t max)
{
    if (s.len <= max)
        return s;
    s.len = max;
    while (s.len > 0 && ((unsigned char)s.ptr[s.len] & 0xC0) == 0x80)
        s.len--;
    return s;
}

struct lx_str lx_wire_path_escape(struct lx_arena *a, struct lx_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = lx_arena_alloc(a, s.len * 3 + 1);
    size_t n = 0;

    if (p == NULL)
        return LX_STR_NULL;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            p[n++] = (char)c;
        } else {
            p[n++] = '%';
            p[n++] = hex[c >> 4];
            p[n++] = hex[c & 15];
        }
    }
    p[n] = '\0';
    return lx_str_make(p, n);
}

struct lx_str lx_wire_join_parts(const struct lx_part *parts, size_t n_parts,
                                 enum lx_part_type type, struct lx_arena *a)
{
    size_t len = 0, n = 0, off = 0;
    struct lx_str one = LX_STR_NULL;
    char *p;

    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].type != type)
            continue;
        one = parts[i].text;
        len += one.len;
        n++;
    }
    if (n <= 1)
        return one;
    p = lx_arena_alloc(a, len + 1);
    if (p == NULL)
        return LX_STR_NULL;
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].type != type || parts[i].text.len == 0)
            continue;
        memcpy(p + off, parts[i].text.ptr, parts[i].text.len);
        off += parts[i].text.len;
    }
    p[len] = '\0';
    return lx_str_make(p, len);
}

bool lx_wire_str_in(struct lx_str s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lx_str_eq(s, lx_str_cstr(list[i])))
            return true;
    return false;
}

/* ---- credentials in messages ------------------------------------------------------------ */

bool lx_wire_quotes_key(struct lx_str msg, struct lx_str key)
{
    return key.len >= 4 && lx_wire_contains(msg, key);
}

struct lx_str lx_wire_withhold(struct lx_str msg, struct lx_str key)
{
    return lx_wire_quotes_key(msg, key) ? LX_STR(LX_WIRE_WITHHELD) : msg;
}

/* ---- JSON ------------------------------------------------------------------------------- */

void lx_wire_json_init(struct lx_json *doc, struct lx_arena *a)
{
    lx_json_init(doc, NULL);
    lx_json_use_arena(doc, a);
}

bool lx_wire_parse_object(struct lx_json *doc, struct lx_arena *a, struct lx_str text)
{
    lx_wire_json_init(doc, a);
    return lx_json_parse(doc, text.ptr, text.len) == LX_OK &&
           lx_json_type(doc, 0) == LX_JSON_OBJECT;
}

int64_t lx_wire_int(const struct lx_json *doc, int obj, const char *key)
{
    int64_t v;

    if (lx_json_int64(doc, lx_json_get(doc, obj, lx_str_cstr(key)), &v) != LX_OK || v < 0)
        return -1;
    return v;
}

int lx_wire_str(const struct lx_json *doc, int obj, const char *key, struct lx_arena *a,
                struct lx_str *out)
{
    int t = lx_json_get(doc, obj, lx_str_cstr(key));

    *out = LX_STR_NULL;
    if (t < 0 || lx_json_type(doc, t) == LX_JSON_NULL)
        return LX_OK;
    if (lx_json_type(doc, t) != LX_JSON_STRING)
        return LX_EPARSE;
    return lx_json_str(doc, t, a, out); /* a string: LX_OK or LX_ENOMEM */
}

void lx_wire_write_num(struct lx_json_writer *w, const char *key, const struct lx_num *n)
{
    if (n->raw.len == 0)
        return;
    lx_json_write_key(w, lx_str_cstr(key));
    lx_json_write_raw(w, n->raw);
}

int lx_wire_tool_args(const struct lx_json *doc, int t, struct lx_arena *a, struct lx_str *args)
{
    switch (lx_json_type(doc, t)) {
    case LX_JSON_OBJECT: *args = lx_json_raw(doc, t); break;
    case LX_JSON_STRING: return lx_json_str(doc, t, a, args);
    case LX_JSON_NONE:
    case LX_JSON_NULL: *args = LX_STR("{}"); break;
    default: return LX_EPARSE;
    }
    return LX_OK;
}

int lx_wire_tool_call(const struct lx_json *doc, int c, int n, bool flat, struct lx_arena *a,
                      struct lx_str *id, struct lx_str *name, struct lx_str *args)
{
    int fn = lx_json_get(doc, c, LX_STR("function")), t;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if (lx_json_type(doc, fn) != LX_JSON_OBJECT) {
        if (!flat)
            return LX_EPARSE;
        fn = c;
    }
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

void lx_wire_write_strs(struct lx_json_writer *w, const struct lx_str *v, size_t n)
{
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < n; i++)
        lx_json_write_str(w, v[i]);
    lx_json_write_array_end(w);
}

/* ---- decoded answers: the one choice of a chat response, embedding vectors --------------- */

bool lx_wire_array_room(const struct lx_json *doc, int t, size_t *cap)
{
    if (lx_json_type(doc, t) == LX_JSON_ARRAY)
        *cap += lx_json_count(doc, t);
    else if (t >= 0 && lx_json_type(doc, t) != LX_JSON_NULL)
        return false;
    return true;
}

int lx_wire_choice_alloc(struct lx_arena *a, size_t cap, struct lx_choice **ch,
                         struct lx_part **parts)
{
    *ch = lx_arena_zalloc(a, sizeof(**ch));
    *parts = lx_arena_zalloc(a, cap * sizeof(**parts));
    return *ch == NULL || *parts == NULL ? LX_ENOMEM : LX_OK;
}

void lx_wire_add_text(struct lx_part *parts, size_t *n, enum lx_part_type type, struct lx_str s)
{
    if (s.len == 0)
        return;
    parts[*n].type = type;
    parts[(*n)++].text = s;
}

void lx_wire_choice_set(struct lx_chat_resp *out, struct lx_choice *ch, struct lx_part *parts,
                        size_t n, enum lx_finish finish, struct lx_str finish_raw)
{
    ch->message.role = LX_ROLE_ASSISTANT;
    ch->message.parts = parts;
    ch->message.n_parts = n;
    ch->finish = finish;
    ch->finish_raw = finish_raw;
    out->choices = ch;
    out->n_choices = 1;
}

int lx_wire_call_parts(const struct lx_json *doc, int calls, bool flat, struct lx_arena *a,
                       struct lx_part *parts, size_t *n)
{
    int k = 0;

    for (int c = lx_json_first(doc, calls); c >= 0; c = lx_json_sibling(doc, calls, c)) {
        struct lx_part *p = &parts[*n];
        int rc = lx_wire_tool_call(doc, c, k++, flat, a, &p->id, &p->name, &p->args);

        if (rc != LX_OK)
            return rc;
        p->type = LX_PART_TOOL_CALL;
        (*n)++;
    }
    return LX_OK;
}

int lx_wire_vectors(const struct lx_json *doc, int arr, struct lx_arena *a,
                    struct lx_embed_resp *out)
{
    size_t n = 0;

    if (lx_json_type(doc, arr) != LX_JSON_ARRAY)
        return LX_EPARSE;
    out->vectors = lx_arena_zalloc(a, (lx_json_count(doc, arr) + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL)
        return LX_ENOMEM;
    for (int v = lx_json_first(doc, arr); v >= 0; v = lx_json_sibling(doc, arr, v)) {
        if (lx_json_type(doc, v) != LX_JSON_ARRAY)
            return LX_EPARSE;
        for (int x = lx_json_first(doc, v); x >= 0; x = lx_json_sibling(doc, v, x))
            if (lx_json_type(doc, x) != LX_JSON_NUMBER)
                return LX_EPARSE;
        out->vectors[n++] = lx_json_raw(doc, v);
    }
    out->n_vectors = n;
    return LX_OK;
}

/* ---- request bodies and targets --------------------------------------------------------- */

int lx_wire_encode_fail(struct lx_err *err, int rc)
{
    if (rc == LX_ETOOBIG)
        lx_err_set(err, rc, 413, "request too large for the upstream body limit");
    else if (rc != LX_OK)
        lx_err_set(err, rc, 500, "could not encode the upstream request: %s", lx_strerror(rc));
    return rc;
}

struct lx_str lx_wire_model(const struct lx_provider_call *call, struct lx_str req_model)
{
    return call->model.len > 0 ? call->model : req_model;
}

void lx_wire_body_open(struct lx_json_writer *w, struct lx_buf *b,
                       const struct lx_provider_call *call, struct lx_str req_model)
{
    lx_json_writer_init(w, b);
    lx_json_write_object_begin(w);
    if (call == NULL)
        return;
    lx_json_write_key(w, LX_STR("model"));
    lx_json_write_str(w, lx_wire_model(call, req_model));
}

int lx_wire_body_done(struct lx_json_writer *w, struct lx_buf *b, struct lx_arena *a,
                      struct lx_str *body, struct lx_err *err)
{
    int rc = lx_json_writer_finish(w);

    if (rc == LX_OK && b->err != LX_OK)
        rc = b->err;
    if (rc == LX_OK) {
        *body = lx_arena_dup(a, lx_buf_str(b));
        if (body->ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(b);
    return lx_wire_encode_fail(err, rc);
}

bool lx_wire_type_is(const struct lx_provider_call *call, const char *type)
{
    return call != NULL && call->conf != NULL && call->conf->type != NULL &&
           strcmp(call->conf->type, type) == 0;
}

static int wire_oom(struct lx_err *err)
{
    lx_err_set(err, LX_ENOMEM, 500, "out of memory building the upstream request");
    return LX_ENOMEM;
}

int lx_wire_bearer_target(const struct lx_provider_call *call, struct lx_str default_base,
                          const char *path, struct lx_str stream_accept, struct lx_arena *a,
                          struct lx_upstream_req *out, struct lx_err *err)
{
    const struct lx_config_provider *conf = call->conf;
    struct lx_str parts[2];
    size_t n = 0, max;
    struct lx_header *h;

    memset(out, 0, sizeof(*out));
    parts[0] = conf != NULL && conf->base_url != NULL ? lx_str_cstr(conf->base_url)
                                                      : default_base;
    parts[1] = lx_str_cstr(path);
    out->method = LX_STR("POST");
    out->url = lx_wire_concat(a, parts, 2);
    max = 3 + (conf != NULL ? conf->n_headers : 0);
    h = lx_arena_zalloc(a, max * sizeof(*h));
    if (out->url.ptr == NULL || h == NULL)
        return wire_oom(err);
    h[n++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    h[n++] = (struct lx_header){LX_STR("Accept"), call->stream && call->endpoint == LX_EP_CHAT
                                                      ? stream_accept
                                                      : LX_STR("application/json")};
    if (call->key.len > 0) {
        struct lx_str v = lx_wire_concat2(a, LX_STR("Bearer "), call->key);

        if (v.ptr == NULL)
            return wire_oom(err);
        h[n++] = (struct lx_header){LX_STR("Authorization"), v};
    }
    for (size_t i = 0; conf != NULL && i < conf->n_headers; i++)
        if (lx_header_find(h, n, conf->headers[i].name) == NULL)
            h[n++] = conf->headers[i];
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

/* ---- request bodies: messages and tools ------------------------------------------------- */

#define WIRE_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))

const char *lx_wire_role(enum lx_role role)
{
    switch (role) {
    case LX_ROLE_SYSTEM:
    case LX_ROLE_DEVELOPER: return "system";
    case LX_ROLE_USER:
    case LX_ROLE_TOOL: return "user";
    case LX_ROLE_ASSISTANT: return "assistant";
    }
    return "user";
}

int lx_wire_write_msgs(struct lx_json_writer *w, const struct lx_chat_req *req, lx_wire_msg_fn *fn,
                       struct lx_arena *a, struct lx_err *err)
{
    int rc = LX_OK;

    WIRE_KEY(w, "messages");
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < req->n_msgs && rc == LX_OK; i++)
        rc = fn(w, req, i, a, err);
    lx_json_write_array_end(w);
    return rc;
}

void lx_wire_write_tool_result(struct lx_json_writer *w, const struct lx_chat_req *req,
                               size_t msg_i, const struct lx_part *p, const char *id_key,
                               const char *name_key, struct lx_arena *a)
{
    struct lx_str name = p->name.len > 0 ? p->name : lx_chat_req_tool_name(req, msg_i, p->id);

    lx_json_write_object_begin(w);
    WIRE_KEY(w, "role");
    lx_json_write_str(w, LX_STR("tool"));
    WIRE_KEY(w, "content");
    lx_json_write_str(w, p->n_sub > 0 ? lx_wire_join_parts(p->sub, p->n_sub, LX_PART_TEXT, a)
                                      : p->text);
    if (id_key != NULL && p->id.len > 0) {
        lx_json_write_key(w, lx_str_cstr(id_key));
        lx_json_write_str(w, p->id);
    }
    if (name.len > 0) {
        lx_json_write_key(w, lx_str_cstr(name_key));
        lx_json_write_str(w, name);
    }
    lx_json_write_object_end(w);
}

/* Tool-call arguments as a JSON object: the IR's text when it is an object, else {} (empty or
 * not JSON: a model's broken arguments must not make the history unsendable). */
static struct lx_str args_object(struct lx_str args, struct lx_arena *a)
{
    struct lx_json doc;

    if (args.len == 0)
        return LX_STR("{}");
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, args.ptr, args.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_STR("{}");
    return lx_json_raw(&doc, 0);
}

void lx_wire_write_tool_calls(struct lx_json_writer *w, const struct lx_part *parts, size_t n,
                              enum lx_wire_call_shape shape, struct lx_arena *a)
{
    WIRE_KEY(w, "tool_calls");
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        const struct lx_part *p = &parts[i];

        if (p->type != LX_PART_TOOL_CALL)
            continue;
        lx_json_write_object_begin(w);
        if (shape == LX_WIRE_CALL_OPENAI) {
            WIRE_KEY(w, "id");
            lx_json_write_str(w, p->id);
            WIRE_KEY(w, "type");
            lx_json_write_str(w, LX_STR("function"));
        }
        WIRE_KEY(w, "function");
        lx_json_write_object_begin(w);
        WIRE_KEY(w, "name");
        lx_json_write_str(w, p->name);
        WIRE_KEY(w, "arguments");
        if (shape == LX_WIRE_CALL_OPENAI)
            lx_json_write_str(w, p->args.len > 0 ? p->args : LX_STR("{}"));
        else
            lx_json_write_raw(w, args_object(p->args, a));
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
    }
    lx_json_write_array_end(w);
}

void lx_wire_write_tool(struct lx_json_writer *w, const struct lx_tool *t, bool flat)
{
    lx_json_write_object_begin(w);
    if (!flat) {
        WIRE_KEY(w, "type");
        lx_json_write_str(w, LX_STR("function"));
        WIRE_KEY(w, "function");
        lx_json_write_object_begin(w);
    }
    WIRE_KEY(w, "name");
    lx_json_write_str(w, t->name);
    if (flat || t->description.len > 0) {
        WIRE_KEY(w, "description");
        lx_json_write_str(w, t->description);
    }
    WIRE_KEY(w, "parameters");
    lx_json_write_raw(w, t->parameters.len > 0 ? t->parameters
                                               : LX_STR("{\"type\":\"object\",\"properties\":{}}"));
    if (!flat)
        lx_json_write_object_end(w);
    lx_json_write_object_end(w);
}

void lx_wire_write_tools_chosen(struct lx_json_writer *w, const struct lx_chat_req *req, bool flat)
{
    if (req->n_tools == 0 || req->tool_choice == LX_TOOL_CHOICE_NONE)
        return;
    WIRE_KEY(w, "tools");
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < req->n_tools; i++) {
        if (req->tool_choice == LX_TOOL_CHOICE_NAMED &&
            !lx_str_eq(req->tools[i].name, req->tool_choice_name))
            continue;
        lx_wire_write_tool(w, &req->tools[i], flat);
    }
    lx_json_write_array_end(w);
}

/* ---- stream decoding -------------------------------------------------------------------- */

void lx_wire_delta_init(struct lx_delta *d, enum lx_delta_type type)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->usage = (struct lx_usage)LX_USAGE_INIT;
}

void lx_wire_usage_merge(struct lx_usage *u, const struct lx_usage *d)
{
    if (d->input >= 0)
        u->input = d->input;
    if (d->output >= 0)
        u->output = d->output;
    if (d->total >= 0)
        u->total = d->total;
    if (d->cache_read >= 0)
        u->cache_read = d->cache_read;
    if (d->cache_write >= 0)
        u->cache_write = d->cache_write;
    if (d->reasoning >= 0)
        u->reasoning = d->reasoning;
}

int lx_wire_emit(const struct lx_delta_sink *sink, const struct lx_delta *d)
{
    return sink->emit(sink->ctx, d);
}

bool lx_wire_usage_known(const struct lx_usage *u)
{
    return u->input >= 0 || u->output >= 0 || u->total >= 0;
}

void *lx_wire_stream_priv(struct lx_stream_state *st, size_t size)
{
    if (st->priv == NULL)
        st->priv = lx_arena_zalloc(st->a, size);
    return st->priv;
}

int lx_wire_emit_start(bool *started, struct lx_str id, struct lx_str name,
                       const struct lx_delta_sink *sink)
{
    struct lx_delta d;

    if (*started)
        return LX_OK;
    *started = true;
    lx_wire_delta_init(&d, LX_DELTA_START);
    d.id = id;
    d.name = name;
    return sink->emit(sink->ctx, &d);
}

int lx_wire_emit_text(const struct lx_delta_sink *sink, enum lx_delta_type type, struct lx_str s)
{
    struct lx_delta d;

    if (s.len == 0)
        return LX_OK;
    lx_wire_delta_init(&d, type);
    d.text = s;
    return sink->emit(sink->ctx, &d);
}

int lx_wire_emit_calls(const struct lx_json *doc, int calls, bool flat, int max, int *n_calls,
                       struct lx_arena *s, const struct lx_delta_sink *sink, bool *bad)
{
    struct lx_delta d;
    int rc;

    *bad = false;
    for (int c = lx_json_first(doc, calls); c >= 0; c = lx_json_sibling(doc, calls, c)) {
        if (*n_calls >= max) {
            *bad = true;
            return LX_EPARSE;
        }
        lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
        rc = lx_wire_tool_call(doc, c, *n_calls, flat, s, &d.id, &d.name, &d.text);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK) {
            *bad = true;
            return rc;
        }
        d.tool_index = (*n_calls)++;
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

int lx_wire_stream_fail(struct lx_stream_state *st, const struct lx_delta_sink *sink,
                        const struct lx_upstream_error *e)
{
    struct lx_delta d;

    lx_wire_delta_init(&d, LX_DELTA_ERROR);
    d.error = e;
    st->failed = true;
    return sink->emit(sink->ctx, &d);
}

int lx_wire_stream_end(struct lx_stream_state *st, const struct lx_delta_sink *sink,
                       enum lx_finish finish, struct lx_str finish_raw,
                       const struct lx_usage *usage)
{
    struct lx_delta d;
    int rc;

    lx_wire_delta_init(&d, LX_DELTA_FINISH);
    d.finish = finish;
    d.finish_raw = finish_raw;
    rc = sink->emit(sink->ctx, &d);
    if (rc != LX_OK)
        return rc;
    if (usage != NULL) {
        lx_wire_delta_init(&d, LX_DELTA_USAGE);
        d.usage = *usage;
        rc = sink->emit(sink->ctx, &d);
        if (rc != LX_OK)
            return rc;
    }
    lx_wire_delta_init(&d, LX_DELTA_DONE);
    st->done = true;
    return sink->emit(sink->ctx, &d);
}

struct lx_str lx_wire_call_id(struct lx_arena *a, int n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "call_%d", n);

    return lx_arena_dup(a, lx_str_make(tmp, (size_t)len));
}

/* ---- errors ----------------------------------------------------------------------------- */

void lx_wire_default_message(struct lx_arena *a, int status, struct lx_upstream_error *out)
{
    char *m;
    int w;

    if (out->message.len != 0)
        return;
    m = lx_arena_alloc(a, 48);
    if (m == NULL)
        return;
    w = snprintf(m, 48, "upstream error (HTTP %d)", status);
    out->message = lx_str_make(m, w > 0 && w < 48 ? (size_t)w : 0);
}

struct lx_str lx_wire_call_key(const struct lx_provider_call *call)
{
    return call != NULL ? call->key : LX_STR_NULL;
}

bool lx_wire_error_body(struct lx_json *doc, struct lx_str body, size_t max, struct lx_arena *a,
                        struct lx_str *msg)
{
    lx_wire_json_init(doc, a);
    if (body.len > 0 && lx_json_parse(doc, body.ptr, body.len) == LX_OK &&
        lx_json_type(doc, 0) == LX_JSON_OBJECT)
        return true;
    *msg = lx_wire_cut_utf8(lx_str_trim(body), max);
    return false;
}

void lx_wire_error_set(struct lx_upstream_error *out, int status, enum lx_err_type type,
                       struct lx_str msg, struct lx_str key)
{
    lx_upstream_error_init(out);
    out->status = status;
    out->type = type;
    lx_upstream_error_defaults(out);
    out->message = lx_wire_withhold(msg, key);
}

void lx_wire_retry_after(const struct lx_provider_call *call, const struct lx_header *headers,
                         size_t n_headers, struct lx_upstream_error *out)
{
    const struct lx_header *ra = lx_header_find(headers, n_headers, LX_STR("retry-after"));

    if (ra != NULL)
        out->retry_after_ms = lx_retry_after_ms(ra->value, call != NULL ? call->now_s : 0);
}
