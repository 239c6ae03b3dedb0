/* YuNet on our engine, without OpenCV: every output map equals OpenCV DNN's on the same
 * weights (a golden file written by tools/convert/yunet-golden), on every kernel set this
 * CPU runs (NEON under qemu included); the shipped model finds the sample's face with
 * landmarks; bad models and degenerate frames get an error or an empty answer, never a
 * crash. */
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
#include <unistd.h>

#include "model.h"
#include "model_builder.h"
#include "net.h"
#include "yunet.h"

#define MODEL SOURCE_DIR "/models/face_detection_yunet_2023mar.enn"

static const char *const ISAS[] = {"scalar", "avx2", "neon"};

/* Binary PGM (P5, maxval 255) */
static uint8_t *read_pgm(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int maxval;
    assert_int_equal(fscanf(f, "P5 %d %d %d", w, h, &maxval), 3);
    fgetc(f);
    uint8_t *px = malloc((size_t)*w * (size_t)*h);
    assert_int_equal(fread(px, 1, (size_t)*w * (size_t)*h, f), (size_t)*w * (size_t)*h);
    fclose(f);
    return px;
}

static int detect(struct yunet *y, const uint8_t *px, int w, int h, double scale,
                  struct det_face *out, int max)
{
    char err[256];
    int n = yunet_detect(y, px, w, h, (size_t)w, scale, 0.6f, out, max, err, sizeof err);
    if (n < 0)
        fail_msg("%s", err);
    return det_nms(out, n, 0.3f);
}

/* The golden file's input through our engine against OpenCV's maps, all 12. */
static void test_maps_equal_opencv_dnn(void **state)
{
    (void)state;
    size_t len;
    uint8_t *g = read_file(FIXTURES "/yunet-astronaut.golden", &len);
    assert_non_null(g);
    assert_memory_equal(g, "YGLD", 4);
    uint32_t w, h;
    memcpy(&w, g + 4, 4);
    memcpy(&h, g + 8, 4);
    const uint8_t *px = g + 12;
    struct enn_model *m;
    char err[256];
    if (enn_model_load(MODEL, &m, err, sizeof err))
        fail_msg("%s", err);
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err))
            continue;   /* not on this CPU */
        tested++;
        assert_int_equal(enn_net_resize(net, (int)h, (int)w, err, sizeof err), 0);
        size_t row, plane;
        float *in = enn_net_input(net, &row, &plane);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                in[y * row + x] = (px[y * w + x] / 255.0f - m->mean) / m->std;
        enn_net_forward(net);
        const uint8_t *at_map = px + (size_t)w * h;
        float worst[4] = {0};
        static const char *const kinds[4] = {"cls", "obj", "bbox", "kps"};
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 3; l++) {
                char name[16];
                snprintf(name, sizeof name, "%s_%d", kinds[k], 8 << l);
                int o = enn_model_output(m, name);
                assert_true(o >= 0);
                struct enn_view v = enn_net_output(net, o);
                assert_int_equal((uint32_t)v.s.w * (8u << l), w);
                for (int c = 0; c < v.s.c; c++)
                    for (int y = 0; y < v.s.h; y++)
                        for (int x = 0; x < v.s.w; x++) {
                            float want;
                            memcpy(&want, at_map, 4);
                            at_map += 4;
                            float d = fabsf(v.data[(size_t)c * v.plane + (size_t)y * v.row +
                                                   (size_t)x] - want);
                            if (!(d <= worst[k]))
                                worst[k] = d;
                        }
            }
        assert_true(at_map == g + len);
        printf("%s: max abs difference from OpenCV DNN at %ux%u: cls %.2g obj %.2g bbox %.2g "
               "kps %.2g\n", ISAS[s], w, h, worst[0], worst[1], worst[2], worst[3]);
        /* the bound on the score maps; boxes and landmarks are in cells */
        assert_true(worst[0] < 1e-3f && worst[1] < 1e-3f);
        assert_true(worst[2] < 1e-2f && worst[3] < 1e-2f);
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    assert_true(tested >= 1);
    enn_model_free(m);
    free(g);
}

