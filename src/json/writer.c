/* writer.c - the JSON writer (writer.h). Pure; one owner per writer. Commas come from one
 * place, before_value(): every value and key asks it whether a separator is due. */
#include "json/writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/escape.h"
#include "json/json_int.h"

/* Appends s escaped as string content (core/escape.c: plain runs are found 8 bytes at a
 * time, valid UTF-8 copied, each invalid byte replaced by U+FFFD). */
static void escape(struct lx_buf *b, struct lx_str s)
{
    lx_json_escape(b, s);
}

#define OPEN_OBJ 1u
#define OPEN_NONEMPTY 2u

void lx_json_writer_init(struct lx_json_writer *w, struct lx_buf *b)
{
    w->b = b;
    w->err = LX_OK;
    w->depth = 0;
    w->after_key = false;
    w->done = false;
}

static int status(const struct lx_json_writer *w) { return w->err != LX_OK ? w->err : w->b->err; }

int lx_json_writer_finish(const struct lx_json_writer *w)
{
    if (status(w) != LX_OK)
        return status(w);
    return w->done && w->depth == 0 ? LX_OK : LX_EINVAL;
}

static int misuse(struct lx_json_writer *w, int rc)
{
    if (w->err == LX_OK)
        w->err = rc;
    return w->err;
}

/* Writes the comma a value needs here, if any. LX_OK if a value may be written now. */
static int before_value(struct lx_json_writer *w)
{
    unsigned char *top;

    if (status(w) != LX_OK)
        return status(w);
    if (w->depth == 0)
        return w->done ? misuse(w, LX_EINVAL) : LX_OK;
    if (w->after_key) {
        w->after_key = false;
        return LX_OK;
    }
    top = &w->open[w->depth - 1];
    if (*top & OPEN_OBJ)
        return misuse(w, LX_EINVAL); /* a value where a key is due */
    if (*top & OPEN_NONEMPTY)
        lx_buf_append_char(w->b, ',');
    *top |= OPEN_NONEMPTY;
    return w->b->err;
}

static int after_value(struct lx_json_writer *w)
{
    if (w->depth == 0)
        w->done = true;
    return status(w);
}

static int begin(struct lx_json_writer *w, char c, unsigned char kind)
{
    if (before_value(w) != LX_OK)
        return status(w);
    if (w->depth == LX_JSON_WRITER_DEPTH)
        return misuse(w, LX_EDEPTH);
    w->open[w->depth++] = kind;
    return lx_buf_append_char(w->b, c);
}

static int end(struct lx_json_writer *w, char c, unsigned char kind)
{
    if (status(w) != LX_OK)
        return status(w);
    if (w->depth == 0 || (w->open[w->depth - 1] & OPEN_OBJ) != kind || w->after_key)
        return misuse(w, LX_EINVAL);
    w->depth--;
    lx_buf_append_char(w->b, c);
    return after_value(w);
}

int lx_json_write_object_begin(struct lx_json_writer *w) { return begin(w, '{', OPEN_OBJ); }

int lx_json_write_object_end(struct lx_json_writer *w) { return end(w, '}', OPEN_OBJ); }

int lx_json_write_array_begin(struct lx_json_writer *w) { return begin(w, '[', 0); }

int lx_json_write_array_end(struct lx_json_writer *w) { return end(w, ']', 0); }

/* escaped: k is already valid string content (copied as is) */
static int key(struct lx_json_writer *w, struct lx_str k, bool escaped)
{
    unsigned char *top;

    if (status(w) != LX_OK)
        return status(w);
    if (w->depth == 0 || !(w->open[w->depth - 1] & OPEN_OBJ) || w->after_key)
        return misuse(w, LX_EINVAL);
    top = &w->open[w->depth - 1];
    if (*top & OPEN_NONEMPTY)
        lx_buf_append_char(w->b, ',');
    *top |= OPEN_NONEMPTY;
    lx_buf_append_char(w->b, '"');
    if (escaped)
        lx_buf_append_str(w->b, k);
    else
        escape(w->b, k);
    lx_buf_append(w->b, "\":", 2);
    w->after_key = true;
    return status(w);
}

int lx_json_write_key(struct lx_json_writer *w, struct lx_str k) { return key(w, k, false); }

