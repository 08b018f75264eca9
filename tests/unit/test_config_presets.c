/* test_config_presets.c - the provider presets (presets.c): every preset loads from a minimal
 * YAML (type + key) with its protocol and URL, S3's ids resolve as aliases, listed-only presets
 * warn and stay disabled, Ollama's /v1 rule, the new region / project / api_version fields,
 * "did you mean", the table's own consistency and its JSON. Tests set environment variables:
 * single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "config/presets.h"
#include "core/buf.h"
#include "core/err.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/writer.h"

static int pt_load(const char *yaml, struct lx_config **cfg, struct lx_config_errs *errs)
{
    return lx_config_load_string("t.yaml", yaml, strlen(yaml), cfg, errs);
}

static bool pt_has_msg(const struct lx_config_errs *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, text) != NULL)
            return true;
    return false;
}

static void pt_print_msgs(const struct lx_config_errs *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  | %s\n", errs->msgs[i].text);
}

static bool pt_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (s != NULL && strcmp(s, *set) == 0)
            return true;
    return false;
}

/* Loads one provider "p" of `type` with one key and extra YAML lines; returns the load's rc. */
static int pt_load_one(const char *type, const char *extra, struct lx_config **cfg,
                       struct lx_config_errs *errs)
{
    char yaml[1024];

    snprintf(yaml, sizeof(yaml),
             "routes: []\nproviders:\n  - name: p\n    type: %s\n    keys: [\"k-123\"]\n%s", type,
             extra ? extra : "");
    return pt_load(yaml, cfg, errs);
}

LX_TEST(presets_table_is_consistent)
{
    static const char *const cats[] = {"top-tier",    "domestic", "open-source",
                                       "specialized", "emerging", NULL};
    static const char *const regions[] = {"global", "china", "us", "europe", NULL};
    static const char *const auths[] = {"bearer",         "x-api-key", "api-key",
                                        "x-goog-api-key", "sigv4",     "oauth2-service-account",
                                        "none",           "custom",    NULL};

    LX_ASSERT(lx__config_n_presets >= 34);
    for (size_t i = 0; i < lx__config_n_presets; i++) {
        const struct lx__config_preset *p = &lx__config_presets[i];

        LX_ASSERT(p->type != NULL && p->display != NULL && p->support != NULL);
        if (!pt_in(p->category, cats) || !pt_in(p->region, regions) || !pt_in(p->auth, auths)) {
            fprintf(stderr, "  preset %s: bad category/region/auth\n", p->type);
            return 1;
        }
        LX_ASSERT((unsigned)p->proto < LX_CONFIG_N_PROTOS);
        LX_ASSERT(p->base_url == NULL || strncmp(p->base_url, "http", 4) == 0);
        LX_ASSERT(p->base_url == NULL || p->base_template == NULL);
        LX_ASSERT(!(p->from_env && p->env_key == NULL));
        LX_ASSERT(lx__config_preset_find(lx_str_cstr(p->type)) == p); /* names are unique */
        LX_ASSERT(p->chat || !p->from_env);
        LX_ASSERT(p->chat || strstr(p->support, "listed only") != NULL);
        if (p->auth != NULL && strcmp(p->auth, "none") == 0)
            LX_ASSERT(p->env_key == NULL);
    }
    for (size_t i = 0; i < lx__config_n_aliases; i++) {
        LX_ASSERT(lx__config_preset_find(lx_str_cstr(lx__config_aliases[i].type)) != NULL);
        /* an alias never shadows a canonical name */
        for (size_t j = 0; j < lx__config_n_presets; j++)
            LX_ASSERT(strcmp(lx__config_aliases[i].alias, lx__config_presets[j].type) != 0);
    }
    return 0;
}

/* S3(c)'s 29 ids, as its admin UI names them: every one is a type here. */
LX_TEST(presets_cover_s3_ids)
{
    static const char *const s3[] = {
        "openai",           "anthropic",    "google",       "azure-openai",
        "aws-bedrock",      "baidu-wenxin", "alibaba-qwen", "tencent-hunyuan",
        "bytedance-doubao", "zhipu-ai",     "moonshot-ai",  "deepseek",
        "lingyiwanwu",      "openrouter",   "together-ai",  "replicate",
        "huggingface",      "groq",         "perplexity",   "cohere",
        "stability-ai",     "midjourney",   "runwayml",     "elevenlabs",
        "assemblyai",       "xai-grok",     "mistral-ai",   "siliconflow",
        "cloudflare-ai",
    };
    static const char *const ours[] = {
        "anthropic-vertex", "vertex",     "bedrock", "azure", "cohere",
        "ollama",           "workers-ai", "mistral", "xai",   "fireworks",
        "siliconflow",      "cloudflare", "vllm"};

    LX_ASSERT_EQ(sizeof(s3) / sizeof(s3[0]), 29);
    for (size_t i = 0; i < sizeof(s3) / sizeof(s3[0]); i++)
        if (lx__config_preset_find(lx_str_cstr(s3[i])) == NULL) {
            fprintf(stderr, "  S3 id %s is not a preset\n", s3[i]);
            return 1;
        }
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        LX_ASSERT(lx__config_preset_find(lx_str_cstr(ours[i])) != NULL);
    return 0;
}

