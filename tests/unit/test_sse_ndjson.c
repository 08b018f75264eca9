/* test_sse_ndjson.c - the NDJSON line splitter (sse/ndjson.h): table cases and Ollama's
 * fixtures split at every byte and fed one byte at a time, limits, callback errors and
 * allocation failures. Single-threaded. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "sse/ndjson.h"
#include "tests/unit/test.h"

/* In test_sse.c (test files have no headers). */
typedef int lx_test_fixture_fn(const char *name, struct lx_str body);
int lx_test_sse_for_each_fixture(const char *ext, lx_test_fixture_fn *fn, int *count);

/* Lines joined with "|" after a "<n>:" count, e.g. "2:a|b". */
static int join_cb(void *ctx, struct lx_str line)
{
    struct lx_buf *b = ctx;

    if (b->len > 0)
        lx_buf_append_char(b, '|');
    lx_buf_append_str(b, line);
    return b->err;
}

/* Feeds in as chunks [0,cut) [cut,len) (cut == (size_t)-1: one byte at a time); the joined
 * lines into out; returns the feed error or finish's result. */
static int split_lines(struct lx_str in, size_t cut, size_t max, struct lx_buf *out)
{
    struct lx_ndjson s;
    int rc = LX_OK;

    lx_ndjson_init(&s, max);
    if (cut == (size_t)-1) {
        for (size_t i = 0; i < in.len && rc == LX_OK; i++)
            rc = lx_ndjson_feed(&s, lx_str_make(in.ptr + i, 1), join_cb, out);
    } else {
        rc = lx_ndjson_feed(&s, lx_str_make(in.ptr, cut), join_cb, out);
        if (rc == LX_OK)
            rc = lx_ndjson_feed(&s, lx_str_make(in.ptr + cut, in.len - cut), join_cb, out);
    }
    if (rc == LX_OK)
        rc = lx_ndjson_finish(&s);
    lx_ndjson_release(&s);
    return rc;
}

/* The whole feed gives want/want_rc, and so does every split and the byte-at-a-time feed. */
static int check_everywhere(struct lx_str in, size_t max, const char *want, int want_rc)
{
    for (size_t cut = 0; cut <= in.len + 1; cut++) {
        size_t c = cut <= in.len ? cut : (size_t)-1;
        struct lx_buf got = LX_BUF_INIT(1 << 20);
        int rc = split_lines(in, c, max, &got);

        if (rc != want_rc || strcmp(got.ptr, want) != 0)
            LX_FAIL("cut %zu: \"%s\" (%s), want \"%s\" (%s)", cut, got.ptr, lx_err_name(rc), want,
                    lx_err_name(want_rc));
        lx_buf_release(&got);
    }
    return 0;
}

#define IN(lit) lit, sizeof(lit) - 1
static const struct {
    const char *in;
    size_t len;
    const char *want;
    int rc;
} nd_cases[] = {
    {IN("{\"a\":1}\n{\"b\":2}\n"), "{\"a\":1}|{\"b\":2}", LX_OK},
    {IN("{\"a\":1}\r\n{\"b\":2}\r\n"), "{\"a\":1}|{\"b\":2}", LX_OK},
    {IN("\n\n{}\n\n\r\n  \n\t\r\n[]\n"), "{}|[]", LX_OK},
    {IN(" {} \n"), " {} ", LX_OK}, /* not trimmed: only blank lines are skipped */
    {IN("a\rb\n"), "a\rb", LX_OK}, /* a lone CR is not a line end */
    {IN("a\r\r\n"), "a\r", LX_OK},
    {IN(""), "", LX_OK},
    {IN("\n"), "", LX_OK},
    {IN("{}"), "", LX_ETRUNCATED},
    {IN("{}\n{\"cut"), "{}", LX_ETRUNCATED},
    {IN("{}\n{}\r"), "{}", LX_ETRUNCATED},
    {IN("{}\n  "), "{}", LX_OK}, /* trailing blanks are not a cut line */
    {IN("{}\n\r"), "{}", LX_OK},
};

LX_TEST(sse_ndjson_cases)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(nd_cases); i++) {
        if (check_everywhere(lx_str_make(nd_cases[i].in, nd_cases[i].len), 4096, nd_cases[i].want,
                             nd_cases[i].rc) != 0)
            LX_FAIL("in case %zu", i);
    }
    return 0;
}

static int count_cb(void *ctx, struct lx_str line)
{
    size_t *n = ctx;

    (*n)++;
    return line.ptr[0] == '{' && line.ptr[line.len - 1] == '}' ? LX_OK : LX_EPARSE;
}

