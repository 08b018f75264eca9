/* pool.c - key pools: ids and labels, selection by strategy, counts for route-check, and the
 * probe schedule of disabled keys (pool.h). A pool is immutable after lx_pool_new except for
 * its atomics (round-robin counter, probe claims), so every worker thread shares it. The shared
 * records are read through struct lx_pool_state_ops. Never holds a key. */
#include "pool/pool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/err.h"
#include "pool/pool_int.h"

#define FAST_DRAWS 8    /* random draws tried before a full scan */
#define TAIL_MIN_KEY 12 /* shorter keys get no tail in their label: 4 of 8 is too much */

struct lx_pool {
    struct lx_str provider;
    size_t n;
    enum lx_pool_strategy strategy;
    bool google;
    struct lx_str *ids, *labels; /* into names */
    char *names;
    uint64_t *cum; /* cum[i] = weights[0] + ... + weights[i] */
    unsigned *weights;
    uint64_t total;
    atomic_size_t rr;           /* round-robin: where the next scan starts */
    _Atomic uint64_t *probe_ms; /* when each key was last handed out for a probe */
};

static const char *const strategy_names[] = {
    [LX_POOL_RANDOM] = "random",
    [LX_POOL_WEIGHTED] = "weighted",
    [LX_POOL_ROUND_ROBIN] = "round-robin",
};

const char *lx_pool_strategy_name(enum lx_pool_strategy s)
{
    return (unsigned)s < LX_ARRAY_SIZE(strategy_names) ? strategy_names[s] : "unknown";
}

int lx_pool_strategy_parse(struct lx_str name, enum lx_pool_strategy *out)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(strategy_names); i++) {
        if (lx_str_eq(name, lx_str_cstr(strategy_names[i]))) {
            *out = (enum lx_pool_strategy)i;
            return LX_OK;
        }
    }
    if (lx_str_eq(name, LX_STR("round_robin"))) {
        *out = LX_POOL_ROUND_ROBIN;
        return LX_OK;
    }
    return LX_EINVAL;
}

void lx_pool_conf_defaults(struct lx_pool_conf *c)
{
    *c = (struct lx_pool_conf){
        .cooldown_ms = 65000,
        .min_cooldown_ms = 1000,
        .max_cooldown_ms = 24ull * 3600 * 1000,
        .consecutive_429 = 2,
        .long_cooldown_ms = 24ull * 3600 * 1000,
        .max_attempts = 3,
        .backoff_base_ms = 100,
        .backoff_cap_ms = 5000,
        .retry_timeouts = true,
        .budget_ratio_pct = 20,
        .budget_min_per_s = 10,
        .probe_enabled = false,
        .probe_interval_ms = 10 * 60 * 1000,
    };
}

/* ---- construction -------------------------------------------------------------------------- */

struct lx_pool *lx_pool_new(const struct lx_pool_spec *spec)
{
    struct lx_pool *p = lx_xcalloc(1, sizeof(*p));
    size_t plen = spec->provider ? strlen(spec->provider) : 0;
    size_t n = spec->n_keys;
    /* per key: "<provider>#<index>" (<= plen + 21) and the label (+ "(...xxxx)") */
    size_t per_key = 2 * (plen + 22) + 9;
    char *w;

    p->n = n;
    p->strategy = spec->strategy;
    p->google = spec->google;
    p->names = lx_xmalloc(plen + 1 + n * per_key);
    memcpy(p->names, spec->provider ? spec->provider : "", plen);
    p->names[plen] = '\0';
    p->provider = lx_str_make(p->names, plen);
    p->ids = lx_xcalloc(n ? n : 1, sizeof(*p->ids));
    p->labels = lx_xcalloc(n ? n : 1, sizeof(*p->labels));
    p->weights = lx_xcalloc(n ? n : 1, sizeof(*p->weights));
    p->cum = lx_xcalloc(n ? n : 1, sizeof(*p->cum));
    p->probe_ms = lx_xcalloc(n ? n : 1, sizeof(*p->probe_ms));
    atomic_init(&p->rr, 0);

