/* common.h - small macros every module uses: array size, min/max, branch hints.
 * Header only; no state. */
#ifndef LX_COMMON_H
#define LX_COMMON_H

#include <stddef.h>

#define LX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LX_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LX_LIKELY(x) __builtin_expect(!!(x), 1)
#define LX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LX_UNUSED(x) ((void)(x))
#define LX_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif /* LX_COMMON_H */
