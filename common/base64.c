#include "base64.h"

#include <stdbool.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

size_t base64_encode(const void *data, size_t len, char *out)
{
    const uint8_t *in = data;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[v >> 12 & 63];
        *o++ = ALPHABET[v >> 6 & 63];
        *o++ = ALPHABET[v & 63];
    }
    if (i < len) {          /* one or two bytes left: "xx==" or "xxx=" */
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[v >> 12 & 63];
        *o++ = i + 1 < len ? ALPHABET[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* 0..63, or -1 for a character outside the alphabet ('=' included). */
static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long base64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last && text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int x = k < 4 - pad ? value_of(text[i + k]) : 0;
            if (x < 0)
                return -1;
            v = v << 6 | (uint32_t)x;
        }
        /* the bits padding leaves over must be zero: one encoding per byte string */
        if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))
            return -1;
        size_t bytes = 3 - (size_t)pad;
        if (n + bytes > cap)
            return -1;
        out[n++] = (uint8_t)(v >> 16);
        if (bytes > 1)
            out[n++] = (uint8_t)(v >> 8);
        if (bytes > 2)
            out[n++] = (uint8_t)v;
    }
    return (long)n;
}