/* Every preset and every alias loads from `type` + one key. */
LX_TEST(presets_every_type_loads)
{
    setenv("CLOUDFLARE_ACCOUNT_ID", "acct123", 1);
    unsetenv("AWS_REGION");
    for (size_t i = 0; i < lx__config_n_presets + lx__config_n_aliases; i++) {
        const char *type = i < lx__config_n_presets
                               ? lx__config_presets[i].type
                               : lx__config_aliases[i - lx__config_n_presets].alias;
        const struct lx__config_preset *pr = lx__config_preset_find(lx_str_cstr(type));
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        struct lx_config *cfg = NULL;
        const struct lx_config_provider *p;
        /* vertex wants a project (not required to load, but that is how it is used) */
        const char *extra = pr->proto == LX_CONFIG_PROTO_VERTEX
                                ? "    project: my-project\n    region: us-central1\n"
                            : pr->proto == LX_CONFIG_PROTO_AZURE /* a resource: the user's URL */
                                ? "    base_url: https://res.openai.azure.com\n"
                                : NULL;

        if (pt_load_one(type, extra, &cfg, &errs) != LX_OK) {
            fprintf(stderr, "  type %s does not load:\n", type);
            pt_print_msgs(&errs);
            lx_config_errs_release(&errs);
            return 1;
        }
        p = lx_config_provider_find(cfg, LX_STR("p"));
        LX_ASSERT(p != NULL);
        LX_ASSERT_STREQ(p->type, pr->type); /* canonical, aliases resolved */
        LX_ASSERT_EQ(p->proto, pr->proto);
        LX_ASSERT_EQ(p->enabled, pr->chat);
        LX_ASSERT_EQ(p->n_keys, 1);
        if (pr->base_url != NULL)
            LX_ASSERT_STREQ(p->base_url, pr->base_url);
        else if (pr->proto == LX_CONFIG_PROTO_VERTEX)
            LX_ASSERT(p->base_url == NULL && strcmp(p->project, "my-project") == 0);
        if (!pr->chat) {
            LX_ASSERT(pt_has_msg(&errs, "is listed only"));
            LX_ASSERT(pt_has_msg(&errs, "provider disabled for chat"));
        }
        lx_config_unref(cfg);
        lx_config_errs_release(&errs);
    }
    unsetenv("CLOUDFLARE_ACCOUNT_ID");
    return 0;
}

