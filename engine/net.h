/* Running a loaded model: one context per thread, all memory planned at creation, no
 * allocation per inference. */
#ifndef EMOTIOND_NET_H
#define EMOTIOND_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct enn_net;

/* A face box in frame pixels; a non-zero angle (radians) samples it turned by that much
 * around its centre (eyes level), see enn_crop_rotated. */
struct enn_box {
    float x, y, w, h;
    float angle;
};

struct enn_plan;

/* A plan is what every context of one model shares, read-only: the kernel set chosen by
 * enn_kernels_select (CPU features, or EMOTIOND_ISA) and the weights packed for it. Make
 * one per model and a context per thread from it (enn_net_create_shared), so that N
 * workers hold the weights once. The model must outlive the plan, the plan its
 * contexts. */
int enn_plan_create(const struct enn_model *model, struct enn_plan **out, char *err,
                    size_t errlen);
void enn_plan_free(struct enn_plan *plan);
const char *enn_plan_isa(const struct enn_plan *plan);
/* Bytes of packed weights. */
size_t enn_plan_memory(const struct enn_plan *plan);

/* A context: activations planned at creation, nothing allocated per run. */
int enn_net_create_shared(const struct enn_plan *plan, struct enn_net **out, char *err,
                          size_t errlen);
/* A context with a plan of its own (freed with it), for a single thread. */
int enn_net_create(const struct enn_model *model, struct enn_net **out, char *err,
                   size_t errlen);
void enn_net_free(struct enn_net *net);

const char *enn_net_isa(const struct enn_net *net);
const struct enn_model *enn_net_model(const struct enn_net *net);
/* Bytes this context and its plan hold (activations, tables, packed weights). */
size_t enn_net_memory(const struct enn_net *net);
/* Bytes this context holds on its own, without the plan's weights. */
size_t enn_net_context_memory(const struct enn_net *net);

/* One already-normalised input [c][h][w] -> n_classes logits and/or probabilities
 * (either may be NULL). Classifiers only (n_classes > 0). */
void enn_net_run(struct enn_net *net, const float *input, float *logits, float *probs);

/* Values as the engine holds them: element (c, y, x) is data[c * plane + y * row + x].
 * Valid until the next run or resize. */
struct enn_view {
    const float *data;
    struct enn_shape s;
    size_t row, plane;
};

/* Fully convolutional models (enn_model.any_size) run at other input sizes: re-plans for
 * height x width. Memory is reallocated only when the new size needs more than the net
 * holds, so alternating sizes costs nothing after the first of each. On failure returns
 * -1 with err and keeps the previous plan. */
int enn_net_resize(struct enn_net *net, int height, int width, char *err, size_t errlen);
struct enn_shape enn_net_input_shape(const struct enn_net *net);
/* Where the caller writes the next input, already normalised: (c, y, x) at
 * input[c * plane + y * row + x], for the shape enn_net_input_shape gives. Nothing
 * outside that shape may be written. */
float *enn_net_input(struct enn_net *net, size_t *row, size_t *plane);
/* Runs the graph on what enn_net_input holds. */
void enn_net_forward(struct enn_net *net);
/* Output index (0 .. model n_outputs - 1) of the last forward pass. */
struct enn_view enn_net_output(const struct enn_net *net, int index);

/* Buffers are shared between values whose lifetimes do not overlap. Keeping every value
 * instead lets enn_net_value read any of them after a run (tests, layer-by-layer
 * debugging); it re-plans, so call it before running. Returns 0 or -1 with err. */
int enn_net_keep_values(struct enn_net *net, char *err, size_t errlen);
/* Copies value id (0 = network input, k = node k) of the last run as [c][h][w]. Only
 * outputs and the input are certain to survive a run unless enn_net_keep_values. */
void enn_net_value(const struct enn_net *net, int id, float *dst);

/* Samples a box of an 8-bit grayscale frame (any row stride) to out_w x out_h as
 * enn_net_classify does before the network: turned by its angle when it has one,
 * edge pixels repeated outside the frame, each value (p / 255 - mean) / std. */
void enn_box_sample(const uint8_t *gray, int width, int height, size_t stride,
                    const struct enn_box *b, int out_w, int out_h, float mean, float std,
                    float *dst);

/* Crops each box out of an 8-bit grayscale frame (any row stride), resizes and
 * normalises it as the model says, and writes n_classes probabilities per box to
 * probs[i * n_classes ...]. Needs a single-channel model. With mirror averaging on, each
 * crop is also run mirrored left-right and the two probability vectors averaged: twice
 * the work, about a point more accuracy on FER2013 (docs/results.md). */
void enn_net_set_mirror(struct enn_net *net, bool on);
bool enn_net_mirror(const struct enn_net *net);
void enn_net_classify(struct enn_net *net, const uint8_t *gray, int width, int height,
                      size_t stride, const struct enn_box *boxes, int n_boxes, float *probs);

#endif
