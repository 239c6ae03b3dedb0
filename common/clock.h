/* The monotonic clock: the one time base of capture timestamps, pipeline latencies, the
 * server's rate limits and timeouts, the log's repeat window, the bridge's deadlines and
 * the benchmarks. */
#ifndef EMOTIOND_CLOCK_H
#define EMOTIOND_CLOCK_H

#include <stdint.h>

int64_t mono_ns(void);
double mono_s(void);
double mono_ms(void);

#endif
