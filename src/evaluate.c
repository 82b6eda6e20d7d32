/*
 * evaluate.c — computes the evaluation of one experiment (evaluate.h) from
 * the store: runs one by one (summary, actions, per-second power), then
 * groups (variant × phase statistics, software-induced energy, efficiency,
 * targets, load check, Blue Angel block), comparisons, controls, warnings.
 * The report writers only format what is here.
 */
#include "evaluate.h"
#include "oscar.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "measure.h"
#include "spec.h"

#define MB 1e6

static void warn(jb_eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(jb_eval *ev, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < ev->nwarnings; i++)
        if (!strcmp(ev->warnings[i], buf)) return;
    char **nw = realloc(ev->warnings, (ev->nwarnings + 1) * sizeof *nw);
    if (!nw) return;
    ev->warnings = nw;
    ev->warnings[ev->nwarnings] = strdup(buf);
    if (ev->warnings[ev->nwarnings]) ev->nwarnings++;
}

int jb_eval_parse_target(const char *s, jb_eval_target *t, jb_err *err)
{
    memset(t, 0, sizeof *t);
    char *end;
    if (!strncmp(s, "epoch:", 6)) {
        long k = strtol(s + 6, &end, 10);
        if (end == s + 6 || *end || k < 0 || k > 1000000)
            return jb_errf(err, "target '%s': expected epoch:K with K a whole number >= 0", s);
        t->is_epoch = true;
        t->epoch = (int)k;
        snprintf(t->label, sizeof t->label, "epoch %d", t->epoch);
        return 0;
    }
    const char *ge = strstr(s, ">=");
    size_t nl = ge ? (size_t)(ge - s) : 0;
    if (!ge || nl == 0 || nl >= sizeof t->metric)
        return jb_errf(err,
                       "target '%s': expected epoch:K or METRIC>=VALUE "
                       "(e.g. val_accuracy>=0.8)",
                       s);
    double v = strtod(ge + 2, &end);
    if (end == ge + 2 || *end || !isfinite(v))
        return jb_errf(err, "target '%s': the threshold after >= is not a number", s);
    memcpy(t->metric, s, nl);
    t->threshold = v;
    snprintf(t->label, sizeof t->label, "%s >= %g", t->metric, v);
    return 0;
}

/* ---- reading the experiment ---- */

static int pick_experiment(jb_store *st, const jb_eval_opts *o, jb_eval *ev, jb_err *err)
{
    sqlite3_stmt *q;
    const char *sql =
        o->experiment_id > 0
            ? "SELECT e.id, e.name, e.kind, e.status, e.spec_path, h.hostname, h.cpu_model, "
              "h.cores, h.ram_bytes, h.kernel, h.os, h.jb_version, h.extra FROM experiment e "
              "LEFT JOIN host h ON h.id=e.host_id WHERE e.id=?"
            : "SELECT e.id, e.name, e.kind, e.status, e.spec_path, h.hostname, h.cpu_model, "
              "h.cores, h.ram_bytes, h.kernel, h.os, h.jb_version, h.extra FROM experiment e "
              "LEFT JOIN host h ON h.id=e.host_id ORDER BY (e.kind='measure'), e.id DESC "
              "LIMIT 1";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: not a readable joulebench store (%s)", st->path,
                       sqlite3_errmsg(st->db));
    if (o->experiment_id > 0) sqlite3_bind_int64(q, 1, o->experiment_id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return jb_errf(err, "%s: reading experiments: %s", st->path, sqlite3_errmsg(st->db));
        if (o->experiment_id > 0)
            return jb_errf(err,
                           "%s: no experiment with id %lld; list them with: sqlite3 %s "
                           "'SELECT id, name FROM experiment'",
                           st->path, (long long)o->experiment_id, st->path);
        return jb_errf(err,
                       "%s: the store holds no experiment yet; record one with "
                       "'joulebench run SPEC' or 'joulebench measure -- CMD'",
                       st->path);
    }
    ev->experiment_id = sqlite3_column_int64(q, 0);
    snprintf(ev->name, sizeof ev->name, "%s", jb_col_text(q, 1));
    snprintf(ev->kind, sizeof ev->kind, "%s", jb_col_text(q, 2));
    snprintf(ev->status, sizeof ev->status, "%s", jb_col_text(q, 3));
    snprintf(ev->spec_path, sizeof ev->spec_path, "%s", jb_col_text(q, 4));
    snprintf(ev->host, sizeof ev->host, "%s", jb_col_text(q, 5));
    snprintf(ev->cpu_model, sizeof ev->cpu_model, "%s", jb_col_text(q, 6));
    ev->cores = sqlite3_column_int(q, 7);
    ev->ram_b = sqlite3_column_double(q, 8);
    snprintf(ev->kernel, sizeof ev->kernel, "%s", jb_col_text(q, 9));
    snprintf(ev->os, sizeof ev->os, "%s", jb_col_text(q, 10));
    snprintf(ev->jb_version, sizeof ev->jb_version, "%s", jb_col_text(q, 11));
    snprintf(ev->host_extra, sizeof ev->host_extra, "%s", jb_col_text(q, 12));
    sqlite3_finalize(q);
    return 0;
}

static void add_metric(jb_eval *ev, const char *name)
{
    for (int i = 0; i < ev->nmetrics; i++)
        if (!strcmp(ev->metrics[i], name)) return;
    if (ev->nmetrics < JB_EVAL_MAX_METRICS)
        snprintf(ev->metrics[ev->nmetrics++], sizeof ev->metrics[0], "%s", name);
}

static void add_target(jb_eval *ev, const jb_eval_target *t)
{
    for (int i = 0; i < ev->ntargets; i++)
        if (!strcmp(ev->targets[i].label, t->label)) return;
    if (ev->ntargets < JB_EVAL_MAX_TARGETS) ev->targets[ev->ntargets++] = *t;
}

