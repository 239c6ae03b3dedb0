#define _POSIX_C_SOURCE 200809L
#include "protocol.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *topic_names[] = {[PROTO_FRAME] = "frame", [PROTO_TELEMETRY] = "telemetry",
                                    [PROTO_PREVIEW] = "preview"};
#define TOPIC_LIST "frame, telemetry, preview"
static const char *stage_names[PROTO_STAGES] = {"capture", "detect", "classify", "publish"};

static void str_or_null(struct json_out *j, const char *s)
{
    if (s)
        json_str(j, s);
    else
        json_raw(j, "null");
}

/* A setting as the config file gives it: 2, 0.5 (not 2.00) */
static void short_num(struct json_out *j, double v)
{
    char text[32];
    snprintf(text, sizeof text, "%.6g", v);
    json_raw(j, text);
}

/* ,"model":..,"precision":.. : the classifier in force (hello and telemetry) */
static void model_fields(struct json_out *j, const char *model, const char *precision)
{
    json_raw(j, ",\"model\":");
    json_str(j, model);
    json_raw(j, ",\"precision\":");
    str_or_null(j, precision);
}

void proto_hello(struct json_out *j, const struct proto_hello *h)
{
    json_raw(j, "{\"type\":\"hello\",\"protocol\":");
    json_int(j, PROTO_VERSION);
    json_raw(j, ",\"version\":");
    json_str(j, h->version);
    if (h->instance) {
        json_raw(j, ",\"instance\":");
        json_str(j, h->instance);
    }
    model_fields(j, h->model, h->precision);
    json_raw(j, ",\"classes\":[");
    for (int c = 0; c < h->info->n_classes; c++) {
        json_raw(j, c ? "," : "");
        json_str(j, h->info->classes[c]);
    }
    json_raw(j, "],\"source\":");
    json_str(j, h->source);
    json_raw(j, ",\"preview\":{\"enabled\":");
    if (h->preview.enabled) {
        json_raw(j, "true,\"width\":");
        json_int(j, h->preview.width);
        json_raw(j, ",\"fps\":");
        short_num(j, h->preview.fps);
    } else {
        json_raw(j, "false");
    }
    json_raw(j, "}}");
}

void proto_face(struct json_out *j, const struct enn_model *m, int id, const float box[4],
                int label, const float *scores)
{
    json_raw(j, "{\"id\":");
    json_int(j, id);
    json_raw(j, ",\"box\":[");
    for (int k = 0; k < 4; k++) {
        json_raw(j, k ? "," : "");
        json_num(j, box[k], 0);
    }
    json_raw(j, "],\"label\":");
    json_str(j, m->classes[label]);
    json_raw(j, ",\"confidence\":");
    json_num(j, scores[label], 3);
    json_raw(j, ",\"scores\":{");
    for (int c = 0; c < m->n_classes; c++) {
        json_raw(j, c ? "," : "");
        json_str(j, m->classes[c]);
        json_raw(j, ":");
        json_num(j, scores[c], 3);
    }
    json_raw(j, "}}");
}

void proto_frame(struct json_out *j, const struct enn_model *m, uint64_t seq, double ts_unix,
                 double latency_ms, int width, int height, const struct face_result *faces,
                 int n)
{
    json_raw(j, "{\"type\":\"frame\",\"seq\":");
    json_int(j, (long long)seq);
    json_raw(j, ",\"ts\":");
    json_num(j, ts_unix, 3);
    json_raw(j, ",\"latency_ms\":");
    json_num(j, latency_ms, 2);
    json_raw(j, ",\"width\":");
    json_int(j, width);
    json_raw(j, ",\"height\":");
    json_int(j, height);
    json_raw(j, ",\"faces\":[");
    for (int i = 0; i < n; i++) {
        json_raw(j, i ? "," : "");
        proto_face(j, m, faces[i].id, faces[i].box, faces[i].label, faces[i].scores);
    }
    json_raw(j, "]}");
}

void proto_preview(struct json_out *j, const struct proto_preview *p)
{
    json_raw(j, "{\"type\":\"preview\",\"seq\":");
    json_int(j, (long long)p->seq);
    json_raw(j, ",\"ts\":");
    json_num(j, p->ts_unix, 3);
    json_raw(j, ",\"width\":");
    json_int(j, p->width);
    json_raw(j, ",\"height\":");
    json_int(j, p->height);
    json_raw(j, ",\"frame_width\":");
    json_int(j, p->frame_width);
    json_raw(j, ",\"frame_height\":");
    json_int(j, p->frame_height);
    json_raw(j, ",\"faces\":[");
    for (int i = 0; i < p->n_faces; i++) {
        const struct proto_preview_face *f = &p->faces[i];
        json_raw(j, i ? ",{\"id\":" : "{\"id\":");
        json_int(j, f->id);
        json_raw(j, ",\"box\":[");
        for (int k = 0; k < 4; k++) {
            json_raw(j, k ? "," : "");
            json_int(j, f->box[k]);
        }
        json_raw(j, "],\"label\":");
        json_str(j, f->label);
        json_raw(j, ",\"confidence\":");
        json_num(j, f->confidence, 3);
        json_raw(j, "}");
    }
    json_raw(j, "],\"jpeg\":");
    json_base64(j, p->jpeg, p->jpeg_len);
    json_raw(j, "}");
}

