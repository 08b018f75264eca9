/* escape.c - JSON string escaping (escape.h), for the logger, error bodies and json/writer.c.
 * Plain runs are found 8 bytes at a time and copied in one append. Pure; any thread. */
#include "core/escape.h"

#include <string.h>

#include "core/err.h"
#include "core/utf8.h"

int lx_json_escape(struct lx_buf *b, struct lx_str s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0, run = 0;

    if (s.len == 0)
        return b->err; /* s.ptr may be NULL */
    while (i < s.len) {
        unsigned char c;
        size_t n;

        while (s.len - i >= 8) { /* skip plain ASCII 8 bytes at a time */
            uint64_t v;

            memcpy(&v, p + i, 8);
            if (lx_swar_json_stop(v))
                break;
            i += 8;
        }
        while (i < s.len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
            i++;
        if (i == s.len)
            break;
        c = p[i];
        if (c >= 0x80 && (n = lx_utf8_len(p + i, s.len - i)) != 0) {
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
