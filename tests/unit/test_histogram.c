/* The telemetry histogram: percentiles within the bucket resolution (4 %) on known
 * distributions, empty is NaN (published as null), extremes are clamped, merge adds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "histogram.h"

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 0.04 * want)
        fail_msg("got %g, want %g (within 4 %%)", got, want);
}

static void test_uniform(void **state)
{
    (void)state;
    static struct histogram h;
    hist_reset(&h);
    for (int i = 1; i <= 1000; i++)
        hist_add(&h, i * 0.01);        /* 0.01 .. 10 ms */
    assert_int_equal(h.count, 1000);
    assert_near(hist_percentile(&h, 50), 5.0);
    assert_near(hist_percentile(&h, 90), 9.0);
    assert_near(hist_percentile(&h, 99), 9.9);
}

static void test_tail(void **state)
{
    (void)state;
    static struct histogram h;
    hist_reset(&h);
    for (int i = 0; i < 980; i++)
        hist_add(&h, 2.0);
    for (int i = 0; i < 20; i++)
        hist_add(&h, 80.0);
    assert_near(hist_percentile(&h, 50), 2.0);
    assert_near(hist_percentile(&h, 98), 2.0);
    assert_near(hist_percentile(&h, 99), 80.0);
}

static void test_empty_extremes(void **state)
{
    (void)state;
    static struct histogram a;
    hist_reset(&a);
    assert_true(isnan(hist_percentile(&a, 50)));
    hist_add(&a, 0);
    hist_add(&a, -3);
    hist_add(&a, NAN);
    hist_add(&a, 1e9);
    assert_int_equal(a.count, 4);
    assert_true(hist_percentile(&a, 50) < 0.01);
    assert_true(hist_percentile(&a, 100) >= 9e4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_empty_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
