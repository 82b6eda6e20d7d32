/*
 * report_table.c — implementation of report_table.h: the report tables the
 * Markdown and HTML writers share, built once from a jb_eval as cell strings
 * (numbers formatted here, so both outputs show the same precision), and
 * their Markdown and HTML renderers.
 */
#include "report_table.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

/* ---- building ---- */

static void *grow(void *p, size_t n, size_t size)
{
    p = realloc(p, n * size);
    if (!p) abort(); /* out of memory: nothing sensible left to do (as jb_buf) */
    return p;
}

static char *vdup(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) abort(); /* out of memory */
    return s;
}

static char *fmt_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_dup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vdup(fmt, ap);
    va_end(ap);
    return s;
}

static void col(jb_table *t, bool left, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void col(jb_table *t, bool left, const char *fmt, ...)
{
    t->col = grow(t->col, t->ncols + 1, sizeof *t->col);
    va_list ap;
    va_start(ap, fmt);
    t->col[t->ncols++] = (jb_table_col){.head = vdup(fmt, ap), .left = left};
    va_end(ap);
}

/* Fixed columns: a leading '<' marks a text (left-aligned) column. */
static void heads(jb_table *t, const char *title, const char *const *h, size_t n)
{
    t->title = title;
    for (size_t i = 0; i < n; i++)
        col(t, h[i][0] == '<', "%s", h[i] + (h[i][0] == '<'));
}

static void row(jb_table *t)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->row = grow(t->row, t->cap, sizeof *t->row);
    }
    jb_table_cell *c = calloc(t->ncols ? t->ncols : 1, sizeof *c);
    if (!c) abort(); /* out of memory */
    t->row[t->nrows++] = (jb_table_row){.cell = c};
}

/* A cell of the last row covering span columns; NULL when it does not fit. */
static jb_table_cell *vput(jb_table *t, int span, const char *fmt, va_list ap)
{
    if (!t->nrows) return NULL;
    jb_table_row *r = &t->row[t->nrows - 1];
    size_t used = 0;
    for (size_t i = 0; i < r->ncells; i++)
        used += (size_t)r->cell[i].span;
    if (used + (size_t)span > t->ncols) return NULL;
    jb_table_cell *c = &r->cell[r->ncells++];
    *c = (jb_table_cell){.text = vdup(fmt, ap), .span = span};
    return c;
}

static jb_table_cell *text(jb_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static jb_table_cell *text(jb_table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jb_table_cell *c = vput(t, 1, fmt, ap);
    va_end(ap);
    return c;
}

/* A muted cell over span columns: a missing value ("–") or a remark. */
static void muted(jb_table *t, int span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void muted(jb_table *t, int span, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jb_table_cell *c = vput(t, span, fmt, ap);
    va_end(ap);
    if (c) c->muted = true;
}

static void num(jb_table *t, double v, int prec)
{
    if (!isfinite(v)) {
        muted(t, 1, "–");
        return;
    }
    jb_table_cell *c = text(t, "%.*f", prec, v);
    if (c) c->neg = v < 0;
}

/* "lo – hi" with 5 significant digits (5 decimals: fixed), or a missing value. */
static void interval(jb_table *t, double lo, double hi, bool fixed)
{
    if (!isfinite(lo) || !isfinite(hi))
        muted(t, 1, "–");
    else if (fixed)
        text(t, "%.5f – %.5f", lo, hi);
    else
        text(t, "%.5g – %.5g", lo, hi);
}

void jb_table_free(jb_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->col[i].head);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->row[r].ncells; i++) {
            free(t->row[r].cell[i].text);
            free(t->row[r].cell[i].note);
        }
        free(t->row[r].cell);
    }
    free(t->col);
    free(t->row);
    *t = (jb_table){0};
}

/* ---- the tables ---- */

