/* strategy.c - the candidates of a routing decision put in the order their alias's strategy
 * asks for, the unusable ones set aside with a reason, and the plan explained as JSON
 * (strategy.h). Pure and allocation-free: at most LX_ROUTE_MAX_CANDIDATES picks, sorted in
 * place by insertion (stable, so ties keep the order written). Any thread. */
#include "router/strategy.h"

#include <stdio.h>
#include <string.h>

#include "core/common.h"

#define MSG_MODEL_MAX 64 /* bytes of a client-sent name quoted in a message */

const char *lx_route_strategy_name(enum lx_config_strategy s)
{
    const char *n = lx_config_strategy_name(s);
    return n != NULL ? n : "priority";
}

const char *lx_route_skip_name(enum lx_route_skip s)
{
    static const char *const names[] = {
        [LX_ROUTE_SKIP_NONE] = "",
        [LX_ROUTE_SKIP_DISABLED] = "provider_disabled",
        [LX_ROUTE_SKIP_BREAKER_OPEN] = "breaker_open",
        [LX_ROUTE_SKIP_KEYS_COOLING] = "keys_cooling_down",
        [LX_ROUTE_SKIP_KEYS_DISABLED] = "keys_disabled",
        [LX_ROUTE_SKIP_UNHEALTHY] = "provider_unhealthy",
        [LX_ROUTE_SKIP_CONTEXT_WINDOW] = "context_window_too_small",
    };
    return (unsigned)s < LX_ARRAY_SIZE(names) ? names[s] : "";
}

const char *lx_route_breaker_name(enum lx_route_breaker b)
{
    static const char *const names[] = {
        [LX_ROUTE_BREAKER_CLOSED] = "closed",
        [LX_ROUTE_BREAKER_HALF_OPEN] = "half_open",
        [LX_ROUTE_BREAKER_OPEN] = "open",
    };
    return (unsigned)b < LX_ARRAY_SIZE(names) ? names[b] : "closed";
}

/* What the strategies look at, read once per candidate. */
static void observe(const struct lx_route_result *res, const struct lx_route_order_req *req,
                    const struct lx_route_signals *sig, const struct lx_route_candidate *c,
                    struct lx_route_pick *p)
{
    const struct lx_config_target *t = NULL;

    if (res->alias != NULL && c->pos < res->alias->n_targets)
        t = &res->alias->targets[c->pos];
    *p = (struct lx_route_pick){.cand = *c,
                                .target = t,
                                .skip = LX_ROUTE_SKIP_NONE,
                                .breaker = LX_ROUTE_BREAKER_CLOSED,
                                .latency_us = -1,
                                .in_flight = -1,
                                .cost_usd = -1,
                                .weight = t != NULL ? t->weight : 1,
                                .context_window = t != NULL ? t->context_window : 0};
    if (t != NULL && t->has_price) {
        double in = (double)(req->input_tokens ? req->input_tokens : LX_ROUTE_COST_DEFAULT_TOKENS);
        double out = (double)(req->max_tokens ? req->max_tokens : LX_ROUTE_COST_DEFAULT_TOKENS);
        p->cost_usd = (in * t->price_in + out * t->price_out) / 1e6;
    }
    if (sig == NULL)
        return;
    if (sig->latency_us != NULL) {
        p->latency_us = sig->latency_us(sig->ctx, c);
        if (p->latency_us < 0)
            p->latency_us = -1;
    }
    if (sig->in_flight != NULL) {
        p->in_flight = sig->in_flight(sig->ctx, c);
        if (p->in_flight < 0)
            p->in_flight = -1;
    }
    if (sig->breaker != NULL)
        p->breaker = sig->breaker(sig->ctx, c);
    if (sig->keys != NULL)
        p->has_keys = sig->keys(sig->ctx, c, &p->keys);
    if (sig->healthy != NULL)
        p->unhealthy = !sig->healthy(sig->ctx, c);
}

/* The sort key of a pick under a strategy: lower goes first. */
static double rank(enum lx_config_strategy st, const struct lx_route_pick *p)
{
    switch (st) {
    case LX_CONFIG_STRATEGY_LATENCY:
        return p->latency_us < 0 ? -1.0 : (double)p->latency_us; /* unmeasured first */
    case LX_CONFIG_STRATEGY_COST:
        return p->cost_usd < 0 ? 1e300 : p->cost_usd; /* unpriced last */
    case LX_CONFIG_STRATEGY_LEAST_BUSY:
        return p->in_flight < 0 ? 0.0 : (double)p->in_flight;
    case LX_CONFIG_STRATEGY_WEIGHTED:
        return -(double)p->weight;
    case LX_CONFIG_STRATEGY_PRIORITY:
        break;
    }
    return (double)p->cand.pos;
}

