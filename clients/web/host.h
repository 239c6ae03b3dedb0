/* The guard against DNS rebinding: a web page elsewhere may point a name of its own at
 * 127.0.0.1 and then read the dashboard as if it were its own origin. The browser sends
 * that name as the Host header, so only names the dashboard is known by are served:
 * the bind address, localhost, 127.0.0.1, [::1], and the configured allowed_hosts. */
#ifndef EMOTIOND_WEB_HOST_H
#define EMOTIOND_WEB_HOST_H

#include <stdbool.h>

/* Whether a Host header value ("name", "name:port", "1.2.3.4:port", "[v6]:port") names
 * this server: its host part, compared without case, is bind (an address as configured),
 * localhost, 127.0.0.1, ::1, or one of allowed (comma-separated, blanks around entries
 * ignored; an IPv6 entry with or without brackets). The port is not compared. */
bool host_allowed(const char *host, const char *bind, const char *allowed);

#endif
