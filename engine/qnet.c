/* Running int8 models (docs/model-format.md, "Int8 models").
 *
 * A quantised map lives in zero-point-bordered planes like the float runner's, but each
 * position holds four channels' bytes (a "quad"), so that the dot-product kernels read
 * four channels with one load, and rows share one border column: a padded row is w + 1
 * positions, its first the left border, so the position right of a row's last is the
 * next row's left border (and below the bottom border row, one more position). Kernels
 * walk whole padded rows, so this computes fewer positions than a border on each side
 * (12x12: 156 against 168). Channel counts round up to quads; the spare lanes hold
 * the zero point (their weights are zero, so any value would do, but a defined one keeps
 * every byte of a run reproducible). Vectors and the maps that are outputs are float.
 * Buffers are shared by lifetime as in net.c. */
#define _POSIX_C_SOURCE 200809L
#include "qnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "requant.h"
#include "slots.h"

#define HEAD_BYTES 64    /* a 3x3 tap reaches one position before the first plane */
#define ALIGN_BYTES 64
#define QMAX 127
#define MAX_ARENA_BYTES (1024u << 20)
_Static_assert(ENN_MAX_SUM >= ENN_MAX_INPUTS, "qsum adds every input of a node");

struct qvalue {
    uint8_t *data;        /* quantised map: top-left pad position of the first quad */
    float *f;             /* float value: vector [c], or map [c][h][w] */
    struct enn_shape s;
    size_t pw, plane;     /* map: padded row in positions, bytes between quads */
    int quads, zero;
    bool is_float;
    int slot;
};

struct qconv {
    const int8_t *packed; /* the plan's (pack_one) */
    const int32_t *bias;  /* zero-point correction folded in; padded to quads */
    const float *scale;   /* requantisation, or dequantisation for a float output */
    ptrdiff_t *k_off;     /* [steps] in the plan's order, this context's */
    const uint32_t *order;
    size_t steps, quad_steps;
    bool depthwise;       /* 3x3 stride 1, one channel per group */
    bool taps_in_lanes;   /* the plan's (taps_in_lanes) */
    bool pairs;           /* the plan's */
};

struct qplan {
    struct enn_shape *shapes;
    struct qvalue *values;
    size_t *slot_bytes;
    int n_slots;
    size_t panel_stride;  /* positions between the stride-2 panel's rows of taps */
};

struct qnet {
    const struct enn_model *m;
    const struct enn_kernels *kern;
    struct qplan cur, next;
    int *last_use;
    struct qconv *convs;
    uint8_t *sum_scratch; /* one node's requantised summed inputs */
    uint8_t *panel;       /* stride-2 gather */
    int32_t *acc;         /* a float output's accumulators */
    size_t acc_plane;
    float *input;         /* the caller's float input [c][h][w] */
    bool keep_all;
    bool taps_in_lanes;   /* the input's reader takes its taps from lanes (taps_in_lanes) */
    void *arena;
    size_t arena_bytes, weight_bytes;   /* weight_bytes: the tap offsets */
};

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static struct enn_qparam in_qparam(const struct enn_model *m, int k)
{
    const struct enn_node *n = &m->nodes[k - 1];
    return enn_model_has_qsum(m, k) ? n->qsum : m->qvalues[n->inputs[0]];
}

static struct qvalue plan_value(const struct enn_model *m, int id, struct enn_shape s)
{
    struct qvalue v = {.s = s, .is_float = enn_model_value_is_float(m, id)};
    v.pw = (size_t)s.w + 1;   /* a float map's conv still walks padded rows */
    if (v.is_float)
        return v;
    v.quads = (s.c + 3) / 4;
    v.zero = m->qvalues[id].zero;
    v.plane = round_up((((size_t)s.h + 2) * v.pw + 1) * 4 + 4 * (ENN_MAX_OVERRUN + 2),
                       ALIGN_BYTES);
    return v;
}

static size_t value_bytes(const struct qvalue *v)
{
    if (v->is_float)
        return round_up((size_t)v->s.c * (size_t)v->s.h * (size_t)v->s.w * sizeof(float),
                        ALIGN_BYTES);
    return round_up(HEAD_BYTES + (size_t)v->quads * v->plane + 4 * ENN_MAX_OVERRUN,
                    ALIGN_BYTES) + ALIGN_BYTES;
}

/* A 1x1 stride-2 conv reads a quarter of its input: with several inputs, each one's
 * samples are gathered first and only those are summed (the sum is element-wise, so the
 * bytes are the same as gathering the sum). */
static bool sums_after_gather(const struct enn_node *n)
{
    return n->op == ENN_OP_CONV && n->kernel == 1 && n->stride != 1 && n->n_inputs > 1;
}