/* Stable insertion sort of v[from..n) by rank. */
static void sort_picks(enum lx_config_strategy st, struct lx_route_pick *v, size_t from, size_t n)
{
    for (size_t i = from + 1; i < n; i++) {
        struct lx_route_pick x = v[i];
        double k = rank(st, &x);
        size_t j = i;

        while (j > from && rank(st, &v[j - 1]) > k) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Weighted: move the pick drawn with r (by weight, as written) to the front. */
static void draw_first(struct lx_route_pick *v, size_t n, uint64_t r)
{
    uint64_t total = 0, acc = 0;
    bool all_zero;
    size_t k = 0;

    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++)
        total += v[i].weight;
    all_zero = total == 0;
    if (all_zero)
        total = n;
    r %= total;
    for (k = 0; k < n; k++) {
        acc += all_zero ? 1 : v[k].weight;
        if (r < acc)
            break;
    }
    if (k == n || k == 0)
        return;
    {
        struct lx_route_pick x = v[k];
        memmove(&v[1], &v[0], k * sizeof(v[0]));
        v[0] = x;
    }
}

static void set_aside(struct lx_route_plan *out, const struct lx_route_pick *p,
                      enum lx_route_skip why)
{
    if (out->n_skipped == LX_ARRAY_SIZE(out->skipped))
        return;
    out->skipped[out->n_skipped] = *p;
    out->skipped[out->n_skipped].skip = why;
    out->n_skipped++;
}

static int clip(struct lx_str s) { return (int)(s.len < MSG_MODEL_MAX ? s.len : MSG_MODEL_MAX); }

/* Nothing left to try: 429 when a cooldown will end, else 503; the message counts reasons. */
static int nothing_left(const struct lx_route_result *res, const struct lx_route_order_req *req,
                        struct lx_route_plan *out)
{
    size_t n[LX_ROUTE_SKIP_CONTEXT_WINDOW + 1] = {0};
    uint64_t soonest = 0;
    char why[128];
    size_t o = 0;
    static const char *const what[] = {
        [LX_ROUTE_SKIP_DISABLED] = "provider disabled",
        [LX_ROUTE_SKIP_BREAKER_OPEN] = "circuit breaker open",
        [LX_ROUTE_SKIP_KEYS_COOLING] = "keys cooling down",
        [LX_ROUTE_SKIP_KEYS_DISABLED] = "keys disabled",
        [LX_ROUTE_SKIP_UNHEALTHY] = "provider failing its health checks",
        [LX_ROUTE_SKIP_CONTEXT_WINDOW] = "context window too small",
    };

    if (res->status != LX_ROUTE_OK && res->status != LX_ROUTE_UNAVAILABLE) {
        out->err = res->err; /* no target at all: the router's own 400 or 404 */
        out->http_status = res->err.http_status;
        out->type = res->type;
        out->code = res->code;
        return res->err.rc;
    }
    for (size_t i = 0; i < out->n_skipped; i++) {
        const struct lx_route_pick *p = &out->skipped[i];
        n[p->skip]++;
        if (p->skip == LX_ROUTE_SKIP_KEYS_COOLING && p->keys.soonest_ms != 0 &&
            (soonest == 0 || p->keys.soonest_ms < soonest))
            soonest = p->keys.soonest_ms;
    }
    why[0] = '\0';
    for (size_t k = LX_ROUTE_SKIP_DISABLED; k < LX_ARRAY_SIZE(n); k++) {
        int w;
        if (n[k] == 0 || o >= sizeof(why))
            continue;
        w = snprintf(why + o, sizeof(why) - o, "%s%zu %s", o ? ", " : "", n[k], what[k]);
        if (w > 0)
            o += (size_t)w;
    }
    out->err.rc = LX_ENOTFOUND;
    out->err.retryable = false;
    if (n[LX_ROUTE_SKIP_KEYS_COOLING] > 0) {
        int64_t ms = soonest > req->now_ms ? (int64_t)(soonest - req->now_ms) : 0;
        out->http_status = 429;
        out->retry_after_ms = ms < 1000 ? 1000 : ms;
        out->type = "rate_limit_error";
        out->code = "rate_limited";
    } else {
        out->http_status = 503;
        out->type = "service_unavailable_error";
        out->code = "provider_unavailable";
    }
    out->err.http_status = out->http_status;
    snprintf(out->err.msg, sizeof(out->err.msg),
             "model '%.*s': no target can take the request now (%s)", clip(res->requested),
             res->requested.ptr != NULL ? res->requested.ptr : "", why);
    return LX_ENOTFOUND;
}

int lx_route_order(const struct lx_route_result *res, const struct lx_route_order_req *req,
                   const struct lx_route_signals *sig, struct lx_route_plan *out)
{
    struct lx_route_pick live[LX_ROUTE_MAX_CANDIDATES];
    size_t n = 0, small = 0;

    out->strategy = req->has_strategy    ? req->strategy
                    : res->alias != NULL ? res->alias->strategy
                                         : LX_CONFIG_STRATEGY_PRIORITY;
    if (lx_config_strategy_name(out->strategy) == NULL)
        out->strategy = LX_CONFIG_STRATEGY_PRIORITY;
    out->n_order = out->n_skipped = 0;
    out->http_status = 0;
    out->retry_after_ms = -1;
    out->context_kept = false;
    out->err = (struct lx_err){.rc = LX_OK, .http_status = 200};
    out->type = out->code = NULL;

    for (size_t i = 0; i < res->n_skipped; i++) {
        struct lx_route_pick p;
        observe(res, req, NULL, &res->skipped[i], &p);
        set_aside(out, &p, LX_ROUTE_SKIP_DISABLED);
    }
    for (size_t i = 0; i < res->n_cand && i < LX_ROUTE_MAX_CANDIDATES; i++) {
        struct lx_route_pick *p = &live[n];

        observe(res, req, sig, &res->cand[i], p);
        if (p->breaker == LX_ROUTE_BREAKER_OPEN)
            set_aside(out, p, LX_ROUTE_SKIP_BREAKER_OPEN);
        else if (p->unhealthy)
            set_aside(out, p, LX_ROUTE_SKIP_UNHEALTHY);
        else if (p->has_keys && p->keys.usable == 0 && p->keys.cooling > 0)
            set_aside(out, p, LX_ROUTE_SKIP_KEYS_COOLING);
        else if (p->has_keys && p->keys.usable == 0 && p->keys.disabled > 0)
            set_aside(out, p, LX_ROUTE_SKIP_KEYS_DISABLED);
        else
            n++;
    }

    /* Too small for the prompt estimate: set aside, unless that would leave nothing. */
    for (size_t i = 0; i < n; i++)
        small += req->input_tokens > 0 && live[i].context_window > 0 &&
                 req->input_tokens > live[i].context_window;
    if (small > 0 && small == n) {
        out->context_kept = true;
    } else if (small > 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (live[i].context_window > 0 && req->input_tokens > live[i].context_window)
                set_aside(out, &live[i], LX_ROUTE_SKIP_CONTEXT_WINDOW);
            else
                live[k++] = live[i];
        }
        n = k;
    }

    if (out->strategy == LX_CONFIG_STRATEGY_WEIGHTED) {
        draw_first(live, n, req->random);
        sort_picks(out->strategy, live, n > 0 ? 1 : 0, n);
    } else {
        sort_picks(out->strategy, live, 0, n);
    }
    memcpy(out->order, live, n * sizeof(live[0]));
    out->n_order = n;
    if (n > 0)
        return LX_OK;
    return nothing_left(res, req, out);
}

