/* resp.c - responses: the status line and headers (with the per-loop Date cache), framing
 * (Content-Length, chunked, close-delimited), the request accessors, and the server's own
 * error responses. Bytes are only appended to the connection's send queue (conn->out); conn.c
 * flushes the queue once per loop iteration, so several small writes leave in one syscall.
 * Runs on the request's loop thread. The request belongs to the handler from dispatch until
 * lx_http_resp_end(), which frees it. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/escape.h"
#include "server/server_int.h"

const char *lx__status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* IMF-fixdate (RFC 9110 §5.6.7) from Unix seconds, without gmtime: days since the epoch to a
 * civil date (the proleptic Gregorian calendar in 400-year eras). */
void lx__format_http_date(int64_t unix_sec, char out[LX_SERVER_DATE_LEN + 1])
{
    static const char wday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days = unix_sec >= 0 ? unix_sec / 86400 : (unix_sec - 86399) / 86400;
    int64_t secs = unix_sec - days * 86400;
    int64_t z = days + 719468; /* days since 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);            /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                 /* March = 0 */
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t wd = ((days % 7) + 7) % 7;

    snprintf(out, LX_SERVER_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[wd], (int)d,
             mon[m - 1], (int)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

const char *lx__worker_date(struct lx_worker *w)
{
    int64_t now = (int64_t)time(NULL);

    if (now != w->date_sec) {
        w->date_sec = now;
        lx__format_http_date(now, w->date);
    }
    return w->date;
}

/* Fields the server writes itself; a handler's copy of them is dropped so framing has one
 * source of truth. */
static bool is_framing_field(struct lx_str name)
{
    return lx_str_eq_nocase(name, LX_STR("content-length")) ||
           lx_str_eq_nocase(name, LX_STR("transfer-encoding")) ||
           lx_str_eq_nocase(name, LX_STR("connection")) ||
           lx_str_eq_nocase(name, LX_STR("keep-alive")) || lx_str_eq_nocase(name, LX_STR("date"));
}

/* Decimal or hex digits of v appended to b, without printf (this is on every response). */
static void append_uint(struct lx_buf *b, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v > 0);
    lx_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int lx__resp_head(struct lx_buf *b, int status, const struct lx_header *h, size_t n,
                  const char *date, int64_t content_length, bool chunked, bool keep_alive,
                  bool http10)
{
    if (status < 100 || status > 999)
        status = 500;
    lx_buf_append(b, "HTTP/1.1 ", 9);
    append_uint(b, (uint64_t)status, 10);
    lx_buf_append_char(b, ' ');
    lx_buf_append_cstr(b, lx__status_reason(status));
    lx_buf_append(b, "\r\n", 2);
    for (size_t i = 0; i < n; i++) {
        if (is_framing_field(h[i].name))
            continue;
        lx_buf_append_str(b, h[i].name);
        lx_buf_append(b, ": ", 2);
        lx_buf_append_str(b, h[i].value);
        lx_buf_append(b, "\r\n", 2);
    }
    lx_buf_append(b, "Date: ", 6);
    lx_buf_append_cstr(b, date);
    lx_buf_append(b, "\r\n", 2);
    if (content_length >= 0) {
        lx_buf_append(b, "Content-Length: ", 16);
        append_uint(b, (uint64_t)content_length, 10);
        lx_buf_append(b, "\r\n", 2);
    } else if (chunked)
        lx_buf_append_cstr(b, "Transfer-Encoding: chunked\r\n");
    if (!keep_alive)
        lx_buf_append_cstr(b, "Connection: close\r\n");
    else if (http10)
        lx_buf_append_cstr(b, "Connection: keep-alive\r\n");
    lx_buf_append(b, "\r\n", 2);
    return b->err;
}

static const char *error_code(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 408: return "request_timeout";
    case 413: return "request_too_large";
    case 414: return "uri_too_long";
    case 417: return "expectation_failed";
    case 431: return "request_header_fields_too_large";
    case 501: return "not_implemented";
    case 503: return "service_unavailable";
    case 505: return "http_version_not_supported";
    default: return "server_error";
    }
}

/* Queues a complete error response with Connection: close (the caller closes after it). */
void lx__conn_error_response(struct lx_conn *c, int status, const char *msg)
{
    struct lx_buf body = LX_BUF_INIT(1024);
    struct lx_header ct = {LX_STR("Content-Type"), LX_STR("application/json")};

    lx_buf_append_cstr(&body, "{\"error\":{\"message\":\"");
    lx_json_escape(&body, lx_str_cstr(msg ? msg : lx__status_reason(status)));
    lx_buf_appendf(&body, "\",\"type\":\"%s\",\"code\":\"%s\"}}\n",
                   status >= 500 ? "server_error" : "invalid_request_error", error_code(status));
    lx__resp_head(&c->out, status, &ct, 1, lx__worker_date(c->w), (int64_t)body.len, false,
                  false, false);
    lx_buf_append(&c->out, body.ptr, body.len);
    lx_buf_release(&body);
    lx__conn_mark(c);
}

/* ---- the request ---- */

const struct lx_http1_head *lx_http_req_head(const struct lx_http_req *req)
{
    return &req->head;
}

struct lx_str lx_http_req_body(const struct lx_http_req *req)
{
    return lx_buf_str(&req->body);
}

struct lx_str lx_http_req_header(const struct lx_http_req *req, struct lx_str name)
{
    const struct lx_header *h = lx_header_find(req->head.headers, req->head.n_headers, name);

    return h ? h->value : LX_STR_NULL;
}

struct lx_arena *lx_http_req_arena(struct lx_http_req *req)
{
    return req->arena;
}

uv_loop_t *lx_http_req_loop(const struct lx_http_req *req)
{
    return &req->w->loop;
}

void *lx_http_req_worker(const struct lx_http_req *req)
{
    return req->w->data;
}

void lx_http_req_set_data(struct lx_http_req *req, void *data)
{
    req->data = data;
}

void *lx_http_req_data(const struct lx_http_req *req)
{
    return req->data;
}

/* "ip:port" or "[ip6]:port", formatted into the arena on first use; "" when unknown. */
struct lx_str lx_http_req_peer(const struct lx_http_req *req)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64], *out;
    unsigned port;

    if (req->conn == NULL ||
        uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len) != 0)
        return LX_STR("");
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    }
    out = lx_arena_alloc(req->arena, 80);
    if (out == NULL)
        return LX_STR("");
    snprintf(out, 80, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
    return lx_str_cstr(out);
}

