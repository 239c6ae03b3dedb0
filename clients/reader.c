#define _GNU_SOURCE
#include "reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_connect.h"
#include "log.h"

/* per read: a few dozen frames, then the program's other sockets get their turn (the
 * broker, the browsers: fairness under a flood) */
#define READ_CHUNK 16384

struct reader {
    char *path;
    int fd;
    char *buf;             /* READER_LINE_MAX + 1 */
    size_t len;
    bool skipping;         /* inside an over-long line: drop up to its newline */
    uint64_t garbage;
    /* backoff (monotonic seconds): when the next try is due, and the wait after it */
    double next_try, backoff;
    double connected_at;
    bool hello;            /* the daemon's hello arrived on this connection */
};

struct reader *reader_new(const char *path)
{
    struct reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->path = strdup(path);
    r->buf = malloc(READER_LINE_MAX + 1);
    r->fd = -1;
    r->backoff = READER_RETRY_MIN_S;
    if (!r->path || !r->buf) {
        reader_free(r);
        return NULL;
    }
    return r;
}

void reader_free(struct reader *r)
{
    if (!r)
        return;
    reader_close(r);
    free(r->path);
    free(r->buf);
    free(r);
}

/* A try failed or a connection ended: the next try after the backoff, which doubles. */
static void schedule(struct reader *r, double now)
{
    r->next_try = now + r->backoff;
    r->backoff = r->backoff * 2 < READER_RETRY_MAX_S ? r->backoff * 2 : READER_RETRY_MAX_S;
}

int reader_connect(struct reader *r, char *err, size_t errlen)
{
    reader_close(r);
    r->fd = ctl_connect(r->path, true, err, errlen);
    double now = mono_s();
    if (r->fd < 0) {
        schedule(r, now);
        return -1;
    }
    /* not a reset of the backoff yet: that waits for a working session (reader_close) */
    r->connected_at = now;
    r->hello = false;
    return 0;
}

double reader_retry_in(const struct reader *r, double now)
{
    return r->fd >= 0 || now >= r->next_try ? 0 : r->next_try - now;
}

int reader_fd(const struct reader *r)
{
    return r->fd;
}

void reader_close(struct reader *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        double now = mono_s();
        if (r->hello && now - r->connected_at >= READER_WORKING_S)
            r->backoff = READER_RETRY_MIN_S;     /* it worked: a restart is retried soon */
        schedule(r, now);
    }
    r->fd = -1;
    r->len = 0;
    r->skipping = false;
}

uint64_t reader_garbage(const struct reader *r)
{
    return r->garbage;
}

static void message(struct reader *r, char *line, size_t len, reader_fn fn, void *user)
{
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, 0, &jerr);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type) {
        r->garbage++;
        /* the line is not NUL-terminated: print at most its own bytes */
        log_warn("emotiond sent %s: %.*s%s", !msg ? "a line that is not JSON"
                 : !json_is_object(msg) ? "JSON that is not an object"
                                        : "an object without a \"type\"",
                 (int)(len < 60 ? len : 60), line, len > 60 ? "..." : "");
    } else {
        if (!strcmp(type, "hello"))
            r->hello = true;
        fn(user, msg, type, line, len);
    }
    json_decref(msg);
}

int reader_read(struct reader *r, reader_fn fn, void *user, char *err, size_t errlen)
{
    for (int round = 0; round < 4; round++) {    /* then the other sockets' turn */
        size_t room = READER_LINE_MAX - r->len;
        ssize_t n = read(r->fd, r->buf + r->len, room < READ_CHUNK ? room : READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            snprintf(err, errlen, "%s", n == 0 ? "emotiond closed the connection"
                                               : strerror(errno));
            reader_close(r);
            return -1;
        }
        r->len += (size_t)n;
        size_t at = 0;
        for (char *nl; (nl = memchr(r->buf + at, '\n', r->len - at));) {
            size_t end = (size_t)(nl - r->buf);
            if (r->skipping)
                r->skipping = false;
            else if (end > at)
                message(r, r->buf + at, end - at, fn, user);
            at = end + 1;
            if (r->fd < 0)            /* fn closed it */
                return 0;
        }
        memmove(r->buf, r->buf + at, r->len - at);
        r->len -= at;
        if (r->len == READER_LINE_MAX) {
            if (!r->skipping) {
                r->garbage++;
                log_warn("emotiond sent a line over %d bytes; skipped", READER_LINE_MAX);
            }
            r->skipping = true;
            r->len = 0;
        }
    }
    return 0;
}
