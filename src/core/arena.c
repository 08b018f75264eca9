/* arena.c - bump allocator over a list of blocks (arena.h). Large requests get a block of
 * their own so that a 1 MB body does not waste the tail of a 4 KiB block. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

#define ALIGN 16u

struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    lx_arena_cleanup_fn *fn;
    void *arg;
};

struct lx_arena {
    struct block *head;     /* current block; the first block is last in the list */
    struct cleanup *cleanups;
    size_t first_size, max, used;
};

static struct block *block_new(size_t size)
{
    struct block *b = lx_malloc(sizeof(*b) + size);

    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct lx_arena *lx_arena_new(size_t first_block, size_t max)
{
    struct lx_arena *a = lx_malloc(sizeof(*a));

    if (a == NULL)
        return NULL;
    a->first_size = first_block ? first_block : 4096;
    a->head = block_new(a->first_size);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    a->cleanups = NULL;
    a->max = max ? max : SIZE_MAX;
    a->used = 0;
    return a;
}

static void run_cleanups(struct lx_arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;

        a->cleanups = c->next;
        c->fn(c->arg); /* c itself lives in the arena: freed with the blocks */
    }
}

void lx_arena_reset(struct lx_arena *a)
{
    struct block *b;

    run_cleanups(a);
    b = a->head;
    while (b->next) {
        struct block *next = b->next;

        free(b);
        b = next;
    }
    a->head = b;
    b->used = 0;
    a->used = 0;
}

void lx_arena_free(struct lx_arena *a)
{
    if (a == NULL)
        return;
    lx_arena_reset(a);
    free(a->head);
    free(a);
}

void *lx_arena_alloc(struct lx_arena *a, size_t n)
{
    struct block *b = a->head;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;

    if (need < n || need > a->max - a->used)
        return NULL;
    if (b->size - b->used < need) {
        size_t size = need > a->first_size / 2 ? need : a->first_size * 2;
        struct block *nb = block_new(size);

        if (nb == NULL)
            return NULL;
        if (need > a->first_size / 2 && b->size - b->used > 256) {
            /* a big one-off: keep filling the current block afterwards */
            nb->next = b->next;
            b->next = nb;
            nb->used = need;
            a->used += need;
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *lx_arena_zalloc(struct lx_arena *a, size_t n)
{
    void *p = lx_arena_alloc(a, n);

    if (p)
        memset(p, 0, n);
    return p;
}

char *lx_arena_strndup(struct lx_arena *a, const char *s, size_t n)
{
    char *p = lx_arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct lx_str lx_arena_dup(struct lx_arena *a, struct lx_str s)
{
    char *p = lx_arena_strndup(a, s.ptr, s.len);

    return p ? lx_str_make(p, s.len) : LX_STR_NULL;
}

int lx_arena_on_release(struct lx_arena *a, lx_arena_cleanup_fn *fn, void *arg)
{
    struct cleanup *c = lx_arena_alloc(a, sizeof(*c));

    if (c == NULL)
        return LX_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return LX_OK;
}

size_t lx_arena_used(const struct lx_arena *a)
{
    return a->used;
}

bool lx_arena_owns(const struct lx_arena *a, const void *p)
{
    uintptr_t x = (uintptr_t)p;

    for (const struct block *b = a->head; b != NULL; b = b->next)
        if (x >= (uintptr_t)b->data && x < (uintptr_t)b->data + b->used)
            return true;
    return false;
}
