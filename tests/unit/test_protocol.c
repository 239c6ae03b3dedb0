/* Protocol 1 round trip: every message type of docs/protocol.md written by protocol.c,
 * read back with jansson and checked field by field; every command through the parser,
 * good and bad. docs/protocol.md is the contract these mirror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "protocol.h"

static char buf[PROTO_MSG_MAX];

/* The message as JSON, after checking it fit, is one line and names its type. */
static json_t *parse(const struct json_out *j, const char *type)
{
    assert_false(j->overflow);
    assert_null(memchr(j->buf, '\n', j->len));
    json_error_t err;
    json_t *m = json_loadb(j->buf, j->len, JSON_REJECT_DUPLICATES, &err);
    if (!m)
        fail_msg("invalid JSON (%s): %.*s", err.text, (int)j->len, j->buf);
    assert_string_equal(json_string_value(json_object_get(m, "type")), type);
    return m;
}

static json_t *at(json_t *o, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *k = strtok(copy, "."); k && o; k = strtok(NULL, "."))
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(k)) : json_object_get(o, k);
    if (!o)
        fail_msg("%s is missing", path);
    return o;
}

static double num(json_t *o, const char *path)
{
    json_t *v = at(o, path);
    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    return json_number_value(v);
}

static const char *str(json_t *o, const char *path)
{
    json_t *v = at(o, path);
    if (!json_is_string(v))
        fail_msg("%s is not a string", path);
    return json_string_value(v);
}

static struct enn_model model(void)
{
    static const char *names[] = {"anger", "happiness", "neutral"};
    struct enn_model m;
    memset(&m, 0, sizeof m);
    m.n_classes = 3;
    for (int c = 0; c < 3; c++)
        snprintf(m.classes[c], sizeof m.classes[c], "%s", names[c]);
    return m;
}

static void test_hello(void **state)
{
    (void)state;
    struct enn_model m = model();
    struct proto_hello h = {.version = "0.1.0", .model = "nano-b", .precision = "int8",
                            .source = "file:\"odd\"\\name", .info = &m};
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_hello(&j, &h);
    json_t *o = parse(&j, "hello");
    assert_int_equal((int)num(o, "protocol"), PROTO_VERSION);
    assert_string_equal(str(o, "version"), "0.1.0");
    assert_string_equal(str(o, "model"), "nano-b");
    assert_string_equal(str(o, "precision"), "int8");
    assert_string_equal(str(o, "source"), "file:\"odd\"\\name");
    assert_int_equal(json_array_size(at(o, "classes")), 3);
    assert_string_equal(str(o, "classes.1"), "happiness");
    assert_null(json_object_get(o, "instance"));
    /* [preview] off: enabled false and nothing else */
    assert_true(json_is_false(at(o, "preview.enabled")));
    assert_int_equal(json_object_size(at(o, "preview")), 1);
    json_decref(o);

    /* on: its width and rate, written as the config gives them */
    h.preview = (struct proto_preview_info){.enabled = true, .width = 320, .fps = 2};
    h.instance = "0123456789abcdef";
    json_init(&j, buf, sizeof buf);
    proto_hello(&j, &h);
    o = parse(&j, "hello");
    assert_string_equal(str(o, "instance"), "0123456789abcdef");
    assert_true(json_is_true(at(o, "preview.enabled")));
    assert_int_equal((int)num(o, "preview.width"), 320);
    assert_float_equal(num(o, "preview.fps"), 2, 1e-12);
    assert_non_null(strstr(buf, "\"preview\":{\"enabled\":true,\"width\":320,\"fps\":2}"));
    json_decref(o);
    h.preview.fps = 0.1;
    json_init(&j, buf, sizeof buf);
    proto_hello(&j, &h);
    o = parse(&j, "hello");
    assert_float_equal(num(o, "preview.fps"), 0.1, 1e-12);
    json_decref(o);
}

