#define _DEFAULT_SOURCE
#include "board.h"
#include "textsize.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads root/rel (rel starting with '/') into buf, trailing whitespace removed. */
static bool read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

static bool read_num(const char *path, double *v)
{
    char buf[64], *end;
    if (!read_text(path, buf, sizeof buf))
        return false;
    *v = strtod(buf, &end);
    return end != buf;
}

static void under(const char *root, const char *rel, char *out, size_t len)
{
    size_t r = strlen(root);
    while (r > 0 && root[r - 1] == '/')
        r--;
    snprintf(out, len, "%.*s%s", (int)r, root, rel);
}

/* glob() of a pattern under root; false when nothing matches. */
static bool glob_under(const char *root, const char *rel, glob_t *g)
{
    char pat[1024];
    under(root, rel, pat, sizeof pat);
    return glob(pat, 0, NULL, g) == 0;
}

void board_power_mode(const char *root, struct board_power_mode *out)
{
    memset(out, 0, sizeof *out);
    char path[1024], buf[256];
    int status_id = -1, default_id = -1;
    under(root, "/var/lib/nvpmodel/status", path, sizeof path);
    if (read_text(path, buf, sizeof buf)) {
        const char *p = strstr(buf, "pmode:");
        if (p)
            status_id = atoi(p + 6);
    }
    static const char *confs[] = {"/etc/nvpmodel.conf", "/odm/etc/nvpmodel.conf",
                                  "/vendor/etc/nvpmodel.conf"};
    FILE *f = NULL;
    for (size_t i = 0; i < 3 && !f; i++) {
        under(root, confs[i], path, sizeof path);
        f = fopen(path, "r");
    }
    char names[64][64] = {{0}};
    bool have[64] = {false};
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        const char *pm = strstr(line, "POWER_MODEL");
        const char *dc = strstr(line, "PM_CONFIG");
        if (pm && line[strspn(line, " \t")] == '<') {
            const char *id = strstr(pm, "ID="), *nm = strstr(pm, "NAME=");
            if (id && nm) {
                int k = atoi(id + 3);
                if (k >= 0 && k < 64) {
                    sscanf(nm + 5, "%63[^ >\t\r\n]", names[k]);
                    have[k] = true;
                }
            }
        } else if (dc && line[strspn(line, " \t")] == '<') {
            const char *d = strstr(dc, "DEFAULT=");
            if (d)
                default_id = atoi(d + 8);
        }
    }
    if (f)
        fclose(f);
    int id = status_id >= 0 ? status_id : default_id;
    if (id < 0)
        return;
    out->known = true;
    out->id = id;
    if (id < 64 && have[id])
        snprintf(out->name, sizeof out->name, "%s", names[id]);
}

enum src_kind { SRC_NONE, SRC_IIO, SRC_HWMON, SRC_RAPL };

struct rail {
    char name[32];
    char power[512];      /* iio: in_powerK_input (mW) */
    char volt[512];       /* hwmon: inK_input (mV) */
    char curr[512];       /* hwmon: currK_input (mA) */
};

struct board_power_reader {
    enum src_kind kind;
    struct rail rails[BOARD_MAX_RAILS];
    int n_rails;
    int input_rail;                       /* index of VDD_IN, or -1 */
    char rapl_energy[4][512];
    double rapl_max[4];
    int n_rapl;
    char rapl_name[32];
    double last_uj[4];
    int64_t last_ns;
    bool have_last;
};

static bool is_input_rail(const char *name)
{
    /* VDD_IN on Xavier / Orin; POM_5V_IN on the Nano */
    return strcmp(name, "VDD_IN") == 0 || strcmp(name, "POM_5V_IN") == 0;
}

static void add_rail(struct board_power_reader *r, const char *name, const char *power,
                     const char *volt, const char *curr)
{
    if (r->n_rails == BOARD_MAX_RAILS)
        return;
    struct rail *x = &r->rails[r->n_rails];
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->power, sizeof x->power, "%s", power ? power : "");
    snprintf(x->volt, sizeof x->volt, "%s", volt ? volt : "");
    snprintf(x->curr, sizeof x->curr, "%s", curr ? curr : "");
    if (is_input_rail(name) && r->input_rail < 0)
        r->input_rail = r->n_rails;
    r->n_rails++;
}

static void find_iio(struct board_power_reader *r, const char *root)
{
    glob_t g;
    if (!glob_under(root, "/sys/bus/i2c/drivers/ina3221x/*/iio:device*", &g))
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        for (int k = 0; k < 3; k++) {
            char name_path[TEXT_PATH], power[TEXT_PATH], name[32];
            snprintf(name_path, sizeof name_path, "%s/rail_name_%d", g.gl_pathv[i], k);
            snprintf(power, sizeof power, "%s/in_power%d_input", g.gl_pathv[i], k);
            if (read_text(name_path, name, sizeof name))
                add_rail(r, name, power, NULL, NULL);
        }
    globfree(&g);
}

static void find_hwmon(struct board_power_reader *r, const char *root)
{
    glob_t g;
    if (!glob_under(root, "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*", &g))
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        for (int k = 1; k <= 3; k++) {
            char label[TEXT_PATH], volt[TEXT_PATH], curr[TEXT_PATH], name[32];
            snprintf(label, sizeof label, "%s/in%d_label", g.gl_pathv[i], k);
            snprintf(volt, sizeof volt, "%s/in%d_input", g.gl_pathv[i], k);
            snprintf(curr, sizeof curr, "%s/curr%d_input", g.gl_pathv[i], k);
            if (read_text(label, name, sizeof name))
                add_rail(r, name, NULL, volt, curr);
        }
    globfree(&g);
}

