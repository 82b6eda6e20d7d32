/*
 * main.c — the joulebench binary: one table of subcommands, like git and
 * perf. Each command lives in its own src/cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "jb.h"

/* Commands are weak so the table stays one list while they are being built. */
#pragma weak jb_cmd_mark
#pragma weak jb_cmd_run
#pragma weak jb_cmd_report
#pragma weak jb_cmd_import
#pragma weak jb_cmd_export

static const jb_command commands[] = {
    {"measure", jb_cmd_measure, "run a command and measure its energy and resource use"},
    {"sources", jb_cmd_sources, "list every source: usable here, or why not and how to fix"},
    {"mark", jb_cmd_mark, "send a marker (begin/end/event/metric) to the running recorder"},
    {"run", jb_cmd_run, "run an experiment spec: baseline, idle, scenario x variants x reps"},
    {"report", jb_cmd_report, "analyse a store: statistics, comparisons, HTML/Markdown/JSON/CSV"},
    {"import", jb_cmd_import, "import measurements made elsewhere (OSCAR files)"},
    {"export", jb_cmd_export, "export a store in other tools' formats (OSCAR)"},
    {"store-schema", jb_cmd_store_schema, "print the SQL schema of the store"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: joulebench <command> [options]   (joulebench <command> --help)\n\n"
               "commands:\n");
    for (size_t i = 0; i < JB_ARRAY_LEN(commands); i++)
        if (commands[i].fn) fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: a workload's own status is passed through; joulebench's own\n"
               "failures: 123 data/store, 124 usage, 125 setup, 126 cannot execute,\n"
               "127 command not found.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? JB_EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("joulebench %s\n", JB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < JB_ARRAY_LEN(commands); i++)
        if (commands[i].fn && !strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "joulebench: unknown command '%s'; run 'joulebench --help' for the list\n",
            argv[1]);
    return JB_EXIT_USAGE;
}
