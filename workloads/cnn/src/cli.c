/*
 * cli.c — jb-cnn's table-driven option parser and the help text printed
 * from the same table. See cli.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "synth.h"

#define WIDTH 100   /* help lines wrap before this column */
#define HELP_COL 28 /* where an option's description starts */

/* Per kind: the value's name in help, and what a bad value is told to be. */
static const struct {
    const char *arg, *want;
} kinds[] = {
    [CLI_INT] = {"N", NULL}, /* want: the range, see want() */
    [CLI_U64] = {"K", "a non-negative integer"},
    [CLI_FLOAT] = {"X", "a number"},
    [CLI_DOUBLE] = {"X", "a number"},
    [CLI_STR] = {"S", NULL}, /* want: the option's arg */
    [CLI_FLAG] = {NULL, NULL},
    [CLI_MODEL] = {"own|mobilenetv2", "own or mobilenetv2"},
    [CLI_OPTIMIZER] = {"adam|sgd", "adam or sgd"},
    [CLI_TASK] = {"flowers|pretrain", "flowers or pretrain"},
};

static const char *arg_name(const cli_opt *o)
{
    return o->arg ? o->arg : kinds[o->kind].arg;
}

static const char *want(const cli_opt *o, char *buf, size_t n)
{
    if (o->kind == CLI_INT) {
        snprintf(buf, n, "an integer in %d..%d", o->lo, o->hi);
        return buf;
    }
    return kinds[o->kind].want ? kinds[o->kind].want : arg_name(o);
}

static int to_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int to_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int to_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || v != v) return -1;
    *out = v;
    return 0;
}

/* 0 when s is a, 1 when it is b, else -1. */
static int pick(const char *s, const char *a, const char *b)
{
    return !strcmp(s, a) ? 0 : !strcmp(s, b) ? 1 : -1;
}

/* Stores s as o's value; -1 (nothing stored) when it is not one. */
static int store(const cli_opt *o, const char *s)
{
    double d;
    int k;
    switch (o->kind) {
    case CLI_INT:
        return to_int(s, o->lo, o->hi, o->dst);
    case CLI_U64:
        return to_u64(s, o->dst);
    case CLI_DOUBLE:
        return to_double(s, o->dst);
    case CLI_MODEL:
        return cnn_model_parse(s, o->dst);
    case CLI_FLOAT:
        if (to_double(s, &d) < 0) return -1;
        *(float *)o->dst = (float)d;
        return 0;
    case CLI_OPTIMIZER:
        if ((k = pick(s, "adam", "sgd")) < 0) return -1;
        *(cnn_opt_kind *)o->dst = k ? CNN_SGD : CNN_ADAM;
        return 0;
    case CLI_TASK:
        if ((k = pick(s, "flowers", "pretrain")) < 0) return -1;
        *(int *)o->dst = k ? CNN_SYNTH_PRETRAIN : CNN_SYNTH_FLOWERS;
        return 0;
    case CLI_STR:
        *(const char **)o->dst = s;
        return 0;
    case CLI_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return -1;
}

/* Sets o from val (NULL: missing), `label` naming where it came from;
 * on failure one line on stderr and -1. */
static int set(const cli_cmd *cmd, const char *label, const cli_opt *o, const char *val)
{
    char buf[64];
    if (!val)
        fprintf(stderr, "jb-cnn %s: %s needs a value (%s)\n", cmd->name, label,
                want(o, buf, sizeof(buf)));
    else if (store(o, val) < 0)
        fprintf(stderr, "jb-cnn %s: %s '%s': expected %s\n", cmd->name, label, val,
                want(o, buf, sizeof(buf)));
    else
        return 0;
    return -1;
}

static int takes(const cli_opt *o, const cli_cmd *cmd)
{
    return (o->cmds & cmd->bit) != 0;
}

static const cli_opt *find(const cli_opt *opts, const cli_cmd *cmd, const char *name)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (takes(o, cmd) && !strcmp(o->name, name)) return o;
    return NULL;
}

static int env_defaults(const cli_opt *opts, const cli_cmd *cmd)
{
    for (const cli_opt *o = opts; o->name; o++) {
        const char *e = takes(o, cmd) && o->env ? getenv(o->env) : NULL;
        if (e && *e && set(cmd, o->env, o, e) < 0) return -1;
    }
    return 0;
}

static int check_required(const cli_opt *opts, const cli_cmd *cmd)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (takes(o, cmd) && o->required && !*(const char *const *)o->dst) {
            fprintf(stderr, "jb-cnn %s: %s %s is required\n", cmd->name, o->name, arg_name(o));
            return -1;
        }
    return 0;
}

int cli_parse(const cli_opt *opts, const cli_cmd *cmd, int argc, char **argv)
{
    if (env_defaults(opts, cmd) < 0) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(opts, cmd, stdout);
            return 0;
        }
        const cli_opt *o = find(opts, cmd, a);
        if (!o) {
            fprintf(stderr, "jb-cnn %s: unknown option '%s' (jb-cnn %s --help lists them)\n",
                    cmd->name, a, cmd->name);
            return 2;
        }
        const char *val = o->kind == CLI_FLAG ? "" : i + 1 < argc ? argv[++i] : NULL;
        if (set(cmd, a, o, val) < 0) return 2;
    }
    return check_required(opts, cmd) < 0 ? 2 : -1;
}

