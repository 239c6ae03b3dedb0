#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "protocol.h"
#include "textsize.h"

#define DEFAULT_CLIENT_BUFFER (64 * 1024)
#define NOTICE_MAX 96
#define REFUSAL_MAX 160
#define KERNEL_BUFFER (32 * 1024)
/* Commands: a burst of 20, then 10 a second; more is a flood. */
#define CMD_BURST 20.0
#define CMD_RATE 10.0
/* Connections taken per loop turn: accepting until EAGAIN let a client that connects and
 * closes in a loop keep the loop in accept(), starving frames, signals and the rest. */
#define ACCEPTS_PER_TURN 8
#define SWEEP_PERIOD_MS 1000
/* A preview is queued for a client only while its queue of other messages is under this
 * share of the queue (a quarter): a client that is behind gets its frames first. */
#define PREVIEW_BEHIND_DIVISOR 4

struct client {
    struct server *srv;
    int fd, id;
    pid_t pid;
    uid_t uid;
    unsigned topics;
    int64_t last_rx_ns;          /* connect, or the last bytes it sent */
    char *out;
    size_t out_start, out_len;
    /* The preview slot, beside the queue: previews never take room from other messages.
       Written whole between two messages of the queue once started (pv_sending). */
    char *pv;
    size_t pv_cap, pv_start, pv_len;
    bool pv_sending;
    char in[PROTO_LINE_MAX + 1];
    size_t in_len;
    uint64_t dropped_pending, dropped_total;
    bool read_closed;
    uint32_t interest;
    double tokens;
    int64_t tokens_ns;
    struct client *next;
};

struct server {
    struct ev_loop *loop;
    int lfd;
    bool created;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int max_clients, max_per_uid, n_clients, next_id;
    int64_t idle_ns;
    int sweep_fd;
    size_t buffer;
    struct srv_callbacks cb;
    struct client *clients;
    uint64_t dropped_total;
};

