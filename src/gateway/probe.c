/* probe.c - the runner of probe.h: one timer on one worker loop that sends the cheap probes of
 * disabled keys (key_pool.probe) and the active health checks of providers (health_check),
 * and reports their answers to the key pools and to the health table.
 *
 * Ownership: the worker that started the runner (gateway.c, worker 0) stops it; the runner
 * then frees itself once its timer has closed and every transfer it started has called back.
 * Each transfer in flight (struct check) holds a reference on the configuration snapshot it
 * was started from, so its provider and key pool stay valid until its on_done. A key is copied
 * only into a header value in a short-lived arena, wiped and freed as soon as the upstream
 * request head has been built (lx_upstream_start copies it). Loop thread only: no locks here
 * (the pools, the state and the health table lock for themselves). */
#include "gateway/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/gateway_int.h"
#include "providers/provider.h"

#define ANTHROPIC_VERSION "2023-06-01"
#define CHECK_MAX_BODY (16u << 10) /* an error answer's body kept for map_error */
#define DUE_PER_TICK 16            /* keys of one provider started per tick; the rest wait */
#define NO_KEY ((size_t)-1)
#define DEFAULT_HEALTH_TIMEOUT_MS 5000u
/* The model a rate-limited probe's cooldown is recorded for: no request ever asks for it, so
 * the key is usable for every real model at once (a 429 proves the key valid). */
#define PROBE_MODEL "(probe)"

enum check_kind {
    CHECK_KEY = 0, /* a probe of a disabled key */
    CHECK_HEALTH,  /* an active health check of a provider */
};

struct check {
    struct check *next, *prev; /* in the runner's list of transfers in flight */
    struct lx_gw_probe *pr;
    enum check_kind kind;
    struct lx_config *cfg;              /* a reference: the provider and its pool live as long */
    size_t provider;                    /* index into cfg->providers */
    size_t key;                         /* index into its keys, NO_KEY when sent without one */
    char key_id[LX_STATE_NAME_MAX + 1]; /* "openai#2": one probe in flight per key */
    struct lx_upstream *up;
    int status;           /* the answer's status; 0 before the head */
    char retry_after[64]; /* its Retry-After, for map_error */
    struct lx_buf body;   /* an error answer's body, bounded */
};

/* When a provider's next health check is due (by name: it follows reloads). */
struct sched {
    char *name;
    uint64_t next_ms;
    unsigned interval_s;
    bool in_flight;
};

struct lx_gw_probe {
    struct lx_gateway *gw;
    struct lx_upstream_ctx *up;
    uv_timer_t timer;
    struct check live; /* sentinel of a circular list */
    struct sched *sched;
    size_t n_sched, cap_sched;
    bool stopping, timer_closed;
};

/* ---- the cheap request -------------------------------------------------------------------- */

int lx__gw_probe_request(const struct lx_config_provider *p, struct lx_str key, const char *path,
                         struct lx_arena *a, struct lx_upstream_req *out)
{
    struct lx_header *h = lx_arena_alloc(a, sizeof(*h) * (3 + p->n_headers));
    struct lx_buf url = LX_BUF_INIT(8192);
    const char *def = "/models", *key_header = "Authorization", *prefix = "Bearer ";
    size_t nh = 0;

