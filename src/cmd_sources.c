/*
 * cmd_sources.c — `joulebench sources`: every source in the registry, whether
 * it is usable here, and if not why and how to fix it; plus which ones
 * `auto` would take. Also `joulebench store-schema`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "meter.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench sources [--root DIR] [-O source.key=value ...]\n\n"
               "Lists every source: usable here, or why not and how to fix it, and the set\n"
               "'auto' picks (every usage source and every working power source, one per\n"
               "family; the estimator only when no power source works).\n");
}

int jb_cmd_sources(int argc, char **argv)
{
    static const struct option longs[] = {{"root", required_argument, 0, 'r'},
                                          {"option", required_argument, 0, 'O'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    jb_source_opt opts[32];
    int nopts = 0, c;
    const char *root = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:O:h", longs, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == 'r') {
            root = optarg;
        } else if (c == 'O' && strchr(optarg, '=') && nopts < 32) {
            char *eq = strchr(optarg, '=');
            *eq = 0;
            opts[nopts].key = optarg;
            opts[nopts++].value = eq + 1;
        } else {
            usage(stderr);
            return JB_EXIT_USAGE;
        }
    }
    jb_source_env env = {.root = root ? root : jb_default_root(),
                         .interval_ns = 100000000,
                         .self_pid = getpid(),
                         .opts = opts,
                         .nopts = nopts};
    printf("%-12s %-8s %-6s %s\n", "source", "kind", "state", "details");
    for (int i = 0; jb_source_drivers[i]; i++) {
        const jb_source_driver *d = jb_source_drivers[i];
        char reason[512] = "", fix[512] = "";
        int ok = d->probe(&env, reason, sizeof reason, fix, sizeof fix);
        printf("%-12s %-8s %-6s %s\n", d->name, d->is_power ? "power" : "usage",
               ok ? "usable" : "no", d->description);
        if (!ok) printf("%-28s why: %s\n%-28s fix: %s\n", "", reason, "", fix);
    }
    jb_meter *m = calloc(1, sizeof *m);
    jb_meter_opts mo = {.root = env.root,
                        .interval_ns = env.interval_ns,
                        .sources = "auto",
                        .opts = opts,
                        .nopts = nopts};
    jb_err err;
    if (m && jb_meter_open(m, &mo, &err) == 0) {
        printf("\nauto picks:");
        for (int i = 0; i < m->nsrc; i++)
            printf(" %s", m->src[i].drv->name);
        bool est = false;
        for (int i = 0; i < m->ch.n; i++)
            est |= m->ch.ch[i].estimated;
        printf("%s\n", est ? "  (no power meter readable: energy will be ESTIMATED)" : "");
        jb_meter_close(m);
    } else if (m) {
        printf("\nauto fails: %s\n", err.msg);
    }
    free(m);
    return 0;
}

int jb_cmd_store_schema(int argc, char **argv)
{
    if (jb_wants_help(argc, argv)) {
        printf("usage: joulebench store-schema\n\nPrints the SQL schema of the store.\n");
        return 0;
    }
    fputs(jb_store_schema_sql(), stdout);
    return 0;
}
