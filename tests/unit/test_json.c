/* test_json.c - the tokenizer, readers, writer and splice of src/json/. Inputs that could be
 * read past their end are copied into exact-size heap buffers so that ASan sees any overread. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/escape.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/splice.h"
#include "json/writer.h"

/* Parses n bytes of s from an exact-size copy; returns the rc, fills *off with the error offset. */
static int parse_n(const char *s, size_t n, const struct lx_json_opts *opts, size_t *off)
{
    char *copy = lx_xmalloc(n ? n : 1);
    struct lx_json doc;
    int rc;

    memcpy(copy, s, n);
    lx_json_init(&doc, opts);
    rc = lx_json_parse(&doc, copy, n);
    if (off)
        *off = doc.err_off;
    lx_json_release(&doc);
    free(copy);
    return rc;
}

static int parse_s(const char *s) { return parse_n(s, strlen(s), NULL, NULL); }

LX_TEST(json_tokens_layout)
{
    const char *s = " {\"a\": [1, -2.5e3, {\"b\": null}], \"c\\n\": \"x\\ny\", \"d\": true} ";
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, s, strlen(s)));
    LX_ASSERT_EQ(12, doc.ntoks);
    LX_ASSERT_EQ(LX_JSON_OBJECT, lx_json_type(&doc, 0));
    LX_ASSERT_EQ(3, lx_json_count(&doc, 0));
    LX_ASSERT_EQ(12, lx_json_next(&doc, 0));
    LX_ASSERT_STR(lx_json_raw(&doc, 0), "{\"a\": [1, -2.5e3, {\"b\": null}], \"c\\n\": \"x\\ny\", "
                                        "\"d\": true}");
    LX_ASSERT_STR(lx_json_raw(&doc, 1), "\"a\"");
    LX_ASSERT_STR(lx_json_str_raw(&doc, 1), "a");
    LX_ASSERT_EQ(LX_JSON_ARRAY, lx_json_type(&doc, 2));
    LX_ASSERT_EQ(3, lx_json_count(&doc, 2));
    LX_ASSERT_EQ(8, lx_json_next(&doc, 2));
    LX_ASSERT_STR(lx_json_raw(&doc, 4), "-2.5e3");
    LX_ASSERT_EQ(LX_JSON_NUMBER, lx_json_type(&doc, 4));
    LX_ASSERT_EQ(LX_JSON_OBJECT, lx_json_type(&doc, 5));
    LX_ASSERT_EQ(1, lx_json_count(&doc, 5));
    LX_ASSERT_EQ(LX_JSON_NULL, lx_json_type(&doc, 7));
    LX_ASSERT_STR(lx_json_str_raw(&doc, 8), "c\\n");
    LX_ASSERT(doc.toks[8].flags & LX_JSON_ESCAPED);
    LX_ASSERT(!(doc.toks[1].flags & LX_JSON_ESCAPED));
    LX_ASSERT_STR(lx_json_raw(&doc, 9), "\"x\\ny\"");
    LX_ASSERT_EQ(LX_JSON_TRUE, lx_json_type(&doc, 11));
    LX_ASSERT_EQ(LX_JSON_NONE, lx_json_type(&doc, 12));
    LX_ASSERT_EQ(LX_JSON_NONE, lx_json_type(&doc, -1));
    /* scalars at the root */
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, "\t\"x\"\r\n", 6));
    LX_ASSERT_EQ(1, doc.ntoks);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, "0", 1));
    LX_ASSERT_EQ(LX_JSON_NUMBER, lx_json_type(&doc, 0));
    lx_json_release(&doc);
    return 0;
}

LX_TEST(json_iterate_and_get)
{
    const char *s = "{\"messages\":[{\"role\":\"user\",\"content\":[1,[2,3],{}]},{\"role\":\"x\"}],"
                    "\"mod\\u0065l\":\"gpt\",\"stream\":false,\"e\":[]}";
    struct lx_json doc;
    int msgs, n = 0, model;
    bool b = true;

    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, s, strlen(s)));
    msgs = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(LX_JSON_ARRAY, lx_json_type(&doc, msgs));
    for (int m = lx_json_first(&doc, msgs); m >= 0; m = lx_json_sibling(&doc, msgs, m)) {
        LX_ASSERT_EQ(LX_JSON_OBJECT, lx_json_type(&doc, m));
        LX_ASSERT(lx_json_get(&doc, m, LX_STR("role")) > m);
        n++;
    }
    LX_ASSERT_EQ(2, n);
    /* keys of an object: values are k + 1, siblings skip whole subtrees */
    n = 0;
    for (int k = lx_json_first(&doc, 0); k >= 0; k = lx_json_sibling(&doc, 0, k))
        n++;
    LX_ASSERT_EQ(4, n);
    model = lx_json_get(&doc, 0, LX_STR("model")); /* key written with an escape */
    LX_ASSERT(lx_json_str_eq(&doc, model, LX_STR("gpt")));
    LX_ASSERT_EQ(LX_OK, lx_json_bool(&doc, lx_json_get(&doc, 0, LX_STR("stream")), &b));
    LX_ASSERT(!b);
    LX_ASSERT_EQ(-1, lx_json_get(&doc, 0, LX_STR("mode")));
    LX_ASSERT_EQ(-1, lx_json_get(&doc, 0, LX_STR("modell")));
    LX_ASSERT_EQ(-1, lx_json_get(&doc, msgs, LX_STR("role"))); /* not an object */
    LX_ASSERT_EQ(-1, lx_json_first(&doc, lx_json_get(&doc, 0, LX_STR("e"))));
    LX_ASSERT_EQ(-1, lx_json_first(&doc, model));
    LX_ASSERT_EQ(LX_EINVAL, lx_json_bool(&doc, model, &b));
    lx_json_release(&doc);
    return 0;
}

