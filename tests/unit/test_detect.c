/* The detector's C side: NMS, IoU, backend names, bad configurations, and each backend
 * on the bundled portrait, whole and within regions: yunet on our engine (the shipped
 * model) in every build; with OpenCV the cascade, and yunet-opencv against our engine
 * when ../shared/data/models holds the ONNX file; without OpenCV, those two refused with
 * a clear message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
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
    const char *names[] = {"yunet", "yunet-opencv", "cascade"};
    for (int i = 0; i < 3; i++)
        assert_string_equal(det_backend_name(det_backend_parse(names[i])), names[i]);
    assert_int_equal(det_backend_parse("yunet"), DET_YUNET);
    assert_int_equal(det_backend_parse("hog"), 0);
    assert_true(det_backend_available(DET_YUNET));
    char err[512];
    assert_int_equal(det_backend_check("yunet", err, sizeof err), 0);
    assert_int_equal(det_backend_check("hog", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown detector backend 'hog'"));
    struct det_detector *d;
    struct det_config missing = {.backend = DET_YUNET, .model = "/nonexistent.enn"};
    assert_int_equal(det_create(&missing, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.enn"));
    struct det_config bad = {.backend = DET_YUNET, .model = SOURCE_DIR "/samples/README.md"};
    assert_int_equal(det_create(&bad, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "README.md"));
    /* an older config's ONNX file under backend yunet: told what to do */
    struct det_config onnx = {.backend = DET_YUNET, .model = "/opt/yunet.onnx"};
    assert_int_equal(det_create(&onnx, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "is for backend yunet-opencv"));
    if (!det_backend_available(DET_CASCADE))
        return;   /* test_without_opencv */
    struct det_config no_model = {.backend = DET_YUNET_OPENCV};
    assert_int_equal(det_create(&no_model, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a model"));
    struct det_config bad_onnx = {.backend = DET_YUNET_OPENCV,
                                  .model = SOURCE_DIR "/samples/README.md"};
    assert_int_equal(det_create(&bad_onnx, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "README.md"));
    struct det_config bad_xml = {.backend = DET_CASCADE, .model = "/nonexistent.xml"};
    assert_int_equal(det_create(&bad_xml, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.xml"));
}

/* A build without OpenCV names what is missing and what to use instead. */
static void test_without_opencv(void **state)
{
    (void)state;
    if (det_backend_available(DET_CASCADE)) {
        assert_true(det_backend_available(DET_YUNET_OPENCV));
        return;
    }
    char err[512];
    struct det_detector *d;
    assert_false(det_backend_available(DET_YUNET_OPENCV));
    assert_int_equal(det_backend_check("cascade", err, sizeof err), -1);
    assert_string_equal(err, "emotiond was built without OpenCV: detector backend 'cascade' is "
                             "not available; use 'yunet'");
    struct det_config c = {.backend = DET_YUNET_OPENCV, .model = "x.onnx"};
    assert_int_equal(det_create(&c, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "without OpenCV: detector backend 'yunet-opencv'"));
    assert_null(d);
}

static void check_portrait(struct det_detector *d)
{
    struct det_face f[8];
    char err[256];
    int n = det_detect(d, portrait->data, portrait->width, portrait->height, portrait->stride, 1,
                       f, 8, err, sizeof err);
    if (n < 0)
        fail_msg("%s", err);
    assert_int_equal(n, 1);
    struct det_face truth = {176, 66, 95, 95, 1, false, {0}};
    assert_true(det_iou(&f[0], &truth) > 0.5f);
}

static void check_landmarks(struct det_detector *d)
{
    struct det_face f[8];
    char err[256];
    assert_int_equal(det_detect(d, portrait->data, portrait->width, portrait->height,
                                portrait->stride, 1, f, 8, err, sizeof err), 1);
    assert_true(f[0].has_landmarks);
    assert_true(f[0].score > 0.6f && f[0].score <= 1);
    /* the subject's right eye is on the image's left, both inside the box's upper half */
    assert_true(f[0].landmarks[0] < f[0].landmarks[2]);
    assert_true(f[0].landmarks[1] > f[0].y && f[0].landmarks[1] < f[0].y + f[0].h / 2);
}

/* The portrait as BGR (gray replicated): the same face as from gray. */
static void check_bgr(struct det_detector *d)
{
    size_t w = (size_t)portrait->width, h = (size_t)portrait->height;
    uint8_t *bgr = malloc(w * h * 3);
    assert_non_null(bgr);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            memset(bgr + (y * w + x) * 3, portrait->data[y * portrait->stride + x], 3);
    struct det_face g[8], c[8];
    char err[256];
    assert_int_equal(det_detect(d, portrait->data, portrait->width, portrait->height,
                                portrait->stride, 1, g, 8, err, sizeof err), 1);
    assert_int_equal(det_detect(d, bgr, portrait->width, portrait->height, w * 3, 3, c, 8, err,
                                sizeof err), 1);
    assert_true(det_iou(&g[0], &c[0]) > 0.95f);
    free(bgr);
}

/* yunet: our engine and the shipped model (found in the source tree when not installed),
 * the default backend. */
static void test_yunet_on_portrait(void **state)
{
    (void)state;
    struct det_config c = {0};
    struct det_detector *d;
    char err[512];
    if (det_create(&c, &d, err, sizeof err))
        fail_msg("%s", err);
    check_portrait(d);
    check_landmarks(d);
    check_bgr(d);
    det_free(d);
}

static void test_cascade_on_portrait(void **state)
{
    (void)state;
    if (!det_backend_available(DET_CASCADE)) {
        printf("SKIPPED: test_cascade_on_portrait: built without OpenCV (test_without_opencv "
               "checks the refusal)\n");
        skip();
    }
    struct det_config c = {.backend = DET_CASCADE};
    struct det_detector *d;
    char err[512];
    if (det_create(&c, &d, err, sizeof err))
        fail_msg("%s", err);
    check_portrait(d);
    check_bgr(d);
    det_free(d);
}

static const char *onnx_model(const char *test)
{
    const char *model = SHARED_DATA "/models/face_detection_yunet_2023mar.onnx";
    if (!det_backend_available(DET_YUNET_OPENCV)) {
        printf("SKIPPED: %s: built without OpenCV\n", test);
        return NULL;
    }
    if (access(model, R_OK) != 0) {
        printf("SKIPPED: %s: %s is absent\n", test, model);
        return NULL;
    }
    return model;
}

static void test_yunet_opencv_on_portrait(void **state)
{
    (void)state;
    const char *model = onnx_model("test_yunet_opencv_on_portrait");
    if (!model)
        skip();
    struct det_config c = {.backend = DET_YUNET_OPENCV, .model = model};
    struct det_detector *d;
    char err[512];
    if (det_create(&c, &d, err, sizeof err))
        fail_msg("%s", err);
    check_portrait(d);
    check_landmarks(d);
    det_free(d);
}

/* Our engine against OpenCV DNN on the same network: every confident face one finds, the
 * other finds in nearly the same place, on the portrait and the marked photos. */
static void test_yunet_engine_matches_opencv(void **state)
{
    (void)state;
    const char *model = onnx_model("test_yunet_engine_matches_opencv");
    if (!model)
        skip();
    struct det_config ce = {.backend = DET_YUNET, .min_face = 8, .max_faces = 32};
    struct det_config co = {.backend = DET_YUNET_OPENCV, .model = model, .min_face = 8,
                            .max_faces = 32};
    struct det_detector *de, *dox;
    char err[512];
    if (det_create(&ce, &de, err, sizeof err) || det_create(&co, &dox, err, sizeof err))
        fail_msg("%s", err);
    const char *photos[] = {"image:" SOURCE_DIR "/samples/astronaut.pgm",
                            "image:" SHARED_DATA "/faces/2007_007763.jpg",
                            "image:" SHARED_DATA "/faces/2008_001009.jpg",
                            "image:" SHARED_DATA "/faces/2008_001322.jpg",
                            "image:" SHARED_DATA "/faces/2008_002079.jpg"};
    int compared = 0;
    for (size_t p = 0; p < sizeof photos / sizeof *photos; p++) {
        if (p > 0 && access(photos[p] + 6, R_OK) != 0) {
            printf("SKIPPED: test_yunet_engine_matches_opencv: %s is absent\n", photos[p] + 6);
            continue;
        }
        struct cap_options o = {.once = true, .pool_frames = 1};
        struct cap_source *s = NULL;
        struct cap_frame *f = NULL;
        if (cap_source_open(photos[p], &o, &s, err, sizeof err) ||
            cap_source_next(s, &f, err, sizeof err) != 1)
            fail_msg("%s", err);
        struct det_face fe[32], fo[32];
        int ne = det_detect(de, f->data, f->width, f->height, f->stride, 1, fe, 32, err,
                            sizeof err);
        int no = det_detect(dox, f->data, f->width, f->height, f->stride, 1, fo, 32, err,
                            sizeof err);
        assert_true(ne >= 1 && no >= 1);
        for (int pass = 0; pass < 2; pass++) {
            const struct det_face *a = pass ? fo : fe, *b = pass ? fe : fo;
            int na = pass ? no : ne, nb = pass ? ne : no;
            for (int i = 0; i < na; i++) {
                if (a[i].score < 0.8f)
                    continue;   /* near the threshold either may miss it */
                float best = 0;
                for (int k = 0; k < nb; k++)
                    best = fmaxf(best, det_iou(&a[i], &b[k]));
                if (best < 0.7f)
                    fail_msg("%s: %s face at (%.0f, %.0f, %.0f, %.0f) score %.2f: best IoU %.2f "
                             "with the other backend", photos[p] + 6, pass ? "OpenCV" : "engine",
                             a[i].x, a[i].y, a[i].w, a[i].h, a[i].score, best);
            }
        }
        printf("%s: engine %d faces, OpenCV %d\n", photos[p] + 6, ne, no);
        compared++;
        cap_frame_unref(f);
        cap_source_close(s);
    }
    assert_true(compared >= 1);
    det_free(de);
    det_free(dox);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nms_and_iou),
        cmocka_unit_test(test_names_and_bad_configs),
        cmocka_unit_test(test_without_opencv),
        cmocka_unit_test(test_yunet_on_portrait),
        cmocka_unit_test(test_cascade_on_portrait),
        cmocka_unit_test(test_yunet_opencv_on_portrait),
        cmocka_unit_test(test_yunet_engine_matches_opencv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
