/*
 * report_html.c — `joulebench report --html FILE`: one self-contained HTML
 * file (inline CSS and SVG, no JavaScript, no network) with the overview in
 * the Blue Angel layout, power over time, energy per run and box plots,
 * per-action bars, per-epoch metric curves, efficiency factors with CIs, the
 * comparisons, statistics, Blue Angel utilisation, targets, the
 * reproducibility checklist, every warning and the measurement setup.
 * Each section has an id (overview, power, energy, actions, epochs,
 * efficiency, comparisons, statistics, utilisation, targets, reproducibility,
 * warnings, setup) that tests/browser checks. The tables it shares with the
 * Markdown report (overview, statistics, software-induced energy,
 * comparisons, utilisation, targets, checklist) come from report_table.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "report_table.h"
#include "svg.h"

#define E jb_html_escape

static const char CSS[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;"
    "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"
    ".warn li{color:#8a4b00}.plot{margin:6px 12px 6px 0;background:#fff}"
    ".frame{fill:none;stroke:#999}.tick{stroke:#999}.grid{stroke:#eee}"
    ".tl{font-size:10px;fill:#444}.al{font-size:11px;fill:#222}.pt{font-size:12px;"
    "font-weight:bold;fill:#222}.neg{color:#b00}.est{color:#a60;font-weight:bold}"
    ".muted{color:#777}";

static void num(FILE *f, double v, int prec)
{
    if (!isfinite(v))
        fputs("<td class=\"muted\">–</td>", f);
    else
        fprintf(f, "<td%s>%.*f</td>", v < 0 ? " class=\"neg\"" : "", prec, v);
}

static void sect(FILE *f, const char *id, const char *title)
{
    fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
}

/* One shared table (report_table.c) as HTML; returns its number of rows. */
static size_t table(FILE *f, const jb_eval *ev, jb_table_build *build)
{
    jb_table t = {0};
    build(&t, ev);
    jb_table_html(f, &t);
    size_t rows = t.nrows;
    jb_table_free(&t);
    return rows;
}

/* Overview in the Blue Angel layout: rows are quantities, columns phases. */
static void overview(FILE *f, const jb_eval *ev)
{
    sect(f, "overview", "Overview");
    table(f, ev, jb_table_overview);
    fputs("<p class=\"muted\">Software-induced energy (last columns, energy row) is "
          "power-based: E − P̄<sub>baseline</sub>·T; other rows are plain differences of "
          "means.</p>",
          f);
    if (ev->any_estimated)
        fputs("<p class=\"est\">Some energy figures are ESTIMATED from CPU utilisation, not "
              "measured.</p>",
              f);
    fputs("</section>\n", f);
}

static void power_plots(FILE *f, const jb_eval *ev)
{
    sect(f, "power", "Power over time");
    fputs("<p class=\"muted\">Every run grey, per-second mean across runs red, top-level "
          "actions of the first run as bands.</p>\n",
          f);
    int plots = 0;
    for (size_t gi = 0; gi < ev->ngroups; gi++) {
        const jb_eval_group *g = &ev->groups[gi];
        if (!g->n_mean_ps) continue;
        double ymax = 0;
        for (size_t i = 0; i < ev->nruns; i++) {
            const jb_eval_run *r = &ev->runs[i];
            if (strcmp(r->variant, g->variant) || strcmp(r->phase, g->phase)) continue;
            for (size_t k = 0; k < r->nps; k++)
                if (isfinite(r->ps[k]) && r->ps[k] > ymax) ymax = r->ps[k];
        }
        char title[160];
        snprintf(title, sizeof title, "%s: power (W) per second", g->label);
        jb_svg s;
        jb_svg_begin(&s, f, 560, 260, 0, (double)g->n_mean_ps, 0, ymax * 1.05, title,
                     "seconds since run start", "W");
        size_t cap = g->n_mean_ps;
        double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
        bool banded = false;
        for (size_t i = 0; x && y && i < ev->nruns; i++) {
            const jb_eval_run *r = &ev->runs[i];
            if (strcmp(r->variant, g->variant) || strcmp(r->phase, g->phase) ||
                strcmp(r->status, "ok"))
                continue;
            if (!banded)
                for (size_t k = 0; k < r->nband; k++) {
                    char t[128];
                    snprintf(t, sizeof t, "%s %.1f–%.1f s", r->band[k].name, r->band[k].begin_s,
                             r->band[k].end_s);
                    jb_svg_rect(&s, r->band[k].begin_s, r->band[k].end_s, 0, ymax * 1.05,
                                jb_svg_color(k % 2 ? 1 : 6), 0.12, t);
                }
            banded = true;
            for (size_t k = 0; k < r->nps; k++)
                x[k] = (double)k + 0.5, y[k] = r->ps[k];
            jb_svg_line(&s, x, y, r->nps, "#888", 1, 0.5);
        }
        for (size_t k = 0; x && y && k < g->n_mean_ps; k++)
            x[k] = (double)k + 0.5, y[k] = g->mean_ps[k];
        if (x && y) jb_svg_line(&s, x, y, g->n_mean_ps, "#d62728", 2, 1);
        free(x);
        free(y);
        jb_svg_end(&s);
        plots++;
    }
    if (!plots) fputs("<p>No run lasted a full second with a power channel.</p>", f);
    fputs("</section>\n", f);
}

