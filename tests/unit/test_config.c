/* test_config.c - the YAML configuration: the contract example, interpolation, one test per
 * kind of validation error with its exact FILE:LINE:COL, several errors at once, secrets kept
 * out of messages and dumps, the snapshot's reference count, and allocation failures.
 * Tests set and unset environment variables: single-threaded. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "core/alloc.h"
#include "core/err.h"
#include "tests/unit/test.h"

#define CANARY "sk-CANARY-7f3a9c1e5b2d4f6a8c0e"

static void clear_env(void)
{
    for (size_t i = 0; i < lx__config_n_presets; i++)
        if (lx__config_presets[i].env_key != NULL)
            unsetenv(lx__config_presets[i].env_key);
    unsetenv("LLMUX_MASTER_KEY");
    unsetenv("CLOUDFLARE_ACCOUNT_ID");
    unsetenv("OPENAI_API_KEY_2");
    unsetenv("LLMUX_TEST_LISTEN");
}

static int load(const char *yaml, struct lx_config **cfg, struct lx_config_errs *errs)
{
    return lx_config_load_string("t.yaml", yaml, strlen(yaml), cfg, errs);
}

static bool has_msg(const struct lx_config_errs *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, text) != NULL)
            return true;
    return false;
}

static void print_msgs(const struct lx_config_errs *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  | %s\n", errs->msgs[i].text);
}

static bool errs_contain(const struct lx_config_errs *errs, const char *needle)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, needle) != NULL)
            return true;
    return false;
}

LX_TEST(config_contract_example_loads)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_model *m;
    const struct lx_config_provider *p;

    clear_env();
    setenv("LLMUX_MASTER_KEY", CANARY "-master", 1);
    setenv("OPENAI_API_KEY", CANARY "-openai", 1);
    LX_ASSERT_EQ(LX_OK, lx_config_load_file("tests/fixtures/config/contract.yaml", &cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "127.0.0.1");
    LX_ASSERT_EQ(4000, cfg->listen_port);
    LX_ASSERT_STREQ(cfg->master_key, CANARY "-master");
    LX_ASSERT_EQ(LX_CONFIG_AUTH_MASTER_KEY, cfg->auth);
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT(p != NULL && p->enabled);
    LX_ASSERT_EQ(LX_CONFIG_PROTO_OPENAI, p->proto);
    LX_ASSERT_STREQ(p->base_url, "https://api.openai.com/v1");
    LX_ASSERT_EQ(1, p->n_keys);
    LX_ASSERT_STREQ(p->keys[0], CANARY "-openai");
    m = lx_config_model_find(cfg, LX_STR("fast"));
    LX_ASSERT(m != NULL);
    LX_ASSERT_EQ(2, m->n_targets);
    LX_ASSERT_STREQ(m->targets[0].provider, "openai");
    LX_ASSERT_STREQ(m->targets[0].model, "gpt-4o-mini");
    LX_ASSERT_STREQ(m->targets[1].provider, "groq");
    LX_ASSERT_STREQ(m->targets[1].model, "llama-3.3-70b-versatile");
    /* groq is a preset without GROQ_API_KEY: an implicit, disabled provider and a warning */
    p = &cfg->providers[m->targets[1].provider_index];
    LX_ASSERT(!p->enabled);
    LX_ASSERT(has_msg(&errs, "contract.yaml:10:39: warning: model fast.targets[1]: provider groq "
                             "is not configured and GROQ_API_KEY is not set"));
    LX_ASSERT_EQ(0, errs.n_errors);
    /* default routes (S2) */
    LX_ASSERT(lx_config_route_match(cfg, LX_STR("gpt-4o")) != NULL);
    LX_ASSERT_STREQ(lx_config_route_match(cfg, LX_STR("o3-mini"))->provider, "openai");
    LX_ASSERT(lx_config_route_match(cfg, LX_STR("claude-3-haiku")) == NULL); /* not configured */
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* the same file with GROQ_API_KEY set: groq is enabled from the environment */
    setenv("GROQ_API_KEY", CANARY "-groq", 1);
    LX_ASSERT_EQ(LX_OK, lx_config_load_file("tests/fixtures/config/contract.yaml", &cfg, &errs));
    p = lx_config_provider_find(cfg, LX_STR("groq"));
    LX_ASSERT(p != NULL && p->enabled);
    LX_ASSERT_STREQ(p->base_url, "https://api.groq.com/openai/v1");
    LX_ASSERT_EQ(0, errs.n_warnings);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    clear_env();
    return 0;
}

