/* What the dashboard shows of the last minutes, kept by emotiond-web so that a page
 * opened now starts with them: the daemon's telemetry over 5 minutes as samples (frame
 * rates, latency, drops, power), and face observations per label in 10-second buckets
 * over 10 minutes.
 * Fixed memory; a page gets it all as one {"type":"history",...} message, then follows
 * the live messages and keeps the same sums itself. */
#ifndef EMOTIOND_WEB_HISTORY_H
#define EMOTIOND_WEB_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_SAMPLES 300          /* telemetry messages kept (5 min at one a second) */
#define HISTORY_WINDOW_S 300.0       /* and none older than this before the newest */
#define HISTORY_BUCKET_S 10.0        /* face observations per label, per this many seconds */
#define HISTORY_BUCKETS 60
#define HISTORY_LABELS 9             /* the protocol's eight class names, then "other" */

/* One telemetry message; NAN for what it did not say (power off a Jetson, latency with no
 * frame in the window). */
struct history_sample {
    double ts;
    double fps_in, fps_out;          /* capture and publish stages, frames per second */
    double p50_ms, p99_ms;           /* capture-to-publish latency */
    double watts, per_watt;          /* board power; images/s/W */
    double drops;                    /* camera + corrupt + pipeline + clients, totals */
};

struct history_bucket {
    double start;                    /* a multiple of HISTORY_BUCKET_S; 0: unused */
    uint32_t counts[HISTORY_LABELS];
};

struct history {
    struct history_sample samples[HISTORY_SAMPLES];
    size_t first, n;                 /* ring */
    struct history_bucket buckets[HISTORY_BUCKETS];   /* by bucket number modulo */
    double newest_bucket;
};

/* The fixed label order of counts: anger contempt disgust fear happiness neutral sadness
 * surprise other. */
extern const char *const HISTORY_LABEL_NAMES[HISTORY_LABELS];

void history_init(struct history *h);
/* A telemetry message's figures (docs/protocol.md); -1 when it is not one (no number
 * "ts"). */
int history_sample_of(json_t *telemetry, struct history_sample *out);
void history_add_sample(struct history *h, const struct history_sample *s);
/* A frame message: one observation per face, by its label, at the frame's time. Frames
 * older than the buckets kept are not counted. */
void history_add_frame(struct history *h, json_t *frame);
/* {"type":"history","bucket_s":10,"labels":[...],"t0":T,"telemetry":{"ts":[...],
 * "fps_in":[...],...},"counts":[{"start":T,"n":[...]},...]}: telemetry columns oldest
 * first, null for unknown, "ts" in seconds after the whole second "t0"; buckets oldest
 * first, "start" whole Unix seconds. So it keeps its meaning when written with 6
 * significant digits (JSON_REAL_PRECISION(6): about 20 KB for 300 samples). */
json_t *history_json(const struct history *h);

#endif
