/* conn.c - one client connection: accept, read into the lx_http1 parser, hand complete
 * requests to the handler one at a time (pipelined ones wait, paused, in conn->in), the
 * timeouts, the send queue and its flush, back-pressure, aborts, lingering close and drain.
 *
 * Ownership: the worker owns the connection (worker->conns) until its three handles are
 * closed. The request being read belongs to the connection; once dispatched it belongs to the
 * handler until lx_http_resp_end(). If the connection goes first, req->conn is set to NULL and
 * the request lives on alone. Every function runs on the connection's loop thread. Work that
 * must not run inside an lx_http_* call (parsing what follows a response, flushing, deferred
 * aborts) is queued with lx__conn_mark() and done by lx__conn_process_pending() from the
 * worker's prepare/check handles, within the same loop iteration.
 *
 * States (enum lx_conn_state; see docs/internals/server.md for the diagram):
 * IDLE -> HEAD -> BODY -> HANDLER -> IDLE (keep-alive) or CLOSING -> LINGER -> CLOSED. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/log.h"
#include "core/time.h"
#include "server/server_int.h"

enum timer_kind { T_NONE = 0, T_HEADER, T_BODY, T_IDLE, T_LINGER };

static void conn_process(struct lx_conn *c);
static void conn_settle(struct lx_conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* How much a connection buffers while the handler has its request or while the answers to
 * earlier pipelined requests are above the high-water mark. Past it the connection stops
 * reading until those are done. */
static size_t in_max(const struct lx_server *srv)
{
    return srv->cfg.limits.max_header_bytes + 64 * 1024;
}

static bool parseable(const struct lx_conn *c)
{
    return c->state == LX_CONN_IDLE || c->state == LX_CONN_HEAD || c->state == LX_CONN_BODY;
}

size_t lx__conn_queued(const struct lx_conn *c)
{
    return c->out.len + (c->writing ? c->wbuf.len : 0);
}

void lx__conn_mark(struct lx_conn *c)
{
    if (c->state == LX_CONN_CLOSED)
        return;
    if (lx__link_empty(&c->pending_link))
        lx__link_add(&c->w->pending, &c->pending_link);
    lx__worker_poke(c->w);
}

void lx__req_free(struct lx_http_req *req)
{
    struct lx_worker *w = req->w;

    lx_arena_free(req->arena);
    lx_buf_release(&req->body);
    free(req);
    w->n_reqs--;
    if (w->stop != LX_STOP_NONE)
        lx__worker_poke(w); /* the loop may be able to finish now */
}

/* ---- timers ---- */

static void read_timer_set(struct lx_conn *c, int kind, unsigned ms);
static void on_read_timer(uv_timer_t *t);

static int timer_kind_of(const struct lx_conn *c)
{
    return c->timer_kind;
}

static void read_timer_set(struct lx_conn *c, int kind, unsigned ms)
{
    c->timer_kind = (unsigned char)kind;
    if (kind == T_NONE)
        uv_timer_stop(&c->read_timer);
    else
        uv_timer_start(&c->read_timer, on_read_timer, ms ? ms : 1, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lx_conn *c = h->data;
    struct lx_worker *w;

    if (--c->handles_open > 0)
        return;
    w = c->w;
    lx_http1_free(c->parser);
    lx_buf_release(&c->in);
    lx_buf_release(&c->out);
    lx_buf_release(&c->wbuf);
    lx__link_del(&c->link);
    w->n_conns--;
    atomic_fetch_sub(&w->srv->n_conns, 1);
    free(c);
    if (w->stop != LX_STOP_NONE)
        lx__worker_poke(w);
}

/* Closes now, dropping what is queued. A request the handler still has is detached (the
 * caller has called on_abort, or does so right after). */
void lx__conn_close(struct lx_conn *c)
{
    if (c->state == LX_CONN_CLOSED)
        return;
    if (c->req != NULL) {
        if (c->state == LX_CONN_HANDLER) {
            c->req->conn = NULL; /* writes from now on return LX_ECLOSED */
            if (c->req->aborted == LX_OK)
                c->req->aborted = LX_ECLOSED;
        }
        else
            lx__req_free(c->req); /* never seen by the handler */
        c->req = NULL;
    }
    c->state = LX_CONN_CLOSED;
    lx__link_del(&c->pending_link);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->read_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->send_timer, on_handle_closed);
}

