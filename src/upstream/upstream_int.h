/* upstream_int.h - pieces of upstream/ shared inside the folder and with its tests: the
 * socket-free response parser (response.c, llhttp in response mode) and the pure helpers for
 * URLs, proxies and NO_PROXY (url.c). Nothing here does I/O; everything runs on the caller's
 * thread and owns only what its struct holds. */
#ifndef LX_UPSTREAM_INT_H
#define LX_UPSTREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "core/buf.h"
#include "core/header.h"
#include "core/str.h"

#define LX__UPSTREAM_MAX_HEADERS 100

/* Called once per final response (1xx are skipped). Return LX_OK, or an error to abort. */
typedef int lx__upstream_resp_head_fn(void *arg, int status, const struct lx_header *h, size_t n);
/* Body bytes, framing removed. LX_OK, LX_EPAUSE (stop feeding), or an error to abort. */
typedef int lx__upstream_resp_data_fn(void *arg, struct lx_str chunk);

struct lx__upstream_resp {
    llhttp_t parser;
    struct lx_buf head;                        /* header names and values, max_head bytes */
    uint32_t off[LX__UPSTREAM_MAX_HEADERS][4]; /* name off, len, value off, len in head */
    struct lx_header hdrs[LX__UPSTREAM_MAX_HEADERS];
    size_t n_headers;
    size_t head_raw, max_head;  /* raw bytes seen before the head completed */
    uint64_t bytes, body_bytes; /* everything fed; body bytes delivered */
    int status;
    int err;         /* LX_E* set by a callback that failed */
    const char *why; /* static text for err */
    bool head_request, head_done, complete, field_open, value_open, interim;
    lx__upstream_resp_head_fn *on_head;
    lx__upstream_resp_data_fn *on_data;
    void *arg;
};

/* Prepares r to parse one response. head_request: the request was HEAD (no body follows).
 * r owns r->head (lx__upstream_resp_release frees it). */
void lx__upstream_resp_init(struct lx__upstream_resp *r, size_t max_head, bool head_request,
                            lx__upstream_resp_head_fn *on_head, lx__upstream_resp_data_fn *on_data,
                            void *arg);
void lx__upstream_resp_release(struct lx__upstream_resp *r);
/* Parses n more bytes. *used is how many were consumed. Returns LX_OK (all used, or the
 * response completed: then r->complete and *used < n means extra bytes followed it),
 * LX_EPAUSE (on_data asked to pause: feed p + *used again later), or LX_EPROTO / the error a
 * callback returned (r->why says why). */
int lx__upstream_resp_feed(struct lx__upstream_resp *r, const char *p, size_t n, size_t *used);
/* The peer closed. LX_OK when that ends a close-delimited body (r->complete is then set),
 * LX_ECONNRESET if not one byte arrived, LX_ETRUNCATED otherwise. */
int lx__upstream_resp_eof(struct lx__upstream_resp *r);
/* True when the completed response allows reusing the connection. */
bool lx__upstream_resp_keep_alive(const struct lx__upstream_resp *r);

/* A parsed "http[s]://host[:port]/path?query". Slices point into the URL. */
struct lx__upstream_url {
    bool tls;
    struct lx_str host; /* without brackets for IPv6 */
    uint16_t port;
    struct lx_str hostport; /* as the Host header wants it: "h", "h:8080", "[::1]:8080" */
    struct lx_str path;     /* "/..." including the query; "/" when the URL had none */
};
/* LX_OK or LX_EINVAL (other scheme, userinfo, fragment, bad port, empty host, CR/LF/space). */
int lx__upstream_url_parse(struct lx_str url, struct lx__upstream_url *out);

/* A proxy URL "[http://][user:pass@]host[:port][/]". auth is the base64 of "user:pass" (empty
 * when none) written into auth_buf. Slices point into the URL or auth_buf. */
struct lx__upstream_proxy {
    struct lx_str host;
    uint16_t port;
    char auth[256];
    size_t auth_len;
};
int lx__upstream_proxy_parse(const char *url, struct lx__upstream_proxy *out);
/* Does NO_PROXY (comma list of "*", "host", ".domain", "domain", "host:port", IPs) match? */
bool lx__upstream_no_proxy_match(const char *no_proxy, struct lx_str host, uint16_t port);

struct lx_upstream_ctx;
struct sockaddr_storage;
/* Puts host:port -> addrs (at most 8, ports included) in the ctx's DNS cache for ttl_ms, as if
 * resolved. For tests (address fallback) and for pinned hosts. Loop thread. */
void lx__upstream_dns_seed(struct lx_upstream_ctx *ctx, const char *host, uint16_t port,
                           const struct sockaddr_storage *addrs, size_t n, unsigned ttl_ms);

#endif /* LX_UPSTREAM_INT_H */
