/* escape.h - JSON string escaping, the one shared by the logger and json/ writer.
 * Pure. Bytes are copied as they are except '"', '\\' and control characters; invalid UTF-8
 * is replaced by U+FFFD so that a log line or a response is always valid JSON. */
#ifndef LX_ESCAPE_H
#define LX_ESCAPE_H

#include "core/buf.h"
#include "core/str.h"

/* Appends the escaped bytes of s, without the surrounding quotes. Returns b->err. */
int lx_json_escape(struct lx_buf *b, struct lx_str s);

#endif /* LX_ESCAPE_H */
