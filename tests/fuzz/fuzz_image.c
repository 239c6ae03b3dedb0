/* libFuzzer target: one still image (JPEG, PNG or binary PGM, recognised by content)
 * through cap_image_recognised, cap_image_size and cap_image_decode. The frame comes from
 * a one-frame pool sized to the claimed image (one byte short for some inputs, to check
 * the refusal), so a write past the claimed size hits ASan's redzone; claims over
 * 4096x4096 are not decoded. The input's length picks pixel format and DCT scale. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "image.h"
#include "jpeg.h"

#define MAX_SIDE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cap_jpeg *jpeg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jpeg && !(jpeg = cap_jpeg_create()))
        abort();
    enum cap_pixfmt fmt = (size >> 2) & 1 ? CAP_BGR24 : CAP_GRAY8;
    int scale = 1 << (size & 3);
    int short_frame = (size % 7) == 3;
    uint8_t *buf = malloc(size ? size : 1); /* exactly sized: over-reads are caught */
    if (!buf)
        return 0;
    memcpy(buf, data, size);

    char err[256];
    int w = 0, h = 0;
    bool known = cap_image_recognised(buf, size);
    if (cap_image_size(jpeg, buf, size, scale, &w, &h, err, sizeof err) != 0)
        goto done;
    if (!known)
        abort(); /* a size for bytes it does not recognise */
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        goto done;
    size_t need = (size_t)w * (size_t)h * (size_t)fmt;
    if (short_frame && need > 1)
        need--;
    else
        short_frame = 0;
    struct cap_pool *pool = cap_pool_create(1, need);
    if (!pool)
        goto done;
    struct cap_frame *f = cap_pool_acquire(pool);
    if (!f)
        abort();
    f->fmt = fmt;
    if (cap_image_decode(jpeg, buf, size, scale, f, err, sizeof err) == 0) {
        if (short_frame)
            abort(); /* decoded into a frame too small for it */
        if (f->width != w || f->height != h || f->stride != (size_t)w * (size_t)fmt)
            abort(); /* decoded size differs from cap_image_size's */
        /* the rows it claims to have written lie inside the frame */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)f->height * f->stride; i++)
            sum += f->data[i];
        (void)sum;
    }
    cap_frame_unref(f);
    if (cap_pool_available(pool) != 1)
        abort();
    cap_pool_destroy(pool);
done:
    free(buf);
    return 0;
}
