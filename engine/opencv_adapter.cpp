// The OpenCV adapter: the one C++ file. Every entry point catches everything.
#include "opencv_adapter.h"

#include <algorithm>
#include <cstdio>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>

struct ocv_dnn {
    cv::dnn::Net net;
};

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", what);
}

extern "C" struct ocv_dnn *ocv_dnn_load(const char *onnx_path, char *err, size_t errlen)
{
    try {
        auto *n = new ocv_dnn;
        n->net = cv::dnn::readNetFromONNX(onnx_path);
        if (n->net.empty()) {
            delete n;
            set_err(err, errlen, "OpenCV read an empty network");
            return nullptr;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return n;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return nullptr;
}

extern "C" int ocv_dnn_forward(struct ocv_dnn *n, const float *input, int c, int h, int w,
                               float *out, int n_out, char *err, size_t errlen)
{
    try {
        int dims[4] = {1, c, h, w};
        cv::Mat blob(4, dims, CV_32F, const_cast<float *>(input));
        n->net.setInput(blob);
        cv::Mat res = n->net.forward();
        int total = static_cast<int>(res.total());
        const float *p = res.ptr<float>();
        for (int i = 0; i < total && i < n_out; i++)
            out[i] = p[i];
        return total;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return -1;
}

extern "C" void ocv_dnn_free(struct ocv_dnn *n)
{
    delete n;
}

extern "C" int ocv_imdecode_gray(const unsigned char *data, size_t len, int reduce,
                                 unsigned char *dst, size_t capacity, int *width, int *height)
{
    try {
        cv::Mat buf(1, static_cast<int>(len), CV_8U, const_cast<unsigned char *>(data));
        cv::Mat img = cv::imdecode(buf, reduce == 2 ? cv::IMREAD_REDUCED_GRAYSCALE_2
                                                    : cv::IMREAD_GRAYSCALE);
        if (img.empty() || img.total() > capacity)
            return -1;
        for (int y = 0; y < img.rows; y++)
            std::copy(img.ptr<unsigned char>(y), img.ptr<unsigned char>(y) + img.cols,
                      dst + static_cast<size_t>(y) * static_cast<size_t>(img.cols));
        *width = img.cols;
        *height = img.rows;
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" void ocv_set_threads(int n)
{
    try {
        cv::setNumThreads(n);
    } catch (...) {
    }
}
