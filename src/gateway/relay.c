/* relay.c - POST /v1/chat/completions (and /v1/completions, /v1/embeddings) relayed to the
 * OpenAI-compatible provider the configuration picks for the model, streaming or not. Runs
 * on the request's loop thread.
 *
 * States (struct relay.state):
 *   UPSTREAM   transfer running, nothing sent to the client yet (a retry would still be safe)
 *   STREAMING  the client has our 200 and SSE events; each upstream event is passed on as it
 *              arrives (re-framed, so a cut upstream never leaves half an event at the client)
 *   SENDING    a complete (buffered) answer is being written, a slice at a time as the
 *              client drains, so a big body never trips the slow-reader cap
 *   FINISHING  the client is gone or the server drains: the upstream is canceled, waiting for
 *              its on_done
 *   DONE       lx_http_resp_end called; the relay (in the request arena) is gone with the req
 *
 * Ownership: the relay lives in the request's arena. The upstream transfer borrows the client's
 * body and the relay; so the request is ended only from on_up_done (or before the transfer
 * started), never while the transfer is still running. */
#include <stdint.h>
#include <string.h>

#include "auth/auth.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/escape.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/errors.h"
#include "gateway/gateway_int.h"
#include "router/router.h"
#include "sse/sse.h"
#include "sse/writer.h"
#include "json/json.h"
#include "json/splice.h"

enum relay_state {
    RELAY_UPSTREAM = 0,
    RELAY_STREAMING,
    RELAY_SENDING, /* a buffered answer going out slice by slice, paced by the client */
    RELAY_FINISHING,
    RELAY_DONE
};

#define SEND_SLICE (64u << 10)

struct relay {
    struct lx_gw_req *g;
    struct lx_upstream *up;
    enum relay_state state;
    bool want_stream;         /* the client asked for "stream": true */
    bool upstream_sse;        /* the upstream answered 2xx text/event-stream */
    bool done_seen;           /* upstream sent data: [DONE] */
    bool paused;              /* upstream reading stopped for back-pressure */
    bool upstream_error_seen; /* the upstream sent its own error event */
    bool client_wants_usage;  /* stream_options.include_usage was true in the client's body */
    bool usage_injected;      /* we asked the upstream for usage: its usage-only chunk is ours */
    bool client_started;      /* our response head went out: errors now travel as SSE events */
    int abort_reason;         /* 0, or why the server aborted the client side */
    struct lx_str content_type;
    struct lx_str retry_after; /* kept for the client on 429/503 */
    struct lx_buf body;        /* non-streamed response (or an error body), bounded */
    size_t send_off;           /* SENDING: bytes of body already handed to the server */
    struct lx_buf out;         /* SSE events to send, batched per upstream read */
    struct lx_sse_parser sse;
    struct lx_json doc;    /* the client's body, tokenized (in the request arena) */
    struct lx_buf up_body; /* the body for the provider when it differs from the client's */
    struct lx_header *up_headers;
    char *auth_value;             /* "Bearer <key>" in the arena; wiped when the arena goes */
    struct lx_str body_provider;  /* the body's "provider" field (S2, S3), or empty */
    struct lx_byok byok;          /* the client's own provider key, if it sent one */
    struct lx_route_result route; /* candidates, tried in order before the first byte */
    size_t cand_i;                /* the candidate of the current attempt */
};

static int start_attempt(struct relay *r);
static bool should_fail_over(const struct relay *r, const struct lx_err *err);
static void reset_for_retry(struct relay *r);

static void relay_end(struct relay *r, bool abort_conn)
{
    r->state = RELAY_DONE;
    if (r->byok.key.len > 0) /* the client's key lives in the request head: wipe it there */
        lx_auth_wipe((void *)(uintptr_t)r->byok.key.ptr, r->byok.key.len);
    lx_sse_release(&r->sse);
    lx_buf_release(&r->up_body);
    lx_buf_release(&r->body);
    lx_buf_release(&r->out);
    lx__gw_access_log(r->g);
    lx_http_resp_end(r->g->req, abort_conn);
}

static void mark_first_byte(struct relay *r)
{
    if (r->g->t_first_byte_ns == 0)
        r->g->t_first_byte_ns = lx_now_mono_ns();
}

