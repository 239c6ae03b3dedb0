/* libFuzzer target: YuNet face detection on our engine (faces/yunet.c), with the shipped
 * network (models/face_detection_yunet_2023mar.enn, loaded once), on frames of any size
 * and row stride, at any scale: yunet_detect's checks, the area downscaler
 * (faces/shrink.c), the network re-planned for each padded size (enn_net_resize, buffers
 * shared by lifetime), the decoder, then det_nms on a copy of the faces.
 *
 * Input: a 12-byte header, then pixels (tiled over the frame; a pattern when there are
 * none):
 *   0-1  width  (u16: 0..2048 as v % 2049; 0xFFF0.. are -1 .. -16)
 *   2-3  height (the same)
 *   4    row stride: width + this many bytes
 *   5    scale: b / 200 (0 .. 1.245: 0 and over 1 must be refused), except 250 NaN,
 *        251 -0.5, 252 1e-6 (the smallest net, 32x32), 253 +inf, 254 0.999999, 255 1
 *   6    score threshold: b / 250 (over 1 for b > 250: nothing passes), 0: every cell
 *   7    most faces: b % 40 (0 .. 39)
 *   8    bit 0: a second frame (bytes 9-11) in between, then the first again, which must
 *        give the same faces bit for bit (the arena as the other plan left it)
 *   9-10 second width and height (b + 1), 11 its scale (as byte 5)
 * Cost per input stays under ~30 ms with ASan and UBSan: a frame over MAX_FRAME_PIXELS
 * loses rows (the downscaler reads every pixel, ~40 ns each), and the scale is lowered
 * so that the network input (each side rounded up to 32) stays within MAX_NET_PIXELS
 * (the network costs ~770 multiply-adds per input pixel, ~16 ms at 96x96). With a second
 * frame, the first has half those limits (it runs twice) and the second a quarter. Frames are
 * allocated to the exact byte, so a read past the last row is caught. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "yunet.h"

#define MAX_SIDE 2048
#define MAX_FRAME_PIXELS (256 << 10)
#define MAX_NET_PIXELS (96 * 96)
#define MAX_FACES 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct yunet *yunet;

static _Noreturn void die(const char *msg, int a, int b)
{
    fprintf(stderr, "fuzz_yunet: %s (%d, %d)\n", msg, a, b);
    abort();
}

static int side(unsigned v)
{
    return v >= 0xFFF0 ? -(int)(v - 0xFFF0 + 1) : (int)(v % (MAX_SIDE + 1));
}

static double scale_of(unsigned b)
{
    switch (b) {
    case 250:
        return NAN;
    case 251:
        return -0.5;
    case 252:
        return 1e-6;
    case 253:
        return INFINITY;
    case 254:
        return 0.999999;
    case 255:
        return 1.0;
    default:
        return b / 200.0;
    }
}

static int round_up32(int v)
{
    return v < 32 ? 32 : (v + 31) / 32 * 32;
}

/* A valid scale lowered until the padded network input fits within net_pixels. */
static double affordable(int width, int height, double scale, long net_pixels)
{
    if (width < 1 || height < 1 || !(scale > 0 && scale <= 1))
        return scale;
    for (;;) {
        int sw = (int)(width * scale + 0.5), sh = (int)(height * scale + 0.5);
        if ((long)round_up32(sw) * round_up32(sh) <= net_pixels)
            return scale;
        scale *= 0.9;
    }
}

struct frame {
    uint8_t *gray;
    int width, height;
    size_t stride;
};

/* Exactly stride * (height - 1) + width bytes (1 for an empty frame). */
static struct frame make_frame(int width, int height, size_t pad, const uint8_t *px, size_t n_px)
{
    struct frame f = {NULL, width, height, (size_t)(width > 0 ? width : 0) + pad};
    size_t bytes = width > 0 && height > 0 ? f.stride * (size_t)(height - 1) + (size_t)width : 1;
    f.gray = malloc(bytes);
    if (!f.gray)
        abort();
    for (size_t i = 0; i < bytes; i++)
        f.gray[i] = n_px ? px[i % n_px] : (uint8_t)((i * 37) ^ (i >> 7));
    return f;
}

