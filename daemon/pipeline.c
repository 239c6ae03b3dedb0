#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "pipeline_impl.h"


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
    enn_plan_free(m->plan);
    enn_model_free(m->m);
    free(m);
#ifdef __GLIBC__
    /* a model's megabytes, freed amid the heap, would stay resident: each model switch
       (SIGHUP, power-mode profiles) would ratchet RSS up to the largest heap yet */
    malloc_trim(0);
#endif
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
    if (enn_plan_create(pm->m, &pm->plan, err, errlen))
        goto fail;
    for (int i = 0; i < workers; i++)
        if (enn_net_create_shared(pm->plan, &pm->nets[i], err, errlen))
            goto fail;
    return pm;
fail:
    model_unref(pm);
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
    struct job_ring *ring = &p->ring;
    struct job *j = &ring->jobs[ring->next_publish % (uint64_t)ring->n];
    if (ring->next_publish < ring->next_job && j->state == JOB_DONE) {
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
    if (j->frame) {                      /* kept for a preview that did not take it */
        pl_release_frame(p, j->frame);
        j->frame = NULL;
        r->frame = NULL;
    }
    pthread_mutex_lock(&p->lock);
    j->model = NULL;
    j->state = JOB_FREE;
    p->ring.next_publish++;
    pthread_cond_signal(&p->ring.freed);     /* locate, waiting for this job */
    pthread_mutex_unlock(&p->lock);
    model_unref(m);
}

void pl_keep_frames(struct pipeline *p, bool keep)
{
    if (atomic_load_explicit(&p->keep_frames, memory_order_relaxed) != keep)
        atomic_store(&p->keep_frames, keep);
}

struct cap_frame *pl_take_frame(struct pipeline *p, struct pl_result *r)
{
    (void)p;
    struct job *j = (struct job *)r;
    struct cap_frame *f = j->frame;
    j->frame = NULL;
    r->frame = NULL;
    return f;
}

void pl_return_frame(struct pipeline *p, struct cap_frame *f)
{
    if (f)
        pl_release_frame(p, f);
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
    bool done = p->source_ended && p->entrance.n == 0 &&
                p->ring.next_publish == p->ring.next_job && p->frames_out == 0;
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
    /* every worker looks again: an idle one may be active now, a waiting one idle */
    pthread_cond_broadcast(&p->workers_changed);
    pthread_cond_broadcast(&p->ring.located);
    pthread_mutex_unlock(&p->lock);
}

int pl_workers(const struct pipeline *p) { return p->active_workers; }

void pl_take_stats(struct pipeline *p, struct pl_stats *out)
{
    int64_t now = mono_ns();
    struct cap_stats s = {0};
    pthread_mutex_lock(&p->lock);
    if (p->src)
        cap_source_stats(p->src, &s);
    /* taken before p->lock is let go: a source restart folds its totals into
       source_before and detaches it under p->lock, so both are read on one side of it */
    pthread_mutex_lock(&p->stats_lock);
    pthread_mutex_unlock(&p->lock);
    *out = p->stats;
    out->window_s = (double)(now - p->window_start_ns) / 1e9;
    out->source = p->source_before;
    pl_add_source_stats(&out->source, &s);
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
    return pl_healthy_why(p, max_busy_ns, NULL, 0);
}

