/* The pipeline's threads: capture, locate (tracking) with the detector beside it, and
 * the classify workers. How they hand frames on: pipeline.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "pipeline_impl.h"
#include "textsize.h"

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- stats ---- */

static void stage_done(struct pipeline *p, enum pl_stage s, double ms)
{
    pthread_mutex_lock(&p->stats_lock);
    p->stats.frames[s]++;
    hist_add(&p->stats.stage[s], ms);
    pthread_mutex_unlock(&p->stats_lock);
}

static double ms_since(int64_t t0) { return (double)(mono_ns() - t0) / 1e6; }

/* ---- capture ---- */

void pl_release_frame(struct pipeline *p, struct cap_frame *f)
{
    cap_frame_unref(f);
    pthread_mutex_lock(&p->lock);
    p->frames_out--;
    pthread_cond_signal(&p->frames_back);   /* capture, if a restart waits for its frames */
    pthread_mutex_unlock(&p->lock);
}

void pl_signal_event(struct pipeline *p)
{
    uint64_t one = 1;
    if (write(p->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("pipeline: eventfd write: %s", strerror(errno));
}

/* Sleeps up to ns unless stopped; returns false when stopping. */
static bool pause_unless_stopped(struct pipeline *p, int64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ns / 1000000000LL;
    until.tv_nsec += ns % 1000000000LL;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->stopping && pthread_cond_timedwait(&p->stopped, &p->lock, &until) == 0) {
    }
    bool go_on = !p->stopping;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

void pl_add_source_stats(struct cap_stats *into, const struct cap_stats *s)
{
    into->frames += s->frames;
    into->corrupt += s->corrupt;
    into->seq_gaps += s->seq_gaps;
    into->pool_empty += s->pool_empty;
    into->timeouts += s->timeouts;
    into->reconnects += s->reconnects;
}

/* A finite source ended (or failed): wait until its frames are back, then open it again. */
static bool restart_source(struct pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->stopping && p->frames_out > 0)
        pthread_cond_wait(&p->frames_back, &p->lock);
    bool stopping = p->stopping;
    pthread_mutex_unlock(&p->lock);
    if (stopping)
        return false;
    /* the old source's totals are folded in and the source detached in one step under
       p->lock, so that pl_take_stats never counts them twice (stats_lock is the inner
       lock, as everywhere) */
    pthread_mutex_lock(&p->lock);
    struct cap_source *old = p->src;
    struct cap_stats s;
    cap_source_stats(old, &s);
    pthread_mutex_lock(&p->stats_lock);
    pl_add_source_stats(&p->source_before, &s);
    p->stats.source_restarts++;
    pthread_mutex_unlock(&p->stats_lock);
    p->src = NULL;
    pthread_mutex_unlock(&p->lock);
    cap_source_close(old);
    char err[TEXT_WHY];
    struct cap_source *src;
    while (cap_source_open(p->spec, &p->cap, &src, err, sizeof err) != 0) {
        log_err("source %s: %s (trying again in 1 s)", p->spec, err);
        if (!pause_unless_stopped(p, RESTART_PAUSE_NS))
            return false;
    }
    pthread_mutex_lock(&p->lock);
    p->src = src;
    stopping = p->stopping;
    pthread_mutex_unlock(&p->lock);
    if (stopping)
        return false;
    log_debug("source %s: started again", p->spec);
    return true;
}

static void end_source(struct pipeline *p, const char *why)
{
    pthread_mutex_lock(&p->lock);
    p->source_ended = true;
    if (why)
        snprintf(p->source_err, sizeof p->source_err, "%s", why);
    pthread_mutex_unlock(&p->lock);
    pl_signal_event(p);
}

void *pl_capture_main(void *arg)
{
    struct pipeline *p = arg;
    char err[TEXT_WHY];
    uint64_t this_pass = 0;     /* frames since the source was (re)opened */
    for (;;) {
        struct cap_frame *f;
        int rc = cap_source_next(p->src, &f, err, sizeof err);
        int64_t now = mono_ns();
        atomic_store(&p->busy_since[BUSY_CAPTURE], now);
        pthread_mutex_lock(&p->lock);
        bool stopping = p->stopping;
        pthread_mutex_unlock(&p->lock);
        if (rc == 1 && stopping)
            cap_frame_unref(f);
        if (stopping)
            break;
        if (rc == 0 || rc < 0) {
            atomic_store(&p->busy_since[BUSY_CAPTURE], 0);
            if (rc < 0)
                log_err("source %s: %s", p->spec, err);
            if (p->opts.once) {
                end_source(p, rc < 0 ? err : NULL);
                break;
            }
            /* a failure, or a file with no good frame, is not retried in a tight loop */
            bool pause = rc < 0 || this_pass == 0;
            if (rc == 0 && this_pass == 0)
                log_warn("source %s gave no frame; starting it again in 1 s", p->spec);
            if ((pause && !pause_unless_stopped(p, RESTART_PAUSE_NS)) || !restart_source(p))
                break;
            this_pass = 0;
            continue;
        }
        this_pass++;
        stage_done(p, PL_CAPTURE, (double)(now - f->ts_ns) / 1e6);

        pthread_mutex_lock(&p->lock);
        /* an unpaced file goes as fast as the pipeline does: it waits, never drops */
        struct entrance *e = &p->entrance;
        while (p->backpressure && !p->stopping && e->n == ENTRANCE_SLOTS)
            pthread_cond_wait(&e->room, &p->lock);
        bool capped = p->fps_cap > 0 && p->last_admitted_ns &&
                      (double)(f->ts_ns - p->last_admitted_ns) < 0.9e9 / p->fps_cap;
        struct cap_frame *dropped = NULL;
        if (!capped) {
            p->last_admitted_ns = f->ts_ns;
            if (e->n == ENTRANCE_SLOTS) {      /* the newest wins */
                dropped = e->slot[0];
                memmove(e->slot, e->slot + 1, (ENTRANCE_SLOTS - 1) * sizeof f);
                e->n--;
                p->frames_out--;
            }
            e->slot[e->n++] = f;
            p->frames_out++;
            pthread_cond_signal(&e->filled);   /* locate */
        }
        pthread_mutex_unlock(&p->lock);
        if (capped || dropped) {
            cap_frame_unref(capped ? f : dropped);
            pthread_mutex_lock(&p->stats_lock);
            if (capped)
                p->stats.drops_capped++;
            else
                p->stats.drops_pipeline++;
            pthread_mutex_unlock(&p->stats_lock);
        }
        atomic_store(&p->busy_since[BUSY_CAPTURE], 0);
    }
    atomic_store(&p->busy_since[BUSY_CAPTURE], 0);
    return NULL;
}

/* ---- locate: detection beside tracking ---- */

void *pl_detector_main(void *arg)
{
    struct pipeline *p = arg;
    struct det_mailbox *box = &p->mailbox;
    char err[TEXT_WHY];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && !box->frame)
            pthread_cond_wait(&box->posted, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct cap_frame *f = box->frame;
        box->frame = NULL;
        bool reconfigure = box->reconfigure;
        struct det_config dc;
        if (reconfigure)
            faces_detector_config(&p->cfg, &dc);
        box->reconfigure = false;
        pthread_mutex_unlock(&p->lock);

        int64_t t0 = mono_ns();
        atomic_store(&p->busy_since[BUSY_DETECTOR], t0);
        if (reconfigure)
            det_configure(p->det, &dc);
        struct det_face found[FACES_MAX];
        int n = det_detect(p->det, f->data, f->width, f->height, f->stride, 1, found, FACES_MAX,
                           err, sizeof err);
        if (n < 0) {
            log_err("face detection: %s", err);
            n = 0;
        }
        stage_done(p, PL_DETECT, ms_since(t0));
        atomic_store(&p->busy_since[BUSY_DETECTOR], 0);
        int64_t ts = f->ts_ns;
        pl_release_frame(p, f);

        pthread_mutex_lock(&p->lock);
        memcpy(box->found, found, (size_t)n * sizeof *found);
        box->n = n;
        box->ts = ts;
        box->ready = true;
        box->busy = false;
        pthread_cond_signal(&box->answered);   /* locate, if it waits in line */
        pthread_mutex_unlock(&p->lock);
    }
    atomic_store(&p->busy_since[BUSY_DETECTOR], 0);
    return NULL;
}

