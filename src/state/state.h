/* state.h - the small, shared, mutable state of the gateway: key cooldowns, consecutive 429s,
 * disabled keys, per-target circuit breakers, latency averages, requests in flight and the
 * per-provider retry budget (DESIGN.md "Threads and loops", issue 5).
 *
 * One struct lx_state per process, made before the worker threads start and freed after they
 * stop; every other function may be called from any thread at the same time. Each record kind
 * is a small hash table behind its own short mutex: a call takes one lock, never does I/O and
 * never allocates on a read (only the first write of a new entry allocates). Time is always
 * passed in (now_ms, milliseconds on one clock for every call; with Redis attached it must be
 * the Unix epoch, lx_now_wall_ms(), so that instances agree), never read here, so tests drive
 * a fake clock.
 *
 * Names: a key is named by its key id, "<provider>#<index>" (plus the last 4 characters for
 * humans: "openai#2(...x9Qa)"), never by the key itself. A target is "<provider>/<model>".
 * Names are copied (at most LX_STATE_NAME_MAX bytes; longer ones are refused with LX_EINVAL
 * on writes and read as "no entry"). Every table holds at most conf.max_entries entries;
 * when full, expired entries go first, then the least recently touched one (never a disabled
 * key: disabling then fails with LX_ETOOBIG).
 *
 * Redis (redis.c) makes the same interface shared by several instances: reads stay local
 * (the tables are a cache), changes of cooldowns, disabled keys and breakers are written to
 * Redis from a dedicated thread and published to the other instances. Redis being down never
 * fails a call here. */
#ifndef LX_STATE_H
#define LX_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define LX_STATE_NAME_MAX 192   /* key id, model or target id, in bytes */
#define LX_STATE_REASON_MAX 128 /* a disabled key's reason, cut to fit (NUL included) */

struct lx_state;

/* ---- events (the key lifecycle log) -------------------------------------------------------- */

enum lx_state_event_type {
    LX_STATE_EV_COOLDOWN = 0, /* key, model, until_ms, reason: set or extended */
    LX_STATE_EV_DISABLE,      /* key, reason */
    LX_STATE_EV_ENABLE,       /* key, reason ("probe", "operator", ...) */
    LX_STATE_EV_BREAKER_OPEN, /* target (in key), until_ms */
    LX_STATE_EV_BREAKER_HALF_OPEN,
    LX_STATE_EV_BREAKER_CLOSE,
};

struct lx_state_event {
    enum lx_state_event_type type;
    struct lx_str key;    /* key id, or the target id for breaker events */
    struct lx_str model;  /* cooldowns; empty otherwise */
    struct lx_str reason; /* may be empty */
    uint64_t until_ms;    /* cooldown end, breaker open until; 0 otherwise */
    uint64_t now_ms;
    bool remote; /* the change came from another instance through Redis */
};

/* Called after the change, outside every lock of this module, on the thread that made the
 * change (the Redis thread for remote ones). The event's strings live during the call only.
 * It may call lx_state_* functions. */
typedef void lx_state_event_cb(void *data, const struct lx_state_event *ev);

const char *lx_state_event_name(enum lx_state_event_type t); /* "cooldown", "disable", ... */

/* ---- lifecycle ----------------------------------------------------------------------------- */

struct lx_state_conf {
    size_t max_entries;            /* per table; default 65536 */
    uint64_t breaker_cooldown_ms;  /* open -> half-open after this; default 30000 */
    uint64_t breaker_window_ms;    /* rolling window of outcomes; default 10000 */
    unsigned breaker_consecutive;  /* open after this many failures in a row; default 5 */
    unsigned breaker_min_requests; /* ... or after >= failure_pct % of >= this many; default 5 */
    unsigned breaker_failure_pct;  /* default 50 */
    double latency_alpha;          /* EMA weight of a new sample, (0, 1]; default 0.2 */
    unsigned retry_ratio_pct;      /* retries allowed per 100 requests; default 20 */
    unsigned retry_min_per_s;      /* retries allowed per second on top; default 10 */
    uint64_t streak_ttl_ms;        /* a 429 count untouched this long is forgotten; 24 h */
    lx_state_event_cb *on_event;   /* NULL: no events */
    void *event_data;
};

void lx_state_conf_defaults(struct lx_state_conf *c); /* every field above at its default */

