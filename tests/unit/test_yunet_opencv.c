/* YuNet on our engine against OpenCV DNN on the same weights (the ONNX from the OpenCV
 * model zoo, in ../shared/data): every one of the 12 maps on real photos at 320x256 and
 * 640x480, for every kernel set this CPU runs, then the decoded faces. Prints the largest
 * differences. Skips (77) when the photos or the ONNX are absent. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "model.h"
#include "net.h"
#include "opencv_adapter.h"
#include "preprocess.h"
#include "source.h"
#include "yunet.h"

#define SKIP 77
#define ONNX SHARED_DATA "/models/face_detection_yunet_2023mar.onnx"
#define ENN SOURCE_DIR "/models/face_detection_yunet_2023mar.enn"
/* The bound on the score maps; box and landmark maps are in cells. */
#define SCORE_TOL 1e-3f

static const char *const PHOTOS[] = {"2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg",
                                     "2008_002079.jpg", "astronaut.png"};
static const char *const ISAS[] = {"scalar", "avx2", "neon"};
static const char *const MAPS[4] = {"cls", "obj", "bbox", "kps"};

static uint8_t *load_gray(const char *file, int *w, int *h)
{
    char spec[1024], err[256];
    snprintf(spec, sizeof spec, "image:%s/faces/%s", SHARED_DATA, file);
    struct cap_options o = {.fmt = CAP_GRAY8, .once = true};
    struct cap_source *src;
    struct cap_frame *fr;
    if (cap_source_open(spec, &o, &src, err, sizeof err) ||
        cap_source_next(src, &fr, err, sizeof err) != 1) {
        printf("FAIL: %s\n", err);
        exit(1);
    }
    uint8_t *px = malloc((size_t)fr->width * (size_t)fr->height);
    for (int y = 0; y < fr->height; y++)
        memcpy(px + (size_t)y * (size_t)fr->width, fr->data + (size_t)y * fr->stride,
               (size_t)fr->width);
    *w = fr->width;
    *h = fr->height;
    cap_frame_unref(fr);
    cap_source_close(src);
    return px;
}

/* The photo resampled to exactly w x h (a multiple of 32), so both networks get the same
 * pixels with no resizing or padding of their own. */
static uint8_t *network_sized(const uint8_t *px, int pw, int ph, int w, int h)
{
    float *f = malloc((size_t)w * (size_t)h * sizeof *f);
    enn_crop_resize(px, pw, ph, (size_t)pw, 0, 0, (float)pw, (float)ph, w, h, 0, 1, f);
    uint8_t *out = malloc((size_t)w * (size_t)h);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        out[i] = (uint8_t)lrintf(f[i] * 255);
    free(f);
    return out;
}

