/* The real camera code against a scripted fake V4L2 device: format choice, luma from
 * GREY / YUYV / UYVY, MJPEG with a corrupt frame, sequence gaps, EAGAIN, stalls, and an
 * unplug followed by the camera coming back, a restart that fails part-way, a stream that
 * fails before its first frame. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_v4l2.h"
#include "source.h"
#include "test_images.h"

static struct cap_source *open_cam(void)
{
    struct cap_options o = {.v4l2 = &fake_v4l2_ops, .width = 64, .height = 48,
                            .timeout_ms = 100, .max_timeouts = 2};
    struct cap_source *s;
    char err[256];
    if (cap_source_open("/dev/video0", &o, &s, err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static void expect_frame(struct cap_source *s, uint32_t seq)
{
    struct cap_frame *f;
    char err[256];
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->seq, seq);
    assert_int_equal(f->width, 64);
    assert_int_equal(f->height, 48);
    for (int y = 0; y < 48; y += 7)
        for (int x = 0; x < 64; x += 5)
            assert_int_equal(f->data[y * 64 + x], fake_luma(seq, x, y));
    assert_int_equal(f->ts_ns, (int64_t)(1000 + seq) * 1000000000);
    cap_frame_unref(f);
}

static void test_prefers_grey_and_counts_gaps(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 3, 640, 480);
    fake_cam_push(EV_FRAME, 10);
    fake_cam_push(EV_EAGAIN, 0);
    fake_cam_push(EV_FRAME, 11);
    fake_cam_push(EV_FRAME, 15);          /* the driver dropped 12, 13, 14 */
    struct cap_source *s = open_cam();
    expect_frame(s, 10);
    assert_int_equal(fake_cam.fourcc, V4L2_PIX_FMT_GREY);
    expect_frame(s, 11);
    expect_frame(s, 15);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.seq_gaps, 3);
    assert_int_equal(st.frames, 3);
    assert_true(st.connected);
    assert_non_null(strstr(cap_source_describe(s), "GREY 64x48"));
    cap_source_close(s);
    assert_int_equal(fake_cam.mapped, 0);
    assert_int_equal(fake_cam.closes, 1);
}

static void test_packed_yuv_luma(void **state)
{
    (void)state;
    const uint32_t yuyv[] = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV};
    fake_cam_reset(yuyv, 2, 640, 480);
    fake_cam_push(EV_FRAME, 1);
    struct cap_source *s = open_cam();
    expect_frame(s, 1);
    assert_int_equal(fake_cam.fourcc, V4L2_PIX_FMT_YUYV);
    cap_source_close(s);
    const uint32_t uyvy[] = {V4L2_PIX_FMT_UYVY};
    fake_cam_reset(uyvy, 1, 640, 480);
    fake_cam_push(EV_FRAME, 2);
    s = open_cam();
    expect_frame(s, 2);
    cap_source_close(s);
}

static void test_mjpeg_camera_with_corrupt_frame(void **state)
{
    (void)state;
    size_t len;
    uint8_t *j = make_jpeg(64, 48, 1, 90, &len);
    const uint32_t fmts[] = {V4L2_PIX_FMT_MJPEG};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam_push_jpeg(1, j, len);
    fake_cam_push_jpeg(2, j, len / 2);        /* truncated by the camera */
    fake_cam_push(EV_BAD_FLAG, 3);            /* the driver flags a bad buffer */
    fake_cam_push_jpeg(4, j, len);
    struct cap_source *s = open_cam();
    struct cap_frame *f;
    char err[256];
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->seq, 1);
    cap_frame_unref(f);
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->seq, 4);
    assert_int_equal(f->width, 64);
    cap_frame_unref(f);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.corrupt, 2);
    assert_int_equal(st.seq_gaps, 0);
    cap_source_close(s);
    free(j);
}

static void test_unplug_and_return(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam.absent_opens = 3;                /* gone for three reopen attempts */
    fake_cam_push(EV_FRAME, 1);
    fake_cam_push(EV_UNPLUG, 0);
    fake_cam_push(EV_FRAME, 0);               /* after replug the driver counts from 0 */
    fake_cam_push(EV_FRAME, 1);
    struct cap_source *s = open_cam();
    expect_frame(s, 1);
    expect_frame(s, 0);
    expect_frame(s, 1);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.reconnects, 1);
    assert_int_equal(st.seq_gaps, 0);        /* a reconnect is not a gap */
    assert_int_equal(fake_cam.failed_opens, 3);
    char last[300];
    cap_source_last_error(s, last, sizeof last);
    assert_non_null(strstr(last, "/dev/video0"));
    cap_source_close(s);
    assert_int_equal(fake_cam.mapped, 0);
}

