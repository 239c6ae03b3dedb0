/* Microkernels, one set per instruction set, behind one dispatch table.
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
#include <stdint.h>

/* The most output channels a set's conv blocks (enn_kernels.conv_mr) may hold. */
#define ENN_MR_MAX 8
#define ENN_MAX_OVERRUN 32
/* Most maps one qsum adds (a node's input count: ENN_MAX_INPUTS in model.h). */
#define ENN_MAX_SUM 16

struct enn_conv_job {
    int out_c;
    size_t k;                /* in_c * kernel * kernel */
    const float *packed;     /* block b (channels b*mr..), mr the set's conv_mr:
                                [k][min(mr, out_c - b*mr)] (enn_pack_weights) */
    const float *bias;
    const ptrdiff_t *k_off;  /* [k] */
    const float *in;
    float *out;
    size_t out_plane;
    size_t count;
    bool relu;
};

/* Int8 convolution (docs/model-format.md, "Int8 models"). Maps hold 7-bit integers with
 * four channels interleaved per position (a "quad": bytes c0 c1 c2 c3 of one pixel), so
 * that one 32-bit load gives the four products a dot-product instruction sums (x86
 * vpmaddubsw + vpmaddwd, ARM sdot). For each output channel o (padded to a multiple of
 * 4) and position q in [0, count):
 *   acc = bias[o] + sum over steps s, i < 4 of w[s][o][i] * in[4 * (q + k_off[s]) + i]
 * where a step is one (input quad, tap) pair. Then either the raw accumulator goes to
 * acc_out[o * acc_plane + q] (o < out_c only), or the requantised byte
 *   clamp(rne(float(acc) * scale[o]), lo, hi) + zero
 * goes to out[(o / 4) * out_plane + 4 * q + o % 4]. Like conv, a kernel may compute up to
 * ENN_MAX_OVERRUN positions past count. */
struct enn_qconv_job {
    int out_c;
    size_t steps;
    const int8_t *packed;    /* output quad b: [steps][4 outputs][4 inputs] */
    const int32_t *bias;     /* [out_c rounded up to 4], 0 past out_c: spare lanes of an
                                output quad hold the zero point */
    const float *scale;      /* [out_c rounded up to 4] */
    const ptrdiff_t *k_off;  /* [steps], in positions (4 bytes) */
    const uint8_t *in;
    uint8_t *out;
    size_t out_plane;        /* bytes between output quads */
    int32_t *acc_out;        /* raw accumulators instead of bytes, when not NULL */
    size_t acc_plane;
    size_t count;
    int zero, lo, hi;        /* lo, hi: the clamp before adding zero */
    /* Where products may be summed in int16 before widening (x86's vpmaddubsw results,
     * ARMv8.0's smull/smlal ones: a bound that holds per byte pair holds per byte),
     * set only where enn_qgroups_fit holds; a kernel may ignore both: steps 4g .. 4g + 3
     * for 4g < quad_steps (a multiple of 4), and when pairs, steps quad_steps + 2p and
     * quad_steps + 2p + 1 after them. */
    size_t quad_steps;
    bool pairs;
};

/* Packs int8 weights [out_c][in_c][taps] into enn_qconv_job.packed (zero padding to
 * quads), steps in the given order (the i-th packed step is natural step order[i], where
 * step s is input quad s / taps at tap s % taps), or the natural one when order is NULL;
 * dst holds enn_qpacked_size bytes. */
size_t enn_qpacked_size(int out_c, int in_c, int taps);
void enn_qpack_weights(const int8_t *w, int out_c, int in_c, int taps, const uint32_t *order,
                       int8_t *dst);
/* Whether a kernel may add the byte-pair products of `group` consecutive packed steps in
 * int16 before widening, for each group in steps [first, first + n) (n a multiple of
 * group) of packed weights with `steps` steps in all: true when, for every output
 * channel, group and input byte pair, the positive weights sum to at most 258 and the
 * negative ones to at least -258. Then, with activations 0..127, the exact sum lies in
 * -32766..32766: int16 adds on the way may wrap, the result does not. Weights within
 * +-63 always pass for group 2 (tools/train/quantize makes such by default). */
bool enn_qgroups_fit(const int8_t *packed, int out_c, size_t steps, size_t first, size_t n,
                     int group);
/* An order of a conv's steps (for enn_qpack_weights) whose first steps form as many
 * groups of four that pass enn_qgroups_fit as a greedy pass finds; the others follow in
 * their natural order. Writes the permutation of 0 .. steps - 1 (steps = in_c rounded up
 * to quads, times taps) to order and returns how many steps those groups hold. Plans do
 * this once per model. */
size_t enn_qorder_steps(const int8_t *w, int out_c, int in_c, int taps, uint32_t *order);

