#include "preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "font.h"

/* One axis of the area shrink: output i is the sum of taps source samples from first[i]
 * on, weighted by the share of each that output i covers. */
struct axis {
    int src, dst, taps;
    int *first;
    float *weight;               /* [dst][taps], zero-padded */
};

struct preview_renderer {
    struct axis x, y;
    float *acc;                  /* one source row, weighted down the column */
    size_t acc_cap;
    uint8_t *thumb;
    size_t thumb_cap;
    int width, height, channels; /* the thumbnail's */
    int frame_w, frame_h;        /* the frame it was shrunk from */
    tjhandle tj;
    unsigned char *jpeg;
    unsigned long jpeg_cap;
};

struct preview_renderer *preview_renderer_create(void)
{
    struct preview_renderer *r = calloc(1, sizeof *r);
    if (r && !(r->tj = tjInitCompress())) {
        free(r);
        r = NULL;
    }
    return r;
}

void preview_renderer_free(struct preview_renderer *r)
{
    if (!r)
        return;
    free(r->x.first);
    free(r->x.weight);
    free(r->y.first);
    free(r->y.weight);
    free(r->acc);
    free(r->thumb);
    tjFree(r->jpeg);
    tjDestroy(r->tj);
    free(r);
}

void preview_size(int frame_w, int frame_h, int width, int *thumb_w, int *thumb_h)
{
    *thumb_w = width < frame_w ? width : frame_w;
    long h = lround((double)frame_h * *thumb_w / frame_w);
    *thumb_h = h < 1 ? 1 : (int)h;
}

void preview_scale_box(const float box[4], int frame_w, int frame_h, int thumb_w, int thumb_h,
                       int out[4])
{
    double sx = (double)thumb_w / frame_w, sy = (double)thumb_h / frame_h;
    out[0] = (int)lround(box[0] * sx);
    out[1] = (int)lround(box[1] * sy);
    out[2] = (int)lround(box[2] * sx);
    out[3] = (int)lround(box[3] * sy);
}

/* Plans src -> dst (dst <= src); nothing to do when the sizes are those of the plan. */
static int plan_axis(struct axis *a, int src, int dst)
{
    if (a->src == src && a->dst == dst)
        return 0;
    double scale = (double)src / dst;
    int taps = (int)ceil(scale) + 1;
    int *first = realloc(a->first, (size_t)dst * sizeof *first);
    if (first)
        a->first = first;
    float *weight = realloc(a->weight, (size_t)dst * (size_t)taps * sizeof *weight);
    if (weight)
        a->weight = weight;
    if (!first || !weight) {
        a->src = a->dst = 0;
        return -1;
    }
    for (int o = 0; o < dst; o++) {
        double from = o * scale, to = (o + 1) * scale;
        int i0 = (int)floor(from);
        float *w = a->weight + (size_t)o * (size_t)taps;
        a->first[o] = i0;
        for (int k = 0; k < taps; k++) {
            int i = i0 + k;
            double lo = i > from ? i : from, hi = i + 1 < to ? i + 1 : to;
            w[k] = i < src && hi > lo ? (float)((hi - lo) / scale) : 0.0f;
        }
    }
    a->src = src;
    a->dst = dst;
    a->taps = taps;
    return 0;
}

static void *grow(void *p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return p;
    void *q = realloc(p, need);
    if (q)
        *cap = need;
    return q;
}

int preview_shrink(struct preview_renderer *r, const uint8_t *pixels, int frame_w, int frame_h,
                   size_t stride, int channels, int width)
{
    int tw, th;
    preview_size(frame_w, frame_h, width, &tw, &th);
    size_t row = (size_t)frame_w * (size_t)channels;
    float *acc = grow(r->acc, &r->acc_cap, row * sizeof *acc);
    if (acc)
        r->acc = acc;
    uint8_t *thumb = grow(r->thumb, &r->thumb_cap, (size_t)tw * (size_t)th * (size_t)channels);
    if (thumb)
        r->thumb = thumb;
    if (!acc || !thumb || plan_axis(&r->x, frame_w, tw) || plan_axis(&r->y, frame_h, th))
        return -1;
    r->width = tw;
    r->height = th;
    r->channels = channels;
    r->frame_w = frame_w;
    r->frame_h = frame_h;
    /* down the columns first (each source row read once, in order), then along the row */
    for (int oy = 0; oy < th; oy++) {
        const float *wy = r->y.weight + (size_t)oy * (size_t)r->y.taps;
        memset(acc, 0, row * sizeof *acc);
        for (int k = 0; k < r->y.taps; k++) {
            if (wy[k] == 0.0f)
                continue;
            const uint8_t *src = pixels + (size_t)(r->y.first[oy] + k) * stride;
            for (size_t i = 0; i < row; i++)
                acc[i] += wy[k] * src[i];
        }
        uint8_t *out = thumb + (size_t)oy * (size_t)tw * (size_t)channels;
        for (int ox = 0; ox < tw; ox++) {
            const float *wx = r->x.weight + (size_t)ox * (size_t)r->x.taps;
            const float *in = acc + (size_t)r->x.first[ox] * (size_t)channels;
            for (int c = 0; c < channels; c++) {
                float v = 0.0f;
                for (int k = 0; k < r->x.taps; k++)
                    if (wx[k] != 0.0f)
                        v += wx[k] * in[k * channels + c];
                out[ox * channels + c] = (uint8_t)(v >= 255.0f ? 255 : (int)(v + 0.5f));
            }
        }
    }
    return 0;
}

