/* wire.h - the small helpers every provider adapter and front door needs (the shared adapter
 * toolkit): string concatenation into an arena, substring search, a UTF-8-safe cut, percent
 * encoding of a path segment, JSON member readers and writer shorthands, the request-body and
 * target (URL + headers) boilerplate, and the "never let the key travel in a message" checks.
 *
 * Owned by the providers module; used only by the adapters in src/providers/. Pure functions
 * (STYLE.md 3.6): no I/O, no globals, no clock, no malloc outside a bounded lx_buf released
 * before return; all results live in the arena given (or are slices of the input). Any thread. */
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

/* A JSON array of the strings v[0..n). */
void lx_wire_write_strs(struct lx_json_writer *w, const struct lx_str *v, size_t n);

/* ---- request bodies and targets --------------------------------------------------------- */

/* Sets err for a failed body encoder rc: 413 for LX_ETOOBIG, else 500 "could not encode the
 * upstream request". Returns rc. */
int lx_wire_encode_fail(struct lx_err *err, int rc);
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

/* ---- stream decoding -------------------------------------------------------------------- */

/* A zeroed delta of the given type with unknown usage (LX_USAGE_INIT). */
void lx_wire_delta_init(struct lx_delta *d, enum lx_delta_type type);
/* Each usage field d knows (>= 0) overwrites u's: the running totals of a stream. */
void lx_wire_usage_merge(struct lx_usage *u, const struct lx_usage *d);
/* sink->emit(sink->ctx, d). */
int lx_wire_emit(const struct lx_delta_sink *sink, const struct lx_delta *d);
/* True when any of input, output or total is known (>= 0). */
bool lx_wire_usage_known(const struct lx_usage *u);
/* "call_<n>" in a, for providers whose tool calls may come without an id. LX_STR_NULL when out
 * of memory. */
struct lx_str lx_wire_call_id(struct lx_arena *a, int n);

/* ---- errors ----------------------------------------------------------------------------- */

/* A "retry-after" header (seconds or an HTTP date) -> out->retry_after_ms; untouched when
 * there is none. */
void lx_wire_retry_after(const struct lx_provider_call *call, const struct lx_header *headers,
                         size_t n_headers, struct lx_upstream_error *out);
/* When out->message is empty: "upstream error (HTTP <status>)" in a. */
void lx_wire_default_message(struct lx_arena *a, int status, struct lx_upstream_error *out);

#endif /* LX_PROVIDERS_WIRE_H */
