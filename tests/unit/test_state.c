/* test_state.c - the in-memory state tables (src/state/memory.c), every rule driven by a fake
 * clock, plus threads hammering the same entries (run it under ASan: make SAN=1). */
#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "state/state.h"
#include "state/state_int.h"
#include "tests/unit/test.h"

#define K1 LX_STR("openai#0")
#define K2 LX_STR("openai#1")
#define M1 LX_STR("gpt-4o")
#define M2 LX_STR("gpt-4o-mini")
#define T1 LX_STR("openai/gpt-4o")

struct evlog {
    int n;
    enum lx_state_event_type type[32];
    uint64_t until[32];
    char key[32][64];
    bool remote[32];
};

static void on_ev(void *data, const struct lx_state_event *ev)
{
    struct evlog *l = data;

    if (l->n >= 32)
        return;
    l->type[l->n] = ev->type;
    l->until[l->n] = ev->until_ms;
    l->remote[l->n] = ev->remote;
    snprintf(l->key[l->n], sizeof(l->key[0]), "%.*s", LX_STR_FMT(ev->key));
    l->n++;
}

static struct lx_state *new_state(struct evlog *log)
{
    struct lx_state_conf c;

    lx_state_conf_defaults(&c);
    c.on_event = on_ev;
    c.event_data = log;
    return lx_state_new(&c);
}

LX_TEST(state_cooldown_never_shortened)
{
    struct evlog log = {0};
    struct lx_state *st = new_state(&log);
    uint64_t until = 1, eff = 0;

    LX_ASSERT(!lx_state_cooldown_get(st, K1, M1, 1000, &until));
    LX_ASSERT_EQ(0, until);
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K1, M1, 66000, LX_STR("429"), 1000, &eff));
    LX_ASSERT_EQ(66000, eff);
    LX_ASSERT_EQ(1, log.n);
    LX_ASSERT_EQ(LX_STATE_EV_COOLDOWN, log.type[0]);
    LX_ASSERT_STREQ("openai#0", log.key[0]);
    /* shorter: ignored, no event */
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K1, M1, 5000, LX_STR("429"), 2000, &eff));
    LX_ASSERT_EQ(66000, eff);
    LX_ASSERT_EQ(1, log.n);
    /* longer: extends */
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K1, M1, 90000, LX_STR("429"), 2000, &eff));
    LX_ASSERT_EQ(90000, eff);
    LX_ASSERT_EQ(2, log.n);
    LX_ASSERT(lx_state_cooldown_get(st, K1, M1, 89999, &until));
    LX_ASSERT_EQ(90000, until);
    /* per (key, model) */
    LX_ASSERT(!lx_state_cooldown_get(st, K1, M2, 3000, NULL));
    LX_ASSERT(!lx_state_cooldown_get(st, K2, M1, 3000, NULL));
    /* expiry, then a shorter one is accepted again */
    LX_ASSERT(!lx_state_cooldown_get(st, K1, M1, 90000, &until));
    LX_ASSERT_EQ(0, until);
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K1, M1, 95000, LX_STR(""), 91000, &eff));
    LX_ASSERT_EQ(95000, eff);
    /* an end in the past sets nothing */
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K2, M1, 10, LX_STR(""), 91000, &eff));
    LX_ASSERT_EQ(0, eff);
    LX_ASSERT(!lx_state_cooldown_get(st, K2, M1, 91000, NULL));
    LX_ASSERT(lx_state_cooldown_clear(st, K1, M1));
    LX_ASSERT(!lx_state_cooldown_get(st, K1, M1, 91000, NULL));
    /* bad names */
    LX_ASSERT_EQ(LX_EINVAL, lx_state_cooldown_set(st, LX_STR(""), M1, 1, LX_STR(""), 0, NULL));
    LX_ASSERT_EQ(LX_EINVAL, lx_state_cooldown_set(st, LX_STR("a\nb"), M1, 1, LX_STR(""), 0, NULL));
    lx_state_free(st);
    return 0;
}

