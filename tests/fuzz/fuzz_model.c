/* libFuzzer target: .enn model files through the real loader (enn_model_parse), then a
 * network built from every model that parses (enn_net_create), inference checked against
 * a reference, and everything freed.
 *
 * Three kinds of input:
 *  - A model file ("ENNM..."). Most mutations would die at the payload length or CRC
 *    check, so it is parsed twice: as it is (the header checks themselves), then with
 *    the header's length and CRC fixed up (the payload parser, where the work is).
 *  - A recipe ("ENNR" + bytes): a few bytes per node that this file turns into a valid
 *    version 1 model with weights of the right counts (mirroring
 *    tests/support/model_builder.c), then parses like any file. Random bytes rarely make
 *    a well-formed graph; recipes reach the network planner and the kernels with graphs
 *    of every shape: long chains of pools and dense layers, summed inputs, stride 2 on odd
 *    sizes, 1-pixel maps.
 *  - A version 2 recipe ("ENN2" + bytes, build_recipe2): the same for version 2 files,
 *    with grouped and depthwise convolutions, max pooling, upsampling, sigmoid, several
 *    named outputs, and detectors (0 classes) that are re-planned at a size the recipe
 *    names. "ENNR" recipes keep their meaning, so old reproducers stay what they were.
 *
 * What a model that parses goes through (exercise):
 *  - classifiers: enn_net_classify on a small gray image (the daemon's path, mirrored for
 *    small models), then enn_net_run on a known input;
 *  - detectors (0 classes): enn_net_input / forward / output at the planned size, then
 *    for fully convolutional ones enn_net_resize to another size (run there too), back,
 *    and to sizes that must be refused;
 *  - both: every value read back once the net keeps them (enn_net_keep_values).
 * Each run is checked against a reference written here in double precision with a
 * bound on float rounding (a wrong tap, group, buffer shared too early or border left
 * dirty shows as a value outside the bound), and runs of the same input at the same size
 * must agree bit for bit whatever happened in between (another plan, kept values). */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "model.h"
#include "net.h"

/* Inference is skipped above this many multiply-adds (nano-b-quick: 43 M; its shrunk seed: 0.1 M),
 * and for inputs larger than this many floats (the crop alone would dominate); net creation always
 * runs. Mirrored inference (twice the work) only for small models. */
#define MAX_MACS (512u << 10)
#define MAX_INPUT_FLOATS (1u << 16)
#define MIRROR_MACS (128u << 10)
#define ACTIVATION_BUDGET (64u << 20)
/* Upsampling costs no multiply-adds but makes large maps: no run when the values hold
 * more than this many floats in all; the reference runs below REF_FLOATS. */
#define MAX_RUN_FLOATS (4u << 20)
#define REF_FLOATS (1u << 20)
/* Re-plans whose values hold more than this (with borders) are not tried (each would
 * clear a large arena), unless one value is over the budget: the planner must refuse
 * those before it allocates anything. */
#define MAX_PLAN_FLOATS (8u << 20)
/* Unit of float rounding in the error bounds, with a margin (2^-24 is the real one). */
#define ULP 1.2e-7
/* Past this magnitude a float sum of such terms may overflow (to inf, and then inf x a
 * weight of 0 is NaN): the bound of such an element is infinite, so it and whatever reads
 * it, even through a zero weight (0 x inf is NaN here too), go unchecked. */
#define FLOAT_RISK 1e37

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_model: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- reference ---------------------------------------------------------------------- */

/* Every value of one run at one input size, in double, with a bound on how far the
 * engine's float result may be from it (e): rounding in each sum of products, grown
 * through the layers (|w| times the input's bound), shrunk by sigmoid (slope <= 1/4). */
struct ref {
    int n;                   /* values 0 .. n */
    struct enn_shape *s;
    double **v, **e;
    size_t floats;           /* sum of c * h * w */
    size_t padded;           /* sum of c * (h + 2) * (w + 2) */
    size_t macs;
    bool ok;                 /* the graph works out at this size, every value in budget */
    bool over_budget;        /* not ok because a value is over the activation budget */
};