/* conf is copied; NULL means the defaults. Never fails (fixed-size allocations abort). */
struct lx_state *lx_state_new(const struct lx_state_conf *conf);
/* Stops the Redis thread if one was attached, then frees everything. No other thread may be
 * using st. NULL is fine. */
void lx_state_free(struct lx_state *st);

/* ---- cooldowns per (key id, model) ----------------------------------------------------------- */

/* Cools the key down for model until until_ms. An active cooldown is never shortened: a later
 * end replaces it, an earlier one is ignored. reason (copied, cut to LX_STATE_REASON_MAX)
 * is for the event only. *effective_until (may be NULL) gets the end now in force.
 * Returns LX_OK (set, extended or kept) or LX_EINVAL (bad names). */
int lx_state_cooldown_set(struct lx_state *st, struct lx_str key, struct lx_str model,
                          uint64_t until_ms, struct lx_str reason, uint64_t now_ms,
                          uint64_t *effective_until);
/* true while the key is cooling down for model at now_ms; *until_ms (may be NULL) gets the
 * end (0 when not cooling). Expired entries are dropped here. */
bool lx_state_cooldown_get(struct lx_state *st, struct lx_str key, struct lx_str model,
                           uint64_t now_ms, uint64_t *until_ms);
/* Ends a cooldown early (an operator's reset). true if one was active. */
bool lx_state_cooldown_clear(struct lx_state *st, struct lx_str key, struct lx_str model);

/* ---- consecutive 429s per (key id, model) ---------------------------------------------------- */

/* +1, returns the new count (0 on bad names). */
unsigned lx_state_streak_incr(struct lx_state *st, struct lx_str key, struct lx_str model,
                              uint64_t now_ms);
unsigned lx_state_streak_get(struct lx_state *st, struct lx_str key, struct lx_str model,
                             uint64_t now_ms);
void lx_state_streak_reset(struct lx_state *st, struct lx_str key, struct lx_str model);

/* ---- disabled keys per key id ---------------------------------------------------------------- */

struct lx_state_disabled {
    char key[LX_STATE_NAME_MAX + 1];  /* NUL-terminated */
    char reason[LX_STATE_REASON_MAX]; /* NUL-terminated, never a key */
    uint64_t since_ms;
};

/* Disables the key (reason copied, cut). Already disabled: kept as it was (first reason and
 * since_ms win), no event. LX_OK, LX_EINVAL (bad name) or LX_ETOOBIG (table full). */
int lx_state_disable(struct lx_state *st, struct lx_str key, struct lx_str reason, uint64_t now_ms);
/* Enables it again (why: "probe", "operator"; for the event). true if it was disabled. */
bool lx_state_enable(struct lx_state *st, struct lx_str key, struct lx_str why, uint64_t now_ms);
/* true if disabled; *out (may be NULL) gets the record. */
bool lx_state_disabled_get(struct lx_state *st, struct lx_str key, struct lx_state_disabled *out);
/* Copies up to cap records into out (any order) and returns how many keys are disabled in
 * all (may be more than cap). */
size_t lx_state_disabled_list(struct lx_state *st, struct lx_state_disabled *out, size_t cap);

/* What key-pool selection asks first: one call, both tables. */
enum lx_state_key_status {
    LX_STATE_KEY_OK = 0,
    LX_STATE_KEY_COOLING, /* *until_ms = the cooldown's end */
    LX_STATE_KEY_DISABLED,
};
enum lx_state_key_status lx_state_key_status(struct lx_state *st, struct lx_str key,
                                             struct lx_str model, uint64_t now_ms,
                                             uint64_t *until_ms);

/* ---- circuit breakers per target id ("<provider>/<model>") ---------------------------------- */

enum lx_breaker_state {
    LX_BREAKER_CLOSED = 0, /* traffic flows; outcomes are counted */
    LX_BREAKER_OPEN,       /* no traffic until until_ms */
    LX_BREAKER_HALF_OPEN,  /* one probe at a time; its outcome closes or re-opens */
};
const char *lx_breaker_state_name(enum lx_breaker_state s); /* "closed", "open", "half_open" */

struct lx_state_breaker {
    enum lx_breaker_state state;
    uint64_t until_ms;            /* OPEN: when half-open begins */
    unsigned successes, failures; /* in the rolling window */
    unsigned consecutive_failures;
    bool probe_in_flight; /* HALF_OPEN: the probe is out */
};

