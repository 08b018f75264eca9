/* token.c - OAuth2 access tokens for providers whose key is a Google service-account key file
 * (Vertex AI): the signed JWT (providers/vertex_auth.h) is exchanged at the key's token
 * endpoint, and the access token cached per worker until five minutes before it expires. One
 * exchange runs per key at a time; requests that need it wait in the key's queue and are
 * called back when it ends. Loop thread of the worker only: no locks.
 *
 * Ownership: struct lx_token_cache belongs to the worker (gateway.c frees it at stop). A slot
 * (one per key file, found by the SHA-256 of the file, never by the key itself) owns its
 * token (malloc'ed, wiped when replaced or freed) and, during an exchange, an arena with the
 * request and the answer. Waiters live in the requests' arenas: a request that ends while
 * waiting unlinks itself (lx__gw_token_cancel). At stop a slot whose exchange still runs is
 * detached and frees itself from the exchange's on_done. */
#include "gateway/token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/time.h"
#include "providers/vertex_auth.h"

#define TOKEN_MAX_ANSWER (64u << 10)

struct lx_token_slot {
    struct lx_token_slot *next;
    struct lx_token_cache *cache; /* NULL once detached at stop */
    unsigned char digest[32];
    char *token; /* NUL-terminated; secret */
    size_t token_len;
    int64_t expires_at;
    char project[128]; /* the key file's project_id, for URLs */
    struct lx_upstream *up; /* the exchange in flight */
    struct lx_arena *a;     /* its memory */
    struct lx_buf answer;
    int status;
    struct lx_token_waiter waiters; /* sentinel of a circular list */
};

struct lx_token_cache {
    struct lx_upstream_ctx *up;
    struct lx_token_slot *slots;
};

struct lx_token_cache *lx__gw_tokens_new(struct lx_upstream_ctx *up)
{
    struct lx_token_cache *c = lx_xcalloc(1, sizeof(*c));

    c->up = up;
    return c;
}

static void drop_token(struct lx_token_slot *s)
{
    if (s->token != NULL) {
        explicit_bzero(s->token, s->token_len);
        free(s->token);
    }
    s->token = NULL;
    s->token_len = 0;
    s->expires_at = 0;
}

static void slot_free(struct lx_token_slot *s)
{
    drop_token(s);
    lx_buf_release(&s->answer);
    lx_arena_free(s->a);
    free(s);
}

void lx__gw_tokens_free(struct lx_token_cache *c)
{
    struct lx_token_slot *s, *next;

    if (c == NULL)
        return;
    for (s = c->slots; s != NULL; s = next) {
        next = s->next;
        if (s->up != NULL) {
            s->cache = NULL; /* its on_done frees it */
            lx_upstream_cancel(s->up);
        } else {
            slot_free(s);
        }
    }
    free(c);
}

static void waiter_unlink(struct lx_token_waiter *w)
{
    if (w->next != NULL) {
        w->prev->next = w->next;
        w->next->prev = w->prev;
    }
    w->next = w->prev = NULL;
}

void lx__gw_token_cancel(struct lx_token_waiter *w)
{
    if (w != NULL)
        waiter_unlink(w);
}

/* Calls every waiter back, each unlinked first (a callback may start another wait). */
static void notify(struct lx_token_slot *s, const struct lx_err *err)
{
    struct lx_token_waiter *head = &s->waiters;

    while (head->next != head) {
        struct lx_token_waiter *w = head->next;

        waiter_unlink(w);
        w->cb(w, err);
    }
}

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct lx_token_slot *s = lx_upstream_data(up);

    (void)h;
    (void)n;
    s->status = status;
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct lx_token_slot *s = lx_upstream_data(up);

    return lx_buf_append_str(&s->answer, chunk);
}