/* Box plot of one quantity across groups (one box per group). */
static void box_plot(FILE *f, const jb_eval *ev, const char *key, const char *title,
                     const char *unit, bool scenario_only, bool per_run_sie)
{
    const jb_eval_group *gs[64];
    size_t n = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < ev->ngroups && n < 64; i++) {
        const jb_eval_stat *st = jb_eval_stat_find(&ev->groups[i], key);
        if (!st || !st->ok || (scenario_only && !strcmp(ev->groups[i].phase, "baseline"))) continue;
        gs[n++] = &ev->groups[i];
        lo = fmin(lo, st->d.min);
        hi = fmax(hi, st->d.max);
    }
    if (!n) return;
    double pad = (hi - lo) * 0.1 + 1e-9;
    jb_svg s;
    jb_svg_begin(&s, f, 120 + 110 * (double)n, 260, 0, (double)n, fmin(lo - pad, 0), hi + pad,
                 title, "", unit);
    for (size_t i = 0; i < n; i++) {
        const jb_desc *d = &jb_eval_stat_find(gs[i], key)->d;
        const char *c = jb_svg_color(i);
        double cx = i + 0.5;
        double wlo = d->min, whi = d->max; /* whiskers: within the fences */
        double *vals = NULL;
        size_t nv = 0;
        vals = malloc((ev->nruns ? ev->nruns : 1) * sizeof *vals);
        for (size_t r = 0; vals && r < ev->nruns; r++) {
            const jb_eval_run *rr = &ev->runs[r];
            if (strcmp(rr->variant, gs[i]->variant) || strcmp(rr->phase, gs[i]->phase) ||
                strcmp(rr->status, "ok"))
                continue;
            double v = per_run_sie ? rr->sie_power_j / 3600 : rr->energy_j / 3600;
            if (isfinite(v)) vals[nv++] = v;
        }
        wlo = INFINITY, whi = -INFINITY;
        for (size_t k = 0; k < nv; k++)
            if (vals[k] >= d->lo_fence && vals[k] <= d->hi_fence)
                wlo = fmin(wlo, vals[k]), whi = fmax(whi, vals[k]);
        double xs[2] = {cx, cx}, ys[2] = {wlo, whi};
        jb_svg_line(&s, xs, ys, 2, c, 1, 1);
        char tip[200];
        snprintf(tip, sizeof tip, "%s: median %.4g, IQR %.4g–%.4g, n=%zu", gs[i]->label, d->median,
                 d->q1, d->q3, d->n);
        jb_svg_rect(&s, cx - 0.25, cx + 0.25, d->q1, d->q3 > d->q1 ? d->q3 : d->q1 + pad * 0.02, c,
                    0.3, tip);
        double mx[2] = {cx - 0.25, cx + 0.25}, my[2] = {d->median, d->median};
        jb_svg_line(&s, mx, my, 2, c, 2, 1);
        for (size_t k = 0; k < nv; k++) {
            bool out = vals[k] < d->lo_fence || vals[k] > d->hi_fence;
            snprintf(tip, sizeof tip, "%.5g %s%s", vals[k], unit, out ? " (Tukey outlier)" : "");
            jb_svg_point(&s, cx + 0.3 * ((double)(k % 7) / 6 - 0.5), vals[k], out ? 4 : 2.5,
                         out ? "#d62728" : "#333", tip);
        }
        free(vals);
        jb_svg_text(&s, cx, s.y0, "middle", gs[i]->label);
    }
    jb_svg_end(&s);
}

