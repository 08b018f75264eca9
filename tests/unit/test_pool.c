/* test_pool.c - key pools (src/pool/): ids and labels, selection by strategy over the
 * in-memory state with a fake clock, the no-key answers, counts, and probes of disabled keys. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "providers/ir.h"
#include "tests/unit/test.h"

#define T0 1781524800000ull /* 2026-06-15T12:00:00Z */
#define MODEL LX_STR("gpt-4o")

static struct lx_upstream_error upstream_err(int status, int64_t retry_after_ms)
{
    struct lx_upstream_error e;

    lx_upstream_error_init(&e);
    e.status = status;
    lx_upstream_error_defaults(&e);
    e.retry_after_ms = retry_after_ms;
    return e;
}

static struct lx_pool *pool_of(size_t n, enum lx_pool_strategy s, const unsigned *weights)
{
    struct lx_pool_spec spec = {
        .provider = "openai", .n_keys = n, .weights = weights, .strategy = s};
    return lx_pool_new(&spec);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s;
}

LX_TEST(pool_ids_and_labels)
{
    const char *keys[] = {"sk-proj-0123456789abcdefx9Qa", "short", NULL};
    struct lx_pool_spec spec = {.provider = "openai", .n_keys = 3, .keys = keys};
    struct lx_pool *p = lx_pool_new(&spec);

    LX_ASSERT_EQ(3, lx_pool_size(p));
    LX_ASSERT_STR(lx_pool_provider(p), "openai");
    LX_ASSERT_STR(lx_pool_key_id(p, 0), "openai#0");
    LX_ASSERT_STR(lx_pool_key_id(p, 2), "openai#2");
    LX_ASSERT_STR(lx_pool_key_label(p, 0), "openai#0(...x9Qa)");
    LX_ASSERT_STR(lx_pool_key_label(p, 1), "openai#1"); /* short keys show nothing */
    LX_ASSERT_STR(lx_pool_key_label(p, 2), "openai#2");
    LX_ASSERT(lx_pool_key_id(p, 3).ptr == NULL);
    lx_pool_free(p);
    lx_pool_free(NULL);
    return 0;
}

LX_TEST(pool_strategy_names)
{
    enum lx_pool_strategy s;

    LX_ASSERT_EQ(LX_OK, lx_pool_strategy_parse(LX_STR("weighted"), &s));
    LX_ASSERT_EQ(LX_POOL_WEIGHTED, s);
    LX_ASSERT_EQ(LX_OK, lx_pool_strategy_parse(LX_STR("round-robin"), &s));
    LX_ASSERT_EQ(LX_POOL_ROUND_ROBIN, s);
    LX_ASSERT_EQ(LX_OK, lx_pool_strategy_parse(LX_STR("random"), &s));
    LX_ASSERT_EQ(LX_POOL_RANDOM, s);
    LX_ASSERT_EQ(LX_EINVAL, lx_pool_strategy_parse(LX_STR("fastest"), &s));
    LX_ASSERT_STREQ("round-robin", lx_pool_strategy_name(LX_POOL_ROUND_ROBIN));
    return 0;
}

