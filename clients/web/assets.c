#define _GNU_SOURCE
#include "assets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct asset LIST[] = {
    {"/index.html", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/plot.js", "plot.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/style.css", "style.css", "text/css; charset=utf-8", NULL, 0},
    {"/favicon.svg", "favicon.svg", "image/svg+xml", NULL, 0},
};
#define N_LIST (sizeof LIST / sizeof *LIST)
_Static_assert(N_LIST <= sizeof ((struct assets *)0)->list / sizeof (struct asset),
               "struct assets holds the whole list");

static char *read_file(int dir, const char *name, size_t *len, char *err, size_t errlen)
{
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > ASSET_MAX_BYTES) {
        snprintf(err, errlen, S_ISREG(st.st_mode) ? "larger than %d bytes" : "not a regular file",
                 ASSET_MAX_BYTES);
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *data = malloc(want ? want : 1);
    ssize_t n = 1;
    while (data && got < want && ((n = read(fd, data + got, want - got)) > 0 || (n < 0 && errno == EINTR)))
        got += n > 0 ? (size_t)n : 0;
    close(fd);
    if (!data || got != want) {
        snprintf(err, errlen, "%s", !data ? "out of memory" : n < 0 ? strerror(errno) : "shrank while read");
        free(data);
        return NULL;
    }
    *len = want;
    return data;
}

int assets_load(struct assets *a, const char *root, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        snprintf(err, errlen, "web_root %s: %s", root, strerror(errno));
        return -1;
    }
    char why[128];
    for (size_t i = 0; i < N_LIST; i++) {
        a->list[i] = LIST[i];
        a->list[i].data = read_file(dir, LIST[i].file, &a->list[i].len, why, sizeof why);
        if (!a->list[i].data) {
            snprintf(err, errlen, "web_root %s: %s: %s", root, LIST[i].file, why);
            close(dir);
            assets_free(a);
            return -1;
        }
        a->n = i + 1;
    }
    close(dir);
    return 0;
}

const struct asset *assets_find(const struct assets *a, const char *url)
{
    if (!strcmp(url, "/"))
        url = "/index.html";
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->list[i].url, url))
            return &a->list[i];
    return NULL;
}

void assets_free(struct assets *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->list[i].data);
    memset(a, 0, sizeof *a);
}

int assets_present(const char *root)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", root);
    return access(path, R_OK) == 0;
}
