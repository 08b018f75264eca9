/* upstream.c - the HTTP/1.1 client to providers: per-loop context, keep-alive pools per origin,
 * async DNS with a short cache, TCP connect with address fallback, HTTP CONNECT proxies, TLS
 * through OpenSSL memory BIOs, the four timeouts, back-pressure and cancel.
 *
 * Ownership: the ctx owns origins (pool + TLS session), the DNS cache and every connection.
 * A struct lx_upstream (one request) belongs to its caller until on_done returns; it borrows a
 * connection while it runs and hands it back to the pool only after a complete keep-alive
 * response. Everything runs on the ctx's loop thread. User callbacks never run inside an
 * lx_upstream_*() call: while one is on the stack (ctx->in_api) completions go through a
 * deferred queue run by a uv_idle handle. See docs/internals/upstream.md. */
#include "upstream/upstream.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"
#include "upstream/upstream_int.h"

#define MAX_ADDRS 8
#define MAX_REQ_HEAD (1u << 20)
#define MAX_PROXY_HEAD 8192
#define MAX_PENDING (4u * READ_BUF) /* bytes held while paused: at most one read */
#define READ_BUF 65536

struct lx_upstream_ctx;
struct conn;

/* An IPv4 or IPv6 address: 28 bytes where sockaddr_storage takes 128, which matters because
 * every request in flight carries MAX_ADDRS of them (memory per open stream). */
union sockaddr_ip {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct origin {
    struct origin *next;
    char *key;         /* "https://host:port" plus "|proxy" when tunnelled */
    struct conn *idle; /* most recently used first */
    unsigned n_idle;
    SSL_SESSION *session; /* for resumption; owned */
};

struct dns_entry {
    struct dns_entry *next;
    char *host;
    uint16_t port;
    uint64_t expires;
    size_t n;
    union sockaddr_ip addrs[MAX_ADDRS];
};

struct dns_job { /* outlives a canceled request: the callback always comes */
    uv_getaddrinfo_t req;
    struct lx_upstream *up; /* NULL once the request is gone */
    char *host;
    uint16_t port;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* pool idle expiry */
    uv_connect_t creq;
    uv_write_t wreq; /* the plain request write */
    struct lx_upstream_ctx *ctx;
    struct origin *origin;
    struct conn *next; /* idle list */
    struct lx_upstream *up;
    SSL *ssl;
    BIO *rbio, *wbio; /* memory BIOs: network -> OpenSSL, OpenSSL -> network */
    int handles;      /* open uv handles; freed at 0 */
    unsigned writes;  /* uv_writes in flight: a conn with one is never pooled */
    unsigned requests;
    bool tls, tls_done, idle, closing, reading;
};

struct tls_write {
    uv_write_t w;
    struct conn *c;
    bool last; /* the end of a request */
    size_t len;
    char data[];
};

enum up_state {
    UP_RESOLVE = 0, /* waiting for DNS */
    UP_CONNECT,     /* TCP connect */
    UP_PROXY,       /* CONNECT sent to the proxy, reading its answer */
    UP_TLS,         /* TLS handshake */
    UP_SEND,        /* request being written */
    UP_WAIT,        /* written, waiting for the first response byte */
    UP_BODY,        /* response bytes arriving */
    UP_DONE,        /* finished; on_done called or queued */
};

struct lx_upstream {
    struct lx_upstream_ctx *ctx;
    struct lx_upstream_cbs cbs;
    struct lx_upstream *next, *prev; /* ctx->active */
    struct lx_upstream *qnext;       /* ctx deferred queue */
    enum up_state state;
    struct origin *origin;
    struct conn *conn;
    struct dns_job *dns;
    char *url; /* owned copy; u's slices point into it */
    struct lx__upstream_url u;
    bool via_proxy;
    struct lx_buf head; /* the request head */
    struct lx_str body; /* borrowed */
    struct lx__upstream_resp resp;
    struct lx_buf pending; /* bytes held back while paused, and the proxy answer */
    uv_timer_t timer;      /* connect, then first byte, then idle */
    uv_timer_t total;
    unsigned connect_ms, first_byte_ms, idle_ms, total_ms;
    uint64_t last_read_ms; /* loop time of the last body read (lazy idle timer) */
    bool idle_armed;       /* the phase timer is the idle timer */
    union sockaddr_ip addrs[MAX_ADDRS];
    size_t n_addrs, addr_i;
    struct lx_err err;
    int handles;
    bool failed, queued, done_queued, resume_queued, paused, reused, retried, got_byte, written;
};

struct lx_upstream_ctx {
    uv_loop_t *loop;
    struct lx_upstream_config cfg;
    char *no_proxy;
    bool have_https_proxy, have_http_proxy;
    struct lx__upstream_proxy https_px, http_px;
    char *https_px_url, *http_px_url; /* owned: the proxies' slices point into these */
    SSL_CTX *ssl_ctx;
    bool trust_loaded; /* ssl_ctx has its trust store (ensure_trust) */
    char *ca_file;     /* owned copy of cfg.ca_file */
    struct origin *origins;
    struct dns_entry *dns;
    struct lx_upstream *active;
    struct lx_upstream *q_head, *q_tail;
    uv_idle_t idle;
    unsigned refs; /* conns + dns jobs + requests + the idle handle */
    int in_api;
    bool closing, idle_closed;
    char rbuf[READ_BUF];
    char tbuf[READ_BUF]; /* decrypted bytes */
};

static void up_done(struct lx_upstream *up);
static void up_fail(struct lx_upstream *up, int rc, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conn_close(struct conn *c);
static void up_connect_next(struct lx_upstream *up);
static void up_send(struct lx_upstream *up);
static void conn_drive_tls(struct conn *c);
static bool up_feed(struct lx_upstream *up, const char *p, size_t n, bool from_pending);
static void queue_run(uv_idle_t *h);
static int up_resolve(struct lx_upstream *up);
static void up_resume_now(struct lx_upstream *up);

/* ---- context lifetime ---- */

static void ctx_unref(struct lx_upstream_ctx *ctx)
{
    if (--ctx->refs > 0 || !ctx->closing)
        return;
    for (struct origin *o = ctx->origins, *next; o != NULL; o = next) {
        next = o->next;
        SSL_SESSION_free(o->session);
        free(o->key);
        free(o);
    }
    for (struct dns_entry *d = ctx->dns, *next; d != NULL; d = next) {
        next = d->next;
        free(d->host);
        free(d);
    }
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->no_proxy);
    free(ctx->ca_file);
    free(ctx->https_px_url);
    free(ctx->http_px_url);
    free(ctx);
}

static void on_idle_closed(uv_handle_t *h) { ctx_unref(h->data); }

static void maybe_close_idle_handle(struct lx_upstream_ctx *ctx)
{
    if (ctx->closing && !ctx->idle_closed && ctx->q_head == NULL && ctx->active == NULL) {
        ctx->idle_closed = true;
        uv_close((uv_handle_t *)&ctx->idle, on_idle_closed);
    }
}

static void queue_push(struct lx_upstream *up)
{
    struct lx_upstream_ctx *ctx = up->ctx;

    if (up->queued)
        return;
    up->queued = true;
    up->qnext = NULL;
    if (ctx->q_tail)
        ctx->q_tail->qnext = up;
    else
        ctx->q_head = up;
    ctx->q_tail = up;
    uv_idle_start(&ctx->idle, queue_run);
}

static const char *env2(const char *lower, const char *upper)
{
    const char *v = getenv(lower);

    if (v == NULL || *v == '\0')
        v = getenv(upper);
    return v != NULL && *v != '\0' ? v : NULL;
}

void lx_upstream_config_default(struct lx_upstream_config *c)
{
    memset(c, 0, sizeof(*c));
    c->connect_timeout_ms = 5000;
    c->first_byte_timeout_ms = 120000;
    c->idle_timeout_ms = 60000;
    c->total_timeout_ms = 600000;
    c->pool_idle_ms = 60000;
    c->max_idle_per_origin = 64;
    c->dns_ttl_ms = 30000;
    c->max_response_head = 65536;
}

/* Stores the TLS 1.2 session or TLS 1.3 ticket of a connection in its origin. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct conn *c = SSL_get_app_data(ssl);

    if (c == NULL || c->origin == NULL)
        return 0;
    SSL_SESSION_free(c->origin->session);
    c->origin->session = sess;
    return 1; /* we keep the reference */
}

