#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "host.h"
#include "log.h"

#define STREAM_BLOCK 8192          /* what libmicrohttpd asks of a stream at a time */
/* The kernel's send buffer per connection (it doubles this): fixed, so that a browser
 * that stops reading holds tens of kilobytes there, not the megabytes that autotuning
 * grants on loopback; the events behind them wait in the stream's own bounded queue. */
#define SEND_BUFFER (16 * 1024)
#define STREAM_RETRY "retry: 2000\n\n"     /* a browser reconnects after 2 s */

/* Only this origin, nothing inline, no framing; the page needs nothing more. */
#define CSP "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/* One browser's /events. */
struct stream {
    struct stream *next, *prev;
    struct web_server *srv;
    struct MHD_Connection *conn;
    struct sse_queue *q;
    bool suspended;            /* waiting for a message: libmicrohttpd leaves it alone */
    bool ending;               /* the server stops: end the response */
};

/* One TCP connection, for the request deadline. */
struct conn {
    struct conn *next, *prev;
    struct MHD_Connection *mhd;
    double since;              /* when it began waiting for a request */
    bool waiting, cut;
};

struct web_server {
    struct MHD_Daemon *mhd;
    bool stopping;             /* web_server_stop runs: no new stream may suspend */
    const struct web_options *o;
    const struct assets *assets;
    struct web_handlers h;
    struct MHD_Response *asset_resp[sizeof ((struct assets *)0)->list / sizeof (struct asset)];
    struct MHD_Response *r400, *r403, *r404, *r405, *r503, *r204, *events_head;
    struct stream *streams;
    struct conn *conns;
    unsigned n_streams, n_conns;
    uint64_t requests, rejected, cut, closed_stream_drops;
    char last_error[256];      /* libmicrohttpd's latest message */
};

static const char FIRST_CALL_SEEN;     /* *req_cls once a request's head was checked */

/* ---- responses ---- */

static void secure_headers(struct MHD_Response *r, const char *type, bool no_store)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, no_store ? "no-store" : "no-cache");
}

static struct MHD_Response *fixed(const char *text, const char *type, bool no_store)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r)
        secure_headers(r, type, no_store);
    return r;
}

static enum MHD_Result reject(struct web_server *s, struct MHD_Connection *c, unsigned code,
                              struct MHD_Response *r)
{
    s->rejected++;
    return MHD_queue_response(c, code, r);
}

/* ---- /events ---- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    if (st->ending || st->srv->stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = sse_take(st->q, buf, max);
    if (n)
        return (ssize_t)n;
    st->suspended = true;        /* until the next message: no busy loop */
    MHD_suspend_connection(st->conn);
    return 0;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    struct web_server *s = st->srv;
    *(st->prev ? &st->prev->next : &s->streams) = st->next;
    if (st->next)
        st->next->prev = st->prev;
    s->n_streams--;
    s->closed_stream_drops += sse_dropped(st->q);
    log_debug("event stream closed (%u open; %llu events dropped for it)", s->n_streams,
              (unsigned long long)sse_dropped(st->q));
    sse_free(st->q);
    free(st);
}

static enum MHD_Result open_stream(struct web_server *s, struct MHD_Connection *c, bool head)
{
    if (head)
        return MHD_queue_response(c, MHD_HTTP_OK, s->events_head);
    if (s->stopping)
        return reject(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, s->r503);
    if (s->n_streams >= (unsigned)s->o->max_streams) {
        log_info("refused an event stream: %u open (max_streams)", s->n_streams);
        return reject(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, s->r503);
    }
    struct stream *st = calloc(1, sizeof *st);
    struct sse_queue *q = st ? sse_new(WEB_STREAM_QUEUE) : NULL;
    struct MHD_Response *r = q ? MHD_create_response_from_callback(
                                     MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st, stream_free)
                               : NULL;
    if (!r) {
        sse_free(q);
        free(st);
        return MHD_NO;           /* out of memory: close the connection */
    }
    *st = (struct stream){.next = s->streams, .srv = s, .conn = c, .q = q};
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    s->n_streams++;
    sse_push_raw(q, STREAM_RETRY, strlen(STREAM_RETRY));
    s->h.greet(s->h.user, q);
    secure_headers(r, "text/event-stream", true);
    MHD_add_response_header(r, "X-Accel-Buffering", "no");   /* a proxy must not hold it */
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);     /* stream_free runs when the connection lets it go */
    log_debug("event stream opened (%u open)", s->n_streams);
    return ok;
}

/* ---- /preview.jpg, /healthz ---- */

static void unref_jpeg(void *cls)
{
    preview_unref(cls);
}

