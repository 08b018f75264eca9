/* mock_keys.c - mockllm's per-key scripts and per-key counters (mock.h, README "Per-key
 * scripts"). No I/O: mockllm.c extracts the key from the auth header and calls in here. A script
 * is a list of entries, each the X-Mock items of one or more requests ("times=N") or of every
 * request during a time window ("for=MS", "until=MS"); the last entry repeats. Everything is
 * loop-thread state owned by this file: g_scripts and g_counts, freed by the _clear/_reset
 * functions. Keys are matched whole (the mock is a test tool and holds only test keys); counters
 * are reported by the last 6 characters. */
#include "tests/mock/mock.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/escape.h"

#define MAX_KEYS 1024     /* scripted keys */
#define MAX_ENTRIES 64    /* entries per script */
#define MAX_KEY_LEN 512
#define MAX_COUNTED 4096  /* keys with counters; more are not counted */
#define MAX_KEY_PATHS 64  /* paths per counted key; more count as "(other)" */

struct entry {
    char items[256];   /* X-Mock items ("echo" first when given); "" = ok */
    uint64_t times;    /* requests this entry serves (count-based entries) */
    uint64_t for_ms;   /* time window from when the entry became current; MOCK_NO_VALUE = none */
    uint64_t until_ms; /* time window up to this CLOCK_MONOTONIC ms; MOCK_NO_VALUE = none */
};

struct script {
    char *key;
    size_t key_len;
    struct entry *e;
    size_t n, cur;
    uint64_t cur_start_ms; /* when entry cur became current */
    uint64_t cur_used;     /* requests served by entry cur */
};

struct key_count {
    char *key;
    size_t key_len;
    uint64_t n;
    uint64_t times[MOCK_KEY_TIMES]; /* ring of request times (ns) */
    size_t t_pos, t_n;
    struct {
        char *path;
        size_t len;
        uint64_t n;
    } *paths;
    size_t np, pcap;
};

static struct {
    struct script *s;
    size_t n;
} g_scripts;

static struct {
    struct key_count *k;
    size_t n, cap;
} g_counts;

/* --- a small JSON reader for {"key": "items" | ["items", ...], ...} --------------------- */

struct rd {
    const char *p, *end;
};

static void skip_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool take(struct rd *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A JSON string into out (NUL-terminated, cap bytes); \u escapes above U+007F are refused (keys
 * and items are ASCII). */
static bool read_string(struct rd *r, char *out, size_t cap, size_t *len)
{
    size_t n = 0;

    if (!take(r, '"'))
        return false;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c == '\\') {
            if (r->p >= r->end)
                return false;
            c = *r->p++;
            switch (c) {
            case '"':
            case '\\':
            case '/': break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                int v = 0;
                if (r->end - r->p < 4)
                    return false;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(r->p[i]);
                    if (h < 0)
                        return false;
                    v = v * 16 + h;
                }
                r->p += 4;
                if (v == 0 || v > 0x7f)
                    return false;
                c = (char)v;
                break;
            }
            default: return false;
            }
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    if (r->p >= r->end)
        return false;
    r->p++;
    out[n] = '\0';
    *len = n;
    return true;
}

static bool is_sep(char c)
{
    return c == ',' || c == ';' || c == ' ' || c == '\t';
}

/* One entry's text: the script items (ok, times=, for=, until=) are taken out, the rest must
 * parse as X-Mock items ("echo" allowed first, as in a model name). */