/* A one-channel input used only by a 3x3 stride-1 conv (the classifiers' first node)
 * would fill a quarter of each quad and take 9 steps. Instead each input position holds
 * the pixel and its left and right neighbours (lanes 0, 1, 2; the pixel in lane 0, where
 * a one-channel map keeps it), and that conv takes 3 steps, one per kernel row. */
static bool taps_in_lanes(const struct enn_model *m, int k)
{
    const struct enn_node *n = &m->nodes[k - 1];
    if (m->input.c != 1 || n->op != ENN_OP_CONV || n->kernel != 3 || n->stride != 1 ||
        n->groups != 1 || n->n_inputs != 1 || n->inputs[0] != 0)
        return false;
    for (int j = 1; j <= m->n_nodes; j++)
        for (int i = 0; i < m->nodes[j - 1].n_inputs; i++)
            if (j != k && m->nodes[j - 1].inputs[i] == 0)
                return false;
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o].value == 0)
            return false;
    return true;
}

/* Which lane holds kernel column kx when taps_in_lanes. */
static int lane_of_column(int kx)
{
    return kx == 1 ? 0 : kx == 0 ? 1 : 2;
}

/* positions of a stride-2 output's padded rows */
static size_t panel_stride(struct enn_shape out)
{
    return round_up((size_t)out.h * ((size_t)out.w + 1), 16);
}

/* The arena: slots, then the sum scratch, the stride-2 panel, the accumulators of float
 * outputs and the float input. With base NULL it only measures. */
static size_t carve(struct qnet *q, struct qplan *p, uint8_t *base)
{
    const struct enn_model *m = q->m;
    size_t at = 0, slot_at[ENN_MAX_NODES + 1], sum_max = 0, panel_max = 0, acc_max = 0;
    for (int s = 0; s < p->n_slots; s++) {
        slot_at[s] = at;
        at += p->slot_bytes[s];
    }
    for (int id = 0; id <= m->n_nodes && base; id++) {
        struct qvalue *v = &p->values[id];
        if (v->is_float)
            v->f = (float *)(void *)(base + slot_at[v->slot]);
        else
            v->data = base + slot_at[v->slot] + HEAD_BYTES;
    }
    /* one panel stride for every stride-2 conv: the k_off of each are planned with it */
    p->panel_stride = 0;
    for (int k = 1; k <= m->n_nodes; k++)
        if (m->nodes[k - 1].op == ENN_OP_CONV && m->nodes[k - 1].stride != 1 &&
            panel_stride(p->shapes[k]) > p->panel_stride)
            p->panel_stride = panel_stride(p->shapes[k]);
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        const struct qvalue *in = &p->values[n->inputs[0]], *out = &p->values[k];
        if (enn_model_has_qsum(m, k) && !sums_after_gather(n) && value_bytes(in) > sum_max)
            sum_max = value_bytes(in);
        if (n->op != ENN_OP_CONV)
            continue;
        if (n->stride != 1) {
            size_t panels = sums_after_gather(n) ? (size_t)n->n_inputs + 1 : 1;
            size_t bytes = panels * (size_t)in->quads * (size_t)(n->kernel * n->kernel) *
                           p->panel_stride * 4 + 4 * ENN_MAX_OVERRUN + ALIGN_BYTES;
            panel_max = bytes > panel_max ? bytes : panel_max;
        }
        if (out->is_float) {
            size_t plane = round_up((size_t)out->s.h * out->pw +
                                    ENN_MAX_OVERRUN, 16);
            size_t bytes = round_up((size_t)out->s.c, 4) * plane * sizeof(int32_t);
            acc_max = bytes > acc_max ? bytes : acc_max;
        }
    }
    if (base)
        q->sum_scratch = base + at + HEAD_BYTES;
    at += round_up(sum_max, ALIGN_BYTES);
    if (base)
        q->panel = base + at;
    at += round_up(panel_max, ALIGN_BYTES);
    if (base)
        q->acc = (int32_t *)(void *)(base + at);
    at += round_up(acc_max, ALIGN_BYTES);
    if (base)
        q->input = (float *)(void *)(base + at);
    struct enn_shape s = p->shapes[0];
    at += round_up((size_t)s.c * (size_t)s.h * (size_t)s.w * sizeof(float), ALIGN_BYTES);
    return at;
}

/* A map's border positions and, over the whole plane, nothing else: its zero point.
 * The bottom border row has one position more: the last row's right border. */
static void fill_borders(const struct qvalue *v)
{
    for (int j = 0; j < v->quads; j++) {
        uint8_t *p = v->data + (size_t)j * v->plane;
        memset(p, v->zero, v->pw * 4);
        memset(p + (size_t)(v->s.h + 1) * v->pw * 4, v->zero, (v->pw + 1) * 4);
        for (int y = 1; y <= v->s.h; y++)
            memset(p + (size_t)y * v->pw * 4, v->zero, 4);
    }
}

