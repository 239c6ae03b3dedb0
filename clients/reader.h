/* The daemon's side of a client program (emotiond-mqtt, emotiond-web): a non-blocking
 * client of emotiond's socket (protocol 1, docs/protocol.md) that hands over each message
 * as a parsed object. Garbage (not JSON, not an object, no "type", a line over
 * READER_LINE_MAX) is logged, counted and skipped; the connection stays. */
#ifndef EMOTIOND_CLIENT_READER_H
#define EMOTIOND_CLIENT_READER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define READER_LINE_MAX (256 * 1024)

struct reader;

typedef void (*reader_fn)(void *user, json_t *msg, const char *type, const char *line,
                          size_t len);

struct reader *reader_new(const char *path);
void reader_free(struct reader *r);
/* Connects (non-blocking); 0, or -1 with err saying why. */
int reader_connect(struct reader *r, char *err, size_t errlen);
/* The connected socket, or -1. */
int reader_fd(const struct reader *r);
/* Reads what has arrived and calls fn for each whole message (msg is freed after).
 * Returns 0, or -1 when the connection ended (closed, with err saying why). */
int reader_read(struct reader *r, reader_fn fn, void *user, char *err, size_t errlen);
void reader_close(struct reader *r);
/* Lines skipped as garbage since start. */
uint64_t reader_garbage(const struct reader *r);

#endif
