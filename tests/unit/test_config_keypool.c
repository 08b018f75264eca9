/* test_config_keypool.c - the key-pool configuration (issue 5): the top-level `key_pool:` rules,
 * a provider's key items (plain strings and {key, weight} mappings, with unset variables
 * dropped and the weights kept aligned), key_strategy and health_check; every default, every
 * bound error with its FILE:LINE, and no key in any message or in the dump.
 * Tests set and unset environment variables: single-threaded. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/err.h"
#include "tests/unit/test.h"

#define SECRET "sk-KPCANARY-0123456789abcdef"

static int kp_load(const char *yaml, struct lx_config **cfg, struct lx_config_errs *errs)
{
    return lx_config_load_string("k.yaml", yaml, strlen(yaml), cfg, errs);
}

static bool kp_has(const struct lx_config_errs *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, text) != NULL)
            return true;
    return false;
}

static bool kp_secret_anywhere(const struct lx_config_errs *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, "KPCANARY") != NULL)
            return true;
    return false;
}

/* Loads yaml expecting failure with a message holding `want` (file and line included). */
static int kp_fails_with(const char *yaml, const char *want)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    int rc = kp_load(yaml, &cfg, &errs);
    bool found = kp_has(&errs, want);

    if (rc == LX_OK || cfg != NULL || !found) {
        fprintf(stderr, "  want \"%s\", rc %d, messages:\n", want, rc);
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  | %s\n", errs.msgs[i].text);
    }
    LX_ASSERT(rc == LX_EINVAL);
    LX_ASSERT(cfg == NULL);
    LX_ASSERT(found);
    LX_ASSERT(!kp_secret_anywhere(&errs));
    lx_config_errs_release(&errs);
    return 0;
}

static char *kp_dump(const struct lx_config *cfg)
{
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    char *s;

    if (lx_config_dump(cfg, &b) != LX_OK)
        return NULL;
    s = strndup(b.ptr, b.len);
    lx_buf_release(&b);
    return s;
}

LX_TEST(config_keypool_defaults)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_key_pool *kp;
    const struct lx_config_provider *p;

    setenv("KP_K1", SECRET "-1", 1);
    LX_ASSERT_EQ(LX_OK, kp_load("providers:\n"
                                "  - name: openai\n"
                                "    keys: [\"${KP_K1}\"]\n",
                                &cfg, &errs));
    kp = &cfg->key_pool;
    LX_ASSERT_EQ(65u, kp->cooldown_s);
    LX_ASSERT_EQ(86400u, kp->max_cooldown_s);
    LX_ASSERT_EQ(2u, kp->consecutive_429);
    LX_ASSERT_EQ(86400u, kp->long_cooldown_s);
    LX_ASSERT_EQ(3u, kp->max_attempts);
    LX_ASSERT_EQ(100u, kp->backoff_base_ms);
    LX_ASSERT_EQ(5000u, kp->backoff_cap_ms);
    LX_ASSERT(kp->retry_timeouts);
    LX_ASSERT_EQ(20u, kp->budget_percent);
    LX_ASSERT_EQ(10u, kp->budget_min_per_s);
    LX_ASSERT(!kp->probe_enabled);
    LX_ASSERT_EQ(600u, kp->probe_interval_s);
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT(p != NULL);
    LX_ASSERT_EQ(LX_CONFIG_KEYS_RANDOM, p->key_strategy);
    LX_ASSERT(p->key_weights == NULL);
    LX_ASSERT(!p->health_check.enabled);
    LX_ASSERT_EQ(30u, p->health_check.interval_s);
    LX_ASSERT_EQ(5000u, p->health_check.timeout_ms);
    LX_ASSERT_EQ(2u, p->health_check.failures);
    LX_ASSERT(p->health_check.path == NULL);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* the environment-only configuration has the same defaults */
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    cfg = NULL;
    LX_ASSERT_EQ(LX_OK, lx_config_from_env(&cfg, &errs));
    LX_ASSERT_EQ(65u, cfg->key_pool.cooldown_s);
    LX_ASSERT_EQ(3u, cfg->key_pool.max_attempts);
    for (size_t i = 0; i < cfg->n_providers; i++) {
        LX_ASSERT_EQ(LX_CONFIG_KEYS_RANDOM, cfg->providers[i].key_strategy);
        LX_ASSERT_EQ(30u, cfg->providers[i].health_check.interval_s);
    }
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    unsetenv("KP_K1");
    return 0;
}