/* Metrics, targets and carbon intensity from the stored spec and the options. */
static int read_spec(jb_store *st, const jb_eval_opts *o, jb_eval *ev, jb_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT spec_text FROM experiment WHERE id=?", -1, &q, NULL) !=
        SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, ev->experiment_id);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        const char *text = jb_col_text(q, 0);
        jb_spec *sp = NULL;
        jb_err perr = {{0}};
        if (*text && jb_spec_parse(text, strlen(text), ev->spec_path[0] ? ev->spec_path : "spec",
                                   &sp, &perr) == 0) {
            for (size_t i = 0; i < sp->n_metrics; i++)
                add_metric(ev, sp->metrics[i]);
            for (size_t i = 0; i < sp->n_targets; i++) {
                jb_eval_target t = {0};
                t.is_epoch = sp->targets[i].kind == JB_TARGET_EPOCH;
                if (t.is_epoch) {
                    t.epoch = sp->targets[i].epoch;
                    snprintf(t.label, sizeof t.label, "epoch %d", t.epoch);
                } else {
                    snprintf(t.metric, sizeof t.metric, "%s", sp->targets[i].metric);
                    t.threshold = sp->targets[i].threshold;
                    snprintf(t.label, sizeof t.label, "%s >= %g", t.metric, t.threshold);
                }
                add_target(ev, &t);
            }
            if (sp->has_carbon) {
                ev->carbon_g_per_kwh = sp->carbon_intensity;
                snprintf(ev->carbon_source, sizeof ev->carbon_source, "%s",
                         sp->carbon_source ? sp->carbon_source : "spec");
            }
            jb_spec_free(sp);
        } else if (*text) {
            warn(ev,
                 "the stored spec could not be read again (%s): metrics, targets and carbon "
                 "intensity from it are missing; give them with --metric/--target/--carbon",
                 perr.msg);
        }
    }
    sqlite3_finalize(q);
    for (int i = 0; i < o->nmetrics; i++)
        add_metric(ev, o->metrics[i]);
    for (int i = 0; i < o->ntargets; i++) {
        jb_eval_target t;
        if (jb_eval_parse_target(o->targets[i], &t, err)) return -1;
        add_target(ev, &t);
    }
    if (o->carbon_g_per_kwh > 0) {
        ev->carbon_g_per_kwh = o->carbon_g_per_kwh;
        snprintf(ev->carbon_source, sizeof ev->carbon_source, "command line");
    }
    return 0;
}

/* Metric names the runs sent, when neither spec nor options name any. */
static void auto_metrics(jb_store *st, jb_eval *ev)
{
    if (ev->nmetrics) return;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT DISTINCT m.name FROM marker m JOIN run r ON r.id=m.run_id "
                           "WHERE m.kind='metric' AND (r.experiment_id=?1 OR (?1=0 AND "
                           "r.experiment_id IN (SELECT id FROM experiment WHERE kind='measure')))"
                           " ORDER BY m.name LIMIT 8",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(q, 1, strcmp(ev->kind, "measure") ? ev->experiment_id : 0);
    while (sqlite3_step(q) == SQLITE_ROW)
        add_metric(ev, jb_col_text(q, 0));
    sqlite3_finalize(q);
}

/* ---- one run ---- */

static double quality_p95(const char *qj, double *interval_ms, bool *read_errors)
{
    json_object *q = json_tokener_parse(qj), *v;
    double p95 = NAN;
    *interval_ms = NAN;
    *read_errors = false;
    if (!q) return NAN;
    if (json_object_object_get_ex(q, "interval_ms", &v)) *interval_ms = json_object_get_double(v);
    /* null (or -1 in older stores): too few samples to know */
    if (json_object_object_get_ex(q, "interval_p95_ms", &v) &&
        !json_object_is_type(v, json_type_null))
        p95 = json_object_get_double(v);
    if (!(p95 > 0)) p95 = NAN;
    if (json_object_object_get_ex(q, "read_errors", &v) && json_object_is_type(v, json_type_object))
        *read_errors = json_object_object_length(v) > 0;
    json_object_put(q);
    return p95;
}

/* The epoch action name: "epoch" if any, else the outermost indexed action. */
static const char *epoch_name(const jb_actions *a)
{
    const char *best = NULL;
    int depth = 1 << 30;
    for (size_t i = 0; i < a->n; i++) {
        if (!a->actions[i].has_index) continue;
        if (!strcmp(a->actions[i].name, "epoch")) return "epoch";
        if (a->actions[i].depth < depth) {
            depth = a->actions[i].depth;
            best = a->actions[i].name;
        }
    }
    return best;
}

static void run_actions(jb_eval *ev, jb_eval_run *r, const jb_actions_report *ar)
{
    const jb_actions *a = &ar->actions;
    for (int m = 0; m < ev->nmetrics; m++)
        for (size_t k = 0; k < a->nmetrics; k++)
            if (!strcmp(a->metrics[k].name, ev->metrics[m])) r->metric[m] = a->metrics[k].value;
    const char *en = epoch_name(a);
    r->ep = calloc(ar->nidx ? ar->nidx : 1, sizeof *r->ep);
    for (size_t i = 0; en && r->ep && i < ar->nidx; i++) {
        const jb_index_row *x = &ar->idx[i];
        if (strcmp(a->actions[x->action].name, en)) continue;
        jb_eval_epoch *e = &r->ep[r->nep++];
        e->index = x->index;
        e->energy_j = x->energy_j;
        e->cumulative_j = x->cumulative_j;
        e->duration_s = x->duration_s;
        for (int m = 0; m < ev->nmetrics; m++) {
            const jb_action_metric *mm = jb_actions_metric_of(a, x->action, ev->metrics[m]);
            e->metric[m] = mm ? mm->value : NAN;
        }
    }
    r->act = calloc(ar->nrows ? ar->nrows : 1, sizeof *r->act);
    for (size_t i = 0; r->act && i < ar->nrows; i++) {
        if (ar->rows[i].depth != 0) continue;
        jb_eval_action *x = &r->act[r->nact++];
        snprintf(x->name, sizeof x->name, "%s", ar->rows[i].name);
        x->count = ar->rows[i].count;
        x->energy_j = ar->rows[i].energy_j;
        x->duration_s = ar->rows[i].duration_s;
    }
    size_t nb = 0;
    for (size_t i = 0; i < a->n; i++)
        nb += a->actions[i].depth == 0;
    if (nb > 200) nb = 200;
    r->band = calloc(nb ? nb : 1, sizeof *r->band);
    for (size_t i = 0; r->band && i < a->n && r->nband < nb; i++) {
        if (a->actions[i].depth) continue;
        jb_eval_band *b = &r->band[r->nband++];
        b->begin_s = (double)(a->actions[i].begin_ns - r->start_ns) / 1e9;
        b->end_s = (double)(a->actions[i].end_ns - r->start_ns) / 1e9;
        snprintf(b->name, sizeof b->name, "%s", a->actions[i].name);
    }
    for (int t = 0; t < ev->ntargets; t++) {
        const jb_eval_target *tg = &ev->targets[t];
        if (!tg->is_epoch) continue;
        for (size_t e = 0; e < r->nep; e++)
            if (r->ep[e].index == tg->epoch) r->target_j[t] = r->ep[e].cumulative_j;
    }
}

