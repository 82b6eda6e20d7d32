/*
 * oscar_import.c — OSCAR files into a store (jb_oscar_import, see oscar.h).
 *
 * Per phase (scenario, baseline, idle) the action log gives the runs; the
 * power and hardware rows within each run (plus a margin, so the trapezoid of
 * the analysis covers the run's edges) become that run's samples. Each run
 * also gets OSCAR's own energy (Σ P / 3600 over the rows within the run) in
 * the table oscar_run. All of it in one transaction, rolled back on error.
 */
#include "oscar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000LL

static const char *const phase_names[3] = {"scenario", "baseline", "idle"};

typedef struct phase_data {
    const jb_oscar_files *files;
    jb_oscar_log log;
    jb_oscar_power power;
    jb_oscar_hw hw;
    double *hw_cum; /* n x JB_OSCAR_HW_N: rate columns integrated to bytes */
} phase_data;

static void phase_free(phase_data *pd)
{
    jb_oscar_log_free(&pd->log);
    jb_oscar_power_free(&pd->power);
    jb_oscar_hw_free(&pd->hw);
    free(pd->hw_cum);
    pd->hw_cum = NULL;
}

/* Integrate KB/s columns into byte counters: C_i = C_{i-1} + r_i·Δt (a
 * collectl rate is the mean over the interval that ends at its row). */
static int integrate_rates(phase_data *pd, jb_err *err)
{
    jb_oscar_hw *hw = &pd->hw;
    pd->hw_cum = calloc(hw->n ? hw->n * JB_OSCAR_HW_N : 1, sizeof *pd->hw_cum);
    if (!pd->hw_cum) return jb_errf(err, "out of memory");
    for (int k = 0; k < JB_OSCAR_HW_N; k++) {
        const jb_oscar_hw_column *c = &jb_oscar_hw_columns[k];
        double acc = 0;
        for (size_t i = 0; i < hw->n; i++) {
            double v = hw->v[i * JB_OSCAR_HW_N + k];
            double *out = &pd->hw_cum[i * JB_OSCAR_HW_N + k];
            if (!c->rate) {
                *out = v * c->scale;
                continue;
            }
            if (isnan(v)) {
                *out = NAN;
                continue;
            }
            if (i > 0) acc += v * c->scale * (double)(hw->t[i] - hw->t[i - 1]) / 1e9;
            *out = acc;
        }
    }
    return 0;
}

static int load_phase(phase_data *pd, const jb_oscar_tz *tz, jb_err *err)
{
    const jb_oscar_files *f = pd->files;
    char *text;
    size_t len;
    if (jb_oscar_read_file(f->log, &text, &len, err)) return -1;
    int rc = jb_oscar_parse_log(f->log, text, len, tz, &pd->log, err);
    free(text);
    if (rc) return -1;
    if (!f->power)
        return jb_errf(err,
                       "%s: no power file given for this action log; add --power FILE "
                       "(the GridVis CSV export)",
                       f->log);
    if (jb_oscar_read_file(f->power, &text, &len, err)) return -1;
    rc = jb_oscar_parse_power(f->power, text, len, tz, &pd->power, err);
    free(text);
    if (rc) return -1;
    if (f->hardware) {
        if (jb_oscar_read_file(f->hardware, &text, &len, err)) return -1;
        rc = jb_oscar_parse_hardware(f->hardware, text, len, tz, &pd->hw, err);
        free(text);
        if (rc) return -1;
    }
    return integrate_rates(pd, err);
}

static void fmt_time(const jb_oscar_tz *tz, int64_t ns, char *out, size_t cap)
{
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(tz, ns, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(out, cap, "%02d.%02d.%04d %02d:%02d:%02d", d, mo, y, h, mi, s);
}

/* Every run must have power rows within it: otherwise the files do not
 * belong together, or the time zone is off. */
static int check_overlap(const phase_data *pd, const jb_oscar_tz *tz, jb_err *err)
{
    const jb_oscar_power *p = &pd->power;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < p->n; i++) {
        if (p->t[i] < lo) lo = p->t[i];
        if (p->t[i] > hi) hi = p->t[i];
    }
    for (size_t r = 0; r < pd->log.n; r++) {
        const jb_oscar_run *run = &pd->log.runs[r];
        size_t rows;
        jb_oscar_energy_wh(p->t, p->w, p->n, run->start_ns, run->stop_ns, &rows);
        if (rows) continue;
        char a[40], b[40], c[40];
        fmt_time(tz, run->start_ns, a, sizeof a);
        fmt_time(tz, lo, b, sizeof b);
        fmt_time(tz, hi, c, sizeof c);
        return jb_errf(err,
                       "%s:%d: no power rows in %s within this testrun (starts %s; the "
                       "power file covers %s to %s); wrong file, or a time-zone "
                       "difference (set TZ or --utc-offset)?",
                       pd->files->log, run->start_line, pd->files->power, a, b, c);
    }
    return 0;
}

