#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "preprocess.h"

/* Every spatial value lives in zero-bordered planes ((h + 2) x (w + 2), plus slack for
 * kernel overrun), so 3x3 'same' convolutions need no edge cases: a position walks the
 * flattened plane and each tap is a fixed offset. Vectors (after pooling) are plain. */
#define HEAD_SLACK 16
#define ALIGN_FLOATS 16

struct value {
    float *data;          /* first plane's top-left pad element */
    struct enn_shape s;
    size_t pw, plane;     /* padded row length, floats between planes */
    bool spatial;
};

struct conv_plan {
    float *packed;
    ptrdiff_t *k_off;
    size_t k;
};

struct enn_net {
    const struct enn_model *m;
    const struct enn_kernels *kern;
    struct value *values;        /* [0] = input, [k] = node k */
    struct conv_plan *convs;     /* per node (unused for others) */
    float *sum_scratch;          /* summed inputs of one node */
    float *panel;                /* stride-2 gather */
    float *crop;                 /* enn_net_classify's network input */
    float *logits;
    bool mirror;                 /* enn_net_classify averages crop and mirrored crop */
    void *arena;
    size_t memory;
};

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static struct value plan_value(struct enn_shape s)
{
    struct value v = {.s = s, .spatial = s.h > 1 || s.w > 1};
    if (v.spatial) {
        v.pw = (size_t)s.w + 2;
        v.plane = round_up(((size_t)s.h + 2) * v.pw + ENN_MAX_OVERRUN + 2, ALIGN_FLOATS);
    } else {
        v.pw = 1;
        v.plane = 1;
    }
    return v;
}

static size_t value_floats(const struct value *v)
{
    return HEAD_SLACK + (size_t)v->s.c * v->plane + ENN_MAX_OVERRUN + ALIGN_FLOATS;
}

static size_t panel_stride(const struct enn_node *n)
{
    return round_up((size_t)n->out.h * ((size_t)n->out.w + 2), ALIGN_FLOATS);
}

static size_t panel_floats(const struct enn_node *n)
{
    size_t k = (size_t)n->in.c * (size_t)(n->kernel * n->kernel);
    return k * panel_stride(n) + ENN_MAX_OVERRUN + ALIGN_FLOATS;
}

/* Lays out every buffer of the arena at base, in order, each rounded up to
 * ALIGN_FLOATS; returns the floats used. With base NULL it only measures. */
static size_t carve_arena(struct enn_net *net, float *base)
{
    const struct enn_model *m = net->m;
    size_t sum_max = 0, panel_max = 0, at = 0;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        size_t in_floats = value_floats(&net->values[n->inputs[0]]);
        if (n->n_inputs > 1 && in_floats > sum_max)
            sum_max = in_floats;
        if (n->op == ENN_OP_CONV && n->stride != 1 && panel_floats(n) > panel_max)
            panel_max = panel_floats(n);
    }
    for (int id = 0; id <= m->n_nodes; id++) {
        if (base)
            net->values[id].data = base + at + HEAD_SLACK;
        at += round_up(value_floats(&net->values[id]), ALIGN_FLOATS);
    }
    if (base)
        net->sum_scratch = base + at + HEAD_SLACK;
    at += round_up(sum_max, ALIGN_FLOATS);
    if (base)
        net->panel = base + at;
    at += round_up(panel_max, ALIGN_FLOATS);
    size_t in_size = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
    if (base)
        net->crop = base + at;
    at += round_up(in_size, ALIGN_FLOATS);
    if (base)
        net->logits = base + at;
    return at + round_up((size_t)m->n_classes, ALIGN_FLOATS);
}

int enn_net_create(const struct enn_model *m, struct enn_net **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct enn_kernels *kern = enn_kernels_select(err, errlen);
    if (!kern)
        return -1;
    struct enn_net *net = calloc(1, sizeof *net);
    if (!net)
        goto oom;
    net->m = m;
    net->kern = kern;
    net->values = calloc((size_t)m->n_nodes + 1, sizeof *net->values);
    net->convs = calloc((size_t)m->n_nodes, sizeof *net->convs);
    if (!net->values || !net->convs)
        goto oom;

    for (int id = 0; id <= m->n_nodes; id++)
        net->values[id] = plan_value(enn_model_value_shape(m, id));
    /* Sized by the same walk that carves it, so the two cannot disagree. */
    size_t bytes = round_up(carve_arena(net, NULL) * sizeof(float), 64);
    net->arena = aligned_alloc(64, bytes);
    if (!net->arena)
        goto oom;
    memset(net->arena, 0, bytes);
    net->memory = bytes;
    carve_arena(net, net->arena);

    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        if (n->op != ENN_OP_CONV)
            continue;
        struct conv_plan *c = &net->convs[k - 1];
        int kk = n->kernel * n->kernel, pad = n->kernel / 2;
        c->k = (size_t)n->in.c * (size_t)kk;
        c->packed = aligned_alloc(64, round_up(enn_packed_size(n->out.c, c->k) * 4, 64));
        c->k_off = malloc(c->k * sizeof *c->k_off);
        if (!c->packed || !c->k_off)
            goto oom;
        net->memory += enn_packed_size(n->out.c, c->k) * 4 + c->k * sizeof *c->k_off;
        enn_pack_weights(n->weights, n->out.c, c->k, c->packed);
        const struct value *in = &net->values[n->inputs[0]];
        for (int ic = 0; ic < n->in.c; ic++)
            for (int ky = 0; ky < n->kernel; ky++)
                for (int kx = 0; kx < n->kernel; kx++) {
                    size_t i = (size_t)ic * (size_t)kk + (size_t)(ky * n->kernel + kx);
                    c->k_off[i] = n->stride == 1
                        ? (ptrdiff_t)((size_t)ic * in->plane) +
                              (ptrdiff_t)(ky - pad) * (ptrdiff_t)in->pw + (kx - pad)
                        : (ptrdiff_t)(i * panel_stride(n));
                }
    }
    *out = net;
    return 0;