int main(void)
{
    FILE *probe = fopen(ONNX, "rb");
    if (!probe) {
        printf("SKIPPED: %s is absent (the research data lives in ../shared/data beside the "
               "repository)\n", ONNX);
        return SKIP;
    }
    fclose(probe);
    char err[512];
    struct ocv_yunet *cv = ocv_yunet_load(ONNX, err, sizeof err);
    struct enn_model *m;
    if (!cv || enn_model_load(ENN, &m, err, sizeof err)) {
        printf("FAIL: %s\n", err);
        return 1;
    }
    ocv_set_threads(1);
    static const int sizes[][2] = {{320, 256}, {640, 480}};
    float worst[4] = {0};
    int failures = 0, isas = 0, faces_cv = 0, faces_same = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err))
            continue;   /* not on this CPU */
        isas++;
        float isa_worst[4] = {0};
        for (size_t p = 0; p < sizeof PHOTOS / sizeof *PHOTOS; p++) {
            int pw, ph;
            uint8_t *photo = load_gray(PHOTOS[p], &pw, &ph);
            for (size_t z = 0; z < 2; z++) {
                int w = sizes[z][0], h = sizes[z][1];
                uint8_t *px = network_sized(photo, pw, ph, w, h);
                struct ocv_yunet_level lv[3];
                if (ocv_yunet_run(cv, px, w, h, (size_t)w, 1, 1.0, lv, err, sizeof err) ||
                    enn_net_resize(net, h, w, err, sizeof err)) {
                    printf("FAIL: %s\n", err);
                    return 1;
                }
                size_t row, plane;
                float *in = enn_net_input(net, &row, &plane);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        in[(size_t)y * row + (size_t)x] = px[(size_t)y * (size_t)w + (size_t)x];
                enn_net_forward(net);
                struct yunet_level mine[3], theirs[3];
                for (int l = 0; l < 3; l++) {
                    const float *cvmap[4] = {lv[l].cls, lv[l].obj, lv[l].bbox, lv[l].kps};
                    static const int ch[4] = {1, 1, 4, 10};
                    struct yunet_map *mm[4] = {&mine[l].cls, &mine[l].obj, &mine[l].bbox,
                                               &mine[l].kps};
                    struct yunet_map *tm[4] = {&theirs[l].cls, &theirs[l].obj, &theirs[l].bbox,
                                               &theirs[l].kps};
                    for (int k = 0; k < 4; k++) {
                        char name[16];
                        snprintf(name, sizeof name, "%s_%d", MAPS[k], 8 << l);
                        struct enn_view v = enn_net_output(net, enn_model_output(m, name));
                        if (v.s.w != lv[l].cols || v.s.h != lv[l].rows || v.s.c != ch[k]) {
                            printf("FAIL: %s is %dx%dx%d, OpenCV's %dx%dx%d\n", name, v.s.c,
                                   v.s.h, v.s.w, ch[k], lv[l].rows, lv[l].cols);
                            return 1;
                        }
                        *mm[k] = (struct yunet_map){v.data, v.plane, v.row, 1};
                        /* OpenCV's maps are cell-major: [rows][cols][channels] */
                        *tm[k] = (struct yunet_map){cvmap[k], 1, (size_t)lv[l].cols * (size_t)ch[k],
                                                    (size_t)ch[k]};
                        for (int c = 0; c < ch[k]; c++)
                            for (int y = 0; y < v.s.h; y++)
                                for (int x = 0; x < v.s.w; x++) {
                                    float a = v.data[(size_t)c * v.plane + (size_t)y * v.row +
                                                     (size_t)x];
                                    float b = cvmap[k][((size_t)y * (size_t)lv[l].cols +
                                                        (size_t)x) * (size_t)ch[k] + (size_t)c];
                                    float d = fabsf(a - b);
                                    if (!(d <= isa_worst[k]))
                                        isa_worst[k] = d;   /* NaN sticks */
                                }
                    }
                    mine[l].stride = theirs[l].stride = 8 << l;
                    mine[l].cols = theirs[l].cols = lv[l].cols;
                    mine[l].rows = theirs[l].rows = lv[l].rows;
                }
                /* the same faces, decoded by the same code from either layout */
                struct det_face a[256], b[256];
                int na = det_nms(a, yunet_decode(mine, 3, 1.0, 1.0, 0.6f, a, 256), 0.3f);
                int nb = det_nms(b, yunet_decode(theirs, 3, 1.0, 1.0, 0.6f, b, 256), 0.3f);
                faces_cv += nb;
                for (int i = 0; i < nb; i++)
                    for (int j = 0; j < na; j++)
                        if (det_iou(&a[j], &b[i]) > 0.95f && fabsf(a[j].score - b[i].score) < 1e-3f) {
                            faces_same++;
                            break;
                        }
                if (na != nb) {
                    printf("FAIL: %s on %s at %dx%d: %d faces, OpenCV %d\n", ISAS[s], PHOTOS[p],
                           w, h, na, nb);
                    failures++;
                }
                free(px);
            }
            free(photo);
        }
        printf("%s: max abs difference from OpenCV DNN over %zu photos x 2 sizes: "
               "cls %.2g, obj %.2g, bbox %.2g, kps %.2g\n", ISAS[s],
               sizeof PHOTOS / sizeof *PHOTOS, isa_worst[0], isa_worst[1], isa_worst[2],
               isa_worst[3]);
        for (int k = 0; k < 4; k++)
            worst[k] = isa_worst[k] > worst[k] || isnan(isa_worst[k]) ? isa_worst[k] : worst[k];
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    printf("faces: %d of OpenCV's %d found alike (IoU > 0.95, score within 1e-3)\n", faces_same,
           faces_cv);
    if (!(worst[0] < SCORE_TOL && worst[1] < SCORE_TOL)) {
        printf("FAIL: score maps differ by %.2g / %.2g (bound %.0e)\n", worst[0], worst[1],
               SCORE_TOL);
        failures++;
    }
    if (!(worst[2] < 1e-2f && worst[3] < 1e-2f)) {
        printf("FAIL: box or landmark maps differ by %.2g / %.2g cells\n", worst[2], worst[3]);
        failures++;
    }
    if (faces_same != faces_cv || isas < 1)
        failures++;
    ocv_yunet_free(cv);
    enn_model_free(m);
    return failures ? 1 : 0;
}
