#include "image.h"

#include <ctype.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

enum kind { UNKNOWN, JPEG, PNG, PGM };

static enum kind kind_of(const uint8_t *d, size_t len)
{
    if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return JPEG;
    if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return PNG;
    if (len >= 2 && d[0] == 'P' && d[1] == '5')
        return PGM;
    return UNKNOWN;
}

bool cap_image_recognised(const uint8_t *d, size_t len)
{
    return kind_of(d, len) != UNKNOWN;
}

/* Binary PGM header: width, height, maxval 255; *offset = first pixel byte. */
static int pgm_header(const uint8_t *d, size_t len, int *w, int *h, size_t *offset)
{
    long v[3];
    size_t p = 2;
    for (int n = 0; n < 3; n++) {
        while (p < len && (isspace(d[p]) || d[p] == '#')) {
            if (d[p] == '#')
                while (p < len && d[p] != '\n')
                    p++;
            else
                p++;
        }
        if (p >= len || !isdigit(d[p]))
            return -1;
        v[n] = 0;
        while (p < len && isdigit(d[p]) && v[n] < 1000000)
            v[n] = v[n] * 10 + (d[p++] - '0');
    }
    if (p >= len || !isspace(d[p]) || v[0] < 1 || v[1] < 1 || v[0] > 16384 || v[1] > 16384 ||
        v[2] != 255)
        return -1;
    *w = (int)v[0];
    *h = (int)v[1];
    *offset = p + 1;
    return (size_t)*w * (size_t)*h <= len - *offset ? 0 : -1;
}

/* Reads a PNG's header into img; the caller frees it with png_image_free. */
static int png_open(png_image *img, const uint8_t *d, size_t len, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    img->version = PNG_IMAGE_VERSION;
    if (png_image_begin_read_from_memory(img, d, len))
        return 0;
    snprintf(err, errlen, "corrupt PNG: %s", img->message);
    return -1;
}

int cap_image_size(struct cap_jpeg *jpeg, const uint8_t *d, size_t len, int scale, int *w,
                   int *h, char *err, size_t errlen)
{
    size_t off;
    switch (kind_of(d, len)) {
    case JPEG:
        return cap_jpeg_size(jpeg, d, len, scale, w, h, err, errlen);
    case PNG: {
        png_image img;
        if (png_open(&img, d, len, err, errlen))
            return -1;
        *w = (int)img.width;
        *h = (int)img.height;
        png_image_free(&img);
        return 0;
    }
    case PGM:
        if (pgm_header(d, len, w, h, &off) == 0)
            return 0;
        snprintf(err, errlen, "corrupt PGM: bad header or short pixel data");
        return -1;
    default:
        snprintf(err, errlen, "not a JPEG, PNG or binary PGM image");
        return -1;
    }
}

int cap_image_decode(struct cap_jpeg *jpeg, const uint8_t *d, size_t len, int scale,
                     struct cap_frame *f, char *err, size_t errlen)
{
    int w, h;
    size_t bpp = (size_t)f->fmt;
    switch (kind_of(d, len)) {
    case JPEG:
        if (cap_jpeg_decode(jpeg, d, len, f->fmt, scale, f->data, f->capacity, &w, &h, err,
                            errlen))
            return -1;
        break;
    case PNG: {
        png_image img;
        if (png_open(&img, d, len, err, errlen))
            return -1;
        img.format = f->fmt == CAP_GRAY8 ? PNG_FORMAT_GRAY : PNG_FORMAT_BGR;
        w = (int)img.width;
        h = (int)img.height;
        if ((size_t)w * (size_t)h * bpp > f->capacity) {
            png_image_free(&img);
            snprintf(err, errlen, "PNG of %dx%d does not fit the frame", w, h);
            return -1;
        }
        if (!png_image_finish_read(&img, NULL, f->data, 0, NULL)) {
            snprintf(err, errlen, "corrupt PNG: %s", img.message);
            png_image_free(&img);
            return -1;
        }
        break;
    }
    case PGM: {
        size_t off;
        if (pgm_header(d, len, &w, &h, &off)) {
            snprintf(err, errlen, "corrupt PGM: bad header or short pixel data");
            return -1;
        }
        if ((size_t)w * (size_t)h * bpp > f->capacity) {
            snprintf(err, errlen, "PGM of %dx%d does not fit the frame", w, h);
            return -1;
        }
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < bpp; c++)
                f->data[i * bpp + c] = d[off + i];
        break;
    }
    default:
        snprintf(err, errlen, "not a JPEG, PNG or binary PGM image");
        return -1;
    }
    f->width = w;
    f->height = h;
    f->stride = (size_t)w * bpp;
    return 0;
}
