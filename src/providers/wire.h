/* wire.h - the small helpers every provider adapter and front door needs (the shared adapter
 * toolkit): string concatenation into an arena, substring search, a UTF-8-safe cut, percent
 * encoding of a path segment, JSON member readers and writer shorthands, the request-body and
 * target (URL + headers) boilerplate, and the "never let the key travel in a message" checks;
 * and the pieces the OpenAI-like adapters (cohere, ollama, workers_ai) share: message, tool and
 * tool-call writers, the one-choice answer and tool-call decoders, embedding vectors, stream
 * delta sequences (start, text, calls, error, end) and error-body readers.
 *
 * Owned by the providers module; used only by the adapters in src/providers/. Pure functions
 * (STYLE.md 3.6): no I/O, no globals, no clock, no malloc outside a bounded lx_buf released
 * before return; all results live in the arena given (or are slices of the input); the stream
 * helpers change only the stream state given and call only the sink given. Any thread. */
#ifndef LX_PROVIDERS_WIRE_H
#define LX_PROVIDERS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "json/json.h"
#include "json/writer.h"
#include "providers/provider.h"

/* What a message that quoted our credential is replaced with. */
#define LX_WIRE_WITHHELD                                                                           \
    "the upstream rejected the credential (its message is withheld: it quoted the key)"

/* ---- strings ---------------------------------------------------------------------------- */

/* parts[0..n) joined, NUL-terminated, in a. LX_STR_NULL (ptr NULL) when out of memory. */
struct lx_str lx_wire_concat(struct lx_arena *a, const struct lx_str *parts, size_t n);
/* x then y, as lx_wire_concat. */
struct lx_str lx_wire_concat2(struct lx_arena *a, struct lx_str x, struct lx_str y);
/* Byte-exact substring search; an empty needle is never found. */
bool lx_wire_contains(struct lx_str hay, struct lx_str needle);
/* The same with a C string literal. */
bool lx_wire_contains_lit(struct lx_str hay, const char *lit);
/* ASCII case-insensitive search of lit (non-empty) in hay. */
bool lx_wire_contains_nocase(struct lx_str hay, const char *lit);
/* s cut to at most max bytes, never inside a UTF-8 sequence (a slice of s). */
struct lx_str lx_wire_cut_utf8(struct lx_str s, size_t max);
/* Percent-encodes everything but RFC 3986 unreserved characters (one URL path segment), in a.
 * LX_STR_NULL when out of memory. */
struct lx_str lx_wire_path_escape(struct lx_arena *a, struct lx_str s);

/* The text of every part of the given type, joined, in a; a slice of the part itself when
 * only one (or none: empty). LX_STR_NULL when out of memory. */
struct lx_str lx_wire_join_parts(const struct lx_part *parts, size_t n_parts,
                                 enum lx_part_type type, struct lx_arena *a);

/* True when s equals one of list[0..n). */
bool lx_wire_str_in(struct lx_str s, const char *const *list, size_t n);

/* ---- credentials in messages ------------------------------------------------------------ */

/* True when msg holds the whole key (keys shorter than 4 bytes are not looked for). */
bool lx_wire_quotes_key(struct lx_str msg, struct lx_str key);
/* msg, or LX_WIRE_WITHHELD when it quotes the key. */
struct lx_str lx_wire_withhold(struct lx_str msg, struct lx_str key);

/* ---- JSON ------------------------------------------------------------------------------- */

/* lx_json_init + lx_json_use_arena: tokens in a, nothing malloc'ed. */
void lx_wire_json_init(struct lx_json *doc, struct lx_arena *a);
/* lx_wire_json_init, then text parsed: true when it is a JSON object (token 0). */
bool lx_wire_parse_object(struct lx_json *doc, struct lx_arena *a, struct lx_str text);
/* The integer member key of obj, or -1 when absent, not an integer or negative. */
int64_t lx_wire_int(const struct lx_json *doc, int obj, const char *key);
/* The string member key of obj decoded into a: LX_OK with an empty *out when absent or null,
 * LX_EPARSE when another type, LX_ENOMEM. */
int lx_wire_str(const struct lx_json *doc, int obj, const char *key, struct lx_arena *a,
                struct lx_str *out);
/* "key": n's raw JSON number text, or nothing when n is unset. */
void lx_wire_write_num(struct lx_json_writer *w, const char *key, const struct lx_num *n);

/* The "arguments" token t of a tool call: an object's JSON text, a string decoded into a, "{}"
 * when absent or null. LX_EPARSE for another type, LX_ENOMEM. */
int lx_wire_tool_args(const struct lx_json *doc, int t, struct lx_arena *a, struct lx_str *args);

/* One element c of a "tool_calls" array: {"id", "function":{"name","arguments"}}, or (flat) also
 * the legacy {"id","name","arguments"} when it has no "function" object. The id, when absent or
 * empty, is made up from n (lx_wire_call_id); the name must not be empty; arguments as
 * lx_wire_tool_args. All in a. LX_EPARSE for another shape, LX_ENOMEM. */
int lx_wire_tool_call(const struct lx_json *doc, int c, int n, bool flat, struct lx_arena *a,
                      struct lx_str *id, struct lx_str *name, struct lx_str *args);

