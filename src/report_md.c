/*
 * report_md.c — `joulebench report --markdown`: the evaluation as Markdown
 * tables for papers and READMEs (same tables as the HTML report, built by
 * report_table.c, without plots): overview, statistics, software-induced
 * energy, comparisons, targets, Blue Angel utilisation, checklist, warnings
 * and setup.
 */
#include "evaluate.h"
#include "report_table.h"

/* One shared table (report_table.c) as Markdown. */
static void table(FILE *f, const jb_eval *ev, jb_table_build *build)
{
    jb_table t = {0};
    build(&t, ev);
    jb_table_markdown(f, &t);
    jb_table_free(&t);
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
    if (ev->any_estimated)
        fputs("\n> **ESTIMATED:** some energy figures come from a model of CPU utilisation (no "
              "power meter was readable), not from a measurement.\n",
              f);
    table(f, ev, jb_table_overview);
    if (jb_eval_group_find(ev, "", "baseline"))
        fputs("\nSoftware-induced energy (the − baseline columns, energy row) is power-based: "
              "E − P̄_baseline·T; other rows are plain differences of means.\n",
              f);
    table(f, ev, jb_table_statistics);
    table(f, ev, jb_table_sie);
    if (ev->ncmps) table(f, ev, jb_table_comparisons);
    if (ev->ntargets) table(f, ev, jb_table_targets);
    table(f, ev, jb_table_utilisation);
    table(f, ev, jb_table_controls);
    fputs("\n## Warnings\n\n", f);
    if (!ev->nwarnings) fputs("None.\n", f);
    for (size_t i = 0; i < ev->nwarnings; i++)
        fprintf(f, "- %s\n", ev->warnings[i]);
}
