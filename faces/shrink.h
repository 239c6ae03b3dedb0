/* Area downscaling of an 8-bit gray frame into the detector's float input: each output
 * pixel is the mean of the source area it covers (as OpenCV's INTER_AREA), in two
 * separable passes with weights planned once per size pair. */
#ifndef EMOTIOND_SHRINK_H
#define EMOTIOND_SHRINK_H

#include <stddef.h>
#include <stdint.h>

struct shrink {
    int src_w, src_h, dst_w, dst_h;
    int kx, ky;                  /* taps per output column / row */
    int *x0, *y0;                /* first source column / row of each output */
    float *xw, *yw;              /* [dst_w][kx], [dst_h][ky] weights, zero-padded */
    float *acc;                  /* one output row */
    size_t cap_x0, cap_y0, cap_xw, cap_yw, cap_acc;
};

/* Plans src_w x src_h -> dst_w x dst_h (each dst side 1..src side). Allocates only when a
 * plan needs more than it holds. Returns 0, or -1 when out of memory or the sizes are
 * not a shrink. */
int shrink_plan(struct shrink *s, int src_w, int src_h, int dst_w, int dst_h);
/* dst[y * dst_row + x] = mean * gain + offset, for the planned sizes. */
void shrink_run(struct shrink *s, const uint8_t *src, size_t stride, float gain, float offset,
                float *dst, size_t dst_row);
void shrink_free(struct shrink *s);

#endif
