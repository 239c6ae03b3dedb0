#define _GNU_SOURCE
#include "ctl_connect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_connect(const char *path, bool nonblock, char *err, size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(e),
                 e == ENOENT || e == ECONNREFUSED ? " (is emotiond running?)"
                 : e == EACCES ? " (are you in the socket's group?)" : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}
