/* echo_server.c - a test-only program: the server/ module with a small handler, driven by
 * tests/integration/test_server*.py and the benchmarks. Routes:
 *   GET /health            200 {"status":"ok"}
 *   POST /echo             the request body back
 *   GET /stream?n=N&ms=M   chunked SSE, N events M ms apart (uv timer; honours back-pressure)
 *   GET /sleep?ms=M        200 after M ms
 *   GET /big?kb=K          K KiB body with Content-Length, written as the client reads
 *   GET /flood?kb=K        K KiB written at once, ignoring back-pressure (hits write_max)
 * anything else gets 404. An "abort" JSON line is logged when on_abort fires.
 * Single process; each stream's state is malloc'd and freed by its timer's close callback;
 * everything runs on the request's loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/str.h"
#include "server/server.h"

struct job {
    struct lx_http_req *req;
    uv_timer_t timer;
    uint64_t n, i, ms, left; /* events (stream) or bytes left (big) */
    bool big, sleep, waiting_drain, done;
};

static struct lx_str query_param(struct lx_str q, const char *name)
{
    struct lx_str key = lx_str_cstr(name);

    while (q.len > 0) {
        long amp = lx_str_find_char(q, '&');
        struct lx_str part = amp < 0 ? q : lx_str_sub(q, 0, (size_t)amp);
        long eq = lx_str_find_char(part, '=');

        if (eq >= 0 && lx_str_eq(lx_str_sub(part, 0, (size_t)eq), key))
            return lx_str_sub(part, (size_t)eq + 1, part.len);
        if (amp < 0)
            break;
        q = lx_str_sub(q, (size_t)amp + 1, q.len);
    }
    return LX_STR_NULL;
}

static uint64_t query_u64(const struct lx_http_req *req, const char *name, uint64_t dflt)
{
    uint64_t v;

    if (lx_str_to_u64(query_param(lx_http_req_head(req)->query, name), &v) != 0)
        return dflt;
    return v;
}

static void on_job_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Ends the response once and releases the job (its timer closes first). */
static void job_finish(struct job *j, bool abort_conn)
{
    if (j->done)
        return;
    j->done = true;
    lx_http_resp_end(j->req, abort_conn);
    j->req = NULL;
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, on_job_closed);
}

static void on_job_abort(struct lx_http_req *req, int reason)
{
    struct job *j = lx_http_req_data(req);
    struct lx_logline l;

    if (lx_log_begin(&l, LX_LOG_INFO, "abort")) {
        lx_log_cstr(&l, "reason", lx_err_name(reason));
        lx_log_str(&l, "path", lx_http_req_head(req)->path);
        lx_log_end(&l);
    }
    if (j == NULL) {
        lx_http_resp_end(req, true);
        return;
    }
    if (reason == LX_ESHUTDOWN && !j->big && lx_http_resp_started(req))
        lx_http_resp_write(req, LX_STR("event: error\ndata: {\"error\":\"shutting down\"}\n\n"));
    job_finish(j, false);
}

static void job_step(struct job *j);

static void on_job_drain(struct lx_http_req *req)
{
    struct job *j = lx_http_req_data(req);

    if (j != NULL && j->waiting_drain) {
        j->waiting_drain = false;
        job_step(j);
    }
}

static void on_job_timer(uv_timer_t *t)
{
    job_step(t->data);
}

static void job_step(struct job *j)
{
    static char block[16384];

    if (j->big) {
        while (j->left > 0) {
            size_t n = j->left < sizeof(block) ? (size_t)j->left : sizeof(block);
            if (lx_http_resp_full(j->req)) {
                j->waiting_drain = true;
                return;
            }
            if (lx_http_resp_write(j->req, lx_str_make(block, n)) != LX_OK) {
                job_finish(j, true);
                return;
            }
            j->left -= n;
        }
        job_finish(j, false);
        return;
    }
    if (j->sleep && !lx_http_resp_started(j->req)) {
        struct lx_header ct = {LX_STR("Content-Type"), LX_STR("text/plain")};
        lx_http_resp_start(j->req, 200, &ct, 1, -1);
    }
    if (j->i >= j->n) {
        lx_http_resp_write(j->req, LX_STR("data: [DONE]\n\n"));
        job_finish(j, false);
        return;
    }
    if (lx_http_resp_full(j->req)) {
        j->waiting_drain = true;
        return;
    }
    char ev[64];
    int len = snprintf(ev, sizeof(ev), "data: {\"i\":%" PRIu64 "}\n\n", j->i++);
    if (lx_http_resp_write(j->req, lx_str_make(ev, (size_t)len)) != LX_OK) {
        job_finish(j, true);
        return;
    }
    uv_timer_start(&j->timer, on_job_timer, j->ms, 0);
}

