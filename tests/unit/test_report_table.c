/*
 * test_report_table.c — the report tables shared by the Markdown and HTML
 * writers (src/report_table.c) on a hand-built jb_eval: cells, spans for
 * "not compared" and missing values, notes, and the escaping of each
 * renderer ('|' and newlines in Markdown; &, <, >, " in HTML).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_table.h"

/* Render one table both ways; the caller frees *md and *html. */
static void render(jb_table_build *build, const jb_eval *ev, char **md, char **html)
{
    jb_table t = {0};
    build(&t, ev);
    size_t len;
    FILE *f = open_memstream(md, &len);
    jb_table_markdown(f, &t);
    fclose(f);
    f = open_memstream(html, &len);
    jb_table_html(f, &t);
    fclose(f);
    jb_table_free(&t);
}

static void has(const char *text, const char *want)
{
    if (!strstr(text, want)) fail_msg("missing %s in:\n%s", want, text);
}

static void test_comparisons(void **state)
{
    jb_eval_cmp c[2] = {{.a = "a", .b = "b|x", .label = "energy (Wh)", .ok = true}};
    c[0].c = (jb_compare){.welch = {.t = -2.5, .df = 3.26, .p = 0.04}, .hedges_g = NAN};
    c[0].c.rel = (jb_reldiff){.pct = 12.34, .bounded = 0};
    snprintf(c[0].sentence, sizeof c[0].sentence, "b used 12 %% more\nenergy");
    snprintf(c[0].note, sizeof c[0].note, "p <= 0.05 & \"small\" n");
    snprintf(c[1].label, sizeof c[1].label, "acc");
    snprintf(c[1].a, sizeof c[1].a, "a");
    snprintf(c[1].b, sizeof c[1].b, "b");
    snprintf(c[1].note, sizeof c[1].note, "only a has it");
    jb_eval ev = {.cmps = c, .ncmps = 2};
    char *md, *html;
    render(jb_table_comparisons, &ev, &md, &html);
    has(md, "\n## Comparisons\n\n| quantity | b vs a | Welch t |");
    has(md, "|---|---|---:|");
    has(md, "| energy (Wh) | b/x vs a | -2.500 | 3.3 | 0.0400 |");
    has(md,
        "| – | 0.000 | 12.3 | unbounded | b used 12 % more energy (p <= 0.05 & \"small\" n) |\n");
    has(md, "| acc | b vs a | – | – | – | – | – | – | – | – | – | – | not compared: only a has "
            "it |\n");
    has(html, "<th class=\"l\">verdict</th></tr>\n");
    has(html, "<td class=\"l\">b|x vs a</td><td class=\"neg\">-2.500</td><td>3.3</td>");
    has(html, "<td class=\"muted\">–</td>");
    has(html, "<td class=\"muted\">unbounded</td>");
    has(html, "more\nenergy <span class=\"muted\">(p &lt;= 0.05 &amp; &quot;small&quot; "
              "n)</span></td></tr>\n");
    has(html, "<td colspan=\"11\" class=\"l muted\">not compared: only a has it</td></tr>\n"
              "</table>");
    free(md);
    free(html);
}

static void test_sie_and_overview(void **state)
{
    jb_eval_group g[2] = {{.variant = "", .phase = "baseline", .label = "baseline", .n_ok = 2},
                          {.variant = "v", .phase = "scenario", .label = "v<1>", .n_ok = 3}};
    g[0].load_sd_w = NAN;
    g[1].has_sie = true;
    g[1].sie_power = (jb_estimate){.value = -0.001, .se = 0.0005, .ci_lo = -0.002, .ci_hi = 0};
    g[1].sie_oscar = (jb_estimate){.value = 0.5, .se = NAN, .ci_lo = NAN, .ci_hi = NAN};
    g[1].load_sd_w = 1.5;
    jb_eval ev = {.groups = g, .ngroups = 2};
    char *md, *html;
    render(jb_table_sie, &ev, &md, &html);
    has(md, "| baseline | – | – | – | – | – | – | – | – | – |\n");
    has(md, "| v<1> | -0.00100 | 0.00050 | -0.00200 – 0.00000 | 0.50000 | – | – | no (lengths "
            "differ) | "
            "0 | 1.500 |\n");
    has(html, "<tr><td class=\"l\">baseline</td><td colspan=\"8\" class=\"muted\">–</td>"
              "<td class=\"muted\">–</td></tr>\n");
    has(html, "<td class=\"l\">v&lt;1&gt;</td><td class=\"neg\">-0.00100</td>");
    free(md);
    free(html);
    /* no stats: every mean missing; the baseline difference column exists */
    render(jb_table_overview, &ev, &md, &html);
    has(md,
        "| mean per run | baseline (n=2) | v<1> (n=3) | v<1> − baseline |\n|---|---:|---:|---:|");
    has(md, "| energy per run (Wh) | – | – | -0.00100 |\n");
    has(html, "<th>v&lt;1&gt; (n=3)</th>");
    free(md);
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_sie_and_overview),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
