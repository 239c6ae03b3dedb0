/* Int8 models: every kernel set this CPU runs equals, bit for bit, a naive executor
 * written here from docs/model-format.md ("Int8 models"), on random weights, zero points
 * and shapes (odd channel counts, 1x1 and 3x3, strides 1 and 2, summed inputs,
 * depthwise, max pool, upsample, float outputs, pooling and dense); every intermediate
 * value too. And the loader refuses damaged int8 files with a message. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "model_builder.h"
#include "net.h"

static const char *const ISAS[] = {"scalar", "avx2", "avx512vnni", "neon", "neon-dot"};
static const char *const CLASSES[] = {"a", "b", "c", "d", "e"};

static uint32_t rng = 777;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static int irand(int lo, int hi)   /* [lo, hi] */
{
    return lo + (int)(next() % (uint32_t)(hi - lo + 1));
}
static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)next() / (float)(1u << 24);
}

/* ---- the naive executor: [c][h][w] arrays, every rule spelled out ---- */

struct rv {
    int c, h, w;
    int *q;       /* quantised map */
    float *f;     /* float value */
};

static uint8_t rq(float f, int lo, int hi, int zero)
{
    f = f < (float)lo ? (float)lo : f > (float)hi ? (float)hi : f;
    return (uint8_t)((int)nearbyintf(f) + zero);
}

static struct rv ref_sum(const struct enn_model *m, const struct enn_node *n, struct rv *vals)
{
    struct rv first = vals[n->inputs[0]];
    if (n->n_inputs == 1 || n->op == ENN_OP_GAP)
        return first;
    size_t len = (size_t)first.c * (size_t)first.h * (size_t)first.w;
    struct rv s = first;
    s.q = malloc(len * sizeof *s.q);
    for (size_t e = 0; e < len; e++) {
        float t = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            struct enn_qparam qi = m->qvalues[n->inputs[i]];
            float r = (float)((double)qi.scale / (double)n->qsum.scale);
            t += (float)(vals[n->inputs[i]].q[e] - qi.zero) * r;
        }
        s.q[e] = rq(t, -n->qsum.zero, 127 - n->qsum.zero, n->qsum.zero);
    }
    return s;
}

static void ref_run(const struct enn_model *m, const float *input, int h, int w, struct rv *vals)
{
    struct enn_qparam q0 = m->qvalues[0];
    vals[0] = (struct rv){m->input.c, h, w, malloc(sizeof(int) * (size_t)(m->input.c * h * w)),
                          NULL};
    float inv = (float)(1.0 / (double)q0.scale);
    for (int e = 0; e < m->input.c * h * w; e++)
        vals[0].q[e] = rq(input[e] * inv, -q0.zero, 127 - q0.zero, q0.zero);
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct rv in = ref_sum(m, n, vals);
        struct enn_qparam qin = n->n_inputs > 1 ? n->qsum : m->qvalues[n->inputs[0]];
        struct rv out = {in.c, in.h, in.w, NULL, NULL};
        bool is_float = enn_model_value_is_float(m, k);
        struct enn_qparam qo = m->qvalues[k];
        if (n->op == ENN_OP_CONV) {
            int kk = n->kernel, p = kk / 2, s = n->stride, ig = n->in.c / n->groups,
                og = n->out.c / n->groups;
            out.c = n->out.c;
            out.h = (in.h + 2 * p - kk) / s + 1;
            out.w = (in.w + 2 * p - kk) / s + 1;
            size_t len = (size_t)out.c * (size_t)out.h * (size_t)out.w;
            if (is_float)
                out.f = malloc(len * sizeof *out.f);
            else
                out.q = malloc(len * sizeof *out.q);
            for (int o = 0; o < out.c; o++)
                for (int y = 0; y < out.h; y++)
                    for (int x = 0; x < out.w; x++) {
                        int32_t acc = n->qbias[o];
                        for (int i = 0; i < ig; i++)
                            for (int ky = 0; ky < kk; ky++)
                                for (int kx = 0; kx < kk; kx++) {
                                    int iy = y * s + ky - p, ix = x * s + kx - p;
                                    if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w)
                                        continue;
                                    int ic = o / og * ig + i;
                                    acc += n->qweights[((o * ig + i) * kk + ky) * kk + kx] *
                                           (in.q[(ic * in.h + iy) * in.w + ix] - qin.zero);
                                }
                        size_t at = ((size_t)o * (size_t)out.h + (size_t)y) * (size_t)out.w +
                                    (size_t)x;
                        if (is_float) {
                            float f = (float)acc *
                                      (float)((double)qin.scale * (double)n->wscale[o]);
                            if (n->relu && f < 0)
                                f = 0;
                            out.f[at] = n->sigmoid ? 1.0f / (1.0f + expf(-f)) : f;
                        } else {
                            float mult = (float)((double)qin.scale * (double)n->wscale[o] /
                                                 (double)qo.scale);
                            out.q[at] = rq((float)acc * mult, n->relu ? 0 : -qo.zero,
                                           127 - qo.zero, qo.zero);
                        }
                    }
        } else if (n->op == ENN_OP_MAXPOOL || n->op == ENN_OP_UPSAMPLE) {
            bool up = n->op == ENN_OP_UPSAMPLE;
            out.h = up ? in.h * 2 : in.h / 2;
            out.w = up ? in.w * 2 : in.w / 2;
            out.q = malloc(sizeof(int) * (size_t)(out.c * out.h * out.w));
            for (int c = 0; c < out.c; c++)
                for (int y = 0; y < out.h; y++)
                    for (int x = 0; x < out.w; x++) {
                        const int *p = in.q + (size_t)c * (size_t)(in.h * in.w);
                        int v;
                        if (up) {
                            v = p[(y / 2) * in.w + x / 2];
                        } else {
                            v = p[2 * y * in.w + 2 * x];
                            int others[3] = {p[2 * y * in.w + 2 * x + 1],
                                             p[(2 * y + 1) * in.w + 2 * x],
                                             p[(2 * y + 1) * in.w + 2 * x + 1]};
                            for (int i = 0; i < 3; i++)
                                v = others[i] > v ? others[i] : v;
                        }
                        out.q[(c * out.h + y) * out.w + x] = v;
                    }
        } else if (n->op == ENN_OP_GAP) {
            out.h = out.w = 1;
            out.f = calloc((size_t)out.c, sizeof *out.f);
            for (int c = 0; c < out.c; c++) {
                float sum = 0;
                for (int i = 0; i < n->n_inputs; i++) {
                    struct rv v = vals[n->inputs[i]];
                    struct enn_qparam qi = m->qvalues[n->inputs[i]];
                    int32_t acc = 0;
                    for (int e = 0; e < v.h * v.w; e++)
                        acc += v.q[c * v.h * v.w + e] - qi.zero;
                    sum += (float)acc * (float)((double)qi.scale / ((double)v.h * v.w));
                }
                out.f[c] = sum;
            }
        } else {   /* dense */
            out.c = n->out.c;
            out.h = out.w = 1;
            out.f = malloc((size_t)out.c * sizeof *out.f);
            for (int o = 0; o < out.c; o++) {
                float acc = n->bias[o];
                for (int i = 0; i < n->n_inputs; i++)
                    for (int j = 0; j < n->in.c; j++)
                        acc += n->weights[o * n->in.c + j] * vals[n->inputs[i]].f[j];
                out.f[o] = n->relu && acc < 0 ? 0 : acc;
            }
        }
        if (in.q != vals[n->inputs[0]].q)
            free(in.q);
        vals[k] = out;
    }
}