static struct job *job_new(struct lx_http_req *req)
{
    struct job *j = lx_xcalloc(1, sizeof(*j));

    j->req = req;
    uv_timer_init(lx_http_req_loop(req), &j->timer);
    j->timer.data = j;
    lx_http_req_set_data(req, j);
    lx_http_req_on_abort(req, on_job_abort);
    lx_http_req_on_drain(req, on_job_drain);
    return j;
}

static void handle_flood(struct lx_http_req *req, uint64_t kb)
{
    static char block[16384];
    uint64_t left = kb * 1024;

    lx_http_req_on_abort(req, on_job_abort);
    lx_http_resp_start(req, 200, NULL, 0, (int64_t)left);
    while (left > 0) {
        size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
        if (lx_http_resp_write(req, lx_str_make(block, n)) != LX_OK)
            break; /* the server aborts the connection (deferred); on_abort ends us */
        left -= n;
    }
    if (left == 0)
        lx_http_resp_end(req, false);
}

static void handler(struct lx_http_req *req)
{
    const struct lx_http1_head *h = lx_http_req_head(req);
    const struct lx_str json = LX_STR("application/json");

    if (lx_str_eq(h->path, LX_STR("/health"))) {
        lx_http_resp_simple(req, 200, json, LX_STR("{\"status\":\"ok\"}"));
    } else if (lx_str_eq(h->path, LX_STR("/echo")) && lx_str_eq(h->method, LX_STR("POST"))) {
        lx_http_resp_simple(req, 200, LX_STR("application/octet-stream"), lx_http_req_body(req));
    } else if (lx_str_eq(h->path, LX_STR("/stream"))) {
        struct job *j = job_new(req);
        struct lx_header hs[] = {{LX_STR("Content-Type"), LX_STR("text/event-stream")},
                                 {LX_STR("Cache-Control"), LX_STR("no-cache")}};

        j->n = query_u64(req, "n", 10);
        j->ms = query_u64(req, "ms", 10);
        lx_http_resp_start(req, 200, hs, 2, -1);
        uv_timer_start(&j->timer, on_job_timer, 0, 0);
    } else if (lx_str_eq(h->path, LX_STR("/sleep"))) {
        struct job *j = job_new(req);

        j->n = 0; /* no events: ends with "data: [DONE]" after ms */
        j->i = 0;
        j->ms = query_u64(req, "ms", 100);
        j->sleep = true; /* the response starts when the timer fires, like an upstream */
        uv_timer_start(&j->timer, on_job_timer, j->ms, 0);
    } else if (lx_str_eq(h->path, LX_STR("/big"))) {
        struct job *j = job_new(req);

        j->big = true;
        j->left = query_u64(req, "kb", 1024) * 1024;
        lx_http_resp_start(req, 200,
                           &(struct lx_header){LX_STR("Content-Type"),
                                               LX_STR("application/octet-stream")},
                           1, (int64_t)j->left);
        job_step(j);
    } else if (lx_str_eq(h->path, LX_STR("/flood"))) {
        handle_flood(req, query_u64(req, "kb", 4096));
    } else {
        /* X-Echo-Method lets a test tell router answers from the server's own errors and
         * know when no body follows (HEAD) */
        static const char body[] = "{\"error\":{\"message\":\"not found\",\"type\":"
                                   "\"invalid_request_error\",\"code\":\"not_found\"}}";
        struct lx_header hs[] = {{LX_STR("Content-Type"), json},
                                 {LX_STR("X-Echo-Method"), h->method}};

        lx_http_resp_start(req, 404, hs, 2, (int64_t)(sizeof(body) - 1));
        lx_http_resp_write(req, lx_str_make(body, sizeof(body) - 1));
        lx_http_resp_end(req, false);
    }
}

