/*
 * oscar_export.c — a store out as OSCAR files (jb_oscar_export, see oscar.h).
 *
 * Per (variant, phase) three files: the action log (startTestrun/stopTestrun
 * at the run bounds, startAction/stopAction from the begin/end markers inside
 * the run, milliseconds always three digits), the GridVis power CSV and the
 * collectl hardware CSV, both with one row per second.
 *
 * Power rows: the headline power (jb_pick_headline: never summing channels
 * that overlap). A row stamped T holds the mean over [T−1 s, T] (min and max
 * over the run's sampling intervals within it); the rows are the whole
 * seconds T with start ≤ T−1 s and T ≤ end, so every row lies in the run.
 * A headline that already is a 1 Hz power series on whole seconds (an OSCAR
 * import) is written unchanged: its rows are the samples at the whole
 * seconds within [start, end], so import → export → import is exact.
 * Hardware rows use the same seconds: gauges as the mean over the second
 * (the value at T for whole-second 1 Hz series), counters as KB/s.
 */
#include "oscar.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis.h"

#define NS 1000000000LL

typedef struct group_files {
    FILE *log, *power, *hw;
    long power_no;
} group_files;

typedef struct exp_run {
    int64_t id, start, end, interval;
    char variant[64], phase[16];
} exp_run;

static void dec_comma(char *out, size_t cap, double v, int decimals)
{
    if (isnan(v)) {
        out[0] = 0;
        return;
    }
    snprintf(out, cap, "%.*f", decimals, v);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = ',';
}

/* Up to 3 decimals, trailing zeros dropped, decimal point (collectl style). */
static void plain_num(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        out[0] = 0;
        return;
    }
    snprintf(out, cap, "%.3f", v);
    char *dot = strchr(out, '.');
    if (!dot) return;
    char *e = out + strlen(out) - 1;
    while (e > dot && *e == '0')
        *e-- = 0;
    if (e == dot) *e = 0;
    if (!strcmp(out, "-0")) strcpy(out, "0");
}

