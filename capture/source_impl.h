/* Private to capture/: what every source kind shares. Not part of the interface. */
#ifndef EMOTIOND_SOURCE_IMPL_H
#define EMOTIOND_SOURCE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "jpeg.h"
#include "source.h"
#include "textsize.h"

struct cap_source {
    const struct cap_source_vt *vt;
    struct cap_options o;
    struct cap_stats st;
    pthread_mutex_t stats_lock;
    atomic_bool stop;
    bool paced;
    int64_t next_due_ns;
    char desc[TEXT_WHY];
    char last_error[TEXT_WHY];
    struct cap_pool *pool;
    struct cap_jpeg *jpeg;
    void *impl;
};

/* Sleeps up to ms in short slices; false if the source was stopped meanwhile. */
bool cap_sleep_ms(struct cap_source *s, int ms);
void cap_note(struct cap_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cap_count(struct cap_source *s, uint64_t *counter, uint64_t n);

int cap_camera_open(struct cap_source *s, const char *path, char *err, size_t errlen);
int cap_files_open(struct cap_source *s, const char *kind, const char *path, char *err,
                   size_t errlen);

#endif
