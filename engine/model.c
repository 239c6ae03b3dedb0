#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"

#define HEADER_SIZE 16
#define MAX_FILE_SIZE (64u << 20)
#define MAX_NODES ENN_MAX_NODES
#define MAX_DIM 1024
#define MAX_CHANNELS 4096
#define MAX_ACTIVATION_FLOATS (64u << 20)
#define DTYPE_F32 0
#define DTYPE_I8 1
#define DTYPE_I32 2
#define QMAX 127
#define FLAG_RELU 1u
#define FLAG_SIGMOID 2u

/* Bounds-checked little-endian reader: every read either succeeds or records where
 * the data ran out, so no caller can walk past the end. */
struct reader {
    const uint8_t *p;
    size_t size, off;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct reader *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

static const uint8_t *take(struct reader *r, size_t n, const char *what)
{
    if (r->failed)
        return NULL;
    if (n > r->size - r->off) {
        fail(r, "truncated: %s needs %zu bytes at payload offset %zu, %zu left", what, n,
             r->off, r->size - r->off);
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static unsigned u8(struct reader *r, const char *what)
{
    const uint8_t *p = take(r, 1, what);
    return p ? p[0] : 0;
}

static unsigned u16(struct reader *r, const char *what)
{
    const uint8_t *p = take(r, 2, what);
    return p ? (unsigned)p[0] | (unsigned)p[1] << 8 : 0;
}

static uint32_t u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float f32(struct reader *r, const char *what)
{
    const uint8_t *p = take(r, 4, what);
    if (!p)
        return 0;
    uint32_t bits = u32le(p);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* Length-prefixed string into dst (capacity max + 1); only printable ASCII. */
static void str(struct reader *r, char *dst, size_t max, const char *what)
{
    unsigned len = u16(r, what);
    if (r->failed)
        return;
    if (len == 0 || len > max) {
        fail(r, "%s has length %u (allowed 1..%zu)", what, len, max);
        return;
    }
    const uint8_t *p = take(r, len, what);
    if (!p)
        return;
    for (unsigned i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            fail(r, "%s contains byte 0x%02x, not printable ASCII", what, p[i]);
            return;
        }
    }
    memcpy(dst, p, len);
    dst[len] = '\0';
}

/* A weight tensor: dtype, count, values. Copies into dst (count floats expected). */
static void tensor(struct reader *r, float *dst, size_t expected, const char *what, int node)
{
    unsigned dtype = u8(r, what);
    take(r, 3, what);
    const uint8_t *p = take(r, 4, what);
    if (r->failed)
        return;
    uint32_t count = u32le(p);
    if (dtype == DTYPE_I8 || dtype == DTYPE_I32) {
        fail(r, "node %d: %s is %s, allowed only for a conv's %s", node, what,
             dtype == DTYPE_I8 ? "int8" : "int32", dtype == DTYPE_I8 ? "weights" : "bias");
        return;
    }
    if (dtype != DTYPE_F32) {
        fail(r, "node %d: %s has unknown dtype %u", node, what, dtype);
        return;
    }
    if (count != expected) {
        fail(r, "node %d: %s holds %u values, its shape needs %zu", node, what, count, expected);
        return;
    }
    p = take(r, (size_t)count * 4, what);
    if (!p)
        return;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = u32le(p + 4 * i);
        memcpy(&dst[i], &bits, 4);
        if (!isfinite(dst[i])) {
            fail(r, "node %d: %s value %zu is not finite", node, what, i);
            return;
        }
    }
}

/* An int8 model's conv tensors: weights (dtype 1: per-channel scales, then int8) and
 * bias (dtype 2: int32), into one block that wscale points at. */
static void qconv_tensors(struct reader *r, struct enn_node *n, size_t wcount, int node)
{
    size_t out = (size_t)n->out.c;
    take(r, 4, "weights");    /* dtype 1 (the caller looked), reserved */
    const uint8_t *p = take(r, 4, "weights");
    if (r->failed)
        return;
    if (u32le(p) != wcount)
        return fail(r, "node %d: int8 weights hold %u values, the shape needs %zu", node,
                    u32le(p), wcount);
    if (wcount > r->size - r->off)
        return fail(r, "truncated: node %d declares %zu int8 weights, the file holds fewer",
                     node, wcount);
    char *block = malloc(out * (sizeof(float) + sizeof(int32_t)) + wcount);
    if (!block)
        return fail(r, "node %d: out of memory for %zu weights", node, wcount);
    float *scale = (float *)(void *)block;
    int32_t *bias = (int32_t *)(void *)(block + out * sizeof(float));
    int8_t *w = (int8_t *)(block + out * (sizeof(float) + sizeof(int32_t)));
    n->wscale = scale;
    n->qbias = bias;
    n->qweights = w;
    for (size_t o = 0; o < out && !r->failed; o++) {
        scale[o] = f32(r, "weight scale");
        if (!r->failed && !(isfinite(scale[o]) && scale[o] > 0))
            fail(r, "node %d: weight scale %zu is %g (must be finite and > 0)", node, o,
                 scale[o]);
    }
    p = take(r, wcount, "int8 weights");
    if (!p)
        return;
    for (size_t i = 0; i < wcount; i++) {
        if (p[i] == 0x80)
            return fail(r, "node %d: int8 weight %zu is -128 (allowed -127..127)", node, i);
        w[i] = (int8_t)(p[i] < 0x80 ? (int)p[i] : (int)p[i] - 256);
    }
    unsigned dtype = u8(r, "bias");
    take(r, 3, "bias");
    p = take(r, 4, "bias");
    if (r->failed)
        return;
    if (dtype != DTYPE_I32)
        return fail(r, "node %d: an int8 conv's bias has dtype %u (must be 2, int32)", node,
                    dtype);
    if (u32le(p) != out)
        return fail(r, "node %d: bias holds %u values, the shape needs %zu", node, u32le(p),
                    out);
    p = take(r, out * 4, "bias");
    for (size_t o = 0; p && o < out; o++) {
        uint32_t bits = u32le(p + 4 * o);
        memcpy(&bias[o], &bits, 4);
    }
}

static bool is_class_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

struct enn_shape enn_model_value_shape(const struct enn_model *m, int id)
{
    return id == 0 ? m->input : m->nodes[id - 1].out;
}

static bool is_vector_op(enum enn_op op)
{
    return op == ENN_OP_GAP || op == ENN_OP_DENSE;
}

bool enn_model_is_vector(const struct enn_model *m, int id)
{
    return id > 0 && is_vector_op(m->nodes[id - 1].op);
}

/* Spatial shape of node k from its inputs' (shapes[0 .. k - 1]), with every check that
 * depends on the input size, so parsing (at the model's own size) and re-planning (at
 * another) apply the same rules. Channel counts were fixed when the node was read.
 * *activations accumulates the planned floats against the budget. */
static int infer_node(const struct enn_model *m, int k, struct enn_shape *shapes,
                      size_t *activations, char *err, size_t errlen)
{
    const struct enn_node *n = &m->nodes[k - 1];
    struct enn_shape in = shapes[n->inputs[0]];
    bool vec = enn_model_is_vector(m, n->inputs[0]);
    for (int i = 1; i < n->n_inputs; i++) {
        struct enn_shape s = shapes[n->inputs[i]];
        /* a pooled vector and a 1x1 map have one shape but two layouts */
        if (enn_model_is_vector(m, n->inputs[i]) != vec) {
            snprintf(err, errlen, "node %d: sums a pooled vector with a map (inputs %d and %d)",
                     k, n->inputs[0], n->inputs[i]);
            return -1;
        }
        if (s.c != in.c || s.h != in.h || s.w != in.w) {
            snprintf(err, errlen, "node %d: summed inputs %d (%dx%dx%d) and %d (%dx%dx%d) "
                     "differ in shape", k, n->inputs[0], in.c, in.h, in.w, n->inputs[i],
                     s.c, s.h, s.w);
            return -1;
        }
    }
    struct enn_shape out = {n->out.c, 1, 1};
    switch (n->op) {
    case ENN_OP_CONV: {
        if (vec) {
            snprintf(err, errlen, "node %d: conv on a vector (after pooling?)", k);
            return -1;
        }
        int pad = n->kernel / 2;
        out.h = (in.h + 2 * pad - n->kernel) / n->stride + 1;
        out.w = (in.w + 2 * pad - n->kernel) / n->stride + 1;
        break;
    }
    case ENN_OP_MAXPOOL:
    case ENN_OP_UPSAMPLE:
        if (vec) {
            snprintf(err, errlen, "node %d: %s on a vector", k,
                     n->op == ENN_OP_MAXPOOL ? "max pool" : "upsample");
            return -1;
        }
        out.c = in.c;
        out.h = n->op == ENN_OP_MAXPOOL ? in.h / 2 : in.h * 2;
        out.w = n->op == ENN_OP_MAXPOOL ? in.w / 2 : in.w * 2;
        if (out.h < 1 || out.w < 1) {
            snprintf(err, errlen, "node %d: max pool of a %dx%d map leaves nothing", k,
                     in.w, in.h);
            return -1;
        }
        break;
    case ENN_OP_GAP:
        out.c = in.c;
        break;
    case ENN_OP_DENSE:
        if (!vec) {
            snprintf(err, errlen, "node %d: dense layer on a %dx%d map (pool it first)", k,
                     in.h, in.w);
            return -1;
        }
        break;
    }
    size_t floats = (size_t)out.c * (size_t)(out.h + 2) * (size_t)(out.w + 2);
    if (*activations > MAX_ACTIVATION_FLOATS || floats > MAX_ACTIVATION_FLOATS - *activations) {
        snprintf(err, errlen, "node %d: activations exceed %u MiB", k,
                 MAX_ACTIVATION_FLOATS / 262144);
        return -1;
    }
    *activations += floats;
    shapes[k] = out;
    return 0;
}

static int input_budget(struct enn_shape in, size_t *activations, char *err, size_t errlen)
{
    *activations = (size_t)in.c * (size_t)(in.h + 2) * (size_t)(in.w + 2);
    if (*activations <= MAX_ACTIVATION_FLOATS)
        return 0;
    snprintf(err, errlen, "input %dx%dx%d exceeds the %u MiB activation budget", in.c, in.h,
             in.w, MAX_ACTIVATION_FLOATS / 262144);
    return -1;
}

int enn_model_shapes(const struct enn_model *m, int height, int width,
                     struct enn_shape *shapes, char *err, size_t errlen)
{
    if (!m->any_size && (height != m->input.h || width != m->input.w)) {
        snprintf(err, errlen, "%s runs at %dx%d only (it pools to a vector), not %dx%d",
                 m->name, m->input.w, m->input.h, width, height);
        return -1;
    }
    if (height < 1 || width < 1 || height > ENN_MAX_PLAN_DIM || width > ENN_MAX_PLAN_DIM) {
        snprintf(err, errlen, "input size %dx%d (allowed 1..%d)", width, height,
                 ENN_MAX_PLAN_DIM);
        return -1;
    }
    shapes[0] = (struct enn_shape){m->input.c, height, width};
    size_t activations;
    if (input_budget(shapes[0], &activations, err, errlen))
        return -1;
    /* Each value on its own against the budget: the planner shares buffers between
       values, so the file's total (checked at parse time) overstates a large size. */
    for (int k = 1; k <= m->n_nodes; k++) {
        activations = 0;
        if (infer_node(m, k, shapes, &activations, err, errlen))
            return -1;
    }
    return 0;
}

int enn_model_output(const struct enn_model *m, const char *name)
{
    for (int i = 0; i < m->n_outputs; i++)
        if (strcmp(m->outputs[i].name, name) == 0)
            return i;
    return -1;
}

/* Reads node k (1-based) after its op byte; weights go to *arena. */
static void parse_node(struct reader *r, struct enn_model *m, int k, struct enn_shape *shapes,
                       size_t *activations)
{
    struct enn_node *n = &m->nodes[k - 1];
    bool v2 = m->version_major >= 2;
    unsigned op = u8(r, "node op");
    unsigned flags = u8(r, "node flags");
    unsigned n_in = u16(r, "node input count");
    if (r->failed)
        return;
    unsigned max_op = v2 ? ENN_OP_UPSAMPLE : ENN_OP_DENSE;
    if (op < ENN_OP_CONV || op > max_op)
        return fail(r, "node %d: unknown op %u%s", k, op,
                    op <= ENN_OP_UPSAMPLE && !v2 ? " (a version 2 op in a version 1 file)" : "");
    if (flags & ~(v2 ? FLAG_RELU | FLAG_SIGMOID : FLAG_RELU))
        return fail(r, "node %d: unknown flags 0x%x", k, flags);
    if (n_in < 1 || n_in > ENN_MAX_INPUTS)
        return fail(r, "node %d: %u inputs (allowed 1..%d)", k, n_in, ENN_MAX_INPUTS);
    n->op = (enum enn_op)op;
    n->relu = flags & FLAG_RELU;
    n->sigmoid = flags & FLAG_SIGMOID;
    n->n_inputs = (int)n_in;
    if (n->relu && n->sigmoid)
        return fail(r, "node %d: both relu and sigmoid flags", k);
    if (n->sigmoid && n->op != ENN_OP_CONV)
        return fail(r, "node %d: sigmoid flag on a node that is not a conv", k);
    if (flags && n->op != ENN_OP_CONV && n->op != ENN_OP_DENSE)
        return fail(r, "node %d: activation flag on a pooling or upsampling node", k);
    for (unsigned i = 0; i < n_in; i++) {
        unsigned id = u16(r, "node input");
        if (r->failed)
            return;
        if ((int)id >= k)
            return fail(r, "node %d: input %u is not an earlier value (graph out of order)",
                        k, id);
        n->inputs[i] = (int)id;
    }
    n->in = shapes[n->inputs[0]];
    n->groups = 1;
    size_t wcount = 0;
    if (n->op == ENN_OP_CONV) {
        unsigned out_c = u16(r, "conv channels");
        unsigned kernel = u8(r, "conv kernel");
        unsigned stride = u8(r, "conv stride");
        unsigned groups = v2 ? u16(r, "conv groups") : 1;
        if (r->failed)
            return;
        if (out_c < 1 || out_c > MAX_CHANNELS)
            return fail(r, "node %d: conv has %u output channels (allowed 1..%d)", k, out_c,
                        MAX_CHANNELS);
        if (kernel != 1 && kernel != 3)
            return fail(r, "node %d: conv kernel %ux%u (supported: 1x1, 3x3)", k, kernel, kernel);
        if (stride != 1 && stride != 2)
            return fail(r, "node %d: conv stride %u (supported: 1, 2)", k, stride);
        if (groups < 1 || (unsigned)n->in.c % groups || out_c % groups)
            return fail(r, "node %d: %u groups do not divide %d input and %u output channels",
                        k, groups, n->in.c, out_c);
        n->kernel = (int)kernel;
        n->stride = (int)stride;
        n->groups = (int)groups;
        n->out.c = (int)out_c;
        wcount = (size_t)out_c * (size_t)(n->in.c / n->groups) * kernel * kernel;
    } else if (n->op == ENN_OP_MAXPOOL) {
        unsigned kernel = u8(r, "max pool kernel"), stride = u8(r, "max pool stride");
        if (!r->failed && (kernel != 2 || stride != 2))
            return fail(r, "node %d: max pool %ux%u stride %u (supported: 2x2 stride 2)", k,
                        kernel, kernel, stride);
        n->kernel = n->stride = 2;
    } else if (n->op == ENN_OP_UPSAMPLE) {
        unsigned factor = u8(r, "upsample factor");
        if (!r->failed && factor != 2)
            return fail(r, "node %d: upsample x%u (supported: x2)", k, factor);
        n->stride = 2;
    } else if (n->op == ENN_OP_DENSE) {
        unsigned out_c = u16(r, "dense outputs");
        if (r->failed)
            return;
        if (out_c < 1 || out_c > MAX_CHANNELS)
            return fail(r, "node %d: dense has %u outputs (allowed 1..%d)", k, out_c,
                        MAX_CHANNELS);
        n->out.c = (int)out_c;
        wcount = (size_t)out_c * (size_t)n->in.c;
    }
    if (r->failed)
        return;
    if (infer_node(m, k, shapes, activations, r->err, r->errlen)) {
        r->failed = true;
        return;
    }
    n->out = shapes[k];
    m->n_macs += wcount * (n->op == ENN_OP_CONV ? (size_t)n->out.h * (size_t)n->out.w : 1);
    if (!wcount)
        return;
    if (n->op == ENN_OP_CONV && r->off < r->size && r->p[r->off] == DTYPE_I8) {
        qconv_tensors(r, n, wcount, k);
        m->n_params += wcount + (size_t)n->out.c;
        return;
    }
    /* Bound the allocation by what the file can hold before trusting wcount. */
    if (wcount > (r->size - r->off) / 4)
        return fail(r, "truncated: node %d declares %zu weights, the file holds fewer", k,
                    wcount);
    float *w = malloc((wcount + (size_t)n->out.c) * sizeof *w);
    if (!w)
        return fail(r, "node %d: out of memory for %zu weights", k, wcount);
    n->weights = w;
    n->bias = w + wcount;
    tensor(r, w, wcount, "weights", k);
    tensor(r, w + wcount, (size_t)n->out.c, "bias", k);
    m->n_params += wcount + (size_t)n->out.c;
}

static bool is_output_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Version 2's output list; version 1 has one, the last node. */
static void parse_outputs(struct reader *r, struct enn_model *m)
{
    if (m->version_major < 2) {
        m->n_outputs = 1;
        strcpy(m->outputs[0].name, "logits");
        m->outputs[0].value = m->n_nodes;
        return;
    }
    m->n_outputs = (int)u16(r, "output count");
    if (!r->failed && (m->n_outputs < 1 || m->n_outputs > ENN_MAX_OUTPUTS))
        fail(r, "%d outputs (allowed 1..%d)", m->n_outputs, ENN_MAX_OUTPUTS);
    for (int i = 0; i < m->n_outputs && !r->failed; i++) {
        struct enn_output *o = &m->outputs[i];
        str(r, o->name, ENN_MAX_OUTPUT_NAME, "output name");
        o->value = (int)u16(r, "output value");
        if (r->failed)
            return;
        if (!is_output_name(o->name))
            return fail(r, "output name '%s' (a-z, 0-9 and '_' only)", o->name);
        if (o->value < 1 || o->value > m->n_nodes)
            return fail(r, "output '%s' names value %d (nodes are 1..%d)", o->name, o->value,
                        m->n_nodes);
        for (int j = 0; j < i; j++)
            if (strcmp(o->name, m->outputs[j].name) == 0)
                return fail(r, "output '%s' listed twice", o->name);
    }
}

static void qparam(struct reader *r, struct enn_qparam *q, const char *what, int id)
{
    q->scale = f32(r, what);
    q->zero = (int)u8(r, what);
    if (r->failed)
        return;
    if (!(isfinite(q->scale) && q->scale > 0))
        fail(r, "%s %d: scale %g (must be finite and > 0)", what, id, q->scale);
    else if (q->zero > QMAX)
        fail(r, "%s %d: zero point %d (allowed 0..%d)", what, id, q->zero, QMAX);
}

static bool is_map_output(const struct enn_model *m, int id)
{
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o].value == id)
            return !enn_model_is_vector(m, id);
    return false;
}

