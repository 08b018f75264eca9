/* test_sse.c - the SSE parser: spec cases (WHATWG §9.2.6), every provider fixture split at every
 * byte and fed one byte at a time, limits, callback errors and allocation failures. Network
 * reads can cut a stream anywhere, so every case must give the same events however it is split.
 * Single-threaded. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "sse/sse.h"
#include "tests/unit/test.h"

/* ---- recording and comparing event lists ---- */

struct ev_copy { /* a deep copy of one lx_sse_event */
    enum lx_sse_kind kind;
    bool has_data;
    int64_t retry;
    struct lx_str event, data, id;
};

struct ev_list {
    struct ev_copy *v;
    size_t n, cap;
};

static char *dup_bytes(struct lx_str s)
{
    char *p = lx_xmalloc(s.len + 1);

    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

static int collect_cb(void *ctx, const struct lx_sse_event *ev)
{
    struct ev_list *l = ctx;
    struct ev_copy *c;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = lx_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    c = &l->v[l->n++];
    c->kind = ev->kind;
    c->has_data = ev->has_data;
    c->retry = ev->retry;
    c->event = lx_str_make(dup_bytes(ev->event), ev->event.len);
    c->data = lx_str_make(dup_bytes(ev->data), ev->data.len);
    c->id = lx_str_make(dup_bytes(ev->id), ev->id.len);
    return LX_OK;
}

static void ev_list_free(struct ev_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].event.ptr);
        free((char *)l->v[i].data.ptr);
        free((char *)l->v[i].id.ptr);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Compares each event as it comes with want->v[i], without copying (the split tests run
 * the big fixtures thousands of times). */
struct checker {
    const struct ev_list *want;
    size_t i;
    bool bad;
};

static int check_cb(void *ctx, const struct lx_sse_event *ev)
{
    struct checker *c = ctx;
    const struct ev_copy *w;

    if (c->i >= c->want->n) {
        c->bad = true;
        return LX_EPROTO;
    }
    w = &c->want->v[c->i++];
    if (w->kind != ev->kind || w->has_data != ev->has_data || w->retry != ev->retry ||
        !lx_str_eq(w->event, ev->event) || !lx_str_eq(w->data, ev->data) ||
        !lx_str_eq(w->id, ev->id)) {
        c->bad = true;
        return LX_EPROTO;
    }
    return LX_OK;
}

/* Feeds in as one chunk; events into *out. Returns the feed error, or finish's result. */
static int parse_whole(struct lx_str in, unsigned flags, size_t max, struct ev_list *out)
{
    struct lx_sse_parser p;
    int rc;

    lx_sse_init(&p, max);
    lx_sse_set_flags(&p, flags);
    rc = lx_sse_feed(&p, in, collect_cb, out);
    if (rc == LX_OK)
        rc = lx_sse_finish(&p);
    lx_sse_release(&p);
    return rc;
}

/* Feeds in as the chunks [0, cuts[0]), [cuts[0], cuts[1]) ... [cuts[n-1], len), or one byte at
 * a time when cuts == NULL, each copied into scratch (in.len bytes). True if the events and the
 * final result equal want and want_rc. */
static bool parse_split_same(struct lx_str in, const size_t *cuts, size_t ncuts, unsigned flags,
                             size_t max, const struct ev_list *want, int want_rc, char *scratch)
{
    struct lx_sse_parser p;
    struct checker c = {.want = want};
    size_t from = 0, nchunks = cuts ? ncuts + 1 : in.len;
    int rc = LX_OK;

    lx_sse_init(&p, max);
    lx_sse_set_flags(&p, flags);
    for (size_t k = 0; k < nchunks && rc == LX_OK; k++) {
        size_t to = cuts ? (k < ncuts ? cuts[k] : in.len) : from + 1;

        /* every chunk is read into the same buffer, wiped after the feed, as a network read
         * buffer would be reused: the parser must not keep pointers into it */
        memcpy(scratch, in.ptr + from, to - from);
        rc = lx_sse_feed(&p, lx_str_make(scratch, to - from), check_cb, &c);
        memset(scratch, 0xAA, to - from);
        from = to;
    }
    if (rc == LX_OK)
        rc = lx_sse_finish(&p);
    lx_sse_release(&p);
    return !c.bad && c.i == want->n && rc == want_rc;
}

/* Whole feed vs every two-chunk split vs one byte at a time. Returns the first failing cut
 * (len + 1 for the byte-at-a-time run) or -1 when all agree. */
