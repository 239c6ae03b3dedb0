#define _POSIX_C_SOURCE 200809L
#include "detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef EMOTIOND_WITH_OPENCV
#include "opencv_adapter.h"
#endif
#include "model.h"
#include "yunet.h"

#define MAX_CANDIDATES 2048
#define YUNET_FILE "face_detection_yunet_2023mar.enn"

struct det_detector {
    struct det_config cfg;
    struct yunet *yunet;            /* yunet: our engine */
    struct ocv_yunet *ocv_yunet;    /* yunet-opencv */
    struct ocv_cascade *cascade;
    uint8_t *gray;                  /* BGR -> gray, grown as needed */
    size_t gray_cap;
    struct det_face cand[MAX_CANDIDATES];
};

static const char *const NAMES[] = {[DET_YUNET] = "yunet", [DET_YUNET_OPENCV] = "yunet-opencv",
                                    [DET_CASCADE] = "cascade"};

const char *det_backend_name(enum det_backend b)
{
    return b >= DET_YUNET && b <= DET_CASCADE ? NAMES[b] : "unknown";
}

enum det_backend det_backend_parse(const char *name)
{
    for (int b = DET_YUNET; b <= DET_CASCADE; b++)
        if (strcmp(name, NAMES[b]) == 0)
            return (enum det_backend)b;
    return 0;
}

bool det_backend_available(enum det_backend b)
{
#ifdef EMOTIOND_WITH_OPENCV
    return b >= DET_YUNET && b <= DET_CASCADE;
#else
    return b == DET_YUNET;
#endif
}

static int unavailable(enum det_backend b, const char *name, char *err, size_t errlen)
{
    if (!b)
        snprintf(err, errlen, "unknown detector backend '%s' (yunet, yunet-opencv or cascade)",
                 name);
    else
        snprintf(err, errlen, "emotiond was built without OpenCV: detector backend '%s' is not "
                 "available; use 'yunet'", name);
    return -1;
}

int det_backend_check(const char *name, char *err, size_t errlen)
{
    enum det_backend b = det_backend_parse(name);
    return det_backend_available(b) ? 0 : unavailable(b, name, err, errlen);
}

const char *det_default_model(enum det_backend b)
{
    if (b == DET_CASCADE)
        return DET_DEFAULT_CASCADE;
    if (b != DET_YUNET)
        return NULL;
#ifdef EMOTIOND_SOURCE_DIR
    /* running from a build: the source tree's copy when none is installed */
    const char *tree = EMOTIOND_SOURCE_DIR "/models/" YUNET_FILE;
    if (access(YUNET_DEFAULT_MODEL, R_OK) != 0 && access(tree, R_OK) == 0)
        return tree;
#endif
    return YUNET_DEFAULT_MODEL;
}

void det_set_threads(int n)
{
#ifdef EMOTIOND_WITH_OPENCV
    ocv_set_threads(n);
#else
    (void)n;   /* our engine runs on the calling thread */
#endif
}

void det_configure(struct det_detector *d, const struct det_config *cfg)
{
    if (cfg->min_face)
        d->cfg.min_face = cfg->min_face;
    if (cfg->max_faces)
        d->cfg.max_faces = cfg->max_faces;
    if (cfg->score_threshold > 0)
        d->cfg.score_threshold = cfg->score_threshold;
    if (cfg->nms_threshold > 0)
        d->cfg.nms_threshold = cfg->nms_threshold;
}

