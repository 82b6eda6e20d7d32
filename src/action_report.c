/*
 * action_report.c — energy and resources per action of one run: the table
 * `joulebench measure` prints (one row per action name and nesting path, or
 * one per index with --per-index) and its JSON/CSV forms.
 *
 * Energy of an action = the headline channels' energy over [begin, end]:
 * counters interpolated at both ends, power integrated with the partial
 * samples at the ends interpolated (analysis.h). Shares are of the run's
 * headline energy; a nested row's share is part of its parent's, never added.
 * Cumulative energy of index k = energy from the run start to the end of k.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"

int jb_load_markers(jb_store *st, int64_t run_id, jb_marker **out, size_t *n, jb_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT t_ns, recv_ns, pid, kind, name, idx, value FROM marker "
                           "WHERE run_id=? ORDER BY t_ns, id",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, run_id);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            jb_marker *nm = realloc(*out, cap * sizeof **out);
            if (!nm) {
                sqlite3_finalize(q);
                return jb_errf(err, "out of memory reading markers");
            }
            *out = nm;
        }
        jb_marker *m = &(*out)[(*n)++];
        memset(m, 0, sizeof *m);
        m->t_ns = sqlite3_column_int64(q, 0);
        m->recv_ns = sqlite3_column_int64(q, 1);
        m->pid = sqlite3_column_int64(q, 2);
        snprintf(m->kind, sizeof m->kind, "%s", jb_col_text(q, 3));
        snprintf(m->name, sizeof m->name, "%s", jb_col_text(q, 4));
        m->has_index = sqlite3_column_type(q, 5) != SQLITE_NULL;
        m->index = sqlite3_column_int64(q, 5);
        m->has_value = sqlite3_column_type(q, 6) != SQLITE_NULL;
        m->value = sqlite3_column_double(q, 6);
    }
    sqlite3_finalize(q);
    return 0;
}

typedef struct series_set {
    jb_series s[JB_MAX_CHANNELS];
    jb_channel_kind kind[JB_MAX_CHANNELS];
    int n;
    jb_series cpu;
    bool has_cpu;
} series_set;

static double window_energy(const series_set *ss, int64_t a, int64_t b)
{
    double e = 0;
    for (int i = 0; i < ss->n; i++)
        e += jb_series_energy(&ss->s[i], ss->kind[i], a, b, NULL);
    return e;
}

static void action_path(const jb_actions *acts, size_t i, char *out, size_t cap)
{
    const jb_action *a = &acts->actions[i];
    if (a->parent < 0) {
        snprintf(out, cap, "%s", a->name);
        return;
    }
    char parent[160];
    action_path(acts, (size_t)a->parent, parent, sizeof parent);
    snprintf(out, cap, "%s > %s", parent, a->name);
}

static jb_action_row *find_row(jb_actions_report *ar, const char *path)
{
    for (size_t i = 0; i < ar->nrows; i++)
        if (!strcmp(ar->rows[i].path, path)) return &ar->rows[i];
    return NULL;
}

static int load_series(jb_store *st, const jb_run_summary *rs, series_set *ss, jb_err *err)
{
    for (int i = 0; i < rs->nch; i++) {
        const jb_chan_summary *c = &rs->ch[i];
        if (c->headline) {
            if (jb_series_load(st, c->id, &ss->s[ss->n], err)) return -1;
            ss->kind[ss->n++] = c->kind;
        } else if (!strcmp(c->name, "cpu/total") && !ss->has_cpu) {
            if (jb_series_load(st, c->id, &ss->cpu, err)) return -1;
            ss->has_cpu = true;
        }
    }
    return 0;
}

static void free_series(series_set *ss)
{
    for (int i = 0; i < ss->n; i++)
        jb_series_free(&ss->s[i]);
    if (ss->has_cpu) jb_series_free(&ss->cpu);
}

static int build_rows(jb_actions_report *ar, const series_set *ss, int64_t run_start)
{
    const jb_actions *acts = &ar->actions;
    ar->rows = calloc(acts->n ? acts->n : 1, sizeof *ar->rows);
    ar->idx = calloc(acts->n ? acts->n : 1, sizeof *ar->idx);
    if (!ar->rows || !ar->idx) return -1;
    for (size_t i = 0; i < acts->n; i++) {
        const jb_action *a = &acts->actions[i];
        char path[160];
        action_path(acts, i, path, sizeof path);
        double dur = (double)(a->end_ns - a->begin_ns) / 1e9;
        double e = window_energy(ss, a->begin_ns, a->end_ns);
        double cpu = ss->has_cpu ? jb_series_mean(&ss->cpu, a->begin_ns, a->end_ns) : NAN;
        jb_action_row *r = find_row(ar, path);
        if (!r) {
            r = &ar->rows[ar->nrows++];
            snprintf(r->path, sizeof r->path, "%s", path);
            snprintf(r->name, sizeof r->name, "%s", a->name);
            r->depth = a->depth;
            r->first_begin = a->begin_ns;
            r->index_min = INT64_MAX;
            r->index_max = INT64_MIN;
        }
        r->count++;
        r->duration_s += dur;
        r->energy_j += e;
        r->cpu_pct += isfinite(cpu) ? cpu * dur : 0;
        r->open_at_end += (a->flags & JB_ACTION_OPEN_AT_END) ? 1 : 0;
        if (a->has_index) {
            r->has_index = true;
            if (a->index < r->index_min) r->index_min = a->index;
            if (a->index > r->index_max) r->index_max = a->index;
            jb_index_row *x = &ar->idx[ar->nidx++];
            snprintf(x->name, sizeof x->name, "%s", a->name);
            snprintf(x->path, sizeof x->path, "%s", path);
            x->index = a->index;
            x->depth = a->depth;
            x->duration_s = dur;
            x->energy_j = e;
            x->cumulative_j = window_energy(ss, run_start, a->end_ns);
            x->action = (int)i;
        }
    }
    for (size_t i = 0; i < ar->nrows; i++)
        ar->rows[i].cpu_pct =
            ar->rows[i].duration_s > 0 ? ar->rows[i].cpu_pct / ar->rows[i].duration_s : NAN;
    return 0;
}

static void load_bad_markers(jb_store *st, int64_t run_id, jb_actions_report *ar)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT reason FROM bad_marker WHERE run_id=? ORDER BY id", -1,
                           &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(q, 1, run_id);
    int k = 0;
    while (sqlite3_step(q) == SQLITE_ROW && k < 3)
        snprintf(ar->bad_examples[k++], sizeof ar->bad_examples[0], "%s", jb_col_text(q, 0));
    sqlite3_finalize(q);
}

static uint64_t bad_marker_count(const jb_run_summary *rs)
{
    json_object *q = json_tokener_parse(rs->quality_json), *v;
    uint64_t n = 0;
    if (q && json_object_object_get_ex(q, "bad_markers", &v))
        n = (uint64_t)json_object_get_int64(v);
    if (q) json_object_put(q);
    return n;
}

jb_actions_report *jb_measure_actions(jb_store *st, const jb_run_summary *rs, jb_err *err)
{
    jb_marker *mk;
    size_t n;
    if (jb_load_markers(st, rs->run_id, &mk, &n, err)) return NULL;
    uint64_t bad = bad_marker_count(rs);
    if (!n && !bad) {
        free(mk);
        return NULL;
    }
    jb_actions_report *ar = calloc(1, sizeof *ar);
    series_set *ss = calloc(1, sizeof *ss);
    if (!ar || !ss || jb_actions_build(mk, n, rs->end_ns, &ar->actions, err) ||
        load_series(st, rs, ss, err) || build_rows(ar, ss, rs->start_ns)) {
        free(mk);
        if (ss) free_series(ss);
        free(ss);
        jb_measure_actions_free(ar);
        return NULL;
    }
    free(mk);
    ar->run_energy_j = rs->headline_j;
    ar->estimated = rs->headline_estimated;
    ar->has_energy = rs->has_headline;
    ar->cores = rs->cores;
    ar->min_window_s = rs->min_window_s;
    ar->bad_markers = bad;
    if (bad) load_bad_markers(st, rs->run_id, ar);
    free_series(ss);
    free(ss);
    return ar;
}

void jb_measure_actions_free(jb_actions_report *ar)
{
    if (!ar) return;
    jb_actions_free(&ar->actions);
    free(ar->rows);
    free(ar->idx);
    free(ar);
}

static void metric_cells(FILE *f, const jb_actions_report *ar, const char *name, bool has_index,
                         int64_t index, int action)
{
    /* the last value of each metric attached to actions of this name */
    const jb_actions *a = &ar->actions;
    for (size_t m = 0; m < a->nmetrics; m++) {
        const jb_action_metric *mm = &a->metrics[m];
        bool seen = false;
        for (size_t k = m + 1; k < a->nmetrics; k++)
            if (!strcmp(a->metrics[k].name, mm->name) &&
                (action >= 0 ? a->metrics[k].action == action
                             : (a->metrics[k].action >= 0 &&
                                !strcmp(a->actions[a->metrics[k].action].name, name))))
                seen = true;
        if (seen) continue;
        bool mine = action >= 0 ? mm->action == action
                                : (mm->action >= 0 && !strcmp(a->actions[mm->action].name, name));
        if (mine) fprintf(f, " %s=%.4g", mm->name, mm->value);
    }
    (void)has_index;
    (void)index;
}

