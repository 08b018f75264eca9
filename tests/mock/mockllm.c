/* mockllm.c - the mock LLM provider used by the integration tests and the benchmark: one
 * single-threaded epoll loop serving OpenAI-shaped answers, paced SSE streams, recorded
 * fixtures, and faults asked for by the X-Mock request header (tests/mock/README.md).
 * Each struct conn is owned by the loop; it is freed only at the end of a loop iteration
 * (conn_kill marks it dead) so no callback ever touches freed memory. Timers are one per
 * connection in a binary heap; streams are deadline-paced (start + k*D), never slept. */
#define _GNU_SOURCE /* accept4, epoll_pwait2 */
#include "tests/mock/mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/escape.h"
#include "core/time.h"

#define MAX_BODY (8u << 20)       /* request bodies: at least 2 MB required, 8 MB allowed */
#define MAX_IN (MAX_BODY + 65536) /* unparsed input kept per connection */
#define LINGER_NS (2000000000ull) /* after a clean close, wait this long for the peer's FIN */
#define RST_WAIT_NS (500000000ull)
#define NS_PER_MS 1000000ull

enum conn_state {
    C_READ = 0, /* reading and parsing a request */
    C_DELAY,    /* request read; the head is due when the timer fires */
    C_SEND,     /* producing the body (maybe paced) and writing it */
    C_HANG,     /* never answers; closes when the client does */
    C_DRAIN,    /* the last bytes are written; RST once the kernel sent them */
    C_LINGER,   /* shutdown(SHUT_WR) done; waiting for the client's FIN */
};

enum ending { END_KEEP = 0, END_CLOSE, END_TRUNCATE, END_RESET };

struct plan { /* the head of the response */
    unsigned status; /* 0: the body is a whole recorded response (.http), sent as is */
    const char *ctype;
    struct lx_str extra; /* "Name: value\r\n" lines */
};

struct conn {
    int fd;
    enum conn_state state;
    bool dead, want_out, reading, peer_eof;
    bool parsing; /* inside process_input: a nested call would only recurse */
    struct conn *prev, *next; /* all connections, for the final cleanup */
    struct conn *next_dead;

    llhttp_t parser;
    struct lx_buf in; /* bytes read, in_off of them already parsed */
    size_t in_off;
    struct lx_buf url, hdrs, body; /* the request: hdrs holds "name: value\n" lines */
    bool too_big;

    struct mock_opts opts;
    struct plan plan;
    struct lx_buf out; /* bytes to write, out_off of them written */
    size_t out_off;
    struct lx_buf gen; /* a generated body (chat, echo, error) */
    struct lx_str src; /* the body being sent (gen or a cached fixture) */
    size_t src_off;
    char sep;            /* piece = one event (sep as mock_next_event) when events is set */
    bool events;         /* pieces are events (chunk-ms) */
    uint64_t drip;       /* pieces are this many bytes (drip) */
    uint64_t interval;   /* ns between pieces, 0 = everything at once */
    uint64_t t0, tick;   /* piece k is due at t0 + k * interval */
    bool chunked, tokens_mode, include_usage, completions, produced_all;
    uint64_t n_tokens;
    uint64_t body_sent, limit; /* limit: truncate / reset-after point (UINT64_MAX = none) */
    enum ending ending, limit_ending;
    char id[48], model[256];
    enum mock_proto proto; /* the protocol of a paced stream and of error bodies */
    struct mock_route route;
    struct lx_buf xhdr; /* extra head lines built for this response */
    struct lx_buf tickb; /* scratch for one tick of a non-OpenAI stream */
    char hexspec[512];   /* the items of a "mockx-<hex>" model, decoded */

    uint64_t due; /* timer */
    size_t heap_idx;
};

static struct {
    const char *fixtures;
    uint64_t latency_ms, tokens, token_ms;
    int ep, lfd;
    struct conn *all, *dead;
    struct conn **heap;
    size_t heap_n, heap_cap;
    uint64_t seq;
    llhttp_settings_t settings;
    struct stat_entry { /* requests per path, for GET /mock/stats */
        char *path;
        size_t len;
        uint64_t n;
    } *stats;
    size_t stats_n, stats_cap;
    uint64_t requests;
    volatile sig_atomic_t stop;
} g;

static void conn_kill(struct conn *c);
static void process_input(struct conn *c);
static void produce(struct conn *c);
static void flush_out(struct conn *c);

/* --- timers: a binary heap of connections ordered by due ----------------------------- */

static void heap_swap(size_t a, size_t b)
{
    struct conn *t = g.heap[a];
    g.heap[a] = g.heap[b];
    g.heap[b] = t;
    g.heap[a]->heap_idx = a;
    g.heap[b]->heap_idx = b;
}

static void heap_fix(size_t i)
{
    while (i > 0 && g.heap[(i - 1) / 2]->due > g.heap[i]->due) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g.heap_n && g.heap[l]->due < g.heap[m]->due)
            m = l;
        if (r < g.heap_n && g.heap[r]->due < g.heap[m]->due)
            m = r;
        if (m == i)
            return;
        heap_swap(i, m);
        i = m;
    }
}

static void timer_clear(struct conn *c)
{
    size_t i = c->heap_idx;

    if (i == SIZE_MAX)
        return;
    c->heap_idx = SIZE_MAX;
    g.heap_n--;
    if (i == g.heap_n)
        return;
    g.heap[i] = g.heap[g.heap_n];
    g.heap[i]->heap_idx = i;
    heap_fix(i);
}

static void timer_set(struct conn *c, uint64_t due)
{
    timer_clear(c);
    if (g.heap_n == g.heap_cap) {
        g.heap_cap = g.heap_cap ? 2 * g.heap_cap : 256;
        g.heap = lx_xrealloc(g.heap, g.heap_cap * sizeof(*g.heap));
    }
    c->due = due;
    c->heap_idx = g.heap_n;
    g.heap[g.heap_n++] = c;
    heap_fix(c->heap_idx);
}

/* --- connection plumbing -------------------------------------------------------------- */

static void set_events(struct conn *c)
{
    struct epoll_event ev = {.events = (c->reading ? EPOLLIN : 0u) | (c->want_out ? EPOLLOUT : 0u),
                             .data.ptr = c};
    epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_kill(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    timer_clear(c);
    epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->next_dead = g.dead;
    g.dead = c;
}

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lx_buf_release(&c->in);
    lx_buf_release(&c->url);
    lx_buf_release(&c->hdrs);
    lx_buf_release(&c->body);
    lx_buf_release(&c->out);
    lx_buf_release(&c->gen);
    lx_buf_release(&c->xhdr);
    lx_buf_release(&c->tickb);
    free(c);
}

