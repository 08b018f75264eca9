/* target.c - what one attempt of a relayed request sends (relay_int.h): the provider's URL,
 * headers (with the attempt's key) and body, in the same protocol as the client (PASS: the
 * client's bytes with the model and stream_options spliced in) or through the IR (TRANSLATE:
 * the provider adapter's build_request). Everything is allocated in the request arena; a key
 * copied into a header value is wiped when the arena goes. Loop thread of the request. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/escape.h"
#include "core/time.h"
#include "gateway/relay_int.h"
#include "json/splice.h"
#include "providers/openai_front.h"
#include "providers/openai_wire.h"

#define ANTHROPIC_VERSION "2023-06-01"

static void wipe(void *p)
{
    char *s = p;

    explicit_bzero(s, strlen(s));
}

struct lx_str relay_key(const struct relay *r, const struct lx_config_provider *p)
{
    if (r->byok.source != LX_BYOK_NONE)
        return r->byok.key; /* the client's own key, for this one request */
    if (r->key_picked)
        return r->pool_key; /* the pool's choice (relay.c) */
    if (p->n_keys > 0)
        return lx_str_cstr(p->keys[0]); /* no pool attached */
    return LX_STR_NULL;
}

enum relay_mode relay_choose_mode(const struct relay *r, const struct lx_config_provider *p)
{
    switch (r->g->src) {
    case LX_SRC_OPENAI:
        return p->proto == LX_CONFIG_PROTO_OPENAI || p->proto == LX_CONFIG_PROTO_AZURE
                   ? RELAY_PASS
                   : RELAY_TRANSLATE;
    case LX_SRC_ANTHROPIC:
        return p->proto == LX_CONFIG_PROTO_ANTHROPIC ? RELAY_PASS : RELAY_TRANSLATE;
    case LX_SRC_GEMINI: return p->proto == LX_CONFIG_PROTO_GEMINI ? RELAY_PASS : RELAY_TRANSLATE;
    }
    return RELAY_TRANSLATE;
}

/* "<prefix><key>" in the arena, wiped with it (gateway_int.h). */
struct lx_str lx__gw_secret_value(struct lx_arena *a, const char *prefix, struct lx_str key,
                                  char **keep)
{
    size_t plen = strlen(prefix);
    char *v = lx_arena_alloc(a, plen + key.len + 1);

    if (v == NULL)
        return LX_STR_NULL;
    memcpy(v, prefix, plen);
    memcpy(v + plen, key.ptr, key.len);
    v[plen + key.len] = '\0';
    if (lx_arena_on_release(a, wipe, v) != LX_OK) {
        explicit_bzero(v, plen + key.len);
        return LX_STR_NULL;
    }
    if (keep)
        *keep = v;
    return lx_str_make(v, plen + key.len);
}

/* The provider's own timeouts win; values it inherited from the file's `upstream:` are left
 * to the loop's defaults, which the command line may have changed. */
static void set_timeouts(const struct relay *r, const struct lx_config_provider *p,
                         struct lx_upstream_req *ur)
{
    const struct lx_config_timeouts *d = &r->g->cfg->upstream.timeouts, *t = &p->timeouts;

    ur->connect_timeout_ms = t->connect_ms != d->connect_ms ? t->connect_ms : 0;
    ur->first_byte_timeout_ms = t->first_byte_ms != d->first_byte_ms ? t->first_byte_ms : 0;
    ur->idle_timeout_ms = t->idle_ms != d->idle_ms ? t->idle_ms : 0;
    ur->total_timeout_ms = t->total_ms != d->total_ms ? t->total_ms : 0;
}

/* The client's stream_options with include_usage set to true: its other members are kept as
 * they were written. */
static void stream_options_with_usage(const struct lx_json *doc, struct lx_buf *out)
{
    int so = lx_json_get(doc, 0, LX_STR("stream_options"));

    lx_buf_append_char(out, '{');
    if (lx_json_type(doc, so) == LX_JSON_OBJECT) {
        for (int k = lx_json_first(doc, so); k >= 0; k = lx_json_sibling(doc, so, k)) {
            if (lx_json_str_eq(doc, k, LX_STR("include_usage")))
                continue;
            lx_buf_append_str(out, lx_json_raw(doc, k));
            lx_buf_append_char(out, ':');
            lx_buf_append_str(out, lx_json_raw(doc, k + 1));
            lx_buf_append_char(out, ',');
        }
    }
    lx_buf_append_cstr(out, "\"include_usage\":true}");
}

/* PASS body: the client's bytes with "model" (when the provider knows it by another name) and
 * OpenAI's stream_options (usage asked for every stream) spliced in; every other byte kept. */
