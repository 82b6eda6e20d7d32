/*
 * experiment.c — the experiment runner (see experiment.h): spec → plan →
 * one jb_run_one() per run, with the controls before each run, progress,
 * failure limits, SIGINT and resume. The statistics come later, from the
 * store (report); this file only makes sure every run is recorded once, with
 * what was done to make it comparable.
 */
#include "experiment.h"

#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "controls.h"
#include "measure.h"
#include "meter.h"
#include "workload.h"

#define RESET_TIMEOUT_NS (600 * 1000000000LL)
#define GPU_WAIT_NS (10 * 1000000000LL)
#define GPU_TOLERANCE_B (256ULL << 20)

typedef struct runner {
    const jb_experiment_opts *o;
    jb_experiment_result *r;
    jb_spec *s;
    jb_store st;
    bool st_open;
    jb_meter *m;
    const char *root;
    FILE *out;
    bool tty;
    int64_t exp_id;
    jb_plan_run *plan;
    size_t n;
    size_t todo, k; /* runs to do in this invocation, runs started so far */
    int max_failures;
    size_t failures;
    int64_t auto_ns; /* resolved auto duration */
    int64_t t0;
    int64_t *scen_sum; /* per variant: measured scenario time, for the ETA */
    int *scen_n;
    jb_seed_env seed;
    jb_gpu_check *gpu;
    char gpu_why[256];
    bool ran_one; /* a run happened in this invocation (cooldown before the next) */
    /* cooldown references from the baseline runs: per meter channel */
    double *base_sum;
    int *base_n;
    double last_w;
} runner;

/* ---- small helpers ---- */

int64_t jb_median_ns(int64_t *v, size_t k)
{
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (v[i] > 0) v[j++] = v[i];
    if (!j) return 0;
    for (size_t a = 1; a < j; a++) /* insertion sort: a handful of variants */
        for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
            int64_t t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    return j % 2 ? v[j / 2] : v[j / 2 - 1] / 2 + v[j / 2] / 2;
}

static void fmt_dur(char *out, size_t cap, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, cap, "?");
    else if (s < 60)
        snprintf(out, cap, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static const char *variant_name(const runner *x, int v)
{
    return v >= 0 ? x->s->variants[v].name : "";
}

static int db_exec(runner *x, const char *sql, jb_err *err)
{
    return jb_store_exec(&x->st, sql, err);
}

static void set_experiment_status(runner *x, const char *status)
{
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE experiment SET status='%s' WHERE id=%lld", status,
             (long long)x->exp_id);
    db_exec(x, sql, NULL);
    snprintf(x->r->status, sizeof x->r->status, "%s", status);
}

/* ---- done runs (resume) ---- */

int jb_experiment_done_runs(jb_store *st, int64_t exp_id, jb_done_run **out, size_t *n, jb_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT phase, variant, rep FROM run WHERE experiment_id=? AND "
                           "status IN ('ok','failed')",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, exp_id);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            jb_done_run *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                sqlite3_finalize(q);
                return jb_errf(err, "out of memory");
            }
            *out = p;
        }
        jb_done_run *d = &(*out)[(*n)++];
        snprintf(d->phase, sizeof d->phase, "%s", jb_col_text(q, 0));
        snprintf(d->variant, sizeof d->variant, "%s", jb_col_text(q, 1));
        d->rep = sqlite3_column_int(q, 2);
    }
    sqlite3_finalize(q);
    return 0;
}

bool jb_plan_run_done(const jb_spec *s, const jb_plan_run *r, const jb_done_run *done, size_t n)
{
    const char *phase = jb_phase_name(r->phase);
    const char *var = r->variant >= 0 ? s->variants[r->variant].name : "";
    for (size_t i = 0; i < n; i++)
        if (done[i].rep == r->rep && !strcmp(done[i].phase, phase) && !strcmp(done[i].variant, var))
            return true;
    return false;
}

/* ---- loading: spec, store, experiment ---- */

static int load_spec_file(runner *x, jb_err *err)
{
    if (jb_spec_load(x->o->spec_path, &x->s, err)) {
        x->r->exit_code = JB_EXIT_USAGE;
        return -1;
    }
    return 0;
}

static const char *store_path(const jb_experiment_opts *o)
{
    if (o->store_path) return o->store_path;
    const char *e = getenv("JOULEBENCH_DB");
    return e && *e ? e : "joulebench.db";
}

static int open_store(runner *x, bool readonly, jb_err *err)
{
    snprintf(x->r->store_path, sizeof x->r->store_path, "%s", store_path(x->o));
    if (jb_store_open(&x->st, x->r->store_path, readonly, err)) {
        x->r->exit_code = JB_EXIT_DATA;
        return -1;
    }
    x->st_open = true;
    return 0;
}

