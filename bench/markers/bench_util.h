/*
 * bench_util.h — the two helpers the C marker benchmarks share (bench_c.c,
 * wake_bench.c): a monotonic clock in ns and a comparator for sorting
 * per-call times before taking percentiles.
 */
#ifndef JB_BENCH_UTIL_H
#define JB_BENCH_UTIL_H

#include <time.h>

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
