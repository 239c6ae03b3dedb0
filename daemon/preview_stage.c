#define _GNU_SOURCE
#include "preview_stage.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "histogram.h"
#include "log.h"
#include "preview.h"
#include "textsize.h"

#define PREVIEW_NICE 10
/* Frames are kept from this long before a preview is due: a frame finishes at least as
 * late as it was captured, and the publisher runs every few ms while frames flow (with a
 * slow source, the preview may take the frame after the one due). */
#define PREVIEW_LEAD_NS 100000000LL

/* The slot: FREE -> POSTED (the loop) -> MAKING (the thread) -> DONE (the thread) -> FREE
 * (the loop, once the message is handed on). */
enum slot_state { SLOT_FREE, SLOT_POSTED, SLOT_MAKING, SLOT_DONE };

/* What the thread needs of a published frame: copies, so that nothing it reads changes
 * under it (the labels outlive a model switch). */
struct preview_job {
    struct cap_frame *frame;               /* held until shrunk */
    uint64_t seq;
    double ts_unix;
    int n;
    struct preview_face faces[FACES_MAX];
    int ids[FACES_MAX];
    char labels[FACES_MAX][ENN_MAX_CLASS_NAME + 1];
    int width, quality;
};

struct preview_stage {
    struct pipeline *pl;
    struct preview_settings set;
    int efd;
    int64_t last_taken_ns;                 /* capture time of the last frame taken */

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t posted;
    bool stopping;
    enum slot_state state;
    struct preview_job job;                /* the loop's while FREE, the thread's after */

    /* the thread's result, read by the loop once DONE */
    char *msg;                             /* PROTO_PREVIEW_MAX + 1 */
    size_t msg_len;                        /* 0: nothing to send */
    double make_ms;
    size_t jpeg_bytes;
    bool made, oversize;
    struct preview_renderer *renderer;     /* the thread's */

    /* figures: the loop's alone */
    uint64_t sent, skipped, busy, oversize_total, made_in_window;
    struct histogram make_hist, bytes_hist;
    int64_t window_start_ns;
};

int preview_stage_create(struct pipeline *pl, struct preview_stage **out, char *err,
                         size_t errlen)
{
    struct preview_stage *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "preview: out of memory");
        return -1;
    }
    s->pl = pl;
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        snprintf(err, errlen, "preview: eventfd: %s", strerror(errno));
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->posted, NULL);
    s->window_start_ns = mono_ns();
    *out = s;
    return 0;
}

void preview_stage_configure(struct preview_stage *s, const struct preview_settings *set)
{
    s->set = *set;
}

bool preview_stage_enabled(const struct preview_stage *s) { return s->set.enabled; }

static int64_t interval_ns(const struct preview_stage *s)
{
    return (int64_t)(1e9 / s->set.fps);
}

bool preview_stage_wants_frames(struct preview_stage *s, int64_t now_ns)
{
    if (!s->set.enabled ||
        (s->last_taken_ns && now_ns < s->last_taken_ns + interval_ns(s) - PREVIEW_LEAD_NS))
        return false;
    pthread_mutex_lock(&s->lock);
    bool free_slot = s->state == SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
    return free_slot;
}
int preview_stage_event_fd(const struct preview_stage *s) { return s->efd; }

long preview_message(struct preview_renderer *r, uint64_t seq, double ts_unix, int frame_w,
                     int frame_h, const struct preview_face *faces, int n, int quality,
                     char *msg, size_t *jpeg_bytes, char *err, size_t errlen)
{
    preview_draw(r, faces, n);
    int tw, th, channels;
    const uint8_t *pixels;
    preview_thumbnail(r, &tw, &th, &channels, &pixels);
    struct proto_preview_face boxes[FACES_MAX];
    n = n < FACES_MAX ? n : FACES_MAX;
    for (int i = 0; i < n; i++) {
        boxes[i] = (struct proto_preview_face){.id = faces[i].id, .label = faces[i].label,
                                               .confidence = faces[i].confidence};
        preview_scale_box(faces[i].box, frame_w, frame_h, tw, th, boxes[i].box);
    }
    struct proto_preview p = {.seq = seq, .ts_unix = ts_unix, .width = tw, .height = th,
                              .frame_width = frame_w, .frame_height = frame_h,
                              .faces = boxes, .n_faces = n};
    /* the JPEG's budget: what the message leaves for base64 (4 characters per 3 bytes) */
    struct json_out j;
    json_init(&j, msg, PROTO_PREVIEW_MAX + 1);
    proto_preview(&j, &p);
    size_t budget = j.overflow ? 0 : (PROTO_PREVIEW_MAX - j.len) / 4 * 3;
    int fits = preview_encode(r, quality, budget, &p.jpeg, &p.jpeg_len, err, errlen);
    *jpeg_bytes = p.jpeg_len;
    if (fits <= 0)
        return fits;
    json_init(&j, msg, PROTO_PREVIEW_MAX + 1);
    proto_preview(&j, &p);
    return j.overflow ? 0 : (long)j.len;
}

/* The thread's work on one job: the picture, then the message around it. */
static void make(struct preview_stage *s, struct preview_job *job)
{
    int64_t t0 = mono_ns();
    struct cap_frame *f = job->frame;
    int frame_w = f->width, frame_h = f->height;
    int rc = preview_shrink(s->renderer, f->data, frame_w, frame_h, f->stride, (int)f->fmt,
                            job->width);
    pl_return_frame(s->pl, f);      /* the pool has it back before the slower steps */
    job->frame = NULL;
    s->msg_len = 0;
    s->made = s->oversize = false;
    if (rc) {
        log_err("preview: out of memory");
        return;
    }
    char err[TEXT_WHY];
    long len = preview_message(s->renderer, job->seq, job->ts_unix, frame_w, frame_h, job->faces,
                               job->n, job->quality, s->msg, &s->jpeg_bytes, err, sizeof err);
    if (len < 0) {
        log_err("preview: %s", err);
        return;
    }
    s->made = true;
    s->oversize = len == 0;
    s->msg_len = (size_t)len;
    s->make_ms = (double)(mono_ns() - t0) / 1e6;
}