/* Resume: the newest unfinished experiment (of the spec's name when a spec is
 * given, whose text must then be the stored one). */
static int find_resumable(runner *x, jb_err *err)
{
    sqlite3_stmt *q;
    const char *sql = "SELECT id, spec_path, spec_text FROM experiment WHERE kind='experiment' "
                      "AND status<>'done' AND (?1 IS NULL OR name=?1) ORDER BY id DESC LIMIT 1";
    if (sqlite3_prepare_v2(x->st.db, sql, -1, &q, NULL) != SQLITE_OK) {
        x->r->exit_code = JB_EXIT_DATA;
        return jb_errf(err, "%s: %s", x->st.path, sqlite3_errmsg(x->st.db));
    }
    if (x->s) sqlite3_bind_text(q, 1, x->s->name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        x->r->exit_code = JB_EXIT_DATA;
        if (x->s)
            return jb_errf(err,
                           "%s: no unfinished experiment '%s' to resume; start it with "
                           "'joulebench run %s -o %s'",
                           x->st.path, x->s->name, x->o->spec_path, x->st.path);
        return jb_errf(err,
                       "%s: no unfinished experiment to resume (all are done); start a new "
                       "one with 'joulebench run SPEC.yml -o %s'",
                       x->st.path, x->st.path);
    }
    x->exp_id = sqlite3_column_int64(q, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s", jb_col_text(q, 1));
    const char *text = jb_col_text(q, 2);
    int rc = 0;
    if (x->s) {
        if (strcmp(text, x->s->text)) {
            x->r->exit_code = JB_EXIT_USAGE;
            rc = jb_errf(err,
                         "%s: the spec changed since experiment '%s' started; resume "
                         "without the spec (the stored text is used), or start a new "
                         "experiment",
                         x->o->spec_path, x->s->name);
        }
    } else if (jb_spec_parse(text, strlen(text), path[0] ? path : "(stored spec)", &x->s, err)) {
        x->r->exit_code = JB_EXIT_DATA;
        rc = -1;
    }
    sqlite3_finalize(q);
    return rc;
}

static void meta_key(char *out, size_t cap, int64_t exp_id)
{
    snprintf(out, cap, "experiment/%lld/seed", (long long)exp_id);
}

/* The seed of the experiment: the spec's, else one picked now and kept in
 * the store's meta table so a resumed randomized plan is the same plan. */
static int settle_seed(runner *x, jb_err *err)
{
    char key[64];
    meta_key(key, sizeof key, x->exp_id);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(x->st.db, "SELECT value FROM meta WHERE key=?", -1, &q, NULL) !=
        SQLITE_OK)
        return jb_errf(err, "%s: %s", x->st.path, sqlite3_errmsg(x->st.db));
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    bool have = sqlite3_step(q) == SQLITE_ROW;
    if (have) x->s->seed = strtoull(jb_col_text(q, 0), NULL, 10);
    sqlite3_finalize(q);
    if (!have) {
        if (!x->s->has_seed)
            x->s->seed = (uint64_t)(jb_real_ns() ^ ((int64_t)getpid() << 16)) & 0xffffffffULL;
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES('%s','%llu')", key,
                 (unsigned long long)x->s->seed);
        if (db_exec(x, sql, err)) return -1;
    }
    jb_seed_env_make(&x->seed, x->s->seed);
    return 0;
}

static int open_meter(runner *x, jb_err *err)
{
    char list[1024] = "auto";
    if (!x->s->sources_auto) {
        list[0] = 0;
        for (size_t i = 0; i < x->s->n_sources; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? "," : "", x->s->sources[i]);
        }
    }
    x->m = calloc(1, sizeof *x->m);
    if (!x->m) return jb_errf(err, "out of memory");
    jb_meter_opts mo = {.root = x->root,
                        .interval_ns = x->s->interval_ns,
                        .sources = list,
                        .opts = x->s->source_opts,
                        .nopts = x->s->n_source_opts};
    if (jb_meter_open(x->m, &mo, err)) {
        free(x->m);
        x->m = NULL;
        x->r->exit_code = JB_EXIT_SETUP;
        return -1;
    }
    x->base_sum = calloc((size_t)x->m->ch.n + 1, sizeof *x->base_sum);
    x->base_n = calloc((size_t)x->m->ch.n + 1, sizeof *x->base_n);
    return 0;
}

static int add_experiment(runner *x, jb_err *err)
{
    jb_buf extra = {0};
    jb_meter_host_info(x->m, &extra);
    int64_t host = jb_store_add_host(&x->st, x->m->env.root, extra.data, err);
    jb_buf_free(&extra);
    if (host < 0) return -1;
    x->exp_id = jb_store_add_experiment(&x->st, host, x->s->name, x->o->spec_path, x->s->text,
                                        "experiment", err);
    return x->exp_id < 0 ? -1 : 0;
}

