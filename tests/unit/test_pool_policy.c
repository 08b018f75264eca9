/* test_pool_policy.c - what an upstream answer does to a key (cooldowns, the never-shorten
 * rule, the consecutive-429 threshold and its reset, disabling), midnight in Los Angeles across
 * both DST changes, and the retry policy (retryable kinds, backoff bounds, attempts, the
 * budget under a failure storm). Fake clock throughout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "pool/pool.h"
#include "providers/ir.h"
#include "tests/unit/test.h"

#define T0 1781524800000ull /* 2026-06-15T12:00:00Z = 05:00 PDT */
#define H 3600000ull
#define MODEL LX_STR("gemini-2.5-pro")

static struct lx_upstream_error upstream_err(int status, int64_t retry_after_ms)
{
    struct lx_upstream_error e;

    lx_upstream_error_init(&e);
    e.status = status;
    lx_upstream_error_defaults(&e);
    e.retry_after_ms = retry_after_ms;
    return e;
}

struct fixture {
    struct lx_pool_conf conf;
    struct lx_pool_mem *m;
    struct lx_pool_state_ops ops;
    struct lx_pool *p;
};

static void fixture_init(struct fixture *f, bool google)
{
    struct lx_pool_spec spec = {
        .provider = google ? "gemini" : "openai", .n_keys = 3, .google = google};

    lx_pool_conf_defaults(&f->conf);
    f->m = lx_pool_mem_new(&f->conf);
    lx_pool_mem_ops(f->m, &f->ops);
    f->p = lx_pool_new(&spec);
}

static void fixture_release(struct fixture *f)
{
    lx_pool_free(f->p);
    lx_pool_mem_free(f->m);
}

static uint64_t cooling_until(struct fixture *f, size_t k, struct lx_str model, uint64_t now)
{
    uint64_t until = 0;

    if (f->ops.key_status(f->ops.ctx, lx_pool_key_id(f->p, k), model, now, &until) !=
        LX_POOL_KEY_COOLING)
        return 0;
    return until;
}

/* ---- Los Angeles midnight ------------------------------------------------------------------ */

LX_TEST(pool_la_midnight_fixed_points)
{
    static const struct {
        uint64_t now, want;
    } cases[] = {
        {1781524800000ull, 1781593200000ull}, /* 06-15 05:00 PDT -> 06-16 07:00Z */
        {1772913600000ull, 1772956800000ull}, /* 03-07 12:00 PST -> 03-08 00:00 PST (08:00Z) */
        {1772956800000ull, 1773039600000ull}, /* 03-08 00:00 PST exactly -> 03-09 00:00 PDT */
        {1772962200000ull, 1773039600000ull}, /* 03-08 01:30 PST -> (23 h day) 03-09 07:00Z */
        {1772964000000ull, 1773039600000ull}, /* 03-08 03:00 PDT (just after the jump) */
        {1772996400000ull, 1773039600000ull}, /* 03-08 12:00 PDT */
        {1793516340000ull, 1793516400000ull}, /* 10-31 23:59 PDT -> 11-01 00:00 PDT (07:00Z) */
        {1793516400000ull, 1793606400000ull}, /* 11-01 00:00 PDT -> (25 h day) 11-02 08:00Z */
        {1793518200000ull, 1793606400000ull}, /* 11-01 00:30 PDT */
        {1793525400000ull, 1793606400000ull}, /* 11-01 01:30 PST (the second 01:30) */
        {1798790340000ull, 1798790400000ull}, /* 2026-12-31 23:59 PST -> 2027-01-01 08:00Z */
        {1798790400000ull, 1798876800000ull}, /* 2027-01-01 00:00 PST -> 01-02 08:00Z */
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        uint64_t got = lx_pool_la_midnight_after(cases[i].now);
        if (got != cases[i].want)
            LX_FAIL("case %zu: %llu, want %llu", i, (unsigned long long)got,
                    (unsigned long long)cases[i].want);
    }
    return 0;
}

/* Against the system's tzdata (single-threaded test, so TZ + mktime is fine here), every
 * 61 minutes from 2024 to 2031 plus every minute around each transition. */
