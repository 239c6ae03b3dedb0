/* emotiond-web's history: telemetry samples as the protocol has them (null where the
 * machine cannot tell), the 5-minute window, face observations per label in 10-second
 * buckets over 10 minutes (gaps, old frames, unknown labels), and the JSON a page starts
 * from, small enough for one event. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history.h"

static struct history h;

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

static void test_sample_of_telemetry(void **state)
{
    (void)state;
    struct history_sample s;
    json_t *t = parse(
        "{\"type\":\"telemetry\",\"ts\":1764043201.5,\"interval_s\":1.0,"
        "\"stages\":{\"capture\":{\"fps\":30.0,\"p50_ms\":0.8},\"detect\":{\"fps\":6.0},"
        "\"classify\":{\"fps\":30.0},\"publish\":{\"fps\":29.5,\"p50_ms\":0.1}},"
        "\"latency_ms\":{\"p50\":6.1,\"p90\":7.4,\"p99\":9.8},"
        "\"drops\":{\"camera\":1,\"corrupt\":2,\"pipeline\":3,\"clients\":4},\"capped\":0,"
        "\"power_mode\":{\"id\":2,\"name\":\"MODE_15W_6CORE\"},"
        "\"power\":{\"watts\":4.2,\"lower_bound\":false,\"source\":\"ina3221\"},"
        "\"images_per_s_per_w\":7.1}");
    assert_int_equal(history_sample_of(t, &s), 0);
    assert_float_equal(s.ts, 1764043201.5, 1e-6);
    assert_float_equal(s.fps_in, 30.0, 1e-9);
    assert_float_equal(s.fps_out, 29.5, 1e-9);
    assert_float_equal(s.p50_ms, 6.1, 1e-9);
    assert_float_equal(s.p99_ms, 9.8, 1e-9);
    assert_float_equal(s.watts, 4.2, 1e-9);
    assert_float_equal(s.per_watt, 7.1, 1e-9);
    assert_float_equal(s.drops, 10, 1e-9);
    json_decref(t);
    /* off a Jetson, without RAPL, no frame in the window: unknown stays unknown */
    t = parse("{\"type\":\"telemetry\",\"ts\":5e9,\"stages\":{\"capture\":{\"fps\":0,"
              "\"p50_ms\":null},\"publish\":{\"fps\":0,\"p50_ms\":null}},\"latency_ms\":"
              "{\"p50\":null,\"p99\":null},\"drops\":{\"camera\":0},\"power_mode\":null,"
              "\"power\":null,\"images_per_s_per_w\":null}");
    assert_int_equal(history_sample_of(t, &s), 0);
    assert_float_equal(s.fps_in, 0, 1e-9);
    assert_true(isnan(s.p50_ms) && isnan(s.p99_ms) && isnan(s.watts) && isnan(s.per_watt));
    assert_float_equal(s.drops, 0, 1e-9);
    json_decref(t);
    t = parse("{\"type\":\"telemetry\",\"ts\":\"soon\"}");
    assert_int_equal(history_sample_of(t, &s), -1);
    json_decref(t);
}

static json_t *column(json_t *hist, const char *name)
{
    return json_object_get(json_object_get(hist, "telemetry"), name);
}

