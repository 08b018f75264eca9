/* sse.h - incremental text/event-stream parser (WHATWG HTML §9.2.6 "Interpreting an event
 * stream"). Bytes go in as they arrive from the network, split anywhere; events come out through
 * a callback, the same events however the input was split. The parser is embedded by its owner
 * (one per upstream stream) and used by one thread; it owns its buffers (lx_sse_release).
 * Slices handed to the callback point into the caller's chunk or into the parser's buffers and
 * are valid only during the callback. Bytes are not UTF-8 decoded: invalid UTF-8 passes through
 * (the JSON parser downstream rejects it). See docs/internals/sse.md. */
#ifndef LX_SSE_H
#define LX_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

enum lx_sse_kind {
    LX_SSE_EVENT = 0, /* a dispatched event (blank line after fields) */
    LX_SSE_COMMENT,   /* a ":" line, only with LX_SSE_COMMENTS; data = text after the ':' */
};

/* Parser options (lx_sse_set_flags). */
enum lx_sse_flag {
    LX_SSE_COMMENTS = 1u << 0, /* report comment lines (": OPENROUTER PROCESSING", keep-alives) */
    LX_SSE_DATALESS = 1u << 1, /* also dispatch events that had event:/id: but no data: line
                                * (the spec drops them); they come with has_data == false */
};

struct lx_sse_event {
    enum lx_sse_kind kind;
    struct lx_str event; /* the event: field; empty = none (the spec's default "message") */
    struct lx_str data;  /* data: lines joined with "\n"; for comments, the comment text */
    struct lx_str id;    /* the last event ID (persists across events, per the spec) */
    int64_t retry;       /* last valid retry: value in ms, -1 if none seen */
    bool has_data;       /* false only for LX_SSE_DATALESS events and comments */
};

/* Returns LX_OK to go on, or an LX_E* code that stops lx_sse_feed, which returns it. */
typedef int lx_sse_event_cb(void *ctx, const struct lx_sse_event *ev);

struct lx_sse_parser {
    size_t max_event;    /* bound on data + event + the line being read, in bytes */
    unsigned flags;      /* enum lx_sse_flag bits */
    int err;             /* sticky: once set, every feed returns it */
    unsigned bom_seen;   /* bytes of a leading BOM matched so far; 3 = start of stream done */
    bool cr_pending;     /* last byte seen was CR: an LF right after it is the same line end */
    bool has_data;       /* a data: line was seen in the current event */
    bool has_field;      /* an event: or id: line was seen in the current event */
    bool data_borrowed;  /* data points into the current chunk, not into data_buf */
    bool event_borrowed; /* event points into the current chunk, not into event_buf */
    struct lx_str data;  /* current event's data when borrowed */
    struct lx_str event; /* current event's type when borrowed */
    int64_t retry;       /* -1 until a valid retry: line */
    struct lx_buf line;  /* a line cut by the end of a chunk */
    struct lx_buf data_buf, event_buf, id_buf;
};

/* Prepares p; allocates nothing. max_event bounds one event's data + event type + the line
 * being read (a longer event or line gives LX_ETOOBIG). */
void lx_sse_init(struct lx_sse_parser *p, size_t max_event);
void lx_sse_set_flags(struct lx_sse_parser *p, unsigned flags); /* enum lx_sse_flag bits */

/* Parses chunk, calling cb for each complete event (and comment, with LX_SSE_COMMENTS).
 * Returns LX_OK; LX_ETOOBIG (event over max_event); LX_ENOMEM; or the first error cb returned.
 * Any error is sticky: the parser is then only good for lx_sse_release. The chunk is not kept
 * after the call returns. */
int lx_sse_feed(struct lx_sse_parser *p, struct lx_str chunk, lx_sse_event_cb *cb, void *ctx);

/* End of stream. Returns LX_OK if the stream ended between events, LX_ETRUNCATED if an event
 * (a data:, event: or id: line, or a partial non-comment line) was pending: the stream was cut
 * mid-event; that event is discarded as the spec says. Or the sticky error. Resets the event
 * state so the parser can take a new stream; the last event ID and retry are kept. */
int lx_sse_finish(struct lx_sse_parser *p);

void lx_sse_release(struct lx_sse_parser *p); /* frees buffers; p may be lx_sse_init'ed again */

#endif /* LX_SSE_H */
