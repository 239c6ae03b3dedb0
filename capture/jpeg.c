#include "jpeg.h"

#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

struct cap_jpeg {
    tjhandle tj;
};

struct cap_jpeg *cap_jpeg_create(void)
{
    struct cap_jpeg *j = calloc(1, sizeof *j);
    if (j && !(j->tj = tjInitDecompress())) {
        free(j);
        j = NULL;
    }
    return j;
}

/* libjpeg-turbo 2.1.5 (Debian 12): after a failed tjDecompressHeader3, the next call on
   the same handle returns success without writing the size. A fresh handle after every
   failure avoids trusting a handle in that state. */
static void reset(struct cap_jpeg *j)
{
    tjhandle fresh = tjInitDecompress();
    if (fresh) {
        tjDestroy(j->tj);
        j->tj = fresh;
    }
}

void cap_jpeg_destroy(struct cap_jpeg *j)
{
    if (!j)
        return;
    tjDestroy(j->tj);
    free(j);
}

int cap_jpeg_size(struct cap_jpeg *j, const uint8_t *data, size_t len, int scale, int *width,
                  int *height, char *err, size_t errlen)
{
    int w = -1, h = -1, subsamp, colorspace;
    if (scale != 1 && scale != 2 && scale != 4 && scale != 8) {
        snprintf(err, errlen, "JPEG scale 1/%d unsupported (1, 2, 4, 8)", scale);
        return -1;
    }
    if (len < 4 || len > (size_t)0x7fffffff ||
        tjDecompressHeader3(j->tj, data, (unsigned long)len, &w, &h, &subsamp, &colorspace)) {
        snprintf(err, errlen, "corrupt JPEG header: %s", len < 4 ? "too short" : tjGetErrorStr2(j->tj));
        reset(j);
        return -1;
    }
    if (w < 1 || h < 1) {
        snprintf(err, errlen, "corrupt JPEG header: no image size");
        reset(j);
        return -1;
    }
    tjscalingfactor f = {1, scale};
    *width = TJSCALED(w, f);
    *height = TJSCALED(h, f);
    return 0;
}

int cap_jpeg_decode(struct cap_jpeg *j, const uint8_t *data, size_t len, enum cap_pixfmt fmt,
                    int scale, uint8_t *dst, size_t capacity, int *width, int *height,
                    char *err, size_t errlen)
{
    int w, h;
    if (cap_jpeg_size(j, data, len, scale, &w, &h, err, errlen))
        return -1;
    size_t need = (size_t)w * (size_t)h * (size_t)fmt;
    if (need > capacity) {
        snprintf(err, errlen, "JPEG of %dx%d needs %zu bytes, frame holds %zu", w, h, need,
                 capacity);
        return -1;
    }
    int pf = fmt == CAP_GRAY8 ? TJPF_GRAY : TJPF_BGR;
    if (tjDecompress2(j->tj, data, (unsigned long)len, dst, w, 0, h, pf,
                      TJFLAG_STOPONWARNING | TJFLAG_FASTDCT)) {
        snprintf(err, errlen, "corrupt JPEG: %s", tjGetErrorStr2(j->tj));
        reset(j);
        return -1;
    }
    *width = w;
    *height = h;
    return 0;
}
