#define _GNU_SOURCE
#include "publisher.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "textsize.h"

enum state { DOWN, CONNECTING, UP };

struct publisher {
    struct mosquitto *mosq;
    const struct mqtt_options *o;
    enum state state;
    bool ever_tried, down_logged;
    double next_try, backoff, connect_deadline;
    int inflight;
    uint64_t connects;
    enum pub_event event;        /* set by the callbacks, taken by pub_service */
    char fatal[TEXT_ERR];
};

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    struct publisher *p = user;
    if (rc == 0) {
        p->state = UP;
        p->event = PUB_UP;
        p->backoff = 1;
        p->connects++;
        p->down_logged = false;
        if (p->o->qos == 0)
            p->inflight = 0;     /* QoS 0 messages in flight died with the connection */
        log_info("connected to broker %s as '%s'", p->o->broker, p->o->client_id);
        return;
    }
    /* 4: bad user name or password, 5: not authorised: retrying cannot help */
    if (rc == 4 || rc == 5) {
        snprintf(p->fatal, sizeof p->fatal, "broker %s refused the bridge: %s (user '%s'%s)",
                 p->o->broker, mosquitto_connack_string(rc),
                 p->o->username[0] ? p->o->username : "(none)",
                 p->o->password[0] ? ", password from [mqtt] password_file" : ", no password");
        p->event = PUB_FATAL;
        return;
    }
    log_warn("broker %s refused the connection: %s", p->o->broker, mosquitto_connack_string(rc));
}

static void on_publish(struct mosquitto *m, void *user, int mid)
{
    (void)m;
    (void)mid;
    struct publisher *p = user;
    if (p->inflight > 0)
        p->inflight--;
}

static void on_log(struct mosquitto *m, void *user, int level, const char *str)
{
    (void)m;
    (void)user;
    /* OpenSSL's verdicts come this way: the reason a TLS connection failed */
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
        log_warn("libmosquitto: %s", str);
    else if (level & MOSQ_LOG_DEBUG)
        log_debug("libmosquitto: %s", str);
}

struct publisher *pub_new(const struct mqtt_options *o, const char *will_topic, char *err,
                          size_t errlen)
{
    struct publisher *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->o = o;
    p->backoff = 1;
    p->mosq = mosquitto_new(o->client_id, true, p);
    int rc = MOSQ_ERR_NOMEM;
    const char *what = "mosquitto_new";
    if (p->mosq) {
        mosquitto_connect_callback_set(p->mosq, on_connect);
        mosquitto_publish_callback_set(p->mosq, on_publish);
        mosquitto_log_callback_set(p->mosq, on_log);
        what = "the last will";
        rc = mosquitto_will_set(p->mosq, will_topic, 7, "offline", o->qos, true);
    }
    if (rc == MOSQ_ERR_SUCCESS && o->username[0]) {
        what = "the user name";
        rc = mosquitto_username_pw_set(p->mosq, o->username, o->password[0] ? o->password : NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS && o->tls) {
        what = "TLS ([mqtt] ca_file)";
        rc = mosquitto_tls_set(p->mosq, o->ca_file[0] ? o->ca_file : NULL,
                               o->ca_file[0] ? NULL : "/etc/ssl/certs", NULL, NULL, NULL);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "%s: %s", what, mosquitto_strerror(rc));
        pub_free(p);
        return NULL;
    }
    return p;
}

void pub_free(struct publisher *p)
{
    if (!p)
        return;
    mosquitto_destroy(p->mosq);
    free(p);
}

int pub_fd(struct publisher *p)
{
    return p->state == DOWN ? -1 : mosquitto_socket(p->mosq);
}

bool pub_want_write(struct publisher *p)
{
    return mosquitto_want_write(p->mosq);
}

static void went_down(struct publisher *p, double now, const char *why)
{
    if (p->state == UP)
        log_warn("lost the broker %s: %s; reconnecting in %g s", p->o->broker, why, p->backoff);
    else if (!p->down_logged)
        log_warn("cannot reach broker %s: %s; retrying with backoff up to %g s", p->o->broker,
                 why, p->o->reconnect_max_s);
    else
        log_debug("broker %s: %s; next try in %g s", p->o->broker, why, p->backoff);
    p->down_logged = true;
    p->state = DOWN;
    if (p->o->qos == 0)
        p->inflight = 0;
    p->next_try = now + p->backoff;
    p->backoff *= 2;
    if (p->backoff > p->o->reconnect_max_s)
        p->backoff = p->o->reconnect_max_s;
}

static const char *rc_reason(int rc)
{
    return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

enum pub_event pub_service(struct publisher *p, double now, char *err, size_t errlen)
{
    if (p->state == DOWN && now >= p->next_try) {
        int rc = p->ever_tried ? mosquitto_reconnect_async(p->mosq)
                               : mosquitto_connect_async(p->mosq, p->o->host, p->o->port,
                                                         p->o->keepalive_s);
        if (rc == MOSQ_ERR_SUCCESS) {
            p->ever_tried = true;
            p->state = CONNECTING;
            p->connect_deadline = now + (p->o->keepalive_s < 10 ? p->o->keepalive_s : 10);
        } else {
            went_down(p, now, rc_reason(rc));
        }
    }
    if (p->state != DOWN) {
        int rc = mosquitto_loop(p->mosq, 0, 1);
        if (p->event == PUB_FATAL) {
            snprintf(err, errlen, "%s", p->fatal);
            mosquitto_disconnect(p->mosq);
            p->state = DOWN;
            p->event = PUB_NONE;
            return PUB_FATAL;
        }
        if (rc != MOSQ_ERR_SUCCESS) {
            went_down(p, now, rc == MOSQ_ERR_CONN_REFUSED ? "connection refused by the broker"
                                                         : rc_reason(rc));
        } else if (p->state == CONNECTING && now > p->connect_deadline) {
            mosquitto_disconnect(p->mosq);
            went_down(p, now, "no answer to CONNECT");
        }
    }
    enum pub_event e = p->event;
    p->event = PUB_NONE;
    return p->state == UP ? e : PUB_NONE;
}

double pub_timeout(const struct publisher *p, double now)
{
    if (p->state == DOWN)
        return p->next_try > now ? p->next_try - now : 0;
    return 1.0;       /* keepalive pings and the CONNECT deadline: checked every second */
}

bool pub_up(const struct publisher *p)
{
    return p->state == UP;
}

bool pub_ready(const struct publisher *p)
{
    return p->state == UP && p->inflight < PUB_WINDOW;
}

int pub_send(struct publisher *p, const char *topic, const void *payload, size_t len,
             bool retain)
{
    if (p->state != UP)
        return -1;
    int rc = mosquitto_publish(p->mosq, NULL, topic, (int)len, payload, p->o->qos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_warn("publish to %s: %s", topic, mosquitto_strerror(rc));
        return -1;
    }
    p->inflight++;
    return 0;
}

int pub_inflight(const struct publisher *p)
{
    return p->inflight;
}

uint64_t pub_connects(const struct publisher *p)
{
    return p->connects;
}

void pub_disconnect(struct publisher *p)
{
    if (p->state != DOWN) {
        mosquitto_disconnect(p->mosq);
        mosquitto_loop(p->mosq, 0, 1);
    }
    p->state = DOWN;
}