/* The trust store, loaded once per process on the first TLS connection and shared by every
 * loop's SSL_CTX (X509_STORE is reference-counted and safe to share once built). Parsing the
 * system bundle costs 30-60 ms; done at start by every worker it was most of llmux's
 * start-up time, for a store that an http:// upstream never needs. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *shared_store; /* the last store built; replaced when its source changes */
static char shared_key[1024];    /* where the store came from: kind, dir, file, inode, size, mtime */

static void store_key(const char *ca_file, char *key, size_t n)
{
    struct stat st;

    const char *env_dir = getenv(X509_get_default_cert_dir_env());
    const char *file = ca_file;

    if (file == NULL) { /* the system store follows SSL_CERT_FILE / SSL_CERT_DIR */
        file = getenv(X509_get_default_cert_file_env());
        if (file == NULL)
            file = X509_get_default_cert_file();
    }
    if (stat(file, &st) != 0)
        memset(&st, 0, sizeof(st));
    snprintf(key, n, "%s|%s|%s|%llu|%lld|%lld.%09ld", ca_file ? "file" : "system",
             ca_file ? "" : (env_dir ? env_dir : "-"), file, (unsigned long long)st.st_ino,
             (long long)st.st_size, (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

/* A reference to the trust store for ca_file (NULL = the system store), or NULL. */
static X509_STORE *trust_store_get(const char *ca_file)
{
    X509_STORE *st = NULL;
    char key[sizeof(shared_key)];

    store_key(ca_file, key, sizeof(key));
    pthread_mutex_lock(&store_lock);
    if (shared_store != NULL && strcmp(key, shared_key) == 0) {
        st = shared_store;
        X509_STORE_up_ref(st);
        goto out;
    }
    st = X509_STORE_new();
    if (st == NULL)
        goto out;
    if ((ca_file != NULL && X509_STORE_load_file(st, ca_file) != 1) ||
        (ca_file == NULL && X509_STORE_set_default_paths(st) != 1)) {
        X509_STORE_free(st);
        st = NULL;
        goto out;
    }
    X509_STORE_free(shared_store); /* SSL_CTXs using the old one keep their references */
    shared_store = st;
    X509_STORE_up_ref(st);
    memcpy(shared_key, key, sizeof(key));
out:
    pthread_mutex_unlock(&store_lock);
    return st;
}

/* Gives ctx its trust store on first use. LX_OK or LX_ETLS. */
static int ensure_trust(struct lx_upstream_ctx *ctx)
{
    X509_STORE *st;

    if (ctx->trust_loaded || ctx->cfg.insecure_skip_verify)
        return LX_OK;
    st = trust_store_get(ctx->cfg.ca_file);
    if (st == NULL) {
        ERR_clear_error();
        return LX_ETLS;
    }
    SSL_CTX_set_cert_store(ctx->ssl_ctx, st); /* takes our reference */
    ctx->trust_loaded = true;
    return LX_OK;
}

static int setup_tls(struct lx_upstream_ctx *ctx, struct lx_err *err)
{
    ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (ctx->ssl_ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, on_new_session);
    if (ctx->cfg.insecure_skip_verify) {
        lx_logf(LX_LOG_WARN, "upstream: TLS peer verification is OFF (insecure_skip_verify)");
        SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
        /* the store itself is loaded on the first TLS connection (ensure_trust); a CA file
         * that cannot be read is still refused here, at start */
        if (ctx->cfg.ca_file != NULL && access(ctx->cfg.ca_file, R_OK) != 0)
            goto fail;
    }
    if (SSL_CTX_set_alpn_protos(ctx->ssl_ctx, (const unsigned char *)"\x08http/1.1", 9) != 0)
        goto fail;
    return LX_OK;
fail : {
    const char *why = ERR_reason_error_string(ERR_peek_last_error());

    lx_err_set(err, LX_ETLS, 500, "upstream TLS setup failed (CA file %s): %s",
               ctx->cfg.ca_file ? ctx->cfg.ca_file : "system store", why ? why : "?");
}
    ERR_clear_error();
    return LX_ETLS;
}

static int setup_proxy(const char *url, struct lx__upstream_proxy *px, char **owned, bool *have,
                       struct lx_err *err)
{
    if (url == NULL || *url == '\0')
        return LX_OK;
    *owned = lx_xstrndup(url, strlen(url));
    if (lx__upstream_proxy_parse(*owned, px) != LX_OK) {
        lx_err_set(err, LX_EINVAL, 500, "bad proxy URL (only http:// proxies are supported)");
        return LX_EINVAL;
    }
    *have = true;
    return LX_OK;
}

struct lx_upstream_ctx *lx_upstream_ctx_new(uv_loop_t *loop, const struct lx_upstream_config *c,
                                            struct lx_err *err)
{
    struct lx_upstream_ctx *ctx = lx_xcalloc(1, sizeof(*ctx));
    struct lx_upstream_config def;
    const char *v;

    lx_upstream_config_default(&def);
    if (c == NULL)
        c = &def;
    ctx->loop = loop;
    ctx->cfg = *c;
    if (c->ca_file != NULL) /* read again on the first TLS connection: keep our own copy */
        ctx->cfg.ca_file = ctx->ca_file = lx_xstrndup(c->ca_file, strlen(c->ca_file));
    /* 0 means "the default" for every number */
    ctx->cfg.connect_timeout_ms =
        c->connect_timeout_ms ? c->connect_timeout_ms : def.connect_timeout_ms;
    ctx->cfg.first_byte_timeout_ms =
        c->first_byte_timeout_ms ? c->first_byte_timeout_ms : def.first_byte_timeout_ms;
    ctx->cfg.idle_timeout_ms = c->idle_timeout_ms ? c->idle_timeout_ms : def.idle_timeout_ms;
    ctx->cfg.total_timeout_ms = c->total_timeout_ms ? c->total_timeout_ms : def.total_timeout_ms;
    ctx->cfg.pool_idle_ms = c->pool_idle_ms ? c->pool_idle_ms : def.pool_idle_ms;
    ctx->cfg.max_idle_per_origin =
        c->max_idle_per_origin ? c->max_idle_per_origin : def.max_idle_per_origin;
    ctx->cfg.dns_ttl_ms = c->dns_ttl_ms ? c->dns_ttl_ms : def.dns_ttl_ms;
    ctx->cfg.max_response_head =
        c->max_response_head ? c->max_response_head : def.max_response_head;
    if (setup_tls(ctx, err) != LX_OK)
        goto fail;
    /* the caller's strings are not kept: copies below; ca_file is our own copy (above) */
    ctx->cfg.ca_file = ctx->ca_file;
    ctx->cfg.https_proxy = ctx->cfg.http_proxy = ctx->cfg.no_proxy = NULL;
    v = c->https_proxy ? c->https_proxy : env2("https_proxy", "HTTPS_PROXY");
    if (setup_proxy(v, &ctx->https_px, &ctx->https_px_url, &ctx->have_https_proxy, err) != LX_OK)
        goto fail;
    v = c->http_proxy ? c->http_proxy : env2("http_proxy", "HTTP_PROXY");
    if (setup_proxy(v, &ctx->http_px, &ctx->http_px_url, &ctx->have_http_proxy, err) != LX_OK)
        goto fail;
    v = c->no_proxy ? c->no_proxy : env2("no_proxy", "NO_PROXY");
    if (v != NULL)
        ctx->no_proxy = lx_xstrndup(v, strlen(v));
    uv_idle_init(loop, &ctx->idle);
    ctx->idle.data = ctx;
    ctx->refs = 1;
    return ctx;
fail:
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->https_px_url);
    free(ctx->http_px_url);
    free(ctx->ca_file);
    free(ctx);
    return NULL;
}

void lx_upstream_ctx_free(struct lx_upstream_ctx *ctx)
{
    if (ctx == NULL || ctx->closing)
        return;
    ctx->in_api++;
    ctx->closing = true;
    for (struct lx_upstream *up = ctx->active; up != NULL; up = up->next)
        if (up->state != UP_DONE)
            up_fail(up, LX_ECANCELED, 503, "upstream context closed");
    for (struct origin *o = ctx->origins; o != NULL; o = o->next)
        while (o->idle != NULL)
            conn_close(o->idle);
    ctx->in_api--;
    maybe_close_idle_handle(ctx);
}

/* ---- deferred queue ---- */

static void queue_run(uv_idle_t *h)
{
    struct lx_upstream_ctx *ctx = h->data;
    struct lx_upstream *up = ctx->q_head;

    ctx->q_head = ctx->q_tail = NULL;
    while (up != NULL) {
        struct lx_upstream *next = up->qnext;

        up->queued = false;
        if (up->done_queued) {
            up_done(up);
        } else if (up->resume_queued) {
            up->resume_queued = false;
            up_resume_now(up);
        }
        up = next;
    }
    if (ctx->q_head == NULL)
        uv_idle_stop(&ctx->idle);
    maybe_close_idle_handle(ctx);
}

/* ---- connections ---- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    if (--c->handles > 0)
        return;
    struct lx_upstream_ctx *ctx = c->ctx;
    /* SSL_free of a connection not shut down marks its session not resumable: ours are
     * closed on purpose, so say the shutdown happened and keep the ticket usable */
    if (c->ssl != NULL && c->tls_done)
        SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl); /* frees both BIOs */
    free(c);
    ctx_unref(ctx);
}

