/*
 * cmd_measure.c — `joulebench measure [options] -- CMD [ARGS…]`: like
 * `perf stat`, but for energy and resources. Samples every source from just
 * before CMD starts until after it exits, keeps the raw data in a SQLite
 * store, and prints what CMD consumed. CMD's exit status is passed through.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "analysis.h"
#include "cmd.h"
#include "measure.h"
#include "meter.h"
#include "recorder.h"
#include "run_output.h"
#include "store.h"
#include "workload.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulebench measure [options] -- CMD [ARGS...]\n\n"
            "Runs CMD (execvp, no shell) and measures the energy and resources it used.\n"
            "CMD may send markers (begin/end of actions such as epochs, metrics such as\n"
            "val_accuracy) through JOULEBENCH_SOCKET, set for it: with libjoulebench, the\n"
            "python module or 'joulebench mark'. Energy and CPU are then shown per action.\n\n"
            "  -i, --interval DUR     sampling interval, 1ms..60s (default 100ms)\n"
            "  -s, --sources LIST     comma list of sources, or 'auto' (default): every usage\n"
            "                         source and every working power source; the estimator\n"
            "                         only when no power source works ('joulebench sources')\n"
            "  -O, --option K=V       source option, e.g. -O estimate.max_w=45 (repeatable)\n"
            "  -o, --output FILE.db   store for the raw data (default: $JOULEBENCH_DB, else\n"
            "                         ./joulebench.db; runs are appended)\n"
            "      --no-store         keep nothing (temporary store, removed at the end)\n"
            "      --json FILE        write the summary as JSON ('-' = stdout)\n"
            "      --csv FILE         write the summary as CSV ('-' = stdout)\n"
            "      --per-index        one row per action index (epoch) in the action table\n"
            "      --name NAME        experiment name in the store (default: CMD's name)\n"
            "      --root DIR         read /proc and /sys under DIR (tests; env JOULEBENCH_ROOT)\n"
            "  -q, --quiet            no text summary\n"
            "  -h, --help             this help\n\n"
            "The text summary goes to stderr. With --json - or --csv -, stdout carries only\n"
            "that summary: CMD's own stdout is sent to stderr. Exit status: CMD's own\n"
            "(128+N if killed by signal N); joulebench's own failures: 124 usage, 125 cannot\n"
            "measure, 126 CMD not executable, 127 CMD not found.\n");
}

enum { OPT_NO_STORE = 256, OPT_JSON, OPT_CSV, OPT_ROOT, OPT_NAME, OPT_PER_INDEX };

static int parse_args(int argc, char **argv, jb_measure_opts *o)
{
    static const struct option longs[] = {{"interval", required_argument, 0, 'i'},
                                          {"sources", required_argument, 0, 's'},
                                          {"option", required_argument, 0, 'O'},
                                          {"output", required_argument, 0, 'o'},
                                          {"no-store", no_argument, 0, OPT_NO_STORE},
                                          {"json", required_argument, 0, OPT_JSON},
                                          {"csv", required_argument, 0, OPT_CSV},
                                          {"root", required_argument, 0, OPT_ROOT},
                                          {"name", required_argument, 0, OPT_NAME},
                                          {"per-index", no_argument, 0, OPT_PER_INDEX},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+i:s:O:o:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (jb_parse_duration(optarg, &o->interval_ns) || o->interval_ns < 1000000 ||
                o->interval_ns > 60000000000LL) {
                fprintf(stderr,
                        "joulebench measure: invalid interval '%s'; give 1ms..60s, "
                        "e.g. -i 100ms\n",
                        optarg);
                return -1;
            }
            break;
        case 's':
            o->sources = optarg;
            break;
        case 'O': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || o->nopts >= (int)JB_ARRAY_LEN(o->opts)) {
                fprintf(stderr, "joulebench measure: bad option '%s'; use -O source.key=value\n",
                        optarg);
                return -1;
            }
            *eq = 0;
            o->opts[o->nopts].key = optarg;
            o->opts[o->nopts++].value = eq + 1;
            break;
        }
        case 'o':
            o->store_path = optarg;
            break;
        case OPT_NO_STORE:
            o->no_store = true;
            break;
        case OPT_JSON:
            o->json_path = optarg;
            break;
        case OPT_CSV:
            o->csv_path = optarg;
            break;
        case OPT_ROOT:
            o->root = optarg;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_PER_INDEX:
            o->per_index = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            fprintf(stderr, "joulebench measure: see 'joulebench measure --help'\n");
            return -1;
        }
    }
    if (optind < argc && !strcmp(argv[optind], "--")) optind++;
    if (optind >= argc) {
        fprintf(stderr, "joulebench measure: no command given; usage: joulebench measure "
                        "[options] -- CMD [ARGS...]\n");
        return -1;
    }
    o->argv = argv + optind;
    return 0;
}

static FILE *open_out(const char *path)
{
    if (!strcmp(path, "-")) return stdout;
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "joulebench measure: cannot write %s: %m\n", path);
    return f;
}

static void close_out(FILE *f)
{
    if (f && f != stdout)
        fclose(f);
    else if (f)
        fflush(f);
}

static void print_results(const jb_measure_opts *o, jb_store *st, int64_t run_id)
{
    jb_err err;
    jb_run_summary *rs = malloc(sizeof *rs);
    if (!rs || jb_run_summarize(st, run_id, rs, &err)) {
        fprintf(stderr, "joulebench measure: cannot summarise the run: %s\n",
                rs ? err.msg : "out of memory");
        free(rs);
        return;
    }
    char cmdline[512] = "";
    for (char **a = o->argv; *a; a++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, "%s%s", l ? " " : "", *a);
    }
    jb_actions_report *ar = jb_measure_actions(st, rs, &err);
    if (!o->quiet) {
        jb_run_print_text(stderr, rs, cmdline);
        if (ar) jb_measure_print_actions(stderr, ar, o->per_index);
        jb_run_print_quality_warnings(stderr, rs);
    }
    if (o->json_path) {
        FILE *f = open_out(o->json_path);
        if (f) {
            json_object *j = jb_run_json(rs);
            json_object_object_add(j, "command", json_object_new_string(cmdline));
            json_object_object_add(j, "store",
                                   o->no_store ? NULL : json_object_new_string(st->path));
            if (ar) json_object_object_add(j, "actions", jb_measure_actions_json(ar));
            fprintf(f, "%s\n",
                    json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(j);
            close_out(f);
        }
    }
    if (o->csv_path) {
        FILE *f = open_out(o->csv_path);
        if (f) {
            jb_run_print_csv(f, rs);
            if (ar) jb_measure_actions_csv(f, ar);
            close_out(f);
        }
    }
    jb_measure_actions_free(ar);
    free(rs);
}

int jb_cmd_measure(int argc, char **argv)
{
    jb_measure_opts o;
    memset(&o, 0, sizeof o);
    o.interval_ns = 100000000LL;
    int pr = parse_args(argc, argv, &o);
    if (pr) return pr > 0 ? 0 : JB_EXIT_USAGE;
    jb_measure_result res;
    jb_err err;
    int rc = jb_measure_run(&o, &res, &err);
    if (rc < 0) {
        fprintf(stderr, "joulebench measure: %s\n", err.msg);
        return res.exit_code ? res.exit_code : JB_EXIT_SETUP;
    }
    if (res.exec_failed)
        fprintf(stderr, "joulebench measure: cannot run '%s': %s%s\n", o.argv[0],
                strerror(res.exec_errno),
                res.exec_errno == ENOENT ? " (not found in PATH; check the name)" : "");
    if (res.interrupted)
        fprintf(stderr,
                "joulebench measure: interrupted by signal %d: the run is marked "
                "aborted; the data so far is in %s\n",
                res.interrupted, o.no_store ? "(no store)" : res.store_path);
    if (!res.exec_failed) print_results(&o, &res.store, res.run_id);
    jb_measure_finish(&o, &res);
    return res.exit_code;
}
