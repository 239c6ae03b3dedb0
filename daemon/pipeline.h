/* The daemon's pipeline: capture -> locate faces (detect / track) -> classify (a pool of
 * workers) -> results in frame order for the publisher, each stage on its own thread(s).
 *
 * Real time first: frames enter through a two-slot queue where the newest wins (the
 * oldest waiting frame is dropped and counted), except for an unpaced file, which goes
 * as fast as the pipeline and waits instead; past that point stages hold back the one
 * before them (a fixed ring of jobs), so nothing grows without bound and the only drops
 * are at the entrance. Every stage times itself into fixed-memory histograms that
 * telemetry reads and resets each interval.
 *
 * The publisher (the daemon's event loop) waits on pl_event_fd, then takes results with
 * pl_next_result, in frame order, and gives each back with pl_release. */
#ifndef EMOTIOND_PIPELINE_H
#define EMOTIOND_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "faces.h"
#include "histogram.h"
#include "model.h"
#include "source.h"

#define PL_MAX_WORKERS 16

enum pl_stage { PL_CAPTURE, PL_DETECT, PL_CLASSIFY, PL_PUBLISH, PL_STAGES };

/* A loaded network with one inference context per worker; shared by the jobs that use
 * it, freed when the last lets go after a switch. */
struct pl_model;
const struct enn_model *pl_model_info(const struct pl_model *m);
const char *pl_model_name(const struct pl_model *m);    /* file name without .enn */
const char *pl_model_path(const struct pl_model *m);
/* Distinct for every model loaded (never 0), so a switch is noticed. */
unsigned pl_model_generation(const struct pl_model *m);

struct pl_result {
    uint64_t seq;                 /* the source's frame number */
    int64_t ts_ns;                /* capture, CLOCK_MONOTONIC */
    double ts_unix;               /* capture, Unix seconds */
    int64_t classified_ns;
    int width, height;
    int n;
    struct face_result faces[FACES_MAX];   /* raw scores: the publisher smooths */
    const struct pl_model *model;
    struct cap_frame *frame;      /* its pixels while pl_keep_frames is on, else NULL */
};

struct pl_stats {
    double window_s;
    uint64_t frames[PL_STAGES];             /* in the window (detect: detector runs) */
    struct histogram stage[PL_STAGES];      /* time each stage spent per frame, ms */
    struct histogram latency;               /* capture to publish, ms */
    uint64_t faces;                         /* classified in the window */
    /* totals since start */
    uint64_t drops_pipeline;                /* newest wins at the entrance */
    uint64_t drops_capped;                  /* skipped by a profile's fps cap */
    struct cap_stats source;
    uint64_t source_restarts;
};

struct pl_options {
    const char *source;           /* spec, see source.h */
    bool once;                    /* end with a finite source instead of starting it again */
    double fps;                   /* camera rate / file pace (0: as fast as it goes) */
    int workers;                  /* classification threads (0: one per core) */
    const struct cap_v4l2_ops *v4l2;   /* tests: a fake camera */
};

struct pipeline;

/* Opens the source, loads the model and detector and starts every thread. Errors (a bad
 * source spec, an unreadable model, a detector that does not load) are described in err. */
int pl_start(const struct pl_options *opts, const struct config *cfg, struct pipeline **out,
             char *err, size_t errlen);
/* Readable (eventfd) when results are waiting or the pipeline ended. */
int pl_event_fd(const struct pipeline *p);
/* The next result in frame order, or NULL when none is ready. Clears the event fd, so
 * take results until NULL each time it is readable. */
struct pl_result *pl_next_result(struct pipeline *p);
void pl_release(struct pipeline *p, struct pl_result *r);
/* While on, each result keeps its frame until it is released (for previews); the
 * workers give frames back at once otherwise. Publisher thread. */
void pl_keep_frames(struct pipeline *p, bool keep);
/* Takes r's frame (NULL when it kept none) for the caller, who gives it back with
 * pl_return_frame, from any thread, soon: the pool holds one frame for it, and a source
 * restart waits for it. */
struct cap_frame *pl_take_frame(struct pipeline *p, struct pl_result *r);
void pl_return_frame(struct pipeline *p, struct cap_frame *f);
/* The publisher reports how long a result took from classified to written, and from
 * capture to written. */
void pl_record_publish(struct pipeline *p, double publish_ms, double latency_ms);
/* True once the source has ended (--once) or failed for good and every result was
 * taken; err then says why if it failed. */
bool pl_finished(struct pipeline *p, char *err, size_t errlen);

/* The current model (for hello messages); valid until the next pl_set_model. */
const struct pl_model *pl_current_model(const struct pipeline *p);
/* Loads path and switches to it for the next frames; the current one stays on error. */
int pl_set_model(struct pipeline *p, const char *path, char *err, size_t errlen);
/* Live settings: detection interval and thresholds, tracking, crop rule; plus a
 * profile's fps cap (0: none) and worker count (0: all). */
void pl_configure(struct pipeline *p, const struct config *cfg, double fps_cap, int workers);
int pl_workers(const struct pipeline *p);

/* The window since the last call (then reset), and the totals. */
void pl_take_stats(struct pipeline *p, struct pl_stats *out);
/* False when some stage has been busy with one frame for longer than max_busy_ns: the
 * pipeline is wedged (the watchdog stops being fed). */
bool pl_healthy(struct pipeline *p, int64_t max_busy_ns);
/* The same, naming the stage that has been busy the longest and for how long (e.g.
 * "detector, 5.3 s") in what when one is stuck, so the log says which. */
bool pl_healthy_why(struct pipeline *p, int64_t max_busy_ns, char *what, size_t len);
/* The source as it is now (a camera's format once it streams). Publisher thread only. */
const char *pl_source_describe(struct pipeline *p);
bool pl_source_connected(struct pipeline *p);
/* The last problem the source got over (a skipped frame, a lost camera), or "". */
void pl_source_problem(struct pipeline *p, char *buf, size_t len);

/* Stops and joins every thread, releases the camera. */
void pl_stop(struct pipeline *p);
void pl_free(struct pipeline *p);

#endif
