/* AArch64 NEON kernels. conv: 4 output channels x 16 positions in 16 accumulators; the
 * four weights of a block arrive in one vector and feed fmla by lane. The per-plane ops
 * vectorise over positions in one pass. */
#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#define MR 4
#define NV 4
#define NR (4 * NV)

static inline __attribute__((always_inline)) void block(const struct enn_conv_job *j, int mr,
                                                        const float *w, int o, size_t q)
{
    float32x4_t acc[MR][NV];
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
        /* reads MR floats even when mr is smaller: enn_packed_size leaves room */
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

static void conv(const struct enn_conv_job *j)
{
    /* Positions outer, channel blocks inner, as in the AVX2 kernel: the input tile stays
       in L1 while every block of output channels uses it. */
    for (size_t q = 0; q < j->count; q += NR) {
        for (int o = 0; o < j->out_c; o += MR) {
            int mr = j->out_c - o < MR ? j->out_c - o : MR;
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

/* Depthwise 3x3 over a padded plane, 8 positions per row and pass. Each input row is read
   as three vectors starting one left; ext builds the +1 and +2 shifts from them in
   registers. Two output rows per pass: the four input rows they need are loaded once and
   feed both. Each lane runs the same chain of FMAs whichever pass computes it, so the
   overlap of a row's last block with the next row rewrites identical values. */
static inline __attribute__((always_inline)) void dw_body(const float *in, float *out,
                                                          size_t count, size_t row,
                                                          const float *wt, float bias,
                                                          bool relu)
{
    float32x4_t w[9];
    for (int i = 0; i < 9; i++)
        w[i] = vdupq_n_f32(wt[i]);
    const float32x4_t b = vdupq_n_f32(bias), zero = vdupq_n_f32(0);
    size_t q = 0;
    for (; q + 2 * row <= count; q += 2 * row) {
        for (size_t x = 0; x < row; x += 8) {
            const float *p = in + q + x - row - 1;
            float32x4_t top0 = b, top1 = b, bot0 = b, bot1 = b;
            for (int r = 0; r < 4; r++, p += row) {
                float32x4_t a0 = vld1q_f32(p), a1 = vld1q_f32(p + 4), a2 = vld1q_f32(p + 8);
                float32x4_t s[6] = {a0, vextq_f32(a0, a1, 1), vextq_f32(a0, a1, 2),
                                    a1, vextq_f32(a1, a2, 1), vextq_f32(a1, a2, 2)};
                for (int k = 0; k < 3; k++) {
                    if (r < 3) {
                        top0 = vfmaq_f32(top0, w[3 * r + k], s[k]);
                        top1 = vfmaq_f32(top1, w[3 * r + k], s[3 + k]);
                    }
                    if (r > 0) {
                        bot0 = vfmaq_f32(bot0, w[3 * r - 3 + k], s[k]);
                        bot1 = vfmaq_f32(bot1, w[3 * r - 3 + k], s[3 + k]);
                    }
                }
            }
            if (relu) {
                top0 = vmaxq_f32(top0, zero), top1 = vmaxq_f32(top1, zero);
                bot0 = vmaxq_f32(bot0, zero), bot1 = vmaxq_f32(bot1, zero);
            }
            vst1q_f32(out + q + x, top0);
            vst1q_f32(out + q + x + 4, top1);
            vst1q_f32(out + q + x + row, bot0);
            vst1q_f32(out + q + x + row + 4, bot1);
        }
    }
    /* an odd last row (or a count that is not whole rows): one row per pass */
    for (; q < count; q += 4) {
        const float *p = in + q - row - 1;
        float32x4_t acc = b;
        for (int r = 0; r < 3; r++, p += row) {
            float32x4_t a0 = vld1q_f32(p), a1 = vld1q_f32(p + 4);
            acc = vfmaq_f32(acc, w[3 * r], a0);
            acc = vfmaq_f32(acc, w[3 * r + 1], vextq_f32(a0, a1, 1));
            acc = vfmaq_f32(acc, w[3 * r + 2], vextq_f32(a0, a1, 2));
        }
        vst1q_f32(out + q, relu ? vmaxq_f32(acc, zero) : acc);
    }
}

static void dwconv3(const float *in, float *out, size_t count, size_t row, const float *w,
                    float bias, bool relu)
{
    /* relu as a constant in each copy keeps the branch out of the loop */
    if (relu)
        dw_body(in, out, count, row, w, bias, true);
    else
        dw_body(in, out, count, row, w, bias, false);
}

/* fmaxnm is fmaxf (a NaN loses to a number), so the result matches the scalar kernel's
   bit for bit. */
static void maxpool2(const float *in, size_t in_row, float *out, size_t out_row, int out_h,
                     int out_w)
{
    for (int y = 0; y < out_h; y++) {
        const float *a = in + (size_t)(2 * y) * in_row, *b = a + in_row;
        float *d = out + (size_t)y * out_row;
        int x = 0;
        /* vertical max first, then one pairwise max per 4 outputs */
        for (; x + 4 <= out_w; x += 4) {
            float32x4_t lo = vmaxnmq_f32(vld1q_f32(a + 2 * x), vld1q_f32(b + 2 * x));
            float32x4_t hi = vmaxnmq_f32(vld1q_f32(a + 2 * x + 4), vld1q_f32(b + 2 * x + 4));
            vst1q_f32(d + x, vpmaxnmq_f32(lo, hi));
        }
        for (; x < out_w; x++) {
            float32x2_t m = vmaxnm_f32(vld1_f32(a + 2 * x), vld1_f32(b + 2 * x));
            d[x] = vmaxnmv_f32(m);
        }
    }
}

static void upsample2(const float *in, size_t in_row, float *out, size_t out_row, int in_h,
                      int in_w)
{
    /* zip of a vector with itself duplicates each element; both rows get each result */
    for (int y = 0; y < in_h; y++) {
        const float *s = in + (size_t)y * in_row;
        float *d0 = out + (size_t)(2 * y) * out_row, *d1 = d0 + out_row;
        int x = 0;
        for (; x + 4 <= in_w; x += 4) {
            float32x4_t v = vld1q_f32(s + x);
            float32x4_t lo = vzip1q_f32(v, v), hi = vzip2q_f32(v, v);
            vst1q_f32(d0 + 2 * x, lo);
            vst1q_f32(d0 + 2 * x + 4, hi);
            vst1q_f32(d1 + 2 * x, lo);
            vst1q_f32(d1 + 2 * x + 4, hi);
        }
        for (; x < in_w; x++) {
            float32x2_t v = vdup_n_f32(s[x]);
            vst1_f32(d0 + 2 * x, v);
            vst1_f32(d1 + 2 * x, v);
        }
    }
}

/* Sigmoid from z = e^-|x|, which lies in [0, 1]: e^t never overflows, and 1 / (1 + z) for
   x >= 0, z / (1 + z) for x < 0 keeps small results accurate. e^t is Cephes' expf: t =
   n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for e^r, 2^n built in the exponent
   bits. t is clamped at -88, where n = -127 gives the bit pattern of +0: z is then exactly
   0 and huge |x| give exactly 0 or 1. */
static inline float32x4_t sigmoid4(float32x4_t x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    /* fmax keeps a NaN input NaN */
    float32x4_t t = vmaxq_f32(vnegq_f32(vabsq_f32(x)), vdupq_n_f32(-88.0f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(t, 1.44269504088896341f));
    /* ln2 in two parts: n * 0.693359375 is exact, so r keeps its low bits */
    float32x4_t r = vfmsq_f32(t, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, one), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t z = vmulq_f32(p, vreinterpretq_f32_s32(e));
    float32x4_t s = vdivq_f32(one, vaddq_f32(one, z));
    return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0)), vmulq_f32(z, s), s);
}

static void sigmoid(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, sigmoid4(vld1q_f32(x + i)));
    if (i < n) {
        /* the same code on a padded copy, so the tail rounds like the rest */
        float tmp[4] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof *x);
        vst1q_f32(tmp, sigmoid4(vld1q_f32(tmp)));
        memcpy(x + i, tmp, (n - i) * sizeof *x);
    }
}