static int pass_body(struct relay *r, struct lx_str up_model, bool model_in_body,
                     struct lx_upstream_req *ur)
{
    struct lx_json_edit edits[2];
    struct lx_buf mv = LX_BUF_INIT(up_model.len * 6 + 16), so = LX_BUF_INIT(1u << 16);
    size_t n = 0;
    int rc = LX_OK;

    ur->body = lx_http_req_body(r->g->req);
    if (model_in_body && !lx_str_eq(up_model, r->g->model)) {
        /* "openai/gpt-4o" reaches the provider as "gpt-4o" */
        lx_buf_append_char(&mv, '"');
        lx_json_escape(&mv, up_model);
        lx_buf_append_char(&mv, '"');
        edits[n++] = (struct lx_json_edit){LX_STR("model"), lx_buf_str(&mv)};
    }
    if (r->g->src == LX_SRC_OPENAI && r->want_stream && !r->client_wants_usage) {
        /* every stream reports its tokens; the usage-only chunk is kept from a client that
         * did not ask for it (relay.c) */
        stream_options_with_usage(&r->doc, &so);
        edits[n++] = (struct lx_json_edit){LX_STR("stream_options"), lx_buf_str(&so)};
        r->usage_injected = true;
    }
    if (n > 0) {
        lx_buf_init(&r->up_body, ur->body.len + mv.len + so.len + 64);
        rc = mv.err != LX_OK   ? mv.err
             : so.err != LX_OK ? so.err
                               : lx_json_splice(&r->doc, 0, edits, n, &r->up_body);
        ur->body = lx_buf_str(&r->up_body);
    }
    lx_buf_release(&mv);
    lx_buf_release(&so);
    return rc;
}

/* The key in the provider's header (prefix + key, wiped with the arena), the provider's own
 * headers after ours, and the method: the tail every PASS target shares. r->up_headers has
 * room for nh + 1 + p->n_headers entries. */
static int finish_target(struct relay *r, const struct lx_config_provider *p, size_t nh,
                         struct lx_str key_header, const char *prefix, struct lx_str key,
                         struct lx_upstream_req *ur)
{
    if (key.len > 0) {
        struct lx_str v = lx__gw_secret_value(lx_http_req_arena(r->g->req), prefix, key, &r->auth_value);

        if (v.ptr == NULL)
            return LX_ENOMEM;
        r->up_headers[nh++] = (struct lx_header){key_header, v};
    }
    for (size_t i = 0; i < p->n_headers; i++)
        r->up_headers[nh++] = p->headers[i];
    ur->method = LX_STR("POST");
    ur->headers = r->up_headers;
    ur->n_headers = nh;
    return LX_OK;
}

/* The URL built in b, into the arena; b released. */
static int take_url(struct lx_arena *a, struct lx_buf *b, struct lx_upstream_req *ur)
{
    ur->url = b->err == LX_OK ? lx_arena_dup(a, lx_buf_str(b)) : LX_STR_NULL;
    lx_buf_release(b);
    return ur->url.ptr != NULL ? LX_OK : LX_ENOMEM;
}

/* PASS to an OpenAI-compatible provider: {base_url}{path}, Bearer key, the provider's headers. */
static int pass_openai(struct relay *r, const struct lx_config_provider *p, struct lx_str key,
                       struct lx_upstream_req *ur)
{
    struct lx_gw_req *g = r->g;
    struct lx_arena *a = lx_http_req_arena(g->req);
    size_t base_len = strlen(p->base_url), nh = 0;
    size_t path_len = strlen(g->upstream_path);
    char *url = lx_arena_alloc(a, base_len + path_len + 1);

    r->up_headers = lx_arena_alloc(a, sizeof(struct lx_header) * (4 + p->n_headers));
    if (url == NULL || r->up_headers == NULL)
        return LX_ENOMEM;
    memcpy(url, p->base_url, base_len);
    memcpy(url + base_len, g->upstream_path, path_len + 1);
    r->up_headers[nh++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    r->up_headers[nh++] =
        (struct lx_header){LX_STR("Accept"), r->want_stream ? LX_STR("text/event-stream")
                                                            : LX_STR("application/json")};
    if (key.len > 0) {
        struct lx_str v = lx__gw_secret_value(a, "Bearer ", key, &r->auth_value);

        if (v.ptr == NULL)
            return LX_ENOMEM;
        r->up_headers[nh++] = (struct lx_header){LX_STR("Authorization"), v};
    }
    for (size_t i = 0; i < p->n_headers; i++)
        r->up_headers[nh++] = p->headers[i];
    if (strcmp(p->type, "openrouter") == 0 &&
        lx_header_find(p->headers, p->n_headers, LX_STR("X-Title")) == NULL) {
        /* OpenRouter's app attribution (its dashboard shows the app by this name); a
         * `headers:` entry replaces it, and HTTP-Referer can be added the same way */
        r->up_headers[nh++] = (struct lx_header){LX_STR("X-Title"), LX_STR("llmux")};
    }
    ur->method = LX_STR("POST");
    ur->url = lx_str_make(url, base_len + path_len);
    ur->headers = r->up_headers;
    ur->n_headers = nh;
    return LX_OK;
}

/* PASS to Anthropic: {base_url}/messages[/count_tokens], x-api-key, the client's
 * anthropic-version and anthropic-beta (what the client's SDK asked for is what it reads). */
static int pass_anthropic(struct relay *r, const struct lx_config_provider *p, struct lx_str key,
                          struct lx_upstream_req *ur)
{
    struct lx_gw_req *g = r->g;
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_str ver = lx_http_req_header(g->req, LX_STR("anthropic-version"));
    struct lx_str beta = lx_http_req_header(g->req, LX_STR("anthropic-beta"));
    const char *path = g->endpoint == LX_EP_COUNT_TOKENS ? "/messages/count_tokens" : "/messages";
    size_t nh = 0;
    struct lx_buf url = LX_BUF_INIT(4096);

