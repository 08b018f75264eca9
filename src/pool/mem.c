/* mem.c - a small in-memory struct lx_pool_state_ops (pool.h): cooldowns and 429 streaks per
 * (key id, model), disabled keys, and a retry window per provider, in linear tables behind one
 * mutex. For unit tests and a single process before state/ is wired in; it is unbounded, so a
 * long-running gateway should use state/ instead. The struct lx_pool_mem owns every entry;
 * any thread may call its ops. */
#include "pool/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

struct entry {
    char *name; /* key id, "key id\x1fmodel" or provider name */
    size_t len;
    uint64_t t; /* cooldown end, disabled since */
    unsigned n; /* streak */
    bool live;  /* disabled: still disabled */
    struct lx_retry_window w;
};

struct table {
    struct entry *e;
    size_t n, cap;
};

struct lx_pool_mem {
    pthread_mutex_t mu;
    struct lx_pool_conf conf;
    struct table cool, streak, disabled, budget;
};

/* "key\x1fmodel" into buf (cap bytes); the length, or 0 when it does not fit. */
static size_t pair(char *buf, size_t cap, struct lx_str key, struct lx_str model)
{
    if (key.len + model.len + 1 > cap)
        return 0;
    memcpy(buf, key.ptr, key.len);
    buf[key.len] = '\x1f';
    if (model.len)
        memcpy(buf + key.len + 1, model.ptr, model.len);
    return key.len + 1 + model.len;
}

static struct entry *find(struct table *t, const char *name, size_t len, bool create)
{
    struct entry *e;

    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].len == len && memcmp(t->e[i].name, name, len) == 0)
            return &t->e[i];
    if (!create)
        return NULL;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->e = lx_xrealloc(t->e, t->cap * sizeof(*t->e));
    }
    e = &t->e[t->n++];
    *e = (struct entry){.name = lx_xstrndup(name, len), .len = len};
    lx_retry_window_init(&e->w);
    return e;
}

#define PAIR_MAX 512