static int ndjson_fixture(const char *name, struct lx_str body)
{
    struct lx_ndjson s;
    struct lx_buf whole = LX_BUF_INIT(1 << 20);
    size_t n = 0;

    lx_ndjson_init(&s, 1 << 16);
    LX_ASSERT_EQ(LX_OK, lx_ndjson_feed(&s, body, count_cb, &n));
    LX_ASSERT_EQ(LX_OK, lx_ndjson_finish(&s));
    lx_ndjson_release(&s);
    /* hand-counted: wc -l, every line one JSON object */
    if (strcmp(name, "ollama/chat.ndjson") == 0)
        LX_ASSERT_EQ(4, n);
    else if (strcmp(name, "ollama/chat_midstream_error.ndjson") == 0)
        LX_ASSERT_EQ(2, n);
    else if (strcmp(name, "ollama/chat_tools.ndjson") == 0)
        LX_ASSERT_EQ(2, n);
    LX_ASSERT_EQ(LX_OK, split_lines(body, 0, 1 << 16, &whole));
    if (check_everywhere(body, 1 << 16, whole.ptr, LX_OK) != 0)
        return 1;
    /* the last line without its LF is a cut stream */
    lx_buf_reset(&whole);
    LX_ASSERT_EQ(LX_ETRUNCATED,
                 split_lines(lx_str_make(body.ptr, body.len - 1), 0, 1 << 16, &whole));
    lx_buf_release(&whole);
    return 0;
}

LX_TEST(sse_ndjson_fixtures_split_anywhere)
{
    int n;

    if (lx_test_sse_for_each_fixture(".ndjson", ndjson_fixture, &n) != 0)
        return 1;
    LX_ASSERT(n >= 3);
    return 0;
}

LX_TEST(sse_ndjson_max_line)
{
    /* max 4: "abcd" fits, with or without its CR; "abcde" does not, however it is cut */
    LX_ASSERT_EQ(0, check_everywhere(LX_STR("abcd\nabcd\r\n"), 4, "abcd|abcd", LX_OK));
    for (size_t cut = 0; cut <= 7; cut++) {
        struct lx_buf got = LX_BUF_INIT(64);

        LX_ASSERT_EQ(LX_ETOOBIG, split_lines(LX_STR("abcde\r\n"), cut, 4, &got));
        if (cut <= 6)
            LX_ASSERT_EQ(LX_ETOOBIG, split_lines(LX_STR("abcde\n"), cut, 4, &got));
        LX_ASSERT_EQ(0, got.len);
        lx_buf_release(&got);
    }

    /* a line that never ends is bounded while it is buffered, and the error is sticky */
    struct lx_ndjson s;
    size_t n = 0;
    int rc = LX_OK, feeds = 0;

    lx_ndjson_init(&s, 100);
    while (rc == LX_OK && feeds < 1000) {
        rc = lx_ndjson_feed(&s, LX_STR("0123456789"), count_cb, &n);
        feeds++;
    }
    LX_ASSERT_EQ(LX_ETOOBIG, rc);
    LX_ASSERT(feeds <= 11);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_ndjson_feed(&s, LX_STR("\n{}\n"), count_cb, &n));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_ndjson_finish(&s));
    LX_ASSERT_EQ(0, n);
    lx_ndjson_release(&s);
    return 0;
}

LX_TEST(sse_ndjson_callback_error_stops)
{
    struct lx_ndjson s;
    size_t n = 0;

    lx_ndjson_init(&s, 100);
    LX_ASSERT_EQ(LX_EPARSE, lx_ndjson_feed(&s, LX_STR("{}\nnot json\n{}\n"), count_cb, &n));
    LX_ASSERT_EQ(2, n);
    LX_ASSERT_EQ(LX_EPARSE, lx_ndjson_feed(&s, LX_STR("{}\n"), count_cb, &n));
    LX_ASSERT_EQ(2, n);
    lx_ndjson_release(&s);
    return 0;
}

LX_TEST(sse_ndjson_alloc_failures)
{
    static const char in[] = "{\"a\":1}\r\n{\"b\":2}\n";
    int n;

    for (n = 0; n < 100; n++) {
        struct lx_buf got = LX_BUF_INIT(1 << 10);
        int rc;

        /* the output buffer is allocated first, outside the fault window */
        LX_ASSERT_EQ(LX_OK, lx_buf_grow(&got, 64));
        lx_alloc_fail_after(n);
        rc = split_lines(lx_str_make(in, sizeof(in) - 1), (size_t)-1, 100, &got);
        lx_alloc_fail_after(-1);
        if (rc == LX_OK) {
            LX_ASSERT_STREQ(got.ptr, "{\"a\":1}|{\"b\":2}");
            lx_buf_release(&got);
            break;
        }
        LX_ASSERT_EQ(LX_ENOMEM, rc);
        lx_buf_release(&got);
    }
    LX_ASSERT(n > 0 && n < 100);
    return 0;
}
