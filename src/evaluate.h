/*
 * evaluate.h — the evaluation of one experiment: every number of
 * `joulebench report` (issue 5, "The numbers") computed from the store into
 * one struct that the report writers (report_text.c, report_md.c,
 * report_json.c, report_csv.c, report_html.c) only format.
 *
 * How it reads the store: run by run, channel by channel (jb_run_summarize
 * streams each channel and frees it); the headline power channels are loaded
 * once more per run to get per-second mean power (the power-over-time plot and
 * OSCAR's load-generation check) and the energy until a metric target is
 * reached. Nothing keeps all samples of all runs at once.
 *
 * Definitions (shared/DESIGN.md, "Analysis"):
 *  - energy of a run = the headline total (never sums overlapping channels);
 *  - software-induced energy, power-based: S = E − P̄_baseline·T (default);
 *    OSCAR form: S = E − mean E_baseline (equal-length runs), each with its
 *    propagated uncertainty (stats.h); negative values are kept;
 *  - efficiency factor = metric per Wh (final value of the metric / energy),
 *    gross and software-induced;
 *  - load-generation check = SD across runs at each whole second since the
 *    run start, averaged over the seconds that at least two runs reach;
 *  - Blue Angel: base load = mean of the baseline runs, net = load − base,
 *    allocation factor = net / (full − base), effective = net + factor·base,
 *    utilisation = effective × mean scenario time;
 *  - carbon = energy × the spec's grid intensity (g CO2e/kWh), labelled.
 * Only runs with status ok enter the statistics; failed and aborted runs are
 * counted and listed with a warning.
 */
#ifndef JB_EVALUATE_H
#define JB_EVALUATE_H

#include "jb.h"
#include "stats.h"
#include "store.h"

#define JB_EVAL_MAX_METRICS 8
#define JB_EVAL_MAX_TARGETS 8
#define JB_EVAL_MAX_PLOT 1000 /* points per line in plots */

typedef struct jb_eval_opts {
    int64_t experiment_id;                    /* 0: the latest experiment */
    const char *metrics[JB_EVAL_MAX_METRICS]; /* extra metric names (--metric) */
    int nmetrics;
    const char *targets[JB_EVAL_MAX_TARGETS]; /* "epoch:5" or "val_accuracy>=0.8" */
    int ntargets;
    const char *compare[2];               /* --compare A,B; NULL: all pairs */
    double carbon_g_per_kwh;              /* > 0 overrides the spec */
    double net_full_mbps, disk_full_mbps; /* Blue Angel full load (MB/s), 0 = unknown */
} jb_eval_opts;

/* One target: until epoch k, or until a metric first reaches a threshold. */
typedef struct jb_eval_target {
    bool is_epoch;
    int epoch;
    char metric[68];
    double threshold;
    char label[128]; /* "epoch 5", "val_accuracy >= 0.8" */
} jb_eval_target;

/* One epoch (index of the outermost indexed action) of one run. */
typedef struct jb_eval_epoch {
    int64_t index;
    double energy_j, cumulative_j, duration_s;
    double metric[JB_EVAL_MAX_METRICS]; /* NaN when not sent */
} jb_eval_epoch;

/* One top-level action name of one run, summed over its occurrences. */
typedef struct jb_eval_action {
    char name[68];
    int count;
    double energy_j, duration_s;
} jb_eval_action;

typedef struct jb_eval_band {
    double begin_s, end_s; /* since the run start */
    char name[68];
} jb_eval_band;

typedef struct jb_eval_run {
    int64_t id;
    char variant[64], phase[16], status[16];
    int rep, seq, exit_code;
    int64_t start_ns, end_ns, interval_ns;
    double duration_s;
    bool has_energy, estimated;
    double energy_j, mean_power_w;
    char headline[256];
    double cpu_pct, mem_used_b, disk_read_b, disk_written_b, net_rx_b, net_tx_b;
    double sie_power_j, sie_power_se, sie_oscar_j, sie_oscar_se; /* NaN when no baseline */
    double metric[JB_EVAL_MAX_METRICS];                          /* final values, NaN if absent */
    double target_j[JB_EVAL_MAX_TARGETS];                        /* NaN: never reached */
    float *ps; /* per-second mean power (W), nps seconds */
    size_t nps;
    jb_eval_epoch *ep;
    size_t nep;
    jb_eval_action *act;
    size_t nact;
    jb_eval_band *band; /* top-level actions, for the power plot */
    size_t nband;
    char controls[2048]; /* run.controls JSON ("" when none) */
    char note[256];
    double interval_p95_ms;
    double min_window_s; /* the energy meter's update period (channel meta), 0 = none */
} jb_eval_run;

