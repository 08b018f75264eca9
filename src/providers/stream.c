/* stream.c - framing + parse_event for one upstream stream (stream.h). */
#include "providers/stream.h"

#include <string.h>

#include "core/arena.h"

#define SCRATCH_FIRST_BLOCK 8192
#define SCRATCH_FACTOR 16 /* a unit may need this many times its size in scratch */

static int deliver(struct lx_stream_decoder *d, const struct lx_stream_event *ev)
{
    int rc;

    d->n_events++;
    rc = d->ops->parse_event(&d->st, ev, &d->sink, &d->err);
    lx_arena_reset(d->st.scratch);
    return rc;
}

static int on_sse(void *ctx, const struct lx_sse_event *ev)
{
    struct lx_stream_event se = {ev->event, ev->data, false};

    if (ev->kind != LX_SSE_EVENT)
        return LX_OK;
    return deliver(ctx, &se);
}

static int on_line(void *ctx, struct lx_str line)
{
    struct lx_stream_event se = {LX_STR_NULL, line, false};

    return deliver(ctx, &se);
}

static int on_frame(void *ctx, const struct lx_es_frame *f)
{
    bool exc = !lx_str_eq(f->message_type, LX_STR("event"));
    struct lx_stream_event se = {exc ? f->exception_type : f->event_type, f->payload, exc};

    if (lx_str_eq(f->message_type, LX_STR("error"))) {
        /* an "error" frame names itself in :error-code, not :exception-type */
        struct lx_es_header h;
        size_t pos = 0;

        while (lx_es_header_next(f->headers, &pos, &h) == 1)
            if (lx_str_eq(h.name, LX_STR(":error-code")))
                se.event = h.value;
    }
    return deliver(ctx, &se);
}

int lx_stream_decoder_init(struct lx_stream_decoder *d, const struct lx_provider_ops *ops,
                           const struct lx_provider_call *call, struct lx_arena *a,
                           size_t max_event, const struct lx_delta_sink *sink)
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->framing = ops->framing;
    d->sink = *sink;
    d->st.call = call;
    d->st.a = a;
    d->st.scratch = lx_arena_new(SCRATCH_FIRST_BLOCK, max_event * SCRATCH_FACTOR + (1u << 20));
    if (d->st.scratch == NULL)
        return LX_ENOMEM;
    switch (d->framing) {
    case LX_FRAMING_SSE: lx_sse_init(&d->fr.sse, max_event); break;
    case LX_FRAMING_NDJSON: lx_ndjson_init(&d->fr.ndjson, max_event); break;
    case LX_FRAMING_EVENTSTREAM: lx_es_init(&d->fr.es, max_event); break;
    }
    return LX_OK;
}

int lx_stream_decoder_feed(struct lx_stream_decoder *d, struct lx_str chunk)
{
    switch (d->framing) {
    case LX_FRAMING_SSE: return lx_sse_feed(&d->fr.sse, chunk, on_sse, d);
    case LX_FRAMING_NDJSON: return lx_ndjson_feed(&d->fr.ndjson, chunk, on_line, d);
    case LX_FRAMING_EVENTSTREAM: return lx_es_feed(&d->fr.es, chunk, on_frame, d);
    }
    return LX_EINVAL;
}

int lx_stream_decoder_finish(struct lx_stream_decoder *d)
{
    switch (d->framing) {
    case LX_FRAMING_SSE: return lx_sse_finish(&d->fr.sse);
    case LX_FRAMING_NDJSON: return lx_ndjson_finish(&d->fr.ndjson);
    case LX_FRAMING_EVENTSTREAM: return lx_es_finish(&d->fr.es);
    }
    return LX_EINVAL;
}

void lx_stream_decoder_release(struct lx_stream_decoder *d)
{
    switch (d->framing) {
    case LX_FRAMING_SSE: lx_sse_release(&d->fr.sse); break;
    case LX_FRAMING_NDJSON: lx_ndjson_release(&d->fr.ndjson); break;
    case LX_FRAMING_EVENTSTREAM: lx_es_release(&d->fr.es); break;
    }
    lx_arena_free(d->st.scratch);
    d->st.scratch = NULL;
}
