/* Whole networks: logits match PyTorch's on fixed inputs for every kernel set; no heap
 * allocation per inference; batch and single calls agree. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "model_builder.h"
#include "net.h"

static const char *const ISAS[] = {"scalar", "avx2", "avx512vnni", "neon", "neon-dot"};

/* Allocation counter: the engine is linked with --wrap for these. */
static int counting, allocations;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t s);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n)
{
    allocations += counting;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t s)
{
    allocations += counting;
    return __real_calloc(n, s);
}
void *__wrap_realloc(void *p, size_t n)
{
    allocations += counting;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    allocations += counting;
    return __real_aligned_alloc(a, n);
}

static struct enn_model *load(const char *name)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    struct enn_model *m;
    if (enn_model_load(path, &m, err, sizeof err))
        fail_msg("%s", err);
    return m;
}

static void check_golden(const char *model_name, const char *golden_name)
{
    struct enn_model *m = load(model_name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, golden_name);
    size_t len;
    uint8_t *g = read_file(path, &len);
    assert_non_null(g);
    uint32_t hdr[3];
    memcpy(hdr, g, sizeof hdr);
    uint32_t n = hdr[0], in_n = hdr[1], classes = hdr[2];
    assert_int_equal(classes, (uint32_t)m->n_classes);
    assert_int_equal(len, 12 + (size_t)n * (in_n + classes) * 4);
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        if (!enn_kernels_get(ISAS[s]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        char err[256];
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s", err);
        for (uint32_t i = 0; i < n; i++) {
            float input[48 * 48], want[64], got[64];
            const uint8_t *rec = g + 12 + (size_t)i * (in_n + classes) * 4;
            memcpy(input, rec, in_n * 4);
            memcpy(want, rec + in_n * 4, classes * 4);
            enn_net_run(net, input, got, NULL);
            for (uint32_t c = 0; c < classes; c++) {
                float tol = 1e-4f * (fabsf(want[c]) > 1 ? fabsf(want[c]) : 1);
                if (!(fabsf(got[c] - want[c]) <= tol))
                    fail_msg("%s on %s, input %u, class %u: logit %.6f, PyTorch %.6f",
                             model_name, ISAS[s], i, c, got[c], want[c]);
            }
        }
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    free(g);
    enn_model_free(m);
}

static void test_random_recon_matches_pytorch(void **state)
{
    (void)state;
    check_golden("random-recon.enn", "random-recon.golden");
}

static void test_trained_nano_b_matches_pytorch(void **state)
{
    (void)state;
    check_golden("nano-b-quick.enn", "nano-b-quick.golden");
}

static void test_no_allocation_per_inference(void **state)
{
    (void)state;
    struct enn_model *m = load("nano-b-quick.enn");
    struct enn_net *net;
    char err[256];
    assert_int_equal(enn_net_create(m, &net, err, sizeof err), 0);
    static uint8_t frame[240 * 320];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(i * 7);
    struct enn_box boxes[3] = {{10, 10, 100, 100, 0}, {200, 50, 60, 60, 0.2f}, {-20, 180, 90, 90, 0}};
    float probs[3 * 7], input[48 * 48] = {0};
    allocations = 0;
    counting = 1;
    enn_net_run(net, input, NULL, probs);
    enn_net_classify(net, frame, 320, 240, 320, boxes, 3, probs);
    counting = 0;
    assert_int_equal(allocations, 0);
    for (int i = 0; i < 3; i++) {
        float sum = 0;
        for (int c = 0; c < 7; c++)
            sum += probs[i * 7 + c];
        assert_true(fabsf(sum - 1) < 1e-5f);
    }
    enn_net_free(net);
    enn_model_free(m);
}

/* Vector-shaped values after pooling, sizes not multiples of 16: the arena used to be
 * sized from unrounded sizes while carving rounded each one up, so six chained pools
 * wrote past its end (ASan: heap overflow). The result is also checked by hand. */
static void test_many_small_vectors(void **state)
{
    (void)state;
    static const char *const classes[] = {"anger", "happiness", "neutral"};
    float conv_w[5 * 9], conv_b[5], d1_w[7 * 5], d1_b[7], d2_w[3 * 7], d2_b[3];
    for (int i = 0; i < 5 * 9; i++)
        conv_w[i] = (float)(i % 9 == 4);          /* centre tap only: out = in * 1 */
    for (int i = 0; i < 5; i++)
        conv_b[i] = (float)i;
    for (int i = 0; i < 7 * 5; i++)
        d1_w[i] = (float)(i % 5 == i / 5 % 5);
    for (int i = 0; i < 7; i++)
        d1_b[i] = 0.5f;
    for (int i = 0; i < 3 * 7; i++)
        d2_w[i] = i / 7 == 0 ? 1.0f : 0.0f;
    d2_b[0] = 0, d2_b[1] = 1, d2_b[2] = -1;
    struct mb b;
    mb_begin(&b, "pools", 1, 8, 8, 3, classes);
    mb_conv(&b, (int[]){0}, 1, 1, 5, 3, 1, 0, conv_w, conv_b);
    for (int p = 0; p < 6; p++)
        mb_gap(&b, (int[]){1 + p}, 1);
    mb_dense(&b, 7, 5, 7, d1_w, d1_b);
    mb_dense(&b, 8, 7, 3, d2_w, d2_b);
    mb_finish(&b);
    struct enn_model *m;
    char err[256];
    if (enn_model_parse(b.data, b.len, &m, err, sizeof err))
        fail_msg("%s", err);
    mb_free(&b);
    float input[64], logits[3];
    for (int i = 0; i < 64; i++)
        input[i] = 2.0f;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        if (!enn_kernels_get(ISAS[s]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s", err);
        enn_net_run(net, input, logits, NULL);
        /* pooled channel c = 2 + c; dense 1 row r = channel r % 5 + 0.5; dense 2 row 0
         * sums them: 2.5+3.5+4.5+5.5+6.5 + 2.5+3.5 = 28.5 */
        assert_float_equal(logits[0], 28.5f, 1e-4f);
        assert_float_equal(logits[1], 1.0f, 1e-6f);
        assert_float_equal(logits[2], -1.0f, 1e-6f);
        uint8_t frame[32 * 32] = {0};
        struct enn_box box = {4, 4, 20, 20, 0};
        float probs[3];
        enn_net_classify(net, frame, 32, 32, 32, &box, 1, probs);
        enn_net_free(net);
    }
    unsetenv("EMOTIOND_ISA");
    enn_model_free(m);
}

static void test_batch_equals_single_and_contexts_independent(void **state)
{
    (void)state;
    struct enn_model *m = load("nano-b-quick.enn");
    struct enn_net *a, *b;
    char err[256];
    assert_int_equal(enn_net_create(m, &a, err, sizeof err), 0);
    assert_int_equal(enn_net_create(m, &b, err, sizeof err), 0);
    static uint8_t frame[120 * 160];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)((i * 13) ^ (i >> 5));
    struct enn_box boxes[2] = {{0, 0, 64, 64, 0}, {80, 30, 70, 70, -0.1f}};
    float batch[2 * 7], one[7];
    enn_net_classify(a, frame, 160, 120, 160, boxes, 2, batch);
    enn_net_classify(b, frame, 160, 120, 160, &boxes[1], 1, one);
    assert_memory_equal(one, batch + 7, sizeof one);
    enn_net_classify(a, frame, 160, 120, 160, &boxes[0], 1, one);
    assert_memory_equal(one, batch, sizeof one);
    enn_net_free(a);
    enn_net_free(b);
    enn_model_free(m);
}

static void test_mirror_averages_crop_and_its_mirror(void **state)
{
    (void)state;
    struct enn_model *m = load("nano-b-quick.enn");
    struct enn_net *net;
    char err[256];
    assert_int_equal(enn_net_create(m, &net, err, sizeof err), 0);
    assert_false(enn_net_mirror(net));
    /* a 48x48 face-sized image, lit from the left so its mirror differs */
    static uint8_t img[48 * 48], flipped[48 * 48];
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) {
            img[y * 48 + x] = (uint8_t)(255 - 4 * x + ((x * y) % 17));
            flipped[y * 48 + 47 - x] = img[y * 48 + x];
        }
    struct enn_box whole = {0, 0, 48, 48, 0};
    float plain[7], mirrored_img[7], averaged[7];
    enn_net_classify(net, img, 48, 48, 48, &whole, 1, plain);
    enn_net_classify(net, flipped, 48, 48, 48, &whole, 1, mirrored_img);
    enn_net_set_mirror(net, true);
    assert_true(enn_net_mirror(net));
    enn_net_classify(net, img, 48, 48, 48, &whole, 1, averaged);
    float differs = 0, sum = 0;
    for (int c = 0; c < 7; c++) {
        assert_float_equal(averaged[c], 0.5f * (plain[c] + mirrored_img[c]), 1e-6f);
        differs += fabsf(plain[c] - mirrored_img[c]);
        sum += averaged[c];
    }
    assert_true(differs > 1e-3f);
    assert_float_equal(sum, 1.0f, 1e-5f);
    enn_net_set_mirror(net, false);
    float again[7];
    enn_net_classify(net, img, 48, 48, 48, &whole, 1, again);
    assert_memory_equal(again, plain, sizeof again);
    enn_net_free(net);
    enn_model_free(m);
}

/* A plain [c][h][w] reference of version 2's ops, written from the spec. */
struct ref_value {
    int c, h, w;
    float *v;
};

static struct ref_value ref_alloc(int c, int h, int w)
{
    struct ref_value r = {c, h, w, calloc((size_t)c * (size_t)h * (size_t)w, sizeof(float))};
    assert_non_null(r.v);
    return r;
}

static float at(const struct ref_value *r, int c, int y, int x)
{
    if (y < 0 || x < 0 || y >= r->h || x >= r->w)
        return 0;
    return r->v[((size_t)c * (size_t)r->h + (size_t)y) * (size_t)r->w + (size_t)x];
}

static void ref_run(const struct enn_model *m, struct ref_value *vals)
{
    for (int k = 1; k <= m->n_nodes; k++) {
        const struct enn_node *n = &m->nodes[k - 1];
        struct ref_value in = vals[n->inputs[0]];
        in.v = malloc((size_t)in.c * (size_t)in.h * (size_t)in.w * sizeof(float));
        for (size_t i = 0; i < (size_t)in.c * (size_t)in.h * (size_t)in.w; i++) {
            in.v[i] = 0;
            for (int j = 0; j < n->n_inputs; j++)
                in.v[i] += vals[n->inputs[j]].v[i];
        }
        struct ref_value *o = &vals[k];
        if (n->op == ENN_OP_CONV) {
            int pad = n->kernel / 2, oh = (in.h + 2 * pad - n->kernel) / n->stride + 1,
                ow = (in.w + 2 * pad - n->kernel) / n->stride + 1;
            int in_g = in.c / n->groups, out_g = n->out.c / n->groups;
            *o = ref_alloc(n->out.c, oh, ow);
            for (int oc = 0; oc < n->out.c; oc++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++) {
                        double acc = n->bias[oc];
                        for (int ic = 0; ic < in_g; ic++)
                            for (int ky = 0; ky < n->kernel; ky++)
                                for (int kx = 0; kx < n->kernel; kx++)
                                    acc += n->weights[(((size_t)oc * (size_t)in_g + (size_t)ic) *
                                                       (size_t)n->kernel + (size_t)ky) *
                                                          (size_t)n->kernel + (size_t)kx] *
                                           at(&in, oc / out_g * in_g + ic,
                                              y * n->stride + ky - pad, x * n->stride + kx - pad);
                        if (n->relu && acc < 0)
                            acc = 0;
                        if (n->sigmoid)
                            acc = 1 / (1 + exp(-acc));
                        o->v[((size_t)oc * (size_t)oh + (size_t)y) * (size_t)ow + (size_t)x] =
                            (float)acc;
                    }
        } else if (n->op == ENN_OP_MAXPOOL || n->op == ENN_OP_UPSAMPLE) {
            bool pool = n->op == ENN_OP_MAXPOOL;
            *o = ref_alloc(in.c, pool ? in.h / 2 : in.h * 2, pool ? in.w / 2 : in.w * 2);
            for (int c = 0; c < o->c; c++)
                for (int y = 0; y < o->h; y++)
                    for (int x = 0; x < o->w; x++) {
                        float v = pool ? fmaxf(fmaxf(at(&in, c, 2 * y, 2 * x),
                                                     at(&in, c, 2 * y, 2 * x + 1)),
                                               fmaxf(at(&in, c, 2 * y + 1, 2 * x),
                                                     at(&in, c, 2 * y + 1, 2 * x + 1)))
                                       : at(&in, c, y / 2, x / 2);
                        o->v[((size_t)c * (size_t)o->h + (size_t)y) * (size_t)o->w + (size_t)x] = v;
                    }
        } else {
            fail_msg("reference: op %d not covered", n->op);
        }
        free(in.v);
    }
}

/* A small YuNet-like graph: every version 2 op, groups of one channel (depthwise) and of
 * several, a stride-2 conv, a sum across scales, sigmoid heads. */
static void build_detector(struct mb *b)
{
    static float w[16 * 16 * 9], bias[16];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < 16; i++)
        bias[i] = 0.05f * (float)(i % 5) - 0.1f;
    mb_begin_v2(b, "det", 1, 32, 32, 0, NULL);
    mb_conv_g(b, (int[]){0}, 1, 1, 8, 3, 2, 1, 1, w, bias);      /* 1: 8 x H/2 */
    mb_conv_g(b, (int[]){1}, 1, 8, 8, 1, 1, 1, 0, w, bias);      /* 2 */
    mb_conv_g(b, (int[]){2}, 1, 8, 8, 3, 1, 8, 1, w, bias);      /* 3: depthwise */
    mb_maxpool(b, (int[]){3}, 1);                                 /* 4: H/4 */
    mb_conv_g(b, (int[]){4}, 1, 8, 16, 3, 1, 2, 1, w, bias);     /* 5: 2 groups */
    mb_maxpool(b, (int[]){5}, 1);                                 /* 6: H/8 */
    mb_conv_g(b, (int[]){6}, 1, 16, 16, 3, 1, 16, 1, w, bias);   /* 7: depthwise */
    mb_upsample(b, (int[]){7}, 1);                                /* 8: H/4 */
    mb_conv_g(b, (int[]){8, 5}, 2, 16, 16, 1, 1, 1, 1, w, bias); /* 9: on the sum */
    mb_conv_g(b, (int[]){9}, 1, 16, 1, 1, 1, 1, 2, w, bias);     /* 10: sigmoid */
    mb_conv_g(b, (int[]){7}, 1, 16, 4, 3, 2, 4, 0, w, bias);     /* 11: grouped, s2 */
    mb_conv_g(b, (int[]){5}, 1, 16, 4, 3, 1, 1, 2, w, bias);     /* 12: sigmoid 3x3 */
    mb_outputs(b, 3, (const char *const[]){"cls", "box", "obj"}, (int[]){10, 11, 12});
    mb_finish(b);
}

