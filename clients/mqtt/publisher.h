/* The broker's side of the bridge: one libmosquitto client run from the bridge's own
 * poll loop (no thread), so the daemon's socket and the broker never wait for each
 * other. It reconnects with exponential backoff (1 s, doubling up to reconnect_max_s)
 * and sets the last will. At most PUB_WINDOW messages are handed to libmosquitto
 * unacknowledged: the bridge's bounded queue, not libmosquitto's unbounded one, holds the
 * rest. A refusal for bad credentials is final (PUB_FATAL), never retried in a loop. */
#ifndef EMOTIOND_MQTT_PUBLISHER_H
#define EMOTIOND_MQTT_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define PUB_WINDOW 256

enum pub_event { PUB_NONE, PUB_UP, PUB_FATAL };

struct publisher;

/* will_topic gets "offline" (retained) from the broker if the bridge vanishes. */
struct publisher *pub_new(const struct mqtt_options *o, const char *will_topic, char *err,
                          size_t errlen);
void pub_free(struct publisher *p);
/* The socket to poll (-1 while there is none), and whether to poll it for writing. */
int pub_fd(struct publisher *p);
bool pub_want_write(struct publisher *p);
/* Connects when due, reads, writes, keeps alive; now is CLOCK_MONOTONIC seconds.
 * PUB_UP once per new connection (publish the retained state then); PUB_FATAL with err
 * when the broker refused the bridge for good. */
enum pub_event pub_service(struct publisher *p, double now, char *err, size_t errlen);
/* Seconds until pub_service has something to do without I/O (a reconnection, a ping). */
double pub_timeout(const struct publisher *p, double now);
bool pub_up(const struct publisher *p);
/* Room for one more message now (connected, window not full). */
bool pub_ready(const struct publisher *p);
/* 0, or -1 when it could not be handed over (then keep it and retry later). */
int pub_send(struct publisher *p, const char *topic, const void *payload, size_t len,
             bool retain);
/* Messages handed over and not yet acknowledged (sent, for QoS 0). */
int pub_inflight(const struct publisher *p);
uint64_t pub_connects(const struct publisher *p);
/* A clean DISCONNECT (the broker then discards the will). */
void pub_disconnect(struct publisher *p);

#endif
