/* loadgen.c - the benchmark's HTTP/1.1 load generator: one thread, one epoll loop, keep-alive
 * connections to one loopback target. Closed loop (c connections, each sends its next request
 * when the previous answer is complete) or open loop (--rate: requests are due at fixed times
 * and latency is measured from the due time, so a slow server cannot hide its queue:
 * no coordinated omission). --sse parses the response as an SSE stream: time to the first
 * content event, every gap between content events, and fidelity (all N tokens, in order, then
 * [DONE]). Prints one JSON object on stdout. Latencies go to log-bucketed histograms with 1 us
 * resolution below 1 ms and ~0.2 % relative error above. Everything is owned by main(). */
#define _GNU_SOURCE /* epoll_pwait2, memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/str.h"
#include "core/time.h"

/* --- histogram ------------------------------------------------------------------------ */

#define H_SUB 1024 /* values below H_SUB us are exact */
#define H_BUCKETS (H_SUB + 40 * (H_SUB / 2))

struct hist {
    uint64_t count[H_BUCKETS];
    uint64_t n, max, sum;
};

static size_t h_index(uint64_t v)
{
    if (v < H_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 9;
    size_t i = H_SUB + (size_t)(shift - 1) * (H_SUB / 2) + (size_t)((v >> shift) - H_SUB / 2);
    return i < H_BUCKETS ? i : H_BUCKETS - 1;
}

static uint64_t h_value(size_t i) /* the middle of bucket i */
{
    if (i < H_SUB)
        return i;
    size_t k = i - H_SUB;
    int shift = (int)(k / (H_SUB / 2)) + 1;
    uint64_t lo = ((uint64_t)(k % (H_SUB / 2)) + H_SUB / 2) << shift;
    return lo + ((1ull << shift) >> 1);
}

static void h_add(struct hist *h, uint64_t us)
{
    h->count[h_index(us)]++;
    h->n++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

static uint64_t h_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)((double)h->n * p / 100.0 + 0.5), seen = 0;

    if (h->n == 0)
        return 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < H_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= want)
            return h_value(i) > h->max ? h->max : h_value(i);
    }
    return h->max;
}

static void h_print(const char *name, const struct hist *h)
{
    printf("\"%s\":{\"n\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
           "\"p999\":%llu,\"max\":%llu}",
           name, (unsigned long long)h->n, h->n ? (double)h->sum / (double)h->n : 0.0,
           (unsigned long long)h_pct(h, 50), (unsigned long long)h_pct(h, 90),
           (unsigned long long)h_pct(h, 99), (unsigned long long)h_pct(h, 99.9),
           (unsigned long long)h->max);
}

/* --- connections ---------------------------------------------------------------------- */

enum cstate { S_DOWN = 0, S_CONNECTING, S_IDLE, S_BUSY };

struct conn {
    int fd;
    enum cstate state;
    bool want_out;
    llhttp_t parser;
    size_t out_off;       /* bytes of the request written */
    uint64_t start_ns;    /* due time (open loop) or send time (closed loop) */
    uint64_t not_before;  /* ramp: do not connect before this */
    int status;
    bool msg_done, keep_alive;
    /* SSE state of the response in flight */
    char line[512];
    size_t line_len;
    bool line_long;
    uint64_t last_ev_ns;
    uint64_t n_content, next_tok, n_data;
    bool order_bad, done_seen, first_seen;
};

static struct {
    struct sockaddr_in addr;
    struct lx_buf req; /* the whole request, built once */
    int c;
    double rate, duration, warmup, ramp;
    uint64_t max_requests, expect, stall_us, timeout_ms;
    bool sse, quiet;
    int ep;
    struct conn *conns;
    llhttp_settings_t settings;
    uint64_t t_start, t_measure, t_end;
    uint64_t sent, completed, recorded, errors, non2xx, timeouts;
    uint64_t pending; /* open loop: due requests waiting for a free connection */
    uint64_t *pending_due;
    size_t pending_head, pending_cap;
    uint64_t next_due, due_count;
    uint64_t streams, intact, bad_count, bad_order, no_done, stalls, events;
    uint64_t live, live_announced;
    uint64_t inflight;    /* requests sent and not yet answered or failed */
    struct conn **idle;   /* open loop: connected connections with nothing to do */
    size_t n_idle;
    int next_open;        /* connections [0, next_open) have been opened once */
    uint64_t bytes_in;
    struct hist lat, ttft, gap;
} g;

static uint64_t now_ns(void)
{
    return lx_now_mono_ns();
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = S_DOWN;
    c->want_out = false;
}

