/*
 * nvsmi.c — NVIDIA GPU power and usage from one streaming nvidia-smi child,
 * for machines where the tool works but NVML cannot be loaded, and for
 * comparing with NVML (the method named in the case study). Driver name
 * "nvidia-smi"; not in the default set (the nvml source reads the same
 * sensors; both are family "gpu", so they are never summed).
 *
 * open() runs `nvidia-smi --query-gpu=index,name --format=csv,noheader` once to
 * learn the GPUs, then starts (posix_spawnp, no shell, own process group)
 *   nvidia-smi --query-gpu=timestamp,index,power.draw,utilization.gpu,
 *     utilization.memory,memory.used,memory.total,temperature.gpu
 *     --format=csv,noheader,nounits -lms N
 * and waits up to 5 s for the first batch. N is the sampling interval, at
 * least 100 ms (one query of every GPU takes tens of ms; option
 * nvidia-smi.interval_ms=N overrides, minimum 10). The executable is option
 * nvidia-smi.path, else $JOULEBENCH_NVIDIA_SMI, else nvidia-smi from PATH.
 *
 * read() drains the pipe without blocking, parses complete lines and keeps the
 * latest value per GPU. Channels per GPU <i>: nvidia-smi/<i>/power (W, power,
 * role total), util_gpu, util_memory (%), memory_used, memory_total (B, from
 * MiB), temperature (°C). "[N/A]", "[Not Supported]" or a garbled field is a
 * gap; so is a value older than 5 intervals + 1 s, and everything once the
 * child has exited. close() stops the child's group (SIGTERM, then SIGKILL
 * after 1 s) and reaps it.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SMI_MAX_GPUS 16
#define SMI_NFIELDS 8 /* timestamp, index, then SMI_NVAL values */
#define SMI_NVAL 6
#define SMI_ENUM_TIMEOUT_NS 15000000000LL
#define SMI_FIRST_BATCH_NS 5000000000LL

static const char *const smi_query = "--query-gpu=timestamp,index,power.draw,utilization.gpu,"
                                     "utilization.memory,memory.used,memory.total,"
                                     "temperature.gpu";

/* Channel leaf, unit, kind and the factor from nvidia-smi's unit, per value. */
static const struct {
    const char *leaf, *unit;
    jb_channel_kind kind;
    double scale;
} smi_vals[SMI_NVAL] = {
    {"power", "W", JB_KIND_POWER, 1},
    {"util_gpu", "%", JB_KIND_GAUGE, 1},
    {"util_memory", "%", JB_KIND_GAUGE, 1},
    {"memory_used", "B", JB_KIND_GAUGE, 1048576.0},
    {"memory_total", "B", JB_KIND_GAUGE, 1048576.0},
    {"temperature", "°C", JB_KIND_GAUGE, 1},
};

typedef struct smi_gpu {
    int index;
    char name[96];
    double val[SMI_NVAL];
    bool have[SMI_NVAL];
    int64_t seen_ns; /* when its last line arrived; 0 = never */
} smi_gpu;

typedef struct smi_state {
    pid_t pid; /* also the process group */
    int fd;
    bool eof, skipping;
    int ngpu;
    smi_gpu gpu[SMI_MAX_GPUS];
    int lms;
    int64_t stale_ns;
    unsigned long bad_lines;
    size_t len;
    char line[1024];
    char rbuf[8192];
} smi_state;

static const char *smi_exe(const jb_source_env *env)
{
    const char *p = jb_source_opt_get(env, "nvidia-smi", "path");
    if (!p || !*p) p = getenv("JOULEBENCH_NVIDIA_SMI");
    return p && *p ? p : "nvidia-smi";
}

/* Starts argv with stdout on a non-blocking pipe, stderr on /dev/null, no other
 * descriptors, in its own process group, with default signal handling. Returns 0 or an errno. */