static void ref_free(struct rv *vals, int n)
{
    for (int i = 0; i <= n; i++) {
        free(vals[i].q);
        free(vals[i].f);
    }
}

/* ---- random int8 models ---- */

struct qspec {
    int n_values;
    float scale[32];
    int zero[32];
    int n_sums;
    float sum_scale[8];
    int sum_zero[8];
};

static void rand_qparam(float *scale, int *zero, bool relu)
{
    *scale = frand(0.01f, 0.05f);
    *zero = relu ? 0 : irand(20, 100);
}

/* Weights are drawn from -wmax..wmax: 127, or 63, where the x86 kernels add two steps
 * in int16 (enn_qgroups_fit). */
static int wmax = 127;

/* A conv with random int8 weights; its output's qparams go into spec. */
static void qconv(struct mb *b, struct qspec *q, const int *in, int n_in, int ci, int co,
                  int k, int s, int groups, int flags, bool float_out)
{
    size_t n = (size_t)co * (size_t)(ci / groups) * (size_t)(k * k);
    int8_t *w = malloc(n);
    float ws[256];
    int32_t bias[256];
    for (size_t i = 0; i < n; i++)
        w[i] = (int8_t)irand(-wmax, wmax);
    for (int o = 0; o < co; o++) {
        ws[o] = frand(0.002f, 0.02f);
        bias[o] = irand(-3000, 3000);
    }
    mb_qconv(b, in, n_in, ci, co, k, s, groups, flags, w, ws, bias);
    free(w);
    int id = q->n_values++;
    if (float_out) {
        q->scale[id] = 1;
        q->zero[id] = 0;
    } else {
        rand_qparam(&q->scale[id], &q->zero[id], flags & 1);
    }
    if (n_in > 1)
        rand_qparam(&q->sum_scale[q->n_sums], &q->sum_zero[q->n_sums], false), q->n_sums++;
}

static void same_qparam(struct qspec *q, int from)
{
    int id = q->n_values++;
    q->scale[id] = q->scale[from];
    q->zero[id] = q->zero[from];
}

static void seal(struct mb *b, struct qspec *q)
{
    mb_u8(b, 1);
    mb_qparams(b, q->n_values, q->scale, q->zero);
    mb_qparams(b, q->n_sums, q->sum_scale, q->sum_zero);
    mb_finish(b);
}

/* A classifier: summed inputs, strides 1 and 2, 1x1 and 3x3, pooling of two maps. */
static void build_classifier(struct mb *b, int h, int w)
{
    struct qspec q = {.n_values = 1};
    rand_qparam(&q.scale[0], &q.zero[0], false);
    int c1 = irand(2, 13), c2 = irand(1, 9), c3 = irand(3, 17);
    mb_begin_v21(b, "q-classifier", 1, h, w, 5, CLASSES);
    qconv(b, &q, (int[]){0}, 1, 1, c1, 3, 1, 1, 1, false);           /* 1 */
    qconv(b, &q, (int[]){1}, 1, c1, c2, 3, 1, 1, 0, false);          /* 2 */
    qconv(b, &q, (int[]){2}, 1, c2, c1, 1, 1, 1, 1, false);          /* 3 */
    qconv(b, &q, (int[]){1, 3}, 2, c1, c3, 3, 2, 1, 1, false);       /* 4 */
    qconv(b, &q, (int[]){1, 3}, 2, c1, c3, 1, 2, 1, 0, false);       /* 5 */
    qconv(b, &q, (int[]){4, 5}, 2, c3, c3, 3, 1, 1, 1, false);       /* 6 */
    mb_gap(b, (int[]){4, 6}, 2);                                     /* 7 */
    q.scale[q.n_values] = 1;
    q.zero[q.n_values++] = 0;
    float dw[17 * 5], db[5];
    for (int i = 0; i < c3 * 5; i++)
        dw[i] = frand(-1, 1);
    for (int i = 0; i < 5; i++)
        db[i] = frand(-1, 1);
    mb_dense(b, 7, c3, 5, dw, db);                                   /* 8 */
    q.scale[q.n_values] = 1;
    q.zero[q.n_values++] = 0;
    mb_outputs(b, 1, (const char *const[]){"logits"}, (int[]){8});
    seal(b, &q);
}

