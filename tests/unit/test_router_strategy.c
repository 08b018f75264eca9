/* test_router_strategy.c - routing strategies over configurations loaded from YAML, with the
 * live signals (latency, in flight, breakers, key pools) faked by a table the tests change:
 * weighted shares over 10,000 seeded draws, latency and cost and least-busy orders, skips,
 * context-window fallback, the explain JSON parsed back, no allocation, and the configuration
 * keys (strategy, weight, price, context_window, prices) with their errors at line:col. */
#include <math.h>
#include <stdlib.h>

#include "config/config.h"
#include "core/alloc.h"
#include "router/router.h"
#include "router/strategy.h"
#include "tests/unit/config_load.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/writer.h"

static const char yaml_strat[] = "listen: 127.0.0.1:4000\n"
                                 "providers:\n"
                                 "  - name: a\n"
                                 "    type: openai\n"
                                 "    keys: [ \"ka\" ]\n"
                                 "  - name: b\n"
                                 "    type: openai\n"
                                 "    keys: [ \"kb\" ]\n"
                                 "  - name: c\n"
                                 "    type: openai\n"
                                 "    keys: [ \"kc\" ]\n"
                                 "  - name: off\n"
                                 "    type: openai\n"
                                 "    keys: [ \"ko\" ]\n"
                                 "    enabled: false\n"
                                 "prices:\n"
                                 "  b/m-b: {input: 0.15, output: 0.6, context_window: 128000}\n"
                                 "models:\n"
                                 "  - name: w\n"
                                 "    strategy: weighted\n"
                                 "    targets:\n"
                                 "      - {target: a/m-a, weight: 1}\n"
                                 "      - {target: b/m-b, weight: 3}\n"
                                 "      - {target: c/m-c, weight: 6}\n"
                                 "  - name: lat\n"
                                 "    strategy: latency\n"
                                 "    targets: [ a/m-a, b/m-b, c/m-c ]\n"
                                 "  - name: cost\n"
                                 "    strategy: cost\n"
                                 "    targets:\n"
                                 "      - {target: a/m-a, price: {input: 2.5, output: 10}}\n"
                                 "      - b/m-b\n"
                                 "      - {target: c/m-c, price: {input: 0.5, output: 40}}\n"
                                 "      - {target: off/m-off, price: {input: 0, output: 0}}\n"
                                 "  - name: busy\n"
                                 "    strategy: least-busy\n"
                                 "    targets: [ a/m-a, b/m-b, c/m-c ]\n"
                                 "  - name: prio\n"
                                 "    targets:\n"
                                 "      - {target: a/small, context_window: 8000}\n"
                                 "      - {target: b/medium, context_window: 32000}\n"
                                 "      - c/unknown\n"
                                 "      - {target: a/large, context_window: 200000}\n"
                                 "routes:\n"
                                 "  - {match: \"z-*\", provider: a}\n";

static struct lx_config *load(const char *yaml)
{
    return lx_test_load_config("s.yaml", yaml);
}

/* ---- fake signals: one row per provider index ---- */

struct fake {
    int64_t latency_us[8];
    int64_t in_flight[8];
    enum lx_route_breaker breaker[8];
    bool keys_known[8];
    struct lx_route_keys keys[8];
    bool unhealthy[8];
    unsigned calls;
};

static int64_t f_latency(void *ctx, const struct lx_route_candidate *c)
{
    struct fake *f = ctx;
    f->calls++;
    return f->latency_us[c->provider_index];
}

static int64_t f_in_flight(void *ctx, const struct lx_route_candidate *c)
{
    return ((struct fake *)ctx)->in_flight[c->provider_index];
}

static enum lx_route_breaker f_breaker(void *ctx, const struct lx_route_candidate *c)
{
    return ((struct fake *)ctx)->breaker[c->provider_index];
}

static bool f_keys(void *ctx, const struct lx_route_candidate *c, struct lx_route_keys *out)
{
    struct fake *f = ctx;
    *out = f->keys[c->provider_index];
    return f->keys_known[c->provider_index];
}

static bool f_healthy(void *ctx, const struct lx_route_candidate *c)
{
    return !((struct fake *)ctx)->unhealthy[c->provider_index];
}

static void fake_init(struct fake *f, struct lx_route_signals *sig)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < 8; i++)
        f->latency_us[i] = f->in_flight[i] = -1;
    *sig = (struct lx_route_signals){f, f_latency, f_in_flight, f_breaker, f_keys, f_healthy};
}

static int route(const struct lx_config *cfg, const char *model, struct lx_route_result *res)
{
    struct lx_route_req req = {lx_str_cstr(model), LX_STR_NULL, LX_STR_NULL, false};
    return lx_route(cfg, &req, res);
}

