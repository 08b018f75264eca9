/* wire.c - the shared adapter toolkit (wire.h): the small string, JSON, target and error helpers
 * each provider adapter and front door used to carry its own copy of. Pure functions: no I/O,
 * no globals, no clock; memory from the arena given (a request body goes through a bounded
 * lx_buf released before return). Any thread. Owned by the providers module. */
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

void lx_wire_write_strs(struct lx_json_writer *w, const struct lx_str *v, size_t n)
{
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < n; i++)
        lx_json_write_str(w, v[i]);
    lx_json_write_array_end(w);
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

void lx_wire_retry_after(const struct lx_provider_call *call, const struct lx_header *headers,
                         size_t n_headers, struct lx_upstream_error *out)
{
    const struct lx_header *ra = lx_header_find(headers, n_headers, LX_STR("retry-after"));

    if (ra != NULL)
        out->retry_after_ms = lx_retry_after_ms(ra->value, call != NULL ? call->now_s : 0);
}