static void pool_unlink(struct conn *c)
{
    struct conn **pp;

    if (!c->idle)
        return;
    for (pp = &c->origin->idle; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->origin->n_idle--;
    c->idle = false;
    c->next = NULL;
}

/* Closes the socket; the conn is freed once its handles have closed. Never pooled again. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    pool_unlink(c);
    if (c->up != NULL && c->up->conn == c)
        c->up->conn = NULL;
    c->up = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;

    buf->base = c->ctx->rbuf;
    buf->len = sizeof(c->ctx->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_read_start(struct conn *c)
{
    if (!c->reading && !c->closing) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

static void conn_read_stop(struct conn *c)
{
    if (c->reading) {
        c->reading = false;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void on_pool_timer(uv_timer_t *t) { conn_close(t->data); /* idle too long */ }

/* After a complete response: back to the pool when the response allowed keep-alive. */
static void conn_release(struct conn *c, bool reusable)
{
    struct lx_upstream_ctx *ctx = c->ctx;

    c->up = NULL;
    if (!reusable || c->closing || ctx->closing ||
        c->origin->n_idle >= ctx->cfg.max_idle_per_origin) {
        conn_close(c);
        return;
    }
    c->idle = true;
    c->next = c->origin->idle;
    c->origin->idle = c;
    c->origin->n_idle++;
    uv_timer_start(&c->timer, on_pool_timer, ctx->cfg.pool_idle_ms, 0);
    conn_read_start(c); /* an EOF or a stray byte while idle closes it */
}

/* ---- TLS ---- */

static void on_tls_written(uv_write_t *w, int status);

/* Sends whatever OpenSSL has produced. last: this ends a request (starts its first-byte wait).
 * Returns LX_OK or LX_ENOMEM. */
static int tls_flush(struct conn *c, bool last)
{
    size_t n = (size_t)BIO_pending(c->wbio);
    struct tls_write *tw;
    uv_buf_t b;
    int rc;

    if (n == 0)
        return LX_OK;
    tw = lx_malloc(sizeof(*tw) + n);
    if (tw == NULL)
        return LX_ENOMEM;
    tw->c = c;
    tw->last = last;
    tw->len = (size_t)BIO_read(c->wbio, tw->data, (int)n);
    b = uv_buf_init(tw->data, (unsigned)tw->len);
    rc = uv_write(&tw->w, (uv_stream_t *)&c->tcp, &b, 1, on_tls_written);
    if (rc != 0) {
        free(tw);
        return LX_ECONNRESET;
    }
    c->writes++;
    return LX_OK;
}

static const char *tls_reason(struct conn *c)
{
    long v = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_last_error();

    if (v != X509_V_OK)
        return X509_verify_cert_error_string(v);
    if (e != 0 && ERR_reason_error_string(e) != NULL)
        return ERR_reason_error_string(e);
    return "handshake failed";
}

static bool is_ip(struct lx_str host)
{
    char tmp[64];
    unsigned char addr[16];

    if (host.len >= sizeof(tmp))
        return false;
    memcpy(tmp, host.ptr, host.len);
    tmp[host.len] = '\0';
    return uv_inet_pton(AF_INET, tmp, addr) == 0 || uv_inet_pton(AF_INET6, tmp, addr) == 0;
}