/* "a/m-a b/m-b" of the plan's order, for compact assertions. */
static const char *order_str(const struct lx_route_plan *p, char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < p->n_order && o < cap; i++) {
        int n =
            snprintf(buf + o, cap - o, "%s%s/%.*s", i ? " " : "", p->order[i].cand.provider->name,
                     (int)p->order[i].cand.model.len, p->order[i].cand.model.ptr);
        if (n > 0)
            o += (size_t)n;
    }
    return buf;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- configuration ---- */

LX_TEST(strategy_config_values)
{
    struct lx_config *cfg = load(yaml_strat);
    const struct lx_config_model *m;

    LX_ASSERT(cfg != NULL);
    m = lx_config_model_find(cfg, LX_STR("w"));
    LX_ASSERT(m != NULL);
    LX_ASSERT_EQ(LX_CONFIG_STRATEGY_WEIGHTED, m->strategy);
    LX_ASSERT_EQ(3, m->targets[1].weight);
    LX_ASSERT(m->targets[1].has_price); /* from prices: */
    LX_ASSERT(fabs(m->targets[1].price_in - 0.15) < 1e-12);
    LX_ASSERT(fabs(m->targets[1].price_out - 0.6) < 1e-12);
    LX_ASSERT_EQ(128000, m->targets[1].context_window);
    LX_ASSERT(!m->targets[0].has_price);
    m = lx_config_model_find(cfg, LX_STR("cost"));
    LX_ASSERT_EQ(LX_CONFIG_STRATEGY_COST, m->strategy);
    LX_ASSERT(fabs(m->targets[0].price_in - 2.5) < 1e-12);
    LX_ASSERT(fabs(m->targets[2].price_out - 40) < 1e-12);
    LX_ASSERT_EQ(1, m->targets[0].weight);
    m = lx_config_model_find(cfg, LX_STR("prio"));
    LX_ASSERT_EQ(LX_CONFIG_STRATEGY_PRIORITY, m->strategy);
    LX_ASSERT_EQ(8000, m->targets[0].context_window);
    LX_ASSERT_EQ(0, m->targets[2].context_window);
    LX_ASSERT_EQ(LX_CONFIG_STRATEGY_LEAST_BUSY,
                 lx_config_model_find(cfg, LX_STR("busy"))->strategy);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_config_dump_roundtrip)
{
    struct lx_config *cfg = load(yaml_strat), *again = NULL;
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_buf one = LX_BUF_INIT(1 << 20), two = LX_BUF_INIT(1 << 20);

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, lx_config_dump(cfg, &one));
    LX_ASSERT(strstr(one.ptr, "    strategy: weighted\n") != NULL);
    LX_ASSERT(strstr(one.ptr, "- {target: \"b/m-b\", weight: 3, price: {input: 0.15, output: 0.6}, "
                              "context_window: 128000}") != NULL);
    LX_ASSERT(strstr(one.ptr, "    strategy: least-busy\n    targets:\n      - {target: \"a/m-a\", "
                              "weight: 1}\n") != NULL);
    LX_ASSERT_EQ(LX_OK, lx_config_load_string("d.yaml", one.ptr, one.len, &again, &errs));
    LX_ASSERT_EQ(LX_OK, lx_config_dump(again, &two));
    LX_ASSERT_STREQ(strchr(one.ptr, '\n'), strchr(two.ptr, '\n'));
    lx_buf_release(&one);
    lx_buf_release(&two);
    lx_config_errs_release(&errs);
    lx_config_unref(again);
    lx_config_unref(cfg);
    return 0;
}

static bool errs_contain(const struct lx_config_errs *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, text) != NULL)
            return true;
    return false;
}

