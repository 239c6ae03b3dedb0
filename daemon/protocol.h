/* Protocol 1 (docs/protocol.md, its specification): every message the daemon sends, and
 * the parser of every command a client sends. One file, so that the wire format is read
 * and changed in one place; the daemon's modules hand it plain values. Messages are one
 * JSON object without the newline (the server adds it). */
#ifndef EMOTIOND_PROTOCOL_H
#define EMOTIOND_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "faces.h"
#include "json_out.h"
#include "model.h"
#include "textsize.h"

#define PROTO_VERSION 1
/* The largest message: a frame of FACES_MAX faces, a telemetry or status message. */
#define PROTO_MSG_MAX 16384
/* The longest command line; a longer one closes the connection. */
#define PROTO_LINE_MAX 4096

/* Topics a client subscribes to: bits. */
enum proto_topic { PROTO_FRAME = 1, PROTO_TELEMETRY = 2 };
#define PROTO_ALL_TOPICS (PROTO_FRAME | PROTO_TELEMETRY)

struct proto_hello {
    const char *version, *model, *precision, *source;
    const struct enn_model *info;         /* its class list, in its order */
};

/* The telemetry fields, as values (daemon/telemetry.c measures them). NAN is null. */
enum { PROTO_STAGES = 4 };                /* capture, detect, classify, publish */
struct proto_percentiles {
    double p50, p90, p99;
};
struct proto_telemetry {
    double ts, interval_s;
    struct {
        double fps;
        struct proto_percentiles ms;
    } stages[PROTO_STAGES];
    struct proto_percentiles latency_ms;
    uint64_t drops_camera, drops_corrupt, drops_pipeline, drops_clients, capped;
    double faces_per_s, cpu_percent;
    int n_temps;                           /* 0: null */
    struct board_temp temps[BOARD_MAX_ZONES];
    int n_cpus;                            /* 0: null */
    double cpu_mhz[BOARD_MAX_CPUS];
    const struct board_power_mode *mode;   /* NULL or unknown: null */
    bool power_known;
    double watts;
    bool lower_bound;
    const char *power_source;
    double images_per_s_per_w;
    const char *profile;                   /* NULL: null */
    const char *model, *precision;         /* precision NULL: null */
    int workers;
};

struct proto_status {
    const char *telemetry;                 /* proto_telemetry_fields' text; "" before any */
    double uptime_s;
    int clients;
    bool source_connected;
    const char *source;
};

void proto_hello(struct json_out *j, const struct proto_hello *h);
/* One face object: {"id","box","label","confidence","scores"} (emotionctl's too). */
void proto_face(struct json_out *j, const struct enn_model *m, int id, const float box[4],
                int label, const float *scores);
void proto_frame(struct json_out *j, const struct enn_model *m, uint64_t seq, double ts_unix,
                 double latency_ms, int width, int height, const struct face_result *faces,
                 int n);
/* The telemetry fields without braces or "type": the status answer reuses them. */
void proto_telemetry_fields(struct json_out *j, const struct proto_telemetry *t);
/* {"type":"telemetry", fields}. */
void proto_telemetry(struct json_out *j, const char *fields);
void proto_status(struct json_out *j, const struct proto_status *s);
void proto_subscribed(struct json_out *j, unsigned topics);
void proto_dropped(struct json_out *j, uint64_t count, uint64_t total);
void proto_error(struct json_out *j, const char *why);

enum proto_cmd { PROTO_CMD_NONE, PROTO_CMD_SUBSCRIBE, PROTO_CMD_STATUS, PROTO_CMD_BAD };
struct proto_command {
    enum proto_cmd cmd;
    unsigned topics;                       /* PROTO_CMD_SUBSCRIBE */
    char error[TEXT_WHY];                  /* PROTO_CMD_BAD: what to answer */
};
/* One command line (without its newline); trailing blanks and \r are ignored, an empty
 * line is PROTO_CMD_NONE. */
void proto_parse_command(const char *line, size_t len, struct proto_command *out);

#endif