static void reap(void)
{
    while (g.dead) {
        struct conn *c = g.dead;
        g.dead = c->next_dead;
        conn_free(c);
    }
}

/* RST instead of FIN: SO_LINGER with a zero timeout makes close() abort the connection. */
static void conn_reset(struct conn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_kill(c);
}

/* --- llhttp callbacks ------------------------------------------------------------------ */

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;

    lx_buf_reset(&c->url);
    lx_buf_reset(&c->hdrs);
    lx_buf_reset(&c->body);
    c->too_big = false;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    return lx_buf_append(&c->url, at, n) == 0 ? 0 : -1;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    return lx_buf_append(&c->hdrs, at, n) == 0 ? 0 : -1;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    return lx_buf_append(&c->hdrs, ": ", 2) == 0 ? 0 : -1;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    return lx_buf_append(&c->hdrs, at, n) == 0 ? 0 : -1;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    return lx_buf_append_char(&c->hdrs, '\n') == 0 ? 0 : -1;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;

    if (lx_buf_append(&c->body, at, n) != 0) {
        c->too_big = true;
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED; /* one request at a time: the rest of the input waits in c->in */
}

/* --- the request -------------------------------------------------------------------- */

/* Appends the values of every header called name to joined (comma-separated); false if none. */
static bool header_get(const struct conn *c, struct lx_str name, struct lx_buf *joined)
{
    struct lx_str h = lx_buf_str(&c->hdrs);
    bool found = false;

    while (h.len > 0) {
        long nl = lx_str_find_char(h, '\n');
        struct lx_str line = lx_str_sub(h, 0, nl < 0 ? h.len : (size_t)nl);
        long colon = lx_str_find_char(line, ':');
        h = lx_str_sub(h, nl < 0 ? h.len : (size_t)nl + 1, h.len);
        if (colon < 0)
            continue;
        if (!lx_str_eq_nocase(lx_str_sub(line, 0, (size_t)colon), name))
            continue;
        struct lx_str v = lx_str_trim(lx_str_sub(line, (size_t)colon + 1, line.len));
        if (found)
            lx_buf_append_char(joined, ',');
        lx_buf_append_str(joined, v);
        found = true;
    }
    return found;
}

static bool json_true(struct lx_str body, const char *key)
{
    long p = mock_json_find(body, key);
    return p >= 0 && (size_t)p + 4 <= body.len && memcmp(body.ptr + p, "true", 4) == 0;
}

static void pick_model(struct conn *c)
{
    struct lx_str b = lx_buf_str(&c->body);
    long p = mock_json_find(b, "model");
    size_t n = 0;

    if (c->route.model[0] != '\0') {
        memcpy(c->model, c->route.model, sizeof(c->model));
        c->model[sizeof(c->model) - 1] = '\0';
        return;
    }
    if (p >= 0 && b.ptr[p] == '"') {
        size_t i = (size_t)p + 1;
        while (i < b.len && n + 1 < sizeof(c->model) && b.ptr[i] != '"' && b.ptr[i] != '\\' &&
               (unsigned char)b.ptr[i] >= 0x20)
            c->model[n++] = b.ptr[i++];
        if (i < b.len && b.ptr[i] == '"') {
            c->model[n] = '\0';
            return;
        }
    }
    memcpy(c->model, "gpt-4o-mini-2024-07-18", sizeof("gpt-4o-mini-2024-07-18"));
}

/* printf is a fifth of the CPU of a small answer: the hot path formats numbers by hand. */
static void append_u64(struct lx_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    lx_buf_append(b, tmp + i, sizeof(tmp) - i);
}

static void make_id(struct conn *c)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = ++g.seq;

    memcpy(c->id, "chatcmpl-mock", 13);
    for (int i = 15; i >= 0; i--, v >>= 4)
        c->id[13 + i] = hex[v & 15];
    c->id[29] = '\0';
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 402: return "Payment Required";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Status";
    }
}

static void date_header(struct lx_buf *b)
{
    static time_t last;
    static char text[48];
    static size_t len;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);

    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        int n = snprintf(text, sizeof(text), "Date: %s, %02d %s %d %02d:%02d:%02d GMT\r\n",
                         days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                         tm.tm_hour, tm.tm_min, tm.tm_sec);
        len = n > 0 ? LX_MIN((size_t)n, sizeof(text) - 1) : 0;
        last = now;
    }
    lx_buf_append(b, text, len);
}

static void error_body(struct conn *c, unsigned status, const char *msg)
{
    mock_openai_error(&c->gen, status, msg, NULL);
}

static void chat_body(struct conn *c)
{
    struct lx_buf *b = &c->gen;

    lx_buf_append_cstr(b, "{\"id\":\"");
    lx_buf_append_cstr(b, c->id);
    lx_buf_append_cstr(b, "\",\"object\":\"chat.completion\",\"created\":");
    append_u64(b, (uint64_t)time(NULL));
    lx_buf_append_cstr(b, ",\"model\":\"");
    lx_buf_append_cstr(b, c->model);
    lx_buf_append_cstr(
        b, "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello! "
           "This is mockllm, the llmux mock provider. It gives the same short answer to every "
           "request so that a benchmark measures the gateway and not the model.\","
           "\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
           "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":33,\"total_tokens\":52,"
           "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
           "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0}},"
           "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mockllm\"}");
}

static void completion_body(struct conn *c)
{
    lx_buf_appendf(&c->gen,
                   "{\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%lld,"
                   "\"model\":\"%s\",\"choices\":[{\"text\":\" This is mockllm.\",\"index\":0,"
                   "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                   "5,\"completion_tokens\":4,\"total_tokens\":9}}",
                   c->id, (long long)time(NULL), c->model);
}

static void embeddings_body(struct conn *c)
{
    lx_buf_appendf(&c->gen,
                   "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                   "\"embedding\":[0.0023064255,-0.009327292,-0.0028842222,0.021545823]}],"
                   "\"model\":\"%s\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}",
                   c->model);
}

static void models_body(struct conn *c)
{
    lx_buf_appendf(&c->gen, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\",\"object\":"
                            "\"model\",\"created\":1721172741,\"owned_by\":\"system\"},{\"id\":"
                            "\"text-embedding-3-small\",\"object\":\"model\",\"created\":"
                            "1705948997,\"owned_by\":\"system\"}]}");
}

