/* Engine benchmark: per-face latency (median, p99) and faces/s on one thread and on all
 * cores for a model, beside the same weights as ONNX through OpenCV DNN in the same run.
 *   bench_engine MODEL.enn MODEL.onnx [--iters N] [--seconds S]
 * Last line: engine: model=... isa=... ours_ms=... opencv_ms=... speedup=... */
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.enn MODEL.onnx [--iters N] [--seconds S]\n", argv[0]);
        return 2;
    }
    int iters = 400;
    double seconds = 2;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
    }
    if (iters < 10)
        iters = 10;
    char err[512];
    struct enn_model *m;
    if (enn_model_load(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "bench_engine: %s\n", err);
        return 1;
    }
    struct enn_net *net;
    if (enn_net_create(m, &net, err, sizeof err)) {
        fprintf(stderr, "bench_engine: %s\n", err);
        return 1;
    }
    size_t in_n = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
    float *input = malloc(in_n * sizeof *input);
    for (size_t i = 0; i < in_n; i++)
        input[i] = sinf((float)i * 0.37f) * 1.5f;
    double *t = malloc((size_t)iters * sizeof *t);
    float ours[64], theirs[64];

    ocv_set_threads(1);
    struct ocv_dnn *cv = ocv_dnn_load(argv[2], err, sizeof err);
    if (!cv) {
        fprintf(stderr, "bench_engine: OpenCV cannot load %s: %s\n", argv[2], err);
        return 1;
    }
    /* Interleave the two so that machine noise hits both alike. */
    double *tc = malloc((size_t)iters * sizeof *tc);
    for (int i = 0; i < 30; i++) {
        enn_net_run(net, input, ours, NULL);
        ocv_dnn_forward(cv, input, m->input.c, m->input.h, m->input.w, theirs, 64, err, sizeof err);
    }
    for (int i = 0; i < iters; i++) {
        double t0 = mono_ms();
        enn_net_run(net, input, ours, NULL);
        double t1 = mono_ms();
        if (ocv_dnn_forward(cv, input, m->input.c, m->input.h, m->input.w, theirs, 64, err,
                            sizeof err) != m->n_classes) {
            fprintf(stderr, "bench_engine: OpenCV forward: %s\n", err);
            return 1;
        }
        tc[i] = mono_ms() - t1;
        t[i] = t1 - t0;
    }
    float diff = 0;
    for (int c = 0; c < m->n_classes; c++)
        diff = fmaxf(diff, fabsf(ours[c] - theirs[c]));
    double med = pct(t, iters, 50), p99 = pct(t, iters, 99);
    double cmed = pct(tc, iters, 50), cp99 = pct(tc, iters, 99);
    double gflops = 2.0 * (double)m->n_macs / (med * 1e6);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double fps1 = faces_per_s(m, input, 1, seconds);
    double fpsn = faces_per_s(m, input, (int)(cores > 256 ? 256 : cores), seconds);

    printf("model %s: %zu params, %.1f M MACs, isa %s, context memory %.1f KiB\n", m->name,
           m->n_params, (double)m->n_macs / 1e6, enn_net_isa(net),
           (double)enn_net_memory(net) / 1024);
    printf("  ours    1 thread, batch 1: median %.3f ms  p99 %.3f ms  %.1f GFLOP/s\n", med, p99,
           gflops);
    printf("  opencv  1 thread, batch 1: median %.3f ms  p99 %.3f ms  %.1f GFLOP/s\n", cmed,
           cp99, 2.0 * (double)m->n_macs / (cmed * 1e6));
    printf("  ours    faces/s: %.0f on 1 thread, %.0f on %ld threads\n", fps1, fpsn, cores);
    printf("  max |logit difference| ours vs opencv: %.2g\n", diff);
    printf("engine: model=%s isa=%s ours_ms=%.3f opencv_ms=%.3f speedup=%.2f\n", m->name,
           enn_net_isa(net), med, cmed, cmed / med);
    ocv_dnn_free(cv);
    enn_net_free(net);
    enn_model_free(m);
    free(input), free(t), free(tc);
    return diff > 1e-3f;
}