static int check_against_tzdata(uint64_t from_s, uint64_t to_s, uint64_t step_s)
{
    for (uint64_t s = from_s; s < to_s; s += step_s) {
        time_t t = (time_t)s, m;
        struct tm tm;

        localtime_r(&t, &tm);
        tm.tm_mday += 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        m = mktime(&tm);
        if ((uint64_t)m * 1000 != lx_pool_la_midnight_after(s * 1000))
            LX_FAIL("at %llu s: tzdata says %lld, we say %llu", (unsigned long long)s, (long long)m,
                    (unsigned long long)lx_pool_la_midnight_after(s * 1000) / 1000);
    }
    return 0;
}

LX_TEST(pool_la_midnight_matches_tzdata)
{
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    int rc = 0;
    FILE *zi = fopen("/usr/share/zoneinfo/America/Los_Angeles", "rb");

    if (zi == NULL)
        return 0; /* no tzdata on this machine: the fixed points above still hold */
    fclose(zi);
    setenv("TZ", "America/Los_Angeles", 1);
    tzset();
    rc = check_against_tzdata(1704067200ull, 1924992000ull, 3660); /* 2024 .. 2031 */
    if (rc == 0) /* every minute of the 2026 transition days */
        rc = check_against_tzdata(1772870400ull, 1773043200ull, 60);
    if (rc == 0)
        rc = check_against_tzdata(1793430000ull, 1793610000ull, 60);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return rc;
}

/* ---- cooldowns --------------------------------------------------------------------------- */

LX_TEST(pool_cooldown_durations)
{
    struct lx_pool_conf conf;
    struct lx_upstream_error e = upstream_err(429, -1);
    const char *why;

    lx_pool_conf_defaults(&conf);
    LX_ASSERT_EQ(T0 + 65000, lx_pool_cooldown_until(&conf, false, &e, 1, T0, &why));
    LX_ASSERT_STREQ("rate_limited", why);
    e.retry_after_ms = 7000; /* Retry-After: 7 */
    LX_ASSERT_EQ(T0 + 7000, lx_pool_cooldown_until(&conf, false, &e, 1, T0, &why));
    LX_ASSERT_STREQ("retry_after", why);
    e.retry_after_ms = 39000; /* Google RetryInfo 37s + 2 s, added by the adapter */
    LX_ASSERT_EQ(T0 + 39000, lx_pool_cooldown_until(&conf, true, &e, 1, T0, &why));
    e.retry_after_ms = 0; /* raised to the floor */
    LX_ASSERT_EQ(T0 + 1000, lx_pool_cooldown_until(&conf, false, &e, 1, T0, &why));
    e.retry_after_ms = 30LL * 24 * 3600 * 1000; /* cut to the ceiling */
    LX_ASSERT_EQ(T0 + 24 * H, lx_pool_cooldown_until(&conf, false, &e, 1, T0, &why));
    e.retry_after_ms = -1;
    e.daily_quota = true; /* 05:00 PDT: 19 h to midnight */
    LX_ASSERT_EQ(T0 + 19 * H, lx_pool_cooldown_until(&conf, true, &e, 1, T0, &why));
    LX_ASSERT_STREQ("daily_quota", why);
    e.daily_quota = false;
    LX_ASSERT_EQ(T0 + 24 * H, lx_pool_cooldown_until(&conf, false, &e, 2, T0, &why));
    LX_ASSERT_STREQ("consecutive_429", why);
    LX_ASSERT_EQ(T0 + 19 * H, lx_pool_cooldown_until(&conf, true, &e, 2, T0, &why));
    e = upstream_err(500, -1);
    LX_ASSERT_EQ(0, lx_pool_cooldown_until(&conf, false, &e, 1, T0, &why));
    LX_ASSERT(why == NULL);
    return 0;
}

