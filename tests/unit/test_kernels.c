/* Every kernel set this CPU runs matches a naive convolution written here, on random
 * shapes: odd channel counts, 1x1 and 3x3, strides 1 and 2, summed inputs, ReLU. */
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

static const char *const ISAS[] = {"scalar", "avx2", "neon"};
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
