/* test_core.c - str, buf, arena, err, escape, log. */
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/escape.h"
#include "core/file.h"
#include "core/log.h"
#include "core/str.h"
#include "tests/unit/test.h"

LX_TEST(str_basics)
{
    uint64_t v = 0;

    LX_ASSERT(lx_str_eq(LX_STR("abc"), lx_str_cstr("abc")));
    LX_ASSERT(!lx_str_eq(LX_STR("abc"), LX_STR("abd")));
    LX_ASSERT(lx_str_eq_nocase(LX_STR("Content-Length"), LX_STR("content-LENGTH")));
    LX_ASSERT(lx_str_starts_with(LX_STR("gpt-4o"), LX_STR("gpt-")));
    LX_ASSERT(lx_str_ends_with(LX_STR("a.json"), LX_STR(".json")));
    LX_ASSERT_STR(lx_str_trim(LX_STR(" \t x y\t ")), "x y");
    LX_ASSERT_EQ(3, lx_str_find_char(LX_STR("abc/d"), '/'));
    LX_ASSERT_EQ(-1, lx_str_find_char(LX_STR("abcd"), '/'));
    LX_ASSERT_STR(lx_str_sub(LX_STR("abcdef"), 4, 10), "ef");
    LX_ASSERT_EQ(LX_OK, lx_str_to_u64(LX_STR("18446744073709551615"), &v));
    LX_ASSERT(v == UINT64_MAX);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_str_to_u64(LX_STR("18446744073709551616"), &v));
    LX_ASSERT_EQ(LX_EPARSE, lx_str_to_u64(LX_STR("+1"), &v));
    LX_ASSERT_EQ(LX_EPARSE, lx_str_to_u64(LX_STR(""), &v));
    LX_ASSERT(lx_str_eq_ct(LX_STR("sk-1"), LX_STR("sk-1")));
    LX_ASSERT(!lx_str_eq_ct(LX_STR("sk-1"), LX_STR("sk-12")));
    LX_ASSERT(!lx_str_eq_ct(LX_STR("sk-1"), LX_STR("sk-2")));
    return 0;
}

LX_TEST(buf_sticky_limit)
{
    struct lx_buf b = LX_BUF_INIT(8);

    LX_ASSERT_EQ(LX_OK, lx_buf_append(&b, "abcd", 4));
    LX_ASSERT_EQ(LX_OK, lx_buf_appendf(&b, "%d", 123));
    LX_ASSERT_STR(lx_buf_str(&b), "abcd123");
    LX_ASSERT_EQ(LX_ETOOBIG, lx_buf_append(&b, "xy", 2));
    LX_ASSERT_EQ(LX_ETOOBIG, lx_buf_append(&b, "", 0)); /* sticky */
    LX_ASSERT_STR(lx_buf_str(&b), "abcd123");
    lx_buf_reset(&b);
    LX_ASSERT_EQ(LX_OK, lx_buf_append_cstr(&b, "12345678"));
    LX_ASSERT_EQ(0, b.ptr[8]);
    lx_buf_consume(&b, 6);
    LX_ASSERT_STR(lx_buf_str(&b), "78");
    lx_buf_release(&b);
    LX_ASSERT(b.ptr == lx_buf_empty);
    return 0;
}

LX_TEST(buf_oom_is_sticky)
{
    struct lx_buf b = LX_BUF_INIT(1 << 20);

    lx_alloc_fail_after(0);
    LX_ASSERT_EQ(LX_ENOMEM, lx_buf_append(&b, "abc", 3));
    lx_alloc_fail_after(-1);
    LX_ASSERT_EQ(LX_ENOMEM, lx_buf_append(&b, "abc", 3));
    LX_ASSERT(lx_buf_detach(&b, NULL) == NULL);
    return 0;
}

static void count_cleanup(void *arg)
{
    (*(int *)arg)++;
}