static const struct {
    const char *key, *label;
    int prec;
} OVERVIEW[] = {
    {"mean_power_w", "mean power (W)", 2},      {"energy_wh", "energy per run (Wh)", 5},
    {"duration_s", "duration (s)", 2},          {"cpu_pct", "CPU (%)", 1},
    {"mem_used_mb", "RAM used (MB)", 0},        {"net_rx_mb", "network received (MB)", 2},
    {"net_tx_mb", "network sent (MB)", 2},      {"disk_read_mb", "disk read (MB)", 2},
    {"disk_written_mb", "disk written (MB)", 2}};

static double gmean(const jb_eval_group *g, const char *key)
{
    const jb_eval_stat *s = g ? jb_eval_stat_find(g, key) : NULL;
    return s && s->ok ? s->d.mean : NAN;
}

/* Row r of the overview: the group means, then each group minus the
 * baseline (energy: the power-based software-induced energy, as lengths may
 * differ). */
static void overview_row(jb_table *t, const jb_eval *ev, const jb_eval_group *base, size_t r)
{
    const char *key = OVERVIEW[r].key;
    row(t);
    text(t, "%s", OVERVIEW[r].label);
    for (size_t i = 0; i < ev->ngroups; i++)
        num(t, gmean(&ev->groups[i], key), OVERVIEW[r].prec);
    for (size_t i = 0; base && i < ev->ngroups; i++) {
        const jb_eval_group *g = &ev->groups[i];
        if (!strcmp(g->phase, "baseline")) continue;
        double v = gmean(g, key) - gmean(base, key);
        if (!strcmp(key, "energy_wh") && g->has_sie) v = g->sie_power.value;
        num(t, v, OVERVIEW[r].prec);
    }
}

void jb_table_overview(jb_table *t, const jb_eval *ev)
{
    const jb_eval_group *base = jb_eval_group_find(ev, "", "baseline");
    t->title = "Overview (mean per run)";
    col(t, true, "mean per run");
    for (size_t i = 0; i < ev->ngroups; i++)
        col(t, false, "%s (n=%d)", ev->groups[i].label, ev->groups[i].n_ok);
    for (size_t i = 0; base && i < ev->ngroups; i++)
        if (strcmp(ev->groups[i].phase, "baseline"))
            col(t, false, "%s − baseline", ev->groups[i].label);
    for (size_t r = 0; r < JB_ARRAY_LEN(OVERVIEW); r++)
        overview_row(t, ev, base, r);
}

static void stat_row(jb_table *t, const char *group, const jb_eval_stat *s)
{
    const jb_desc *d = &s->d;
    row(t);
    text(t, "%s", group);
    text(t, "%s", s->label);
    text(t, "%zu", d->n);
    num(t, d->mean, 5);
    num(t, d->sd, 5);
    num(t, d->se, 5);
    interval(t, d->ci_lo, d->ci_hi, false);
    num(t, d->median, 5);
    num(t, d->min, 5);
    num(t, d->max, 5);
    num(t, d->range, 5);
    num(t, d->iqr, 5);
    num(t, d->cv * 100, 2);
    num(t, d->sw_w, 4);
    num(t, d->sw_p, 4);
    text(t, "%zu", d->n_outliers);
}

void jb_table_statistics(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {"<group",  "<quantity", "n",         "mean",    "SD",    "SE",
                                    "95 % CI", "median",    "min",       "max",     "range", "IQR",
                                    "CV %",    "Shapiro W", "Shapiro p", "outliers"};
    heads(t, "Statistics per variant and phase", h, JB_ARRAY_LEN(h));
    for (size_t g = 0; g < ev->ngroups; g++)
        for (int i = 0; i < ev->groups[g].nst; i++)
            if (ev->groups[g].st[i].ok) stat_row(t, ev->groups[g].label, &ev->groups[g].st[i]);
}

static void estimate(jb_table *t, const jb_estimate *e)
{
    num(t, e->value, 5);
    num(t, e->se, 5);
    interval(t, e->ci_lo, e->ci_hi, true); /* as value and SE */
}