static size_t count(struct enn_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

static size_t padded(struct enn_shape s)
{
    return (size_t)s.c * ((size_t)s.h + 2) * ((size_t)s.w + 2);
}

static bool same(struct enn_shape a, struct enn_shape b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

/* Shapes at height x width by docs/model-format.md, worked out here, not by the engine. */
static void ref_shapes(const struct enn_model *m, int height, int width, struct ref *R)
{
    memset(R, 0, sizeof *R);
    R->n = m->n_nodes;
    R->s = calloc((size_t)m->n_nodes + 1, sizeof *R->s);
    if (!R->s)
        abort();
    if (height < 1 || width < 1 || height > ENN_MAX_PLAN_DIM || width > ENN_MAX_PLAN_DIM)
        return;
    R->s[0] = (struct enn_shape){m->input.c, height, width};
    R->floats = count(R->s[0]);
    R->padded = padded(R->s[0]);
    if (R->padded > ACTIVATION_BUDGET) {
        R->over_budget = true;
        return;
    }
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct enn_shape in = R->s[n->inputs[0]], out = {n->out.c, 1, 1};
        for (int i = 1; i < n->n_inputs; i++)
            if (!same(R->s[n->inputs[i]], in))
                return;
        switch (n->op) {
        case ENN_OP_CONV:
            out.h = (in.h + 2 * (n->kernel / 2) - n->kernel) / n->stride + 1;
            out.w = (in.w + 2 * (n->kernel / 2) - n->kernel) / n->stride + 1;
            R->macs += count(out) * (size_t)(in.c / n->groups) * (size_t)(n->kernel * n->kernel);
            break;
        case ENN_OP_MAXPOOL:
            out = (struct enn_shape){in.c, in.h / 2, in.w / 2};
            if (out.h < 1 || out.w < 1)
                return;
            break;
        case ENN_OP_UPSAMPLE:
            out = (struct enn_shape){in.c, in.h * 2, in.w * 2};
            break;
        case ENN_OP_GAP:
            out.c = in.c;
            break;
        case ENN_OP_DENSE:
            R->macs += (size_t)out.c * (size_t)in.c * (size_t)n->n_inputs;
            break;
        }
        if (padded(out) > ACTIVATION_BUDGET) {
            R->over_budget = true;
            return;
        }
        R->s[k] = out;
        R->floats += count(out);
        R->padded += padded(out);
    }
    R->ok = true;
}

static void ref_free(struct ref *R)
{
    for (int id = 0; R->v && id <= R->n; id++) {
        free(R->v[id]);
        free(R->e[id]);
    }
    free(R->v);
    free(R->e);
    free(R->s);
    memset(R, 0, sizeof *R);
}

static double activate(const struct enn_node *n, double x, double *e)
{
    if (n->relu)
        return x < 0 ? 0 : x;
    if (n->sigmoid) {
        *e = 0.25 * *e + 4e-6;   /* the kernels are within 1e-6 of libm's expf */
        return 1 / (1 + exp(-x));
    }
    return x;
}

/* Runs the graph on input [c][h][w] (the shapes from ref_shapes, which must be ok). */
static void ref_run(const struct enn_model *m, struct ref *R, const float *input)
{
    R->v = calloc((size_t)R->n + 1, sizeof *R->v);
    R->e = calloc((size_t)R->n + 1, sizeof *R->e);
    if (!R->v || !R->e)
        abort();
    for (int id = 0; id <= R->n; id++) {
        R->v[id] = calloc(count(R->s[id]), sizeof **R->v);
        R->e[id] = calloc(count(R->s[id]), sizeof **R->e);
        if (!R->v[id] || !R->e[id])
            abort();
    }
    for (size_t i = 0; i < count(R->s[0]); i++)
        R->v[0][i] = input[i];
    for (int k = 1; k <= R->n; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct enn_shape in = R->s[n->inputs[0]], out = R->s[k];
        size_t len = count(in);
        /* the summed input, its bound, and the sum of the addends' magnitudes */
        double *x = calloc(len, sizeof *x), *xe = calloc(len, sizeof *xe),
               *xa = calloc(len, sizeof *xa);
        if (!x || !xe || !xa)
            abort();
        for (int i = 0; i < n->n_inputs; i++)
            for (size_t j = 0; j < len; j++) {
                x[j] += R->v[n->inputs[i]][j];
                xa[j] += fabs(R->v[n->inputs[i]][j]);
                xe[j] += R->e[n->inputs[i]][j];
            }
        if (n->n_inputs > 1)
            for (size_t j = 0; j < len; j++)
                xe[j] += (double)n->n_inputs * ULP * xa[j];
        for (size_t j = 0; j < len; j++)
            if (!(xa[j] < FLOAT_RISK))
                xe[j] = INFINITY;
        double *v = R->v[k], *e = R->e[k];
        switch (n->op) {
        case ENN_OP_CONV: {
            int in_g = in.c / n->groups, out_g = out.c / n->groups, kk = n->kernel,
                pad = kk / 2;
            double terms = (double)(in_g * kk * kk) + 2;
            for (int o = 0; o < out.c; o++) {
                int g = o / out_g;
                const float *w = n->weights + (size_t)o * (size_t)in_g * (size_t)(kk * kk);
                for (int oy = 0; oy < out.h; oy++)
                    for (int ox = 0; ox < out.w; ox++) {
                        double acc = n->bias[o], mag = fabs(n->bias[o]), err = 0;
                        for (int icg = 0; icg < in_g; icg++) {
                            size_t plane = (size_t)(g * in_g + icg) * (size_t)in.h * (size_t)in.w;
                            for (int ky = 0; ky < kk; ky++) {
                                int iy = oy * n->stride + ky - pad;
                                if (iy < 0 || iy >= in.h)
                                    continue;
                                for (int kx = 0; kx < kk; kx++) {
                                    int ix = ox * n->stride + kx - pad;
                                    if (ix < 0 || ix >= in.w)
                                        continue;
                                    size_t at = plane + (size_t)iy * (size_t)in.w + (size_t)ix;
                                    double wt = w[(icg * kk + ky) * kk + kx];
                                    acc += wt * x[at];
                                    mag += fabs(wt) * xa[at];
                                    err += fabs(wt) * xe[at];
                                }
                            }
                        }
                        err += terms * ULP * mag;
                        if (!(mag < FLOAT_RISK))
                            err = INFINITY;
                        size_t at = ((size_t)o * (size_t)out.h + (size_t)oy) * (size_t)out.w +
                                    (size_t)ox;
                        v[at] = activate(n, acc, &err);
                        e[at] = err;
                    }
            }
            break;
        }
        case ENN_OP_DENSE: {
            double terms = (double)(in.c * n->n_inputs) + 2;
            for (int o = 0; o < out.c; o++) {
                const float *w = n->weights + (size_t)o * (size_t)in.c;
                double acc = n->bias[o], mag = fabs(n->bias[o]), err = 0;
                for (int j = 0; j < in.c; j++) {
                    acc += (double)w[j] * x[j];
                    mag += fabs(w[j]) * xa[j];
                    err += fabs(w[j]) * xe[j];
                }
                err += terms * ULP * mag;
                if (!(mag < FLOAT_RISK))
                    err = INFINITY;
                v[o] = activate(n, acc, &err);
                e[o] = err;
            }
            break;
        }
        case ENN_OP_GAP: {
            size_t hw = (size_t)in.h * (size_t)in.w;
            for (int c = 0; c < in.c; c++) {
                double acc = 0, mag = 0, err = 0;
                for (size_t j = 0; j < hw; j++) {
                    acc += x[(size_t)c * hw + j];
                    mag += xa[(size_t)c * hw + j];
                    err += xe[(size_t)c * hw + j];
                }
                v[c] = acc / (double)hw;
                e[c] = mag < FLOAT_RISK
                    ? (err + ((double)(hw * (size_t)n->n_inputs) + 3) * ULP * mag) / (double)hw
                    : INFINITY;
            }
            break;
        }
        case ENN_OP_MAXPOOL:
            for (int c = 0; c < out.c; c++)
                for (int oy = 0; oy < out.h; oy++)
                    for (int ox = 0; ox < out.w; ox++) {
                        double best = -INFINITY, err = 0;
                        for (int i = 0; i < 4; i++) {
                            size_t at = ((size_t)c * (size_t)in.h + (size_t)(2 * oy + i / 2)) *
                                            (size_t)in.w + (size_t)(2 * ox + i % 2);
                            best = x[at] > best ? x[at] : best;
                            err = xe[at] > err ? xe[at] : err;
                        }
                        size_t at = ((size_t)c * (size_t)out.h + (size_t)oy) * (size_t)out.w +
                                    (size_t)ox;
                        v[at] = best;
                        e[at] = err;
                    }
            break;
        case ENN_OP_UPSAMPLE:
            for (int c = 0; c < out.c; c++)
                for (int oy = 0; oy < out.h; oy++)
                    for (int ox = 0; ox < out.w; ox++) {
                        size_t src = ((size_t)c * (size_t)in.h + (size_t)(oy / 2)) *
                                         (size_t)in.w + (size_t)(ox / 2);
                        size_t at = ((size_t)c * (size_t)out.h + (size_t)oy) * (size_t)out.w +
                                    (size_t)ox;
                        v[at] = x[src];
                        e[at] = xe[src];
                    }
            break;
        }
        free(x);
        free(xe);
        free(xa);
    }
}

/* The engine's value id (dense [c][h][w]) against the reference. */
static void ref_check(const struct enn_model *m, const struct ref *R, int id, const float *got,
                      const char *what)
{
    struct enn_shape s = R->s[id];
    for (size_t i = 0; i < count(s); i++) {
        double r = R->v[id][i], e = R->e[id][i];
        if (!(e < 1e30) || !(fabs(r) < 1e30))
            continue;   /* float may overflow here: nothing to compare */
        double tol = 2 * e + 1e-6 + 1e-6 * fabs(r);
        if (fabs((double)got[i] - r) <= tol)
            continue;
        size_t hw = (size_t)s.h * (size_t)s.w;
        die("%s: value %d (%s, %dx%dx%d at input %dx%d) element c=%zu y=%zu x=%zu is %.9g, "
            "the reference %.9g (bound %.3g)", what, id,
            id == 0 ? "input" : (const char *[]){"?", "conv", "gap", "dense", "maxpool",
                                                 "upsample"}[m->nodes[id - 1].op],
            s.c, s.h, s.w, R->s[0].h, R->s[0].w, i / hw, i % hw / (size_t)s.w,
            i % (size_t)s.w, got[i], r, tol);
    }
}

/* ---- engine runs -------------------------------------------------------------------- */

static float pattern(size_t i, unsigned seed)
{
    uint32_t x = (uint32_t)i * 2654435761u + seed * 0x9e3779b9u;
    x ^= x >> 15;
    return (float)(x % 2001) / 1000.0f - 1.0f;
}

/* An output of the last run as dense [c][h][w] (malloc'ed). */
static float *output_copy(const struct enn_net *net, int o, struct enn_shape want)
{
    struct enn_view v = enn_net_output(net, o);
    if (!same(v.s, want))
        die("output %d is %dx%dx%d, expected %dx%dx%d", o, v.s.c, v.s.h, v.s.w, want.c,
            want.h, want.w);
    float *d = malloc((count(v.s) ? count(v.s) : 1) * sizeof *d), *p = d;
    if (!d)
        abort();
    for (int c = 0; c < v.s.c; c++)
        for (int y = 0; y < v.s.h; y++)
            for (int x = 0; x < v.s.w; x++)
                *p++ = v.data[(size_t)c * v.plane + (size_t)y * v.row + (size_t)x];
    return d;
}

/* Fills the net's input (its current size) from pattern(seed), runs it, and checks every
 * output against the reference when one is given. Returns the input (dense). */
static float *forward(struct enn_net *net, unsigned seed)
{
    struct enn_shape s = enn_net_input_shape(net);
    size_t row, plane;
    float *in = enn_net_input(net, &row, &plane), *dense = malloc(count(s) * sizeof *dense);
    if (!dense)
        abort();
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++) {
                size_t i = ((size_t)c * (size_t)s.h + (size_t)y) * (size_t)s.w + (size_t)x;
                dense[i] = pattern(i, seed);
                in[(size_t)c * plane + (size_t)y * row + (size_t)x] = dense[i];
            }
    enn_net_forward(net);
    return dense;
}