oom:
    snprintf(err, errlen, "out of memory planning the network");
    enn_net_free(net);
    return -1;
}

void enn_net_free(struct enn_net *net)
{
    if (!net)
        return;
    for (int k = 0; net->convs && k < net->m->n_nodes; k++) {
        free(net->convs[k].packed);
        free(net->convs[k].k_off);
    }
    free(net->convs);
    free(net->values);
    free(net->arena);
    free(net);
}

const char *enn_net_isa(const struct enn_net *net)
{
    return net->kern->name;
}

const struct enn_model *enn_net_model(const struct enn_net *net)
{
    return net->m;
}

size_t enn_net_memory(const struct enn_net *net)
{
    return net->memory;
}

/* The node's input: the value itself, or the element-wise sum of several, materialised
 * once so the convolution reads one buffer (cheaper than adding inside the kernel, which
 * would repeat the sum for every block of output channels). Borders stay zero because
 * they are zero in every addend. */
static const struct value *gather_input(struct enn_net *net, const struct enn_node *n,
                                        struct value *tmp)
{
    const struct value *first = &net->values[n->inputs[0]];
    if (n->n_inputs == 1)
        return first;
    *tmp = *first;
    tmp->data = net->sum_scratch;
    size_t len = (size_t)first->s.c * first->plane;
    const float *a = first->data, *b = net->values[n->inputs[1]].data;
    for (size_t i = 0; i < len; i++)
        tmp->data[i] = a[i] + b[i];
    for (int j = 2; j < n->n_inputs; j++) {
        const float *c = net->values[n->inputs[j]].data;
        for (size_t i = 0; i < len; i++)
            tmp->data[i] += c[i];
    }
    return tmp;
}

/* Stride-2 taps as a [k][positions] panel laid out like the output's padded rows, so
 * the same kernel runs it with contiguous loads. */
static void fill_panel(float *panel, const struct enn_node *n, const struct value *in,
                       const struct value *out)
{
    int pad = n->kernel / 2, kk = n->kernel * n->kernel;
    size_t ps = panel_stride(n), pwo = out->pw;
    for (int ic = 0; ic < n->in.c; ic++) {
        const float *src = in->data + (size_t)ic * in->plane;
        for (int t = 0; t < kk; t++) {
            int ky = t / n->kernel, kx = t % n->kernel;
            float *dst = panel + ((size_t)ic * (size_t)kk + (size_t)t) * ps;
            for (int oy = 0; oy < n->out.h; oy++) {
                const float *row = src + (size_t)(2 * oy + ky - pad + 1) * in->pw;
                float *d = dst + (size_t)oy * pwo;
                d[0] = 0;
                for (int ox = 0; ox < n->out.w; ox++)
                    d[ox + 1] = row[2 * ox + kx - pad + 1];
                d[pwo - 1] = 0;
            }
        }
    }
}

static void zero_borders(const struct value *v)
{
    for (int c = 0; c < v->s.c; c++) {
        float *p = v->data + (size_t)c * v->plane;
        memset(p, 0, v->pw * sizeof *p);
        memset(p + (size_t)(v->s.h + 1) * v->pw, 0, v->pw * sizeof *p);
        for (int y = 1; y <= v->s.h; y++) {
            p[(size_t)y * v->pw] = 0;
            p[(size_t)y * v->pw + v->pw - 1] = 0;
        }
    }
}

static void run_conv(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    const struct conv_plan *c = &net->convs[k - 1];
    struct value tmp;
    const struct value *in = gather_input(net, n, &tmp);
    struct value *out = &net->values[k];
    struct enn_conv_job job = {
        .out_c = n->out.c, .k = c->k, .packed = c->packed, .bias = n->bias,
        .k_off = c->k_off, .out = out->data + out->pw, .out_plane = out->plane,
        .count = (size_t)n->out.h * out->pw, .relu = n->relu,
    };
    if (n->stride == 1) {
        job.in = in->data + in->pw;
    } else {
        fill_panel(net->panel, n, in, out);
        job.in = net->panel;
    }
    net->kern->conv(&job);
    zero_borders(out);
}

