/*
 * report_table.h — the tables that `joulebench report --markdown` and
 * `--html` share (overview, statistics, software-induced energy,
 * comparisons, energy to target, Blue Angel utilisation, reproducibility
 * checklist), built once from a jb_eval as a plain model of cell strings,
 * and the two renderers: Markdown (report_md.c) and HTML (report_html.c).
 */
#ifndef JB_REPORT_TABLE_H
#define JB_REPORT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "evaluate.h"

typedef struct jb_table_col {
    char *head;
    bool left; /* text column (left-aligned); numbers are right-aligned */
} jb_table_col;

/* One cell: its text ("–" for a missing value), an optional remark shown
 * after it in parentheses, and how many columns it covers. */
typedef struct jb_table_cell {
    char *text;
    char *note; /* NULL or the remark (muted in HTML) */
    int span;   /* >= 1; Markdown has no spans: "–" fills all but the last column */
    bool left;  /* the column's alignment unless the cell overrides it */
    bool muted; /* a missing value, or a remark in place of numbers */
    bool neg;   /* a negative number (coloured in HTML) */
} jb_table_cell;

typedef struct jb_table_row {
    jb_table_cell *cell;
    size_t ncells;
} jb_table_row;

typedef struct jb_table {
    const char *title; /* the Markdown heading; the HTML report has its own headings */
    jb_table_col *col;
    size_t ncols;
    jb_table_row *row;
    size_t nrows, cap;
} jb_table;

/* Builders: fill a zeroed table t from ev; free it with jb_table_free. */
typedef void jb_table_build(jb_table *t, const jb_eval *ev);
void jb_table_overview(jb_table *t, const jb_eval *ev);    /* Blue Angel layout */
void jb_table_statistics(jb_table *t, const jb_eval *ev);  /* per group and quantity */
void jb_table_sie(jb_table *t, const jb_eval *ev);         /* software-induced energy */
void jb_table_comparisons(jb_table *t, const jb_eval *ev); /* one row per comparison */
void jb_table_targets(jb_table *t, const jb_eval *ev);     /* energy to target */
void jb_table_utilisation(jb_table *t, const jb_eval *ev); /* Blue Angel utilisation */
void jb_table_controls(jb_table *t, const jb_eval *ev);    /* reproducibility checklist */
void jb_table_free(jb_table *t);

/* Renderers. Markdown: "## title", a pipe table, '|' and newlines in cells
 * replaced. HTML: <table>…</table>, class "l" on left-aligned cells, "muted"
 * on missing ones, "neg" on negative numbers, every text escaped. */
void jb_table_markdown(FILE *f, const jb_table *t);
void jb_table_html(FILE *f, const jb_table *t);

#endif
