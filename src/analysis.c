/*
 * analysis.c — energy over windows and the per-run summary (see analysis.h
 * for the definitions).
 */
#include "analysis.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A channel's samples in time order. A run in progress (or one whose
 * recorder was killed, in a store not yet reopened for writing) also has
 * rows in sample_recent; the merge of both is used only then, and a version
 * 1 store has no such table. */
static const char SAMPLE_SQL[] = "SELECT t_ns, value FROM sample WHERE channel_id=?1 ORDER BY t_ns";
static const char WITH_STAGED_SQL[] =
    "SELECT t_ns, value FROM sample WHERE channel_id=?1 UNION ALL "
    "SELECT t_ns, value FROM sample_recent WHERE channel_id=?1 ORDER BY 1";

int jb_series_load(jb_store *st, int64_t channel_id, jb_series *s, jb_err *err)
{
    memset(s, 0, sizeof *s);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, jb_store_has_staged(st) ? WITH_STAGED_SQL : SAMPLE_SQL, -1, &q,
                           NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, channel_id);
    size_t cap = 0;
    int64_t prev_t = 0;
    bool in_gap = false;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(q, 0);
        if (sqlite3_column_type(q, 1) == SQLITE_NULL) {
            s->gaps++;
            in_gap = true;
            continue;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *nt = realloc(s->t, cap * sizeof *nt);
            double *nv = realloc(s->v, cap * sizeof *nv);
            if (nt) s->t = nt;
            if (nv) s->v = nv;
            if (!nt || !nv) {
                sqlite3_finalize(q);
                jb_series_free(s);
                return jb_errf(err, "out of memory loading channel %lld", (long long)channel_id);
            }
        }
        if (in_gap && s->n) s->gap_ns += t - prev_t;
        in_gap = false;
        s->t[s->n] = t;
        s->v[s->n] = sqlite3_column_double(q, 1);
        s->n++;
        prev_t = t;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        jb_series_free(s);
        return jb_errf(err, "%s: reading samples: %s", st->path, sqlite3_errmsg(st->db));
    }
    return 0;
}