void lx__conn_abort(struct lx_conn *c, int reason)
{
    struct lx_http_req *req = c->req;

    if (c->state == LX_CONN_CLOSED)
        return;
    if (req != NULL && c->state == LX_CONN_HANDLER && req->aborted == LX_OK) {
        struct lx_logline l;

        c->req = NULL;
        req->conn = NULL;
        req->aborted = reason;
        lx__conn_close(c);
        if (lx_log_begin(&l, LX_LOG_INFO, "request aborted")) {
            lx_log_cstr(&l, "reason", lx_err_name(reason));
            lx_log_str(&l, "path", req->head.path);
            lx_log_end(&l);
        }
        if (req->on_abort != NULL)
            req->on_abort(req, reason); /* may end (and free) req */
        return;
    }
    lx__conn_close(c);
}

static void on_send_timer(uv_timer_t *t)
{
    struct lx_conn *c = t->data;

    lx_logf(LX_LOG_INFO, "send timeout: client stopped reading");
    lx__conn_abort(c, LX_ETIMEDOUT);
}

/* ---- parser callbacks ---- */

static struct lx_str dup_str(struct lx_arena *a, struct lx_str s, bool *ok)
{
    struct lx_str d;

    if (s.ptr == NULL)
        return LX_STR_NULL;
    d = lx_arena_dup(a, s);
    if (d.ptr == NULL)
        *ok = false;
    return d;
}

