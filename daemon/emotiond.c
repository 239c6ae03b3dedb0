/* emotiond: the daemon. Wires the pipeline (capture -> faces -> classify workers) to
 * the socket server on one event loop that also takes signals (SIGTERM/SIGINT stop,
 * SIGHUP reloads), publishes telemetry, watches the board's power mode to apply
 * per-mode profiles, and talks to systemd (READY, STATUS, WATCHDOG). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "clock.h"
#include "config.h"
#include "detect.h"
#include "faces.h"
#include "json_out.h"
#include "kernels.h"
#include "log.h"
#include "loop.h"
#include "pipeline.h"
#include "preview_stage.h"
#include "protocol.h"
#include "publish.h"
#include "server.h"
#include "telemetry.h"
#include "textsize.h"

#define TICK_NS 100000000LL            /* 100 ms */
#define MODE_POLL_NS 500000000LL       /* power mode changes seen within a second */
#define POWER_SAMPLE_NS 250000000LL
#define MAX_FLAGS 16

struct flag_value {
    const char *section, *key, *origin;
    char value[CONFIG_STR];
};

struct daemon {
    struct config cfg;
    const char *config_path;            /* NULL: built-in defaults */
    struct flag_value flags[MAX_FLAGS];
    int n_flags;
    struct pl_options opts;

    struct ev_loop *loop;
    struct server *srv;
    struct pipeline *pl;
    struct preview_stage *preview;
    struct telemetry tel;
    int sig_fd, timer_fd;

    struct publish pub;
    bool stop, ready;
    int exit_code;
    uint64_t watchdog_usec;
    int64_t start_ns, next_telemetry_ns, next_mode_ns, next_power_ns, next_watchdog_ns;
    char instance[17];                  /* hello's: clients tell a restart from a reconnect */

    struct board_power_mode mode;
    int profile;                        /* index into cfg.profiles, -1 for none */
    char source_problem[TEXT_WHY];      /* last one logged */
    char telemetry[PROTO_MSG_MAX];      /* the latest telemetry fields, for status */
    size_t telemetry_len;
    double last_fps, last_faces;
};

/* ---- configuration ---- */

/* parse_args keeps n_flags below MAX_FLAGS */
static void add_flag(struct daemon *d, const char *section, const char *key, const char *origin,
                     const char *value)
{
    struct flag_value *f = &d->flags[d->n_flags++];
    *f = (struct flag_value){section, key, origin, ""};
    snprintf(f->value, sizeof f->value, "%s", value);
}

/* Defaults, the file, then the flags: the effective configuration. */
static int build_config(const struct daemon *d, struct config *c, char *err, size_t errlen)
{
    config_defaults(c);
    if (d->config_path && config_load(d->config_path, c, err, errlen))
        return -1;
    for (int i = 0; i < d->n_flags; i++)
        if (config_set(c, d->flags[i].section, d->flags[i].key, d->flags[i].value,
                       d->flags[i].origin, err, errlen))
            return -1;
    /* a backend this build lacks (no OpenCV) is a config error, not a failure later */
    char why[TEXT_WHY];
    if (det_backend_check(c->detect.backend, why, sizeof why)) {
        snprintf(err, errlen, "%s: [detect] backend: %s",
                 d->config_path ? d->config_path : "built-in defaults", why);
        return -1;
    }
    return 0;
}

static const struct config_profile *active_profile(const struct daemon *d)
{
    return d->profile >= 0 ? &d->cfg.profiles[d->profile] : NULL;
}

/* The classifier's file: [daemon] model or the profile's, at [classify] precision or the
 * profile's (int8: the -int8 sibling the package ships beside each model). */
static void classify_model_path(const struct config *c, const struct config_profile *p,
                                char *out, size_t outlen)
{
    const char *model = p && p->model[0] ? p->model : c->daemon.model;
    const char *prec = p && strcmp(p->precision, "keep") ? p->precision : c->classify.precision;
    int pr = enn_precision_parse(prec);
    if (enn_model_precision_path(model, pr < 0 ? ENN_PRECISION_F32 : (enum enn_precision)pr,
                                 out, outlen))
        snprintf(out, outlen, "%s", model);
}

static void configure_preview(struct daemon *d)
{
    struct preview_settings ps = {.enabled = d->cfg.preview.enabled,
                                  .width = d->cfg.preview.width,
                                  .fps = d->cfg.preview.fps,
                                  .quality = d->cfg.preview.quality};
    preview_stage_configure(d->preview, &ps);
}

