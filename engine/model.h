/* Model files (.enn): parsing and validation. Version 1 holds classifiers (EmotionNet
 * Nano); version 2 adds grouped convolution, max pooling, nearest upsampling, sigmoid and
 * named outputs, enough for detectors such as YuNet; version 2.1 adds int8 models.
 *
 * A model is a graph of nodes in topological order. Node inputs name earlier values
 * (0 is the network input, k is node k, counting from 1); several inputs are summed
 * element-wise before the node runs. The format is specified in docs/model-format.md.
 * Every check happens here, so the inference code can trust what it gets. */
#ifndef EMOTIOND_MODEL_H
#define EMOTIOND_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENN_MAX_INPUTS 16
#define ENN_MAX_CLASSES 64
#define ENN_MAX_CLASS_NAME 32
#define ENN_MAX_MODEL_NAME 128
#define ENN_MAX_NODES 1024
#define ENN_MAX_OUTPUTS 16
#define ENN_MAX_OUTPUT_NAME 32
/* Largest input side a fully convolutional model may be planned for (enn_model_shapes). */
#define ENN_MAX_PLAN_DIM 4096

enum enn_op {
    ENN_OP_CONV = 1,
    ENN_OP_GAP = 2,       /* global average pool */
    ENN_OP_DENSE = 3,
    ENN_OP_MAXPOOL = 4,   /* v2: 2x2, stride 2, no padding (floor) */
    ENN_OP_UPSAMPLE = 5,  /* v2: nearest neighbour, x2 */
};

struct enn_shape {
    int c, h, w;
};

enum enn_precision {
    ENN_PRECISION_F32 = 0,
    ENN_PRECISION_INT8 = 1,   /* version 2.1: docs/model-format.md, "Int8 models" */
};

/* What a quantised map's integers q (0..127) mean: scale * (q - zero). */
struct enn_qparam {
    float scale;
    int zero;
};

struct enn_node {
    enum enn_op op;
    bool relu;                    /* activation on the output: at most one of these */
    bool sigmoid;                 /* (v2; conv only) */
    int n_inputs;
    int inputs[ENN_MAX_INPUTS];   /* value ids: 0 = network input, k = node k */
    int kernel, stride;           /* conv (padding kernel / 2) and max pool; upsample:
                                     stride is the factor */
    int groups;                   /* conv: 1 = every input channel feeds every output,
                                     in.c = depthwise */
    struct enn_shape in, out;     /* at the model's own input size */
    const float *weights;         /* conv: [out.c][in.c / groups][k][k]; dense:
                                     [out.c][in.c]; NULL for an int8 model's conv */
    const float *bias;            /* [out.c] */
    /* int8 models' convs: weights as above, one scale per output channel, int32 bias */
    const int8_t *qweights;
    const float *wscale;
    const int32_t *qbias;
    struct enn_qparam qsum;       /* int8: the summed input (several inputs; not pool) */
};

/* A named value the caller reads after a run. A classifier's first output is its
 * logits (v1 files: the last node, named "logits"). */
struct enn_output {
    char name[ENN_MAX_OUTPUT_NAME + 1];
    int value;
};

struct enn_model {
    char name[ENN_MAX_MODEL_NAME + 1];
    struct enn_shape input;
    float mean, std;              /* network input = (pixel / 255 - mean) / std */
    int n_classes;                /* 0: not a classifier (a detector, say) */
    char classes[ENN_MAX_CLASSES][ENN_MAX_CLASS_NAME + 1];
    int n_nodes;
    struct enn_node *nodes;       /* nodes[k - 1] is node k */
    int n_outputs;
    struct enn_output outputs[ENN_MAX_OUTPUTS];
    bool any_size;                /* only conv, max pool and upsample: runs at other input
                                     sizes (enn_model_shapes says which) */
    enum enn_precision precision;
    struct enn_qparam *qvalues;   /* int8: [n_nodes + 1], per value (0 = the input) */
    size_t n_params;
    size_t n_macs;
    unsigned version_major, version_minor;
};

/* Parses a model from memory (the data may be freed afterwards). Returns 0, or -1 with
 * a message naming the problem in err. */
int enn_model_parse(const void *data, size_t size, struct enn_model **out,
                    char *err, size_t errlen);
int enn_model_load(const char *path, struct enn_model **out, char *err, size_t errlen);
void enn_model_free(struct enn_model *model);

/* Shape of value id (0 = network input) at the model's own input size. */
struct enn_shape enn_model_value_shape(const struct enn_model *model, int id);

/* Shapes of every value (shapes[0] the input .. shapes[n_nodes]) for an input of
 * height x width, which must be the model's own size unless any_size. Returns 0, or -1
 * with a message when the graph does not fit that size (summed inputs that differ, a map
 * pooled away, a value over the activation budget). */
int enn_model_shapes(const struct enn_model *model, int height, int width,
                     struct enn_shape *shapes, char *err, size_t errlen);

/* Whether value id is a vector (the output of pooling or dense) rather than a map. A 1x1
 * map and a vector have one shape but two layouts. */
bool enn_model_is_vector(const struct enn_model *model, int id);

/* Whether value id is held in float: every value of a float32 model; in an int8 model
 * the vectors and the maps that are outputs (docs/model-format.md, "Int8 models"). */
bool enn_model_value_is_float(const struct enn_model *model, int id);
/* Whether node k (1-based) of an int8 model requantises its summed inputs (qsum). */
bool enn_model_has_qsum(const struct enn_model *model, int k);

/* "fp32" or "int8" (the config's words), and back (-1 when neither). */
const char *enn_precision_name(enum enn_precision p);
int enn_precision_parse(const char *name);
/* The file of a shipped model at a precision: int8 "X.enn" -> "X-int8.enn" (a path that
 * already names an -int8 file stays); fp32 keeps the path. Returns 0, or -1 when out is
 * too small. */
int enn_model_precision_path(const char *path, enum enn_precision p, char *out,
                             size_t outlen);

/* Index of the output called name, or -1. */
int enn_model_output(const struct enn_model *model, const char *name);

#endif