static int tls_start(struct conn *c, struct lx_upstream *up)
{
    struct lx_upstream_ctx *ctx = c->ctx;
    char host[256];

    if (up->u.host.len >= sizeof(host))
        return LX_EINVAL;
    memcpy(host, up->u.host.ptr, up->u.host.len);
    host[up->u.host.len] = '\0';
    if (ensure_trust(ctx) != LX_OK)
        return LX_ETLS;
    c->ssl = SSL_new(ctx->ssl_ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        return LX_ENOMEM;
    }
    BIO_set_mem_eof_return(c->rbio, -1); /* empty means "want more", not EOF */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_app_data(c->ssl, c);
    SSL_set_connect_state(c->ssl);
    if (is_ip(up->u.host)) {
        if (!ctx->cfg.insecure_skip_verify &&
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1)
            return LX_ETLS;
    } else {
        SSL_set_tlsext_host_name(c->ssl, host);
        if (!ctx->cfg.insecure_skip_verify && SSL_set1_host(c->ssl, host) != 1)
            return LX_ETLS;
    }
    if (c->origin->session != NULL)
        SSL_set_session(c->ssl, c->origin->session);
    c->tls = true;
    return LX_OK;
}

/* Advances the handshake, then reads decrypted bytes into the request until OpenSSL wants more
 * input, the request pauses, or it ends. May close c. */
static void on_phase_timer(uv_timer_t *t);
static void phase_timer_stop(struct lx_upstream *up);

static void conn_drive_tls(struct conn *c)
{
    struct lx_upstream_ctx *ctx = c->ctx;

    if (!c->tls_done) {
        int r = SSL_do_handshake(c->ssl);

        if (tls_flush(c, false) != LX_OK) {
            if (c->up)
                up_fail(c->up, LX_ENOMEM, 502, "out of memory in TLS");
            conn_close(c);
            return;
        }
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);

            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (c->up != NULL) {
                struct lx_upstream *up = c->up;

                up_fail(up, LX_ETLS, 502, "TLS handshake with %.*s failed: %s",
                        LX_STR_FMT(up->u.host), tls_reason(c));
                up->err.retryable = true;
            }
            ERR_clear_error();
            conn_close(c);
            return;
        }
        c->tls_done = true;
        if (c->up != NULL && c->up->state == UP_TLS) {
            phase_timer_stop(c->up);
            up_send(c->up);
        }
    }
    for (;;) {
        struct lx_upstream *up = c->up;

        if (c->closing || (up != NULL && up->paused))
            return;
        int n = SSL_read(c->ssl, ctx->tbuf, (int)sizeof(ctx->tbuf));
        if (n > 0) {
            if (up == NULL || up->state < UP_SEND) { /* nothing asked for: not reusable */
                conn_close(c);
                return;
            }
            if (!up_feed(up, ctx->tbuf, (size_t)n, false))
                return;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (tls_flush(c, false) != LX_OK) {
            if (up)
                up_fail(up, LX_ENOMEM, 502, "out of memory in TLS");
            conn_close(c);
            return;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: like EOF */
            on_read((uv_stream_t *)&c->tcp, UV_EOF, NULL);
            return;
        }
        if (up != NULL)
            up_fail(up, LX_ETLS, 502, "TLS error while reading from %.*s", LX_STR_FMT(up->u.host));
        conn_close(c);
        return;
    }
}

/* ---- request lifetime ---- */

static void on_up_timer_closed(uv_handle_t *h)
{
    struct lx_upstream *up = h->data;

    if (--up->handles > 0)
        return;
    struct lx_upstream_ctx *ctx = up->ctx;
    free(up);
    ctx_unref(ctx);
}

/* Calls on_done and frees up (after its timers close). */
static void up_done(struct lx_upstream *up)
{
    struct lx_upstream_ctx *ctx = up->ctx;

    up->done_queued = false;
    if (up->prev)
        up->prev->next = up->next;
    else
        ctx->active = up->next;
    if (up->next)
        up->next->prev = up->prev;
    ctx->in_api++; /* the user's on_done may call lx_upstream_*: those defer */
    if (up->cbs.on_done)
        up->cbs.on_done(up, up->failed ? &up->err : NULL);
    ctx->in_api--;
    lx__upstream_resp_release(&up->resp);
    lx_buf_release(&up->head);
    lx_buf_release(&up->pending);
    free(up->url);
    uv_close((uv_handle_t *)&up->timer, on_up_timer_closed);
    uv_close((uv_handle_t *)&up->total, on_up_timer_closed);
    maybe_close_idle_handle(ctx);
}

/* Ends the request: stops timers, lets go of DNS and the connection (pooled when reusable),
 * then calls on_done now, or from the queue when an lx_upstream_* call is on the stack. */
static void up_finish(struct lx_upstream *up, bool reusable)
{
    struct conn *c = up->conn;

    if (up->state == UP_DONE)
        return;
    up->state = UP_DONE;
    phase_timer_stop(up);
    uv_timer_stop(&up->total);
    if (up->dns != NULL) {
        up->dns->up = NULL;
        uv_cancel((uv_req_t *)&up->dns->req);
        up->dns = NULL;
    }
    if (c != NULL) {
        up->conn = NULL;
        if (up->failed || !reusable || c->writes > 0)
            conn_close(c);
        else
            conn_release(c, true);
    }
    if (up->ctx->in_api > 0) {
        up->done_queued = true;
        queue_push(up);
    } else {
        up_done(up);
    }
}

static void up_fail(struct lx_upstream *up, int rc, int status, const char *fmt, ...)
{
    va_list ap;

    if (up->state == UP_DONE)
        return;
    up->failed = true;
    up->err.rc = rc;
    up->err.http_status = status;
    /* nothing reached us yet: the router may try elsewhere */
    up->err.retryable = !up->got_byte && rc != LX_ECANCELED && rc != LX_EINVAL;
    va_start(ap, fmt);
    vsnprintf(up->err.msg, sizeof(up->err.msg), fmt, ap);
    va_end(ap);
    up_finish(up, false);
}

static const char *state_what(enum up_state s)
{
    switch (s) {
    case UP_RESOLVE:
    case UP_CONNECT:
    case UP_PROXY:
    case UP_TLS:
        return "connect";
    case UP_SEND:
    case UP_WAIT:
        return "first byte";
    default:
        return "idle";
    }
}

static void phase_timer_start(struct lx_upstream *up, uint64_t ms)
{
    up->idle_armed = false;
    uv_timer_start(&up->timer, on_phase_timer, ms, 0);
}

static void phase_timer_stop(struct lx_upstream *up)
{
    up->idle_armed = false;
    uv_timer_stop(&up->timer);
}

/* Body bytes arrived. The idle timer is lazy (nginx's trick): a read only notes the time, and
 * the timer, when it fires, re-arms itself for what is left. Restarting a uv timer on every
 * read cost a heap removal and insertion per SSE event, the largest user-space item in the
 * streaming profile. */
