/* Motion-JPEG splitting: junk between frames, thumbnails inside frames, frames cut short,
 * a truncated end, and every possible split point of a stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mjpeg.h"
#include "test_images.h"

struct buf {
    uint8_t *d;
    size_t n;
};

static void add(struct buf *b, const void *p, size_t n)
{
    b->d = realloc(b->d, b->n + n);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static int count_frames(const uint8_t *d, size_t n, size_t *skipped_total, size_t *tail)
{
    size_t pos = 0, start, size, skipped;
    int frames = 0;
    *skipped_total = 0;
    while (cap_mjpeg_next(d + pos, n - pos, &start, &size, &skipped) == CAP_MJPEG_FRAME) {
        *skipped_total += skipped;
        assert_int_equal(d[pos + start], 0xFF);
        assert_int_equal(d[pos + start + 1], 0xD8);
        assert_int_equal(d[pos + start + size - 1], 0xD9);
        pos += start + size;
        frames++;
    }
    *skipped_total += skipped;
    *tail = n - pos - start;
    return frames;
}

static void test_junk_between_frames(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(64, 48, 1, 80, &len);
    struct buf b = {0};
    const char junk[] = "\x00\x11junk\xff\xff\xd9 more junk \xff";
    add(&b, junk, sizeof junk);
    for (int i = 0; i < 5; i++) {
        add(&b, j, len);
        add(&b, junk, sizeof junk);
    }
    size_t skipped, tail;
    assert_int_equal(count_frames(b.d, b.n, &skipped, &tail), 5);
    assert_int_equal(skipped, 0);
    free(b.d);
    free(j);
}

static void test_thumbnail_inside_frame(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(64, 48, 1, 80, &len);
    /* APP1 segment holding a whole small JPEG (an EXIF thumbnail): SOI..EOI inside. */
    size_t tlen;
    uint8_t *thumb = make_jpeg(16, 16, 1, 50, &tlen);
    struct buf b = {0};
    add(&b, j, 2);
    uint8_t app1[4] = {0xFF, 0xE1, (uint8_t)((tlen + 2) >> 8), (uint8_t)((tlen + 2) & 0xff)};
    add(&b, app1, 4);
    add(&b, thumb, tlen);
    add(&b, j + 2, len - 2);
    add(&b, j, len);
    size_t skipped, tail, start, size;
    assert_int_equal(count_frames(b.d, b.n, &skipped, &tail), 2);
    assert_int_equal(cap_mjpeg_next(b.d, b.n, &start, &size, &skipped), CAP_MJPEG_FRAME);
    assert_int_equal(size, len + 4 + tlen);    /* the thumbnail's EOI did not end it */
    free(b.d);
    free(j);
    free(thumb);
}

static void test_cut_short_and_truncated_end(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(64, 48, 1, 80, &len);
    struct buf b = {0};
    add(&b, j, len);
    add(&b, j, len / 2);          /* a frame cut off mid-scan, then the next one */
    add(&b, j, len);
    add(&b, j, len - 10);         /* the stream ends inside a frame */
    size_t skipped, tail;
    assert_int_equal(count_frames(b.d, b.n, &skipped, &tail), 2);
    assert_true(skipped > 0);
    assert_int_equal(tail, len - 10);   /* NEED_MORE points at the unfinished frame */
    free(b.d);
    free(j);
}

static void test_every_prefix(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(32, 32, 1, 70, &len);
    struct buf b = {0};
    add(&b, "xx", 2);
    add(&b, j, len);
    add(&b, j, len);
    for (size_t n = 0; n <= b.n; n++) {
        uint8_t *p = malloc(n ? n : 1);   /* exact size: ASan catches overreads */
        memcpy(p, b.d, n);
        size_t skipped, tail;
        int frames = count_frames(p, n, &skipped, &tail);
        int want = n >= 2 + 2 * len ? 2 : n >= 2 + len ? 1 : 0;
        assert_int_equal(frames, want);
        free(p);
    }
    free(b.d);
    free(j);
}

static void test_garbage(void **state)
{
    (void)state;
    uint8_t g[8192];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof g; i++) {
        x = x * 1103515245u + 12345u;
        g[i] = (uint8_t)(x >> 16);
        if (i % 97 == 0)
            g[i] = 0xFF;
        if (i % 389 == 1)
            g[i] = 0xD8;
    }
    size_t skipped, tail;
    count_frames(g, sizeof g, &skipped, &tail);   /* terminates, stays in bounds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junk_between_frames),
        cmocka_unit_test(test_thumbnail_inside_frame),
        cmocka_unit_test(test_cut_short_and_truncated_end),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