    w = p->names + plen + 1;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(w, plen + 22, "%s#%zu", p->names, i);
        const char *key = spec->keys ? spec->keys[i] : NULL;
        size_t klen = key ? strlen(key) : 0;

        p->ids[i] = lx_str_make(w, (size_t)len);
        w += len + 1;
        if (klen >= TAIL_MIN_KEY) /* only the last 4 bytes are read */
            len = snprintf(w, plen + 31, "%s#%zu(...%.4s)", p->names, i, key + klen - 4);
        else
            len = snprintf(w, plen + 31, "%s#%zu", p->names, i);
        p->labels[i] = lx_str_make(w, (size_t)len);
        w += len + 1;

        p->weights[i] = spec->weights ? spec->weights[i] : 1; /* 0: a spare, see pick */
        p->total += p->weights[i];
        p->cum[i] = p->total;
        atomic_init(&p->probe_ms[i], 0);
    }
    if (p->total == 0) { /* every weight 0: they count as 1 */
        for (size_t i = 0; i < n; i++) {
            p->weights[i] = 1;
            p->cum[i] = i + 1;
        }
        p->total = n;
    }
    return p;
}

void lx_pool_free(struct lx_pool *pool)
{
    if (pool == NULL)
        return;
    free(pool->names);
    free(pool->ids);
    free(pool->labels);
    free(pool->weights);
    free(pool->cum);
    free((void *)pool->probe_ms);
    free(pool);
}

size_t lx_pool_size(const struct lx_pool *pool) { return pool->n; }
bool lx__pool_google(const struct lx_pool *pool) { return pool->google; }
struct lx_str lx_pool_provider(const struct lx_pool *pool) { return pool->provider; }

struct lx_str lx_pool_key_id(const struct lx_pool *pool, size_t index)
{
    return index < pool->n ? pool->ids[index] : LX_STR_NULL;
}

struct lx_str lx_pool_key_label(const struct lx_pool *pool, size_t index)
{
    return index < pool->n ? pool->labels[index] : LX_STR_NULL;
}

/* ---- selection ----------------------------------------------------------------------------- */

static const char *const pick_names[] = {
    [LX_POOL_PICKED] = "picked",
    [LX_POOL_NO_KEYS] = "no_keys",
    [LX_POOL_EXHAUSTED] = "exhausted",
    [LX_POOL_ALL_COOLING] = "all_cooling",
    [LX_POOL_ALL_DISABLED] = "all_disabled",
};

const char *lx_pool_pick_status_name(enum lx_pool_pick_status s)
{
    return (unsigned)s < LX_ARRAY_SIZE(pick_names) ? pick_names[s] : "unknown";
}

/* splitmix64: one caller-given number becomes as many as a pick needs. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool was_tried(size_t i, const size_t *tried, size_t n_tried)
{
    for (size_t k = 0; k < n_tried; k++)
        if (tried[k] == i)
            return true;
    return false;
}

static size_t draw(const struct lx_pool *p, uint64_t r)
{
    uint64_t x;
    size_t lo = 0, hi;

    if (p->strategy != LX_POOL_WEIGHTED)
        return (size_t)(r % p->n);
    x = r % p->total; /* the first i with cum[i] > x */
    hi = p->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static enum lx_pool_key_status status_of(const struct lx_pool *p,
                                         const struct lx_pool_state_ops *ops, size_t i,
                                         struct lx_str model, uint64_t now_ms, uint64_t *until)
{
    *until = 0;
    return ops->key_status(ops->ctx, p->ids[i], model, now_ms, until);
}

/* What a full scan saw of the keys it did not pick. */
struct scan {
    size_t ok_tried, cooling, disabled;
    uint64_t soonest;
};