/* Int8: 4 output channels x 16 positions. A step's 16 weight bytes hold 4 bytes per
 * output channel; the input vector holds 4 positions x 4 channels. */
#define QV 4

static inline int32x4_t requant4(int32x4_t acc, float scale, float32x4_t lo, float32x4_t hi)
{
    float32x4_t f = vmulq_n_f32(vcvtq_f32_s32(acc), scale);
    return vcvtnq_s32_f32(vminq_f32(vmaxq_f32(f, lo), hi));   /* nearest, ties to even */
}

/* Writes a block's 4 x 4nv accumulators, raw or requantised into interleaved bytes. */
static inline __attribute__((always_inline)) void qstore(const struct enn_qconv_job *j, int b,
                                                         size_t q, int32x4_t acc[4][QV], int nv)
{
    if (j->acc_out) {
        for (int m = 0; m < 4 && b + m < j->out_c; m++)
            for (int v = 0; v < nv; v++)
                vst1q_s32(j->acc_out + (size_t)(b + m) * j->acc_plane + q + 4 * (size_t)v,
                          acc[m][v]);
        return;
    }
    float32x4_t lo = vdupq_n_f32((float)j->lo), hi = vdupq_n_f32((float)j->hi);
    int32x4_t zero = vdupq_n_s32(j->zero);
    uint8_t *out = j->out + (size_t)(b / 4) * j->out_plane + 4 * q;
    for (int v = 0; v < nv; v++) {
        uint32x4_t r = vreinterpretq_u32_s32(vaddq_s32(requant4(acc[0][v], j->scale[b], lo, hi), zero));
        r = vorrq_u32(r, vshlq_n_u32(vreinterpretq_u32_s32(
                vaddq_s32(requant4(acc[1][v], j->scale[b + 1], lo, hi), zero)), 8));
        r = vorrq_u32(r, vshlq_n_u32(vreinterpretq_u32_s32(
                vaddq_s32(requant4(acc[2][v], j->scale[b + 2], lo, hi), zero)), 16));
        r = vorrq_u32(r, vshlq_n_u32(vreinterpretq_u32_s32(
                vaddq_s32(requant4(acc[3][v], j->scale[b + 3], lo, hi), zero)), 24));
        vst1q_u32((uint32_t *)(void *)(out + 16 * v), r);
    }
}

