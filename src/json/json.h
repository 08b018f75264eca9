/* json.h - strict RFC 8259 tokenizer: one pass over the input makes a flat array of tokens that
 * point into it (no allocation per value), plus the helpers that read those tokens.
 * A struct lx_json belongs to its caller; it borrows the input, which must outlive every use of
 * the tokens. The token array comes from lx_malloc (default), from an arena, or from a fixed
 * array the caller lends. Pure code: any thread, one owner per document.
 *
 * Tokens are in document order (pre-order). A container's `next` is the index one past its last
 * descendant, so lx_json_next() skips a subtree in O(1). An object's children alternate key
 * (a string token) and value; its `count` is the number of members, an array's the number of
 * elements. Strict: valid UTF-8 in strings (no overlongs, no encoded surrogates, nothing past
 * U+10FFFF), no lone surrogate \u escapes, no raw control characters, no trailing bytes other
 * than whitespace, a depth limit, a token limit, and duplicate keys (compared after unescaping)
 * rejected unless LX_JSON_ALLOW_DUPKEYS. Numbers are checked against the RFC grammar and kept as
 * their bytes; lx_json_int64() and friends convert on request. */
#ifndef LX_JSON_H
#define LX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

struct lx_arena;

enum lx_json_type {
    LX_JSON_NONE = 0, /* not a token: what lx_json_type() says for a bad index */
    LX_JSON_OBJECT,
    LX_JSON_ARRAY,
    LX_JSON_STRING,
    LX_JSON_NUMBER,
    LX_JSON_TRUE,
    LX_JSON_FALSE,
    LX_JSON_NULL,
};

enum lx_json_tok_flag {
    LX_JSON_ESCAPED = 1u << 0, /* string token holds at least one backslash escape */
};

#define LX_JSON_MAX_COUNT 0xFFFFFFu /* count is 24 bits: the token limit is clamped to this */

struct lx_json_tok {
    uint32_t start;     /* offset in the input; strings: first byte after the opening quote */
    uint32_t len;       /* strings: raw bytes between the quotes; containers: through the bracket */
    uint32_t next;      /* index one past the last token of this subtree (scalars: own index + 1) */
    unsigned type : 4;  /* enum lx_json_type */
    unsigned flags : 4; /* enum lx_json_tok_flag */
    unsigned count : 24; /* containers: members (objects) or elements (arrays) */
};

enum lx_json_opt_flag {
    LX_JSON_ALLOW_DUPKEYS = 1u << 0, /* skip the duplicate-key check (syntax only) */
};

#define LX_JSON_DEFAULT_DEPTH 64
#define LX_JSON_DEFAULT_TOKENS (1u << 20)
#define LX_JSON_DEFAULT_MAX_LEN (64u << 20)

struct lx_json_opts {
    unsigned max_depth;  /* nesting levels; 0 = LX_JSON_DEFAULT_DEPTH */
    uint32_t max_tokens; /* 0 = LX_JSON_DEFAULT_TOKENS; clamped to LX_JSON_MAX_COUNT */
    size_t max_len;      /* input bytes; 0 = LX_JSON_DEFAULT_MAX_LEN; at most UINT32_MAX - 1 */
    unsigned flags;      /* enum lx_json_opt_flag */
};

struct lx_json {
    const char *src; /* borrowed input of the last parse; not NUL-terminated */
    size_t len;
    struct lx_json_tok *toks;
    uint32_t ntoks, cap;
    int err;        /* LX_OK or the code lx_json_parse() returned */
    size_t err_off; /* byte offset of the error (len for truncated input) */
    /* private */
    struct lx_json_opts opts;
    struct lx_arena *arena; /* token and scratch memory source when not NULL */
    bool fixed;             /* toks lent by the caller: never grown or freed */
    uint32_t *scratch;      /* key indexes for the duplicate check of big objects */
    size_t scratch_cap;
};

/* Prepares an empty document. opts NULL = defaults. Tokens will come from lx_malloc and be freed
 * by lx_json_release(). No allocation here. */
void lx_json_init(struct lx_json *doc, const struct lx_json_opts *opts);
/* Token (and scratch) memory comes from a: nothing to release, it lives as long as a, and later
 * parses of doc reuse it. Call this on a fresh lx_json_init() document (memory already taken
 * from lx_malloc would leak), and again after lx_arena_reset(a). */
