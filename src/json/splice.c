/* splice.c - byte-exact editing of one object's top-level members (splice.h). Pure.
 * Layout of an object in the input: '{' L m0 S1 m1 ... Sk mk T '}' where L and T are
 * whitespace and each Sj is the "ws , ws" before member j. A kept member is written with the
 * separator it had (or L when it becomes the first), so untouched bytes stay as they were. */
#include "json/splice.h"

#include <stdbool.h>

#include "core/err.h"
#include "core/escape.h"

/* First edit for key token k, or -1. */
static int find_edit(const struct lx_json *doc, int k, const struct lx_json_edit *edits, size_t n)
{
    for (size_t e = 0; e < n; e++) {
        if (lx_json_str_eq(doc, k, edits[e].key))
            return (int)e;
    }
    return -1;
}

static bool shadowed(const struct lx_json_edit *edits, size_t e)
{
    for (size_t f = 0; f < e; f++) {
        if (lx_str_eq(edits[f].key, edits[e].key))
            return true;
    }
    return false;
}

int lx_json_splice(const struct lx_json *doc, int obj, const struct lx_json_edit *edits, size_t n,
                   struct lx_buf *out)
{
    bool used[LX_JSON_SPLICE_MAX_EDITS] = {false};
    const char *src = doc->src;
    size_t open, close, prev_end, kept = 0;
    struct lx_str lead = LX_STR(""), trail;

    if (lx_json_type(doc, obj) != LX_JSON_OBJECT || n > LX_JSON_SPLICE_MAX_EDITS)
        return LX_EINVAL;
    open = doc->toks[obj].start;           /* the '{' */
    close = open + doc->toks[obj].len - 1; /* the '}' */
    lx_buf_append(out, src, open + 1);
    prev_end = open + 1;
    trail = lx_str_make(src + open + 1, close - open - 1);
    for (int k = lx_json_first(doc, obj); k >= 0; k = lx_json_sibling(doc, obj, k)) {
        struct lx_str val = lx_json_raw(doc, k + 1);
        size_t mstart = doc->toks[k].start - 1, vstart = (size_t)(val.ptr - src);
        size_t mend = vstart + val.len;
        struct lx_str sep = lx_str_make(src + prev_end, mstart - prev_end);
        int e = find_edit(doc, k, edits, n);

        if (k == obj + 1)
            lead = sep;
        prev_end = mend;
        trail = lx_str_make(src + mend, close - mend);
        if (e >= 0)
            used[e] = true;
        if (e >= 0 && edits[e].value.ptr == NULL)
            continue;
        lx_buf_append_str(out, kept == 0 ? lead : sep);
        if (e >= 0) {
            lx_buf_append(out, src + mstart, vstart - mstart); /* key, colon, their blanks */
            lx_buf_append_str(out, edits[e].value);
        } else {
            lx_buf_append(out, src + mstart, mend - mstart);
        }
        kept++;
    }
    for (size_t e = 0; e < n; e++) {
        if (used[e] || edits[e].value.ptr == NULL || shadowed(edits, e))
            continue;
        if (kept++ > 0)
            lx_buf_append_char(out, ',');
        lx_buf_append_char(out, '"');
        lx_json_escape(out, edits[e].key);
        lx_buf_append(out, "\":", 2);
        lx_buf_append_str(out, edits[e].value);
    }
    lx_buf_append_str(out, trail);
    lx_buf_append(out, src + close, doc->len - close);
    return out->err;
}
