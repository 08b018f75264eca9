/* writer.c - text/event-stream framing into bounded buffers (writer.h). Any thread. */
#include "sse/writer.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"

/* Appends prefix + each line of text + "\n"; lines end at LF, CR or CRLF. Empty text is one
 * empty line, and a text ending in a line end has an empty last line, so the parser's join with
 * "\n" gives the text back. */
/* The first c in [s, end), or end. */
static const char *find_or_end(const char *s, const char *end, char c)
{
    const char *p = s < end ? memchr(s, c, (size_t)(end - s)) : NULL;

    return p != NULL ? p : end;
}

static void append_lines(struct lx_buf *b, const char *prefix, size_t plen, struct lx_str text)
{
    const char *s = text.ptr, *end = text.ptr + text.len;
    /* the next '\n' and '\r', found with memchr rather than byte by byte: every event of a
     * relayed stream comes through here, almost always as one line */
    const char *nl = find_or_end(s, end, '\n'), *cr = find_or_end(s, end, '\r');

    for (;;) {
        const char *e = nl < cr ? nl : cr;

        lx_buf_append(b, prefix, plen);
        lx_buf_append(b, s, (size_t)(e - s));
        lx_buf_append_char(b, '\n');
        if (e == end)
            break;
        s = e + 1;
        if (*e == '\r' && s < end && *s == '\n')
            s++;
        if (nl < s)
            nl = find_or_end(s, end, '\n');
        if (cr < s)
            cr = find_or_end(s, end, '\r');
    }
}

static bool has_line_end(struct lx_str s)
{
    return memchr(s.ptr, '\n', s.len) != NULL || memchr(s.ptr, '\r', s.len) != NULL;
}

int lx_sse_write(struct lx_buf *b, struct lx_str event, struct lx_str id, struct lx_str data)
{
    if ((event.len > 0 && has_line_end(event)) ||
        (id.ptr != NULL && (has_line_end(id) || memchr(id.ptr, '\0', id.len) != NULL)))
        return LX_EINVAL;
    if (event.len > 0) {
        lx_buf_append(b, "event: ", 7);
        lx_buf_append_str(b, event);
        lx_buf_append_char(b, '\n');
    }
    if (id.ptr != NULL) {
        lx_buf_append(b, "id: ", 4);
        lx_buf_append_str(b, id);
        lx_buf_append_char(b, '\n');
    }
    append_lines(b, "data: ", 6, data);
    lx_buf_append_char(b, '\n');
    return b->err;
}

int lx_sse_write_data(struct lx_buf *b, struct lx_str data)
{
    return lx_sse_write(b, LX_STR_NULL, LX_STR_NULL, data);
}

int lx_sse_write_event(struct lx_buf *b, struct lx_str event, struct lx_str data)
{
    return lx_sse_write(b, event, LX_STR_NULL, data);
}

int lx_sse_write_comment(struct lx_buf *b, struct lx_str text)
{
    append_lines(b, ":", 1, text);
    return b->err;
}

int lx_sse_write_retry(struct lx_buf *b, uint64_t ms)
{
    lx_buf_appendf(b, "retry: %" PRIu64 "\n", ms);
    return b->err;
}

int lx_sse_write_done(struct lx_buf *b)
{
    lx_buf_append(b, "data: [DONE]\n\n", 14);
    return b->err;
}
