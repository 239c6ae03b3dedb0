/* Alignment from landmarks: a face whose landmarks are the template moved by a known
 * similarity (scale, turn, shift) gets back exactly the crop that undoes it; noise-free
 * landmarks off the template still give the least-squares fit; faces without usable
 * landmarks are refused. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "align.h"

/* The template placed as a crop of side `side` centred on (cx, cy), turned by angle. */
static struct det_face placed(float cx, float cy, float side, float angle)
{
    struct det_face f = {.has_landmarks = true};
    float c = cosf(angle), s = sinf(angle);
    for (int i = 0; i < 5; i++) {
        float u = (align_fer2013.pts[2 * i] - 0.5f) * side;
        float v = (align_fer2013.pts[2 * i + 1] - 0.5f) * side;
        /* the crop's x axis in the frame is (cos, sin): positive angles tilt it to +y */
        f.landmarks[2 * i] = cx + u * c - v * s;
        f.landmarks[2 * i + 1] = cy + u * s + v * c;
    }
    return f;
}

static void test_recovers_a_known_similarity(void **state)
{
    (void)state;
    static const float cases[][4] = {{100, 80, 60, 0}, {320, 240, 150, 0.3f},
                                     {50, 400, 24, -0.6f}, {10, 10, 300, 1.2f}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct det_face f = placed(cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
        struct enn_box b;
        assert_true(align_crop(&f, &align_fer2013, 1.0f, &b));
        assert_float_equal(b.x + b.w / 2, cases[i][0], 1e-3 * cases[i][2]);
        assert_float_equal(b.y + b.h / 2, cases[i][1], 1e-3 * cases[i][2]);
        assert_float_equal(b.w, cases[i][2], 1e-3 * cases[i][2]);
        assert_float_equal(b.h, b.w, 1e-6);
        assert_float_equal(b.angle, cases[i][3], 1e-4);
        /* widen scales the side about the same centre */
        struct enn_box wide;
        assert_true(align_crop(&f, &align_fer2013, 1.2f, &wide));
        assert_float_equal(wide.w, 1.2f * b.w, 1e-3 * b.w);
        assert_float_equal(wide.x + wide.w / 2, b.x + b.w / 2, 1e-3 * b.w);
    }
}

static void test_refuses_unusable_landmarks(void **state)
{
    (void)state;
    struct enn_box b = {1, 2, 3, 4, 5};
    struct det_face none = {.x = 10, .y = 10, .w = 50, .h = 50, .has_landmarks = false};
    assert_false(align_crop(&none, &align_fer2013, 1, &b));
    struct det_face point = {.has_landmarks = true};
    for (int i = 0; i < 10; i++)
        point.landmarks[i] = 42;   /* all five on one spot */
    assert_false(align_crop(&point, &align_fer2013, 1, &b));
    assert_float_equal(b.x, 1, 0);   /* left alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_a_known_similarity),
        cmocka_unit_test(test_refuses_unusable_landmarks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
