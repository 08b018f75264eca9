/* mock_fixture.c - the I/O-free half of mockllm: the X-Mock header parser, the fixture cache
 * (files under --fixtures, loaded on first use and kept until exit) and the reader of recorded
 * response headers (*.headers.json). Loop thread only. The cache owns every fixture. */
#include "tests/mock/mock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/alloc.h"

void mock_opts_init(struct mock_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->retry_after = MOCK_NO_VALUE;
    o->tokens = MOCK_NO_VALUE;
    o->token_ms = MOCK_NO_VALUE;
    o->chunk_ms = MOCK_NO_VALUE;
    o->reset_after = MOCK_NO_VALUE;
    o->truncate = MOCK_NO_VALUE;
    o->retry_delay_ms = MOCK_NO_VALUE;
}

static bool is_sep(char c)
{
    return c == ',' || c == ';' || c == ' ' || c == '\t';
}

static bool all_digits(struct lx_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
    return true;
}

/* Items are separated by ',', ';' or blanks. An item made only of digits is the second value
 * of the item before it, so "drip=64,10" reads as drip = 64 bytes every 10 ms. */
bool mock_opts_parse(struct mock_opts *o, struct lx_str v, const char **why)
{
    struct lx_str prev_key = LX_STR_NULL;
    size_t i = 0;

    while (i < v.len) {
        while (i < v.len && is_sep(v.ptr[i]))
            i++;
        size_t start = i;
        while (i < v.len && !is_sep(v.ptr[i]))
            i++;
        if (i == start)
            break;
        struct lx_str item = lx_str_make(v.ptr + start, i - start);
        long eq = lx_str_find_char(item, '=');
        struct lx_str key = eq < 0 ? item : lx_str_sub(item, 0, (size_t)eq);
        struct lx_str val = eq < 0 ? LX_STR_NULL : lx_str_sub(item, (size_t)eq + 1, item.len);
        uint64_t n = 0;

        if (eq < 0 && all_digits(item)) {
            /* second value of the previous item */
            if (!lx_str_eq(prev_key, LX_STR("drip")) || lx_str_to_u64(item, &n) != 0) {
                *why = "a bare number only follows drip=bytes";
                return false;
            }
            o->drip_ms = n;
            prev_key = LX_STR_NULL;
            continue;
        }
        prev_key = key;
        if (lx_str_eq(key, LX_STR("fixture"))) {
            if (val.len == 0 || val.len >= sizeof(o->fixture)) {
                *why = "bad fixture name";
                return false;
            }
            memcpy(o->fixture, val.ptr, val.len);
            o->fixture[val.len] = '\0';
            continue;
        }
        if (lx_str_eq(key, LX_STR("reset")) && eq < 0) {
            o->reset = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("hang")) && eq < 0) {
            o->hang = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("close")) && eq < 0) {
            o->close = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("stream")) && eq < 0) {
            o->stream = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("daily-quota")) && eq < 0) {
            o->daily_quota = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("quota")) && eq < 0) {
            o->quota = true;
            continue;
        }
        if (lx_str_eq(key, LX_STR("key-invalid")) && eq < 0) {
            o->key_invalid = true;
            continue;
        }
        if (eq < 0 || lx_str_to_u64(val, &n) != 0) {
            *why = "unknown option or bad number";
            return false;
        }
        if (lx_str_eq(key, LX_STR("status")) && n >= 100 && n <= 999)
            o->status = (unsigned)n;
        else if (lx_str_eq(key, LX_STR("retry-after")))
            o->retry_after = n;
        else if (lx_str_eq(key, LX_STR("retry-delay")))
            o->retry_delay_ms = n;
        else if (lx_str_eq(key, LX_STR("delay")))
            o->delay_ms = n;
        else if (lx_str_eq(key, LX_STR("tokens")))
            o->tokens = n;
        else if (lx_str_eq(key, LX_STR("token-ms")))
            o->token_ms = n;
        else if (lx_str_eq(key, LX_STR("chunk-ms")))
            o->chunk_ms = n;
        else if (lx_str_eq(key, LX_STR("reset-after")))
            o->reset_after = n;
        else if (lx_str_eq(key, LX_STR("truncate")))
            o->truncate = n;
        else if (lx_str_eq(key, LX_STR("drip")) && n > 0) {
            o->drip_bytes = n;
            o->drip_ms = 10;
        } else {
            *why = "unknown option or value out of range";
            return false;
        }
    }
    return true;
}

