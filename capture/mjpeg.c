#include "mjpeg.h"

#include <stdbool.h>

static size_t find_soi(const uint8_t *d, size_t from, size_t len)
{
    for (size_t i = from; i + 1 < len; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xD8)
            return i;
    return len;
}

/* Parses the frame that starts at soi. Returns its end (one past EOI), 0 when the data
 * runs out first, or (size_t)-1 - restart when the frame is broken and the search should
 * resume at restart. */
static size_t frame_end(const uint8_t *d, size_t soi, size_t len, size_t *restart)
{
    size_t p = soi + 2;
    bool scanned = false;
    for (;;) {
        if (p - soi > CAP_MJPEG_MAX_FRAME) {
            *restart = soi + 2;
            return (size_t)-1;
        }
        if (p + 1 >= len)
            return 0;
        if (d[p] != 0xFF) {
            *restart = soi + 2;
            return (size_t)-1;
        }
        uint8_t m = d[p + 1];
        if (m == 0xFF) {          /* fill byte */
            p++;
            continue;
        }
        if (m == 0xD9)
            return p + 2;
        if (m == 0xD8) {          /* a new frame began: this one was cut short */
            *restart = p;
            return (size_t)-1;
        }
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0x00) {
            p += 2;
            continue;
        }
        if (p + 3 >= len)
            return 0;
        size_t seg = (size_t)d[p + 2] << 8 | d[p + 3];
        if (seg < 2) {
            *restart = soi + 2;
            return (size_t)-1;
        }
        if (scanned && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *restart = soi + 2;   /* a frame header after image data: garbage, not JPEG */
            return (size_t)-1;
        }
        p += 2 + seg;
        if (m != 0xDA)
            continue;
        scanned = true;
        /* Entropy-coded data: runs until a marker that is neither a stuffed 0xFF00 nor
           a restart marker. */
        for (;;) {
            if (p - soi > CAP_MJPEG_MAX_FRAME) {
                *restart = soi + 2;
                return (size_t)-1;
            }
            if (p + 1 >= len)
                return 0;
            if (d[p] == 0xFF && d[p + 1] != 0x00 && d[p + 1] != 0xFF &&
                !(d[p + 1] >= 0xD0 && d[p + 1] <= 0xD7))
                break;
            p++;
        }
    }
}

enum cap_mjpeg_result cap_mjpeg_next(const uint8_t *d, size_t len, size_t *start,
                                     size_t *size, size_t *skipped)
{
    size_t from = 0;
    *skipped = 0;
    for (;;) {
        size_t soi = find_soi(d, from, len);
        if (soi >= len) {
            *start = len > 0 ? len - 1 : 0;   /* a trailing 0xFF may begin an SOI */
            return CAP_MJPEG_NEED_MORE;
        }
        size_t restart = 0, end = frame_end(d, soi, len, &restart);
        if (end == 0) {
            *start = soi;
            return CAP_MJPEG_NEED_MORE;
        }
        if (end == (size_t)-1) {
            *skipped += restart - soi;
            from = restart;
            continue;
        }
        *start = soi;
        *size = end - soi;
        return CAP_MJPEG_FRAME;
    }
}
