/*
 * spec.h — the experiment spec (a YAML file, see docs/spec.md) parsed into a
 * plain struct an experiment runner uses directly, and the plan builder that
 * turns a spec into the ordered list of runs.
 *
 * jb_spec_load() reads and validates the whole file; every problem is reported
 * as "file:line:column: what is wrong; what is expected" and the FIRST problem
 * found stops the parse (documents are walked top to bottom, so the first
 * error is the one nearest the top of the file in the order keys are checked).
 * A parsed spec holds only valid values with every default filled in, so the
 * runner never re-checks anything.
 *
 * jb_plan_build() orders the runs (interleaved, randomized or blocked) and
 * jb_plan_estimate()/jb_plan_describe() give `joulebench run --dry-run` its
 * expected duration and text.
 */
#ifndef JB_SPEC_H
#define JB_SPEC_H

#include "jb.h"
#include "source.h"

/* A duration field set to "auto": resolved by the runner from a pilot run. */
#define JB_DURATION_AUTO ((int64_t)-1)

/* Limits (also documented in docs/spec.md). */
#define JB_SPEC_INTERVAL_MIN_NS 1000000LL     /* 1 ms */
#define JB_SPEC_INTERVAL_MAX_NS 60000000000LL /* 60 s */
#define JB_SPEC_MAX_REPS 100000
#define JB_SPEC_MAX_BYTES (1 << 20) /* a spec file larger than 1 MiB is refused */
/* How long an idle run waits for its ready marker before it fails. */
#define JB_IDLE_READY_TIMEOUT_NS 600000000000LL

typedef enum {
    JB_ORDER_INTERLEAVED = 0, /* default: rounds of every phase and variant */
    JB_ORDER_RANDOMIZED = 1,  /* seeded shuffle of all runs */
    JB_ORDER_BLOCKED = 2,     /* baseline reps, idle reps, then variant by variant */
} jb_order;

typedef enum {
    JB_PHASE_BASELINE = 0, /* nothing of ours runs */
    JB_PHASE_IDLE = 1,     /* the software is started but idle */
    JB_PHASE_SCENARIO = 2, /* the workload of one variant */
} jb_phase;

typedef enum {
    JB_READY_NONE = 0,   /* idle measurement starts when the command starts */
    JB_READY_MARKER = 1, /* ... when the software sends an event marker NAME */
    JB_READY_DELAY = 2,  /* ... after a fixed delay */
} jb_ready_kind;

typedef enum {
    JB_COOLDOWN_NONE = 0,
    JB_COOLDOWN_FIXED = 1,       /* wait a fixed time */
    JB_COOLDOWN_POWER = 2,       /* until power is within tolerance of baseline */
    JB_COOLDOWN_TEMPERATURE = 3, /* until temperature is within tolerance */
} jb_cooldown_kind;

typedef enum {
    JB_TARGET_METRIC = 0, /* first time `metric` reaches `threshold` */
    JB_TARGET_EPOCH = 1,  /* end of epoch `epoch` */
} jb_target_kind;

/* argv lists are NULL-terminated (ready for execvp); argc excludes the NULL.
 * A command that is not given has argv == NULL and argc == 0. */
typedef struct jb_spec_cmd {
    char **argv;
    size_t argc;
} jb_spec_cmd;

typedef struct jb_spec_env {
    char *key;
    char *value;
} jb_spec_env;

typedef struct jb_spec_variant {
    char *name;        /* [A-Za-z0-9_.-]+, unique */
    char *description; /* NULL if not given */
    jb_spec_cmd command;
    jb_spec_env *env; /* added to the inherited environment */
    size_t n_env;
    char *cwd;          /* NULL: the directory joulebench runs in */
    int64_t timeout_ns; /* 0: no timeout */
    int line;           /* where the variant is declared (1-based) */
} jb_spec_variant;

typedef struct jb_spec_target {
    jb_target_kind kind;
    char *metric; /* JB_TARGET_METRIC */
    double threshold;
    int epoch; /* JB_TARGET_EPOCH */
} jb_spec_target;

