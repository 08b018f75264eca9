/* ndjson.h - incremental, bounded splitter for newline-delimited JSON streams (Ollama). Lines
 * end in LF or CRLF; empty and whitespace-only lines are skipped; each other line goes to a
 * callback, the same lines however the input was split. The splitter is embedded by its owner,
 * used by one thread, and owns one buffer for a line cut by a chunk end (lx_ndjson_release).
 * The slice given to the callback is valid only during the callback; it is not parsed or
 * checked as JSON here. */
#ifndef LX_NDJSON_H
#define LX_NDJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"

/* Returns LX_OK to go on, or an LX_E* code that stops lx_ndjson_feed, which returns it. */
typedef int lx_ndjson_line_cb(void *ctx, struct lx_str line);

struct lx_ndjson {
    size_t max_line;    /* longest line accepted, without its line end */
    int err;            /* sticky */
    struct lx_buf line; /* a line cut by the end of a chunk */
};

void lx_ndjson_init(struct lx_ndjson *s, size_t max_line); /* allocates nothing */

/* Calls cb for each complete non-empty line, without its LF or CRLF. Returns LX_OK,
 * LX_ETOOBIG (a line over max_line), LX_ENOMEM, or the first error cb returned. Errors are
 * sticky: the splitter is then only good for lx_ndjson_release. */
int lx_ndjson_feed(struct lx_ndjson *s, struct lx_str chunk, lx_ndjson_line_cb *cb, void *ctx);

/* End of stream: LX_OK, or LX_ETRUNCATED if a partial non-blank line was pending (it is
 * dropped), or the sticky error. Resets the splitter for a new stream. */
int lx_ndjson_finish(struct lx_ndjson *s);

void lx_ndjson_release(struct lx_ndjson *s);

#endif /* LX_NDJSON_H */
