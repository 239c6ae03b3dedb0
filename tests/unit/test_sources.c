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

/* A clip larger than the reader's first buffer, n frames of w x h. */
static void write_clip(const char *path, int n, int w, int h, size_t *frame_len)
{
    size_t len;
    uint8_t *j = make_jpeg(w, h, 1, 95, &len);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fwrite(j, 1, len, f);
    fclose(f);
    free(j);
    *frame_len = len;
}

static int drain(struct cap_source *s)
{
    struct cap_frame *fr;
    char err[256];
    int n = 0;
    while (cap_source_next(s, &fr, err, sizeof err) == 1) {
        n++;
        cap_frame_unref(fr);
    }
    return n;
}

/* The clip is truncated, then overwritten with junk, while it streams: the reader used
 * a mapping of the file, and a read past the new end was SIGBUS. Now: fewer frames, some
 * corrupt, and the source ends normally. */
static void test_clip_truncated_and_rewritten_while_streaming(void **state)
{
    (void)state;
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/shrinks.mjpeg", dir);
    size_t flen;
    write_clip(path, 400, 320, 240, &flen);
    assert_true(400 * flen > (3u << 20));
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_source *s;
    if (cap_source_open(spec, NULL, &s, err, sizeof err))
        fail_msg("%s", err);
    struct cap_frame *fr;
    assert_int_equal(cap_source_next(s, &fr, err, sizeof err), 1);
    cap_frame_unref(fr);
    assert_int_equal(truncate(path, (off_t)(flen * 350 / 2 + 17)), 0);   /* mid-frame */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, (long)(flen * 120), SEEK_SET);
    for (size_t i = 0; i < flen * 20; i++)
        fputc(i % 7 ? 0xFF : 0xD8, f);
    fclose(f);
    int n = 1 + drain(s);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_true(n < 175);
    assert_true(n > 20);
    assert_true(st.corrupt >= 1);
    cap_source_close(s);
}

/* A clip deleted while it streams ends at the next read, and is no longer "connected". */
static void test_clip_deleted_while_streaming(void **state)
{
    (void)state;
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/gone.mjpeg", dir);
    size_t flen;
    write_clip(path, 400, 320, 240, &flen);
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_source *s;
    if (cap_source_open(spec, NULL, &s, err, sizeof err))
        fail_msg("%s", err);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_true(st.connected);
    struct cap_frame *fr;
    assert_int_equal(cap_source_next(s, &fr, err, sizeof err), 1);
    cap_frame_unref(fr);
    assert_int_equal(unlink(path), 0);
    int n = 1 + drain(s);
    cap_source_stats(s, &st);
    assert_true(n < 400);
    assert_false(st.connected);
    char last[300];
    cap_source_last_error(s, last, sizeof last);
    assert_non_null(strstr(last, "deleted"));
    cap_source_close(s);
}

/* Sets a JPEG's frame size (SOF0) to w x h. */
static void set_sof_size(uint8_t *j, size_t len, int w, int h)
{
    for (size_t i = 2; i + 8 < len; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xC0) {
            j[i + 5] = (uint8_t)(h >> 8), j[i + 6] = (uint8_t)h;
            j[i + 7] = (uint8_t)(w >> 8), j[i + 8] = (uint8_t)w;
            return;
        }
    fail_msg("no SOF0 marker");
}

/* Each frame gets a frame of its own size: the pool used to be sized from the first
 * frame, so a small (or 0x0) first frame made every later good frame "corrupt", and one
 * large frame was always refused. Frames over the configured limit are refused. */