/* The cheap list endpoints a gateway probes a key or checks a provider's health with (GET):
 * the protocol whose body and error shape answer them, or -1 when path is none of them.
 * /v1/models (OpenAI, Anthropic, Cohere) keeps its own OpenAI answer. */
static int list_route(struct lx_str path)
{
    if (lx_str_eq(path, LX_STR("/v1beta/models")) || lx_str_eq(path, LX_STR("/models")))
        return MP_GEMINI;
    if (lx_str_eq(path, LX_STR("/openai/models")) || lx_str_eq(path, LX_STR("/openai/v1/models")))
        return MP_OPENAI;
    if (lx_str_ends_with(path, LX_STR("/ai/models/search")))
        return MP_WORKERS;
    if (lx_str_eq(path, LX_STR("/api/tags")))
        return MP_OLLAMA;
    return -1;
}

static void list_body(struct conn *c, int proto)
{
    switch (proto) {
    case MP_GEMINI:
        lx_buf_append_cstr(&c->gen, "{\"models\":[{\"name\":\"models/gemini-2.0-flash\","
                                    "\"supportedGenerationMethods\":[\"generateContent\"]}]}");
        break;
    case MP_WORKERS:
        lx_buf_append_cstr(&c->gen, "{\"result\":[{\"name\":\"@cf/meta/llama-3.1-8b-instruct\"}],"
                                    "\"success\":true,\"errors\":[],\"messages\":[]}");
        break;
    case MP_OLLAMA:
        lx_buf_append_cstr(&c->gen, "{\"models\":[{\"name\":\"llama3.2:latest\"}]}");
        break;
    default: models_body(c); break;
    }
}

static void echo_body(struct conn *c)
{
    struct lx_str h = lx_buf_str(&c->hdrs);
    bool first = true;

    lx_buf_appendf(&c->gen, "{\"method\":\"%s\",\"path\":\"",
                   llhttp_method_name((llhttp_method_t)c->parser.method));
    lx_json_escape(&c->gen, lx_buf_str(&c->url));
    lx_buf_append_cstr(&c->gen, "\",\"headers\":[");
    while (h.len > 0) {
        long nl = lx_str_find_char(h, '\n');
        struct lx_str line = lx_str_sub(h, 0, nl < 0 ? h.len : (size_t)nl);
        long colon = lx_str_find_char(line, ':');
        h = lx_str_sub(h, nl < 0 ? h.len : (size_t)nl + 1, h.len);
        if (colon < 0)
            continue;
        lx_buf_append_cstr(&c->gen, first ? "[\"" : ",[\"");
        lx_json_escape(&c->gen, lx_str_sub(line, 0, (size_t)colon));
        lx_buf_append_cstr(&c->gen, "\",\"");
        lx_json_escape(&c->gen, lx_str_trim(lx_str_sub(line, (size_t)colon + 1, line.len)));
        lx_buf_append_cstr(&c->gen, "\"]");
        first = false;
    }
    lx_buf_appendf(&c->gen, "],\"body_len\":%zu,\"body\":\"", c->body.len);
    lx_json_escape(&c->gen, lx_buf_str(&c->body));
    lx_buf_append_cstr(&c->gen, "\"}");
}

static void write_head(struct conn *c)
{
    unsigned status = c->plan.status;
    const char *ctype = c->plan.ctype;
    struct lx_str extra = c->plan.extra;

    lx_buf_append_cstr(&c->out, "HTTP/1.1 ");
    append_u64(&c->out, status);
    lx_buf_append_char(&c->out, ' ');
    lx_buf_append_cstr(&c->out, reason(status));
    lx_buf_append_cstr(&c->out, "\r\n");
    date_header(&c->out);
    lx_buf_append_cstr(&c->out, "Content-Type: ");
    lx_buf_append_cstr(&c->out, ctype);
    if (c->chunked) {
        lx_buf_append_cstr(&c->out, "\r\nTransfer-Encoding: chunked\r\n");
    } else {
        lx_buf_append_cstr(&c->out, "\r\nContent-Length: ");
        append_u64(&c->out, c->src.len);
        lx_buf_append_cstr(&c->out, "\r\n");
    }
    if (c->opts.retry_after != MOCK_NO_VALUE)
        lx_buf_appendf(&c->out, "Retry-After: %llu\r\n", (unsigned long long)c->opts.retry_after);
    if (c->ending == END_CLOSE)
        lx_buf_append_cstr(&c->out, "Connection: close\r\n");
    lx_buf_append_cstr(&c->out, "x-request-id: ");
    lx_buf_append_cstr(&c->out, c->id);
    lx_buf_append_cstr(&c->out, "\r\n");
    lx_buf_append_str(&c->out, extra);
    lx_buf_append_cstr(&c->out, "\r\n");
}

/* Appends up to n body bytes, framed; applies truncate/reset-after. Returns false once the
 * limit is reached (the body ends there). */
static bool emit(struct conn *c, const char *p, size_t n)
{
    bool more = true;

    if (c->limit != UINT64_MAX && c->body_sent + n >= c->limit) {
        n = (size_t)(c->limit - c->body_sent);
        more = false;
        c->produced_all = true;
        c->ending = c->limit_ending;
    }
    if (n > 0) {
        if (c->chunked)
            lx_buf_appendf(&c->out, "%zx\r\n", n);
        lx_buf_append(&c->out, p, n);
        if (c->chunked)
            lx_buf_append_cstr(&c->out, "\r\n");
    }
    c->body_sent += n;
    return more;
}