/* RAPL: psys (the whole platform) if there is one, else the packages (a lower bound). */
static void find_rapl(struct board_power_reader *r, const char *root)
{
    glob_t g;
    if (!glob_under(root, "/sys/class/powercap/intel-rapl:[0-9]", &g))
        return;
    for (int want_psys = 1; want_psys >= 0 && r->n_rapl == 0; want_psys--)
        for (size_t i = 0; i < g.gl_pathc && r->n_rapl < 4; i++) {
            char p[TEXT_PATH], name[32];
            double uj, max;
            snprintf(p, sizeof p, "%s/name", g.gl_pathv[i]);
            if (!read_text(p, name, sizeof name) || (strcmp(name, "psys") == 0) != want_psys)
                continue;
            snprintf(r->rapl_energy[r->n_rapl], sizeof r->rapl_energy[0], "%s/energy_uj",
                     g.gl_pathv[i]);
            snprintf(p, sizeof p, "%s/max_energy_range_uj", g.gl_pathv[i]);
            if (!read_num(r->rapl_energy[r->n_rapl], &uj) || !read_num(p, &max))
                continue;   /* often root-only */
            r->rapl_max[r->n_rapl++] = max;
            snprintf(r->rapl_name, sizeof r->rapl_name, "%s", want_psys ? "psys" : "package");
        }
    globfree(&g);
}

struct board_power_reader *board_power_open(const char *root)
{
    struct board_power_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->input_rail = -1;
    find_iio(r, root);
    if (r->n_rails) {
        r->kind = SRC_IIO;
        return r;
    }
    find_hwmon(r, root);
    if (r->n_rails) {
        r->kind = SRC_HWMON;
        return r;
    }
    find_rapl(r, root);
    r->kind = r->n_rapl ? SRC_RAPL : SRC_NONE;
    return r;
}

static bool rail_watts(const struct board_power_reader *r, const struct rail *x, double *w)
{
    double a, b;
    if (r->kind == SRC_IIO) {
        if (!read_num(x->power, &a))
            return false;
        *w = a / 1000.0;
        return true;
    }
    if (!read_num(x->volt, &a) || !read_num(x->curr, &b))
        return false;
    *w = a * b / 1e6;
    return true;
}

void board_power_read(struct board_power_reader *r, int64_t now_ns, struct board_power *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->kind == SRC_NONE)
        return;
    if (r->kind == SRC_RAPL) {
        double uj[4], joules = 0;
        for (int i = 0; i < r->n_rapl; i++) {
            if (!read_num(r->rapl_energy[i], &uj[i]))
                return;
            if (r->have_last) {
                double d = uj[i] - r->last_uj[i];
                joules += (d < 0 ? d + r->rapl_max[i] : d) / 1e6;   /* the counter wraps */
            }
        }
        bool had = r->have_last;
        double dt = (double)(now_ns - r->last_ns) / 1e9;
        memcpy(r->last_uj, uj, sizeof uj);
        r->last_ns = now_ns;
        r->have_last = true;
        if (!had || dt <= 0)
            return;
        out->known = true;
        out->watts = joules / dt;
        out->lower_bound = strcmp(r->rapl_name, "psys") != 0;
        snprintf(out->source, sizeof out->source, "rapl %s", r->rapl_name);
        return;
    }
    const char *drv = r->kind == SRC_IIO ? "ina3221 iio" : "ina3221 hwmon";
    if (r->input_rail >= 0) {
        if (rail_watts(r, &r->rails[r->input_rail], &out->watts)) {
            out->known = true;
            snprintf(out->source, sizeof out->source, "%s %s", drv, r->rails[r->input_rail].name);
        }
        return;
    }
    double sum = 0;
    for (int i = 0; i < r->n_rails; i++) {
        double w;
        if (!rail_watts(r, &r->rails[i], &w))
            return;   /* a partial sum would be a guess */
        sum += w;
    }
    out->known = true;
    out->lower_bound = true;
    out->watts = sum;
    snprintf(out->source, sizeof out->source, "%s sum of %d rails", drv, r->n_rails);
}

void board_power_close(struct board_power_reader *r)
{
    free(r);
}

int board_temperatures(const char *root, struct board_temp *out, int max)
{
    glob_t g;
    int n = 0;
    if (!glob_under(root, "/sys/class/thermal/thermal_zone*", &g))
        return 0;
    for (size_t i = 0; i < g.gl_pathc && n < max; i++) {
        char p[TEXT_PATH];
        double milli;
        snprintf(p, sizeof p, "%s/temp", g.gl_pathv[i]);
        if (!read_num(p, &milli))
            continue;
        snprintf(p, sizeof p, "%s/type", g.gl_pathv[i]);
        if (!read_text(p, out[n].type, sizeof out[n].type))
            snprintf(out[n].type, sizeof out[n].type, "zone%zu", i);
        out[n++].celsius = milli / 1000.0;
    }
    globfree(&g);
    return n;
}

int board_cpu_mhz(const char *root, double *mhz, int max)
{
    glob_t g;
    int n = 0;
    if (!glob_under(root, "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq", &g))
        return 0;
    for (int i = 0; i < max; i++)
        mhz[i] = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *c = NULL;   /* the last "/cpu/cpu", in case root holds one too */
        for (const char *p = strstr(g.gl_pathv[i], "/cpu/cpu"); p; p = strstr(p + 1, "/cpu/cpu"))
            c = p;
        double khz;
        if (!c)
            continue;
        int cpu = atoi(c + 8);
        if (cpu < 0 || cpu >= max || !read_num(g.gl_pathv[i], &khz))
            continue;
        mhz[cpu] = khz / 1000.0;
        n++;
    }
    globfree(&g);
    return n;
}
