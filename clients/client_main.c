#define _GNU_SOURCE
#include "client_main.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "textsize.h"

enum { O_CHECK = 1000, O_VERSION };

int client_configure(const struct client_program *p, int argc, char **argv,
                     struct config *c, bool *check, char *origin, size_t originlen)
{
    struct option longopts[CLIENT_MAX_FLAGS + 4];
    size_t n = p->n_flags;
    if (n > CLIENT_MAX_FLAGS) {
        fprintf(stderr, "%s: %zu flags, more than %d\n", p->name, n, CLIENT_MAX_FLAGS);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        longopts[i] = (struct option){p->flags[i].name,
                                      p->flags[i].value ? no_argument : required_argument, 0,
                                      (int)i};
    longopts[n] = (struct option){"check-config", no_argument, 0, O_CHECK};
    longopts[n + 1] = (struct option){"version", no_argument, 0, O_VERSION};
    longopts[n + 2] = (struct option){"help", no_argument, 0, 'h'};
    longopts[n + 3] = (struct option){0, 0, 0, 0};
    const char *path = CONFIG_DEFAULT_PATH;
    bool explicit_path = false;
    int opt;
    /* the file first, wherever -c is, so that flags win */
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (opt == 'c') {
            path = optarg;
            explicit_path = true;
        } else if (opt == 'h') {
            p->usage(stdout);
            return 0;
        } else if (opt == O_VERSION) {
            p->version();
            return 0;
        } else if (opt == O_CHECK) {
            *check = true;
        } else if (opt == '?') {
            p->usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", p->name, argv[optind]);
        p->usage(stderr);
        return 2;
    }
    char err[TEXT_ERR];
    config_defaults(c);
    if (!explicit_path && access(path, F_OK) != 0)
        path = NULL;
    snprintf(origin, originlen, "%s", path ? path : "built-in defaults");
    if (path && config_load(path, c, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", p->name, err);
        return *check ? 1 : p->bad_file_status;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (opt < 0 || opt >= (int)n)
            continue;
        const struct client_flag *f = &p->flags[opt];
        char flagname[40];
        snprintf(flagname, sizeof flagname, "--%s", f->name);
        if (config_set(c, f->section, f->key, f->value ? f->value : optarg, flagname, err,
                       sizeof err)) {
            fprintf(stderr, "%s: %s\n", p->name, err);
            return 1;
        }
        snprintf(origin, originlen, "%s and flags", path ? path : "built-in defaults");
    }
    return -1;
}

void client_print_config(const struct client_program *p, const struct config *c,
                         const char *origin)
{
    printf("# effective configuration: %s\n[daemon]\nsocket = %s\n\n", origin,
           c->daemon.socket);
    config_print_section(c, p->section, stdout);
}

void client_log_start(const struct client_program *p, int level)
{
    log_set_program(p->name);
    log_set_level(level > 0 ? (enum log_level)level : LOG_INFO);
}

int client_signals(bool hup)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (hup)
        sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

int client_signal(int sig_fd)
{
    struct signalfd_siginfo si;
    return read(sig_fd, &si, sizeof si) == sizeof si ? (int)si.ssi_signo : 0;
}