static bool parse_entry(const char *text, struct entry *e, const char **why)
{
    struct lx_str v = lx_str_cstr(text);
    struct lx_buf items = LX_BUF_INIT(sizeof(e->items) - 1);
    bool echo = false, ok = true, timed = false, counted = false;
    size_t i = 0;

    e->times = 1;
    e->for_ms = MOCK_NO_VALUE;
    e->until_ms = MOCK_NO_VALUE;
    while (i < v.len && ok) {
        while (i < v.len && is_sep(v.ptr[i]))
            i++;
        size_t start = i;
        while (i < v.len && !is_sep(v.ptr[i]))
            i++;
        if (i == start)
            break;
        struct lx_str item = lx_str_make(v.ptr + start, i - start);
        uint64_t n = 0;
        if (lx_str_eq(item, LX_STR("ok"))) {
            continue;
        } else if (lx_str_eq(item, LX_STR("echo"))) {
            echo = true;
        } else if (lx_str_starts_with(item, LX_STR("times="))) {
            ok = lx_str_to_u64(lx_str_sub(item, 6, item.len), &n) == 0 && n > 0;
            e->times = n;
            counted = true;
        } else if (lx_str_starts_with(item, LX_STR("for="))) {
            ok = lx_str_to_u64(lx_str_sub(item, 4, item.len), &n) == 0;
            e->for_ms = n;
            timed = true;
        } else if (lx_str_starts_with(item, LX_STR("until="))) {
            ok = lx_str_to_u64(lx_str_sub(item, 6, item.len), &n) == 0;
            e->until_ms = n;
            timed = true;
        } else {
            if (items.len > 0)
                lx_buf_append_char(&items, ',');
            lx_buf_append_str(&items, item);
        }
    }
    if (!ok) {
        *why = "bad number in times=, for= or until=";
    } else if (timed && counted) {
        *why = "times= does not go with for= or until=";
        ok = false;
    } else if (items.err != 0) {
        *why = "entry too long";
        ok = false;
    } else {
        struct mock_opts o;
        ok = mock_opts_parse(&o, lx_buf_str(&items), why);
    }
    if (ok) {
        struct lx_buf out = LX_BUF_INIT(sizeof(e->items) - 1);
        if (echo)
            lx_buf_append_cstr(&out, items.len > 0 ? "echo," : "echo");
        lx_buf_append_str(&out, lx_buf_str(&items));
        if (out.err != 0) {
            *why = "entry too long";
            ok = false;
        } else {
            memcpy(e->items, out.ptr ? out.ptr : "", out.len);
            e->items[out.len] = '\0';
        }
        lx_buf_release(&out);
    }
    lx_buf_release(&items);
    return ok;
}

static void script_free(struct script *s)
{
    free(s->key);
    free(s->e);
}

/* One value: a string or an array of strings -> s->e (a time-bounded last entry gets an "ok"
 * after it, so "status=503;for=60000" means 503 for a minute, then normal answers). */
static bool read_script(struct rd *r, struct script *s, const char **why)
{
    char text[1024];
    size_t len;
    bool array = take(r, '[');

    s->e = lx_xcalloc(MAX_ENTRIES + 1, sizeof(*s->e));
    s->n = 0;
    for (;;) {
        if (array && s->n == 0 && take(r, ']'))
            break;
        if (!read_string(r, text, sizeof(text), &len)) {
            *why = "a script is a string or an array of strings";
            return false;
        }
        if (s->n == MAX_ENTRIES) {
            *why = "more than 64 entries";
            return false;
        }
        if (!parse_entry(text, &s->e[s->n], why))
            return false;
        s->n++;
        if (!array || take(r, ']'))
            break;
        if (!take(r, ',')) {
            *why = "expected , or ] in an array";
            return false;
        }
    }
    if (s->n == 0 || s->e[s->n - 1].for_ms != MOCK_NO_VALUE ||
        s->e[s->n - 1].until_ms != MOCK_NO_VALUE) {
        s->e[s->n].times = 1;
        s->e[s->n].for_ms = s->e[s->n].until_ms = MOCK_NO_VALUE;
        s->n++;
    }
    return true;
}

static struct script *find_script(struct lx_str key)
{
    for (size_t i = 0; i < g_scripts.n; i++)
        if (g_scripts.s[i].key_len == key.len && memcmp(g_scripts.s[i].key, key.ptr, key.len) == 0)
            return &g_scripts.s[i];
    return NULL;
}

