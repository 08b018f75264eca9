/* time.h - clocks. Monotonic for durations and timeouts, wall clock for logs and ledgers. */
#ifndef LX_TIME_H
#define LX_TIME_H

#include <stddef.h>
#include <stdint.h>

uint64_t lx_now_mono_ns(void);
uint64_t lx_now_wall_ms(void); /* milliseconds since the Unix epoch */
/* RFC 3339 UTC with milliseconds, "2026-11-22T02:24:44.123Z"; out must hold 25 bytes. */
void lx_format_rfc3339_ms(uint64_t wall_ms, char out[25]);

#endif /* LX_TIME_H */