static void plan_offsets(struct qnet *q)
{
    const struct enn_model *m = q->m;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct qconv *c = &q->convs[k - 1];
        if (n->op != ENN_OP_CONV || c->depthwise)
            continue;
        const struct qvalue *in = &q->cur.values[n->inputs[0]];
        int kk = n->kernel * n->kernel, pad = n->kernel / 2;
        for (size_t i = 0; i < c->steps && c->taps_in_lanes; i++)   /* a step a row */
            c->k_off[i] = ((ptrdiff_t)c->order[i] - 1) * (ptrdiff_t)in->pw;
        for (size_t i = 0; i < c->steps && !c->taps_in_lanes; i++) {
            size_t s = c->order[i];
            int j = (int)(s / (size_t)kk), t = (int)(s % (size_t)kk);
            int ky = t / n->kernel, kx = t % n->kernel;
            c->k_off[i] = n->stride == 1
                ? (ptrdiff_t)((size_t)j * in->plane / 4) + (ptrdiff_t)(ky - pad) *
                      (ptrdiff_t)in->pw + (kx - pad)
                : (ptrdiff_t)(s * q->cur.panel_stride);
        }
    }
}

static int plan(struct qnet *q, int height, int width, char *err, size_t errlen)
{
    const struct enn_model *m = q->m;
    struct qplan *p = &q->next;
    if (enn_model_shapes(m, height, width, p->shapes, err, errlen))
        return -1;
    size_t need[ENN_MAX_NODES + 1] = {0};
    int slot[ENN_MAX_NODES + 1];
    for (int id = 0; id <= m->n_nodes; id++) {
        p->values[id] = plan_value(m, id, p->shapes[id]);
        need[id] = value_bytes(&p->values[id]);
    }
    p->n_slots = enn_share_slots(q->last_use, m->n_nodes, need, slot, p->slot_bytes);
    for (int id = 0; id <= m->n_nodes; id++)
        p->values[id].slot = slot[id];
    size_t bytes = carve(q, p, NULL);
    if (bytes > MAX_ARENA_BYTES) {
        snprintf(err, errlen, "planning the int8 network for %dx%d needs %zu MiB (more than "
                 "%u MiB)", width, height, bytes >> 20, MAX_ARENA_BYTES >> 20);
        return -1;
    }
    if (bytes > q->arena_bytes) {
        void *arena = aligned_alloc(ALIGN_BYTES, bytes);
        if (!arena) {
            snprintf(err, errlen, "out of memory planning the network for %dx%d (%zu bytes)",
                     width, height, bytes);
            return -1;
        }
        memset(arena, 0, bytes);
        free(q->arena);
        q->arena = arena;
        q->arena_bytes = bytes;
    }
    carve(q, p, q->arena);
    /* The input's spare lanes and borders are never written by a run. */
    struct qvalue *in = &p->values[0];
    memset(in->data, in->zero, (size_t)in->quads * in->plane);
    struct qplan t = q->cur;
    q->cur = *p;
    *p = t;
    plan_offsets(q);
    return 0;
}

static int qplan_alloc(struct qplan *p, int n_nodes)
{
    size_t n = (size_t)n_nodes + 1;
    p->shapes = calloc(n, sizeof *p->shapes);
    p->values = calloc(n, sizeof *p->values);
    p->slot_bytes = calloc(n, sizeof *p->slot_bytes);
    return p->shapes && p->values && p->slot_bytes ? 0 : -1;
}

static void qplan_free(struct qplan *p)
{
    free(p->shapes);
    free(p->values);
    free(p->slot_bytes);
}

/* What the int8 runner does not cover, named before anything is allocated. */
static int check_supported(const struct enn_model *m, char *err, size_t errlen)
{
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        if (n->op == ENN_OP_CONV && n->groups != 1 &&
            !(n->groups == n->in.c && n->groups == n->out.c && n->kernel == 3 &&
              n->stride == 1)) {
            snprintf(err, errlen, "node %d: int8 runs grouped convolution only as depthwise "
                     "3x3 stride 1", k);
            return -1;
        }
    }
    return 0;
}

/* Packs weights and folds each conv's input zero point into its bias:
 * sum w * (x - z) = sum w * x - z * sum w. */
