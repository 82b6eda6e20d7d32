/*
 * cmd_mark.c — `joulebench mark`: send one marker from a shell script or a
 * load generator to the recorder of the `joulebench measure`/`run` it runs
 * under (the socket in JOULEBENCH_SOCKET).
 *
 * Like the C library it is a silent no-op when JOULEBENCH_SOCKET is not set,
 * so scripts can keep their marks outside measurements; --strict turns that
 * into an error. Usage errors (bad name, number or kind) are reported in
 * either case. Unlike the library the CLI may wait: it sends with a blocking
 * send (up to 2 s) so a busy recorder does not lose a scripted marker. The
 * pid in the marker is the caller's (the parent shell), not this short-lived
 * process.
 */
#include "cmd.h"
#include "jb.h"
#include "marker.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench mark begin|end|event NAME [INDEX] [--strict]\n"
               "       joulebench mark metric NAME VALUE [--index N] [--strict]\n"
               "\n"
               "Send a marker to the joulebench recorder this command runs under\n"
               "(JOULEBENCH_SOCKET, set by `joulebench measure` and `joulebench run`).\n"
               "Without JOULEBENCH_SOCKET nothing is sent and the exit status is 0.\n"
               "\n"
               "  NAME       [A-Za-z0-9_.:/-], 1 to 64 characters (epoch, train, val_accuracy)\n"
               "  INDEX, N   an integer, e.g. the epoch number\n"
               "  VALUE      a finite number (0.8731, 1e-3)\n"
               "  --index N  the index, for any kind\n"
               "  --strict   fail (exit 125) when there is no recorder or the marker\n"
               "             cannot be delivered\n"
               "\n"
               "examples:\n"
               "  joulebench mark begin epoch 3\n"
               "  joulebench mark metric val_accuracy 0.8731 --index 3\n"
               "  joulebench mark end epoch 3\n");
}

typedef struct mark_args {
    const char *kind, *name;
    int64_t index; /* JB_MARKER_NO_INDEX when none */
    double value;
    bool strict;
} mark_args;

static int parse_index(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v == INT64_MIN) {
        fprintf(stderr, "joulebench mark: index '%s' is not an integer; use e.g. 3\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_value(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) {
        fprintf(stderr, "joulebench mark: value '%s' is not a finite number; use e.g. 0.87\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Split options from positionals and check them. 0 ok, -1 usage error. */
static int parse_args(int argc, char **argv, mark_args *a)
{
    const char *pos[4];
    int npos = 0;
    bool index_opt = false;
    *a = (mark_args){.index = JB_MARKER_NO_INDEX};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--strict"))
            a->strict = true;
        else if (!strcmp(argv[i], "--index") && i + 1 < argc) {
            if (parse_index(argv[++i], &a->index)) return -1;
            index_opt = true;
        } else if (!strncmp(argv[i], "--", 2) && strcmp(argv[i], "--") && argv[i][2]) {
            fprintf(stderr, "joulebench mark: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        } else if (npos < 4)
            pos[npos++] = argv[i];
        else
            return fprintf(stderr, "joulebench mark: too many arguments (see --help)\n"), -1;
    }
    if (npos < 2)
        return fprintf(stderr, "joulebench mark: need a kind and a name (see --help)\n"), -1;
    a->kind = pos[0];
    a->name = pos[1];
    if (!jb_marker_kind_ok(a->kind)) {
        fprintf(stderr, "joulebench mark: kind '%s' must be begin, end, event or metric\n",
                a->kind);
        return -1;
    }
    if (!jb_marker_name_ok(a->name)) {
        fprintf(stderr, "joulebench mark: name '%s' must be 1 to 64 of A-Z a-z 0-9 _ . : / -\n",
                a->name);
        return -1;
    }
    bool metric = !strcmp(a->kind, "metric");
    int want = metric ? 3 : 2; /* positionals before the optional index */
    if (metric && npos < 3) return fprintf(stderr, "joulebench mark: metric needs a VALUE\n"), -1;
    if (npos > want + (index_opt ? 0 : 1) || (metric && npos > 3)) {
        fprintf(stderr, "joulebench mark: too many arguments (see --help)\n");
        return -1;
    }
    if (metric && parse_value(pos[2], &a->value)) return -1;
    if (!metric && npos == 3 && parse_index(pos[2], &a->index)) return -1;
    return 0;
}

/* Send with a blocking socket: a CLI may wait for a busy recorder. */
static int deliver(const char *path, const char *line, size_t len)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ssize_t n;
    do
        n = sendto(fd, line, len, MSG_NOSIGNAL, (struct sockaddr *)&addr, sizeof addr);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)len ? 0 : -1;
}

int jb_cmd_mark(int argc, char **argv)
{
    if (jb_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    mark_args a;
    if (parse_args(argc, argv, &a)) return JB_EXIT_USAGE;
    const char *path = getenv("JOULEBENCH_SOCKET");
    if (!path || !*path) {
        if (!a.strict) return 0;
        fprintf(stderr, "joulebench mark: JOULEBENCH_SOCKET is not set, so there is no recorder "
                        "to send to; run the script under `joulebench measure -- ...`\n");
        return JB_EXIT_SETUP;
    }
    char line[JB_MARKER_MAX_LEN];
    int len = jb_marker_format(line, sizeof line, jb_real_ns(), (int64_t)getppid(), a.kind, a.name,
                               a.index, a.value);
    if (len < 0) {
        fprintf(stderr, "joulebench mark: cannot format the marker\n");
        return JB_EXIT_USAGE;
    }
    if (deliver(path, line, (size_t)len) == 0) return 0;
    fprintf(stderr,
            "joulebench mark: %s: marker not delivered: %s; is the recorder still running?\n", path,
            strerror(errno));
    return a.strict ? JB_EXIT_SETUP : 0;
}
