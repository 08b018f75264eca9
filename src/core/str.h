/* str.h - non-owning string slices (h2o_iovec_t, ngx_str_t). Pass by value, never free,
 * not NUL-terminated. Whoever made the slice owns the bytes it points into. */
#ifndef LX_STR_H
#define LX_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lx_str {
    const char *ptr;
    size_t len;
};

#define LX_STR(lit) ((struct lx_str){.ptr = "" lit, .len = sizeof(lit) - 1}) /* literals only */
#define LX_STR_INIT(lit) {.ptr = "" lit, .len = sizeof(lit) - 1} /* static initializers */
#define LX_STR_NULL ((struct lx_str){.ptr = NULL, .len = 0})
#define LX_STR_FMT(s) (int)(s).len, (s).ptr /* printf("%.*s", LX_STR_FMT(s)) */

static inline struct lx_str lx_str_make(const void *p, size_t n)
{
    return (struct lx_str){.ptr = (const char *)p, .len = n};
}

struct lx_str lx_str_cstr(const char *s); /* s may be NULL: gives LX_STR_NULL */
bool lx_str_eq(struct lx_str a, struct lx_str b);
bool lx_str_eq_nocase(struct lx_str a, struct lx_str b); /* ASCII only */
bool lx_str_starts_with(struct lx_str s, struct lx_str prefix);
bool lx_str_ends_with(struct lx_str s, struct lx_str suffix);
struct lx_str lx_str_trim(struct lx_str s); /* strips SP and HTAB both ends (HTTP OWS) */
/* Index of the first c in s, or -1. */
long lx_str_find_char(struct lx_str s, char c);
struct lx_str lx_str_sub(struct lx_str s, size_t from, size_t len); /* clamped to s */
/* Strict unsigned decimal: 1*DIGIT, no sign, no space; fails on overflow. 0 or LX_E*. */
int lx_str_to_u64(struct lx_str s, uint64_t *out);
/* Constant-time equality for secrets: time depends only on the lengths. */
bool lx_str_eq_ct(struct lx_str a, struct lx_str b);

#endif /* LX_STR_H */
