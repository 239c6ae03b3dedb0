#define _GNU_SOURCE
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "clock.h"

#define REPEAT_WINDOW_S 10.0

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level current = LOG_INFO;
static int journal = -1;            /* -1: not decided yet */
static const char *program = "emotiond";
static char last[512];
static enum log_level last_level;
static double last_time;
static unsigned long repeats;

static const char *names[8] = {[LOG_ERR] = "error", [LOG_WARN] = "warning",
                               [LOG_INFO] = "info", [LOG_DEBUG] = "debug"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return i;
    return -1;
}

void log_set_program(const char *name)
{
    program = name;
}

void log_set_level(enum log_level level)
{
    pthread_mutex_lock(&lock);
    current = level;
    pthread_mutex_unlock(&lock);
}

void log_set_journal(bool on)
{
    pthread_mutex_lock(&lock);
    journal = on;
    pthread_mutex_unlock(&lock);
}

/* JOURNAL_STREAM names the journal's stream (dev:inode) when stderr is connected to it. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void emit(enum log_level level, const char *text)
{
    if (journal)
        fprintf(stderr, "<%d>%s\n", (int)level, text);
    else
        fprintf(stderr, "%s: %s: %s\n", program, names[level], text);
}

static void flush_repeats(void)
{
    if (repeats > 0) {
        char note[64];
        snprintf(note, sizeof note, "(last message repeated %lu more times)", repeats);
        emit(last_level, note);
        repeats = 0;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&lock);
    if (journal < 0)
        journal = stderr_is_journal();
    if (level <= current) {
        double t = mono_s();
        if (strcmp(text, last) == 0 && t - last_time < REPEAT_WINDOW_S) {
            repeats++;
        } else {
            flush_repeats();
            emit(level, text);
            snprintf(last, sizeof last, "%s", text);
            last_level = level;
            last_time = t;
        }
    }
    pthread_mutex_unlock(&lock);
}
