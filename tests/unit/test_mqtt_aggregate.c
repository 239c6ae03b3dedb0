/* emotiond-mqtt's aggregator: summaries whose counts add up to the frames and faces fed
 * in, dwell time per track, label changes, the faces topic's per-track rate limit. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "aggregate.h"

static const char *const CLASSES[] = {"anger", "happiness", "neutral", "surprise"};

static long long label_count(json_t *s, const char *label)
{
    return json_integer_value(json_object_get(json_object_get(s, "labels"), label));
}

static json_t *track(json_t *s, long long id)
{
    json_t *t;
    size_t i;
    json_array_foreach(json_object_get(s, "tracks"), i, t)
        if (json_integer_value(json_object_get(t, "id")) == id)
            return t;
    return NULL;
}

static void test_counts_add_up(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    agg_set_classes(a, CLASSES, 4);
    struct agg_event ev[8];
    long faces = 0;
    assert_true(agg_window_empty(a));
    for (int i = 0; i < 30; i++) {       /* 3 s at 10 fps: track 1 always, track 2 in 10 */
        struct agg_face f[2] = {{1, i < 20 ? "neutral" : "happiness", 0.8},
                                {2, "surprise", 0.6}};
        size_t n = i % 3 == 0 ? 2 : 1;
        faces += (long)n;
        agg_frame(a, 100.0 + i * 0.1, f, n, ev, 8);
    }
    assert_false(agg_window_empty(a));
    json_t *s = agg_summary(a, 100, 103);
    assert_true(agg_window_empty(a));
    assert_string_equal(json_string_value(json_object_get(s, "type")), "summary");
    assert_int_equal(json_integer_value(json_object_get(s, "frames")), 30);
    assert_int_equal(json_integer_value(json_object_get(s, "faces")), faces);
    long long sum = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "labels"), k, v)
        sum += json_integer_value(v);
    assert_int_equal(sum, faces);
    assert_int_equal(label_count(s, "anger"), 0);        /* every class, 0 when unseen */
    assert_int_equal(label_count(s, "neutral"), 20);
    assert_int_equal(label_count(s, "happiness"), 10);
    assert_int_equal(label_count(s, "surprise"), 10);
    double mean = json_real_value(json_object_get(s, "mean_confidence"));
    assert_true(fabs(mean - (30 * 0.8 + 10 * 0.6) / 40) < 1e-9);
    json_t *t1 = track(s, 1), *t2 = track(s, 2);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_int_equal(json_integer_value(json_object_get(t1, "frames")), 30);
    assert_string_equal(json_string_value(json_object_get(t1, "label")), "neutral");
    assert_true(fabs(json_real_value(json_object_get(t1, "dwell_s")) - 2.9) < 1e-6);
    assert_true(fabs(json_real_value(json_object_get(s, "interval_s")) - 3) < 1e-9);
    json_decref(s);

    /* a frame without faces is something seen */
    agg_frame(a, 103.5, NULL, 0, ev, 8);
    assert_false(agg_window_empty(a));
    json_decref(agg_summary(a, 103, 103.5));

    /* a fresh window: zeros, no tracks; mean confidence null */
    s = agg_summary(a, 103, 104);
    assert_int_equal(json_integer_value(json_object_get(s, "frames")), 0);
    assert_int_equal(json_array_size(json_object_get(s, "tracks")), 0);
    assert_true(json_is_null(json_object_get(s, "mean_confidence")));
    json_decref(s);
    agg_free(a);
}

static void test_label_changes(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    agg_set_classes(a, CLASSES, 4);
    struct agg_event ev[4];
    struct agg_face f = {7, "neutral", 0.9};
    assert_int_equal(agg_frame(a, 1.0, &f, 1, ev, 4), 1);      /* new track */
    assert_int_equal(ev[0].id, 7);
    assert_string_equal(ev[0].from, "");
    assert_string_equal(ev[0].to, "neutral");
    assert_int_equal(agg_frame(a, 1.1, &f, 1, ev, 4), 0);      /* same label: nothing */
    f.label = "anger";
    f.confidence = 0.7;
    assert_int_equal(agg_frame(a, 1.2, &f, 1, ev, 4), 1);
    assert_string_equal(ev[0].from, "neutral");
    assert_string_equal(ev[0].to, "anger");
    assert_true(ev[0].confidence == 0.7);
    /* more changes than room: counted, only max written */
    struct agg_face many[3] = {{1, "anger", 1}, {2, "anger", 1}, {3, "anger", 1}};
    assert_int_equal(agg_frame(a, 1.3, many, 3, ev, 2), 3);
    agg_free(a);
}