static long split_everywhere(struct lx_str in, unsigned flags, size_t max,
                             const struct ev_list *want, int want_rc)
{
    char *scratch = lx_xmalloc(in.len + 1);
    long bad = -1;

    for (size_t cut = 0; cut <= in.len && bad < 0; cut++)
        if (!parse_split_same(in, &cut, 1, flags, max, want, want_rc, scratch))
            bad = (long)cut;
    if (bad < 0 && !parse_split_same(in, NULL, 0, flags, max, want, want_rc, scratch))
        bad = (long)in.len + 1;
    free(scratch);
    return bad;
}

/* "type=data@id~retry" per event, " | " between; comments "#text"; dataless events "type=-";
 * LF in data shown as "\n". For readable expectations in the tables. */
static void format_events(const struct ev_list *l, struct lx_buf *b)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct ev_copy *e = &l->v[i];

        if (i)
            lx_buf_append_cstr(b, " | ");
        if (e->kind == LX_SSE_COMMENT) {
            lx_buf_append_char(b, '#');
            lx_buf_append_str(b, e->data);
            continue;
        }
        if (e->event.len) {
            lx_buf_append_str(b, e->event);
            lx_buf_append_char(b, '=');
        }
        if (!e->has_data)
            lx_buf_append_char(b, '-');
        for (size_t k = 0; k < e->data.len; k++) {
            if (e->data.ptr[k] == '\n')
                lx_buf_append_cstr(b, "\\n");
            else
                lx_buf_append_char(b, e->data.ptr[k]);
        }
        if (e->id.len) {
            lx_buf_append_char(b, '@');
            lx_buf_append_str(b, e->id);
        }
        if (e->retry >= 0)
            lx_buf_appendf(b, "~%lld", (long long)e->retry);
    }
}

/* ---- spec cases ---- */