static int on_head(void *ctx, const struct lx_http1_head *head)
{
    struct lx_conn *c = ctx;
    struct lx_server *srv = c->w->srv;
    struct lx_http_req *req = lx_xcalloc(1, sizeof(*req));
    struct lx_header *hs = NULL;
    bool ok = true;

    req->w = c->w;
    req->conn = c;
    c->fresh = false;
    c->w->n_reqs++;
    lx_buf_init(&req->body, (size_t)LX_MIN(srv->cfg.limits.max_body, (uint64_t)SIZE_MAX - 1));
    c->req = req;
    req->arena = lx_arena_new(0, srv->arena_max);
    if (req->arena == NULL)
        return LX_ENOMEM;
    req->head = *head;
    req->head.method = dup_str(req->arena, head->method, &ok);
    req->head.target = dup_str(req->arena, head->target, &ok);
    req->head.path = dup_str(req->arena, head->path, &ok);
    req->head.query = dup_str(req->arena, head->query, &ok);
    req->head.host = dup_str(req->arena, head->host, &ok);
    if (head->n_headers > 0) {
        hs = lx_arena_alloc(req->arena, head->n_headers * sizeof(*hs));
        if (hs == NULL)
            return LX_ENOMEM;
        for (size_t i = 0; i < head->n_headers; i++) {
            hs[i].name = dup_str(req->arena, head->headers[i].name, &ok);
            hs[i].value = dup_str(req->arena, head->headers[i].value, &ok);
        }
    }
    req->head.headers = hs;
    if (!ok)
        return LX_ENOMEM;
    req->is_head = lx_str_eq(req->head.method, LX_STR("HEAD"));
    /* one allocation for a declared body, but not more than 1 MiB up front for bytes that
     * may never come; beyond that the buffer doubles as they arrive */
    if (!head->chunked && head->content_length > 0 &&
        lx_buf_grow(&req->body, (size_t)LX_MIN(head->content_length, 1024 * 1024)) != LX_OK)
        return req->body.err;
    if (head->expect_continue && (head->chunked || head->content_length > 0)) {
        lx_buf_append_cstr(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        lx__conn_mark(c);
    }
    return LX_OK;
}

static int on_body(void *ctx, struct lx_str chunk)
{
    struct lx_conn *c = ctx;

    return lx_buf_append_str(&c->req->body, chunk);
}

static int on_complete(void *ctx, const struct lx_http1_head *head)
{
    (void)ctx;
    (void)head;
    return LX_EPAUSE; /* one request at a time: answers go out in order */
}

static const struct lx_http1_cbs parser_cbs = {on_head, on_body, on_complete};

/* ---- reading and parsing ---- */

static void parse_error(struct lx_conn *c, int rc)
{
    int status = c->parser ? lx_http1_error_status(c->parser) : 0;
    const char *reason = c->parser && status ? lx_http1_error_reason(c->parser) : NULL;

    if (status == 0)
        status = rc == LX_ETOOBIG ? 413 : rc == LX_ENOMEM ? 503 : 400;
    if (c->req != NULL) {
        lx__req_free(c->req);
        c->req = NULL;
    }
    if (lx_log_enabled(LX_LOG_DEBUG))
        lx_logf(LX_LOG_DEBUG, "request rejected: %d %s", status, reason ? reason : "");
    lx__conn_error_response(c, status, reason);
    c->state = LX_CONN_CLOSING;
}

static void dispatch(struct lx_conn *c)
{
    struct lx_http_req *req = c->req;
    struct lx_worker *w = c->w;

    c->state = LX_CONN_HANDLER;
    read_timer_set(c, T_NONE, 0);
    req->keep_alive = req->head.keep_alive && w->stop == LX_STOP_NONE;
    w->srv->cfg.handler(req); /* may end the response before it returns */
}

/* Feeds bytes to the parser until they are used up, the connection stops being parseable
 * (a request went to the handler and is not finished, or an error). Returns bytes used; the
 * caller keeps the rest for later (or drops it if the connection is closing). */
static size_t conn_feed(struct lx_conn *c, const char *data, size_t len)
{
    size_t total = 0;

    while (total < len && parseable(c)) {
        size_t used = 0;
        int rc;

        if (c->parser == NULL) {
            c->parser = lx_http1_new(&c->w->srv->cfg.limits, &parser_cbs, c);
            if (c->parser == NULL) {
                parse_error(c, LX_ENOMEM);
                return len;
            }
        }
        if (c->paused && lx__conn_queued(c) >= c->w->srv->cfg.write_high_water) {
            /* answers to pipelined requests pile up unread: parse more once they drain */
            c->resume = true;
            break;
        }
        if (c->paused) {
            lx_http1_resume(c->parser);
            c->paused = false;
        }
        rc = lx_http1_feed(c->parser, data + total, len - total, &used);
        total += used;
        if (rc == LX_EPAUSE) {
            c->paused = true;
            dispatch(c);
            continue;
        }
        if (rc != LX_OK) {
            parse_error(c, rc);
            return len;
        }
        if (used == 0)
            break;
    }
    return total;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void start_reading(struct lx_conn *c)
{
    if (!c->reading && !c->eof && c->state != LX_CONN_CLOSED) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    }
}

/* Parses what is buffered in c->in, then settles timers and closing. */
static void conn_process(struct lx_conn *c)
{
    if (c->in.len > 0 && parseable(c)) {
        size_t used = conn_feed(c, c->in.ptr, c->in.len);
        if (c->state == LX_CONN_CLOSING || c->state == LX_CONN_LINGER)
            lx_buf_reset(&c->in);
        else
            lx_buf_consume(&c->in, used);
    }
    if (c->state != LX_CONN_CLOSED && c->in.len < in_max(c->w->srv))
        start_reading(c);
    conn_settle(c);
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
    struct lx_conn *c = r->data;

    if (c->state == LX_CONN_CLOSED)
        return;
    if (status < 0 || c->eof)
        lx__conn_close(c);
}

/* All queued bytes are out: send FIN, then read and drop until the peer's FIN (so our
 * response is not destroyed by a reset when unread request bytes are still arriving). */
static void begin_linger(struct lx_conn *c)
{
    if (c->eof || c->w->stop != LX_STOP_NONE) {
        /* the peer is done sending, or we are shutting down and do not wait for it */
        lx__conn_close(c);
        return;
    }
    c->state = LX_CONN_LINGER;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        lx__conn_close(c);
        return;
    }
    start_reading(c);
    read_timer_set(c, T_LINGER, LX_SERVER_LINGER_MS);
}

