/* The pipeline's face stage on the bundled portrait with the default detector (yunet on
 * our engine): detection every `interval` frames, the same track id throughout, smoothed
 * scores, and the protocol's frame message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "faces.h"
#include "model.h"
#include "source.h"

static void test_portrait_sequence(void **state)
{
    (void)state;
    char err[512];
    struct cap_source *src;
    struct cap_frame *f;
    struct cap_options o = {.once = true, .pool_frames = 1};
    assert_int_equal(cap_source_open("image:" SOURCE_DIR "/samples/astronaut.pgm", &o, &src,
                                     err, sizeof err), 0);
    assert_int_equal(cap_source_next(src, &f, err, sizeof err), 1);
    struct enn_model *m;
    struct enn_net *net;
    struct det_detector *det;
    struct config cfg;
    config_defaults(&cfg);
    cfg.detect.interval = 4;
    struct det_config dc;
    faces_detector_config(&cfg, &dc);   /* the default: yunet on our engine */
    assert_int_equal(dc.backend, DET_YUNET);
    if (enn_model_load(SOURCE_DIR "/tests/fixtures/nano-b-quick.enn", &m, err, sizeof err) ||
        enn_net_create(m, &net, err, sizeof err) || det_create(&dc, &det, err, sizeof err))
        fail_msg("%s", err);
    struct faces_stage st;
    faces_init(&st, det, net, &cfg);
    struct face_result r[FACES_MAX];
    int id = 0;
    for (int i = 0; i < 10; i++) {
        int n = faces_process(&st, f->data, f->data, 1, f->width, f->height, f->stride, f->stride,
                              (int64_t)i * 33333333, r, FACES_MAX, err, sizeof err);
        assert_int_equal(n, 1);
        if (i == 0)
            id = r[0].id;
        assert_int_equal(r[0].id, id);
        assert_true(fabsf(r[0].box[0] - 176) < 15 && fabsf(r[0].box[1] - 66) < 15);
        float sum = 0;
        for (int c = 0; c < m->n_classes; c++)
            sum += r[0].scores[c];
        assert_float_equal(sum, 1, 1e-4);
    }
    assert_string_equal(m->classes[r[0].label], "happiness");

    /* [classify] mirror reaches the network through each face */
    assert_false(r[0].mirror);
    cfg.classify.mirror = true;
    faces_configure(&st, &cfg);
    assert_int_equal(faces_track(&st, 10 * 33333333, r, FACES_MAX), 1);
    assert_true(r[0].mirror);
    float expect[ENN_MAX_CLASSES];
    enn_net_set_mirror(net, true);
    enn_net_classify(net, f->data, f->width, f->height, f->stride, &r[0].crop, 1, expect);
    enn_net_set_mirror(net, false);
    faces_classify(net, f->data, f->width, f->height, f->stride, r, 1);
    assert_memory_equal(r[0].scores, expect, (size_t)m->n_classes * sizeof expect[0]);
    r[0].mirror = false;
    faces_classify(net, f->data, f->width, f->height, f->stride, r, 1);
    assert_true(memcmp(r[0].scores, expect, (size_t)m->n_classes * sizeof expect[0]) != 0);
    det_free(det);
    enn_net_free(net);
    enn_model_free(m);
    cap_frame_unref(f);
    cap_source_close(src);
}

#define FRAME_NS 33333333    /* 30 fps */

static struct face_result face(int id, float p0, float p1)
{
    struct face_result f = {.id = id};
    f.scores[0] = p0;
    f.scores[1] = p1;
    return f;
}

static void test_smoothing_half_life(void **state)
{
    (void)state;
    struct faces_smoother sm;
    faces_smoother_init(&sm, 2, 0.5f);
    struct face_result f = face(3, 1, 0);
    faces_smooth(&sm, &f, 1, 0);
    assert_float_equal(f.scores[0], 1, 1e-6);     /* the first observation is taken as is */
    assert_int_equal(f.label, 0);
    /* 15 steps of 1/30 s = one half-life: halfway to the new value, whatever the rate */
    for (int i = 1; i <= 15; i++) {
        f = face(3, 0, 1);
        faces_smooth(&sm, &f, 1, (int64_t)i * FRAME_NS);
    }
    assert_float_equal(f.scores[0], 0.5, 0.01);
    assert_float_equal(f.scores[1], 0.5, 0.01);
    /* one more half-life in a single step: a quarter left, and the label has turned */
    f = face(3, 0, 1);
    faces_smooth(&sm, &f, 1, 15 * FRAME_NS + 500000000);
    assert_float_equal(f.scores[0], 0.25, 0.01);
    assert_int_equal(f.label, 1);
    /* a face missing from a frame is forgotten: back, it starts afresh */
    faces_smooth(&sm, NULL, 0, 16 * FRAME_NS + 500000000);
    f = face(3, 1, 0);
    faces_smooth(&sm, &f, 1, 17 * FRAME_NS + 500000000);
    assert_float_equal(f.scores[0], 1, 1e-6);
    /* two faces keep separate histories */
    struct face_result two[2] = {face(3, 0, 1), face(4, 0, 1)};
    faces_smooth(&sm, two, 2, 18 * FRAME_NS + 500000000);
    assert_true(two[0].scores[1] < 0.1f);
    assert_float_equal(two[1].scores[1], 1, 1e-6);

    faces_smoother_init(&sm, 2, 0);               /* half-life 0: no smoothing */
    f = face(3, 1, 0);
    faces_smooth(&sm, &f, 1, 0);
    f = face(3, 0, 1);
    faces_smooth(&sm, &f, 1, FRAME_NS);
    assert_float_equal(f.scores[1], 1, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portrait_sequence),
        cmocka_unit_test(test_smoothing_half_life),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
