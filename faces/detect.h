/* Face detection behind one C interface, three backends:
 *   yunet:        the YuNet CNN on our own engine (yunet.h), from the shipped .enn; the
 *                 default, and the only one in a build without OpenCV.
 *   yunet-opencv: the same network's ONNX export (OpenCV model zoo) run by OpenCV DNN
 *                 through opencv_adapter.h: the engine's peer.
 *   cascade:      OpenCV's CascadeClassifier with Debian's Haar file.
 * YuNet gives a score and five landmarks (eyes, nose, mouth corners); candidates go
 * through a score threshold and NMS. Detection runs on a copy scaled to detect_width;
 * boxes come back in frame pixels. */
#ifndef EMOTIOND_DETECT_H
#define EMOTIOND_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DET_DEFAULT_CASCADE "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

enum det_backend { DET_YUNET = 1, DET_YUNET_OPENCV = 2, DET_CASCADE = 3 };

struct det_config {
    enum det_backend backend;  /* default DET_YUNET */
    const char *model;         /* yunet: a converted .enn (default: the installed
                                  YUNET_DEFAULT_MODEL, else the source tree's models/);
                                  yunet-opencv: the ONNX file (required); cascade: an XML
                                  (default DET_DEFAULT_CASCADE) */
    int detect_width;          /* default 320; a frame narrower is used as it is */
    int min_face;              /* smallest face side in frame pixels, default 20 */
    int max_faces;             /* default 8; the highest scores are kept */
    float score_threshold;     /* YuNet, default 0.6 */
    float nms_threshold;       /* YuNet, IoU, default 0.3 */
    int min_neighbors;         /* cascade, default 4 */
    bool int8;                 /* yunet: the model's -int8 sibling (enn_model_precision_path) */
};

struct det_face {
    float x, y, w, h;
    float score;               /* yunet backends: 0..1; cascade: 1 */
    bool has_landmarks;
    float landmarks[10];       /* right eye, left eye, nose, mouth right, mouth left (x, y) */
};

struct det_detector;

int det_create(const struct det_config *cfg, struct det_detector **out, char *err,
               size_t errlen);
/* pixels: 8-bit gray (channels 1) or BGR (3). Returns the face count (<= max), or -1. */
int det_detect(struct det_detector *d, const uint8_t *pixels, int width, int height,
               size_t stride, int channels, struct det_face *out, int max, char *err,
               size_t errlen);
/* Changes what may change between frames: min_face, max_faces and the YuNet thresholds
 * (zero keeps a value). Not while det_detect runs. */
void det_configure(struct det_detector *d, const struct det_config *cfg);
/* Threads OpenCV may use inside one detection (process-wide; nothing without OpenCV). The
 * daemon sets 1: it runs detection on its own thread beside the classify workers, and
 * OpenCV's pool would only compete with them (and spin while idle). */
void det_set_threads(int n);
const char *det_backend_name(enum det_backend b);
/* "yunet", "yunet-opencv" or "cascade" -> backend, built in or not; 0 when unknown. */
enum det_backend det_backend_parse(const char *name);
/* Whether this build has the backend (the OpenCV ones need EMOTIOND_WITH_OPENCV). */
bool det_backend_available(enum det_backend b);
/* 0 when name is a backend this build has; else -1 and a message saying what to use
 * instead (for config checks, before anything is loaded). */
int det_backend_check(const char *name, char *err, size_t errlen);
/* The model a backend uses when none is configured: yunet's installed model, else the
 * source tree's models/ copy (running from a build), else the installed path (which then
 * fails to load, naming it); the cascade's Debian file; NULL for yunet-opencv. */
const char *det_default_model(enum det_backend b);
void det_free(struct det_detector *d);

/* Non-maximum suppression in place: sorts by score, drops boxes overlapping a better one
 * by more than iou; returns how many remain. */
int det_nms(struct det_face *faces, int n, float iou);
float det_iou(const struct det_face *a, const struct det_face *b);

#endif
