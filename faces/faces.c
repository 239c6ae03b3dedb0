#include "faces.h"

#include <math.h>
#include <string.h>

#include "align.h"
#include "argmax.h"
#include "facecrop.h"

void faces_detector_config(const struct config *cfg, struct det_config *dc)
{
    *dc = (struct det_config){
        .backend = det_backend_parse(cfg->detect.backend),
        .model = cfg->detect.model[0] ? cfg->detect.model : NULL,
        .detect_width = cfg->detect.width,
        .min_face = cfg->detect.min_face,
        .max_faces = cfg->detect.max_faces,
        .score_threshold = (float)cfg->detect.score_threshold,
        .nms_threshold = (float)cfg->detect.nms_threshold,
        .int8 = strcmp(cfg->detect.precision, "int8") == 0,
    };
}

void faces_configure(struct faces_stage *st, const struct config *cfg)
{
    st->interval = cfg->detect.interval > 0 ? cfg->detect.interval : 1;
    st->crop_widen = (float)cfg->classify.crop_widen;
    st->align_eyes = cfg->classify.align_eyes;
    st->crop_landmarks = strcmp(cfg->classify.crop_rule, "landmarks") == 0;
    st->mirror = cfg->classify.mirror;
    st->tracker.cfg.min_iou = (float)cfg->track.min_iou;
    st->tracker.cfg.max_absent_ns = (int64_t)(cfg->track.max_absent_s * 1e9);
    st->smoother.half_life_s = (float)cfg->track.half_life_s;
}

void faces_init(struct faces_stage *st, struct det_detector *det, struct enn_net *net,
                const struct config *cfg)
{
    memset(st, 0, sizeof *st);
    st->det = det;
    st->net = net;
    int n_classes = net ? enn_net_model(net)->n_classes : 1;
    struct trk_config tc = {0};
    trk_init(&st->tracker, &tc);
    faces_smoother_init(&st->smoother, n_classes, 0);
    faces_configure(st, cfg);
}

void faces_add_detections(struct faces_stage *st, const struct det_face *dets, int n,
                          int64_t ts_ns)
{
    int ids[FACES_MAX];
    trk_update(&st->tracker, dets, n < FACES_MAX ? n : FACES_MAX, ts_ns, ids);
}

int faces_track(struct faces_stage *st, int64_t ts_ns, struct face_result *out, int max)
{
    struct trk_tracker *tr = &st->tracker;
    trk_predict(tr, ts_ns);
    int n = 0;
    for (int i = 0; i < tr->n && n < max; i++) {
        const struct trk_track *t = &tr->t[i];
        if (!trk_visible(t))
            continue;
        struct face_result *r = &out[n++];
        r->id = t->id;
        r->box[0] = t->box.x, r->box[1] = t->box.y, r->box[2] = t->box.w, r->box[3] = t->box.h;
        /* a face without landmarks (the cascade's) keeps the box rule */
        if (!st->crop_landmarks || !align_crop(&t->box, &align_fer2013, st->crop_widen, &r->crop))
            r->crop = facecrop_box(&t->box, st->crop_widen, st->align_eyes);
        r->mirror = st->mirror;
        r->label = 0;
    }
    return n;
}

bool faces_tracking(const struct faces_stage *st)
{
    for (int i = 0; i < st->tracker.n; i++)
        if (trk_visible(&st->tracker.t[i]))
            return true;
    return false;
}

int faces_locate(struct faces_stage *st, const uint8_t *pixels, int channels, int width,
                 int height, size_t stride, int64_t ts_ns, struct face_result *out, int max,
                 bool *detected, char *err, size_t errlen)
{
    *detected = st->frames++ % (uint64_t)st->interval == 0;
    if (*detected) {
        struct det_face found[FACES_MAX];
        int n = det_detect(st->det, pixels, width, height, stride, channels, found, FACES_MAX,
                           err, errlen);
        if (n < 0)
            return -1;
        faces_add_detections(st, found, n, ts_ns);
    }
    return faces_track(st, ts_ns, out, max);
}

void faces_classify(struct enn_net *net, const uint8_t *gray, int width, int height,
                    size_t stride, struct face_result *faces, int n)
{
    for (int i = 0; i < n; i++) {
        enn_net_set_mirror(net, faces[i].mirror);
        enn_net_classify(net, gray, width, height, stride, &faces[i].crop, 1, faces[i].scores);
    }
}

void faces_smoother_init(struct faces_smoother *sm, int n_classes, float half_life_s)
{
    memset(sm, 0, sizeof *sm);
    sm->n_classes = n_classes;
    sm->half_life_s = half_life_s;
}

/* smoothed moves towards probs by 1 - 2^(-dt / half_life): the same pull per second
 * whatever the frame rate (all the way when half_life is 0) */
static void smooth_toward(float *smoothed, const float *probs, int n, float dt_s,
                          float half_life_s)
{
    float alpha = 1;
    if (half_life_s > 0)
        alpha = dt_s <= 0 ? 0 : 1 - exp2f(-dt_s / half_life_s);
    for (int c = 0; c < n; c++)
        smoothed[c] += alpha * (probs[c] - smoothed[c]);
}

void faces_smooth(struct faces_smoother *sm, struct face_result *faces, int n, int64_t ts_ns)
{
    int kept = 0;
    struct faces_smoothed next[FACES_MAX];
    for (int i = 0; i < n && i < FACES_MAX; i++) {
        struct face_result *f = &faces[i];
        int k = 0;
        while (k < sm->n && sm->track[k].id != f->id)
            k++;
        struct faces_smoothed *t = &next[kept++];
        t->id = f->id;
        t->ts_ns = ts_ns;
        if (k < sm->n) {
            memcpy(t->p, sm->track[k].p, (size_t)sm->n_classes * sizeof *t->p);
            smooth_toward(t->p, f->scores, sm->n_classes,
                          (float)(ts_ns - sm->track[k].ts_ns) / 1e9f, sm->half_life_s);
        } else {
            memcpy(t->p, f->scores, (size_t)sm->n_classes * sizeof *t->p);
        }
        memcpy(f->scores, t->p, (size_t)sm->n_classes * sizeof *t->p);
        f->label = argmax(f->scores, sm->n_classes);
    }
    memcpy(sm->track, next, (size_t)kept * sizeof next[0]);
    sm->n = kept;
}

int faces_process(struct faces_stage *st, const uint8_t *gray, const uint8_t *pixels,
                  int channels, int width, int height, size_t stride_gray, size_t stride_px,
                  int64_t ts_ns, struct face_result *out, int max, char *err, size_t errlen)
{
    bool detected;
    int n = faces_locate(st, pixels, channels, width, height, stride_px, ts_ns, out, max,
                         &detected, err, errlen);
    if (n < 0)
        return -1;
    faces_classify(st->net, gray, width, height, stride_gray, out, n);
    faces_smooth(&st->smoother, out, n, ts_ns);
    return n;
}