static void emit_event(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_event(struct conn *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    if (c->produced_all)
        return;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        emit(c, tmp, LX_MIN((size_t)n, sizeof(tmp) - 1));
}

/* One tick of a paced token stream: tick 0 is the role chunk, tick k (1..N) the k-th token;
 * the last tick also carries the final chunk, the usage chunk and [DONE]. Each token's text
 * is its number, so a client can check order ("1 ", "2 ", ...). */
static void token_tick(struct conn *c, uint64_t k)
{
    const char *obj = c->completions ? "text_completion" : "chat.completion.chunk";
    long long created;

    if (c->proto != MP_OPENAI) {
        lx_buf_reset(&c->tickb);
        mock_proto_tick(&c->tickb, c->proto, k, c->n_tokens, c->id, c->model);
        if (!c->produced_all)
            emit(c, c->tickb.ptr, c->tickb.len);
        if (k >= c->n_tokens)
            c->produced_all = true;
        return;
    }
    created = (long long)time(NULL);

    if (k == 0 && !c->completions)
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"system_fingerprint\":\"fp_mockllm\",\"choices\":[{\"index\":0,\"delta\":"
                   "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                   "\"finish_reason\":null}]}\n\n",
                   c->id, obj, created, c->model);
    if (k >= 1 && c->completions)
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"choices\":[{\"text\":\"%llu \",\"index\":0,\"logprobs\":null,"
                   "\"finish_reason\":null}]}\n\n",
                   c->id, obj, created, c->model, (unsigned long long)k);
    else if (k >= 1)
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"system_fingerprint\":\"fp_mockllm\",\"choices\":[{\"index\":0,\"delta\":"
                   "{\"content\":\"%llu \"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                   c->id, obj, created, c->model, (unsigned long long)k);
    if (k < c->n_tokens)
        return;
    if (c->completions)
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,"
                   "\"finish_reason\":\"stop\"}]}\n\n",
                   c->id, obj, created, c->model);
    else
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"system_fingerprint\":\"fp_mockllm\",\"choices\":[{\"index\":0,\"delta\":"
                   "{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
                   c->id, obj, created, c->model);
    if (c->include_usage)
        emit_event(c,
                   "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                   "\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":%llu,"
                   "\"total_tokens\":%llu}}\n\n",
                   c->id, obj, created, c->model, (unsigned long long)c->n_tokens,
                   (unsigned long long)(c->n_tokens + 19));
    emit_event(c, "data: [DONE]\n\n");
    c->produced_all = true;
}

/* Sends the next piece of a fixed body (all of it, one event, or one drip). */
static void fixed_tick(struct conn *c)
{
    struct lx_str rest = lx_str_sub(c->src, c->src_off, c->src.len);
    size_t n = rest.len;

    if (c->drip > 0)
        n = (size_t)LX_MIN((uint64_t)rest.len, c->drip);
    else if (c->events)
        n = mock_next_event(rest, c->sep);
    c->src_off += n;
    if (emit(c, rest.ptr, n) && c->src_off >= c->src.len)
        c->produced_all = true;
}

/* Produces every piece due now, then either arms the timer for the next one or, once the
 * body is complete, frames its end. Pieces are due at t0 + k * interval (deadline pacing:
 * the time spent writing never stretches the stream). */
static void produce(struct conn *c)
{
    uint64_t now = lx_now_mono_ns();
    bool was_done = c->produced_all;

    while (!c->produced_all) {
        if (c->interval > 0 && c->t0 + c->tick * c->interval > now) {
            timer_set(c, c->t0 + c->tick * c->interval);
            break;
        }
        if (c->tokens_mode)
            token_tick(c, c->tick);
        else
            fixed_tick(c);
        c->tick++;
    }
    if (c->produced_all && !was_done && c->chunked && c->ending != END_TRUNCATE &&
        c->ending != END_RESET)
        lx_buf_append_cstr(&c->out, "0\r\n\r\n");
    flush_out(c);
}

/* Head now, then the body through produce(). */
static void start_send(struct conn *c)
{
    c->state = C_SEND;
    c->t0 = lx_now_mono_ns();
    c->tick = 0;
    if (c->plan.status == 0) {
        lx_buf_append_str(&c->out, c->src);
        c->produced_all = true;
        flush_out(c);
        return;
    }
    write_head(c);
    produce(c);
}

/* The behaviour spec in a body's "model": "…mock:<spec>" or "…mockx-<hex>" (a byte search,
 * like stream detection: the mock trusts its clients). False when the model is no mock one. */
static bool model_spec(struct lx_str body, char *hexbuf, size_t hexcap, struct lx_str *spec)
{
    long at = mock_json_find(body, "model");
    struct lx_str rest;
    long end;

    if (at < 0)
        return false;
    rest = lx_str_sub(body, (size_t)at, body.len);
    if (rest.len == 0 || rest.ptr[0] != '"')
        return false;
    rest = lx_str_sub(rest, 1, LX_MIN(rest.len - 1, (size_t)512));
    end = lx_str_find_char(rest, '"');
    if (end < 0)
        return false;
    return mock_model_items(lx_str_sub(rest, 0, (size_t)end), hexbuf, hexcap, spec);
}

/* Counts a request under its path (GET /mock/stats). At most 4096 distinct paths are kept;
 * more are counted under "(other)". */
static void stats_count(struct lx_str path)
{
    g.requests++;
    for (size_t i = 0; i < g.stats_n; i++) {
        if (g.stats[i].len == path.len && memcmp(g.stats[i].path, path.ptr, path.len) == 0) {
            g.stats[i].n++;
            return;
        }
    }
    if (g.stats_n >= 4096) {
        path = LX_STR("(other)");
        for (size_t i = 0; i < g.stats_n; i++)
            if (g.stats[i].len == path.len && memcmp(g.stats[i].path, path.ptr, path.len) == 0) {
                g.stats[i].n++;
                return;
            }
    }
    if (g.stats_n == g.stats_cap) {
        g.stats_cap = g.stats_cap ? 2 * g.stats_cap : 32;
        g.stats = lx_xrealloc(g.stats, g.stats_cap * sizeof(*g.stats));
    }
    g.stats[g.stats_n].path = lx_xmalloc(path.len + 1);
    memcpy(g.stats[g.stats_n].path, path.ptr, path.len);
    g.stats[g.stats_n].path[path.len] = '\0';
    g.stats[g.stats_n].len = path.len;
    g.stats[g.stats_n].n = 1;
    g.stats_n++;
}

static void stats_reset(void)
{
    for (size_t i = 0; i < g.stats_n; i++)
        free(g.stats[i].path);
    g.stats_n = 0;
    g.requests = 0;
    mock_keys_stats_reset();
}

static void stats_body(struct conn *c)
{
    lx_buf_append_cstr(&c->gen, "{\"requests\":");
    append_u64(&c->gen, g.requests);
    lx_buf_append_cstr(&c->gen, ",\"by_path\":{");
    for (size_t i = 0; i < g.stats_n; i++) {
        lx_buf_append_cstr(&c->gen, i ? ",\"" : "\"");
        lx_json_escape(&c->gen, lx_str_make(g.stats[i].path, g.stats[i].len));
        lx_buf_append_cstr(&c->gen, "\":");
        append_u64(&c->gen, g.stats[i].n);
    }
    lx_buf_append_char(&c->gen, '}');
    if (mock_keys_counted()) /* absent until a key is seen: older tests compare it whole */
        mock_keys_stats(&c->gen, lx_now_mono_ns());
    lx_buf_append_char(&c->gen, '}');
}

