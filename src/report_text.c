/*
 * report_text.c — the one-screen terminal summary of `joulebench report`:
 * per group energy, duration, power, software-induced energy, the key metric
 * and its efficiency, energy to target, the verdicts (comparison sentences)
 * and every warning. The full tables are in the Markdown/JSON/CSV/HTML forms.
 *
 * Fits a terminal: the group table's columns are as wide as their contents,
 * each numeric column shows about four significant digits of its largest
 * value (0.001042 Wh and 172.2 Wh alike), and long lines wrap at TEXT_WIDTH.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"

#define TEXT_WIDTH 100
#define CELL 48

/* Decimals that give a column whose largest magnitude is max `sig`
 * significant digits (at least 0, at most 9). */
static int col_decimals(double max, int sig)
{
    if (!(max > 0) || !isfinite(max)) return 2;
    int d = sig - 1 - (int)floor(log10(max));
    return d < 0 ? 0 : d > 9 ? 9 : d;
}

static const jb_eval_stat *stat_ok(const jb_eval_group *g, const char *key)
{
    const jb_eval_stat *s = key ? jb_eval_stat_find(g, key) : NULL;
    return s && s->ok ? s : NULL;
}

/* Largest |mean| of KEY over the groups. */
static double col_max(const jb_eval *ev, const char *key)
{
    double m = 0;
    for (size_t i = 0; i < ev->ngroups; i++) {
        const jb_eval_stat *s = stat_ok(&ev->groups[i], key);
        if (s && isfinite(s->d.mean)) m = fmax(m, fabs(s->d.mean));
    }
    return m;
}

static void mean_sd(char *out, const jb_eval_stat *s, int dec)
{
    if (!s)
        snprintf(out, CELL, "-");
    else if (s->d.n >= 2 && isfinite(s->d.sd))
        snprintf(out, CELL, "%.*f ±%.*f", dec, s->d.mean, dec, s->d.sd);
    else
        snprintf(out, CELL, "%.*f", dec, s->d.mean);
}

/* Columns the first N bytes of a UTF-8 string take (every code point one
 * column: ±, δ, µ). */
static int utf8_cols_n(const char *s, size_t n)
{
    int cols = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cols;
}

static int utf8_cols(const char *s)
{
    return utf8_cols_n(s, strlen(s));
}

/* Prints TEXT after PREFIX, wrapped at TEXT_WIDTH with continuation lines
 * indented by INDENT spaces (a word longer than a line stays whole). */
static void wrapped(FILE *f, const char *prefix, const char *text, int indent)
{
    int col = fprintf(f, "%s", prefix);
    bool line_start = true;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (!w) break;
        int ww = utf8_cols_n(p, w);
        if (!line_start && col + 1 + ww > TEXT_WIDTH) {
            col = fprintf(f, "\n%*s", indent, "") - 1;
            line_start = true;
        }
        if (!line_start) col += fprintf(f, " ");
        fwrite(p, 1, w, f);
        col += ww;
        line_start = false;
        p += w;
    }
    fputc('\n', f);
}

static void header(FILE *f, const jb_eval *ev)
{
    if (ev->experiment_id > 0)
        fprintf(f, "joulebench report: %s (experiment %lld, %s)\n", ev->name,
                (long long)ev->experiment_id, ev->store_path);
    else
        fprintf(f, "joulebench report: %s (%s)\n", ev->name, ev->store_path);
    fprintf(f, "host %s, %s, %d cores; meter: %s; interval %.4g ms; runs %d (%d ok)\n",
            ev->host[0] ? ev->host : "?", ev->cpu_model[0] ? ev->cpu_model : "?", ev->cores,
            ev->meters[0] ? ev->meters : "none", ev->interval_ms, ev->n_runs, ev->n_ok);
}

enum { C_GROUP, C_N, C_E, C_D, C_P, C_SIE, C_M, C_MWH, NCOLS };

typedef struct text_table {
    int ncols, nrows;
    char (*cell)[NCOLS][CELL]; /* row 0 holds the headers */
} text_table;

static void fill_row(const jb_eval_group *g, char row[NCOLS][CELL], const int dec[NCOLS],
                     const char *mk, const char *ek)
{
    snprintf(row[C_GROUP], CELL, "%s%s", g->label, g->n_failed ? "*" : "");
    snprintf(row[C_N], CELL, "%d", g->n_ok);
    mean_sd(row[C_E], stat_ok(g, "energy_wh"), dec[C_E]);
    mean_sd(row[C_D], stat_ok(g, "duration_s"), dec[C_D]);
    mean_sd(row[C_P], stat_ok(g, "mean_power_w"), dec[C_P]);
    if (g->has_sie)
        snprintf(row[C_SIE], CELL, "%.*f ±%.*f", dec[C_SIE], g->sie_power.value, dec[C_SIE],
                 (g->sie_power.ci_hi - g->sie_power.ci_lo) / 2);
    else
        snprintf(row[C_SIE], CELL, "-");
    mean_sd(row[C_M], stat_ok(g, mk), dec[C_M]);
    mean_sd(row[C_MWH], stat_ok(g, ek), dec[C_MWH]);
}

