/*
 * process.c — the workload's whole process tree while children come and go:
 * CPU time (s, counter), summed RSS (B, gauge), bytes read and written from
 * /proc/PID/io (counters) and the number of live processes.
 *
 * How the tree stays complete: the recorder is a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so orphans are re-parented to it, not to init.
 * The tree is walked from the workload through /proc/PID/task/TID/children.
 * A process's stat includes cutime/cstime and its io includes what its reaped
 * children did, so tree total = Σ live (own + reaped children) + what we
 * remembered of processes the recorder itself reaped (the workload and
 * orphans). The last sample of a run is taken while the workload is still a
 * zombie (waitid WNOWAIT), so nothing it did is missed.
 *
 * read() allocates nothing: directories are listed with getdents64 into a
 * fixed buffer.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROC_MAX 2048

typedef struct proc_entry {
    pid_t pid, ppid;
    double cpu_s;                  /* utime+stime+cutime+cstime */
    unsigned long long rd, wr;     /* read_bytes, write_bytes (incl. reaped children) */
    unsigned long long rss;        /* bytes */
    bool live;
} proc_entry;

typedef struct proc_state {
    const char *root;
    pid_t self, target;
    double tick_s;
    long page;
    proc_entry e[PROC_MAX];
    int n;
    double dead_cpu;
    unsigned long long dead_rd, dead_wr;
    pid_t queue[PROC_MAX];
    char buf[8192];
    char dents[16384];
} proc_state;

static ssize_t read_rel(proc_state *s, const char *rel, char *buf, size_t cap)
{
    char full[512];
    jb_path(full, sizeof full, s->root, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = jb_src_pread_all(fd, buf, cap);
    close(fd);
    return n;
}

static proc_entry *find_entry(proc_state *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->e[i].pid == pid) return &s->e[i];
    return NULL;
}

/* Parse /proc/PID/stat after the last ')': state ppid … utime(14) stime cutime cstime. */
static int read_stat(proc_state *s, pid_t pid, proc_entry *e)
{
    char rel[64];
    snprintf(rel, sizeof rel, "/proc/%d/stat", (int)pid);
    if (read_rel(s, rel, s->buf, sizeof s->buf) <= 0) return -1;
    const char *p = strrchr(s->buf, ')');
    if (!p) return -1;
    p += 2;     /* ") " */
    p += 2;     /* state + space */
    e->ppid = (pid_t)jb_parse_ull(&p);
    for (int field = 5; field < 14; field++) { /* pgrp … majflt/cmajflt */
        if (*p == '-') p++;
        jb_parse_ull(&p);
    }
    unsigned long long t = jb_parse_ull(&p);
    t += jb_parse_ull(&p);
    t += jb_parse_ull(&p);
    t += jb_parse_ull(&p);
    e->cpu_s = (double)t * s->tick_s;
    return 0;
}

static void read_io_rss(proc_state *s, pid_t pid, proc_entry *e)
{
    char rel[64];
    snprintf(rel, sizeof rel, "/proc/%d/io", (int)pid);
    if (read_rel(s, rel, s->buf, sizeof s->buf) > 0) {
        for (const char *p = s->buf; *p; p = jb_next_line(p)) {
            if (!strncmp(p, "read_bytes:", 11)) {
                const char *q = p + 11;
                e->rd = jb_parse_ull(&q);
            } else if (!strncmp(p, "write_bytes:", 12)) {
                const char *q = p + 12;
                e->wr = jb_parse_ull(&q);
            }
        }
    } /* unreadable io (setuid child): keep the last values */
    snprintf(rel, sizeof rel, "/proc/%d/statm", (int)pid);
    e->rss = 0;
    if (read_rel(s, rel, s->buf, sizeof s->buf) > 0) {
        const char *p = s->buf;
        jb_parse_ull(&p);
        e->rss = jb_parse_ull(&p) * (unsigned long long)s->page;
    }
}

