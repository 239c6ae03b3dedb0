#define _DEFAULT_SOURCE
#include "fake_v4l2.h"

#include <errno.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FAKE_FD 4242
#define N_BUF 4

struct fake_cam fake_cam;
static uint8_t *buffers[N_BUF];
static size_t buffer_len;
static bool queued[N_BUF];
static bool live[N_BUF];          /* mapped and not yet unmapped */

static void forget_buffers(void)
{
    for (int i = 0; i < N_BUF; i++) {
        free(buffers[i]);
        buffers[i] = NULL;
        queued[i] = false;
        live[i] = false;
    }
}

void fake_cam_reset(const uint32_t *formats, int n, int max_w, int max_h)
{
    forget_buffers();          /* a test that failed half-way may have left a stream */
    memset(&fake_cam, 0, sizeof fake_cam);
    memcpy(fake_cam.formats, formats, (size_t)n * sizeof *formats);
    fake_cam.n_formats = n;
    fake_cam.max_width = max_w;
    fake_cam.max_height = max_h;
    fake_cam.present = true;
}

void fake_cam_push(enum fake_event_kind kind, uint32_t seq)
{
    fake_cam.events[fake_cam.n_events++] = (struct fake_event){kind, seq, NULL, 0};
}

void fake_cam_push_jpeg(uint32_t seq, const uint8_t *jpeg, size_t len)
{
    fake_cam.events[fake_cam.n_events++] = (struct fake_event){EV_FRAME, seq, jpeg, len};
}

uint8_t fake_luma(uint32_t seq, int x, int y)
{
    return (uint8_t)(x * 3 + y * 5 + (int)seq * 7);
}

static int f_open(const char *path, int flags)
{
    (void)path, (void)flags;
    fake_cam.opens++;
    if (!fake_cam.present) {
        if (fake_cam.absent_opens > 0 && --fake_cam.absent_opens == 0)
            fake_cam.present = true;      /* the next open finds it plugged back in */
        fake_cam.failed_opens++;
        errno = ENOENT;
        return -1;
    }
    return FAKE_FD;
}

static int f_close(int fd)
{
    (void)fd;
    fake_cam.closes++;
    fake_cam.streaming = false;
    forget_buffers();
    return 0;
}

static bool gone(void)
{
    if (fake_cam.present)
        return false;
    errno = ENODEV;
    return true;
}

