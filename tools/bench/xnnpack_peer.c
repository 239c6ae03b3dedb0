/* XNNPACK peer for the engine benchmark (xnnpack_peer.h). Written against Debian 12's
 * libxnnpack-dev (0.0~git20220216.ae108ef), whose subgraph API has what this needs:
 * convolution (fp32; qs8 with channelwise "qcint8" weights and "qcint32" biases, i.e. the
 * qc8 operators), add2, global average pooling, fully connected and convert.
 *
 * How a model becomes a graph (NHWC, batch 1):
 * - Maps are [1][h][w][c]. The input is an fp32 external value; an int8 model's graph
 *   quantises it with a Convert node to the input's qparams.
 * - Our 7-bit values q (0..127, zero point z) are XNNPACK qint8 values q - 128 with zero
 *   point z - 128 and the same scale: scale * ((q - 128) - (z - 128)) = scale * (q - z).
 *   Clamps: a conv's output range 0..127 (ReLU: z..127) is output_min = -inf (ReLU: 0),
 *   output_max = (127 - z) * scale, which XNNPACK turns into -128 (ReLU: z - 128) .. -1.
 * - Conv weights: ours [o][i][ky][kx] -> XNNPACK [o][ky][kx][i], int8 unchanged, one
 *   scale per output channel (channel dimension 0); int32 biases unchanged, declared with
 *   scale s_in * s_w[o] (what the format defines them in).
 * - Several summed inputs: a chain of add2 nodes. In an int8 model each add2 output has
 *   the node's sum qparams (qsum), so with three or more inputs XNNPACK rounds after each
 *   addition where ours rounds once; this, and XNNPACK computing its requantisation scale
 *   in float (ours: in double, then float), is why qs8 logits differ slightly from ours.
 * - Global average pooling over summed inputs: each input pooled on its own (fp32; an
 *   int8 model's maps are first converted to fp32, exact), then the vectors added: the
 *   same sum as pooling the summed map, in fewer operations. Vectors stay fp32 as in our
 *   int8 models; dense layers are fp32 fully connected nodes.
 * - Not expressed (detectors only): max pool, upsample, sigmoid, float map outputs. */
#define _POSIX_C_SOURCE 200809L
#include "xnnpack_peer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EMOTIOND_HAVE_XNNPACK

struct xpeer {
    int unused;
};

int xpeer_built(void)
{
    return 0;
}

struct xpeer *xpeer_create(const struct enn_model *m, char *err, size_t errlen)
{
    (void)m;
    snprintf(err, errlen, "this build has no XNNPACK (libxnnpack-dev and libpthreadpool-dev "
             "were not found when it was configured: scripts/deps installs them)");
    return NULL;
}

void xpeer_free(struct xpeer *p)
{
    (void)p;
}

const char *xpeer_precision(const struct xpeer *p)
{
    (void)p;
    return "na";
}

void xpeer_set_input(struct xpeer *p, const float *input)
{
    (void)p, (void)input;
}

int xpeer_run(struct xpeer *p, char *err, size_t errlen)
{
    (void)p;
    snprintf(err, errlen, "no XNNPACK in this build");
    return -1;
}

const float *xpeer_logits(const struct xpeer *p)
{
    (void)p;
    return NULL;
}

#else

#include <xnnpack.h>

#define NO_ID XNN_INVALID_VALUE_ID
#define EXT_INPUT 0u
#define EXT_OUTPUT 1u

struct xpeer {
    const struct enn_model *m;
    int q8;
    xnn_runtime_t rt;
    float *input;                 /* NHWC, with XNN_EXTRA_BYTES to spare */
    float logits[ENN_MAX_CLASSES + 8];
    void **blobs;                 /* static tensor data: must outlive the runtime */
    int n_blobs, cap_blobs;
};

struct build {
    struct xpeer *p;
    const struct enn_model *m;
    xnn_subgraph_t sg;
    uint32_t *map;                /* value id -> XNNPACK id (maps in the model's precision) */
    uint32_t *fmap;               /* int8 model: value id -> an fp32 copy of the map */
    char *err;
    size_t errlen;
};

int xpeer_built(void)
{
    return 1;
}