LX_TEST(state_streak_counts_and_resets)
{
    struct lx_state *st = lx_state_new(NULL);

    LX_ASSERT_EQ(0, lx_state_streak_get(st, K1, M1, 0));
    LX_ASSERT_EQ(1, lx_state_streak_incr(st, K1, M1, 0));
    LX_ASSERT_EQ(2, lx_state_streak_incr(st, K1, M1, 10));
    LX_ASSERT_EQ(1, lx_state_streak_incr(st, K1, M2, 10));
    LX_ASSERT_EQ(2, lx_state_streak_get(st, K1, M1, 20));
    lx_state_streak_reset(st, K1, M1);
    LX_ASSERT_EQ(0, lx_state_streak_get(st, K1, M1, 20));
    LX_ASSERT_EQ(1, lx_state_streak_get(st, K1, M2, 20));
    /* forgotten after a day untouched */
    LX_ASSERT_EQ(0, lx_state_streak_get(st, K1, M2, 10 + 24ull * 3600 * 1000));
    LX_ASSERT_EQ(1, lx_state_streak_incr(st, K1, M2, 10 + 24ull * 3600 * 1000));
    lx_state_free(st);
    return 0;
}

LX_TEST(state_disable_enable_list)
{
    struct evlog log = {0};
    struct lx_state *st = new_state(&log);
    struct lx_state_disabled d, all[4];
    uint64_t until;

    LX_ASSERT_EQ(LX_OK, lx_state_disable(st, K1, LX_STR("401 invalid_api_key"), 500));
    LX_ASSERT_EQ(LX_OK, lx_state_disable(st, K1, LX_STR("403 again"), 900)); /* kept */
    LX_ASSERT_EQ(1, log.n);
    LX_ASSERT_EQ(LX_STATE_EV_DISABLE, log.type[0]);
    LX_ASSERT(lx_state_disabled_get(st, K1, &d));
    LX_ASSERT_STREQ("openai#0", d.key);
    LX_ASSERT_STREQ("401 invalid_api_key", d.reason);
    LX_ASSERT_EQ(500, d.since_ms);
    LX_ASSERT(!lx_state_disabled_get(st, K2, &d));
    LX_ASSERT_EQ(LX_STATE_KEY_DISABLED, lx_state_key_status(st, K1, M1, 1000, &until));
    LX_ASSERT_EQ(LX_STATE_KEY_OK, lx_state_key_status(st, K2, M1, 1000, &until));
    lx_state_cooldown_set(st, K2, M1, 5000, LX_STR(""), 1000, NULL);
    LX_ASSERT_EQ(LX_STATE_KEY_COOLING, lx_state_key_status(st, K2, M1, 1000, &until));
    LX_ASSERT_EQ(5000, until);
    LX_ASSERT_EQ(LX_OK, lx_state_disable(st, K2, LX_STR("quota"), 1100));
    LX_ASSERT_EQ(2, lx_state_disabled_list(st, all, 4));
    LX_ASSERT_EQ(2, lx_state_disabled_list(st, all, 1)); /* total, one copied */
    LX_ASSERT(lx_state_enable(st, K1, LX_STR("probe"), 2000));
    LX_ASSERT(!lx_state_enable(st, K1, LX_STR("probe"), 2000));
    LX_ASSERT_EQ(LX_STATE_EV_ENABLE, log.type[log.n - 1]);
    LX_ASSERT_EQ(1, lx_state_disabled_list(st, all, 4));
    LX_ASSERT_STREQ("openai#1", all[0].key);
    /* a reason is cut, never overflows */
    {
        char big[400];

        memset(big, 'r', sizeof(big));
        LX_ASSERT_EQ(LX_OK, lx_state_disable(st, K1, lx_str_make(big, sizeof(big)), 3000));
        LX_ASSERT(lx_state_disabled_get(st, K1, &d));
        LX_ASSERT_EQ(LX_STATE_REASON_MAX - 1, strlen(d.reason));
    }
    lx_state_free(st);
    return 0;
}

