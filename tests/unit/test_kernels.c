/* Every kernel set this CPU runs matches a naive convolution written here, on random
 * shapes: odd channel counts, 1x1 and 3x3, strides 1 and 2, summed inputs, ReLU; and the
 * scalar set's depthwise 3x3, 2x2 max pool, x2 upsample and sigmoid (libm's, for that). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "model_builder.h"
#include "net.h"

static const char *const ISAS[] = {"scalar", "avx2", "avx512vnni", "neon", "neon-dot"};
static const char *const CLASSES[] = {"a", "b", "c", "d", "e"};

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* out = conv(in), also the per-output sum of |terms| for a relative tolerance. */
static void ref_conv(const float *in, int ci, int h, int w, const float *wt, const float *bias,
                     int co, int k, int s, int relu, float *out, float *mag, int *oh, int *ow)
{
    int p = k / 2;
    *oh = (h + 2 * p - k) / s + 1;
    *ow = (w + 2 * p - k) / s + 1;
    for (int o = 0; o < co; o++)
        for (int y = 0; y < *oh; y++)
            for (int x = 0; x < *ow; x++) {
                double acc = bias[o], m = fabs(bias[o]);
                for (int i = 0; i < ci; i++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = y * s + ky - p, ix = x * s + kx - p;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            double t = (double)wt[((o * ci + i) * k + ky) * k + kx] *
                                       in[(i * h + iy) * w + ix];
                            acc += t;
                            m += fabs(t);
                        }
                size_t at = ((size_t)o * (size_t)*oh + (size_t)y) * (size_t)*ow + (size_t)x;
                out[at] = relu && acc < 0 ? 0 : (float)acc;
                mag[at] = (float)m;
            }
}

static void expect_close(const float *got, const float *want, const float *mag, size_t n,
                         const char *isa, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float tol = 1e-5f * (mag[i] > 1 ? mag[i] : 1);
        if (!(fabsf(got[i] - want[i]) <= tol))
            fail_msg("%s %s[%zu]: got %.8g want %.8g (tol %.3g)", isa, what, i, got[i], want[i],
                     tol);
    }
}

