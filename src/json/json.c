/* json.c - the strict tokenizer and the token readers (json.h). Pure; any thread, one owner per
 * document. The tokenizer is one iterative loop: open containers are chained through their
 * tokens' `next` field (the parent's index while open, the subtree end once closed), so the only
 * stack is the depth counter and nothing recurses. Strings are scanned 8 bytes at a time while
 * they hold plain ASCII, then byte by byte with UTF-8 validation. */
#include "json/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/err.h"
#include "json/json_int.h"

#define NO_PARENT UINT32_MAX
#define SMALL_OBJECT 16 /* up to this many keys: pairwise compare; above: sort */

/* 1 for JSON whitespace (RFC 8259 ws). */
static const unsigned char ws_tab[256] = {
    ['\t'] = 1,
    ['\n'] = 1,
    ['\r'] = 1,
    [' '] = 1,
};

/* 1 for bytes that end a run of plain string bytes: '"', '\\', controls and non-ASCII. */
static const unsigned char str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 90 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* A0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* B0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* C0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* D0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* E0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* F0 */
};

/* Value of a hex digit, or 16. */
static inline unsigned hex_digit(unsigned c)
{
    if (c - '0' < 10)
        return c - '0';
    c |= 0x20; /* lower case */
    if (c - 'a' < 6)
        return c - 'a' + 10;
    return 16;
}

struct parser {
    struct lx_json *doc;
    const unsigned char *base, *end;
    size_t err_off;
};

static inline unsigned hex4(const unsigned char *p)
{
    unsigned a = hex_digit(p[0]), b = hex_digit(p[1]), c = hex_digit(p[2]), d = hex_digit(p[3]);

    if ((a | b | c | d) & 16)
        return UINT32_MAX;
    return a << 12 | b << 8 | c << 4 | d;
}

static int fail(struct parser *ps, int rc, const unsigned char *at)
{
    ps->err_off = (size_t)(at - ps->base);
    return rc;
}

/* p is just past the opening quote. On LX_OK *pp points at the closing quote. */
static int scan_string(struct parser *ps, const unsigned char **pp, unsigned *flags)
{
    const unsigned char *p = *pp, *end = ps->end;

    for (;;) {
        while (end - p >= 8) {
            uint64_t v;

            memcpy(&v, p, 8);
            if (swar_stop(v))
                break;
            p += 8;
        }
        while (p < end && !str_stop[*p])
            p++;
        if (p == end)
            return fail(ps, LX_EPARSE, p); /* unterminated */
        if (*p == '"') {
            *pp = p;
            return LX_OK;
        }
        if (*p == '\\') {
            unsigned cp;

            *flags |= LX_JSON_ESCAPED;
            if (end - p < 2)
                return fail(ps, LX_EPARSE, end);
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                continue;
            case 'u':
                break;
            default:
                return fail(ps, LX_EPARSE, p);
            }
            if (end - p < 6)
                return fail(ps, LX_EPARSE, end);
            if ((cp = hex4(p + 2)) == UINT32_MAX)
                return fail(ps, LX_EPARSE, p);
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(ps, LX_EUTF8, p); /* low surrogate first */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;

                if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
                    return fail(ps, LX_EUTF8, p); /* high surrogate alone */
                if ((lo = hex4(p + 8)) == UINT32_MAX)
                    return fail(ps, LX_EPARSE, p + 6);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, LX_EUTF8, p);
                p += 12;
            } else {
                p += 6;
            }
            continue;
        }
        if (*p < 0x20)
            return fail(ps, LX_EPARSE, p); /* raw control character */
        /* non-ASCII: validate the whole run of multi-byte characters here */
        do {
            size_t n = utf8_len(p, (size_t)(end - p));

            if (n == 0)
                return fail(ps, LX_EUTF8, p);
            p += n;
        } while (p < end && *p >= 0x80);
    }
}

/* RFC 8259 number at *pp; on LX_OK *pp is one past it. What follows is the caller's business. */
static int scan_number(struct parser *ps, const unsigned char **pp)
{
    const unsigned char *p = *pp, *end = ps->end;

    if (*p == '-')
        p++;
    if (p == end)
        return fail(ps, LX_EPARSE, p);
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    } else {
        return fail(ps, LX_EPARSE, p);
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || *p < '0' || *p > '9')
            return fail(ps, LX_EPARSE, p);
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return fail(ps, LX_EPARSE, p);
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    }
    *pp = p;
    return LX_OK;
}