static enum MHD_Result send_preview(struct web_server *s, struct MHD_Connection *c)
{
    bool expected = false;
    struct preview_jpeg *j = s->h.preview(s->h.user, &expected);
    if (!j)
        return expected ? MHD_queue_response(c, MHD_HTTP_NO_CONTENT, s->r204)
                        : reject(s, c, MHD_HTTP_NOT_FOUND, s->r404);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(j->len, j->data, unref_jpeg, j);
    if (!r) {
        preview_unref(j);
        return MHD_NO;
    }
    secure_headers(r, "image/jpeg", true);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_status(struct web_server *s, struct MHD_Connection *c)
{
    char *json = s->h.status(s->h.user);
    struct MHD_Response *r =
        json ? MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) {
        free(json);
        return MHD_NO;
    }
    secure_headers(r, "application/json", true);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- requests ---- */

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Whether the request says it has a body (the dashboard takes none). */
static bool has_body(struct MHD_Connection *c)
{
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (len && strcmp(len, "0")) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* The first call, with the request's head: what can be refused is refused here, and
 * the connection then closes. A good request is answered on the next call, once
 * libmicrohttpd has it whole (answering in the first call would cost keep-alive). */
static enum MHD_Result check_request(struct web_server *s, struct MHD_Connection *c,
                                     const char *method)
{
    struct conn *t = conn_of(c);
    if (t)
        t->waiting = false;      /* the request's head arrived whole */
    s->requests++;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    /* HTTP/1.1 without Host is refused by libmicrohttpd itself; 1.0 may omit it, and a
     * request without one cannot come from a rebinding page (browsers always send it) */
    if (host && !host_allowed(host, s->o->bind, s->o->allowed_hosts)) {
        log_info("refused a request for Host '%.80s' (not this server's name; [web] "
                 "allowed_hosts lists more)", host);
        return reject(s, c, MHD_HTTP_FORBIDDEN, s->r403);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reject(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, s->r405);
    if (has_body(c))
        return reject(s, c, MHD_HTTP_BAD_REQUEST, s->r400);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    struct web_server *s = cls;
    if (!*req_cls) {
        *req_cls = (void *)&FIRST_CALL_SEEN;
        return check_request(s, c, method);
    }
    bool head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
    const struct asset *a = assets_find(s->assets, url);
    if (a)
        return MHD_queue_response(c, MHD_HTTP_OK, s->asset_resp[a - s->assets->list]);
    if (!strcmp(url, "/events"))
        return open_stream(s, c, head);
    if (!strcmp(url, "/preview.jpg"))
        return send_preview(s, c);
    if (!strcmp(url, "/healthz"))
        return send_status(s, c);
    return reject(s, c, MHD_HTTP_NOT_FOUND, s->r404);
}

/* A request ended (answered, or the connection broke): the connection waits for the
 * next one, from now. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)req_cls;
    (void)toe;
    struct conn *t = conn_of(c);
    if (t) {
        t->waiting = true;
        t->since = mono_s();
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct web_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        int sndbuf = SEND_BUFFER;
        if (ci)
            setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        struct conn *t = calloc(1, sizeof *t);
        if (!t)
            return;              /* not tracked: only the idle timeout applies to it */
        *t = (struct conn){.next = s->conns, .mhd = c, .since = mono_s(), .waiting = true};
        if (s->conns)
            s->conns->prev = t;
        s->conns = t;
        s->n_conns++;
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct conn *t = *socket_context;
        *(t->prev ? &t->prev->next : &s->conns) = t->next;
        if (t->next)
            t->next->prev = t->prev;
        s->n_conns--;
        free(t);
        *socket_context = NULL;
    }
}

/* Paths are matched as they were sent, never percent-decoded: every path served is plain
 * ASCII, so "%2e%2e" or "%00" can only miss (404), never reach something else. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return strlen(uri);
}

/* libmicrohttpd's own messages: kept for start-up errors, logged at debug level (under
 * a flood of connections it says one line per refused connection). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct web_server *s = cls;
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    s->last_error[strcspn(s->last_error, "\n")] = '\0';
    log_debug("libmicrohttpd: %s", s->last_error);
}

/* ---- the server ---- */

static bool make_responses(struct web_server *s)
{
    for (size_t i = 0; i < s->assets->n; i++) {
        const struct asset *a = &s->assets->list[i];
        s->asset_resp[i] = MHD_create_response_from_buffer(a->len, a->data, MHD_RESPMEM_PERSISTENT);
        if (!s->asset_resp[i])
            return false;
        secure_headers(s->asset_resp[i], a->type, false);
    }
    s->r400 = fixed("400: a request to the dashboard has no body\n",
                    "text/plain; charset=utf-8", true);
    s->r403 = fixed("403: this server is not known by that name (Host header)\n",
                    "text/plain; charset=utf-8", true);
    s->r404 = fixed("404: not found\n", "text/plain; charset=utf-8", true);
    s->r405 = fixed("405: only GET and HEAD\n", "text/plain; charset=utf-8", true);
    s->r503 = fixed("503: too many open dashboards (max_streams); try again later\n",
                    "text/plain; charset=utf-8", true);
    s->r204 = fixed("", "text/plain; charset=utf-8", true);
    s->events_head = fixed("", "text/event-stream", true);
    if (!s->r400 || !s->r403 || !s->r404 || !s->r405 || !s->r503 || !s->r204 || !s->events_head)
        return false;
    MHD_add_response_header(s->r405, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    MHD_add_response_header(s->r503, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    return true;
}

static void free_responses(struct web_server *s)
{
    struct MHD_Response *all[] = {s->r400, s->r403, s->r404, s->r405, s->r503, s->r204, s->events_head};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i])
            MHD_destroy_response(all[i]);
    for (size_t i = 0; i < sizeof s->asset_resp / sizeof *s->asset_resp; i++)
        if (s->asset_resp[i])
            MHD_destroy_response(s->asset_resp[i]);
}

struct web_server *web_server_start(const struct web_options *o, const struct assets *a,
                                    const struct web_handlers *h, char *err, size_t errlen)
{
    struct web_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->o = o;
    s->assets = a;
    s->h = *h;
    if (!make_responses(s)) {
        snprintf(err, errlen, "out of memory");
        web_server_stop(s);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (o->ipv6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,        /* first, to catch every message */
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&o->addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_clients,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->max_clients_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONNECTION_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 64u,
        MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on %s%s%s port %d: %s", o->ipv6 ? "[" : "", o->bind,
                 o->ipv6 ? "]" : "", o->port, s->last_error[0] ? s->last_error : "libmicrohttpd failed");
        web_server_stop(s);
        return NULL;
    }
    return s;
}

int web_server_fd(const struct web_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

int web_server_timeout_ms(struct web_server *s, int max)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(s->mhd, &ms) == MHD_YES && ms < (MHD_UNSIGNED_LONG_LONG)max)
        return (int)ms;
    return max;
}

/* Connections whose request has taken longer than timeout_s to arrive (a slowloris
 * sends a header line every few seconds and is never idle): shut, so that
 * libmicrohttpd sees the end and closes them. */
static void cut_slow_requests(struct web_server *s, double now)
{
    for (struct conn *t = s->conns; t; t = t->next) {
        if (!t->waiting || t->cut || now - t->since < s->o->timeout_s)
            continue;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(t->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci && shutdown(ci->connect_fd, SHUT_RDWR) == 0) {
            t->cut = true;
            s->cut++;
            log_debug("closed a connection whose request did not arrive within %d s",
                      s->o->timeout_s);
        }
    }
}

void web_server_run(struct web_server *s, double now)
{
    MHD_run(s->mhd);
    cut_slow_requests(s, now);
}

void web_server_broadcast(struct web_server *s, const char *text, size_t len)
{
    bool woke = false;
    for (struct stream *st = s->streams; st; st = st->next) {
        sse_push(st->q, text, len);
        if (st->suspended) {
            st->suspended = false;
            MHD_resume_connection(st->conn);
            woke = true;
        }
    }
    if (woke)
        MHD_run(s->mhd);         /* libmicrohttpd takes resumed connections back here */
}

void web_server_stats(const struct web_server *s, struct web_server_stats *out)
{
    *out = (struct web_server_stats){.connections = s->n_conns, .streams = s->n_streams,
                                     .requests = s->requests, .rejected = s->rejected,
                                     .cut = s->cut, .stream_drops = s->closed_stream_drops};
    for (const struct stream *st = s->streams; st; st = st->next)
        out->stream_drops += sse_dropped(st->q);
}

void web_server_stop(struct web_server *s)
{
    if (!s)
        return;
    if (s->mhd) {
        /* every stream ends its response; none may stay suspended when the daemon stops
           (libmicrohttpd aborts on one), and none opened meanwhile (a browser reconnecting)
           may suspend */
        s->stopping = true;
        for (struct stream *st = s->streams; st; st = st->next) {
            st->ending = true;
            if (st->suspended) {
                st->suspended = false;
                MHD_resume_connection(st->conn);
            }
        }
        for (int i = 0; i < 3 && s->streams; i++)
            MHD_run(s->mhd);
        for (struct stream *st = s->streams; st; st = st->next)
            if (st->suspended) {
                st->suspended = false;
                MHD_resume_connection(st->conn);
            }
        MHD_stop_daemon(s->mhd);
    }
    free_responses(s);
    free(s);
}
