#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "preprocess.h"
#include "qnet.h"
#include "slots.h"

/* Every spatial value lives in zero-bordered planes ((h + 2) x (w + 2), plus slack for
 * kernel overrun), so 3x3 'same' convolutions need no edge cases: a position walks the
 * flattened plane and each tap is a fixed offset. Vectors (after pooling) are plain.
 *
 * Values share buffers ("slots") when their lifetimes do not overlap: a value's slot is
 * free once the last node reading it has run. The input and the outputs keep their own
 * slots for the whole run. The plan depends on the input size; a fully convolutional
 * model is re-planned when that changes, reusing the arena when it is big enough. */
#define HEAD_SLACK 16
#define ALIGN_FLOATS 16
/* A sanity bound on one plan (the model's budget bounds each value) */
#define MAX_ARENA_BYTES (1024u << 20)

struct value {
    float *data;          /* first plane's top-left pad element */
    struct enn_shape s;
    size_t pw, plane;     /* padded row length, floats between planes */
    bool spatial;
    int slot;
};

struct conv_plan {
    const float *packed;  /* the plan's; per group: enn_packed_size(out_c / groups, k,
                             conv_mr) floats */
    ptrdiff_t *k_off;     /* [k]: taps of one group, from its first input channel */
    size_t k;             /* (in_c / groups) * kernel * kernel */
    size_t group_packed;  /* floats between groups in packed */
    bool depthwise;       /* 3x3 stride 1, one channel per group: dwconv3 */
};

/* One planned size: value layouts and where everything lives in the arena. */
struct plan {
    struct enn_shape *shapes;    /* [n_nodes + 1] */
    struct value *values;        /* [n_nodes + 1] */
    size_t *slot_floats;         /* [n_nodes + 1]: size of each slot in use */
    int n_slots;
};

struct enn_net {
    const struct enn_model *m;
    const struct enn_kernels *kern;
    struct plan cur, next;       /* next: scratch for re-planning, swapped on success */
    int *last_use;               /* [n_nodes + 1]: last node reading each value */
    struct conv_plan *convs;     /* per node (unused for others) */
    float *sum_scratch;          /* summed inputs of one node */
    float *panel;                /* stride-2 gather */
    float *crop;                 /* enn_net_classify's network input */
    float *logits;
    bool mirror;                 /* enn_net_classify averages crop and mirrored crop */
    bool keep_all;               /* every value keeps its own slot (enn_net_keep_values) */
    void *arena;
    size_t arena_bytes, weight_bytes;
    struct qnet *q;              /* an int8 model's runner (engine/qnet.c), else NULL */
    const struct enn_plan *plan;
    struct enn_plan *own_plan;   /* enn_net_create's, freed with the context */
    float *own_crop;             /* the int8 runner's crop buffer */
};

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static struct value plan_value(struct enn_shape s, bool spatial)
{
    struct value v = {.s = s, .spatial = spatial};
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
    return round_up(HEAD_SLACK + (size_t)v->s.c * v->plane + ENN_MAX_OVERRUN + ALIGN_FLOATS,
                    ALIGN_FLOATS);
}

static size_t panel_stride(struct enn_shape out)
{
    return round_up((size_t)out.h * ((size_t)out.w + 2), ALIGN_FLOATS);
}

static size_t panel_floats(const struct enn_node *n, struct enn_shape out)
{
    size_t k = (size_t)n->in.c * (size_t)(n->kernel * n->kernel);
    return k * panel_stride(out) + ENN_MAX_OVERRUN + ALIGN_FLOATS;
}

/* Slots by lifetime (engine/slots.c), sized for this plan's values. */
static void assign_slots(struct enn_net *net, struct plan *p)
{
    int n = net->m->n_nodes;
    size_t need[ENN_MAX_NODES + 1] = {0};
    int slot[ENN_MAX_NODES + 1];
    for (int id = 0; id <= n; id++)
        need[id] = value_floats(&p->values[id]);
    p->n_slots = enn_share_slots(net->last_use, n, need, slot, p->slot_floats);
    for (int id = 0; id <= n; id++)
        p->values[id].slot = slot[id];
}

/* Lays out the arena at base, in order, each buffer rounded up to ALIGN_FLOATS; returns
 * the floats used. With base NULL it only measures. */