/* A detector: depthwise, max pool, upsample, a sum, float outputs with sigmoid. */
static void build_detector(struct mb *b, int h, int w)
{
    struct qspec q = {.n_values = 1};
    rand_qparam(&q.scale[0], &q.zero[0], false);
    int c1 = irand(3, 12), c2 = irand(2, 10);
    mb_begin_v21(b, "q-detector", 3, h, w, 0, NULL);
    qconv(b, &q, (int[]){0}, 1, 3, c1, 3, 2, 1, 1, false);           /* 1 */
    qconv(b, &q, (int[]){1}, 1, c1, c1, 3, 1, c1, 1, false);         /* 2 depthwise */
    qconv(b, &q, (int[]){2}, 1, c1, c2, 1, 1, 1, 0, false);          /* 3 */
    mb_maxpool(b, (int[]){3}, 1);                                    /* 4 */
    same_qparam(&q, 3);
    qconv(b, &q, (int[]){4}, 1, c2, c2, 3, 1, c2, 0, false);         /* 5 depthwise */
    mb_upsample(b, (int[]){5}, 1);                                   /* 6 */
    same_qparam(&q, 5);
    qconv(b, &q, (int[]){3, 6}, 2, c2, 5, 1, 1, 1, 1, false);        /* 7 */
    qconv(b, &q, (int[]){7}, 1, 5, 1, 1, 1, 1, 2, true);             /* 8 score */
    qconv(b, &q, (int[]){7}, 1, 5, 6, 3, 1, 1, 0, true);             /* 9 box */
    qconv(b, &q, (int[]){7}, 1, 5, 5, 3, 1, 5, 0, true);             /* 10 depthwise head */
    mb_outputs(b, 3, (const char *const[]){"score", "box", "dw"}, (int[]){8, 9, 10});
    seal(b, &q);
}

/* Runs the model through each available set and checks every value against ref_run. */
static void check_model(const struct enn_model *m, int h, int w)
{
    int c = m->input.c;
    float *x = malloc(sizeof(float) * (size_t)(c * h * w));
    for (int e = 0; e < c * h * w; e++)
        x[e] = frand(-1.2f, 1.2f);
    struct rv vals[32];
    ref_run(m, x, h, w, vals);
    int tested = 0;
    for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
        if (!enn_kernels_get(ISAS[i]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[i], 1);
        struct enn_net *net;
        char err[256];
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s: %s", ISAS[i], err);
        if (enn_net_keep_values(net, err, sizeof err) || enn_net_resize(net, h, w, err, sizeof err))
            fail_msg("%s: %s", ISAS[i], err);
        size_t row, plane;
        float *in = enn_net_input(net, &row, &plane);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                memcpy(in + (size_t)ch * plane + (size_t)y * row, x + (ch * h + y) * w,
                       sizeof(float) * (size_t)w);
        enn_net_forward(net);
        for (int id = 0; id <= m->n_nodes; id++) {
            struct rv v = vals[id];
            size_t n = (size_t)v.c * (size_t)v.h * (size_t)v.w;
            float *got = malloc(n * sizeof *got);
            enn_net_value(net, id, got);
            struct enn_qparam qp = m->qvalues[id];
            bool sig = id > 0 && m->nodes[id - 1].sigmoid;
            for (size_t e = 0; e < n; e++) {
                float want = v.q ? qp.scale * (float)(v.q[e] - qp.zero) : v.f[e];
                bool ok = sig ? fabsf(got[e] - want) <= 1e-6f : got[e] == want;
                if (!ok)
                    fail_msg("%s %s %dx%d: value %d element %zu: %.9g, reference %.9g",
                             ISAS[i], m->name, w, h, id, e, got[e], want);
            }
            free(got);
        }
        enn_net_free(net);
        tested++;
    }
    unsetenv("EMOTIOND_ISA");
    assert_true(tested >= 1);
    static int announced;
    if (!announced++)
        for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++)
            if (enn_kernels_get(ISAS[i]))
                print_message("int8 checked on %s\n", ISAS[i]);
    ref_free(vals, m->n_nodes);
    free(x);
}

static struct enn_model *parse(struct mb *b)
{
    struct enn_model *m;
    char err[256];
    if (enn_model_parse(b->data, b->len, &m, err, sizeof err))
        fail_msg("parse: %s", err);
    return m;
}

static void test_classifiers_match_reference(void **state)
{
    (void)state;
    for (int trial = 0; trial < 12; trial++) {
        wmax = trial % 2 ? 63 : 127;
        int h = irand(5, 21), w = irand(5, 23);
        struct mb b;
        build_classifier(&b, h, w);
        struct enn_model *m = parse(&b);
        assert_int_equal(m->precision, ENN_PRECISION_INT8);
        check_model(m, h, w);
        enn_model_free(m);
        mb_free(&b);
    }
    /* inputs of 2-5 positions a side (1-3 after stride 2), where the shared border
       column and the rounded-up sums are tightest */
    for (int h = 2; h <= 5; h++)
        for (int w = 2; w <= 5; w++) {
            struct mb t;
            build_classifier(&t, h, w);
            struct enn_model *tm = parse(&t);
            check_model(tm, h, w);
            enn_model_free(tm);
            mb_free(&t);
        }
    /* pooled rows of 300 positions: longer than one of the pool's 256-position runs */
    struct mb b;
    build_classifier(&b, 3, 600);
    struct enn_model *m = parse(&b);
    check_model(m, 3, 600);
    enn_model_free(m);
    mb_free(&b);
}

static void test_detectors_match_reference(void **state)
{
    (void)state;
    for (int trial = 0; trial < 8; trial++) {
        wmax = trial % 2 ? 63 : 127;
        int h = 4 * irand(2, 9), w = 4 * irand(2, 9);
        struct mb b;
        build_detector(&b, h, w);
        struct enn_model *m = parse(&b);
        check_model(m, h, w);
        check_model(m, h + 8, w + 4);   /* re-planned at another size */
        enn_model_free(m);
        mb_free(&b);
    }
}