/* After a daemon restart its track ids start again: a face with a reused id is a new
   track (its first change is from nothing, its faces are due), not the old one's. */
static void test_a_daemon_restart_ends_its_tracks(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    agg_set_classes(a, CLASSES, 4);
    struct agg_event ev[4];
    struct agg_face f[2] = {{1, "neutral", 0.9}, {2, "happiness", 0.8}};
    assert_int_equal(agg_frame(a, 1.0, f, 2, ev, 4), 2);
    assert_true(agg_face_due(a, 1, 1.0, 10));
    json_decref(agg_summary(a, 0, 1.5));
    assert_int_equal(agg_frame(a, 2.0, f, 1, ev, 4), 0);       /* track 1, this window */
    assert_false(agg_face_due(a, 1, 2.0, 10));
    agg_end_tracks(a);
    assert_int_equal(agg_frame(a, 2.5, f, 2, ev, 4), 2);       /* both new */
    assert_int_equal(ev[0].id, 1);
    assert_string_equal(ev[0].from, "");
    assert_string_equal(ev[1].from, "");
    assert_true(agg_face_due(a, 1, 2.6, 10));
    assert_int_equal(agg_frame(a, 2.7, f, 2, ev, 4), 0);       /* and they go on */
    /* the window lists the old track 1 (seen in it) beside the new tracks 1 and 2 */
    json_t *s = agg_summary(a, 1.5, 3);
    json_t *tracks = json_object_get(s, "tracks");
    assert_int_equal(json_array_size(tracks), 3);
    long long frames_of_1 = 0;
    double new_dwell = -1;
    json_t *t;
    size_t i;
    json_array_foreach(tracks, i, t) {
        if (json_integer_value(json_object_get(t, "id")) != 1)
            continue;
        frames_of_1 += json_integer_value(json_object_get(t, "frames"));
        if (json_integer_value(json_object_get(t, "frames")) == 2)
            new_dwell = json_real_value(json_object_get(t, "dwell_s"));
    }
    assert_int_equal(frames_of_1, 3);
    /* the daemon's downtime (2.0 to 2.5) is in no one's dwell */
    assert_true(fabs(new_dwell - 0.2) < 1e-9);
    json_decref(s);
    /* the old one is gone from the next window */
    agg_frame(a, 3.5, f, 2, ev, 4);
    s = agg_summary(a, 3, 4.5);
    assert_int_equal(json_array_size(json_object_get(s, "tracks")), 2);
    assert_int_equal(json_integer_value(json_object_get(track(s, 1), "frames")), 1);
    json_decref(s);
    /* two restarts in one window: three tracks with id 1, each listed once */
    agg_frame(a, 5.0, f, 1, ev, 4);
    agg_end_tracks(a);
    assert_int_equal(agg_frame(a, 5.5, f, 1, ev, 4), 1);
    agg_end_tracks(a);
    assert_int_equal(agg_frame(a, 6.0, f, 1, ev, 4), 1);
    assert_string_equal(ev[0].from, "");
    s = agg_summary(a, 4.5, 6.5);
    assert_int_equal(json_array_size(json_object_get(s, "tracks")), 3);
    json_decref(s);
    agg_free(a);
}

static void test_odd_labels_and_gaps(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    struct agg_event ev[4];
    /* an unknown label is learnt; an over-long one is "other"; a 10 s gap counts 1 s */
    struct agg_face f[2] = {{1, "contempt", 0.5}, {2, "a-label-far-too-long-to-keep", 0.5}};
    agg_frame(a, 10, f, 2, ev, 4);
    agg_frame(a, 20, f, 2, ev, 4);
    json_t *s = agg_summary(a, 0, 60);
    assert_int_equal(label_count(s, "contempt"), 2);
    assert_int_equal(label_count(s, "other"), 2);
    assert_true(fabs(json_real_value(json_object_get(track(s, 1), "dwell_s")) -
                     AGG_MAX_GAP_S) < 1e-9);
    json_decref(s);
    agg_free(a);
}

