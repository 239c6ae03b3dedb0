/* libFuzzer target: .enn model files through the real loader (enn_model_parse), then a
 * network built from every model that parses (enn_net_create), one inference on a small
 * gray image (enn_net_classify, or enn_net_run for a multi-channel input), every value
 * read back, and everything freed.
 *
 * Two kinds of input:
 *  - A model file ("ENNM..."). Most mutations would die at the payload length or CRC
 *    check, so it is parsed twice: as it is (the header checks themselves), then with
 *    the header's length and CRC fixed up (the payload parser, where the work is).
 *  - A recipe ("ENNR" + bytes): a few bytes per node that this file turns into a valid
 *    model with weights of the right counts (mirroring tests/support/model_builder.c),
 *    then parses like any file. Random bytes rarely make a well-formed graph; recipes
 *    reach the network planner and the kernels with graphs of every shape: long chains
 *    of pools and dense layers, summed inputs, stride 2 on odd sizes, 1-pixel maps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "model.h"
#include "net.h"

/* Inference is skipped above this many multiply-adds (nano-b-quick: 43 M; its shrunk seed: 0.1 M),
 * and for inputs larger than this many floats (the crop alone would dominate); net creation always
 * runs. Mirrored inference (twice the work) only for small models. */
#define MAX_MACS (512u << 10)
#define MAX_INPUT_FLOATS (1u << 16)
#define MIRROR_MACS (128u << 10)
#define ACTIVATION_BUDGET (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct enn_model *m)
{
    char err[256];
    struct enn_net *net;
    if (enn_net_create(m, &net, err, sizeof err) != 0)
        return;
    if (enn_net_model(net) != m || enn_net_memory(net) == 0)
        abort();
    size_t in_floats = (size_t)m->input.c * (size_t)m->input.h * (size_t)m->input.w;
    if (m->n_classes == 0 && m->n_macs <= MAX_MACS && in_floats <= MAX_INPUT_FLOATS) {
        /* a detector: run as planned, then at another size if it may, and read outputs */
        for (int pass = 0; pass < 2; pass++) {
            size_t row, plane;
            float *in = enn_net_input(net, &row, &plane);
            struct enn_shape s = enn_net_input_shape(net);
            for (int c = 0; c < s.c; c++)
                for (int y = 0; y < s.h; y++)
                    for (int x = 0; x < s.w; x++)
                        in[(size_t)c * plane + (size_t)y * row + (size_t)x] = (float)(x ^ y);
            enn_net_forward(net);
            for (int o = 0; o < m->n_outputs; o++) {
                struct enn_view v = enn_net_output(net, o);
                volatile float sink = v.data[0];
                (void)sink;
            }
            if (!m->any_size || enn_net_resize(net, m->input.h / 2 + 1, m->input.w + 3, err,
                                               sizeof err) != 0)
                break;
        }
        if (enn_net_resize(net, m->input.h, m->input.w, err, sizeof err) != 0)
            abort();   /* planned at this size before */
    } else if (m->n_macs <= MAX_MACS && in_floats <= MAX_INPUT_FLOATS) {
        float probs[ENN_MAX_CLASSES], logits[ENN_MAX_CLASSES];
        if (m->input.c == 1) {
            /* the daemon's path: crop, resize, normalise, run (and mirrored) */
            enum { W = 40, H = 32 };
            static uint8_t gray[W * H];
            for (int i = 0; i < W * H; i++)
                gray[i] = (uint8_t)(i * 7 + (i / W) * 13);
            struct enn_box boxes[2] = {{4, 3, 30, 26, 0}, {-5, 10, 20, 40, 0.3f}};
            float two[2 * ENN_MAX_CLASSES];
            enn_net_set_mirror(net, m->n_macs <= MIRROR_MACS);
            enn_net_classify(net, gray, W, H, W, boxes, 2, two);
            memcpy(probs, two, sizeof probs);
        } else {
            float *in = malloc(in_floats * sizeof *in);
            if (!in)
                abort();
            for (size_t i = 0; i < in_floats; i++)
                in[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
            enn_net_run(net, in, logits, probs);
            free(in);
        }
        /* every value of a run can be read back once the net keeps them */
        if (enn_net_keep_values(net, err, sizeof err) != 0)
            abort();   /* the same size planned before: only memory could fail */
        size_t most = 0;
        for (int id = 0; id <= m->n_nodes; id++) {
            struct enn_shape s = enn_model_value_shape(m, id);
            size_t n = (size_t)s.c * (size_t)s.h * (size_t)s.w;
            most = n > most ? n : most;
        }
        float *v = malloc(most * sizeof *v);
        if (!v)
            abort();
        for (int id = 0; id <= m->n_nodes; id++)
            enn_net_value(net, id, v);
        free(v);
    }
    enn_net_free(net);
}

static void parse(const uint8_t *data, size_t size)
{
    char err[256];
    memset(err, 'x', sizeof err);
    struct enn_model *m;
    if (enn_model_parse(data, size, &m, err, sizeof err) != 0) {
        if (m != NULL || memchr(err, 0, sizeof err) == NULL)
            abort(); /* a failure leaves no model and a terminated message */
        return;
    }
    /* docs/model-format.md: the values of a model the loader accepts fit a budget of
       64 Mi floats, counted with their one-pixel borders */
    size_t floats = 0;
    for (int id = 0; id <= m->n_nodes; id++) {
        struct enn_shape s = enn_model_value_shape(m, id);
        floats += (size_t)s.c * (size_t)(s.h + 2) * (size_t)(s.w + 2);
    }
    if (floats > ACTIVATION_BUDGET) {
        fprintf(stderr, "fuzz_model: the loader accepted %zu activation floats (budget %u)\n",
                floats, ACTIVATION_BUDGET);
        abort();
    }
    exercise(m);
    enn_model_free(m);
}

/* ---- recipes ------------------------------------------------------------------------ */

#define RECIPE_MAX_NODES 96
#define RECIPE_MAX_BYTES (128u << 10) /* no more nodes once the weights take this much */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u8(struct buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void put_u16(struct buf *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_str(struct buf *b, const char *s)
{
    put_u16(b, (unsigned)strlen(s));
    put(b, s, strlen(s));
}
static void put_tensor(struct buf *b, size_t n, uint32_t *rng)
{
    put_u8(b, 0); /* f32 */
    put_u8(b, 0), put_u8(b, 0), put_u8(b, 0);
    put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        *rng = *rng * 1664525u + 1013904223u;
        float v = (float)(int)(*rng >> 24) / 256.0f - 0.5f;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        put_u32(b, bits);
    }
}

