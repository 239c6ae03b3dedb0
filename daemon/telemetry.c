#define _POSIX_C_SOURCE 200809L
#include "telemetry.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *stage_names[PL_STAGES] = {"capture", "detect", "classify", "publish"};

int tel_init(struct telemetry *t, const char *system_root)
{
    memset(t, 0, sizeof *t);
    snprintf(t->root, sizeof t->root, "%s", system_root && *system_root ? system_root : "/");
    t->power = board_power_open(t->root);
    getrusage(RUSAGE_SELF, &t->last_usage);
    t->last_ns = pl_now_ns();
    return t->power ? 0 : -1;
}

void tel_sample_power(struct telemetry *t, int64_t now_ns)
{
    struct board_power bp;
    if (!t->power)
        return;
    board_power_read(t->power, now_ns, &bp);
    if (!bp.known)
        return;
    t->watts_sum += bp.watts;
    t->watts_n++;
    t->lower_bound = bp.lower_bound;
    snprintf(t->power_source, sizeof t->power_source, "%s", bp.source);
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

static double cpu_percent(struct telemetry *t)
{
    struct rusage now;
    int64_t ns = pl_now_ns();
    getrusage(RUSAGE_SELF, &now);
    double used = tv_s(now.ru_utime) + tv_s(now.ru_stime) - tv_s(t->last_usage.ru_utime) -
                  tv_s(t->last_usage.ru_stime);
    double wall = (double)(ns - t->last_ns) / 1e9;
    t->last_usage = now;
    t->last_ns = ns;
    return wall > 0 ? 100.0 * used / wall : NAN;
}

/* "p50<suffix>":..,"p90<suffix>":..,"p99<suffix>":.. */
static void percentiles(struct json_out *j, const struct histogram *h, const char *suffix)
{
    static const double ps[3] = {50, 90, 99};
    static const char *names[3] = {"p50", "p90", "p99"};
    for (int i = 0; i < 3; i++) {
        char key[24];
        snprintf(key, sizeof key, "%s\"%s%s\":", i ? "," : "", names[i], suffix);
        json_raw(j, key);
        json_num(j, hist_percentile(h, ps[i]), 2);
    }
}

void tel_fields(struct telemetry *t, const struct tel_context *ctx, struct json_out *j)
{
    const struct pl_stats *st = ctx->stats;
    double w = st->window_s > 0 ? st->window_s : NAN;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);

    json_raw(j, "\"ts\":");
    json_num(j, (double)now.tv_sec + now.tv_nsec / 1e9, 3);
    json_raw(j, ",\"interval_s\":");
    json_num(j, st->window_s, 3);
    json_raw(j, ",\"stages\":{");
    for (int s = 0; s < PL_STAGES; s++) {
        json_raw(j, s ? ",\"" : "\"");
        json_raw(j, stage_names[s]);
        json_raw(j, "\":{\"fps\":");
        json_num(j, (double)st->frames[s] / w, 1);
        json_raw(j, ",");
        percentiles(j, &st->stage[s], "_ms");
        json_raw(j, "}");
    }
    json_raw(j, "},\"latency_ms\":{");
    percentiles(j, &st->latency, "");
    json_raw(j, "},\"drops\":{\"camera\":");
    json_int(j, (long long)st->source.seq_gaps);
    json_raw(j, ",\"corrupt\":");
    json_int(j, (long long)st->source.corrupt);
    json_raw(j, ",\"pipeline\":");
    json_int(j, (long long)(st->drops_pipeline + st->source.pool_empty));
    json_raw(j, ",\"clients\":");
    json_int(j, (long long)ctx->client_drops);
    json_raw(j, "},\"capped\":");
    json_int(j, (long long)st->drops_capped);
    double faces_per_s = (double)st->faces / w;
    json_raw(j, ",\"faces_per_s\":");
    json_num(j, faces_per_s, 1);
    json_raw(j, ",\"cpu_percent\":");
    json_num(j, cpu_percent(t), 1);

    struct board_temp temps[BOARD_MAX_ZONES];
    int nt = board_temperatures(t->root, temps, BOARD_MAX_ZONES);
    json_raw(j, ",\"temperatures_c\":");
    if (nt == 0)
        json_raw(j, "null");
    for (int i = 0; i < nt; i++) {
        bool repeated = false;      /* JSON objects take each name once */
        for (int k = 0; k < i; k++)
            repeated |= strcmp(temps[k].type, temps[i].type) == 0;
        if (repeated)
            continue;
        json_raw(j, i ? "," : "{");
        json_str(j, temps[i].type);
        json_raw(j, ":");
        json_num(j, temps[i].celsius, 1);
    }
    if (nt > 0)
        json_raw(j, "}");

    double mhz[BOARD_MAX_CPUS];
    int nc = board_cpu_mhz(t->root, mhz, BOARD_MAX_CPUS);
    json_raw(j, ",\"cpu_mhz\":");
    json_raw(j, nc ? "[" : "null");
    for (int i = 0; i < nc; i++) {
        json_raw(j, i ? "," : "");
        json_num(j, mhz[i], 0);
    }
    if (nc)
        json_raw(j, "]");

    json_raw(j, ",\"power_mode\":");
    if (ctx->mode && ctx->mode->known) {
        json_raw(j, "{\"id\":");
        json_int(j, ctx->mode->id);
        json_raw(j, ",\"name\":");
        json_str(j, ctx->mode->name);
        json_raw(j, "}");
    } else {
        json_raw(j, "null");
    }

    json_raw(j, ",\"power\":");
    double watts = t->watts_n ? t->watts_sum / t->watts_n : NAN;
    if (t->watts_n) {
        json_raw(j, "{\"watts\":");
        json_num(j, watts, 2);
        json_raw(j, ",\"lower_bound\":");
        json_raw(j, t->lower_bound ? "true" : "false");
        json_raw(j, ",\"source\":");
        json_str(j, t->power_source);
        json_raw(j, "}");
    } else {
        json_raw(j, "null");
    }
    json_raw(j, ",\"images_per_s_per_w\":");
    json_num(j, t->watts_n && watts > 0 ? faces_per_s / watts : NAN, 2);
    json_raw(j, ",\"profile\":");
    if (ctx->profile)
        json_str(j, ctx->profile);
    else
        json_raw(j, "null");
    json_raw(j, ",\"model\":");
    json_str(j, ctx->model);
    json_raw(j, ",\"precision\":");
    if (ctx->precision)
        json_str(j, ctx->precision);
    else
        json_raw(j, "null");
    json_raw(j, ",\"workers\":");
    json_int(j, ctx->workers);
    t->watts_sum = 0;
    t->watts_n = 0;
}

void tel_close(struct telemetry *t)
{
    board_power_close(t->power);
    t->power = NULL;
}