/* Every output of the last run: against the reference (if any), and saved into saved[o]
 * or compared bit for bit with it. */
static void check_outputs(const struct enn_net *net, const struct enn_model *m,
                          const struct ref *R, bool with_ref, float **saved, const char *what)
{
    for (int o = 0; o < m->n_outputs; o++) {
        int id = m->outputs[o].value;
        float *got = output_copy(net, o, R->s[id]);
        if (with_ref)
            ref_check(m, R, id, got, what);
        if (!saved[o])
            saved[o] = got;
        else {
            if (memcmp(saved[o], got, count(R->s[id]) * sizeof *got) != 0)
                die("%s: output '%s' differs from the first run at the same size and input",
                    what, m->outputs[o].name);
            free(got);
        }
    }
}

static bool runnable(const struct ref *R)
{
    return R->ok && R->macs <= MAX_MACS && count(R->s[0]) <= MAX_INPUT_FLOATS &&
           R->floats <= MAX_RUN_FLOATS;
}

/* Re-plans for height x width; the engine must agree with ref_shapes on whether the graph
 * works out there. Returns whether the net is now at that size. */
static bool resize(struct enn_net *net, const struct enn_model *m, int height, int width,
                   struct ref *R)
{
    char err[256];
    memset(err, 'x', sizeof err);
    struct enn_shape before = enn_net_input_shape(net);
    ref_shapes(m, height, width, R);
    bool cheap = R->ok ? R->padded <= MAX_PLAN_FLOATS : true;
    if (!cheap && !R->over_budget)
        return false;   /* not tried: see MAX_PLAN_FLOATS */
    int rc = enn_net_resize(net, height, width, err, sizeof err);
    struct enn_shape now = enn_net_input_shape(net);
    if (rc != 0) {
        if (memchr(err, 0, sizeof err) == NULL)
            die("enn_net_resize failed without a terminated message");
        if (!same(now, before))
            die("a failed resize to %dx%d changed the plan (%dx%d -> %dx%d)", width, height,
                before.w, before.h, now.w, now.h);
        if (R->ok && m->any_size)
            die("enn_net_resize refused %dx%d, which works out (%zu floats): %s", width,
                height, R->padded, err);
        return false;
    }
    if (!R->ok)
        die("enn_net_resize accepted %dx%d, where the graph does not work out%s", width,
            height, R->over_budget ? " (a value over the activation budget)" : "");
    if (!m->any_size && (height != m->input.h || width != m->input.w))
        die("enn_net_resize re-planned %s, which is not fully convolutional", m->name);
    if (now.c != m->input.c || now.h != height || now.w != width)
        die("after resizing to %dx%d the input is %dx%dx%d", width, height, now.c, now.h,
            now.w);
    return true;
}

