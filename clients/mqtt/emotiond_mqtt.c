/* emotiond-mqtt: the fleet bridge. Reads emotiond's socket and publishes to an MQTT
 * broker under PREFIX: status (retained online/offline, offline as the last will), hello
 * (retained), faces, telemetry, summary and events (docs/mqtt.md). One thread, one poll
 * loop: the daemon's socket, the broker's, signals and the summary clock. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "client_main.h"
#include "clock.h"
#include "config.h"
#include "discovery.h"
#include "log.h"
#include "options.h"
#include "publisher.h"
#include "queue.h"
#include "reader.h"

#define STOP_FLUSH_S 2.0        /* SIGTERM: time left to the queue, then "offline" */
#define MAX_FACES 64
#define MAX_EVENTS 64

struct bridge {
    struct mqtt_options o;
    struct reader *rd;
    struct publisher *pub;
    struct bqueue *q;
    struct agg *agg;
    json_t *hello;               /* the daemon's latest, with ours added; NULL before */
    bool hello_pending;          /* not yet published since it changed or we reconnected */
    struct agg_window window;                /* wall clock */
    bool socket_down_logged;
    uint64_t daemon_dropped, daemon_connects;
    int exit_code;
};

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *topic_of(const struct bridge *b, const char *leaf)
{
    char *t = NULL;
    return asprintf(&t, "%s/%s", b->o.prefix, leaf) < 0 ? NULL : t;
}

/* Queues a message; takes payload (malloc'd). */
static void enqueue(struct bridge *b, enum bq_class cls, const char *leaf, char *payload)
{
    char *topic = topic_of(b, leaf);
    if (!topic || !payload) {
        free(topic);
        free(payload);
        return;
    }
    struct bq_msg m = {topic, payload, strlen(payload), false};
    if (bq_push(b->q, cls, m))
        log_debug("queue full (%d): dropped a message", b->o.queue_size);
}

static void enqueue_json(struct bridge *b, enum bq_class cls, const char *leaf, json_t *j)
{
    enqueue(b, cls, leaf, json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)));
}

/* Retained state goes straight to the broker when it is there; it is sent again on
 * every reconnection, so it needs no place in the queue. */
static void publish_now(struct bridge *b, const char *leaf, const char *payload, bool retain)
{
    char *topic = topic_of(b, leaf);
    if (topic)
        pub_send(b->pub, topic, payload, strlen(payload), retain);
    free(topic);
}

static void publish_discovery_one(void *user, const char *topic, json_t *payload)
{
    struct bridge *b = user;
    char *text = json_dumps(payload, JSON_COMPACT);
    if (text)
        pub_send(b->pub, topic, text, strlen(text), true);
    free(text);
}