/* Random picks skip a cooling key (for that model only) and a disabled key. */
LX_TEST(pool_random_skips_cooling_and_disabled)
{
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(4, LX_POOL_RANDOM, NULL);
    struct lx_upstream_error e429 = upstream_err(429, 30000), e401 = upstream_err(401, -1);
    struct lx_pool_verdict v;
    unsigned seen[4] = {0}, other_model[4] = {0};
    uint64_t rs = 1;

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    lx_pool_on_error(p, &ops, &conf, 1, MODEL, &e429, T0, &v);
    LX_ASSERT_EQ(LX_POOL_ACT_COOLDOWN, v.action);
    lx_pool_on_error(p, &ops, &conf, 3, MODEL, &e401, T0, &v);
    LX_ASSERT_EQ(LX_POOL_ACT_DISABLE, v.action);
    for (int i = 0; i < 4000; i++) {
        struct lx_pool_pick pk;

        LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&rs), T0 + 1000, &pk));
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
        seen[pk.index]++;
        LX_ASSERT_EQ(
            LX_OK, lx_pool_pick(p, &ops, LX_STR("gpt-4o-mini"), NULL, 0, lcg(&rs), T0 + 1000, &pk));
        other_model[pk.index]++;
    }
    LX_ASSERT_EQ(0, seen[1]);
    LX_ASSERT_EQ(0, seen[3]);
    LX_ASSERT(seen[0] > 1800 && seen[2] > 1800);
    LX_ASSERT(other_model[1] > 1100); /* the cooldown is per model */
    LX_ASSERT_EQ(0, other_model[3]);  /* disabling is per key */
    /* after the Retry-After, key 1 serves again */
    for (int i = 0; i < 400; i++) {
        struct lx_pool_pick pk;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&rs), T0 + 30000, &pk);
        seen[pk.index]++;
    }
    LX_ASSERT(seen[1] > 80);
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* The request's own tried keys are left out; tried + nothing else usable = EXHAUSTED. */
LX_TEST(pool_pick_leaves_out_tried)
{
    struct lx_pool_mem *m = lx_pool_mem_new(NULL);
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(3, LX_POOL_RANDOM, NULL);
    struct lx_pool_pick pk;
    size_t tried[2] = {0, 2};
    uint64_t rs = 7;

    lx_pool_mem_ops(m, &ops);
    for (int i = 0; i < 200; i++) {
        LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, tried, 2, lcg(&rs), T0, &pk));
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
        LX_ASSERT_EQ(1, pk.index);
    }
    tried[0] = 1;
    tried[1] = 0;
    {
        size_t all[3] = {0, 1, 2};
        LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, all, 3, 5, T0, &pk));
        LX_ASSERT_EQ(LX_POOL_EXHAUSTED, pk.status);
    }
    LX_ASSERT_EQ(LX_EINVAL, lx_pool_pick(p, NULL, MODEL, NULL, 0, 1, T0, &pk));
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* No key left: the soonest cooldown end (429 + Retry-After), or all disabled (503). */
LX_TEST(pool_no_key_answers)
{
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(3, LX_POOL_WEIGHTED, NULL);
    struct lx_pool *none = pool_of(0, LX_POOL_RANDOM, NULL);
    struct lx_upstream_error e;
    struct lx_pool_verdict v;
    struct lx_pool_pick pk;
    struct lx_pool_counts c;

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);

    LX_ASSERT_EQ(LX_OK, lx_pool_pick(none, &ops, MODEL, NULL, 0, 1, T0, &pk));
    LX_ASSERT_EQ(LX_POOL_NO_KEYS, pk.status);

    e = upstream_err(429, 40000);
    lx_pool_on_error(p, &ops, &conf, 0, MODEL, &e, T0, &v);
    e = upstream_err(429, 12000);
    lx_pool_on_error(p, &ops, &conf, 1, MODEL, &e, T0 + 500, &v);
    e = upstream_err(403, -1);
    lx_pool_on_error(p, &ops, &conf, 2, MODEL, &e, T0, &v);
    LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, NULL, 0, 99, T0 + 1000, &pk));
    LX_ASSERT_EQ(LX_POOL_ALL_COOLING, pk.status);
    LX_ASSERT_EQ(T0 + 12500, pk.retry_at_ms);
    lx_pool_counts(p, &ops, MODEL, T0 + 1000, &c);
    LX_ASSERT_EQ(0, c.usable);
    LX_ASSERT_EQ(2, c.cooling);
    LX_ASSERT_EQ(1, c.disabled);
    LX_ASSERT_EQ(T0 + 12500, c.soonest_end_ms);
    LX_ASSERT_EQ(12, lx_pool_retry_after_s(pk.retry_at_ms, T0 + 1000)); /* 11.5 s rounds up */
    LX_ASSERT_EQ(1, lx_pool_retry_after_s(pk.retry_at_ms, T0 + 12500));
    LX_ASSERT_EQ(1, lx_pool_retry_after_s(pk.retry_at_ms, T0 + 99000));

    /* at the soonest end, key 1 is back */
    LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, NULL, 0, 99, T0 + 12500, &pk));
    LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
    LX_ASSERT_EQ(1, pk.index);

    e = upstream_err(401, -1);
    lx_pool_on_error(p, &ops, &conf, 0, MODEL, &e, T0, &v);
    lx_pool_on_error(p, &ops, &conf, 1, MODEL, &e, T0, &v);
    LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, NULL, 0, 99, T0 + 1000, &pk));
    LX_ASSERT_EQ(LX_POOL_ALL_DISABLED, pk.status);
    LX_ASSERT_STREQ("all_disabled", lx_pool_pick_status_name(pk.status));
    lx_pool_free(p);
    lx_pool_free(none);
    lx_pool_mem_free(m);
    return 0;
}

