/* server.c - the server: configuration defaults, the listening sockets (one per worker, with
 * SO_REUSEPORT, all bound in lx_server_new), the worker threads and their loops, the
 * connection cap from RLIMIT_NOFILE, signals and the drain.
 *
 * Ownership: the caller owns the struct lx_server (lx_server_new/lx_server_free); the server
 * owns its workers; each worker's loop thread owns everything on that loop. Cross-thread
 * traffic is limited to the atomics in struct lx_server and uv_async_send (lx_server_stop). */
#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/log.h"
#include "server/server_int.h"

#define LX_LISTEN_BACKLOG 1024

void lx_server_config_default(struct lx_server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->workers = 0;
    lx_http1_limits_default(&c->limits);
    c->header_timeout_ms = 10000;
    c->body_idle_timeout_ms = 30000;
    c->keepalive_timeout_ms = 60000;
    c->send_timeout_ms = 60000;
    c->drain_timeout_ms = 30000;
    c->write_high_water = 64 * 1024;
    c->write_max = 1024 * 1024;
    c->max_connections = 0;
}

/* Raises the soft RLIMIT_NOFILE to the hard one and returns the connection cap: 45% of it,
 * since each proxied stream also needs an upstream socket, plus room for files. */
static unsigned connection_cap(void)
{
    struct rlimit rl;
    rlim_t lim;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    lim = rl.rlim_cur;
    if (lim == RLIM_INFINITY || lim > 4u * 1024 * 1024)
        lim = 4u * 1024 * 1024;
    return lim < 64 ? 16 : (unsigned)(lim * 45 / 100);
}

static int parse_host(const char *host, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return LX_OK;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return LX_OK;
    return LX_EINVAL;
}

/* SO_REUSEPORT lets a second server (same user) bind a port that is already served, and the
 * kernel would then split the traffic between them. A bind without it fails if anything
 * listens there, so try that first. */
static int port_free(const struct sockaddr_storage *ss, struct lx_err *err)
{
    int one = 1, rc = LX_OK;
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return LX_OK; /* the real bind reports it */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 && errno == EADDRINUSE) {
        lx_err_set(err, LX_ESYS, 500, "listen: %s", strerror(errno));
        rc = LX_ESYS;
    }
    close(fd);
    return rc;
}

static int bind_socket(const struct sockaddr_storage *ss, int *out, struct lx_err *err)
{
    int one = 1;
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        lx_err_set(err, LX_ESYS, 500, "socket: %s", strerror(errno));
        return LX_ESYS;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, LX_LISTEN_BACKLOG) != 0) {
        lx_err_set(err, LX_ESYS, 500, "listen: %s", strerror(errno));
        close(fd);
        return LX_ESYS;
    }
    *out = fd;
    return LX_OK;
}

struct lx_server *lx_server_new(const struct lx_server_config *c, struct lx_err *err)
{
    struct lx_server *s;
    struct sockaddr_storage ss;

    if (c->handler == NULL || c->host == NULL || strlen(c->host) >= sizeof(s->host) ||
        c->port > 65535) {
        lx_err_set(err, LX_EINVAL, 500, "server: invalid configuration");
        return NULL;
    }
    if (parse_host(c->host, c->port, &ss) != LX_OK) {
        lx_err_set(err, LX_EINVAL, 500, "server: host must be an IPv4 or IPv6 address");
        return NULL;
    }
    if (c->port != 0 && port_free(&ss, err) != LX_OK)
        return NULL;
    s = lx_xcalloc(1, sizeof(*s));
    s->cfg = *c;
    memcpy(s->host, c->host, strlen(c->host) + 1);
    s->cfg.host = s->host;
    if (s->cfg.write_high_water == 0)
        s->cfg.write_high_water = 64 * 1024;
    if (s->cfg.write_max < s->cfg.write_high_water)
        s->cfg.write_max = s->cfg.write_high_water;
    s->n_workers = c->workers ? c->workers : uv_available_parallelism();
    if (s->n_workers == 0)
        s->n_workers = 1;
    s->max_conns = connection_cap();
    if (c->max_connections && c->max_connections < s->max_conns)
        s->max_conns = c->max_connections;
    s->arena_max = (uint64_t)LX_MIN(c->limits.max_body, (uint64_t)1 << 32) * 4 + 8 * 1024 * 1024;
    s->workers = lx_xcalloc(s->n_workers, sizeof(*s->workers));
    s->port = c->port;
    for (unsigned i = 0; i < s->n_workers; i++)
        s->workers[i].fd = -1;
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct lx_worker *w = &s->workers[i];

