#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "textsize.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_STR, K_INT, K_DBL, K_BOOL, K_ENUM };

struct key {
    const char *section, *name;
    enum kind kind;
    size_t off, size;      /* where in struct config (or struct config_profile) */
    double min, max;       /* K_INT, K_DBL */
    const char *dflt;
    const char *choices;   /* K_ENUM: "a|b|c" */
    bool live;             /* SIGHUP applies it without a restart */
};

#define C(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define P(f) offsetof(struct config_profile, f), sizeof(((struct config_profile *)0)->f)

static const struct key KEYS[] = {
    {"daemon", "source", K_STR, C(daemon.source), 0, 0, "/dev/video0", NULL, false},
    {"daemon", "socket", K_STR, C(daemon.socket), 0, 0, "/run/emotiond/emotiond.sock", NULL, false},
    {"daemon", "socket_group", K_STR, C(daemon.socket_group), 0, 0, "emotiond", NULL, false},
    {"daemon", "model", K_STR, C(daemon.model), 0, 0,
     "/usr/share/emotiond/models/emotionnet-nano-a-fer.enn", NULL, true},
    {"daemon", "log_level", K_ENUM, C(daemon.log_level), 0, 0, "info", "error|warning|info|debug", true},
    {"daemon", "system_root", K_STR, C(daemon.system_root), 0, 0, "/", NULL, false},
    {"daemon", "max_clients", K_INT, C(daemon.max_clients), 1, 1024, "16", NULL, false},
    {"daemon", "max_clients_per_uid", K_INT, C(daemon.max_clients_per_uid), 0, 1024, "0", NULL,
     false},
    {"daemon", "idle_timeout_s", K_DBL, C(daemon.idle_timeout_s), 0, 86400, "60", NULL, false},
    {"capture", "width", K_INT, C(capture.width), 16, 4096, "640", NULL, false},
    {"capture", "height", K_INT, C(capture.height), 16, 4096, "480", NULL, false},
    {"capture", "fps", K_DBL, C(capture.fps), 0, 240, "30", NULL, false},
    {"capture", "format", K_ENUM, C(capture.format), 0, 0, "auto", "auto|GREY|YUYV|UYVY|MJPG",
     false},
    {"capture", "jpeg_scale", K_INT, C(capture.jpeg_scale), 1, 8, "1", "1|2|4|8", false},
    {"capture", "timeout_ms", K_INT, C(capture.timeout_ms), 50, 60000, "1000", NULL, false},
    {"capture", "max_timeouts", K_INT, C(capture.max_timeouts), 1, 100, "3", NULL, false},
    {"capture", "max_frame_width", K_INT, C(capture.max_frame_width), 16, 16384, "4096", NULL, false},
    {"capture", "max_frame_height", K_INT, C(capture.max_frame_height), 16, 16384, "4096", NULL,
     false},
    {"detect", "backend", K_ENUM, C(detect.backend), 0, 0, "yunet", "yunet|yunet-opencv|cascade",
     false},
    {"detect", "model", K_STR, C(detect.model), 0, 0, "", NULL, false},
    {"detect", "precision", K_ENUM, C(detect.precision), 0, 0, "fp32", "fp32|int8", false},
    {"detect", "width", K_INT, C(detect.width), 64, 4096, "320", NULL, false},
    {"detect", "min_face", K_INT, C(detect.min_face), 8, 2048, "20", NULL, true},
    {"detect", "max_faces", K_INT, C(detect.max_faces), 1, 32, "8", NULL, true},
    {"detect", "interval", K_INT, C(detect.interval), 1, 100, "5", NULL, true},
    {"detect", "score_threshold", K_DBL, C(detect.score_threshold), 0, 1, "0.6", NULL, true},
    {"detect", "nms_threshold", K_DBL, C(detect.nms_threshold), 0, 1, "0.3", NULL, true},
    {"track", "min_iou", K_DBL, C(track.min_iou), 0.01, 1, "0.3", NULL, true},
    {"track", "max_absent_s", K_DBL, C(track.max_absent_s), 0.05, 60, "1", NULL, true},
    {"track", "half_life_s", K_DBL, C(track.half_life_s), 0, 60, "0.5", NULL, true},
    {"classify", "workers", K_INT, C(classify.workers), 0, 64, "0", NULL, false},
    {"classify", "crop_widen", K_DBL, C(classify.crop_widen), 0.5, 2, "1.0", NULL, true},
    {"classify", "align_eyes", K_BOOL, C(classify.align_eyes), 0, 0, "true", NULL, true},
    {"classify", "crop_rule", K_ENUM, C(classify.crop_rule), 0, 0, "box", "box|landmarks", true},
    {"classify", "mirror", K_BOOL, C(classify.mirror), 0, 0, "false", NULL, true},
    {"classify", "precision", K_ENUM, C(classify.precision), 0, 0, "fp32", "fp32|int8", true},
    {"telemetry", "interval_s", K_DBL, C(telemetry.interval_s), 0.1, 3600, "1", NULL, true},
    {"preview", "enabled", K_BOOL, C(preview.enabled), 0, 0, "false", NULL, true},
    {"preview", "width", K_INT, C(preview.width), 64, 1280, "320", NULL, true},
    {"preview", "fps", K_DBL, C(preview.fps), 0.1, 10, "2", NULL, true},
    {"preview", "quality", K_INT, C(preview.quality), 10, 95, "75", NULL, true},
    /* emotiond-mqtt's (emotiond reads and ignores them; the bridge has no reload) */
    {"mqtt", "broker", K_STR, C(mqtt.broker), 0, 0, "mqtt://localhost", NULL, false},
    {"mqtt", "client_id", K_STR, C(mqtt.client_id), 0, 0, "", NULL, false},
    {"mqtt", "username", K_STR, C(mqtt.username), 0, 0, "", NULL, false},
    {"mqtt", "password_file", K_STR, C(mqtt.password_file), 0, 0, "", NULL, false},
    {"mqtt", "ca_file", K_STR, C(mqtt.ca_file), 0, 0, "", NULL, false},
    {"mqtt", "qos", K_INT, C(mqtt.qos), 0, 2, "1", NULL, false},
    {"mqtt", "prefix", K_STR, C(mqtt.prefix), 0, 0, "", NULL, false},
    {"mqtt", "keepalive_s", K_INT, C(mqtt.keepalive_s), 5, 3600, "30", NULL, false},
    {"mqtt", "faces_interval_s", K_DBL, C(mqtt.faces_interval_s), 0, 3600, "0", NULL, false},
    {"mqtt", "telemetry", K_BOOL, C(mqtt.telemetry), 0, 0, "true", NULL, false},
    {"mqtt", "summary_s", K_DBL, C(mqtt.summary_s), 1, 86400, "60", NULL, false},
    {"mqtt", "queue_size", K_INT, C(mqtt.queue_size), 1, 1000000, "1000", NULL, false},
    {"mqtt", "reconnect_max_s", K_DBL, C(mqtt.reconnect_max_s), 1, 3600, "60", NULL, false},
    {"mqtt", "homeassistant", K_BOOL, C(mqtt.homeassistant), 0, 0, "false", NULL, false},
    {"mqtt", "homeassistant_prefix", K_STR, C(mqtt.homeassistant_prefix), 0, 0, "homeassistant",
     NULL, false},
    {"mqtt", "log_level", K_ENUM, C(mqtt.log_level), 0, 0, "info", "error|warning|info|debug",
     false},
    /* emotiond-web's (emotiond reads and ignores them; the dashboard has no reload) */
    {"web", "bind", K_STR, C(web.bind), 0, 0, "127.0.0.1", NULL, false},
    {"web", "port", K_INT, C(web.port), 1, 65535, "8737", NULL, false},
    {"web", "allowed_hosts", K_STR, C(web.allowed_hosts), 0, 0, "", NULL, false},
    {"web", "web_root", K_STR, C(web.web_root), 0, 0, "/usr/share/emotiond/web", NULL, false},
    {"web", "max_clients", K_INT, C(web.max_clients), 2, 1024, "32", NULL, false},
    {"web", "max_clients_per_ip", K_INT, C(web.max_clients_per_ip), 1, 1024, "16", NULL, false},
    {"web", "max_streams", K_INT, C(web.max_streams), 1, 256, "8", NULL, false},
    {"web", "timeout_s", K_INT, C(web.timeout_s), 1, 3600, "10", NULL, false},
    {"web", "log_level", K_ENUM, C(web.log_level), 0, 0, "info", "error|warning|info|debug",
     false},
};

