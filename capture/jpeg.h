/* JPEG decoding with libjpeg-turbo's TurboJPEG API: straight to grayscale (or BGR when
 * asked), with DCT scaling for smaller images. Motion-JPEG frames without Huffman
 * tables decode (libjpeg-turbo supplies the standard ones). Any warning counts as a
 * corrupt frame: the caller drops it, nothing half-decoded escapes. */
#ifndef EMOTIOND_JPEG_H
#define EMOTIOND_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct cap_jpeg;

struct cap_jpeg *cap_jpeg_create(void);
void cap_jpeg_destroy(struct cap_jpeg *j);

/* Size after scaling by 1/scale (scale 1, 2, 4 or 8). 0, or -1 with a message. */
int cap_jpeg_size(struct cap_jpeg *j, const uint8_t *data, size_t len, int scale, int *width,
                  int *height, char *err, size_t errlen);
/* Decodes into dst (capacity bytes), rows packed (stride = width * bytes per pixel). */
int cap_jpeg_decode(struct cap_jpeg *j, const uint8_t *data, size_t len, enum cap_pixfmt fmt,
                    int scale, uint8_t *dst, size_t capacity, int *width, int *height,
                    char *err, size_t errlen);

#endif