/* Runs job through every set here into got, against the scalar kernel's want. */
static void compare_qconv(struct enn_qconv_job job, uint8_t *want, uint8_t *got,
                          const char *what)
{
    job.out = want;
    enn_kernels_get("scalar")->qconv(&job);
    for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
        const struct enn_kernels *k = enn_kernels_get(ISAS[i]);
        if (!k)
            continue;
        job.out = got;
        memset(got, 0, (size_t)(job.out_c + 3) / 4 * job.out_plane);
        k->qconv(&job);
        /* the spare lanes of the last quad too: the zero point (bias 0 there) */
        for (int o = 0; o < (job.out_c + 3) / 4 * 4; o++)
            for (size_t q = 0; q < job.count; q++) {
                size_t at = (size_t)(o / 4) * job.out_plane + 4 * q + (size_t)(o % 4);
                if (got[at] != want[at])
                    fail_msg("%s, %s: channel %d position %zu: %d, scalar %d", ISAS[i], what,
                             o, q, got[at], want[at]);
            }
    }
}

/* A qconv job over IN_C x TAPS steps at positions 0.. with unit tap offsets, weights
 * packed in the given order (NULL: natural), compared on every set against scalar with
 * activations all 127 and then random. */
enum { EDGE_OUT_C = 7, EDGE_IN_C = 6, EDGE_TAPS = 9, EDGE_COUNT = 45 };
#define EDGE_STEPS ((EDGE_IN_C + 3) / 4 * EDGE_TAPS)

static void compare_edge(const int8_t *w, const uint32_t *order, size_t quad_steps, bool pairs,
                         const char *what)
{
    size_t positions = EDGE_COUNT + EDGE_STEPS + ENN_MAX_OVERRUN;
    int8_t *packed = calloc(enn_qpacked_size(EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS), 1);
    enn_qpack_weights(w, EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS, order, packed);
    ptrdiff_t k_off[EDGE_STEPS];
    for (size_t i = 0; i < EDGE_STEPS; i++)
        k_off[i] = (ptrdiff_t)(order ? order[i] : i);
    int32_t bias[8] = {0, -5, 7, 100000, -100000, 3, 1, 0};
    float scale[8] = {1e-5f, 2e-5f, 1e-4f, 3e-5f, 3e-5f, 1e-5f, 2e-4f, 1};
    uint8_t *in = malloc(4 * positions);
    size_t out_plane = 4 * (EDGE_COUNT + ENN_MAX_OVERRUN);
    uint8_t *want = calloc(2 * out_plane, 1), *got = calloc(2 * out_plane, 1);
    struct enn_qconv_job job = {
        .out_c = EDGE_OUT_C, .steps = EDGE_STEPS, .packed = packed, .bias = bias,
        .scale = scale, .k_off = k_off, .in = in, .out_plane = out_plane,
        .count = EDGE_COUNT, .zero = 10, .lo = -10, .hi = 117, .quad_steps = quad_steps,
        .pairs = pairs,
    };
    char label[160];
    /* all 127; random 0..127; and 127 only where output channel 0's weight is positive,
       so that at position 0 (step s reads position s) its positive terms all count and
       its negative ones none: mixed-sign groups at their bound reach +32766 there */
    for (int fill = 0; fill < 3; fill++) {
        for (size_t e = 0; e < 4 * positions; e++)
            in[e] = (uint8_t)(fill == 1 ? irand(0, 127) : 127);
        for (size_t i = 0; fill == 2 && i < EDGE_STEPS; i++) {
            size_t s = order ? order[i] : i;
            int quad = (int)(s / EDGE_TAPS), t = (int)(s % EDGE_TAPS);
            for (int c = 4 * quad; c < 4 * quad + 4; c++)
                in[4 * s + (size_t)(c % 4)] =
                    c < EDGE_IN_C && w[c * EDGE_TAPS + t] > 0 ? 127 : 0;
        }
        snprintf(label, sizeof label, "%s, %s", what,
                 fill == 0 ? "input 127" : fill == 1 ? "random input"
                                                     : "127 under channel 0's positive weights");
        compare_qconv(job, want, got, label);
    }
    free(packed);
    free(in);
    free(want);
    free(got);
}

static bool groups_fit(const int8_t *w, const uint32_t *order, size_t first, size_t n, int group)
{
    int8_t *packed = calloc(enn_qpacked_size(EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS), 1);
    enn_qpack_weights(w, EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS, order, packed);
    bool fits = enn_qgroups_fit(packed, EDGE_OUT_C, EDGE_STEPS, first, n, group);
    free(packed);
    return fits;
}

#define EDGE_W(o, c, t) w[((o) * EDGE_IN_C + (c)) * EDGE_TAPS + (t)]

/* Products summed in int16 (enn_qconv_job.quad_steps, pairs) at the very edge of what
 * enn_qgroups_fit allows: each group's positive weights per output channel and byte pair
 * sum to 258 (and so do its negative ones where signs mix), so activations at 127 give
 * int16 sums of +-32766; one weight more is refused. Then weights of +-127 with
 * activations at 127, the edge for ARM's smull + smlal. */
