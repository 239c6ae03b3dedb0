/* V4L2 camera: format negotiation, mmap streaming, sequence-gap counting, and recovery
 * from unplugs and stalls by closing and reopening with backoff. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "source_impl.h"
#include "textsize.h"

#define N_BUFFERS 4
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* A camera whose node is absent (unplugged) or not yet ours (udev still setting its
   group) is looked for this often, whatever the backoff: an open() of a missing path
   costs nothing, and a replugged camera streams again within the product's 2 s. The
   backoff is for cameras that are there and fail. */
#define ABSENT_POLL_MS 250

struct camera {
    char path[128];
    int fd;
    bool streaming, ever_streamed;
    uint32_t fourcc;
    int width, height;
    size_t bytesperline;
    void *buf[N_BUFFERS];
    size_t buf_len[N_BUFFERS];
    int n_bufs;
    bool have_seq;
    bool absent;               /* the last open failed: no such node, or not ours yet */
    uint32_t last_seq;
    int timeouts_in_row, waited_ms;
    int backoff_ms;
    bool dequeued;             /* a buffer came since the stream went on */
    int lost_before_frame;     /* streams lost in a row before any buffer came */
};

/* Preference: luma directly (GREY, then packed YUV), then MJPEG, then YUV420, which
   libv4l2 can produce from nearly anything and whose first plane is luma. */
static const uint32_t PREFERENCE[] = {V4L2_PIX_FMT_GREY, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_UYVY,
                                      V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_JPEG};

