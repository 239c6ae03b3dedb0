/* Alignment from landmarks: the similarity transform (scale, turn, shift) that best puts a
 * face's five landmarks (eyes, nose, mouth corners) on where they sit in the training
 * crops, as a crop for enn_net_classify. The template was measured: YuNet's landmarks on
 * the FER2013 Training faces, in the dataset's own 48x48 framing (docs/face-crops.md). */
#ifndef EMOTIOND_ALIGN_H
#define EMOTIOND_ALIGN_H

#include <stdbool.h>

#include "detect.h"
#include "net.h"

/* Landmark positions in a unit crop (0..1 across and down), in det_face order. */
struct align_template {
    float pts[10];
};

extern const struct align_template align_fer2013;

/* The crop mapping the face's landmarks onto the template in a least-squares sense, its
 * side times widen (1: as the template says). False, leaving *out alone, when the face has
 * no landmarks or they are degenerate (all on one point). */
bool align_crop(const struct det_face *face, const struct align_template *t, float widen,
                struct enn_box *out);

#endif
