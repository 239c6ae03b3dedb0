/* emotiond-web's Host check against DNS rebinding: the loopback names and the bind
 * address with any port, the configured extra names, and nothing else (another name,
 * a look-alike, a malformed header). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>

#include "host.h"

static void test_loopback_names(void **state)
{
    (void)state;
    const char *ok[] = {"localhost", "localhost:8737", "LocalHost:1", "127.0.0.1",
                        "127.0.0.1:8737", "[::1]", "[::1]:8737", "127.0.0.1:"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!host_allowed(ok[i], "127.0.0.1", ""))
            fail_msg("'%s' refused", ok[i]);
}

static void test_other_names_refused(void **state)
{
    (void)state;
    const char *bad[] = {"evil.example", "evil.example:8737", "localhost.evil.example",
                         "127.0.0.1.nip.io", "localhost.", "127.0.0.2", "[::2]:8737",
                         "::1", "[::1", "[::1]x", "", ":8737", "a:b:c", "localhost,evil",
                         "local host", "10.0.0.7"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (host_allowed(bad[i], "127.0.0.1", ""))
            fail_msg("'%s' allowed", bad[i]);
    assert_false(host_allowed(NULL, "127.0.0.1", ""));
}

static void test_bind_address_and_allowed_list(void **state)
{
    (void)state;
    /* bound to a LAN address: that address is a name of the server */
    assert_true(host_allowed("10.0.0.7:8737", "10.0.0.7", ""));
    assert_false(host_allowed("kiosk.lan:8737", "10.0.0.7", ""));
    /* names the operator lists, blanks and case aside */
    const char *list = "kiosk.lan, Dashboard.Example ,fe80::1,[2001:db8::5]";
    assert_true(host_allowed("kiosk.lan:8737", "0.0.0.0", list));
    assert_true(host_allowed("dashboard.example", "0.0.0.0", list));
    assert_true(host_allowed("[fe80::1]:8737", "::", list));
    assert_true(host_allowed("[2001:db8::5]", "::", list));
    assert_false(host_allowed("kiosk.lan.evil.example", "0.0.0.0", list));
    assert_false(host_allowed("kiosk", "0.0.0.0", list));
    assert_false(host_allowed("lan", "0.0.0.0", list));
    /* an IPv6 bind address, written with or without brackets */
    assert_true(host_allowed("[fd00::7]:8737", "fd00::7", ""));
    assert_true(host_allowed("[fd00::7]:8737", "[fd00::7]", ""));
    /* an empty entry allows nothing */
    assert_false(host_allowed("x", "127.0.0.1", ",, ,"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_names),
        cmocka_unit_test(test_other_names_refused),
        cmocka_unit_test(test_bind_address_and_allowed_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
