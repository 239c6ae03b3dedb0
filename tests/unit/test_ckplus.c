/* The C engine agrees with PyTorch on all 981 CK+ images (the fixture model's labels
 * were written by tools/train/make-fixtures): the kernels this CPU would use on every
 * image, the other kernel sets on every 10th (they are slow, above all under ASan).
 * EMOTIOND_CKPLUS_STEP=N checks every Nth image instead (set for qemu runs, where the
 * whole set takes about 9 minutes).  Needs ../shared/data: exits 77 (ctest:
 * skipped, with the reason printed) when it is absent. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "net.h"

#define N_IMAGES 981
#define SKIP 77

int main(void)
{
    const char *root = getenv("EMOTIOND_DATA") ? getenv("EMOTIOND_DATA") : SHARED_DATA;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/ckplus48/ckplus48.u8", root);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIPPED: %s is absent (the research datasets live in ../shared/data beside "
               "the checkout, or set EMOTIOND_DATA)\n", path);
        return SKIP;
    }
    static uint8_t images[N_IMAGES][48 * 48];
    size_t got = fread(images, 48 * 48, N_IMAGES, f);
    fclose(f);
    if (got != N_IMAGES) {
        printf("FAIL: %s holds %zu images, expected %d\n", path, got, N_IMAGES);
        return 1;
    }
    snprintf(path, sizeof path, "%s/nano-b-quick.ckplus", FIXTURES);
    f = fopen(path, "r");
    int want[N_IMAGES];
    for (int i = 0; i < N_IMAGES; i++)
        if (!f || fscanf(f, "%d", &want[i]) != 1) {
            printf("FAIL: cannot read label %d from %s\n", i, path);
            return 1;
        }
    fclose(f);
    snprintf(path, sizeof path, "%s/nano-b-quick.enn", FIXTURES);
    struct enn_model *m;
    if (enn_model_load(path, &m, err, sizeof err)) {
        printf("FAIL: %s\n", err);
        return 1;
    }
    const char *isas[] = {"scalar", "avx2", "neon"};
    const char *native = enn_kernels_select(err, sizeof err)->name;
    int failed = 0, base_step = 1;
    if (getenv("EMOTIOND_CKPLUS_STEP"))
        base_step = atoi(getenv("EMOTIOND_CKPLUS_STEP"));
    if (base_step < 1 || base_step > 100)
        base_step = 1;
    for (size_t s = 0; s < 3; s++) {
        if (!enn_kernels_get(isas[s]))
            continue;
        int step = base_step * (strcmp(isas[s], native) == 0 ? 1 : 10), n = 0;
        setenv("EMOTIOND_ISA", isas[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err)) {
            printf("FAIL: %s\n", err);
            return 1;
        }
        int agree = 0;
        for (int i = 0; i < N_IMAGES; i += step, n++) {
            float p[7];
            struct enn_box whole = {0, 0, 48, 48, 0};
            enn_net_classify(net, images[i], 48, 48, 48, &whole, 1, p);
            int best = 0;
            for (int c = 1; c < 7; c++)
                best = p[c] > p[best] ? c : best;
            agree += best == want[i];
        }
        double rate = 100.0 * agree / n;
        printf("%s: %d/%d CK+ labels agree with PyTorch (%.2f %%)\n", isas[s], agree, n, rate);
        failed |= rate < 99.9;
        enn_net_free(net);
    }
    enn_model_free(m);
    return failed;
}
