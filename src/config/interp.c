/* interp.c - ${VAR}, ${VAR:-default} and $$ in configuration scalars. Pure apart from getenv;
 * the result goes into a caller-owned lx_buf. Runs on the loading thread. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "core/err.h"

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

int lx__config_interpolate(struct lx_str s, struct lx_buf *out, struct lx_str *missing,
                           const char **why)
{
    size_t i = 0;

    while (i < s.len) {
        const char *d = memchr(s.ptr + i, '$', s.len - i);
        size_t at = d ? (size_t)(d - s.ptr) : s.len;
        size_t name_at, name_len, close;
        bool has_default = false;
        char name[128];
        const char *val;

        lx_buf_append(out, s.ptr + i, at - i);
        if (at == s.len)
            break;
        if (at + 1 < s.len && s.ptr[at + 1] == '$') { /* $$ -> $ */
            lx_buf_append_char(out, '$');
            i = at + 2;
            continue;
        }
        if (at + 1 >= s.len || s.ptr[at + 1] != '{') { /* a lone '$' is just a byte */
            lx_buf_append_char(out, '$');
            i = at + 1;
            continue;
        }
        name_at = at + 2;
        name_len = 0;
        while (name_at + name_len < s.len && name_char(s.ptr[name_at + name_len]))
            name_len++;
        close = name_at + name_len;
        if (name_len == 0 || !name_start(s.ptr[name_at])) {
            *why = "a variable name ([A-Za-z_][A-Za-z0-9_]*) must follow \"${\"";
            return LX_EPARSE;
        }
        if (name_len >= sizeof(name)) {
            *why = "variable name too long";
            return LX_EPARSE;
        }
        if (close + 1 < s.len && s.ptr[close] == ':' && s.ptr[close + 1] == '-') {
            has_default = true;
            close += 2;
        }
        {
            const char *end = close < s.len ? memchr(s.ptr + close, '}', s.len - close) : NULL;
            size_t def_at = close;

            if (end == NULL) {
                *why = "unterminated \"${\": missing '}'";
                return LX_EPARSE;
            }
            close = (size_t)(end - s.ptr);
            if (!has_default && close != name_at + name_len) {
                *why = "expected '}' or \":-default\" after the variable name";
                return LX_EPARSE;
            }
            memcpy(name, s.ptr + name_at, name_len);
            name[name_len] = '\0';
            val = getenv(name);
            if (val != NULL && *val != '\0')
                lx_buf_append_cstr(out, val);
            else if (has_default)
                lx_buf_append(out, s.ptr + def_at, close - def_at);
            else if (val == NULL) {
                *missing = lx_str_make(s.ptr + name_at, name_len);
                return LX_ENOTFOUND;
            }
            /* set but empty, no default: the empty string (as the shell does) */
        }
        i = close + 1;
    }
    return out->err;
}
