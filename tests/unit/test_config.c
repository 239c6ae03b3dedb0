/* Config: defaults, a full file, flags over the file, errors naming file, line and key,
 * profiles, the printed config reading back the same, and the example file documenting
 * every key with its real default. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char path[64];

static void write_conf(const char *text)
{
    snprintf(path, sizeof path, "/tmp/emotiond-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

/* Loads text over defaults into *c, expecting an error that names the file and needle. */
static void expect_error_into(const char *text, const char *needle, struct config *c)
{
    config_defaults(c);
    char err[600];
    write_conf(text);
    assert_int_equal(config_load(path, c, err, sizeof err), -1);
    unlink(path);
    char where[80];
    snprintf(where, sizeof where, "%s:", path);
    if (!strstr(err, needle) || strncmp(err, where, strlen(where)))
        fail_msg("error '%s' lacks '%s' or the file name", err, needle);
}

static void expect_error(const char *text, const char *needle)
{
    struct config c;
    expect_error_into(text, needle, &c);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.daemon.socket, "/run/emotiond/emotiond.sock");
    assert_int_equal(c.detect.width, 320);
    assert_float_equal(c.classify.crop_widen, 1.0, 1e-12);
    assert_true(c.classify.align_eyes);
    assert_string_equal(c.classify.crop_rule, "box");
    assert_false(c.classify.mirror);
    assert_string_equal(c.detect.backend, "yunet");
    assert_int_equal(c.n_profiles, 0);
    assert_false(c.preview.enabled);     /* opt-in */
    assert_int_equal(c.preview.width, 320);
    assert_float_equal(c.preview.fps, 2, 1e-12);
    assert_int_equal(c.preview.quality, 75);
}

/* [preview]: every key read, each bad value refused with the key and its range named. */
static void test_preview_keys(void **state)
{
    (void)state;
    write_conf("[telemetry]\ninterval_s = 1\n[preview]\nenabled = yes\nwidth = 640\n"
               "fps = 0.5\nquality = 90\n");
    struct config c;
    config_defaults(&c);
    char err[600];
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_true(c.preview.enabled);
    assert_int_equal(c.preview.width, 640);
    assert_float_equal(c.preview.fps, 0.5, 1e-12);
    assert_int_equal(c.preview.quality, 90);
    /* the edges of each range are allowed */
    write_conf("[preview]\nwidth = 64\nfps = 10\nquality = 10\n");
    config_defaults(&c);
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_int_equal(c.preview.width, 64);
    write_conf("[preview]\nwidth = 1280\nfps = 0.1\nquality = 95\n");
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_int_equal(c.preview.width, 1280);
    assert_int_equal(c.preview.quality, 95);

    expect_error("[preview]\nenabled = sometimes\n",
                 ":2: [preview] enabled: 'sometimes' is not a boolean (true/false)");
    expect_error("[preview]\nwidth = 32\n", ":2: [preview] width: '32' is not an integer in 64..1280");
    expect_error("[preview]\nwidth = 1281\n", "[preview] width: '1281' is not an integer in 64..1280");
    expect_error("[preview]\nwidth = 320px\n", "[preview] width: '320px' is not an integer");
    expect_error("[preview]\nfps = 0\n", ":2: [preview] fps: '0' is not a number in 0.1..10");
    expect_error("[preview]\nfps = 30\n", "[preview] fps: '30' is not a number in 0.1..10");
    expect_error("[preview]\nfps = inf\n", "[preview] fps: 'inf' is not a number");
    expect_error("[preview]\nquality = 100\n", "[preview] quality: '100' is not an integer in 10..95");
    expect_error("[preview]\nquality = 5\n", "[preview] quality: '5' is not an integer in 10..95");
    expect_error("[preview]\nheight = 240\n", ":2: [preview] height: unknown key");
    /* and as a flag would give it */
    assert_int_equal(config_set(&c, "preview", "width", "2000", "--preview-width", err, sizeof err), -1);
    assert_string_equal(err, "--preview-width: [preview] width: '2000' is not an integer in 64..1280");
}

