/* server.h - the inbound HTTP/1.1 server: N worker threads, each with its own libuv loop and
 * its own SO_REUSEPORT listening socket; connections, keep-alive, pipelining (answered in
 * order), limits, timeouts, back-pressure and draining on shutdown.
 *
 * Ownership: the server owns every struct lx_http_req. It calls the handler once a request's
 * head and whole body are in (the body is buffered, bounded by max_body). From then on the
 * handler side owns the *response*: it must call lx_http_resp_end() exactly once, also after
 * an abort; after that call `req` is gone. Everything here runs on the request's loop
 * thread; nothing is called from inside another lx_http_* function (callbacks are deferred).
 *
 * Aborts: if the client goes away, a write or send timeout fails, or the drain timeout of a
 * shutdown passes, the server calls on_abort (set with lx_http_req_on_abort) once with the
 * reason (LX_ECLOSED, LX_ETIMEDOUT, LX_ESHUTDOWN; a send queue pushed past write_max counts
 * as LX_ECLOSED). After LX_ECLOSED/LX_ETIMEDOUT writes are
 * dropped; after LX_ESHUTDOWN writes still go out (so a stream can end with an error event).
 * The handler then cancels its work and calls lx_http_resp_end(). */
#ifndef LX_SERVER_H
#define LX_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/header.h"
#include "core/str.h"
#include "server/http1.h"

struct lx_server;
struct lx_http_req;

typedef void lx_http_handler_cb(struct lx_http_req *req);
typedef void lx_http_abort_cb(struct lx_http_req *req, int reason);
typedef void lx_http_drain_cb(struct lx_http_req *req);
/* Per worker: runs on the worker's thread before it accepts; the result is handed back by
 * lx_http_req_worker(). stop runs on the same thread after the loop has no requests left. */
typedef void *lx_worker_start_cb(uv_loop_t *loop, unsigned index, void *server_data);
typedef void lx_worker_stop_cb(void *worker_data);

struct lx_server_config {
    const char *host;            /* "127.0.0.1", "::1", "0.0.0.0" */
    unsigned port;
    unsigned workers;            /* 0 = number of CPUs */
    struct lx_http1_limits limits;
    unsigned header_timeout_ms;    /* whole header section (default 10 s) */
    unsigned body_idle_timeout_ms; /* between body reads (default 30 s) */
    unsigned keepalive_timeout_ms; /* idle between requests (default 60 s) */
    unsigned send_timeout_ms;      /* no write progress while bytes are queued (default 60 s) */
    unsigned drain_timeout_ms;     /* SIGTERM: in-flight requests get this long (default 30 s) */
    size_t write_high_water;       /* queued bytes above which lx_http_resp_queued() is "full" */
    size_t write_max;              /* a slow reader's queue cap: past it the conn is aborted */
    unsigned max_connections;      /* 0 = from RLIMIT_NOFILE */
    /* EOF from the client while the handler has its request: false (default) = a half-close,
     * the request is still answered unless its response has started; true = always an abort
     * (on_abort LX_ECLOSED), which notices a vanished client before the first byte is sent
     * but breaks clients that half-close and wait. See docs/internals/server.md. */
    bool abort_on_eof;
    lx_http_handler_cb *handler;
    lx_worker_start_cb *worker_start; /* may be NULL */
    lx_worker_stop_cb *worker_stop;   /* may be NULL */
    void *data;                       /* passed to worker_start */
};

void lx_server_config_default(struct lx_server_config *c);

/* Binds every worker's socket (so a port in use fails here, not later). NULL + err filled on
 * failure. */
struct lx_server *lx_server_new(const struct lx_server_config *c, struct lx_err *err);
/* Starts the workers and blocks until the server has stopped (after lx_server_stop and the
 * drain). Installs SIGTERM/SIGINT handling when handle_signals is true: the first signal
 * drains, a second exits at once. Returns LX_OK or an error. */
int lx_server_run(struct lx_server *s, bool handle_signals);
/* Any thread, async-signal-safe: begin a drain (immediate=false) or stop now. */
void lx_server_stop(struct lx_server *s, bool immediate);
void lx_server_free(struct lx_server *s);
unsigned lx_server_port(const struct lx_server *s); /* the bound port (useful with port 0) */

/* The request. Slices stay valid until lx_http_resp_end(). */
const struct lx_http1_head *lx_http_req_head(const struct lx_http_req *req);
struct lx_str lx_http_req_body(const struct lx_http_req *req);
struct lx_str lx_http_req_header(const struct lx_http_req *req, struct lx_str name);
struct lx_arena *lx_http_req_arena(struct lx_http_req *req); /* freed after resp_end */
uv_loop_t *lx_http_req_loop(const struct lx_http_req *req);
void *lx_http_req_worker(const struct lx_http_req *req);     /* worker_start's result */
void lx_http_req_set_data(struct lx_http_req *req, void *data);
void *lx_http_req_data(const struct lx_http_req *req);
struct lx_str lx_http_req_peer(const struct lx_http_req *req); /* "127.0.0.1:53422" */
void lx_http_req_on_abort(struct lx_http_req *req, lx_http_abort_cb *cb);
/* Called when the queued bytes fall below half the high-water mark after having been above. */
void lx_http_req_on_drain(struct lx_http_req *req, lx_http_drain_cb *cb);

/* The response. content_length -1 means unknown: chunked on HTTP/1.1, close-delimited on
 * HTTP/1.0. The server adds Date, Content-Length or Transfer-Encoding, and Connection. */
int lx_http_resp_start(struct lx_http_req *req, int status, const struct lx_header *h, size_t n,
                       int64_t content_length);
/* Copies data into the connection's send queue; LX_ECLOSED once the client is gone (or the
 * queue would pass write_max: the abort follows from the loop), LX_EINVAL before resp_start
 * or past the announced Content-Length. Bytes leave at the end of the loop iteration. */
int lx_http_resp_write(struct lx_http_req *req, struct lx_str data);
size_t lx_http_resp_queued(const struct lx_http_req *req);
bool lx_http_resp_full(const struct lx_http_req *req); /* queued >= write_high_water */
bool lx_http_resp_started(const struct lx_http_req *req);
/* Ends the response (terminating chunk if chunked). If the response was never started, a 500
 * is sent. abort_conn=true closes the connection without a clean end (a broken upstream
 * stream on a chunked response must not look complete). */
void lx_http_resp_end(struct lx_http_req *req, bool abort_conn);
/* One-shot: start + write + end. */
void lx_http_resp_simple(struct lx_http_req *req, int status, struct lx_str content_type,
                         struct lx_str body);

#endif /* LX_SERVER_H */
