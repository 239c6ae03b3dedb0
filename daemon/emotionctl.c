/* emotionctl: the client.
 *   emotionctl [-c FILE] watch [--json] [--count N] [--socket PATH]
 *   emotionctl [-c FILE] status [--json] [--socket PATH]
 * talk to the running daemon (ctl_client.c);
 *   emotionctl [-c FILE] classify [--json] [--model M.enn] [--detector cascade|yunet]
 *                                 [--detector-model PATH] [--detect-width N] IMAGE...
 * detects the faces in each photo and classifies their expressions, no daemon needed.
 * Detector, crop and model settings come from the config file (-c, default
 * /etc/emotiond/emotiond.conf when it exists); flags override it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl_client.h"
#include "detect.h"
#include "facecrop.h"
#include "faces.h"
#include "json_out.h"
#include "model.h"
#include "net.h"
#include "source.h"

#define MAX_FACES 32
#define DEFAULT_MODEL_NAME "emotionnet-nano-a-fer.enn"

static void usage(FILE *to)
{
    fprintf(to,
            "usage: emotionctl [-c FILE] watch [--json] [--count N] [--retry] [--socket PATH]\n"
            "       emotionctl [-c FILE] status [--json] [--socket PATH]\n"
            "       emotionctl [-c FILE] classify [--json] [--model M.enn]\n"
            "                  [--detector cascade|yunet] [--detector-model PATH]\n"
            "                  [--detect-width N] IMAGE...\n"
            "Detects faces in JPEG, PNG or PGM photos and prints one line per face:\n"
            "  file x y w h label confidence\n"
            "or, with --json, one JSON object per image.\n");
}

/* The configured model, else the source tree's models/ (running from a build). */
static const char *default_model(const char *configured, char *tried, size_t len)
{
    const char *candidates[] = {configured, EMOTIOND_SOURCE_DIR "/models/" DEFAULT_MODEL_NAME};
    tried[0] = '\0';
    for (size_t i = 0; i < 2; i++) {
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
        size_t used = strlen(tried);
        snprintf(tried + used, len - used, "%s%s", used ? ", " : "", candidates[i]);
    }
    return NULL;
}

struct ctx {
    const struct config *cfg;
    struct enn_net *net;
    const struct enn_model *m;
    struct det_detector *det;
    bool json;
};

static int load(const char *path, enum cap_pixfmt fmt, struct cap_source **src,
                struct cap_frame **f, char *err, size_t errlen)
{
    char spec[4200];
    snprintf(spec, sizeof spec, "image:%s", path);
    struct cap_options o = {.fmt = fmt, .once = true, .pool_frames = 1};
    if (cap_source_open(spec, &o, src, err, errlen))
        return -1;
    if (cap_source_next(*src, f, err, errlen) != 1) {
        cap_source_close(*src);
        return -1;
    }
    return 0;
}

