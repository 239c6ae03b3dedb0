/* emotiond-web: the local dashboard. A client of emotiond's socket (protocol 1) that
 * serves one page over HTTP, on 127.0.0.1:8737 by default: live plots of the telemetry
 * and of the labels seen, the current faces and, when the daemon's preview is on, the
 * camera picture with its boxes (docs/web.md). The daemon's messages reach the page as
 * server-sent events. One thread, one poll loop: the daemon's socket, libmicrohttpd's
 * epoll set, signals and a one-second tick. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "assets.h"
#include "client_main.h"
#include "clock.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "options.h"
#include "preview.h"
#include "reader.h"
#include "selfstat.h"
#include "server.h"

#define STATE_EVERY_S 2.0            /* the page's "web" message: state and heartbeat */
/* JSON written here: 15 digits keep a Unix time's milliseconds (and "0.1" short); the
 * history's columns, relative and many, take 6 (history.h) */
#define JSON_OUT (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define JSON_HISTORY (JSON_COMPACT | JSON_REAL_PRECISION(6))
#define SUBSCRIBE "{\"cmd\":\"subscribe\",\"topics\":[\"frame\",\"telemetry\",\"preview\"]}\n"

struct dashboard {
    struct web_options o;
    struct assets assets;
    struct reader *rd;
    struct web_server *srv;
    struct history history;
    struct preview preview;
    char *hello;                     /* the daemon's latest hello as sent, or NULL */
    char *telemetry;                 /* the latest telemetry message as sent, or NULL */
    char *preview_meta;              /* the latest preview message without its picture */
    double started;
    bool down_logged, no_preview_topic_logged;
    uint64_t connects, daemon_dropped, messages;
};

static void set_text(char **slot, const char *text, size_t len)
{
    free(*slot);
    *slot = text ? strndup(text, len) : NULL;
}

static void broadcast(struct dashboard *d, const char *text, size_t len)
{
    if (text && d->srv)
        web_server_broadcast(d->srv, text, len);
}

static void broadcast_json(struct dashboard *d, json_t *j)
{
    char *text = json_dumps(j, JSON_OUT);
    if (text)
        broadcast(d, text, strlen(text));
    free(text);
}

/* The program's own state: the page's "web" message and /healthz. */
static json_t *state_json(struct dashboard *d)
{
    struct web_server_stats st = {0};
    if (d->srv)
        web_server_stats(d->srv, &st);
    return json_pack("{ss ss sb ss sI sI sI sI sf sI sI sI sI sI sI sI ss sI}", "type", "web",
                     "version", EMOTIOND_VERSION, "daemon_connected", reader_fd(d->rd) >= 0,
                     "daemon_socket", d->o.socket, "daemon_connects", (json_int_t)d->connects,
                     "daemon_messages", (json_int_t)d->messages, "daemon_garbage",
                     (json_int_t)reader_garbage(d->rd), "daemon_dropped",
                     (json_int_t)d->daemon_dropped, "uptime_s",
                     mono_s() - d->started, "rss_kb", (json_int_t)selfstat_rss_kb(),
                     "connections", (json_int_t)st.connections, "streams",
                     (json_int_t)st.streams, "stream_drops", (json_int_t)st.stream_drops,
                     "requests", (json_int_t)st.requests, "rejected", (json_int_t)st.rejected,
                     "cut", (json_int_t)st.cut, "preview",
                     preview_state_name(d->preview.state), "previews",
                     (json_int_t)d->preview.received);
}

static void broadcast_state(struct dashboard *d)
{
    json_t *j = state_json(d);
    broadcast_json(d, j);
    json_decref(j);
}

/* ---- what the server asks ---- */

static void push_json(struct sse_queue *q, json_t *j, size_t flags)
{
    char *text = json_dumps(j, flags);
    if (text)
        sse_push(q, text, strlen(text));
    free(text);
}

static void greet(void *user, struct sse_queue *q)
{
    struct dashboard *d = user;
    json_t *state = state_json(d), *history = history_json(&d->history);
    push_json(q, state, JSON_OUT);
    if (d->hello)
        sse_push(q, d->hello, strlen(d->hello));
    push_json(q, history, JSON_HISTORY);
    if (d->telemetry)                /* the figures of now, before the next message */
        sse_push(q, d->telemetry, strlen(d->telemetry));
    if (d->preview_meta && d->preview.jpeg)
        sse_push(q, d->preview_meta, strlen(d->preview_meta));
    json_decref(state);
    json_decref(history);
}

static char *status_text(void *user)
{
    json_t *j = state_json(user);
    char *text = json_dumps(j, JSON_OUT);
    json_decref(j);
    return text;
}

static struct preview_jpeg *current_preview(void *user, bool *expected)
{
    struct dashboard *d = user;
    *expected = d->preview.state == PREVIEW_ENABLED && reader_fd(d->rd) >= 0;
    return preview_ref(&d->preview);
}

/* ---- the daemon's messages ---- */

