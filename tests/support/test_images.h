/* Synthetic test images: JPEGs made with TurboJPEG's encoder, so capture tests need no
 * dataset; plus helpers to strip Huffman tables and write files. */
#ifndef EMOTIOND_TEST_IMAGES_H
#define EMOTIOND_TEST_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* A gray (channels 1) or colour (3) JPEG of a smooth pattern; caller frees. */
uint8_t *make_jpeg(int width, int height, int channels, int quality, size_t *len);
/* The pattern's value at (x, y) for make_jpeg's gray images. */
uint8_t pattern_at(int x, int y);
/* Copy of a JPEG without its DHT segments (as many UVC cameras send); caller frees. */
uint8_t *strip_dht(const uint8_t *jpeg, size_t len, size_t *out_len);
/* Writes bytes to path; returns 0. */
int write_bytes(const char *path, const void *data, size_t len);

#endif