static int classify_one(struct ctx *c, const char *path)
{
    char err[600];
    struct cap_source *sb, *sg;
    struct cap_frame *bgr, *gray;
    if (load(path, CAP_BGR24, &sb, &bgr, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        return -1;
    }
    if (load(path, CAP_GRAY8, &sg, &gray, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        cap_frame_unref(bgr);
        cap_source_close(sb);
        return -1;
    }
    struct det_face faces[MAX_FACES];
    int n = det_detect(c->det, bgr->data, bgr->width, bgr->height, bgr->stride, 3, faces,
                       MAX_FACES, err, sizeof err);
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "emotionctl: %s: %s\n", path, err);
        rc = -1;
        n = 0;
    }
    static char text[1 << 16];
    struct json_out j;
    json_init(&j, text, sizeof text);
    json_raw(&j, "{\"file\":");
    json_str(&j, path);
    json_raw(&j, ",\"width\":");
    json_int(&j, bgr->width);
    json_raw(&j, ",\"height\":");
    json_int(&j, bgr->height);
    json_raw(&j, ",\"faces\":[");
    for (int i = 0; i < n; i++) {
        struct enn_box crop = facecrop_box(&faces[i], (float)c->cfg->classify.crop_widen,
                                           c->cfg->classify.align_eyes);
        float p[ENN_MAX_CLASSES];
        enn_net_classify(c->net, gray->data, gray->width, gray->height, gray->stride, &crop, 1, p);
        int best = 0;
        for (int k = 1; k < c->m->n_classes; k++)
            best = p[k] > p[best] ? k : best;
        const struct det_face *f = &faces[i];
        if (!c->json) {
            printf("%s %.0f %.0f %.0f %.0f %s %.3f\n", path, f->x, f->y, f->w, f->h,
                   c->m->classes[best], p[best]);
            continue;
        }
        const float b[4] = {f->x, f->y, f->w, f->h};
        json_raw(&j, i ? "," : "");
        faces_face_json(&j, c->m, i + 1, b, best, p);
    }
    json_raw(&j, "]}");
    if (c->json) {
        if (j.overflow) {
            fprintf(stderr, "emotionctl: %s: result too large\n", path);
            rc = -1;
        } else {
            printf("%s\n", text);
        }
    }
    cap_frame_unref(bgr);
    cap_frame_unref(gray);
    cap_source_close(sb);
    cap_source_close(sg);
    return rc;
}

static int cmd_classify(const struct config *cfg, int argc, char **argv)
{
    const char *model_path = NULL;
    struct det_config dc;
    faces_detector_config(cfg, &dc);
    struct ctx c = {.cfg = cfg};
    int first_image = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--json"))
            c.json = true;
        else if (!strcmp(a, "--model") && has_value)
            model_path = argv[++i];
        else if (!strcmp(a, "--detector") && has_value) {
            if (!(dc.backend = det_backend_parse(argv[++i]))) {
                fprintf(stderr, "emotionctl: --detector %s: use cascade or yunet\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--detector-model") && has_value)
            dc.model = argv[++i];
        else if (!strcmp(a, "--detect-width") && has_value)
            dc.detect_width = atoi(argv[++i]);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "emotionctl: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            first_image = i;
            break;
        }
    }
    if (first_image >= argc) {
        usage(stderr);
        return 2;
    }
    char err[600], tried[600];
    if (!model_path && !(model_path = default_model(cfg->daemon.model, tried, sizeof tried))) {
        fprintf(stderr, "emotionctl: no model given and none installed (looked for %s); "
                "pass --model FILE.enn\n", tried);
        return 1;
    }
    struct enn_model *m;
    if (enn_model_load(model_path, &m, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        return 1;
    }
    if (m->input.c != 1) {
        fprintf(stderr, "emotionctl: %s takes %d-channel input; face models take grayscale\n",
                model_path, m->input.c);
        enn_model_free(m);
        return 1;
    }
    c.m = m;
    if (enn_net_create(m, &c.net, err, sizeof err) || det_create(&dc, &c.det, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        enn_net_free(c.net);
        enn_model_free(m);
        return 1;
    }
    enn_net_set_mirror(c.net, cfg->classify.mirror);
    int failed = 0;
    for (int i = first_image; i < argc; i++)
        failed |= classify_one(&c, argv[i]) != 0;
    det_free(c.det);
    enn_net_free(c.net);
    enn_model_free(m);
    return failed;
}

int main(int argc, char **argv)
{
    struct config cfg;
    config_defaults(&cfg);
    const char *conf = NULL;
    if (argc >= 3 && !strcmp(argv[1], "-c")) {
        conf = argv[2];
        argc -= 2;
        argv += 2;
    } else if (access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
        conf = CONFIG_DEFAULT_PATH;
    }
    char err[700];
    if (conf && config_load(conf, &cfg, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        return 1;
    }
    if (argc >= 2 && !strcmp(argv[1], "classify"))
        return cmd_classify(&cfg, argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "watch"))
        return ctl_watch(cfg.daemon.socket, argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "status"))
        return ctl_status(cfg.daemon.socket, argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
