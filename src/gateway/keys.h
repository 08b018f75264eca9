/* keys.h - the key pools of each configuration snapshot and the process's shared state
 * (state/) behind them, for the relay (keys.c). */
#ifndef LX_GATEWAY_KEYS_H
#define LX_GATEWAY_KEYS_H

#include "config/config.h"
#include "pool/pool.h"
#include "state/state.h"

/* Builds a pool for every provider of cfg (its keys by index, random selection; Gemini's
 * long cooldowns end at Los Angeles midnight) and attaches them to cfg, freed with it. Call
 * before cfg is shared. Never fails (pools abort on out of memory). */
void lx__gw_pools_attach(struct lx_config *cfg);
/* The pool of provider i of cfg (NULL when none was attached). */
struct lx_pool *lx__gw_pool(const struct lx_config *cfg, size_t provider_index);
/* The pool's view of st. */
void lx__gw_state_ops(struct lx_state *st, struct lx_pool_state_ops *ops);
/* The key lifecycle log: every cooldown, disable and recovery st reports, named by key id. */
void lx__gw_state_event(void *data, const struct lx_state_event *ev);

#endif /* LX_GATEWAY_KEYS_H */
