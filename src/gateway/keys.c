/* keys.c - the key pools of each configuration snapshot (pool/pool.h) and the process's shared
 * state (state/state.h) they read and write, glued for the relay.
 *
 * Ownership: the pools of a snapshot are built by whoever publishes it (gateway.c, before the
 * snapshot reaches the slot) and freed by a cleanup on the snapshot's arena, so a request
 * holding a reference on an old snapshot keeps its pools. A pool never holds a key: key ids
 * ("openai#2") and labels ("openai#2(...x9Qa)") only. Each snapshot also carries its key-pool
 * rules (struct lx_pool_conf, from `key_pool:`), so a SIGHUP reload changes strategies,
 * weights and rules for the requests that start after it. The state is one per process
 * (gateway.c), shared by every worker thread. */
#include "gateway/keys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/gateway_int.h"

struct gw_pools {
    struct lx_pool_conf conf; /* the snapshot's key_pool rules */
    size_t n;
    struct lx_pool **pool; /* by provider index */
};

static struct lx_pool_conf default_conf;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_conf_init(void)
{
    lx_pool_conf_defaults(&default_conf);
}

static enum lx_pool_strategy pool_strategy(enum lx_config_key_strategy s)
{
    switch (s) {
    case LX_CONFIG_KEYS_WEIGHTED: return LX_POOL_WEIGHTED;
    case LX_CONFIG_KEYS_ROUND_ROBIN: return LX_POOL_ROUND_ROBIN;
    case LX_CONFIG_KEYS_RANDOM: break;
    }
    return LX_POOL_RANDOM;
}

void lx__gw_pool_conf_fill(const struct lx_config_key_pool *kp, struct lx_pool_conf *out)
{
    lx_pool_conf_defaults(out); /* min_cooldown_ms is not configurable */
    out->cooldown_ms = (uint64_t)kp->cooldown_s * 1000;
    out->max_cooldown_ms = (uint64_t)kp->max_cooldown_s * 1000;
    out->consecutive_429 = kp->consecutive_429;
    out->long_cooldown_ms = (uint64_t)kp->long_cooldown_s * 1000;
    out->max_attempts = kp->max_attempts;
    out->backoff_base_ms = kp->backoff_base_ms;
    out->backoff_cap_ms = kp->backoff_cap_ms;
    out->retry_timeouts = kp->retry_timeouts;
    out->budget_ratio_pct = kp->budget_percent;
    out->budget_min_per_s = kp->budget_min_per_s;
    out->probe_enabled = kp->probe_enabled;
    out->probe_interval_ms = (uint64_t)kp->probe_interval_s * 1000;
}

const struct lx_pool_conf *lx__gw_pool_conf(const struct lx_config *cfg)
{
    const struct gw_pools *ps = cfg != NULL ? cfg->attached : NULL;

    if (ps != NULL)
        return &ps->conf;
    pthread_once(&default_once, default_conf_init);
    return &default_conf;
}

void lx__gw_state_conf_budget(const struct lx_config *cfg, struct lx_state_conf *sc)
{
    sc->retry_ratio_pct = cfg->key_pool.budget_percent;
    sc->retry_min_per_s = cfg->key_pool.budget_min_per_s;
}

static void pools_free(void *arg)
{
    struct gw_pools *ps = arg;

    for (size_t i = 0; i < ps->n; i++)
        lx_pool_free(ps->pool[i]);
    free(ps->pool);
    free(ps);
}

