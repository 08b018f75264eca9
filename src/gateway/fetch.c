/* fetch.c - image URLs fetched and inlined as base64 for providers that cannot fetch them
 * (fetch.h). Two halves: the policy (pure: which URLs may be fetched at all, checked for every
 * URL before the first connection) and the transfers (a heap-allocated struct lx_gw_fetch
 * owning one slot per distinct URL, at most LX_GW_FETCH_PARALLEL running at once).
 *
 * Ownership: the struct lx_gw_fetch is malloc'ed, not in the request's arena, because after
 * lx__gw_fetch_cancel the request (and its arena) may go at once while canceled transfers
 * still owe their on_done: those callbacks touch only the struct, and the last one frees it.
 * Parts and the arena are written only on success, while the caller still waits for done.
 * Bodies are gathered in per-transfer bounded buffers (max_bytes) and freed once encoded.
 * Loop thread of the request only. */
#include "gateway/fetch.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/header.h"
#include "upstream/upstream_int.h"

#define MAX_URL 8192
#define HOST_CAP 128

/* ---- the policy ------------------------------------------------------------------------- */

static bool is_ipv4_private(const unsigned char a[4])
{
    return a[0] == 0 ||                                  /* 0.0.0.0/8 "this network" */
           a[0] == 10 ||                                 /* 10/8 */
           a[0] == 127 ||                                /* loopback */
           (a[0] == 100 && (a[1] & 0xc0) == 64) ||       /* 100.64/10 CGNAT */
           (a[0] == 169 && a[1] == 254) ||               /* link-local, cloud metadata */
           (a[0] == 172 && (a[1] & 0xf0) == 16) ||       /* 172.16/12 */
           (a[0] == 192 && a[1] == 168) ||               /* 192.168/16 */
           (a[0] == 192 && a[1] == 0 && a[2] == 0) ||    /* 192.0.0/24 IETF (NAT64 DNS ...) */
           (a[0] == 198 && (a[1] & 0xfe) == 18) ||       /* 198.18/15 benchmarking */
           a[0] >= 224;                                  /* multicast, reserved, broadcast */
}

static bool is_ipv6_private(const unsigned char a[16])
{
    static const unsigned char zero12[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

    if (memcmp(a, zero12, 12) == 0) /* ::, ::1, and the old IPv4-compatible ::a.b.c.d */
        return true;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return is_ipv4_private(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 2002:a.b.c.d::/48 */
        return is_ipv4_private(a + 2);
    if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero12, 6) == 0) /* 100::/64 discard */
        return true;
    return (a[0] & 0xfe) == 0xfc ||                 /* fc00::/7 unique local */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) || /* fec0::/10 old site-local */
           a[0] == 0xff;                             /* multicast */
}

/* inet_aton's forms, which getaddrinfo also accepts: 1 to 4 parts, each decimal, octal
 * (leading 0) or hex (0x); the last part fills the remaining bytes ("127.1", "2130706433",
 * "0x7f.0.0.1"). True when s is such an address. */
static bool parse_ipv4_any(const char *s, size_t n, unsigned char out[4])
{
    uint64_t parts[4];
    size_t np = 0, i = 0;

    while (i <= n) {
        uint64_t v = 0;
        unsigned base = 10;
        size_t digits = 0;

        if (np == 4)
            return false;
        if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
            base = 16;
            i += 2;
        } else if (i < n && s[i] == '0') {
            base = 8;
        }
        for (; i < n && s[i] != '.'; i++, digits++) {
            char c = s[i];
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if (base == 16 && c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else if (base == 16 && c >= 'A' && c <= 'F')
                d = (unsigned)(c - 'A' + 10);
            else
                return false;
            if (d >= base)
                return false;
            v = v * base + d;
            if (v > 0xffffffffu)
                return false;
        }
        if (digits == 0 && base != 16)
            return false;
        parts[np++] = v;
        if (i == n)
            break;
        i++; /* the dot */
        if (i == n)
            return false; /* a trailing dot is a name, not an address */
    }
    {
        uint64_t addr = 0, last = parts[np - 1];
        unsigned left = 4 - (unsigned)(np - 1); /* bytes the last part fills */
        for (size_t k = 0; k + 1 < np; k++) {
            if (parts[k] > 255)
                return false;
            addr = (addr << 8) | parts[k];
        }
        if (left < 4 && last >= ((uint64_t)1 << (8 * left)))
            return false;
        addr = (addr << (8 * left)) | last;
        out[0] = (unsigned char)(addr >> 24);
        out[1] = (unsigned char)(addr >> 16);
        out[2] = (unsigned char)(addr >> 8);
        out[3] = (unsigned char)addr;
    }
    return true;
}

