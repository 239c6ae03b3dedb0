/* The face stage: the per-frame face work of the daemon's pipeline, and of emotionctl
 * classify (a fresh stage per photo), in three steps so the daemon can run them on
 * different threads:
 *   faces_locate   detect every `interval` frames (the tracker carries faces between),
 *                  giving each face its track id, box and crop;      (one thread, in order)
 *   faces_classify run the network on the crops;                     (any worker)
 *   faces_smooth   smooth each track's scores over time, pick labels. (one thread, in order)
 * faces_process does all three on one thread (daemon/protocol.c writes the frame
 * message). */
#ifndef EMOTIOND_FACES_H
#define EMOTIOND_FACES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "detect.h"
#include "json_out.h"
#include "net.h"
#include "track.h"

#define FACES_MAX 32

struct face_result {
    int id;
    float box[4];                      /* x, y, w, h in frame pixels */
    struct enn_box crop;               /* what the network sees */
    bool mirror;                       /* average with the mirrored crop */
    int label;                         /* index into the model's classes */
    float scores[ENN_MAX_CLASSES];     /* raw after faces_classify, smoothed after
                                          faces_smooth */
};

struct faces_smoothed {
    int id;
    int64_t ts_ns;
    float p[ENN_MAX_CLASSES];
};

struct faces_smoother {
    float half_life_s;
    int n_classes, n;
    struct faces_smoothed track[FACES_MAX];
};

struct faces_stage {
    struct det_detector *det;
    struct enn_net *net;               /* faces_process only */
    struct trk_tracker tracker;
    struct faces_smoother smoother;    /* faces_process only */
    int interval;
    float crop_widen;
    bool align_eyes, mirror;
    bool crop_landmarks;               /* [classify] crop_rule = landmarks */
    uint64_t frames;
};

/* The [detect] settings of cfg as a detector configuration (strings point into cfg). */
void faces_detector_config(const struct config *cfg, struct det_config *dc);

/* The detector and network stay the caller's; the stage only uses them. net may be NULL
 * when only faces_locate is used. */
void faces_init(struct faces_stage *st, struct det_detector *det, struct enn_net *net,
                const struct config *cfg);
/* Settings SIGHUP or a power-mode profile may change: detection interval, crop rule,
 * mirror averaging, tracking thresholds. Tracks are kept. */
void faces_configure(struct faces_stage *st, const struct config *cfg);
/* Detection beside tracking (the daemon): det_detect runs on its own thread on some
 * frames; its faces join the tracker with the time of the frame they were found on, and
 * every frame gets the tracks predicted to its time. */
void faces_add_detections(struct faces_stage *st, const struct det_face *dets, int n,
                          int64_t ts_ns);
/* The faces in view at ts_ns (tracks found by the last detections), with crops. */
int faces_track(struct faces_stage *st, int64_t ts_ns, struct face_result *out, int max);
/* Whether any face is being tracked. */
bool faces_tracking(const struct faces_stage *st);

/* Detection in line: every `interval` frames the detector runs on this frame, else the
 * tracks are predicted; writes up to max faces with id, box and crop. *detected tells
 * whether the detector ran. Returns the count, or -1 with err. */
int faces_locate(struct faces_stage *st, const uint8_t *pixels, int channels, int width,
                 int height, size_t stride, int64_t ts_ns, struct face_result *out, int max,
                 bool *detected, char *err, size_t errlen);
/* Raw class probabilities of each face into its scores (mirror averaging as each face
 * says). */
void faces_classify(struct enn_net *net, const uint8_t *gray, int width, int height,
                    size_t stride, struct face_result *faces, int n);

void faces_smoother_init(struct faces_smoother *sm, int n_classes, float half_life_s);
/* Frames in order: smooths each face's scores with its track's history and sets label;
 * tracks missing from this frame are forgotten. */
void faces_smooth(struct faces_smoother *sm, struct face_result *faces, int n, int64_t ts_ns);

/* All three steps. gray for classification, pixels/channels for detection (may be the
 * same gray buffer). Returns the number of faces written to out (<= max), or -1. */
int faces_process(struct faces_stage *st, const uint8_t *gray, const uint8_t *pixels,
                  int channels, int width, int height, size_t stride_gray, size_t stride_px,
                  int64_t ts_ns, struct face_result *out, int max, char *err, size_t errlen);
#endif
