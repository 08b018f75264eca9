/* log.c - JSON-lines logger (log.h). The level and fd are set once at start and read by every
 * thread afterwards; a line is assembled in the caller's buffer and written in one call. */
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
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

/* "2026-11-22T02:24:44." for the current second, formatted once per second per thread. */
static size_t ts_prefix(uint64_t wall_ms, char out[24])
{
    static _Thread_local uint64_t cached_sec = UINT64_MAX;
    static _Thread_local char cached[24];
    uint64_t sec = wall_ms / 1000;

    if (sec != cached_sec) {
        char full[25];

        lx_format_rfc3339_ms(wall_ms, full); /* "....SS.mmmZ": keep up to the '.' */
        memcpy(cached, full, 20);
        cached_sec = sec;
    }
    memcpy(out, cached, 20);
    return 20;
}

static bool begin(struct lx_logline *l, enum lx_log_level level, const char *msg)
{
    uint64_t now = lx_now_wall_ms();
    unsigned ms = (unsigned)(now % 1000);
    char ts[32];
    size_t n = ts_prefix(now, ts);

    ts[n++] = (char)('0' + ms / 100);
    ts[n++] = (char)('0' + ms / 10 % 10);
    ts[n++] = (char)('0' + ms % 10);
    ts[n++] = 'Z';
    lx_buf_append(l->out, "{\"ts\":\"", 7);
    lx_buf_append(l->out, ts, n);
    lx_buf_append(l->out, "\",\"level\":\"", 11);
    lx_buf_append_cstr(l->out, level_names[level]);
    lx_buf_append(l->out, "\",\"msg\":\"", 9);
    lx_json_escape(l->out, lx_str_cstr(msg));
    lx_buf_append_char(l->out, '"');
    return true;
}

bool lx_log_begin(struct lx_logline *l, enum lx_log_level level, const char *msg)
{
    l->active = lx_log_enabled(level);
    if (!l->active)
        return false;
    lx_buf_init(&l->own, LOG_LINE_MAX);
    l->out = &l->own;
    return begin(l, level, msg);
}

bool lx_log_begin_to(struct lx_logline *l, enum lx_log_level level, const char *msg,
                     struct lx_buf *batch)
{
    l->active = lx_log_enabled(level);
    if (!l->active)
        return false;
    if (batch->len > LX_LOG_BATCH_FLUSH || batch->err != LX_OK) {
        lx_log_write(lx_buf_str(batch));
        lx_buf_reset(batch);
    }
    l->out = batch;
    return begin(l, level, msg);
}

/* ,"k": in one append. Keys are our own identifiers; one that would need escaping (or is
 * long) takes the escaping path. */
static void key(struct lx_logline *l, const char *k)
{
    char t[64];
    size_t n = 0;

    t[n++] = ',';
    t[n++] = '"';
    for (; *k && n < sizeof(t) - 2; k++) {
        unsigned char c = (unsigned char)*k;

        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
        t[n++] = (char)c;
    }
    if (*k) {
        lx_buf_append(l->out, t, n);
        lx_json_escape(l->out, lx_str_cstr(k));
        lx_buf_append(l->out, "\":", 2);
        return;
    }
    t[n++] = '"';
    t[n++] = ':';
    lx_buf_append(l->out, t, n);
}

void lx_log_str(struct lx_logline *l, const char *k, struct lx_str v)
{
    if (!l->active)
        return;
    key(l, k);
    if (v.ptr == NULL) {
        lx_buf_append(l->out, "null", 4);
        return;
    }
    lx_buf_append_char(l->out, '"');
    if (v.len > LX_LOG_FIELD_MAX) {
        /* a client controls some values (a model name): keep every line short */
        lx_json_escape(l->out, lx_str_sub(v, 0, LX_LOG_FIELD_MAX));
        lx_buf_append_cstr(l->out, "...(cut)");
    } else {
        lx_json_escape(l->out, v);
    }
    lx_buf_append_char(l->out, '"');
}

void lx_log_cstr(struct lx_logline *l, const char *k, const char *v)
{
    lx_log_str(l, k, lx_str_cstr(v));
}

/* Decimal digits of v without printf: this runs for every field of every access line. */
void lx_log_int(struct lx_logline *l, const char *k, long long v)
{
    if (!l->active)
        return;
    key(l, k);
    if (v < 0) {
        lx_buf_append_char(l->out, '-');
        lx_buf_append_u64(l->out, 0ull - (unsigned long long)v);
    } else {
        lx_buf_append_u64(l->out, (unsigned long long)v);
    }
}

void lx_log_uint(struct lx_logline *l, const char *k, unsigned long long v)
{
    if (!l->active)
        return;
    key(l, k);
    lx_buf_append_u64(l->out, v);
}

void lx_log_ms(struct lx_logline *l, const char *k, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};

    if (!l->active)
        return;
    key(l, k);
    lx_buf_append_u64(l->out, us / 1000);
    lx_buf_append(l->out, frac, sizeof(frac));
}

void lx_log_double(struct lx_logline *l, const char *k, double v)
{
    char tmp[32];
    int n;

    if (!l->active)
        return;
    key(l, k);
    n = isfinite(v) ? snprintf(tmp, sizeof(tmp), "%.6g", v) : -1;
    if (n > 0 && (size_t)n < sizeof(tmp))
        lx_buf_append(l->out, tmp, (size_t)n);
    else
        lx_buf_append(l->out, "null", 4);
}

void lx_log_bool(struct lx_logline *l, const char *k, bool v)
{
    if (!l->active)
        return;
    key(l, k);
    lx_buf_append_cstr(l->out, v ? "true" : "false");
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

void lx_log_end(struct lx_logline *l)
{
    if (!l->active)
        return;
    lx_buf_append(l->out, "}\n", 2);
    if (l->out == &l->own) {
        if (l->own.err != 0) {
            lx_buf_reset(&l->own);
            lx_buf_append_cstr(&l->own, "{\"level\":\"error\",\"msg\":\"log line too long\"}\n");
        }
        lx_log_write(lx_buf_str(&l->own));
        lx_buf_release(&l->own);
    }
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
