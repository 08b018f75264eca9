/* sigv4.h - AWS Signature Version 4 (header signing) for Bedrock requests.
 * Pure computation: no I/O, no globals, no clock (the caller passes the time), never logs.
 * Everything the caller passes is borrowed for the duration of the call; results are written
 * into the caller's bounded lx_buf, and result slices point into that buffer. Any thread. */
#ifndef LX_SIGV4_H
#define LX_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/header.h"
#include "core/str.h"

#define LX_SIGV4_KEY_LEN 32         /* HMAC-SHA256 output */
#define LX_SIGV4_MAX_HEADERS 32     /* caller headers to sign, plus the ones we add */
#define LX_SIGV4_MAX_SECRET 128     /* AWS secret keys are 40 characters */
#define LX_SIGV4_AMZ_DATE_LEN 16    /* "YYYYMMDDTHHMMSSZ" */

struct lx_sigv4_input {
    struct lx_str method;           /* "POST" */
    struct lx_str host;             /* Host header value, with ":port" only if sent that way */
    struct lx_str path;             /* wire path, already percent-encoded once; empty = "/" */
    struct lx_str query;            /* wire query without '?', may be empty */
    const struct lx_header *headers; /* other headers to sign (Content-Type, Accept...); */
    size_t n_headers;                /* must not repeat Host or X-Amz-* / Authorization */
    struct lx_str payload;          /* exactly the body bytes that will be sent */
    struct lx_str region;           /* "us-east-1" */
    struct lx_str service;          /* "bedrock" (the signing name, not "bedrock-runtime") */
    struct lx_str access_key_id;
    struct lx_str secret_key;       /* unused by lx_sigv4_sign_with_key() */
    struct lx_str session_token;    /* empty = long-term credentials, no X-Amz-Security-Token */
    int64_t time;                   /* request time, Unix seconds UTC, years 1970..9999 */
    bool content_sha256;            /* also send and sign X-Amz-Content-Sha256 */
};

/* The headers the caller must add to the request, in this order: X-Amz-Date,
 * [X-Amz-Content-Sha256], [X-Amz-Security-Token], Authorization. Names are static strings;
 * values point into the output buffer and stay valid until that buffer is next changed. */
struct lx_sigv4_result {
    struct lx_header headers[4];
    size_t n;
};

/* "YYYYMMDDTHHMMSSZ" for a Unix time. out must hold 17 bytes (NUL-terminated).
 * LX_OK, or LX_EINVAL when t is outside years 1970..9999. */
int lx_sigv4_amz_date(int64_t t, char out[LX_SIGV4_AMZ_DATE_LEN + 1]);

/* kSigning = HMAC chain over ("AWS4" + secret, date, region, service, "aws4_request").
 * date is the 8-character "YYYYMMDD". Nothing is cached: a caller that signs often may keep
 * the key per (access key, date, region, service) and use lx_sigv4_sign_with_key().
 * LX_OK, or LX_EINVAL (bad date, empty or over-long secret, empty region/service). The key is
 * a secret: the caller should OPENSSL_cleanse/explicit_bzero it when done. */
int lx_sigv4_signing_key(struct lx_str secret, struct lx_str date, struct lx_str region,
                         struct lx_str service, uint8_t key[LX_SIGV4_KEY_LEN]);

/* Appends the canonical request (step 1 of SigV4) to out. Exposed for tests and debugging; it
 * contains the session token (a signed header) but never the secret key.
 * LX_OK; LX_EINVAL for input that cannot be signed unambiguously (see docs/internals/sigv4.md);
 * LX_ETOOBIG for too many headers; out->err (LX_ENOMEM/LX_ETOOBIG) when the buffer fails. */
int lx_sigv4_canonical_request(const struct lx_sigv4_input *in, struct lx_buf *out);

/* Appends the string to sign for a canonical request to out. LX_OK, LX_EINVAL or out->err. */
int lx_sigv4_string_to_sign(const struct lx_sigv4_input *in, struct lx_str canonical_request,
                            struct lx_buf *out);

/* Signs the request: appends the header values listed in struct lx_sigv4_result to out and
 * fills *res. On error *res is empty, and out may hold a partial value (truncate it back).
 * Same return codes as lx_sigv4_canonical_request(), plus LX_ENOMEM for scratch memory. */
int lx_sigv4_sign(const struct lx_sigv4_input *in, struct lx_buf *out,
                  struct lx_sigv4_result *res);

/* As lx_sigv4_sign(), with a signing key from lx_sigv4_signing_key() for the date of in->time,
 * in->region and in->service; in->secret_key is not read. */
int lx_sigv4_sign_with_key(const struct lx_sigv4_input *in, const uint8_t key[LX_SIGV4_KEY_LEN],
                           struct lx_buf *out, struct lx_sigv4_result *res);

#endif /* LX_SIGV4_H */