static const char *status_name(enum xnn_status s)
{
    switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
    }
    return "unknown status";
}

static int fail(struct build *b, int node, const char *what, enum xnn_status s)
{
    snprintf(b->err, b->errlen, "node %d: XNNPACK %s: %s", node, what, status_name(s));
    return -1;
}

static void *keep(struct xpeer *p, size_t bytes)
{
    if (p->n_blobs == p->cap_blobs) {
        int cap = p->cap_blobs ? 2 * p->cap_blobs : 64;
        void **nb = realloc(p->blobs, (size_t)cap * sizeof *nb);
        if (!nb)
            return NULL;
        p->blobs = nb, p->cap_blobs = cap;
    }
    void *d = malloc(bytes ? bytes : 1);
    if (d)
        p->blobs[p->n_blobs++] = d;
    return d;
}

/* A new map or vector value: fp32, or qint8 with our qparams moved to int8. */
static int value(struct build *b, int node, int q8, struct enn_qparam qp, size_t h, size_t w,
                 size_t c, uint32_t ext, uint32_t *id)
{
    size_t dims[4] = {1, h, w, c};
    uint32_t flags = ext == EXT_INPUT ? XNN_VALUE_FLAG_EXTERNAL_INPUT
                     : ext == EXT_OUTPUT ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0;
    enum xnn_status s =
        q8 ? xnn_define_quantized_tensor_value(b->sg, xnn_datatype_qint8, qp.zero - 128,
                                               qp.scale, 4, dims, NULL, ext, flags, id)
           : xnn_define_tensor_value(b->sg, xnn_datatype_fp32, 4, dims, NULL, ext, flags, id);
    return s == xnn_status_success ? 0 : fail(b, node, "define value", s);
}

/* ids[0] + ids[1] + ... into out (defined by the caller); intermediate sums get qp. */
static int add_chain(struct build *b, int node, const uint32_t *ids, int n, int q8,
                     struct enn_qparam qp, size_t h, size_t w, size_t c, float omax,
                     uint32_t out)
{
    uint32_t acc = ids[0];
    for (int i = 1; i < n; i++) {
        uint32_t t = out;
        if (i < n - 1 && value(b, node, q8, qp, h, w, c, NO_ID, &t))
            return -1;
        enum xnn_status s = xnn_define_add2(b->sg, -INFINITY, omax, acc, ids[i], t, 0);
        if (s != xnn_status_success)
            return fail(b, node, "add2", s);
        acc = t;
    }
    return 0;
}

/* The (summed) input map of node k in the model's precision; its scale in *scale. */
static int conv_input(struct build *b, int k, uint32_t *id, float *scale)
{
    const struct enn_node *n = &b->m->nodes[k - 1];
    if (n->n_inputs == 1) {
        *id = b->map[n->inputs[0]];
        *scale = b->p->q8 ? b->m->qvalues[n->inputs[0]].scale : 1;
        return 0;
    }
    uint32_t ids[ENN_MAX_INPUTS];
    for (int i = 0; i < n->n_inputs; i++)
        ids[i] = b->map[n->inputs[i]];
    size_t h = (size_t)n->in.h, w = (size_t)n->in.w, c = (size_t)n->in.c;
    struct enn_qparam qp = b->p->q8 ? n->qsum : (struct enn_qparam){1, 0};
    float omax = b->p->q8 ? (float)(127 - qp.zero) * qp.scale : INFINITY;
    if (value(b, k, b->p->q8, qp, h, w, c, NO_ID, id) ||
        add_chain(b, k, ids, n->n_inputs, b->p->q8, qp, h, w, c, omax, *id))
        return -1;
    *scale = qp.scale;
    return 0;
}

