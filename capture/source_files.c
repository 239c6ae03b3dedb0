/* file: (Motion-JPEG stream), image: and dir: sources. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "mjpeg.h"
#include "source_impl.h"

struct files {
    /* file: the whole stream, mapped */
    const uint8_t *map;
    size_t len, pos;
    size_t released;        /* bytes before this are let go of (not kept resident) */
    uint64_t index;
    /* image: the decoded picture, copied out on each delivery */
    struct cap_frame *still;
    bool delivered;
    /* dir: sorted names */
    char *dir;
    char **names;
    int n_names, next_name;
};

static int map_file(const char *path, const uint8_t **map, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        snprintf(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a file");
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    *map = m;
    *len = (size_t)st.st_size;
    return 0;
}

/* A long clip read once must not stay resident: every MB, the pages already read
 * are dropped from this process (the page cache keeps them for the next pass). */
static void release_behind(struct files *fs)
{
    const size_t chunk = 1u << 20;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = (fs->pos > page ? fs->pos - page : 0) / chunk * chunk;
    if (upto > fs->released) {
        madvise((void *)(fs->map + fs->released), upto - fs->released, MADV_DONTNEED);
        fs->released = upto;
    }
}

static struct cap_frame *acquire(struct cap_source *s)
{
    struct cap_frame *f = cap_pool_acquire(s->pool);
    if (!f) {
        cap_count(s, &s->st.pool_empty, 1);
        cap_note(s, "frame dropped: all %d frames still in use", s->o.pool_frames);
        return NULL;
    }
    f->fmt = s->o.fmt;
    f->ts_ns = cap_now_ns();
    return f;
}

static int stream_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct files *fs = s->impl;
    while (!atomic_load(&s->stop)) {
        size_t start, size, skipped;
        enum cap_mjpeg_result r =
            cap_mjpeg_next(fs->map + fs->pos, fs->len - fs->pos, &start, &size, &skipped);
        if (skipped) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "frame cut short near byte %zu of the stream", fs->pos + start);
        }
        if (r == CAP_MJPEG_NEED_MORE) {
            if (fs->pos + start + 2 < fs->len) {   /* the stream ends inside a frame */
                cap_count(s, &s->st.corrupt, 1);
                cap_note(s, "last frame truncated at end of stream");
            }
            fs->pos = fs->len;
            return 0;
        }
        const uint8_t *jpg = fs->map + fs->pos + start;
        size_t frame_at = fs->pos + start;
        fs->pos += start + size;
        uint64_t seq = fs->index++;
        struct cap_frame *f = acquire(s);
        if (!f)
            continue;
        char why[200];
        int w, h;
        if (cap_jpeg_decode(s->jpeg, jpg, size, s->o.fmt, s->o.scale, f->data, f->capacity, &w,
                            &h, why, sizeof why)) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "frame %llu skipped: %s", (unsigned long long)seq, why);
            cap_frame_unref(f);
            fs->pos = frame_at + 2;   /* a damaged frame may have swallowed good ones */
            continue;
        }
        f->width = w;
        f->height = h;
        f->stride = (size_t)w * (size_t)s->o.fmt;
        f->seq = seq;
        release_behind(fs);
        *out = f;
        return 1;
    }
    return 0;
}

static int copy_still(struct cap_source *s, struct cap_frame **out)
{
    struct files *fs = s->impl;
    struct cap_frame *f;
    while (!(f = acquire(s)))
        if (!cap_sleep_ms(s, 5))
            return 0;
    memcpy(f->data, fs->still->data, fs->still->stride * (size_t)fs->still->height);
    f->width = fs->still->width;
    f->height = fs->still->height;
    f->stride = fs->still->stride;
    f->seq = fs->index++;
    *out = f;
    return 1;
}

static int image_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct files *fs = s->impl;
    if (s->o.once && fs->delivered)
        return 0;
    fs->delivered = true;
    return copy_still(s, out);
}

static int decode_path(struct cap_source *s, const char *path, struct cap_frame *f, char *why,
                       size_t whylen)
{
    const uint8_t *map;
    size_t len;
    if (map_file(path, &map, &len, why, whylen))
        return -1;
    int rc = cap_image_decode(s->jpeg, map, len, s->o.scale, f, why, whylen);
    munmap((void *)map, len);
    return rc;
}

static int dir_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct files *fs = s->impl;
    while (fs->next_name < fs->n_names && !atomic_load(&s->stop)) {
        char path[4096], why[300];
        snprintf(path, sizeof path, "%s/%s", fs->dir, fs->names[fs->next_name++]);
        struct cap_frame *f = acquire(s);
        if (!f)
            continue;
        if (decode_path(s, path, f, why, sizeof why)) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "%s skipped: %s", path, why);
            cap_frame_unref(f);
            continue;
        }
        f->seq = fs->index++;
        *out = f;
        return 1;
    }
    return 0;
}