static void test_file_and_flags(void **state)
{
    (void)state;
    write_conf("; a comment\n[daemon]\nsource = file:/tmp/clip.mjpeg\nmax_clients = 4\n"
               "[detect]\nbackend = yunet-opencv\nmodel = /opt/yunet.onnx\nscore_threshold = 0.75\n"
               "[classify]\nalign_eyes = no\nmirror = yes\ncrop_rule = landmarks\n[profile.MODE_15W]\nmodel = /m/b.enn\n"
               "detect_interval = 10\n[profile.MAXN]\nworkers = 4\n");
    struct config c;
    config_defaults(&c);
    char err[600];
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_string_equal(c.daemon.source, "file:/tmp/clip.mjpeg");
    assert_int_equal(c.daemon.max_clients, 4);
    assert_string_equal(c.detect.backend, "yunet-opencv");
    assert_float_equal(c.detect.score_threshold, 0.75, 1e-12);
    assert_false(c.classify.align_eyes);
    assert_true(c.classify.mirror);
    assert_string_equal(c.classify.crop_rule, "landmarks");
    assert_int_equal(c.n_profiles, 2);
    assert_string_equal(c.profiles[0].mode, "MODE_15W");
    assert_string_equal(c.profiles[0].model, "/m/b.enn");
    assert_int_equal(c.profiles[0].detect_interval, 10);
    assert_int_equal(c.profiles[1].workers, 4);
    assert_ptr_equal(config_profile_for(&c, "MAXN"), &c.profiles[1]);
    assert_ptr_equal(config_profile_for(&c, "MODE_15W"), &c.profiles[0]);
    assert_null(config_profile_for(&c, "MODE_10W"));
    assert_null(config_profile_for(&c, NULL));
    /* a flag overrides the file */
    assert_int_equal(config_set(&c, "daemon", "source", "image:/tmp/a.png", "--source", err,
                                sizeof err), 0);
    assert_string_equal(c.daemon.source, "image:/tmp/a.png");
    assert_int_equal(config_set(&c, "capture", "fps", "fast", "--fps", err, sizeof err), -1);
    assert_non_null(strstr(err, "--fps: [capture] fps: 'fast' is not a number"));
}

/* [web], emotiond-web's section: its defaults (loopback only), a file, bad values. */
static void test_web_section(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.web.bind, "127.0.0.1");
    assert_int_equal(c.web.port, 8737);
    assert_string_equal(c.web.allowed_hosts, "");
    assert_string_equal(c.web.web_root, "/usr/share/emotiond/web");
    assert_int_equal(c.web.max_clients, 32);
    assert_int_equal(c.web.max_clients_per_ip, 16);
    assert_int_equal(c.web.max_streams, 8);
    assert_int_equal(c.web.timeout_s, 10);
    assert_string_equal(c.web.log_level, "info");
    write_conf("[daemon]\nsocket = /tmp/e.sock\n[web]\nbind = ::1\nport = 9001\n"
               "allowed_hosts = kiosk.lan, 10.0.0.7\nweb_root = /srv/page\nmax_clients = 8\n"
               "max_clients_per_ip = 4\nmax_streams = 2\ntimeout_s = 5\nlog_level = debug\n");
    char err[600];
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_string_equal(c.daemon.socket, "/tmp/e.sock");
    assert_string_equal(c.web.bind, "::1");
    assert_int_equal(c.web.port, 9001);
    assert_string_equal(c.web.allowed_hosts, "kiosk.lan, 10.0.0.7");
    assert_string_equal(c.web.web_root, "/srv/page");
    assert_int_equal(c.web.max_clients, 8);
    assert_int_equal(c.web.max_clients_per_ip, 4);
    assert_int_equal(c.web.max_streams, 2);
    assert_int_equal(c.web.timeout_s, 5);
    assert_string_equal(c.web.log_level, "debug");
    expect_error("[web]\nport = 0\n", ":2: [web] port: '0' is not an integer in 1..65535");
    expect_error("[web]\nport = 80x\n", "[web] port");
    expect_error("[web]\nmax_streams = 0\n", "[web] max_streams");
    expect_error("[web]\ntimeout_s = 0\n", "[web] timeout_s");
    expect_error("[web]\nlog_level = loud\n", "'loud' is not one of error|warning|info|debug");
    expect_error("[web]\nroot = /srv\n", ":2: [web] root: unknown key");
}

