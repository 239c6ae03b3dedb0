/* emotionctl's commands that talk to a running emotiond over its socket. */
#ifndef EMOTIOND_CTL_CLIENT_H
#define EMOTIOND_CTL_CLIENT_H

/* emotionctl watch [--json] [--count N] [--retry] [--socket PATH]: one readable line per
 * face per frame (or the raw messages), until the daemon goes away (with --retry: it is
 * reconnected to, every second) or N frames were shown. */
int ctl_watch(const char *socket_path, int argc, char **argv);
/* emotionctl status [--json] [--socket PATH]: the latest telemetry as a table. */
int ctl_status(const char *socket_path, int argc, char **argv);

#endif
