/* gateway.c - the gateway's lifetime (config copy, per-worker state) and the route table.
 * lx_gateway_handle runs on the request's loop thread; every route ends the request exactly
 * once, either synchronously or from its upstream callbacks. */
#include "gateway/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/alloc.h"
#include "core/common.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/errors.h"
#include "gateway/gateway_int.h"

void lx_gateway_config_default(struct lx_gateway_config *c)
{
    memset(c, 0, sizeof(*c));
    lx_upstream_config_default(&c->upstream);
    c->max_response_body = 64u << 20;
    c->max_sse_event = 4u << 20;
}

struct lx_gateway *lx_gateway_new(const struct lx_gateway_config *c, struct lx_config *cfg,
                                  struct lx_err *err)
{
    struct lx_gateway *gw;

    if (c->upstream.ca_file != NULL && access(c->upstream.ca_file, R_OK) != 0) {
        lx_err_set(err, LX_EINVAL, 0, "cannot read the CA file %s", c->upstream.ca_file);
        lx_config_unref(cfg);
        return NULL;
    }
    gw = lx_xcalloc(1, sizeof(*gw));
    gw->conf = *c;
    if (c->upstream.ca_file != NULL)
        gw->conf.upstream.ca_file = gw->ca_file =
            lx_xstrndup(c->upstream.ca_file, strlen(c->upstream.ca_file));
    {
        struct lx_state_conf sc;

        lx_state_conf_defaults(&sc);
        lx__gw_state_conf_budget(cfg, &sc); /* the retry budget: read at start only */
        sc.on_event = lx__gw_state_event;
        gw->state = lx_state_new(&sc);
    }
    if (cfg->redis.url != NULL) {
        /* several instances share cooldowns, disabled keys and breakers; Redis down never
         * fails a request (state/ keeps working locally; /health says so) */
        struct lx_state_redis_conf rc;

        if (lx_state_redis_parse_url(cfg->redis.url, &rc, gw->redis_buf, sizeof(gw->redis_buf)) !=
            LX_OK) {
            lx_logf(LX_LOG_ERROR, "redis.url: not a redis:// URL llmux can use");
        } else {
            if (cfg->redis.prefix != NULL)
                rc.prefix = cfg->redis.prefix;
            if (lx_state_redis_attach(gw->state, &rc) != LX_OK)
                lx_logf(LX_LOG_ERROR, "redis: could not start the state thread");
        }
    }
    gw->health = lx__gw_health_new();
    lx__gw_state_ops(gw->state, &gw->pool_ops);
    lx__gw_pools_attach(cfg);
    lx_config_slot_init(&gw->slot, cfg);
    return gw;
}

void lx_gateway_reload(struct lx_gateway *gw, struct lx_config *cfg)
{
    lx__gw_pools_attach(cfg); /* before any worker can see it */
    lx_config_slot_swap(&gw->slot, cfg);
}

void lx_gateway_free(struct lx_gateway *gw)
{
    if (gw == NULL)
        return;
    lx_config_slot_release(&gw->slot);
    lx_state_free(gw->state);
    lx__gw_health_free(gw->health);
    free(gw->ca_file);
    free(gw);
}

static void flush_access_log(uv_check_t *h)
{
    struct lx_gateway_worker *w = h->data;

    if (w->access_log.len == 0 && w->access_log.err == LX_OK)
        return;
    lx_log_write(lx_buf_str(&w->access_log));
    lx_buf_reset(&w->access_log);
    if (w->access_log.cap > (64u << 10)) /* a burst grew it: give the memory back */
        lx_buf_release(&w->access_log);
}

static void on_flush_check_closed(uv_handle_t *h)
{
    struct lx_gateway_worker *w = h->data;

    lx_buf_release(&w->access_log);
    free(w);
}

void *lx_gateway_worker_start(uv_loop_t *loop, unsigned index, void *data)
{
    struct lx_gateway *gw = data;
    struct lx_gateway_worker *w = lx_xcalloc(1, sizeof(*w));
    struct lx_err err = {0};

    w->gw = gw;
    w->loop = loop;
    w->index = index;
    if (getrandom(&w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng) || w->rng == 0)
        w->rng = lx_now_mono_ns() ^ ((uint64_t)index << 32) ^ 0x9e3779b97f4a7c15u;
    w->up = lx_upstream_ctx_new(loop, &gw->conf.upstream, &err);
    if (w->up == NULL) {
        /* a bad CA file is caught here on the first worker; nothing can be served */
        lx_logf(LX_LOG_ERROR, "upstream setup failed: %s", err.msg);
        exit(1);
    }
    w->tokens = lx__gw_tokens_new(w->up);
    if (index == 0) /* one loop sends the probes and health checks of the process */
        w->probe = lx__gw_probe_start(gw, loop, w->up);
    lx_buf_init(&w->access_log, 1u << 20);
    uv_check_init(loop, &w->flush_check);
    w->flush_check.data = w;
    uv_check_start(&w->flush_check, flush_access_log);
    uv_unref((uv_handle_t *)&w->flush_check); /* never keeps the loop alive by itself */
    return w;
}

