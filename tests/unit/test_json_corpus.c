/* test_json_corpus.c - conformance against JSONTestSuite (../shared/corpus/json): every y_ file
 * accepted, every n_ file rejected, and each i_ file decided by the table below (also in
 * docs/internals/json.md). Each input is copied into a buffer of exactly its length so that
 * ASan catches any read past the end. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/err.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/writer.h"

/* Our choice for every implementation-defined file: expected result with default options. */
static const struct {
    const char *file;
    int rc;
    const char *why;
} i_policy[] = {
    {"i_number_double_huge_neg_exp.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_huge_exp.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_neg_int_huge_exp.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_pos_double_huge_exp.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_real_neg_overflow.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_real_pos_overflow.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_real_underflow.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_too_big_neg_int.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_too_big_pos_int.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_number_very_big_negative_int.json", LX_OK, "grammar-valid; number kept as its bytes"},
    {"i_object_key_lone_2nd_surrogate.json", LX_EUTF8, "lone low surrogate escape"},
    {"i_string_1st_surrogate_but_2nd_missing.json", LX_EUTF8, "high surrogate alone"},
    {"i_string_1st_valid_surrogate_2nd_invalid.json", LX_EUTF8, "high + non-low surrogate"},
    {"i_string_UTF-16LE_with_BOM.json", LX_EPARSE, "not UTF-8 (RFC 8259 8.1)"},
    {"i_string_UTF-8_invalid_sequence.json", LX_EUTF8, "invalid UTF-8 in a string"},
    {"i_string_UTF8_surrogate_U+D800.json", LX_EUTF8, "surrogate encoded in UTF-8"},
    {"i_string_incomplete_surrogate_and_escape_valid.json", LX_EUTF8, "high surrogate alone"},
    {"i_string_incomplete_surrogate_pair.json", LX_EUTF8, "lone low surrogate escape"},
    {"i_string_incomplete_surrogates_escape_valid.json", LX_EUTF8, "two high surrogates"},
    {"i_string_invalid_lonely_surrogate.json", LX_EUTF8, "high surrogate alone"},
    {"i_string_invalid_surrogate.json", LX_EUTF8, "high surrogate alone"},
    {"i_string_invalid_utf-8.json", LX_EUTF8, "byte FF"},
    {"i_string_inverted_surrogates_U+1D11E.json", LX_EUTF8, "low surrogate first"},
    {"i_string_iso_latin_1.json", LX_EUTF8, "Latin-1 byte"},
    {"i_string_lone_second_surrogate.json", LX_EUTF8, "lone low surrogate escape"},
    {"i_string_lone_utf8_continuation_byte.json", LX_EUTF8, "stray continuation byte"},
    {"i_string_not_in_unicode_range.json", LX_EUTF8, "above U+10FFFF"},
    {"i_string_overlong_sequence_2_bytes.json", LX_EUTF8, "overlong"},
    {"i_string_overlong_sequence_6_bytes.json", LX_EUTF8, "5/6-byte forms do not exist"},
    {"i_string_overlong_sequence_6_bytes_null.json", LX_EUTF8, "5/6-byte forms do not exist"},
    {"i_string_truncated-utf-8.json", LX_EUTF8, "truncated sequence"},
    {"i_string_utf16BE_no_BOM.json", LX_EPARSE, "not UTF-8 (NUL byte outside a string)"},
    {"i_string_utf16LE_no_BOM.json", LX_EPARSE, "not UTF-8 (NUL byte outside a string)"},
    {"i_structure_500_nested_arrays.json", LX_EDEPTH, "deeper than the default 64 levels"},
    {"i_structure_UTF-8_BOM_empty_object.json", LX_EPARSE, "BOM rejected (strict)"},
};

/* The two y_ files with a repeated key: syntactically valid (accepted with
 * LX_JSON_ALLOW_DUPKEYS), rejected by default because we reject duplicates everywhere. */
static bool is_dupkey_file(const char *name)
{
    return strncmp(name, "y_object_duplicated_key", 23) == 0;
}

static int parse_file(const char *dir, const char *name, const struct lx_json_opts *opts, int *rc)
{
    char path[4096];
    size_t len = 0;
    char *text, *exact;
    struct lx_json doc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    text = lx_test_read_file(path, &len);
    if (text == NULL)
        LX_FAIL("cannot read %s", path);
    exact = lx_xmalloc(len ? len : 1);
    memcpy(exact, text, len);
    free(text);
    lx_json_init(&doc, opts);
    *rc = lx_json_parse(&doc, exact, len);
    if (*rc != LX_OK && doc.err_off > len) {
        lx_json_release(&doc);
        free(exact);
        LX_FAIL("%s: error offset %zu past the end %zu", name, doc.err_off, len);
    }
    if (*rc == LX_OK && (doc.ntoks == 0 || doc.toks[0].next != doc.ntoks)) {
        lx_json_release(&doc);
        free(exact);
        LX_FAIL("%s: root does not span all tokens", name);
    }
    lx_json_release(&doc);
    free(exact);
    return 0;
}

