#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "log.h"
#include "net.h"

#define ENTRANCE_SLOTS 2
#define RESTART_PAUSE_NS 1000000000LL

struct pl_model {
    struct enn_model *m;
    struct enn_net *nets[PL_MAX_WORKERS];
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
    char describe[300];

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
    char source_err[300];
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

int64_t pl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- models ---- */

const struct enn_model *pl_model_info(const struct pl_model *m) { return m->m; }
const char *pl_model_name(const struct pl_model *m) { return m->name; }
const char *pl_model_path(const struct pl_model *m) { return m->path; }
unsigned pl_model_generation(const struct pl_model *m) { return m->generation; }

static void model_unref(struct pl_model *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    for (int i = 0; i < PL_MAX_WORKERS; i++)
        enn_net_free(m->nets[i]);
    enn_model_free(m->m);
    free(m);
}

static struct pl_model *model_load(const char *path, int workers, char *err, size_t errlen)
{
    struct pl_model *pm = calloc(1, sizeof *pm);
    if (!pm) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static atomic_uint generations;
    atomic_init(&pm->refs, 1);
    pm->generation = atomic_fetch_add(&generations, 1) + 1;
    snprintf(pm->path, sizeof pm->path, "%s", path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(pm->name, sizeof pm->name, "%s", base);
    size_t len = strlen(pm->name);
    if (len > 4 && strcmp(pm->name + len - 4, ".enn") == 0)
        pm->name[len - 4] = '\0';
    if (enn_model_load(path, &pm->m, err, errlen))
        goto fail;
    if (pm->m->input.c != 1) {
        snprintf(err, errlen, "%s takes %d-channel input; face models take grayscale", path,
                 pm->m->input.c);
        goto fail;
    }
    for (int i = 0; i < workers; i++)
        if (enn_net_create(pm->m, &pm->nets[i], err, errlen))
            goto fail;
    return pm;
fail:
    model_unref(pm);
    return NULL;
}

/* ---- stats ---- */

static void stage_done(struct pipeline *p, enum pl_stage s, double ms)
{
    pthread_mutex_lock(&p->stats_lock);
    p->stats.frames[s]++;
    hist_add(&p->stats.stage[s], ms);
    pthread_mutex_unlock(&p->stats_lock);
}

static double ms_since(int64_t t0) { return (double)(pl_now_ns() - t0) / 1e6; }

/* ---- capture ---- */

static void release_frame(struct pipeline *p, struct cap_frame *f)
{
    cap_frame_unref(f);
    pthread_mutex_lock(&p->lock);
    p->frames_out--;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void signal_event(struct pipeline *p)
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
    while (!p->stopping && pthread_cond_timedwait(&p->changed, &p->lock, &until) == 0) {
    }
    bool go_on = !p->stopping;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

static void add_source_stats(struct cap_stats *into, const struct cap_stats *s)
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
        pthread_cond_wait(&p->changed, &p->lock);
    bool stopping = p->stopping;
    pthread_mutex_unlock(&p->lock);
    if (stopping)
        return false;
    struct cap_stats s;
    cap_source_stats(p->src, &s);
    pthread_mutex_lock(&p->stats_lock);
    add_source_stats(&p->source_before, &s);
    p->stats.source_restarts++;
    pthread_mutex_unlock(&p->stats_lock);
    pthread_mutex_lock(&p->lock);
    struct cap_source *old = p->src;
    p->src = NULL;
    pthread_mutex_unlock(&p->lock);
    cap_source_close(old);
    char err[300];
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
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    signal_event(p);
}

static void *capture_main(void *arg)
{
    struct pipeline *p = arg;
    char err[300];
    uint64_t this_pass = 0;     /* frames since the source was (re)opened */
    for (;;) {
        struct cap_frame *f;
        int rc = cap_source_next(p->src, &f, err, sizeof err);
        int64_t now = pl_now_ns();
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
        while (p->backpressure && !p->stopping && p->entrance_n == ENTRANCE_SLOTS)
            pthread_cond_wait(&p->changed, &p->lock);
        bool capped = p->fps_cap > 0 && p->last_admitted_ns &&
                      (double)(f->ts_ns - p->last_admitted_ns) < 0.9e9 / p->fps_cap;
        struct cap_frame *dropped = NULL;
        if (!capped) {
            p->last_admitted_ns = f->ts_ns;
            if (p->entrance_n == ENTRANCE_SLOTS) {      /* the newest wins */
                dropped = p->entrance[0];
                memmove(p->entrance, p->entrance + 1, (ENTRANCE_SLOTS - 1) * sizeof f);
                p->entrance_n--;
                p->frames_out--;
            }
            p->entrance[p->entrance_n++] = f;
            p->frames_out++;
            pthread_cond_broadcast(&p->changed);
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

static void *detector_main(void *arg)
{
    struct pipeline *p = arg;
    char err[300];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && !p->det_frame)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct cap_frame *f = p->det_frame;
        p->det_frame = NULL;
        bool reconfigure = p->det_reconfigure;
        struct det_config dc;
        if (reconfigure)
            faces_detector_config(&p->cfg, &dc);
        p->det_reconfigure = false;
        pthread_mutex_unlock(&p->lock);

        int64_t t0 = pl_now_ns();
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
        release_frame(p, f);

        pthread_mutex_lock(&p->lock);
        memcpy(p->det_found, found, (size_t)n * sizeof *found);
        p->det_n = n;
        p->det_ts = ts;
        p->det_ready = true;
        p->det_busy = false;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    atomic_store(&p->busy_since[BUSY_DETECTOR], 0);
    return NULL;
}

/* Detections that finished join the tracker. Called with the lock held. */
static void take_detections(struct pipeline *p)
{
    if (p->det_ready) {
        faces_add_detections(&p->faces, p->det_found, p->det_n, p->det_ts);
        p->det_ready = false;
    }
}

static void *locate_main(void *arg)
{
    struct pipeline *p = arg;
    uint64_t since_detect = UINT64_MAX / 2;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && p->entrance_n == 0)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct cap_frame *f = p->entrance[0];
        memmove(p->entrance, p->entrance + 1, (ENTRANCE_SLOTS - 1) * sizeof f);
        p->entrance_n--;
        if (p->reconfigure) {
            faces_configure(&p->faces, &p->cfg);
            p->det_reconfigure = true;
        }
        p->reconfigure = false;
        /* hold back the capture side while every job is in use */
        while (!p->stopping && p->jobs[p->next_job % (uint64_t)p->n_jobs].state != JOB_FREE)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            release_frame(p, f);
            break;
        }
        atomic_store(&p->busy_since[BUSY_LOCATE], pl_now_ns());
        struct job *j = &p->jobs[p->next_job % (uint64_t)p->n_jobs];
        j->model = p->model;
        atomic_fetch_add(&j->model->refs, 1);

        take_detections(p);
        bool handed = false;
        if (++since_detect >= (uint64_t)p->faces.interval && !p->det_busy) {
            cap_frame_ref(f);
            p->frames_out++;
            p->det_frame = f;
            p->det_busy = handed = true;
            since_detect = 0;
            pthread_cond_broadcast(&p->changed);
        }
        /* In line when asked to detect every frame, or when no face is tracked (nothing
           to show until the detector has looked); otherwise the tracks carry on. */
        if (handed && (p->faces.interval == 1 || !faces_tracking(&p->faces))) {
            while (!p->stopping && p->det_busy)
                pthread_cond_wait(&p->changed, &p->lock);
            take_detections(p);
        }
        int n = faces_track(&p->faces, f->ts_ns, j->r.faces, FACES_MAX);
        pthread_mutex_unlock(&p->lock);

        j->frame = f;
        j->r.seq = f->seq;
        j->r.ts_ns = f->ts_ns;
        j->r.ts_unix = now_unix() - (double)(pl_now_ns() - f->ts_ns) / 1e9;
        j->r.width = f->width;
        j->r.height = f->height;
        j->r.n = n;
        j->r.model = j->model;
        atomic_store(&p->busy_since[BUSY_LOCATE], 0);

        pthread_mutex_lock(&p->lock);
        j->state = JOB_LOCATED;
        p->next_job++;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    atomic_store(&p->busy_since[BUSY_LOCATE], 0);
    return NULL;
}

/* ---- classify ---- */

static void *worker_main(void *arg)
{
    struct pipeline *p = ((struct worker_arg *)arg)->p;
    int index = ((struct worker_arg *)arg)->index;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && (index >= p->active_workers || p->next_work == p->next_job))
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct job *j = &p->jobs[p->next_work++ % (uint64_t)p->n_jobs];
        j->state = JOB_CLASSIFYING;
        pthread_mutex_unlock(&p->lock);

