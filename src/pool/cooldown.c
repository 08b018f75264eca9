/* cooldown.c - what an upstream answer does to the key that got it (pool.h): cooldowns of a
 * key for one model on 429 (Retry-After, 65 s, Google's daily quota until midnight in Los
 * Angeles, a long cooldown after N in a row), disabling on 401/403/402/quota, the streak reset
 * on success, and the key lifecycle log line. Pure except for the calls through
 * struct lx_pool_state_ops and the log; any thread. */
#include "pool/pool.h"

#include <string.h>

#include "core/log.h"
#include "pool/pool_int.h"

#define MS_PER_HOUR 3600000ull
#define MS_PER_DAY 86400000ull

/* ---- midnight in Los Angeles ------------------------------------------------------------- */

/* Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    int64_t era, y;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    return y + (mp >= 10); /* months are counted from March */
}

/* The day (since the epoch) of the nth Sunday of month m in year y. */
static int64_t nth_sunday(int64_t y, unsigned m, unsigned nth)
{
    int64_t first = days_from_civil(y, m, 1);
    int64_t wd = (first + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */

    return first + (7 - wd) % 7 + 7 * (int64_t)(nth - 1);
}

/* US daylight saving time in year y: [start, end) as Unix ms, and the days it starts and
 * ends on. It starts at 02:00 PST (10:00 UTC) and ends at 02:00 PDT (09:00 UTC). */
struct dst_year {
    int64_t start_day, end_day;
    uint64_t start_ms, end_ms;
};

static struct dst_year dst_of(int64_t y)
{
    struct dst_year d;

    d.start_day = nth_sunday(y, 3, 2);
    d.end_day = nth_sunday(y, 11, 1);
    d.start_ms = (uint64_t)d.start_day * MS_PER_DAY + 10 * MS_PER_HOUR;
    d.end_ms = (uint64_t)d.end_day * MS_PER_DAY + 9 * MS_PER_HOUR;
    return d;
}

uint64_t lx_pool_la_midnight_after(uint64_t now_ms)
{
    struct dst_year d = dst_of(year_of_days((int64_t)(now_ms / MS_PER_DAY)));
    uint64_t offset = (now_ms >= d.start_ms && now_ms < d.end_ms) ? 7 : 8; /* hours behind */
    uint64_t local_ms = now_ms - offset * MS_PER_HOUR;
    int64_t next = (int64_t)(local_ms / MS_PER_DAY) + 1; /* the local date whose 00:00 we want */

    /* Transitions happen at 02:00, never at midnight: the 00:00 of a date is in PDT exactly
     * when the date is after the start day and not after the end day. */
    d = dst_of(year_of_days(next));
    offset = (next > d.start_day && next <= d.end_day) ? 7 : 8;
    return (uint64_t)next * MS_PER_DAY + offset * MS_PER_HOUR;
}

/* ---- the decision -------------------------------------------------------------------------- */

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

uint64_t lx_pool_cooldown_until(const struct lx_pool_conf *conf, bool google,
                                const struct lx_upstream_error *e, unsigned streak, uint64_t now_ms,
                                const char **reason)
{
    const char *why;
    uint64_t until;

    if (e->key_action != LX_KEY_COOLDOWN) {
        if (reason)
            *reason = NULL;
        return 0;
    }
    if (e->retry_after_ms >= 0) {
        uint64_t hi = conf->max_cooldown_ms > conf->min_cooldown_ms ? conf->max_cooldown_ms
                                                                    : conf->min_cooldown_ms;
        until = now_ms + clamp_u64((uint64_t)e->retry_after_ms, conf->min_cooldown_ms, hi);
        why = "retry_after";
    } else {
        until = now_ms + conf->cooldown_ms;
        why = "rate_limited";
    }
    if (e->daily_quota) {
        uint64_t m = lx_pool_la_midnight_after(now_ms);
        if (m > until)
            until = m;
        why = "daily_quota";
    } else if (conf->consecutive_429 > 0 && streak >= conf->consecutive_429) {
        uint64_t l = google ? lx_pool_la_midnight_after(now_ms) : now_ms + conf->long_cooldown_ms;
        if (l > until)
            until = l;
        why = "consecutive_429";
    }
    if (reason)
        *reason = why;
    return until;
}

static const char *disable_reason(const struct lx_upstream_error *e)
{
    switch (e->type) {
    case LX_ERRT_AUTHENTICATION:
        return "invalid_key";
    case LX_ERRT_PERMISSION:
        return "forbidden";
    case LX_ERRT_QUOTA:
        return "quota";
    default:
        return e->status == 401   ? "invalid_key"
               : e->status == 403 ? "forbidden"
               : e->status == 402 ? "quota"
                                  : "refused";
    }
}

void lx_pool_on_error(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                      const struct lx_pool_conf *conf, size_t index, struct lx_str model,
                      const struct lx_upstream_error *e, uint64_t now_ms,
                      struct lx_pool_verdict *out)
{
    struct lx_str id = lx_pool_key_id(pool, index);
    bool google = false;
    uint64_t until = 0;

    *out = (struct lx_pool_verdict){.action = LX_POOL_ACT_NONE};
    if (index >= lx_pool_size(pool))
        return;
    switch (e->key_action) {
    case LX_KEY_KEEP:
        return;
    case LX_KEY_DISABLE:
        out->action = LX_POOL_ACT_DISABLE;
        out->reason = disable_reason(e);
        ops->disable(ops->ctx, id, lx_str_cstr(out->reason), now_ms);
        return;
    case LX_KEY_COOLDOWN:
        break;
    }

    google = lx__pool_google(pool);
    /* A 429 that arrives while the key already cools for this model answers an attempt sent
     * before the cooldown began (parallel requests): it is the same event, not a new one in a
     * row, so it must not push the key into the long cooldown. */
    if (ops->key_status(ops->ctx, id, model, now_ms, &until) == LX_POOL_KEY_COOLING) {
        out->streak = 0;
    } else {
        out->streak = ops->streak_incr(ops->ctx, id, model, now_ms);
    }
    out->asked_ms = lx_pool_cooldown_until(conf, google, e, out->streak, now_ms, &out->reason);
    out->long_cooldown =
        strcmp(out->reason, "daily_quota") == 0 || strcmp(out->reason, "consecutive_429") == 0;
    if (out->long_cooldown && out->streak > 0)
        ops->streak_reset(ops->ctx, id, model); /* the next 429 after it starts a new count */
    out->action = LX_POOL_ACT_COOLDOWN;
    out->until_ms = out->asked_ms;
    ops->cooldown_set(ops->ctx, id, model, out->asked_ms, lx_str_cstr(out->reason), now_ms,
                      &out->until_ms);
    if (out->until_ms < out->asked_ms)
        out->until_ms = out->asked_ms; /* a state that does not report the end */
}

void lx_pool_on_success(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                        size_t index, struct lx_str model, uint64_t now_ms)
{
    if (index < lx_pool_size(pool))
        ops->streak_reset(ops->ctx, lx_pool_key_id(pool, index), model);
}

void lx_pool_log_verdict(const struct lx_pool *pool, size_t index, struct lx_str model,
                         const struct lx_pool_verdict *v)
{
    struct lx_logline l;

    if (v->action == LX_POOL_ACT_NONE ||
        !lx_log_begin(&l, LX_LOG_WARN,
                      v->action == LX_POOL_ACT_COOLDOWN ? "key_cooldown" : "key_disabled"))
        return;
    lx_log_str(&l, "key", lx_pool_key_label(pool, index));
    lx_log_str(&l, "provider", lx_pool_provider(pool));
    if (v->action == LX_POOL_ACT_COOLDOWN) {
        lx_log_str(&l, "model", model);
        lx_log_uint(&l, "until_ms", v->until_ms);
        lx_log_uint(&l, "streak", v->streak);
        lx_log_bool(&l, "long", v->long_cooldown);
    }
    lx_log_cstr(&l, "reason", v->reason);
    lx_log_end(&l);
}