static void test_samples_window_and_json(void **state)
{
    (void)state;
    history_init(&h);
    double t0 = 1764043200.25;
    for (int i = 0; i < 1000; i++) {     /* more than it keeps */
        struct history_sample s = {t0 + i, 30, 29, 5, 9, i % 2 ? NAN : 4.5, NAN, i};
        history_add_sample(&h, &s);
    }
    json_t *j = history_json(&h);
    json_t *ts = column(j, "ts");
    assert_int_equal(json_array_size(ts), HISTORY_SAMPLES);
    /* the newest 300, oldest first, in seconds after the whole second t0 */
    json_int_t base = json_integer_value(json_object_get(j, "t0"));
    assert_int_equal(base, (json_int_t)floor(t0 + 700));
    assert_float_equal(base + json_real_value(json_array_get(ts, 0)), t0 + 700, 1e-6);
    assert_float_equal(base + json_real_value(json_array_get(ts, HISTORY_SAMPLES - 1)), t0 + 999,
                       1e-6);
    assert_true(json_is_null(json_array_get(column(j, "watts"), 1)));   /* i = 701: odd */
    assert_float_equal(json_real_value(json_array_get(column(j, "watts"), 0)), 4.5, 1e-9);
    assert_true(json_is_null(json_array_get(column(j, "per_watt"), 0)));
    assert_float_equal(json_real_value(json_array_get(column(j, "drops"), 299)), 999, 1e-9);
    /* written as the program writes it: small enough for one event in a stream's queue */
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    assert_true(strlen(text) < 64 * 1024);
    json_t *back = parse(text);
    assert_float_equal(json_real_value(json_array_get(column(back, "ts"), 299)) +
                           (double)json_integer_value(json_object_get(back, "t0")),
                       t0 + 999, 1e-3);
    free(text);
    json_decref(back);
    json_decref(j);
    /* a gap longer than the window (the daemon was away): only the new sample */
    struct history_sample late = {t0 + 5000, 30, 30, 5, 9, NAN, NAN, 0};
    history_add_sample(&h, &late);
    j = history_json(&h);
    assert_int_equal(json_array_size(column(j, "ts")), 1);
    json_decref(j);
}

static void frame(double ts, const char *labels)
{
    char text[1024] = "", *at = text;
    at += sprintf(at, "{\"type\":\"frame\",\"ts\":%.3f,\"faces\":[", ts);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", labels);
    int i = 0;
    for (char *l = strtok(copy, " "); l; l = strtok(NULL, " "), i++)
        at += sprintf(at, "%s{\"id\":%d,\"label\":\"%s\",\"confidence\":0.9}", i ? "," : "",
                      i + 1, l);
    sprintf(at, "]}");
    json_t *j = parse(text);
    history_add_frame(&h, j);
    json_decref(j);
}

/* The counts of the bucket starting at start, as "anger=N ..." of the non-zero ones. */
static const char *bucket(json_t *hist, double start)
{
    static char out[256];
    json_t *b;
    size_t i;
    out[0] = '\0';
    json_array_foreach(json_object_get(hist, "counts"), i, b) {
        if (json_integer_value(json_object_get(b, "start")) != (json_int_t)start)
            continue;
        json_t *n = json_object_get(b, "n");
        for (size_t l = 0; l < HISTORY_LABELS; l++)
            if (json_integer_value(json_array_get(n, l)))
                snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s=%lld",
                         out[0] ? " " : "", HISTORY_LABEL_NAMES[l],
                         (long long)json_integer_value(json_array_get(n, l)));
        return out;
    }
    return "absent";
}

