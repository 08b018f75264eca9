/* openai_wire.h - the OpenAI Chat Completions wire format as seen from the provider side, shared
 * by openai.c (lx_provider_openai: OpenAI and every OpenAI-compatible upstream) and azure.c
 * (lx_provider_azure). Owned by the OpenAI provider adapter; pure functions (arena memory only,
 * no I/O, no globals), callable from any thread.
 *
 * The gateway's fast path (an OpenAI client routed to an OpenAI-compatible upstream, body passed
 * through untouched) uses lx_openai_target / lx_azure_target for the method, URL and headers. */
#ifndef LX_PROVIDERS_OPENAI_WIRE_H
#define LX_PROVIDERS_OPENAI_WIRE_H

#include <stdbool.h>

#include "providers/provider.h"

/* Method POST, URL (path: "/chat/completions", "/completions" or "/embeddings") and headers
 * (Content-Type, Accept, credentials, the provider's configured headers), all in a. The body is
 * left empty for the caller. LX_OK, LX_EINVAL (bad path, no base_url) or LX_ENOMEM. */
int lx_openai_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                     struct lx_upstream_req *out);
/* Azure: deployment URL `{base}/openai/deployments/{model}{path}?api-version=V` when the
 * provider has an api_version, else the v1 URL `{base}/openai/v1{path}`; `api-key` header. */
int lx_azure_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                    struct lx_upstream_req *out);

/* ---- shared by openai.c and azure.c (not for other modules) ---- */

/* The chat body for req (model: call->model, or req->model when empty), copied into a. */
int lx_oai_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                     struct lx_arena *a, struct lx_str *body, struct lx_err *err);
/* The embeddings body (encoding_format always "float"). */
int lx_oai_embed_body(const struct lx_provider_call *call, const struct lx_embed_req *req,
                      struct lx_arena *a, struct lx_str *body, struct lx_err *err);
int lx_oai_parse_response(const struct lx_provider_call *call, struct lx_str body,
                          struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err);
int lx_oai_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                       const struct lx_delta_sink *sink, struct lx_err *err);
void lx_oai_map_error(const struct lx_provider_call *call, int status,
                      const struct lx_header *headers, size_t n_headers, struct lx_str body,
                      struct lx_arena *a, struct lx_upstream_error *out);
int lx_oai_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                            struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err);
/* finish_reason word -> IR (PROTOCOLS.md 7.1); unknown words are LX_FINISH_STOP. */
enum lx_finish lx_oai_finish(struct lx_str raw);

#endif /* LX_PROVIDERS_OPENAI_WIRE_H */
