/* The engine benchmark's XNNPACK peer: a parsed classifier (struct enn_model) rebuilt as
 * an XNNPACK subgraph (NHWC, batch 1, no thread pool: one thread) and run through
 * XNNPACK's runtime. A float32 model becomes an fp32 graph; an int8 model (format 2.1)
 * a qs8 graph with the model's own scales and zero points and its per-output-channel
 * int8 weights (XNNPACK's channelwise "qc8" convolution). Mapping and limits:
 * xnnpack_peer.c. In a build without XNNPACK, xpeer_create fails with a message saying
 * so, and nothing else is reached. */
#ifndef EMOTIOND_XNNPACK_PEER_H
#define EMOTIOND_XNNPACK_PEER_H

#include <stddef.h>

#include "model.h"

struct xpeer;

/* Whether this build has XNNPACK at all. */
int xpeer_built(void);

/* Builds the graph and the runtime (weights packed here, outside any timing). The model
 * must outlive the peer. Returns NULL with a message in err for models the peer cannot
 * express (detectors: max pool, upsample, sigmoid, float map outputs). */
struct xpeer *xpeer_create(const struct enn_model *m, char *err, size_t errlen);
void xpeer_free(struct xpeer *p);

/* "fp32" or "qs8". */
const char *xpeer_precision(const struct xpeer *p);

/* Copies one normalised input [c][h][w] (what enn_net_run takes) into the graph's NHWC
 * input buffer. Not part of what the benchmark times (for one channel it is a copy). */
void xpeer_set_input(struct xpeer *p, const float *input);

/* One inference on the input set last: xnn_invoke_runtime, nothing else. An int8 graph
 * quantises the float input itself (a Convert node, as enn_net_run does). Returns 0, or
 * -1 with err. */
int xpeer_run(struct xpeer *p, char *err, size_t errlen);

/* The logits of the last run (n_classes floats). */
const float *xpeer_logits(const struct xpeer *p);

#endif