static int pack_one(const struct enn_model *m, int k, struct qpack *c, size_t *bytes)
{
    const struct enn_node *n = &m->nodes[k - 1];
    struct enn_qparam in = in_qparam(m, k);
    int kk = n->kernel * n->kernel, in_g = n->in.c / n->groups;
    size_t outs = round_up((size_t)n->out.c, 4);
    c->bias = calloc(outs, sizeof *c->bias);
    c->scale = calloc(outs, sizeof *c->scale);
    if (!c->bias || !c->scale)
        return -1;
    double s_out = enn_model_value_is_float(m, k) ? 1.0 : (double)m->qvalues[k].scale;
    for (int o = 0; o < n->out.c; o++) {
        int64_t wsum = 0;
        for (int i = 0; i < in_g * kk; i++)
            wsum += n->qweights[(size_t)o * (size_t)(in_g * kk) + (size_t)i];
        c->bias[o] = (int32_t)((int64_t)n->qbias[o] - (int64_t)in.zero * wsum);
        c->scale[o] = (float)((double)in.scale * (double)n->wscale[o] / s_out);
    }
    *bytes += outs * (sizeof *c->bias + sizeof *c->scale);
    /* depthwise: [quad][tap][4 channels]; else enn_qpack_weights' layout (with taps in
       lanes: 3 lanes, 3 taps) */
    c->taps_in_lanes = taps_in_lanes(m, k);
    size_t size = n->groups > 1 ? outs * 9
                  : c->taps_in_lanes ? enn_qpacked_size(n->out.c, 3, 3)
                                     : enn_qpacked_size(n->out.c, n->in.c, kk);
    if (!(c->packed = aligned_alloc(ALIGN_BYTES, round_up(size, ALIGN_BYTES))))
        return -1;
    if (n->groups > 1) {
        memset(c->packed, 0, size);
        for (int ch = 0; ch < n->out.c; ch++)
            for (int t = 0; t < 9; t++)
                c->packed[(size_t)(ch / 4) * 36 + (size_t)t * 4 + (size_t)(ch % 4)] =
                    n->qweights[(size_t)ch * 9 + (size_t)t];
    } else {
        /* with taps in lanes: 3 input "channels" (the lanes), 3 taps (the rows) */
        const int8_t *w = n->qweights;
        int in_c = n->in.c, taps = kk;
        int8_t *moved = NULL;
        if (c->taps_in_lanes) {
            if (!(moved = malloc((size_t)n->out.c * 9)))
                return -1;
            for (int o = 0; o < n->out.c; o++)
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        moved[(o * 3 + lane_of_column(kx)) * 3 + ky] = w[o * 9 + ky * 3 + kx];
            w = moved, in_c = 3, taps = 3;
        }
        size_t steps = (size_t)((in_c + 3) / 4) * (size_t)taps;
        if (!(c->order = malloc(steps * sizeof *c->order))) {
            free(moved);
            return -1;
        }
        c->quad_steps = enn_qorder_steps(w, n->out.c, in_c, taps, c->order);
        enn_qpack_weights(w, n->out.c, in_c, taps, c->order, c->packed);
        free(moved);
        if (!enn_qgroups_fit(c->packed, n->out.c, steps, 0, c->quad_steps, 4))
            c->quad_steps = 0;   /* (enn_qorder_steps only forms groups that fit) */
        size_t rest = (steps - c->quad_steps) / 2 * 2;
        c->pairs = enn_qgroups_fit(c->packed, n->out.c, steps, c->quad_steps, rest, 2);
        *bytes += steps * sizeof *c->order;
    }
    *bytes += size;
    return 0;
}

int qnet_pack(const struct enn_model *m, struct qpack **out, size_t *bytes, char *err,
              size_t errlen)
{
    *out = NULL;
    if (check_supported(m, err, errlen))
        return -1;
    size_t n_nodes = m->n_nodes > 0 ? (size_t)m->n_nodes : 0;   /* (the parser made it so) */
    struct qpack *packs = calloc(n_nodes, sizeof *packs);
    if (!packs)
        goto oom;
    for (int k = 1; k <= m->n_nodes; k++)
        if (m->nodes[k - 1].op == ENN_OP_CONV && pack_one(m, k, &packs[k - 1], bytes))
            goto oom;
    *out = packs;
    return 0;
oom:
    snprintf(err, errlen, "out of memory packing the int8 network");
    qnet_pack_free(m, packs);
    return -1;
}

void qnet_pack_free(const struct enn_model *m, struct qpack *packs)
{
    for (int k = 0; packs && k < m->n_nodes; k++) {
        free(packs[k].packed);
        free(packs[k].bias);
        free(packs[k].scale);
        free(packs[k].order);
    }
    free(packs);
}

/* This context's view of the plan's convs, with tap offsets of its own. */
static int convs_alloc(struct qnet *q, const struct qpack *packs)
{
    const struct enn_model *m = q->m;
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        if (n->op != ENN_OP_CONV)
            continue;
        struct qconv *c = &q->convs[k - 1];
        c->packed = packs[k - 1].packed;
        c->bias = packs[k - 1].bias;
        c->scale = packs[k - 1].scale;
        c->order = packs[k - 1].order;
        c->quad_steps = packs[k - 1].quad_steps;
        c->taps_in_lanes = packs[k - 1].taps_in_lanes;
        q->taps_in_lanes |= c->taps_in_lanes;
        c->pairs = packs[k - 1].pairs;
        c->depthwise = n->groups > 1;
        if (c->depthwise)
            continue;
        c->steps = c->taps_in_lanes ? 3
                   : (size_t)((n->in.c + 3) / 4) * (size_t)(n->kernel * n->kernel);
        if (!(c->k_off = calloc(c->steps, sizeof *c->k_off)))
            return -1;
        q->weight_bytes += c->steps * sizeof *c->k_off;
    }
    return 0;
}