    r->up_headers = lx_arena_alloc(a, sizeof(struct lx_header) * (5 + p->n_headers));
    if (r->up_headers == NULL)
        return LX_ENOMEM;
    lx_buf_append_cstr(&url, p->base_url);
    lx_buf_append_cstr(&url, path);
    if (take_url(a, &url, ur) != LX_OK)
        return LX_ENOMEM;
    r->up_headers[nh++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    r->up_headers[nh++] = (struct lx_header){
        LX_STR("anthropic-version"), ver.len > 0 && ver.len < 64 ? ver : LX_STR(ANTHROPIC_VERSION)};
    if (beta.len > 0 && beta.len < 1024)
        r->up_headers[nh++] = (struct lx_header){LX_STR("anthropic-beta"), beta};
    return finish_target(r, p, nh, LX_STR("x-api-key"), "", key, ur);
}

/* A path segment percent-encoded (RFC 3986 unreserved kept). */
static void append_segment(struct lx_buf *b, struct lx_str s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            lx_buf_append_char(b, (char)c);
        } else {
            lx_buf_append_char(b, '%');
            lx_buf_append_char(b, hex[c >> 4]);
            lx_buf_append_char(b, hex[c & 15]);
        }
    }
}

/* PASS to Gemini: {base_url}/models/{model}:{method}, x-goog-api-key (never ?key=: URLs end up
 * in logs). */
static int pass_gemini(struct relay *r, const struct lx_config_provider *p, struct lx_str model,
                       struct lx_str key, struct lx_upstream_req *ur)
{
    struct lx_gw_req *g = r->g;
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_buf url = LX_BUF_INIT(8192);
    size_t nh = 0;