/* An error body in the shape of the request's protocol (OpenAI's for the OpenAI routes). */
static void proto_error(struct conn *c, unsigned status, const char *msg)
{
    lx_buf_reset(&c->xhdr);
    if (mock_proto_error(&c->gen, &c->xhdr, c->route.proto, status, msg, c->id, &c->opts))
        c->plan.extra = lx_buf_str(&c->xhdr);
    else
        mock_openai_error(&c->gen, status, msg, &c->opts);
}

/* The credential of the request, as a pool key: the value of Authorization (without "Bearer ";
 * for SigV4 the access key id of Credential=), x-api-key, x-goog-api-key or api-key, else a
 * key= query parameter. One pass over the headers; false when there is none. */
static bool request_key(const struct conn *c, struct lx_str query, struct lx_str *key)
{
    struct lx_str h = lx_buf_str(&c->hdrs);

    while (h.len > 0) {
        long nl = lx_str_find_char(h, '\n');
        struct lx_str line = lx_str_sub(h, 0, nl < 0 ? h.len : (size_t)nl);
        long colon = lx_str_find_char(line, ':');
        h = lx_str_sub(h, nl < 0 ? h.len : (size_t)nl + 1, h.len);
        if (colon < 0)
            continue;
        struct lx_str name = lx_str_sub(line, 0, (size_t)colon);
        struct lx_str v = lx_str_trim(lx_str_sub(line, (size_t)colon + 1, line.len));
        if (lx_str_eq_nocase(name, LX_STR("authorization"))) {
            const char *cred;
            if (v.len > 7 && lx_str_eq_nocase(lx_str_sub(v, 0, 7), LX_STR("Bearer ")))
                v = lx_str_trim(lx_str_sub(v, 7, v.len));
            else if (lx_str_starts_with(v, LX_STR("AWS4-")) &&
                     (cred = memmem(v.ptr, v.len, "Credential=", 11)) != NULL) {
                v = lx_str_sub(v, (size_t)(cred - v.ptr) + 11, v.len);
                long slash = lx_str_find_char(v, '/');
                v = lx_str_sub(v, 0, slash < 0 ? v.len : (size_t)slash);
            }
        } else if (!lx_str_eq_nocase(name, LX_STR("x-api-key")) &&
                   !lx_str_eq_nocase(name, LX_STR("x-goog-api-key")) &&
                   !lx_str_eq_nocase(name, LX_STR("api-key"))) {
            continue;
        }
        if (v.len == 0)
            continue;
        *key = v;
        return true;
    }
    while (query.len > 0) { /* "?a=b&key=K" */
        long amp = lx_str_find_char(query, '&');
        struct lx_str kv = lx_str_sub(query, 0, amp < 0 ? query.len : (size_t)amp);
        query = lx_str_sub(query, amp < 0 ? query.len : (size_t)amp + 1, query.len);
        if (kv.len > 4 && lx_str_starts_with(kv, LX_STR("key="))) {
            *key = lx_str_sub(kv, 4, kv.len);
            return true;
        }
    }
    return false;
}

static bool json_false(struct lx_str body, const char *key)
{
    long p = mock_json_find(body, key);
    return p >= 0 && (size_t)p + 5 <= body.len && memcmp(body.ptr + p, "false", 5) == 0;
}

/* /mock/keys: POST sets scripts, DELETE clears them, GET shows them. */
static void keys_route(struct conn *c, llhttp_method_t m, struct lx_str body)
{
    const char *why = NULL;
    uint64_t now_ms = lx_now_mono_ns() / NS_PER_MS;

    if (m == HTTP_POST && mock_keys_set(body, now_ms, &why)) {
        lx_buf_append_cstr(&c->gen, "{\"ok\":true}");
    } else if (m == HTTP_POST) {
        char msg[160];
        snprintf(msg, sizeof(msg), "mockllm: bad key scripts: %s", why);
        c->plan.status = 400;
        error_body(c, 400, msg);
    } else if (m == HTTP_DELETE) {
        mock_keys_clear();
        lx_buf_append_cstr(&c->gen, "{\"ok\":true}");
    } else if (m == HTTP_GET) {
        mock_keys_dump(&c->gen, now_ms);
    } else {
        c->plan.status = 405;
        error_body(c, 405, "mockllm: GET, POST or DELETE /mock/keys");
    }
}

/* The route and X-Mock decide the response: fills c->plan, c->src (c->gen or a cached
 * fixture) and the framing and pacing fields. */
