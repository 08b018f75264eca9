/* native.c - ANY /api/{provider}/{native path} (seed S1): a client's own SDK talks to llmux as
 * if it were the provider (base URL http://llmux/api/anthropic, .../api/openai/v1,
 * .../api/gemini), authenticating with its llmux key in that provider's usual header (checked
 * by gateway.c before this runs). llmux swaps in the provider's key and relays the method, the
 * native path (appended to the origin of the provider's base_url), the query (without
 * auth_token and key: the client's key never reaches the provider), the body and the answer
 * untouched, streamed as it arrives. No retries and no translation here: the client chose the
 * provider. Loop thread of the request; the state lives in the request arena.
 *
 * Headers: the client's are passed on except hop-by-hop and framing ones and every header
 * that can carry a secret (auth.h); the provider's auth header is added in its own style.
 * The answer's headers are passed back except hop-by-hop, framing and Set-Cookie. */
#include <stdint.h>
#include <string.h>

#include "auth/auth.h"
#include "core/common.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/gateway_int.h"

#define MAX_HEADERS 64

struct native {
    struct lx_gw_req *g;
    struct lx_upstream *up;
    bool started, paused, finishing, done;
    int abort_reason;
    int status;
    struct lx_header *resp_h;
    size_t n_resp_h;
};

static bool hop_by_hop(struct lx_str name)
{
    static const struct lx_str skip[] = {
        LX_STR_INIT("connection"),     LX_STR_INIT("keep-alive"),
        LX_STR_INIT("te"),             LX_STR_INIT("trailer"),
        LX_STR_INIT("transfer-encoding"), LX_STR_INIT("upgrade"),
        LX_STR_INIT("host"),           LX_STR_INIT("content-length"),
        LX_STR_INIT("expect"),         LX_STR_INIT("proxy-connection"),
        LX_STR_INIT("x-provider"),     LX_STR_INIT("x-request-id"),
        LX_STR_INIT("set-cookie"),     LX_STR_INIT("date"),
        LX_STR_INIT("server"),         LX_STR_INIT("access-control-allow-origin"),
        LX_STR_INIT("vary"),           LX_STR_INIT("access-control-expose-headers"),
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(skip); i++)
        if (lx_str_eq_nocase(name, skip[i]))
            return true;
    return lx_str_starts_with(name, LX_STR("proxy-")) || lx_str_starts_with(name, LX_STR("Proxy-"));
}

static void native_end(struct native *n, bool abort_conn)
{
    n->done = true;
    lx__gw_access_log(n->g);
    lx_http_resp_end(n->g->req, abort_conn);
}

static int start_client(struct native *n)
{
    int rc;

    if (n->started)
        return LX_OK;
    n->started = true;
    n->g->status = n->status;
    if (n->g->t_first_byte_ns == 0)
        n->g->t_first_byte_ns = lx_now_mono_ns();
    rc = lx__gw_resp_start(n->g, n->status, n->resp_h, n->n_resp_h, -1);
    return rc;
}

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t nh)
{
    struct native *n = lx_upstream_data(up);
    struct lx_arena *a = lx_http_req_arena(n->g->req);
    size_t k = 0;

    n->status = status;
    n->g->upstream_status = status;
    n->resp_h = lx_arena_alloc(a, sizeof(*h) * 8); /* gateway.c adds its own after these */
    for (size_t i = 0; n->resp_h && i < nh && k < 8; i++) {
        if (hop_by_hop(h[i].name))
            continue;
        n->resp_h[k].name = lx_arena_dup(a, h[i].name);
        n->resp_h[k].value = lx_arena_dup(a, h[i].value);
        if (n->resp_h[k].name.ptr && n->resp_h[k].value.ptr)
            k++;
    }
    n->n_resp_h = n->resp_h ? k : 0;
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct native *n = lx_upstream_data(up);

    if (n->finishing)
        return LX_OK;
    if (start_client(n) != LX_OK || lx_http_resp_write(n->g->req, chunk) != LX_OK)
        return LX_ECLOSED;
    if (lx_http_resp_full(n->g->req)) {
        n->paused = true;
        return LX_EPAUSE;
    }
    return LX_OK;
}