void lx__gw_pools_attach(struct lx_config *cfg)
{
    struct gw_pools *ps;

    if (cfg->attached != NULL)
        return;
    ps = lx_xcalloc(1, sizeof(*ps));
    lx__gw_pool_conf_fill(&cfg->key_pool, &ps->conf);
    ps->n = cfg->n_providers;
    ps->pool = lx_xcalloc(ps->n ? ps->n : 1, sizeof(*ps->pool));
    for (size_t i = 0; i < ps->n; i++) {
        const struct lx_config_provider *p = &cfg->providers[i];
        struct lx_pool_spec spec = {
            .provider = p->name,
            .n_keys = p->n_keys,
            .keys = p->keys,
            .weights = p->key_weights, /* NULL: all 1; aligned with keys (config.h) */
            .strategy = pool_strategy(p->key_strategy),
            .google = p->proto == LX_CONFIG_PROTO_GEMINI,
        };

        ps->pool[i] = lx_pool_new(&spec);
    }
    if (lx_arena_on_release(cfg->arena, pools_free, ps) != LX_OK) {
        pools_free(ps);
        return; /* no pools: every provider uses its first key, and the default rules */
    }
    cfg->attached = ps;
}

struct lx_pool *lx__gw_pool(const struct lx_config *cfg, size_t provider_index)
{
    const struct gw_pools *ps = cfg->attached;

    return ps != NULL && provider_index < ps->n ? ps->pool[provider_index] : NULL;
}

/* ---- the pool's view of the state ------------------------------------------------------------ */

static enum lx_pool_key_status key_status(void *ctx, struct lx_str key, struct lx_str model,
                                          uint64_t now_ms, uint64_t *until_ms)
{
    switch (lx_state_key_status(ctx, key, model, now_ms, until_ms)) {
    case LX_STATE_KEY_COOLING: return LX_POOL_KEY_COOLING;
    case LX_STATE_KEY_DISABLED: return LX_POOL_KEY_DISABLED;
    case LX_STATE_KEY_OK: break;
    }
    return LX_POOL_KEY_OK;
}

static void cooldown_set(void *ctx, struct lx_str key, struct lx_str model, uint64_t until_ms,
                         struct lx_str reason, uint64_t now_ms, uint64_t *effective)
{
    lx_state_cooldown_set(ctx, key, model, until_ms, reason, now_ms, effective);
}

static unsigned streak_incr(void *ctx, struct lx_str key, struct lx_str model, uint64_t now_ms)
{
    return lx_state_streak_incr(ctx, key, model, now_ms);
}

static void streak_reset(void *ctx, struct lx_str key, struct lx_str model)
{
    lx_state_streak_reset(ctx, key, model);
}

static void disable(void *ctx, struct lx_str key, struct lx_str reason, uint64_t now_ms)
{
    lx_state_disable(ctx, key, reason, now_ms);
}

static void enable(void *ctx, struct lx_str key, struct lx_str why, uint64_t now_ms)
{
    lx_state_enable(ctx, key, why, now_ms);
}

static bool disabled_get(void *ctx, struct lx_str key, uint64_t *since_ms)
{
    struct lx_state_disabled d;

    if (!lx_state_disabled_get(ctx, key, &d))
        return false;
    if (since_ms)
        *since_ms = d.since_ms;
    return true;
}

static void budget_request(void *ctx, struct lx_str provider, uint64_t now_ms)
{
    lx_state_budget_request(ctx, provider, now_ms);
}

static bool budget_retry(void *ctx, struct lx_str provider, uint64_t now_ms)
{
    return lx_state_budget_retry(ctx, provider, now_ms);
}

void lx__gw_state_ops(struct lx_state *st, struct lx_pool_state_ops *ops)
{
    *ops = (struct lx_pool_state_ops){key_status, cooldown_set, streak_incr, streak_reset,
                                      disable,    enable,       disabled_get, budget_request,
                                      budget_retry, st};
}

/* Local cooldowns and disables are logged by the relay with the key's label (lx_pool_log_verdict);
 * this logs what the relay does not see: recoveries, breakers, and changes made by another
 * instance (Redis). Key ids only: never a key. */
