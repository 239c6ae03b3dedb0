/* The Unix socket server of protocol 1 (docs/protocol.md), on the daemon's event loop.
 * Newline-delimited JSON both ways. Each client has a bounded output buffer: a message
 * that does not fit is dropped for that client alone (counted, and the client is told
 * with a "dropped" message when it catches up), so a slow reader never delays the
 * pipeline or the other clients. Previews have a slot of their own beside it, one at a
 * time, so that they never take the room of a frame. Commands are parsed with jansson; bad ones get an
 * "error" and the connection stays; a line over 4 KiB or a flood closes it. A bounded
 * number of connections is accepted per loop turn, so churning clients cannot starve
 * the loop; an optional limit per user, and an idle timeout for clients subscribed to
 * nothing, keep slots for the clients that use them. */
#ifndef EMOTIOND_SERVER_H
#define EMOTIOND_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "json_out.h"
#include "loop.h"
#include "protocol.h"

struct srv_callbacks {
    /* Write the hello message (one JSON object, no newline). */
    void (*hello)(void *user, struct json_out *j);
    /* Write the answer to {"cmd":"status"}. */
    void (*status)(void *user, struct json_out *j);
    void *user;
};

struct srv_config {
    const char *path;          /* socket path (created; a stale socket is replaced) */
    const char *group;         /* group of the socket file; NULL or "" leaves it */
    int listen_fd;             /* >= 0: a socket systemd passed (not created, not removed) */
    int max_clients;
    int max_clients_per_uid;   /* 0: no limit per user */
    double idle_timeout_s;     /* close clients subscribed to nothing and silent this long;
                                  0: never */
    size_t client_buffer;      /* bytes of output queued per client (default 64 KiB) */
};

struct server;

int srv_open(struct ev_loop *loop, const struct srv_config *cfg, const struct srv_callbacks *cb,
             struct server **out, char *err, size_t errlen);
/* Queues one message (a JSON object without newline) for every client subscribed to
 * topic. Never blocks. */
void srv_broadcast(struct server *s, enum proto_topic topic, const char *msg, size_t len);
/* Clients subscribed to topic. */
int srv_subscribers(const struct server *s, enum proto_topic topic);
/* Queues a preview message for the clients subscribed to `preview`, each in its preview
 * slot beside its queue (docs/protocol.md, "Flow control"): skipped for a client whose
 * last preview is not yet written whole or whose queue is a quarter full. Counts both.
 * Never blocks. */
void srv_broadcast_preview(struct server *s, const char *msg, size_t len, unsigned *sent,
                           unsigned *skipped);
/* Sends a fresh hello to every client (the model changed, or [preview]). */
void srv_hello_all(struct server *s);
int srv_clients(const struct server *s);
/* Messages dropped for slow clients since start. */
uint64_t srv_dropped_total(const struct server *s);
/* Disconnects every client and removes the socket file if the server created it. */
void srv_close(struct server *s);

#endif
