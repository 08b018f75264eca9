/* test_router.c - routing decisions over real configurations loaded from YAML: one table of
 * cases (every rule, its precedence and its errors), the explain JSON parsed back, and the
 * /v1/models list. The router does not allocate; the tests check that too. */
#include <stdlib.h>

#include "config/config.h"
#include "core/alloc.h"
#include "router/router.h"
#include "tests/unit/config_load.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/writer.h"

/* Default routes (no `routes:`): gpt-*, o1*, o3* -> openai; *gemini* -> gemini;
 * "@cf/" prefix -> cloudflare; claude-* -> anthropic (disabled here). */
static const char yaml_default[] =
    "listen: 127.0.0.1:4000\n"
    "providers:\n"
    "  - name: openai\n"
    "    keys: [ \"sk-openai\" ]\n"
    "  - name: anthropic\n"
    "    keys: [ \"sk-ant\" ]\n"
    "    enabled: false\n"
    "  - name: gemini\n"
    "    keys: [ \"g-key\" ]\n"
    "  - name: cloudflare\n"
    "    base_url: https://api.cloudflare.com/client/v4/accounts/A/ai/v1\n"
    "    keys: [ \"cf-key\" ]\n"
    "  - name: openrouter\n"
    "    keys: [ \"or-key\" ]\n"
    "  - name: groq\n"
    "    keys: [ \"gq-key\" ]\n"
    "    enabled: false\n"
    "  - name: local\n"
    "    type: ollama\n"
    "  - name: Mixed.Case\n"
    "    type: openai\n"
    "    base_url: http://127.0.0.1:9/v1\n"
    "models:\n"
    "  - name: fast\n"
    "    targets: [ \"openai/gpt-4o-mini\", \"groq/llama-3.3-70b-versatile\", "
    "\"local/llama3.2\" ]\n"
    "  - name: smart\n"
    "    targets: [ \"anthropic/claude-sonnet-4-5\", \"openrouter/openai/gpt-4o\" ]\n"
    "  - name: dead\n"
    "    targets: [ \"groq/llama3\", \"anthropic/claude-3-haiku\" ]\n"
    "  - name: openai/gpt-4o\n" /* an alias that looks like a prefix: aliases win */
    "    targets: [ \"openrouter/openai/gpt-4o\" ]\n"
    "  - name: many\n"
    "    targets: [ \"openai/m0\", \"openai/m1\", \"openai/m2\", \"openai/m3\", \"openai/m4\",\n"
    "               \"openai/m5\", \"openai/m6\", \"openai/m7\", \"openai/m8\", \"openai/m9\" ]\n";

/* Custom rules, in order, including one for a disabled provider before an enabled one. */
static const char yaml_routes[] = "listen: 127.0.0.1:4000\n"
                                  "providers:\n"
                                  "  - name: openai\n"
                                  "    keys: [ \"sk-openai\" ]\n"
                                  "  - name: gemini\n"
                                  "    keys: [ \"g-key\" ]\n"
                                  "  - name: groq\n"
                                  "    keys: [ \"gq-key\" ]\n"
                                  "    enabled: false\n"
                                  "  - name: local\n"
                                  "    type: ollama\n"
                                  "routes:\n"
                                  "  - { match: \"llama-3.3*\", provider: groq }\n"
                                  "  - { match: \"llama*\", provider: local }\n"
                                  "  - { match: \"mixtral-?x7b\", provider: groq }\n"
                                  "  - { match: \"*gemini*\", provider: gemini }\n"
                                  "  - { match: \"*\", provider: openai }\n";

static struct lx_config *load(const char *yaml)
{
    return lx_test_load_config("router.yaml", yaml);
}

struct rcase {
    const char *model, *provider, *header; /* NULL = not given */
    int status;                            /* HTTP */
    enum lx_route_rule rule;
    const char *first_provider, *first_model; /* cand[0], or skipped[0] for a 503 */
    size_t n_cand, n_skipped;
    const char *code; /* NULL for success */
};