static void log_time(const jb_oscar_tz *tz, int64_t ns, char *out, size_t cap)
{
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(tz, ns, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(out, cap, "%d-%d-%d %02d:%02d:%02d.%03d", y, mo, d, h, mi, s, ms);
}

static void gridvis_time(const jb_oscar_tz *tz, int64_t ns, char *out, size_t cap)
{
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(tz, ns, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(out, cap, "%02d.%02d.%02d, %02d:%02d:%02d", d, mo, y % 100, h, mi, s);
}

static void collectl_time(const jb_oscar_tz *tz, int64_t ns, char *out, size_t cap)
{
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(tz, ns, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(out, cap, "%02d.%02d.%04d %02d:%02d:%02d", d, mo, y, h, mi, s);
}

static int64_t ceil_s(int64_t t)
{
    return (t + NS - 1) / NS * NS;
}
static int64_t floor_s(int64_t t)
{
    return t / NS * NS;
}

/* True when every sample lies on a whole second and they are 1 s apart
 * (apart from gaps): a 1 Hz series as OSCAR's files hold them. */
static bool whole_second_1hz(const jb_series *s)
{
    if (s->n < 2) return false;
    int64_t min_dt = INT64_MAX;
    for (size_t i = 0; i < s->n; i++) {
        if (s->t[i] % NS) return false;
        if (i && s->t[i] - s->t[i - 1] < min_dt) min_dt = s->t[i] - s->t[i - 1];
    }
    return min_dt == NS;
}

typedef struct headline {
    jb_series s[8];
    jb_channel_kind kind[8];
    int n;
    bool native; /* one 1 Hz power series on whole seconds */
} headline;

static void headline_free(headline *h)
{
    for (int i = 0; i < h->n; i++)
        jb_series_free(&h->s[i]);
    h->n = 0;
}

static int headline_load(jb_store *st, const jb_run_summary *rs, headline *h, jb_err *err)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < rs->nch && h->n < 8; i++) {
        if (!rs->ch[i].headline) continue;
        if (jb_series_load(st, rs->ch[i].id, &h->s[h->n], err)) {
            headline_free(h);
            return -1;
        }
        h->kind[h->n++] = rs->ch[i].kind;
    }
    h->native = h->n == 1 && h->kind[0] == JB_KIND_POWER && whole_second_1hz(&h->s[0]);
    return 0;
}

static double headline_power(const headline *h, int64_t a, int64_t b)
{
    double e = 0;
    for (int i = 0; i < h->n; i++)
        e += jb_series_energy(&h->s[i], h->kind[i], a, b, NULL);
    return e * 1e9 / (double)(b - a);
}

/* The first and last row times of a run (see the file comment). */
static void row_range(const exp_run *r, const headline *h, int64_t *first, int64_t *last)
{
    *first = h->native ? ceil_s(r->start) : ceil_s(r->start) + NS;
    *last = floor_s(r->end);
}

static void write_power_row(group_files *g, const jb_oscar_tz *tz, const exp_run *r,
                            const headline *h, int64_t t)
{
    double avg, mn, mx;
    if (h->native) {
        avg = mn = mx = jb_series_at(&h->s[0], t);
        size_t i;
        for (i = 0; i < h->s[0].n && h->s[0].t[i] < t; i++) {
        }
        if (i == h->s[0].n || h->s[0].t[i] != t) avg = mn = mx = NAN; /* a gap */
    } else {
        avg = headline_power(h, t - NS, t);
        mn = mx = avg;
        int64_t iv = r->interval;
        if (iv > 0 && iv < NS && NS % iv == 0)
            for (int64_t a = t - NS; a < t; a += iv) {
                double p = headline_power(h, a, a + iv);
                if (p < mn) mn = p;
                if (p > mx) mx = p;
            }
    }
    char ts[40], v[3][48];
    gridvis_time(tz, t, ts, sizeof ts);
    dec_comma(v[0], sizeof v[0], avg, 3);
    dec_comma(v[1], sizeof v[1], mn, 3);
    dec_comma(v[2], sizeof v[2], mx, 3);
    fprintf(g->power, "%ld;%s;%s;%s;%s;\n", ++g->power_no, ts, v[0], v[1], v[2]);
}

typedef struct hw_series {
    jb_series s[JB_OSCAR_HW_N];
    bool have[JB_OSCAR_HW_N], native[JB_OSCAR_HW_N];
} hw_series;

static int hw_load(jb_store *st, const jb_run_summary *rs, hw_series *hw, jb_err *err)
{
    memset(hw, 0, sizeof *hw);
    for (int k = 0; k < JB_OSCAR_HW_N; k++)
        for (int i = 0; i < rs->nch; i++) {
            if (strcmp(rs->ch[i].name, jb_oscar_hw_columns[k].channel)) continue;
            if (jb_series_load(st, rs->ch[i].id, &hw->s[k], err)) return -1;
            hw->have[k] = hw->s[k].n > 0;
            hw->native[k] = whole_second_1hz(&hw->s[k]);
            break;
        }
    return 0;
}

static void hw_free(hw_series *hw)
{
    for (int k = 0; k < JB_OSCAR_HW_N; k++)
        jb_series_free(&hw->s[k]);
}

static void write_hw_header(FILE *f)
{
    fputs("Date Time", f);
    for (int k = 0; k < JB_OSCAR_HW_N; k++)
        fprintf(f, ";%s", jb_oscar_hw_columns[k].header);
    fputc('\n', f);
}

static void write_hw_row(FILE *f, const jb_oscar_tz *tz, const hw_series *hw, int64_t t)
{
    char ts[40], v[48];
    collectl_time(tz, t, ts, sizeof ts);
    fputs(ts, f);
    for (int k = 0; k < JB_OSCAR_HW_N; k++) {
        const jb_oscar_hw_column *c = &jb_oscar_hw_columns[k];
        double x = NAN;
        if (hw->have[k] && c->rate)
            x = jb_series_energy(&hw->s[k], JB_KIND_COUNTER, t - NS, t, NULL) / c->scale;
        else if (hw->have[k])
            x = (hw->native[k] ? jb_series_at(&hw->s[k], t)
                               : jb_series_mean(&hw->s[k], t - NS, t)) /
                c->scale;
        plain_num(v, sizeof v, x);
        fprintf(f, ";%s", v);
    }
    fputc('\n', f);
}

static int write_log(jb_store *st, group_files *g, const jb_oscar_tz *tz, const exp_run *r,
                     jb_err *err)
{
    char ts[48];
    log_time(tz, r->start, ts, sizeof ts);
    fprintf(g->log, "%s;startTestrun\n", ts);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT t_ns, kind, name, idx FROM marker WHERE run_id=? AND kind IN "
                           "('begin','end') AND t_ns BETWEEN ? AND ? ORDER BY t_ns, id",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, r->id);
    sqlite3_bind_int64(q, 2, r->start);
    sqlite3_bind_int64(q, 3, r->end);
    int open = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        log_time(tz, sqlite3_column_int64(q, 0), ts, sizeof ts);
        bool begin = !strcmp(jb_col_text(q, 1), "begin");
        if (begin) {
            fprintf(g->log, "%s;startAction;%s", ts, jb_col_text(q, 2));
            if (sqlite3_column_type(q, 3) != SQLITE_NULL)
                fprintf(g->log, " %lld", (long long)sqlite3_column_int64(q, 3));
            fputc('\n', g->log);
            open++;
        } else if (open > 0) { /* an end whose begin lies before the run is left out */
            fprintf(g->log, "%s;stopAction\n", ts);
            open--;
        }
    }
    sqlite3_finalize(q);
    log_time(tz, r->end, ts, sizeof ts);
    fprintf(g->log, "%s;stopTestrun\n", ts);
    return 0;
}