#define IN(lit) lit, sizeof(lit) - 1
static const struct {
    const char *in;
    size_t len;
    unsigned flags;
    const char *want;
    int rc; /* of lx_sse_finish */
} cases[] = {
    /* line endings */
    {IN("data: a\n\n"), 0, "a", LX_OK},
    {IN("data: a\r\n\r\n"), 0, "a", LX_OK},
    {IN("data: a\r\r"), 0, "a", LX_OK},
    {IN("data: a\r\ndata: b\rdata: c\n\r\n"), 0, "a\\nb\\nc", LX_OK},
    {IN("data: a\n\r"), 0, "a", LX_OK}, /* a final CR is a whole line end: no wait for LF */
    {IN("\n\n\r\n\rdata: a\n\n\n\n"), 0, "a", LX_OK},
    /* the space after the colon */
    {IN("data:a\n\n"), 0, "a", LX_OK},
    {IN("data:  a\n\n"), 0, " a", LX_OK},
    {IN("data: a \n\n"), 0, "a ", LX_OK},
    {IN("data:a:b: c\n\n"), 0, "a:b: c", LX_OK},
    {IN("data:\ta\n\n"), 0, "\ta", LX_OK},
    /* multi-line and empty data */
    {IN("data: a\ndata: b\n\n"), 0, "a\\nb", LX_OK},
    {IN("data: a\ndata:\ndata: b\n\n"), 0, "a\\n\\nb", LX_OK},
    {IN("data\n\n"), 0, "", LX_OK},
    {IN("data:\n\n"), 0, "", LX_OK},
    {IN("data:\ndata:\n\n"), 0, "\\n", LX_OK},
    {IN("data: a\n\ndata: b\n\n"), 0, "a | b", LX_OK},
    {IN("data: [DONE]\n\n"), 0, "[DONE]", LX_OK},
    /* comments */
    {IN(": ping\n\n"), 0, "", LX_OK},
    {IN(": ping\n\n"), LX_SSE_COMMENTS, "# ping", LX_OK},
    {IN(":\n"), LX_SSE_COMMENTS, "#", LX_OK},
    {IN("data: a\n: inside\ndata: b\n\n"), LX_SSE_COMMENTS, "# inside | a\\nb", LX_OK},
    {IN(": OPENROUTER PROCESSING\n\ndata:{\"x\":1}\n\n"), 0, "{\"x\":1}", LX_OK},
    {IN(": OPENROUTER PROCESSING\r\n\r\ndata:{}\r\n\r\n"), LX_SSE_COMMENTS,
     "# OPENROUTER PROCESSING | {}", LX_OK},
    {IN("data: a\n\n: half a comm"), 0, "a", LX_OK}, /* a cut comment is no event */
    /* event, id, retry */
    {IN("event: foo\ndata: x\n\n"), 0, "foo=x", LX_OK},
    {IN("event:foo\nevent: bar\ndata: x\n\n"), 0, "bar=x", LX_OK},
    {IN("event: e\ndata: a\n\ndata: b\n\n"), 0, "e=a | b", LX_OK},
    {IN("event: e\n\ndata: b\n\n"), 0, "b", LX_OK}, /* no data: not dispatched, type reset */
    {IN("event: ping\n\ndata: b\n\n"), LX_SSE_DATALESS, "ping=- | b", LX_OK},
    {IN("id: 1\n\n"), LX_SSE_DATALESS, "-@1", LX_OK},
    {IN("retry: 5\n\n"), LX_SSE_DATALESS, "", LX_OK}, /* retry alone is not an event */
    {IN("id: 7\ndata: x\n\ndata: y\n\n"), 0, "x@7 | y@7", LX_OK}, /* the last ID persists */
    {IN("id: 7\ndata: x\n\nid\ndata: y\n\n"), 0, "x@7 | y", LX_OK},
    {IN("id: 7\ndata: x\n\nid: a\0b\ndata: y\n\n"), 0, "x@7 | y@7", LX_OK}, /* NUL: ignored */
    {IN("retry: 1500\ndata: x\n\n"), 0, "x~1500", LX_OK},
    {IN("retry: 15x\ndata: x\n\n"), 0, "x", LX_OK},
    {IN("retry:\ndata: x\n\n"), 0, "x", LX_OK},
    {IN("retry: -5\ndata: x\n\n"), 0, "x", LX_OK},
    {IN("retry: 99999999999999999999999\ndata: x\n\n"), 0, "x", LX_OK},
    {IN("retry: 10\ndata: x\n\nretry: 20x\ndata: y\n\n"), 0, "x~10 | y~10", LX_OK},
    /* unknown fields; names are case-sensitive and exact */
    {IN("foo: bar\ndata: a\n\n"), 0, "a", LX_OK},
    {IN("Data: a\n\n"), 0, "", LX_OK},
    {IN("data : a\n\n"), 0, "", LX_OK},
    {IN(" data: a\n\n"), 0, "", LX_OK},
    {IN("datas: a\nevents: e\nids: 1\n\n"), LX_SSE_DATALESS, "", LX_OK},
    /* byte order mark: one leading BOM only */
    {IN("\xEF\xBB\xBF" "data: a\n\n"), 0, "a", LX_OK},
    {IN("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n"), 0, "b", LX_OK},
    {IN("\xEF\xBB" "data: a\n\ndata: b\n\n"), 0, "b", LX_OK},
    {IN("\xEF\n\ndata: b\n\n"), 0, "b", LX_OK},
    {IN("data: a\xEF\xBB\xBF\n\n"), 0, "a\xEF\xBB\xBF", LX_OK},
    {IN("\xEF\xBB\xBF"), 0, "", LX_OK},
    {IN("\xEF\xBB"), 0, "", LX_ETRUNCATED},
    /* cut streams */
    {IN(""), 0, "", LX_OK},
    {IN("data: a\n"), 0, "", LX_ETRUNCATED},
    {IN("data: a"), 0, "", LX_ETRUNCATED},
    {IN("data: a\n\nevent: x\n"), 0, "a", LX_ETRUNCATED},
    {IN("data: a\n\nid: 3\n"), 0, "a", LX_ETRUNCATED},
    {IN("data: a\n\nda"), 0, "a", LX_ETRUNCATED},
    {IN("data: a\n\n\r"), 0, "a", LX_OK},
    /* bytes are not decoded: NUL and invalid UTF-8 pass through */
    {IN("data: a\0b\n\n"), 0, "a", LX_OK}, /* (the table format stops at NUL) */
    {IN("data: \xff\xfe\n\n"), 0, "\xff\xfe", LX_OK},
};

