/* gemini.h - the Google Gemini API (AI Studio generateContent) wire code: the provider adapter
 * lx_provider_gemini and the front door lx_frontdoor_gemini (provider.h), plus the pieces
 * vertex.c reuses (the Vertex AI Gemini API has the same body, answer, stream and errors).
 * Owned by the Gemini adapter. Pure translators: no I/O, no globals, any thread.
 * Mapping tables and traps: docs/internals/gemini.md. */
#ifndef LX_PROVIDERS_GEMINI_H
#define LX_PROVIDERS_GEMINI_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "json/json.h"
#include "json/writer.h"
#include "providers/provider.h"

/* IR -> a GenerateContentRequest JSON body appended to out. LX_OK; LX_EINVAL (err: 400 and a
 * message) for an IR Gemini cannot express; out->err (LX_ENOMEM, LX_ETOOBIG) when the buffer
 * failed. Memory: out only (the tokenizer that validates tool arguments and schemas takes
 * transient tokens from lx_malloc and frees them before returning). */
int lx_gemini_encode_body(const struct lx_chat_req *req, struct lx_buf *out, struct lx_err *err);
/* The countTokens body: {"generateContentRequest":{"model":"models/<model>", ...}}, or
 * {"contents":[...]} when model is empty. Same results as lx_gemini_encode_body. */
int lx_gemini_encode_count_body(const struct lx_chat_req *req, struct lx_str model,
                                struct lx_buf *out, struct lx_err *err);
/* {"requests":[{"model":"models/<model>","content":{"parts":[{"text"}]},...}]} for
 * :batchEmbedContents. Returns out->err (or LX_EINVAL for no input). */
int lx_gemini_embed_body(const struct lx_embed_req *req, struct lx_str model, struct lx_buf *out);

/* The decoders, as in struct lx_provider_ops (vertex.c calls them for Gemini models).
 * parse_response reads a GenerateContentResponse, or a countTokens answer when
 * call->endpoint == LX_EP_COUNT_TOKENS. */
int lx_gemini_parse_response(const struct lx_provider_call *call, struct lx_str body,
                             struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err);
int lx_gemini_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                          const struct lx_delta_sink *sink, struct lx_err *err);
void lx_gemini_map_error(const struct lx_provider_call *call, int status,
                         const struct lx_header *headers, size_t n_headers, struct lx_str body,
                         struct lx_arena *a, struct lx_upstream_error *out);
int lx_gemini_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                               struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err);

/* Gemini's finishReason word -> IR finish (STOP stays STOP: the caller turns it into
 * TOOL_CALLS when the candidate has function calls). Unknown words -> STOP. */
enum lx_finish lx_gemini_finish(struct lx_str raw);

/* ---- shared by gemini.c and gemini_front.c only ---------------------------------------- */

enum lx__gemini_schema_mode {
    LX__GEMINI_SCHEMA_TO = 0, /* JSON Schema -> Gemini's OpenAPI subset (allow-list) */
    LX__GEMINI_SCHEMA_FROM,   /* Gemini Schema -> JSON Schema (lower-case types, nullable) */
};
/* Writes schema token i of doc, converted. Returns the writer's error. */
int lx__gemini_write_schema(struct lx_json_writer *w, const struct lx_json *doc, int i,
                            enum lx__gemini_schema_mode mode);
/* A made-up tool-call id, "call_<8 hex>_<index>", stable for (seed, name, choice, index).
 * LX_STR_NULL when a is out of memory. */
struct lx_str lx__gemini_call_id(struct lx_arena *a, struct lx_str seed, struct lx_str name,
                                 unsigned choice, unsigned index);

#endif /* LX_PROVIDERS_GEMINI_H */
