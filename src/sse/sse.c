/* sse.c - incremental text/event-stream parser (sse.h). One owner, one thread per parser.
 * Hot path: a line that lies wholly inside the chunk is parsed in place, and an event whose
 * single data: line is inside the chunk reaches the callback without a copy. Only what is still
 * pending when a chunk ends (a cut line, the current event's data and type) is copied into the
 * parser's reusable buffers. */
#include "sse/sse.h"

#include <string.h>

#include "core/err.h"

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

void lx_sse_init(struct lx_sse_parser *p, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    p->max_event = max_event;
    p->retry = -1;
    lx_buf_init(&p->line, max_event);
    lx_buf_init(&p->data_buf, max_event);
    lx_buf_init(&p->event_buf, max_event);
    lx_buf_init(&p->id_buf, max_event);
}

void lx_sse_set_flags(struct lx_sse_parser *p, unsigned flags) { p->flags = flags; }

void lx_sse_release(struct lx_sse_parser *p)
{
    lx_buf_release(&p->line);
    lx_buf_release(&p->data_buf);
    lx_buf_release(&p->event_buf);
    lx_buf_release(&p->id_buf);
}

static inline struct lx_str cur_data(const struct lx_sse_parser *p)
{
    return p->data_borrowed ? p->data : lx_buf_str(&p->data_buf);
}

static inline struct lx_str cur_event(const struct lx_sse_parser *p)
{
    return p->event_borrowed ? p->event : lx_buf_str(&p->event_buf);
}

static inline size_t event_size(const struct lx_sse_parser *p)
{
    return cur_data(p).len + cur_event(p).len;
}

static void reset_event(struct lx_sse_parser *p)
{
    p->has_data = p->has_field = false;
    p->data_borrowed = p->event_borrowed = false;
    lx_buf_reset(&p->data_buf);
    lx_buf_reset(&p->event_buf);
}

/* A blank line: hand the event over if it has data (or, with LX_SSE_DATALESS, fields). */
static int dispatch(struct lx_sse_parser *p, lx_sse_event_cb *cb, void *ctx)
{
    struct lx_sse_event ev;
    int rc = LX_OK;

    if (p->has_data || (p->has_field && (p->flags & LX_SSE_DATALESS))) {
        ev.kind = LX_SSE_EVENT;
        ev.event = cur_event(p);
        ev.data = cur_data(p);
        ev.id = lx_buf_str(&p->id_buf);
        ev.retry = p->retry;
        ev.has_data = p->has_data;
        rc = cb(ctx, &ev);
    }
    reset_event(p);
    return rc;
}

/* value is borrowed when it lies in the caller's chunk: it may then be kept as a slice until
 * the chunk ends (own_pending); otherwise it lives in p->line and must be copied now. */
static int add_data(struct lx_sse_parser *p, struct lx_str value, bool borrowed)
{
    if (!p->has_data) {
        p->has_data = true;
        if (borrowed) {
            p->data = value;
            p->data_borrowed = true;
            return LX_OK;
        }
        return lx_buf_append_str(&p->data_buf, value);
    }
    if (p->data_borrowed) {
        p->data_borrowed = false;
        lx_buf_append_str(&p->data_buf, p->data);
    }
    lx_buf_append_char(&p->data_buf, '\n');
    return lx_buf_append_str(&p->data_buf, value); /* errors are sticky: one check */
}

static int set_event(struct lx_sse_parser *p, struct lx_str value, bool borrowed)
{
    p->has_field = true;
    lx_buf_reset(&p->event_buf);
    p->event_borrowed = borrowed;
    if (borrowed) {
        p->event = value;
        return LX_OK;
    }
    return lx_buf_append_str(&p->event_buf, value);
}

static void set_retry(struct lx_sse_parser *p, struct lx_str value)
{
    uint64_t ms;

    /* lx_str_to_u64 is digits only, as the spec wants; an overflowing value is ignored too */
    if (lx_str_to_u64(value, &ms) == LX_OK && ms <= INT64_MAX)
        p->retry = (int64_t)ms;
}

/* One line without its terminator. The caller has checked it against max_event. */
static int process_line(struct lx_sse_parser *p, const char *s, size_t n, bool borrowed,
                        lx_sse_event_cb *cb, void *ctx)
{
    struct lx_str name, value;
    const char *colon;

    if (n == 0)
        return dispatch(p, cb, ctx);
    if (s[0] == ':') {
        if (p->flags & LX_SSE_COMMENTS) {
            struct lx_sse_event ev = {
                .kind = LX_SSE_COMMENT,
                .data = lx_str_make(s + 1, n - 1),
                .id = lx_buf_str(&p->id_buf),
                .retry = p->retry,
            };
            return cb(ctx, &ev);
        }
        return LX_OK;
    }
    colon = memchr(s, ':', n);
    if (colon != NULL) {
        name = lx_str_make(s, (size_t)(colon - s));
        value = lx_str_make(colon + 1, n - name.len - 1);
        if (value.len > 0 && value.ptr[0] == ' ') {
            value.ptr++;
            value.len--;
        }
    } else {
        name = lx_str_make(s, n);
        value = lx_str_make(s + n, 0);
    }
    switch (name.len) {
    case 2:
        if (memcmp(name.ptr, "id", 2) == 0) {
            p->has_field = true;
            if (memchr(value.ptr, '\0', value.len) != NULL)
                return LX_OK; /* the spec ignores an id with NUL */
            lx_buf_reset(&p->id_buf);
            return lx_buf_append_str(&p->id_buf, value);
        }
        break;
    case 4:
        if (memcmp(name.ptr, "data", 4) == 0)
            return add_data(p, value, borrowed);
        break;
    case 5:
        if (memcmp(name.ptr, "event", 5) == 0)
            return set_event(p, value, borrowed);
        if (memcmp(name.ptr, "retry", 5) == 0)
            set_retry(p, value);
        break;
    default:
        break;
    }
    return LX_OK; /* unknown fields are ignored */
}