static bool ends_with_label(const char *h, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n > k && memcmp(h + n - k, suffix, k) == 0 && h[n - k - 1] == '.';
}

/* Names that resolve to this machine or the local network wherever the gateway runs. */
static bool is_local_name(const char *h, size_t n)
{
    static const char *const local[] = {"localhost", "local", "internal", "localdomain",
                                        "home.arpa", "lan"};

    if (memchr(h, '.', n) == NULL) /* one label: the resolver's search domains decide */
        return true;
    for (size_t i = 0; i < LX_ARRAY_SIZE(local); i++)
        if ((n == strlen(local[i]) && memcmp(h, local[i], n) == 0) ||
            ends_with_label(h, n, local[i]))
            return true;
    return false;
}

static bool host_allowed(const struct lx_config *cfg, const char *h, size_t n, bool v6,
                         const unsigned char addr6[16])
{
    for (size_t i = 0; i < cfg->image_fetch.n_allow_hosts; i++) {
        const char *e = cfg->image_fetch.allow_hosts[i];
        size_t k = strlen(e);

        if (k == 1 && e[0] == '*')
            return true;
        if (v6) {
            unsigned char b[16];
            if (strchr(e, ':') != NULL && inet_pton(AF_INET6, e, b) == 1 &&
                memcmp(b, addr6, 16) == 0)
                return true;
            continue;
        }
        if (k > 2 && e[0] == '*' && e[1] == '.') {
            if (ends_with_label(h, n, e + 2))
                return true;
        } else if (k == n && memcmp(e, h, n) == 0) {
            return true;
        }
    }
    return false;
}

int lx__gw_fetch_check(const struct lx_config *cfg, struct lx_str url, char *host, size_t cap,
                       struct lx_err *err)
{
    struct lx__upstream_url u;
    unsigned char a4[4], a6[16];
    char h[256];
    size_t n;
    bool v6 = false, v4 = false;

