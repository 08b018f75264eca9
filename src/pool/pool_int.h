/* pool_int.h - shared only inside src/pool/: what cooldown.c needs to know of a pool. */
#ifndef LX_POOL_INT_H
#define LX_POOL_INT_H

#include <stdbool.h>

struct lx_pool;

bool lx__pool_google(const struct lx_pool *pool); /* long cooldowns end at LA midnight */

#endif /* LX_POOL_INT_H */
