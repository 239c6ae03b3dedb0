/* emotionctl: the client.
 *   emotionctl [-c FILE] watch [--json] [--count N] [--socket PATH]
 *   emotionctl [-c FILE] status [--json] [--socket PATH]
 * talk to the running daemon (ctl_client.c);
 *   emotionctl [-c FILE] classify [--json] [--model M.enn]
 *                                 [--detector yunet|yunet-opencv|cascade]
 *                                 [--detector-model PATH] [--detect-width N] IMAGE...
 * detects the faces in each photo and classifies their expressions, no daemon needed,
 * through the daemon's own face stage (faces.h) on the photo in gray, as the daemon sees
 * frames: what it prints is what the daemon would publish for that photo. Detector, crop
 * and model settings come from the config file (-c, default /etc/emotiond/emotiond.conf
 * when it exists); flags override it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl_client.h"
#include "detect.h"
#include "faces.h"
#include "json_out.h"
#include "model.h"
#include "net.h"
#include "protocol.h"
#include "source.h"
#include "textsize.h"

#define DEFAULT_MODEL_NAME "emotionnet-nano-a-fer.enn"

static void usage(FILE *to)
{
    fprintf(to,
            "usage: emotionctl [-c FILE] watch [--json] [--count N] [--retry] [--socket PATH]\n"
            "       emotionctl [-c FILE] status [--json] [--socket PATH]\n"
            "       emotionctl [-c FILE] classify [--json] [--model M.enn]\n"
            "                  [--detector yunet|yunet-opencv|cascade] [--detector-model PATH]\n"
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

static int load(const char *path, struct cap_source **src, struct cap_frame **f, char *err,
                size_t errlen)
{
    char spec[4200];
    snprintf(spec, sizeof spec, "image:%s", path);
    struct cap_options o = {.fmt = CAP_GRAY8, .once = true, .pool_frames = 1};
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
    char err[TEXT_ERR];
    struct cap_source *src;
    struct cap_frame *gray;
    if (load(path, &src, &gray, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        return -1;
    }
    /* A fresh stage per photo: the first frame of a source, so its faces are detected
       and nothing is tracked or smoothed across unrelated photos. */
    static struct faces_stage st;
    faces_init(&st, c->det, c->net, c->cfg);
    struct face_result faces[FACES_MAX];
    int n = faces_process(&st, gray->data, gray->data, 1, gray->width, gray->height,
                          gray->stride, gray->stride, 0, faces, FACES_MAX, err, sizeof err);
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
    json_int(&j, gray->width);
    json_raw(&j, ",\"height\":");
    json_int(&j, gray->height);
    json_raw(&j, ",\"faces\":[");
    for (int i = 0; i < n; i++) {
        const struct face_result *f = &faces[i];
        if (!c->json) {
            printf("%s %.0f %.0f %.0f %.0f %s %.3f\n", path, f->box[0], f->box[1], f->box[2],
                   f->box[3], c->m->classes[f->label], f->scores[f->label]);
            continue;
        }
        json_raw(&j, i ? "," : "");
        proto_face(&j, c->m, f->id, f->box, f->label, f->scores);
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
    cap_frame_unref(gray);
    cap_source_close(src);
    return rc;
}

static int cmd_classify(const struct config *file_cfg, int argc, char **argv)
{
    static struct config cfg;   /* the file's, then the flags */
    cfg = *file_cfg;
    const char *model_path = NULL;
    struct ctx c = {.cfg = &cfg};
    char err[TEXT_ERR], tried[TEXT_ERR];
    int first_image = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        const char *key = !strcmp(a, "--detector")         ? "backend"
                          : !strcmp(a, "--detector-model") ? "model"
                          : !strcmp(a, "--detect-width")   ? "width"
                                                           : NULL;
        if (!strcmp(a, "--json")) {
            c.json = true;
        } else if (!strcmp(a, "--model") && has_value) {
            model_path = argv[++i];
        } else if (key && has_value) {
            if (config_set(&cfg, "detect", key, argv[++i], a, err, sizeof err)) {
                fprintf(stderr, "emotionctl: %s\n", err);
                return 2;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
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
    if (det_backend_check(cfg.detect.backend, err, sizeof err)) {
        fprintf(stderr, "emotionctl: [detect] backend: %s\n", err);
        return 1;
    }
    if (!model_path && !(model_path = default_model(cfg.daemon.model, tried, sizeof tried))) {
        fprintf(stderr, "emotionctl: no model given and none installed (looked for %s); "
                "pass --model FILE.enn\n", tried);
        return 1;
    }
    struct enn_model *m;
    if (enn_model_load(model_path, &m, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        return 1;
    }
    if (m->input.c != 1 || m->n_classes < 1) {
        fprintf(stderr, "emotionctl: %s is not a face classifier (it takes %d-channel input "
                "and has %d classes)\n", model_path, m->input.c, m->n_classes);
        enn_model_free(m);
        return 1;
    }
    c.m = m;
    struct det_config dc;
    faces_detector_config(&cfg, &dc);
    if (enn_net_create(m, &c.net, err, sizeof err) || det_create(&dc, &c.det, err, sizeof err)) {
        fprintf(stderr, "emotionctl: %s\n", err);
        enn_net_free(c.net);
        enn_model_free(m);
        return 1;
    }
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
    char err[TEXT_ERR];
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