/* Keys of a [profile.MODE_NAME] section: applied live when the board enters that mode. */
static const struct key PROFILE_KEYS[] = {
    {"profile", "model", K_STR, P(model), 0, 0, "", NULL, true},
    {"profile", "detect_interval", K_INT, P(detect_interval), 0, 100, "0", NULL, true},
    {"profile", "fps_cap", K_DBL, P(fps_cap), 0, 240, "0", NULL, true},
    {"profile", "workers", K_INT, P(workers), 0, 64, "0", NULL, true},
    {"profile", "precision", K_ENUM, P(precision), 0, 0, "keep", "keep|fp32|int8", true},
};

#define N(a) (sizeof a / sizeof *a)

static bool one_of(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; c;) {
        const char *bar = strchr(c, '|');
        size_t m = bar ? (size_t)(bar - c) : strlen(c);
        if (m == n && strncmp(c, v, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

static int parse_value(const struct key *k, void *base, const char *v, char *why, size_t len)
{
    char *end;
    void *dst = (char *)base + k->off;
    switch (k->kind) {
    case K_STR:
        if (strlen(v) >= k->size) {
            snprintf(why, len, "value longer than %zu characters", k->size - 1);
            return -1;
        }
        memcpy(dst, v, strlen(v) + 1);
        return 0;
    case K_ENUM:
        if (!one_of(k->choices, v) || strlen(v) >= k->size) {
            snprintf(why, len, "'%s' is not one of %s", v, k->choices);
            return -1;
        }
        memcpy(dst, v, strlen(v) + 1);
        return 0;
    case K_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
            *(bool *)dst = true;
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
                 !strcasecmp(v, "off"))
            *(bool *)dst = false;
        else {
            snprintf(why, len, "'%s' is not a boolean (true/false)", v);
            return -1;
        }
        return 0;
    case K_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < (long)k->min || x > (long)k->max) {
            snprintf(why, len, "'%s' is not an integer in %.0f..%.0f", v, k->min, k->max);
            return -1;
        }
        if (k->choices && !one_of(k->choices, v)) {
            snprintf(why, len, "'%s' is not one of %s", v, k->choices);
            return -1;
        }
        *(int *)dst = (int)x;
        return 0;
    }
    case K_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || x < k->min || x > k->max) {
            snprintf(why, len, "'%s' is not a number in %g..%g", v, k->min, k->max);
            return -1;
        }
        *(double *)dst = x;
        return 0;
    }
    }
    return -1;
}