static void test_frame(void **state)
{
    (void)state;
    struct enn_model m = model();
    struct face_result f[2];
    memset(f, 0, sizeof f);
    f[0] = (struct face_result){.id = 3, .box = {212, 96, 141, 141}, .label = 1,
                                .scores = {0.05f, 0.9f, 0.05f}};
    f[1] = (struct face_result){.id = 4, .box = {1, 2, 3, 4}, .label = 2,
                                .scores = {0.2f, 0.2f, 0.6f}};
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_frame(&j, &m, 1042, 1764043200.125, 7.9, 640, 480, f, 2);
    json_t *o = parse(&j, "frame");
    assert_int_equal((int)num(o, "seq"), 1042);
    assert_float_equal(num(o, "ts"), 1764043200.125, 1e-6);
    assert_float_equal(num(o, "latency_ms"), 7.9, 1e-9);
    assert_int_equal((int)num(o, "width"), 640);
    assert_int_equal((int)num(o, "height"), 480);
    assert_int_equal(json_array_size(at(o, "faces")), 2);
    assert_int_equal((int)num(o, "faces.0.id"), 3);
    for (int k = 0; k < 4; k++) {
        char path[32];
        snprintf(path, sizeof path, "faces.0.box.%d", k);
        assert_float_equal(num(o, path), f[0].box[k], 1e-9);
    }
    assert_string_equal(str(o, "faces.0.label"), "happiness");
    assert_float_equal(num(o, "faces.0.confidence"), 0.9, 1e-9);
    assert_float_equal(num(o, "faces.1.scores.neutral"), 0.6, 1e-9);
    assert_int_equal(json_object_size(at(o, "faces.1.scores")), 3);
    json_decref(o);

    /* no face: an empty list */
    json_init(&j, buf, sizeof buf);
    proto_frame(&j, &m, 1, 0, 0, 640, 480, f, 0);
    o = parse(&j, "frame");
    assert_int_equal(json_array_size(at(o, "faces")), 0);
    json_decref(o);
}

/* The preview message: every field, the faces in thumbnail pixels, and the JPEG bytes
 * back from the base64 exactly (every length modulo 3, so every padding). */
static void test_preview(void **state)
{
    (void)state;
    static uint8_t jpeg[3000], back[3000];
    for (size_t i = 0; i < sizeof jpeg; i++)
        jpeg[i] = (uint8_t)(i * 7919 >> 3);
    struct proto_preview_face faces[2] = {
        {.id = 3, .box = {106, 48, 70, 70}, .label = "happiness", .confidence = 0.91f},
        {.id = 9, .box = {-4, 0, 20, 31}, .label = "neutral", .confidence = 0.5f}};
    for (size_t len = sizeof jpeg - 2; len <= sizeof jpeg; len++) {
        struct proto_preview p = {.seq = 1042, .ts_unix = 1764043200.125, .width = 320,
                                  .height = 240, .frame_width = 640, .frame_height = 480,
                                  .faces = faces, .n_faces = 2, .jpeg = jpeg, .jpeg_len = len};
        static char big[PROTO_PREVIEW_MAX];
        struct json_out j;
        json_init(&j, big, sizeof big);
        proto_preview(&j, &p);
        json_t *o = parse(&j, "preview");
        assert_int_equal((int)num(o, "seq"), 1042);
        assert_float_equal(num(o, "ts"), 1764043200.125, 1e-6);
        assert_int_equal((int)num(o, "width"), 320);
        assert_int_equal((int)num(o, "height"), 240);
        assert_int_equal((int)num(o, "frame_width"), 640);
        assert_int_equal((int)num(o, "frame_height"), 480);
        assert_int_equal(json_array_size(at(o, "faces")), 2);
        assert_int_equal((int)num(o, "faces.0.id"), 3);
        assert_int_equal((int)num(o, "faces.0.box.0"), 106);
        assert_int_equal((int)num(o, "faces.0.box.3"), 70);
        assert_int_equal((int)num(o, "faces.1.box.0"), -4);
        assert_string_equal(str(o, "faces.0.label"), "happiness");
        assert_float_equal(num(o, "faces.0.confidence"), 0.91, 1e-9);
        assert_int_equal(json_object_size(at(o, "faces.1")), 4);   /* no scores */
        const char *b64 = str(o, "jpeg");
        assert_int_equal(strlen(b64), base64_encoded_len(len));
        assert_int_equal(base64_decode(b64, strlen(b64), back, sizeof back), (long)len);
        assert_memory_equal(back, jpeg, len);
        json_decref(o);
        /* the fields in the contract's order */
        const char *order[] = {"\"type\"", "\"seq\"", "\"ts\"", "\"width\"", "\"height\"",
                               "\"frame_width\"", "\"frame_height\"", "\"faces\"", "\"jpeg\""};
        const char *last = big;
        for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
            const char *at_k = strstr(last, order[k]);
            if (!at_k)
                fail_msg("%s missing or out of order", order[k]);
            last = at_k;
        }
        /* a buffer one byte short overflows: nothing half-sent */
        static char small[PROTO_PREVIEW_MAX];
        size_t need = strlen(big);
        json_init(&j, small, need);
        proto_preview(&j, &p);
        assert_true(j.overflow);
    }
    /* no face: an empty list */
    struct proto_preview p = {.seq = 1, .width = 64, .height = 48, .frame_width = 64,
                              .frame_height = 48, .jpeg = jpeg, .jpeg_len = 10};
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_preview(&j, &p);
    json_t *o = parse(&j, "preview");
    assert_int_equal(json_array_size(at(o, "faces")), 0);
    json_decref(o);
}

