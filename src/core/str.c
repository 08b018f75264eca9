/* str.c - slice helpers for str.h. Pure; any thread. */
#include "core/str.h"

#include <string.h>

#include "core/err.h"

struct lx_str lx_str_cstr(const char *s)
{
    return s == NULL ? LX_STR_NULL : lx_str_make(s, strlen(s));
}

bool lx_str_eq(struct lx_str a, struct lx_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool lx_str_eq_nocase(struct lx_str a, struct lx_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
            return false;
    return true;
}

bool lx_str_starts_with(struct lx_str s, struct lx_str prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

bool lx_str_ends_with(struct lx_str s, struct lx_str suffix)
{
    return s.len >= suffix.len &&
           (suffix.len == 0 || memcmp(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len) == 0);
}

struct lx_str lx_str_trim(struct lx_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

long lx_str_find_char(struct lx_str s, char c)
{
    const char *p = s.len ? memchr(s.ptr, c, s.len) : NULL;

    return p == NULL ? -1 : (long)(p - s.ptr);
}

struct lx_str lx_str_sub(struct lx_str s, size_t from, size_t len)
{
    if (from > s.len)
        from = s.len;
    if (len > s.len - from)
        len = s.len - from;
    return lx_str_make(s.ptr + from, len);
}

int lx_str_to_u64(struct lx_str s, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return LX_EPARSE;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';

        if (d > 9)
            return LX_EPARSE;
        if (v > (UINT64_MAX - d) / 10)
            return LX_ETOOBIG;
        v = v * 10 + d;
    }
    *out = v;
    return LX_OK;
}

bool lx_str_eq_ct(struct lx_str a, struct lx_str b)
{
    volatile unsigned char acc = (unsigned char)(a.len != b.len);
    size_t n = a.len < b.len ? a.len : b.len;

    for (size_t i = 0; i < n; i++)
        acc |= (unsigned char)(a.ptr[i] ^ b.ptr[i]);
    return acc == 0;
}