bool mock_keys_set(struct lx_str json, uint64_t now_ms, const char **why)
{
    struct rd r = {json.ptr, json.ptr + json.len};
    struct script *add = lx_xcalloc(MAX_KEYS, sizeof(*add));
    size_t n = 0;
    bool ok = true;
    char key[MAX_KEY_LEN];
    size_t klen;

    if (json.len == 0 || !take(&r, '{')) {
        *why = "the body is a JSON object: key to script";
        ok = false;
    } else if (!take(&r, '}')) {
        for (;;) {
            if (!read_string(&r, key, sizeof(key), &klen) || klen == 0) {
                *why = "bad key string (ASCII, 1 to 511 bytes)";
                ok = false;
                break;
            }
            if (!take(&r, ':')) {
                *why = "expected : after a key";
                ok = false;
                break;
            }
            if (n + g_scripts.n >= MAX_KEYS) {
                *why = "more than 1024 scripted keys";
                ok = false;
                break;
            }
            add[n].key = lx_xmalloc(klen + 1);
            memcpy(add[n].key, key, klen + 1);
            add[n].key_len = klen;
            n++;
            if (!read_script(&r, &add[n - 1], why)) {
                ok = false;
                break;
            }
            if (take(&r, '}'))
                break;
            if (!take(&r, ',')) {
                *why = "expected , or } in the object";
                ok = false;
                break;
            }
        }
    }
    skip_ws(&r);
    if (ok && r.p != r.end) {
        *why = "bytes after the object";
        ok = false;
    }
    if (ok) {
        if (g_scripts.s == NULL)
            g_scripts.s = lx_xcalloc(MAX_KEYS, sizeof(*g_scripts.s));
        for (size_t i = 0; i < n; i++) {
            struct script *old = find_script(lx_str_make(add[i].key, add[i].key_len));
            add[i].cur = 0;
            add[i].cur_used = 0;
            add[i].cur_start_ms = now_ms;
            if (old != NULL) {
                script_free(old);
                *old = add[i];
            } else {
                g_scripts.s[g_scripts.n++] = add[i];
            }
        }
    } else {
        for (size_t i = 0; i < n; i++)
            script_free(&add[i]);
    }
    free(add);
    return ok;
}

void mock_keys_clear(void)
{
    for (size_t i = 0; i < g_scripts.n; i++)
        script_free(&g_scripts.s[i]);
    free(g_scripts.s);
    g_scripts.s = NULL;
    g_scripts.n = 0;
}

/* Moves past time windows that ended before now (the next window starts where the last one
 * ended, so consecutive windows do not drift with request times). */
static void expire(struct script *s, uint64_t now_ms)
{
    while (s->cur + 1 < s->n) {
        const struct entry *e = &s->e[s->cur];
        uint64_t end;
        if (e->for_ms != MOCK_NO_VALUE)
            end = s->cur_start_ms + e->for_ms;
        else if (e->until_ms != MOCK_NO_VALUE)
            end = e->until_ms;
        else
            return;
        if (now_ms < end)
            return;
        s->cur++;
        s->cur_used = 0;
        s->cur_start_ms = LX_MAX(end, s->cur_start_ms);
    }
}

bool mock_keys_next(struct lx_str key, uint64_t now_ms, struct lx_str *items)
{
    struct script *s = g_scripts.n > 0 ? find_script(key) : NULL;
    const struct entry *e;

    if (s == NULL)
        return false;
    expire(s, now_ms);
    e = &s->e[s->cur];
    *items = lx_str_cstr(e->items);
    s->cur_used++;
    if (e->for_ms == MOCK_NO_VALUE && e->until_ms == MOCK_NO_VALUE && s->cur_used >= e->times &&
        s->cur + 1 < s->n) {
        s->cur++;
        s->cur_used = 0;
        s->cur_start_ms = now_ms;
    }
    return true;
}

void mock_keys_dump(struct lx_buf *b, uint64_t now_ms)
{
    lx_buf_appendf(b, "{\"now_ms\":%llu,\"keys\":{", (unsigned long long)now_ms);
    for (size_t i = 0; i < g_scripts.n; i++) {
        struct script *s = &g_scripts.s[i];
        expire(s, now_ms);
        lx_buf_append_cstr(b, i ? ",\"" : "\"");
        lx_json_escape(b, lx_str_make(s->key, s->key_len));
        lx_buf_appendf(b, "\":{\"entry\":%zu,\"entries\":%zu,\"items\":\"", s->cur, s->n);
        lx_json_escape(b, lx_str_cstr(s->e[s->cur].items));
        lx_buf_append_cstr(b, "\"}");
    }
    lx_buf_append_cstr(b, "}}");
}

/* --- counters ------------------------------------------------------------------------------ */

static void count_path(struct key_count *k, struct lx_str path)
{
    for (size_t i = 0; i < k->np; i++) {
        if (k->paths[i].len == path.len && memcmp(k->paths[i].path, path.ptr, path.len) == 0) {
            k->paths[i].n++;
            return;
        }
    }
    if (k->np >= MAX_KEY_PATHS) {
        path = LX_STR("(other)");
        for (size_t i = 0; i < k->np; i++)
            if (k->paths[i].len == path.len && memcmp(k->paths[i].path, path.ptr, path.len) == 0) {
                k->paths[i].n++;
                return;
            }
    }
    if (k->np == k->pcap) {
        k->pcap = k->pcap ? 2 * k->pcap : 4;
        k->paths = lx_xrealloc(k->paths, k->pcap * sizeof(*k->paths));
    }
    k->paths[k->np].path = lx_xmalloc(path.len + 1);
    memcpy(k->paths[k->np].path, path.ptr, path.len);
    k->paths[k->np].path[path.len] = '\0';
    k->paths[k->np].len = path.len;
    k->paths[k->np].n = 1;
    k->np++;
}

