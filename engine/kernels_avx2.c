/* x86-64 kernels: AVX2 + FMA, and for CPUs with AVX-512 the two convolutions where it
 * pays. conv: 4 output channels x 24 positions in 12 accumulators; the per-plane ops
 * vectorise over positions in one pass. */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define MR 4
#define NV 3
#define NR (8 * NV)

/* mr is a constant at every call site, so the loops unroll and acc stays in registers. */
static inline __attribute__((always_inline)) void block(const struct enn_conv_job *j, int mr,
                                                        const float *w, int o, size_t q)
{
    __m256 acc[MR][NV];
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

static void conv(const struct enn_conv_job *j)
{
    /* Positions outer, channel blocks inner: the input tile stays in L1 while every
       block of output channels uses it. */
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

/* AVX-512: 8 output channels x 32 positions in 16 of the 32 zmm registers, so twice the
 * multiply-adds per weight broadcast and per input load of the AVX2 tile, and twice the
 * width per instruction. Each output is the same chain of FMAs as in the AVX2 kernel. */
#define MR512 8
#define NV512 2
#define NR512 (16 * NV512)
_Static_assert(NR512 <= ENN_MAX_OVERRUN && MR512 <= ENN_MR_MAX, "the avx512 conv's tile");

__attribute__((target("avx512f,avx512vl,avx512bw"))) static inline
    __attribute__((always_inline)) void block512(const struct enn_conv_job *j, int mr,
                                                 const float *w, int o, size_t q)
{
    __m512 acc[MR512][NV512];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV512; v++)
            acc[m][v] = _mm512_set1_ps(j->bias[o + m]);
    const float *in = j->in + q;
    const ptrdiff_t *off = j->k_off;
    for (size_t k = 0; k < j->k; k++) {
        const float *x = in + off[k];
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        for (int m = 0; m < mr; m++) {
            __m512 wk = _mm512_set1_ps(w[k * (size_t)mr + (size_t)m]);
            acc[m][0] = _mm512_fmadd_ps(wk, x0, acc[m][0]);
            acc[m][1] = _mm512_fmadd_ps(wk, x1, acc[m][1]);
        }
    }
    __m512 zero = _mm512_setzero_ps();
    for (int m = 0; m < mr; m++) {
        float *out = j->out + (size_t)(o + m) * j->out_plane + q;
        for (int v = 0; v < NV512; v++)
            _mm512_storeu_ps(out + 16 * v, j->relu ? _mm512_max_ps(acc[m][v], zero) : acc[m][v]);
    }
}

__attribute__((target("avx512f,avx512vl,avx512bw")))
static void conv_avx512(const struct enn_conv_job *j)
{
    for (size_t q = 0; q < j->count; q += NR512) {
        for (int o = 0; o < j->out_c; o += MR512) {
            int mr = j->out_c - o < MR512 ? j->out_c - o : MR512;
            const float *w = j->packed + (size_t)o * j->k;
            switch (mr) {
            case 8: block512(j, 8, w, o, q); break;
            case 7: block512(j, 7, w, o, q); break;
            case 6: block512(j, 6, w, o, q); break;
            case 5: block512(j, 5, w, o, q); break;
            case 4: block512(j, 4, w, o, q); break;
            case 3: block512(j, 3, w, o, q); break;
            case 2: block512(j, 2, w, o, q); break;
            default: block512(j, 1, w, o, q); break;
            }
        }
    }
}

/* Depthwise 3x3 over a padded plane. Two output rows per pass: the four input rows they
   need are loaded once and feed both, 12 loads per 16 outputs instead of 18. Each lane
   runs the same chain of FMAs whichever pass computes it, so the overlap of a row's last
   vector with the next row rewrites identical values. */
static inline __attribute__((always_inline)) void dw_body(const float *in, float *out,
                                                          size_t count, size_t row,
                                                          const float *wt, float bias,
                                                          bool relu)
{
    __m256 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm256_broadcast_ss(wt + i);
    const __m256 b = _mm256_set1_ps(bias), zero = _mm256_setzero_ps();
    size_t q = 0;
    for (; q + 2 * row <= count; q += 2 * row) {
        for (size_t x = 0; x < row; x += 8) {
            const float *p = in + q + x - row - 1;
            __m256 top = b, bot = b;
            for (int r = 0; r < 4; r++, p += row) {
                __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 1),
                       x2 = _mm256_loadu_ps(p + 2);
                /* GCC would fold these loads into both rows' FMAs, loading the shared
                   rows twice; pinning them in registers is ~15% faster at 160x120 */
                if (r == 1 || r == 2)
                    __asm__("" : "+x"(x0), "+x"(x1), "+x"(x2));
                if (r < 3) {
                    top = _mm256_fmadd_ps(w[3 * r], x0, top);
                    top = _mm256_fmadd_ps(w[3 * r + 1], x1, top);
                    top = _mm256_fmadd_ps(w[3 * r + 2], x2, top);
                }
                if (r > 0) {
                    bot = _mm256_fmadd_ps(w[3 * r - 3], x0, bot);
                    bot = _mm256_fmadd_ps(w[3 * r - 2], x1, bot);
                    bot = _mm256_fmadd_ps(w[3 * r - 1], x2, bot);
                }
            }
            _mm256_storeu_ps(out + q + x, relu ? _mm256_max_ps(top, zero) : top);
            _mm256_storeu_ps(out + q + x + row, relu ? _mm256_max_ps(bot, zero) : bot);
        }
    }
    /* an odd last row (or a count that is not whole rows): one row per pass */
    for (; q < count; q += 8) {
        const float *p = in + q - row - 1;
        __m256 acc = b;
        for (int r = 0; r < 3; r++, p += row) {
            acc = _mm256_fmadd_ps(w[3 * r], _mm256_loadu_ps(p), acc);
            acc = _mm256_fmadd_ps(w[3 * r + 1], _mm256_loadu_ps(p + 1), acc);
            acc = _mm256_fmadd_ps(w[3 * r + 2], _mm256_loadu_ps(p + 2), acc);
        }
        _mm256_storeu_ps(out + q, relu ? _mm256_max_ps(acc, zero) : acc);
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

/* Mask of the first n lanes (0 <= n <= 8), for tails: masked lanes are neither read nor
   written, so the tail stays inside the region without a scalar loop. */
static const int32_t lane_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i first_lanes(int n)
{
    return _mm256_loadu_si256((const __m256i *)(lane_tab + 8 - n));
}

/* Max of adjacent pairs of the 16 floats lo:hi, in order. The in-lane shuffles leave the
   pairs as 0 1 4 5 | 2 3 6 7; one 64-bit permute puts them back. */
static inline __m256 pair_max(__m256 lo, __m256 hi)
{
    __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 odd = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    __m256d m = _mm256_castps_pd(_mm256_max_ps(even, odd));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(m, _MM_SHUFFLE(3, 1, 2, 0)));
}

static void maxpool2(const float *in, size_t in_row, float *out, size_t out_row, int out_h,
                     int out_w)
{
    for (int y = 0; y < out_h; y++) {
        const float *a = in + (size_t)(2 * y) * in_row, *b = a + in_row;
        float *d = out + (size_t)y * out_row;
        int x = 0;
        /* vertical max first: one shuffle sequence per 8 outputs instead of two */
        for (; x + 8 <= out_w; x += 8) {
            __m256 lo = _mm256_max_ps(_mm256_loadu_ps(a + 2 * x), _mm256_loadu_ps(b + 2 * x));
            __m256 hi = _mm256_max_ps(_mm256_loadu_ps(a + 2 * x + 8),
                                      _mm256_loadu_ps(b + 2 * x + 8));
            _mm256_storeu_ps(d + x, pair_max(lo, hi));
        }
        if (x < out_w) {
            int n = out_w - x;
            __m256i m0 = first_lanes(2 * n > 8 ? 8 : 2 * n);
            __m256i m1 = first_lanes(2 * n > 8 ? 2 * n - 8 : 0);
            __m256 lo = _mm256_max_ps(_mm256_maskload_ps(a + 2 * x, m0),
                                      _mm256_maskload_ps(b + 2 * x, m0));
            __m256 hi = _mm256_max_ps(_mm256_maskload_ps(a + 2 * x + 8, m1),
                                      _mm256_maskload_ps(b + 2 * x + 8, m1));
            _mm256_maskstore_ps(d + x, first_lanes(n), pair_max(lo, hi));
        }
    }
}

static void upsample2(const float *in, size_t in_row, float *out, size_t out_row, int in_h,
                      int in_w)
{
    /* one lane-crossing permute per 8 outputs, each vector stored to both rows */
    const __m256i lo_idx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i hi_idx = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    for (int y = 0; y < in_h; y++) {
        const float *s = in + (size_t)y * in_row;
        float *d0 = out + (size_t)(2 * y) * out_row, *d1 = d0 + out_row;
        int x = 0;
        for (; x + 8 <= in_w; x += 8) {
            __m256 v = _mm256_loadu_ps(s + x);
            __m256 lo = _mm256_permutevar8x32_ps(v, lo_idx);
            __m256 hi = _mm256_permutevar8x32_ps(v, hi_idx);
            _mm256_storeu_ps(d0 + 2 * x, lo);
            _mm256_storeu_ps(d0 + 2 * x + 8, hi);
            _mm256_storeu_ps(d1 + 2 * x, lo);
            _mm256_storeu_ps(d1 + 2 * x + 8, hi);
        }
        if (x < in_w) {
            int n = in_w - x;
            __m256 v = _mm256_maskload_ps(s + x, first_lanes(n));
            __m256 lo = _mm256_permutevar8x32_ps(v, lo_idx);
            __m256i m0 = first_lanes(2 * n > 8 ? 8 : 2 * n);
            _mm256_maskstore_ps(d0 + 2 * x, m0, lo);
            _mm256_maskstore_ps(d1 + 2 * x, m0, lo);
            if (2 * n > 8) {
                __m256 hi = _mm256_permutevar8x32_ps(v, hi_idx);
                __m256i m1 = first_lanes(2 * n - 8);
                _mm256_maskstore_ps(d0 + 2 * x + 8, m1, hi);
                _mm256_maskstore_ps(d1 + 2 * x + 8, m1, hi);
            }
        }
    }
}

/* Sigmoid from z = e^-|x|, which lies in [0, 1]: e^t never overflows, and 1 / (1 + z) for
   x >= 0, z / (1 + z) for x < 0 keeps small results accurate. e^t is Cephes' expf: t =
   n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for e^r, 2^n built in the exponent
   bits. t is clamped at -88, where n = -127 gives the bit pattern of +0: z is then exactly
   0 and huge |x| give exactly 0 or 1. */
static inline __m256 sigmoid8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));   /* -|x| */
    /* maxps returns its second operand when either is NaN: a NaN input stays NaN */
    t = _mm256_max_ps(_mm256_set1_ps(-88.0f), t);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln2 in two parts: n * 0.693359375 is exact, so r keeps its low bits */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, one));
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    __m256 z = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, z));
    return _mm256_blendv_ps(s, _mm256_mul_ps(z, s), x);   /* by the sign bit of x */
}