struct reader {
    const uint8_t *p;
    size_t len, off;
};

static unsigned next(struct reader *r)
{
    return r->off < r->len ? r->p[r->off++] : 0;
}

/* Picks inputs for a node reading value `first`: up to three more earlier values of the
 * same shape, as the recipe asks. */
static int pick_inputs(struct reader *r, const struct enn_shape *shapes, int n_values, int first,
                       int *ins)
{
    int n = 1;
    ins[0] = first;
    unsigned extra = next(r) % 4;
    for (int id = 0; id < n_values && n <= (int)extra; id++) {
        const struct enn_shape *s = &shapes[id];
        if (id != first && s->c == shapes[first].c && s->h == shapes[first].h &&
            s->w == shapes[first].w)
            ins[n++] = id;
    }
    return n;
}

static void node_head(struct buf *b, unsigned op, bool relu, const int *ins, int n_in)
{
    put_u8(b, op);
    put_u8(b, relu ? 1 : 0);
    put_u16(b, (unsigned)n_in);
    for (int i = 0; i < n_in; i++)
        put_u16(b, (unsigned)ins[i]);
}

/* Builds a valid model from a recipe: header bytes (channels, height, width), then per
 * node an op byte (conv / pool / dense, and which value it reads), a parameter byte
 * (kernel, stride, channels, ReLU) and how many same-shape values to sum in.
 * Returns the file, or NULL when the recipe is empty. */
