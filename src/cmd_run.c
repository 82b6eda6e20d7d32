/*
 * cmd_run.c — `joulebench run EXPERIMENT.yml [-o results.db]`: parses the
 * command line and hands the experiment to experiment.c, then prints where
 * the data is and what to do next. Exit codes are documented in
 * docs/experiments.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "experiment.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulebench run EXPERIMENT.yml [-o results.db] [--dry-run]\n"
            "                      [--max-failures N] [--root DIR]\n"
            "       joulebench run --resume results.db [EXPERIMENT.yml]\n\n"
            "Runs every run of an experiment spec (docs/spec.md): baseline, idle and scenario\n"
            "runs of every variant, repeated, in the spec's order, with the reproducibility\n"
            "controls before each run; every run lands in the store (docs/experiments.md).\n\n"
            "  -o, --output FILE.db   store (default: $JOULEBENCH_DB, else ./joulebench.db);\n"
            "                         several experiments can share one store\n"
            "  -n, --dry-run          print the plan, the controls and the expected time\n"
            "      --resume FILE.db   continue the newest unfinished experiment in FILE.db\n"
            "                         with the runs still missing (its stored spec is used;\n"
            "                         a spec given as well must be the same text)\n"
            "      --max-failures N   stop after more than N failed runs (default: the\n"
            "                         spec's max_failures, else %d)\n"
            "      --root DIR         read /proc and /sys under DIR (tests; env JOULEBENCH_ROOT)\n"
            "  -h, --help             this help\n\n"
            "Exit status: 0 every run ok; 1 done, some runs failed; 2 stopped after too\n"
            "many failures; 130 interrupted (resume with --resume); 123 store unusable;\n"
            "124 bad spec or usage; 125 cannot measure.\n",
            JB_DEFAULT_MAX_FAILURES);
}

enum { OPT_RESUME = 256, OPT_MAX_FAIL, OPT_ROOT };

static int parse_args(int argc, char **argv, jb_experiment_opts *o)
{
    static const struct option longs[] = {{"output", required_argument, 0, 'o'},
                                          {"dry-run", no_argument, 0, 'n'},
                                          {"resume", required_argument, 0, OPT_RESUME},
                                          {"max-failures", required_argument, 0, OPT_MAX_FAIL},
                                          {"root", required_argument, 0, OPT_ROOT},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:nh", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->store_path = optarg;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case OPT_RESUME:
            o->resume = true;
            o->store_path = optarg;
            break;
        case OPT_MAX_FAIL: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == 0 || *end || v < 0 || v > 1000000000) {
                fprintf(stderr,
                        "joulebench run: --max-failures '%s' is not a whole number "
                        ">= 0; e.g. --max-failures 5\n",
                        optarg);
                return -1;
            }
            o->max_failures = (int)v;
            break;
        }
        case OPT_ROOT:
            o->root = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            fprintf(stderr, "joulebench run: see 'joulebench run --help'\n");
            return -1;
        }
    }
    if (optind < argc) o->spec_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "joulebench run: unexpected argument '%s'; give one spec file\n",
                argv[optind]);
        return -1;
    }
    if (!o->spec_path && !o->resume) {
        fprintf(stderr, "joulebench run: no spec given; usage: joulebench run EXPERIMENT.yml "
                        "[-o results.db] (or --resume results.db)\n");
        return -1;
    }
    return 0;
}

int jb_cmd_run(int argc, char **argv)
{
    jb_experiment_opts o = {.max_failures = -1, .tty = -1};
    int pr = parse_args(argc, argv, &o);
    if (pr) return pr > 0 ? 0 : JB_EXIT_USAGE;
    jb_experiment_result r;
    jb_err err;
    if (jb_experiment_run(&o, &r, &err)) {
        fprintf(stderr, "joulebench run: %s\n", err.msg);
        return r.exit_code ? r.exit_code : JB_EXIT_SETUP;
    }
    if (o.dry_run) return 0;
    fflush(stdout);
    fprintf(stderr,
            "joulebench run: experiment %lld %s: %zu ok, %zu failed, %zu aborted this time "
            "(%zu of %zu planned runs were already done%s); data in %s\n",
            (long long)r.experiment_id, r.status, r.ok, r.failed, r.aborted, r.done_before,
            r.planned, r.pilots ? ", pilot runs included in the counts" : "", r.store_path);
    if (r.interrupted)
        fprintf(stderr,
                "joulebench run: interrupted by signal %d; continue with "
                "'joulebench run --resume %s'\n",
                r.interrupted, r.store_path);
    else if (r.too_many_failures)
        fprintf(stderr,
                "joulebench run: stopped after more than %d failed runs; fix the cause "
                "(run.stderr_tail in the store), then 'joulebench run --resume %s'\n",
                r.max_failures, r.store_path);
    return r.exit_code;
}
