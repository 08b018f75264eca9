/* relay.c - a chat (or completions, embeddings, count_tokens) request relayed to the provider
 * the configuration picks, streaming or not, in the client's protocol (OpenAI, Anthropic,
 * Gemini) whatever the provider's (relay_int.h: PASS or TRANSLATE per attempt). Runs on the
 * request's loop thread.
 *
 * States (struct relay.state):
 *   UPSTREAM   transfer running, nothing sent to the client yet (a retry would still be safe)
 *   STREAMING  the client has our 200 and events; each upstream event is passed on (PASS,
 *              re-framed, so a cut upstream never leaves half an event at the client) or
 *              translated (TRANSLATE) as it arrives
 *   SENDING    a complete (buffered) answer is being written, a slice at a time as the
 *              client drains, so a big body never trips the slow-reader cap
 *   FINISHING  the client is gone or the server drains: the upstream is canceled, waiting for
 *              its on_done
 *   DONE       lx_http_resp_end called; the relay (in the request arena) is gone with the req
 *
 * Ownership: the relay lives in the request's arena. The upstream transfer borrows the client's
 * body and the relay; so the request is ended only from on_up_done (or before the transfer
 * started), never while the transfer is still running. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/log.h"
#include "core/time.h"
#include "gateway/errors.h"
#include "gateway/relay_int.h"
#include "providers/anthropic.h"
#include "providers/openai_front.h"
#include "router/strategy.h"
#include "sse/writer.h"

#define SEND_SLICE (64u << 10)
#define MAX_ERR_HEADERS 32

static int start_attempt(struct relay *r, struct lx_err *err);
static int start_next(struct relay *r, struct lx_err *err);
static bool try_again(struct relay *r, const struct lx_err *err,
                      const struct lx_upstream_error *ue);
static void reset_for_retry(struct relay *r);
static void fail_start(struct relay *r, const struct lx_err *serr);
static void breaker_report(struct relay *r, bool success);
static void inflight_done(struct relay *r);

/* The backoff before another attempt: a libuv timer that may outlive the relay (a handle
 * closes asynchronously), so it is malloc'ed, not in the request arena. */
struct retry_timer {
    uv_timer_t t;
    struct relay *r; /* NULL once the relay ended */
};

static void retry_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void retry_fire(uv_timer_t *t)
{
    struct retry_timer *rt = t->data;
    struct relay *r = rt->r;
    struct lx_err serr = {0};

    uv_close((uv_handle_t *)t, retry_timer_closed);
    if (r == NULL)
        return;
    r->timer = NULL;
    if (start_next(r, &serr) != LX_OK)
        fail_start(r, &serr);
}

static void retry_timer_cancel(struct relay *r)
{
    if (r->timer == NULL)
        return;
    r->timer->r = NULL;
    uv_timer_stop(&r->timer->t);
    uv_close((uv_handle_t *)&r->timer->t, retry_timer_closed);
    r->timer = NULL;
}

/* xorshift64*, the worker's generator (gateway.c uses the same for request ids). */
static uint64_t relay_rand(struct relay *r)
{
    struct lx_gateway_worker *w = r->g->w;
    uint64_t x = w->rng ? w->rng : 0x9e3779b97f4a7c15u;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Du;
}


/* Zeroes a NUL-terminated secret copied into the request arena (lx_arena_dup terminates). */
static void wipe_slice(void *p)
{
    explicit_bzero(p, strlen(p));
}

static void relay_release(struct relay *r)
{
    lx_sse_release(&r->sse);
    lx_buf_release(&r->up_body);
    lx_buf_release(&r->body);
    lx_buf_release(&r->out);
    if (r->dec_live)
        lx_stream_decoder_release(r->dec);
    r->dec_live = false;
    lx_arena_free(r->scratch);
    r->scratch = NULL;
}