static void test_frame_sizes_vary_within_a_clip(void **state)
{
    (void)state;
    size_t l8, l160, l640, lzero;
    uint8_t *f8 = make_jpeg(8, 8, 1, 90, &l8), *f160 = make_jpeg(160, 120, 1, 90, &l160),
            *f640 = make_jpeg(640, 480, 1, 90, &l640), *zero = make_jpeg(16, 16, 1, 90, &lzero);
    set_sof_size(zero, lzero, 0, 0);
    char path[128], spec[160], err[256];
    snprintf(path, sizeof path, "%s/sizes.mjpeg", dir);
    FILE *f = fopen(path, "wb");
    fwrite(zero, 1, lzero, f);
    fwrite(f8, 1, l8, f);
    fwrite(f160, 1, l160, f);
    fwrite(f640, 1, l640, f);
    fwrite(f160, 1, l160, f);
    fclose(f);
    snprintf(spec, sizeof spec, "file:%s", path);
    struct cap_source *s;
    if (cap_source_open(spec, NULL, &s, err, sizeof err))
        fail_msg("%s", err);
    static const int widths[] = {8, 160, 640, 160};
    struct cap_frame *fr;
    for (int i = 0; i < 4; i++) {
        if (cap_source_next(s, &fr, err, sizeof err) != 1) {
            char last[300];
            cap_source_last_error(s, last, sizeof last);
            fail_msg("frame %d missing: %s", i, last);
        }
        assert_int_equal(fr->width, widths[i]);
        assert_int_equal(fr->stride, (size_t)widths[i]);
        assert_int_equal(fr->data[fr->stride * (size_t)(fr->height - 1) + 3],
                         fr->data[fr->stride * (size_t)(fr->height - 1) + 3]);
        cap_frame_unref(fr);
    }
    assert_int_equal(cap_source_next(s, &fr, err, sizeof err), 0);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.corrupt, 1);           /* the 0x0 frame */
    cap_source_close(s);

    /* the same clip under a 200x200 limit: the 640x480 frame is refused */
    struct cap_options o = {.max_width = 200, .max_height = 200};
    if (cap_source_open(spec, &o, &s, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(drain(s), 3);
    char last[300];
    cap_source_last_error(s, last, sizeof last);
    cap_source_stats(s, &st);
    assert_int_equal(st.corrupt, 2);
    cap_source_close(s);
    free(f8), free(f160), free(f640), free(zero);
}

static uint32_t png_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A tiny PNG whose header claims w x h (its data is garbage). */
static size_t png_bomb(uint8_t *out, uint32_t w, uint32_t h)
{
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    uint8_t *c = out + 8;
    put_be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put_be32(c + 8, w);
    put_be32(c + 12, h);
    c[16] = 8, c[17] = 0, c[18] = 0, c[19] = 0, c[20] = 0;
    put_be32(c + 21, png_crc(c + 4, 17));
    c += 25;
    put_be32(c, 4);
    memcpy(c + 4, "IDAT", 4);
    memcpy(c + 8, "\x78\x9c\x03\x00", 4);
    put_be32(c + 12, png_crc(c + 4, 8));
    c += 16;
    put_be32(c, 0);
    memcpy(c + 4, "IEND", 4);
    put_be32(c + 8, png_crc(c + 4, 4));
    return (size_t)(c + 12 - out);
}

/* A 7 KB PNG claiming 65535x65535 made the source allocate its frames for that size
 * (tens of GB); in a dir: it stopped the start. Now the header is checked against the
 * frame limit first: image: refuses it, naming the limit; dir: skips it. */
static void test_image_header_claims_are_bounded(void **state)
{
    (void)state;
    uint8_t bomb[128];
    size_t blen = png_bomb(bomb, 65535, 65535);
    char sub[128], path[200], spec[220], err[256];
    snprintf(sub, sizeof sub, "%s/bombs", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/bomb.png", sub);
    write_bytes(path, bomb, blen);
    struct cap_source *s;
    snprintf(spec, sizeof spec, "image:%s", path);
    assert_int_equal(cap_source_open(spec, NULL, &s, err, sizeof err), -1);
    if (!strstr(err, "65535x65535 is over the frame limit of 4096x4096"))
        fail_msg("%s", err);
    size_t len;
    uint8_t *j = make_jpeg(48, 40, 1, 80, &len);
    snprintf(path, sizeof path, "%s/good.jpg", sub);
    write_bytes(path, j, len);
    snprintf(spec, sizeof spec, "dir:%s", sub);
    if (cap_source_open(spec, NULL, &s, err, sizeof err))
        fail_msg("%s", err);
    struct cap_frame *fr;
    assert_int_equal(cap_source_next(s, &fr, err, sizeof err), 1);
    assert_int_equal(fr->width, 48);
    cap_frame_unref(fr);
    assert_int_equal(cap_source_next(s, &fr, err, sizeof err), 0);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.corrupt, 1);
    cap_source_close(s);
    /* a folder of nothing but refused images fails, saying why */
    unlink(path);
    assert_int_equal(cap_source_open(spec, NULL, &s, err, sizeof err), -1);
    if (!strstr(err, "no usable image") || !strstr(err, "over the frame limit"))
        fail_msg("%s", err);
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
        cmocka_unit_test(test_clip_truncated_and_rewritten_while_streaming),
        cmocka_unit_test(test_clip_deleted_while_streaming),
        cmocka_unit_test(test_frame_sizes_vary_within_a_clip),
        cmocka_unit_test(test_image_header_claims_are_bounded),
        cmocka_unit_test(test_bad_specs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
