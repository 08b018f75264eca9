/* main.c - runs every registered unit test, or those whose name contains argv[1].
 * Prints "PASS name" / "FAIL name" per test and a closing "N passed, N failed" line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tests/unit/test.h"

static struct lx_test *head, **tail = &head;

void lx_test_register(struct lx_test *t)
{
    /* constructors run per file in an unspecified order; keep registration order per file */
    *tail = t;
    tail = &t->next;
}

const char *lx_test_shared(const char *rel)
{
    static char path[4096];
    const char *root = getenv("LX_SHARED");

    snprintf(path, sizeof(path), "%s/%s", root && *root ? root : "../shared", rel);
    return path;
}

char *lx_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    p = lx_xmalloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
        goto out;
    }
    p[n] = '\0';
    if (len)
        *len = (size_t)n;
out:
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (struct lx_test *t = head; t; t = t->next) {
        if (argc > 1 && strstr(t->name, argv[1]) == NULL)
            continue;
        if (t->fn() == 0) {
            printf("PASS unit/%s\n", t->name);
            passed++;
        } else {
            printf("FAIL unit/%s (%s)\n", t->name, t->file);
            failed++;
        }
        lx_alloc_fail_after(-1);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