/* Per-second power and metric-target energies from the headline channels. */
static int run_series(jb_store *st, jb_eval *ev, jb_eval_run *r, const jb_run_summary *rs,
                      const jb_actions_report *ar, jb_err *err)
{
    size_t nsec = r->duration_s >= 1 ? (size_t)floor(r->duration_s) : 0;
    r->ps = calloc(nsec ? nsec : 1, sizeof *r->ps);
    if (!r->ps) return jb_errf(err, "out of memory");
    r->nps = nsec;
    double *acc = calloc(nsec ? nsec : 1, sizeof *acc);
    if (!acc) return jb_errf(err, "out of memory");
    for (int c = 0; c < rs->nch; c++) {
        if (!rs->ch[c].headline) continue;
        jb_series s;
        if (jb_series_load(st, rs->ch[c].id, &s, err)) {
            free(acc);
            return -1;
        }
        for (size_t k = 0; k < nsec; k++) {
            int64_t a = r->start_ns + (int64_t)k * 1000000000LL;
            acc[k] += jb_series_energy(&s, rs->ch[c].kind, a, a + 1000000000LL, NULL);
        }
        for (int t = 0; ar && t < ev->ntargets; t++) {
            const jb_eval_target *tg = &ev->targets[t];
            if (tg->is_epoch) continue;
            const jb_actions *A = &ar->actions;
            for (size_t k = 0; k < A->nmetrics; k++)
                if (!strcmp(A->metrics[k].name, tg->metric) &&
                    A->metrics[k].value >= tg->threshold) {
                    double e =
                        jb_series_energy(&s, rs->ch[c].kind, r->start_ns, A->metrics[k].t_ns, NULL);
                    r->target_j[t] = (isnan(r->target_j[t]) ? 0 : r->target_j[t]) + e;
                    break;
                }
        }
        jb_series_free(&s);
    }
    for (size_t k = 0; k < nsec; k++)
        r->ps[k] = (float)acc[k];
    free(acc);
    return 0;
}

static int evaluate_run(jb_store *st, jb_eval *ev, jb_eval_run *r, jb_run_summary *rs, jb_err *err)
{
    if (jb_run_summarize(st, r->id, rs, err)) return -1;
    r->duration_s = rs->duration_s;
    r->has_energy = rs->has_headline;
    r->estimated = rs->headline_estimated;
    r->energy_j = rs->has_headline ? rs->headline_j : NAN;
    r->mean_power_w =
        rs->has_headline && rs->duration_s > 0 ? rs->headline_j / rs->duration_s : NAN;
    snprintf(r->headline, sizeof r->headline, "%s", rs->headline_desc);
    r->min_window_s = rs->min_window_s;
    /* Imported OSCAR runs keep OSCAR's own definition: E = Σ P / 3600 over the
     * 1 s rows of the run, mean power = the mean of those rows. */
    double oscar_wh;
    int64_t oscar_rows;
    if (jb_oscar_run_energy(st, r->id, &oscar_wh, &oscar_rows, NULL) == 1 && oscar_rows > 0) {
        r->has_energy = true;
        r->energy_j = oscar_wh * 3600.0;
        r->mean_power_w = r->energy_j / (double)oscar_rows;
        snprintf(r->headline, sizeof r->headline, "%s (OSCAR rule: sum of 1 s means / 3600)",
                 rs->headline_desc);
    }
    r->cpu_pct = NAN;
    r->mem_used_b = NAN;
    for (int c = 0; c < rs->nch; c++) {
        if (!strcmp(rs->ch[c].name, "cpu/total")) r->cpu_pct = rs->cpu_pct;
        if (!strcmp(rs->ch[c].name, "memory/used")) r->mem_used_b = rs->mem_used_mean_b;
    }
    r->disk_read_b = rs->disk_read_b;
    r->disk_written_b = rs->disk_written_b;
    r->net_rx_b = rs->net_rx_b;
    r->net_tx_b = rs->net_tx_b;
    r->sie_power_j = r->sie_power_se = r->sie_oscar_j = r->sie_oscar_se = NAN;
    for (int m = 0; m < JB_EVAL_MAX_METRICS; m++)
        r->metric[m] = NAN;
    for (int t = 0; t < JB_EVAL_MAX_TARGETS; t++)
        r->target_j[t] = NAN;
    double iv;
    bool rerr;
    r->interval_p95_ms = quality_p95(rs->quality_json, &iv, &rerr);
    if (isfinite(iv) && isfinite(r->interval_p95_ms) && fabs(r->interval_p95_ms - iv) > 0.2 * iv)
        warn(ev,
             "poor sampling in run %lld (%s %s #%d): interval p95 %.3g ms against %.3g ms "
             "requested; use a longer interval or a quieter machine",
             (long long)r->id, r->variant[0] ? r->variant : "-", r->phase, r->rep,
             r->interval_p95_ms, iv);
    if (rerr)
        warn(ev, "read errors (gaps) in run %lld (%s %s #%d): see run.quality", (long long)r->id,
             r->variant[0] ? r->variant : "-", r->phase, r->rep);
    err->msg[0] = 0;
    jb_actions_report *ar = jb_measure_actions(st, rs, err);
    if (!ar && err->msg[0]) return -1;
    if (ar) run_actions(ev, r, ar);
    int rc = run_series(st, ev, r, rs, ar, err);
    jb_measure_actions_free(ar);
    return rc;
}

