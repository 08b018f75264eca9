/* auth.c - master-key check, BYOK extraction, secret headers and auth_token stripping
 * (auth.h). Pure, allocation-free, any thread. Keys are only ever read through slices of the
 * caller's request; the single copy made here (lx_auth_query_strip) leaves auth_token out. */
#include "auth/auth.h"

#include <string.h>

#include "core/common.h"

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Trimmed value of the first header called name, or LX_STR_NULL when absent. */
static struct lx_str header_value(const struct lx_header *h, size_t n, struct lx_str name)
{
    const struct lx_header *f = lx_header_find(h, n, name);

    if (f == NULL)
        return LX_STR_NULL;
    return lx_str_trim(f->value);
}

static bool present(struct lx_str s) { return s.ptr != NULL; }

static bool nonempty(struct lx_str s) { return s.ptr != NULL && s.len > 0; }

/* X-API-Key is a provider key when X-Provider is given and X-Provider-Key is not (auth.h). */
static bool x_api_key_is_byok(const struct lx_header *h, size_t n)
{
    return nonempty(header_value(h, n, LX_STR("x-provider"))) &&
           !present(header_value(h, n, LX_STR("x-provider-key")));
}

static struct lx_str bearer_token(struct lx_str v)
{
    static const struct lx_str scheme = LX_STR_INIT("bearer");
    size_t i;

    if (v.len <= scheme.len || !lx_str_eq_nocase(lx_str_sub(v, 0, scheme.len), scheme) ||
        !is_ows(v.ptr[scheme.len]))
        return LX_STR_NULL;
    for (i = scheme.len; i < v.len && is_ows(v.ptr[i]); i++)
        ;
    return lx_str_sub(v, i, v.len - i);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one byte of application/x-www-form-urlencoded text at s[*i] (WHATWG: '+' is a
 * space; a '%' not followed by two hex digits stays a '%') and advances *i. */
static unsigned char form_byte(struct lx_str s, size_t *i)
{
    char c = s.ptr[*i];

    if (c == '%' && *i + 2 < s.len && hexval(s.ptr[*i + 1]) >= 0 && hexval(s.ptr[*i + 2]) >= 0) {
        unsigned char b = (unsigned char)(hexval(s.ptr[*i + 1]) * 16 + hexval(s.ptr[*i + 2]));
        *i += 3;
        return b;
    }
    (*i)++;
    return c == '+' ? ' ' : (unsigned char)c;
}

static bool form_eq(struct lx_str enc, struct lx_str lit)
{
    size_t i = 0, k = 0;

    while (i < enc.len) {
        if (k == lit.len || form_byte(enc, &i) != (unsigned char)lit.ptr[k])
            return false;
        k++;
    }
    return k == lit.len;
}

/* The next '&'-separated parameter of q from *pos: the whole of it, its name and its value
 * (still encoded). False at the end. */
static bool next_param(struct lx_str q, size_t *pos, struct lx_str *whole, struct lx_str *name,
                       struct lx_str *value)
{
    size_t start = *pos, end, eq;

    if (start >= q.len)
        return false;
    for (end = start; end < q.len && q.ptr[end] != '&'; end++)
        ;
    for (eq = start; eq < end && q.ptr[eq] != '='; eq++)
        ;
    *whole = lx_str_sub(q, start, end - start);
    *name = lx_str_sub(q, start, eq - start);
    *value = eq < end ? lx_str_sub(q, eq + 1, end - eq - 1) : lx_str_make(q.ptr + end, 0);
    *pos = end + 1;
    return true;
}

static struct lx_str query_param(struct lx_str q, struct lx_str want)
{
    struct lx_str whole, name, value;
    size_t pos = 0;

    while (next_param(q, &pos, &whole, &name, &value))
        if (form_eq(name, want))
            return value;
    return LX_STR_NULL;
}

static bool found(struct lx_auth_cred *out, enum lx_auth_source src, struct lx_str key)
{
    out->source = src;
    out->key = key;
    return true;
}

bool lx_auth_find(const struct lx_header *h, size_t n, struct lx_str query,
                  struct lx_auth_cred *out)
{
    struct lx_str v;

    out->source = LX_AUTH_SRC_NONE;
    out->key = LX_STR_NULL;
    v = bearer_token(header_value(h, n, LX_STR("authorization")));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_BEARER, v);
    v = header_value(h, n, LX_STR("x-api-key"));
    if (nonempty(v) && !x_api_key_is_byok(h, n))
        return found(out, LX_AUTH_SRC_X_API_KEY, v);
    v = header_value(h, n, LX_STR("x-auth-token"));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_X_AUTH_TOKEN, v);
    v = query_param(query, LX_STR("auth_token"));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_QUERY, v);
    /* the providers' own forms, for clients of their SDKs (front doors, /api/{provider}) */
    v = header_value(h, n, LX_STR("x-goog-api-key"));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_GOOG_API_KEY, v);
    v = header_value(h, n, LX_STR("api-key"));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_API_KEY, v);
    v = query_param(query, LX_STR("key"));
    if (nonempty(v))
        return found(out, LX_AUTH_SRC_QUERY, v);
    return false;
}