static size_t carve_arena(struct enn_net *net, struct plan *p, float *base)
{
    const struct enn_model *m = net->m;
    size_t sum_max = 0, panel_max = 0, at = 0;
    size_t slot_at[ENN_MAX_NODES + 1];
    for (int s = 0; s < p->n_slots; s++) {
        slot_at[s] = at;
        at += p->slot_floats[s];
    }
    for (int id = 0; id <= m->n_nodes; id++)
        if (base)
            p->values[id].data = base + slot_at[p->values[id].slot] + HEAD_SLACK;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        size_t in_floats = value_floats(&p->values[n->inputs[0]]);
        if (n->n_inputs > 1 && in_floats > sum_max)
            sum_max = in_floats;
        if (n->op == ENN_OP_CONV && n->stride != 1 && panel_floats(n, p->shapes[k]) > panel_max)
            panel_max = panel_floats(n, p->shapes[k]);
    }
    if (base)
        net->sum_scratch = base + at + HEAD_SLACK;
    at += round_up(sum_max, ALIGN_FLOATS);
    if (base)
        net->panel = base + at;
    at += round_up(panel_max, ALIGN_FLOATS);
    if (m->n_classes > 0) {
        size_t in_size = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
        if (base)
            net->crop = base + at;
        at += round_up(in_size, ALIGN_FLOATS);
        if (base)
            net->logits = base + at;
        at += round_up((size_t)m->n_classes, ALIGN_FLOATS);
    }
    return at;
}

static void plan_offsets(struct enn_net *net)
{
    const struct enn_model *m = net->m;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct conv_plan *c = &net->convs[k - 1];
        if (n->op != ENN_OP_CONV || c->depthwise)
            continue;
        const struct value *in = &net->cur.values[n->inputs[0]];
        int kk = n->kernel * n->kernel, pad = n->kernel / 2, in_g = n->in.c / n->groups;
        size_t ps = panel_stride(net->cur.shapes[k]);
        for (int ic = 0; ic < in_g; ic++)
            for (int t = 0; t < kk; t++) {
                size_t i = (size_t)ic * (size_t)kk + (size_t)t;
                int ky = t / n->kernel, kx = t % n->kernel;
                c->k_off[i] = n->stride == 1
                    ? (ptrdiff_t)((size_t)ic * in->plane) +
                          (ptrdiff_t)(ky - pad) * (ptrdiff_t)in->pw + (kx - pad)
                    : (ptrdiff_t)(i * ps);
            }
    }
}

/* Plans for an input of height x width into net->next, then makes it current. On failure
 * the current plan stays. */
static int plan(struct enn_net *net, int height, int width, char *err, size_t errlen)
{
    const struct enn_model *m = net->m;
    struct plan *p = &net->next;
    if (enn_model_shapes(m, height, width, p->shapes, err, errlen))
        return -1;
    for (int id = 0; id <= m->n_nodes; id++)
        p->values[id] = plan_value(p->shapes[id], !enn_model_is_vector(m, id));
    assign_slots(net, p);
    size_t bytes = round_up(carve_arena(net, p, NULL) * sizeof(float), 64);
    if (bytes > MAX_ARENA_BYTES) {
        snprintf(err, errlen, "planning the network for %dx%d needs %zu MiB of activations "
                 "(more than %u MiB)", width, height, bytes >> 20, MAX_ARENA_BYTES >> 20);
        return -1;
    }
    if (bytes > net->arena_bytes) {
        void *arena = aligned_alloc(64, bytes);
        if (!arena) {
            snprintf(err, errlen, "out of memory planning the network for %dx%d (%zu bytes)",
                     width, height, bytes);
            return -1;
        }
        memset(arena, 0, bytes);   /* no lane ever reads uninitialised memory */
        free(net->arena);
        net->arena = arena;
        net->arena_bytes = bytes;
    }
    carve_arena(net, p, net->arena);
    /* The input's borders are never written by a run, so they are cleared here; every
       other value clears its own after each run, and what a re-plan leaves in the slack
       only reaches results that are discarded. */
    memset(p->values[0].data - HEAD_SLACK, 0, value_floats(&p->values[0]) * sizeof(float));
    struct plan t = net->cur;
    net->cur = *p;
    *p = t;
    plan_offsets(net);
    return 0;
}

