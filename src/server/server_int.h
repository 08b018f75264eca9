/* server_int.h - what server.c, conn.c and resp.c share inside src/server/: the server, its
 * workers (one loop thread each), connections and requests. Nothing here is API.
 *
 * Ownership: a worker owns its connections (list `conns`); a connection owns its current
 * request until the handler is given it; from then on the request lives until
 * lx_http_resp_end(), even if the connection closes first (req->conn is then NULL). All of it
 * runs on the worker's loop thread, except the atomics of struct lx_server. */
#ifndef LX_SERVER_INT_H
#define LX_SERVER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"
#include "server/http1.h"
#include "server/server.h"

/* Circular intrusive doubly linked list (libuv QUEUE): an empty list points at itself. */
struct lx__link {
    struct lx__link *prev, *next;
};

static inline void lx__link_init(struct lx__link *l)
{
    l->prev = l->next = l;
}
static inline bool lx__link_empty(const struct lx__link *l)
{
    return l->next == l;
}
static inline void lx__link_add(struct lx__link *head, struct lx__link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}
static inline void lx__link_del(struct lx__link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    lx__link_init(l);
}

enum lx_stop_level { LX_STOP_NONE = 0, LX_STOP_DRAIN, LX_STOP_NOW };

#define LX_SERVER_READ_BUF (64 * 1024) /* one per loop, shared by every connection */
#define LX_SERVER_LINGER_MS 2000       /* discard reads this long after our FIN */
#define LX_SERVER_DATE_LEN 29          /* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct lx_worker {
    struct lx_server *srv;
    unsigned index;
    int fd; /* the bound listening socket until uv_tcp_open takes it */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t async;       /* carries lx_server_stop() to this loop */
    uv_prepare_t prepare;   /* flushes batched writes and deferred work before poll */
    uv_check_t check;       /* ... and right after poll */
    uv_timer_t drain_timer; /* drain_timeout_ms after the drain began */
    uv_signal_t sig_term, sig_int; /* worker 0 only, when handle_signals */
    uv_thread_t thread;
    void *data; /* worker_start's result */
    struct lx__link conns;   /* every open connection */
    struct lx__link pending; /* connections with bytes to flush or work to resume */
    unsigned n_conns, n_reqs;
    enum lx_stop_level stop; /* what this loop has acted on */
    bool listening, finished, signals, drain_expired;
    uint64_t cap_log_ms; /* last "connection cap" log line, rate-limited */
    int64_t date_sec;
    char date[LX_SERVER_DATE_LEN + 1];
    char *read_buf;
};

struct lx_server {
    struct lx_server_config cfg;
    char host[64];
    unsigned port, n_workers, max_conns;
    struct lx_worker *workers;
    atomic_uint n_conns;  /* across workers, for the cap */
    atomic_int stop;      /* enum lx_stop_level requested */
    atomic_int signals;   /* SIGTERM/SIGINT seen */
    atomic_bool started;  /* every worker's async handle is initialized */
    uint64_t arena_max;
};

enum lx_conn_state {
    LX_CONN_IDLE = 0, /* between requests: nothing of the next one received */
    LX_CONN_HEAD,     /* part of a request head received */
    LX_CONN_BODY,     /* head done, body being buffered */
    LX_CONN_HANDLER,  /* the handler has the request; parser paused */
    LX_CONN_CLOSING,  /* no more requests: flush what is queued, then FIN */
    LX_CONN_LINGER,   /* FIN sent: discard reads until EOF or LX_SERVER_LINGER_MS */
    LX_CONN_CLOSED,   /* uv_close() called; freed when the handles are closed */
    LX_CONN_STATE_MAX
};

struct lx_conn {
    struct lx__link link;         /* worker->conns */
    struct lx__link pending_link; /* worker->pending when queued for deferred work */
    struct lx_worker *w;
    enum lx_conn_state state;
    uv_tcp_t tcp;
    uv_timer_t read_timer; /* header / body idle / keep-alive / linger */
    uv_timer_t send_timer; /* no write progress while bytes are queued */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    unsigned handles_open;         /* freed when it reaches 0 */
    struct lx_http1_parser *parser; /* lazily made at a request's first byte */
    struct lx_buf in;               /* received, not yet parsed (pipelining, during handler) */
    struct lx_buf out;              /* queued, not yet handed to uv_write */
    struct lx_buf wbuf;             /* handed to uv_write, in flight */
    struct lx_http_req *req;        /* the request being read or answered */
    int abort_reason;               /* deferred abort (write_max), LX_OK when none */
    bool fresh;                     /* no request seen yet on this connection */
    bool eof;                       /* the peer sent FIN */
    bool writing;                   /* wreq in flight */
    bool reading;                   /* uv_read_start active */
    bool paused;                    /* the parser is paused after on_complete */
    bool resume;                    /* a response ended: parse what follows */
    bool send_timer_on;
    unsigned char timer_kind; /* which timeout read_timer runs (conn.c) */
};

struct lx_http_req {
    struct lx_conn *conn; /* NULL once the connection is gone */
    struct lx_worker *w;
    struct lx_arena *arena;
    struct lx_http1_head head; /* slices in the arena */
    struct lx_buf body;
    void *data;
    lx_http_abort_cb *on_abort;
    lx_http_drain_cb *on_drain;
    uint64_t remaining; /* Content-Length responses: bytes still owed */
    int aborted;        /* the reason given to on_abort, LX_OK if none */
    bool started, chunked, no_body, close_delimited, keep_alive, was_full, length_known;
    bool is_head;
};

/* conn.c */
void lx__conn_accept(struct lx_worker *w);
void lx__conn_process_pending(struct lx_worker *w);
void lx__conn_mark(struct lx_conn *c);          /* queue for flush / resume this iteration */
void lx__conn_abort(struct lx_conn *c, int reason); /* on_abort + close now */
void lx__conn_drain(struct lx_conn *c, bool final); /* shutdown: close idle, or all if final */
void lx__conn_close(struct lx_conn *c);
void lx__req_free(struct lx_http_req *req);

/* resp.c */
size_t lx__conn_queued(const struct lx_conn *c);
int lx__conn_flush(struct lx_conn *c); /* hand queued bytes to the socket */
void lx__conn_error_response(struct lx_conn *c, int status, const char *msg);
/* Formats the head of a response into b. Pure, for tests. */
int lx__resp_head(struct lx_buf *b, int status, const struct lx_header *h, size_t n,
                  const char *date, int64_t content_length, bool chunked, bool keep_alive,
                  bool http10);
const char *lx__status_reason(int status);
void lx__format_http_date(int64_t unix_sec, char out[LX_SERVER_DATE_LEN + 1]);
const char *lx__worker_date(struct lx_worker *w);

/* server.c */
void lx__worker_maybe_finish(struct lx_worker *w);
void lx__worker_poke(struct lx_worker *w); /* run lx__conn_process_pending this iteration */

#endif /* LX_SERVER_INT_H */