void lx_http_req_on_abort(struct lx_http_req *req, lx_http_abort_cb *cb)
{
    req->on_abort = cb;
}

void lx_http_req_on_drain(struct lx_http_req *req, lx_http_drain_cb *cb)
{
    req->on_drain = cb;
}

/* ---- the response ---- */

/* True when bytes can still be queued for this request's client. */
static bool can_send(const struct lx_http_req *req)
{
    return req->conn != NULL && (req->aborted == LX_OK || req->aborted == LX_ESHUTDOWN);
}

int lx_http_resp_start(struct lx_http_req *req, int status, const struct lx_header *h, size_t n,
                       int64_t content_length)
{
    struct lx_conn *c = req->conn;
    bool http10 = req->head.version_minor == 0;
    bool chunked = false;
    int rc;

    if (req->started)
        return LX_EINVAL;
    req->started = true;
    if (!can_send(req))
        return LX_ECLOSED;
    if (req->is_head || (status >= 100 && status < 200) || status == 204 || status == 304) {
        /* no body follows; HEAD keeps the length it would have had */
        req->no_body = true;
        if (!req->is_head)
            content_length = -1;
    } else if (content_length < 0) {
        if (http10) {
            req->close_delimited = true;
            req->keep_alive = false;
        } else {
            chunked = true;
        }
    }
    if (content_length >= 0 && !req->no_body) {
        req->length_known = true;
        req->remaining = (uint64_t)content_length;
    }
    req->chunked = chunked;
    rc = lx__resp_head(&c->out, status, h, n, lx__worker_date(req->w), content_length, chunked,
                       req->keep_alive, http10);
    lx__conn_mark(c);
    if (rc != LX_OK) {
        c->abort_reason = LX_ECLOSED;
        return rc;
    }
    return LX_OK;
}

