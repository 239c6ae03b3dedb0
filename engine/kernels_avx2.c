/* x86-64 AVX2 + FMA kernel: 4 output channels x 24 positions in 12 accumulators. */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define NV 3
#define NR (8 * NV)

/* mr is a constant at every call site, so the loops unroll and acc stays in registers. */
static inline __attribute__((always_inline)) void block(const struct enn_conv_job *j, int mr,
                                                        const float *w, int o, size_t q)
{
    __m256 acc[ENN_MR][NV];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] = _mm256_set1_ps(j->bias[o + m]);
    const float *in = j->in + q;
    const ptrdiff_t *off = j->k_off;
    for (size_t k = 0; k < j->k; k++) {
        const float *x = in + off[k];
        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8),
               x2 = _mm256_loadu_ps(x + 16);
        for (int m = 0; m < mr; m++) {
            __m256 wk = _mm256_broadcast_ss(w + k * (size_t)mr + (size_t)m);
            acc[m][0] = _mm256_fmadd_ps(wk, x0, acc[m][0]);
            acc[m][1] = _mm256_fmadd_ps(wk, x1, acc[m][1]);
            acc[m][2] = _mm256_fmadd_ps(wk, x2, acc[m][2]);
        }
    }
    __m256 zero = _mm256_setzero_ps();
    for (int m = 0; m < mr; m++) {
        float *out = j->out + (size_t)(o + m) * j->out_plane + q;
        for (int v = 0; v < NV; v++) {
            __m256 r = j->relu ? _mm256_max_ps(acc[m][v], zero) : acc[m][v];
            _mm256_storeu_ps(out + 8 * v, r);
        }
    }
}

void enn_conv_avx2(const struct enn_conv_job *j)
{
    /* Positions outer, channel blocks inner: the input tile stays in L1 while every
       block of output channels uses it. */
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