static void test_qconv_int16_groups_edge(void **state)
{
    (void)state;
    int8_t w[EDGE_OUT_C * EDGE_IN_C * EDGE_TAPS];
    /* pairs: channels 2i, 2i + 1 at two steps, 65 + 64 + 65 + 64 = 258, one sign per
       output channel */
    for (int o = 0; o < EDGE_OUT_C; o++)
        for (int c = 0; c < EDGE_IN_C; c++)
            for (int t = 0; t < EDGE_TAPS; t++)
                EDGE_W(o, c, t) = (int8_t)((o % 3 == 1 ? -1 : 1) * (65 - c % 2));
    assert_true(groups_fit(w, NULL, 0, EDGE_STEPS, 2));
    assert_false(groups_fit(w, NULL, 0, 16, 4));
    compare_edge(w, NULL, 0, true, "pairs at the bound");
    EDGE_W(2, 1, 5) = 65;   /* 259 */
    assert_false(groups_fit(w, NULL, 0, EDGE_STEPS, 2));

    /* groups of four steps (natural steps 0-15; 16 and 17 a pair), per output channel
       and byte pair: one sign, seven weights of 32 and one of 34; or, in output channels
       0, 3 and 6, mixed signs: 65 + 64 + 65 + 64 positive and as much negative */
    for (int o = 0; o < EDGE_OUT_C; o++)
        for (int c = 0; c < EDGE_IN_C; c++)
            for (int t = 0; t < EDGE_TAPS; t++) {
                int s = c / 4 * EDGE_TAPS + t;
                if (o % 3 == 0) {
                    bool positive = (c % 2 == 0) == (s % 4 < 2);
                    EDGE_W(o, c, t) = (int8_t)((positive ? 1 : -1) * (s % 2 ? 64 : 65));
                } else {
                    EDGE_W(o, c, t) = (int8_t)((o % 3 == 1 ? -1 : 1) *
                                               (32 + (s % 4 == 0 && c % 2 == 0 ? 2 : 0)));
                }
            }
    assert_true(groups_fit(w, NULL, 0, 16, 4));
    assert_true(groups_fit(w, NULL, 16, 2, 2));
    compare_edge(w, NULL, 16, true, "groups of four at the bound");
    EDGE_W(0, 0, 1) = (int8_t)(EDGE_W(0, 0, 1) > 0 ? EDGE_W(0, 0, 1) + 1 : EDGE_W(0, 0, 1) - 1);
    assert_false(groups_fit(w, NULL, 0, 16, 4));

    for (size_t e = 0; e < sizeof w; e++)
        w[e] = (int8_t)(e % 5 == 2 ? 127 : -127);
    assert_false(groups_fit(w, NULL, 0, EDGE_STEPS, 2));
    compare_edge(w, NULL, 0, false, "weights +-127");
}

/* Requantisation at its extremes on every set: accumulators far past both ends of the
 * clamp, at the int32 limits, times scales up to 3e38 (products of +-infinity in float),
 * and halves that round to even; a ReLU clamp and a plain one, zero points 0 and 100. */
static void test_qconv_requant_extremes(void **state)
{
    (void)state;
    enum { OUT_C = 7, COUNT = 20 };
    int8_t packed[2 * 16] = {0};   /* one step, zero weights: each output is its bias */
    ptrdiff_t k_off[1] = {0};
    uint8_t in[4 * (COUNT + ENN_MAX_OVERRUN)];
    memset(in, 60, sizeof in);
    int32_t biases[][8] = {
        {INT32_MAX, INT32_MIN, 5, -5, 3, -3, 1000000, 0},
        {254, 255, -254, -255, 7, -7, 2147483000, 0},
    };
    float scales[][8] = {
        {1, 1, 0.5f, 0.5f, 0.5f, 0.5f, 1e30f, 1},
        {0.5f, 0.5f, 0.5f, 0.5f, 1e-30f, 3e38f, 3e38f, 1},
    };
    size_t out_plane = 4 * (COUNT + ENN_MAX_OVERRUN);
    uint8_t *want = calloc(2 * out_plane, 1), *got = calloc(2 * out_plane, 1);
    for (size_t c = 0; c < 2; c++)
        for (int zero = 0; zero <= 100; zero += 100)
            for (int relu = 0; relu < 2; relu++) {
                struct enn_qconv_job job = {
                    .out_c = OUT_C, .steps = 1, .packed = packed, .bias = biases[c],
                    .scale = scales[c], .k_off = k_off, .in = in, .out_plane = out_plane,
                    .count = COUNT, .zero = zero, .lo = relu ? 0 : -zero, .hi = 127 - zero,
                };
                char what[80];
                snprintf(what, sizeof what, "case %zu, zero %d, relu %d", c, zero, relu);
                compare_qconv(job, want, got, what);
            }
    free(want);
    free(got);
}

/* enn_qorder_steps: a permutation whose groups fit, and kernels that run it equal the
 * scalar one; a heavy step out of place still lets the others form groups. */
static void test_qorder_steps(void **state)
{
    (void)state;
    int8_t w[EDGE_OUT_C * EDGE_IN_C * EDGE_TAPS];
    for (int trial = 0; trial < 24; trial++) {
        int lim = trial % 3 == 0 ? 127 : trial % 3 == 1 ? 63 : 30;
        for (size_t e = 0; e < sizeof w; e++)
            w[e] = (int8_t)irand(-lim, lim);
        uint32_t order[EDGE_STEPS];
        size_t quads = enn_qorder_steps(w, EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS, order);
        assert_int_equal(quads % 4, 0);
        bool seen[EDGE_STEPS] = {false};
        for (size_t i = 0; i < EDGE_STEPS; i++) {
            assert_true(order[i] < EDGE_STEPS && !seen[order[i]]);
            seen[order[i]] = true;
        }
        for (size_t i = quads + 1; i < EDGE_STEPS; i++)   /* the rest in natural order */
            assert_true(order[i - 1] < order[i]);
        assert_true(groups_fit(w, order, 0, quads, 4));
        if (lim == 30)   /* 8 x 30 < 258: every group fits */
            assert_int_equal(quads, EDGE_STEPS / 4 * 4);
        size_t rest = (EDGE_STEPS - quads) / 2 * 2;
        bool pairs = groups_fit(w, order, quads, rest, 2);
        compare_edge(w, order, quads, pairs, "random weights in enn_qorder_steps' order");
    }
    /* step 1 (channels 0-3, tap 1) heavy for output 2: no natural group of four holding it
       fits, but the other steps form groups */
    for (size_t e = 0; e < sizeof w; e++)
        w[e] = 20;
    for (int c = 0; c < 4; c++)
        EDGE_W(2, c, 1) = 120;
    assert_false(groups_fit(w, NULL, 0, 16, 4));
    uint32_t order[EDGE_STEPS];
    size_t quads = enn_qorder_steps(w, EDGE_OUT_C, EDGE_IN_C, EDGE_TAPS, order);
    assert_int_equal(quads, 16);
    for (size_t i = 0; i < quads; i++)
        assert_int_not_equal(order[i], 1);
    assert_false(groups_fit(w, order, quads, 2, 2));   /* 240 + 40 */
    compare_edge(w, order, quads, false, "a heavy step left out of the groups");
}

