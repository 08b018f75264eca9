/* pool.h - upstream key pools and the retry policy (issue 5 item 1): which key of a provider
 * serves a request, what an upstream error does to that key (cooldown, disable), whether and
 * when a failed attempt may be tried again, and which disabled keys are due for a probe.
 *
 * Pure logic: no I/O, no clock (now_ms is passed in: milliseconds since the Unix epoch, because
 * the Los Angeles midnight is a wall-clock rule), no randomness of its own (the caller passes a
 * random number). The mutable, shared records (cooldowns, consecutive 429s, disabled keys, the
 * retry budget) live behind struct lx_pool_state_ops, so the same logic runs over state/ (every
 * thread, optionally Redis) or over the small in-memory table of this module (tests).
 *
 * Ownership: a struct lx_pool is made per provider per configuration snapshot (lx_pool_new)
 * and freed with it; after lx_pool_new it is read only except for atomics (the round-robin
 * counter, the probe clocks), so any worker thread may use it at once. It never holds a key:
 * only the key's index, its id "<provider>#<index>" and, for humans, its last 4 characters
 * ("openai#2(...x9Qa)"). */
#ifndef LX_POOL_H
#define LX_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/str.h"
#include "providers/ir.h"

/* ---- configuration ------------------------------------------------------------------------ */

enum lx_pool_strategy {
    LX_POOL_RANDOM = 0,  /* uniform among usable keys (S1) */
    LX_POOL_WEIGHTED,    /* by weight among usable keys */
    LX_POOL_ROUND_ROBIN, /* the next usable key after the last one picked */
};
const char *lx_pool_strategy_name(enum lx_pool_strategy s); /* "random", "weighted", ... */
int lx_pool_strategy_parse(struct lx_str name, enum lx_pool_strategy *out); /* LX_OK/EINVAL */

/* Rules shared by every pool of a snapshot. lx_pool_conf_defaults gives the values. */
struct lx_pool_conf {
    uint64_t cooldown_ms;       /* 429 without Retry-After: 65 s */
    uint64_t min_cooldown_ms;   /* a Retry-After below this is raised to it: 1 s */
    uint64_t max_cooldown_ms;   /* a Retry-After above this is cut to it: 24 h */
    unsigned consecutive_429;   /* this many 429s in a row on a key and model: 2 */
    uint64_t long_cooldown_ms;  /* ... then this (non-Google providers): 24 h */
    unsigned max_attempts;      /* attempts per request, the first included: 3 */
    uint64_t backoff_base_ms;   /* full jitter in [0, min(cap, base * 2^n)]: 100 ms */
    uint64_t backoff_cap_ms;    /* 5 s */
    bool retry_timeouts;        /* retry an attempt that timed out before any byte: true */
    unsigned budget_ratio_pct;  /* retries <= this % of requests ... : 20 */
    unsigned budget_min_per_s;  /* ... + this many per second (rolling 1 s window): 10 */
    bool probe_enabled;         /* probe disabled keys: false */
    uint64_t probe_interval_ms; /* between two probes of one key: 10 min */
};
void lx_pool_conf_defaults(struct lx_pool_conf *c);

/* ---- the shared records (state/ or lx_pool_mem) ------------------------------------------ */

enum lx_pool_key_status {
    LX_POOL_KEY_OK = 0,
    LX_POOL_KEY_COOLING, /* *until_ms = the cooldown's end */
    LX_POOL_KEY_DISABLED,
};

/* What the pool needs from the shared state. Every function is called from any worker thread
 * and must not block on I/O. key is a key id ("openai#2"), model the upstream model, provider
 * the provider's name. Times are now_ms's clock. These map one to one onto state/state.h. */
