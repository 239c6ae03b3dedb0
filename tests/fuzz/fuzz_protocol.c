/* libFuzzer target: the input is what a client sends the daemon's socket. One real
 * server (server.c on loop.c's event loop) listens on a socket in a private mkdtemp
 * directory (in $TMPDIR or /tmp) for the whole run; per input a client connects, writes the bytes,
 * shuts its sending side, and the loop runs (timeout 0, bounded) until the replies stop; the client
 * reads and discards them and closes, and the server must then let the client go. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "json_out.h"
#include "log.h"
#include "loop.h"
#include "server.h"

#define MAX_ROUNDS 256 /* loop iterations per input */
#define QUIET_ROUNDS 3 /* rounds without progress that end an input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[128];
static char sock_path[sizeof dir + 16];
static struct ev_loop *loop;
static struct server *srv;

static void hello(void *user, struct json_out *j)
{
    (void)user;
    json_raw(j, "{\"type\":\"hello\",\"protocol\":1,\"version\":");
    json_str(j, "0.1.0");
    json_raw(j, ",\"model\":");
    json_str(j, "fuzz");
    json_raw(j, ",\"classes\":[\"anger\",\"happiness\"]}");
}

static void status(void *user, struct json_out *j)
{
    (void)user;
    json_raw(j, "{\"type\":\"status\",\"uptime_s\":");
    json_num(j, 1.5, 1);
    json_raw(j, ",\"clients\":");
    json_int(j, srv ? srv_clients(srv) : 0);
    json_raw(j, ",\"source_connected\":true,\"source\":");
    json_str(j, "fuzz:\xff");
    json_raw(j, "}");
}

static void cleanup(void)
{
    srv_close(srv); /* removes the socket file */
    ev_free(loop);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERR); /* a line per connect would dominate the run */
    char err[256];
    /* $TMPDIR (scripts/fuzz gives each run its own) when the socket path fits */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > 64)
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/emotiond-fuzz-protocol.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("fuzz_protocol: mkdtemp");
        abort();
    }
    snprintf(sock_path, sizeof sock_path, "%s/s.sock", dir);
    loop = ev_create();
    /* no idle timeout: its once-a-second sweep would make runs depend on the clock */
    struct srv_config cfg = {.path = sock_path,
                             .group = NULL,
                             .listen_fd = -1,
                             .max_clients = 4,
                             .max_clients_per_uid = 2,
                             .idle_timeout_s = 0,
                             .client_buffer = 0};
    struct srv_callbacks cb = {.hello = hello, .status = status, .user = NULL};
    if (!loop || srv_open(loop, &cfg, &cb, &srv, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_protocol: %s\n", loop ? err : "ev_create failed");
        rmdir(dir);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static int connect_client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("fuzz_protocol: connect");
        abort();
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = connect_client();
    size_t sent = 0;
    bool shut = false, eof = false, write_failed = false;
    int quiet = 0;
    for (int round = 0; round < MAX_ROUNDS && !eof && quiet < QUIET_ROUNDS; round++) {
        bool progress = false;
        while (sent < size && !write_failed) { /* as much as the socket takes */
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                progress = true;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                /* full (EAGAIN), or the server closed on us (EPIPE, ECONNRESET) */
                write_failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
                break;
            }
        }
        if (!shut && (sent == size || write_failed)) {
            shutdown(fd, SHUT_WR);
            shut = true;
            progress = true;
        }
        if (ev_run_once(loop, 0) > 0)
            progress = true;
        char buf[16384];
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                progress = true;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                eof = true; /* the server closed this client (long line, flood) */
            break;
        }
        quiet = progress ? 0 : quiet + 1;
    }
    close(fd);
    /* the server must notice the hang-up and free the client */
    for (int round = 0; round < MAX_ROUNDS && srv_clients(srv) > 0; round++)
        ev_run_once(loop, 0);
    if (srv_clients(srv) != 0) {
        fprintf(stderr, "fuzz_protocol: the server kept a closed client\n");
        abort();
    }
    return 0;
}
