/* The daemon's camera preview (the `preview` topic, docs/protocol.md): the latest
 * thumbnail, a JPEG with boxes and labels drawn by the daemon, decoded from the message's
 * base64 and held in memory only (frames never touch the disk). HTTP responses share it
 * by reference, so a slow browser keeps no copy of its own. The page gets the message
 * without its picture and fetches /preview.jpg. */
#ifndef EMOTIOND_WEB_PREVIEW_H
#define EMOTIOND_WEB_PREVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct preview_jpeg {
    unsigned refs;
    size_t len;
    unsigned char data[];
};

enum preview_state {
    PREVIEW_UNKNOWN,      /* no hello yet, or a daemon whose hello has no "preview" */
    PREVIEW_DISABLED,     /* [preview] enabled = false in the daemon's config */
    PREVIEW_ENABLED,
};

struct preview {
    enum preview_state state;
    int width;            /* the hello's thumbnail width and rate, when enabled */
    double fps;
    struct preview_jpeg *jpeg;   /* the latest, or NULL */
    uint64_t received, bad;
};

/* "unknown", "disabled", "enabled". */
const char *preview_state_name(enum preview_state s);
/* The hello's "preview" object: enabled or not (unknown when absent). */
void preview_hello(struct preview *p, json_t *hello);
/* A preview message: its JPEG becomes the latest. Returns the message without "jpeg",
 * with "bytes" (the JPEG's size) added, for the page (a new object), or NULL with err
 * set when the message has no valid base64 JPEG (counted in bad; the latest stays). */
json_t *preview_take(struct preview *p, json_t *msg, char *err, size_t errlen);
/* The latest picture with one more reference (preview_unref it), or NULL. */
struct preview_jpeg *preview_ref(const struct preview *p);
void preview_unref(struct preview_jpeg *j);
/* Forgets the picture and the state (the daemon went away). */
void preview_clear(struct preview *p);

#endif
