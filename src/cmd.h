/*
 * cmd.h — the subcommands of the joulebench binary, one file each
 * (src/cmd_<name>.c), dispatched from the table in main.c. Each takes its own
 * argv (argv[0] is the command name), handles --help, and returns the process
 * exit status. Only this layer prints to the terminal and decides exit codes.
 */
#ifndef JB_CMD_H
#define JB_CMD_H

typedef struct jb_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} jb_command;

int jb_cmd_measure(int argc, char **argv);
int jb_cmd_sources(int argc, char **argv);
int jb_cmd_mark(int argc, char **argv);
int jb_cmd_run(int argc, char **argv);
int jb_cmd_report(int argc, char **argv);
int jb_cmd_import(int argc, char **argv);
int jb_cmd_export(int argc, char **argv);
int jb_cmd_store_schema(int argc, char **argv);

/* True when argv holds -h or --help before any "--". */
int jb_wants_help(int argc, char **argv);

#endif