/* Prints s (len bytes) at *col after a space (none at the start of a line,
 * col 0 or `indent`), or on a new line indented by `indent` when it would
 * reach WIDTH. */
static void put_item(FILE *f, const char *s, int len, int *col, int indent)
{
    if (*col > indent && *col + 1 + len >= WIDTH) {
        fprintf(f, "\n%*s", indent, "");
        *col = indent;
    }
    if (*col > 0 && *col != indent) {
        fputc(' ', f);
        (*col)++;
    }
    fprintf(f, "%.*s", len, s);
    *col += len;
}

static void put_words(FILE *f, const char *s, int *col, int indent)
{
    while (*s) {
        int len = (int)strcspn(s, " ");
        if (len) put_item(f, s, len, col, indent);
        s += len + (s[len] == ' ');
    }
}

/* "<prefix>jb-cnn CMD --out DIR [--size N] ...", wrapped under the first option. */
static int synopsis(const cli_opt *opts, const cli_cmd *cmd, FILE *f, const char *prefix)
{
    char buf[64];
    int col = fprintf(f, "%sjb-cnn %s", prefix, cmd->name), indent = col + 1;
    for (const cli_opt *o = opts; o->name; o++) {
        if (!takes(o, cmd)) continue;
        const char *arg = arg_name(o);
        snprintf(buf, sizeof(buf), "%s%s%s%s%s", o->required ? "" : "[", o->name, arg ? " " : "",
                 arg ? arg : "", o->required ? "" : "]");
        put_item(f, buf, (int)strlen(buf), &col, indent);
    }
    fputc('\n', f);
    return indent;
}

void cli_synopsis(const cli_opt *opts, const cli_cmd *cmd, FILE *f)
{
    int indent = synopsis(opts, cmd, f, "  ");
    int col = fprintf(f, "%*s", indent, "");
    put_words(f, cmd->summary, &col, indent);
    fputc('\n', f);
}

/* o's current value as text, NULL for strings and flags. */
static const char *current(const cli_opt *o, char *buf, size_t n)
{
    switch (o->kind) {
    case CLI_INT:
        snprintf(buf, n, "%d", *(const int *)o->dst);
        return buf;
    case CLI_U64:
        snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)o->dst);
        return buf;
    case CLI_FLOAT:
        snprintf(buf, n, "%g", *(const float *)o->dst);
        return buf;
    case CLI_DOUBLE:
        snprintf(buf, n, "%g", *(const double *)o->dst);
        return buf;
    case CLI_MODEL:
        return cnn_model_name(*(const cnn_model_kind *)o->dst);
    case CLI_OPTIMIZER:
        return *(const cnn_opt_kind *)o->dst == CNN_SGD ? "sgd" : "adam";
    case CLI_TASK:
        return *(const int *)o->dst == CNN_SYNTH_PRETRAIN ? "pretrain" : "flowers";
    case CLI_STR:
    case CLI_FLAG:
        return NULL;
    }
    return NULL;
}

static void append(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (len < n) vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

static const char *sep(const char *buf)
{
    return buf[0] ? ", " : "(";
}

/* "(required)", "(8..1024, default 64)", "(default 42, or $JOULEBENCH_SEED)" or "". */
static void facts(const cli_opt *o, char *buf, size_t n)
{
    char v[48];
    const char *def = current(o, v, sizeof(v));
    buf[0] = '\0';
    if (o->required) append(buf, n, "%srequired", sep(buf));
    if (o->kind == CLI_INT) append(buf, n, "%s%d..%d", sep(buf), o->lo, o->hi);
    if (def) append(buf, n, "%sdefault %s", sep(buf), def);
    if (o->env) append(buf, n, "%sor $%s", sep(buf), o->env);
    if (buf[0]) append(buf, n, ")");
}

/* "  --size N     image side in pixels (8..1024, default 64)", wrapped. */
static void help_line(const cli_opt *o, FILE *f)
{
    const char *arg = arg_name(o);
    char tail[160];
    int col = fprintf(f, "  %s%s%s", o->name, arg ? " " : "", arg ? arg : "");
    if (col >= HELP_COL - 1) {
        fputc('\n', f);
        col = 0;
    }
    fprintf(f, "%*s", HELP_COL - col, "");
    col = HELP_COL;
    put_words(f, o->help, &col, HELP_COL);
    facts(o, tail, sizeof(tail));
    put_words(f, tail, &col, HELP_COL);
    fputc('\n', f);
}

void cli_help(const cli_opt *opts, const cli_cmd *cmd, FILE *f)
{
    int col = 0;
    synopsis(opts, cmd, f, "usage: ");
    put_words(f, cmd->summary, &col, 0);
    fputs("\n\noptions:\n", f);
    for (const cli_opt *o = opts; o->name; o++)
        if (takes(o, cmd)) help_line(o, f);
    fprintf(f, "  %-*s%s\n", HELP_COL - 2, "-h, --help", "print this help");
}