static const struct {
    const char *in;
    int rc;
    size_t off;
} error_cases[] = {
    {"", LX_EPARSE, 0},
    {" \n\t\r", LX_EPARSE, 4},
    {"[1,]", LX_EPARSE, 3},
    {"[1 2]", LX_EPARSE, 3},
    {"{\"a\" 1}", LX_EPARSE, 5},
    {"{\"a\":1,}", LX_EPARSE, 7},
    {"{,}", LX_EPARSE, 1},
    {"{1:1}", LX_EPARSE, 1},
    {"[01]", LX_EPARSE, 2},
    {"[1.]", LX_EPARSE, 3},
    {"[.5]", LX_EPARSE, 1},
    {"[-]", LX_EPARSE, 2},
    {"[+1]", LX_EPARSE, 1},
    {"[1e]", LX_EPARSE, 3},
    {"[1e+]", LX_EPARSE, 4},
    {"-", LX_EPARSE, 1},
    {"tru", LX_EPARSE, 0},
    {"nulll", LX_EPARSE, 4},
    {"\"abc", LX_EPARSE, 4},
    {"\"a\\x\"", LX_EPARSE, 2},
    {"\"\\u12G4\"", LX_EPARSE, 1},
    {"\"\\u123", LX_EPARSE, 6},
    {"\"\\", LX_EPARSE, 2},
    {"{} x", LX_EPARSE, 3},
    {"[1]]", LX_EPARSE, 3},
    {"[1}", LX_EPARSE, 2},
    {"{\"a\":1]", LX_EPARSE, 6},
    {"[\"\t\"]", LX_EPARSE, 2},
    {"\xEF\xBB\xBF{}", LX_EPARSE, 0},
    {"[\"\\ud800\"]", LX_EUTF8, 2},
    {"[\"\\udc00\\ud800\"]", LX_EUTF8, 2},
    {"[\"\\ud800\\u0041\"]", LX_EUTF8, 2},
    {"[\"\\ud800\\uZZZZ\"]", LX_EPARSE, 8},
    {"[\"\xC3\"]", LX_EUTF8, 2},
    {"{\"a\":1,\"a\":2}", LX_EDUPKEY, 7},
    {"{\"a\":1,\"\\u0061\":2}", LX_EDUPKEY, 7},
    {"[{\"x\":{\"a\":1,\"b\":2,\"a\":3}}]", LX_EDUPKEY, 19},
};

LX_TEST(json_errors_and_offsets)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(error_cases); i++) {
        size_t off = 999;
        int rc = parse_n(error_cases[i].in, strlen(error_cases[i].in), NULL, &off);

        if (rc != error_cases[i].rc || off != error_cases[i].off)
            LX_FAIL("case %zu '%s': got %s at %zu, want %s at %zu", i, error_cases[i].in,
                    lx_err_name(rc), off, lx_err_name(error_cases[i].rc), error_cases[i].off);
    }
    /* a NUL byte is data, not an end: trailing NUL is trailing garbage */
    LX_ASSERT_EQ(LX_EPARSE, parse_n("[1]\0", 4, NULL, NULL));
    LX_ASSERT_EQ(LX_OK, parse_n("[\"\\u0000\"]", 10, NULL, NULL));
    return 0;
}

LX_TEST(json_null_empty_input)
{
    struct lx_json doc;

    /* an empty slice is often {NULL, 0}: a parse error, not undefined behaviour (UBSan) */
    lx_json_init(&doc, NULL);
    LX_ASSERT(lx_json_parse(&doc, NULL, 0) != LX_OK);
    lx_json_release(&doc);
    return 0;
}

