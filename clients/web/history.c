#include "history.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

const char *const HISTORY_LABEL_NAMES[HISTORY_LABELS] = {
    "anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    "other"};

void history_init(struct history *h)
{
    memset(h, 0, sizeof *h);
}

/* A number, or NAN for null, absent or anything else. */
static double num(json_t *j)
{
    return json_is_number(j) ? json_number_value(j) : NAN;
}

/* Unix seconds a daemon can plausibly send (2001..5138): beyond them the bucket loop
 * below would not advance and the integer conversions would overflow. */
static bool plausible_ts(double ts)
{
    return isfinite(ts) && ts > 1e9 && ts < 1e11;
}

int history_sample_of(json_t *t, struct history_sample *s)
{
    json_t *ts = json_object_get(t, "ts");
    if (!json_is_number(ts) || !plausible_ts(json_number_value(ts)))
        return -1;
    json_t *stages = json_object_get(t, "stages"), *lat = json_object_get(t, "latency_ms");
    json_t *drops = json_object_get(t, "drops");
    *s = (struct history_sample){
        .ts = json_number_value(ts),
        .fps_in = num(json_object_get(json_object_get(stages, "capture"), "fps")),
        .fps_out = num(json_object_get(json_object_get(stages, "publish"), "fps")),
        .p50_ms = num(json_object_get(lat, "p50")),
        .p99_ms = num(json_object_get(lat, "p99")),
        .watts = num(json_object_get(json_object_get(t, "power"), "watts")),
        .per_watt = num(json_object_get(t, "images_per_s_per_w")),
        .drops = NAN,
    };
    if (json_is_object(drops)) {
        const char *key;
        json_t *v;
        s->drops = 0;
        json_object_foreach(drops, key, v)
            s->drops += json_is_number(v) ? json_number_value(v) : 0;
    }
    return 0;
}

void history_add_sample(struct history *h, const struct history_sample *s)
{
    if (h->n == HISTORY_SAMPLES) {
        h->first = (h->first + 1) % HISTORY_SAMPLES;
        h->n--;
    }
    h->samples[(h->first + h->n++) % HISTORY_SAMPLES] = *s;
    /* and nothing older than the window before this one (a daemon that restarted after
     * a long gap, or a clock that jumped) */
    while (h->n > 1 && (h->samples[h->first].ts < s->ts - HISTORY_WINDOW_S ||
                        h->samples[h->first].ts > s->ts)) {
        h->first = (h->first + 1) % HISTORY_SAMPLES;
        h->n--;
    }
}

static size_t label_index(const char *label)
{
    for (size_t i = 0; label && i + 1 < HISTORY_LABELS; i++)
        if (!strcmp(label, HISTORY_LABEL_NAMES[i]))
            return i;
    return HISTORY_LABELS - 1;
}

/* The bucket for time ts, starting it (and clearing the ones skipped) when ts is newer
 * than any so far. Frames come live and in order, so one more than a bucket older than
 * the newest means the clock stepped back (NTP): the buckets start again from it, as the
 * telemetry samples do, rather than adding to buckets already counted and leaving the
 * newest ones empty (or, past all of them, counting nothing) until the clock catches up. */
static struct history_bucket *bucket_for(struct history *h, double ts)
{
    if (!plausible_ts(ts))
        return NULL;
    double start = floor(ts / HISTORY_BUCKET_S) * HISTORY_BUCKET_S;
    if (start > h->newest_bucket) {
        if (h->newest_bucket > 0 && start - h->newest_bucket < HISTORY_BUCKETS * HISTORY_BUCKET_S) {
            for (double b = h->newest_bucket + HISTORY_BUCKET_S; b < start; b += HISTORY_BUCKET_S)
                h->buckets[(size_t)fmod(b / HISTORY_BUCKET_S, HISTORY_BUCKETS)].start = 0;
        } else {
            memset(h->buckets, 0, sizeof h->buckets);   /* a gap longer than all of them */
        }
        h->newest_bucket = start;
    } else if (start < h->newest_bucket - HISTORY_BUCKET_S) {
        memset(h->buckets, 0, sizeof h->buckets);
        h->newest_bucket = start;
    }
    struct history_bucket *b = &h->buckets[(size_t)fmod(start / HISTORY_BUCKET_S, HISTORY_BUCKETS)];
    if (b->start != start)
        *b = (struct history_bucket){.start = start};
    return b;
}

void history_add_frame(struct history *h, json_t *frame)
{
    json_t *faces = json_object_get(frame, "faces"), *f;
    size_t i;
    if (!json_array_size(faces))
        return;
    struct history_bucket *b = bucket_for(h, num(json_object_get(frame, "ts")));
    if (!b)
        return;
    json_array_foreach(faces, i, f)
        b->counts[label_index(json_string_value(json_object_get(f, "label")))]++;
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *history_json(const struct history *h)
{
    static const char *const COLUMNS[] = {"ts", "fps_in", "fps_out", "p50_ms", "p99_ms",
                                          "watts", "per_watt", "drops"};
    enum { N_COLUMNS = sizeof COLUMNS / sizeof *COLUMNS };
    json_t *tele = json_object(), *cols[N_COLUMNS];
    for (size_t c = 0; c < N_COLUMNS; c++) {
        cols[c] = json_array();
        json_object_set_new(tele, COLUMNS[c], cols[c]);
    }
    double t0 = h->n ? floor(h->samples[h->first].ts) : 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct history_sample *s = &h->samples[(h->first + i) % HISTORY_SAMPLES];
        const double v[N_COLUMNS] = {s->ts - t0, s->fps_in, s->fps_out, s->p50_ms, s->p99_ms,
                                     s->watts, s->per_watt, s->drops};
        for (size_t c = 0; c < N_COLUMNS; c++)
            json_array_append_new(cols[c], number_or_null(v[c]));
    }
    json_t *labels = json_array(), *counts = json_array();
    for (size_t l = 0; l < HISTORY_LABELS; l++)
        json_array_append_new(labels, json_string(HISTORY_LABEL_NAMES[l]));
    for (size_t k = HISTORY_BUCKETS; k-- > 0;) {      /* oldest first */
        double start = h->newest_bucket - (double)k * HISTORY_BUCKET_S;
        const struct history_bucket *b =
            start > 0 ? &h->buckets[(size_t)fmod(start / HISTORY_BUCKET_S, HISTORY_BUCKETS)]
                      : NULL;
        if (!b || b->start != start)
            continue;
        json_t *n = json_array();
        for (size_t l = 0; l < HISTORY_LABELS; l++)
            json_array_append_new(n, json_integer(b->counts[l]));
        json_array_append_new(counts, json_pack("{sI so}", "start", (json_int_t)start, "n", n));
    }
    return json_pack("{ss sf so sI so so}", "type", "history", "bucket_s", HISTORY_BUCKET_S,
                     "labels", labels, "t0", (json_int_t)t0, "telemetry", tele, "counts",
                     counts);
}