/* The running settings: the config with the active profile's overrides. */
static void apply_settings(struct daemon *d)
{
    const struct config_profile *p = active_profile(d);
    struct config eff = d->cfg;
    if (p && p->detect_interval > 0)
        eff.detect.interval = p->detect_interval;
    pl_configure(d->pl, &eff, p ? p->fps_cap : 0,
                 p && p->workers > 0 ? p->workers : d->cfg.classify.workers);
    char model[CONFIG_STR + 8];
    classify_model_path(&d->cfg, p, model, sizeof model);
    if (strcmp(model, pl_model_path(pl_current_model(d->pl))) != 0) {
        char err[TEXT_ERR];
        if (pl_set_model(d->pl, model, err, sizeof err))
            log_err("model %s: %s; keeping %s", model, err,
                    pl_model_path(pl_current_model(d->pl)));
        else
            log_info("model: %s", model);
    }
    publish_half_life(&d->pub, d->cfg.track.half_life_s);
    configure_preview(d);
    int level = log_level_parse(d->cfg.daemon.log_level);
    if (level > 0)
        log_set_level((enum log_level)level);
}

struct reload_state {
    struct config *applied;
    const struct config *next;
    int changed, refused;
};

/* One key that differs in the new configuration: applied if live, else logged. */
static void reload_key(const struct config_change *ch, void *user)
{
    struct reload_state *st = user;
    if (!strcmp(ch->section, "mqtt"))
        return;                         /* emotiond-mqtt's section, not ours */
    if (!strncmp(ch->section, "profile.", 8)) {
        st->changed++;                  /* the profile table is taken whole */
    } else if (ch->live) {
        config_copy_key(st->applied, st->next, ch->section, ch->key);
        log_info("reload: [%s] %s = %s", ch->section, ch->key, ch->value);
        st->changed++;
    } else {
        log_warn("reload: [%s] %s changed to '%s' but needs a restart; still using the "
                 "old value", ch->section, ch->key, ch->value);
        st->refused++;
    }
}

static void reload(struct daemon *d)
{
    char err[TEXT_ERR];
    struct config next;
    sd_notify(0, "RELOADING=1");
    if (build_config(d, &next, err, sizeof err)) {
        log_err("reload: %s; keeping the running configuration", err);
        sd_notify(0, "READY=1");
        return;
    }
    struct config applied = d->cfg;
    memcpy(applied.profiles, next.profiles, sizeof applied.profiles);   /* all live */
    applied.n_profiles = next.n_profiles;
    struct reload_state st = {.applied = &applied, .next = &next};
    config_diff(&d->cfg, &next, reload_key, &st);
    /* hello announces the preview: clients learn of a change as of a model's */
    bool announce = applied.preview.enabled != d->cfg.preview.enabled ||
                    applied.preview.width != d->cfg.preview.width ||
                    applied.preview.fps != d->cfg.preview.fps;
    d->cfg = applied;
    /* the profile table may have changed under the current mode */
    const struct config_profile *p = config_profile_for(&d->cfg, d->mode.known ? d->mode.name : NULL);
    d->profile = p ? (int)(p - d->cfg.profiles) : -1;
    apply_settings(d);
    if (announce)
        srv_hello_all(d->srv);
    log_info("reloaded %s: %d change%s applied, %d need a restart",
             d->config_path ? d->config_path : "(built-in defaults)", st.changed,
             st.changed == 1 ? "" : "s", st.refused);
    sd_notify(0, "READY=1");
}

/* ---- power mode policy ---- */

static void check_power_mode(struct daemon *d)
{
    struct board_power_mode m;
    board_power_mode(d->cfg.daemon.system_root, &m);
    if (m.known == d->mode.known && m.id == d->mode.id && !strcmp(m.name, d->mode.name))
        return;
    d->mode = m;
    int before = d->profile;
    const struct config_profile *p = config_profile_for(&d->cfg, m.known ? m.name : NULL);
    d->profile = p ? (int)(p - d->cfg.profiles) : -1;
    if (m.known)
        log_info("power mode %d (%s)%s%s", m.id, m.name,
                 d->profile >= 0 ? ": applying profile " : "",
                 d->profile >= 0 ? d->cfg.profiles[d->profile].mode : "");
    if (d->profile != before)
        apply_settings(d);
}