static void idle_touch(struct lx_upstream *up)
{
    up->last_read_ms = uv_now(up->ctx->loop);
    if (!up->idle_armed) {
        uv_timer_start(&up->timer, on_phase_timer, up->idle_ms, 0);
        up->idle_armed = true;
    }
}

static void on_phase_timer(uv_timer_t *t)
{
    struct lx_upstream *up = t->data;

    if (up->idle_armed) {
        uint64_t idle = uv_now(up->ctx->loop) - up->last_read_ms;

        if (idle < up->idle_ms) {
            uv_timer_start(&up->timer, on_phase_timer, up->idle_ms - idle, 0);
            return;
        }
    }

    up_fail(up, LX_ETIMEDOUT, 504, "upstream %.*s: %s timeout", LX_STR_FMT(up->u.host),
            state_what(up->state));
}

static void on_total_timer(uv_timer_t *t)
{
    struct lx_upstream *up = t->data;

    up_fail(up, LX_ETIMEDOUT, 504, "upstream %.*s: total timeout", LX_STR_FMT(up->u.host));
}

/* A pooled connection that the server had closed: try once more on a fresh one. */
static bool up_retry_stale(struct lx_upstream *up)
{
    if (!up->reused || up->retried || up->got_byte || up->state == UP_DONE)
        return false;
    up->retried = true;
    up->reused = false;
    up->written = false;
    if (up->conn != NULL)
        conn_close(up->conn);
    up->conn = NULL;
    lx__upstream_resp_release(&up->resp);
    lx__upstream_resp_init(&up->resp, up->ctx->cfg.max_response_head, up->resp.head_request,
                           up->resp.on_head, up->resp.on_data, up);
    up->state = UP_CONNECT;
    phase_timer_start(up, up->connect_ms);
    if (up_resolve(up) != LX_OK)
        up_fail(up, LX_EDNS, 502, "cannot resolve %.*s", LX_STR_FMT(up->u.host));
    return true;
}

/* ---- response bytes ---- */

static int on_resp_head(void *arg, int status, const struct lx_header *h, size_t n)
{
    struct lx_upstream *up = arg;

    if (up->cbs.on_head)
        up->cbs.on_head(up, status, h, n);
    return up->state == UP_DONE ? LX_ECANCELED : LX_OK;
}

static int on_resp_data(void *arg, struct lx_str chunk)
{
    struct lx_upstream *up = arg;
    int rc = up->cbs.on_data ? up->cbs.on_data(up, chunk) : LX_OK;

    if (up->state == UP_DONE)
        return LX_ECANCELED;
    return rc;
}

/* Feeds response bytes. Returns true when the caller may feed more (the request is still
 * reading), false when it paused, ended, or failed. */
static bool up_feed(struct lx_upstream *up, const char *p, size_t n, bool from_pending)
{
    struct conn *c = up->conn;
    size_t used = 0;
    int rc;

    if (!up->got_byte) {
        up->got_byte = true;
        up->state = UP_BODY;
    }
    rc = lx__upstream_resp_feed(&up->resp, p, n, &used);
    if (up->state == UP_DONE) /* canceled from a callback */
        return false;
    if (from_pending)
        lx_buf_consume(&up->pending, used);
    if (rc == LX_EPAUSE) {
        if (!from_pending && lx_buf_append(&up->pending, p + used, n - used) != LX_OK) {
            up_fail(up, LX_ENOMEM, 502, "out of memory holding paused bytes");
            return false;
        }
        up->paused = true;
        phase_timer_stop(up); /* our reader is slow, not the server */
        conn_read_stop(c);
        return false;
    }
    if (rc != LX_OK) {
        if (rc == LX_ECANCELED)
            up_fail(up, rc, 499, "canceled");
        else if (rc == LX_EPROTO)
            up_fail(up, rc, 502, "bad response from %.*s: %s", LX_STR_FMT(up->u.host),
                    up->resp.why ? up->resp.why : "parse error");
        else
            up_fail(up, rc, 502, "response from %.*s aborted: %s", LX_STR_FMT(up->u.host),
                    lx_strerror(rc));
        return false;
    }
    if (up->resp.complete) {
        bool extra = from_pending ? up->pending.len > 0 : used < n;

        c->requests++;
        up_finish(up,
                  lx__upstream_resp_keep_alive(&up->resp) && !extra && (!c->tls || c->tls_done));
        return false;
    }
    if (!up->paused)
        idle_touch(up);
    return true;
}

static void up_resume_now(struct lx_upstream *up)
{
    struct conn *c = up->conn;

    if (!up->paused || up->state != UP_BODY || c == NULL)
        return;
    up->paused = false;
    if (up->pending.len > 0 && !up_feed(up, up->pending.ptr, up->pending.len, true))
        return;
    if (c->tls) {
        conn_drive_tls(c); /* decrypted bytes OpenSSL still holds */
        if (up->conn != c || up->paused || up->state != UP_BODY)
            return;
    }
    phase_timer_stop(up);
    idle_touch(up);
    conn_read_start(c);
}

/* ---- proxy CONNECT ---- */

static void up_after_tunnel(struct lx_upstream *up);

static void proxy_on_bytes(struct lx_upstream *up, const char *p, size_t n)
{
    struct lx_str h;
    const char *end;

    if (lx_buf_append(&up->pending, p, n) != LX_OK) {
        up_fail(up, LX_EPROTO, 502, "proxy answer too large");
        return;
    }
    h = lx_buf_str(&up->pending);
    end = NULL;
    for (size_t i = 0; i + 4 <= h.len; i++) {
        if (memcmp(h.ptr + i, "\r\n\r\n", 4) == 0) {
            end = h.ptr + i;
            break;
        }
    }
    if (end == NULL)
        return;
    if (h.len < 12 || memcmp(h.ptr, "HTTP/1.", 7) != 0 || memcmp(h.ptr + 8, " 200", 4) != 0) {
        long eol = lx_str_find_char(h, '\r');

        up_fail(up, LX_EPROTO, 502, "proxy refused CONNECT: %.*s", (int)LX_MIN(eol, 60), h.ptr);
        return;
    }
    if ((size_t)(end + 4 - h.ptr) != h.len) {
        up_fail(up, LX_EPROTO, 502, "proxy sent bytes after its CONNECT answer");
        return;
    }
    lx_buf_reset(&up->pending);
    up->pending.max = MAX_PENDING;
    up_after_tunnel(up);
}

static void on_proxy_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;

    free(w);
    if (status < 0 && c->up != NULL && c->up->conn == c)
        up_fail(c->up, LX_ECONNRESET, 502, "writing to proxy: %s", uv_strerror(status));
}

