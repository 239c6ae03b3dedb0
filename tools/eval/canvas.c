#include "canvas.h"

void canvas_place_face(const uint8_t *face, uint8_t *frame)
{
    const int last = CANVAS_FACE - 1, off = (CANVAS_SIDE - CANVAS_FACE * CANVAS_UP) / 2;
    for (int y = 0; y < CANVAS_SIDE; y++)
        for (int x = 0; x < CANVAS_SIDE; x++) {
            float fx = ((float)(x - off) + 0.5f) / CANVAS_UP - 0.5f;
            float fy = ((float)(y - off) + 0.5f) / CANVAS_UP - 0.5f;
            fx = fx < 0 ? 0 : fx > (float)last ? (float)last : fx;
            fy = fy < 0 ? 0 : fy > (float)last ? (float)last : fy;
            int x0 = (int)fx, y0 = (int)fy;
            int x1 = x0 < last ? x0 + 1 : last, y1 = y0 < last ? y0 + 1 : last;
            float ax = fx - (float)x0, ay = fy - (float)y0;
            const uint8_t *r0 = face + y0 * CANVAS_FACE, *r1 = face + y1 * CANVAS_FACE;
            float top = r0[x0] * (1 - ax) + r0[x1] * ax;
            float bot = r1[x0] * (1 - ax) + r1[x1] * ax;
            frame[y * CANVAS_SIDE + x] = (uint8_t)(top * (1 - ay) + bot * ay + 0.5f);
        }
}

int canvas_biggest(const struct det_face *faces, int n)
{
    int big = 0;
    for (int i = 1; i < n; i++)
        big = faces[i].w * faces[i].h > faces[big].w * faces[big].h ? i : big;
    return big;
}
