/* gateway_int.h - shared inside gateway/ only: the immutable gateway, the per-worker state,
 * and the per-request context that the route handlers fill in. */
#ifndef LX_GATEWAY_INT_H
#define LX_GATEWAY_INT_H

#include <stdint.h>

#include "core/buf.h"
#include "gateway/gateway.h"
#include "providers/provider.h"
#include "gateway/keys.h"
#include "gateway/probe.h"
#include "gateway/token.h"

struct lx_gateway {
    struct lx_gateway_config conf; /* conf.upstream.ca_file points at ca_file */
    char *ca_file;
    struct lx_config_slot slot; /* the current configuration snapshot */
    struct lx_state *state;     /* cooldowns, disabled keys, budgets: every worker (keys.c) */
    struct lx_pool_state_ops pool_ops; /* the pools' view of state */
    char redis_buf[512];               /* the parsed redis URL's strings (state/ keeps them) */
    struct lx_gw_health *health;       /* active health checks per provider (probe.h) */
};

struct lx_gateway_worker {
    struct lx_gateway *gw;
    uv_loop_t *loop;
    unsigned index;
    struct lx_upstream_ctx *up;
    struct lx_token_cache *tokens; /* OAuth2 access tokens (Vertex key files) of this loop */
    struct lx_gw_probe *probe;     /* worker 0 only: key probes and health checks (probe.h) */
    uint64_t rng;             /* xorshift state for request ids */
    uint64_t served;          /* requests finished on this worker */
    struct lx_buf access_log; /* lines of this loop iteration, written by flush_check */
    uv_check_t flush_check;   /* after each poll: one write(2) for all finished requests */
};

/* Per request, in the request's arena. */
struct relay;
struct native;

struct lx_gw_req {
    char id[40];               /* X-Request-Id: the client's (if sane) or "req_<hex>" */
    struct lx_str cors_origin; /* the client's Origin when the configuration allows it */
    struct lx_header extra[4]; /* X-Request-Id and CORS headers for every response */
    size_t n_extra;
    struct lx_http_req *req;
    struct lx_gateway_worker *w;
    uint64_t t_start_ns;
    uint64_t t_first_byte_ns;  /* first byte of the response to the client; 0 = none yet */
    const char *route;         /* "chat.completions", "health", ... for the access log */
    struct lx_str model;       /* as the client asked, for the access log */
    const char *provider;      /* the provider chosen (config name), NULL before routing */
    const char *upstream_path; /* appended to the provider's base_url: "/chat/completions" */
    unsigned attempts;         /* upstream transfers started (failover adds more) */
    struct {                   /* tokens as the provider reported them; -1 = not reported */
        int64_t prompt, completion, total, cached, reasoning;
        bool have;
    } usage;
    int status;              /* status sent to the client */
    int upstream_status;     /* 0 = no upstream response */
    const char *error_class; /* NULL, or a short name: "upstream_timeout", "bad_json" ... */
    bool stream;
    /* The client's protocol: fd NULL is the OpenAI API (its fast path needs no front door
     * until a provider of another protocol is chosen). Errors go out in this protocol. */
    const struct lx_frontdoor_ops *fd;
    enum lx_ir_source src;
    enum lx_endpoint endpoint;
    bool legacy_completion;  /* POST /v1/completions */
    struct lx_str url_model; /* Gemini front door: the model in the path, decoded */
    struct relay *relay;   /* relay.c's state for a relayed request */
    struct native *native; /* native.c's, for /api/{provider}/... */
    struct lx_config *cfg; /* the snapshot this request runs on; unref'd with the arena */
};

struct lx_gw_req *lx__gw_req_new(struct lx_http_req *req);
/* Starts a response with h plus the request's extra headers (X-Request-Id, CORS). */
int lx__gw_resp_start(struct lx_gw_req *g, int status, const struct lx_header *h, size_t n,
                      int64_t content_length);
void lx__gw_access_log(const struct lx_gw_req *g);
/* "<prefix><key>" copied into a and zeroed when a goes; *keep (may be NULL) gets the copy.
 * LX_STR_NULL when out of memory. */
struct lx_str lx__gw_secret_value(struct lx_arena *a, const char *prefix, struct lx_str key,
                                  char **keep);
/* Writes an error in the client's protocol (g->src) with h (Retry-After ...) and the extra
 * headers; the caller ends the request. */
void lx__gw_write_error(struct lx_gw_req *g, int status, enum lx_err_type type,
                        struct lx_str message, struct lx_str code, const struct lx_header *h,
                        size_t n);
/* Sends an error in the client's protocol, records it for the access log, ends the request. */
void lx__gw_fail(struct lx_gw_req *g, int status, const char *message, const char *code,
                 const char *error_class);
void lx__gw_chat_completions(struct lx_gw_req *g);
void lx__gw_completions(struct lx_gw_req *g);
void lx__gw_embeddings(struct lx_gw_req *g);
void lx__gw_models(struct lx_gw_req *g);
void lx__gw_health(struct lx_gw_req *g);
void lx__gw_model_options(struct lx_gw_req *g);
void lx__gw_route_check(struct lx_gw_req *g);
void lx__gw_messages(struct lx_gw_req *g);       /* POST /v1/messages (Anthropic) */
void lx__gw_count_tokens(struct lx_gw_req *g);   /* POST /v1/messages/count_tokens */
void lx__gw_gemini(struct lx_gw_req *g);         /* POST /v1beta/models/{model}:{method} */
void lx__gw_native(struct lx_gw_req *g);         /* ANY /api/{provider}/{path} */

#endif /* LX_GATEWAY_INT_H */