    memset(out, 0, sizeof(*out));
    if (h == NULL)
        return LX_ENOMEM;
    switch (p->proto) {
    case LX_CONFIG_PROTO_OPENAI:
        break; /* GET {base}/models, Bearer */
    case LX_CONFIG_PROTO_ANTHROPIC:
        key_header = "x-api-key";
        prefix = "";
        h[nh++] = (struct lx_header){LX_STR("anthropic-version"), LX_STR(ANTHROPIC_VERSION)};
        break;
    case LX_CONFIG_PROTO_GEMINI:
        key_header = "x-goog-api-key"; /* never ?key=: URLs end up in logs */
        prefix = "";
        break;
    case LX_CONFIG_PROTO_AZURE:
        key_header = "api-key";
        prefix = "";
        def = p->api_version != NULL && p->api_version[0] != '\0' ? "/openai/models?api-version="
                                                                  : "/openai/v1/models";
        break;
    case LX_CONFIG_PROTO_COHERE:
        def = "/v1/models";
        break;
    case LX_CONFIG_PROTO_WORKERS_AI:
        def = "/ai/models/search?per_page=1";
        break;
    case LX_CONFIG_PROTO_OLLAMA:
        def = "/api/tags";
        break;
    case LX_CONFIG_PROTO_BEDROCK:
    case LX_CONFIG_PROTO_VERTEX:
        /* SigV4 and OAuth: no key probe; a health check is an unauthenticated GET that only
         * shows the endpoint answers */
        if (key.len > 0)
            return LX_EINVAL;
        key_header = NULL;
        def = "/";
        break;
    }
    lx_buf_append_cstr(&url, p->base_url);
    if (path != NULL) {
        if (path[0] != '/')
            lx_buf_append_char(&url, '/');
        lx_buf_append_cstr(&url, path);
    } else {
        lx_buf_append_cstr(&url, def);
        if (p->proto == LX_CONFIG_PROTO_AZURE && p->api_version != NULL &&
            p->api_version[0] != '\0')
            lx_buf_append_cstr(&url, p->api_version);
    }
    out->url = url.err == LX_OK ? lx_arena_dup(a, lx_buf_str(&url)) : LX_STR_NULL;
    lx_buf_release(&url);
    if (out->url.ptr == NULL)
        return LX_ENOMEM;
    if (key.len > 0 && key_header != NULL) {
        struct lx_str v = lx__gw_secret_value(a, prefix, key, NULL); /* wiped with a */

        if (v.ptr == NULL)
            return LX_ENOMEM;
        h[nh++] = (struct lx_header){lx_str_cstr(key_header), v};
    }
    h[nh++] = (struct lx_header){LX_STR("Accept"), LX_STR("application/json")};
    for (size_t i = 0; i < p->n_headers; i++)
        h[nh++] = p->headers[i];
    out->method = LX_STR("GET");
    out->headers = h;
    out->n_headers = nh;
    return LX_OK;
}

static bool key_probe_supported(enum lx_config_proto proto)
{
    return proto != LX_CONFIG_PROTO_BEDROCK && proto != LX_CONFIG_PROTO_VERTEX;
}

/* ---- transfers in flight ------------------------------------------------------------------ */

static void check_unlink(struct check *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static bool key_in_flight(const struct lx_gw_probe *pr, struct lx_str id)
{
    for (const struct check *c = pr->live.next; c != &pr->live; c = c->next)
        if (c->kind == CHECK_KEY && lx_str_eq(lx_str_cstr(c->key_id), id))
            return true;
    return false;
}

static struct sched *sched_find(struct lx_gw_probe *pr, const char *name)
{
    for (size_t i = 0; i < pr->n_sched; i++)
        if (strcmp(pr->sched[i].name, name) == 0)
            return &pr->sched[i];
    return NULL;
}

static void maybe_free(struct lx_gw_probe *pr)
{
    if (!pr->stopping || !pr->timer_closed || pr->live.next != &pr->live)
        return;
    for (size_t i = 0; i < pr->n_sched; i++)
        free(pr->sched[i].name);
    free(pr->sched);
    free(pr);
}

static void check_free(struct check *c)
{
    lx_buf_release(&c->body);
    lx_config_unref(c->cfg);
    free(c);
}

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct check *c = lx_upstream_data(up);
    const struct lx_header *ra = lx_header_find(h, n, LX_STR("retry-after"));

    c->status = status;
    if (ra != NULL && ra->value.len < sizeof(c->retry_after)) {
        memcpy(c->retry_after, ra->value.ptr, ra->value.len);
        c->retry_after[ra->value.len] = '\0';
    }
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct check *c = lx_upstream_data(up);

    if (c->status >= 300)
        lx_buf_append_str(&c->body, chunk); /* past the bound: kept short (sticky error) */
    return LX_OK; /* a list answer is read to its end and dropped: the connection is reused */
}

