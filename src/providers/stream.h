/* stream.h - one upstream stream decoded into IR deltas: the framing the provider uses (SSE,
 * NDJSON, AWS event-stream) feeding its parse_event, with a scratch arena reset after every
 * event so a long stream uses constant memory. Used by the gateway (one per translated
 * stream, on the request's loop thread) and by the adapters' replay tests. The decoder owns
 * its framing buffers and its scratch arena (lx_stream_decoder_release); the stream state's
 * long-lived arena is the caller's. */
#ifndef LX_PROVIDERS_STREAM_H
#define LX_PROVIDERS_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "providers/provider.h"
#include "sse/eventstream.h"
#include "sse/ndjson.h"
#include "sse/sse.h"

struct lx_stream_decoder {
    const struct lx_provider_ops *ops;
    enum lx_framing framing;
    union {
        struct lx_sse_parser sse;
        struct lx_ndjson ndjson;
        struct lx_es_decoder es;
    } fr;
    struct lx_stream_state st;
    struct lx_delta_sink sink;
    struct lx_err err;  /* what parse_event said when it failed */
    uint64_t n_events;  /* framed units handed to parse_event */
};

/* a: the arena for what lives as long as the stream (st.a); max_event bounds one framed unit.
 * LX_OK or LX_ENOMEM (the scratch arena). */
int lx_stream_decoder_init(struct lx_stream_decoder *d, const struct lx_provider_ops *ops,
                           const struct lx_provider_call *call, struct lx_arena *a,
                           size_t max_event, const struct lx_delta_sink *sink);
/* Upstream body bytes, split anywhere. LX_OK, a framing error (LX_EPARSE, LX_ETOOBIG, the
 * event-stream CRC errors), parse_event's error (d->err says more) or what the sink returned.
 * Errors are sticky. */
int lx_stream_decoder_feed(struct lx_stream_decoder *d, struct lx_str chunk);
/* The upstream body ended: LX_OK, or LX_ETRUNCATED when a unit was cut. Whether the protocol's
 * terminal event came is d->st.done. */
int lx_stream_decoder_finish(struct lx_stream_decoder *d);
void lx_stream_decoder_release(struct lx_stream_decoder *d);

#endif /* LX_PROVIDERS_STREAM_H */
