/* provider.h - the two adapter interfaces that meet in the IR (ir.h), STYLE.md 3.6:
 *
 *   struct lx_provider_ops   one per upstream wire protocol: IR request -> the provider's URL,
 *                            headers and body; its answer, stream events and errors -> IR.
 *   struct lx_frontdoor_ops  one per client protocol (OpenAI, Anthropic, Gemini): the client's
 *                            body -> IR request; IR answer, deltas and errors -> the client's
 *                            own bytes.
 *
 * Adapters are pure translators: no I/O, no globals, no clock (the time comes in the call),
 * every allocation in the arena they are given (so no cleanup paths), replayable from fixtures
 * and fuzzable. Encoders write into a struct lx_buf (bounded, sticky error). Functions return
 * LX_OK or a negative LX_E* code; client-visible failures also fill struct lx_err (status and a
 * message that never holds a key or prompt text).
 *
 * Registry (registry.c): an explicit list; lx_provider_for(proto) and lx_frontdoor_for(src). */
#ifndef LX_PROVIDERS_PROVIDER_H
#define LX_PROVIDERS_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/header.h"
#include "providers/ir.h"
#include "upstream/upstream.h"

enum lx_provider_cap {
    LX_CAP_STREAM = 1u << 0,
    LX_CAP_TOOLS = 1u << 1,
    LX_CAP_VISION = 1u << 2,
    LX_CAP_EMBEDDINGS = 1u << 3,
    LX_CAP_IMAGE_URL = 1u << 4, /* fetches http(s) image URLs itself; else the gateway inlines */
    LX_CAP_COUNT_TOKENS = 1u << 5,
};

/* How a streamed answer is framed on the wire; the gateway runs the matching decoder and hands
 * each unit to parse_event. */
enum lx_framing {
    LX_FRAMING_SSE = 0,     /* text/event-stream (sse/sse.h) */
    LX_FRAMING_NDJSON,      /* one JSON object per line (Ollama) */
    LX_FRAMING_EVENTSTREAM, /* application/vnd.amazon.eventstream (Bedrock) */
};

enum lx_endpoint {
    LX_EP_CHAT = 0,
    LX_EP_EMBEDDINGS,
    LX_EP_COUNT_TOKENS,
};

/* One attempt, as the gateway prepared it. Borrowed for the call only. */
struct lx_provider_call {
    const struct lx_config_provider *conf; /* base_url, type, extra headers, api_version ... */
    struct lx_str model;  /* the upstream model (alias resolved, "provider/" prefix removed) */
    struct lx_str key;    /* the credential of this attempt; empty = none (local backends).
                           * bedrock: "ACCESS_KEY_ID:SECRET[:SESSION_TOKEN]" for SigV4, or a
                           * Bedrock API key (Bearer); vertex: an OAuth2 access token */
    enum lx_endpoint endpoint;
    bool stream;
    int64_t now_s;        /* unix seconds, for signatures */
};

/* One framed unit of a streamed answer. */
struct lx_stream_event {
    struct lx_str event; /* SSE event: field; event-stream :event-type (or :exception-type when
                          * exception); empty for NDJSON */
    struct lx_str data;  /* SSE data (lines joined); an NDJSON line; an event-stream payload */
    bool exception;      /* event-stream :message-type "exception" (or "error") */
};

/* Per-stream state of a decoder, zeroed by the gateway before the first event. */
struct lx_stream_state {
    const struct lx_provider_call *call;
    struct lx_arena *a;       /* lives as long as the stream: for what must last across events
                               * (call ids and names by index); use sparingly */
    struct lx_arena *scratch; /* reset by the gateway after every event: JSON tokens, unescaped
                               * strings, anything a delta points to */
    void *priv;               /* adapter-owned, allocated in a on the first event */
    bool done;                /* the adapter saw the protocol's terminal event */
    bool failed;              /* the adapter saw an error event (it emitted LX_DELTA_ERROR) */
};

