/* Area downscaling for the detector: each output the mean of the area it covers, checked
 * against a direct double-precision sum over many size pairs; identity; no allocation
 * when a plan repeats; refusals. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "shrink.h"

/* The mean over [x0, x1) x [y0, y1) in source pixels, fractional edges weighted. */
static double area_mean(const uint8_t *src, int w, double x0, double x1, double y0, double y1)
{
    double sum = 0;
    for (int y = (int)floor(y0); y < (int)ceil(y1); y++)
        for (int x = (int)floor(x0); x < (int)ceil(x1); x++) {
            double wx = fmin(x1, x + 1) - fmax(x0, x), wy = fmin(y1, y + 1) - fmax(y0, y);
            sum += wx * wy * src[y * w + x];
        }
    return sum / ((x1 - x0) * (y1 - y0));
}

static void test_matches_direct_area_mean(void **state)
{
    (void)state;
    static const int sizes[][4] = {{7, 5, 7, 5},     {8, 8, 4, 4},     {640, 480, 320, 240},
                                   {500, 375, 320, 240}, {333, 77, 320, 74}, {97, 61, 13, 9},
                                   {5, 3, 1, 1},     {1, 1, 1, 1},     {1920, 1080, 320, 180}};
    struct shrink s = {0};
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        int sw = sizes[t][0], sh = sizes[t][1], dw = sizes[t][2], dh = sizes[t][3];
        size_t stride = (size_t)sw + 3;
        uint8_t *src = malloc(stride * (size_t)sh);
        for (size_t i = 0; i < stride * (size_t)sh; i++)
            src[i] = (uint8_t)((i * 2654435761u) >> 13);
        uint8_t *packed = malloc((size_t)sw * (size_t)sh);
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < sw; x++)
                packed[y * sw + x] = src[(size_t)y * stride + (size_t)x];
        size_t row = (size_t)dw + 5;
        float *dst = malloc(row * (size_t)dh * sizeof *dst);
        assert_int_equal(shrink_plan(&s, sw, sh, dw, dh), 0);
        shrink_run(&s, src, stride, 2.0f, -1.0f, dst, row);
        double sx = (double)sw / dw, sy = (double)sh / dh;
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                double want = area_mean(packed, sw, x * sx, (x + 1) * sx, y * sy, (y + 1) * sy) *
                                  2 - 1;
                double got = dst[(size_t)y * row + (size_t)x];
                if (!(fabs(got - want) < 1e-3))
                    fail_msg("%dx%d -> %dx%d at (%d, %d): %.5f, direct %.5f", sw, sh, dw, dh, x, y,
                             got, want);
            }
        free(src);
        free(packed);
        free(dst);
    }
    shrink_free(&s);
}

static void test_refusals(void **state)
{
    (void)state;
    struct shrink s = {0};
    assert_int_equal(shrink_plan(&s, 10, 10, 11, 10), -1);   /* not a shrink */
    assert_int_equal(shrink_plan(&s, 10, 10, 0, 10), -1);
    assert_int_equal(shrink_plan(&s, 10, 10, 5, 5), 0);
    assert_int_equal(shrink_plan(&s, 10, 10, 5, 5), 0);      /* the same plan again */
    shrink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_direct_area_mean),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