LX_TEST(config_full_example)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_provider *p;

    clear_env();
    setenv("LLMUX_MASTER_KEY", CANARY "-master", 1);
    setenv("OPENAI_API_KEY", CANARY "-openai", 1);
    setenv("ANTHROPIC_API_KEY", CANARY "-anthropic", 1);
    if (lx_config_load_file("tests/fixtures/config/full.yaml", &cfg, &errs) != LX_OK) {
        print_msgs(&errs);
        LX_FAIL("full.yaml did not load");
    }
    LX_ASSERT_EQ(4100, cfg->listen_port);
    LX_ASSERT_EQ(2, cfg->workers);
    LX_ASSERT_EQ(LX_LOG_WARN, cfg->log_level);
    LX_ASSERT_EQ(1048576, cfg->server.max_body);
    LX_ASSERT_EQ(5000, cfg->server.header_timeout_ms);
    LX_ASSERT(cfg->server.answer_half_closed);
    LX_ASSERT_EQ(2000, cfg->upstream.timeouts.connect_ms);
    LX_ASSERT_EQ(2, cfg->cors.n_origins);
    LX_ASSERT_EQ(4, cfg->n_providers);
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT_EQ(1, p->n_keys); /* ${OPENAI_API_KEY_2:-} is empty: skipped with a warning */
    LX_ASSERT(has_msg(&errs, "full.yaml:23:35: warning: key 2 of provider openai is empty"));
    p = lx_config_provider_find(cfg, LX_STR("claude"));
    LX_ASSERT_EQ(LX_CONFIG_PROTO_ANTHROPIC, p->proto);
    LX_ASSERT_STREQ(p->base_url, "https://api.anthropic.com/v1");
    LX_ASSERT_EQ(1, p->n_keys);
    LX_ASSERT_EQ(2, p->n_headers);
    LX_ASSERT_STR(p->headers[0].name, "anthropic-version");
    LX_ASSERT_STR(p->headers[0].value, "2023-06-01");
    LX_ASSERT_EQ(180000, p->timeouts.first_byte_ms);
    LX_ASSERT_EQ(2000, p->timeouts.connect_ms); /* inherited from upstream: */
    p = lx_config_provider_find(cfg, LX_STR("local"));
    LX_ASSERT_STREQ(p->base_url, "http://127.0.0.1:11434/v1"); /* trailing '/' dropped */
    LX_ASSERT_EQ(0, p->n_keys);
    LX_ASSERT(p->enabled);
    LX_ASSERT(!lx_config_provider_find(cfg, LX_STR("spare"))->enabled);
    LX_ASSERT_EQ(3, cfg->n_routes);
    LX_ASSERT_STREQ(lx_config_route_match(cfg, LX_STR("llama3.2"))->provider, "local");
    LX_ASSERT_STREQ(lx_config_route_match(cfg, LX_STR("claude-x"))->provider, "claude");
    LX_ASSERT(lx_config_route_match(cfg, LX_STR("mistral-large")) == NULL);
    LX_ASSERT_EQ(0, errs.n_errors);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    clear_env();
    return 0;
}