/* Append the children of every thread of pid to the queue. */
static void add_children(proc_state *s, pid_t pid, int *qn)
{
    char rel[64], full[512];
    snprintf(rel, sizeof rel, "/proc/%d/task", (int)pid);
    jb_path(full, sizeof full, s->root, rel);
    int dfd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    long nread;
    while ((nread = syscall(SYS_getdents64, dfd, s->dents, sizeof s->dents)) > 0) {
        for (long off = 0; off < nread;) {
            struct dirent64 *d = (struct dirent64 *)(s->dents + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
            char crel[128];
            snprintf(crel, sizeof crel, "/proc/%d/task/%s/children", (int)pid, d->d_name);
            if (read_rel(s, crel, s->buf, sizeof s->buf) <= 0) continue;
            for (const char *p = s->buf; *p >= '0' && *p <= '9' && *qn < PROC_MAX;)
                s->queue[(*qn)++] = (pid_t)jb_parse_ull(&p);
        }
    }
    close(dfd);
}

static proc_entry *touch_entry(proc_state *s, pid_t pid)
{
    proc_entry *e = find_entry(s, pid);
    if (!e && s->n < PROC_MAX) {
        e = &s->e[s->n++];
        memset(e, 0, sizeof *e);
        e->pid = pid;
    }
    return e;
}

/* Walk the tree: the target, and orphans re-parented to us that we knew. */
static int walk(proc_state *s)
{
    int qn = 0, qi = 0;
    for (int i = 0; i < s->n; i++) s->e[i].live = false;
    if (s->target > 0) s->queue[qn++] = s->target;
    int first_orphan = qn;
    add_children(s, s->self, &qn);
    /* keep only known, non-target children of self (orphans of the tree) */
    int keep = first_orphan;
    for (int i = first_orphan; i < qn; i++)
        if (s->queue[i] != s->target && find_entry(s, s->queue[i])) s->queue[keep++] = s->queue[i];
    qn = keep;
    int live = 0;
    while (qi < qn) {
        pid_t pid = s->queue[qi++];
        proc_entry *e = touch_entry(s, pid);
        if (!e || e->live) continue;
        proc_entry fresh = *e;
        if (read_stat(s, pid, &fresh)) continue;
        read_io_rss(s, pid, &fresh);
        fresh.live = true;
        *e = fresh;
        live++;
        add_children(s, pid, &qn);
    }
    return live;
}

/* Processes gone since the last walk: if the recorder reaped them (their
 * parent was us), keep what they did; else their parent's totals have it. */
static void settle_dead(proc_state *s)
{
    int w = 0;
    for (int i = 0; i < s->n; i++) {
        proc_entry *e = &s->e[i];
        if (!e->live) {
            if (e->ppid == s->self || e->pid == s->target) {
                s->dead_cpu += e->cpu_s;
                s->dead_rd += e->rd;
                s->dead_wr += e->wr;
            }
            continue;
        }
        s->e[w++] = *e;
    }
    s->n = w;
}

static int proc_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix,
                      size_t fcap)
{
    char buf[512], rel[64];
    snprintf(rel, sizeof rel, "/proc/%d/stat", (int)(env->self_pid ? env->self_pid : getpid()));
    if (jb_read_file(env->root, rel, buf, sizeof buf) < 0) {
        jb_src_explain_access(rel, errno, reason, rcap, fix, fcap);
        return 0;
    }
    return 1;
}

static int proc_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    proc_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "process: out of memory");
    s->root = env->root;
    s->self = env->self_pid ? env->self_pid : getpid();
    s->target = env->target_pid;
    s->tick_s = 1.0 / (double)sysconf(_SC_CLK_TCK);
    s->page = sysconf(_SC_PAGESIZE);
    jb_channel_add(ch, "process/cpu_time", "s", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    jb_channel_add(ch, "process/rss", "B", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "process/read", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    jb_channel_add(ch, "process/written", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    jb_channel_add(ch, "process/count", "", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    *state = s;
    return 0;
}

static int proc_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    proc_state *s = state;
    (void)now_ns;
    int live = s->target > 0 ? walk(s) : 0;
    settle_dead(s);
    double cpu = s->dead_cpu, rss = 0;
    unsigned long long rd = s->dead_rd, wr = s->dead_wr;
    for (int i = 0; i < s->n; i++)
        if (s->e[i].live) {
            cpu += s->e[i].cpu_s;
            rss += (double)s->e[i].rss;
            rd += s->e[i].rd;
            wr += s->e[i].wr;
        }
    v[0] = cpu;
    v[1] = rss;
    v[2] = (double)rd;
    v[3] = (double)wr;
    v[4] = live;
    memset(ok, 1, 5);
    return 0;
}

static void proc_set_target(void *state, pid_t pid) { ((proc_state *)state)->target = pid; }

static void proc_close(void *state) { free(state); }

const jb_source_driver jb_src_process = {
    .name = "process",
    .description = "the workload's process tree: CPU time, RSS, bytes read/written",
    .in_default = true,
    .probe = proc_probe,
    .open = proc_open,
    .read = proc_read,
    .close = proc_close,
    .set_target = proc_set_target,
};