static void on_done(struct lx_upstream *up, const struct lx_err *err)
{
    struct native *n = lx_upstream_data(up);

    n->up = NULL;
    if (n->abort_reason != 0 && n->abort_reason != LX_ESHUTDOWN) {
        n->g->status = n->started ? n->g->status : 499;
        n->g->error_class = "client_closed";
        native_end(n, true);
        return;
    }
    if (err != NULL && !n->started) {
        n->g->error_class = err->rc == LX_ETIMEDOUT ? "upstream_timeout" : "upstream_unreachable";
        n->g->status = err->http_status ? err->http_status : 502;
        lx__gw_write_error(n->g, n->g->status, err->rc == LX_ETIMEDOUT ? LX_ERRT_TIMEOUT : LX_ERRT_SERVER,
                           lx_str_cstr(err->msg[0] ? err->msg : "The upstream request failed."),
                           LX_STR("upstream_error"), NULL, 0);
        native_end(n, false);
        return;
    }
    if (err != NULL) {
        /* cut in the middle: the client must not see a clean end of a broken answer */
        n->g->error_class = "upstream_truncated";
        native_end(n, true);
        return;
    }
    if (start_client(n) != LX_OK) {
        native_end(n, true);
        return;
    }
    if (n->status >= 400)
        n->g->error_class = "upstream_status";
    native_end(n, false);
}

static void on_abort(struct lx_http_req *req, int reason)
{
    struct lx_gw_req *g = lx_http_req_data(req);
    struct native *n = g ? g->native : NULL;

    if (n == NULL || n->done || n->finishing)
        return;
    n->abort_reason = reason;
    n->finishing = true;
    if (n->up != NULL)
        lx_upstream_cancel(n->up);
}

static void on_drain(struct lx_http_req *req)
{
    struct lx_gw_req *g = lx_http_req_data(req);
    struct native *n = g ? g->native : NULL;

    if (n && n->paused && n->up) {
        n->paused = false;
        lx_upstream_resume(n->up);
    }
}

/* The end of the scheme and authority of a base URL: "https://api.openai.com" of
 * "https://api.openai.com/v1". */
static size_t origin_len(const char *base)
{
    const char *p = strstr(base, "://");
    const char *slash = p ? strchr(p + 3, '/') : NULL;

    return slash ? (size_t)(slash - base) : strlen(base);
}

/* Adds the provider's key in its own style. false when this provider cannot be reached here. */
static bool add_auth(struct lx_gw_req *g, const struct lx_config_provider *p,
                     struct lx_header *h, size_t *nh)
{
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_str key = LX_STR_NULL;
    const char *name = "Authorization", *prefix = "Bearer ";
    struct lx_str v;

    switch (p->proto) {
    case LX_CONFIG_PROTO_ANTHROPIC: name = "x-api-key", prefix = ""; break;
    case LX_CONFIG_PROTO_GEMINI: name = "x-goog-api-key", prefix = ""; break;
    case LX_CONFIG_PROTO_AZURE: name = "api-key", prefix = ""; break;
    case LX_CONFIG_PROTO_BEDROCK:
    case LX_CONFIG_PROTO_VERTEX: return false; /* signed requests: not relayable untouched */
    default: break;
    }
    if (p->n_keys > 0) {
        /* a usable key of the pool (cooling and disabled keys skipped, keys.c) */
        struct lx_pool *pool = lx__gw_pool(g->cfg, (size_t)(p - g->cfg->providers));
        struct lx_pool_pick pk = {.status = LX_POOL_NO_KEYS};
        uint64_t rnd = lx_now_mono_ns() ^ (uint64_t)(uintptr_t)g;

        if (pool != NULL)
            lx_pool_pick(pool, &g->w->gw->pool_ops, LX_STR(""), NULL, 0, rnd, lx_now_wall_ms(),
                         &pk);
        key = lx_str_cstr(p->keys[pk.status == LX_POOL_PICKED ? pk.index : 0]);
    }
    if (key.len == 0)
        return true;
    v = lx__gw_secret_value(a, prefix, key, NULL);
    if (v.ptr == NULL)
        return false;
    h[(*nh)++] = (struct lx_header){lx_str_cstr(name), v};
    return true;
}