static void relay_end(struct relay *r, bool abort_conn)
{
    r->state = RELAY_DONE;
    retry_timer_cancel(r);
    inflight_done(r);
    breaker_report(r, true);
    lx__gw_token_cancel(&r->tw);
    if (r->waiting_images)
        lx__gw_fetch_cancel(r->fetch);
    r->waiting_images = false;
    r->fetch = NULL;
    if (r->byok.key.len > 0) /* the client's key lives in the request head: wipe it there */
        lx_auth_wipe((void *)(uintptr_t)r->byok.key.ptr, r->byok.key.len);
    relay_release(r);
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

/* ---- usage ------------------------------------------------------------------------------ */

static void usage_from_ir(struct lx_gw_req *g, const struct lx_usage *u)
{
    if (u->input >= 0)
        g->usage.prompt = u->input;
    if (u->output >= 0)
        g->usage.completion = u->output;
    if (u->total >= 0)
        g->usage.total = u->total;
    else if (g->usage.prompt >= 0 && g->usage.completion >= 0)
        g->usage.total = g->usage.prompt + g->usage.completion;
    if (u->cache_read >= 0)
        g->usage.cached = u->cache_read;
    if (u->reasoning >= 0)
        g->usage.reasoning = u->reasoning;
    if (!g->usage.have) {
        g->usage.have = true;
        if (u->cache_read < 0)
            g->usage.cached = -1;
        if (u->reasoning < 0)
            g->usage.reasoning = -1;
        if (u->input < 0)
            g->usage.prompt = -1;
        if (u->output < 0)
            g->usage.completion = -1;
        if (u->total < 0 && (u->input < 0 || u->output < 0))
            g->usage.total = -1;
    }
}

/* The bytes "usage" followed by ':' and an object: cheap enough for every event, so that only
 * the chunk that carries usage is tokenized. */
static bool has_usage_object(struct lx_str d)
{
    static const char key[] = "\"usage\"";
    const size_t kl = sizeof(key) - 1;
    const char *p = d.ptr, *end = d.ptr + d.len;

    /* jumps from quote to quote with memchr: every OpenAI stream event is looked at */
    while ((size_t)(end - p) > kl && (p = memchr(p, '"', (size_t)(end - p) - kl)) != NULL) {
        const char *j = p + kl;

        if (memcmp(p, key, kl) == 0) {
            while (j < end && (*j == ' ' || *j == ':'))
                j++;
            if (j < end && *j == '{')
                return true;
        }
        p++;
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

/* PASS of Anthropic or Gemini: the provider's decoder reads the events that carry usage, the
 * terminal event and errors (its deltas go nowhere else). */
static int observe_delta(void *ctx, const struct lx_delta *d)
{
    struct relay *r = ctx;

    if (d->type == LX_DELTA_USAGE)
        usage_from_ir(r->g, &d->usage);
    else if (d->type == LX_DELTA_DONE)
        r->done_seen = true;
    else if (d->type == LX_DELTA_ERROR)
        r->upstream_error_seen = true;
    return LX_OK;
}

static void observe_event(struct relay *r, const struct lx_sse_event *ev)
{
    struct lx_stream_event se = {ev->event, ev->data, false};
    struct lx_delta_sink sink = {observe_delta, r};
    struct lx_err err = {0};

    if (r->pops == NULL || r->pops->parse_event == NULL)
        return;
    if (r->g->src == LX_SRC_ANTHROPIC && !lx_str_eq(ev->event, LX_STR("message_start")) &&
        !lx_str_eq(ev->event, LX_STR("message_delta")) &&
        !lx_str_eq(ev->event, LX_STR("message_stop")) && !lx_str_eq(ev->event, LX_STR("error")))
        return; /* text deltas carry nothing we count: not even tokenized */
    if (r->scratch == NULL) {
        r->scratch = lx_arena_new(8192, r->g->w->gw->conf.max_sse_event * 16 + (1u << 20));
        if (r->scratch == NULL)
            return;
        r->pst.a = lx_http_req_arena(r->g->req);
        r->pst.call = &r->call;
    }
    r->pst.scratch = r->scratch;
    r->pops->parse_event(&r->pst, &se, &sink, &err); /* a bad event is the client's to see */
    lx_arena_reset(r->scratch);
}

/* ---- streams ---------------------------------------------------------------------------- */

static int on_sse_event(void *ctx, const struct lx_sse_event *ev)
{
    struct relay *r = ctx;

    if (ev->kind == LX_SSE_COMMENT) {
        /* keep-alive comments (OpenRouter's ": OPENROUTER PROCESSING") keep idle clients
         * and their proxies from timing out: pass them on */
        return lx_sse_write_comment(&r->out, ev->data);
    }
    if (r->g->src != LX_SRC_OPENAI) {
        observe_event(r, ev);
        return lx_sse_write_event(&r->out, ev->event, ev->data);
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

/* TRANSLATE: each IR delta of the provider's stream, encoded for the client. */
static int on_delta(void *ctx, const struct lx_delta *d)
{
    struct relay *r = ctx;

    switch (d->type) {
    case LX_DELTA_USAGE: usage_from_ir(r->g, &d->usage); break;
    case LX_DELTA_ERROR: r->upstream_error_seen = true; break;
    case LX_DELTA_DONE: r->done_seen = true; break;
    default: break;
    }
    return r->fdo->encode_delta(&r->fds, d, &r->out);
}

/* An error event in the client's stream protocol. */
static void send_error_event(struct relay *r, enum lx_err_type type, const char *message,
                             const char *code)
{
    if (r->g->fd != NULL || r->mode == RELAY_TRANSLATE) {
        r->fdo->encode_stream_error(&r->fds, type, lx_str_cstr(message), &r->out);
    } else {
        struct lx_buf b = LX_BUF_INIT(4096);

        lx_openai_error_json(&b, message, "upstream_error", code);
        lx_sse_write_event(&r->out, LX_STR_NULL, lx_buf_str(&b));
        lx_buf_release(&b);
    }
    flush_out(r);
}

static void on_up_head(struct lx_upstream *up, int status, const struct lx_header *h, size_t n)
{
    struct relay *r = lx_upstream_data(up);
    struct lx_arena *a = lx_http_req_arena(r->g->req);
    const struct lx_header *ct = lx_header_find(h, n, LX_STR("content-type"));
    const struct lx_header *ra = lx_header_find(h, n, LX_STR("retry-after"));
    bool ok = status >= 200 && status < 300;

    r->g->upstream_status = status;
    if (ct)
        r->content_type = lx_arena_dup(a, ct->value);
    if (ra && ra->value.len <= 64)
        r->retry_after = lx_arena_dup(a, ra->value);
    if (r->target_id.len > 0 && r->attempt_start_ns) {
        lx_state_latency_add(r->g->w->gw->state, r->target_id,
                             (double)(lx_now_mono_ns() - r->attempt_start_ns) / 1e6,
                             lx_now_wall_ms());
        r->attempt_start_ns = 0;
    }
    breaker_report(r, status < 500);
    if (ok && r->key_picked)
        lx_pool_on_success(lx__gw_pool(r->g->cfg, r->route.cand[r->cand_i].provider_index),
                           &r->g->w->gw->pool_ops, r->key_index, r->call.model,
                           lx_now_wall_ms());
    if (!ok) {
        /* map_error reads Retry-After and the providers' own rate-limit headers */
        size_t k = LX_MIN(n, (size_t)MAX_ERR_HEADERS);

        r->up_resp_headers = lx_arena_alloc(a, k * sizeof(*h) + 1);
        r->n_up_resp_headers = 0;
        for (size_t i = 0; r->up_resp_headers && i < k; i++) {
            r->up_resp_headers[i].name = lx_arena_dup(a, h[i].name);
            r->up_resp_headers[i].value = lx_arena_dup(a, h[i].value);
            if (r->up_resp_headers[i].name.ptr && r->up_resp_headers[i].value.ptr)
                r->n_up_resp_headers = i + 1;
        }
    }
    if (r->mode == RELAY_PASS) {
        r->upstream_sse = ok && ct &&
                          lx_str_starts_with(lx_str_trim(ct->value), LX_STR("text/event-stream"));
        return;
    }
    /* TRANSLATE: a 2xx answer to a stream request is the provider's framing (SSE, NDJSON,
     * event-stream) unless it plainly says JSON where JSON is not its stream framing */
    r->upstream_sse = ok && r->want_stream &&
                      !(ct && r->pops->framing != LX_FRAMING_NDJSON &&
                        lx_str_starts_with(lx_str_trim(ct->value), LX_STR("application/json")));
}

static int on_up_data(struct lx_upstream *up, struct lx_str chunk)
{
    struct relay *r = lx_upstream_data(up);
    int rc;

    if (r->state >= RELAY_FINISHING)
        return LX_OK; /* canceled: on_done is on its way */
    if (!r->upstream_sse)
        return lx_buf_append_str(&r->body, chunk);
    if (r->mode == RELAY_TRANSLATE)
        rc = lx_stream_decoder_feed(r->dec, chunk);
    else
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
    int rc = r->mode == RELAY_TRANSLATE ? lx_stream_decoder_finish(r->dec)
                                        : lx_sse_finish(&r->sse);

    if (r->abort_reason == LX_ESHUTDOWN) {
        r->g->error_class = "shutdown";
        send_error_event(r, LX_ERRT_OVERLOADED,
                         "The server is shutting down; the stream was ended early.",
                         "server_shutdown");
    } else if (err != NULL && err->rc == LX_ETIMEDOUT) {
        r->g->error_class = "upstream_timeout";
        send_error_event(r, LX_ERRT_TIMEOUT,
                         "The upstream stopped sending in the middle of the stream.",
                         "upstream_timeout");
    } else if (err != NULL && (err->rc == LX_ETRUNCATED || err->rc == LX_ECONNRESET ||
                               err->rc == LX_ECLOSED || err->rc == LX_EPROTO)) {
        r->g->error_class = "upstream_truncated";
        send_error_event(r, LX_ERRT_SERVER, "The upstream stream ended before it was complete.",
                         "stream_truncated");
    } else if (err != NULL) {
        r->g->error_class = "upstream_broken";
        send_error_event(r, LX_ERRT_SERVER,
                         err->msg[0] ? err->msg : "The upstream stream failed.",
                         "upstream_error");
    } else if (r->upstream_error_seen && !r->done_seen) {
        r->g->error_class = "upstream_error_event"; /* the client has the provider's error */
    } else if (rc != LX_OK || !r->done_seen) {
        /* a stream without its terminator is an error, never a clean end */
        r->g->error_class = "upstream_truncated";
        send_error_event(r, LX_ERRT_SERVER, "The upstream stream ended before it was complete.",
                         "stream_truncated");
    }
    flush_out(r);
    relay_end(r, false);
}

/* ---- complete answers ------------------------------------------------------------------- */

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

static void send_body(struct relay *r, int status, struct lx_str content_type)
{
    struct lx_header h[2] = {
        {LX_STR("Content-Type"), content_type},
        {LX_STR("Retry-After"), r->retry_after},
    };

    r->g->status = status;
    mark_first_byte(r);
    if (lx__gw_resp_start(r->g, status, h, r->retry_after.len ? 2 : 1, (int64_t)r->body.len) !=
        LX_OK) {
        relay_end(r, true);
        return;
    }
    r->state = RELAY_SENDING;
    pump_body(r);
}

/* An error answer sent in the client's protocol, and the request ended. */
static void fail_client(struct relay *r, int status, enum lx_err_type type, struct lx_str msg,
                        struct lx_str code, const char *error_class)
{
    struct lx_header h = {LX_STR("Retry-After"), r->retry_after};

    r->g->status = status;
    r->g->error_class = error_class;
    mark_first_byte(r);
    lx__gw_write_error(r->g, status, type, msg, code, &h, r->retry_after.len ? 1 : 0);
    relay_end(r, false);
}

/* The provider's error, classified by its adapter. */
static void map_upstream_error(struct relay *r, struct lx_upstream_error *ue)
{
    lx_upstream_error_init(ue);
    ue->status = r->g->upstream_status;
    if (r->pops != NULL && r->pops->map_error != NULL) {
        r->pops->map_error(&r->call, r->g->upstream_status, r->up_resp_headers,
                           r->n_up_resp_headers, lx_buf_str(&r->body),
                           lx_http_req_arena(r->g->req), ue);
    } else {
        ue->type = lx_err_type_from_status(ue->status);
        lx_upstream_error_defaults(ue);
    }
}

/* TRANSLATE: the provider's error in the client's protocol. The status is the provider's,
 * but for 529 (Anthropic's overloaded) to clients that do not know it, and anything that is
 * not an error status. */
static void finish_translated_error(struct relay *r, const struct lx_upstream_error *ue)
{
    int status = ue->status;

    if (status == 529 && r->g->src != LX_SRC_ANTHROPIC)
        status = 503;
    if (status < 400 || status > 599)
        status = 502;
    fail_client(r, status, ue->type,
                ue->message.len ? ue->message : LX_STR("The upstream provider returned an error."),
                ue->code, "upstream_status");
}

/* A token count in the client's protocol: Anthropic's {"input_tokens":N}, Gemini's
 * {"totalTokens":N}. */
static int encode_count(const struct relay *r, int64_t n, struct lx_buf *out)
{
    if (r->g->src == LX_SRC_GEMINI) {
        lx_buf_appendf(out, "{\"totalTokens\":%lld}", (long long)(n < 0 ? 0 : n));
        return out->err;
    }
    return lx_anthropic_encode_count(n < 0 ? 0 : n, out);
}

/* TRANSLATE: a complete 2xx answer decoded by the provider's adapter and encoded for the
 * client (chat, legacy completion, embeddings or count_tokens). */
static void finish_translated(struct relay *r)
{
    struct lx_arena *a = lx_http_req_arena(r->g->req);
    struct lx_buf out = LX_BUF_INIT(r->g->w->gw->conf.max_response_body + (1u << 20));
    struct lx_err err = {0};
    struct lx_str body = lx_buf_str(&r->body);
    int rc;

    if (r->g->endpoint == LX_EP_EMBEDDINGS) {
        struct lx_embed_resp er = {0};

        rc = r->pops->parse_embeddings(&r->call, body, a, &er, &err);
        if (rc == LX_OK) {
            usage_from_ir(r->g, &er.usage);
            rc = lx_openai_encode_embeddings(r->eir, &er, &out);
        }
    } else {
        struct lx_chat_resp resp;

        lx_chat_resp_init(&resp);
        rc = r->pops->parse_response(&r->call, body, a, &resp, &err);
        if (rc == LX_OK) {
            usage_from_ir(r->g, &resp.usage);
            if (r->g->endpoint == LX_EP_COUNT_TOKENS)
                rc = encode_count(r, resp.usage.input, &out);
            else
                rc = r->fdo->encode_response(r->ir, &resp, (int64_t)(lx_now_wall_ms() / 1000),
                                             &out);
        }
    }
    if (rc == LX_OK && out.err != LX_OK)
        rc = out.err;
    if (rc != LX_OK) {
        lx_buf_release(&out);
        fail_client(r, 502, LX_ERRT_SERVER,
                    lx_str_cstr(err.msg[0] ? err.msg : "The upstream answer could not be read."),
                    LX_STR("bad_upstream_answer"), "upstream_bad_answer");
        return;
    }
    lx_buf_release(&r->body);
    r->body = out; /* pump_body sends it; relay_release frees it */
    r->retry_after = LX_STR_NULL;
    send_body(r, 200, LX_STR("application/json"));
}

/* A complete non-streamed answer, or an upstream error before any byte reached the client. */
static void finish_buffered(struct relay *r, const struct lx_upstream_error *ue)
{
    int status = r->g->upstream_status;

    if (r->body.err != LX_OK) {
        fail_client(r, 502, LX_ERRT_SERVER, LX_STR("The upstream response was too large."),
                    LX_STR("upstream_too_big"), "upstream_too_big");
        return;
    }
    if (status >= 200 && status < 300 && r->want_stream && !r->upstream_sse)
        r->g->error_class = "upstream_not_streaming";
    if (r->mode == RELAY_TRANSLATE) {
        if (status >= 200 && status < 300 && !r->want_stream)
            finish_translated(r);
        else if (status >= 200 && status < 300)
            fail_client(r, 502, LX_ERRT_SERVER,
                        LX_STR("The upstream answered without streaming."),
                        LX_STR("upstream_not_streaming"), "upstream_not_streaming");
        else
            finish_translated_error(r, ue);
        return;
    }
    if (status >= 200 && status < 300) {
        if (r->g->src == LX_SRC_OPENAI) {
            take_usage(r->g, lx_buf_str(&r->body));
        } else if (r->pops && r->pops->parse_response) {
            struct lx_chat_resp resp;
            struct lx_err err = {0};

            lx_chat_resp_init(&resp);
            if (r->pops->parse_response(&r->call, lx_buf_str(&r->body),
                                        lx_http_req_arena(r->g->req), &resp, &err) == LX_OK)
                usage_from_ir(r->g, &resp.usage);
        }
    }
    if (status >= 400)
        r->g->error_class = r->g->error_class ? r->g->error_class : "upstream_status";
    send_body(r, status, r->content_type.len ? r->content_type : LX_STR("application/json"));
}

static void on_up_done(struct lx_upstream *up, const struct lx_err *err)
{
    struct relay *r = lx_upstream_data(up);
    struct lx_upstream_error ue;

    r->up = NULL;
    inflight_done(r);
    breaker_report(r, err == NULL || r->abort_reason != 0); /* no head: transport failure */
    if (r->abort_reason == LX_ECLOSED || r->abort_reason == LX_ETIMEDOUT) {
        /* the client is gone: nothing to tell it; close without a clean end */
        r->g->status = r->client_started ? r->g->status : 499;
        r->g->error_class = "client_closed";
        relay_end(r, true);
        return;
    }
    if (r->abort_reason == LX_ESHUTDOWN && !r->client_started) {
        fail_client(r, 503, LX_ERRT_OVERLOADED, LX_STR("The server is shutting down."),
                    LX_STR("server_shutdown"), "shutdown");
        return;
    }
    lx_upstream_error_init(&ue);
    if (err == NULL && r->g->upstream_status >= 300 && !r->upstream_sse)
        map_upstream_error(r, &ue);
    if (try_again(r, err, &ue))
        return; /* another attempt started, or waits for its backoff */
    if (!r->client_started && r->upstream_sse && err == NULL)
        start_stream(r); /* an event stream that carried no event: finish_stream says so */
    if (r->client_started) {
        finish_stream(r, err);
        return;
    }
    if (err != NULL) {
        fail_client(r, err->http_status ? err->http_status : 502,
                    err->rc == LX_ETIMEDOUT ? LX_ERRT_TIMEOUT : LX_ERRT_SERVER,
                    lx_str_cstr(err->msg[0] ? err->msg : "The upstream request failed."),
                    err->rc == LX_ETIMEDOUT ? LX_STR("upstream_timeout") : LX_STR("upstream_error"),
                    err->rc == LX_ETIMEDOUT ? "upstream_timeout" : "upstream_unreachable");
        return;
    }
    finish_buffered(r, &ue);
}

static void on_client_abort(struct lx_http_req *req, int reason)
{
    struct lx_gw_req *g = lx_http_req_data(req);
    struct relay *r = g ? g->relay : NULL;

    if (r == NULL || r->state >= RELAY_FINISHING)
        return;
    if (r->state == RELAY_SENDING || r->waiting_token || r->waiting_images || r->timer) {
        /* no transfer to cancel: end here */
        r->g->error_class = "client_closed";
        if (r->state != RELAY_SENDING)
            r->g->status = 499;
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

/* An attempt could not start (after a wait): the next candidate, or the client's error. */
static void fail_start(struct relay *r, const struct lx_err *serr)
{
    struct lx_err e2 = {0};

    if (r->state >= RELAY_FINISHING) {
        relay_end(r, true);
        return;
    }
    while (r->cand_i + 1 < r->route.n_cand && serr->rc != LX_ENOTFOUND &&
           (serr->http_status >= 500 || serr->retryable || serr->http_status == 401)) {
        r->cand_i++;
        r->n_tried = 0;
        reset_for_retry(r);
        memset(&e2, 0, sizeof(e2));
        if (start_next(r, &e2) == LX_OK)
            return;
        serr = &e2;
    }
    fail_client(r, serr->http_status >= 400 ? serr->http_status : 502,
                lx_err_type_from_status(serr->http_status >= 400 ? serr->http_status : 502),
                lx_str_cstr(serr->msg[0] ? serr->msg : "The upstream request could not be started."),
                LX_STR("upstream_error"), "upstream_start");
}

/* ---- the request ------------------------------------------------------------------------ */

/* Reads what the pipeline needs from the client's body: a JSON object with a "model" string
 * (Gemini: the model is in the URL); "stream" optional. 0, or an error already sent. */
static int read_request(struct lx_gw_req *g, struct relay *r, struct lx_str body)
{
    struct lx_json *doc = &r->doc;
    struct lx_arena *a = lx_http_req_arena(g->req);
    int model, stream, rc;

    lx_json_init(doc, NULL);
    lx_json_use_arena(doc, a);
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
    if (g->src == LX_SRC_GEMINI) {
        g->model = g->url_model;
    } else {
        model = lx_json_get(doc, 0, LX_STR("model"));
        if (model < 0 || lx_json_type(doc, model) != LX_JSON_STRING) {
            lx__gw_fail(g, 400, "You must provide a model parameter.", "missing_model",
                        "bad_request");
            return -1;
        }
        if (lx_json_str(doc, model, a, &g->model) != LX_OK) {
            lx__gw_fail(g, 503, "out of memory", NULL, "oom");
            return -1;
        }
    }
    if (lx_json_type(doc, lx_json_get(doc, 0, LX_STR("provider"))) == LX_JSON_STRING &&
        lx_json_str(doc, lx_json_get(doc, 0, LX_STR("provider")), a, &r->body_provider) != LX_OK) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return -1;
    }
    if (g->src == LX_SRC_ANTHROPIC && g->endpoint == LX_EP_CHAT &&
        lx_json_type(doc, lx_json_get(doc, 0, LX_STR("max_tokens"))) != LX_JSON_NUMBER) {
        /* Anthropic's own rule, checked here so that a pass-through says it as Anthropic does */
        lx__gw_fail(g, 400, "max_tokens: Field required", "invalid_request_error", "bad_request");
        return -1;
    }
    if (g->src != LX_SRC_GEMINI) {
        stream = lx_json_get(doc, 0, LX_STR("stream"));
        r->want_stream = stream >= 0 && lx_json_type(doc, stream) == LX_JSON_TRUE &&
                         g->endpoint == LX_EP_CHAT;
    } else {
        r->want_stream = g->stream;
    }
    g->stream = r->want_stream;
    if (r->want_stream && g->src == LX_SRC_OPENAI) {
        int so = lx_json_get(doc, 0, LX_STR("stream_options"));
        int iu = lx_json_get(doc, so, LX_STR("include_usage"));

        r->client_wants_usage = lx_json_type(doc, iu) == LX_JSON_TRUE;
    }
    return 0;
}

/* count_tokens for a provider that cannot count: an estimate from the decoded request
 * (lx_anthropic_estimate_tokens says how), answered at once. */
static int count_locally(struct relay *r, struct lx_err *err)
{
    int64_t n = 0;
    int rc;

    rc = relay_decode(r, err);
    if (rc == LX_OK)
        rc = lx_anthropic_estimate_tokens(r->ir, &n);
    if (rc != LX_OK)
        return rc;
    r->g->attempts--; /* nothing went upstream */
    r->g->provider = NULL;
    lx_buf_reset(&r->body);
    rc = encode_count(r, n, &r->body);
    if (rc != LX_OK)
        return rc;
    send_body(r, 200, LX_STR("application/json"));
    return LX_OK;
}

static void fail_start(struct relay *r, const struct lx_err *serr);

/* The token exchange a Vertex attempt waited for has ended. */
static void token_ready(struct lx_token_waiter *w, const struct lx_err *err)
{
    struct relay *r = (struct relay *)((char *)w - offsetof(struct relay, tw));
    struct lx_err serr = {0};

    r->waiting_token = false;
    if (err != NULL) {
        fail_start(r, err);
        return;
    }
    if (start_attempt(r, &serr) != LX_OK)
        fail_start(r, &serr);
}

/* Vertex with a service-account key file: the attempt needs an OAuth2 access token (token.c),
 * and the file's project when the configuration names none. LX_OK (ready), LX_EAGAIN
 * (waiting: token_ready goes on), or an error in err. */
static int resolve_credentials(struct relay *r, const struct lx_config_provider *p,
                               struct lx_err *err)
{
    struct lx_arena *a = lx_http_req_arena(r->g->req);
    struct lx_str key = relay_key(r, p), tok, project;
    int rc;

    r->attempt_key = LX_STR_NULL;
    r->use_attempt_conf = false;
    if (p->proto != LX_CONFIG_PROTO_VERTEX || key.len == 0 || key.ptr[0] != '{')
        return LX_OK;
    r->tw.cb = token_ready;
    rc = lx__gw_token_get(r->g->w->tokens, key, (int64_t)(lx_now_wall_ms() / 1000), &r->tw,
                          &tok, &project, err);
    if (rc == LX_EAGAIN) {
        r->waiting_token = true;
        return rc;
    }
    if (rc != LX_OK)
        return rc;
    r->attempt_key = lx_arena_dup(a, tok);
    if (r->attempt_key.ptr == NULL ||
        lx_arena_on_release(a, wipe_slice, (void *)(uintptr_t)r->attempt_key.ptr) != LX_OK)
        return LX_ENOMEM;
    if ((p->project == NULL || p->project[0] == '\0') && project.len > 0) {
        if (r->attempt_conf == NULL)
            r->attempt_conf = lx_arena_alloc(a, sizeof(*r->attempt_conf));
        if (r->attempt_conf == NULL)
            return LX_ENOMEM;
        *r->attempt_conf = *p;
        r->attempt_conf->project = lx_arena_strndup(a, project.ptr, project.len);
        r->use_attempt_conf = r->attempt_conf->project != NULL;
    }
    return LX_OK;
}

/* The image URLs of the request have been fetched (or could not be). */
static void images_ready(void *ctx, const struct lx_err *err)
{
    struct relay *r = ctx;
    struct lx_err serr = {0};

    r->waiting_images = false;
    r->fetch = NULL; /* freed by fetch.c before this call */
    if (err != NULL) {
        fail_start(r, err);
        return;
    }
    r->images_done = true;
    if (start_attempt(r, &serr) != LX_OK)
        fail_start(r, &serr);
}

/* A provider that cannot fetch image URLs gets them inline: fetched here once (fetch.h, under
 * the configuration's image_fetch policy) and kept in the IR for every later attempt.
 * LX_OK, LX_EAGAIN (images_ready goes on), or an error in err. */
static int inline_images(struct relay *r, const struct lx_config_provider *p, struct lx_err *err)
{
    const struct lx_provider_ops *ops = lx_provider_for(p->proto);
    int rc;

    if (r->mode != RELAY_TRANSLATE || r->images_done || r->g->endpoint != LX_EP_CHAT ||
        ops == NULL || (ops->caps & LX_CAP_IMAGE_URL))
        return LX_OK;
    rc = relay_decode(r, err);
    if (rc != LX_OK)
        return rc;
    rc = lx__gw_fetch_images(r->g->w->up, r->g->cfg, r->ir, lx_http_req_arena(r->g->req),
                             images_ready, r, &r->fetch, err);
    if (rc == LX_EAGAIN)
        r->waiting_images = true;
    else if (rc == LX_OK)
        r->images_done = true;
    return rc;
}

/* Starts the transfer to candidate r->cand_i. LX_OK, or an error (nothing started; err says
 * why when the request cannot be expressed for this provider). */
static int start_attempt(struct relay *r, struct lx_err *err)
{
    const struct lx_route_candidate *c = &r->route.cand[r->cand_i];
    struct lx_upstream_req ur = {0};
    struct lx_upstream_cbs cbs = {on_up_head, on_up_data, on_up_done, r};
    int rc;

    r->g->provider = c->provider->name;
    r->g->attempts++;
    r->mode = relay_choose_mode(r, c->provider);
    lx_buf_release(&r->up_body);
    rc = resolve_credentials(r, c->provider, err);
    if (rc == LX_OK)
        rc = inline_images(r, c->provider, err);
    if (rc == LX_EAGAIN) {
        r->g->attempts--; /* counted when it really starts */
        return LX_OK;     /* token_ready or images_ready goes on */
    }
    if (rc != LX_OK)
        return rc;
    if (r->g->endpoint == LX_EP_COUNT_TOKENS && r->mode == RELAY_TRANSLATE) {
        const struct lx_provider_ops *ops = lx_provider_for(c->provider->proto);

        if (ops == NULL || !(ops->caps & LX_CAP_COUNT_TOKENS))
            return count_locally(r, err);
    }
    rc = relay_build(r, c, &ur, err);
    if (rc == LX_OK && r->mode == RELAY_TRANSLATE && r->want_stream) {
        struct lx_delta_sink sink = {on_delta, r};

        if (r->dec == NULL) /* out of line: most requests never translate a stream */
            r->dec = lx_arena_alloc(lx_http_req_arena(r->g->req), sizeof(*r->dec));
        rc = r->dec == NULL ? LX_ENOMEM
                            : lx_stream_decoder_init(r->dec, r->pops, &r->call,
                                                     lx_http_req_arena(r->g->req),
                                                     r->g->w->gw->conf.max_sse_event, &sink);
        r->dec_live = r->dec != NULL; /* released even after a failed init, as before */
        memset(&r->fds, 0, sizeof(r->fds));
        r->fds.req = r->ir;
        r->fds.a = lx_http_req_arena(r->g->req);
        r->fds.created = (int64_t)(lx_now_wall_ms() / 1000);
        r->fds.usage = (struct lx_usage)LX_USAGE_INIT;
    }
    if (rc == LX_OK) {
        rc = lx_upstream_start(r->g->w->up, &ur, &cbs, &r->up);
        if (rc == LX_OK && r->target_id.len > 0) {
            lx_state_inflight_add(r->g->w->gw->state, r->target_id, 1, lx_now_wall_ms());
            r->inflight_counted = true;
            r->attempt_start_ns = lx_now_mono_ns();
        }
    }
    if (rc != LX_OK)
        breaker_report(r, true); /* not the target's doing: release a claimed probe */
    return rc;
}

/* "provider/model": the target's name in the shared state (breakers, latency, in flight). */
static struct lx_str target_id(struct lx_arena *a, const struct lx_route_candidate *c)
{
    size_t pl = strlen(c->provider->name);
    char *t = lx_arena_alloc(a, pl + 1 + c->model.len + 1);

    if (t == NULL)
        return LX_STR_NULL;
    memcpy(t, c->provider->name, pl);
    t[pl] = '/';
    memcpy(t + pl + 1, c->model.ptr, c->model.len);
    t[pl + 1 + c->model.len] = '\0';
    return lx_str_make(t, pl + 1 + c->model.len);
}

/* The outcome of the attempt for its target's breaker (once): a transport failure or a 5xx
 * is the target's failure; anything else (a 4xx is the client's or the key's) a success. */
static void breaker_report(struct relay *r, bool success)
{
    if (!r->breaker_claimed)
        return;
    r->breaker_claimed = false;
    lx_state_breaker_report(r->g->w->gw->state, r->target_id, success, lx_now_wall_ms());
}

static void inflight_done(struct relay *r)
{
    if (!r->inflight_counted)
        return;
    r->inflight_counted = false;
    lx_state_inflight_add(r->g->w->gw->state, r->target_id, -1, lx_now_wall_ms());
}

/* Orders the router's candidates by the alias's strategy with the live signals: open breakers
 * and exhausted key pools skipped (router/strategy.c). LX_OK, or LX_ENOTFOUND with plan's
 * answer in err (429 with r->retry_after, or 503). */
static int order_candidates(struct relay *r, struct lx_err *err)
{
    struct lx__gw_signal_ctx sc;
    struct lx_route_signals sig;
    struct lx_route_order_req oreq = {.now_ms = lx_now_wall_ms(), .random = relay_rand(r)};
    enum lx_config_strategy strategy =
        r->route.alias ? r->route.alias->strategy : LX_CONFIG_STRATEGY_PRIORITY;
    struct lx_route_plan *plan;

    if (r->route.n_cand == 1)
        return LX_OK; /* nothing to order: start_next skips an open breaker or a spent pool */
    plan = lx_arena_alloc(lx_http_req_arena(r->g->req), sizeof(*plan));
    if (plan == NULL)
        return LX_OK; /* out of memory: keep the router's order */
    lx__gw_route_signals(r->g->w->gw, r->g->cfg, r->byok.source != LX_BYOK_NONE, &sc, &sig);
    /* the hot path reads only the signals its strategy orders by (route-check reads all) */
    if (strategy != LX_CONFIG_STRATEGY_LATENCY)
        sig.latency_us = NULL;
    if (strategy != LX_CONFIG_STRATEGY_LEAST_BUSY)
        sig.in_flight = NULL;
    if (lx_route_order(&r->route, &oreq, &sig, plan) != LX_OK || plan->n_order == 0) {
        *err = plan->err;
        if (plan->http_status == 429 && plan->retry_after_ms >= 0) {
            char *v = lx_arena_alloc(lx_http_req_arena(r->g->req), 24);
            int n = v ? snprintf(v, 24, "%lld", (long long)((plan->retry_after_ms + 999) / 1000))
                      : 0;

            r->retry_after = lx_str_make(v, n > 0 ? (size_t)n : 0);
        }
        err->rc = LX_ENOTFOUND;
        err->http_status = plan->http_status ? plan->http_status : 503;
        r->no_target_code = "no_usable_target";
        for (size_t i = 0; i < plan->n_skipped; i++) {
            if (plan->skipped[i].skip != LX_ROUTE_SKIP_KEYS_DISABLED &&
                plan->skipped[i].skip != LX_ROUTE_SKIP_DISABLED)
                break;
            if (plan->skipped[i].skip == LX_ROUTE_SKIP_KEYS_DISABLED)
                r->no_target_code = "no_usable_key"; /* every key of every target disabled */
        }
        return LX_ENOTFOUND;
    }
    for (size_t i = 0; i < plan->n_order; i++)
        r->route.cand[i] = plan->order[i].cand;
    r->route.n_cand = plan->n_order;
    r->plan = plan;
    return LX_OK;
}

/* The key for candidate c from its provider's pool (BYOK and keyless providers need none).
 * LX_OK, or LX_ENOTFOUND when every key of it is cooling down, disabled or already tried by
 * this request (r->saw_cooling and r->soonest_cooling_ms then say when one comes back). With
 * commit false it only looks. */
static int pick_key(struct relay *r, const struct lx_route_candidate *c, const size_t *tried,
                    size_t n_tried, bool commit)
{
    struct lx_pool *pool = lx__gw_pool(r->g->cfg, c->provider_index);
    struct lx_pool_pick pk;

    if (commit)
        r->key_picked = false;
    if (r->byok.source != LX_BYOK_NONE || pool == NULL || lx_pool_size(pool) == 0)
        return LX_OK;
    if ((commit ? lx_pool_pick(pool, &r->g->w->gw->pool_ops, c->model, tried, n_tried,
                               relay_rand(r), lx_now_wall_ms(), &pk)
                : lx_pool_peek(pool, &r->g->w->gw->pool_ops, c->model, tried, n_tried,
                               lx_now_wall_ms(), &pk)) != LX_OK)
        return LX_ENOTFOUND;
    switch (pk.status) {
    case LX_POOL_PICKED:
        if (commit) {
            r->key_picked = true;
            r->key_index = pk.index;
            r->pool_key = lx_str_cstr(c->provider->keys[pk.index]);
        }
        return LX_OK;
    case LX_POOL_NO_KEYS: return LX_OK;
    case LX_POOL_ALL_COOLING:
        if (!r->saw_cooling || pk.retry_at_ms < r->soonest_cooling_ms)
            r->soonest_cooling_ms = pk.retry_at_ms;
        r->saw_cooling = true;
        return LX_ENOTFOUND;
    case LX_POOL_EXHAUSTED:
    case LX_POOL_ALL_DISABLED: break;
    }
    return LX_ENOTFOUND;
}

/* Starts the current candidate, or the next ones whose pools have a usable key. When none is
 * left: LX_ENOTFOUND with err saying 429 (a key comes back at r->soonest_cooling_ms;
 * r->retry_after is set for the client) or 503 (every key disabled, or tried). */
static int start_next(struct relay *r, struct lx_err *err)
{
    for (;;) {
        const struct lx_route_candidate *c = &r->route.cand[r->cand_i];

        if (c->provider->health_check.enabled &&
            !lx__gw_provider_healthy(r->g->w->gw, c->provider->name)) {
            r->saw_unhealthy = true; /* its active checks fail: the next candidate */
        } else if (pick_key(r, c, r->tried, r->n_tried, true) == LX_OK) {
            r->target_id = target_id(lx_http_req_arena(r->g->req), c);
            r->breaker_claimed = r->target_id.len > 0 &&
                                 lx_state_breaker_allow(r->g->w->gw->state, r->target_id,
                                                        lx_now_wall_ms());
            if (r->target_id.len == 0 || r->breaker_claimed)
                return start_attempt(r, err);
            r->saw_breaker_open = true; /* or its half-open probe is out: the next candidate */
        }
        if (r->cand_i + 1 >= r->route.n_cand)
            break;
        r->cand_i++;
        r->n_tried = 0;
    }
    if (r->saw_cooling) {
        uint64_t s = lx_pool_retry_after_s(r->soonest_cooling_ms, lx_now_wall_ms());
        char *v = lx_arena_alloc(lx_http_req_arena(r->g->req), 24);

        if (v != NULL) {
            int n = snprintf(v, 24, "%llu", (unsigned long long)s);

            r->retry_after = lx_str_make(v, n > 0 ? (size_t)n : 0);
        }
        lx_err_set(err, LX_ENOTFOUND, 429,
                   "Every key for this model is cooling down after rate limits; retry after "
                   "%llu s.",
                   (unsigned long long)s);
    } else if (r->saw_breaker_open || r->saw_unhealthy) {
        r->no_target_code = "provider_unavailable";
        lx_err_set(err, LX_ENOTFOUND, 503, "%s",
                   r->saw_breaker_open
                       ? "No target can take the request now: its circuit breaker is open "
                         "after repeated upstream failures."
                       : "No target can take the request now: its provider fails its health "
                         "checks.");
    } else {
        r->no_target_code = "no_usable_key";
        lx_err_set(err, LX_ENOTFOUND, 503, "No usable key: every key of the provider is disabled.");
    }
    return LX_ENOTFOUND;
}

/* Whether the current candidate (with the keys tried so far left out) or a later one could
 * take the request now. */
static bool next_exists(struct relay *r)
{
    if (pick_key(r, &r->route.cand[r->cand_i], r->tried, r->n_tried, false) == LX_OK)
        return true;
    for (size_t i = r->cand_i + 1; i < r->route.n_cand; i++)
        if (pick_key(r, &r->route.cand[i], NULL, 0, false) == LX_OK)
            return true;
    return false;
}

/* An attempt failed before anything reached the client. The key's pool learns from it (a
 * cooldown, a disabled key: lx_pool_on_error, logged with the key's label), and the retry
 * policy (pool/pool.h: retryable kinds, at most max_attempts, the provider's retry budget,
 * backoff with full jitter) says whether to try again: with another key of the same provider
 * when the failure was the key's own (429, 401 ...), else with the next candidate (or another
 * key when there is no next candidate). true when another attempt started, waits for its
 * backoff, or the client was answered here. */
static bool try_again(struct relay *r, const struct lx_err *err,
                      const struct lx_upstream_error *ue)
{
    const struct lx_gateway *gw = r->g->w->gw;
    const struct lx_route_candidate *c = &r->route.cand[r->cand_i];
    struct lx_pool *pool = lx__gw_pool(r->g->cfg, c->provider_index);
    const struct lx_pool_conf *conf = lx__gw_pool_conf(r->g->cfg); /* key_pool: of the snapshot */
    uint64_t now = lx_now_wall_ms();
    struct lx_retry_in in = {
        .provider = lx_str_cstr(c->provider->name),
        .attempts = r->g->attempts,
        .bytes_sent = r->client_started ? 1 : 0,
        .error = err == NULL ? ue : NULL,
        .transport_rc = err != NULL ? err->rc : 0,
    };
    struct lx_retry_out out;
    bool key_fault = false;
    struct lx_err serr = {0};

    if (r->client_started || r->abort_reason != 0)
        return false;
    if (err == NULL && r->g->upstream_status < 300)
        return false;
    if (err == NULL && ue->type == LX_ERRT_CONTEXT_LENGTH && r->plan != NULL) {
        /* the prompt does not fit this target: the next one with a larger window, if any */
        long next = lx_route_next_larger(r->plan, r->cand_i, 0);

        if (next <= (long)r->cand_i || (size_t)next >= r->route.n_cand)
            return false;
        lx_logf(LX_LOG_INFO, "request %s: context too long for %s, trying a larger window",
                r->g->id, r->g->provider);
        r->cand_i = (size_t)next;
        r->n_tried = 0;
        reset_for_retry(r);
        if (start_next(r, &serr) != LX_OK)
            fail_start(r, &serr);
        return true;
    }
    if (err == NULL && r->key_picked && pool != NULL) {
        struct lx_pool_verdict v;

        lx_pool_on_error(pool, &gw->pool_ops, conf, r->key_index, r->call.model, ue, now, &v);
        lx_pool_log_verdict(pool, r->key_index, r->call.model, &v);
        key_fault = v.action != LX_POOL_ACT_NONE;
    }
    lx_pool_retry_decide(conf, &gw->pool_ops, &in, relay_rand(r), now, &out);
    if (out.why != LX_RETRY_GO)
        return false;
    if (r->key_picked && r->n_tried < LX_ARRAY_SIZE(r->tried))
        r->tried[r->n_tried++] = r->key_index;
    if (!key_fault && r->cand_i + 1 < r->route.n_cand) {
        r->cand_i++; /* the provider itself failed: the next target */
        r->n_tried = 0;
    }
    if (!next_exists(r))
        return false; /* nothing else could answer: the client gets this error */
    lx_logf(LX_LOG_INFO, "request %s: %s failed (%s), trying again in %llu ms", r->g->id,
            r->g->provider, err ? lx_err_name(err->rc) : "upstream status",
            (unsigned long long)out.delay_ms);
    reset_for_retry(r);
    if (out.delay_ms > 0) {
        struct retry_timer *rt = lx_xcalloc(1, sizeof(*rt));

        rt->r = r;
        rt->t.data = rt;
        uv_timer_init(r->g->w->loop, &rt->t);
        uv_timer_start(&rt->t, retry_fire, out.delay_ms, 0);
        r->timer = rt;
        return true;
    }
    if (start_next(r, &serr) != LX_OK)
        fail_start(r, &serr);
    return true;
}

static void reset_for_retry(struct relay *r)
{
    lx_buf_reset(&r->body);
    lx_buf_reset(&r->out);
    lx_sse_release(&r->sse);
    lx_sse_init(&r->sse, r->g->w->gw->conf.max_sse_event);
    lx_sse_set_flags(&r->sse, LX_SSE_COMMENTS);
    if (r->dec_live)
        lx_stream_decoder_release(r->dec);
    r->dec_live = false;
    memset(&r->pst, 0, sizeof(r->pst));
    if (r->scratch)
        lx_arena_reset(r->scratch);
    r->content_type = r->retry_after = LX_STR_NULL;
    r->up_resp_headers = NULL;
    r->n_up_resp_headers = 0;
    r->upstream_sse = r->done_seen = r->upstream_error_seen = r->paused = false;
    r->usage_injected = false;
    r->g->upstream_status = 0;
}

/* Nothing can take the request now (every target's breaker open, every key cooling or
 * disabled): 429 with Retry-After at the soonest cooldown end, or 503, at once. */
static void answer_no_target(struct relay *r, const struct lx_err *err)
{
    struct lx_gw_req *g = r->g;
    struct lx_header h = {LX_STR("Retry-After"), r->retry_after};
    bool cooling = err->http_status == 429;

    g->status = err->http_status;
    g->error_class = cooling ? "keys_cooling" : "no_target";
    g->t_first_byte_ns = lx_now_mono_ns();
    lx__gw_access_log(g);
    lx__gw_write_error(g, err->http_status, lx_err_type_from_status(err->http_status),
                       lx_str_cstr(err->msg),
                       cooling ? LX_STR("rate_limit_exceeded")
                               : lx_str_cstr(r->no_target_code ? r->no_target_code
                                                               : "no_usable_target"),
                       &h, r->retry_after.len ? 1 : 0);
    lx_http_resp_end(g->req, false);
}

/* Every relayed route: parse, route, and the first attempt. */
static void relay_start(struct lx_gw_req *g)
{
    const struct lx_gateway *gw = g->w->gw;
    const struct lx_http1_head *head = lx_http_req_head(g->req);
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct relay *r = lx_arena_zalloc(a, sizeof(*r));
    struct lx_route_req rr;
    struct lx_err err = {0};

    if (r == NULL) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    r->g = g;
    r->fdo = g->fd ? g->fd : lx_frontdoor_for(LX_SRC_OPENAI);
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
    if (order_candidates(r, &err) != LX_OK) {
        answer_no_target(r, &err);
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
    lx_pool_note_request(&gw->pool_ops, lx_str_cstr(r->route.cand[0].provider->name),
                         lx_now_wall_ms());
    if (start_next(r, &err) != LX_OK) {
        g->relay = NULL;
        relay_release(r);
        if (err.rc == LX_ENOTFOUND) {
            answer_no_target(r, &err);
            return;
        }
        if (err.http_status >= 400 && err.http_status < 500)
            lx__gw_fail(g, err.http_status, err.msg, "invalid_request", "bad_request");
        else if (err.http_status >= 500 && err.msg[0])
            lx__gw_fail(g, err.http_status, err.msg, "upstream_error", "upstream_start");
        else
            lx__gw_fail(g, 502, "The upstream request could not be started.", "upstream_error",
                        "upstream_start");
    }
}

void lx__gw_chat_completions(struct lx_gw_req *g)
{
    g->route = "chat.completions";
    g->upstream_path = "/chat/completions";
    g->endpoint = LX_EP_CHAT;
    relay_start(g);
}

void lx__gw_completions(struct lx_gw_req *g)
{
    g->route = "completions";
    g->upstream_path = "/completions";
    g->endpoint = LX_EP_CHAT;
    g->legacy_completion = true;
    relay_start(g);
}

void lx__gw_embeddings(struct lx_gw_req *g)
{
    g->route = "embeddings";
    g->upstream_path = "/embeddings";
    g->endpoint = LX_EP_EMBEDDINGS;
    relay_start(g);
}

void lx__gw_messages(struct lx_gw_req *g)
{
    g->route = "messages";
    g->endpoint = LX_EP_CHAT;
    relay_start(g);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Whether the query has the parameter `want` ("name=value") exactly. */
static bool query_has(struct lx_str q, struct lx_str want)
{
    while (q.len > 0) {
        long amp = lx_str_find_char(q, '&');
        struct lx_str pair = lx_str_sub(q, 0, amp < 0 ? q.len : (size_t)amp);

        if (lx_str_eq(pair, want))
            return true;
        q = lx_str_sub(q, amp < 0 ? q.len : (size_t)amp + 1, q.len);
    }
    return false;
}

/* POST /v1beta/models/{model}:{method} (and /v1/models/...): the Gemini API. The model is
 * the path segment, percent-decoded; the method says whether to stream. */
void lx__gw_gemini(struct lx_gw_req *g)
{
    const struct lx_http1_head *h = lx_http_req_head(g->req);
    struct lx_arena *a = lx_http_req_arena(g->req);
    struct lx_str path = h->path, seg, method;
    long colon;
    char *m;
    size_t n = 0;

    g->route = "gemini";
    path = lx_str_starts_with(path, LX_STR("/v1beta/models/"))
               ? lx_str_sub(path, 15, path.len)
               : lx_str_sub(path, 11, path.len); /* "/v1/models/" */
    colon = lx_str_find_char(path, ':');
    if (colon <= 0) {
        lx__gw_fail(g, 404, "Unknown endpoint: expected models/{model}:{method}.", "not_found",
                    "not_found");
        return;
    }
    seg = lx_str_sub(path, 0, (size_t)colon);
    method = lx_str_sub(path, (size_t)colon + 1, path.len);
    if (lx_str_eq(method, LX_STR("generateContent"))) {
        g->endpoint = LX_EP_CHAT;
    } else if (lx_str_eq(method, LX_STR("streamGenerateContent"))) {
        if (!query_has(h->query, LX_STR("alt=sse"))) {
            lx__gw_fail(g, 400,
                        "llmux streams the Gemini API as server-sent events: add ?alt=sse "
                        "(the official SDKs do).",
                        "invalid_argument", "bad_request");
            return;
        }
        g->endpoint = LX_EP_CHAT;
        g->stream = true;
    } else if (lx_str_eq(method, LX_STR("countTokens"))) {
        g->endpoint = LX_EP_COUNT_TOKENS;
    } else {
        lx__gw_fail(g, 404, "This Gemini method is not supported.", "not_found", "not_found");
        return;
    }
    m = lx_arena_alloc(a, seg.len + 1);
    if (m == NULL) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    for (size_t i = 0; i < seg.len; i++) {
        char c = seg.ptr[i];

        if (c == '%' && i + 2 < seg.len && hexval(seg.ptr[i + 1]) >= 0 &&
            hexval(seg.ptr[i + 2]) >= 0) {
            c = (char)(hexval(seg.ptr[i + 1]) * 16 + hexval(seg.ptr[i + 2]));
            i += 2;
        }
        m[n++] = c;
    }
    m[n] = '\0';
    g->url_model = lx_str_make(m, n);
    relay_start(g);
}

void lx__gw_count_tokens(struct lx_gw_req *g)
{
    g->route = "messages.count_tokens";
    g->endpoint = LX_EP_COUNT_TOKENS;
    relay_start(g);
}