LX_TEST(arena_alloc_and_cleanup)
{
    struct lx_arena *a = lx_arena_new(256, 1 << 20);
    int runs = 0;
    char *big;

    LX_ASSERT(a != NULL);
    for (int i = 0; i < 100; i++) {
        char *p = lx_arena_alloc(a, 24);

        LX_ASSERT(p != NULL);
        LX_ASSERT_EQ(0, (uintptr_t)p % 16);
        memset(p, 'x', 24);
    }
    big = lx_arena_alloc(a, 100000);
    LX_ASSERT(big != NULL);
    memset(big, 1, 100000);
    LX_ASSERT_EQ(LX_OK, lx_arena_on_release(a, count_cleanup, &runs));
    LX_ASSERT_STR(lx_arena_dup(a, LX_STR("hello")), "hello");
    LX_ASSERT(lx_arena_alloc(a, 2 << 20) == NULL); /* over the budget */
    lx_arena_reset(a);
    LX_ASSERT_EQ(1, runs);
    LX_ASSERT_EQ(0, lx_arena_used(a));
    LX_ASSERT(lx_arena_alloc(a, 10) != NULL);
    lx_arena_free(a);
    LX_ASSERT_EQ(1, runs);
    return 0;
}

LX_TEST(arena_owns)
{
    struct lx_arena *a = lx_arena_new(64, 0);
    char *small, *big;
    static char outside[8];

    LX_ASSERT(a != NULL);
    small = lx_arena_alloc(a, 16);
    big = lx_arena_alloc(a, 10000); /* a block of its own */
    LX_ASSERT(small && big);
    LX_ASSERT(lx_arena_owns(a, small));
    LX_ASSERT(lx_arena_owns(a, small + 15));
    LX_ASSERT(lx_arena_owns(a, big + 9999));
    LX_ASSERT(!lx_arena_owns(a, outside));
    LX_ASSERT(!lx_arena_owns(a, big + 10000 + 64)); /* past what was handed out */
    lx_arena_free(a);
    return 0;
}

LX_TEST(arena_oom)
{
    for (long n = 0;; n++) {
        struct lx_arena *a;
        int ok = 1;

        lx_alloc_fail_after(n);
        a = lx_arena_new(128, 0);
        if (a != NULL) {
            for (int i = 0; i < 20; i++)
                if (lx_arena_alloc(a, 100) == NULL)
                    ok = 0;
            lx_arena_free(a);
        } else {
            ok = 0;
        }
        lx_alloc_fail_after(-1);
        if (ok)
            break;
        LX_ASSERT(n < 100);
    }
    return 0;
}

LX_TEST(err_table)
{
    struct lx_err e;

    LX_ASSERT_STREQ("ENOMEM", lx_err_name(LX_ENOMEM));
    LX_ASSERT_STREQ("out of memory", lx_strerror(LX_ENOMEM));
    LX_ASSERT_STREQ("unknown error", lx_strerror(12345));
    LX_ASSERT(LX_EPAUSE < 0);
    lx_err_set(&e, LX_ETIMEDOUT, 504, "upstream %s", "timed out");
    LX_ASSERT_EQ(504, e.http_status);
    LX_ASSERT_STREQ("upstream timed out", e.msg);
    return 0;
}

