/* The publisher: the pipeline's results, in frame order, smoothed per track over time,
 * written as frame messages and broadcast to the clients subscribed to them, then offered
 * to the preview stage (which takes one now and then, while a client wants previews). On
 * the event loop's thread (the smoothing needs frames in order). A model switch restarts
 * the smoothing and sends every client a fresh hello. */
#ifndef EMOTIOND_PUBLISH_H
#define EMOTIOND_PUBLISH_H

#include "faces.h"
#include "pipeline.h"
#include "preview_stage.h"
#include "server.h"

struct publish {
    struct pipeline *pl;
    struct server *srv;
    struct preview_stage *preview;
    struct faces_smoother smoother;
    float half_life_s;
    unsigned generation;           /* the model's the smoother is for; 0: none yet */
};

void publish_init(struct publish *p, struct pipeline *pl, struct server *srv,
                  struct preview_stage *preview, double half_life_s);
/* [track] half_life_s, live. */
void publish_half_life(struct publish *p, double half_life_s);
/* Publishes every result ready now; returns how many. */
int publish_results(struct publish *p);

#endif
