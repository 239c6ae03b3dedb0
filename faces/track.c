#include "track.h"

#include <string.h>

void trk_init(struct trk_tracker *tr, const struct trk_config *cfg)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = cfg ? *cfg : (struct trk_config){0};
    if (tr->cfg.min_iou <= 0)
        tr->cfg.min_iou = 0.3f;
    if (tr->cfg.max_absent_ns <= 0)
        tr->cfg.max_absent_ns = 1000000000;
    tr->next_id = 1;
}

static struct det_face predicted(const struct trk_track *t, int64_t ts_ns)
{
    struct det_face b = t->box;
    float dt = (float)(ts_ns - t->box_ns) / 1e9f;
    b.x += t->vx * dt;
    b.y += t->vy * dt;
    return b;
}

void trk_predict(struct trk_tracker *tr, int64_t ts_ns)
{
    for (int i = 0; i < tr->n; i++) {
        struct trk_track *t = &tr->t[i];
        t->box = predicted(t, ts_ns);
        t->box_ns = ts_ns;
    }
}

void trk_update(struct trk_tracker *tr, const struct det_face *dets, int n, int64_t ts_ns,
                int *ids)
{
    /* Greedy matching, best IoU first: with a handful of faces it equals the optimum in
       practice and costs nothing. */
    bool det_used[TRK_MAX_TRACKS * 2] = {false}, trk_used[TRK_MAX_TRACKS] = {false};
    struct det_face pred[TRK_MAX_TRACKS];
    if (n > TRK_MAX_TRACKS * 2)
        n = TRK_MAX_TRACKS * 2;
    for (int i = 0; i < n; i++)
        ids[i] = 0;
    for (int k = 0; k < tr->n; k++)
        pred[k] = predicted(&tr->t[k], ts_ns);
    for (;;) {
        float best = tr->cfg.min_iou;
        int bi = -1, bk = -1;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < tr->n && !det_used[i]; k++) {
                if (trk_used[k])
                    continue;
                float iou = det_iou(&dets[i], &pred[k]);
                if (iou >= best) {
                    best = iou;
                    bi = i;
                    bk = k;
                }
            }
        if (bi < 0)
            break;
        struct trk_track *t = &tr->t[bk];
        float dt = (float)(ts_ns - t->seen_ns) / 1e9f;
        if (dt > 0) {   /* velocity of the box centre between detections, lightly smoothed */
            float vx = (dets[bi].x + dets[bi].w / 2 - t->seen.x - t->seen.w / 2) / dt;
            float vy = (dets[bi].y + dets[bi].h / 2 - t->seen.y - t->seen.h / 2) / dt;
            t->vx = 0.5f * t->vx + 0.5f * vx;
            t->vy = 0.5f * t->vy + 0.5f * vy;
        }
        t->box = t->seen = dets[bi];
        t->box_ns = t->seen_ns = ts_ns;
        t->misses = -1;     /* counted up to 0 below */
        det_used[bi] = trk_used[bk] = true;
        ids[bi] = t->id;
    }
    /* drop tracks gone too long (keeping order), then start tracks for the rest */
    int kept = 0;
    for (int k = 0; k < tr->n; k++) {
        tr->t[k].misses++;
        if (ts_ns - tr->t[k].seen_ns <= tr->cfg.max_absent_ns)
            tr->t[kept++] = tr->t[k];
    }
    tr->n = kept;
    for (int i = 0; i < n; i++) {
        if (det_used[i] || tr->n == TRK_MAX_TRACKS)
            continue;
        struct trk_track *t = &tr->t[tr->n++];
        memset(t, 0, sizeof *t);
        t->id = tr->next_id++;
        t->box = t->seen = dets[i];
        t->box_ns = t->seen_ns = ts_ns;
        ids[i] = t->id;
    }
}

bool trk_visible(const struct trk_track *t) { return t->misses == 0; }