static int smi_spawn(char *const argv[], pid_t *pid, int *fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Hold none of the recorder's other descriptors (glibc 2.34+). */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc) {
        close(p[0]);
        return rc;
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    *fd = p[0];
    return 0;
}

/* Stops the child's process group and reaps the child; returns its wait status. */
static int smi_stop(pid_t pid)
{
    int status = 0;
    if (pid <= 0) return 0;
    kill(-pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return status;
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* Runs the enumeration query, collecting stdout into out (NUL-terminated).
 * Returns the exit status (0 ok), or -1 with err. */
static int smi_run_capture(const char *exe, char *out, size_t cap, jb_err *err)
{
    char *argv[] = {(char *)exe, "--query-gpu=index,name", "--format=csv,noheader", NULL};
    pid_t pid;
    int fd, rc = smi_spawn(argv, &pid, &fd);
    if (rc) return jb_errf(err, "%s: cannot run: %s", exe, strerror(rc));
    size_t len = 0;
    int64_t deadline = jb_mono_ns() + SMI_ENUM_TIMEOUT_NS;
    for (;;) {
        int64_t left = deadline - jb_mono_ns();
        if (left <= 0) break;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left / 1000000) + 1) < 0 && errno != EINTR) break;
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n == 0) break;
        if (n > 0) len += (size_t)n;
        if (len + 1 >= cap) break;
    }
    out[len] = 0;
    bool timed_out = jb_mono_ns() >= deadline;
    close(fd);
    int st = smi_stop(pid);
    if (timed_out)
        return jb_errf(err,
                       "%s did not answer within %lld s; check the NVIDIA driver "
                       "(nvidia-smi hangs when a GPU is in a bad state)",
                       exe, SMI_ENUM_TIMEOUT_NS / 1000000000LL);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Parses "0, NVIDIA H100 80GB HBM3" lines into s->gpu. */
static void smi_parse_list(smi_state *s, const char *text)
{
    for (const char *p = text; *p && s->ngpu < SMI_MAX_GPUS; p = jb_next_line(p)) {
        char *end;
        long idx = strtol(p, &end, 10);
        if (end == p || *end != ',' || idx < 0 || idx > 1000) continue;
        smi_gpu *g = &s->gpu[s->ngpu++];
        g->index = (int)idx;
        const char *nm = end + 1;
        while (*nm == ' ')
            nm++;
        size_t n = strcspn(nm, "\r\n");
        snprintf(g->name, sizeof g->name, "%.*s", (int)(n < 95 ? n : 95), nm);
    }
}

static smi_gpu *smi_find(smi_state *s, long idx)
{
    for (int i = 0; i < s->ngpu; i++)
        if (s->gpu[i].index == idx) return &s->gpu[i];
    return NULL;
}

/* One CSV field: a finite, non-negative number, or false ([N/A], garbage). */
static bool smi_number(const char *f, double *v)
{
    while (*f == ' ')
        f++;
    char *end;
    errno = 0;
    double d = strtod(f, &end);
    if (end == f || errno) return false;
    while (*end == ' ')
        end++;
    if (*end) return false;
    if (!isfinite(d) || d < 0) return false;
    *v = d;
    return true;
}

/* Parses one complete line (no newline) in place. */
static void smi_parse_line(smi_state *s, char *line, int64_t now_ns)
{
    char *f[SMI_NFIELDS + 1];
    int n = 0;
    for (char *p = line; n <= SMI_NFIELDS;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    double idx;
    smi_gpu *g;
    if (n != SMI_NFIELDS || !smi_number(f[1], &idx) || idx != floor(idx) || idx > 1000 ||
        !(g = smi_find(s, (long)idx))) {
        if (line[strspn(line, " \r")]) s->bad_lines++;
        return;
    }
    for (int i = 0; i < SMI_NVAL; i++) {
        char *r = strchr(f[2 + i], '\r');
        if (r) *r = 0;
        g->have[i] = smi_number(f[2 + i], &g->val[i]);
        if (g->have[i]) g->val[i] *= smi_vals[i].scale;
    }
    g->seen_ns = now_ns;
}

/* Appends bytes to the line buffer, parsing each complete line. A line longer
 * than the buffer is dropped up to its newline. */
static void smi_feed(smi_state *s, const char *buf, size_t n, int64_t now_ns)
{
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n') {
            s->line[s->len] = 0;
            if (!s->skipping) smi_parse_line(s, s->line, now_ns);
            s->len = 0;
            s->skipping = false;
        } else if (s->skipping) {
            continue;
        } else if (s->len + 1 < sizeof s->line && c != 0) {
            s->line[s->len++] = c;
        } else {
            s->skipping = true;
            s->bad_lines++;
            s->len = 0;
        }
    }
}

