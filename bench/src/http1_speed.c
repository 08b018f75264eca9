/* http1_speed.c - cost of the inbound HTTP/1.1 parser (server/http1.c) per request: a typical
 * ~400-byte POST head with a 2 KiB JSON body, parsed over and over on one keep-alive parser,
 * fed whole and fed in 1460-byte pieces (TCP segments). For scale, the same bytes go through
 * bare llhttp (strict build, no callbacks doing work). Single-threaded; prints ns/request.
 * Run: make BUILD=build MODULES="core server" build/bench/http1_speed && build/bench/http1_speed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llhttp.h>

#include "core/err.h"
#include "server/http1.h"

static char req[4096];
static size_t req_len;
static size_t body_seen;

static int on_body(void *ctx, struct lx_str chunk)
{
    body_seen += chunk.len;
    return LX_OK;
}

static int on_complete(void *ctx, const struct lx_http1_head *h)
{
    (*(unsigned long *)ctx)++;
    return LX_OK;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run_lx(unsigned long iters, size_t piece)
{
    static const struct lx_http1_cbs cbs = {.on_body = on_body, .on_complete = on_complete};
    unsigned long done = 0;
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &done);
    double t0 = now();

    for (unsigned long i = 0; i < iters; i++) {
        for (size_t off = 0; off < req_len;) {
            size_t n = req_len - off < piece ? req_len - off : piece, used;

            if (lx_http1_feed(p, req + off, n, &used) != LX_OK)
                abort();
            off += used;
        }
    }
    double t = now() - t0;
    if (done != iters)
        abort();
    lx_http1_free(p);
    return t / (double)iters;
}

static int ll_on_complete(llhttp_t *ll)
{
    (*(unsigned long *)ll->data)++;
    return 0;
}

static int ll_on_body(llhttp_t *ll, const char *at, size_t n)
{
    body_seen += n;
    return 0;
}

static double run_llhttp(unsigned long iters)
{
    llhttp_settings_t s;
    llhttp_t ll;
    unsigned long done = 0;

    llhttp_settings_init(&s);
    s.on_message_complete = ll_on_complete;
    s.on_body = ll_on_body;
    llhttp_init(&ll, HTTP_REQUEST, &s);
    ll.data = &done;
    double t0 = now();
    for (unsigned long i = 0; i < iters; i++)
        if (llhttp_execute(&ll, req, req_len) != HPE_OK)
            abort();
    double t = now() - t0;
    if (done != iters)
        abort();
    return t / (double)iters;
}

int main(int argc, char **argv)
{
    unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 500000;
    char body[2048];
    int n;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = "abcdefghijklmnopqrstuvwxyz"[i % 26];
    memcpy(body, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"", 57);
    memcpy(body + sizeof(body) - 4, "\"}]}", 4);
    n = snprintf(req, sizeof(req),
                 "POST /v1/chat/completions?api-version=2024-06-01 HTTP/1.1\r\n"
                 "Host: gateway.internal.example.com:8080\r\n"
                 "User-Agent: OpenAI/Python 1.35.3\r\n"
                 "Accept: application/json\r\n"
                 "Accept-Encoding: gzip, deflate\r\n"
                 "Content-Type: application/json\r\n"
                 "Authorization: Bearer sk-llmux-0123456789abcdef0123456789abcdef0123\r\n"
                 "X-Request-Id: 6f1c2a9e-4b7d-4e8a-9c3f-2d5e8b1a7c40\r\n"
                 "Connection: keep-alive\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 sizeof(body));
    memcpy(req + n, body, sizeof(body));
    req_len = (size_t)n + sizeof(body);

    /* the best of 5 rounds: the machine is shared, and noise only ever adds time */
    double whole = 1e18, seg = 1e18, ll = 1e18;
    run_lx(iters / 10, req_len); /* warm up */
    for (int round = 0; round < 5; round++) {
        double a = run_lx(iters, req_len), b = run_lx(iters, 1460), c = run_llhttp(iters);

        whole = a < whole ? a : whole;
        seg = b < seg ? b : seg;
        ll = c < ll ? c : ll;
    }
    printf("head %d bytes + body %zu bytes, %lu iterations, best of 5\n", n, sizeof(body), iters);
    printf("lx_http1 whole:        %7.1f ns/request\n", whole);
    printf("lx_http1 1460-byte:    %7.1f ns/request\n", seg);
    printf("llhttp alone (strict): %7.1f ns/request\n", ll);
    return body_seen == 0;
}
