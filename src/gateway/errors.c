/* errors.c - OpenAI-shaped error bodies (errors.h). Runs on the request's loop thread. */
#include "gateway/errors.h"

#include "core/common.h"
#include "core/escape.h"

const char *lx_openai_error_type(int status)
{
    switch (status) {
    case 400:
    case 404:
    case 405:
    case 409:
    case 413:
    case 414:
    case 415:
    case 422:
    case 431:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 502:
    case 503:
    case 504:
        return "upstream_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int lx_openai_error_json(struct lx_buf *b, const char *message, const char *type, const char *code)
{
    lx_buf_append_cstr(b, "{\"error\":{\"message\":\"");
    lx_json_escape(b, lx_str_cstr(message));
    lx_buf_append_cstr(b, "\",\"type\":\"");
    lx_json_escape(b, lx_str_cstr(type));
    lx_buf_append_cstr(b, "\",\"param\":null,\"code\":");
    if (code) {
        lx_buf_append_char(b, '"');
        lx_json_escape(b, lx_str_cstr(code));
        lx_buf_append_char(b, '"');
    } else {
        lx_buf_append_cstr(b, "null");
    }
    lx_buf_append_cstr(b, "}}");
    return b->err;
}

void lx_write_openai_error(struct lx_http_req *req, int status, const char *message,
                           const char *code, const struct lx_header *extra, size_t n_extra)
{
    static const struct lx_str fallback =
        LX_STR_INIT("{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\","
                    "\"param\":null,\"code\":null}}");
    struct lx_header h[8] = {{LX_STR("Content-Type"), LX_STR("application/json")}};
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_str body = fallback;
    size_t n = 1;

    for (size_t i = 0; i < n_extra && n < LX_ARRAY_SIZE(h); i++)
        h[n++] = extra[i];
    if (lx_openai_error_json(&b, message, lx_openai_error_type(status), code) == LX_OK)
        body = lx_buf_str(&b);
    else
        status = 500;
    if (lx_http_resp_start(req, status, h, n, (int64_t)body.len) == LX_OK)
        lx_http_resp_write(req, body);
    lx_buf_release(&b);
}

void lx_send_openai_error(struct lx_http_req *req, int status, const char *message,
                          const char *code, const struct lx_header *extra, size_t n_extra)
{
    lx_write_openai_error(req, status, message, code, extra, n_extra);
    lx_http_resp_end(req, false);
}