static void set_out(struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
    epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_open(struct conn *c)
{
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) != 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->want_out = true;
    c->state = S_CONNECTING;
    llhttp_init(&c->parser, HTTP_RESPONSE, &g.settings);
    c->parser.data = c;
    return 0;
}

static bool measuring(uint64_t t)
{
    return t >= g.t_measure;
}

/* One SSE line of the response body. Content events carry their token number as text
 * ("content":"17 " from mockllm): it must be the previous one plus one. */
static void sse_line(struct conn *c, const char *p, size_t n)
{
    uint64_t t = now_ns();

    if (n < 5 || memcmp(p, "data:", 5) != 0)
        return;
    c->n_data++;
    if (measuring(t))
        g.events++;
    struct lx_str s = lx_str_make(p, n);
    if (n >= 11 && memmem(p, n, "[DONE]", 6) != NULL) {
        c->done_seen = true;
        return;
    }
    const char *k = memmem(s.ptr, s.len, "\"content\":\"", 11);
    size_t klen = 11;
    if (k == NULL) {
        k = memmem(s.ptr, s.len, "\"text\":\"", 8);
        klen = 8;
    }
    if (k == NULL)
        return;
    const char *d = k + klen, *end = p + n;
    uint64_t num = 0;
    bool digits = false;
    while (d < end && *d >= '0' && *d <= '9') {
        num = num * 10 + (uint64_t)(*d - '0');
        d++;
        digits = true;
    }
    if (!digits)
        return; /* the role chunk, or content that is not a mock token */
    c->n_content++;
    if (num != c->next_tok)
        c->order_bad = true;
    c->next_tok = num + 1;
    if (!c->first_seen) {
        c->first_seen = true;
        if (measuring(t))
            h_add(&g.ttft, (t - c->start_ns) / 1000);
        g.live++;
        if (g.live > g.live_announced && g.live == (uint64_t)g.c) {
            g.live_announced = g.live;
            fprintf(stderr, "{\"event\":\"all_open\",\"streams\":%llu,\"t_ms\":%llu}\n",
                    (unsigned long long)g.live,
                    (unsigned long long)((t - g.t_start) / 1000000));
        }
    } else {
        uint64_t gap = (t - c->last_ev_ns) / 1000;
        if (measuring(t))
            h_add(&g.gap, gap);
        if (g.stall_us > 0 && gap > g.stall_us)
            g.stalls++;
    }
    c->last_ev_ns = t;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    (void)n;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->status = p->status_code;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;

    if (!g.sse)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = at[i];
        if (ch == '\n') {
            if (!c->line_long) {
                size_t l = c->line_len;
                if (l > 0 && c->line[l - 1] == '\r')
                    l--;
                sse_line(c, c->line, l);
            } else {
                /* a long line: only its head was kept, enough for data: and the token */
                sse_line(c, c->line, c->line_len);
            }
            c->line_len = 0;
            c->line_long = false;
        } else if (c->line_len < sizeof(c->line)) {
            c->line[c->line_len++] = ch;
        } else {
            c->line_long = true;
        }
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->msg_done = true;
    c->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

static bool all_sent(void)
{
    uint64_t t = now_ns();
    if (g.max_requests > 0)
        return g.sent >= g.max_requests;
    return t >= g.t_end;
}

static void send_request(struct conn *c, uint64_t due)
{
    c->state = S_BUSY;
    c->start_ns = due;
    c->out_off = 0;
    c->msg_done = false;
    c->status = 0;
    c->line_len = 0;
    c->line_long = false;
    c->n_content = c->n_data = 0;
    c->next_tok = 1;
    c->order_bad = c->done_seen = c->first_seen = false;
    g.sent++;
    g.inflight++;
    while (c->out_off < g.req.len) {
        ssize_t n = write(c->fd, g.req.ptr + c->out_off, g.req.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            set_out(c, true);
            return;
        }
        break;
    }
}

static void conn_reopen(struct conn *c);

/* A connection is free: give it the oldest due request (open loop) or a new one (closed);
 * with nothing to do it waits on the idle stack. */
static void feed(struct conn *c)
{
    if (c->state != S_IDLE)
        return;
    if (g.rate > 0) {
        if (g.pending == 0) {
            if (g.n_idle < 2 * (size_t)g.c)
                g.idle[g.n_idle++] = c; /* a stale duplicate is skipped by the state check */
            return;
        }
        uint64_t due = g.pending_due[g.pending_head];
        g.pending_head = (g.pending_head + 1) % g.pending_cap;
        g.pending--;
        send_request(c, due);
        return;
    }
    if (all_sent())
        return;
    send_request(c, now_ns());
}

static void finish_stream_stats(struct conn *c, bool ok)
{
    if (!g.sse)
        return;
    if (c->first_seen && g.live > 0)
        g.live--;
    if (!measuring(c->start_ns))
        return;
    g.streams++;
    bool count_ok = g.expect == 0 || c->n_content == g.expect;
    if (!count_ok)
        g.bad_count++;
    if (c->order_bad)
        g.bad_order++;
    if (!c->done_seen)
        g.no_done++;
    if (ok && count_ok && !c->order_bad && c->done_seen)
        g.intact++;
}

static void request_failed(struct conn *c)
{
    if (c->state == S_BUSY) {
        g.errors++;
        g.inflight--;
        finish_stream_stats(c, false);
    }
    conn_close(c);
    conn_reopen(c);
}

/* A closed connection comes back while there is work for it. */
static void conn_reopen(struct conn *c)
{
    if (c->state != S_DOWN || (all_sent() && g.pending == 0))
        return;
    if (conn_open(c) != 0)
        g.errors++;
}

static void on_response(struct conn *c)
{
    uint64_t t = now_ns();

    g.completed++;
    if (measuring(c->start_ns)) {
        g.recorded++;
        h_add(&g.lat, (t - c->start_ns) / 1000);
        if (c->status < 200 || c->status > 299)
            g.non2xx++;
    }
    finish_stream_stats(c, c->status >= 200 && c->status <= 299);
    g.inflight--;
    c->state = S_IDLE;
    if (!c->keep_alive) {
        conn_close(c);
        conn_reopen(c);
        return;
    }
    feed(c);
}

static void on_readable(struct conn *c)
{
    char buf[65536];

    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (c->state == S_BUSY && n == 0) {
                /* a body delimited by the close ends here (on_message_complete pauses) */
                llhttp_errno_t e = llhttp_finish(&c->parser);
                if ((e == HPE_OK || e == HPE_PAUSED) && c->msg_done) {
                    c->keep_alive = false;
                    on_response(c);
                    return;
                }
            }
            request_failed(c);
            return;
        }
        g.bytes_in += (size_t)n;
        if (c->state != S_BUSY) {
            request_failed(c); /* bytes nobody asked for */
            return;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            llhttp_errno_t e = llhttp_execute(&c->parser, buf + off, (size_t)n - off);
            if (e == HPE_OK)
                break;
            if (e != HPE_PAUSED) {
                request_failed(c);
                return;
            }
            off = (size_t)(llhttp_get_error_pos(&c->parser) - buf);
            llhttp_resume(&c->parser);
            on_response(c);
            if (c->state != S_BUSY)
                return; /* closed or idle: nothing may follow the response */
            if (off < (size_t)n) {
                request_failed(c); /* bytes after the response */
                return;
            }
        }
        if ((size_t)n < sizeof(buf))
            return;
    }
}