/* Brings timers and the state in line with what the parser and the queue say. */
static void conn_settle(struct lx_conn *c)
{
    const struct lx_server_config *cfg = &c->w->srv->cfg;

    if (parseable(c)) {
        bool in_msg = c->parser != NULL && lx_http1_in_message(c->parser);

        if (c->req != NULL)
            c->state = LX_CONN_BODY;
        else if (in_msg)
            c->state = LX_CONN_HEAD;
        else
            c->state = LX_CONN_IDLE;
        if (c->eof && c->in.len == 0) {
            /* the peer is done sending: a cut message gets no answer (corpus rule 22) */
            if (c->parser != NULL)
                lx_http1_finish(c->parser);
            if (c->req != NULL) {
                lx__req_free(c->req);
                c->req = NULL;
            }
            c->state = LX_CONN_CLOSING;
        } else if (c->state == LX_CONN_IDLE && c->w->stop != LX_STOP_NONE) {
            c->state = LX_CONN_CLOSING; /* draining: no new requests */
        }
    }
    switch (c->state) {
    case LX_CONN_IDLE:
        if (c->fresh) {
            if (timer_kind_of(c) != T_HEADER)
                read_timer_set(c, T_HEADER, cfg->header_timeout_ms);
        } else if (timer_kind_of(c) != T_IDLE) {
            read_timer_set(c, T_IDLE, cfg->keepalive_timeout_ms);
        }
        if (c->in.len == 0) {
            /* at rest: keep no parser and no buffers (memory per idle connection) */
            lx_http1_free(c->parser);
            c->parser = NULL;
            c->paused = false;
            lx_buf_release(&c->in);
            if (!c->writing)
                lx_buf_release(&c->wbuf);
            if (c->out.len == 0)
                lx_buf_release(&c->out);
        }
        break;
    case LX_CONN_HEAD:
        if (timer_kind_of(c) != T_HEADER)
            read_timer_set(c, T_HEADER, cfg->header_timeout_ms);
        break;
    case LX_CONN_BODY:
        read_timer_set(c, T_BODY, cfg->body_idle_timeout_ms); /* restarted on every read */
        break;
    case LX_CONN_HANDLER:
        if (timer_kind_of(c) != T_NONE)
            read_timer_set(c, T_NONE, 0);
        break;
    case LX_CONN_CLOSING:
        if (timer_kind_of(c) != T_NONE)
            read_timer_set(c, T_NONE, 0);
        if (lx__conn_queued(c) == 0)
            begin_linger(c);
        break;
    default:
        break;
    }
}

