/* JPEG and still-image decoding: sizes, DCT scaling, colour, Huffman-less MJPEG frames,
 * and corrupt input (truncated, bit-flipped, garbage) rejected without a crash. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "jpeg.h"
#include "model_builder.h"
#include "test_images.h"

static uint8_t pixels[4 * 640 * 480 * 3];

static void test_gray_decode_and_scaling(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(640, 480, 1, 95, &len);
    struct cap_jpeg *dec = cap_jpeg_create();
    char err[256];
    int w, h;
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, 1, pixels, sizeof pixels, &w, &h,
                                     err, sizeof err), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    int off = 0;
    for (int y = 0; y < 480; y += 37)
        for (int x = 0; x < 640; x += 41)
            off += abs(pixels[y * 640 + x] - pattern_at(x, y)) > 12;
    assert_true(off < 10);   /* lossy, but the pattern is there */
    for (int scale = 2; scale <= 8; scale *= 2) {
        assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, scale, pixels, sizeof pixels,
                                         &w, &h, err, sizeof err), 0);
        assert_int_equal(w, 640 / scale);
        assert_int_equal(h, 480 / scale);
    }
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, 3, pixels, sizeof pixels, &w, &h,
                                     err, sizeof err), -1);
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, 1, pixels, 1000, &w, &h, err,
                                     sizeof err), -1);
    assert_non_null(strstr(err, "needs"));
    cap_jpeg_destroy(dec);
    free(j);
}

static void test_colour_decode(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(320, 240, 3, 90, &len);
    struct cap_jpeg *dec = cap_jpeg_create();
    char err[256];
    int w, h;
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_BGR24, 1, pixels, sizeof pixels, &w, &h,
                                     err, sizeof err), 0);
    assert_int_equal(w, 320);
    /* the gray decode of a colour JPEG works too */
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, 2, pixels, sizeof pixels, &w, &h,
                                     err, sizeof err), 0);
    assert_int_equal(w, 160);
    cap_jpeg_destroy(dec);
    free(j);
}

static void test_frames_without_huffman_tables(void **state)
{
    (void)state;
    size_t len, slen;
    uint8_t *j = make_jpeg(320, 240, 3, 80, &len);
    uint8_t *s = strip_dht(j, len, &slen);
    assert_true(slen < len);   /* tables really gone */
    static uint8_t a[320 * 240], b[320 * 240];
    struct cap_jpeg *dec = cap_jpeg_create();
    char err[256];
    int w, h;
    assert_int_equal(cap_jpeg_decode(dec, j, len, CAP_GRAY8, 1, a, sizeof a, &w, &h, err,
                                     sizeof err), 0);
    if (cap_jpeg_decode(dec, s, slen, CAP_GRAY8, 1, b, sizeof b, &w, &h, err, sizeof err))
        fail_msg("DHT-less frame: %s", err);
    assert_memory_equal(a, b, sizeof a);   /* the encoder used the standard tables */
    cap_jpeg_destroy(dec);
    free(j);
    free(s);
}

static void test_corrupt_jpegs(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(160, 120, 1, 90, &len);
    struct cap_jpeg *dec = cap_jpeg_create();
    char err[256];
    int w, h, rejected = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, j, cut);
        rejected += cap_jpeg_decode(dec, t, cut, CAP_GRAY8, 1, pixels, sizeof pixels, &w, &h,
                                    err, sizeof err) != 0;
        free(t);
    }
    assert_true(rejected >= (int)(len / 7) - 1);   /* all but the cut after EOI's last byte */
    uint8_t *flip = malloc(len);
    for (size_t at = 0; at < len; at += 3) {
        memcpy(flip, j, len);
        flip[at] ^= (uint8_t)(1u << (at % 8));
        cap_jpeg_decode(dec, flip, len, CAP_GRAY8, 1, pixels, sizeof pixels, &w, &h, err,
                        sizeof err);   /* either result is fine; no crash, no overread */
    }
    free(flip);
    uint8_t garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 2654435761u >> 13);
    garbage[0] = 0xFF, garbage[1] = 0xD8, garbage[2] = 0xFF;
    assert_int_equal(cap_jpeg_decode(dec, garbage, sizeof garbage, CAP_GRAY8, 1, pixels,
                                     sizeof pixels, &w, &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "corrupt JPEG"));
    cap_jpeg_destroy(dec);
    free(j);
}

static void test_images_by_content(void **state)
{
    (void)state;
    struct cap_jpeg *dec = cap_jpeg_create();
    struct cap_frame f = {.data = pixels, .capacity = sizeof pixels, .fmt = CAP_GRAY8};
    char err[256];
    const char pgm[] = "P5\n# comment\n4 2\n255\n\x01\x02\x03\x04\x05\x06\x07\x08";
    assert_int_equal(cap_image_decode(dec, (const uint8_t *)pgm, sizeof pgm - 1, 1, &f, err,
                                      sizeof err), 0);
    assert_int_equal(f.width, 4);
    assert_int_equal(f.height, 2);
    assert_int_equal(pixels[7], 8);
    f.fmt = CAP_BGR24;
    assert_int_equal(cap_image_decode(dec, (const uint8_t *)pgm, sizeof pgm - 1, 1, &f, err,
                                      sizeof err), 0);
    assert_int_equal(pixels[3 * 7 + 2], 8);
    const char short_pgm[] = "P5 4 2 255\n\x01\x02";
    assert_int_equal(cap_image_decode(dec, (const uint8_t *)short_pgm, sizeof short_pgm - 1, 1,
                                      &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "PGM"));
    assert_int_equal(cap_image_decode(dec, (const uint8_t *)"hello", 5, 1, &f, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "not a JPEG, PNG"));
    const uint8_t bad_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I'};
    assert_int_equal(cap_image_decode(dec, bad_png, sizeof bad_png, 1, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "PNG"));
    cap_jpeg_destroy(dec);
}

/* The real photographs in ../shared/data/faces, when present. */
static void test_shared_face_photos(void **state)
{
    (void)state;
    const char *names[] = {"2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg",
                           "2008_002079.jpg", "astronaut.png"};
    struct cap_jpeg *dec = cap_jpeg_create();
    int found = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[1024], err[256];
        snprintf(path, sizeof path, "%s/faces/%s", SHARED_DATA, names[i]);
        size_t len;
        uint8_t *d = read_file(path, &len);
        if (!d)
            continue;
        found++;
        struct cap_frame f = {.data = pixels, .capacity = sizeof pixels, .fmt = CAP_GRAY8};
        if (cap_image_decode(dec, d, len, 1, &f, err, sizeof err))
            fail_msg("%s: %s", path, err);
        assert_true(f.width >= 300 && f.height >= 200);
        free(d);
    }
    cap_jpeg_destroy(dec);
    if (!found) {
        printf("SKIPPED: test_shared_face_photos: %s/faces is absent (the research data "
               "lives in ../shared/data beside the checkout)\n", SHARED_DATA);
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gray_decode_and_scaling),
        cmocka_unit_test(test_colour_decode),
        cmocka_unit_test(test_frames_without_huffman_tables),
        cmocka_unit_test(test_corrupt_jpegs),
        cmocka_unit_test(test_images_by_content),
        cmocka_unit_test(test_shared_face_photos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
