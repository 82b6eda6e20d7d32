/*
 * cmd_import.c — `joulebench import oscar ...`: measurements made with the
 * OSCAR method (action log, GridVis power CSV, collectl CSV; measurement,
 * baseline and idle) into a store, so they get the same analysis as runs
 * recorded by joulebench. The work is in oscar_import.c; this file parses the
 * command line, opens the store, and removes a store it created when the
 * import fails (nothing half-written).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "oscar.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench import oscar --log ACTIONS.csv --power POWER.csv\n"
               "           [--hardware HW.csv] [--baseline-log B.csv --baseline-power BP.csv\n"
               "           [--baseline-hardware BH.csv]] [--idle-log I.csv --idle-power IP.csv\n"
               "           [--idle-hardware IH.csv]] [options] -o results.db\n\n"
               "Reads measurements made with the OSCAR method into a store: runs are cut at\n"
               "startTestrun/stopTestrun, actions at startAction/stopAction; the power rows\n"
               "(GridVis export, 1 s means) and hardware rows (collectl) within each run are\n"
               "kept. Each run also gets OSCAR's energy (sum of P / 3600 Wh, table oscar_run).\n\n"
               "  -o, --output FILE.db     store to write (default: $JOULEBENCH_DB, else\n"
               "                           ./joulebench.db); created if missing, else appended\n"
               "      --variant NAME       variant of the measurement runs (default: oscar)\n"
               "      --name NAME          experiment name (default: the log's file name)\n"
               "      --experiment ID      add the runs to this experiment of the store\n"
               "                           (import the next variant into the same experiment)\n"
               "      --utc-offset OFF     the files' clock is UTC+OFF (+02:00, -5, +0530);\n"
               "                           default: local time per the TZ environment\n"
               "      --margin DUR         samples kept around each run (default 2s)\n"
               "  -q, --quiet              print nothing on success\n"
               "  -h, --help               this help\n\n"
               "Bad input: 'file:line: what is wrong', exit 123, nothing written.\n"
               "Formats and rules: docs/oscar.md.\n");
}

/* "+02:00", "-5", "+0530", "2" -> seconds east of UTC. */
enum {
    OPT_LOG = 256,
    OPT_POWER,
    OPT_HW,
    OPT_BLOG,
    OPT_BPOWER,
    OPT_BHW,
    OPT_ILOG,
    OPT_IPOWER,
    OPT_IHW,
    OPT_VARIANT,
    OPT_NAME,
    OPT_EXP,
    OPT_UTC,
    OPT_MARGIN
};

