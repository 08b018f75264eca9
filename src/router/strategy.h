/* strategy.h - orders the candidates of one routing decision (router.h) by the alias's strategy
 * (priority, weighted, latency, cost, least-busy), skips targets whose circuit breaker is open
 * or that have no usable key, picks the next target after a context_length_exceeded, and
 * explains the plan for GET /v1/route-check.
 *
 * Pure: no I/O, no globals, no locks, no allocation, no clock (now_ms is passed in), no
 * randomness of its own (the caller passes a random number, so a seed replays a decision).
 * Live state (latency averages, requests in flight, breakers, key pools) comes from the
 * caller through struct lx_route_signals, whose functions must be cheap and non-blocking
 * (state/ reads its local copy; never a network round trip). Callable from any thread that
 * holds the configuration snapshot; a struct lx_route_plan borrows from the lx_route_result it
 * was made from, so it is valid as long as that is. Nothing here ever sees a key. */
#ifndef LX_ROUTER_STRATEGY_H
#define LX_ROUTER_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "router/router.h"
#include "json/writer.h"

/* Token counts assumed by the cost strategy when the request gives none. */
#define LX_ROUTE_COST_DEFAULT_TOKENS 1000u

enum lx_route_breaker {
    LX_ROUTE_BREAKER_CLOSED = 0, /* traffic flows (also: no breaker known) */
    LX_ROUTE_BREAKER_HALF_OPEN,  /* this request may be the probe: kept in its place */
    LX_ROUTE_BREAKER_OPEN,       /* no traffic: skipped. state/ answers OPEN for a half-open
                                  * breaker whose probe is already taken */
};

/* Why a target is not in plan.order. */
enum lx_route_skip {
    LX_ROUTE_SKIP_NONE = 0,
    LX_ROUTE_SKIP_DISABLED,       /* provider disabled in the configuration (res->skipped) */
    LX_ROUTE_SKIP_BREAKER_OPEN,   /* its circuit breaker is open */
    LX_ROUTE_SKIP_KEYS_COOLING,   /* no usable key; at least one cools down (429 material) */
    LX_ROUTE_SKIP_KEYS_DISABLED,  /* no usable key; every key is disabled (503 material) */
    LX_ROUTE_SKIP_UNHEALTHY,      /* its provider fails its active health checks */
    LX_ROUTE_SKIP_CONTEXT_WINDOW, /* the prompt estimate exceeds its context_window */
};

/* A target's key pool as the key store sees it now (for this provider and model). */
struct lx_route_keys {
    unsigned usable, cooling, disabled;
    uint64_t soonest_ms; /* earliest end of a cooldown (absolute, like now_ms); 0 = none */
};

/* Live per-target signals, all optional (a NULL function means "unknown"). Each is called at
 * most once per candidate and per lx_route_order(); ctx is passed back as is. The candidate
 * names the target: c->provider_index (or c->provider->name) and c->model. */
struct lx_route_signals {
    void *ctx;
    /* Moving average of time to first token, microseconds; -1 = no measurement yet. */
    int64_t (*latency_us)(void *ctx, const struct lx_route_candidate *c);
    /* Requests in flight to the target now; -1 = unknown. */
    int64_t (*in_flight)(void *ctx, const struct lx_route_candidate *c);
    enum lx_route_breaker (*breaker)(void *ctx, const struct lx_route_candidate *c);
    /* Fills *out and returns true; false = unknown (e.g. the client brought its own key). */
    bool (*keys)(void *ctx, const struct lx_route_candidate *c, struct lx_route_keys *out);
    /* false when the provider's active health checks say it is down; NULL = healthy. */
    bool (*healthy)(void *ctx, const struct lx_route_candidate *c);
};

struct lx_route_order_req {
    uint64_t now_ms;       /* for retry_after_ms and the explanation */
    uint64_t random;       /* any 64-bit random number (weighted draws); same -> same plan */
    uint64_t input_tokens; /* estimated prompt tokens; 0 = unknown */
    uint64_t max_tokens;   /* the request's max_tokens; 0 = not given */
    bool has_strategy;     /* override the alias's strategy (tests, route-check ?strategy=) */
    enum lx_config_strategy strategy;
};

