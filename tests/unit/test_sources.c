/* file:, image: and dir: sources, the frame pool, and bad specs. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"
#include "test_images.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/emotiond-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void test_pool(void **state)
{
    (void)state;
    struct cap_pool *p = cap_pool_create(2, 100);
    struct cap_frame *a = cap_pool_acquire(p), *b = cap_pool_acquire(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(cap_pool_acquire(p));
    cap_frame_ref(a);
    cap_frame_unref(a);
    assert_int_equal(cap_pool_available(p), 0);
    cap_frame_unref(a);
    assert_int_equal(cap_pool_available(p), 1);
    assert_ptr_equal(cap_pool_acquire(p), a);
    cap_frame_unref(a);
    cap_frame_unref(b);
    assert_int_equal(cap_pool_available(p), 2);
    cap_pool_destroy(p);
}

static void test_mjpeg_file_with_junk_and_corruption(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(160, 120, 1, 85, &len);
    char path[128];
    snprintf(path, sizeof path, "%s/clip.mjpeg", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 6; i++) {
        fwrite("JUNK", 1, 4, f);
        if (i == 2) {                 /* a frame with its scan damaged: decodes badly */
            uint8_t *bad = malloc(len);
            memcpy(bad, j, len);
            memset(bad + len - 200, 0x00, 150);
            bad[len - 300] = 0xFF, bad[len - 299] = 0xC0;   /* a marker where none may be */
            fwrite(bad, 1, len, f);
            free(bad);
        } else {
            fwrite(j, 1, len, f);
        }
    }
    fwrite(j, 1, len / 3, f);         /* truncated last frame */
    fclose(f);

    char spec[160], err[256];
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_source *s;
    struct cap_options o = {.scale = 2};
    if (cap_source_open(spec, &o, &s, err, sizeof err))
        fail_msg("%s", err);
    struct cap_frame *fr;
    int n = 0;
    while (cap_source_next(s, &fr, err, sizeof err) == 1) {
        assert_int_equal(fr->width, 80);
        assert_int_equal(fr->height, 60);
        assert_int_equal(fr->fmt, CAP_GRAY8);
        n++;
        cap_frame_unref(fr);
    }
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(n, 5);
    assert_int_equal(st.frames, 5);
    assert_int_equal(st.corrupt, 2);   /* the damaged frame and the truncated end */
    char last[300];
    cap_source_last_error(s, last, sizeof last);
    assert_true(strlen(last) > 0);
    cap_source_close(s);
    free(j);
}

/* A damaged frame whose bogus segment length reaches over the next frames: they are
   found again by rescanning from inside the frame that failed. */
static void test_swallowing_frame_is_rescanned(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(96, 64, 1, 85, &len);
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/swallow.mjpeg", dir);
    FILE *f = fopen(path, "wb");
    uint8_t *bad = malloc(len);
    memcpy(bad, j, len);
    size_t at = len - 40;                   /* inside the scan: DQT with length 0x0800 */
    bad[at] = 0xFF, bad[at + 1] = 0xDB, bad[at + 2] = 0x08, bad[at + 3] = 0x00;
    fwrite(bad, 1, len, f);
    for (int i = 0; i < 3; i++)
        fwrite(j, 1, len, f);
    fclose(f);
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_source *s;
    assert_int_equal(cap_source_open(spec, NULL, &s, err, sizeof err), 0);
    struct cap_frame *fr;
    int n = 0;
    while (cap_source_next(s, &fr, err, sizeof err) == 1) {
        n++;
        cap_frame_unref(fr);
    }
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(n, 3);
    assert_true(st.corrupt >= 1);
    cap_source_close(s);
    free(bad);
    free(j);
}

