/* utf8.h - byte-scanning helpers for JSON strings, shared by core/escape.c and json/: strict
 * UTF-8 sequence length and an 8-bytes-at-a-time test for bytes that end a plain run.
 * Header-only, pure. */
#ifndef LX_UTF8_H
#define LX_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define LX_SWAR_ONES UINT64_C(0x0101010101010101)
#define LX_SWAR_HIGHS UINT64_C(0x8080808080808080)

/* Nonzero if any of the 8 bytes in v is '"', '\\', below 0x20 or above 0x7F. The tricks are
 * exact for "is there any": a borrow only spills into bytes above a real hit. */
static inline uint64_t lx_swar_json_stop(uint64_t v)
{
    uint64_t q = v ^ (LX_SWAR_ONES * '"'), b = v ^ (LX_SWAR_ONES * '\\');
    uint64_t lt = (v - LX_SWAR_ONES * 0x20) & ~v;
    uint64_t zq = (q - LX_SWAR_ONES) & ~q;
    uint64_t zb = (b - LX_SWAR_ONES) & ~b;

    return (lt | zq | zb | v) & LX_SWAR_HIGHS;
}

/* Length (1..4) of the valid UTF-8 sequence at p (n >= 1 bytes available), 0 if invalid
 * (RFC 3629: no overlongs, no encoded surrogates, nothing past U+10FFFF, no truncation). */
static inline size_t lx_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        /* E0: no overlongs (A0..); ED: no encoded surrogates (..9F) */
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

        return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        /* F0: no overlongs (90..); F4: nothing past U+10FFFF (..8F) */
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

        return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

#endif /* LX_UTF8_H */