/* ---- progress ---- */

/* Expected time of the runs still to do, from the scenario times so far. */
static double eta_s(runner *x, size_t from)
{
    int64_t *guess = calloc(x->s->n_variants, sizeof *guess);
    if (!guess) return NAN;
    for (size_t v = 0; v < x->s->n_variants; v++)
        guess[v] = x->scen_n[v] ? x->scen_sum[v] / x->scen_n[v] : 0;
    jb_spec copy = *x->s;
    copy.pilot = false;
    if (copy.baseline_ns == JB_DURATION_AUTO) copy.baseline_ns = x->auto_ns;
    if (copy.idle_ns == JB_DURATION_AUTO) copy.idle_ns = x->auto_ns;
    jb_plan_estimate est;
    jb_plan_estimate_time(&copy, x->plan + from, x->n - from, guess, &est);
    free(guess);
    return (double)est.expected_ns / 1e9;
}

static void progress_start(runner *x, const char *phase, int v, int rep, size_t plan_i)
{
    char el[32], eta[32];
    fmt_dur(el, sizeof el, (double)(jb_mono_ns() - x->t0) / 1e9);
    fmt_dur(eta, sizeof eta, plan_i < x->n ? eta_s(x, plan_i) : NAN);
    char w[32] = "";
    if (isfinite(x->last_w)) snprintf(w, sizeof w, " | last %.1f W", x->last_w);
    if (x->tty) {
        fprintf(x->out, "\r\033[K[%zu/%zu] %s %s rep %d | elapsed %s | ETA %s%s", x->k, x->todo,
                phase, v >= 0 ? variant_name(x, v) : "-", rep, el, eta, w);
        fflush(x->out);
    }
}

static void progress_end(runner *x, const char *phase, int v, int rep, const jb_run_result *rr)
{
    double dur = NAN, joules = NAN, watts = NAN;
    jb_run_summary *rs = malloc(sizeof *rs);
    jb_err err;
    if (rs && jb_run_summarize(&x->st, rr->run_id, rs, &err) == 0) {
        dur = rs->duration_s;
        if (rs->has_headline) {
            joules = rs->headline_j;
            watts = dur > 0 ? joules / dur : NAN;
        }
    }
    free(rs);
    if (isfinite(watts)) x->last_w = watts;
    char el[32];
    fmt_dur(el, sizeof el, (double)(jb_mono_ns() - x->t0) / 1e9);
    char energy[64] = "";
    if (isfinite(joules)) snprintf(energy, sizeof energy, ", %.3g J, %.3g W", joules, watts);
    bool bad = strcmp(rr->status, "ok") != 0;
    if (x->tty && !bad) return; /* the next start line replaces it */
    if (x->tty) fprintf(x->out, "\r\033[K");
    fprintf(x->out, "run %zu/%zu %s %s rep %d: %s%s%s, %.2f s%s (elapsed %s)\n", x->k, x->todo,
            phase, v >= 0 ? variant_name(x, v) : "-", rep, rr->status, rr->note[0] ? ": " : "",
            rr->note, dur, energy, el);
    if (bad && rr->stderr_tail[0] && !x->tty) {
        const char *t = rr->stderr_tail;
        size_t l = strlen(t);
        const char *p = l > 300 ? t + l - 300 : t;
        fprintf(x->out, "  stderr tail: %s%s", p, p[strlen(p) - 1] == '\n' ? "" : "\n");
    }
    fflush(x->out);
}

/* ---- cooldown ---- */

/* Current value of each meter channel: watts for energy kinds (ΔJ/Δt over
 * 500 ms), the reading for gauges. */
static void read_now(runner *x, double *now)
{
    int nc = x->m->ch.n;
    double *a = calloc((size_t)nc + 1, sizeof *a);
    uint8_t *ok = calloc((size_t)nc + 1, 1);
    if (!a || !ok) {
        free(a);
        free(ok);
        return;
    }
    int64_t t1 = jb_mono_ns();
    jb_meter_read(x->m, t1, a, ok);
    jb_sleep_interruptible(500000000LL);
    int64_t t2 = jb_mono_ns();
    jb_meter_read(x->m, t2, now, ok);
    for (int c = 0; c < nc; c++) {
        if (!ok[c])
            now[c] = NAN;
        else if (x->m->ch.ch[c].kind == JB_KIND_ENERGY_COUNTER)
            now[c] = (now[c] - a[c]) / ((double)(t2 - t1) / 1e9);
    }
    free(a);
    free(ok);
}