static const struct key *find(const struct key *keys, size_t n, const char *section,
                              const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

static bool known_section(const char *s)
{
    for (size_t i = 0; i < N(KEYS); i++)
        if (!strcmp(KEYS[i].section, s))
            return true;
    return false;
}

void config_defaults(struct config *c)
{
    char why[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N(KEYS); i++)
        parse_value(&KEYS[i], c, KEYS[i].dflt, why, sizeof why);
}

static struct config_profile *profile(struct config *c, const char *mode, char *why, size_t len)
{
    for (int i = 0; i < c->n_profiles; i++)
        if (!strcmp(c->profiles[i].mode, mode))
            return &c->profiles[i];
    if (!*mode || strlen(mode) >= sizeof c->profiles[0].mode) {
        snprintf(why, len, "profile sections are [profile.MODE_NAME] with the nvpmodel name");
        return NULL;
    }
    if (c->n_profiles == CONFIG_MAX_PROFILES) {
        snprintf(why, len, "more than %d profiles", CONFIG_MAX_PROFILES);
        return NULL;
    }
    struct config_profile *p = &c->profiles[c->n_profiles++];
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < N(PROFILE_KEYS); i++)
        parse_value(&PROFILE_KEYS[i], p, PROFILE_KEYS[i].dflt, why, len);
    snprintf(p->mode, sizeof p->mode, "%s", mode);
    return p;
}

