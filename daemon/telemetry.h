/* The telemetry figures (docs/protocol.md's telemetry message): per-stage rates and
 * latency percentiles from the pipeline's window, drops, faces/s, process CPU, temperatures, CPU
 * frequencies, the power mode, board power averaged over the window, and images/s/W
 * (faces classified per second / average board watts: the EmotionNet Nano paper's
 * efficiency metric, measured live). Unknown is null, never a guess. */
#ifndef EMOTIOND_TELEMETRY_H
#define EMOTIOND_TELEMETRY_H

#include <stdint.h>
#include <sys/resource.h>

#include "board.h"
#include "pipeline.h"
#include "protocol.h"

struct telemetry {
    char root[256];
    struct board_power_reader *power;
    double watts_sum;            /* power samples in this window */
    int watts_n;
    bool lower_bound;
    char power_source[96];
    struct rusage last_usage;
    int64_t last_ns;
};

int tel_init(struct telemetry *t, const char *system_root);
/* Reads board power once; call a few times a second so the window's average holds. */
void tel_sample_power(struct telemetry *t, int64_t now_ns);

struct tel_context {
    const struct pl_stats *stats;
    uint64_t client_drops;
    const struct board_power_mode *mode;
    const char *profile;          /* NULL: none applies */
    const char *model;
    const char *precision;     /* the classifier's: "fp32" or "int8" */
    int workers;
};

/* The telemetry figures for the window ending now (protocol.c writes them); starts the
 * next power window. out's strings point into t and ctx. */
void tel_collect(struct telemetry *t, const struct tel_context *ctx, struct proto_telemetry *out);
void tel_close(struct telemetry *t);

#endif