static int conv(struct build *b, int k, uint32_t ext)
{
    const struct enn_node *n = &b->m->nodes[k - 1];
    const struct enn_model *m = b->m;
    int q8 = b->p->q8;
    if (n->sigmoid) {
        snprintf(b->err, b->errlen, "node %d: sigmoid is not in the XNNPACK peer", k);
        return -1;
    }
    if (q8 && enn_model_value_is_float(m, k)) {
        snprintf(b->err, b->errlen, "node %d: float map outputs are not in the XNNPACK peer", k);
        return -1;
    }
    uint32_t in, filter, bias, out;
    float in_scale;
    if (conv_input(b, k, &in, &in_scale))
        return -1;
    size_t o_n = (size_t)n->out.c, kk = (size_t)n->kernel, g = (size_t)n->groups;
    size_t cin = (size_t)n->in.c / g, per = kk * kk * cin;
    size_t fdims[4] = {o_n, kk, kk, cin};
    enum xnn_status s;
    struct enn_qparam qo = q8 ? m->qvalues[k] : (struct enn_qparam){1, 0};
    if (value(b, k, q8, qo, (size_t)n->out.h, (size_t)n->out.w, o_n, ext, &out))
        return -1;
    if (q8) {
        int8_t *wt = keep(b->p, o_n * per);
        float *bscale = keep(b->p, o_n * sizeof *bscale);
        if (!wt || !bscale)
            return fail(b, k, "weights", xnn_status_out_of_memory);
        for (size_t o = 0; o < o_n; o++) {
            for (size_t i = 0; i < cin; i++)
                for (size_t y = 0; y < kk; y++)
                    for (size_t x = 0; x < kk; x++)
                        wt[o * per + (y * kk + x) * cin + i] =
                            n->qweights[o * per + (i * kk + y) * kk + x];
            bscale[o] = in_scale * n->wscale[o];
        }
        s = xnn_define_channelwise_quantized_tensor_value(b->sg, xnn_datatype_qcint8, n->wscale,
                                                          4, 0, fdims, wt, NO_ID, 0, &filter);
        if (s != xnn_status_success)
            return fail(b, k, "define channelwise int8 weights", s);
        s = xnn_define_channelwise_quantized_tensor_value(b->sg, xnn_datatype_qcint32, bscale, 1,
                                                          0, &o_n, n->qbias, NO_ID, 0, &bias);
        if (s != xnn_status_success)
            return fail(b, k, "define channelwise int32 bias", s);
    } else {
        float *wt = keep(b->p, o_n * per * sizeof *wt);
        if (!wt)
            return fail(b, k, "weights", xnn_status_out_of_memory);
        for (size_t o = 0; o < o_n; o++)
            for (size_t i = 0; i < cin; i++)
                for (size_t y = 0; y < kk; y++)
                    for (size_t x = 0; x < kk; x++)
                        wt[o * per + (y * kk + x) * cin + i] =
                            n->weights[o * per + (i * kk + y) * kk + x];
        s = xnn_define_tensor_value(b->sg, xnn_datatype_fp32, 4, fdims, wt, NO_ID, 0, &filter);
        if (s != xnn_status_success)
            return fail(b, k, "define weights", s);
        s = xnn_define_tensor_value(b->sg, xnn_datatype_fp32, 1, &o_n, n->bias, NO_ID, 0, &bias);
        if (s != xnn_status_success)
            return fail(b, k, "define bias", s);
    }
    /* Output clamp, see the top of the file. */
    float omin = n->relu ? 0.0f : -INFINITY;
    float omax = q8 ? (float)(127 - qo.zero) * qo.scale : INFINITY;
    uint32_t pad = (uint32_t)(n->kernel / 2);
    s = xnn_define_convolution_2d(b->sg, pad, pad, pad, pad, (uint32_t)kk, (uint32_t)kk,
                                  (uint32_t)n->stride, (uint32_t)n->stride, 1, 1, (uint32_t)g,
                                  cin, o_n / g, omin, omax, in, filter, bias, out, 0);
    if (s != xnn_status_success)
        return fail(b, k, "convolution", s);
    b->map[k] = out;
    return 0;
}

/* The fp32 version of map value v (an int8 model's maps: converted once, exact). */
static int float_map(struct build *b, int k, int v, uint32_t *id)
{
    if (!b->p->q8) {
        *id = b->map[v];
        return 0;
    }
    if (b->fmap[v] == NO_ID) {
        struct enn_shape sh = enn_model_value_shape(b->m, v);
        uint32_t f;
        if (value(b, k, 0, (struct enn_qparam){1, 0}, (size_t)sh.h, (size_t)sh.w, (size_t)sh.c,
                  NO_ID, &f))
            return -1;
        enum xnn_status s = xnn_define_convert(b->sg, b->map[v], f, 0);
        if (s != xnn_status_success)
            return fail(b, k, "convert qs8 -> fp32", s);
        b->fmap[v] = f;
    }
    *id = b->fmap[v];
    return 0;
}