static void client_close(struct client *c, const char *why)
{
    struct server *s = c->srv;
    log_info("client %d (pid %d) disconnected: %s%s", c->id, (int)c->pid, why,
             c->dropped_total ? "; some messages were dropped for it" : "");
    ev_remove(s->loop, c->fd);
    close(c->fd);
    for (struct client **p = &s->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    s->n_clients--;
    free(c->out);
    free(c->pv);
    free(c);
}

/* Appends text + '\n' if it fits; false otherwise. */
static bool client_append(struct client *c, const char *text, size_t len)
{
    size_t cap = c->srv->buffer;
    if (c->out_len + len + 1 > cap)
        return false;
    if (c->out_start + c->out_len + len + 1 > cap) {
        memmove(c->out, c->out + c->out_start, c->out_len);
        c->out_start = 0;
    }
    char *end = c->out + c->out_start + c->out_len;
    memcpy(end, text, len);
    end[len] = '\n';
    c->out_len += len + 1;
    return true;
}

static size_t drop_notice(struct client *c, char *buf, size_t cap)
{
    struct json_out j;
    json_init(&j, buf, cap);
    proto_dropped(&j, c->dropped_pending, c->dropped_total);
    return j.overflow ? 0 : j.len;
}

/* Queues a message, first telling of drops if there is room for both. */
static void client_queue(struct client *c, const char *msg, size_t len)
{
    if (c->dropped_pending) {
        char notice[NOTICE_MAX];
        size_t nlen = drop_notice(c, notice, sizeof notice);
        if (c->out_len + nlen + 1 + len + 1 <= c->srv->buffer) {
            client_append(c, notice, nlen);
            c->dropped_pending = 0;
        }
    }
    if (!client_append(c, msg, len)) {
        c->dropped_pending++;
        c->dropped_total++;
        c->srv->dropped_total++;
    }
}

static void client_interest(struct client *c)
{
    uint32_t want = (c->read_closed ? 0 : EPOLLIN) | (c->out_len || c->pv_len ? EPOLLOUT : 0);
    if (want != c->interest && ev_modify(c->srv->loop, c->fd, want) == 0)
        c->interest = want;
}

/* Sends from *start while *len lasts. 1: all sent; 0: the socket is full; -1: the client
 * was closed. */
static int send_some(struct client *c, const char *buf, size_t *start, size_t *len)
{
    while (*len) {
        ssize_t n = send(c->fd, buf + *start, *len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            client_close(c, n < 0 ? strerror(errno) : "write failed");
            return -1;
        }
        *start += (size_t)n;
        *len -= (size_t)n;
    }
    return 1;
}

/* Writes what the socket takes: a preview begun goes out whole first, then the queue; a
 * waiting preview starts only once the queue is empty (between two messages). False when
 * the client was closed. */
static bool client_flush(struct client *c)
{
    int rc = 1;
    for (;;) {
        if (c->pv_sending) {
            if ((rc = send_some(c, c->pv, &c->pv_start, &c->pv_len)) <= 0)
                goto done;
            c->pv_sending = false;
            c->pv_start = 0;
        }
        if ((rc = send_some(c, c->out, &c->out_start, &c->out_len)) <= 0)
            goto done;
        c->out_start = 0;
        if (c->dropped_pending) {
            char notice[NOTICE_MAX];     /* caught up: tell it what it missed */
            client_append(c, notice, drop_notice(c, notice, sizeof notice));
            c->dropped_pending = 0;
            continue;
        }
        if (!c->pv_len)
            break;
        c->pv_sending = true;
    }
done:
    if (rc < 0)
        return false;
    client_interest(c);
    return true;
}

static void send_error(struct client *c, const char *fmt, const char *arg)
{
    char why[TEXT_WHY], msg[400];
    snprintf(why, sizeof why, fmt, arg);
    struct json_out j;
    json_init(&j, msg, sizeof msg);
    proto_error(&j, why);
    client_queue(c, msg, j.len);
}

static void answer_subscribe(struct client *c, unsigned topics)
{
    c->topics = topics;
    char msg[NOTICE_MAX];
    struct json_out j;
    json_init(&j, msg, sizeof msg);
    proto_subscribed(&j, topics);
    client_queue(c, msg, j.len);
}

static void answer_status(struct client *c)
{
    static char msg[PROTO_MSG_MAX];
    struct json_out j;
    json_init(&j, msg, sizeof msg);
    c->srv->cb.status(c->srv->cb.user, &j);
    if (j.overflow)
        send_error(c, "%s", "status too large to send");
    else
        client_queue(c, msg, j.len);
}

/* One command line. False for a flood: the caller closes the client. */
static bool handle_line(struct client *c, char *line, size_t len)
{
    int64_t now = mono_ns();
    c->tokens += (double)(now - c->tokens_ns) / 1e9 * CMD_RATE;
    c->tokens = c->tokens > CMD_BURST ? CMD_BURST : c->tokens;
    c->tokens_ns = now;
    if (c->tokens < 1) {
        send_error(c, "%s", "too many commands; closing");
        return false;
    }
    c->tokens -= 1;
    struct proto_command cmd;
    proto_parse_command(line, len, &cmd);
    if (cmd.cmd == PROTO_CMD_SUBSCRIBE)
        answer_subscribe(c, cmd.topics);
    else if (cmd.cmd == PROTO_CMD_STATUS)
        answer_status(c);
    else if (cmd.cmd == PROTO_CMD_BAD)
        send_error(c, "%s", cmd.error);
    return true;
}

/* Sends what it can of the last words (an error), then closes. */
static void close_after_flush(struct client *c, const char *why)
{
    if (client_flush(c))
        client_close(c, why);
}

static void on_client(void *user, uint32_t events)
{
    struct client *c = user;
    if (events & EPOLLERR) {
        client_close(c, "socket error");
        return;
    }
    if (events & EPOLLIN) {
        for (;;) {
            ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0) {
                client_close(c, strerror(errno));
                return;
            }
            if (n == 0) {   /* the client shut its side: answer what it sent, keep sending */
                if (c->in_len && !handle_line(c, c->in, c->in_len)) {
                    close_after_flush(c, "flood of commands");
                    return;
                }
                c->in_len = 0;
                c->read_closed = true;
                break;
            }
            c->in_len += (size_t)n;
            c->last_rx_ns = mono_ns();
            char *start = c->in, *nl;
            while ((nl = memchr(start, '\n', c->in_len - (size_t)(start - c->in)))) {
                if (!handle_line(c, start, (size_t)(nl - start))) {
                    close_after_flush(c, "flood of commands");
                    return;
                }
                start = nl + 1;
            }
            c->in_len -= (size_t)(start - c->in);
            memmove(c->in, start, c->in_len);
            if (c->in_len > PROTO_LINE_MAX) {
                send_error(c, "%s", "line longer than 4096 bytes; closing");
                close_after_flush(c, "line longer than 4096 bytes");
                return;
            }
        }
    }
    if ((events & EPOLLHUP) && c->read_closed) {
        client_close(c, "hung up");
        return;
    }
    client_flush(c);
}

