/* Tracking: ids stable through motion, occlusion gaps and crossings; tracks dropped after
 * the configured absence. (Score smoothing is tested with faces_smooth.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "track.h"

#define FRAME_NS 33333333   /* 30 fps */

static struct det_face box(float x, float y, float s)
{
    return (struct det_face){x, y, s, s, 0.9f, false, {0}};
}

static void test_ids_stable_under_motion(void **state)
{
    (void)state;
    struct trk_tracker tr;
    trk_init(&tr, NULL);
    int first[2];
    for (int f = 0; f < 90; f++) {
        struct det_face d[2] = {box(100 + 4.0f * f, 100, 80), box(500, 300 - 3.0f * f, 60)};
        int ids[2];
        trk_update(&tr, d, 2, (int64_t)f * FRAME_NS, ids);
        if (f == 0) {
            first[0] = ids[0], first[1] = ids[1];
            assert_int_not_equal(ids[0], ids[1]);
        }
        assert_int_equal(ids[0], first[0]);
        assert_int_equal(ids[1], first[1]);
    }
}

static void test_occlusion_gap_keeps_id_until_max_absence(void **state)
{
    (void)state;
    struct trk_config cfg = {.max_absent_ns = 500000000};   /* 0.5 s */
    struct trk_tracker tr;
    trk_init(&tr, &cfg);
    int ids[1], id = 0;
    int64_t t = 0;
    for (int f = 0; f < 10; f++, t += FRAME_NS) {
        struct det_face d = box(200 + 5.0f * f, 150, 90);
        trk_update(&tr, &d, 1, t, ids);
        id = ids[0];
    }
    for (int f = 0; f < 9; f++, t += FRAME_NS)   /* hidden for 0.3 s */
        trk_update(&tr, NULL, 0, t, ids);
    struct det_face back = box(200 + 5.0f * 19, 150, 90);   /* where it would be by now */
    trk_update(&tr, &back, 1, t, ids);
    assert_int_equal(ids[0], id);
    for (int f = 0; f < 20; f++) {               /* hidden for 0.66 s: forgotten */
        t += FRAME_NS;
        trk_update(&tr, NULL, 0, t, ids);
    }
    for (int k = 0; k < tr.n; k++)
        assert_int_not_equal(tr.t[k].id, id);
    trk_update(&tr, &back, 1, t, ids);
    assert_int_not_equal(ids[0], id);             /* a new face, a new id */
    assert_true(ids[0] > id);
}

static void test_crossing_faces_keep_their_ids(void **state)
{
    (void)state;
    struct trk_tracker tr;
    trk_init(&tr, NULL);
    int a = 0, b = 0;
    for (int f = 0; f <= 60; f++) {
        /* two faces walking towards each other, overlapping in the middle frames */
        struct det_face d[2] = {box(100 + 8.0f * f, 200, 80), box(580 - 8.0f * f, 210, 80)};
        int ids[2];
        trk_update(&tr, d, 2, (int64_t)f * FRAME_NS, ids);
        if (f == 0) {
            a = ids[0], b = ids[1];
        } else {
            assert_int_equal(ids[0], a);
            assert_int_equal(ids[1], b);
        }
    }
}

static void test_table_full(void **state)
{
    (void)state;
    struct trk_tracker tr;
    trk_init(&tr, NULL);
    struct det_face d[40];
    for (int i = 0; i < 40; i++)
        d[i] = box(60.0f * (float)(i % 10), 60.0f * (float)(i / 10), 50);
    int ids[40];
    trk_update(&tr, d, 40, 0, ids);
    int zero = 0;
    for (int i = 0; i < 40; i++)
        zero += ids[i] == 0;
    assert_int_equal(zero, 40 - TRK_MAX_TRACKS);
    assert_int_equal(tr.n, TRK_MAX_TRACKS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_stable_under_motion),
        cmocka_unit_test(test_occlusion_gap_keeps_id_until_max_absence),
        cmocka_unit_test(test_crossing_faces_keep_their_ids),
        cmocka_unit_test(test_table_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