/* One random case: node1 = conv(input), node2 = conv 3x3 s1 (node1 + node1), pooled. */
static void one_case(int ci, int h, int w, int co, int k, int s, int relu)
{
    size_t n_in = (size_t)ci * (size_t)h * (size_t)w;
    size_t w1n = (size_t)co * (size_t)ci * (size_t)(k * k), w2n = (size_t)co * (size_t)co * 9;
    float *in = malloc(n_in * 4), *w1 = malloc(w1n * 4), *w2 = malloc(w2n * 4);
    float b1[64], b2[64], wd[5 * 64], bd[5] = {0};
    for (size_t i = 0; i < n_in; i++)
        in[i] = frand();
    for (size_t i = 0; i < w1n; i++)
        w1[i] = frand() * 0.3f;
    for (size_t i = 0; i < w2n; i++)
        w2[i] = frand() * 0.3f;
    for (int i = 0; i < co; i++)
        b1[i] = frand() * 0.1f, b2[i] = frand() * 0.1f;
    for (int i = 0; i < 5 * co; i++)
        wd[i] = frand();

    struct mb b;
    mb_begin(&b, "case", ci, h, w, 5, CLASSES);
    mb_conv(&b, (int[]){0}, 1, ci, co, k, s, relu, w1, b1);
    mb_conv(&b, (int[]){1, 1}, 2, co, co, 3, 1, 1, w2, b2);
    mb_gap(&b, (int[]){2}, 1);
    mb_dense(&b, 3, co, 5, wd, bd);
    mb_finish(&b);
    struct enn_model *m;
    char err[256];
    if (enn_model_parse(b.data, b.len, &m, err, sizeof err))
        fail_msg("%s", err);

    int oh, ow, oh2, ow2;
    float *r1 = malloc((size_t)co * (size_t)(h * w) * 4 + 4);
    float *g1 = malloc((size_t)co * (size_t)(h * w) * 4 + 4);
    float *mag1 = malloc((size_t)co * (size_t)(h * w) * 4 + 4);
    ref_conv(in, ci, h, w, w1, b1, co, k, s, relu, r1, mag1, &oh, &ow);
    size_t n1 = (size_t)co * (size_t)oh * (size_t)ow;
    float *sum = malloc(n1 * 4), *r2 = malloc(n1 * 4), *g2 = malloc(n1 * 4),
          *mag2 = malloc(n1 * 4);
    for (size_t i = 0; i < n1; i++)
        sum[i] = r1[i] + r1[i];
    ref_conv(sum, co, oh, ow, w2, b2, co, 3, 1, 1, r2, mag2, &oh2, &ow2);

    int tested = 0;
    for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
        if (!enn_kernels_get(ISAS[i]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[i], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s", err);
        /* nodes 1 and 2 are read back after the run: keep them out of buffer sharing */
        if (enn_net_keep_values(net, err, sizeof err))
            fail_msg("%s", err);
        assert_string_equal(enn_net_isa(net), ISAS[i]);
        float logits[5];
        enn_net_run(net, in, logits, NULL);
        enn_net_value(net, 1, g1);
        expect_close(g1, r1, mag1, n1, ISAS[i], "conv");
        enn_net_value(net, 2, g2);
        for (size_t j = 0; j < n1; j++)
            mag2[j] = mag2[j] * 2 + 1;   /* errors of node 1 propagate into node 2 */
        expect_close(g2, r2, mag2, n1, ISAS[i], "conv on sum");
        for (size_t j = 0; j < n1; j++)
            mag2[j] = (mag2[j] - 1) / 2;
        enn_net_free(net);
        tested++;
    }
    unsetenv("EMOTIOND_ISA");
    assert_true(tested >= 2);   /* scalar and the native SIMD set, at least */
    enn_model_free(m);
    mb_free(&b);
    free(in), free(w1), free(w2), free(r1), free(g1), free(mag1);
    free(sum), free(r2), free(g2), free(mag2);
}

static void test_paper_shapes(void **state)
{
    (void)state;
    /* channel counts from the EmotionNet Nano tables */
    one_case(1, 48, 48, 11, 3, 1, 1);
    one_case(11, 48, 48, 9, 3, 1, 1);
    one_case(11, 48, 48, 27, 3, 2, 1);
    one_case(11, 48, 48, 27, 1, 2, 0);
    one_case(27, 24, 24, 19, 3, 1, 1);
    one_case(27, 24, 24, 36, 3, 2, 1);
    one_case(64, 12, 12, 39, 3, 1, 1);
    /* every remainder of the 8-channel blocks (avx512vnni's conv_mr) */
    for (int co = 2; co <= 8; co++)
        one_case(5, 13, 17, co + 8, co % 2 ? 1 : 3, 1, co % 3 != 0);
}

static void test_random_shapes(void **state)
{
    (void)state;
    for (int t = 0; t < 40; t++) {
        int ci = 1 + (int)((frand() + 1) * 20);
        int co = 1 + (int)((frand() + 1) * 20);
        int h = 2 + (int)((frand() + 1) * 15);
        int w = 2 + (int)((frand() + 1) * 15);
        int k = frand() > 0 ? 3 : 1;
        int s = frand() > 0 ? 2 : 1;
        int relu = frand() > 0;
        one_case(ci, h, w, co, k, s, relu);
    }
}

/* The per-plane ops: every set this CPU runs against enn_kernels_scalar, on planes whose
 * widths cover each vector tail (1 .. 17, 33, 40, 161) and heights 1 .. 5. */
static const int WIDTHS[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 40, 161};
#define N_WIDTHS (sizeof WIDTHS / sizeof *WIDTHS)
#define GUARD 40                    /* floats of sentinel each side of an output */
static const float SENTINEL = -12345.5f;

static void fill_sentinel(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = SENTINEL;
}

/* ISAS[i] if this CPU runs it and it is not the reference itself. */
static const struct enn_kernels *simd_set(size_t i)
{
    return strcmp(ISAS[i], "scalar") == 0 ? NULL : enn_kernels_get(ISAS[i]);
}

/* Each test counts the sets it checked: none (x86-64 without AVX2) is a skip, not a pass. */
static void skip_if_none(int tested)
{
    if (!tested)
        skip();
}

static void test_dwconv3(void **state)
{
    (void)state;
    const struct enn_kernels *ref = &enn_kernels_scalar;
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        const struct enn_kernels *k = simd_set(s);
        if (!k)
            continue;
        assert_non_null(k->dwconv3);
        tested++;
        for (size_t wi = 0; wi < N_WIDTHS; wi++)
            for (int h = 1; h <= 5; h++)
                for (int relu = 0; relu <= 1; relu++) {
                    size_t row = (size_t)WIDTHS[wi] + 2, count = (size_t)h * row;
                    /* exactly the plane net.c lays out, so ASan sees any read past the
                       overrun the contract allows */
                    size_t n_in = ((size_t)h + 2) * row + ENN_MAX_OVERRUN + 2;
                    size_t n_out = count + ENN_MAX_OVERRUN;
                    float *in = calloc(n_in, sizeof *in);
                    float *want = malloc(n_out * sizeof *want);
                    float *got = malloc((n_out + 2 * GUARD) * sizeof *got);
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < WIDTHS[wi]; x++)
                            in[(size_t)(y + 1) * row + 1 + (size_t)x] = frand() * 2;
                    for (size_t i = ((size_t)h + 2) * row; i < n_in; i++)
                        in[i] = frand();    /* slack: feeds only discarded overrun */
                    float w[9], bias = frand() * 0.5f;
                    for (int i = 0; i < 9; i++)
                        w[i] = frand();
                    fill_sentinel(got, n_out + 2 * GUARD);
                    const float *ip = in + row + 1;
                    ref->dwconv3(ip, want, count, row, w, bias, relu);
                    k->dwconv3(ip, got + GUARD, count, row, w, bias, relu);
                    for (size_t q = 0; q < count; q++) {
                        /* FMA rounds differently: relative to the sum of |terms| */
                        float mag = fabsf(bias);
                        for (int t = 0; t < 9; t++)
                            mag += fabsf(w[t] * ip[(ptrdiff_t)q + (t / 3 - 1) * (ptrdiff_t)row +
                                                   t % 3 - 1]);
                        float g = got[GUARD + q], tol = 1e-5f * (mag > 1 ? mag : 1);
                        if (!(fabsf(g - want[q]) <= tol))
                            fail_msg("%s dwconv3 w %d h %d relu %d [%zu]: got %.8g want %.8g",
                                     k->name, WIDTHS[wi], h, relu, q, g, want[q]);
                        if (relu && g < 0)
                            fail_msg("%s dwconv3 relu [%zu]: %g", k->name, q, g);
                    }
                    for (size_t i = 0; i < GUARD; i++)
                        if (got[i] != SENTINEL || got[GUARD + n_out + i] != SENTINEL)
                            fail_msg("%s dwconv3 w %d h %d: wrote outside count + overrun",
                                     k->name, WIDTHS[wi], h);
                    free(in), free(want), free(got);
                }
    }
    skip_if_none(tested);
}