static void write_hello(struct server *s, struct client *c)
{
    static char msg[PROTO_MSG_MAX];
    struct json_out j;
    json_init(&j, msg, sizeof msg);
    s->cb.hello(s->cb.user, &j);
    if (j.overflow)
        log_err("hello message too large (%zu bytes)", sizeof msg);
    else
        client_queue(c, msg, j.len);
}

/* Tells a connection why it is refused, and closes it. */
static void refuse(int fd, const char *why)
{
    char msg[REFUSAL_MAX];
    struct json_out j;
    json_init(&j, msg, sizeof msg - 1);
    proto_error(&j, why);
    msg[j.len] = '\n';
    if (send(fd, msg, j.len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("refused client: %s", strerror(errno));
    close(fd);
}

static int clients_of_uid(const struct server *s, uid_t uid)
{
    int n = 0;
    for (const struct client *c = s->clients; c; c = c->next)
        n += c->uid == uid;
    return n;
}

static void on_listen(void *user, uint32_t events)
{
    (void)events;
    struct server *s = user;
    /* a bounded number per turn; the listening socket stays readable for the rest */
    for (int turn = 0; turn < ACCEPTS_PER_TURN; turn++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_err("socket %s: accept: %s", s->path, strerror(errno));
            return;
        }
        /* what the kernel queues for a client is stale by the time it is read: keep it
           small, so a lagging client starts losing messages early rather than late */
        int sndbuf = KERNEL_BUFFER;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
        socklen_t clen = sizeof cred;
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
        char why[96];
        if (s->n_clients >= s->max_clients) {
            snprintf(why, sizeof why, "too many clients (%d)", s->max_clients);
            refuse(fd, why);
            log_warn("refused a client (pid %d, uid %d): already %d clients (max_clients)",
                     (int)cred.pid, (int)cred.uid, s->max_clients);
            continue;
        }
        if (s->max_per_uid > 0 && clients_of_uid(s, cred.uid) >= s->max_per_uid) {
            snprintf(why, sizeof why, "too many clients of uid %d (%d)", (int)cred.uid,
                     s->max_per_uid);
            refuse(fd, why);
            log_warn("refused a client (pid %d, uid %d): already %d clients of that user "
                     "(max_clients_per_uid)", (int)cred.pid, (int)cred.uid, s->max_per_uid);
            continue;
        }
        struct client *c = calloc(1, sizeof *c);
        char *out = malloc(s->buffer);
        if (!c || !out || ev_add(s->loop, fd, EPOLLIN, on_client, c) != 0) {
            log_err("socket %s: cannot take a client: %s", s->path, strerror(errno ? errno : ENOMEM));
            free(c);
            free(out);
            close(fd);
            continue;
        }
        int64_t now = mono_ns();
        *c = (struct client){.srv = s, .fd = fd, .id = ++s->next_id, .pid = cred.pid,
                             .uid = cred.uid, .topics = PROTO_DEFAULT_TOPICS, .out = out,
                             .interest = EPOLLIN, .tokens = CMD_BURST, .tokens_ns = now,
                             .last_rx_ns = now, .next = s->clients};
        s->clients = c;
        s->n_clients++;
        log_info("client %d connected: pid %d, uid %d, gid %d", c->id, (int)cred.pid,
                 (int)cred.uid, (int)cred.gid);
        write_hello(s, c);
        client_flush(c);
    }
}

/* Once a second: a client subscribed to nothing that has sent nothing for the idle time
 * only holds a slot, and is closed (a subscriber may stay silent for ever). */
static void on_sweep(void *user, uint32_t events)
{
    (void)events;
    struct server *s = user;
    uint64_t expirations;
    if (read(s->sweep_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    int64_t now = mono_ns();
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (c->topics || now - c->last_rx_ns < s->idle_ns)
            continue;
        char why[96];
        snprintf(why, sizeof why, "idle for %g s with no subscription", (double)s->idle_ns / 1e9);
        send_error(c, "%s; closing", why);
        close_after_flush(c, why);
    }
}

void srv_broadcast(struct server *s, enum proto_topic topic, const char *msg, size_t len)
{
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (!(c->topics & topic))
            continue;
        client_queue(c, msg, len);
        client_flush(c);
    }
}

int srv_subscribers(const struct server *s, enum proto_topic topic)
{
    int n = 0;
    for (const struct client *c = s->clients; c; c = c->next)
        n += (c->topics & topic) != 0;
    return n;
}

/* Puts a preview in a client's slot: false when its slot is taken (a preview not yet
 * written whole) or it is behind on its other messages. */
static bool client_take_preview(struct client *c, const char *msg, size_t len)
{
    if (c->pv_len || c->out_len >= c->srv->buffer / PREVIEW_BEHIND_DIVISOR)
        return false;
    if (len + 1 > c->pv_cap) {
        char *pv = realloc(c->pv, len + 1);
        if (!pv)
            return false;
        c->pv = pv;
        c->pv_cap = len + 1;
    }
    memcpy(c->pv, msg, len);
    c->pv[len] = '\n';
    c->pv_start = 0;
    c->pv_len = len + 1;
    return true;
}

void srv_broadcast_preview(struct server *s, const char *msg, size_t len, unsigned *sent,
                           unsigned *skipped)
{
    *sent = *skipped = 0;
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (!(c->topics & PROTO_PREVIEW))
            continue;
        if (!client_take_preview(c, msg, len)) {
            (*skipped)++;
            continue;
        }
        (*sent)++;
        client_flush(c);
    }
}