LX_TEST(json_prefixes_never_overread)
{
    /* every proper prefix of these documents is incomplete; ASan watches the exact buffers */
    static const char *docs[] = {
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9llo "
        "\\ud83d\\ude00 \xE2\x82\xAC\xF0\x9F\x98\x80 long enough for the 8-byte scan\"}],"
        "\"temperature\":0.7,\"seed\":-12e+3,\"stream\":true,\"stop\":null,\"x\":false}",
        "[[[[[\"a\"]]]],{\"\":{}}]",
    };

    for (size_t d = 0; d < LX_ARRAY_SIZE(docs); d++) {
        size_t len = strlen(docs[d]);

        LX_ASSERT_EQ(LX_OK, parse_n(docs[d], len, NULL, NULL));
        for (size_t k = 0; k < len; k++) {
            size_t off = 0;
            int rc = parse_n(docs[d], k, NULL, &off);

            if (rc == LX_OK || off > k)
                LX_FAIL("prefix %zu of doc %zu: %s at %zu", k, d, lx_err_name(rc), off);
        }
    }
    return 0;
}

LX_TEST(json_duplicate_keys)
{
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_json_opts allow = {.flags = LX_JSON_ALLOW_DUPKEYS};
    size_t off = 0;

    LX_ASSERT_EQ(LX_OK, parse_s("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}"));
    LX_ASSERT_EQ(LX_OK, parse_s("{\"a\":1,\"a\\u0000\":2,\"A\":3,\"\":4,\"\\u0000\":5}"));
    LX_ASSERT_EQ(LX_EDUPKEY, parse_s("{\"\":1,\"\":2}"));
    LX_ASSERT_EQ(LX_EDUPKEY, parse_s("{\"\\u00e9\":1,\"\xC3\xA9\":2}"));
    LX_ASSERT_EQ(LX_EDUPKEY, parse_s("{\"\\ud83d\\ude00\":1,\"\xF0\x9F\x98\x80\":2}"));
    LX_ASSERT_EQ(LX_EDUPKEY, parse_s("{\"\\/\":1,\"/\":2}"));
    LX_ASSERT_EQ(LX_OK, parse_n("{\"a\":1,\"a\":2}", 13, &allow, NULL));
    /* big objects (sorted check): distinct keys pass, one late duplicate is caught, also when it
     * is spelled with escapes; the offset names the later copy */
    for (int variant = 0; variant < 3; variant++) {
        size_t dup_at = 0;

        lx_buf_reset(&b);
        lx_buf_append_char(&b, '{');
        for (int i = 0; i < 500; i++)
            lx_buf_appendf(&b, "%s\"key%03d\":%d", i ? "," : "", (i * 7919) % 500, i);
        if (variant > 0) {
            dup_at = b.len + 1;
            lx_buf_appendf(&b, variant == 1 ? ",\"key123\":0" : ",\"k\\u0065y123\":0");
        }
        lx_buf_append_char(&b, '}');
        LX_ASSERT_EQ(b.err, LX_OK);
        if (variant == 0) {
            LX_ASSERT_EQ(LX_OK, parse_n(b.ptr, b.len, NULL, NULL));
        } else {
            LX_ASSERT_EQ(LX_EDUPKEY, parse_n(b.ptr, b.len, NULL, &off));
            LX_ASSERT_EQ(dup_at, off);
            LX_ASSERT_EQ(LX_OK, parse_n(b.ptr, b.len, &allow, NULL));
        }
    }
    /* exactly at the small/big boundary: 16 and 17 keys with the duplicate first and last */
    for (int n = 15; n <= 18; n++) {
        lx_buf_reset(&b);
        lx_buf_append_char(&b, '{');
        for (int i = 0; i < n; i++)
            lx_buf_appendf(&b, "%s\"%c\":0", i ? "," : "", i == n - 1 ? 'a' : 'a' + i);
        lx_buf_append_char(&b, '}');
        LX_ASSERT_EQ(LX_EDUPKEY, parse_n(b.ptr, b.len, NULL, NULL));
    }
    lx_buf_release(&b);
    return 0;
}

LX_TEST(json_depth_limit)
{
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_json_opts o = {.max_depth = 3};

    for (int i = 0; i < 64; i++)
        lx_buf_append(&b, i % 2 ? "{\"k\":" : "[", i % 2 ? 5 : 1);
    lx_buf_append(&b, "1", 1);
    for (int i = 63; i >= 0; i--)
        lx_buf_append_char(&b, i % 2 ? '}' : ']');
    LX_ASSERT_EQ(LX_OK, parse_n(b.ptr, b.len, NULL, NULL));
    lx_buf_reset(&b);
    for (int i = 0; i < 65; i++)
        lx_buf_append_char(&b, '[');
    for (int i = 0; i < 65; i++)
        lx_buf_append_char(&b, ']');
    LX_ASSERT_EQ(LX_EDEPTH, parse_n(b.ptr, b.len, NULL, NULL));
    LX_ASSERT_EQ(LX_OK, parse_n("[[[1]],{\"a\":[]}]", 16, &o, NULL));
    LX_ASSERT_EQ(LX_EDEPTH, parse_n("[[[[1]]]]", 9, &o, NULL));
    /* 100 000 unclosed levels end at the limit, never on the C stack */
    lx_buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        lx_buf_append(&b, "[{\"\":", 5);
    LX_ASSERT_EQ(LX_EDEPTH, parse_n(b.ptr, b.len, NULL, NULL));
    lx_buf_release(&b);
    return 0;
}

