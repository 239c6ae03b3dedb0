/* Accuracy of the C engine (the shipped path) on a dataset split:
 *   eval MODEL.enn DATA_DIR ckplus [--fold K[,K...] FOLDS.csv] | fer2013 [Training|PublicTest|PrivateTest]
 *        [--predictions FILE]   (compare with PyTorch's predicted class indices, one a line)
 *        [--mirror]             (mirror averaging on, as the daemon's [classify] mirror)
 *        [--shared-classes]     (skip images whose label is no class of the model: a FER2013
 *                                model on CK+'s posed faces; without it such a label is an
 *                                error)
 * Prints accuracy, per-class recall and the confusion matrix; the last line
 *   eval: model=... split=... images=... accuracy=...  [agreement_with_pytorch=...] */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argmax.h"
#include "dataset.h"
#include "model.h"
#include "net.h"

enum { MAX_FOLDS = 100, MAX_SUBJECTS = 1000 };

/* "3" or "5,6,7" into wanted[]; -1 on anything else (empty pieces, signs, spaces) */
static int parse_fold_list(const char *list, bool wanted[MAX_FOLDS])
{
    for (const char *f = list;;) {
        if (!isdigit((unsigned char)*f))
            return -1;
        char *end;
        long k = strtol(f, &end, 10);
        if (k >= MAX_FOLDS)
            return -1;
        wanted[k] = true;
        if (!*end)
            return 0;
        if (*end != ',')
            return -1;
        f = end + 1;
    }
}

/* The subjects of the wanted folds in FOLDS.csv (subject,fold lines): their count, or -1
 * with a message in err. */
static int read_fold_subjects(const char *path, const bool wanted[MAX_FOLDS],
                              char (*subjects)[16], char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "cannot read %s", path);
        return -1;
    }
    char line[128], s[16];
    int k, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15[^,],%d", s, &k) != 2 || k < 0 || k >= MAX_FOLDS || !wanted[k])
            continue;
        if (n == MAX_SUBJECTS) {
            snprintf(err, err_len, "%s: more than %d subjects in those folds", path,
                     MAX_SUBJECTS);
            fclose(f);
            return -1;
        }
        snprintf(subjects[n++], 16, "%.15s", s);
    }
    fclose(f);
    if (!n)
        snprintf(err, err_len, "no subjects for those folds in %s", path);
    return n ? n : -1;
}

static void print_confusion(const struct enn_model *m, long conf[64][64])
{
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
}

int main(int argc, char **argv)
{
    const char *usage = "usage: %s MODEL.enn DATA_DIR ckplus [--fold K[,K...] FOLDS.csv] | "
                        "fer2013 [SPLIT] [--predictions FILE] [--mirror] [--shared-classes]\n";
    if (argc < 4) {
        fprintf(stderr, usage, argv[0]);
        return 2;
    }
    const char *split = NULL, *folds = NULL, *preds = NULL, *fold_list = NULL;
    static bool fold_wanted[MAX_FOLDS];
    bool mirror = false, shared_only = false;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--fold") && i + 2 < argc && !fold_list) {
            fold_list = argv[++i];
            folds = argv[++i];
            if (parse_fold_list(fold_list, fold_wanted)) {
                fprintf(stderr, "eval: --fold %s: expected fold numbers like 3 or 5,6,7\n",
                        fold_list);
                return 2;
            }
        } else if (!strcmp(argv[i], "--mirror")) {
            mirror = true;
        } else if (!strcmp(argv[i], "--shared-classes")) {
            shared_only = true;
        } else if (!strcmp(argv[i], "--predictions") && i + 1 < argc) {
            preds = argv[++i];
        } else if (argv[i][0] != '-' && !split) {
            split = argv[i];
        } else {
            fprintf(stderr, usage, argv[0]);
            return 2;
        }
    }
    char err[512];
    struct dataset ds;
    int rc = dataset_load(argv[2], argv[3], &ds, err, sizeof err);
    if (rc) {
        printf("%s%s\n", rc > 0 ? "SKIPPED: " : "eval: ", err);
        return rc > 0 ? 0 : 1;
    }
    struct enn_model *m = NULL;
    struct enn_net *net = NULL;
    FILE *pf = NULL;
    static char subjects[MAX_SUBJECTS][16];
    int n_subjects = 0;
    rc = 1;
    if (enn_model_load(argv[1], &m, err, sizeof err) || enn_net_create(m, &net, err, sizeof err))
        goto fail;
    enn_net_set_mirror(net, mirror);
    if (folds && (n_subjects = read_fold_subjects(folds, fold_wanted, subjects, err,
                                                  sizeof err)) < 0)
        goto fail;
    if (preds && !(pf = fopen(preds, "r"))) {
        snprintf(err, sizeof err, "cannot read %s", preds);
        goto fail;
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
            snprintf(err, sizeof err, "label %s is not a class of %s (--shared-classes skips "
                                      "such images)", ds.label[i], m->name);
            goto fail;
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
        snprintf(err, sizeof err, "no images in that split");
        goto fail;
    }
    print_confusion(m, conf);
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
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "eval: %s\n", err);
done:
    if (pf)
        fclose(pf);
    enn_net_free(net);
    enn_model_free(m);
    dataset_free(&ds);
    return rc;
}
