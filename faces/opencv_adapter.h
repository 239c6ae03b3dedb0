/* OpenCV behind a C interface: the project's one C++ file implements it, and no C++
 * exception crosses it (every call reports failure through its return value and err).
 * It runs ONNX networks through OpenCV's DNN module (the engine benchmark's peer), the
 * yunet-opencv and cascade face detectors (detect.c), and imdecode for the capture
 * benchmark. Built only with EMOTIOND_WITH_OPENCV. */
#ifndef EMOTIOND_OPENCV_ADAPTER_H
#define EMOTIOND_OPENCV_ADAPTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ocv_dnn;

struct ocv_dnn *ocv_dnn_load(const char *onnx_path, char *err, size_t errlen);
/* input: [c][h][w] floats; writes up to n_out outputs. Returns the output count, or -1. */
int ocv_dnn_forward(struct ocv_dnn *net, const float *input, int c, int h, int w, float *out,
                    int n_out, char *err, size_t errlen);
void ocv_dnn_free(struct ocv_dnn *net);
/* Only in opencv_adapter_codecs (benchmarks): the daemon does not load imgcodecs, which
 * pulls in GDAL, poppler and friends (some 40 MB resident).
 * cv::imdecode to 8-bit grayscale (reduce: 1, or 2 for IMREAD_REDUCED_GRAYSCALE_2) into
 * dst; returns 0 and the size, or -1. For the capture benchmark's comparison. */
int ocv_imdecode_gray(const unsigned char *data, size_t len, int reduce, unsigned char *dst,
                      size_t capacity, int *width, int *height);
/* YuNet run by OpenCV DNN: the image (BGR, or gray replicated) is resized by `scale`,
 * padded to a multiple of 32, and the raw outputs are returned; decoding is the
 * caller's (detect.c). Pointers stay valid until the next run or free. */
struct ocv_yunet;
struct ocv_yunet_level {
    int stride, cols, rows;          /* feature map of this stride */
    const float *cls, *obj;          /* [rows * cols] */
    const float *bbox;               /* [rows * cols][4]: dx, dy, log w, log h */
    const float *kps;                /* [rows * cols][10]: five landmarks */
};
struct ocv_yunet *ocv_yunet_load(const char *onnx_path, char *err, size_t errlen);
int ocv_yunet_run(struct ocv_yunet *y, const unsigned char *pixels, int width, int height,
                  size_t stride, int channels, double scale, struct ocv_yunet_level out[3],
                  char *err, size_t errlen);
void ocv_yunet_free(struct ocv_yunet *y);

/* OpenCV's CascadeClassifier on an 8-bit gray image resized by `scale`; boxes come back
 * in the original image's pixels. Returns the count (at most max), or -1. */
struct ocv_cascade;
struct ocv_rect {
    float x, y, w, h;
};
struct ocv_cascade *ocv_cascade_load(const char *xml_path, char *err, size_t errlen);
int ocv_cascade_detect(struct ocv_cascade *c, const unsigned char *gray, int width, int height,
                       size_t stride, double scale, int min_size, int min_neighbors,
                       struct ocv_rect *out, int max, char *err, size_t errlen);
void ocv_cascade_free(struct ocv_cascade *c);

/* OpenCV's own worker-thread count (cv::setNumThreads). */
void ocv_set_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