static void run_gap(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    float *dst = net->values[k].data;
    float scale = 1.0f / (float)(n->in.h * n->in.w);
    for (int ch = 0; ch < n->in.c; ch++) {
        float acc = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            const struct value *v = &net->values[n->inputs[i]];
            const float *p = v->data + (size_t)ch * v->plane;
            if (!v->spatial) {
                acc += p[0];
                continue;
            }
            for (int y = 1; y <= n->in.h; y++)
                for (int x = 1; x <= n->in.w; x++)
                    acc += p[(size_t)y * v->pw + (size_t)x];
        }
        dst[ch] = acc * scale;
    }
}

static void run_dense(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    float *dst = net->values[k].data;
    for (int o = 0; o < n->out.c; o++) {
        float acc = n->bias[o];
        const float *w = n->weights + (size_t)o * (size_t)n->in.c;
        for (int i = 0; i < n->n_inputs; i++) {
            const float *x = net->values[n->inputs[i]].data;
            for (int j = 0; j < n->in.c; j++)
                acc += w[j] * x[j];
        }
        dst[o] = n->relu && acc < 0 ? 0 : acc;
    }
}

static void softmax(const float *x, int n, float *p)
{
    float mx = x[0], sum = 0;
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        sum += p[i] = expf(x[i] - mx);
    for (int i = 0; i < n; i++)
        p[i] /= sum;
}

void enn_net_run(struct enn_net *net, const float *input, float *logits, float *probs)
{
    const struct enn_model *m = net->m;
    struct value *in = &net->values[0];
    for (int c = 0; c < m->input.c; c++)
        for (int y = 0; y < m->input.h; y++)
            memcpy(in->data + (size_t)c * in->plane + (size_t)(y + 1) * in->pw + 1,
                   input + ((size_t)c * (size_t)m->input.h + (size_t)y) * (size_t)m->input.w,
                   (size_t)m->input.w * sizeof *input);
    for (int k = 1; k <= m->n_nodes; k++) {
        switch (m->nodes[k - 1].op) {
        case ENN_OP_CONV: run_conv(net, k); break;
        case ENN_OP_GAP: run_gap(net, k); break;
        case ENN_OP_DENSE: run_dense(net, k); break;
        }
    }
    const float *last = net->values[m->n_nodes].data;
    if (logits)
        memcpy(logits, last, (size_t)m->n_classes * sizeof *logits);
    if (probs)
        softmax(last, m->n_classes, probs);
}

static void mirror_rows(float *x, int rows, int width)
{
    for (int r = 0; r < rows; r++, x += width)
        for (int a = 0, b = width - 1; a < b; a++, b--) {
            float t = x[a];
            x[a] = x[b];
            x[b] = t;
        }
}

void enn_net_classify(struct enn_net *net, const uint8_t *gray, int width, int height,
                      size_t stride, const struct enn_box *boxes, int n_boxes, float *probs)
{
    const struct enn_model *m = net->m;
    for (int i = 0; i < n_boxes; i++) {
        const struct enn_box *b = &boxes[i];
        if (b->angle != 0)
            enn_crop_rotated(gray, width, height, stride, b->x + b->w / 2, b->y + b->h / 2,
                             b->w > b->h ? b->w : b->h, b->angle, m->input.w, m->input.h,
                             m->mean, m->std, net->crop);
        else
            enn_crop_resize(gray, width, height, stride, b->x, b->y, b->w, b->h, m->input.w,
                            m->input.h, m->mean, m->std, net->crop);
        float *p = probs + (size_t)i * (size_t)m->n_classes;
        enn_net_run(net, net->crop, NULL, p);
        if (net->mirror) {
            float q[ENN_MAX_CLASSES];
            mirror_rows(net->crop, m->input.c * m->input.h, m->input.w);
            enn_net_run(net, net->crop, NULL, q);
            for (int c = 0; c < m->n_classes; c++)
                p[c] = 0.5f * (p[c] + q[c]);
        }
    }
}

void enn_net_set_mirror(struct enn_net *net, bool on)
{
    net->mirror = on;
}

bool enn_net_mirror(const struct enn_net *net)
{
    return net->mirror;
}

void enn_net_value(const struct enn_net *net, int id, float *dst)
{
    const struct value *v = &net->values[id];
    for (int c = 0; c < v->s.c; c++)
        for (int y = 0; y < v->s.h; y++)
            for (int x = 0; x < v->s.w; x++) {
                size_t at = v->spatial ? (size_t)(y + 1) * v->pw + (size_t)(x + 1) : 0;
                *dst++ = v->data[(size_t)c * v->plane + at];
            }
}