static void full_telemetry(struct proto_telemetry *t, struct board_power_mode *mode)
{
    memset(t, 0, sizeof *t);
    *mode = (struct board_power_mode){.known = true, .id = 2};
    snprintf(mode->name, sizeof mode->name, "MODE_15W_6CORE");
    t->ts = 1764043201.0;
    t->interval_s = 1.0;
    for (int s = 0; s < PROTO_STAGES; s++)
    {
        t->stages[s].fps = 30 + s;
        t->stages[s].ms = (struct proto_percentiles){1 + s, 2 + s, 3 + s};
    }
    t->stages[1].ms.p50 = NAN;            /* a stage that saw no frame: null */
    t->latency_ms = (struct proto_percentiles){6.1, 7.4, 9.8};
    t->drops_camera = 1;
    t->drops_corrupt = 2;
    t->drops_pipeline = 3;
    t->drops_clients = 4;
    t->capped = 5;
    t->faces_per_s = 30;
    t->cpu_percent = 41;
    t->n_temps = 3;
    t->temps[0] = (struct board_temp){"CPU-therm", 41.5};
    t->temps[1] = (struct board_temp){"GPU-therm", 40.0};
    t->temps[2] = (struct board_temp){"CPU-therm", 99.0};   /* a name once */
    t->n_cpus = 2;
    t->cpu_mhz[0] = t->cpu_mhz[1] = 1190;
    t->mode = mode;
    t->power_known = true;
    t->watts = 4.2;
    t->power_source = "ina3221 iio VDD_IN";
    t->images_per_s_per_w = 7.14;
    t->profile = "MODE_15W_6CORE";
    t->model = "nano-b";
    t->precision = "int8";
    t->workers = 2;
    static const struct proto_preview_stats preview = {
        .fps = 2, .sent = 40, .skipped = 3, .busy = 1, .oversize = 0,
        .encode_p50_ms = 2.5, .encode_p99_ms = NAN, .bytes_p50 = 9000};
    t->preview = &preview;
}

static void check_telemetry_fields(json_t *o)
{
    assert_float_equal(num(o, "ts"), 1764043201.0, 1e-6);
    assert_float_equal(num(o, "interval_s"), 1.0, 1e-9);
    static const char *stages[] = {"capture", "detect", "classify", "publish"};
    for (int s = 0; s < PROTO_STAGES; s++) {
        char path[64];
        snprintf(path, sizeof path, "stages.%s.fps", stages[s]);
        assert_float_equal(num(o, path), 30 + s, 1e-9);
        snprintf(path, sizeof path, "stages.%s.p99_ms", stages[s]);
        assert_float_equal(num(o, path), 3 + s, 1e-9);
    }
    assert_true(json_is_null(at(o, "stages.detect.p50_ms")));
    assert_float_equal(num(o, "latency_ms.p90"), 7.4, 1e-9);
    assert_int_equal((int)num(o, "drops.camera"), 1);
    assert_int_equal((int)num(o, "drops.corrupt"), 2);
    assert_int_equal((int)num(o, "drops.pipeline"), 3);
    assert_int_equal((int)num(o, "drops.clients"), 4);
    assert_int_equal((int)num(o, "capped"), 5);
    assert_float_equal(num(o, "faces_per_s"), 30, 1e-9);
    assert_float_equal(num(o, "cpu_percent"), 41, 1e-9);
    assert_int_equal(json_object_size(at(o, "temperatures_c")), 2);
    assert_float_equal(num(o, "temperatures_c.CPU-therm"), 41.5, 1e-9);
    assert_int_equal(json_array_size(at(o, "cpu_mhz")), 2);
    assert_int_equal((int)num(o, "power_mode.id"), 2);
    assert_string_equal(str(o, "power_mode.name"), "MODE_15W_6CORE");
    assert_float_equal(num(o, "power.watts"), 4.2, 1e-9);
    assert_true(json_is_false(at(o, "power.lower_bound")));
    assert_string_equal(str(o, "power.source"), "ina3221 iio VDD_IN");
    assert_float_equal(num(o, "images_per_s_per_w"), 7.14, 1e-9);
    assert_string_equal(str(o, "profile"), "MODE_15W_6CORE");
    assert_string_equal(str(o, "model"), "nano-b");
    assert_string_equal(str(o, "precision"), "int8");
    assert_int_equal((int)num(o, "workers"), 2);
    assert_float_equal(num(o, "preview.fps"), 2, 1e-9);
    assert_int_equal((int)num(o, "preview.sent"), 40);
    assert_int_equal((int)num(o, "preview.skipped"), 3);
    assert_int_equal((int)num(o, "preview.busy"), 1);
    assert_int_equal((int)num(o, "preview.oversize"), 0);
    assert_float_equal(num(o, "preview.encode_p50_ms"), 2.5, 1e-9);
    assert_true(json_is_null(at(o, "preview.encode_p99_ms")));
    assert_float_equal(num(o, "preview.bytes_p50"), 9000, 1e-9);
}