static int xioctl(struct cap_source *s, int fd, unsigned long req, void *arg)
{
    int rc;
    do
        rc = s->o.v4l2->ioctl(fd, req, arg);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static void fourcc_str(uint32_t f, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (char)((f >> (8 * i)) & 0xff);
    out[4] = '\0';
}

static void cam_shutdown(struct cap_source *s, struct camera *c)
{
    if (c->fd < 0)
        return;
    if (c->streaming) {
        enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        xioctl(s, c->fd, VIDIOC_STREAMOFF, &t);
    }
    /* cleared, so that a later start that fails part-way never unmaps these again */
    for (int i = 0; i < N_BUFFERS; i++) {
        if (c->buf[i])
            s->o.v4l2->munmap(c->buf[i], c->buf_len[i]);
        c->buf[i] = NULL;
    }
    s->o.v4l2->close(c->fd);
    c->fd = -1;
    c->n_bufs = 0;
    c->streaming = false;
    c->have_seq = false;
    c->timeouts_in_row = 0;
    c->waited_ms = 0;
    pthread_mutex_lock(&s->stats_lock);
    s->st.connected = false;
    pthread_mutex_unlock(&s->stats_lock);
}

/* The format to ask for: the one the options require (0 if the camera does not offer
   it), else the first of PREFERENCE the camera offers, else YUV420 (libv4l2). */
static uint32_t choose_format(struct cap_source *s, struct camera *c)
{
    uint32_t offered[64];
    int n = 0;
    for (unsigned i = 0; n < 64; i++) {
        struct v4l2_fmtdesc d = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        if (xioctl(s, c->fd, VIDIOC_ENUM_FMT, &d) < 0)
            break;
        offered[n++] = d.pixelformat;
    }
    if (s->o.fourcc) {
        for (int i = 0; i < n; i++)
            if (offered[i] == s->o.fourcc)
                return offered[i];
        return 0;
    }
    for (size_t p = 0; p < sizeof PREFERENCE / sizeof *PREFERENCE; p++)
        for (int i = 0; i < n; i++)
            if (offered[i] == PREFERENCE[p])
                return offered[i];
    return V4L2_PIX_FMT_YUV420;
}

/* The size nearest the request among those the driver lists (discrete sizes, or a
   stepwise range clamped); the request itself when the driver lists none. */
static void choose_size(struct cap_source *s, struct camera *c, uint32_t fourcc, uint32_t *w,
                        uint32_t *h)
{
    uint32_t want_w = *w, want_h = *h;
    long best = -1;
    for (unsigned i = 0; i < 256; i++) {
        struct v4l2_frmsizeenum fs = {.index = i, .pixel_format = fourcc};
        if (xioctl(s, c->fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
            break;
        uint32_t cw, ch;
        if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
            cw = fs.discrete.width;
            ch = fs.discrete.height;
        } else {
            const struct v4l2_frmsize_stepwise *st = &fs.stepwise;
            uint32_t sw = st->step_width ? st->step_width : 1, sh = st->step_height ? st->step_height : 1;
            cw = want_w < st->min_width ? st->min_width : want_w > st->max_width ? st->max_width : want_w;
            ch = want_h < st->min_height ? st->min_height : want_h > st->max_height ? st->max_height : want_h;
            cw = st->min_width + (cw - st->min_width) / sw * sw;
            ch = st->min_height + (ch - st->min_height) / sh * sh;
        }
        long d = labs((long)cw * (long)ch - (long)want_w * (long)want_h) +
                 labs((long)cw - (long)want_w) + labs((long)ch - (long)want_h);
        if (best < 0 || d < best) {
            best = d;
            *w = cw;
            *h = ch;
        }
        if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
            break;
    }
}

/* The frame interval nearest 1/fps that the driver lists for this format and size. */
static void choose_interval(struct cap_source *s, struct camera *c, uint32_t fourcc, uint32_t w,
                            uint32_t h, struct v4l2_fract *out)
{
    double want = 1.0 / s->o.fps, best = -1;
    out->numerator = 1000;
    out->denominator = (uint32_t)(s->o.fps * 1000);
    for (unsigned i = 0; i < 256; i++) {
        struct v4l2_frmivalenum fi = {.index = i, .pixel_format = fourcc, .width = w, .height = h};
        if (xioctl(s, c->fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0 ||
            fi.type != V4L2_FRMIVAL_TYPE_DISCRETE || fi.discrete.denominator == 0)
            break;
        double t = (double)fi.discrete.numerator / fi.discrete.denominator;
        double d = t > want ? t - want : want - t;
        if (best < 0 || d < best) {
            best = d;
            *out = fi.discrete;
        }
    }
}

/* Opens and starts streaming; on failure the camera is left closed and why says why. */
/* Opens the device and checks it can capture with streaming I/O. */
static int cam_open(struct cap_source *s, struct camera *c, char *why, size_t whylen)
{
    c->fd = s->o.v4l2->open(c->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    c->absent = c->fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO ||
                              errno == EACCES);
    if (c->fd < 0) {
        snprintf(why, whylen, "%s: %s", c->path, strerror(errno));
        return -1;
    }
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    if (xioctl(s, c->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        snprintf(why, whylen, "%s: not a V4L2 device (%s)", c->path, strerror(errno));
        return -1;
    }
    uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
        snprintf(why, whylen, "%s: no video capture with streaming I/O", c->path);
        return -1;
    }
    return 0;
}

/* Asks for the best format and size, and takes what the driver gives if usable. *fmt
 * keeps the driver's own size (the frame rate is chosen for it). */
static int cam_set_format(struct cap_source *s, struct camera *c, struct v4l2_format *fmt,
                          char *why, size_t whylen)
{
    *fmt = (struct v4l2_format){.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    fmt->fmt.pix.pixelformat = choose_format(s, c);
    if (!fmt->fmt.pix.pixelformat) {
        char want[5];
        fourcc_str(s->o.fourcc, want);
        snprintf(why, whylen, "%s does not offer the pixel format %s ([capture] format)",
                 c->path, want);
        return -1;
    }
    fmt->fmt.pix.width = (uint32_t)(s->o.width ? s->o.width : 640);
    fmt->fmt.pix.height = (uint32_t)(s->o.height ? s->o.height : 480);
    choose_size(s, c, fmt->fmt.pix.pixelformat, &fmt->fmt.pix.width, &fmt->fmt.pix.height);
    fmt->fmt.pix.field = V4L2_FIELD_ANY;
    if (xioctl(s, c->fd, VIDIOC_S_FMT, fmt) < 0) {
        snprintf(why, whylen, "%s: VIDIOC_S_FMT: %s", c->path, strerror(errno));
        return -1;
    }
    c->fourcc = fmt->fmt.pix.pixelformat;
    c->width = (int)fmt->fmt.pix.width;
    c->height = (int)fmt->fmt.pix.height;
    c->bytesperline = fmt->fmt.pix.bytesperline;
    bool jpeg = c->fourcc == V4L2_PIX_FMT_MJPEG || c->fourcc == V4L2_PIX_FMT_JPEG;
    if (jpeg) {
        c->width /= s->o.scale;
        c->height /= s->o.scale;
    }
    size_t min_bpl = (size_t)c->width * (c->fourcc == V4L2_PIX_FMT_YUYV ||
                                         c->fourcc == V4L2_PIX_FMT_UYVY ? 2 : 1);
    if (c->width < 1 || c->height < 1 || (!jpeg && c->bytesperline < min_bpl)) {
        snprintf(why, whylen, "%s: driver gave an unusable format (%dx%d, %zu bytes a line)",
                 c->path, c->width, c->height, c->bytesperline);
        return -1;
    }
    return 0;
}

/* The frame rate asked for, best effort: not every driver can set one. */
static void cam_set_rate(struct cap_source *s, struct camera *c, const struct v4l2_format *fmt)
{
    if (s->o.fps <= 0)
        return;
    struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    choose_interval(s, c, c->fourcc, fmt->fmt.pix.width, fmt->fmt.pix.height,
                    &parm.parm.capture.timeperframe);
    xioctl(s, c->fd, VIDIOC_S_PARM, &parm);
}

/* The frame pool (made at the first start; a reconnect must not need larger frames),
 * then the driver's buffers, mapped and queued. */
static int cam_map_buffers(struct cap_source *s, struct camera *c, char *why, size_t whylen)
{
    size_t bytes = (size_t)c->width * (size_t)c->height * (size_t)s->o.fmt;
    if (!s->pool) {
        if (!(s->pool = cap_pool_create(s->o.pool_frames, bytes))) {
            snprintf(why, whylen, "out of memory for frames of %zu bytes", bytes);
            return -1;
        }
    } else if (bytes > cap_pool_frame_capacity(s->pool)) {
        snprintf(why, whylen, "%s came back with a larger format (%dx%d) than it started with",
                 c->path, c->width, c->height);
        return -1;
    }
    struct v4l2_requestbuffers req = {.count = N_BUFFERS, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                      .memory = V4L2_MEMORY_MMAP};
    if (xioctl(s, c->fd, VIDIOC_REQBUFS, &req) < 0 || req.count < 2) {
        snprintf(why, whylen, "%s: cannot get capture buffers (%s)", c->path, strerror(errno));
        return -1;
    }
    c->n_bufs = req.count > N_BUFFERS ? N_BUFFERS : (int)req.count;
    for (int i = 0; i < c->n_bufs; i++) {
        struct v4l2_buffer b = {.index = (uint32_t)i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                .memory = V4L2_MEMORY_MMAP};
        if (xioctl(s, c->fd, VIDIOC_QUERYBUF, &b) < 0) {
            snprintf(why, whylen, "%s: VIDIOC_QUERYBUF: %s", c->path, strerror(errno));
            return -1;
        }
        c->buf_len[i] = b.length;
        c->buf[i] = s->o.v4l2->mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
                                    b.m.offset);
        if (c->buf[i] == MAP_FAILED) {
            c->buf[i] = NULL;
            snprintf(why, whylen, "%s: mmap: %s", c->path, strerror(errno));
            return -1;
        }
        if (xioctl(s, c->fd, VIDIOC_QBUF, &b) < 0) {
            snprintf(why, whylen, "%s: VIDIOC_QBUF: %s", c->path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Streams on, and says so: the description, connected, a reconnect counted. */
static int cam_stream_on(struct cap_source *s, struct camera *c, char *why, size_t whylen)
{
    enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(s, c->fd, VIDIOC_STREAMON, &t) < 0) {
        snprintf(why, whylen, "%s: VIDIOC_STREAMON: %s", c->path, strerror(errno));
        return -1;
    }
    c->streaming = true;
    char cc[5];
    fourcc_str(c->fourcc, cc);
    pthread_mutex_lock(&s->stats_lock);
    snprintf(s->desc, sizeof s->desc, "v4l2:%s %s %dx%d", c->path, cc, c->width, c->height);
    s->st.connected = true;
    if (c->ever_streamed)
        s->st.reconnects++;
    pthread_mutex_unlock(&s->stats_lock);
    c->ever_streamed = true;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->dequeued = false;
    return 0;
}

/* Capability check, format, rate, buffers, stream: on a failure the device is closed. */
static int cam_start(struct cap_source *s, struct camera *c, char *why, size_t whylen)
{
    struct v4l2_format fmt;
    if (cam_open(s, c, why, whylen) || cam_set_format(s, c, &fmt, why, whylen)) {
        cam_shutdown(s, c);
        return -1;
    }
    cam_set_rate(s, c, &fmt);
    if (cam_map_buffers(s, c, why, whylen) || cam_stream_on(s, c, why, whylen)) {
        cam_shutdown(s, c);
        return -1;
    }
    return 0;
}

/* Converts a dequeued buffer into f; false (and a note) when the frame is bad. */
static bool convert(struct cap_source *s, struct camera *c, const uint8_t *src, size_t used,
                    struct cap_frame *f)
{
    size_t bpp = (size_t)s->o.fmt;
    f->width = c->width;
    f->height = c->height;
    f->stride = (size_t)c->width * bpp;
    if (c->fourcc == V4L2_PIX_FMT_MJPEG || c->fourcc == V4L2_PIX_FMT_JPEG) {
        char why[200];
        int w, h;
        if (cap_jpeg_decode(s->jpeg, src, used, s->o.fmt, s->o.scale, f->data, f->capacity, &w,
                            &h, why, sizeof why)) {
            cap_note(s, "camera frame skipped: %s", why);
            return false;
        }
        f->width = w;
        f->height = h;
        f->stride = (size_t)w * bpp;
        return true;
    }
    size_t step = 1, first = 0;
    if (c->fourcc == V4L2_PIX_FMT_YUYV)
        step = 2;
    else if (c->fourcc == V4L2_PIX_FMT_UYVY)
        step = 2, first = 1;
    if (used < c->bytesperline * (size_t)(c->height - 1) + (size_t)c->width * step) {
        cap_note(s, "camera frame skipped: %zu bytes, a %dx%d frame needs more", used, c->width,
                 c->height);
        return false;
    }
    for (int y = 0; y < c->height; y++) {
        const uint8_t *row = src + (size_t)y * c->bytesperline + first;
        uint8_t *dst = f->data + (size_t)y * f->stride;
        if (step == 1 && bpp == 1) {
            memcpy(dst, row, (size_t)c->width);
            continue;
        }
        for (int x = 0; x < c->width; x++)
            for (size_t k = 0; k < bpp; k++)
                dst[(size_t)x * bpp + k] = row[(size_t)x * step];
    }
    return true;
}

/* A stream that fails before its first buffer is reopened after a doubling pause: a
   camera that opens and streams on but never delivers would otherwise be reopened as
   fast as the USB bus allows. */
static void lost(struct cap_source *s, struct camera *c, const char *what, int err)
{
    if (c->dequeued) {
        cap_note(s, "camera %s lost (%s); reopening", c->path, what);
        cam_shutdown(s, c);
        return;
    }
    int delay = BACKOFF_MIN_MS;
    for (int i = 0; i < c->lost_before_frame && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    /* unplugged: the node is looked for as often as an absent one is */
    if ((err == ENODEV || err == ENOENT || err == ENXIO) && delay > ABSENT_POLL_MS)
        delay = ABSENT_POLL_MS;
    c->lost_before_frame++;
    cap_note(s, "camera %s lost (%s) before its first frame; reopening in %d ms", c->path,
             what, delay);
    cam_shutdown(s, c);
    cap_sleep_ms(s, delay);
}

static int cam_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct camera *c = s->impl;
    while (!atomic_load(&s->stop)) {
        if (c->fd < 0) {
            char why[TEXT_WHY];
            if (cam_start(s, c, why, sizeof why)) {
                int delay = c->absent && c->backoff_ms > ABSENT_POLL_MS ? ABSENT_POLL_MS
                                                                        : c->backoff_ms;
                cap_note(s, "%s; retrying in %d ms", why, delay);
                if (!cap_sleep_ms(s, delay))
                    break;
                c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                   : c->backoff_ms * 2;
                continue;
            }
        }
        int wait = s->o.timeout_ms < 200 ? s->o.timeout_ms : 200;   /* stays stoppable */
        int rc = s->o.v4l2->poll(c->fd, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            lost(s, c, strerror(errno), errno);
            continue;
        }
        if (rc == 0) {
            c->waited_ms += wait;
            if (c->waited_ms < s->o.timeout_ms)
                continue;
            c->waited_ms = 0;
            cap_count(s, &s->st.timeouts, 1);
            if (++c->timeouts_in_row >= s->o.max_timeouts)
                lost(s, c, "no frames: stalled", 0);
            continue;
        }
        c->waited_ms = 0;
        c->timeouts_in_row = 0;
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        if (xioctl(s, c->fd, VIDIOC_DQBUF, &b) < 0) {
            if (errno == EAGAIN)
                continue;
            lost(s, c, strerror(errno), errno);
            continue;
        }
        if (b.index >= (uint32_t)c->n_bufs) {
            lost(s, c, "driver returned a bad buffer index", 0);
            continue;
        }
        c->dequeued = true;
        c->lost_before_frame = 0;
        if (c->have_seq && b.sequence > c->last_seq + 1)
            cap_count(s, &s->st.seq_gaps, b.sequence - c->last_seq - 1);
        c->have_seq = true;
        c->last_seq = b.sequence;
        struct cap_frame *f = NULL;
        bool good = !(b.flags & V4L2_BUF_FLAG_ERROR) && b.bytesused <= c->buf_len[b.index];
        if (!good) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "camera frame %u flagged bad by the driver", b.sequence);
        } else if (!(f = cap_pool_acquire(s->pool))) {
            cap_count(s, &s->st.pool_empty, 1);
        } else {
            f->fmt = s->o.fmt;
            if (!convert(s, c, c->buf[b.index], b.bytesused, f)) {
                cap_count(s, &s->st.corrupt, 1);
                cap_frame_unref(f);
                f = NULL;
            }
        }
        if (f) {
            f->seq = b.sequence;
            f->ts_ns = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) ==
                               V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC
                           ? (int64_t)b.timestamp.tv_sec * 1000000000 +
                                 (int64_t)b.timestamp.tv_usec * 1000
                           : mono_ns();
        }
        if (xioctl(s, c->fd, VIDIOC_QBUF, &b) < 0) {
            lost(s, c, strerror(errno), errno);
            if (f)
                cap_frame_unref(f);
            continue;
        }
        if (f) {
            *out = f;
            return 1;
        }
    }
    return 0;
}

static void cam_close(struct cap_source *s)
{
    struct camera *c = s->impl;
    if (!c)
        return;
    cam_shutdown(s, c);
    free(c);
    s->impl = NULL;
}

static const struct cap_source_vt camera_vt = {cam_next, cam_close};

int cap_camera_open(struct cap_source *s, const char *path, char *err, size_t errlen)
{
    if (strlen(path) >= sizeof ((struct camera *)0)->path || path[0] != '/') {
        snprintf(err, errlen, "camera '%s': expected a device path such as /dev/video0", path);
        return -1;
    }
    struct camera *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    c->fd = -1;
    c->backoff_ms = BACKOFF_MIN_MS;
    s->impl = c;
    s->vt = &camera_vt;
    snprintf(s->desc, sizeof s->desc, "v4l2:%s (waiting)", path);
    return 0;
}