static void json_str(jb_buf *b, const char *s)
{
    jb_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            jb_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            jb_buf_printf(b, "\\u%04x", c);
        else
            jb_buf_append(b, (const char *)s, 1);
    }
    jb_buf_append(b, "\"", 1);
}

typedef struct import_ctx {
    jb_store *st;
    const jb_oscar_import_opts *o;
    jb_oscar_import_result *res;
    jb_store_ins ins;
    sqlite3_stmt *oscar_ins;
    int64_t experiment_id;
} import_ctx;

static int add_channel(import_ctx *cx, int64_t run_id, const char *source, const char *name,
                       const char *unit, jb_channel_kind kind, jb_role role, const char *meta,
                       int64_t *id, jb_err *err)
{
    jb_channel_def def;
    memset(&def, 0, sizeof def);
    snprintf(def.name, sizeof def.name, "%s", name);
    snprintf(def.unit, sizeof def.unit, "%s", unit);
    def.kind = kind;
    def.role = role;
    snprintf(def.meta, sizeof def.meta, "%s", meta);
    *id = jb_store_add_channel(cx->st, run_id, source, &def, err);
    return *id < 0 ? -1 : 0;
}

static int sample(import_ctx *cx, int64_t ch, int64_t t, double v, jb_err *err)
{
    if (jb_store_ins_sample(&cx->ins, ch, t, v, !isnan(v)))
        return jb_errf(err, "%s: writing samples: %s", cx->st->path, sqlite3_errmsg(cx->st->db));
    return 0;
}