/* Starts the client's SSE response (once). */
static int start_stream(struct relay *r)
{
    static const struct lx_header h[] = {
        {LX_STR_INIT("Content-Type"), LX_STR_INIT("text/event-stream")},
        {LX_STR_INIT("Cache-Control"), LX_STR_INIT("no-cache")},
        {LX_STR_INIT("X-Accel-Buffering"), LX_STR_INIT("no")},
    };
    int rc;

    rc = lx__gw_resp_start(r->g, 200, h, LX_ARRAY_SIZE(h), -1);
    r->g->status = 200;
    r->client_started = true;
    if (r->state == RELAY_UPSTREAM)
        r->state = RELAY_STREAMING;
    mark_first_byte(r);
    return rc;
}

static int flush_out(struct relay *r)
{
    int rc = LX_OK;

    if (r->out.err != LX_OK)
        return r->out.err;
    if (r->out.len == 0)
        return LX_OK;
    if (!r->client_started)
        rc = start_stream(r);
    if (rc == LX_OK)
        rc = lx_http_resp_write(r->g->req, lx_buf_str(&r->out));
    lx_buf_reset(&r->out);
    return rc;
}

/* The bytes "usage" followed by ':' and an object: cheap enough for every event, so that only
 * the chunk that carries usage is tokenized. */
static bool has_usage_object(struct lx_str d)
{
    static const struct lx_str key = LX_STR_INIT("\"usage\"");

    for (size_t i = 0; i + key.len < d.len; i++) {
        size_t j;

        if (d.ptr[i] != '"' || memcmp(d.ptr + i, key.ptr, key.len) != 0)
            continue;
        for (j = i + key.len; j < d.len && (d.ptr[j] == ' ' || d.ptr[j] == ':'); j++)
            ;
        if (j < d.len && d.ptr[j] == '{')
            return true;
    }
    return false;
}

static int64_t usage_field(const struct lx_json *doc, int obj, const char *key)
{
    int64_t v = 0;

    return lx_json_int64(doc, lx_json_get(doc, obj, lx_str_cstr(key)), &v) == LX_OK ? v : -1;
}

/* Reads OpenAI's usage object of a response or chunk into the access log's fields. Returns
 * true when the document is a usage-only chunk ("choices": []), which is ours to keep when we
 * injected stream_options.include_usage for a client that did not ask. */
static bool take_usage(struct lx_gw_req *g, struct lx_str json)
{
    struct lx_json doc;
    bool usage_only = false;
    int u, ch;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, lx_http_req_arena(g->req)); /* no malloc per answer */
    if (lx_json_parse(&doc, json.ptr, json.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto out;
    u = lx_json_get(&doc, 0, LX_STR("usage"));
    if (lx_json_type(&doc, u) != LX_JSON_OBJECT)
        goto out;
    g->usage.prompt = usage_field(&doc, u, "prompt_tokens");
    g->usage.completion = usage_field(&doc, u, "completion_tokens");
    g->usage.total = usage_field(&doc, u, "total_tokens");
    g->usage.cached =
        usage_field(&doc, lx_json_get(&doc, u, LX_STR("prompt_tokens_details")), "cached_tokens");
    g->usage.reasoning = usage_field(
        &doc, lx_json_get(&doc, u, LX_STR("completion_tokens_details")), "reasoning_tokens");
    g->usage.have = true;
    ch = lx_json_get(&doc, 0, LX_STR("choices"));
    usage_only = lx_json_type(&doc, ch) == LX_JSON_ARRAY && lx_json_count(&doc, ch) == 0;
out:
    lx_json_release(&doc); /* scratch of objects with many keys */
    return usage_only;
}

static int on_sse_event(void *ctx, const struct lx_sse_event *ev)
{
    struct relay *r = ctx;

    if (ev->kind == LX_SSE_COMMENT) {
        /* keep-alive comments (OpenRouter's ": OPENROUTER PROCESSING") keep idle clients
         * and their proxies from timing out: pass them on */
        return lx_sse_write_comment(&r->out, ev->data);
    }
    if (r->done_seen)
        return LX_OK; /* nothing may follow the terminator */
    if (lx_str_eq(ev->data, LX_STR("[DONE]")))
        r->done_seen = true;
    else if (lx_str_starts_with(ev->data, LX_STR("{\"error\"")))
        r->upstream_error_seen = true; /* OpenAI's way to fail a started stream */
    else if (has_usage_object(ev->data) && take_usage(r->g, ev->data) && r->usage_injected)
        return LX_OK; /* the usage chunk we asked for; the client did not */
    return lx_sse_write_event(&r->out, ev->event, ev->data);
}

static void send_error_event(struct relay *r, const char *message, const char *code)
{
    struct lx_buf b = LX_BUF_INIT(4096);

    lx_openai_error_json(&b, message, "upstream_error", code);
    lx_sse_write_event(&r->out, LX_STR_NULL, lx_buf_str(&b));
    lx_buf_release(&b);
    flush_out(r);
}

static void on_up_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct relay *r = lx_upstream_data(up);
    const struct lx_header *ct = lx_header_find(h, n, LX_STR("content-type"));
    const struct lx_header *ra = lx_header_find(h, n, LX_STR("retry-after"));

    r->g->upstream_status = status;
    if (ct)
        r->content_type = lx_arena_dup(lx_http_req_arena(r->g->req), ct->value);
    if (ra && ra->value.len <= 64)
        r->retry_after = lx_arena_dup(lx_http_req_arena(r->g->req), ra->value);
    r->upstream_sse = status >= 200 && status < 300 && ct &&
                      lx_str_starts_with(lx_str_trim(ct->value), LX_STR("text/event-stream"));
}