static void *doc_alloc(struct lx_json *doc, void *old, size_t old_size, size_t size)
{
    void *p;

    if (doc->arena == NULL)
        return lx_realloc(old, size);
    p = lx_arena_alloc(doc->arena, size);
    if (p != NULL && old_size)
        memcpy(p, old, old_size);
    return p;
}

static int grow_tokens(struct lx_json *doc)
{
    uint32_t max = doc->opts.max_tokens, cap;
    struct lx_json_tok *t;

    if (doc->fixed || doc->cap >= max)
        return LX_ETOOBIG;
    cap = doc->cap < 32 ? 64 : doc->cap > max / 2 ? max : doc->cap * 2;
    t = doc_alloc(doc, doc->toks, (size_t)doc->ntoks * sizeof(*t), (size_t)cap * sizeof(*t));
    if (t == NULL)
        return LX_ENOMEM;
    doc->toks = t;
    doc->cap = cap;
    return LX_OK;
}

/* ---- decoding string tokens (input already validated) ---- */

struct dec {
    const unsigned char *p, *end;
    unsigned char buf[4];
    unsigned char bi, bn;
};

static void dec_init(struct dec *d, const struct lx_json *doc, int i)
{
    d->p = (const unsigned char *)doc->src + doc->toks[i].start;
    d->end = d->p + doc->toks[i].len;
    d->bi = d->bn = 0;
}

/* Writes cp (at most U+10FFFF, not a surrogate) as UTF-8; returns the length. */
static size_t utf8_put(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape at p (p[0] == '\\', validated). Writes its UTF-8 into out; returns its input
 * length, and the output length in *n. */
static size_t unescape_one(const unsigned char *p, unsigned char *out, size_t *n)
{
    unsigned cp;

    switch (p[1]) {
    case 'b':
        out[0] = '\b';
        break;
    case 'f':
        out[0] = '\f';
        break;
    case 'n':
        out[0] = '\n';
        break;
    case 'r':
        out[0] = '\r';
        break;
    case 't':
        out[0] = '\t';
        break;
    case 'u':
        cp = hex4(p + 2);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 8) - 0xDC00);
            *n = utf8_put(out, cp);
            return 12;
        }
        *n = utf8_put(out, cp);
        return 6;
    default: /* '"', '\\', '/' */
        out[0] = p[1];
        break;
    }
    *n = 1;
    return 2;
}

/* Next decoded byte, or -1 at the end. */
static int dec_byte(struct dec *d)
{
    size_t n;

    if (d->bi < d->bn)
        return d->buf[d->bi++];
    if (d->p == d->end)
        return -1;
    if (*d->p != '\\')
        return *d->p++;
    d->p += unescape_one(d->p, d->buf, &n);
    d->bn = (unsigned char)n;
    d->bi = 1;
    return d->buf[0];
}

/* Order of two string tokens by decoded bytes (a shorter prefix first). */
static int key_cmp(const struct lx_json *doc, uint32_t a, uint32_t b)
{
    const struct lx_json_tok *ta = &doc->toks[a], *tb = &doc->toks[b];
    struct dec da, db;

    if (!((ta->flags | tb->flags) & LX_JSON_ESCAPED)) {
        size_t n = LX_MIN(ta->len, tb->len);
        int c = memcmp(doc->src + ta->start, doc->src + tb->start, n);

        if (c != 0)
            return c;
        return ta->len < tb->len ? -1 : ta->len > tb->len;
    }
    dec_init(&da, doc, (int)a);
    dec_init(&db, doc, (int)b);
    for (;;) {
        int x = dec_byte(&da), y = dec_byte(&db);

        if (x != y)
            return x < y ? -1 : 1;
        if (x < 0)
            return 0;
    }
}

static bool key_eq(const struct lx_json *doc, uint32_t a, uint32_t b)
{
    const struct lx_json_tok *ta = &doc->toks[a], *tb = &doc->toks[b];

    if (!((ta->flags | tb->flags) & LX_JSON_ESCAPED))
        return ta->len == tb->len &&
               memcmp(doc->src + ta->start, doc->src + tb->start, ta->len) == 0;
    return key_cmp(doc, a, b) == 0;
}

