/* A Motion-JPEG clip for the benchmarks (bench_capture, bench_preview): the file read
 * whole and split into its JPEG frames as the daemon's file: source splits them
 * (capture/mjpeg.c). */
#ifndef EMOTIOND_BENCH_CLIP_H
#define EMOTIOND_BENCH_CLIP_H

#include <stddef.h>

struct bench_clip {
    unsigned char *data;
    size_t len;
    const unsigned char **frame;     /* into data */
    size_t *size;
    int n;
};

/* Reads path and finds its first max_frames frames (at least one): 0, or -1 having said
 * why on stderr. */
int bench_clip_read(const char *path, int max_frames, struct bench_clip *c);
void bench_clip_free(struct bench_clip *c);

#endif
