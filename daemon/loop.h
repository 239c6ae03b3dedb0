/* A small epoll event loop: file descriptors with a handler each. Handlers may remove
 * any descriptor (their own included) while events are being dispatched. */
#ifndef EMOTIOND_LOOP_H
#define EMOTIOND_LOOP_H

#include <stdint.h>

struct ev_loop;
typedef void (*ev_handler)(void *user, uint32_t events);

struct ev_loop *ev_create(void);
/* events: EPOLLIN, EPOLLOUT, ... (EPOLLERR and EPOLLHUP are always reported). */
int ev_add(struct ev_loop *l, int fd, uint32_t events, ev_handler h, void *user);
int ev_modify(struct ev_loop *l, int fd, uint32_t events);
void ev_remove(struct ev_loop *l, int fd);
/* Waits up to timeout_ms (-1: forever) and dispatches; -1 on a failure other than EINTR. */
int ev_run_once(struct ev_loop *l, int timeout_ms);
void ev_free(struct ev_loop *l);

#endif