/* The sample portrait (512x512, one face) on every kernel set, at two scales. */
static void test_finds_the_sample_face(void **state)
{
    (void)state;
    int w, h;
    uint8_t *px = read_pgm(SOURCE_DIR "/samples/astronaut.pgm", &w, &h);
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        char err[256];
        struct yunet *y = yunet_load(MODEL, err, sizeof err);
        if (!y)
            continue;   /* this kernel set is not on this CPU */
        assert_string_equal(yunet_isa(y), ISAS[s]);
        tested++;
        for (int pass = 0; pass < 2; pass++) {
            struct det_face f[16];
            int n = detect(y, px, w, h, pass ? 1.0 : 320.0 / w, f, 16);
            assert_int_equal(n, 1);
            /* the face is in the upper middle of the portrait */
            assert_true(f[0].score > 0.8f);
            assert_true(f[0].x > 150 && f[0].x < 260 && f[0].y > 50 && f[0].y < 160);
            assert_true(f[0].w > 60 && f[0].w < 160);
            assert_true(f[0].has_landmarks);
            /* eyes above the nose above the mouth; the subject's right eye on our left */
            assert_true(f[0].landmarks[0] < f[0].landmarks[2]);
            assert_true(f[0].landmarks[5] > f[0].landmarks[1]);
            assert_true(f[0].landmarks[7] > f[0].landmarks[5]);
        }
        yunet_free(y);
    }
    unsetenv("EMOTIOND_ISA");
    assert_true(tested >= 1);
    free(px);
}

/* Frames the size planning must survive: smaller than one 32-pixel cell, one pixel,
 * very wide, odd sizes, and back; and no allocation per frame at a planned size. */
static void test_degenerate_frames(void **state)
{
    (void)state;
    char err[256];
    struct yunet *y = yunet_load(MODEL, err, sizeof err);
    if (!y)
        fail_msg("%s", err);
    static uint8_t px[2000 * 40];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 31 + i / 7);
    struct det_face f[64];
    static const int sizes[][2] = {{1, 1}, {5, 7}, {31, 31}, {33, 17}, {2000, 40}, {40, 2000},
                                   {320, 240}, {1, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        int n = yunet_detect(y, px, sizes[i][0], sizes[i][1], (size_t)sizes[i][0], 1.0, 0.6f,
                             f, 64, err, sizeof err);
        if (n < 0)
            fail_msg("%dx%d: %s", sizes[i][0], sizes[i][1], err);
    }
    assert_int_equal(yunet_detect(y, px, 0, 0, 0, 1.0, 0.6f, f, 64, err, sizeof err), -1);
    assert_non_null(strstr(err, "0x0"));
    assert_int_equal(yunet_detect(y, px, 10, 10, 10, 0.0, 0.6f, f, 64, err, sizeof err), -1);
    assert_int_equal(yunet_detect(y, px, 10, 10, 10, 2.0, 0.6f, f, 64, err, sizeof err), -1);
    assert_true(yunet_memory(y) > 0);
    yunet_free(y);
}

static void expect_load_error(const char *path, const char *needle)
{
    char err[512];
    struct yunet *y = yunet_load(path, err, sizeof err);
    assert_null(y);
    if (!strstr(err, needle))
        fail_msg("loading %s: '%s' does not mention '%s'", path, err, needle);
}

static void test_bad_models(void **state)
{
    (void)state;
    expect_load_error("/nonexistent/yunet.enn", "No such file");
    expect_load_error(SOURCE_DIR "/samples/astronaut.pgm", "not an .enn model");
    expect_load_error(SOURCE_DIR "/models/emotionnet-nano-b-fer.enn", "it is a classifier");
    /* the real file cut short, and resealed so only the parser can notice */
    size_t len;
    uint8_t *d = read_file(MODEL, &len);
    assert_non_null(d);
    char path[] = "/tmp/yunet-cut-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, len / 2), (ssize_t)(len / 2));
    close(fd);
    expect_load_error(path, "truncated");
    mb_reseal(d, len / 2);
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, len / 2, f);
    fclose(f);
    expect_load_error(path, "truncated");
    /* a detector without YuNet's outputs */
    struct mb b;
    static float w[9], bias[1];
    mb_begin_v2(&b, "other", 1, 32, 32, 0, NULL);
    mb_conv_g(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 2, w, bias);
    mb_outputs(&b, 2, (const char *const[]){"cls_8", "score"}, (int[]){1, 1});
    mb_finish(&b);
    f = fopen(path, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    expect_load_error(path, "output 'cls_8' is 1x32x32, YuNet's is 1x4x4");
    b.data[b.len - 12] = (uint8_t)'x';   /* "cls_8" -> "cls_x" */
    mb_reseal(b.data, b.len);
    f = fopen(path, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    expect_load_error(path, "no output 'cls_8'");
    mb_free(&b);
    unlink(path);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maps_equal_opencv_dnn),
        cmocka_unit_test(test_finds_the_sample_face),
        cmocka_unit_test(test_degenerate_frames),
        cmocka_unit_test(test_bad_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
