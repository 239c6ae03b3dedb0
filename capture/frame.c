#include "frame.h"

#include <pthread.h>
#include <stdlib.h>

struct cap_pool {
    pthread_mutex_t lock;
    int count, n_free;
    struct cap_frame *frames;
    struct cap_frame **free_list;
    size_t bytes_each;
};

struct cap_pool *cap_pool_create(int count, size_t bytes_each)
{
    struct cap_pool *p = calloc(1, sizeof *p);
    if (!p || count < 1)
        goto fail;
    p->count = p->n_free = count;
    p->bytes_each = bytes_each;
    p->frames = calloc((size_t)count, sizeof *p->frames);
    p->free_list = calloc((size_t)count, sizeof *p->free_list);
    if (!p->frames || !p->free_list)
        goto fail;
    pthread_mutex_init(&p->lock, NULL);
    for (int i = 0; i < count; i++) {
        /* one block each, so that a frame can grow on its own (cap_frame_reserve) */
        if (!(p->frames[i].data = malloc(bytes_each ? bytes_each : 1)))
            goto fail_frames;
        p->frames[i].capacity = bytes_each;
        p->frames[i].pool = p;
        atomic_init(&p->frames[i].refs, 0);
        p->free_list[i] = &p->frames[i];
    }
    return p;
fail_frames:
    pthread_mutex_destroy(&p->lock);
    for (int i = 0; i < count; i++)
        free(p->frames[i].data);
fail:
    if (p) {
        free(p->frames);
        free(p->free_list);
        free(p);
    }
    return NULL;
}

void cap_pool_destroy(struct cap_pool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    for (int i = 0; i < p->count; i++)
        free(p->frames[i].data);
    free(p->frames);
    free(p->free_list);
    free(p);
}

int cap_frame_reserve(struct cap_frame *f, size_t bytes)
{
    if (bytes <= f->capacity)
        return 0;
    uint8_t *d = realloc(f->data, bytes);
    if (!d)
        return -1;
    f->data = d;
    f->capacity = bytes;
    return 0;
}

struct cap_frame *cap_pool_acquire(struct cap_pool *p)
{
    struct cap_frame *f = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->n_free > 0)
        f = p->free_list[--p->n_free];
    pthread_mutex_unlock(&p->lock);
    if (f)
        atomic_store(&f->refs, 1);
    return f;
}

size_t cap_pool_frame_capacity(const struct cap_pool *p)
{
    return p->bytes_each;
}

int cap_pool_available(struct cap_pool *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->n_free;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void cap_frame_ref(struct cap_frame *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void cap_frame_unref(struct cap_frame *f)
{
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    struct cap_pool *p = f->pool;
    pthread_mutex_lock(&p->lock);
    p->free_list[p->n_free++] = f;
    pthread_mutex_unlock(&p->lock);
}