static void test_stall_reopens(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam_push(EV_FRAME, 5);
    fake_cam_push(EV_TIMEOUT, 0);
    fake_cam_push(EV_TIMEOUT, 0);             /* max_timeouts = 2: reopen */
    fake_cam_push(EV_FRAME, 0);
    struct cap_source *s = open_cam();
    expect_frame(s, 5);
    expect_frame(s, 0);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.timeouts, 2);
    assert_int_equal(st.reconnects, 1);
    assert_int_equal(fake_cam.opens, 2);
    cap_source_close(s);
}

/* A restart that fails part-way through mapping its buffers (the device went away
   between QUERYBUF and QBUF) unmaps only what it mapped: the previous stream's buffer
   addresses are gone, and unmapping them again would take away whatever the process
   has mapped there since. */
static void test_restart_failing_midway_unmaps_only_its_own_buffers(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam_push(EV_FRAME, 1);
    fake_cam_push(EV_IO_ERROR, 0);
    fake_cam_push(EV_FRAME, 2);
    struct cap_source *s = open_cam();
    expect_frame(s, 1);
    fake_cam.qbuf_fail = 3;                   /* the restart's QBUF of buffer 2 fails */
    expect_frame(s, 2);
    assert_int_equal(fake_cam.qbuf_fail, 0);  /* it did fail once */
    assert_int_equal(fake_cam.opens, 3);      /* the first start, the failed one, the good one */
    assert_int_equal(fake_cam.bad_unmaps, 0);
    cap_source_close(s);
    assert_int_equal(fake_cam.bad_unmaps, 0);
    assert_int_equal(fake_cam.mapped, 0);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void expect_last_note(struct cap_source *s, const char *has, const char *lacks)
{
    char last[300];
    cap_source_last_error(s, last, sizeof last);
    if (!strstr(last, has) || (lacks && strstr(last, lacks)))
        fail_msg("last note '%s': expected '%s'%s%s", last, has, lacks ? ", without " : "",
                 lacks ? lacks : "");
}

/* A camera that opens and streams on but fails before it delivers anything is reopened
   after a doubling pause, not in a tight loop; a stream that delivered is reopened at
   once, and the pause starts again from its minimum; a camera unplugged meanwhile is
   looked for as often as an absent one (250 ms), however long the pause had grown. */
static void test_stream_failing_before_its_first_frame_backs_off(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam_push(EV_FRAME, 1);
    fake_cam_push(EV_IO_ERROR, 0);            /* after a frame: reopened at once */
    fake_cam_push(EV_FRAME, 2);
    struct cap_source *s = open_cam();
    expect_frame(s, 1);
    expect_frame(s, 2);
    expect_last_note(s, "lost (Input/output error); reopening", "before its first frame");
    fake_cam_push(EV_IO_ERROR, 0);            /* after a frame: at once */
    fake_cam_push(EV_IO_ERROR, 0);            /* before one: 100 ms */
    fake_cam_push(EV_IO_ERROR, 0);            /* 200 ms */
    fake_cam_push(EV_IO_ERROR, 0);            /* 400 ms */
    fake_cam_push(EV_FRAME, 3);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_frame(s, 3);
    assert_true(ms_since(&t0) > 650);         /* 100 + 200 + 400 ms */
    assert_int_equal(fake_cam.opens, 6);
    expect_last_note(s, "before its first frame; reopening in 400 ms", NULL);
    /* frame 3 came: the next loss reopens at once, and a loss before a frame after that
       pauses 100 ms again, not 800 */
    fake_cam_push(EV_IO_ERROR, 0);
    fake_cam_push(EV_IO_ERROR, 0);
    fake_cam_push(EV_FRAME, 4);
    expect_frame(s, 4);
    expect_last_note(s, "before its first frame; reopening in 100 ms", NULL);
    /* the device goes away (ENODEV): the pause that would be 400 ms is the absent poll */
    fake_cam.io_error_errno = ENODEV;
    for (int i = 0; i < 4; i++)
        fake_cam_push(EV_IO_ERROR, 0);       /* at once, 100, 200, then 250 not 400 */
    fake_cam_push(EV_FRAME, 5);
    expect_frame(s, 5);
    expect_last_note(s, "before its first frame; reopening in 250 ms", NULL);
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.reconnects, 11);
    cap_source_close(s);
    assert_int_equal(fake_cam.mapped, 0);
    assert_int_equal(fake_cam.bad_unmaps, 0);
}

static void test_absent_camera_is_waited_for_and_stoppable(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 64, 48);
    fake_cam.present = false;
    fake_cam.absent_opens = 6;
    fake_cam_push(EV_FRAME, 7);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct cap_source *s = open_cam();        /* opening the source does not need it */
    expect_frame(s, 7);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* an absent node is looked for every 250 ms at most, not on the doubling backoff
       (100 + 200 + ... + 2000 ms = 5.1 s for six tries): a replugged camera streams
       again within 2 s */
    double waited_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(waited_ms < 2500);
    assert_true(waited_ms > 600);             /* 100 + 200 + 4 x 250 ms: it did wait */
    struct cap_stats st;
    cap_source_stats(s, &st);
    assert_int_equal(st.reconnects, 0);       /* first start, not a reconnect */
    cap_source_stop(s);
    struct cap_frame *f;
    char err[256];
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 0);
    cap_source_close(s);
}

