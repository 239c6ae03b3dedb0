/* emotiond-mqtt's outgoing queue: bounded, the order kept, per-frame messages dropped
 * before summaries (the oldest first), every drop counted. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static int push(struct bqueue *q, enum bq_class cls, const char *payload)
{
    struct bq_msg m = {strdup(cls == BQ_KEEP ? "p/summary" : "p/faces"), strdup(payload),
                       strlen(payload), false};
    return bq_push(q, cls, m);
}

/* The payloads in order, popping them all: "a b c". */
static char *pop_all(struct bqueue *q)
{
    static char out[1024];
    out[0] = '\0';
    for (const struct bq_msg *m; (m = bq_front(q)); bq_pop(q))
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", out[0] ? " " : "",
                 m->payload);
    return out;
}

static void test_fifo_order_across_classes(void **state)
{
    (void)state;
    struct bqueue *q = bq_new(10);
    push(q, BQ_FRAME, "f1");
    push(q, BQ_KEEP, "s1");
    push(q, BQ_FRAME, "f2");
    push(q, BQ_KEEP, "s2");
    assert_int_equal(bq_stats(q).length, 4);
    assert_int_equal(bq_stats(q).length_keep, 2);
    assert_string_equal(pop_all(q), "f1 s1 f2 s2");
    assert_null(bq_front(q));
    bq_pop(q);                                   /* popping nothing is harmless */
    bq_free(q);
}

static void test_full_drops_oldest_frame_first(void **state)
{
    (void)state;
    struct bqueue *q = bq_new(4);
    push(q, BQ_FRAME, "f1");
    push(q, BQ_KEEP, "s1");
    push(q, BQ_FRAME, "f2");
    push(q, BQ_FRAME, "f3");
    assert_int_equal(push(q, BQ_FRAME, "f4"), 1);   /* f1 goes, newest wins */
    assert_int_equal(push(q, BQ_KEEP, "s2"), 1);    /* f2 goes: summaries are kept */
    struct bq_stats st = bq_stats(q);
    assert_int_equal(st.length, 4);
    assert_int_equal(st.dropped_frame, 2);
    assert_int_equal(st.dropped_keep, 0);
    assert_int_equal(st.pushed, 6);
    assert_string_equal(pop_all(q), "s1 f3 f4 s2");
    bq_free(q);
}

static void test_all_summaries_then_frames_are_refused(void **state)
{
    (void)state;
    struct bqueue *q = bq_new(3);
    push(q, BQ_KEEP, "s1");
    push(q, BQ_KEEP, "s2");
    push(q, BQ_KEEP, "s3");
    assert_int_equal(push(q, BQ_FRAME, "f1"), 1);   /* the new frame is the one lost */
    assert_int_equal(bq_stats(q).dropped_frame, 1);
    assert_int_equal(push(q, BQ_KEEP, "s4"), 1);    /* only summaries: the oldest goes */
    assert_int_equal(bq_stats(q).dropped_keep, 1);
    assert_string_equal(pop_all(q), "s2 s3 s4");
    bq_free(q);
}

static void test_long_outage_keeps_every_summary_that_fits(void **state)
{
    (void)state;
    /* an hour at 30 fps with a summary a minute, into 100 places */
    struct bqueue *q = bq_new(100);
    int summaries = 0;
    for (int i = 0; i < 3600 * 30; i++) {
        push(q, BQ_FRAME, "f");
        if (i % (60 * 30) == 0) {
            push(q, BQ_KEEP, "s");
            summaries++;
        }
    }
    struct bq_stats st = bq_stats(q);
    assert_int_equal(st.length, 100);
    assert_int_equal(st.length_keep, summaries);
    assert_int_equal(st.dropped_keep, 0);
    assert_int_equal(st.dropped_frame, 3600 * 30 - (100 - summaries));
    assert_int_equal(st.pushed, st.length + st.dropped_frame + st.dropped_keep);
    bq_free(q);                                  /* frees what is left (ASan checks) */
}

static void test_capacity_one(void **state)
{
    (void)state;
    struct bqueue *q = bq_new(1);
    push(q, BQ_FRAME, "f1");
    push(q, BQ_FRAME, "f2");
    assert_string_equal(pop_all(q), "f2");
    bq_free(q);
    bq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_across_classes),
        cmocka_unit_test(test_full_drops_oldest_frame_first),
        cmocka_unit_test(test_all_summaries_then_frames_are_refused),
        cmocka_unit_test(test_long_outage_keeps_every_summary_that_fits),
        cmocka_unit_test(test_capacity_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
