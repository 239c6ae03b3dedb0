/* Logging to stderr, one line per event, with a level. Under systemd, journald adds the
 * time, unit and pid; the "<N>" prefix (sd-daemon(3)) gives it the priority. A message
 * repeated within a window is printed once, then summarised ("... repeated N times"),
 * so a flapping camera cannot flood the journal. Thread-safe. */
#ifndef EMOTIOND_LOG_H
#define EMOTIOND_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_INFO = 6, LOG_DEBUG = 7 };

/* "error", "warning", "info", "debug" -> level; -1 when unknown. */
int log_level_parse(const char *name);
void log_set_level(enum log_level level);
/* The name lines start with when not under journald (default "emotiond"). */
void log_set_program(const char *name);
/* Prefix lines with "<N>" for journald (default: when stderr is the journal). */
void log_set_journal(bool on);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