    if (cap > 0)
        host[0] = '\0';
    if (!lx_str_starts_with(url, LX_STR("http://")) &&
        !lx_str_starts_with(url, LX_STR("https://"))) {
        if (url.len >= 8 && (lx_str_eq_nocase(lx_str_sub(url, 0, 7), LX_STR("http://")) ||
                             lx_str_eq_nocase(lx_str_sub(url, 0, 8), LX_STR("https://")))) {
            lx_err_set(err, LX_EINVAL, 400, "image URL: write the scheme as http:// or https://");
            return LX_EINVAL;
        }
        return LX_ENOTFOUND; /* data:, gs://, ...: the adapter's business */
    }
    if (url.len > MAX_URL) {
        lx_err_set(err, LX_EINVAL, 400, "image URL: longer than %u bytes", MAX_URL);
        return LX_EINVAL;
    }
    if (lx__upstream_url_parse(url, &u) != LX_OK || u.host.len == 0 ||
        u.host.len >= sizeof(h)) {
        lx_err_set(err, LX_EINVAL, 400, "image URL: not a valid http(s) URL (no user:password, "
                                        "fragment, spaces or bad port)");
        return LX_EINVAL;
    }
    n = u.host.len;
    for (size_t i = 0; i < n; i++) {
        char c = u.host.ptr[i];
        h[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    h[n] = '\0';
    if (cap > 0) {
        size_t k = 0;
        for (; k < n && k + 1 < cap; k++)
            host[k] = (h[k] > 0x20 && h[k] < 0x7f && h[k] != '%') ? h[k] : '?';
        host[k] = '\0';
    }
    if (n > 1 && h[n - 1] == '.')
        h[--n] = '\0'; /* "example.com." is example.com */
    if (strcmp(h, "generativelanguage.googleapis.com") == 0)
        return LX_ENOTFOUND; /* a Gemini File API URI: Gemini reads it, with its own key */
    if (memchr(h, ':', n) != NULL) {
        if (inet_pton(AF_INET6, h, a6) != 1) {
            lx_err_set(err, LX_EINVAL, 400, "image URL: the host %s is not an IPv6 address",
                       host);
            return LX_EINVAL;
        }
        v6 = true;
    } else {
        v4 = parse_ipv4_any(h, n, a4);
        if (!v4) {
            for (size_t i = 0; i < n; i++) {
                char c = h[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.')) {
                    lx_err_set(err, LX_EINVAL, 400,
                               "image URL: the host %s has characters no host name can have",
                               host);
                    return LX_EINVAL;
                }
            }
            /* an all-numeric last label is an address getaddrinfo may still read */
            const char *last = strrchr(h, '.');
            last = last ? last + 1 : h;
            if (*last >= '0' && *last <= '9') {
                lx_err_set(err, LX_EINVAL, 400, "image URL: the host %s is not a valid address",
                           host);
                return LX_EINVAL;
            }
        }
    }
    if (!host_allowed(cfg, h, n, v6, a6)) {
        lx_err_set(err, LX_EINVAL, 400,
                   "image URL: the host %s is not in the gateway's image_fetch.allow_hosts", host);
        return LX_EINVAL;
    }
    if (!cfg->image_fetch.allow_private &&
        ((v4 && is_ipv4_private(a4)) || (v6 && is_ipv6_private(a6)) ||
         (!v4 && !v6 && is_local_name(h, n)))) {
        lx_err_set(err, LX_EINVAL, 400,
                   "image URL: the host %s is a loopback, private or local address, which the "
                   "gateway does not fetch from",
                   host);
        return LX_EINVAL;
    }
    return LX_OK;
}

/* ---- the transfers ---------------------------------------------------------------------- */

struct item {
    struct lx_gw_fetch *f;
    struct lx_part *part;  /* the first part with this URL (arena; written only on success) */
    char *url;             /* heap copy: the transfer borrows nothing from the arena */
    size_t url_len;
    char host[HOST_CAP];   /* for messages: never the path or query (they may hold tokens) */
    struct lx_upstream *up;
    struct lx_buf body;    /* bounded by max_bytes */
    struct lx_str mt;      /* media type from Content-Type (a static string) */
    struct lx_str data;    /* the base64 (arena), on success */
    struct lx_err why;     /* set when we refused the answer ourselves */
    bool refused;
};

struct lx_gw_fetch {
    struct lx_upstream_ctx *up;
    struct lx_chat_req *req;
    struct lx_arena *a;
    void (*done)(void *ctx, const struct lx_err *err);
    void *ctx;
    uint64_t max_bytes;
    unsigned timeout_ms;
    size_t n, next, running;
    bool failed, canceled;
    struct lx_err err;
    struct item items[];
};

static const struct lx_header fetch_headers[] = {
    {{"Accept", 6}, {"image/png, image/jpeg, image/gif, image/webp", 44}},
    {{"User-Agent", 10}, {"llmux-image-fetch/1", 19}},
};

static bool wants_fetch(const struct lx_part *p)
{
    return p->type == LX_PART_IMAGE && p->url.len > 0 && p->data.len == 0;
}

/* Calls fn on every IMAGE part (with its sub parts) of req; stops at the first non-OK. */
static int each_image(struct lx_chat_req *req, int (*fn)(void *arg, struct lx_part *p),
                      void *arg)
{
    for (size_t m = 0; m < req->n_msgs; m++)
        for (size_t i = 0; i < req->msgs[m].n_parts; i++) {
            struct lx_part *p = &req->msgs[m].parts[i];
            int rc;

            if (wants_fetch(p) && (rc = fn(arg, p)) != LX_OK)
                return rc;
            if (p->type != LX_PART_TOOL_RESULT)
                continue;
            for (size_t s = 0; s < p->n_sub; s++)
                if (wants_fetch(&p->sub[s]) && (rc = fn(arg, &p->sub[s])) != LX_OK)
                    return rc;
        }
    return LX_OK;
}

static struct lx_str media_type_of(struct lx_str ct)
{
    long semi = lx_str_find_char(ct, ';');

    if (semi >= 0)
        ct = lx_str_sub(ct, 0, (size_t)semi);
    ct = lx_str_trim(ct);
    if (lx_str_eq_nocase(ct, LX_STR("image/png")))
        return LX_STR("image/png");
    if (lx_str_eq_nocase(ct, LX_STR("image/jpeg")) || lx_str_eq_nocase(ct, LX_STR("image/jpg")) ||
        lx_str_eq_nocase(ct, LX_STR("image/pjpeg")))
        return LX_STR("image/jpeg");
    if (lx_str_eq_nocase(ct, LX_STR("image/gif")))
        return LX_STR("image/gif");
    if (lx_str_eq_nocase(ct, LX_STR("image/webp")))
        return LX_STR("image/webp");
    return LX_STR_NULL;
}

/* What the bytes are: the type providers check the data against. */
static struct lx_str sniff(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return LX_STR("image/png");
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return LX_STR("image/jpeg");
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return LX_STR("image/gif");
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return LX_STR("image/webp");
    return LX_STR_NULL;
}

static struct lx_str base64_into(struct lx_arena *a, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = (n + 2) / 3 * 4, o = 0, i = 0;
    char *out = n <= (SIZE_MAX - 3) / 4 * 3 ? lx_arena_alloc(a, out_len + 1) : NULL;

    if (out == NULL)
        return LX_STR_NULL;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return lx_str_make(out, o);
}

static void item_refuse(struct item *it, int rc, int status, const char *what)
{
    if (it->refused)
        return;
    it->refused = true;
    lx_err_set(&it->why, rc, status, "image from %s: %s", it->host, what);
}

static void on_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct item *it = lx_upstream_data(up);
    const struct lx_header *ct = lx_header_find(h, n, LX_STR("Content-Type"));
    const struct lx_header *cl = lx_header_find(h, n, LX_STR("Content-Length"));
    uint64_t len;
    char what[96];

    if (status >= 300 && status < 400) {
        snprintf(what, sizeof(what), "the origin answered %d (redirects are not followed: "
                                     "send the final URL)", status);
        item_refuse(it, LX_EINVAL, 400, what);
    } else if (status >= 400 && status < 500) {
        snprintf(what, sizeof(what), "the origin answered %d", status);
        item_refuse(it, LX_EINVAL, 400, what);
    } else if (status != 200 && status != 203) {
        snprintf(what, sizeof(what), "the origin answered %d", status);
        item_refuse(it, LX_EUPSTREAM, 502, what);
    } else if (ct == NULL || (it->mt = media_type_of(ct->value)).len == 0) {
        item_refuse(it, LX_EINVAL, 400, "the Content-Type is not image/png, image/jpeg, "
                                        "image/gif or image/webp");
    } else if (cl != NULL && lx_str_to_u64(lx_str_trim(cl->value), &len) == LX_OK &&
               len > it->f->max_bytes) {
        snprintf(what, sizeof(what), "larger than the gateway's limit of %llu bytes",
                 (unsigned long long)it->f->max_bytes);
        item_refuse(it, LX_ETOOBIG, 400, what);
    }
}

static int on_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct item *it = lx_upstream_data(up);
    char what[96];