static void fill(uint8_t *dst, const struct fake_event *ev, uint32_t *used)
{
    int w = fake_cam.width, h = fake_cam.height;
    if (fake_cam.fourcc == V4L2_PIX_FMT_MJPEG) {
        if (!ev->jpeg) {          /* a buffer the driver flags bad carries nothing */
            *used = 0;
            return;
        }
        size_t n = ev->jpeg_len < buffer_len ? ev->jpeg_len : buffer_len;
        memcpy(dst, ev->jpeg, n);
        *used = (uint32_t)n;
        return;
    }
    bool packed = fake_cam.fourcc == V4L2_PIX_FMT_YUYV || fake_cam.fourcc == V4L2_PIX_FMT_UYVY;
    int luma_at = fake_cam.fourcc == V4L2_PIX_FMT_UYVY ? 1 : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (packed) {
                dst[(y * w + x) * 2 + luma_at] = fake_luma(ev->seq, x, y);
                dst[(y * w + x) * 2 + 1 - luma_at] = 128;   /* chroma */
            } else {
                dst[y * w + x] = fake_luma(ev->seq, x, y);
            }
        }
    *used = (uint32_t)(w * h * (packed ? 2 : 1));
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
    (void)fd;
    if (gone())
        return -1;
    switch (req) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *c = arg;
        memset(c, 0, sizeof *c);
        c->capabilities = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *d = arg;
        if (d->index >= (uint32_t)fake_cam.n_formats) {
            errno = EINVAL;
            return -1;
        }
        d->pixelformat = fake_cam.formats[d->index];
        return 0;
    }
    case VIDIOC_S_FMT: {
        struct v4l2_format *f = arg;
        bool offered = false;
        for (int i = 0; i < fake_cam.n_formats; i++)
            offered |= fake_cam.formats[i] == f->fmt.pix.pixelformat;
        if (!offered)
            f->fmt.pix.pixelformat = fake_cam.formats[0];
        if (f->fmt.pix.width > (uint32_t)fake_cam.max_width)
            f->fmt.pix.width = (uint32_t)fake_cam.max_width;
        if (f->fmt.pix.height > (uint32_t)fake_cam.max_height)
            f->fmt.pix.height = (uint32_t)fake_cam.max_height;
        uint32_t pf = f->fmt.pix.pixelformat;
        int bpp = pf == V4L2_PIX_FMT_YUYV || pf == V4L2_PIX_FMT_UYVY ? 2 : 1;
        f->fmt.pix.bytesperline = pf == V4L2_PIX_FMT_MJPEG ? 0 : f->fmt.pix.width * (uint32_t)bpp;
        fake_cam.fourcc = pf;
        fake_cam.width = (int)f->fmt.pix.width;
        fake_cam.height = (int)f->fmt.pix.height;
        buffer_len = (size_t)fake_cam.width * (size_t)fake_cam.height * 2 + 4096;
        return 0;
    }
    case VIDIOC_S_PARM: {
        struct v4l2_streamparm *p = arg;
        fake_cam.set_interval.numerator = p->parm.capture.timeperframe.numerator;
        fake_cam.set_interval.denominator = p->parm.capture.timeperframe.denominator;
        return 0;
    }
    case VIDIOC_ENUM_FRAMESIZES: {
        struct v4l2_frmsizeenum *f = arg;
        if (f->index >= (uint32_t)fake_cam.n_sizes) {
            errno = EINVAL;
            return -1;
        }
        f->type = V4L2_FRMSIZE_TYPE_DISCRETE;
        f->discrete.width = fake_cam.sizes[f->index][0];
        f->discrete.height = fake_cam.sizes[f->index][1];
        return 0;
    }
    case VIDIOC_ENUM_FRAMEINTERVALS: {
        struct v4l2_frmivalenum *f = arg;
        if (f->index >= (uint32_t)fake_cam.n_intervals) {
            errno = EINVAL;
            return -1;
        }
        f->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        f->discrete.numerator = 1;
        f->discrete.denominator = fake_cam.intervals[f->index];
        return 0;
    }
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *r = arg;
        r->count = N_BUF;
        return 0;
    }
    case VIDIOC_QUERYBUF: {
        struct v4l2_buffer *b = arg;
        if (b->index >= N_BUF) {
            errno = EINVAL;
            return -1;
        }
        b->length = (uint32_t)buffer_len;
        b->m.offset = b->index * 65536;
        return 0;
    }
    case VIDIOC_QBUF: {
        struct v4l2_buffer *b = arg;
        if (b->index >= N_BUF || queued[b->index]) {
            errno = EINVAL;
            return -1;
        }
        if (fake_cam.qbuf_fail > 0 && b->index == (uint32_t)fake_cam.qbuf_fail - 1) {
            fake_cam.qbuf_fail = 0;
            errno = EIO;
            return -1;
        }
        queued[b->index] = true;
        return 0;
    }
    case VIDIOC_STREAMON:
        fake_cam.streaming = true;
        return 0;
    case VIDIOC_STREAMOFF:
        fake_cam.streaming = false;
        return 0;
    case VIDIOC_DQBUF: {
        struct v4l2_buffer *b = arg;
        if (fake_cam.next_event >= fake_cam.n_events) {
            errno = EAGAIN;
            return -1;
        }
        const struct fake_event *ev = &fake_cam.events[fake_cam.next_event];
        if (ev->kind == EV_EAGAIN) {
            fake_cam.next_event++;
            errno = EAGAIN;
            return -1;
        }
        int i = 0;
        while (i < N_BUF && !queued[i])
            i++;
        if (i == N_BUF) {
            errno = EAGAIN;
            return -1;
        }
        fake_cam.next_event++;
        queued[i] = false;
        memset(b, 0, sizeof *b);
        b->index = (uint32_t)i;
        b->sequence = ev->seq;
        b->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | (ev->kind == EV_BAD_FLAG ? V4L2_BUF_FLAG_ERROR : 0);
        b->timestamp.tv_sec = 1000 + ev->seq;
        fill(buffers[i], ev, &b->bytesused);
        return 0;
    }
    default:
        errno = ENOTTY;
        return -1;
    }
}

static void *f_mmap(void *start, size_t len, int prot, int flags, int fd, int64_t off)
{
    (void)start, (void)prot, (void)flags, (void)fd;
    int i = (int)(off / 65536);
    if (i < 0 || i >= N_BUF || gone())
        return MAP_FAILED;
    buffers[i] = calloc(1, len);
    live[i] = true;
    fake_cam.mapped++;
    return buffers[i];
}

static int f_munmap(void *start, size_t len)
{
    (void)len;
    for (int i = 0; i < N_BUF; i++)
        if (live[i] && buffers[i] == start) {
            live[i] = false;
            fake_cam.mapped--;
            return 0;
        }
    fake_cam.bad_unmaps++;       /* the real munmap would take away whatever is there now */
    errno = EINVAL;
    return -1;
}

static int f_poll(int fd, int timeout_ms)
{
    (void)fd, (void)timeout_ms;
    if (gone())
        return -1;
    if (fake_cam.next_event >= fake_cam.n_events)
        return 0;
    const struct fake_event *ev = &fake_cam.events[fake_cam.next_event];
    if (ev->kind == EV_TIMEOUT) {
        fake_cam.next_event++;
        return 0;
    }
    if (ev->kind == EV_IO_ERROR) {
        fake_cam.next_event++;
        errno = fake_cam.io_error_errno ? fake_cam.io_error_errno : EIO;
        return -1;
    }
    if (ev->kind == EV_UNPLUG) {
        fake_cam.next_event++;
        fake_cam.present = false;
        errno = ENODEV;
        return -1;
    }
    return 1;
}

const struct cap_v4l2_ops fake_v4l2_ops = {f_open, f_close, f_ioctl, f_mmap, f_munmap, f_poll};