bool pl_healthy_why(struct pipeline *p, int64_t max_busy_ns, char *what, size_t len)
{
    int64_t now = mono_ns(), longest = 0;
    int stage = -1;
    for (int i = 0; i < BUSY_WORKER0 + p->n_workers; i++) {
        int64_t since = atomic_load(&p->busy_since[i]);
        if (since && now - since > max_busy_ns && now - since > longest) {
            longest = now - since;
            stage = i;
        }
    }
    if (stage >= 0 && what && len) {
        static const char *const names[] = {"capture", "locate", "detector"};
        if (stage < BUSY_WORKER0)
            snprintf(what, len, "%s, %.1f s", names[stage], (double)longest / 1e9);
        else
            snprintf(what, len, "classification worker %d, %.1f s", stage - BUSY_WORKER0,
                     (double)longest / 1e9);
    }
    return stage < 0;
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
    struct cap_stats s = {0};   /* no source (being reopened, or failing to): false */
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

/* Every condition of the pipeline and its hand-offs: initialised, woken on stop and
 * destroyed together. */
enum { N_CONDS = 9 };
static void conds(struct pipeline *p, pthread_cond_t *out[N_CONDS])
{
    pthread_cond_t *all[N_CONDS] = {
        &p->stopped,         &p->frames_back,     &p->workers_changed,
        &p->entrance.filled, &p->entrance.room,   &p->ring.located,
        &p->ring.freed,      &p->mailbox.posted,  &p->mailbox.answered,
    };
    memcpy(out, all, sizeof all);
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
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);    /* pauses wait on it with a deadline */
    pthread_cond_t *c[N_CONDS];
    conds(p, c);
    for (int i = 0; i < N_CONDS; i++)
        pthread_cond_init(c[i], &ca);
    pthread_condattr_destroy(&ca);
    p->cfg = *cfg;
    p->n_workers = opts->workers > 0 ? opts->workers : online_cpus();
    if (p->n_workers > PL_MAX_WORKERS)
        p->n_workers = PL_MAX_WORKERS;
    p->active_workers = p->n_workers;
    atomic_init(&p->keep_frames, false);
    p->backpressure = opts->fps <= 0 && !cap_source_is_camera(p->spec) &&
                      strncmp(p->spec, "image:", 6);
    p->ring.n = p->n_workers + 2;
    p->ring.jobs = calloc((size_t)p->ring.n, sizeof *p->ring.jobs);
    p->window_start_ns = mono_ns();
    if (p->efd < 0 || !p->ring.jobs) {
        snprintf(err, errlen, "pipeline: %s", strerror(errno ? errno : ENOMEM));
        goto fail;
    }

    if (!(p->model = model_load(cfg->daemon.model, p->n_workers, err, errlen)))
        goto fail;
    struct det_config dc;
    faces_detector_config(cfg, &dc);
    if (det_backend_check(cfg->detect.backend, err, errlen))
        goto fail;
    det_set_threads(1);
    if (det_create(&dc, &p->det, err, errlen))
        goto fail;
    faces_init(&p->faces, p->det, NULL, cfg);

    p->cap = (struct cap_options){
        .fmt = CAP_GRAY8,
        .scale = cfg->capture.jpeg_scale,
        .fps = opts->fps,
        .fourcc = cap_fourcc(cfg->capture.format),
        .width = cfg->capture.width,
        .height = cfg->capture.height,
        .max_width = cfg->capture.max_frame_width,
        .max_height = cfg->capture.max_frame_height,
        /* the entrance, the frames being decoded, located and detected, one per job, and
           one lent to the preview stage (untouched, so not resident, until it is used) */
        .pool_frames = ENTRANCE_SLOTS + 3 + p->ring.n + 1,
        .once = opts->once,
        .timeout_ms = cfg->capture.timeout_ms,
        .max_timeouts = cfg->capture.max_timeouts,
        .v4l2 = opts->v4l2,
    };
    if (cap_source_open(p->spec, &p->cap, &p->src, err, errlen))
        goto fail;
    snprintf(p->describe, sizeof p->describe, "%s", cap_source_describe(p->src));

    if (pthread_create(&p->capture_thr, NULL, pl_capture_main, p))
        goto thread_fail;
    p->capture_started = true;
    if (pthread_create(&p->locate_thr, NULL, pl_locate_main, p))
        goto thread_fail;
    p->locate_started = true;
    if (pthread_create(&p->detector_thr, NULL, pl_detector_main, p))
        goto thread_fail;
    p->detector_started = true;
    for (int i = 0; i < p->n_workers; i++) {
        p->worker_args[i] = (struct worker_arg){p, i};
        if (pthread_create(&p->worker_thr[i], NULL, pl_worker_main, &p->worker_args[i]))
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
    pthread_cond_t *c[N_CONDS];
    conds(p, c);
    for (int i = 0; i < N_CONDS; i++)   /* every thread, wherever it waits */
        pthread_cond_broadcast(c[i]);
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
    if (p->mailbox.frame)
        cap_frame_unref(p->mailbox.frame);
    p->mailbox.frame = NULL;
    p->n_threads_started = 0;
    /* frames still waiting go back to the pool before it is freed */
    for (int i = 0; i < p->entrance.n; i++)
        cap_frame_unref(p->entrance.slot[i]);
    p->entrance.n = 0;
    for (int i = 0; p->ring.jobs && i < p->ring.n; i++) {
        struct job *j = &p->ring.jobs[i];
        if (j->frame)
            cap_frame_unref(j->frame);
        j->frame = NULL;
        model_unref(j->model);
        j->model = NULL;
        j->state = JOB_FREE;
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
    free(p->ring.jobs);
    if (p->efd >= 0)
        close(p->efd);
    pthread_cond_t *c[N_CONDS];
    conds(p, c);
    for (int i = 0; i < N_CONDS; i++)
        pthread_cond_destroy(c[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->stats_lock);
    free(p);
}

