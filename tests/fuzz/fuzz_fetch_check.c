/* fuzz_fetch_check.c - the image fetch policy (gateway/fetch.c lx__gw_fetch_check) on any bytes
 * as a URL: no crash, no read past the input, only the three documented verdicts, a refusal
 * is a 400 with a terminated message, and a URL allowed under allow_private false never names
 * a loopback, 10/8 or link-local host in its canonical spelling. Seeds:
 * tests/fuzz/corpus/fetch_check/. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/err.h"
#include "gateway/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lx_config *cfg_star, *cfg_list;

static struct lx_config *load(const char *yaml)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;

    if (lx_config_load_string("fuzz.yaml", yaml, strlen(yaml), &cfg, &errs) != LX_OK)
        abort();
    lx_config_errs_release(&errs);
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_str url = lx_str_make(data, size);
    struct lx_err err = {0};
    char host[128];
    int rc;

    if (cfg_star == NULL) {
        cfg_star = load("image_fetch:\n  enabled: true\n  allow_hosts: [\"*\"]\n");
        cfg_list = load("image_fetch:\n  enabled: true\n  allow_private: true\n"
                        "  allow_hosts: [\"a.example.com\", \"*.example-cdn.com\", \"::1\", "
                        "\"127.0.0.1\"]\n");
    }
    rc = lx__gw_fetch_check(cfg_star, url, host, sizeof(host), &err);
    if (rc != LX_OK && rc != LX_ENOTFOUND && rc != LX_EINVAL)
        abort();
    if (rc == LX_EINVAL && (err.http_status != 400 || memchr(err.msg, '\0', sizeof(err.msg)) == NULL))
        abort();
    if (rc == LX_OK) {
        unsigned char a[16];
        if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
            abort();
        if (inet_pton(AF_INET, host, a) == 1 &&
            (a[0] == 127 || a[0] == 10 || (a[0] == 169 && a[1] == 254)))
            abort();
    }
    memset(&err, 0, sizeof(err));
    rc = lx__gw_fetch_check(cfg_list, url, host, sizeof(host), &err);
    if (rc != LX_OK && rc != LX_ENOTFOUND && rc != LX_EINVAL)
        abort();
    return 0;
}
