#define _POSIX_C_SOURCE 200809L
#include "telemetry.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "clock.h"

int tel_init(struct telemetry *t, const char *system_root)
{
    memset(t, 0, sizeof *t);
    snprintf(t->root, sizeof t->root, "%s", system_root && *system_root ? system_root : "/");
    t->power = board_power_open(t->root);
    getrusage(RUSAGE_SELF, &t->last_usage);
    t->last_ns = mono_ns();
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
    int64_t ns = mono_ns();
    getrusage(RUSAGE_SELF, &now);
    double used = tv_s(now.ru_utime) + tv_s(now.ru_stime) - tv_s(t->last_usage.ru_utime) -
                  tv_s(t->last_usage.ru_stime);
    double wall = (double)(ns - t->last_ns) / 1e9;
    t->last_usage = now;
    t->last_ns = ns;
    return wall > 0 ? 100.0 * used / wall : NAN;
}

_Static_assert((int)PL_STAGES == (int)PROTO_STAGES, "telemetry stages are the protocol's");

static void percentiles(const struct histogram *h, struct proto_percentiles *out)
{
    out->p50 = hist_percentile(h, 50);
    out->p90 = hist_percentile(h, 90);
    out->p99 = hist_percentile(h, 99);
}

void tel_collect(struct telemetry *t, const struct tel_context *ctx, struct proto_telemetry *out)
{
    const struct pl_stats *st = ctx->stats;
    double w = st->window_s > 0 ? st->window_s : NAN;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    memset(out, 0, sizeof *out);
    out->ts = (double)now.tv_sec + now.tv_nsec / 1e9;
    out->interval_s = st->window_s;
    for (int s = 0; s < PL_STAGES; s++) {
        out->stages[s].fps = (double)st->frames[s] / w;
        percentiles(&st->stage[s], &out->stages[s].ms);
    }
    percentiles(&st->latency, &out->latency_ms);
    out->drops_camera = st->source.seq_gaps;
    out->drops_corrupt = st->source.corrupt;
    out->drops_pipeline = st->drops_pipeline + st->source.pool_empty;
    out->drops_clients = ctx->client_drops;
    out->capped = st->drops_capped;
    out->faces_per_s = (double)st->faces / w;
    out->cpu_percent = cpu_percent(t);
    out->n_temps = board_temperatures(t->root, out->temps, BOARD_MAX_ZONES);
    out->n_cpus = board_cpu_mhz(t->root, out->cpu_mhz, BOARD_MAX_CPUS);
    out->mode = ctx->mode;
    out->power_known = t->watts_n > 0;
    out->watts = t->watts_n ? t->watts_sum / t->watts_n : NAN;
    out->lower_bound = t->lower_bound;
    out->power_source = t->power_source;
    out->images_per_s_per_w = out->power_known && out->watts > 0 ? out->faces_per_s / out->watts
                                                                 : NAN;
    out->profile = ctx->profile;
    out->model = ctx->model;
    out->precision = ctx->precision;
    out->workers = ctx->workers;
    t->watts_sum = 0;
    t->watts_n = 0;
}

void tel_close(struct telemetry *t)
{
    board_power_close(t->power);
    t->power = NULL;
}
