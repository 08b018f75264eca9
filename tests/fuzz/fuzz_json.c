/* fuzz_json.c - differential fuzzing of the tokenizer against jansson, plus round trips.
 * For every input: our verdict must equal jansson's (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL) except for these documented differences, filtered explicitly:
 *   - numbers: jansson converts and fails on integers beyond int64 and reals beyond double
 *     (json_error_numeric_overflow); we keep numbers as bytes and accept them;
 *   - a key containing U+0000: jansson refuses it (json_error_null_byte_in_key); we accept;
 *   - depth: jansson stops at 2048 levels, we at our max_depth (1000 here): our LX_EDEPTH is
 *     not compared;
 *   - a NUL byte outside strings: jansson's buffered reader drops it after some tokens (it
 *     accepts "[2\0]" and "[true\0]"); we reject it, and pass only when our error points at it.
 * When we accept: the token tree is consistent, lx_json_write_copy() output re-parses to the
 * same number of tokens and (if jansson accepted) to a jansson-equal value, and a splice of the
 * root object re-parses. The same input parsed into a small fixed array and into an arena gives
 * the same verdict (or LX_ETOOBIG / LX_ENOMEM exactly when those run out). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "json/json.h"
#include "json/splice.h"
#include "json/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Every container's children, walked with first/sibling, are `count` and end at `next`. */
static void check_tree(const struct lx_json *doc)
{
    check(doc->ntoks > 0 && doc->toks[0].next == doc->ntoks);
    for (uint32_t i = 0; i < doc->ntoks; i++) {
        const struct lx_json_tok *t = &doc->toks[i];
        enum lx_json_type ty = (enum lx_json_type)t->type;
        uint32_t n = 0;
        int last = -1;

        check(t->next > i && t->next <= doc->ntoks);
        check((size_t)t->start + t->len <= doc->len);
        if (ty != LX_JSON_OBJECT && ty != LX_JSON_ARRAY) {
            check(t->next == i + 1);
            continue;
        }
        for (int c = lx_json_first(doc, (int)i); c >= 0; c = lx_json_sibling(doc, (int)i, c)) {
            check(doc->toks[c].next <= t->next);
            if (ty == LX_JSON_OBJECT)
                check(doc->toks[c].type == LX_JSON_STRING);
            last = c;
            n++;
        }
        check(n == t->count);
        check(last < 0 ||
              (ty == LX_JSON_OBJECT ? doc->toks[last + 1].next : doc->toks[last].next) == t->next);
    }
}

static bool jansson_difference_ok(const json_error_t *jerr)
{
    enum json_error_code code = json_error_code(jerr);

    return code == json_error_numeric_overflow || code == json_error_null_byte_in_key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t jflags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    struct lx_json_opts opts = {.max_depth = 1000, .max_tokens = LX_JSON_MAX_COUNT};
    struct lx_json doc, again;
    struct lx_buf out = LX_BUF_INIT(1 << 24);
    struct lx_json_writer w;
    json_error_t jerr;
    json_t *jv;
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    int rc;

    memcpy(copy, data, size);
    lx_json_init(&doc, &opts);
    rc = lx_json_parse(&doc, copy, size);
    jv = json_loadb(copy, size, jflags, &jerr);
    if (rc == LX_OK) {
        check_tree(&doc);
        check(jv != NULL || jansson_difference_ok(&jerr));
    } else {
        check(doc.err_off <= size);
        check(rc == LX_EPARSE || rc == LX_EUTF8 || rc == LX_EDEPTH || rc == LX_EDUPKEY);
        check(jv == NULL || rc == LX_EDEPTH ||
              (rc == LX_EPARSE && doc.err_off < size && copy[doc.err_off] == '\0'));
    }

    {
        struct lx_json_tok fixed[64];
        struct lx_json small;
        struct lx_arena *a = lx_arena_new(0, 1 << 16);
        int rc2;

        lx_json_init(&small, &opts);
        lx_json_use_array(&small, fixed, 64);
        rc2 = lx_json_parse(&small, copy, size);
        check(rc2 == rc || (rc2 == LX_ETOOBIG && (rc != LX_OK || doc.ntoks > 64)));
        check(rc2 != LX_OK || memcmp(fixed, doc.toks, small.ntoks * sizeof(fixed[0])) == 0);
        lx_json_release(&small);
        lx_json_init(&small, &opts);
        lx_json_use_arena(&small, a);
        rc2 = lx_json_parse(&small, copy, size);
        check(rc2 == rc || rc2 == LX_ENOMEM);
        check(rc2 != LX_OK || small.ntoks == doc.ntoks);
        lx_arena_free(a);
    }

    if (rc == LX_OK) {
        /* round trip through the writer */
        lx_json_writer_init(&w, &out);
        rc = lx_json_write_copy(&w, &doc, 0);
        if (rc == LX_OK) {
            check(lx_json_writer_finish(&w) == LX_OK);
            lx_json_init(&again, &opts);
            check(lx_json_parse(&again, out.ptr, out.len) == LX_OK);
            check(again.ntoks == doc.ntoks);
            if (jv != NULL) {
                json_t *jv2 = json_loadb(out.ptr, out.len, jflags, &jerr);

                check(jv2 != NULL && json_equal(jv, jv2));
                json_decref(jv2);
            }
            lx_json_release(&again);
        } else {
            check(rc == LX_EDEPTH); /* deeper than the writer's stack */
        }
        /* splice: set the first key's value to null, add (or replace) "zz-new" */
        if (lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
            struct lx_json_edit edits[3] = {{LX_STR("zz-new"), LX_STR("{\"a\":[1]}")}};
            struct lx_buf tmp = LX_BUF_INIT(1 << 20);
            size_t n = 1;
            int k = lx_json_first(&doc, 0);

            if (k >= 0 && lx_json_unescape(&doc, k, &tmp) == LX_OK)
                edits[n++] = (struct lx_json_edit){lx_buf_str(&tmp), LX_STR("null")};
            lx_buf_reset(&out);
            check(lx_json_splice(&doc, 0, edits, n, &out) == LX_OK);
            lx_json_init(&again, &opts);
            rc = lx_json_parse(&again, out.ptr, out.len);
            /* "zz-new" may already exist: then it was replaced, never duplicated */
            check(rc == LX_OK);
            check(
                lx_json_str_eq(&again, lx_json_get(&again, 0, LX_STR("zz-new")) + 1, LX_STR("a")) ||
                lx_json_type(&again, lx_json_get(&again, 0, LX_STR("zz-new"))) == LX_JSON_OBJECT);
            lx_json_release(&again);
            lx_buf_release(&tmp);
        }
    }
    json_decref(jv);
    lx_buf_release(&out);
    lx_json_release(&doc);
    free(copy);
    return 0;
}
