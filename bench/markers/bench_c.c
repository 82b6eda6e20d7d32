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
#define _DEFAULT_SOURCE
#include <joulebench.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "bench_util.h"

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

/* CPU seconds used so far by the recorder's receive thread: the recorder runs
 * in our parent (tests/helpers/marker_sink); its threads other than the main
 * one are read from /proc/PPID/task/TID/schedstat (ns on CPU). -1 when unreadable. */
static double recorder_cpu_s(void)
{
    char path[300];
    pid_t pp = getppid();
    snprintf(path, sizeof path, "/proc/%d/task", (int)pp);
    DIR *d = opendir(path);
    if (!d) return -1;
    double sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == (int)pp) continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", (int)pp, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long run_ns; /* schedstat: ns on CPU, ns waiting, slices */
        if (fscanf(f, "%llu", &run_ns) == 1) sum += (double)run_ns / 1e9;
        fclose(f);
    }
    closedir(d);
    return sum;
}

typedef struct stats {
    double mean, p50, p99, rec_ms_per_s;
} stats;

/* Calls spaced spacing_us apart (busy-waiting between them, like a busy
 * workload), each timed; plus the recorder's CPU per second meanwhile. */
static stats paced(long calls, int spacing_us, int metric)
{
    double *lat = malloc((size_t)calls * sizeof *lat), sum = 0;
    double cpu0 = recorder_cpu_s(), w0 = now_ns();
    for (long i = 0; i < calls; i++) {
        double until = now_ns() + spacing_us * 1000.0;
        while (now_ns() < until) {
        }
        double t0 = now_ns();
        sink += metric ? jb_metric("loss", i, 0.5 + (double)i * 1e-6) : jb_begin("step", i);
        lat[i] = now_ns() - t0;
        sum += lat[i];
    }
    stats s = {.mean = sum / (double)calls};
    s.rec_ms_per_s = (recorder_cpu_s() - cpu0) * 1e3 / ((now_ns() - w0) / 1e9);
    qsort(lat, (size_t)calls, sizeof *lat, cmp_double);
    s.p50 = lat[calls / 2];
    s.p99 = lat[calls * 99 / 100];
    free(lat);
    return s;
}

static void print_paced(const char *what, long n, int spacing_us, stats s)
{
    printf("  paced  %6ld %-6s %2d us apart: mean %6.2f us, p50 %6.2f, p99 %6.2f | recorder "
           "CPU %5.1f ms/s\n",
           n, what, spacing_us, s.mean / 1e3, s.p50 / 1e3, s.p99 / 1e3, s.rec_ms_per_s);
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
        long n = calls / 10;
        double cpu0 = recorder_cpu_s();
        nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
        printf("  idle   1 s, no markers:                                  | recorder CPU "
               "%5.1f ms/s\n",
               (recorder_cpu_s() - cpu0) * 1e3);
        print_paced("metric", n, 20, paced(n, 20, 1));
        print_paced("begin", n, 20, paced(n, 20, 0));
        print_paced("metric", n, 4, paced(n, 4, 1));
        print_paced("metric", n, 1000, paced(n / 10, 1000, 1));
        printf("  library work alone (clock + format, no send): %.0f ns/call\n",
               format_only(calls));
        printf("  bare send() of the same size, 20 us apart (kernel floor): mean %.2f us\n",
               bare_sendto(n) / 1e3);
        printf("  dropped %llu of %ld\n", (unsigned long long)jb_dropped(), calls + 3 * n + n / 10);
    }
    return 0;
}
