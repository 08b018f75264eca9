/* writer.h - builds JSON text into a bounded struct lx_buf, with commas and colons placed
 * automatically. The writer borrows the buffer (its owner releases it). Pure; one owner.
 *
 *     struct lx_buf b = LX_BUF_INIT(1 << 20);
 *     struct lx_json_writer w;
 *     lx_json_writer_init(&w, &b);
 *     lx_json_write_object_begin(&w);
 *     lx_json_write_key(&w, LX_STR("model"));
 *     lx_json_write_str(&w, LX_STR("gpt-4o"));
 *     lx_json_write_key(&w, LX_STR("seed"));
 *     lx_json_write_token(&w, doc, seed);     (the input bytes, verbatim)
 *     lx_json_write_object_end(&w);
 *     if (lx_json_writer_finish(&w) != LX_OK) ...
 *
 * Errors are sticky like lx_buf's: every call returns the first error so far (LX_EINVAL for
 * misuse such as a value where a key is due, LX_EDEPTH past LX_JSON_WRITER_DEPTH, or the
 * buffer's LX_ENOMEM/LX_ETOOBIG), so a caller may check only at the end. */
#ifndef LX_JSON_WRITER_H
#define LX_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "json/json.h"

#define LX_JSON_WRITER_DEPTH 128

struct lx_json_writer {
    struct lx_buf *b;
    int err;        /* first misuse error (LX_EINVAL, LX_EDEPTH); buffer errors stay in b->err */
    unsigned depth; /* open containers */
    bool after_key; /* a key was written: the value comes next, without a comma */
    bool done;      /* a complete top-level value was written */
    unsigned char open[LX_JSON_WRITER_DEPTH]; /* per level: OBJ and NONEMPTY bits */
};

void lx_json_writer_init(struct lx_json_writer *w, struct lx_buf *b);
/* LX_OK if exactly one complete value was written and nothing failed; else the error. */
int lx_json_writer_finish(const struct lx_json_writer *w);

int lx_json_write_object_begin(struct lx_json_writer *w);
int lx_json_write_object_end(struct lx_json_writer *w);
int lx_json_write_array_begin(struct lx_json_writer *w);
int lx_json_write_array_end(struct lx_json_writer *w);
/* k is the decoded key (any bytes; escaped here, invalid UTF-8 becomes U+FFFD). */
int lx_json_write_key(struct lx_json_writer *w, struct lx_str k);
int lx_json_write_str(struct lx_json_writer *w, struct lx_str s); /* escaped like keys */
int lx_json_write_int(struct lx_json_writer *w, int64_t v);
int lx_json_write_uint(struct lx_json_writer *w, uint64_t v);
/* Shortest of %.15g, %.16g, %.17g that reads back as v. NaN and infinities: LX_EINVAL. */
int lx_json_write_double(struct lx_json_writer *w, double v);
int lx_json_write_bool(struct lx_json_writer *w, bool v);
int lx_json_write_null(struct lx_json_writer *w);
/* A complete JSON value given as text, copied verbatim. The caller vouches that it is valid. */
int lx_json_write_raw(struct lx_json_writer *w, struct lx_str json);
/* Token i of doc (and its subtree) copied verbatim from the input: numbers and schemas pass
 * through byte-exact. */
int lx_json_write_token(struct lx_json_writer *w, const struct lx_json *doc, int i);
/* Token i of doc re-encoded: whitespace dropped, strings decoded and escaped again by this
 * writer, numbers kept as written. Uses a temporary buffer of at most doc->len bytes. */
int lx_json_write_copy(struct lx_json_writer *w, const struct lx_json *doc, int i);

#endif /* LX_JSON_WRITER_H */
