#define _GNU_SOURCE
#include "selfstat.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long selfstat_parse_rss_kb(const char *status)
{
    for (const char *line = status; line && *line;) {
        if (!strncmp(line, "VmRSS:", 6)) {
            char *end;
            long kb = strtol(line + 6, &end, 10);
            return end != line + 6 && kb >= 0 && !strncmp(end, " kB", 3) ? kb : -1;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

long selfstat_rss_kb(void)
{
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);   /* VmRSS is in the first 2 KB */
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    return selfstat_parse_rss_kb(text);
}
