#include "preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"      /* common/: the daemon encodes with the same code */

const char *preview_state_name(enum preview_state s)
{
    return s == PREVIEW_ENABLED ? "enabled" : s == PREVIEW_DISABLED ? "disabled" : "unknown";
}

void preview_hello(struct preview *p, json_t *hello)
{
    json_t *pv = json_object_get(hello, "preview");
    if (!json_is_object(pv)) {
        p->state = PREVIEW_UNKNOWN;
    } else if (json_is_true(json_object_get(pv, "enabled"))) {
        p->state = PREVIEW_ENABLED;
        p->width = (int)json_integer_value(json_object_get(pv, "width"));
        p->fps = json_number_value(json_object_get(pv, "fps"));
    } else {
        p->state = PREVIEW_DISABLED;
    }
    if (p->state != PREVIEW_ENABLED) {       /* a picture from before is not shown again */
        preview_unref(p->jpeg);
        p->jpeg = NULL;
    }
}

json_t *preview_take(struct preview *p, json_t *msg, char *err, size_t errlen)
{
    json_t *b64 = json_object_get(msg, "jpeg");
    const char *text = json_string_value(b64);
    size_t len = json_string_length(b64);
    size_t cap = len / 4 * 3;            /* the most len characters decode to */
    struct preview_jpeg *j = text ? malloc(sizeof *j + cap) : NULL;
    long n = j ? base64_decode(text, len, j->data, cap) : -1;
    /* a JPEG starts with SOI (FF D8) */
    if (n < 4 || j->data[0] != 0xFF || j->data[1] != 0xD8) {
        snprintf(err, errlen, "%s", !text ? "a preview message without a \"jpeg\" string"
                                  : !j    ? "out of memory for a preview"
                                  : n < 0 ? "a preview whose \"jpeg\" is not base64"
                                          : "a preview whose \"jpeg\" is not a JPEG");
        free(j);
        p->bad++;
        return NULL;
    }
    j->refs = 1;
    j->len = (size_t)n;
    preview_unref(p->jpeg);
    p->jpeg = j;
    p->received++;
    p->state = PREVIEW_ENABLED;            /* pictures come only when it is on */
    json_t *meta = json_copy(msg);
    json_object_del(meta, "jpeg");
    json_object_set_new(meta, "bytes", json_integer((json_int_t)n));
    return meta;
}

struct preview_jpeg *preview_ref(const struct preview *p)
{
    if (p->jpeg)
        p->jpeg->refs++;
    return p->jpeg;
}

void preview_unref(struct preview_jpeg *j)
{
    if (j && --j->refs == 0)
        free(j);
}

void preview_clear(struct preview *p)
{
    preview_unref(p->jpeg);
    *p = (struct preview){.received = p->received, .bad = p->bad};
}