/* An active cooldown is never shortened by a later, shorter one; a longer one extends it. */
LX_TEST(pool_cooldown_never_shortened)
{
    struct fixture f;
    struct lx_upstream_error e = upstream_err(429, 120000);
    struct lx_pool_verdict v;

    fixture_init(&f, false);
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, T0, &v);
    LX_ASSERT_EQ(LX_POOL_ACT_COOLDOWN, v.action);
    LX_ASSERT_EQ(T0 + 120000, v.until_ms);
    e.retry_after_ms = 5000;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, T0 + 10000, &v);
    LX_ASSERT_EQ(T0 + 15000, v.asked_ms);
    LX_ASSERT_EQ(T0 + 120000, v.until_ms);
    LX_ASSERT_EQ(T0 + 120000, cooling_until(&f, 0, MODEL, T0 + 20000));
    LX_ASSERT_EQ(0, v.streak); /* it answered an attempt sent before the cooldown */
    e.retry_after_ms = 300000;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, T0 + 20000, &v);
    LX_ASSERT_EQ(T0 + 320000, v.until_ms);
    LX_ASSERT_EQ(T0 + 320000, cooling_until(&f, 0, MODEL, T0 + 20000));
    /* after it ends (and a success), a short one applies again */
    lx_pool_on_success(f.p, &f.ops, 0, MODEL, T0 + 320000);
    e.retry_after_ms = 5000;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, T0 + 320000, &v);
    LX_ASSERT_EQ(T0 + 325000, v.until_ms);
    fixture_release(&f);
    return 0;
}

/* Two 429s in a row on a key and model: the long cooldown (24 h); a success between them
 * resets the count (S1 never did). Google's long cooldown ends at LA midnight. */
LX_TEST(pool_consecutive_429_threshold)
{
    struct fixture f;
    struct lx_upstream_error e = upstream_err(429, 3000);
    struct lx_pool_verdict v;
    uint64_t t = T0;

    fixture_init(&f, false);
    lx_pool_on_error(f.p, &f.ops, &f.conf, 1, MODEL, &e, t, &v);
    LX_ASSERT_EQ(1, v.streak);
    LX_ASSERT(!v.long_cooldown);
    t += 3000; /* the cooldown ended; the next attempt is refused again */
    lx_pool_on_error(f.p, &f.ops, &f.conf, 1, MODEL, &e, t, &v);
    LX_ASSERT_EQ(2, v.streak);
    LX_ASSERT(v.long_cooldown);
    LX_ASSERT_STREQ("consecutive_429", v.reason);
    LX_ASSERT_EQ(t + 24 * H, v.until_ms);
    LX_ASSERT_EQ(0, lx_pool_mem_streak(f.m, lx_pool_key_id(f.p, 1), MODEL)); /* restarts */
    /* other models and keys are untouched */
    LX_ASSERT_EQ(0, cooling_until(&f, 1, LX_STR("gemini-2.5-flash"), t));
    LX_ASSERT_EQ(0, cooling_until(&f, 0, MODEL, t));

    /* reset on success: 429, success, 429 -> no long cooldown */
    t += 24 * H;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 2, MODEL, &e, t, &v);
    LX_ASSERT_EQ(1, v.streak);
    t += 3000;
    lx_pool_on_success(f.p, &f.ops, 2, MODEL, t);
    LX_ASSERT_EQ(0, lx_pool_mem_streak(f.m, lx_pool_key_id(f.p, 2), MODEL));
    lx_pool_on_error(f.p, &f.ops, &f.conf, 2, MODEL, &e, t, &v);
    LX_ASSERT_EQ(1, v.streak);
    LX_ASSERT(!v.long_cooldown);
    LX_ASSERT_EQ(t + 3000, v.until_ms);

    /* parallel attempts refused together count once */
    t += 3000;
    lx_pool_on_success(f.p, &f.ops, 0, MODEL, t);
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t, &v);
    LX_ASSERT_EQ(1, v.streak);
    for (int i = 0; i < 5; i++) {
        lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t + 10, &v);
        LX_ASSERT_EQ(0, v.streak);
        LX_ASSERT(!v.long_cooldown);
    }
    LX_ASSERT_EQ(t + 3010, cooling_until(&f, 0, MODEL, t + 10)); /* extended, not counted */

    /* a threshold of 3 */
    f.conf.consecutive_429 = 3;
    t += 3010;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t, &v);
    LX_ASSERT_EQ(2, v.streak);
    LX_ASSERT(!v.long_cooldown);
    t += 3000;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t, &v);
    LX_ASSERT_EQ(3, v.streak);
    LX_ASSERT(v.long_cooldown);
    fixture_release(&f);

    fixture_init(&f, true); /* Google: until LA midnight */
    t = T0;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t, &v);
    lx_pool_on_error(f.p, &f.ops, &f.conf, 0, MODEL, &e, t + 3000, &v);
    LX_ASSERT(v.long_cooldown);
    LX_ASSERT_EQ(lx_pool_la_midnight_after(t + 3000), v.until_ms);
    LX_ASSERT_EQ(T0 + 19 * H, v.until_ms);
    fixture_release(&f);
    return 0;
}