static int on_up_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct relay *r = lx_upstream_data(up);
    int rc;

    if (r->state >= RELAY_FINISHING)
        return LX_OK; /* canceled: on_done is on its way */
    if (!r->upstream_sse)
        return lx_buf_append_str(&r->body, chunk);
    rc = lx_sse_feed(&r->sse, chunk, on_sse_event, r);
    if (rc == LX_OK)
        rc = flush_out(r);
    if (rc != LX_OK)
        return rc;
    if (lx_http_resp_full(r->g->req)) {
        r->paused = true;
        return LX_EPAUSE;
    }
    return LX_OK;
}

static void finish_stream(struct relay *r, const struct lx_err *err)
{
    int rc = lx_sse_finish(&r->sse);

    if (r->abort_reason == LX_ESHUTDOWN) {
        r->g->error_class = "shutdown";
        send_error_event(r, "The server is shutting down; the stream was ended early.",
                         "server_shutdown");
    } else if (err != NULL && err->rc == LX_ETIMEDOUT) {
        r->g->error_class = "upstream_timeout";
        send_error_event(r, "The upstream stopped sending in the middle of the stream.",
                         "upstream_timeout");
    } else if (err != NULL && (err->rc == LX_ETRUNCATED || err->rc == LX_ECONNRESET ||
                               err->rc == LX_ECLOSED || err->rc == LX_EPROTO)) {
        r->g->error_class = "upstream_truncated";
        send_error_event(r, "The upstream stream ended before it was complete.",
                         "stream_truncated");
    } else if (err != NULL) {
        r->g->error_class = "upstream_broken";
        send_error_event(r, err->msg[0] ? err->msg : "The upstream stream failed.",
                         "upstream_error");
    } else if (r->upstream_error_seen && !r->done_seen) {
        r->g->error_class = "upstream_error_event"; /* the client has the provider's error */
    } else if (rc != LX_OK || !r->done_seen) {
        /* a stream without its terminator is an error, never a clean end */
        r->g->error_class = "upstream_truncated";
        send_error_event(r, "The upstream stream ended before it was complete.",
                         "stream_truncated");
    }
    relay_end(r, false);
}

/* Writes the buffered body while the client keeps up; on_client_drain calls it again. */
static void pump_body(struct relay *r)
{
    while (r->send_off < r->body.len) {
        size_t n = LX_MIN(SEND_SLICE, r->body.len - r->send_off);

        if (lx_http_resp_write(r->g->req, lx_str_make(r->body.ptr + r->send_off, n)) != LX_OK) {
            r->g->error_class = "client_closed";
            relay_end(r, true);
            return;
        }
        r->send_off += n;
        if (r->send_off < r->body.len && lx_http_resp_full(r->g->req))
            return; /* wait for the drain callback */
    }
    relay_end(r, false);
}

