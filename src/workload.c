/*
 * workload.c — fork/execvp of the measured command, waiting with pidfd +
 * poll (so a timeout and signals interrupt the wait), stderr tail capture.
 */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_signal;
static volatile pid_t g_current;
static volatile sig_atomic_t g_group;

static void on_signal(int sig)
{
    g_signal = sig;
    pid_t p = g_current;
    if (p > 0) kill(g_group ? -p : p, sig);
}

void jb_workload_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void jb_workload_set_current(pid_t pid, bool group)
{
    g_group = group;
    g_current = pid;
}

int jb_workload_interrupted(void)
{
    return g_signal;
}
void jb_workload_reset_interrupt(void)
{
    g_signal = 0;
}

static void *stderr_pump(void *arg)
{
    jb_workload *w = arg;
    char buf[4096];
    ssize_t n;
    for (;;) {
        /* Stop once the workload is reaped and nothing more is readable: a
         * grandchild that keeps stderr open must not hang the recorder. */
        struct pollfd p = {.fd = w->err_fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r == 0) {
            if (w->err_stop) break;
            continue;
        }
        n = read(w->err_fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        ssize_t off = 0;
        while (off < n) { /* pass through */
            ssize_t k = write(STDERR_FILENO, buf + off, (size_t)(n - off));
            if (k <= 0) break;
            off += k;
        }
        size_t cap = sizeof w->tail - 1;
        if ((size_t)n >= cap) {
            memcpy(w->tail, buf + n - (ssize_t)cap, cap);
            w->tail_len = cap;
        } else {
            if (w->tail_len + (size_t)n > cap) {
                size_t drop = w->tail_len + (size_t)n - cap;
                memmove(w->tail, w->tail + drop, w->tail_len - drop);
                w->tail_len -= drop;
            }
            memcpy(w->tail + w->tail_len, buf, (size_t)n);
            w->tail_len += (size_t)n;
        }
        w->tail[w->tail_len] = 0;
    }
    return NULL;
}

static void child_exec(const jb_workload_opts *o, int status_fd, int err_w)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (o->new_process_group) setpgid(0, 0);
    if (o->stdout_to_stderr) dup2(STDERR_FILENO, STDOUT_FILENO); /* before stderr is captured */
    if (err_w >= 0) {
        dup2(err_w, STDERR_FILENO);
        close(err_w);
    }
    for (char *const *e = o->env_add; e && *e; e++)
        putenv(*e);
    if (o->cwd && chdir(o->cwd) != 0) {
        int e = errno;
        if (write(status_fd, &e, sizeof e) < 0) {
        }
        _exit(126);
    }
    execvp(o->argv[0], o->argv);
    int e = errno;
    if (write(status_fd, &e, sizeof e) < 0) {
    }
    _exit(e == ENOENT ? 127 : 126);
}

int jb_workload_spawn(jb_workload *w, const jb_workload_opts *o, jb_err *err)
{
    memset(w, 0, sizeof *w);
    w->pidfd = -1;
    w->err_fd = -1;
    int st[2], errp[2] = {-1, -1};
    if (pipe2(st, O_CLOEXEC)) return jb_errf(err, "pipe: %s", strerror(errno));
    if (o->capture_stderr_tail && pipe2(errp, O_CLOEXEC)) {
        close(st[0]);
        close(st[1]);
        return jb_errf(err, "pipe: %s", strerror(errno));
    }
    w->start_mono = jb_mono_ns();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(st[0]);
        close(st[1]);
        if (errp[0] >= 0) close(errp[0]), close(errp[1]);
        return jb_errf(err, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(st[0]);
        if (errp[0] >= 0) close(errp[0]);
        child_exec(o, st[1], errp[1]);
    }
    w->pid = pid;
    if (o->new_process_group) setpgid(pid, pid);
    jb_workload_set_current(pid, o->new_process_group);
    close(st[1]);
    int e = 0;
    ssize_t n;
    while ((n = read(st[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(st[0]);
    if (n == (ssize_t)sizeof e) {
        w->exec_failed = true;
        w->exec_errno = e;
    }
    if (errp[0] >= 0) {
        close(errp[1]);
        w->err_fd = errp[0];
        w->err_thr_on = pthread_create(&w->err_thr, NULL, stderr_pump, w) == 0;
    }
    w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return 0;
}

/* Has it exited? Leaves it a zombie (WNOWAIT); fills si when it has. */
static bool peek_exit(const jb_workload *w, siginfo_t *si)
{
    memset(si, 0, sizeof *si);
    return w->pid > 0 && waitid(P_PID, (id_t)w->pid, si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si->si_pid == w->pid;
}

bool jb_workload_has_exited(const jb_workload *w)
{
    siginfo_t si;
    return peek_exit(w, &si);
}

static int exited(jb_workload *w)
{
    siginfo_t si;
    if (!peek_exit(w, &si)) return 0;
    w->end_mono = jb_mono_ns();
    if (si.si_code == CLD_EXITED) {
        w->exit_code = si.si_status;
    } else {
        w->term_signal = si.si_status;
        w->exit_code = 128 + si.si_status;
    }
    return 1;
}

static void kill_tree(jb_workload *w, int sig)
{
    if (kill(-w->pid, sig) != 0) kill(w->pid, sig);
}

int jb_workload_wait(jb_workload *w, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns > 0 ? jb_mono_ns() + timeout_ns : 0;
    int64_t kill_at = 0;
    for (;;) {
        if (exited(w)) break;
        int64_t now = jb_mono_ns();
        if (deadline && now >= deadline && !w->timed_out) {
            w->timed_out = true;
            kill_tree(w, SIGTERM);
            kill_at = now + 2000000000LL;
        }
        if (kill_at && now >= kill_at) {
            kill_tree(w, SIGKILL);
            kill_at = 0;
        }
        /* No deadline: sleep until the pidfd says the workload exited (a
         * forwarded signal ends it or not; nothing here needs waking). */
        int wait_ms = -1;
        int64_t next = kill_at ? kill_at : (w->timed_out ? 0 : deadline);
        if (next) {
            int64_t ms = (next - now) / 1000000 + 1;
            wait_ms = ms < 1 ? 1 : ms < 1000 ? (int)ms : 1000;
        }
        if (w->pidfd >= 0) {
            struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
            poll(&p, 1, wait_ms);
        } else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    jb_workload_set_current(0, false);
    return w->timed_out ? 1 : 0;
}

void jb_workload_reap(jb_workload *w)
{
    int status;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (w->pidfd >= 0) close(w->pidfd);
    w->pidfd = -1;
    if (w->err_thr_on) {
        w->err_stop = 1;
        pthread_join(w->err_thr, NULL);
        w->err_thr_on = false;
    }
    if (w->err_fd >= 0) close(w->err_fd);
    w->err_fd = -1;
}
