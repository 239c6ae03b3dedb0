#include "detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencv_adapter.h"

#define MAX_CANDIDATES 2048

struct det_detector {
    struct det_config cfg;
    struct ocv_yunet *yunet;
    struct ocv_cascade *cascade;
    uint8_t *gray;               /* BGR -> gray for the cascade, grown as needed */
    size_t gray_cap;
    struct det_face cand[MAX_CANDIDATES];
};

const char *det_backend_name(enum det_backend b)
{
    return b == DET_YUNET ? "yunet" : "cascade";
}

enum det_backend det_backend_parse(const char *name)
{
    if (strcmp(name, "cascade") == 0)
        return DET_CASCADE;
    if (strcmp(name, "yunet") == 0)
        return DET_YUNET;
    return 0;
}

void det_set_threads(int n) { ocv_set_threads(n); }

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

int det_create(const struct det_config *cfg, struct det_detector **out, char *err,
               size_t errlen)
{
    *out = NULL;
    struct det_detector *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->cfg = *cfg;
    struct det_config *c = &d->cfg;
    if (!c->backend)
        c->backend = DET_CASCADE;
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
    char why[400] = "";
    if (c->backend == DET_YUNET) {
        if (!c->model) {
            snprintf(err, errlen, "the yunet detector needs a model file "
                     "(face_detection_yunet_2023mar.onnx from the OpenCV model zoo)");
        } else if (!(d->yunet = ocv_yunet_load(c->model, why, sizeof why))) {
            snprintf(err, errlen, "YuNet model %s: %s", c->model, why);
        }
        c->model = NULL;   /* not kept: the caller's string */
        if (d->yunet) {
            *out = d;
            return 0;
        }
    } else if (c->backend == DET_CASCADE) {
        const char *path = c->model ? c->model : DET_DEFAULT_CASCADE;
        if (!(d->cascade = ocv_cascade_load(path, why, sizeof why)))
            snprintf(err, errlen, "cascade %s: %s%s", path, why,
                     c->model ? "" : " (Debian's opencv-data package installs it)");
        c->model = NULL;
        if (d->cascade) {
            *out = d;
            return 0;
        }
    } else {
        snprintf(err, errlen, "unknown detector backend %d", (int)c->backend);
    }
    free(d);
    return -1;
}

void det_free(struct det_detector *d)
{
    if (!d)
        return;
    ocv_yunet_free(d->yunet);
    ocv_cascade_free(d->cascade);
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

static int run_yunet(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
                     int channels, char *err, size_t errlen)
{
    double scale = scale_for(d, w);
    struct ocv_yunet_level lv[3];
    if (ocv_yunet_run(d->yunet, px, w, h, stride, channels, scale, lv, err, errlen))
        return -1;
    int n = 0;
    float back = (float)(1.0 / scale), thr = d->cfg.score_threshold;
    for (int l = 0; l < 3; l++) {
        int cells = lv[l].rows * lv[l].cols;
        float s = (float)lv[l].stride;
        for (int i = 0; i < cells && n < MAX_CANDIDATES; i++) {
            float cls = fminf(fmaxf(lv[l].cls[i], 0), 1), obj = fminf(fmaxf(lv[l].obj[i], 0), 1);
            float score = sqrtf(cls * obj);
            if (score < thr)
                continue;
            const float *b = lv[l].bbox + 4 * i, *k = lv[l].kps + 10 * i;
            float col = (float)(i % lv[l].cols), row = (float)(i / lv[l].cols);
            float cx = (col + b[0]) * s, cy = (row + b[1]) * s;
            float bw = expf(fminf(b[2], 10)) * s, bh = expf(fminf(b[3], 10)) * s;
            struct det_face *f = &d->cand[n++];
            f->x = (cx - bw / 2) * back;
            f->y = (cy - bh / 2) * back;
            f->w = bw * back;
            f->h = bh * back;
            f->score = score;
            f->has_landmarks = true;
            for (int j = 0; j < 5; j++) {
                f->landmarks[2 * j] = (col + k[2 * j]) * s * back;
                f->landmarks[2 * j + 1] = (row + k[2 * j + 1]) * s * back;
            }
        }
    }
    return det_nms(d->cand, n, d->cfg.nms_threshold);
}

static int run_cascade(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
                       int channels, char *err, size_t errlen)
{
    const uint8_t *gray = px;
    if (channels == 3) {
        size_t need = (size_t)w * (size_t)h;
        if (need > d->gray_cap) {
            uint8_t *g = realloc(d->gray, need);
            if (!g) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            d->gray = g;
            d->gray_cap = need;
        }
        for (int y = 0; y < h; y++) {
            const uint8_t *row = px + (size_t)y * stride;
            for (int x = 0; x < w; x++)   /* BT.601 luma, in integers */
                d->gray[(size_t)y * (size_t)w + (size_t)x] =
                    (uint8_t)((29 * row[3 * x] + 150 * row[3 * x + 1] + 77 * row[3 * x + 2]) >> 8);
        }
        gray = d->gray;
        stride = (size_t)w;
    }
    struct ocv_rect r[MAX_CANDIDATES / 4];
    int n = ocv_cascade_detect(d->cascade, gray, w, h, stride, scale_for(d, w), d->cfg.min_face,
                               d->cfg.min_neighbors, r, MAX_CANDIDATES / 4, err, errlen);
    for (int i = 0; i < n; i++)
        d->cand[i] = (struct det_face){r[i].x, r[i].y, r[i].w, r[i].h, 1.0f, false, {0}};
    return n;
}

int det_detect(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
               int channels, struct det_face *out, int max, char *err, size_t errlen)
{
    if (w < 1 || h < 1 || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "bad image: %dx%d with %d channels", w, h, channels);
        return -1;
    }
    int n = d->yunet ? run_yunet(d, px, w, h, stride, channels, err, errlen)
                     : run_cascade(d, px, w, h, stride, channels, err, errlen);
    if (n < 0)
        return -1;
    int kept = 0, limit = max < d->cfg.max_faces ? max : d->cfg.max_faces;
    for (int i = 0; i < n && kept < limit; i++)
        if (d->cand[i].w >= (float)d->cfg.min_face && d->cand[i].h >= (float)d->cfg.min_face)
            out[kept++] = d->cand[i];
    return kept;
}

int det_detect_region(struct det_detector *d, const uint8_t *px, int w, int h, size_t stride,
                      int channels, float rx, float ry, float rw, float rh,
                      struct det_face *out, int max, char *err, size_t errlen)
{
    int x0 = (int)fmaxf(0, floorf(rx)), y0 = (int)fmaxf(0, floorf(ry));
    int x1 = (int)fminf((float)w, ceilf(rx + rw)), y1 = (int)fminf((float)h, ceilf(ry + rh));
    if (x1 - x0 < d->cfg.min_face || y1 - y0 < d->cfg.min_face)
        return 0;   /* nothing a face could fit in */
    int n = det_detect(d, px + (size_t)y0 * stride + (size_t)x0 * (size_t)channels, x1 - x0,
                       y1 - y0, stride, channels, out, max, err, errlen);
    for (int i = 0; i < n; i++) {
        out[i].x += (float)x0;
        out[i].y += (float)y0;
        for (int k = 0; out[i].has_landmarks && k < 5; k++) {
            out[i].landmarks[2 * k] += (float)x0;
            out[i].landmarks[2 * k + 1] += (float)y0;
        }
    }
    return n;
}