/* Weighted shares within +-2 % over 100,000 picks with a fixed seed, also when one key is
 * cooling (the rest keep their relative weights). */
LX_TEST(pool_weighted_shares)
{
    static const unsigned w[4] = {1, 3, 6, 10};
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(4, LX_POOL_WEIGHTED, w);
    struct lx_upstream_error e = upstream_err(429, 60000);
    struct lx_pool_verdict v;
    unsigned long n[4] = {0};
    uint64_t rs = 12345;
    const int picks = 100000;

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    for (int i = 0; i < picks; i++) {
        struct lx_pool_pick pk;
        LX_ASSERT_EQ(LX_OK, lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&rs), T0, &pk));
        n[pk.index]++;
    }
    for (int k = 0; k < 4; k++) {
        double share = (double)n[k] / picks, want = w[k] / 20.0;
        if (share < want - 0.02 || share > want + 0.02)
            LX_FAIL("key %d share %.4f, want %.4f", k, share, want);
    }

    /* key 3 (half the weight) cools: 1:3:6 among the rest */
    lx_pool_on_error(p, &ops, &conf, 3, MODEL, &e, T0, &v);
    memset(n, 0, sizeof(n));
    for (int i = 0; i < picks; i++) {
        struct lx_pool_pick pk;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&rs), T0 + 1, &pk);
        n[pk.index]++;
    }
    LX_ASSERT_EQ(0, n[3]);
    for (int k = 0; k < 3; k++) {
        double share = (double)n[k] / picks, want = w[k] / 10.0;
        if (share < want - 0.02 || share > want + 0.02)
            LX_FAIL("cooled: key %d share %.4f, want %.4f", k, share, want);
    }
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* Many keys, most cooling: the draws fail, the full scan still picks uniformly. */
LX_TEST(pool_random_scan_uniform)
{
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(200, LX_POOL_RANDOM, NULL);
    struct lx_upstream_error e = upstream_err(429, -1);
    struct lx_pool_verdict v;
    unsigned long n[200] = {0};
    uint64_t rs = 99;

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    for (size_t k = 0; k < 200; k++)
        if (k % 50 != 0) /* 4 usable keys of 200 */
            lx_pool_on_error(p, &ops, &conf, k, MODEL, &e, T0, &v);
    for (int i = 0; i < 40000; i++) {
        struct lx_pool_pick pk;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&rs), T0 + 1, &pk);
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
        n[pk.index]++;
    }
    for (size_t k = 0; k < 200; k += 50)
        if (n[k] < 9200 || n[k] > 10800)
            LX_FAIL("key %zu picked %lu of 40000", k, n[k]);
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* Round-robin: each usable key in turn; a cooling key's turn is not inherited by its
 * successor (no double share). */
LX_TEST(pool_round_robin_fair)
{
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(4, LX_POOL_ROUND_ROBIN, NULL);
    struct lx_upstream_error e = upstream_err(429, 10000);
    struct lx_pool_verdict v;
    unsigned n[4] = {0};
    size_t order[8];

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    for (int i = 0; i < 8; i++) {
        struct lx_pool_pick pk;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, 0, T0, &pk);
        order[i] = pk.index;
    }
    for (int i = 0; i < 8; i++)
        LX_ASSERT_EQ(i % 4, order[i]);

    lx_pool_on_error(p, &ops, &conf, 1, MODEL, &e, T0, &v);
    for (int i = 0; i < 300; i++) {
        struct lx_pool_pick pk;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, 0, T0 + 1, &pk);
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
        n[pk.index]++;
    }
    LX_ASSERT_EQ(0, n[1]);
    LX_ASSERT_EQ(100, n[0]);
    LX_ASSERT_EQ(100, n[2]);
    LX_ASSERT_EQ(100, n[3]);

    /* the tried key is skipped too, and the next pick goes on after the one taken */
    {
        struct lx_pool_pick pk;
        size_t tried = 0;
        lx_pool_pick(p, &ops, MODEL, NULL, 0, 0, T0 + 1, &pk); /* whoever is next */
        lx_pool_pick(p, &ops, MODEL, &tried, 1, 0, T0 + 1, &pk);
        LX_ASSERT(pk.index == 2 || pk.index == 3);
    }
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* Weighted pools: a weight-0 key is a spare, picked only when no key of positive weight is
 * usable; peeking says the same as picking without moving a round-robin pool's turn. */
