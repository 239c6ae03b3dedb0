/* emotiond's configuration: an INI file (config/emotiond.conf.example documents every
 * key), overridden by command-line flags. Keys are described by one table in config.c
 * (type, range, default, whether SIGHUP can change it live), so parsing, printing the
 * effective config and checking the example file all follow the same list. Unknown
 * sections and keys and bad values are errors that name the file, line and key. */
#ifndef EMOTIOND_CONFIG_H
#define EMOTIOND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/emotiond/emotiond.conf"
#define CONFIG_MAX_PROFILES 8
#define CONFIG_STR 256

struct config_profile {
    char mode[64];             /* nvpmodel mode name, e.g. MODE_15W */
    char model[CONFIG_STR];    /* network for this mode (variant A or B); "" keeps [daemon] */
    int detect_interval;       /* 0 keeps [detect] interval */
    double fps_cap;            /* 0: no cap */
    int workers;               /* 0 keeps [classify] workers */
    char precision[8];         /* keep | fp32 | int8 ("keep": [classify] precision) */
};

struct config {
    struct {
        char source[CONFIG_STR], socket[CONFIG_STR], socket_group[64], model[CONFIG_STR];
        char log_level[16], system_root[CONFIG_STR];
        int max_clients, max_clients_per_uid;
        double idle_timeout_s;
    } daemon;
    struct {
        int width, height, jpeg_scale, timeout_ms, max_timeouts;
        int max_frame_width, max_frame_height;   /* files: larger pictures are refused */
        double fps;
        char format[8];        /* camera pixel format: auto, or a FourCC it must offer */
    } capture;
    struct {
        char backend[16], model[CONFIG_STR], precision[8];
        int width, min_face, max_faces, interval;
        double score_threshold, nms_threshold;
    } detect;
    struct {
        double min_iou, max_absent_s, half_life_s;
    } track;
    struct {
        int workers;
        double crop_widen;
        bool align_eyes;
        char crop_rule[16];    /* box | landmarks */
        bool mirror;           /* average each crop with its mirror image */
        char precision[8];     /* fp32 | int8: the model's -int8 sibling */
    } classify;
    struct {
        double interval_s;
    } telemetry;
    struct {                   /* JPEG thumbnails for the `preview` topic (opt-in) */
        bool enabled;
        int width;             /* thumbnail width; its height keeps the frame's aspect */
        double fps;            /* at most this many previews a second */
        int quality;           /* JPEG quality */
    } preview;
    struct {                   /* emotiond-mqtt, the fleet bridge (emotiond ignores it) */
        char broker[CONFIG_STR], client_id[128], username[128], password_file[CONFIG_STR];
        char ca_file[CONFIG_STR], prefix[CONFIG_STR], homeassistant_prefix[128];
        char log_level[16];
        int qos, keepalive_s, queue_size;
        double faces_interval_s, summary_s, reconnect_max_s;
        bool telemetry, homeassistant;
    } mqtt;
    struct {                   /* emotiond-web, the local dashboard (emotiond ignores it) */
        char bind[64], allowed_hosts[CONFIG_STR], web_root[CONFIG_STR], log_level[16];
        int port, max_clients, max_clients_per_ip, max_streams, timeout_s;
    } web;
    struct config_profile profiles[CONFIG_MAX_PROFILES];
    int n_profiles;
};

void config_defaults(struct config *c);
/* Reads path over c (usually after config_defaults). A missing file is an error here;
 * the daemon decides whether to fall back to defaults. */
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* A small text file whole (malloc'd, NUL-terminated): regular files only (a FIFO would
 * block), at most 1 MiB, no NUL byte, lines of at most 197 characters. NULL with err. */
char *config_read_text(const char *path, char *err, size_t errlen);
/* One value, as the file would give it: flags use this with origin "--flag". */
int config_set(struct config *c, const char *section, const char *key, const char *value,
               const char *origin, char *err, size_t errlen);
/* The effective configuration, as a file that config_load reads back. */
void config_print(const struct config *c, FILE *out);
/* One section of it ("mqtt", "web": what emotiond-mqtt and emotiond-web --check-config
 * show). */
void config_print_section(const struct config *c, const char *section, FILE *out);
/* The profile for a power mode's name, or NULL when none is configured for it. */
const struct config_profile *config_profile_for(const struct config *c, const char *mode);
/* Whether section.key can change on SIGHUP without a restart (false if unknown). */
bool config_is_live(const char *section, const char *key);
/* One key that differs between two configurations. */
struct config_change {
    const char *section, *key;   /* profile keys: section "profile.MODE" */
    char value[CONFIG_STR];      /* the new value, as config_print writes it */
    bool live;                   /* SIGHUP may apply it without a restart */
};
typedef void config_diff_fn(const struct config_change *change, void *user);
/* Calls fn for each key whose value in new differs from old, in config_print's order
 * (every key of a profile old lacks counts as changed; a profile new lacks is not a
 * change of any key). Returns how many. The sections of the other programs ([mqtt] of
 * emotiond-mqtt, [web] of emotiond-web) are not compared: the daemon applies none. */
int config_diff(const struct config *old, const struct config *new, config_diff_fn *fn,
                void *user);
/* Copies one key's value (not a profile's) from src into dst; -1 if unknown. */
int config_copy_key(struct config *dst, const struct config *src, const char *section,
                    const char *key);
/* Calls fn for every key of the schema (profile keys under section "profile.MODE"). */
void config_each_key(void (*fn)(const char *section, const char *key, const char *dflt,
                                void *user),
                     void *user);

#endif