static void sigmoid(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, sigmoid8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        /* the same code on a padded copy, so the tail rounds like the rest */
        float tmp[8] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof *x);
        _mm256_storeu_ps(tmp, sigmoid8(_mm256_loadu_ps(tmp)));
        memcpy(x + i, tmp, (n - i) * sizeof *x);
    }
}

/* Int8: 4 output channels x 16 positions in 8 accumulators. vpmaddubsw multiplies the
 * 7-bit activations by the weights and adds pairs into int16 (no saturation: 2 x 127 x
 * 127 < 32768), vpmaddwd with ones adds those pairs into int32: a 4-term dot product per
 * position per 32-bit lane. Where the plan found that the int16 sums of four steps (or
 * two) cannot overflow (enn_qgroups_fit), they are added with vpaddw before the one
 * vpmaddwd and vpaddd: 9 vector ops for four steps instead of 12, the ports' bottleneck.
 * The plan orders steps so that most of them form such groups (enn_qorder_steps). */
static inline __m256i requant8(__m256i acc, __m256 scale, __m256 lo, __m256 hi)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    return _mm256_cvtps_epi32(f);   /* round to nearest even (MXCSR's default) */
}

/* A block's accumulators (mr of its 4 output channels x nv vectors of 8 positions) to
 * memory: raw, or requantised into interleaved bytes (channel m's byte at byte m of each
 * position's 32 bits; the zero point in the bytes of channels past out_c). Rounding then
 * clamping equals clamping then rounding, lo and hi being integers: the float min keeps
 * huge values from the conversion's overflow value, and the saturating packs with one
 * byte max clamp the low side (a value below -2^31 converts to -2^31, which saturates
 * low too). */
