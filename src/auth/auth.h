/* auth.h - client authentication (the master key), BYOK key extraction, and which headers and
 * query parameters carry secrets. Pure: no I/O, no globals, no allocation; any thread. Every
 * key returned is a slice into the caller's request headers, never a copy; no function here
 * writes a key anywhere (messages are fixed strings), except lx_auth_query_strip() which
 * copies the query *without* auth_token into the caller's buffer.
 *
 * Where the master key is read (S2, issue 3 item 6), first present and non-empty form wins:
 *   1. Authorization: Bearer <k>   (scheme case-insensitive, spaces/tabs around trimmed)
 *   2. x-api-key: <k>              unless it is a BYOK key (below)
 *   3. X-AUTH-TOKEN: <k>
 *   4. ?auth_token=<k>             the first one; percent-decoded, '+' is a space (WHATWG)
 *   5. x-goog-api-key: <k>         (the Gemini SDK's form)
 *   6. api-key: <k>                (Azure's form)
 *   7. ?key=<k>                    (Google's query form), decoded like auth_token
 * Header names are case-insensitive. Only the winning form is compared, in constant time.
 *
 * BYOK (a client's own provider key for this one request):
 *   - X-Provider-Key: <k>  for the provider the router picks (or X-Provider's, if given);
 *   - else X-API-Key: <k> together with a non-empty X-Provider (S4): then X-API-Key is the
 *     provider key and NOT a master key candidate; the master key must come in another form.
 *   With X-Provider-Key present, X-API-Key keeps its master-key meaning. */
#ifndef LX_AUTH_H
#define LX_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/header.h"
#include "core/str.h"

enum lx_auth_status {
    LX_AUTH_OK = 0,
    LX_AUTH_MISSING, /* 401 missing_api_key: no credential in any form */
    LX_AUTH_INVALID, /* 401 invalid_api_key: a credential, not the master key */
    LX_AUTH_BAD_BYOK /* 400 invalid_provider_key: X-Provider-Key present but empty */
};

enum lx_auth_source {
    LX_AUTH_SRC_NONE = 0,
    LX_AUTH_SRC_BEARER,
    LX_AUTH_SRC_X_API_KEY,
    LX_AUTH_SRC_X_AUTH_TOKEN,
    LX_AUTH_SRC_QUERY, /* ?auth_token= or ?key=: key is still percent-encoded */
    LX_AUTH_SRC_GOOG_API_KEY,
    LX_AUTH_SRC_API_KEY,
};

/* A credential as found: key borrows from the headers or the query. */
struct lx_auth_cred {
    enum lx_auth_source source;
    struct lx_str key;
};

/* The client's error for a status: fixed text that never echoes what was sent. */
struct lx_auth_error {
    int http_status;
    const char *type, *code, *message;
};
const struct lx_auth_error *lx_auth_error(enum lx_auth_status st); /* NULL for LX_AUTH_OK */

/* Finds the master-key credential (order above). query is the part after '?' (may be empty).
 * Returns false (out->source NONE) when no form is present. */
bool lx_auth_find(const struct lx_header *h, size_t n, struct lx_str query,
                  struct lx_auth_cred *out);

/* Authenticates a request: LX_AUTH_OK when cfg->auth is LX_CONFIG_AUTH_NONE or the credential
 * equals cfg->master_key; else MISSING or INVALID. Time depends only on the length of what the
 * client sent, not on the key or where they differ. */
enum lx_auth_status lx_auth_check(const struct lx_config *cfg, const struct lx_header *h, size_t n,
                                  struct lx_str query);

/* Constant-time comparison of a credential with the secret (decoding the query form on the
 * fly, without a copy). Time depends only on cred->key.len. */
bool lx_auth_cred_matches(const struct lx_auth_cred *cred, struct lx_str secret);

enum lx_byok_source {
    LX_BYOK_NONE = 0,
    LX_BYOK_PROVIDER_KEY, /* X-Provider-Key */
    LX_BYOK_X_API_KEY,    /* X-API-Key with X-Provider (S4) */
};

struct lx_byok {
    enum lx_byok_source source;
    struct lx_str key;      /* into the header value; trimmed */
    struct lx_str provider; /* X-Provider value (trimmed), or empty: pass it to the router as
                             * header_provider, so the key only goes to a configured provider */
};

/* Extracts the BYOK key (rules above). Returns LX_AUTH_OK (out->source NONE when there is
 * none) or LX_AUTH_BAD_BYOK when X-Provider-Key is present but empty (refused rather than
 * silently billed to the gateway's own keys). */
enum lx_auth_status lx_auth_byok(const struct lx_header *h, size_t n, struct lx_byok *out);

/* Overwrites n bytes at p with zeros in a way the compiler keeps (explicit_bzero): for any
 * buffer that held a key, once the upstream request is written. NULL-safe. */
void lx_auth_wipe(void *p, size_t n);

/* True when a header's value must never be logged nor forwarded from the client to an
 * upstream as is: authorization, proxy-authorization, cookie, set-cookie, x-api-key,
 * x-provider-key, x-auth-token, api-key, x-goog-api-key, and any name containing "auth",
 * "key", "token", "secret", "password" or "cookie" (ASCII case-insensitive, as the
 * configuration's rule for secret headers). */
bool lx_auth_header_is_secret(struct lx_str name);

/* Writes query without any auth_token or key parameter (name compared after percent-decoding) into
 * dst, which must have room for query.len bytes; the other parameters keep their order and
 * bytes. Returns the length written (0: nothing left, drop the '?'). */
size_t lx_auth_query_strip(struct lx_str query, char *dst); /* the client's ?key= never goes on */

#endif /* LX_AUTH_H */
