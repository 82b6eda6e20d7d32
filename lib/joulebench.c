/*
 * joulebench.c — libjoulebench, the marker client (include/joulebench.h), and
 * the v1 line formatter and name check shared with `joulebench mark` and the
 * recorder's parser (src/marker.h). This file is linked into the static and
 * shared library and into the joulebench binary.
 *
 * Cost model: without JOULEBENCH_SOCKET the first call reads the environment
 * once and every call after that is one atomic load, no system call. With it,
 * a call is clock_gettime (vDSO), a small formatter and one non-blocking
 * sendto on a unix datagram socket opened lazily and shared by all threads.
 *
 * Back-pressure: the kernel caps an AF_UNIX datagram receive queue at
 * net.unix.max_dgram_qlen datagrams (10 on many systems, whatever SO_RCVBUF
 * says), so a burst can find the recorder's queue full. Then the call waits
 * for room at most JOULEBENCH_SEND_WAIT_US microseconds (default 10000, 0 turns
 * waiting off) on the connected socket, and drops and counts the marker if it
 * is still full. After one such timeout, later calls drop at once instead of
 * waiting until a send succeeds again, so a stuck recorder cannot slow the
 * workload by more than one wait.
 *
 * fork: the child keeps the socket (datagrams need no connection state) and a
 * pthread_atfork handler refreshes the cached pid, so markers carry the pid of
 * the process that sent them. errno is preserved across every call.
 */
#include "joulebench.h"
#include "marker.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- the v1 line: name check and formatter -------------------------------- */

static const unsigned char name_chars[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['_'] = 1, ['.'] = 1,
    [':'] = 1, ['/'] = 1, ['-'] = 1,
};

int jb_marker_name_ok(const char *name)
{
    if (!name) return 0;
    size_t i = 0;
    for (; name[i]; i++)
        if (i >= JB_MARKER_NAME_MAX || !name_chars[(unsigned char)name[i]]) return 0;
    return i > 0;
}

int jb_marker_kind_ok(const char *kind)
{
    return kind && (!strcmp(kind, "begin") || !strcmp(kind, "end") || !strcmp(kind, "event") ||
                    !strcmp(kind, "metric"));
}

/* Append text to the line at *p if it fits before end. */
static int put_str(char **p, char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) <= n) return -1;
    memcpy(*p, s, n);
    *p += n;
    return 0;
}

/* Append ' ' and a decimal integer (locale-free, no snprintf). */
static int put_i64(char **p, char *end, int64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[--i] = '-';
    tmp[--i] = ' ';
    size_t n = sizeof tmp - (size_t)i;
    if ((size_t)(end - *p) <= n) return -1;
    memcpy(*p, tmp + i, n);
    *p += n;
    return 0;
}

/* Shortest of %.15g/%.17g that reads back exactly, with '.' as the decimal
 * point whatever LC_NUMERIC says (a run of other bytes becomes one '.'). */
static int put_double(char **p, char *end, double v)
{
    char raw[40], out[40];
    snprintf(raw, sizeof raw, "%.15g", v);
    if (strtod(raw, NULL) != v) snprintf(raw, sizeof raw, "%.17g", v);
    size_t o = 0;
    out[o++] = ' ';
    for (size_t i = 0; raw[i]; i++) {
        if (strchr("0123456789+-eE", raw[i]))
            out[o++] = raw[i];
        else if (out[o - 1] != '.')
            out[o++] = '.';
    }
    out[o] = 0;
    return put_str(p, end, out);
}

int jb_marker_format(char *out, size_t cap, int64_t t_ns, int64_t pid, const char *kind,
                     const char *name, int64_t index, double value)
{
    if (!out || cap == 0 || !jb_marker_kind_ok(kind) || !jb_marker_name_ok(name)) return -1;
    bool metric = kind[0] == 'm';
    if (metric && !isfinite(value)) return -1;
    char *p = out, *end = out + cap;
    if (put_str(&p, end, "v1") || put_i64(&p, end, t_ns) || put_i64(&p, end, pid) ||
        put_str(&p, end, " ") || put_str(&p, end, kind) || put_str(&p, end, " ") ||
        put_str(&p, end, name))
        return -1;
    if (index != JB_MARKER_NO_INDEX && put_i64(&p, end, index)) return -1;
    if (metric && put_double(&p, end, value)) return -1;
    if (put_str(&p, end, "\n")) return -1;
    *p = 0;
    return (int)(p - out);
}

/* ---- the client -------------------------------------------------------------- */

