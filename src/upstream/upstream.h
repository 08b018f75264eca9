/* upstream.h - one HTTP/1.1 request to a provider over a pooled keep-alive connection.
 * A struct lx_upstream belongs to the request that started it. Callbacks run on the loop
 * thread and never from inside lx_upstream_*() calls (they are deferred, libuv style).
 * After on_done returns the lx_upstream is gone.
 *
 * One struct lx_upstream_ctx per loop holds the connection pools (keyed by scheme, host,
 * port and TLS settings), the DNS cache and the TLS context. Redirects are never followed;
 * the URL's host comes from configuration, never from a client. */
#ifndef LX_UPSTREAM_H
#define LX_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "core/err.h"
#include "core/header.h"
#include "core/str.h"

struct lx_upstream;
struct lx_upstream_ctx;

struct lx_upstream_config {
    const char *ca_file;            /* NULL = the system store */
    bool insecure_skip_verify;      /* tests only; logged loudly when on */
    unsigned connect_timeout_ms;    /* default 5 s (TCP + TLS handshake) */
    unsigned first_byte_timeout_ms; /* request sent -> first response byte; default 120 s */
    unsigned idle_timeout_ms;       /* between response reads; default 60 s */
    unsigned total_timeout_ms;      /* whole exchange; default 10 min */
    unsigned pool_idle_ms;          /* how long an idle pooled connection is kept; default 60 s */
    unsigned max_idle_per_origin;   /* default 64 */
    unsigned dns_ttl_ms;            /* default 30 s */
    size_t max_response_head;       /* default 64 KiB */
    const char *https_proxy, *http_proxy, *no_proxy; /* NULL = from the environment */
};

void lx_upstream_config_default(struct lx_upstream_config *c);

/* NULL + err on failure (bad CA file). Runs on the loop's thread. */
struct lx_upstream_ctx *lx_upstream_ctx_new(uv_loop_t *loop, const struct lx_upstream_config *c,
                                            struct lx_err *err);
/* Closes idle connections; requests still running are canceled. The ctx is freed once
 * every handle has closed (the loop must run after this call). */
void lx_upstream_ctx_free(struct lx_upstream_ctx *ctx);

typedef void lx_upstream_head_cb(struct lx_upstream *up, int status, const struct lx_header *h,
                                 size_t n);
/* Return LX_OK, or LX_EPAUSE to stop reading until lx_upstream_resume(). Any other error
 * aborts the transfer (on_done gets it). */
typedef int lx_upstream_data_cb(struct lx_upstream *up, struct lx_str chunk);
typedef void lx_upstream_done_cb(struct lx_upstream *up, const struct lx_err *err); /* NULL = ok */

struct lx_upstream_req {
    struct lx_str method, url;        /* url: "https://host[:port]/path?query" */
    const struct lx_header *headers;  /* Host, Content-Length and Connection are added */
    size_t n_headers;
    struct lx_str body;               /* borrowed: must outlive the transfer */
    unsigned connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms; /* 0 = ctx default */
};

struct lx_upstream_cbs {
    lx_upstream_head_cb *on_head;
    lx_upstream_data_cb *on_data; /* body bytes with chunked framing removed */
    lx_upstream_done_cb *on_done; /* exactly once; err NULL = complete body received */
    void *data;
};

/* On LX_OK *out is set and on_done fires exactly once, later. On error nothing started. The
 * request (url, headers, body) is copied or must outlive the transfer as documented above. */
int lx_upstream_start(struct lx_upstream_ctx *ctx, const struct lx_upstream_req *req,
                      const struct lx_upstream_cbs *cbs, struct lx_upstream **out);
void lx_upstream_resume(struct lx_upstream *up); /* after on_data returned LX_EPAUSE */
void lx_upstream_cancel(struct lx_upstream *up); /* on_done still fires, rc LX_ECANCELED */
void *lx_upstream_data(const struct lx_upstream *up);

#endif /* LX_UPSTREAM_H */
