/* ir.c - the small shared pieces of the IR (ir.h): initialisers, the finish-reason and
 * error-type names of each protocol, the default retry / key decisions every adapter starts
 * from, and Retry-After. Pure: no I/O, no globals but const tables; any thread. */
#include "providers/ir.h"

#include <string.h>

#include "core/err.h"


void lx_chat_req_init(struct lx_chat_req *r)
{
    memset(r, 0, sizeof(*r));
    r->parallel_tool_calls = -1;
    r->max_tokens = -1;
    r->top_k = -1;
    r->n = -1;
    r->thinking_budget = -1;
}

void lx_chat_resp_init(struct lx_chat_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->created = -1;
    r->usage = (struct lx_usage)LX_USAGE_INIT;
}

void lx_upstream_error_init(struct lx_upstream_error *e)
{
    memset(e, 0, sizeof(*e));
    e->retry_after_ms = -1;
}

const char *lx_finish_openai(enum lx_finish f)
{
    switch (f) {
    case LX_FINISH_LENGTH: return "length";
    case LX_FINISH_TOOL_CALLS: return "tool_calls";
    case LX_FINISH_CONTENT_FILTER: return "content_filter";
    case LX_FINISH_ERROR: return "stop"; /* OpenAI has no word for it; the error travels apart */
    case LX_FINISH_UNSET:
    case LX_FINISH_STOP: break;
    }
    return "stop";
}

const char *lx_finish_anthropic(enum lx_finish f)
{
    switch (f) {
    case LX_FINISH_LENGTH: return "max_tokens";
    case LX_FINISH_TOOL_CALLS: return "tool_use";
    case LX_FINISH_CONTENT_FILTER: return "refusal";
    case LX_FINISH_ERROR:
    case LX_FINISH_UNSET:
    case LX_FINISH_STOP: break;
    }
    return "end_turn";
}

const char *lx_finish_gemini(enum lx_finish f)
{
    switch (f) {
    case LX_FINISH_LENGTH: return "MAX_TOKENS";
    case LX_FINISH_CONTENT_FILTER: return "SAFETY";
    case LX_FINISH_ERROR: return "OTHER";
    case LX_FINISH_TOOL_CALLS: /* Gemini ends a function-calling turn with STOP */
    case LX_FINISH_UNSET:
    case LX_FINISH_STOP: break;
    }
    return "STOP";
}

const char *lx_err_type_openai(enum lx_err_type t)
{
    switch (t) {
    case LX_ERRT_AUTHENTICATION: return "authentication_error";
    case LX_ERRT_PERMISSION: return "permission_error";
    case LX_ERRT_NOT_FOUND: return "not_found_error";
    case LX_ERRT_RATE_LIMIT: return "rate_limit_error";
    case LX_ERRT_QUOTA: return "insufficient_quota";
    case LX_ERRT_OVERLOADED: return "service_unavailable_error";
    case LX_ERRT_SERVER: return "api_error";
    case LX_ERRT_TIMEOUT: return "timeout_error";
    case LX_ERRT_UNSET:
    case LX_ERRT_INVALID_REQUEST:
    case LX_ERRT_TOO_LARGE:
    case LX_ERRT_CONTEXT_LENGTH:
    case LX_ERRT_CONTENT_FILTER: break;
    }
    return "invalid_request_error";
}

const char *lx_err_type_anthropic(enum lx_err_type t)
{
    switch (t) {
    case LX_ERRT_AUTHENTICATION: return "authentication_error";
    case LX_ERRT_PERMISSION: return "permission_error";
    case LX_ERRT_NOT_FOUND: return "not_found_error";
    case LX_ERRT_TOO_LARGE: return "request_too_large";
    case LX_ERRT_RATE_LIMIT:
    case LX_ERRT_QUOTA: return "rate_limit_error";
    case LX_ERRT_OVERLOADED: return "overloaded_error";
    case LX_ERRT_SERVER: return "api_error";
    case LX_ERRT_TIMEOUT: return "timeout_error";
    case LX_ERRT_UNSET:
    case LX_ERRT_INVALID_REQUEST:
    case LX_ERRT_CONTEXT_LENGTH:
    case LX_ERRT_CONTENT_FILTER: break;
    }
    return "invalid_request_error";
}

const char *lx_err_type_gemini(enum lx_err_type t)
{
    switch (t) {
    case LX_ERRT_AUTHENTICATION: return "UNAUTHENTICATED";
    case LX_ERRT_PERMISSION: return "PERMISSION_DENIED";
    case LX_ERRT_NOT_FOUND: return "NOT_FOUND";
    case LX_ERRT_RATE_LIMIT:
    case LX_ERRT_QUOTA: return "RESOURCE_EXHAUSTED";
    case LX_ERRT_OVERLOADED: return "UNAVAILABLE";
    case LX_ERRT_SERVER: return "INTERNAL";
    case LX_ERRT_TIMEOUT: return "DEADLINE_EXCEEDED";
    case LX_ERRT_UNSET:
    case LX_ERRT_INVALID_REQUEST:
    case LX_ERRT_TOO_LARGE:
    case LX_ERRT_CONTEXT_LENGTH:
    case LX_ERRT_CONTENT_FILTER: break;
    }
    return "INVALID_ARGUMENT";
}

