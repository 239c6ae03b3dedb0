/* JSON text output: escaping, invalid UTF-8, numbers, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "json_out.h"

static void test_escapes(void **state)
{
    (void)state;
    char buf[256];
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    json_str(&j, "a\"b\\c\nd\te\x01 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    char buf[256];
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    /* lone continuation, overlong '/', truncated sequence, surrogate, 0xFF */
    json_str(&j, "\x80|\xc0\xaf|\xe2\x82|\xed\xa0\x80|\xff");
    assert_string_equal(buf, "\"\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
                             "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\"");
}

static void test_numbers_and_overflow(void **state)
{
    (void)state;
    char buf[32];
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    json_num(&j, 0.12345, 3);
    json_raw(&j, ",");
    json_num(&j, NAN, 3);
    json_raw(&j, ",");
    json_int(&j, -42);
    assert_string_equal(buf, "0.123,null,-42");
    assert_false(j.overflow);
    json_str(&j, "this string will not fit in the rest");
    assert_true(j.overflow);
    assert_string_equal(buf, "0.123,null,-42");   /* nothing half-written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_numbers_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