static void scan_note(struct scan *s, enum lx_pool_key_status st, uint64_t until, bool tried)
{
    switch (st) {
    case LX_POOL_KEY_OK:
        s->ok_tried += tried;
        break;
    case LX_POOL_KEY_COOLING:
        s->cooling++;
        if (s->soonest == 0 || until < s->soonest)
            s->soonest = until;
        break;
    case LX_POOL_KEY_DISABLED:
        s->disabled++;
        break;
    }
}

static void no_key(const struct scan *s, struct lx_pool_pick *out)
{
    if (s->ok_tried > 0) {
        out->status = LX_POOL_EXHAUSTED;
    } else if (s->cooling > 0) {
        out->status = LX_POOL_ALL_COOLING;
        out->retry_at_ms = s->soonest;
    } else {
        out->status = LX_POOL_ALL_DISABLED;
    }
}

/* The first usable key not yet tried, scanning from start round the pool: PICKED with it,
 * or the no-key status of the whole scan. */
static void scan_from(const struct lx_pool *p, const struct lx_pool_state_ops *ops,
                      struct lx_str model, const size_t *tried, size_t n_tried, uint64_t now_ms,
                      size_t start, struct lx_pool_pick *out)
{
    struct scan s = {0};

    for (size_t j = 0; j < p->n; j++) {
        size_t i = (start + j) % p->n;
        uint64_t until;
        enum lx_pool_key_status st = status_of(p, ops, i, model, now_ms, &until);
        bool t = was_tried(i, tried, n_tried);

        if (st == LX_POOL_KEY_OK && !t) {
            out->status = LX_POOL_PICKED;
            out->index = i;
            return;
        }
        scan_note(&s, st, until, t);
    }
    no_key(&s, out);
}

static void pick_round_robin(struct lx_pool *p, const struct lx_pool_state_ops *ops,
                             struct lx_str model, const size_t *tried, size_t n_tried,
                             uint64_t now_ms, struct lx_pool_pick *out)
{
    size_t start = atomic_load_explicit(&p->rr, memory_order_relaxed);

    scan_from(p, ops, model, tried, n_tried, now_ms, start, out);
    if (out->status == LX_POOL_PICKED) {
        size_t expect = start;
        /* the next scan starts after this key, so a cooled key's turn is not inherited by its
         * successor; losing the race to another thread only costs exactness */
        atomic_compare_exchange_strong_explicit(&p->rr, &expect, (out->index + 1) % p->n,
                                                memory_order_relaxed, memory_order_relaxed);
    }
}

int lx_pool_pick(struct lx_pool *pool, const struct lx_pool_state_ops *ops, struct lx_str model,
                 const size_t *tried, size_t n_tried, uint64_t rnd, uint64_t now_ms,
                 struct lx_pool_pick *out)
{
    uint64_t rs = rnd, wsum = 0;
    struct scan s = {0};
    size_t chosen = SIZE_MAX, spare = SIZE_MAX, n_spare = 0;

    if (pool == NULL || ops == NULL || out == NULL)
        return LX_EINVAL;
    *out = (struct lx_pool_pick){.status = LX_POOL_NO_KEYS};
    if (pool->n == 0)
        return LX_OK;
    if (pool->strategy == LX_POOL_ROUND_ROBIN) {
        pick_round_robin(pool, ops, model, tried, n_tried, now_ms, out);
        return LX_OK;
    }

    /* Rejection sampling: draws from the whole pool, kept only when usable, give the
     * strategy's distribution over the usable keys; so does the scan below, so mixing
     * the two keeps it exact. */
    for (int k = 0; k < FAST_DRAWS; k++) {
        size_t i = draw(pool, next_rand(&rs));
        uint64_t until;

        if (!was_tried(i, tried, n_tried) &&
            status_of(pool, ops, i, model, now_ms, &until) == LX_POOL_KEY_OK) {
            out->status = LX_POOL_PICKED;
            out->index = i;
            return LX_OK;
        }
    }

