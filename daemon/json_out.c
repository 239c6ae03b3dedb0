#include "json_out.h"

#include "base64.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json_out *j, char *buf, size_t cap)
{
    j->buf = buf;
    j->cap = cap;
    j->len = 0;
    j->overflow = false;
    if (cap)
        buf[0] = '\0';
}

static void put(struct json_out *j, const char *p, size_t n)
{
    if (j->overflow || j->len + n + 1 > j->cap) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, p, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

void json_raw(struct json_out *j, const char *text)
{
    put(j, text, strlen(text));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && p[0] < 0xC2))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    uint32_t cp = p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;   /* overlong, out of range, or a surrogate */
    return n;
}

void json_str(struct json_out *j, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = j->len;
    put(j, "\"", 1);
    while (*p) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            put(j, esc, 2);
            p++;
        } else if (*p < 0x20) {
            const char *named = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : NULL;
            if (named)
                put(j, named, 2);
            else {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put(j, esc, 6);
            }
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n == 0) {
                put(j, "\xEF\xBF\xBD", 3);   /* U+FFFD */
                p++;
            } else {
                put(j, (const char *)p, n);
                p += n;
            }
        }
    }
    put(j, "\"", 1);
    if (j->overflow && j->cap) {   /* never leave half a string behind */
        j->len = start;
        j->buf[start] = '\0';
    }
}

void json_num(struct json_out *j, double v, int decimals)
{
    char tmp[64];
    if (!isfinite(v)) {
        put(j, "null", 4);
        return;
    }
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    put(j, tmp, (size_t)n);
}

void json_int(struct json_out *j, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    put(j, tmp, (size_t)n);
}

void json_base64(struct json_out *j, const void *data, size_t len)
{
    size_t n = base64_encoded_len(len);
    if (j->overflow || n + 2 + 1 > j->cap - j->len) {
        j->overflow = true;
        return;
    }
    char *at = j->buf + j->len;
    at[0] = '"';
    base64_encode(data, len, at + 1);
    at[n + 1] = '"';
    at[n + 2] = '\0';
    j->len += n + 2;
}