/* ---- messages ---- */

/* 64 random bits in hex. Early in boot the kernel's pool may not be ready (getrandom
 * would block): the wall clock's nanoseconds and the pid then tell runs apart. */
static void choose_instance(char out[17])
{
    uint64_t id;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        id = ((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec) ^
             ((uint64_t)getpid() << 40);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)id);
}

static void write_hello(void *user, struct json_out *j)
{
    struct daemon *d = user;
    const struct pl_model *pm = pl_current_model(d->pl);
    const struct enn_model *m = pl_model_info(pm);
    struct proto_hello h = {.version = EMOTIOND_VERSION, .model = pl_model_name(pm),
                            .precision = enn_precision_name(m->precision),
                            .source = pl_source_describe(d->pl), .info = m,
                            .instance = d->instance,
                            .preview = {.enabled = d->cfg.preview.enabled,
                                        .width = d->cfg.preview.width,
                                        .fps = d->cfg.preview.fps}};
    proto_hello(j, &h);
}

static void write_status(void *user, struct json_out *j)
{
    struct daemon *d = user;
    struct proto_status s = {
        .telemetry = d->telemetry_len ? d->telemetry : "",
        .uptime_s = (double)(mono_ns() - d->start_ns) / 1e9,
        .clients = srv_clients(d->srv),
        .source_connected = pl_source_connected(d->pl),
        .source = pl_source_describe(d->pl),
    };
    proto_status(j, &s);
}

static void publish_telemetry(struct daemon *d)
{
    struct pl_stats st;
    pl_take_stats(d->pl, &st);
    const struct config_profile *p = active_profile(d);
    struct tel_context ctx = {
        .stats = &st,
        .client_drops = srv_dropped_total(d->srv),
        .mode = &d->mode,
        .profile = p ? p->mode : NULL,
        .model = pl_model_name(pl_current_model(d->pl)),
        .precision = enn_precision_name(pl_model_info(pl_current_model(d->pl))->precision),
        .workers = pl_workers(d->pl),
    };
    static struct proto_telemetry fields;
    tel_collect(&d->tel, &ctx, &fields);
    struct proto_preview_stats preview;
    preview_stage_stats(d->preview, &preview);   /* the window ends for it too */
    fields.preview = d->cfg.preview.enabled ? &preview : NULL;
    struct json_out j;
    json_init(&j, d->telemetry, sizeof d->telemetry);
    proto_telemetry_fields(&j, &fields);
    d->telemetry_len = j.overflow ? 0 : j.len;
    if (j.overflow)
        log_warn("telemetry message too long; not sent");
    static char msg[PROTO_MSG_MAX + 64];   /* the fields and their wrapper */
    struct json_out m;
    json_init(&m, msg, sizeof msg);
    proto_telemetry(&m, d->telemetry);
    if (d->telemetry_len && !m.overflow)
        srv_broadcast(d->srv, PROTO_TELEMETRY, msg, m.len);

    /* the source gets over problems on its own (skips a frame, reopens a camera): say so */
    char problem[TEXT_WHY];
    pl_source_problem(d->pl, problem, sizeof problem);
    if (problem[0] && strcmp(problem, d->source_problem)) {
        log_warn("source %s: %s", d->cfg.daemon.source, problem);
        snprintf(d->source_problem, sizeof d->source_problem, "%s", problem);
    }
    d->last_fps = (double)st.frames[PL_PUBLISH] / (st.window_s > 0 ? st.window_s : 1);
    d->last_faces = (double)st.faces / (st.window_s > 0 ? st.window_s : 1);
    bool connected = pl_source_connected(d->pl);
    if (d->ready)
        sd_notifyf(0, "STATUS=%.1f fps, %.1f faces/s, %d client%s%s", d->last_fps,
                   d->last_faces, srv_clients(d->srv), srv_clients(d->srv) == 1 ? "" : "s",
                   connected ? "" : ", camera lost");
}

static void on_results(void *user, uint32_t events)
{
    (void)events;
    struct daemon *d = user;
    if (publish_results(&d->pub) > 0 && !d->ready) {
        d->ready = true;
        log_info("streaming from %s", pl_source_describe(d->pl));
        sd_notifyf(0, "READY=1\nSTATUS=streaming from %s", pl_source_describe(d->pl));
    }
    char err[TEXT_WHY];
    if (d->opts.once && pl_finished(d->pl, err, sizeof err)) {
        if (err[0]) {
            log_err("source ended: %s", err);
            d->exit_code = 1;
        } else {
            log_info("source ended (--once)");
        }
        d->stop = true;
    }
}