static inline __attribute__((always_inline)) void qstore(const struct enn_qconv_job *j, int b,
                                                         int mr, size_t q, __m256i acc[4][4],
                                                         int nv)
{
    if (j->acc_out) {
        for (int m = 0; m < mr; m++)
            for (int v = 0; v < nv; v++)
                _mm256_storeu_si256((__m256i *)(void *)(j->acc_out + (size_t)(b + m) * j->acc_plane +
                                                        q + 8 * (size_t)v), acc[m][v]);
        return;
    }
    const __m256 hi = _mm256_set1_ps((float)j->hi);
    const __m256i zero = _mm256_set1_epi16((int16_t)j->zero);
    const __m256i floor = _mm256_set1_epi8((char)(j->lo + j->zero));
    /* bytes c0 .. c3 of positions 0-3 (each 128-bit half), from channel-major order */
    const __m256i interleave = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7,
                                                11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10,
                                                14, 3, 7, 11, 15);
    __m256 scale[4];
    for (int m = 0; m < mr; m++)
        scale[m] = _mm256_set1_ps(j->scale[b + m]);
    uint8_t *out = j->out + (size_t)(b / 4) * j->out_plane + 4 * q;
    for (int v = 0; v < nv; v++) {
        __m256i r[4];
        for (int m = 0; m < 4; m++) {
            if (m < mr) {
                __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[m][v]), scale[m]);
                r[m] = _mm256_cvtps_epi32(_mm256_min_ps(f, hi));   /* nearest even */
            } else {
                r[m] = _mm256_setzero_si256();   /* + zero: the zero point */
            }
        }
        __m256i w01 = _mm256_add_epi16(_mm256_packs_epi32(r[0], r[1]), zero);
        __m256i w23 = _mm256_add_epi16(_mm256_packs_epi32(r[2], r[3]), zero);
        __m256i bytes = _mm256_max_epu8(_mm256_packus_epi16(w01, w23), floor);
        _mm256_storeu_si256((__m256i *)(void *)(out + 32 * v),
                            _mm256_shuffle_epi8(bytes, interleave));
    }
}