enum { STATE_UNKNOWN = 0, STATE_OFF = 1, STATE_ON = 2 };

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_state; /* STATE_* */
static int g_fd = -1;       /* shared socket, -1 when it could not be made */
static bool g_connected;    /* connected: POLLOUT tells when there is room */
static struct sockaddr_un g_addr;
static socklen_t g_addrlen;
static long g_wait_us = 10000; /* JOULEBENCH_SEND_WAIT_US */
static _Atomic int64_t g_pid;  /* refreshed in fork children */
static _Atomic uint64_t g_dropped;
static _Atomic int g_degraded; /* the last wait timed out: do not wait again */
static bool g_atfork_done;

static void after_fork_child(void)
{
    atomic_store(&g_pid, (int64_t)getpid());
    pthread_mutex_init(&g_lock, NULL);
}

static long env_wait_us(void)
{
    const char *s = getenv("JOULEBENCH_SEND_WAIT_US");
    if (!s || !*s) return 10000;
    char *e;
    long v = strtol(s, &e, 10);
    if (*e || v < 0) return 10000;
    return v > 1000000 ? 1000000 : v;
}

/* Called with g_lock held: read the environment and open the socket. */
static int init_locked(void)
{
    if (!g_atfork_done) {
        pthread_atfork(NULL, NULL, after_fork_child);
        g_atfork_done = true;
    }
    const char *path = getenv("JOULEBENCH_SOCKET");
    if (!path || !*path) return STATE_OFF;
    atomic_store(&g_pid, (int64_t)getpid());
    g_wait_us = env_wait_us();
    atomic_store(&g_degraded, 0);
    size_t n = strlen(path);
    if (n >= sizeof g_addr.sun_path) return STATE_ON; /* g_fd -1: every marker is dropped */
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sun_family = AF_UNIX;
    memcpy(g_addr.sun_path, path, n);
    g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    g_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (g_fd >= 0) g_connected = connect(g_fd, (const struct sockaddr *)&g_addr, g_addrlen) == 0;
    return STATE_ON;
}

static int state_slow(void)
{
    pthread_mutex_lock(&g_lock);
    int s = atomic_load(&g_state);
    if (s == STATE_UNKNOWN) {
        s = init_locked();
        atomic_store_explicit(&g_state, s, memory_order_release);
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

static inline int enabled(void)
{
    int s = atomic_load_explicit(&g_state, memory_order_acquire);
    if (__builtin_expect(s == STATE_UNKNOWN, 0)) s = state_slow();
    return s == STATE_ON;
}

void jb_client_reset(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_fd >= 0) close(g_fd);
    g_fd = -1;
    g_connected = false;
    atomic_store(&g_dropped, 0);
    atomic_store(&g_state, STATE_UNKNOWN);
    pthread_mutex_unlock(&g_lock);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wait until the recorder's queue has room, at most until deadline_us. */
static int wait_for_room(int fd, int64_t deadline_us)
{
    int64_t left = deadline_us - mono_us();
    if (left <= 0) return 0;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    struct timespec ts = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
    return ppoll(&pfd, 1, &ts, NULL) > 0;
}

static int send_line(const char *line, size_t len)
{
    int fd = g_fd;
    int64_t deadline = -1;
    while (fd >= 0) {
        /* connected: no address, which spares the kernel a path lookup per marker */
        ssize_t n = sendto(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                           g_connected ? NULL : (const struct sockaddr *)&g_addr,
                           g_connected ? 0 : g_addrlen);
        if (n == (ssize_t)len) {
            if (atomic_load_explicit(&g_degraded, memory_order_relaxed))
                atomic_store(&g_degraded, 0);
            return 0;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n >= 0 || errno != EAGAIN || !g_connected || g_wait_us == 0 ||
            atomic_load_explicit(&g_degraded, memory_order_relaxed))
            break;
        if (deadline < 0) deadline = mono_us() + g_wait_us;
        if (!wait_for_room(fd, deadline)) {
            atomic_store(&g_degraded, 1);
            break;
        }
    }
    atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
    return -1;
}

static int send_marker(const char *kind, const char *name, int64_t index, double value)
{
    if (!enabled()) return 0;
    int saved = errno;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    char line[JB_MARKER_MAX_LEN];
    int len = jb_marker_format(line, sizeof line, t_ns,
                               atomic_load_explicit(&g_pid, memory_order_relaxed), kind, name,
                               index, value);
    int rc = len < 0 ? -1 : send_line(line, (size_t)len);
    errno = saved;
    return rc;
}

int jb_begin(const char *name, int64_t index)
{
    return send_marker("begin", name, index, 0);
}
int jb_end(const char *name, int64_t index)
{
    return send_marker("end", name, index, 0);
}
int jb_event(const char *name)
{
    return send_marker("event", name, JB_NO_INDEX, 0);
}
int jb_metric(const char *name, int64_t index, double value)
{
    return send_marker("metric", name, index, value);
}

int jb_enabled(void)
{
    return enabled();
}
uint64_t jb_dropped(void)
{
    return atomic_load(&g_dropped);
}