void lx_json_use_arena(struct lx_json *doc, struct lx_arena *a);
/* Tokens go into the caller's array of cap tokens: a document that needs more fails with
 * LX_ETOOBIG. Scratch for the duplicate check of objects with more than 16 keys still comes from
 * lx_malloc, so call lx_json_release() afterwards. */
void lx_json_use_array(struct lx_json *doc, struct lx_json_tok *toks, uint32_t cap);

/* Tokenizes src[0..len) (never reads past len). May be called again on the same document: the
 * token memory is reused. Returns LX_OK, or LX_EPARSE (syntax), LX_EUTF8 (bad UTF-8 or lone
 * surrogate escape), LX_EDEPTH, LX_EDUPKEY, LX_ETOOBIG (input or token limit), LX_ENOMEM; then
 * doc->err_off is the byte offset of the problem and doc->ntoks is 0. Root token is index 0. */
int lx_json_parse(struct lx_json *doc, const char *src, size_t len);
/* Frees what lx_json_parse() allocated with lx_malloc; doc can be parsed into again. */
void lx_json_release(struct lx_json *doc);

/* ---- reading tokens. Indexes are int; -1 means "none" and is accepted everywhere. ---- */

static inline enum lx_json_type lx_json_type(const struct lx_json *doc, int i)
{
    return i >= 0 && (uint32_t)i < doc->ntoks ? (enum lx_json_type)doc->toks[i].type : LX_JSON_NONE;
}
/* Index of the token after i's subtree: its next sibling, or past its parent's end. Here and in
 * lx_json_count() i must be a valid index (0 <= i < ntoks). */
static inline int lx_json_next(const struct lx_json *doc, int i) { return (int)doc->toks[i].next; }
static inline uint32_t lx_json_count(const struct lx_json *doc, int i)
{
    return doc->toks[i].count;
}

/* Iterate the elements of array a: for (int e = lx_json_first(doc, a); e >= 0;
 * e = lx_json_sibling(doc, a, e)). For an object, the same loop visits its keys; the value of
 * key k is k + 1, and lx_json_sibling(doc, obj, k) steps over the value to the next key. */
int lx_json_first(const struct lx_json *doc, int container); /* -1 if empty or not a container */
int lx_json_sibling(const struct lx_json *doc, int container, int child); /* -1 after the last */

/* Value of key in object obj (keys compared after unescaping), or -1 (absent, or obj is not an
 * object). */
int lx_json_get(const struct lx_json *doc, int obj, struct lx_str key);

/* The token's bytes as they are in the input: strings with their quotes, containers from
 * bracket to bracket. For verbatim copies. LX_STR_NULL for a bad index. */
struct lx_str lx_json_raw(const struct lx_json *doc, int i);
/* A string token's raw span between the quotes (escapes not decoded). */
struct lx_str lx_json_str_raw(const struct lx_json *doc, int i);
/* True if string token i decodes to exactly lit. False for non-strings. */
bool lx_json_str_eq(const struct lx_json *doc, int i, struct lx_str lit);
/* Appends the decoded string to out. LX_EINVAL if i is not a string; else out->err. */
int lx_json_unescape(const struct lx_json *doc, int i, struct lx_buf *out);
/* Decoded string as a slice: the input bytes themselves when the string has no escapes (no
 * copy), else a copy decoded into a (NUL-terminated). LX_EINVAL, LX_ENOMEM or LX_OK. */
int lx_json_str(const struct lx_json *doc, int i, struct lx_arena *a, struct lx_str *out);

/* Number conversions. Integers must be written as integers (no fraction, no exponent):
 * LX_EINVAL for anything else (including non-numbers), LX_ETOOBIG when out of range. */
int lx_json_int64(const struct lx_json *doc, int i, int64_t *out);
int lx_json_uint64(const struct lx_json *doc, int i, uint64_t *out);
/* strtod on a bounded copy. LX_ETOOBIG when the magnitude overflows a double (underflow rounds
 * toward 0 and is LX_OK). Expects the C locale's decimal point. */
int lx_json_double(const struct lx_json *doc, int i, double *out);
/* LX_OK and *out for true/false tokens, LX_EINVAL otherwise. */
int lx_json_bool(const struct lx_json *doc, int i, bool *out);

#endif /* LX_JSON_H */
