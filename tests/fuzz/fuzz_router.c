/* fuzz_router.c - libFuzzer target for router/ and auth/ over a fixed configuration.
 * Input: '\n'-separated fields: model, body provider, X-Provider, query, Authorization,
 * x-api-key, X-Provider-Key (missing fields are absent). Checks: lx_route's answer is
 * consistent (status vs candidates, enabled flags, error fields), its explain output is valid
 * JSON, a stripped query no longer yields an auth_token and stripping is idempotent, and every
 * key found is a slice of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "config/config.h"
#include "core/buf.h"
#include "json/json.h"
#include "json/writer.h"
#include "router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static const char yaml[] = "providers:\n"
                           "  - name: openai\n"
                           "    keys: [ \"k\" ]\n"
                           "  - name: gemini\n"
                           "    keys: [ \"k\" ]\n"
                           "  - name: anthropic\n"
                           "    keys: [ \"k\" ]\n"
                           "    enabled: false\n"
                           "  - name: openrouter\n"
                           "    keys: [ \"k\" ]\n"
                           "  - name: local\n"
                           "    type: ollama\n"
                           "models:\n"
                           "  - name: fast\n"
                           "    targets: [ \"openai/gpt-4o-mini\", \"anthropic/c\", \"local/l\" ]\n"
                           "master_key: \"mk-fuzz-0123456789\"\n";

static struct lx_config *cfg;

static bool inside(struct lx_str s, const uint8_t *data, size_t size)
{
    return s.ptr == NULL || ((const uint8_t *)s.ptr >= data &&
                             (const uint8_t *)s.ptr + s.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lx_str f[7] = {{0}};
    size_t nf = 0, start = 0;
    struct lx_header h[4];
    size_t nh = 0;

    if (cfg == NULL) {
        struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
        CHECK(lx_config_load_string("fuzz.yaml", yaml, sizeof(yaml) - 1, &cfg, &errs) == LX_OK);
        lx_config_errs_release(&errs);
    }
    for (size_t i = 0; i <= size && nf < 7; i++) {
        if (i == size || data[i] == '\n') {
            f[nf++] = lx_str_make(data + start, i - start);
            start = i + 1;
        }
    }

    /* router */
    {
        struct lx_route_req req = {f[0], f[1], f[2], false};
        struct lx_route_result res;
        struct lx_buf b = LX_BUF_INIT(1 << 20);
        struct lx_json_writer w;
        struct lx_json doc;
        int rc = lx_route(cfg, &req, &res);

        CHECK((rc == LX_OK) == (res.status == LX_ROUTE_OK));
        CHECK(rc != LX_OK || (res.n_cand > 0 && res.code == NULL));
        CHECK(rc == LX_OK || (res.n_cand == 0 && res.code != NULL && res.err.rc == rc));
        for (size_t i = 0; i < res.n_cand; i++)
            CHECK(res.cand[i].provider->enabled && res.cand[i].model.len > 0);
        for (size_t i = 0; i < res.n_skipped; i++)
            CHECK(!res.skipped[i].provider->enabled);
        lx_json_writer_init(&w, &b);
        CHECK(lx_route_explain(&res, 1, &w) == LX_OK && lx_json_writer_finish(&w) == LX_OK);
        lx_json_init(&doc, NULL);
        CHECK(lx_json_parse(&doc, b.ptr, b.len) == LX_OK);
        lx_json_release(&doc);
        lx_buf_release(&b);
    }

    /* auth */
    if (nf > 4)
        h[nh++] = (struct lx_header){LX_STR("Authorization"), f[4]};
    if (nf > 5)
        h[nh++] = (struct lx_header){LX_STR("x-api-key"), f[5]};
    if (nf > 6)
        h[nh++] = (struct lx_header){LX_STR("X-Provider-Key"), f[6]};
    if (nf > 2)
        h[nh++] = (struct lx_header){LX_STR("X-Provider"), f[2]};
    {
        struct lx_str q = nf > 3 ? f[3] : LX_STR("");
        struct lx_auth_cred cred;
        struct lx_byok byok;
        char *s1 = malloc(q.len + 1), *s2 = malloc(q.len + 1);
        size_t n1, n2;

        CHECK(s1 != NULL && s2 != NULL);
        lx_auth_check(cfg, h, nh, q);
        if (lx_auth_find(h, nh, q, &cred))
            CHECK(cred.key.len > 0 && inside(cred.key, data, size));
        lx_auth_byok(h, nh, &byok);
        CHECK(inside(byok.key, data, size));
        n1 = lx_auth_query_strip(q, s1);
        CHECK(n1 <= q.len);
        CHECK(!lx_auth_find(NULL, 0, lx_str_make(s1, n1), &cred) ||
              cred.source != LX_AUTH_SRC_QUERY);
        n2 = lx_auth_query_strip(lx_str_make(s1, n1), s2);
        CHECK(n2 == n1 && memcmp(s1, s2, n1) == 0);
        free(s1);
        free(s2);
    }
    return 0;
}
