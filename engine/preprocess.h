/* Face crops for the network: crop, resize, normalise. */
#ifndef EMOTIOND_PREPROCESS_H
#define EMOTIOND_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

/* Samples the box (x, y, w, h in frame pixels; may reach outside the frame, where edge
 * pixels repeat) of an 8-bit frame into dst [out_h][out_w] as (p / 255 - mean) / std.
 * Shrinking averages the covered area; enlarging interpolates bilinearly. */
void enn_crop_resize(const uint8_t *frame, int width, int height, size_t stride, float x,
                     float y, float w, float h, int out_w, int out_h, float mean, float std,
                     float *dst);

/* Samples a square of side `side` centred on (cx, cy) and turned by `angle` radians
 * (counter-clockwise in image coordinates: positive tilts the crop's x axis towards +y),
 * bilinear, supersampled when shrinking, edge pixels repeated outside the frame. */
void enn_crop_rotated(const uint8_t *frame, int width, int height, size_t stride, float cx,
                      float cy, float side, float angle, int out_w, int out_h, float mean,
                      float std, float *dst);

#endif