static void free_saved(float **saved, int n)
{
    for (int o = 0; o < n; o++) {
        free(saved[o]);
        saved[o] = NULL;
    }
}

/* Every value of a run made after enn_net_keep_values, against the reference (at the
 * model's own size the loader's shapes must be the reference's too). */
static void check_all_values(const struct enn_net *net, const struct enn_model *m,
                             const struct ref *R)
{
    bool own = R->s[0].h == m->input.h && R->s[0].w == m->input.w;
    size_t most = 0;
    for (int id = 0; id <= m->n_nodes; id++)
        most = count(R->s[id]) > most ? count(R->s[id]) : most;
    float *v = malloc(most * sizeof *v);
    if (!v)
        abort();
    for (int id = 0; id <= m->n_nodes; id++) {
        struct enn_shape s = enn_model_value_shape(m, id);
        if (own && !same(s, R->s[id]))
            die("value %d: the model says %dx%dx%d, the reference %dx%dx%d", id, s.c, s.h,
                s.w, R->s[id].c, R->s[id].h, R->s[id].w);
        enn_net_value(net, id, v);
        if (R->v)
            ref_check(m, R, id, v, "kept values");
    }
    free(v);
}

static void exercise(const struct enn_model *m, int alt_h, int alt_w)
{
    char err[256];
    struct enn_net *net;
    if (enn_net_create(m, &net, err, sizeof err) != 0)
        return;
    if (enn_net_model(net) != m || enn_net_memory(net) == 0)
        abort();
    struct ref R;
    ref_shapes(m, m->input.h, m->input.w, &R);
    if (!R.ok)
        die("the loader accepted a graph that does not work out at its own size");
    struct enn_shape in0 = enn_net_input_shape(net);
    if (!same(in0, m->input))
        die("the net's input is %dx%dx%d, the model's %dx%dx%d", in0.c, in0.h, in0.w,
            m->input.c, m->input.h, m->input.w);
    for (int id = 0; id <= m->n_nodes; id++)
        if (!same(R.s[id], enn_model_value_shape(m, id)))
            die("value %d: the loader's shape differs from the format's", id);
    size_t in_floats = count(m->input);
    /* int8 models are checked bit for bit by tests/unit/test_qnet.c; here they only run */
    bool run = runnable(&R),
         with_ref = run && R.floats <= REF_FLOATS && m->precision == ENN_PRECISION_F32;
    float *saved[ENN_MAX_OUTPUTS] = {0};
    if (m->n_classes == 0) {
        /* a detector: run as planned, then at another size if it may, and back */
        if (run) {
            float *in = forward(net, 0);
            if (with_ref)
                ref_run(m, &R, in);
            check_outputs(net, m, &R, with_ref, saved, "planned size");
            free(in);
        }
    } else if (m->n_macs <= MAX_MACS && in_floats <= MAX_INPUT_FLOATS && run) {
        if (m->input.c == 1) {
            /* the daemon's path: crop, resize, normalise, run (and mirrored) */
            enum { W = 40, H = 32 };
            static uint8_t gray[W * H];
            for (int i = 0; i < W * H; i++)
                gray[i] = (uint8_t)(i * 7 + (i / W) * 13);
            struct enn_box boxes[2] = {{4, 3, 30, 26, 0}, {-5, 10, 20, 40, 0.3f}};
            float two[2 * ENN_MAX_CLASSES];
            enn_net_set_mirror(net, m->n_macs <= MIRROR_MACS);
            enn_net_classify(net, gray, W, H, W, boxes, 2, two);
            for (int i = 0; i < 2 * m->n_classes; i++)
                if (!(two[i] >= 0 && two[i] <= 1) && !isnan(two[i]))
                    die("enn_net_classify gave probability %g", two[i]);
        }
        float *in = malloc(in_floats * sizeof *in);
        if (!in)
            abort();
        for (size_t i = 0; i < in_floats; i++)
            in[i] = pattern(i, 0);
        float probs[ENN_MAX_CLASSES], logits[ENN_MAX_CLASSES];
        enn_net_run(net, in, logits, probs);
        if (with_ref) {
            ref_run(m, &R, in);
            ref_check(m, &R, m->outputs[0].value, logits, "enn_net_run logits");
        }
        check_outputs(net, m, &R, with_ref, saved, "enn_net_run");
        bool finite = true;
        double sum = 0;
        for (int i = 0; i < m->n_classes; i++) {
            finite = finite && isfinite(logits[i]);
            sum += probs[i];
        }
        if (finite && !(fabs(sum - 1) < 1e-3))
            die("probabilities of finite logits sum to %g", sum);
        free(in);
    }
    /* another size: fully convolutional models run there, others must refuse it */
    struct ref A;
    float *alt[ENN_MAX_OUTPUTS] = {0};
    bool alt_ran = false;
    if (resize(net, m, alt_h, alt_w, &A) && m->any_size && runnable(&A) &&
        (alt_h != m->input.h || alt_w != m->input.w)) {
        float *in = forward(net, 1);
        if (A.floats <= REF_FLOATS)
            ref_run(m, &A, in);
        check_outputs(net, m, &A, A.v != NULL, alt, "resized");
        alt_ran = true;
        free(in);
    }
    /* sizes that must be refused, leaving the plan as it was */
    static const int bad[][2] = {{0, 5}, {5, -1}, {ENN_MAX_PLAN_DIM + 1, 8}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ref B;
        resize(net, m, bad[i][0], bad[i][1], &B);
        ref_free(&B);
    }
    if (enn_net_resize(net, m->input.h, m->input.w, err, sizeof err) != 0)
        die("resizing back to the planned size failed: %s", err);
    bool ran = m->n_classes == 0 || (m->n_macs <= MAX_MACS && in_floats <= MAX_INPUT_FLOATS);
    if (run && ran && m->n_classes == 0) {
        /* the arena as another plan left it: the same results */
        free(forward(net, 0));
        check_outputs(net, m, &R, false, saved, "planned size again");
    }
    if (run && ran) {
        /* every value of a run can be read back once the net keeps them */
        if (enn_net_keep_values(net, err, sizeof err) != 0)
            die("enn_net_keep_values: %s", err); /* planned before: only memory could fail */
        if (m->n_classes == 0)
            free(forward(net, 0));
        else {
            float *in = malloc(in_floats * sizeof *in);
            if (!in)
                abort();
            for (size_t i = 0; i < in_floats; i++)
                in[i] = pattern(i, 0);
            enn_net_run(net, in, NULL, NULL);
            free(in);
        }
        check_outputs(net, m, &R, false, saved, "kept values");
        check_all_values(net, m, &R);
        if (alt_ran) {
            /* kept values at the other size: the same as the shared plan gave there */
            if (enn_net_resize(net, alt_h, alt_w, err, sizeof err) != 0)
                die("keeping values, resizing to %dx%d failed: %s", alt_w, alt_h, err);
            free(forward(net, 1));
            check_outputs(net, m, &A, false, alt, "kept values, resized");
            check_all_values(net, m, &A);
            if (enn_net_resize(net, m->input.h, m->input.w, err, sizeof err) != 0)
                die("keeping values, resizing back failed: %s", err);
        }
    }
    free_saved(alt, m->n_outputs);
    ref_free(&A);
    free_saved(saved, m->n_outputs);
    ref_free(&R);
    enn_net_free(net);
}