        int64_t t0 = pl_now_ns();
        atomic_store(&p->busy_since[BUSY_WORKER0 + index], t0);
        struct cap_frame *f = j->frame;
        faces_classify(j->model->nets[index], f->data, f->width, f->height, f->stride,
                       j->r.faces, j->r.n);
        j->r.classified_ns = pl_now_ns();
        stage_done(p, PL_CLASSIFY, ms_since(t0));
        atomic_store(&p->busy_since[BUSY_WORKER0 + index], 0);
        j->frame = NULL;
        release_frame(p, f);

        pthread_mutex_lock(&p->lock);
        j->state = JOB_DONE;
        pthread_mutex_unlock(&p->lock);
        signal_event(p);
    }
    atomic_store(&p->busy_since[BUSY_WORKER0 + index], 0);
    return NULL;
}

/* ---- publisher side ---- */

int pl_event_fd(const struct pipeline *p) { return p->efd; }

struct pl_result *pl_next_result(struct pipeline *p)
{
    uint64_t count;
    if (read(p->efd, &count, sizeof count) < 0 && errno != EAGAIN)
        log_warn("pipeline: eventfd read: %s", strerror(errno));
    struct pl_result *r = NULL;
    pthread_mutex_lock(&p->lock);
    struct job *j = &p->jobs[p->next_publish % (uint64_t)p->n_jobs];
    if (p->next_publish < p->next_job && j->state == JOB_DONE) {
        j->state = JOB_PUBLISHING;
        r = &j->r;
    }
    pthread_mutex_unlock(&p->lock);
    if (r) {
        pthread_mutex_lock(&p->stats_lock);
        p->stats.faces += (uint64_t)r->n;
        pthread_mutex_unlock(&p->stats_lock);
    }
    return r;
}

