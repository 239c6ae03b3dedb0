/* emotiond-web's per-browser event queue: the SSE framing (one data line per line of
 * text, so nothing in a message can end an event or add a field), whole messages or
 * none, the ring's wrap-around, drops counted and reported before the next message, and
 * draining in pieces of any size. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Everything queued, as a string (drained). */
static char *drain(struct sse_queue *q)
{
    static char out[8192];
    size_t n = sse_take(q, out, sizeof out - 1);
    out[n] = '\0';
    return out;
}

static void test_framing(void **state)
{
    (void)state;
    struct sse_queue *q = sse_new(1024);
    assert_true(sse_push(q, "{\"type\":\"frame\"}", 16));
    assert_string_equal(drain(q), "data: {\"type\":\"frame\"}\n\n");
    /* every kind of line break splits; a break at the end keeps an empty last line */
    assert_true(sse_push(q, "a\nb\r\nc\rd\n", 9));
    assert_string_equal(drain(q), "data: a\ndata: b\ndata: c\ndata: d\ndata: \n\n");
    /* text that looks like SSE fields stays inside data lines */
    const char *evil = "x\n\nevent: hello\nid: 7\nretry: 1";
    assert_true(sse_push(q, evil, strlen(evil)));
    assert_string_equal(drain(q), "data: x\ndata: \ndata: event: hello\ndata: id: 7\n"
                                  "data: retry: 1\n\n");
    assert_true(sse_push(q, "", 0));
    assert_string_equal(drain(q), "data: \n\n");
    assert_true(sse_push_raw(q, "retry: 2000\n\n", 13));
    assert_string_equal(drain(q), "retry: 2000\n\n");
    assert_int_equal(sse_pending(q), 0);
    assert_int_equal(sse_take(q, (char[4]){0}, 4), 0);
    assert_int_equal(sse_dropped(q), 0);
    sse_free(q);
}

static void test_whole_or_dropped_and_reported(void **state)
{
    (void)state;
    struct sse_queue *q = sse_new(100);
    char big[100];
    memset(big, 'x', sizeof big);
    assert_false(sse_push(q, big, sizeof big));        /* larger than the queue */
    assert_int_equal(sse_pending(q), 0);               /* nothing of it queued */
    assert_int_equal(sse_dropped(q), 1);
    assert_true(sse_push(q, "12345678901234567890", 20));   /* 28 bytes framed */
    /* the notice came first, then the message */
    assert_string_equal(drain(q), "data: {\"type\":\"dropped\",\"count\":1,\"total\":1}\n\n"
                                  "data: 12345678901234567890\n\n");
    /* three fit (84 bytes), a fourth does not, nor does a keepalive behind its notice */
    assert_true(sse_push(q, "12345678901234567890", 20));
    assert_true(sse_push(q, "abcdefghijabcdefghij", 20));
    assert_true(sse_push(q, "ABCDEFGHIJABCDEFGHIJ", 20));
    assert_int_equal(sse_pending(q), 84);
    assert_false(sse_push(q, "z1234567890123456789", 20));
    assert_false(sse_push_raw(q, ": keepalive\n\n", 13));
    assert_int_equal(sse_dropped(q), 3);
    assert_int_equal(sse_pending(q), 84);
    /* room for the message (44 bytes free) but not for the notice before it: dropped
     * too, so that nothing overtakes the notice */
    char piece[28];
    assert_int_equal(sse_take(q, piece, sizeof piece), 28);
    assert_false(sse_push(q, "ok", 2));
    assert_int_equal(sse_dropped(q), 4);
    /* read out: the notice, with every drop since the last one, then the message */
    assert_string_equal(drain(q), "data: abcdefghijabcdefghij\n\ndata: ABCDEFGHIJABCDEFGHIJ\n\n");
    assert_true(sse_push(q, "", 0));
    assert_string_equal(drain(q), "data: {\"type\":\"dropped\",\"count\":3,\"total\":4}\n\n"
                                  "data: \n\n");
    sse_free(q);
}

/* Messages through a small ring many times, drained in odd-sized pieces: the bytes come
 * out in order, every one of them. */
static void test_wraps_and_drains_in_pieces(void **state)
{
    (void)state;
    struct sse_queue *q = sse_new(100);
    char want[200000], got[200000];
    size_t nwant = 0, ngot = 0;
    for (int i = 0; i < 3000; i++) {
        char msg[40];
        int n = snprintf(msg, sizeof msg, "{\"seq\":%d}", i);
        if (sse_push(q, msg, (size_t)n))
            nwant += (size_t)snprintf(want + nwant, sizeof want - nwant, "data: %s\n\n", msg);
        else
            fail_msg("message %d dropped with %zu pending", i, sse_pending(q));
        size_t piece = 1 + (size_t)(i * 7) % 23;
        ngot += sse_take(q, got + ngot, piece);
        if (sse_pending(q) > 60)               /* keep up, as a browser would */
            ngot += sse_take(q, got + ngot, sizeof got - ngot);
    }
    ngot += sse_take(q, got + ngot, sizeof got - ngot);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, nwant);
    assert_int_equal(sse_dropped(q), 0);
    sse_free(q);
}

/* A browser that never reads: the queue stays at its bound, and the drops are counted
 * and reported once it reads again. */
static void test_slow_reader_stays_bounded(void **state)
{
    (void)state;
    struct sse_queue *q = sse_new(4096);
    int queued = 0;
    for (int i = 0; i < 10000; i++)
        queued += sse_push(q, "{\"type\":\"frame\",\"seq\":123456,\"faces\":[]}", 41);
    assert_true(sse_pending(q) <= 4096);
    assert_int_equal(queued, 4096 / 49);
    assert_int_equal(sse_dropped(q), 10000 - queued);
    drain(q);
    assert_true(sse_push(q, "{}", 2));
    char expect[128];
    snprintf(expect, sizeof expect, "data: {\"type\":\"dropped\",\"count\":%d,\"total\":%d}\n\n"
             "data: {}\n\n", 10000 - queued, 10000 - queued);
    assert_string_equal(drain(q), expect);
    sse_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_whole_or_dropped_and_reported),
        cmocka_unit_test(test_wraps_and_drains_in_pieces),
        cmocka_unit_test(test_slow_reader_stays_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