static uint8_t *build_recipe(const uint8_t *data, size_t size, size_t *out_len)
{
    struct reader r = {data, size, 0};
    struct enn_shape shapes[RECIPE_MAX_NODES + 5]; /* a turn adds <= 2, the end 2 */
    unsigned cb = next(&r), hb = next(&r), wb = next(&r);
    int c = cb >= 0xF8 ? 64 - (int)(cb - 0xF8) : 1 + (int)(cb % 4); /* at times up to 64 */
    int h = 2 + (int)(hb % 40), w = 2 + (int)(wb % 40);
    /* now and then the largest side allowed, one side only and with few channels: more
       makes values of hundreds of MB, and every input would spend its time in memset */
    if (c <= 4 && hb == 255)
        h = 1024;
    else if (c <= 4 && wb == 255)
        w = 1023;
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)size;
    struct buf nodes = {0};
    int n = 0;
    shapes[0] = (struct enn_shape){c, h, w};
    while (r.off < r.len && n < RECIPE_MAX_NODES && nodes.len < RECIPE_MAX_BYTES) {
        unsigned op = next(&r), arg = next(&r);
        int from = n - (int)((op >> 2) % 4); /* mostly the last value */
        from = from < 0 ? 0 : from;
        struct enn_shape in = shapes[from];
        bool spatial = in.h > 1 || in.w > 1;
        int ins[ENN_MAX_INPUTS], n_in = pick_inputs(&r, shapes, n + 1, from, ins);
        struct enn_shape out;
        switch ((op & 3) % 3) { /* 0, 3: conv; 1: pool; 2: dense */
        case 0:                 /* conv, or dense on a vector */
            if (spatial) {
                int k = arg & 1 ? 3 : 1, s = arg & 2 ? 2 : 1, oc = 1 + (int)(arg >> 2) % 20;
                node_head(&nodes, 1, arg & 0x80, ins, n_in);
                put_u16(&nodes, (unsigned)oc);
                put_u8(&nodes, (unsigned)k);
                put_u8(&nodes, (unsigned)s);
                put_tensor(&nodes, (size_t)oc * (size_t)in.c * (size_t)(k * k), &rng);
                put_tensor(&nodes, (size_t)oc, &rng);
                out = (struct enn_shape){oc, (in.h + 2 * (k / 2) - k) / s + 1,
                                         (in.w + 2 * (k / 2) - k) / s + 1};
                break;
            }
            /* fall through */
        case 2: /* dense (a vector first, if need be) */
            if (spatial) {
                node_head(&nodes, 2, false, ins, n_in);
                shapes[++n] = (struct enn_shape){in.c, 1, 1};
                ins[0] = n;
                n_in = 1;
                in = shapes[n];
            }
            {
                int oc = 1 + (int)(arg % 20);
                node_head(&nodes, 3, arg & 0x80, ins, n_in);
                put_u16(&nodes, (unsigned)oc);
                put_tensor(&nodes, (size_t)oc * (size_t)in.c, &rng);
                put_tensor(&nodes, (size_t)oc, &rng);
                out = (struct enn_shape){oc, 1, 1};
            }
            break;
        default: /* global average pool */
            node_head(&nodes, 2, false, ins, n_in);
            out = (struct enn_shape){in.c, 1, 1};
            break;
        }
        shapes[++n] = out;
    }
    if (n == 0) {
        free(nodes.p);
        return NULL;
    }
    /* the last node must give one value per class: pool and classify if it does not */
    struct enn_shape last = shapes[n];
    if (last.h != 1 || last.w != 1) {
        int in1[1] = {n};
        node_head(&nodes, 2, false, in1, 1);
        shapes[++n] = (struct enn_shape){last.c, 1, 1};
        last = shapes[n];
    }
    if (last.c > ENN_MAX_CLASSES) {
        int in1[1] = {n};
        node_head(&nodes, 3, false, in1, 1);
        put_u16(&nodes, 7);
        put_tensor(&nodes, (size_t)7 * (size_t)last.c, &rng);
        put_tensor(&nodes, 7, &rng);
        shapes[++n] = last = (struct enn_shape){7, 1, 1};
    }

    struct buf b = {0};
    put(&b, "ENNM", 4);
    put_u16(&b, 1), put_u16(&b, 0), put_u32(&b, 0), put_u32(&b, 0);
    put_str(&b, "recipe");
    put_u16(&b, (unsigned)c), put_u16(&b, (unsigned)h), put_u16(&b, (unsigned)w);
    float mean = 0.5f, std = 0.25f;
    uint32_t bits;
    memcpy(&bits, &mean, 4), put_u32(&b, bits);
    memcpy(&bits, &std, 4), put_u32(&b, bits);
    put_u16(&b, (unsigned)last.c);
    for (int i = 0; i < last.c; i++) { /* "a", "b", ... "z", "aa", "ab", ... */
        char name[3] = {(char)('a' + i % 26), 0, 0};
        if (i >= 26)
            name[0] = (char)('a' + i / 26 - 1), name[1] = (char)('a' + i % 26);
        put_str(&b, name);
    }
    put_u16(&b, (unsigned)n);
    put(&b, nodes.p, nodes.len);
    free(nodes.p);
    uint32_t len = (uint32_t)(b.len - 16), crc = enn_crc32(b.p + 16, b.len - 16);
    for (int i = 0; i < 4; i++) {
        b.p[8 + i] = (uint8_t)(len >> (8 * i));
        b.p[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    *out_len = b.len;
    return b.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "ENNR", 4) == 0) {
        size_t len;
        uint8_t *model = build_recipe(data + 4, size - 4, &len);
        if (model) {
            parse(model, len);
            free(model);
        }
        return 0;
    }
    /* Parse a private copy, exactly sized, so a read past the end is caught even for
       bytes libFuzzer's own buffer would tolerate. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    parse(copy, size);
    if (size >= 16 && memcmp(copy, "ENNM", 4) == 0) {
        uint32_t len = (uint32_t)(size - 16), crc = enn_crc32(copy + 16, size - 16);
        uint8_t fixed[8] = {(uint8_t)len,         (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                            (uint8_t)(len >> 24), (uint8_t)crc,        (uint8_t)(crc >> 8),
                            (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
        if (memcmp(copy + 8, fixed, 8) != 0) {
            memcpy(copy + 8, fixed, 8);
            parse(copy, size);
        }
    }
    free(copy);
    return 0;
}