LX_TEST(pool_daily_quota_until_la_midnight)
{
    struct fixture f;
    struct lx_upstream_error e = upstream_err(429, -1);
    struct lx_pool_verdict v;

    fixture_init(&f, true);
    e.daily_quota = true;
    lx_pool_on_error(f.p, &f.ops, &f.conf, 2, MODEL, &e, T0, &v);
    LX_ASSERT_EQ(LX_POOL_ACT_COOLDOWN, v.action);
    LX_ASSERT(v.long_cooldown);
    LX_ASSERT_STREQ("daily_quota", v.reason);
    LX_ASSERT_EQ(T0 + 19 * H, v.until_ms);
    LX_ASSERT_EQ(T0 + 19 * H, cooling_until(&f, 2, MODEL, T0 + 18 * H));
    LX_ASSERT_EQ(0, cooling_until(&f, 2, MODEL, T0 + 19 * H));
    fixture_release(&f);
    return 0;
}

/* 401, 403, 402, Google's invalid key 400 and quota errors disable the key; other statuses
 * leave it alone. */
LX_TEST(pool_disable_and_keep)
{
    static const struct {
        int status;
        enum lx_err_type type;
        enum lx_pool_action want;
        const char *reason;
    } cases[] = {
        {401, LX_ERRT_UNSET, LX_POOL_ACT_DISABLE, "invalid_key"},
        {403, LX_ERRT_UNSET, LX_POOL_ACT_DISABLE, "forbidden"},
        {402, LX_ERRT_UNSET, LX_POOL_ACT_DISABLE, "quota"},
        {400, LX_ERRT_AUTHENTICATION, LX_POOL_ACT_DISABLE, "invalid_key"}, /* API_KEY_INVALID */
        {429, LX_ERRT_QUOTA, LX_POOL_ACT_DISABLE, "quota"}, /* insufficient_quota, spend limit */
        {400, LX_ERRT_UNSET, LX_POOL_ACT_NONE, NULL},
        {404, LX_ERRT_UNSET, LX_POOL_ACT_NONE, NULL},
        {413, LX_ERRT_UNSET, LX_POOL_ACT_NONE, NULL},
        {500, LX_ERRT_UNSET, LX_POOL_ACT_NONE, NULL},
        {503, LX_ERRT_UNSET, LX_POOL_ACT_NONE, NULL},
        {529, LX_ERRT_OVERLOADED, LX_POOL_ACT_NONE, NULL},
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct fixture f;
        struct lx_upstream_error e;
        struct lx_pool_verdict v;
        struct lx_pool_pick pk;
        uint64_t since = 0;

        fixture_init(&f, true);
        lx_upstream_error_init(&e);
        e.status = cases[i].status;
        e.type = cases[i].type;
        lx_upstream_error_defaults(&e);
        lx_pool_on_error(f.p, &f.ops, &f.conf, 1, MODEL, &e, T0, &v);
        if (v.action != cases[i].want)
            LX_FAIL("case %zu (%d): action %d", i, cases[i].status, (int)v.action);
        if (cases[i].reason)
            LX_ASSERT_STREQ(cases[i].reason, v.reason);
        LX_ASSERT_EQ(cases[i].want == LX_POOL_ACT_DISABLE,
                     f.ops.disabled_get(f.ops.ctx, lx_pool_key_id(f.p, 1), &since));
        LX_ASSERT_EQ(0, cooling_until(&f, 1, MODEL, T0));
        if (cases[i].want == LX_POOL_ACT_DISABLE) {
            LX_ASSERT_EQ(T0, since);
            for (uint64_t r = 0; r < 64; r++) { /* never picked again, any model */
                lx_pool_pick(f.p, &f.ops, LX_STR("other"), NULL, 0, r * 977, T0 + 99 * H, &pk);
                LX_ASSERT(pk.index != 1);
            }
        }
        fixture_release(&f);
    }
    return 0;
}