bool enn_model_value_is_float(const struct enn_model *m, int id)
{
    return m->precision == ENN_PRECISION_F32 || enn_model_is_vector(m, id) ||
           is_map_output(m, id);
}

bool enn_model_has_qsum(const struct enn_model *m, int k)
{
    const struct enn_node *n = &m->nodes[k - 1];
    return m->precision == ENN_PRECISION_INT8 && n->n_inputs > 1 && n->op != ENN_OP_GAP &&
           n->op != ENN_OP_DENSE;
}

/* Version 2.1's precision byte and, for int8, the value and summed-input qparams; then
 * what int8 arithmetic needs of the graph. */
static void parse_precision(struct reader *r, struct enn_model *m)
{
    bool int8_convs = false, float_convs = false;
    for (int k = 1; k <= m->n_nodes; k++)
        if (m->nodes[k - 1].op == ENN_OP_CONV)
            *(m->nodes[k - 1].qweights ? &int8_convs : &float_convs) = true;
    m->precision = ENN_PRECISION_F32;
    if (m->version_major == 2 && m->version_minor >= 1) {
        unsigned p = u8(r, "precision");
        if (!r->failed && p > ENN_PRECISION_INT8)
            return fail(r, "precision %u (0 = float32, 1 = int8)", p);
        m->precision = (enum enn_precision)p;
    }
    if (r->failed)
        return;
    if (m->precision == ENN_PRECISION_F32) {
        if (int8_convs)
            return fail(r, "int8 conv weights in a float32 model (an int8 model is version "
                        "2.1 with precision 1)");
        return;
    }
    if (float_convs)
        return fail(r, "an int8 model with float32 conv weights (every conv must be int8)");
    m->qvalues = calloc((size_t)m->n_nodes + 1, sizeof *m->qvalues);
    if (!m->qvalues)
        return fail(r, "out of memory");
    for (int id = 0; id <= m->n_nodes && !r->failed; id++)
        qparam(r, &m->qvalues[id], "value", id);
    if (!r->failed && !isfinite((float)(1.0 / (double)m->qvalues[0].scale)))
        return fail(r, "value 0: scale %g (its inverse, which quantises the input, must be "
                    "finite in float)", (double)m->qvalues[0].scale);
    for (int k = 1; k <= m->n_nodes && !r->failed; k++)
        if (enn_model_has_qsum(m, k))
            qparam(r, &m->nodes[k - 1].qsum, "summed input of node", k);
    for (int k = 1; k <= m->n_nodes && !r->failed; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct enn_qparam q = m->qvalues[k];
        if (enn_model_value_is_float(m, k) && (q.scale != 1.0f || q.zero != 0))
            return fail(r, "value %d is float in an int8 model (a vector or an output): its "
                        "qparams must be scale 1, zero point 0, not %g, %d", k, q.scale, q.zero);
        for (int i = 0; n->op == ENN_OP_GAP && i < n->n_inputs; i++)
            if (enn_model_value_is_float(m, n->inputs[i]))
                return fail(r, "node %d pools value %d, a vector (an int8 model pools "
                            "quantised maps only)", k, n->inputs[i]);
        for (int i = 0; i < n->n_inputs; i++)
            if (is_map_output(m, n->inputs[i]))
                return fail(r, "node %d reads output value %d, which an int8 model computes "
                            "in float", k, n->inputs[i]);
        if (n->sigmoid && !is_map_output(m, k))
            return fail(r, "node %d: sigmoid on a quantised map (in an int8 model only an "
                        "output may have it)", k);
        /* the runner's float factors (engine/qnet.c), each finite and > 0 in float: an
           infinite one times an accumulator of 0 is NaN, where kernels may differ */
        if (n->op == ENN_OP_CONV) {
            double s_in = enn_model_has_qsum(m, k) ? n->qsum.scale
                                                   : m->qvalues[n->inputs[0]].scale;
            double s_out = enn_model_value_is_float(m, k) ? 1.0 : q.scale;
            for (int o = 0; o < n->out.c; o++) {
                float f = (float)(s_in * (double)n->wscale[o] / s_out);
                if (!(isfinite(f) && f > 0))
                    return fail(r, "node %d: requantisation factor of output channel %d is "
                                "%g (input scale x weight scale / output scale must be "
                                "finite and > 0 in float)", k, o, (double)f);
            }
        }
        double reach = 0;   /* the largest |t| the sum's float adds can meet */
        for (int i = 0; enn_model_has_qsum(m, k) && i < n->n_inputs; i++) {
            float f = (float)((double)m->qvalues[n->inputs[i]].scale / (double)n->qsum.scale);
            if (!(isfinite(f) && f > 0))
                return fail(r, "node %d: input %d's factor in the sum is %g (its scale / the "
                            "sum's must be finite and > 0 in float)", k, i, (double)f);
            reach += 127.0 * (double)f;
        }
        /* products of up to 127 and the factors: an infinite one, or inf - inf = NaN,
           would round differently per kernel set */
        if (reach >= 0x1p64)
            return fail(r, "node %d: its inputs' factors in the sum add up to %g (127 times "
                        "that must stay below 2^64)", k, reach / 127.0);
        if (n->op == ENN_OP_CONV) {
            /* the engine adds bias - zp * sum w and sum w * q (q 0..127) in int32 */
            int kk = n->kernel * n->kernel, per_out = n->in.c / n->groups * kk;
            for (int o = 0; o < n->out.c; o++) {
                int64_t bound = n->qbias[o] < 0 ? -(int64_t)n->qbias[o] : n->qbias[o];
                for (int i = 0; i < per_out; i++) {
                    int w = n->qweights[(size_t)o * (size_t)per_out + (size_t)i];
                    bound += 2 * QMAX * (int64_t)(w < 0 ? -w : w);
                }
                if (bound >= INT32_MAX)
                    return fail(r, "node %d: output channel %d can overflow int32 (|bias| + "
                                "254 x sum |w| = %lld)", k, o, (long long)bound);
            }
        }
        if ((n->op == ENN_OP_MAXPOOL || n->op == ENN_OP_UPSAMPLE) && is_map_output(m, k))
            return fail(r, "node %d: an int8 model's output maps must come from convs", k);
        if (n->op == ENN_OP_MAXPOOL || n->op == ENN_OP_UPSAMPLE) {
            struct enn_qparam in = n->n_inputs > 1 ? n->qsum : m->qvalues[n->inputs[0]];
            if (in.scale != q.scale || in.zero != q.zero)
                return fail(r, "node %d: %s changes qparams (%g, %d -> %g, %d)", k,
                            n->op == ENN_OP_MAXPOOL ? "max pool" : "upsample", in.scale,
                            in.zero, q.scale, q.zero);
        }
    }
}

