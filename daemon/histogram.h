/* Latency histogram in fixed memory: log-spaced buckets (about 4 % apart) from 1 us to
 * 100 s, so percentiles stay within a few percent however many samples a window holds.
 * Not thread-safe; the pipeline guards each with its stage's lock. */
#ifndef EMOTIOND_HISTOGRAM_H
#define EMOTIOND_HISTOGRAM_H

#include <stdint.h>

#define HIST_BUCKETS 480

struct histogram {
    uint64_t count;
    uint32_t bucket[HIST_BUCKETS];
};

void hist_reset(struct histogram *h);
void hist_add(struct histogram *h, double ms);
/* The p-th percentile (0..100) in ms; NaN when empty (published as null). */
double hist_percentile(const struct histogram *h, double p);

#endif
