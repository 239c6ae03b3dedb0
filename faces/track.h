/* Face tracking across frames: detections are matched to tracks by IoU against each
 * track's predicted box (constant velocity), so ids stay stable through motion, short
 * occlusions and crossings. Smoothing each face's scores over time is the caller's (the
 * daemon does it in frame order, after classification). */
#ifndef EMOTIOND_TRACK_H
#define EMOTIOND_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "detect.h"

#define TRK_MAX_TRACKS 32

struct trk_config {
    float min_iou;          /* to match a detection to a track, default 0.3 */
    int64_t max_absent_ns;  /* a track unseen this long is dropped, default 1 s */
};

struct trk_track {
    int id;                 /* stable, > 0, never reused */
    struct det_face box;    /* last detected (or predicted) box */
    int64_t box_ns;         /* the time box is for */
    struct det_face seen;   /* last detected box */
    float vx, vy;           /* pixels per second */
    int64_t seen_ns;        /* last detection */
    int misses;             /* detections in a row that did not find it */
};

struct trk_tracker {
    struct trk_config cfg;
    int next_id, n;
    struct trk_track t[TRK_MAX_TRACKS];
};

void trk_init(struct trk_tracker *tr, const struct trk_config *cfg);
/* Matches detections made on the frame of time ts_ns (which may be older than the last
 * prediction: detection can run beside the tracking); ids[i] receives the track id of
 * dets[i] (new tracks for unmatched detections, 0 if the table is full). Drops tracks
 * absent too long. */
void trk_update(struct trk_tracker *tr, const struct det_face *dets, int n, int64_t ts_ns,
                int *ids);
/* Moves every track along its velocity to ts_ns: for frames without detection. */
void trk_predict(struct trk_tracker *tr, int64_t ts_ns);
/* Whether a track counts as a face in view: found by the last detection. A track the
 * last detection missed is kept (up to max_absent) only to give its id back if the face
 * returns, so a face that left is not reported as a ghost. */
bool trk_visible(const struct trk_track *t);

#endif