static void on_writable(struct conn *c)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            g.errors++;
            conn_close(c);
            return;
        }
        c->state = S_IDLE;
        set_out(c, false);
        feed(c);
        return;
    }
    while (c->state == S_BUSY && c->out_off < g.req.len) {
        ssize_t n = write(c->fd, g.req.ptr + c->out_off, g.req.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        request_failed(c);
        return;
    }
    set_out(c, false);
}

static int parse_url(const char *url, struct lx_buf *host, struct lx_buf *path)
{
    const char *p = url;
    uint64_t port = 80;

    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    const char *slash = strchr(p, '/');
    if (slash == NULL)
        slash = p + strlen(p);
    lx_buf_append(host, p, (size_t)(slash - p));
    lx_buf_append_cstr(path, *slash ? slash : "/");
    const char *colon = memchr(p, ':', (size_t)(slash - p));
    char ip[64];
    size_t iplen = (size_t)((colon ? colon : slash) - p);
    if (iplen == 0 || iplen >= sizeof(ip))
        return -1;
    memcpy(ip, p, iplen);
    ip[iplen] = '\0';
    if (colon && lx_str_to_u64(lx_str_make(colon + 1, (size_t)(slash - colon - 1)), &port) != 0)
        return -1;
    if (strcmp(ip, "localhost") == 0)
        memcpy(ip, "127.0.0.1", 10);
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &g.addr.sin_addr) == 1 ? 0 : -1;
}


