/* The crop rule: which square of the frame EmotionNet sees for a detected face.
 * Training crops (CK+48, FER2013) frame the face from brow to chin, about as tight as a
 * detector's box; the square is the box's longer side times `widen`, centred on the box,
 * and turned so the eyes are level when the detector gives landmarks. */
#ifndef EMOTIOND_FACECROP_H
#define EMOTIOND_FACECROP_H

#include <stdbool.h>

#include "detect.h"
#include "net.h"

struct enn_box facecrop_box(const struct det_face *face, float widen, bool align_eyes);

#endif