/* Remember a baseline run's headline power channels and temperatures. */
static void note_baseline(runner *x, int64_t run_id)
{
    jb_run_summary *rs = malloc(sizeof *rs);
    jb_err err;
    if (!rs || jb_run_summarize(&x->st, run_id, rs, &err)) {
        free(rs);
        return;
    }
    for (int i = 0; i < rs->nch; i++) {
        const jb_chan_summary *c = &rs->ch[i];
        bool temp = !strcmp(c->unit, "°C");
        if ((!c->headline && !temp) || !isfinite(c->mean)) continue;
        for (int k = 0; k < x->m->ch.n; k++)
            if (!strcmp(x->m->ch.ch[k].name, c->name)) {
                x->base_sum[k] += c->mean;
                x->base_n[k]++;
            }
    }
    free(rs);
}

static bool is_cool_channel(runner *x, int c, bool temperature)
{
    const jb_channel_def *d = &x->m->ch.ch[c];
    if (!x->base_n[c]) return false;
    if (temperature) return !strcmp(d->unit, "°C");
    return d->kind == JB_KIND_POWER || d->kind == JB_KIND_ENERGY_COUNTER;
}

static json_object *cooldown_until(runner *x, bool temperature)
{
    int nc = x->m->ch.n;
    bool any = false;
    for (int c = 0; c < nc; c++)
        any |= is_cool_channel(x, c, temperature);
    if (!any)
        return jb_control_new("skipped", temperature
                                             ? "no temperature channel measured in a baseline run"
                                             : "no baseline power measured yet");
    double *now = calloc((size_t)nc + 1, sizeof *now);
    int64_t start = jb_mono_ns();
    double val = NAN, ref = 0;
    bool within = false;
    while (now && !jb_workload_interrupted()) {
        read_now(x, now);
        val = 0;
        ref = 0;
        within = true;
        bool first = true;
        for (int c = 0; c < nc; c++) {
            if (!is_cool_channel(x, c, temperature) || !isfinite(now[c])) continue;
            double base = x->base_sum[c] / x->base_n[c];
            if (temperature) { /* every sensor back within tolerance */
                within &= now[c] <= base * (1 + x->s->cooldown_tolerance / 100);
                if (first || now[c] - base > val - ref) val = now[c], ref = base; /* the worst */
                first = false;
            } else { /* the headline total */
                val += now[c];
                ref += base;
            }
        }
        if (!temperature) within = val <= ref * (1 + x->s->cooldown_tolerance / 100);
        if (within || jb_mono_ns() - start >= x->s->cooldown_max_ns) break;
    }
    free(now);
    json_object *o = within ? jb_control_new("applied", NULL)
                            : jb_control_new("warning", "not back within tolerance by max");
    json_object_object_add(o, "until",
                           json_object_new_string(temperature ? "temperature" : "power"));
    json_object_object_add(o, "value", jb_json_num(val, 4));
    json_object_object_add(o, "baseline", jb_json_num(ref, 4));
    json_object_object_add(o, "waited_s", jb_json_num((double)(jb_mono_ns() - start) / 1e9, 4));
    return o;
}

static json_object *cooldown(runner *x)
{
    const jb_spec *s = x->s;
    if (s->cooldown == JB_COOLDOWN_NONE) return jb_control_new("off", NULL);
    if (!x->ran_one) return jb_control_new("skipped", "first run of this invocation");
    if (s->cooldown == JB_COOLDOWN_FIXED) {
        jb_sleep_interruptible(s->cooldown_ns);
        json_object *o = jb_control_new("applied", NULL);
        json_object_object_add(o, "seconds", jb_json_num((double)s->cooldown_ns / 1e9, 6));
        return o;
    }
    return cooldown_until(x, s->cooldown == JB_COOLDOWN_TEMPERATURE);
}

/* ---- one run ---- */

typedef struct run_args {
    const char *phase; /* "pilot" or the plan phase */
    jb_phase kind;
    int variant;
    int rep, seq;
} run_args;

/* The controls before a run. Returns the JSON object; *skip_run is set when
 * the quiet check failed with on_timeout: fail. */
