#include "queue.h"

#include <stdlib.h>

/* One FIFO per class, each message numbered: the front is the lower number of the two
 * heads, so the order stays the order pushed while either class can lose its oldest. */
struct node {
    struct node *next;
    uint64_t n;
    struct bq_msg msg;
};

struct fifo {
    struct node *head, *tail;
    size_t len;
};

struct bqueue {
    struct fifo fifo[2];
    size_t capacity;
    uint64_t next_n;
    struct bq_stats st;
};

struct bqueue *bq_new(size_t capacity)
{
    struct bqueue *q = calloc(1, sizeof *q);
    if (q)
        q->capacity = capacity ? capacity : 1;
    return q;
}

static void msg_free(struct bq_msg *m)
{
    free(m->topic);
    free(m->payload);
}

static void drop_head(struct fifo *f)
{
    struct node *n = f->head;
    f->head = n->next;
    if (!f->head)
        f->tail = NULL;
    f->len--;
    msg_free(&n->msg);
    free(n);
}

void bq_free(struct bqueue *q)
{
    if (!q)
        return;
    for (int c = 0; c < 2; c++)
        while (q->fifo[c].head)
            drop_head(&q->fifo[c]);
    free(q);
}

int bq_push(struct bqueue *q, enum bq_class cls, struct bq_msg msg)
{
    struct fifo *keep = &q->fifo[BQ_KEEP], *frame = &q->fifo[BQ_FRAME];
    int dropped = 0;
    q->st.pushed++;
    if (keep->len + frame->len >= q->capacity) {
        if (frame->len) {
            drop_head(frame);
            q->st.dropped_frame++;
        } else if (cls == BQ_FRAME) {
            msg_free(&msg);          /* all summaries: the new frame is the one to lose */
            q->st.dropped_frame++;
            return 1;
        } else {
            drop_head(keep);
            q->st.dropped_keep++;
        }
        dropped = 1;
    }
    struct node *n = malloc(sizeof *n);
    if (!n) {
        msg_free(&msg);
        if (cls == BQ_FRAME)
            q->st.dropped_frame++;
        else
            q->st.dropped_keep++;
        return dropped + 1;
    }
    *n = (struct node){NULL, q->next_n++, msg};
    struct fifo *f = &q->fifo[cls];
    if (f->tail)
        f->tail->next = n;
    else
        f->head = n;
    f->tail = n;
    f->len++;
    return dropped;
}

static struct fifo *front_fifo(const struct bqueue *q)
{
    const struct fifo *k = &q->fifo[BQ_KEEP], *f = &q->fifo[BQ_FRAME];
    if (!k->head && !f->head)
        return NULL;
    if (!k->head || (f->head && f->head->n < k->head->n))
        return (struct fifo *)f;
    return (struct fifo *)k;
}

const struct bq_msg *bq_front(const struct bqueue *q)
{
    struct fifo *f = front_fifo(q);
    return f ? &f->head->msg : NULL;
}

void bq_pop(struct bqueue *q)
{
    struct fifo *f = front_fifo(q);
    if (f)
        drop_head(f);
}

struct bq_stats bq_stats(const struct bqueue *q)
{
    struct bq_stats st = q->st;
    st.length = q->fifo[BQ_KEEP].len + q->fifo[BQ_FRAME].len;
    st.length_keep = q->fifo[BQ_KEEP].len;
    return st;
}
