/* arena.h - per-request bump allocator (h2o req->pool, nginx r->pool).
 * Everything allocated from an arena lives until lx_arena_free(); cleanup callbacks registered
 * with lx_arena_on_release run then, newest first (ngx_pool_cleanup_add). An arena has a byte
 * budget (`max`) so untrusted input cannot grow it without bound: allocations past it fail
 * with NULL, as do allocations when the system is out of memory. One owner, one thread. */
#ifndef LX_ARENA_H
#define LX_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct lx_arena;
typedef void lx_arena_cleanup_fn(void *arg);

/* NULL on out of memory. first_block: bytes of the first block (0 = 4 KiB). */
struct lx_arena *lx_arena_new(size_t first_block, size_t max);
void lx_arena_free(struct lx_arena *a); /* NULL-safe */
/* Frees every block but the first and runs the cleanups: the arena is empty again. */
void lx_arena_reset(struct lx_arena *a);
void *lx_arena_alloc(struct lx_arena *a, size_t n);  /* 16-byte aligned; NULL on failure */
void *lx_arena_zalloc(struct lx_arena *a, size_t n); /* zeroed */
char *lx_arena_strndup(struct lx_arena *a, const char *s, size_t n); /* NUL-terminated */
struct lx_str lx_arena_dup(struct lx_arena *a, struct lx_str s);     /* ptr NULL on failure */
int lx_arena_on_release(struct lx_arena *a, lx_arena_cleanup_fn *fn, void *arg);
size_t lx_arena_used(const struct lx_arena *a); /* bytes handed out, for limits and stats */
/* Whether p points into memory handed out by a (to wipe only what the arena holds). */
bool lx_arena_owns(const struct lx_arena *a, const void *p);

#endif /* LX_ARENA_H */
