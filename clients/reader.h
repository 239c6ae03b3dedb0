/* The daemon's side of a client program (emotiond-mqtt, emotiond-web): a non-blocking
 * client of emotiond's socket (protocol 1, docs/protocol.md) that hands over each message
 * as a parsed object. Garbage (not JSON, not an object, no "type", a line over
 * READER_LINE_MAX) is logged, counted and skipped; the connection stays.
 *
 * Reconnection backoff: after each failed try, and after each connection that ends, the
 * next try waits READER_RETRY_MIN_S, doubling up to READER_RETRY_MAX_S. Only a working
 * session resets it: one that got the daemon's hello and lived READER_WORKING_S or more.
 * A socket that accepts and closes at once (a daemon failing right after accept, or
 * something else on its path) is then retried ever more slowly, not twice a second. */
#ifndef EMOTIOND_CLIENT_READER_H
#define EMOTIOND_CLIENT_READER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define READER_LINE_MAX (256 * 1024)
#define READER_RETRY_MIN_S 0.5
#define READER_RETRY_MAX_S 5.0
/* long enough that a daemon crashing soon after its hello (a bad camera, a bad model)
 * is retried with backoff; short against a daemon's normal life */
#define READER_WORKING_S 3.0

struct reader;

typedef void (*reader_fn)(void *user, json_t *msg, const char *type, const char *line,
                          size_t len);

struct reader *reader_new(const char *path);
void reader_free(struct reader *r);
/* Connects (non-blocking); 0, or -1 with err saying why (the next try is then due after
 * the backoff). */
int reader_connect(struct reader *r, char *err, size_t errlen);
/* Seconds from now until a try is due: 0 when due now, or connected (no try needed:
 * check reader_fd first). */
double reader_retry_in(const struct reader *r, double now);
/* The connected socket, or -1. */
int reader_fd(const struct reader *r);
/* Reads what has arrived and calls fn for each whole message (msg is freed after).
 * Returns 0, or -1 when the connection ended (closed, with err saying why). */
int reader_read(struct reader *r, reader_fn fn, void *user, char *err, size_t errlen);
/* Ends the connection (a program giving up on it counts as a session that ended). */
void reader_close(struct reader *r);
/* Lines skipped as garbage since start. */
uint64_t reader_garbage(const struct reader *r);

#endif
