/* keys.c - the key pools of each configuration snapshot (pool/pool.h) and the process's shared
 * state (state/state.h) they read and write, glued for the relay.
 *
 * Ownership: the pools of a snapshot are built by whoever publishes it (gateway.c, before the
 * snapshot reaches the slot) and freed by a cleanup on the snapshot's arena, so a request
 * holding a reference on an old snapshot keeps its pools. A pool never holds a key: key ids
 * ("openai#2") and labels ("openai#2(...x9Qa)") only. The state is one per process
 * (gateway.c), shared by every worker thread. */
#include "gateway/keys.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/log.h"

struct gw_pools {
    size_t n;
    struct lx_pool **pool; /* by provider index */
};

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
    ps->n = cfg->n_providers;
    ps->pool = lx_xcalloc(ps->n ? ps->n : 1, sizeof(*ps->pool));
    for (size_t i = 0; i < ps->n; i++) {
        const struct lx_config_provider *p = &cfg->providers[i];
        struct lx_pool_spec spec = {
            .provider = p->name,
            .n_keys = p->n_keys,
            .keys = p->keys,
            .weights = NULL,
            .strategy = LX_POOL_RANDOM,
            .google = p->proto == LX_CONFIG_PROTO_GEMINI,
        };

        ps->pool[i] = lx_pool_new(&spec);
    }
    if (lx_arena_on_release(cfg->arena, pools_free, ps) != LX_OK) {
        pools_free(ps);
        return; /* no pools: every provider uses its first key, as before */
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