static void test_image_once_and_repeat(void **state)
{
    (void)state;
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/face.pgm", dir);
    const char pgm[] = "P5 3 2 255\n\x0a\x14\x1e\x28\x32\x3c";
    write_bytes(path, pgm, sizeof pgm - 1);
    snprintf(spec, sizeof spec, "image:%s", path);
    struct cap_options once = {.once = true, .fmt = CAP_BGR24};
    struct cap_source *s;
    assert_int_equal(cap_source_open(spec, &once, &s, err, sizeof err), 0);
    struct cap_frame *f;
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->width, 3);
    assert_int_equal(f->data[3 * 5], 0x3c);
    cap_frame_unref(f);
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 0);
    cap_source_close(s);

    struct cap_options fast = {.fps = 1000};
    assert_int_equal(cap_source_open(spec, &fast, &s, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
        assert_int_equal(f->seq, (uint64_t)i);
        cap_frame_unref(f);
    }
    cap_source_stop(s);
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 0);
    cap_source_close(s);
}

static void test_dir_in_name_order_skipping_bad_files(void **state)
{
    (void)state;
    char sub[128], path[200], spec[160], err[256];
    snprintf(sub, sizeof sub, "%s/frames", dir);
    mkdir(sub, 0700);
    size_t la, lb;
    uint8_t *a = make_jpeg(64, 48, 1, 80, &la), *b = make_jpeg(32, 24, 3, 80, &lb);
    snprintf(path, sizeof path, "%s/b.jpg", sub);
    write_bytes(path, b, lb);
    snprintf(path, sizeof path, "%s/a.jpg", sub);
    write_bytes(path, a, la);
    snprintf(path, sizeof path, "%s/c.jpg", sub);
    write_bytes(path, a, la / 2);       /* listed (header fine), fails to decode */
    snprintf(path, sizeof path, "%s/notes.txt", sub);
    write_bytes(path, "hello", 5);      /* not an image: not listed */
    snprintf(spec, sizeof spec, "dir:%s", sub);
    struct cap_source *s;
    if (cap_source_open(spec, NULL, &s, err, sizeof err))
        fail_msg("%s", err);
    struct cap_frame *f;
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    if (f->width != 64) {
        char last[300];
        cap_source_last_error(s, last, sizeof last);
        fail_msg("first frame %dx%d, not a.jpg: %s", f->width, f->height, last);
    }
    cap_frame_unref(f);
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->width, 32);
    cap_frame_unref(f);
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 0);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.corrupt, 1);
    cap_source_close(s);
    free(a);
    free(b);
}

static void test_pool_exhaustion_drops_and_counts(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(32, 32, 1, 80, &len);
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/three.mjpeg", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 3; i++)
        fwrite(j, 1, len, f);
    fclose(f);
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_options o = {.pool_frames = 1};
    struct cap_source *s;
    assert_int_equal(cap_source_open(spec, &o, &s, err, sizeof err), 0);
    struct cap_frame *held;
    assert_int_equal(cap_source_next(s, &held, err, sizeof err), 1);
    struct cap_frame *g;
    assert_int_equal(cap_source_next(s, &g, err, sizeof err), 0);   /* the rest dropped */
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.pool_empty, 2);
    cap_frame_unref(held);
    cap_source_close(s);
    free(j);
}

static void test_bad_specs(void **state)
{
    (void)state;
    struct cap_source *s;
    char err[256];
    assert_int_equal(cap_source_open("rtsp://x", NULL, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected"));
    assert_int_equal(cap_source_open("file:/nonexistent.mjpeg", NULL, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.mjpeg"));
    char path[128], spec[160];
    snprintf(path, sizeof path, "%s/text.mjpeg", dir);
    write_bytes(path, "not video at all", 16);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(cap_source_open(spec, NULL, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "no decodable JPEG"));
    snprintf(spec, sizeof spec, "image:%s", path);
    assert_int_equal(cap_source_open(spec, NULL, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a JPEG, PNG"));
    snprintf(spec, sizeof spec, "dir:%s", dir);
    struct cap_options o = {.scale = 3};
    assert_int_equal(cap_source_open(spec, &o, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "scale"));
    assert_int_equal(cap_source_open("v4l2:video0", NULL, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "device path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_mjpeg_file_with_junk_and_corruption),
        cmocka_unit_test(test_swallowing_frame_is_rescanned),
        cmocka_unit_test(test_image_once_and_repeat),
        cmocka_unit_test(test_dir_in_name_order_skipping_bad_files),
        cmocka_unit_test(test_pool_exhaustion_drops_and_counts),
        cmocka_unit_test(test_bad_specs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
