/* response.c - one HTTP/1.1 response parsed with llhttp in response mode, without sockets.
 * Bodies by Content-Length, chunked or close; 1xx interim responses are skipped; HEAD, 204
 * and 304 have no body; a head larger than max_head is an error. Body bytes are streamed to
 * on_data as slices of the caller's input (no copy). The struct lx__upstream_resp belongs to one
 * request and runs on its thread; it copies only header names and values (bounded). */
#include "upstream/upstream_int.h"

#include <string.h>

#include "core/err.h"

static int fail(struct lx__upstream_resp *r, int err, const char *why)
{
    r->err = err;
    r->why = why;
    return -1;
}

static int on_message_begin(llhttp_t *p)
{
    struct lx__upstream_resp *r = p->data;

    lx_buf_reset(&r->head);
    r->n_headers = 0;
    r->field_open = r->value_open = false;
    r->head_done = false;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct lx__upstream_resp *r = p->data;

    if (!r->field_open) {
        if (r->n_headers == LX__UPSTREAM_MAX_HEADERS)
            return fail(r, LX_EPROTO, "too many response headers");
        r->off[r->n_headers][0] = (uint32_t)r->head.len;
        r->off[r->n_headers][1] = 0;
        r->field_open = true;
    }
    if (lx_buf_append(&r->head, at, n) != LX_OK)
        return fail(r, r->head.err == LX_ENOMEM ? LX_ENOMEM : LX_EPROTO, "response head too large");
    r->off[r->n_headers][1] += (uint32_t)n;
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct lx__upstream_resp *r = p->data;

    if (!r->field_open || r->off[r->n_headers][1] == 0) /* llhttp passes ": x" */
        return fail(r, LX_EPROTO, "empty header name");
    r->off[r->n_headers][2] = (uint32_t)r->head.len;
    r->off[r->n_headers][3] = 0;
    r->value_open = true;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct lx__upstream_resp *r = p->data;

    if (!r->value_open)
        return fail(r, LX_EPROTO, "header value without a name");
    if (lx_buf_append(&r->head, at, n) != LX_OK)
        return fail(r, r->head.err == LX_ENOMEM ? LX_ENOMEM : LX_EPROTO, "response head too large");
    r->off[r->n_headers][3] += (uint32_t)n;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct lx__upstream_resp *r = p->data;

    if (!r->value_open) /* llhttp lets ": x" through with no name callback */
        return fail(r, LX_EPROTO, "header value without a name");
    r->n_headers++;
    r->field_open = r->value_open = false;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct lx__upstream_resp *r = p->data;
    int rc;

    r->status = p->status_code;
    if (r->status >= 100 && r->status < 200) {
        if (r->status == 101)
            return fail(r, LX_EPROTO, "unexpected 101 Switching Protocols");
        r->interim = true; /* llhttp gives 1xx no body; the real response follows */
        return 0;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        r->hdrs[i].name = lx_str_make(r->head.ptr + r->off[i][0], r->off[i][1]);
        r->hdrs[i].value = lx_str_make(r->head.ptr + r->off[i][2], r->off[i][3]);
    }
    r->head_done = true;
    if (r->on_head != NULL && (rc = r->on_head(r->arg, r->status, r->hdrs, r->n_headers)) != 0)
        return fail(r, rc, "aborted by the head callback");
    /* 1: no body follows. llhttp reads a body after a 304 with Content-Length; RFC 9110 15.4.5 */
    return r->head_request || r->status == 204 || r->status == 304 ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct lx__upstream_resp *r = p->data;
    int rc;

    r->body_bytes += n;
    if (r->on_data == NULL)
        return 0;
    rc = r->on_data(r->arg, lx_str_make(at, n));
    if (rc == LX_EPAUSE)
        return HPE_PAUSED; /* llhttp keeps its place: error_pos is just past this span */
    if (rc != LX_OK)
        return fail(r, rc, "aborted by the data callback");
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct lx__upstream_resp *r = p->data;

    if (r->interim) {
        r->interim = false;
        r->head_raw = 0;
        return 0;
    }
    r->complete = true;
    return HPE_PAUSED; /* stop at the message boundary; anything after is not ours */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void lx__upstream_resp_init(struct lx__upstream_resp *r, size_t max_head, bool head_request,
                            lx__upstream_resp_head_fn *on_head, lx__upstream_resp_data_fn *on_data,
                            void *arg)
{
    llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
    r->parser.data = r;
    lx_buf_init(&r->head, max_head);
    r->n_headers = 0;
    r->head_raw = 0;
    r->max_head = max_head;
    r->bytes = r->body_bytes = 0;
    r->status = 0;
    r->err = LX_OK;
    r->why = NULL;
    r->head_request = head_request;
    r->head_done = r->complete = r->field_open = r->value_open = r->interim = false;
    r->on_head = on_head;
    r->on_data = on_data;
    r->arg = arg;
}

void lx__upstream_resp_release(struct lx__upstream_resp *r) { lx_buf_release(&r->head); }

int lx__upstream_resp_feed(struct lx__upstream_resp *r, const char *p, size_t n, size_t *used)
{
    enum llhttp_errno e;
    bool head_was_done = r->head_done;

    *used = 0;
    if (r->complete)
        return LX_OK;
    if (r->err != LX_OK)
        return r->err;
    if (n == 0)
        return LX_OK;
    r->bytes += n;
    if (!head_was_done)
        r->head_raw += n;
    e = llhttp_execute(&r->parser, p, n);
    if (e == HPE_OK) {
        *used = n;
        if (!r->head_done && r->head_raw > r->max_head) {
            r->err = LX_EPROTO;
            r->why = "response head too large";
            return r->err;
        }
        return LX_OK;
    }
    *used = (size_t)(llhttp_get_error_pos(&r->parser) - p);
    if (e == HPE_PAUSED) {
        if (r->complete)
            return LX_OK;
        llhttp_resume(&r->parser);
        return LX_EPAUSE;
    }
    if (r->err == LX_OK) {
        r->err = LX_EPROTO;
        r->why = llhttp_get_error_reason(&r->parser);
        if (r->why == NULL)
            r->why = llhttp_errno_name(e);
    }
    return r->err;
}

int lx__upstream_resp_eof(struct lx__upstream_resp *r)
{
    if (r->complete)
        return LX_OK;
    if (r->err != LX_OK)
        return r->err;
    if (r->head_done && llhttp_message_needs_eof(&r->parser)) {
        enum llhttp_errno e = llhttp_finish(&r->parser);

        if ((e == HPE_OK || e == HPE_PAUSED) && r->complete)
            return LX_OK;
    }
    return r->bytes == 0 ? LX_ECONNRESET : LX_ETRUNCATED;
}

bool lx__upstream_resp_keep_alive(const struct lx__upstream_resp *r)
{
    return r->complete && llhttp_should_keep_alive(&r->parser);
}