        w->srv = s;
        w->index = i;
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)s->port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)s->port);
        if (bind_socket(&ss, &w->fd, err) != LX_OK) {
            lx_server_free(s);
            return NULL;
        }
        if (s->port == 0) {
            struct sockaddr_storage got;
            socklen_t len = sizeof(got);

            getsockname(w->fd, (struct sockaddr *)&got, &len);
            s->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                      : ((struct sockaddr_in *)&got)->sin_port);
        }
    }
    return s;
}

unsigned lx_server_port(const struct lx_server *s)
{
    return s->port;
}

/* ---- the worker loop ---- */

static void close_if_open(uv_handle_t *h)
{
    if (h->loop != NULL && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Once stopping and nothing is left on this loop: worker_stop, then close our handles so
 * uv_run returns (after whatever worker_stop closes). */
void lx__worker_maybe_finish(struct lx_worker *w)
{
    if (w->finished || w->stop == LX_STOP_NONE || w->n_conns > 0 || w->n_reqs > 0)
        return;
    w->finished = true;
    if (w->srv->cfg.worker_stop != NULL)
        w->srv->cfg.worker_stop(w->data);
    close_if_open((uv_handle_t *)&w->async);
    close_if_open((uv_handle_t *)&w->prepare);
    close_if_open((uv_handle_t *)&w->check);
    close_if_open((uv_handle_t *)&w->drain_timer);
    if (w->signals) {
        close_if_open((uv_handle_t *)&w->sig_term);
        close_if_open((uv_handle_t *)&w->sig_int);
    }
}

static void run_deferred(struct lx_worker *w)
{
    lx__conn_process_pending(w);
    if (lx__link_empty(&w->pending)) {
        uv_prepare_stop(&w->prepare);
        uv_check_stop(&w->check);
    }
    if (w->stop != LX_STOP_NONE)
        lx__worker_maybe_finish(w);
}

static void on_prepare(uv_prepare_t *h)
{
    run_deferred(h->data);
}

static void on_check(uv_check_t *h)
{
    run_deferred(h->data);
}

/* Deferred work is run right after this loop's poll phase (check) and, for work queued by
 * timers or close callbacks, before the next poll (prepare): never later than the current
 * loop iteration, and never inside a caller's lx_http_* call. */
void lx__worker_poke(struct lx_worker *w)
{
    if (w->finished)
        return; /* the handles are closed */
    uv_prepare_start(&w->prepare, on_prepare);
    uv_check_start(&w->check, on_check);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct lx_worker *w = listener->data;

    if (status < 0) {
        lx_logf(LX_LOG_WARN, "accept: %s", uv_strerror(status));
        return;
    }
    lx__conn_accept(w);
}

static void for_each_conn(struct lx_worker *w, bool final)
{
    struct lx__link *l = w->conns.next;

    while (l != &w->conns) {
        struct lx__link *next = l->next; /* closing never unlinks at once (close callbacks) */
        lx__conn_drain(LX_CONTAINER_OF(l, struct lx_conn, link), final);
        l = next;
    }
}

static void on_drain_timer(uv_timer_t *t)
{
    struct lx_worker *w = t->data;

    if (w->n_conns > 0)
        lx_logf(LX_LOG_WARN, "drain timeout: aborting %u open connection(s) on worker %u",
                w->n_conns, w->index);
    w->drain_expired = true;
    for_each_conn(w, true);
    lx__worker_poke(w);
}

/* Acts on the stop level requested in srv->stop, once per level. */
static void worker_apply_stop(struct lx_worker *w)
{
    int level = atomic_load(&w->srv->stop);

    if (level <= (int)w->stop || w->finished)
        return;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, NULL); /* new connections are refused at once */
        w->listening = false;
    }
    w->stop = (enum lx_stop_level)level;
    if (level == LX_STOP_DRAIN) {
        uv_timer_start(&w->drain_timer, on_drain_timer, w->srv->cfg.drain_timeout_ms, 0);
        for_each_conn(w, false);
    } else {
        uv_timer_stop(&w->drain_timer);
        for_each_conn(w, true);
    }
    lx__worker_poke(w);
}