static void proxy_send_connect(struct lx_upstream *up)
{
    struct conn *c = up->conn;
    struct lx_upstream_ctx *ctx = up->ctx;
    struct lx_buf b = LX_BUF_INIT(4096);
    uv_write_t *w;
    uv_buf_t ub;

    lx_buf_appendf(&b, "CONNECT %.*s:%u HTTP/1.1\r\nHost: %.*s:%u\r\n", LX_STR_FMT(up->u.host),
                   up->u.port, LX_STR_FMT(up->u.host), up->u.port);
    if (ctx->https_px.auth_len > 0)
        lx_buf_appendf(&b, "Proxy-Authorization: Basic %.*s\r\n", (int)ctx->https_px.auth_len,
                       ctx->https_px.auth);
    lx_buf_append(&b, "\r\n", 2);
    if (b.err != LX_OK) {
        lx_buf_release(&b);
        up_fail(up, LX_EINVAL, 502, "CONNECT line too long");
        return;
    }
    /* one allocation holds the write request and the bytes */
    w = lx_xmalloc(sizeof(*w) + b.len);
    memcpy(w + 1, b.ptr, b.len);
    ub = uv_buf_init((char *)(w + 1), (unsigned)b.len);
    lx_buf_release(&b);
    w->data = c;
    up->state = UP_PROXY;
    lx_buf_reset(&up->pending);
    up->pending.max = MAX_PROXY_HEAD;
    if (uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, on_proxy_written) != 0) {
        free(w);
        up_fail(up, LX_ECONNRESET, 502, "write to proxy failed");
        return;
    }
    conn_read_start(c);
}

/* ---- sending ---- */

static void req_written(struct conn *c, int status)
{
    struct lx_upstream *up = c->up;

    if (up == NULL || up->conn != c || up->state == UP_DONE)
        return;
    if (status < 0) {
        if (!up_retry_stale(up))
            up_fail(up, LX_ECONNRESET, 502, "writing to %.*s: %s", LX_STR_FMT(up->u.host),
                    uv_strerror(status));
        return;
    }
    up->written = true;
    if (up->state == UP_SEND) {
        up->state = UP_WAIT;
        phase_timer_start(up, up->first_byte_ms);
    }
}

static void on_req_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;

    c->writes--;
    req_written(c, status);
}

static void on_tls_written(uv_write_t *w, int status)
{
    struct tls_write *tw = (struct tls_write *)w;
    struct conn *c = tw->c;
    bool last = tw->last;

    free(tw);
    c->writes--;
    if (status < 0) {
        struct lx_upstream *up = c->up;

        if (up != NULL && up->conn == c && up->state != UP_DONE) {
            if (!up_retry_stale(up))
                up_fail(up, LX_ECONNRESET, 502, "writing to %.*s: %s", LX_STR_FMT(up->u.host),
                        uv_strerror(status));
        }
        return;
    }
    if (last)
        req_written(c, 0);
}

/* Writes head + body with one writev (or through OpenSSL). The first-byte timer runs from
 * here so that a server that never reads the body cannot hold us forever. */
static void up_send(struct lx_upstream *up)
{
    struct conn *c = up->conn;
    int rc;

    up->state = UP_SEND;
    c->up = up;
    phase_timer_start(up, up->first_byte_ms);
    if (c->tls) {
        if (SSL_write(c->ssl, up->head.ptr, (int)up->head.len) <= 0 ||
            (up->body.len > 0 && SSL_write(c->ssl, up->body.ptr, (int)up->body.len) <= 0)) {
            ERR_clear_error();
            up_fail(up, LX_ETLS, 502, "TLS write failed");
            return;
        }
        rc = tls_flush(c, true);
    } else {
        uv_buf_t b[2] = {uv_buf_init(up->head.ptr, (unsigned)up->head.len),
                         uv_buf_init((char *)up->body.ptr, (unsigned)up->body.len)};

        c->wreq.data = c;
        rc =
            uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, up->body.len > 0 ? 2 : 1, on_req_written);
        if (rc == 0)
            c->writes++;
    }
    if (rc != 0) {
        if (!up_retry_stale(up))
            up_fail(up, LX_ECONNRESET, 502, "write to %.*s failed", LX_STR_FMT(up->u.host));
        return;
    }
    conn_read_start(c);
}

static void up_after_tunnel(struct lx_upstream *up)
{
    struct conn *c = up->conn;
    int rc;

    if (!up->u.tls) {
        phase_timer_stop(up);
        up_send(up);
        return;
    }
    up->state = UP_TLS;
    rc = tls_start(c, up);
    if (rc != LX_OK) {
        up_fail(up, rc, 502, "TLS setup for %.*s failed", LX_STR_FMT(up->u.host));
        return;
    }
    conn_read_start(c);
    conn_drive_tls(c);
}

/* ---- reading ---- */

static void conn_on_eof(struct conn *c, ssize_t status)
{
    struct lx_upstream *up = c->up;
    int rc;

    if (up == NULL || up->conn != c) {
        conn_close(c);
        return;
    }
    if (up->state < UP_SEND) {
        up_fail(up, LX_ECONNRESET, 502, "connection to %s closed during setup: %s",
                up->via_proxy ? "proxy" : "upstream", uv_strerror((int)status));
        return;
    }
    if (up_retry_stale(up))
        return;
    rc = lx__upstream_resp_eof(&up->resp);
    if (rc == LX_OK && status == UV_EOF) {
        up_finish(up, false); /* close-delimited body: complete */
        return;
    }
    if (rc == LX_OK)
        rc = LX_ETRUNCATED;
    if (rc == LX_ECONNRESET)
        up_fail(up, rc, 502, "%.*s closed the connection before answering", LX_STR_FMT(up->u.host));
    else if (rc == LX_ETRUNCATED)
        up_fail(up, rc, 502, "response from %.*s cut short", LX_STR_FMT(up->u.host));
    else
        up_fail(up, rc, 502, "bad response from %.*s: %s", LX_STR_FMT(up->u.host),
                up->resp.why ? up->resp.why : lx_strerror(rc));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct lx_upstream *up = c->up;

    if (c->closing)
        return;
    if (nread < 0) {
        conn_read_stop(c);
        conn_on_eof(c, nread);
        return;
    }
    if (nread == 0)
        return;
    if (c->tls) {
        if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
            if (up)
                up_fail(up, LX_ENOMEM, 502, "out of memory in TLS");
            conn_close(c);
            return;
        }
        conn_drive_tls(c); /* while idle: tickets are fine, application bytes close it */
        return;
    }
    if (up == NULL) { /* idle: the server has nothing to say to us */
        conn_close(c);
        return;
    }
    if (up->state == UP_PROXY) {
        proxy_on_bytes(up, buf->base, (size_t)nread);
        return;
    }
    up_feed(up, buf->base, (size_t)nread, false);
}

