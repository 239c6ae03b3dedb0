/* Detection benchmark on photos with hand-marked face boxes (boxes.csv: file,x,y,w,h):
 * recall at IoU >= 0.4, false positives, and time per image, for one backend, on the
 * photos in gray as the daemon sees frames.
 *   bench_detect FACES_DIR yunet|yunet-opencv|cascade [MODEL] [--width N]
 * (N >= 10000: full size; MODEL: yunet-opencv's ONNX file, or another model or cascade)
 * Last line: detect: backend=... recall=N/M false_positives=... ms_per_image=... */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect.h"
#include "source.h"

#define MAX_BOXES 256

struct truth {
    char file[128];
    struct det_face box;
    int hit;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FACES_DIR yunet|yunet-opencv|cascade [MODEL] [--width N]\n",
                argv[0]);
        return 2;
    }
    struct det_config cfg = {.backend = det_backend_parse(argv[2])};
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc)
            cfg.detect_width = atoi(argv[++i]);
        else
            cfg.model = argv[i];
    }
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/boxes.csv", argv[1]);
    FILE *f = fopen(path, "r");
    if (!f || !cfg.backend) {
        fprintf(stderr, "bench_detect: %s\n", f ? "unknown backend" : "cannot read boxes.csv");
        return 1;
    }
    static struct truth t[MAX_BOXES];
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, f) && n < MAX_BOXES)
        if (sscanf(line, "%127[^,],%f,%f,%f,%f", t[n].file, &t[n].box.x, &t[n].box.y,
                   &t[n].box.w, &t[n].box.h) == 5)
            n++;
    fclose(f);
    struct det_detector *det;
    if (det_create(&cfg, &det, err, sizeof err)) {
        fprintf(stderr, "bench_detect: %s\n", err);
        return 1;
    }
    int images = 0, fp = 0, hits = 0;
    double ms = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && !strcmp(t[i].file, t[i - 1].file))
            continue;
        char spec[1200];
        int len = snprintf(spec, sizeof spec, "image:%s/%s", argv[1], t[i].file);
        if (len < 0 || (size_t)len >= sizeof spec) {
            fprintf(stderr, "bench_detect: path too long\n");
            return 1;
        }
        struct cap_options o = {.fmt = CAP_GRAY8, .once = true};
        struct cap_source *src;
        struct cap_frame *fr;
        if (cap_source_open(spec, &o, &src, err, sizeof err) ||
            cap_source_next(src, &fr, err, sizeof err) != 1) {
            fprintf(stderr, "bench_detect: %s\n", err);
            return 1;
        }
        struct det_face found[64];
        int k = 0;
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {   /* best of 5: the machine is shared */
            double t0 = now_ms();
            k = det_detect(det, fr->data, fr->width, fr->height, fr->stride, 1, found, 64, err,
                           sizeof err);
            double dt = now_ms() - t0;
            best = dt < best ? dt : best;
        }
        if (k < 0) {
            fprintf(stderr, "bench_detect: %s\n", err);
            return 1;
        }
        ms += best;
        images++;
        int matched_here = 0;
        for (int a = 0; a < k; a++) {
            int matched = 0;
            for (int b = 0; b < n; b++)
                if (!strcmp(t[b].file, t[i].file) && det_iou(&found[a], &t[b].box) >= 0.4f) {
                    matched = 1;
                    if (!t[b].hit) {
                        t[b].hit = 1;
                        hits++;
                    }
                }
            fp += !matched;
            matched_here += matched;
        }
        printf("  %s: %d found, %d on marked faces\n", t[i].file, k, matched_here);
        cap_frame_unref(fr);
        cap_source_close(src);
    }
    printf("detect: backend=%s width=%s recall=%d/%d false_positives=%d ms_per_image=%.1f\n",
           det_backend_name(cfg.backend), cfg.detect_width >= 10000 ? "full" : cfg.detect_width ? "given" : "320",
           hits, n, fp, ms / images);
    det_free(det);
    return 0;
}
