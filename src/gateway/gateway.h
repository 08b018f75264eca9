/* gateway.h - the request pipeline: the route table of endpoints and the relay of a client's
 * request to the provider and back. It ties server/ (client side) and upstream/ (provider
 * side) together; everything here runs on the loop thread of the request.
 *
 * struct lx_gateway is built once at start from the command line / configuration, is
 * immutable afterwards and shared by every worker. Each worker (loop) gets its own
 * struct lx_gateway_worker with its upstream connection pools. */
#ifndef LX_GATEWAY_H
#define LX_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "core/err.h"
#include "core/str.h"
#include "server/server.h"
#include "upstream/upstream.h"

struct lx_gateway_config {
    const char *upstream_base;     /* "https://api.openai.com/v1"; its path prefixes routes */
    const char *upstream_key;      /* sent as "Authorization: Bearer"; may be NULL; never logged */
    struct lx_upstream_config upstream;
    size_t max_response_body;      /* non-streamed upstream body cap (default 64 MiB) */
    size_t max_sse_event;          /* one upstream SSE event (default 4 MiB) */
};

struct lx_gateway;
struct lx_gateway_worker;

void lx_gateway_config_default(struct lx_gateway_config *c);
/* NULL + err on a bad configuration (e.g. an upstream URL that is not http(s)). The strings of
 * c are copied. */
struct lx_gateway *lx_gateway_new(const struct lx_gateway_config *c, struct lx_err *err);
void lx_gateway_free(struct lx_gateway *gw);

/* server/ hooks: worker_start's data is the struct lx_gateway. */
void *lx_gateway_worker_start(uv_loop_t *loop, unsigned index, void *gw);
void lx_gateway_worker_stop(void *worker);
void lx_gateway_handle(struct lx_http_req *req);

#endif /* LX_GATEWAY_H */
