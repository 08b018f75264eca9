/* ndjson.c - newline-delimited JSON line splitter (ndjson.h). One owner, one thread. A line
 * wholly inside the chunk is passed to the callback in place; only a line cut by the end of a
 * chunk is copied. */
#include "sse/ndjson.h"

#include <string.h>

#include "core/err.h"

void lx_ndjson_init(struct lx_ndjson *s, size_t max_line)
{
    s->max_line = max_line;
    s->err = LX_OK;
    /* +1: a CR before the LF is held in the buffer until the LF shows it is a CRLF */
    lx_buf_init(&s->line, max_line + 1);
}

void lx_ndjson_release(struct lx_ndjson *s) { lx_buf_release(&s->line); }

static bool is_blank(struct lx_str l)
{
    for (size_t i = 0; i < l.len; i++)
        if (l.ptr[i] != ' ' && l.ptr[i] != '\t' && l.ptr[i] != '\r')
            return false;
    return true;
}

/* A line without its LF: drops a CR before the LF, skips blank lines. */
static int emit(struct lx_ndjson *s, struct lx_str l, lx_ndjson_line_cb *cb, void *ctx)
{
    if (l.len > 0 && l.ptr[l.len - 1] == '\r')
        l.len--;
    if (l.len > s->max_line)
        return LX_ETOOBIG;
    /* JSON may not start with a control char or space other than whitespace, so only a line
     * that starts with whitespace needs the full blank check */
    if (l.len == 0 || ((l.ptr[0] == ' ' || l.ptr[0] == '\t') && is_blank(l)))
        return LX_OK;
    return cb(ctx, l);
}

static int feed(struct lx_ndjson *s, const char *p, const char *end, lx_ndjson_line_cb *cb,
                void *ctx)
{
    int rc;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        if (s->line.len + n > s->max_line + 1)
            return LX_ETOOBIG; /* + 1 for a CR that the LF will drop */
        if (nl == NULL)
            return lx_buf_append(&s->line, p, n);
        if (s->line.len > 0) {
            if (lx_buf_append(&s->line, p, n) != LX_OK)
                return s->line.err;
            rc = emit(s, lx_buf_str(&s->line), cb, ctx);
            lx_buf_reset(&s->line);
        } else {
            rc = emit(s, lx_str_make(p, n), cb, ctx);
        }
        if (rc != LX_OK)
            return rc;
        p = nl + 1;
    }
    return LX_OK;
}

int lx_ndjson_feed(struct lx_ndjson *s, struct lx_str chunk, lx_ndjson_line_cb *cb, void *ctx)
{
    int rc;

    if (s->err != LX_OK)
        return s->err;
    if (chunk.len == 0)
        return LX_OK;
    rc = feed(s, chunk.ptr, chunk.ptr + chunk.len, cb, ctx);
    if (rc != LX_OK)
        s->err = rc;
    return rc;
}

int lx_ndjson_finish(struct lx_ndjson *s)
{
    bool pending;

    if (s->err != LX_OK)
        return s->err;
    pending = !is_blank(lx_buf_str(&s->line));
    lx_buf_reset(&s->line);
    return pending ? LX_ETRUNCATED : LX_OK;
}
