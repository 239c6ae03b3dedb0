/* The preview stage (the `preview` topic, docs/protocol.md): takes a published frame at
 * most [preview] fps times a second, while a preview is wanted, and makes its message on
 * a thread of its own; the event loop then hands the message to the server.
 *
 * Why a thread: the publisher runs on the event loop, which also serves every client;
 * shrinking, drawing and encoding there (0.7 ms at 320 px gray on a 2-core x86 box, 4-5
 * at 640 px colour, several times that on an ARM core) would delay every frame message
 * behind it. The hand-off is one slot: a
 * frame due while the previous preview is still being made is not taken (counted
 * `busy`), so nothing queues. The pipeline keeps frames with their results only from
 * shortly before a preview is due until one is taken (preview_stage_wants_frames). The thread holds a reference to the frame (no copy) only
 * until it is shrunk, then gives it back to the pipeline's pool; the pool has a frame
 * for it, so the camera never waits. The thread runs at a lower priority (nice 10) than
 * the pipeline: on a busy box previews thin out, frames do not.
 *
 * Every function but the thread's own is for the event loop's thread. */
#ifndef EMOTIOND_PREVIEW_STAGE_H
#define EMOTIOND_PREVIEW_STAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "pipeline.h"
#include "preview.h"
#include "protocol.h"

struct preview_settings {
    bool enabled;
    int width;
    double fps;
    int quality;
};

struct preview_stage;

/* Nothing is allocated for pictures, and no thread started, until the first preview. */
int preview_stage_create(struct pipeline *pl, struct preview_stage **out, char *err,
                         size_t errlen);
/* [preview] as it is now (live on reload). */
void preview_stage_configure(struct preview_stage *s, const struct preview_settings *set);
bool preview_stage_enabled(const struct preview_stage *s);
/* Whether results should keep their frames now (pl_keep_frames): enabled, the slot free
 * and the next preview due within a short lead, so that only the few frames around each
 * preview are held back from the pool. The caller adds: and a client subscribes. */
bool preview_stage_wants_frames(struct preview_stage *s, int64_t now_ns);
/* Readable (eventfd) when a preview message is ready. */
int preview_stage_event_fd(const struct preview_stage *s);
/* Every published result, in frame order: its frame (r->frame, kept by the pipeline while
 * previews are wanted) is taken for a preview when one is due and the slot is free; a
 * preview due while the slot is taken is not made (counted busy). */
void preview_stage_offer(struct preview_stage *s, struct pl_result *r,
                         const struct enn_model *model);
/* The message made, or NULL (none ready, or over the size cap even at quality 10);
 * valid until preview_stage_done. Clears the event fd. */
const char *preview_stage_result(struct preview_stage *s, size_t *len);
/* The result was handed on: sent to that many clients, skipped for that many. Frees the
 * slot for the next preview. */
void preview_stage_done(struct preview_stage *s, unsigned sent, unsigned skipped);
/* Telemetry's preview figures for the window since the last call (then reset). */
void preview_stage_stats(struct preview_stage *s, struct proto_preview_stats *out);
/* Stops the thread and gives back a frame it holds; before pl_stop. */
void preview_stage_free(struct preview_stage *s);

/* What the thread does after the shrink (preview_shrink on r): draws the faces (boxes in
 * frame pixels), encodes under the size cap and writes the preview message into msg
 * (PROTO_PREVIEW_MAX + 1 bytes). Returns its length; 0 when it is over the cap even at
 * quality 10; -1 with err. *jpeg_bytes: the size of the last JPEG made. Also the
 * benchmark's (tools/bench/bench_preview.c). */
long preview_message(struct preview_renderer *r, uint64_t seq, double ts_unix, int frame_w,
                     int frame_h, const struct preview_face *faces, int n, int quality,
                     char *msg, size_t *jpeg_bytes, char *err, size_t errlen);

#endif