static int load_runs(jb_store *st, jb_eval *ev, jb_err *err)
{
    bool all_measure = !strcmp(ev->kind, "measure") && ev->experiment_id == -1;
    sqlite3_stmt *q;
    const char *sql =
        all_measure ? "SELECT r.id, r.variant, r.phase, r.rep, r.seq, r.status, r.start_ns, "
                      "r.end_ns, r.exit_code, r.interval_ns, r.controls, r.note, e.name "
                      "FROM run r JOIN experiment e ON e.id=r.experiment_id "
                      "WHERE e.kind='measure' ORDER BY r.start_ns, r.id"
                    : "SELECT r.id, r.variant, r.phase, r.rep, r.seq, r.status, r.start_ns, "
                      "r.end_ns, r.exit_code, r.interval_ns, r.controls, r.note, e.name "
                      "FROM run r JOIN experiment e ON e.id=r.experiment_id "
                      "WHERE r.experiment_id=? AND r.phase <> 'pilot' "
                      "ORDER BY r.seq, r.start_ns, r.id"; /* pilots only size auto durations */
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: reading runs: %s", st->path, sqlite3_errmsg(st->db));
    if (!all_measure) sqlite3_bind_int64(q, 1, ev->experiment_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (ev->nruns == cap) {
            cap = cap ? cap * 2 : 32;
            jb_eval_run *nr = realloc(ev->runs, cap * sizeof *nr);
            if (!nr) {
                sqlite3_finalize(q);
                return jb_errf(err, "out of memory reading runs");
            }
            ev->runs = nr;
        }
        jb_eval_run *r = &ev->runs[ev->nruns++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(q, 0);
        const char *variant = jb_col_text(q, 1);
        const char *phase = jb_col_text(q, 2);
        /* a plain `measure` run is named after its experiment */
        snprintf(r->variant, sizeof r->variant, "%s",
                 *variant ? variant : (!strcmp(phase, "scenario") ? jb_col_text(q, 12) : ""));
        snprintf(r->phase, sizeof r->phase, "%s", *phase ? phase : "scenario");
        r->rep = sqlite3_column_int(q, 3);
        r->seq = sqlite3_column_int(q, 4);
        snprintf(r->status, sizeof r->status, "%s", jb_col_text(q, 5));
        r->start_ns = sqlite3_column_int64(q, 6);
        r->end_ns = sqlite3_column_int64(q, 7);
        r->exit_code = sqlite3_column_int(q, 8);
        r->interval_ns = sqlite3_column_int64(q, 9);
        snprintf(r->controls, sizeof r->controls, "%s", jb_col_text(q, 10));
        snprintf(r->note, sizeof r->note, "%s", jb_col_text(q, 11));
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return jb_errf(err, "%s: reading runs: %s", st->path, sqlite3_errmsg(st->db));
    return 0;
}

/* ---- groups ---- */

static jb_eval_group *group_get(jb_eval *ev, const char *variant, const char *phase)
{
    for (size_t i = 0; i < ev->ngroups; i++)
        if (!strcmp(ev->groups[i].variant, variant) && !strcmp(ev->groups[i].phase, phase))
            return &ev->groups[i];
    jb_eval_group *ng = realloc(ev->groups, (ev->ngroups + 1) * sizeof *ng);
    if (!ng) return NULL;
    ev->groups = ng;
    jb_eval_group *g = &ev->groups[ev->ngroups++];
    memset(g, 0, sizeof *g);
    snprintf(g->variant, sizeof g->variant, "%s", variant);
    snprintf(g->phase, sizeof g->phase, "%s", phase);
    if (!strcmp(phase, "scenario"))
        snprintf(g->label, sizeof g->label, "%s", *variant ? variant : "scenario");
    else if (*variant)
        snprintf(g->label, sizeof g->label, "%s (%s)", phase, variant);
    else
        snprintf(g->label, sizeof g->label, "%s", phase);
    g->load_sd_w = NAN;
    g->carbon_g_mean = NAN;
    return g;
}

static int phase_rank(const char *p)
{
    return !strcmp(p, "baseline") ? 0 : !strcmp(p, "idle") ? 1 : 2;
}

static void make_groups(jb_eval *ev)
{
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < ev->nruns; i++)
            if (phase_rank(ev->runs[i].phase) == pass)
                group_get(ev, ev->runs[i].variant, ev->runs[i].phase);
}

static bool in_group(const jb_eval_run *r, const jb_eval_group *g)
{
    return !strcmp(r->variant, g->variant) && !strcmp(r->phase, g->phase);
}

static bool usable(const jb_eval_run *r)
{
    return !strcmp(r->status, "ok");
}

typedef double (*run_value)(const jb_eval_run *r, const jb_eval *ev, int k);

static double v_energy(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->energy_j / 3600;
}
static double v_duration(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->duration_s;
}
static double v_power(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->mean_power_w;
}
static double v_sie_p(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->sie_power_j / 3600;
}
static double v_sie_o(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->sie_oscar_j / 3600;
}
static double v_cpu(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->cpu_pct;
}
static double v_mem(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->mem_used_b / MB;
}
static double v_dr(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->disk_read_b / MB;
}
static double v_dw(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->disk_written_b / MB;
}
static double v_rx(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->net_rx_b / MB;
}
static double v_tx(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->net_tx_b / MB;
}
static double v_carbon(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return ev->carbon_g_per_kwh > 0 ? r->energy_j / 3.6e6 * ev->carbon_g_per_kwh : NAN;
}
static double v_metric(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->metric[k];
}
static double v_eff(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->energy_j > 0 ? r->metric[k] / (r->energy_j / 3600) : NAN;
}
static double v_eff_sie(const jb_eval_run *r, const jb_eval *ev, int k)
{
    return r->sie_power_j > 0 ? r->metric[k] / (r->sie_power_j / 3600) : NAN;
}

/* The finite values of one quantity over a group's ok runs (caller frees). */
static double *group_values(const jb_eval *ev, const jb_eval_group *g, run_value f, int k,
                            size_t *n)
{
    double *x = malloc((ev->nruns ? ev->nruns : 1) * sizeof *x);
    *n = 0;
    for (size_t i = 0; x && i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        if (!in_group(r, g) || !usable(r)) continue;
        double v = f(r, ev, k);
        if (isfinite(v)) x[(*n)++] = v;
    }
    return x;
}

static void add_stat(jb_eval *ev, jb_eval_group *g, const char *key, const char *label, run_value f,
                     int k)
{
    if (g->nst >= JB_EVAL_MAX_STATS) return;
    size_t n;
    double *x = group_values(ev, g, f, k, &n);
    if (!x || !n) {
        free(x);
        return;
    }
    jb_eval_stat *s = &g->st[g->nst++];
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->label, sizeof s->label, "%s", label);
    jb_err e;
    s->ok = jb_stats_describe(x, n, &s->d, &e) == 0;
    free(x);
}

