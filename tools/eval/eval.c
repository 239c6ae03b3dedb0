/* Accuracy of the C engine (the shipped path) on a dataset split:
 *   eval MODEL.enn DATA_DIR ckplus [--fold K[,K...] FOLDS.csv] | fer2013 [Training|PublicTest|PrivateTest]
 *        [--predictions FILE]   (compare with PyTorch's predicted class indices, one a line)
 *        [--mirror]             (mirror averaging on, as the daemon's [classify] mirror)
 *        [--shared-classes]     (skip images whose label is no class of the model: a FER2013
 *                                model on CK+'s posed faces; without it such a label is an
 *                                error)
 * Prints accuracy, per-class recall and the confusion matrix; the last line
 *   eval: model=... split=... images=... accuracy=...  [agreement_with_pytorch=...] */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argmax.h"
#include "dataset.h"
#include "model.h"
#include "net.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.enn DATA_DIR ckplus [--fold K[,K...] FOLDS.csv] | fer2013 "
                        "[SPLIT] [--predictions FILE] [--mirror] [--shared-classes]\n", argv[0]);
        return 2;
    }
    const char *split = NULL, *folds = NULL, *preds = NULL, *fold_list = NULL;
    bool fold_wanted[100] = {false};
    bool mirror = false, shared_only = false;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--fold") && i + 2 < argc) {
            fold_list = argv[++i];
            folds = argv[++i];
            for (const char *f = fold_list; *f;) {
                char *end;
                long k = strtol(f, &end, 10);
                if (end == f || k < 0 || k >= 100 || (*end && *end != ',')) {
                    fprintf(stderr, "eval: --fold %s: expected fold numbers like 3 or 5,6,7\n",
                            fold_list);
                    return 2;
                }
                fold_wanted[k] = true;
                f = *end ? end + 1 : end;
            }
        } else if (!strcmp(argv[i], "--mirror")) {
            mirror = true;
        } else if (!strcmp(argv[i], "--shared-classes")) {
            shared_only = true;
        } else if (!strcmp(argv[i], "--predictions") && i + 1 < argc) {
            preds = argv[++i];
        } else {
            split = argv[i];
        }
    }
    char err[512];
    struct dataset ds;
    int rc = dataset_load(argv[2], argv[3], &ds, err, sizeof err);
    if (rc) {
        printf("%s%s\n", rc > 0 ? "SKIPPED: " : "eval: ", err);
        return rc > 0 ? 0 : 1;
    }
    struct enn_model *m;
    struct enn_net *net;
    if (enn_model_load(argv[1], &m, err, sizeof err) || enn_net_create(m, &net, err, sizeof err)) {
        fprintf(stderr, "eval: %s\n", err);
        return 1;
    }
    enn_net_set_mirror(net, mirror);
    /* which subjects are in the requested CK+ fold */
    char subjects[200][16];
    int n_subjects = 0;
    if (folds) {
        FILE *f = fopen(folds, "r");
        char line[128], s[16];
        int k;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "%15[^,],%d", s, &k) == 2 && k >= 0 && k < 100 && fold_wanted[k] &&
                n_subjects < 200)
                snprintf(subjects[n_subjects++], 16, "%.15s", s);
        if (f)
            fclose(f);
        if (!n_subjects) {
            fprintf(stderr, "eval: no subjects for fold %s in %s\n", fold_list, folds);
            return 1;
        }
    }
    FILE *pf = preds ? fopen(preds, "r") : NULL;
    if (preds && !pf) {
        fprintf(stderr, "eval: cannot read %s\n", preds);
        return 1;
    }
    static long conf[64][64];
    long n = 0, right = 0, agree = 0, compared = 0, skipped = 0;
    for (int i = 0; i < ds.n; i++) {
        if (split && strcmp(ds.group[i], split))
            continue;
        if (folds) {
            int in = 0;
            for (int s = 0; s < n_subjects; s++)
                in |= !strcmp(subjects[s], ds.group[i]);
            if (!in)
                continue;
        }
        int truth = -1;
        for (int c = 0; c < m->n_classes; c++)
            if (!strcmp(m->classes[c], ds.label[i]))
                truth = c;
        if (truth < 0 && shared_only) {
            skipped++;
            continue;
        }
        if (truth < 0) {
            fprintf(stderr, "eval: label %s is not a class of %s (--shared-classes skips "
                            "such images)\n", ds.label[i], m->name);
            return 1;
        }
        float p[ENN_MAX_CLASSES];
        struct enn_box whole = {0, 0, 48, 48, 0};
        enn_net_classify(net, ds.pixels[i], 48, 48, 48, &whole, 1, p);
        int best = argmax(p, m->n_classes);
        conf[truth][best]++;
        right += best == truth;
        n++;
        int theirs;
        if (pf && fscanf(pf, "%d", &theirs) == 1) {
            agree += theirs == best;
            compared++;
        }
    }
    if (!n) {
        fprintf(stderr, "eval: no images in that split\n");
        return 1;
    }
    printf("%-10s", "truth\\pred");
    for (int c = 0; c < m->n_classes; c++)
        printf(" %6.6s", m->classes[c]);
    printf("  recall\n");
    for (int t = 0; t < m->n_classes; t++) {
        long row = 0;
        printf("%-10s", m->classes[t]);
        for (int c = 0; c < m->n_classes; c++) {
            printf(" %6ld", conf[t][c]);
            row += conf[t][c];
        }
        printf("  %5.1f %%\n", row ? 100.0 * conf[t][t] / row : 0);
    }
    char where[64];
    if (folds)
        snprintf(where, sizeof where, "fold%.50s", fold_list);
    else
        snprintf(where, sizeof where, "%s", split ? split : "all");
    printf("eval: model=%s split=%s:%s%s images=%ld accuracy=%.2f", m->name, argv[3], where,
           mirror ? " mirror=on" : "", n, 100.0 * right / n);
    if (skipped)
        printf(" skipped_other_classes=%ld", skipped);
    if (compared)
        printf(" agreement_with_pytorch=%.2f (%ld)", 100.0 * agree / compared, compared);
    printf("\n");
    if (pf)
        fclose(pf);
    enn_net_free(net);
    enn_model_free(m);
    dataset_free(&ds);
    return 0;
}