/* One value; why says what is wrong with it (without file or origin). */
static int set_value(struct config *c, const char *section, const char *key, const char *value,
                     char *why, size_t whylen)
{
    if (!strncmp(section, "profile.", 8)) {
        const struct key *k = find(PROFILE_KEYS, N(PROFILE_KEYS), "profile", key);
        if (!k) {
            snprintf(why, whylen, "unknown key (profiles take model, detect_interval, "
                     "fps_cap, workers, precision)");
            return -1;
        }
        struct config_profile *p = profile(c, section + 8, why, whylen);
        return p ? parse_value(k, p, value, why, whylen) : -1;
    }
    if (!known_section(section)) {
        snprintf(why, whylen, "unknown section");
        return -1;
    }
    const struct key *k = find(KEYS, N(KEYS), section, key);
    if (!k) {
        snprintf(why, whylen, "unknown key");
        return -1;
    }
    return parse_value(k, c, value, why, whylen);
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
               const char *origin, char *err, size_t errlen)
{
    char why[TEXT_WHY];
    int rc = set_value(c, section, key, value, why, sizeof why);
    if (rc)
        snprintf(err, errlen, "%s: [%s] %s: %s", origin, section, key, why);
    return rc;
}

/* libinih reads a line into a fixed buffer (INI_MAX_LINE, 200 bytes in Debian's build,
 * three of them for "\r\n\0") and parses the rest of a longer line as a new line, so a
 * long value could smuggle in another key. Every line is checked before libinih sees it. */
#define CONFIG_MAX_LINE 197
#define CONFIG_MAX_FILE (1u << 20)

struct parse_state {
    struct config *c;
    char first_error[CONFIG_STR + 320];
};

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    char why[TEXT_WHY];
    if (set_value(st->c, section, name, value, why, sizeof why) == 0)
        return 1;
    if (!st->first_error[0])
        snprintf(st->first_error, sizeof st->first_error, "[%s] %s: %s", section, name, why);
    return 0;
}

/* The whole file, NUL-terminated; regular files only (a FIFO or a device would block
 * the caller, the daemon's event loop on SIGHUP). */
