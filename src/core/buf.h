/* buf.h - owning, growable, always NUL-terminated byte buffers bounded by `max` (curl dynbuf).
 * The error is sticky (SQLite StrAccum): after a failed append later appends do nothing, so a
 * caller appends freely and checks b->err once. The owner of the struct owns ptr. */
#ifndef LX_BUF_H
#define LX_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"

struct lx_buf {
    char *ptr;
    size_t len, cap; /* cap == 0 while ptr == lx_buf_empty */
    size_t max;      /* hard limit on len; exceeding it sets err = LX_ETOOBIG */
    int err;         /* LX_OK, LX_ENOMEM or LX_ETOOBIG */
};

extern char lx_buf_empty[1];
#define LX_BUF_INIT(limit) {.ptr = lx_buf_empty, .len = 0, .cap = 0, .max = (limit), .err = 0}

void lx_buf_init(struct lx_buf *b, size_t max);
int lx_buf_grow(struct lx_buf *b, size_t extra); /* room for extra more bytes (+ NUL) */
int lx__buf_append_slow(struct lx_buf *b, const void *p, size_t n); /* grows, checks max */
/* Appends n bytes (p may be NULL when n is 0). Inline: the room-available case is a memcpy,
 * a hundred times per request. cap never exceeds max + 1, so fitting in cap is within max. */
static inline int lx_buf_append(struct lx_buf *b, const void *p, size_t n)
{
    if (b->err == 0 && n < b->cap - b->len) {
        if (n)
            memcpy(b->ptr + b->len, p, n);
        b->len += n;
        b->ptr[b->len] = '\0';
        return 0;
    }
    return lx__buf_append_slow(b, p, n);
}
static inline int lx_buf_append_str(struct lx_buf *b, struct lx_str s)
{
    return lx_buf_append(b, s.ptr, s.len);
}
int lx_buf_append_cstr(struct lx_buf *b, const char *s);
static inline int lx_buf_append_char(struct lx_buf *b, char c)
{
    return lx_buf_append(b, &c, 1);
}
int lx_buf_appendf(struct lx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal numbers without printf (hot paths: Content-Length, the access log). */
int lx_buf_append_u64(struct lx_buf *b, uint64_t v);
int lx_buf_append_i64(struct lx_buf *b, int64_t v);
/* Writes v in decimal into d (at least LX_U64_DIGITS bytes, no NUL); returns the length. */
#define LX_U64_DIGITS 20
size_t lx_u64_to_dec(char *d, uint64_t v);
void lx_buf_consume(struct lx_buf *b, size_t n); /* drop the first n bytes */
void lx_buf_reset(struct lx_buf *b);             /* len = 0, keeps memory; clears err */
void lx_buf_release(struct lx_buf *b);           /* frees memory, back to the INIT state */
char *lx_buf_detach(struct lx_buf *b, size_t *len); /* caller frees; NULL on sticky error */
static inline struct lx_str lx_buf_str(const struct lx_buf *b)
{
    return lx_str_make(b->ptr, b->len);
}

#endif /* LX_BUF_H */
