/*
 * controls.h — reproducibility controls the experiment runner applies before
 * each run, and the system snapshot it records with each run.
 *
 * Every control reports what it did as a small JSON object
 * ({"status": "applied" | "skipped" | "failed" | "warning" | "off", ...,
 * "reason": "..."}) that experiment.c gathers into run.controls. The system
 * snapshot goes into run.snapshot. Everything read from /proc and /sys goes
 * through a root directory (jb_default_root(): --root / JOULEBENCH_ROOT), so
 * tests run the real code on fake trees.
 *
 *  - seed: JOULEBENCH_SEED, PYTHONHASHSEED, TF_DETERMINISTIC_OPS=1,
 *    CUBLAS_WORKSPACE_CONFIG=:4096:8 for the command's environment;
 *  - drop_caches: sync, then "3" into /proc/sys/vm/drop_caches (root only);
 *  - reset: a command run before each run (its failure is recorded);
 *  - quiet: wait until system CPU, less joulebench's own, stays below a
 *    threshold for a window; on timeout name the busiest processes;
 *  - GPU memory: through NVML (dlopen), memory back to the experiment's
 *    starting level and no foreign compute processes;
 *  - snapshot: governor, turbo, SMT, swap used, load average, top processes.
 * The cooldown needs the meter and lives in experiment.c.
 */
#ifndef JB_CONTROLS_H
#define JB_CONTROLS_H

#include <json-c/json.h>
#include <sys/types.h>

#include "jb.h"

/* A control's record: {"status": status, "reason": reason} (reason omitted
 * when NULL). The caller adds further fields. */
json_object *jb_control_new(const char *status, const char *reason);

/* A JSON number written with `digits` significant digits ("69.3", not
 * 69.299999999999997). */
json_object *jb_json_num(double v, int digits);

/* ---- seed ---- */

#define JB_SEED_ENV_N 4
typedef struct jb_seed_env {
    char text[JB_SEED_ENV_N][64];
    char *env[JB_SEED_ENV_N + 1]; /* NULL-terminated "K=V" list */
} jb_seed_env;

/* Fill the seed variables for seed. */
void jb_seed_env_make(jb_seed_env *e, uint64_t seed);

/* ---- drop caches ---- */

/* sync(), then write "3" to ROOT/proc/sys/vm/drop_caches. Needs euid 0;
 * otherwise returns a "skipped: not root" record. Never fails the caller. */
json_object *jb_drop_caches(const char *root);

/* ---- reset command ---- */

/* Run argv to completion (stdout/stderr passed through, the tail of stderr
 * kept) with a timeout (0 = none). Record: applied with exit 0, or failed
 * with the exit status and the stderr tail. *ok tells which. */
json_object *jb_reset_run(char *const *argv, int64_t timeout_ns, bool *ok);

/* ---- CPU load and processes ---- */

typedef struct jb_cpu_load {
    unsigned long long busy, total; /* ticks summed over all CPUs */
} jb_cpu_load;

/* The aggregate "cpu" line of ROOT/proc/stat. busy excludes idle and iowait;
 * total excludes guest time (already inside user). */
int jb_cpu_times_read(const char *root, jb_cpu_load *t);

/* utime+stime of ROOT/proc/PID/stat in ticks (all threads); 0 if unreadable. */
unsigned long long jb_proc_ticks(const char *root, pid_t pid);

/* System CPU % of all cores between a and b, less self_ticks (joulebench's
 * own CPU time over the same span). Clamped to 0..100; NAN when no time passed. */
double jb_cpu_busy_pct(const jb_cpu_load *a, const jb_cpu_load *b, unsigned long long self_ticks);

typedef struct jb_proc_entry {
    pid_t pid;
    char comm[32];
    unsigned long long ticks;      /* utime+stime */
    unsigned long long start_tick; /* starttime, ticks after boot */
} jb_proc_entry;

typedef struct jb_proc_table {
    jb_proc_entry *e;
    size_t n;
    int64_t mono_ns; /* when it was read */
} jb_proc_table;

/* Every process under ROOT/proc (free with jb_proc_table_free). */
int jb_proc_table_read(const char *root, jb_proc_table *t);
void jb_proc_table_free(jb_proc_table *t);

typedef struct jb_top_proc {
    pid_t pid;
    char comm[32];
    double cpu_pct; /* % of one core */
} jb_top_proc;

/* The k busiest processes (except skip_pid) by CPU between two tables; with
 * before NULL, by average CPU over each process's lifetime (as ps does), which
 * needs ROOT/proc/uptime. Returns how many were filled. */
size_t jb_top_procs(const char *root, const jb_proc_table *before, const jb_proc_table *after,
                    pid_t skip_pid, jb_top_proc *out, size_t k);

/* ---- quiet system ---- */

typedef struct jb_quiet_opts {
    const char *root;
    double threshold_pct; /* of all cores */
    int64_t window_ns, timeout_ns;
    int64_t poll_ns; /* 0: 250 ms (25 ticks per core: 4 % steps on one core) */
    pid_t self;      /* joulebench's pid, excluded from the load */
} jb_quiet_opts;

typedef struct jb_quiet_result {
    bool quiet, interrupted;
    double last_pct, max_pct;
    int64_t waited_ns;
    jb_top_proc top[5]; /* on timeout: busiest processes while waiting */
    size_t ntop;
} jb_quiet_result;

/* Wait for a quiet system. Returns 0 (see r->quiet), -1 with err when
 * /proc/stat cannot be read. Stops early on SIGINT/SIGTERM (r->interrupted). */
int jb_quiet_wait(const jb_quiet_opts *o, jb_quiet_result *r, jb_err *err);

/* The record of a quiet wait; fail_on_timeout decides "failed" vs "warning". */
json_object *jb_quiet_json(const jb_quiet_opts *o, const jb_quiet_result *r, bool fail_on_timeout);

/* ---- GPU memory (NVML) ---- */

typedef struct jb_gpu_check jb_gpu_check;

/* Load NVML (library: path or NULL for $JOULEBENCH_NVML_LIB or the default
 * libnvidia-ml.so.1) and remember each GPU's memory in use now as the
 * baseline. NULL with *why filled when NVML is not available. */
jb_gpu_check *jb_gpu_check_open(const char *library, char *why, size_t cap);
/* Wait (up to max_wait_ns) until every GPU's memory is back within
 * tolerance_b of the baseline, and count foreign compute processes. */
json_object *jb_gpu_check_run(jb_gpu_check *g, int64_t max_wait_ns, unsigned long long tolerance_b);
void jb_gpu_check_close(jb_gpu_check *g);

/* ---- snapshot ---- */

/* The system snapshot as JSON: governor, turbo, smt, swap_used_bytes,
 * loadavg [1, 5, 15 min], top (5 processes by lifetime CPU). Values that
 * cannot be read are null. */
json_object *jb_snapshot(const char *root, pid_t self);

/* Interruptible sleep (returns early on SIGINT/SIGTERM; true if interrupted). */
bool jb_sleep_interruptible(int64_t ns);

#endif