LX_TEST(pool_log_verdict_names_key_by_label)
{
    struct lx_pool_spec spec = {.provider = "openai", .n_keys = 1};
    const char *keys[] = {"sk-live-abcdefghijklmnopWXYZ"};
    struct lx_pool *p;
    struct lx_pool_verdict v = {.action = LX_POOL_ACT_COOLDOWN, .until_ms = T0, .reason = "x"};

    spec.keys = keys;
    p = lx_pool_new(&spec);
    LX_ASSERT_STR(lx_pool_key_label(p, 0), "openai#0(...WXYZ)");
    lx_pool_log_verdict(p, 0, MODEL, &v); /* goes to stderr; must not crash */
    v.action = LX_POOL_ACT_NONE;
    lx_pool_log_verdict(p, 0, MODEL, &v);
    lx_pool_free(p);
    return 0;
}

/* ---- retry policy ------------------------------------------------------------------------ */

LX_TEST(pool_backoff_bounds)
{
    struct lx_pool_conf conf;
    uint64_t s = 42;

    lx_pool_conf_defaults(&conf);
    for (unsigned n = 0; n < 70; n++) {
        uint64_t ceil = n < 6 ? 100ull << n : 5000, hi = 0;
        if (ceil > 5000)
            ceil = 5000;
        for (int i = 0; i < 2000; i++) {
            uint64_t d;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            d = lx_pool_backoff_ms(&conf, n, s);
            if (d > ceil)
                LX_FAIL("retry %u: %llu > %llu", n, (unsigned long long)d,
                        (unsigned long long)ceil);
            if (d > hi)
                hi = d;
        }
        LX_ASSERT(hi > ceil * 9 / 10); /* full jitter reaches up to the ceiling */
    }
    LX_ASSERT_EQ(0, lx_pool_backoff_ms(&conf, 3, 0));
    LX_ASSERT_EQ(100, lx_pool_backoff_ms(&conf, 0, 100));
    LX_ASSERT_EQ(5000, lx_pool_backoff_ms(&conf, 1000, 5000));
    return 0;
}

LX_TEST(pool_retryable_kinds)
{
    struct lx_pool_conf conf;
    static const struct {
        int status;
        enum lx_err_type type;
        bool want;
    } cases[] = {
        {500, LX_ERRT_UNSET, true},           {502, LX_ERRT_UNSET, true},
        {503, LX_ERRT_UNSET, true},           {504, LX_ERRT_UNSET, true},
        {529, LX_ERRT_OVERLOADED, true},      {429, LX_ERRT_UNSET, true},
        {401, LX_ERRT_UNSET, true},           {403, LX_ERRT_UNSET, true},
        {402, LX_ERRT_UNSET, true},           {400, LX_ERRT_AUTHENTICATION, true},
        {400, LX_ERRT_UNSET, false},          {404, LX_ERRT_UNSET, false},
        {413, LX_ERRT_UNSET, false},          {422, LX_ERRT_UNSET, false},
        {400, LX_ERRT_CONTEXT_LENGTH, false}, {400, LX_ERRT_CONTENT_FILTER, false},
    };

    lx_pool_conf_defaults(&conf);
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_upstream_error e;
        lx_upstream_error_init(&e);
        e.status = cases[i].status;
        e.type = cases[i].type;
        lx_upstream_error_defaults(&e);
        if (lx_pool_retryable(&conf, &e, 0) != cases[i].want)
            LX_FAIL("case %zu (status %d)", i, cases[i].status);
    }
    LX_ASSERT(lx_pool_retryable(&conf, NULL, LX_ETIMEDOUT));
    LX_ASSERT(lx_pool_retryable(&conf, NULL, LX_ECONNRESET));
    LX_ASSERT(lx_pool_retryable(&conf, NULL, LX_ECONNREFUSED));
    LX_ASSERT(lx_pool_retryable(&conf, NULL, LX_ECLOSED));
    LX_ASSERT(lx_pool_retryable(&conf, NULL, LX_ETLS));
    LX_ASSERT(!lx_pool_retryable(&conf, NULL, LX_ENOMEM));
    LX_ASSERT(!lx_pool_retryable(&conf, NULL, LX_ECANCELED));
    LX_ASSERT(!lx_pool_retryable(&conf, NULL, LX_EINVAL));
    conf.retry_timeouts = false;
    LX_ASSERT(!lx_pool_retryable(&conf, NULL, LX_ETIMEDOUT));
    LX_ASSERT(lx_pool_retry_safe(0));
    LX_ASSERT(!lx_pool_retry_safe(1));
    return 0;
}

