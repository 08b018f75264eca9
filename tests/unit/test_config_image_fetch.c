/* test_config_image_fetch.c - the `image_fetch:` section: defaults, a full section, every
 * validation error with its FILE:LINE:COL, host pattern normalisation, and the dump (which
 * loads again). Single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "tests/unit/test.h"

static int if_load(const char *yaml, struct lx_config **cfg, struct lx_config_errs *errs)
{
    return lx_config_load_string("t.yaml", yaml, strlen(yaml), cfg, errs);
}

static bool if_has(const struct lx_config_errs *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i].text, text) != NULL)
            return true;
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  | %s\n", errs->msgs[i].text);
    return false;
}

/* Loads yaml, expecting failure with a message containing `want` (which holds the place). */
static int if_fails(const char *yaml, const char *want)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    int rc = if_load(yaml, &cfg, &errs);
    bool found = if_has(&errs, want);

    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    if (rc != LX_EINVAL || !found) {
        fprintf(stderr, "  expected error \"%s\" (rc %d)\n", want, rc);
        return 1;
    }
    return 0;
}

LX_TEST(config_image_fetch_defaults)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    LX_ASSERT_EQ(LX_OK, if_load("listen: 127.0.0.1:4000\n", &cfg, &errs));
    LX_ASSERT(!cfg->image_fetch.enabled);
    LX_ASSERT(!cfg->image_fetch.allow_private);
    LX_ASSERT_EQ(0, cfg->image_fetch.n_allow_hosts);
    LX_ASSERT_EQ(20971520, cfg->image_fetch.max_bytes);
    LX_ASSERT_EQ(10000, cfg->image_fetch.timeout_ms);
    LX_ASSERT_EQ(16, cfg->image_fetch.max_images);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_image_fetch_full)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const char *yaml = "image_fetch:\n"
                       "  enabled: true\n"
                       "  allow_hosts: [\"Upload.Wikimedia.org.\", \"*.example-cdn.com\",\n"
                       "                \"[::1]\", \"127.0.0.1\"]\n"
                       "  allow_private: true\n"
                       "  max_bytes: 5M\n"
                       "  timeout_ms: 2500\n"
                       "  max_images: 3\n";

    LX_ASSERT_EQ(LX_OK, if_load(yaml, &cfg, &errs));
    LX_ASSERT(cfg->image_fetch.enabled);
    LX_ASSERT(cfg->image_fetch.allow_private);
    LX_ASSERT_EQ(4, cfg->image_fetch.n_allow_hosts);
    LX_ASSERT_STREQ(cfg->image_fetch.allow_hosts[0], "upload.wikimedia.org");
    LX_ASSERT_STREQ(cfg->image_fetch.allow_hosts[1], "*.example-cdn.com");
    LX_ASSERT_STREQ(cfg->image_fetch.allow_hosts[2], "::1");
    LX_ASSERT_STREQ(cfg->image_fetch.allow_hosts[3], "127.0.0.1");
    LX_ASSERT_EQ(5u << 20, cfg->image_fetch.max_bytes);
    LX_ASSERT_EQ(2500, cfg->image_fetch.timeout_ms);
    LX_ASSERT_EQ(3, cfg->image_fetch.max_images);
    for (size_t i = 0; i < errs.n; i++) /* loopback listener: allow_private is no warning */
        LX_ASSERT(strstr(errs.msgs[i].text, "allow_private") == NULL);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_image_fetch_errors_have_places)
{
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  enabled: true\n",
                             "t.yaml:2:12: error: image_fetch.allow_hosts is required"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  enabled: true\n  allow_hosts: []\n",
                             "t.yaml:3:3: error: image_fetch.allow_hosts must not be empty"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: [\"*\"]\n  allow_private: true\n",
                             "t.yaml:2:18: error: image_fetch.allow_hosts: \"*\" is not allowed "
                             "with allow_private: true"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: [\"a.com\", \"foo.*.com\"]\n",
                             "t.yaml:2:27: error: image_fetch.allow_hosts[1]: \"foo.*.com\" a "
                             "'*' is allowed only"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: [\"a..com\"]\n",
                             "t.yaml:2:18: error: image_fetch.allow_hosts[0]: \"a..com\" has an "
                             "empty label"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: [\"http://a.com\"]\n",
                             "t.yaml:2:18: error: image_fetch.allow_hosts[0]"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: [\"[fe80::zz]\"]\n",
                             "not an IPv6 address"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_hosts: a.com\n",
                             "t.yaml:2:16: error: image_fetch.allow_hosts: expected a list"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  max_bytes: 0\n",
                             "t.yaml:2:14: error: image_fetch.max_bytes: expected a whole number "
                             "from 1 to 1073741824"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  timeout_ms: 0\n",
                             "t.yaml:2:15: error: image_fetch.timeout_ms: expected a whole number "
                             "from 1 to 600000"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  max_images: 1000\n",
                             "t.yaml:2:15: error: image_fetch.max_images: expected a whole number "
                             "from 1 to 256"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  enabled: yes please\n",
                             "t.yaml:2:12: error: image_fetch.enabled: expected true or false"));
    LX_ASSERT_EQ(0, if_fails("image_fetch:\n  allow_host: [a.com]\n",
                             "t.yaml:2:3: error: image_fetch: unknown key \"allow_host\" (did you "
                             "mean \"allow_hosts\"?)"));
    LX_ASSERT_EQ(0, if_fails("image_fetch: true\n", "t.yaml:1:14: error: image_fetch: expected "
                                                    "a mapping"));
    return 0;
}

LX_TEST(config_image_fetch_private_warns_off_loopback)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    const char *yaml = "listen: 0.0.0.0:4000\n"
                       "master_key: sk-0123456789abcdef0123\n"
                       "image_fetch:\n"
                       "  enabled: true\n"
                       "  allow_hosts: [img.example.com]\n"
                       "  allow_private: true\n";

    LX_ASSERT_EQ(LX_OK, if_load(yaml, &cfg, &errs));
    LX_ASSERT(if_has(&errs, "t.yaml:4:3: warning: image_fetch.allow_private is true"));
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_image_fetch_dump_loads_again)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL, *again = NULL;
    struct lx_buf b = LX_BUF_INIT(1u << 20), b2 = LX_BUF_INIT(1u << 20);
    const char *yaml = "image_fetch:\n"
                       "  enabled: true\n"
                       "  allow_hosts: [upload.wikimedia.org, \"*.example-cdn.com\"]\n"
                       "  max_bytes: 1k\n";

    LX_ASSERT_EQ(LX_OK, if_load(yaml, &cfg, &errs));
    LX_ASSERT_EQ(LX_OK, lx_config_dump(cfg, &b));
    LX_ASSERT(strstr(b.ptr, "image_fetch:\n  enabled: true\n  allow_hosts: "
                            "[\"upload.wikimedia.org\", \"*.example-cdn.com\"]\n"
                            "  allow_private: false\n  max_bytes: 1024\n  timeout_ms: 10000\n"
                            "  max_images: 16\n") != NULL);
    LX_ASSERT_EQ(LX_OK, if_load(b.ptr, &again, &errs));
    LX_ASSERT_EQ(LX_OK, lx_config_dump(again, &b2));
    {   /* the image_fetch section is the same (providers: differ: default routes make some) */
        const char *s1 = strstr(b.ptr, "image_fetch:"), *s2 = strstr(b2.ptr, "image_fetch:");
        const char *e1 = s1 ? strstr(s1, "providers:") : NULL;
        const char *e2 = s2 ? strstr(s2, "providers:") : NULL;
        LX_ASSERT(e1 != NULL && e2 != NULL);
        LX_ASSERT_EQ(e1 - s1, e2 - s2);
        LX_ASSERT(memcmp(s1, s2, (size_t)(e1 - s1)) == 0);
    }
    lx_config_unref(cfg);
    lx_config_unref(again);
    lx_buf_release(&b);
    lx_buf_release(&b2);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_image_fetch_env_config_dumps_defaults)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf b = LX_BUF_INIT(1u << 20);

    LX_ASSERT_EQ(LX_OK, lx_config_from_env(&cfg, &errs));
    LX_ASSERT(!cfg->image_fetch.enabled);
    LX_ASSERT_EQ(LX_OK, lx_config_dump(cfg, &b));
    LX_ASSERT(strstr(b.ptr, "  max_bytes: 20971520\n  timeout_ms: 10000\n  max_images: 16\n") !=
              NULL);
    lx_config_unref(cfg);
    lx_buf_release(&b);
    lx_config_errs_release(&errs);
    return 0;
}