void srv_hello_all(struct server *s)
{
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        write_hello(s, c);
        client_flush(c);
    }
}

int srv_clients(const struct server *s) { return s->n_clients; }
uint64_t srv_dropped_total(const struct server *s) { return s->dropped_total; }

static int create_socket(struct server *s, const struct srv_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(cfg->path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "socket path %s is too long (at most %zu bytes)", cfg->path,
                 sizeof addr.sun_path - 1);
        return -1;
    }
    strcpy(addr.sun_path, cfg->path);
    snprintf(s->path, sizeof s->path, "%s", cfg->path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(cfg->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; not touching it", cfg->path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof addr) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            snprintf(err, errlen, "%s: another process is serving this socket", cfg->path);
            return -1;
        }
        unlink(cfg->path);      /* stale, left by a crash */
    }
    /* Bound and listening under a temporary name, then renamed into place: a client
       never finds the path before it accepts connections. */
    struct sockaddr_un tmp = addr;
    int n = snprintf(tmp.sun_path, sizeof tmp.sun_path, "%s.%d", cfg->path, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp.sun_path)
        n = snprintf(tmp.sun_path, sizeof tmp.sun_path, "%s", cfg->path);
    unlink(tmp.sun_path);
    mode_t old = umask(0117);   /* created 0660, never wider even for a moment */
    int rc = bind(s->lfd, (struct sockaddr *)&tmp, sizeof tmp);
    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create socket %s: %s%s", cfg->path, strerror(errno),
                 errno == ENOENT ? " (does its directory exist?)" : "");
        return -1;
    }
    if (cfg->group && cfg->group[0]) {
        struct group *g = getgrnam(cfg->group);
        if (!g)
            log_warn("socket %s: group '%s' does not exist; only this user can connect",
                     cfg->path, cfg->group);
        else if (chown(tmp.sun_path, (uid_t)-1, g->gr_gid) != 0)
            log_warn("socket %s: cannot give it to group '%s': %s", cfg->path, cfg->group,
                     strerror(errno));
    }
    if (chmod(tmp.sun_path, 0660) != 0)
        log_warn("socket %s: chmod: %s", cfg->path, strerror(errno));
    if (listen(s->lfd, 64) != 0 || rename(tmp.sun_path, cfg->path) != 0) {
        snprintf(err, errlen, "listen on %s: %s", cfg->path, strerror(errno));
        unlink(tmp.sun_path);
        return -1;
    }
    s->created = true;
    return 0;
}