static void test_nearest_listed_size_and_rate(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY};
    fake_cam_reset(fmts, 1, 1920, 1080);
    fake_cam.n_sizes = 3;
    fake_cam.sizes[0][0] = 1280, fake_cam.sizes[0][1] = 720;
    fake_cam.sizes[1][0] = 320, fake_cam.sizes[1][1] = 240;
    fake_cam.sizes[2][0] = 640, fake_cam.sizes[2][1] = 360;
    fake_cam.n_intervals = 3;
    fake_cam.intervals[0] = 60, fake_cam.intervals[1] = 30, fake_cam.intervals[2] = 15;
    fake_cam_push(EV_FRAME, 1);
    struct cap_options o = {.v4l2 = &fake_v4l2_ops, .width = 600, .height = 400, .fps = 24};
    struct cap_source *s;
    char err[256];
    assert_int_equal(cap_source_open("v4l2:/dev/video3", &o, &s, err, sizeof err), 0);
    struct cap_frame *f;
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 1);
    assert_int_equal(f->width, 640);            /* nearest listed to 600x400 */
    assert_int_equal(f->height, 360);
    cap_frame_unref(f);
    assert_int_equal(fake_cam.set_interval.numerator, 1);
    assert_int_equal(fake_cam.set_interval.denominator, 30);   /* 30 fps nearest 24 */
    cap_source_close(s);
}

static void *stop_later(void *s)
{
    usleep(300 * 1000);
    cap_source_stop(s);
    return NULL;
}

/* [capture] format: a camera that offers several formats gives the one asked for (vivid
   offers GREY before YUYV, the usual webcam format); one it does not offer is never
   silently replaced by another, and the reason is the source's last error. */
static void test_required_format(void **state)
{
    (void)state;
    const uint32_t fmts[] = {V4L2_PIX_FMT_GREY, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_UYVY};
    /* the config's names; "auto" is no FourCC (the camera has its own preference) */
    assert_int_equal(cap_fourcc("auto"), 0);
    assert_int_equal(cap_fourcc(""), 0);
    assert_int_equal(cap_fourcc("YUYV"), V4L2_PIX_FMT_YUYV);
    assert_int_equal(cap_fourcc("MJPG"), V4L2_PIX_FMT_MJPEG);
    assert_int_equal(cap_fourcc("GREY"), V4L2_PIX_FMT_GREY);
    fake_cam_reset(fmts, 3, 640, 480);
    fake_cam_push(EV_FRAME, 3);
    struct cap_options o = {.v4l2 = &fake_v4l2_ops, .width = 64, .height = 48,
                            .timeout_ms = 100, .max_timeouts = 2,
                            .fourcc = V4L2_PIX_FMT_YUYV};
    struct cap_source *s;
    char err[256];
    assert_int_equal(cap_source_open("/dev/video0", &o, &s, err, sizeof err), 0);
    expect_frame(s, 3);
    assert_int_equal(fake_cam.fourcc, V4L2_PIX_FMT_YUYV);
    assert_non_null(strstr(cap_source_describe(s), "YUYV 64x48"));
    cap_source_close(s);

    fake_cam_reset(fmts, 3, 640, 480);
    fake_cam_push(EV_FRAME, 4);
    o.fourcc = V4L2_PIX_FMT_MJPEG;
    assert_int_equal(cap_source_open("/dev/video0", &o, &s, err, sizeof err), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_later, s), 0);
    struct cap_frame *f;
    assert_int_equal(cap_source_next(s, &f, err, sizeof err), 0);   /* stopped, no frame */
    pthread_join(t, NULL);
    cap_source_last_error(s, err, sizeof err);
    assert_non_null(strstr(err, "does not offer the pixel format MJPG"));
    assert_false(fake_cam.streaming);
    cap_source_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefers_grey_and_counts_gaps),
        cmocka_unit_test(test_packed_yuv_luma),
        cmocka_unit_test(test_mjpeg_camera_with_corrupt_frame),
        cmocka_unit_test(test_unplug_and_return),
        cmocka_unit_test(test_stall_reopens),
        cmocka_unit_test(test_restart_failing_midway_unmaps_only_its_own_buffers),
        cmocka_unit_test(test_stream_failing_before_its_first_frame_backs_off),
        cmocka_unit_test(test_absent_camera_is_waited_for_and_stoppable),
        cmocka_unit_test(test_nearest_listed_size_and_rate),
        cmocka_unit_test(test_required_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