int lx_http_resp_write(struct lx_http_req *req, struct lx_str data)
{
    struct lx_conn *c = req->conn;
    const struct lx_server_config *cfg;

    if (!req->started)
        return LX_EINVAL;
    if (!can_send(req))
        return LX_ECLOSED;
    if (data.len == 0 || req->no_body)
        return LX_OK; /* an empty chunk would end a chunked body */
    cfg = &req->w->srv->cfg;
    if (req->length_known) {
        if (data.len > req->remaining)
            return LX_EINVAL;
        req->remaining -= data.len;
    }
    if (lx__conn_queued(c) + data.len > cfg->write_max) {
        /* a reader this slow gets dropped; the abort runs deferred, from the loop */
        c->abort_reason = LX_ECLOSED;
        lx__conn_mark(c);
        return LX_ECLOSED;
    }
    if (req->chunked) {
        append_uint(&c->out, data.len, 16);
        lx_buf_append(&c->out, "\r\n", 2);
    }
    lx_buf_append_str(&c->out, data);
    if (req->chunked)
        lx_buf_append(&c->out, "\r\n", 2);
    lx__conn_mark(c);
    if (c->out.err != LX_OK) {
        c->abort_reason = LX_ECLOSED;
        return c->out.err;
    }
    if (lx__conn_queued(c) >= cfg->write_high_water)
        req->was_full = true;
    return LX_OK;
}

size_t lx_http_resp_queued(const struct lx_http_req *req)
{
    return req->conn ? lx__conn_queued(req->conn) : 0;
}

bool lx_http_resp_full(const struct lx_http_req *req)
{
    return req->conn != NULL && lx__conn_queued(req->conn) >= req->w->srv->cfg.write_high_water;
}

bool lx_http_resp_started(const struct lx_http_req *req)
{
    return req->started;
}

void lx_http_resp_end(struct lx_http_req *req, bool abort_conn)
{
    struct lx_conn *c = req->conn;

    if (c == NULL || !can_send(req)) {
        if (c != NULL) {
            c->req = NULL;
            c->state = LX_CONN_CLOSING;
            lx__conn_mark(c);
        }
        lx__req_free(req);
        return;
    }
    if (!req->started) {
        if (abort_conn) {
            req->keep_alive = false;
        } else {
            /* the handler gave up without an answer: 500, or 503 when we are shutting down */
            static const char body500[] =
                "{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\","
                "\"code\":\"server_error\"}}\n";
            static const char body503[] =
                "{\"error\":{\"message\":\"server shutting down\",\"type\":\"server_error\","
                "\"code\":\"service_unavailable\"}}\n";
            struct lx_header ct = {LX_STR("Content-Type"), LX_STR("application/json")};
            bool down = req->aborted == LX_ESHUTDOWN;
            struct lx_str body = down ? lx_str_make(body503, sizeof(body503) - 1)
                                      : lx_str_make(body500, sizeof(body500) - 1);

            lx_http_resp_start(req, down ? 503 : 500, &ct, 1, (int64_t)body.len);
            lx_http_resp_write(req, body);
        }
    } else if (!abort_conn) {
        if (req->chunked)
            lx_buf_append(&c->out, "0\r\n\r\n", 5);
        else if (req->length_known && req->remaining > 0)
            abort_conn = true; /* fewer bytes than announced: the client must see a cut */
    }
    c->req = NULL;
    if (abort_conn || !req->keep_alive || req->close_delimited || c->out.err != LX_OK) {
        c->state = LX_CONN_CLOSING;
    } else {
        c->state = LX_CONN_IDLE;
        c->resume = true;
    }
    lx__conn_mark(c);
    lx__req_free(req);
}

void lx_http_resp_simple(struct lx_http_req *req, int status, struct lx_str content_type,
                         struct lx_str body)
{
    struct lx_header ct = {LX_STR("Content-Type"), content_type};

    if (lx_http_resp_start(req, status, &ct, content_type.len ? 1 : 0, (int64_t)body.len) ==
        LX_OK)
        lx_http_resp_write(req, body);
    lx_http_resp_end(req, false);
}