    /* One pass, weighted reservoir sampling: key i replaces the choice with probability
     * w_i / (sum of usable weights so far). A weighted pool's weight-0 keys are spares: one
     * of them (uniformly) only when no key of positive weight is usable. */
    for (size_t i = 0; i < pool->n; i++) {
        uint64_t until;
        enum lx_pool_key_status st = status_of(pool, ops, i, model, now_ms, &until);
        bool t = was_tried(i, tried, n_tried);

        if (st == LX_POOL_KEY_OK && !t) {
            uint64_t w = pool->strategy == LX_POOL_WEIGHTED ? pool->weights[i] : 1;
            if (w == 0) {
                n_spare++;
                if (next_rand(&rs) % n_spare == 0)
                    spare = i;
                continue;
            }
            wsum += w;
            if (next_rand(&rs) % wsum < w)
                chosen = i;
            continue;
        }
        scan_note(&s, st, until, t);
    }
    if (chosen == SIZE_MAX)
        chosen = spare;
    if (chosen != SIZE_MAX) {
        out->status = LX_POOL_PICKED;
        out->index = chosen;
        return LX_OK;
    }
    no_key(&s, out);
    return LX_OK;
}

int lx_pool_peek(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                 struct lx_str model, const size_t *tried, size_t n_tried, uint64_t now_ms,
                 struct lx_pool_pick *out)
{
    if (pool == NULL || ops == NULL || out == NULL)
        return LX_EINVAL;
    *out = (struct lx_pool_pick){.status = LX_POOL_NO_KEYS};
    if (pool->n > 0)
        scan_from(pool, ops, model, tried, n_tried, now_ms, 0, out);
    return LX_OK;
}

void lx_pool_counts(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                    struct lx_str model, uint64_t now_ms, struct lx_pool_counts *out)
{
    *out = (struct lx_pool_counts){0};
    for (size_t i = 0; i < pool->n; i++) {
        uint64_t until;

        switch (status_of(pool, ops, i, model, now_ms, &until)) {
        case LX_POOL_KEY_OK:
            out->usable++;
            break;
        case LX_POOL_KEY_COOLING:
            out->cooling++;
            if (out->soonest_end_ms == 0 || until < out->soonest_end_ms)
                out->soonest_end_ms = until;
            break;
        case LX_POOL_KEY_DISABLED:
            out->disabled++;
            break;
        }
    }
}

/* ---- probes ---------------------------------------------------------------------------------- */

size_t lx_pool_probe_due(struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                         const struct lx_pool_conf *conf, uint64_t now_ms, size_t *due, size_t cap)
{
    size_t n = 0;

    if (!conf->probe_enabled)
        return 0;
    for (size_t i = 0; i < pool->n && n < cap; i++) {
        uint64_t since = 0, last = atomic_load(&pool->probe_ms[i]);

        if (!ops->disabled_get(ops->ctx, pool->ids[i], &since))
            continue;
        if (now_ms < since + conf->probe_interval_ms || now_ms < last + conf->probe_interval_ms)
            continue;
        /* the claim: another thread asking at the same time gets nothing for this key */
        if (atomic_compare_exchange_strong(&pool->probe_ms[i], &last, now_ms))
            due[n++] = i;
    }
    return n;
}

bool lx_pool_probe_result(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                          const struct lx_pool_conf *conf, size_t index, struct lx_str model,
                          const struct lx_upstream_error *e, uint64_t now_ms)
{
    if (index >= pool->n)
        return false;
    if (e != NULL && e->key_action != LX_KEY_COOLDOWN)
        return false; /* still refused (or the upstream is down: that proves nothing) */
    ops->enable(ops->ctx, pool->ids[index], LX_STR("probe"), now_ms);
    if (e != NULL) {
        struct lx_pool_verdict v;
        lx_pool_on_error(pool, ops, conf, index, model, e, now_ms, &v);
    }
    return true;
}
