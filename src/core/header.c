/* header.c - header array lookup (header.h). Pure. */
#include "core/header.h"

const struct lx_header *lx_header_find(const struct lx_header *h, size_t n, struct lx_str name)
{
    for (size_t i = 0; i < n; i++)
        if (lx_str_eq_nocase(h[i].name, name))
            return &h[i];
    return NULL;
}
