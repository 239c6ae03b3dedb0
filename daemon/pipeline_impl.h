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
    pthread_cond_t changed;             /* any state below changed */
    bool stopping, source_ended;
    bool backpressure;                  /* an unpaced file: wait for room, do not drop */
    char source_err[TEXT_WHY];
    struct cap_frame *entrance[ENTRANCE_SLOTS];
    int entrance_n;
    int frames_out;                     /* frames handed downstream, not yet released */
    struct job *jobs;
    int n_jobs;
    uint64_t next_job, next_work, next_publish;
    struct pl_model *model;
    bool reconfigure, det_reconfigure;
    struct config cfg;                  /* applied by the locate and detector threads */
    struct cap_frame *det_frame;        /* handed to the detector */
    bool det_busy, det_ready;
    struct det_face det_found[FACES_MAX];
    int det_n;
    int64_t det_ts;
    int active_workers;
    double fps_cap;
    int64_t last_admitted_ns;

    pthread_mutex_t stats_lock;
    struct pl_stats stats;
    int64_t window_start_ns;

    _Atomic int64_t busy_since[BUSY_WORKER0 + PL_MAX_WORKERS];
};

/* pipeline_stages.c */
void *pl_capture_main(void *arg);
void *pl_locate_main(void *arg);
void *pl_detector_main(void *arg);
void *pl_worker_main(void *arg);
void pl_signal_event(struct pipeline *p);
void pl_add_source_stats(struct cap_stats *into, const struct cap_stats *s);

#endif
