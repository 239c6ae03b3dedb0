/* One stage of the daemon's per-frame work in a loop, for instruction counting under
 * qemu (tools/bench/arm-estimate, `scripts/bench arm`) and for timing it natively.
 *   bench_infer decode FRAME.jpg N
 *   bench_infer detect FRAME.jpg YUNET.enn N           (detect width 320, as the daemon)
 *   bench_infer classify FRAME.jpg YUNET.enn MODEL.enn N
 *   bench_infer clock                                   (this core's clock, from a chain)
 * Options: --time (each of the N runs timed, with a clock probe before each; prints the
 * best and median ms, the best clock and the face box; else silent), --box X,Y,W,H,ANGLE
 * (classify: this crop instead of the one from YuNet, which then is not run), --maps FILE
 * (this process's /proc/self/maps at exit, to name code addresses).
 * The loop of N runs is bracketed by two calls of bench_mark, a no-op instruction that
 * tools/bench/arm-estimate-plugin.c recognises and snapshots its counters at: the
 * difference of the two snapshots is exactly the N runs.
 * The frame (a 640x480 JPEG) is decoded to gray as capture/jpeg.c does it (TurboJPEG,
 * TJPF_GRAY, TJFLAG_STOPONWARNING | TJFLAG_FASTDCT), through dlopen so that the engine-only
 * builds need no TurboJPEG at link time. classify crops the first face YuNet finds with
 * the daemon's crop rule (facecrop_box: widen 1.0, eyes levelled), then runs
 * enn_net_classify, mirror off (the defaults). Everything before the loop (loading,
 * planning, the first detection) is also the same in a run of N and of N + K, so without
 * the marks the difference of two runs' counts is K stages' work. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "detect.h"
#include "facecrop.h"
#include "model.h"
#include "net.h"

/* The TurboJPEG 2.x calls capture/jpeg.c makes (turbojpeg.h: TJPF_GRAY 6, TJFLAG_FASTDCT
   2048, TJFLAG_STOPONWARNING 8192). */
#define TJPF_GRAY 6
#define TJFLAG_FASTDCT 2048
#define TJFLAG_STOPONWARNING 8192
struct tj {
    void *(*init)(void);
    int (*header)(void *, const unsigned char *, unsigned long, int *, int *, int *, int *);
    int (*decompress)(void *, const unsigned char *, unsigned long, unsigned char *, int, int,
                      int, int, int);
    void *h;
};

static int tj_open(struct tj *t)
{
    void *lib = dlopen("libturbojpeg.so.0", RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "bench_infer: %s\n", dlerror());
        return -1;
    }
    *(void **)&t->init = dlsym(lib, "tjInitDecompress");
    *(void **)&t->header = dlsym(lib, "tjDecompressHeader3");
    *(void **)&t->decompress = dlsym(lib, "tjDecompress2");
    if (!t->init || !t->header || !t->decompress || !(t->h = t->init())) {
        fprintf(stderr, "bench_infer: libturbojpeg.so.0 lacks the TurboJPEG 2 API\n");
        return -1;
    }
    return 0;
}

/* A NOP no compiler emits (nopl with displacement "KRAM" on x86-64, the unallocated
   hint #90 on AArch64): the counting plugin's mark. */
