/* json_int.h - byte-scanning helpers shared by json.c and writer.c only: the ones in
 * core/utf8.h (also used by core/escape.c) under their short local names. Header-only, pure. */
#ifndef LX_JSON_INT_H
#define LX_JSON_INT_H

#include "core/utf8.h"

#define ONES LX_SWAR_ONES
#define HIGHS LX_SWAR_HIGHS
#define swar_stop lx_swar_json_stop
#define utf8_len lx_utf8_len

#endif /* LX_JSON_INT_H */