/* The chunk is about to go away: copy what the current event still borrows from it. */
static int own_pending(struct lx_sse_parser *p)
{
    if (p->data_borrowed) {
        p->data_borrowed = false;
        lx_buf_append_str(&p->data_buf, p->data);
        if (p->data_buf.err != LX_OK)
            return p->data_buf.err;
    }
    if (p->event_borrowed) {
        p->event_borrowed = false;
        lx_buf_append_str(&p->event_buf, p->event);
        if (p->event_buf.err != LX_OK)
            return p->event_buf.err;
    }
    return LX_OK;
}

/* Skips a leading UTF-8 BOM, which may itself be split across chunks. Bytes that started to
 * look like one but were not become the start of the first line. */
static int skip_bom(struct lx_sse_parser *p, const char **sp, const char *end)
{
    const char *s = *sp;

    while (p->bom_seen < 3 && s < end) {
        if ((unsigned char)*s == bom[p->bom_seen]) {
            p->bom_seen++;
            s++;
            continue;
        }
        if (p->bom_seen > 0 && lx_buf_append(&p->line, bom, p->bom_seen) != LX_OK)
            return p->line.err;
        p->bom_seen = 3;
    }
    *sp = s;
    return LX_OK;
}

static int feed(struct lx_sse_parser *p, const char *s, const char *end, lx_sse_event_cb *cb,
                void *ctx)
{
    const char *nl = NULL; /* next LF at or after s; NULL = none before end */
    bool nl_known = false;
    int rc;

    if (p->cr_pending) {
        p->cr_pending = false;
        if (*s == '\n')
            s++; /* the LF of a CRLF cut between two chunks */
    }
    while (s < end) {
        const char *e, *cr;
        size_t n;

        /* Find the first CR or LF. The LF position is cached so that a stream of CR-only
         * lines does not rescan the rest of the chunk for an LF on every line. */
        if (!nl_known || (nl != NULL && nl < s)) {
            nl = memchr(s, '\n', (size_t)(end - s));
            nl_known = true;
        }
        cr = memchr(s, '\r', (size_t)((nl ? nl : end) - s));
        e = cr ? cr : nl;
        n = (size_t)((e ? e : end) - s);
        if (event_size(p) + p->line.len + n > p->max_event)
            return LX_ETOOBIG;
        if (e == NULL) {
            /* a line cut by the end of the chunk */
            if (lx_buf_append(&p->line, s, n) != LX_OK)
                return p->line.err;
            break;
        }
        if (p->line.len > 0) {
            if (lx_buf_append(&p->line, s, n) != LX_OK)
                return p->line.err;
            rc = process_line(p, p->line.ptr, p->line.len, false, cb, ctx);
            lx_buf_reset(&p->line);
        } else {
            rc = process_line(p, s, n, true, cb, ctx);
        }
        if (rc != LX_OK)
            return rc;
        s = e + 1;
        if (*e == '\r') {
            if (s == end)
                p->cr_pending = true;
            else if (*s == '\n')
                s++;
        }
    }
    return own_pending(p);
}

int lx_sse_feed(struct lx_sse_parser *p, struct lx_str chunk, lx_sse_event_cb *cb, void *ctx)
{
    const char *s = chunk.ptr, *end = chunk.ptr + chunk.len;
    int rc;

    if (p->err != LX_OK)
        return p->err;
    if (chunk.len == 0)
        return LX_OK;
    if (p->bom_seen < 3) {
        rc = skip_bom(p, &s, end);
        if (rc != LX_OK || s == end)
            goto out;
    }
    rc = feed(p, s, end, cb, ctx);
out:
    if (rc != LX_OK)
        p->err = rc;
    return rc;
}

int lx_sse_finish(struct lx_sse_parser *p)
{
    bool pending;

    if (p->err != LX_OK)
        return p->err;
    pending = p->has_data || p->has_field || (p->bom_seen > 0 && p->bom_seen < 3) ||
              (p->line.len > 0 && p->line.ptr[0] != ':');
    reset_event(p);
    lx_buf_reset(&p->line);
    p->cr_pending = false;
    p->bom_seen = 0;
    return pending ? LX_ETRUNCATED : LX_OK;
}