LX_TEST(json_utf8_edges)
{
    static const struct {
        const char *bytes;
        int rc;
    } cases[] = {
        {"\xC2\x80", LX_OK},
        {"\xDF\xBF", LX_OK},
        {"\xE0\xA0\x80", LX_OK},
        {"\xED\x9F\xBF", LX_OK},
        {"\xEE\x80\x80", LX_OK},
        {"\xEF\xBF\xBF", LX_OK},
        {"\xF0\x90\x80\x80", LX_OK},
        {"\xF4\x8F\xBF\xBF", LX_OK},
        {"\x7F", LX_OK},
        {"\xE2\x80\xA8", LX_OK},
        {"\\ud800\\udc00", LX_OK},
        {"\\udbff\\udfff", LX_OK},
        {"\xC0\x80", LX_EUTF8},
        {"\xC1\xBF", LX_EUTF8},
        {"\xE0\x9F\xBF", LX_EUTF8},
        {"\xED\xA0\x80", LX_EUTF8},
        {"\xED\xBF\xBF", LX_EUTF8},
        {"\xF0\x8F\xBF\xBF", LX_EUTF8},
        {"\xF4\x90\x80\x80", LX_EUTF8},
        {"\xF5\x80\x80\x80", LX_EUTF8},
        {"\xFF", LX_EUTF8},
        {"\x80", LX_EUTF8},
        {"\xC3", LX_EUTF8},
        {"\xE2\x82", LX_EUTF8},
        {"\xF0\x9F\x98", LX_EUTF8},
        {"\xC3\xC3", LX_EUTF8},
        {"\xE2\x28\xA1", LX_EUTF8},
        {"\\udfff", LX_EUTF8},
        {"\\ud800x", LX_EUTF8},
        {"\\ud800\\ud800", LX_EUTF8},
        {"\x01", LX_EPARSE},
        {"\x1F", LX_EPARSE},
        {"\n", LX_EPARSE},
    };
    char in[64];

    /* each case at every offset around the 8-byte scanning steps */
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        for (size_t pre = 0; pre < 18; pre++) {
            size_t n = 0, bl = strlen(cases[i].bytes);
            int rc;

            in[n++] = '"';
            memset(in + n, 'x', pre);
            n += pre;
            memcpy(in + n, cases[i].bytes, bl);
            n += bl;
            memcpy(in + n, "yyyyyyyyy\"", 10);
            n += 10;
            rc = parse_n(in, n, NULL, NULL);
            if (rc != cases[i].rc)
                LX_FAIL("case %zu at %zu: %s, want %s", i, pre, lx_err_name(rc),
                        lx_err_name(cases[i].rc));
            /* and cut right after the bytes: always an error, never an overread */
            rc = parse_n(in, 1 + pre + bl, NULL, NULL);
            LX_ASSERT(rc == LX_EPARSE || rc == LX_EUTF8);
        }
    }
    /* every raw control character is rejected, DEL accepted */
    for (int c = 0; c < 0x20; c++) {
        char s[3] = {'"', (char)c, '"'};

        LX_ASSERT_EQ(LX_EPARSE, parse_n(s, 3, NULL, NULL));
    }
    return 0;
}

LX_TEST(json_limits_and_memory_modes)
{
    struct lx_json_opts o = {.max_tokens = 3};
    struct lx_json_tok fixed[4];
    struct lx_json doc;
    struct lx_arena *a;
    struct lx_buf big = LX_BUF_INIT(1 << 22);

    LX_ASSERT_EQ(LX_OK, parse_n("[1,2]", 5, &o, NULL));
    LX_ASSERT_EQ(LX_ETOOBIG, parse_n("[1,2,3]", 7, &o, NULL));
    o.max_tokens = 0;
    o.max_len = 4;
    LX_ASSERT_EQ(LX_OK, parse_n("[12]", 4, &o, NULL));
    LX_ASSERT_EQ(LX_ETOOBIG, parse_n("[123]", 5, &o, NULL));

    /* caller's array: fills it exactly, then LX_ETOOBIG */
    lx_json_init(&doc, NULL);
    lx_json_use_array(&doc, fixed, 4);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, "[1,2,3]", 7));
    LX_ASSERT(doc.toks == fixed);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_json_parse(&doc, "[1,2,3,4]", 9));
    LX_ASSERT_EQ(0, doc.ntoks);
    lx_json_release(&doc);
    {
        /* a big object in a lent array: the sort scratch is ours, freed by release */
        struct lx_json_tok many[64];

        lx_buf_append_char(&big, '{');
        for (int i = 0; i < 20; i++)
            lx_buf_appendf(&big, "%s\"k%d\":%d", i ? "," : "", i, i);
        lx_buf_append_char(&big, '}');
        lx_json_init(&doc, NULL);
        lx_json_use_array(&doc, many, 64);
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, big.ptr, big.len));
        LX_ASSERT_EQ(41, doc.ntoks);
        lx_json_release(&doc);
        LX_ASSERT(doc.toks == many);
        lx_buf_reset(&big);
    }

    /* arena: many tokens, grown inside the arena; the document is reusable */
    a = lx_arena_new(0, 1 << 24);
    LX_ASSERT(a != NULL);
    lx_buf_append_char(&big, '[');
    for (int i = 0; i < 20000; i++)
        lx_buf_appendf(&big, "%s{\"k%d\":%d,\"j\":[true]}", i ? "," : "", i % 40, i);
    lx_buf_append_char(&big, ']');
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, big.ptr, big.len));
    LX_ASSERT_EQ(20000 * 6 + 1, doc.ntoks);
    LX_ASSERT_EQ(20000, lx_json_count(&doc, 0));
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, "{}", 2));
    LX_ASSERT_EQ(1, doc.ntoks);
    lx_arena_reset(a);
    lx_json_use_arena(&doc, a); /* after a reset: take fresh memory */
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, big.ptr, big.len));
    LX_ASSERT_EQ(20000, lx_json_count(&doc, 0));
    lx_json_release(&doc);
    lx_arena_free(a);
    /* arena budget exhausted: LX_ENOMEM, not a crash */
    a = lx_arena_new(0, 8192);
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(LX_ENOMEM, lx_json_parse(&doc, big.ptr, big.len));
    lx_arena_free(a);
    lx_buf_release(&big);
    return 0;
}

