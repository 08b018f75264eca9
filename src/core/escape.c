/* escape.c - JSON string escaping (escape.h). Runs of safe bytes are copied in one append. */
#include "core/escape.h"

#include "core/err.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not valid (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

        return (n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

        return (n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
                (p[3] & 0xC0) == 0x80)
                   ? 4
                   : 0;
    }
    return 0;
}

int lx_json_escape(struct lx_buf *b, struct lx_str s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0, run = 0;

    while (i < s.len) {
        unsigned char c = p[i];
        size_t n;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80 && (n = utf8_seq_len(p + i, s.len - i)) != 0) {
            i += n;
            continue;
        }
        lx_buf_append(b, p + run, i - run);
        switch (c) {
        case '"':
            lx_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            lx_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            lx_buf_append(b, "\\n", 2);
            break;
        case '\r':
            lx_buf_append(b, "\\r", 2);
            break;
        case '\t':
            lx_buf_append(b, "\\t", 2);
            break;
        case '\b':
            lx_buf_append(b, "\\b", 2);
            break;
        case '\f':
            lx_buf_append(b, "\\f", 2);
            break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

                lx_buf_append(b, u, 6);
            } else {
                lx_buf_append(b, "\xEF\xBF\xBD", 3); /* invalid UTF-8 byte */
            }
        }
        i++;
        run = i;
    }
    lx_buf_append(b, p + run, i - run);
    return b->err;
}
