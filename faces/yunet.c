#define _POSIX_C_SOURCE 200809L
#include "yunet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "net.h"
#include "shrink.h"
#include "textsize.h"

#define N_LEVELS 3

static const char *const MAPS[4] = {"cls", "obj", "bbox", "kps"};
static const int MAP_CHANNELS[4] = {1, 1, 4, 10};

struct yunet {
    struct enn_model *model;
    struct enn_net *net;
    int outputs[N_LEVELS][4];    /* output index of MAPS[m] at stride 8 << level */
    struct shrink shrink;        /* frame -> network input */
};

static float get(const struct yunet_map *m, int c, int row, int col)
{
    return m->data[(size_t)c * m->channel + (size_t)row * m->row + (size_t)col * m->col];
}

int yunet_decode(const struct yunet_level *levels, int n_levels, double scale_x,
                 double scale_y, float threshold, struct det_face *out, int max)
{
    int n = 0;
    float bx = (float)(1.0 / scale_x), by = (float)(1.0 / scale_y);
    for (int l = 0; l < n_levels; l++) {
        const struct yunet_level *lv = &levels[l];
        float s = (float)lv->stride;
        for (int row = 0; row < lv->rows; row++)
            for (int col = 0; col < lv->cols && n < max; col++) {
                /* clamped: OpenCV's maps come from a sigmoid too, but rounding may stray */
                float cls = fminf(fmaxf(get(&lv->cls, 0, row, col), 0), 1);
                float obj = fminf(fmaxf(get(&lv->obj, 0, row, col), 0), 1);
                float score = sqrtf(cls * obj);
                if (!(score >= threshold))
                    continue;
                float cx = ((float)col + get(&lv->bbox, 0, row, col)) * s;
                float cy = ((float)row + get(&lv->bbox, 1, row, col)) * s;
                /* capped: a wild log-size would overflow expf to infinity */
                float bw = expf(fminf(get(&lv->bbox, 2, row, col), 10)) * s;
                float bh = expf(fminf(get(&lv->bbox, 3, row, col), 10)) * s;
                struct det_face *f = &out[n++];
                f->x = (cx - bw / 2) * bx;
                f->y = (cy - bh / 2) * by;
                f->w = bw * bx;
                f->h = bh * by;
                f->score = score;
                f->has_landmarks = true;
                for (int j = 0; j < 5; j++) {
                    f->landmarks[2 * j] =
                        ((float)col + get(&lv->kps, 2 * j, row, col)) * s * bx;
                    f->landmarks[2 * j + 1] =
                        ((float)row + get(&lv->kps, 2 * j + 1, row, col)) * s * by;
                }
            }
    }
    return n;
}

/* The outputs the decoder needs, with the channel counts it assumes. */
static int find_outputs(struct yunet *y, const char *path, char *err, size_t errlen)
{
    const struct enn_model *m = y->model;
    if (m->n_classes != 0 || !m->any_size || m->input.c != 1) {
        snprintf(err, errlen, "%s: not a YuNet detector (%s; expected a fully convolutional "
                 "model with one gray input channel and no classes)", path,
                 m->n_classes ? "it is a classifier" : "wrong input or layers");
        return -1;
    }
    for (int l = 0; l < N_LEVELS; l++)
        for (int k = 0; k < 4; k++) {
            char name[16];
            snprintf(name, sizeof name, "%s_%d", MAPS[k], 8 << l);
            int o = enn_model_output(m, name);
            if (o < 0) {
                snprintf(err, errlen, "%s: not a YuNet detector (no output '%s')", path, name);
                return -1;
            }
            struct enn_shape s = enn_model_value_shape(m, m->outputs[o].value);
            struct enn_shape in = m->input;
            if (s.c != MAP_CHANNELS[k] || s.h * (8 << l) != in.h || s.w * (8 << l) != in.w) {
                snprintf(err, errlen, "%s: output '%s' is %dx%dx%d, YuNet's is %dx%dx%d at "
                         "this input size", path, name, s.c, s.h, s.w, MAP_CHANNELS[k],
                         in.h / (8 << l), in.w / (8 << l));
                return -1;
            }
            y->outputs[l][k] = o;
        }
    return 0;
}

