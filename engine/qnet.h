/* The int8 runner behind enn_net (internal to engine/): net.c hands an int8 model's
 * context to these functions, which mirror the float runner's. */
#ifndef EMOTIOND_QNET_H
#define EMOTIOND_QNET_H

#include "kernels.h"
#include "net.h"

struct qnet;
/* One conv's share of a plan: packed weights, biases with the input zero point folded in,
 * requantisation scales, and where its kernel may sum in int16. */
struct qpack {
    int8_t *packed;
    int32_t *bias;
    float *scale;
    uint32_t *order;      /* the packed steps' order (enn_qorder_steps) */
    size_t quad_steps;    /* enn_qconv_job.quad_steps, pairs */
    bool pairs;
    bool taps_in_lanes;   /* a one-channel input's taps in its lanes (qnet.c) */
};

/* Packs every conv of an int8 model (*bytes grows by what it holds). */
int qnet_pack(const struct enn_model *m, struct qpack **out, size_t *bytes, char *err,
              size_t errlen);
void qnet_pack_free(const struct enn_model *m, struct qpack *packs);
int qnet_create(const struct enn_model *m, const struct enn_kernels *kern,
                const struct qpack *packs, struct qnet **out, char *err, size_t errlen);
void qnet_free(struct qnet *q);
int qnet_resize(struct qnet *q, int height, int width, char *err, size_t errlen);
int qnet_keep_values(struct qnet *q, char *err, size_t errlen);
struct enn_shape qnet_input_shape(const struct qnet *q);
float *qnet_input(struct qnet *q, size_t *row, size_t *plane);
void qnet_forward(struct qnet *q);
struct enn_view qnet_output(const struct qnet *q, int index);
void qnet_value(const struct qnet *q, int id, float *dst);
size_t qnet_memory(const struct qnet *q);

/* A dense layer on float vectors, shared with the float runner: dst[o] = bias[o] +
 * w[o] . (sum of the inputs), then ReLU if asked. */
void enn_dense_forward(const struct enn_node *n, const float *const *inputs, float *dst);

#endif