/* The memory-bound ops work on one channel plane at a time. Planes are zero-bordered
 * (see engine/net.c) and `row` is the padded row length. maxpool2 and upsample2 take
 * pointers to the first interior element, (0, 0); dwconv3, like conv, walks whole padded
 * rows from the left border element of the first interior row, so its taps reach one
 * float before that row's plane (the arena leaves slack there). */
struct enn_kernels {
    const char *name;        /* "scalar", "avx2", "avx512vnni" (avx2 with AVX-512's
                                float convolution and VNNI's int8 one), "neon",
                                "neon-dot" (sdot, ARMv8.2) */
    /* conv's tile: output channels per register block, which the plan packs weights
     * for (enn_pack_weights); 1..ENN_MR_MAX */
    int conv_mr;
    void (*conv)(const struct enn_conv_job *job);
    /* Depthwise 3x3, stride 1, one channel: for q in [0, count),
     * out[q] = bias + sum over ky, kx of w[ky * 3 + kx] * in[q + (ky - 1) * row + kx - 1],
     * then ReLU if asked. in and out walk padded rows (count = height * row), so results
     * that land in border columns are garbage the caller clears; may compute up to
     * ENN_MAX_OVERRUN positions past count, like conv. */
    void (*dwconv3)(const float *in, float *out, size_t count, size_t row, const float *w,
                    float bias, bool relu);
    /* 2x2 max, stride 2: out[y * out_row + x] = max of in[(2y + i) * in_row + 2x + j],
     * i, j in {0, 1}, for y < out_h, x < out_w. Writes nothing else. */
    void (*maxpool2)(const float *in, size_t in_row, float *out, size_t out_row, int out_h,
                     int out_w);
    /* Nearest x2: out[y * out_row + x] = in[(y / 2) * in_row + x / 2] for y < 2 * in_h,
     * x < 2 * in_w. Writes nothing else. */
    void (*upsample2)(const float *in, size_t in_row, float *out, size_t out_row, int in_h,
                      int in_w);
    /* x[i] = 1 / (1 + exp(-x[i])) for i < n, within 1e-6 of libm's. */
    void (*sigmoid)(float *x, size_t n);
    /* Int8 convolution; every set computes the same bits as the scalar one. */
    void (*qconv)(const struct enn_qconv_job *job);
    /* Int8 depthwise 3x3, stride 1, on one quad plane (4 channels interleaved per
     * position): for q in [0, count) and channel i < 4,
     *   acc = bias[i] + sum over t < 9 of w[4 t + i] * in[4 (q + off(t)) + i],
     *   off(t) = (t / 3 - 1) row + t % 3 - 1,
     * requantised as qconv into out[4 q + i]. in and out walk padded rows from the left
     * border of the first interior row; may compute up to ENN_MAX_OVERRUN positions past
     * count. */
    void (*qdwconv3)(const uint8_t *in, uint8_t *out, size_t count, size_t row,
                     const int8_t *w, const int32_t *bias, const float *scale, int zero,
                     int lo, int hi);
    /* Int8 summed inputs, requantised (docs/model-format.md): for e < len,
     * dst[e] = clamp(rne(t), -zero, 127 - zero) + zero, where t adds
     * float(src[i][e] - zeros[i]) * r[i] for i = 0 .. n - 1 in order, starting from 0;
     * n >= 1, and t finite (the loader's bound on the r[i]). */
    void (*qsum)(const uint8_t *const *src, const int *zeros, const float *r, int n,
                 uint8_t *dst, size_t len, int zero);
};

/* The best set this CPU runs, or the one named by EMOTIOND_ISA. NULL, with a reason in
 * err, when the named set is unknown, not built in, or not supported by this CPU. */
const struct enn_kernels *enn_kernels_select(char *err, size_t errlen);
/* The named set (NULL if unavailable here): for tests that compare sets. */
const struct enn_kernels *enn_kernels_get(const char *name);

/* Packs weights [out_c][k] into blocks of mr output channels (a set's conv_mr); dst
 * holds enn_packed_size floats. */
size_t enn_packed_size(int out_c, size_t k, int mr);
void enn_pack_weights(const float *w, int out_c, size_t k, int mr, float *dst);

/* Per-ISA sets, used by the dispatcher. */
extern const struct enn_kernels enn_kernels_scalar, enn_kernels_avx2,
    enn_kernels_avx512vnni, enn_kernels_neon, enn_kernels_neon_dot;

/* The scalar int8 kernels; the SIMD sets finish their tails with enn_qsum_scalar. */
void enn_qconv_scalar(const struct enn_qconv_job *job);
void enn_qdwconv3_scalar(const uint8_t *in, uint8_t *out, size_t count, size_t row,
                         const int8_t *w, const int32_t *bias, const float *scale, int zero,
                         int lo, int hi);
void enn_qsum_scalar(const uint8_t *const *src, const int *zeros, const float *r, int n,
                     uint8_t *dst, size_t len, int zero);

#endif
