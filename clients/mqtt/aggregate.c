#include "aggregate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTHER AGG_MAX_LABELS            /* index of the "other" count */

struct track {
    long long id;
    bool used;
    bool ended;                         /* its daemon restarted: the id means another face */
    int label;                          /* last label, -1 before the first */
    double last_seen, last_published;   /* capture times; published -1: never */
    long frames;                        /* this window */
    double dwell_s;
    long label_frames[AGG_MAX_LABELS + 1];
};

struct agg {
    char labels[AGG_MAX_LABELS][AGG_LABEL];
    int n_labels;
    struct track tracks[AGG_MAX_TRACKS];
    double prev_ts;                     /* -1: no frame yet */
    /* the window */
    long frames, faces, unlisted_tracks;
    double confidence_sum;
    long label_faces[AGG_MAX_LABELS + 1];
};

struct agg *agg_new(void)
{
    struct agg *a = calloc(1, sizeof *a);
    if (a)
        a->prev_ts = -1;
    return a;
}

void agg_free(struct agg *a)
{
    free(a);
}

static int label_index(struct agg *a, const char *name)
{
    if (!name || !*name || strlen(name) >= AGG_LABEL)
        return OTHER;
    for (int i = 0; i < a->n_labels; i++)
        if (!strcmp(a->labels[i], name))
            return i;
    if (a->n_labels == AGG_MAX_LABELS)
        return OTHER;
    snprintf(a->labels[a->n_labels], AGG_LABEL, "%s", name);
    return a->n_labels++;
}

void agg_set_classes(struct agg *a, const char *const *classes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        label_index(a, classes[i]);
}

/* The track's slot: its own, a free one, or the longest unseen one outside the window
 * (its summary line is not lost); NULL when all are in use in this window. */
static struct track *track_for(struct agg *a, long long id, double ts)
{
    struct track *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < AGG_MAX_TRACKS; i++) {
        struct track *t = &a->tracks[i];
        if (t->used && t->frames == 0 && (t->ended || ts - t->last_seen > AGG_FORGET_S))
            t->used = false;
        if (t->used && !t->ended && t->id == id)
            return t;
        if (!t->used && !free_slot)
            free_slot = t;
        if (t->used && t->frames == 0 && (!oldest || t->last_seen < oldest->last_seen))
            oldest = t;
    }
    struct track *t = free_slot ? free_slot : oldest;
    if (!t)
        return NULL;
    *t = (struct track){.id = id, .used = true, .label = -1, .last_seen = ts,
                        .last_published = -1};
    return t;
}

void agg_end_tracks(struct agg *a)
{
    a->prev_ts = -1;                    /* the daemon's downtime is nobody's dwell */
    for (int i = 0; i < AGG_MAX_TRACKS; i++)    /* track_for frees them once summarised */
        a->tracks[i].ended = a->tracks[i].used;
}

size_t agg_frame(struct agg *a, double ts, const struct agg_face *faces, size_t n,
                 struct agg_event *events, size_t max_events)
{
    double dt = a->prev_ts < 0 ? 0 : ts - a->prev_ts;
    dt = dt < 0 ? 0 : dt > AGG_MAX_GAP_S ? AGG_MAX_GAP_S : dt;
    a->prev_ts = ts;
    a->frames++;
    size_t n_events = 0;
    for (size_t i = 0; i < n; i++) {
        int l = label_index(a, faces[i].label);
        a->faces++;
        a->label_faces[l]++;
        a->confidence_sum += faces[i].confidence;
        struct track *t = track_for(a, faces[i].id, ts);
        if (!t) {
            a->unlisted_tracks++;
            continue;
        }
        if (t->label != l && l != OTHER) {
            if (n_events < max_events) {
                struct agg_event *e = &events[n_events];
                e->id = t->id;
                snprintf(e->from, sizeof e->from, "%s", t->label >= 0 ? a->labels[t->label] : "");
                snprintf(e->to, sizeof e->to, "%s", a->labels[l]);
                e->confidence = faces[i].confidence;
            }
            n_events++;
            t->label = l;
        }
        t->frames++;
        t->dwell_s += dt;
        t->label_frames[l]++;
        t->last_seen = ts;
    }
    return n_events;
}

bool agg_window_empty(const struct agg *a)
{
    return a->frames == 0 && a->faces == 0;
}

bool agg_face_due(struct agg *a, long long id, double ts, double interval_s)
{
    if (interval_s <= 0)
        return true;
    struct track *t = track_for(a, id, ts);
    /* a clock stepped back (NTP) makes the gap negative: due, not silent until the
       clock catches up with the last publication */
    double since = t && t->last_published >= 0 ? ts - t->last_published : interval_s;
    if (since >= 0 && since < interval_s)
        return false;
    if (t)
        t->last_published = ts;
    return true;
}

void agg_window_begin(struct agg_window *w, double wall, double period)
{
    w->start = wall;
    w->end = (floor(wall / period) + 1) * period;
}

bool agg_window_due(struct agg_window *w, double wall, double period, double *start,
                    double *end)
{
    if (wall < w->start) {              /* stepped back */
        agg_window_begin(w, wall, period);
        return false;
    }
    if (wall < w->end)
        return false;
    *start = w->start;
    *end = w->end;
    w->start = w->end;
    w->end += period;
    if (w->end <= wall)                 /* stepped forward */
        agg_window_begin(w, wall, period);
    return true;
}

static const char *label_name(const struct agg *a, int i)
{
    return i == OTHER ? "other" : a->labels[i];
}

json_t *agg_summary(struct agg *a, double start, double end)
{
    json_t *labels = json_object(), *tracks = json_array();
    for (int i = 0; i < a->n_labels; i++)
        json_object_set_new(labels, a->labels[i], json_integer(a->label_faces[i]));
    if (a->label_faces[OTHER])
        json_object_set_new(labels, "other", json_integer(a->label_faces[OTHER]));
    for (int i = 0; i < AGG_MAX_TRACKS; i++) {
        struct track *t = &a->tracks[i];
        if (!t->used || !t->frames)
            continue;
        int best = 0;
        for (int l = 1; l <= OTHER; l++)
            if (t->label_frames[l] > t->label_frames[best])
                best = l;
        json_array_append_new(tracks, json_pack("{sI sf sI ss}", "id", (json_int_t)t->id,
                                                "dwell_s", t->dwell_s, "frames",
                                                (json_int_t)t->frames, "label",
                                                label_name(a, best)));
        t->frames = 0;
        t->dwell_s = 0;
        memset(t->label_frames, 0, sizeof t->label_frames);
    }
    json_t *s = json_pack("{ss sf sf sf sI sI so so sI}", "type", "summary", "start", start,
                          "end", end, "interval_s", end - start, "frames",
                          (json_int_t)a->frames, "faces", (json_int_t)a->faces, "labels",
                          labels, "tracks", tracks, "tracks_unlisted",
                          (json_int_t)a->unlisted_tracks);
    json_object_set_new(s, "mean_confidence",
                        a->faces ? json_real(a->confidence_sum / (double)a->faces) : json_null());
    a->frames = a->faces = a->unlisted_tracks = 0;
    a->confidence_sum = 0;
    memset(a->label_faces, 0, sizeof a->label_faces);
    return s;
}
