/* vertex_auth.h - Google service-account credentials for Vertex AI (PROTOCOLS.md 3.6): parse
 * the JSON key file, build the RS256-signed JWT of the OAuth2 JWT-bearer grant (RFC 7523), the
 * token request to send, and read the token answer. Pure: no I/O, no clock (the time comes in),
 * no globals; results live in the caller's arena. OpenSSL libcrypto for RS256 only (its own
 * allocations are freed before return). The gateway does the HTTP exchange and caches the
 * token until lx_vertex_token_fresh() says no. Messages never hold the private key, the JWT or
 * the access token. Any thread. Owned by the Vertex adapter (vertex.c). */
#ifndef LX_VERTEX_AUTH_H
#define LX_VERTEX_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/str.h"
#include "upstream/upstream.h"

#define LX_VERTEX_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define LX_VERTEX_TOKEN_URI "https://oauth2.googleapis.com/token"
#define LX_VERTEX_JWT_LIFETIME 3600       /* seconds: Google's maximum */
#define LX_VERTEX_TOKEN_MARGIN 300        /* refresh this long before expiry */
#define LX_VERTEX_MAX_KEYFILE (64u << 10) /* a key file is ~2.3 KB */

/* A service-account key file (type "service_account"). Every slice is decoded and lives in
 * the arena given to lx_vertex_sa_parse. private_key is a secret. */
struct lx_vertex_sa {
    struct lx_str client_email;   /* the JWT's iss */
    struct lx_str private_key;    /* PEM, PKCS#8 "-----BEGIN PRIVATE KEY-----" (RSA) */
    struct lx_str private_key_id; /* the JWT header's kid; may be empty */
    struct lx_str token_uri;      /* the JWT's aud and where to POST; default LX_VERTEX_TOKEN_URI;
                                   * https, or http to loopback only (test endpoints) */
    struct lx_str project_id;     /* the default project of Vertex URLs; may be empty */
};

/* An access token as the token endpoint gave it. */
struct lx_vertex_token {
    struct lx_str access_token; /* secret: the Bearer value */
    struct lx_str token_type;   /* "Bearer" */
    int64_t expires_at;         /* unix seconds: now_s + expires_in */
};

/* The key file's JSON -> *out. LX_EINVAL (err: 400, a message naming the field) when
 * it is not JSON, not a service-account key, lacks a field, or its private key is not a PEM
 * RSA key OpenSSL can load. The key material never appears in err. */
int lx_vertex_sa_parse(struct lx_str json, struct lx_arena *a, struct lx_vertex_sa *out,
                       struct lx_err *err);

/* The signed JWT "b64url(header).b64url(claims).b64url(sig)" for now_s, in a:
 * header {"alg":"RS256","typ":"JWT","kid":<private_key_id>} (kid only when known),
 * claims {"iss","scope","aud":token_uri,"iat":now_s,"exp":now_s+3600}. */
int lx_vertex_jwt(const struct lx_vertex_sa *sa, int64_t now_s, struct lx_arena *a,
                  struct lx_str *out, struct lx_err *err);

/* The whole token request: POST token_uri, form-encoded JWT-bearer grant, in a. */
int lx_vertex_token_request(const struct lx_vertex_sa *sa, int64_t now_s, struct lx_arena *a,
                            struct lx_upstream_req *out, struct lx_err *err);

/* The token endpoint's answer -> *out. 2xx with {"access_token","expires_in","token_type"}:
 * LX_OK. An OAuth2 error ({"error":"invalid_grant","error_description":...}) or a non-2xx:
 * LX_EUPSTREAM with err->http_status 401 (invalid_grant, invalid_client, unauthorized_client:
 * the key is bad), 429/5xx kept (retryable), message "Google token endpoint: <error>: <desc>".
 * Anything else: LX_EPARSE. */
int lx_vertex_token_parse(int status, struct lx_str body, int64_t now_s, struct lx_arena *a,
                          struct lx_vertex_token *out, struct lx_err *err);

/* The cached token may still be used at now_s: it exists and expires more than
 * LX_VERTEX_TOKEN_MARGIN seconds later. */
bool lx_vertex_token_fresh(const struct lx_vertex_token *t, int64_t now_s);

/* base64url without padding of n bytes into a (exposed for tests). */
struct lx_str lx_vertex_b64url(struct lx_arena *a, const void *p, size_t n);

#endif /* LX_VERTEX_AUTH_H */
