#include "facecrop.h"

#include <math.h>

struct enn_box facecrop_box(const struct det_face *f, float widen, bool align_eyes)
{
    float side = (f->w > f->h ? f->w : f->h) * (widen > 0 ? widen : 1);
    float cx = f->x + f->w / 2, cy = f->y + f->h / 2;
    float angle = 0;
    if (align_eyes && f->has_landmarks) {
        /* landmarks 0 and 1: the right and left eye (the subject's) */
        float dx = f->landmarks[2] - f->landmarks[0], dy = f->landmarks[3] - f->landmarks[1];
        if (dx > 0)
            angle = atan2f(dy, dx);
        if (fabsf(angle) > 0.8f)   /* over ~45 degrees: landmarks unreliable, don't turn */
            angle = 0;
    }
    return (struct enn_box){cx - side / 2, cy - side / 2, side, side, angle};
}