static void *preview_main(void *arg)
{
    struct preview_stage *s = arg;
    /* below the pipeline's threads: on a busy box previews thin out, frames do not */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PREVIEW_NICE) != 0)
        log_debug("preview: setpriority: %s", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->stopping && s->state != SLOT_POSTED)
            pthread_cond_wait(&s->posted, &s->lock);
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        s->state = SLOT_MAKING;
        pthread_mutex_unlock(&s->lock);

        make(s, &s->job);

        pthread_mutex_lock(&s->lock);
        s->state = SLOT_DONE;
        pthread_mutex_unlock(&s->lock);
        uint64_t one = 1;
        if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warn("preview: eventfd write: %s", strerror(errno));
    }
    return NULL;
}

/* The buffers and the thread, at the first preview. */
static bool start(struct preview_stage *s)
{
    if (s->started)
        return true;
    if (!s->msg && !(s->msg = malloc(PROTO_PREVIEW_MAX + 1)))
        return false;
    if (!s->renderer && !(s->renderer = preview_renderer_create()))
        return false;
    if (pthread_create(&s->thread, NULL, preview_main, s) != 0)
        return false;
    s->started = true;
    return true;
}

void preview_stage_offer(struct preview_stage *s, struct pl_result *r,
                         const struct enn_model *model)
{
    if (!s->set.enabled)
        return;
    int64_t interval = interval_ns(s);
    if (s->last_taken_ns && r->ts_ns >= s->last_taken_ns && r->ts_ns - s->last_taken_ns < interval)
        return;
    pthread_mutex_lock(&s->lock);
    bool free_slot = s->state == SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
    if (!free_slot) {             /* this period's preview is not made */
        s->busy++;
        s->last_taken_ns = r->ts_ns;
        return;
    }
    if (!r->frame)                /* not kept (no subscriber): the next one kept is taken */
        return;
    s->last_taken_ns = r->ts_ns;
    if (!start(s)) {
        log_err("preview: cannot start: %s", strerror(errno ? errno : ENOMEM));
        return;
    }
    struct preview_job *job = &s->job;
    job->seq = r->seq;
    job->ts_unix = r->ts_unix;
    job->n = r->n;
    job->width = s->set.width;
    job->quality = s->set.quality;
    for (int i = 0; i < r->n; i++) {
        const struct face_result *f = &r->faces[i];
        snprintf(job->labels[i], sizeof job->labels[i], "%s", model->classes[f->label]);
        job->faces[i] = (struct preview_face){.id = f->id, .label = job->labels[i],
                                              .confidence = f->scores[f->label]};
        memcpy(job->faces[i].box, f->box, sizeof f->box);
    }
    job->frame = pl_take_frame(s->pl, r);
    pthread_mutex_lock(&s->lock);
    s->state = SLOT_POSTED;
    pthread_cond_signal(&s->posted);
    pthread_mutex_unlock(&s->lock);
}

const char *preview_stage_result(struct preview_stage *s, size_t *len)
{
    uint64_t count;
    if (read(s->efd, &count, sizeof count) < 0 && errno != EAGAIN)
        log_warn("preview: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&s->lock);
    bool done = s->state == SLOT_DONE;
    pthread_mutex_unlock(&s->lock);
    if (!done)
        return NULL;
    if (s->made) {
        s->made_in_window++;
        hist_add(&s->make_hist, s->make_ms);
        /* the histogram's range (0.001..100000) holds byte counts up to the cap */
        hist_add(&s->bytes_hist, (double)s->jpeg_bytes);
    }
    if (s->oversize) {
        s->oversize_total++;
        log_warn("preview: %zu bytes of JPEG even at quality 10, over the %d-byte message "
                 "cap; not sent (lower [preview] width)", s->jpeg_bytes, PROTO_PREVIEW_MAX);
    }
    *len = s->msg_len;
    return s->msg_len ? s->msg : NULL;
}

void preview_stage_done(struct preview_stage *s, unsigned sent, unsigned skipped)
{
    s->sent += sent;
    s->skipped += skipped;
    pthread_mutex_lock(&s->lock);
    if (s->state == SLOT_DONE)
        s->state = SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
}

void preview_stage_stats(struct preview_stage *s, struct proto_preview_stats *out)
{
    int64_t now = mono_ns();
    double window = (double)(now - s->window_start_ns) / 1e9;
    *out = (struct proto_preview_stats){
        .fps = window > 0 ? (double)s->made_in_window / window : NAN,
        .sent = s->sent, .skipped = s->skipped, .busy = s->busy,
        .oversize = s->oversize_total,
        .encode_p50_ms = hist_percentile(&s->make_hist, 50),
        .encode_p99_ms = hist_percentile(&s->make_hist, 99),
        .bytes_p50 = hist_percentile(&s->bytes_hist, 50)};
    s->made_in_window = 0;
    hist_reset(&s->make_hist);
    hist_reset(&s->bytes_hist);
    s->window_start_ns = now;
}

void preview_stage_free(struct preview_stage *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->posted);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    if (s->job.frame)             /* posted, never taken up */
        pl_return_frame(s->pl, s->job.frame);
    preview_renderer_free(s->renderer);
    free(s->msg);
    close(s->efd);
    pthread_cond_destroy(&s->posted);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