/* Reads whatever the child has written; never blocks. */
static void smi_drain(smi_state *s, int64_t now_ns)
{
    while (!s->eof) {
        ssize_t n = read(s->fd, s->rbuf, sizeof s->rbuf);
        if (n > 0) {
            smi_feed(s, s->rbuf, (size_t)n, now_ns);
        } else if (n == 0) {
            s->eof = true;
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) s->eof = true;
            return;
        }
    }
}

static bool smi_all_seen(const smi_state *s)
{
    for (int i = 0; i < s->ngpu; i++)
        if (!s->gpu[i].seen_ns) return false;
    return true;
}

static void smi_wait_first_batch(smi_state *s)
{
    int64_t deadline = jb_mono_ns() + SMI_FIRST_BATCH_NS;
    while (!s->eof && !smi_all_seen(s)) {
        int64_t left = deadline - jb_mono_ns();
        if (left <= 0) return;
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left / 1000000) + 1) < 0 && errno != EINTR) return;
        smi_drain(s, jb_mono_ns());
    }
}

/* Enumerates the GPUs; -1 with err (the tool's own first line) on failure. */
static int smi_enumerate(smi_state *s, const char *exe, jb_err *err)
{
    char out[8192];
    int st = smi_run_capture(exe, out, sizeof out, err);
    if (st < 0) return -1;
    if (st == 0) smi_parse_list(s, out);
    if (st == 0 && s->ngpu > 0) return 0;
    size_t n = strcspn(out, "\n");
    if (st == 127 || st == 126)
        return jb_errf(err,
                       "%s: cannot execute (exit %d); install the NVIDIA driver utilities "
                       "or set nvidia-smi.path=PATH",
                       exe, st);
    return jb_errf(err, "%s --query-gpu=index,name: %s%.*s (exit %d); check the NVIDIA driver", exe,
                   st == 0 ? "no GPU listed" : "", (int)(n < 300 ? n : 300), st == 0 ? "" : out,
                   st);
}

static void smi_add_channels(const smi_state *s, jb_channel_list *ch)
{
    for (int g = 0; g < s->ngpu; g++)
        for (int v = 0; v < SMI_NVAL; v++) {
            char name[64];
            snprintf(name, sizeof name, "nvidia-smi/%d/%s", s->gpu[g].index, smi_vals[v].leaf);
            int i = jb_channel_add(ch, name, smi_vals[v].unit, smi_vals[v].kind,
                                   v == 0 ? JB_ROLE_TOTAL : JB_ROLE_NONE, false);
            if (i < 0 || v != 0) continue;
            char nm[64];
            size_t o = 0;
            for (const char *p = s->gpu[g].name; *p && o + 1 < sizeof nm; p++)
                if ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\') nm[o++] = *p;
            nm[o] = 0;
            /* power.draw is a 1 s average on Ampere and later. */
            snprintf(ch->ch[i].meta, sizeof ch->ch[i].meta,
                     "{\"method\":\"power-integrated\",\"min_window_ms\":%d,\"gpu\":\"%s\","
                     "\"lms\":%d}",
                     s->lms > 1000 ? s->lms : 1000, nm, s->lms);
        }
}

