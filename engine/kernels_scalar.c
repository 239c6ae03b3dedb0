/* Portable C kernels: the reference the SIMD kernels are tested against, and the
 * fallback on CPUs without them. Built without auto-vectorisation so they stay that. */
#include <math.h>

#include "kernels.h"
#include "requant.h"

#define MR 4
#define NR 8

static void block(const struct enn_conv_job *j, int mr, const float *w, int o, size_t q)
{
    float acc[MR][NR];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NR; v++)
            acc[m][v] = j->bias[o + m];
    const float *in = j->in + q;
    for (size_t k = 0; k < j->k; k++) {
        const float *x = in + j->k_off[k];
        for (int m = 0; m < mr; m++) {
            float wk = w[k * (size_t)mr + (size_t)m];
            for (int v = 0; v < NR; v++)
                acc[m][v] += wk * x[v];
        }
    }
    for (int m = 0; m < mr; m++) {
        float *out = j->out + (size_t)(o + m) * j->out_plane + q;
        for (int v = 0; v < NR; v++)
            out[v] = j->relu && acc[m][v] < 0 ? 0 : acc[m][v];
    }
}

static void conv(const struct enn_conv_job *j)
{
    for (int o = 0; o < j->out_c; o += MR) {
        int mr = j->out_c - o < MR ? j->out_c - o : MR;
        const float *w = j->packed + (size_t)o * j->k;
        for (size_t q = 0; q < j->count; q += NR)
            block(j, mr, w, o, q);
    }
}

static void dwconv3(const float *in, float *out, size_t count, size_t row, const float *w,
                    float bias, bool relu)
{
    const float *r0 = in - row - 1, *r1 = in - 1, *r2 = in + row - 1;
    for (size_t q = 0; q < count; q++) {
        float acc = bias;
        acc += w[0] * r0[q] + w[1] * r0[q + 1] + w[2] * r0[q + 2];
        acc += w[3] * r1[q] + w[4] * r1[q + 1] + w[5] * r1[q + 2];
        acc += w[6] * r2[q] + w[7] * r2[q + 1] + w[8] * r2[q + 2];
        out[q] = relu && acc < 0 ? 0 : acc;
    }
}

static void maxpool2(const float *in, size_t in_row, float *out, size_t out_row, int out_h,
                     int out_w)
{
    for (int y = 0; y < out_h; y++) {
        const float *a = in + (size_t)(2 * y) * in_row, *b = a + in_row;
        float *d = out + (size_t)y * out_row;
        for (int x = 0; x < out_w; x++) {
            float m0 = fmaxf(a[2 * x], a[2 * x + 1]), m1 = fmaxf(b[2 * x], b[2 * x + 1]);
            d[x] = fmaxf(m0, m1);
        }
    }
}

static void upsample2(const float *in, size_t in_row, float *out, size_t out_row, int in_h,
                      int in_w)
{
    for (int y = 0; y < 2 * in_h; y++) {
        const float *s = in + (size_t)(y / 2) * in_row;
        float *d = out + (size_t)y * out_row;
        for (int x = 0; x < in_w; x++)
            d[2 * x] = d[2 * x + 1] = s[x];
    }
}

static void sigmoid(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f / (1.0f + expf(-x[i]));
}

void enn_qconv_scalar(const struct enn_qconv_job *j)
{
    for (int b = 0; b < j->out_c; b += 4) {
        const int8_t *w = j->packed + (size_t)b * j->steps * 4;
        for (size_t q = 0; q < j->count; q += NR) {
            int32_t acc[4][NR];
            for (int m = 0; m < 4; m++)
                for (int v = 0; v < NR; v++)
                    acc[m][v] = j->bias[b + m];
            for (size_t s = 0; s < j->steps; s++) {
                const uint8_t *x = j->in + 4 * (q + (size_t)j->k_off[s]);
                const int8_t *ws = w + 16 * s;
                for (int m = 0; m < 4; m++)
                    for (int v = 0; v < NR; v++)
                        for (int i = 0; i < 4; i++)
                            acc[m][v] += ws[4 * m + i] * x[4 * v + i];
            }
            for (int m = 0; m < 4; m++)
                for (int v = 0; v < NR; v++) {
                    if (j->acc_out) {
                        if (b + m < j->out_c)
                            j->acc_out[(size_t)(b + m) * j->acc_plane + q + (size_t)v] =
                                acc[m][v];
                        continue;
                    }
                    j->out[(size_t)(b / 4) * j->out_plane + 4 * (q + (size_t)v) + (size_t)m] =
                        enn_requant(acc[m][v], j->scale[b + m], j->lo, j->hi, j->zero);
                }
        }
    }
}

void enn_qdwconv3_scalar(const uint8_t *in, uint8_t *out, size_t count, size_t row,
                         const int8_t *w, const int32_t *bias, const float *scale, int zero,
                         int lo, int hi)
{
    for (size_t q = 0; q < count; q++)
        for (int i = 0; i < 4; i++) {
            int32_t acc = bias[i];
            for (int t = 0; t < 9; t++) {
                ptrdiff_t off = (ptrdiff_t)q + (t / 3 - 1) * (ptrdiff_t)row + (t % 3 - 1);
                acc += w[4 * t + i] * in[4 * off + i];
            }
            out[4 * q + (size_t)i] = enn_requant(acc, scale[i], lo, hi, zero);
        }
}

void enn_qsum_scalar(const uint8_t *const *src, const int *zeros, const float *r, int n,
                     uint8_t *dst, size_t len, int zero)
{
    for (size_t e = 0; e < len; e++) {
        float t = 0;
        for (int i = 0; i < n; i++)
            t += (float)((int)src[i][e] - zeros[i]) * r[i];
        dst[e] = enn_round_clamp(t, -zero, 127 - zero, zero);
    }
}

const struct enn_kernels enn_kernels_scalar = {
    "scalar", MR, conv, dwconv3, maxpool2, upsample2, sigmoid, enn_qconv_scalar, enn_qdwconv3_scalar,
    enn_qsum_scalar,
};
