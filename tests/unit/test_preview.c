/* The preview picture (daemon/preview.h) and its font (daemon/font.h): the shrink against
 * an area mean computed here, thumbnail sizes, boxes scaled and drawn (exact pixels on the
 * raw thumbnail; within JPEG's error once encoded and decoded back with TurboJPEG), the
 * label drawn in the font, baseline JPEG markers and size, the quality ladder under a
 * byte budget, gray and colour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "font.h"
#include "preview.h"

struct decoded {
    int width, height, subsamp;
    uint8_t *pixels;               /* gray, or BGR */
};

/* Baseline: SOI, then segments up to the scan with an SOF0 (8-bit, these dimensions and
 * components) and no other SOF; EOI at the end. */
static void check_baseline(const uint8_t *jpeg, size_t len, int width, int height,
                           int components)
{
    assert_true(len > 4);
    assert_int_equal(jpeg[0], 0xFF);
    assert_int_equal(jpeg[1], 0xD8);
    assert_int_equal(jpeg[len - 2], 0xFF);
    assert_int_equal(jpeg[len - 1], 0xD9);
    bool sof0 = false;
    for (size_t at = 2; at + 4 <= len;) {
        assert_int_equal(jpeg[at], 0xFF);
        int marker = jpeg[at + 1];
        size_t seg = (size_t)jpeg[at + 2] << 8 | jpeg[at + 3];
        if (marker == 0xDA)
            break;
        if (marker >= 0xC1 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
            marker != 0xCC)
            fail_msg("SOF%d: not baseline", marker - 0xC0);
        if (marker == 0xC0) {
            sof0 = true;
            assert_int_equal(jpeg[at + 4], 8);
            assert_int_equal(jpeg[at + 5] << 8 | jpeg[at + 6], height);
            assert_int_equal(jpeg[at + 7] << 8 | jpeg[at + 8], width);
            assert_int_equal(jpeg[at + 9], components);
        }
        at += 2 + seg;
    }
    assert_true(sof0);
}

static struct decoded decode(const uint8_t *jpeg, size_t len, int channels)
{
    struct decoded d;
    tjhandle tj = tjInitDecompress();
    int colorspace;
    assert_non_null(tj);
    assert_int_equal(tjDecompressHeader3(tj, jpeg, (unsigned long)len, &d.width, &d.height,
                                         &d.subsamp, &colorspace), 0);
    d.pixels = malloc((size_t)d.width * (size_t)d.height * (size_t)channels);
    assert_non_null(d.pixels);
    assert_int_equal(tjDecompress2(tj, jpeg, (unsigned long)len, d.pixels, d.width, 0, d.height,
                                   channels == 1 ? TJPF_GRAY : TJPF_BGR, 0), 0);
    tjDestroy(tj);
    return d;
}

static uint8_t *frame_of(int w, int h, int channels, const uint8_t value[3])
{
    uint8_t *f = malloc((size_t)w * (size_t)h * (size_t)channels);
    assert_non_null(f);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        memcpy(f + i * (size_t)channels, value, (size_t)channels);
    return f;
}

static void test_sizes_and_box_scaling(void **state)
{
    (void)state;
    static const struct { int fw, fh, width, tw, th; } cases[] = {
        {640, 480, 320, 320, 240}, {640, 360, 320, 320, 180}, {1920, 1080, 1280, 1280, 720},
        {100, 75, 64, 64, 48},     {160, 120, 320, 160, 120}, /* never enlarged */
        {333, 200, 100, 100, 60},  {4096, 16, 64, 64, 1},     /* at least one row */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int tw, th;
        preview_size(cases[i].fw, cases[i].fh, cases[i].width, &tw, &th);
        assert_int_equal(tw, cases[i].tw);
        assert_int_equal(th, cases[i].th);
    }
    int b[4];
    preview_scale_box((const float[4]){212, 96, 141, 141}, 640, 480, 320, 240, b);
    assert_int_equal(b[0], 106);
    assert_int_equal(b[1], 48);
    assert_int_equal(b[2], 71);     /* 70.5 rounds away from zero */
    assert_int_equal(b[3], 71);
    preview_scale_box((const float[4]){-10, 470, 30, 40}, 640, 360, 320, 180, b);
    assert_int_equal(b[0], -5);     /* not clipped, as frame boxes are not */
    assert_int_equal(b[1], 235);
    assert_int_equal(b[2], 15);
    assert_int_equal(b[3], 20);
}