static int gap(struct build *b, int k, uint32_t ext)
{
    const struct enn_node *n = &b->m->nodes[k - 1];
    size_t c = (size_t)n->out.c;
    uint32_t out, pooled[ENN_MAX_INPUTS];
    if (value(b, k, 0, (struct enn_qparam){1, 0}, 1, 1, c, ext, &out))
        return -1;
    for (int i = 0; i < n->n_inputs; i++) {
        uint32_t in;
        if (float_map(b, k, n->inputs[i], &in))
            return -1;
        pooled[i] = out;
        if (n->n_inputs > 1 &&
            value(b, k, 0, (struct enn_qparam){1, 0}, 1, 1, c, NO_ID, &pooled[i]))
            return -1;
        enum xnn_status s =
            xnn_define_global_average_pooling_2d(b->sg, -INFINITY, INFINITY, in, pooled[i], 0);
        if (s != xnn_status_success)
            return fail(b, k, "global average pooling", s);
    }
    if (n->n_inputs > 1 && add_chain(b, k, pooled, n->n_inputs, 0, (struct enn_qparam){1, 0},
                                     1, 1, c, INFINITY, out))
        return -1;
    b->map[k] = out;
    return 0;
}

static int dense(struct build *b, int k, uint32_t ext)
{
    const struct enn_node *n = &b->m->nodes[k - 1];
    size_t o_n = (size_t)n->out.c, c = (size_t)n->in.c;
    uint32_t in = b->map[n->inputs[0]], filter, bias, out;
    if (n->n_inputs > 1) {
        uint32_t ids[ENN_MAX_INPUTS];
        for (int i = 0; i < n->n_inputs; i++)
            ids[i] = b->map[n->inputs[i]];
        if (value(b, k, 0, (struct enn_qparam){1, 0}, 1, 1, c, NO_ID, &in) ||
            add_chain(b, k, ids, n->n_inputs, 0, (struct enn_qparam){1, 0}, 1, 1, c, INFINITY,
                      in))
            return -1;
    }
    if (value(b, k, 0, (struct enn_qparam){1, 0}, 1, 1, o_n, ext, &out))
        return -1;
    size_t fdims[2] = {o_n, c};
    enum xnn_status s =
        xnn_define_tensor_value(b->sg, xnn_datatype_fp32, 2, fdims, n->weights, NO_ID, 0, &filter);
    if (s != xnn_status_success)
        return fail(b, k, "define dense weights", s);
    s = xnn_define_tensor_value(b->sg, xnn_datatype_fp32, 1, &o_n, n->bias, NO_ID, 0, &bias);
    if (s != xnn_status_success)
        return fail(b, k, "define dense bias", s);
    s = xnn_define_fully_connected(b->sg, n->relu ? 0.0f : -INFINITY, INFINITY, in, filter, bias,
                                   out, 0);
    if (s != xnn_status_success)
        return fail(b, k, "fully connected", s);
    b->map[k] = out;
    return 0;
}

static int build_graph(struct build *b)
{
    const struct enn_model *m = b->m;
    int logits = m->outputs[0].value;
    uint32_t in;
    if (value(b, 0, 0, (struct enn_qparam){1, 0}, (size_t)m->input.h, (size_t)m->input.w,
              (size_t)m->input.c, EXT_INPUT, &in))
        return -1;
    b->map[0] = in;
    if (b->p->q8) {
        uint32_t q;
        if (value(b, 0, 1, m->qvalues[0], (size_t)m->input.h, (size_t)m->input.w,
                  (size_t)m->input.c, NO_ID, &q))
            return -1;
        enum xnn_status s = xnn_define_convert(b->sg, in, q, 0);
        if (s != xnn_status_success)
            return fail(b, 0, "convert fp32 -> qs8 (input)", s);
        b->map[0] = q;
        b->fmap[0] = in;
    }
    for (int k = 1; k <= m->n_nodes; k++) {
        uint32_t ext = k == logits ? EXT_OUTPUT : NO_ID;
        int r;
        switch (m->nodes[k - 1].op) {
        case ENN_OP_CONV: r = conv(b, k, ext); break;
        case ENN_OP_GAP: r = gap(b, k, ext); break;
        case ENN_OP_DENSE: r = dense(b, k, ext); break;
        default:
            snprintf(b->err, b->errlen, "node %d: max pool and upsample are not in the XNNPACK "
                     "peer (classifiers only)", k);
            r = -1;
        }
        if (r)
            return -1;
    }
    return 0;
}

