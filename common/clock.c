#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <time.h>

int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double mono_s(void)
{
    return (double)mono_ns() / 1e9;
}

double mono_ms(void)
{
    return (double)mono_ns() / 1e6;
}