static void energy_section(FILE *f, const jb_eval *ev)
{
    sect(f, "energy", "Energy per run");
    box_plot(f, ev, "energy_wh", "baseline | scenario: energy per run", "Wh", false, false);
    box_plot(f, ev, "sie_power_wh", "software-induced energy per run (power-based)", "Wh", true,
             true);
    fputs("<table><tr><th>run</th><th class=\"l\">group</th><th>rep</th><th class=\"l\">status"
          "</th><th>duration s</th><th>energy Wh</th><th>mean W</th><th>sw-induced Wh</th>"
          "<th>± (baseline)</th><th>OSCAR form Wh</th><th class=\"l\">meter</th></tr>\n",
          f);
    for (size_t i = 0; i < ev->nruns; i++) {
        const jb_eval_run *r = &ev->runs[i];
        fprintf(f, "<tr><td>%lld</td><td class=\"l\">", (long long)r->id);
        E(f, r->variant[0] ? r->variant : r->phase);
        fprintf(f, "</td><td>%d</td><td class=\"l\">", r->rep);
        E(f, r->status);
        fputs("</td>", f);
        num(f, r->duration_s, 2);
        num(f, r->energy_j / 3600, 5);
        num(f, r->mean_power_w, 2);
        num(f, r->sie_power_j / 3600, 5);
        num(f, r->sie_power_se / 3600, 5);
        num(f, r->sie_oscar_j / 3600, 5);
        fputs("<td class=\"l\">", f);
        E(f, r->headline);
        if (r->estimated) fputs(" <span class=\"est\">estimated</span>", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

static void actions_section(FILE *f, const jb_eval *ev)
{
    sect(f, "actions", "Energy per action");
    char names[16][68];
    int nn = 0;
    for (size_t i = 0; i < ev->nruns; i++)
        for (size_t k = 0; k < ev->runs[i].nact; k++) {
            int j = 0;
            while (j < nn && strcmp(names[j], ev->runs[i].act[k].name))
                j++;
            if (j == nn && nn < 16)
                snprintf(names[nn++], sizeof names[0], "%s", ev->runs[i].act[k].name);
        }
    if (!nn) {
        fputs("<p>No action markers were recorded.</p></section>\n", f);
        return;
    }
    double mean[64][16] = {{0}}, total[64] = {0}, xmax = 0;
    size_t ng = ev->ngroups < 64 ? ev->ngroups : 64;
    for (size_t g = 0; g < ng; g++) {
        int runs = 0;
        for (size_t i = 0; i < ev->nruns; i++) {
            const jb_eval_run *r = &ev->runs[i];
            if (strcmp(r->variant, ev->groups[g].variant) ||
                strcmp(r->phase, ev->groups[g].phase) || strcmp(r->status, "ok"))
                continue;
            runs++;
            for (size_t k = 0; k < r->nact; k++)
                for (int j = 0; j < nn; j++)
                    if (!strcmp(names[j], r->act[k].name)) mean[g][j] += r->act[k].energy_j / 3600;
        }
        for (int j = 0; j < nn; j++)
            total[g] += runs ? (mean[g][j] /= runs) : 0;
        xmax = fmax(xmax, total[g]);
    }
    jb_svg s;
    /* room right of the longest bar for its label and total */
    jb_svg_begin(&s, f, 760, 70 + 34 * (double)ng, 0, xmax * 1.45, 0, (double)ng,
                 "mean energy per top-level action (stacked)", "Wh", "");
    for (size_t g = 0; g < ng; g++) {
        double x = 0, y = (double)(ng - g) - 0.5;
        for (int j = 0; j < nn; j++) {
            char tip[160];
            snprintf(tip, sizeof tip, "%s — %s: %.5g Wh", ev->groups[g].label, names[j],
                     mean[g][j]);
            jb_svg_rect(&s, x, x + mean[g][j], y - 0.35, y + 0.35, jb_svg_color((size_t)j), 0.85,
                        tip);
            x += mean[g][j];
        }
        char label[120];
        if (total[g] > 0)
            snprintf(label, sizeof label, "%s: %.4g Wh", ev->groups[g].label, total[g]);
        else
            snprintf(label, sizeof label, "%s: no actions", ev->groups[g].label);
        jb_svg_text(&s, x + xmax * 0.01, y - 0.12, "start", label); /* -0.12: centred on the bar */
    }
    jb_svg_end(&s);
    fputs("<p>", f);
    for (int j = 0; j < nn; j++) {
        fprintf(f, "<span style=\"color:%s\">■</span> ", jb_svg_color((size_t)j));
        E(f, names[j]);
        fputs(" &nbsp; ", f);
    }
    fputs("</p></section>\n", f);
}

static void epochs_section(FILE *f, const jb_eval *ev)
{
    sect(f, "epochs", "Per epoch: energy and metric");
    bool any = false;
    for (size_t g = 0; g < ev->ngroups; g++)
        any |= ev->groups[g].nep > 0;
    if (!any) {
        fputs("<p>No epoch (indexed action) markers were recorded.</p></section>\n", f);
        return;
    }
    for (int m = 0; m < ev->nmetrics; m++) {
        double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
        for (size_t g = 0; g < ev->ngroups; g++)
            for (size_t k = 0; k < ev->groups[g].nep; k++) {
                const jb_eval_epoch *e = &ev->groups[g].ep[k];
                xmax = fmax(xmax, e->cumulative_j / 3600);
                if (isfinite(e->metric[m]))
                    ylo = fmin(ylo, e->metric[m]), yhi = fmax(yhi, e->metric[m]);
            }
        if (!isfinite(ylo)) continue;
        char title[160];
        snprintf(title, sizeof title, "%s against cumulative energy (mean per epoch)",
                 ev->metrics[m]);
        jb_svg s;
        jb_svg_begin(&s, f, 560, 280, 0, xmax * 1.05, ylo - (yhi - ylo) * 0.1,
                     yhi + (yhi - ylo) * 0.1, title, "cumulative Wh", ev->metrics[m]);
        for (size_t g = 0; g < ev->ngroups; g++) {
            const jb_eval_group *gr = &ev->groups[g];
            if (!gr->nep) continue;
            double *x = malloc(gr->nep * sizeof *x), *y = malloc(gr->nep * sizeof *y);
            for (size_t k = 0; x && y && k < gr->nep; k++) {
                x[k] = gr->ep[k].cumulative_j / 3600;
                y[k] = gr->ep[k].metric[m];
                char tip[160];
                snprintf(tip, sizeof tip, "%s epoch %lld: %.4g at %.4g Wh", gr->label,
                         (long long)gr->ep[k].index, y[k], x[k]);
                jb_svg_point(&s, x[k], y[k], 3, jb_svg_color(g), tip);
            }
            if (x && y) jb_svg_line(&s, x, y, gr->nep, jb_svg_color(g), 2, 1);
            free(x);
            free(y);
        }
        jb_svg_end(&s);
    }
    fputs("<table><tr><th class=\"l\">group</th><th>epoch</th><th>energy Wh</th>"
          "<th>cumulative Wh</th><th>duration s</th>",
          f);
    for (int m = 0; m < ev->nmetrics; m++) {
        fputs("<th>", f);
        E(f, ev->metrics[m]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t g = 0; g < ev->ngroups; g++)
        for (size_t k = 0; k < ev->groups[g].nep; k++) {
            const jb_eval_epoch *e = &ev->groups[g].ep[k];
            fputs("<tr><td class=\"l\">", f);
            E(f, ev->groups[g].label);
            fprintf(f, "</td><td>%lld</td>", (long long)e->index);
            num(f, e->energy_j / 3600, 5);
            num(f, e->cumulative_j / 3600, 5);
            num(f, e->duration_s, 2);
            for (int m = 0; m < ev->nmetrics; m++)
                num(f, e->metric[m], 4);
            fputs("</tr>\n", f);
        }
    fputs("</table></section>\n", f);
}

static void efficiency_section(FILE *f, const jb_eval *ev)
{
    sect(f, "efficiency", "Efficiency factors (metric per Wh, 95 % CI)");
    if (!ev->nmetrics) {
        fputs("<p>No efficiency metric: name one in the spec (metrics:) or with --metric; the "
              "workload sends it as a metric marker.</p></section>\n",
              f);
        return;
    }
    static const char *sfx[] = {"_per_wh", "_per_wh_sie"};
    static const char *lab[] = {"gross", "software-induced"};
    for (int m = 0; m < ev->nmetrics; m++)
        for (int k = 0; k < 2; k++) {
            char key[96], title[160];
            snprintf(key, sizeof key, "%s%s", ev->metrics[m], sfx[k]);
            snprintf(title, sizeof title, "%s per Wh (%s)", ev->metrics[m], lab[k]);
            double hi = 0;
            size_t n = 0;
            for (size_t g = 0; g < ev->ngroups; g++) {
                const jb_eval_stat *st = jb_eval_stat_find(&ev->groups[g], key);
                if (!st || !st->ok) continue;
                n++;
                hi = fmax(hi, isfinite(st->d.ci_hi) ? st->d.ci_hi : st->d.max);
            }
            if (!n) continue;
            jb_svg s;
            jb_svg_begin(&s, f, 120 + 110 * (double)n, 240, 0, (double)n, 0, hi * 1.1, title, "",
                         "per Wh");
            size_t i = 0;
            for (size_t g = 0; g < ev->ngroups; g++) {
                const jb_eval_stat *st = jb_eval_stat_find(&ev->groups[g], key);
                if (!st || !st->ok) continue;
                char tip[200];
                snprintf(tip, sizeof tip, "%s: %.4g (95 %% CI %.4g–%.4g), n=%zu",
                         ev->groups[g].label, st->d.mean, st->d.ci_lo, st->d.ci_hi, st->d.n);
                jb_svg_errbar(&s, i + 0.5, st->d.mean, st->d.ci_lo, st->d.ci_hi, jb_svg_color(i),
                              tip);
                jb_svg_text(&s, i + 0.5, s.y0, "middle", ev->groups[g].label);
                i++;
            }
            jb_svg_end(&s);
        }
    fputs("</section>\n", f);
}

static void comparisons_section(FILE *f, const jb_eval *ev)
{
    sect(f, "comparisons", "Comparisons of variants");
    if (!ev->ncmps) {
        fputs("<p>Fewer than two scenario variants: nothing to compare.</p></section>\n", f);
        return;
    }
    table(f, ev, jb_table_comparisons);
    fputs("<p class=\"muted\">Holm adjustment over all comparisons in this table; "
          "Mann–Whitney exact for small samples without ties, else normal approximation with "
          "tie correction.</p></section>\n",
          f);
}

static void statistics_section(FILE *f, const jb_eval *ev)
{
    sect(f, "statistics", "Statistics per variant and phase");
    table(f, ev, jb_table_statistics);
    fputs("\n<h3>Software-induced energy (mean, Wh, propagated uncertainty)</h3>", f);
    table(f, ev, jb_table_sie);
    fputs("<p class=\"muted\">Load check (OSCAR): SD across runs at each second, "
          "averaged over the seconds of the phase.</p></section>\n",
          f);
}

static void utilisation_section(FILE *f, const jb_eval *ev)
{
    sect(f, "utilisation", "Hardware utilisation (Blue Angel DE-UZ 215)");
    if (!table(f, ev, jb_table_utilisation)) fputs("<p>Needs baseline runs (base load).</p>", f);
    fputs("<p class=\"muted\">Without a full load (network/disk: --net-max, --disk-max) the "
          "allocation factor is unknown and the effective load is the net load.</p></section>\n",
          f);
}

static void targets_section(FILE *f, const jb_eval *ev)
{
    sect(f, "targets", "Energy to target");
    if (!ev->ntargets) {
        fputs("<p>No target: add targets to the spec or give --target epoch:K or "
              "--target METRIC&gt;=VALUE.</p></section>\n",
              f);
        return;
    }
    table(f, ev, jb_table_targets);
    fputs("</section>\n", f);
}

static void repro_section(FILE *f, const jb_eval *ev)
{
    sect(f, "reproducibility", "Reproducibility checklist");
    if (!ev->ncontrols)
        fputs("<p>No reproducibility controls were recorded for these runs.</p>", f);
    else
        table(f, ev, jb_table_controls);
    fputs("</section>\n", f);
    sect(f, "warnings", "Warnings");
    if (!ev->nwarnings)
        fputs("<p>None.</p>", f);
    else {
        fputs("<ul class=\"warn\">", f);
        for (size_t i = 0; i < ev->nwarnings; i++) {
            fputs("<li>", f);
            E(f, ev->warnings[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>", f);
    }
    fputs("</section>\n", f);
}

static void kv(FILE *f, const char *k, const char *v)
{
    fprintf(f, "<tr><th class=\"l\">%s</th><td class=\"l\">", k);
    E(f, v && *v ? v : "–");
    fputs("</td></tr>\n", f);
}

static void setup_section(FILE *f, const jb_eval *ev)
{
    sect(f, "setup", "Measurement setup");
    char b[256];
    fputs("<table>", f);
    kv(f, "host", ev->host);
    kv(f, "CPU", ev->cpu_model);
    snprintf(b, sizeof b, "%d", ev->cores);
    kv(f, "cores", b);
    snprintf(b, sizeof b, "%.2f GB", ev->ram_b / 1e9);
    kv(f, "RAM", b);
    kv(f, "OS", ev->os);
    kv(f, "kernel", ev->kernel);
    kv(f, "other hardware", ev->host_extra);
    kv(f, "meters (headline)", ev->meters);
    snprintf(b, sizeof b, "%.4g ms (%.3g Hz)", ev->interval_ms, 1000 / ev->interval_ms);
    kv(f, "sampling interval", b);
    b[0] = 0;
    for (size_t g = 0; g < ev->ngroups; g++) {
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, "%s%s n=%d", l ? ", " : "", ev->groups[g].label,
                 ev->groups[g].n_ok);
    }
    kv(f, "sample sizes (ok runs)", b);
    if (ev->carbon_g_per_kwh > 0) {
        snprintf(b, sizeof b, "%.4g g CO2e/kWh (%s)", ev->carbon_g_per_kwh, ev->carbon_source);
        kv(f, "carbon intensity", b);
    }
    kv(f, "recorded with joulebench", ev->jb_version);
    kv(f, "report by joulebench", JB_VERSION);
    kv(f, "store", ev->store_path);
    kv(f, "spec", ev->spec_path);
    fputs("</table></section>\n", f);
}

int jb_report_html(FILE *f, const jb_eval *ev)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\"><title>joulebench report: ",
          f);
    E(f, ev->name);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>joulebench report: ", CSS);
    E(f, ev->name);
    fprintf(f, "</h1><p>%d runs (%d ok), %zu groups, %zu warning(s).</p>\n", ev->n_runs, ev->n_ok,
            ev->ngroups, ev->nwarnings);
    overview(f, ev);
    power_plots(f, ev);
    energy_section(f, ev);
    actions_section(f, ev);
    epochs_section(f, ev);
    efficiency_section(f, ev);
    comparisons_section(f, ev);
    statistics_section(f, ev);
    utilisation_section(f, ev);
    targets_section(f, ev);
    repro_section(f, ev);
    setup_section(f, ev);
    fputs("</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}