static int string(struct lx_json_writer *w, struct lx_str s, bool escaped)
{
    if (before_value(w) != LX_OK)
        return status(w);
    lx_buf_append_char(w->b, '"');
    if (escaped)
        lx_buf_append_str(w->b, s);
    else
        escape(w->b, s);
    lx_buf_append_char(w->b, '"');
    return after_value(w);
}

int lx_json_write_str(struct lx_json_writer *w, struct lx_str s) { return string(w, s, false); }

int lx_json_write_raw(struct lx_json_writer *w, struct lx_str json)
{
    if (before_value(w) != LX_OK)
        return status(w);
    lx_buf_append_str(w->b, json);
    return after_value(w);
}

int lx_json_write_int(struct lx_json_writer *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

    return lx_json_write_raw(w, lx_str_make(tmp, (size_t)n));
}

int lx_json_write_uint(struct lx_json_writer *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

    return lx_json_write_raw(w, lx_str_make(tmp, (size_t)n));
}

int lx_json_write_double(struct lx_json_writer *w, double v)
{
    char tmp[32];
    int n = 0;

    if (!isfinite(v))
        return misuse(w, LX_EINVAL);
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return lx_json_write_raw(w, lx_str_make(tmp, (size_t)n));
}

int lx_json_write_bool(struct lx_json_writer *w, bool v)
{
    return v ? lx_json_write_raw(w, LX_STR("true")) : lx_json_write_raw(w, LX_STR("false"));
}

int lx_json_write_null(struct lx_json_writer *w) { return lx_json_write_raw(w, LX_STR("null")); }

int lx_json_write_token(struct lx_json_writer *w, const struct lx_json *doc, int i)
{
    if (lx_json_type(doc, i) == LX_JSON_NONE)
        return misuse(w, LX_EINVAL);
    return lx_json_write_raw(w, lx_json_raw(doc, i));
}

/* String token j as key or value. Escape-free strings are valid content as they are. */
static int copy_string(struct lx_json_writer *w, const struct lx_json *doc, int j, bool as_key,
                       struct lx_buf *tmp)
{
    if (!(doc->toks[j].flags & LX_JSON_ESCAPED)) {
        struct lx_str s = lx_json_str_raw(doc, j);

        return as_key ? key(w, s, true) : string(w, s, true);
    }
    lx_buf_reset(tmp);
    if (lx_json_unescape(doc, j, tmp) != LX_OK)
        return misuse(w, tmp->err);
    return as_key ? key(w, lx_buf_str(tmp), false) : string(w, lx_buf_str(tmp), false);
}

int lx_json_write_copy(struct lx_json_writer *w, const struct lx_json *doc, int i)
{
    struct lx_buf tmp = LX_BUF_INIT(doc->len);
    uint32_t ends[LX_JSON_WRITER_DEPTH];
    unsigned top = 0;
    uint32_t j, stop;

    if (lx_json_type(doc, i) == LX_JSON_NONE)
        return misuse(w, LX_EINVAL);
    j = (uint32_t)i;
    stop = doc->toks[i].next;
    while (status(w) == LX_OK) {
        const struct lx_json_tok *t;

        while (top > 0 && ends[top - 1] == j) {
            top--;
            if (w->open[w->depth - 1] & OPEN_OBJ)
                lx_json_write_object_end(w);
            else
                lx_json_write_array_end(w);
        }
        if (j >= stop)
            break;
        t = &doc->toks[j];
        switch ((enum lx_json_type)t->type) {
        case LX_JSON_OBJECT:
        case LX_JSON_ARRAY:
            if (top == LX_JSON_WRITER_DEPTH) {
                misuse(w, LX_EDEPTH);
                break;
            }
            if (t->type == LX_JSON_OBJECT)
                lx_json_write_object_begin(w);
            else
                lx_json_write_array_begin(w);
            ends[top++] = t->next;
            break;
        case LX_JSON_STRING:
            /* inside a copied object, a string where a key is due is one */
            copy_string(w, doc, (int)j,
                        top > 0 && (w->open[w->depth - 1] & OPEN_OBJ) && !w->after_key, &tmp);
            break;
        default:
            lx_json_write_raw(w, lx_json_raw(doc, (int)j));
            break;
        }
        j++;
    }
    lx_buf_release(&tmp);
    return status(w);
}
