/*
 * measure.h — one measured run of one command: open sources, start the
 * recorder (markers), sample, run the command, stop, mark the run. Used by
 * `joulebench measure` and by the experiment runner, which calls it once per
 * run. Also the per-action attribution printed by measure (actions.h gives
 * the pairing; energy comes from analysis.h).
 */
#ifndef JB_MEASURE_H
#define JB_MEASURE_H

#include <json-c/json.h>
#include <stdio.h>

#include "actions.h"
#include "analysis.h"
#include "meter.h"
#include "store.h"

typedef struct jb_measure_opts {
    char **argv;
    int64_t interval_ns;
    const char *sources, *root, *store_path, *json_path, *csv_path, *name;
    jb_source_opt opts[64];
    int nopts;
    bool no_store, quiet, per_index;
} jb_measure_opts;

typedef struct jb_measure_result {
    jb_store store;
    char store_path[1024];
    char tmpdir[256]; /* --no-store: removed by jb_measure_finish */
    int64_t run_id;
    int exit_code;
    bool exec_failed;
    int exec_errno;
    int interrupted; /* signal number */
} jb_measure_result;

/* One run of an experiment or of `measure`, on an open store and meter. */
typedef struct jb_run_spec {
    jb_run_info info;     /* experiment, variant, phase, rep, seq, interval */
    char *const *argv;    /* NULL: baseline, nothing runs for window_ns */
    char *const *env_add; /* extra "K=V" entries (seed, …), NULL-terminated */
    const char *cwd;
    int64_t timeout_ns;       /* scenario: stop the command after this (0 = none) */
    int64_t window_ns;        /* baseline duration; with argv: idle window */
    int64_t ready_delay_ns;   /* idle: wait this long after the start before the window */
    const char *ready_marker; /* idle: or until the command sends event marker NAME */
    int64_t ready_timeout_ns; /* ... giving up after this (0: 10 min); then the run fails */
    bool capture_stderr;      /* keep the tail of stderr in run.stderr_tail */
    bool new_process_group;   /* so a timeout or stop reaches the whole tree */
    bool stdout_to_stderr;    /* the command's stdout to stderr: `--json -` owns stdout */
} jb_run_spec;

typedef struct jb_run_result {
    int64_t run_id;
    int exit_code;
    bool exec_failed, timed_out;
    int exec_errno;
    int interrupted; /* signal number */
    char status[16]; /* ok | failed | aborted */
    char note[256];
    char stderr_tail[4096];
    jb_quality q;
} jb_run_result;

/* Record one run: a run row, channels, samples, markers, final status.
 * Signals (SIGINT/SIGTERM) are forwarded to the command and end the run as
 * aborted. -1 with err only when measuring could not start. The caller
 * resets jb_workload_reset_interrupt() when it wants to go on after one. */
int jb_run_one(jb_store *st, jb_meter *m, const jb_run_spec *rs, jb_run_result *out, jb_err *err);

/* Run o->argv under measurement. Returns 0 when the run was recorded (see
 * res for the command's fate), -1 with err when measuring could not start. */
int jb_measure_run(const jb_measure_opts *o, jb_measure_result *res, jb_err *err);
/* Close the store (and remove a --no-store temporary). */
void jb_measure_finish(const jb_measure_opts *o, jb_measure_result *res);

/* Per-action attribution of one run. */
typedef struct jb_action_row {
    char path[160]; /* "epoch > train" */
    char name[68];
    int depth;
    int count;
    bool has_index;
    int64_t index_min, index_max;
    double duration_s, energy_j, cpu_pct;
    bool estimated;
    int open_at_end; /* how many were closed at the run end */
    int64_t first_begin;
} jb_action_row;

typedef struct jb_index_row {
    char name[68];
    char path[160];
    int64_t index;
    int depth;
    double duration_s, energy_j, cumulative_j; /* cumulative: run start to its end */
    int action;                                /* into actions.actions */
} jb_index_row;

typedef struct jb_actions_report {
    jb_actions actions;
    jb_action_row *rows;
    size_t nrows;
    jb_index_row *idx;
    size_t nidx;
    double run_energy_j;
    bool estimated, has_energy;
    int cores;
    double min_window_s; /* meter update period; shorter actions are flagged */
    uint64_t bad_markers;
    char bad_examples[3][128];
} jb_actions_report;

/* NULL when the run has no markers (nothing to print). */
jb_actions_report *jb_measure_actions(jb_store *st, const jb_run_summary *rs, jb_err *err);
void jb_measure_print_actions(FILE *f, const jb_actions_report *ar, bool per_index);
json_object *jb_measure_actions_json(const jb_actions_report *ar);
void jb_measure_actions_csv(FILE *f, const jb_actions_report *ar);
void jb_measure_actions_free(jb_actions_report *ar);

/* Read a run's markers from the store (sorted by time). */
int jb_load_markers(jb_store *st, int64_t run_id, jb_marker **out, size_t *n, jb_err *err);

#endif