/* A complete non-streamed answer, or an upstream error before any byte reached the client. */
static void finish_buffered(struct relay *r)
{
    struct lx_header h[2] = {
        {LX_STR("Content-Type"),
         r->content_type.len ? r->content_type : LX_STR("application/json")},
        {LX_STR("Retry-After"), r->retry_after},
    };
    int status = r->g->upstream_status;

    if (r->body.err != LX_OK) {
        r->g->status = 502;
        r->g->error_class = "upstream_too_big";
        lx_write_openai_error(r->g->req, 502, "The upstream response was too large.",
                              "upstream_too_big", r->g->extra, r->g->n_extra);
        relay_end(r, false);
        return;
    }
    if (status >= 200 && status < 300 && r->want_stream && !r->upstream_sse)
        r->g->error_class = "upstream_not_streaming";
    if (status >= 200 && status < 300)
        take_usage(r->g, lx_buf_str(&r->body));
    r->g->status = status;
    if (status >= 400)
        r->g->error_class = r->g->error_class ? r->g->error_class : "upstream_status";
    mark_first_byte(r);
    if (lx__gw_resp_start(r->g, status, h, r->retry_after.len ? 2 : 1, (int64_t)r->body.len) !=
        LX_OK) {
        relay_end(r, true);
        return;
    }
    r->state = RELAY_SENDING;
    pump_body(r);
}

static void on_up_done(struct lx_upstream *up, const struct lx_err *err)
{
    struct relay *r = lx_upstream_data(up);

    r->up = NULL;
    if (r->abort_reason == LX_ECLOSED || r->abort_reason == LX_ETIMEDOUT) {
        /* the client is gone: nothing to tell it; close without a clean end */
        r->g->status = r->client_started ? r->g->status : 499;
        r->g->error_class = "client_closed";
        relay_end(r, true);
        return;
    }
    if (r->abort_reason == LX_ESHUTDOWN && !r->client_started) {
        r->g->status = 503;
        r->g->error_class = "shutdown";
        lx_write_openai_error(r->g->req, 503, "The server is shutting down.", "server_shutdown",
                              r->g->extra, r->g->n_extra);
        relay_end(r, false);
        return;
    }
    if (should_fail_over(r, err)) {
        /* nothing reached the client yet: the next candidate may answer */
        lx_logf(LX_LOG_INFO, "request %s: %s failed (%s), trying the next target", r->g->id,
                r->g->provider, err ? lx_err_name(err->rc) : "upstream status");
        reset_for_retry(r);
        r->cand_i++;
        if (start_attempt(r) == LX_OK)
            return;
        err = NULL;
        r->g->upstream_status = 502;
        lx_buf_reset(&r->body);
    }
    if (!r->client_started && r->upstream_sse && err == NULL)
        start_stream(r); /* an event stream that carried no event: finish_stream says so */
    if (r->client_started) {
        finish_stream(r, err);
        return;
    }
    if (err != NULL) {
        r->g->status = err->http_status ? err->http_status : 502;
        r->g->error_class = err->rc == LX_ETIMEDOUT ? "upstream_timeout" : "upstream_unreachable";
        lx_write_openai_error(r->g->req, r->g->status,
                              err->msg[0] ? err->msg : "The upstream request failed.",
                              err->rc == LX_ETIMEDOUT ? "upstream_timeout" : "upstream_error",
                              r->g->extra, r->g->n_extra);
        relay_end(r, false);
        return;
    }
    finish_buffered(r);
}

static void on_client_abort(struct lx_http_req *req, int reason)
{
    struct lx_gw_req *g = lx_http_req_data(req);
    struct relay *r = g ? g->relay : NULL;

    if (r == NULL || r->state >= RELAY_FINISHING)
        return;
    if (r->state == RELAY_SENDING) { /* no transfer left: end here */
        r->g->error_class = "client_closed";
        relay_end(r, true);
        return;
    }
    r->abort_reason = reason;
    r->state = RELAY_FINISHING; /* on_up_data drops what still arrives */
    if (r->up != NULL)
        lx_upstream_cancel(r->up); /* its on_done ends the request */
}

static void on_client_drain(struct lx_http_req *req)
{
    struct lx_gw_req *g = lx_http_req_data(req);
    struct relay *r = g ? g->relay : NULL;

    if (r && r->state == RELAY_SENDING) {
        pump_body(r);
        return;
    }
    if (r && r->paused && r->up) {
        r->paused = false;
        lx_upstream_resume(r->up);
    }
}

