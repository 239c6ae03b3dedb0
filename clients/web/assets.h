/* The page's files: a fixed list, read whole from web_root at start and served from
 * memory. Nothing else under web_root (or anywhere) is ever opened for a request, so a
 * path in a URL cannot reach another file whatever it contains (../, %2e%2e, links). */
#ifndef EMOTIOND_WEB_ASSETS_H
#define EMOTIOND_WEB_ASSETS_H

#include <stddef.h>

#define ASSET_MAX_BYTES (1024 * 1024)

struct asset {
    const char *url;            /* the request path it answers */
    const char *file;           /* its name under web_root */
    const char *type;           /* Content-Type */
    char *data;
    size_t len;
};

struct assets {
    struct asset list[5];
    size_t n;
};

/* Reads every file of the list under root (regular files of at most ASSET_MAX_BYTES).
 * 0, or -1 with err naming the file and why. */
int assets_load(struct assets *a, const char *root, char *err, size_t errlen);
/* The asset for a request path ("/" is index.html), or NULL. */
const struct asset *assets_find(const struct assets *a, const char *url);
void assets_free(struct assets *a);
/* Whether root holds the page (its index.html is there): for choosing a default. */
int assets_present(const char *root);

#endif
