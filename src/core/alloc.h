/* alloc.h - the two kinds of allocation (STYLE.md 3.3 OOM policy).
 * lx_xmalloc & co. are for fixed-size internal objects and abort on failure (Redis, h2o).
 * lx_malloc & co. are for anything sized by untrusted input; they return NULL, and tests can
 * make the Nth call fail (lx_alloc_fail_after) to prove every such path is handled.
 * The fail-after counter is a process global meant for single-threaded unit tests. */
#ifndef LX_ALLOC_H
#define LX_ALLOC_H

#include <stddef.h>

void *lx_xmalloc(size_t n);
void *lx_xcalloc(size_t count, size_t n);
void *lx_xrealloc(void *p, size_t n);
char *lx_xstrndup(const char *s, size_t n);

void *lx_malloc(size_t n);
void *lx_calloc(size_t count, size_t n);
void *lx_realloc(void *p, size_t n);
char *lx_strndup(const char *s, size_t n);

/* Tests only: the next n fallible allocations succeed, then every one fails; -1 turns it off. */
void lx_alloc_fail_after(long n);

#endif /* LX_ALLOC_H */