static void sift_down(const struct lx_json *doc, uint32_t *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        uint32_t t;

        if (child >= n)
            return;
        if (child + 1 < n && key_cmp(doc, v[child], v[child + 1]) < 0)
            child++;
        if (key_cmp(doc, v[root], v[child]) >= 0)
            return;
        t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

/* Heapsort: O(n log n) whatever the keys, so crafted keys cannot make the check quadratic
 * (a hash set would need a secret seed for that guarantee). */
static void sort_keys(const struct lx_json *doc, uint32_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(doc, v, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = v[0];

        v[0] = v[end];
        v[end] = t;
        sift_down(doc, v, 0, end);
    }
}

/* Object obj is closed. LX_EDUPKEY (err_off at the later copy's quote) if two keys decode to
 * the same bytes. */
static int check_dups(struct parser *ps, uint32_t obj)
{
    struct lx_json *doc = ps->doc;
    uint32_t n = doc->toks[obj].count, k = obj + 1, *keys;
    uint32_t small[SMALL_OBJECT];

    if (n <= SMALL_OBJECT) {
        for (uint32_t j = 0; j < n; j++) {
            for (uint32_t i = 0; i < j; i++) {
                if (key_eq(doc, small[i], k))
                    return fail(ps, LX_EDUPKEY, ps->base + doc->toks[k].start - 1);
            }
            small[j] = k;
            k = doc->toks[k + 1].next;
        }
        return LX_OK;
    }
    if (n > doc->scratch_cap) {
        size_t cap = LX_MAX((size_t)n, 2 * doc->scratch_cap);

        keys = doc_alloc(doc, doc->arena ? NULL : doc->scratch, 0, cap * sizeof(*keys));
        if (keys == NULL)
            return fail(ps, LX_ENOMEM, ps->base + doc->toks[obj].start);
        doc->scratch = keys;
        doc->scratch_cap = cap;
    }
    keys = doc->scratch;
    for (uint32_t j = 0; j < n; j++) {
        keys[j] = k;
        k = doc->toks[k + 1].next;
    }
    sort_keys(doc, keys, n);
    for (uint32_t j = 1; j < n; j++) {
        if (key_eq(doc, keys[j - 1], keys[j])) {
            uint32_t later = LX_MAX(keys[j - 1], keys[j]);

            return fail(ps, LX_EDUPKEY, ps->base + doc->toks[later].start - 1);
        }
    }
    return LX_OK;
}

/* ---- the tokenizer ---- */

void lx_json_init(struct lx_json *doc, const struct lx_json_opts *opts)
{
    memset(doc, 0, sizeof(*doc));
    if (opts != NULL)
        doc->opts = *opts;
    if (doc->opts.max_depth == 0)
        doc->opts.max_depth = LX_JSON_DEFAULT_DEPTH;
    if (doc->opts.max_tokens == 0)
        doc->opts.max_tokens = LX_JSON_DEFAULT_TOKENS;
    if (doc->opts.max_tokens > LX_JSON_MAX_COUNT)
        doc->opts.max_tokens = LX_JSON_MAX_COUNT;
    if (doc->opts.max_len == 0)
        doc->opts.max_len = LX_JSON_DEFAULT_MAX_LEN;
    if (doc->opts.max_len > UINT32_MAX - 1)
        doc->opts.max_len = UINT32_MAX - 1;
}

void lx_json_use_arena(struct lx_json *doc, struct lx_arena *a)
{
    doc->arena = a;
    doc->fixed = false;
    doc->toks = NULL; /* nothing from an earlier source or an arena since reset is kept */
    doc->cap = doc->ntoks = 0;
    doc->scratch = NULL;
    doc->scratch_cap = 0;
}

void lx_json_use_array(struct lx_json *doc, struct lx_json_tok *toks, uint32_t cap)
{
    doc->toks = toks;
    doc->cap = LX_MIN(cap, doc->opts.max_tokens);
    doc->fixed = true;
}

void lx_json_release(struct lx_json *doc)
{
    if (doc->arena == NULL) {
        if (!doc->fixed)
            free(doc->toks);
        free(doc->scratch);
    }
    if (!doc->fixed) {
        doc->toks = NULL;
        doc->cap = 0;
    }
    doc->scratch = NULL;
    doc->scratch_cap = 0;
    doc->ntoks = 0;
}

#define SKIP_WS()                                                                                  \
    do {                                                                                           \
        while (p < end && ws_tab[*p])                                                              \
            p++;                                                                                   \
    } while (0)

#define FAIL(code, at)                                                                             \
    do {                                                                                           \
        rc = fail(&ps, (code), (at));                                                              \
        goto out;                                                                                  \
    } while (0)

#define NEW_TOKEN(ty)                                                                              \
    do {                                                                                           \
        if (LX_UNLIKELY(doc->ntoks == doc->cap) && (rc = grow_tokens(doc)) != LX_OK)               \
            FAIL(rc, p);                                                                           \
        t = &doc->toks[doc->ntoks];                                                                \
        t->start = (uint32_t)(p - base);                                                           \
        t->type = (ty);                                                                            \
        t->flags = 0;                                                                              \
        t->count = 0;                                                                              \
        t->next = ++doc->ntoks;                                                                    \
    } while (0)

int lx_json_parse(struct lx_json *doc, const char *src, size_t len)
{
    const unsigned char *base = (const unsigned char *)(src ? src : ""), *p = base,
                        *end = base + len; /* NULL + 0 is undefined: an empty slice may be NULL */
    struct parser ps = {.doc = doc, .base = base, .end = end, .err_off = 0};
    uint32_t cur = NO_PARENT, depth = 0;
    const bool check_keys = !(doc->opts.flags & LX_JSON_ALLOW_DUPKEYS);
    struct lx_json_tok *t;
    int rc = LX_OK;

    doc->src = src;
    doc->len = len;
    doc->ntoks = 0;
    if (len > doc->opts.max_len)
        FAIL(LX_ETOOBIG, base);
    if (doc->cap == 0 && !doc->fixed) {
        size_t want = LX_MIN(len / 16 + 16, (size_t)doc->opts.max_tokens);
        struct lx_json_tok *toks = doc_alloc(doc, NULL, 0, want * sizeof(*toks));

        if (toks == NULL)
            FAIL(LX_ENOMEM, base);
        doc->toks = toks;
        doc->cap = (uint32_t)want;
    }

value:
    SKIP_WS();
    if (p == end)
        FAIL(LX_EPARSE, p);
    switch (*p) {
    case '{':
    case '[':
        if (depth == doc->opts.max_depth)
            FAIL(LX_EDEPTH, p);
        NEW_TOKEN(*p == '{' ? LX_JSON_OBJECT : LX_JSON_ARRAY);
        t->next = cur; /* parent link while open */
        cur = doc->ntoks - 1;
        depth++;
        if (*p++ == '{') {
            SKIP_WS();
            if (p < end && *p == '}')
                goto close;
            t->count = 1;
            goto key;
        }
        SKIP_WS();
        if (p < end && *p == ']')
            goto close;
        t->count = 1;
        goto value;
    case '"': {
        unsigned flags = 0;

        p++;
        NEW_TOKEN(LX_JSON_STRING);
        if ((rc = scan_string(&ps, &p, &flags)) != LX_OK)
            goto out;
        t = &doc->toks[doc->ntoks - 1];
        t->len = (uint32_t)(p - base) - t->start;
        t->flags = flags & 0xF;
        p++;
        goto after;
    }
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            FAIL(LX_EPARSE, p);
        NEW_TOKEN(LX_JSON_TRUE);
        t->len = 4;
        p += 4;
        goto after;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            FAIL(LX_EPARSE, p);
        NEW_TOKEN(LX_JSON_FALSE);
        t->len = 5;
        p += 5;
        goto after;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            FAIL(LX_EPARSE, p);
        NEW_TOKEN(LX_JSON_NULL);
        t->len = 4;
        p += 4;
        goto after;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        NEW_TOKEN(LX_JSON_NUMBER);
        if ((rc = scan_number(&ps, &p)) != LX_OK)
            goto out;
        t = &doc->toks[doc->ntoks - 1];
        t->len = (uint32_t)(p - base) - t->start;
        goto after;
    default:
        FAIL(LX_EPARSE, p);
    }

key:
    /* p is at the first non-blank after '{' or ',' */
    SKIP_WS();
    if (p == end || *p != '"')
        FAIL(LX_EPARSE, p);
    {
        unsigned flags = 0;

        p++;
        NEW_TOKEN(LX_JSON_STRING);
        if ((rc = scan_string(&ps, &p, &flags)) != LX_OK)
            goto out;
        t = &doc->toks[doc->ntoks - 1];
        t->len = (uint32_t)(p - base) - t->start;
        t->flags = flags & 0xF;
        p++;
    }
    SKIP_WS();
    if (p == end || *p != ':')
        FAIL(LX_EPARSE, p);
    p++;
    goto value;

after:
    if (cur == NO_PARENT)
        goto done;
    SKIP_WS();
    if (p == end)
        FAIL(LX_EPARSE, p);
    t = &doc->toks[cur];
    if (*p == ',') {
        p++;
        t->count++;
        if (t->type == LX_JSON_OBJECT)
            goto key;
        goto value;
    }
    if (*p != (t->type == LX_JSON_OBJECT ? '}' : ']'))
        FAIL(LX_EPARSE, p);

close:
    /* p is at the closing bracket of container cur */
    t = &doc->toks[cur];
    p++;
    {
        uint32_t parent = t->next, obj = cur;

        t->next = doc->ntoks;
        t->len = (uint32_t)(p - base) - t->start;
        if (check_keys && t->type == LX_JSON_OBJECT && t->count > 1 &&
            (rc = check_dups(&ps, obj)) != LX_OK)
            goto out;
        cur = parent;
        depth--;
    }
    goto after;

done:
    SKIP_WS();
    if (p != end)
        FAIL(LX_EPARSE, p);
out:
    doc->err = rc;
    doc->err_off = rc == LX_OK ? 0 : ps.err_off;
    if (rc != LX_OK)
        doc->ntoks = 0;
    return rc;
}

/* ---- readers ---- */

int lx_json_first(const struct lx_json *doc, int c)
{
    enum lx_json_type ty = lx_json_type(doc, c);

    if ((ty != LX_JSON_OBJECT && ty != LX_JSON_ARRAY) || doc->toks[c].count == 0)
        return -1;
    return c + 1;
}

int lx_json_sibling(const struct lx_json *doc, int c, int child)
{
    uint32_t nx;

    if (child <= c || lx_json_type(doc, c) == LX_JSON_NONE || (uint32_t)child >= doc->toks[c].next)
        return -1;
    nx = doc->toks[c].type == LX_JSON_OBJECT ? doc->toks[child + 1].next : doc->toks[child].next;
    return nx < doc->toks[c].next ? (int)nx : -1;
}

int lx_json_get(const struct lx_json *doc, int obj, struct lx_str key)
{
    if (lx_json_type(doc, obj) != LX_JSON_OBJECT)
        return -1;
    for (int k = lx_json_first(doc, obj); k >= 0; k = lx_json_sibling(doc, obj, k)) {
        if (lx_json_str_eq(doc, k, key))
            return k + 1;
    }
    return -1;
}

struct lx_str lx_json_raw(const struct lx_json *doc, int i)
{
    enum lx_json_type ty = lx_json_type(doc, i);

    if (ty == LX_JSON_NONE)
        return LX_STR_NULL;
    if (ty == LX_JSON_STRING)
        return lx_str_make(doc->src + doc->toks[i].start - 1, doc->toks[i].len + 2);
    return lx_str_make(doc->src + doc->toks[i].start, doc->toks[i].len);
}

struct lx_str lx_json_str_raw(const struct lx_json *doc, int i)
{
    if (lx_json_type(doc, i) != LX_JSON_STRING)
        return LX_STR_NULL;
    return lx_str_make(doc->src + doc->toks[i].start, doc->toks[i].len);
}

bool lx_json_str_eq(const struct lx_json *doc, int i, struct lx_str lit)
{
    const struct lx_json_tok *t;
    struct dec d;

    if (lx_json_type(doc, i) != LX_JSON_STRING)
        return false;
    t = &doc->toks[i];
    if (!(t->flags & LX_JSON_ESCAPED))
        return t->len == lit.len &&
               (lit.len == 0 || memcmp(doc->src + t->start, lit.ptr, lit.len) == 0);
    dec_init(&d, doc, i);
    for (size_t k = 0; k < lit.len; k++) {
        if (dec_byte(&d) != (unsigned char)lit.ptr[k])
            return false;
    }
    return dec_byte(&d) < 0;
}

int lx_json_unescape(const struct lx_json *doc, int i, struct lx_buf *out)
{
    const unsigned char *p, *end, *run;

    if (lx_json_type(doc, i) != LX_JSON_STRING)
        return LX_EINVAL;
    p = run = (const unsigned char *)doc->src + doc->toks[i].start;
    end = p + doc->toks[i].len;
    if (!(doc->toks[i].flags & LX_JSON_ESCAPED))
        return lx_buf_append(out, p, (size_t)(end - p));
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        unsigned char u[4];
        size_t n;

        if (bs == NULL)
            break;
        lx_buf_append(out, run, (size_t)(bs - run));
        p = bs + unescape_one(bs, u, &n);
        lx_buf_append(out, u, n);
        run = p;
    }
    lx_buf_append(out, run, (size_t)(end - run));
    return out->err;
}

