/* relay_int.h - the relay of one request to its provider(s), shared by relay.c (the state
 * machine: attempts, upstream callbacks, writing to the client) and target.c (what each
 * attempt sends: the provider's URL, headers and body). Loop thread of the request only.
 *
 * Two modes per attempt:
 *   PASS       the client and the provider speak the same protocol (OpenAI client to an
 *              OpenAI-compatible or Azure provider, Anthropic to Anthropic, Gemini to Gemini):
 *              the client's body goes out with the few fields we must change spliced in, and
 *              the answer comes back as it is (stream events re-framed, read only for usage
 *              and the terminal event) - DESIGN.md's fast path;
 *   TRANSLATE  through the IR: the front door decodes the client's body once, the provider's
 *              adapter builds its request and decodes its answer or stream into IR, and the
 *              front door encodes that for the client.
 * A request whose candidates differ may change mode between attempts. */
#ifndef LX_GATEWAY_RELAY_INT_H
#define LX_GATEWAY_RELAY_INT_H

#include <stdbool.h>

#include "auth/auth.h"
#include "core/buf.h"
#include "gateway/gateway_int.h"
#include "providers/provider.h"
#include "providers/stream.h"
#include "gateway/fetch.h"
#include "gateway/token.h"
#include "router/router.h"
#include "router/strategy.h"
#include "sse/sse.h"
#include "json/json.h"

enum relay_state {
    RELAY_UPSTREAM = 0, /* transfer running, nothing sent to the client yet (a retry is safe) */
    RELAY_STREAMING,    /* the client has our head and events */
    RELAY_SENDING,      /* a complete (buffered) answer going out slice by slice */
    RELAY_FINISHING,    /* the client is gone or the server drains: waiting for on_done */
    RELAY_DONE          /* lx_http_resp_end called */
};

enum relay_mode {
    RELAY_PASS = 0,
    RELAY_TRANSLATE,
};

struct retry_timer;

/* Lives in the request's arena beside the parsed head and struct lx_gw_req: the first 4 KiB
 * block holds them all (about 3.3 KiB). A struct that pushes a plain request past that block
 * costs an 8 KiB block per request (W4: +4 KiB RSS per open stream), so whatever only some
 * requests need (the stream decoder, Vertex's per-attempt provider copy) is allocated apart. */
struct relay {
    struct lx_gw_req *g;
    struct lx_upstream *up;
    enum relay_state state;
    enum relay_mode mode;
    bool want_stream;         /* the client asked for a stream */
    bool upstream_sse;        /* the upstream's 2xx answer is decoded as a stream */
    bool done_seen;           /* the protocol's terminal event came (PASS) */
    bool paused;              /* upstream reading stopped for back-pressure */
    bool upstream_error_seen; /* the upstream sent its own error event */
    bool client_wants_usage;  /* OpenAI stream_options.include_usage was true */
    bool usage_injected;      /* we asked the upstream for usage: its usage-only chunk is ours */
    bool client_started;      /* our response head went out: errors now travel as events */
    int abort_reason;         /* 0, or why the server aborted the client side */
    struct lx_str content_type;
    struct lx_str retry_after; /* kept for the client on 429/503 */
    struct lx_header *up_resp_headers; /* the upstream's, on an error answer (map_error) */
    size_t n_up_resp_headers;
    struct lx_buf body;        /* non-streamed response (or an error body), bounded */
    size_t send_off;           /* SENDING: bytes of body already handed to the server */
    struct lx_buf out;         /* events to send, batched per upstream read */
    struct lx_sse_parser sse;  /* PASS streams */
    struct lx_json doc;        /* the client's body, tokenized (in the request arena) */
    struct lx_buf up_body;     /* PASS: the body for the provider when it differs */
    struct lx_header *up_headers;
    char *auth_value;             /* "Bearer <key>" in the arena; wiped when the arena goes */
    struct lx_str body_provider;  /* the body's "provider" field (S2, S3), or empty */
    struct lx_byok byok;          /* the client's own provider key, if it sent one */
    struct lx_route_result route; /* candidates, tried in order before the first byte */
    size_t cand_i;                /* the candidate of the current attempt */

    /* the adapters */
    const struct lx_frontdoor_ops *fdo;  /* the client's protocol (OpenAI when g->fd is NULL) */
    const struct lx_provider_ops *pops;  /* the attempt's provider */
    struct lx_provider_call call;        /* the attempt, as the adapters see it */
    struct lx_chat_req *ir;              /* decoded once, on the first translated attempt */
    struct lx_embed_req *eir;            /* the same for embeddings */
    struct lx_stream_decoder *dec;       /* TRANSLATE streams (in the arena, on first use) */
    bool dec_live;
    struct lx_fd_stream fds;             /* the front door's stream state */
    struct lx_stream_state pst;          /* PASS of Anthropic / Gemini: usage and end */
    struct lx_arena *scratch;            /* pst's scratch, made on first use */

    /* credentials resolved for the attempt (Vertex: an access token for a key file) */
    struct lx_str attempt_key;                 /* empty: relay_key() */
    struct lx_config_provider *attempt_conf;   /* the provider with the key file's project */
    bool use_attempt_conf;
    struct lx_token_waiter tw;
    bool waiting_token;

    /* the key pool of the attempt's provider (pool/pool.h, keys.c) */
    bool key_picked;            /* the attempt uses pool key key_index (not BYOK, not keyless) */
    size_t key_index;
    struct lx_str pool_key;     /* that key: borrowed from the snapshot */
    size_t tried[16];           /* key indices this request used on the current candidate */
    size_t n_tried;
    bool saw_cooling;           /* some candidate had keys that were all cooling down */
    bool saw_breaker_open;      /* some candidate was passed over for its open breaker */
    bool saw_unhealthy;         /* ... or because its provider fails its health checks */
    uint64_t soonest_cooling_ms;
    struct retry_timer *timer;  /* the backoff before the next attempt */

    /* the attempt's target ("provider/model") in the shared state: breaker, latency, load */
    struct lx_str target_id;
    const char *no_target_code; /* why no target was left: "no_usable_key", ... */
    const struct lx_route_plan *plan; /* the strategy's order (context-window fallback) */
    bool breaker_claimed;       /* lx_state_breaker_allow said yes: one report owed */
    bool inflight_counted;      /* +1 in flight for target_id: -1 owed */
    uint64_t attempt_start_ns;

    /* image URLs fetched and inlined for providers that cannot fetch them (fetch.h) */
    struct lx_gw_fetch *fetch;
    bool waiting_images, images_done;
};

/* target.c: builds the attempt's upstream request for candidate c in r->mode (chosen by
 * relay_choose_mode). LX_OK; a client error (LX_EINVAL, err->http_status 4xx: the request
 * cannot be expressed for this provider); LX_ENOMEM. */
enum relay_mode relay_choose_mode(const struct relay *r, const struct lx_config_provider *p);
int relay_build(struct relay *r, const struct lx_route_candidate *c, struct lx_upstream_req *ur,
                struct lx_err *err);
/* Decodes the client's body into r->ir (or r->eir) once; later calls do nothing. */
int relay_decode(struct relay *r, struct lx_err *err);
/* The key of this attempt: the client's own (BYOK) or the provider's first; empty for none. */
struct lx_str relay_key(const struct relay *r, const struct lx_config_provider *p);

#endif /* LX_GATEWAY_RELAY_INT_H */
