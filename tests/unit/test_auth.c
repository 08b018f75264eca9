/* test_auth.c - master key forms and their precedence, constant-time comparison results,
 * BYOK combinations, secret headers, auth_token stripping, and that no function copies a key
 * anywhere it was not asked to. */
#include <stdlib.h>

#include "auth/auth.h"
#include "config/config.h"
#include "core/alloc.h"
#include "tests/unit/config_load.h"
#include "tests/unit/test.h"

#define MK "mk-0123456789abcdef"

static struct lx_config *load(const char *yaml)
{
    return lx_test_load_config("auth.yaml", yaml);
}

static struct lx_config *load_mk(void)
{
    return load("listen: 127.0.0.1:4000\nmaster_key: \"" MK "\"\n"
                "providers:\n  - name: local\n    type: ollama\n");
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        LX_STR_INIT(n), LX_STR_INIT(v)                                                             \
    }
#define NOH                                                                                        \
    {                                                                                              \
        {NULL, 0}, { NULL, 0 }                                                                     \
    } /* a case without headers */

struct acase {
    struct lx_header h[4];
    size_t n;
    const char *query;
    enum lx_auth_status want;
    enum lx_auth_source src; /* which form lx_auth_find picked */
};

static const struct acase cases[] = {
    /* each form alone, right key */
    {{H("Authorization", "Bearer " MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_BEARER},
    {{H("authorization", "bearer " MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_BEARER},
    {{H("AUTHORIZATION", "BEARER \t " MK "  ")}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_BEARER},
    {{H("Authorization", "  Bearer " MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_BEARER},
    {{H("x-api-key", MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_X_API_KEY},
    {{H("X-Api-Key", " " MK "\t")}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_X_API_KEY},
    {{H("X-AUTH-TOKEN", MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_X_AUTH_TOKEN},
    {{H("x-auth-token", MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_X_AUTH_TOKEN},
    {{NOH}, 0, "auth_token=" MK, LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "a=1&auth_token=" MK "&b=2", LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "auth_token=mk-0123456789%61%62cdef", LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "auth%5Ftoken=%6D%6b-0123456789abcdef", LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "auth_token=" MK "&auth_token=wrong", LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    /* wrong keys: shorter, longer, one byte off, case, prefix */
    {{H("Authorization", "Bearer mk-0123456789abcdeF")},
     1,
     "",
     LX_AUTH_INVALID,
     LX_AUTH_SRC_BEARER},
    {{H("Authorization", "Bearer mk-0123456789abcde")}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_BEARER},
    {{H("Authorization", "Bearer " MK "0")}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_BEARER},
    {{H("Authorization", "Bearer " MK MK)}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_BEARER},
    {{H("Authorization", "Bearer x")}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_BEARER},
    {{H("x-api-key", "MK-0123456789ABCDEF")}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_X_API_KEY},
    {{H("X-AUTH-TOKEN", "Bearer " MK)}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_X_AUTH_TOKEN},
    {{NOH}, 0, "auth_token=mk-0123456789abcdef%", LX_AUTH_INVALID, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "auth_token=mk+0123456789abcdef", LX_AUTH_INVALID, LX_AUTH_SRC_QUERY},
    /* missing: nothing, empty values, other schemes, look-alike parameters */
    {{NOH}, 0, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("Authorization", "Bearer")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("Authorization", "Bearer   ")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("Authorization", "Basic bWs6eA==")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("Authorization", "Bearer" MK)}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("Authorization", MK)}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("x-api-key", "")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("x-api-key", "  ")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("X-AUTH-TOKEN", "")}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{NOH}, 0, "auth_token=", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{NOH}, 0, "auth_token", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{NOH}, 0, "xauth_token=" MK "&auth_tokens=" MK, LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("x-auth", MK)}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    /* the providers' own forms (front doors, /api/{provider}): after the four above */
    {{H("x-auth", MK), H("api-key", MK)}, 2, "", LX_AUTH_OK, LX_AUTH_SRC_API_KEY},
    {{H("x-goog-api-key", MK)}, 1, "", LX_AUTH_OK, LX_AUTH_SRC_GOOG_API_KEY},
    {{H("x-goog-api-key", "wrong")}, 1, "", LX_AUTH_INVALID, LX_AUTH_SRC_GOOG_API_KEY},
    {{H("x-goog-api-key", "wrong"), H("x-api-key", MK)}, 2, "", LX_AUTH_OK, LX_AUTH_SRC_X_API_KEY},
    {{NOH}, 0, "alt=sse&key=" MK, LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    {{NOH}, 0, "key=wrong&auth_token=" MK, LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    /* precedence: the first present form decides, even when a later one is right */
    {{H("x-api-key", MK), H("Authorization", "Bearer wrong")},
     2,
     "",
     LX_AUTH_INVALID,
     LX_AUTH_SRC_BEARER},
    {{H("x-api-key", "wrong"), H("Authorization", "Bearer " MK)},
     2,
     "",
     LX_AUTH_OK,
     LX_AUTH_SRC_BEARER},
    {{H("X-AUTH-TOKEN", MK), H("x-api-key", "wrong")},
     2,
     "",
     LX_AUTH_INVALID,
     LX_AUTH_SRC_X_API_KEY},
    {{H("X-AUTH-TOKEN", "wrong")}, 1, "auth_token=" MK, LX_AUTH_INVALID, LX_AUTH_SRC_X_AUTH_TOKEN},
    {{H("Authorization", "Basic xyz"), H("x-api-key", MK)},
     2,
     "",
     LX_AUTH_OK,
     LX_AUTH_SRC_X_API_KEY},
    {{H("x-api-key", "")}, 1, "auth_token=" MK, LX_AUTH_OK, LX_AUTH_SRC_QUERY},
    /* BYOK: with X-Provider, X-API-Key is the provider's key, not a master key */
    {{H("X-Provider", "anthropic"), H("X-API-Key", MK)}, 2, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
    {{H("X-Provider", "anthropic"), H("X-API-Key", "sk-ant"), H("X-AUTH-TOKEN", MK)},
     3,
     "",
     LX_AUTH_OK,
     LX_AUTH_SRC_X_AUTH_TOKEN},
    {{H("X-Provider", "anthropic"), H("X-API-Key", "sk-ant"), H("Authorization", "Bearer " MK)},
     3,
     "",
     LX_AUTH_OK,
     LX_AUTH_SRC_BEARER},
    {{H("X-Provider", "anthropic"), H("X-API-Key", "sk-ant")},
     2,
     "auth_token=" MK,
     LX_AUTH_OK,
     LX_AUTH_SRC_QUERY},
    /* ... unless X-Provider-Key carries the provider key: then X-API-Key is the master key */
    {{H("X-Provider", "anthropic"), H("X-Provider-Key", "sk-ant"), H("X-API-Key", MK)},
     3,
     "",
     LX_AUTH_OK,
     LX_AUTH_SRC_X_API_KEY},
    {{H("X-Provider", ""), H("X-API-Key", MK)}, 2, "", LX_AUTH_OK, LX_AUTH_SRC_X_API_KEY},
    {{H("X-Provider-Key", MK)}, 1, "", LX_AUTH_MISSING, LX_AUTH_SRC_NONE},
};

LX_TEST(auth_cases)
{
    struct lx_config *cfg = load_mk();

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_CONFIG_AUTH_MASTER_KEY, cfg->auth);
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        const struct acase *c = &cases[i];
        struct lx_auth_cred cred;
        enum lx_auth_status st = lx_auth_check(cfg, c->h, c->n, lx_str_cstr(c->query));
        bool found = lx_auth_find(c->h, c->n, lx_str_cstr(c->query), &cred);

        if (st != c->want || cred.source != c->src || found != (c->src != LX_AUTH_SRC_NONE)) {
            lx_config_unref(cfg);
            LX_FAIL("case %zu: status %d (want %d), source %d (want %d)", i, st, c->want,
                    cred.source, c->src);
        }
    }
    lx_config_unref(cfg);
    return 0;
}

LX_TEST(auth_none_passes_everything)
{
    struct lx_config *cfg = load("listen: 127.0.0.1:4000\nauth: none\n"
                                 "providers:\n  - name: local\n    type: ollama\n");

    LX_ASSERT(cfg != NULL);
    LX_ASSERT_EQ(LX_CONFIG_AUTH_NONE, cfg->auth);
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++)
        LX_ASSERT_EQ(LX_AUTH_OK,
                     lx_auth_check(cfg, cases[i].h, cases[i].n, lx_str_cstr(cases[i].query)));
    lx_config_unref(cfg);
    return 0;
}

/* The comparison itself: lengths and every position, on both sides of the key. */
LX_TEST(auth_cred_matches)
{
    struct lx_str secret = LX_STR(MK);
    char probe[64];

    for (size_t len = 0; len < sizeof(probe); len++) {
        for (size_t diff = 0; diff <= len; diff++) {
            struct lx_auth_cred c = {LX_AUTH_SRC_BEARER, lx_str_make(probe, len)};
            bool want;
            for (size_t k = 0; k < len; k++)
                probe[k] = MK[k % secret.len];
            if (diff < len)
                probe[diff] ^= 1;
            want = len == secret.len && diff == len;
            LX_ASSERT_EQ(want, lx_auth_cred_matches(&c, secret));
        }
    }
    {
        struct lx_auth_cred c = {LX_AUTH_SRC_BEARER, LX_STR("")};
        LX_ASSERT(!lx_auth_cred_matches(&c, LX_STR(""))); /* an empty secret: closed */
        c.key = LX_STR("x");
        LX_ASSERT(!lx_auth_cred_matches(&c, LX_STR("")));
        c.key = LX_STR("a+b%20c%2");
        LX_ASSERT(!lx_auth_cred_matches(&c, LX_STR("a b c%2"))); /* not query: raw bytes */
        c.source = LX_AUTH_SRC_QUERY;
        LX_ASSERT(lx_auth_cred_matches(&c, LX_STR("a b c%2"))); /* '+', %20, lone '%' */
        c.key = LX_STR("%00%ff%FF");
        LX_ASSERT(lx_auth_cred_matches(&c, lx_str_make("\0\xff\xff", 3)));
    }
    return 0;
}

LX_TEST(auth_errors_are_fixed_text)
{
    const struct lx_auth_error *e;

    LX_ASSERT(lx_auth_error(LX_AUTH_OK) == NULL);
    e = lx_auth_error(LX_AUTH_MISSING);
    LX_ASSERT_EQ(401, e->http_status);
    LX_ASSERT_STREQ("missing_api_key", e->code);
    LX_ASSERT_STREQ("authentication_error", e->type);
    e = lx_auth_error(LX_AUTH_INVALID);
    LX_ASSERT_EQ(401, e->http_status);
    LX_ASSERT_STREQ("invalid_api_key", e->code);
    e = lx_auth_error(LX_AUTH_BAD_BYOK);
    LX_ASSERT_EQ(400, e->http_status);
    LX_ASSERT(lx_auth_error((enum lx_auth_status)99) == NULL);
    return 0;
}

struct bcase {
    struct lx_header h[4];
    size_t n;
    enum lx_auth_status want;
    enum lx_byok_source src;
    const char *key, *provider;
};

static const struct bcase bcases[] = {
    {{NOH}, 0, LX_AUTH_OK, LX_BYOK_NONE, NULL, ""},
    {{H("X-Provider-Key", "sk-user")}, 1, LX_AUTH_OK, LX_BYOK_PROVIDER_KEY, "sk-user", ""},
    {{H("x-provider-key", "  sk-user ")}, 1, LX_AUTH_OK, LX_BYOK_PROVIDER_KEY, "sk-user", ""},
    {{H("X-Provider-Key", "sk-user"), H("X-Provider", "groq")},
     2,
     LX_AUTH_OK,
     LX_BYOK_PROVIDER_KEY,
     "sk-user",
     "groq"},
    {{H("X-Provider-Key", "sk-user"), H("X-Provider", "groq"), H("X-API-Key", "mk")},
     3,
     LX_AUTH_OK,
     LX_BYOK_PROVIDER_KEY,
     "sk-user",
     "groq"},
    {{H("X-Provider", "anthropic"), H("X-API-Key", "sk-ant-test")},
     2,
     LX_AUTH_OK,
     LX_BYOK_X_API_KEY,
     "sk-ant-test",
     "anthropic"},
    {{H("x-provider", " anthropic "), H("x-api-key", " sk-ant-test ")},
     2,
     LX_AUTH_OK,
     LX_BYOK_X_API_KEY,
     "sk-ant-test",
     "anthropic"},
    {{H("X-API-Key", "sk-ant-test")}, 1, LX_AUTH_OK, LX_BYOK_NONE, NULL, ""},
    {{H("X-Provider", "anthropic")}, 1, LX_AUTH_OK, LX_BYOK_NONE, NULL, "anthropic"},
    {{H("X-Provider", "anthropic"), H("X-API-Key", "")},
     2,
     LX_AUTH_OK,
     LX_BYOK_NONE,
     NULL,
     "anthropic"},
    {{H("X-Provider", ""), H("X-API-Key", "sk")}, 2, LX_AUTH_OK, LX_BYOK_NONE, NULL, ""},
    {{H("X-Provider-Key", "")}, 1, LX_AUTH_BAD_BYOK, LX_BYOK_NONE, NULL, ""},
    {{H("X-Provider-Key", "   "), H("X-Provider", "a"), H("X-API-Key", "k")},
     3,
     LX_AUTH_BAD_BYOK,
     LX_BYOK_NONE,
     NULL,
     "a"},
};

LX_TEST(auth_byok)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(bcases); i++) {
        const struct bcase *c = &bcases[i];
        struct lx_byok b;
        enum lx_auth_status st = lx_auth_byok(c->h, c->n, &b);

        if (st != c->want || b.source != c->src)
            LX_FAIL("case %zu: status %d (want %d), source %d (want %d)", i, st, c->want, b.source,
                    c->src);
        if (c->key == NULL)
            LX_ASSERT(b.key.ptr == NULL);
        else
            LX_ASSERT_STR(b.key, c->key);
        LX_ASSERT_STR(b.provider, c->provider);
        /* the key is a slice of the header value itself, never a copy */
        if (b.key.ptr != NULL) {
            bool inside = false;
            for (size_t k = 0; k < c->n; k++)
                inside |= b.key.ptr >= c->h[k].value.ptr &&
                          b.key.ptr + b.key.len <= c->h[k].value.ptr + c->h[k].value.len;
            LX_ASSERT(inside);
        }
    }
    return 0;
}

LX_TEST(auth_wipe)
{
    char key[32];
    static const char zero[32];

    memcpy(key, "sk-CANARY-0123456789abcdefghijk", sizeof(key));
    lx_auth_wipe(key, sizeof(key));
    LX_ASSERT(memcmp(key, zero, sizeof(key)) == 0);
    lx_auth_wipe(NULL, 10);
    lx_auth_wipe(key, 0);
    return 0;
}

LX_TEST(auth_secret_headers)
{
    static const char *const secret[] = {"authorization",       "Authorization",
                                         "PROXY-AUTHORIZATION", "x-api-key",
                                         "X-API-KEY",           "x-provider-key",
                                         "X-Provider-Key",      "x-auth-token",
                                         "X-AUTH-TOKEN",        "cookie",
                                         "Set-Cookie",          "api-key",
                                         "x-goog-api-key",      "X-Amz-Security-Token",
                                         "x-client-secret",     "x-password",
                                         "Sec-WebSocket-Key"};
    static const char *const plain[] = {
        "content-type", "accept",     "user-agent",          "x-request-id",
        "x-provider",   "X-Provider", "openai-organization", "anthropic-version",
        "x-session-id", "host",       "content-length",      "x-stainless-os",
        "origin",       "keep-alive"};

    for (size_t i = 0; i < LX_ARRAY_SIZE(secret); i++)
        if (!lx_auth_header_is_secret(lx_str_cstr(secret[i])))
            LX_FAIL("%s should be secret", secret[i]);
    for (size_t i = 0; i < LX_ARRAY_SIZE(plain); i++)
        if (lx_auth_header_is_secret(lx_str_cstr(plain[i])))
            LX_FAIL("%s should not be secret", plain[i]);
    LX_ASSERT(!lx_auth_header_is_secret(LX_STR("")));
    return 0;
}

LX_TEST(auth_query_strip)
{
    static const char *const tab[][2] = {
        {"", ""},
        {"auth_token=x", ""},
        {"model=gpt-4o", "model=gpt-4o"},
        {"model=gpt-4o&auth_token=x", "model=gpt-4o"},
        {"auth_token=x&model=gpt-4o", "model=gpt-4o"},
        {"a=1&auth_token=x&b=2", "a=1&b=2"},
        {"a=1&auth_token=x&auth_token=y&b=%20", "a=1&b=%20"},
        {"auth%5ftoken=x&a", "a"},
        {"auth_token&a=1", "a=1"},
        {"auth_tokens=1&xauth_token=2", "auth_tokens=1&xauth_token=2"},
        {"a=1&&b=2&", "a=1&b=2"},
        {"model=@cf%2Fmeta%2Fllama&auth_token=sk%2Bx", "model=@cf%2Fmeta%2Fllama"},
        {"alt=sse&key=AIzaSECRET", "alt=sse"},
        {"key=a&keys=1&monkey=2", "keys=1&monkey=2"},
    };
    for (size_t i = 0; i < LX_ARRAY_SIZE(tab); i++) {
        struct lx_str q = lx_str_cstr(tab[i][0]);
        char *dst = malloc(q.len + 1); /* exactly query.len bytes are promised; ASan checks */
        size_t n;

        LX_ASSERT(dst != NULL);
        n = lx_auth_query_strip(q, dst);
        if (n != strlen(tab[i][1]) || memcmp(dst, tab[i][1], n) != 0) {
            free(dst);
            LX_FAIL("strip(\"%s\") != \"%s\"", tab[i][0], tab[i][1]);
        }
        free(dst);
    }
    return 0;
}

/* A canary key goes through every function; afterwards no byte sequence of it exists in any
 * output the functions were given (results, error texts), only in the request itself. */
static bool holds(const void *mem, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp((const char *)mem + i, needle, k) == 0)
            return true;
    return false;
}

LX_TEST(auth_never_copies_keys)
{
    static const char canary[] = "sk-CANARY-7f3a9c";
    char hv[3][64], query[96], stripped[96];
    struct lx_header h[4];
    struct lx_config *cfg = load_mk();
    struct lx_auth_cred cred;
    struct lx_byok byok;
    const struct lx_auth_error *e;

    LX_ASSERT(cfg != NULL);
    snprintf(hv[0], sizeof(hv[0]), "Bearer %s", canary);
    snprintf(hv[1], sizeof(hv[1]), "%s", canary);
    snprintf(hv[2], sizeof(hv[2]), "%s-2", canary);
    snprintf(query, sizeof(query), "a=1&auth_token=%s&b=2", canary);
    h[0] = (struct lx_header){LX_STR("Authorization"), lx_str_cstr(hv[0])};
    h[1] = (struct lx_header){LX_STR("X-Provider-Key"), lx_str_cstr(hv[1])};
    h[2] = (struct lx_header){LX_STR("X-API-Key"), lx_str_cstr(hv[2])};
    h[3] = (struct lx_header){LX_STR("X-Provider"), LX_STR("openai")};

    memset(&cred, 0xa5, sizeof(cred));
    memset(&byok, 0xa5, sizeof(byok));
    memset(stripped, 0, sizeof(stripped));
    LX_ASSERT_EQ(LX_AUTH_INVALID, lx_auth_check(cfg, h, 4, lx_str_cstr(query)));
    LX_ASSERT(lx_auth_find(h, 4, lx_str_cstr(query), &cred));
    LX_ASSERT_EQ(LX_AUTH_OK, lx_auth_byok(h, 4, &byok));
    LX_ASSERT(lx_str_eq(byok.key, lx_str_cstr(hv[1]))); /* the same bytes ... */
    LX_ASSERT(byok.key.ptr == hv[1]);                   /* ... in the same place */
    LX_ASSERT(cred.key.ptr == hv[0] + 7);
    LX_ASSERT(!holds(&cred, sizeof(cred), "sk-CANARY"));
    LX_ASSERT(!holds(&byok, sizeof(byok), "sk-CANARY"));
    LX_ASSERT_EQ(7, lx_auth_query_strip(lx_str_cstr(query), stripped));
    LX_ASSERT(!holds(stripped, sizeof(stripped), "CANARY"));
    for (int st = LX_AUTH_MISSING; st <= LX_AUTH_BAD_BYOK; st++) {
        e = lx_auth_error((enum lx_auth_status)st);
        LX_ASSERT(strstr(e->message, "CANARY") == NULL);
    }
    /* the inputs are untouched */
    LX_ASSERT(strstr(hv[0], canary) != NULL && strstr(query, canary) != NULL);
    lx_config_unref(cfg);
    return 0;
}

/* Nothing here allocates: with every fallible allocation failing, answers are unchanged. */
LX_TEST(auth_no_alloc)
{
    struct lx_config *cfg = load_mk();
    int rc = 0;

    LX_ASSERT(cfg != NULL);
    lx_alloc_fail_after(0);
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases) && rc == 0; i++)
        if (lx_auth_check(cfg, cases[i].h, cases[i].n, lx_str_cstr(cases[i].query)) !=
            cases[i].want)
            rc = 1;
    lx_alloc_fail_after(-1);
    lx_config_unref(cfg);
    LX_ASSERT_EQ(0, rc);
    return 0;
}