void jb_table_sie(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {"<group",           "power-based",    "SE",
                                    "95 % CI",          "OSCAR form",     "SE",
                                    "95 % CI",          "<OSCAR applies", "negative runs",
                                    "load check SD (W)"};
    heads(t, "Software-induced energy (Wh, mean with propagated uncertainty)", h, JB_ARRAY_LEN(h));
    for (size_t g = 0; g < ev->ngroups; g++) {
        const jb_eval_group *gr = &ev->groups[g];
        row(t);
        text(t, "%s", gr->label);
        if (gr->has_sie) {
            estimate(t, &gr->sie_power);
            estimate(t, &gr->sie_oscar);
            text(t, "%s", gr->sie_oscar_equal_length ? "yes" : "no (lengths differ)");
            text(t, "%d", gr->n_negative_sie);
        } else {
            muted(t, 8, "–");
        }
        num(t, gr->load_sd_w, 3);
    }
}

static void cmp_row(jb_table *t, const jb_eval_cmp *c)
{
    row(t);
    text(t, "%s", c->label);
    text(t, "%s vs %s", c->b, c->a);
    if (!c->ok) {
        muted(t, 11, "not compared: %s", c->note);
        return;
    }
    num(t, c->c.welch.t, 3);
    num(t, c->c.welch.df, 1);
    num(t, c->c.welch.p, 4);
    num(t, c->p_holm, 4);
    num(t, c->c.mwu.u, 1);
    num(t, c->c.mwu.p, 4);
    num(t, c->c.hedges_g, 3);
    num(t, c->c.cliff_delta, 3);
    num(t, c->c.rel.pct, 1);
    if (c->c.rel.bounded)
        text(t, "%.1f – %.1f", c->c.rel.lo_pct, c->c.rel.hi_pct);
    else
        muted(t, 1, "unbounded");
    jb_table_cell *v = text(t, "%s", c->sentence);
    if (v && c->note[0]) v->note = fmt_dup("%s", c->note);
}

void jb_table_comparisons(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {"<quantity",   "<b vs a", "Welch t", "df",       "p",
                                    "Holm p",      "MWU U",   "MWU p",   "Hedges g", "Cliff δ",
                                    "rel. diff %", "95 % CI", "<verdict"};
    heads(t, "Comparisons", h, JB_ARRAY_LEN(h));
    for (size_t i = 0; i < ev->ncmps; i++)
        cmp_row(t, &ev->cmps[i]);
}

void jb_table_targets(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {"<target", "<group", "reached", "never reached",
                                    "mean Wh", "SD",     "95 % CI"};
    heads(t, "Energy to target", h, JB_ARRAY_LEN(h));
    for (int k = 0; k < ev->ntargets; k++)
        for (size_t g = 0; g < ev->ngroups; g++) {
            const jb_eval_group *gr = &ev->groups[g];
            if (strcmp(gr->phase, "scenario")) continue;
            row(t);
            text(t, "%s", ev->targets[k].label);
            text(t, "%s", gr->label);
            text(t, "%d", gr->target_reached[k]);
            text(t, "%d", gr->target_never[k]);
            if (!gr->target_ok[k]) {
                muted(t, 3, "–");
                continue;
            }
            num(t, gr->target_wh[k].mean, 5);
            num(t, gr->target_wh[k].sd, 5);
            interval(t, gr->target_wh[k].ci_lo, gr->target_wh[k].ci_hi, false);
        }
}

static void util_row(jb_table *t, const char *group, const jb_eval_util *u)
{
    row(t);
    text(t, "%s", group);
    text(t, "%s (%s)", u->resource, u->load_unit);
    num(t, u->full, 2);
    num(t, u->base, 3);
    num(t, u->load, 3);
    num(t, u->net, 3);
    num(t, u->alloc, 5);
    num(t, u->effective, 3);
    if (isfinite(u->utilisation))
        text(t, "%.4g %s", u->utilisation, u->util_unit);
    else
        muted(t, 1, "–");
}