static void compute_last_use(struct enn_net *net)
{
    enn_last_uses(net->m, net->keep_all, net->last_use);
}

static int plan_alloc(struct plan *p, int n_nodes)
{
    size_t n = (size_t)n_nodes + 1;
    p->shapes = calloc(n, sizeof *p->shapes);
    p->values = calloc(n, sizeof *p->values);
    p->slot_floats = calloc(n, sizeof *p->slot_floats);
    return p->shapes && p->values && p->slot_floats ? 0 : -1;
}

static void plan_free(struct plan *p)
{
    free(p->shapes);
    free(p->values);
    free(p->slot_floats);
}

/* What every context of a model shares, made once: the kernel set and the packed
 * weights (float: per conv, blocked for enn_conv_job; int8: engine/qnet.c's packs). */
struct enn_plan {
    const struct enn_model *m;
    const struct enn_kernels *kern;
    float **packed;              /* float models: per node, NULL for all but convs */
    struct qpack *qpacks;        /* int8 models */
    size_t weight_bytes;
};

/* The layout of a conv's packed weights for kernel set kern: one block per group. */
static void conv_shape(const struct enn_node *n, const struct enn_kernels *kern,
                       struct conv_plan *c)
{
    int in_g = n->in.c / n->groups, out_g = n->out.c / n->groups;
    c->k = (size_t)in_g * (size_t)(n->kernel * n->kernel);
    c->depthwise = in_g == 1 && out_g == 1 && n->kernel == 3 && n->stride == 1;
    c->group_packed = round_up(enn_packed_size(out_g, c->k, kern->conv_mr), ALIGN_FLOATS);
}

static int pack_convs(struct enn_plan *p)
{
    const struct enn_model *m = p->m;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        if (n->op != ENN_OP_CONV)
            continue;
        struct conv_plan c;
        conv_shape(n, p->kern, &c);
        if (c.depthwise)
            continue;   /* dwconv3 reads the model's weights as they are */
        int out_g = n->out.c / n->groups;
        size_t floats = c.group_packed * (size_t)n->groups;
        float *packed = p->packed[k - 1] = aligned_alloc(64, round_up(floats * sizeof(float), 64));
        if (!packed)
            return -1;
        p->weight_bytes += floats * sizeof(float);
        for (int g = 0; g < n->groups; g++)
            enn_pack_weights(n->weights + (size_t)g * (size_t)out_g * c.k, out_g, c.k,
                             p->kern->conv_mr, packed + (size_t)g * c.group_packed);
    }
    return 0;
}

int enn_plan_create(const struct enn_model *m, struct enn_plan **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    const struct enn_kernels *kern = enn_kernels_select(err, errlen);
    if (!kern)
        return -1;
    struct enn_plan *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->m = m;
    p->kern = kern;
    if (m->precision == ENN_PRECISION_INT8) {
        if (qnet_pack(m, &p->qpacks, &p->weight_bytes, err, errlen)) {
            free(p);
            return -1;
        }
    } else if (!(p->packed = calloc((size_t)m->n_nodes, sizeof *p->packed)) || pack_convs(p)) {
        goto oom;
    }
    *out = p;
    return 0;
oom:
    snprintf(err, errlen, "out of memory packing the network's weights");
    enn_plan_free(p);
    return -1;
}

void enn_plan_free(struct enn_plan *p)
{
    if (!p)
        return;
    for (int k = 0; p->packed && k < p->m->n_nodes; k++)
        free(p->packed[k]);
    free(p->packed);
    qnet_pack_free(p->m, p->qpacks);
    free(p);
}

size_t enn_plan_memory(const struct enn_plan *p)
{
    return p->weight_bytes;
}

const char *enn_plan_isa(const struct enn_plan *p)
{
    return p->kern->name;
}

/* This context's view of the plan's convs: shapes, and tap offsets of its own (they
 * depend on the planned size). */