char *config_read_text(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX_FILE) {
        snprintf(err, errlen, S_ISREG(st.st_mode) ? "%s: larger than 1 MiB, not a config file"
                                                  : "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    /* what stat says, read once: a file that grows meanwhile is read as it was */
    size_t want = (size_t)st.st_size, len = 0;
    char *text = malloc(want + 1);
    ssize_t n = 1;
    while (text && len < want &&
           ((n = read(fd, text + len, want - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    close(fd);
    if (!text || n < 0) {
        snprintf(err, errlen, "%s: %s", path, text ? strerror(errno) : "out of memory");
        free(text);
        return NULL;
    }
    text[len] = '\0';
    /* checked here, so that libinih never cuts a line or stops at a NUL */
    int line = 1;
    for (size_t at = 0; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len, width = end - at;
        if (width && text[end - 1] == '\r')
            width--;
        if (memchr(text + at, '\0', end - at)) {
            snprintf(err, errlen, "%s:%d: contains a NUL byte (not a text file?)", path, line);
            free(text);
            return NULL;
        }
        if (width > CONFIG_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: line of %zu characters (at most %d)", path, line,
                     width, CONFIG_MAX_LINE);
            free(text);
            return NULL;
        }
        at = end + 1;
    }
    return text;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
    char *text = config_read_text(path, err, errlen);
    if (!text)
        return -1;
    struct parse_state st = {c, ""};
    int line = ini_parse_string(text, on_value, &st);
    free(text);
    if (line == 0)
        return 0;
    if (line < 0)
        snprintf(err, errlen, "%s: out of memory parsing it", path);
    else if (st.first_error[0])
        snprintf(err, errlen, "%s:%d: %s", path, line, st.first_error);
    else
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                 line);
    return -1;
}

/* A value as the file would give it ("%g" for numbers). */
static void format_value(const struct key *k, const void *base, char *out, size_t len)
{
    const void *v = (const char *)base + k->off;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
        snprintf(out, len, "%s", (const char *)v);
        break;
    case K_BOOL:
        snprintf(out, len, "%s", *(const bool *)v ? "true" : "false");
        break;
    case K_INT:
        snprintf(out, len, "%d", *(const int *)v);
        break;
    case K_DBL:
        snprintf(out, len, "%g", *(const double *)v);
        break;
    }
}

static void print_value(const struct key *k, const void *base, FILE *out)
{
    char text[CONFIG_STR];
    format_value(k, base, text, sizeof text);
    fprintf(out, "%s = %s\n", k->name, text);
}

static void print_sections(const struct config *c, const char *only, FILE *out)
{
    const char *section = "";
    bool first = true;
    for (size_t i = 0; i < N(KEYS); i++) {
        if (only && strcmp(only, KEYS[i].section))
            continue;
        if (strcmp(section, KEYS[i].section)) {
            section = KEYS[i].section;
            fprintf(out, "%s[%s]\n", first ? "" : "\n", section);
            first = false;
        }
        print_value(&KEYS[i], c, out);
    }
}

void config_print_section(const struct config *c, const char *section, FILE *out)
{
    print_sections(c, section, out);
}

void config_print(const struct config *c, FILE *out)
{
    print_sections(c, NULL, out);
    for (int p = 0; p < c->n_profiles; p++) {
        fprintf(out, "\n[profile.%s]\n", c->profiles[p].mode);
        for (size_t i = 0; i < N(PROFILE_KEYS); i++)
            print_value(&PROFILE_KEYS[i], &c->profiles[p], out);
    }
}

const struct config_profile *config_profile_for(const struct config *c, const char *mode)
{
    for (int i = 0; mode && i < c->n_profiles; i++)
        if (!strcmp(c->profiles[i].mode, mode))
            return &c->profiles[i];
    return NULL;
}

bool config_is_live(const char *section, const char *key)
{
    const struct key *k = !strncmp(section, "profile.", 8)
                              ? find(PROFILE_KEYS, N(PROFILE_KEYS), "profile", key)
                              : find(KEYS, N(KEYS), section, key);
    return k && k->live;
}

void config_each_key(void (*fn)(const char *, const char *, const char *, void *), void *user)
{
    for (size_t i = 0; i < N(KEYS); i++)
        fn(KEYS[i].section, KEYS[i].name, KEYS[i].dflt, user);
    for (size_t i = 0; i < N(PROFILE_KEYS); i++)
        fn("profile.MODE", PROFILE_KEYS[i].name, PROFILE_KEYS[i].dflt, user);
}

static bool same_value(const struct key *k, const void *a, const void *b)
{
    const void *x = (const char *)a + k->off, *y = (const char *)b + k->off;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
        return strcmp(x, y) == 0;
    case K_BOOL:
        return *(const bool *)x == *(const bool *)y;
    case K_INT:
        return *(const int *)x == *(const int *)y;
    case K_DBL:
        return *(const double *)x == *(const double *)y;
    }
    return false;
}

/* One key of a table whose value differs (or whose section old lacks: a == NULL). */
static int diff_key(const struct key *k, const char *section, const void *a, const void *b,
                    config_diff_fn *fn, void *user)
{
    if (a && same_value(k, a, b))
        return 0;
    struct config_change ch = {.section = section, .key = k->name, .live = k->live};
    format_value(k, b, ch.value, sizeof ch.value);
    fn(&ch, user);
    return 1;
}

/* Sections that other programs read from the shared file; the daemon has nothing of
 * them to apply on a reload. */
static bool another_programs(const char *section)
{
    return !strcmp(section, "mqtt") || !strcmp(section, "web");
}

int config_diff(const struct config *old, const struct config *new, config_diff_fn *fn,
                void *user)
{
    int n = 0;
    for (size_t i = 0; i < N(KEYS); i++)
        if (!another_programs(KEYS[i].section))
            n += diff_key(&KEYS[i], KEYS[i].section, old, new, fn, user);
    for (int p = 0; p < new->n_profiles; p++) {
        const struct config_profile *was = config_profile_for(old, new->profiles[p].mode);
        char section[sizeof new->profiles[p].mode + 8];
        snprintf(section, sizeof section, "profile.%s", new->profiles[p].mode);
        for (size_t i = 0; i < N(PROFILE_KEYS); i++)
            n += diff_key(&PROFILE_KEYS[i], section, was, &new->profiles[p], fn, user);
    }
    return n;
}

int config_copy_key(struct config *dst, const struct config *src, const char *section,
                    const char *key)
{
    const struct key *k = find(KEYS, N(KEYS), section, key);
    if (!k)
        return -1;
    memcpy((char *)dst + k->off, (const char *)src + k->off, k->size);
    return 0;
}