static void publish_state(struct bridge *b)
{
    if (!pub_up(b->pub))
        return;
    if (b->hello_pending && b->hello) {
        char *text = json_dumps(b->hello, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (text)
            publish_now(b, "hello", text, true);
        free(text);
        if (b->o.homeassistant)
            ha_discovery(&b->o, b->hello, publish_discovery_one, b);
    }
    b->hello_pending = false;
}

/* ---- summaries ---- */

/* The run of the daemon whose tracks a message names: the last hello's instance, null
 * before any hello or from a daemon that sends none. */
static json_t *instance_of(const struct bridge *b)
{
    json_t *i = json_object_get(b->hello, "instance");
    return json_is_string(i) ? json_incref(i) : json_null();
}

static void summary(struct bridge *b, double start, double end)
{
    json_t *s = agg_summary(b->agg, start, end);
    json_object_set_new(s, "instance", instance_of(b));
    struct bq_stats st = bq_stats(b->q);
    json_object_set_new(s, "bridge",
                        json_pack("{sI sI sI sI sI sb sI}", "queued", (json_int_t)st.length,
                                  "dropped_frames", (json_int_t)st.dropped_frame,
                                  "dropped_summaries", (json_int_t)st.dropped_keep,
                                  "broker_connects", (json_int_t)pub_connects(b->pub),
                                  "daemon_dropped", (json_int_t)b->daemon_dropped,
                                  "daemon_connected", reader_fd(b->rd) >= 0,
                                  "daemon_garbage", (json_int_t)reader_garbage(b->rd)));
    enqueue_json(b, BQ_KEEP, "summary", s);
    json_decref(s);
}

/* Publishes the window under way as it stands at wall (after one that ended during the
 * last wait, if any: counts add up to what was seen). A window that has just begun and
 * seen nothing is not published: it would cover no time. */
static void end_window(struct bridge *b, double wall)
{
    double start, end;
    if (agg_window_due(&b->window, wall, b->o.summary_s, &start, &end))
        summary(b, start, end);
    if (wall > b->window.start || !agg_window_empty(b->agg))
        summary(b, b->window.start, wall > b->window.start ? wall : b->window.start);
}

/* ---- the daemon's messages ---- */

/* A hello from another run of the daemon than the last one (a restart, not a reconnect
 * or a model change): its track ids start again. A daemon too old to say which run it
 * is (no instance, or one that is not a string) keeps the tracks, as before. */
static bool daemon_restarted(json_t *last_hello, json_t *hello)
{
    const char *was = json_string_value(json_object_get(last_hello, "instance"));
    const char *is = json_string_value(json_object_get(hello, "instance"));
    return last_hello && (was || is) && !(was && is && !strcmp(was, is));
}

static void on_hello(struct bridge *b, json_t *msg)
{
    if (daemon_restarted(b->hello, msg)) {
        const char *instance = json_string_value(json_object_get(msg, "instance"));
        log_info("emotiond restarted (instance %s): its tracks start again",
                 instance ? instance : "not given");
        /* the old run's tracks get a summary of their own: no window names an id twice */
        double wall = wall_now();
        end_window(b, wall);
        agg_window_begin(&b->window, wall, b->o.summary_s);
        agg_end_tracks(b->agg);
    }
    json_decref(b->hello);
    b->hello = json_deep_copy(msg);
    json_object_set_new(b->hello, "host", json_string(b->o.hostname));
    json_object_set_new(b->hello, "bridge",
                        json_pack("{ss sf sf si}", "version", EMOTIOND_VERSION, "summary_s",
                                  b->o.summary_s, "faces_interval_s", b->o.faces_interval_s,
                                  "qos", b->o.qos));
    const char *classes[AGG_MAX_LABELS];
    size_t n = 0, i;
    json_t *c;
    json_array_foreach(json_object_get(msg, "classes"), i, c)
        if (n < AGG_MAX_LABELS && json_is_string(c))
            classes[n++] = json_string_value(c);
    agg_set_classes(b->agg, classes, n);
    b->hello_pending = true;
    publish_state(b);
}

static void on_frame(struct bridge *b, json_t *msg)
{
    struct agg_face faces[MAX_FACES];
    struct agg_event events[MAX_EVENTS];
    double ts = json_number_value(json_object_get(msg, "ts"));
    json_t *list = json_object_get(msg, "faces"), *f;
    size_t n = 0, i;
    json_array_foreach(list, i, f) {
        json_t *id = json_object_get(f, "id");
        const char *label = json_string_value(json_object_get(f, "label"));
        if (n == MAX_FACES || !json_is_integer(id) || !label)
            continue;                    /* not a face as protocol 1 has them */
        faces[n++] = (struct agg_face){json_integer_value(id), label,
                                       json_number_value(json_object_get(f, "confidence"))};
    }
    size_t n_events = agg_frame(b->agg, ts, faces, n, events, MAX_EVENTS);
    for (size_t e = 0; e < n_events && e < MAX_EVENTS; e++) {
        json_t *ev = json_pack("{ss sf sO sI ss sf}", "type", "label_change", "ts", ts,
                               "seq", json_object_get(msg, "seq") ? json_object_get(msg, "seq")
                                                                  : json_null(),
                               "id", (json_int_t)events[e].id, "to", events[e].to,
                               "confidence", events[e].confidence);
        json_object_set_new(ev, "from", events[e].from[0] ? json_string(events[e].from)
                                                           : json_null());
        json_object_set_new(ev, "instance", instance_of(b));
        enqueue_json(b, BQ_KEEP, "events", ev);
        json_decref(ev);
    }
    if (!n)
        return;
    /* faces: the frame as the daemon sent it, with the faces that are due */
    json_t *due = json_array();
    json_array_foreach(list, i, f) {
        json_t *id = json_object_get(f, "id");
        if (json_is_integer(id) &&
            agg_face_due(b->agg, json_integer_value(id), ts, b->o.faces_interval_s))
            json_array_append(due, f);
    }
    if (json_array_size(due)) {
        json_t *out = json_copy(msg);
        json_object_set(out, "faces", due);
        enqueue_json(b, BQ_FRAME, "faces", out);
        json_decref(out);
    }
    json_decref(due);
}

static void on_message(void *user, json_t *msg, const char *type, const char *line, size_t len)
{
    struct bridge *b = user;
    if (!strcmp(type, "hello")) {
        on_hello(b, msg);
    } else if (!strcmp(type, "frame")) {
        on_frame(b, msg);
    } else if (!strcmp(type, "telemetry")) {
        if (b->o.telemetry)
            enqueue(b, BQ_FRAME, "telemetry", strndup(line, len));
    } else if (!strcmp(type, "dropped")) {
        json_int_t n = json_integer_value(json_object_get(msg, "count"));
        b->daemon_dropped += n > 0 ? (uint64_t)n : 0;
        log_warn("emotiond dropped %lld messages for the bridge (it read too slowly)",
                 (long long)n);
    } else if (!strcmp(type, "error")) {
        log_warn("emotiond says: %s", json_string_value(json_object_get(msg, "error")));
    }                                /* others: later versions of protocol 1; ignored */
}

/* ---- the loop ---- */

static void drain(struct bridge *b)
{
    const struct bq_msg *m;
    while (pub_ready(b->pub) && (m = bq_front(b->q))) {
        if (pub_send(b->pub, m->topic, m->payload, m->len, m->retain) && pub_up(b->pub))
            log_warn("message to %s not accepted by libmosquitto; dropped", m->topic);
        else if (!pub_up(b->pub))
            break;
        bq_pop(b->q);
    }
}

static void daemon_socket(struct bridge *b, double now)
{
    char err[512];
    if (reader_fd(b->rd) >= 0 || reader_retry_in(b->rd, now) > 0)
        return;
    if (reader_connect(b->rd, err, sizeof err)) {
        if (!b->socket_down_logged)
            log_warn("%s; retrying with backoff up to %.0f s", err, READER_RETRY_MAX_S);
        b->socket_down_logged = true;
        return;
    }
    b->socket_down_logged = false;
    b->daemon_connects++;
    log_info("connected to emotiond at %s", b->o.socket);
}

static void notify_status(struct bridge *b)
{
    struct bq_stats st = bq_stats(b->q);
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=broker %s, emotiond %s, %zu queued, %llu dropped",
               pub_up(b->pub) ? "connected" : "unreachable",
               reader_fd(b->rd) >= 0 ? "connected" : "not connected", st.length,
               (unsigned long long)(st.dropped_frame + st.dropped_keep));
}

