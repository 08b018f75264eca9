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
    struct lx_buf b;
    bool active;
};

/* Process-wide: call before any thread starts. fd -1 keeps stderr. */
void lx_log_init(int fd, enum lx_log_level min);
int lx_log_parse_level(const char *name, enum lx_log_level *out); /* "debug".."error","off" */
bool lx_log_enabled(enum lx_log_level level);

/* false when the level is filtered out: then skip the fields and lx_log_end. */
bool lx_log_begin(struct lx_logline *l, enum lx_log_level level, const char *msg);
void lx_log_str(struct lx_logline *l, const char *key, struct lx_str v);
void lx_log_cstr(struct lx_logline *l, const char *key, const char *v); /* NULL -> null */
void lx_log_int(struct lx_logline *l, const char *key, long long v);
void lx_log_uint(struct lx_logline *l, const char *key, unsigned long long v);
void lx_log_double(struct lx_logline *l, const char *key, double v);
void lx_log_bool(struct lx_logline *l, const char *key, bool v);
void lx_log_end(struct lx_logline *l); /* writes the line and frees the buffer */
/* Appends the finished line to sink instead of writing it (a loop batches its access log and
 * writes it once per loop iteration with lx_log_write). Frees the line's buffer. */
void lx_log_end_to(struct lx_logline *l, struct lx_buf *sink);
/* Writes whole lines to the log fd in one call (retrying short writes). */
void lx_log_write(struct lx_str lines);

/* One-liner with a printf-formatted "msg" and no other fields. */
void lx_logf(enum lx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LX_LOG_H */
