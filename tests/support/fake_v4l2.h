/* A scripted V4L2 camera behind the capture module's ops table, so tests drive the real
 * camera code: format negotiation, mmap streaming, sequence gaps, EAGAIN, timeouts,
 * and unplugs (ENODEV mid-stream, absent for a while, then back). One camera at a time. */
#ifndef EMOTIOND_TEST_FAKE_V4L2_H
#define EMOTIOND_TEST_FAKE_V4L2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "v4l2.h"

/* EV_IO_ERROR: poll fails (EIO, or io_error_errno) while the camera stays plugged in */
enum fake_event_kind { EV_FRAME, EV_TIMEOUT, EV_EAGAIN, EV_UNPLUG, EV_BAD_FLAG, EV_IO_ERROR };

struct fake_event {
    enum fake_event_kind kind;
    uint32_t seq;              /* EV_FRAME: the driver's sequence number */
    const uint8_t *jpeg;       /* EV_FRAME on an MJPEG camera: the frame's bytes */
    size_t jpeg_len;
};

struct fake_cam {
    /* set by the test */
    uint32_t formats[8];
    int n_formats;
    int max_width, max_height;
    uint32_t sizes[8][2];      /* discrete sizes listed (none: ENUM_FRAMESIZES fails) */
    int n_sizes;
    uint32_t intervals[8];     /* frame rates listed, in frames per second */
    int n_intervals;
    struct v4l2_fract_copy { uint32_t numerator, denominator; } set_interval;
    int absent_opens;          /* after an unplug, opens that fail with ENOENT */
    int qbuf_fail;             /* k > 0: the next QBUF of buffer k - 1 fails (EIO), once */
    int io_error_errno;        /* EV_IO_ERROR's errno; 0: EIO */
    struct fake_event events[128];
    int n_events;
    /* state, read by tests */
    int next_event;
    bool present, streaming;
    int opens, failed_opens, closes, mapped;
    int bad_unmaps;            /* munmap of an address that is not a live mapping */
    uint32_t fourcc;
    int width, height;
};

extern struct fake_cam fake_cam;
extern const struct cap_v4l2_ops fake_v4l2_ops;

/* Resets to a present camera offering the given formats, no events. */
void fake_cam_reset(const uint32_t *formats, int n_formats, int max_width, int max_height);
void fake_cam_push(enum fake_event_kind kind, uint32_t seq);
void fake_cam_push_jpeg(uint32_t seq, const uint8_t *jpeg, size_t len);
/* The luma value the fake writes at (x, y) of frame seq. */
uint8_t fake_luma(uint32_t seq, int x, int y);

#endif