LX_TEST(state_breaker_consecutive_failures)
{
    struct evlog log = {0};
    struct lx_state *st = new_state(&log);
    struct lx_state_breaker b;
    uint64_t now = 100000;

    for (int i = 0; i < 4; i++) {
        LX_ASSERT(lx_state_breaker_allow(st, T1, now));
        lx_state_breaker_report(st, T1, false, now);
        now += 3000; /* spread out: the rate rule alone would not see 5 in 10 s */
    }
    lx_state_breaker_get(st, T1, now, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    LX_ASSERT_EQ(4, b.consecutive_failures);
    lx_state_breaker_report(st, T1, false, now);
    lx_state_breaker_get(st, T1, now, &b);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, b.state);
    LX_ASSERT_EQ(now + 30000, b.until_ms);
    LX_ASSERT_EQ(LX_STATE_EV_BREAKER_OPEN, log.type[log.n - 1]);
    LX_ASSERT(!lx_state_breaker_allow(st, T1, now + 29999));
    /* a late report while open changes nothing */
    lx_state_breaker_report(st, T1, true, now + 100);
    lx_state_breaker_get(st, T1, now + 100, &b);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, b.state);
    /* half-open: one probe at a time */
    LX_ASSERT(lx_state_breaker_allow(st, T1, now + 30000));
    LX_ASSERT_EQ(LX_STATE_EV_BREAKER_HALF_OPEN, log.type[log.n - 1]);
    LX_ASSERT(!lx_state_breaker_allow(st, T1, now + 30001));
    lx_state_breaker_get(st, T1, now + 30001, &b);
    LX_ASSERT_EQ(LX_BREAKER_HALF_OPEN, b.state);
    LX_ASSERT(b.probe_in_flight);
    /* probe fails: open again for a full cooldown */
    lx_state_breaker_report(st, T1, false, now + 30500);
    lx_state_breaker_get(st, T1, now + 30500, &b);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, b.state);
    LX_ASSERT_EQ(now + 60500, b.until_ms);
    LX_ASSERT(!lx_state_breaker_allow(st, T1, now + 60499));
    LX_ASSERT(lx_state_breaker_allow(st, T1, now + 60500));
    /* probe succeeds: closed, counts cleared */
    lx_state_breaker_report(st, T1, true, now + 60600);
    lx_state_breaker_get(st, T1, now + 60600, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    LX_ASSERT_EQ(0, b.consecutive_failures);
    LX_ASSERT_EQ(0, b.failures);
    LX_ASSERT_EQ(LX_STATE_EV_BREAKER_CLOSE, log.type[log.n - 1]);
    LX_ASSERT(lx_state_breaker_allow(st, T1, now + 60601));
    LX_ASSERT(lx_state_breaker_allow(st, T1, now + 60601));
    lx_state_free(st);
    return 0;
}

