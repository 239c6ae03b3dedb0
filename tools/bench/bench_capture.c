/* Capture benchmark: decode time per MJPEG frame to grayscale with our TurboJPEG path
 * at scale 1 and 1/2, beside OpenCV's imdecode on the same frames in the same run.
 *   bench_capture CLIP.mjpeg [--rounds N]
 * One line per case: capture: scale=... ours_ms=... opencv_ms=... speedup=... */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clip.h"
#include "clock.h"
#include "jpeg.h"
#include "opencv_adapter.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIP.mjpeg [--rounds N]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 && !strcmp(argv[2], "--rounds") ? atoi(argv[3]) : 20;
    struct bench_clip clip;
    if (bench_clip_read(argv[1], 256, &clip))
        return 1;
    const unsigned char **frame = clip.frame;
    const size_t *size = clip.size;
    int frames = clip.n;
    ocv_set_threads(1);
    struct cap_jpeg *dec = cap_jpeg_create();
    static unsigned char out[4096 * 4096];
    int total = frames * rounds;
    double *ours = malloc((size_t)total * sizeof *ours), *theirs = malloc((size_t)total * sizeof *theirs);
    char err[256];
    for (int scale = 1; scale <= 2; scale++) {
        int w = 0, h = 0, cw = 0, ch = 0;
        for (int i = 0; i < total; i++) {
            int k = i % frames;
            double t0 = mono_ms();
            if (cap_jpeg_decode(dec, frame[k], size[k], CAP_GRAY8, scale, out, sizeof out, &w, &h,
                                err, sizeof err)) {
                fprintf(stderr, "frame %d: %s\n", k, err);
                return 1;
            }
            double t1 = mono_ms();
            if (ocv_imdecode_gray(frame[k], size[k], scale, out, sizeof out, &cw, &ch)) {
                fprintf(stderr, "frame %d: OpenCV could not decode it\n", k);
                return 1;
            }
            theirs[i] = mono_ms() - t1;
            ours[i] = t1 - t0;
        }
        qsort(ours, (size_t)total, sizeof *ours, cmp);
        qsort(theirs, (size_t)total, sizeof *theirs, cmp);
        double a = ours[total / 2], b = theirs[total / 2];
        printf("  %d frames x %d rounds, %dx%d (OpenCV %dx%d): median ours %.3f ms, opencv %.3f ms\n",
               frames, rounds, w, h, cw, ch, a, b);
        printf("capture: scale=1/%d ours_ms=%.3f opencv_ms=%.3f speedup=%.2f\n", scale, a, b, b / a);
    }
    cap_jpeg_destroy(dec);
    free(ours), free(theirs);
    bench_clip_free(&clip);
    return 0;
}
