#define _GNU_SOURCE
#include "v4l2.h"

#include <errno.h>
#include <libv4l2.h>
#include <poll.h>

static int lib_open(const char *path, int flags)
{
    return v4l2_open(path, flags);
}

static int lib_ioctl(int fd, unsigned long request, void *arg)
{
    return v4l2_ioctl(fd, request, arg);
}

static void *lib_mmap(void *start, size_t length, int prot, int flags, int fd, int64_t offset)
{
    return v4l2_mmap(start, length, prot, flags, fd, offset);
}

static int lib_poll(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, timeout_ms);
    if (rc > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLIN)) {
        errno = ENODEV;     /* what a vanished USB camera looks like */
        return -1;
    }
    return rc;
}

const struct cap_v4l2_ops cap_v4l2_libv4l2 = {
    .open = lib_open,
    .close = v4l2_close,
    .ioctl = lib_ioctl,
    .mmap = lib_mmap,
    .munmap = v4l2_munmap,
    .poll = lib_poll,
};