int srv_open(struct ev_loop *loop, const struct srv_config *cfg, const struct srv_callbacks *cb,
             struct server **out, char *err, size_t errlen)
{
    *out = NULL;
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->cb = *cb;
    s->lfd = -1;
    s->sweep_fd = -1;
    s->max_clients = cfg->max_clients > 0 ? cfg->max_clients : 16;
    s->max_per_uid = cfg->max_clients_per_uid;
    s->idle_ns = (int64_t)(cfg->idle_timeout_s * 1e9);
    s->buffer = cfg->client_buffer ? cfg->client_buffer : DEFAULT_CLIENT_BUFFER;
    if (cfg->listen_fd >= 0) {
        s->lfd = cfg->listen_fd;
        snprintf(s->path, sizeof s->path, "%s", "(systemd socket)");
        int fl = fcntl(s->lfd, F_GETFL);
        if (fl < 0 || fcntl(s->lfd, F_SETFL, fl | O_NONBLOCK) != 0) {
            snprintf(err, errlen, "socket from systemd: %s", strerror(errno));
            goto fail;
        }
    } else if (create_socket(s, cfg, err, errlen) != 0) {
        goto fail;
    }
    if (ev_add(loop, s->lfd, EPOLLIN, on_listen, s) != 0) {
        snprintf(err, errlen, "event loop: %s", strerror(errno));
        goto fail;
    }
    if (s->idle_ns > 0) {
        struct itimerspec period = {{SWEEP_PERIOD_MS / 1000, 0}, {SWEEP_PERIOD_MS / 1000, 0}};
        s->sweep_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (s->sweep_fd < 0 || timerfd_settime(s->sweep_fd, 0, &period, NULL) != 0 ||
            ev_add(loop, s->sweep_fd, EPOLLIN, on_sweep, s) != 0) {
            snprintf(err, errlen, "idle timer: %s", strerror(errno));
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    srv_close(s);
    return -1;
}

void srv_close(struct server *s)
{
    if (!s)
        return;
    while (s->clients)
        client_close(s->clients, "daemon stopping");
    if (s->lfd >= 0) {
        ev_remove(s->loop, s->lfd);
        close(s->lfd);
    }
    if (s->sweep_fd >= 0) {
        ev_remove(s->loop, s->sweep_fd);
        close(s->sweep_fd);
    }
    if (s->created)
        unlink(s->path);
    free(s);
}