void pl_release(struct pipeline *p, struct pl_result *r)
{
    struct job *j = (struct job *)r;     /* r is the job's first member */
    struct pl_model *m = j->model;
    pthread_mutex_lock(&p->lock);
    j->model = NULL;
    j->state = JOB_FREE;
    p->next_publish++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    model_unref(m);
    /* the next one may already be done */
    signal_event(p);
}

void pl_record_publish(struct pipeline *p, double publish_ms, double latency_ms)
{
    pthread_mutex_lock(&p->stats_lock);
    p->stats.frames[PL_PUBLISH]++;
    hist_add(&p->stats.stage[PL_PUBLISH], publish_ms);
    hist_add(&p->stats.latency, latency_ms);
    pthread_mutex_unlock(&p->stats_lock);
}

bool pl_finished(struct pipeline *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    bool done = p->source_ended && p->entrance_n == 0 && p->next_publish == p->next_job &&
                p->frames_out == 0;
    if (done && err)
        snprintf(err, errlen, "%s", p->source_err);
    pthread_mutex_unlock(&p->lock);
    return done;
}

/* ---- control ---- */

const struct pl_model *pl_current_model(const struct pipeline *p) { return p->model; }

int pl_set_model(struct pipeline *p, const char *path, char *err, size_t errlen)
{
    struct pl_model *m = model_load(path, p->n_workers, err, errlen);
    if (!m)
        return -1;
    pthread_mutex_lock(&p->lock);
    struct pl_model *old = p->model;
    p->model = m;
    pthread_mutex_unlock(&p->lock);
    model_unref(old);
    return 0;
}