LX_TEST(state_breaker_failure_rate)
{
    struct lx_state *st = lx_state_new(NULL);
    struct lx_state_breaker b;
    uint64_t now = 50000;

    /* S F S F: 50 % of 4 requests: not enough requests yet */
    for (int i = 0; i < 4; i++)
        lx_state_breaker_report(st, T1, i % 2 == 1 ? false : true, now + (uint64_t)i);
    lx_state_breaker_get(st, T1, now + 4, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    LX_ASSERT_EQ(2, b.successes);
    LX_ASSERT_EQ(2, b.failures);
    LX_ASSERT_EQ(1, b.consecutive_failures);
    /* a success: 40 % of 5, still closed */
    lx_state_breaker_report(st, T1, true, now + 5);
    lx_state_breaker_get(st, T1, now + 5, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    /* a failure: 50 % of 6 -> open */
    lx_state_breaker_report(st, T1, false, now + 6);
    lx_state_breaker_get(st, T1, now + 6, &b);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, b.state);
    lx_state_free(st);

    /* outcomes older than the window do not count */
    st = lx_state_new(NULL);
    for (int i = 0; i < 3; i++)
        lx_state_breaker_report(st, T1, false, now);
    lx_state_breaker_report(st, T1, true, now);
    lx_state_breaker_report(st, T1, true, now + 20000);
    lx_state_breaker_report(st, T1, false, now + 20001);
    lx_state_breaker_get(st, T1, now + 20001, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    LX_ASSERT_EQ(1, b.successes);
    LX_ASSERT_EQ(1, b.failures);
    lx_state_free(st);
    return 0;
}

LX_TEST(state_breaker_lost_probe)
{
    struct lx_state_conf c;
    struct lx_state *st;
    struct lx_state_breaker b;

    lx_state_conf_defaults(&c);
    c.breaker_cooldown_ms = 1000;
    c.breaker_consecutive = 1;
    st = lx_state_new(&c);
    lx_state_breaker_report(st, T1, false, 10);
    LX_ASSERT(!lx_state_breaker_allow(st, T1, 500));
    LX_ASSERT(lx_state_breaker_allow(st, T1, 1010));  /* probe claimed */
    LX_ASSERT(!lx_state_breaker_allow(st, T1, 1500)); /* probe out */
    LX_ASSERT(lx_state_breaker_allow(st, T1, 2010));  /* never answered: another probe */
    lx_state_breaker_get(st, LX_STR("other/x"), 0, &b);
    LX_ASSERT_EQ(LX_BREAKER_CLOSED, b.state);
    LX_ASSERT(lx_state_breaker_allow(st, LX_STR("other/x"), 0));
    lx_state_free(st);
    return 0;
}

LX_TEST(state_latency_ema)
{
    struct lx_state *st = lx_state_new(NULL);
    double ema;
    uint64_t n;

    LX_ASSERT(!lx_state_latency_get(st, T1, &ema, &n));
    lx_state_latency_add(st, T1, 100, 0);
    LX_ASSERT(lx_state_latency_get(st, T1, &ema, &n));
    LX_ASSERT_EQ(100, (long)ema);
    LX_ASSERT_EQ(1, n);
    lx_state_latency_add(st, T1, 200, 1); /* 100 + 0.2 * 100 */
    LX_ASSERT(lx_state_latency_get(st, T1, &ema, &n));
    LX_ASSERT(ema > 119.999 && ema < 120.001);
    LX_ASSERT_EQ(2, n);
    lx_state_latency_add(st, T1, -1, 2); /* ignored */
    LX_ASSERT(lx_state_latency_get(st, T1, &ema, &n));
    LX_ASSERT_EQ(2, n);
    lx_state_free(st);
    return 0;
}

LX_TEST(state_inflight)
{
    struct lx_state *st = lx_state_new(NULL);

    LX_ASSERT_EQ(0, lx_state_inflight_get(st, T1));
    LX_ASSERT_EQ(1, lx_state_inflight_add(st, T1, 1, 0));
    LX_ASSERT_EQ(2, lx_state_inflight_add(st, T1, 1, 0));
    LX_ASSERT_EQ(1, lx_state_inflight_add(st, T1, -1, 0));
    LX_ASSERT_EQ(0, lx_state_inflight_add(st, T1, -1, 0));
    LX_ASSERT_EQ(0, lx_state_inflight_add(st, T1, -1, 0)); /* never below 0 */
    LX_ASSERT_EQ(0, lx_state_inflight_get(st, T1));
    lx_state_free(st);
    return 0;
}

LX_TEST(state_retry_budget)
{
    struct lx_state *st = lx_state_new(NULL);
    struct lx_str p = LX_STR("openai");
    unsigned req, ret;
    int ok = 0;

    /* no requests: the 10/s floor */
    for (int i = 0; i < 20; i++)
        ok += lx_state_budget_retry(st, p, 1000);
    LX_ASSERT_EQ(10, ok);
    /* a second later the window is empty again; 100 requests -> 20 + 10 retries */
    for (int i = 0; i < 100; i++)
        lx_state_budget_request(st, p, 2000);
    ok = 0;
    for (int i = 0; i < 100; i++)
        ok += lx_state_budget_retry(st, p, 2050);
    LX_ASSERT_EQ(30, ok);
    lx_state_budget_get(st, p, 2050, &req, &ret);
    LX_ASSERT_EQ(100, req);
    LX_ASSERT_EQ(30, ret);
    /* the window rolls: 1 s later everything has gone */
    lx_state_budget_get(st, p, 3100, &req, &ret);
    LX_ASSERT_EQ(0, req);
    LX_ASSERT_EQ(0, ret);
    /* steady offered load: retries stay <= 20 % + 10/s over 60 s */
    {
        unsigned total_req = 0, total_ret = 0;

        for (uint64_t ms = 10000; ms < 70000; ms += 5) { /* 200 req/s, each wants a retry */
            lx_state_budget_request(st, p, ms);
            total_req++;
            total_ret += lx_state_budget_retry(st, p, ms);
        }
        LX_ASSERT(total_ret * 10 <= total_req * 2 + 60 * 10 * 10 + 10);
        LX_ASSERT(total_ret * 10 >= total_req * 2); /* and the budget is used */
    }
    lx_state_free(st);
    return 0;
}

LX_TEST(state_bounded_tables)
{
    struct lx_state_conf c;
    struct lx_state *st;
    char name[32];
    struct lx_state_disabled d;

    lx_state_conf_defaults(&c);
    c.max_entries = 8;
    st = lx_state_new(&c);
    /* 8 cooldowns, the first 4 expire at 100: inserting more evicts expired ones first */
    for (int i = 0; i < 8; i++) {
        int n = snprintf(name, sizeof(name), "k#%d", i);
        lx_state_cooldown_set(st, lx_str_make(name, (size_t)n), M1, i < 4 ? 100 : 10000, LX_STR(""),
                              (uint64_t)i, NULL); /* k#4 is the oldest left */
    }
    for (int i = 8; i < 12; i++) {
        int n = snprintf(name, sizeof(name), "k#%d", i);
        lx_state_cooldown_set(st, lx_str_make(name, (size_t)n), M1, 10000, LX_STR(""), 200, NULL);
    }
    for (int i = 4; i < 12; i++) {
        int n = snprintf(name, sizeof(name), "k#%d", i);
        LX_ASSERT(lx_state_cooldown_get(st, lx_str_make(name, (size_t)n), M1, 300, NULL));
    }
    /* full of active ones: the least recently touched goes (k#4) */
    lx_state_cooldown_set(st, LX_STR("k#99"), M1, 10000, LX_STR(""), 400, NULL);
    LX_ASSERT(lx_state_cooldown_get(st, LX_STR("k#99"), M1, 400, NULL));
    LX_ASSERT(!lx_state_cooldown_get(st, LX_STR("k#4"), M1, 400, NULL));
    /* disabled keys are never evicted: a full table refuses */
    for (int i = 0; i < 8; i++) {
        int n = snprintf(name, sizeof(name), "k#%d", i);
        LX_ASSERT_EQ(LX_OK, lx_state_disable(st, lx_str_make(name, (size_t)n), LX_STR("x"), 0));
    }
    LX_ASSERT_EQ(LX_ETOOBIG, lx_state_disable(st, LX_STR("k#8"), LX_STR("x"), 0));
    LX_ASSERT(lx_state_disabled_get(st, LX_STR("k#0"), &d));
    /* many names: grows its buckets, all found */
    lx_state_free(st);
    st = lx_state_new(NULL);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof(name), "p#%d", i);
        lx_state_latency_add(st, lx_str_make(name, (size_t)n), i, 0);
    }
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof(name), "p#%d", i);
        double ema;
        LX_ASSERT(lx_state_latency_get(st, lx_str_make(name, (size_t)n), &ema, NULL));
        LX_ASSERT_EQ(i, (int)ema);
    }
    lx_state_free(st);
    return 0;
}

