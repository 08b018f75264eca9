/* test_config_redis.c - the `redis:` section: a redis:// URL (a secret: it may hold a
 * password, so it is never printed back), an optional prefix, errors with their place. */
#include <string.h>

#include "config/config.h"
#include "core/err.h"
#include "tests/unit/test.h"

static int rd_load(const char *yaml, struct lx_config **cfg, struct lx_config_errs *errs)
{
    return lx_config_load_string("r.yaml", yaml, strlen(yaml), cfg, errs);
}

LX_TEST(config_redis_section)
{
    static const char ok[] = "redis:\n  url: redis://:s3cret-pw@127.0.0.1:6390\n"
                             "  prefix: \"team-a:\"\n";
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf b = LX_BUF_INIT(1u << 20);

    LX_ASSERT_EQ(rd_load(ok, &cfg, &errs), LX_OK);
    LX_ASSERT_STREQ(cfg->redis.url, "redis://:s3cret-pw@127.0.0.1:6390");
    LX_ASSERT_STREQ(cfg->redis.prefix, "team-a:");
    LX_ASSERT_EQ(lx_config_dump(cfg, &b), LX_OK);
    lx_buf_append_char(&b, '\0');
    LX_ASSERT(strstr(b.ptr, "redis:\n  url: \"***\"") != NULL);
    LX_ASSERT(strstr(b.ptr, "s3cret") == NULL);
    lx_buf_release(&b);
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);

    cfg = NULL;
    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT_EQ(rd_load("listen: 127.0.0.1:4000\n", &cfg, &errs), LX_OK);
    LX_ASSERT(cfg->redis.url == NULL); /* no redis: state stays in the process */
    lx_config_unref(cfg);
    lx_config_errs_release(&errs);
    return 0;
}

LX_TEST(config_redis_errors)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf b = LX_BUF_INIT(1u << 16);

    LX_ASSERT(rd_load("redis:\n  url: http://127.0.0.1:6379\n", &cfg, &errs) != LX_OK);
    LX_ASSERT(cfg == NULL);
    lx_config_errs_format(&errs, &b);
    lx_buf_append_char(&b, '\0');
    LX_ASSERT(strstr(b.ptr, "r.yaml:2:") != NULL && strstr(b.ptr, "redis.url") != NULL);
    lx_buf_release(&b);
    lx_config_errs_release(&errs);

    errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
    LX_ASSERT(rd_load("redis:\n  uri: redis://x\n", &cfg, &errs) != LX_OK); /* unknown key */
    lx_config_errs_release(&errs);
    return 0;
}
