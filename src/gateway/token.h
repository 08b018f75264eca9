/* token.h - per-worker cache of OAuth2 access tokens for service-account keys (Vertex AI),
 * exchanged on demand (token.c). Loop thread of the worker only. */
#ifndef LX_GATEWAY_TOKEN_H
#define LX_GATEWAY_TOKEN_H

#include <stdint.h>

#include "core/err.h"
#include "core/str.h"
#include "upstream/upstream.h"

struct lx_token_cache;
struct lx_token_slot;

/* A request waiting for an exchange; embedded in the request's state. cb gets NULL when the
 * token is ready (ask again with lx__gw_token_get), else why it could not be had. */
struct lx_token_waiter {
    struct lx_token_waiter *next, *prev;
    struct lx_token_slot *slot;
    void (*cb)(struct lx_token_waiter *w, const struct lx_err *err);
};

struct lx_token_cache *lx__gw_tokens_new(struct lx_upstream_ctx *up);
void lx__gw_tokens_free(struct lx_token_cache *c); /* before the upstream ctx is freed */

/* The access token for the service-account key file `keyfile` (its JSON). LX_OK: *token (valid
 * until the next call on this loop: copy it) and *project (the file's project_id, may be
 * empty). LX_EAGAIN: an exchange runs; w (with w->cb set) is queued and called back. Else an
 * error in err (a bad key file: 401 with a message that never holds the key; the token
 * endpoint unreachable: 502). */
int lx__gw_token_get(struct lx_token_cache *c, struct lx_str keyfile, int64_t now_s,
                     struct lx_token_waiter *w, struct lx_str *token, struct lx_str *project,
                     struct lx_err *err);
/* Leaves the queue (a request that ends while waiting). NULL-safe; safe when not queued. */
void lx__gw_token_cancel(struct lx_token_waiter *w);

#endif /* LX_GATEWAY_TOKEN_H */