static void files_close(struct cap_source *s)
{
    struct files *fs = s->impl;
    if (!fs)
        return;
    if (fs->map)
        munmap((void *)fs->map, fs->len);
    if (fs->still)
        cap_frame_unref(fs->still);
    for (int i = 0; i < fs->n_names; i++)
        free(fs->names[i]);
    free(fs->names);
    free(fs->dir);
    free(fs);
    s->impl = NULL;
}

static const struct cap_source_vt stream_vt = {stream_next, files_close};
static const struct cap_source_vt image_vt = {image_next, files_close};
static const struct cap_source_vt dir_vt = {dir_next, files_close};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct cap_source *s, struct files *fs, const char *path, size_t *biggest,
                    char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char full[4096], why[300];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        const uint8_t *map;
        size_t len;
        int w, h;
        if (map_file(full, &map, &len, why, sizeof why))
            continue;              /* subfolders and unreadable files are not images */
        bool image = cap_image_recognised(map, len);
        if (image && cap_image_size(s->jpeg, map, len, s->o.scale, &w, &h, why, sizeof why) == 0) {
            size_t bytes = (size_t)w * (size_t)h * (size_t)s->o.fmt;
            *biggest = bytes > *biggest ? bytes : *biggest;
        }   /* an image whose header is broken is listed, and counted when it fails */
        munmap((void *)map, len);
        if (!image)
            continue;
        if (fs->n_names == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(fs->names, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            fs->names = nn;
        }
        fs->names[fs->n_names++] = strdup(e->d_name);
    }
    closedir(d);
    if (fs->n_names == 0 || *biggest == 0) {
        snprintf(err, errlen, "%s: no JPEG, PNG or PGM images in this folder", path);
        return -1;
    }
    qsort(fs->names, (size_t)fs->n_names, sizeof *fs->names, by_name);
    return 0;
}

int cap_files_open(struct cap_source *s, const char *kind, const char *path, char *err,
                   size_t errlen)
{
    struct files *fs = calloc(1, sizeof *fs);
    if (!fs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->impl = fs;
    s->paced = true;
    snprintf(s->desc, sizeof s->desc, "%s:%s", kind, path);
    size_t bytes = 0;
    int w = 0, h = 0;
    char why[300];
    if (strcmp(kind, "file") == 0) {
        s->vt = &stream_vt;
        if (map_file(path, &fs->map, &fs->len, err, errlen))
            goto fail;
        size_t start, size, skipped;
        if (cap_mjpeg_next(fs->map, fs->len, &start, &size, &skipped) != CAP_MJPEG_FRAME ||
            cap_jpeg_size(s->jpeg, fs->map + start, size, s->o.scale, &w, &h, why, sizeof why)) {
            snprintf(err, errlen, "%s: no decodable JPEG frame found (not a Motion-JPEG stream?)",
                     path);
            goto fail;
        }
        bytes = (size_t)w * (size_t)h * (size_t)s->o.fmt;
    } else if (strcmp(kind, "image") == 0) {
        s->vt = &image_vt;
        if (s->o.fps == 0)
            s->o.fps = 10;
        const uint8_t *map;
        size_t len;
        if (map_file(path, &map, &len, err, errlen))
            goto fail;
        int rc = cap_image_size(s->jpeg, map, len, s->o.scale, &w, &h, why, sizeof why);
        munmap((void *)map, len);
        if (rc) {
            snprintf(err, errlen, "%s: %s", path, why);
            goto fail;
        }
        bytes = (size_t)w * (size_t)h * (size_t)s->o.fmt;
    } else {
        s->vt = &dir_vt;
        if (!(fs->dir = strdup(path)) || list_dir(s, fs, path, &bytes, err, errlen))
            goto fail;
    }
    /* image: one extra pool frame holds the decoded still */
    int extra = strcmp(kind, "image") == 0;
    if (!(s->pool = cap_pool_create(s->o.pool_frames + extra, bytes))) {
        snprintf(err, errlen, "out of memory for %d frames of %zu bytes", s->o.pool_frames, bytes);
        goto fail;
    }
    if (extra) {
        fs->still = cap_pool_acquire(s->pool);
        fs->still->fmt = s->o.fmt;
        if (decode_path(s, path, fs->still, why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", path, why);
            goto fail;
        }
    }
    return 0;
fail:
    files_close(s);
    cap_pool_destroy(s->pool);
    s->pool = NULL;
    return -1;
}
