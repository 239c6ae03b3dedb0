/* emotiond-web's HTTP side: libmicrohttpd driven from the program's own poll loop (one
 * thread, no locks). It serves GET and HEAD only (405 otherwise), the page's files from
 * memory (assets.h), /events (server-sent events, one bounded sse_queue per browser),
 * /preview.jpg (the latest camera thumbnail, shared by reference), /healthz (a JSON
 * object), and 404 for anything else. Before any of it, the Host header must name this
 * server (host.h), or 403.
 *
 * Bounded: max_clients connections, max_clients_per_ip from one address (more are closed
 * at once), max_streams event streams (one more gets 503), 32 KiB of memory per
 * connection (a longer request head gets 431), a connection idle for timeout_s is
 * closed, and so is one whose request has not arrived whole within timeout_s of its
 * first byte (slowloris). Every response carries a Content-Security-Policy that allows
 * only this origin, nosniff, no framing; events, the preview and /healthz are no-store. */
#ifndef EMOTIOND_WEB_SERVER_H
#define EMOTIOND_WEB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assets.h"
#include "options.h"
#include "preview.h"
#include "sse.h"

#define WEB_STREAM_QUEUE (64 * 1024)       /* bytes of events held per browser */
#define WEB_CONNECTION_MEMORY (32 * 1024)  /* libmicrohttpd's pool per connection */

/* What the server asks of the program. */
struct web_handlers {
    void *user;
    /* A new event stream: queue what a page needs first (hello, history, state). */
    void (*greet)(void *user, struct sse_queue *q);
    /* /healthz: a JSON object (malloc'd), or NULL. */
    char *(*status)(void *user);
    /* /preview.jpg: the latest picture with a reference (the server unrefs it) or NULL;
     * *expected says whether the daemon's preview is on (204 then, else 404). */
    struct preview_jpeg *(*preview)(void *user, bool *expected);
};

struct web_server_stats {
    unsigned connections, streams;
    uint64_t requests;          /* that reached the handler */
    uint64_t rejected;          /* 400 (a body), 403 (Host), 404, 405, 503 */
    uint64_t cut;               /* connections closed for a request too slow to arrive */
    uint64_t stream_drops;      /* events dropped for slow browsers since start */
};

struct web_server;

/* Listens on o's address; NULL with err (libmicrohttpd's reason) on failure. */
struct web_server *web_server_start(const struct web_options *o, const struct assets *a,
                                    const struct web_handlers *h, char *err, size_t errlen);
/* The descriptor to poll for input (libmicrohttpd's epoll set). */
int web_server_fd(const struct web_server *s);
/* Milliseconds until the server needs web_server_run without input, at most max. */
int web_server_timeout_ms(struct web_server *s, int max);
/* Does what is ready; now is mono_s(), for the request deadlines. */
void web_server_run(struct web_server *s, double now);
/* Queues one message (a JSON object's text) on every open stream, and wakes them. */
void web_server_broadcast(struct web_server *s, const char *text, size_t len);
void web_server_stats(const struct web_server *s, struct web_server_stats *out);
/* Ends every stream, closes every connection, stops listening, frees. */
void web_server_stop(struct web_server *s);

#endif