LX_TEST(sse_spec_cases)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_str in = lx_str_make(cases[i].in, cases[i].len);
        struct ev_list got = {0};
        struct lx_buf fmt = LX_BUF_INIT(1 << 16);
        int rc = parse_whole(in, cases[i].flags, 4096, &got);
        long bad;

        format_events(&got, &fmt);
        if (strlen(fmt.ptr) != strlen(cases[i].want) || strcmp(fmt.ptr, cases[i].want) != 0)
            LX_FAIL("case %zu: events \"%s\", want \"%s\"", i, fmt.ptr, cases[i].want);
        if (rc != cases[i].rc)
            LX_FAIL("case %zu: finish %s, want %s", i, lx_err_name(rc), lx_err_name(cases[i].rc));
        bad = split_everywhere(in, cases[i].flags, 4096, &got, rc);
        if (bad >= 0)
            LX_FAIL("case %zu: split at %ld gives other events", i, bad);
        lx_buf_release(&fmt);
        ev_list_free(&got);
    }
    return 0;
}

/* The NUL case above, checked on lengths since the table format stops at NUL. */
LX_TEST(sse_nul_in_data)
{
    struct ev_list got = {0};

    LX_ASSERT_EQ(LX_OK, parse_whole(LX_STR("data: a\0b\n\n"), 0, 64, &got));
    LX_ASSERT_EQ(1, got.n);
    LX_ASSERT_EQ(3, got.v[0].data.len);
    LX_ASSERT(memcmp(got.v[0].data.ptr, "a\0b", 3) == 0);
    ev_list_free(&got);
    return 0;
}

/* Three chunks, so that a line and an event span a whole middle chunk. */
LX_TEST(sse_three_chunks)
{
    static const char in[] = "event: e\r\ndata: first line\r\ndata: second\r\n\r\nid: 9\r"
                             "data: x\r\r";
    struct lx_str s = lx_str_make(in, sizeof(in) - 1);
    struct ev_list want = {0};
    char scratch[sizeof(in)];

    LX_ASSERT_EQ(LX_OK, parse_whole(s, 0, 4096, &want));
    LX_ASSERT_EQ(2, want.n);
    LX_ASSERT_STR(want.v[0].data, "first line\nsecond");
    LX_ASSERT_STR(want.v[1].id, "9");
    for (size_t a = 0; a <= s.len; a++) {
        for (size_t b = a; b <= s.len; b++) {
            size_t cuts[2] = {a, b};

            if (!parse_split_same(s, cuts, 2, 0, 4096, &want, LX_OK, scratch))
                LX_FAIL("cuts %zu %zu", a, b);
        }
    }
    ev_list_free(&want);
    return 0;
}

/* ---- fixtures ---- */

/* Calls fn for every file under protocols/fixtures/<provider>/ whose name ends in ext, with the
 * name "provider/file" and the bytes; *count says how many. Returns 1 if any fn failed. Also used
 * by test_sse_ndjson.c, which repeats this prototype (test files have no headers). */
