/* The pipeline's insides, shared by pipeline.c (models, control, the publisher's side,
 * life cycle) and pipeline_stages.c (the threads). Not part of the interface. */
#ifndef EMOTIOND_PIPELINE_IMPL_H
#define EMOTIOND_PIPELINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "detect.h"
#include "pipeline.h"
#include "textsize.h"

#define ENTRANCE_SLOTS 2
#define RESTART_PAUSE_NS 1000000000LL

struct pl_model {
    struct enn_model *m;
    struct enn_plan *plan;                 /* the packed weights, once for all workers */
    struct enn_net *nets[PL_MAX_WORKERS];  /* a context (activations) per worker */
    atomic_int refs;
    unsigned generation;
    char name[128], path[CONFIG_STR];
};

enum job_state { JOB_FREE, JOB_LOCATED, JOB_CLASSIFYING, JOB_DONE, JOB_PUBLISHING };

struct job {
    struct pl_result r;
    struct cap_frame *frame;
    struct pl_model *model;
    enum job_state state;
};

/* The three hand-offs. All three are guarded by the pipeline's lock (a frame moves
 * between them under it, with the stop flag and the frame count); each has its own
 * conditions, so a change wakes only the thread that waits for it. */

/* The entrance: capture -> locate. The newest frame wins: a full entrance drops its
 * oldest, except for an unpaced file, where capture waits for room. */
struct entrance {
    struct cap_frame *slot[ENTRANCE_SLOTS];
    int n;
    pthread_cond_t filled;                 /* locate waits for a frame */
    pthread_cond_t room;                   /* capture waits for a slot (unpaced files) */
};

/* The job ring: locate -> the classify workers -> the publisher, in frame order. Job k
 * is jobs[k % n]; located < next_job, taken by a worker < next_work, published <
 * next_publish. */
struct job_ring {
    struct job *jobs;
    int n;
    uint64_t next_job, next_work, next_publish;
    pthread_cond_t located;                /* active workers wait for a located job */
    pthread_cond_t freed;                  /* locate waits for its next job to be free */
};

/* The detector mailbox: locate posts a frame, the detector answers with its faces. */
struct det_mailbox {
    struct cap_frame *frame;               /* posted, not yet taken */
    bool busy;                             /* posted or being detected */
    bool ready;                            /* an answer locate has not taken */
    bool reconfigure;                      /* apply the config before the next frame */
    struct det_face found[FACES_MAX];
    int n;
    int64_t ts;                            /* of the frame the faces were found on */
    pthread_cond_t posted;                 /* the detector waits for a frame */
    pthread_cond_t answered;               /* locate waits for the answer (in line) */
};

struct pipeline;
struct worker_arg {
    struct pipeline *p;
    int index;
};

/* busy_since slots: one per thread, 0 while idle or waiting */
enum { BUSY_CAPTURE, BUSY_LOCATE, BUSY_DETECTOR, BUSY_WORKER0 };

struct pipeline {
    struct pl_options opts;
    char spec[CONFIG_STR];
    struct cap_options cap;
    struct cap_source *src;
    struct cap_stats source_before;     /* totals of sources closed before this one */
    char describe[TEXT_WHY];

    struct det_detector *det;
    struct faces_stage faces;           /* the locate thread's, under lock */
    int n_workers, n_threads_started;
    pthread_t capture_thr, locate_thr, detector_thr, worker_thr[PL_MAX_WORKERS];
    struct worker_arg worker_args[PL_MAX_WORKERS];
    bool capture_started, locate_started, detector_started;
    int efd;

    pthread_mutex_t lock;
    pthread_cond_t stopped;             /* pl_stop: a pause ends early */
    pthread_cond_t frames_back;         /* frames_out fell: a restart waits for 0 */
    pthread_cond_t workers_changed;     /* active_workers changed: idle workers wait */
    bool stopping, source_ended;
    bool backpressure;                  /* an unpaced file: wait for room, do not drop */
    char source_err[TEXT_WHY];
    struct entrance entrance;
    struct job_ring ring;
    struct det_mailbox mailbox;
    int frames_out;                     /* frames handed downstream, not yet released */
    struct pl_model *model;
    bool reconfigure;
    struct config cfg;                  /* applied by the locate and detector threads */
    int active_workers;
    atomic_bool keep_frames;            /* results keep their frames (previews) */
    double fps_cap;
    int64_t last_admitted_ns;

    pthread_mutex_t stats_lock;
    struct pl_stats stats;
    int64_t window_start_ns;

    _Atomic int64_t busy_since[BUSY_WORKER0 + PL_MAX_WORKERS];
};

/* pipeline_stages.c */
void pl_release_frame(struct pipeline *p, struct cap_frame *f);
void *pl_capture_main(void *arg);
void *pl_locate_main(void *arg);
void *pl_detector_main(void *arg);
void *pl_worker_main(void *arg);
void pl_signal_event(struct pipeline *p);
void pl_add_source_stats(struct cap_stats *into, const struct cap_stats *s);

#endif