#define OK_(m, p, h, rule, fp, fm, nc, ns)                                                         \
    {                                                                                              \
        m, p, h, 200, LX_ROUTE_RULE_##rule, fp, fm, nc, ns, NULL                                   \
    }
#define ERR_(m, p, h, st, rule, fp, fm, ns, code)                                                  \
    {                                                                                              \
        m, p, h, st, LX_ROUTE_RULE_##rule, fp, fm, 0, ns, code                                     \
    }

static const struct rcase default_cases[] = {
    /* pattern rules (S2 defaults) */
    OK_("gpt-4o", NULL, NULL, PATTERN, "openai", "gpt-4o", 1, 0),
    OK_("gpt-3.5-turbo", NULL, NULL, PATTERN, "openai", "gpt-3.5-turbo", 1, 0),
    OK_("o1-mini", NULL, NULL, PATTERN, "openai", "o1-mini", 1, 0),
    OK_("o3", NULL, NULL, PATTERN, "openai", "o3", 1, 0),
    OK_("gemini-2.0-flash", NULL, NULL, PATTERN, "gemini", "gemini-2.0-flash", 1, 0),
    OK_("models/gemini-pro", NULL, NULL, PATTERN, "gemini", "models/gemini-pro", 1, 0),
    OK_("learnlm-gemini-x", NULL, NULL, PATTERN, "gemini", "learnlm-gemini-x", 1, 0),
    OK_("@cf/meta/llama-4-scout-17b-16e-instruct", NULL, NULL, PATTERN, "cloudflare",
        "@cf/meta/llama-4-scout-17b-16e-instruct", 1, 0),
    OK_("@cf/x", NULL, NULL, PATTERN, "cloudflare", "@cf/x", 1, 0),
    ERR_("claude-3-5-sonnet", NULL, NULL, 503, PATTERN, "anthropic", "claude-3-5-sonnet", 1,
         "provider_unavailable"),
    /* prefix split at the first slash */
    OK_("openai/gpt-4o-mini", NULL, NULL, PREFIX, "openai", "gpt-4o-mini", 1, 0),
    OK_("openrouter/openai/gpt-4o", NULL, NULL, PREFIX, "openrouter", "openai/gpt-4o", 1, 0),
    OK_("openrouter/meta-llama/llama-3-70b/x", NULL, NULL, PREFIX, "openrouter",
        "meta-llama/llama-3-70b/x", 1, 0),
    OK_("local/llama3.2", NULL, NULL, PREFIX, "local", "llama3.2", 1, 0),
    OK_("gemini/gemini-1.5-pro", NULL, NULL, PREFIX, "gemini", "gemini-1.5-pro", 1, 0),
    OK_("openai/claude-x", NULL, NULL, PREFIX, "openai", "claude-x", 1, 0),
    OK_("Mixed.Case/m", NULL, NULL, PREFIX, "Mixed.Case", "m", 1, 0),
    ERR_("groq/llama3", NULL, NULL, 503, PREFIX, "groq", "llama3", 1, "provider_unavailable"),
    ERR_("anthropic/claude-3", NULL, NULL, 503, PREFIX, "anthropic", "claude-3", 1,
         "provider_unavailable"),
    /* prefixes that are not providers fall through to the patterns or to not found */
    ERR_("OpenAI/gpt-4o", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"), /* exact */
    ERR_("mistral/mistral-large", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    ERR_("openai/", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    ERR_("/gpt-4o", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    /* aliases, with disabled targets skipped */
    OK_("fast", NULL, NULL, ALIAS, "openai", "gpt-4o-mini", 2, 1),
    OK_("smart", NULL, NULL, ALIAS, "openrouter", "openai/gpt-4o", 1, 1),
    ERR_("dead", NULL, NULL, 503, ALIAS, "groq", "llama3", 2, "provider_unavailable"),
    OK_("openai/gpt-4o", NULL, NULL, ALIAS, "openrouter", "openai/gpt-4o", 1, 0),
    OK_("many", NULL, NULL, ALIAS, "openai", "m0", LX_ROUTE_MAX_CANDIDATES, 0),
    ERR_("Fast", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    /* explicit provider: body field, header, both */
    OK_("gpt-4o", "openrouter", NULL, EXPLICIT, "openrouter", "gpt-4o", 1, 0),
    OK_("fast", "openai", NULL, EXPLICIT, "openai", "fast", 1, 0),
    OK_("openai/gpt-4o", "openrouter", NULL, EXPLICIT, "openrouter", "openai/gpt-4o", 1, 0),
    OK_("anything-at-all", NULL, "local", EXPLICIT, "local", "anything-at-all", 1, 0),
    OK_("claude-3-5-sonnet-20241022", NULL, "OpenRouter", EXPLICIT, "openrouter",
        "claude-3-5-sonnet-20241022", 1, 0),
    OK_("gpt-4o", "gemini", "Gemini", EXPLICIT, "gemini", "gpt-4o", 1, 0),
    OK_("gpt-4o", "", "", PATTERN, "openai", "gpt-4o", 1, 0), /* empty = not given */
    OK_("gpt-4o", "", "gemini", EXPLICIT, "gemini", "gpt-4o", 1, 0),
    ERR_("gpt-4o", "openai", "gemini", 400, EXPLICIT, NULL, NULL, 0, "conflicting_provider"),
    ERR_("gpt-4o", "nope", NULL, 400, EXPLICIT, NULL, NULL, 0, "provider_not_found"),
    ERR_("claude-3", NULL, "bedrock", 400, EXPLICIT, NULL, NULL, 0, "provider_not_found"),
    ERR_("llama3", "groq", NULL, 503, EXPLICIT, "groq", "llama3", 1, "provider_unavailable"),
    ERR_("claude-3", NULL, "anthropic", 503, EXPLICIT, "anthropic", "claude-3", 1,
         "provider_unavailable"),
    /* unknown and missing */
    ERR_("llama-3-8b", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    ERR_("cf/meta/llama", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    ERR_("GPT-4o", NULL, NULL, 404, NONE, NULL, NULL, 0, "model_not_found"),
    ERR_("", NULL, NULL, 400, NONE, NULL, NULL, 0, "missing_model"),
    ERR_(NULL, NULL, NULL, 400, NONE, NULL, NULL, 0, "missing_model"),
    ERR_("", "openai", NULL, 400, NONE, NULL, NULL, 0, "missing_model"),
};

static const struct rcase routes_cases[] = {
    /* the groq rule comes first, but groq is disabled: the next enabled rule takes it */
    OK_("llama-3.3-70b", NULL, NULL, PATTERN, "local", "llama-3.3-70b", 1, 0),
    OK_("llama3.2", NULL, NULL, PATTERN, "local", "llama3.2", 1, 0),
    OK_("mixtral-8x7b", NULL, NULL, PATTERN, "openai", "mixtral-8x7b", 1, 0),
    OK_("gemini-pro", NULL, NULL, PATTERN, "gemini", "gemini-pro", 1, 0),
    OK_("my-gemini", NULL, NULL, PATTERN, "gemini", "my-gemini", 1, 0),
    OK_("claude-3", NULL, NULL, PATTERN, "openai", "claude-3", 1, 0),
    OK_("@cf/meta/llama", NULL, NULL, PATTERN, "openai", "@cf/meta/llama", 1, 0),
    OK_("local/x", NULL, NULL, PREFIX, "local", "x", 1, 0),
};

static struct lx_str opt(const char *s) { return s ? lx_str_cstr(s) : LX_STR_NULL; }

static int check_case(const struct lx_config *cfg, const struct rcase *c)
{
    struct lx_route_req req = {opt(c->model), opt(c->provider), opt(c->header), false};
    struct lx_route_result res;
    int rc = lx_route(cfg, &req, &res);
    const struct lx_route_candidate *first = res.n_cand      ? &res.cand[0]
                                             : res.n_skipped ? &res.skipped[0]
                                                             : NULL;

    LX_ASSERT_EQ(c->status, res.status == LX_ROUTE_OK ? 200 : res.err.http_status);
    LX_ASSERT_EQ(rc == LX_OK, c->status == 200);
    LX_ASSERT_EQ(c->rule, res.rule);
    LX_ASSERT_EQ(c->n_cand, res.n_cand);
    LX_ASSERT_EQ(c->n_skipped, res.n_skipped);
    if (c->first_provider != NULL) {
        LX_ASSERT(first != NULL);
        LX_ASSERT_STREQ(c->first_provider, first->provider->name);
        LX_ASSERT_STR(first->model, c->first_model);
        LX_ASSERT(first->provider == &cfg->providers[first->provider_index]);
    }
    if (c->code == NULL) {
        LX_ASSERT(res.code == NULL);
        for (size_t i = 0; i < res.n_cand; i++)
            LX_ASSERT(res.cand[i].provider->enabled);
    } else {
        LX_ASSERT_STREQ(c->code, res.code);
        LX_ASSERT(res.err.msg[0] != '\0');
        LX_ASSERT_EQ(rc, res.err.rc);
    }
    for (size_t i = 0; i < res.n_skipped; i++)
        LX_ASSERT(!res.skipped[i].provider->enabled);
    return 0;
}

static int run_table(const char *yaml, const struct rcase *cases, size_t n)
{
    struct lx_config *cfg = load(yaml);

    LX_ASSERT(cfg != NULL);
    for (size_t i = 0; i < n; i++) {
        if (check_case(cfg, &cases[i]) != 0) {
            fprintf(stderr, "  in case %zu: model=%s provider=%s header=%s\n", i,
                    cases[i].model ? cases[i].model : "(null)",
                    cases[i].provider ? cases[i].provider : "(null)",
                    cases[i].header ? cases[i].header : "(null)");
            lx_config_unref(cfg);
            return 1;
        }
    }
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(router_table_default)
{
    return run_table(yaml_default, default_cases, LX_ARRAY_SIZE(default_cases));
}

LX_TEST(router_table_routes)
{
    return run_table(yaml_routes, routes_cases, LX_ARRAY_SIZE(routes_cases));
}

LX_TEST(router_table_size)
{
    LX_ASSERT(LX_ARRAY_SIZE(default_cases) + LX_ARRAY_SIZE(routes_cases) >= 40);
    return 0;
}

/* Without a catch-all, a glob whose only provider is disabled gives 503, not 404. */
LX_TEST(router_pattern_disabled_only)
{
    static const char y[] = "providers:\n"
                            "  - name: groq\n"
                            "    keys: [ \"k\" ]\n"
                            "    enabled: false\n"
                            "  - name: openai\n"
                            "    keys: [ \"k\" ]\n"
                            "routes:\n"
                            "  - { match: \"llama*\", provider: groq }\n";
    struct lx_config *cfg = load(y);
    struct lx_route_req req = {LX_STR("llama-3"), LX_STR_NULL, LX_STR_NULL, false};
    struct lx_route_result res;

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route(cfg, &req, &res));
    LX_ASSERT_EQ(503, res.err.http_status);
    LX_ASSERT_EQ(LX_ROUTE_RULE_PATTERN, res.rule);
    LX_ASSERT_STREQ("llama*", res.route->match);
    LX_ASSERT(strstr(res.err.msg, "groq") != NULL);
    req.model = LX_STR("mistral");
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route(cfg, &req, &res));
    LX_ASSERT_EQ(404, res.err.http_status);
    LX_ASSERT(strstr(res.err.msg, "'mistral'") != NULL);
    LX_ASSERT(strstr(res.err.msg, "provider/model") != NULL);
    lx_config_unref(cfg);
    return 0;
}

/* Alias candidates keep the configured order; the slices point into the snapshot. */
LX_TEST(router_alias_order)
{
    struct lx_config *cfg = load(yaml_default);
    struct lx_route_req req = {LX_STR("fast"), LX_STR_NULL, LX_STR_NULL, false};
    struct lx_route_result res;

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, lx_route(cfg, &req, &res));
    LX_ASSERT_STREQ("fast", res.alias->name);
    LX_ASSERT_STREQ("openai", res.cand[0].provider->name);
    LX_ASSERT_STREQ("local", res.cand[1].provider->name);
    LX_ASSERT_STR(res.cand[1].model, "llama3.2");
    LX_ASSERT_EQ(0, res.cand[0].pos);
    LX_ASSERT_EQ(2, res.cand[1].pos);
    LX_ASSERT_STREQ("groq", res.skipped[0].provider->name);
    LX_ASSERT_EQ(1, res.skipped[0].pos);
    LX_ASSERT(!res.truncated);
    req.model = LX_STR("many");
    LX_ASSERT_EQ(LX_OK, lx_route(cfg, &req, &res));
    LX_ASSERT(res.truncated);
    LX_ASSERT_STR(res.cand[LX_ROUTE_MAX_CANDIDATES - 1].model, "m7");
    lx_config_unref(cfg);
    return 0;
}

/* The model used as is is a slice of the caller's bytes, not a copy; long or hostile names
 * are clipped in messages and never overflow err.msg. */
LX_TEST(router_borrows_and_clips)
{
    struct lx_config *cfg = load(yaml_default);
    char model[4096];
    struct lx_route_req req = {LX_STR_NULL, LX_STR_NULL, LX_STR_NULL, false};
    struct lx_route_result res;

    LX_ASSERT(cfg != NULL);
    memset(model, 'x', sizeof(model));
    memcpy(model, "openrouter/", 11);
    req.model = lx_str_make(model, sizeof(model));
    LX_ASSERT_EQ(LX_OK, lx_route(cfg, &req, &res));
    LX_ASSERT(res.cand[0].model.ptr == model + 11);
    LX_ASSERT_EQ(sizeof(model) - 11, res.cand[0].model.len);
    model[0] = 'y'; /* no such provider now: 404 quoting at most 64 bytes */
    LX_ASSERT_EQ(LX_ENOTFOUND, lx_route(cfg, &req, &res));
    LX_ASSERT(strlen(res.err.msg) < sizeof(res.err.msg));
    {
        char want[80];
        snprintf(want, sizeof(want), "'%.64s'", model);
        LX_ASSERT(strstr(res.err.msg, want) != NULL);
    }
    lx_config_unref(cfg);
    return 0;
}

/* The router never allocates: with every fallible allocation failing, results are the same. */
LX_TEST(router_no_alloc)
{
    struct lx_config *cfg = load(yaml_default);
    int rc = 0;

    LX_ASSERT(cfg != NULL);
    lx_alloc_fail_after(0);
    for (size_t i = 0; i < LX_ARRAY_SIZE(default_cases) && rc == 0; i++)
        rc = check_case(cfg, &default_cases[i]);
    lx_alloc_fail_after(-1);
    lx_config_unref(cfg);
    return rc;
}

/* ---- explain ---- */

static int explain(const struct lx_config *cfg, const char *model, const char *provider,
                   struct lx_buf *b, struct lx_json *doc)
{
    struct lx_route_req req = {opt(model), opt(provider), LX_STR_NULL, false};
    struct lx_route_result res;
    struct lx_json_writer w;

    lx_route(cfg, &req, &res);
    lx_buf_reset(b);
    lx_json_writer_init(&w, b);
    if (lx_route_explain(&res, 1700000000123u, &w) != LX_OK || lx_json_writer_finish(&w) != LX_OK)
        return -1;
    return lx_json_parse(doc, b->ptr, b->len);
}

static bool str_at(const struct lx_json *doc, int obj, const char *key, const char *want)
{
    int i = lx_json_get(doc, obj, lx_str_cstr(key));
    return i >= 0 && lx_json_str_eq(doc, i, lx_str_cstr(want));
}

static bool bool_at(const struct lx_json *doc, int obj, const char *key, bool want)
{
    bool v;
    return lx_json_bool(doc, lx_json_get(doc, obj, lx_str_cstr(key)), &v) == LX_OK && v == want;
}

LX_TEST(router_explain_json)
{
    struct lx_config *cfg = load(yaml_default);
    struct lx_buf b = LX_BUF_INIT(1 << 16);
    struct lx_json doc;
    int cands, c;
    uint64_t ts;

    LX_ASSERT(cfg != NULL);
    lx_json_init(&doc, NULL);

    /* S2's fields, then ours: alias with a skipped target in the middle */
    LX_ASSERT_EQ(LX_OK, explain(cfg, "fast", NULL, &b, &doc));
    LX_ASSERT(str_at(&doc, 0, "provider", "openai"));
    LX_ASSERT(str_at(&doc, 0, "model", "fast"));
    LX_ASSERT(bool_at(&doc, 0, "available", true));
    LX_ASSERT_EQ(LX_OK, lx_json_uint64(&doc, lx_json_get(&doc, 0, LX_STR("timestamp")), &ts));
    LX_ASSERT_EQ(1700000000123u, ts);
    LX_ASSERT(str_at(&doc, 0, "rule", "alias"));
    LX_ASSERT(str_at(&doc, 0, "alias", "fast"));
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("error")) < 0);
    cands = lx_json_get(&doc, 0, LX_STR("candidates"));
    LX_ASSERT_EQ(3, lx_json_count(&doc, cands));
    c = lx_json_first(&doc, cands);
    LX_ASSERT(str_at(&doc, c, "provider", "openai") && str_at(&doc, c, "model", "gpt-4o-mini") &&
              bool_at(&doc, c, "enabled", true));
    c = lx_json_sibling(&doc, cands, c);
    LX_ASSERT(str_at(&doc, c, "provider", "groq") && bool_at(&doc, c, "enabled", false));
    c = lx_json_sibling(&doc, cands, c);
    LX_ASSERT(str_at(&doc, c, "provider", "local") && str_at(&doc, c, "model", "llama3.2"));

    /* pattern: the glob is shown */
    LX_ASSERT_EQ(LX_OK, explain(cfg, "@cf/meta/llama-4-scout-17b-16e-instruct", NULL, &b, &doc));
    LX_ASSERT(str_at(&doc, 0, "provider", "cloudflare"));
    LX_ASSERT(str_at(&doc, 0, "rule", "pattern"));
    LX_ASSERT(str_at(&doc, 0, "match", "@cf/*"));

    /* not found: provider null, available false, an OpenAI error object */
    LX_ASSERT_EQ(LX_OK, explain(cfg, "no-such\"model\n", NULL, &b, &doc));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("provider"))));
    LX_ASSERT(str_at(&doc, 0, "model", "no-such\"model\n"));
    LX_ASSERT(bool_at(&doc, 0, "available", false));
    LX_ASSERT(str_at(&doc, 0, "rule", "none"));
    LX_ASSERT_EQ(0, lx_json_count(&doc, lx_json_get(&doc, 0, LX_STR("candidates"))));
    c = lx_json_get(&doc, 0, LX_STR("error"));
    LX_ASSERT(str_at(&doc, c, "code", "model_not_found"));
    LX_ASSERT(str_at(&doc, c, "type", "invalid_request_error"));
    LX_ASSERT(str_at(&doc, c, "param", "model"));

    /* disabled: the provider is named, but not available */
    LX_ASSERT_EQ(LX_OK, explain(cfg, "claude-3-opus", NULL, &b, &doc));
    LX_ASSERT(str_at(&doc, 0, "provider", "anthropic"));
    LX_ASSERT(bool_at(&doc, 0, "available", false));
    c = lx_json_get(&doc, 0, LX_STR("error"));
    LX_ASSERT(str_at(&doc, c, "code", "provider_unavailable"));

    /* explicit */
    LX_ASSERT_EQ(LX_OK, explain(cfg, "gpt-4o", "openrouter", &b, &doc));
    LX_ASSERT(str_at(&doc, 0, "provider", "openrouter"));
    LX_ASSERT(str_at(&doc, 0, "rule", "explicit"));

    /* a tiny buffer fails cleanly with the buffer's error */
    {
        struct lx_buf small = LX_BUF_INIT(16);
        struct lx_json_writer w;
        struct lx_route_req req = {LX_STR("fast"), LX_STR_NULL, LX_STR_NULL, false};
        struct lx_route_result res;
        lx_route(cfg, &req, &res);
        lx_json_writer_init(&w, &small);
        LX_ASSERT_EQ(LX_ETOOBIG, lx_route_explain(&res, 0, &w));
        lx_buf_release(&small);
    }

    lx_json_release(&doc);
    lx_buf_release(&b);
    lx_config_unref(cfg);
    return 0;
}

