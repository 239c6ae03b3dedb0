/* The start of a client program of the daemon's socket (emotiond-mqtt, emotiond-web):
 * its settings from the defaults, the config file (its own section and [daemon] socket)
 * and the flags, in that order; --check-config's printout; logging; the signals its
 * poll loop takes through a signalfd. What each program resolves and runs stays its own. */
#ifndef EMOTIOND_CLIENT_MAIN_H
#define EMOTIOND_CLIENT_MAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define CLIENT_EX_CONFIG 78        /* sysexits.h: the units do not restart on it */
#define CLIENT_MAX_FLAGS 32

/* --NAME sets [SECTION] KEY to its argument, or to VALUE when there is one (a flag that
 * takes no argument). */
struct client_flag {
    const char *name, *section, *key, *value;
};

struct client_program {
    const char *name;              /* "emotiond-web": messages and the log */
    const char *section;           /* its config section: "web" */
    const struct client_flag *flags;
    size_t n_flags;                /* CLIENT_MAX_FLAGS at most */
    void (*usage)(FILE *to);
    void (*version)(void);         /* prints the --version line */
    int bad_file_status;           /* a config file that does not load, without --check-config */
};

/* Defaults, the file (-c, or CONFIG_DEFAULT_PATH when it exists), the flags in the order
 * given. Returns -1 to go on, or the exit status: 0 (--help, --version), 1 (a bad flag
 * value, or a bad file with --check-config), 2 (usage), bad_file_status (a bad file).
 * *check: --check-config was given; origin: where the settings came from, for messages. */
int client_configure(const struct client_program *p, int argc, char **argv,
                     struct config *c, bool *check, char *origin, size_t originlen);
/* --check-config's printout before the program's own "# resolved" line: the origin,
 * [daemon] socket and the program's section. */
void client_print_config(const struct client_program *p, const struct config *c,
                         const char *origin);
/* Logs as the program at level (0: the default, info). */
void client_log_start(const struct client_program *p, int level);
/* Blocks SIGTERM, SIGINT, and SIGHUP when hup (its default action would end the
 * program), for a signalfd that returns them; ignores SIGPIPE. The signalfd, or -1 with
 * errno. */
int client_signals(bool hup);
/* The signal read from sig_fd, or 0 when none was there. */
int client_signal(int sig_fd);

#endif