static int parse_u64(const char *s, uint64_t *out)
{
    return lx_str_to_u64(lx_str_cstr(s), out) == 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: echo_server [--listen host:port] [--workers N] [--header-timeout-ms N]\n"
            "  [--body-timeout-ms N] [--keepalive-timeout-ms N] [--send-timeout-ms N]\n"
            "  [--drain-timeout-ms N] [--max-body N] [--max-header-bytes N]\n"
            "  [--max-header-fields N] [--max-target N] [--write-high-water N]\n"
            "  [--write-max N] [--max-connections N] [--abort-on-eof 0|1]\n"
            "  [--log-level debug|info|warn|error]\n");
}

int main(int argc, char **argv)
{
    struct lx_server_config cfg;
    struct lx_server *srv;
    struct lx_err err;
    enum lx_log_level level = LX_LOG_INFO;
    char host[64] = "127.0.0.1";
    int rc;

    lx_server_config_default(&cfg);
    cfg.handler = handler;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;

        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            const char *colon = strrchr(v, ':');
            size_t hl = colon ? (size_t)(colon - v) : 0;
            if (colon == NULL || hl == 0 || hl >= sizeof(host) || parse_u64(colon + 1, &n) != 0) {
                usage();
                return 2;
            }
            if (v[0] == '[' && hl >= 2 && v[hl - 1] == ']') {
                memcpy(host, v + 1, hl - 2);
                host[hl - 2] = '\0';
            } else {
                memcpy(host, v, hl);
                host[hl] = '\0';
            }
            cfg.port = (unsigned)n;
            continue;
        }
        if (strcmp(a, "--log-level") == 0) {
            if (lx_log_parse_level(v, &level) != 0) {
                usage();
                return 2;
            }
            continue;
        }
        if (parse_u64(v, &n) != 0) {
            usage();
            return 2;
        }
        if (strcmp(a, "--workers") == 0)
            cfg.workers = (unsigned)n;
        else if (strcmp(a, "--header-timeout-ms") == 0)
            cfg.header_timeout_ms = (unsigned)n;
        else if (strcmp(a, "--body-timeout-ms") == 0)
            cfg.body_idle_timeout_ms = (unsigned)n;
        else if (strcmp(a, "--keepalive-timeout-ms") == 0)
            cfg.keepalive_timeout_ms = (unsigned)n;
        else if (strcmp(a, "--send-timeout-ms") == 0)
            cfg.send_timeout_ms = (unsigned)n;
        else if (strcmp(a, "--drain-timeout-ms") == 0)
            cfg.drain_timeout_ms = (unsigned)n;
        else if (strcmp(a, "--max-body") == 0)
            cfg.limits.max_body = n;
        else if (strcmp(a, "--max-header-bytes") == 0)
            cfg.limits.max_header_bytes = (size_t)n;
        else if (strcmp(a, "--max-header-fields") == 0)
            cfg.limits.max_header_fields = (size_t)n;
        else if (strcmp(a, "--max-target") == 0)
            cfg.limits.max_target = (size_t)n;
        else if (strcmp(a, "--write-high-water") == 0)
            cfg.write_high_water = (size_t)n;
        else if (strcmp(a, "--write-max") == 0)
            cfg.write_max = (size_t)n;
        else if (strcmp(a, "--max-connections") == 0)
            cfg.max_connections = (unsigned)n;
        else if (strcmp(a, "--abort-on-eof") == 0)
            cfg.abort_on_eof = n != 0;
        else {
            usage();
            return 2;
        }
    }
    cfg.host = host;
    lx_log_init(-1, level);
    srv = lx_server_new(&cfg, &err);
    if (srv == NULL) {
        fprintf(stderr, "echo_server: %s\n", err.msg);
        return 1;
    }
    rc = lx_server_run(srv, true);
    lx_server_free(srv);
    return rc == LX_OK ? 0 : 1;
}
