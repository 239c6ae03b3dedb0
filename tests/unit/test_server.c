/* The socket server's fairness, turn by turn on a real Unix socket: a bounded number of
 * connections accepted per loop turn (other descriptors are served in the same turn),
 * the idle timeout for clients subscribed to nothing, the per-user limit, and previews
 * in their own slot (they never take a frame's room, and go out whole between two
 * messages). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "server.h"

static char dir[64], sock_path[96];

static void hello(void *user, struct json_out *j)
{
    (void)user;
    json_raw(j, "{\"type\":\"hello\"}");
}

static void status(void *user, struct json_out *j)
{
    (void)user;
    json_raw(j, "{\"type\":\"status\"}");
}

static struct server *open_server(struct ev_loop *loop, int max_per_uid, double idle_s)
{
    struct srv_config cfg = {.path = sock_path, .listen_fd = -1, .max_clients = 64,
                             .max_clients_per_uid = max_per_uid, .idle_timeout_s = idle_s};
    struct srv_callbacks cb = {hello, status, NULL};
    struct server *s;
    char err[300];
    if (srv_open(loop, &cfg, &cb, &s, err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static int connect_client(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Everything the server sent so far (waits up to 50 ms for the first bytes); "" if none,
 * and *closed set when the server closed the connection. */
static void drain(int fd, char *buf, size_t cap, bool *closed)
{
    size_t len = 0;
    *closed = false;
    struct timeval tv = {0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, len ? MSG_DONTWAIT : 0);
        if (n == 0)
            *closed = true;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERR);
    snprintf(dir, sizeof dir, "/tmp/emotiond-srv-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock_path, sizeof sock_path, "%s/s.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(sock_path);
    return rmdir(dir);
}

static bool other_fired;
static void on_other(void *user, uint32_t events)
{
    (void)events;
    uint64_t v;
    if (read(*(int *)user, &v, sizeof v) == sizeof v)
        other_fired = true;
}

/* Twenty connections waiting at once: one turn takes a bounded few and still serves the
 * other ready descriptor; later turns take the rest. Accepting until EAGAIN let clients
 * that connect and close in a loop keep the daemon in accept(). */
static void test_accepts_are_bounded_per_turn(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 0, 0);
    int other = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_int_equal(ev_add(loop, other, EPOLLIN, on_other, &other), 0);
    int fds[20];
    for (int i = 0; i < 20; i++)
        fds[i] = connect_client();
    other_fired = false;
    assert_true(ev_run_once(loop, 100) >= 0);
    assert_true(other_fired);
    int first = srv_clients(s);
    assert_true(first >= 1);
    assert_true(first <= 8);
    for (int turn = 0; turn < 10 && srv_clients(s) < 20; turn++)
        assert_true(ev_run_once(loop, 100) >= 0);
    assert_int_equal(srv_clients(s), 20);
    for (int i = 0; i < 20; i++)
        close(fds[i]);
    for (int turn = 0; turn < 20 && srv_clients(s) > 0; turn++)
        ev_run_once(loop, 50);
    assert_int_equal(srv_clients(s), 0);
    srv_close(s);
    ev_remove(loop, other);
    close(other);
    ev_free(loop);
}

static void run_for_ms(struct ev_loop *loop, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        ev_run_once(loop, 20);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/* Subscribed to nothing and silent: closed after the idle time, with an error saying
 * why. A client that keeps its default subscription stays, however quiet. */
static void test_idle_client_closed(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 0, 0.3);
    int idle = connect_client(), listener = connect_client();
    run_for_ms(loop, 100);
    assert_int_equal(srv_clients(s), 2);
    const char *none = "{\"cmd\":\"subscribe\",\"topics\":[]}\n";
    assert_int_equal(send(idle, none, strlen(none), 0), (ssize_t)strlen(none));
    run_for_ms(loop, 1600);       /* the sweep runs once a second */
    assert_int_equal(srv_clients(s), 1);
    char buf[4096];
    bool closed;
    drain(idle, buf, sizeof buf, &closed);
    if (!strstr(buf, "idle for 0.3 s with no subscription; closing") || !closed)
        fail_msg("idle client got: %s (closed %d)", buf, closed);
    drain(listener, buf, sizeof buf, &closed);
    assert_false(closed);
    close(idle);
    close(listener);
    srv_close(s);
    ev_free(loop);
}

static void test_limit_per_uid(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 2, 0);
    int a = connect_client(), b = connect_client(), c = connect_client();
    run_for_ms(loop, 100);
    assert_int_equal(srv_clients(s), 2);
    char buf[4096], want[64];
    bool closed;
    drain(c, buf, sizeof buf, &closed);
    snprintf(want, sizeof want, "too many clients of uid %d (2)", (int)getuid());
    if (!strstr(buf, want) || !closed)
        fail_msg("third client got: %s", buf);
    close(a);
    run_for_ms(loop, 100);
    int d = connect_client();     /* a slot of that user is free again */
    run_for_ms(loop, 100);
    assert_int_equal(srv_clients(s), 2);
    drain(d, buf, sizeof buf, &closed);
    assert_non_null(strstr(buf, "\"hello\""));
    close(b), close(c), close(d);
    srv_close(s);
    ev_free(loop);
}

