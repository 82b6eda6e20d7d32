/*
 * floor.c — the overhead floor for bench/overhead/run.sh: the least a sampler
 * of the same data can cost. One thread, absolute CLOCK_MONOTONIC deadlines
 * (timer slack 1 ns, like joulebench's sampling thread), and per sample
 * nothing but re-reading /proc/stat, /proc/meminfo, /proc/diskstats and
 * /proc/net/dev with pread on descriptors opened once, and parsing the numbers
 * joulebench's cpu, memory, disk and net sources use. No store, no threads.
 *
 * With a third argument PID it also re-reads what joulebench's process source
 * reads for a one-process tree: /proc/PID/stat, statm, io and
 * task/PID/children (descriptors opened once) — the floor for the default
 * sources, which include the process tree.
 *
 * Usage: floor INTERVAL_MS SECONDS [PID]. At the end it prints one line with the
 * samples taken, the wake-up lateness (p50/p99/max in µs) and a checksum of
 * what it parsed (so the compiler cannot drop the parsing).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 2000000

static const char *const files[] = {"/proc/stat", "/proc/meminfo", "/proc/diskstats",
                                    "/proc/net/dev"};
static char buf[65536];

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Whole file from offset 0. /proc/stat and /proc/meminfo are generated whole,
 * so one read that does not fill the buffer is all (whole = 1); diskstats and
 * net/dev are generated line by line and may answer short, so read until a
 * read returns 0, as any correct reader must (joulebench does the same). */
static ssize_t reread(int fd, int whole)
{
    if (whole) {
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        return n;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = pread(fd, buf + len, sizeof buf - 1 - len, (off_t)len);
        if (n <= 0 || len + (size_t)n >= sizeof buf - 1) {
            if (n > 0) len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = 0;
    return (ssize_t)len;
}

static unsigned long long parse_ull(const char **pp)
{
    const char *p = *pp;
    while (*p == ' ')
        p++;
    unsigned long long v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (unsigned)(*p++ - '0');
    *pp = p;
    return v;
}

static const char *next_line(const char *p)
{
    const char *e = strchr(p, '\n');
    return e ? e + 1 : p + strlen(p);
}

/* The first line of /proc/stat: the 8 aggregate CPU counters. */
static unsigned long long parse_stat(void)
{
    const char *p = buf + 4;
    unsigned long long s = 0;
    for (int i = 0; i < 8; i++)
        s += parse_ull(&p);
    return s;
}

/* MemTotal, MemAvailable, SwapTotal, SwapFree. */
static unsigned long long parse_meminfo(void)
{
    unsigned long long s = 0;
    for (const char *p = buf; *p; p = next_line(p))
        if (!strncmp(p, "MemTotal:", 9) || !strncmp(p, "MemAvailable:", 13) ||
            !strncmp(p, "SwapTotal:", 10) || !strncmp(p, "SwapFree:", 9)) {
            const char *q = strchr(p, ':') + 1;
            s += parse_ull(&q);
        }
    return s;
}

/* Sectors read (field 6) and written (field 10) of every line. */
static unsigned long long parse_diskstats(void)
{
    unsigned long long s = 0;
    for (const char *p = buf; *p; p = next_line(p)) {
        parse_ull(&p);
        parse_ull(&p);
        while (*p == ' ')
            p++;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        unsigned long long f[7];
        for (int i = 0; i < 7; i++)
            f[i] = parse_ull(&p);
        s += f[2] + f[6];
    }
    return s;
}

/* Received (field 1) and sent (field 9) bytes of every interface. */
static unsigned long long parse_netdev(void)
{
    unsigned long long s = 0;
    for (const char *p = next_line(next_line(buf)); *p; p = next_line(p)) {
        const char *q = strchr(p, ':');
        if (!q) break;
        q++;
        unsigned long long f[9];
        for (int i = 0; i < 9; i++)
            f[i] = parse_ull(&q);
        s += f[0] + f[8];
    }
    return s;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || atof(argv[1]) <= 0 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: floor INTERVAL_MS SECONDS [PID]\n");
        return 2;
    }
    int pfd[4], npfd = 0;
    if (argc == 4) {
        const char *rel[] = {"stat", "statm", "io", "task/%s/children"};
        for (int i = 0; i < 4; i++) {
            char sub[64], path[128];
            snprintf(sub, sizeof sub, rel[i], argv[3]);
            snprintf(path, sizeof path, "/proc/%s/%s", argv[3], sub);
            if ((pfd[npfd++] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                perror(path);
                return 1;
            }
        }
    }
    int64_t step = (int64_t)(atof(argv[1]) * 1e6);
    int64_t end = mono_ns() + (int64_t)(atof(argv[2]) * 1e9);
    int fd[4];
    for (int i = 0; i < 4; i++)
        if ((fd[i] = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
            perror(files[i]);
            return 1;
        }
    unsigned long long (*const parse[4])(void) = {parse_stat, parse_meminfo, parse_diskstats,
                                                  parse_netdev};
    int64_t *late = malloc(sizeof *late * MAX_SAMPLES);
    if (!late) return 1;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    long n = 0;
    unsigned long long check = 0;
    int64_t next = mono_ns() + step;
    while (next < end) {
        struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        int64_t now = mono_ns();
        if (n < MAX_SAMPLES) late[n++] = now - next;
        for (int i = 0; i < 4; i++)
            if (reread(fd[i], i < 2) > 0) check += parse[i]();
        for (int i = 0; i < npfd; i++)
            if (reread(pfd[i], 1) > 0) { /* the numbers the process source uses */
                const char *p = i == 0 ? strrchr(buf, ')') : buf;
                if (p) check += parse_ull(&p);
            }
        next += step;
        now = mono_ns();
        if (now > next) next += ((now - next) / step + 1) * step; /* skip missed deadlines */
    }
    qsort(late, (size_t)n, sizeof *late, cmp_i64);
    printf("samples=%ld jitter_p50_us=%.1f jitter_p99_us=%.1f jitter_max_us=%.1f check=%llu\n", n,
           n ? (double)late[n / 2] / 1e3 : -1, n ? (double)late[(n * 99) / 100] / 1e3 : -1,
           n ? (double)late[n - 1] / 1e3 : -1, check % 1000);
    free(late);
    return 0;
}