int qnet_create(const struct enn_model *m, const struct enn_kernels *kern,
                const struct qpack *packs, struct qnet **out, char *err, size_t errlen)
{
    *out = NULL;
    struct qnet *q = calloc(1, sizeof *q);
    if (!q)
        goto oom;
    q->m = m;
    q->kern = kern;
    q->last_use = calloc((size_t)m->n_nodes + 1, sizeof *q->last_use);
    q->convs = calloc((size_t)m->n_nodes, sizeof *q->convs);
    if (!q->last_use || !q->convs || qplan_alloc(&q->cur, m->n_nodes) ||
        qplan_alloc(&q->next, m->n_nodes) || convs_alloc(q, packs))
        goto oom;
    enn_last_uses(m, false, q->last_use);
    if (plan(q, m->input.h, m->input.w, err, errlen)) {
        qnet_free(q);
        return -1;
    }
    *out = q;
    return 0;
oom:
    snprintf(err, errlen, "out of memory planning the int8 network");
    qnet_free(q);
    return -1;
}

void qnet_free(struct qnet *q)
{
    if (!q)
        return;
    for (int k = 0; q->convs && k < q->m->n_nodes; k++)
        free(q->convs[k].k_off);
    free(q->convs);
    free(q->last_use);
    qplan_free(&q->cur);
    qplan_free(&q->next);
    free(q->arena);
    free(q);
}

int qnet_resize(struct qnet *q, int height, int width, char *err, size_t errlen)
{
    struct enn_shape s = q->cur.shapes[0];
    if (s.h == height && s.w == width)
        return 0;
    return plan(q, height, width, err, errlen);
}

int qnet_keep_values(struct qnet *q, char *err, size_t errlen)
{
    enn_last_uses(q->m, true, q->last_use);
    struct enn_shape s = q->cur.shapes[0];
    if (plan(q, s.h, s.w, err, errlen) == 0) {
        q->keep_all = true;
        return 0;
    }
    enn_last_uses(q->m, false, q->last_use);
    return -1;
}

struct enn_shape qnet_input_shape(const struct qnet *q)
{
    return q->cur.shapes[0];
}

float *qnet_input(struct qnet *q, size_t *row, size_t *plane)
{
    struct enn_shape s = q->cur.shapes[0];
    *row = (size_t)s.w;
    *plane = (size_t)s.h * (size_t)s.w;
    return q->input;
}

size_t qnet_memory(const struct qnet *q)
{
    return q->arena_bytes + q->weight_bytes;
}

static void quantise_input(struct qnet *q)
{
    const struct qvalue *v = &q->cur.values[0];
    struct enn_qparam qp = q->m->qvalues[0];
    float inv = (float)(1.0 / (double)qp.scale);
    const float *src = q->input;
    bool lanes = q->taps_in_lanes;
    for (int c = 0; c < v->s.c; c++) {
        uint8_t *plane = v->data + (size_t)(c / 4) * v->plane + (size_t)(c % 4);
        for (int y = 0; y < v->s.h; y++) {
            uint8_t *row = plane + ((size_t)(y + 1) * v->pw + 1) * 4;
            for (int x = 0; x < v->s.w; x++)
                row[4 * x] = enn_round_clamp(*src++ * inv, -qp.zero, QMAX - qp.zero, qp.zero);
            if (!lanes)
                continue;
            /* lane 1: the left neighbour, lane 2: the right one (zero point past the
               edges, as the border would give) */
            for (int x = 0; x < v->s.w; x++) {
                row[4 * x + 1] = x > 0 ? row[4 * x - 4] : (uint8_t)qp.zero;
                row[4 * x + 2] = x + 1 < v->s.w ? row[4 * x + 4] : (uint8_t)qp.zero;
            }
        }
    }
}

/* qsum's per-input factors and zero points for node n's inputs. */
static void sum_params(const struct qnet *q, const struct enn_node *n, float *r, int *z)
{
    for (int i = 0; i < n->n_inputs; i++) {
        struct enn_qparam qi = q->m->qvalues[n->inputs[i]];
        r[i] = (float)((double)qi.scale / (double)n->qsum.scale);
        z[i] = qi.zero;
    }
}