void lx__gw_native(struct lx_gw_req *g)
{
    const struct lx_http1_head *head = lx_http_req_head(g->req);
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_str rest = lx_str_sub(head->path, 5, head->path.len); /* after "/api/" */
    long slash = lx_str_find_char(rest, '/');
    struct lx_str name = slash < 0 ? rest : lx_str_sub(rest, 0, (size_t)slash);
    struct lx_str native_path = slash < 0 ? LX_STR("/") : lx_str_sub(rest, (size_t)slash, rest.len);
    const struct lx_config_provider *p;
    struct lx_upstream_req ur = {0};
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done, NULL};
    struct lx_header *h;
    struct native *n;
    size_t nh = 0, olen, qlen, url_len;
    char *url;

    g->route = "native";
    p = lx_config_provider_find(g->cfg, name);
    if (p == NULL) {
        lx__gw_fail(g, 404, "No provider of that name is configured.", "provider_not_found",
                    "not_found");
        return;
    }
    g->provider = p->name;
    if (!p->enabled) {
        lx__gw_fail(g, 503, "This provider is disabled (no key, or enabled: false).",
                    "provider_unavailable", "provider_disabled");
        return;
    }
    n = lx_arena_zalloc(a, sizeof(*n));
    h = lx_arena_alloc(a, sizeof(*h) * (MAX_HEADERS + p->n_headers + 2));
    olen = origin_len(p->base_url);
    url = lx_arena_alloc(a, olen + native_path.len + head->query.len + 2);
    if (n == NULL || h == NULL || url == NULL) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    memcpy(url, p->base_url, olen);
    memcpy(url + olen, native_path.ptr, native_path.len);
    url_len = olen + native_path.len;
    qlen = lx_auth_query_strip(head->query, url + url_len + 1);
    if (qlen > 0) {
        url[url_len] = '?';
        url_len += 1 + qlen;
    }
    for (size_t i = 0; i < head->n_headers && nh < MAX_HEADERS; i++) {
        struct lx_str hn = head->headers[i].name;

        if (hop_by_hop(hn) || lx_auth_header_is_secret(hn) ||
            lx_str_eq_nocase(hn, LX_STR("accept-encoding")))
            continue; /* accept-encoding: our client does not inflate */
        h[nh++] = head->headers[i];
    }
    if (!add_auth(g, p, h, &nh)) {
        lx__gw_fail(g, 501,
                    "This provider signs its requests (Bedrock, Vertex): use the OpenAI, "
                    "Anthropic or Gemini routes for it, not /api/.",
                    "not_supported", "native_unsupported");
        return;
    }
    for (size_t i = 0; i < p->n_headers; i++)
        h[nh++] = p->headers[i];
    n->g = g;
    cbs.data = n;
    ur.method = head->method;
    ur.url = lx_str_make(url, url_len);
    ur.headers = h;
    ur.n_headers = nh;
    ur.body = lx_http_req_body(g->req);
    g->native = n; /* the abort and drain hooks find it there */
    g->attempts = 1;
    lx_http_req_on_abort(g->req, on_abort);
    lx_http_req_on_drain(g->req, on_drain);
    if (lx_upstream_start(g->w->up, &ur, &cbs, &n->up) != LX_OK) {
        g->native = NULL;
        lx__gw_fail(g, 502, "The upstream request could not be started.", "upstream_error",
                    "upstream_start");
    }
}