static int load(struct det_detector *d, char *err, size_t errlen)
{
    const struct det_config *c = &d->cfg;
    const char *path = c->model ? c->model : det_default_model(c->backend);
    char why[400] = "";
    if (c->backend == DET_YUNET) {
        char q8[4096 + 8];
        if (c->int8 && enn_model_precision_path(path, ENN_PRECISION_INT8, q8, sizeof q8) == 0)
            path = q8;
        size_t len = strlen(path);
        /* configs from before yunet ran on our engine name the ONNX file */
        bool onnx = len > 5 && strcmp(path + len - 5, ".onnx") == 0;
        if (!(d->yunet = yunet_load(path, why, sizeof why)))
            snprintf(err, errlen, "YuNet model: %s%s", why,   /* why names the file */
                     onnx ? " (an ONNX file is for backend yunet-opencv; backend yunet takes "
                            "the shipped .enn: leave [detect] model empty)"
                          : "");
        return d->yunet ? 0 : -1;
    }
#ifdef EMOTIOND_WITH_OPENCV
    if (c->backend == DET_YUNET_OPENCV) {
        if (!path)
            snprintf(err, errlen, "the yunet-opencv detector needs a model file "
                     "(face_detection_yunet_2023mar.onnx from the OpenCV model zoo)");
        else if (!(d->ocv_yunet = ocv_yunet_load(path, why, sizeof why)))
            snprintf(err, errlen, "YuNet ONNX model %s: %s", path, why);
        return d->ocv_yunet ? 0 : -1;
    }
    if (!(d->cascade = ocv_cascade_load(path, why, sizeof why)))
        snprintf(err, errlen, "cascade %s: %s%s", path, why,
                 c->model ? "" : " (Debian's opencv-data package installs it)");
    return d->cascade ? 0 : -1;
#else
    (void)err, (void)errlen;
    return -1;   /* det_create checked the backend */
#endif
}