/* The provider's error answer, classified by its adapter (as relay.c does). */
static void map_answer(const struct check *c, const struct lx_config_provider *p,
                       struct lx_arena *a, struct lx_upstream_error *ue)
{
    const struct lx_provider_ops *ops = lx_provider_for(p->proto);
    struct lx_header ra = {LX_STR("Retry-After"), lx_str_cstr(c->retry_after)};
    struct lx_provider_call call = {
        .conf = p,
        .model = LX_STR(PROBE_MODEL),
        .now_s = (int64_t)(lx_now_wall_ms() / 1000),
    };
    struct lx_str body = c->body.err == LX_OK ? lx_buf_str(&c->body) : LX_STR("");

    lx_upstream_error_init(ue);
    ue->status = c->status;
    if (ops != NULL && ops->map_error != NULL && a != NULL) {
        ops->map_error(&call, c->status, &ra, c->retry_after[0] ? 1 : 0, body, a, ue);
    } else {
        ue->type = lx_err_type_from_status(c->status);
        lx_upstream_error_defaults(ue);
    }
}

static void log_probe(const struct lx_pool *pool, const struct check *c, bool enabled,
                      const struct lx_err *uerr, const struct lx_upstream_error *ue)
{
    struct lx_logline l;

    if (!lx_log_begin(&l, LX_LOG_INFO, "key"))
        return;
    lx_log_cstr(&l, "event", enabled ? "probe_ok" : "probe_failed");
    lx_log_str(&l, "key", lx_pool_key_label(pool, c->key));
    lx_log_str(&l, "provider", lx_pool_provider(pool));
    if (c->status)
        lx_log_int(&l, "status", c->status);
    if (uerr != NULL)
        lx_log_cstr(&l, "error", lx_err_name(uerr->rc));
    else if (ue != NULL && ue->code.len > 0)
        lx_log_str(&l, "code", lx_str_sub(ue->code, 0, LX_MIN(ue->code.len, 64)));
    if (enabled && ue != NULL)
        lx_log_cstr(&l, "note", "rate limited: valid, cooling");
    lx_log_end(&l);
}

static void key_probe_done(struct check *c, const struct lx_err *uerr)
{
    struct lx_gateway *gw = c->pr->gw;
    const struct lx_config_provider *p = &c->cfg->providers[c->provider];
    struct lx_pool *pool = lx__gw_pool(c->cfg, c->provider);
    const struct lx_pool_conf *conf = lx__gw_pool_conf(c->cfg);
    uint64_t now = lx_now_wall_ms();
    struct lx_upstream_error ue;
    struct lx_arena *a;
    bool enabled;

    if (pool == NULL)
        return;
    if (uerr != NULL) { /* no answer proves nothing: the key stays disabled */
        log_probe(pool, c, false, uerr, NULL);
        return;
    }
    if (c->status >= 200 && c->status < 300) {
        enabled =
            lx_pool_probe_result(pool, &gw->pool_ops, conf, c->key, LX_STR(PROBE_MODEL), NULL, now);
        log_probe(pool, c, enabled, NULL, NULL);
        return;
    }
    a = lx_arena_new(4096, 1u << 20);
    map_answer(c, p, a, &ue);
    enabled =
        lx_pool_probe_result(pool, &gw->pool_ops, conf, c->key, LX_STR(PROBE_MODEL), &ue, now);
    log_probe(pool, c, enabled, NULL, &ue);
    lx_arena_free(a);
}