    r->up_headers = lx_arena_alloc(a, sizeof(struct lx_header) * (3 + p->n_headers));
    if (r->up_headers == NULL)
        return LX_ENOMEM;
    lx_buf_append_cstr(&url, p->base_url);
    lx_buf_append_cstr(&url, "/models/");
    append_segment(&url, model);
    lx_buf_append_cstr(&url, g->endpoint == LX_EP_COUNT_TOKENS ? ":countTokens"
                             : r->want_stream                   ? ":streamGenerateContent?alt=sse"
                                                                : ":generateContent");
    if (take_url(a, &url, ur) != LX_OK)
        return LX_ENOMEM;
    r->up_headers[nh++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    return finish_target(r, p, nh, LX_STR("x-goog-api-key"), "", key, ur);
}

/* The IR of the client's request, decoded once (the first translated attempt). */
static int decode_once(struct relay *r, struct lx_err *err)
{
    struct lx_gw_req *g = r->g;
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_str body = lx_http_req_body(g->req);
    int rc;

    if (g->endpoint == LX_EP_EMBEDDINGS) {
        if (r->eir != NULL)
            return LX_OK;
        r->eir = lx_arena_zalloc(a, sizeof(*r->eir));
        if (r->eir == NULL)
            return LX_ENOMEM;
        return lx_openai_decode_embeddings(body, a, r->eir, err);
    }
    if (r->ir != NULL)
        return LX_OK;
    r->ir = lx_arena_zalloc(a, sizeof(*r->ir));
    if (r->ir == NULL)
        return LX_ENOMEM;
    if (g->endpoint == LX_EP_COUNT_TOKENS && g->src == LX_SRC_ANTHROPIC &&
        lx_json_get(&r->doc, 0, LX_STR("max_tokens")) < 0) {
        /* count_tokens takes a Messages body without max_tokens; the decoder wants one */
        struct lx_json_edit e = {LX_STR("max_tokens"), LX_STR("1")};
        struct lx_buf b = LX_BUF_INIT(body.len + 64);

        rc = lx_json_splice(&r->doc, 0, &e, 1, &b);
        body = rc == LX_OK ? lx_arena_dup(a, lx_buf_str(&b)) : LX_STR_NULL;
        lx_buf_release(&b);
        if (body.ptr == NULL)
            return rc != LX_OK ? rc : LX_ENOMEM;
    }
    rc = g->legacy_completion ? lx_openai_decode_completion(body, a, r->ir, err)
                              : r->fdo->decode_request(body, a, r->ir, err);
    if (rc != LX_OK)
        return rc;
    r->ir->model = g->model; /* the client's name for it: what answers carry */
    r->ir->stream = r->want_stream;
    if (g->src == LX_SRC_OPENAI && r->want_stream)
        r->ir->include_usage = r->client_wants_usage;
    return LX_OK;
}

int relay_decode(struct relay *r, struct lx_err *err)
{
    return decode_once(r, err);
}

struct wipe_span {
    char *p;
    size_t n;
};

static void wipe_span(void *arg)
{
    struct wipe_span *w = arg;

    explicit_bzero(w->p, w->n);
}

/* The adapters write credentials into header values in the request arena; they are zeroed
 * when the arena goes, like every other copy of a key the gateway makes. Values the arena
 * does not own (the configuration's headers) are left alone. */
static int wipe_secret_headers(struct lx_arena *a, const struct lx_upstream_req *ur)
{
    for (size_t i = 0; i < ur->n_headers; i++) {
        const struct lx_header *h = &ur->headers[i];
        struct wipe_span *w;

        if (h->value.len == 0 || !lx_auth_header_is_secret(h->name) ||
            !lx_arena_owns(a, h->value.ptr))
            continue;
        w = lx_arena_alloc(a, sizeof(*w));
        if (w == NULL)
            return LX_ENOMEM;
        *w = (struct wipe_span){(char *)(uintptr_t)h->value.ptr, h->value.len};
        if (lx_arena_on_release(a, wipe_span, w) != LX_OK) {
            explicit_bzero(w->p, w->n);
            return LX_ENOMEM;
        }
    }
    return LX_OK;
}

int relay_build(struct relay *r, const struct lx_route_candidate *c, struct lx_upstream_req *ur,
                struct lx_err *err)
{
    const struct lx_config_provider *p = r->use_attempt_conf ? r->attempt_conf : c->provider;
    struct lx_str key = r->attempt_key.len > 0 ? r->attempt_key : relay_key(r, p);
    struct lx_arena *a = lx_http_req_arena(r->g->req);
    int rc;

    r->pops = lx_provider_for(p->proto);
    r->call = (struct lx_provider_call){
        .conf = p,
        .model = c->model,
        .key = key,
        .endpoint = r->g->endpoint,
        .stream = r->want_stream,
        .now_s = (int64_t)(lx_now_wall_ms() / 1000),
    };
    if (r->mode == RELAY_PASS) {
        switch (p->proto) {
        case LX_CONFIG_PROTO_ANTHROPIC: rc = pass_anthropic(r, p, key, ur); break;
        case LX_CONFIG_PROTO_GEMINI: rc = pass_gemini(r, p, c->model, key, ur); break;
        case LX_CONFIG_PROTO_AZURE:
            /* Azure's URL (deployment or v1 style) and api-key header; the body as OpenAI's */
            rc = lx_azure_target(&r->call, r->g->upstream_path, lx_http_req_arena(r->g->req), ur);
            if (rc == LX_OK)
                rc = wipe_secret_headers(lx_http_req_arena(r->g->req), ur);
            break;
        default: rc = pass_openai(r, p, key, ur); break;
        }
        if (rc == LX_OK)
            rc = pass_body(r, c->model, p->proto != LX_CONFIG_PROTO_GEMINI, ur);
        set_timeouts(r, p, ur);
        return rc;
    }
    if (r->pops == NULL) {
        lx_err_set(err, LX_EINVAL, 501, "This provider's protocol is not supported.");
        return LX_EINVAL;
    }
    rc = decode_once(r, err);
    if (rc != LX_OK)
        return rc;
    if (r->g->endpoint == LX_EP_EMBEDDINGS) {
        if (r->pops->build_embeddings == NULL) {
            lx_err_set(err, LX_EINVAL, 400, "Provider '%s' has no embeddings endpoint.", p->name);
            return LX_EINVAL;
        }
        rc = r->pops->build_embeddings(&r->call, r->eir, a, ur, err);
    } else {
        rc = r->pops->build_request(&r->call, r->ir, a, ur, err);
    }
    if (rc == LX_OK)
        rc = wipe_secret_headers(a, ur);
    set_timeouts(r, p, ur);
    return rc;
}
