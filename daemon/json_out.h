/* Writing JSON text into a caller's buffer: the daemon's messages and emotionctl's
 * --json output. Strings are escaped for JSON; bytes that are not valid UTF-8 (file
 * names can hold anything) become U+FFFD, so the output is always valid UTF-8 JSON. */
#ifndef EMOTIOND_JSON_OUT_H
#define EMOTIOND_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

struct json_out {
    char *buf;
    size_t cap, len;
    bool overflow;         /* set when something did not fit; what did not fit is not
                              written, in part or whole */
};

void json_init(struct json_out *j, char *buf, size_t cap);
void json_raw(struct json_out *j, const char *text);
void json_str(struct json_out *j, const char *s);
void json_num(struct json_out *j, double v, int decimals);   /* non-finite -> null */
void json_int(struct json_out *j, long long v);
/* A string holding data in base64 (RFC 4648, padded; its alphabet needs no escaping),
 * encoded straight into the buffer. */
void json_base64(struct json_out *j, const void *data, size_t len);

#endif