typedef int lx_test_fixture_fn(const char *name, struct lx_str body);
int lx_test_sse_for_each_fixture(const char *ext, lx_test_fixture_fn *fn, int *count);
int lx_test_sse_for_each_fixture(const char *ext, lx_test_fixture_fn *fn, int *count)
{
    char root[4096], dirpath[4096 + 256], path[4096 + 512];
    DIR *top, *sub;
    struct dirent *d, *f;
    int failed = 0;

    snprintf(root, sizeof(root), "%s", lx_test_shared("protocols/fixtures"));
    top = opendir(root);
    if (top == NULL)
        LX_FAIL("cannot open %s", root);
    *count = 0;
    while ((d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        snprintf(dirpath, sizeof(dirpath), "%s/%s", root, d->d_name);
        sub = opendir(dirpath);
        if (sub == NULL)
            continue; /* a plain file such as SOURCES.md */
        while ((f = readdir(sub)) != NULL) {
            size_t n = strlen(f->d_name), e = strlen(ext);
            char *body;
            size_t len;

            if (n <= e || strcmp(f->d_name + n - e, ext) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dirpath, f->d_name);
            body = lx_test_read_file(path, &len);
            if (body == NULL) {
                fprintf(stderr, "cannot read %s\n", path);
                failed = 1;
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", d->d_name, f->d_name);
            if (fn(path, lx_str_make(body, len)) != 0) {
                fprintf(stderr, "  in fixture %s\n", path);
                failed = 1;
            }
            (*count)++;
            free(body);
        }
        closedir(sub);
    }
    closedir(top);
    return failed;
}

static int sse_fixture(const char *name, struct lx_str body)
{
    const unsigned flags = LX_SSE_COMMENTS | LX_SSE_DATALESS;
    struct ev_list want = {0};
    size_t n_comments = 0;
    long bad;
    int rc = parse_whole(body, flags, 1 << 20, &want);

    /* every fixture ends between events and holds only data events (and comments) */
    if (rc != LX_OK)
        LX_FAIL("whole feed: %s", lx_err_name(rc));
    LX_ASSERT(want.n > 0);
    for (size_t i = 0; i < want.n; i++) {
        n_comments += want.v[i].kind == LX_SSE_COMMENT;
        if (want.v[i].kind == LX_SSE_EVENT) {
            LX_ASSERT(want.v[i].has_data);
            LX_ASSERT(want.v[i].data.len > 0);
            /* every payload is one JSON value or [DONE]: no line end or prefix left over */
            LX_ASSERT(want.v[i].data.ptr[0] == '{' || want.v[i].data.ptr[0] == '[');
            LX_ASSERT(memchr(want.v[i].data.ptr, '\r', want.v[i].data.len) == NULL);
        }
    }
    bad = split_everywhere(body, flags, 1 << 20, &want, LX_OK);
    if (bad >= 0)
        LX_FAIL("split at %ld gives other events", bad);

    /* hand-checked facts about a few fixtures (grep -c '^data:' etc.) */
    if (strcmp(name, "openai/chat_stream.sse") == 0) {
        LX_ASSERT_EQ(51, want.n);
        LX_ASSERT_STR(want.v[50].data, "[DONE]");
        LX_ASSERT_STR(want.v[50].event, "");
    } else if (strcmp(name, "anthropic/messages_stream.sse") == 0) {
        LX_ASSERT_EQ(12, want.n);
        LX_ASSERT_STR(want.v[0].event, "message_start");
        LX_ASSERT_STR(want.v[11].event, "message_stop");
        LX_ASSERT_STR(want.v[11].data, "{\"type\":\"message_stop\"}");
    } else if (strcmp(name, "anthropic/messages_stream_midstream_error.sse") == 0) {
        LX_ASSERT_EQ(5, want.n);
        LX_ASSERT_STR(want.v[4].event, "error");
    } else if (strcmp(name, "openrouter/chat_stream.sse") == 0) {
        LX_ASSERT_EQ(9, want.n);
        LX_ASSERT_EQ(3, n_comments);
        LX_ASSERT_EQ(LX_SSE_COMMENT, want.v[0].kind);
        LX_ASSERT_STR(want.v[0].data, " OPENROUTER PROCESSING");
        LX_ASSERT_STR(want.v[8].data, "[DONE]");
    } else if (strcmp(name, "gemini/stream.sse") == 0) {
        LX_ASSERT_EQ(6, want.n); /* CRLF framing */
    } else if (strcmp(name, "vertex/stream_tool_call_partial_args.sse") == 0) {
        LX_ASSERT_EQ(76, want.n);
    } else if (strcmp(name, "compat/xai_stream_tools.sse") == 0) {
        LX_ASSERT_EQ(231, want.n);
    }
    ev_list_free(&want);

    /* without the flags, comments are not reported and nothing else changes */
    rc = parse_whole(body, 0, 1 << 20, &want);
    LX_ASSERT_EQ(LX_OK, rc);
    for (size_t i = 0; i < want.n; i++)
        LX_ASSERT_EQ(LX_SSE_EVENT, want.v[i].kind);
    ev_list_free(&want);

    /* cut one byte before the end (the final blank line's LF, or its CR LF): always
     * truncated, with the last event undelivered */
    rc = parse_whole(lx_str_make(body.ptr, body.len - 1 - (body.ptr[body.len - 2] == '\r')), 0,
                     1 << 20, &want);
    LX_ASSERT_EQ(LX_ETRUNCATED, rc);
    ev_list_free(&want);
    return 0;
}

LX_TEST(sse_fixtures_split_anywhere)
{
    int n;

    if (lx_test_sse_for_each_fixture(".sse", sse_fixture, &n) != 0)
        return 1;
    LX_ASSERT(n >= 30); /* 32 when written: the walk must really find them */
    return 0;
}

/* ---- limits, errors, allocation failures ---- */

LX_TEST(sse_max_event)
{
    static const char line[] = "data: 0123456789\n\n"; /* the data line is 16 bytes */
    struct lx_str in = lx_str_make(line, sizeof(line) - 1);
    struct ev_list got = {0};

    LX_ASSERT_EQ(LX_OK, parse_whole(in, 0, 16, &got));
    LX_ASSERT_EQ(1, got.n);
    LX_ASSERT_EQ(-1, split_everywhere(in, 0, 16, &got, LX_OK));
    ev_list_free(&got);

    LX_ASSERT_EQ(LX_ETOOBIG, parse_whole(in, 0, 15, &got));
    LX_ASSERT_EQ(0, got.n);
    LX_ASSERT_EQ(-1, split_everywhere(in, 0, 15, &got, LX_ETOOBIG));
    return 0;
}

/* Many small data lines add up: the event is bounded, not just each line. Event types count
 * too. An event that fits after one that did not fit is never reached: errors are sticky. */
LX_TEST(sse_max_event_accumulates)
{
    struct lx_sse_parser p;
    struct ev_list got = {0};
    int rc = LX_OK;
    size_t fed = 0;

    lx_sse_init(&p, 1000);
    while (rc == LX_OK && fed < 10000) {
        rc = lx_sse_feed(&p, LX_STR("data: 0123456789\n"), collect_cb, &got);
        fed += 17;
    }
    LX_ASSERT_EQ(LX_ETOOBIG, rc);
    /* after k lines the data is 11k - 1 bytes; line k + 1 (16 bytes) no longer fits at k = 90 */
    LX_ASSERT_EQ(91 * 17, fed);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_sse_feed(&p, LX_STR("\n"), collect_cb, &got));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_sse_finish(&p));
    LX_ASSERT_EQ(0, got.n);
    lx_sse_release(&p);

    /* a huge comment line or unknown field is bounded too (it is buffered while cut) */
    lx_sse_init(&p, 100);
    rc = LX_OK;
    for (int i = 0; i < 20 && rc == LX_OK; i++)
        rc = lx_sse_feed(&p, LX_STR(": 0123456789"), collect_cb, &got);
    LX_ASSERT_EQ(LX_ETOOBIG, rc);
    lx_sse_release(&p);
    return 0;
}