long lx_route_next_larger(const struct lx_route_plan *plan, size_t failed, uint64_t input_tokens)
{
    uint64_t floor = input_tokens;

    if (failed >= plan->n_order)
        return -1;
    if (plan->order[failed].context_window > floor)
        floor = plan->order[failed].context_window;
    if (floor == 0)
        return -1; /* nothing known: no target can be said to be larger */
    for (size_t j = failed + 1; j < plan->n_order; j++)
        if (plan->order[j].context_window > floor)
            return (long)j;
    return -1;
}

/* ---- explain ------------------------------------------------------------------------------ */

static void write_num_or_null(struct lx_json_writer *w, const char *key, bool known, double v)
{
    lx_json_write_key(w, lx_str_cstr(key));
    if (known)
        lx_json_write_double(w, v);
    else
        lx_json_write_null(w);
}

static void write_pick(struct lx_json_writer *w, const struct lx_route_pick *p, uint64_t now_ms)
{
    const struct lx_config_target *t = p->target;

    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("provider"));
    lx_json_write_str(w, lx_str_cstr(p->cand.provider->name));
    lx_json_write_key(w, LX_STR("model"));
    lx_json_write_str(w, p->cand.model);
    lx_json_write_key(w, LX_STR("enabled"));
    lx_json_write_bool(w, p->cand.provider->enabled);
    lx_json_write_key(w, LX_STR("position"));
    lx_json_write_uint(w, p->cand.pos);
    lx_json_write_key(w, LX_STR("skipped"));
    if (p->skip != LX_ROUTE_SKIP_NONE)
        lx_json_write_str(w, lx_str_cstr(lx_route_skip_name(p->skip)));
    else
        lx_json_write_null(w);
    lx_json_write_key(w, LX_STR("weight"));
    lx_json_write_uint(w, p->weight);
    lx_json_write_key(w, LX_STR("context_window"));
    if (p->context_window > 0)
        lx_json_write_uint(w, p->context_window);
    else
        lx_json_write_null(w);
    write_num_or_null(w, "latency_ms", p->latency_us >= 0, (double)p->latency_us / 1000.0);
    lx_json_write_key(w, LX_STR("in_flight"));
    if (p->in_flight >= 0)
        lx_json_write_int(w, p->in_flight);
    else
        lx_json_write_null(w);
    lx_json_write_key(w, LX_STR("price"));
    if (t != NULL && t->has_price) {
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("input"));
        lx_json_write_double(w, t->price_in);
        lx_json_write_key(w, LX_STR("output"));
        lx_json_write_double(w, t->price_out);
        lx_json_write_object_end(w);
    } else {
        lx_json_write_null(w);
    }
    write_num_or_null(w, "cost_usd", p->cost_usd >= 0, p->cost_usd);
    lx_json_write_key(w, LX_STR("breaker"));
    lx_json_write_str(w, lx_str_cstr(lx_route_breaker_name(p->breaker)));
    lx_json_write_key(w, LX_STR("healthy"));
    lx_json_write_bool(w, !p->unhealthy);
    lx_json_write_key(w, LX_STR("keys"));
    if (p->has_keys) {
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("usable"));
        lx_json_write_uint(w, p->keys.usable);
        lx_json_write_key(w, LX_STR("cooling"));
        lx_json_write_uint(w, p->keys.cooling);
        lx_json_write_key(w, LX_STR("disabled"));
        lx_json_write_uint(w, p->keys.disabled);
        lx_json_write_key(w, LX_STR("soonest_cooldown_ms"));
        if (p->keys.soonest_ms != 0)
            lx_json_write_uint(w, p->keys.soonest_ms);
        else
            lx_json_write_null(w);
        lx_json_write_key(w, LX_STR("cooldown_remaining_ms"));
        if (p->keys.soonest_ms != 0)
            lx_json_write_uint(w, p->keys.soonest_ms > now_ms ? p->keys.soonest_ms - now_ms : 0);
        else
            lx_json_write_null(w);
        lx_json_write_object_end(w);
    } else {
        lx_json_write_null(w);
    }
    lx_json_write_object_end(w);
}

