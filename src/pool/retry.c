/* retry.c - the retry policy (pool.h): which failures may be tried again, the backoff with
 * full jitter, the attempt limit, and the per-provider retry budget with its rolling window.
 * Pure except for the budget calls through struct lx_pool_state_ops; any thread. The window
 * itself is not thread-safe: whoever keeps one (state/, lx_pool_mem) locks around it. */
#include "pool/pool.h"

#include "core/common.h"
#include "core/err.h"

bool lx_pool_retry_safe(uint64_t bytes_sent_to_client) { return bytes_sent_to_client == 0; }

uint64_t lx_pool_backoff_ms(const struct lx_pool_conf *conf, unsigned retry, uint64_t rnd)
{
    uint64_t ceil = conf->backoff_base_ms;

    /* double until the cap; stop early so a large retry number cannot overflow */
    for (unsigned i = 0; i < retry && ceil < conf->backoff_cap_ms; i++)
        ceil *= 2;
    if (ceil > conf->backoff_cap_ms)
        ceil = conf->backoff_cap_ms;
    return rnd % (ceil + 1);
}

bool lx_pool_retryable(const struct lx_pool_conf *conf, const struct lx_upstream_error *e,
                       int transport_rc)
{
    if (e != NULL) {
        if (!e->retryable)
            return false;
        /* the key's own refusal (429, 401, 403, 402, Google's invalid key): another key;
         * the upstream's failure (5xx, 529, 408/504): another key or target */
        return e->key_action != LX_KEY_KEEP || e->status >= 500 || e->type == LX_ERRT_OVERLOADED ||
               e->type == LX_ERRT_SERVER || e->type == LX_ERRT_TIMEOUT;
    }
    switch (transport_rc) {
    case LX_ETIMEDOUT:
        return conf->retry_timeouts; /* the upstream may have billed it (reliability 4.3) */
    case LX_ECONNRESET:
    case LX_ECONNREFUSED:
    case LX_ECLOSED:
    case LX_EDNS:
    case LX_ETLS:
    case LX_EPROTO:
    case LX_ETRUNCATED:
    case LX_EUPSTREAM:
        return true;
    default:
        return false; /* ours (ENOMEM, EINVAL, ETOOBIG), or the request ended (ECANCELED) */
    }
}

static const char *const why_names[] = {
    [LX_RETRY_GO] = "retry",
    [LX_RETRY_BYTES_SENT] = "bytes_sent",
    [LX_RETRY_NOT_RETRYABLE] = "not_retryable",
    [LX_RETRY_ATTEMPTS] = "attempts",
    [LX_RETRY_BUDGET] = "budget",
};

const char *lx_retry_why_name(enum lx_retry_why w)
{
    return (unsigned)w < LX_ARRAY_SIZE(why_names) ? why_names[w] : "unknown";
}

void lx_pool_retry_decide(const struct lx_pool_conf *conf, const struct lx_pool_state_ops *ops,
                          const struct lx_retry_in *in, uint64_t rnd, uint64_t now_ms,
                          struct lx_retry_out *out)
{
    *out = (struct lx_retry_out){.why = LX_RETRY_GO};
    if (!lx_pool_retry_safe(in->bytes_sent))
        out->why = LX_RETRY_BYTES_SENT;
    else if (!lx_pool_retryable(conf, in->error, in->transport_rc))
        out->why = LX_RETRY_NOT_RETRYABLE;
    else if (in->attempts >= conf->max_attempts)
        out->why = LX_RETRY_ATTEMPTS;
    else if (!ops->budget_retry(ops->ctx, in->provider, now_ms))
        out->why = LX_RETRY_BUDGET;
    else if (in->error == NULL || in->error->key_action == LX_KEY_KEEP)
        out->delay_ms = lx_pool_backoff_ms(conf, in->attempts ? in->attempts - 1 : 0, rnd);
    /* else: the key refused, another key is not overloaded by it: go at once */
}

uint64_t lx_pool_retry_after_s(uint64_t retry_at_ms, uint64_t now_ms)
{
    uint64_t s = retry_at_ms > now_ms ? (retry_at_ms - now_ms + 999) / 1000 : 0;

    return s > 0 ? s : 1;
}

void lx_pool_note_request(const struct lx_pool_state_ops *ops, struct lx_str provider,
                          uint64_t now_ms)
{
    ops->budget_request(ops->ctx, provider, now_ms);
}

/* ---- the rolling window ---------------------------------------------------------------------- */

void lx_retry_window_init(struct lx_retry_window *w) { *w = (struct lx_retry_window){0}; }

static size_t slot_for(struct lx_retry_window *w, uint64_t now_ms)
{
    uint64_t b = now_ms / LX_RETRY_BUCKET_MS;
    size_t s = (size_t)(b % LX_RETRY_WINDOW_BUCKETS);

    if (w->bucket_start[s] != b) { /* an older bucket lived here: start it afresh */
        w->bucket_start[s] = b;
        w->requests[s] = 0;
        w->retries[s] = 0;
    }
    return s;
}

void lx_retry_window_get(const struct lx_retry_window *w, uint64_t now_ms, unsigned *requests,
                         unsigned *retries)
{
    uint64_t b = now_ms / LX_RETRY_BUCKET_MS;
    unsigned rq = 0, rt = 0;

    for (size_t s = 0; s < LX_RETRY_WINDOW_BUCKETS; s++) {
        if (w->bucket_start[s] <= b && b - w->bucket_start[s] < LX_RETRY_WINDOW_BUCKETS) {
            rq += w->requests[s];
            rt += w->retries[s];
        }
    }
    *requests = rq;
    *retries = rt;
}

void lx_retry_window_request(struct lx_retry_window *w, uint64_t now_ms)
{
    w->requests[slot_for(w, now_ms)]++;
}

bool lx_retry_window_retry(struct lx_retry_window *w, unsigned ratio_pct, unsigned min_per_s,
                           uint64_t now_ms)
{
    size_t s = slot_for(w, now_ms);
    unsigned rq, rt;

    lx_retry_window_get(w, now_ms, &rq, &rt);
    /* the window is one second long, so min_per_s is the allowance of one window */
    if (100ull * (rt + 1) > (uint64_t)ratio_pct * rq + 100ull * min_per_s)
        return false;
    w->retries[s]++;
    return true;
}
