/*
 * report_text.c — the one-screen terminal summary of `joulebench report`:
 * per group energy, duration, power, software-induced energy, the key metric
 * and its efficiency, energy to target, the verdicts (comparison sentences)
 * and every warning. The full tables are in the Markdown/JSON/CSV/HTML forms.
 */
#include <math.h>
#include <string.h>

#include "evaluate.h"

static void cell(char *out, size_t cap, const jb_eval_group *g, const char *key, int prec)
{
    const jb_eval_stat *s = jb_eval_stat_find(g, key);
    if (!s || !s->ok)
        snprintf(out, cap, "-");
    else if (s->d.n >= 2 && isfinite(s->d.sd))
        snprintf(out, cap, "%.*f ±%.*f", prec, s->d.mean, prec, s->d.sd);
    else
        snprintf(out, cap, "%.*f", prec, s->d.mean);
}

static void header(FILE *f, const jb_eval *ev)
{
    if (ev->experiment_id > 0)
        fprintf(f, "joulebench report: %s (experiment %lld, %s)\n", ev->name,
                (long long)ev->experiment_id, ev->store_path);
    else
        fprintf(f, "joulebench report: %s (%s)\n", ev->name, ev->store_path);
    fprintf(f, "host %s, %s, %d cores; meter: %s; interval %.0f ms; runs %d (%d ok)\n",
            ev->host[0] ? ev->host : "?", ev->cpu_model[0] ? ev->cpu_model : "?", ev->cores,
            ev->meters[0] ? ev->meters : "none", ev->interval_ms, ev->n_runs, ev->n_ok);
}

void jb_report_text(FILE *f, const jb_eval *ev)
{
    header(f, ev);
    const char *metric = ev->nmetrics ? ev->metrics[0] : NULL;
    char mk[96] = "", ek[96] = "";
    if (metric) {
        snprintf(mk, sizeof mk, "%s", metric);
        snprintf(ek, sizeof ek, "%s_per_wh", metric);
    }
    fprintf(f, "\n%-22s %4s %17s %15s %13s %17s", "group", "n", "energy Wh (±sd)", "duration s",
            "mean W", "sw-induced Wh");
    if (metric) fprintf(f, " %12.12s %14.14s", metric, "per Wh");
    fputc('\n', f);
    for (size_t i = 0; i < ev->ngroups; i++) {
        const jb_eval_group *g = &ev->groups[i];
        char e[48], d[48], p[48], s[48] = "-", m[48], x[48];
        cell(e, sizeof e, g, "energy_wh", 4);
        cell(d, sizeof d, g, "duration_s", 1);
        cell(p, sizeof p, g, "mean_power_w", 2);
        if (g->has_sie)
            snprintf(s, sizeof s, "%.4f ±%.4f", g->sie_power.value,
                     (g->sie_power.ci_hi - g->sie_power.ci_lo) / 2);
        char label[64];
        snprintf(label, sizeof label, "%s%s", g->label, g->n_failed ? "*" : "");
        fprintf(f, "%-22.22s %4d %17s %15s %13s %17s", label, g->n_ok, e, d, p, s);
        if (metric) {
            cell(m, sizeof m, g, mk, 3);
            cell(x, sizeof x, g, ek, 3);
            fprintf(f, " %12s %14s", m, x);
        }
        fputc('\n', f);
    }
    if (ev->ngroups)
        fprintf(f, "(sw-induced: E - P_baseline x T, ± 95 %% CI half-width; * "
                   "group has failed runs)\n");
    for (int t = 0; t < ev->ntargets; t++) {
        fprintf(f, "\nenergy to %s:", ev->targets[t].label);
        for (size_t i = 0; i < ev->ngroups; i++) {
            const jb_eval_group *g = &ev->groups[i];
            if (strcmp(g->phase, "scenario")) continue;
            if (g->target_ok[t])
                fprintf(f, "  %s %.4f Wh (n=%d", g->label, g->target_wh[t].mean,
                        g->target_reached[t]);
            else
                fprintf(f, "  %s - (n=0", g->label);
            if (g->target_never[t]) fprintf(f, ", %d never reached", g->target_never[t]);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    if (ev->carbon_g_per_kwh > 0) {
        fprintf(f, "\ncarbon (energy x %.0f g CO2e/kWh, %s):", ev->carbon_g_per_kwh,
                ev->carbon_source);
        for (size_t i = 0; i < ev->ngroups; i++)
            if (isfinite(ev->groups[i].carbon_g_mean))
                fprintf(f, "  %s %.3f g", ev->groups[i].label, ev->groups[i].carbon_g_mean);
        fputc('\n', f);
    }
    bool head = false;
    for (size_t i = 0; i < ev->ncmps; i++) {
        const jb_eval_cmp *c = &ev->cmps[i];
        if (strcmp(c->key, "energy_wh") && strcmp(c->key, "sie_power_wh")) continue;
        if (!head) fprintf(f, "\nverdicts (Welch p, Holm-adjusted):\n");
        head = true;
        if (c->sentence[0])
            fprintf(f, "  %s\n", c->sentence);
        else
            fprintf(f, "  %s vs %s (%s): not compared: %s\n", c->b, c->a, c->label, c->note);
    }
    if (ev->nwarnings) fprintf(f, "\nwarnings:\n");
    for (size_t i = 0; i < ev->nwarnings; i++)
        fprintf(f, "  - %s\n", ev->warnings[i]);
    fprintf(f, "\nfull tables: --markdown, --json, --csv DIR, --html FILE\n");
}