LX_TEST(escape_json)
{
    struct lx_buf b = LX_BUF_INIT(1024);

    lx_json_escape(&b, LX_STR("a\"b\\c\n\x01 \xc3\xa9 \xff z"));
    LX_ASSERT_STR(lx_buf_str(&b), "a\\\"b\\\\c\\n\\u0001 \xc3\xa9 \xef\xbf\xbd z");
    lx_buf_reset(&b);
    lx_json_escape(&b, LX_STR("\xed\xa0\x80")); /* a surrogate encoded in UTF-8 is invalid */
    LX_ASSERT_STR(lx_buf_str(&b), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    lx_buf_release(&b);
    return 0;
}

LX_TEST(log_json_lines)
{
    char path[] = "/tmp/lx-log-XXXXXX";
    int fd = mkstemp(path);
    struct lx_logline l;
    char *text;

    LX_ASSERT(fd >= 0);
    lx_log_init(fd, LX_LOG_INFO);
    LX_ASSERT(!lx_log_begin(&l, LX_LOG_DEBUG, "hidden"));
    LX_ASSERT(lx_log_begin(&l, LX_LOG_WARN, "hello \"x\""));
    lx_log_int(&l, "n", -3);
    lx_log_str(&l, "s", LX_STR("a\nb"));
    lx_log_bool(&l, "ok", true);
    lx_log_end(&l);
    lx_log_init(2, LX_LOG_WARN);
    close(fd);
    text = lx_test_read_file(path, NULL);
    unlink(path);
    LX_ASSERT(text != NULL);
    LX_ASSERT(strstr(text, "\"level\":\"warn\",\"msg\":\"hello \\\"x\\\"\",\"n\":-3,"
                           "\"s\":\"a\\nb\",\"ok\":true}\n") != NULL);
    LX_ASSERT(strstr(text, "hidden") == NULL);
    free(text);
    return 0;
}

LX_TEST(buf_unbounded_max)
{
    struct lx_buf b = LX_BUF_INIT((size_t)-1);

    for (int i = 0; i < 100; i++)
        LX_ASSERT_EQ(LX_OK, lx_buf_append(&b, "0123456789", 10));
    LX_ASSERT_EQ(1000, b.len);
    LX_ASSERT(b.cap > b.len);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(log_batch_and_field_cap)
{
    struct lx_buf batch = LX_BUF_INIT(1u << 20);
    struct lx_logline l;
    char big[LX_LOG_FIELD_MAX + 100];

    memset(big, 'm', sizeof(big));
    lx_log_init(2, LX_LOG_INFO);
    LX_ASSERT(lx_log_begin_to(&l, LX_LOG_INFO, "access", &batch));
    lx_log_int(&l, "neg", -9223372036854775807LL - 1);
    lx_log_uint(&l, "max", 18446744073709551615ULL);
    lx_log_int(&l, "zero", 0);
    lx_log_double(&l, "ms", 1.5);
    lx_log_str(&l, "model", lx_str_make(big, sizeof(big)));
    lx_log_end(&l);
    LX_ASSERT(strstr(batch.ptr, "\"neg\":-9223372036854775808,\"max\":18446744073709551615,"
                                "\"zero\":0,\"ms\":1.5,\"model\":\"mmm") != NULL);
    LX_ASSERT(strstr(batch.ptr, "m...(cut)\"}\n") != NULL);
    LX_ASSERT(batch.len < LX_LOG_FIELD_MAX + 200); /* the value was cut */
    LX_ASSERT(batch.ptr[batch.len - 1] == '\n');
    LX_ASSERT(!lx_log_begin_to(&l, LX_LOG_DEBUG, "hidden", &batch));
    lx_log_init(2, LX_LOG_WARN);
    lx_buf_release(&batch);
    return 0;
}

LX_TEST(file_read_bounded)
{
    char path[] = "/tmp/lx-file-XXXXXX";
    int fd = mkstemp(path);
    size_t len = 99;
    char *p;

    LX_ASSERT(fd >= 0);
    LX_ASSERT(lx_file_read("/nonexistent/lx-file", 100, &len) == NULL);
    p = lx_file_read(path, 100, &len); /* empty */
    LX_ASSERT(p != NULL);
    LX_ASSERT_EQ(0, len);
    free(p);
    LX_ASSERT_EQ(10, write(fd, "0123456789", 10));
    close(fd);
    p = lx_file_read(path, 10, &len);
    LX_ASSERT(p != NULL);
    LX_ASSERT_STR(lx_str_make(p, len), "0123456789");
    free(p);
    LX_ASSERT(lx_file_read(path, 9, &len) == NULL); /* over the bound */
    unlink(path);
    return 0;
}