static int export_run(jb_store *st, group_files *g, const jb_oscar_tz *tz, const exp_run *r,
                      jb_err *err)
{
    jb_run_summary *rs = malloc(sizeof *rs);
    if (!rs) return jb_errf(err, "out of memory");
    headline h;
    hw_series hw;
    memset(&hw, 0, sizeof hw);
    int rc = jb_run_summarize(st, r->id, rs, err);
    if (!rc && !rs->has_headline) {
        free(rs);
        return 1; /* no power: the run is left out (counted by the caller) */
    }
    if (!rc) rc = headline_load(st, rs, &h, err);
    if (!rc && hw_load(st, rs, &hw, err)) {
        headline_free(&h);
        rc = -1;
    }
    free(rs);
    if (rc) {
        hw_free(&hw);
        return -1;
    }
    int64_t first, last;
    row_range(r, &h, &first, &last);
    for (int64_t t = first; t <= last; t += NS) {
        write_power_row(g, tz, r, &h, t);
        write_hw_row(g->hw, tz, &hw, t);
    }
    headline_free(&h);
    hw_free(&hw);
    return write_log(st, g, tz, r, err);
}

static FILE *open_out(const char *dir, const char *prefix, const char *what, jb_buf *written,
                      jb_err *err)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s_%s.csv", dir, prefix, what);
    FILE *f = fopen(path, "w");
    if (!f) {
        jb_errf(err, "%s: cannot write: %s", path, strerror(errno));
        return NULL;
    }
    if (written) jb_buf_printf(written, "%s\n", path);
    return f;
}

static void safe_prefix(char *out, size_t cap, const char *variant, const char *phase)
{
    if (*variant)
        snprintf(out, cap, "%s_%s", variant, phase);
    else
        snprintf(out, cap, "%s", phase);
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '\\') *p = '-';
}