static double parse_num(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "loadgen: bad number %s\n", s);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --url http://127.0.0.1:PORT/path [-c CONNS] [-d SECONDS]\n"
            "  [--rate REQ_PER_S] (open loop) [--requests N] [--warmup S] [--body FILE]\n"
            "  [--method M] [-H 'Name: value']... [--sse] [--expect N] [--stall-ms MS]\n"
            "  [--ramp CONN_PER_S] [--timeout-s S]\n");
}

int main(int argc, char **argv)
{
    struct lx_buf host = LX_BUF_INIT(4096), path = LX_BUF_INIT(65536);
    struct lx_buf hdrs = LX_BUF_INIT(65536);
    const char *url = NULL, *body_file = NULL, *method = NULL;
    char *body = NULL;
    size_t body_len = 0;
    double timeout_s = 0;
    struct epoll_event events[512];
    struct rusage ru0, ru1;

    g.c = 1;
    g.duration = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sse") == 0) {
            g.sse = true;
            continue;
        }
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--url") == 0)
            url = v;
        else if (strcmp(a, "-c") == 0)
            g.c = (int)parse_num(v);
        else if (strcmp(a, "-d") == 0)
            g.duration = parse_num(v);
        else if (strcmp(a, "--rate") == 0)
            g.rate = parse_num(v);
        else if (strcmp(a, "--requests") == 0)
            g.max_requests = (uint64_t)parse_num(v);
        else if (strcmp(a, "--warmup") == 0)
            g.warmup = parse_num(v);
        else if (strcmp(a, "--body") == 0)
            body_file = v;
        else if (strcmp(a, "--method") == 0)
            method = v;
        else if (strcmp(a, "-H") == 0)
            lx_buf_appendf(&hdrs, "%s\r\n", v);
        else if (strcmp(a, "--expect") == 0)
            g.expect = (uint64_t)parse_num(v);
        else if (strcmp(a, "--stall-ms") == 0)
            g.stall_us = (uint64_t)(parse_num(v) * 1000);
        else if (strcmp(a, "--ramp") == 0)
            g.ramp = parse_num(v);
        else if (strcmp(a, "--timeout-s") == 0)
            timeout_s = parse_num(v);
        else {
            usage();
            return 2;
        }
    }
    if (url == NULL || g.c < 1 || parse_url(url, &host, &path) != 0) {
        usage();
        return 2;
    }
    if (body_file != NULL && (body = lx_file_read(body_file, 64u << 20, &body_len)) == NULL) {
        fprintf(stderr, "loadgen: cannot read %s\n", body_file);
        return 2;
    }
    if (method == NULL)
        method = body_file ? "POST" : "GET";
    lx_buf_init(&g.req, 128u << 20);
    lx_buf_appendf(&g.req, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path.ptr, host.ptr);
    if (body_file != NULL)
        lx_buf_appendf(&g.req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                       body_len);
    if (g.sse)
        lx_buf_append_cstr(&g.req, "Accept: text/event-stream\r\n");
    lx_buf_append_str(&g.req, lx_buf_str(&hdrs));
    lx_buf_append_cstr(&g.req, "\r\n");
    lx_buf_append(&g.req, body, body_len);
    free(body);
    if (g.req.err != 0)
        return 2;

    signal(SIGPIPE, SIG_IGN);
    llhttp_settings_init(&g.settings);
    g.settings.on_status = on_status;
    g.settings.on_headers_complete = on_headers_complete;
    g.settings.on_body = on_body;
    g.settings.on_message_complete = on_message_complete;
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.conns = lx_xcalloc((size_t)g.c, sizeof(*g.conns));
    if (g.rate > 0) {
        g.pending_cap = 1u << 20;
        g.pending_due = lx_xcalloc(g.pending_cap, sizeof(uint64_t));
        g.idle = lx_xcalloc(2 * (size_t)g.c, sizeof(*g.idle));
    }

    getrusage(RUSAGE_SELF, &ru0);
    g.t_start = now_ns();
    g.t_measure = g.t_start + (uint64_t)(g.warmup * 1e9);
    g.t_end = g.t_measure + (uint64_t)(g.duration * 1e9);
    uint64_t hard_end = timeout_s > 0 ? g.t_start + (uint64_t)(timeout_s * 1e9) : 0;
    g.next_due = g.t_start;
    for (int i = 0; i < g.c; i++) {
        g.conns[i].fd = -1;
        g.conns[i].not_before =
            g.ramp > 0 ? g.t_start + (uint64_t)((double)i * 1e9 / g.ramp) : g.t_start;
    }

    for (;;) {
        uint64_t t = now_ns();
        bool sending = !all_sent();
        uint64_t wake = UINT64_MAX;

        if (hard_end && t >= hard_end) {
            for (int i = 0; i < g.c; i++)
                if (g.conns[i].state == S_BUSY) {
                    g.timeouts++;
                    request_failed(&g.conns[i]);
                }
            break;
        }
        /* open loop: everything due by now joins the queue, idle connections take it */
        if (g.rate > 0 && g.next_due < g.t_end) {
            while (g.next_due <= t && g.next_due < g.t_end) {
                if (g.pending < g.pending_cap) {
                    g.pending_due[(g.pending_head + g.pending) % g.pending_cap] = g.next_due;
                    g.pending++;
                }
                g.due_count++;
                g.next_due = g.t_start + (uint64_t)((double)g.due_count * 1e9 / g.rate);
            }
            while (g.pending > 0 && g.n_idle > 0)
                feed(g.idle[--g.n_idle]);
            wake = g.next_due;
        }
        /* ramp: connections open at their scheduled times */
        while (g.next_open < g.c && (sending || g.pending > 0)) {
            struct conn *c = &g.conns[g.next_open];
            if (c->not_before > t) {
                if (c->not_before < wake)
                    wake = c->not_before;
                break;
            }
            g.next_open++;
            if (conn_open(c) != 0)
                g.errors++;
        }
        if (!sending && g.inflight == 0 && g.pending == 0 &&
            (g.rate == 0 || g.next_due >= g.t_end))
            break;

        struct timespec ts = {0, 0}, *tsp = NULL;
        uint64_t now2 = now_ns();
        if (g.max_requests == 0 && sending && g.t_end < wake)
            wake = g.t_end;
        if (hard_end && hard_end < wake)
            wake = hard_end;
        if (wake != UINT64_MAX) {
            uint64_t w = wake > now2 ? wake - now2 : 0;
            ts.tv_sec = (time_t)(w / 1000000000ull);
            ts.tv_nsec = (long)(w % 1000000000ull);
            tsp = &ts;
        }
        int n = epoll_pwait2(g.ep, events, (int)(sizeof(events) / sizeof(events[0])), tsp, NULL);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (events[i].events & EPOLLOUT)
                on_writable(c);
            if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(c);
        }
    }
    uint64_t t_stop = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    uint64_t span_end = g.max_requests > 0 || t_stop < g.t_end ? t_stop : g.t_end;
    double secs = span_end > g.t_measure ? (double)(span_end - g.t_measure) / 1e9 : 0;
    double wall = (double)(t_stop - g.t_start) / 1e9;

    printf("{\"mode\":\"%s\",\"c\":%d,\"rate\":%.1f,\"sse\":%s,\"sent\":%llu,"
           "\"completed\":%llu,\"recorded\":%llu,\"errors\":%llu,\"timeouts\":%llu,"
           "\"non2xx\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"bytes_in\":%llu,"
           "\"cpu_s\":%.3f,\"cpu_frac\":%.3f,",
           g.rate > 0 ? "open" : "closed", g.c, g.rate, g.sse ? "true" : "false",
           (unsigned long long)g.sent, (unsigned long long)g.completed,
           (unsigned long long)g.recorded, (unsigned long long)g.errors,
           (unsigned long long)g.timeouts, (unsigned long long)g.non2xx, secs,
           secs > 0 ? (double)g.recorded / secs : 0.0, (unsigned long long)g.bytes_in, cpu,
           wall > 0 ? cpu / wall : 0.0);
    h_print("latency_us", &g.lat);
    if (g.sse) {
        printf(",");
        h_print("ttft_us", &g.ttft);
        printf(",");
        h_print("gap_us", &g.gap);
        printf(",\"streams\":%llu,\"intact\":%llu,\"bad_count\":%llu,\"bad_order\":%llu,"
               "\"no_done\":%llu,\"stalls\":%llu,\"events\":%llu",
               (unsigned long long)g.streams, (unsigned long long)g.intact,
               (unsigned long long)g.bad_count, (unsigned long long)g.bad_order,
               (unsigned long long)g.no_done, (unsigned long long)g.stalls,
               (unsigned long long)g.events);
    }
    printf("}\n");
    for (int i = 0; i < g.c; i++)
        conn_close(&g.conns[i]);
    free(g.conns);
    free(g.pending_due);
    free(g.idle);
    lx_buf_release(&g.req);
    lx_buf_release(&host);
    lx_buf_release(&path);
    lx_buf_release(&hdrs);
    close(g.ep);
    return 0;
}