static int conv_offsets_alloc(struct enn_net *net, const struct enn_plan *p)
{
    const struct enn_model *m = net->m;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        if (n->op != ENN_OP_CONV)
            continue;
        struct conv_plan *c = &net->convs[k - 1];
        conv_shape(n, p->kern, c);
        if (c->depthwise)
            continue;
        c->packed = p->packed[k - 1];
        if (!(c->k_off = malloc(c->k * sizeof *c->k_off)))
            return -1;
        net->weight_bytes += c->k * sizeof *c->k_off;
    }
    return 0;
}

int enn_net_create_shared(const struct enn_plan *p, struct enn_net **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    const struct enn_model *m = p->m;
    struct enn_net *net = calloc(1, sizeof *net);
    if (!net)
        goto oom;
    net->m = m;
    net->kern = p->kern;
    net->plan = p;
    if (m->precision == ENN_PRECISION_INT8) {
        size_t in_size = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
        if (qnet_create(m, p->kern, p->qpacks, &net->q, err, errlen)) {
            free(net);
            return -1;
        }
        if (m->n_classes > 0 && !(net->crop = net->own_crop = malloc(in_size * sizeof(float))))
            goto oom;
        *out = net;
        return 0;
    }
    net->last_use = calloc((size_t)m->n_nodes + 1, sizeof *net->last_use);
    net->convs = calloc((size_t)m->n_nodes, sizeof *net->convs);
    if (!net->last_use || !net->convs || plan_alloc(&net->cur, m->n_nodes) ||
        plan_alloc(&net->next, m->n_nodes) || conv_offsets_alloc(net, p))
        goto oom;
    compute_last_use(net);
    if (plan(net, m->input.h, m->input.w, err, errlen)) {
        enn_net_free(net);
        return -1;
    }
    *out = net;
    return 0;
oom:
    snprintf(err, errlen, "out of memory planning the network");
    enn_net_free(net);
    return -1;
}

int enn_net_create(const struct enn_model *m, struct enn_net **out, char *err, size_t errlen)
{
    struct enn_plan *p;
    if (enn_plan_create(m, &p, err, errlen))
        return -1;
    if (enn_net_create_shared(p, out, err, errlen)) {
        enn_plan_free(p);
        return -1;
    }
    (*out)->own_plan = p;
    return 0;
}

void enn_net_free(struct enn_net *net)
{
    if (!net)
        return;
    qnet_free(net->q);
    free(net->own_crop);
    for (int k = 0; net->convs && k < net->m->n_nodes; k++)
        free(net->convs[k].k_off);
    free(net->convs);
    free(net->last_use);
    plan_free(&net->cur);
    plan_free(&net->next);
    free(net->arena);
    enn_plan_free(net->own_plan);
    free(net);
}

int enn_net_resize(struct enn_net *net, int height, int width, char *err, size_t errlen)
{
    if (net->q)
        return qnet_resize(net->q, height, width, err, errlen);
    struct enn_shape s = net->cur.shapes[0];
    if (s.h == height && s.w == width)
        return 0;
    return plan(net, height, width, err, errlen);
}

int enn_net_keep_values(struct enn_net *net, char *err, size_t errlen)
{
    if (net->q)
        return qnet_keep_values(net->q, err, errlen);
    net->keep_all = true;
    compute_last_use(net);
    struct enn_shape s = net->cur.shapes[0];
    if (plan(net, s.h, s.w, err, errlen) == 0)
        return 0;
    net->keep_all = false;   /* the shared plan stays, and so does the mode */
    compute_last_use(net);
    return -1;
}

struct enn_shape enn_net_input_shape(const struct enn_net *net)
{
    if (net->q)
        return qnet_input_shape(net->q);
    return net->cur.shapes[0];
}

float *enn_net_input(struct enn_net *net, size_t *row, size_t *plane)
{
    if (net->q)
        return qnet_input(net->q, row, plane);
    struct value *v = &net->cur.values[0];
    *row = v->pw;
    *plane = v->plane;
    return v->data + v->pw + 1;
}

struct enn_view enn_net_output(const struct enn_net *net, int index)
{
    if (net->q)
        return qnet_output(net->q, index);
    const struct value *v = &net->cur.values[net->m->outputs[index].value];
    size_t first = v->spatial ? v->pw + 1 : 0;
    return (struct enn_view){v->data + first, v->s, v->pw, v->plane};
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
    return enn_net_context_memory(net) + net->plan->weight_bytes;
}