LX_TEST(json_corpus_y_n)
{
    const char *dir = lx_test_shared("corpus/json");
    struct lx_json_opts syntax = {.flags = LX_JSON_ALLOW_DUPKEYS};
    struct dirent *de;
    int ny = 0, nn = 0, ndup = 0;
    DIR *d;
    char dirbuf[4096];

    snprintf(dirbuf, sizeof(dirbuf), "%s", dir);
    d = opendir(dirbuf);
    if (d == NULL)
        LX_FAIL("cannot open %s", dirbuf);
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        int rc = 0, rc_syntax = 0;

        if ((name[0] != 'y' && name[0] != 'n') || name[1] != '_')
            continue;
        if (parse_file(dirbuf, name, NULL, &rc) || parse_file(dirbuf, name, &syntax, &rc_syntax)) {
            closedir(d);
            return 1;
        }
        if (name[0] == 'y') {
            ny++;
            if (rc_syntax != LX_OK || rc != (is_dupkey_file(name) ? LX_EDUPKEY : LX_OK)) {
                closedir(d);
                LX_FAIL("%s: got %s / %s", name, lx_err_name(rc), lx_err_name(rc_syntax));
            }
            ndup += rc == LX_EDUPKEY;
        } else {
            nn++;
            if (rc == LX_OK || rc_syntax == LX_OK) {
                closedir(d);
                LX_FAIL("%s: accepted", name);
            }
        }
    }
    closedir(d);
    LX_ASSERT_EQ(95, ny);
    LX_ASSERT_EQ(188, nn);
    LX_ASSERT_EQ(2, ndup);
    return 0;
}

LX_TEST(json_corpus_i_policy)
{
    const char *dir = lx_test_shared("corpus/json");
    char dirbuf[4096];
    struct lx_json_opts deep = {.max_depth = 500};
    struct dirent *de;
    int rc = 0, listed = 0;
    DIR *d;

    snprintf(dirbuf, sizeof(dirbuf), "%s", dir);
    for (size_t i = 0; i < LX_ARRAY_SIZE(i_policy); i++) {
        if (parse_file(dirbuf, i_policy[i].file, NULL, &rc))
            return 1;
        if (rc != i_policy[i].rc)
            LX_FAIL("%s: got %s, want %s (%s)", i_policy[i].file, lx_err_name(rc),
                    lx_err_name(i_policy[i].rc), i_policy[i].why);
    }
    /* the depth choice is configuration: 500 levels pass with max_depth 500, not 499 */
    if (parse_file(dirbuf, "i_structure_500_nested_arrays.json", &deep, &rc))
        return 1;
    LX_ASSERT_EQ(LX_OK, rc);
    deep.max_depth = 499;
    if (parse_file(dirbuf, "i_structure_500_nested_arrays.json", &deep, &rc))
        return 1;
    LX_ASSERT_EQ(LX_EDEPTH, rc);
    /* every i_ file of the corpus has a row */
    d = opendir(dirbuf);
    if (d == NULL)
        LX_FAIL("cannot open %s", dirbuf);
    while ((de = readdir(d)) != NULL) {
        bool found = false;

        if (strncmp(de->d_name, "i_", 2) != 0 || strstr(de->d_name, ".json") == NULL)
            continue;
        for (size_t i = 0; i < LX_ARRAY_SIZE(i_policy); i++)
            found = found || strcmp(i_policy[i].file, de->d_name) == 0;
        if (!found) {
            closedir(d);
            LX_FAIL("%s has no policy row", de->d_name);
        }
        listed++;
    }
    closedir(d);
    LX_ASSERT_EQ(LX_ARRAY_SIZE(i_policy), listed);
    return 0;
}

/* Every y_ file, re-encoded by the writer from our tokens, means the same to jansson as the
 * original (where jansson reads the original at all): decoding and escaping lose nothing. */
LX_TEST(json_corpus_y_reencode_matches_jansson)
{
    const size_t jflags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    char dirbuf[4096], path[4096 + 300];
    struct dirent *de;
    int compared = 0;
    DIR *d;

    snprintf(dirbuf, sizeof(dirbuf), "%s", lx_test_shared("corpus/json"));
    d = opendir(dirbuf);
    if (d == NULL)
        LX_FAIL("cannot open %s", dirbuf);
    while ((de = readdir(d)) != NULL) {
        struct lx_json_opts opts = {.flags = LX_JSON_ALLOW_DUPKEYS};
        struct lx_buf out = LX_BUF_INIT(1 << 20);
        struct lx_json_writer w;
        struct lx_json doc;
        json_error_t jerr;
        json_t *a, *b;
        size_t len = 0;
        char *text;
        int rc;

        if (strncmp(de->d_name, "y_", 2) != 0 || is_dupkey_file(de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dirbuf, de->d_name);
        text = lx_test_read_file(path, &len);
        if (text == NULL)
            continue;
        lx_json_init(&doc, &opts);
        rc = lx_json_parse(&doc, text, len);
        lx_json_writer_init(&w, &out);
        if (rc == LX_OK)
            rc = lx_json_write_copy(&w, &doc, 0);
        a = json_loadb(text, len, jflags, &jerr);
        b = rc == LX_OK ? json_loadb(out.ptr, out.len, jflags, &jerr) : NULL;
        if (rc != LX_OK || (a != NULL && (b == NULL || !json_equal(a, b)))) {
            json_decref(a);
            json_decref(b);
            closedir(d);
            LX_FAIL("%s: rc %s, re-encoded '%s'", de->d_name, lx_err_name(rc), out.ptr);
        }
        compared += a != NULL;
        json_decref(a);
        json_decref(b);
        lx_json_release(&doc);
        lx_buf_release(&out);
        free(text);
    }
    closedir(d);
    LX_ASSERT(compared >= 85); /* jansson itself refuses a few (key with NUL, ...) */
    return 0;
}