LX_TEST(json_alloc_failure)
{
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    int rc = LX_ENOMEM, n;

    /* enough tokens to grow several times, and a big object for the sort scratch */
    lx_buf_append_char(&b, '[');
    for (int i = 0; i < 300; i++)
        lx_buf_appendf(&b, "%d,", i);
    lx_buf_append_char(&b, '{');
    for (int i = 0; i < 40; i++)
        lx_buf_appendf(&b, "%s\"k%d\":[%d]", i ? "," : "", i, i);
    lx_buf_append(&b, "}]", 2);
    LX_ASSERT_EQ(LX_OK, b.err);
    for (n = 0; rc != LX_OK; n++) {
        lx_alloc_fail_after(n);
        rc = parse_n(b.ptr, b.len, NULL, NULL);
        lx_alloc_fail_after(-1);
        if (rc != LX_OK)
            LX_ASSERT_EQ(LX_ENOMEM, rc);
    }
    LX_ASSERT(n > 3); /* initial array, growths, scratch: each failure was exercised */
    lx_buf_release(&b);
    return 0;
}

LX_TEST(json_numbers)
{
    static const struct {
        const char *in;
        int rc64;
        int64_t v64;
        int rcu;
        uint64_t vu;
    } cases[] = {
        {"0", LX_OK, 0, LX_OK, 0},
        {"-0", LX_OK, 0, LX_OK, 0},
        {"9223372036854775807", LX_OK, INT64_MAX, LX_OK, INT64_MAX},
        {"9223372036854775808", LX_ETOOBIG, 0, LX_OK, (uint64_t)INT64_MAX + 1},
        {"-9223372036854775808", LX_OK, INT64_MIN, LX_ETOOBIG, 0},
        {"-9223372036854775809", LX_ETOOBIG, 0, LX_ETOOBIG, 0},
        {"18446744073709551615", LX_ETOOBIG, 0, LX_OK, UINT64_MAX},
        {"18446744073709551616", LX_ETOOBIG, 0, LX_ETOOBIG, 0},
        {"100000000000000000000000", LX_ETOOBIG, 0, LX_ETOOBIG, 0},
        {"-1", LX_OK, -1, LX_ETOOBIG, 0},
        {"1.0", LX_EINVAL, 0, LX_EINVAL, 0},
        {"1e2", LX_EINVAL, 0, LX_EINVAL, 0},
        {"\"1\"", LX_EINVAL, 0, LX_EINVAL, 0},
    };
    struct lx_json doc;
    double d = 0;
    char longnum[200];

    lx_json_init(&doc, NULL);
    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        int64_t v = 0;
        uint64_t u = 0;

        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, cases[i].in, strlen(cases[i].in)));
        LX_ASSERT_EQ(cases[i].rc64, lx_json_int64(&doc, 0, &v));
        LX_ASSERT_EQ(cases[i].rcu, lx_json_uint64(&doc, 0, &u));
        if (cases[i].rc64 == LX_OK && v != cases[i].v64)
            LX_FAIL("%s: int64 %lld", cases[i].in, (long long)v);
        if (cases[i].rcu == LX_OK && u != cases[i].vu)
            LX_FAIL("%s: uint64 %llu", cases[i].in, (unsigned long long)u);
    }
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, "[0.1,-2.5E-3,1e400,-1e400,1e-400,true]", 38));
    LX_ASSERT_EQ(LX_OK, lx_json_double(&doc, 1, &d));
    LX_ASSERT(d == 0.1);
    LX_ASSERT_EQ(LX_OK, lx_json_double(&doc, 2, &d));
    LX_ASSERT(d == -2.5e-3);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_json_double(&doc, 3, &d));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_json_double(&doc, 4, &d));
    LX_ASSERT_EQ(LX_OK, lx_json_double(&doc, 5, &d));
    LX_ASSERT(d == 0.0);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_double(&doc, 6, &d));
    /* longer than the stack copy */
    memset(longnum, '0', sizeof(longnum));
    longnum[0] = '1';
    longnum[1] = '.';
    longnum[sizeof(longnum) - 1] = '5';
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, longnum, sizeof(longnum)));
    LX_ASSERT_EQ(LX_OK, lx_json_double(&doc, 0, &d));
    LX_ASSERT(d == 1.0);
    lx_json_release(&doc);
    return 0;
}