static void test_many_tracks_are_bounded(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    struct agg_event ev[1];
    for (int i = 0; i < AGG_MAX_TRACKS + 50; i++) {
        struct agg_face f = {i, "neutral", 0.5};
        agg_frame(a, i * 0.01, &f, 1, ev, 1);
    }
    json_t *s = agg_summary(a, 0, 10);
    assert_int_equal(json_array_size(json_object_get(s, "tracks")), AGG_MAX_TRACKS);
    assert_int_equal(json_integer_value(json_object_get(s, "tracks_unlisted")), 50);
    assert_int_equal(json_integer_value(json_object_get(s, "faces")), AGG_MAX_TRACKS + 50);
    json_decref(s);
    /* the next window has room again: old tracks give way */
    struct agg_face f = {100000, "neutral", 0.5};
    agg_frame(a, 5, &f, 1, ev, 1);
    s = agg_summary(a, 10, 20);
    assert_non_null(track(s, 100000));
    json_decref(s);
    agg_free(a);
}

static void test_faces_rate_limit_per_track(void **state)
{
    (void)state;
    struct agg *a = agg_new();
    assert_true(agg_face_due(a, 1, 0.0, 0));           /* 0: every frame */
    assert_true(agg_face_due(a, 1, 0.0, 0));
    assert_true(agg_face_due(a, 1, 10.0, 1.0));
    assert_false(agg_face_due(a, 1, 10.5, 1.0));
    assert_true(agg_face_due(a, 2, 10.5, 1.0));        /* each track on its own clock */
    assert_true(agg_face_due(a, 1, 11.0, 1.0));
    assert_false(agg_face_due(a, 2, 11.0, 1.0));
    /* the wall clock stepped back 6 s: still once per interval from there on */
    assert_true(agg_face_due(a, 1, 5.0, 1.0));
    assert_false(agg_face_due(a, 1, 5.5, 1.0));
    assert_true(agg_face_due(a, 1, 6.0, 1.0));
    agg_free(a);
}

/* Windows end at multiples of the period and tile; a clock step either way begins a
   partial window at the new time instead of reporting a window of decades, one that ends
   in the past, or one already published. */
static void test_windows_follow_the_clock_and_its_steps(void **state)
{
    (void)state;
    struct agg_window w;
    double start, end;
    agg_window_begin(&w, 1000.5, 60);
    assert_false(agg_window_due(&w, 1019.9, 60, &start, &end));
    assert_true(agg_window_due(&w, 1020.0, 60, &start, &end));
    assert_true(start == 1000.5 && end == 1020.0);        /* the first one is partial */
    assert_false(agg_window_due(&w, 1079.0, 60, &start, &end));
    assert_true(agg_window_due(&w, 1080.2, 60, &start, &end));
    assert_true(start == 1020.0 && end == 1080.0);        /* no gap, no overlap */
    /* a board without a clock booted in 1970; NTP sets it to 2026: the window under way
       ends where it was due, and a partial one begins at the new time */
    double t2026 = 1795000020.0;                          /* a multiple of 60 */
    assert_true(agg_window_due(&w, t2026 + 7, 60, &start, &end));
    assert_true(start == 1080.0 && end == 1140.0);
    assert_false(agg_window_due(&w, t2026 + 8, 60, &start, &end));
    assert_true(agg_window_due(&w, t2026 + 61, 60, &start, &end));
    assert_true(start == t2026 + 7 && end == t2026 + 60);
    /* the clock steps back an hour: a partial window from the new time to its next
       boundary, and then whole ones */
    assert_false(agg_window_due(&w, t2026 - 3600 + 50, 60, &start, &end));
    assert_false(agg_window_due(&w, t2026 - 3600 + 59, 60, &start, &end));
    assert_true(agg_window_due(&w, t2026 - 3600 + 60, 60, &start, &end));
    assert_true(start == t2026 - 3600 + 50 && end == t2026 - 3540);
    assert_true(agg_window_due(&w, t2026 - 3600 + 120, 60, &start, &end));
    assert_true(start == t2026 - 3540 && end == t2026 - 3480);
    /* a step back of 0.2 s just after that boundary: the window just published is not
       published again; a short one from the new time to the boundary is */
    assert_false(agg_window_due(&w, t2026 - 3480 - 0.2, 60, &start, &end));
    assert_true(agg_window_due(&w, t2026 - 3480, 60, &start, &end));
    assert_true(start == t2026 - 3480 - 0.2 && end == t2026 - 3480);
    assert_true(agg_window_due(&w, t2026 - 3420, 60, &start, &end));
    assert_true(start == t2026 - 3480 && end == t2026 - 3420);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_add_up),
        cmocka_unit_test(test_label_changes),
        cmocka_unit_test(test_a_daemon_restart_ends_its_tracks),
        cmocka_unit_test(test_odd_labels_and_gaps),
        cmocka_unit_test(test_many_tracks_are_bounded),
        cmocka_unit_test(test_faces_rate_limit_per_track),
        cmocka_unit_test(test_windows_follow_the_clock_and_its_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