void xpeer_free(struct xpeer *p)
{
    if (!p)
        return;
    if (p->rt)
        xnn_delete_runtime(p->rt);
    for (int i = 0; i < p->n_blobs; i++)
        free(p->blobs[i]);
    free(p->blobs);
    free(p->input);
    free(p);
}

struct xpeer *xpeer_create(const struct enn_model *m, char *err, size_t errlen)
{
    if (m->n_classes <= 0 || m->n_classes > ENN_MAX_CLASSES ||
        !enn_model_is_vector(m, m->outputs[0].value)) {
        snprintf(err, errlen, "the XNNPACK peer runs classifiers only");
        return NULL;
    }
    enum xnn_status s = xnn_initialize(NULL);
    if (s != xnn_status_success) {
        snprintf(err, errlen, "xnn_initialize: %s", status_name(s));
        return NULL;
    }
    struct xpeer *p = calloc(1, sizeof *p);
    size_t in_n = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
    struct build b = {p, m, NULL, NULL, NULL, err, errlen};
    if (!p)
        goto oom;
    p->m = m;
    p->q8 = m->precision == ENN_PRECISION_INT8;
    p->input = calloc(1, in_n * sizeof *p->input + XNN_EXTRA_BYTES);
    b.map = malloc((size_t)(m->n_nodes + 1) * sizeof *b.map);
    b.fmap = malloc((size_t)(m->n_nodes + 1) * sizeof *b.fmap);
    if (!p->input || !b.map || !b.fmap)
        goto oom;
    for (int v = 0; v <= m->n_nodes; v++)
        b.map[v] = b.fmap[v] = NO_ID;
    s = xnn_create_subgraph(2, 0, &b.sg);
    if (s != xnn_status_success) {
        snprintf(err, errlen, "xnn_create_subgraph: %s", status_name(s));
        goto fail;
    }
    if (build_graph(&b))
        goto fail;
    /* No thread pool: the runtime runs on the caller's thread. */
    s = xnn_create_runtime_v2(b.sg, NULL, 0, &p->rt);
    if (s != xnn_status_success) {
        snprintf(err, errlen, "xnn_create_runtime_v2: %s", status_name(s));
        goto fail;
    }
    struct xnn_external_value ext[2] = {{EXT_INPUT, p->input}, {EXT_OUTPUT, p->logits}};
    s = xnn_setup_runtime(p->rt, 2, ext);
    if (s != xnn_status_success) {
        snprintf(err, errlen, "xnn_setup_runtime: %s", status_name(s));
        goto fail;
    }
    xnn_delete_subgraph(b.sg);
    free(b.map), free(b.fmap);
    return p;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (b.sg)
        xnn_delete_subgraph(b.sg);
    free(b.map), free(b.fmap);
    xpeer_free(p);
    return NULL;
}

const char *xpeer_precision(const struct xpeer *p)
{
    return p->q8 ? "qs8" : "fp32";
}

void xpeer_set_input(struct xpeer *p, const float *input)
{
    int c_n = p->m->input.c, h = p->m->input.h, w = p->m->input.w;
    for (int c = 0; c < c_n; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                p->input[((size_t)y * (size_t)w + (size_t)x) * (size_t)c_n + (size_t)c] =
                    input[((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x];
}

int xpeer_run(struct xpeer *p, char *err, size_t errlen)
{
    enum xnn_status s = xnn_invoke_runtime(p->rt);
    if (s != xnn_status_success) {
        snprintf(err, errlen, "xnn_invoke_runtime: %s", status_name(s));
        return -1;
    }
    return 0;
}

const float *xpeer_logits(const struct xpeer *p)
{
    return p->logits;
}

#endif