LX_TEST(pool_retry_decide_order)
{
    struct fixture f;
    struct lx_upstream_error e500 = upstream_err(500, -1), e429 = upstream_err(429, -1);
    struct lx_upstream_error e400 = upstream_err(400, -1);
    struct lx_retry_in in = {.provider = LX_STR("openai"), .attempts = 1, .error = &e500};
    struct lx_retry_out out;

    fixture_init(&f, false);
    lx_pool_note_request(&f.ops, in.provider, T0);
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 12345, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_GO, out.why);
    LX_ASSERT(out.delay_ms <= 100);
    in.attempts = 2;
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 12345, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_GO, out.why);
    LX_ASSERT(out.delay_ms <= 200);
    in.attempts = 3; /* max_attempts 3 */
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 1, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_ATTEMPTS, out.why);
    LX_ASSERT_STREQ("attempts", lx_retry_why_name(out.why));

    in.attempts = 1;
    in.bytes_sent = 1; /* never a second attempt once the client has a byte */
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 1, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_BYTES_SENT, out.why);
    in.bytes_sent = 0;

    in.error = &e400;
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 1, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_NOT_RETRYABLE, out.why);

    in.error = &e429; /* another key, at once */
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 999, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_GO, out.why);
    LX_ASSERT_EQ(0, out.delay_ms);

    in.error = NULL;
    in.transport_rc = LX_ECONNRESET;
    lx_pool_retry_decide(&f.conf, &f.ops, &in, 77, T0, &out);
    LX_ASSERT_EQ(LX_RETRY_GO, out.why);
    LX_ASSERT_EQ(77 % 101, out.delay_ms);
    fixture_release(&f);
    return 0;
}

/* A 100 % failure storm: 200 requests/s for 60 s, every attempt failing with 503, each
 * request retrying while allowed. Retries stay <= 20 % of requests + 10/s, in every second
 * and in all. */
LX_TEST(pool_budget_failure_storm)
{
    struct fixture f;
    struct lx_upstream_error e = upstream_err(503, -1);
    struct lx_str prov = LX_STR("openai");
    unsigned long requests = 0, retries = 0, per_s_retries = 0, per_s_requests = 0;
    uint64_t rs = 5;

    fixture_init(&f, false);
    for (uint64_t ms = 0; ms < 60000; ms += 5) { /* one request every 5 ms */
        uint64_t now = T0 + ms;
        struct lx_retry_in in = {.provider = prov, .attempts = 1, .error = &e};
        struct lx_retry_out out;

        if (ms % 1000 == 0) {
            if (per_s_retries * 100 > 20 * per_s_requests + 1000)
                LX_FAIL("second %llu: %lu retries for %lu requests", (unsigned long long)ms / 1000,
                        per_s_retries, per_s_requests);
            per_s_retries = per_s_requests = 0;
        }
        lx_pool_note_request(&f.ops, prov, now);
        requests++;
        per_s_requests++;
        for (;;) {
            rs = rs * 6364136223846793005ull + 1442695040888963407ull;
            lx_pool_retry_decide(&f.conf, &f.ops, &in, rs, now, &out);
            if (out.why != LX_RETRY_GO)
                break;
            retries++;
            per_s_retries++;
            in.attempts++;
        }
    }
    LX_ASSERT_EQ(12000, requests);
    if (retries * 100 > 20 * requests + 60 * 10 * 100)
        LX_FAIL("%lu retries for %lu requests", retries, requests);
    LX_ASSERT(retries > 2000); /* the budget is used, not refused outright */
    fixture_release(&f);
    return 0;
}