static inline __m256i load256(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

static inline __m256i weights4(const int8_t *w)
{
    int32_t w4;
    memcpy(&w4, w, 4);
    return _mm256_set1_epi32(w4);
}

/* One block of mr (a constant at each call) output channels by 16 positions. */
static inline __attribute__((always_inline)) void qblock(const struct enn_qconv_job *j, int b,
                                                         int mr, size_t q)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t quad_steps = j->quad_steps & ~(size_t)3;
    const int8_t *w = j->packed + (size_t)b * j->steps * 4;
    __m256i acc[4][4];
    for (int m = 0; m < mr; m++)
        acc[m][0] = acc[m][1] = _mm256_set1_epi32(j->bias[b + m]);
    const uint8_t *in = j->in + 4 * q;
    size_t s = 0;
    for (; s < quad_steps; s += 4) {
        const uint8_t *x[4];
        for (int i = 0; i < 4; i++)
            x[i] = in + 4 * j->k_off[s + i];
        for (int v = 0; v < 2; v++) {
            /* weights broadcast again for each vector of positions: hoisted, the 16 of
               them spill with the accumulators */
            const int8_t *ws = w + 16 * s;
            __asm__ volatile("" : "+r"(ws));
            __m256i xv[4];
            for (int i = 0; i < 4; i++)
                xv[i] = load256(x[i] + 32 * v);
            for (int m = 0; m < mr; m++) {
                __m256i p01 = _mm256_add_epi16(
                    _mm256_maddubs_epi16(xv[0], weights4(ws + 4 * m)),
                    _mm256_maddubs_epi16(xv[1], weights4(ws + 16 + 4 * m)));
                __m256i p23 = _mm256_add_epi16(
                    _mm256_maddubs_epi16(xv[2], weights4(ws + 32 + 4 * m)),
                    _mm256_maddubs_epi16(xv[3], weights4(ws + 48 + 4 * m)));
                acc[m][v] = _mm256_add_epi32(
                    acc[m][v], _mm256_madd_epi16(_mm256_add_epi16(p01, p23), ones));
            }
        }
    }
    if (j->pairs)
        for (; s + 2 <= j->steps; s += 2) {
            const uint8_t *xa = in + 4 * j->k_off[s], *xb = in + 4 * j->k_off[s + 1];
            const int8_t *ws = w + 16 * s;
            /* positions outer: 15 live vectors, where channels outer spill */
            for (int v = 0; v < 2; v++) {
                __m256i a = load256(xa + 32 * v), c = load256(xb + 32 * v);
                for (int m = 0; m < mr; m++) {
                    __m256i sum16 = _mm256_add_epi16(
                        _mm256_maddubs_epi16(a, weights4(ws + 4 * m)),
                        _mm256_maddubs_epi16(c, weights4(ws + 16 + 4 * m)));
                    acc[m][v] = _mm256_add_epi32(acc[m][v], _mm256_madd_epi16(sum16, ones));
                }
            }
        }
    for (; s < j->steps; s++) {
        const uint8_t *x = in + 4 * j->k_off[s];
        __m256i x0 = load256(x), x1 = load256(x + 32);
        const int8_t *ws = w + 16 * s;
        for (int m = 0; m < mr; m++) {
            __m256i wv = weights4(ws + 4 * m);
            acc[m][0] = _mm256_add_epi32(acc[m][0],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(x0, wv), ones));
            acc[m][1] = _mm256_add_epi32(acc[m][1],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(x1, wv), ones));
        }
    }
    qstore(j, b, mr, q, acc, 2);
}

