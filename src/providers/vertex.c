/* vertex.c - the Vertex AI provider adapter (lx_provider_vertex, PROTOCOLS.md 3.6): a thin
 * wrapper that builds Vertex URLs and the OAuth2 Bearer header, and hands the wire format to
 * the Gemini adapter (Gemini models: generateContent / streamGenerateContent?alt=sse) or the
 * Anthropic adapter (models named "claude*": rawPredict / streamRawPredict with
 * "anthropic_version":"vertex-2023-10-16" and no model in the body). Embeddings (":predict",
 * instances[].content -> predictions[].embeddings.values) are decoded here. The access token
 * comes in call->key (the gateway gets it with vertex_auth.h). Pure, any thread; owned by the
 * Vertex adapter. Mapping decisions: docs/internals/vertex.md. */
#include <string.h>

#include "core/buf.h"
#include "providers/anthropic.h"
#include "providers/gemini.h"
#include "providers/provider.h"
#include "json/json.h"
#include "json/writer.h"

#define VTX_MAX_BODY ((size_t)64 << 20)
#define VTX_ANTHROPIC_VERSION "vertex-2023-10-16"

static bool vtx_is_claude(struct lx_str model)
{
    return model.len >= 6 && memcmp(model.ptr, "claude", 6) == 0;
}

/* Project, region and model go into a URL path: refuse anything but the characters Google
 * allows in them (no '/', '?', '%', spaces) instead of escaping. */
static bool vtx_segment_ok(struct lx_str s)
{
    if (s.len == 0 || s.len > 256)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@'))
            return false;
    }
    return !(s.len <= 2 && s.ptr[0] == '.');
}

/* "{base}/v1/projects/{p}/locations/{r}/publishers/{pub}/models/{model}:{verb}" in a. base: the
 * configured base_url (a mock, a private endpoint) or the regional host; a base_url that
 * already holds "/projects/" is taken as the whole prefix up to the location. */
static int vtx_url(const struct lx_provider_call *call, const char *publisher, const char *verb,
                   struct lx_arena *a, struct lx_str *out, struct lx_err *err)
{
    const struct lx_config_provider *conf = call->conf;
    struct lx_str region = lx_str_cstr(conf->region && conf->region[0] ? conf->region : "global");
    struct lx_str project = lx_str_cstr(conf->project ? conf->project : "");
    struct lx_buf b = LX_BUF_INIT(8192);
    bool full = conf->base_url != NULL && strstr(conf->base_url, "/projects/") != NULL;

