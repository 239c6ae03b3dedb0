#include "faces.h"

#include <string.h>

#include "facecrop.h"

void faces_init(struct faces_stage *st, struct det_detector *det, struct enn_net *net,
                const struct config *cfg)
{
    memset(st, 0, sizeof *st);
    st->det = det;
    st->net = net;
    st->interval = cfg->detect.interval;
    st->crop_widen = (float)cfg->classify.crop_widen;
    st->align_eyes = cfg->classify.align_eyes;
    struct trk_config tc = {
        .min_iou = (float)cfg->track.min_iou,
        .max_absent_ns = (int64_t)(cfg->track.max_absent_s * 1e9),
        .half_life_s = (float)cfg->track.half_life_s,
    };
    trk_init(&st->tracker, &tc, enn_net_model(net)->n_classes);
}

int faces_process(struct faces_stage *st, const uint8_t *gray, const uint8_t *pixels,
                  int channels, int width, int height, size_t stride_gray, size_t stride_px,
                  int64_t ts_ns, struct face_result *out, int max, char *err, size_t errlen)
{
    struct trk_tracker *tr = &st->tracker;
    if (st->frames++ % (uint64_t)(st->interval > 0 ? st->interval : 1) == 0) {
        struct det_face found[FACES_MAX];
        int ids[FACES_MAX];
        int n = det_detect(st->det, pixels, width, height, stride_px, channels, found, FACES_MAX,
                           err, errlen);
        if (n < 0)
            return -1;
        trk_update(tr, found, n, ts_ns, ids);
    } else {
        trk_predict(tr, ts_ns);
    }
    const struct enn_model *m = enn_net_model(st->net);
    int n = 0;
    for (int i = 0; i < tr->n && n < max; i++) {
        struct trk_track *t = &tr->t[i];
        struct enn_box crop = facecrop_box(&t->box, st->crop_widen, st->align_eyes);
        float p[ENN_MAX_CLASSES];
        enn_net_classify(st->net, gray, width, height, stride_gray, &crop, 1, p);
        trk_observe(tr, t->id, p, ts_ns);
        struct face_result *r = &out[n++];
        r->id = t->id;
        r->box[0] = t->box.x, r->box[1] = t->box.y, r->box[2] = t->box.w, r->box[3] = t->box.h;
        memcpy(r->scores, t->smoothed, (size_t)m->n_classes * sizeof *r->scores);
        r->label = 0;
        for (int c = 1; c < m->n_classes; c++)
            r->label = r->scores[c] > r->scores[r->label] ? c : r->label;
    }
    return n;
}

void faces_frame_message(struct json_out *j, const struct enn_model *m, uint64_t seq,
                         double ts_unix, double latency_ms, int width, int height,
                         const struct face_result *faces, int n)
{
    json_raw(j, "{\"type\":\"frame\",\"seq\":");
    json_int(j, (long long)seq);
    json_raw(j, ",\"ts\":");
    json_num(j, ts_unix, 3);
    json_raw(j, ",\"latency_ms\":");
    json_num(j, latency_ms, 2);
    json_raw(j, ",\"width\":");
    json_int(j, width);
    json_raw(j, ",\"height\":");
    json_int(j, height);
    json_raw(j, ",\"faces\":[");
    for (int i = 0; i < n; i++) {
        const struct face_result *f = &faces[i];
        json_raw(j, i ? ",{\"id\":" : "{\"id\":");
        json_int(j, f->id);
        json_raw(j, ",\"box\":[");
        for (int k = 0; k < 4; k++) {
            json_raw(j, k ? "," : "");
            json_num(j, f->box[k], 0);
        }
        json_raw(j, "],\"label\":");
        json_str(j, m->classes[f->label]);
        json_raw(j, ",\"confidence\":");
        json_num(j, f->scores[f->label], 3);
        json_raw(j, ",\"scores\":{");
        for (int c = 0; c < m->n_classes; c++) {
            json_raw(j, c ? "," : "");
            json_str(j, m->classes[c]);
            json_raw(j, ":");
            json_num(j, f->scores[c], 3);
        }
        json_raw(j, "}}");
    }
    json_raw(j, "]}");
}
