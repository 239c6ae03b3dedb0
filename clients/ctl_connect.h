/* Connecting to emotiond's socket as a client (emotionctl, emotiond-mqtt): the error
 * names the path and guesses the usual cause (daemon not running, not in the group). */
#ifndef EMOTIOND_CTL_CONNECT_H
#define EMOTIOND_CTL_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

/* A connected AF_UNIX stream socket (close-on-exec; non-blocking when asked), or -1 with
 * err set ("cannot connect to PATH: REASON (HINT)"). */
int ctl_connect(const char *path, bool nonblock, char *err, size_t errlen);

#endif