/* alt_h, alt_w: the other size a fully convolutional model is planned for (0: derived
 * from its own). */
static void parse(const uint8_t *data, size_t size, int alt_h, int alt_w)
{
    char err[256];
    memset(err, 'x', sizeof err);
    struct enn_model *m;
    if (enn_model_parse(data, size, &m, err, sizeof err) != 0) {
        if (m != NULL || memchr(err, 0, sizeof err) == NULL)
            abort(); /* a failure leaves no model and a terminated message */
        return;
    }
    /* docs/model-format.md: the values of a model the loader accepts fit a budget of
       64 Mi floats, counted with their one-pixel borders */
    size_t floats = 0;
    for (int id = 0; id <= m->n_nodes; id++) {
        struct enn_shape s = enn_model_value_shape(m, id);
        floats += (size_t)s.c * (size_t)(s.h + 2) * (size_t)(s.w + 2);
    }
    if (floats > ACTIVATION_BUDGET) {
        fprintf(stderr, "fuzz_model: the loader accepted %zu activation floats (budget %u)\n",
                floats, ACTIVATION_BUDGET);
        abort();
    }
    if (m->n_outputs < 1 || m->n_outputs > ENN_MAX_OUTPUTS)
        die("the loader accepted %d outputs", m->n_outputs);
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o].value < 1 || m->outputs[o].value > m->n_nodes ||
            enn_model_output(m, m->outputs[o].name) != o)
            die("output %d ('%s', value %d) is not what the loader should accept", o,
                m->outputs[o].name, m->outputs[o].value);
    if (alt_h == 0)
        alt_h = m->input.h / 2 + 1, alt_w = m->input.w + 3;
    exercise(m, alt_h, alt_w);
    enn_model_free(m);
}

/* ---- recipes ------------------------------------------------------------------------ */

#define RECIPE_MAX_NODES 96
#define RECIPE_MAX_BYTES (128u << 10) /* no more nodes once the weights take this much */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u8(struct buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void put_u16(struct buf *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_str(struct buf *b, const char *s)
{
    put_u16(b, (unsigned)strlen(s));
    put(b, s, strlen(s));
}
static void put_tensor(struct buf *b, size_t n, uint32_t *rng)
{
    put_u8(b, 0); /* f32 */
    put_u8(b, 0), put_u8(b, 0), put_u8(b, 0);
    put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        *rng = *rng * 1664525u + 1013904223u;
        float v = (float)(int)(*rng >> 24) / 256.0f - 0.5f;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        put_u32(b, bits);
    }
}

struct reader {
    const uint8_t *p;
    size_t len, off;
};

static unsigned next(struct reader *r)
{
    return r->off < r->len ? r->p[r->off++] : 0;
}

/* Picks inputs for a node reading value `first`: up to three more earlier values of the
 * same shape, as the recipe asks. */
static int pick_inputs(struct reader *r, const struct enn_shape *shapes, int n_values, int first,
                       int *ins)
{
    int n = 1;
    ins[0] = first;
    unsigned extra = next(r) % 4;
    for (int id = 0; id < n_values && n <= (int)extra; id++) {
        const struct enn_shape *s = &shapes[id];
        if (id != first && s->c == shapes[first].c && s->h == shapes[first].h &&
            s->w == shapes[first].w)
            ins[n++] = id;
    }
    return n;
}

static void node_head(struct buf *b, unsigned op, bool relu, const int *ins, int n_in)
{
    put_u8(b, op);
    put_u8(b, relu ? 1 : 0);
    put_u16(b, (unsigned)n_in);
    for (int i = 0; i < n_in; i++)
        put_u16(b, (unsigned)ins[i]);
}

/* Builds a valid model from a recipe: header bytes (channels, height, width), then per
 * node an op byte (conv / pool / dense, and which value it reads), a parameter byte
 * (kernel, stride, channels, ReLU) and how many same-shape values to sum in.
 * Returns the file, or NULL when the recipe is empty. */