/* The fields text of t (the daemon keeps it for status). */
static const char *fields_text(const struct proto_telemetry *t)
{
    static char fields[PROTO_MSG_MAX];
    struct json_out f;
    json_init(&f, fields, sizeof fields);
    proto_telemetry_fields(&f, t);
    assert_false(f.overflow);
    return fields;
}

static void test_telemetry(void **state)
{
    (void)state;
    struct proto_telemetry t;
    struct board_power_mode mode;
    full_telemetry(&t, &mode);
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_telemetry(&j, fields_text(&t));
    json_t *o = parse(&j, "telemetry");
    check_telemetry_fields(o);
    json_decref(o);

    /* what the machine cannot tell is null, never invented */
    memset(&t, 0, sizeof t);
    t.model = "nano-b";
    t.watts = t.images_per_s_per_w = NAN;
    json_init(&j, buf, sizeof buf);
    proto_telemetry(&j, fields_text(&t));
    o = parse(&j, "telemetry");
    const char *unknown[] = {"power_mode", "power", "images_per_s_per_w", "profile",
                             "temperatures_c", "cpu_mhz", "precision", "preview"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
        if (!json_is_null(at(o, unknown[i])))
            fail_msg("%s should be null", unknown[i]);
    json_decref(o);
}

static void test_status(void **state)
{
    (void)state;
    struct proto_telemetry t;
    struct board_power_mode mode;
    full_telemetry(&t, &mode);
    struct json_out j;
    struct proto_status s = {.telemetry = fields_text(&t), .uptime_s = 12.25, .clients = 3,
                             .source_connected = true, .source = "v4l2:/dev/video0"};
    json_init(&j, buf, sizeof buf);
    proto_status(&j, &s);
    json_t *o = parse(&j, "status");
    check_telemetry_fields(o);
    assert_float_equal(num(o, "uptime_s"), 12.2, 0.051);
    assert_int_equal((int)num(o, "clients"), 3);
    assert_true(json_is_true(at(o, "source_connected")));
    assert_string_equal(str(o, "source"), "v4l2:/dev/video0");
    json_decref(o);

    /* before the first telemetry: only the daemon's own fields */
    s = (struct proto_status){.telemetry = "", .source = "file:x"};
    json_init(&j, buf, sizeof buf);
    proto_status(&j, &s);
    o = parse(&j, "status");
    assert_int_equal(json_object_size(o), 5);
    assert_true(json_is_false(at(o, "source_connected")));
    json_decref(o);
}

static void test_subscribed_dropped_error(void **state)
{
    (void)state;
    static const struct { unsigned topics; size_t n; const char *first; } cases[] = {
        {PROTO_DEFAULT_TOPICS, 2, "frame"}, {PROTO_TELEMETRY, 1, "telemetry"},
        {PROTO_PREVIEW, 1, "preview"}, {PROTO_EVERY_TOPIC, 3, "frame"}, {0, 0, NULL}};
    struct json_out j;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_init(&j, buf, sizeof buf);
        proto_subscribed(&j, cases[i].topics);
        json_t *o = parse(&j, "subscribed");
        assert_int_equal(json_array_size(at(o, "topics")), cases[i].n);
        if (cases[i].first)
            assert_string_equal(str(o, "topics.0"), cases[i].first);
        json_decref(o);
    }

    json_init(&j, buf, sizeof buf);
    proto_dropped(&j, 120, 5000000000ULL);
    json_t *o = parse(&j, "dropped");
    assert_int_equal((long long)num(o, "count"), 120);
    assert_true(num(o, "total") == 5e9);
    json_decref(o);

    json_init(&j, buf, sizeof buf);
    proto_error(&j, "unknown command 'x\"y' (subscribe or status)");
    o = parse(&j, "error");
    assert_string_equal(str(o, "error"), "unknown command 'x\"y' (subscribe or status)");
    json_decref(o);
}