/* qsum on lengths that leave SIMD tails, against the scalar kernel. */
static void test_qsum_tails(void **state)
{
    (void)state;
    const struct enn_kernels *ref = enn_kernels_get("scalar");
    uint8_t a[300], b[300], c[300], want[300], got[300];
    for (int i = 0; i < 300; i++) {
        a[i] = (uint8_t)irand(0, 127);
        b[i] = (uint8_t)irand(0, 127);
        c[i] = (uint8_t)irand(0, 127);
    }
    const uint8_t *src[3] = {a, b, c};
    int zeros[3] = {0, 64, 17};
    float r[3] = {0.73f, 1.9f, 0.31f};
    for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
        const struct enn_kernels *k = enn_kernels_get(ISAS[i]);
        for (size_t len = 0; k && len < 300; len += 1 + len / 3) {
            ref->qsum(src, zeros, r, 3, want, len, 40);
            memset(got, 0xee, sizeof got);
            k->qsum(src, zeros, r, 3, got, len, 40);
            assert_memory_equal(got, want, len);
            assert_int_equal(got[len], 0xee);   /* nothing written past len */
        }
    }
}

/* ---- goldens from tools/convert/enn_reference.py, an executor written in numpy from the
 * same specification: two implementations, one answer ---- */

static struct enn_model *load_fixture(const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    struct enn_model *m;
    if (enn_model_load(path, &m, err, sizeof err))
        fail_msg("%s", err);
    return m;
}

/* Sums at the edges of the clamp: ties, factors that take t past int16 and int32 either
 * way, tiny ones, one input and the most; zero points 0 .. 127. */
static void test_qsum_extremes(void **state)
{
    (void)state;
    const struct enn_kernels *ref = enn_kernels_get("scalar");
    enum { LEN = 256, MOST = ENN_MAX_SUM < 6 ? ENN_MAX_SUM : 6 };
    static uint8_t in[MOST][LEN], want[LEN], got[LEN];
    const uint8_t *src[MOST];
    for (int i = 0; i < MOST; i++) {
        for (int e = 0; e < LEN; e++)   /* the extremes often */
            in[i][e] = (uint8_t)(e % 5 == 0 ? 0 : e % 5 == 1 ? 127 : irand(0, 127));
        src[i] = in[i];
    }
    static const struct {
        int n;
        float r[6];
        int zeros[6];
    } cases[] = {
        {2, {0.5f, 0.5f}, {0, 1}},              /* halves: ties to even */
        {2, {0.5f, 1.5f}, {127, 0}},
        {2, {1e6f, 3e3f}, {64, 3}},             /* past int16 */
        {2, {3e17f, 1e17f}, {0, 127}},          /* past int32, both signs */
        {3, {1e-30f, 2e-30f, 1e-30f}, {5, 9, 100}},
        {1, {1.0f}, {0}},
        {1, {0.9f}, {127}},
        {MOST, {0.3f, 0.7f, 1.1f, 0.2f, 2.5f, 0.05f}, {0, 127, 64, 1, 99, 30}},
    };
    static const int sum_zeros[] = {0, 1, 40, 126, 127};
    for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
        const struct enn_kernels *k = enn_kernels_get(ISAS[i]);
        for (size_t c = 0; k && c < sizeof cases / sizeof *cases; c++)
            for (size_t zi = 0; zi < sizeof sum_zeros / sizeof *sum_zeros; zi++) {
                int zero = sum_zeros[zi];
                ref->qsum(src, cases[c].zeros, cases[c].r, cases[c].n, want, LEN, zero);
                k->qsum(src, cases[c].zeros, cases[c].r, cases[c].n, got, LEN, zero);
                for (int e = 0; e < LEN; e++)
                    if (got[e] != want[e])
                        fail_msg("%s case %zu zero %d element %d: %d, scalar %d", ISAS[i], c,
                                 zero, e, got[e], want[e]);
            }
    }
}

/* nano-b-quick-int8.golden (tools/train/make-fixtures --int8): u32 count, input floats,
 * classes, then per input its floats and the executor's logits. */