LX_TEST(pool_spare_keys_and_peek)
{
    static const unsigned w[3] = {2, 0, 1};
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(3, LX_POOL_WEIGHTED, w);
    struct lx_pool_spec rspec = {.provider = "other", .n_keys = 3,
                                 .strategy = LX_POOL_ROUND_ROBIN};
    struct lx_pool *rr = lx_pool_new(&rspec);
    struct lx_upstream_error e401 = upstream_err(401, -1);
    struct lx_pool_verdict v;
    struct lx_pool_pick pk;
    uint64_t seed = 7;
    unsigned n[3] = {0};

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    for (int i = 0; i < 3000; i++) {
        lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&seed), T0, &pk);
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
        n[pk.index]++;
    }
    LX_ASSERT_EQ(0, n[1]); /* never while 0 and 2 serve */
    LX_ASSERT(n[0] > 1800 && n[0] < 2200);
    lx_pool_on_error(p, &ops, &conf, 0, MODEL, &e401, T0, &v);
    lx_pool_on_error(p, &ops, &conf, 2, MODEL, &e401, T0, &v);
    lx_pool_pick(p, &ops, MODEL, NULL, 0, lcg(&seed), T0, &pk);
    LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
    LX_ASSERT_EQ(1, pk.index); /* the spare, now the only usable key */
    {
        size_t used = pk.index;
        lx_pool_peek(p, &ops, MODEL, &used, 1, T0, &pk);
        LX_ASSERT_EQ(LX_POOL_EXHAUSTED, pk.status); /* the spare was used, the rest disabled */
    }

    /* peeking does not take a round-robin turn */
    lx_pool_pick(rr, &ops, LX_STR("other"), NULL, 0, 0, T0, &pk);
    LX_ASSERT_EQ(0, pk.index);
    for (int i = 0; i < 5; i++) {
        lx_pool_peek(rr, &ops, LX_STR("other"), NULL, 0, T0, &pk);
        LX_ASSERT_EQ(LX_POOL_PICKED, pk.status);
    }
    lx_pool_pick(rr, &ops, LX_STR("other"), NULL, 0, 0, T0, &pk);
    LX_ASSERT_EQ(1, pk.index);
    lx_pool_free(p);
    lx_pool_free(rr);
    lx_pool_mem_free(m);
    return 0;
}

/* Probes: off by default; on, a disabled key is due after the interval, once per interval
 * (claimed), and a 2xx or 429 answer enables it again; a 401 leaves it disabled. */
LX_TEST(pool_probe_schedule)
{
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p = pool_of(3, LX_POOL_RANDOM, NULL);
    struct lx_upstream_error e401 = upstream_err(401, -1), e429 = upstream_err(429, 5000);
    struct lx_upstream_error e500 = upstream_err(500, -1);
    struct lx_pool_verdict v;
    struct lx_pool_pick pk;
    size_t due[4];
    uint64_t since;

    lx_pool_conf_defaults(&conf);
    m = lx_pool_mem_new(&conf);
    lx_pool_mem_ops(m, &ops);
    lx_pool_on_error(p, &ops, &conf, 0, MODEL, &e401, T0, &v);
    lx_pool_on_error(p, &ops, &conf, 2, MODEL, &e401, T0 + 1000, &v);
    LX_ASSERT_EQ(0, lx_pool_probe_due(p, &ops, &conf, T0 + 3600000, due, 4)); /* off */

    conf.probe_enabled = true;
    conf.probe_interval_ms = 60000;
    LX_ASSERT_EQ(0, lx_pool_probe_due(p, &ops, &conf, T0 + 59999, due, 4));
    LX_ASSERT_EQ(1, lx_pool_probe_due(p, &ops, &conf, T0 + 60000, due, 4));
    LX_ASSERT_EQ(0, due[0]);
    LX_ASSERT_EQ(0, lx_pool_probe_due(p, &ops, &conf, T0 + 60500, due, 4)); /* 0 claimed */
    LX_ASSERT_EQ(1, lx_pool_probe_due(p, &ops, &conf, T0 + 61000, due, 4));
    LX_ASSERT_EQ(2, due[0]);

    /* key 0: still refused, then the upstream fails (proves nothing) */
    LX_ASSERT(!lx_pool_probe_result(p, &ops, &conf, 0, MODEL, &e401, T0 + 60100));
    LX_ASSERT(!lx_pool_probe_result(p, &ops, &conf, 0, MODEL, &e500, T0 + 60100));
    LX_ASSERT(ops.disabled_get(ops.ctx, lx_pool_key_id(p, 0), &since));
    LX_ASSERT_EQ(0, lx_pool_probe_due(p, &ops, &conf, T0 + 119999, due, 4));
    LX_ASSERT_EQ(1, lx_pool_probe_due(p, &ops, &conf, T0 + 120000, due, 4));
    LX_ASSERT(lx_pool_probe_result(p, &ops, &conf, 0, MODEL, NULL, T0 + 120100));
    LX_ASSERT(!ops.disabled_get(ops.ctx, lx_pool_key_id(p, 0), &since));

    /* key 2 answers 429: valid, back, but cooling for the model */
    LX_ASSERT(lx_pool_probe_result(p, &ops, &conf, 2, MODEL, &e429, T0 + 61100));
    LX_ASSERT(!ops.disabled_get(ops.ctx, lx_pool_key_id(p, 2), &since));
    for (int i = 0; i < 50; i++) {
        lx_pool_pick(p, &ops, MODEL, NULL, 0, (uint64_t)i * 7919, T0 + 62000, &pk);
        LX_ASSERT(pk.index != 2);
    }
    lx_pool_free(p);
    lx_pool_mem_free(m);
    return 0;
}

