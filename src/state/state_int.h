/* state_int.h - shared only inside src/state/: the struct lx_state that memory.c owns and the
 * hooks through which redis.c (when attached) sees local changes and applies remote ones.
 * memory.c never calls redis.c directly, so the in-memory backend builds and runs alone. */
#ifndef LX_STATE_INT_H
#define LX_STATE_INT_H

#include <pthread.h>

#include "state/state.h"

struct lx_state_redis;

/* Local changes redis.c shares: COOLDOWN, DISABLE, ENABLE, BREAKER_OPEN, BREAKER_CLOSE. */
struct lx_state_hooks {
    struct lx_state_redis *redis;
    /* Called after the change, outside every lock, on the thread that made it. */
    void (*publish)(struct lx_state_redis *r, const struct lx_state_event *ev);
    void (*detach)(struct lx_state_redis *r); /* stops the thread and frees r */
};

/* Applies a change that came from another instance (ev->remote is taken as true): cooldowns
 * are extended (never shortened), disables and enables applied, breakers opened (until the
 * later end) or closed. Fires the event callback with remote = true; publishes nothing.
 * Any thread. */
void lx__state_apply(struct lx_state *st, const struct lx_state_event *ev);

/* Hooks are set once by lx_state_redis_attach before traffic, and cleared by lx_state_free. */
struct lx_state_hooks *lx__state_hooks(struct lx_state *st);

/* Calls fn for every active cooldown, disabled key and open breaker (as events), under the
 * tables' locks one table at a time: fn must not call lx_state_* functions. redis.c uses it
 * to push the local state to Redis after a reconnect. */
void lx__state_foreach_shared(struct lx_state *st, uint64_t now_ms,
                              void (*fn)(void *arg, const struct lx_state_event *ev), void *arg);

#endif /* LX_STATE_INT_H */