static int stop_at_second(void *ctx, const struct lx_sse_event *ev)
{
    int *n = ctx;

    return ++*n == 2 ? LX_ECANCELED : LX_OK;
}

LX_TEST(sse_callback_error_stops)
{
    struct lx_sse_parser p;
    int n = 0;

    lx_sse_init(&p, 4096);
    LX_ASSERT_EQ(LX_ECANCELED,
                 lx_sse_feed(&p, LX_STR("data: 1\n\ndata: 2\n\ndata: 3\n\n"), stop_at_second, &n));
    LX_ASSERT_EQ(2, n);
    LX_ASSERT_EQ(LX_ECANCELED, lx_sse_feed(&p, LX_STR("data: 4\n\n"), stop_at_second, &n));
    LX_ASSERT_EQ(2, n);
    lx_sse_release(&p);
    return 0;
}

/* The parser only allocates for what spans chunks; feed one byte at a time so every buffer is
 * used, and fail the 1st, 2nd, ... fallible allocation: LX_ENOMEM each time, never a crash or
 * a leak (ASan), and the same events as without failures once n is past the last one. */
LX_TEST(sse_alloc_failures)
{
    static const char in[] = "event: e\r\nid: 12\r\ndata: first\r\ndata: second\r\n\r\n"
                             "data: x\n\n";
    struct lx_str s = lx_str_make(in, sizeof(in) - 1);
    struct ev_list want = {0};
    int n;

    LX_ASSERT_EQ(LX_OK, parse_whole(s, 0, 4096, &want));
    for (n = 0; n < 100; n++) {
        struct lx_sse_parser p;
        struct ev_list got = {0};
        int rc = LX_OK;

        lx_sse_init(&p, 4096);
        lx_alloc_fail_after(n);
        for (size_t i = 0; i < s.len && rc == LX_OK; i++)
            rc = lx_sse_feed(&p, lx_str_make(s.ptr + i, 1), collect_cb, &got);
        if (rc == LX_OK)
            rc = lx_sse_finish(&p);
        lx_alloc_fail_after(-1);
        lx_sse_release(&p);
        if (rc == LX_OK) {
            LX_ASSERT_EQ(want.n, got.n);
            LX_ASSERT_STR(got.v[0].data, "first\nsecond");
            ev_list_free(&got);
            break;
        }
        LX_ASSERT_EQ(LX_ENOMEM, rc);
        ev_list_free(&got);
    }
    LX_ASSERT(n > 0 && n < 100); /* some allocation happened, and the loop ended */
    ev_list_free(&want);
    return 0;
}