void lx_gateway_worker_stop(void *worker)
{
    struct lx_gateway_worker *w = worker;

    if (w == NULL)
        return;
    lx__gw_probe_stop(w->probe); /* cancels what is out; frees itself when it has called back */
    lx__gw_tokens_free(w->tokens);
    lx_upstream_ctx_free(w->up);
    flush_access_log(&w->flush_check);
    uv_check_stop(&w->flush_check);
    uv_close((uv_handle_t *)&w->flush_check, on_flush_check_closed); /* frees w */
}

static uint64_t next_rand(struct lx_gateway_worker *w)
{
    uint64_t x = w->rng; /* xorshift64*: ids need to be unique, not secret */

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Du;
}

/* A client's X-Request-Id is kept when it is short and plain, so it can be logged safely. */
static bool sane_request_id(struct lx_str s)
{
    if (s.len == 0 || s.len > 36)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* An Origin the configuration's cors.origins lists ("*" allows any). */
static bool cors_allowed(const struct lx_config *cfg, struct lx_str origin)
{
    if (origin.len == 0)
        return false;
    for (size_t i = 0; i < cfg->cors.n_origins; i++)
        if (strcmp(cfg->cors.origins[i], "*") == 0 ||
            lx_str_eq(origin, lx_str_cstr(cfg->cors.origins[i])))
            return true;
    return false;
}

/* OPTIONS preflight: 204 with what the browser may send, when the origin is allowed. */
static void preflight(struct lx_gw_req *g)
{
    static const struct lx_header h[] = {
        {LX_STR_INIT("Access-Control-Allow-Methods"), LX_STR_INIT("GET, POST, OPTIONS")},
        {LX_STR_INIT("Access-Control-Allow-Headers"),
         LX_STR_INIT("Authorization, Content-Type, X-Api-Key, X-Auth-Token, X-Request-Id, "
                     "X-Provider, X-Provider-Key, OpenAI-Organization, OpenAI-Project, "
                     "anthropic-version, x-goog-api-key")},
        {LX_STR_INIT("Access-Control-Max-Age"), LX_STR_INIT("600")},
    };

    g->route = "preflight";
    if (g->cors_origin.len == 0) {
        lx__gw_fail(g, 403, "This origin is not allowed (cors.origins).", "cors_forbidden", "cors");
        return;
    }
    g->status = 204;
    g->t_first_byte_ns = lx_now_mono_ns();
    lx__gw_access_log(g);
    lx__gw_resp_start(g, 204, h, LX_ARRAY_SIZE(h), 0);
    lx_http_resp_end(g->req, false);
}

static void release_cfg(void *cfg) { lx_config_unref(cfg); }

struct lx_gw_req *lx__gw_req_new(struct lx_http_req *req)
{
    struct lx_gw_req *g = lx_arena_zalloc(lx_http_req_arena(req), sizeof(*g));
    struct lx_str rid;

    if (g == NULL)
        return NULL;
    g->req = req;
    g->w = lx_http_req_worker(req);
    g->t_start_ns = lx_now_mono_ns();
    rid = lx_http_req_header(req, LX_STR("x-request-id"));
    if (sane_request_id(rid)) {
        memcpy(g->id, rid.ptr, rid.len);
        g->id[rid.len] = '\0';
    } else {
        uint64_t a = next_rand(g->w), b = next_rand(g->w);

        static const char hex[] = "0123456789abcdef";

        memcpy(g->id, "req_", 4); /* "req_" + 16 + 8 hex digits, without printf */
        for (int i = 0; i < 16; i++)
            g->id[4 + i] = hex[(a >> (60 - 4 * i)) & 15];
        for (int i = 0; i < 8; i++)
            g->id[20 + i] = hex[(b >> (60 - 4 * i)) & 15];
        g->id[28] = '\0';
    }
    g->cfg = lx_config_slot_get(&g->w->gw->slot);
    if (lx_arena_on_release(lx_http_req_arena(req), release_cfg, g->cfg) != LX_OK) {
        lx_config_unref(g->cfg);
        return NULL;
    }
    lx_http_req_set_data(req, g);
    g->extra[g->n_extra++] = (struct lx_header){LX_STR("X-Request-Id"), lx_str_cstr(g->id)};
    if (cors_allowed(g->cfg, lx_http_req_header(req, LX_STR("origin")))) {
        g->cors_origin = lx_http_req_header(req, LX_STR("origin"));
        g->extra[g->n_extra++] =
            (struct lx_header){LX_STR("Access-Control-Allow-Origin"), g->cors_origin};
        g->extra[g->n_extra++] =
            (struct lx_header){LX_STR("Access-Control-Expose-Headers"), LX_STR("X-Request-Id")};
        g->extra[g->n_extra++] = (struct lx_header){LX_STR("Vary"), LX_STR("Origin")};
    }
    return g;
}

int lx__gw_resp_start(struct lx_gw_req *g, int status, const struct lx_header *h, size_t n,
                      int64_t content_length)
{
    struct lx_header all[12];
    size_t k = 0;

    for (size_t i = 0; i < n && k < LX_ARRAY_SIZE(all) - LX_ARRAY_SIZE(g->extra); i++)
        all[k++] = h[i];
    for (size_t i = 0; i < g->n_extra; i++)
        all[k++] = g->extra[i];
    return lx_http_resp_start(g->req, status, all, k, content_length);
}

void lx__gw_access_log(const struct lx_gw_req *g)
{
    const struct lx_http1_head *h = lx_http_req_head(g->req);
    uint64_t now = lx_now_mono_ns();
    struct lx_logline l;

    if (!lx_log_begin_to(&l, LX_LOG_INFO, "access", &g->w->access_log))
        return;
    lx_log_cstr(&l, "request_id", g->id);
    lx_log_str(&l, "method", h->method);
    lx_log_str(&l, "path", h->path);
    lx_log_cstr(&l, "route", g->route);
    if (g->model.ptr)
        lx_log_str(&l, "model", g->model);
    if (g->provider)
        lx_log_cstr(&l, "provider", g->provider);
    if (g->attempts > 1)
        lx_log_uint(&l, "attempts", g->attempts);
    lx_log_bool(&l, "stream", g->stream);
    lx_log_int(&l, "status", g->status);
    if (g->upstream_status)
        lx_log_int(&l, "upstream_status", g->upstream_status);
    lx_log_ms(&l, "latency_ms", now - g->t_start_ns);
    if (g->t_first_byte_ns)
        lx_log_ms(&l, "ttfb_ms", g->t_first_byte_ns - g->t_start_ns);
    if (g->usage.have) {
        lx_log_int(&l, "prompt_tokens", g->usage.prompt);
        lx_log_int(&l, "completion_tokens", g->usage.completion);
        lx_log_int(&l, "total_tokens", g->usage.total);
        if (g->usage.cached >= 0)
            lx_log_int(&l, "cached_tokens", g->usage.cached);
        if (g->usage.reasoning >= 0)
            lx_log_int(&l, "reasoning_tokens", g->usage.reasoning);
    }
    if (g->error_class)
        lx_log_cstr(&l, "error", g->error_class);
    lx_log_end(&l);
}

void lx__gw_fail(struct lx_gw_req *g, int status, const char *message, const char *code,
                 const char *error_class)
{
    g->status = status;
    g->error_class = error_class;
    if (g->t_first_byte_ns == 0)
        g->t_first_byte_ns = lx_now_mono_ns();
    lx__gw_access_log(g);
    lx__gw_write_error(g, status, lx_err_type_from_status(status), lx_str_cstr(message),
                       lx_str_cstr(code), NULL, 0);
    lx_http_resp_end(g->req, false);
}

void lx__gw_write_error(struct lx_gw_req *g, int status, enum lx_err_type type,
                        struct lx_str message, struct lx_str code, const struct lx_header *h,
                        size_t n)
{
    struct lx_header all[4] = {{LX_STR("Content-Type"), LX_STR("application/json")}};
    struct lx_buf b = LX_BUF_INIT(8192);
    size_t k = 1;
    int rc;

    for (size_t i = 0; i < n && k < LX_ARRAY_SIZE(all); i++)
        all[k++] = h[i];
    if (g->fd != NULL) {
        rc = g->fd->encode_error(status, type, message, code, &b);
    } else {
        char msg[512], cd[64];

        /* the OpenAI writer takes C strings: bounded copies (messages are short) */
        snprintf(msg, sizeof(msg), "%.*s", (int)LX_MIN(message.len, sizeof(msg) - 1),
                 message.ptr ? message.ptr : "");
        snprintf(cd, sizeof(cd), "%.*s", (int)LX_MIN(code.len, sizeof(cd) - 1),
                 code.ptr ? code.ptr : "");
        (void)type; /* the OpenAI type follows the status, as it always did here */
        rc = lx_openai_error_json(&b, msg, lx_openai_error_type(status), code.len ? cd : NULL);
    }
    if (rc != LX_OK || b.err != LX_OK) {
        lx_buf_reset(&b);
        lx_buf_append_cstr(&b, "{\"error\":{\"message\":\"internal error\"}}");
        status = 500;
    }
    if (lx__gw_resp_start(g, status, all, k, (int64_t)b.len) == LX_OK)
        lx_http_resp_write(g->req, lx_buf_str(&b));
    lx_buf_release(&b);
}

/* The master key (auth/auth.h: Bearer, x-api-key, X-AUTH-TOKEN or ?auth_token=, compared in
 * constant time); with `auth: none` every request passes. false: a 401 was sent. */
static bool authorized(struct lx_gw_req *g)
{
    const struct lx_http1_head *h = lx_http_req_head(g->req);
    enum lx_auth_status st = lx_auth_check(g->cfg, h->headers, h->n_headers, h->query);
    const struct lx_auth_error *e;

    if (st == LX_AUTH_OK)
        return true;
    e = lx_auth_error(st);
    lx__gw_fail(g, e->http_status, e->message, e->code, "unauthorized");
    return false;
}

struct route {
    const char *method, *path;
    void (*fn)(struct lx_gw_req *g);
    bool open; /* answered without the master key */
};

static const struct route routes[] = {
    {"GET", "/health", lx__gw_health, true},
    {"POST", "/v1/chat/completions", lx__gw_chat_completions, false},
    {"POST", "/chat/completions", lx__gw_chat_completions, false},
    {"POST", "/v1/completions", lx__gw_completions, false},
    {"POST", "/v1/embeddings", lx__gw_embeddings, false},
    {"GET", "/v1/models", lx__gw_models, false},
    {"GET", "/v1/model-options", lx__gw_model_options, false},
    {"GET", "/v1/route-check", lx__gw_route_check, false},
    {"POST", "/v1/messages", lx__gw_messages, false},
    {"POST", "/v1/messages/count_tokens", lx__gw_count_tokens, false},
};

/* The client's protocol, from the path: errors (even a 401) go out in it. */
static void set_front_door(struct lx_gw_req *g, struct lx_str path)
{
    if (lx_str_starts_with(path, LX_STR("/v1/messages"))) {
        g->src = LX_SRC_ANTHROPIC;
        g->fd = lx_frontdoor_for(LX_SRC_ANTHROPIC);
    } else if (lx_str_starts_with(path, LX_STR("/v1beta/")) ||
               (lx_str_starts_with(path, LX_STR("/v1/models/")) &&
                lx_str_find_char(path, ':') > 0)) {
        g->src = LX_SRC_GEMINI;
        g->fd = lx_frontdoor_for(LX_SRC_GEMINI);
    }
}

void lx_gateway_handle(struct lx_http_req *req)
{
    const struct lx_http1_head *h = lx_http_req_head(req);
    struct lx_gw_req *g = lx__gw_req_new(req);
    bool path_known = false;

    if (g == NULL) {
        lx_send_openai_error(req, 503, "out of memory", NULL, NULL, 0);
        return;
    }
    set_front_door(g, h->path);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!lx_str_eq(h->path, lx_str_cstr(routes[i].path)))
            continue;
        path_known = true;
        if (lx_str_eq(h->method, lx_str_cstr(routes[i].method)) ||
            (lx_str_eq(h->method, LX_STR("HEAD")) && strcmp(routes[i].method, "GET") == 0)) {
            if (!routes[i].open && !authorized(g))
                return;
            routes[i].fn(g);
            return;
        }
    }
    g->route = "none";
    if (lx_str_eq(h->method, LX_STR("OPTIONS")) && g->cfg->cors.n_origins > 0) {
        preflight(g);
        return;
    }
    if (g->src == LX_SRC_GEMINI && (lx_str_starts_with(h->path, LX_STR("/v1beta/models/")) ||
                                    lx_str_starts_with(h->path, LX_STR("/v1/models/")))) {
        if (!lx_str_eq(h->method, LX_STR("POST"))) {
            lx__gw_fail(g, 405, "Method not allowed for this endpoint.", "method_not_allowed",
                        "method_not_allowed");
            return;
        }
        if (authorized(g))
            lx__gw_gemini(g);
        return;
    }
    if (lx_str_starts_with(h->path, LX_STR("/api/"))) {
        if (authorized(g))
            lx__gw_native(g);
        return;
    }
    if (path_known)
        lx__gw_fail(g, 405, "Method not allowed for this endpoint.", "method_not_allowed",
                    "method_not_allowed");
    else
        lx__gw_fail(g, 404, "Unknown endpoint.", "not_found", "not_found");
}
