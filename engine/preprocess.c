#include "preprocess.h"

#include <math.h>

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Length of [a, a+1) inside [lo, hi). */
static float overlap(int a, float lo, float hi)
{
    float l = (float)a > lo ? (float)a : lo;
    float r = (float)(a + 1) < hi ? (float)(a + 1) : hi;
    return r > l ? r - l : 0;
}

/* Area average of the source rectangle [x0, x1) x [y0, y1). */
static float area(const uint8_t *f, int width, int height, size_t stride, float x0, float x1,
                  float y0, float y1)
{
    float acc = 0, total = 0;
    for (int r = (int)floorf(y0); (float)r < y1; r++) {
        float wy = overlap(r, y0, y1);
        if (wy <= 0)
            continue;
        const uint8_t *row = f + (size_t)clampi(r, 0, height - 1) * stride;
        for (int c = (int)floorf(x0); (float)c < x1; c++) {
            float wxy = wy * overlap(c, x0, x1);
            acc += wxy * row[clampi(c, 0, width - 1)];
            total += wxy;
        }
    }
    return total > 0 ? acc / total : 0;
}

static float bilinear(const uint8_t *f, int width, int height, size_t stride, float x, float y)
{
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - (float)x0, fy = y - (float)y0;
    int xa = clampi(x0, 0, width - 1), xb = clampi(x0 + 1, 0, width - 1);
    const uint8_t *ra = f + (size_t)clampi(y0, 0, height - 1) * stride;
    const uint8_t *rb = f + (size_t)clampi(y0 + 1, 0, height - 1) * stride;
    float top = ra[xa] + fx * (float)(ra[xb] - ra[xa]);
    float bot = rb[xa] + fx * (float)(rb[xb] - rb[xa]);
    return top + fy * (bot - top);
}

void enn_crop_resize(const uint8_t *frame, int width, int height, size_t stride, float x,
                     float y, float w, float h, int out_w, int out_h, float mean, float std,
                     float *dst)
{
    float sx = w / (float)out_w, sy = h / (float)out_h;
    float gain = 1.0f / (255.0f * std), offset = mean / std;
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            float p;
            if (sx > 1 || sy > 1) {
                /* shrinking (on either axis): average the pixels the output pixel covers,
                   at least one pixel wide so the other axis still interpolates sensibly */
                float cx = x + ((float)ox + 0.5f) * sx, cy = y + ((float)oy + 0.5f) * sy;
                float hx = sx > 1 ? sx / 2 : 0.5f, hy = sy > 1 ? sy / 2 : 0.5f;
                p = area(frame, width, height, stride, cx - hx, cx + hx, cy - hy, cy + hy);
            } else {
                p = bilinear(frame, width, height, stride, x + ((float)ox + 0.5f) * sx - 0.5f,
                             y + ((float)oy + 0.5f) * sy - 0.5f);
            }
            dst[(size_t)oy * (size_t)out_w + (size_t)ox] = p * gain - offset;
        }
    }
}

void enn_crop_rotated(const uint8_t *frame, int width, int height, size_t stride, float cx,
                      float cy, float side, float angle, int out_w, int out_h, float mean,
                      float std, float *dst)
{
    float step = side / (float)(out_w > out_h ? out_w : out_h);
    int k = (int)ceilf(step);            /* k x k samples per output pixel when shrinking */
    k = k < 1 ? 1 : k > 4 ? 4 : k;
    float c = cosf(angle), s = sinf(angle), gain = 1.0f / (255.0f * std * (float)(k * k));
    float offset = mean / std;
    for (int oy = 0; oy < out_h; oy++)
        for (int ox = 0; ox < out_w; ox++) {
            float acc = 0;
            for (int sy = 0; sy < k; sy++)
                for (int sx = 0; sx < k; sx++) {
                    /* position in the crop, relative to its centre, in frame pixels */
                    float u = ((float)ox + ((float)sx + 0.5f) / (float)k) * step - side / 2;
                    float v = ((float)oy + ((float)sy + 0.5f) / (float)k) * step - side / 2;
                    acc += bilinear(frame, width, height, stride, cx + c * u - s * v - 0.5f,
                                    cy + s * u + c * v - 0.5f);
                }
            dst[(size_t)oy * (size_t)out_w + (size_t)ox] = acc * gain - offset;
        }
}