int lx_json_str(const struct lx_json *doc, int i, struct lx_arena *a, struct lx_str *out)
{
    const struct lx_json_tok *t;
    struct dec d;
    size_t n = 0;
    char *p;

    if (lx_json_type(doc, i) != LX_JSON_STRING)
        return LX_EINVAL;
    t = &doc->toks[i];
    if (!(t->flags & LX_JSON_ESCAPED)) {
        *out = lx_str_make(doc->src + t->start, t->len);
        return LX_OK;
    }
    /* decoded text is never longer than the raw span */
    p = lx_arena_alloc(a, (size_t)t->len + 1);
    if (p == NULL)
        return LX_ENOMEM;
    dec_init(&d, doc, i);
    for (int c; (c = dec_byte(&d)) >= 0;)
        p[n++] = (char)c;
    p[n] = '\0';
    *out = lx_str_make(p, n);
    return LX_OK;
}

/* Digits of an integer-syntax number token (no fraction or exponent). */
static int int_digits(const struct lx_json *doc, int i, struct lx_str *digits, bool *neg)
{
    struct lx_str s;

    if (lx_json_type(doc, i) != LX_JSON_NUMBER)
        return LX_EINVAL;
    s = lx_json_raw(doc, i);
    *neg = s.ptr[0] == '-';
    if (*neg) {
        s.ptr++;
        s.len--;
    }
    for (size_t k = 0; k < s.len; k++) {
        if (s.ptr[k] < '0' || s.ptr[k] > '9')
            return LX_EINVAL;
    }
    *digits = s;
    return LX_OK;
}