struct lx_pool_state_ops {
    /* One read for selection: disabled (for every model), else cooling for model, else OK. */
    enum lx_pool_key_status (*key_status)(void *ctx, struct lx_str key, struct lx_str model,
                                          uint64_t now_ms, uint64_t *until_ms);
    /* Sets a cooldown that never shortens an active one; *effective gets the end in force. */
    void (*cooldown_set)(void *ctx, struct lx_str key, struct lx_str model, uint64_t until_ms,
                         struct lx_str reason, uint64_t now_ms, uint64_t *effective);
    unsigned (*streak_incr)(void *ctx, struct lx_str key, struct lx_str model, uint64_t now_ms);
    void (*streak_reset)(void *ctx, struct lx_str key, struct lx_str model);
    void (*disable)(void *ctx, struct lx_str key, struct lx_str reason, uint64_t now_ms);
    void (*enable)(void *ctx, struct lx_str key, struct lx_str why, uint64_t now_ms);
    /* true if disabled; *since_ms gets when. */
    bool (*disabled_get)(void *ctx, struct lx_str key, uint64_t *since_ms);
    /* The retry budget per provider: count a request's first attempt; claim one retry. */
    void (*budget_request)(void *ctx, struct lx_str provider, uint64_t now_ms);
    bool (*budget_retry)(void *ctx, struct lx_str provider, uint64_t now_ms);
    void *ctx;
};

/* ---- pools ----------------------------------------------------------------------------------- */

struct lx_pool;

struct lx_pool_spec {
    const char *provider;    /* the provider's name; copied */
    size_t n_keys;           /* may be 0 (local backends): every pick says LX_POOL_NO_KEYS */
    const char *const *keys; /* optional: only the last 4 bytes of each (keys at least 12
                              * bytes long) are read and kept, for labels; never the rest */
    const unsigned *weights; /* optional, n_keys entries (NULL: all 1). Weighted pools: a key
                              * of weight 0 is a spare, picked only when no key of positive
                              * weight is usable; all 0 count as all 1 */
    enum lx_pool_strategy strategy;
    bool google; /* Google AI Studio: the long cooldown ends at LA midnight */
};

/* Never fails (fixed-size internal allocations abort). Free with lx_pool_free (NULL-safe). */
struct lx_pool *lx_pool_new(const struct lx_pool_spec *spec);
void lx_pool_free(struct lx_pool *pool);

size_t lx_pool_size(const struct lx_pool *pool);
struct lx_str lx_pool_provider(const struct lx_pool *pool);
/* "openai#2": the name the shared state knows the key by. Valid while pool lives. */
struct lx_str lx_pool_key_id(const struct lx_pool *pool, size_t index);
/* "openai#2(...x9Qa)", or "openai#2" when the key was not given or is short: for logs. */
struct lx_str lx_pool_key_label(const struct lx_pool *pool, size_t index);

enum lx_pool_pick_status {
    LX_POOL_PICKED = 0,   /* index is the key to use */
    LX_POOL_NO_KEYS,      /* the provider has no keys: send without one */
    LX_POOL_EXHAUSTED,    /* usable keys exist, but the request tried them all already */
    LX_POOL_ALL_COOLING,  /* none usable, some cooling: 429, Retry-After from retry_at_ms */
    LX_POOL_ALL_DISABLED, /* every key is disabled: 503 */
};
const char *lx_pool_pick_status_name(enum lx_pool_pick_status s); /* "picked", ... */

struct lx_pool_pick {
    enum lx_pool_pick_status status;
    size_t index;         /* PICKED: into the provider's keys */
    uint64_t retry_at_ms; /* ALL_COOLING: the soonest cooldown end */
};

/* Picks a key for model by the pool's strategy among keys neither disabled nor cooling for
 * model at now_ms, leaving out the n_tried indices in tried (keys this request already used).
 * rnd is a random number (any 64 bits; the same rnd and state give the same answer).
 * Random and weighted pools try up to 8 draws first, then scan every key once; round-robin
 * scans from its counter. Fills *out; returns LX_OK, or LX_EINVAL for a NULL argument. */
int lx_pool_pick(struct lx_pool *pool, const struct lx_pool_state_ops *ops, struct lx_str model,
                 const size_t *tried, size_t n_tried, uint64_t rnd, uint64_t now_ms,
                 struct lx_pool_pick *out);

/* What lx_pool_pick would say, without choosing: PICKED with the first usable key, or the
 * same no-key status. Moves no counter (a round-robin pool keeps its turn): "is there another
 * key?" before a retry. */
int lx_pool_peek(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                 struct lx_str model, const size_t *tried, size_t n_tried, uint64_t now_ms,
                 struct lx_pool_pick *out);

/* The pool's state for model (GET /v1/route-check, /health): counts of usable, cooling and
 * disabled keys, and the soonest cooldown end (0 when none cools). One pass over every key. */
struct lx_pool_counts {
    size_t usable, cooling, disabled;
    uint64_t soonest_end_ms;
};
void lx_pool_counts(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                    struct lx_str model, uint64_t now_ms, struct lx_pool_counts *out);

