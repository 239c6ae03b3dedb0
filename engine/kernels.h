/* Convolution microkernels, one set per instruction set, behind one dispatch table.
 *
 * Every convolution is run as one job: for each output channel o and each position q in
 * [0, count), out[o * out_plane + q] = bias[o] + sum_k w[o][k] * in[q + k_off[k]],
 * then ReLU if asked. The caller lays activations out so that this covers 3x3 and 1x1,
 * stride 1 (positions walk a zero-padded plane) and stride 2 (positions walk a packed
 * panel). Vectorising over positions makes odd channel counts cost nothing extra.
 * A kernel may compute up to ENN_MAX_OVERRUN positions past count: the caller leaves
 * that much slack in both buffers and discards the results. */
#ifndef EMOTIOND_KERNELS_H
#define EMOTIOND_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* Output channels per register block; weights are packed for it (enn_pack_weights). */
#define ENN_MR 4
#define ENN_MAX_OVERRUN 32

struct enn_conv_job {
    int out_c;
    size_t k;                /* in_c * kernel * kernel */
    const float *packed;     /* block b (channels b*MR..): [k][min(MR, out_c - b*MR)] */
    const float *bias;
    const ptrdiff_t *k_off;  /* [k] */
    const float *in;
    float *out;
    size_t out_plane;
    size_t count;
    bool relu;
};

struct enn_kernels {
    const char *name;        /* "scalar", "avx2", "neon" */
    void (*conv)(const struct enn_conv_job *job);
};

/* The best set this CPU runs, or the one named by EMOTIOND_ISA. NULL, with a reason in
 * err, when the named set is unknown, not built in, or not supported by this CPU. */
const struct enn_kernels *enn_kernels_select(char *err, size_t errlen);
/* The named set (NULL if unavailable here): for tests that compare sets. */
const struct enn_kernels *enn_kernels_get(const char *name);

/* Packs weights [out_c][k] into the blocked layout; dst holds enn_packed_size floats. */
size_t enn_packed_size(int out_c, size_t k);
void enn_pack_weights(const float *w, int out_c, size_t k, float *dst);

/* Per-ISA entry points, used by the dispatcher. */
void enn_conv_scalar(const struct enn_conv_job *job);
void enn_conv_avx2(const struct enn_conv_job *job);
void enn_conv_neon(const struct enn_conv_job *job);

#endif
