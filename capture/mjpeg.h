/* Splits a Motion-JPEG byte stream (concatenated JPEG frames, as `v4l2-ctl --stream-to`
 * or `ffmpeg -f mjpeg` write them) into frames. It follows the marker structure rather
 * than searching for FFD9, so EXIF thumbnails inside a frame do not end it, and it skips
 * junk between frames. */
#ifndef EMOTIOND_MJPEG_H
#define EMOTIOND_MJPEG_H

#include <stddef.h>
#include <stdint.h>

#define CAP_MJPEG_MAX_FRAME (32u << 20)

enum cap_mjpeg_result {
    CAP_MJPEG_FRAME,      /* data[*start, *start + *size) is one whole JPEG */
    CAP_MJPEG_NEED_MORE,  /* no whole frame yet; bytes before *start are junk */
};

/* Looks for the next whole frame in data[0, len). *skipped counts the bytes of broken
 * frames (a frame cut short by the next SOI, or a marker where none may be) passed over. */
enum cap_mjpeg_result cap_mjpeg_next(const uint8_t *data, size_t len, size_t *start,
                                     size_t *size, size_t *skipped);

#endif
