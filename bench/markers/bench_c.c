/*
 * bench_c.c — cost of one libjoulebench marker call (include/joulebench.h).
 * Built and run by bench/markers/run.sh: once without JOULEBENCH_SOCKET (the
 * no-op path, compared with an empty loop) and once under a real recorder
 * (tests/helpers/marker_sink, a separate process, as in `joulebench measure`).
 *
 *   bench_c [CALLS]     (default 200000)
 *
 * Modes: "burst" calls begin/end back to back (the recorder's queue fills and
 * the client waits for room, so this is the sustained throughput); "paced"
 * leaves ~20 us between calls (a busy but realistic workload) and reports
 * per-call percentiles. Issue 3's target: <= 5 us per call with the recorder
 * listening, nothing measurable without the variable.
 */
#include <joulebench.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile int sink;

static double burst(long calls)
{
    double t0 = now_ns();
    for (long i = 0; i < calls; i++)
        sink += i % 2 ? jb_end("step", i / 2) : jb_begin("step", i / 2);
    return (now_ns() - t0) / (double)calls;
}

/* The library's own work per call without the system call: clock + format.
 * jb_marker_format is exported by libjoulebench (src/marker.h). */
int jb_marker_format(char *out, size_t cap, int64_t t_ns, int64_t pid, const char *kind,
                     const char *name, int64_t index, double value);

static double format_only(long calls)
{
    char line[512];
    double t0 = now_ns();
    for (long i = 0; i < calls; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sink += jb_marker_format(line, sizeof line, ts.tv_sec * 1000000000LL + ts.tv_nsec, 4242,
                                 "metric", "loss", i, 0.5 + (double)i * 1e-6);
    }
    return (now_ns() - t0) / (double)calls;
}

static double empty_loop(long calls)
{
    double t0 = now_ns();
    for (long i = 0; i < calls; i++)
        sink += (int)(i & 1);
    return (now_ns() - t0) / (double)calls;
}

static void paced(long calls, double *p50, double *p99, double *mean)
{
    double *lat = malloc((size_t)calls * sizeof *lat), sum = 0;
    for (long i = 0; i < calls; i++) {
        double until = now_ns() + 20000;
        while (now_ns() < until) {
        }
        double t0 = now_ns();
        sink += jb_metric("loss", i, 0.5 + (double)i * 1e-6);
        lat[i] = now_ns() - t0;
        sum += lat[i];
    }
    qsort(lat, (size_t)calls, sizeof *lat, cmp_double);
    *p50 = lat[calls / 2];
    *p99 = lat[calls * 99 / 100];
    *mean = sum / (double)calls;
    free(lat);
}

/* The kernel floor: a bare sendto of a marker-sized datagram, same pacing. */
static double bare_sendto(long calls)
{
    const char *path = getenv("JOULEBENCH_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    connect(fd, (struct sockaddr *)&a, sizeof a);
    const char msg[] = "v1 1764200000123456789 4242 metric loss 7 0.500007\n";
    double sum = 0;
    for (long i = 0; i < calls; i++) {
        double until = now_ns() + 20000;
        while (now_ns() < until) {
        }
        double t0 = now_ns();
        sink += (int)send(fd, msg, sizeof msg - 1, MSG_DONTWAIT);
        sum += now_ns() - t0;
    }
    return sum / (double)calls;
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 200000;
    if (calls < 100) calls = 100;
    const char *mode = jb_enabled() ? "recorder listening" : "no JOULEBENCH_SOCKET";
    double base = empty_loop(calls * 10);
    double per = burst(calls);
    printf("C markers, %s:\n", mode);
    printf("  burst  %ld begin/end calls: %8.1f ns/call  (empty loop %.1f ns)\n", calls, per, base);
    if (jb_enabled()) {
        double p50, p99, mean;
        long n = calls / 10;
        paced(n, &p50, &p99, &mean);
        printf("  paced  %ld metric calls, 20 us apart: mean %.0f ns, p50 %.0f ns, p99 %.0f ns\n",
               n, mean, p50, p99);
        printf("  library work alone (clock + format, no send): %.0f ns/call\n",
               format_only(calls));
        printf("  bare send() of the same size, same pacing (kernel floor): mean %.0f ns\n",
               bare_sendto(n));
        printf("  dropped %llu of %ld\n", (unsigned long long)jb_dropped(), calls + n);
    }
    return 0;
}