/* The node's (summed) input as one quantised map: several inputs are requantised to the
 * node's own qparam. Per quad, rows 1 .. h are summed whole, their border columns
 * included (each addend's border is its zero point, so the sum's is the sum's zero
 * point), in a length rounded up to 32 bytes, which reaches into the bottom border row;
 * then fill_borders sets the borders. The plane's slack is only read for
 * positions a conv discards. */
static const struct qvalue *gather_input(struct qnet *q, int k, struct qvalue *tmp)
{
    const struct enn_node *n = &q->m->nodes[k - 1];
    const struct qvalue *first = &q->cur.values[n->inputs[0]];
    if (n->n_inputs == 1 || sums_after_gather(n))
        return first;
    float r[ENN_MAX_INPUTS];
    const uint8_t *src[ENN_MAX_INPUTS];
    int z[ENN_MAX_INPUTS];
    sum_params(q, n, r, z);
    for (int i = 0; i < n->n_inputs; i++)
        src[i] = q->cur.values[n->inputs[i]].data;
    *tmp = *first;
    tmp->data = q->sum_scratch;
    tmp->zero = n->qsum.zero;
    /* (capped at what every input's plane holds written: rows 1 .. h + 1 and the one
       position more; only maps of a few positions a row reach the cap) */
    size_t row = first->pw * 4, len = round_up((size_t)first->s.h * row, 32);
    if (len > ((size_t)first->s.h + 1) * row + 4)
        len = ((size_t)first->s.h + 1) * row + 4;
    for (int j = 0; j < first->quads; j++) {
        size_t at = (size_t)j * first->plane;
        const uint8_t *quad[ENN_MAX_INPUTS];
        for (int i = 0; i < n->n_inputs; i++)
            quad[i] = src[i] + at + row;
        uint8_t *dst = tmp->data + at;
        q->kern->qsum(quad, z, r, n->n_inputs, dst + row, len, n->qsum.zero);
    }
    fill_borders(tmp);
    return tmp;
}

/* Stride-2 taps as [quad][tap][positions][4], laid out like the output's padded rows. */
static void fill_panel(const struct qnet *q, const struct enn_node *n,
                       const struct qvalue *in, const struct qvalue *out, uint8_t *panel)
{
    int pad = n->kernel / 2, kk = n->kernel * n->kernel, oh = out->s.h, ow = out->s.w;
    size_t ps = q->cur.panel_stride, pwo = out->pw, pwi = in->pw;
    uint32_t zq = 0x01010101u * (uint32_t)in->zero;
    for (int j = 0; j < in->quads; j++) {
        const uint8_t *src = in->data + (size_t)j * in->plane;
        for (int t = 0; t < kk; t++) {
            int ky = t / n->kernel, kx = t % n->kernel;
            uint8_t *dst = panel + ((size_t)j * (size_t)kk + (size_t)t) * ps * 4;
            for (int oy = 0; oy < oh; oy++) {
                const uint8_t *row = src + ((size_t)(2 * oy + ky - pad + 1) * pwi +
                                            (size_t)(kx - pad + 1)) * 4;
                uint8_t *d = dst + (size_t)oy * pwo * 4;
                memcpy(d, &zq, 4);   /* the border column */
                for (int ox = 0; ox < ow; ox++)   /* (bounds in locals: this vectorises) */
                    memcpy(d + 4 * (size_t)(ox + 1), row + 8 * (size_t)ox, 4);
            }
        }
    }
}

static void depthwise(const struct qnet *q, const struct qconv *c, const struct qvalue *in,
                      const struct qvalue *out, int lo, int hi)
{
    size_t count = (size_t)out->s.h * out->pw;
    for (int j = 0; j < out->quads; j++)
        q->kern->qdwconv3(in->data + (size_t)j * in->plane + in->pw * 4,
                          out->data + (size_t)j * out->plane + out->pw * 4, count, in->pw,
                          c->packed + 36 * (size_t)j, c->bias + 4 * j, c->scale + 4 * j,
                          out->zero, lo, hi);
}

/* A depthwise conv whose output is a float map (a detector's head): accumulators in the
 * scratch, as the qconv kernels leave them for dequantise_output. Rare and small, so
 * plain C. */
static void depthwise_acc(struct qnet *q, const struct enn_node *n, const struct qconv *c,
                          const struct qvalue *in, const struct qvalue *out)
{
    size_t count = (size_t)out->s.h * out->pw, pw = in->pw;
    q->acc_plane = round_up(count + ENN_MAX_OVERRUN, 16);
    for (int ch = 0; ch < n->out.c; ch++) {
        const uint8_t *src = in->data + (size_t)(ch / 4) * in->plane + pw * 4 + (size_t)(ch % 4);
        const int8_t *w = c->packed + (size_t)(ch / 4) * 36 + (size_t)(ch % 4);
        for (size_t p = 0; p < count; p++) {
            int32_t acc = c->bias[ch];
            for (int t = 0; t < 9; t++) {
                ptrdiff_t off = (ptrdiff_t)p + (t / 3 - 1) * (ptrdiff_t)pw + (t % 3 - 1);
                acc += w[4 * t] * src[4 * off];
            }
            q->acc[(size_t)ch * q->acc_plane + p] = acc;
        }
    }
}

