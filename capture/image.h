/* Still images from memory: JPEG, PNG or binary PGM, recognised by content. */
#ifndef EMOTIOND_IMAGE_H
#define EMOTIOND_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "jpeg.h"

/* Whether the bytes start like a JPEG, PNG or binary PGM. */
bool cap_image_recognised(const uint8_t *data, size_t len);
/* Decoded size (JPEG after DCT scaling by 1/scale; other formats ignore scale). */
int cap_image_size(struct cap_jpeg *jpeg, const uint8_t *data, size_t len, int scale, int *width,
                   int *height, char *err, size_t errlen);
/* Decodes into f (f->fmt chooses gray or BGR), setting width, height and stride. */
int cap_image_decode(struct cap_jpeg *jpeg, const uint8_t *data, size_t len, int scale,
                     struct cap_frame *f, char *err, size_t errlen);

#endif
