/* writer.h - appends correctly framed text/event-stream events to a struct lx_buf (what the
 * server sends to clients). Pure functions, any thread; the caller owns the buffer. Every
 * function returns the buffer's sticky error (LX_OK, LX_ENOMEM or LX_ETOOBIG), so a caller may
 * write several events and check once; LX_EINVAL means a field that cannot be framed, and then
 * nothing was appended. Data is split on LF, CR and CRLF into one "data: " line each, so it
 * parses back (sse.h) to the same text with every line end turned into LF. */
#ifndef LX_SSE_WRITER_H
#define LX_SSE_WRITER_H

#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

/* One event: "event: <event>\n" if event.len > 0, "id: <id>\n" if id.ptr != NULL (an empty
 * non-NULL id resets the client's last event ID), the data lines, then the blank line.
 * event and id must not contain CR or LF, and id no NUL: LX_EINVAL. */
int lx_sse_write(struct lx_buf *b, struct lx_str event, struct lx_str id, struct lx_str data);

/* "data: <line>\n"... "\n": the usual OpenAI-style event. */
int lx_sse_write_data(struct lx_buf *b, struct lx_str data);

/* An Anthropic-style event: "event: <event>\n" + data lines + "\n". */
int lx_sse_write_event(struct lx_buf *b, struct lx_str event, struct lx_str data);

/* Comment lines: ":" + text verbatim for each line of text (no space added: pass " ping" for
 * ": ping"). A comment does not end an event. Used for keep-alives and relaying comments. */
int lx_sse_write_comment(struct lx_buf *b, struct lx_str text);

/* "retry: <ms>\n" (not an event by itself). */
int lx_sse_write_retry(struct lx_buf *b, uint64_t ms);

/* The OpenAI stream terminator "data: [DONE]\n\n". */
int lx_sse_write_done(struct lx_buf *b);

#endif /* LX_SSE_WRITER_H */
