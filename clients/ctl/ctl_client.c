#define _GNU_SOURCE
#include "ctl_client.h"
#include "ctl_connect.h"

#include <errno.h>
#include <jansson.h>
#include <sys/time.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STATUS_TIMEOUT_MS 3000

static FILE *connect_to(const char *path, bool quiet)
{
    char err[400];
    int fd = ctl_connect(path, false, err, sizeof err);
    if (fd < 0) {
        if (!quiet)
            fprintf(stderr, "emotionctl: %s\n", err);
        return NULL;
    }
    FILE *f = fdopen(fd, "r+");
    if (!f)
        close(fd);
    return f;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

static void print_face_line(json_t *frame, json_t *face)
{
    json_t *box = json_object_get(face, "box");
    double ts = json_number_value(json_object_get(frame, "ts"));
    time_t secs = (time_t)ts;
    struct tm tm;
    char when[16];
    strftime(when, sizeof when, "%H:%M:%S", localtime_r(&secs, &tm));
    printf("%s.%03d seq=%lld id=%lld %-10s %.2f box=%d,%d,%d,%d\n",
           when, (int)((ts - (double)secs) * 1000),
           (long long)json_integer_value(json_object_get(frame, "seq")),
           (long long)json_integer_value(json_object_get(face, "id")), str(face, "label"),
           json_number_value(json_object_get(face, "confidence")),
           (int)json_number_value(json_array_get(box, 0)),
           (int)json_number_value(json_array_get(box, 1)),
           (int)json_number_value(json_array_get(box, 2)),
           (int)json_number_value(json_array_get(box, 3)));
}

/* Shows messages until the connection closes or count frames were shown; false when the
 * daemon closed it. */
static bool watch_connection(FILE *f, bool raw, long count, long *frames)
{
    if (!raw)
        fputs("{\"cmd\":\"subscribe\",\"topics\":[\"frame\"]}\n", f);
    fflush(f);
    char *line = NULL;
    size_t cap = 0;
    bool open = true;
    while (count < 0 || *frames < count) {
        if (getline(&line, &cap, f) <= 0) {
            fprintf(stderr, "emotionctl: the daemon closed the connection\n");
            open = false;
            break;
        }
        json_t *msg = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(msg, "type"));
        if (!msg || !type) {
            fprintf(stderr, "emotionctl: not a protocol message: %.80s\n", line);
        } else if (raw) {
            fputs(line, stdout);
            *frames += !strcmp(type, "frame");
        } else if (!strcmp(type, "frame")) {
            json_t *faces = json_object_get(msg, "faces"), *face;
            size_t i;
            json_array_foreach(faces, i, face)
                print_face_line(msg, face);
            (*frames)++;
        } else if (!strcmp(type, "hello")) {
            fprintf(stderr, "emotiond %s, model %s, source %s\n", str(msg, "version"),
                    str(msg, "model"), str(msg, "source"));
        } else if (!strcmp(type, "dropped")) {
            fprintf(stderr, "emotionctl: %lld messages were dropped while we were slow\n",
                    (long long)json_integer_value(json_object_get(msg, "count")));
        } else if (!strcmp(type, "error")) {
            fprintf(stderr, "emotionctl: daemon says: %s\n", str(msg, "error"));
        }
        json_decref(msg);
    }
    free(line);
    return open;
}

int ctl_watch(const char *socket_path, int argc, char **argv)
{
    bool raw = false, retry = false;
    long count = -1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            raw = true;
        else if (!strcmp(argv[i], "--retry"))
            retry = true;
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            socket_path = argv[++i];
        else {
            fprintf(stderr, "emotionctl watch: unknown option %s\n"
                    "usage: emotionctl watch [--json] [--count N] [--retry] [--socket PATH]\n",
                    argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    long frames = 0;
    bool down = false;                /* say so once per outage, not every second */
    for (;;) {
        FILE *f = connect_to(socket_path, down);
        down = !f;
        bool open = f && watch_connection(f, raw, count, &frames);
        if (f)
            fclose(f);
        if (open)
            return 0;               /* count reached */
        if (!retry)
            return 1;
        sleep(1);                   /* the daemon restarts: follow it */
    }
}

static double num(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

static void print_num(json_t *o, const char *key, const char *fmt)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v))
        printf(fmt, json_number_value(v));
    else
        printf("%8s", "-");
}

