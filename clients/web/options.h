/* emotiond-web's settings: the [web] section of the config (config/config.h) and [daemon]
 * socket, with the flags over them, resolved into what the dashboard runs with: the
 * bind address as a socket address, the limits checked against each other, the page's
 * folder chosen. Every error names the key and the problem. */
#ifndef EMOTIOND_WEB_OPTIONS_H
#define EMOTIOND_WEB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

struct web_options {
    char socket[CONFIG_STR];
    char bind[64];                   /* as configured, for messages and the Host check */
    struct sockaddr_storage addr;    /* bind and port */
    socklen_t addrlen;
    bool ipv6, loopback;
    int port;
    char allowed_hosts[CONFIG_STR], web_root[CONFIG_STR];
    int max_clients, max_clients_per_ip, max_streams, timeout_s, log_level;
};

/* From an effective configuration; origin names where it came from in errors. When
 * web_root is the default path and holds no page, source_root (the source tree's copy,
 * for a build run in place; may be NULL) is used if it does. */
int web_options_resolve(const struct config *c, const char *origin, const char *source_root,
                        struct web_options *o, char *err, size_t errlen);

#endif
