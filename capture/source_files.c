/* file: (Motion-JPEG stream), image: and dir: sources.
 *
 * Files are read into our own buffers, never mapped: a clip that someone truncates or
 * rewrites while it streams gives short reads and corrupt frames, not SIGBUS. Every
 * size a header claims is checked against the frame limit before anything is allocated
 * for it, and each frame is sized for its own picture, not the first one's. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "image.h"
#include "mjpeg.h"
#include "source_impl.h"
#include "textsize.h"

#define STREAM_CHUNK (1u << 20)                      /* first buffer, and least read */
#define STREAM_MAX_BUFFER (CAP_MJPEG_MAX_FRAME + STREAM_CHUNK)
#define IMAGE_MAX_FILE (64u << 20)
#define OPEN_SCAN_BYTES (32u << 20)                  /* file: looks this far for a frame */

struct files {
    /* file: a window on the stream; buf[pos, len) is not parsed yet */
    int fd;
    uint8_t *buf;
    size_t cap, len, pos;
    bool eof, gone;                    /* gone: deleted, or a read failed */
    uint64_t read_total, read_limit;   /* bytes read so far; limit (0: none) */
    uint64_t index;
    /* image: the decoded picture, copied out on each delivery */
    struct cap_frame *still;
    bool delivered;
    /* dir: sorted names */
    char *dir;
    char **names;
    int n_names, next_name;
};

static void set_connected(struct cap_source *s, bool on)
{
    pthread_mutex_lock(&s->stats_lock);
    s->st.connected = on;
    pthread_mutex_unlock(&s->stats_lock);
}

/* A regular file, opened without blocking (a FIFO would hang the capture thread). */
static int open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode) || st->st_size == 0) {
        snprintf(err, errlen, "%s: %s", path, S_ISREG(st->st_mode) ? "empty file" : "not a file");
        close(fd);
        return -1;
    }
    return fd;
}