void pl_configure(struct pipeline *p, const struct config *cfg, double fps_cap, int workers)
{
    pthread_mutex_lock(&p->lock);
    p->cfg = *cfg;
    p->reconfigure = true;
    p->fps_cap = fps_cap;
    p->active_workers = workers > 0 && workers < p->n_workers ? workers : p->n_workers;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

int pl_workers(const struct pipeline *p) { return p->active_workers; }

void pl_take_stats(struct pipeline *p, struct pl_stats *out)
{
    int64_t now = pl_now_ns();
    struct cap_stats s = {0};
    pthread_mutex_lock(&p->lock);
    if (p->src)
        cap_source_stats(p->src, &s);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_lock(&p->stats_lock);
    *out = p->stats;
    out->window_s = (double)(now - p->window_start_ns) / 1e9;
    out->source = p->source_before;
    add_source_stats(&out->source, &s);
    out->source.connected = s.connected;
    p->window_start_ns = now;
    for (int i = 0; i < PL_STAGES; i++) {
        p->stats.frames[i] = 0;
        hist_reset(&p->stats.stage[i]);
    }
    hist_reset(&p->stats.latency);
    p->stats.faces = 0;
    pthread_mutex_unlock(&p->stats_lock);
}

bool pl_healthy(struct pipeline *p, int64_t max_busy_ns)
{
    int64_t now = pl_now_ns();
    for (int i = 0; i < BUSY_WORKER0 + p->n_workers; i++) {
        int64_t since = atomic_load(&p->busy_since[i]);
        if (since && now - since > max_busy_ns)
            return false;
    }
    return true;
}

const char *pl_source_describe(struct pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->src)
        cap_source_description(p->src, p->describe, sizeof p->describe);
    pthread_mutex_unlock(&p->lock);
    return p->describe;
}

bool pl_source_connected(struct pipeline *p)
{
    if (strncmp(p->spec, "/dev/", 5) && strncmp(p->spec, "v4l2:", 5))
        return true;    /* files are there as long as the source is */
    struct cap_stats s = {0};
    pthread_mutex_lock(&p->lock);
    if (p->src)
        cap_source_stats(p->src, &s);
    pthread_mutex_unlock(&p->lock);
    return s.connected;
}

void pl_source_problem(struct pipeline *p, char *buf, size_t len)
{
    buf[0] = '\0';
    pthread_mutex_lock(&p->lock);
    if (p->src)
        cap_source_last_error(p->src, buf, len);
    pthread_mutex_unlock(&p->lock);
}

/* ---- life cycle ---- */

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > PL_MAX_WORKERS ? PL_MAX_WORKERS : (int)n;
}