/* Each thumbnail pixel is the mean of the frame area it covers, for a whole ratio and a
 * fractional one, gray and colour. */
static void test_shrink_is_the_area_mean(void **state)
{
    (void)state;
    struct preview_renderer *r = preview_renderer_create();
    assert_non_null(r);
    static const struct { int fw, fh, width, channels; } cases[] = {
        {640, 480, 320, 1}, {640, 480, 250, 1}, {317, 211, 100, 3}, {64, 48, 64, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int fw = cases[i].fw, fh = cases[i].fh, ch = cases[i].channels;
        size_t stride = (size_t)fw * (size_t)ch + 7;          /* rows with padding */
        uint8_t *f = malloc(stride * (size_t)fh);
        for (int y = 0; y < fh; y++)
            for (int x = 0; x < fw * ch; x++)
                f[(size_t)y * stride + (size_t)x] = (uint8_t)((x * 7 + y * 13 + (x * y) % 31) & 255);
        assert_int_equal(preview_shrink(r, f, fw, fh, stride, ch, cases[i].width), 0);
        int tw, th, tch;
        const uint8_t *t;
        preview_thumbnail(r, &tw, &th, &tch, &t);
        assert_int_equal(tch, ch);
        double sx = (double)fw / tw, sy = (double)fh / th;
        for (int oy = 0; oy < th; oy++)
            for (int ox = 0; ox < tw; ox++)
                for (int c = 0; c < ch; c++) {
                    double sum = 0;
                    for (int y = (int)(oy * sy); y < fh && y < (oy + 1) * sy; y++)
                        for (int x = (int)(ox * sx); x < fw && x < (ox + 1) * sx; x++) {
                            double wy = fmin(y + 1, (oy + 1) * sy) - fmax(y, oy * sy);
                            double wx = fmin(x + 1, (ox + 1) * sx) - fmax(x, ox * sx);
                            sum += wx * wy * f[(size_t)y * stride + (size_t)(x * ch + c)];
                        }
                    double want = sum / (sx * sy);
                    int got = t[((size_t)oy * (size_t)tw + (size_t)ox) * (size_t)ch + (size_t)c];
                    if (fabs(got - want) > 0.51 + 1e-3)
                        fail_msg("%dx%d -> %d: (%d,%d,%d) = %d, area mean %.3f", fw, fh,
                                 cases[i].width, ox, oy, c, got, want);
                }
        free(f);
    }
    preview_renderer_free(r);
}

static int px(const uint8_t *img, int width, int channels, int x, int y, int c)
{
    return img[((size_t)y * (size_t)width + (size_t)x) * (size_t)channels + (size_t)c];
}

/* The gray case end to end: the box is white on the raw thumbnail exactly, and still
 * near white once encoded and decoded; inside and outside it the frame is untouched; the
 * label's strip sits above the box with the text in black. */
static void test_gray_boxes_label_and_jpeg(void **state)
{
    (void)state;
    struct preview_renderer *r = preview_renderer_create();
    uint8_t *f = frame_of(640, 480, 1, (const uint8_t[3]){100, 100, 100});
    struct preview_face face = {.id = 3, .box = {200, 100, 120, 120}, .label = "happiness",
                                .confidence = 0.91f};
    assert_int_equal(preview_shrink(r, f, 640, 480, 640, 1, 320), 0);
    free(f);                                    /* the frame is not needed past the shrink */
    preview_draw(r, &face, 1);
    int tw, th, ch;
    const uint8_t *t;
    preview_thumbnail(r, &tw, &th, &ch, &t);
    assert_int_equal(tw, 320);
    assert_int_equal(th, 240);
    /* box [100, 50, 60, 60] in the thumbnail, lines 2 px wide, inside the box */
    for (int y = 50; y < 110; y++) {
        assert_int_equal(px(t, tw, 1, 100, y, 0), 255);
        assert_int_equal(px(t, tw, 1, 101, y, 0), 255);
        assert_int_equal(px(t, tw, 1, 158, y, 0), 255);
        assert_int_equal(px(t, tw, 1, 159, y, 0), 255);
        assert_int_equal(px(t, tw, 1, 99, y, 0), 100);
        assert_int_equal(px(t, tw, 1, 102, y >= 52 && y < 108 ? y : 80, 0), 100);
        assert_int_equal(px(t, tw, 1, 160, y, 0), 100);
    }
    for (int x = 100; x < 160; x++) {
        assert_int_equal(px(t, tw, 1, x, 50, 0), 255);
        assert_int_equal(px(t, tw, 1, x, 109, 0), 255);
        assert_int_equal(px(t, tw, 1, x, 110, 0), 100);
    }
    /* the label strip: rows 40..49 (8 px of font, 1 px pad each side), from x = 100 */
    const char *text = "happiness 0.91";
    int strip_w = font_text_width(text, 1) + 2;
    for (int y = 40; y < 50; y++)
        for (int x = 100; x < 100 + strip_w; x++) {
            int gx = x - 101, gy = y - 41, glyph = gx / FONT_ADVANCE;
            bool ink = gx >= 0 && gy >= 0 && glyph < (int)strlen(text) &&
                       font_pixel(text[glyph], gx % FONT_ADVANCE, gy);
            if (px(t, tw, 1, x, y, 0) != (ink ? 0 : 255))
                fail_msg("label pixel (%d,%d) = %d, expected %s", x, y, px(t, tw, 1, x, y, 0),
                         ink ? "ink" : "strip");
        }
    assert_int_equal(px(t, tw, 1, 100 + strip_w, 45, 0), 100);
    assert_int_equal(px(t, tw, 1, 120, 39, 0), 100);

    const uint8_t *jpeg;
    size_t len;
    char err[200];
    assert_int_equal(preview_encode(r, 90, 65536, &jpeg, &len, err, sizeof err), 90);
    check_baseline(jpeg, len, 320, 240, 1);
    struct decoded d = decode(jpeg, len, 1);
    assert_int_equal(d.width, 320);
    assert_int_equal(d.height, 240);
    assert_int_equal(d.subsamp, TJSAMP_GRAY);
    for (int y = 54; y < 106; y += 4) {          /* the box edges, the frame beside them */
        assert_in_range(px(d.pixels, 320, 1, 100, y, 0), 225, 255);
        assert_in_range(px(d.pixels, 320, 1, 159, y, 0), 225, 255);
        assert_in_range(px(d.pixels, 320, 1, 130, y, 0), 90, 110);
        assert_in_range(px(d.pixels, 320, 1, 60, y, 0), 95, 105);
    }
    for (int x = 104; x < 156; x += 4) {
        assert_in_range(px(d.pixels, 320, 1, x, 50, 0), 225, 255);
        assert_in_range(px(d.pixels, 320, 1, x, 109, 0), 225, 255);
    }
    free(d.pixels);
    preview_renderer_free(r);
}

/* Colour: the box in its label's colour, YCbCr 4:2:0, decoded back near that colour. */
static void test_colour_box(void **state)
{
    (void)state;
    struct preview_renderer *r = preview_renderer_create();
    uint8_t *f = frame_of(640, 480, 3, (const uint8_t[3]){30, 60, 90});
    struct preview_face faces[2] = {
        {.id = 1, .box = {200, 100, 120, 120}, .label = "sadness", .confidence = 0.5f},
        /* half outside the frame: clipped, not out of bounds */
        {.id = 2, .box = {600, -40, 100, 100}, .label = "not-a-label", .confidence = 0.25f}};
    assert_int_equal(preview_shrink(r, f, 640, 480, 640 * 3, 3, 320), 0);
    free(f);
    preview_draw(r, faces, 2);
    int tw, th, ch;
    const uint8_t *t;
    preview_thumbnail(r, &tw, &th, &ch, &t);
    assert_int_equal(ch, 3);
    uint8_t sad[3], other[3];
    preview_label_colour("sadness", sad);
    preview_label_colour("not-a-label", other);
    assert_memory_not_equal(sad, other, 3);
    assert_memory_equal(other, ((const uint8_t[3]){255, 255, 255}), 3);
    for (int c = 0; c < 3; c++) {
        assert_int_equal(px(t, tw, 3, 100, 80, c), sad[c]);
        assert_int_equal(px(t, tw, 3, 130, 80, c), ((const uint8_t[3]){30, 60, 90})[c]);
        assert_int_equal(px(t, tw, 3, 300, 20, c), other[c]);      /* the second's left edge */
    }
    const uint8_t *jpeg;
    size_t len;
    char err[200];
    assert_int_equal(preview_encode(r, 95, 65536, &jpeg, &len, err, sizeof err), 95);
    check_baseline(jpeg, len, 320, 240, 3);
    struct decoded d = decode(jpeg, len, 3);
    assert_int_equal(d.subsamp, TJSAMP_420);
    for (int y = 56; y < 104; y += 8)
        for (int c = 0; c < 3; c++) {
            assert_in_range(px(d.pixels, 320, 3, 100, y, c), sad[c] > 40 ? sad[c] - 40 : 0,
                            sad[c] + 40 > 255 ? 255 : sad[c] + 40);
            assert_in_range(px(d.pixels, 320, 3, 130, y, c),
                            ((const uint8_t[3]){30, 60, 90})[c] - 8,
                            ((const uint8_t[3]){30, 60, 90})[c] + 8);
        }
    free(d.pixels);
    preview_renderer_free(r);
}

/* Over the budget, the quality steps down 50, 25, 10; under none, 0. Each JPEG made is
 * still whole. */
static void test_quality_ladder(void **state)
{
    (void)state;
    struct preview_renderer *r = preview_renderer_create();
    int w = 1280, h = 960;
    uint8_t *f = malloc((size_t)w * (size_t)h * 3);
    uint32_t seed = 12345;
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++) {   /* noise: JPEG's worst */
        seed = seed * 1664525u + 1013904223u;
        f[i] = (uint8_t)(seed >> 24);
    }
    assert_int_equal(preview_shrink(r, f, w, h, (size_t)w * 3, 3, 1280), 0);
    free(f);
    const uint8_t *jpeg;
    size_t len, at[4];
    char err[200];
    int q = preview_encode(r, 80, SIZE_MAX, &jpeg, &len, err, sizeof err);
    assert_int_equal(q, 80);
    at[0] = len;
    static const int qs[] = {50, 25, 10};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(preview_encode(r, qs[k], SIZE_MAX, &jpeg, &len, err, sizeof err), qs[k]);
        at[k + 1] = len;
        assert_true(at[k + 1] < at[k]);
    }
    /* a budget between the sizes at 25 and at 50: 25 is the first to fit */
    assert_int_equal(preview_encode(r, 80, (at[1] + at[2]) / 2, &jpeg, &len, err, sizeof err), 25);
    assert_int_equal(len, at[2]);
    check_baseline(jpeg, len, 1280, 960, 3);
    /* asked at 30: 50 is skipped, 25 next */
    assert_int_equal(preview_encode(r, 30, at[2], &jpeg, &len, err, sizeof err), 25);
    /* nothing fits */
    assert_int_equal(preview_encode(r, 80, at[3] - 1, &jpeg, &len, err, sizeof err), 0);
    assert_int_equal(len, at[3]);
    preview_renderer_free(r);
}