/* Software-induced energy of every ok run with energy, against the baseline. */
static void software_induced(jb_eval *ev)
{
    const jb_eval_group *b = jb_eval_group_find(ev, "", "baseline");
    size_t nb = 0;
    double *pb = NULL, *eb = NULL, tb = 0;
    if (b) {
        pb = group_values(ev, b, v_power, 0, &nb);
        size_t ne;
        eb = group_values(ev, b, v_energy, 0, &ne);
        double *t = group_values(ev, b, v_duration, 0, &ne);
        for (size_t i = 0; t && i < ne; i++)
            tb += t[i] / ne;
        free(t);
    }
    if (!nb) {
        free(pb);
        free(eb);
        warn(ev, "no usable baseline run: software-induced energy and the Blue Angel block "
                 "cannot be computed (add a baseline to the spec: baseline reps > 0)");
        return;
    }
    for (size_t gi = 0; gi < ev->ngroups; gi++) {
        jb_eval_group *g = &ev->groups[gi];
        if (!strcmp(g->phase, "baseline")) continue;
        size_t n = 0;
        jb_eval_run **rr = malloc(ev->nruns * sizeof *rr);
        double *e = malloc(ev->nruns * sizeof *e), *t = malloc(ev->nruns * sizeof *t);
        double *s = malloc(ev->nruns * sizeof *s), *se = malloc(ev->nruns * sizeof *se);
        if (!rr || !e || !t || !s || !se) goto next;
        for (size_t i = 0; i < ev->nruns; i++) {
            jb_eval_run *r = &ev->runs[i];
            if (!in_group(r, g) || !usable(r) || !isfinite(r->energy_j)) continue;
            rr[n] = r;
            e[n] = r->energy_j / 3600;
            t[n++] = r->duration_s / 3600;
        }
        if (!n) goto next;
        jb_err er;
        if (!jb_stats_sie_power(e, t, n, pb, nb, s, se, &g->sie_power, &er)) {
            g->has_sie = true;
            for (size_t i = 0; i < n; i++) {
                rr[i]->sie_power_j = s[i] * 3600;
                rr[i]->sie_power_se = se[i] * 3600;
                g->n_negative_sie += s[i] < 0;
            }
        }
        if (!jb_stats_sie_oscar(e, n, eb, nb, s, se, &g->sie_oscar, &er)) {
            for (size_t i = 0; i < n; i++) {
                rr[i]->sie_oscar_j = s[i] * 3600;
                rr[i]->sie_oscar_se = se[i] * 3600;
            }
            double tm = 0;
            for (size_t i = 0; i < n; i++)
                tm += t[i] * 3600 / n;
            g->sie_oscar_equal_length = tb > 0 && fabs(tm - tb) <= 0.05 * tb;
        }
        if (g->n_negative_sie)
            warn(ev,
                 "%s: %d run(s) with negative software-induced energy (shown as they are: "
                 "the run used less than the baseline power; check the baseline)",
                 g->label, g->n_negative_sie);
    next:
        free(rr);
        free(e);
        free(t);
        free(s);
        free(se);
    }
    free(pb);
    free(eb);
}

static void group_stats(jb_eval *ev, jb_eval_group *g)
{
    add_stat(ev, g, "energy_wh", "energy (Wh)", v_energy, 0);
    add_stat(ev, g, "duration_s", "duration (s)", v_duration, 0);
    add_stat(ev, g, "mean_power_w", "mean power (W)", v_power, 0);
    add_stat(ev, g, "sie_power_wh", "software-induced energy, power-based (Wh)", v_sie_p, 0);
    add_stat(ev, g, "sie_oscar_wh", "software-induced energy, OSCAR form (Wh)", v_sie_o, 0);
    add_stat(ev, g, "carbon_g", "carbon (g CO2e, from grid intensity)", v_carbon, 0);
    add_stat(ev, g, "cpu_pct", "CPU (%)", v_cpu, 0);
    add_stat(ev, g, "mem_used_mb", "RAM used (MB)", v_mem, 0);
    add_stat(ev, g, "disk_read_mb", "disk read (MB)", v_dr, 0);
    add_stat(ev, g, "disk_written_mb", "disk written (MB)", v_dw, 0);
    add_stat(ev, g, "net_rx_mb", "network received (MB)", v_rx, 0);
    add_stat(ev, g, "net_tx_mb", "network sent (MB)", v_tx, 0);
    for (int m = 0; m < ev->nmetrics; m++) {
        char key[96], label[128];
        snprintf(key, sizeof key, "%s", ev->metrics[m]);
        snprintf(label, sizeof label, "%s (final)", ev->metrics[m]);
        add_stat(ev, g, key, label, v_metric, m);
        snprintf(key, sizeof key, "%s_per_wh", ev->metrics[m]);
        snprintf(label, sizeof label, "%s per Wh (gross)", ev->metrics[m]);
        add_stat(ev, g, key, label, v_eff, m);
        snprintf(key, sizeof key, "%s_per_wh_sie", ev->metrics[m]);
        snprintf(label, sizeof label, "%s per Wh (software-induced)", ev->metrics[m]);
        add_stat(ev, g, key, label, v_eff_sie, m);
    }
    char out[512] = "";
    for (int i = 0; i < g->nst; i++) {
        if (!g->st[i].ok || !g->st[i].d.n_outliers) continue;
        size_t l = strlen(out);
        snprintf(out + l, sizeof out - l, "%s%s (%zu)", l ? ", " : "", g->st[i].key,
                 g->st[i].d.n_outliers);
    }
    if (out[0]) warn(ev, "%s: Tukey outliers flagged (kept in the statistics): %s", g->label, out);
    const jb_eval_stat *c = jb_eval_stat_find(g, "carbon_g");
    if (c) g->carbon_g_mean = c->d.mean;
}

static void group_targets(jb_eval *ev, jb_eval_group *g)
{
    for (int t = 0; t < ev->ntargets; t++) {
        double *x = malloc((ev->nruns ? ev->nruns : 1) * sizeof *x);
        size_t n = 0;
        for (size_t i = 0; x && i < ev->nruns; i++) {
            const jb_eval_run *r = &ev->runs[i];
            if (!in_group(r, g) || !usable(r)) continue;
            if (isfinite(r->target_j[t]))
                x[n++] = r->target_j[t] / 3600;
            else
                g->target_never[t]++;
        }
        g->target_reached[t] = (int)n;
        jb_err e;
        g->target_ok[t] = n && !jb_stats_describe(x, n, &g->target_wh[t], &e);
        free(x);
    }
}

/* Per-second mean across runs and OSCAR's load-generation check. */
static void group_load(jb_eval *ev, jb_eval_group *g)
{
    size_t len = 0;
    for (size_t i = 0; i < ev->nruns; i++)
        if (in_group(&ev->runs[i], g) && usable(&ev->runs[i]) && ev->runs[i].nps > len)
            len = ev->runs[i].nps;
    if (!len) return;
    g->mean_ps = calloc(len, sizeof *g->mean_ps);
    if (!g->mean_ps) return;
    g->n_mean_ps = len;
    double sd_sum = 0;
    size_t sd_n = 0;
    for (size_t k = 0; k < len; k++) {
        double sum = 0, sum2 = 0;
        size_t n = 0;
        for (size_t i = 0; i < ev->nruns; i++) {
            const jb_eval_run *r = &ev->runs[i];
            if (!in_group(r, g) || !usable(r) || k >= r->nps || !isfinite(r->ps[k])) continue;
            sum += r->ps[k];
            sum2 += (double)r->ps[k] * r->ps[k];
            n++;
        }
        g->mean_ps[k] = n ? (float)(sum / n) : NAN;
        if (n >= 2) {
            double var = (sum2 - sum * sum / n) / (n - 1);
            sd_sum += sqrt(var > 0 ? var : 0);
            sd_n++;
        }
    }
    g->load_sd_w = sd_n ? sd_sum / sd_n : NAN;
}

