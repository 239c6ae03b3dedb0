/* OpenCV behind a C interface: the project's one C++ file implements it, and no C++
 * exception crosses it (every call reports failure through its return value and err).
 * For now it runs ONNX networks through OpenCV's DNN module, which the engine benchmark
 * uses as its peer; face detection joins it later. */
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
/* cv::imdecode to 8-bit grayscale (reduce: 1, or 2 for IMREAD_REDUCED_GRAYSCALE_2) into
 * dst; returns 0 and the size, or -1. For the capture benchmark's comparison. */
int ocv_imdecode_gray(const unsigned char *data, size_t len, int reduce, unsigned char *dst,
                      size_t capacity, int *width, int *height);
/* OpenCV's own worker-thread count (cv::setNumThreads). */
void ocv_set_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
