#define _POSIX_C_SOURCE 200809L
#include "histogram.h"

#include <math.h>
#include <string.h>

#define MIN_MS 1e-3
#define MAX_MS 1e5
/* log(MAX/MIN) spread over the buckets: ratio exp(18.42 / 480) = 1.039 */
static double step(void) { return log(MAX_MS / MIN_MS) / HIST_BUCKETS; }

void hist_reset(struct histogram *h) { memset(h, 0, sizeof *h); }

void hist_add(struct histogram *h, double ms)
{
    int b = 0;
    if (ms > MIN_MS)
        b = (int)(log(ms / MIN_MS) / step());
    if (!(b >= 0))          /* NaN */
        b = 0;
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    if (h->bucket[b] != UINT32_MAX) {
        h->bucket[b]++;
        h->count++;
    }
}

double hist_percentile(const struct histogram *h, double p)
{
    if (h->count == 0)
        return NAN;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank)   /* the bucket's geometric middle */
            return MIN_MS * exp((b + 0.5) * step());
    }
    return MAX_MS;
}