void jb_measure_print_actions(FILE *f, const jb_actions_report *ar, bool per_index)
{
    const char *tag = ar->estimated ? " (ESTIMATED)" : "";
    fprintf(f, "  actions%s:\n  %-30s %5s %9s %10s %10s %11s %8s %7s %6s  %s\n", tag, "action",
            "count", "index", "total s", "mean s", "energy J", "Wh", "share", "CPU%",
            "last metrics");
    for (size_t i = 0; i < ar->nrows; i++) {
        const jb_action_row *r = &ar->rows[i];
        char label[200], idx[32] = "-";
        snprintf(label, sizeof label, "%*s%s", r->depth * 2, "", r->name);
        if (r->has_index)
            snprintf(idx, sizeof idx, "%lld..%lld", (long long)r->index_min,
                     (long long)r->index_max);
        double share = ar->run_energy_j > 0 ? 100 * r->energy_j / ar->run_energy_j : NAN;
        fprintf(f, "  %-30s %5d %9s %10.3f %10.3f %11.3f %8.5f %6.1f%% %6.1f ", label, r->count,
                idx, r->duration_s, r->duration_s / r->count, r->energy_j, r->energy_j / 3600,
                share, r->cpu_pct);
        metric_cells(f, ar, r->name, false, 0, -1);
        if (r->open_at_end) fprintf(f, "  [%d closed at run end: no end marker]", r->open_at_end);
        if (ar->min_window_s > 0 && r->duration_s / r->count < ar->min_window_s)
            fprintf(f, "  [shorter than the meter's %.0f ms update period: not resolved]",
                    ar->min_window_s * 1e3);
        fputc('\n', f);
    }
    if (per_index && ar->nidx) {
        fprintf(f, "\n  per index%s:\n  %-30s %6s %10s %11s %13s  %s\n", tag, "action", "index",
                "s", "energy J", "cumulative J", "metrics");
        for (size_t i = 0; i < ar->nidx; i++) {
            const jb_index_row *x = &ar->idx[i];
            fprintf(f, "  %-30s %6lld %10.3f %11.3f %13.3f ", x->path, (long long)x->index,
                    x->duration_s, x->energy_j, x->cumulative_j);
            metric_cells(f, ar, NULL, true, x->index, x->action);
            fputc('\n', f);
        }
    }
    for (size_t i = 0; i < ar->actions.nissues; i++)
        fprintf(f, "  marker issue: %s\n", ar->actions.issues[i].text);
    if (ar->bad_markers) {
        fprintf(f, "  %llu malformed marker datagram(s) ignored",
                (unsigned long long)ar->bad_markers);
        for (int k = 0; k < 3 && ar->bad_examples[k][0]; k++)
            fprintf(f, "%s %s", k ? ";" : ", e.g.", ar->bad_examples[k]);
        fputc('\n', f);
    }
}