static void on_read_timer(uv_timer_t *t)
{
    struct lx_conn *c = LX_CONTAINER_OF(t, struct lx_conn, read_timer);

    switch (c->state) {
    case LX_CONN_HEAD:
    case LX_CONN_BODY:
        if (c->req != NULL) {
            lx__req_free(c->req);
            c->req = NULL;
        }
        read_timer_set(c, T_NONE, 0);
        lx__conn_error_response(c, 408, "request timed out");
        c->state = LX_CONN_CLOSING;
        conn_settle(c);
        break;
    case LX_CONN_IDLE:
        if (lx__conn_queued(c) > 0) {
            /* still sending the last answer: the send timeout governs, not keep-alive */
            read_timer_set(c, T_IDLE, c->w->srv->cfg.keepalive_timeout_ms);
            break;
        }
        lx__conn_close(c); /* idle keep-alive or a fresh silent client: a quiet close */
        break;
    default:
        lx__conn_close(c); /* linger over */
        break;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct lx_conn *c = h->data;

    (void)suggested;
    /* one buffer per loop: libuv calls alloc, read, read_cb in a row for one stream */
    *buf = uv_buf_init(c->w->read_buf, LX_SERVER_READ_BUF);
}

static void on_eof(struct lx_conn *c)
{
    c->eof = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    switch (c->state) {
    case LX_CONN_HANDLER:
        /* A half-close after a complete request still wants its answer (corpus "eof"
         * cases), so EOF before the response starts is not an abort. Once the response
         * is streaming, EOF means the client went away. */
        if (c->req != NULL && (c->req->started || c->w->srv->cfg.abort_on_eof))
            lx__conn_abort(c, LX_ECLOSED);
        break;
    case LX_CONN_LINGER:
        lx__conn_close(c);
        break;
    case LX_CONN_CLOSING:
        break; /* on_shutdown or the flush closes */
    default:
        conn_process(c);
        break;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lx_conn *c = s->data;
    size_t n = (size_t)nread;

    if (nread == 0 || c->state == LX_CONN_CLOSED)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            on_eof(c);
        else
            lx__conn_abort(c, LX_ECLOSED);
        return;
    }
    if (c->state == LX_CONN_CLOSING || c->state == LX_CONN_LINGER)
        return; /* no more requests on this connection: drop */
    if (c->state == LX_CONN_HANDLER || c->in.len > 0) {
        lx_buf_append(&c->in, buf->base, n);
        if (c->in.err != LX_OK) {
            lx__conn_abort(c, LX_ECLOSED);
            return;
        }
        if (c->in.len >= in_max(c->w->srv)) {
            uv_read_stop(s);
            c->reading = false;
        }
        if (c->state != LX_CONN_HANDLER)
            conn_process(c);
        return;
    }
    size_t used = conn_feed(c, buf->base, n);
    if (used < n && (c->state == LX_CONN_HANDLER || parseable(c))) {
        lx_buf_append(&c->in, buf->base + used, n - used);
        if (c->in.err != LX_OK) {
            lx__conn_abort(c, LX_ECLOSED);
            return;
        }
    }
    if (c->in.len >= in_max(c->w->srv)) {
        uv_read_stop(s);
        c->reading = false;
    }
    conn_settle(c);
}

/* ---- writing ---- */

static void after_progress(struct lx_conn *c)
{
    struct lx_http_req *req = c->req;
    const struct lx_server_config *cfg = &c->w->srv->cfg;
    size_t queued = lx__conn_queued(c);

    if (queued == 0) {
        uv_timer_stop(&c->send_timer);
        c->send_timer_on = false;
    } else {
        uv_timer_start(&c->send_timer, on_send_timer, cfg->send_timeout_ms, 0);
        c->send_timer_on = true;
    }
    if (c->resume && queued < cfg->write_high_water)
        lx__conn_mark(c); /* pipelined requests were held back by the queue */
    if (req != NULL && c->state == LX_CONN_HANDLER && req->was_full &&
        queued < cfg->write_high_water / 2) {
        req->was_full = false;
        if (req->on_drain != NULL)
            req->on_drain(req); /* may write or end the response */
    }
}

static void on_write(uv_write_t *wr, int status)
{
    struct lx_conn *c = wr->data;

    c->writing = false;
    if (c->state == LX_CONN_CLOSED)
        return;
    if (status < 0) {
        lx__conn_abort(c, LX_ECLOSED);
        return;
    }
    if (c->wbuf.cap > 64 * 1024)
        lx_buf_release(&c->wbuf);
    else
        lx_buf_reset(&c->wbuf);
    lx__conn_mark(c); /* flush what queued meanwhile; settle */
    after_progress(c);
}

int lx__conn_flush(struct lx_conn *c)
{
    uv_buf_t b;
    int n;
    struct lx_buf tmp;

    if (c->writing || c->out.len == 0 || c->state == LX_CONN_CLOSED)
        return LX_OK;
    b = uv_buf_init(c->out.ptr, (unsigned)c->out.len);
    n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0)
        return LX_ECLOSED;
    if ((size_t)n == c->out.len) {
        if (c->out.cap > 64 * 1024)
            lx_buf_release(&c->out);
        else
            lx_buf_reset(&c->out);
        after_progress(c);
        return LX_OK;
    }
    lx_buf_consume(&c->out, (size_t)n);
    /* hand the rest to uv_write; new bytes queue in the (swapped-in, empty) out buffer */
    tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    b = uv_buf_init(c->wbuf.ptr, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0)
        return LX_ECLOSED;
    c->writing = true;
    if (!c->send_timer_on || n > 0) {
        uv_timer_start(&c->send_timer, on_send_timer, c->w->srv->cfg.send_timeout_ms, 0);
        c->send_timer_on = true;
    }
    return LX_OK;
}