int det_create(const struct det_config *cfg, struct det_detector **out, char *err,
               size_t errlen)
{
    *out = NULL;
    enum det_backend b = cfg->backend ? cfg->backend : DET_YUNET;
    if (!det_backend_available(b))
        return unavailable(b, det_backend_name(b), err, errlen);
    struct det_detector *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->cfg = *cfg;
    struct det_config *c = &d->cfg;
    c->backend = b;
    if (!c->detect_width)
        c->detect_width = 320;
    if (!c->min_face)
        c->min_face = 20;
    if (!c->max_faces)
        c->max_faces = 8;
    if (c->score_threshold <= 0)
        c->score_threshold = 0.6f;
    if (c->nms_threshold <= 0)
        c->nms_threshold = 0.3f;
    if (!c->min_neighbors)
        c->min_neighbors = 4;
    int rc = load(d, err, errlen);
    c->model = NULL;   /* not kept: the caller's string */
    if (rc) {
        det_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void det_free(struct det_detector *d)
{
    if (!d)
        return;
    yunet_free(d->yunet);
#ifdef EMOTIOND_WITH_OPENCV
    ocv_yunet_free(d->ocv_yunet);
    ocv_cascade_free(d->cascade);
#endif
    free(d->gray);
    free(d);
}

float det_iou(const struct det_face *a, const struct det_face *b)
{
    float ix = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
    float iy = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
    if (ix <= 0 || iy <= 0)
        return 0;
    float inter = ix * iy;
    return inter / (a->w * a->h + b->w * b->h - inter);
}

static int by_score(const void *pa, const void *pb)
{
    const struct det_face *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

int det_nms(struct det_face *f, int n, float iou)
{
    qsort(f, (size_t)n, sizeof *f, by_score);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool keep = true;
        for (int k = 0; k < kept && keep; k++)
            keep = det_iou(&f[i], &f[k]) <= iou;
        if (keep)
            f[kept++] = f[i];
    }
    return kept;
}

static double scale_for(const struct det_detector *d, int width)
{
    return width > d->cfg.detect_width ? (double)d->cfg.detect_width / width : 1.0;
}

/* 8-bit gray from BGR (channels 3) into d->gray; gray input is used as it is. */
static const uint8_t *gray_of(struct det_detector *d, const uint8_t *px, int w, int h,
                              size_t *stride, int channels, char *err, size_t errlen)
{
    if (channels == 1)
        return px;
    size_t need = (size_t)w * (size_t)h;
    if (need > d->gray_cap) {
        uint8_t *g = realloc(d->gray, need);
        if (!g) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        d->gray = g;
        d->gray_cap = need;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *row = px + (size_t)y * *stride;
        for (int x = 0; x < w; x++)   /* BT.601 luma, in integers */
            d->gray[(size_t)y * (size_t)w + (size_t)x] =
                (uint8_t)((29 * row[3 * x] + 150 * row[3 * x + 1] + 77 * row[3 * x + 2]) >> 8);
    }
    *stride = (size_t)w;
    return d->gray;
}

static int run_yunet(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
                     int channels, char *err, size_t errlen)
{
    const uint8_t *gray = gray_of(d, px, w, h, &stride, channels, err, errlen);
    if (!gray)
        return -1;
    int n = yunet_detect(d->yunet, gray, w, h, stride, scale_for(d, w), d->cfg.score_threshold,
                         d->cand, MAX_CANDIDATES, err, errlen);
    return n < 0 ? -1 : det_nms(d->cand, n, d->cfg.nms_threshold);
}

#ifdef EMOTIOND_WITH_OPENCV
static int run_yunet_opencv(struct det_detector *d, const uint8_t *px, int w, int h,
                            size_t stride, int channels, char *err, size_t errlen)
{
    double scale = scale_for(d, w);
    struct ocv_yunet_level ol[3];
    if (ocv_yunet_run(d->ocv_yunet, px, w, h, stride, channels, scale, ol, err, errlen))
        return -1;
    /* OpenCV's maps are cell-major: [rows][cols][channels] */
    struct yunet_level lv[3];
    for (int l = 0; l < 3; l++) {
        size_t cols = (size_t)ol[l].cols;
        lv[l] = (struct yunet_level){
            .stride = ol[l].stride, .cols = ol[l].cols, .rows = ol[l].rows,
            .cls = {ol[l].cls, 1, cols, 1},
            .obj = {ol[l].obj, 1, cols, 1},
            .bbox = {ol[l].bbox, 1, cols * 4, 4},
            .kps = {ol[l].kps, 1, cols * 10, 10},
        };
    }
    /* the scales OpenCV applied (rounded to whole pixels) map boxes back to the frame */
    int sw = (int)(w * scale + 0.5), sh = (int)(h * scale + 0.5);
    int n = yunet_decode(lv, 3, (double)(sw < 1 ? 1 : sw) / w, (double)(sh < 1 ? 1 : sh) / h,
                         d->cfg.score_threshold, d->cand, MAX_CANDIDATES);
    return det_nms(d->cand, n, d->cfg.nms_threshold);
}

static int run_cascade(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
                       int channels, char *err, size_t errlen)
{
    const uint8_t *gray = gray_of(d, px, w, h, &stride, channels, err, errlen);
    if (!gray)
        return -1;
    struct ocv_rect r[MAX_CANDIDATES / 4];
    int n = ocv_cascade_detect(d->cascade, gray, w, h, stride, scale_for(d, w), d->cfg.min_face,
                               d->cfg.min_neighbors, r, MAX_CANDIDATES / 4, err, errlen);
    for (int i = 0; i < n; i++)
        d->cand[i] = (struct det_face){r[i].x, r[i].y, r[i].w, r[i].h, 1.0f, false, {0}};
    return n;
}
#endif

int det_detect(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
               int channels, struct det_face *out, int max, char *err, size_t errlen)
{
    if (w < 1 || h < 1 || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "bad image: %dx%d with %d channels", w, h, channels);
        return -1;
    }
    int n;
#ifdef EMOTIOND_WITH_OPENCV
    if (d->ocv_yunet)
        n = run_yunet_opencv(d, px, w, h, stride, channels, err, errlen);
    else if (d->cascade)
        n = run_cascade(d, px, w, h, stride, channels, err, errlen);
    else
#endif
        n = run_yunet(d, px, w, h, stride, channels, err, errlen);
    if (n < 0)
        return -1;
    int kept = 0, limit = max < d->cfg.max_faces ? max : d->cfg.max_faces;
    for (int i = 0; i < n && kept < limit; i++)
        if (d->cand[i].w >= (float)d->cfg.min_face && d->cand[i].h >= (float)d->cfg.min_face)
            out[kept++] = d->cand[i];
    return kept;
}