static void fill_input(struct enn_net *net, struct ref_value *ref, unsigned seed)
{
    struct enn_shape s = enn_net_input_shape(net);
    *ref = ref_alloc(s.c, s.h, s.w);
    size_t row, plane;
    float *in = enn_net_input(net, &row, &plane);
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++) {
                float v = (float)((unsigned)(y * 131 + x * 17 + c) * seed % 256);
                in[(size_t)c * plane + (size_t)y * row + (size_t)x] = v / 64.0f - 2;
                ref->v[((size_t)c * (size_t)s.h + (size_t)y) * (size_t)s.w + (size_t)x] =
                    v / 64.0f - 2;
            }
}

static void expect_outputs(struct enn_net *net, const struct enn_model *m, unsigned seed,
                           const char *isa)
{
    struct ref_value *vals = calloc((size_t)m->n_nodes + 1, sizeof *vals);
    fill_input(net, &vals[0], seed);
    allocations = 0;
    counting = 1;
    enn_net_forward(net);
    counting = 0;
    assert_int_equal(allocations, 0);
    ref_run(m, vals);
    for (int o = 0; o < m->n_outputs; o++) {
        struct enn_view v = enn_net_output(net, o);
        const struct ref_value *r = &vals[m->outputs[o].value];
        assert_int_equal(v.s.c, r->c), assert_int_equal(v.s.h, r->h);
        assert_int_equal(v.s.w, r->w);
        for (int c = 0; c < r->c; c++)
            for (int y = 0; y < r->h; y++)
                for (int x = 0; x < r->w; x++) {
                    float got = v.data[(size_t)c * v.plane + (size_t)y * v.row + (size_t)x];
                    float want = at(r, c, y, x);
                    if (!(fabsf(got - want) <= 1e-4f * fmaxf(1, fabsf(want))))
                        fail_msg("%s, %dx%d input, output %s (%d, %d, %d): %.6f, reference %.6f",
                                 isa, vals[0].w, vals[0].h, m->outputs[o].name, c, y, x, got,
                                 want);
                }
    }
    for (int k = 0; k <= m->n_nodes; k++)
        free(vals[k].v);
    free(vals);
}

