/* log.h - JSON-lines logger with levels. One line per event, written with one write(2) so
 * lines from several loop threads never interleave. Callers build a line field by field:
 *
 *     struct lx_logline l;
 *     if (lx_log_begin(&l, LX_LOG_INFO, "listening")) {
 *         lx_log_cstr(&l, "addr", "127.0.0.1:4000");
 *         lx_log_end(&l);
 *     }
 *
 * Secrets are kept out by construction: no field takes a header map or a raw body, and the
 * callers never pass a key. Values are escaped; invalid UTF-8 becomes U+FFFD. */
#ifndef LX_LOG_H
#define LX_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

enum lx_log_level { LX_LOG_DEBUG = 0, LX_LOG_INFO, LX_LOG_WARN, LX_LOG_ERROR, LX_LOG_OFF };

struct lx_logline {
    struct lx_buf *out; /* where the line is built: &own, or a caller's batch (begin_to) */
    struct lx_buf own;
    bool active;
};

#define LX_LOG_FIELD_MAX 1024        /* longer string values are cut (and say so) */
#define LX_LOG_BATCH_FLUSH (256u << 10) /* begin_to writes a batch out past this size */

/* Process-wide: call before any thread starts. fd -1 keeps stderr. */
void lx_log_init(int fd, enum lx_log_level min);
int lx_log_parse_level(const char *name, enum lx_log_level *out); /* "debug".."error","off" */
bool lx_log_enabled(enum lx_log_level level);

/* false when the level is filtered out: then skip the fields and lx_log_end. */
bool lx_log_begin(struct lx_logline *l, enum lx_log_level level, const char *msg);
/* The same, but the line is built straight into batch (no allocation per line): a loop
 * batches its access log and writes it once per iteration with lx_log_write. A batch past
 * LX_LOG_BATCH_FLUSH is written out first, so it never fills up. */
bool lx_log_begin_to(struct lx_logline *l, enum lx_log_level level, const char *msg,
                     struct lx_buf *batch);
void lx_log_str(struct lx_logline *l, const char *key, struct lx_str v);
void lx_log_cstr(struct lx_logline *l, const char *key, const char *v); /* NULL -> null */
void lx_log_int(struct lx_logline *l, const char *key, long long v);
void lx_log_uint(struct lx_logline *l, const char *key, unsigned long long v);
void lx_log_double(struct lx_logline *l, const char *key, double v);
/* A duration given in nanoseconds, written in milliseconds with three decimals ("12.345"),
 * without printf: the access log's hot path. */
void lx_log_ms(struct lx_logline *l, const char *key, uint64_t ns);
void lx_log_bool(struct lx_logline *l, const char *key, bool v);
/* Ends the line: written at once (lx_log_begin), or left in the batch (lx_log_begin_to). */
void lx_log_end(struct lx_logline *l);
/* Writes whole lines to the log fd in one call (retrying short writes). */
void lx_log_write(struct lx_str lines);

/* One-liner with a printf-formatted "msg" and no other fields. */
void lx_logf(enum lx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LX_LOG_H */