void lx__conn_process_pending(struct lx_worker *w)
{
    while (!lx__link_empty(&w->pending)) {
        struct lx_conn *c = LX_CONTAINER_OF(w->pending.next, struct lx_conn, pending_link);

        lx__link_del(&c->pending_link);
        if (c->abort_reason != LX_OK) {
            int reason = c->abort_reason;
            c->abort_reason = LX_OK;
            lx__conn_abort(c, reason);
            continue;
        }
        if (c->resume && parseable(c)) {
            c->resume = false;
            conn_process(c); /* the next pipelined request, if any */
            if (c->state == LX_CONN_CLOSED)
                continue;
        }
        if (lx__conn_flush(c) != LX_OK) {
            lx__conn_abort(c, LX_ECLOSED);
            continue;
        }
        if (c->state == LX_CONN_CLOSING)
            conn_settle(c);
    }
}

/* ---- accept and drain ---- */

static void on_reject_closed(uv_handle_t *h)
{
    free(h);
}

void lx__conn_accept(struct lx_worker *w)
{
    struct lx_server *srv = w->srv;
    unsigned n = atomic_fetch_add(&srv->n_conns, 1);
    struct lx_conn *c;

    if (n >= srv->max_conns || w->stop != LX_STOP_NONE) {
        uv_tcp_t *t = lx_xmalloc(sizeof(*t));
        uint64_t now = uv_now(&w->loop);

        atomic_fetch_sub(&srv->n_conns, 1);
        uv_tcp_init(&w->loop, t);
        uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, on_reject_closed);
        if (now - w->cap_log_ms >= 1000 || w->cap_log_ms == 0) {
            struct lx_logline l;
            w->cap_log_ms = now ? now : 1;
            if (lx_log_begin(&l, LX_LOG_WARN, "connection cap reached: closing new connection")) {
                lx_log_uint(&l, "max_connections", srv->max_conns);
                lx_log_uint(&l, "worker", w->index);
                lx_log_end(&l);
            }
        }
        return;
    }
    c = lx_xcalloc(1, sizeof(*c));
    c->w = w;
    lx__link_init(&c->pending_link);
    lx_buf_init(&c->in, in_max(srv) + LX_SERVER_READ_BUF);
    lx_buf_init(&c->out, (size_t)-2);
    lx_buf_init(&c->wbuf, (size_t)-2);
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->read_timer);
    uv_timer_init(&w->loop, &c->send_timer);
    c->tcp.data = c;
    c->read_timer.data = c;
    c->send_timer.data = c;
    c->handles_open = 3;
    lx__link_add(&w->conns, &c->link);
    w->n_conns++;
    c->fresh = true;
    c->state = LX_CONN_IDLE;
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        lx__conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    if (!c->reading) {
        lx__conn_close(c);
        return;
    }
    conn_settle(c);
}

/* Shutdown. Drain (final=false): idle connections close, others finish their request.
 * Drain timeout (final=true): requests still with the handler get on_abort(LX_ESHUTDOWN) and
 * may still write; everything else closes. Immediate (w->stop == LX_STOP_NOW): all close,
 * handlers get on_abort(LX_ESHUTDOWN) with writes dropped. */
void lx__conn_drain(struct lx_conn *c, bool final)
{
    struct lx_http_req *req = c->req;

    if (c->state == LX_CONN_CLOSED)
        return;
    if (c->state == LX_CONN_HANDLER && req != NULL) {
        req->keep_alive = false;
        if (c->w->stop == LX_STOP_NOW) {
            lx__conn_abort(c, LX_ESHUTDOWN);
        } else if (final && req->aborted == LX_OK) {
            req->aborted = LX_ESHUTDOWN;
            if (req->on_abort != NULL)
                req->on_abort(req, LX_ESHUTDOWN); /* writes still go out */
        }
        return;
    }
    if (final || c->w->stop == LX_STOP_NOW || c->state == LX_CONN_LINGER) {
        lx__conn_close(c);
    } else if (c->state == LX_CONN_IDLE) {
        /* nothing of a next request has come: close now, no lingering; bytes of an answer
         * still queued for a slow reader go out first */
        if (lx__conn_queued(c) == 0) {
            lx__conn_close(c);
        } else {
            c->state = LX_CONN_CLOSING;
            c->eof = true; /* close right after the flush, without lingering */
            lx__conn_mark(c);
        }
    }
}
