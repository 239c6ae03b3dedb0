/* The per-frame face work of the pipeline: detect every `interval` frames (the tracker
 * carries faces in between), classify every tracked face, smooth its scores, and write
 * the protocol's frame message. Single-threaded: the daemon runs one per pipeline. */
#ifndef EMOTIOND_FACES_H
#define EMOTIOND_FACES_H

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
    int label;                         /* index into the model's classes */
    float scores[TRK_MAX_CLASSES];     /* smoothed */
};

struct faces_stage {
    struct det_detector *det;
    struct enn_net *net;
    struct trk_tracker tracker;
    int interval;
    float crop_widen;
    bool align_eyes;
    uint64_t frames;
};

/* The detector and network stay the caller's; the stage only uses them. */
void faces_init(struct faces_stage *st, struct det_detector *det, struct enn_net *net,
                const struct config *cfg);
/* One frame: gray for classification, pixels/channels for detection (may be the same
 * gray buffer). Returns the number of faces written to out (<= max), or -1 with err. */
int faces_process(struct faces_stage *st, const uint8_t *gray, const uint8_t *pixels,
                  int channels, int width, int height, size_t stride_gray, size_t stride_px,
                  int64_t ts_ns, struct face_result *out, int max, char *err, size_t errlen);
/* The protocol's frame message (docs/protocol.md) for these results, without newline. */
void faces_frame_message(struct json_out *j, const struct enn_model *m, uint64_t seq,
                         double ts_unix, double latency_ms, int width, int height,
                         const struct face_result *faces, int n);

#endif