static void build(struct conn *c)
{
    struct plan *pl = &c->plan;
    struct lx_buf tmp = LX_BUF_INIT(65536);
    struct lx_str url = lx_buf_str(&c->url);
    long q = lx_str_find_char(url, '?');
    struct lx_str path = q < 0 ? url : lx_str_sub(url, 0, (size_t)q);
    struct lx_str body = lx_buf_str(&c->body);
    llhttp_method_t m = (llhttp_method_t)c->parser.method;
    const char *why = NULL;
    bool echo = false, bad = false, routed = false, scripted = false;
    int listing = -1; /* a GET of a list endpoint: its protocol (list_route) */
    struct lx_str key, kspec = LX_STR_NULL;

    *pl = (struct plan){.status = 200, .ctype = "application/json", .extra = LX_STR("")};
    mock_opts_init(&c->opts);
    lx_buf_reset(&c->gen);
    c->src = LX_STR_NULL;
    c->src_off = 0;
    c->events = false;
    c->sep = 0;
    c->drip = 0;
    c->interval = 0;
    c->chunked = c->tokens_mode = c->include_usage = c->completions = c->produced_all = false;
    c->body_sent = 0;
    c->limit = UINT64_MAX;
    c->ending = llhttp_should_keep_alive(&c->parser) ? END_KEEP : END_CLOSE;
    c->proto = MP_OPENAI;
    make_id(c);

    /* The OpenAI routes first and cheaply (the benchmark's hot path), then the others. */
    if (lx_str_eq(path, LX_STR("/v1/chat/completions")) ||
        lx_str_eq(path, LX_STR("/v1/completions")) || lx_str_eq(path, LX_STR("/v1/embeddings"))) {
        c->route.proto = MP_OPENAI;
        c->route.op = MO_NONE;
        c->route.model[0] = '\0';
    } else if (lx_str_eq(path, LX_STR("/mock/keys"))) {
        memset(&c->route, 0, sizeof(c->route));
        c->route.proto = MP_OPENAI;
        c->route.op = MO_KEYS;
    } else {
        routed = mock_route_match(path, m == HTTP_POST, &c->route);
        if (!routed && m == HTTP_GET && (listing = list_route(path)) >= 0)
            c->route.proto = (enum mock_proto)listing;
    }
    if (c->route.op != MO_STATS && c->route.op != MO_RESET && c->route.op != MO_KEYS) {
        stats_count(path);
        if (request_key(c, q < 0 ? LX_STR_NULL : lx_str_sub(url, (size_t)q + 1, url.len), &key)) {
            uint64_t now = lx_now_mono_ns();
            mock_keys_count(key, path, now);
            scripted = mock_keys_next(key, now / NS_PER_MS, &kspec);
        }
    }
    if (c->route.proto == MP_ANTHROPIC || c->route.proto == MP_BEDROCK_INVOKE) {
        char anth[48];
        snprintf(anth, sizeof(anth), "msg_mock%s", c->id + 13); /* Anthropic's id style */
        memcpy(c->id, anth, sizeof(c->id));
    }

    if (header_get(c, LX_STR("x-mock"), &tmp)) {
        bad = !mock_opts_parse(&c->opts, lx_buf_str(&tmp), &why);
    } else {
        /* Through a gateway, which forwards no X-Mock header, the model name carries the
         * behaviour: "model": "mock:<X-Mock items>", with "echo" as one more item. The model
         * of a path (Gemini, Bedrock, Workers AI, an Azure deployment) can carry it too. */
        struct lx_str spec = kspec;
        bool have = (scripted && kspec.len > 0) ||
                    model_spec(body, c->hexspec, sizeof(c->hexspec), &spec) ||
                    mock_model_items(lx_str_cstr(c->route.model), c->hexspec,
                                     sizeof(c->hexspec), &spec);

        if (have) {
            if (lx_str_starts_with(spec, LX_STR("echo"))) {
                echo = true;
                spec = lx_str_sub(spec, 4, spec.len);
                while (spec.len && (spec.ptr[0] == ',' || spec.ptr[0] == ';' || spec.ptr[0] == ' '))
                    spec = lx_str_sub(spec, 1, spec.len);
            }
            bad = spec.len > 0 && !mock_opts_parse(&c->opts, spec, &why);
        }
    }
    lx_buf_reset(&tmp);
    echo = echo ||
           (header_get(c, LX_STR("x-mock-echo"), &tmp) && lx_str_eq(lx_buf_str(&tmp), LX_STR("1")));
    lx_buf_release(&tmp);
    if (bad) {
        char msg[160];
        mock_opts_init(&c->opts);
        pl->status = 400;
        snprintf(msg, sizeof(msg), "mockllm: bad X-Mock header: %s", why);
        proto_error(c, 400, msg);
        goto fixed;
    }
    if (c->opts.close)
        c->ending = END_CLOSE;
    if (c->opts.truncate != MOCK_NO_VALUE) {
        c->limit = c->opts.truncate;
        c->limit_ending = END_TRUNCATE;
    } else if (c->opts.reset_after != MOCK_NO_VALUE) {
        c->limit = c->opts.reset_after;
        c->limit_ending = END_RESET;
    }
    if (c->opts.drip_bytes > 0) {
        c->drip = c->opts.drip_bytes;
        c->interval = c->opts.drip_ms * NS_PER_MS;
    }
    pick_model(c);

    if (c->opts.fixture[0] != '\0') {
        const struct mock_fixture *fx = mock_fixture_get(g.fixtures, c->opts.fixture);
        if (fx == NULL) {
            pl->status = 404;
            proto_error(c, 404, "mockllm: unknown fixture");
            goto fixed;
        }
        c->src = fx->body;
        if (fx->raw_http) {
            c->ending = END_CLOSE; /* recorded heads carry no length: the close ends it */
            pl->status = 0;
            return;
        }
        pl->status = c->opts.status ? c->opts.status : fx->status;
        pl->ctype = fx->content_type;
        pl->extra = fx->headers;
        c->chunked = fx->streaming;
        c->sep = fx->sep;
        if (c->opts.chunk_ms != MOCK_NO_VALUE && c->drip == 0) {
            c->events = true;
            c->interval = c->opts.chunk_ms * NS_PER_MS;
        }
        return;
    }
    if (echo) {
        echo_body(c);
        pl->status = c->opts.status ? c->opts.status : 200;
        goto fixed;
    }
    if (c->route.op == MO_STATS) {
        stats_body(c);
        goto fixed;
    }
    if (c->route.op == MO_RESET) {
        stats_reset();
        lx_buf_append_cstr(&c->gen, "{\"ok\":true}");
        goto fixed;
    }
    if (c->route.op == MO_KEYS) {
        keys_route(c, m, body);
        goto fixed;
    }
    if (c->opts.status == 0)
        c->opts.status = mock_error_status(c->route.proto, &c->opts);
    if (c->opts.status >= 300) {
        pl->status = c->opts.status;
        proto_error(c, pl->status, "mockllm: status requested by X-Mock");
        goto fixed;
    }
    pl->status = c->opts.status ? c->opts.status : 200;
    bool forced = c->opts.stream || c->opts.tokens != MOCK_NO_VALUE ||
                  c->opts.token_ms != MOCK_NO_VALUE;
    if (routed && c->route.proto != MP_OPENAI) {
        const struct mock_route *r = &c->route;
        bool stream = false;
        if (r->op == MO_CHAT) {
            switch (r->proto) {
            case MP_GEMINI:
            case MP_BEDROCK:
            case MP_BEDROCK_INVOKE: stream = r->stream; break;
            case MP_OLLAMA: stream = !json_false(body, "stream"); break;
            case MP_ANTHROPIC: stream = r->stream || json_true(body, "stream"); break;
            default: stream = json_true(body, "stream"); break;
            }
            stream = stream || forced;
        }
        if (stream) {
            c->proto = r->proto;
            c->tokens_mode = true;
            c->chunked = true;
            c->n_tokens = c->opts.tokens != MOCK_NO_VALUE ? c->opts.tokens : g.tokens;
            if (c->drip == 0)
                c->interval = (c->opts.token_ms != MOCK_NO_VALUE ? c->opts.token_ms
                                                                 : g.token_ms) *
                              NS_PER_MS;
            pl->ctype = mock_proto_stream_ctype(r->proto);
            pl->extra = LX_STR("Cache-Control: no-cache\r\n");
            return;
        }
        mock_proto_body(&c->gen, r, c->id, c->model, body);
        goto fixed;
    }
    bool chat = lx_str_eq(path, LX_STR("/v1/chat/completions")) ||
                (routed && c->route.op == MO_CHAT);
    bool compl = lx_str_eq(path, LX_STR("/v1/completions")) ||
                 (routed && c->route.op == MO_COMPLETIONS);
    if (m == HTTP_POST && (chat || compl)) {
        bool stream = forced || json_true(body, "stream");
        c->completions = compl;
        if (stream) {
            c->tokens_mode = true;
            c->chunked = true;
            c->include_usage = json_true(body, "include_usage");
            c->n_tokens = c->opts.tokens != MOCK_NO_VALUE ? c->opts.tokens : g.tokens;
            if (c->drip == 0)
                c->interval = (c->opts.token_ms != MOCK_NO_VALUE ? c->opts.token_ms
                                                                 : g.token_ms) *
                              NS_PER_MS;
            pl->ctype = "text/event-stream";
            pl->extra = LX_STR("Cache-Control: no-cache\r\n");
            return;
        }
        if (chat)
            chat_body(c);
        else
            completion_body(c);
    } else if (m == HTTP_POST && (lx_str_eq(path, LX_STR("/v1/embeddings")) ||
                                  (routed && c->route.op == MO_EMBED))) {
        embeddings_body(c);
    } else if (m == HTTP_GET && lx_str_eq(path, LX_STR("/v1/models"))) {
        models_body(c);
    } else if (listing >= 0) {
        list_body(c, listing);
    } else if (m == HTTP_GET && lx_str_eq(path, LX_STR("/health"))) {
        lx_buf_append_cstr(&c->gen, "{\"status\":\"ok\"}");
    } else {
        pl->status = 404;
        error_body(c, 404, "mockllm: no such route");
    }
fixed:
    c->src = lx_buf_str(&c->gen);
}

