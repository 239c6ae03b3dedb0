/* libFuzzer target: the input is a config file. It is written to a temporary regular
 * file (made once per process with mkstemp under a mkdtemp directory in $TMPDIR or /tmp,
 * rewritten per input) and read with config_defaults + config_load, as the daemon does; a config
 * that loads is printed and its power-mode profiles looked up, and must have been plain
 * text: no NUL byte, no line over 197 characters (docs/operations.md).
 *
 * There are two such files: a short path, and one of over 760 characters (nested
 * directories), since error messages quote the path and must cope with one longer than
 * their buffers. Odd-length inputs use the long one. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define LEVELS 3
static char dir[256];
static char subdirs[LEVELS][1024];
static char short_path[320], long_path[1024];
static int short_fd = -1, long_fd = -1;
static FILE *sink;

static void cleanup(void)
{
    unlink(short_path);
    unlink(long_path);
    for (int i = LEVELS - 1; i >= 0; i--)
        rmdir(subdirs[i]);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char name[201];
    memset(name, 'd', 200);
    name[200] = '\0';
    const char *tmp = getenv("TMPDIR"); /* scripts/fuzz gives each run its own */
    if (!tmp || !*tmp || strlen(tmp) > 128)
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/emotiond-fuzz-config.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("fuzz_config: mkdtemp");
        abort();
    }
    const char *parent = dir;
    for (int i = 0; i < LEVELS; i++) {
        snprintf(subdirs[i], sizeof subdirs[i], "%s/%s", parent, name);
        if (mkdir(subdirs[i], 0700) != 0) {
            perror("fuzz_config: mkdir");
            abort();
        }
        parent = subdirs[i];
    }
    snprintf(short_path, sizeof short_path, "%s/c.XXXXXX", dir);
    snprintf(long_path, sizeof long_path, "%s/%.120s.XXXXXX", parent,
             "a-config-file-whose-name-alone-is-longer-than-most-messages-"
             "a-config-file-whose-name-alone-is-longer-than-most-messages");
    short_fd = mkstemp(short_path);
    long_fd = mkstemp(long_path);
    sink = fopen("/dev/null", "w");
    if (short_fd < 0 || long_fd < 0 || !sink) {
        perror("fuzz_config: temporary file");
        abort();
    }
    atexit(cleanup);
    return 0;
}

/* docs/operations.md: a line over 197 characters (libinih would cut it in two, and
 * parse the rest as a line of its own) or a NUL byte makes the file broken. */
#define MAX_LINE 197

static bool plain_text(const uint8_t *d, size_t len)
{
    size_t width = 0;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == 0)
            return false;
        if (d[i] == '\n') {
            width = 0;
            continue;
        }
        width++;
        /* a '\r' just before the '\n' does not count */
        if (width > MAX_LINE &&
            !(width == MAX_LINE + 1 && d[i] == '\r' && i + 1 < len && d[i + 1] == '\n'))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = size % 2 ? long_fd : short_fd;
    const char *path = size % 2 ? long_path : short_path;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct config *c = malloc(sizeof *c); /* heap: overflows of its fields are caught */
    if (!c)
        abort();
    config_defaults(c);
    char err[256];
    memset(err, 'x', sizeof err);
    if (config_load(path, c, err, sizeof err) == 0) {
        if (c->n_profiles < 0 || c->n_profiles > CONFIG_MAX_PROFILES)
            abort();
        if (!plain_text(data, size)) {
            fprintf(stderr,
                    "fuzz_config: loaded a file with a NUL or a line over %d "
                    "characters\n",
                    MAX_LINE);
            abort();
        }
        config_print(c, sink);
        for (int i = 0; i < c->n_profiles; i++)
            if (config_profile_for(c, c->profiles[i].mode) == NULL)
                abort();
        config_profile_for(c, "MODE_15W");
    } else if (memchr(err, 0, sizeof err) == NULL) {
        abort(); /* an error without a terminated message */
    }
    free(c);
    return 0;
}
