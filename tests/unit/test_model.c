/* Model file loader: good files load; every kind of damage is rejected with a message
 * naming it, and never read out of bounds (run under ASan). */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "model_builder.h"

static const char *const CLASSES[] = {"anger", "happiness", "neutral"};

/* input 1x8x8 -> conv 3x3/4 -> conv 3x3/4 s2 on (1+1) -> gap -> dense 3 */
static void tiny(struct mb *b)
{
    float w[4 * 4 * 9], bias[4] = {0};
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = (float)i / 100.0f;
    mb_begin(b, "tiny", 1, 8, 8, 3, CLASSES);
    mb_conv(b, (int[]){0}, 1, 1, 4, 3, 1, 1, w, bias);
    mb_conv(b, (int[]){1, 1}, 2, 4, 4, 3, 2, 1, w, bias);
    mb_gap(b, (int[]){2}, 1);
    mb_dense(b, 3, 4, 3, w, bias);
    mb_finish(b);
}

/* Version 2, a small detector: input 1x16x16 -> conv 3x3 s2 /4 relu -> depthwise 3x3
 * relu -> max pool -> conv 1x1 /4 in 2 groups -> upsample -> conv 1x1 /2 sigmoid on the
 * sum of the upsampled map and node 2. Outputs "score" (node 6) and "feat" (node 4). */
static void detector(struct mb *b)
{
    static float w[64 * 9], bias[16];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    mb_begin_v2(b, "det", 1, 16, 16, 0, NULL);
    mb_conv_g(b, (int[]){0}, 1, 1, 4, 3, 2, 1, 1, w, bias);     /* 1: 4x8x8 */
    mb_conv_g(b, (int[]){1}, 1, 4, 4, 3, 1, 4, 1, w, bias);     /* 2: depthwise */
    mb_maxpool(b, (int[]){2}, 1);                                /* 3: 4x4x4 */
    mb_conv_g(b, (int[]){3}, 1, 4, 4, 1, 1, 2, 0, w, bias);     /* 4: grouped 1x1 */
    mb_upsample(b, (int[]){4}, 1);                               /* 5: 4x8x8 */
    mb_conv_g(b, (int[]){5, 2}, 2, 4, 2, 1, 1, 1, 2, w, bias);  /* 6: sigmoid */
    mb_outputs(b, 2, (const char *const[]){"score", "feat"}, (int[]){6, 4});
    mb_finish(b);
}

static int parse(const uint8_t *d, size_t n, char *err)
{
    struct enn_model *m = NULL;
    int rc = enn_model_parse(d, n, &m, err, 256);
    enn_model_free(m);
    return rc;
}

static void expect_error(const uint8_t *d, size_t n, const char *needle)
{
    char err[256] = "";
    assert_int_equal(parse(d, n, err), -1);
    if (!strstr(err, needle)) {
        fail_msg("error '%s' does not mention '%s'", err, needle);
    }
}

static void test_tiny_model_loads(void **state)
{
    (void)state;
    struct mb b;
    tiny(&b);
    struct enn_model *m;
    char err[256];
    assert_int_equal(enn_model_parse(b.data, b.len, &m, err, sizeof err), 0);
    assert_string_equal(m->name, "tiny");
    assert_int_equal(m->n_classes, 3);
    assert_string_equal(m->classes[2], "neutral");
    assert_int_equal(m->n_nodes, 4);
    assert_int_equal(m->nodes[1].out.h, 4);
    assert_int_equal(m->nodes[1].out.w, 4);
    assert_int_equal(m->nodes[1].n_inputs, 2);
    assert_int_equal(m->n_params, (4 * 9 + 4) + (4 * 4 * 9 + 4) + (3 * 4 + 3));
    enn_model_free(m);
    mb_free(&b);
}

