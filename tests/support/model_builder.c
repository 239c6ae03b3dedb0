#include "model_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"

static void put(struct mb *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            abort();
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mb_u8(struct mb *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}

void mb_u16(struct mb *b, unsigned v)
{
    mb_u8(b, v & 0xff);
    mb_u8(b, v >> 8);
}

void mb_u32(struct mb *b, uint32_t v)
{
    mb_u16(b, v & 0xffff);
    mb_u16(b, v >> 16);
}

void mb_f32(struct mb *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    mb_u32(b, u);
}

static void str(struct mb *b, const char *s)
{
    mb_u16(b, (unsigned)strlen(s));
    put(b, s, strlen(s));
}

static void tensor(struct mb *b, const float *v, size_t n)
{
    mb_u8(b, 0);
    mb_u8(b, 0);
    mb_u16(b, 0);
    mb_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        mb_f32(b, v[i]);
}

void mb_begin(struct mb *b, const char *name, int c, int h, int w, int n_classes,
              const char *const *classes)
{
    memset(b, 0, sizeof *b);
    b->version = 1;
    put(b, "ENNM", 4);
    mb_u16(b, 1);
    mb_u16(b, 0);
    mb_u32(b, 0);
    mb_u32(b, 0);
    str(b, name);
    mb_u16(b, (unsigned)c);
    mb_u16(b, (unsigned)h);
    mb_u16(b, (unsigned)w);
    mb_f32(b, 0.5f);
    mb_f32(b, 0.25f);
    mb_u16(b, (unsigned)n_classes);
    for (int i = 0; i < n_classes; i++)
        str(b, classes[i]);
    b->nodes_at = b->len;
    mb_u16(b, 0);
}

void mb_begin_v2(struct mb *b, const char *name, int c, int h, int w, int n_classes,
                 const char *const *classes)
{
    mb_begin(b, name, c, h, w, n_classes, classes);
    b->version = 2;
    b->data[4] = 2;
}

static void node_head(struct mb *b, int op, int flags, const int *inputs, int n)
{
    mb_u8(b, (unsigned)op);
    mb_u8(b, (unsigned)flags);
    mb_u16(b, (unsigned)n);
    for (int i = 0; i < n; i++)
        mb_u16(b, (unsigned)inputs[i]);
    b->n_nodes++;
}

void mb_conv(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
             int stride, int relu, const float *weights, const float *bias)
{
    if (b->version >= 2) {
        mb_conv_g(b, inputs, n_inputs, in_c, out_c, kernel, stride, 1, relu ? 1 : 0, weights,
                  bias);
        return;
    }
    node_head(b, 1, relu ? 1 : 0, inputs, n_inputs);
    mb_u16(b, (unsigned)out_c);
    mb_u8(b, (unsigned)kernel);
    mb_u8(b, (unsigned)stride);
    tensor(b, weights, (size_t)out_c * (size_t)in_c * (size_t)(kernel * kernel));
    tensor(b, bias, (size_t)out_c);
}

void mb_conv_g(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
               int stride, int groups, int flags, const float *weights, const float *bias)
{
    node_head(b, 1, flags, inputs, n_inputs);
    mb_u16(b, (unsigned)out_c);
    mb_u8(b, (unsigned)kernel);
    mb_u8(b, (unsigned)stride);
    mb_u16(b, (unsigned)groups);
    tensor(b, weights, (size_t)out_c * (size_t)(in_c / groups) * (size_t)(kernel * kernel));
    tensor(b, bias, (size_t)out_c);
}

void mb_maxpool(struct mb *b, const int *inputs, int n_inputs)
{
    node_head(b, 4, 0, inputs, n_inputs);
    mb_u8(b, 2);
    mb_u8(b, 2);
}

void mb_upsample(struct mb *b, const int *inputs, int n_inputs)
{
    node_head(b, 5, 0, inputs, n_inputs);
    mb_u8(b, 2);
}

void mb_begin_v21(struct mb *b, const char *name, int c, int h, int w, int n_classes,
                  const char *const *classes)
{
    mb_begin_v2(b, name, c, h, w, n_classes, classes);
    b->data[6] = 1;
}

void mb_qconv(struct mb *b, const int *inputs, int n_inputs, int in_c, int out_c, int kernel,
              int stride, int groups, int flags, const int8_t *weights, const float *wscale,
              const int32_t *bias)
{
    node_head(b, 1, flags, inputs, n_inputs);
    mb_u16(b, (unsigned)out_c);
    mb_u8(b, (unsigned)kernel);
    mb_u8(b, (unsigned)stride);
    mb_u16(b, (unsigned)groups);
    size_t n = (size_t)out_c * (size_t)(in_c / groups) * (size_t)(kernel * kernel);
    mb_u32(b, 1);                         /* dtype int8, reserved */
    mb_u32(b, (uint32_t)n);
    for (int o = 0; o < out_c; o++)
        mb_f32(b, wscale[o]);
    for (size_t i = 0; i < n; i++)
        mb_u8(b, (unsigned)(uint8_t)weights[i]);
    mb_u32(b, 2);                         /* dtype int32 */
    mb_u32(b, (uint32_t)out_c);
    for (int o = 0; o < out_c; o++)
        mb_u32(b, (uint32_t)bias[o]);
}

void mb_qparams(struct mb *b, int n, const float *scales, const int *zeros)
{
    for (int i = 0; i < n; i++) {
        mb_f32(b, scales[i]);
        mb_u8(b, (unsigned)zeros[i]);
    }
}

void mb_outputs(struct mb *b, int n, const char *const *names, const int *values)
{
    mb_u16(b, (unsigned)n);
    for (int i = 0; i < n; i++) {
        str(b, names[i]);
        mb_u16(b, (unsigned)values[i]);
    }
}

void mb_gap(struct mb *b, const int *inputs, int n_inputs)
{
    node_head(b, 2, 0, inputs, n_inputs);
}

void mb_dense(struct mb *b, int input, int in_c, int out_c, const float *weights,
              const float *bias)
{
    node_head(b, 3, 0, &input, 1);
    mb_u16(b, (unsigned)out_c);
    tensor(b, weights, (size_t)out_c * (size_t)in_c);
    tensor(b, bias, (size_t)out_c);
}

void mb_reseal(uint8_t *d, size_t len)
{
    uint32_t plen = (uint32_t)(len - 16), crc = enn_crc32(d + 16, len - 16);
    for (int i = 0; i < 4; i++) {
        d[8 + i] = (uint8_t)(plen >> (8 * i));
        d[12 + i] = (uint8_t)(crc >> (8 * i));
    }
}

void mb_finish(struct mb *b)
{
    b->data[b->nodes_at] = (uint8_t)(b->n_nodes & 0xff);
    b->data[b->nodes_at + 1] = (uint8_t)(b->n_nodes >> 8);
    mb_reseal(b->data, b->len);
}

void mb_free(struct mb *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
    if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return d;
}