/* ARMv8.0 (Jetson Nano, and Xavier's Carmel, which lacks sdot): smull gives 8 int16
 * products (2 positions x 4 channels), smlal adds the next step's products to them (two
 * products of 7-bit activations and int8 weights fit int16: 2 x 127 x 127 < 32768), and
 * sadalp adds their pairs into int32: three instructions per two steps where one step
 * alone takes two. Where the plan found that four steps' products cannot overflow int16
 * (enn_qgroups_fit's bound on byte pairs holds for each byte), three smlal follow the
 * smull: five instructions per four steps. The last pairwise add per position waits until
 * the end of the block. 4 channels x 8 positions, so that the 16 half-sums stay in
 * registers. */
static inline int16x8_t products4(const int8x16_t x[4], const int8x16_t w[4], bool high)
{
    if (high)
        return vmlal_high_s8(vmlal_high_s8(vmlal_high_s8(vmull_high_s8(x[0], w[0]), x[1], w[1]),
                                           x[2], w[2]),
                             x[3], w[3]);
    int16x8_t p = vmull_s8(vget_low_s8(x[0]), vget_low_s8(w[0]));
    for (int i = 1; i < 4; i++)
        p = vmlal_s8(p, vget_low_s8(x[i]), vget_low_s8(w[i]));
    return p;
}

