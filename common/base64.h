/* Base64, the standard alphabet with padding (RFC 4648 section 4): how the preview's JPEG
 * travels inside a JSON line (docs/protocol.md). Plain buffers, no allocation. */
#ifndef EMOTIOND_BASE64_H
#define EMOTIOND_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters that len bytes encode to (a multiple of 4; no terminating NUL counted). */
size_t base64_encoded_len(size_t len);
/* Writes base64_encoded_len(len) characters to out (no NUL); returns that count. */
size_t base64_encode(const void *data, size_t len, char *out);
/* Decodes text (len characters, padded, no white space) into out, which holds cap bytes.
 * Returns the bytes written, or -1 when text is not canonical base64 (a length that is
 * not a multiple of 4, a character outside the alphabet, misplaced padding, or padding
 * bits that are not zero) or does not fit. */
long base64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

#endif
