/*
 * wake_bench.c — why a marker send costs what it costs: the same datagram
 * sent to receivers that behave differently, in one run, side by side.
 * Built and run by bench/markers/run.sh (part 2). Stand-alone:
 *
 *   wake_bench [CALLS]          (default 20000 per row)
 *
 * The receiver is a forked process (like the recorder, which lives in the
 * joulebench process, not in the workload). Receiver modes:
 *   poll   blocks in poll(), then recvmmsg until empty (src/recorder.c before
 *          this change: every send to an idle receiver wakes it, cross-CPU)
 *   recv   blocks in recv() (the listener py_bench.py used to fork)
 *   nap:N  after a datagram, drains with recvmmsg every N us (sleeping in
 *          between, nobody waits on the socket so a send wakes nobody) until
 *          the socket stays empty for 20 ms, then blocks in poll() again
 * Sender variants: connected send(MSG_DONTWAIT) (what libjoulebench does),
 * unconnected sendto, blocking send; spacing between calls 0 (back to back),
 * 4 us (the pace of a Python caller) and 20 us. The receiver reports its own
 * CPU time (getrusage) per second of the row, so the cost of napping is
 * measured, not guessed. A full queue is waited for with poll(POLLOUT) up to
 * 10 ms, as the library does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

/* ---- receiver (child process) ---- */

static long drain(int fd)
{
    static char bufs[64][1024];
    struct mmsghdr m[64];
    struct iovec iov[64];
    long got = 0;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof bufs[i]};
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(fd, m, 64, MSG_DONTWAIT, NULL);
        if (n <= 0) return got;
        got += n;
        for (int i = 0; i < n; i++)
            if (m[i].msg_len == 4 && !memcmp(bufs[i], "STOP", 4)) return -1;
    }
}

static void receiver(int fd, const char *mode, int report)
{
    long nap_us = !strncmp(mode, "nap:", 4) ? atol(mode + 4) : 0;
    char buf[1024];
    for (;;) {
        if (!strcmp(mode, "recv")) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n == 4 && !memcmp(buf, "STOP", 4)) break;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, -1);
        if (drain(fd) < 0) break;
        if (!nap_us) continue;
        int idle_ns = 0, stop = 0;
        while (idle_ns < 20000000 && !stop) {
            nanosleep(&(struct timespec){.tv_nsec = nap_us * 1000}, NULL);
            long n = drain(fd);
            stop = n < 0;
            idle_ns = n ? 0 : idle_ns + (int)nap_us * 1000;
        }
        if (stop) break;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (write(report, &cpu, sizeof cpu) < 0) _exit(1);
    _exit(0);
}

/* ---- sender ---- */

enum { CONNECTED, UNCONNECTED, BLOCKING };

static void row(const char *rmode, int variant, int spacing_us, long calls)
{
    char dir[] = "/tmp/jbwake.XXXXXX";
    if (!mkdtemp(dir)) return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/s", dir);
    int rfd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(rfd, (struct sockaddr *)&a, sizeof a)) return perror("bind");
    int pfd[2];
    if (pipe(pfd)) return;
    pid_t child = fork();
    if (child == 0) {
        close(pfd[0]);
        receiver(rfd, rmode, pfd[1]);
    }
    close(rfd);
    close(pfd[1]);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (variant != UNCONNECTED && connect(fd, (struct sockaddr *)&a, sizeof a)) perror("connect");
    const char msg[] = "v1 1764200000123456789 4242 metric loss 7 0.500007\n";
    double *lat = malloc((size_t)calls * sizeof *lat), sum = 0;
    long waits = 0, drops = 0;
    double t_start = now_ns();
    for (long i = 0; i < calls; i++) {
        double until = now_ns() + spacing_us * 1000.0;
        while (spacing_us && now_ns() < until) {
        }
        double t0 = now_ns();
        for (;;) {
            ssize_t n = variant == UNCONNECTED ? sendto(fd, msg, sizeof msg - 1, MSG_DONTWAIT,
                                                        (struct sockaddr *)&a, sizeof a)
                        : variant == BLOCKING  ? send(fd, msg, sizeof msg - 1, 0)
                                               : send(fd, msg, sizeof msg - 1, MSG_DONTWAIT);
            if (n >= 0 || errno != EAGAIN) break;
            waits++;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (variant == UNCONNECTED || poll(&p, 1, 10) <= 0) {
                drops++;
                break;
            }
        }
        lat[i] = now_ns() - t0;
        sum += lat[i];
    }
    double secs = (now_ns() - t_start) / 1e9;
    if (sendto(fd, "STOP", 4, 0, variant == UNCONNECTED ? (struct sockaddr *)&a : NULL,
               variant == UNCONNECTED ? sizeof a : 0) < 0)
        perror("stop");
    double cpu = 0;
    if (read(pfd[0], &cpu, sizeof cpu) != sizeof cpu) cpu = -1;
    waitpid(child, NULL, 0);
    close(pfd[0]);
    close(fd);
    unlink(a.sun_path);
    rmdir(dir);
    qsort(lat, (size_t)calls, sizeof *lat, cmp_double);
    static const char *vname[] = {"send DONTWAIT", "sendto unconn", "send blocking"};
    printf("  %-8s %-13s %2d us | mean %6.2f  p50 %6.2f  p99 %7.2f us | full-queue waits %5ld "
           "drops %ld | receiver CPU %5.1f ms/s\n",
           rmode, vname[variant], spacing_us, sum / calls / 1e3, lat[calls / 2] / 1e3,
           lat[calls * 99 / 100] / 1e3, waits, drops, cpu * 1e3 / secs);
    free(lat);
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 20000;
    const char *only = argc > 2 ? argv[2] : NULL;
    signal(SIGPIPE, SIG_IGN);
    const char *modes[] = {"poll", "recv", "nap:50", "nap:200", "nap:1000"};
    int spacings[] = {20, 4, 0};
    printf("receiver send-variant spacing | per-call send time | queue | receiver CPU\n");
    for (size_t s = 0; s < sizeof spacings / sizeof *spacings; s++)
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            if (only && strcmp(only, modes[m])) continue;
            row(modes[m], CONNECTED, spacings[s], calls);
            if (m == 0 && spacings[s] == 20) {
                row(modes[m], UNCONNECTED, spacings[s], calls);
                row(modes[m], BLOCKING, spacings[s], calls);
            }
        }
    return 0;
}