struct yunet *yunet_load(const char *path, char *err, size_t errlen)
{
    struct yunet *y = calloc(1, sizeof *y);
    if (!y) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[TEXT_WHY];
    if (enn_model_load(path, &y->model, why, sizeof why)) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    if (find_outputs(y, path, err, errlen))
        goto fail;
    if (enn_net_create(y->model, &y->net, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", path, why);
        goto fail;
    }
    return y;
fail:
    yunet_free(y);
    return NULL;
}

void yunet_free(struct yunet *y)
{
    if (!y)
        return;
    enn_net_free(y->net);
    enn_model_free(y->model);
    shrink_free(&y->shrink);
    free(y);
}

size_t yunet_memory(const struct yunet *y)
{
    const struct shrink *s = &y->shrink;
    return enn_net_memory(y->net) + (s->cap_x0 + s->cap_y0) * sizeof(int) +
           (s->cap_xw + s->cap_yw + s->cap_acc) * sizeof(float);
}

const char *yunet_isa(const struct yunet *y)
{
    return enn_net_isa(y->net);
}

static int round_up32(int v)
{
    return v < 32 ? 32 : (v + 31) / 32 * 32;
}

int yunet_detect(struct yunet *y, const uint8_t *gray, int width, int height, size_t stride,
                 double scale, float threshold, struct det_face *out, int max, char *err,
                 size_t errlen)
{
    if (width < 1 || height < 1 || !(scale > 0 && scale <= 1)) {
        snprintf(err, errlen, "cannot detect on a %dx%d frame at scale %g", width, height,
                 scale);
        return -1;
    }
    double fw = width * scale + 0.5, fh = height * scale + 0.5;
    if (fw > ENN_MAX_PLAN_DIM || fh > ENN_MAX_PLAN_DIM) {
        snprintf(err, errlen, "a %dx%d frame at scale %g is larger than the detector plans "
                 "(%d a side)", width, height, scale, ENN_MAX_PLAN_DIM);
        return -1;
    }
    int sw = fw < 1 ? 1 : (int)fw, sh = fh < 1 ? 1 : (int)fh;
    int pw = round_up32(sw), ph = round_up32(sh);
    if (enn_net_resize(y->net, ph, pw, err, errlen))
        return -1;
    if (shrink_plan(&y->shrink, width, height, sw, sh)) {
        snprintf(err, errlen, "out of memory planning to scale %dx%d to %dx%d", width, height,
                 sw, sh);
        return -1;
    }
    const struct enn_model *m = y->model;
    size_t row, plane;
    float *in = enn_net_input(y->net, &row, &plane);
    /* network input = (p / 255 - mean) / std */
    shrink_run(&y->shrink, gray, stride, 1 / (255 * m->std), -m->mean / m->std, in, row);
    /* the padding is what a zero pixel normalises to (OpenCV pads with black) */
    float black = -m->mean / m->std;
    for (int r = 0; r < ph; r++)
        for (int c = r < sh ? sw : 0; c < pw; c++)
            in[(size_t)r * row + (size_t)c] = black;
    enn_net_forward(y->net);

    struct yunet_level lv[N_LEVELS];
    for (int l = 0; l < N_LEVELS; l++) {
        struct yunet_map *maps[4] = {&lv[l].cls, &lv[l].obj, &lv[l].bbox, &lv[l].kps};
        for (int k = 0; k < 4; k++) {
            struct enn_view v = enn_net_output(y->net, y->outputs[l][k]);
            *maps[k] = (struct yunet_map){v.data, v.plane, v.row, 1};
            lv[l].rows = v.s.h;
            lv[l].cols = v.s.w;
        }
        lv[l].stride = 8 << l;
    }
    /* the scales actually applied (rounding) map boxes back to the frame */
    return yunet_decode(lv, N_LEVELS, (double)sw / width, (double)sh / height, threshold, out,
                        max);
}
