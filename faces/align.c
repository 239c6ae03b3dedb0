#include "align.h"

#include <math.h>

/* Mean YuNet landmarks on FER2013 Training (every 4th image: 6763 faces found of 7178),
 * measured by `bench_croprule --fit-template ../shared/data yunet ... --every 4`
 * (docs/face-crops.md). */
const struct align_template align_fer2013 = {{
    0.3202f, 0.3702f,   /* right eye (the subject's) */
    0.6664f, 0.3685f,   /* left eye */
    0.4841f, 0.5837f,   /* nose */
    0.3563f, 0.7419f,   /* mouth, right corner */
    0.6357f, 0.7402f,   /* mouth, left corner */
}};

bool align_crop(const struct det_face *f, const struct align_template *t, float widen,
                struct enn_box *out)
{
    if (!f->has_landmarks)
        return false;
    /* centroids, then the least-squares scale-and-turn (the closed form of a 2-D
       similarity fit): s cos a = A / P, s sin a = B / P */
    float px = 0, py = 0, qx = 0, qy = 0;
    for (int i = 0; i < 5; i++) {
        px += f->landmarks[2 * i] / 5, py += f->landmarks[2 * i + 1] / 5;
        qx += t->pts[2 * i] / 5, qy += t->pts[2 * i + 1] / 5;
    }
    float a = 0, b = 0, p2 = 0;
    for (int i = 0; i < 5; i++) {
        float ux = f->landmarks[2 * i] - px, uy = f->landmarks[2 * i + 1] - py;
        float vx = t->pts[2 * i] - qx, vy = t->pts[2 * i + 1] - qy;
        a += ux * vx + uy * vy;
        b += ux * vy - uy * vx;
        p2 += ux * ux + uy * uy;
    }
    if (!(p2 > 1e-6f) || !(a * a + b * b > 0))
        return false;
    float sc = a / p2, ss = b / p2, s = sqrtf(sc * sc + ss * ss);   /* frame -> unit crop */
    /* the crop's centre (0.5, 0.5) back in the frame: p = R^-1 (q - t) / s, with
       t = q_mean - s R p_mean, i.e. p = p_mean + R^-1 (q - q_mean) / s */
    float dx = 0.5f - qx, dy = 0.5f - qy, s2 = s * s;
    float cx = px + (sc * dx + ss * dy) / s2;
    float cy = py + (-ss * dx + sc * dy) / s2;
    float side = (widen > 0 ? widen : 1) / s;
    /* frame -> crop turns by atan2(ss, sc); the sampler takes the crop's own turn in the
       frame, the opposite */
    float angle = -atan2f(ss, sc);
    *out = (struct enn_box){cx - side / 2, cy - side / 2, side, side, angle};
    return true;
}
