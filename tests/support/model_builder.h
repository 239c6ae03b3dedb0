/* Writes .enn model files in memory, for tests that need models of chosen shapes or
 * deliberately broken ones. Mirrors tools/train/enn.py. */
#ifndef EMOTIOND_TEST_MODEL_BUILDER_H
#define EMOTIOND_TEST_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

struct mb {
    uint8_t *data;
    size_t len, cap;
    size_t nodes_at;      /* offset of the node count, patched by mb_finish */
    int n_nodes;
    int version;          /* 1, or 2 after mb_begin_v2 */
};

void mb_begin(struct mb *b, const char *name, int c, int h, int w, int n_classes,
              const char *const *classes);
/* A version 2 file: mb_conv writes groups = 1; the calls below need it. */
void mb_begin_v2(struct mb *b, const char *name, int c, int h, int w, int n_classes,
                 const char *const *classes);
/* flags: 1 ReLU, 2 sigmoid. weights [out_c][in_c / groups][k][k]. */
void mb_conv_g(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
               int stride, int groups, int flags, const float *weights, const float *bias);
void mb_maxpool(struct mb *b, const int *inputs, int n_inputs);
void mb_upsample(struct mb *b, const int *inputs, int n_inputs);
/* Version 2.1, for int8 models: mb_qconv for every conv; after mb_outputs, mb_u8(b, 1)
 * (precision int8), then mb_qparams for every value and every summed input. */
void mb_begin_v21(struct mb *b, const char *name, int c, int h, int w, int n_classes,
                  const char *const *classes);
void mb_qconv(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
              int stride, int groups, int flags, const int8_t *weights, const float *wscale,
              const int32_t *bias);
void mb_qparams(struct mb *b, int n, const float *scales, const int *zeros);
/* The output list (after the last node, before mb_finish). */
void mb_outputs(struct mb *b, int n, const char *const *names, const int *values);
void mb_conv(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
             int stride, int relu, const float *weights, const float *bias);
void mb_gap(struct mb *b, const int *inputs, int n_inputs);
void mb_dense(struct mb *b, int input, int in_c, int out_c, const float *weights,
              const float *bias);
/* Writes node count, payload length and CRC. */
void mb_finish(struct mb *b);
/* Recomputes length and CRC after a test edited the payload. */
void mb_reseal(uint8_t *data, size_t len);
void mb_free(struct mb *b);

/* Raw appends, for hand-made broken nodes. */
void mb_u8(struct mb *b, unsigned v);
void mb_u16(struct mb *b, unsigned v);
void mb_u32(struct mb *b, uint32_t v);
void mb_f32(struct mb *b, float v);

/* Reads a whole file; NULL if it cannot. */
uint8_t *read_file(const char *path, size_t *len);

#endif
