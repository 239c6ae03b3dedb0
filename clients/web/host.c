#include "host.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* n bytes at s, without surrounding blanks and brackets, equal to name (no case)? */
static bool same(const char *s, size_t n, const char *name)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        s++, n -= 2;
    return n && strlen(name) == n && !strncasecmp(s, name, n);
}

bool host_allowed(const char *host, const char *bind, const char *allowed)
{
    if (!host)
        return false;
    /* the host part: "[v6]" up to its bracket, else up to a colon */
    const char *name = host;
    size_t n;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        name = host + 1;
        n = (size_t)(close - name);
    } else {
        n = strcspn(host, ":");
        if (host[n] && strchr(host + n + 1, ':'))
            return false;                 /* a bare IPv6 address: not a valid Host */
    }
    if (!n || memchr(name, ',', n) || memchr(name, ' ', n))
        return false;
    char h[256];
    if (n >= sizeof h)
        return false;
    memcpy(h, name, n);
    h[n] = '\0';
    static const char *const LOOPBACK[] = {"localhost", "127.0.0.1", "::1"};
    for (size_t i = 0; i < sizeof LOOPBACK / sizeof *LOOPBACK; i++)
        if (!strcasecmp(h, LOOPBACK[i]))
            return true;
    if (bind && same(bind, strlen(bind), h))
        return true;
    for (const char *at = allowed; at && *at;) {
        size_t len = strcspn(at, ",");
        if (same(at, len, h))
            return true;
        at += len + (at[len] == ',');
    }
    return false;
}