static void on_done(struct lx_upstream *up, const struct lx_err *uerr)
{
    struct lx_token_slot *s = lx_upstream_data(up);
    struct lx_vertex_token tok;
    struct lx_err err = {0};
    int64_t now = (int64_t)(lx_now_wall_ms() / 1000);
    int rc;

    s->up = NULL;
    if (s->cache == NULL) { /* the worker stopped meanwhile */
        slot_free(s);
        return;
    }
    if (uerr != NULL) {
        err = *uerr;
        rc = uerr->rc;
    } else {
        rc = lx_vertex_token_parse(s->status, lx_buf_str(&s->answer), now, s->a, &tok, &err);
    }
    if (rc == LX_OK) {
        drop_token(s);
        s->token = lx_malloc(tok.access_token.len + 1);
        if (s->token == NULL) {
            rc = LX_ENOMEM;
            lx_err_set(&err, LX_ENOMEM, 503, "out of memory");
        } else {
            memcpy(s->token, tok.access_token.ptr, tok.access_token.len);
            s->token[tok.access_token.len] = '\0';
            s->token_len = tok.access_token.len;
            s->expires_at = tok.expires_at;
            lx_logf(LX_LOG_INFO, "vertex: access token obtained (valid %lld s)",
                    (long long)(tok.expires_at - now));
        }
    } else {
        lx_logf(LX_LOG_WARN, "vertex: token exchange failed: %s", err.msg);
    }
    lx_buf_release(&s->answer);
    lx_arena_free(s->a); /* the request and answer held no secret of ours but the JWT */
    s->a = NULL;
    notify(s, rc == LX_OK ? NULL : &err);
}

static void digest(struct lx_str key, unsigned char out[32])
{
    unsigned int n = 32;

    EVP_Digest(key.ptr, key.len, out, &n, EVP_sha256(), NULL);
}

static struct lx_token_slot *find_slot(struct lx_token_cache *c, struct lx_str key)
{
    unsigned char d[32];
    struct lx_token_slot *s;

    digest(key, d);
    for (s = c->slots; s != NULL; s = s->next)
        if (memcmp(s->digest, d, sizeof(d)) == 0)
            return s;
    s = lx_xcalloc(1, sizeof(*s));
    memcpy(s->digest, d, sizeof(d));
    s->cache = c;
    s->waiters.next = s->waiters.prev = &s->waiters;
    s->next = c->slots;
    c->slots = s;
    return s;
}

int lx__gw_token_get(struct lx_token_cache *c, struct lx_str keyfile, int64_t now_s,
                     struct lx_token_waiter *w, struct lx_str *token, struct lx_str *project,
                     struct lx_err *err)
{
    struct lx_token_slot *s = find_slot(c, keyfile);
    struct lx_vertex_token cur = {lx_str_make(s->token, s->token_len), LX_STR("Bearer"),
                                  s->expires_at};
    struct lx_vertex_sa sa;
    struct lx_upstream_req ur = {0};
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done, s};
    int rc;

    *project = lx_str_cstr(s->project);
    if (s->token != NULL && lx_vertex_token_fresh(&cur, now_s)) {
        *token = cur.access_token;
        return LX_OK;
    }
    if (s->up == NULL) {
        s->a = lx_arena_new(8192, 1u << 20);
        if (s->a == NULL) {
            lx_err_set(err, LX_ENOMEM, 503, "out of memory");
            return LX_ENOMEM;
        }
        rc = lx_vertex_sa_parse(keyfile, s->a, &sa, err);
        if (rc == LX_OK) {
            size_t n = sa.project_id.len < sizeof(s->project) ? sa.project_id.len : 0;

            memcpy(s->project, sa.project_id.ptr, n);
            s->project[n] = '\0';
            *project = lx_str_cstr(s->project);
            rc = lx_vertex_token_request(&sa, now_s, s->a, &ur, err);
        }
        if (rc == LX_OK) {
            lx_buf_init(&s->answer, TOKEN_MAX_ANSWER);
            rc = lx_upstream_start(c->up, &ur, &cbs, &s->up);
            if (rc != LX_OK)
                lx_err_set(err, rc, 502, "Could not reach the Google token endpoint.");
        }
        if (rc != LX_OK) {
            lx_arena_free(s->a);
            s->a = NULL;
            /* a key file llmux cannot use is the operator's problem, not the client's */
            if (rc == LX_EINVAL || err->http_status == 0 || err->http_status == 400)
                err->http_status = rc == LX_EINVAL ? 500 : 502;
            return rc;
        }
    }
    /* wait for the exchange in flight */
    w->slot = s;
    w->prev = s->waiters.prev;
    w->next = &s->waiters;
    s->waiters.prev->next = w;
    s->waiters.prev = w;
    return LX_EAGAIN;
}
