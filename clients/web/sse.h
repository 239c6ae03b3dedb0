/* One browser's event stream: the daemon's messages framed as server-sent events
 * (text/event-stream: "data: LINE" per line, then a blank line) in a bounded byte queue
 * that the HTTP side drains as the browser reads. A message that does not fit whole is
 * dropped for this stream alone and counted, never queued in part; the next message
 * that fits is preceded by {"type":"dropped","count":N,"total":T}, as the daemon tells
 * its own slow clients. Nothing is allocated after sse_new. */
#ifndef EMOTIOND_WEB_SSE_H
#define EMOTIOND_WEB_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sse_queue;

/* A queue of capacity bytes (framing included); NULL when out of memory. */
struct sse_queue *sse_new(size_t capacity);
void sse_free(struct sse_queue *q);
/* Frames text as one event and queues it: true, or false when it was dropped (counted).
 * Line breaks in text (\n, \r\n, \r) become separate data lines, so no text can end
 * the event early or inject fields. */
bool sse_push(struct sse_queue *q, const char *text, size_t len);
/* Queues bytes as they are (a field such as "retry: 2000\n\n", or a ": comment\n\n"
 * keepalive); the caller frames them. Same rule: whole, or dropped. */
bool sse_push_raw(struct sse_queue *q, const char *bytes, size_t len);
/* Moves up to max queued bytes into buf, oldest first; how many (0: nothing queued). */
size_t sse_take(struct sse_queue *q, char *buf, size_t max);
size_t sse_pending(const struct sse_queue *q);
/* Messages dropped since the stream began. */
uint64_t sse_dropped(const struct sse_queue *q);

#endif