static void qconv(const struct enn_qconv_job *j)
{
    for (size_t q = 0; q < j->count; q += 8) {
        for (int b = 0; b < j->out_c; b += 4) {
            const int8_t *w = j->packed + (size_t)b * j->steps * 4;
            int32x4_t half[4][4];
            for (int m = 0; m < 4; m++)
                for (int v = 0; v < 4; v++)
                    half[m][v] = vdupq_n_s32(0);
            const uint8_t *in = j->in + 4 * q;
            size_t s = 0;
            for (; s < (j->quad_steps & ~(size_t)3); s += 4) {
                int32x4_t wq[4];   /* the four steps' weights, loaded once for both halves */
                for (int i = 0; i < 4; i++)
                    wq[i] = vreinterpretq_s32_s8(vld1q_s8(w + 16 * (s + i)));
                for (int v = 0; v < 2; v++) {   /* 8 bytes: 2 positions x 4 channels */
                    int8x16_t x[4];
                    for (int i = 0; i < 4; i++)
                        x[i] = vld1q_s8((const int8_t *)(in + 4 * j->k_off[s + i]) + 16 * v);
                    for (int m = 0; m < 4; m++) {
                        int8x16_t wm[4];
                        for (int i = 0; i < 4; i++)
                            wm[i] = vreinterpretq_s8_s32(vdupq_laneq_s32(wq[i], m));
                        half[m][2 * v] = vpadalq_s16(half[m][2 * v], products4(x, wm, false));
                        half[m][2 * v + 1] =
                            vpadalq_s16(half[m][2 * v + 1], products4(x, wm, true));
                    }
                }
            }
            for (; s + 2 <= j->steps; s += 2) {
                const int8_t *xa = (const int8_t *)(in + 4 * j->k_off[s]);
                const int8_t *xb = (const int8_t *)(in + 4 * j->k_off[s + 1]);
                int8x16_t a0 = vld1q_s8(xa), a1 = vld1q_s8(xa + 16);
                int8x16_t b0 = vld1q_s8(xb), b1 = vld1q_s8(xb + 16);
                int32x4_t wsa = vreinterpretq_s32_s8(vld1q_s8(w + 16 * s));
                int32x4_t wsb = vreinterpretq_s32_s8(vld1q_s8(w + 16 * s + 16));
                for (int m = 0; m < 4; m++) {
                    int8x16_t wa = vreinterpretq_s8_s32(vdupq_laneq_s32(wsa, m));
                    int8x16_t wb = vreinterpretq_s8_s32(vdupq_laneq_s32(wsb, m));
                    half[m][0] = vpadalq_s16(half[m][0], vmlal_s8(vmull_s8(vget_low_s8(a0), vget_low_s8(wa)),
                                                                  vget_low_s8(b0), vget_low_s8(wb)));
                    half[m][1] = vpadalq_s16(half[m][1], vmlal_high_s8(vmull_high_s8(a0, wa), b0, wb));
                    half[m][2] = vpadalq_s16(half[m][2], vmlal_s8(vmull_s8(vget_low_s8(a1), vget_low_s8(wa)),
                                                                  vget_low_s8(b1), vget_low_s8(wb)));
                    half[m][3] = vpadalq_s16(half[m][3], vmlal_high_s8(vmull_high_s8(a1, wa), b1, wb));
                }
            }
            for (; s < j->steps; s++) {
                const int8_t *x = (const int8_t *)(in + 4 * j->k_off[s]);
                int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
                int32x4_t ws = vreinterpretq_s32_s8(vld1q_s8(w + 16 * s));
                for (int m = 0; m < 4; m++) {
                    int8x16_t wm = vreinterpretq_s8_s32(vdupq_laneq_s32(ws, m));
                    half[m][0] = vpadalq_s16(half[m][0], vmull_s8(vget_low_s8(x0), vget_low_s8(wm)));
                    half[m][1] = vpadalq_s16(half[m][1], vmull_high_s8(x0, wm));
                    half[m][2] = vpadalq_s16(half[m][2], vmull_s8(vget_low_s8(x1), vget_low_s8(wm)));
                    half[m][3] = vpadalq_s16(half[m][3], vmull_high_s8(x1, wm));
                }
            }
            int32x4_t acc[4][QV];
            for (int m = 0; m < 4; m++)
                for (int v = 0; v < 2; v++)
                    acc[m][v] = vaddq_s32(vpaddq_s32(half[m][2 * v], half[m][2 * v + 1]),
                                          vdupq_n_s32(j->bias[b + m]));
            qstore(j, b, q, acc, 2);
        }
    }
}