size_t mock_next_event(struct lx_str s, char sep)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] != '\n')
            continue;
        if (sep == '\n')
            return i + 1;
        /* SSE: an event ends at an empty line (LF LF or CRLF CRLF) */
        if (i + 1 < s.len && s.ptr[i + 1] == '\n')
            return i + 2;
        if (i + 2 < s.len && s.ptr[i + 1] == '\r' && s.ptr[i + 2] == '\n')
            return i + 3;
    }
    return s.len;
}

long mock_json_find(struct lx_str s, const char *key)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i + kl + 2 <= s.len; i++) {
        if (s.ptr[i] != '"' || s.ptr[i + kl + 1] != '"' || memcmp(s.ptr + i + 1, key, kl) != 0)
            continue;
        size_t j = i + kl + 2;
        while (j < s.len && isspace((unsigned char)s.ptr[j]))
            j++;
        if (j >= s.len || s.ptr[j] != ':')
            continue;
        j++;
        while (j < s.len && isspace((unsigned char)s.ptr[j]))
            j++;
        return (long)j;
    }
    return -1;
}

/* --- fixture cache ------------------------------------------------------------------- */

struct cache_entry {
    struct cache_entry *next;
    char *rel;
    struct mock_fixture fx;
};

static struct cache_entry *cache;


/* Reads one JSON string starting at s[*i] == '"' into out (escapes other than \" and \\ are
 * kept as they are: recorded header values are plain ASCII). Returns false if malformed. */
static bool scan_string(struct lx_str s, size_t *i, struct lx_buf *out)
{
    size_t j = *i;

    if (j >= s.len || s.ptr[j] != '"')
        return false;
    for (j++; j < s.len && s.ptr[j] != '"'; j++) {
        if (s.ptr[j] == '\\' && j + 1 < s.len)
            j++;
        lx_buf_append_char(out, s.ptr[j]);
    }
    if (j >= s.len)
        return false;
    *i = j + 1;
    return true;
}

static void skip_ws(struct lx_str s, size_t *i)
{
    while (*i < s.len && (isspace((unsigned char)s.ptr[*i]) || s.ptr[*i] == ','))
        (*i)++;
}

/* Framing headers are the mock's to set, never replayed. */
static bool hop_header(struct lx_str name)
{
    static const struct lx_str skip[] = {LX_STR("content-length"), LX_STR("transfer-encoding"),
                                         LX_STR("connection"), LX_STR("keep-alive"),
                                         LX_STR("date"), LX_STR("content-encoding")};
    for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
        if (lx_str_eq_nocase(name, skip[k]))
            return true;
    return false;
}