static void on_async(uv_async_t *a)
{
    worker_apply_stop(a->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct lx_server *s = h->data;
    int n = atomic_fetch_add(&s->signals, 1) + 1;

    if (n == 1) {
        struct lx_logline l;
        if (lx_log_begin(&l, LX_LOG_INFO, "signal: draining")) {
            lx_log_int(&l, "signal", signum);
            lx_log_uint(&l, "drain_timeout_ms", s->cfg.drain_timeout_ms);
            lx_log_end(&l);
        }
        lx_server_stop(s, false);
    } else {
        lx_logf(LX_LOG_WARN, "second signal %d: exiting now", signum);
        _exit(1);
    }
}

static void worker_main(void *arg)
{
    struct lx_worker *w = arg;

    if (w->srv->cfg.worker_start != NULL)
        w->data = w->srv->cfg.worker_start(&w->loop, w->index, w->srv->cfg.data);
    worker_apply_stop(w); /* a stop that came before the loop ran */
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static int worker_init(struct lx_worker *w, bool signals)
{
    int rc = uv_loop_init(&w->loop);

    if (rc != 0)
        return rc;
    lx__link_init(&w->conns);
    lx__link_init(&w->pending);
    w->read_buf = lx_xmalloc(LX_SERVER_READ_BUF);
    w->date_sec = -1;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, w->fd);
    if (rc != 0)
        return rc;
    w->fd = -1; /* the handle owns it now */
    rc = uv_listen((uv_stream_t *)&w->listener, LX_LISTEN_BACKLOG, on_connection);
    if (rc != 0)
        return rc;
    w->listening = true;
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = w;
    uv_prepare_init(&w->loop, &w->prepare);
    w->prepare.data = w;
    uv_check_init(&w->loop, &w->check);
    w->check.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    if (signals) {
        w->signals = true;
        uv_signal_init(&w->loop, &w->sig_term);
        uv_signal_init(&w->loop, &w->sig_int);
        w->sig_term.data = w->srv;
        w->sig_int.data = w->srv;
        uv_signal_start(&w->sig_term, on_signal, SIGTERM);
        uv_signal_start(&w->sig_int, on_signal, SIGINT);
    }
    return 0;
}

static void worker_release(struct lx_worker *w)
{
    if (w->read_buf == NULL)
        return; /* never initialized */
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        w->listening = false;
    }
    if (!w->finished) {
        /* run() failed part-way: close what worker_init opened */
        w->stop = LX_STOP_NOW;
        w->finished = true;
        close_if_open((uv_handle_t *)&w->async);
        close_if_open((uv_handle_t *)&w->prepare);
        close_if_open((uv_handle_t *)&w->check);
        close_if_open((uv_handle_t *)&w->drain_timer);
        if (w->signals) {
            close_if_open((uv_handle_t *)&w->sig_term);
            close_if_open((uv_handle_t *)&w->sig_int);
        }
    }
    uv_run(&w->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&w->loop) != 0)
        lx_logf(LX_LOG_WARN, "worker %u: loop closed with open handles", w->index);
    free(w->read_buf);
    w->read_buf = NULL;
}

int lx_server_run(struct lx_server *s, bool handle_signals)
{
    struct sigaction sa;
    struct lx_logline l;
    unsigned started = 0;
    int rc = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN; /* a write to a closed socket must fail, not kill us */
    sigaction(SIGPIPE, &sa, NULL);
    for (unsigned i = 0; i < s->n_workers && rc == 0; i++)
        rc = worker_init(&s->workers[i], handle_signals && i == 0);
    if (rc != 0) {
        lx_logf(LX_LOG_ERROR, "server: worker setup failed: %s", uv_strerror(rc));
        for (unsigned i = 0; i < s->n_workers; i++)
            worker_release(&s->workers[i]);
        return LX_ESYS;
    }
    atomic_store(&s->started, true);
    if (lx_log_begin(&l, LX_LOG_INFO, "listening")) {
        lx_log_cstr(&l, "host", s->host);
        lx_log_uint(&l, "port", s->port);
        lx_log_uint(&l, "workers", s->n_workers);
        lx_log_uint(&l, "max_connections", s->max_conns);
        lx_log_end(&l);
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        if (uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]) != 0) {
            lx_logf(LX_LOG_ERROR, "server: cannot start worker thread %u", i);
            lx_server_stop(s, true);
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        uv_thread_join(&s->workers[i].thread);
    atomic_store(&s->started, false); /* the async handles are closed: no more sends */
    for (unsigned i = 0; i < s->n_workers; i++)
        worker_release(&s->workers[i]);
    lx_logf(LX_LOG_INFO, "server stopped");
    return started == s->n_workers ? LX_OK : LX_ESYS;
}

void lx_server_stop(struct lx_server *s, bool immediate)
{
    int want = immediate ? LX_STOP_NOW : LX_STOP_DRAIN;
    int cur = atomic_load(&s->stop);

    while (cur < want && !atomic_compare_exchange_weak(&s->stop, &cur, want))
        ;
    if (!atomic_load(&s->started))
        return; /* each worker checks s->stop before its loop runs */
    for (unsigned i = 0; i < s->n_workers; i++)
        uv_async_send(&s->workers[i].async);
}

void lx_server_free(struct lx_server *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->n_workers; i++) {
        if (s->workers[i].fd >= 0)
            close(s->workers[i].fd);
    }
    free(s->workers);
    free(s);
}
