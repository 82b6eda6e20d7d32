/*
 * cli.h — jb-cnn's table-driven option parser. One table describes every
 * option (name, kind, destination, which subcommands take it, range, help);
 * cli_parse walks a subcommand's arguments against it, and the help and
 * usage text are printed from the same table.
 */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include <stdio.h>

typedef enum {
    CLI_INT,       /* int, within lo..hi */
    CLI_U64,       /* uint64_t, non-negative */
    CLI_FLOAT,     /* float */
    CLI_DOUBLE,    /* double */
    CLI_STR,       /* const char * (points into argv) */
    CLI_FLAG,      /* int, set to 1; takes no value */
    CLI_MODEL,     /* cnn_model_kind: own or mobilenetv2 */
    CLI_OPTIMIZER, /* cnn_opt_kind: adam or sgd */
    CLI_TASK,      /* int: CNN_SYNTH_FLOWERS or CNN_SYNTH_PRETRAIN */
} cli_kind;

typedef struct cli_opt {
    const char *name; /* "--size"; NULL ends the table */
    cli_kind kind;
    void *dst;        /* where the value goes; its default is what it holds before */
    const char *help; /* what it is, for --help (range and default are added) */
    unsigned cmds;    /* the subcommands that take it: a set of cli_cmd.bit */
    int lo, hi;       /* CLI_INT: the allowed range */
    const char *arg;  /* name of the value in help; NULL: the kind's (N, X, ...) */
    const char *env;  /* environment variable that overrides the default, or NULL */
    int required;     /* CLI_STR: must be given */
} cli_opt;

typedef struct cli_cmd {
    const char *name;    /* "train" */
    unsigned bit;        /* its bit in cli_opt.cmds */
    const char *summary; /* what it does, one line */
} cli_cmd;

/* Applies the environment defaults of cmd's options, then reads argv (the
 * arguments after the subcommand). Returns -1 to go on, else the exit status:
 * 0 after --help (printed to stdout), 2 after a usage error (one line on
 * stderr that names the option and what it expects). */
int cli_parse(const cli_opt *opts, const cli_cmd *cmd, int argc, char **argv);

/* `jb-cnn CMD --help`: synopsis, summary, one line per option with its
 * range and current (default) value. */
void cli_help(const cli_opt *opts, const cli_cmd *cmd, FILE *f);

/* For `jb-cnn --help`: "  jb-cnn CMD --out DIR [--size N] ..." and the
 * summary, wrapped at 100 columns. */
void cli_synopsis(const cli_opt *opts, const cli_cmd *cmd, FILE *f);

#endif