/* Detections that finished join the tracker. Called with the lock held. */
static void take_detections(struct pipeline *p)
{
    struct det_mailbox *box = &p->mailbox;
    if (box->ready) {
        faces_add_detections(&p->faces, box->found, box->n, box->ts);
        box->ready = false;
    }
}

void *pl_locate_main(void *arg)
{
    struct pipeline *p = arg;
    struct entrance *e = &p->entrance;
    struct job_ring *ring = &p->ring;
    struct det_mailbox *box = &p->mailbox;
    uint64_t since_detect = UINT64_MAX / 2;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && e->n == 0)
            pthread_cond_wait(&e->filled, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct cap_frame *f = e->slot[0];
        memmove(e->slot, e->slot + 1, (ENTRANCE_SLOTS - 1) * sizeof f);
        e->n--;
        pthread_cond_signal(&e->room);   /* capture, if it waits (unpaced files) */
        if (p->reconfigure) {
            faces_configure(&p->faces, &p->cfg);
            box->reconfigure = true;
        }
        p->reconfigure = false;
        /* hold back the capture side while every job is in use */
        while (!p->stopping && ring->jobs[ring->next_job % (uint64_t)ring->n].state != JOB_FREE)
            pthread_cond_wait(&ring->freed, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            pl_release_frame(p, f);
            break;
        }
        atomic_store(&p->busy_since[BUSY_LOCATE], mono_ns());
        struct job *j = &ring->jobs[ring->next_job % (uint64_t)ring->n];
        j->model = p->model;
        atomic_fetch_add(&j->model->refs, 1);

        take_detections(p);
        bool handed = false;
        if (++since_detect >= (uint64_t)p->faces.interval && !box->busy) {
            cap_frame_ref(f);
            p->frames_out++;
            box->frame = f;
            box->busy = handed = true;
            since_detect = 0;
            pthread_cond_signal(&box->posted);   /* the detector */
        }
        /* In line when asked to detect every frame, or when no face is tracked (nothing
           to show until the detector has looked); otherwise the tracks carry on. */
        if (handed && (p->faces.interval == 1 || !faces_tracking(&p->faces))) {
            while (!p->stopping && box->busy)
                pthread_cond_wait(&box->answered, &p->lock);
            take_detections(p);
        }
        int n = faces_track(&p->faces, f->ts_ns, j->r.faces, FACES_MAX);
        pthread_mutex_unlock(&p->lock);

        j->frame = f;
        j->r.seq = f->seq;
        j->r.ts_ns = f->ts_ns;
        j->r.ts_unix = now_unix() - (double)(mono_ns() - f->ts_ns) / 1e9;
        j->r.width = f->width;
        j->r.height = f->height;
        j->r.n = n;
        j->r.model = j->model;
        atomic_store(&p->busy_since[BUSY_LOCATE], 0);

        pthread_mutex_lock(&p->lock);
        j->state = JOB_LOCATED;
        ring->next_job++;
        pthread_cond_signal(&ring->located);   /* one waiting worker: all that wait are active */
        pthread_mutex_unlock(&p->lock);
    }
    atomic_store(&p->busy_since[BUSY_LOCATE], 0);
    return NULL;
}