/* finish makes the parser ready for a new stream (and a new BOM); the last ID stays. */
LX_TEST(sse_finish_resets)
{
    struct lx_sse_parser p;
    struct ev_list got = {0};

    lx_sse_init(&p, 4096);
    LX_ASSERT_EQ(LX_OK, lx_sse_feed(&p, LX_STR("id: 5\ndata: a\n\nevent: x\ndata: cut"),
                                    collect_cb, &got));
    LX_ASSERT_EQ(LX_ETRUNCATED, lx_sse_finish(&p));
    LX_ASSERT_EQ(LX_OK, lx_sse_feed(&p, LX_STR("\xEF\xBB\xBF" "data: b\n\n"), collect_cb, &got));
    LX_ASSERT_EQ(LX_OK, lx_sse_finish(&p));
    LX_ASSERT_EQ(2, got.n);
    LX_ASSERT_STR(got.v[1].data, "b");
    LX_ASSERT_STR(got.v[1].event, "");
    LX_ASSERT_STR(got.v[1].id, "5");
    lx_sse_release(&p);
    ev_list_free(&got);
    return 0;
}

/* A whole event inside one chunk reaches the callback without a copy: data points into the
 * chunk (the hot path). A cut one comes from the parser's buffer. */
static int where_cb(void *ctx, const struct lx_sse_event *ev)
{
    const char **where = ctx;

    *where = ev->data.ptr;
    return LX_OK;
}

LX_TEST(sse_zero_copy_in_chunk)
{
    static const char in[] = "data: {\"a\":1}\n\n";
    struct lx_sse_parser p;
    const char *where = NULL;

    lx_sse_init(&p, 4096);
    LX_ASSERT_EQ(LX_OK, lx_sse_feed(&p, lx_str_make(in, sizeof(in) - 1), where_cb, &where));
    LX_ASSERT(where == in + 6);
    LX_ASSERT_EQ(LX_OK, lx_sse_feed(&p, lx_str_make(in, 8), where_cb, &where));
    LX_ASSERT_EQ(LX_OK, lx_sse_feed(&p, lx_str_make(in + 8, sizeof(in) - 9), where_cb, &where));
    LX_ASSERT(where == p.data_buf.ptr); /* the cut line was copied */
    lx_sse_release(&p);
    return 0;
}

/* ---- writer (writer.h): exact bytes, and what it writes parses back to the same event ---- */

#include "sse/writer.h"