void mock_keys_count(struct lx_str key, struct lx_str path, uint64_t now_ns)
{
    struct key_count *k = NULL;

    for (size_t i = 0; i < g_counts.n; i++) {
        if (g_counts.k[i].key_len == key.len && memcmp(g_counts.k[i].key, key.ptr, key.len) == 0) {
            k = &g_counts.k[i];
            break;
        }
    }
    if (k == NULL) {
        if (g_counts.n >= MAX_COUNTED || key.len > MAX_KEY_LEN)
            return;
        if (g_counts.n == g_counts.cap) {
            g_counts.cap = g_counts.cap ? 2 * g_counts.cap : 16;
            g_counts.k = lx_xrealloc(g_counts.k, g_counts.cap * sizeof(*g_counts.k));
        }
        k = &g_counts.k[g_counts.n++];
        memset(k, 0, sizeof(*k));
        k->key = lx_xmalloc(key.len + 1);
        memcpy(k->key, key.ptr, key.len);
        k->key[key.len] = '\0';
        k->key_len = key.len;
    }
    k->n++;
    k->times[k->t_pos] = now_ns;
    k->t_pos = (k->t_pos + 1) % MOCK_KEY_TIMES;
    if (k->t_n < MOCK_KEY_TIMES)
        k->t_n++;
    count_path(k, path);
}

bool mock_keys_counted(void)
{
    return g_counts.n > 0;
}

static void last6(struct lx_buf *b, const struct key_count *k)
{
    size_t from = k->key_len > 6 ? k->key_len - 6 : 0;

    lx_buf_append_char(b, '"');
    lx_json_escape(b, lx_str_make(k->key + from, k->key_len - from));
    lx_buf_append_char(b, '"');
}

static void append_ms(struct lx_buf *b, uint64_t ns)
{
    lx_buf_appendf(b, "%llu.%03llu", (unsigned long long)(ns / 1000000u),
                   (unsigned long long)(ns / 1000u % 1000u));
}

void mock_keys_stats(struct lx_buf *b, uint64_t now_ns)
{
    lx_buf_append_cstr(b, ",\"by_key\":{");
    for (size_t i = 0; i < g_counts.n; i++) {
        if (i)
            lx_buf_append_char(b, ',');
        last6(b, &g_counts.k[i]);
        lx_buf_appendf(b, ":%llu", (unsigned long long)g_counts.k[i].n);
    }
    lx_buf_append_cstr(b, "},\"keys\":{");
    for (size_t i = 0; i < g_counts.n; i++) {
        const struct key_count *k = &g_counts.k[i];
        size_t first = (k->t_pos + MOCK_KEY_TIMES - k->t_n) % MOCK_KEY_TIMES;
        if (i)
            lx_buf_append_char(b, ',');
        last6(b, k);
        lx_buf_appendf(b, ":{\"requests\":%llu,\"by_path\":{", (unsigned long long)k->n);
        for (size_t j = 0; j < k->np; j++) {
            lx_buf_append_cstr(b, j ? ",\"" : "\"");
            lx_json_escape(b, lx_str_make(k->paths[j].path, k->paths[j].len));
            lx_buf_appendf(b, "\":%llu", (unsigned long long)k->paths[j].n);
        }
        lx_buf_append_cstr(b, "},\"times_ms\":[");
        for (size_t j = 0; j < k->t_n; j++) {
            if (j)
                lx_buf_append_char(b, ',');
            append_ms(b, k->times[(first + j) % MOCK_KEY_TIMES]);
        }
        lx_buf_append_cstr(b, "]}");
    }
    lx_buf_append_cstr(b, "},\"now_ms\":");
    append_ms(b, now_ns);
}

void mock_keys_stats_reset(void)
{
    for (size_t i = 0; i < g_counts.n; i++) {
        for (size_t j = 0; j < g_counts.k[i].np; j++)
            free(g_counts.k[i].paths[j].path);
        free(g_counts.k[i].paths);
        free(g_counts.k[i].key);
    }
    free(g_counts.k);
    g_counts.k = NULL;
    g_counts.n = g_counts.cap = 0;
}
