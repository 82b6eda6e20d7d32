/*
 * report_md.c — `joulebench report --markdown`: the evaluation as Markdown
 * tables for papers and READMEs (same content as the HTML report, without
 * plots): overview, statistics, software-induced energy, comparisons,
 * targets, Blue Angel utilisation, checklist, warnings and setup.
 */
#include <math.h>
#include <string.h>

#include "evaluate.h"

static void cell(FILE *f, double v, int prec)
{
    if (isfinite(v))
        fprintf(f, " %.*f |", prec, v);
    else
        fputs(" – |", f);
}

/* Table cells must not break the row: '|' and newlines are replaced. */
static void text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '|' ? '/' : *s == '\n' ? ' ' : *s, f);
}

static void stats_table(FILE *f, const jb_eval *ev)
{
    fputs("\n## Statistics per variant and phase\n\n| group | quantity | n | mean | SD | SE | "
          "95 % CI | median | min | max | range | IQR | CV % | Shapiro W | p | outliers |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t g = 0; g < ev->ngroups; g++)
        for (int i = 0; i < ev->groups[g].nst; i++) {
            const jb_eval_stat *s = &ev->groups[g].st[i];
            if (!s->ok) continue;
            const jb_desc *d = &s->d;
            fputs("| ", f);
            text(f, ev->groups[g].label);
            fputs(" | ", f);
            text(f, s->label);
            fprintf(f, " | %zu |", d->n);
            cell(f, d->mean, 5);
            cell(f, d->sd, 5);
            cell(f, d->se, 5);
            if (isfinite(d->ci_lo))
                fprintf(f, " %.5g – %.5g |", d->ci_lo, d->ci_hi);
            else
                fputs(" – |", f);
            cell(f, d->median, 5);
            cell(f, d->min, 5);
            cell(f, d->max, 5);
            cell(f, d->range, 5);
            cell(f, d->iqr, 5);
            cell(f, d->cv * 100, 2);
            cell(f, d->sw_w, 4);
            cell(f, d->sw_p, 4);
            fprintf(f, " %zu |\n", d->n_outliers);
        }
}

static void sie_table(FILE *f, const jb_eval *ev)
{
    fputs("\n## Software-induced energy (Wh, mean with propagated uncertainty)\n\n| group | "
          "power-based | 95 % CI | OSCAR form | 95 % CI | OSCAR applies | negative runs | "
          "load check SD (W) |\n|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t g = 0; g < ev->ngroups; g++) {
        const jb_eval_group *gr = &ev->groups[g];
        fputs("| ", f);
        text(f, gr->label);
        fputs(" |", f);
        if (gr->has_sie)
            fprintf(f, " %.5f | %.5f – %.5f | %.5f | %.5f – %.5f | %s | %d |", gr->sie_power.value,
                    gr->sie_power.ci_lo, gr->sie_power.ci_hi, gr->sie_oscar.value,
                    gr->sie_oscar.ci_lo, gr->sie_oscar.ci_hi,
                    gr->sie_oscar_equal_length ? "yes" : "no", gr->n_negative_sie);
        else
            fputs(" – | – | – | – | – | – |", f);
        cell(f, gr->load_sd_w, 3);
        fputc('\n', f);
    }
}

static void cmp_table(FILE *f, const jb_eval *ev)
{
    if (!ev->ncmps) return;
    fputs("\n## Comparisons\n\n| quantity | b vs a | Welch t | df | p | Holm p | MWU U | MWU p "
          "| Hedges g | Cliff δ | rel. diff % | 95 % CI | verdict |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < ev->ncmps; i++) {
        const jb_eval_cmp *c = &ev->cmps[i];
        fputs("| ", f);
        text(f, c->label);
        fputs(" | ", f);
        text(f, c->b);
        fputs(" vs ", f);
        text(f, c->a);
        fputs(" |", f);
        if (!c->ok) {
            fputs(" – | – | – | – | – | – | – | – | – | – | not compared: ", f);
            text(f, c->note);
            fputs(" |\n", f);
            continue;
        }
        cell(f, c->c.welch.t, 3);
        cell(f, c->c.welch.df, 1);
        cell(f, c->c.welch.p, 4);
        cell(f, c->p_holm, 4);
        cell(f, c->c.mwu.u, 1);
        cell(f, c->c.mwu.p, 4);
        cell(f, c->c.hedges_g, 3);
        cell(f, c->c.cliff_delta, 3);
        cell(f, c->c.rel.pct, 1);
        if (c->c.rel.bounded)
            fprintf(f, " %.1f – %.1f |", c->c.rel.lo_pct, c->c.rel.hi_pct);
        else
            fputs(" unbounded |", f);
        fputc(' ', f);
        text(f, c->sentence);
        fputs(" |\n", f);
    }
}

static void other_tables(FILE *f, const jb_eval *ev)
{
    if (ev->ntargets) {
        fputs("\n## Energy to target\n\n| target | group | reached | never reached | mean Wh | "
              "SD |\n|---|---|---|---|---|---|\n",
              f);
        for (int t = 0; t < ev->ntargets; t++)
            for (size_t g = 0; g < ev->ngroups; g++) {
                const jb_eval_group *gr = &ev->groups[g];
                if (strcmp(gr->phase, "scenario")) continue;
                fprintf(f, "| %s | ", ev->targets[t].label);
                text(f, gr->label);
                fprintf(f, " | %d | %d |", gr->target_reached[t], gr->target_never[t]);
                cell(f, gr->target_ok[t] ? gr->target_wh[t].mean : NAN, 5);
                cell(f, gr->target_ok[t] ? gr->target_wh[t].sd : NAN, 5);
                fputc('\n', f);
            }
    }
    fputs("\n## Hardware utilisation (Blue Angel)\n\n| group | resource | full | base | load | "
          "net | allocation factor | effective | utilisation |\n|---|---|---|---|---|---|---|---|"
          "---|\n",
          f);
    for (size_t g = 0; g < ev->ngroups; g++)
        for (int i = 0; i < ev->groups[g].nutil; i++) {
            const jb_eval_util *u = &ev->groups[g].util[i];
            fputs("| ", f);
            text(f, ev->groups[g].label);
            fprintf(f, " | %s (%s) |", u->resource, u->load_unit);
            cell(f, u->full, 2);
            cell(f, u->base, 3);
            cell(f, u->load, 3);
            cell(f, u->net, 3);
            cell(f, u->alloc, 5);
            cell(f, u->effective, 3);
            if (isfinite(u->utilisation))
                fprintf(f, " %.4g %s |\n", u->utilisation, u->util_unit);
            else
                fputs(" – |\n", f);
        }
    fputs("\n## Reproducibility checklist\n\n| control | applied | skipped | failed | other | "
          "reason |\n|---|---|---|---|---|---|\n",
          f);
    for (int i = 0; i < ev->ncontrols; i++) {
        const jb_eval_control *c = &ev->controls[i];
        fprintf(f, "| %s | %d | %d | %d | %d | ", c->name, c->applied, c->skipped, c->failed,
                c->other);
        text(f, c->reason);
        fputs(" |\n", f);
    }
    fputs("\n## Warnings\n\n", f);
    if (!ev->nwarnings) fputs("None.\n", f);
    for (size_t i = 0; i < ev->nwarnings; i++)
        fprintf(f, "- %s\n", ev->warnings[i]);
}

void jb_report_markdown(FILE *f, const jb_eval *ev)
{
    fprintf(f, "# joulebench report: %s\n\n", ev->name);
    fprintf(f,
            "Host %s (%s, %d cores, %.2f GB RAM, %s); meter: %s; sampling interval %.4g ms; "
            "%d runs (%d ok); joulebench %s (recorded with %s).\n",
            ev->host, ev->cpu_model, ev->cores, ev->ram_b / 1e9, ev->os,
            ev->meters[0] ? ev->meters : "none", ev->interval_ms, ev->n_runs, ev->n_ok, JB_VERSION,
            ev->jb_version[0] ? ev->jb_version : "?");
    if (ev->carbon_g_per_kwh > 0)
        fprintf(f, "Carbon: energy × %.4g g CO2e/kWh (%s).\n", ev->carbon_g_per_kwh,
                ev->carbon_source);
    fputs("\n## Overview (mean per run)\n\n| group | n | energy Wh | duration s | mean W | "
          "software-induced Wh | CPU % | RAM MB |\n|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t g = 0; g < ev->ngroups; g++) {
        const jb_eval_group *gr = &ev->groups[g];
        static const char *keys[] = {"energy_wh", "duration_s", "mean_power_w"};
        fputs("| ", f);
        text(f, gr->label);
        fprintf(f, " | %d |", gr->n_ok);
        for (int k = 0; k < 3; k++) {
            const jb_eval_stat *s = jb_eval_stat_find(gr, keys[k]);
            cell(f, s && s->ok ? s->d.mean : NAN, k == 0 ? 5 : 2);
        }
        cell(f, gr->has_sie ? gr->sie_power.value : NAN, 5);
        const jb_eval_stat *c = jb_eval_stat_find(gr, "cpu_pct");
        cell(f, c && c->ok ? c->d.mean : NAN, 1);
        c = jb_eval_stat_find(gr, "mem_used_mb");
        cell(f, c && c->ok ? c->d.mean : NAN, 0);
        fputc('\n', f);
    }
    stats_table(f, ev);
    sie_table(f, ev);
    cmp_table(f, ev);
    other_tables(f, ev);
}
