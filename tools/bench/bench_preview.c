/* Preview benchmark: what the preview stage's thread does for one preview (daemon/
 * preview_stage.c: shrink, boxes and label, JPEG under the size cap, base64 message),
 * timed per preview on the frames of a Motion-JPEG clip, decoded first as the daemon
 * decodes them (gray; BGR with --colour, for when the pipeline has colour).
 *   bench_preview CLIP.mjpeg [--width N] [--quality Q] [--count N] [--colour]
 * One line: preview_encode: width=.. height=.. quality=.. colour=no|yes ms_p50=..
 * ms_p99=.. bytes_p50=.. bytes_p99=.. message_bytes_p50=.. n=.. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "clock.h"
#include "jpeg.h"
#include "preview_stage.h"
#include "textsize.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    int i = (int)(p / 100.0 * n);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    int width = 320, quality = 75, count = 300;
    enum cap_pixfmt fmt = CAP_GRAY8;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc)
            width = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quality") && i + 1 < argc)
            quality = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--colour"))
            fmt = CAP_BGR24;
        else
            argc = 0;
    }
    if (argc < 2 || count < 1 || width < 1 || quality < 1) {
        fprintf(stderr, "usage: bench_preview CLIP.mjpeg [--width N] [--quality Q] "
                        "[--count N] [--colour]\n");
        return 2;
    }
    struct bench_clip clip;
    if (bench_clip_read(argv[1], count, &clip))    /* no more frames than previews */
        return 1;

    struct cap_jpeg *dec = cap_jpeg_create();
    struct preview_renderer *r = preview_renderer_create();
    static unsigned char pixels[4096 * 4096 * 3];
    static char msg[PROTO_PREVIEW_MAX + 1];
    double *ms = malloc((size_t)count * sizeof *ms), *bytes = malloc((size_t)count * sizeof *bytes);
    double *msg_bytes = malloc((size_t)count * sizeof *msg_bytes);
    char err[TEXT_WHY];
    int done = 0, tw = 0, th = 0;
    while (done < count) {
        int k = done % clip.n;       /* the clip again after its last frame */
        int fw, fh;
        if (cap_jpeg_decode(dec, clip.frame[k], clip.size[k], fmt, 1, pixels, sizeof pixels, &fw,
                            &fh, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", argv[1], err);
            return 1;
        }
        /* one face, where a face would be: the label drawn as on every preview */
        struct preview_face face = {.id = 1, .box = {fw * 0.35f, fh * 0.2f, fw * 0.22f, fw * 0.22f},
                                    .label = "happiness", .confidence = 0.91f};
        int64_t t0 = mono_ns();
        size_t jpeg_bytes;
        long m = -1;
        if (preview_shrink(r, pixels, fw, fh, (size_t)fw * fmt, (int)fmt, width) == 0)
            m = preview_message(r, (uint64_t)done, 0, fw, fh, &face, 1, quality, msg,
                                &jpeg_bytes, err, sizeof err);
        ms[done] = (double)(mono_ns() - t0) / 1e6;
        if (m <= 0) {
            fprintf(stderr, "preview %d: %s\n", done, m < 0 ? err : "over the size cap");
            return 1;
        }
        bytes[done] = (double)jpeg_bytes;
        msg_bytes[done] = (double)m;
        preview_size(fw, fh, width, &tw, &th);
        done++;
    }
    printf("preview_encode: width=%d height=%d quality=%d colour=%s ms_p50=%.2f ms_p99=%.2f "
           "bytes_p50=%.0f bytes_p99=%.0f message_bytes_p50=%.0f n=%d\n",
           tw, th, quality, fmt == CAP_BGR24 ? "yes" : "no", percentile(ms, count, 50),
           percentile(ms, count, 99), percentile(bytes, count, 50), percentile(bytes, count, 99),
           percentile(msg_bytes, count, 50), count);
    preview_renderer_free(r);
    cap_jpeg_destroy(dec);
    bench_clip_free(&clip);
    free(ms);
    free(bytes);
    free(msg_bytes);
    return 0;
}