/* A JSON array of the strings v[0..n). */
void lx_wire_write_strs(struct lx_json_writer *w, const struct lx_str *v, size_t n);

/* ---- decoded answers: the one choice of a chat response, embedding vectors --------------- */

/* True when member t (say "tool_calls") is an array, null or absent; an array's length is added
 * to *cap (the parts to make room for). */
bool lx_wire_array_room(const struct lx_json *doc, int t, size_t *cap);
/* *ch and *parts: a choice and room for cap parts, zeroed, in a. LX_OK or LX_ENOMEM. */
int lx_wire_choice_alloc(struct lx_arena *a, size_t cap, struct lx_choice **ch,
                         struct lx_part **parts);
/* A part of the given type with text s at parts[*n], counted in, when s is not empty. */
void lx_wire_add_text(struct lx_part *parts, size_t *n, enum lx_part_type type, struct lx_str s);
/* ch becomes out's only choice: an assistant message of parts[0..n), finish and finish_raw. */
void lx_wire_choice_set(struct lx_chat_resp *out, struct lx_choice *ch, struct lx_part *parts,
                        size_t n, enum lx_finish finish, struct lx_str finish_raw);
/* Every element of the "tool_calls" array calls (absent or null: none) as a TOOL_CALL part
 * (lx_wire_tool_call, numbered from 0) at parts[*n], parts[*n + 1]...; *n counts them in. */
int lx_wire_call_parts(const struct lx_json *doc, int calls, bool flat, struct lx_arena *a,
                       struct lx_part *parts, size_t *n);
/* The JSON array of arrays of numbers arr -> out->vectors (the JSON text of each vector, in a)
 * and out->n_vectors. LX_EPARSE when it is not that (n_vectors then untouched), LX_ENOMEM. */
int lx_wire_vectors(const struct lx_json *doc, int arr, struct lx_arena *a,
                    struct lx_embed_resp *out);

/* ---- request bodies and targets --------------------------------------------------------- */

/* Sets err for a failed body encoder rc: 413 for LX_ETOOBIG, else 500 "could not encode the
 * upstream request". Returns rc. */
int lx_wire_encode_fail(struct lx_err *err, int rc);
/* The upstream model: the call's, else the one the request named (req_model). */
struct lx_str lx_wire_model(const struct lx_provider_call *call, struct lx_str req_model);
/* Begins a JSON request body: w writing into b, "{", then, when call is not NULL, "model":
 * lx_wire_model(call, req_model). Finish it with lx_wire_body_done. */
void lx_wire_body_open(struct lx_json_writer *w, struct lx_buf *b,
                       const struct lx_provider_call *call, struct lx_str req_model);
/* Finishes w (writing into b), copies b into a as *body and releases b. On error err is set
 * (lx_wire_encode_fail) and the code returned. */
int lx_wire_body_done(struct lx_json_writer *w, struct lx_buf *b, struct lx_arena *a,
                      struct lx_str *body, struct lx_err *err);
/* True when the call's provider is configured with `type: <type>`. */
bool lx_wire_type_is(const struct lx_provider_call *call, const char *type);
/* POST {base_url or default_base}{path} with Content-Type JSON, Accept (stream_accept for a
 * streamed chat call, else JSON), "Authorization: Bearer <key>" when there is a key, then the
 * configured headers not already set. All in a; on LX_ENOMEM err is set (500). */
int lx_wire_bearer_target(const struct lx_provider_call *call, struct lx_str default_base,
                          const char *path, struct lx_str stream_accept, struct lx_arena *a,
                          struct lx_upstream_req *out, struct lx_err *err);

/* ---- request bodies: messages and tools ------------------------------------------------- */

/* "system" (SYSTEM, DEVELOPER), "assistant" (ASSISTANT) or "user" (USER, TOOL). */
const char *lx_wire_role(enum lx_role role);

/* Writes message msg_i of req (an adapter's message writer). LX_OK or a code with err set. */
typedef int lx_wire_msg_fn(struct lx_json_writer *w, const struct lx_chat_req *req, size_t msg_i,
                           struct lx_arena *a, struct lx_err *err);
/* "messages": [every message of req through fn], stopping at the first that fails: its code
 * (the array is closed all the same). */
int lx_wire_write_msgs(struct lx_json_writer *w, const struct lx_chat_req *req, lx_wire_msg_fn *fn,
                       struct lx_arena *a, struct lx_err *err);

/* {"role":"tool","content":...} for a TOOL_RESULT part p of message msg_i: content is p's text,
 * or its sub parts' text joined; then id_key: p's id (when id_key is not NULL and the id is not
 * empty); then name_key: p's name, or the name of the call it answers (when known). */
void lx_wire_write_tool_result(struct lx_json_writer *w, const struct lx_chat_req *req,
                               size_t msg_i, const struct lx_part *p, const char *id_key,
                               const char *name_key, struct lx_arena *a);