LX_TEST(strategy_config_errors)
{
    static const char head[] = "providers:\n"       /* 1 */
                               "  - name: a\n"      /* 2 */
                               "    type: openai\n" /* 3 */
                               "    keys: [k]\n"    /* 4 */
                               "models:\n"          /* 5 */
                               "  - name: m\n";     /* 6 */
    static const struct {
        const char *tail; /* from line 7 */
        const char *want;
        bool warning;
    } cases[] = {
        {"    strategy: wieghted\n    targets: [a/x]\n",
         "t.yaml:7:15: error: model m.strategy: unknown strategy \"wieghted\" (did you mean "
         "\"weighted\"?); expected priority, weighted, latency, cost or least-busy",
         false},
        {"    strategy: fastest\n    targets: [a/x]\n",
         "t.yaml:7:15: error: model m.strategy: unknown strategy \"fastest\"; expected", false},
        {"    strategy: least_busy\n    targets: [a/x]\n", "(did you mean \"least-busy\"?)", false},
        {"    strategy: weighted\n    targets:\n      - {target: a/x, weight: -1}\n",
         "t.yaml:9:31: error: model m.targets[0].weight: expected a whole number from 0 to "
         "1000000, got \"-1\"",
         false},
        {"    strategy: weighted\n    targets:\n      - {target: a/x, weight: 1.5}\n",
         "t.yaml:9:31: error: model m.targets[0].weight: expected a whole number", false},
        {"    strategy: weighted\n    targets:\n      - {target: a/x, weight: 0}\n"
         "      - {target: a/y, weight: 0}\n",
         "t.yaml:9:31: error: model m: strategy weighted needs at least one target with a weight "
         "above 0",
         false},
        {"    targets:\n      - {target: a/x, weight: 2}\n",
         "t.yaml:8:31: warning: model m: weight is used only by strategy: weighted (this alias "
         "uses priority)",
         true},
        {"    targets:\n      - {target: a/x, price: {input: cheap, output: 1}}\n",
         "t.yaml:8:38: error: model m.targets[0].price.input: expected dollars per million "
         "tokens, a number from 0 to 1000000 (such as 2.5), got \"cheap\"",
         false},
        {"    targets:\n      - {target: a/x, price: {input: -2, output: 1}}\n",
         "t.yaml:8:38: error: model m.targets[0].price.input: expected dollars", false},
        {"    targets:\n      - {target: a/x, price: {input: 2}}\n",
         "t.yaml:8:31: error: model m.targets[0].price: both input and output are required", false},
        {"    targets:\n      - {target: a/x, price: 3}\n",
         "t.yaml:8:30: error: model m.targets[0].price: expected a mapping like {input: 2.5, "
         "output: 10}",
         false},
        {"    targets:\n      - {target: a/x, price: {input: 1, output: 2, context_window: 9}}\n",
         "error: model m.targets[0].price: context_window belongs to the target", false},
        {"    targets:\n      - {target: a/x, wieght: 2}\n",
         "t.yaml:8:23: error: model m.targets[0]: unknown key \"wieght\" (did you mean "
         "\"weight\"?)",
         false},
        {"    targets:\n      - {weight: 2}\n", "error: model m.targets[0].target is required",
         false},
        {"    targets:\n      - {target: ax}\n",
         "t.yaml:8:18: error: model m.targets[0]: expected \"provider/model\", got \"ax\"", false},
        {"    targets:\n      - {target: a/x, context_window: 0}\n",
         "t.yaml:8:39: error: model m.targets[0].context_window: expected a whole number from 1 "
         "to 100000000",
         false},
        {"    strategy: cost\n    targets: [a/x]\n",
         "warning: model m: strategy cost, but no target has a price", true},
        {"    targets: [a/x]\nprices:\n  a/x: {input: 1}\n",
         "t.yaml:9:9: error: prices[\"a/x\"]: both input and output are required", false},
        {"    targets: [a/x]\nprices:\n  ax: {input: 1, output: 2}\n",
         "t.yaml:9:3: error: prices: expected \"provider/model\" as the key, got \"ax\"", false},
        {"    targets: [a/x]\nprices:\n  a/y: {input: 1, output: 2}\n",
         "t.yaml:9:3: warning: prices: \"a/y\" is not the target of any alias (unused)", true},
    };
    int rc = 0;

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        char yaml[1024];
        struct lx_config *cfg = NULL;
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        int lrc;

        snprintf(yaml, sizeof(yaml), "%s%s", head, cases[i].tail);
        lrc = lx_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &errs);
        bool bad = !errs_contain(&errs, cases[i].want) ||
                   (cases[i].warning ? lrc != LX_OK : lrc != LX_EINVAL);
        if (bad || getenv("LXT_SHOW") != NULL) {
            struct lx_buf b = LX_BUF_INIT(1 << 16);
            lx_config_errs_format(&errs, &b);
            fprintf(stderr, "case %zu: rc %d, want \"%s\", got:\n%s\n", i, lrc, cases[i].want,
                    b.ptr ? b.ptr : "");
            lx_buf_release(&b);
            rc |= bad;
        }
        lx_config_unref(cfg);
        lx_config_errs_release(&errs);
    }
    return rc;
}

/* ---- strategies ---- */