static void on_preview(struct dashboard *d, json_t *msg)
{
    char err[128];
    json_t *meta = preview_take(&d->preview, msg, err, sizeof err);
    if (!meta) {
        log_warn("emotiond sent %s; skipped", err);
        return;
    }
    char *text = json_dumps(meta, JSON_OUT);
    json_decref(meta);
    if (text) {
        broadcast(d, text, strlen(text));
        set_text(&d->preview_meta, text, strlen(text));
    }
    free(text);
}

static void on_message(void *user, json_t *msg, const char *type, const char *line, size_t len)
{
    struct dashboard *d = user;
    d->messages++;
    if (!strcmp(type, "frame")) {
        history_add_frame(&d->history, msg);
        broadcast(d, line, len);
    } else if (!strcmp(type, "telemetry")) {
        struct history_sample s;
        if (history_sample_of(msg, &s) == 0)
            history_add_sample(&d->history, &s);
        set_text(&d->telemetry, line, len);
        broadcast(d, line, len);
    } else if (!strcmp(type, "preview")) {
        on_preview(d, msg);
    } else if (!strcmp(type, "hello")) {
        set_text(&d->hello, line, len);
        preview_hello(&d->preview, msg);
        if (d->preview.state != PREVIEW_ENABLED)
            set_text(&d->preview_meta, NULL, 0);
        log_info("emotiond %s: model %s, source %s, preview %s",
                 json_string_value(json_object_get(msg, "version")),
                 json_string_value(json_object_get(msg, "model")),
                 json_string_value(json_object_get(msg, "source")),
                 preview_state_name(d->preview.state));
        broadcast(d, line, len);
        broadcast_state(d);
    } else if (!strcmp(type, "dropped")) {
        json_int_t n = json_integer_value(json_object_get(msg, "count"));
        d->daemon_dropped += n > 0 ? (uint64_t)n : 0;
        log_warn("emotiond dropped %lld messages for the dashboard (it read too slowly)",
                 (long long)n);
    } else if (!strcmp(type, "error")) {
        const char *e = json_string_value(json_object_get(msg, "error"));
        /* a daemon without the preview topic refuses the subscription and keeps its
         * default one (frame, telemetry): all but the picture still works */
        if (e && strstr(e, "preview")) {
            if (!d->no_preview_topic_logged)
                log_info("this emotiond has no preview topic (%s): no camera picture", e);
            d->no_preview_topic_logged = true;
        } else {
            log_warn("emotiond says: %s", e ? e : "(an error without text)");
        }
    }                            /* subscribed, status, later types: nothing to do */
}

/* ---- the daemon's socket ---- */

static void daemon_lost(struct dashboard *d, const char *why)
{
    log_warn("%s; reconnecting", why);
    reader_close(d->rd);
    preview_clear(&d->preview);
    set_text(&d->preview_meta, NULL, 0);
    set_text(&d->hello, NULL, 0);
    set_text(&d->telemetry, NULL, 0);
    broadcast_state(d);
}

static void daemon_socket(struct dashboard *d, double now)
{
    char err[512];
    if (reader_fd(d->rd) >= 0 || reader_retry_in(d->rd, now) > 0)
        return;
    if (reader_connect(d->rd, err, sizeof err) == 0) {
        /* a fresh socket has room for one short line */
        ssize_t n = write(reader_fd(d->rd), SUBSCRIBE, strlen(SUBSCRIBE));
        if (n == (ssize_t)strlen(SUBSCRIBE)) {
            d->connects++;
            d->down_logged = false;
            log_info("connected to emotiond at %s", d->o.socket);
            broadcast_state(d);
            return;
        }
        snprintf(err, sizeof err, "cannot subscribe at %s: %s", d->o.socket,
                 n < 0 ? strerror(errno) : "short write");
        reader_close(d->rd);
    }
    if (!d->down_logged)
        log_warn("%s; retrying with backoff up to %.0f s, serving the page meanwhile", err,
                 READER_RETRY_MAX_S);
    d->down_logged = true;
}

/* ---- the loop ---- */

static void notify(struct dashboard *d)
{
    struct web_server_stats st;
    web_server_stats(d->srv, &st);
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=emotiond %s, %u dashboards open, %ld kB resident",
               reader_fd(d->rd) >= 0 ? "connected" : "not connected", st.streams,
               selfstat_rss_kb());
}

static int run(struct dashboard *d, int sig_fd)
{
    char err[512];
    double last_tick = 0, last_state = 0;
    sd_notify(0, "READY=1");
    for (;;) {
        double now = mono_s();
        daemon_socket(d, now);
        web_server_run(d->srv, now);
        if (now - last_tick >= 1) {
            notify(d);
            last_tick = now;
        }
        if (now - last_state >= STATE_EVERY_S) {
            broadcast_state(d);
            last_state = now;
        }
        int wait_ms = web_server_timeout_ms(d->srv, 1000);
        double retry_in = reader_retry_in(d->rd, now);
        if (reader_fd(d->rd) < 0 && retry_in * 1000 < wait_ms)
            wait_ms = retry_in > 0 ? (int)(retry_in * 1000) + 1 : 0;
        struct pollfd fds[3] = {{sig_fd, POLLIN, 0}, {reader_fd(d->rd), POLLIN, 0},
                                {web_server_fd(d->srv), POLLIN, 0}};
        int n = poll(fds, 3, wait_ms);
        if (n < 0 && errno != EINTR) {
            log_err("poll: %s", strerror(errno));
            return 1;
        }
        if (fds[0].revents & POLLIN) {
            int sig = client_signal(sig_fd);
            if (sig == SIGHUP) {
                log_info("SIGHUP: nothing to reload (restart emotiond-web to read its config)");
            } else if (sig) {
                log_info("%s: stopping", strsignal(sig));
                sd_notify(0, "STOPPING=1");
                return 0;
            }
        }
        if (fds[1].fd >= 0 && fds[1].revents &&
            reader_read(d->rd, on_message, d, err, sizeof err))
            daemon_lost(d, err);
    }
}

