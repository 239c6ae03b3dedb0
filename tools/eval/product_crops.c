/* FER2013 faces as the product crops them, for training on run-time framing (train-fer
 * --product-crops): each face placed in a frame (canvas.h), found by the detector the
 * daemon uses by default (YuNet on our engine, its default thresholds and detection
 * width), cut with the daemon's default crop rule (crop_widen 1.0, eyes levelled:
 * facecrop.h) and sampled to 48x48 as the engine samples it (enn_box_sample).
 *   product-crops DATA_DIR OUT [--backend B] [--model FILE] [--widen W] [--no-align]
 * OUT, little-endian: "EPC1", u32 rows, u32 side (48); then for every row of fer2013.csv
 * in file order: u32 CRC-32 of the dataset face (the reader checks its rows against it),
 * u8 found (1: a face was detected), side * side u8 crop (zeros when none was). */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canvas.h"
#include "crc32.h"
#include "dataset.h"
#include "detect.h"
#include "facecrop.h"
#include "net.h"

#define SIDE 48

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s DATA_DIR OUT [--backend yunet|yunet-opencv|cascade] "
                    "[--model FILE] [--widen W] [--no-align]\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage(argv[0]);
    struct det_config dc = {.backend = DET_YUNET};
    float widen = 1.0f;
    bool align = true;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            dc.backend = det_backend_parse(argv[++i]);
            if (!dc.backend) {
                fprintf(stderr, "product-crops: unknown backend '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            dc.model = argv[++i];
        } else if (!strcmp(argv[i], "--widen") && i + 1 < argc) {
            char *end;
            widen = strtof(argv[++i], &end);
            if (*end || !(widen >= 0.5f && widen <= 2.0f)) {
                fprintf(stderr, "product-crops: --widen wants a number from 0.5 to 2, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--no-align")) {
            align = false;
        } else {
            return usage(argv[0]);
        }
    }
    char err[512];
    struct dataset ds;
    int rc = dataset_load(argv[1], "fer2013", &ds, err, sizeof err);
    if (rc) {
        fprintf(stderr, "product-crops: %s\n", err);
        return 1;
    }
    struct det_detector *det;
    if (det_create(&dc, &det, err, sizeof err)) {
        fprintf(stderr, "product-crops: %s\n", err);
        dataset_free(&ds);
        return 1;
    }
    /* written aside and renamed when whole: a run killed half way leaves no OUT that a
     * reader would take for a finished file */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]) >= (int)sizeof tmp) {
        fprintf(stderr, "product-crops: %s: path too long\n", argv[2]);
        det_free(det);
        dataset_free(&ds);
        return 1;
    }
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        perror(tmp);
        det_free(det);
        dataset_free(&ds);
        return 1;
    }
    uint8_t head[12] = {'E', 'P', 'C', '1'};
    put_u32(head + 4, (uint32_t)ds.n);
    put_u32(head + 8, SIDE);
    bool ok = fwrite(head, sizeof head, 1, out) == 1, wrote = ok;
    static uint8_t frame[CANVAS_SIDE * CANVAS_SIDE];
    uint8_t rec[5 + SIDE * SIDE];
    float crop[SIDE * SIDE];
    long found = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int row = 0; row < ds.n && ok; row++) {
        memset(rec, 0, sizeof rec);
        put_u32(rec, enn_crc32(ds.pixels[row], sizeof ds.pixels[row]));
        canvas_place_face(ds.pixels[row], frame);
        struct det_face faces[8];
        int nf = det_detect(det, frame, CANVAS_SIDE, CANVAS_SIDE, CANVAS_SIDE, 1, faces, 8, err,
                            sizeof err);
        if (nf < 0) {
            fprintf(stderr, "product-crops: row %d: %s\n", row, err);
            ok = false;
            break;
        }
        if (nf > 0) {
            struct enn_box b = facecrop_box(&faces[canvas_biggest(faces, nf)], widen, align);
            /* mean 0, std 1/255: the sampled pixel values themselves */
            enn_box_sample(frame, CANVAS_SIDE, CANVAS_SIDE, CANVAS_SIDE, &b, SIDE, SIDE, 0.0f,
                           1.0f / 255.0f, crop);
            /* rounded to bytes: within half a grey level of what the daemon's network sees */
            for (int k = 0; k < SIDE * SIDE; k++) {
                float v = crop[k] + 0.5f;
                rec[5 + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            rec[4] = 1;
            found++;
        }
        ok = wrote = fwrite(rec, sizeof rec, 1, out) == 1;
        if ((row + 1) % 5000 == 0)
            fprintf(stderr, "product-crops: %d of %d rows\n", row + 1, ds.n);
    }
    if (fclose(out) != 0)
        ok = wrote = false;
    if (ok && rename(tmp, argv[2]) != 0) {
        perror(argv[2]);
        ok = false;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!ok) {
        if (!wrote)
            fprintf(stderr, "product-crops: could not write %s\n", tmp);
        remove(tmp);
    } else {
        printf("product-crops: %s: %d rows, a face found in %ld (%.1f %%), detector %s, widen "
               "%.2f, eyes %s, %.0f s\n", argv[2], ds.n, found, 100.0 * found / ds.n,
               det_backend_name(dc.backend), widen, align ? "levelled" : "as detected",
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    }
    det_free(det);
    dataset_free(&ds);
    return ok ? 0 : 1;
}
