/* The detector's C side: NMS, IoU, backend names, bad configurations, and the cascade
 * (no download needed) on the bundled portrait, whole and within regions. YuNet runs
 * too when ../shared/data/models holds its file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect.h"
#include "source.h"

static struct cap_source *src;
static struct cap_frame *portrait;   /* samples/astronaut.pgm, face near (176, 66, 95, 95) */

static int setup(void **state)
{
    (void)state;
    char err[256];
    struct cap_options o = {.once = true, .pool_frames = 1};
    if (cap_source_open("image:" SOURCE_DIR "/samples/astronaut.pgm", &o, &src, err, sizeof err) ||
        cap_source_next(src, &portrait, err, sizeof err) != 1) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cap_frame_unref(portrait);
    cap_source_close(src);
    return 0;
}

static void test_nms_and_iou(void **state)
{
    (void)state;
    struct det_face f[4] = {
        {0, 0, 10, 10, 0.5f, false, {0}},
        {1, 1, 10, 10, 0.9f, false, {0}},     /* overlaps the first, better score */
        {50, 50, 10, 10, 0.7f, false, {0}},
        {0, 0, 10, 10, 0.1f, false, {0}},
    };
    assert_float_equal(det_iou(&f[0], &f[3]), 1, 1e-6);
    assert_float_equal(det_iou(&f[0], &f[2]), 0, 1e-6);
    assert_int_equal(det_nms(f, 4, 0.3f), 2);
    assert_float_equal(f[0].score, 0.9f, 1e-6);
    assert_float_equal(f[1].x, 50, 1e-6);
}

static void test_names_and_bad_configs(void **state)
{
    (void)state;
    assert_int_equal(det_backend_parse("yunet"), DET_YUNET);
    assert_int_equal(det_backend_parse("hog"), 0);
    struct det_detector *d;
    char err[512];
    struct det_config no_model = {.backend = DET_YUNET};
    assert_int_equal(det_create(&no_model, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a model"));
    struct det_config bad = {.backend = DET_YUNET, .model = SOURCE_DIR "/samples/README.md"};
    assert_int_equal(det_create(&bad, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "README.md"));
    struct det_config bad_xml = {.backend = DET_CASCADE, .model = "/nonexistent.xml"};
    assert_int_equal(det_create(&bad_xml, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.xml"));
}

static void check_portrait(struct det_detector *d)
{
    struct det_face f[8];
    char err[256];
    int n = det_detect(d, portrait->data, portrait->width, portrait->height, portrait->stride, 1,
                       f, 8, err, sizeof err);
    assert_int_equal(n, 1);
    struct det_face truth = {176, 66, 95, 95, 1, false, {0}};
    assert_true(det_iou(&f[0], &truth) > 0.5f);
    /* a region around the face finds it, in frame coordinates */
    n = det_detect_region(d, portrait->data, portrait->width, portrait->height, portrait->stride,
                          1, 120, 10, 210, 210, f, 8, err, sizeof err);
    assert_int_equal(n, 1);
    assert_true(det_iou(&f[0], &truth) > 0.5f);
    /* a region away from it finds nothing; one outside the frame is clamped to nothing */
    n = det_detect_region(d, portrait->data, portrait->width, portrait->height, portrait->stride,
                          1, 0, 300, 200, 200, f, 8, err, sizeof err);
    assert_int_equal(n, 0);
    n = det_detect_region(d, portrait->data, portrait->width, portrait->height, portrait->stride,
                          1, 600, 600, 100, 100, f, 8, err, sizeof err);
    assert_int_equal(n, 0);
}

static void test_cascade_on_portrait(void **state)
{
    (void)state;
    struct det_config c = {0};
    struct det_detector *d;
    char err[512];
    if (det_create(&c, &d, err, sizeof err))
        fail_msg("%s", err);
    check_portrait(d);
    det_free(d);
}

static void test_yunet_on_portrait(void **state)
{
    (void)state;
    const char *model = SHARED_DATA "/models/face_detection_yunet_2023mar.onnx";
    if (access(model, R_OK) != 0) {
        printf("SKIPPED: test_yunet_on_portrait: %s is absent\n", model);
        skip();
    }
    struct det_config c = {.backend = DET_YUNET, .model = model};
    struct det_detector *d;
    char err[512];
    if (det_create(&c, &d, err, sizeof err))
        fail_msg("%s", err);
    check_portrait(d);
    struct det_face f[8];
    det_detect(d, portrait->data, portrait->width, portrait->height, portrait->stride, 1, f, 8,
               err, sizeof err);
    assert_true(f[0].has_landmarks);
    /* the subject's right eye is on the image's left, both inside the box's upper half */
    assert_true(f[0].landmarks[0] < f[0].landmarks[2]);
    assert_true(f[0].landmarks[1] > f[0].y && f[0].landmarks[1] < f[0].y + f[0].h / 2);
    det_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nms_and_iou),
        cmocka_unit_test(test_names_and_bad_configs),
        cmocka_unit_test(test_cascade_on_portrait),
        cmocka_unit_test(test_yunet_on_portrait),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