/* One target with what the strategy saw. Unknown numbers are -1. */
struct lx_route_pick {
    struct lx_route_candidate cand;
    const struct lx_config_target *target; /* the alias target; NULL for non-alias rules */
    enum lx_route_skip skip;               /* NONE in order[] */
    enum lx_route_breaker breaker;
    bool unhealthy; /* the provider's health checks fail */
    bool has_keys;
    struct lx_route_keys keys;
    int64_t latency_us;
    int64_t in_flight;
    double cost_usd;         /* for the request's token counts; -1 = no price */
    unsigned weight;         /* the target's weight (1 when not an alias) */
    uint64_t context_window; /* 0 = unknown */
};

struct lx_route_plan {
    enum lx_config_strategy strategy;
    struct lx_route_pick order[LX_ROUTE_MAX_CANDIDATES]; /* try in this order */
    size_t n_order;
    struct lx_route_pick skipped[LX_ROUTE_MAX_CANDIDATES]; /* never tried, with the reason */
    size_t n_skipped;
    /* When n_order == 0: what to answer. 429 when some target's keys only cool down
     * (retry_after_ms: until the soonest cooldown end, at least 1000), else 503 (breakers open,
     * keys disabled, providers disabled). 0 when n_order > 0. */
    int http_status;
    int64_t retry_after_ms; /* -1 unless http_status is 429 */
    struct lx_err err;      /* when n_order == 0: rc LX_ENOTFOUND, http_status, msg */
    const char *type;       /* "rate_limit_error" or "service_unavailable_error"; NULL if OK */
    const char *code;       /* "rate_limited", "provider_unavailable" ...; NULL if OK */
    bool context_kept;      /* every target was too small for input_tokens: kept anyway (the
                             * estimate may be wrong; the upstream decides) */
};

/* Orders res's candidates (res from lx_route(), status OK or UNAVAILABLE) by the alias's
 * strategy (priority for non-alias rules), fills *out. sig may be NULL (nothing known).
 *   priority:   as written.
 *   weighted:   the first drawn by weight with req->random among the usable targets; the rest
 *               by descending weight, then as written. Weight 0 is never drawn (fallback only);
 *               if every weight is 0 they count as 1.
 *   latency:    targets without a measurement first (so each gets measured), as written; then
 *               by ascending latency_us.
 *   cost:       by ascending (input_tokens * price_in + max_tokens * price_out) / 1e6, unknown
 *               counts taken as LX_ROUTE_COST_DEFAULT_TOKENS; unpriced targets last.
 *   least-busy: by ascending in_flight (unknown counts as 0).
 * Ties keep the written order. Skipped: open breakers, no usable key, a known context_window
 * below input_tokens (unless that would skip every target left: then they stay, context_kept).
 * Returns LX_OK when out->n_order >= 1, else LX_ENOTFOUND (see http_status). */
int lx_route_order(const struct lx_route_result *res, const struct lx_route_order_req *req,
                   const struct lx_route_signals *sig, struct lx_route_plan *out);

/* Context-window fallback: plan->order[failed] answered context_length_exceeded. Returns the
 * index in plan->order of the next target to try, the first after `failed` whose known
 * context_window is larger than both the failed target's and input_tokens (0 = unknown);
 * -1 when none is known to be larger (then the error goes back to the client). */
long lx_route_next_larger(const struct lx_route_plan *plan, size_t failed, uint64_t input_tokens);

const char *lx_route_strategy_name(enum lx_config_strategy s); /* "priority" ... */
const char *lx_route_skip_name(enum lx_route_skip s);          /* "breaker_open" ...; "" for NONE */
const char *lx_route_breaker_name(enum lx_route_breaker b);    /* "closed", "half_open", "open" */

/* GET /v1/route-check with a plan: the S2 fields first as lx_route_explain() writes them
 * ("provider" is the plan's first target), then "rule", "strategy", "alias"/"match",
 * "candidates" (plan order, then the skipped ones), each:
 *   {"provider","model","enabled","position","skipped":reason|null,"weight","context_window",
 *    "latency_ms","in_flight","price":{"input","output"}|null,"cost_usd",
 *    "breaker":"closed|half_open|open",
 *    "keys":{"usable","cooling","disabled","soonest_cooldown_ms"(absolute),
 *            "cooldown_remaining_ms"}|null}
 * (unknown numbers are null), and "error" when nothing is left to try. plan NULL is
 * lx_route_explain(). Returns the writer's sticky error. */
int lx_route_explain_plan(const struct lx_route_result *res, const struct lx_route_plan *plan,
                          uint64_t now_ms, struct lx_json_writer *w);

#endif /* LX_ROUTER_STRATEGY_H */