LX_TEST(pool_retry_window_rolls)
{
    struct lx_retry_window w;
    unsigned rq, rt;

    lx_retry_window_init(&w);
    for (int i = 0; i < 10; i++) /* the floor: 10 per second with no requests */
        LX_ASSERT(lx_retry_window_retry(&w, 20, 10, T0));
    LX_ASSERT(!lx_retry_window_retry(&w, 20, 10, T0 + 500));
    for (int i = 0; i < 5; i++)
        lx_retry_window_request(&w, T0 + 500);
    LX_ASSERT(lx_retry_window_retry(&w, 20, 10, T0 + 500)); /* 20 % of 5 = 1 more */
    LX_ASSERT(!lx_retry_window_retry(&w, 20, 10, T0 + 500));
    lx_retry_window_get(&w, T0 + 999, &rq, &rt);
    LX_ASSERT_EQ(5, rq);
    LX_ASSERT_EQ(11, rt);
    lx_retry_window_get(&w, T0 + 1000, &rq, &rt); /* the first bucket left the window */
    LX_ASSERT_EQ(5, rq);
    LX_ASSERT_EQ(1, rt);
    lx_retry_window_get(&w, T0 + 1500, &rq, &rt);
    LX_ASSERT_EQ(0, rq);
    LX_ASSERT_EQ(0, rt);
    LX_ASSERT(lx_retry_window_retry(&w, 20, 10, T0 + 5000));
    return 0;
}

/* Property: over random 429s (any Retry-After, daily quotas, successes) on 3 keys x 2 models,
 * a cooldown in force never ends earlier than it did before, and picks never return a key
 * that is cooling for the model. */
LX_TEST(pool_cooldown_property_random)
{
    struct fixture f;
    uint64_t end[3][2] = {{0}}, now = T0, rs = 2024;
    const struct lx_str models[2] = {LX_STR("a"), LX_STR("b")};

    fixture_init(&f, true);
    for (int i = 0; i < 20000; i++) {
        uint64_t r;
        size_t k, mi;
        struct lx_pool_verdict v;
        struct lx_pool_pick pk;

        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        r = rs >> 11;
        k = r % 3;
        mi = (r >> 8) % 2;
        now += (r >> 16) % 20000;
        if ((r >> 40) % 4 == 0) {
            lx_pool_on_success(f.p, &f.ops, k, models[mi], now);
        } else {
            struct lx_upstream_error e = upstream_err(429, -1);
            int64_t ra = (int64_t)((r >> 20) % 400000) - 100000; /* some "none" (-1 .. ) */
            e.retry_after_ms = ra < 0 ? -1 : ra;
            e.daily_quota = (r >> 45) % 50 == 0;
            lx_pool_on_error(f.p, &f.ops, &f.conf, k, models[mi], &e, now, &v);
            if (end[k][mi] > now && v.until_ms < end[k][mi])
                LX_FAIL("step %d: shortened %llu -> %llu", i, (unsigned long long)end[k][mi],
                        (unsigned long long)v.until_ms);
            if (v.until_ms <= now)
                LX_FAIL("step %d: a cooldown that already ended", i);
            end[k][mi] = v.until_ms;
        }
        for (size_t kk = 0; kk < 3; kk++) /* the state agrees with what we saw */
            LX_ASSERT_EQ(end[kk][mi] > now ? end[kk][mi] : 0,
                         cooling_until(&f, kk, models[mi], now));
        lx_pool_pick(f.p, &f.ops, models[mi], NULL, 0, r, now, &pk);
        if (pk.status == LX_POOL_PICKED)
            LX_ASSERT(end[pk.index][mi] <= now);
        else {
            uint64_t soonest = UINT64_MAX;
            for (size_t kk = 0; kk < 3; kk++)
                if (end[kk][mi] < soonest)
                    soonest = end[kk][mi];
            LX_ASSERT_EQ(LX_POOL_ALL_COOLING, pk.status);
            LX_ASSERT_EQ(soonest, pk.retry_at_ms);
        }
    }
    fixture_release(&f);
    return 0;
}