    if (it->refused || it->f->failed || it->f->canceled)
        return LX_ECANCELED; /* stop reading what we will not use */
    if (chunk.len > it->f->max_bytes - it->body.len) {
        snprintf(what, sizeof(what), "larger than the gateway's limit of %llu bytes",
                 (unsigned long long)it->f->max_bytes);
        item_refuse(it, LX_ETOOBIG, 400, what);
        return LX_ETOOBIG;
    }
    if (lx_buf_append(&it->body, chunk.ptr, chunk.len) != LX_OK) {
        item_refuse(it, LX_ENOMEM, 503, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

static void fetch_free(struct lx_gw_fetch *f)
{
    for (size_t i = 0; i < f->n; i++) {
        lx_buf_release(&f->items[i].body);
        free(f->items[i].url);
    }
    free(f);
}

static int fill_same_url(void *arg, struct lx_part *p)
{
    struct lx_gw_fetch *f = arg;

    for (size_t i = 0; i < f->n; i++)
        if (lx_str_eq(p->url, f->items[i].part->url)) {
            p->data = f->items[i].data;
            p->media_type = f->items[i].mt;
            break;
        }
    return LX_OK;
}

/* Nothing runs any more: the caller's done (unless canceled), and f goes. */
static void finish(struct lx_gw_fetch *f)
{
    void (*done)(void *ctx, const struct lx_err *err) = f->done;
    void *ctx = f->ctx;
    struct lx_err err = f->err;
    bool failed = f->failed, canceled = f->canceled;

    if (!failed && !canceled)
        each_image(f->req, fill_same_url, f);
    fetch_free(f);
    if (!canceled)
        done(ctx, failed ? &err : NULL);
}

static void fail(struct lx_gw_fetch *f, const struct lx_err *err)
{
    if (f->failed)
        return;
    f->failed = true;
    f->err = *err;
    f->err.retryable = false; /* the same URL fails the same for the next provider */
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].up != NULL)
            lx_upstream_cancel(f->items[i].up); /* their on_done still comes */
}

static void on_done(struct lx_upstream *up, const struct lx_err *uerr);

static int start_item(struct lx_gw_fetch *f, struct item *it, struct lx_err *err)
{
    struct lx_upstream_req ur = {
        .method = LX_STR("GET"),
        .url = lx_str_make(it->url, it->url_len),
        .headers = fetch_headers,
        .n_headers = LX_ARRAY_SIZE(fetch_headers),
        .connect_timeout_ms = f->timeout_ms,
        .first_byte_timeout_ms = f->timeout_ms,
        .idle_timeout_ms = f->timeout_ms,
        .total_timeout_ms = f->timeout_ms,
    };
    struct lx_upstream_cbs cbs = {on_head, on_data, on_done, it};
    int rc = lx_upstream_start(f->up, &ur, &cbs, &it->up);

    if (rc != LX_OK) {
        it->up = NULL;
        lx_err_set(err, rc, rc == LX_ENOMEM ? 503 : 502, "image from %s: the transfer could "
                                                         "not start (%s)",
                   it->host, lx_strerror(rc));
        return rc;
    }
    f->running++;
    return LX_OK;
}

/* Starts transfers up to the parallel limit. */
static void pump(struct lx_gw_fetch *f)
{
    while (!f->failed && !f->canceled && f->running < LX_GW_FETCH_PARALLEL && f->next < f->n) {
        struct lx_err err = {0};
        struct item *it = &f->items[f->next++];

        if (start_item(f, it, &err) != LX_OK)
            fail(f, &err);
    }
}

static void on_done(struct lx_upstream *up, const struct lx_err *uerr)
{
    struct item *it = lx_upstream_data(up);
    struct lx_gw_fetch *f = it->f;
    struct lx_err err = {0};

    it->up = NULL;
    f->running--;
    if (f->canceled || f->failed) {
        /* nothing to do */
    } else if (it->refused) {
        fail(f, &it->why);
    } else if (uerr != NULL) {
        lx_err_set(&err, uerr->rc, 502, "image from %s: %s", it->host,
                   uerr->rc == LX_ETIMEDOUT ? "timed out" : lx_strerror(uerr->rc));
        fail(f, &err);
    } else {
        struct lx_str mt = sniff((const unsigned char *)it->body.ptr, it->body.len);

        if (mt.len == 0) {
            lx_err_set(&err, LX_EINVAL, 400,
                       "image from %s: the bytes are not a PNG, JPEG, GIF or WebP image",
                       it->host);
            fail(f, &err);
        } else {
            it->mt = mt; /* the bytes win over a Content-Type naming another of the four */
            it->data = base64_into(f->a, (const unsigned char *)it->body.ptr, it->body.len);
            if (it->data.ptr == NULL) {
                lx_err_set(&err, LX_ENOMEM, 503,
                           "image from %s: no room left in the request for the image", it->host);
                fail(f, &err);
            } else {
                it->part->data = it->data;
                it->part->media_type = it->mt;
            }
        }
    }
    lx_buf_release(&it->body);
    pump(f);
    if (f->running == 0 && (f->next == f->n || f->failed || f->canceled))
        finish(f);
}

/* ---- the entry points ------------------------------------------------------------------- */

struct collect {
    const struct lx_config *cfg;
    struct lx_part **uniq;
    size_t n, cap;
    struct lx_err *err;
};

static int collect_one(void *arg, struct lx_part *p)
{
    struct collect *c = arg;
    char host[HOST_CAP];
    int rc;

    for (size_t i = 0; i < c->n; i++)
        if (lx_str_eq(c->uniq[i]->url, p->url))
            return LX_OK;
    rc = lx__gw_fetch_check(c->cfg, p->url, host, sizeof(host), c->err);
    if (rc == LX_ENOTFOUND)
        return LX_OK;
    if (rc != LX_OK)
        return rc;
    if (c->n == c->cap) {
        lx_err_set(c->err, LX_EINVAL, 400, "more than %zu image URLs to fetch in one request",
                   c->cap);
        return LX_EINVAL;
    }
    c->uniq[c->n++] = p;
    return LX_OK;
}

int lx__gw_fetch_images(struct lx_upstream_ctx *up, const struct lx_config *cfg,
                        struct lx_chat_req *req, struct lx_arena *a,
                        void (*done)(void *ctx, const struct lx_err *err), void *ctx,
                        struct lx_gw_fetch **out, struct lx_err *err)
{
    struct collect c = {.cfg = cfg, .err = err};
    struct lx_gw_fetch *f;
    int rc;