LX_TEST(strategy_weighted_shares)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    unsigned first[3] = {0, 0, 0};
    uint64_t seed = 42;
    const double want[3] = {0.1, 0.3, 0.6};
    char buf[128];

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, route(cfg, "w", &res));
    for (int i = 0; i < 10000; i++) {
        oreq.random = splitmix(&seed);
        LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, NULL, &plan));
        LX_ASSERT_EQ(3, plan.n_order);
        first[plan.order[0].cand.pos]++;
        /* the rest follow by weight: c (6) before b (3) before a (1) */
        if (plan.order[0].cand.pos == 0)
            LX_ASSERT_STREQ("a/m-a c/m-c b/m-b", order_str(&plan, buf, sizeof(buf)));
        if (plan.order[0].cand.pos == 1)
            LX_ASSERT_STREQ("b/m-b c/m-c a/m-a", order_str(&plan, buf, sizeof(buf)));
        if (plan.order[0].cand.pos == 2)
            LX_ASSERT_STREQ("c/m-c b/m-b a/m-a", order_str(&plan, buf, sizeof(buf)));
    }
    for (int k = 0; k < 3; k++) {
        double share = first[k] / 10000.0;
        if (fabs(share - want[k]) > 0.05 * want[k])
            LX_FAIL("target %d: share %.4f, want %.2f +-5%%", k, share, want[k]);
    }
    /* same random number, same plan */
    oreq.random = 12345;
    lx_route_order(&res, &oreq, NULL, &plan);
    {
        char again[128];
        struct lx_route_plan p2;
        lx_route_order(&res, &oreq, NULL, &p2);
        LX_ASSERT_STREQ(order_str(&plan, buf, sizeof(buf)), order_str(&p2, again, sizeof(again)));
    }
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_weighted_skips_open_breaker)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    struct lx_route_signals sig;
    struct fake f;
    unsigned first[3] = {0, 0, 0};
    uint64_t seed = 7;

    LX_ASSERT(cfg != NULL);
    fake_init(&f, &sig);
    f.breaker[2] = LX_ROUTE_BREAKER_OPEN; /* c, weight 6: no traffic; a:b share 1:3 */
    LX_ASSERT_EQ(LX_OK, route(cfg, "w", &res));
    for (int i = 0; i < 10000; i++) {
        oreq.random = splitmix(&seed);
        LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
        LX_ASSERT_EQ(2, plan.n_order);
        LX_ASSERT_EQ(1, plan.n_skipped);
        LX_ASSERT_EQ(LX_ROUTE_SKIP_BREAKER_OPEN, plan.skipped[0].skip);
        first[plan.order[0].cand.pos]++;
    }
    LX_ASSERT_EQ(0, first[2]);
    LX_ASSERT(fabs(first[1] / 10000.0 - 0.75) <= 0.05 * 0.75);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_latency_moves_to_faster)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    struct lx_route_signals sig;
    struct fake f;
    char buf[128];

    LX_ASSERT(cfg != NULL);
    fake_init(&f, &sig);
    LX_ASSERT_EQ(LX_OK, route(cfg, "lat", &res));
    /* nothing measured: as written */
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(LX_CONFIG_STRATEGY_LATENCY, plan.strategy);
    LX_ASSERT_STREQ("a/m-a b/m-b c/m-c", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(3, f.calls); /* once per candidate */
    /* a measured; b and c not yet: they go first so they get measured */
    f.latency_us[0] = 300000;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("b/m-b c/m-c a/m-a", order_str(&plan, buf, sizeof(buf)));
    f.latency_us[1] = 200000;
    f.latency_us[2] = 900000;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("b/m-b a/m-a c/m-c", order_str(&plan, buf, sizeof(buf)));
    /* b slows down (its moving average rises): a becomes the fastest */
    f.latency_us[1] = 450000;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("a/m-a b/m-b c/m-c", order_str(&plan, buf, sizeof(buf)));
    /* c recovers */
    f.latency_us[2] = 50000;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("c/m-c a/m-a b/m-b", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(50000, plan.order[0].latency_us);
    /* ties keep the written order */
    f.latency_us[0] = f.latency_us[1] = f.latency_us[2] = 1000;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("a/m-a b/m-b c/m-c", order_str(&plan, buf, sizeof(buf)));
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_cost_order)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    char buf[128];

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, route(cfg, "cost", &res));
    LX_ASSERT_EQ(3, res.n_cand); /* off/m-off is disabled */
    /* a: 2.5/10, b: 0.15/0.6 (prices:), c: 0.5/40. Unknown counts = 1000 each:
     * a 0.0125, b 0.00075, c 0.0405 */
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, NULL, &plan));
    LX_ASSERT_STREQ("b/m-b a/m-a c/m-c", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT(fabs(plan.order[0].cost_usd - 0.00075) < 1e-12);
    LX_ASSERT_EQ(1, plan.n_skipped);
    LX_ASSERT_EQ(LX_ROUTE_SKIP_DISABLED, plan.skipped[0].skip);
    /* a long prompt with a short answer: c's cheap input wins over a's */
    oreq.input_tokens = 100000;
    oreq.max_tokens = 10;
    lx_route_order(&res, &oreq, NULL, &plan);
    LX_ASSERT_STREQ("b/m-b c/m-c a/m-a", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT(fabs(plan.order[1].cost_usd - (100000 * 0.5 + 10 * 40) / 1e6) < 1e-12);
    /* a short prompt with a long answer: c's output price makes it last */
    oreq.input_tokens = 10;
    oreq.max_tokens = 4000;
    lx_route_order(&res, &oreq, NULL, &plan);
    LX_ASSERT_STREQ("b/m-b a/m-a c/m-c", order_str(&plan, buf, sizeof(buf)));
    /* unpriced targets go last, as written: the latency alias has no prices but b's */
    LX_ASSERT_EQ(LX_OK, route(cfg, "lat", &res));
    oreq.has_strategy = true;
    oreq.strategy = LX_CONFIG_STRATEGY_COST;
    lx_route_order(&res, &oreq, NULL, &plan);
    LX_ASSERT_STREQ("b/m-b a/m-a c/m-c", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT(plan.order[1].cost_usd < 0);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_least_busy)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    struct lx_route_signals sig;
    struct fake f;
    char buf[128];

    LX_ASSERT(cfg != NULL);
    fake_init(&f, &sig);
    LX_ASSERT_EQ(LX_OK, route(cfg, "busy", &res));
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("a/m-a b/m-b c/m-c", order_str(&plan, buf, sizeof(buf)));
    f.in_flight[0] = 5;
    f.in_flight[1] = 2;
    f.in_flight[2] = 3;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("b/m-b c/m-c a/m-a", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(2, plan.order[0].in_flight);
    f.in_flight[1] = 9;
    f.in_flight[0] = 3; /* a and c tie: written order */
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("a/m-a c/m-c b/m-b", order_str(&plan, buf, sizeof(buf)));
    /* a probe-less half-open breaker is reported OPEN by state/: skipped; half-open stays */
    f.breaker[0] = LX_ROUTE_BREAKER_OPEN;
    f.breaker[2] = LX_ROUTE_BREAKER_HALF_OPEN;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("c/m-c b/m-b", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_ROUTE_BREAKER_HALF_OPEN, plan.order[0].breaker);
    LX_ASSERT_EQ(1, plan.n_skipped);
    LX_ASSERT_STREQ("breaker_open", lx_route_skip_name(plan.skipped[0].skip));
    /* a provider failing its active health checks is skipped like an open breaker, named so;
     * when none is left the answer is a 503 saying why */
    f.breaker[0] = f.breaker[2] = LX_ROUTE_BREAKER_CLOSED;
    f.unhealthy[0] = true;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_STREQ("c/m-c b/m-b", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(1, plan.n_skipped);
    LX_ASSERT_STREQ("provider_unhealthy", lx_route_skip_name(plan.skipped[0].skip));
    LX_ASSERT(plan.skipped[0].unhealthy);
    f.unhealthy[1] = f.unhealthy[2] = true;
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(503, plan.http_status);
    LX_ASSERT(strstr(plan.err.msg, "3 provider failing its health checks") != NULL);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_skips_and_nothing_left)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 100000};
    struct lx_route_signals sig;
    struct fake f;
    char buf[128];

    LX_ASSERT(cfg != NULL);
    fake_init(&f, &sig);
    LX_ASSERT_EQ(LX_OK, route(cfg, "lat", &res));
    /* a: keys all cooling (soonest in 30 s); b: all disabled; c: fine */
    f.keys_known[0] = f.keys_known[1] = f.keys_known[2] = true;
    f.keys[0] = (struct lx_route_keys){0, 2, 0, 130000};
    f.keys[1] = (struct lx_route_keys){0, 0, 3, 0};
    f.keys[2] = (struct lx_route_keys){1, 1, 1, 170000};
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_STREQ("c/m-c", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(2, plan.n_skipped);
    LX_ASSERT_EQ(LX_ROUTE_SKIP_KEYS_COOLING, plan.skipped[0].skip);
    LX_ASSERT_EQ(LX_ROUTE_SKIP_KEYS_DISABLED, plan.skipped[1].skip);
    LX_ASSERT_EQ(0, plan.http_status);
    /* a provider without keys at all (local backends) is not skipped */
    f.keys[2] = (struct lx_route_keys){0, 0, 0, 0};
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
    /* the weighted draw with nothing left, and with one left */
    oreq.has_strategy = true;
    oreq.strategy = LX_CONFIG_STRATEGY_WEIGHTED;
    f.breaker[2] = LX_ROUTE_BREAKER_OPEN;
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route_order(&res, &oreq, &sig, &plan));
    f.breaker[2] = LX_ROUTE_BREAKER_CLOSED;
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(1, plan.n_order);
    oreq.has_strategy = false;
    /* c's breaker opens too: nothing left; a cools down -> 429 with Retry-After */
    f.breaker[2] = LX_ROUTE_BREAKER_OPEN;
    f.keys[0].soonest_ms = 130000;
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(0, plan.n_order);
    LX_ASSERT_EQ(429, plan.http_status);
    LX_ASSERT_EQ(30000, plan.retry_after_ms);
    LX_ASSERT_STREQ("rate_limited", plan.code);
    LX_ASSERT(strstr(plan.err.msg, "1 circuit breaker open, 1 keys cooling down, 1 keys "
                                   "disabled") != NULL);
    /* the cooldown is nearly over: at least 1 s */
    oreq.now_ms = 129900;
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_EQ(1000, plan.retry_after_ms);
    /* no cooldown, only disabled keys and open breakers: 503 */
    f.keys[0] = (struct lx_route_keys){0, 0, 2, 0};
    lx_route_order(&res, &oreq, &sig, &plan);
    LX_ASSERT_EQ(503, plan.http_status);
    LX_ASSERT_EQ(-1, plan.retry_after_ms);
    LX_ASSERT_STREQ("provider_unavailable", plan.code);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_context_window_fallback)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 1};
    char buf[128];

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, route(cfg, "prio", &res));
    /* prompt size unknown: as written; after small's context_length_exceeded -> medium */
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, NULL, &plan));
    LX_ASSERT_STREQ("a/small b/medium c/unknown a/large", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(1, lx_route_next_larger(&plan, 0, 0));
    /* medium fails too: unknown's window is not known to be larger: large */
    LX_ASSERT_EQ(3, lx_route_next_larger(&plan, 1, 0));
    LX_ASSERT_EQ(-1, lx_route_next_larger(&plan, 3, 0));
    /* the failed target's window is unknown: the estimate decides */
    LX_ASSERT_EQ(3, lx_route_next_larger(&plan, 2, 50000));
    LX_ASSERT_EQ(-1, lx_route_next_larger(&plan, 2, 0));
    LX_ASSERT_EQ(-1, lx_route_next_larger(&plan, 9, 0));
    /* the estimate exceeds medium's window too: straight to large */
    LX_ASSERT_EQ(3, lx_route_next_larger(&plan, 0, 40000));
    /* with an estimate, too small targets are set aside up front */
    oreq.input_tokens = 20000;
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, NULL, &plan));
    LX_ASSERT_STREQ("b/medium c/unknown a/large", order_str(&plan, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_ROUTE_SKIP_CONTEXT_WINDOW, plan.skipped[0].skip);
    LX_ASSERT(!plan.context_kept);
    /* bigger than every known window, but one is unknown: only that one */
    oreq.input_tokens = 500000;
    lx_route_order(&res, &oreq, NULL, &plan);
    LX_ASSERT_STREQ("c/unknown", order_str(&plan, buf, sizeof(buf)));
    /* a configured alias where every target is too small: all kept (the estimate may be
     * wrong; the upstream decides) */
    oreq.has_strategy = false;
    {
        static const char y[] = "providers:\n  - {name: a, type: openai, keys: [k]}\n"
                                "models:\n  - name: s\n    targets:\n"
                                "      - {target: a/x, context_window: 1000}\n"
                                "      - {target: a/y, context_window: 2000}\n";
        struct lx_config *c2 = load(y);
        LX_ASSERT(c2 != NULL);
        LX_ASSERT_EQ(LX_OK, route(c2, "s", &res));
        LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, NULL, &plan));
        LX_ASSERT_EQ(2, plan.n_order);
        LX_ASSERT(plan.context_kept);
        LX_ASSERT_EQ(1, lx_route_next_larger(&plan, 0, 0));
        LX_ASSERT_EQ(-1, lx_route_next_larger(&plan, 0, oreq.input_tokens));
        lx_config_unref(c2);
    }
    lx_config_unref(cfg);
    return 0;
}

