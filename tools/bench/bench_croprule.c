/* How the crop rule affects accuracy: each 48x48 dataset face is upscaled x4 into a
 * 384x384 frame (edges repeated), detected, cropped with several `widen` factors
 * (facecrop.h), with and without levelling the eyes (YuNet gives landmarks; the cascade
 * does not, so both read the same for it), and classified, beside the accuracy on the
 * dataset's own framing; with landmarks, also aligned to the template (faces/align.h).
 *   bench_croprule MODEL.enn DATA_DIR ckplus|fer-public BACKEND [MODEL] [--every N]
 *   bench_croprule --fit-template DATA_DIR BACKEND [MODEL] [--every N]
 * The labels must use the model's class names (CK+ models on ckplus, FER on fer-public).
 * --fit-template measures the template: the mean landmarks on FER2013 Training in the
 * dataset's own framing (unit crop coordinates). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align.h"
#include "argmax.h"
#include "canvas.h"
#include "dataset.h"
#include "detect.h"
#include "facecrop.h"
#include "model.h"
#include "net.h"

#define UP CANVAS_UP
#define FRAME CANVAS_SIDE
static const float WIDEN[] = {0.8f, 0.9f, 1.0f, 1.1f, 1.2f, 1.3f};
#define N_WIDEN (int)(sizeof WIDEN / sizeof *WIDEN)

static int fit_template(int argc, char **argv)
{
    int every = 1;
    struct det_config dc = {.backend = det_backend_parse(argv[3]), .detect_width = FRAME};
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--every") && i + 1 < argc)
            every = atoi(argv[++i]);
        else
            dc.model = argv[i];
    }
    char err[512];
    struct dataset ds;
    int rc = dataset_load(argv[2], "fer2013", &ds, err, sizeof err);
    if (rc) {
        printf("%s%s\n", rc > 0 ? "SKIPPED: " : "bench_croprule: ", err);
        return rc > 0 ? 0 : 1;
    }
    struct det_detector *det;
    if (det_create(&dc, &det, err, sizeof err)) {
        fprintf(stderr, "bench_croprule: %s\n", err);
        return 1;
    }
    static unsigned char frame[FRAME * FRAME];
    double sum[10] = {0};
    long n = 0, used = 0;
    float off = (FRAME - 48 * UP) / 2.0f, span = 48.0f * UP;
    for (int row = 0; row < ds.n; row++) {
        if (strcmp(ds.group[row], "Training") || row % every)
            continue;
        n++;
        canvas_place_face(ds.pixels[row], frame);
        struct det_face found[8];
        int nf = det_detect(det, frame, FRAME, FRAME, FRAME, 1, found, 8, err, sizeof err);
        if (nf <= 0 || !found[canvas_biggest(found, nf)].has_landmarks)
            continue;
        const struct det_face *f = &found[canvas_biggest(found, nf)];
        for (int k = 0; k < 10; k++)
            sum[k] += (f->landmarks[k] - off) / span;
        used++;
    }
    if (!used) {
        printf("template: no landmarks found in %ld images (a detector without landmarks?)\n", n);
        return 1;
    }
    printf("template: FER2013 Training, %ld of %ld faces, detector %s (unit crop x, y):\n", used,
           n, det_backend_name(dc.backend));
    for (int k = 0; k < 5; k++)
        printf("    %.4ff, %.4ff,\n", sum[2 * k] / (double)used, sum[2 * k + 1] / (double)used);
    det_free(det);
    dataset_free(&ds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--fit-template"))
        return fit_template(argc, argv);
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.enn DATA_DIR ckplus|fer-public BACKEND [MODEL] "
                        "[--every N]\n       %s --fit-template DATA_DIR BACKEND [MODEL] "
                        "[--every N]\n", argv[0], argv[0]);
        return 2;
    }
    int every = 1;
    struct det_config dc = {.backend = det_backend_parse(argv[4]), .detect_width = FRAME};
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--every") && i + 1 < argc)
            every = atoi(argv[++i]);
        else
            dc.model = argv[i];
    }
    bool fer = !strcmp(argv[3], "fer-public");
    char err[512];
    struct dataset ds;
    int rc = dataset_load(argv[2], fer ? "fer2013" : "ckplus", &ds, err, sizeof err);
    if (rc) {
        printf("%s%s\n", rc > 0 ? "SKIPPED: " : "bench_croprule: ", err);
        return rc > 0 ? 0 : 1;
    }
    struct enn_model *m;
    struct enn_net *net;
    struct det_detector *det;
    if (enn_model_load(argv[1], &m, err, sizeof err) || enn_net_create(m, &net, err, sizeof err) ||
        det_create(&dc, &det, err, sizeof err)) {
        fprintf(stderr, "bench_croprule: %s\n", err);
        return 1;
    }
    static unsigned char frame[FRAME * FRAME];
    long n = 0, detected = 0, base_ok = 0, base_ok_detected = 0, ok[3][N_WIDEN] = {{0}};
    long aligned = 0;
    for (int row = 0; row < ds.n; row++) {
        if ((fer && strcmp(ds.group[row], "PublicTest")) || row % every)
            continue;
        const unsigned char *face = ds.pixels[row];
        const char *label = ds.label[row];
        int truth = -1;
        for (int c = 0; c < m->n_classes; c++)
            if (!strcmp(m->classes[c], label))
                truth = c;
        if (truth < 0)
            continue;
        n++;
        float p[ENN_MAX_CLASSES];
        struct enn_box whole = {0, 0, 48, 48, 0};
        enn_net_classify(net, face, 48, 48, 48, &whole, 1, p);
        int base = argmax(p, m->n_classes) == truth;
        base_ok += base;
        canvas_place_face(face, frame);
        struct det_face found[8];
        int nf = det_detect(det, frame, FRAME, FRAME, FRAME, 1, found, 8, err, sizeof err);
        if (nf <= 0)
            continue;
        int big = canvas_biggest(found, nf);
        detected++;
        base_ok_detected += base;
        for (int align = 0; align < 2; align++)
            for (int w = 0; w < N_WIDEN; w++) {
                struct enn_box b = facecrop_box(&found[big], WIDEN[w], align);
                enn_net_classify(net, frame, FRAME, FRAME, FRAME, &b, 1, p);
                ok[align][w] += argmax(p, m->n_classes) == truth;
            }
        /* aligned to the template; a face without landmarks keeps the box rule */
        for (int w = 0; w < N_WIDEN; w++) {
            struct enn_box b;
            bool lm = align_crop(&found[big], &align_fer2013, WIDEN[w], &b);
            if (!lm)
                b = facecrop_box(&found[big], WIDEN[w], true);
            aligned += lm && w == 0;
            enn_net_classify(net, frame, FRAME, FRAME, FRAME, &b, 1, p);
            ok[2][w] += argmax(p, m->n_classes) == truth;
        }
    }
    if (!detected) {
        printf("croprule: no faces detected in %ld images\n", n);
        return 1;
    }
    printf("model %s on %s (%ld images), detector %s: found %ld (%.1f %%)\n", m->name, argv[3], n,
           det_backend_name(dc.backend), detected, 100.0 * detected / n);
    printf("  dataset framing: %.1f %% (all), %.1f %% (the detected ones)\n", 100.0 * base_ok / n,
           100.0 * base_ok_detected / detected);
    printf("  aligned by landmarks: %ld of the detected\n", aligned);
    for (int w = 0; w < N_WIDEN; w++)
        printf("croprule: detector=%s widen=%.1f accuracy=%.1f unaligned=%.1f landmarks=%.1f\n",
               det_backend_name(dc.backend), WIDEN[w], 100.0 * ok[1][w] / detected,
               100.0 * ok[0][w] / detected, 100.0 * ok[2][w] / detected);
    det_free(det);
    enn_net_free(net);
    enn_model_free(m);
    dataset_free(&ds);
    return 0;
}