LX_TEST(config_keypool_every_field)
{
    static const char yaml[] = "key_pool:\n"
                               "  cooldown_s: 30\n"
                               "  max_cooldown_s: 7200\n"
                               "  consecutive_429: 4\n"
                               "  long_cooldown_s: 3600\n"
                               "  max_attempts: 5\n"
                               "  backoff: { base_ms: 50, cap_ms: 2000 }\n"
                               "  retry_timeouts: false\n"
                               "  retry_budget: { percent: 35, min_per_s: 3 }\n"
                               "  probe: { enabled: true, interval_s: 120 }\n"
                               "providers:\n"
                               "  - name: openai\n"
                               "    keys: [\"${KP_K1}\"]\n"
                               "    key_strategy: round-robin\n"
                               "    health_check:\n"
                               "      interval_s: 15\n"
                               "      timeout_ms: 1500\n"
                               "      failures: 3\n"
                               "      path: /models\n"
                               "  - name: anthropic\n"
                               "    keys: [\"${KP_K1}\"]\n"
                               "    key_strategy: weighted\n"
                               "    health_check: true\n"
                               "  - name: groq\n"
                               "    keys: [\"${KP_K1}\"]\n"
                               "    health_check: { enabled: false, interval_s: 60 }\n";
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_key_pool *kp;
    const struct lx_config_provider *p;

    setenv("KP_K1", SECRET "-1", 1);
    LX_ASSERT_EQ(LX_OK, kp_load(yaml, &cfg, &errs));
    LX_ASSERT_EQ(0u, errs.n_warnings);
    kp = &cfg->key_pool;
    LX_ASSERT_EQ(30u, kp->cooldown_s);
    LX_ASSERT_EQ(7200u, kp->max_cooldown_s);
    LX_ASSERT_EQ(4u, kp->consecutive_429);
    LX_ASSERT_EQ(3600u, kp->long_cooldown_s);
    LX_ASSERT_EQ(5u, kp->max_attempts);
    LX_ASSERT_EQ(50u, kp->backoff_base_ms);
    LX_ASSERT_EQ(2000u, kp->backoff_cap_ms);
    LX_ASSERT(!kp->retry_timeouts);
    LX_ASSERT_EQ(35u, kp->budget_percent);
    LX_ASSERT_EQ(3u, kp->budget_min_per_s);
    LX_ASSERT(kp->probe_enabled);
    LX_ASSERT_EQ(120u, kp->probe_interval_s);

    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT_EQ(LX_CONFIG_KEYS_ROUND_ROBIN, p->key_strategy);
    LX_ASSERT(p->health_check.enabled); /* a mapping turns it on */
    LX_ASSERT_EQ(15u, p->health_check.interval_s);
    LX_ASSERT_EQ(1500u, p->health_check.timeout_ms);
    LX_ASSERT_EQ(3u, p->health_check.failures);
    LX_ASSERT_STREQ(p->health_check.path, "/models");
    p = lx_config_provider_find(cfg, LX_STR("anthropic"));
    LX_ASSERT_EQ(LX_CONFIG_KEYS_WEIGHTED, p->key_strategy);
    LX_ASSERT(p->key_weights == NULL); /* weighted with every weight 1 is fine */
    LX_ASSERT(p->health_check.enabled);
    LX_ASSERT_EQ(30u, p->health_check.interval_s);
    LX_ASSERT(p->health_check.path == NULL);
    p = lx_config_provider_find(cfg, LX_STR("groq"));
    LX_ASSERT(!p->health_check.enabled);
    LX_ASSERT_EQ(60u, p->health_check.interval_s);
    LX_ASSERT_STREQ(lx_config_key_strategy_name(LX_CONFIG_KEYS_ROUND_ROBIN), "round-robin");
    LX_ASSERT(lx_config_key_strategy_name((enum lx_config_key_strategy)7) == NULL);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* probe: true is enabled with the default interval; false keeps it off */
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT_EQ(LX_OK, kp_load("key_pool:\n  probe: true\n", &cfg, &errs));
    LX_ASSERT(cfg->key_pool.probe_enabled);
    LX_ASSERT_EQ(600u, cfg->key_pool.probe_interval_s);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT_EQ(LX_OK, kp_load("key_pool:\n  probe: {interval_s: 30}\n  backoff: {cap_ms: 100}\n",
                                &cfg, &errs));
    LX_ASSERT(cfg->key_pool.probe_enabled);
    LX_ASSERT_EQ(30u, cfg->key_pool.probe_interval_s);
    LX_ASSERT_EQ(100u, cfg->key_pool.backoff_base_ms); /* base = cap is fine */
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    unsetenv("KP_K1");
    return 0;
}