static void test_fixture_models_load(void **state)
{
    (void)state;
    const char *names[] = {"random-recon.enn", "nano-b-quick.enn"};
    const size_t params[] = {141098, 135333};
    for (int i = 0; i < 2; i++) {
        char path[512], err[512];
        snprintf(path, sizeof path, "%s/%s", FIXTURES, names[i]);
        struct enn_model *m;
        if (enn_model_load(path, &m, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_int_equal(m->n_params, params[i]);
        assert_int_equal(m->n_classes, 7);
        assert_string_equal(m->classes[4], "happiness");
        assert_int_equal(m->input.w, 48);
        enn_model_free(m);
    }
}

static void test_missing_file_named(void **state)
{
    (void)state;
    struct enn_model *m;
    char err[256];
    assert_int_equal(enn_model_load("/nonexistent/x.enn", &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.enn"));
    assert_null(m);
}

static void test_version2_detector_loads(void **state)
{
    (void)state;
    struct mb b;
    detector(&b);
    struct enn_model *m;
    char err[256];
    if (enn_model_parse(b.data, b.len, &m, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(m->version_major, 2);
    assert_int_equal(m->n_classes, 0);
    assert_int_equal(m->n_nodes, 6);
    assert_true(m->any_size);
    assert_int_equal(m->nodes[1].groups, 4);
    assert_true(m->nodes[5].sigmoid);
    assert_int_equal(m->n_outputs, 2);
    assert_int_equal(enn_model_output(m, "feat"), 1);
    assert_int_equal(enn_model_output(m, "nothing"), -1);
    assert_int_equal(m->outputs[0].value, 6);
    struct enn_shape s = enn_model_value_shape(m, 6);
    assert_int_equal(s.c, 2), assert_int_equal(s.h, 8), assert_int_equal(s.w, 8);
    /* weights: 36 + 36 + 8 + 8, biases 4 + 4 + 4 + 2 */
    assert_int_equal(m->n_params, 102);

    struct enn_shape shapes[7];
    assert_int_equal(enn_model_shapes(m, 32, 48, shapes, err, sizeof err), 0);
    assert_int_equal(shapes[6].h, 16), assert_int_equal(shapes[6].w, 24);
    assert_int_equal(shapes[3].h, 8), assert_int_equal(shapes[3].w, 12);
    /* 18 -> 9 -> pooled 4 -> upsampled 8: no longer the 9 it is summed with */
    assert_int_equal(enn_model_shapes(m, 18, 16, shapes, err, sizeof err), -1);
    assert_non_null(strstr(err, "differ in shape"));
    assert_int_equal(enn_model_shapes(m, 2, 16, shapes, err, sizeof err), -1);
    assert_non_null(strstr(err, "leaves nothing"));
    assert_int_equal(enn_model_shapes(m, 0, 16, shapes, err, sizeof err), -1);
    assert_int_equal(enn_model_shapes(m, 16, 5000, shapes, err, sizeof err), -1);
    assert_non_null(strstr(err, "input size"));
    enn_model_free(m);

    /* cut anywhere, resealed or not, and damaged anywhere: an error, never a crash */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, b.data, cut);
        assert_int_equal(parse(copy, cut, err), -1);
        if (cut >= 16) {
            mb_reseal(copy, cut);
            assert_int_equal(parse(copy, cut, err), -1);
        }
        free(copy);
    }
    for (size_t at = 16; at < b.len; at++)
        for (unsigned v = 0; v < 256; v += 51) {
            uint8_t *copy = malloc(b.len);
            memcpy(copy, b.data, b.len);
            copy[at] = (uint8_t)v;
            mb_reseal(copy, b.len);
            parse(copy, b.len, err);
            free(copy);
        }
    mb_free(&b);

    /* a classifier in version 2: its first output must be the logits */
    static const char *const classes[] = {"a", "b"};
    static float w[8], bias[2];
    mb_begin_v2(&b, "cls", 1, 4, 4, 2, classes);
    mb_gap(&b, (int[]){0}, 1);
    mb_dense(&b, 1, 1, 2, w, bias);
    mb_outputs(&b, 2, (const char *const[]){"logits", "pooled"}, (int[]){2, 1});
    mb_finish(&b);
    if (enn_model_parse(b.data, b.len, &m, err, sizeof err))
        fail_msg("%s", err);
    assert_false(m->any_size);
    assert_int_equal(enn_model_shapes(m, 8, 8, shapes, err, sizeof err), -1);
    assert_non_null(strstr(err, "runs at 4x4 only"));
    enn_model_free(m);
    mb_free(&b);
    mb_begin_v2(&b, "cls", 1, 4, 4, 2, classes);
    mb_gap(&b, (int[]){0}, 1);
    mb_dense(&b, 1, 1, 2, w, bias);
    mb_outputs(&b, 2, (const char *const[]){"pooled", "logits"}, (int[]){1, 2});
    mb_finish(&b);
    expect_error(b.data, b.len, "first output gives 1x1x1 values, expected one per class");
    mb_free(&b);
}

static void test_version2_errors(void **state)
{
    (void)state;
    static float w[64 * 9], bias[16];
    struct mb b;

    mb_begin(&b, "v1", 1, 8, 8, 0, NULL);
    mb_conv(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "0 classes (allowed 1..64)");
    mb_free(&b);

    mb_begin(&b, "v1 pool", 1, 8, 8, 3, CLASSES);
    mb_maxpool(&b, (int[]){0}, 1);
    mb_finish(&b);
    expect_error(b.data, b.len, "a version 2 op in a version 1 file");
    mb_free(&b);

    mb_begin_v2(&b, "groups", 1, 8, 8, 0, NULL);
    mb_conv_g(&b, (int[]){0}, 1, 1, 6, 3, 1, 1, 0, w, bias);
    mb_conv_g(&b, (int[]){1}, 1, 6, 4, 3, 1, 4, 0, w, bias);
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){2});
    mb_finish(&b);
    expect_error(b.data, b.len, "4 groups do not divide 6 input and 4 output channels");
    mb_free(&b);

    mb_begin_v2(&b, "pool3", 1, 8, 8, 0, NULL);
    mb_u8(&b, 4), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0), mb_u8(&b, 3), mb_u8(&b, 2);
    b.n_nodes = 1;
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){1});
    mb_finish(&b);
    expect_error(b.data, b.len, "max pool 3x3 stride 2 (supported: 2x2 stride 2)");
    mb_free(&b);

    mb_begin_v2(&b, "up3", 1, 8, 8, 0, NULL);
    mb_u8(&b, 5), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0), mb_u8(&b, 3);
    b.n_nodes = 1;
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){1});
    mb_finish(&b);
    expect_error(b.data, b.len, "upsample x3");
    mb_free(&b);

    mb_begin_v2(&b, "flags", 1, 8, 8, 0, NULL);
    mb_conv_g(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, 3, w, bias);
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){1});
    mb_finish(&b);
    expect_error(b.data, b.len, "both relu and sigmoid");
    mb_free(&b);

    mb_begin_v2(&b, "pool flag", 1, 8, 8, 0, NULL);
    mb_u8(&b, 4), mb_u8(&b, 1), mb_u16(&b, 1), mb_u16(&b, 0), mb_u8(&b, 2), mb_u8(&b, 2);
    b.n_nodes = 1;
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){1});
    mb_finish(&b);
    expect_error(b.data, b.len, "activation flag on a pooling");
    mb_free(&b);

    const char *bad_names[] = {"Score", "x", "x"};
    const int bad_ids[][2] = {{1, 1}, {0, 1}, {1, 1}};
    const char *needles[] = {"output name 'Score'", "names value 0", "output 'x' listed twice"};
    for (int i = 0; i < 3; i++) {
        mb_begin_v2(&b, "outputs", 1, 8, 8, 0, NULL);
        mb_conv_g(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, 0, w, bias);
        if (i == 0)
            mb_outputs(&b, 1, &bad_names[0], bad_ids[0]);
        else
            mb_outputs(&b, 2, (const char *const[]){"x", bad_names[i]}, bad_ids[i]);
        mb_finish(&b);
        expect_error(b.data, b.len, needles[i]);
        mb_free(&b);
    }

    mb_begin_v2(&b, "no outputs", 1, 8, 8, 0, NULL);
    mb_conv_g(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, 0, w, bias);
    mb_outputs(&b, 0, NULL, NULL);
    mb_finish(&b);
    expect_error(b.data, b.len, "0 outputs");
    mb_free(&b);

    /* a 1x1 map (conv of 2x2, stride 2) and a pooled vector: one shape, two layouts; a
       dense node summing them would read the map's border as its values */
    mb_begin(&b, "mixed", 1, 2, 2, 4, (const char *const[]){"a", "b", "c", "d"});
    mb_conv(&b, (int[]){0}, 1, 1, 4, 3, 2, 0, w, bias);
    mb_gap(&b, (int[]){1}, 1);
    mb_u8(&b, 3), mb_u8(&b, 0), mb_u16(&b, 2), mb_u16(&b, 2), mb_u16(&b, 1);
    mb_u16(&b, 4);
    mb_u8(&b, 0), mb_u8(&b, 0), mb_u16(&b, 0), mb_u32(&b, 16);
    for (int i = 0; i < 16; i++)
        mb_f32(&b, 0);
    mb_u8(&b, 0), mb_u8(&b, 0), mb_u16(&b, 0), mb_u32(&b, 4);
    for (int i = 0; i < 4; i++)
        mb_f32(&b, 0);
    b.n_nodes = 3;
    mb_finish(&b);
    expect_error(b.data, b.len, "sums a pooled vector with a map");
    mb_free(&b);

    mb_begin_v2(&b, "pooled away", 1, 3, 3, 0, NULL);
    mb_maxpool(&b, (int[]){0}, 1);
    mb_maxpool(&b, (int[]){1}, 1);
    mb_outputs(&b, 1, (const char *const[]){"x"}, (int[]){2});
    mb_finish(&b);
    expect_error(b.data, b.len, "leaves nothing");
    mb_free(&b);
}

