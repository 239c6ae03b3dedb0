#define _POSIX_C_SOURCE 200809L
/* The daemon's pipeline with its real threads: results come out in frame order; a
 * camera that is unplugged mid-stream is reopened and frames flow again; a publisher
 * that stops taking results makes the entrance drop (newest wins, counted) instead of
 * anything growing; a finite source with `once` finishes; stop is quick; frames are kept
 * with their results only while asked (previews), and one lent out costs no frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "clock.h"
#include "fake_v4l2.h"
#include "pipeline.h"

/* How much slower this run is than native (EMOTIOND_TIME_SCALE, 10 under qemu): bounds
 * and waits are native times multiplied by it. */
static int time_scale(void)
{
    const char *s = getenv("EMOTIOND_TIME_SCALE");
    int k = s ? atoi(s) : 1;
    return k >= 1 ? k : 1;
}

static struct pipeline *start_with(const char *source, double fps, bool once,
                                   const struct cap_v4l2_ops *v4l2, int detect_width)
{
    struct config cfg;
    config_defaults(&cfg);
    if (detect_width)
        cfg.detect.width = detect_width, cfg.detect.min_face = 8;
    snprintf(cfg.daemon.model, sizeof cfg.daemon.model, "%s",
             SOURCE_DIR "/tests/fixtures/nano-b-quick.enn");
    cfg.capture.timeout_ms = 50;
    struct pl_options o = {.source = source, .fps = fps, .once = once, .workers = 2,
                           .v4l2 = v4l2};
    struct pipeline *p;
    char err[600];
    if (pl_start(&o, &cfg, &p, err, sizeof err))
        fail_msg("%s", err);
    return p;
}

static struct pipeline *start(const char *source, double fps, bool once,
                              const struct cap_v4l2_ops *v4l2)
{
    return start_with(source, fps, once, v4l2, 0);
}

/* Takes results for up to ms; returns how many, checking their order. */
static int drain(struct pipeline *p, int ms, uint64_t *last_seq, int *faces)
{
    int n = 0;
    int64_t until = mono_ns() + (int64_t)ms * 1000000;
    while (mono_ns() < until) {
        struct pollfd pfd = {.fd = pl_event_fd(p), .events = POLLIN};
        poll(&pfd, 1, 20);
        struct pl_result *r;
        while ((r = pl_next_result(p))) {
            if (n > 0 && r->seq != 0)   /* 0: a file source started again */
                assert_true(r->seq > *last_seq);
            *last_seq = r->seq;
            if (faces)
                *faces = r->n;
            n++;
            pl_release(p, r);
        }
    }
    return n;
}

static void stop_quickly(struct pipeline *p)
{
    int64_t t0 = mono_ns();
    pl_stop(p);
    assert_true(mono_ns() - t0 < 1000000000LL * time_scale());
    pl_free(p);
}