static json_object *apply_controls(runner *x, bool *skip_run, char *why, size_t cap)
{
    const jb_spec *s = x->s;
    json_object *c = json_object_new_object();
    json_object *seed = jb_control_new("applied", s->has_seed ? NULL : "picked by joulebench");
    json_object_object_add(seed, "value", json_object_new_int64((int64_t)s->seed));
    json_object_object_add(c, "seed", seed);
    if (!s->gpu_memory_check)
        json_object_object_add(c, "gpu_memory", jb_control_new("off", NULL));
    else if (!x->gpu)
        json_object_object_add(c, "gpu_memory", jb_control_new("skipped", x->gpu_why));
    else
        json_object_object_add(c, "gpu_memory",
                               jb_gpu_check_run(x->gpu, GPU_WAIT_NS, GPU_TOLERANCE_B));
    if (s->reset.argv) {
        bool ok;
        json_object *r = jb_reset_run(s->reset.argv, RESET_TIMEOUT_NS, &ok);
        if (!ok)
            fprintf(stderr,
                    "joulebench run: warning: reset command failed (%s); the run goes "
                    "on, the failure is recorded in run.controls\n",
                    json_object_get_string(json_object_object_get(r, "reason")));
        json_object_object_add(c, "reset", r);
    } else {
        json_object_object_add(c, "reset", jb_control_new("off", NULL));
    }
    json_object_object_add(c, "drop_caches",
                           s->drop_caches ? jb_drop_caches(x->root) : jb_control_new("off", NULL));
    if (s->quiet) {
        jb_quiet_opts qo = {.root = x->root,
                            .threshold_pct = s->quiet_threshold,
                            .window_ns = s->quiet_window_ns,
                            .timeout_ns = s->quiet_timeout_ns,
                            .self = getpid()};
        jb_quiet_result qr;
        jb_err err;
        if (jb_quiet_wait(&qo, &qr, &err)) {
            json_object_object_add(c, "quiet", jb_control_new("failed", err.msg));
        } else {
            json_object *q = jb_quiet_json(&qo, &qr, s->quiet_fail);
            if (!qr.quiet && !qr.interrupted) {
                fprintf(stderr, "joulebench run: %s: system not quiet: %s; busiest:",
                        s->quiet_fail ? "error" : "warning",
                        json_object_get_string(json_object_object_get(q, "reason")));
                for (size_t i = 0; i < qr.ntop; i++)
                    fprintf(stderr, " %s[%d] %.0f%%", qr.top[i].comm, (int)qr.top[i].pid,
                            qr.top[i].cpu_pct);
                fprintf(stderr, "\n");
                if (s->quiet_fail) {
                    *skip_run = true;
                    snprintf(why, cap, "system not quiet (CPU %.0f %% >= %g %%)", qr.last_pct,
                             s->quiet_threshold);
                }
            }
            json_object_object_add(c, "quiet", q);
        }
    } else {
        json_object_object_add(c, "quiet", jb_control_new("off", NULL));
    }
    json_object_object_add(c, "cooldown", cooldown(x));
    return c;
}

/* env for the command: the variant's, the seed's, and where it stands. */
static char **build_env(runner *x, const run_args *a)
{
    const jb_spec_variant *v = a->variant >= 0 ? &x->s->variants[a->variant] : NULL;
    size_t n = (v ? v->n_env : 0) + JB_SEED_ENV_N + 4;
    char **env = calloc(n, sizeof *env);
    size_t k = 0;
    if (!env) return NULL;
    for (size_t i = 0; v && i < v->n_env; i++) {
        size_t l = strlen(v->env[i].key) + strlen(v->env[i].value) + 2;
        env[k] = malloc(l);
        if (env[k]) snprintf(env[k++], l, "%s=%s", v->env[i].key, v->env[i].value);
    }
    for (int i = 0; i < JB_SEED_ENV_N; i++)
        env[k++] = strdup(x->seed.env[i]);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "JOULEBENCH_PHASE=%s", a->phase);
    env[k++] = strdup(tmp);
    snprintf(tmp, sizeof tmp, "JOULEBENCH_VARIANT=%s", v ? v->name : "");
    env[k++] = strdup(tmp);
    snprintf(tmp, sizeof tmp, "JOULEBENCH_REP=%d", a->rep);
    env[k++] = strdup(tmp);
    return env;
}

static void free_env(char **env)
{
    for (char **p = env; p && *p; p++)
        free(*p);
    free(env);
}

static void fill_run_spec(runner *x, const run_args *a, jb_run_spec *rs)
{
    const jb_spec *s = x->s;
    memset(rs, 0, sizeof *rs);
    rs->info = (jb_run_info){.experiment_id = x->exp_id,
                             .variant = variant_name(x, a->variant),
                             .phase = a->phase,
                             .rep = a->rep,
                             .seq = a->seq,
                             .interval_ns = s->interval_ns};
    rs->capture_stderr = true;
    rs->new_process_group = true;
    if (a->kind == JB_PHASE_SCENARIO) {
        const jb_spec_variant *v = &s->variants[a->variant];
        rs->argv = v->command.argv;
        rs->cwd = v->cwd;
        rs->timeout_ns = v->timeout_ns;
    } else if (a->kind == JB_PHASE_IDLE) {
        rs->argv = s->idle_command.argv;
        rs->window_ns = s->idle_ns == JB_DURATION_AUTO ? x->auto_ns : s->idle_ns;
        if (rs->window_ns <= 0) rs->window_ns = 1;
        if (s->idle_ready == JB_READY_DELAY) rs->ready_delay_ns = s->idle_ready_delay_ns;
        if (s->idle_ready == JB_READY_MARKER) rs->ready_marker = s->idle_ready_marker;
    } else {
        rs->window_ns = s->baseline_ns == JB_DURATION_AUTO ? x->auto_ns : s->baseline_ns;
    }
}