/* The real model cut at every length. The header's length field rejects these before
 * the payload is read; the resealed cuts below reach the parser's own bounds checks. */
static void test_truncated_at_every_offset(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/nano-b-quick.enn", FIXTURES);
    size_t n;
    uint8_t *d = read_file(path, &n);
    assert_non_null(d);
    for (size_t cut = 0; cut < n; cut++) {
        char err[256];
        assert_int_equal(parse(d, cut, err), -1);
    }
    free(d);
}

/* Truncated and resealed (valid CRC), so the parser itself must notice the shortfall. */
static void test_resealed_truncations(void **state)
{
    (void)state;
    struct mb b;
    tiny(&b);
    for (size_t cut = 16; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut);
        memcpy(copy, b.data, cut);
        mb_reseal(copy, cut);
        char err[256];
        assert_int_equal(parse(copy, cut, err), -1);
        free(copy);
    }
    mb_free(&b);
}

/* Each byte of the payload set to several values, resealed: whatever the parser says,
 * it must not crash or read outside the buffer. */
static void test_resealed_byte_damage(void **state)
{
    (void)state;
    struct mb b;
    tiny(&b);
    const uint8_t values[] = {0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff};
    int rejected = 0;
    for (size_t at = 16; at < b.len; at++) {
        for (size_t v = 0; v < sizeof values; v++) {
            uint8_t *copy = malloc(b.len);
            memcpy(copy, b.data, b.len);
            copy[at] = values[v];
            mb_reseal(copy, b.len);
            char err[256];
            rejected += parse(copy, b.len, err) != 0;
            free(copy);
        }
    }
    assert_true(rejected > 0);
    mb_free(&b);
}

