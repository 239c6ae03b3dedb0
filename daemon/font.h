/* emotiond's own small bitmap font, for the labels drawn on previews: 5 x 8 pixel glyphs
 * (7 above the baseline, 1 of descent) for digits, lower-case letters and a little
 * punctuation, drawn at any integer scale. Upper case is drawn in lower case; any other
 * character as a hollow box. No dependency, nothing allocated. */
#ifndef EMOTIOND_FONT_H
#define EMOTIOND_FONT_H

#include <stddef.h>
#include <stdint.h>

#define FONT_W 5
#define FONT_H 8
#define FONT_ADVANCE 6   /* glyph and one blank column */

/* 8-bit pixels, 1 (gray) or 3 (BGR) channels per pixel. */
struct font_canvas {
    uint8_t *pixels;
    int width, height, channels;
    size_t stride;
};

/* Width in pixels of text at scale (the last glyph's trailing blank not counted). */
int font_text_width(const char *text, int scale);
/* Draws text with its top-left corner at (x, y), each glyph pixel a scale x scale square
 * of colour (colour[0] for gray; B, G, R for colour); what falls outside is clipped. */
void font_draw(const struct font_canvas *c, int x, int y, int scale, const char *text,
               const uint8_t colour[3]);
/* Whether (gx, gy) of c's glyph is inked: for tests and for anyone drawing it otherwise. */
int font_pixel(char c, int gx, int gy);

#endif