static void test_errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("[daemon]\nsource = /dev/video0\ncolour = red\n", ":3: [daemon] colour: unknown key");
    expect_error("[deamon]\nsource = x\n", ":2: [deamon] source: unknown section");
    expect_error("[capture]\nwidth = 99999\n", ":2: [capture] width: '99999' is not an integer in 16..4096");
    expect_error("[capture]\nwidth = 12px\n", "[capture] width");
    expect_error("[capture]\njpeg_scale = 3\n", "'3' is not one of 1|2|4|8");
    expect_error("[detect]\nbackend = hog\n", "'hog' is not one of yunet|yunet-opencv|cascade");
    expect_error("[track]\nhalf_life_s = nan\n", "half_life_s");
    expect_error("[classify]\nalign_eyes = maybe\n", "not a boolean");
    expect_error("[classify]\ncrop_rule = eyes\n", "'eyes' is not one of box|landmarks");
    expect_error("[profile.MODE_15W]\nspeed = 3\n", "unknown key (profiles take");
    expect_error("[daemon]\nthis line has no equals sign\n", ":2: syntax error");
    struct config c;
    char err[300];
    assert_int_equal(config_load("/nonexistent/emotiond.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/emotiond.conf: No such file"));
}

static void write_bytes(const char *bytes, size_t len)
{
    snprintf(path, sizeof path, "/tmp/emotiond-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

/* libinih cuts lines at its buffer and parses the tail as a new line: a long value could
 * smuggle in another key. Such a line is an error naming it, and nothing is set. */
static void test_long_line_is_an_error(void **state)
{
    (void)state;
    /* line 2: 199 characters, then the key that a 200-byte buffer would cut off */
    char text[1024];
    int n = snprintf(text, sizeof text, "[daemon]\nsource = file:/tmp/");
    memset(text + n, 'x', 180);
    snprintf(text + n + 180, sizeof text - (size_t)n - 180,
             "socket = /tmp/evil.sock\nmax_clients = 3\n");
    struct config c;
    expect_error_into(text, ":2: line of 222 characters (at most 197)", &c);
    assert_string_equal(c.daemon.socket, "/run/emotiond/emotiond.sock");
    assert_int_equal(c.daemon.max_clients, 16);
    /* the longest line allowed is read whole, \r\n included */
    n = snprintf(text, sizeof text, "[daemon]\r\nsource = ");
    memset(text + n, 'x', 197 - 9);
    snprintf(text + n + 188, sizeof text - (size_t)n - 188, "\r\nmax_clients = 3\r\n");
    write_conf(text);
    char err[600];
    if (config_load(path, &c, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_int_equal(strlen(c.daemon.source), 188);
    assert_int_equal(c.daemon.max_clients, 3);
}

static void test_nul_byte_is_an_error(void **state)
{
    (void)state;
    static const char text[] = "[daemon]\nsocket = /tmp/a.sock\0/tmp/b\nmax_clients = 3\n";
    write_bytes(text, sizeof text - 1);
    struct config c;
    config_defaults(&c);
    char err[600];
    assert_int_equal(config_load(path, &c, err, sizeof err), -1);
    unlink(path);
    if (strncmp(err, path, strlen(path)) || !strstr(err, ":2: contains a NUL byte"))
        fail_msg("%s", err);
    assert_string_equal(c.daemon.socket, "/run/emotiond/emotiond.sock");
}

/* A FIFO (or a device) as the config path would block whoever reads it: on SIGHUP, the
 * daemon's event loop. Regular files only. */
static void test_fifo_is_refused_without_blocking(void **state)
{
    (void)state;
    char dir[] = "/tmp/emotiond-fifo-XXXXXX", fifo[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/conf", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct config c;
    config_defaults(&c);
    char err[600];
    assert_int_equal(config_load(fifo, &c, err, sizeof err), -1);
    if (!strstr(err, "not a regular file"))
        fail_msg("%s", err);
    assert_int_equal(config_load("/dev/zero", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/dev/zero: not a regular file"));
    assert_int_equal(config_load("/tmp", &c, err, sizeof err), -1);
    unlink(fifo);
    rmdir(dir);
}

/* An error in a file whose path is long: the message keeps the path and the reason (the
 * old code indexed past a truncated message by the path's length). */
static void test_long_path_error(void **state)
{
    (void)state;
    char dir[700] = "/tmp/emotiond-long-XXXXXX", file[800];
    assert_non_null(mkdtemp(dir));
    char base[32];
    assert_true(snprintf(base, sizeof base, "%s", dir) < (int)sizeof base);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(dir);
        dir[n] = '/';
        memset(dir + n + 1, 'a' + i, 200);
        dir[n + 201] = '\0';
        assert_int_equal(mkdir(dir, 0700), 0);
    }
    snprintf(file, sizeof file, "%s/emotiond.conf", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("[daemon]\nbogus = 1\n", f);
    fclose(f);
    struct config c;
    config_defaults(&c);
    char err[1200];
    assert_int_equal(config_load(file, &c, err, sizeof err), -1);
    if (strncmp(err, file, strlen(file)) || !strstr(err, ":2: [daemon] bogus: unknown key"))
        fail_msg("%s", err);
    char small[64];   /* a short buffer truncates, never overruns */
    assert_int_equal(config_load(file, &c, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
    unlink(file);
    for (int i = 0; i < 3; i++) {
        rmdir(dir);
        *strrchr(dir, '/') = '\0';
    }
    rmdir(base);
}

static void test_print_reads_back(void **state)
{
    (void)state;
    struct config a, b;
    config_defaults(&a);
    char err[600];
    config_set(&a, "detect", "interval", "7", "test", err, sizeof err);
    config_set(&a, "profile.MODE_30W", "fps_cap", "12.5", "test", err, sizeof err);
    snprintf(path, sizeof path, "/tmp/emotiond-conf-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    config_print(&a, f);
    fclose(f);
    config_defaults(&b);
    if (config_load(path, &b, err, sizeof err))
        fail_msg("%s", err);
    unlink(path);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_live_keys(void **state)
{
    (void)state;
    assert_true(config_is_live("detect", "score_threshold"));
    assert_true(config_is_live("track", "half_life_s"));
    assert_true(config_is_live("telemetry", "interval_s"));
    assert_true(config_is_live("daemon", "model"));
    assert_true(config_is_live("classify", "mirror"));
    assert_false(config_is_live("daemon", "socket"));
    assert_false(config_is_live("daemon", "nonsense"));
    assert_true(config_is_live("profile.MODE_15W", "model"));
    /* a dashboard is switched on and tuned without a restart */
    assert_true(config_is_live("preview", "enabled"));
    assert_true(config_is_live("preview", "width"));
    assert_true(config_is_live("preview", "fps"));
    assert_true(config_is_live("preview", "quality"));
}

struct example {
    char text[16384];
    int missing;
};

static void check_key(const char *section, const char *key, const char *dflt, void *user)
{
    struct example *ex = user;
    char header[80], line[400];
    snprintf(header, sizeof header, "[%s]", strcmp(section, "profile.MODE") ? section : "profile.MODE_15W");
    snprintf(line, sizeof line, "# %s = %s\n", key, dflt);
    const char *sec = strstr(ex->text, header);
    const char *next = sec ? strstr(sec + 1, "\n[") : NULL;
    const char *at = sec ? strstr(sec, *dflt ? line : key) : NULL;
    if (!strcmp(section, "profile.MODE"))
        at = sec ? strstr(sec, key) : NULL;   /* the profile example shows sample values */
    else if (!*dflt) {
        snprintf(line, sizeof line, "# %s =\n", key);
        at = sec ? strstr(sec, line) : NULL;
    }
    if (!at || (next && at > next && strcmp(section, "profile.MODE"))) {
        printf("example file lacks '%s' under %s\n", line, header);
        ex->missing++;
    }
}

struct seen {
    int n;
    char line[8][CONFIG_STR + 80];
};

static void record(const struct config_change *ch, void *user)
{
    struct seen *s = user;
    assert_true(s->n < 8);
    snprintf(s->line[s->n++], sizeof s->line[0], "%s %s=%s %s", ch->section, ch->key,
             ch->value, ch->live ? "live" : "restart");
}

/* config_diff: each changed key once, with its new value as printed and its live flag;
 * unchanged keys and removed profiles say nothing; config_copy_key takes one value. */
static void test_diff(void **state)
{
    (void)state;
    struct config a, b;
    char err[300];
    config_defaults(&a);
    b = a;
    struct seen s = {0};
    assert_int_equal(config_diff(&a, &b, record, &s), 0);
    assert_int_equal(config_set(&a, "profile.OLD", "workers", "2", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "detect", "width", "400", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "telemetry", "interval_s", "0.3", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "classify", "mirror", "true", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "profile.M", "fps_cap", "5", "t", err, sizeof err), 0);
    /* the other programs' sections: nothing for the daemon to apply or warn about */
    assert_int_equal(config_set(&b, "web", "port", "9000", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "mqtt", "qos", "2", "t", err, sizeof err), 0);
    assert_int_equal(config_diff(&a, &b, record, &s), 8);
    assert_string_equal(s.line[0], "detect width=400 restart");
    assert_string_equal(s.line[1], "classify mirror=true live");
    assert_string_equal(s.line[2], "telemetry interval_s=0.3 live");
    assert_string_equal(s.line[3], "profile.M model= live");   /* a new profile: every key */
    assert_string_equal(s.line[5], "profile.M fps_cap=5 live");
    /* the same profile on both sides: only what differs */
    assert_int_equal(config_set(&a, "profile.M", "fps_cap", "5", "t", err, sizeof err), 0);
    assert_int_equal(config_set(&a, "profile.M", "workers", "3", "t", err, sizeof err), 0);
    s.n = 0;
    assert_int_equal(config_diff(&a, &b, record, &s), 4);
    assert_string_equal(s.line[3], "profile.M workers=0 live");

    assert_int_equal(config_copy_key(&a, &b, "telemetry", "interval_s"), 0);
    assert_true(a.telemetry.interval_s == 0.3);
    assert_int_equal(config_copy_key(&a, &b, "classify", "mirror"), 0);
    assert_true(a.classify.mirror);
    assert_int_equal(config_copy_key(&a, &b, "detect", "nope"), -1);
}

static void test_example_documents_every_key(void **state)
{
    (void)state;
    static struct example ex;
    FILE *f = fopen(SOURCE_DIR "/config/emotiond.conf.example", "r");
    assert_non_null(f);
    size_t n = fread(ex.text, 1, sizeof ex.text - 1, f);
    fclose(f);
    ex.text[n] = '\0';
    config_each_key(check_key, &ex);
    assert_int_equal(ex.missing, 0);
    /* and the example, as shipped, parses (everything commented: the defaults) */
    struct config c, d;
    config_defaults(&c);
    config_defaults(&d);
    char err[600];
    if (config_load(SOURCE_DIR "/config/emotiond.conf.example", &c, err, sizeof err))
        fail_msg("%s", err);
    assert_memory_equal(&c, &d, sizeof c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_preview_keys),
        cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_long_line_is_an_error),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_fifo_is_refused_without_blocking),
        cmocka_unit_test(test_long_path_error),
        cmocka_unit_test(test_print_reads_back),
        cmocka_unit_test(test_live_keys),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_web_section),
        cmocka_unit_test(test_example_documents_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