/* ---- what an answer does to the key --------------------------------------------------------- */

enum lx_pool_action {
    LX_POOL_ACT_NONE = 0, /* nothing changed */
    LX_POOL_ACT_COOLDOWN, /* the key cools for this model until until_ms */
    LX_POOL_ACT_DISABLE,  /* the key is disabled for the provider */
};

struct lx_pool_verdict {
    enum lx_pool_action action;
    uint64_t until_ms;  /* COOLDOWN: the end now in force (never earlier than before) */
    uint64_t asked_ms;  /* COOLDOWN: the end this answer asked for */
    unsigned streak;    /* COOLDOWN: consecutive 429s counted (0: not counted, see below) */
    bool long_cooldown; /* COOLDOWN: the threshold or a daily quota */
    const char *reason; /* static: "retry_after", "rate_limited", "daily_quota",
                         * "consecutive_429", "invalid_key", "forbidden", "quota" */
};

/* The cooldown end an error asks for, before the never-shorten rule and the streak: pure.
 * streak is the consecutive 429 count including this one (0 = not counted). 429-type errors
 * only (key_action COOLDOWN); for others it returns 0. *reason (may be NULL) gets why. */
uint64_t lx_pool_cooldown_until(const struct lx_pool_conf *conf, bool google,
                                const struct lx_upstream_error *e, unsigned streak, uint64_t now_ms,
                                const char **reason);

/* An upstream error answer on key index for model: applies the rules of pool.md to the shared
 * state and says what it did (for the key lifecycle log). A 429 while the key already cools
 * for that model (an attempt sent before the cooldown began) keeps the cooldown (or extends
 * it) but does not count toward the threshold. Errors whose key_action is KEEP do nothing. */
void lx_pool_on_error(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                      const struct lx_pool_conf *conf, size_t index, struct lx_str model,
                      const struct lx_upstream_error *e, uint64_t now_ms,
                      struct lx_pool_verdict *out);
/* A successful answer (any 2xx, or a stream that began): the 429 streak of key and model
 * resets. A cooldown in force stays (the attempt may predate it). */
void lx_pool_on_success(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                        size_t index, struct lx_str model, uint64_t now_ms);

/* Writes one "key_cooldown" / "key_disabled" log line naming the key by its label (the key
 * lifecycle log of issue 5). Nothing for ACT_NONE. */
void lx_pool_log_verdict(const struct lx_pool *pool, size_t index, struct lx_str model,
                         const struct lx_pool_verdict *v);

/* Midnight America/Los_Angeles strictly after now_ms (Unix ms), with the US rules since 2007:
 * PDT (UTC-7) from the second Sunday of March 02:00 PST to the first Sunday of November 02:00
 * PDT, PST (UTC-8) otherwise. No tzdata, no global state: safe on any thread. */
uint64_t lx_pool_la_midnight_after(uint64_t now_ms);

/* ---- the retry policy ------------------------------------------------------------------------ */

/* The caller's rule, named: an attempt may be repeated only while no byte of the answer has
 * been written to the client (headers included). */
bool lx_pool_retry_safe(uint64_t bytes_sent_to_client);

/* Full jitter: a delay in [0, min(cap, base * 2^retry)] from rnd; retry = 0 before the 2nd
 * attempt, 1 before the 3rd, ... */
uint64_t lx_pool_backoff_ms(const struct lx_pool_conf *conf, unsigned retry, uint64_t rnd);

/* May this failure be tried again elsewhere (another key or target), by its kind alone?
 * e: an upstream error answer, or NULL when transport_rc says what failed (LX_ETIMEDOUT,
 * LX_ECONNRESET, LX_ECONNREFUSED, LX_ECLOSED, LX_EDNS, LX_ETLS ...). */
bool lx_pool_retryable(const struct lx_pool_conf *conf, const struct lx_upstream_error *e,
                       int transport_rc);

struct lx_retry_in {
    struct lx_str provider; /* whose budget pays for the retry (the failed attempt's) */
    unsigned attempts;      /* attempts made so far, the failed one included (>= 1) */
    uint64_t bytes_sent;    /* bytes already written to the client */
    const struct lx_upstream_error *error; /* the answer, or NULL with transport_rc */
    int transport_rc;                      /* LX_E* when error is NULL */
};