/* *.headers.json: {"status": 200, "headers": {"Name": ["value", ...], ...}}. */
static void load_headers(struct mock_fixture *fx, const char *path)
{
    size_t len = 0;
    char *text = lx_file_read(path, 64u << 20, &len);
    struct lx_buf lines = LX_BUF_INIT(1u << 20);
    struct lx_buf name = LX_BUF_INIT(4096), val = LX_BUF_INIT(65536);
    uint64_t n;

    if (text == NULL)
        return;
    struct lx_str s = lx_str_make(text, len);
    long p = mock_json_find(s, "status");
    if (p >= 0) {
        size_t e = (size_t)p;
        while (e < s.len && s.ptr[e] >= '0' && s.ptr[e] <= '9')
            e++;
        if (lx_str_to_u64(lx_str_sub(s, (size_t)p, e - (size_t)p), &n) == 0 && n >= 100 &&
            n <= 999)
            fx->status = (unsigned)n;
    }
    p = mock_json_find(s, "headers");
    if (p >= 0 && s.ptr[p] == '{') {
        size_t i = (size_t)p + 1;
        for (;;) {
            skip_ws(s, &i);
            lx_buf_reset(&name);
            if (!scan_string(s, &i, &name))
                break;
            skip_ws(s, &i);
            if (i >= s.len || s.ptr[i] != ':')
                break;
            i++;
            skip_ws(s, &i);
            bool list = i < s.len && s.ptr[i] == '[';
            if (list)
                i++;
            for (;;) {
                skip_ws(s, &i);
                lx_buf_reset(&val);
                if (!scan_string(s, &i, &val))
                    break;
                if (lx_str_eq_nocase(lx_buf_str(&name), LX_STR("content-type"))) {
                    fx->content_type = lx_xstrndup(val.ptr, val.len);
                } else if (!hop_header(lx_buf_str(&name))) {
                    lx_buf_appendf(&lines, "%s: %s\r\n", name.ptr, val.ptr);
                }
                if (!list)
                    break;
            }
            if (list && i < s.len && s.ptr[i] == ']')
                i++;
        }
    }
    if (lines.err == 0 && lines.len > 0) {
        size_t l;
        char *h = lx_buf_detach(&lines, &l);
        fx->headers = lx_str_make(h, l);
    }
    lx_buf_release(&lines);
    lx_buf_release(&name);
    lx_buf_release(&val);
    free(text);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

const struct mock_fixture *mock_fixture_get(const char *dir, const char *rel)
{
    struct cache_entry *e;
    char path[4096];
    size_t len = 0;

    for (e = cache; e != NULL; e = e->next)
        if (strcmp(e->rel, rel) == 0)
            return &e->fx;
    if (rel[0] == '/' || strstr(rel, "..") != NULL || dir == NULL)
        return NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
        return NULL;
    char *body = lx_file_read(path, 64u << 20, &len);
    if (body == NULL)
        return NULL;

    e = lx_xcalloc(1, sizeof(*e));
    e->rel = lx_xstrndup(rel, strlen(rel));
    e->fx.body = lx_str_make(body, len);
    e->fx.status = 200;
    e->fx.headers = LX_STR("");

    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (strncmp(base, "error_", 6) == 0 && isdigit((unsigned char)base[6]) &&
        isdigit((unsigned char)base[7]) && isdigit((unsigned char)base[8]))
        e->fx.status = (unsigned)((base[6] - '0') * 100 + (base[7] - '0') * 10 + (base[8] - '0'));

    if (ends_with(rel, ".sse")) {
        e->fx.content_type = "text/event-stream";
        e->fx.streaming = true;
    } else if (ends_with(rel, ".ndjson") || ends_with(rel, ".jsonl")) {
        e->fx.content_type = "application/x-ndjson";
        e->fx.streaming = true;
        e->fx.sep = '\n';
    } else if (ends_with(rel, ".bin")) {
        e->fx.content_type = "application/vnd.amazon.eventstream";
        e->fx.streaming = true;
        e->fx.sep = '\n'; /* binary frames have no separator: chunk-ms cuts at newlines */
    } else if (ends_with(rel, ".http")) {
        e->fx.raw_http = true;
        e->fx.content_type = "application/octet-stream";
    } else if (ends_with(rel, ".json")) {
        e->fx.content_type = "application/json";
    } else {
        e->fx.content_type = "text/plain";
    }

    /* X.json -> X.headers.json; X.sse -> X.headers.json */
    const char *dot = strrchr(base, '.');
    if (dot != NULL && !ends_with(rel, ".headers.json")) {
        int stem = (int)(dot - rel);
        if ((size_t)snprintf(path, sizeof(path), "%s/%.*s.headers.json", dir, stem, rel) <
            sizeof(path))
            load_headers(&e->fx, path);
    }
    e->next = cache;
    cache = e;
    return &e->fx;
}