/* May a request go to target now? CLOSED: true. OPEN: false until until_ms, then it turns
 * HALF_OPEN and this call claims the probe (true). HALF_OPEN: true only if no probe is out
 * (a probe unanswered for breaker_cooldown_ms is taken as lost). Every true must be followed
 * by one lx_state_breaker_report for that request. */
bool lx_state_breaker_allow(struct lx_state *st, struct lx_str target, uint64_t now_ms);
/* The outcome of a request allowed above. CLOSED: counted; opens after breaker_consecutive
 * failures in a row or >= breaker_failure_pct % failures of >= breaker_min_requests in the
 * window. HALF_OPEN: success closes (counts cleared), failure re-opens. OPEN: ignored
 * (requests sent before it opened). */
void lx_state_breaker_report(struct lx_state *st, struct lx_str target, bool success,
                             uint64_t now_ms);
/* Read only (route-check, /health): no transition, no probe claimed. Unknown targets read as
 * CLOSED with zero counts. */
void lx_state_breaker_get(struct lx_state *st, struct lx_str target, uint64_t now_ms,
                          struct lx_state_breaker *out);

/* ---- latency: moving average of time to first token per target ------------------------------ */

void lx_state_latency_add(struct lx_state *st, struct lx_str target, double ttft_ms,
                          uint64_t now_ms);
/* false (and *ema_ms = 0, *samples = 0) when there is no sample yet. */
bool lx_state_latency_get(struct lx_state *st, struct lx_str target, double *ema_ms,
                          uint64_t *samples);

/* ---- requests in flight per target ------------------------------------------------------- */

/* delta is +1 when a request starts, -1 when it ends; returns the new count (never below 0). */
long lx_state_inflight_add(struct lx_state *st, struct lx_str target, int delta, uint64_t now_ms);
long lx_state_inflight_get(struct lx_state *st, struct lx_str target);

/* ---- retry budget per provider ----------------------------------------------------------- */

/* Counts one first attempt of a request to provider (rolling 1 s window). */
void lx_state_budget_request(struct lx_state *st, struct lx_str provider, uint64_t now_ms);
/* Claims one retry if, with it, retries in the last second stay <= retry_ratio_pct % of the
 * requests + retry_min_per_s; true = go ahead (and it is counted), false = do not retry. */
bool lx_state_budget_retry(struct lx_state *st, struct lx_str provider, uint64_t now_ms);
/* Read only: requests and retries in the window ending at now_ms. */
void lx_state_budget_get(struct lx_state *st, struct lx_str provider, uint64_t now_ms,
                         unsigned *requests, unsigned *retries);

/* ---- Redis (redis.c) ------------------------------------------------------------------------ */

struct lx_state_redis_conf {
    const char *host;        /* IPv4/IPv6 literal or name; default "127.0.0.1" */
    int port;                /* default 6379 */
    const char *password;    /* NULL: no AUTH */
    const char *prefix;      /* key and channel prefix; default "llmux:" */
    unsigned timeout_ms;     /* connect and command timeout; default 1000 */
    unsigned backoff_max_ms; /* reconnect backoff cap (starts at 100 ms, doubles); default 5000 */
};

/* Parses "redis://[:password@]host[:port][/db]" (db must be 0 or absent) into c, whose
 * strings point into buf (cap bytes, filled here). LX_OK or LX_EINVAL. */
int lx_state_redis_parse_url(const char *url, struct lx_state_redis_conf *c, char *buf, size_t cap);
/* Call once, after lx_state_new and before the worker threads start (the hook it installs is
 * read without a lock). Starts the Redis thread (its own uv loop): it connects, subscribes, loads
 * the current cooldowns, disabled keys and open breakers into st, then writes and publishes every
 * later change; it reconnects with backoff when Redis goes away. Returns at once (the connection is
 * made in the background). LX_OK, LX_EINVAL (already attached, bad conf) or LX_ESYS. */
int lx_state_redis_attach(struct lx_state *st, const struct lx_state_redis_conf *conf);
/* For /health: "off" (not attached), "connecting", "connected", or
 * "down since 2026-11-22T06:10:00.000Z" (Unix ms of the clock given by now_ms calls).
 * Writes a NUL-terminated string into out (cap >= 48 is enough); returns true if connected. */
bool lx_state_redis_status(struct lx_state *st, char *out, size_t cap);

#endif /* LX_STATE_H */
