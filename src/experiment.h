/*
 * experiment.h — the experiment runner behind `joulebench run`: a spec
 * (spec.h) becomes a plan, and every run of the plan is measured with
 * jb_run_one() (measure.h) on one meter and one store, with the
 * reproducibility controls (controls.h) applied before each run and recorded
 * with it.
 *
 * Sequence: load the spec (or, resuming, the spec text stored with the
 * experiment) → open the meter once → open the store, add host and experiment
 * → pilot runs (phase 'pilot', one per variant, when a duration is auto) →
 * every planned run in order: GPU memory check, reset, drop caches, quiet
 * wait, cooldown, snapshot, the run, its controls and snapshot JSON.
 *
 * A run counts as done when its status is ok or failed; resuming redoes the
 * aborted and missing ones, so no run is duplicated or lost. SIGINT/SIGTERM
 * stop the current run (marked aborted), leave the experiment 'aborted' and
 * return with r->interrupted set. Progress goes to o->progress: one updating
 * line on a terminal, one log line per run otherwise.
 */
#ifndef JB_EXPERIMENT_H
#define JB_EXPERIMENT_H

#include <stdio.h>

#include "jb.h"
#include "spec.h"
#include "store.h"

#define JB_DEFAULT_MAX_FAILURES 10

typedef struct jb_experiment_opts {
    const char *spec_path;  /* the spec; with resume optional (checked against the store) */
    const char *store_path; /* -o (NULL: $JOULEBENCH_DB, else ./joulebench.db) */
    bool resume;            /* continue the unfinished experiment in store_path */
    bool dry_run;           /* print the plan, run nothing */
    int max_failures;       /* -1: the spec's, else JB_DEFAULT_MAX_FAILURES */
    const char *root;       /* /proc and /sys root (NULL: jb_default_root()) */
    FILE *progress;         /* NULL: stdout */
    int tty;                /* -1: isatty(progress) */
} jb_experiment_opts;

typedef struct jb_experiment_result {
    int exit_code; /* what `joulebench run` exits with (see docs/experiments.md) */
    int64_t experiment_id;
    char store_path[1024];
    size_t planned, done_before, ok, failed, aborted, pilots;
    int interrupted; /* signal number */
    bool too_many_failures;
    int max_failures; /* the limit that applied */
    char status[16];  /* experiment status: done | aborted | failed */
} jb_experiment_result;

/* Run (or resume, or describe) an experiment. 0 when the experiment ran to
 * its end or was stopped in an orderly way (see r->status and r->exit_code);
 * -1 with err when it could not start or the store failed (r->exit_code is
 * then 124 spec/usage, 125 setup, 123 store/data). */
int jb_experiment_run(const jb_experiment_opts *o, jb_experiment_result *r, jb_err *err);

/* ---- pieces, exposed for tests ---- */

/* A run already recorded as done (status ok or failed) for this experiment. */
typedef struct jb_done_run {
    char phase[16];
    char variant[68];
    int rep;
} jb_done_run;

/* Runs of experiment exp_id with status ok or failed (malloc'd). */
int jb_experiment_done_runs(jb_store *st, int64_t exp_id, jb_done_run **out, size_t *n,
                            jb_err *err);

/* True if plan run r is in done (same phase, variant name, rep). */
bool jb_plan_run_done(const jb_spec *s, const jb_plan_run *r, const jb_done_run *done, size_t n);

/* Median as the plan estimator takes it: of the k positive values (the lower
 * middle two averaged); 0 when none. Sorts v. */
int64_t jb_median_ns(int64_t *v, size_t k);

#endif