void jb_table_utilisation(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {
        "<group",   "<resource",         "full load",      "base load",  "load",
        "net load", "allocation factor", "effective load", "utilisation"};
    heads(t, "Hardware utilisation (Blue Angel)", h, JB_ARRAY_LEN(h));
    for (size_t g = 0; g < ev->ngroups; g++)
        for (int i = 0; i < ev->groups[g].nutil; i++)
            util_row(t, ev->groups[g].label, &ev->groups[g].util[i]);
}

void jb_table_controls(jb_table *t, const jb_eval *ev)
{
    static const char *const h[] = {"<control", "applied", "skipped",
                                    "failed",   "other",   "<reason (example)"};
    heads(t, "Reproducibility checklist", h, JB_ARRAY_LEN(h));
    for (int i = 0; i < ev->ncontrols; i++) {
        const jb_eval_control *c = &ev->controls[i];
        row(t);
        text(t, "%s", c->name);
        text(t, "%d", c->applied);
        text(t, "%d", c->skipped);
        text(t, "%d", c->failed);
        text(t, "%d", c->other);
        text(t, "%s", c->reason);
    }
}

/* ---- Markdown ---- */

/* Table cells must not break the row: '|' and newlines are replaced. */
static void md_text(FILE *f, const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '|' ? '/' : *s == '\n' ? ' ' : *s, f);
}

static void md_cell(FILE *f, const jb_table_cell *c)
{
    for (int k = 1; k < c->span; k++)
        fputs("| – ", f);
    fputs("| ", f);
    md_text(f, c->text);
    if (c->note) {
        fputs(" (", f);
        md_text(f, c->note);
        fputc(')', f);
    }
    fputc(' ', f);
}

void jb_table_markdown(FILE *f, const jb_table *t)
{
    if (t->title) fprintf(f, "\n## %s\n\n", t->title);
    for (size_t i = 0; i < t->ncols; i++) {
        fputs("| ", f);
        md_text(f, t->col[i].head);
        fputc(' ', f);
    }
    fputs("|\n", f);
    for (size_t i = 0; i < t->ncols; i++)
        fputs(t->col[i].left ? "|---" : "|---:", f);
    fputs("|\n", f);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->row[r].ncells; i++)
            md_cell(f, &t->row[r].cell[i]);
        fputs("|\n", f);
    }
}

/* ---- HTML ---- */

/* A cell, aligned as the last column it covers (left: that column is text). */
static void html_cell(FILE *f, const jb_table_cell *c, bool left)
{
    const char *cls[3];
    int n = 0;
    if (left) cls[n++] = "l";
    if (c->neg) cls[n++] = "neg";
    if (c->muted) cls[n++] = "muted";
    fputs("<td", f);
    if (c->span > 1) fprintf(f, " colspan=\"%d\"", c->span);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? " " : " class=\"", cls[i]);
    fputs(n ? "\">" : ">", f);
    jb_html_escape(f, c->text);
    if (c->note) {
        fputs(" <span class=\"muted\">(", f);
        jb_html_escape(f, c->note);
        fputs(")</span>", f);
    }
    fputs("</td>", f);
}

void jb_table_html(FILE *f, const jb_table *t)
{
    fputs("<table><tr>", f);
    for (size_t i = 0; i < t->ncols; i++) {
        fputs(t->col[i].left ? "<th class=\"l\">" : "<th>", f);
        jb_html_escape(f, t->col[i].head);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t r = 0; r < t->nrows; r++) {
        fputs("<tr>", f);
        size_t at = 0;
        for (size_t i = 0; i < t->row[r].ncells; i++) {
            const jb_table_cell *c = &t->row[r].cell[i];
            at += (size_t)c->span;
            html_cell(f, c, t->col[at - 1].left);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>", f);
}
