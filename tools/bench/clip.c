#include "clip.h"

#include <stdio.h>
#include <stdlib.h>

#include "mjpeg.h"

int bench_clip_read(const char *path, int max_frames, struct bench_clip *c)
{
    *c = (struct bench_clip){0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    c->len = len > 0 ? (size_t)len : 0;
    c->data = malloc(c->len + 1);    /* an empty file has no frames, said below */
    c->frame = max_frames > 0 ? malloc((size_t)max_frames * sizeof *c->frame) : NULL;
    c->size = max_frames > 0 ? malloc((size_t)max_frames * sizeof *c->size) : NULL;
    if (len < 0 || !c->data || !c->frame || !c->size || fseek(f, 0, SEEK_SET) != 0 ||
        fread(c->data, 1, c->len, f) != c->len) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        bench_clip_free(c);
        return -1;
    }
    fclose(f);
    size_t pos = 0, start, n, skipped;
    while (c->n < max_frames &&
           cap_mjpeg_next(c->data + pos, c->len - pos, &start, &n, &skipped) == CAP_MJPEG_FRAME) {
        c->frame[c->n] = c->data + pos + start;
        c->size[c->n++] = n;
        pos += start + n;
    }
    if (!c->n) {
        fprintf(stderr, "%s: no frames\n", path);
        bench_clip_free(c);
        return -1;
    }
    return 0;
}

void bench_clip_free(struct bench_clip *c)
{
    free(c->data);
    free(c->frame);
    free(c->size);
    *c = (struct bench_clip){0};
}
