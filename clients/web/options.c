#define _GNU_SOURCE
#include "options.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "assets.h"
#include "log.h"

#define WEB_ROOT_DEFAULT "/usr/share/emotiond/web"

/* A numeric address (no name lookup: the bind address must not depend on DNS). */
static int parse_bind(struct web_options *o)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&o->addr;
    memset(&o->addr, 0, sizeof o->addr);
    if (inet_pton(AF_INET, o->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)o->port);
        o->addrlen = sizeof *v4;
        o->ipv6 = false;
        o->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        return 0;
    }
    const char *text = o->bind;
    char inner[64];
    size_t n = strlen(text);
    if (n > 2 && text[0] == '[' && text[n - 1] == ']') {     /* [::1] as well as ::1 */
        snprintf(inner, sizeof inner, "%.*s", (int)(n - 2), text + 1);
        text = inner;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)o->port);
        o->addrlen = sizeof *v6;
        o->ipv6 = true;
        o->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
        return 0;
    }
    return -1;
}

/* Host names and addresses, comma-separated: letters, digits, . - _ : [ ] and blanks. */
static bool host_list_ok(const char *list)
{
    for (const char *p = list; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-_:[], ", *p))
            return false;
    return true;
}

int web_options_resolve(const struct config *c, const char *origin, const char *source_root,
                        struct web_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    snprintf(o->socket, sizeof o->socket, "%s", c->daemon.socket);
    snprintf(o->bind, sizeof o->bind, "%s", c->web.bind);
    o->port = c->web.port;
    if (parse_bind(o)) {
        snprintf(err, errlen, "%s: [web] bind: '%s' is not an IPv4 or IPv6 address (names are "
                 "not looked up)", origin, c->web.bind);
        return -1;
    }
    if (!host_list_ok(c->web.allowed_hosts)) {
        snprintf(err, errlen, "%s: [web] allowed_hosts: '%s' is not a comma-separated list of "
                 "host names or addresses", origin, c->web.allowed_hosts);
        return -1;
    }
    snprintf(o->allowed_hosts, sizeof o->allowed_hosts, "%s", c->web.allowed_hosts);
    o->max_clients = c->web.max_clients;
    o->max_clients_per_ip = c->web.max_clients_per_ip;
    o->max_streams = c->web.max_streams;
    if (o->max_clients_per_ip > o->max_clients) {
        snprintf(err, errlen, "%s: [web] max_clients_per_ip (%d) is more than max_clients (%d)",
                 origin, o->max_clients_per_ip, o->max_clients);
        return -1;
    }
    if (o->max_streams >= o->max_clients_per_ip) {
        snprintf(err, errlen, "%s: [web] max_streams (%d) must be less than max_clients_per_ip "
                 "(%d): open dashboards would leave no connection for loading the page",
                 origin, o->max_streams, o->max_clients_per_ip);
        return -1;
    }
    o->timeout_s = c->web.timeout_s;
    o->log_level = log_level_parse(c->web.log_level);
    snprintf(o->web_root, sizeof o->web_root, "%s", c->web.web_root);
    if (!strcmp(o->web_root, WEB_ROOT_DEFAULT) && !assets_present(o->web_root) && source_root &&
        assets_present(source_root))
        snprintf(o->web_root, sizeof o->web_root, "%s", source_root);
    return 0;
}