/* ---- threads -------------------------------------------------------------------------------- */

struct hammer {
    struct lx_state *st;
    int id;
    long retries_ok;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char key[16];
    int kn;

    for (int i = 0; i < 20000; i++) {
        uint64_t now = (uint64_t)i;

        kn = snprintf(key, sizeof(key), "openai#%d", i % 4);
        struct lx_str k = lx_str_make(key, (size_t)kn);

        lx_state_cooldown_set(h->st, k, M1, now + 50, LX_STR("429"), now, NULL);
        lx_state_key_status(h->st, k, M1, now, NULL);
        lx_state_streak_incr(h->st, k, M1, now);
        if (i % 7 == 0)
            lx_state_streak_reset(h->st, k, M1);
        if (i % 100 == 0)
            lx_state_disable(h->st, k, LX_STR("401"), now);
        if (i % 100 == 50)
            lx_state_enable(h->st, k, LX_STR("probe"), now);
        if (lx_state_breaker_allow(h->st, T1, now))
            lx_state_breaker_report(h->st, T1, i % 3 != 0, now);
        lx_state_inflight_add(h->st, T1, 1, now);
        lx_state_latency_add(h->st, T1, 10.0 + h->id, now);
        lx_state_inflight_add(h->st, T1, -1, now);
        lx_state_budget_request(h->st, LX_STR("openai"), now);
        h->retries_ok += lx_state_budget_retry(h->st, LX_STR("openai"), now);
    }
    return NULL;
}

static void count_ev(void *data, const struct lx_state_event *ev)
{
    __atomic_add_fetch((long *)data, 1, __ATOMIC_RELAXED);
    (void)ev;
}

LX_TEST(state_threads_hammer)
{
    struct lx_state_conf c;
    struct lx_state *st;
    pthread_t th[8];
    struct hammer h[8];
    long events = 0;
    uint64_t samples;

    lx_state_conf_defaults(&c);
    c.on_event = count_ev;
    c.event_data = &events;
    st = lx_state_new(&c);
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hammer){.st = st, .id = i};
        LX_ASSERT_EQ(0, pthread_create(&th[i], NULL, hammer_run, &h[i]));
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    LX_ASSERT_EQ(0, lx_state_inflight_get(st, T1));
    LX_ASSERT(lx_state_latency_get(st, T1, NULL, &samples));
    LX_ASSERT_EQ(8 * 20000, samples);
    LX_ASSERT(events > 0);
    lx_state_free(st);
    return 0;
}

