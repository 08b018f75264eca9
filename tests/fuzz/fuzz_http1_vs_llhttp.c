/* fuzz_http1_vs_llhttp.c - differential fuzzing of our inbound parser against llhttp (Debian's
 * node-llhttp, strict mode). Our parser is stricter by policy (corpus/http/README.md), so only
 * inputs that both accept whole are compared: then the number of requests and every body byte
 * must agree. llhttp cannot be the inbound parser itself (it refuses token methods such as
 * MKCOLA and chunk-extension whitespace the policy accepts: docs/internals/http1.md), but it is
 * the reference for what a well-known parser makes of the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <llhttp.h>

#include "core/err.h"
#include "server/http1.h"

struct seen {
    int requests;
    uint64_t body_bytes;
    uint64_t hash; /* FNV-1a over bodies and message boundaries */
};

static void mix(struct seen *s, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        s->hash = (s->hash ^ b[i]) * 1099511628211u;
}

static int lx_on_body(void *ctx, struct lx_str chunk)
{
    struct seen *s = ctx;

    s->body_bytes += chunk.len;
    mix(s, chunk.ptr, chunk.len);
    return LX_OK;
}

static int lx_on_complete(void *ctx, const struct lx_http1_head *head)
{
    struct seen *s = ctx;

    s->requests++;
    mix(s, "|", 1);
    return head->keep_alive ? LX_OK : LX_EPAUSE; /* the server closes after this one */
}

static int ll_on_body(llhttp_t *p, const char *at, size_t n)
{
    struct seen *s = p->data;

    s->body_bytes += n;
    mix(s, at, n);
    return 0;
}

static int ll_on_complete(llhttp_t *p)
{
    struct seen *s = p->data;

    s->requests++;
    mix(s, "|", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct lx_http1_cbs cbs = {NULL, lx_on_body, lx_on_complete};
    struct seen ours = {0, 0, 1469598103934665603u}, theirs = ours;
    struct lx_http1_parser *p = lx_http1_new(NULL, &cbs, &ours);
    llhttp_settings_t settings;
    llhttp_t ll;
    size_t used = 0;
    int rc;

    if (p == NULL)
        return 0;
    rc = lx_http1_feed(p, (const char *)data, size, &used);
    if (rc == LX_OK)
        rc = lx_http1_finish(p);
    lx_http1_free(p);
    if (rc != LX_OK)
        return 0; /* rejected, or closed early (EPAUSE): llhttp would read on */
    llhttp_settings_init(&settings);
    settings.on_body = ll_on_body;
    settings.on_message_complete = ll_on_complete;
    llhttp_init(&ll, HTTP_REQUEST, &settings);
    ll.data = &theirs;
    if (llhttp_execute(&ll, (const char *)data, size) != HPE_OK || llhttp_finish(&ll) != HPE_OK)
        return 0;
    if (ours.requests != theirs.requests || ours.body_bytes != theirs.body_bytes ||
        ours.hash != theirs.hash) {
        fprintf(stderr, "lx_http1: %d requests, %llu body bytes; llhttp: %d, %llu\n",
                ours.requests, (unsigned long long)ours.body_bytes, theirs.requests,
                (unsigned long long)theirs.body_bytes);
        abort();
    }
    return 0;
}
