/* test.h - the unit test harness (Valkey, libuv style): a test is a function returning 0 on
 * success; assertions print both values and return 1. Tests register themselves, so a new
 * file under tests/unit/ needs no list edited anywhere:
 *
 *     LX_TEST(sse_split_anywhere) { LX_ASSERT_EQ(1, n); return 0; }
 *
 * A test file may #include the .c under test to reach static functions (h2o). */
#ifndef LX_TEST_H
#define LX_TEST_H

#include <stdio.h>
#include <string.h>

#include "core/common.h"

struct lx_test {
    const char *name, *file;
    int (*fn)(void);
    struct lx_test *next;
};

void lx_test_register(struct lx_test *t);
/* Path of a file under ../shared (or $LX_SHARED): tests read the corpora and fixtures there.
 * Returns a static buffer. */
const char *lx_test_shared(const char *rel);
/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *lx_test_read_file(const char *path, size_t *len);

#define LX_TEST(fname)                                                                             \
    static int fname(void);                                                                        \
    static struct lx_test fname##_reg = {#fname, __FILE__, fname, NULL};                          \
    __attribute__((constructor)) static void fname##_ctor(void) { lx_test_register(&fname##_reg); } \
    static int fname(void)

#define LX_FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return 1;                                                                                  \
    } while (0)

#define LX_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c))                                                                                  \
            LX_FAIL("assertion failed: %s", #c);                                                   \
    } while (0)

#define LX_ASSERT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            LX_FAIL("%s == %s (%lld vs %lld)", #a, #b, a_, b_);                                    \
    } while (0)

#define LX_ASSERT_STREQ(a, b)                                                                      \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            LX_FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",                     \
                    b_ ? b_ : "(null)");                                                           \
    } while (0)

/* Compares a slice with a C string. */
#define LX_ASSERT_STR(s, lit)                                                                      \
    do {                                                                                           \
        struct lx_str s_ = (s);                                                                    \
        const char *l_ = (lit);                                                                    \
        if (s_.len != strlen(l_) || (s_.len && memcmp(s_.ptr, l_, s_.len) != 0))                   \
            LX_FAIL("%s == %s (\"%.*s\" vs \"%s\")", #s, #lit, (int)s_.len,                        \
                    s_.ptr ? s_.ptr : "", l_);                                                     \
    } while (0)

#endif /* LX_TEST_H */
