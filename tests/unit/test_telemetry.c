/* The telemetry message over fixture boards: the Xavier NX's mode and watts (4.235 W from
 * its INA3221 files), images/s/W from a known classification rate, percentiles from the
 * window's histograms; a bare box gives null for everything it cannot tell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "telemetry.h"

#define TREE(name) FIXTURES "/boards/" name

static json_t *message(const char *root, const struct pl_stats *st, const char *profile)
{
    struct telemetry t;
    tel_init(&t, root);
    for (int i = 0; i < 4; i++)
        tel_sample_power(&t, (int64_t)i * 250000000);
    struct board_power_mode mode;
    board_power_mode(root, &mode);
    struct tel_context ctx = {.stats = st, .client_drops = 7, .mode = &mode,
                              .profile = profile, .model = "nano-b", .workers = 2};
    static char buf[PROTO_MSG_MAX], doc[PROTO_MSG_MAX + 2];
    static struct proto_telemetry fields;
    tel_collect(&t, &ctx, &fields);
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_telemetry_fields(&j, &fields);
    assert_false(j.overflow);
    tel_close(&t);
    snprintf(doc, sizeof doc, "{%s}", buf);
    json_error_t err;
    json_t *m = json_loads(doc, 0, &err);
    if (!m)
        fail_msg("invalid JSON (%s): %s", err.text, doc);
    return m;
}

static double num(json_t *o, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    json_t *v = o;
    for (char *k = strtok(copy, "."); k; k = strtok(NULL, "."))
        v = json_object_get(v, k);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

static void known_window(struct pl_stats *st)
{
    memset(st, 0, sizeof *st);
    st->window_s = 2.0;
    st->frames[PL_CAPTURE] = 60;
    st->frames[PL_CLASSIFY] = 60;
    st->faces = 84;                 /* 42 faces/s */
    for (int i = 1; i <= 100; i++)
        hist_add(&st->stage[PL_CLASSIFY], i * 0.1);
    hist_add(&st->latency, 5.0);
    st->drops_pipeline = 3;
    st->source.seq_gaps = 2;
}

static void test_xavier(void **state)
{
    (void)state;
    struct pl_stats st;
    known_window(&st);
    json_t *m = message(TREE("xavier-nx-l4t32"), &st, "MODE_15W_6CORE");
    assert_int_equal((int)num(m, "power_mode.id"), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "power_mode"), "name")),
                        "MODE_15W_6CORE");
    assert_float_equal(num(m, "power.watts"), 4.235, 0.006);
    assert_true(json_is_false(json_object_get(json_object_get(m, "power"), "lower_bound")));
    assert_float_equal(num(m, "faces_per_s"), 42.0, 1e-9);
    assert_float_equal(num(m, "images_per_s_per_w"), 42.0 / 4.235, 0.01);
    assert_float_equal(num(m, "stages.capture.fps"), 30.0, 1e-9);
    assert_float_equal(num(m, "stages.classify.p50_ms"), 5.0, 0.25);
    assert_float_equal(num(m, "stages.classify.p99_ms"), 9.9, 0.4);
    assert_true(json_is_null(json_object_get(json_object_get(m, "stages"), "detect")) ||
                json_is_null(json_object_get(json_object_get(json_object_get(m, "stages"),
                                                             "detect"), "p50_ms")));
    assert_float_equal(num(m, "latency_ms.p50"), 5.0, 0.25);
    assert_int_equal((int)num(m, "drops.pipeline"), 3);
    assert_int_equal((int)num(m, "drops.camera"), 2);
    assert_int_equal((int)num(m, "drops.clients"), 7);
    assert_string_equal(json_string_value(json_object_get(m, "profile")), "MODE_15W_6CORE");
    assert_true(json_is_number(json_object_get(json_object_get(m, "temperatures_c"), "CPU-therm")));
    assert_int_equal(json_array_size(json_object_get(m, "cpu_mhz")), 6);
    json_decref(m);
}

static void test_bare_box_is_null(void **state)
{
    (void)state;
    struct pl_stats st;
    known_window(&st);
    json_t *m = message(TREE("bare"), &st, NULL);
    const char *unknown[] = {"power_mode", "power", "images_per_s_per_w", "profile",
                             "temperatures_c", "cpu_mhz"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
        if (!json_is_null(json_object_get(m, unknown[i])))
            fail_msg("%s should be null on a bare box", unknown[i]);
    assert_float_equal(num(m, "faces_per_s"), 42.0, 1e-9);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xavier),
        cmocka_unit_test(test_bare_box_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