static int digits_u64(struct lx_str s, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t k = 0; k < s.len; k++) {
        unsigned d = (unsigned)(s.ptr[k] - '0');

        if (v > (UINT64_MAX - d) / 10)
            return LX_ETOOBIG;
        v = v * 10 + d;
    }
    *out = v;
    return LX_OK;
}

int lx_json_uint64(const struct lx_json *doc, int i, uint64_t *out)
{
    struct lx_str s;
    uint64_t v;
    bool neg;
    int rc;

    if ((rc = int_digits(doc, i, &s, &neg)) != LX_OK || (rc = digits_u64(s, &v)) != LX_OK)
        return rc;
    if (neg && v != 0)
        return LX_ETOOBIG; /* below the range; "-0" is 0 */
    *out = v;
    return LX_OK;
}

int lx_json_int64(const struct lx_json *doc, int i, int64_t *out)
{
    struct lx_str s;
    uint64_t v;
    bool neg;
    int rc;

    if ((rc = int_digits(doc, i, &s, &neg)) != LX_OK || (rc = digits_u64(s, &v)) != LX_OK)
        return rc;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return LX_ETOOBIG;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return LX_ETOOBIG;
        *out = (int64_t)v;
    }
    return LX_OK;
}

int lx_json_double(const struct lx_json *doc, int i, double *out)
{
    char small[64], *copy = small, *endp;
    struct lx_str s;
    double v;
    int rc = LX_OK;

    if (lx_json_type(doc, i) != LX_JSON_NUMBER)
        return LX_EINVAL;
    s = lx_json_raw(doc, i);
    if (s.len >= sizeof(small) && (copy = lx_malloc(s.len + 1)) == NULL)
        return LX_ENOMEM;
    memcpy(copy, s.ptr, s.len);
    copy[s.len] = '\0';
    errno = 0;
    v = strtod(copy, &endp);
    if (endp != copy + s.len)
        rc = LX_EINVAL; /* not the C locale */
    else if (errno == ERANGE && (v > 1.0 || v < -1.0))
        rc = LX_ETOOBIG;
    else
        *out = v;
    if (copy != small)
        free(copy);
    return rc;
}

int lx_json_bool(const struct lx_json *doc, int i, bool *out)
{
    switch (lx_json_type(doc, i)) {
    case LX_JSON_TRUE:
        *out = true;
        return LX_OK;
    case LX_JSON_FALSE:
        *out = false;
        return LX_OK;
    default:
        return LX_EINVAL;
    }
}