/* "p50<suffix>":..,"p90<suffix>":..,"p99<suffix>":.. */
static void percentiles(struct json_out *j, const struct proto_percentiles *p,
                        const char *suffix)
{
    const double v[3] = {p->p50, p->p90, p->p99};
    static const char *names[3] = {"p50", "p90", "p99"};
    for (int i = 0; i < 3; i++) {
        char key[24];
        snprintf(key, sizeof key, "%s\"%s%s\":", i ? "," : "", names[i], suffix);
        json_raw(j, key);
        json_num(j, v[i], 2);
    }
}

static void temperatures(struct json_out *j, const struct proto_telemetry *t)
{
    json_raw(j, ",\"temperatures_c\":");
    if (t->n_temps == 0)
        json_raw(j, "null");
    for (int i = 0; i < t->n_temps; i++) {
        bool repeated = false;      /* JSON objects take each name once */
        for (int k = 0; k < i; k++)
            repeated |= strcmp(t->temps[k].type, t->temps[i].type) == 0;
        if (repeated)
            continue;
        json_raw(j, i ? "," : "{");
        json_str(j, t->temps[i].type);
        json_raw(j, ":");
        json_num(j, t->temps[i].celsius, 1);
    }
    if (t->n_temps > 0)
        json_raw(j, "}");
    json_raw(j, ",\"cpu_mhz\":");
    json_raw(j, t->n_cpus ? "[" : "null");
    for (int i = 0; i < t->n_cpus; i++) {
        json_raw(j, i ? "," : "");
        json_num(j, t->cpu_mhz[i], 0);
    }
    if (t->n_cpus)
        json_raw(j, "]");
}

static void power(struct json_out *j, const struct proto_telemetry *t)
{
    json_raw(j, ",\"power_mode\":");
    if (t->mode && t->mode->known) {
        json_raw(j, "{\"id\":");
        json_int(j, t->mode->id);
        json_raw(j, ",\"name\":");
        json_str(j, t->mode->name);
        json_raw(j, "}");
    } else {
        json_raw(j, "null");
    }
    json_raw(j, ",\"power\":");
    if (t->power_known) {
        json_raw(j, "{\"watts\":");
        json_num(j, t->watts, 2);
        json_raw(j, ",\"lower_bound\":");
        json_raw(j, t->lower_bound ? "true" : "false");
        json_raw(j, ",\"source\":");
        json_str(j, t->power_source);
        json_raw(j, "}");
    } else {
        json_raw(j, "null");
    }
    json_raw(j, ",\"images_per_s_per_w\":");
    json_num(j, t->images_per_s_per_w, 2);
}

static void preview_stats(struct json_out *j, const struct proto_preview_stats *p)
{
    json_raw(j, ",\"preview\":");
    if (!p) {
        json_raw(j, "null");
        return;
    }
    json_raw(j, "{\"fps\":");
    json_num(j, p->fps, 2);
    const struct { const char *key; uint64_t n; } counts[] = {
        {",\"sent\":", p->sent}, {",\"skipped\":", p->skipped}, {",\"busy\":", p->busy},
        {",\"oversize\":", p->oversize}};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        json_raw(j, counts[i].key);
        json_int(j, (long long)counts[i].n);
    }
    json_raw(j, ",\"encode_p50_ms\":");
    json_num(j, p->encode_p50_ms, 2);
    json_raw(j, ",\"encode_p99_ms\":");
    json_num(j, p->encode_p99_ms, 2);
    json_raw(j, ",\"bytes_p50\":");
    json_num(j, p->bytes_p50, 0);
    json_raw(j, "}");
}