int pl_start(const struct pl_options *opts, const struct config *cfg, struct pipeline **out,
             char *err, size_t errlen)
{
    *out = NULL;
    struct pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->opts = *opts;
    snprintf(p->spec, sizeof p->spec, "%s", opts->source);
    p->opts.source = p->spec;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->stats_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->changed, &ca);
    pthread_condattr_destroy(&ca);
    p->cfg = *cfg;
    p->n_workers = opts->workers > 0 ? opts->workers : online_cpus();
    if (p->n_workers > PL_MAX_WORKERS)
        p->n_workers = PL_MAX_WORKERS;
    p->active_workers = p->n_workers;
    p->backpressure = opts->fps <= 0 && strncmp(p->spec, "/dev/", 5) &&
                      strncmp(p->spec, "v4l2:", 5) && strncmp(p->spec, "image:", 6);
    p->n_jobs = p->n_workers + 2;
    p->jobs = calloc((size_t)p->n_jobs, sizeof *p->jobs);
    p->window_start_ns = pl_now_ns();
    if (p->efd < 0 || !p->jobs) {
        snprintf(err, errlen, "pipeline: %s", strerror(errno ? errno : ENOMEM));
        goto fail;
    }

    if (!(p->model = model_load(cfg->daemon.model, p->n_workers, err, errlen)))
        goto fail;
    struct det_config dc;
    faces_detector_config(cfg, &dc);
    if (!dc.backend) {
        snprintf(err, errlen, "unknown detector backend '%s' (cascade or yunet)",
                 cfg->detect.backend);
        goto fail;
    }
    det_set_threads(1);
    if (det_create(&dc, &p->det, err, errlen))
        goto fail;
    faces_init(&p->faces, p->det, NULL, cfg);

    p->cap = (struct cap_options){
        .fmt = CAP_GRAY8,
        .scale = cfg->capture.jpeg_scale,
        .fps = opts->fps,
        .width = cfg->capture.width,
        .height = cfg->capture.height,
        /* the entrance, the frames being decoded, located and detected, one per job */
        .pool_frames = ENTRANCE_SLOTS + 3 + p->n_jobs,
        .once = opts->once,
        .timeout_ms = cfg->capture.timeout_ms,
        .max_timeouts = cfg->capture.max_timeouts,
        .v4l2 = opts->v4l2,
    };
    if (cap_source_open(p->spec, &p->cap, &p->src, err, errlen))
        goto fail;
    snprintf(p->describe, sizeof p->describe, "%s", cap_source_describe(p->src));

    if (pthread_create(&p->capture_thr, NULL, capture_main, p))
        goto thread_fail;
    p->capture_started = true;
    if (pthread_create(&p->locate_thr, NULL, locate_main, p))
        goto thread_fail;
    p->locate_started = true;
    if (pthread_create(&p->detector_thr, NULL, detector_main, p))
        goto thread_fail;
    p->detector_started = true;
    for (int i = 0; i < p->n_workers; i++) {
        p->worker_args[i] = (struct worker_arg){p, i};
        if (pthread_create(&p->worker_thr[i], NULL, worker_main, &p->worker_args[i]))
            goto thread_fail;
        p->n_threads_started++;
    }
    *out = p;
    return 0;
thread_fail:
    snprintf(err, errlen, "pipeline: cannot start a thread");
fail:
    pl_stop(p);
    pl_free(p);
    return -1;
}

void pl_stop(struct pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->changed);
    if (p->src)
        cap_source_stop(p->src);
    pthread_mutex_unlock(&p->lock);
    if (p->capture_started)
        pthread_join(p->capture_thr, NULL);
    if (p->locate_started)
        pthread_join(p->locate_thr, NULL);
    if (p->detector_started)
        pthread_join(p->detector_thr, NULL);
    for (int i = 0; i < p->n_threads_started; i++)
        pthread_join(p->worker_thr[i], NULL);
    p->capture_started = p->locate_started = p->detector_started = false;
    if (p->det_frame)
        cap_frame_unref(p->det_frame);
    p->det_frame = NULL;
    p->n_threads_started = 0;
    /* frames still waiting go back to the pool before it is freed */
    for (int i = 0; i < p->entrance_n; i++)
        cap_frame_unref(p->entrance[i]);
    p->entrance_n = 0;
    for (int i = 0; p->jobs && i < p->n_jobs; i++) {
        if (p->jobs[i].frame)
            cap_frame_unref(p->jobs[i].frame);
        p->jobs[i].frame = NULL;
        model_unref(p->jobs[i].model);
        p->jobs[i].model = NULL;
        p->jobs[i].state = JOB_FREE;
    }
    cap_source_close(p->src);
    p->src = NULL;
}

void pl_free(struct pipeline *p)
{
    if (!p)
        return;
    det_free(p->det);
    model_unref(p->model);
    free(p->jobs);
    if (p->efd >= 0)
        close(p->efd);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->stats_lock);
    free(p);
}