LX_TEST(json_strings_decode)
{
    const char *s =
        "[\"plain\",\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"\\u00e9\\u20AC\\ud83d\\ude00\","
        "\"nul\\u0000byte\",\"\"]";
    struct lx_buf b = LX_BUF_INIT(1024);
    struct lx_arena *a = lx_arena_new(0, 1 << 16);
    struct lx_json doc;
    struct lx_str out;

    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, s, strlen(s)));
    LX_ASSERT_EQ(LX_OK, lx_json_unescape(&doc, 2, &b));
    LX_ASSERT_STR(lx_buf_str(&b), "a\"b\\c/d\b\f\n\r\t");
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx_json_unescape(&doc, 3, &b));
    LX_ASSERT_STR(lx_buf_str(&b), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx_json_unescape(&doc, 4, &b));
    LX_ASSERT_EQ(8, b.len);
    LX_ASSERT(memcmp(b.ptr, "nul\0byte", 8) == 0);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_unescape(&doc, 0, &b));
    LX_ASSERT(lx_json_str_eq(&doc, 3, LX_STR("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")));
    LX_ASSERT(!lx_json_str_eq(&doc, 3, LX_STR("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98")));
    LX_ASSERT(!lx_json_str_eq(&doc, 3, LX_STR("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80!")));
    LX_ASSERT(lx_json_str_eq(&doc, 4, lx_str_make("nul\0byte", 8)));
    LX_ASSERT(lx_json_str_eq(&doc, 5, LX_STR("")));
    LX_ASSERT(!lx_json_str_eq(&doc, 0, LX_STR("plain")));
    /* no escapes: the slice points into the input, no copy */
    LX_ASSERT_EQ(LX_OK, lx_json_str(&doc, 1, a, &out));
    LX_ASSERT(out.ptr == s + 2);
    LX_ASSERT_STR(out, "plain");
    LX_ASSERT_EQ(LX_OK, lx_json_str(&doc, 2, a, &out));
    LX_ASSERT_STR(out, "a\"b\\c/d\b\f\n\r\t");
    lx_json_release(&doc);
    lx_buf_release(&b);
    lx_arena_free(a);
    return 0;
}

LX_TEST(json_writer_values)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_json_writer w;

    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("s"));
    lx_json_write_str(&w, lx_str_make("q\"b\\n\n\x01\x7F\xC3\xA9\xFF", 11));
    lx_json_write_key(&w, LX_STR("k\"ey"));
    lx_json_write_array_begin(&w);
    lx_json_write_int(&w, INT64_MIN);
    lx_json_write_int(&w, INT64_MAX);
    lx_json_write_uint(&w, UINT64_MAX);
    lx_json_write_double(&w, 0.1);
    lx_json_write_double(&w, 1.0 / 3.0);
    lx_json_write_double(&w, 1e300);
    lx_json_write_double(&w, -0.0);
    lx_json_write_bool(&w, true);
    lx_json_write_bool(&w, false);
    lx_json_write_null(&w);
    lx_json_write_array_begin(&w);
    lx_json_write_array_end(&w);
    lx_json_write_object_begin(&w);
    lx_json_write_object_end(&w);
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    LX_ASSERT_EQ(LX_OK, lx_json_writer_finish(&w));
    LX_ASSERT_STR(lx_buf_str(&b),
                  "{\"s\":\"q\\\"b\\\\n\\n\\u0001\x7F\xC3\xA9\xEF\xBF\xBD\",\"k\\\"ey\":["
                  "-9223372036854775808,9223372036854775807,18446744073709551615,0.1,"
                  "0.3333333333333333,1e+300,-0,true,false,null,[],{}]}");
    LX_ASSERT_EQ(LX_OK, parse_n(b.ptr, b.len, NULL, NULL));
    /* every double written reads back as itself */
    for (int i = 1; i < 2000; i++) {
        double v = (double)i * 0.37 / (i % 7 + 1) * pow(10.0, i % 40 - 20);
        struct lx_json doc;
        double back = 0;

        lx_buf_reset(&b);
        lx_json_writer_init(&w, &b);
        LX_ASSERT_EQ(LX_OK, lx_json_write_double(&w, v));
        lx_json_init(&doc, NULL);
        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, b.ptr, b.len));
        LX_ASSERT_EQ(LX_OK, lx_json_double(&doc, 0, &back));
        lx_json_release(&doc);
        if (back != v)
            LX_FAIL("%.17g written as %s", v, b.ptr);
    }
    lx_buf_release(&b);
    return 0;
}

