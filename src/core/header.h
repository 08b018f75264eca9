/* header.h - one HTTP header field as two slices, shared by server/ and upstream/.
 * Whoever builds an array of them owns the bytes the slices point into. */
#ifndef LX_HEADER_H
#define LX_HEADER_H

#include <stddef.h>

#include "core/str.h"

struct lx_header {
    struct lx_str name, value;
};

/* First header whose name equals `name` (ASCII case-insensitive), or NULL. */
const struct lx_header *lx_header_find(const struct lx_header *h, size_t n, struct lx_str name);

#endif /* LX_HEADER_H */