LX_TEST(config_keypool_weights_aligned_with_kept_keys)
{
    static const char yaml[] = "providers:\n"
                               "  - name: openai\n"
                               "    key_strategy: weighted\n"
                               "    keys:\n"
                               "      - ${KP_A}\n"
                               "      - { key: \"${KP_UNSET_1}\", weight: 7 }\n"
                               "      - { key: \"${KP_B}\", weight: 3 }\n"
                               "      - ${KP_UNSET_2}\n"
                               "      - { key: \"${KP_C}\" }\n"
                               "      - { key: \"${KP_D}\", weight: 0 }\n";
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_provider *p;
    char *d;

    setenv("KP_A", SECRET "-A", 1);
    setenv("KP_B", SECRET "-B", 1);
    setenv("KP_C", SECRET "-C", 1);
    setenv("KP_D", SECRET "-D", 1);
    unsetenv("KP_UNSET_1");
    unsetenv("KP_UNSET_2");
    LX_ASSERT_EQ(LX_OK, kp_load(yaml, &cfg, &errs));
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT(p != NULL && p->enabled);
    LX_ASSERT_EQ(4u, p->n_keys);
    LX_ASSERT_STREQ(p->keys[0], SECRET "-A");
    LX_ASSERT_STREQ(p->keys[1], SECRET "-B");
    LX_ASSERT_STREQ(p->keys[2], SECRET "-C");
    LX_ASSERT_STREQ(p->keys[3], SECRET "-D");
    LX_ASSERT(p->key_weights != NULL);
    LX_ASSERT_EQ(1u, p->key_weights[0]);
    LX_ASSERT_EQ(3u, p->key_weights[1]);
    LX_ASSERT_EQ(1u, p->key_weights[2]);
    LX_ASSERT_EQ(0u, p->key_weights[3]);
    /* two skipped keys (their lines); a weight of 0 (a spare key) is no warning */
    LX_ASSERT(kp_has(&errs, "k.yaml:6:") && kp_has(&errs, "KP_UNSET_1 is not set; key skipped"));
    LX_ASSERT(kp_has(&errs, "k.yaml:8:") && kp_has(&errs, "KP_UNSET_2 is not set; key skipped"));
    LX_ASSERT(!kp_has(&errs, "weight of 0"));
    LX_ASSERT_EQ(0u, errs.n_errors);
    LX_ASSERT(!kp_secret_anywhere(&errs));

    d = kp_dump(cfg);
    LX_ASSERT(d != NULL);
    LX_ASSERT(strstr(d, "KPCANARY") == NULL);
    LX_ASSERT(strstr(d, "keys: [{key: \"***\", weight: 1}, {key: \"***\", weight: 3}, "
                        "{key: \"***\", weight: 1}, {key: \"***\", weight: 0}]") != NULL);
    LX_ASSERT(strstr(d, "key_strategy: weighted") != NULL);
    free(d);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* every item unset: disabled for want of a key, as before; no weights */
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT_EQ(LX_OK, kp_load("providers:\n  - name: openai\n    key_strategy: weighted\n"
                                "    keys: [{key: \"${KP_UNSET_1}\", weight: 0}]\n",
                                &cfg, &errs));
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT(!p->enabled && p->keyless);
    LX_ASSERT_EQ(0u, p->n_keys);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    /* a single mapping item as `keys:` */
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT_EQ(LX_OK, kp_load("providers:\n  - name: openai\n"
                                "    keys: {key: \"${KP_A}\", weight: 9}\n",
                                &cfg, &errs));
    p = lx_config_provider_find(cfg, LX_STR("openai"));
    LX_ASSERT_EQ(1u, p->n_keys);
    LX_ASSERT_EQ(9u, p->key_weights[0]);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    unsetenv("KP_A");
    unsetenv("KP_B");
    unsetenv("KP_C");
    unsetenv("KP_D");
    return 0;
}

