/* keys.h - the key pools of each configuration snapshot and the process's shared state
 * (state/) behind them, for the relay (keys.c). */
#ifndef LX_GATEWAY_KEYS_H
#define LX_GATEWAY_KEYS_H

#include "config/config.h"
#include "router/strategy.h"
#include "pool/pool.h"
#include "state/state.h"

/* Builds a pool for every provider of cfg (its keys by index, with the provider's
 * key_strategy and key weights; Gemini's long cooldowns end at Los Angeles midnight) and the
 * snapshot's key-pool rules (cfg->key_pool), and attaches them to cfg, freed with it. Call
 * before cfg is shared (a no-op when already attached). Never fails (pools abort on out of
 * memory; if the arena cannot take the cleanup, nothing is attached). */
void lx__gw_pools_attach(struct lx_config *cfg);
/* The key-pool and retry rules of snapshot cfg (its `key_pool:`), valid while cfg is held;
 * any thread. Never NULL: lx_pool_conf_defaults' values when cfg is NULL or has no pools
 * attached. */
const struct lx_pool_conf *lx__gw_pool_conf(const struct lx_config *cfg);
/* `key_pool:` as pool rules: every field from kp, what is not configurable
 * (min_cooldown_ms) from lx_pool_conf_defaults. Pure. */
void lx__gw_pool_conf_fill(const struct lx_config_key_pool *kp, struct lx_pool_conf *out);
/* The retry budget lives in the process's state (made once, at start): copies cfg's
 * retry_budget into sc before lx_state_new. A reload does not change it (state/ has no
 * setter yet). */
void lx__gw_state_conf_budget(const struct lx_config *cfg, struct lx_state_conf *sc);
/* The pool of provider i of cfg (NULL when none was attached). */
struct lx_pool *lx__gw_pool(const struct lx_config *cfg, size_t provider_index);
/* The pool's view of st. */
void lx__gw_state_ops(struct lx_state *st, struct lx_pool_state_ops *ops);
/* The key lifecycle log: every cooldown, disable and recovery st reports, named by key id. */
void lx__gw_state_event(void *data, const struct lx_state_event *ev);

struct lx_gateway;

/* The router's live signals (router/strategy.h) read from the gateway's state: the moving
 * average of time to the answer's head per target, requests in flight, the breaker (a
 * half-open breaker whose probe is out reads as open), and the key pool's counts (unknown
 * when the client brings its own key). ctx is scratch owned by the caller. */
struct lx__gw_signal_ctx {
    const struct lx_gateway *gw;
    const struct lx_config *cfg;
    bool byok;
    char name[LX_STATE_NAME_MAX + 1];
};
void lx__gw_route_signals(const struct lx_gateway *gw, const struct lx_config *cfg, bool byok,
                          struct lx__gw_signal_ctx *ctx, struct lx_route_signals *out);

#endif /* LX_GATEWAY_KEYS_H */