LX_TEST(config_interpolate_table)
{
    static const struct {
        const char *in, *out; /* out NULL: an error */
        int rc;
    } cases[] = {
        {"plain", "plain", LX_OK},
        {"${LXT_A}", "alpha", LX_OK},
        {"x-${LXT_A}-y", "x-alpha-y", LX_OK},
        {"${LXT_A}${LXT_A}", "alphaalpha", LX_OK},
        {"${LXT_UNSET:-def}", "def", LX_OK},
        {"${LXT_UNSET:-}", "", LX_OK},
        {"${LXT_EMPTY:-def}", "def", LX_OK}, /* :- also covers set-but-empty */
        {"${LXT_EMPTY}", "", LX_OK},
        {"${LXT_A:-def}", "alpha", LX_OK},
        {"${LXT_UNSET:-a:b-c}", "a:b-c", LX_OK},
        {"$$", "$", LX_OK},
        {"$${LXT_A}", "${LXT_A}", LX_OK},
        {"cost $5", "cost $5", LX_OK},
        {"end$", "end$", LX_OK},
        {"${LXT_UNSET}", NULL, LX_ENOTFOUND},
        {"a${LXT_UNSET}b", NULL, LX_ENOTFOUND},
        {"${", NULL, LX_EPARSE},
        {"${}", NULL, LX_EPARSE},
        {"${1A}", NULL, LX_EPARSE},
        {"${LXT_A", NULL, LX_EPARSE},
        {"${LXT_A x}", NULL, LX_EPARSE},
        {"${LXT_A:-unterminated", NULL, LX_EPARSE},
    };

    setenv("LXT_A", "alpha", 1);
    setenv("LXT_EMPTY", "", 1);
    unsetenv("LXT_UNSET");
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_buf b = LX_BUF_INIT(1024);
        struct lx_str missing = LX_STR_NULL;
        const char *why = NULL;
        int rc = lx__config_interpolate(lx_str_cstr(cases[i].in), &b, &missing, &why);

        if (rc != cases[i].rc)
            LX_FAIL("case %zu \"%s\": rc %d, want %d", i, cases[i].in, rc, cases[i].rc);
        if (cases[i].out != NULL)
            LX_ASSERT_STR(lx_buf_str(&b), cases[i].out);
        if (rc == LX_ENOTFOUND)
            LX_ASSERT_STR(missing, "LXT_UNSET");
        if (rc == LX_EPARSE)
            LX_ASSERT(why != NULL);
        lx_buf_release(&b);
    }
    unsetenv("LXT_A");
    unsetenv("LXT_EMPTY");
    return 0;
}

LX_TEST(config_interpolation_in_file)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    clear_env();
    setenv("LXT_PORT", "4555", 1);
    LX_ASSERT_EQ(LX_OK, load("listen: ${LXT_HOST:-127.0.0.2}:${LXT_PORT}\n"
                             "server:\n  max_body: ${LXT_BODY:-2k}\n"
                             "providers:\n  - name: x\n    type: openai\n"
                             "    base_url: https://$${literal}.example/v1\n",
                             &cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "127.0.0.2");
    LX_ASSERT_EQ(4555, cfg->listen_port);
    LX_ASSERT_EQ(2048, cfg->server.max_body);
    LX_ASSERT_STREQ(cfg->providers[0].base_url, "https://${literal}.example/v1");
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* an unset variable without default is an error naming it and its place */
    LX_ASSERT_EQ(LX_EINVAL, load("listen: 127.0.0.1:4000\nlog_level: ${LXT_LEVEL}\n", &cfg, &errs));
    LX_ASSERT(cfg == NULL);
    LX_ASSERT_EQ(1, errs.n_errors);
    LX_ASSERT(errs_contain(&errs, "t.yaml:2:12: error: log_level: environment variable LXT_LEVEL "
                                  "is not set"));
    lx_config_errs_release(&errs);
    unsetenv("LXT_PORT");
    return 0;
}