/* Reads what the pipeline needs from the client's body: it must be a JSON object with a
 * "model" string; "stream" is optional. 0, or an error already sent to the client. */
static int read_request(struct lx_gw_req *g, struct relay *r, struct lx_str body)
{
    struct lx_json *doc = &r->doc;
    int model, stream, rc;

    lx_json_init(doc, NULL);
    lx_json_use_arena(doc, lx_http_req_arena(g->req));
    rc = lx_json_parse(doc, body.ptr, body.len);
    if (rc != LX_OK) {
        lx__gw_fail(g, 400,
                    rc == LX_EDUPKEY  ? "The request body has a duplicate key."
                    : rc == LX_EDEPTH ? "The request body is nested too deeply."
                                      : "We could not parse the JSON body of your request.",
                    "invalid_json", "bad_json");
        return -1;
    }
    if (lx_json_type(doc, 0) != LX_JSON_OBJECT) {
        lx__gw_fail(g, 400, "The request body must be a JSON object.", "invalid_json", "bad_json");
        return -1;
    }
    model = lx_json_get(doc, 0, LX_STR("model"));
    if (model < 0 || lx_json_type(doc, model) != LX_JSON_STRING) {
        lx__gw_fail(g, 400, "You must provide a model parameter.", "missing_model", "bad_request");
        return -1;
    }
    if (lx_json_str(doc, model, lx_http_req_arena(g->req), &g->model) != LX_OK) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return -1;
    }
    stream = lx_json_get(doc, 0, LX_STR("stream"));
    if (lx_json_type(doc, lx_json_get(doc, 0, LX_STR("provider"))) == LX_JSON_STRING &&
        lx_json_str(doc, lx_json_get(doc, 0, LX_STR("provider")), lx_http_req_arena(g->req),
                    &r->body_provider) != LX_OK) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return -1;
    }
    r->want_stream = stream >= 0 && lx_json_type(doc, stream) == LX_JSON_TRUE &&
                     strcmp(g->upstream_path, "/embeddings") != 0;
    g->stream = r->want_stream;
    if (r->want_stream) {
        int so = lx_json_get(doc, 0, LX_STR("stream_options"));
        int iu = lx_json_get(doc, so, LX_STR("include_usage"));

        r->client_wants_usage = lx_json_type(doc, iu) == LX_JSON_TRUE;
    }
    return 0;
}

static void wipe(void *p)
{
    char *s = p;

    explicit_bzero(s, strlen(s));
}

/* The client's stream_options with include_usage set to true: its other members are kept as
 * they were written. */
static void stream_options_with_usage(const struct lx_json *doc, struct lx_buf *out)
{
    int so = lx_json_get(doc, 0, LX_STR("stream_options"));

    lx_buf_append_char(out, '{');
    if (lx_json_type(doc, so) == LX_JSON_OBJECT) {
        for (int k = lx_json_first(doc, so); k >= 0; k = lx_json_sibling(doc, so, k)) {
            if (lx_json_str_eq(doc, k, LX_STR("include_usage")))
                continue;
            lx_buf_append_str(out, lx_json_raw(doc, k));
            lx_buf_append_char(out, ':');
            lx_buf_append_str(out, lx_json_raw(doc, k + 1));
            lx_buf_append_char(out, ',');
        }
    }
    lx_buf_append_cstr(out, "\"include_usage\":true}");
}

/* The provider's URL, headers and body for this request, all in the request arena. */
static int build_upstream(struct lx_gw_req *g, struct relay *r, const struct lx_config_provider *p,
                          struct lx_str up_model, struct lx_upstream_req *ur)
{
    struct lx_arena *a = lx_http_req_arena(g->req);
    size_t base_len = strlen(p->base_url), nh = 0;
    size_t path_len = strlen(g->upstream_path);
    char *url = lx_arena_alloc(a, base_len + path_len + 1);