static void health_check_done(struct check *c, const struct lx_err *uerr)
{
    const struct lx_config_provider *p = &c->cfg->providers[c->provider];
    struct sched *s = sched_find(c->pr, p->name);
    enum lx_gw_check_outcome out = LX_GW_CHECK_OK;
    char why[LX_GW_HEALTH_ERR_MAX] = "";

    if (s != NULL)
        s->in_flight = false;
    if (uerr != NULL) {
        out = LX_GW_CHECK_FAILED;
        snprintf(why, sizeof(why), "%s", lx_strerror(uerr->rc));
    } else if (c->status >= 500) {
        out = LX_GW_CHECK_FAILED;
        snprintf(why, sizeof(why), "HTTP %d", c->status);
    }
    lx__gw_health_record(c->pr->gw->health, p->name, p->health_check.failures, out, c->status, why,
                         lx_now_wall_ms());
}

static void on_done(struct lx_upstream *up, const struct lx_err *uerr)
{
    struct check *c = lx_upstream_data(up);
    struct lx_gw_probe *pr = c->pr;

    c->up = NULL;
    check_unlink(c);
    if (!pr->stopping) { /* a stop cancels: nothing is concluded from that */
        if (c->kind == CHECK_KEY)
            key_probe_done(c, uerr);
        else
            health_check_done(c, uerr);
    }
    check_free(c);
    maybe_free(pr);
}

/* min(v, cap), with 0 (no value) as cap. */
static unsigned capped(unsigned v, unsigned cap) { return v == 0 || v > cap ? cap : v; }

/* Starts one transfer. LX_OK: on_done will run; else nothing is in flight (err says why). */
static int start_check(struct lx_gw_probe *pr, struct lx_config *cfg, size_t pi,
                       enum check_kind kind, size_t key, struct lx_err *err)
{
    const struct lx_config_provider *p = &cfg->providers[pi];
    struct lx_pool *pool = lx__gw_pool(cfg, pi);
    struct lx_str k = key != NO_KEY ? lx_str_cstr(p->keys[key]) : LX_STR_NULL;
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done, NULL};
    struct lx_upstream_req ur;
    struct lx_arena *a = lx_arena_new(2048, 64u << 10);
    struct check *c;
    int rc;

    if (a == NULL) {
        lx_err_set(err, LX_ENOMEM, 0, "out of memory");
        return LX_ENOMEM;
    }
    rc = lx__gw_probe_request(p, k, p->health_check.path, a, &ur); /* key probes too */
    if (rc != LX_OK) {
        lx_arena_free(a); /* wipes the key's copy */
        lx_err_set(err, rc, 0, "cannot build the request: %s", lx_strerror(rc));
        return rc;
    }
    if (kind == CHECK_KEY) {
        ur.connect_timeout_ms = capped(p->timeouts.connect_ms, LX_GW_PROBE_TIMEOUT_CAP_MS);
        ur.first_byte_timeout_ms = capped(p->timeouts.first_byte_ms, LX_GW_PROBE_TIMEOUT_CAP_MS);
        ur.idle_timeout_ms = capped(p->timeouts.idle_ms, LX_GW_PROBE_TIMEOUT_CAP_MS);
        ur.total_timeout_ms = LX_GW_PROBE_TIMEOUT_CAP_MS;
    } else {
        unsigned t =
            p->health_check.timeout_ms ? p->health_check.timeout_ms : DEFAULT_HEALTH_TIMEOUT_MS;

        ur.connect_timeout_ms = ur.first_byte_timeout_ms = ur.idle_timeout_ms = t;
        ur.total_timeout_ms = t;
    }
    c = lx_xcalloc(1, sizeof(*c));
    c->pr = pr;
    c->kind = kind;
    c->provider = pi;
    c->key = key;
    if (kind == CHECK_KEY && pool != NULL) {
        struct lx_str id = lx_pool_key_id(pool, key);

        snprintf(c->key_id, sizeof(c->key_id), "%.*s", LX_STR_FMT(id));
    }
    lx_buf_init(&c->body, CHECK_MAX_BODY);
    cbs.data = c;
    rc = lx_upstream_start(pr->up, &ur, &cbs, &c->up);
    lx_arena_free(a); /* the request head is built: the key's copy is wiped now */
    if (rc != LX_OK) {
        lx_buf_release(&c->body);
        free(c);
        lx_err_set(err, rc, 0, "%s", lx_strerror(rc));
        return rc;
    }
    c->cfg = lx_config_ref(cfg);
    c->next = &pr->live;
    c->prev = pr->live.prev;
    pr->live.prev->next = c;
    pr->live.prev = c;
    return LX_OK;
}