/* One file per kind of error; the first error must be exactly here. */
LX_TEST(config_errors_have_places)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"listen: [1, 2\nworkers: 1\n", "t.yaml:3:1: error: YAML: flow sequence without a closing"},
        {"listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", "t.yaml:2:1: error: YAML: duplicate key"},
        {"workers: 1\nlisten_on: 127.0.0.1:1\n",
         "t.yaml:2:1: error: top level: unknown key \"listen_on\" (did you mean \"listen\"?)"},
        {"providers:\n  - name: a\n    type: openai\n    base_ulr: https://x\n",
         "t.yaml:4:5: error: providers[0]: unknown key \"base_ulr\" (did you mean \"base_url\"?)"},
        {"providers: openai\n", "t.yaml:1:12: error: providers: expected a list, got a scalar"},
        {"server:\n  header_timeout_ms: 99999999999\n",
         "t.yaml:2:22: error: server.header_timeout_ms: expected a whole number from 0 to "
         "86400000, got \"99999999999\""},
        {"server:\n  max_body: lots\n", "t.yaml:2:13: error: server.max_body: expected a whole"},
        {"server:\n  answer_half_closed: maybe\n",
         "t.yaml:2:23: error: server.answer_half_closed: expected true or false"},
        {"listen: localhost\n", "t.yaml:1:9: error: listen: expected HOST:PORT, got \"localhost\""},
        {"listen: 127.0.0.1:70000\n", "t.yaml:1:9: error: listen: the port must be a number"},
        {"listen: ::1:4000\n", "t.yaml:1:9: error: listen: an IPv6 address goes in brackets"},
        {"listen: 0.0.0.0:4000\n",
         "t.yaml:1:9: error: listen: 0.0.0.0 is not a loopback address and there is no "
         "master_key"},
        {"auth: master_key\n", "t.yaml:1:7: error: auth: master_key, but master_key is not set"},
        {"auth: nobody\n", "t.yaml:1:7: error: auth: expected master_key or none, got \"nobody\""},
        {"log_level: inf\n", "t.yaml:1:12: error: log_level: unknown level \"inf\" (did you mean "
                             "\"info\"?)"},
        {"workers: many\n", "t.yaml:1:10: error: workers: expected \"auto\" or a number"},
        {"providers:\n  - type: openai\n", "t.yaml:2:5: error: providers[0].name is required"},
        {"providers:\n  - name: a/b\n    type: openai\n",
         "t.yaml:2:11: error: providers[0].name: \"a/b\" may only hold"},
        {"providers:\n  - name: a\n    type: openai\n  - name: a\n    type: groq\n",
         "t.yaml:4:11: error: duplicate provider name \"a\" (first defined at line 2)"},
        {"providers:\n  - name: a\n    type: opnai\n",
         "t.yaml:3:11: error: provider a.type: unknown type \"opnai\" (did you mean \"openai\"?)"},
        {"providers:\n  - name: mine\n", "t.yaml:2:5: error: provider mine: type is required"},
        {"providers:\n  - name: cf\n    type: cloudflare\n",
         "t.yaml:2:5: error: provider cf: base_url is required for type cloudflare"},
        {"providers:\n  - name: a\n    type: openai\n    base_url: ftp://x/v1\n",
         "t.yaml:4:15: error: provider a.base_url: \"ftp://x/v1\" must start with http:// or "
         "https://"},
        {"providers:\n  - name: a\n    type: openai\n    base_url: https://u:p@x/v1\n",
         "t.yaml:4:15: error: provider a.base_url: \"https://u:p@x/v1\" must not hold"},
        {"providers:\n  - name: a\n    type: openai\n    headers:\n      \"bad name\": x\n",
         "t.yaml:5:8: error: provider a: headers: \"bad name\" is not a valid header name"},
        {"providers:\n  - name: a\n    type: openai\n    headers:\n      x-y: \"a\\r\\nb\"\n",
         "t.yaml:5:13: error: provider a: headers.x-y: a header value must not contain CR or LF"},
        {"providers:\n  - name: a\n    type: openai\n    timeouts:\n      idle_ms: 5\n",
         "t.yaml:5:7: error: provider a.timeouts: unknown key \"idle_ms\""},
        {"providers:\n  - name: a\n    type: openai\n    enabled: yes\n",
         "t.yaml:4:14: error: provider a.enabled: expected true or false"},
        {"providers:\n  - name: a\n    type: openai\nmodels:\n  - name: m\n    targets: [a/x]\n"
         "  - name: m\n    targets: [a/y]\n",
         "t.yaml:7:11: error: duplicate model name \"m\" (first defined at line 5)"},
        {"providers:\n  - name: abc\n    type: openai\nmodels:\n  - name: m\n"
         "    targets: [abd/x]\n",
         "t.yaml:6:15: error: model m.targets[0]: unknown provider \"abd\" (did you mean "
         "\"abc\"?)"},
        {"providers:\n  - name: a\n    type: openai\nmodels:\n  - name: m\n    targets: [gpt-4o]\n",
         "t.yaml:6:15: error: model m.targets[0]: expected \"provider/model\", got \"gpt-4o\""},
        {"models:\n  - name: m\n    targets: []\n",
         "t.yaml:3:5: error: model m.targets: at least one \"provider/model\" is required"},
        {"models:\n  - name: m\n", "t.yaml:2:5: error: model m: targets is required"},
        {"routes:\n  - match: \"x*\"\n    provider: nobody\n",
         "t.yaml:3:15: error: routes[0].provider: unknown provider \"nobody\""},
        {"routes:\n  - provider: openai\n", "t.yaml:2:5: error: routes[0].match is required"},
        {"cors:\n  origins: [\"https://a.example/path\"]\n",
         "t.yaml:2:14: error: cors.origins[0]: \"https://a.example/path\" is not an origin"},
        {"cors:\n  allow: [x]\n", "t.yaml:2:3: error: cors: unknown key \"allow\""},
        {"upstream:\n  ca_file: /nonexistent/ca.pem\n",
         "t.yaml:2:12: error: upstream.ca_file: cannot read \"/nonexistent/ca.pem\""},
        {"- a\n- b\n", "t.yaml:1:3: error: the file must be a mapping"},
        {"server: 5\n", "t.yaml:1:9: error: server: expected a mapping, got a scalar"},
        {"master_key: {a: 1}\n", "t.yaml:1:14: error: master_key: expected a scalar, got a "
                                 "mapping"},
    };

    int failed = 0;

    clear_env();
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        struct lx_config *cfg = NULL;
        int rc = load(cases[i].yaml, &cfg, &errs);

        if (rc != LX_EINVAL || cfg != NULL || errs.n == 0 ||
            strncmp(errs.msgs[0].text, cases[i].want, strlen(cases[i].want)) != 0) {
            fprintf(stderr, "case %zu: rc %d, want:\n  | %s\ngot:\n", i, rc, cases[i].want);
            print_msgs(&errs);
            lx_config_unref(cfg);
            lx_config_errs_release(&errs);
            failed++;
            continue;
        }
        LX_ASSERT(errs.msgs[0].line > 0);
        lx_config_errs_release(&errs);
    }
    LX_ASSERT_EQ(0, failed);
    return 0;
}

