/* YuNet face detection on our own engine: a gray frame is scaled, padded to a multiple
 * of 32, run through the converted network (models/face_detection_yunet_2023mar.enn), and
 * the three strides' maps decoded into scored boxes with five landmarks.
 *
 * The decoder is shared with the OpenCV DNN peer (yunet-opencv), which yields the same
 * maps in its own layout: yunet_level says where each map lives. */
#ifndef EMOTIOND_YUNET_H
#define EMOTIOND_YUNET_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"

#define YUNET_DEFAULT_MODEL "/usr/share/emotiond/models/face_detection_yunet_2023mar.enn"

/* One map: channel c of cell (row, col) is data[c * channel + row * row + col * col].
 * Our engine holds maps channel-major (col 1); OpenCV DNN's are cell-major (channel 1,
 * col = channels). */
struct yunet_map {
    const float *data;
    size_t channel, row, col;
};

/* One stride's maps: cls and obj have one channel, bbox four (dx, dy, log w, log h),
 * kps ten (five x, y pairs), all in units of the stride. */
struct yunet_level {
    int stride, cols, rows;
    struct yunet_map cls, obj, bbox, kps;
};

/* Decodes the levels of a network input that was the frame scaled by scale_x across and
 * scale_y down: faces whose score (sqrt(cls * obj)) reaches threshold, in frame pixels, at
 * most max (the best are not chosen here: run det_nms after). Returns the count. */
int yunet_decode(const struct yunet_level *levels, int n_levels, double scale_x,
                 double scale_y, float threshold, struct det_face *out, int max);

struct yunet;

/* Loads a converted YuNet .enn and checks it is one (no classes; outputs cls_8 .. kps_32
 * with 1, 1, 4 and 10 channels). */
struct yunet *yunet_load(const char *path, char *err, size_t errlen);
/* Detects on an 8-bit gray frame scaled by scale (<= 1). The network is re-planned when
 * the scaled size changes (rare: the frame size is fixed per source). Returns the face
 * count (<= max, before NMS) or -1 with err. */
int yunet_detect(struct yunet *y, const uint8_t *gray, int width, int height, size_t stride,
                 double scale, float threshold, struct det_face *out, int max, char *err,
                 size_t errlen);
/* Bytes the network holds (activations, weights). */
size_t yunet_memory(const struct yunet *y);
const char *yunet_isa(const struct yunet *y);
void yunet_free(struct yunet *y);

#endif