static void group_epochs(jb_eval *ev, jb_eval_group *g)
{
    int64_t maxi = -1;
    for (size_t i = 0; i < ev->nruns; i++)
        if (in_group(&ev->runs[i], g) && usable(&ev->runs[i]))
            for (size_t e = 0; e < ev->runs[i].nep; e++)
                if (ev->runs[i].ep[e].index > maxi && ev->runs[i].ep[e].index < 100000)
                    maxi = ev->runs[i].ep[e].index;
    if (maxi < 0) return;
    g->ep = calloc((size_t)maxi + 1, sizeof *g->ep);
    int *cnt = calloc((size_t)maxi + 1, sizeof *cnt);
    int(*mc)[JB_EVAL_MAX_METRICS] = calloc((size_t)maxi + 1, sizeof *mc);
    if (!g->ep || !cnt || !mc) goto out;
    for (size_t i = 0; i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        if (!in_group(r, g) || !usable(r)) continue;
        for (size_t e = 0; e < r->nep; e++) {
            int64_t k = r->ep[e].index;
            if (k < 0 || k > maxi) continue;
            cnt[k]++;
            g->ep[k].energy_j += r->ep[e].energy_j;
            g->ep[k].cumulative_j += r->ep[e].cumulative_j;
            g->ep[k].duration_s += r->ep[e].duration_s;
            for (int m = 0; m < ev->nmetrics; m++)
                if (isfinite(r->ep[e].metric[m])) {
                    g->ep[k].metric[m] += r->ep[e].metric[m];
                    mc[k][m]++;
                }
        }
    }
    for (int64_t k = 0; k <= maxi; k++) {
        if (!cnt[k]) continue;
        jb_eval_epoch *d = &g->ep[g->nep++];
        *d = g->ep[k];
        d->index = k;
        d->energy_j /= cnt[k];
        d->cumulative_j /= cnt[k];
        d->duration_s /= cnt[k];
        for (int m = 0; m < JB_EVAL_MAX_METRICS; m++)
            d->metric[m] = m < ev->nmetrics && mc[k][m] ? d->metric[m] / mc[k][m] : NAN;
    }
out:
    free(cnt);
    free(mc);
}

static double stat_mean(const jb_eval_group *g, const char *key)
{
    const jb_eval_stat *s = g ? jb_eval_stat_find(g, key) : NULL;
    return s ? s->d.mean : NAN;
}

static void util_row(jb_eval_group *g, const char *res, const char *lu, const char *uu, double full,
                     double base, double load, double t)
{
    jb_eval_util *u = &g->util[g->nutil++];
    snprintf(u->resource, sizeof u->resource, "%s", res);
    snprintf(u->load_unit, sizeof u->load_unit, "%s", lu);
    snprintf(u->util_unit, sizeof u->util_unit, "%s", uu);
    u->full = full;
    u->base = base;
    u->load = load;
    u->net = load - base;
    u->alloc = full > base ? u->net / (full - base) : NAN;
    u->effective = u->net + (isfinite(u->alloc) ? u->alloc * base : 0);
    u->utilisation = u->effective * t;
}

static double rate(const jb_eval_group *g, const char *k1, const char *k2)
{
    double t = stat_mean(g, "duration_s");
    double a = stat_mean(g, k1), b = stat_mean(g, k2);
    return t > 0 ? ((isfinite(a) ? a : 0) + (isfinite(b) ? b : 0)) / t : NAN;
}

/* Blue Angel hardware utilisation of the scenario and idle groups. */
static void blue_angel(jb_eval *ev, const jb_eval_opts *o, jb_eval_group *g)
{
    const jb_eval_group *b = jb_eval_group_find(ev, "", "baseline");
    if (!b || !strcmp(g->phase, "baseline") || !b->n_ok) return;
    double t = stat_mean(g, "duration_s");
    util_row(g, "cpu", "%", "%·s", 100, stat_mean(b, "cpu_pct"), stat_mean(g, "cpu_pct"), t);
    util_row(g, "ram", "MB", "MB·s", ev->ram_b > 0 ? ev->ram_b / MB : NAN,
             stat_mean(b, "mem_used_mb"), stat_mean(g, "mem_used_mb"), t);
    util_row(g, "net", "MB/s", "MB", o->net_full_mbps > 0 ? o->net_full_mbps : NAN,
             rate(b, "net_rx_mb", "net_tx_mb"), rate(g, "net_rx_mb", "net_tx_mb"), t);
    util_row(g, "disk", "MB/s", "MB", o->disk_full_mbps > 0 ? o->disk_full_mbps : NAN,
             rate(b, "disk_read_mb", "disk_written_mb"), rate(g, "disk_read_mb", "disk_written_mb"),
             t);
}

/* ---- comparisons ---- */

static void compare_pair(jb_eval *ev, const jb_eval_group *a, const jb_eval_group *b,
                         const char *key, const char *label, run_value f, int k, const char *verb,
                         const char *quantity)
{
    size_t na, nb;
    double *xa = group_values(ev, a, f, k, &na), *xb = group_values(ev, b, f, k, &nb);
    jb_eval_cmp *nc = realloc(ev->cmps, (ev->ncmps + 1) * sizeof *nc);
    if (!nc || !xa || !xb) {
        if (nc) ev->cmps = nc;
        free(xa);
        free(xb);
        return;
    }
    ev->cmps = nc;
    jb_eval_cmp *c = &ev->cmps[ev->ncmps++];
    memset(c, 0, sizeof *c);
    snprintf(c->a, sizeof c->a, "%s", a->label);
    snprintf(c->b, sizeof c->b, "%s", b->label);
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->label, sizeof c->label, "%s", label);
    snprintf(c->verb, sizeof c->verb, "%s", verb);
    snprintf(c->quantity, sizeof c->quantity, "%s", quantity);
    c->p_holm = NAN;
    jb_err e;
    if (na < 2 || nb < 2) {
        snprintf(c->note, sizeof c->note, "needs at least 2 runs per variant (have %zu and %zu)",
                 na, nb);
    } else if (jb_stats_compare(xa, na, xb, nb, &c->c, &e)) {
        snprintf(c->note, sizeof c->note, "%s", e.msg);
    } else {
        c->ok = true;
        snprintf(c->note, sizeof c->note, "%s", c->c.note);
    }
    free(xa);
    free(xb);
}

