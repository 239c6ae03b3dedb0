/* Int8 convolution weights for the kernels (kernels.h): packing, and the order of steps
 * that lets x86 sum four steps' products in int16 before widening them. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

/* A group's positive (and negative) weights per output channel and byte pair may reach
 * this sum: 127 x 258 = 32766 fits int16. */
#define GROUP_LIMIT 258
/* The most step x output-channel loads enn_qorder_steps holds (16 MiB); past it, the
 * natural order without groups. */
#define ORDER_MAX_LOADS ((size_t)8 << 20)

size_t enn_qpacked_size(int out_c, int in_c, int taps)
{
    size_t quads_out = ((size_t)out_c + 3) / 4, quads_in = ((size_t)in_c + 3) / 4;
    return quads_out * quads_in * (size_t)taps * 16;
}

void enn_qpack_weights(const int8_t *w, int out_c, int in_c, int taps, const uint32_t *order,
                       int8_t *dst)
{
    memset(dst, 0, enn_qpacked_size(out_c, in_c, taps));
    size_t steps = ((size_t)in_c + 3) / 4 * (size_t)taps;
    for (size_t i = 0; i < steps; i++) {
        size_t s = order ? order[i] : i;
        int quad = (int)(s / (size_t)taps), t = (int)(s % (size_t)taps);
        for (int o = 0; o < out_c; o++)
            for (int c = 4 * quad; c < 4 * quad + 4 && c < in_c; c++)
                dst[((size_t)(o / 4) * steps + i) * 16 + (size_t)(o % 4) * 4 + (size_t)(c % 4)] =
                    w[((size_t)o * (size_t)in_c + (size_t)c) * (size_t)taps + (size_t)t];
    }
}

bool enn_qgroups_fit(const int8_t *packed, int out_c, size_t steps, size_t first, size_t n,
                     int group)
{
    size_t quads = ((size_t)out_c + 3) / 4, g = (size_t)group;
    for (size_t b = 0; b < quads; b++)
        for (size_t s = first; s + g <= first + n; s += g)
            for (int i = 0; i < 16; i += 2) {   /* output m = i / 4, byte pair i % 4 / 2 */
                int pos = 0, neg = 0;
                for (size_t k = s; k < s + g; k++) {
                    const int8_t *wk = packed + (b * steps + k) * 16 + i;
                    for (int e = 0; e < 2; e++) {
                        if (wk[e] > 0)
                            pos += wk[e];
                        else
                            neg -= wk[e];
                    }
                }
                if (pos > GROUP_LIMIT || neg > GROUP_LIMIT)
                    return false;
            }
    return true;
}

/* What step s adds to a group's sums: per output channel (padded to quads), byte pair
 * and sign, in that order. */
static void step_load(const int8_t *w, int out_c, int in_c, int taps, size_t s, uint16_t *load)
{
    int quad = (int)(s / (size_t)taps), t = (int)(s % (size_t)taps);
    int outs = (out_c + 3) / 4 * 4;
    memset(load, 0, (size_t)outs * 4 * sizeof *load);
    for (int o = 0; o < out_c; o++)
        for (int c = 4 * quad; c < 4 * quad + 4 && c < in_c; c++) {
            int v = w[((size_t)o * (size_t)in_c + (size_t)c) * (size_t)taps + (size_t)t];
            load[o * 4 + (c % 4 / 2) * 2 + (v < 0)] += (uint16_t)abs(v);
        }
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t enn_qorder_steps(const int8_t *w, int out_c, int in_c, int taps, uint32_t *order)
{
    size_t steps = ((size_t)in_c + 3) / 4 * (size_t)taps;
    size_t width = ((size_t)out_c + 3) / 4 * 16;   /* a step's load: 4 per output channel */
    /* (a layer far beyond these networks' would need more than the weights again) */
    uint16_t *load = steps * width <= ORDER_MAX_LOADS ? malloc(steps * width * sizeof *load)
                                                      : NULL;
    int *sum = malloc(width * sizeof *sum);
    uint32_t *rest = malloc(steps * sizeof *rest);
    if (!load || !sum || !rest) {   /* the natural order is always correct */
        for (size_t i = 0; i < steps; i++)
            order[i] = (uint32_t)i;
        free(load), free(sum), free(rest);
        return 0;
    }
    for (size_t s = 0; s < steps; s++) {
        step_load(w, out_c, in_c, taps, s, load + s * width);
        rest[s] = (uint32_t)s;
    }
    /* In natural order (neighbouring taps read neighbouring memory), each step joins the
       group being filled if it fits and waits for a later pass if not. A heavy step
       rarely fits anywhere; three passes place nearly all that can be placed. */
    size_t grouped = 0, n_rest = steps;
    for (int pass = 0; pass < 3; pass++) {
        size_t kept = 0, filled = 0;
        uint32_t cur[4];
        memset(sum, 0, width * sizeof *sum);
        for (size_t i = 0; i < n_rest; i++) {
            const uint16_t *l = load + (size_t)rest[i] * width;
            bool fits = true;
            for (size_t e = 0; e < width && fits; e++)
                fits = sum[e] + l[e] <= GROUP_LIMIT;
            if (!fits) {
                rest[kept++] = rest[i];
                continue;
            }
            for (size_t e = 0; e < width; e++)
                sum[e] += l[e];
            cur[filled++] = rest[i];
            if (filled == 4) {
                memcpy(order + grouped, cur, sizeof cur);
                grouped += 4;
                filled = 0;
                memset(sum, 0, width * sizeof *sum);
            }
        }
        for (size_t i = 0; i < filled; i++)
            rest[kept++] = cur[i];
        n_rest = kept;
    }
    qsort(rest, n_rest, sizeof *rest, by_value);
    memcpy(order + grouped, rest, n_rest * sizeof *rest);
    free(load), free(sum), free(rest);
    return grouped;
}
