/* anthropic.h - the Anthropic Messages wire format, both sides: the provider adapter
 * (lx_provider_anthropic, anthropic.c) and the front door for Anthropic clients
 * (lx_frontdoor_anthropic, anthropic_front.c), plus the pieces other modules reuse: the request
 * body (Vertex rawPredict and Bedrock InvokeModel send the same body with an
 * "anthropic_version" member and no model), the count_tokens answer, and a local token
 * estimate. Owned by the Anthropic adapter. Pure functions: no I/O, no globals, no clock; any
 * thread. Mapping tables and traps: docs/internals/anthropic.md. */
#ifndef LX_PROVIDERS_ANTHROPIC_H
#define LX_PROVIDERS_ANTHROPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "providers/provider.h"

#define LX_ANTHROPIC_VERSION "2023-06-01"

/* Appends the Messages API body for req to out (JSON, one object). model: written unless empty;
 * anthropic_version: written as a body member unless empty ("vertex-2023-10-16",
 * "bedrock-2023-05-31"); stream: "stream":true when set. max_tokens is always written
 * (defaulted when req has none). LX_OK; LX_EINVAL with err (400) for an IR Anthropic cannot
 * express (audio input, n > 1); out->err (LX_ENOMEM, LX_ETOOBIG: err 413/500) otherwise.
 * Temporary JSON tokens for tool-call arguments come from lx_malloc and are freed here. */
int lx_anthropic_encode_body(const struct lx_chat_req *req, struct lx_str model,
                             struct lx_str anthropic_version, bool stream, struct lx_buf *out,
                             struct lx_err *err);

/* The count_tokens answer: {"input_tokens":N}. out->err. */
int lx_anthropic_encode_count(int64_t input_tokens, struct lx_buf *out);

/* A local estimate of req's input tokens, for providers without a count endpoint: the bytes of
 * all text (system, messages, thinking, tool results), tool names, descriptions, schemas and
 * call arguments divided by 4 and rounded up, plus 3 per message and 1600 per image or
 * document. An estimate, not a tokenizer. LX_OK (LX_EINVAL for NULL arguments). */
int lx_anthropic_estimate_tokens(const struct lx_chat_req *req, int64_t *out);

/* ---- shared by anthropic.c and anthropic_front.c only ---- */

/* True if json is one JSON object (tool-call arguments Anthropic can take as "input").
 * Temporary tokens from lx_malloc, freed before return. */
bool lx__anthropic_is_object(struct lx_str json);

#endif /* LX_PROVIDERS_ANTHROPIC_H */
