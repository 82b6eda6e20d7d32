/*
 * marker_sink.c — test and benchmark helper: runs a command under a real
 * marker recorder (src/recorder.c) and prints what it received, without the
 * rest of `joulebench measure`.
 *
 *   marker_sink [-o FILE] -- COMMAND [ARGS...]
 *
 * Exports JOULEBENCH_SOCKET to COMMAND, drains the recorder every 100 ms while
 * it runs, and writes one line per datagram to FILE (default stdout):
 *   <kind> <name> <index|-> <value|-> <pid>       a valid marker
 *   bad <reason>                                   a malformed datagram
 * then "count valid=N bad=M". Exits with COMMAND's status.
 */
#include "recorder.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_ok(void *ctx, const jb_marker *m)
{
    FILE *f = ctx;
    fprintf(f, "%s %s ", m->kind, m->name);
    if (m->has_index)
        fprintf(f, "%lld ", (long long)m->index);
    else
        fputs("- ", f);
    char v[40];
    snprintf(v, sizeof v, "%.15g", m->value);
    if (strtod(v, NULL) != m->value) snprintf(v, sizeof v, "%.17g", m->value);
    if (m->has_value)
        fprintf(f, "%s ", v);
    else
        fputs("- ", f);
    fprintf(f, "%lld\n", (long long)m->pid);
}

static void on_bad(void *ctx, int64_t recv_ns, const char *reason, const char *raw, size_t len)
{
    fprintf((FILE *)ctx, "bad %s\n", reason);
}

int main(int argc, char **argv)
{
    FILE *out = stdout;
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-o")) {
        out = fopen(argv[i + 1], "w");
        if (!out) return perror(argv[i + 1]), 125;
        i += 2;
    }
    if (i < argc && !strcmp(argv[i], "--")) i++;
    if (i >= argc) return fprintf(stderr, "usage: marker_sink [-o FILE] -- COMMAND...\n"), 124;
    jb_recorder *r;
    jb_err err;
    if (jb_recorder_start(&r, &err)) return fprintf(stderr, "marker_sink: %s\n", err.msg), 125;
    setenv("JOULEBENCH_SOCKET", jb_recorder_socket_path(r), 1);
    pid_t child = fork();
    if (child == 0) {
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    int st = 0;
    for (;;) {
        pid_t w = waitpid(child, &st, WNOHANG);
        if (w == child || (w < 0)) break;
        jb_recorder_drain(r, on_ok, on_bad, out);
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
    jb_recorder_stop(r);
    jb_recorder_drain(r, on_ok, on_bad, out);
    uint64_t valid, bad;
    jb_recorder_counts(r, &valid, &bad);
    fprintf(out, "count valid=%llu bad=%llu\n", (unsigned long long)valid, (unsigned long long)bad);
    jb_recorder_free(r);
    if (out != stdout) fclose(out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