/* ---- classify ---- */

void *pl_worker_main(void *arg)
{
    struct pipeline *p = ((struct worker_arg *)arg)->p;
    int index = ((struct worker_arg *)arg)->index;
    struct job_ring *ring = &p->ring;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        /* an idle worker (beyond a profile's count) waits apart, so that a located job
           wakes only a worker that takes it */
        while (!p->stopping) {
            if (index >= p->active_workers)
                pthread_cond_wait(&p->workers_changed, &p->lock);
            else if (ring->next_work == ring->next_job)
                pthread_cond_wait(&ring->located, &p->lock);
            else
                break;
        }
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct job *j = &ring->jobs[ring->next_work++ % (uint64_t)ring->n];
        j->state = JOB_CLASSIFYING;
        pthread_mutex_unlock(&p->lock);

        int64_t t0 = mono_ns();
        atomic_store(&p->busy_since[BUSY_WORKER0 + index], t0);
        struct cap_frame *f = j->frame;
        faces_classify(j->model->nets[index], f->data, f->width, f->height, f->stride,
                       j->r.faces, j->r.n);
        j->r.classified_ns = mono_ns();
        stage_done(p, PL_CLASSIFY, ms_since(t0));
        atomic_store(&p->busy_since[BUSY_WORKER0 + index], 0);
        /* kept for the publisher while previews are wanted; back to the pool otherwise */
        bool keep = atomic_load_explicit(&p->keep_frames, memory_order_relaxed);
        j->r.frame = keep ? f : NULL;
        if (!keep) {
            j->frame = NULL;
            pl_release_frame(p, f);
        }

        pthread_mutex_lock(&p->lock);
        j->state = JOB_DONE;
        pthread_mutex_unlock(&p->lock);
        pl_signal_event(p);
    }
    atomic_store(&p->busy_since[BUSY_WORKER0 + index], 0);
    return NULL;
}