    r->up_headers = lx_arena_alloc(a, sizeof(struct lx_header) * (4 + p->n_headers));
    if (url == NULL || r->up_headers == NULL)
        return LX_ENOMEM;
    memcpy(url, p->base_url, base_len);
    memcpy(url + base_len, g->upstream_path, path_len + 1);
    r->up_headers[nh++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    r->up_headers[nh++] =
        (struct lx_header){LX_STR("Accept"), r->want_stream ? LX_STR("text/event-stream")
                                                            : LX_STR("application/json")};
    if (r->byok.source != LX_BYOK_NONE || p->n_keys > 0) {
        /* the client's own key (BYOK) for this one request, else the provider's */
        struct lx_str key = r->byok.source != LX_BYOK_NONE ? r->byok.key : lx_str_cstr(p->keys[0]);
        size_t klen = key.len;

        r->auth_value = lx_arena_alloc(a, klen + 8);
        if (r->auth_value == NULL)
            return LX_ENOMEM;
        memcpy(r->auth_value, "Bearer ", 7);
        memcpy(r->auth_value + 7, key.ptr, klen);
        r->auth_value[klen + 7] = '\0';
        if (lx_arena_on_release(a, wipe, r->auth_value) != LX_OK) {
            explicit_bzero(r->auth_value, klen + 7);
            return LX_ENOMEM;
        }
        r->up_headers[nh++] =
            (struct lx_header){LX_STR("Authorization"), lx_str_make(r->auth_value, klen + 7)};
    }
    for (size_t i = 0; i < p->n_headers; i++)
        r->up_headers[nh++] = p->headers[i];
    if (strcmp(p->type, "openrouter") == 0 &&
        lx_header_find(p->headers, p->n_headers, LX_STR("X-Title")) == NULL) {
        /* OpenRouter's app attribution (its dashboard shows the app by this name); a
         * `headers:` entry replaces it, and HTTP-Referer can be added the same way */
        r->up_headers[nh++] = (struct lx_header){LX_STR("X-Title"), LX_STR("llmux")};
    }
    ur->method = LX_STR("POST");
    ur->url = lx_str_make(url, base_len + path_len);
    ur->headers = r->up_headers;
    ur->n_headers = nh;
    ur->body = lx_http_req_body(g->req);
    /* a provider's own timeouts win; values it inherited from the file's `upstream:` are left
     * to the loop's defaults, which the command line may have changed */
    {
        const struct lx_config_timeouts *d = &g->cfg->upstream.timeouts, *t = &p->timeouts;

        ur->connect_timeout_ms = t->connect_ms != d->connect_ms ? t->connect_ms : 0;
        ur->first_byte_timeout_ms = t->first_byte_ms != d->first_byte_ms ? t->first_byte_ms : 0;
        ur->idle_timeout_ms = t->idle_ms != d->idle_ms ? t->idle_ms : 0;
        ur->total_timeout_ms = t->total_ms != d->total_ms ? t->total_ms : 0;
    }
    {
        struct lx_json_edit edits[2];
        struct lx_buf mv = LX_BUF_INIT(up_model.len * 6 + 16), so = LX_BUF_INIT(1u << 16);
        size_t n = 0;
        int rc = LX_OK;

        if (!lx_str_eq(up_model, g->model)) {
            /* "openai/gpt-4o" reaches the provider as "gpt-4o" */
            lx_buf_append_char(&mv, '"');
            lx_json_escape(&mv, up_model);
            lx_buf_append_char(&mv, '"');
            edits[n++] = (struct lx_json_edit){LX_STR("model"), lx_buf_str(&mv)};
        }
        if (r->want_stream && !r->client_wants_usage) {
            /* every stream reports its tokens; the usage-only chunk is kept from a client that
             * did not ask for it (on_sse_event) */
            stream_options_with_usage(&r->doc, &so);
            edits[n++] = (struct lx_json_edit){LX_STR("stream_options"), lx_buf_str(&so)};
            r->usage_injected = true;
        }
        if (n > 0) {
            /* only these fields change: every other byte of the client's body is kept
             * (DESIGN.md fast path) */
            lx_buf_init(&r->up_body, ur->body.len + mv.len + so.len + 64);
            rc = mv.err != LX_OK   ? mv.err
                 : so.err != LX_OK ? so.err
                                   : lx_json_splice(&r->doc, 0, edits, n, &r->up_body);
            ur->body = lx_buf_str(&r->up_body);
        }
        lx_buf_release(&mv);
        lx_buf_release(&so);
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

/* Starts the transfer to candidate r->cand_i. LX_OK, or an error (nothing started). */
static int start_attempt(struct relay *r)
{
    const struct lx_route_candidate *c = &r->route.cand[r->cand_i];
    struct lx_upstream_req ur = {0};
    struct lx_upstream_cbs cbs = {on_up_head, on_up_data, on_up_done, r};
    int rc;

    r->g->provider = c->provider->name;
    r->g->attempts++;
    lx_buf_release(&r->up_body);
    rc = build_upstream(r->g, r, c->provider, c->model, &ur);
    if (rc == LX_OK)
        rc = lx_upstream_start(r->g->w->up, &ur, &cbs, &r->up);
    return rc;
}

/* Whether an answer that reached nobody yet should go to the next candidate instead: the
 * provider could not be reached, or said it is overloaded or broken. A 4xx other than 429 is
 * the client's request and would fail the same everywhere. */
static bool should_fail_over(const struct relay *r, const struct lx_err *err)
{
    int st = r->g->upstream_status;

    if (r->client_started || r->abort_reason != 0 || r->cand_i + 1 >= r->route.n_cand)
        return false;
    if (err != NULL)
        return err->retryable || err->rc == LX_ETIMEDOUT;
    return st == 429 || st >= 500;
}

static void reset_for_retry(struct relay *r)
{
    lx_buf_reset(&r->body);
    lx_buf_reset(&r->out);
    lx_sse_release(&r->sse);
    lx_sse_init(&r->sse, r->g->w->gw->conf.max_sse_event);
    lx_sse_set_flags(&r->sse, LX_SSE_COMMENTS);
    r->content_type = r->retry_after = LX_STR_NULL;
    r->upstream_sse = r->done_seen = r->upstream_error_seen = r->paused = false;
    r->g->upstream_status = 0;
}

/* POST /v1/chat/completions, /v1/completions and /v1/embeddings: the same relay to the
 * provider's path of the same name (embeddings never stream). */
static void relay_start(struct lx_gw_req *g)
{
    const struct lx_gateway *gw = g->w->gw;
    const struct lx_http1_head *head = lx_http_req_head(g->req);
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct relay *r = lx_arena_zalloc(a, sizeof(*r));
    struct lx_route_req rr;

    if (r == NULL) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    r->g = g;
    if (read_request(g, r, lx_http_req_body(g->req)) != 0)
        return;
    if (lx_auth_byok(head->headers, head->n_headers, &r->byok) != LX_AUTH_OK) {
        const struct lx_auth_error *e = lx_auth_error(LX_AUTH_BAD_BYOK);

        lx__gw_fail(g, e->http_status, e->message, e->code, "bad_byok");
        return;
    }
    rr = (struct lx_route_req){g->model, r->body_provider, r->byok.provider,
                               r->byok.source != LX_BYOK_NONE};
    if (lx_route(g->cfg, &rr, &r->route) != LX_OK) {
        lx__gw_fail(g, r->route.err.http_status, r->route.err.msg, r->route.code, r->route.code);
        return;
    }
    lx_buf_init(&r->up_body, 0);
    lx_buf_init(&r->body, gw->conf.max_response_body);
    lx_buf_init(&r->out, gw->conf.max_sse_event + 4096);
    lx_sse_init(&r->sse, gw->conf.max_sse_event);
    lx_sse_set_flags(&r->sse, LX_SSE_COMMENTS);
    g->relay = r;
    lx_http_req_on_abort(g->req, on_client_abort);
    lx_http_req_on_drain(g->req, on_client_drain);
    if (start_attempt(r) != LX_OK) {
        g->relay = NULL;
        lx_sse_release(&r->sse);
        lx_buf_release(&r->up_body);
        lx_buf_release(&r->body);
        lx_buf_release(&r->out);
        lx__gw_fail(g, 502, "The upstream request could not be started.", "upstream_error",
                    "upstream_start");
    }
}

void lx__gw_chat_completions(struct lx_gw_req *g)
{
    g->route = "chat.completions";
    g->upstream_path = "/chat/completions";
    relay_start(g);
}

void lx__gw_completions(struct lx_gw_req *g)
{
    g->route = "completions";
    g->upstream_path = "/completions";
    relay_start(g);
}

void lx__gw_embeddings(struct lx_gw_req *g)
{
    g->route = "embeddings";
    g->upstream_path = "/embeddings";
    relay_start(g);
}
