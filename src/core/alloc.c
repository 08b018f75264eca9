/* alloc.c - aborting and fallible allocators, with the test hook of alloc.h. */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long fail_after = -1; /* tests only; see alloc.h */

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *lx_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *lx_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);

    if (p == NULL)
        oom(count * n);
    return p;
}

void *lx_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *lx_xstrndup(const char *s, size_t n)
{
    char *p = lx_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void *lx_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *lx_calloc(size_t count, size_t n)
{
    return should_fail() ? NULL : calloc(count ? count : 1, n ? n : 1);
}

void *lx_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *lx_strndup(const char *s, size_t n)
{
    char *p = lx_malloc(n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void lx_alloc_fail_after(long n)
{
    fail_after = n;
}