static void test_camera_unplugged_and_back(void **state)
{
    (void)state;
    const uint32_t grey[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(grey, 1, 640, 480);
    for (uint32_t s = 0; s < 20; s++)
        fake_cam_push(EV_FRAME, s);
    fake_cam_push(EV_UNPLUG, 0);
    for (uint32_t s = 100; s < 120; s++)
        fake_cam_push(EV_FRAME, s);
    fake_cam.absent_opens = 2;
    struct pipeline *p = start("/dev/video0", 30, false, &fake_v4l2_ops);
    uint64_t last = 0;
    int n = 0;
    for (int round = 0; round < 100 * time_scale() && last < 119; round++)
        n += drain(p, 50, &last, NULL);
    assert_int_equal(last, 119);
    assert_true(n >= 2);
    struct pl_stats st;
    pl_take_stats(p, &st);
    assert_true(st.source.reconnects >= 1);
    stop_quickly(p);
}

static void test_stalled_publisher_drops_at_the_entrance(void **state)
{
    (void)state;
    struct pipeline *p = start("image:" SOURCE_DIR "/samples/astronaut.pgm", 500, false, NULL);
    struct timespec nap = {0, 600000000};
    nanosleep(&nap, NULL);     /* take nothing: the jobs fill, then the entrance drops */
    struct pl_stats st;
    pl_take_stats(p, &st);
    for (int round = 0; round < 30 * (time_scale() - 1) && st.drops_pipeline <= 10; round++) {
        nanosleep(&(struct timespec){0, 20000000}, NULL);   /* emulated: give it longer */
        pl_take_stats(p, &st);
    }
    assert_true(st.drops_pipeline > 10);
    /* waiting on a slow publisher is not being stuck: the watchdog stays fed */
    assert_true(pl_healthy(p, 2000000000));
    assert_true(st.frames[PL_CLASSIFY] <= (uint64_t)pl_workers(p) + 2);
    uint64_t last = 0;
    int faces = -1, got = 0;
    for (int round = 0; round < 200 * time_scale() && got <= 5; round++)   /* slow under sanitizers */
        got += drain(p, 50, &last, &faces);
    assert_true(got > 5);
    assert_int_equal(faces, 1);
    stop_quickly(p);
}

static void test_once_finishes(void **state)
{
    (void)state;
    struct pipeline *p = start("image:" SOURCE_DIR "/samples/astronaut.pgm", 0, true, NULL);
    uint64_t last = 0;
    int faces = -1, n = 0;
    char err[300];
    for (int round = 0; round < 100 * time_scale() && !pl_finished(p, err, sizeof err); round++)
        n += drain(p, 20, &last, &faces);
    assert_true(pl_finished(p, err, sizeof err));
    assert_string_equal(err, "");
    assert_int_equal(n, 1);
    assert_int_equal(faces, 1);
    stop_quickly(p);
}

/* A finite source started again and again (a dir: of one image ends after each frame)
 * while telemetry is taken as fast as it can be: the source totals never go down. The restart folds the old source's totals into the pipeline's and detaches the
 * source in one step; done in two, a telemetry read between them counted them twice,
 * and the next read went down again. */
static void test_source_totals_never_go_down_across_restarts(void **state)
{
    (void)state;
    char dir[] = "/tmp/emotiond-test-restarts-XXXXXX", path[300], spec[320];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.pgm", dir);
    FILE *in = fopen(SOURCE_DIR "/samples/astronaut.pgm", "rb"), *out = fopen(path, "wb");
    assert_true(in && out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    snprintf(spec, sizeof spec, "dir:%s", dir);
    struct pipeline *p = start(spec, 0, false, NULL);
    uint64_t prev_frames = 0, restarts = 0;
    int64_t until = mono_ns() + 1500000000LL * time_scale();
    while (mono_ns() < until) {
        struct pl_result *r;
        while ((r = pl_next_result(p)))
            pl_release(p, r);
        struct pl_stats st;
        pl_take_stats(p, &st);
        if (st.source.frames < prev_frames)
            fail_msg("source frames went from %llu down to %llu",
                     (unsigned long long)prev_frames, (unsigned long long)st.source.frames);
        prev_frames = st.source.frames;
        restarts += st.source_restarts;
    }
    stop_quickly(p);
    unlink(path);
    rmdir(dir);
    if (restarts < 5)
        fail_msg("%llu restarts in 1.5 s: the test did not exercise them", (unsigned long long)restarts);
}

/* Results carry their frames only while pl_keep_frames is on; a frame taken for a
 * preview is the result's own and stays untouched until given back; while it is lent out
 * with the publisher stalled (every job holding its frame) the only drops are the
 * entrance's, never an empty pool (the pool counts a frame for the lender; this case
 * leaves a spare even without it, the detector busy on an older frame would not). */
static void test_frames_kept_for_previews(void **state)
{
    (void)state;
    struct pipeline *p = start("image:" SOURCE_DIR "/samples/astronaut.pgm", 200, false, NULL);
    struct pl_result *r = NULL;
    int seen = 0;
    /* emulated, the pipeline publishes about one result a second: every bound below is
       a native one times time_scale() */
    for (int round = 0; round < 200 * time_scale() && seen < 3; round++) {   /* off: no frame kept */
        poll(&(struct pollfd){.fd = pl_event_fd(p), .events = POLLIN}, 1, 20);
        while ((r = pl_next_result(p))) {
            assert_null(r->frame);
            assert_null(pl_take_frame(p, r));
            pl_release(p, r);
            seen++;
        }
    }
    assert_true(seen >= 3);
    pl_keep_frames(p, true);
    struct cap_frame *lent = NULL;
    uint64_t lent_seq = 0;
    for (int round = 0; round < 400 * time_scale() && !lent; round++) {
        poll(&(struct pollfd){.fd = pl_event_fd(p), .events = POLLIN}, 1, 20);
        while ((r = pl_next_result(p))) {
            if (r->frame && !lent) {       /* results classified before the switch have none */
                assert_int_equal(r->frame->width, 512);
                assert_int_equal(r->frame->height, 512);
                assert_int_equal(r->frame->seq, r->seq);
                assert_int_equal(r->frame->fmt, CAP_GRAY8);
                lent_seq = r->seq;
                lent = pl_take_frame(p, r);
                assert_null(r->frame);
                assert_null(pl_take_frame(p, r));
            }
            pl_release(p, r);
        }
    }
    assert_non_null(lent);
    struct pl_stats st;
    pl_take_stats(p, &st);
    uint64_t empty_before = st.source.pool_empty, drops_before = st.drops_pipeline;
    /* the publisher stalls, a frame lent out: wait for the entrance to drop, then stay
       stalled 600 ms in all, or twice the wait if longer, so a pool running dry shows */
    int64_t waited_ns = 0, t0 = mono_ns();
    do {
        struct timespec nap = {0, 20000000};
        nanosleep(&nap, NULL);
        pl_take_stats(p, &st);
        waited_ns = mono_ns() - t0;
    } while (st.drops_pipeline == drops_before && waited_ns < 600000000LL * time_scale());
    int64_t rest_ns = (waited_ns > 300000000LL ? 2 * waited_ns : 600000000LL) - waited_ns;
    nanosleep(&(struct timespec){rest_ns / 1000000000, rest_ns % 1000000000}, NULL);
    pl_take_stats(p, &st);
    assert_true(st.drops_pipeline > drops_before);       /* the entrance drops ... */
    assert_int_equal(st.source.pool_empty, empty_before); /* ... the pool never runs dry */
    assert_int_equal(lent->seq, lent_seq);               /* and the lent frame is untouched */
    pl_return_frame(p, lent);
    pl_keep_frames(p, false);
    uint64_t last = 0;
    int after = 0;   /* results flow again; a loaded emulator may take more than 200 ms */
    for (int round = 0; round < 40 * time_scale() && after == 0; round++)
        after += drain(p, 50, &last, NULL);
    assert_true(after > 0);
    stop_quickly(p);
}

static void test_model_switch(void **state)
{
    (void)state;
    struct pipeline *p = start("image:" SOURCE_DIR "/samples/astronaut.pgm", 100, false, NULL);
    unsigned first = pl_model_generation(pl_current_model(p));
    char err[600];
    assert_int_equal(pl_set_model(p, "/nonexistent.enn", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.enn"));
    assert_int_equal(pl_set_model(p, SOURCE_DIR "/tests/fixtures/random-recon.enn", err,
                                  sizeof err), 0);
    assert_string_equal(pl_model_name(pl_current_model(p)), "random-recon");
    assert_int_not_equal(pl_model_generation(pl_current_model(p)), first);
    uint64_t last = 0;
    int got = 0;
    for (int round = 0; round < 200 * time_scale() && got <= 3; round++)
        got += drain(p, 50, &last, NULL);
    assert_true(got > 3);
    stop_quickly(p);
}

/* A stage busy with one frame for long (here whole-frame detection on a 1280 x 960
   picture, some 100 ms; larger ones exceed YuNet's activation budget) is what the
   watchdog looks for. */
static void test_long_busy_stage_is_unhealthy(void **state)
{
    (void)state;
    const int w = 1280, h = 960;
    char path[] = "/tmp/emotiond-test-big-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    uint32_t x = 12345;
    for (long i = 0; i < (long)w * h; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 24), f);
    }
    fclose(f);
    char spec[64];
    snprintf(spec, sizeof spec, "image:%s", path);
    struct pipeline *p = start_with(spec, 0, true, NULL, w);
    bool stuck = false;
    char what[80] = "";
    for (int i = 0; i < 300 && !stuck; i++) {
        struct timespec nap = {0, 5000000};
        nanosleep(&nap, NULL);
        stuck = !pl_healthy_why(p, 20000000, what, sizeof what);
    }
    assert_true(stuck);
    /* the log names the stage: the whole-frame detection runs in the detector or,
       detect interval 1, in line in the locate stage */
    assert_true(strncmp(what, "detector, ", 10) == 0 || strncmp(what, "locate, ", 8) == 0 ||
                strncmp(what, "classification worker", 21) == 0);
    assert_true(pl_healthy(p, 60000000000LL));   /* not for a minute, though */
    pl_stop(p);
    pl_free(p);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_camera_unplugged_and_back),
        cmocka_unit_test(test_stalled_publisher_drops_at_the_entrance),
        cmocka_unit_test(test_once_finishes),
        cmocka_unit_test(test_source_totals_never_go_down_across_restarts),
        cmocka_unit_test(test_frames_kept_for_previews),
        cmocka_unit_test(test_model_switch),
        cmocka_unit_test(test_long_busy_stage_is_unhealthy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