static void test_bad_header(void **state)
{
    (void)state;
    struct mb b;
    tiny(&b);
    uint8_t *d = malloc(b.len + 1);
    memcpy(d, b.data, b.len);
    d[0] = 'X';
    expect_error(d, b.len, "magic");
    memcpy(d, b.data, b.len);
    d[4] = 3;
    expect_error(d, b.len, "version");
    memcpy(d, b.data, b.len);
    d[b.len - 1] ^= 0x40;
    expect_error(d, b.len, "checksum");
    memcpy(d, b.data, b.len);
    d[b.len] = 0;
    expect_error(d, b.len + 1, "trailing");
    expect_error(d, 10, "too short");
    free(d);
    mb_free(&b);
}

static void test_absurd_dims(void **state)
{
    (void)state;
    struct mb b;
    mb_begin(&b, "huge", 1, 60000, 60000, 3, CLASSES);
    mb_finish(&b);
    expect_error(b.data, b.len, "input size");
    mb_free(&b);

    float w = 0;
    mb_begin(&b, "wide", 1, 8, 8, 3, CLASSES);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0);
    mb_u16(&b, 65535), mb_u8(&b, 3), mb_u8(&b, 1);
    mb_f32(&b, w);
    b.n_nodes = 1;
    mb_finish(&b);
    expect_error(b.data, b.len, "output channels");
    mb_free(&b);

    mb_begin(&b, "kernel", 1, 8, 8, 3, CLASSES);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0);
    mb_u16(&b, 4), mb_u8(&b, 7), mb_u8(&b, 1);
    b.n_nodes = 1;
    mb_finish(&b);
    expect_error(b.data, b.len, "kernel 7x7");
    mb_free(&b);

    /* Many wide layers: the activation budget stops it before any allocation. */
    mb_begin(&b, "deep", 1, 1024, 1024, 3, CLASSES);
    for (int i = 0; i < 20; i++) {
        mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, (unsigned)i);
        mb_u16(&b, 4096), mb_u8(&b, 1), mb_u8(&b, 1);
    }
    b.n_nodes = 20;
    mb_finish(&b);
    expect_error(b.data, b.len, "activations exceed");
    mb_free(&b);
}

/* An input over the activation budget on its own: the budget check used to subtract the
 * input's size from the budget and wrap around, letting the model through. */
static void test_input_over_budget(void **state)
{
    (void)state;
    static float w[64 * 3], bias[3];
    struct mb b;
    mb_begin(&b, "vast", 64, 1024, 1024, 3, CLASSES);
    mb_gap(&b, (int[]){0}, 1);
    mb_dense(&b, 1, 64, 3, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "activation budget");
    mb_free(&b);
}

