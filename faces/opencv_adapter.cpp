// The OpenCV adapter: the one C++ file. Every entry point catches everything.
#include "opencv_adapter.h"

#include <algorithm>
#include <memory>
#include <cstdio>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#ifdef OCV_WITH_IMGCODECS
#include <opencv2/imgcodecs.hpp>
#endif
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

struct ocv_dnn {
    cv::dnn::Net net;
};

// Our callers report failures with their own messages; OpenCV's console log would
// repeat them in the daemon's journal.
static void quiet_opencv()
{
    static bool done = false;
    if (!done) {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        done = true;
    }
}

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", what);
}

extern "C" struct ocv_dnn *ocv_dnn_load(const char *onnx_path, char *err, size_t errlen)
{
    try {
        quiet_opencv();
        auto n = std::make_unique<ocv_dnn>();   // freed if OpenCV throws
        n->net = cv::dnn::readNetFromONNX(onnx_path);
        if (n->net.empty()) {
            set_err(err, errlen, "OpenCV read an empty network");
            return nullptr;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return n.release();
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

#ifdef OCV_WITH_IMGCODECS
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
#endif

extern "C" void ocv_set_threads(int n)
{
    try {
        cv::setNumThreads(n);
    } catch (...) {
    }
}

struct ocv_yunet {
    cv::dnn::Net net;
    std::vector<cv::Mat> outs;
    std::vector<cv::String> names;
};

extern "C" struct ocv_yunet *ocv_yunet_load(const char *path, char *err, size_t errlen)
{
    try {
        quiet_opencv();
        auto y = std::make_unique<ocv_yunet>();   // freed if OpenCV throws
        y->net = cv::dnn::readNetFromONNX(path);
        y->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        y->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        for (int s : {8, 16, 32})
            for (const char *k : {"cls", "obj", "bbox", "kps"})
                y->names.push_back(cv::format("%s_%d", k, s));
        return y.release();
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return nullptr;
}

extern "C" int ocv_yunet_run(struct ocv_yunet *y, const unsigned char *pixels, int width,
                             int height, size_t stride, int channels, double scale,
                             struct ocv_yunet_level out[3], char *err, size_t errlen)
{
    try {
        cv::Mat src(height, width, channels == 3 ? CV_8UC3 : CV_8UC1,
                    const_cast<unsigned char *>(pixels), stride);
        cv::Mat bgr, small;
        if (channels == 1)
            cv::cvtColor(src, bgr, cv::COLOR_GRAY2BGR);
        else
            bgr = src;
        int sw = std::max(1, static_cast<int>(width * scale + 0.5));
        int sh = std::max(1, static_cast<int>(height * scale + 0.5));
        if (sw != width || sh != height)
            cv::resize(bgr, small, cv::Size(sw, sh), 0, 0, cv::INTER_AREA);
        else
            small = bgr;
        int pw = (sw + 31) / 32 * 32, ph = (sh + 31) / 32 * 32;
        cv::Mat padded;
        cv::copyMakeBorder(small, padded, 0, ph - sh, 0, pw - sw, cv::BORDER_CONSTANT);
        // YuNet takes BGR planes, values 0..255, unscaled
        cv::Mat blob = cv::dnn::blobFromImage(padded, 1.0, cv::Size(), cv::Scalar(), false, false);
        y->net.setInput(blob);
        y->net.forward(y->outs, y->names);
        for (int i = 0; i < 3; i++) {
            int s = 8 << i;
            out[i].stride = s;
            out[i].cols = pw / s;
            out[i].rows = ph / s;
            const cv::Mat *m = &y->outs[static_cast<size_t>(i) * 4];
            size_t n = static_cast<size_t>(out[i].cols) * static_cast<size_t>(out[i].rows);
            if (m[0].total() != n || m[1].total() != n || m[2].total() != 4 * n ||
                m[3].total() != 10 * n) {
                set_err(err, errlen, "YuNet outputs do not match the input size (not the 2023 export?)");
                return -1;
            }
            out[i].cls = m[0].ptr<float>();
            out[i].obj = m[1].ptr<float>();
            out[i].bbox = m[2].ptr<float>();
            out[i].kps = m[3].ptr<float>();
        }
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return -1;
}

extern "C" void ocv_yunet_free(struct ocv_yunet *y)
{
    delete y;
}

struct ocv_cascade {
    cv::CascadeClassifier cc;
};

extern "C" struct ocv_cascade *ocv_cascade_load(const char *path, char *err, size_t errlen)
{
    try {
        quiet_opencv();
        auto c = std::make_unique<ocv_cascade>();   // freed if OpenCV throws
        if (!c->cc.load(path)) {
            set_err(err, errlen, "not a readable OpenCV cascade file");
            return nullptr;
        }
        return c.release();
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return nullptr;
}

extern "C" int ocv_cascade_detect(struct ocv_cascade *c, const unsigned char *gray, int width,
                                  int height, size_t stride, double scale, int min_size,
                                  int min_neighbors, struct ocv_rect *out, int max, char *err,
                                  size_t errlen)
{
    try {
        cv::Mat src(height, width, CV_8UC1, const_cast<unsigned char *>(gray), stride), small;
        int sw = std::max(1, static_cast<int>(width * scale + 0.5));
        int sh = std::max(1, static_cast<int>(height * scale + 0.5));
        if (sw != width || sh != height)
            cv::resize(src, small, cv::Size(sw, sh), 0, 0, cv::INTER_AREA);
        else
            small = src;
        // No histogram equalisation: on ../shared/data/faces it found one more of the 18
        // marked faces at full size (15 vs 14) but added a false face on the astronaut
        // portrait, the picture a new user tries first.
        std::vector<cv::Rect> found;
        int ms = std::max(1, static_cast<int>(min_size * scale + 0.5));
        c->cc.detectMultiScale(small, found, 1.1, min_neighbors, 0, cv::Size(ms, ms));
        int n = 0;
        for (const auto &r : found) {
            if (n == max)
                break;
            out[n++] = {static_cast<float>(r.x / scale), static_cast<float>(r.y / scale),
                        static_cast<float>(r.width / scale), static_cast<float>(r.height / scale)};
        }
        return n;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown OpenCV error");
    }
    return -1;
}

extern "C" void ocv_cascade_free(struct ocv_cascade *c)
{
    delete c;
}
