#define _POSIX_C_SOURCE 200809L
#include "source_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"

bool cap_sleep_ms(struct cap_source *s, int ms)
{
    while (ms > 0 && !atomic_load(&s->stop)) {
        int slice = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)slice * 1000000};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return !atomic_load(&s->stop);
}

void cap_note(struct cap_source *s, const char *fmt, ...)
{
    pthread_mutex_lock(&s->stats_lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&s->stats_lock);
}

void cap_count(struct cap_source *s, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&s->stats_lock);
    *counter += n;
    pthread_mutex_unlock(&s->stats_lock);
}

int cap_source_open(const char *spec, const struct cap_options *opts, struct cap_source **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    struct cap_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->o = opts ? *opts : (struct cap_options){0};
    if (!s->o.fmt)
        s->o.fmt = CAP_GRAY8;
    if (!s->o.scale)
        s->o.scale = 1;
    if (!s->o.pool_frames)
        s->o.pool_frames = 4;
    if (!s->o.max_width)
        s->o.max_width = 4096;
    if (!s->o.max_height)
        s->o.max_height = 4096;
    if (!s->o.timeout_ms)
        s->o.timeout_ms = 1000;
    if (!s->o.max_timeouts)
        s->o.max_timeouts = 3;
    if (!s->o.v4l2)
        s->o.v4l2 = &cap_v4l2_libv4l2;
    pthread_mutex_init(&s->stats_lock, NULL);
    atomic_init(&s->stop, false);
    int rc = -1;
    if (s->o.fmt != CAP_GRAY8 && s->o.fmt != CAP_BGR24)
        snprintf(err, errlen, "unknown pixel format %d", (int)s->o.fmt);
    else if (s->o.scale != 1 && s->o.scale != 2 && s->o.scale != 4 && s->o.scale != 8)
        snprintf(err, errlen, "JPEG scale 1/%d unsupported (1, 2, 4, 8)", s->o.scale);
    else if (s->o.fps < 0 || s->o.fps > 1000)
        snprintf(err, errlen, "fps %g out of range (0..1000)", s->o.fps);
    else if (!(s->jpeg = cap_jpeg_create()))
        snprintf(err, errlen, "cannot initialise the JPEG decoder");
    else if (strncmp(spec, "v4l2:", 5) == 0)
        rc = cap_camera_open(s, spec + 5, err, errlen);
    else if (strncmp(spec, "/dev/video", 10) == 0)
        rc = cap_camera_open(s, spec, err, errlen);
    else if (strncmp(spec, "file:", 5) == 0)
        rc = cap_files_open(s, "file", spec + 5, err, errlen);
    else if (strncmp(spec, "image:", 6) == 0)
        rc = cap_files_open(s, "image", spec + 6, err, errlen);
    else if (strncmp(spec, "dir:", 4) == 0)
        rc = cap_files_open(s, "dir", spec + 4, err, errlen);
    else
        snprintf(err, errlen, "source '%s': expected /dev/videoN, v4l2:DEV, file:PATH, "
                 "image:PATH or dir:PATH", spec);
    if (rc) {
        cap_jpeg_destroy(s->jpeg);
        pthread_mutex_destroy(&s->stats_lock);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int cap_source_next(struct cap_source *s, struct cap_frame **frame, char *err, size_t errlen)
{
    *frame = NULL;
    if (atomic_load(&s->stop))
        return 0;
    if (s->paced && s->o.fps > 0) {
        int64_t now = mono_ns(), period = (int64_t)(1e9 / s->o.fps);
        if (s->next_due_ns == 0 || now - s->next_due_ns > period)
            s->next_due_ns = now;        /* first frame, or fell behind: no catch-up burst */
        else if (s->next_due_ns > now &&
                 !cap_sleep_ms(s, (int)((s->next_due_ns - now + 999999) / 1000000)))
            return 0;
        s->next_due_ns += period;
    }
    int rc = s->vt->next(s, frame, err, errlen);
    if (rc == 1)
        cap_count(s, &s->st.frames, 1);
    return rc;
}

void cap_source_stop(struct cap_source *s)
{
    atomic_store(&s->stop, true);
}

void cap_source_stats(struct cap_source *s, struct cap_stats *out)
{
    pthread_mutex_lock(&s->stats_lock);
    *out = s->st;
    pthread_mutex_unlock(&s->stats_lock);
}

void cap_source_last_error(struct cap_source *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->stats_lock);
    snprintf(buf, len, "%s", s->last_error);
    pthread_mutex_unlock(&s->stats_lock);
}

const char *cap_source_describe(const struct cap_source *s)
{
    return s->desc;
}

bool cap_source_is_camera(const char *spec)
{
    return strncmp(spec, "v4l2:", 5) == 0 || strncmp(spec, "/dev/video", 10) == 0;
}

uint32_t cap_fourcc(const char *name)
{
    if (!name || strlen(name) != 4 || !strcmp(name, "auto"))
        return 0;
    return (uint32_t)(unsigned char)name[0] | (uint32_t)(unsigned char)name[1] << 8 |
           (uint32_t)(unsigned char)name[2] << 16 | (uint32_t)(unsigned char)name[3] << 24;
}

void cap_source_description(struct cap_source *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->stats_lock);
    snprintf(buf, len, "%s", s->desc);
    pthread_mutex_unlock(&s->stats_lock);
}

void cap_source_close(struct cap_source *s)
{
    if (!s)
        return;
    s->vt->close(s);
    cap_pool_destroy(s->pool);
    cap_jpeg_destroy(s->jpeg);
    pthread_mutex_destroy(&s->stats_lock);
    free(s);
}