/* Runs op on a freshly guarded output for the set and the reference, then checks the region
 * matches exactly and nothing outside it changed. Output rows are longer than the region
 * so the gap between rows is checked too. */
struct plane_case {
    int rows, cols;                 /* the output region */
    size_t out_row;
};

static void check_region(const struct plane_case *c, const float *got, const float *want,
                         const char *isa, const char *what, int in_h, int in_w)
{
    size_t n = (size_t)c->rows * c->out_row + 2 * GUARD;
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t at = (ptrdiff_t)i - GUARD;
        int y = at < 0 ? -1 : (int)((size_t)at / c->out_row);
        int x = at < 0 ? -1 : (int)((size_t)at % c->out_row);
        bool inside = at >= 0 && y < c->rows && x < c->cols;
        if (inside && got[i] != want[i])
            fail_msg("%s %s in %dx%d: (%d, %d) got %.8g want %.8g", isa, what, in_h, in_w, y,
                     x, got[i], want[i]);
        if (!inside && memcmp(&got[i], &SENTINEL, sizeof SENTINEL) != 0)
            fail_msg("%s %s in %dx%d: wrote outside the region at offset %td (%.8g)", isa,
                     what, in_h, in_w, at, got[i]);
    }
}

static void test_maxpool2(void **state)
{
    (void)state;
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        const struct enn_kernels *k = simd_set(s);
        if (!k)
            continue;
        assert_non_null(k->maxpool2);
        tested++;
        for (size_t wi = 0; wi < N_WIDTHS; wi++)
            for (int h = 1; h <= 5; h++)
                for (int odd = 0; odd <= 1; odd++) {
                    /* the listed width as the output, from an even or odd input (floor) */
                    int ow = WIDTHS[wi], oh = h, iw = 2 * ow + odd, ih = 2 * oh + odd;
                    size_t in_row = (size_t)iw + 2;
                    /* only what the region reads, so ASan catches a read past it */
                    size_t n_in = (size_t)(2 * oh - 1) * in_row + (size_t)(2 * ow);
                    float *in = malloc(n_in * sizeof *in);
                    for (size_t i = 0; i < n_in; i++)
                        in[i] = frand() * 100;
                    struct plane_case c = {oh, ow, (size_t)ow + 3};
                    size_t n_out = (size_t)oh * c.out_row + 2 * GUARD;
                    float *got = malloc(n_out * sizeof *got), *want = malloc(n_out * sizeof *want);
                    fill_sentinel(got, n_out);
                    fill_sentinel(want, n_out);
                    enn_kernels_scalar.maxpool2(in, in_row, want + GUARD, c.out_row, oh, ow);
                    k->maxpool2(in, in_row, got + GUARD, c.out_row, oh, ow);
                    check_region(&c, got, want, k->name, "maxpool2", ih, iw);
                    free(in), free(got), free(want);
                }
    }
    skip_if_none(tested);
}

