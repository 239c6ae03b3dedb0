/* Face crops: exact copies, area averaging, edges, normalisation. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "preprocess.h"

static uint8_t frame[64 * 100];   /* 100 wide, 64 high, stride 100 */

static void fill(void)
{
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 100; x++)
            frame[y * 100 + x] = (uint8_t)(x * 2 + y);
}

static void test_same_size_is_a_copy(void **state)
{
    (void)state;
    fill();
    float out[16 * 16];
    enn_crop_resize(frame, 100, 64, 100, 10, 20, 16, 16, 16, 16, 0, 1, out);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            assert_float_equal(out[y * 16 + x], frame[(y + 20) * 100 + x + 10] / 255.0f, 1e-6);
}

static void test_halving_averages_blocks(void **state)
{
    (void)state;
    fill();
    float out[8 * 8];
    enn_crop_resize(frame, 100, 64, 100, 4, 6, 16, 16, 8, 8, 0, 1, out);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            const uint8_t *p = &frame[(6 + 2 * y) * 100 + 4 + 2 * x];
            float want = (p[0] + p[1] + p[100] + p[101]) / 4.0f / 255.0f;
            assert_float_equal(out[y * 8 + x], want, 1e-5);
        }
}

static void test_normalisation(void **state)
{
    (void)state;
    uint8_t flat[10 * 10];
    for (int i = 0; i < 100; i++)
        flat[i] = 153;
    float out[4 * 4];
    enn_crop_resize(flat, 10, 10, 10, 1, 1, 7, 7, 4, 4, 0.5f, 0.25f, out);
    for (int i = 0; i < 16; i++)
        assert_float_equal(out[i], (153 / 255.0f - 0.5f) / 0.25f, 1e-5);
}

static void test_outside_frame_repeats_edges(void **state)
{
    (void)state;
    fill();
    float out[6 * 6];
    /* box entirely left of and above the frame: every sample is the corner pixel */
    enn_crop_resize(frame, 100, 64, 100, -50, -40, 12, 12, 6, 6, 0, 1, out);
    for (int i = 0; i < 36; i++)
        assert_float_equal(out[i], frame[0] / 255.0f, 1e-6);
    /* huge box and tiny box reaching past the far corner: finite values, no overread */
    enn_crop_resize(frame, 100, 64, 100, 90, 50, 500, 300, 6, 6, 0, 1, out);
    for (int i = 0; i < 36; i++)
        assert_true(isfinite(out[i]) && out[i] >= 0 && out[i] <= 1);
    enn_crop_resize(frame, 100, 64, 100, 99.5f, 63.5f, 2, 2, 6, 6, 0, 1, out);
    for (int i = 0; i < 36; i++)
        assert_float_equal(out[i], frame[63 * 100 + 99] / 255.0f, 1e-5);
}

static void test_enlarging_interpolates(void **state)
{
    (void)state;
    uint8_t ramp[2 * 4] = {0, 100, 200, 250, 0, 100, 200, 250};
    float out[8];
    enn_crop_resize(ramp, 4, 2, 4, 0, 0, 4, 1, 8, 1, 0, 1.0f / 255, out);
    /* sample centres at x = -0.25, 0.25, 0.75, ...: monotone between the pixels */
    for (int i = 1; i < 8; i++)
        assert_true(out[i] >= out[i - 1]);
    assert_float_equal(out[0], 0, 1e-4);
    assert_float_equal(out[7], 250, 1e-3);
    assert_float_equal(out[2], 75, 1e-3);
}

static void test_rotated_crop(void **state)
{
    (void)state;
    fill();
    float plain[16 * 16], turned[16 * 16];
    /* angle 0 equals the axis-aligned crop of the same square (away from edges) */
    enn_crop_rotated(frame, 100, 64, 100, 50, 32, 16, 0, 16, 16, 0, 1, turned);
    enn_crop_resize(frame, 100, 64, 100, 42, 24, 16, 16, 16, 16, 0, 1, plain);
    for (int i = 0; i < 256; i++)
        assert_float_equal(turned[i], plain[i], 1e-5);
    /* a quarter turn maps the crop's x axis onto the frame's y axis */
    enn_crop_rotated(frame, 100, 64, 100, 50, 32, 16, (float)M_PI / 2, 16, 16, 0, 1, turned);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            assert_float_equal(turned[y * 16 + x], plain[x * 16 + (15 - y)], 1e-4);
    /* shrinking a large square averages (supersamples): a flat image stays flat */
    uint8_t flat[200 * 200];
    for (int i = 0; i < 200 * 200; i++)
        flat[i] = 77;
    enn_crop_rotated(flat, 200, 200, 200, 100, 100, 150, 0.3f, 8, 8, 0, 1, turned);
    for (int i = 0; i < 64; i++)
        assert_float_equal(turned[i], 77 / 255.0f, 1e-5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_size_is_a_copy),
        cmocka_unit_test(test_halving_averages_blocks),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_outside_frame_repeats_edges),
        cmocka_unit_test(test_enlarging_interpolates),
        cmocka_unit_test(test_rotated_crop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
