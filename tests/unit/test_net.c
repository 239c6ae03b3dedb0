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

static const char *const ISAS[] = {"scalar", "avx2", "neon"};

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_recon_matches_pytorch),
        cmocka_unit_test(test_trained_nano_b_matches_pytorch),
        cmocka_unit_test(test_no_allocation_per_inference),
        cmocka_unit_test(test_many_small_vectors),
        cmocka_unit_test(test_batch_equals_single_and_contexts_independent),
        cmocka_unit_test(test_mirror_averages_crop_and_its_mirror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