static void test_label_buckets(void **state)
{
    (void)state;
    history_init(&h);
    double b0 = 1764043200;              /* a multiple of 10 */
    frame(b0 + 0.1, "happiness neutral");
    frame(b0 + 9.9, "happiness");
    frame(b0 + 10.0, "sadness");
    frame(b0 + 12, "");                  /* no face: nothing */
    frame(b0 + 13, "kitten");            /* not a protocol class: other */
    json_t *j = history_json(&h);
    assert_string_equal(bucket(j, b0), "happiness=2 neutral=1");
    assert_string_equal(bucket(j, b0 + 10), "sadness=1 other=1");
    assert_int_equal(json_array_size(json_object_get(j, "counts")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "labels")), HISTORY_LABELS);
    json_decref(j);
    /* 5 minutes on: both still kept; a frame late by less than a bucket still counts */
    frame(b0 + 300, "anger");
    frame(b0 + 295, "fear");
    j = history_json(&h);
    assert_string_equal(bucket(j, b0), "happiness=2 neutral=1");
    assert_string_equal(bucket(j, b0 + 290), "fear=1");
    assert_string_equal(bucket(j, b0 + 300), "anger=1");
    assert_string_equal(bucket(j, b0 + 150), "absent");        /* quiet buckets are not sent */
    json_decref(j);
    /* 10 minutes after the first bucket: it is gone */
    frame(b0 + 600, "surprise");
    j = history_json(&h);
    assert_string_equal(bucket(j, b0), "absent");
    assert_string_equal(bucket(j, b0 + 10), "sadness=1 other=1");
    assert_string_equal(bucket(j, b0 + 600), "surprise=1");
    json_decref(j);
    /* a frame older than every bucket kept: the clock stepped back, so the counts start
       again from it (they would otherwise stay frozen until the clock caught up) */
    frame(b0 + 1, "fear");
    frame(b0 + 11, "fear");
    j = history_json(&h);
    assert_string_equal(bucket(j, b0), "fear=1");
    assert_string_equal(bucket(j, b0 + 10), "fear=1");
    assert_string_equal(bucket(j, b0 + 600), "absent");
    assert_int_equal(json_array_size(json_object_get(j, "counts")), 2);
    json_decref(j);
    /* a step back of 5 minutes, within the buckets kept: they start again too, rather
       than adding to counts of the same minutes the first time through */
    frame(b0 + 400, "anger");
    frame(b0 + 100, "surprise");
    j = history_json(&h);
    assert_string_equal(bucket(j, b0 + 100), "surprise=1");
    assert_string_equal(bucket(j, b0 + 400), "absent");
    assert_string_equal(bucket(j, b0), "absent");
    assert_int_equal(json_array_size(json_object_get(j, "counts")), 1);
    json_decref(j);
    /* a long gap: everything before it goes */
    frame(b0 + 10000, "contempt");
    j = history_json(&h);
    assert_int_equal(json_array_size(json_object_get(j, "counts")), 1);
    assert_string_equal(bucket(j, b0 + 10000), "contempt=1");
    json_decref(j);
    /* a malformed frame is ignored */
    json_t *bad = parse("{\"type\":\"frame\",\"ts\":null,\"faces\":[{\"label\":\"anger\"}]}");
    history_add_frame(&h, bad);
    json_decref(bad);
    j = history_json(&h);
    assert_string_equal(bucket(j, b0 + 10000), "contempt=1");
    json_decref(j);
}

/* Timestamps no daemon sends (far future, past, huge, negative): ignored, in telemetry and
 * in frames, and the buckets kept stay as they were. At 1e18 a 10-second step is below
 * a double's resolution, so the loop over skipped buckets could not advance: alarm()
 * turns such a spin into a failure rather than a ctest timeout. */
static void test_implausible_timestamps(void **state)
{
    (void)state;
    static const char *const BAD[] = {"1e18", "1e300", "1e12", "-1e18", "-5", "0", "1e8"};
    enum { N_BAD = sizeof BAD / sizeof *BAD };
    alarm(5);
    history_init(&h);
    double b0 = 1764043200;
    frame(b0 + 1, "happiness");
    struct history_sample good = {b0 + 1, 30, 30, 5, 9, NAN, NAN, 0}, s;
    history_add_sample(&h, &good);
    for (size_t i = 0; i < N_BAD; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"type\":\"telemetry\",\"ts\":%s}", BAD[i]);
        json_t *t = parse(text);
        assert_int_equal(history_sample_of(t, &s), -1);
        json_decref(t);
        double ts = strtod(BAD[i], NULL);
        frame(ts, "anger");
        frame(ts + 300, "anger");         /* a second one, a few buckets on from the first */
    }
    frame(b0 + 11, "sadness");            /* and real frames still count */
    json_t *j = history_json(&h);
    assert_string_equal(bucket(j, b0), "happiness=1");
    assert_string_equal(bucket(j, b0 + 10), "sadness=1");
    assert_int_equal(json_array_size(json_object_get(j, "counts")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "t0")), (json_int_t)b0 + 1);
    json_decref(j);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_of_telemetry),
        cmocka_unit_test(test_samples_window_and_json),
        cmocka_unit_test(test_label_buckets),
        cmocka_unit_test(test_implausible_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