void lx__gw_state_event(void *data, const struct lx_state_event *ev)
{
    struct lx_logline l;

    (void)data;
    if (!ev->remote && (ev->type == LX_STATE_EV_COOLDOWN || ev->type == LX_STATE_EV_DISABLE))
        return;
    if (!lx_log_begin(&l, LX_LOG_INFO, ev->type >= LX_STATE_EV_BREAKER_OPEN ? "breaker" : "key"))
        return;
    lx_log_cstr(&l, "event", lx_state_event_name(ev->type));
    lx_log_str(&l, ev->type >= LX_STATE_EV_BREAKER_OPEN ? "target" : "key", ev->key);
    if (ev->model.len)
        lx_log_str(&l, "model", ev->model);
    if (ev->reason.len)
        lx_log_str(&l, "reason", ev->reason);
    if (ev->until_ms)
        lx_log_uint(&l, "until_ms", ev->until_ms);
    if (ev->remote)
        lx_log_bool(&l, "remote", true);
    lx_log_end(&l);
}

/* ---- the router's live signals -------------------------------------------------------------- */

static struct lx_str signal_target(struct lx__gw_signal_ctx *sc, const struct lx_route_candidate *c)
{
    int n = snprintf(sc->name, sizeof(sc->name), "%s/%.*s", c->provider->name, (int)c->model.len,
                     c->model.ptr);

    return lx_str_make(sc->name, n > 0 && (size_t)n < sizeof(sc->name) ? (size_t)n : 0);
}

static int64_t sig_latency(void *ctx, const struct lx_route_candidate *c)
{
    struct lx__gw_signal_ctx *sc = ctx;
    double ema = 0;
    uint64_t n = 0;

    if (!lx_state_latency_get(sc->gw->state, signal_target(sc, c), &ema, &n) || n == 0)
        return -1;
    return (int64_t)(ema * 1000.0);
}

static int64_t sig_in_flight(void *ctx, const struct lx_route_candidate *c)
{
    struct lx__gw_signal_ctx *sc = ctx;

    return lx_state_inflight_get(sc->gw->state, signal_target(sc, c));
}

static enum lx_route_breaker sig_breaker(void *ctx, const struct lx_route_candidate *c)
{
    struct lx__gw_signal_ctx *sc = ctx;
    struct lx_state_breaker b;
    uint64_t now = lx_now_wall_ms();

    lx_state_breaker_get(sc->gw->state, signal_target(sc, c), now, &b);
    switch (b.state) {
    case LX_BREAKER_OPEN:
        return now >= b.until_ms ? LX_ROUTE_BREAKER_HALF_OPEN : LX_ROUTE_BREAKER_OPEN;
    case LX_BREAKER_HALF_OPEN:
        return b.probe_in_flight ? LX_ROUTE_BREAKER_OPEN : LX_ROUTE_BREAKER_HALF_OPEN;
    case LX_BREAKER_CLOSED: break;
    }
    return LX_ROUTE_BREAKER_CLOSED;
}

static bool sig_keys(void *ctx, const struct lx_route_candidate *c, struct lx_route_keys *out)
{
    struct lx__gw_signal_ctx *sc = ctx;
    struct lx_pool *pool = lx__gw_pool(sc->cfg, c->provider_index);
    struct lx_pool_counts pc;

    if (sc->byok || pool == NULL || lx_pool_size(pool) == 0)
        return false;
    lx_pool_counts(pool, &sc->gw->pool_ops, c->model, lx_now_wall_ms(), &pc);
    *out = (struct lx_route_keys){(unsigned)pc.usable, (unsigned)pc.cooling,
                                  (unsigned)pc.disabled, pc.soonest_end_ms};
    return true;
}

static bool sig_healthy(void *ctx, const struct lx_route_candidate *c)
{
    struct lx__gw_signal_ctx *sc = ctx;

    return !c->provider->health_check.enabled || lx__gw_provider_healthy(sc->gw, c->provider->name);
}

void lx__gw_route_signals(const struct lx_gateway *gw, const struct lx_config *cfg, bool byok,
                          struct lx__gw_signal_ctx *ctx, struct lx_route_signals *out)
{
    ctx->gw = gw;
    ctx->cfg = cfg;
    ctx->byok = byok;
    *out = (struct lx_route_signals){ctx,         sig_latency, sig_in_flight, sig_breaker,
                                     sig_keys,    sig_healthy};
}