int lx_err_type_status(enum lx_err_type t)
{
    switch (t) {
    case LX_ERRT_AUTHENTICATION: return 401;
    case LX_ERRT_PERMISSION: return 403;
    case LX_ERRT_NOT_FOUND: return 404;
    case LX_ERRT_TOO_LARGE: return 413;
    case LX_ERRT_RATE_LIMIT:
    case LX_ERRT_QUOTA: return 429;
    case LX_ERRT_OVERLOADED: return 503;
    case LX_ERRT_SERVER: return 502;
    case LX_ERRT_TIMEOUT: return 504;
    case LX_ERRT_UNSET:
    case LX_ERRT_INVALID_REQUEST:
    case LX_ERRT_CONTEXT_LENGTH:
    case LX_ERRT_CONTENT_FILTER: break;
    }
    return 400;
}

enum lx_err_type lx_err_type_from_status(int status)
{
    switch (status) {
    case 401: return LX_ERRT_AUTHENTICATION;
    case 402: return LX_ERRT_QUOTA;
    case 403: return LX_ERRT_PERMISSION;
    case 404: return LX_ERRT_NOT_FOUND;
    case 408: return LX_ERRT_TIMEOUT;
    case 413: return LX_ERRT_TOO_LARGE;
    case 429: return LX_ERRT_RATE_LIMIT;
    case 503:
    case 529: return LX_ERRT_OVERLOADED;
    case 504: return LX_ERRT_TIMEOUT;
    default: break;
    }
    if (status >= 500)
        return LX_ERRT_SERVER;
    return LX_ERRT_INVALID_REQUEST;
}

void lx_upstream_error_defaults(struct lx_upstream_error *e)
{
    if (e->type == LX_ERRT_UNSET)
        e->type = lx_err_type_from_status(e->status);
    switch (e->type) {
    case LX_ERRT_RATE_LIMIT:
        e->retryable = true; /* another key, or another target, may have room */
        e->key_action = LX_KEY_COOLDOWN;
        break;
    case LX_ERRT_AUTHENTICATION:
    case LX_ERRT_PERMISSION:
    case LX_ERRT_QUOTA:
        e->retryable = true; /* this key is done; another key may not be */
        e->key_action = LX_KEY_DISABLE;
        break;
    case LX_ERRT_OVERLOADED:
    case LX_ERRT_SERVER:
    case LX_ERRT_TIMEOUT:
        e->retryable = true;
        e->key_action = LX_KEY_KEEP;
        break;
    case LX_ERRT_CONTEXT_LENGTH: /* a larger window elsewhere may fit it (issue 5) */
    case LX_ERRT_UNSET:
    case LX_ERRT_INVALID_REQUEST:
    case LX_ERRT_NOT_FOUND:
    case LX_ERRT_TOO_LARGE:
    case LX_ERRT_CONTENT_FILTER:
        e->retryable = false;
        e->key_action = LX_KEY_KEEP;
        break;
    }
}

int64_t lx_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int two_digits(const char *p)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* RFC 9110 IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"): what every provider sends. */
static int http_date_parse(struct lx_str v, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *p = v.ptr;
    int day, year_hi, year_lo, hh, mm, ss;
    unsigned mon = 0;

    if (v.len != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' ||
        p[16] != ' ' || p[19] != ':' || p[22] != ':' || memcmp(p + 25, " GMT", 4) != 0)
        return LX_EPARSE;
    for (unsigned i = 0; i < 12; i++)
        if (memcmp(p + 8, months + i * 3, 3) == 0)
            mon = i + 1;
    day = two_digits(p + 5);
    year_hi = two_digits(p + 12);
    year_lo = two_digits(p + 14);
    hh = two_digits(p + 17);
    mm = two_digits(p + 20);
    ss = two_digits(p + 23);
    if (mon == 0 || day < 1 || day > 31 || year_hi < 0 || year_lo < 0 || hh < 0 || hh > 23 ||
        mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return LX_EPARSE;
    *out = lx_days_from_civil(year_hi * 100 + year_lo, mon, (unsigned)day) * 86400 + hh * 3600 +
           mm * 60 + ss;
    return LX_OK;
}

int64_t lx_retry_after_ms(struct lx_str value, int64_t now_s)
{
    struct lx_str v = lx_str_trim(value);
    uint64_t secs;
    int64_t when;

    if (v.len == 0)
        return -1;
    if (lx_str_to_u64(v, &secs) == LX_OK)
        return secs > 86400 * 7 ? 86400 * 7 * 1000 : (int64_t)secs * 1000;
    if (http_date_parse(v, &when) != LX_OK)
        return -1;
    return when <= now_s ? 0 : (when - now_s) * 1000;
}

struct lx_str lx_chat_req_tool_name(const struct lx_chat_req *req, size_t before_msg,
                                    struct lx_str call_id)
{
    if (call_id.len == 0)
        return LX_STR_NULL;
    for (size_t m = before_msg < req->n_msgs ? before_msg : req->n_msgs; m-- > 0;) {
        const struct lx_msg *msg = &req->msgs[m];

        for (size_t i = 0; i < msg->n_parts; i++)
            if (msg->parts[i].type == LX_PART_TOOL_CALL && lx_str_eq(msg->parts[i].id, call_id))
                return msg->parts[i].name;
    }
    return LX_STR_NULL;
}