static int parse_args(int argc, char **argv, jb_oscar_import_opts *o, const char **out, bool *quiet)
{
    static const struct option longs[] = {{"log", required_argument, 0, OPT_LOG},
                                          {"power", required_argument, 0, OPT_POWER},
                                          {"hardware", required_argument, 0, OPT_HW},
                                          {"baseline-log", required_argument, 0, OPT_BLOG},
                                          {"baseline-power", required_argument, 0, OPT_BPOWER},
                                          {"baseline-hardware", required_argument, 0, OPT_BHW},
                                          {"idle-log", required_argument, 0, OPT_ILOG},
                                          {"idle-power", required_argument, 0, OPT_IPOWER},
                                          {"idle-hardware", required_argument, 0, OPT_IHW},
                                          {"variant", required_argument, 0, OPT_VARIANT},
                                          {"name", required_argument, 0, OPT_NAME},
                                          {"experiment", required_argument, 0, OPT_EXP},
                                          {"utc-offset", required_argument, 0, OPT_UTC},
                                          {"margin", required_argument, 0, OPT_MARGIN},
                                          {"output", required_argument, 0, 'o'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longs, NULL)) != -1) {
        switch (c) {
        case OPT_LOG:
            o->scenario.log = optarg;
            break;
        case OPT_POWER:
            o->scenario.power = optarg;
            break;
        case OPT_HW:
            o->scenario.hardware = optarg;
            break;
        case OPT_BLOG:
            o->baseline.log = optarg;
            break;
        case OPT_BPOWER:
            o->baseline.power = optarg;
            break;
        case OPT_BHW:
            o->baseline.hardware = optarg;
            break;
        case OPT_ILOG:
            o->idle.log = optarg;
            break;
        case OPT_IPOWER:
            o->idle.power = optarg;
            break;
        case OPT_IHW:
            o->idle.hardware = optarg;
            break;
        case OPT_VARIANT:
            o->variant = optarg;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_EXP:
            o->experiment_id = strtoll(optarg, &end, 10);
            if (*end || o->experiment_id <= 0) {
                fprintf(stderr,
                        "joulebench import: --experiment wants a positive id, not "
                        "'%s'\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_UTC:
            if (jb_oscar_parse_utc_offset(optarg, &o->tz.offset_s)) {
                fprintf(stderr,
                        "joulebench import: bad --utc-offset '%s'; give e.g. +02:00, "
                        "-5 or +0530\n",
                        optarg);
                return -1;
            }
            o->tz.fixed = true;
            break;
        case OPT_MARGIN:
            if (jb_parse_duration(optarg, &o->margin_ns) || o->margin_ns < 0) {
                fprintf(stderr, "joulebench import: bad --margin '%s'; give e.g. 2s\n", optarg);
                return -1;
            }
            break;
        case 'o':
            *out = optarg;
            break;
        case 'q':
            *quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            fprintf(stderr, "joulebench import: see 'joulebench import --help'\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "joulebench import: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    const jb_oscar_files *ph[3] = {&o->scenario, &o->baseline, &o->idle};
    const char *pre[3] = {"", "baseline-", "idle-"};
    for (int i = 0; i < 3; i++) {
        if (!ph[i]->log && (ph[i]->power || ph[i]->hardware)) {
            fprintf(stderr,
                    "joulebench import: --%spower/--%shardware given without "
                    "--%slog\n",
                    pre[i], pre[i], pre[i]);
            return -1;
        }
        if (ph[i]->log && !ph[i]->power) {
            fprintf(stderr, "joulebench import: --%slog needs --%spower (the GridVis CSV)\n",
                    pre[i], pre[i]);
            return -1;
        }
    }
    if (!o->scenario.log) {
        fprintf(stderr, "joulebench import: --log and --power are required; see "
                        "'joulebench import --help'\n");
        return -1;
    }
    return 0;
}

static void remove_store(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[1100];
    for (size_t i = 0; i < JB_ARRAY_LEN(sfx); i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static int import_oscar(int argc, char **argv)
{
    jb_oscar_import_opts o;
    memset(&o, 0, sizeof o);
    const char *out = getenv("JOULEBENCH_DB");
    if (!out || !*out) out = "joulebench.db";
    bool quiet = false;
    int r = parse_args(argc, argv, &o, &out, &quiet);
    if (r) return r > 0 ? 0 : JB_EXIT_USAGE;
    bool existed = access(out, F_OK) == 0;
    jb_store st;
    jb_err err;
    if (jb_store_open(&st, out, false, &err)) {
        fprintf(stderr, "joulebench import: %s\n", err.msg);
        if (!existed) remove_store(out);
        return JB_EXIT_DATA;
    }
    jb_oscar_import_result res;
    int rc = jb_oscar_import(&st, &o, &res, &err);
    jb_store_close(&st);
    if (rc) {
        fprintf(stderr, "joulebench import: %s\n", err.msg);
        if (!existed) remove_store(out);
        return JB_EXIT_DATA;
    }
    if (!quiet)
        printf("imported experiment %lld into %s: %d scenario, %d baseline, %d idle runs; "
               "%zu of %zu power rows and %zu of %zu hardware rows within runs; %zu markers\n",
               (long long)res.experiment_id, out, res.runs[0], res.runs[1], res.runs[2],
               res.power_rows_kept, res.power_rows, res.hw_rows_kept, res.hw_rows, res.markers);
    return 0;
}

int jb_cmd_import(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? JB_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "oscar")) {
        fprintf(stderr, "joulebench import: unknown format '%s'; supported: oscar\n", argv[1]);
        return JB_EXIT_USAGE;
    }
    return import_oscar(argc - 1, argv + 1);
}