static void parse_cmd(const char *line, struct proto_command *c)
{
    proto_parse_command(line, strlen(line), c);
}

static void test_commands(void **state)
{
    (void)state;
    struct proto_command c;
    parse_cmd("{\"cmd\":\"subscribe\",\"topics\":[\"telemetry\"]} \r", &c);
    assert_int_equal(c.cmd, PROTO_CMD_SUBSCRIBE);
    assert_int_equal(c.topics, PROTO_TELEMETRY);
    parse_cmd("{\"cmd\":\"subscribe\",\"topics\":[\"frame\",\"telemetry\"]}", &c);
    assert_int_equal(c.topics, PROTO_DEFAULT_TOPICS);
    parse_cmd("{\"cmd\":\"subscribe\",\"topics\":[\"preview\"]}", &c);
    assert_int_equal(c.cmd, PROTO_CMD_SUBSCRIBE);
    assert_int_equal(c.topics, PROTO_PREVIEW);
    parse_cmd("{\"cmd\":\"subscribe\",\"topics\":[\"telemetry\",\"preview\",\"frame\"]}", &c);
    assert_int_equal(c.topics, PROTO_EVERY_TOPIC);
    parse_cmd("{\"cmd\":\"subscribe\",\"topics\":[]}", &c);
    assert_int_equal(c.cmd, PROTO_CMD_SUBSCRIBE);
    assert_int_equal(c.topics, 0);
    parse_cmd("{\"cmd\":\"status\"}", &c);
    assert_int_equal(c.cmd, PROTO_CMD_STATUS);
    parse_cmd("  \t\r", &c);
    assert_int_equal(c.cmd, PROTO_CMD_NONE);

    static const struct { const char *line, *error; } bad[] = {
        {"{\"cmd\":", "invalid JSON: "},
        {"[1]", "a command is a JSON object, e.g. {\"cmd\":\"status\"}"},
        {"{\"topics\":[]}", "missing \"cmd\" (subscribe or status)"},
        {"{\"cmd\":\"subscibe\"}", "unknown command 'subscibe' (subscribe or status)"},
        {"{\"cmd\":\"subscribe\"}",
         "subscribe needs \"topics\": a list of \"frame\", \"telemetry\", \"preview\""},
        {"{\"cmd\":\"subscribe\",\"topics\":[\"frames\"]}",
         "unknown topic frames (topics: frame, telemetry, preview)"},
        {"{\"cmd\":\"subscribe\",\"topics\":[1]}",
         "unknown topic (not a string) (topics: frame, telemetry, preview)"},
        {"{\"cmd\":\"status\",\"cmd\":\"status\"}", "invalid JSON: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        parse_cmd(bad[i].line, &c);
        assert_int_equal(c.cmd, PROTO_CMD_BAD);
        if (strncmp(c.error, bad[i].error, strlen(bad[i].error)))
            fail_msg("%s: '%s', expected '%s'", bad[i].line, c.error, bad[i].error);
        /* and the error message carrying it round-trips */
        struct json_out j;
        json_init(&j, buf, sizeof buf);
        proto_error(&j, c.error);
        json_t *o = parse(&j, "error");
        assert_string_equal(str(o, "error"), c.error);
        json_decref(o);
    }
}

/* The largest frame a shipped model makes (FACES_MAX faces, all eight classes of the
 * fixed set) fits the message size. */
static void test_largest_frame_fits(void **state)
{
    (void)state;
    static const char *names[] = {"anger", "contempt", "disgust", "fear", "happiness",
                                  "neutral", "sadness", "surprise"};
    struct enn_model m;
    memset(&m, 0, sizeof m);
    m.n_classes = 8;
    for (int c = 0; c < m.n_classes; c++)
        snprintf(m.classes[c], sizeof m.classes[c], "%s", names[c]);
    static struct face_result f[FACES_MAX];
    for (int i = 0; i < FACES_MAX; i++)
        f[i] = (struct face_result){.id = 1000000 + i, .box = {9999, 9999, 9999, 9999},
                                    .scores = {0.125f, 0.125f, 0.125f, 0.125f, 0.125f,
                                               0.125f, 0.125f, 0.125f}};
    struct json_out j;
    json_init(&j, buf, sizeof buf);
    proto_frame(&j, &m, UINT64_MAX / 2, 1764043200.125, 12345.67, 4096, 4096, f, FACES_MAX);
    json_t *o = parse(&j, "frame");
    assert_int_equal(json_array_size(at(o, "faces")), FACES_MAX);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_telemetry),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_subscribed_dropped_error),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_largest_frame_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
