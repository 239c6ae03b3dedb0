/* emotiond-web's start-up: [web] resolved into options (IPv4 and IPv6 bind addresses,
 * loopback or not, limits that contradict each other, the page's folder and its
 * fallback), the page's files read into memory (only the listed ones, regular files,
 * size-capped) and found by request path only, and the RSS read from /proc. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assets.h"
#include "options.h"
#include "selfstat.h"

static const char *PAGE = SOURCE_DIR "/clients/web/page";

static int resolve(const char *section, const char *key, const char *value,
                   struct web_options *o, char *err)
{
    struct config c;
    config_defaults(&c);
    if (key && config_set(&c, section, key, value, "test", err, 600))
        fail_msg("%s", err);
    return web_options_resolve(&c, "test.conf", PAGE, o, err, 600);
}

static void test_bind_addresses(void **state)
{
    (void)state;
    struct web_options o;
    char err[600];
    assert_int_equal(resolve("web", NULL, NULL, &o, err), 0);
    assert_string_equal(o.bind, "127.0.0.1");
    assert_int_equal(o.port, 8737);
    assert_false(o.ipv6);
    assert_true(o.loopback);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&o.addr;
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 8737);
    assert_int_equal(o.addrlen, sizeof *v4);
    assert_string_equal(o.socket, "/run/emotiond/emotiond.sock");

    assert_int_equal(resolve("web", "bind", "0.0.0.0", &o, err), 0);
    assert_false(o.loopback);
    assert_int_equal(resolve("web", "bind", "::1", &o, err), 0);
    assert_true(o.ipv6);
    assert_true(o.loopback);
    assert_int_equal(((const struct sockaddr_in6 *)&o.addr)->sin6_family, AF_INET6);
    assert_int_equal(resolve("web", "bind", "[::]", &o, err), 0);
    assert_true(o.ipv6);
    assert_false(o.loopback);
    assert_int_equal(resolve("web", "bind", "127.3.4.5", &o, err), 0);
    assert_true(o.loopback);

    const char *bad[] = {"localhost", "example.com", "127.0.0.1:80", "300.1.1.1", "", "::g"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(resolve("web", "bind", bad[i], &o, err), -1);
        if (!strstr(err, "test.conf: [web] bind:"))
            fail_msg("'%s' for bind '%s'", err, bad[i]);
    }
}

static void test_limits_and_hosts(void **state)
{
    (void)state;
    struct web_options o;
    char err[600];
    assert_int_equal(resolve("web", "max_clients_per_ip", "64", &o, err), -1);
    assert_non_null(strstr(err, "max_clients_per_ip (64) is more than max_clients (32)"));
    assert_int_equal(resolve("web", "max_streams", "16", &o, err), -1);
    assert_non_null(strstr(err, "max_streams (16) must be less than max_clients_per_ip (16)"));
    assert_int_equal(resolve("web", "allowed_hosts", "kiosk.lan, [fe80::1], 10.0.0.7", &o, err), 0);
    assert_string_equal(o.allowed_hosts, "kiosk.lan, [fe80::1], 10.0.0.7");
    assert_int_equal(resolve("web", "allowed_hosts", "kiosk.lan/admin", &o, err), -1);
    assert_non_null(strstr(err, "[web] allowed_hosts"));
    assert_int_equal(resolve("web", "log_level", "debug", &o, err), 0);
    assert_int_equal(o.log_level, 7);
}

static void test_web_root_fallback(void **state)
{
    (void)state;
    struct web_options o;
    char err[600];
    /* the default path: the installed page when there, else the source tree's */
    assert_int_equal(resolve("web", NULL, NULL, &o, err), 0);
    if (assets_present("/usr/share/emotiond/web"))
        assert_string_equal(o.web_root, "/usr/share/emotiond/web");
    else
        assert_string_equal(o.web_root, PAGE);
    /* a path of one's own is kept as it is, present or not (loading says what is wrong) */
    assert_int_equal(resolve("web", "web_root", "/nonexistent/page", &o, err), 0);
    assert_string_equal(o.web_root, "/nonexistent/page");
}

static void test_assets(void **state)
{
    (void)state;
    struct assets a;
    char err[600];
    assert_int_equal(assets_load(&a, PAGE, err, sizeof err), 0);
    const struct asset *index = assets_find(&a, "/");
    assert_non_null(index);
    assert_ptr_equal(index, assets_find(&a, "/index.html"));
    assert_string_equal(index->type, "text/html; charset=utf-8");
    assert_non_null(memmem(index->data, index->len, "<canvas", 7));
    assert_string_equal(assets_find(&a, "/app.js")->type, "text/javascript; charset=utf-8");
    assert_string_equal(assets_find(&a, "/style.css")->type, "text/css; charset=utf-8");
    assert_string_equal(assets_find(&a, "/favicon.svg")->type, "image/svg+xml");
    const char *none[] = {"", "/app.js/", "/APP.JS", "/../page/app.js", "/./app.js", "app.js",
                          "/index.html?x", "/CMakeLists.txt", "/page/app.js", "//app.js"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        if (assets_find(&a, none[i]))
            fail_msg("'%s' found", none[i]);
    assets_free(&a);

    /* a folder missing a file, a file that is not a regular one, one too big */
    char dir[] = "/tmp/emotiond-web-page-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    const char *files[] = {"index.html", "app.js", "plot.js", "style.css"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "w");
        fputs("x", f);
        fclose(f);
    }
    assert_int_equal(assets_load(&a, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "favicon.svg: No such file"));
    snprintf(path, sizeof path, "%s/favicon.svg", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(assets_load(&a, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "favicon.svg: not a regular file"));
    rmdir(path);
    FILE *f = fopen(path, "w");
    assert_int_equal(ftruncate(fileno(f), ASSET_MAX_BYTES + 1), 0);
    fclose(f);
    assert_int_equal(assets_load(&a, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "favicon.svg: larger than"));
    assert_int_equal(truncate(path, 10), 0);
    assert_int_equal(assets_load(&a, dir, err, sizeof err), 0);
    assert_int_equal(assets_find(&a, "/favicon.svg")->len, 10);
    assets_free(&a);
    unlink(path);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    assert_int_equal(assets_load(&a, "/nonexistent", err, sizeof err), -1);
    assert_non_null(strstr(err, "web_root /nonexistent: No such file"));
}

static void test_rss(void **state)
{
    (void)state;
    assert_int_equal(selfstat_parse_rss_kb("Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    2084 kB\n"),
                     2084);
    assert_int_equal(selfstat_parse_rss_kb("Name:\tx\n"), -1);
    assert_int_equal(selfstat_parse_rss_kb("VmRSS:\tlots\n"), -1);
    assert_int_equal(selfstat_parse_rss_kb(""), -1);
    long kb = selfstat_rss_kb();
    assert_true(kb > 100 && kb < 1024 * 1024);       /* this test program, as the kernel says */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_addresses),
        cmocka_unit_test(test_limits_and_hosts),
        cmocka_unit_test(test_web_root_fallback),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_rss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
