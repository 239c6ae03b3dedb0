#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool cpu_has(const char *name)
{
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0)
        return true;        /* Advanced SIMD is mandatory in ARMv8-A */
#endif
    return strcmp(name, "scalar") == 0;
}

const struct enn_kernels *enn_kernels_get(const char *name)
{
    const struct enn_kernels *k = NULL;
    if (strcmp(name, "scalar") == 0)
        k = &enn_kernels_scalar;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0)
        k = &enn_kernels_avx2;
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0)
        k = &enn_kernels_neon;
#endif
    return k && cpu_has(name) ? k : NULL;
}

const struct enn_kernels *enn_kernels_select(char *err, size_t errlen)
{
    const char *want = getenv("EMOTIOND_ISA");
    if (want && *want) {
        if (strcmp(want, "scalar") && strcmp(want, "avx2") && strcmp(want, "avx512") &&
            strcmp(want, "neon")) {
            snprintf(err, errlen, "EMOTIOND_ISA=%s: unknown (scalar, avx2, avx512, neon)", want);
            return NULL;
        }
        const struct enn_kernels *k = enn_kernels_get(want);
        if (!k)
            snprintf(err, errlen, "EMOTIOND_ISA=%s: not available in this build on this CPU",
                     want);
        return k;
    }
    const char *best[] = {"neon", "avx2", "scalar"};
    for (size_t i = 0; i < sizeof best / sizeof *best; i++) {
        const struct enn_kernels *k = enn_kernels_get(best[i]);
        if (k)
            return k;
    }
    return &enn_kernels_scalar;
}

size_t enn_packed_size(int out_c, size_t k)
{
    /* + ENN_MR: NEON loads a whole MR-vector of weights even for a short last block */
    return (size_t)out_c * k + ENN_MR;
}

void enn_pack_weights(const float *w, int out_c, size_t k, float *dst)
{
    memset(dst, 0, enn_packed_size(out_c, k) * sizeof *dst);
    for (int b = 0; b < out_c; b += ENN_MR) {
        int mr = out_c - b < ENN_MR ? out_c - b : ENN_MR;
        float *blk = dst + (size_t)b * k;
        for (size_t i = 0; i < k; i++)
            for (int m = 0; m < mr; m++)
                blk[i * (size_t)mr + (size_t)m] = w[(size_t)(b + m) * k + i];
    }
}