static __attribute__((noinline)) void bench_mark(void)
{
#if defined(__x86_64__)
    __asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x4b, 0x52, 0x41, 0x4d" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("hint #90" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Cycles per second of this core: a chain of dependent register-register adds (one cycle
   each on every core this runs on; add-immediate chains are not used because some cores
   fold immediates at rename), 8 per loop trip, the loop's own counter beside it. Best
   of reps probes of 16 M cycles (a few ms: short enough to fall between the other
   processes' time slices on a shared machine). */
static double clock_hz(int reps)
{
    const long trips = 2 * 1000 * 1000;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        uint64_t v = 0, one = (uint64_t)r + 1;
        double t0 = mono_ms();
        for (long i = 0; i < trips; i++) {
#if defined(__x86_64__)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(v) : "r"(one));
#elif defined(__aarch64__)
            __asm__ volatile("add %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\t"
                             "add %0, %0, %1\n\tadd %0, %0, %1\n\tadd %0, %0, %1\n\t"
                             "add %0, %0, %1\n\tadd %0, %0, %1"
                             : "+r"(v) : "r"(one));
#else
            v += 8 * one;
            __asm__ volatile("" : "+r"(v));
#endif
        }
        double ms = mono_ms() - t0;
        if (ms < best)
            best = ms;
    }
    return 8.0 * (double)trips / (best / 1e3);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

static void dump_maps(const char *path)
{
    FILE *in = fopen("/proc/self/maps", "r"), *out = fopen(path, "w");
    char line[1024];
    while (in && out && fgets(line, sizeof line, in))
        fputs(line, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_infer decode FRAME.jpg N | detect FRAME.jpg YUNET.enn N |\n"
                    "       classify FRAME.jpg YUNET.enn MODEL.enn N | clock\n"
                    "       [--time] [--box X,Y,W,H,ANGLE] [--maps FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *pos[6] = {0}, *maps = NULL;
    int npos = 0;
    int timed = 0, given_box = 0;
    struct enn_box box = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--time"))
            timed = 1;
        else if (!strcmp(argv[i], "--box") && i + 1 < argc)
            given_box = sscanf(argv[++i], "%f,%f,%f,%f,%f", &box.x, &box.y, &box.w, &box.h,
                               &box.angle) == 5;
        else if (!strcmp(argv[i], "--maps") && i + 1 < argc)
            maps = argv[++i];
        else if (npos < 6)
            pos[npos++] = argv[i];
        else
            return usage();
    }
    if (npos < 1)
        return usage();
    const char *mode = pos[0];
    if (!strcmp(mode, "clock")) {
        printf("clock_hz %.0f\n", clock_hz(200));
        return 0;
    }
    int need = !strcmp(mode, "decode") ? 3 : !strcmp(mode, "detect") ? 4
             : !strcmp(mode, "classify") ? 5 : 0;
    if (!need || npos != need)
        return usage();
    int n = atoi(pos[need - 1]);
    if (n < 1)
        return usage();

    char err[512];
    struct tj tj;
    size_t jlen;
    unsigned char *jpg = read_file(pos[1], &jlen);
    if (!jpg) {
        fprintf(stderr, "bench_infer: cannot read %s\n", pos[1]);
        return 1;
    }
    if (tj_open(&tj))
        return 1;
    int w, h, sub, cs;
    if (tj.header(tj.h, jpg, (unsigned long)jlen, &w, &h, &sub, &cs)) {
        fprintf(stderr, "bench_infer: %s: not a JPEG\n", pos[1]);
        return 1;
    }
    uint8_t *gray = malloc((size_t)w * (size_t)h);
    if (!gray || tj.decompress(tj.h, jpg, (unsigned long)jlen, gray, w, 0, h, TJPF_GRAY,
                               TJFLAG_STOPONWARNING | TJFLAG_FASTDCT)) {
        fprintf(stderr, "bench_infer: %s: cannot decode\n", pos[1]);
        return 1;
    }

    struct det_detector *det = NULL;
    struct det_face faces[8];
    int n_faces = 0;
    if (need == 4 || (need == 5 && !given_box)) {
        struct det_config dc = {.backend = DET_YUNET, .model = pos[2]};
        if (det_create(&dc, &det, err, sizeof err)) {
            fprintf(stderr, "bench_infer: %s\n", err);
            return 1;
        }
        n_faces = det_detect(det, gray, w, h, (size_t)w, 1, faces, 8, err, sizeof err);
        if (n_faces < 0) {
            fprintf(stderr, "bench_infer: %s\n", err);
            return 1;
        }
    }
    struct enn_model *m = NULL;
    struct enn_net *net = NULL;
    float probs[64];
    if (need == 5) {
        if (enn_model_load(pos[3], &m, err, sizeof err) ||
            enn_net_create(m, &net, err, sizeof err)) {
            fprintf(stderr, "bench_infer: %s\n", err);
            return 1;
        }
        if (!given_box) {
            if (n_faces < 1) {
                fprintf(stderr, "bench_infer: no face found in %s\n", pos[1]);
                return 1;
            }
            box = facecrop_box(&faces[0], 1.0f, true);
        }
        enn_net_classify(net, gray, w, h, (size_t)w, &box, 1, probs);   /* plans, warms */
    }

    double *t = malloc((size_t)n * sizeof *t), hz = 0;
    bench_mark();
    for (int i = 0; i < n; i++) {
        if (timed) {   /* the clock, probed between runs: best of all probes */
            double f = clock_hz(3);
            hz = f > hz ? f : hz;
        }
        double t0 = mono_ms();
        if (need == 3) {
            if (tj.decompress(tj.h, jpg, (unsigned long)jlen, gray, w, 0, h, TJPF_GRAY,
                              TJFLAG_STOPONWARNING | TJFLAG_FASTDCT))
                return 1;
        } else if (need == 4) {
            if (det_detect(det, gray, w, h, (size_t)w, 1, faces, 8, err, sizeof err) < 0)
                return 1;
        } else {
            enn_net_classify(net, gray, w, h, (size_t)w, &box, 1, probs);
        }
        t[i] = mono_ms() - t0;
    }
    bench_mark();
    if (timed) {
        qsort(t, (size_t)n, sizeof *t, cmp_double);
        printf("bench_infer: mode=%s frame=%dx%d faces=%d isa=%s runs=%d best_ms=%.4f "
               "median_ms=%.4f clock_hz=%.0f box=%.9g,%.9g,%.9g,%.9g,%.9g\n", mode, w, h,
               n_faces, net ? enn_net_isa(net) : "-", n, t[0], t[n / 2], hz, box.x, box.y,
               box.w, box.h, box.angle);
    }
    if (maps)
        dump_maps(maps);
    free(t);
    enn_net_free(net);
    enn_model_free(m);
    det_free(det);
    free(gray);
    free(jpg);
    return 0;
}
