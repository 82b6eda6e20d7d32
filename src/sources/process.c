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
 * Cost per sample (bench/overhead): each tracked process keeps its stat, io,
 * statm and children files open and re-reads them with pread, so a sample
 * costs reads, not path lookups. A kept descriptor can never show another
 * process that reuses the pid: once the process is reaped, reads answer
 * ESRCH and the entry is dropped. Orphans re-parented to the recorder are
 * found among the processes already known (alive, parent now us) instead of
 * scanning the recorder's own threads every sample. Only the children of a
 * multi-threaded process need a directory scan (one children file per
 * thread). Descriptors are capped (PROC_FD_BUDGET); beyond it files are
 * opened per read as before.
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

#include <sys/stat.h>

#define PROC_MAX 2048
#define PROC_FD_BUDGET 400 /* kept descriptors in all, well under a 1024 soft limit */

typedef struct proc_entry {
    pid_t pid, ppid;
    double cpu_s;              /* utime+stime+cutime+cstime */
    unsigned long long rd, wr; /* read_bytes, write_bytes (incl. reaped children) */
    unsigned long long rss;    /* bytes */
    long nthreads;
    int fd_stat, fd_io, fd_statm, fd_children; /* kept open, -1 if not */
    bool live;
} proc_entry;

typedef struct proc_state {
    const char *root;
    bool fake_root; /* not "/": files may be replaced under open descriptors */
    int nfds;       /* descriptors kept open by entries */
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

/* A kept descriptor is stale when reads fail (the process was reaped: ESRCH)
 * or, in a fake tree, when its file was removed or replaced. */
static bool stale(const proc_state *s, int fd, ssize_t n)
{
    if (n < 0) return true;
    struct stat st;
    return s->fake_root && (fstat(fd, &st) || st.st_nlink == 0);
}

static void drop_fd(proc_state *s, int *fd)
{
    if (*fd < 0) return;
    close(*fd);
    *fd = -1;
    s->nfds--;
}

/* Read /proc/PID/NAME through *fd, opening it (and keeping it open while the
 * budget allows) when it is not open yet or has gone stale. */
static ssize_t read_kept(proc_state *s, pid_t pid, const char *name, int *fd, char *buf, size_t cap)
{
    bool children = !strcmp(name, "children"); /* a list, read record by record */
    if (*fd >= 0) {
        ssize_t n = children ? jb_src_pread_all(*fd, buf, cap) : jb_src_pread_whole(*fd, buf, cap);
        if (!stale(s, *fd, n)) return n;
        drop_fd(s, fd);
    }
    char rel[96], full[512];
    if (children) /* the main thread's */
        snprintf(rel, sizeof rel, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    else
        snprintf(rel, sizeof rel, "/proc/%d/%s", (int)pid, name);
    jb_path(full, sizeof full, s->root, rel);
    int f = open(full, O_RDONLY | O_CLOEXEC);
    if (f < 0) return -1;
    ssize_t n = children ? jb_src_pread_all(f, buf, cap) : jb_src_pread_whole(f, buf, cap);
    if (n >= 0 && s->nfds < PROC_FD_BUDGET) {
        *fd = f;
        s->nfds++;
    } else {
        close(f);
    }
    return n;
}

static void close_entry(proc_state *s, proc_entry *e)
{
    drop_fd(s, &e->fd_stat);
    drop_fd(s, &e->fd_io);
    drop_fd(s, &e->fd_statm);
    drop_fd(s, &e->fd_children);
}

static proc_entry *find_entry(proc_state *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->e[i].pid == pid) return &s->e[i];
    return NULL;
}

/* Parse /proc/PID/stat after the last ')': state ppid … utime(14) stime cutime
 * cstime priority nice num_threads(20). */
static int read_stat(proc_state *s, proc_entry *e)
{
    if (read_kept(s, e->pid, "stat", &e->fd_stat, s->buf, sizeof s->buf) <= 0) return -1;
    const char *p = strrchr(s->buf, ')');
    if (!p || strlen(p) < 4) return -1;
    p += 2; /* ") " */
    p += 2; /* state + space */
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
    for (int field = 18; field < 20; field++) { /* priority, nice */
        if (*p == '-') p++;
        jb_parse_ull(&p);
    }
    e->nthreads = (long)jb_parse_ull(&p);
    return 0;
}

static void read_io_rss(proc_state *s, proc_entry *e)
{
    if (read_kept(s, e->pid, "io", &e->fd_io, s->buf, sizeof s->buf) > 0) {
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
    e->rss = 0;
    if (read_kept(s, e->pid, "statm", &e->fd_statm, s->buf, sizeof s->buf) > 0) {
        const char *p = s->buf;
        jb_parse_ull(&p);
        e->rss = jb_parse_ull(&p) * (unsigned long long)s->page;
    }
}

static void queue_pids(proc_state *s, const char *p, int *qn)
{
    while (*p >= '0' && *p <= '9' && *qn < PROC_MAX)
        s->queue[(*qn)++] = (pid_t)jb_parse_ull(&p);
}

/* Append the children of every thread of e to the queue: one kept file for a
 * single-threaded process, else a scan of its task directory. */
static void add_children(proc_state *s, proc_entry *e, int *qn)
{
    char rel[64], full[512];
    if (e->nthreads == 1) {
        if (read_kept(s, e->pid, "children", &e->fd_children, s->buf, sizeof s->buf) > 0)
            queue_pids(s, s->buf, qn);
        return;
    }
    snprintf(rel, sizeof rel, "/proc/%d/task", (int)e->pid);
    jb_path(full, sizeof full, s->root, rel);
    int dfd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    long nread;
    while ((nread = syscall(SYS_getdents64, dfd, s->dents, sizeof s->dents)) > 0) {
        for (long off = 0; off < nread;) {
            struct dirent64 *d = (struct dirent64 *)(s->dents + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
            char crel[300];
            snprintf(crel, sizeof crel, "%s/children", d->d_name);
            int fd = openat(dfd, crel, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            if (jb_src_pread_all(fd, s->buf, sizeof s->buf) > 0) queue_pids(s, s->buf, qn);
            close(fd);
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
        e->fd_stat = e->fd_io = e->fd_statm = e->fd_children = -1;
    }
    return e;
}

/* Visit the queued pids and their descendants; returns how many were live. */
static int visit(proc_state *s, int qn)
{
    int qi = 0, live = 0;
    while (qi < qn) {
        pid_t pid = s->queue[qi++];
        proc_entry *e = touch_entry(s, pid);
        if (!e || e->live) continue;
        if (read_stat(s, e)) continue;
        read_io_rss(s, e);
        e->live = true;
        live++;
        add_children(s, e, &qn);
    }
    return live;
}

/* Walk the tree from the target, then from the known processes it did not
 * reach that are still alive with us as their parent (orphans re-parented to
 * the recorder, a subreaper). */
static int walk(proc_state *s)
{
    int qn = 0;
    for (int i = 0; i < s->n; i++)
        s->e[i].live = false;
    if (s->target > 0) s->queue[qn++] = s->target;
    int live = visit(s, qn);
    qn = 0;
    for (int i = 0; i < s->n && qn < PROC_MAX; i++) {
        proc_entry *e = &s->e[i];
        if (e->live || e->pid == s->target) continue;
        pid_t old_ppid = e->ppid;
        if (read_stat(s, e) == 0 && e->ppid == s->self)
            s->queue[qn++] = e->pid;
        else
            e->ppid = old_ppid; /* keep who reaps it, for settle_dead */
    }
    return live + (qn ? visit(s, qn) : 0);
}

/* Processes gone since the last walk: if the recorder reaped them (their
 * parent was us), keep what they did; else their parent's totals have it. */
static void settle_dead(proc_state *s)
{
    int w = 0;
    for (int i = 0; i < s->n; i++) {
        proc_entry *e = &s->e[i];
        if (!e->live) {
            close_entry(s, e);
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

static int proc_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
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
    s->fake_root = strcmp(env->root, "/") != 0;
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

static void proc_set_target(void *state, pid_t pid)
{
    ((proc_state *)state)->target = pid;
}

static void proc_close(void *state)
{
    proc_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        close_entry(s, &s->e[i]);
    free(s);
}

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