LX_TEST(config_keypool_bound_errors)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"key_pool:\n  cooldown_s: 0\n",
         "k.yaml:2:15: error: key_pool.cooldown_s: expected a whole number from 1 to 86400"},
        {"key_pool:\n  cooldown_s: 86401\n", "k.yaml:2:15: error: key_pool.cooldown_s"},
        {"key_pool:\n  max_cooldown_s: 0\n", "k.yaml:2:19: error: key_pool.max_cooldown_s"},
        {"key_pool:\n  consecutive_429: 0\n",
         "k.yaml:2:20: error: key_pool.consecutive_429: expected a whole number from 1 to 100"},
        {"key_pool:\n  long_cooldown_s: 0\n", "k.yaml:2:20: error: key_pool.long_cooldown_s"},
        {"key_pool:\n  max_attempts: 0\n",
         "k.yaml:2:17: error: key_pool.max_attempts: expected a whole number from 1 to 10"},
        {"key_pool:\n  max_attempts: 11\n", "k.yaml:2:17: error: key_pool.max_attempts"},
        {"key_pool:\n  max_attempts: three\n", "got \"three\""},
        {"key_pool:\n  backoff: {base_ms: 600, cap_ms: 500}\n",
         "k.yaml:2:13: error: key_pool.backoff: base_ms (600) must not be above cap_ms (500)"},
        {"key_pool:\n  backoff:\n    base_ms: 6000\n",
         "k.yaml:3:5: error: key_pool.backoff: base_ms (6000) must not be above cap_ms (5000)"},
        {"key_pool:\n  backoff: {base_ms: 70000}\n", "key_pool.backoff.base_ms: expected"},
        {"key_pool:\n  backoff: 100\n", "k.yaml:2:12: error: key_pool.backoff: expected a mapping"},
        {"key_pool:\n  backoff: {bse_ms: 1}\n",
         "key_pool.backoff: unknown key \"bse_ms\" (did you mean \"base_ms\"?)"},
        {"key_pool:\n  retry_timeouts: maybe\n",
         "k.yaml:2:19: error: key_pool.retry_timeouts: expected true or false"},
        {"key_pool:\n  retry_budget: {percent: 1001}\n",
         "key_pool.retry_budget.percent: expected a whole number from 0 to 1000"},
        {"key_pool:\n  probe: {interval_s: 0}\n",
         "k.yaml:2:23: error: key_pool.probe.interval_s: expected a whole number from 1"},
        {"key_pool:\n  probe: sometimes\n",
         "k.yaml:2:10: error: key_pool.probe: expected true or false"},
        {"key_pool:\n  cooldown: 5\n",
         "k.yaml:2:3: error: key_pool: unknown key \"cooldown\" (did you mean \"cooldown_s\"?)"},
        {"key_pool: 5\n", "k.yaml:1:11: error: key_pool: expected a mapping"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    key_strategy: roundrobin\n",
         "k.yaml:4:19: error: provider openai.key_strategy: unknown strategy \"roundrobin\" (did "
         "you mean \"round-robin\"?)"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    key_strategy: fastest\n",
         "expected random, weighted or round-robin"},
        {"providers:\n  - name: openai\n    key_strategy: weighted\n"
         "    keys:\n      - {key: \"${KP_A}\", weight: 0}\n      - {key: \"${KP_B}\", weight: 0}\n",
         "k.yaml:3:19: error: provider openai: key_strategy weighted needs at least one key with "
         "a weight above 0"},
        {"providers:\n  - name: openai\n    keys:\n      - {key: \"${KP_A}\", weight: 1000001}\n",
         "k.yaml:4:34: error: provider openai: keys[0].weight: expected a whole number from 0 to "
         "1000000"},
        {"providers:\n  - name: openai\n    keys:\n      - {key: \"${KP_A}\", weight: -1}\n",
         "provider openai: keys[0].weight: expected"},
        {"providers:\n  - name: openai\n    keys:\n      - {weight: 2}\n",
         "k.yaml:4:10: error: key 1 of provider openai is required"},
        {"providers:\n  - name: openai\n    keys:\n      - {key: \"${KP_A}\", wieght: 2}\n",
         "k.yaml:4:26: error: provider openai: keys[0]: unknown field"},
        {"providers:\n  - name: openai\n    keys:\n      - {" SECRET ": 2}\n",
         "k.yaml:4:10: error: provider openai: keys[0]: unknown field"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check:\n"
         "      interval_s: 3601\n",
         "k.yaml:5:19: error: provider openai.health_check.interval_s: expected a whole number "
         "from 1 to 3600"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check:\n"
         "      failures: 0\n",
         "k.yaml:5:17: error: provider openai.health_check.failures"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check:\n"
         "      timeout_ms: 0\n",
         "provider openai.health_check.timeout_ms"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check:\n"
         "      path: models\n",
         "k.yaml:5:13: error: provider openai.health_check.path: \"models\" must start with '/'"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check:\n"
         "      path: \"/a b\"\n",
         "provider openai.health_check.path"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check: often\n",
         "k.yaml:4:19: error: provider openai.health_check: expected true or false"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check: [1]\n",
         "provider openai.health_check: expected a mapping, got a list"},
        {"providers:\n  - name: openai\n    keys: [\"${KP_A}\"]\n    health_check: {every: 3}\n",
         "k.yaml:4:20: error: provider openai.health_check: unknown key \"every\""},
    };

    setenv("KP_A", SECRET "-A", 1);
    setenv("KP_B", SECRET "-B", 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (kp_fails_with(cases[i].yaml, cases[i].want) != 0) {
            fprintf(stderr, "  (case %zu)\n", i);
            return 1;
        }
    unsetenv("KP_A");
    unsetenv("KP_B");
    return 0;
}

