/* buf.c - bounded buffers with sticky errors (buf.h). Any thread; one owner per buffer. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

char lx_buf_empty[1];

void lx_buf_init(struct lx_buf *b, size_t max)
{
    b->ptr = lx_buf_empty;
    b->len = b->cap = 0;
    b->max = max;
    b->err = LX_OK;
}

int lx_buf_grow(struct lx_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->err != LX_OK)
        return b->err;
    if (extra > b->max || b->len > b->max - extra) {
        b->err = LX_ETOOBIG;
        return b->err;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return LX_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    if (b->max < (size_t)-1 && cap > b->max + 1)
        cap = b->max + 1;
    p = lx_realloc(b->cap ? b->ptr : NULL, cap);
    if (p == NULL) {
        b->err = LX_ENOMEM;
        return b->err;
    }
    if (b->cap == 0)
        p[0] = '\0';
    b->ptr = p;
    b->cap = cap;
    return LX_OK;
}

int lx__buf_append_slow(struct lx_buf *b, const void *p, size_t n)
{
    if (lx_buf_grow(b, n) != LX_OK)
        return b->err;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return LX_OK;
}

int lx_buf_append_cstr(struct lx_buf *b, const char *s)
{
    return lx_buf_append(b, s, strlen(s));
}

size_t lx_u64_to_dec(char *d, uint64_t v)
{
    char t[LX_U64_DIGITS];
    size_t i = sizeof(t), n;

    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    n = sizeof(t) - i;
    memcpy(d, t + i, n);
    return n;
}

int lx_buf_append_u64(struct lx_buf *b, uint64_t v)
{
    char d[LX_U64_DIGITS];

    return lx_buf_append(b, d, lx_u64_to_dec(d, v));
}

int lx_buf_append_i64(struct lx_buf *b, int64_t v)
{
    if (v < 0) {
        lx_buf_append_char(b, '-');
        return lx_buf_append_u64(b, 0ull - (uint64_t)v);
    }
    return lx_buf_append_u64(b, (uint64_t)v);
}

int lx_buf_appendf(struct lx_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->err != LX_OK)
        return b->err;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = LX_EINVAL;
        return b->err;
    }
    if (lx_buf_grow(b, (size_t)n) != LX_OK)
        return b->err;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LX_OK;
}

void lx_buf_consume(struct lx_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->ptr, b->ptr + n, b->len - n);
        b->len -= n;
    }
    if (b->cap)
        b->ptr[b->len] = '\0';
}

void lx_buf_reset(struct lx_buf *b)
{
    b->len = 0;
    b->err = LX_OK;
    if (b->cap)
        b->ptr[0] = '\0';
}

void lx_buf_release(struct lx_buf *b)
{
    if (b->cap)
        free(b->ptr);
    b->ptr = lx_buf_empty;
    b->len = b->cap = 0;
    b->err = LX_OK;
}

char *lx_buf_detach(struct lx_buf *b, size_t *len)
{
    char *p;

    if (b->err != LX_OK) {
        lx_buf_release(b);
        return NULL;
    }
    p = b->cap ? b->ptr : lx_strndup("", 0);
    if (len)
        *len = b->len;
    b->ptr = lx_buf_empty;
    b->len = b->cap = 0;
    return p;
}