/* One renderer, thumbnails of changing sizes and kinds: each right (buffers regrown). */
static void test_sizes_change(void **state)
{
    (void)state;
    struct preview_renderer *r = preview_renderer_create();
    static const struct { int fw, fh, ch, width; } seq[] = {
        {160, 120, 1, 64}, {1280, 720, 3, 1280}, {640, 480, 1, 320}, {320, 240, 3, 320}};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        uint8_t *f = frame_of(seq[i].fw, seq[i].fh, seq[i].ch, (const uint8_t[3]){10, 20, 30});
        assert_int_equal(preview_shrink(r, f, seq[i].fw, seq[i].fh,
                                        (size_t)seq[i].fw * (size_t)seq[i].ch, seq[i].ch,
                                        seq[i].width), 0);
        free(f);
        struct preview_face face = {.box = {0, 0, 40, 40}, .label = "fear", .confidence = 1};
        preview_draw(r, &face, 1);
        const uint8_t *jpeg;
        size_t len;
        char err[200];
        assert_int_equal(preview_encode(r, 75, 65536, &jpeg, &len, err, sizeof err), 75);
        int tw, th;
        preview_size(seq[i].fw, seq[i].fh, seq[i].width, &tw, &th);
        check_baseline(jpeg, len, tw, th, seq[i].ch);
    }
    preview_renderer_free(r);
}