static json_object *num(double v)
{
    return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

static json_object *metrics_json(const jb_actions_report *ar, int action)
{
    json_object *o = json_object_new_object();
    const jb_actions *a = &ar->actions;
    for (size_t m = 0; m < a->nmetrics; m++)
        if (a->metrics[m].action == action)
            json_object_object_add(o, a->metrics[m].name, num(a->metrics[m].value));
    return o;
}

json_object *jb_measure_actions_json(const jb_actions_report *ar)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "estimated", json_object_new_boolean(ar->estimated));
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < ar->nrows; i++) {
        const jb_action_row *r = &ar->rows[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "path", json_object_new_string(r->path));
        json_object_object_add(j, "name", json_object_new_string(r->name));
        json_object_object_add(j, "depth", json_object_new_int(r->depth));
        json_object_object_add(j, "count", json_object_new_int(r->count));
        if (r->has_index) {
            json_object_object_add(j, "index_min", json_object_new_int64(r->index_min));
            json_object_object_add(j, "index_max", json_object_new_int64(r->index_max));
        }
        json_object_object_add(j, "duration_s", num(r->duration_s));
        json_object_object_add(j, "mean_duration_s", num(r->duration_s / r->count));
        json_object_object_add(j, "energy_j", ar->has_energy ? num(r->energy_j) : NULL);
        json_object_object_add(j, "energy_wh", ar->has_energy ? num(r->energy_j / 3600) : NULL);
        json_object_object_add(j, "mean_power_w",
                               ar->has_energy ? num(r->energy_j / r->duration_s) : NULL);
        json_object_object_add(j, "share",
                               ar->run_energy_j > 0 ? num(r->energy_j / ar->run_energy_j) : NULL);
        json_object_object_add(j, "cpu_pct", num(r->cpu_pct));
        json_object_object_add(j, "closed_at_run_end", json_object_new_int(r->open_at_end));
        json_object_object_add(
            j, "shorter_than_meter_window",
            json_object_new_boolean(ar->min_window_s > 0 &&
                                    r->duration_s / r->count < ar->min_window_s));
        json_object_array_add(rows, j);
    }
    json_object_object_add(o, "rows", rows);
    json_object *idx = json_object_new_array();
    for (size_t i = 0; i < ar->nidx; i++) {
        const jb_index_row *x = &ar->idx[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "action", json_object_new_string(x->name));
        json_object_object_add(j, "path", json_object_new_string(x->path));
        json_object_object_add(j, "index", json_object_new_int64(x->index));
        json_object_object_add(j, "duration_s", num(x->duration_s));
        json_object_object_add(j, "energy_j", ar->has_energy ? num(x->energy_j) : NULL);
        json_object_object_add(j, "cumulative_energy_j",
                               ar->has_energy ? num(x->cumulative_j) : NULL);
        json_object_object_add(j, "metrics", metrics_json(ar, x->action));
        json_object_array_add(idx, j);
    }
    json_object_object_add(o, "per_index", idx);
    json_object *iss = json_object_new_array();
    for (size_t i = 0; i < ar->actions.nissues; i++)
        json_object_array_add(iss, json_object_new_string(ar->actions.issues[i].text));
    json_object_object_add(o, "issues", iss);
    json_object_object_add(o, "bad_markers", json_object_new_int64((int64_t)ar->bad_markers));
    return o;
}

void jb_measure_actions_csv(FILE *f, const jb_actions_report *ar)
{
    fprintf(f, "\naction,index,duration_s,energy_j,cumulative_energy_j,estimated\n");
    for (size_t i = 0; i < ar->nidx; i++)
        fprintf(f, "%s,%lld,%.6f,%.6f,%.6f,%d\n", ar->idx[i].path, (long long)ar->idx[i].index,
                ar->idx[i].duration_s, ar->idx[i].energy_j, ar->idx[i].cumulative_j, ar->estimated);
    for (size_t i = 0; i < ar->nrows; i++)
        if (!ar->rows[i].has_index)
            fprintf(f, "%s,,%.6f,%.6f,,%d\n", ar->rows[i].path, ar->rows[i].duration_s,
                    ar->rows[i].energy_j, ar->estimated);
}
