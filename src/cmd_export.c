/*
 * cmd_export.c — `joulebench export oscar [results.db] [--experiment ID]
 * --dir OUT`: a store's runs as OSCAR files (action log, GridVis power CSV,
 * collectl CSV per variant and phase), for tools and people that work with
 * the OSCAR method. The work is in oscar_export.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "oscar.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench export oscar [STORE.db] [--experiment ID] --dir OUT\n\n"
               "Writes OUT/<variant>_<phase>_{actions,power,hardware}.csv (OSCAR's action log,\n"
               "GridVis power export and collectl CSV): one power row per second (the mean of\n"
               "the headline power over that second, decimal comma), hardware usage on the\n"
               "same seconds, milliseconds in the log always three digits.\n\n"
               "  STORE.db              the store (default: $JOULEBENCH_DB, else ./joulebench.db)\n"
               "      --experiment ID   which experiment (default: the latest)\n"
               "      --dir OUT         output directory (created if missing)\n"
               "      --utc-offset OFF  write times as UTC+OFF (default: local time per TZ)\n"
               "  -q, --quiet           do not list the files written\n"
               "  -h, --help            this help\n\n"
               "Formats and rules: docs/oscar.md.\n");
}

static int64_t latest_experiment(jb_store *st)
{
    sqlite3_stmt *q;
    int64_t id = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT max(id) FROM experiment", -1, &q, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(q) == SQLITE_ROW) id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return id;
}

static int export_oscar(int argc, char **argv)
{
    static const struct option longs[] = {{"experiment", required_argument, 0, 'e'},
                                          {"dir", required_argument, 0, 'd'},
                                          {"utc-offset", required_argument, 0, 'u'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *dir = NULL, *path = getenv("JOULEBENCH_DB");
    if (!path || !*path) path = "joulebench.db";
    int64_t exp = 0;
    jb_oscar_tz tz = {0};
    bool quiet = false;
    char *end;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longs, NULL)) != -1) {
        switch (c) {
        case 'e':
            exp = strtoll(optarg, &end, 10);
            if (*end || exp <= 0) {
                fprintf(stderr, "joulebench export: --experiment wants a positive id\n");
                return JB_EXIT_USAGE;
            }
            break;
        case 'd':
            dir = optarg;
            break;
        case 'u':
            if (jb_oscar_parse_utc_offset(optarg, &tz.offset_s)) {
                fprintf(stderr, "joulebench export: bad --utc-offset '%s'; e.g. +02:00\n", optarg);
                return JB_EXIT_USAGE;
            }
            tz.fixed = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "joulebench export: see 'joulebench export --help'\n");
            return JB_EXIT_USAGE;
        }
    }
    if (optind < argc) path = argv[optind++];
    if (optind < argc || !dir) {
        fprintf(stderr,
                "joulebench export: %s; usage: joulebench export oscar [STORE.db] "
                "[--experiment ID] --dir OUT\n",
                optind < argc ? "too many arguments" : "--dir OUT is required");
        return JB_EXIT_USAGE;
    }
    jb_store st;
    jb_err err;
    if (jb_store_open(&st, path, true, &err)) {
        fprintf(stderr, "joulebench export: %s\n", err.msg);
        return JB_EXIT_DATA;
    }
    if (!exp) exp = latest_experiment(&st);
    jb_buf written = {0};
    int rc = exp ? jb_oscar_export(&st, exp, dir, &tz, &written, &err)
                 : jb_errf(&err, "%s: the store holds no experiment", path);
    jb_store_close(&st);
    if (rc)
        fprintf(stderr, "joulebench export: %s\n", err.msg);
    else if (!quiet && written.data)
        fputs(written.data, stdout);
    jb_buf_free(&written);
    return rc ? JB_EXIT_DATA : 0;
}

int jb_cmd_export(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? JB_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "oscar")) {
        fprintf(stderr, "joulebench export: unknown format '%s'; supported: oscar\n", argv[1]);
        return JB_EXIT_USAGE;
    }
    return export_oscar(argc - 1, argv + 1);
}
