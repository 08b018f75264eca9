/* splice.h - the gateway's fast path: a new body equal to the original bytes except for a few
 * top-level fields of one object, replaced, removed or added. Everything else (whitespace,
 * key order, numbers, unknown fields) is copied byte for byte. Pure; the caller owns `out`. */
#ifndef LX_JSON_SPLICE_H
#define LX_JSON_SPLICE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"
#include "json/json.h"

#define LX_JSON_SPLICE_MAX_EDITS 64

struct lx_json_edit {
    struct lx_str key;   /* decoded key, matched against keys after unescaping */
    struct lx_str value; /* a complete JSON value as text, copied verbatim (the caller vouches
                          * for it, e.g. built with writer.h); value.ptr NULL = remove the key */
};

/* Appends to out the whole input of doc with object obj edited: a member whose key matches an
 * edit gets the edit's value (or is removed, with its comma); edits whose key is absent and
 * whose value is not NULL are appended at the end of the object, in the order given. When two
 * edits have the same key the first wins. LX_EINVAL if obj is not an object or n is above
 * LX_JSON_SPLICE_MAX_EDITS; otherwise out->err. */
int lx_json_splice(const struct lx_json *doc, int obj, const struct lx_json_edit *edits, size_t n,
                   struct lx_buf *out);

#endif /* LX_JSON_SPLICE_H */
