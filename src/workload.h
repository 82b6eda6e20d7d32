/*
 * workload.h — starting the measured command and waiting for it: execvp on
 * an argv (never a shell string), extra environment, working directory,
 * optional capture of the tail of its stderr (still passed through), a
 * timeout, and signal forwarding. The wait stops at the exit but leaves the
 * process a zombie (waitid WNOWAIT) so the closing sample still sees its
 * whole process tree; jb_workload_reap() then collects it.
 */
#ifndef JB_WORKLOAD_H
#define JB_WORKLOAD_H

#include <pthread.h>
#include <signal.h>

#include "jb.h"

typedef struct jb_workload {
    pid_t pid;
    int pidfd;
    int64_t start_mono, end_mono;
    int exit_code;    /* exit status, or 128+signal */
    int term_signal;  /* 0 if it exited */
    bool exec_failed; /* execvp failed: exit_code is 127 (not found) or 126 */
    int exec_errno;
    bool timed_out;
    /* stderr tail */
    int err_fd;
    pthread_t err_thr;
    bool err_thr_on;
    volatile int err_stop;
    char tail[4096];
    size_t tail_len;
} jb_workload;

typedef struct jb_workload_opts {
    char *const *argv;
    char *const *env_add; /* "KEY=VALUE" entries, NULL-terminated, or NULL */
    const char *cwd;      /* or NULL */
    bool capture_stderr_tail;
    bool new_process_group; /* so a timeout can kill the whole tree */
    bool stdout_to_stderr;  /* CMD's stdout goes to our stderr (our stdout carries data) */
} jb_workload_opts;

/* Fork and exec. Returns 0 when the process started (check exec_failed after
 * jb_workload_wait), -1 with err when fork itself failed. Call
 * jb_workload_install_signals() first to forward SIGINT/SIGTERM. */
int jb_workload_spawn(jb_workload *w, const jb_workload_opts *o, jb_err *err);

/* Wait for the exit (timeout_ns 0 = none). Returns 0 when it exited, 1 on
 * timeout (the process is then killed: SIGTERM, 2 s grace, SIGKILL, and
 * waited for). The process is left a zombie until jb_workload_reap(). */
int jb_workload_wait(jb_workload *w, int64_t timeout_ns);
void jb_workload_reap(jb_workload *w);
/* True once the process has exited (it stays a zombie: nothing is collected). */
bool jb_workload_has_exited(const jb_workload *w);

/* SIGINT/SIGTERM/SIGHUP are forwarded to the current workload and remembered. */
void jb_workload_install_signals(void);
void jb_workload_set_current(pid_t pid, bool group);
/* The signal received (0 if none) since the last reset. */
int jb_workload_interrupted(void);
void jb_workload_reset_interrupt(void);

#endif
