/* http1.h - the inbound HTTP/1.1 request parser: llhttp (strict mode) plus the strict policy
 * of ../shared/corpus/http/README.md (framing, smuggling, field and target syntax, limits).
 * Pure: no I/O, no libuv. One parser per client connection, owned by the connection, used on
 * that connection's loop thread only.
 *
 * Bytes go in with lx_http1_feed(); for each request the parser calls on_head once (all
 * fields checked, framing known), on_body for each body piece (chunked framing removed),
 * then on_complete. Slices handed to callbacks stay valid until on_complete returns (the
 * parser keeps the head in its own bounded storage). on_complete may return LX_EPAUSE: the
 * parser stops right after that message, so a server can answer pipelined requests in order
 * and call lx_http1_resume() when the response is done.
 *
 * On a violation lx_http1_feed() returns LX_EPARSE (or LX_ETOOBIG) and
 * lx_http1_error_status() gives the status to answer with: 400, 413, 414, 417, 431, 501
 * or 505. After an error the parser is dead: the connection must be closed. */
#ifndef LX_HTTP1_H
#define LX_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/header.h"
#include "core/str.h"

struct lx_http1_limits {
    size_t max_header_bytes;  /* the whole header section: > it gives 431 (default 16 KiB) */
    size_t max_header_fields; /* > it gives 431 (default 100) */
    size_t max_target;        /* request-target: > it gives 414 (default 8 KiB) */
    uint64_t max_body;        /* declared or received body: > it gives 413 (default 32 MiB) */
};

struct lx_http1_head {
    struct lx_str method, target; /* target as sent: origin-form or absolute-form */
    struct lx_str path, query;    /* split from target; query excludes '?'; path "/" if absolute-form has none */
    struct lx_str host;           /* Host field, or the authority of an absolute-form target */
    unsigned version_minor;       /* 0 for HTTP/1.0; 1 for 1.1 and 1.x, x >= 2 */
    const struct lx_header *headers;
    size_t n_headers;
    bool keep_alive;        /* RFC 9112 §9.3, with HTTP/1.0 "Connection: keep-alive" honoured */
    bool expect_continue;   /* "Expect: 100-continue" on HTTP/1.1 */
    bool chunked;           /* Transfer-Encoding: chunked */
    uint64_t content_length; /* when !chunked; 0 when no body */
};

struct lx_http1_cbs {
    int (*on_head)(void *ctx, const struct lx_http1_head *head);  /* LX_OK or an error */
    int (*on_body)(void *ctx, struct lx_str chunk);               /* LX_OK or an error */
    int (*on_complete)(void *ctx, const struct lx_http1_head *head); /* LX_OK or LX_EPAUSE */
};

struct lx_http1_parser; /* opaque; http1.c */

/* NULL on out of memory. limits NULL = defaults. */
struct lx_http1_parser *lx_http1_new(const struct lx_http1_limits *limits,
                                     const struct lx_http1_cbs *cbs, void *ctx);
void lx_http1_free(struct lx_http1_parser *p);
void lx_http1_limits_default(struct lx_http1_limits *l);

/* Feeds bytes. Returns LX_OK when all were consumed, LX_EPAUSE when on_complete paused the
 * parser (*consumed bytes were used; feed the rest after lx_http1_resume()), or an error
 * (LX_EPARSE, LX_ETOOBIG, or what a callback returned). */
int lx_http1_feed(struct lx_http1_parser *p, const char *data, size_t len, size_t *consumed);
/* The peer closed its side. LX_OK when between messages, LX_ETRUNCATED when a message was
 * cut short (no response is owed for it). */
int lx_http1_finish(struct lx_http1_parser *p);
void lx_http1_resume(struct lx_http1_parser *p);
int lx_http1_error_status(const struct lx_http1_parser *p); /* 0 when no error */
const char *lx_http1_error_reason(const struct lx_http1_parser *p); /* short, safe to send */
/* True while a message is partly received (head or body started, not complete). */
bool lx_http1_in_message(const struct lx_http1_parser *p);

#endif /* LX_HTTP1_H */