/* The whole file in a new buffer (at most IMAGE_MAX_FILE bytes). */
static uint8_t *read_whole(const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    int fd = open_regular(path, &st, err, errlen);
    if (fd < 0)
        return NULL;
    if (st.st_size > (off_t)IMAGE_MAX_FILE) {
        snprintf(err, errlen, "%s: larger than %u MiB", path, IMAGE_MAX_FILE >> 20);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(cap);
    while (buf && got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got == 0) {
        snprintf(err, errlen, "%s: %s", path, buf ? "empty or unreadable" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = got;    /* shorter than stat said when the file shrank meanwhile: its bytes */
    return buf;
}

/* Whether a picture of w x h is within the configured frame limit. */
static int check_size(const struct cap_source *s, int w, int h, char *why, size_t whylen)
{
    if (w <= s->o.max_width && h <= s->o.max_height)
        return 0;
    snprintf(why, whylen, "%dx%d is over the frame limit of %dx%d", w, h, s->o.max_width,
             s->o.max_height);
    return -1;
}

/* Sizes f for the picture in data (header checked against the limit), then decodes. */
static int decode_into(struct cap_source *s, const uint8_t *data, size_t len,
                       struct cap_frame *f, char *why, size_t whylen)
{
    int w, h;
    if (cap_image_size(s->jpeg, data, len, s->o.scale, &w, &h, why, whylen) ||
        check_size(s, w, h, why, whylen))
        return -1;
    if (cap_frame_reserve(f, (size_t)w * (size_t)h * (size_t)s->o.fmt)) {
        snprintf(why, whylen, "out of memory for a %dx%d frame", w, h);
        return -1;
    }
    return cap_image_decode(s->jpeg, data, len, s->o.scale, f, why, whylen);
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
    f->ts_ns = mono_ns();
    return f;
}

/* Reads more of the stream behind buf[pos, len), dropping what was parsed. false at the
 * end of the file (or when it was deleted, or a read failed: noted). */
static bool refill(struct cap_source *s, struct files *fs)
{
    if (fs->eof)
        return false;
    memmove(fs->buf, fs->buf + fs->pos, fs->len - fs->pos);
    fs->len -= fs->pos;
    fs->pos = 0;
    if (fs->len == fs->cap) {
        size_t cap = fs->cap * 2 > STREAM_MAX_BUFFER ? STREAM_MAX_BUFFER : fs->cap * 2;
        uint8_t *nb = cap > fs->cap ? realloc(fs->buf, cap) : NULL;
        if (!nb) {   /* at the limit: no frame can be this long, so drop a byte */
            fs->pos = 1;
            return true;
        }
        fs->buf = nb;
        fs->cap = cap;
    }
    if (fs->read_limit && fs->read_total >= fs->read_limit) {
        fs->eof = true;
        return false;
    }
    struct stat st;
    if (fstat(fs->fd, &st) == 0 && st.st_nlink == 0) {
        cap_note(s, "%s was deleted while streaming", s->desc);
        set_connected(s, false);
        fs->eof = fs->gone = true;
        return false;
    }
    for (;;) {
        ssize_t n = read(fs->fd, fs->buf + fs->len, fs->cap - fs->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            fs->len += (size_t)n;
            fs->read_total += (size_t)n;
            return true;
        }
        if (n < 0) {
            cap_note(s, "%s: %s", s->desc, strerror(errno));
            set_connected(s, false);
            fs->gone = true;
        }
        fs->eof = true;
        return false;
    }
}

/* The next whole frame of the stream: 1 with *jpg and *size, 0 at its end. */
static int next_frame(struct cap_source *s, struct files *fs, const uint8_t **jpg, size_t *size)
{
    while (!atomic_load(&s->stop)) {
        size_t start, skipped;
        enum cap_mjpeg_result r =
            cap_mjpeg_next(fs->buf + fs->pos, fs->len - fs->pos, &start, size, &skipped);
        if (skipped) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "frame cut short in the stream");
        }
        if (r == CAP_MJPEG_FRAME) {
            *jpg = fs->buf + fs->pos + start;
            fs->pos += start + *size;
            return 1;
        }
        fs->pos += start;           /* junk before start is never needed again */
        if (!refill(s, fs)) {
            if (fs->len - fs->pos > 2 && !fs->gone) {   /* the stream ends inside a frame */
                cap_count(s, &s->st.corrupt, 1);
                cap_note(s, "last frame truncated at end of stream");
            }
            fs->pos = fs->len;
            return 0;
        }
    }
    return 0;
}

static int stream_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct files *fs = s->impl;
    const uint8_t *jpg;
    size_t size;
    while (next_frame(s, fs, &jpg, &size)) {
        uint64_t seq = fs->index++;
        struct cap_frame *f = acquire(s);
        if (!f)
            continue;
        char why[200];
        if (decode_into(s, jpg, size, f, why, sizeof why)) {
            cap_count(s, &s->st.corrupt, 1);
            cap_note(s, "frame %llu skipped: %s", (unsigned long long)seq, why);
            cap_frame_unref(f);
            /* a damaged frame may have swallowed good ones: look again inside it */
            fs->pos = (size_t)(jpg - fs->buf) + 2;
            continue;
        }
        f->seq = seq;
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
    if (cap_frame_reserve(f, fs->still->stride * (size_t)fs->still->height)) {
        cap_note(s, "out of memory copying the image");
        cap_frame_unref(f);
        return 0;
    }
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
    size_t len;
    uint8_t *data = read_whole(path, &len, why, whylen);
    if (!data)
        return -1;
    int rc = decode_into(s, data, len, f, why, whylen);
    free(data);
    return rc;
}

static int dir_next(struct cap_source *s, struct cap_frame **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct files *fs = s->impl;
    while (fs->next_name < fs->n_names && !atomic_load(&s->stop)) {
        char path[4096], why[TEXT_WHY];
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
    if (fs->fd >= 0)
        close(fs->fd);
    free(fs->buf);
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

/* The images of a folder, by name. One whose header is broken or over the frame limit
 * is skipped and noted, not fatal: the folder fails only when no image is usable. */
static int list_dir(struct cap_source *s, struct files *fs, const char *path, size_t *biggest,
                    char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int cap = 0, refused = 0;
    char first_refusal[400] = "";
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char full[4096], why[TEXT_WHY];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        size_t len;
        int w, h;
        uint8_t *data = read_whole(full, &len, why, sizeof why);
        if (!data)
            continue;              /* subfolders and unreadable files are not images */
        bool image = cap_image_recognised(data, len);
        int rc = image ? cap_image_size(s->jpeg, data, len, s->o.scale, &w, &h, why, sizeof why)
                       : -1;
        free(data);
        if (!image)
            continue;
        if (rc == 0)
            rc = check_size(s, w, h, why, sizeof why);
        if (rc) {
            cap_count(s, &s->st.corrupt, 1);
            if (!refused++)
                snprintf(first_refusal, sizeof first_refusal, "%.200s: %.180s", e->d_name, why);
            cap_note(s, "%s skipped: %s", full, why);
            continue;
        }
        size_t bytes = (size_t)w * (size_t)h * (size_t)s->o.fmt;
        *biggest = bytes > *biggest ? bytes : *biggest;
        if (fs->n_names == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(fs->names, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            fs->names = nn;
        }
        if (!(fs->names[fs->n_names] = strdup(e->d_name)))
            break;
        fs->n_names++;
    }
    closedir(d);
    if (fs->n_names == 0) {
        if (refused)
            snprintf(err, errlen, "%s: no usable image (%d refused; first: %s)", path, refused,
                     first_refusal);
        else
            snprintf(err, errlen, "%s: no JPEG, PNG or PGM images in this folder", path);
        return -1;
    }
    qsort(fs->names, (size_t)fs->n_names, sizeof *fs->names, by_name);
    return 0;
}

/* file: the first frame whose header reads and fits the limit, within OPEN_SCAN_BYTES;
 * then back to the start. Frames before it are corrupt ones, counted as they stream. */
static int open_stream(struct cap_source *s, struct files *fs, const char *path, size_t *bytes,
                       char *err, size_t errlen)
{
    struct stat st;
    if ((fs->fd = open_regular(path, &st, err, errlen)) < 0)
        return -1;
    fcntl(fs->fd, F_SETFL, fcntl(fs->fd, F_GETFL) & ~O_NONBLOCK);
    fs->cap = STREAM_CHUNK;
    if (!(fs->buf = malloc(fs->cap))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const uint8_t *jpg;
    size_t size;
    char why[200] = "no JPEG frame";
    int w, h;
    fs->read_limit = OPEN_SCAN_BYTES;
    while (next_frame(s, fs, &jpg, &size)) {
        if (cap_jpeg_size(s->jpeg, jpg, size, s->o.scale, &w, &h, why, sizeof why) == 0 &&
            check_size(s, w, h, why, sizeof why) == 0) {
            *bytes = (size_t)w * (size_t)h * (size_t)s->o.fmt;
            break;
        }
    }
    if (*bytes == 0) {
        snprintf(err, errlen, "%s: no decodable JPEG frame found (not a Motion-JPEG stream?): "
                 "%s", path, why);
        return -1;
    }
    if (lseek(fs->fd, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fs->len = fs->pos = 0;
    fs->eof = false;
    fs->read_total = fs->read_limit = 0;
    pthread_mutex_lock(&s->stats_lock);   /* the scan's notes and counts are not news */
    s->st.corrupt = 0;
    s->last_error[0] = '\0';
    pthread_mutex_unlock(&s->stats_lock);
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
    fs->fd = -1;
    s->impl = fs;
    s->paced = true;
    snprintf(s->desc, sizeof s->desc, "%s:%s", kind, path);
    size_t bytes = 0;
    uint8_t *still = NULL;
    size_t still_len = 0;
    int w = 0, h = 0;
    char why[TEXT_WHY];
    if (strcmp(kind, "file") == 0) {
        s->vt = &stream_vt;
        if (open_stream(s, fs, path, &bytes, err, errlen))
            goto fail;
    } else if (strcmp(kind, "image") == 0) {
        s->vt = &image_vt;
        if (s->o.fps == 0)
            s->o.fps = 10;
        if (!(still = read_whole(path, &still_len, err, errlen)))
            goto fail;
        if (cap_image_size(s->jpeg, still, still_len, s->o.scale, &w, &h, why, sizeof why) ||
            check_size(s, w, h, why, sizeof why)) {
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
    int extra = still != NULL;
    if (!(s->pool = cap_pool_create(s->o.pool_frames + extra, bytes))) {
        snprintf(err, errlen, "out of memory for %d frames of %zu bytes", s->o.pool_frames, bytes);
        goto fail;
    }
    if (extra) {
        fs->still = cap_pool_acquire(s->pool);
        fs->still->fmt = s->o.fmt;
        if (decode_into(s, still, still_len, fs->still, why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", path, why);
            goto fail;
        }
        free(still);
        still = NULL;
    }
    set_connected(s, true);
    return 0;
fail:
    free(still);
    files_close(s);
    cap_pool_destroy(s->pool);
    s->pool = NULL;
    return -1;
}