/* A run that was not measured (the quiet check failed): recorded as failed. */
static int record_unmeasured(runner *x, const jb_run_spec *rs, const char *why, jb_run_result *rr,
                             jb_err *err)
{
    memset(rr, 0, sizeof *rr);
    int64_t now = jb_mono_ns() + jb_clock_offset_ns();
    rr->run_id = jb_store_add_run(&x->st, &rs->info, now, err);
    if (rr->run_id < 0) return -1;
    snprintf(rr->status, sizeof rr->status, "failed");
    snprintf(rr->note, sizeof rr->note, "not measured: %s", why);
    jb_store_set_run_text(&x->st, rr->run_id, "note", rr->note, NULL);
    return jb_store_finish_run(&x->st, rr->run_id, now, -1, "failed", NULL, err);
}

static int execute(runner *x, const run_args *a, jb_run_result *rr, jb_err *err)
{
    x->k++;
    progress_start(x, a->phase, a->variant, a->rep, (size_t)(a->seq > 0 ? a->seq - 1 : 0));
    bool skip = false;
    char why[256] = "";
    json_object *controls = apply_controls(x, &skip, why, sizeof why);
    json_object *snap = jb_snapshot(x->root, getpid());
    jb_run_spec rs;
    fill_run_spec(x, a, &rs);
    char **env = build_env(x, a);
    rs.env_add = env;
    int rc;
    if (jb_workload_interrupted()) { /* stopped while waiting: nothing measured */
        memset(rr, 0, sizeof *rr);
        rr->run_id = -1;
        rr->interrupted = jb_workload_interrupted();
        snprintf(rr->status, sizeof rr->status, "aborted");
        rc = 0;
    } else if (skip) {
        rc = record_unmeasured(x, &rs, why, rr, err);
    } else {
        rc = jb_run_one(&x->st, x->m, &rs, rr, err);
    }
    free_env(env);
    if (rr->run_id > 0) {
        jb_store_set_run_text(&x->st, rr->run_id, "controls",
                              json_object_to_json_string_ext(controls, JSON_C_TO_STRING_PLAIN),
                              NULL);
        jb_store_set_run_text(&x->st, rr->run_id, "snapshot",
                              json_object_to_json_string_ext(snap, JSON_C_TO_STRING_PLAIN), NULL);
    }
    json_object_put(controls);
    json_object_put(snap);
    x->ran_one = true;
    if (rc) {
        x->r->exit_code = JB_EXIT_SETUP;
        return -1;
    }
    if (!strcmp(rr->status, "ok"))
        x->r->ok++;
    else if (!strcmp(rr->status, "failed"))
        x->r->failed++, x->failures++;
    else
        x->r->aborted++;
    if (rr->run_id > 0) {
        progress_end(x, a->phase, a->variant, a->rep, rr);
        if (a->kind == JB_PHASE_BASELINE && !strcmp(rr->status, "ok")) note_baseline(x, rr->run_id);
    }
    return 0;
}

/* ---- run time of stored runs ---- */