static void test_upsample2(void **state)
{
    (void)state;
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        const struct enn_kernels *k = simd_set(s);
        if (!k)
            continue;
        assert_non_null(k->upsample2);
        tested++;
        for (size_t wi = 0; wi < N_WIDTHS; wi++)
            for (int h = 1; h <= 5; h++) {
                int iw = WIDTHS[wi], ih = h;
                size_t in_row = (size_t)iw + 2;
                size_t n_in = (size_t)(ih - 1) * in_row + (size_t)iw;
                float *in = malloc(n_in * sizeof *in);
                for (size_t i = 0; i < n_in; i++)
                    in[i] = frand() * 100;
                struct plane_case c = {2 * ih, 2 * iw, 2 * (size_t)iw + 3};
                size_t n_out = (size_t)c.rows * c.out_row + 2 * GUARD;
                float *got = malloc(n_out * sizeof *got), *want = malloc(n_out * sizeof *want);
                fill_sentinel(got, n_out);
                fill_sentinel(want, n_out);
                enn_kernels_scalar.upsample2(in, in_row, want + GUARD, c.out_row, ih, iw);
                k->upsample2(in, in_row, got + GUARD, c.out_row, ih, iw);
                check_region(&c, got, want, k->name, "upsample2", ih, iw);
                free(in), free(got), free(want);
            }
    }
    skip_if_none(tested);
}