static void stop(struct bridge *b)
{
    char err[400];
    end_window(b, wall_now());
    double deadline = mono_s() + STOP_FLUSH_S;
    while (pub_up(b->pub) && (bq_front(b->q) || pub_inflight(b->pub)) && mono_s() < deadline) {
        drain(b);
        struct pollfd p = {pub_fd(b->pub), POLLIN | (pub_want_write(b->pub) ? POLLOUT : 0), 0};
        poll(&p, p.fd >= 0, 50);
        pub_service(b->pub, mono_s(), err, sizeof err);
    }
    if (pub_up(b->pub)) {
        publish_now(b, "status", "offline", true);
        deadline = mono_s() + 1;
        while (pub_up(b->pub) && pub_inflight(b->pub) && mono_s() < deadline) {
            struct pollfd p = {pub_fd(b->pub), POLLIN | (pub_want_write(b->pub) ? POLLOUT : 0),
                               0};
            poll(&p, p.fd >= 0, 50);
            pub_service(b->pub, mono_s(), err, sizeof err);
        }
        log_info("published offline; %zu messages left unsent", bq_stats(b->q).length);
    } else {
        log_warn("stopping without the broker: it will publish the last will (offline)");
    }
    pub_disconnect(b->pub);
}

static int run(struct bridge *b, int sig_fd)
{
    char err[512];
    double last_status = 0;
    agg_window_begin(&b->window, wall_now(), b->o.summary_s);
    sd_notify(0, "READY=1");
    for (;;) {
        double now = mono_s(), wall = wall_now();
        daemon_socket(b, now);
        enum pub_event ev = pub_service(b->pub, now, err, sizeof err);
        if (ev == PUB_FATAL) {
            log_err("%s; not retrying: fix the configuration", err);
            return CLIENT_EX_CONFIG;
        }
        if (ev == PUB_UP) {
            publish_now(b, "status", "online", true);
            b->hello_pending = true;
            publish_state(b);
        }
        double start, end;
        if (agg_window_due(&b->window, wall, b->o.summary_s, &start, &end))
            summary(b, start, end);
        drain(b);
        if (now - last_status >= 1) {
            notify_status(b);
            last_status = now;
        }

        struct pollfd fds[3] = {{sig_fd, POLLIN, 0}, {reader_fd(b->rd), POLLIN, 0},
                                {pub_fd(b->pub), POLLIN, 0}};
        if (pub_want_write(b->pub))
            fds[2].events |= POLLOUT;
        double wait = b->window.end - wall;
        double pt = pub_timeout(b->pub, now);
        if (pt < wait)
            wait = pt;
        if (reader_fd(b->rd) < 0 && reader_retry_in(b->rd, now) < wait)
            wait = reader_retry_in(b->rd, now);
        if (wait > 1)
            wait = 1;
        if (pub_ready(b->pub) && bq_front(b->q))
            wait = 0;            /* more to hand over once the window has room */
        int n = poll(fds, 3, wait > 0 ? (int)(wait * 1000) + 1 : 0);
        if (n < 0 && errno != EINTR) {
            log_err("poll: %s", strerror(errno));
            return 1;
        }
        if (fds[0].revents & POLLIN) {
            int sig = client_signal(sig_fd);
            if (sig) {
                log_info("%s: stopping", strsignal(sig));
                stop(b);
                return 0;
            }
        }
        if (fds[1].fd >= 0 && fds[1].revents) {
            if (reader_read(b->rd, on_message, b, err, sizeof err))
                log_warn("%s; reconnecting", err);
        }
    }
}