static int64_t stored_pilot_ns(runner *x, int v, int *count)
{
    sqlite3_stmt *q;
    int64_t ns = -1;
    *count = 0;
    if (sqlite3_prepare_v2(x->st.db,
                           "SELECT status, end_ns-start_ns FROM run WHERE experiment_id=? AND "
                           "phase='pilot' AND variant=? ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, x->exp_id);
    sqlite3_bind_text(q, 2, variant_name(x, v), -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
        (*count)++;
        if (ns < 0 && !strcmp(jb_col_text(q, 0), "ok")) ns = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    return ns;
}

/* Scenario and baseline runs already stored: ETA guesses and cooldown refs. */
static void load_stored_timings(runner *x)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(x->st.db,
                           "SELECT id, phase, variant, end_ns-start_ns FROM run WHERE "
                           "experiment_id=? AND status='ok' AND phase IN ('scenario','baseline')",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(q, 1, x->exp_id);
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (!strcmp(jb_col_text(q, 1), "baseline")) {
            if (x->s->cooldown >= JB_COOLDOWN_POWER) note_baseline(x, sqlite3_column_int64(q, 0));
            continue;
        }
        int v = jb_spec_variant_index(x->s, jb_col_text(q, 2));
        if (v < 0) continue;
        x->scen_sum[v] += sqlite3_column_int64(q, 3);
        x->scen_n[v]++;
    }
    sqlite3_finalize(q);
}

/* Pilot runs (phase 'pilot'), one ok run per variant, then the auto duration. */
static int run_pilots(runner *x, jb_err *err)
{
    if (!x->s->pilot) return 0;
    size_t nv = x->s->n_variants;
    int64_t *d = calloc(nv, sizeof *d);
    if (!d) return jb_errf(err, "out of memory");
    for (size_t v = 0; v < nv && !jb_workload_interrupted(); v++) {
        int count;
        d[v] = stored_pilot_ns(x, (int)v, &count);
        if (d[v] > 0) continue;
        run_args a = {.phase = "pilot",
                      .kind = JB_PHASE_SCENARIO,
                      .variant = (int)v,
                      .rep = count + 1,
                      .seq = 0};
        jb_run_result rr;
        if (execute(x, &a, &rr, err)) {
            free(d);
            return -1;
        }
        x->r->pilots++;
        if (!strcmp(rr.status, "ok")) {
            int c2;
            d[v] = stored_pilot_ns(x, (int)v, &c2);
        }
    }
    if (jb_workload_interrupted()) {
        free(d);
        return 0;
    }
    x->auto_ns = jb_median_ns(d, nv);
    free(d);
    if (x->auto_ns <= 0 && jb_spec_has_auto(x->s)) {
        x->r->exit_code = 2;
        return jb_errf(err,
                       "%s: every pilot run failed, so the auto baseline/idle duration is "
                       "unknown; fix the variant commands (see run.stderr_tail in %s) or "
                       "give fixed durations like \"30s\"",
                       x->s->path, x->st.path);
    }
    return 0;
}

static size_t count_failed_runs(runner *x)
{
    sqlite3_stmt *q;
    size_t n = 0;
    if (sqlite3_prepare_v2(x->st.db,
                           "SELECT count(*) FROM run WHERE experiment_id=? AND status='failed' "
                           "AND phase<>'pilot'",
                           -1, &q, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(q, 1, x->exp_id);
    if (sqlite3_step(q) == SQLITE_ROW) n = (size_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static int run_plan(runner *x, jb_err *err)
{
    jb_done_run *done;
    size_t nd;
    if (jb_experiment_done_runs(&x->st, x->exp_id, &done, &nd, err)) return -1;
    bool *skip = calloc(x->n + 1, sizeof *skip);
    if (!skip) {
        free(done);
        return jb_errf(err, "out of memory");
    }
    for (size_t i = 0; i < x->n; i++) {
        skip[i] = jb_plan_run_done(x->s, &x->plan[i], done, nd);
        if (skip[i]) x->r->done_before++;
    }
    free(done);
    x->todo = x->n - x->r->done_before + (x->s->pilot ? x->s->n_variants : 0);
    int rc = run_pilots(x, err);
    for (size_t i = 0; !rc && i < x->n; i++) {
        if (jb_workload_interrupted() || x->r->too_many_failures) break;
        if (skip[i]) continue;
        const jb_plan_run *p = &x->plan[i];
        run_args a = {.phase = jb_phase_name(p->phase),
                      .kind = p->phase,
                      .variant = p->variant,
                      .rep = p->rep,
                      .seq = p->seq};
        jb_run_result rr;
        rc = execute(x, &a, &rr, err);
        if (!rc && p->phase == JB_PHASE_SCENARIO && !strcmp(rr.status, "ok") && rr.run_id > 0) {
            sqlite3_stmt *q;
            if (sqlite3_prepare_v2(x->st.db, "SELECT end_ns-start_ns FROM run WHERE id=?", -1, &q,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_int64(q, 1, rr.run_id);
                if (sqlite3_step(q) == SQLITE_ROW) {
                    x->scen_sum[p->variant] += sqlite3_column_int64(q, 0);
                    x->scen_n[p->variant]++;
                }
                sqlite3_finalize(q);
            }
        }
        if ((int)x->failures > x->max_failures) x->r->too_many_failures = true;
    }
    free(skip);
    return rc;
}

/* ---- the whole experiment ---- */

static void print_dry_run(runner *x)
{
    jb_plan_estimate est;
    jb_plan_estimate_time(x->s, x->plan, x->n, NULL, &est);
    jb_buf b = {0};
    jb_plan_describe(x->s, x->plan, x->n, &est, &b);
    fputs(b.data ? b.data : "", x->out);
    jb_buf_free(&b);
    if (!x->s->has_seed)
        fprintf(x->out, "note: no seed in the spec: the runner picks one and records it (a "
                        "randomized plan then differs from the one above)\n");
    fprintf(x->out, "max failures: %d\n", x->max_failures);
    if (x->o->resume)
        fprintf(x->out, "resume: %zu of %zu runs already done in %s (experiment %lld)\n",
                x->r->done_before, x->n, x->st.path, (long long)x->exp_id);
}

static int prepare(runner *x, jb_err *err)
{
    if (x->o->spec_path && load_spec_file(x, err)) return -1;
    if (x->o->resume || !x->o->dry_run) {
        if (open_store(x, x->o->dry_run, err)) return -1;
    }
    if (x->o->resume && find_resumable(x, err)) return -1;
    x->max_failures = x->o->max_failures >= 0   ? x->o->max_failures
                      : x->s->max_failures >= 0 ? x->s->max_failures
                                                : JB_DEFAULT_MAX_FAILURES;
    x->r->max_failures = x->max_failures;
    return 0;
}

static int start_measuring(runner *x, jb_err *err)
{
    if (open_meter(x, err)) return -1;
    if (!x->o->resume && add_experiment(x, err)) {
        x->r->exit_code = JB_EXIT_DATA;
        return -1;
    }
    x->r->experiment_id = x->exp_id;
    if (settle_seed(x, err)) {
        x->r->exit_code = JB_EXIT_DATA;
        return -1;
    }
    set_experiment_status(x, "running");
    if (x->s->gpu_memory_check) x->gpu = jb_gpu_check_open(NULL, x->gpu_why, sizeof x->gpu_why);
    x->scen_sum = calloc(x->s->n_variants, sizeof *x->scen_sum);
    x->scen_n = calloc(x->s->n_variants, sizeof *x->scen_n);
    if (!x->scen_sum || !x->scen_n) return jb_errf(err, "out of memory");
    load_stored_timings(x);
    return 0;
}

static void finish(runner *x)
{
    jb_experiment_result *r = x->r;
    r->interrupted = jb_workload_interrupted();
    if (r->interrupted) {
        set_experiment_status(x, "aborted");
        r->exit_code = 128 + r->interrupted;
    } else if (r->too_many_failures || r->exit_code == 2) {
        set_experiment_status(x, "failed");
        r->exit_code = 2;
    } else {
        set_experiment_status(x, "done");
        r->exit_code = count_failed_runs(x) ? 1 : 0;
    }
    if (x->tty) fprintf(x->out, "\r\033[K");
}

static void cleanup(runner *x)
{
    if (x->st_open) jb_store_close(&x->st);
    if (x->m) jb_meter_close(x->m);
    free(x->m);
    jb_gpu_check_close(x->gpu);
    jb_spec_free(x->s);
    free(x->plan);
    free(x->scen_sum);
    free(x->scen_n);
    free(x->base_sum);
    free(x->base_n);
}

int jb_experiment_run(const jb_experiment_opts *o, jb_experiment_result *r, jb_err *err)
{
    memset(r, 0, sizeof *r);
    runner x = {.o = o, .r = r, .last_w = NAN};
    x.root = o->root ? o->root : jb_default_root();
    x.out = o->progress ? o->progress : stdout;
    x.tty = o->tty >= 0 ? o->tty : isatty(fileno(x.out));
    x.t0 = jb_mono_ns();
    int rc = prepare(&x, err);
    if (!rc && jb_plan_build(x.s, &x.plan, &x.n, err)) {
        r->exit_code = JB_EXIT_USAGE;
        rc = -1;
    }
    r->planned = x.n;
    if (!rc && o->dry_run) {
        if (o->resume) {
            jb_done_run *done;
            size_t nd;
            if (!jb_experiment_done_runs(&x.st, x.exp_id, &done, &nd, err)) {
                for (size_t i = 0; i < x.n; i++)
                    r->done_before += jb_plan_run_done(x.s, &x.plan[i], done, nd);
                free(done);
            }
        }
        print_dry_run(&x);
        cleanup(&x);
        return 0;
    }
    jb_workload_reset_interrupt();
    jb_workload_install_signals();
    if (!rc) rc = start_measuring(&x, err);
    if (!rc) {
        rc = run_plan(&x, err);
        if (rc && r->exit_code == 2) { /* every pilot failed: an orderly stop */
            fprintf(stderr, "joulebench run: %s\n", err->msg);
            rc = 0;
        }
        if (!rc)
            finish(&x);
        else if (x.exp_id > 0)
            set_experiment_status(&x, "failed");
    }
    cleanup(&x);
    return rc;
}
