/* The socket server's fairness, turn by turn on a real Unix socket: a bounded number of
 * connections accepted per loop turn (other descriptors are served in the same turn),
 * the idle timeout for clients subscribed to nothing, and the per-user limit. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_are_bounded_per_turn),
        cmocka_unit_test(test_idle_client_closed),
        cmocka_unit_test(test_limit_per_uid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