LX_TEST(config_reports_every_error)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf b = LX_BUF_INIT(1 << 16);

    clear_env();
    LX_ASSERT_EQ(LX_EINVAL, load("listen: nowhere\n"          /* 1 */
                                 "workers: 1\n"
                                 "log_levle: info\n"          /* 3 */
                                 "providers:\n"
                                 "  - name: a\n"
                                 "    type: openai\n"
                                 "    base_url: gopher://x\n" /* 7 */
                                 "models:\n"
                                 "  - name: m\n"
                                 "    targets: [zzz/x]\n",    /* 10 */
                                 &cfg, &errs));
    LX_ASSERT_EQ(4, errs.n_errors);
    LX_ASSERT_EQ(1, errs.msgs[0].line);
    LX_ASSERT(errs_contain(&errs, "t.yaml:1:9: error: listen:"));
    LX_ASSERT(errs_contain(&errs, "t.yaml:3:1: error: top level: unknown key \"log_levle\""));
    LX_ASSERT(errs_contain(&errs, "t.yaml:7:15: error: provider a.base_url:"));
    LX_ASSERT(errs_contain(&errs, "t.yaml:10:15: error: model m.targets[0]: unknown provider"));
    LX_ASSERT_EQ(LX_OK, lx_config_errs_format(&errs, &b));
    LX_ASSERT(strstr(b.ptr, "t.yaml:7:15") != NULL);
    lx_buf_release(&b);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_unset_key_disables_provider)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    clear_env();
    LX_ASSERT_EQ(LX_OK, load("providers:\n"
                             "  - name: openai\n"
                             "    keys: [\"${OPENAI_API_KEY}\"]\n"
                             "  - name: local\n"
                             "    type: ollama\n",
                             &cfg, &errs));
    LX_ASSERT(!cfg->providers[0].enabled);
    LX_ASSERT(cfg->providers[1].enabled);
    LX_ASSERT(errs_contain(&errs, "t.yaml:3:13: warning: key 1 of provider openai: environment "
                                  "variable OPENAI_API_KEY is not set; key skipped"));
    LX_ASSERT(errs_contain(&errs, "t.yaml:3:5: warning: provider openai has no usable key: "
                                  "disabled"));
    LX_ASSERT_EQ(0, errs.n_errors);
    /* default route gpt-* names openai, which is disabled: no match */
    LX_ASSERT(lx_config_route_match(cfg, LX_STR("gpt-4o")) == NULL);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* a credential header from an unset variable disables the same way; others are errors */
    LX_ASSERT_EQ(LX_OK, load("providers:\n"
                             "  - name: gw\n"
                             "    type: openai\n"
                             "    base_url: https://gw.example/v1\n"
                             "    headers:\n"
                             "      Authorization: Bearer ${LXT_NO_TOKEN}\n",
                             &cfg, &errs));
    LX_ASSERT(!cfg->providers[0].enabled);
    LX_ASSERT(errs_contain(&errs, "t.yaml:6:22: warning: provider gw: headers.Authorization: "
                                  "environment variable LXT_NO_TOKEN is not set; provider gw "
                                  "disabled"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    LX_ASSERT_EQ(LX_EINVAL, load("providers:\n"
                                 "  - name: gw\n"
                                 "    type: openai\n"
                                 "    headers: {X-Title: \"${LXT_NO_TITLE}\"}\n",
                                 &cfg, &errs));
    LX_ASSERT(errs_contain(&errs, "t.yaml:4:25: error: provider gw: headers.X-Title: environment "
                                  "variable LXT_NO_TITLE is not set"));
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_empty_file_is_defaults)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    clear_env();
    LX_ASSERT_EQ(LX_OK, load("# nothing\n", &cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "127.0.0.1");
    LX_ASSERT_EQ(4000, cfg->listen_port);
    LX_ASSERT_EQ(LX_CONFIG_AUTH_NONE, cfg->auth);
    LX_ASSERT_EQ(33554432, cfg->server.max_body);
    LX_ASSERT_EQ(120000, cfg->upstream.timeouts.first_byte_ms);
    LX_ASSERT_EQ(6, cfg->n_routes);
    LX_ASSERT(errs_contain(&errs, "warning: no enabled provider"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    LX_ASSERT_EQ(LX_OK, load("listen: \"[::1]:0\"\nauth: none\n", &cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "::1");
    LX_ASSERT_EQ(0, cfg->listen_port);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(LX_OK, load("listen: \":4000\"\nauth: none\n", &cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "0.0.0.0");
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    LX_ASSERT_EQ(LX_ENOTFOUND, lx_config_load_file("tests/fixtures/config/absent.yaml", &cfg,
                                                   &errs));
    LX_ASSERT(errs_contain(&errs, "tests/fixtures/config/absent.yaml: error: cannot open"));
    lx_config_errs_release(&errs);
    return 0;
}

/* The canary goes in as a literal, through variables, in headers, and next to errors:
 * no message and no dump may show it. */
LX_TEST(config_secrets_never_shown)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf b = LX_BUF_INIT(1 << 16);

    clear_env();
    setenv("LXT_SECRET", CANARY, 1);
    setenv("OPENAI_API_KEY", CANARY, 1);
    LX_ASSERT_EQ(LX_OK, load("listen: 0.0.0.0:4000\n"
                             "master_key: " CANARY "\n"
                             "providers:\n"
                             "  - name: openai\n"
                             "    keys: [\"" CANARY "\", \"${OPENAI_API_KEY}\", \"${NOPE}\"]\n"
                             "    headers:\n"
                             "      Authorization: Bearer ${LXT_SECRET}\n"
                             "      X-Goog-Api-Key: " CANARY "\n"
                             "      OpenAI-Organization: org-1\n",
                             &cfg, &errs));
    LX_ASSERT_EQ(LX_CONFIG_AUTH_MASTER_KEY, cfg->auth);
    LX_ASSERT_EQ(2, cfg->providers[0].n_keys);
    LX_ASSERT_EQ(LX_OK, lx_config_errs_format(&errs, &b));
    LX_ASSERT_EQ(LX_OK, lx_config_dump(cfg, &b));
    LX_ASSERT(strstr(b.ptr, "CANARY") == NULL);
    LX_ASSERT(strstr(b.ptr, "master_key: \"***\"") != NULL);
    LX_ASSERT(strstr(b.ptr, "keys: [\"***\", \"***\"]") != NULL);
    LX_ASSERT(strstr(b.ptr, "\"Authorization\": \"***\"") != NULL);
    LX_ASSERT(strstr(b.ptr, "\"OpenAI-Organization\": \"org-1\"") != NULL);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    lx_buf_reset(&b);

    /* errors on or near secret values */
    LX_ASSERT_EQ(LX_EINVAL, load("listen: ${LXT_SECRET}\n"
                                 "workers: ${LXT_SECRET}\n"
                                 "log_level: ${LXT_SECRET}\n"
                                 "auth: ${LXT_SECRET}\n"
                                 "master_key: [" CANARY "]\n"
                                 "cors: {origins: [\"${LXT_SECRET}\"]}\n"
                                 "providers:\n"
                                 "  - name: p\n"
                                 "    type: ${LXT_SECRET}\n"
                                 "    base_url: ${LXT_SECRET}\n"
                                 "    keys: [{k: " CANARY "}]\n"
                                 "    headers: {x-key: \"${LXT_SECRET}\\n\"}\n"
                                 "models:\n"
                                 "  - name: m\n"
                                 "    targets: [\"${LXT_SECRET}\", \"${LXT_SECRET}/m\"]\n",
                                 &cfg, &errs));
    LX_ASSERT(errs.n_errors >= 10);
    LX_ASSERT_EQ(LX_OK, lx_config_errs_format(&errs, &b));
    if (strstr(b.ptr, "CANARY") != NULL)
        LX_FAIL("a secret in a message:\n%s", b.ptr);
    lx_buf_release(&b);
    lx_config_errs_release(&errs);
    unsetenv("LXT_SECRET");
    clear_env();
    return 0;
}

LX_TEST(config_dump_loads_again)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL, *again = NULL;
    struct lx_buf one = LX_BUF_INIT(1 << 16), two = LX_BUF_INIT(1 << 16);

    clear_env();
    setenv("LLMUX_MASTER_KEY", CANARY, 1);
    setenv("OPENAI_API_KEY", CANARY, 1);
    setenv("ANTHROPIC_API_KEY", CANARY, 1);
    LX_ASSERT_EQ(LX_OK, lx_config_load_file("tests/fixtures/config/full.yaml", &cfg, &errs));
    LX_ASSERT_EQ(LX_OK, lx_config_dump(cfg, &one));
    if (lx_config_load_string("dump", one.ptr, one.len, &again, &errs) != LX_OK) {
        print_msgs(&errs);
        LX_FAIL("the dump does not load:\n%s", one.ptr);
    }
    LX_ASSERT_EQ(LX_OK, lx_config_dump(again, &two));
    /* identical after the first line (which names the source) */
    LX_ASSERT_STREQ(strchr(one.ptr, '\n'), strchr(two.ptr, '\n'));
    lx_config_unref(cfg);
    lx_config_unref(again);
    lx_buf_release(&one);
    lx_buf_release(&two);
    lx_config_errs_release(&errs);
    clear_env();
    return 0;
}

LX_TEST(config_from_env)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_provider *p;

    clear_env();
    setenv("OPENAI_API_KEY", CANARY, 1);
    setenv("MISTRAL_API_KEY", CANARY, 1);
    setenv("CLOUDFLARE_API_TOKEN", CANARY, 1);
    setenv("CLOUDFLARE_ACCOUNT_ID", "acct123", 1);
    setenv("GEMINI_API_KEY", "", 1); /* empty counts as unset */
    LX_ASSERT_EQ(LX_OK, lx_config_from_env(&cfg, &errs));
    LX_ASSERT_STREQ(cfg->listen_host, "127.0.0.1");
    LX_ASSERT_EQ(4000, cfg->listen_port);
    LX_ASSERT_EQ(LX_CONFIG_AUTH_NONE, cfg->auth);
    LX_ASSERT_EQ(3, cfg->n_providers);
    p = lx_config_provider_find(cfg, LX_STR("mistral"));
    LX_ASSERT(p != NULL && p->enabled && p->n_keys == 1);
    LX_ASSERT_STREQ(p->base_url, "https://api.mistral.ai/v1");
    p = lx_config_provider_find(cfg, LX_STR("cloudflare"));
    LX_ASSERT_STREQ(p->base_url, "https://api.cloudflare.com/client/v4/accounts/acct123/ai/v1");
    LX_ASSERT_STREQ(lx_config_route_match(cfg, LX_STR("@cf/meta/llama"))->provider, "cloudflare");
    LX_ASSERT(lx_config_provider_find(cfg, LX_STR("gemini")) == NULL);
    LX_ASSERT_EQ(0, errs.n);
    lx_config_unref(cfg);

    clear_env();
    setenv("LLMUX_MASTER_KEY", CANARY, 1);
    LX_ASSERT_EQ(LX_OK, lx_config_from_env(&cfg, &errs));
    LX_ASSERT_EQ(0, cfg->n_providers);
    LX_ASSERT_EQ(LX_CONFIG_AUTH_MASTER_KEY, cfg->auth);
    LX_ASSERT(errs_contain(&errs, "<environment>: warning: no provider"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    clear_env();
    return 0;
}

LX_TEST(config_glob)
{
    static const struct {
        const char *pat, *s;
        bool match;
    } cases[] = {
        {"gpt-*", "gpt-4o", true},     {"gpt-*", "gpt-", true},       {"gpt-*", "gpt4", false},
        {"*gemini*", "gemini", true},  {"*gemini*", "x-gemini-y", true}, {"*gemini*", "gem", false},
        {"@cf/*", "@cf/meta/x", true}, {"o1*", "o1", true},           {"o1*", "xo1", false},
        {"a?c", "abc", true},          {"a?c", "ac", false},          {"*", "", true},
        {"a*b*c", "aXbYbZc", true},    {"a*b*c", "aXbYbZ", false},    {"", "", true},
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++)
        if (lx_config_glob_match(lx_str_cstr(cases[i].pat), lx_str_cstr(cases[i].s)) !=
            cases[i].match)
            LX_FAIL("glob \"%s\" on \"%s\"", cases[i].pat, cases[i].s);
    return 0;
}

static struct lx_config *load_port(unsigned port)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    char yaml[64];

    snprintf(yaml, sizeof(yaml), "listen: 127.0.0.1:%u\n", port);
    load(yaml, &cfg, &errs);
    lx_config_errs_release(&errs);
    return cfg;
}

LX_TEST(config_snapshot_outlives_swap)
{
    struct lx_config_slot slot;
    struct lx_config *held, *now;

    clear_env();
    lx_config_slot_init(&slot, load_port(1001));
    held = lx_config_slot_get(&slot); /* a request in flight */
    LX_ASSERT_EQ(2, atomic_load(&held->refs));
    lx_config_slot_swap(&slot, load_port(1002)); /* SIGHUP */
    LX_ASSERT_EQ(1, atomic_load(&held->refs));
    LX_ASSERT_EQ(1001, held->listen_port); /* still readable (ASan would catch a free) */
    now = lx_config_slot_get(&slot);
    LX_ASSERT_EQ(1002, now->listen_port);
    lx_config_unref(held); /* the old snapshot goes now */
    lx_config_unref(now);
    lx_config_slot_release(&slot);
    return 0;
}

struct reader_arg {
    struct lx_config_slot *slot;
    atomic_bool *stop;
    unsigned bad;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;

    while (!atomic_load(a->stop)) {
        struct lx_config *c = lx_config_slot_get(a->slot);
        if (c->listen_port < 2000 || c->listen_port > 2200)
            a->bad++;
        lx_config_unref(c);
    }
    return NULL;
}

LX_TEST(config_slot_threads)
{
    struct lx_config_slot slot;
    atomic_bool stop = false;
    struct reader_arg ra = {&slot, &stop, 0}, rb = {&slot, &stop, 0};
    pthread_t ta, tb;

    clear_env();
    lx_config_slot_init(&slot, load_port(2000));
    LX_ASSERT_EQ(0, pthread_create(&ta, NULL, reader, &ra));
    LX_ASSERT_EQ(0, pthread_create(&tb, NULL, reader, &rb));
    for (unsigned i = 1; i <= 200; i++)
        lx_config_slot_swap(&slot, load_port(2000 + i));
    atomic_store(&stop, true);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    LX_ASSERT_EQ(0, ra.bad + rb.bad);
    LX_ASSERT_EQ(1, atomic_load(&slot.cur->refs));
    lx_config_slot_release(&slot);
    return 0;
}

/* Fail the 1st, 2nd ... fallible allocation: each load must end in LX_ENOMEM with an
 * "out of memory" message, no crash, no leak (ASan). */
LX_TEST(config_oom)
{
    char *text;
    size_t len;
    int n;

    clear_env();
    setenv("OPENAI_API_KEY", CANARY, 1);
    setenv("ANTHROPIC_API_KEY", CANARY, 1);
    text = lx_test_read_file("tests/fixtures/config/full.yaml", &len);
    LX_ASSERT(text != NULL);
    for (n = 0;; n++) {
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        struct lx_config *cfg = NULL;
        int rc;

        lx_alloc_fail_after(n);
        rc = lx_config_load_string("full.yaml", text, len, &cfg, &errs);
        lx_alloc_fail_after(-1);
        if (rc == LX_OK) {
            lx_config_unref(cfg);
            lx_config_errs_release(&errs);
            break;
        }
        if (rc != LX_ENOMEM || cfg != NULL || !errs_contain(&errs, "out of memory")) {
            print_msgs(&errs);
            free(text);
            LX_FAIL("failing allocation %d: rc %d", n, rc);
        }
        lx_config_errs_release(&errs);
    }
    LX_ASSERT(n > 5);
    for (n = 0;; n++) {
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        struct lx_config *cfg = NULL;
        int rc;

        lx_alloc_fail_after(n);
        rc = lx_config_from_env(&cfg, &errs);
        lx_alloc_fail_after(-1);
        lx_config_unref(cfg);
        lx_config_errs_release(&errs);
        if (rc == LX_OK)
            break;
        LX_ASSERT_EQ(LX_ENOMEM, rc);
    }
    free(text);
    clear_env();
    return 0;
}
