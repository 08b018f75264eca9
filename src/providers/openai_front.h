/* openai_front.h - the OpenAI front door: what an OpenAI client (the `openai` SDKs) sends when
 * the gateway routes it to a provider of another protocol, decoded into the IR (ir.h), and the
 * IR answer, stream deltas and errors encoded back into the bytes the OpenAI API would have
 * sent. The chat endpoint is the vtable lx_frontdoor_openai (provider.h); the legacy
 * completions and the embeddings endpoints are the functions below.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock, decoders allocate only in the
 * arena given, encoders append to the caller's bounded struct lx_buf. Any thread, one owner.
 * Mapping tables and traps: docs/internals/frontdoor-openai.md. */
#ifndef LX_PROVIDERS_OPENAI_FRONT_H
#define LX_PROVIDERS_OPENAI_FRONT_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "providers/ir.h"

/* The separator of LiteLLM's convention for a Gemini thought signature carried inside an OpenAI
 * tool-call id: "<id>__thought__<signature>". */
#define LX_OPENAI_THOUGHT_SEP "__thought__"

/* POST /v1/completions body -> IR (legacy_completion set, the prompt as one user message,
 * max_tokens 16 when not given, as OpenAI does). Several prompts, token prompts and `suffix`
 * are LX_EINVAL with err (400). */
int lx_openai_decode_completion(struct lx_str body, struct lx_arena *a, struct lx_chat_req *out,
                                struct lx_err *err);

/* POST /v1/embeddings body -> IR. input: a string or an array of strings (token arrays are
 * LX_EINVAL: this decoder only serves providers that are not OpenAI-compatible, which cannot
 * take tokens); encoding_format "float" | "base64"; dimensions. */
int lx_openai_decode_embeddings(struct lx_str body, struct lx_arena *a, struct lx_embed_req *out,
                                struct lx_err *err);

/* IR embeddings -> {"object":"list","data":[...],"model","usage"}. The model is the one the
 * client named (req->model; resp->model when that is empty). With req->base64 each vector is
 * the base64 of its numbers as float32 little-endian. LX_EPARSE when a vector is not a JSON
 * array of numbers; else out->err. */
int lx_openai_encode_embeddings(const struct lx_embed_req *req, const struct lx_embed_resp *resp,
                                struct lx_buf *out);

#endif /* LX_PROVIDERS_OPENAI_FRONT_H */