static void qconv(const struct enn_qconv_job *j)
{
    for (size_t q = 0; q < j->count; q += 16) {
        /* a last block of fewer than 4 channels computes only those */
        for (int b = 0; b < j->out_c; b += 4) {
            switch (j->out_c - b) {
            case 1: qblock(j, b, 1, q); break;
            case 2: qblock(j, b, 2, q); break;
            case 3: qblock(j, b, 3, q); break;
            default: qblock(j, b, 4, q); break;
            }
        }
    }
}

/* AVX-512 VNNI (Cascade Lake and later, Zen 4), on 256-bit vectors: vpdpbusd does the
 * 4-term dot products and the accumulation in one instruction, so a block can be mr
 * (1-4, a constant at each call) channels x 32 positions (VL gives 32 vector registers). */
__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni"))) static inline
    __attribute__((always_inline)) void qblock_vnni(const struct enn_qconv_job *j, int b,
                                                    int mr, size_t q)
{
    const int8_t *w = j->packed + (size_t)b * j->steps * 4;
    __m256i acc[4][4];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < 4; v++)
            acc[m][v] = _mm256_set1_epi32(j->bias[b + m]);
    const uint8_t *in = j->in + 4 * q;
    for (size_t s = 0; s < j->steps; s++) {
        const uint8_t *x = in + 4 * j->k_off[s];
        __m256i xv[4];
        for (int v = 0; v < 4; v++)
            xv[v] = load256(x + 32 * v);
        const int8_t *ws = w + 16 * s;
        for (int m = 0; m < mr; m++) {
            __m256i wv = weights4(ws + 4 * m);
            for (int v = 0; v < 4; v++)
                acc[m][v] = _mm256_dpbusd_epi32(acc[m][v], xv[v], wv);
        }
    }
    qstore(j, b, mr, q, acc, 4);
}

