/* Home Assistant MQTT discovery (off by default, [mqtt] homeassistant): one sensor per
 * label of the model, and one for faces, each reading its count from the summary topic,
 * all grouped as one device per host and unavailable when the bridge's status is
 * "offline". Builds the messages only; the bridge publishes them (retained). */
#ifndef EMOTIOND_MQTT_DISCOVERY_H
#define EMOTIOND_MQTT_DISCOVERY_H

#include <jansson.h>

#include "options.h"

/* Calls fn for each config message: its topic
 * (HA_PREFIX/sensor/NODE_ID/emotiond_LABEL/config) and payload. hello gives the labels
 * (its "classes"), the model and the daemon's version. */
void ha_discovery(const struct mqtt_options *o, json_t *hello,
                  void (*fn)(void *user, const char *topic, json_t *payload), void *user);

#endif
