/* Classifies a face in a grayscale PGM image with an .enn model: the engine on its own,
 * before face detection exists (emotionctl classify replaces it).
 *   enn-classify --model M.enn IMAGE.pgm [--box X,Y,W,H]   (default box: whole image) */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argmax.h"
#include "model.h"
#include "net.h"

/* Binary PGM (P5, maxval 255), with comments. NULL and a message on anything else. */
static unsigned char *read_pgm(const char *path, int *w, int *h, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }
    int vals[3], n = 0;
    char magic[3] = {0};
    if (fread(magic, 1, 2, f) != 2 || strcmp(magic, "P5") != 0) {
        snprintf(err, errlen, "%s: not a binary PGM (P5) image", path);
        fclose(f);
        return NULL;
    }
    int c = fgetc(f);
    while (n < 3 && c != EOF) {
        if (c == '#')
            while (c != '\n' && c != EOF)
                c = fgetc(f);
        else if (isdigit(c)) {
            long v = 0;
            while (isdigit(c) && v < 100000) {
                v = v * 10 + (c - '0');
                c = fgetc(f);
            }
            vals[n++] = (int)v;
            continue;
        }
        c = fgetc(f);
    }
    if (n < 3 || vals[0] < 1 || vals[1] < 1 || vals[0] > 16384 || vals[1] > 16384 ||
        vals[2] != 255) {
        snprintf(err, errlen, "%s: bad PGM header (need width, height, maxval 255)", path);
        fclose(f);
        return NULL;
    }
    *w = vals[0];
    *h = vals[1];
    size_t size = (size_t)*w * (size_t)*h;
    unsigned char *px = malloc(size);
    if (!px || fread(px, 1, size, f) != size) {
        snprintf(err, errlen, "%s: truncated pixel data", path);
        free(px);
        px = NULL;
    }
    fclose(f);
    return px;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *image = NULL;
    struct enn_box box = {0, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model_path = argv[++i];
        else if (!strcmp(argv[i], "--box") && i + 1 < argc) {
            if (sscanf(argv[++i], "%f,%f,%f,%f", &box.x, &box.y, &box.w, &box.h) != 4 ||
                box.w <= 0 || box.h <= 0) {
                fprintf(stderr, "enn-classify: --box wants X,Y,W,H with W and H > 0\n");
                return 2;
            }
        } else if (argv[i][0] != '-' && !image)
            image = argv[i];
        else {
            fprintf(stderr, "usage: enn-classify --model M.enn IMAGE.pgm [--box X,Y,W,H]\n");
            return 2;
        }
    }
    if (!model_path || !image) {
        fprintf(stderr, "usage: enn-classify --model M.enn IMAGE.pgm [--box X,Y,W,H]\n");
        return 2;
    }
    char err[512];
    struct enn_model *m;
    if (enn_model_load(model_path, &m, err, sizeof err)) {
        fprintf(stderr, "enn-classify: %s\n", err);
        return 1;
    }
    int w, h;
    unsigned char *px = read_pgm(image, &w, &h, err, sizeof err);
    struct enn_net *net = NULL;
    if (!px || enn_net_create(m, &net, err, sizeof err)) {
        fprintf(stderr, "enn-classify: %s\n", err);
        free(px);
        enn_model_free(m);
        return 1;
    }
    if (box.w == 0)
        box = (struct enn_box){0, 0, (float)w, (float)h, 0};
    float probs[ENN_MAX_CLASSES];
    enn_net_classify(net, px, w, h, (size_t)w, &box, 1, probs);
    int best = argmax(probs, m->n_classes);
    printf("%s %g %g %g %g %s %.3f\n", image, box.x, box.y, box.w, box.h, m->classes[best],
           probs[best]);
    for (int c = 0; c < m->n_classes; c++)
        printf("  %-10s %.3f\n", m->classes[c], probs[c]);
    printf("model %s, kernels %s\n", m->name, enn_net_isa(net));
    enn_net_free(net);
    enn_model_free(m);
    free(px);
    return 0;
}
