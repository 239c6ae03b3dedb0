/* libFuzzer target: the input is a Motion-JPEG stream. Walks it frame by frame with
 * cap_mjpeg_next as the file source does (a frame that fails to decode resumes the search
 * two bytes into it), and decodes each frame with cap_jpeg_decode into a buffer of
 * exactly the size cap_jpeg_size claims (skipped above 4096x4096). The input's length
 * picks the pixel format and DCT scale, so every seed is a plain stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg.h"
#include "mjpeg.h"

#define MAX_SIDE 4096
#define MAX_FRAMES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cap_jpeg *jpeg;

static void decode(const uint8_t *frame, size_t len, enum cap_pixfmt fmt, int scale, int *failed)
{
    char err[256];
    int w = 0, h = 0, w2 = 0, h2 = 0;
    *failed = 1;
    if (cap_jpeg_size(jpeg, frame, len, scale, &w, &h, err, sizeof err) != 0)
        return;
    if (w < 1 || h < 1)
        abort(); /* success promises a size */
    if (w > MAX_SIDE || h > MAX_SIDE)
        return;
    size_t need = (size_t)w * (size_t)h * (size_t)fmt;
    uint8_t *dst = malloc(need);
    if (!dst)
        return;
    if (cap_jpeg_decode(jpeg, frame, len, fmt, scale, dst, need, &w2, &h2, err, sizeof err) == 0) {
        if (w2 != w || h2 != h)
            abort(); /* decoded size differs from the header's */
        *failed = 0;
    }
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jpeg && !(jpeg = cap_jpeg_create()))
        abort();
    enum cap_pixfmt fmt = (size >> 2) & 1 ? CAP_BGR24 : CAP_GRAY8;
    int scale = 1 << (size & 3);
    /* an exactly sized copy: reads past the stream's end are caught */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t pos = 0;
    for (int frames = 0; pos <= size && frames < MAX_FRAMES; frames++) {
        size_t start = (size_t)-1, len = (size_t)-1, skipped = (size_t)-1;
        enum cap_mjpeg_result r = cap_mjpeg_next(buf + pos, size - pos, &start, &len, &skipped);
        if (skipped > size - pos || start > size - pos)
            abort();
        if (r == CAP_MJPEG_NEED_MORE)
            break;
        if (r != CAP_MJPEG_FRAME || len < 4 || len > size - pos - start)
            abort();
        const uint8_t *f = buf + pos + start;
        if (f[0] != 0xFF || f[1] != 0xD8 || f[len - 2] != 0xFF || f[len - 1] != 0xD9)
            abort(); /* a frame runs from SOI to EOI */
        size_t frame_at = pos + start;
        pos = frame_at + len;
        int failed;
        decode(f, len, fmt, scale, &failed);
        if (failed)
            pos = frame_at + 2; /* as the file source: a damaged frame may hide good ones */
    }
    free(buf);
    return 0;
}