/* The efficiency metrics (val_accuracy, ...) and metric per Wh, where both
 * variants report the metric. */
static void compare_metrics(jb_eval *ev, const jb_eval_group *a, const jb_eval_group *b)
{
    for (int k = 0; k < ev->nmetrics; k++) {
        size_t na, nb;
        double *xa = group_values(ev, a, v_metric, k, &na),
               *xb = group_values(ev, b, v_metric, k, &nb);
        free(xa);
        free(xb);
        if (!na || !nb) continue;
        const char *m = ev->metrics[k];
        char key[96], label[128], qty[112];
        compare_pair(ev, a, b, m, m, v_metric, k, "reached", m);
        snprintf(key, sizeof key, "%s_per_wh", m);
        snprintf(label, sizeof label, "%s per Wh", m);
        snprintf(qty, sizeof qty, "%s per Wh", m);
        compare_pair(ev, a, b, key, label, v_eff, k, "reached", qty);
    }
}

static void sentences(jb_eval *ev)
{
    size_t m = 0;
    double *p = malloc((ev->ncmps ? ev->ncmps : 1) * sizeof *p);
    if (!p) return;
    for (size_t i = 0; i < ev->ncmps; i++)
        if (ev->cmps[i].ok && (ev->cmps[i].c.have & JB_CMP_WELCH)) p[m++] = ev->cmps[i].c.welch.p;
    jb_err e;
    if (m && jb_stats_holm(p, m, p, &e) == 0) {
        size_t j = 0;
        for (size_t i = 0; i < ev->ncmps; i++)
            if (ev->cmps[i].ok && (ev->cmps[i].c.have & JB_CMP_WELCH)) ev->cmps[i].p_holm = p[j++];
    }
    free(p);
    for (size_t i = 0; i < ev->ncmps; i++) {
        jb_eval_cmp *c = &ev->cmps[i];
        if (!c->ok || !(c->c.have & JB_CMP_RELDIFF)) continue;
        jb_stats_sentence(c->sentence, sizeof c->sentence, c->b, c->a, c->verb, c->quantity,
                          &c->c.rel, c->p_holm);
    }
}

static void comparisons(jb_eval *ev, const jb_eval_opts *o)
{
    const jb_eval_group *sc[256];
    size_t n = 0;
    for (size_t i = 0; i < ev->ngroups && n < 256; i++)
        if (!strcmp(ev->groups[i].phase, "scenario")) sc[n++] = &ev->groups[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const jb_eval_group *a = sc[i], *b = sc[j];
            if (o->compare[0]) {
                bool fwd = !strcmp(a->variant, o->compare[0]) && !strcmp(b->variant, o->compare[1]);
                bool rev = !strcmp(b->variant, o->compare[0]) && !strcmp(a->variant, o->compare[1]);
                if (!fwd && !rev) continue;
                if (rev) {
                    const jb_eval_group *t = a;
                    a = b;
                    b = t;
                }
            }
            compare_pair(ev, a, b, "energy_wh", "energy (Wh)", v_energy, 0, "used", "energy");
            if (a->has_sie && b->has_sie)
                compare_pair(ev, a, b, "sie_power_wh", "software-induced energy (Wh)", v_sie_p, 0,
                             "used", "software-induced energy");
            compare_pair(ev, a, b, "duration_s", "duration (s)", v_duration, 0, "took", "time");
            compare_metrics(ev, a, b);
        }
    sentences(ev);
}

/* ---- controls and warnings ---- */

static void control_count(jb_eval *ev, const char *name, const char *status, const char *reason)
{
    jb_eval_control *c = NULL;
    for (int i = 0; i < ev->ncontrols; i++)
        if (!strcmp(ev->controls[i].name, name)) c = &ev->controls[i];
    if (!c) {
        if (ev->ncontrols >= (int)JB_ARRAY_LEN(ev->controls)) return;
        c = &ev->controls[ev->ncontrols++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name);
    }
    if (!strcmp(status, "applied"))
        c->applied++;
    else if (!strcmp(status, "skipped"))
        c->skipped++;
    else if (!strcmp(status, "failed"))
        c->failed++;
    else
        c->other++;
    if (reason && *reason && (!c->reason[0] || strcmp(status, "applied")))
        snprintf(c->reason, sizeof c->reason, "%s: %s", status, reason);
}

static void gather_controls(jb_eval *ev)
{
    for (size_t i = 0; i < ev->nruns; i++) {
        json_object *o = ev->runs[i].controls[0] ? json_tokener_parse(ev->runs[i].controls) : NULL;
        if (!o) continue;
        if (json_object_is_type(o, json_type_object)) {
            json_object_object_foreach(o, key, val)
            {
                json_object *s, *r;
                const char *status = "recorded", *reason = NULL;
                if (json_object_is_type(val, json_type_object)) {
                    if (json_object_object_get_ex(val, "status", &s))
                        status = json_object_get_string(s);
                    if (json_object_object_get_ex(val, "reason", &r))
                        reason = json_object_get_string(r);
                } else if (json_object_is_type(val, json_type_string)) {
                    status = json_object_get_string(val);
                }
                control_count(ev, key, status ? status : "recorded", reason);
            }
        }
        json_object_put(o);
    }
}