/* A message of exactly len bytes (no newline): {"type":TYPE,"n":N,"pad":"xxx..."}. */
static void message(char *buf, size_t len, const char *type, int n)
{
    int head = snprintf(buf, len, "{\"type\":\"%s\",\"n\":%06d,\"pad\":\"", type, n);
    memset(buf + head, 'x', len - (size_t)head - 2);
    memcpy(buf + len - 2, "\"}", 2);
    buf[len] = '\0';
}

static int subscribed_client(struct ev_loop *loop, const char *topics)
{
    int fd = connect_client();
    char cmd[128], buf[4096];
    snprintf(cmd, sizeof cmd, "{\"cmd\":\"subscribe\",\"topics\":%s}\n", topics);
    assert_int_equal(send(fd, cmd, strlen(cmd), 0), (ssize_t)strlen(cmd));
    run_for_ms(loop, 100);
    bool closed;
    drain(fd, buf, sizeof buf, &closed);        /* hello, subscribed */
    assert_non_null(strstr(buf, "\"subscribed\""));
    return fd;
}

/* Reads everything the server has for fd, running the loop, until nothing comes for a
 * while. Returns the bytes (malloc'd, NUL-terminated). */
static char *read_all(struct ev_loop *loop, int fd, size_t *len)
{
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    assert_non_null(buf);
    *len = 0;
    for (int quiet = 0; quiet < 20;) {
        ev_run_once(loop, 5);
        ssize_t n = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);
        quiet = n > 0 ? 0 : quiet + 1;
        *len += n > 0 ? (size_t)n : 0;
        assert_true(*len < cap - 1);
    }
    buf[*len] = '\0';
    return buf;
}

/* A client that does not read, subscribed to frames and previews: once a preview waits in
 * its slot, frames still get the whole 64 KiB queue; its next previews are skipped while
 * the slot is taken, or while its queue is a quarter full; a client that reads gets every
 * preview. All that is queued arrives, each preview whole on its own line. */
static void test_previews_never_take_a_frames_room(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 0, 0);
    int slow = subscribed_client(loop, "[\"frame\",\"preview\"]");
    int reader = subscribed_client(loop, "[\"preview\"]");
    int frames_only = subscribed_client(loop, "[\"frame\"]");
    assert_int_equal(srv_subscribers(s, PROTO_PREVIEW), 2);
    assert_int_equal(srv_subscribers(s, PROTO_FRAME), 2);
    enum { PREVIEW_LEN = 40000, FRAME_LEN = 1000 };
    static char preview[PREVIEW_LEN + 1], frame[FRAME_LEN + 1];

    /* previews until the slow one's socket is full and one waits in its slot */
    unsigned sent, skipped, previews_queued = 0;
    for (int k = 0;; k++) {
        assert_true(k < 100);
        message(preview, PREVIEW_LEN, "preview", k);
        srv_broadcast_preview(s, preview, PREVIEW_LEN, &sent, &skipped);
        size_t len;
        free(read_all(loop, reader, &len));       /* the reader keeps up */
        assert_int_equal(len, PREVIEW_LEN + 1);
        if (skipped) {
            assert_int_equal(sent, 1);             /* the reader's */
            break;
        }
        assert_int_equal(sent, 2);
        previews_queued++;
    }
    /* the slot is taken: frames now fill the whole queue before the first drop */
    uint64_t dropped = srv_dropped_total(s);
    int frames_queued = 0;
    for (int n = 0; srv_dropped_total(s) == dropped; n++) {
        message(frame, FRAME_LEN, "frame", n);
        srv_broadcast(s, PROTO_FRAME, frame, FRAME_LEN);
        frames_queued += srv_dropped_total(s) == dropped;
        size_t len;
        free(read_all(loop, frames_only, &len));
    }
    assert_int_equal(frames_queued, 64 * 1024 / (FRAME_LEN + 1));
    /* its slot still taken: skipped for it, sent to the reader */
    message(preview, PREVIEW_LEN, "preview", 999);
    srv_broadcast_preview(s, preview, PREVIEW_LEN, &sent, &skipped);
    assert_int_equal(sent, 1);
    assert_int_equal(skipped, 1);

    /* it reads at last: every preview queued whole, then every frame, then the notice */
    size_t len;
    char *all = read_all(loop, slow, &len);
    assert_int_equal(all[len - 1], '\n');
    int previews = 0, frames = 0, notices = 0, n_expected = 0;
    for (char *line = all, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        size_t l = (size_t)(nl - line);
        int n = -1;
        sscanf(line, "{\"type\":\"%*[a-z]\",\"n\":%d", &n);
        if (strstr(line, "\"type\":\"preview\"") == line + 1) {
            assert_int_equal(l, PREVIEW_LEN);
            assert_int_equal(n, previews++);
            assert_int_equal(frames, 0);          /* queued before the frames: sent first */
        } else if (strstr(line, "\"type\":\"frame\"") == line + 1) {
            assert_int_equal(l, FRAME_LEN);
            assert_int_equal(n, n_expected++);
            frames++;
        } else if (strstr(line, "\"type\":\"dropped\"")) {
            notices++;
        } else {
            fail_msg("a line that is no message: %.80s (%zu bytes)", line, l);
        }
    }
    assert_int_equal(previews, (int)previews_queued);
    assert_int_equal(frames, frames_queued);
    assert_int_equal(notices, 1);
    free(all);
    /* caught up: its slot takes a preview again */
    message(preview, PREVIEW_LEN, "preview", 1000);
    srv_broadcast_preview(s, preview, PREVIEW_LEN, &sent, &skipped);
    assert_int_equal(sent, 2);
    assert_int_equal(skipped, 0);
    close(slow), close(reader), close(frames_only);
    srv_close(s);
    ev_free(loop);
}

