/* Board telemetry over fixture trees modelled on real boards: power mode id and name,
 * watts from known file contents, RAPL deltas and wrap, mode changes, and a bare box
 * where everything is unknown. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"

#define TREE(name) FIXTURES "/boards/" name

static char tmp[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/emotiond-board-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

static void copy_tree(const char *name, char *dst, size_t len)
{
    char cmd[1024];
    snprintf(dst, len, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/boards/%s' '%s'", dst, FIXTURES, name, dst);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *root, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_xavier_nx(void **state)
{
    (void)state;
    struct board_power_mode m;
    board_power_mode(TREE("xavier-nx-l4t32"), &m);
    assert_true(m.known);
    assert_int_equal(m.id, 2);
    assert_string_equal(m.name, "MODE_15W_6CORE");
    struct board_power_reader *r = board_power_open(TREE("xavier-nx-l4t32"));
    struct board_power p;
    board_power_read(r, 0, &p);
    assert_true(p.known);
    assert_false(p.lower_bound);
    assert_float_equal(p.watts, 4.235, 1e-9);
    assert_non_null(strstr(p.source, "VDD_IN"));
    board_power_close(r);
    struct board_temp t[8];
    assert_int_equal(board_temperatures(TREE("xavier-nx-l4t32"), t, 8), 3);
    double mhz[BOARD_MAX_CPUS];
    assert_int_equal(board_cpu_mhz(TREE("xavier-nx-l4t32"), mhz, BOARD_MAX_CPUS), 6);
    assert_float_equal(mhz[5], 1190.4, 1e-9);
    int found = 0;
    for (int i = 0; i < 3; i++)
        if (!strcmp(t[i].type, "CPU-therm")) {
            assert_float_equal(t[i].celsius, 41.5, 1e-9);
            found = 1;
        }
    assert_true(found);
}

static void test_mode_changes_are_read(void **state)
{
    (void)state;
    char root[256];
    copy_tree("xavier-nx-l4t32", root, sizeof root);
    struct board_power_mode m;
    write_file(root, "/var/lib/nvpmodel/status", "pmode:0004\n");   /* nvpmodel -m 4 */
    board_power_mode(root, &m);
    assert_int_equal(m.id, 4);
    assert_string_equal(m.name, "MODE_10W_4CORE");
    char path[512];
    snprintf(path, sizeof path, "%s/var/lib/nvpmodel/status", root);
    unlink(path);                                                  /* default in force */
    board_power_mode(root, &m);
    assert_int_equal(m.id, 2);
    write_file(root, "/var/lib/nvpmodel/status", "pmode:0009\n");   /* not in the conf */
    board_power_mode(root, &m);
    assert_true(m.known);
    assert_int_equal(m.id, 9);
    assert_string_equal(m.name, "");
}

static void test_orin_nx_hwmon(void **state)
{
    (void)state;
    struct board_power_mode m;
    board_power_mode(TREE("orin-nx-l4t35"), &m);
    assert_int_equal(m.id, 2);                     /* no status file: PM_CONFIG default */
    assert_string_equal(m.name, "MODE_15W");
    struct board_power_reader *r = board_power_open(TREE("orin-nx-l4t35"));
    struct board_power p;
    board_power_read(r, 0, &p);
    assert_true(p.known && !p.lower_bound);
    assert_float_equal(p.watts, 5.080 * 1.200, 1e-9);
    assert_non_null(strstr(p.source, "hwmon VDD_IN"));
    board_power_close(r);
}

static void test_agx_orin_sum_is_lower_bound(void **state)
{
    (void)state;
    struct board_power_mode m;
    board_power_mode(TREE("agx-orin-l4t35"), &m);
    assert_int_equal(m.id, 1);
    assert_string_equal(m.name, "MODE_15W");
    struct board_power_reader *r = board_power_open(TREE("agx-orin-l4t35"));
    struct board_power p;
    board_power_read(r, 0, &p);
    assert_true(p.known && p.lower_bound);
    assert_float_equal(p.watts, 19.92 * 0.52 + 19.92 * 0.31 + 5.0 * 0.64 + 4.98 * 0.18, 1e-9);
    assert_non_null(strstr(p.source, "sum of 4 rails"));
    board_power_close(r);
}

static void test_x86_rapl(void **state)
{
    (void)state;
    char root[256];
    copy_tree("x86-rapl", root, sizeof root);
    struct board_power_reader *r = board_power_open(root);
    struct board_power p;
    board_power_read(r, 1000000000, &p);
    assert_false(p.known);                          /* one sample is no rate */
    write_file(root, "/sys/class/powercap/intel-rapl:1/energy_uj", "992654321\n");  /* +5 J */
    board_power_read(r, 2000000000, &p);
    assert_true(p.known && !p.lower_bound);
    assert_float_equal(p.watts, 5.0, 1e-9);
    assert_string_equal(p.source, "rapl psys");
    write_file(root, "/sys/class/powercap/intel-rapl:1/energy_uj", "1000000\n");   /* wrapped */
    board_power_read(r, 4000000000, &p);
    assert_float_equal(p.watts, (262143328850.0 - 992654321.0 + 1000000.0) / 1e6 / 2, 1e-6);
    board_power_close(r);
    struct board_temp t[8];
    assert_int_equal(board_temperatures(root, t, 8), 1);   /* the zone without temp skipped */
    /* without psys, the packages: a lower bound */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/sys/class/powercap/intel-rapl:1'", root);
    assert_int_equal(system(cmd), 0);
    r = board_power_open(root);
    board_power_read(r, 0, &p);
    write_file(root, "/sys/class/powercap/intel-rapl:0/energy_uj", "125456789\n");
    board_power_read(r, 500000000, &p);
    assert_true(p.known && p.lower_bound);
    assert_float_equal(p.watts, 4.0, 1e-9);
    board_power_close(r);
}

static void test_bare_and_missing_roots(void **state)
{
    (void)state;
    const char *roots[] = {TREE("bare"), "/nonexistent/root"};
    for (int i = 0; i < 2; i++) {
        struct board_power_mode m;
        board_power_mode(roots[i], &m);
        assert_false(m.known);
        struct board_power_reader *r = board_power_open(roots[i]);
        struct board_power p;
        board_power_read(r, 0, &p);
        board_power_read(r, 1000000000, &p);
        assert_false(p.known);
        board_power_close(r);
        struct board_temp t[4];
        double mhz[4];
        assert_int_equal(board_temperatures(roots[i], t, 4), 0);
        assert_int_equal(board_cpu_mhz(roots[i], mhz, 4), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xavier_nx),
        cmocka_unit_test(test_mode_changes_are_read),
        cmocka_unit_test(test_orin_nx_hwmon),
        cmocka_unit_test(test_agx_orin_sum_is_lower_bound),
        cmocka_unit_test(test_x86_rapl),
        cmocka_unit_test(test_bare_and_missing_roots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
