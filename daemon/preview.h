/* The preview picture (docs/protocol.md, the `preview` message): a frame shrunk to a
 * thumbnail (each pixel the mean of the area it covers), each face's box and label drawn
 * on it (font.h), encoded as a baseline JPEG with TurboJPEG at the highest quality of a
 * short ladder that fits a byte budget. Gray frames give gray thumbnails, BGR ones
 * colour (YCbCr 4:2:0). Owns its buffers, grown to the largest thumbnail yet and reused:
 * nothing is allocated per preview in a steady stream. One thread at a time. */
#ifndef EMOTIOND_PREVIEW_H
#define EMOTIOND_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

/* A face as published: box in frame pixels, smoothed label and confidence. */
struct preview_face {
    int id;
    float box[4];
    const char *label;
    float confidence;
};

struct preview_renderer;

struct preview_renderer *preview_renderer_create(void);
void preview_renderer_free(struct preview_renderer *r);

/* The thumbnail of a frame_w x frame_h frame at the asked width: that width, or the
 * frame's when narrower (never enlarged); the height keeps the aspect (at least 1). */
void preview_size(int frame_w, int frame_h, int width, int *thumb_w, int *thumb_h);
/* A frame box in thumbnail pixels: x and w scaled by thumb_w / frame_w, y and h by
 * thumb_h / frame_h, rounded (not clipped: frame boxes may reach past the edges). */
void preview_scale_box(const float box[4], int frame_w, int frame_h, int thumb_w, int thumb_h,
                       int out[4]);

/* Shrinks a frame (channels 1: gray, 3: BGR; rows stride bytes apart) to its thumbnail
 * at width (preview_size). The only step that reads the frame: the caller may let go of
 * it afterwards. 0, or -1 when out of memory. */
int preview_shrink(struct preview_renderer *r, const uint8_t *pixels, int frame_w, int frame_h,
                   size_t stride, int channels, int width);
/* Draws the faces (boxes in frame pixels) on the last thumbnail. */
void preview_draw(struct preview_renderer *r, const struct preview_face *faces, int n);
/* Encodes the thumbnail at quality, then at 50, 25 and 10 (each only when lower), until
 * the JPEG takes at most max_bytes. Returns the quality it fits at, 0 when it does not
 * fit even at 10, or -1 with err. *jpeg (owned by r, valid until the next call) and
 * *len describe the last JPEG made. */
int preview_encode(struct preview_renderer *r, int quality, size_t max_bytes,
                   const uint8_t **jpeg, size_t *len, char *err, size_t errlen);
/* The last thumbnail: its size, channels and pixels (rows width * channels apart). */
void preview_thumbnail(const struct preview_renderer *r, int *width, int *height, int *channels,
                       const uint8_t **pixels);
/* The colour a label is drawn in (B, G, R; white for a name outside the fixed set). */
void preview_label_colour(const char *label, uint8_t bgr[3]);

#endif
