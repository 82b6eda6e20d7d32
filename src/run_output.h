/*
 * run_output.h — printing one run's summary (jb_run_summary) as the text
 * table of `joulebench measure`, as JSON (json-c) and as CSV. The keys are
 * stable and documented in docs/output.md.
 */
#ifndef JB_RUN_OUTPUT_H
#define JB_RUN_OUTPUT_H

#include <json-c/json.h>
#include <stdio.h>

#include "analysis.h"

void jb_run_print_text(FILE *f, const jb_run_summary *rs, const char *command);
json_object *jb_run_json(const jb_run_summary *rs);
void jb_run_print_csv(FILE *f, const jb_run_summary *rs);
/* Warnings about sampling quality (p95 outside ±20 % of the interval, read
 * errors, missed deadlines); returns how many it printed. */
int jb_run_print_quality_warnings(FILE *f, const jb_run_summary *rs);

#endif