/* A client behind on its queue (a quarter full or more) skips previews even with its
 * slot free; once it has caught up, it gets them again. */
static void test_preview_skipped_for_a_client_behind(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 0, 0);
    int c = subscribed_client(loop, "[\"frame\",\"preview\"]");
    static char frame[1001], preview[2001];
    unsigned sent, skipped;
    for (int n = 0; srv_dropped_total(s) == 0; n++) {
        message(frame, 1000, "frame", n);
        srv_broadcast(s, PROTO_FRAME, frame, 1000);
    }
    message(preview, 2000, "preview", 1);
    srv_broadcast_preview(s, preview, 2000, &sent, &skipped);
    assert_int_equal(sent, 0);
    assert_int_equal(skipped, 1);
    size_t len;
    char *all = read_all(loop, c, &len);
    assert_null(strstr(all, "\"preview\""));
    free(all);
    srv_broadcast_preview(s, preview, 2000, &sent, &skipped);
    assert_int_equal(sent, 1);
    assert_int_equal(skipped, 0);
    all = read_all(loop, c, &len);
    assert_int_equal(len, 2001);
    assert_memory_equal(all, preview, 2000);
    free(all);
    close(c);
    srv_close(s);
    ev_free(loop);
}

/* A preview starts only between two messages, after every message queued before it;
 * messages queued while it waits or is being written come after it: a client that
 * reads slowly gets whole lines, frames in their order. */
static void test_preview_goes_out_between_messages(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_create();
    struct server *s = open_server(loop, 0, 0);
    int c = subscribed_client(loop, "[\"frame\",\"preview\"]");
    int rcv = 4096;
    setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    static char frame[3001], preview[30001];
    unsigned sent, skipped;
    int frames_before[100], n_previews = 0, n_frames = 0;   /* per preview, by number */
    for (int k = 0; k < 12; k++) {   /* frames and previews interleaved, nothing read yet */
        message(frame, 3000, "frame", k);
        srv_broadcast(s, PROTO_FRAME, frame, 3000);
        n_frames++;
        if (k % 3 == 1) {
            message(preview, 30000, "preview", n_previews);
            srv_broadcast_preview(s, preview, 30000, &sent, &skipped);
            if (sent)
                frames_before[n_previews++] = n_frames;
        }
    }
    assert_int_equal(srv_dropped_total(s), 0);
    assert_true(n_previews >= 1);
    size_t len;
    char *all = read_all(loop, c, &len);
    int frames_seen = 0, previews_seen = 0;
    for (char *line = all, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        int k = -1;
        assert_int_equal(sscanf(line, "{\"type\":\"%*[a-z]\",\"n\":%d", &k), 1);
        bool is_preview = strncmp(line, "{\"type\":\"preview\",", 18) == 0;
        assert_int_equal((size_t)(nl - line), is_preview ? 30000u : 3000u);   /* whole */
        if (is_preview) {
            assert_int_equal(k, previews_seen++);
            assert_true(frames_seen >= frames_before[k]);
        } else {
            assert_int_equal(k, frames_seen++);
        }
    }
    assert_int_equal(frames_seen, n_frames);
    assert_int_equal(previews_seen, n_previews);
    free(all);
    close(c);
    srv_close(s);
    ev_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_are_bounded_per_turn),
        cmocka_unit_test(test_idle_client_closed),
        cmocka_unit_test(test_limit_per_uid),
        cmocka_unit_test(test_previews_never_take_a_frames_room),
        cmocka_unit_test(test_preview_skipped_for_a_client_behind),
        cmocka_unit_test(test_preview_goes_out_between_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
