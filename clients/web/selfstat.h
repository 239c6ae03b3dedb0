/* The program's own memory, as the kernel counts it: what /healthz and the page's footer
 * report, so that an operator sees emotiond-web stay small. */
#ifndef EMOTIOND_WEB_SELFSTAT_H
#define EMOTIOND_WEB_SELFSTAT_H

/* VmRSS in kB from the text of /proc/PID/status; -1 when it has none. */
long selfstat_parse_rss_kb(const char *status);
/* This process's resident memory in kB, or -1. */
long selfstat_rss_kb(void);

#endif
