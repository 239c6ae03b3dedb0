#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif


static bool cpu_has(const char *name)
{
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512vnni") == 0)
        return cpu_has("avx2") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0)
        return true;        /* Advanced SIMD is mandatory in ARMv8-A */
    if (strcmp(name, "neon-dot") == 0)
        return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
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
    if (strcmp(name, "avx512vnni") == 0)
        k = &enn_kernels_avx512vnni;
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0)
        k = &enn_kernels_neon;
    if (strcmp(name, "neon-dot") == 0)
        k = &enn_kernels_neon_dot;
#endif
    return k && cpu_has(name) ? k : NULL;
}

const struct enn_kernels *enn_kernels_select(char *err, size_t errlen)
{
    const char *want = getenv("EMOTIOND_ISA");
    if (want && *want) {
        if (strcmp(want, "scalar") && strcmp(want, "avx2") && strcmp(want, "avx512vnni") &&
            strcmp(want, "neon") && strcmp(want, "neon-dot")) {
            snprintf(err, errlen, "EMOTIOND_ISA=%s: unknown (scalar, avx2, avx512vnni, neon, "
                     "neon-dot)", want);
            return NULL;
        }
        const struct enn_kernels *k = enn_kernels_get(want);
        if (!k)
            snprintf(err, errlen, "EMOTIOND_ISA=%s: not available in this build on this CPU",
                     want);
        return k;
    }
    /* The CPU does not change: found once per process (a race only repeats the work). */
    static _Atomic(const struct enn_kernels *) found;
    const struct enn_kernels *k = atomic_load(&found);
    if (k)
        return k;
    const char *best[] = {"neon-dot", "neon", "avx512vnni", "avx2", "scalar"};
    for (size_t i = 0; i < sizeof best / sizeof *best && !k; i++)
        k = enn_kernels_get(best[i]);
    atomic_store(&found, k ? k : &enn_kernels_scalar);
    return atomic_load(&found);
}

size_t enn_packed_size(int out_c, size_t k, int mr)
{
    /* + mr: NEON loads a whole block's vector of weights even for a short last block */
    return (size_t)out_c * k + (size_t)mr;
}

void enn_pack_weights(const float *w, int out_c, size_t k, int block, float *dst)
{
    memset(dst, 0, enn_packed_size(out_c, k, block) * sizeof *dst);
    for (int b = 0; b < out_c; b += block) {
        int mr = out_c - b < block ? out_c - b : block;
        float *blk = dst + (size_t)b * k;
        for (size_t i = 0; i < k; i++)
            for (int m = 0; m < mr; m++)
                blk[i * (size_t)mr + (size_t)m] = w[(size_t)(b + m) * k + i];
    }
}
