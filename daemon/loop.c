#define _POSIX_C_SOURCE 200809L
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 64

struct ev_reg {
    int fd;                 /* -1 once removed: freed after the current dispatch */
    ev_handler h;
    void *user;
    struct ev_reg *next;
};

struct ev_loop {
    int epfd;
    struct ev_reg *regs;    /* every registration, live or removed */
};

struct ev_loop *ev_create(void)
{
    struct ev_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

static struct ev_reg *find(struct ev_loop *l, int fd)
{
    for (struct ev_reg *r = l->regs; r; r = r->next)
        if (r->fd == fd)
            return r;
    return NULL;
}

int ev_add(struct ev_loop *l, int fd, uint32_t events, ev_handler h, void *user)
{
    struct ev_reg *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    *r = (struct ev_reg){fd, h, user, l->regs};
    struct epoll_event ev = {.events = events, .data.ptr = r};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(r);
        return -1;
    }
    l->regs = r;
    return 0;
}

int ev_modify(struct ev_loop *l, int fd, uint32_t events)
{
    struct ev_reg *r = find(l, fd);
    if (!r)
        return -1;
    struct epoll_event ev = {.events = events, .data.ptr = r};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void ev_remove(struct ev_loop *l, int fd)
{
    struct ev_reg *r = find(l, fd);
    if (!r)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    r->fd = -1;
}

static void sweep(struct ev_loop *l)
{
    for (struct ev_reg **p = &l->regs; *p;) {
        if ((*p)->fd < 0) {
            struct ev_reg *dead = *p;
            *p = dead->next;
            free(dead);
        } else {
            p = &(*p)->next;
        }
    }
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct ev_reg *r = evs[i].data.ptr;
        if (r->fd >= 0)
            r->h(r->user, evs[i].events);
    }
    sweep(l);
    return n;
}

void ev_free(struct ev_loop *l)
{
    if (!l)
        return;
    for (struct ev_reg *r = l->regs; r; r = r->next)
        r->fd = -1;
    sweep(l);
    close(l->epfd);
    free(l);
}
