#define _GNU_SOURCE
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "textsize.h"

int mqtt_parse_url(const char *url, char *host, size_t hostlen, int *port, bool *tls,
                   char *err, size_t errlen)
{
    const char *rest;
    if (!strncmp(url, "mqtt://", 7)) {
        *tls = false;
        rest = url + 7;
    } else if (!strncmp(url, "mqtts://", 8)) {
        *tls = true;
        rest = url + 8;
    } else {
        snprintf(err, errlen, "'%s' is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", url);
        return -1;
    }
    *port = *tls ? 8883 : 1883;
    const char *end = rest + strcspn(rest, "/"), *colon;
    if (*end && end[1]) {
        snprintf(err, errlen, "'%s': a broker URL has no path", url);
        return -1;
    }
    if (*rest == '[') {                       /* [IPv6]:PORT */
        const char *close = memchr(rest, ']', (size_t)(end - rest));
        if (!close) {
            snprintf(err, errlen, "'%s': unclosed '['", url);
            return -1;
        }
        snprintf(host, hostlen, "%.*s", (int)(close - rest - 1), rest + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(rest, ':', (size_t)(end - rest));
        snprintf(host, hostlen, "%.*s", (int)((colon ? colon : end) - rest), rest);
    }
    if (!*host) {
        snprintf(err, errlen, "'%s' names no host", url);
        return -1;
    }
    if (colon) {
        char *stop;
        errno = 0;
        long p = strtol(colon + 1, &stop, 10);
        if (errno || stop == colon + 1 || stop != end || p < 1 || p > 65535) {
            snprintf(err, errlen, "'%s': the port is not a number in 1..65535", url);
            return -1;
        }
        *port = (int)p;
    }
    return 0;
}

/* The first line of the file, read as config files are (a FIFO would block, a huge
 * file is no password file). */
static int read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 0004))
        log_warn("password file %s is readable by everyone; chmod 600 it", path);
    char *text = config_read_text(path, err, errlen);
    if (!text)
        return -1;
    text[strcspn(text, "\r\n")] = '\0';
    int rc = 0;
    if (!*text || strlen(text) >= outlen) {
        snprintf(err, errlen, "%s: %s", path, *text ? "password too long"
                                                    : "empty (the password is its first line)");
        rc = -1;
    } else {
        snprintf(out, outlen, "%s", text);
    }
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

/* Catches a wrong path or a file of the wrong kind before the first TLS handshake would
 * (whose OpenSSL message is harder to read). */
static int check_ca_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", path, f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    char line[256];
    bool pem = false;
    for (int i = 0; i < 100000 && !pem && fgets(line, sizeof line, f); i++)
        pem = strstr(line, "-----BEGIN CERTIFICATE-----") != NULL;
    fclose(f);
    if (!pem) {
        snprintf(err, errlen, "%s: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                 path);
        return -1;
    }
    return 0;
}

int mqtt_options_resolve(const struct config *c, const char *origin, struct mqtt_options *o,
                         char *err, size_t errlen)
{
    char why[TEXT_ERR];
    memset(o, 0, sizeof *o);
    snprintf(o->socket, sizeof o->socket, "%s", c->daemon.socket);
    snprintf(o->broker, sizeof o->broker, "%s", c->mqtt.broker);
    if (mqtt_parse_url(c->mqtt.broker, o->host, sizeof o->host, &o->port, &o->tls, why,
                       sizeof why)) {
        snprintf(err, errlen, "%s: [mqtt] broker: %s", origin, why);
        return -1;
    }
    if (gethostname(o->hostname, sizeof o->hostname) != 0 || !o->hostname[0])
        snprintf(o->hostname, sizeof o->hostname, "emotiond");
    o->hostname[sizeof o->hostname - 1] = '\0';
    /* MQTT topic levels and Home Assistant ids: no wildcards, separators or spaces */
    size_t n = 0;
    for (const char *p = o->hostname; *p && n + 1 < sizeof o->node_id; p++)
        o->node_id[n++] = isalnum((unsigned char)*p) || *p == '-' ? *p : '_';
    snprintf(o->client_id, sizeof o->client_id, "%s",
             c->mqtt.client_id[0] ? c->mqtt.client_id : o->hostname);
    if (c->mqtt.prefix[0])
        snprintf(o->prefix, sizeof o->prefix, "%s", c->mqtt.prefix);
    else
        snprintf(o->prefix, sizeof o->prefix, "emotiond/%s", o->node_id);
    size_t plen = strlen(o->prefix);
    while (plen > 1 && o->prefix[plen - 1] == '/')
        o->prefix[--plen] = '\0';
    if (strpbrk(o->prefix, "#+")) {
        snprintf(err, errlen, "%s: [mqtt] prefix: '%s' contains a wildcard (# or +)", origin,
                 o->prefix);
        return -1;
    }
    snprintf(o->username, sizeof o->username, "%s", c->mqtt.username);
    if (c->mqtt.password_file[0]) {
        if (!o->username[0]) {
            snprintf(err, errlen, "%s: [mqtt] password_file is set but username is not",
                     origin);
            return -1;
        }
        if (read_secret(c->mqtt.password_file, o->password, sizeof o->password, why,
                        sizeof why)) {
            snprintf(err, errlen, "%s: [mqtt] password_file: %s", origin, why);
            return -1;
        }
    }
    if (c->mqtt.ca_file[0]) {
        if (!o->tls) {
            snprintf(err, errlen, "%s: [mqtt] ca_file is set but the broker URL is not "
                     "mqtts://", origin);
            return -1;
        }
        if (check_ca_file(c->mqtt.ca_file, why, sizeof why)) {
            snprintf(err, errlen, "%s: [mqtt] ca_file: %s", origin, why);
            return -1;
        }
        snprintf(o->ca_file, sizeof o->ca_file, "%s", c->mqtt.ca_file);
    }
    snprintf(o->ha_prefix, sizeof o->ha_prefix, "%s", c->mqtt.homeassistant_prefix);
    o->qos = c->mqtt.qos;
    o->keepalive_s = c->mqtt.keepalive_s;
    o->queue_size = c->mqtt.queue_size;
    o->log_level = log_level_parse(c->mqtt.log_level);
    o->faces_interval_s = c->mqtt.faces_interval_s;
    o->summary_s = c->mqtt.summary_s;
    o->reconnect_max_s = c->mqtt.reconnect_max_s;
    o->telemetry = c->mqtt.telemetry;
    o->homeassistant = c->mqtt.homeassistant;
    return 0;
}