/* ---- the tick ------------------------------------------------------------------------------ */

static void probe_keys(struct lx_gw_probe *pr, struct lx_config *cfg, uint64_t now)
{
    struct lx_gateway *gw = pr->gw;
    const struct lx_pool_conf *conf = lx__gw_pool_conf(cfg);

    if (conf == NULL || !conf->probe_enabled)
        return;
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const struct lx_config_provider *p = &cfg->providers[i];
        struct lx_pool *pool = lx__gw_pool(cfg, i);
        size_t due[DUE_PER_TICK], n;

        if (!p->enabled || pool == NULL || lx_pool_size(pool) == 0 ||
            !key_probe_supported(p->proto))
            continue;
        n = lx_pool_probe_due(pool, &gw->pool_ops, conf, now, due, DUE_PER_TICK);
        for (size_t k = 0; k < n; k++) {
            struct lx_err err = {0};

            if (due[k] >= p->n_keys || key_in_flight(pr, lx_pool_key_id(pool, due[k])))
                continue; /* the last probe of that key is still out: one at a time */
            if (start_check(pr, cfg, i, CHECK_KEY, due[k], &err) != LX_OK) {
                struct lx_logline l;

                if (lx_log_begin(&l, LX_LOG_WARN, "key")) {
                    lx_log_cstr(&l, "event", "probe_failed");
                    lx_log_str(&l, "key", lx_pool_key_label(pool, due[k]));
                    lx_log_cstr(&l, "provider", p->name);
                    lx_log_cstr(&l, "error", err.msg);
                    lx_log_end(&l);
                }
            }
        }
    }
}

/* The first key of provider i that is neither disabled nor cooling; NO_KEY when it has none,
 * *none_usable when it has keys but every one is resting. */
static size_t first_usable_key(const struct lx_gateway *gw, struct lx_config *cfg, size_t i,
                               uint64_t now, bool *none_usable)
{
    const struct lx_config_provider *p = &cfg->providers[i];
    struct lx_pool *pool = lx__gw_pool(cfg, i);

    *none_usable = false;
    if (p->n_keys == 0)
        return NO_KEY;
    if (pool == NULL)
        return 0;
    for (size_t k = 0; k < lx_pool_size(pool) && k < p->n_keys; k++) {
        uint64_t until = 0;

        if (gw->pool_ops.key_status(gw->pool_ops.ctx, lx_pool_key_id(pool, k), LX_STR(""), now,
                                    &until) == LX_POOL_KEY_OK)
            return k;
    }
    *none_usable = true;
    return NO_KEY;
}

static struct sched *sched_get(struct lx_gw_probe *pr, const char *name, uint64_t now)
{
    struct sched *s = sched_find(pr, name);

    if (s != NULL)
        return s;
    if (pr->n_sched == pr->cap_sched) {
        pr->cap_sched = pr->cap_sched ? pr->cap_sched * 2 : 8;
        pr->sched = lx_xrealloc(pr->sched, pr->cap_sched * sizeof(*pr->sched));
    }
    s = &pr->sched[pr->n_sched++];
    *s = (struct sched){lx_xstrndup(name, strlen(name)), now, 0, false};
    return s;
}

