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
/* The largest preview message (the JPEG in base64 and its faces): previews have their own
 * cap and their own slot in each client's queue (docs/protocol.md, "Flow control"). */
#define PROTO_PREVIEW_MAX 65536
/* The longest command line; a longer one closes the connection. */
#define PROTO_LINE_MAX 4096

/* Topics a client subscribes to: bits. A client that has not subscribed gets the
 * defaults; `preview` only when it asks. */
enum proto_topic { PROTO_FRAME = 1, PROTO_TELEMETRY = 2, PROTO_PREVIEW = 4 };
#define PROTO_DEFAULT_TOPICS (PROTO_FRAME | PROTO_TELEMETRY)
#define PROTO_EVERY_TOPIC (PROTO_FRAME | PROTO_TELEMETRY | PROTO_PREVIEW)

/* [preview] as hello announces it: width and fps only when enabled. */
struct proto_preview_info {
    bool enabled;
    int width;
    double fps;
};

struct proto_hello {
    const char *version, *model, *precision, *source;
    const char *instance;                 /* this run of the daemon (NULL: left out) */
    const struct enn_model *info;         /* its class list, in its order */
    struct proto_preview_info preview;
};

/* One face on a preview: its box in thumbnail pixels, the published label. */
struct proto_preview_face {
    int id;
    int box[4];
    const char *label;
    float confidence;
};

struct proto_preview {
    uint64_t seq;                          /* the frame message's */
    double ts_unix;                        /* the frame message's */
    int width, height;                     /* the thumbnail's */
    int frame_width, frame_height;
    const struct proto_preview_face *faces;
    int n_faces;
    const uint8_t *jpeg;
    size_t jpeg_len;
};

/* The telemetry's "preview" object. Totals since start, except the window's rate and
 * percentiles (NAN: none made in the window, written null). */
struct proto_preview_stats {
    double fps;                            /* previews made per second in the window */
    uint64_t sent;                         /* queued to a client (one per client) */
    uint64_t skipped;                      /* not queued to a client that was behind */
    uint64_t busy;                         /* due while the previous one was being made */
    uint64_t oversize;                     /* over PROTO_PREVIEW_MAX even at quality 10 */
    double encode_p50_ms, encode_p99_ms;   /* downscale, draw, JPEG, message */
    double bytes_p50;                      /* JPEG bytes */
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
    const struct proto_preview_stats *preview;   /* NULL: null ([preview] enabled = false) */
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
/* {"type":"preview",...,"jpeg":"<base64>"}; overflow when it does not fit. */
void proto_preview(struct json_out *j, const struct proto_preview *p);
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