__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni")))
static void qconv_vnni(const struct enn_qconv_job *j)
{
    for (size_t q = 0; q < j->count; q += 32) {
        /* a last block of fewer than 4 channels computes only those */
        for (int b = 0; b < j->out_c; b += 4) {
            switch (j->out_c - b) {
            case 1: qblock_vnni(j, b, 1, q); break;
            case 2: qblock_vnni(j, b, 2, q); break;
            case 3: qblock_vnni(j, b, 3, q); break;
            default: qblock_vnni(j, b, 4, q); break;
            }
        }
    }
}

/* Depthwise: 4 positions x 4 channels per step. Taps go in pairs, interleaved as int16 so
 * that vpmaddwd adds two taps of one channel (a tenth, zero-weighted tap pads the last
 * pair). unpacklo/hi split positions 0, 2 and 1, 3; packs puts them back in order. */
static void qdwconv3(const uint8_t *in, uint8_t *out, size_t count, size_t row,
                     const int8_t *w, const int32_t *bias, const float *scale, int zero,
                     int lo, int hi)
{
    __m256i wp[5];
    for (int p = 0; p < 5; p++) {
        int16_t pat[16];
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 4; i++) {
                pat[8 * h + 2 * i] = w[4 * (2 * p) + i];
                pat[8 * h + 2 * i + 1] = 2 * p + 1 < 9 ? w[4 * (2 * p + 1) + i] : 0;
            }
        wp[p] = _mm256_loadu_si256((const __m256i *)(const void *)pat);
    }
    ptrdiff_t off[10];
    for (int t = 0; t < 10; t++)
        off[t] = t < 9 ? (t / 3 - 1) * (ptrdiff_t)row + (t % 3 - 1) : 0;
    const __m256i b = _mm256_setr_epi32(bias[0], bias[1], bias[2], bias[3], bias[0], bias[1],
                                        bias[2], bias[3]);
    const __m256 sc = _mm256_setr_ps(scale[0], scale[1], scale[2], scale[3], scale[0],
                                     scale[1], scale[2], scale[3]);
    const __m256 flo = _mm256_set1_ps((float)lo), fhi = _mm256_set1_ps((float)hi);
    const __m256i zv = _mm256_set1_epi32(zero);
    for (size_t q = 0; q < count; q += 4) {
        const uint8_t *x = in + 4 * q;
        __m256i a02 = b, a13 = b;
        for (int p = 0; p < 5; p++) {
            __m256i t0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + 4 * off[2 * p])));
            __m256i t1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + 4 * off[2 * p + 1])));
            a02 = _mm256_add_epi32(a02, _mm256_madd_epi16(_mm256_unpacklo_epi16(t0, t1), wp[p]));
            a13 = _mm256_add_epi32(a13, _mm256_madd_epi16(_mm256_unpackhi_epi16(t0, t1), wp[p]));
        }
        __m256i r02 = _mm256_add_epi32(requant8(a02, sc, flo, fhi), zv);
        __m256i r13 = _mm256_add_epi32(requant8(a13, sc, flo, fhi), zv);
        __m256i v = _mm256_packus_epi16(_mm256_packs_epi32(r02, r13), _mm256_setzero_si256());
        v = _mm256_permute4x64_epi64(v, 0x08);   /* the low 8 bytes of each lane */
        _mm_storeu_si128((__m128i *)(void *)(out + 4 * q), _mm256_castsi256_si128(v));
    }
}

