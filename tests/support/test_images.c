#include "test_images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

uint8_t pattern_at(int x, int y)
{
    return (uint8_t)(128 + 60 * ((x / 16 + y / 16) % 2 ? 1 : -1) + (x + y) % 8);
}

uint8_t *make_jpeg(int w, int h, int channels, int quality, size_t *len)
{
    uint8_t *px = malloc((size_t)w * (size_t)h * (size_t)channels);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                px[((size_t)y * (size_t)w + (size_t)x) * (size_t)channels + (size_t)c] =
                    (uint8_t)(pattern_at(x, y) + c * 20);
    tjhandle tj = tjInitCompress();
    unsigned char *out = NULL;
    unsigned long n = 0;
    int rc = tjCompress2(tj, px, w, 0, h, channels == 1 ? TJPF_GRAY : TJPF_BGR, &out, &n,
                         channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, 0);
    tjDestroy(tj);
    free(px);
    if (rc)
        return NULL;
    uint8_t *copy = malloc(n);
    memcpy(copy, out, n);
    tjFree(out);
    *len = n;
    return copy;
}

uint8_t *strip_dht(const uint8_t *d, size_t len, size_t *out_len)
{
    uint8_t *o = malloc(len);
    size_t p = 2, q = 2;
    memcpy(o, d, 2);
    while (p + 4 <= len && d[p] == 0xFF && d[p + 1] != 0xDA) {
        size_t seg = 2 + ((size_t)d[p + 2] << 8 | d[p + 3]);
        if (d[p + 1] != 0xC4) {
            memcpy(o + q, d + p, seg);
            q += seg;
        }
        p += seg;
    }
    memcpy(o + q, d + p, len - p);
    *out_len = q + len - p;
    return o;
}

int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    fclose(f);
    return n == len ? 0 : -1;
}