static void run_warnings(jb_eval *ev)
{
    int failed = 0, noenergy = 0, shortw = 0, meter_short = 0, meter_short_epochs = 0;
    double meter_window = 0;
    char failed_list[512] = "";
    for (size_t i = 0; i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        if (!usable(r)) {
            failed++;
            size_t l = strlen(failed_list);
            if (l < 400)
                snprintf(failed_list + l, sizeof failed_list - l, "%s%lld (%s %s #%d: %s%s%s)",
                         l ? ", " : "", (long long)r->id, r->variant[0] ? r->variant : "-",
                         r->phase, r->rep, r->status, r->note[0] ? ", " : "", r->note);
            continue;
        }
        if (!r->has_energy) noenergy++;
        if (r->estimated) ev->any_estimated = true;
        double iv = r->interval_ns > 0 ? r->interval_ns / 1e9 : 0.1;
        if (r->duration_s < 10 * iv || r->duration_s < 1) shortw++;
        if (r->min_window_s > 0) {
            if (r->duration_s < r->min_window_s) meter_short++;
            for (size_t e = 0; e < r->nep; e++)
                if (r->ep[e].duration_s < r->min_window_s) meter_short_epochs++;
            if (r->min_window_s > meter_window) meter_window = r->min_window_s;
        }
    }
    if (meter_short || meter_short_epochs)
        warn(ev,
             "%d run(s) and %d epoch(s) are shorter than the energy meter's update period "
             "(%.0f ms, e.g. NVML's energy counter): their energy is not resolved",
             meter_short, meter_short_epochs, meter_window * 1e3);
    if (failed)
        warn(ev, "%d run(s) failed or aborted and are left out of the statistics: %s", failed,
             failed_list);
    if (noenergy)
        warn(ev,
             "%d run(s) have no power or energy channel: energy figures are missing for "
             "them (measure with a power source; 'joulebench sources' lists them)",
             noenergy);
    if (ev->any_estimated)
        warn(ev, "energy is ESTIMATED from CPU utilisation in some runs (no power meter was "
                 "readable): treat those figures as a model, not a measurement");
    if (shortw)
        warn(ev,
             "%d run(s) are shorter than 1 s or 10 sampling intervals: their energy is "
             "poorly resolved (lengthen the runs or sample faster)",
             shortw);
    if (ev->nruns && !ev->n_ok)
        warn(ev,
             "all %zu runs failed: no statistics can be computed; see the run list for "
             "their status and notes",
             ev->nruns);
    for (size_t gi = 0; gi < ev->ngroups; gi++) {
        const jb_eval_group *g = &ev->groups[gi];
        if (!strcmp(g->phase, "scenario") && g->has_sie && !g->sie_oscar_equal_length)
            warn(ev,
                 "%s: runs differ in length from the baseline by more than 5 %%: the OSCAR "
                 "form (E - mean E_baseline) does not apply; use the power-based form",
                 g->label);
    }
}

static void meters_and_interval(jb_eval *ev)
{
    double *iv = malloc((ev->nruns ? ev->nruns : 1) * sizeof *iv);
    size_t n = 0;
    for (size_t i = 0; i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        if (iv && r->interval_ns > 0) iv[n++] = r->interval_ns / 1e6;
        if (!r->headline[0] || strstr(ev->meters, r->headline)) continue;
        size_t l = strlen(ev->meters);
        snprintf(ev->meters + l, sizeof ev->meters - l, "%s%s%s", l ? "; " : "", r->headline,
                 r->estimated ? " (estimated)" : "");
    }
    jb_err e;
    ev->interval_ms = NAN;
    if (n) jb_stats_quantile(iv, n, 0.5, &ev->interval_ms, &e);
    free(iv);
}

/* ---- entry points ---- */

int jb_evaluate(jb_store *st, const jb_eval_opts *o, jb_eval *ev, jb_err *err)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->store_path, sizeof ev->store_path, "%s", st->path);
    if (pick_experiment(st, o, ev, err)) return -1;
    if (!strcmp(ev->kind, "measure") && o->experiment_id <= 0) {
        ev->experiment_id = -1; /* every `measure` run of the store */
        snprintf(ev->name, sizeof ev->name, "measure runs");
    }
    if (read_spec(st, o, ev, err) || load_runs(st, ev, err)) {
        jb_eval_free(ev);
        return -1;
    }
    auto_metrics(st, ev);
    if (!ev->nruns) warn(ev, "the experiment has no runs yet: nothing to report");
    jb_run_summary *rs = malloc(sizeof *rs);
    if (!rs) return jb_errf(err, "out of memory");
    for (size_t i = 0; i < ev->nruns; i++) {
        jb_eval_run *r = &ev->runs[i];
        jb_err e = {{0}};
        if (evaluate_run(st, ev, r, rs, &e)) {
            warn(ev, "run %lld could not be read (%s); left out", (long long)r->id, e.msg);
            snprintf(r->status, sizeof r->status, "unreadable");
        }
        ev->n_runs++;
        ev->n_ok += usable(r);
    }
    free(rs);
    make_groups(ev);
    for (size_t i = 0; i < ev->ngroups; i++) {
        jb_eval_group *g = &ev->groups[i];
        for (size_t k = 0; k < ev->nruns; k++)
            if (in_group(&ev->runs[k], g)) {
                if (usable(&ev->runs[k]))
                    g->n_ok++;
                else
                    g->n_failed++;
            }
    }
    software_induced(ev);
    for (size_t i = 0; i < ev->ngroups; i++) {
        group_stats(ev, &ev->groups[i]);
        group_targets(ev, &ev->groups[i]);
        group_load(ev, &ev->groups[i]);
        group_epochs(ev, &ev->groups[i]);
    }
    for (size_t i = 0; i < ev->ngroups; i++)
        blue_angel(ev, o, &ev->groups[i]);
    comparisons(ev, o);
    if (o->compare[0] && !ev->ncmps)
        warn(ev, "--compare %s,%s: no such pair of scenario variants in this experiment",
             o->compare[0], o->compare[1]);
    gather_controls(ev);
    meters_and_interval(ev);
    run_warnings(ev);
    return 0;
}

void jb_eval_free(jb_eval *ev)
{
    for (size_t i = 0; i < ev->nruns; i++) {
        free(ev->runs[i].ps);
        free(ev->runs[i].ep);
        free(ev->runs[i].act);
        free(ev->runs[i].band);
    }
    free(ev->runs);
    for (size_t i = 0; i < ev->ngroups; i++) {
        free(ev->groups[i].mean_ps);
        free(ev->groups[i].ep);
    }
    free(ev->groups);
    free(ev->cmps);
    for (size_t i = 0; i < ev->nwarnings; i++)
        free(ev->warnings[i]);
    free(ev->warnings);
    memset(ev, 0, sizeof *ev);
}

const jb_eval_group *jb_eval_group_find(const jb_eval *ev, const char *variant, const char *phase)
{
    for (size_t i = 0; i < ev->ngroups; i++)
        if (!strcmp(ev->groups[i].variant, variant) && !strcmp(ev->groups[i].phase, phase))
            return &ev->groups[i];
    return NULL;
}

const jb_eval_stat *jb_eval_stat_find(const jb_eval_group *g, const char *key)
{
    for (int i = 0; i < g->nst; i++)
        if (!strcmp(g->st[i].key, key)) return &g->st[i];
    return NULL;
}
