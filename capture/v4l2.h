/* The calls the camera code makes on a V4L2 device, as a table: libv4l2 in production
 * (format conversion and vendor quirks for free), a fake device in tests, so tests
 * drive the real capture code. */
#ifndef EMOTIOND_V4L2_H
#define EMOTIOND_V4L2_H

#include <stddef.h>
#include <stdint.h>

struct cap_v4l2_ops {
    int (*open)(const char *path, int flags);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long request, void *arg);
    void *(*mmap)(void *start, size_t length, int prot, int flags, int fd, int64_t offset);
    int (*munmap)(void *start, size_t length);
    /* Waits for a frame: > 0 ready, 0 timed out, -1 error (errno set). */
    int (*poll)(int fd, int timeout_ms);
};

extern const struct cap_v4l2_ops cap_v4l2_libv4l2;

#endif
