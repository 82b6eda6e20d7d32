/*
 * util.c — implementation of the helpers declared in jb.h: error formatting,
 * clocks, small-file reads under a fake root, durations and a string buffer.
 */
#include "jb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int jb_errf(jb_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t jb_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}
int64_t jb_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t jb_clock_offset_ns(void)
{
    static int64_t offset;
    static int taken;
    if (!taken) {
        /* Bracket the realtime read by two monotonic reads to halve the error. */
        int64_t a = jb_mono_ns(), r = jb_real_ns(), b = jb_mono_ns();
        offset = r - (a + (b - a) / 2);
        taken = 1;
    }
    return offset;
}

void jb_path(char *out, size_t cap, const char *root, const char *path)
{
    if (!root || !*root || (root[0] == '/' && root[1] == 0))
        snprintf(out, cap, "%s", path);
    else
        snprintf(out, cap, "%s%s", root, path);
}

ssize_t jb_read_file(const char *root, const char *path, char *buf, size_t cap)
{
    char full[4096];
    jb_path(full, sizeof full, root, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    close(fd);
    return (ssize_t)len;
}

const char *jb_default_root(void)
{
    const char *r = getenv("JOULEBENCH_ROOT");
    return (r && *r) ? r : "/";
}

int jb_parse_duration(const char *s, int64_t *ns)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0) return -1;
    while (*end == ' ')
        end++;
    double mul;
    if (!*end || !strcmp(end, "s"))
        mul = 1e9;
    else if (!strcmp(end, "ms"))
        mul = 1e6;
    else if (!strcmp(end, "us"))
        mul = 1e3;
    else if (!strcmp(end, "ns"))
        mul = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60e9;
    else if (!strcmp(end, "h"))
        mul = 3600e9;
    else
        return -1;
    double r = v * mul;
    if (r > 9e18) return -1;
    *ns = (int64_t)llround(r);
    return 0;
}

void jb_fmt_bytes(char *out, size_t cap, double bytes)
{
    const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (fabs(bytes) >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(out, cap, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
}

void jb_buf_append(jb_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *p = realloc(b->data, nc);
        if (!p) abort(); /* out of memory: nothing sensible left to do */
        b->data = p;
        b->cap = nc;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void jb_buf_printf(jb_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        jb_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jb_buf_append(b, big, (size_t)n);
    free(big);
}

void jb_buf_free(jb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