/* ---- explain ---- */

static int explain_doc(const struct lx_route_result *res, const struct lx_route_plan *plan,
                       uint64_t now, struct lx_buf *b, struct lx_json *doc)
{
    struct lx_json_writer w;

    lx_buf_reset(b);
    lx_json_writer_init(&w, b);
    if (lx_route_explain_plan(res, plan, now, &w) != LX_OK || lx_json_writer_finish(&w) != LX_OK)
        return LX_EINVAL;
    return lx_json_parse(doc, b->ptr, b->len);
}

static bool key_is(const struct lx_json *doc, int obj, const char *key, const char *want)
{
    return lx_json_str_eq(doc, lx_json_get(doc, obj, lx_str_cstr(key)), lx_str_cstr(want));
}

static double num(const struct lx_json *doc, int obj, const char *key)
{
    double v = -12345;
    lx_json_double(doc, lx_json_get(doc, obj, lx_str_cstr(key)), &v);
    return v;
}

LX_TEST(strategy_explain_json)
{
    struct lx_config *cfg = load(yaml_strat);
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx_route_order_req oreq = {.now_ms = 100000, .input_tokens = 1000, .max_tokens = 500};
    struct lx_route_signals sig;
    struct fake f;
    struct lx_buf b = LX_BUF_INIT(1 << 16);
    struct lx_json doc;
    int cands, c0, c1, last, keys, price, first_key;

    LX_ASSERT(cfg != NULL);
    lx_json_init(&doc, NULL);
    fake_init(&f, &sig);
    f.latency_us[0] = 250000;
    f.latency_us[1] = 800000;
    f.in_flight[0] = 4;
    f.breaker[2] = LX_ROUTE_BREAKER_OPEN;
    f.keys_known[0] = true;
    f.keys[0] = (struct lx_route_keys){2, 1, 1, 160000};
    LX_ASSERT_EQ(LX_OK, route(cfg, "cost", &res));
    oreq.has_strategy = true;
    oreq.strategy = LX_CONFIG_STRATEGY_LATENCY;
    LX_ASSERT_EQ(LX_OK, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(LX_OK, explain_doc(&res, &plan, 100000, &b, &doc));
    /* S2 fields first, in their order */
    first_key = lx_json_first(&doc, 0);
    LX_ASSERT(lx_json_str_eq(&doc, first_key, LX_STR("provider")));
    LX_ASSERT(key_is(&doc, 0, "provider", "a"));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_sibling(&doc, 0, first_key), LX_STR("model")));
    LX_ASSERT(key_is(&doc, 0, "model", "cost"));
    LX_ASSERT_EQ(LX_JSON_TRUE, lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("available"))));
    LX_ASSERT_EQ(100000, num(&doc, 0, "timestamp"));
    LX_ASSERT(key_is(&doc, 0, "rule", "alias"));
    LX_ASSERT(key_is(&doc, 0, "strategy", "latency"));
    LX_ASSERT(key_is(&doc, 0, "alias", "cost"));
    LX_ASSERT_EQ(-1, lx_json_get(&doc, 0, LX_STR("error")));
    cands = lx_json_get(&doc, 0, LX_STR("candidates"));
    LX_ASSERT_EQ(4, lx_json_count(&doc, cands));
    c0 = lx_json_first(&doc, cands);
    LX_ASSERT(key_is(&doc, c0, "provider", "a"));
    LX_ASSERT(key_is(&doc, c0, "model", "m-a"));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, c0, LX_STR("skipped"))));
    LX_ASSERT(fabs(num(&doc, c0, "latency_ms") - 250.0) < 1e-9);
    LX_ASSERT_EQ(4, num(&doc, c0, "in_flight"));
    LX_ASSERT_EQ(1, num(&doc, c0, "weight"));
    LX_ASSERT(fabs(num(&doc, c0, "cost_usd") - (1000 * 2.5 + 500 * 10) / 1e6) < 1e-12);
    price = lx_json_get(&doc, c0, LX_STR("price"));
    LX_ASSERT(fabs(num(&doc, price, "input") - 2.5) < 1e-12);
    LX_ASSERT(fabs(num(&doc, price, "output") - 10) < 1e-12);
    LX_ASSERT(key_is(&doc, c0, "breaker", "closed"));
    keys = lx_json_get(&doc, c0, LX_STR("keys"));
    LX_ASSERT_EQ(2, num(&doc, keys, "usable"));
    LX_ASSERT_EQ(1, num(&doc, keys, "cooling"));
    LX_ASSERT_EQ(1, num(&doc, keys, "disabled"));
    LX_ASSERT_EQ(160000, num(&doc, keys, "soonest_cooldown_ms"));
    LX_ASSERT_EQ(60000, num(&doc, keys, "cooldown_remaining_ms"));
    c1 = lx_json_sibling(&doc, cands, c0);
    LX_ASSERT(key_is(&doc, c1, "provider", "b"));
    LX_ASSERT_EQ(128000, num(&doc, c1, "context_window"));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, c1, LX_STR("keys"))));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, c1, LX_STR("in_flight"))));
    /* skipped ones after the order: disabled provider, then the open breaker */
    last = lx_json_sibling(&doc, cands, c1);
    LX_ASSERT(key_is(&doc, last, "provider", "off"));
    LX_ASSERT(key_is(&doc, last, "skipped", "provider_disabled"));
    LX_ASSERT_EQ(LX_JSON_FALSE, lx_json_type(&doc, lx_json_get(&doc, last, LX_STR("enabled"))));
    last = lx_json_sibling(&doc, cands, last);
    LX_ASSERT(key_is(&doc, last, "provider", "c"));
    LX_ASSERT(key_is(&doc, last, "skipped", "breaker_open"));
    LX_ASSERT(key_is(&doc, last, "breaker", "open"));
    LX_ASSERT_EQ(2, num(&doc, last, "position"));

    /* nothing left: available false, the plan's error, retry_after_ms */
    f.breaker[0] = f.breaker[1] = LX_ROUTE_BREAKER_OPEN;
    f.keys[0] = (struct lx_route_keys){0, 1, 0, 0};
    f.breaker[0] = LX_ROUTE_BREAKER_CLOSED;
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(LX_OK, explain_doc(&res, &plan, 0, &b, &doc));
    LX_ASSERT_EQ(LX_JSON_FALSE, lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("available"))));
    LX_ASSERT_EQ(-1, lx_json_get(&doc, 0, LX_STR("timestamp")));
    LX_ASSERT(key_is(&doc, lx_json_get(&doc, 0, LX_STR("error")), "code", "rate_limited"));
    LX_ASSERT(key_is(&doc, lx_json_get(&doc, 0, LX_STR("error")), "type", "rate_limit_error"));
    LX_ASSERT_EQ(1000, num(&doc, 0, "retry_after_ms"));

    /* plan NULL: exactly the S2 explanation */
    {
        struct lx_buf b2 = LX_BUF_INIT(1 << 16);
        struct lx_json_writer w;
        lx_json_writer_init(&w, &b2);
        lx_route_explain(&res, 5, &w);
        LX_ASSERT_EQ(LX_OK, explain_doc(&res, NULL, 5, &b, &doc));
        LX_ASSERT_EQ(b.len, b2.len);
        LX_ASSERT(memcmp(b.ptr, b2.ptr, b.len) == 0);
        lx_buf_release(&b2);
    }
    /* a route with no candidate at all (404): the router's error */
    LX_ASSERT_EQ(LX_ENOTFOUND, route(cfg, "nope", &res));
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route_order(&res, &oreq, &sig, &plan));
    LX_ASSERT_EQ(404, plan.http_status);
    LX_ASSERT_EQ(LX_OK, explain_doc(&res, &plan, 0, &b, &doc));
    LX_ASSERT(key_is(&doc, lx_json_get(&doc, 0, LX_STR("error")), "code", "model_not_found"));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("provider"))));
    lx_json_release(&doc);
    lx_buf_release(&b);
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(strategy_no_alloc)
{
    struct lx_config *cfg = load(yaml_strat);
    static const char *const models[] = {"w", "lat", "cost", "busy", "prio", "nope"};
    struct lx_route_signals sig;
    struct fake f;
    uint64_t seed = 1;

    LX_ASSERT(cfg != NULL);
    fake_init(&f, &sig);
    f.breaker[1] = LX_ROUTE_BREAKER_OPEN;
    lx_alloc_fail_after(0);
    for (size_t i = 0; i < LX_ARRAY_SIZE(models); i++) {
        struct lx_route_result res;
        struct lx_route_plan plan;
        struct lx_route_order_req oreq = {
            .now_ms = 1, .random = splitmix(&seed), .input_tokens = 10000};
        route(cfg, models[i], &res);
        lx_route_order(&res, &oreq, &sig, &plan);
        lx_route_next_larger(&plan, 0, 10000);
    }
    lx_alloc_fail_after(-1);
    lx_config_unref(cfg);
    return 0;
}