LX_TEST(presets_url_templates)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    setenv("CLOUDFLARE_ACCOUNT_ID", "acct123", 1);
    LX_ASSERT_EQ(pt_load_one("workers-ai", NULL, &cfg, &errs), LX_OK);
    LX_ASSERT_STREQ(cfg->providers[0].base_url,
                    "https://api.cloudflare.com/client/v4/accounts/acct123");
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_WORKERS_AI);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(pt_load_one("cloudflare", NULL, &cfg, &errs), LX_OK);
    LX_ASSERT_STREQ(cfg->providers[0].base_url,
                    "https://api.cloudflare.com/client/v4/accounts/acct123/ai/v1");
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_OPENAI);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(pt_load_one("cloudflare-ai", NULL, &cfg, &errs), LX_OK); /* S3's id */
    LX_ASSERT_STREQ(cfg->providers[0].type, "workers-ai");
    lx_config_unref(cfg);

    /* an account id that would change the URL's shape is refused */
    setenv("CLOUDFLARE_ACCOUNT_ID", "acct/../x", 1);
    LX_ASSERT_EQ(pt_load_one("workers-ai", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "base_url is required for type workers-ai"));
    lx_config_errs_release(&errs);
    unsetenv("CLOUDFLARE_ACCOUNT_ID");
    LX_ASSERT_EQ(pt_load_one("workers-ai", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "t.yaml:3:5: error: provider p: base_url is required for type "
                                "workers-ai (or set CLOUDFLARE_ACCOUNT_ID)"));
    lx_config_errs_release(&errs);
    /* a base_url given wins */
    LX_ASSERT_EQ(pt_load_one("workers-ai",
                             "    base_url: https://api.cloudflare.com/client/v4/accounts/a1\n",
                             &cfg, &errs),
                 LX_OK);
    LX_ASSERT_STREQ(cfg->providers[0].base_url, "https://api.cloudflare.com/client/v4/accounts/a1");
    lx_config_unref(cfg);

    /* bedrock: region given -> the adapter builds the URL; none -> AWS_REGION or us-east-1 */
    LX_ASSERT_EQ(pt_load_one("bedrock", "    region: eu-west-3\n", &cfg, &errs), LX_OK);
    LX_ASSERT(cfg->providers[0].base_url == NULL);
    LX_ASSERT_STREQ(cfg->providers[0].region, "eu-west-3");
    lx_config_unref(cfg);
    unsetenv("AWS_REGION");
    LX_ASSERT_EQ(pt_load_one("aws-bedrock", NULL, &cfg, &errs), LX_OK);
    LX_ASSERT_STREQ(cfg->providers[0].base_url, "https://bedrock-runtime.us-east-1.amazonaws.com");
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_BEDROCK);
    lx_config_unref(cfg);

    /* azure: the resource URL is the user's */
    LX_ASSERT_EQ(pt_load_one("azure-openai", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "base_url is required for type azure"));
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(presets_ollama_native_unless_v1)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    LX_ASSERT_EQ(pt_load("providers:\n  - name: local\n    type: ollama\n", &cfg, &errs), LX_OK);
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_OLLAMA);
    LX_ASSERT_STREQ(cfg->providers[0].base_url, "http://127.0.0.1:11434");
    LX_ASSERT(cfg->providers[0].enabled);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(pt_load("providers:\n  - name: local\n    type: ollama\n"
                         "    base_url: http://gpu-box:11434/v1/\n",
                         &cfg, &errs),
                 LX_OK);
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_OPENAI); /* as before issue 4 */
    LX_ASSERT_STREQ(cfg->providers[0].base_url, "http://gpu-box:11434/v1");
    lx_config_unref(cfg);
    LX_ASSERT_EQ(pt_load("providers:\n  - name: local\n    type: ollama\n"
                         "    base_url: http://gpu-box:11434\n",
                         &cfg, &errs),
                 LX_OK);
    LX_ASSERT_EQ(cfg->providers[0].proto, LX_CONFIG_PROTO_OLLAMA);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(errs.n_errors, 0);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(presets_new_fields)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const struct lx_config_provider *p;

    LX_ASSERT_EQ(pt_load("providers:\n"
                         "  - name: vx\n    type: vertex\n    project: my-proj-123\n"
                         "    region: europe-west4\n    keys: [\"tok\"]\n"
                         "  - name: az\n    type: azure\n    api_version: 2024-10-21\n"
                         "    base_url: https://res.openai.azure.com\n    keys: [\"k\"]\n",
                         &cfg, &errs),
                 LX_OK);
    p = lx_config_provider_find(cfg, LX_STR("vx"));
    LX_ASSERT_STREQ(p->project, "my-proj-123");
    LX_ASSERT_STREQ(p->region, "europe-west4");
    LX_ASSERT(p->api_version == NULL);
    p = lx_config_provider_find(cfg, LX_STR("az"));
    LX_ASSERT_STREQ(p->api_version, "2024-10-21");
    LX_ASSERT(p->region == NULL && p->project == NULL);
    LX_ASSERT_EQ(errs.n_warnings, 0);
    lx_config_unref(cfg);

    /* validated: a region that would change a URL is an error at its place */
    LX_ASSERT_EQ(pt_load_one("vertex", "    region: us/../x\n", &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "t.yaml:6:13: error: provider p.region: \"us/../x\" may only "
                                "hold letters"));
    lx_config_errs_release(&errs);
    LX_ASSERT_EQ(pt_load_one("vertex", "    project: \"\"\n", &cfg, &errs), LX_EINVAL);
    lx_config_errs_release(&errs);
    /* a field the type does not use: a warning */
    LX_ASSERT_EQ(pt_load_one("openai", "    region: us-east-1\n", &cfg, &errs), LX_OK);
    LX_ASSERT(pt_has_msg(&errs, "warning: provider p.region: ignored for type openai"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    /* interpolated like the other fields */
    setenv("LX_PT_PROJECT", "from-env-proj", 1);
    LX_ASSERT_EQ(pt_load_one("vertex", "    project: ${LX_PT_PROJECT}\n", &cfg, &errs), LX_OK);
    LX_ASSERT_STREQ(cfg->providers[0].project, "from-env-proj");
    lx_config_unref(cfg);
    unsetenv("LX_PT_PROJECT");
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(presets_unknown_type_did_you_mean)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    LX_ASSERT_EQ(pt_load_one("togther-ai", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "unknown type \"togther-ai\" (did you mean \"together-ai\"?)"));
    lx_config_errs_release(&errs);
    LX_ASSERT_EQ(pt_load_one("cerebra", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "(did you mean \"cerebras\"?)"));
    lx_config_errs_release(&errs);
    LX_ASSERT_EQ(pt_load_one("zzzzzzzzzzzz", NULL, &cfg, &errs), LX_EINVAL);
    LX_ASSERT(pt_has_msg(&errs, "unknown type \"zzzzzzzzzzzz\""));
    LX_ASSERT(!pt_has_msg(&errs, "did you mean"));
    lx_config_errs_release(&errs);
    return 0;
}

/* Listed-only presets never come from the environment, and a route naming one gives a
 * disabled provider. */
LX_TEST(presets_listed_only_stay_disabled)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    setenv("STABILITY_API_KEY", "sk-stab", 1);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/tmp/key.json", 1);
    LX_ASSERT_EQ(lx_config_from_env(&cfg, &errs), LX_OK);
    LX_ASSERT(lx_config_provider_find(cfg, LX_STR("stability-ai")) == NULL);
    LX_ASSERT(lx_config_provider_find(cfg, LX_STR("vertex")) == NULL); /* a path, not a key */
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    LX_ASSERT_EQ(pt_load("providers:\n  - name: img\n    type: stability-ai\n"
                         "    keys: [\"k\"]\nroutes:\n  - match: \"sdxl*\"\n    provider: img\n",
                         &cfg, &errs),
                 LX_OK);
    LX_ASSERT(!cfg->providers[0].enabled);
    LX_ASSERT(lx_config_route_match(cfg, LX_STR("sdxl-1")) == NULL);
    LX_ASSERT(pt_has_msg(&errs, "t.yaml:3:11: warning: provider img: type stability-ai is listed "
                                "only (listed only: image generation"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    /* a route naming a file-only preset: a disabled provider that says why */
    setenv("AZURE_OPENAI_API_KEY", "az", 1);
    LX_ASSERT_EQ(pt_load("routes:\n  - match: \"gpt-*\"\n    provider: azure\n"
                         "  - match: \"llama*\"\n    provider: ollama\n",
                         &cfg, &errs),
                 LX_OK);
    LX_ASSERT(!lx_config_provider_find(cfg, LX_STR("azure"))->enabled);
    LX_ASSERT(pt_has_msg(&errs, "provider azure is not configured (type azure is only made from "
                                "a `providers:` entry): disabled"));
    LX_ASSERT(lx_config_provider_find(cfg, LX_STR("ollama"))->enabled); /* keyless: as before */
    LX_ASSERT_EQ(lx_config_provider_find(cfg, LX_STR("ollama"))->proto, LX_CONFIG_PROTO_OLLAMA);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    unsetenv("AZURE_OPENAI_API_KEY");
    unsetenv("STABILITY_API_KEY");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    return 0;
}

LX_TEST(presets_json)
{
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_json_writer w;
    struct lx_json doc;
    int arr, first, aliases, n = 0;

    lx_json_writer_init(&w, &b);
    LX_ASSERT_EQ(lx_config_presets_json(&w), LX_OK);
    LX_ASSERT_EQ(lx_json_writer_finish(&w), LX_OK);
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(lx_json_parse(&doc, b.ptr, b.len), LX_OK);
    arr = lx_json_get(&doc, 0, LX_STR("presets"));
    LX_ASSERT_EQ(lx_json_type(&doc, arr), LX_JSON_ARRAY);
    LX_ASSERT_EQ(lx_json_count(&doc, arr), lx__config_n_presets);
    first = lx_json_first(&doc, arr);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, first, LX_STR("type")), LX_STR("openai")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, first, LX_STR("protocol")), LX_STR("openai")));
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, first, LX_STR("chat"))), LX_JSON_TRUE);
    for (int i = first; i >= 0; i = lx_json_sibling(&doc, arr, i))
        if (lx_json_str_eq(&doc, lx_json_get(&doc, i, LX_STR("type")), LX_STR("gemini"))) {
            aliases = lx_json_get(&doc, i, LX_STR("aliases"));
            LX_ASSERT(lx_json_str_eq(&doc, lx_json_first(&doc, aliases), LX_STR("google")));
            LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, i, LX_STR("auth")),
                                     LX_STR("x-goog-api-key")));
            n++;
        }
    LX_ASSERT_EQ(n, 1);
    lx_json_release(&doc);
    lx_buf_release(&b);
    return 0;
}