/* Forgets the schedules of providers gone from cfg or with checks off (a check still out for
 * one of them ends without a schedule to update). */
static void sched_prune(struct lx_gw_probe *pr, const struct lx_config *cfg)
{
    for (size_t i = 0; i < pr->n_sched;) {
        const struct lx_config_provider *p =
            lx_config_provider_find(cfg, lx_str_cstr(pr->sched[i].name));

        if (p != NULL && p->enabled && p->health_check.enabled) {
            i++;
            continue;
        }
        free(pr->sched[i].name);
        pr->sched[i] = pr->sched[--pr->n_sched];
    }
}

static void check_providers(struct lx_gw_probe *pr, struct lx_config *cfg, uint64_t now)
{
    sched_prune(pr, cfg);
    lx__gw_health_prune(pr->gw->health, cfg);
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const struct lx_config_provider *p = &cfg->providers[i];
        uint64_t interval_ms;
        struct sched *s;
        struct lx_err err = {0};
        bool none_usable;
        size_t key;

        if (!p->enabled || !p->health_check.enabled)
            continue;
        s = sched_get(pr, p->name, now);
        interval_ms =
            (uint64_t)(p->health_check.interval_s ? p->health_check.interval_s : 1) * 1000;
        if (s->interval_s != p->health_check.interval_s) { /* new, or changed by a reload */
            s->interval_s = p->health_check.interval_s;
            if (s->next_ms > now + interval_ms)
                s->next_ms = now + interval_ms;
        }
        if (s->in_flight || now < s->next_ms)
            continue;
        s->next_ms = now + interval_ms;
        if (key_probe_supported(p->proto)) {
            key = first_usable_key(pr->gw, cfg, i, now, &none_usable);
        } else { /* SigV4, OAuth: a reachability check without credentials */
            key = NO_KEY;
            none_usable = false;
        }
        if (none_usable)
            continue; /* every key rests: the provider's health cannot be told */
        if (start_check(pr, cfg, i, CHECK_HEALTH, key, &err) == LX_OK) {
            s->in_flight = true;
        } else {
            lx__gw_health_record(pr->gw->health, p->name, p->health_check.failures,
                                 LX_GW_CHECK_FAILED, 0, err.msg, now);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    struct lx_gw_probe *pr = t->data;
    struct lx_config *cfg = lx_config_slot_get(&pr->gw->slot);
    uint64_t now = lx_now_wall_ms();

    probe_keys(pr, cfg, now);
    check_providers(pr, cfg, now);
    lx_config_unref(cfg);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

struct lx_gw_probe *lx__gw_probe_start(struct lx_gateway *gw, uv_loop_t *loop,
                                       struct lx_upstream_ctx *up)
{
    struct lx_gw_probe *pr = lx_xcalloc(1, sizeof(*pr));

    pr->gw = gw;
    pr->up = up;
    pr->live.next = pr->live.prev = &pr->live;
    uv_timer_init(loop, &pr->timer);
    pr->timer.data = pr;
    uv_timer_start(&pr->timer, on_tick, LX_GW_PROBE_TICK_MS, LX_GW_PROBE_TICK_MS);
    uv_unref((uv_handle_t *)&pr->timer); /* never keeps the loop alive by itself */
    return pr;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lx_gw_probe *pr = h->data;

    pr->timer_closed = true;
    maybe_free(pr);
}

void lx__gw_probe_stop(struct lx_gw_probe *pr)
{
    if (pr == NULL || pr->stopping)
        return;
    pr->stopping = true;
    uv_timer_stop(&pr->timer);
    uv_close((uv_handle_t *)&pr->timer, on_timer_closed);
    for (struct check *c = pr->live.next; c != &pr->live; c = c->next)
        if (c->up != NULL)
            lx_upstream_cancel(c->up); /* its on_done runs later and frees it */
}
