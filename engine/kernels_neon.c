/* AArch64 NEON kernel: 4 output channels x 16 positions in 16 accumulators; the four
 * weights of a block arrive in one vector and feed fmla by lane. */
#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define NV 4
#define NR (4 * NV)

static inline __attribute__((always_inline)) void block(const struct enn_conv_job *j, int mr,
                                                        const float *w, int o, size_t q)
{
    float32x4_t acc[ENN_MR][NV];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] = vdupq_n_f32(j->bias[o + m]);
    const float *in = j->in + q;
    const ptrdiff_t *off = j->k_off;
    for (size_t k = 0; k < j->k; k++) {
        const float *x = in + off[k];
        float32x4_t xv[NV];
        for (int v = 0; v < NV; v++)
            xv[v] = vld1q_f32(x + 4 * v);
        /* reads ENN_MR floats even when mr is smaller: enn_packed_size leaves room */
        float32x4_t wk = vld1q_f32(w + k * (size_t)mr);
        for (int v = 0; v < NV; v++) {
            acc[0][v] = vfmaq_laneq_f32(acc[0][v], xv[v], wk, 0);
            if (mr > 1)
                acc[1][v] = vfmaq_laneq_f32(acc[1][v], xv[v], wk, 1);
            if (mr > 2)
                acc[2][v] = vfmaq_laneq_f32(acc[2][v], xv[v], wk, 2);
            if (mr > 3)
                acc[3][v] = vfmaq_laneq_f32(acc[3][v], xv[v], wk, 3);
        }
    }
    float32x4_t zero = vdupq_n_f32(0);
    for (int m = 0; m < mr; m++) {
        float *out = j->out + (size_t)(o + m) * j->out_plane + q;
        for (int v = 0; v < NV; v++)
            vst1q_f32(out + 4 * v, j->relu ? vmaxq_f32(acc[m][v], zero) : acc[m][v]);
    }
}

void enn_conv_neon(const struct enn_conv_job *j)
{
    /* Positions outer, channel blocks inner, as in the AVX2 kernel: the input tile stays
       in L1 while every block of output channels uses it. */
    for (size_t q = 0; q < j->count; q += NR) {
        for (int o = 0; o < j->out_c; o += ENN_MR) {
            int mr = j->out_c - o < ENN_MR ? j->out_c - o : ENN_MR;
            const float *w = j->packed + (size_t)o * j->k;
            switch (mr) {
            case 4: block(j, 4, w, o, q); break;
            case 3: block(j, 3, w, o, q); break;
            case 2: block(j, 2, w, o, q); break;
            default: block(j, 1, w, o, q); break;
            }
        }
    }
}
#endif
