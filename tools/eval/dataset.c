#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *canonical(const char *s)
{
    static const char *map[][2] = {{"angry", "anger"}, {"happy", "happiness"}, {"sad", "sadness"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(s, map[i][0]))
            return map[i][1];
    return s;
}

int dataset_load(const char *dir, const char *name, struct dataset *ds, char *err, size_t errlen)
{
    memset(ds, 0, sizeof *ds);
    int fer = !strcmp(name, "fer2013");
    if (!fer && strcmp(name, "ckplus")) {
        snprintf(err, errlen, "unknown dataset %s (ckplus, fer2013)", name);
        return -1;
    }
    const char *stem = fer ? "fer2013/fer2013" : "ckplus48/ckplus48";
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.csv", dir, stem);
    FILE *csv = fopen(path, "r");
    snprintf(path, sizeof path, "%s/%s.u8", dir, stem);
    FILE *px = fopen(path, "rb");
    if (!csv || !px) {
        snprintf(err, errlen, "%s/%s.{csv,u8} absent (research data, beside the checkout)", dir,
                 stem);
        if (csv)
            fclose(csv);
        if (px)
            fclose(px);
        return 1;
    }
    char line[512];
    int cap = 0, rc = 0;
    if (!fgets(line, sizeof line, csv))
        rc = -1;
    while (rc == 0 && fgets(line, sizeof line, csv)) {
        /* ckplus: index,subject,sequence,frame,label   fer: index,usage,label,source */
        char f[5][64] = {{0}};
        int k = sscanf(line, "%63[^,],%63[^,],%63[^,\r\n],%63[^,\r\n],%63[^,\r\n]", f[0], f[1],
                       f[2], f[3], f[4]);
        if (k < 4)
            continue;
        if (ds->n == cap) {
            cap = cap ? cap * 2 : 1024;
            void *a = realloc(ds->pixels, (size_t)cap * sizeof *ds->pixels);
            void *b = realloc(ds->label, (size_t)cap * sizeof *ds->label);
            void *c = realloc(ds->group, (size_t)cap * sizeof *ds->group);
            if (a)
                ds->pixels = a;
            if (b)
                ds->label = b;
            if (c)
                ds->group = c;
            if (!a || !b || !c) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
        }
        if (fread(ds->pixels[ds->n], 48 * 48, 1, px) != 1) {
            snprintf(err, errlen, "%s: fewer images than CSV rows", path);
            rc = -1;
            break;
        }
        snprintf(ds->label[ds->n], sizeof ds->label[0], "%.15s", canonical(fer ? f[2] : f[4]));
        snprintf(ds->group[ds->n], sizeof ds->group[0], "%.15s", f[1]);
        ds->n++;
    }
    fclose(csv);
    fclose(px);
    if (rc)
        dataset_free(ds);
    return rc;
}

void dataset_free(struct dataset *ds)
{
    free(ds->pixels);
    free(ds->label);
    free(ds->group);
    memset(ds, 0, sizeof *ds);
}