/* The example of docs/configuration-file.md loads (providers from presets, disabled without
 * their variables) and means what the page says. */
LX_TEST(strategy_config_doc_example)
{
    static const char y[] =
        "models:\n"
        "  - name: smart\n"
        "    strategy: weighted\n"
        "    targets:\n"
        "      - {target: openai/gpt-4o, weight: 3, price: {input: 2.5, output: 10}, "
        "context_window: 128000}\n"
        "      - {target: anthropic/claude-sonnet-4-5, weight: 1, context_window: 200000}\n"
        "      - groq/llama-3.3-70b-versatile            # weight 1\n"
        "prices:\n"
        "  groq/llama-3.3-70b-versatile: {input: 0.59, output: 0.79, context_window: 131072}\n";
    struct lx_config *cfg = load(y);
    const struct lx_config_model *m;

    LX_ASSERT(cfg != NULL);
    m = lx_config_model_find(cfg, LX_STR("smart"));
    LX_ASSERT(m != NULL && m->n_targets == 3);
    LX_ASSERT_EQ(3, m->targets[0].weight);
    LX_ASSERT_EQ(1, m->targets[2].weight);
    LX_ASSERT(m->targets[2].has_price && fabs(m->targets[2].price_out - 0.79) < 1e-12);
    LX_ASSERT_EQ(131072, m->targets[2].context_window);
    lx_config_unref(cfg);
    return 0;
}