void jb_series_free(jb_series *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Index of the last sample with t_i <= t (0 when t is before all). */
static size_t seg_index(const jb_series *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->t[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

double jb_series_at(const jb_series *s, int64_t t)
{
    if (!s->n) return NAN;
    if (t <= s->t[0]) return s->v[0];
    if (t >= s->t[s->n - 1]) return s->v[s->n - 1];
    size_t i = seg_index(s, t);
    double f = (double)(t - s->t[i]) / (double)(s->t[i + 1] - s->t[i]);
    return s->v[i] + f * (s->v[i + 1] - s->v[i]);
}

/* Trapezoid integral over [a,b]: whole segments use the samples themselves;
 * only the two partial segments at the ends are interpolated. */
static double trapezoid(const jb_series *s, int64_t a, int64_t b)
{
    double area = 0;
    size_t i = seg_index(s, a);
    for (; i + 1 < s->n && s->t[i] < b; i++) {
        int64_t t0 = s->t[i], t1 = s->t[i + 1];
        int64_t x0 = t0 > a ? t0 : a;
        int64_t x1 = t1 < b ? t1 : b;
        if (x1 <= x0) continue;
        double v0 = s->v[i], v1 = s->v[i + 1];
        if (x0 != t0 || x1 != t1) {
            double slope = (v1 - v0) / (double)(t1 - t0);
            double y0 = v0 + slope * (double)(x0 - t0);
            double y1 = v0 + slope * (double)(x1 - t0);
            v0 = y0;
            v1 = y1;
        }
        area += (v0 + v1) / 2 * (double)(x1 - x0) / 1e9;
    }
    return area;
}

double jb_series_energy(const jb_series *s, jb_channel_kind kind, int64_t a, int64_t b,
                        bool *clamped)
{
    if (clamped) *clamped = false;
    if (s->n < 2 || b < a) return NAN;
    if (clamped && (a < s->t[0] || b > s->t[s->n - 1])) *clamped = true;
    if (kind == JB_KIND_ENERGY_COUNTER || kind == JB_KIND_COUNTER)
        return jb_series_at(s, b) - jb_series_at(s, a);
    return trapezoid(s, a, b);
}

double jb_series_mean(const jb_series *s, int64_t a, int64_t b)
{
    if (!s->n) return NAN;
    if (b <= a || s->n < 2) return jb_series_at(s, a);
    int64_t lo = a > s->t[0] ? a : s->t[0], hi = b < s->t[s->n - 1] ? b : s->t[s->n - 1];
    if (hi <= lo) return jb_series_at(s, a);
    return trapezoid(s, lo, hi) * 1e9 / (double)(hi - lo);
}

double jb_series_peak(const jb_series *s, jb_channel_kind kind, int64_t a, int64_t b)
{
    double peak = NAN;
    bool rate = kind == JB_KIND_ENERGY_COUNTER || kind == JB_KIND_COUNTER;
    for (size_t i = 0; i < s->n; i++) {
        if (rate) {
            if (i == 0 || s->t[i] <= a || s->t[i - 1] >= b) continue;
            double r = (s->v[i] - s->v[i - 1]) / ((double)(s->t[i] - s->t[i - 1]) / 1e9);
            if (isnan(peak) || r > peak) peak = r;
        } else if (s->t[i] >= a && s->t[i] <= b) {
            if (isnan(peak) || s->v[i] > peak) peak = s->v[i];
        }
    }
    return peak;
}

const char *jb_source_family(const char *source)
{
    const jb_source_driver *d = jb_source_find(source);
    if (d && d->family) return d->family;
    if (d) return d->is_power ? d->name : "usage";
    return "wall"; /* imported meters (OSCAR GridVis) measure at the wall */
}

static bool is_energy_kind(jb_channel_kind k)
{
    return k == JB_KIND_ENERGY_COUNTER || k == JB_KIND_POWER;
}

/* Mark the role-total channels of the first source of a family; returns
 * how many channels it marked. */
static int mark_family(jb_run_summary *rs, const char *family)
{
    const char *chosen = NULL;
    int marked = 0;
    for (int i = 0; i < rs->nch; i++) {
        jb_chan_summary *c = &rs->ch[i];
        if (!is_energy_kind(c->kind) || c->role != JB_ROLE_TOTAL || !isfinite(c->energy_j))
            continue;
        if (strcmp(jb_source_family(c->source), family)) continue;
        if (chosen && strcmp(chosen, c->source)) continue;
        chosen = c->source;
        c->headline = true;
        marked++;
    }
    return marked;
}

void jb_pick_headline(jb_run_summary *rs)
{
    for (int i = 0; i < rs->nch; i++)
        rs->ch[i].headline = false;
    if (!mark_family(rs, "wall")) {
        int n = mark_family(rs, "cpu") + mark_family(rs, "gpu");
        if (!n && !mark_family(rs, "hwmon")) mark_family(rs, "estimate");
    }
    rs->headline_j = 0;
    rs->headline_estimated = false;
    rs->has_headline = false;
    rs->headline_desc[0] = 0;
    rs->min_window_s = 0;
    for (int i = 0; i < rs->nch; i++) {
        jb_chan_summary *c = &rs->ch[i];
        if (!c->headline) continue;
        rs->has_headline = true;
        if (c->min_window_s > rs->min_window_s) rs->min_window_s = c->min_window_s;
        rs->headline_j += c->energy_j;
        rs->headline_estimated |= c->estimated;
        size_t l = strlen(rs->headline_desc);
        snprintf(rs->headline_desc + l, sizeof rs->headline_desc - l, "%s%s", l ? " + " : "",
                 c->name);
    }
}

/* "min_window_ms" from a channel's meta JSON, in seconds (0 when absent). */
static double meta_min_window_s(const char *meta)
{
    if (!meta || !*meta) return 0;
    json_object *o = json_tokener_parse(meta), *v;
    double w = 0;
    if (o && json_object_object_get_ex(o, "min_window_ms", &v)) w = json_object_get_double(v) / 1e3;
    if (o) json_object_put(o);
    return w > 0 ? w : 0;
}

static int load_run_row(jb_store *st, int64_t run_id, jb_run_summary *rs, jb_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT r.experiment_id, r.variant, r.phase, r.rep, r.status, "
                           "r.start_ns, r.end_ns, r.exit_code, r.quality, h.cores FROM run r "
                           "LEFT JOIN experiment e ON e.id=r.experiment_id "
                           "LEFT JOIN host h ON h.id=e.host_id WHERE r.id=?",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, run_id);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        return jb_errf(err, "%s: no run with id %lld", st->path, (long long)run_id);
    }
    rs->experiment_id = sqlite3_column_int64(q, 0);
    snprintf(rs->variant, sizeof rs->variant, "%s", jb_col_text(q, 1));
    snprintf(rs->phase, sizeof rs->phase, "%s", jb_col_text(q, 2));
    rs->rep = sqlite3_column_int(q, 3);
    snprintf(rs->status, sizeof rs->status, "%s", jb_col_text(q, 4));
    rs->start_ns = sqlite3_column_int64(q, 5);
    rs->end_ns = sqlite3_column_int64(q, 6);
    rs->exit_code = sqlite3_column_int(q, 7);
    snprintf(rs->quality_json, sizeof rs->quality_json, "%s",
             sqlite3_column_type(q, 8) == SQLITE_NULL ? "{}" : jb_col_text(q, 8));
    rs->cores = sqlite3_column_int(q, 9);
    if (rs->cores <= 0) rs->cores = 1;
    sqlite3_finalize(q);
    rs->duration_s = (double)(rs->end_ns - rs->start_ns) / 1e9;
    return 0;
}

static void usage_from_channel(jb_run_summary *rs, const jb_chan_summary *c)
{
    const char *n = c->name;
    if (!strcmp(n, "cpu/total"))
        rs->cpu_pct = c->mean;
    else if (!strcmp(n, "cpu/user"))
        rs->cpu_user_pct = c->mean;
    else if (!strcmp(n, "cpu/system"))
        rs->cpu_system_pct = c->mean;
    else if (!strcmp(n, "memory/used"))
        rs->mem_used_mean_b = c->mean;
    else if (!strcmp(n, "disk/read"))
        rs->disk_read_b = c->delta;
    else if (!strcmp(n, "disk/written"))
        rs->disk_written_b = c->delta;
    else if (!strcmp(n, "net/received"))
        rs->net_rx_b = c->delta;
    else if (!strcmp(n, "net/sent"))
        rs->net_tx_b = c->delta;
    else if (!strcmp(n, "process/read"))
        rs->proc_read_b = c->delta;
    else if (!strcmp(n, "process/written"))
        rs->proc_written_b = c->delta;
    else if (!strcmp(n, "process/rss")) {
        rs->rss_peak_b = c->peak;
        rs->rss_mean_b = c->mean;
    } else if (!strcmp(n, "process/cpu_time")) {
        rs->proc_cpu_s = c->delta;
        rs->proc_cores = rs->duration_s > 0 ? c->delta / rs->duration_s : NAN;
        rs->proc_cpu_pct = rs->proc_cores * 100.0 / rs->cores;
    }
}

/* The first sample at or after t (after=true) or the last at or before t. */
static size_t outer_index(const jb_series *s, int64_t t, bool after)
{
    size_t i = seg_index(s, t);
    if (after && s->t[i] < t && i + 1 < s->n) i++;
    return i;
}

static void summarize_channel(jb_run_summary *rs, jb_chan_summary *c, const jb_series *s)
{
    int64_t a = rs->start_ns, b = rs->end_ns;
    c->samples = s->n;
    c->energy_j = c->mean = c->peak = c->delta = NAN;
    if (is_energy_kind(c->kind)) {
        c->energy_j = jb_series_energy(s, c->kind, a, b, NULL);
        c->mean = rs->duration_s > 0 ? c->energy_j / rs->duration_s : NAN;
        c->peak = jb_series_peak(s, c->kind, a, b);
    } else if (c->kind == JB_KIND_COUNTER && !strcmp(c->source, "process")) {
        /* The tree does nothing outside [a,b]: the samples just outside are exact. */
        c->delta = s->n ? s->v[outer_index(s, b, true)] - s->v[outer_index(s, a, false)] : NAN;
        c->mean = rs->duration_s > 0 ? c->delta / rs->duration_s : NAN;
        c->peak = jb_series_peak(s, c->kind, a, b);
    } else if (c->kind == JB_KIND_COUNTER) {
        c->delta = jb_series_energy(s, c->kind, a, b, NULL);
        c->mean = rs->duration_s > 0 ? c->delta / rs->duration_s : NAN;
        c->peak = jb_series_peak(s, c->kind, a, b);
    } else {
        c->mean = jb_series_mean(s, a, b);
        c->peak = jb_series_peak(s, c->kind, a, b);
    }
}

int jb_run_summarize(jb_store *st, int64_t run_id, jb_run_summary *rs, jb_err *err)
{
    memset(rs, 0, sizeof *rs);
    rs->run_id = run_id;
    if (load_run_row(st, run_id, rs, err)) return -1;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, source, name, unit, kind, estimated, role, read_errors, "
                           "meta "
                           "FROM channel WHERE run_id=? ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, run_id);
    while (sqlite3_step(q) == SQLITE_ROW && rs->nch < JB_MAX_CHANNELS) {
        jb_chan_summary *c = &rs->ch[rs->nch];
        c->id = sqlite3_column_int64(q, 0);
        snprintf(c->source, sizeof c->source, "%s", jb_col_text(q, 1));
        snprintf(c->name, sizeof c->name, "%s", jb_col_text(q, 2));
        snprintf(c->unit, sizeof c->unit, "%s", jb_col_text(q, 3));
        const char *kind = (const char *)sqlite3_column_text(q, 4);
        if (!kind || jb_kind_parse(kind, &c->kind)) c->kind = JB_KIND_GAUGE;
        c->estimated = sqlite3_column_int(q, 5);
        c->role = (jb_role)sqlite3_column_int(q, 6);
        c->read_errors = sqlite3_column_int64(q, 7);
        c->min_window_s = meta_min_window_s(jb_col_text(q, 8));
        rs->nch++;
    }
    sqlite3_finalize(q);
    for (int i = 0; i < rs->nch; i++) {
        jb_series s;
        if (jb_series_load(st, rs->ch[i].id, &s, err)) return -1;
        summarize_channel(rs, &rs->ch[i], &s);
        usage_from_channel(rs, &rs->ch[i]);
        jb_series_free(&s);
    }
    jb_pick_headline(rs);
    return 0;
}
