/*
 * jb.h — small shared helpers used everywhere inside joulebench: the error
 * type every fallible function fills in, clocks, and file helpers.
 *
 * Convention: functions return 0 on success and -1 on failure, filling a
 * jb_err with one line that names the file (and line where there is one), what
 * went wrong and how to fix it. Nothing below the command layer calls exit().
 */
#ifndef JB_H
#define JB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JB_VERSION "0.1.0"

/* Exit codes of the joulebench binary (documented in README.md). Commands that
 * run a workload pass its own exit status through; joulebench's own failures
 * use 120..127 so they cannot be confused with ordinary statuses. */
enum {
    JB_EXIT_OK = 0,
    JB_EXIT_USAGE = 124,    /* bad command line or spec */
    JB_EXIT_SETUP = 125,    /* joulebench could not start measuring */
    JB_EXIT_NOTFOUND = 127, /* the workload command was not found */
    JB_EXIT_EXEC = 126,     /* the workload command could not be executed */
    JB_EXIT_DATA = 123,     /* store or input data unusable */
};

typedef struct jb_err {
    char msg[1024];
} jb_err;

/* Format a message into err (if err is non-NULL). Always returns -1. */
int jb_errf(jb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clocks: monotonic and realtime in nanoseconds. */
int64_t jb_mono_ns(void);
int64_t jb_real_ns(void);

/* The offset that turns a monotonic time into Unix nanoseconds, taken once. */
int64_t jb_clock_offset_ns(void);

/* Read a whole small file under an optional root into buf (NUL-terminated).
 * Returns the length, or -1 with errno set. */
ssize_t jb_read_file(const char *root, const char *path, char *buf, size_t cap);

/* Join root and an absolute path ("/proc/stat") into out. root NULL or "" or
 * "/" means the real filesystem. */
void jb_path(char *out, size_t cap, const char *root, const char *path);

/* The root for /proc and /sys: --root option, else JOULEBENCH_ROOT, else "/". */
const char *jb_default_root(void);

/* Parse durations like "100ms", "2s", "1.5m", "500us", "1h" into ns.
 * Returns 0 or -1. A bare number means seconds. */
int jb_parse_duration(const char *s, int64_t *ns);

/* Format bytes/energy for humans ("1.23 GB", "12.3 J"). */
void jb_fmt_bytes(char *out, size_t cap, double bytes);

/* Growable string buffer. */
typedef struct jb_buf {
    char *data;
    size_t len, cap;
} jb_buf;
void jb_buf_printf(jb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jb_buf_append(jb_buf *b, const char *s, size_t n);
void jb_buf_free(jb_buf *b);

#define JB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