    *out = NULL;
    if (!cfg->image_fetch.enabled || req == NULL)
        return LX_OK;
    c.cap = cfg->image_fetch.max_images ? cfg->image_fetch.max_images
                                        : LX_CONFIG_IMAGE_FETCH_MAX_IMAGES;
    c.uniq = lx_arena_alloc(a, c.cap * sizeof(*c.uniq));
    if (c.uniq == NULL) {
        lx_err_set(err, LX_ENOMEM, 503, "out of memory");
        return LX_ENOMEM;
    }
    rc = each_image(req, collect_one, &c);
    if (rc != LX_OK)
        return rc;
    if (c.n == 0)
        return LX_OK;
    f = lx_xcalloc(1, sizeof(*f) + c.n * sizeof(f->items[0]));
    f->up = up;
    f->req = req;
    f->a = a;
    f->done = done;
    f->ctx = ctx;
    f->max_bytes = cfg->image_fetch.max_bytes ? cfg->image_fetch.max_bytes
                                              : LX_CONFIG_IMAGE_FETCH_MAX_BYTES;
    f->timeout_ms = cfg->image_fetch.timeout_ms ? cfg->image_fetch.timeout_ms
                                                : LX_CONFIG_IMAGE_FETCH_TIMEOUT_MS;
    f->n = c.n;
    for (size_t i = 0; i < c.n; i++) {
        struct item *it = &f->items[i];

        it->f = f;
        it->part = c.uniq[i];
        it->url_len = it->part->url.len;
        it->url = lx_xstrndup(it->part->url.ptr, it->url_len);
        lx__gw_fetch_check(cfg, it->part->url, it->host, sizeof(it->host), err);
        lx_buf_init(&it->body, (size_t)LX_MIN(f->max_bytes, (uint64_t)SIZE_MAX));
    }
    lx_err_clear(err);
    /* the first transfer starts here so a failure to start is reported synchronously */
    rc = start_item(f, &f->items[0], err);
    if (rc != LX_OK) {
        fetch_free(f);
        return rc;
    }
    f->next = 1;
    pump(f);
    *out = f;
    return LX_EAGAIN;
}

void lx__gw_fetch_cancel(struct lx_gw_fetch *f)
{
    if (f == NULL || f->canceled)
        return;
    f->canceled = true;
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].up != NULL)
            lx_upstream_cancel(f->items[i].up);
    if (f->running == 0)
        fetch_free(f);
}