/* One quantity of one group (energy, duration, ...). */
typedef struct jb_eval_stat {
    char key[64];   /* "energy_wh", "val_accuracy_per_wh" (stable, for JSON/CSV) */
    char label[96]; /* "energy (Wh)" */
    bool ok;        /* d is valid (n >= 1) */
    jb_desc d;
} jb_eval_stat;

/* Blue Angel hardware utilisation of one resource in one group. */
typedef struct jb_eval_util {
    char resource[16]; /* cpu, ram, net, disk */
    char load_unit[16], util_unit[16];
    double full, base, load, net, alloc, effective, utilisation;
} jb_eval_util;

#define JB_EVAL_MAX_STATS (16 + 3 * JB_EVAL_MAX_METRICS)

typedef struct jb_eval_group {
    char variant[64], phase[16];
    char label[96]; /* "own-cnn", "baseline", "idle" */
    int n_ok, n_failed;
    jb_eval_stat st[JB_EVAL_MAX_STATS];
    int nst;
    bool has_sie;
    jb_estimate sie_power, sie_oscar; /* Wh */
    bool sie_oscar_equal_length;      /* durations within 5 % of the baseline's */
    int n_negative_sie;
    double load_sd_w; /* OSCAR load-generation check; NaN with < 2 runs */
    float *mean_ps;   /* per-second mean power across runs */
    size_t n_mean_ps;
    jb_eval_util util[4];
    int nutil;
    int target_reached[JB_EVAL_MAX_TARGETS], target_never[JB_EVAL_MAX_TARGETS];
    jb_desc target_wh[JB_EVAL_MAX_TARGETS];
    bool target_ok[JB_EVAL_MAX_TARGETS];
    /* mean per epoch across runs (index-aligned) */
    jb_eval_epoch *ep;
    size_t nep;
    double carbon_g_mean; /* per run, NaN when no intensity */
} jb_eval_group;

typedef struct jb_eval_cmp {
    char a[64], b[64]; /* b against reference a */
    char key[64], label[96];
    char verb[16], quantity[96]; /* for the sentence: "used" "energy", "reached" "val_accuracy" */
    bool ok;
    jb_compare c;
    double p_holm;
    char sentence[512];
    char note[512];
} jb_eval_cmp;

typedef struct jb_eval_control {
    char name[48];
    int applied, skipped, failed, other;
    char reason[256]; /* one example reason */
} jb_eval_control;

typedef struct jb_eval {
    char store_path[1024];
    int64_t experiment_id;
    char name[128], kind[32], status[32], spec_path[512];
    char host[128], cpu_model[128], kernel[128], os[128], host_extra[1024], jb_version[32];
    int cores;
    double ram_b;
    char meters[512];   /* distinct headline descriptions */
    double interval_ms; /* median sampling interval */
    int n_runs, n_ok;
    jb_eval_run *runs;
    size_t nruns;
    jb_eval_group *groups; /* baseline, idle, then scenario variants in order */
    size_t ngroups;
    jb_eval_cmp *cmps;
    size_t ncmps;
    char metrics[JB_EVAL_MAX_METRICS][68];
    int nmetrics;
    jb_eval_target targets[JB_EVAL_MAX_TARGETS];
    int ntargets;
    double carbon_g_per_kwh; /* 0: none */
    char carbon_source[128];
    jb_eval_control controls[16];
    int ncontrols;
    char **warnings;
    size_t nwarnings;
    bool any_estimated;
} jb_eval;

/* Evaluate one experiment of an open store. Returns 0 and fills ev (even
 * when little can be said: warnings explain); -1 with err when the store
 * cannot be read or the experiment does not exist. Free with jb_eval_free. */
int jb_evaluate(jb_store *st, const jb_eval_opts *o, jb_eval *ev, jb_err *err);
void jb_eval_free(jb_eval *ev);

/* Parse a target ("epoch:5", "val_accuracy>=0.8"); -1 with err when bad. */
int jb_eval_parse_target(const char *s, jb_eval_target *t, jb_err *err);

/* The group of (variant, phase) or NULL; a stat of a group by key or NULL. */
const jb_eval_group *jb_eval_group_find(const jb_eval *ev, const char *variant, const char *phase);
const jb_eval_stat *jb_eval_stat_find(const jb_eval_group *g, const char *key);

/* ---- report writers (report_*.c) ---- */
#include <stdio.h>
void jb_report_text(FILE *f, const jb_eval *ev);
void jb_report_markdown(FILE *f, const jb_eval *ev);
int jb_report_json(FILE *f, const jb_eval *ev);
int jb_report_csv(const char *dir, const jb_eval *ev, jb_err *err);
int jb_report_html(FILE *f, const jb_eval *ev);

#endif
