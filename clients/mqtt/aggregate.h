/* What the bridge derives from the daemon's frames, with no I/O (unit-tested alone):
 * the summary of a time window (frames, face observations per label, mean confidence,
 * dwell time and dominant label per track), each track's label changes (the driver-
 * monitoring alert), and the per-track rate limit of the faces topic. Tracks are kept
 * across windows and forgotten AGG_FORGET_S after they were last seen. */
#ifndef EMOTIOND_MQTT_AGGREGATE_H
#define EMOTIOND_MQTT_AGGREGATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AGG_LABEL 16          /* longest label name kept, NUL included */
#define AGG_MAX_LABELS 16     /* class names beyond this are counted under "other" */
#define AGG_MAX_TRACKS 256    /* tracks remembered at once; more are counted, not listed */
#define AGG_MAX_GAP_S 1.0     /* dwell: a longer gap between two frames counts as this */
#define AGG_FORGET_S 30.0

struct agg_face {
    long long id;
    const char *label;
    double confidence;
};

struct agg_event {            /* a track's label changed (from "" when it is new) */
    long long id;
    char from[AGG_LABEL], to[AGG_LABEL];
    double confidence;
};

struct agg;

struct agg *agg_new(void);
void agg_free(struct agg *a);
/* The model's classes (from hello): each appears in the summary, 0 when not seen. */
void agg_set_classes(struct agg *a, const char *const *classes, size_t n);
/* The daemon restarted (hello's instance changed): its track ids start again from 1, so
 * no later face continues a track seen so far. Tracks seen in this window are still in
 * its summary. */
void agg_end_tracks(struct agg *a);
/* One frame at capture time ts. Writes up to max_events label changes; returns how many
 * there were (possibly more than written). */
size_t agg_frame(struct agg *a, double ts, const struct agg_face *faces, size_t n,
                 struct agg_event *events, size_t max_events);
/* Whether the faces topic should carry track id at ts, at most once per interval_s
 * (0: always); true marks it published. */
bool agg_face_due(struct agg *a, long long id, double ts, double interval_s);
/* The window so far as a summary object ({"type":"summary",...}, docs/mqtt.md), and a
 * new window. start and end are what the message says they cover. */
json_t *agg_summary(struct agg *a, double start, double end);
/* Whether the window so far has seen nothing (no frame, no face). */
bool agg_window_empty(const struct agg *a);

/* The summary windows on the bridge's wall clock, ending at multiples of the period. */
struct agg_window {
    double start, end;        /* the window under way */
};
/* The first window: from wall to the next boundary. */
void agg_window_begin(struct agg_window *w, double wall, double period);
/* True when the window under way has ended by wall: *start and *end are what it covered,
 * and the next is under way. A step of the clock (NTP, a board without a clock that
 * booted in 1970) forward past the next window, or back before the window's start,
 * begins a partial window at wall, as at the start: no window says it lasted decades,
 * ends in the past, or repeats one already published. */
bool agg_window_due(struct agg_window *w, double wall, double period, double *start,
                    double *end);

#endif
