/* sse_speed.c - times the SSE parser and NDJSON splitter on OpenAI-, Anthropic- and
 * NDJSON-shaped input (ns per event and MB/s). Reproduces the figures in docs/internals/sse.md:
 * make BUILD=build bench/... then build/bench/sse_speed. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/buf.h"
#include "core/err.h"
#include "sse/sse.h"
#include "sse/ndjson.h"
static int cb(void *ctx, const struct lx_sse_event *ev) { *(size_t *)ctx += ev->data.len; return 0; }
static int lcb(void *ctx, struct lx_str l) { *(size_t *)ctx += l.len; return 0; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void)
{
    const char *ev = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the\"}}]}\n\n";
    size_t evlen = strlen(ev), sum = 0;
    struct lx_sse_parser p;
    int N = 5000000;
    lx_sse_init(&p, 1 << 20);
    double t = now();
    for (int i = 0; i < N; i++) lx_sse_feed(&p, lx_str_make(ev, evlen), cb, &sum);
    double d = now() - t;
    printf("one event per chunk (%zu B): %.1f ns/event, %.0f MB/s\n", evlen, d / N * 1e9, N * evlen / d / 1e6);
    /* 64 events per chunk, read sized 4 KiB-ish, cut in arbitrary places */
    static char big[1 << 20]; size_t bl = 0;
    while (bl + evlen < sizeof(big)) { memcpy(big + bl, ev, evlen); bl += evlen; }
    size_t nev = bl / evlen; int R = 200;
    t = now();
    for (int r = 0; r < R; r++)
        for (size_t off = 0; off < bl; off += 4000) {
            size_t n = bl - off < 4000 ? bl - off : 4000;
            lx_sse_feed(&p, lx_str_make(big + off, n), cb, &sum);
        }
    d = now() - t;
    printf("4000-byte reads: %.1f ns/event, %.0f MB/s\n", d / (nev * R) * 1e9, bl * (double)R / d / 1e6);
    const char *crlf = "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" the\"}}\r\n\r\n";
    size_t cl = strlen(crlf);
    t = now();
    for (int i = 0; i < N; i++) lx_sse_feed(&p, lx_str_make(crlf, cl), cb, &sum);
    d = now() - t;
    printf("anthropic-style CRLF event per chunk (%zu B): %.1f ns/event\n", cl, d / N * 1e9);
    struct lx_ndjson s; lx_ndjson_init(&s, 1 << 20);
    const char *nd = "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\" the\"},\"done\":false}\n";
    size_t nl = strlen(nd);
    t = now();
    for (int i = 0; i < N; i++) lx_ndjson_feed(&s, lx_str_make(nd, nl), lcb, &sum);
    d = now() - t;
    printf("ndjson line per chunk: %.1f ns/line\n", d / N * 1e9);
    printf("(%zu)\n", sum);
    lx_sse_release(&p); lx_ndjson_release(&s);
    return 0;
}