LX_TEST(config_keypool_several_errors_at_once)
{
    static const char yaml[] = "key_pool:\n"
                               "  max_attempts: 0\n"
                               "  consecutive_429: 0\n"
                               "providers:\n"
                               "  - name: openai\n"
                               "    keys: [\"${KP_A}\"]\n"
                               "    key_strategy: sticky\n";
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    setenv("KP_A", SECRET "-A", 1);
    LX_ASSERT_EQ(LX_EINVAL, kp_load(yaml, &cfg, &errs));
    LX_ASSERT_EQ(3u, errs.n_errors);
    LX_ASSERT(strstr(errs.msgs[0].text, "k.yaml:2:") != NULL); /* in file order */
    LX_ASSERT(strstr(errs.msgs[1].text, "k.yaml:3:") != NULL);
    LX_ASSERT(strstr(errs.msgs[2].text, "k.yaml:7:") != NULL);
    lx_config_errs_release(&errs);
    unsetenv("KP_A");
    return 0;
}

LX_TEST(config_keypool_dump_round_trips_without_keys)
{
    static const char yaml[] = "key_pool:\n"
                               "  cooldown_s: 30\n"
                               "  consecutive_429: 1\n"
                               "  max_attempts: 1\n"
                               "  backoff: {base_ms: 10, cap_ms: 20}\n"
                               "  retry_budget: {percent: 5, min_per_s: 0}\n"
                               "  probe: {interval_s: 90}\n"
                               "providers:\n"
                               "  - name: openai\n"
                               "    keys: [\"${KP_A}\", {key: \"${KP_B}\", weight: 5}]\n"
                               "    key_strategy: weighted\n"
                               "    health_check: {path: \"/models?limit=1\", failures: 4}\n"
                               "  - name: groq\n"
                               "    keys: [\"" SECRET "-literal\"]\n"
                               "    key_strategy: round-robin\n";
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL, *again = NULL;
    const struct lx_config_provider *p;
    char *d, *d2;

    setenv("KP_A", SECRET "-A", 1);
    setenv("KP_B", SECRET "-B", 1);
    LX_ASSERT_EQ(LX_OK, kp_load(yaml, &cfg, &errs));
    d = kp_dump(cfg);
    LX_ASSERT(d != NULL);
    LX_ASSERT(strstr(d, "KPCANARY") == NULL);
    LX_ASSERT(strstr(d, "key_pool:\n  cooldown_s: 30\n  max_cooldown_s: 86400\n"
                        "  consecutive_429: 1\n  long_cooldown_s: 86400\n  max_attempts: 1\n"
                        "  backoff: {base_ms: 10, cap_ms: 20}\n  retry_timeouts: true\n"
                        "  retry_budget: {percent: 5, min_per_s: 0}\n"
                        "  probe: {enabled: true, interval_s: 90}\n") != NULL);
    LX_ASSERT(strstr(d, "keys: [{key: \"***\", weight: 1}, {key: \"***\", weight: 5}]\n"
                        "    key_strategy: weighted\n"
                        "    health_check: {enabled: true, interval_s: 30, timeout_ms: 5000, "
                        "failures: 4, path: \"/models?limit=1\"}\n") != NULL);
    LX_ASSERT(strstr(d, "keys: [\"***\"]\n    key_strategy: round-robin\n"
                        "    health_check: {enabled: false,") != NULL);
    /* the dump loads again (with "***" for the keys) and dumps the same */
    LX_ASSERT_EQ(LX_OK, kp_load(d, &again, &errs));
    d2 = kp_dump(again);
    LX_ASSERT(d2 != NULL);
    {
        /* up to the implicit providers the default routes add on the second load */
        const char *a = strstr(d, "key_pool:"), *b = strstr(d2, "key_pool:");
        const char *end = strstr(d2, "  - name: \"gemini\"");
        LX_ASSERT(a != NULL && b != NULL && end != NULL);
        LX_ASSERT(strncmp(a, b, (size_t)(end - b)) == 0);
    }
    p = lx_config_provider_find(again, LX_STR("openai"));
    LX_ASSERT_EQ(5u, p->key_weights[1]);
    LX_ASSERT_STREQ(p->health_check.path, "/models?limit=1");
    free(d);
    free(d2);
    lx_config_unref(again);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    unsetenv("KP_A");
    unsetenv("KP_B");
    return 0;
}
