/* Frames and the fixed pool they come from: no allocation per frame in a steady stream
 * (a frame grows only when a larger picture than any before arrives). A frame is
 * reference counted; the last unref returns it to its pool. Thread-safe. */
#ifndef EMOTIOND_FRAME_H
#define EMOTIOND_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum cap_pixfmt { CAP_GRAY8 = 1, CAP_BGR24 = 3 };   /* value = bytes per pixel */

struct cap_pool;

struct cap_frame {
    uint8_t *data;
    int width, height;
    size_t stride;
    enum cap_pixfmt fmt;
    uint64_t seq;           /* source's sequence number (camera: driver's) */
    int64_t ts_ns;          /* CLOCK_MONOTONIC capture time */
    /* private */
    atomic_int refs;
    size_t capacity;
    struct cap_pool *pool;
};

/* count frames of up to bytes_each pixels each. NULL when out of memory. */
struct cap_pool *cap_pool_create(int count, size_t bytes_each);
/* Frees the pool; every frame must have been released. */
void cap_pool_destroy(struct cap_pool *pool);
/* A free frame with one reference, or NULL when all are in use (the caller drops). */
struct cap_frame *cap_pool_acquire(struct cap_pool *pool);
size_t cap_pool_frame_capacity(const struct cap_pool *pool);
int cap_pool_available(struct cap_pool *pool);

/* Grows f to hold bytes (never shrinks). Only while the caller holds f's one reference,
 * right after cap_pool_acquire. 0, or -1 when out of memory (f is unchanged). */
int cap_frame_reserve(struct cap_frame *f, size_t bytes);

void cap_frame_ref(struct cap_frame *f);
void cap_frame_unref(struct cap_frame *f);

#endif