static int import_power(import_ctx *cx, const phase_data *pd, const jb_oscar_run *run,
                        int64_t run_id, jb_err *err)
{
    const jb_oscar_power *p = &pd->power;
    jb_buf meta = {0};
    jb_buf_printf(&meta, "{\"imported\":\"oscar\",\"file\":");
    json_str(&meta, pd->files->power);
    jb_buf_printf(&meta, ",\"column\":");
    json_str(&meta, p->column);
    jb_buf_printf(&meta, ",\"title\":");
    json_str(&meta, p->title);
    jb_buf_printf(&meta, "}");
    int64_t ch;
    int rc = add_channel(cx, run_id, "gridvis", "gridvis/power", "W", JB_KIND_POWER, JB_ROLE_TOTAL,
                         meta.len < 256 ? meta.data : "{\"imported\":\"oscar\"}", &ch, err);
    jb_buf_free(&meta);
    if (rc) return -1;
    int64_t lo = run->start_ns - cx->o->margin_ns, hi = run->stop_ns + cx->o->margin_ns;
    for (size_t i = 0; i < p->n; i++) {
        if (p->t[i] < lo || p->t[i] > hi) continue;
        if (sample(cx, ch, p->t[i], p->w[i], err)) return -1;
        cx->res->power_rows_kept++;
    }
    size_t rows;
    double wh = jb_oscar_energy_wh(p->t, p->w, p->n, run->start_ns, run->stop_ns, &rows);
    char lines[32];
    snprintf(lines, sizeof lines, "%d-%d", run->start_line, run->stop_line);
    sqlite3_stmt *s = cx->oscar_ins;
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_double(s, 2, wh);
    sqlite3_bind_int64(s, 3, (int64_t)rows);
    sqlite3_bind_double(s, 4, rows ? wh * 3600.0 / (double)rows : NAN);
    sqlite3_bind_text(s, 5, pd->files->power, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, pd->files->log, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, lines, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return jb_errf(err, "%s: writing oscar_run: %s", cx->st->path, sqlite3_errmsg(cx->st->db));
    return 0;
}

static int import_hw(import_ctx *cx, const phase_data *pd, const jb_oscar_run *run, int64_t run_id,
                     jb_err *err)
{
    const jb_oscar_hw *hw = &pd->hw;
    int64_t lo = run->start_ns - cx->o->margin_ns, hi = run->stop_ns + cx->o->margin_ns;
    for (int k = 0; k < JB_OSCAR_HW_N; k++) {
        const jb_oscar_hw_column *c = &jb_oscar_hw_columns[k];
        if (!hw->present[k]) continue;
        char meta[128];
        snprintf(meta, sizeof meta, "{\"imported\":\"oscar\",\"column\":\"%s\"}", c->header);
        int64_t ch;
        if (add_channel(cx, run_id, "collectl", c->channel, c->unit,
                        c->rate ? JB_KIND_COUNTER : JB_KIND_GAUGE, JB_ROLE_NONE, meta, &ch, err))
            return -1;
        for (size_t i = 0; i < hw->n; i++) {
            if (hw->t[i] < lo || hw->t[i] > hi) continue;
            if (sample(cx, ch, hw->t[i], pd->hw_cum[i * JB_OSCAR_HW_N + k], err)) return -1;
        }
    }
    for (size_t i = 0; i < hw->n; i++)
        if (hw->t[i] >= lo && hw->t[i] <= hi) cx->res->hw_rows_kept++;
    return 0;
}

static int import_markers(import_ctx *cx, const jb_oscar_run *run, int64_t run_id, jb_err *err)
{
    for (size_t i = 0; i < run->nactions; i++) {
        const jb_oscar_action *a = &run->actions[i];
        for (int end = 0; end < 2; end++) {
            int64_t t = end ? a->end_ns : a->begin_ns;
            if (t < 0) continue; /* no stopAction: the analysis flags it open at end */
            jb_marker m;
            memset(&m, 0, sizeof m);
            m.t_ns = m.recv_ns = t;
            snprintf(m.kind, sizeof m.kind, "%s", end ? "end" : "begin");
            snprintf(m.name, sizeof m.name, "%s", a->name);
            if (jb_store_ins_marker(&cx->ins, run_id, &m))
                return jb_errf(err, "%s: writing markers: %s", cx->st->path,
                               sqlite3_errmsg(cx->st->db));
            cx->res->markers++;
        }
    }
    return 0;
}

static int count_runs(import_ctx *cx, const char *sql, int64_t exp_id, const char *variant,
                      const char *phase, int *out, jb_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(cx->st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", cx->st->path, sqlite3_errmsg(cx->st->db));
    sqlite3_bind_int64(q, 1, exp_id);
    if (variant) sqlite3_bind_text(q, 2, variant, -1, SQLITE_TRANSIENT);
    if (phase) sqlite3_bind_text(q, 3, phase, -1, SQLITE_TRANSIENT);
    *out = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    return 0;
}

static int import_run(import_ctx *cx, const phase_data *pd, int phase, size_t r, int seq,
                      jb_err *err)
{
    const jb_oscar_run *run = &pd->log.runs[r];
    const char *variant = phase == 0 ? cx->o->variant : "";
    int rep;
    if (count_runs(cx,
                   "SELECT count(*) FROM run WHERE experiment_id=?1 AND variant=?2 AND phase=?3",
                   cx->experiment_id, variant, phase_names[phase], &rep, err))
        return -1;
    jb_run_info ri = {.experiment_id = cx->experiment_id,
                      .variant = variant,
                      .phase = phase_names[phase],
                      .rep = rep + 1,
                      .seq = seq,
                      .command_json = "[]",
                      .interval_ns = NS};
    int64_t id = jb_store_add_run(cx->st, &ri, run->start_ns, err);
    if (id < 0 || jb_store_finish_run(cx->st, id, run->stop_ns, 0, "ok", NULL, err)) return -1;
    char note[1200];
    snprintf(note, sizeof note, "imported from OSCAR files: %s lines %d-%d", pd->files->log,
             run->start_line, run->stop_line);
    if (jb_store_set_run_text(cx->st, id, "note", note, err)) return -1;
    if (import_power(cx, pd, run, id, err) || import_hw(cx, pd, run, id, err) ||
        import_markers(cx, run, id, err))
        return -1;
    cx->res->runs[phase]++;
    return 0;
}

/* Runs of all phases in time order, so seq follows the measurement order. */
typedef struct run_ref {
    int phase;
    size_t run;
    int64_t start;
} run_ref;

static int cmp_ref(const void *a, const void *b)
{
    const run_ref *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int add_experiment(import_ctx *cx, jb_err *err)
{
    const jb_oscar_import_opts *o = cx->o;
    if (o->experiment_id > 0) {
        int n;
        if (count_runs(cx, "SELECT count(*) FROM experiment WHERE id=?1", o->experiment_id, NULL,
                       NULL, &n, err))
            return -1;
        if (!n)
            return jb_errf(err,
                           "%s: no experiment with id %lld to add the runs to; leave out "
                           "--experiment to create one",
                           cx->st->path, (long long)o->experiment_id);
        cx->experiment_id = o->experiment_id;
        return 0;
    }
    /* the files go into host.extra; spec_text stays empty (it is not a spec) */
    jb_buf extra = {0};
    const jb_oscar_files *ph[3] = {&o->scenario, &o->baseline, &o->idle};
    jb_buf_printf(&extra, "imported=oscar\n");
    for (int i = 0; i < 3; i++)
        if (ph[i]->log)
            jb_buf_printf(&extra, "%s_files=%s %s %s\n", phase_names[i], ph[i]->log,
                          ph[i]->power ? ph[i]->power : "-",
                          ph[i]->hardware ? ph[i]->hardware : "-");
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(cx->st->db,
                                "INSERT INTO host(hostname,cpu_model,jb_version,extra) "
                                "VALUES('unknown (imported)','unknown',?,?)",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, JB_VERSION, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, extra.data, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(q);
    jb_buf_free(&extra);
    if (rc != SQLITE_OK) return jb_errf(err, "%s: %s", cx->st->path, sqlite3_errmsg(cx->st->db));
    int64_t host = sqlite3_last_insert_rowid(cx->st->db);
    const char *name = o->name;
    if (!name) {
        const char *slash = strrchr(o->scenario.log, '/');
        name = slash ? slash + 1 : o->scenario.log;
    }
    cx->experiment_id =
        jb_store_add_experiment(cx->st, host, name, o->scenario.log, NULL, "import", err);
    if (cx->experiment_id < 0) return -1;
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE experiment SET status='done' WHERE id=%lld",
             (long long)cx->experiment_id);
    return jb_store_exec(cx->st, sql, err);
}

static int import_all(import_ctx *cx, phase_data *pd, jb_err *err)
{
    if (add_experiment(cx, err)) return -1;
    size_t total = 0;
    for (int p = 0; p < 3; p++)
        total += pd[p].log.n;
    run_ref *refs = calloc(total ? total : 1, sizeof *refs);
    if (!refs) return jb_errf(err, "out of memory");
    size_t k = 0;
    for (int p = 0; p < 3; p++)
        for (size_t r = 0; r < pd[p].log.n; r++)
            refs[k++] = (run_ref){p, r, pd[p].log.runs[r].start_ns};
    qsort(refs, total, sizeof *refs, cmp_ref);
    int base;
    int rc = count_runs(cx, "SELECT coalesce(max(seq),0) FROM run WHERE experiment_id=?1",
                        cx->experiment_id, NULL, NULL, &base, err);
    for (size_t i = 0; i < total && !rc; i++)
        rc = import_run(cx, &pd[refs[i].phase], refs[i].phase, refs[i].run, base + (int)i + 1, err);
    free(refs);
    return rc;
}

int jb_oscar_import(jb_store *st, const jb_oscar_import_opts *o, jb_oscar_import_result *res,
                    jb_err *err)
{
    memset(res, 0, sizeof *res);
    if (!o->scenario.log)
        return jb_errf(err, "no action log given; use --log FILE (the OSCAR action log)");
    jb_oscar_import_opts opts = *o;
    if (!opts.variant || !*opts.variant) opts.variant = "oscar";
    if (opts.margin_ns <= 0) opts.margin_ns = 2 * NS;
    phase_data pd[3] = {{.files = &o->scenario}, {.files = &o->baseline}, {.files = &o->idle}};
    int rc = 0;
    for (int p = 0; p < 3 && !rc; p++) {
        if (!pd[p].files->log) continue;
        rc = load_phase(&pd[p], &opts.tz, err) || check_overlap(&pd[p], &opts.tz, err);
        res->power_rows += pd[p].power.n;
        res->hw_rows += pd[p].hw.n;
    }
    import_ctx cx = {.st = st, .o = &opts, .res = res};
    if (!rc) rc = jb_store_begin(st, err);
    if (!rc) {
        if (jb_store_ins_prepare(st, &cx.ins, err) ||
            sqlite3_prepare_v2(st->db,
                               "INSERT OR REPLACE INTO oscar_run(run_id,energy_wh,rows,mean_w,"
                               "power_file,log_file,log_lines) VALUES(?,?,?,?,?,?,?)",
                               -1, &cx.oscar_ins, NULL) != SQLITE_OK) {
            if (cx.ins.sample) jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
            rc = -1;
        }
        if (!rc) rc = import_all(&cx, pd, err);
        jb_store_ins_finalize(&cx.ins);
        sqlite3_finalize(cx.oscar_ins);
        if (!rc) rc = jb_store_commit(st, err);
        if (rc) jb_store_exec(st, "ROLLBACK", NULL);
    }
    res->experiment_id = rc ? 0 : cx.experiment_id;
    for (int p = 0; p < 3; p++)
        phase_free(&pd[p]);
    return rc ? -1 : 0;
}