LX_TEST(sse_writer_bytes)
{
    struct lx_buf b = LX_BUF_INIT(4096);

    LX_ASSERT_EQ(LX_OK, lx_sse_write_data(&b, LX_STR("{\"a\":1}")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_event(&b, LX_STR("message_stop"), LX_STR("{}")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write(&b, LX_STR("e"), LX_STR("42"), LX_STR("a\r\nb\rc\nd")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_data(&b, LX_STR("")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_data(&b, LX_STR("x\n")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_comment(&b, LX_STR(" ping")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_retry(&b, 3000));
    LX_ASSERT_EQ(LX_OK, lx_sse_write(&b, LX_STR_NULL, LX_STR(""), LX_STR("r")));
    LX_ASSERT_EQ(LX_OK, lx_sse_write_done(&b));
    LX_ASSERT_STR(lx_buf_str(&b), "data: {\"a\":1}\n\n"
                                  "event: message_stop\ndata: {}\n\n"
                                  "event: e\nid: 42\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
                                  "data: \n\n"
                                  "data: x\ndata: \n\n"
                                  ": ping\n"
                                  "retry: 3000\n"
                                  "id: \ndata: r\n\n"
                                  "data: [DONE]\n\n");
    lx_buf_release(&b);
    return 0;
}

LX_TEST(sse_writer_rejects_unframeable)
{
    struct lx_buf b = LX_BUF_INIT(4096);

    LX_ASSERT_EQ(LX_EINVAL, lx_sse_write_event(&b, LX_STR("a\nb"), LX_STR("x")));
    LX_ASSERT_EQ(LX_EINVAL, lx_sse_write_event(&b, LX_STR("a\rb"), LX_STR("x")));
    LX_ASSERT_EQ(LX_EINVAL, lx_sse_write(&b, LX_STR_NULL, LX_STR("1\n2"), LX_STR("x")));
    LX_ASSERT_EQ(LX_EINVAL, lx_sse_write(&b, LX_STR_NULL, lx_str_make("1\0" "2", 3), LX_STR("x")));
    LX_ASSERT_EQ(0, b.len); /* nothing half-written */
    lx_buf_release(&b);

    /* a bounded buffer: the sticky error comes back */
    struct lx_buf small = LX_BUF_INIT(10);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_sse_write_data(&small, LX_STR("0123456789")));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_sse_write_done(&small));
    lx_buf_release(&small);
    return 0;
}

LX_TEST(sse_writer_round_trip)
{
    static const struct {
        const char *event, *id, *data, *want_data;
    } rt[] = {
        {NULL, NULL, "{\"choices\":[]}", NULL},
        {"content_block_delta", NULL, "{\"type\":\"x\"}", NULL},
        {"e", "id-1", "line1\nline2\n\nline4", NULL},
        {NULL, NULL, "", NULL},
        {NULL, NULL, "\n", NULL},
        {NULL, NULL, "\n\n", NULL},
        {NULL, NULL, " leading space", NULL},
        {NULL, NULL, ":colon first", NULL},
        {NULL, NULL, "data: nested", NULL},
        {NULL, "7", "crlf\r\nand\rcr", "crlf\nand\ncr"}, /* line ends come back as LF */
        {NULL, NULL, "trailing\r", "trailing\n"},
        {"weird name:x", NULL, "\xEF\xBB\xBF" "bom inside", NULL},
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(rt); i++) {
        struct lx_buf b = LX_BUF_INIT(4096);
        struct ev_list got = {0};
        struct lx_str event = lx_str_cstr(rt[i].event), id = lx_str_cstr(rt[i].id);
        const char *want = rt[i].want_data ? rt[i].want_data : rt[i].data;

        /* a comment and a retry line around the event must not change it */
        lx_sse_write_comment(&b, LX_STR(" keep-alive\nsecond"));
        lx_sse_write_retry(&b, 100);
        LX_ASSERT_EQ(LX_OK, lx_sse_write(&b, event, id, lx_str_cstr(rt[i].data)));
        LX_ASSERT_EQ(LX_OK, parse_whole(lx_buf_str(&b), 0, 4096, &got));
        if (got.n != 1)
            LX_FAIL("case %zu: %zu events from \"%s\"", i, got.n, b.ptr);
        LX_ASSERT_STR(got.v[0].data, want);
        LX_ASSERT_STR(got.v[0].event, rt[i].event ? rt[i].event : "");
        LX_ASSERT_STR(got.v[0].id, rt[i].id ? rt[i].id : "");
        LX_ASSERT_EQ(100, got.v[0].retry);
        LX_ASSERT_EQ(-1, split_everywhere(lx_buf_str(&b), 0, 4096, &got, LX_OK));
        ev_list_free(&got);
        lx_buf_release(&b);
    }
    return 0;
}

/* Every fixture event, re-encoded by the writer, parses back to the same list. */
static int rewrite_fixture(const char *name, struct lx_str body)
{
    struct ev_list orig = {0}, back = {0};
    struct lx_buf b = LX_BUF_INIT(1 << 20);

    LX_ASSERT_EQ(LX_OK, parse_whole(body, LX_SSE_COMMENTS, 1 << 20, &orig));
    for (size_t i = 0; i < orig.n; i++) {
        const struct ev_copy *e = &orig.v[i];

        if (e->kind == LX_SSE_COMMENT)
            LX_ASSERT_EQ(LX_OK, lx_sse_write_comment(&b, e->data));
        else
            LX_ASSERT_EQ(LX_OK, lx_sse_write(&b, e->event, e->id.len ? e->id : LX_STR_NULL,
                                             e->data));
    }
    LX_ASSERT_EQ(LX_OK, parse_whole(lx_buf_str(&b), LX_SSE_COMMENTS, 1 << 20, &back));
    LX_ASSERT_EQ(orig.n, back.n);
    for (size_t i = 0; i < orig.n; i++) {
        LX_ASSERT_EQ(orig.v[i].kind, back.v[i].kind);
        LX_ASSERT(lx_str_eq(orig.v[i].event, back.v[i].event));
        LX_ASSERT(lx_str_eq(orig.v[i].data, back.v[i].data));
        LX_ASSERT(lx_str_eq(orig.v[i].id, back.v[i].id));
    }
    ev_list_free(&orig);
    ev_list_free(&back);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(sse_writer_fixtures_round_trip)
{
    int n;

    if (lx_test_sse_for_each_fixture(".sse", rewrite_fixture, &n) != 0)
        return 1;
    LX_ASSERT(n >= 30);
    return 0;
}