/* Models are read from regular files only: a FIFO would block the loader for ever. */
static void test_fifo_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/enn-fifo-XXXXXX", fifo[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/model.enn", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct enn_model *m;
    assert_int_equal(enn_model_load(fifo, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(m);
    assert_int_equal(enn_model_load("/dev/zero", &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "/dev/zero: not a regular file"));
    unlink(fifo);
    rmdir(dir);
}

static void test_graph_errors(void **state)
{
    (void)state;
    float w[4 * 4 * 9] = {0}, bias[4] = {0};
    struct mb b;
    mb_begin(&b, "later", 1, 8, 8, 3, CLASSES);
    mb_conv(&b, (int[]){1}, 1, 1, 4, 3, 1, 1, w, bias);   /* refers to itself */
    mb_finish(&b);
    expect_error(b.data, b.len, "not an earlier value");
    mb_free(&b);

    mb_begin(&b, "forward", 1, 8, 8, 3, CLASSES);
    mb_conv(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, w, bias);
    mb_conv(&b, (int[]){5}, 1, 4, 4, 3, 1, 1, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "not an earlier value");
    mb_free(&b);

    mb_begin(&b, "shapes", 1, 8, 8, 3, CLASSES);
    mb_conv(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, w, bias);
    mb_conv(&b, (int[]){0, 1}, 2, 1, 4, 3, 1, 1, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "differ in shape");
    mb_free(&b);

    mb_begin(&b, "no head", 1, 8, 8, 3, CLASSES);
    mb_conv(&b, (int[]){0}, 1, 1, 4, 3, 1, 1, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "one per class");
    mb_free(&b);

    mb_begin(&b, "dense on map", 1, 8, 8, 3, CLASSES);
    mb_dense(&b, 0, 1, 3, w, bias);
    mb_finish(&b);
    expect_error(b.data, b.len, "pool it first");
    mb_free(&b);

    mb_begin(&b, "count", 1, 8, 8, 3, CLASSES);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0);
    mb_u16(&b, 4), mb_u8(&b, 3), mb_u8(&b, 1);
    mb_u8(&b, 0), mb_u8(&b, 0), mb_u16(&b, 0), mb_u32(&b, 5);   /* 36 expected */
    for (int i = 0; i < 40; i++)   /* enough bytes, so the count itself is what fails */
        mb_f32(&b, 0);
    b.n_nodes = 1;
    mb_finish(&b);
    expect_error(b.data, b.len, "holds 5 values");
    mb_free(&b);

    mb_begin(&b, "nan", 1, 8, 8, 3, CLASSES);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0);
    mb_u16(&b, 1), mb_u8(&b, 1), mb_u8(&b, 1);
    mb_u8(&b, 0), mb_u8(&b, 0), mb_u16(&b, 0), mb_u32(&b, 1);
    mb_u32(&b, 0x7fc00000u);
    b.n_nodes = 1;
    mb_finish(&b);
    expect_error(b.data, b.len, "not finite");
    mb_free(&b);

    mb_begin(&b, "int8", 1, 8, 8, 3, CLASSES);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 1), mb_u16(&b, 0);
    mb_u16(&b, 1), mb_u8(&b, 1), mb_u8(&b, 1);
    mb_u8(&b, 1), mb_u8(&b, 0), mb_u16(&b, 0), mb_u32(&b, 1);
    b.n_nodes = 1;
    mb_finish(&b);
    expect_error(b.data, b.len, "int8");
    mb_free(&b);
}

static void test_bad_classes(void **state)
{
    (void)state;
    const char *const upper[] = {"Anger", "b", "c"};
    struct mb b;
    mb_begin(&b, "upper", 1, 8, 8, 3, upper);
    mb_finish(&b);
    expect_error(b.data, b.len, "class name 'Anger'");
    mb_free(&b);
    const char *const twice[] = {"anger", "anger", "c"};
    mb_begin(&b, "twice", 1, 8, 8, 3, twice);
    mb_finish(&b);
    expect_error(b.data, b.len, "listed twice");
    mb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_model_loads),
        cmocka_unit_test(test_fixture_models_load),
        cmocka_unit_test(test_missing_file_named),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_resealed_truncations),
        cmocka_unit_test(test_resealed_byte_damage),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_absurd_dims),
        cmocka_unit_test(test_input_over_budget),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_graph_errors),
        cmocka_unit_test(test_bad_classes),
        cmocka_unit_test(test_version2_detector_loads),
        cmocka_unit_test(test_version2_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