/* Allocation failures inside the caller's buffer come back as LX_ENOMEM, no crash or leak. */
LX_TEST(router_explain_oom)
{
    struct lx_config *cfg = load(yaml_default);
    struct lx_route_req req = {LX_STR("fast"), LX_STR_NULL, LX_STR_NULL, false};
    struct lx_route_result res;

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_OK, lx_route(cfg, &req, &res));
    for (long n = 0;; n++) {
        struct lx_buf b = LX_BUF_INIT(1 << 16);
        struct lx_json_writer w;
        int rc;

        lx_json_writer_init(&w, &b);
        lx_alloc_fail_after(n);
        rc = lx_route_explain(&res, 0, &w);
        lx_alloc_fail_after(-1);
        lx_buf_release(&b);
        if (rc == LX_OK)
            break;
        LX_ASSERT_EQ(LX_ENOMEM, rc);
        LX_ASSERT(n < 100);
    }
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(router_models_list)
{
    struct lx_config *cfg = load(yaml_default);
    struct lx_buf b = LX_BUF_INIT(1 << 16);
    struct lx_json_writer w;
    struct lx_json doc;
    const char *want[][2] = {
        {"fast", "llmux"},
        {"smart", "llmux"},
        {"openai/gpt-4o", "llmux"}, /* the alias */
        {"many", "llmux"},
        {"openai/gpt-4o-mini", "openai"},
        {"local/llama3.2", "local"},
        {"openrouter/openai/gpt-4o", "openrouter"}, /* once, though two aliases name it */
        {"openai/m0", "openai"},
    };
    int data, e;
    size_t k = 0;

    LX_ASSERT(cfg != NULL);
    lx_json_writer_init(&w, &b);
    LX_ASSERT_EQ(LX_OK, lx_route_models_json(cfg, 1234, &w));
    LX_ASSERT_EQ(LX_OK, lx_json_writer_finish(&w));
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
    LX_ASSERT(str_at(&doc, 0, "object", "list"));
    data = lx_json_get(&doc, 0, LX_STR("data"));
    /* 4 aliases (dead has no enabled target) + 3 targets + m0..m9 */
    LX_ASSERT_EQ(4 + 3 + 10, lx_json_count(&doc, data));
    for (e = lx_json_first(&doc, data); e >= 0 && k < LX_ARRAY_SIZE(want);
         e = lx_json_sibling(&doc, data, e), k++) {
        uint64_t created;
        if (!str_at(&doc, e, "id", want[k][0]) || !str_at(&doc, e, "owned_by", want[k][1]))
            LX_FAIL("entry %zu is not %s owned by %s: %s", k, want[k][0], want[k][1], b.ptr);
        LX_ASSERT(str_at(&doc, e, "object", "model"));
        LX_ASSERT_EQ(LX_OK,
                     lx_json_uint64(&doc, lx_json_get(&doc, e, LX_STR("created")), &created));
        LX_ASSERT_EQ(1234, created);
    }
    LX_ASSERT(strstr(b.ptr, "groq") == NULL); /* disabled providers are not listed */
    LX_ASSERT(strstr(b.ptr, "anthropic") == NULL);
    LX_ASSERT(strstr(b.ptr, "\"dead\"") == NULL);
    lx_json_release(&doc);
    lx_buf_release(&b);
    lx_config_unref(cfg);
    return 0;
}