/* ---- connecting ---- */

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct lx_upstream *up = c->up;

    if (c->closing || up == NULL || up->conn != c)
        return;
    if (status < 0) {
        conn_close(c);
        up->conn = NULL;
        if (up->addr_i < up->n_addrs) {
            up_connect_next(up); /* next address of the name */
            return;
        }
        up_fail(up, status == UV_ETIMEDOUT ? LX_ETIMEDOUT : LX_ECONNREFUSED,
                status == UV_ETIMEDOUT ? 504 : 502, "connect to %s %.*s:%u failed: %s",
                up->via_proxy ? "proxy for" : "", LX_STR_FMT(up->u.host), up->u.port,
                uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (up->via_proxy && up->u.tls) {
        proxy_send_connect(up);
        return;
    }
    if (up->u.tls) {
        up_after_tunnel(up);
        return;
    }
    phase_timer_stop(up);
    up_send(up);
}

static void up_connect_next(struct lx_upstream *up)
{
    struct lx_upstream_ctx *ctx = up->ctx;
    struct conn *c;
    int rc;

    while (up->addr_i < up->n_addrs) {
        c = lx_xcalloc(1, sizeof(*c));
        c->ctx = ctx;
        c->origin = up->origin;
        uv_tcp_init(ctx->loop, &c->tcp);
        uv_timer_init(ctx->loop, &c->timer);
        c->tcp.data = c->timer.data = c->creq.data = c;
        c->handles = 2;
        ctx->refs++;
        c->up = up;
        up->conn = c;
        rc = uv_tcp_connect(&c->creq, &c->tcp, &up->addrs[up->addr_i++].sa,
                            on_connect);
        if (rc == 0) {
            up->state = UP_CONNECT;
            return;
        }
        conn_close(c);
        up->conn = NULL;
        if (up->addr_i >= up->n_addrs) {
            up_fail(up, LX_ECONNREFUSED, 502, "connect to %.*s failed: %s", LX_STR_FMT(up->u.host),
                    uv_strerror(rc));
            return;
        }
    }
    up_fail(up, LX_EDNS, 502, "no address for %.*s", LX_STR_FMT(up->u.host));
}

/* ---- DNS ---- */

static uint64_t now_ms(struct lx_upstream_ctx *ctx) { return uv_now(ctx->loop); }

static struct lx_str connect_host(struct lx_upstream *up, uint16_t *port)
{
    struct lx_upstream_ctx *ctx = up->ctx;

    if (up->via_proxy) {
        const struct lx__upstream_proxy *px = up->u.tls ? &ctx->https_px : &ctx->http_px;

        *port = px->port;
        return px->host;
    }
    *port = up->u.port;
    return up->u.host;
}

static void on_dns(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct dns_job *job = req->data;
    struct lx_upstream *up = job->up;
    struct lx_upstream_ctx *ctx = up ? up->ctx : NULL;
    struct dns_entry *d = NULL;

    if (up != NULL && status == 0) {
        up->dns = NULL;
        up->n_addrs = 0;
        for (struct addrinfo *ai = res; ai != NULL && up->n_addrs < MAX_ADDRS; ai = ai->ai_next) {
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                ai->ai_addrlen > sizeof(up->addrs[0]))
                continue;
            memcpy(&up->addrs[up->n_addrs++], ai->ai_addr, ai->ai_addrlen);
        }
        if (up->n_addrs > 0 && !ctx->closing) {
            d = lx_xcalloc(1, sizeof(*d));
            d->host = job->host;
            job->host = NULL;
            d->port = job->port;
            d->expires = now_ms(ctx) + ctx->cfg.dns_ttl_ms;
            d->n = up->n_addrs;
            memcpy(d->addrs, up->addrs, sizeof(up->addrs[0]) * up->n_addrs);
            d->next = ctx->dns;
            ctx->dns = d;
        }
    }
    uv_freeaddrinfo(res);
    if (up != NULL) {
        up->dns = NULL;
        if (status != 0 || up->n_addrs == 0)
            up_fail(up, LX_EDNS, 502, "cannot resolve %s: %s", job->host ? job->host : "host",
                    status ? uv_strerror(status) : "no address");
        else
            up_connect_next(up);
    }
    ctx = job->req.reserved[0];
    free(job->host);
    free(job);
    ctx_unref(ctx);
}

void lx__upstream_dns_seed(struct lx_upstream_ctx *ctx, const char *host, uint16_t port,
                           const struct sockaddr_storage *addrs, size_t n, unsigned ttl_ms)
{
    struct dns_entry *d = lx_xcalloc(1, sizeof(*d));

    d->host = lx_xstrndup(host, strlen(host));
    d->port = port;
    d->expires = now_ms(ctx) + ttl_ms;
    d->n = LX_MIN(n, (size_t)MAX_ADDRS);
    for (size_t i = 0; i < d->n; i++)
        memcpy(&d->addrs[i], &addrs[i], sizeof(d->addrs[i])); /* IPv4/IPv6 fit */
    d->next = ctx->dns;
    ctx->dns = d;
}

/* Resolves the connect host (cache, numeric, or uv_getaddrinfo) then connects. */
static int up_resolve(struct lx_upstream *up)
{
    struct lx_upstream_ctx *ctx = up->ctx;
    uint16_t port;
    struct lx_str host = connect_host(up, &port);
    char name[256], portstr[8];
    struct addrinfo hints;
    struct dns_job *job;
    int rc;

    if (host.len == 0 || host.len >= sizeof(name))
        return LX_EINVAL;
    memcpy(name, host.ptr, host.len);
    name[host.len] = '\0';
    up->addr_i = up->n_addrs = 0;
    if (uv_ip4_addr(name, port, &up->addrs[0].in) == 0 ||
        uv_ip6_addr(name, port, &up->addrs[0].in6) == 0) {
        up->n_addrs = 1;
        up_connect_next(up);
        return LX_OK;
    }
    for (struct dns_entry **pp = &ctx->dns, *d; (d = *pp) != NULL;) {
        if (d->expires <= now_ms(ctx)) { /* drop stale entries as we pass them */
            *pp = d->next;
            free(d->host);
            free(d);
            continue;
        }
        if (d->port == port && strcmp(d->host, name) == 0) {
            memcpy(up->addrs, d->addrs, sizeof(d->addrs[0]) * d->n);
            up->n_addrs = d->n;
            up_connect_next(up);
            return LX_OK;
        }
        pp = &d->next;
    }
    job = lx_xcalloc(1, sizeof(*job));
    job->host = lx_xstrndup(name, host.len);
    job->port = port;
    job->up = up;
    job->req.data = job;
    job->req.reserved[0] = ctx;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", port);
    rc = uv_getaddrinfo(ctx->loop, &job->req, on_dns, name, portstr, &hints);
    if (rc != 0) {
        free(job->host);
        free(job);
        return LX_EDNS;
    }
    ctx->refs++;
    up->dns = job;
    up->state = UP_RESOLVE;
    return LX_OK;
}

/* ---- the API ---- */

static bool token_ok(struct lx_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];

        if (ch <= ' ' || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch) != NULL)
            return false;
    }
    return true;
}

static bool value_ok(struct lx_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '\r' || s.ptr[i] == '\n' || s.ptr[i] == '\0')
            return false;
    return true;
}