/* A complete request was parsed: decide, then answer now or after the delay. */
static void dispatch(struct conn *c)
{
    uint64_t delay;

    build(c);
    if (c->opts.reset) {
        conn_reset(c);
        return;
    }
    if (c->opts.hang) {
        c->state = C_HANG;
        return;
    }
    delay = (g.latency_ms + c->opts.delay_ms) * NS_PER_MS;
    if (delay > 0) {
        c->state = C_DELAY;
        timer_set(c, lx_now_mono_ns() + delay);
        return;
    }
    start_send(c);
}

/* The response is written out. Keep the connection, close it cleanly or abort it. */
static void complete(struct conn *c)
{
    switch (c->ending) {
    case END_KEEP:
        c->state = C_READ;
        if (!c->reading) {
            c->reading = true;
            set_events(c);
        }
        if (c->gen.cap > 65536)
            lx_buf_release(&c->gen);
        if (c->body.cap > 65536)
            lx_buf_release(&c->body);
        process_input(c);
        return;
    case END_RESET:
        c->state = C_DRAIN;
        c->t0 = lx_now_mono_ns();
        timer_set(c, c->t0); /* poll SIOCOUTQ until the kernel has sent everything */
        return;
    case END_CLOSE:
    case END_TRUNCATE:
        /* FIN, then wait for the client's: closing with unread input would send a RST */
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        if (c->peer_eof) {
            conn_kill(c);
            return;
        }
        if (!c->reading) {
            c->reading = true;
            set_events(c);
        }
        timer_set(c, lx_now_mono_ns() + LINGER_NS);
        return;
    }
}

static void flush_out(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                c->want_out = true;
                set_events(c);
            }
            return;
        }
        conn_kill(c); /* EPIPE, ECONNRESET: the client is gone */
        return;
    }
    if (c->out.len > 0) {
        c->out_off = 0;
        if (c->out.cap > 262144)
            lx_buf_release(&c->out);
        else
            lx_buf_reset(&c->out);
    }
    if (c->want_out) {
        c->want_out = false;
        set_events(c);
    }
    if (c->state == C_SEND && c->produced_all)
        complete(c);
}

static void answer_error_and_close(struct conn *c, unsigned status, const char *msg)
{
    lx_buf_reset(&c->gen);
    error_body(c, status, msg);
    c->src = lx_buf_str(&c->gen);
    c->plan = (struct plan){.status = status, .ctype = "application/json", .extra = LX_STR("")};
    c->chunked = c->tokens_mode = c->produced_all = false;
    c->events = false;
    c->drip = c->interval = 0;
    c->src_off = 0;
    c->body_sent = 0;
    c->limit = UINT64_MAX;
    c->ending = END_CLOSE;
    c->opts.retry_after = MOCK_NO_VALUE;
    make_id(c);
    start_send(c);
}

/* Parses buffered input while the connection is waiting for a request. One request at a
 * time: on_message_complete pauses the parser, the rest waits until the answer is out. */
static void process_input(struct conn *c)
{
    if (c->parsing)
        return; /* the caller's loop picks up the next request */
    c->parsing = true;
    while (!c->dead && c->state == C_READ && c->in_off < c->in.len) {
        const char *start = c->in.ptr + c->in_off;
        llhttp_errno_t e = llhttp_execute(&c->parser, start, c->in.len - c->in_off);

        if (e == HPE_OK) {
            c->in_off = c->in.len;
        } else if (e == HPE_PAUSED) {
            c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - start);
            llhttp_resume(&c->parser);
            dispatch(c);
        } else {
            c->in_off = c->in.len;
            answer_error_and_close(c, c->too_big ? 413 : 400,
                                   c->too_big ? "mockllm: body too large"
                                              : "mockllm: malformed request");
        }
    }
    c->parsing = false;
    if (!c->dead && c->in_off == c->in.len && c->in.len > 0) {
        c->in_off = 0;
        if (c->in.cap > 262144)
            lx_buf_release(&c->in);
        else
            lx_buf_reset(&c->in);
    }
    if (!c->dead && c->state == C_READ && c->peer_eof)
        conn_kill(c);
}

/* Reads what the client sent. Input is parsed as it arrives (so a large body never has to fit
 * in c->in); while an answer is in progress it is kept for later, up to MAX_IN, and reading
 * stops when that is full (complete() resumes it). */
