/* Base64 (RFC 4648, the standard alphabet, '=' padding), decoding only: the preview's
 * JPEG arrives base64 in a JSON string. */
#ifndef EMOTIOND_WEB_BASE64_H
#define EMOTIOND_WEB_BASE64_H

#include <stddef.h>

/* The most bytes len characters of base64 decode to. */
size_t base64_decoded_max(size_t len);
/* Decodes len characters into out (room for base64_decoded_max(len) bytes): the number
 * of bytes, or -1 for anything that is not canonical base64 (a character outside the
 * alphabet, whitespace, a length not a multiple of 4, padding not at the end). */
long base64_decode(const char *in, size_t len, unsigned char *out);

#endif
