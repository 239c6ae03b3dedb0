/* emotiond-mqtt's settings: the [mqtt] section of the config (config/config.h) and
 * [daemon] socket, with the flags over them, resolved into what the bridge runs with:
 * the broker URL split, the hostname defaults filled in, the password read from its
 * file, the CA file checked. Every error names the key and the problem. */
#ifndef EMOTIOND_MQTT_OPTIONS_H
#define EMOTIOND_MQTT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct mqtt_options {
    char socket[CONFIG_STR];
    char broker[CONFIG_STR];        /* as configured, for messages */
    char host[CONFIG_STR];
    int port;
    bool tls;
    char client_id[128], username[128], password[256], ca_file[CONFIG_STR];
    char prefix[CONFIG_STR], ha_prefix[128], node_id[64], hostname[64];
    int qos, keepalive_s, queue_size, log_level;
    double faces_interval_s, summary_s, reconnect_max_s;
    bool telemetry, homeassistant;
};

/* Splits mqtt://HOST[:PORT] or mqtts://HOST[:PORT] ([IPv6] in brackets). */
int mqtt_parse_url(const char *url, char *host, size_t hostlen, int *port, bool *tls,
                   char *err, size_t errlen);
/* From an effective configuration; origin names where it came from in errors. */
int mqtt_options_resolve(const struct config *c, const char *origin, struct mqtt_options *o,
                         char *err, size_t errlen);

#endif