int enn_model_parse(const void *data, size_t size, struct enn_model **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    const uint8_t *p = data;
    if (size < HEADER_SIZE) {
        snprintf(err, errlen, "file too short for a model header (%zu bytes)", size);
        return -1;
    }
    if (memcmp(p, "ENNM", 4) != 0) {
        snprintf(err, errlen, "bad magic: not an .enn model file");
        return -1;
    }
    unsigned major = p[4] | p[5] << 8, minor = p[6] | p[7] << 8;
    if (major != 1 && major != 2) {
        snprintf(err, errlen, "format version %u.%u; this engine reads 1.x and 2.x", major,
                 minor);
        return -1;
    }
    uint32_t payload_len = u32le(p + 8), crc = u32le(p + 12);
    if (payload_len != size - HEADER_SIZE) {
        snprintf(err, errlen, "%s: header says %u payload bytes, file has %zu",
                 payload_len > size - HEADER_SIZE ? "truncated" : "trailing bytes",
                 payload_len, size - HEADER_SIZE);
        return -1;
    }
    uint32_t actual = enn_crc32(p + HEADER_SIZE, payload_len);
    if (actual != crc) {
        snprintf(err, errlen, "checksum mismatch: header CRC32 %08x, payload %08x (corrupt file)",
                 crc, actual);
        return -1;
    }

    struct enn_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->version_major = major;
    m->version_minor = minor;
    struct reader r = {p + HEADER_SIZE, payload_len, 0, err, errlen, false};
    str(&r, m->name, ENN_MAX_MODEL_NAME, "model name");
    m->input.c = (int)u16(&r, "input channels");
    m->input.h = (int)u16(&r, "input height");
    m->input.w = (int)u16(&r, "input width");
    m->mean = f32(&r, "normalisation mean");
    m->std = f32(&r, "normalisation std");
    if (!r.failed && (m->input.c < 1 || m->input.c > 64))
        fail(&r, "input has %d channels (allowed 1..64)", m->input.c);
    if (!r.failed && (m->input.h < 2 || m->input.h > MAX_DIM || m->input.w < 2 ||
                      m->input.w > MAX_DIM))
        fail(&r, "input size %dx%d (allowed 2..%d)", m->input.w, m->input.h, MAX_DIM);
    if (!r.failed && !(isfinite(m->mean) && isfinite(m->std) && m->std > 0))
        fail(&r, "normalisation mean %g std %g (std must be finite and > 0)", m->mean, m->std);
    m->n_classes = (int)u16(&r, "class count");
    int min_classes = major >= 2 ? 0 : 1;
    if (!r.failed && (m->n_classes < min_classes || m->n_classes > ENN_MAX_CLASSES))
        fail(&r, "%d classes (allowed %d..%d)", m->n_classes, min_classes, ENN_MAX_CLASSES);
    for (int i = 0; i < m->n_classes && !r.failed; i++) {
        str(&r, m->classes[i], ENN_MAX_CLASS_NAME, "class name");
        if (!r.failed && !is_class_name(m->classes[i]))
            fail(&r, "class name '%s' (lower-case letters and '_' only)", m->classes[i]);
        for (int j = 0; j < i && !r.failed; j++)
            if (strcmp(m->classes[i], m->classes[j]) == 0)
                fail(&r, "class '%s' listed twice", m->classes[i]);
    }
    m->n_nodes = (int)u16(&r, "node count");
    if (!r.failed && (m->n_nodes < 1 || m->n_nodes > MAX_NODES))
        fail(&r, "%d nodes (allowed 1..%d)", m->n_nodes, MAX_NODES);
    if (!r.failed && !(m->nodes = calloc((size_t)m->n_nodes, sizeof *m->nodes)))
        fail(&r, "out of memory");
    struct enn_shape *shapes = NULL;
    if (!r.failed && !(shapes = calloc((size_t)m->n_nodes + 1, sizeof *shapes)))
        fail(&r, "out of memory");
    size_t activations = 0;
    if (!r.failed && input_budget(m->input, &activations, err, errlen))
        r.failed = true;
    if (shapes)
        shapes[0] = m->input;
    for (int k = 1; k <= m->n_nodes && !r.failed; k++)
        parse_node(&r, m, k, shapes, &activations);
    free(shapes);
    if (!r.failed)
        parse_outputs(&r, m);
    if (!r.failed)
        parse_precision(&r, m);
    if (!r.failed && r.off != r.size)
        fail(&r, "%zu unread bytes after the %s", r.size - r.off,
             m->qvalues ? "qparams" : major >= 2 ? "output list" : "last node");
    if (!r.failed && m->n_classes > 0) {
        int id = m->outputs[0].value;
        struct enn_shape first = m->nodes[id - 1].out;
        if (!enn_model_is_vector(m, id) || first.c != m->n_classes)
            fail(&r, "the %s gives %dx%dx%d values, expected one per class (%d)",
                 major >= 2 ? "first output" : "last node", first.c, first.h, first.w,
                 m->n_classes);
    }
    m->any_size = !r.failed;
    for (int k = 1; k <= m->n_nodes && m->any_size; k++)
        m->any_size = !is_vector_op(m->nodes[k - 1].op);
    if (r.failed) {
        enn_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int enn_model_load(const char *path, struct enn_model **out, char *err, size_t errlen)
{
    *out = NULL;
    /* regular files only: a FIFO or a device would block the loader (and a reload) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE_SIZE) {
        snprintf(err, errlen, S_ISREG(st.st_mode) ? "%s: larger than 64 MiB, not a model"
                                                  : "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    /* read to the end, whatever the size said: the file may change meanwhile */
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            if (cap > MAX_FILE_SIZE) {
                snprintf(err, errlen, "%s: larger than %u MiB, not a model", path,
                         MAX_FILE_SIZE >> 20);
                goto done;
            }
            cap = cap ? cap * 2 : (size_t)st.st_size + 1;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    char inner[256];
    rc = enn_model_parse(buf, len, out, inner, sizeof inner);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, inner);
done:
    free(buf);
    close(fd);
    return rc;
}

void enn_model_free(struct enn_model *m)
{
    if (!m)
        return;
    for (int i = 0; m->nodes && i < m->n_nodes; i++) {
        free((void *)m->nodes[i].weights);
        free((void *)m->nodes[i].wscale);   /* the int8 block */
    }
    free(m->qvalues);
    free(m->nodes);
    free(m);
}

const char *enn_precision_name(enum enn_precision p)
{
    return p == ENN_PRECISION_INT8 ? "int8" : "fp32";
}

int enn_precision_parse(const char *name)
{
    if (strcmp(name, "fp32") == 0)
        return ENN_PRECISION_F32;
    if (strcmp(name, "int8") == 0)
        return ENN_PRECISION_INT8;
    return -1;
}

int enn_model_precision_path(const char *path, enum enn_precision p, char *out,
                             size_t outlen)
{
    size_t len = strlen(path);
    bool has_ext = len > 4 && strcmp(path + len - 4, ".enn") == 0;
    bool is_int8 = len > 9 && strcmp(path + len - 9, "-int8.enn") == 0;
    int n = p == ENN_PRECISION_INT8 && has_ext && !is_int8
        ? snprintf(out, outlen, "%.*s-int8.enn", (int)(len - 4), path)
        : snprintf(out, outlen, "%s", path);
    return n >= 0 && (size_t)n < outlen ? 0 : -1;
}