/* A preview made: to the clients that asked for it, while [preview] is still enabled. */
static void on_preview(void *user, uint32_t events)
{
    (void)events;
    struct daemon *d = user;
    size_t len;
    const char *msg = preview_stage_result(d->preview, &len);
    unsigned sent = 0, skipped = 0;
    if (msg && d->cfg.preview.enabled)
        srv_broadcast_preview(d->srv, msg, len, &sent, &skipped);
    preview_stage_done(d->preview, sent, skipped);
}

static void on_signal(void *user, uint32_t events)
{
    (void)events;
    struct daemon *d = user;
    struct signalfd_siginfo si;
    while (read(d->sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            log_info("SIGHUP: reloading the configuration");
            reload(d);
        } else {
            log_info("%s: stopping", strsignal((int)si.ssi_signo));
            d->stop = true;
        }
    }
}

static void on_tick(void *user, uint32_t events)
{
    (void)events;
    struct daemon *d = user;
    uint64_t expirations;
    if (read(d->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    int64_t now = mono_ns();
    if (now >= d->next_mode_ns) {
        check_power_mode(d);
        d->next_mode_ns = now + MODE_POLL_NS;
    }
    if (now >= d->next_power_ns) {
        tel_sample_power(&d->tel, now);
        d->next_power_ns = now + POWER_SAMPLE_NS;
    }
    if (now >= d->next_telemetry_ns) {
        publish_telemetry(d);
        d->next_telemetry_ns = now + (int64_t)(d->cfg.telemetry.interval_s * 1e9);
    }
    if (d->watchdog_usec && now >= d->next_watchdog_ns) {
        /* fed only while no stage is stuck on one frame. Until the first frame is out
           (READY=1) the limit is six times longer: that frame carries one-time costs
           (the networks' first runs, their memory first touched), and systemd arms the
           watchdog at the first WATCHDOG=1, before READY, so a slow first frame would
           otherwise be killed and restarted for ever (seen on a slow machine: the system
           test's emulated one, detection width 320). */
        int64_t stuck_ns = (int64_t)d->watchdog_usec * 1000 / 2 * (d->ready ? 1 : 6);
        char stuck[80];
        if (pl_healthy_why(d->pl, stuck_ns, stuck, sizeof stuck))
            sd_notify(0, "WATCHDOG=1");
        else
            log_err("a pipeline stage has been stuck for over %.1f s (%s); not feeding the "
                    "watchdog", (double)stuck_ns / 1e9, stuck);
        d->next_watchdog_ns = now + (int64_t)d->watchdog_usec * 1000 / 3;
    }
    if (d->opts.once) {
        char err[TEXT_WHY];
        if (pl_finished(d->pl, err, sizeof err))
            on_results(d, 0);
    }
}

/* ---- start and stop ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: emotiond [-c FILE] [--source SPEC] [--socket PATH] [--model FILE.enn]\n"
            "                [--fps N] [--once] [--log-level LEVEL] [--system-root DIR]\n"
            "                [--check-config] [--version]\n"
            "Real-time facial expression service: publishes per-face expression labels\n"
            "on a Unix socket (protocol: docs/protocol.md).\n"
            "  -c FILE           config (default %s; built-in defaults if absent)\n"
            "  --source SPEC     /dev/videoN, v4l2:/dev/videoN, file:CLIP.mjpeg, image:PHOTO,\n"
            "                    dir:FOLDER\n"
            "  --fps N           rate asked of a camera, or the pace of a file source\n"
            "  --once            stop at the end of a finite source\n"
            "  --check-config    validate, print the effective configuration, exit 0 or 1\n",
            CONFIG_DEFAULT_PATH);
}

static int parse_args(struct daemon *d, int argc, char **argv, bool *check_only)
{
    enum { O_SOURCE = 256, O_SOCKET, O_MODEL, O_CHECK, O_VERSION, O_ONCE, O_LOG, O_ROOT, O_FPS };
    static const struct option longopts[] = {
        {"source", required_argument, 0, O_SOURCE}, {"socket", required_argument, 0, O_SOCKET},
        {"model", required_argument, 0, O_MODEL},   {"check-config", no_argument, 0, O_CHECK},
        {"version", no_argument, 0, O_VERSION},     {"once", no_argument, 0, O_ONCE},
        {"log-level", required_argument, 0, O_LOG}, {"system-root", required_argument, 0, O_ROOT},
        {"fps", required_argument, 0, O_FPS},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    bool explicit_config = false;
    d->config_path = CONFIG_DEFAULT_PATH;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (d->n_flags == MAX_FLAGS) {
            fprintf(stderr, "emotiond: too many options\n");
            return 2;
        }
        switch (opt) {
        case 'c': d->config_path = optarg; explicit_config = true; break;
        case O_SOURCE: add_flag(d, "daemon", "source", "--source", optarg); break;
        case O_SOCKET: add_flag(d, "daemon", "socket", "--socket", optarg); break;
        case O_MODEL: add_flag(d, "daemon", "model", "--model", optarg); break;
        case O_LOG: add_flag(d, "daemon", "log_level", "--log-level", optarg); break;
        case O_ROOT: add_flag(d, "daemon", "system_root", "--system-root", optarg); break;
        case O_CHECK: *check_only = true; break;
        case O_ONCE: d->opts.once = true; break;
        case O_FPS: {
            char *end;
            d->opts.fps = strtod(optarg, &end);
            if (*end || !(d->opts.fps > 0 && d->opts.fps <= 1000)) {
                fprintf(stderr, "emotiond: --fps %s: give frames per second, 0 < N <= 1000\n",
                        optarg);
                return 2;
            }
            break;
        }
        case O_VERSION: printf("emotiond %s\n", EMOTIOND_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "emotiond: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!explicit_config && access(d->config_path, F_OK) != 0)
        d->config_path = NULL;
    return -1;
}

static int setup(struct daemon *d)
{
    char err[TEXT_ERR];
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    /* blocked before any thread starts, so only the signalfd sees them */
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    if (d->sig_fd < 0 || d->timer_fd < 0 || timerfd_settime(d->timer_fd, 0, &its, NULL) ||
        !(d->loop = ev_create())) {
        log_err("startup: %s", strerror(errno));
        return -1;
    }

    d->opts.source = d->cfg.daemon.source;
    if (!d->opts.fps && cap_source_is_camera(d->opts.source))
        d->opts.fps = d->cfg.capture.fps;
    d->opts.workers = d->cfg.classify.workers;
    struct config start = d->cfg;   /* the classifier at the configured precision */
    classify_model_path(&d->cfg, NULL, start.daemon.model, sizeof start.daemon.model);
    if (pl_start(&d->opts, &start, &d->pl, err, sizeof err)) {
        log_err("%s", err);
        return -1;
    }
    char why[160];
    const struct enn_kernels *kern = enn_kernels_select(why, sizeof why);
    log_info("model %s, source %s, %d classification worker%s, kernels %s",
             pl_model_path(pl_current_model(d->pl)), pl_source_describe(d->pl),
             pl_workers(d->pl), pl_workers(d->pl) == 1 ? "" : "s", kern ? kern->name : "?");
    struct det_config dc;
    faces_detector_config(&d->cfg, &dc);
    const char *det_model = dc.model ? dc.model : det_default_model(dc.backend);
    log_info("face detector %s%s%s", det_backend_name(dc.backend), det_model ? ", " : "",
             det_model ? det_model : "");

    int listen_fd = -1;
    int n = sd_listen_fds(1);
    if (n > 1) {
        log_err("systemd passed %d sockets; emotiond takes one", n);
        return -1;
    }
    if (n == 1) {
        listen_fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(listen_fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
            log_err("the socket systemd passed is not a listening Unix stream socket");
            return -1;
        }
        log_info("serving the socket systemd passed");
    }
    struct srv_config sc = {
        .path = d->cfg.daemon.socket,
        .group = d->cfg.daemon.socket_group,
        .listen_fd = listen_fd,
        .max_clients = d->cfg.daemon.max_clients,
        .max_clients_per_uid = d->cfg.daemon.max_clients_per_uid,
        .idle_timeout_s = d->cfg.daemon.idle_timeout_s,
    };
    struct srv_callbacks cb = {.hello = write_hello, .status = write_status, .user = d};
    if (srv_open(d->loop, &sc, &cb, &d->srv, err, sizeof err)) {
        log_err("%s", err);
        return -1;
    }
    if (preview_stage_create(d->pl, &d->preview, err, sizeof err)) {
        log_err("%s", err);
        return -1;
    }
    configure_preview(d);
    publish_init(&d->pub, d->pl, d->srv, d->preview, d->cfg.track.half_life_s);
    if (listen_fd < 0)
        log_info("serving %s", d->cfg.daemon.socket);
    if (tel_init(&d->tel, d->cfg.daemon.system_root) != 0)
        log_warn("board power: cannot read under %s", d->cfg.daemon.system_root);
    if (ev_add(d->loop, d->sig_fd, EPOLLIN, on_signal, d) ||
        ev_add(d->loop, d->timer_fd, EPOLLIN, on_tick, d) ||
        ev_add(d->loop, pl_event_fd(d->pl), EPOLLIN, on_results, d) ||
        ev_add(d->loop, preview_stage_event_fd(d->preview), EPOLLIN, on_preview, d)) {
        log_err("event loop: %s", strerror(errno));
        return -1;
    }
    if (sd_watchdog_enabled(0, &d->watchdog_usec) <= 0)
        d->watchdog_usec = 0;
    d->start_ns = mono_ns();
    choose_instance(d->instance);
    d->next_telemetry_ns = d->start_ns + (int64_t)(d->cfg.telemetry.interval_s * 1e9);
    d->profile = -1;
    check_power_mode(d);
    d->next_mode_ns = d->start_ns + MODE_POLL_NS;
    if (!d->ready)
        sd_notifyf(0, "STATUS=waiting for %s", pl_source_describe(d->pl));
    return 0;
}

static void teardown(struct daemon *d)
{
    sd_notify(0, "STOPPING=1");
    srv_close(d->srv);          /* socket removed first: clients see the end at once */
    preview_stage_free(d->preview);   /* its frame back to the pool before the pool goes */
    pl_stop(d->pl);             /* threads joined, camera released */
    pl_free(d->pl);
    tel_close(&d->tel);
    ev_free(d->loop);
    if (d->sig_fd >= 0)
        close(d->sig_fd);
    if (d->timer_fd >= 0)
        close(d->timer_fd);
}

int main(int argc, char **argv)
{
    static struct daemon d = {.sig_fd = -1, .timer_fd = -1, .profile = -1};
    bool check_only = false;
    int rc = parse_args(&d, argc, argv, &check_only);
    if (rc >= 0)
        return rc;
    char err[TEXT_ERR];
    if (build_config(&d, &d.cfg, err, sizeof err)) {
        fprintf(stderr, "emotiond: %s\n", err);
        return 1;
    }
    int level = log_level_parse(d.cfg.daemon.log_level);
    log_set_level(level > 0 ? (enum log_level)level : LOG_INFO);
    if (check_only) {
        printf("# effective configuration: %s, then command-line flags\n",
               d.config_path ? d.config_path : "built-in defaults");
        config_print(&d.cfg, stdout);
        struct enn_model *m;
        char model[CONFIG_STR + 8];
        classify_model_path(&d.cfg, NULL, model, sizeof model);
        if (enn_model_load(model, &m, err, sizeof err)) {
            fprintf(stderr, "emotiond: [daemon] model: %s\n", err);
            return 1;
        }
        enn_model_free(m);
        struct det_config dc;
        struct det_detector *det;
        faces_detector_config(&d.cfg, &dc);
        if (det_create(&dc, &det, err, sizeof err)) {
            fprintf(stderr, "emotiond: [detect]: %s\n", err);
            return 1;
        }
        det_free(det);
        return 0;
    }
    if (!d.config_path)
        log_info("no %s: using built-in defaults", CONFIG_DEFAULT_PATH);
    /* Never dumped: a core holds frames, and a frame must never reach disk. Debian 12's
       systemd-coredump stores cores whatever the unit's LimitCORE=0 (the system test
       found them after a kill); a process that is not dumpable gets no core at all. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        log_warn("prctl(PR_SET_DUMPABLE, 0): %s; a crash could leave a core dump",
                 strerror(errno));
    if (setup(&d) == 0) {
        while (!d.stop)
            if (ev_run_once(d.loop, -1) < 0) {
                log_err("event loop: %s", strerror(errno));
                d.exit_code = 1;
                break;
            }
    } else {
        d.exit_code = 1;
    }
    teardown(&d);
    return d.exit_code;
}
