/* Logging: levels filter, a message repeated within the window is printed once and then
 * summarised, journald priority prefixes when asked. stderr is redirected to a file. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char path[] = "/tmp/emotiond-test-log-XXXXXX";
static int capture_fd, saved_stderr;

/* stderr into the file while the code under test logs; back for cmocka's reports */
static void capture(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    if (ftruncate(capture_fd, 0) != 0)
        fail_msg("cannot reset %s", path);
    lseek(capture_fd, 0, SEEK_SET);
    dup2(capture_fd, 2);
}

static char *captured(void)
{
    static char text[8192];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(path, "r");
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_levels_and_repeats(void **state)
{
    (void)state;
    log_set_journal(false);
    log_set_level(LOG_INFO);
    capture();
    log_debug("hidden detail");
    for (int i = 0; i < 50; i++)
        log_warn("camera %s lost", "/dev/video0");
    log_err("something else");
    char *text = captured();
    assert_int_equal(count(text, "hidden detail"), 0);
    assert_int_equal(count(text, "emotiond: warning: camera /dev/video0 lost"), 1);
    assert_int_equal(count(text, "(last message repeated 49 more times)"), 1);
    assert_int_equal(count(text, "emotiond: error: something else"), 1);
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("loud"), -1);
}

static void test_journal_prefix(void **state)
{
    (void)state;
    log_set_journal(true);
    capture();
    log_info("for journald");
    assert_non_null(strstr(captured(), "<6>for journald\n"));
}

int main(void)
{
    capture_fd = mkstemp(path);
    if (capture_fd < 0)
        return 1;
    int rc = cmocka_run_group_tests(((const struct CMUnitTest[]){
                                        cmocka_unit_test(test_levels_and_repeats),
                                        cmocka_unit_test(test_journal_prefix),
                                    }),
                                    NULL, NULL);
    unlink(path);
    return rc;
}