static int build_table(const jb_eval *ev, text_table *t)
{
    const char *metric = ev->nmetrics ? ev->metrics[0] : NULL;
    char ek[96] = "";
    if (metric) snprintf(ek, sizeof ek, "%s_per_wh", metric);
    double sie_max = 0;
    for (size_t i = 0; i < ev->ngroups; i++)
        if (ev->groups[i].has_sie) sie_max = fmax(sie_max, fabs(ev->groups[i].sie_power.value));
    int dec[NCOLS] = {0};
    dec[C_E] = col_decimals(col_max(ev, "energy_wh"), 4);
    dec[C_D] = col_decimals(col_max(ev, "duration_s"), 3);
    dec[C_P] = col_decimals(col_max(ev, "mean_power_w"), 3);
    dec[C_SIE] = col_decimals(sie_max, 4);
    dec[C_M] = metric ? col_decimals(col_max(ev, metric), 4) : 0;
    dec[C_MWH] = metric ? col_decimals(col_max(ev, ek), 4) : 0;
    t->ncols = metric ? NCOLS : C_M;
    t->nrows = (int)ev->ngroups + 1;
    t->cell = calloc((size_t)t->nrows, sizeof *t->cell);
    if (!t->cell) return -1;
    const char *head[NCOLS] = {
        "group", "n", "energy Wh ±sd", "duration s", "mean W", "sw-induced Wh", metric, NULL};
    for (int c = 0; c < t->ncols; c++)
        snprintf(t->cell[0][c], CELL, "%s", head[c] ? head[c] : "");
    if (metric) snprintf(t->cell[0][C_MWH], CELL, "%s/Wh", metric);
    for (size_t i = 0; i < ev->ngroups; i++)
        fill_row(&ev->groups[i], t->cell[i + 1], dec, metric, ek);
    return 0;
}

static void print_table(FILE *f, const text_table *t)
{
    int w[NCOLS] = {0};
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            int len = utf8_cols(t->cell[r][c]);
            if (len > w[c]) w[c] = len;
        }
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cell[r][c];
            int pad = w[c] - utf8_cols(s);
            if (c == C_GROUP)
                fprintf(f, "%s%*s", s, pad, "");
            else
                fprintf(f, "  %*s%s", pad, "", s);
        }
        fputc('\n', f);
    }
}

static void group_table(FILE *f, const jb_eval *ev)
{
    text_table t;
    if (build_table(ev, &t)) {
        fprintf(f, "(out of memory for the group table)\n");
        return;
    }
    fputc('\n', f);
    print_table(f, &t);
    free(t.cell);
    if (ev->ngroups)
        fprintf(f, "(sw-induced: E - P_baseline x T, ± 95 %% CI half-width; * "
                   "group has failed runs)\n");
}

/* One line per scenario group under each target (group names aligned). */
static void targets(FILE *f, const jb_eval *ev)
{
    int w = 0;
    for (size_t i = 0; i < ev->ngroups; i++) {
        int cols = utf8_cols(ev->groups[i].label);
        if (!strcmp(ev->groups[i].phase, "scenario") && cols > w) w = cols;
    }
    for (int t = 0; t < ev->ntargets; t++) {
        fprintf(f, "\nenergy to %s:\n", ev->targets[t].label);
        for (size_t i = 0; i < ev->ngroups; i++) {
            const jb_eval_group *g = &ev->groups[i];
            if (strcmp(g->phase, "scenario")) continue;
            fprintf(f, "  %s%*s  ", g->label, w - utf8_cols(g->label), "");
            if (g->target_ok[t])
                fprintf(f, "%.4g Wh (n=%d", g->target_wh[t].mean, g->target_reached[t]);
            else
                fprintf(f, "- (n=0");
            if (g->target_never[t]) fprintf(f, ", %d never reached", g->target_never[t]);
            fputs(")\n", f);
        }
    }
}

static void carbon(FILE *f, const jb_eval *ev)
{
    if (!(ev->carbon_g_per_kwh > 0)) return;
    char line[4096];
    size_t n = 0;
    for (size_t i = 0; i < ev->ngroups && n < sizeof line; i++)
        if (isfinite(ev->groups[i].carbon_g_mean))
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %.4g g", n ? ", " : "",
                                  ev->groups[i].label, ev->groups[i].carbon_g_mean);
    fprintf(f, "\ncarbon per run (energy x %.4g g CO2e/kWh, %s):\n", ev->carbon_g_per_kwh,
            ev->carbon_source);
    wrapped(f, "  ", n ? line : "-", 2);
}

static void verdicts(FILE *f, const jb_eval *ev)
{
    bool head = false;
    for (size_t i = 0; i < ev->ncmps; i++) {
        const jb_eval_cmp *c = &ev->cmps[i];
        if (strcmp(c->key, "energy_wh") && strcmp(c->key, "sie_power_wh")) continue;
        if (!head) fprintf(f, "\nverdicts (Welch p, Holm-adjusted):\n");
        head = true;
        char line[1200];
        if (c->sentence[0])
            snprintf(line, sizeof line, "%s", c->sentence);
        else
            snprintf(line, sizeof line, "%s vs %s (%s): not compared: %s", c->b, c->a, c->label,
                     c->note);
        wrapped(f, "  ", line, 4);
    }
}

void jb_report_text(FILE *f, const jb_eval *ev)
{
    header(f, ev);
    group_table(f, ev);
    targets(f, ev);
    carbon(f, ev);
    verdicts(f, ev);
    if (ev->nwarnings) fprintf(f, "\nwarnings:\n");
    for (size_t i = 0; i < ev->nwarnings; i++)
        wrapped(f, "  - ", ev->warnings[i], 4);
    fprintf(f, "\nfull tables: --markdown, --json, --csv DIR, --html FILE\n");
}