/* ARMv8.2 dot product (Orin's A78AE): sdot by lane does a block's 4-term dot products in
 * one instruction per output channel and 4 positions. */
__attribute__((target("+dotprod")))
static void qconv_dot(const struct enn_qconv_job *j)
{
    for (size_t q = 0; q < j->count; q += 4 * QV) {
        for (int b = 0; b < j->out_c; b += 4) {
            const int8_t *w = j->packed + (size_t)b * j->steps * 4;
            int32x4_t acc[4][QV];
            for (int m = 0; m < 4; m++)
                for (int v = 0; v < QV; v++)
                    acc[m][v] = vdupq_n_s32(j->bias[b + m]);
            const uint8_t *in = j->in + 4 * q;
            for (size_t s = 0; s < j->steps; s++) {
                const int8_t *x = (const int8_t *)(in + 4 * j->k_off[s]);
                int8x16_t xv[QV];
                for (int v = 0; v < QV; v++)
                    xv[v] = vld1q_s8(x + 16 * v);
                int8x16_t ws = vld1q_s8(w + 16 * s);
                for (int v = 0; v < QV; v++) {
                    acc[0][v] = vdotq_laneq_s32(acc[0][v], xv[v], ws, 0);
                    acc[1][v] = vdotq_laneq_s32(acc[1][v], xv[v], ws, 1);
                    acc[2][v] = vdotq_laneq_s32(acc[2][v], xv[v], ws, 2);
                    acc[3][v] = vdotq_laneq_s32(acc[3][v], xv[v], ws, 3);
                }
            }
            qstore(j, b, q, acc, QV);
        }
    }
}

/* Depthwise: 4 positions x 4 channels per step, smlal per tap into one int32 vector per
 * position. */
static void qdwconv3(const uint8_t *in, uint8_t *out, size_t count, size_t row,
                     const int8_t *w, const int32_t *bias, const float *scale, int zero,
                     int lo, int hi)
{
    int16x4_t wt[9];
    ptrdiff_t off[9];
    for (int t = 0; t < 9; t++) {
        int16_t v[4] = {w[4 * t], w[4 * t + 1], w[4 * t + 2], w[4 * t + 3]};
        wt[t] = vld1_s16(v);
        off[t] = (t / 3 - 1) * (ptrdiff_t)row + (t % 3 - 1);
    }
    const int32x4_t b = vld1q_s32(bias);
    const float32x4_t sc = vld1q_f32(scale);
    const float32x4_t flo = vdupq_n_f32((float)lo), fhi = vdupq_n_f32((float)hi);
    const int32x4_t zv = vdupq_n_s32(zero);
    for (size_t q = 0; q < count; q += 4) {
        const uint8_t *x = in + 4 * q;
        int32x4_t a[4] = {b, b, b, b};
        for (int t = 0; t < 9; t++) {
            uint8x16_t v = vld1q_u8(x + 4 * off[t]);
            int16x8_t lo16 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
            int16x8_t hi16 = vreinterpretq_s16_u16(vmovl_high_u8(v));
            a[0] = vmlal_s16(a[0], vget_low_s16(lo16), wt[t]);
            a[1] = vmlal_s16(a[1], vget_high_s16(lo16), wt[t]);
            a[2] = vmlal_s16(a[2], vget_low_s16(hi16), wt[t]);
            a[3] = vmlal_s16(a[3], vget_high_s16(hi16), wt[t]);
        }
        uint16x4_t r[4];
        for (int p = 0; p < 4; p++) {
            float32x4_t f = vmulq_f32(vcvtq_f32_s32(a[p]), sc);
            int32x4_t qv = vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(f, flo), fhi)), zv);
            r[p] = vmovn_u32(vreinterpretq_u32_s32(qv));
        }
        uint8x16_t o = vcombine_u8(vmovn_u16(vcombine_u16(r[0], r[1])),
                                   vmovn_u16(vcombine_u16(r[2], r[3])));
        vst1q_u8(out + 4 * q, o);
    }
}

