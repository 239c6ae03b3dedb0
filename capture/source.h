/* Frame sources behind one interface: a V4L2 camera, a Motion-JPEG file, a still image
 * or a folder of images. Specs: /dev/videoN, v4l2:/dev/videoN, file:PATH.mjpeg,
 * image:PATH (JPEG, PNG, PGM), dir:PATH (images in name order).
 *
 * Bad frames (corrupt JPEG, a frame cut short) are counted and skipped, never returned.
 * A camera that vanishes or stalls is closed and reopened with backoff, without the
 * consumer seeing anything but a gap. */
#ifndef EMOTIOND_SOURCE_H
#define EMOTIOND_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "v4l2.h"

struct cap_options {
    enum cap_pixfmt fmt;        /* default CAP_GRAY8 */
    int scale;                  /* JPEG DCT scaling 1/scale: 1 (default), 2, 4, 8 */
    double fps;                 /* camera: rate asked; files: pace (0: as fast as taken);
                                   image: default 10 */
    int width, height;          /* camera size asked (default 640x480) */
    uint32_t fourcc;            /* camera: 0 (default) the best format it offers; else this
                                   V4L2 pixel format, which it must offer */
    int pool_frames;            /* frames in flight (default 4) */
    int max_width, max_height;  /* files: larger pictures are refused before any
                                   allocation (default 4096x4096) */
    bool once;                  /* image: deliver once, then end */
    int timeout_ms;             /* camera: wait per frame (default 1000) */
    int max_timeouts;           /* camera: timeouts in a row before reopening (default 3) */
    const struct cap_v4l2_ops *v4l2;   /* default: libv4l2 */
};

struct cap_stats {
    uint64_t frames;            /* delivered */
    uint64_t corrupt;           /* failed to decode, or cut short */
    uint64_t seq_gaps;          /* frames the camera driver skipped (sequence numbers) */
    uint64_t pool_empty;        /* dropped: every frame of the pool was still in use */
    uint64_t timeouts;          /* camera waits that timed out */
    uint64_t reconnects;        /* camera reopened after an unplug or stall */
    bool connected;             /* camera: streaming now; files: open, not deleted or failing */
};

struct cap_source;

/* Whether spec names a camera (v4l2:DEV or /dev/videoN) rather than a file source. */
bool cap_source_is_camera(const char *spec);
/* [capture] format as cap_options.fourcc: a FourCC such as "YUYV"; 0 for "auto" (the
 * camera code's own preference) or anything not four characters long. */
uint32_t cap_fourcc(const char *name);

/* Fails only for a bad spec or an unreadable file; a missing camera is waited for. */
int cap_source_open(const char *spec, const struct cap_options *opts, struct cap_source **out,
                    char *err, size_t errlen);
/* 1: *frame holds one reference (cap_frame_unref when done); 0: the source ended or was
 * stopped; -1: a fatal error, described in err. */
int cap_source_next(struct cap_source *s, struct cap_frame **frame, char *err, size_t errlen);
/* Makes a blocked or later cap_source_next return 0 soon. Any thread. */
void cap_source_stop(struct cap_source *s);
void cap_source_stats(struct cap_source *s, struct cap_stats *out);
/* Copies the last problem the source got over (skipped frame, lost camera), or "". */
void cap_source_last_error(struct cap_source *s, char *buf, size_t len);
/* What the source is, e.g. "v4l2:/dev/video0 MJPG 640x480" (a camera's changes when it
 * opens: from another thread than the capturing one, use cap_source_description). */
const char *cap_source_describe(const struct cap_source *s);
void cap_source_description(struct cap_source *s, char *buf, size_t len);
void cap_source_close(struct cap_source *s);

/* For the implementations in source_*.c and camera.c. */
struct cap_source_vt {
    int (*next)(struct cap_source *s, struct cap_frame **frame, char *err, size_t errlen);
    void (*close)(struct cap_source *s);
};

#endif