/* Accumulators of a float output map -> [c][h][w] floats, then its activation. */
static void dequantise_output(const struct qnet *q, const struct enn_node *n,
                              const struct qconv *c, const struct qvalue *out)
{
    size_t hw = (size_t)out->s.h * (size_t)out->s.w;
    for (int o = 0; o < out->s.c; o++) {
        float *dst = out->f + (size_t)o * hw;
        for (int y = 0; y < out->s.h; y++)
            for (int x = 0; x < out->s.w; x++) {
                int32_t a = q->acc[(size_t)o * q->acc_plane + (size_t)y * out->pw + (size_t)x + 1];
                float f = (float)a * c->scale[o];
                dst[(size_t)y * (size_t)out->s.w + (size_t)x] = n->relu && f < 0 ? 0 : f;
            }
        if (n->sigmoid)
            q->kern->sigmoid(dst, hw);
    }
}

static void run_conv(struct qnet *q, int k)
{
    const struct enn_node *n = &q->m->nodes[k - 1];
    const struct qconv *c = &q->convs[k - 1];
    struct qvalue tmp;
    const struct qvalue *in = gather_input(q, k, &tmp);
    struct qvalue *out = &q->cur.values[k];
    int zero = out->is_float ? 0 : out->zero;
    int lo = n->relu ? 0 : -zero, hi = QMAX - zero;
    if (c->depthwise && out->is_float) {
        depthwise_acc(q, n, c, in, out);
        dequantise_output(q, n, c, out);
        return;
    }
    if (c->depthwise) {
        depthwise(q, c, in, out, lo, hi);
        fill_borders(out);
        return;
    }
    size_t pw = out->pw;
    const uint8_t *src = in->data + in->pw * 4;
    if (sums_after_gather(n)) {
        /* each input's panel after the first, then their sum into the first */
        size_t bytes = (size_t)in->quads * q->cur.panel_stride * 4;
        float r[ENN_MAX_INPUTS];
        const uint8_t *panels[ENN_MAX_INPUTS];
        int z[ENN_MAX_INPUTS];
        sum_params(q, n, r, z);
        for (int i = 0; i < n->n_inputs; i++) {
            uint8_t *dst = q->panel + (size_t)(i + 1) * bytes;
            fill_panel(q, n, &q->cur.values[n->inputs[i]], out, dst);
            panels[i] = dst;
        }
        q->kern->qsum(panels, z, r, n->n_inputs, q->panel, bytes, n->qsum.zero);
        src = q->panel;
    } else if (n->stride != 1) {
        fill_panel(q, n, in, out, q->panel);
        src = q->panel;
    }
    struct enn_qconv_job job = {
        .out_c = n->out.c, .steps = c->steps, .packed = c->packed, .bias = c->bias,
        .scale = c->scale, .k_off = c->k_off, .in = src, .count = (size_t)out->s.h * pw,
        .zero = zero, .lo = lo, .hi = hi, .quad_steps = c->quad_steps, .pairs = c->pairs,
    };
    if (out->is_float) {
        q->acc_plane = round_up(job.count + ENN_MAX_OVERRUN, 16);
        job.acc_out = q->acc;
        job.acc_plane = q->acc_plane;
    } else {
        job.out = out->data + out->pw * 4;
        job.out_plane = out->plane;
    }
    q->kern->qconv(&job);
    if (out->is_float)
        dequantise_output(q, n, c, out);
    else
        fill_borders(out);
}

static void run_resample(struct qnet *q, int k)
{
    const struct enn_node *n = &q->m->nodes[k - 1];
    struct qvalue tmp;
    const struct qvalue *in = gather_input(q, k, &tmp);
    struct qvalue *out = &q->cur.values[k];
    for (int j = 0; j < out->quads; j++) {
        const uint8_t *src = in->data + (size_t)j * in->plane + (in->pw + 1) * 4;
        uint8_t *dst = out->data + (size_t)j * out->plane + (out->pw + 1) * 4;
        for (int y = 0; y < out->s.h; y++)
            for (int x = 0; x < out->s.w; x++) {
                uint8_t *d = dst + ((size_t)y * out->pw + (size_t)x) * 4;
                if (n->op == ENN_OP_UPSAMPLE) {
                    memcpy(d, src + ((size_t)(y / 2) * in->pw + (size_t)(x / 2)) * 4, 4);
                    continue;
                }
                const uint8_t *a = src + ((size_t)(2 * y) * in->pw + (size_t)(2 * x)) * 4;
                const uint8_t *b = a + in->pw * 4;
                for (int i = 0; i < 4; i++) {
                    uint8_t m0 = a[i] > a[4 + i] ? a[i] : a[4 + i];
                    uint8_t m1 = b[i] > b[4 + i] ? b[i] : b[4 + i];
                    d[i] = m0 > m1 ? m0 : m1;
                }
            }
    }
    fill_borders(out);
}