/* ---- the Redis glue, without Redis: the hook sees local shared changes only ----------------- */

static int published[8];

static void fake_publish(struct lx_state_redis *r, const struct lx_state_event *ev)
{
    (void)r;
    published[ev->type]++;
}

LX_TEST(state_hooks_and_remote_apply)
{
    struct evlog log = {0};
    struct lx_state *st = new_state(&log);
    struct lx_state_hooks *h = lx__state_hooks(st);
    struct lx_state_breaker b;
    struct lx_state_event ev = {.type = LX_STATE_EV_COOLDOWN,
                                .key = K1,
                                .model = M1,
                                .reason = LX_STR("429"),
                                .until_ms = 5000,
                                .now_ms = 1000};
    uint64_t until;

    memset(published, 0, sizeof(published));
    h->publish = fake_publish;
    lx_state_cooldown_set(st, K2, M1, 9000, LX_STR("429"), 1000, NULL);
    lx_state_disable(st, K2, LX_STR("401"), 1000);
    lx_state_enable(st, K2, LX_STR("probe"), 1000);
    for (int i = 0; i < 5; i++)
        lx_state_breaker_report(st, T1, false, 1000);
    LX_ASSERT(lx_state_breaker_allow(st, T1, 31000)); /* half-open: local only */
    lx_state_breaker_report(st, T1, true, 31001);
    LX_ASSERT_EQ(1, published[LX_STATE_EV_COOLDOWN]);
    LX_ASSERT_EQ(1, published[LX_STATE_EV_DISABLE]);
    LX_ASSERT_EQ(1, published[LX_STATE_EV_ENABLE]);
    LX_ASSERT_EQ(1, published[LX_STATE_EV_BREAKER_OPEN]);
    LX_ASSERT_EQ(0, published[LX_STATE_EV_BREAKER_HALF_OPEN]);
    LX_ASSERT_EQ(1, published[LX_STATE_EV_BREAKER_CLOSE]);

    /* remote: applied, logged as remote, never published again */
    memset(published, 0, sizeof(published));
    log.n = 0;
    lx__state_apply(st, &ev);
    LX_ASSERT(lx_state_cooldown_get(st, K1, M1, 1000, &until));
    LX_ASSERT_EQ(5000, until);
    ev.until_ms = 3000; /* shorter: ignored */
    lx__state_apply(st, &ev);
    LX_ASSERT(lx_state_cooldown_get(st, K1, M1, 1000, &until));
    LX_ASSERT_EQ(5000, until);
    ev = (struct lx_state_event){
        .type = LX_STATE_EV_BREAKER_OPEN, .key = T1, .until_ms = 40000, .now_ms = 32000};
    lx__state_apply(st, &ev);
    LX_ASSERT(!lx_state_breaker_allow(st, T1, 39999));
    lx_state_breaker_get(st, T1, 39999, &b);
    LX_ASSERT_EQ(40000, b.until_ms);
    ev.type = LX_STATE_EV_BREAKER_CLOSE;
    lx__state_apply(st, &ev);
    LX_ASSERT(lx_state_breaker_allow(st, T1, 33000));
    ev = (struct lx_state_event){
        .type = LX_STATE_EV_DISABLE, .key = K1, .reason = LX_STR("403"), .now_ms = 777};
    lx__state_apply(st, &ev);
    {
        struct lx_state_disabled d;
        LX_ASSERT(lx_state_disabled_get(st, K1, &d));
        LX_ASSERT_EQ(777, d.since_ms);
    }
    ev.type = LX_STATE_EV_ENABLE;
    lx__state_apply(st, &ev);
    LX_ASSERT(!lx_state_disabled_get(st, K1, NULL));
    for (int i = 0; i < 8; i++)
        LX_ASSERT_EQ(0, published[i]);
    LX_ASSERT_EQ(5, log.n); /* cooldown, open, close, disable, enable */
    for (int i = 0; i < log.n; i++)
        LX_ASSERT(log.remote[i]);
    h->publish = NULL;
    lx_state_free(st);
    return 0;
}
