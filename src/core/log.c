/* log.c - JSON-lines logger (log.h). The level and fd are set once at start and read by every
 * thread afterwards; a line is assembled in the caller's buffer and written in one call. */
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/escape.h"
#include "core/time.h"

#define LOG_LINE_MAX (64 * 1024)

static int log_fd = 2;
static enum lx_log_level log_min = LX_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void lx_log_init(int fd, enum lx_log_level min)
{
    if (fd >= 0)
        log_fd = fd;
    log_min = min;
}

int lx_log_parse_level(const char *name, enum lx_log_level *out)
{
    for (int i = 0; i <= LX_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum lx_log_level)i;
            return 0;
        }
    }
    return -1;
}

bool lx_log_enabled(enum lx_log_level level)
{
    return level >= log_min && level < LX_LOG_OFF;
}

bool lx_log_begin(struct lx_logline *l, enum lx_log_level level, const char *msg)
{
    char ts[25];

    l->active = lx_log_enabled(level);
    if (!l->active)
        return false;
    lx_buf_init(&l->b, LOG_LINE_MAX);
    lx_format_rfc3339_ms(lx_now_wall_ms(), ts);
    lx_buf_appendf(&l->b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
    lx_json_escape(&l->b, lx_str_cstr(msg));
    lx_buf_append_char(&l->b, '"');
    return true;
}

static void key(struct lx_logline *l, const char *k)
{
    lx_buf_append(&l->b, ",\"", 2);
    lx_json_escape(&l->b, lx_str_cstr(k));
    lx_buf_append(&l->b, "\":", 2);
}

void lx_log_str(struct lx_logline *l, const char *k, struct lx_str v)
{
    if (!l->active)
        return;
    key(l, k);
    if (v.ptr == NULL) {
        lx_buf_append(&l->b, "null", 4);
        return;
    }
    lx_buf_append_char(&l->b, '"');
    lx_json_escape(&l->b, v);
    lx_buf_append_char(&l->b, '"');
}

void lx_log_cstr(struct lx_logline *l, const char *k, const char *v)
{
    lx_log_str(l, k, lx_str_cstr(v));
}

void lx_log_int(struct lx_logline *l, const char *k, long long v)
{
    if (!l->active)
        return;
    key(l, k);
    lx_buf_appendf(&l->b, "%lld", v);
}

void lx_log_uint(struct lx_logline *l, const char *k, unsigned long long v)
{
    if (!l->active)
        return;
    key(l, k);
    lx_buf_appendf(&l->b, "%llu", v);
}

void lx_log_double(struct lx_logline *l, const char *k, double v)
{
    if (!l->active)
        return;
    key(l, k);
    if (isfinite(v))
        lx_buf_appendf(&l->b, "%.6g", v);
    else
        lx_buf_append(&l->b, "null", 4);
}

void lx_log_bool(struct lx_logline *l, const char *k, bool v)
{
    if (!l->active)
        return;
    key(l, k);
    lx_buf_append_cstr(&l->b, v ? "true" : "false");
}

void lx_log_write(struct lx_str lines)
{
    const char *p = lines.ptr;
    size_t left = lines.len;

    while (left > 0) {
        ssize_t n = write(log_fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere to report a logging failure */
        p += n;
        left -= (size_t)n;
    }
}

static void close_line(struct lx_logline *l)
{
    lx_buf_append(&l->b, "}\n", 2);
    if (l->b.err != 0) {
        lx_buf_reset(&l->b);
        lx_buf_append_cstr(&l->b, "{\"level\":\"error\",\"msg\":\"log line too long\"}\n");
    }
}

void lx_log_end(struct lx_logline *l)
{
    if (!l->active)
        return;
    close_line(l);
    lx_log_write(lx_buf_str(&l->b));
    lx_buf_release(&l->b);
    l->active = false;
}

void lx_log_end_to(struct lx_logline *l, struct lx_buf *sink)
{
    if (!l->active)
        return;
    close_line(l);
    if (lx_buf_append_str(sink, lx_buf_str(&l->b)) != 0) {
        /* the sink is full or broken: never lose the line, write it now */
        lx_log_write(lx_buf_str(&l->b));
    }
    lx_buf_release(&l->b);
    l->active = false;
}

void lx_logf(enum lx_log_level level, const char *fmt, ...)
{
    struct lx_logline l;
    char msg[512];
    va_list ap;

    if (!lx_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (lx_log_begin(&l, level, msg))
        lx_log_end(&l);
}