/* ---- start ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: emotiond-mqtt [-c FILE] [--socket PATH] [--broker URL] [--client-id ID]\n"
            "                     [--username NAME] [--password-file FILE] [--ca-file FILE]\n"
            "                     [--qos 0|1|2] [--prefix P] [--keepalive S] [--summary-s N]\n"
            "                     [--faces-interval-s S] [--no-telemetry] [--queue-size N]\n"
            "                     [--reconnect-max-s S] [--homeassistant] [--log-level LEVEL]\n"
            "                     [--check-config] [--version]\n"
            "  -c FILE           config file, its [mqtt] section and [daemon] socket\n"
            "                    (default %s; built-in defaults if absent)\n"
            "  --broker URL      mqtt://HOST[:PORT] or mqtts://HOST[:PORT]\n"
            "  --check-config    validate, print the effective [mqtt] settings, exit 0 or 1\n"
            "Topics, payloads and set-up: /usr/share/doc/emotiond/mqtt.md\n",
            CONFIG_DEFAULT_PATH);
}

static void version(void)
{
    printf("emotiond-mqtt %s (libmosquitto %d.%d.%d)\n", EMOTIOND_VERSION, LIBMOSQUITTO_MAJOR,
           LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION);
}

static const struct client_flag FLAGS[] = {
    {"socket", "daemon", "socket", NULL},       {"broker", "mqtt", "broker", NULL},
    {"client-id", "mqtt", "client_id", NULL},   {"username", "mqtt", "username", NULL},
    {"password-file", "mqtt", "password_file", NULL},
    {"ca-file", "mqtt", "ca_file", NULL},       {"qos", "mqtt", "qos", NULL},
    {"prefix", "mqtt", "prefix", NULL},         {"keepalive", "mqtt", "keepalive_s", NULL},
    {"summary-s", "mqtt", "summary_s", NULL},
    {"faces-interval-s", "mqtt", "faces_interval_s", NULL},
    {"no-telemetry", "mqtt", "telemetry", "false"},
    {"queue-size", "mqtt", "queue_size", NULL},
    {"reconnect-max-s", "mqtt", "reconnect_max_s", NULL},
    {"homeassistant", "mqtt", "homeassistant", "true"},
    {"log-level", "mqtt", "log_level", NULL},
};

static const struct client_program PROGRAM = {
    .name = "emotiond-mqtt", .section = "mqtt", .flags = FLAGS,
    .n_flags = sizeof FLAGS / sizeof *FLAGS, .usage = usage, .version = version,
    .bad_file_status = 1,
};

int main(int argc, char **argv)
{
    static struct config cfg;
    static struct bridge b;
    bool check = false;
    char origin[CONFIG_STR + 16], err[1000];
    int rc = client_configure(&PROGRAM, argc, argv, &cfg, &check, origin, sizeof origin);
    if (rc >= 0)
        return rc;
    if (mqtt_options_resolve(&cfg, origin, &b.o, err, sizeof err)) {
        fprintf(stderr, "emotiond-mqtt: %s\n", err);
        return check ? 1 : CLIENT_EX_CONFIG;
    }
    if (check) {
        client_print_config(&PROGRAM, &cfg, origin);
        printf("# resolved: broker %s port %d%s, client id '%s', topics under '%s/'\n",
               b.o.host, b.o.port, b.o.tls ? " (TLS)" : "", b.o.client_id, b.o.prefix);
        return 0;
    }
    client_log_start(&PROGRAM, b.o.log_level);
    int sig_fd = client_signals(false);

    mosquitto_lib_init();
    char *will = topic_of(&b, "status");
    b.rd = reader_new(b.o.socket);
    b.q = bq_new((size_t)b.o.queue_size);
    b.agg = agg_new();
    b.pub = will ? pub_new(&b.o, will, err, sizeof err) : NULL;
    if (sig_fd < 0 || !b.rd || !b.q || !b.agg || !b.pub) {
        fprintf(stderr, "emotiond-mqtt: %s\n", b.pub ? strerror(errno) : err);
        rc = b.pub ? 1 : CLIENT_EX_CONFIG;
    } else {
        log_info("emotiond-mqtt %s: %s -> %s, topics under %s/", EMOTIOND_VERSION, b.o.socket,
                 b.o.broker, b.o.prefix);
        rc = run(&b, sig_fd);
    }
    pub_free(b.pub);
    agg_free(b.agg);
    bq_free(b.q);
    reader_free(b.rd);
    json_decref(b.hello);
    free(will);
    if (sig_fd >= 0)
        close(sig_fd);
    mosquitto_lib_cleanup();
    return rc;
}