struct lx_provider_ops {
    const char *name; /* "anthropic" */
    unsigned caps;    /* enum lx_provider_cap */
    enum lx_framing framing;
    /* IR -> method, URL, headers (credentials included) and body, all in a. For LX_EP_CHAT and
     * LX_EP_COUNT_TOKENS. An IR the provider cannot express (an audio part to a provider
     * without audio) is an LX_EINVAL with err->http_status 400 and a message. */
    int (*build_request)(const struct lx_provider_call *call, const struct lx_chat_req *req,
                         struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err);
    /* A complete 2xx body -> answer. LX_EPARSE (err filled) when it is not the provider's
     * answer. count_tokens answers fill usage.input only. */
    int (*parse_response)(const struct lx_provider_call *call, struct lx_str body,
                          struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err);
    /* One unit of a 2xx stream -> zero or more deltas, in order. Sets st->done on the terminal
     * event; an error inside the stream is an LX_DELTA_ERROR delta (and st->failed), not a
     * return code. Returns LX_EPARSE for bytes that are not the protocol (the stream is then
     * broken), or what sink->emit returned. */
    int (*parse_event)(struct lx_stream_state *st, const struct lx_stream_event *ev,
                       const struct lx_delta_sink *sink, struct lx_err *err);
    /* A non-2xx answer -> classified error (message and code may point into body or a).
     * headers: the response's, for Retry-After and friends. Never fails. */
    void (*map_error)(const struct lx_provider_call *call, int status,
                      const struct lx_header *headers, size_t n_headers, struct lx_str body,
                      struct lx_arena *a, struct lx_upstream_error *out);
    /* Embeddings; NULL when the provider has none (caps lacks LX_CAP_EMBEDDINGS). */
    int (*build_embeddings)(const struct lx_provider_call *call, const struct lx_embed_req *req,
                            struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err);
    int (*parse_embeddings)(const struct lx_provider_call *call, struct lx_str body,
                            struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err);
};

/* ---- front doors ------------------------------------------------------------------------ */

/* Per-stream state of an encoder, zeroed by the gateway before the first delta. */
struct lx_fd_stream {
    const struct lx_chat_req *req; /* the decoded request (model as the client named it) */
    struct lx_arena *a;            /* lives as long as the stream */
    void *priv;                    /* encoder-owned, allocated in a */
    struct lx_str id;              /* the response id the encoder chose (set by it) */
    int64_t created;               /* unix seconds, set by the gateway */
    struct lx_usage usage;         /* merged from USAGE deltas by the encoder: for the ledger */
    bool started;                  /* the encoder wrote its opening event(s) */
    bool finished;                 /* the encoder wrote its terminal event(s) */
};

struct lx_frontdoor_ops {
    const char *name; /* "openai" */
    enum lx_ir_source source;
    /* The client's body -> IR, in a. A bad request is LX_EINVAL with err->http_status (400)
     * and a message in the client's terms ("messages: at least one message is required"). */
    int (*decode_request)(struct lx_str body, struct lx_arena *a, struct lx_chat_req *out,
                          struct lx_err *err);
    /* A complete answer -> the client's JSON body. created: unix seconds. */
    int (*encode_response)(const struct lx_chat_req *req, const struct lx_chat_resp *resp,
                           int64_t created, struct lx_buf *out);
    /* One delta -> zero or more events in the client's stream format (SSE bytes). LX_DELTA_DONE
     * writes the terminal events; LX_DELTA_ERROR writes the client's stream error event. */
    int (*encode_delta)(struct lx_fd_stream *st, const struct lx_delta *d, struct lx_buf *out);
    /* An error answer (before any byte of a response went out) -> status stays the caller's;
     * writes the client's error JSON. */
    int (*encode_error)(int status, enum lx_err_type type, struct lx_str message,
                        struct lx_str code, struct lx_buf *out);
    /* An error in the middle of a stream, in the client's stream format. */
    int (*encode_stream_error)(struct lx_fd_stream *st, enum lx_err_type type,
                               struct lx_str message, struct lx_buf *out);
};

/* ---- registry (registry.c) -------------------------------------------------------------- */

/* The adapter for a configured provider's protocol; NULL for LX_CONFIG_PROTO_OPENAI's fast path
 * is never returned: every proto has one. */
const struct lx_provider_ops *lx_provider_for(enum lx_config_proto proto);
const struct lx_frontdoor_ops *lx_frontdoor_for(enum lx_ir_source src);

extern const struct lx_provider_ops lx_provider_openai;
extern const struct lx_provider_ops lx_provider_azure;
extern const struct lx_provider_ops lx_provider_anthropic;
extern const struct lx_provider_ops lx_provider_gemini;
extern const struct lx_provider_ops lx_provider_vertex;
extern const struct lx_provider_ops lx_provider_bedrock;
extern const struct lx_provider_ops lx_provider_cohere;
extern const struct lx_provider_ops lx_provider_ollama;
extern const struct lx_provider_ops lx_provider_workers_ai;

extern const struct lx_frontdoor_ops lx_frontdoor_openai;
extern const struct lx_frontdoor_ops lx_frontdoor_anthropic;
extern const struct lx_frontdoor_ops lx_frontdoor_gemini;

#endif /* LX_PROVIDERS_PROVIDER_H */
