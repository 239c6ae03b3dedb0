/* A 48x48 dataset face as a camera would show it, for the tools that run the product's
 * detector and crop rule on dataset faces (bench_croprule, product-crops): enlarged x4
 * (bilinear) in the middle of a 384x384 frame, edges repeated around. */
#ifndef EMOTIOND_CANVAS_H
#define EMOTIOND_CANVAS_H

#include <stdint.h>

#include "detect.h"

#define CANVAS_FACE 48      /* the dataset face's side */
#define CANVAS_UP 4
#define CANVAS_SIDE 384

void canvas_place_face(const uint8_t *face, uint8_t *frame);
/* The index of the largest of n > 0 detected faces (the one the dataset image is of). */
int canvas_biggest(const struct det_face *faces, int n);

#endif
