#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sse_queue {
    size_t cap, head, len;       /* a ring: bytes [head, head + len) modulo cap */
    uint64_t dropped, unreported;
    char buf[];
};

struct sse_queue *sse_new(size_t capacity)
{
    struct sse_queue *q = malloc(sizeof *q + capacity);
    if (q)
        *q = (struct sse_queue){.cap = capacity};
    return q;
}

void sse_free(struct sse_queue *q)
{
    free(q);
}

static void put(struct sse_queue *q, const char *bytes, size_t n)
{
    size_t tail = (q->head + q->len) % q->cap, first = q->cap - tail < n ? q->cap - tail : n;
    memcpy(q->buf + tail, bytes, first);
    memcpy(q->buf, bytes + first, n - first);
    q->len += n;
}

/* The length of the line starting at text (up to a line break or the end), and the
 * length of the break after it (0 at the end, 1 or 2). */
static size_t line_at(const char *text, size_t len, size_t *brk)
{
    size_t n = 0;
    while (n < len && text[n] != '\n' && text[n] != '\r')
        n++;
    *brk = n == len ? 0 : text[n] == '\r' && n + 1 < len && text[n + 1] == '\n' ? 2 : 1;
    return n;
}

/* Every line of text becomes "data: LINE\n"; a blank line ends the event. A break at the
 * very end leaves an empty last line, so the browser gets the text back exactly. */
static size_t framed_size(const char *text, size_t len)
{
    size_t size = 1, at = 0, brk;
    for (;;) {
        size_t n = line_at(text + at, len - at, &brk);
        size += 6 + n + 1;
        if (!brk)
            return size;
        at += n + brk;
    }
}

static bool push_framed(struct sse_queue *q, const char *text, size_t len)
{
    if (framed_size(text, len) > q->cap - q->len)
        return false;
    size_t at = 0, brk;
    for (;;) {
        size_t n = line_at(text + at, len - at, &brk);
        put(q, "data: ", 6);
        put(q, text + at, n);
        put(q, "\n", 1);
        if (!brk)
            break;
        at += n + brk;
    }
    put(q, "\n", 1);
    return true;
}

/* Tells of earlier drops before anything else is queued: false if that did not fit
 * (then the message is dropped too, so that nothing overtakes the notice). */
static bool report_drops(struct sse_queue *q)
{
    if (!q->unreported)
        return true;
    char notice[96];
    int n = snprintf(notice, sizeof notice, "{\"type\":\"dropped\",\"count\":%llu,\"total\":%llu}",
                     (unsigned long long)q->unreported, (unsigned long long)q->dropped);
    if (!push_framed(q, notice, (size_t)n))
        return false;
    q->unreported = 0;
    return true;
}

static bool dropped(struct sse_queue *q)
{
    q->dropped++;
    q->unreported++;
    return false;
}

bool sse_push(struct sse_queue *q, const char *text, size_t len)
{
    if (!report_drops(q) || !push_framed(q, text, len))
        return dropped(q);
    return true;
}

bool sse_push_raw(struct sse_queue *q, const char *bytes, size_t len)
{
    if (!report_drops(q) || len > q->cap - q->len)
        return dropped(q);
    put(q, bytes, len);
    return true;
}

size_t sse_take(struct sse_queue *q, char *buf, size_t max)
{
    size_t n = q->len < max ? q->len : max;
    if (!n)
        return 0;
    size_t first = q->cap - q->head < n ? q->cap - q->head : n;
    memcpy(buf, q->buf + q->head, first);
    memcpy(buf + first, q->buf, n - first);
    q->head = (q->head + n) % q->cap;
    q->len -= n;
    if (!q->len)
        q->head = 0;
    return n;
}

size_t sse_pending(const struct sse_queue *q)
{
    return q->len;
}

uint64_t sse_dropped(const struct sse_queue *q)
{
    return q->dropped;
}