bool lx_auth_cred_matches(const struct lx_auth_cred *cred, struct lx_str secret)
{
    volatile unsigned char acc = 0;
    size_t i = 0, k = 0, got = 0;

    if (secret.len == 0)
        return false; /* an empty key would let an empty credential in: fail closed */
    /* The loop runs over what the client sent, and the secret index wraps, so the time says
     * nothing about the secret's length or where the two first differ. */
    while (i < cred->key.len) {
        unsigned char b = cred->source == LX_AUTH_SRC_QUERY ? form_byte(cred->key, &i)
                                                            : (unsigned char)cred->key.ptr[i++];
        acc |= (unsigned char)(b ^ (unsigned char)secret.ptr[k]);
        k++;
        k *= (size_t)(k < secret.len);
        got++;
    }
    acc |= (unsigned char)(got != secret.len);
    return acc == 0;
}

enum lx_auth_status lx_auth_check(const struct lx_config *cfg, const struct lx_header *h, size_t n,
                                  struct lx_str query)
{
    struct lx_auth_cred cred;

    if (cfg->auth == LX_CONFIG_AUTH_NONE)
        return LX_AUTH_OK;
    if (!lx_auth_find(h, n, query, &cred))
        return LX_AUTH_MISSING;
    if (cfg->master_key == NULL)
        return LX_AUTH_INVALID; /* cannot happen for a loaded config; fail closed */
    return lx_auth_cred_matches(&cred, lx_str_cstr(cfg->master_key)) ? LX_AUTH_OK : LX_AUTH_INVALID;
}

const struct lx_auth_error *lx_auth_error(enum lx_auth_status st)
{
    static const struct lx_auth_error tab[] = {
        [LX_AUTH_MISSING] = {401, "authentication_error", "missing_api_key",
                             "Missing API key: send it as 'Authorization: Bearer <key>', "
                             "'x-api-key', 'X-AUTH-TOKEN', '?auth_token=', 'x-goog-api-key', "
                             "'api-key' or '?key='"},
        [LX_AUTH_INVALID] = {401, "authentication_error", "invalid_api_key", "Invalid API key"},
        [LX_AUTH_BAD_BYOK] = {400, "invalid_request_error", "invalid_provider_key",
                              "X-Provider-Key is empty"},
    };
    if (st == LX_AUTH_OK || (unsigned)st >= LX_ARRAY_SIZE(tab))
        return NULL;
    return &tab[st];
}

enum lx_auth_status lx_auth_byok(const struct lx_header *h, size_t n, struct lx_byok *out)
{
    struct lx_str pk = header_value(h, n, LX_STR("x-provider-key"));
    struct lx_str prov = header_value(h, n, LX_STR("x-provider"));
    struct lx_str ak;

    out->source = LX_BYOK_NONE;
    out->key = LX_STR_NULL;
    out->provider = nonempty(prov) ? prov : LX_STR("");
    if (present(pk)) {
        if (pk.len == 0)
            return LX_AUTH_BAD_BYOK;
        out->source = LX_BYOK_PROVIDER_KEY;
        out->key = pk;
        return LX_AUTH_OK;
    }
    ak = header_value(h, n, LX_STR("x-api-key"));
    if (nonempty(prov) && nonempty(ak)) {
        out->source = LX_BYOK_X_API_KEY;
        out->key = ak;
    }
    return LX_AUTH_OK;
}

void lx_auth_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

static bool contains_nocase(struct lx_str s, struct lx_str needle)
{
    for (size_t i = 0; i + needle.len <= s.len; i++)
        if (lx_str_eq_nocase(lx_str_sub(s, i, needle.len), needle))
            return true;
    return false;
}

bool lx_auth_header_is_secret(struct lx_str name)
{
    static const struct lx_str words[] = {
        LX_STR_INIT("auth"),   LX_STR_INIT("key"),      LX_STR_INIT("token"),
        LX_STR_INIT("secret"), LX_STR_INIT("password"), LX_STR_INIT("cookie"),
    };
    /* Every listed name (authorization, proxy-authorization, x-api-key, x-provider-key,
     * x-auth-token, api-key, x-goog-api-key, cookie, set-cookie) contains one of the words. */
    for (size_t i = 0; i < LX_ARRAY_SIZE(words); i++)
        if (contains_nocase(name, words[i]))
            return true;
    return false;
}

size_t lx_auth_query_strip(struct lx_str query, char *dst)
{
    struct lx_str whole, name, value;
    size_t pos = 0, len = 0;

    while (next_param(query, &pos, &whole, &name, &value)) {
        if (whole.len == 0 || form_eq(name, LX_STR("auth_token")) || form_eq(name, LX_STR("key")))
            continue;
        if (len > 0)
            dst[len++] = '&';
        memcpy(dst + len, whole.ptr, whole.len);
        len += whole.len;
    }
    return len;
}
