/*
 * cmd_report.c — `joulebench report`: open a store read-only, evaluate one
 * experiment (evaluate.c) and write it as a text summary (default), Markdown,
 * JSON, CSV tables or one self-contained HTML file (report_*.c).
 * Exit codes: 0 reported (warnings included), 123 store unusable, 124 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "evaluate.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench report [STORE.db] [options]\n\n"
               "Evaluates one experiment of a store: statistics per variant and phase,\n"
               "software-induced energy, efficiency factors, comparisons, warnings.\n\n"
               "      --experiment ID    which experiment (default: the latest; a store of\n"
               "                         'measure' runs only: all of them, by --name)\n"
               "      --markdown         write Markdown to stdout instead of the text summary\n"
               "      --json             write JSON to stdout instead of the text summary\n"
               "      --csv DIR          write one CSV file per table into DIR\n"
               "      --html FILE        write one self-contained HTML report (inline SVG)\n"
               "      --metric NAME      efficiency metric (marker metric name; repeatable;\n"
               "                         default: the spec's, else every metric sent)\n"
               "      --target T         energy to target: epoch:K or METRIC>=VALUE (repeatable)\n"
               "      --compare A,B      compare only variants A and B (default: all pairs)\n"
               "      --carbon G         grid intensity in g CO2e/kWh (overrides the spec)\n"
               "      --net-max MBPS     full network bandwidth for the Blue Angel block (MB/s)\n"
               "      --disk-max MBPS    full disk bandwidth for the Blue Angel block (MB/s)\n"
               "  -h, --help             this help\n\n"
               "STORE defaults to $JOULEBENCH_DB, else ./joulebench.db. Exit status: 0 reported\n"
               "(warnings are part of the report), 123 store unusable, 124 usage.\n");
}

static int need_arg(int i, int argc, const char *opt)
{
    if (i + 1 < argc) return 0;
    fprintf(stderr, "joulebench report: %s needs a value; see 'joulebench report --help'\n", opt);
    return -1;
}

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v > 0)) {
        fprintf(stderr, "joulebench report: %s '%s': expected a positive number\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct report_args {
    const char *store, *html, *csv;
    bool markdown, json;
    char compare_buf[256];
} report_args;

static int parse_args(int argc, char **argv, report_args *a, jb_eval_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--markdown"))
            a->markdown = true;
        else if (!strcmp(s, "--json"))
            a->json = true;
        else if (!strcmp(s, "--html") || !strcmp(s, "--csv") || !strcmp(s, "--experiment") ||
                 !strcmp(s, "--metric") || !strcmp(s, "--target") || !strcmp(s, "--compare") ||
                 !strcmp(s, "--carbon") || !strcmp(s, "--net-max") || !strcmp(s, "--disk-max")) {
            if (need_arg(i, argc, s)) return -1;
            const char *v = argv[++i];
            if (!strcmp(s, "--html"))
                a->html = v;
            else if (!strcmp(s, "--csv"))
                a->csv = v;
            else if (!strcmp(s, "--experiment")) {
                char *end;
                long long id = strtoll(v, &end, 10);
                if (end == v || *end || id <= 0) {
                    fprintf(stderr,
                            "joulebench report: --experiment '%s': expected an "
                            "experiment id (a whole number > 0)\n",
                            v);
                    return -1;
                }
                o->experiment_id = id;
            } else if (!strcmp(s, "--metric")) {
                if (o->nmetrics >= JB_EVAL_MAX_METRICS) {
                    fprintf(stderr, "joulebench report: at most %d --metric\n",
                            JB_EVAL_MAX_METRICS);
                    return -1;
                }
                o->metrics[o->nmetrics++] = v;
            } else if (!strcmp(s, "--target")) {
                jb_eval_target t;
                jb_err e;
                if (jb_eval_parse_target(v, &t, &e)) {
                    fprintf(stderr, "joulebench report: %s\n", e.msg);
                    return -1;
                }
                if (o->ntargets >= JB_EVAL_MAX_TARGETS) {
                    fprintf(stderr, "joulebench report: at most %d --target\n",
                            JB_EVAL_MAX_TARGETS);
                    return -1;
                }
                o->targets[o->ntargets++] = v;
            } else if (!strcmp(s, "--compare")) {
                snprintf(a->compare_buf, sizeof a->compare_buf, "%s", v);
                char *comma = strchr(a->compare_buf, ',');
                if (!comma || comma == a->compare_buf || !comma[1] || strchr(comma + 1, ',')) {
                    fprintf(stderr,
                            "joulebench report: --compare '%s': expected two variant "
                            "names, A,B\n",
                            v);
                    return -1;
                }
                *comma = 0;
                o->compare[0] = a->compare_buf;
                o->compare[1] = comma + 1;
            } else if (!strcmp(s, "--carbon")) {
                if (parse_double(s, v, &o->carbon_g_per_kwh)) return -1;
            } else if (!strcmp(s, "--net-max")) {
                if (parse_double(s, v, &o->net_full_mbps)) return -1;
            } else if (parse_double(s, v, &o->disk_full_mbps)) {
                return -1;
            }
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr,
                    "joulebench report: unknown option '%s'; see 'joulebench report "
                    "--help'\n",
                    s);
            return -1;
        } else if (!a->store) {
            a->store = s;
        } else {
            fprintf(stderr, "joulebench report: one store only ('%s' and '%s')\n", a->store, s);
            return -1;
        }
    }
    if (a->markdown && a->json) {
        fprintf(stderr, "joulebench report: --markdown and --json both write to stdout; pick "
                        "one per call\n");
        return -1;
    }
    if (!a->store) a->store = getenv("JOULEBENCH_DB");
    if (!a->store || !*a->store) a->store = "joulebench.db";
    return 0;
}

static int write_html(const char *path, const jb_eval *ev)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "joulebench report: %s: cannot write the HTML report: %s\n", path,
                strerror(errno));
        return -1;
    }
    int rc = jb_report_html(f, ev);
    if (fclose(f) || rc) {
        fprintf(stderr, "joulebench report: %s: writing failed (disk full?)\n", path);
        return -1;
    }
    return 0;
}

int jb_cmd_report(int argc, char **argv)
{
    if (jb_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    report_args a = {0};
    jb_eval_opts o = {0};
    if (parse_args(argc, argv, &a, &o)) return JB_EXIT_USAGE;
    jb_store st;
    jb_err err;
    if (jb_store_open(&st, a.store, true, &err)) {
        fprintf(stderr, "joulebench report: %s\n", err.msg);
        return JB_EXIT_DATA;
    }
    jb_eval ev;
    if (jb_evaluate(&st, &o, &ev, &err)) {
        fprintf(stderr, "joulebench report: %s\n", err.msg);
        jb_store_close(&st);
        return JB_EXIT_DATA;
    }
    jb_store_close(&st);
    int rc = 0;
    if (a.json)
        rc |= jb_report_json(stdout, &ev);
    else if (a.markdown)
        jb_report_markdown(stdout, &ev);
    else
        jb_report_text(stdout, &ev);
    if (a.csv && jb_report_csv(a.csv, &ev, &err)) {
        fprintf(stderr, "joulebench report: %s\n", err.msg);
        rc = -1;
    }
    if (a.html && write_html(a.html, &ev)) rc = -1;
    for (size_t i = 0; i < ev.nwarnings && (a.json || a.markdown); i++)
        fprintf(stderr, "joulebench report: warning: %s\n", ev.warnings[i]);
    jb_eval_free(&ev);
    return rc ? JB_EXIT_DATA : JB_EXIT_OK;
}
