/* EmotionNet Nano model files (.enn): parsing and validation.
 *
 * A model is a graph of nodes in topological order. Node inputs name earlier values
 * (0 is the network input, k is node k, counting from 1); several inputs are summed
 * element-wise before the node runs. The format is specified in docs/model-format.md.
 * Every check happens here, so the inference code can trust what it gets. */
#ifndef EMOTIOND_MODEL_H
#define EMOTIOND_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define ENN_MAX_INPUTS 16
#define ENN_MAX_CLASSES 64
#define ENN_MAX_CLASS_NAME 32
#define ENN_MAX_MODEL_NAME 128

enum enn_op { ENN_OP_CONV = 1, ENN_OP_GAP = 2, ENN_OP_DENSE = 3 };

struct enn_shape {
    int c, h, w;
};

struct enn_node {
    enum enn_op op;
    bool relu;
    int n_inputs;
    int inputs[ENN_MAX_INPUTS];   /* value ids: 0 = network input, k = node k */
    int kernel, stride;           /* conv only; padding is kernel / 2 */
    struct enn_shape in, out;
    const float *weights;         /* conv: [out.c][in.c][k][k]; dense: [out.c][in.c] */
    const float *bias;            /* [out.c] */
};

struct enn_model {
    char name[ENN_MAX_MODEL_NAME + 1];
    struct enn_shape input;
    float mean, std;              /* network input = (pixel / 255 - mean) / std */
    int n_classes;
    char classes[ENN_MAX_CLASSES][ENN_MAX_CLASS_NAME + 1];
    int n_nodes;
    struct enn_node *nodes;       /* nodes[k - 1] is node k */
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

/* Shape of value id (0 = network input). */
struct enn_shape enn_model_value_shape(const struct enn_model *model, int id);

#endif