/* libm's sigmoid, the contract's reference. */
static float sigmoid_ref(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* Runs k->sigmoid on x[0..n) inside a guarded copy and checks every result. */
static void sigmoid_case(const struct enn_kernels *k, const float *x, size_t n)
{
    float *buf = malloc((n + 2 * GUARD) * sizeof *buf);
    fill_sentinel(buf, n + 2 * GUARD);
    memcpy(buf + GUARD, x, n * sizeof *x);
    k->sigmoid(buf + GUARD, n);
    for (size_t i = 0; i < n; i++) {
        float got = buf[GUARD + i], want = sigmoid_ref(x[i]);
        if (!(fabsf(got - want) <= 1e-6f))
            fail_msg("%s sigmoid(%.9g) = %.9g, libm %.9g (n %zu, [%zu])", k->name, x[i], got,
                     want, n, i);
        /* past the range of float's e^x: exactly 0 or 1, as libm gives */
        if (fabsf(x[i]) >= 100 && got != want)
            fail_msg("%s sigmoid(%.9g) = %.9g, want exactly %g", k->name, x[i], got, want);
    }
    for (size_t i = 0; i < GUARD; i++)
        if (buf[i] != SENTINEL || buf[GUARD + n + i] != SENTINEL)
            fail_msg("%s sigmoid n %zu: wrote outside [0, n)", k->name, n);
    free(buf);
}

static void test_sigmoid(void **state)
{
    (void)state;
    static const float special[] = {
        0.0f, -0.0f, 1e-30f, -1e-30f, 1.0f, -1.0f, 10.0f, -10.0f, 16.6f, -16.6f, 17.0f, -17.0f,
        87.0f, -87.0f, 87.5f, -87.5f, 88.0f, -88.0f, 88.8f, -88.8f, 100.0f, -100.0f, 1e30f,
        -1e30f, 3.4e38f, -3.4e38f, 0.5f, -0.5f, 0.34657359f, -0.34657359f, 1e-7f, -1e-7f,
    };
    size_t n_special = sizeof special / sizeof *special;
    int tested = 0;
    size_t n_sweep = 2400001;       /* -120 .. 120 in steps of 1e-4 */
    float *x = malloc(n_sweep * sizeof *x);
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        const struct enn_kernels *k = simd_set(s);
        if (!k)
            continue;
        assert_non_null(k->sigmoid);
        tested++;
        /* every length up to a few vectors, so each tail length meets each special value */
        for (size_t n = 0; n <= n_special; n++)
            sigmoid_case(k, special + n_special - n, n);
        for (size_t i = 0; i < n_sweep; i++)
            x[i] = -120.0f + (float)i * 1e-4f;
        sigmoid_case(k, x, n_sweep);
        /* random finite bit patterns: every magnitude from denormals to FLT_MAX */
        size_t n_bits = 200003;
        for (size_t i = 0; i < n_bits; i++) {
            uint32_t u;
            do {
                rng = rng * 1664525u + 1013904223u;
                u = rng ^ (rng << 13);
            } while ((u & 0x7f800000u) == 0x7f800000u);
            memcpy(&x[i], &u, sizeof u);
        }
        sigmoid_case(k, x, n_bits);
    }
    free(x);
    skip_if_none(tested);
}

static void test_unknown_isa_rejected(void **state)
{
    (void)state;
    char err[256];
    setenv("EMOTIOND_ISA", "sse9", 1);
    assert_null(enn_kernels_select(err, sizeof err));
    assert_non_null(strstr(err, "sse9"));
    unsetenv("EMOTIOND_ISA");
    assert_non_null(enn_kernels_select(err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_shapes),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_unknown_isa_rejected),
        cmocka_unit_test(test_dwconv3),
        cmocka_unit_test(test_maxpool2),
        cmocka_unit_test(test_upsample2),
        cmocka_unit_test(test_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