static int build_head(struct lx_upstream *up, const struct lx_upstream_req *req)
{
    struct lx_buf *b = &up->head;
    const struct lx_upstream_ctx *ctx = up->ctx;

    if (!token_ok(req->method))
        return LX_EINVAL;
    lx_buf_append_str(b, req->method);
    lx_buf_append_char(b, ' ');
    if (up->via_proxy && !up->u.tls) { /* absolute-form through a plain proxy */
        lx_buf_append(b, "http://", 7);
        lx_buf_append_str(b, up->u.hostport);
    }
    lx_buf_append_str(b, up->u.path);
    lx_buf_append(b, " HTTP/1.1\r\nHost: ", 17);
    lx_buf_append_str(b, up->u.hostport);
    lx_buf_append(b, "\r\nContent-Length: ", 18);
    lx_buf_append_u64(b, req->body.len);
    lx_buf_append(b, "\r\n", 2);
    if (up->via_proxy && !up->u.tls && ctx->http_px.auth_len > 0)
        lx_buf_appendf(b, "Proxy-Authorization: Basic %.*s\r\n", (int)ctx->http_px.auth_len,
                       ctx->http_px.auth);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct lx_header *h = &req->headers[i];

        if (!token_ok(h->name) || !value_ok(h->value))
            return LX_EINVAL;
        if (lx_str_eq_nocase(h->name, LX_STR("Host")) ||
            lx_str_eq_nocase(h->name, LX_STR("Content-Length")) ||
            lx_str_eq_nocase(h->name, LX_STR("Connection")) ||
            lx_str_eq_nocase(h->name, LX_STR("Transfer-Encoding")) ||
            lx_str_eq_nocase(h->name, LX_STR("Proxy-Authorization")) ||
            (lx_str_eq_nocase(h->name, LX_STR("Expect")) && lx_str_trim(h->value).len == 0))
            continue;
        lx_buf_append_str(b, h->name);
        lx_buf_append(b, ": ", 2);
        lx_buf_append_str(b, h->value);
        lx_buf_append(b, "\r\n", 2);
    }
    lx_buf_append(b, "Connection: keep-alive\r\n\r\n", 26);
    return b->err;
}

static struct origin *origin_get(struct lx_upstream_ctx *ctx, const struct lx__upstream_url *u,
                                 bool proxy)
{
    char key[320];
    const char *scheme = u->tls ? "https://" : "http://";
    size_t sl = strlen(scheme), n;
    struct origin *o;

    /* "scheme://host:port[|proxy]", built without printf: once per request */
    if (u->host.len > sizeof(key) - sl - 1 - LX_U64_DIGITS - 7)
        return NULL;
    memcpy(key, scheme, sl);
    memcpy(key + sl, u->host.ptr, u->host.len);
    n = sl + u->host.len;
    key[n++] = ':';
    n += lx_u64_to_dec(key + n, u->port);
    if (proxy) {
        memcpy(key + n, "|proxy", 6);
        n += 6;
    }
    key[n] = '\0';
    for (o = ctx->origins; o != NULL; o = o->next)
        if (strcmp(o->key, key) == 0)
            return o;
    o = lx_xcalloc(1, sizeof(*o));
    o->key = lx_xstrndup(key, n);
    o->next = ctx->origins;
    ctx->origins = o;
    return o;
}

static unsigned pick(unsigned req, unsigned def) { return req != 0 ? req : def; }

int lx_upstream_start(struct lx_upstream_ctx *ctx, const struct lx_upstream_req *req,
                      const struct lx_upstream_cbs *cbs, struct lx_upstream **out)
{
    struct lx_upstream *up;
    struct conn *c;
    bool head_req;
    int rc;

    if (ctx == NULL || ctx->closing || req == NULL || cbs == NULL)
        return LX_EINVAL;
    if (req->body.len > INT_MAX) /* SSL_write and uv_buf_t take int / unsigned lengths */
        return LX_ETOOBIG;
    up = lx_xcalloc(1, sizeof(*up));
    up->ctx = ctx;
    up->cbs = *cbs;
    up->url = lx_strndup(req->url.ptr ? req->url.ptr : "", req->url.len);
    if (up->url == NULL) {
        free(up);
        return LX_ENOMEM;
    }
    lx_buf_init(&up->head, MAX_REQ_HEAD);
    lx_buf_init(&up->pending, MAX_PENDING);
    if (lx__upstream_url_parse(lx_str_make(up->url, req->url.len), &up->u) != LX_OK) {
        rc = LX_EINVAL;
        goto fail;
    }
    up->via_proxy = (up->u.tls ? ctx->have_https_proxy : ctx->have_http_proxy) &&
                    !lx__upstream_no_proxy_match(ctx->no_proxy, up->u.host, up->u.port);
    if ((rc = build_head(up, req)) != LX_OK)
        goto fail;
    up->origin = origin_get(ctx, &up->u, up->via_proxy);
    if (up->origin == NULL) {
        rc = LX_EINVAL;
        goto fail;
    }
    up->body = req->body;
    up->connect_ms = pick(req->connect_timeout_ms, ctx->cfg.connect_timeout_ms);
    up->first_byte_ms = pick(req->first_byte_timeout_ms, ctx->cfg.first_byte_timeout_ms);
    up->idle_ms = pick(req->idle_timeout_ms, ctx->cfg.idle_timeout_ms);
    up->total_ms = pick(req->total_timeout_ms, ctx->cfg.total_timeout_ms);
    head_req = lx_str_eq(req->method, LX_STR("HEAD"));
    lx__upstream_resp_init(&up->resp, ctx->cfg.max_response_head, head_req, on_resp_head,
                           on_resp_data, up);

    ctx->in_api++;
    uv_update_time(ctx->loop); /* the caller may not be in a loop callback: timers from now */
    uv_timer_init(ctx->loop, &up->timer);
    uv_timer_init(ctx->loop, &up->total);
    up->timer.data = up->total.data = up;
    up->handles = 2;
    ctx->refs++;
    up->next = ctx->active;
    if (ctx->active)
        ctx->active->prev = up;
    ctx->active = up;
    uv_timer_start(&up->total, on_total_timer, up->total_ms, 0);
    *out = up;

    c = up->origin->idle;
    if (c != NULL) {
        pool_unlink(c);
        uv_timer_stop(&c->timer);
        up->conn = c;
        up->reused = true;
        up_send(up);
    } else {
        phase_timer_start(up, up->connect_ms);
        up->state = UP_CONNECT;
        rc = up_resolve(up);
        if (rc != LX_OK)
            up_fail(up, rc, 502, "cannot resolve %.*s", LX_STR_FMT(up->u.host));
    }
    ctx->in_api--;
    return LX_OK;
fail:
    lx_buf_release(&up->head);
    lx_buf_release(&up->pending);
    free(up->url);
    free(up);
    return rc;
}

void lx_upstream_resume(struct lx_upstream *up)
{
    if (up == NULL || up->state == UP_DONE || !up->paused || up->resume_queued)
        return;
    up->resume_queued = true;
    queue_push(up); /* never deliver data from inside this call */
}

void lx_upstream_cancel(struct lx_upstream *up)
{
    if (up == NULL || up->state == UP_DONE)
        return;
    up->ctx->in_api++;
    up_fail(up, LX_ECANCELED, 499, "canceled");
    up->ctx->in_api--;
}

void *lx_upstream_data(const struct lx_upstream *up) { return up->cbs.data; }