/* The sums of q - zero over a quad plane's interior, per lane. Rows 1 .. h are summed
 * whole: their border positions hold the zero point and add nothing. Four bytes a
 * position are added as one 32-bit word in two masks (lanes 0 and 2, lanes 1 and 3),
 * each lane in 16 bits; 256 bytes fit there, so each run of up to 256 positions is then
 * widened. The plain inner loop vectorises. */
static void lane_sums(const struct qvalue *v, const uint8_t *plane, int64_t sum[4])
{
    enum { RUN = 256 };
    size_t len = (size_t)v->s.h * v->pw;
    const uint8_t *p = plane + v->pw * 4;
    for (int l = 0; l < 4; l++)
        sum[l] = -(int64_t)len * v->zero;
    for (size_t at = 0; at < len; at += RUN) {
        size_t n = len - at < RUN ? len - at : RUN;
        uint32_t even = 0, odd = 0;
        for (size_t x = 0; x < n; x++) {
            uint32_t word;
            memcpy(&word, p + 4 * (at + x), 4);
            even += word & 0x00ff00ffu;
            odd += (word >> 8) & 0x00ff00ffu;
        }
        sum[0] += even & 0xffff;
        sum[1] += odd & 0xffff;
        sum[2] += even >> 16;
        sum[3] += odd >> 16;
    }
}

static void run_gap(struct qnet *q, int k)
{
    const struct enn_node *n = &q->m->nodes[k - 1];
    float *dst = q->cur.values[k].f;
    struct enn_shape s = q->cur.values[n->inputs[0]].s;
    int64_t hw = (int64_t)s.h * s.w;
    for (int ch = 0; ch < s.c; ch++)
        dst[ch] = 0;
    /* per input in order, as the format adds them */
    for (int i = 0; i < n->n_inputs; i++) {
        const struct qvalue *v = &q->cur.values[n->inputs[i]];
        float r = (float)((double)q->m->qvalues[n->inputs[i]].scale / (double)hw);
        for (int j = 0; j < v->quads; j++) {
            int64_t sum[4];
            lane_sums(v, v->data + (size_t)j * v->plane, sum);
            for (int l = 0; l < 4 && 4 * j + l < s.c; l++)
                dst[4 * j + l] += (float)sum[l] * r;
        }
    }
}

static void run_dense(struct qnet *q, int k)
{
    const struct enn_node *n = &q->m->nodes[k - 1];
    const float *x[ENN_MAX_INPUTS];
    for (int i = 0; i < n->n_inputs; i++)
        x[i] = q->cur.values[n->inputs[i]].f;
    enn_dense_forward(n, x, q->cur.values[k].f);
}

void qnet_forward(struct qnet *q)
{
    quantise_input(q);
    for (int k = 1; k <= q->m->n_nodes; k++) {
        switch (q->m->nodes[k - 1].op) {
        case ENN_OP_CONV: run_conv(q, k); break;
        case ENN_OP_GAP: run_gap(q, k); break;
        case ENN_OP_DENSE: run_dense(q, k); break;
        case ENN_OP_MAXPOOL:
        case ENN_OP_UPSAMPLE: run_resample(q, k); break;
        }
    }
}

struct enn_view qnet_output(const struct qnet *q, int index)
{
    const struct qvalue *v = &q->cur.values[q->m->outputs[index].value];
    size_t hw = (size_t)v->s.h * (size_t)v->s.w;
    return (struct enn_view){v->f, v->s, (size_t)v->s.w, hw};
}

void qnet_value(const struct qnet *q, int id, float *dst)
{
    const struct qvalue *v = &q->cur.values[id];
    size_t n = (size_t)v->s.c * (size_t)v->s.h * (size_t)v->s.w;
    if (v->is_float) {
        memcpy(dst, v->f, n * sizeof *dst);
        return;
    }
    float scale = q->m->qvalues[id].scale;
    for (int c = 0; c < v->s.c; c++)
        for (int y = 0; y < v->s.h; y++)
            for (int x = 0; x < v->s.w; x++) {
                const uint8_t *p = v->data + (size_t)(c / 4) * v->plane +
                                   (((size_t)y + 1) * v->pw + (size_t)x + 1) * 4 + (size_t)(c % 4);
                *dst++ = scale * (float)((int)*p - v->zero);
            }
}