/* Sixteen positions per pass in four float chains. The zero point is taken away in the
 * widening (vsubl_u8: the difference fits int16); the first product is t itself (0 + p
 * is p, but for -0, which rounds the same). The clamp: a float min at the top (the
 * loader keeps t finite), then saturating narrows to int16, the zero point added with
 * saturation, and vqmovun, whose floor of 0 is the low clamp (-zero + zero). */
static inline void qsum_terms(const uint8_t *p, uint8x8_t z, float r, float32x4_t t[4],
                              bool first)
{
    uint8x16_t q = vld1q_u8(p);
    int16x8_t d[2] = {vreinterpretq_s16_u16(vsubl_u8(vget_low_u8(q), z)),
                      vreinterpretq_s16_u16(vsubl_u8(vget_high_u8(q), z))};
    for (int h = 0; h < 2; h++) {
        float32x4_t a = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(d[h]))), r);
        float32x4_t b = vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(d[h])), r);
        t[2 * h] = first ? a : vaddq_f32(t[2 * h], a);
        t[2 * h + 1] = first ? b : vaddq_f32(t[2 * h + 1], b);
    }
}

static void qsum(const uint8_t *const *src, const int *zeros, const float *r, int n,
                 uint8_t *dst, size_t len, int zero)
{
    const float32x4_t hi = vdupq_n_f32((float)(127 - zero));
    const int16x8_t zv = vdupq_n_s16((int16_t)zero);
    size_t e = 0;
    for (; e + 16 <= len; e += 16) {
        float32x4_t t[4];
        qsum_terms(src[0] + e, vdup_n_u8((uint8_t)zeros[0]), r[0], t, true);
        for (int i = 1; i < n; i++)
            qsum_terms(src[i] + e, vdup_n_u8((uint8_t)zeros[i]), r[i], t, false);
        int16x8_t w[2];
        for (int h = 0; h < 2; h++) {
            int32x4_t a = vcvtnq_s32_f32(vminq_f32(t[2 * h], hi));   /* nearest even */
            int32x4_t b = vcvtnq_s32_f32(vminq_f32(t[2 * h + 1], hi));
            w[h] = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), zv);
        }
        vst1q_u8(dst + e, vqmovun_high_s16(vqmovun_s16(w[0]), w[1]));
    }
    if (e < len) {
        const uint8_t *tail[ENN_MAX_SUM];
        for (int i = 0; i < n; i++)
            tail[i] = src[i] + e;
        enn_qsum_scalar(tail, zeros, r, n, dst + e, len - e, zero);
    }
}

const struct enn_kernels enn_kernels_neon_dot = {
    "neon-dot", MR, conv, dwconv3, maxpool2, upsample2, sigmoid, qconv_dot, qdwconv3, qsum,
};

const struct enn_kernels enn_kernels_neon = {
    "neon", MR, conv, dwconv3, maxpool2, upsample2, sigmoid, qconv, qdwconv3, qsum,
};
#endif
