#define _GNU_SOURCE
#include "discovery.h"
#include "textsize.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void sensor(const struct mqtt_options *o, json_t *device, const char *key,
                   const char *name, const char *template,
                   void (*fn)(void *, const char *, json_t *), void *user)
{
    char topic[512], uid[160], status[TEXT_WHY], state[TEXT_WHY], full[160];
    snprintf(uid, sizeof uid, "emotiond_%s_%s", o->node_id, key);
    snprintf(topic, sizeof topic, "%s/sensor/%s/%s/config", o->ha_prefix, o->node_id, uid);
    snprintf(status, sizeof status, "%s/status", o->prefix);
    snprintf(state, sizeof state, "%s/summary", o->prefix);
    snprintf(full, sizeof full, "%s", name);
    json_t *p = json_pack("{ss ss ss ss ss ss ss ss ss sO}", "name", full, "unique_id", uid,
                          "object_id", uid, "state_topic", state, "value_template", template,
                          "unit_of_measurement", "faces", "state_class", "measurement",
                          "availability_topic", status, "icon", "mdi:emoticon-outline",
                          "device", device);
    json_object_set_new(p, "payload_available", json_string("online"));
    json_object_set_new(p, "payload_not_available", json_string("offline"));
    fn(user, topic, p);
    json_decref(p);
}

void ha_discovery(const struct mqtt_options *o, json_t *hello,
                  void (*fn)(void *user, const char *topic, json_t *payload), void *user)
{
    char ident[96], devname[96];
    snprintf(ident, sizeof ident, "emotiond_%s", o->node_id);
    snprintf(devname, sizeof devname, "emotiond %s", o->hostname);
    const char *model = json_string_value(json_object_get(hello, "model"));
    const char *version = json_string_value(json_object_get(hello, "version"));
    json_t *device = json_pack("{s[s] ss ss ss ss}", "identifiers", ident, "name", devname,
                               "manufacturer", "emotiond", "model", model ? model : "emotiond",
                               "sw_version", version ? version : "");
    sensor(o, device, "faces", "Faces", "{{ value_json.faces }}", fn, user);
    json_t *classes = json_object_get(hello, "classes"), *c;
    size_t i;
    json_array_foreach(classes, i, c) {
        const char *label = json_string_value(c);
        /* labels come from the daemon: only plain names make topics and templates */
        bool plain = label && *label && strlen(label) < 32;
        for (const char *s = label; plain && *s; s++)
            plain = islower((unsigned char)*s) || *s == '_';
        if (!plain)
            continue;
        char template[128], name[64];
        snprintf(template, sizeof template, "{{ value_json.labels.%s | default(0) }}", label);
        snprintf(name, sizeof name, "%c%s", toupper((unsigned char)label[0]), label + 1);
        sensor(o, device, label, name, template, fn, user);
    }
    json_decref(device);
}