static void test_font(void **state)
{
    (void)state;
    /* '1': the stem down the middle, the foot across */
    for (int y = 0; y < 7; y++)
        assert_true(font_pixel('1', 2, y));
    assert_true(font_pixel('1', 1, 6) && font_pixel('1', 3, 6));
    assert_false(font_pixel('1', 0, 3));
    /* descenders use the eighth row; others leave it blank */
    assert_true(font_pixel('g', 1, 7) && font_pixel('p', 0, 7) && font_pixel('y', 3, 7));
    for (int x = 0; x < FONT_W; x++)
        assert_false(font_pixel('a', x, 7));
    /* upper case is lower case; a character without a glyph is a hollow box */
    for (int y = 0; y < FONT_H; y++)
        for (int x = 0; x < FONT_W; x++) {
            assert_int_equal(font_pixel('H', x, y), font_pixel('h', x, y));
            assert_int_equal(font_pixel('~', x, y), y < 7 && (x == 0 || x == 4 || y == 0 || y == 6));
            assert_false(font_pixel(' ', x, y));
        }
    assert_false(font_pixel('a', -1, 0));
    assert_false(font_pixel('a', 0, FONT_H));
    assert_int_equal(font_text_width("", 1), 0);
    assert_int_equal(font_text_width("ab", 1), 11);
    assert_int_equal(font_text_width("ab", 2), 22);

    /* drawn at scale 2 and clipped at the right edge */
    uint8_t img[16 * 20];
    memset(img, 7, sizeof img);
    struct font_canvas c = {img, 20, 16, 1, 20};
    font_draw(&c, 8, 0, 2, "11", (const uint8_t[3]){200, 0, 0});
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 20; x++) {
            int gx = (x - 8) / 2, gy = y / 2;
            bool ink = x >= 8 && font_pixel('1', gx % FONT_ADVANCE, gy) && gx / FONT_ADVANCE < 2;
            assert_int_equal(img[y * 20 + x], ink ? 200 : 7);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_box_scaling),
        cmocka_unit_test(test_shrink_is_the_area_mean),
        cmocka_unit_test(test_gray_boxes_label_and_jpeg),
        cmocka_unit_test(test_colour_box),
        cmocka_unit_test(test_quality_ladder),
        cmocka_unit_test(test_sizes_change),
        cmocka_unit_test(test_font),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
