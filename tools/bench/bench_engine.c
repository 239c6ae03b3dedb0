/* Engine benchmark: per-face latency (median, p99) and faces/s on one thread and on all
 * cores for a model, beside the same weights through OpenCV DNN (the float ONNX) and
 * XNNPACK's subgraph runtime (xnnpack_peer.c: fp32 for a float model, qs8 with the
 * model's own scales for an int8 one), single-threaded, batch 1, interleaved in one run.
 *   bench_engine MODEL.enn FLOAT.onnx [--fp32 FLOAT.enn] [--iters N] [--seconds S]
 * --fp32 (int8 models): also times our engine on the float model in the same loop, and
 * then each alone in alternating blocks of back-to-back runs (warm_int8_vs_fp32): the
 * interleaved loop runs each engine with caches the others filled.
 * Last line: engine: model=... isa=... precision=fp32|int8 ours_ms=... opencv_ms=...
 * speedup=... xnnpack_ms=... (na: no XNNPACK in this build, said above it) ... */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "model.h"
#include "net.h"
#include "opencv_adapter.h"
#include "xnnpack_peer.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p / 100.0 * n) - 1;
    return v[i < 0 ? 0 : i];
}

struct worker {
    const struct enn_model *m;
    const float *input;
    double seconds;
    long faces;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct enn_net *net;
    char err[256];
    if (enn_net_create(w->m, &net, err, sizeof err))
        return NULL;
    float probs[64];
    double end = mono_ms() + w->seconds * 1e3;
    while (mono_ms() < end) {
        for (int i = 0; i < 16; i++)
            enn_net_run(net, w->input, NULL, probs);
        w->faces += 16;
    }
    enn_net_free(net);
    return NULL;
}

static double faces_per_s(const struct enn_model *m, const float *input, int threads,
                          double seconds)
{
    pthread_t t[256];
    struct worker w[256];
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){m, input, seconds, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += w[i].faces;
    }
    return (double)total / seconds;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Test input k of a few: smooth patterns over roughly the normalised range of a face. */