static void print_status(json_t *st)
{
    printf("source     %s (%s)\n", str(st, "source"),
           json_is_true(json_object_get(st, "source_connected")) ? "streaming" : "not streaming");
    printf("model      %s, %lld worker(s)\n", str(st, "model"),
           (long long)json_integer_value(json_object_get(st, "workers")));
    printf("uptime     %.0f s, %lld client(s)\n", num(st, "uptime_s"),
           (long long)json_integer_value(json_object_get(st, "clients")));
    json_t *stages = json_object_get(st, "stages");
    if (!stages) {
        printf("(no telemetry yet)\n");
        return;
    }
    printf("\n%-10s %8s %8s %8s %8s\n", "stage", "fps", "p50 ms", "p90 ms", "p99 ms");
    const char *key;
    json_t *s;
    json_object_foreach(stages, key, s) {
        printf("%-10s ", key);
        print_num(s, "fps", "%8.1f");
        print_num(s, "p50_ms", " %8.2f");
        print_num(s, "p90_ms", " %8.2f");
        print_num(s, "p99_ms", " %8.2f");
        printf("\n");
    }
    json_t *lat = json_object_get(st, "latency_ms");
    printf("%-10s %8s ", "end-to-end", "");
    print_num(lat, "p50", "%8.2f");
    print_num(lat, "p90", " %8.2f");
    print_num(lat, "p99", " %8.2f");
    printf("\n\n");
    json_t *drops = json_object_get(st, "drops");
    printf("drops      camera %lld, corrupt %lld, pipeline %lld, clients %lld\n",
           (long long)json_integer_value(json_object_get(drops, "camera")),
           (long long)json_integer_value(json_object_get(drops, "corrupt")),
           (long long)json_integer_value(json_object_get(drops, "pipeline")),
           (long long)json_integer_value(json_object_get(drops, "clients")));
    printf("faces/s    %.1f\ncpu        %.0f %%\n", num(st, "faces_per_s"), num(st, "cpu_percent"));
    json_t *mode = json_object_get(st, "power_mode");
    if (json_is_object(mode))
        printf("power mode %lld (%s), profile %s\n",
               (long long)json_integer_value(json_object_get(mode, "id")), str(mode, "name"),
               json_is_string(json_object_get(st, "profile")) ? str(st, "profile") : "none");
    else
        printf("power mode unknown (not a Jetson)\n");
    json_t *power = json_object_get(st, "power");
    if (json_is_object(power))
        printf("power      %.2f W%s (%s), %.2f images/s/W\n", num(power, "watts"),
               json_is_true(json_object_get(power, "lower_bound")) ? " or more" : "",
               str(power, "source"), num(st, "images_per_s_per_w"));
    else
        printf("power      unknown on this machine\n");
    json_t *temps = json_object_get(st, "temperatures_c"), *t;
    if (json_is_object(temps)) {
        printf("temps     ");
        json_object_foreach(temps, key, t)
            printf(" %s %.1f C", key, json_number_value(t));
        printf("\n");
    }
    json_t *mhz = json_object_get(st, "cpu_mhz");
    if (json_is_array(mhz)) {
        size_t i;
        printf("cpu MHz   ");
        json_array_foreach(mhz, i, t)
            printf(" %.0f", json_number_value(t));
        printf("\n");
    }
}

int ctl_status(const char *socket_path, int argc, char **argv)
{
    bool raw = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            raw = true;
        else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            socket_path = argv[++i];
        else {
            fprintf(stderr, "emotionctl status: unknown option %s\n"
                    "usage: emotionctl status [--json] [--socket PATH]\n", argv[i]);
            return 2;
        }
    }
    FILE *f = connect_to(socket_path, false);
    if (!f)
        return 1;
    fputs("{\"cmd\":\"subscribe\",\"topics\":[]}\n{\"cmd\":\"status\"}\n", f);
    fflush(f);
    char *line = NULL;
    size_t cap = 0;
    int rc = 1;
    struct timeval tv = {.tv_sec = STATUS_TIMEOUT_MS / 1000};
    setsockopt(fileno(f), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        errno = 0;
        if (getline(&line, &cap, f) <= 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                fprintf(stderr, "emotionctl: no status from %s within %d s\n", socket_path,
                        STATUS_TIMEOUT_MS / 1000);
            else
                fprintf(stderr, "emotionctl: the daemon closed the connection\n");
            break;
        }
        json_t *msg = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(msg, "type"));
        bool done = type && !strcmp(type, "status");
        if (done) {
            if (raw)
                fputs(line, stdout);
            else
                print_status(msg);
            rc = 0;
        }
        json_decref(msg);
        if (done)
            break;
    }
    free(line);
    fclose(f);
    return rc;
}