/* The fixed set of labels (docs/protocol.md), each its own colour: R, G, B. */
static const struct {
    const char *label;
    uint8_t rgb[3];
} LABEL_COLOURS[] = {
    {"anger", {235, 50, 50}},     {"contempt", {220, 60, 200}},  {"disgust", {60, 180, 75}},
    {"fear", {150, 100, 240}},    {"happiness", {255, 210, 0}},  {"neutral", {220, 220, 220}},
    {"sadness", {70, 140, 255}},  {"surprise", {255, 140, 0}},
};

void preview_label_colour(const char *label, uint8_t bgr[3])
{
    bgr[0] = bgr[1] = bgr[2] = 255;
    for (size_t i = 0; label && i < sizeof LABEL_COLOURS / sizeof *LABEL_COLOURS; i++)
        if (!strcmp(label, LABEL_COLOURS[i].label)) {
            bgr[0] = LABEL_COLOURS[i].rgb[2];
            bgr[1] = LABEL_COLOURS[i].rgb[1];
            bgr[2] = LABEL_COLOURS[i].rgb[0];
        }
}

static void fill_rect(const struct font_canvas *c, int x0, int y0, int x1, int y1,
                      const uint8_t colour[3])
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->width ? c->width : x1;
    y1 = y1 > c->height ? c->height : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            memcpy(c->pixels + (size_t)y * c->stride + (size_t)x * (size_t)c->channels, colour,
                   (size_t)c->channels);
}

void preview_draw(struct preview_renderer *r, const struct preview_face *faces, int n)
{
    struct font_canvas c = {r->thumb, r->width, r->height, r->channels,
                            (size_t)r->width * (size_t)r->channels};
    /* lines and letters grow with the thumbnail, so that they read at any width */
    int line = 1 + (r->width >= 160) + (r->width >= 480), scale = 1 + r->width / 640;
    static const uint8_t black[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        uint8_t colour[3] = {255, 255, 255};     /* gray pictures draw in white */
        if (r->channels == 3)
            preview_label_colour(faces[i].label, colour);
        int b[4];
        preview_scale_box(faces[i].box, r->frame_w, r->frame_h, r->width, r->height, b);
        int x0 = b[0], y0 = b[1], x1 = b[0] + b[2], y1 = b[1] + b[3];   /* exclusive */
        fill_rect(&c, x0, y0, x1, y0 + line, colour);
        fill_rect(&c, x0, y1 - line, x1, y1, colour);
        fill_rect(&c, x0, y0, x0 + line, y1, colour);
        fill_rect(&c, x1 - line, y0, x1, y1, colour);

        char text[64];
        snprintf(text, sizeof text, "%s %.2f", faces[i].label ? faces[i].label : "?",
                 (double)faces[i].confidence);
        int pad = scale, tw = font_text_width(text, scale) + 2 * pad;
        int th = FONT_H * scale + 2 * pad;
        /* on a strip above the box, or inside it when the box touches the top */
        int sx = x0 + tw > r->width ? r->width - tw : x0;
        int sy = y0 >= th ? y0 - th : y0;
        sx = sx < 0 ? 0 : sx;
        sy = sy + th > r->height ? r->height - th : sy;
        sy = sy < 0 ? 0 : sy;
        fill_rect(&c, sx, sy, sx + tw, sy + th, colour);
        font_draw(&c, sx + pad, sy + pad, scale, text, black);
    }
}

int preview_encode(struct preview_renderer *r, int quality, size_t max_bytes,
                   const uint8_t **jpeg, size_t *len, char *err, size_t errlen)
{
    int gray = r->channels == 1;
    int samp = gray ? TJSAMP_GRAY : TJSAMP_420;
    unsigned long need = tjBufSize(r->width, r->height, samp);
    if (need == (unsigned long)-1) {
        snprintf(err, errlen, "JPEG: %s", tjGetErrorStr2(r->tj));
        return -1;
    }
    if (need > r->jpeg_cap) {   /* the worst case, once per larger thumbnail */
        tjFree(r->jpeg);
        r->jpeg_cap = 0;
        if (!(r->jpeg = tjAlloc((int)need))) {
            snprintf(err, errlen, "JPEG: out of memory");
            return -1;
        }
        r->jpeg_cap = need;
    }
    static const int ladder[] = {50, 25, 10};
    int q = quality;
    for (int step = 0;; step++) {
        unsigned long size = r->jpeg_cap;
        if (tjCompress2(r->tj, r->thumb, r->width, r->width * r->channels, r->height,
                        gray ? TJPF_GRAY : TJPF_BGR, &r->jpeg, &size, samp, q,
                        TJFLAG_NOREALLOC) != 0) {
            snprintf(err, errlen, "JPEG: %s", tjGetErrorStr2(r->tj));
            return -1;
        }
        *jpeg = r->jpeg;
        *len = size;
        if (size <= max_bytes)
            return q;
        while (step < (int)(sizeof ladder / sizeof *ladder) && ladder[step] >= q)
            step++;
        if (step == (int)(sizeof ladder / sizeof *ladder))
            return 0;
        q = ladder[step];
    }
}

void preview_thumbnail(const struct preview_renderer *r, int *width, int *height, int *channels,
                       const uint8_t **pixels)
{
    *width = r->width;
    *height = r->height;
    *channels = r->channels;
    *pixels = r->thumb;
}
