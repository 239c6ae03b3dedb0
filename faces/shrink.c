#include "shrink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* p grown to need elements (or p itself when it holds them); NULL, p untouched, when out
 * of memory. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    void *q = realloc(p, need * size);
    if (q)
        *cap = need;
    return q;
}

#define GROW(field, cap, need) \
    ((tmp = grow(s->field, &s->cap, (need), sizeof *s->field)) ? (s->field = tmp, 0) : -1)

/* Taps of each of n outputs over a source of length len: the overlap of source cell i
 * with the output's span [o * step, (o + 1) * step), over step. */
static void taps(int len, int n, int k, int *first, float *w)
{
    double step = (double)len / n;
    for (int o = 0; o < n; o++) {
        double a = o * step, b = (o + 1) * step;
        int i0 = (int)floor(a);
        first[o] = i0;
        for (int j = 0; j < k; j++) {
            int i = i0 + j;
            double lo = fmax(a, i), hi = fmin(b, i + 1);
            w[(size_t)o * (size_t)k + (size_t)j] = i < len && hi > lo ? (float)((hi - lo) / step) : 0;
        }
    }
}

int shrink_plan(struct shrink *s, int src_w, int src_h, int dst_w, int dst_h)
{
    if (dst_w < 1 || dst_h < 1 || dst_w > src_w || dst_h > src_h)
        return -1;
    if (s->src_w == src_w && s->src_h == src_h && s->dst_w == dst_w && s->dst_h == dst_h)
        return 0;
    /* a span of step cells touches at most ceil(step) + 1 of them */
    int kx = (int)ceil((double)src_w / dst_w) + 1, ky = (int)ceil((double)src_h / dst_h) + 1;
    void *tmp;
    if (GROW(x0, cap_x0, (size_t)dst_w) || GROW(y0, cap_y0, (size_t)dst_h) ||
        GROW(xw, cap_xw, (size_t)dst_w * (size_t)kx) ||
        GROW(yw, cap_yw, (size_t)dst_h * (size_t)ky) || GROW(acc, cap_acc, (size_t)dst_w)) {
        s->src_w = s->dst_w = 0;   /* forces a fresh plan next time */
        return -1;
    }
    taps(src_w, dst_w, kx, s->x0, s->xw);
    taps(src_h, dst_h, ky, s->y0, s->yw);
    s->src_w = src_w, s->src_h = src_h, s->dst_w = dst_w, s->dst_h = dst_h;
    s->kx = kx, s->ky = ky;
    return 0;
}

void shrink_run(struct shrink *s, const uint8_t *src, size_t stride, float gain, float offset,
                float *dst, size_t dst_row)
{
    int kx = s->kx;
    if (s->dst_w == s->src_w && s->dst_h == s->src_h) {   /* a frame already small enough */
        for (int y = 0; y < s->dst_h; y++)
            for (int x = 0; x < s->dst_w; x++)
                dst[(size_t)y * dst_row + (size_t)x] = src[(size_t)y * stride + (size_t)x] * gain +
                                                       offset;
        return;
    }
    for (int y = 0; y < s->dst_h; y++) {
        memset(s->acc, 0, (size_t)s->dst_w * sizeof *s->acc);
        for (int j = 0; j < s->ky; j++) {
            float wy = s->yw[(size_t)y * (size_t)s->ky + (size_t)j];
            if (wy == 0)
                continue;
            const uint8_t *row = src + (size_t)(s->y0[y] + j) * stride;
            for (int x = 0; x < s->dst_w; x++) {
                const uint8_t *p = row + s->x0[x];
                const float *w = s->xw + (size_t)x * (size_t)kx;
                float h = 0;
                for (int i = 0; i < kx; i++)
                    h += w[i] * (w[i] != 0 ? p[i] : 0);   /* zero weights may lie past the row */
                s->acc[x] += wy * h;
            }
        }
        float *d = dst + (size_t)y * dst_row;
        for (int x = 0; x < s->dst_w; x++)
            d[x] = s->acc[x] * gain + offset;
    }
}

void shrink_free(struct shrink *s)
{
    free(s->x0);
    free(s->y0);
    free(s->xw);
    free(s->yw);
    free(s->acc);
    memset(s, 0, sizeof *s);
}