    *out = LX_STR_NULL;
    if (!vtx_segment_ok(call->model)) {
        lx_err_set(err, LX_EINVAL, 400,
                   "Vertex AI: the model name is empty or holds characters "
                   "a Vertex URL cannot carry");
        return LX_EINVAL;
    }
    if (!full && !vtx_segment_ok(project)) {
        lx_err_set(err, LX_EINVAL, 400,
                   "Vertex AI: provider %s needs `project:` (the Google "
                   "Cloud project id)",
                   conf->name ? conf->name : "vertex");
        return LX_EINVAL;
    }
    if (!full && !vtx_segment_ok(region)) {
        lx_err_set(err, LX_EINVAL, 400, "Vertex AI: provider %s has an invalid `region:`",
                   conf->name ? conf->name : "vertex");
        return LX_EINVAL;
    }
    if (conf->base_url != NULL && conf->base_url[0] != '\0')
        lx_buf_append_cstr(&b, conf->base_url);
    else if (lx_str_eq(region, LX_STR("global")))
        lx_buf_append_cstr(&b, "https://aiplatform.googleapis.com");
    else
        lx_buf_appendf(&b, "https://%.*s-aiplatform.googleapis.com", LX_STR_FMT(region));
    if (!full)
        lx_buf_appendf(&b, "/v1/projects/%.*s/locations/%.*s", LX_STR_FMT(project),
                       LX_STR_FMT(region));
    lx_buf_appendf(&b, "/publishers/%s/models/%.*s:%s", publisher, LX_STR_FMT(call->model), verb);
    if (b.err == LX_OK)
        *out = lx_arena_dup(a, lx_str_make(b.ptr, b.len));
    lx_buf_release(&b);
    if (out->ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

static int vtx_headers(const struct lx_provider_call *call, bool sse, struct lx_arena *a,
                       struct lx_upstream_req *out, struct lx_err *err)
{
    const struct lx_config_provider *conf = call->conf;
    size_t n = 0;
    struct lx_header *h = lx_arena_zalloc(a, (3 + conf->n_headers) * sizeof(*h));

    if (h == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    h[n++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    h[n++] = (struct lx_header){LX_STR("Accept"),
                                sse ? LX_STR("text/event-stream") : LX_STR("application/json")};
    if (call->key.len > 0) {
        struct lx_buf b = LX_BUF_INIT(65536);
        struct lx_str v = LX_STR_NULL;

        lx_buf_append_cstr(&b, "Bearer ");
        lx_buf_append_str(&b, call->key);
        if (b.err == LX_OK)
            v = lx_arena_dup(a, lx_str_make(b.ptr, b.len));
        lx_buf_release(&b);
        if (v.ptr == NULL) {
            lx_err_set(err, LX_ENOMEM, 500, "out of memory");
            return LX_ENOMEM;
        }
        h[n++] = (struct lx_header){LX_STR("Authorization"), v};
    }
    for (size_t i = 0; i < conf->n_headers; i++)
        if (lx_header_find(h, n, conf->headers[i].name) == NULL)
            h[n++] = conf->headers[i]; /* x-goog-user-project and friends */
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

/* Moves a finished lx_buf into the arena as the request body. */
static int vtx_take_body(struct lx_buf *b, struct lx_arena *a, struct lx_upstream_req *out,
                         struct lx_err *err)
{
    int rc = b->err;

    if (rc == LX_OK) {
        out->body = lx_arena_dup(a, lx_str_make(b->ptr, b->len));
        if (out->body.ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(b);
    if (rc != LX_OK)
        lx_err_set(err, rc, rc == LX_ETOOBIG ? 413 : 500, "Vertex AI: request body: %s",
                   lx_strerror(rc));
    return rc;
}

static int vtx_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(VTX_MAX_BODY);
    bool claude = vtx_is_claude(call->model);
    bool sse = call->stream && call->endpoint == LX_EP_CHAT;
    int rc;

    memset(out, 0, sizeof(*out));
    if (call->conf == NULL ||
        (call->endpoint != LX_EP_CHAT && call->endpoint != LX_EP_COUNT_TOKENS)) {
        lx_err_set(err, LX_EINVAL, 500, "Vertex AI: no provider configuration or bad endpoint");
        return LX_EINVAL;
    }
    if (call->endpoint == LX_EP_COUNT_TOKENS && claude) {
        lx_err_set(err, LX_EINVAL, 400,
                   "Vertex AI: token counting is not supported for Claude "
                   "models through this gateway");
        return LX_EINVAL;
    }
    if (call->endpoint == LX_EP_COUNT_TOKENS)
        rc = vtx_url(call, "google", "countTokens", a, &out->url, err);
    else if (claude)
        rc = vtx_url(call, "anthropic", sse ? "streamRawPredict" : "rawPredict", a, &out->url, err);
    else
        rc = vtx_url(call, "google", sse ? "streamGenerateContent?alt=sse" : "generateContent", a,
                     &out->url, err);
    if (rc != LX_OK)
        return rc;
    out->method = LX_STR("POST");
    if ((rc = vtx_headers(call, sse, a, out, err)) != LX_OK)
        return rc;
    if (call->endpoint == LX_EP_COUNT_TOKENS) /* Vertex takes {"contents":...} directly */
        rc = lx_gemini_encode_count_body(req, LX_STR_NULL, &b, err);
    else if (claude)
        rc =
            lx_anthropic_encode_body(req, LX_STR_NULL, LX_STR(VTX_ANTHROPIC_VERSION), sse, &b, err);
    else
        rc = lx_gemini_encode_body(req, &b, err);
    if (rc != LX_OK) {
        lx_buf_release(&b);
        return rc;
    }
    return vtx_take_body(&b, a, out, err);
}

static const struct lx_provider_ops *vtx_inner(const struct lx_provider_call *call)
{
    return call != NULL && vtx_is_claude(call->model) ? &lx_provider_anthropic
                                                      : &lx_provider_gemini;
}

static int vtx_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    return vtx_inner(call)->parse_response(call, body, a, out, err);
}

/* ---- streamed function-call arguments (Gemini 3 on Vertex, PROTOCOLS.md 3.6) --------------
 * With streamFunctionCallArguments a call arrives in pieces: {"functionCall":{"name":N,
 * "willContinue":true},"thoughtSignature":S}, then parts {"functionCall":{"partialArgs":[{
 * "jsonPath":"$.a.b[0]","stringValue":"frag","willContinue":true}],"willContinue":true}}, and
 * an empty {"functionCall":{}} (no willContinue) that closes it. The Gemini decoder knows only
 * whole calls, so the pieces are kept here (st->a) and the closing part is rewritten into one
 * whole {"functionCall":{"name":N,"args":{...}},"thoughtSignature":S}. Paths are "$" followed
 * by ".key" and "[index]" steps; values stringValue (appended across pieces), numberValue,
 * boolValue, nullValue. */

#define VTX_MAX_CANDIDATES 8
#define VTX_MAX_NODES 65536
#define VTX_MAX_PATH 64

enum vtx_kind { VTX_UNSET = 0, VTX_OBJ, VTX_ARR, VTX_STRV, VTX_RAWV };

struct vtx_frag {
    struct lx_str s;
    struct vtx_frag *next;
};

struct vtx_node {
    enum vtx_kind kind;
    struct lx_str key; /* in an object */
    int64_t index;     /* in an array */
    struct vtx_node *child, *last, *next;
    struct vtx_frag *frags, *frags_last; /* VTX_STRV */
    struct lx_str raw;                   /* VTX_RAWV: number, true, false, null */
};

struct vtx_pending {
    bool active;
    struct lx_str name, id, sig; /* in st->a */
    struct vtx_node root;
};

/* st->priv while the Vertex wrapper decodes: the Gemini decoder's own priv is kept in inner
 * and swapped in around each of its calls. */
struct vtx_priv {
    void *inner;
    struct vtx_pending pend[VTX_MAX_CANDIDATES];
    size_t n_nodes;
};

static struct vtx_node *vtx_child(struct lx_stream_state *st, struct vtx_priv *pv,
                                  struct vtx_node *n, bool is_index, struct lx_str key,
                                  int64_t index)
{
    struct vtx_node *c;

    if (n->kind == VTX_UNSET)
        n->kind = is_index ? VTX_ARR : VTX_OBJ;
    if (n->kind != (is_index ? VTX_ARR : VTX_OBJ))
        return NULL; /* a path that makes an object an array */
    for (c = n->child; c != NULL; c = c->next)
        if (is_index ? c->index == index : lx_str_eq(c->key, key))
            return c;
    if (++pv->n_nodes > VTX_MAX_NODES || (c = lx_arena_zalloc(st->a, sizeof(*c))) == NULL)
        return NULL;
    c->index = index;
    if (!is_index && (c->key = lx_arena_dup(st->a, key)).ptr == NULL && key.len > 0)
        return NULL;
    if (n->last != NULL)
        n->last->next = c;
    else
        n->child = c;
    n->last = c;
    return c;
}

/* "$.recipe.ingredients[0].amount" -> the node, made as needed; NULL when the path is bad. */
static struct vtx_node *vtx_path(struct lx_stream_state *st, struct vtx_priv *pv,
                                 struct vtx_node *root, struct lx_str path)
{
    struct vtx_node *n = root;
    size_t i = 1, depth = 0;

    if (path.len == 0 || path.ptr[0] != '$')
        return NULL;
    while (i < path.len && n != NULL) {
        if (++depth > VTX_MAX_PATH)
            return NULL;
        if (path.ptr[i] == '.') {
            size_t b = ++i;
            while (i < path.len && path.ptr[i] != '.' && path.ptr[i] != '[')
                i++;
            if (i == b)
                return NULL;
            n = vtx_child(st, pv, n, false, lx_str_make(path.ptr + b, i - b), 0);
        } else if (path.ptr[i] == '[' && i + 1 < path.len &&
                   (path.ptr[i + 1] == '\'' || path.ptr[i + 1] == '"')) {
            char q = path.ptr[i + 1];
            size_t b = i + 2, e = b;
            while (e < path.len && path.ptr[e] != q)
                e++;
            if (e + 1 >= path.len || path.ptr[e + 1] != ']')
                return NULL;
            n = vtx_child(st, pv, n, false, lx_str_make(path.ptr + b, e - b), 0);
            i = e + 2;
        } else if (path.ptr[i] == '[') {
            int64_t v = 0;
            size_t b = ++i;
            while (i < path.len && path.ptr[i] >= '0' && path.ptr[i] <= '9' && i - b < 9)
                v = v * 10 + (path.ptr[i++] - '0');
            if (i == b || i >= path.len || path.ptr[i] != ']')
                return NULL;
            i++;
            n = vtx_child(st, pv, n, true, LX_STR_NULL, v);
        } else {
            return NULL;
        }
    }
    return n;
}

static int vtx_partial_arg(struct lx_stream_state *st, struct vtx_priv *pv, struct vtx_pending *pd,
                           const struct lx_json *doc, int pa)
{
    struct lx_str path, sv;
    struct vtx_node *n;
    int v;

    if (lx_json_type(doc, pa) != LX_JSON_OBJECT ||
        lx_json_str(doc, lx_json_get(doc, pa, LX_STR("jsonPath")), st->scratch, &path) != LX_OK)
        return LX_EPARSE;
    n = vtx_path(st, pv, &pd->root, path);
    if (n == NULL || n == &pd->root)
        return LX_EPARSE;
    if ((v = lx_json_get(doc, pa, LX_STR("stringValue"))) >= 0) {
        struct vtx_frag *f;

        if (lx_json_str(doc, v, st->scratch, &sv) != LX_OK ||
            (n->kind != VTX_UNSET && n->kind != VTX_STRV))
            return LX_EPARSE;
        n->kind = VTX_STRV;
        if (sv.len == 0)
            return LX_OK;
        f = lx_arena_zalloc(st->a, sizeof(*f));
        if (f == NULL || (f->s = lx_arena_dup(st->a, sv)).ptr == NULL)
            return LX_ENOMEM;
        if (n->frags_last != NULL)
            n->frags_last->next = f;
        else
            n->frags = f;
        n->frags_last = f;
        return LX_OK;
    }
    if ((v = lx_json_get(doc, pa, LX_STR("numberValue"))) >= 0 ||
        (v = lx_json_get(doc, pa, LX_STR("boolValue"))) >= 0) {
        enum lx_json_type t = lx_json_type(doc, v);
        if ((t != LX_JSON_NUMBER && t != LX_JSON_TRUE && t != LX_JSON_FALSE) ||
            n->kind != VTX_UNSET)
            return LX_EPARSE;
        n->kind = VTX_RAWV;
        n->raw = lx_arena_dup(st->a, lx_json_raw(doc, v));
        return n->raw.ptr != NULL ? LX_OK : LX_ENOMEM;
    }
    if (lx_json_get(doc, pa, LX_STR("nullValue")) >= 0 && n->kind == VTX_UNSET) {
        n->kind = VTX_RAWV;
        n->raw = LX_STR("null");
        return LX_OK;
    }
    return LX_EPARSE;
}

static void vtx_write_node(struct lx_json_writer *w, const struct vtx_node *n, struct lx_buf *tmp)
{
    switch (n->kind) {
    case VTX_UNSET:
    case VTX_OBJ:
        lx_json_write_object_begin(w);
        for (const struct vtx_node *c = n->child; c != NULL; c = c->next) {
            lx_json_write_key(w, c->key);
            vtx_write_node(w, c, tmp);
        }
        lx_json_write_object_end(w);
        break;
    case VTX_ARR: /* elements in the order they began (the model sends them in order) */
        lx_json_write_array_begin(w);
        for (const struct vtx_node *c = n->child; c != NULL; c = c->next)
            vtx_write_node(w, c, tmp);
        lx_json_write_array_end(w);
        break;
    case VTX_STRV:
        lx_buf_reset(tmp);
        for (const struct vtx_frag *f = n->frags; f != NULL; f = f->next)
            lx_buf_append_str(tmp, f->s);
        lx_json_write_str(w, lx_str_make(tmp->ptr, tmp->len));
        break;
    case VTX_RAWV:
        lx_json_write_raw(w, n->raw);
        break;
    }
}

/* One part of candidate ci: written to w as is, dropped (a piece), or the whole call. */
static int vtx_part(struct lx_stream_state *st, struct vtx_priv *pv, unsigned ci,
                    const struct lx_json *doc, int part, struct lx_json_writer *w,
                    struct lx_buf *tmp)
{
    int fc = lx_json_get(doc, part, LX_STR("functionCall"));
    int name = lx_json_get(doc, fc, LX_STR("name"));
    int pargs = lx_json_get(doc, fc, LX_STR("partialArgs"));
    bool more = lx_json_type(doc, lx_json_get(doc, fc, LX_STR("willContinue"))) == LX_JSON_TRUE;
    struct vtx_pending *pd = &pv->pend[ci];
    struct lx_str s;
    int rc;

    if (lx_json_type(doc, fc) != LX_JSON_OBJECT ||
        (lx_json_type(doc, name) == LX_JSON_STRING && !more && !pd->active))
        return lx_json_write_token(w, doc, part);    /* a whole call, or not a call */
    if (lx_json_type(doc, name) == LX_JSON_STRING) { /* the first piece */
        if (pd->active)
            return LX_EPARSE;
        memset(pd, 0, sizeof(*pd));
        pd->active = true;
        if (lx_json_str(doc, name, st->scratch, &s) != LX_OK ||
            (pd->name = lx_arena_dup(st->a, s)).ptr == NULL)
            return LX_ENOMEM;
        if (lx_json_str(doc, lx_json_get(doc, fc, LX_STR("id")), st->scratch, &s) == LX_OK &&
            (pd->id = lx_arena_dup(st->a, s)).ptr == NULL && s.len > 0)
            return LX_ENOMEM;
        if (lx_json_str(doc, lx_json_get(doc, part, LX_STR("thoughtSignature")), st->scratch, &s) ==
                LX_OK &&
            (pd->sig = lx_arena_dup(st->a, s)).ptr == NULL && s.len > 0)
            return LX_ENOMEM;
        /* args may already be whole here */
        if (lx_json_type(doc, lx_json_get(doc, fc, LX_STR("args"))) != LX_JSON_NONE)
            return LX_EPARSE;
    } else if (!pd->active) {
        return LX_EPARSE; /* a piece of no call */
    }
    if (pargs >= 0) {
        if (lx_json_type(doc, pargs) != LX_JSON_ARRAY)
            return LX_EPARSE;
        for (int pa = lx_json_first(doc, pargs); pa >= 0; pa = lx_json_sibling(doc, pargs, pa))
            if ((rc = vtx_partial_arg(st, pv, pd, doc, pa)) != LX_OK)
                return rc;
    }
    if (more)
        return LX_OK; /* dropped: the call goes on */
    /* the closing piece: the whole call */
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("functionCall"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("name"));
    lx_json_write_str(w, pd->name);
    if (pd->id.len > 0) {
        lx_json_write_key(w, LX_STR("id"));
        lx_json_write_str(w, pd->id);
    }
    lx_json_write_key(w, LX_STR("args"));
    vtx_write_node(w, &pd->root, tmp);
    lx_json_write_object_end(w);
    if (pd->sig.len > 0) {
        lx_json_write_key(w, LX_STR("thoughtSignature"));
        lx_json_write_str(w, pd->sig);
    }
    lx_json_write_object_end(w);
    pd->active = false;
    return LX_OK;
}

static int vtx_key(struct lx_json_writer *w, const struct lx_json *doc, int k, struct lx_arena *a)
{
    struct lx_str key;
    int rc = lx_json_str(doc, k, a, &key);

    if (rc == LX_OK)
        lx_json_write_key(w, key);
    return rc;
}

/* Writes obj with the member named `key` rewritten by fn (others copied verbatim). */
static int vtx_rewrite_candidate(struct lx_stream_state *st, struct vtx_priv *pv, unsigned ci,
                                 const struct lx_json *doc, int cand, struct lx_json_writer *w,
                                 struct lx_buf *tmp)
{
    int content = lx_json_get(doc, cand, LX_STR("content"));
    int parts = lx_json_get(doc, content, LX_STR("parts"));
    int rc;

    if (lx_json_type(doc, parts) != LX_JSON_ARRAY)
        return lx_json_write_token(w, doc, cand);
    lx_json_write_object_begin(w);
    for (int k = lx_json_first(doc, cand); k >= 0; k = lx_json_sibling(doc, cand, k)) {
        if (vtx_key(w, doc, k, st->scratch) != LX_OK)
            return LX_ENOMEM;
        if (k + 1 != content) {
            lx_json_write_token(w, doc, k + 1);
            continue;
        }
        lx_json_write_object_begin(w);
        for (int m = lx_json_first(doc, content); m >= 0; m = lx_json_sibling(doc, content, m)) {
            if (vtx_key(w, doc, m, st->scratch) != LX_OK)
                return LX_ENOMEM;
            if (m + 1 != parts) {
                lx_json_write_token(w, doc, m + 1);
                continue;
            }
            lx_json_write_array_begin(w);
            for (int p = lx_json_first(doc, parts); p >= 0; p = lx_json_sibling(doc, parts, p))
                if ((rc = vtx_part(st, pv, ci, doc, p, w, tmp)) != LX_OK)
                    return rc;
            lx_json_write_array_end(w);
        }
        lx_json_write_object_end(w);
    }
    lx_json_write_object_end(w);
    return LX_OK;
}

/* The event with streamed call pieces folded into whole calls, in st->scratch. */
static int vtx_fold_calls(struct lx_stream_state *st, struct lx_str data, struct lx_str *out)
{
    struct vtx_priv *pv = st->priv;
    struct lx_buf b = LX_BUF_INIT(VTX_MAX_BODY), tmp = LX_BUF_INIT(VTX_MAX_BODY);
    struct lx_json_writer w;
    struct lx_json doc;
    int cands, rc = LX_OK;
    unsigned pos = 0;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, st->scratch);
    if (lx_json_parse(&doc, data.ptr, data.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_EPARSE;
    cands = lx_json_get(&doc, 0, LX_STR("candidates"));
    if (lx_json_type(&doc, cands) != LX_JSON_ARRAY) {
        *out = data;
        return LX_OK;
    }
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    for (int k = lx_json_first(&doc, 0); k >= 0 && rc == LX_OK; k = lx_json_sibling(&doc, 0, k)) {
        if ((rc = vtx_key(&w, &doc, k, st->scratch)) != LX_OK)
            break;
        if (k + 1 != cands) {
            lx_json_write_token(&w, &doc, k + 1);
            continue;
        }
        lx_json_write_array_begin(&w);
        for (int c = lx_json_first(&doc, cands); c >= 0 && rc == LX_OK;
             c = lx_json_sibling(&doc, cands, c), pos++) {
            int64_t idx = -1;
            unsigned ci;

            (void)lx_json_int64(&doc, lx_json_get(&doc, c, LX_STR("index")), &idx);
            ci = idx >= 0 ? (unsigned)(idx < VTX_MAX_CANDIDATES ? idx : VTX_MAX_CANDIDATES) : pos;
            if (ci >= VTX_MAX_CANDIDATES)
                rc = LX_EPARSE;
            else
                rc = vtx_rewrite_candidate(st, pv, ci, &doc, c, &w, &tmp);
        }
        lx_json_write_array_end(&w);
    }
    lx_json_write_object_end(&w);
    if (rc == LX_OK)
        rc = lx_json_writer_finish(&w) != LX_OK ? LX_EPARSE : b.err;
    if (rc == LX_OK && (*out = lx_arena_dup(st->scratch, lx_str_make(b.ptr, b.len))).ptr == NULL)
        rc = LX_ENOMEM;
    lx_buf_release(&b);
    lx_buf_release(&tmp);
    return rc;
}

static bool vtx_pending_any(const struct vtx_priv *pv)
{
    for (size_t i = 0; i < VTX_MAX_CANDIDATES; i++)
        if (pv->pend[i].active)
            return true;
    return false;
}

static bool vtx_has(struct lx_str s, const char *needle)
{
    size_t m = strlen(needle);

    for (size_t i = 0; i + m <= s.len; i++)
        if (s.ptr[i] == needle[0] && memcmp(s.ptr + i, needle, m) == 0)
            return true;
    return false;
}

static int vtx_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct lx_stream_event folded = *ev;
    struct vtx_priv *pv = st->priv;
    int rc;

    if (vtx_is_claude(st->call->model))
        return lx_provider_anthropic.parse_event(st, ev, sink, err);
    if (pv == NULL) {
        if ((pv = lx_arena_zalloc(st->a, sizeof(*pv))) == NULL)
            return LX_ENOMEM;
        st->priv = pv;
    }
    /* most events hold no streamed call: straight to the Gemini decoder */
    if (vtx_has(ev->data, "\"willContinue\"") || vtx_pending_any(pv)) {
        rc = vtx_fold_calls(st, ev->data, &folded.data);
        if (rc != LX_OK) {
            lx_err_set(err, rc, 502, "Vertex AI: a streamed function call is not well formed");
            return rc == LX_ENOMEM ? rc : LX_EPARSE;
        }
    }
    st->priv = pv->inner;
    rc = lx_provider_gemini.parse_event(st, &folded, sink, err);
    pv->inner = st->priv;
    st->priv = pv;
    return rc;
}

/* Vertex answers platform errors (IAM, quota, unknown model) in Google's format even for Claude
 * models; Claude's own errors come in Anthropic's ({"type":"error","error":{...}}). */
static bool vtx_body_is_anthropic(struct lx_str body, struct lx_arena *a)
{
    struct lx_json doc;
    int t;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return false;
    t = lx_json_get(&doc, 0, LX_STR("type"));
    return t >= 0 && lx_json_str_eq(&doc, t, LX_STR("error"));
}

static void vtx_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    const struct lx_provider_ops *ops = &lx_provider_gemini;

    if (call != NULL && vtx_is_claude(call->model) && vtx_body_is_anthropic(body, a))
        ops = &lx_provider_anthropic;
    ops->map_error(call, status, headers, n_headers, body, a, out);
}

/* ---- embeddings: textembedding models via :predict ---------------------------------------- */

static int vtx_build_embeddings(const struct lx_provider_call *call, const struct lx_embed_req *req,
                                struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(VTX_MAX_BODY);
    struct lx_json_writer w;
    int rc;

    memset(out, 0, sizeof(*out));
    if (call->conf == NULL || req->n_inputs == 0) {
        lx_err_set(err, LX_EINVAL, 400, "Vertex AI: embeddings need at least one input");
        return LX_EINVAL;
    }
    if (vtx_is_claude(call->model)) {
        lx_err_set(err, LX_EINVAL, 400, "Vertex AI: Claude models have no embeddings");
        return LX_EINVAL;
    }
    if ((rc = vtx_url(call, "google", "predict", a, &out->url, err)) != LX_OK)
        return rc;
    out->method = LX_STR("POST");
    if ((rc = vtx_headers(call, false, a, out, err)) != LX_OK)
        return rc;
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("instances"));
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_inputs; i++) {
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("content"));
        lx_json_write_str(&w, req->inputs[i]);
        if (req->input_type.len > 0) {
            lx_json_write_key(&w, LX_STR("task_type"));
            lx_json_write_str(&w, req->input_type);
        }
        lx_json_write_object_end(&w);
    }
    lx_json_write_array_end(&w);
    if (req->dimensions > 0) {
        lx_json_write_key(&w, LX_STR("parameters"));
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("outputDimensionality"));
        lx_json_write_int(&w, req->dimensions);
        lx_json_write_object_end(&w);
    }
    lx_json_write_object_end(&w);
    return vtx_take_body(&b, a, out, err);
}