static int close_group(group_files *g, jb_err *err)
{
    int bad = 0;
    FILE *fs[3] = {g->log, g->power, g->hw};
    for (int i = 0; i < 3; i++)
        if (fs[i] && (ferror(fs[i]) | fclose(fs[i]))) bad = 1;
    memset(g, 0, sizeof *g);
    return bad ? jb_errf(err, "write error (disk full?)") : 0;
}

static int open_group(group_files *g, const char *dir, const exp_run *r, jb_buf *written,
                      jb_err *err)
{
    char prefix[128];
    safe_prefix(prefix, sizeof prefix, r->variant, r->phase);
    memset(g, 0, sizeof *g);
    if (!(g->log = open_out(dir, prefix, "actions", written, err)) ||
        !(g->power = open_out(dir, prefix, "power", written, err)) ||
        !(g->hw = open_out(dir, prefix, "hardware", written, err))) {
        close_group(g, NULL);
        return -1;
    }
    fputs("Wert 1 : Wirkleistung (1s) [joulebench export: headline power]\n"
          "Nummer;Zeit;Wert 1-avg[W];Wert 1-min[W];Wert 1-max[W];\n",
          g->power);
    write_hw_header(g->hw);
    return 0;
}

static int load_runs(jb_store *st, int64_t exp, exp_run **out, size_t *n, jb_err *err)
{
    sqlite3_stmt *q;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, start_ns, end_ns, coalesce(interval_ns,0), "
                           "coalesce(variant,''), coalesce(phase,'scenario') FROM run WHERE "
                           "experiment_id=? AND end_ns IS NOT NULL AND end_ns > start_ns "
                           "ORDER BY variant, phase, start_ns",
                           -1, &q, NULL) != SQLITE_OK)
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, exp);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            exp_run *nr = realloc(*out, cap * sizeof *nr);
            if (!nr) {
                sqlite3_finalize(q);
                return jb_errf(err, "out of memory");
            }
            *out = nr;
        }
        exp_run *r = &(*out)[(*n)++];
        r->id = sqlite3_column_int64(q, 0);
        r->start = sqlite3_column_int64(q, 1);
        r->end = sqlite3_column_int64(q, 2);
        r->interval = sqlite3_column_int64(q, 3);
        snprintf(r->variant, sizeof r->variant, "%s", jb_col_text(q, 4));
        snprintf(r->phase, sizeof r->phase, "%s", jb_col_text(q, 5));
    }
    sqlite3_finalize(q);
    return 0;
}

int jb_oscar_export(jb_store *st, int64_t experiment_id, const char *dir, const jb_oscar_tz *tz,
                    jb_buf *written, jb_err *err)
{
    if (mkdir(dir, 0755) && errno != EEXIST)
        return jb_errf(err, "%s: cannot create directory: %s", dir, strerror(errno));
    exp_run *runs;
    size_t n;
    if (load_runs(st, experiment_id, &runs, &n, err)) return -1;
    if (!n) {
        free(runs);
        return jb_errf(err, "%s: experiment %lld has no finished runs to export", st->path,
                       (long long)experiment_id);
    }
    group_files g = {0};
    int rc = 0, skipped = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        bool new_group = i == 0 || strcmp(runs[i].variant, runs[i - 1].variant) ||
                         strcmp(runs[i].phase, runs[i - 1].phase);
        if (new_group) {
            if (i) rc = close_group(&g, err);
            if (!rc) rc = open_group(&g, dir, &runs[i], written, err);
        }
        if (rc) break;
        int r = export_run(st, &g, tz, &runs[i], err);
        if (r > 0)
            skipped++;
        else
            rc = r;
    }
    if (g.log || g.power || g.hw) {
        jb_err e2;
        if (close_group(&g, &e2) && !rc) {
            snprintf(err->msg, sizeof err->msg, "%s: %s", dir, e2.msg);
            rc = -1;
        }
    }
    free(runs);
    if (!rc && skipped && written)
        jb_buf_printf(written, "# %d run(s) without a power or energy channel left out\n", skipped);
    return rc;
}