static void pattern(float *dst, const struct enn_model *m, int k)
{
    int h = m->input.h, w = m->input.w;
    for (int c = 0; c < m->input.c; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = ((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x;
                float v = k == 0 ? sinf((float)i * 0.37f) * 1.5f
                                 : 1.2f * sinf(0.11f * (float)(k + 1) * (float)x + 0.7f * (float)k) *
                                       cosf(0.07f * (float)(k + 2) * (float)y) +
                                       0.6f * ((float)(x + y) / (float)(w + h) - 0.5f) *
                                       (float)(k % 3 - 1);
                dst[i] = v;
            }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.enn FLOAT.onnx [--fp32 FLOAT.enn] [--iters N] "
                "[--seconds S]\n", argv[0]);
        return 2;
    }
    int iters = 400;
    double seconds = 2;
    const char *fp32_path = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--fp32"))
            fp32_path = argv[i + 1];
    }
    if (iters < 10)
        iters = 10;
    char err[512];
    struct enn_model *m, *mf = NULL;
    struct enn_net *net, *netf = NULL;
    if (enn_model_load(argv[1], &m, err, sizeof err) ||
        enn_net_create(m, &net, err, sizeof err)) {
        fprintf(stderr, "bench_engine: %s: %s\n", argv[1], err);
        return 1;
    }
    int int8 = m->precision == ENN_PRECISION_INT8;
    if (fp32_path && int8) {
        if (enn_model_load(fp32_path, &mf, err, sizeof err) ||
            enn_net_create(mf, &netf, err, sizeof err)) {
            fprintf(stderr, "bench_engine: %s: %s\n", fp32_path, err);
            return 1;
        }
        if (mf->precision != ENN_PRECISION_F32 || mf->n_classes != m->n_classes ||
            mf->input.c != m->input.c || mf->input.h != m->input.h || mf->input.w != m->input.w) {
            fprintf(stderr, "bench_engine: %s is not the float model of %s\n", fp32_path, argv[1]);
            return 1;
        }
    }
    size_t in_n = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
    float *input = malloc(in_n * sizeof *input);
    pattern(input, m, 0);
    double *t = malloc((size_t)iters * sizeof *t), *tc = malloc((size_t)iters * sizeof *tc);
    double *tx = malloc((size_t)iters * sizeof *tx), *tf = malloc((size_t)iters * sizeof *tf);
    float ours[ENN_MAX_CLASSES], theirs[ENN_MAX_CLASSES], oursf[ENN_MAX_CLASSES];

    ocv_set_threads(1);
    struct ocv_dnn *cv = ocv_dnn_load(argv[2], err, sizeof err);
    if (!cv) {
        fprintf(stderr, "bench_engine: OpenCV cannot load %s: %s\n", argv[2], err);
        return 1;
    }
    char xerr[512] = "";
    struct xpeer *xp = xpeer_create(m, xerr, sizeof xerr);
    if (xp)
        xpeer_set_input(xp, input);

    /* Interleave the peers so that machine noise hits them alike. */
    for (int i = 0; i < 30; i++) {
        enn_net_run(net, input, ours, NULL);
        if (netf)
            enn_net_run(netf, input, oursf, NULL);
        ocv_dnn_forward(cv, input, m->input.c, m->input.h, m->input.w, theirs, ENN_MAX_CLASSES,
                        err, sizeof err);
        if (xp && xpeer_run(xp, xerr, sizeof xerr)) {
            xpeer_free(xp);
            xp = NULL;
        }
    }
    for (int i = 0; i < iters; i++) {
        double t0 = mono_ms();
        enn_net_run(net, input, ours, NULL);
        double t1 = mono_ms();
        if (ocv_dnn_forward(cv, input, m->input.c, m->input.h, m->input.w, theirs,
                            ENN_MAX_CLASSES, err, sizeof err) != m->n_classes) {
            fprintf(stderr, "bench_engine: OpenCV forward: %s\n", err);
            return 1;
        }
        double t2 = mono_ms();
        if (xp && xpeer_run(xp, xerr, sizeof xerr)) {
            fprintf(stderr, "bench_engine: XNNPACK: %s\n", xerr);
            return 1;
        }
        double t3 = mono_ms();
        if (netf)
            enn_net_run(netf, input, oursf, NULL);
        double t4 = mono_ms();
        t[i] = t1 - t0, tc[i] = t2 - t1, tx[i] = t3 - t2, tf[i] = t4 - t3;
    }
    int nc = m->n_classes;
    float diff = 0;
    for (int c = 0; c < nc; c++)
        diff = fmaxf(diff, fabsf(ours[c] - theirs[c]));
    /* Warm: blocks of 20 back-to-back runs of one network, the two alternating, each
       block's mean a sample. */
    enum { WARM_BLOCKS = 20, WARM_RUNS = 20 };
    double warm[WARM_BLOCKS], warmf[WARM_BLOCKS];
    for (int b = 0; netf && b < WARM_BLOCKS; b++) {
        double t0 = mono_ms();
        for (int i = 0; i < WARM_RUNS; i++)
            enn_net_run(net, input, ours, NULL);
        double t1 = mono_ms();
        for (int i = 0; i < WARM_RUNS; i++)
            enn_net_run(netf, input, oursf, NULL);
        warm[b] = (t1 - t0) / WARM_RUNS, warmf[b] = (mono_ms() - t1) / WARM_RUNS;
    }
    /* pct sorts: after it, [0] is the best time (least disturbed by other work). */
    double med = pct(t, iters, 50), p99 = pct(t, iters, 99);
    double cmed = pct(tc, iters, 50), cp99 = pct(tc, iters, 99);
    double xmed = xp ? pct(tx, iters, 50) : 0, xp99 = xp ? pct(tx, iters, 99) : 0;
    double fmed = netf ? pct(tf, iters, 50) : 0, fp99 = netf ? pct(tf, iters, 99) : 0;

    /* Agreement on a few inputs (after the timing: xpeer_set_input changes its input). */
    enum { N_CHECK = 8 };
    float xdiff = 0, fdiff = 0;
    int xagree = 0, fagree = 0;
    float *pin = malloc(in_n * sizeof *pin);
    for (int k = 0; k < N_CHECK; k++) {
        pattern(pin, m, k);
        enn_net_run(net, pin, ours, NULL);
        if (xp) {
            xpeer_set_input(xp, pin);
            if (xpeer_run(xp, xerr, sizeof xerr)) {
                fprintf(stderr, "bench_engine: XNNPACK: %s\n", xerr);
                return 1;
            }
            const float *xl = xpeer_logits(xp);
            for (int c = 0; c < nc; c++)
                xdiff = fmaxf(xdiff, fabsf(ours[c] - xl[c]));
            xagree += argmax(ours, nc) == argmax(xl, nc);
        }
        if (netf) {
            enn_net_run(netf, pin, oursf, NULL);
            for (int c = 0; c < nc; c++)
                fdiff = fmaxf(fdiff, fabsf(ours[c] - oursf[c]));
            fagree += argmax(ours, nc) == argmax(oursf, nc);
        }
    }
    free(pin);

    double gflops = 2.0 * (double)m->n_macs / (med * 1e6);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 256)
        cores = 256;
    double fps1 = faces_per_s(m, input, 1, seconds);
    double fpsn = faces_per_s(m, input, (int)cores, seconds);
    const char *prec = int8 ? "int8" : "fp32";

    printf("model %s (%s): %zu params, %.1f M MACs, isa %s, context memory %.1f KiB\n",
           m->name, prec, m->n_params, (double)m->n_macs / 1e6, enn_net_isa(net),
           (double)enn_net_memory(net) / 1024);
    printf("  ours     %s 1 thread, batch 1: median %.3f ms  p99 %.3f ms  best %.3f ms  %.1f %s\n",
           prec, med, p99, t[0], gflops, int8 ? "GOP/s" : "GFLOP/s");
    if (netf)
        printf("  ours     fp32 1 thread, batch 1: median %.3f ms  p99 %.3f ms  best %.3f ms  (%s, "
               "same loop)\n", fmed, fp99, tf[0], fp32_path);
    printf("  opencv   fp32 1 thread, batch 1: median %.3f ms  p99 %.3f ms  best %.3f ms  %.1f "
           "GFLOP/s\n", cmed, cp99, tc[0], 2.0 * (double)m->n_macs / (cmed * 1e6));
    if (xp)
        printf("  xnnpack  %-4s 1 thread, batch 1: median %.3f ms  p99 %.3f ms  best %.3f ms  "
               "(xnn_invoke_runtime only, no thread pool)\n", xpeer_precision(xp), xmed, xp99, tx[0]);
    else
        printf("  xnnpack  NOT MEASURED: %s\n", xerr);
    printf("  ours     faces/s: %.0f on 1 thread, %.0f on %ld threads\n", fps1, fpsn, cores);
    if (int8)
        printf("  max |logit difference| ours int8 vs opencv fp32: %.3g (quantisation, not a "
               "check)\n", diff);
    else
        printf("  max |logit difference| ours vs opencv: %.2g\n", diff);
    if (xp)
        printf("  max |logit difference| ours vs xnnpack %s over %d inputs: %.3g, argmax agrees "
               "%d/%d\n", xpeer_precision(xp), N_CHECK, xdiff, xagree, N_CHECK);
    if (netf)
        printf("  max |logit difference| ours int8 vs ours fp32 over %d inputs: %.3g, argmax "
               "agrees %d/%d\n", N_CHECK, fdiff, fagree, N_CHECK);
    int bad = !int8 && (diff > 1e-3f || (xp && xdiff > 1e-3f));
    if (bad)
        printf("  MISMATCH: a float peer differs from ours by more than 1e-3\n");

    printf("engine: model=%s isa=%s precision=%s ours_ms=%.3f opencv_ms=%.3f speedup=%.2f", m->name,
           enn_net_isa(net), prec, med, cmed, cmed / med);
    if (xp)
        printf(" xnnpack_ms=%.3f vs_xnnpack=%.2f", xmed, xmed / med);
    else
        printf(" xnnpack_ms=na");
    printf(" faces_s_1t=%.0f faces_s_all=%.0f cores=%ld", fps1, fpsn, cores);
    if (netf) {
        double wm = pct(warm, WARM_BLOCKS, 50), wf = pct(warmf, WARM_BLOCKS, 50);
        printf(" ours_fp32_ms=%.3f int8_vs_fp32=%.2f warm_ms=%.3f warm_fp32_ms=%.3f "
               "warm_int8_vs_fp32=%.2f", fmed, fmed / med, wm, wf, wf / wm);
    }
    printf("\n");
    ocv_dnn_free(cv);
    xpeer_free(xp);
    enn_net_free(net);
    enn_model_free(m);
    if (netf)
        enn_net_free(netf);
    if (mf)
        enn_model_free(mf);
    free(input), free(t), free(tc), free(tx), free(tf);
    return bad;
}
