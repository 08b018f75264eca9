/* config_load.h - shared by the unit tests that need a configuration snapshot: loads YAML from
 * a string (the real loader) and prints the loader's errors when it refuses, so a failing test
 * says why. Header-only (static inline), test code only. */
#ifndef LX_TEST_CONFIG_LOAD_H
#define LX_TEST_CONFIG_LOAD_H

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

/* The snapshot (caller unrefs it), or NULL with the errors on stderr. name is the file name the
 * errors quote. */
static inline struct lx_config *lx_test_load_config(const char *name, const char *yaml)
{
    struct lx_config *cfg = NULL;
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;

    if (lx_config_load_string(name, yaml, strlen(yaml), &cfg, &errs) != LX_OK) {
        struct lx_buf b = LX_BUF_INIT(1 << 16);

        lx_config_errs_format(&errs, &b);
        fprintf(stderr, "config %s: %s\n", name, b.ptr);
        lx_buf_release(&b);
    }
    lx_config_errs_release(&errs);
    return cfg;
}

#endif /* LX_TEST_CONFIG_LOAD_H */
