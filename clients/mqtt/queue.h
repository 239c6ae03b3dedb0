/* The bridge's outgoing queue: bounded, in the order messages were pushed. When it is
 * full, per-frame messages (faces, telemetry) go first, the oldest of them, so that a
 * broker outage costs live detail but keeps the summaries and label changes, which are
 * what dashboards and alerts are built on; those are dropped only when nothing else is
 * left, oldest first. Every drop is counted. No I/O: unit-tested alone. */
#ifndef EMOTIOND_MQTT_QUEUE_H
#define EMOTIOND_MQTT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bq_class { BQ_KEEP, BQ_FRAME };   /* summaries and events; per-frame messages */

struct bq_msg {
    char *topic, *payload;   /* owned by the queue while queued (malloc'd) */
    size_t len;
    bool retain;
};

struct bq_stats {
    uint64_t pushed, dropped_frame, dropped_keep;
    size_t length, length_keep;
};

struct bqueue;

struct bqueue *bq_new(size_t capacity);
void bq_free(struct bqueue *q);
/* Takes msg (freed when dropped). Returns how many messages were dropped to make room,
 * the new one included: 0 or 1. */
int bq_push(struct bqueue *q, enum bq_class cls, struct bq_msg msg);
/* The oldest message, or NULL when empty; it stays queued until bq_pop. */
const struct bq_msg *bq_front(const struct bqueue *q);
/* Frees the oldest message. */
void bq_pop(struct bqueue *q);
struct bq_stats bq_stats(const struct bqueue *q);

#endif