typedef struct jb_spec {
    char *path; /* as given to jb_spec_load (for messages) */
    char *text; /* the spec text, NUL-terminated (stored with the experiment) */

    char *name;
    char *description;   /* NULL if not given */
    int64_t interval_ns; /* default 100 ms */

    bool sources_auto; /* default true: the default set of usable sources */
    char **sources;    /* names from the source registry when !sources_auto */
    size_t n_sources;
    jb_source_opt *source_opts; /* "estimate.idle_w" = "10" (owned strings) */
    int n_source_opts;

    int reps_scenario; /* default 30, >= 1 */
    int reps_baseline; /* default 10, >= 0 */
    int reps_idle;     /* default 10, >= 0; no idle runs without an idle command */

    int64_t baseline_ns; /* default JB_DURATION_AUTO */

    bool has_idle; /* an idle section with a command was given */
    jb_spec_cmd idle_command;
    jb_ready_kind idle_ready;
    char *idle_ready_marker;     /* JB_READY_MARKER */
    int64_t idle_ready_delay_ns; /* JB_READY_DELAY */
    int64_t idle_ns;             /* default JB_DURATION_AUTO */

    jb_spec_variant *variants; /* in file order, at least one */
    size_t n_variants;

    jb_order order;
    bool has_seed; /* seed given; else seed is 0 and the runner may pick one */
    uint64_t seed; /* 0 .. 4294967295 (valid for PYTHONHASHSEED and numpy) */

    /* setup: reproducibility controls */
    bool drop_caches;         /* default false */
    jb_spec_cmd reset;        /* run before each run; argv NULL if none */
    bool quiet;               /* quiet-system check enabled */
    double quiet_threshold;   /* % CPU, default 10 */
    int64_t quiet_window_ns;  /* default 5 s */
    int64_t quiet_timeout_ns; /* default 60 s */
    bool quiet_fail;          /* on_timeout: fail (true) or warn (false, default) */
    jb_cooldown_kind cooldown;
    int64_t cooldown_ns;       /* JB_COOLDOWN_FIXED */
    double cooldown_tolerance; /* %, default 5 */
    int64_t cooldown_max_ns;   /* default 60 s */
    bool gpu_memory_check;     /* default false */

    char **metrics; /* efficiency metrics (marker metric names) */
    size_t n_metrics;
    jb_spec_target *targets;
    size_t n_targets;

    bool has_carbon;
    double carbon_intensity; /* g CO2e / kWh */
    char *carbon_source;     /* NULL if not given */

    bool pilot;       /* run one pilot scenario per variant first (auto durations) */
    int max_failures; /* -1: not given (the runner's default applies) */
} jb_spec;

/* Read and validate a spec file. On success *out is a new spec (free with
 * jb_spec_free). On failure returns -1 and err holds the first problem. */
int jb_spec_load(const char *path, jb_spec **out, jb_err *err);

/* The same from text in memory; `path` is only used in messages. */
int jb_spec_parse(const char *text, size_t len, const char *path, jb_spec **out, jb_err *err);

void jb_spec_free(jb_spec *s);

/* True if baseline or idle duration is "auto". */
bool jb_spec_has_auto(const jb_spec *s);

/* Index of the variant called name, or -1. */
int jb_spec_variant_index(const jb_spec *s, const char *name);

const char *jb_phase_name(jb_phase p); /* "baseline", "idle", "scenario" */
const char *jb_order_name(jb_order o); /* "interleaved", ... */

/* Append argv as a JSON array of strings (for the store's run.command). */
void jb_spec_argv_json(const jb_spec_cmd *cmd, jb_buf *out);

/* ---- the plan ---- */

typedef struct jb_plan_run {
    jb_phase phase;
    int variant; /* index into s->variants for scenario runs, -1 otherwise */
    int rep;     /* 1-based within (phase, variant), in execution order */
    int seq;     /* 1-based position in the plan */
} jb_plan_run;

/* Build the ordered list of runs (malloc'd; free with free()).
 *
 * interleaved: R = max(reps) rounds. Round r holds, in this order, a baseline
 *   run if one is due, an idle run if one is due, then scenario rep r of every
 *   variant in file order. Baseline rep j (of B) is due in round
 *   1 + floor((j-1)·R/B), idle likewise, so baselines are spread over the
 *   whole experiment and slow drift affects every phase alike.
 * randomized: all runs shuffled by Fisher–Yates with SplitMix64 seeded by
 *   s->seed (bounded draws by rejection, no modulo bias); the same seed gives
 *   the same plan on every machine. Reps are renumbered chronologically.
 * blocked: all baseline reps, all idle reps, then every rep of variant 1,
 *   then every rep of variant 2, ...
 */
int jb_plan_build(const jb_spec *s, jb_plan_run **runs, size_t *n, jb_err *err);

/* The plan's PRNG, SplitMix64: advances *state and returns the next value. */
uint64_t jb_plan_rand(uint64_t *state);

typedef struct jb_plan_estimate {
    int64_t expected_ns; /* best guess of the wall time of the whole plan */
    int64_t upper_ns;    /* bound with timeouts and maxima, -1 if unbounded */
    size_t n_unknown;    /* runs whose duration could not be guessed (counted as 0) */
    size_t n_pilot;      /* pilot runs before the plan (counted in both) */
} jb_plan_estimate;

/* Expected duration. scenario_ns[v] is a guess for one run of variant v (from
 * an earlier experiment, a pilot, or <= 0 for unknown); the array may be NULL.
 * Unknown scenario runs count as their timeout in upper_ns. Auto baseline/idle
 * durations use the median of the known scenario guesses. Waiting for a quiet
 * system counts its window (upper: its timeout); a cooldown counts its fixed
 * time (until-power/temperature: 0, upper: its max). */
void jb_plan_estimate_time(const jb_spec *s, const jb_plan_run *runs, size_t n,
                           const int64_t *scenario_ns, jb_plan_estimate *out);

/* The --dry-run text: controls, every run in order, expected total time. */
void jb_plan_describe(const jb_spec *s, const jb_plan_run *runs, size_t n,
                      const jb_plan_estimate *est, jb_buf *out);

#endif
