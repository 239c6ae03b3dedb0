#include "publish.h"

#include "clock.h"
#include "protocol.h"

void publish_init(struct publish *p, struct pipeline *pl, struct server *srv,
                  struct preview_stage *preview, double half_life_s)
{
    *p = (struct publish){.pl = pl, .srv = srv, .preview = preview,
                          .half_life_s = (float)half_life_s};
}

void publish_half_life(struct publish *p, double half_life_s)
{
    p->half_life_s = (float)half_life_s;
    p->smoother.half_life_s = p->half_life_s;
}

/* The first result of a new model: smoothing starts again (the classes may differ), and
 * clients learn the new model from a fresh hello. */
static void follow_model(struct publish *p, const struct pl_model *model)
{
    unsigned generation = pl_model_generation(model);
    if (generation == p->generation)
        return;
    bool switched = p->generation != 0;
    p->generation = generation;
    faces_smoother_init(&p->smoother, pl_model_info(model)->n_classes, p->half_life_s);
    if (switched)
        srv_hello_all(p->srv);
}

int publish_results(struct publish *p)
{
    static char msg[PROTO_MSG_MAX];
    struct pl_result *r;
    int n = 0;
    /* frames are kept for previews only around the next one due, while someone wants it */
    pl_keep_frames(p->pl, preview_stage_wants_frames(p->preview, mono_ns()) &&
                              srv_subscribers(p->srv, PROTO_PREVIEW) > 0);
    while ((r = pl_next_result(p->pl))) {
        follow_model(p, r->model);
        faces_smooth(&p->smoother, r->faces, r->n, r->ts_ns);
        double latency = (double)(mono_ns() - r->ts_ns) / 1e6;
        struct json_out j;
        json_init(&j, msg, sizeof msg);
        proto_frame(&j, pl_model_info(r->model), r->seq, r->ts_unix, latency, r->width,
                    r->height, r->faces, r->n);
        if (!j.overflow)
            srv_broadcast(p->srv, PROTO_FRAME, msg, j.len);
        if (preview_stage_enabled(p->preview))
            preview_stage_offer(p->preview, r, pl_model_info(r->model));
        int64_t done = mono_ns();
        pl_record_publish(p->pl, (double)(done - r->classified_ns) / 1e6,
                          (double)(done - r->ts_ns) / 1e6);
        pl_release(p->pl, r);
        n++;
    }
    return n;
}
