/* Detection benchmark on photos with hand-marked face boxes (boxes.csv: file,x,y,w,h):
 * recall at IoU >= 0.4, false positives, and time per image, for each backend given, on
 * the photos in gray as the daemon sees frames, one thread. The backends run in turn on
 * each photo (best of 5 each), so their times compare within one run on a noisy machine.
 *   bench_detect FACES_DIR [--width N] BACKEND[=MODEL] ...
 * (N >= 10000: full size; MODEL: yunet-opencv's ONNX file, or another model or cascade)
 * Prints per backend: detect: backend=... width=... recall=N/M false_positives=...
 * ms_per_image=...; with yunet and yunet-opencv both given, also how many of OpenCV's faces
 * our engine finds alike (IoU >= 0.9) and its speed-up. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "detect.h"
#include "source.h"

#define MAX_BOXES 256
#define MAX_BACKENDS 4
#define MAX_FOUND 64

struct truth {
    char file[128];
    struct det_face box;
    int hit[MAX_BACKENDS];
};

struct run {
    struct det_config cfg;
    struct det_detector *det;
    struct det_face found[MAX_FOUND];
    int n_found, hits, false_positives;
    double ms;
};

static int read_truth(const char *dir, struct truth *t)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/boxes.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_BOXES)
        if (sscanf(line, "%127[^,],%f,%f,%f,%f", t[n].file, &t[n].box.x, &t[n].box.y,
                   &t[n].box.w, &t[n].box.h) == 5)
            n++;
    fclose(f);
    return n;
}

/* Scores one backend's faces on one photo against the marked boxes. */
static void score(struct run *r, int b, struct truth *t, int n, const char *file)
{
    int on_marked = 0;
    for (int a = 0; a < r->n_found; a++) {
        int matched = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(t[i].file, file) && det_iou(&r->found[a], &t[i].box) >= 0.4f) {
                matched = 1;
                r->hits += !t[i].hit[b];
                t[i].hit[b] = 1;
            }
        r->false_positives += !matched;
        on_marked += matched;
    }
    printf("  %s %s: %d found, %d on marked faces\n", file, det_backend_name(r->cfg.backend),
           r->n_found, on_marked);
}

/* Faces of `peer` that `r` also found (IoU >= 0.9). */
static int alike(const struct run *r, const struct run *peer)
{
    int same = 0;
    for (int i = 0; i < peer->n_found; i++)
        for (int j = 0; j < r->n_found; j++)
            if (det_iou(&peer->found[i], &r->found[j]) >= 0.9f) {
                same++;
                break;
            }
    return same;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FACES_DIR [--width N] BACKEND[=MODEL] ...\n", argv[0]);
        return 2;
    }
    static struct run runs[MAX_BACKENDS];
    int n_runs = 0, width = 0;
    char err[512];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc) {
            width = atoi(argv[++i]);
            continue;
        }
        if (n_runs == MAX_BACKENDS) {
            fprintf(stderr, "bench_detect: at most %d backends\n", MAX_BACKENDS);
            return 2;
        }
        char *model = strchr(argv[i], '=');
        if (model)
            *model++ = '\0';
        struct run *r = &runs[n_runs++];
        r->cfg = (struct det_config){.backend = det_backend_parse(argv[i]), .model = model};
        if (!r->cfg.backend) {
            fprintf(stderr, "bench_detect: unknown backend '%s'\n", argv[i]);
            return 2;
        }
    }
    det_set_threads(1);   /* one thread for every backend, as the daemon runs detection */
    static struct truth t[MAX_BOXES];
    int n = read_truth(argv[1], t);
    if (n < 0) {
        fprintf(stderr, "bench_detect: cannot read %s/boxes.csv\n", argv[1]);
        return 1;
    }
    for (int b = 0; b < n_runs; b++) {
        runs[b].cfg.detect_width = width;
        if (det_create(&runs[b].cfg, &runs[b].det, err, sizeof err)) {
            fprintf(stderr, "bench_detect: %s\n", err);
            return 1;
        }
    }
    int yunet = -1, peer = -1, images = 0, peer_faces = 0, same = 0;
    for (int b = 0; b < n_runs; b++) {
        yunet = runs[b].cfg.backend == DET_YUNET ? b : yunet;
        peer = runs[b].cfg.backend == DET_YUNET_OPENCV ? b : peer;
    }
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
        double best[MAX_BACKENDS];
        for (int b = 0; b < n_runs; b++)
            best[b] = 1e9;
        for (int rep = 0; rep < 5; rep++)   /* best of 5, in turn: the machine is shared */
            for (int b = 0; b < n_runs; b++) {
                struct run *r = &runs[b];
                double t0 = mono_ms();
                r->n_found = det_detect(r->det, fr->data, fr->width, fr->height, fr->stride, 1,
                                        r->found, MAX_FOUND, err, sizeof err);
                double dt = mono_ms() - t0;
                best[b] = dt < best[b] ? dt : best[b];
                if (r->n_found < 0) {
                    fprintf(stderr, "bench_detect: %s\n", err);
                    return 1;
                }
            }
        for (int b = 0; b < n_runs; b++) {
            runs[b].ms += best[b];
            score(&runs[b], b, t, n, t[i].file);
        }
        if (yunet >= 0 && peer >= 0) {
            peer_faces += runs[peer].n_found;
            same += alike(&runs[yunet], &runs[peer]);
        }
        images++;
        cap_frame_unref(fr);
        cap_source_close(src);
    }
    char w[16];
    snprintf(w, sizeof w, width >= 10000 ? "full" : "%d", width ? width : 320);
    for (int b = 0; b < n_runs; b++) {
        printf("detect: backend=%s width=%s recall=%d/%d false_positives=%d ms_per_image=%.1f\n",
               det_backend_name(runs[b].cfg.backend), w, runs[b].hits, n,
               runs[b].false_positives, runs[b].ms / images);
        det_free(runs[b].det);
    }
    if (yunet >= 0 && peer >= 0)
        printf("detect: yunet vs yunet-opencv width=%s same_faces=%d/%d speedup=%.2f\n", w, same,
               peer_faces, runs[peer].ms / runs[yunet].ms);
    return 0;
}