static void write_error(struct lx_json_writer *w, const struct lx_err *err, const char *type,
                        const char *code, const char *param)
{
    lx_json_write_key(w, LX_STR("error"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("message"));
    lx_json_write_str(w, lx_str_cstr(err->msg));
    lx_json_write_key(w, LX_STR("type"));
    lx_json_write_str(w, lx_str_cstr(type));
    lx_json_write_key(w, LX_STR("code"));
    lx_json_write_str(w, lx_str_cstr(code));
    lx_json_write_key(w, LX_STR("param"));
    if (param != NULL)
        lx_json_write_str(w, lx_str_cstr(param));
    else
        lx_json_write_null(w);
    lx_json_write_object_end(w);
}

int lx_route_explain_plan(const struct lx_route_result *res, const struct lx_route_plan *plan,
                          uint64_t now_ms, struct lx_json_writer *w)
{
    const struct lx_route_candidate *first;
    bool ok;

    if (plan == NULL)
        return lx_route_explain(res, now_ms, w);
    ok = res->status == LX_ROUTE_OK && plan->n_order > 0;
    first = plan->n_order > 0    ? &plan->order[0].cand
            : res->n_cand > 0    ? &res->cand[0]
            : res->n_skipped > 0 ? &res->skipped[0]
                                 : NULL;

    lx_route_explain_head(res, first, ok, now_ms, w);
    lx_json_write_key(w, LX_STR("strategy"));
    lx_json_write_str(w, lx_str_cstr(lx_route_strategy_name(plan->strategy)));
    if (plan->context_kept) {
        lx_json_write_key(w, LX_STR("context_kept"));
        lx_json_write_bool(w, true);
    }
    lx_json_write_key(w, LX_STR("candidates"));
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < plan->n_order; i++)
        write_pick(w, &plan->order[i], now_ms);
    for (size_t i = 0; i < plan->n_skipped; i++)
        write_pick(w, &plan->skipped[i], now_ms);
    lx_json_write_array_end(w);
    if (res->status != LX_ROUTE_OK) {
        write_error(w, &res->err, res->type, res->code, res->param);
    } else if (plan->n_order == 0) {
        write_error(w, &plan->err, plan->type, plan->code, "model");
        if (plan->retry_after_ms >= 0) {
            lx_json_write_key(w, LX_STR("retry_after_ms"));
            lx_json_write_int(w, plan->retry_after_ms);
        }
    }
    return lx_json_write_object_end(w);
}