static int smi_interval_ms(const jb_source_env *env)
{
    const char *o = jb_source_opt_get(env, "nvidia-smi", "interval_ms");
    long ms = o ? strtol(o, NULL, 10) : (long)(env->interval_ns / 1000000);
    if (o) return ms < 10 ? 10 : (int)(ms > 60000 ? 60000 : ms);
    return ms < 100 ? 100 : (int)(ms > 60000 ? 60000 : ms);
}

static int smi_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    smi_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "nvidia-smi: out of memory");
    s->fd = -1;
    const char *exe = smi_exe(env);
    if (smi_enumerate(s, exe, err) < 0) {
        free(s);
        return -1;
    }
    if (ch->n + s->ngpu * SMI_NVAL > JB_MAX_CHANNELS) {
        free(s);
        return jb_errf(err, "nvidia-smi: too many channels (limit %d)", JB_MAX_CHANNELS);
    }
    s->lms = smi_interval_ms(env);
    s->stale_ns = 5LL * s->lms * 1000000 + 1000000000LL;
    char lms[16];
    snprintf(lms, sizeof lms, "%d", s->lms);
    char *argv[] = {(char *)exe, (char *)smi_query, "--format=csv,noheader,nounits", "-lms", lms,
                    NULL};
    int rc = smi_spawn(argv, &s->pid, &s->fd);
    if (rc) {
        free(s);
        return jb_errf(err, "%s: cannot start: %s", exe, strerror(rc));
    }
    smi_wait_first_batch(s);
    smi_add_channels(s, ch);
    *state = s;
    return 0;
}

static int smi_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    smi_state *s = state;
    smi_drain(s, now_ns);
    int k = 0, good = 0;
    for (int g = 0; g < s->ngpu; g++) {
        const smi_gpu *gp = &s->gpu[g];
        bool fresh = !s->eof && gp->seen_ns && now_ns - gp->seen_ns <= s->stale_ns;
        for (int v = 0; v < SMI_NVAL; v++, k++) {
            ok[k] = fresh && gp->have[v];
            values[k] = ok[k] ? gp->val[v] : 0;
            good += ok[k];
        }
    }
    return good ? 0 : -1;
}

static void smi_close(void *state)
{
    smi_state *s = state;
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    smi_stop(s->pid);
    free(s);
}

static void smi_host_info(void *state, jb_buf *out)
{
    smi_state *s = state;
    for (int i = 0; i < s->ngpu; i++)
        jb_buf_printf(out, "gpu%d.name=%s\n", s->gpu[i].index, s->gpu[i].name);
}

static int smi_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    smi_state *s = calloc(1, sizeof *s);
    if (!s) return 0;
    jb_err err = {{0}};
    const char *exe = smi_exe(env);
    int rc = smi_enumerate(s, exe, &err);
    free(s);
    if (rc == 0) return 1;
    snprintf(reason, rcap, "%s", err.msg);
    if (strstr(err.msg, "No such file") || strstr(err.msg, "cannot execute"))
        snprintf(fix, fcap,
                 "install the NVIDIA driver utilities (nvidia-smi), or set "
                 "nvidia-smi.path=PATH or JOULEBENCH_NVIDIA_SMI");
    else
        snprintf(fix, fcap,
                 "run nvidia-smi by hand: the driver must be loaded and match "
                 "its utilities (reboot after a driver upgrade)");
    return 0;
}

const jb_source_driver jb_src_nvsmi = {
    .name = "nvidia-smi",
    .description = "NVIDIA GPU power and usage from a streaming nvidia-smi child (when NVML "
                   "cannot be loaded, or to compare)",
    .is_power = true,
    .in_default = true, /* auto takes it only when nvml (same family) is unusable */
    .scope = JB_SCOPE_COMPONENT,
    .family = "gpu",
    .probe = smi_probe,
    .open = smi_open,
    .read = smi_read,
    .close = smi_close,
    .host_info = smi_host_info,
};
