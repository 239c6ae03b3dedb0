/* What the board says about itself: Jetson power mode (nvpmodel), board power (INA3221
 * through the old iio or the new hwmon driver; RAPL on x86), temperatures and CPU
 * frequencies. Every file is read under `root` ("/" in production, a fixture tree in
 * tests). Whatever a machine cannot tell is reported unknown, never guessed.
 * Layouts: ../shared/design/jetson-telemetry.md. */
#ifndef EMOTIOND_BOARD_H
#define EMOTIOND_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#define BOARD_MAX_RAILS 12
#define BOARD_MAX_ZONES 16
#define BOARD_MAX_CPUS 64

struct board_power_mode {
    bool known;
    int id;
    char name[64];
};

/* From /var/lib/nvpmodel/status (pmode:NNNN), else the PM_CONFIG default, with the name
 * from nvpmodel.conf (/etc, /odm/etc or /vendor/etc). */
void board_power_mode(const char *root, struct board_power_mode *out);

struct board_power {
    bool known;
    bool lower_bound;     /* no input rail: the sum of the rails that exist */
    double watts;
    char source[96];      /* e.g. "ina3221 VDD_IN", "ina3221 sum of 3 rails", "rapl psys" */
};

struct board_power_reader;

/* Finds the power sources under root once; a reader with none reports unknown. */
struct board_power_reader *board_power_open(const char *root);
/* Instant power for INA3221; for RAPL the average since the previous call (unknown on
 * the first call). now_ns: CLOCK_MONOTONIC. */
void board_power_read(struct board_power_reader *r, int64_t now_ns, struct board_power *out);
void board_power_close(struct board_power_reader *r);

struct board_temp {
    char type[32];
    double celsius;
};
/* Thermal zones with a readable temperature; returns how many (at most max). */
int board_temperatures(const char *root, struct board_temp *out, int max);
/* scaling_cur_freq of each CPU, in MHz, indexed by CPU; returns the count read. */
int board_cpu_mhz(const char *root, double *mhz, int max);

#endif