/* How lx_wire_write_tool_calls writes one call. */
enum lx_wire_call_shape {
    LX_WIRE_CALL_OPENAI = 0, /* {"id","type":"function","function":{"name","arguments"}}: the
                              * arguments as a JSON string ("{}" when empty) */
    LX_WIRE_CALL_OBJECT,     /* {"function":{"name","arguments"}}: the arguments as the JSON
                              * object itself; {} when empty or not an object (Ollama) */
};
/* "tool_calls": [one entry per TOOL_CALL part of parts[0..n)], key included. a: the arguments'
 * parse tokens (OBJECT shape). */
void lx_wire_write_tool_calls(struct lx_json_writer *w, const struct lx_part *parts, size_t n,
                              enum lx_wire_call_shape shape, struct lx_arena *a);

/* One tool definition: {"type":"function","function":{"name","description","parameters"}}
 * (description only when not empty), or when flat the legacy {"name","description",
 * "parameters"} (description always). parameters: an empty object schema when it has none. */
void lx_wire_write_tool(struct lx_json_writer *w, const struct lx_tool *t, bool flat);
/* "tools": [...] (lx_wire_write_tool) for providers that have no tool_choice: nothing when
 * there are no tools or the choice is NONE; only the named tool when it is NAMED. */
void lx_wire_write_tools_chosen(struct lx_json_writer *w, const struct lx_chat_req *req, bool flat);

/* ---- stream decoding -------------------------------------------------------------------- */

/* A zeroed delta of the given type with unknown usage (LX_USAGE_INIT). */
void lx_wire_delta_init(struct lx_delta *d, enum lx_delta_type type);
/* Each usage field d knows (>= 0) overwrites u's: the running totals of a stream. */
void lx_wire_usage_merge(struct lx_usage *u, const struct lx_usage *d);
/* sink->emit(sink->ctx, d). */
int lx_wire_emit(const struct lx_delta_sink *sink, const struct lx_delta *d);
/* True when any of input, output or total is known (>= 0). */
bool lx_wire_usage_known(const struct lx_usage *u);
/* st->priv, allocated (size bytes, zeroed, in st->a) on the stream's first event; NULL when out
 * of memory. */
void *lx_wire_stream_priv(struct lx_stream_state *st, size_t size);
/* A START delta with id and name (either may be empty), once: nothing when *started. */
int lx_wire_emit_start(bool *started, struct lx_str id, struct lx_str name,
                       const struct lx_delta_sink *sink);
/* A delta of the given type with text s; nothing when s is empty. */
int lx_wire_emit_text(const struct lx_delta_sink *sink, enum lx_delta_type type, struct lx_str s);
/* The TOOL_CALL deltas of the "tool_calls" array calls (lx_wire_tool_call with flat, in s),
 * tool_index counted on from *n_calls. *bad (then LX_EPARSE; the caller's parse error) when an
 * element is not a call or there would be more than max calls; else LX_OK, LX_ENOMEM or the
 * sink's code. */
int lx_wire_emit_calls(const struct lx_json *doc, int calls, bool flat, int max, int *n_calls,
                       struct lx_arena *s, const struct lx_delta_sink *sink, bool *bad);
/* The stream failed with e (an error event of the upstream): an ERROR delta, st->failed. */
int lx_wire_stream_fail(struct lx_stream_state *st, const struct lx_delta_sink *sink,
                        const struct lx_upstream_error *e);
/* The stream's clean end: FINISH (finish, finish_raw), USAGE when usage is not NULL, then DONE
 * (st->done). Stops at the first delta the sink refuses. */
int lx_wire_stream_end(struct lx_stream_state *st, const struct lx_delta_sink *sink,
                       enum lx_finish finish, struct lx_str finish_raw,
                       const struct lx_usage *usage);
/* "call_<n>" in a, for providers whose tool calls may come without an id. LX_STR_NULL when out
 * of memory. */
struct lx_str lx_wire_call_id(struct lx_arena *a, int n);

/* ---- errors ----------------------------------------------------------------------------- */

/* call's key, or none when there is no call. */
struct lx_str lx_wire_call_key(const struct lx_provider_call *call);
/* An error body: lx_wire_json_init, then true when body is a JSON object (for the caller to read
 * its fields in doc); else false with *msg the body itself, trimmed and cut to max bytes
 * (lx_wire_cut_utf8). */
bool lx_wire_error_body(struct lx_json *doc, struct lx_str body, size_t max, struct lx_arena *a,
                        struct lx_str *msg);
/* out from scratch: status, type, the defaults they imply (lx_upstream_error_defaults) and
 * message msg, withheld when it quotes key (lx_wire_withhold). */
void lx_wire_error_set(struct lx_upstream_error *out, int status, enum lx_err_type type,
                       struct lx_str msg, struct lx_str key);
/* A "retry-after" header (seconds or an HTTP date) -> out->retry_after_ms; untouched when
 * there is none. */
void lx_wire_retry_after(const struct lx_provider_call *call, const struct lx_header *headers,
                         size_t n_headers, struct lx_upstream_error *out);
/* When out->message is empty: "upstream error (HTTP <status>)" in a. */
void lx_wire_default_message(struct lx_arena *a, int status, struct lx_upstream_error *out);

#endif /* LX_PROVIDERS_WIRE_H */