/* Eight positions per vector, four vectors per pass: the adds of one output chain
 * through the inputs in order, so independent chains keep the adder busy. The first
 * product is t itself (0 + p is p, but for -0, which rounds the same). The clamp: a
 * float min at the top (the loader keeps t finite: 127 x sum r_i < 2^64), then the
 * saturating packs, the zero point added with saturation in int16, and packus, whose
 * floor of 0 is the low clamp (-zero + zero); so no max and no 32-bit add. */
static inline __m256 qsum_term(const uint8_t *p, __m256i z, __m256 r)
{
    __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)), r);
}

static void qsum(const uint8_t *const *src, const int *zeros, const float *r, int n,
                 uint8_t *dst, size_t len, int zero)
{
    const __m256 hi = _mm256_set1_ps((float)(127 - zero));
    const __m256i zv = _mm256_set1_epi16((int16_t)zero);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i z0 = _mm256_set1_epi32(zeros[0]);
    const __m256 r0 = _mm256_set1_ps(r[0]);
    size_t e = 0;
    for (; e + 32 <= len; e += 32) {
        __m256 t[4];
        for (int v = 0; v < 4; v++)
            t[v] = qsum_term(src[0] + e + 8 * v, z0, r0);
        for (int i = 1; i < n; i++) {
            const __m256i z = _mm256_set1_epi32(zeros[i]);
            const __m256 ri = _mm256_set1_ps(r[i]);
            for (int v = 0; v < 4; v++)
                t[v] = _mm256_add_ps(t[v], qsum_term(src[i] + e + 8 * v, z, ri));
        }
        __m256i q[4];
        for (int v = 0; v < 4; v++)
            q[v] = _mm256_cvtps_epi32(_mm256_min_ps(t[v], hi));   /* nearest even */
        /* packs work within 128-bit lanes: the 32-bit groups come out holding positions
           0-3 8-11 16-19 24-27 4-7 12-15 20-23 28-31, which the permute puts in order */
        __m256i w01 = _mm256_adds_epi16(_mm256_packs_epi32(q[0], q[1]), zv);
        __m256i w23 = _mm256_adds_epi16(_mm256_packs_epi32(q[2], q[3]), zv);
        __m256i bytes = _mm256_packus_epi16(w01, w23);
        _mm256_storeu_si256((__m256i *)(void *)(dst + e), _mm256_permutevar8x32_epi32(bytes, order));
    }
    if (e < len) {
        const uint8_t *tail[ENN_MAX_SUM];
        for (int i = 0; i < n; i++)
            tail[i] = src[i] + e;
        enn_qsum_scalar(tail, zeros, r, n, dst + e, len - e, zero);
    }
}

const struct enn_kernels enn_kernels_avx2 = {
    "avx2", MR, conv, dwconv3, maxpool2, upsample2, sigmoid, qconv, qdwconv3, qsum,
};

/* The AVX2 set with AVX-512's float convolution and VNNI's int8 one. */
const struct enn_kernels enn_kernels_avx512vnni = {
    "avx512vnni", MR512, conv_avx512, dwconv3, maxpool2, upsample2, sigmoid, qconv_vnni,
    qdwconv3, qsum,
};
#endif