/* ---- start ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: emotiond-web [-c FILE] [--socket PATH] [--bind ADDRESS] [--port N]\n"
            "                    [--web-root DIR] [--log-level LEVEL] [--check-config]\n"
            "                    [--version] [--help]\n"
            "  -c FILE           config file, its [web] section and [daemon] socket\n"
            "                    (default %s; built-in defaults if absent)\n"
            "  --socket PATH     the daemon's socket\n"
            "  --bind ADDRESS    the address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N          the TCP port (default 8737)\n"
            "  --web-root DIR    the page's files (default /usr/share/emotiond/web)\n"
            "  --log-level LEVEL error, warning, info or debug\n"
            "  --check-config    validate, print the effective [web] settings, exit 0 or 1\n"
            "The page, its plots and the bind address's risk: /usr/share/doc/emotiond/web.md\n",
            CONFIG_DEFAULT_PATH);
}

static void version(void)
{
    printf("emotiond-web %s (libmicrohttpd %s)\n", EMOTIOND_VERSION, MHD_get_version());
}

static const struct client_flag FLAGS[] = {
    {"socket", "daemon", "socket", NULL},   {"bind", "web", "bind", NULL},
    {"port", "web", "port", NULL},          {"web-root", "web", "web_root", NULL},
    {"log-level", "web", "log_level", NULL},
};

static const struct client_program PROGRAM = {
    .name = "emotiond-web", .section = "web", .flags = FLAGS,
    .n_flags = sizeof FLAGS / sizeof *FLAGS, .usage = usage, .version = version,
    .bad_file_status = CLIENT_EX_CONFIG,     /* restarting would not mend the file */
};

int main(int argc, char **argv)
{
    static struct config cfg;
    static struct dashboard d;
    bool check = false;
    char origin[CONFIG_STR + 16], err[1000];
    int rc = client_configure(&PROGRAM, argc, argv, &cfg, &check, origin, sizeof origin);
    if (rc >= 0)
        return rc;
    if (web_options_resolve(&cfg, origin, EMOTIOND_WEB_SOURCE_ROOT, &d.o, err, sizeof err) ||
        assets_load(&d.assets, d.o.web_root, err, sizeof err)) {
        fprintf(stderr, "emotiond-web: %s\n", err);
        return check ? 1 : CLIENT_EX_CONFIG;
    }
    if (check) {
        client_print_config(&PROGRAM, &cfg, origin);
        printf("# resolved: http://%s%s%s:%d/, the page from %s%s\n", d.o.ipv6 ? "[" : "",
               d.o.bind, d.o.ipv6 ? "]" : "", d.o.port, d.o.web_root,
               d.o.loopback ? "" : "; NOT loopback: reachable from the network");
        assets_free(&d.assets);
        return 0;
    }
    client_log_start(&PROGRAM, d.o.log_level);
    /* SIGHUP too: its default would end the process, and systemd would not restart it */
    int sig_fd = client_signals(true);

    d.started = mono_s();
    history_init(&d.history);
    d.rd = reader_new(d.o.socket);
    struct web_handlers h = {&d, greet, status_text, current_preview};
    d.srv = sig_fd >= 0 && d.rd ? web_server_start(&d.o, &d.assets, &h, err, sizeof err) : NULL;
    if (!d.srv) {
        fprintf(stderr, "emotiond-web: %s\n", sig_fd < 0 || !d.rd ? strerror(errno) : err);
        rc = 1;
    } else {
        log_info("emotiond-web %s: http://%s%s%s:%d/ (the page from %s), emotiond at %s",
                 EMOTIOND_VERSION, d.o.ipv6 ? "[" : "", d.o.bind, d.o.ipv6 ? "]" : "", d.o.port,
                 d.o.web_root, d.o.socket);
        if (!d.o.loopback)
            log_warn("listening on %s, not loopback: anyone who can reach port %d sees the "
                     "dashboard%s; there is no login (docs/web.md)", d.o.bind, d.o.port,
                     " and, when it is on, the camera preview");
        rc = run(&d, sig_fd);
    }
    web_server_stop(d.srv);
    reader_free(d.rd);
    preview_clear(&d.preview);
    free(d.hello);
    free(d.telemetry);
    free(d.preview_meta);
    assets_free(&d.assets);
    if (sig_fd >= 0)
        close(sig_fd);
    return rc;
}