static enum lx_pool_key_status mem_key_status(void *ctx, struct lx_str key, struct lx_str model,
                                              uint64_t now_ms, uint64_t *until_ms)
{
    struct lx_pool_mem *m = ctx;
    char buf[PAIR_MAX];
    size_t n = pair(buf, sizeof(buf), key, model);
    enum lx_pool_key_status st = LX_POOL_KEY_OK;
    struct entry *e;

    *until_ms = 0;
    pthread_mutex_lock(&m->mu);
    e = find(&m->disabled, key.ptr, key.len, false);
    if (e != NULL && e->live) {
        st = LX_POOL_KEY_DISABLED;
    } else if (n > 0 && (e = find(&m->cool, buf, n, false)) != NULL && e->t > now_ms) {
        st = LX_POOL_KEY_COOLING;
        *until_ms = e->t;
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static void mem_cooldown_set(void *ctx, struct lx_str key, struct lx_str model, uint64_t until_ms,
                             struct lx_str reason, uint64_t now_ms, uint64_t *effective)
{
    struct lx_pool_mem *m = ctx;
    char buf[PAIR_MAX];
    size_t n = pair(buf, sizeof(buf), key, model);
    struct entry *e;

    *effective = 0;
    if (n == 0)
        return;
    pthread_mutex_lock(&m->mu);
    e = find(&m->cool, buf, n, true);
    if (e->t <= now_ms || until_ms > e->t) /* never shortens an active one */
        e->t = until_ms;
    *effective = e->t;
    pthread_mutex_unlock(&m->mu);
}

static unsigned mem_streak_incr(void *ctx, struct lx_str key, struct lx_str model, uint64_t now_ms)
{
    struct lx_pool_mem *m = ctx;
    char buf[PAIR_MAX];
    size_t n = pair(buf, sizeof(buf), key, model);
    unsigned v = 0;

    if (n == 0)
        return 0;
    pthread_mutex_lock(&m->mu);
    v = ++find(&m->streak, buf, n, true)->n;
    pthread_mutex_unlock(&m->mu);
    return v;
}

static void mem_streak_reset(void *ctx, struct lx_str key, struct lx_str model)
{
    struct lx_pool_mem *m = ctx;
    char buf[PAIR_MAX];
    size_t n = pair(buf, sizeof(buf), key, model);
    struct entry *e;

    if (n == 0)
        return;
    pthread_mutex_lock(&m->mu);
    if ((e = find(&m->streak, buf, n, false)) != NULL)
        e->n = 0;
    pthread_mutex_unlock(&m->mu);
}

static void mem_disable(void *ctx, struct lx_str key, struct lx_str reason, uint64_t now_ms)
{
    struct lx_pool_mem *m = ctx;
    struct entry *e;

    pthread_mutex_lock(&m->mu);
    e = find(&m->disabled, key.ptr, key.len, true);
    if (!e->live) { /* already disabled: the first time wins */
        e->live = true;
        e->t = now_ms;
    }
    pthread_mutex_unlock(&m->mu);
}

static void mem_enable(void *ctx, struct lx_str key, struct lx_str why, uint64_t now_ms)
{
    struct lx_pool_mem *m = ctx;
    struct entry *e;

    pthread_mutex_lock(&m->mu);
    if ((e = find(&m->disabled, key.ptr, key.len, false)) != NULL)
        e->live = false;
    pthread_mutex_unlock(&m->mu);
}

static bool mem_disabled_get(void *ctx, struct lx_str key, uint64_t *since_ms)
{
    struct lx_pool_mem *m = ctx;
    struct entry *e;
    bool live = false;

    pthread_mutex_lock(&m->mu);
    if ((e = find(&m->disabled, key.ptr, key.len, false)) != NULL && e->live) {
        live = true;
        *since_ms = e->t;
    }
    pthread_mutex_unlock(&m->mu);
    return live;
}

static void mem_budget_request(void *ctx, struct lx_str provider, uint64_t now_ms)
{
    struct lx_pool_mem *m = ctx;

    pthread_mutex_lock(&m->mu);
    lx_retry_window_request(&find(&m->budget, provider.ptr, provider.len, true)->w, now_ms);
    pthread_mutex_unlock(&m->mu);
}

static bool mem_budget_retry(void *ctx, struct lx_str provider, uint64_t now_ms)
{
    struct lx_pool_mem *m = ctx;
    bool ok;

    pthread_mutex_lock(&m->mu);
    ok = lx_retry_window_retry(&find(&m->budget, provider.ptr, provider.len, true)->w,
                               m->conf.budget_ratio_pct, m->conf.budget_min_per_s, now_ms);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

struct lx_pool_mem *lx_pool_mem_new(const struct lx_pool_conf *conf)
{
    struct lx_pool_mem *m = lx_xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    if (conf)
        m->conf = *conf;
    else
        lx_pool_conf_defaults(&m->conf);
    return m;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].name);
    free(t->e);
}

void lx_pool_mem_free(struct lx_pool_mem *m)
{
    if (m == NULL)
        return;
    table_free(&m->cool);
    table_free(&m->streak);
    table_free(&m->disabled);
    table_free(&m->budget);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void lx_pool_mem_ops(struct lx_pool_mem *m, struct lx_pool_state_ops *ops)
{
    *ops = (struct lx_pool_state_ops){
        .key_status = mem_key_status,
        .cooldown_set = mem_cooldown_set,
        .streak_incr = mem_streak_incr,
        .streak_reset = mem_streak_reset,
        .disable = mem_disable,
        .enable = mem_enable,
        .disabled_get = mem_disabled_get,
        .budget_request = mem_budget_request,
        .budget_retry = mem_budget_retry,
        .ctx = m,
    };
}

unsigned lx_pool_mem_streak(struct lx_pool_mem *m, struct lx_str key, struct lx_str model)
{
    char buf[PAIR_MAX];
    size_t n = pair(buf, sizeof(buf), key, model);
    struct entry *e;
    unsigned v = 0;

    pthread_mutex_lock(&m->mu);
    if (n > 0 && (e = find(&m->streak, buf, n, false)) != NULL)
        v = e->n;
    pthread_mutex_unlock(&m->mu);
    return v;
}