static void test_classifier_equals_numpy_executor(void **state)
{
    (void)state;
    struct enn_model *m = load_fixture("nano-b-quick-int8.enn");
    size_t len;
    uint8_t *g = read_file(FIXTURES "/nano-b-quick-int8.golden", &len);
    assert_non_null(g);
    uint32_t hdr[3];
    memcpy(hdr, g, sizeof hdr);
    uint32_t n = hdr[0], in_n = hdr[1], classes = hdr[2];
    assert_int_equal(classes, (uint32_t)m->n_classes);
    assert_int_equal(in_n, (uint32_t)(m->input.c * m->input.h * m->input.w));
    assert_int_equal(len, 12 + (size_t)n * (in_n + classes) * 4);
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        if (!enn_kernels_get(ISAS[s]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        char err[256];
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s", err);
        float *input = malloc(in_n * sizeof *input);
        for (uint32_t i = 0; i < n; i++) {
            float want[64], got[64];
            const uint8_t *rec = g + 12 + (size_t)i * (in_n + classes) * 4;
            memcpy(input, rec, in_n * 4);
            memcpy(want, rec + in_n * 4, classes * 4);
            enn_net_run(net, input, got, NULL);
            /* every quantised map is exact (the logits follow from them); pooling and
               dense are float, where the executor's order of additions is its own */
            for (uint32_t c = 0; c < classes; c++)
                if (!(fabsf(got[c] - want[c]) <= 1e-5f * (1 + fabsf(want[c]))))
                    fail_msg("%s, input %u, class %u: logit %.9g, numpy executor %.9g",
                             ISAS[s], i, c, got[c], want[c]);
        }
        free(input);
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    free(g);
    enn_model_free(m);
}

/* yunet-astronaut-int8.golden (tools/convert/yunet-golden --enn): the shipped int8 YuNet's
 * 12 maps on the sample portrait. Box and landmark maps bit for bit; the score maps go
 * through our vectorised sigmoid, within 1e-6 of numpy's. */
static void test_yunet_equals_numpy_executor(void **state)
{
    (void)state;
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/models/face_detection_yunet_2023mar-int8.enn", SOURCE_DIR);
    struct enn_model *m;
    if (enn_model_load(path, &m, err, sizeof err))
        fail_msg("%s", err);
    size_t len;
    uint8_t *g = read_file(FIXTURES "/yunet-astronaut-int8.golden", &len);
    assert_non_null(g);
    assert_memory_equal(g, "YGLD", 4);
    uint32_t w, h;
    memcpy(&w, g + 4, 4);
    memcpy(&h, g + 8, 4);
    const uint8_t *px = g + 12;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        if (!enn_kernels_get(ISAS[s]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err) ||
            enn_net_resize(net, (int)h, (int)w, err, sizeof err))
            fail_msg("%s: %s", ISAS[s], err);
        size_t row, plane;
        float *in = enn_net_input(net, &row, &plane);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                in[y * row + x] = (px[y * w + x] / 255.0f - m->mean) / m->std;
        enn_net_forward(net);
        const uint8_t *at = px + (size_t)w * h;
        static const char *const kinds[4] = {"cls", "obj", "bbox", "kps"};
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 3; l++) {
                char name[16];
                snprintf(name, sizeof name, "%s_%d", kinds[k], 8 << l);
                struct enn_view v = enn_net_output(net, enn_model_output(m, name));
                for (int c = 0; c < v.s.c; c++)
                    for (int y = 0; y < v.s.h; y++)
                        for (int x = 0; x < v.s.w; x++, at += 4) {
                            float want, got = v.data[(size_t)c * v.plane + (size_t)y * v.row +
                                                     (size_t)x];
                            memcpy(&want, at, 4);
                            bool ok = k < 2 ? fabsf(got - want) <= 1e-6f : got == want;
                            if (!ok)
                                fail_msg("%s %s (%d, %d, %d): %.9g, numpy executor %.9g",
                                         ISAS[s], name, c, y, x, got, want);
                        }
            }
        assert_true(at == g + len);
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    free(g);
    enn_model_free(m);
}

/* The shipped int8 classifiers: every value of every set equal to the scalar set's. */
static void test_shipped_models_equal_scalar(void **state)
{
    (void)state;
    static const char *const names[] = {"emotionnet-nano-a-fer-int8.enn",
                                        "emotionnet-nano-b-fer-int8.enn"};
    for (size_t f = 0; f < sizeof names / sizeof *names; f++) {
        char path[512], err[256];
        snprintf(path, sizeof path, "%s/models/%s", SOURCE_DIR, names[f]);
        struct enn_model *m;
        if (enn_model_load(path, &m, err, sizeof err))
            fail_msg("%s", err);
        size_t in_n = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
        float *x = malloc(in_n * sizeof *x);
        for (size_t i = 0; i < in_n; i++)
            x[i] = frand(-2.0f, 2.0f);
        float *want[ENN_MAX_NODES + 1] = {0};
        for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
            if (!enn_kernels_get(ISAS[s]))
                continue;
            setenv("EMOTIOND_ISA", ISAS[s], 1);
            struct enn_net *net;
            if (enn_net_create(m, &net, err, sizeof err) ||
                enn_net_keep_values(net, err, sizeof err))
                fail_msg("%s: %s", ISAS[s], err);
            enn_net_run(net, x, NULL, NULL);
            for (int id = 0; id <= m->n_nodes; id++) {
                struct enn_shape sh = enn_model_value_shape(m, id);
                size_t n = (size_t)sh.c * (size_t)sh.h * (size_t)sh.w;
                float *got = malloc(n * sizeof *got);
                enn_net_value(net, id, got);
                if (!want[id]) {   /* scalar comes first */
                    want[id] = got;
                    continue;
                }
                if (memcmp(got, want[id], n * sizeof *got))
                    fail_msg("%s on %s: value %d differs from scalar", names[f], ISAS[s], id);
                free(got);
            }
            enn_net_free(net);
        }
        unsetenv("EMOTIOND_ISA");
        for (int id = 0; id <= m->n_nodes; id++)
            free(want[id]);
        free(x);
        enn_model_free(m);
    }
}

/* ---- damaged files ---- */

