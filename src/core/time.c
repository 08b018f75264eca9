/* time.c - clocks and timestamp formatting (time.h). Thread-safe (gmtime_r). */
#include "core/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lx_now_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lx_now_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lx_format_rfc3339_ms(uint64_t wall_ms, char out[25])
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;

    char tmp[80]; /* ample for any int fields, so no truncation warning */

    gmtime_r(&secs, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ms % 1000));
    memcpy(out, tmp, 24);
    out[24] = '\0';
}
