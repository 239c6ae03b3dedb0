/* Portable C kernel: the reference the SIMD kernels are tested against, and the
 * fallback on CPUs without them. Built without auto-vectorisation so it stays that. */
#include "kernels.h"

#define NR 8

static void block(const struct enn_conv_job *j, int mr, const float *w, int o, size_t q)
{
    float acc[ENN_MR][NR];
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

void enn_conv_scalar(const struct enn_conv_job *j)
{
    for (int o = 0; o < j->out_c; o += ENN_MR) {
        int mr = j->out_c - o < ENN_MR ? j->out_c - o : ENN_MR;
        const float *w = j->packed + (size_t)o * j->k;
        for (size_t q = 0; q < j->count; q += NR)
            block(j, mr, w, o, q);
    }
}
