/* eventstream.h - incremental decoder for the AWS binary event stream
 * (application/vnd.amazon.eventstream, Bedrock ConverseStream and InvokeModelWithResponseStream).
 * Bytes go in as they arrive, split anywhere; whole frames come out through a callback, the
 * same frames however the input was split. Both CRC-32s (prelude and message) are checked before
 * a frame is handed out. The decoder is embedded by its owner (one per upstream stream), used by
 * one thread, and owns one buffer for a frame cut by a chunk end (lx_es_release). Slices in a
 * frame point into the caller's chunk or that buffer and are valid only during the callback.
 * See docs/internals/sse.md, "AWS event-stream framing". */
#ifndef LX_EVENTSTREAM_H
#define LX_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define LX_ES_MAX_FRAME_DEFAULT ((size_t)16 << 20) /* AWS's own limit: 16 MiB per message */
#define LX_ES_MIN_FRAME 16                         /* prelude (12) + message CRC (4) */

/* Header value types, as on the wire. */
enum lx_es_type {
    LX_ES_BOOL_TRUE = 0,
    LX_ES_BOOL_FALSE = 1,
    LX_ES_BYTE = 2,
    LX_ES_INT16 = 3,
    LX_ES_INT32 = 4,
    LX_ES_INT64 = 5,
    LX_ES_BYTES = 6,     /* u16 length + bytes */
    LX_ES_STRING = 7,    /* u16 length + UTF-8 bytes (not checked here) */
    LX_ES_TIMESTAMP = 8, /* int64 ms since the epoch */
    LX_ES_UUID = 9,      /* 16 bytes */
};

/* One header. value is the raw value bytes (empty for bools; the 16 bytes of a UUID; the
 * big-endian bytes of a number); num is the number (signed) for types 0-5 and 8, 1/0 for the
 * bools, 0 otherwise. */
struct lx_es_header {
    struct lx_str name;
    enum lx_es_type type;
    struct lx_str value;
    int64_t num;
};

/* A decoded frame. The four Bedrock headers are picked out (empty slice = absent; they must be
 * strings, and each may appear once); every header, these included, can be walked with
 * lx_es_header_next over `headers`. */
struct lx_es_frame {
    struct lx_str message_type;   /* ":message-type": "event", "exception" or "error" */
    struct lx_str event_type;     /* ":event-type": "contentBlockDelta", "chunk" ... */
    struct lx_str exception_type; /* ":exception-type": "throttlingException" ... */
    struct lx_str content_type;   /* ":content-type": "application/json" */
    struct lx_str headers;        /* the raw header block, already validated */
    struct lx_str payload;
};

/* Returns LX_OK to go on, or an LX_E* code that stops lx_es_feed, which returns it. */
typedef int lx_es_frame_cb(void *ctx, const struct lx_es_frame *f);

struct lx_es_decoder {
    size_t max_frame;   /* largest total_length accepted */
    int err;            /* sticky */
    struct lx_buf part; /* a frame cut by the end of a chunk */
};

/* Prepares d; allocates nothing. max_frame 0 means LX_ES_MAX_FRAME_DEFAULT; it is raised to
 * LX_ES_MIN_FRAME if smaller. */
void lx_es_init(struct lx_es_decoder *d, size_t max_frame);

/* Decodes chunk, calling cb for each complete frame. Returns LX_OK; LX_EPARSE (total length
 * under 16, headers past the end of the frame, a malformed header, a known header twice or not
 * a string, or a CRC mismatch); LX_ETOOBIG (total length over max_frame, seen from the first 12
 * bytes, before the rest is buffered); LX_ENOMEM; or the first error cb returned. Any error is
 * sticky: the decoder is then only good for lx_es_release. The chunk is not kept. */
int lx_es_feed(struct lx_es_decoder *d, struct lx_str chunk, lx_es_frame_cb *cb, void *ctx);

/* End of stream: LX_OK if it ended between frames, LX_ETRUNCATED if part of a frame was
 * pending (it is dropped), or the sticky error. Resets d for a new stream. */
int lx_es_finish(struct lx_es_decoder *d);

void lx_es_release(struct lx_es_decoder *d); /* frees the buffer; d may be lx_es_init'ed again */

/* Walks a validated header block: *pos starts at 0. Returns 1 and fills *h, 0 at the end, or
 * LX_EPARSE on a malformed block (never for f->headers of a delivered frame). */
int lx_es_header_next(struct lx_str headers, size_t *pos, struct lx_es_header *h);

/* CRC-32 (IEEE 802.3, zlib's crc32): pass 0 to start, the previous result to continue. */
uint32_t lx_es_crc32(uint32_t crc, const void *p, size_t n);

#endif /* LX_EVENTSTREAM_H */