/* Every version 2 op on every kernel set, at the model's size and others, against the
 * reference; resizing allocates only for a size bigger than any before, and never per
 * run; shared buffers give what private ones give. */
static void test_detector_ops_and_sizes(void **state)
{
    (void)state;
    struct mb b;
    build_detector(&b);
    struct enn_model *m;
    char err[256];
    if (enn_model_parse(b.data, b.len, &m, err, sizeof err))
        fail_msg("%s", err);
    static const int sizes[][2] = {{32, 32}, {64, 96}, {32, 40}, {8, 8}, {64, 96}, {24, 16}};
    int tested = 0;
    for (size_t s = 0; s < sizeof ISAS / sizeof *ISAS; s++) {
        if (!enn_kernels_get(ISAS[s]))
            continue;
        setenv("EMOTIOND_ISA", ISAS[s], 1);
        struct enn_net *net;
        if (enn_net_create(m, &net, err, sizeof err))
            fail_msg("%s", err);
        size_t first_memory = enn_net_memory(net);
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            allocations = 0;
            counting = 1;
            int rc = enn_net_resize(net, sizes[i][0], sizes[i][1], err, sizeof err);
            counting = 0;
            if (rc)
                fail_msg("%s: %s", ISAS[s], err);
            /* {64, 96} is the largest: planned once, then reused by every smaller size */
            assert_int_equal(allocations, i == 1 ? 1 : 0);
            expect_outputs(net, m, 7 + (unsigned)i, ISAS[s]);
        }
        assert_true(enn_net_memory(net) > first_memory);
        /* a size the graph cannot take leaves the plan as it was */
        assert_int_equal(enn_net_resize(net, 36, 32, err, sizeof err), -1);
        assert_non_null(strstr(err, "differ in shape"));
        expect_outputs(net, m, 3, ISAS[s]);
        /* private buffers per value: the same outputs, and every value readable */
        assert_int_equal(enn_net_keep_values(net, err, sizeof err), 0);
        expect_outputs(net, m, 5, ISAS[s]);
        enn_net_free(net);
        tested++;
    }
    unsetenv("EMOTIOND_ISA");
    assert_true(tested >= 1);
    enn_model_free(m);
    mb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_recon_matches_pytorch),
        cmocka_unit_test(test_trained_nano_b_matches_pytorch),
        cmocka_unit_test(test_no_allocation_per_inference),
        cmocka_unit_test(test_many_small_vectors),
        cmocka_unit_test(test_batch_equals_single_and_contexts_independent),
        cmocka_unit_test(test_mirror_averages_crop_and_its_mirror),
        cmocka_unit_test(test_detector_ops_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