LX_TEST(json_writer_misuse)
{
    struct lx_buf b = LX_BUF_INIT(4096), small = LX_BUF_INIT(8);
    struct lx_json_writer w;

    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_int(&w, 1)); /* value where a key is due */
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_null(&w));   /* sticky */
    LX_ASSERT_EQ(LX_EINVAL, lx_json_writer_finish(&w));

    lx_buf_reset(&b);
    lx_json_writer_init(&w, &b);
    lx_json_write_array_begin(&w);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_key(&w, LX_STR("k")));
    lx_json_writer_init(&w, &b);
    lx_json_write_array_begin(&w);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_object_end(&w));
    lx_json_writer_init(&w, &b);
    lx_json_write_array_begin(&w);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_writer_finish(&w)); /* unclosed */
    lx_json_writer_init(&w, &b);
    lx_json_write_int(&w, 1);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_int(&w, 2)); /* two roots */
    lx_json_writer_init(&w, &b);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_double(&w, NAN));
    lx_json_writer_init(&w, &b);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_double(&w, INFINITY));
    lx_json_writer_init(&w, &b);
    for (int i = 0; i < LX_JSON_WRITER_DEPTH; i++)
        lx_json_write_array_begin(&w);
    LX_ASSERT_EQ(LX_EDEPTH, lx_json_write_array_begin(&w));
    /* the buffer's bound */
    lx_json_writer_init(&w, &small);
    lx_json_write_str(&w, LX_STR("0123456789"));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_json_writer_finish(&w));
    lx_buf_release(&b);
    lx_buf_release(&small);
    return 0;
}

LX_TEST(json_writer_verbatim_and_copy)
{
    const char *s = "{ \"seed\" : 9223372036854775807, \"big\": -1.0E+999,\n"
                    " \"tools\": [ {\"schema\": {\"type\" : \"object\", \"x\\u00e9\": \"\\/\"}} ],"
                    " \"e\\u0301\": \"\\ud83d\\ude00\\u0000\" }";
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_json_writer w;
    struct lx_json doc, again;

    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, s, strlen(s)));
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("seed"));
    lx_json_write_token(&w, &doc, lx_json_get(&doc, 0, LX_STR("seed")));
    lx_json_write_key(&w, LX_STR("big"));
    lx_json_write_token(&w, &doc, lx_json_get(&doc, 0, LX_STR("big")));
    lx_json_write_key(&w, LX_STR("tools"));
    lx_json_write_token(&w, &doc, lx_json_get(&doc, 0, LX_STR("tools")));
    lx_json_write_object_end(&w);
    LX_ASSERT_EQ(LX_OK, lx_json_writer_finish(&w));
    LX_ASSERT_STR(lx_buf_str(&b),
                  "{\"seed\":9223372036854775807,\"big\":-1.0E+999,\"tools\":[ "
                  "{\"schema\": {\"type\" : \"object\", \"x\\u00e9\": \"\\/\"}} ]}");
    /* re-encoded copy: blanks gone, strings decoded and escaped again */
    lx_buf_reset(&b);
    lx_json_writer_init(&w, &b);
    LX_ASSERT_EQ(LX_OK, lx_json_write_copy(&w, &doc, 0));
    LX_ASSERT_EQ(LX_OK, lx_json_writer_finish(&w));
    LX_ASSERT_STR(lx_buf_str(&b), "{\"seed\":9223372036854775807,\"big\":-1.0E+999,\"tools\":"
                                  "[{\"schema\":{\"type\":\"object\",\"x\xC3\xA9\":\"/\"}}],"
                                  "\"e\xCC\x81\":\"\xF0\x9F\x98\x80\\u0000\"}");
    lx_json_init(&again, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&again, b.ptr, b.len));
    LX_ASSERT_EQ(doc.ntoks, again.ntoks);
    /* copying a string token where a key is due is misuse, not a silent key */
    lx_buf_reset(&b);
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    LX_ASSERT_EQ(LX_EINVAL, lx_json_write_copy(&w, &doc, 1));
    lx_json_release(&again);
    lx_json_release(&doc);
    lx_buf_release(&b);
    return 0;
}