static int vtx_embed_fail(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EPARSE, 502, "Vertex AI embeddings: %s", what);
    return LX_EPARSE;
}

static int vtx_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                                struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int preds, p;
    size_t n = 0;
    int64_t tokens = 0;
    bool have_tokens = false;

    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    out->model = call ? call->model : LX_STR_NULL;
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return vtx_embed_fail(err, "the answer is not a JSON object");
    preds = lx_json_get(&doc, 0, LX_STR("predictions"));
    if (preds < 0 || lx_json_type(&doc, preds) != LX_JSON_ARRAY)
        return vtx_embed_fail(err, "no predictions array");
    n = lx_json_count(&doc, preds);
    if (n == 0)
        return vtx_embed_fail(err, "no predictions");
    out->vectors = lx_arena_zalloc(a, n * sizeof(*out->vectors));
    if (out->vectors == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    for (p = lx_json_first(&doc, preds); p >= 0; p = lx_json_sibling(&doc, preds, p)) {
        int e = lx_json_type(&doc, p) == LX_JSON_OBJECT ? lx_json_get(&doc, p, LX_STR("embeddings"))
                                                        : -1;
        int v = e >= 0 && lx_json_type(&doc, e) == LX_JSON_OBJECT
                    ? lx_json_get(&doc, e, LX_STR("values"))
                    : -1;
        int s = e >= 0 && lx_json_type(&doc, e) == LX_JSON_OBJECT
                    ? lx_json_get(&doc, e, LX_STR("statistics"))
                    : -1;

        if (v < 0 || lx_json_type(&doc, v) != LX_JSON_ARRAY)
            return vtx_embed_fail(err, "a prediction has no embeddings.values array");
        for (int x = lx_json_first(&doc, v); x >= 0; x = lx_json_sibling(&doc, v, x))
            if (lx_json_type(&doc, x) != LX_JSON_NUMBER)
                return vtx_embed_fail(err, "an embedding value is not a number");
        out->vectors[out->n_vectors] = lx_arena_dup(a, lx_json_raw(&doc, v));
        if (out->vectors[out->n_vectors].ptr == NULL) {
            lx_err_set(err, LX_ENOMEM, 500, "out of memory");
            return LX_ENOMEM;
        }
        out->n_vectors++;
        if (s >= 0 && lx_json_type(&doc, s) == LX_JSON_OBJECT) {
            int tc = lx_json_get(&doc, s, LX_STR("token_count"));
            int64_t t;
            if (tc >= 0 && lx_json_int64(&doc, tc, &t) == LX_OK && t >= 0 &&
                tokens <= INT64_MAX - t) {
                tokens += t;
                have_tokens = true;
            }
        }
    }
    if (have_tokens) {
        out->usage.input = tokens;
        out->usage.total = tokens;
    }
    return LX_OK;
}

const struct lx_provider_ops lx_provider_vertex = {
    .name = "vertex",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS | LX_CAP_COUNT_TOKENS,
    .framing = LX_FRAMING_SSE,
    .build_request = vtx_build_request,
    .parse_response = vtx_parse_response,
    .parse_event = vtx_parse_event,
    .map_error = vtx_map_error,
    .build_embeddings = vtx_build_embeddings,
    .parse_embeddings = vtx_parse_embeddings,
};