static void expect_refused(struct mb *b, const char *needle)
{
    struct enn_model *m;
    char err[256] = "";
    int rc = enn_model_parse(b->data, b->len, &m, err, sizeof err);
    if (rc == 0) {
        enn_model_free(m);
        fail_msg("accepted a model that should fail with '%s'", needle);
    }
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

/* A one-conv detector whose weight scale, zero point, first weight and qparams the
 * caller picks. */
static void tiny(struct mb *b, float wscale, int8_t w0, float s0, int z0, float s1, int z1)
{
    int8_t w[9] = {w0, 1, 2, 3, 4, 5, 6, 7, 8};
    int32_t bias[1] = {5};
    mb_begin_v21(b, "tiny", 1, 8, 8, 0, NULL);
    mb_qconv(b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &wscale, bias);
    mb_qconv(b, (int[]){1}, 1, 1, 1, 3, 1, 1, 0, w, &wscale, bias);
    mb_outputs(b, 1, (const char *const[]){"out"}, (int[]){2});
    mb_u8(b, 1);
    mb_qparams(b, 3, (float[]){s0, s1, 1}, (int[]){z0, z1, 0});
    mb_finish(b);
}

static void test_damaged_int8_refused(void **state)
{
    (void)state;
    struct mb b;
    tiny(&b, 0.01f, 9, 0.02f, 64, 0.03f, 0);
    struct enn_model *m = parse(&b);   /* the undamaged one parses */
    enn_model_free(m);
    /* every truncation fails cleanly */
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        if (len >= 16)
            mb_reseal(copy, len);
        char err[256];
        assert_int_not_equal(enn_model_parse(copy, len, &m, err, sizeof err), 0);
        free(copy);
    }
    mb_free(&b);
    tiny(&b, 0.0f, 9, 0.02f, 64, 0.03f, 0);
    expect_refused(&b, "weight scale 0 is 0");
    mb_free(&b);
    tiny(&b, NAN, 9, 0.02f, 64, 0.03f, 0);
    expect_refused(&b, "must be finite and > 0");
    mb_free(&b);
    tiny(&b, 0.01f, -128, 0.02f, 64, 0.03f, 0);
    expect_refused(&b, "-128");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 0.0f, 64, 0.03f, 0);
    expect_refused(&b, "value 0: scale 0");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 0.02f, 128, 0.03f, 0);
    expect_refused(&b, "zero point 128");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 0.02f, 64, -0.03f, 0);
    expect_refused(&b, "value 1: scale -0.03");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 0.02f, 64, INFINITY, 0);
    expect_refused(&b, "value 1: scale inf");
    mb_free(&b);
    /* each scale finite, but a factor the runner computes from them is not: infinite,
       or 0 in float (inf x an accumulator of 0 is NaN, where kernels may differ) */
    tiny(&b, 1e20f, 9, 1e20f, 64, 1, 0);
    expect_refused(&b, "node 1: requantisation factor of output channel 0 is inf");
    mb_free(&b);
    tiny(&b, 1e-30f, 9, 1e-30f, 64, 1, 0);
    expect_refused(&b, "node 1: requantisation factor of output channel 0 is 0");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 1e-39f, 64, 0.03f, 0);
    expect_refused(&b, "value 0: scale 1e-39");
    mb_free(&b);

    /* an output map read by another node */
    int8_t w[9] = {1};
    float ws = 0.01f;
    int32_t bias[1] = {0};
    mb_begin_v21(&b, "reads-output", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_qconv(&b, (int[]){1}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_outputs(&b, 2, (const char *const[]){"a", "b"}, (int[]){1, 2});
    mb_u8(&b, 1);
    mb_qparams(&b, 3, (float[]){0.1f, 1, 1}, (int[]){0, 0, 0});
    mb_finish(&b);
    expect_refused(&b, "reads output value 1");
    mb_free(&b);

    /* a max pool that changes qparams */
    mb_begin_v21(&b, "pool-rescales", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_maxpool(&b, (int[]){1}, 1);
    mb_qconv(&b, (int[]){2}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){3});
    mb_u8(&b, 1);
    mb_qparams(&b, 4, (float[]){0.1f, 0.2f, 0.3f, 1}, (int[]){0, 0, 0, 0});
    mb_finish(&b);
    expect_refused(&b, "max pool changes qparams");
    mb_free(&b);

    /* a sum whose products could overflow float: each factor finite, 127 x 3e36 not */
    mb_begin_v21(&b, "sum-reach", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_qconv(&b, (int[]){0, 1}, 2, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){2});
    mb_u8(&b, 1);
    mb_qparams(&b, 3, (float[]){3e30f, 0.2f, 1}, (int[]){0, 0, 0});
    mb_qparams(&b, 1, (float[]){1e-6f}, (int[]){0});
    mb_finish(&b);
    expect_refused(&b, "node 2: its inputs' factors in the sum add up to 3e+36");
    mb_free(&b);

    /* pooling a vector (the float runner allows it; int8 pools quantised maps) */
    mb_begin_v21(&b, "pool-of-vector", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_gap(&b, (int[]){1}, 1);
    mb_gap(&b, (int[]){2}, 1);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){3});
    mb_u8(&b, 1);
    mb_qparams(&b, 4, (float[]){0.1f, 0.2f, 1, 1}, (int[]){0, 0, 0, 0});
    mb_finish(&b);
    expect_refused(&b, "node 3 pools value 2, a vector");
    mb_free(&b);

    /* a bias that leaves the int32 accumulator no room; sigmoid on a quantised map */
    int32_t huge[1] = {2147483600};
    mb_begin_v21(&b, "overflow", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, huge);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){1});
    mb_u8(&b, 1);
    mb_qparams(&b, 2, (float[]){0.1f, 1}, (int[]){0, 0});
    mb_finish(&b);
    expect_refused(&b, "can overflow int32");
    mb_free(&b);
    mb_begin_v21(&b, "sigmoid-inside", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 2, w, &ws, bias);
    mb_qconv(&b, (int[]){1}, 1, 1, 1, 3, 1, 1, 0, w, &ws, bias);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){2});
    mb_u8(&b, 1);
    mb_qparams(&b, 3, (float[]){0.1f, 0.2f, 1}, (int[]){0, 0, 0});
    mb_finish(&b);
    expect_refused(&b, "sigmoid on a quantised map");
    mb_free(&b);

    /* int8 weights in a float (2.0) file, and a wrong weight count */
    mb_begin_v2(&b, "int8-in-2.0", 1, 8, 8, 0, NULL);
    mb_qconv(&b, (int[]){0}, 1, 1, 1, 3, 1, 1, 1, w, &ws, bias);
    mb_outputs(&b, 1, (const char *const[]){"a"}, (int[]){1});
    mb_finish(&b);
    expect_refused(&b, "int8 conv weights in a float32 model");
    mb_free(&b);
    tiny(&b, 0.01f, 9, 0.02f, 64, 0.03f, 0);
    size_t count_at = 0;   /* the first tensor's count field: find "dtype 1" then 9 */
    for (size_t i = 16; i + 8 <= b.len; i++)
        if (b.data[i] == 1 && !b.data[i + 1] && !b.data[i + 2] && !b.data[i + 3] &&
            b.data[i + 4] == 9 && !b.data[i + 5]) {
            count_at = i + 4;
            break;
        }
    assert_true(count_at > 0);
    b.data[count_at] = 8;
    mb_reseal(b.data, b.len);
    expect_refused(&b, "int8 weights hold 8 values, the shape needs 9");
    mb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classifiers_match_reference),
        cmocka_unit_test(test_detectors_match_reference),
        cmocka_unit_test(test_qconv_int16_groups_edge),
        cmocka_unit_test(test_qorder_steps),
        cmocka_unit_test(test_qconv_requant_extremes),
        cmocka_unit_test(test_qsum_tails),
        cmocka_unit_test(test_qsum_extremes),
        cmocka_unit_test(test_classifier_equals_numpy_executor),
        cmocka_unit_test(test_yunet_equals_numpy_executor),
        cmocka_unit_test(test_shipped_models_equal_scalar),
        cmocka_unit_test(test_damaged_int8_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
