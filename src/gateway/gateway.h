/* gateway.h - the request pipeline: the route table of endpoints and the relay of a client's
 * request to the provider and back. It ties server/ (client side) and upstream/ (provider
 * side) together; everything here runs on the loop thread of the request.
 *
 * struct lx_gateway holds the current configuration snapshot (config/config.h) in a slot:
 * every request takes a reference when it starts and keeps it to its end, so a reload
 * (lx_gateway_reload, on SIGHUP) never changes a request in flight. Each worker (loop) gets
 * its own struct lx_gateway_worker with its upstream connection pools. */
#ifndef LX_GATEWAY_H
#define LX_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config/config.h"
#include "core/err.h"
#include "core/str.h"
#include "server/server.h"
#include "upstream/upstream.h"

struct lx_gateway_config {
    struct lx_upstream_config upstream; /* CA file and default timeouts for every loop */
    size_t max_response_body;           /* non-streamed upstream body cap (default 64 MiB) */
    size_t max_sse_event;               /* one upstream SSE event (default 4 MiB) */
};

struct lx_gateway;
struct lx_gateway_worker;

void lx_gateway_config_default(struct lx_gateway_config *c);
/* Takes cfg's reference. NULL + err on a bad setting (an unreadable CA file). */
struct lx_gateway *lx_gateway_new(const struct lx_gateway_config *c, struct lx_config *cfg,
                                  struct lx_err *err);
/* Any thread: requests from now on use cfg (takes its reference); those in flight finish on
 * the snapshot they started with. */
void lx_gateway_reload(struct lx_gateway *gw, struct lx_config *cfg);
void lx_gateway_free(struct lx_gateway *gw);

/* server/ hooks: worker_start's data is the struct lx_gateway. */
void *lx_gateway_worker_start(uv_loop_t *loop, unsigned index, void *gw);
void lx_gateway_worker_stop(void *worker);
void lx_gateway_handle(struct lx_http_req *req);

#endif /* LX_GATEWAY_H */