enum lx_retry_why {
    LX_RETRY_GO = 0,        /* retry after delay_ms */
    LX_RETRY_BYTES_SENT,    /* the client already has bytes: never a second attempt */
    LX_RETRY_NOT_RETRYABLE, /* the error goes back to the client as it is */
    LX_RETRY_ATTEMPTS,      /* max_attempts reached */
    LX_RETRY_BUDGET,        /* the provider's retry budget is spent */
};
const char *lx_retry_why_name(enum lx_retry_why w); /* "retry", "bytes_sent", ... */

struct lx_retry_out {
    enum lx_retry_why why;
    uint64_t delay_ms; /* GO: 0 for a key's own failure (429, 401 ...), backoff otherwise */
};

/* The whole decision, in the order of enum lx_retry_why. Claims one retry from the budget
 * (ops->budget_retry) only when every other rule said yes. rnd feeds the jitter. */
void lx_pool_retry_decide(const struct lx_pool_conf *conf, const struct lx_pool_state_ops *ops,
                          const struct lx_retry_in *in, uint64_t rnd, uint64_t now_ms,
                          struct lx_retry_out *out);
/* The client's Retry-After for LX_POOL_ALL_COOLING: whole seconds from now_ms to retry_at_ms,
 * rounded up, at least 1. */
uint64_t lx_pool_retry_after_s(uint64_t retry_at_ms, uint64_t now_ms);
/* Count a request's first attempt in its provider's budget (once per client request). */
void lx_pool_note_request(const struct lx_pool_state_ops *ops, struct lx_str provider,
                          uint64_t now_ms);

/* The rolling window behind the budget, for state implementations that want it: 10 buckets
 * of 100 ms. Not thread-safe: its owner locks. */
#define LX_RETRY_WINDOW_BUCKETS 10
#define LX_RETRY_BUCKET_MS 100
struct lx_retry_window {
    uint64_t bucket_start[LX_RETRY_WINDOW_BUCKETS]; /* ms / LX_RETRY_BUCKET_MS of each slot */
    unsigned requests[LX_RETRY_WINDOW_BUCKETS];
    unsigned retries[LX_RETRY_WINDOW_BUCKETS];
};
void lx_retry_window_init(struct lx_retry_window *w);
void lx_retry_window_request(struct lx_retry_window *w, uint64_t now_ms);
/* Claims a retry if retries + 1 <= ratio_pct % of requests + min_per_s in the last second. */
bool lx_retry_window_retry(struct lx_retry_window *w, unsigned ratio_pct, unsigned min_per_s,
                           uint64_t now_ms);
void lx_retry_window_get(const struct lx_retry_window *w, uint64_t now_ms, unsigned *requests,
                         unsigned *retries);

/* ---- probes of disabled keys ------------------------------------------------------------------
 */

/* Writes into due[] (at most cap) the indices of disabled keys due for a probe at now_ms:
 * disabled for probe_interval_ms and not probed for as long. The keys returned are claimed
 * (no other caller gets them before the next interval). Returns how many; 0 when probes are
 * off. The caller sends each a cheap request and reports with lx_pool_probe_result. */
size_t lx_pool_probe_due(struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                         const struct lx_pool_conf *conf, uint64_t now_ms, size_t *due, size_t cap);
/* A probe's outcome: e NULL (a 2xx) or a rate limit (the key is valid) enable the key again,
 * and a rate limit also cools it for model; anything else leaves it disabled. true when the
 * key was enabled. */
bool lx_pool_probe_result(const struct lx_pool *pool, const struct lx_pool_state_ops *ops,
                          const struct lx_pool_conf *conf, size_t index, struct lx_str model,
                          const struct lx_upstream_error *e, uint64_t now_ms);

/* ---- a small in-memory state (tests, and a single process before state/ is wired) ----------- */

struct lx_pool_mem;
/* Thread-safe (one mutex), unbounded, linear: fine for tests and a handful of keys. */
struct lx_pool_mem *lx_pool_mem_new(const struct lx_pool_conf *conf);
void lx_pool_mem_free(struct lx_pool_mem *m);
/* ops whose ctx is m. */
void lx_pool_mem_ops(struct lx_pool_mem *m, struct lx_pool_state_ops *ops);
unsigned lx_pool_mem_streak(struct lx_pool_mem *m, struct lx_str key, struct lx_str model);

#endif /* LX_POOL_H */