static int detect(const struct frame *f, double scale, float threshold, struct det_face *out,
                  int max)
{
    char err[256];
    memset(err, 'x', sizeof err);
    memset(out, 0xA5, sizeof *out * MAX_FACES);
    bool valid = f->width >= 1 && f->height >= 1 && scale > 0 && scale <= 1;
    int n = yunet_detect(yunet, f->gray, f->width, f->height, f->stride, scale, threshold, out, max,
                         err, sizeof err);
    if (n < 0) {
        if (n != -1 || memchr(err, 0, sizeof err) == NULL || err[0] == '\0')
            die("a failure without -1 and a message", n, 0);
        if (valid) {
            fprintf(stderr, "fuzz_yunet: %s\n", err);
            die("a valid frame refused (width, height)", f->width, f->height);
        }
        return n;
    }
    if (!valid)
        die("an invalid frame or scale accepted (width, height)", f->width, f->height);
    if (n > max)
        die("more faces than asked for (n, max)", n, max);
    for (int i = 0; i < n; i++) {
        const struct det_face *d = &out[i];
        if (!(isfinite(d->x) && isfinite(d->y) && isfinite(d->w) && isfinite(d->h)) ||
            !(d->w > 0 && d->h > 0))
            die("a box that is not finite and positive (face, n)", i, n);
        if (!(d->score >= threshold && d->score <= 1) || !d->has_landmarks)
            die("a score outside [threshold, 1] or no landmarks (face, n)", i, n);
        for (int j = 0; j < 10; j++)
            if (!isfinite(d->landmarks[j]))
                die("a landmark that is not finite (face, landmark)", i, j);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!yunet) {
        char err[512];
        yunet = yunet_load(EMOTIOND_SOURCE_DIR "/models/face_detection_yunet_2023mar.enn", err,
                           sizeof err);
        if (!yunet) {
            fprintf(stderr, "fuzz_yunet: %s\n", err);
            abort();
        }
    }
    uint8_t h[12] = {0};
    memcpy(h, data, size < sizeof h ? size : sizeof h);
    const uint8_t *px = size > sizeof h ? data + sizeof h : NULL;
    size_t n_px = size > sizeof h ? size - sizeof h : 0;
    int width = side(h[0] | (unsigned)h[1] << 8), height = side(h[2] | (unsigned)h[3] << 8);
    bool second = h[8] & 1;
    int max_pixels = second ? MAX_FRAME_PIXELS / 2 : MAX_FRAME_PIXELS;
    if (width > 0 && height > max_pixels / width)
        height = max_pixels / width;
    double scale =
        affordable(width, height, scale_of(h[5]), second ? MAX_NET_PIXELS / 2 : MAX_NET_PIXELS);
    float threshold = (float)h[6] / 250.0f;
    int max = h[7] % MAX_FACES;

    struct frame f = make_frame(width, height, h[4], px, n_px);
    static struct det_face first[MAX_FACES], again[MAX_FACES];
    int n = detect(&f, scale, threshold, first, max);
    if (n > 0) {
        memcpy(again, first, (size_t)n * sizeof *first); /* NMS sorts in place */
        int kept = det_nms(again, n, 0.3f);
        if (kept < 1 || kept > n)
            die("det_nms kept (kept, of)", kept, n);
    }
    if (second) {
        int w2 = h[9] + 1, h2 = h[10] + 1;
        struct frame g = make_frame(w2, h2, 3, px, n_px);
        detect(&g, affordable(w2, h2, scale_of(h[11]), MAX_NET_PIXELS / 4), threshold, again,
               MAX_FACES - 1);
        free(g.gray);
        int m = detect(&f, scale, threshold, again, max);
        if (m != n || (n > 0 && memcmp(first, again, (size_t)n * sizeof *first) != 0))
            die("the same frame gave other faces after another size (first, again)", n, m);
    }
    free(f.gray);
    return 0;
}