void proto_telemetry_fields(struct json_out *j, const struct proto_telemetry *t)
{
    json_raw(j, "\"ts\":");
    json_num(j, t->ts, 3);
    json_raw(j, ",\"interval_s\":");
    json_num(j, t->interval_s, 3);
    json_raw(j, ",\"stages\":{");
    for (int s = 0; s < PROTO_STAGES; s++) {
        json_raw(j, s ? ",\"" : "\"");
        json_raw(j, stage_names[s]);
        json_raw(j, "\":{\"fps\":");
        json_num(j, t->stages[s].fps, 1);
        json_raw(j, ",");
        percentiles(j, &t->stages[s].ms, "_ms");
        json_raw(j, "}");
    }
    json_raw(j, "},\"latency_ms\":{");
    percentiles(j, &t->latency_ms, "");
    json_raw(j, "},\"drops\":{\"camera\":");
    json_int(j, (long long)t->drops_camera);
    json_raw(j, ",\"corrupt\":");
    json_int(j, (long long)t->drops_corrupt);
    json_raw(j, ",\"pipeline\":");
    json_int(j, (long long)t->drops_pipeline);
    json_raw(j, ",\"clients\":");
    json_int(j, (long long)t->drops_clients);
    json_raw(j, "},\"capped\":");
    json_int(j, (long long)t->capped);
    json_raw(j, ",\"faces_per_s\":");
    json_num(j, t->faces_per_s, 1);
    json_raw(j, ",\"cpu_percent\":");
    json_num(j, t->cpu_percent, 1);
    temperatures(j, t);
    power(j, t);
    json_raw(j, ",\"profile\":");
    str_or_null(j, t->profile);
    model_fields(j, t->model, t->precision);
    json_raw(j, ",\"workers\":");
    json_int(j, t->workers);
    preview_stats(j, t->preview);
}

void proto_telemetry(struct json_out *j, const char *fields)
{
    json_raw(j, "{\"type\":\"telemetry\",");
    json_raw(j, fields);
    json_raw(j, "}");
}

void proto_status(struct json_out *j, const struct proto_status *s)
{
    json_raw(j, "{\"type\":\"status\",");
    if (s->telemetry && s->telemetry[0]) {
        json_raw(j, s->telemetry);
        json_raw(j, ",");
    }
    json_raw(j, "\"uptime_s\":");
    json_num(j, s->uptime_s, 1);
    json_raw(j, ",\"clients\":");
    json_int(j, s->clients);
    json_raw(j, ",\"source_connected\":");
    json_raw(j, s->source_connected ? "true" : "false");
    json_raw(j, ",\"source\":");
    json_str(j, s->source);
    json_raw(j, "}");
}

void proto_subscribed(struct json_out *j, unsigned topics)
{
    json_raw(j, "{\"type\":\"subscribed\",\"topics\":[");
    const char *sep = "";
    for (unsigned b = PROTO_FRAME; b <= PROTO_PREVIEW; b <<= 1)
        if (topics & b) {
            json_raw(j, sep);
            json_str(j, topic_names[b]);
            sep = ",";
        }
    json_raw(j, "]}");
}

void proto_dropped(struct json_out *j, uint64_t count, uint64_t total)
{
    json_raw(j, "{\"type\":\"dropped\",\"count\":");
    json_int(j, (long long)count);
    json_raw(j, ",\"total\":");
    json_int(j, (long long)total);
    json_raw(j, "}");
}

void proto_error(struct json_out *j, const char *why)
{
    json_raw(j, "{\"type\":\"error\",\"error\":");
    json_str(j, why);
    json_raw(j, "}");
}

static void bad(struct proto_command *out, const char *fmt, const char *arg)
{
    out->cmd = PROTO_CMD_BAD;
    snprintf(out->error, sizeof out->error, fmt, arg);
}

static void parse_subscribe(json_t *cmd, struct proto_command *out)
{
    json_t *topics = json_object_get(cmd, "topics");
    if (!json_is_array(topics)) {
        bad(out, "subscribe needs \"topics\": a list of %s",
            "\"frame\", \"telemetry\", \"preview\"");
        return;
    }
    unsigned mask = 0;
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        const char *name = json_string_value(t);
        unsigned bit = 0;
        for (unsigned b = PROTO_FRAME; name && b <= PROTO_PREVIEW; b <<= 1)
            if (!strcmp(name, topic_names[b]))
                bit = b;
        if (!bit) {
            bad(out, "unknown topic %s (topics: " TOPIC_LIST ")",
                name ? name : "(not a string)");
            return;
        }
        mask |= bit;
    }
    out->cmd = PROTO_CMD_SUBSCRIBE;
    out->topics = mask;
}

void proto_parse_command(const char *line, size_t len, struct proto_command *out)
{
    memset(out, 0, sizeof *out);
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    json_error_t jerr;
    json_t *cmd = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *name = NULL;
    if (!cmd)
        bad(out, "invalid JSON: %s", jerr.text);
    else if (!json_is_object(cmd))
        bad(out, "%s", "a command is a JSON object, e.g. {\"cmd\":\"status\"}");
    else if (!(name = json_string_value(json_object_get(cmd, "cmd"))))
        bad(out, "%s", "missing \"cmd\" (subscribe or status)");
    else if (!strcmp(name, "subscribe"))
        parse_subscribe(cmd, out);
    else if (!strcmp(name, "status"))
        out->cmd = PROTO_CMD_STATUS;
    else
        bad(out, "unknown command '%s' (subscribe or status)", name);
    json_decref(cmd);
}