size_t enn_net_context_memory(const struct enn_net *net)
{
    if (net->q)
        return qnet_memory(net->q) + (net->own_crop ? (size_t)net->m->input.c *
                                      (size_t)net->m->input.h * (size_t)net->m->input.w *
                                      sizeof(float) : 0);
    return net->arena_bytes + net->weight_bytes;
}

/* The node's input: the value itself, or the element-wise sum of several, materialised
 * once so the convolution reads one buffer (cheaper than adding inside the kernel, which
 * would repeat the sum for every block of output channels). Borders stay zero because
 * they are zero in every addend. */
static const struct value *gather_input(struct enn_net *net, const struct enn_node *n,
                                        struct value *tmp)
{
    const struct value *first = &net->cur.values[n->inputs[0]];
    if (n->n_inputs == 1)
        return first;
    *tmp = *first;
    tmp->data = net->sum_scratch;
    size_t len = (size_t)first->s.c * first->plane;
    const float *a = first->data, *b = net->cur.values[n->inputs[1]].data;
    for (size_t i = 0; i < len; i++)
        tmp->data[i] = a[i] + b[i];
    for (int j = 2; j < n->n_inputs; j++) {
        const float *c = net->cur.values[n->inputs[j]].data;
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
    size_t ps = panel_stride(out->s), pwo = out->pw;
    for (int ic = 0; ic < n->in.c; ic++) {
        const float *src = in->data + (size_t)ic * in->plane;
        for (int t = 0; t < kk; t++) {
            int ky = t / n->kernel, kx = t % n->kernel;
            float *dst = panel + ((size_t)ic * (size_t)kk + (size_t)t) * ps;
            for (int oy = 0; oy < out->s.h; oy++) {
                const float *row = src + (size_t)(2 * oy + ky - pad + 1) * in->pw;
                float *d = dst + (size_t)oy * pwo;
                d[0] = 0;
                for (int ox = 0; ox < out->s.w; ox++)
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
    struct value *out = &net->cur.values[k];
    size_t count = (size_t)out->s.h * out->pw;
    if (c->depthwise) {
        for (int ch = 0; ch < n->out.c; ch++)
            net->kern->dwconv3(in->data + (size_t)ch * in->plane + in->pw,
                               out->data + (size_t)ch * out->plane + out->pw, count, in->pw,
                               n->weights + 9 * (size_t)ch, n->bias[ch], n->relu);
    } else {
        int in_g = n->in.c / n->groups, out_g = n->out.c / n->groups;
        const float *src = in->data + in->pw;
        size_t group_in = (size_t)in_g * in->plane;
        if (n->stride != 1) {
            fill_panel(net->panel, n, in, out);
            src = net->panel;
            group_in = c->k * panel_stride(out->s);
        }
        for (int g = 0; g < n->groups; g++) {
            struct enn_conv_job job = {
                .out_c = out_g, .k = c->k, .packed = c->packed + (size_t)g * c->group_packed,
                .bias = n->bias + (size_t)g * (size_t)out_g, .k_off = c->k_off,
                .in = src + (size_t)g * group_in,
                .out = out->data + out->pw + (size_t)g * (size_t)out_g * out->plane,
                .out_plane = out->plane, .count = count, .relu = n->relu,
            };
            net->kern->conv(&job);
        }
    }
    if (n->sigmoid)
        for (int ch = 0; ch < n->out.c; ch++)
            net->kern->sigmoid(out->data + (size_t)ch * out->plane + out->pw, count);
    zero_borders(out);
}

static void run_resample(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    struct value tmp;
    const struct value *in = gather_input(net, n, &tmp);
    struct value *out = &net->cur.values[k];
    for (int ch = 0; ch < out->s.c; ch++) {
        const float *src = in->data + (size_t)ch * in->plane + in->pw + 1;
        float *dst = out->data + (size_t)ch * out->plane + out->pw + 1;
        if (n->op == ENN_OP_MAXPOOL)
            net->kern->maxpool2(src, in->pw, dst, out->pw, out->s.h, out->s.w);
        else
            net->kern->upsample2(src, in->pw, dst, out->pw, in->s.h, in->s.w);
    }
    zero_borders(out);
}

static void run_gap(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    const struct value *first = &net->cur.values[n->inputs[0]];
    float *dst = net->cur.values[k].data;
    float scale = 1.0f / (float)(first->s.h * first->s.w);
    for (int ch = 0; ch < first->s.c; ch++) {
        float acc = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            const struct value *v = &net->cur.values[n->inputs[i]];
            const float *p = v->data + (size_t)ch * v->plane;
            if (!v->spatial) {
                acc += p[0];
                continue;
            }
            for (int y = 1; y <= v->s.h; y++)
                for (int x = 1; x <= v->s.w; x++)
                    acc += p[(size_t)y * v->pw + (size_t)x];
        }
        dst[ch] = acc * scale;
    }
}

void enn_dense_forward(const struct enn_node *n, const float *const *inputs, float *dst)
{
    for (int o = 0; o < n->out.c; o++) {
        float acc = n->bias[o];
        const float *w = n->weights + (size_t)o * (size_t)n->in.c;
        for (int i = 0; i < n->n_inputs; i++)
            for (int j = 0; j < n->in.c; j++)
                acc += w[j] * inputs[i][j];
        dst[o] = n->relu && acc < 0 ? 0 : acc;
    }
}

static void run_dense(struct enn_net *net, int k)
{
    const struct enn_node *n = &net->m->nodes[k - 1];
    const float *x[ENN_MAX_INPUTS];
    for (int i = 0; i < n->n_inputs; i++)
        x[i] = net->cur.values[n->inputs[i]].data;
    enn_dense_forward(n, x, net->cur.values[k].data);
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

void enn_net_forward(struct enn_net *net)
{
    const struct enn_model *m = net->m;
    if (net->q) {
        qnet_forward(net->q);
        return;
    }
    for (int k = 1; k <= m->n_nodes; k++) {
        switch (m->nodes[k - 1].op) {
        case ENN_OP_CONV: run_conv(net, k); break;
        case ENN_OP_GAP: run_gap(net, k); break;
        case ENN_OP_DENSE: run_dense(net, k); break;
        case ENN_OP_MAXPOOL:
        case ENN_OP_UPSAMPLE: run_resample(net, k); break;
        }
    }
}

void enn_net_run(struct enn_net *net, const float *input, float *logits, float *probs)
{
    const struct enn_model *m = net->m;
    size_t row, plane;
    float *in = enn_net_input(net, &row, &plane);
    struct enn_shape s = enn_net_input_shape(net);
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            memcpy(in + (size_t)c * plane + (size_t)y * row,
                   input + ((size_t)c * (size_t)s.h + (size_t)y) * (size_t)s.w,
                   (size_t)s.w * sizeof *input);
    enn_net_forward(net);
    const float *last = enn_net_output(net, 0).data;
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

void enn_box_sample(const uint8_t *gray, int width, int height, size_t stride,
                    const struct enn_box *b, int out_w, int out_h, float mean, float std,
                    float *dst)
{
    if (b->angle != 0)
        enn_crop_rotated(gray, width, height, stride, b->x + b->w / 2, b->y + b->h / 2,
                         b->w > b->h ? b->w : b->h, b->angle, out_w, out_h, mean, std, dst);
    else
        enn_crop_resize(gray, width, height, stride, b->x, b->y, b->w, b->h, out_w, out_h,
                        mean, std, dst);
}

void enn_net_classify(struct enn_net *net, const uint8_t *gray, int width, int height,
                      size_t stride, const struct enn_box *boxes, int n_boxes, float *probs)
{
    const struct enn_model *m = net->m;
    for (int i = 0; i < n_boxes; i++) {
        enn_box_sample(gray, width, height, stride, &boxes[i], m->input.w, m->input.h, m->mean,
                       m->std, net->crop);
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
    if (net->q) {
        qnet_value(net->q, id, dst);
        return;
    }
    const struct value *v = &net->cur.values[id];
    for (int c = 0; c < v->s.c; c++)
        for (int y = 0; y < v->s.h; y++)
            for (int x = 0; x < v->s.w; x++) {
                size_t at = v->spatial ? (size_t)(y + 1) * v->pw + (size_t)(x + 1) : 0;
                *dst++ = v->data[(size_t)c * v->plane + at];
            }
}