static void on_readable(struct conn *c)
{
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        if (lx_buf_grow(&c->in, 65536) != 0) {
            c->reading = false;
            set_events(c);
            break;
        }
        size_t room = LX_MIN((size_t)65536, c->in.cap - c->in.len - 1);
        ssize_t n = read(c->fd, c->in.ptr + c->in.len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            conn_kill(c);
            return;
        }
        if (n == 0) {
            c->peer_eof = true;
            c->reading = false;
            set_events(c);
            if (c->state == C_HANG || c->state == C_LINGER || c->state == C_DELAY ||
                c->state == C_DRAIN)
                conn_kill(c);
            break;
        }
        c->in.len += (size_t)n;
        c->in.ptr[c->in.len] = '\0';
        if (c->state == C_LINGER || c->state == C_HANG) {
            lx_buf_reset(&c->in); /* nobody will parse it */
            c->in_off = 0;
        } else if (c->state == C_READ) {
            process_input(c);
        }
        if ((size_t)n < room)
            break;
    }
    if (!c->dead)
        process_input(c);
}

static void on_timer(struct conn *c)
{
    int outq = 0;

    switch (c->state) {
    case C_DELAY:
        start_send(c);
        break;
    case C_SEND:
        produce(c);
        break;
    case C_DRAIN:
        if (ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq > 0 &&
            lx_now_mono_ns() - c->t0 < RST_WAIT_NS) {
            timer_set(c, lx_now_mono_ns() + NS_PER_MS);
            break;
        }
        conn_reset(c);
        break;
    case C_LINGER:
        conn_kill(c);
        break;
    default:
        break;
    }
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "{\"msg\":\"accept: out of file descriptors\"}\n");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = lx_xcalloc(1, sizeof(*c));
        c->fd = fd;
        c->heap_idx = SIZE_MAX;
        c->reading = true;
        lx_buf_init(&c->in, MAX_IN);
        lx_buf_init(&c->url, 65536);
        lx_buf_init(&c->hdrs, 256 * 1024);
        lx_buf_init(&c->body, MAX_BODY);
        lx_buf_init(&c->out, 64u << 20);
        lx_buf_init(&c->gen, 32u << 20);
        lx_buf_init(&c->xhdr, 4096);
        lx_buf_init(&c->tickb, 1u << 20);
        llhttp_init(&c->parser, HTTP_REQUEST, &g.settings);
        c->parser.data = c;
        c->next = g.all;
        if (g.all)
            g.all->prev = c;
        g.all = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            conn_kill(c);
    }
}

static void on_signal(int sig)
{
    (void)sig;
    g.stop = 1;
}

static int parse_listen(const char *arg, struct sockaddr_in *sa)
{
    const char *colon = strrchr(arg, ':');
    char host[64];
    uint64_t port;

    if (colon == NULL || (size_t)(colon - arg) >= sizeof(host))
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    if (lx_str_to_u64(lx_str_cstr(colon + 1), &port) != 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa->sin_addr) == 1 ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    return lx_str_to_u64(lx_str_cstr(s), out);
}

static void usage(void)
{
    fprintf(stderr, "usage: mockllm --listen HOST:PORT [--fixtures DIR] [--latency-ms MS]\n"
                    "               [--tokens N] [--token-ms D]\n"
                    "Behaviour per request: the X-Mock header (tests/mock/README.md).\n");
}

int main(int argc, char **argv)
{
    const char *listen_arg = "127.0.0.1:0";
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    struct epoll_event events[256];
    int one = 1;

    g.tokens = 20;
    g.token_ms = 20;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = v == NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (!bad && strcmp(a, "--listen") == 0)
            listen_arg = v;
        else if (!bad && strcmp(a, "--fixtures") == 0)
            g.fixtures = v;
        else if (!bad && strcmp(a, "--latency-ms") == 0)
            bad = parse_u64(v, &g.latency_ms) != 0;
        else if (!bad && strcmp(a, "--tokens") == 0)
            bad = parse_u64(v, &g.tokens) != 0;
        else if (!bad && strcmp(a, "--token-ms") == 0)
            bad = parse_u64(v, &g.token_ms) != 0;
        else
            bad = 1;
        if (bad) {
            usage();
            return 2;
        }
    }
    if (parse_listen(listen_arg, &sa) != 0) {
        fprintf(stderr, "mockllm: bad --listen %s\n", listen_arg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    llhttp_settings_init(&g.settings);
    g.settings.on_message_begin = on_message_begin;
    g.settings.on_url = on_url;
    g.settings.on_header_field = on_header_field;
    g.settings.on_header_field_complete = on_header_field_complete;
    g.settings.on_header_value = on_header_value;
    g.settings.on_header_value_complete = on_header_value_complete;
    g.settings.on_body = on_body;
    g.settings.on_message_complete = on_message_complete;

    g.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (g.lfd < 0 || bind(g.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(g.lfd, 4096) != 0 || getsockname(g.lfd, (struct sockaddr *)&sa, &salen) != 0) {
        fprintf(stderr, "mockllm: cannot listen on %s: %s\n", listen_arg, strerror(errno));
        return 1;
    }
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &lev);
    printf("{\"listening\":%u}\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);

    while (!g.stop) {
        struct timespec ts, *tsp = NULL;
        if (g.heap_n > 0) {
            uint64_t now = lx_now_mono_ns(), due = g.heap[0]->due;
            uint64_t wait = due > now ? due - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000ull);
            ts.tv_nsec = (long)(wait % 1000000000ull);
            tsp = &ts;
        }
        int n = epoll_pwait2(g.ep, events, (int)LX_ARRAY_SIZE(events), tsp, NULL);
        if (n < 0 && errno != EINTR) {
            perror("epoll_pwait2");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                on_accept();
                continue;
            }
            if (c->dead)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
            if (!c->dead && (events[i].events & EPOLLOUT))
                flush_out(c);
        }
        uint64_t now = lx_now_mono_ns();
        while (g.heap_n > 0 && g.heap[0]->due <= now) {
            struct conn *c = g.heap[0];
            timer_clear(c);
            on_timer(c);
        }
        reap();
    }
    while (g.all) {
        conn_kill(g.all);
        reap();
    }
    free(g.heap);
    stats_reset();
    mock_keys_clear();
    free(g.stats);
    close(g.ep);
    close(g.lfd);
    return 0;
}