static const struct {
    const char *in;
    struct lx_json_edit edits[3];
    size_t n;
    const char *out;
} splice_cases[] = {
    {"{\"model\": \"a\", \"seed\": 9223372036854775807 }",
     {{LX_STR("model"), LX_STR("\"gpt-4o\"")}},
     1,
     "{\"model\": \"gpt-4o\", \"seed\": 9223372036854775807 }"},
    {"{\n  \"model\" : \"a\",\n  \"stream\": true,\n  \"n\": 1\n}",
     {{LX_STR("stream"), LX_STR_NULL}, {LX_STR("model"), LX_STR("\"b\"")}},
     2,
     "{\n  \"model\" : \"b\",\n  \"n\": 1\n}"},
    {"{\"a\":1,\"b\":2,\"c\":3}", {{LX_STR("a"), LX_STR_NULL}}, 1, "{\"b\":2,\"c\":3}"},
    {"{\"a\":1,\"b\":2,\"c\":3}", {{LX_STR("c"), LX_STR_NULL}}, 1, "{\"a\":1,\"b\":2}"},
    {"{\"a\":1,\"b\":2,\"c\":3}",
     {{LX_STR("a"), LX_STR_NULL}, {LX_STR("c"), LX_STR_NULL}, {LX_STR("b"), LX_STR_NULL}},
     3,
     "{}"},
    {" {\"stream\":true} \n",
     {{LX_STR("stream_options"), LX_STR("{\"include_usage\":true}")}},
     1,
     " {\"stream\":true,\"stream_options\":{\"include_usage\":true}} \n"},
    {"{ }",
     {{LX_STR("x"), LX_STR("1")}, {LX_STR("y\"z"), LX_STR("[]")}, {LX_STR("x"), LX_STR("2")}},
     3,
     "{\"x\":1,\"y\\\"z\":[] }"},
    {"{\"mod\\u0065l\":\"a\",\"b\":{\"model\":\"keep\"}}",
     {{LX_STR("model"), LX_STR("\"z\"")}},
     1,
     "{\"mod\\u0065l\":\"z\",\"b\":{\"model\":\"keep\"}}"},
    {"{\"a\":1}", {{LX_STR("a"), LX_STR_NULL}, {LX_STR("b"), LX_STR("2")}}, 2, "{\"b\":2}"},
    {"{\"a\":1}", {{LX_STR("q"), LX_STR_NULL}}, 1, "{\"a\":1}"},
};

LX_TEST(json_splice)
{
    struct lx_buf out = LX_BUF_INIT(4096);
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    for (size_t i = 0; i < LX_ARRAY_SIZE(splice_cases); i++) {
        const char *in = splice_cases[i].in;

        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, in, strlen(in)));
        lx_buf_reset(&out);
        LX_ASSERT_EQ(LX_OK,
                     lx_json_splice(&doc, 0, splice_cases[i].edits, splice_cases[i].n, &out));
        if (strcmp(out.ptr, splice_cases[i].out) != 0)
            LX_FAIL("case %zu: got '%s'\nwant '%s'", i, out.ptr, splice_cases[i].out);
        LX_ASSERT_EQ(LX_OK, parse_n(out.ptr, out.len, NULL, NULL));
    }
    /* an inner object: the rest of the document is copied around it */
    {
        const char *in = "[1, {\"a\": 1, \"b\": [2]} , 3]";
        struct lx_json_edit e[2] = {{LX_STR("b"), LX_STR_NULL}, {LX_STR("c"), LX_STR("true")}};

        LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, in, strlen(in)));
        lx_buf_reset(&out);
        LX_ASSERT_EQ(LX_OK, lx_json_splice(&doc, 2, e, 2, &out));
        LX_ASSERT_STR(lx_buf_str(&out), "[1, {\"a\": 1,\"c\":true} , 3]");
        LX_ASSERT_EQ(LX_EINVAL, lx_json_splice(&doc, 0, e, 1, &out)); /* not an object */
        LX_ASSERT_EQ(LX_EINVAL, lx_json_splice(&doc, 99, e, 1, &out));
    }
    lx_json_release(&doc);
    lx_buf_release(&out);
    return 0;
}

LX_TEST(json_writer_escape_matches_core)
{
    /* the writer's fast escaper gives the same bytes as core/escape.h on any input */
    struct lx_buf mine = LX_BUF_INIT(1 << 16), ref = LX_BUF_INIT(1 << 16);
    static const unsigned char alphabet[] = {'a',  ' ',  '"',  '\\', '\n', 0x01, 0x1F,
                                             0x7F, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0,
                                             0x9F, 0x98, 0x80, 0xED, 0xA0, 0xFF, 0xC0};
    unsigned seed = 7;
    char s[64];

    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 40);
        struct lx_json_writer w;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = (char)alphabet[(seed >> 16) % sizeof(alphabet)];
        }
        lx_buf_reset(&mine);
        lx_buf_reset(&ref);
        lx_json_writer_init(&w, &mine);
        lx_json_write_str(&w, lx_str_make(s, n));
        lx_buf_append_char(&ref, '"');
        lx_json_escape(&ref, lx_str_make(s, n));
        lx_buf_append_char(&ref, '"');
        if (mine.len != ref.len || memcmp(mine.ptr, ref.ptr, ref.len) != 0)
            LX_FAIL("round %d: '%s' vs '%s'", round, mine.ptr, ref.ptr);
        LX_ASSERT_EQ(LX_OK, parse_n(mine.ptr, mine.len, NULL, NULL));
    }
    lx_buf_release(&mine);
    lx_buf_release(&ref);
    return 0;
}