/* Worker threads share one pool and one state: picks, 429s, successes and disables at once.
 * Every pick is a valid key; nothing is lost or double-freed (run under ASan / TSan). */
struct hammer {
    struct lx_pool *p;
    const struct lx_pool_state_ops *ops;
    const struct lx_pool_conf *conf;
    uint64_t seed;
    int bad;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    struct lx_upstream_error e429 = upstream_err(429, 2000), e401 = upstream_err(401, -1);
    uint64_t rs = h->seed;

    for (int i = 0; i < 20000; i++) {
        struct lx_pool_pick pk;
        struct lx_pool_verdict v;
        uint64_t now = T0 + (uint64_t)i;
        uint64_t r = lcg(&rs);

        lx_pool_pick(h->p, h->ops, MODEL, NULL, 0, r, now, &pk);
        if (pk.status != LX_POOL_PICKED) {
            if (pk.status == LX_POOL_ALL_COOLING && pk.retry_at_ms <= now)
                h->bad++;
            continue;
        }
        if (pk.index >= lx_pool_size(h->p))
            h->bad++;
        else if (r % 7 == 0)
            lx_pool_on_error(h->p, h->ops, h->conf, pk.index, MODEL, &e429, now, &v);
        else if (r % 5001 == 0 && pk.index != 0)
            lx_pool_on_error(h->p, h->ops, h->conf, pk.index, MODEL, &e401, now, &v);
        else
            lx_pool_on_success(h->p, h->ops, pk.index, MODEL, now);
    }
    return NULL;
}

LX_TEST(pool_threads_share_a_pool)
{
    enum { THREADS = 4 };
    static const enum lx_pool_strategy strategies[] = {LX_POOL_RANDOM, LX_POOL_WEIGHTED,
                                                       LX_POOL_ROUND_ROBIN};
    static const unsigned w[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    for (size_t s = 0; s < LX_ARRAY_SIZE(strategies); s++) {
        struct lx_pool_conf conf;
        struct lx_pool_mem *m;
        struct lx_pool_state_ops ops;
        struct lx_pool *p = pool_of(8, strategies[s], w);
        struct hammer h[THREADS];
        pthread_t th[THREADS];

        lx_pool_conf_defaults(&conf);
        m = lx_pool_mem_new(&conf);
        lx_pool_mem_ops(m, &ops);
        for (int t = 0; t < THREADS; t++) {
            h[t] = (struct hammer){.p = p, .ops = &ops, .conf = &conf, .seed = (uint64_t)t + 1};
            LX_ASSERT_EQ(0, pthread_create(&th[t], NULL, hammer_run, &h[t]));
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            LX_ASSERT_EQ(0, h[t].bad);
        }
        lx_pool_free(p);
        lx_pool_mem_free(m);
    }
    return 0;
}