static uint8_t *build_recipe(const uint8_t *data, size_t size, size_t *out_len)
{
    struct reader r = {data, size, 0};
    struct enn_shape shapes[RECIPE_MAX_NODES + 5]; /* a turn adds <= 2, the end 2 */
    unsigned cb = next(&r), hb = next(&r), wb = next(&r);
    int c = cb >= 0xF8 ? 64 - (int)(cb - 0xF8) : 1 + (int)(cb % 4); /* at times up to 64 */
    int h = 2 + (int)(hb % 40), w = 2 + (int)(wb % 40);
    /* now and then the largest side allowed, one side only and with few channels: more
       makes values of hundreds of MB, and every input would spend its time in memset */
    if (c <= 4 && hb == 255)
        h = 1024;
    else if (c <= 4 && wb == 255)
        w = 1023;
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)size;
    struct buf nodes = {0};
    int n = 0;
    shapes[0] = (struct enn_shape){c, h, w};
    while (r.off < r.len && n < RECIPE_MAX_NODES && nodes.len < RECIPE_MAX_BYTES) {
        unsigned op = next(&r), arg = next(&r);
        int from = n - (int)((op >> 2) % 4); /* mostly the last value */
        from = from < 0 ? 0 : from;
        struct enn_shape in = shapes[from];
        bool spatial = in.h > 1 || in.w > 1;
        int ins[ENN_MAX_INPUTS], n_in = pick_inputs(&r, shapes, n + 1, from, ins);
        struct enn_shape out;
        switch ((op & 3) % 3) { /* 0, 3: conv; 1: pool; 2: dense */
        case 0:                 /* conv, or dense on a vector */
            if (spatial) {
                int k = arg & 1 ? 3 : 1, s = arg & 2 ? 2 : 1, oc = 1 + (int)(arg >> 2) % 20;
                node_head(&nodes, 1, arg & 0x80, ins, n_in);
                put_u16(&nodes, (unsigned)oc);
                put_u8(&nodes, (unsigned)k);
                put_u8(&nodes, (unsigned)s);
                put_tensor(&nodes, (size_t)oc * (size_t)in.c * (size_t)(k * k), &rng);
                put_tensor(&nodes, (size_t)oc, &rng);
                out = (struct enn_shape){oc, (in.h + 2 * (k / 2) - k) / s + 1,
                                         (in.w + 2 * (k / 2) - k) / s + 1};
                break;
            }
            /* fall through */
        case 2: /* dense (a vector first, if need be) */
            if (spatial) {
                node_head(&nodes, 2, false, ins, n_in);
                shapes[++n] = (struct enn_shape){in.c, 1, 1};
                ins[0] = n;
                n_in = 1;
                in = shapes[n];
            }
            {
                int oc = 1 + (int)(arg % 20);
                node_head(&nodes, 3, arg & 0x80, ins, n_in);
                put_u16(&nodes, (unsigned)oc);
                put_tensor(&nodes, (size_t)oc * (size_t)in.c, &rng);
                put_tensor(&nodes, (size_t)oc, &rng);
                out = (struct enn_shape){oc, 1, 1};
            }
            break;
        default: /* global average pool */
            node_head(&nodes, 2, false, ins, n_in);
            out = (struct enn_shape){in.c, 1, 1};
            break;
        }
        shapes[++n] = out;
    }
    if (n == 0) {
        free(nodes.p);
        return NULL;
    }
    /* the last node must give one value per class: pool and classify if it does not */
    struct enn_shape last = shapes[n];
    if (last.h != 1 || last.w != 1) {
        int in1[1] = {n};
        node_head(&nodes, 2, false, in1, 1);
        shapes[++n] = (struct enn_shape){last.c, 1, 1};
        last = shapes[n];
    }
    if (last.c > ENN_MAX_CLASSES) {
        int in1[1] = {n};
        node_head(&nodes, 3, false, in1, 1);
        put_u16(&nodes, 7);
        put_tensor(&nodes, (size_t)7 * (size_t)last.c, &rng);
        put_tensor(&nodes, 7, &rng);
        shapes[++n] = last = (struct enn_shape){7, 1, 1};
    }

    struct buf b = {0};
    put(&b, "ENNM", 4);
    put_u16(&b, 1), put_u16(&b, 0), put_u32(&b, 0), put_u32(&b, 0);
    put_str(&b, "recipe");
    put_u16(&b, (unsigned)c), put_u16(&b, (unsigned)h), put_u16(&b, (unsigned)w);
    float mean = 0.5f, std = 0.25f;
    uint32_t bits;
    memcpy(&bits, &mean, 4), put_u32(&b, bits);
    memcpy(&bits, &std, 4), put_u32(&b, bits);
    put_u16(&b, (unsigned)last.c);
    for (int i = 0; i < last.c; i++) { /* "a", "b", ... "z", "aa", "ab", ... */
        char name[3] = {(char)('a' + i % 26), 0, 0};
        if (i >= 26)
            name[0] = (char)('a' + i / 26 - 1), name[1] = (char)('a' + i % 26);
        put_str(&b, name);
    }
    put_u16(&b, (unsigned)n);
    put(&b, nodes.p, nodes.len);
    free(nodes.p);
    uint32_t len = (uint32_t)(b.len - 16), crc = enn_crc32(b.p + 16, b.len - 16);
    for (int i = 0; i < 4; i++) {
        b.p[8 + i] = (uint8_t)(len >> (8 * i));
        b.p[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    *out_len = b.len;
    return b.p;
}

/* ---- version 2 recipes -------------------------------------------------------------- */

/* "ENN2", then six header bytes:
 *   mode      bit 0: a classifier (ends pooled to one logit per class, like "ENNR");
 *             clear: a detector (0 classes; its outputs are the nodes the recipe marks)
 *   channels  1 + c % 8, or 64, 56, ... 8 for 0xF8..0xFF
 *   height, width   2 + b % 40 (255: 1024 high or 1023 wide, with up to 8 channels)
 *   alt height, alt width   the size a fully convolutional model is re-planned for:
 *             0 its own, 1..127 as is, 128..254 128 + 31 (b - 128), 255 4097 (too big)
 * then three bytes per node:
 *   op   bits 0-2 what: 0 conv, 1 and 7 grouped conv, 2 max pool, 3 upsample,
 *                       4 global average pool, 5 dense, 6 a 1x1 head (1, 2, 3, 4, 10, 14
 *                       channels; 3x3 with arg bit 3)
 *        bits 3-5 which value it reads: 0 the last, k the k-th before it
 *        bit 6 an output (detectors; classifiers: an output after the logits),
 *        bit 7 with bit 6: listed twice, under two names
 *   arg  conv: bit 0 3x3, bit 1 stride 2, bits 2-7 channels (1 + x % 24);
 *        grouped conv: bit 0 3x3, bit 1 stride 2, bits 2-3 kind: 0 depthwise,
 *        1 depthwise with 1 + (arg >> 4) % 3 outputs per channel, 2 groups = a divisor of
 *        the channels (picked by bits 4-5) with 1 + (arg >> 6) outputs per group,
 *        3 depthwise 3x3 stride 1; dense: 1 + arg % 20 outputs
 *   ext  bits 0-1 how many same-shape earlier values to sum in, bits 2-3 activation
 *        (conv: 1 or 3 ReLU, 2 sigmoid; dense: bit 2 ReLU), bit 4 the value it reads
 *        summed in once more (inputs v, v)
 * What cannot apply becomes what can: conv on a vector is dense, pooling a vector or max
 * pooling a map under 2 pixels is a global average pool, upsampling past the size limit
 * is a max pool (or global average pool). So every recipe makes a valid model. */
#define RECIPE2_MAX_FLOATS (2u << 20)   /* all values, with borders, at the model's size */

static int alt_side(unsigned b, int own)
{
    if (b == 0)
        return own;
    if (b < 128)
        return (int)b;
    if (b < 255)
        return 128 + 31 * (int)(b - 128);
    return ENN_MAX_PLAN_DIM + 1;
}

static int divisor(int c, unsigned pick)
{
    int d[64], n = 0;
    for (int i = 1; i <= c && n < 64; i++)
        if (c % i == 0)
            d[n++] = i;
    return d[pick % (unsigned)n];
}

static void node_head2(struct buf *b, unsigned op, unsigned flags, const int *ins, int n_in)
{
    put_u8(b, op);
    put_u8(b, flags);
    put_u16(b, (unsigned)n_in);
    for (int i = 0; i < n_in; i++)
        put_u16(b, (unsigned)ins[i]);
}

/* Up to extra more values of the first's shape and kind, the latest first (a lateral
 * connection after an upsample: the map of that size just computed); the first once more
 * if twice. A pooled vector and a 1x1 map are never summed (the loader refuses that). */
static int same_shape_inputs(const struct enn_shape *shapes, const bool *vec, int n_values,
                             int first, unsigned extra, bool twice, int *ins)
{
    int n = 1;
    ins[0] = first;
    for (int id = n_values - 1; id >= 0 && n <= (int)extra; id--)
        if (id != first && vec[id] == vec[first] && same(shapes[id], shapes[first]))
            ins[n++] = id;
    if (twice)
        ins[n++] = first;
    return n;
}

static void put_conv2(struct buf *b, const int *ins, int n_in, struct enn_shape in, int oc,
                      int k, int s, int groups, unsigned flags, uint32_t *rng)
{
    node_head2(b, 1, flags, ins, n_in);
    put_u16(b, (unsigned)oc);
    put_u8(b, (unsigned)k);
    put_u8(b, (unsigned)s);
    put_u16(b, (unsigned)groups);
    put_tensor(b, (size_t)oc * (size_t)(in.c / groups) * (size_t)(k * k), rng);
    put_tensor(b, (size_t)oc, rng);
}

static void put_dense2(struct buf *b, const int *ins, int n_in, int in_c, int oc, bool relu,
                       uint32_t *rng)
{
    node_head2(b, 3, relu ? 1 : 0, ins, n_in);
    put_u16(b, (unsigned)oc);
    put_tensor(b, (size_t)oc * (size_t)in_c, rng);
    put_tensor(b, (size_t)oc, rng);
}

static uint8_t *build_recipe2(const uint8_t *data, size_t size, size_t *out_len, int *alt_h,
                              int *alt_w)
{
    struct reader r = {data, size, 0};
    struct enn_shape shapes[RECIPE_MAX_NODES + 5];
    bool vec[RECIPE_MAX_NODES + 5];
    unsigned marks[RECIPE_MAX_NODES + 5];
    unsigned mode = next(&r), cb = next(&r), hb = next(&r), wb = next(&r);
    unsigned rh = next(&r), rw = next(&r);
    bool classifier = mode & 1;
    int c = cb >= 0xF8 ? 64 - 8 * (int)(cb - 0xF8) : 1 + (int)(cb % 8);
    int h = 2 + (int)(hb % 40), w = 2 + (int)(wb % 40);
    if (c <= 8 && hb == 255)
        h = 1024;
    else if (c <= 8 && wb == 255)
        w = 1023;
    *alt_h = alt_side(rh, h);
    *alt_w = alt_side(rw, w);
    uint32_t rng = 0x7f4a7c15u ^ (uint32_t)size;
    struct buf nodes = {0};
    int n = 0;
    shapes[0] = (struct enn_shape){c, h, w};
    vec[0] = false;
    marks[0] = 0;
    size_t floats = padded(shapes[0]);
    while (r.off < r.len && n < RECIPE_MAX_NODES && nodes.len < RECIPE_MAX_BYTES) {
        unsigned op = next(&r), arg = next(&r), ext = next(&r);
        int from = n - (int)((op >> 3) & 7);
        from = from < 0 ? 0 : from;
        struct enn_shape in = shapes[from];
        int ins[ENN_MAX_INPUTS],
            n_in = same_shape_inputs(shapes, vec, n + 1, from, ext & 3, ext & 0x10, ins);
        unsigned what = op & 7, act = (ext >> 2) & 3;
        struct enn_shape out;
        bool out_vec = false;
        if (vec[from] && (what == 0 || what == 1 || what == 6 || what == 7))
            what = 5;      /* conv on a vector: dense */
        if (what == 3 && (vec[from] || floats + padded((struct enn_shape){in.c, 2 * in.h, 2 * in.w}) >
                                            RECIPE2_MAX_FLOATS))
            what = 2;      /* no room to upsample: max pool */
        if (what == 2 && (vec[from] || in.h < 2 || in.w < 2))
            what = 4;      /* nothing to max pool: global average pool */
        switch (what) {
        case 0: case 1: case 6: case 7: {
            int k = arg & 1 ? 3 : 1, s = arg & 2 ? 2 : 1, groups = 1, oc;
            if (what == 0)
                oc = 1 + (int)(arg >> 2) % 24;
            else if (what == 6) {
                static const int heads[8] = {1, 1, 2, 4, 4, 10, 14, 3};
                oc = heads[arg % 8];
                k = arg & 8 ? 3 : 1;
                s = 1;
            } else {
                switch ((arg >> 2) & 3) {
                case 0: groups = oc = in.c; break;
                case 1:
                    groups = in.c;
                    oc = in.c * (1 + (int)(arg >> 4) % 3);
                    break;
                case 2:
                    groups = divisor(in.c, arg >> 4);
                    oc = groups * (1 + (int)(arg >> 6));
                    break;
                default:
                    groups = oc = in.c;
                    k = 3, s = 1;
                    break;
                }
                if (oc > 256)
                    oc = groups = in.c;
            }
            unsigned flags = act == 2 ? 2 : act ? 1 : 0;
            put_conv2(&nodes, ins, n_in, in, oc, k, s, groups, flags, &rng);
            out = (struct enn_shape){oc, (in.h + 2 * (k / 2) - k) / s + 1,
                                     (in.w + 2 * (k / 2) - k) / s + 1};
            break;
        }
        case 2:
            node_head2(&nodes, 4, 0, ins, n_in);
            put_u8(&nodes, 2), put_u8(&nodes, 2);
            out = (struct enn_shape){in.c, in.h / 2, in.w / 2};
            break;
        case 3:
            node_head2(&nodes, 5, 0, ins, n_in);
            put_u8(&nodes, 2);
            out = (struct enn_shape){in.c, in.h * 2, in.w * 2};
            break;
        case 4:
            node_head2(&nodes, 2, 0, ins, n_in);
            out = (struct enn_shape){in.c, 1, 1};
            out_vec = true;
            break;
        default: /* dense (pooled first, if need be) */
            if (!vec[from]) {
                node_head2(&nodes, 2, 0, ins, n_in);
                shapes[++n] = (struct enn_shape){in.c, 1, 1};
                vec[n] = true;
                marks[n] = 0;
                floats += padded(shapes[n]);
                ins[0] = n;
                n_in = 1;
                in = shapes[n];
            }
            out = (struct enn_shape){1 + (int)(arg % 20), 1, 1};
            put_dense2(&nodes, ins, n_in, in.c, out.c, act & 1, &rng);
            out_vec = true;
            break;
        }
        shapes[++n] = out;
        vec[n] = out_vec;
        marks[n] = op & 0x40 ? (op & 0x80 ? 2 : 1) : 0;
        floats += padded(out);
        if (floats > RECIPE2_MAX_FLOATS)
            break;
    }
    if (n == 0) {
        free(nodes.p);
        return NULL;
    }
    int n_classes = 0;
    if (classifier) {
        /* the logits: a vector of at most 64 */
        struct enn_shape last = shapes[n];
        if (!vec[n]) {
            int in1[1] = {n};
            node_head2(&nodes, 2, 0, in1, 1);
            shapes[++n] = last = (struct enn_shape){last.c, 1, 1};
            vec[n] = true;
            marks[n] = 0;
        }
        if (last.c > ENN_MAX_CLASSES) {
            int in1[1] = {n};
            put_dense2(&nodes, in1, 1, last.c, 7, false, &rng);
            shapes[++n] = last = (struct enn_shape){7, 1, 1};
            vec[n] = true;
            marks[n] = 0;
        }
        n_classes = last.c;
    }
    /* outputs: a classifier's logits first; the marked nodes; a detector with none marked
       gives its last node */
    int out_ids[ENN_MAX_OUTPUTS], n_out = 0;
    if (classifier)
        out_ids[n_out++] = n;
    for (int id = 1; id <= n && n_out < ENN_MAX_OUTPUTS; id++)
        for (unsigned t = 0; t < marks[id] && n_out < ENN_MAX_OUTPUTS; t++)
            out_ids[n_out++] = id;
    if (n_out == 0)
        out_ids[n_out++] = n;

    struct buf b = {0};
    put(&b, "ENNM", 4);
    put_u16(&b, 2), put_u16(&b, 0), put_u32(&b, 0), put_u32(&b, 0);
    put_str(&b, "recipe2");
    put_u16(&b, (unsigned)c), put_u16(&b, (unsigned)h), put_u16(&b, (unsigned)w);
    float mean = 0.5f, std = 0.25f;
    uint32_t bits;
    memcpy(&bits, &mean, 4), put_u32(&b, bits);
    memcpy(&bits, &std, 4), put_u32(&b, bits);
    put_u16(&b, (unsigned)n_classes);
    for (int i = 0; i < n_classes; i++) {
        char name[3] = {(char)('a' + i % 26), 0, 0};
        if (i >= 26)
            name[0] = (char)('a' + i / 26 - 1), name[1] = (char)('a' + i % 26);
        put_str(&b, name);
    }
    put_u16(&b, (unsigned)n);
    put(&b, nodes.p, nodes.len);
    free(nodes.p);
    put_u16(&b, (unsigned)n_out);
    for (int i = 0; i < n_out; i++) {
        char name[16];
        snprintf(name, sizeof name, i == 0 && classifier ? "logits" : "v%d_%d", out_ids[i], i);
        put_str(&b, name);
        put_u16(&b, (unsigned)out_ids[i]);
    }
    uint32_t len = (uint32_t)(b.len - 16), crc = enn_crc32(b.p + 16, b.len - 16);
    for (int i = 0; i < 4; i++) {
        b.p[8 + i] = (uint8_t)(len >> (8 * i));
        b.p[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    *out_len = b.len;
    return b.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && (memcmp(data, "ENNR", 4) == 0 || memcmp(data, "ENN2", 4) == 0)) {
        size_t len;
        int alt_h = 0, alt_w = 0;
        uint8_t *model = data[3] == 'R' ? build_recipe(data + 4, size - 4, &len)
                                        : build_recipe2(data + 4, size - 4, &len, &alt_h, &alt_w);
        if (model) {
            parse(model, len, alt_h, alt_w);
            free(model);
        }
        return 0;
    }
    /* Parse a private copy, exactly sized, so a read past the end is caught even for
       bytes libFuzzer's own buffer would tolerate. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    parse(copy, size, 0, 0);
    if (size >= 16 && memcmp(copy, "ENNM", 4) == 0) {
        uint32_t len = (uint32_t)(size - 16), crc = enn_crc32(copy + 16, size - 16);
        uint8_t fixed[8] = {(uint8_t)len,         (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                            (uint8_t)(len >> 24), (uint8_t)crc,        (uint8_t)(crc >> 8),
                            (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
        if (memcmp(copy + 8, fixed, 8) != 0) {
            memcpy(copy + 8, fixed, 8);
            parse(copy, size, 0, 0);
        }
    }
    free(copy);
    return 0;
}
