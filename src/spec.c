/*
 * spec.c — the experiment spec parser (YAML → jb_spec) and the plan builder.
 *
 * Parsing has two steps. First libyaml's event parser builds a small tree of
 * scalars, lists and maps, each node keeping its line:column mark; YAML syntax
 * errors, aliases, several documents and absurd nesting stop here. Then a
 * validator walks that tree top to bottom in file order, one short function per
 * key, and fills the jb_spec; the first problem found is reported as
 * "file:line:column: what is wrong; what is expected" and the parse stops.
 *
 * The plan builder turns a valid spec into the ordered list of runs; see
 * spec.h for the three orders and docs/spec.md for the user's view.
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64      /* nesting deeper than this is refused */
#define MAX_ENTRIES 10000 /* items in one list or map */
#define MAX_PLAN_RUNS 1000000

/* ------------------------------------------------------------------ */
/* Memory helpers: out of memory is not recoverable in a parser.       */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) abort(); /* out of memory: nothing sensible left to do */
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) abort();
    return p;
}

/* ------------------------------------------------------------------ */
/* The YAML tree.                                                     */

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } ynode_kind;

typedef struct ynode {
    ynode_kind kind;
    bool plain;          /* unquoted scalar: may be a number, a boolean or null */
    int line, col;       /* 1-based */
    char *str;           /* scalar text */
    struct ynode **kids; /* list items, or map key, value, key, value... */
    size_t n, cap;
} ynode;

typedef struct ctx {
    const char *path;
    jb_err *err;
    jb_spec *s;
} ctx;

static void ynode_free(ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++)
        ynode_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

static int fail(ctx *c, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ctx *c, const ynode *at, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jb_errf(c->err, "%s:%d:%d: %s", c->path, at ? at->line : 1, at ? at->col : 1, msg);
}

static int fail_mark(ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_mark(ctx *c, yaml_mark_t m, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jb_errf(c->err, "%s:%zu:%zu: %s", c->path, m.line + 1, m.column + 1, msg);
}

static ynode *ynode_new(ynode_kind kind, yaml_mark_t m)
{
    ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static int ynode_add(ctx *c, ynode *parent, ynode *kid)
{
    if (parent->n >= 2 * MAX_ENTRIES) {
        fail(c, kid, "too many entries in one list or map; expected at most %d", MAX_ENTRIES);
        ynode_free(kid);
        return -1;
    }
    if (parent->n == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 8;
        ynode **k = realloc(parent->kids, nc * sizeof *k);
        if (!k) abort();
        parent->kids = k;
        parent->cap = nc;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static ynode *scalar_from_event(ctx *c, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (strlen(v) != len) {
        fail_mark(c, ev->start_mark, "a value contains a NUL character; expected plain text");
        return NULL;
    }
    ynode *n = ynode_new(YN_SCALAR, ev->start_mark);
    n->str = xstrdup(v);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return n;
}

typedef struct tree_state {
    ynode *stack[MAX_DEPTH];
    int depth;
    ynode *root;
    int docs;
} tree_state;

/* Attach a finished or opened node to its parent (or make it the root). */
static int tree_attach(ctx *c, tree_state *t, ynode *n)
{
    if (t->depth == 0) {
        t->root = n;
        return 0;
    }
    return ynode_add(c, t->stack[t->depth - 1], n);
}

static int tree_open(ctx *c, tree_state *t, ynode_kind kind, const yaml_event_t *ev)
{
    if (t->depth >= MAX_DEPTH)
        return fail_mark(c, ev->start_mark,
                         "nesting deeper than %d levels; expected a flatter spec", MAX_DEPTH);
    ynode *n = ynode_new(kind, ev->start_mark);
    if (tree_attach(c, t, n) < 0) return -1;
    t->stack[t->depth++] = n;
    return 0;
}

/* Handle one event; returns 1 at the end of the stream, 0 to go on, -1. */
static int tree_event(ctx *c, tree_state *t, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        if (++t->docs > 1)
            return fail_mark(c, ev->start_mark,
                             "a second YAML document ('---'); expected one spec per file");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_mark(c, ev->start_mark,
                         "aliases (*%s) are not supported; expected the value written out",
                         (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        ynode *n = scalar_from_event(c, ev);
        if (!n) return -1;
        if (tree_attach(c, t, n) < 0) return -1;
        return 0;
    }
    case YAML_SEQUENCE_START_EVENT:
        return tree_open(c, t, YN_SEQ, ev);
    case YAML_MAPPING_START_EVENT:
        return tree_open(c, t, YN_MAP, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (t->depth > 0) t->depth--;
        return 0;
    default:
        return 0;
    }
}

static int yaml_syntax_error(ctx *c, const yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark, cm = p->context_mark;
    char where[64] = "";
    if (p->context && (cm.line != m.line || cm.column != m.column))
        snprintf(where, sizeof where, " (started at %zu:%zu)", cm.line + 1, cm.column + 1);
    return fail_mark(c, m,
                     "bad YAML: %s%s%s%s; expected valid YAML (check indentation, the ':' "
                     "after each key and matching quotes/brackets)",
                     p->problem ? p->problem : "syntax error", p->context ? " " : "",
                     p->context ? p->context : "", where);
}

static int tree_parse(ctx *c, const char *text, size_t len, ynode **root)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return jb_errf(c->err, "%s: libyaml could not start", c->path);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    tree_state t = {0};
    int rc = 0;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_syntax_error(c, &p);
            break;
        }
        rc = tree_event(c, &t, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc < 0) {
        ynode_free(t.root);
        return -1;
    }
    *root = t.root;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Typed access to nodes.                                             */

static bool is_null(const ynode *n)
{
    return n->kind == YN_SCALAR && n->plain &&
           (!*n->str || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
            !strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

static bool parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    for (size_t i = 0; i < JB_ARRAY_LEN(yes); i++) {
        if (!strcmp(s, yes[i])) return *b = true, true;
        if (!strcmp(s, no[i])) return *b = false, true;
    }
    return false;
}

static bool parse_double(const char *s, double *d)
{
    char *end;
    errno = 0;
    *d = strtod(s, &end);
    return *s && !isspace((unsigned char)*s) && end != s && !*end && !errno && isfinite(*d);
}

static bool parse_ll(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *s && !isspace((unsigned char)*s) && end != s && !*end && !errno;
}

/* What a node is, for "expected X, not Y" messages. */
static const char *node_type(const ynode *n)
{
    double d;
    bool b;
    if (n->kind == YN_MAP) return "a map";
    if (n->kind == YN_SEQ) return "a list";
    if (is_null(n)) return "an empty value";
    if (n->plain && parse_double(n->str, &d)) return "a number";
    if (n->plain && parse_bool(n->str, &b)) return "a boolean";
    return "a string";
}

static int want_scalar(ctx *c, const ynode *n, const char *where, const char *expected)
{
    if (n->kind == YN_SCALAR && !is_null(n)) return 0;
    return fail(c, n, "%s is %s; expected %s", where, node_type(n), expected);
}

static int get_string(ctx *c, const ynode *n, const char *where, char **out)
{
    if (want_scalar(c, n, where, "a string") < 0) return -1;
    free(*out);
    *out = xstrdup(n->str);
    return 0;
}

static int get_int(ctx *c, const ynode *n, const char *where, long long lo, long long hi,
                   long long *out)
{
    if (want_scalar(c, n, where, "a whole number") < 0) return -1;
    long long v;
    if (!n->plain || !parse_ll(n->str, &v))
        return fail(c, n, "%s is '%s', not a whole number; expected a number from %lld to %lld",
                    where, n->str, lo, hi);
    if (v < lo || v > hi)
        return fail(c, n, "%s is %s%s; expected a whole number from %lld to %lld", where, n->str,
                    v < 0 ? " (negative)" : "", lo, hi);
    *out = v;
    return 0;
}

static int get_intv(ctx *c, const ynode *n, const char *where, long long lo, long long hi, int *out)
{
    long long v;
    if (get_int(c, n, where, lo, hi, &v) < 0) return -1;
    *out = (int)v;
    return 0;
}

static int get_number(ctx *c, const ynode *n, const char *where, double lo, double hi, double *out)
{
    if (want_scalar(c, n, where, "a number") < 0) return -1;
    double v;
    if (!n->plain || !parse_double(n->str, &v))
        return fail(c, n, "%s is '%s', not a number; expected a number from %g to %g", where,
                    n->str, lo, hi);
    if (v < lo || v > hi)
        return fail(c, n, "%s is %s, out of range; expected a number from %g to %g", where, n->str,
                    lo, hi);
    *out = v;
    return 0;
}

static int get_bool(ctx *c, const ynode *n, const char *where, bool *out)
{
    if (want_scalar(c, n, where, "true or false") < 0) return -1;
    if (!n->plain || !parse_bool(n->str, out))
        return fail(c, n, "%s is '%s'; expected true or false", where, n->str);
    return 0;
}

static int get_duration(ctx *c, const ynode *n, const char *where, bool allow_auto, int64_t *out)
{
    const char *exp = allow_auto ? "a duration like \"100ms\", \"2s\", \"1.5m\", \"1h\" (a bare "
                                   "number is seconds) or auto"
                                 : "a duration like \"100ms\", \"2s\", \"1.5m\", \"1h\" (a bare "
                                   "number is seconds)";
    if (want_scalar(c, n, where, exp) < 0) return -1;
    if (allow_auto && !strcmp(n->str, "auto")) {
        *out = JB_DURATION_AUTO;
        return 0;
    }
    if (jb_parse_duration(n->str, out) < 0)
        return fail(c, n, "%s: bad duration '%s'; expected %s", where, n->str, exp);
    return 0;
}

static int get_cmd(ctx *c, const ynode *n, const char *where, jb_spec_cmd *out)
{
    if (n->kind == YN_SCALAR && !is_null(n))
        return fail(c, n,
                    "%s is a string; expected a list of arguments like [python3, train.py] "
                    "(no shell is used: write [sh, -c, \"...\"] if you need one)",
                    where);
    if (n->kind != YN_SEQ)
        return fail(c, n, "%s is %s; expected a list of arguments like [python3, train.py]", where,
                    node_type(n));
    if (n->n == 0) return fail(c, n, "%s is an empty list; expected at least the program", where);
    char **argv = xcalloc(n->n + 1, sizeof *argv);
    out->argv = argv;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *a = n->kids[i];
        if (a->kind != YN_SCALAR || is_null(a))
            return fail(c, a, "%s argument %zu is %s; expected a string", where, i + 1,
                        node_type(a));
        argv[i] = xstrdup(a->str);
        out->argc = i + 1;
    }
    if (!*argv[0]) return fail(c, n->kids[0], "%s: the program name is empty; expected one", where);
    return 0;
}

static bool name_ok(const char *s, const char *extra, size_t max)
{
    size_t len = strlen(s);
    if (len == 0 || len > max) return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(extra, *p)) return false;
    return true;
}

/* A marker or metric name as the marker protocol allows it. */
static int get_marker_name(ctx *c, const ynode *n, const char *where, char **out)
{
    if (get_string(c, n, where, out) < 0) return -1;
    if (!name_ok(*out, "_.:/-", 64))
        return fail(c, n,
                    "%s '%s' is not a valid marker name; expected 1-64 of A-Z a-z 0-9 _ . : "
                    "/ -",
                    where, *out);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Maps with a fixed set of keys.                                     */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest of names[] to s, or NULL when nothing is close. */
static const char *closest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestd = 99, len = strlen(s);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, names[i]);
        if (d < bestd) bestd = d, best = names[i];
    }
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    if (bestd <= limit) return best;
    for (size_t i = 0; len >= 3 && i < n; i++) /* "random" -> "randomized" */
        if (!strncmp(names[i], s, len)) return names[i];
    return NULL;
}

static void join_names(char *out, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", names[i]);
}

static int unknown_name(ctx *c, const ynode *at, const char *what, const char *where,
                        const char *name, const char *const *names, size_t n)
{
    const char *near = closest(name, names, n);
    if (near) return fail(c, at, "unknown %s '%s'%s; did you mean '%s'?", what, name, where, near);
    char list[600];
    join_names(list, sizeof list, names, n);
    return fail(c, at, "unknown %s '%s'%s; expected one of: %s", what, name, where, list);
}

/* Check that n is a map whose keys are scalars, each used once. */
static int check_map_shape(ctx *c, const ynode *n, const char *where, const char *expected)
{
    if (n->kind != YN_MAP)
        return fail(c, n, "%s is %s; expected %s", where, node_type(n), expected);
    for (size_t i = 0; i < n->n; i += 2) {
        const ynode *k = n->kids[i];
        if (k->kind != YN_SCALAR)
            return fail(c, k, "a key in %s is %s; expected a plain name", where, node_type(k));
        for (size_t j = 0; j < i; j += 2)
            if (!strcmp(n->kids[j]->str, k->str))
                return fail(c, k,
                            "duplicate key '%s' in %s (first at line %d); expected each key "
                            "once",
                            k->str, where, n->kids[j]->line);
    }
    return 0;
}

typedef int (*field_fn)(ctx *c, const ynode *key, const ynode *val, const char *where, void *dst);

typedef struct field {
    const char *key;
    field_fn fn;
} field;

/* Validate a map with known keys, calling each key's function in file order. */
static int walk_map(ctx *c, const ynode *n, const char *where, const field *fields, size_t nf,
                    void *dst)
{
    const char *names[32];
    for (size_t i = 0; i < nf && i < 32; i++)
        names[i] = fields[i].key;
    if (check_map_shape(c, n, where, "a map of key: value lines") < 0) return -1;
    for (size_t i = 0; i < n->n; i += 2) {
        const ynode *k = n->kids[i];
        size_t f = 0;
        while (f < nf && strcmp(fields[f].key, k->str))
            f++;
        char in[96];
        snprintf(in, sizeof in, " in %s", where);
        if (f == nf) return unknown_name(c, k, "key", in, k->str, names, nf);
        char path[256];
        if (!strcmp(where, "the spec"))
            snprintf(path, sizeof path, "%s", k->str);
        else
            snprintf(path, sizeof path, "%s.%s", where, k->str);
        if (fields[f].fn(c, k, n->kids[i + 1], path, dst) < 0) return -1;
    }
    return 0;
}

static const ynode *map_get(const ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (!strcmp(map->kids[i]->str, key)) return map->kids[i + 1];
    return NULL;
}

static const ynode *map_key(const ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (!strcmp(map->kids[i]->str, key)) return map->kids[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Top-level scalars.                                                 */

#define SPEC(dst) ((jb_spec *)(dst))

static int f_name(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    if (get_string(c, v, w, &SPEC(d)->name) < 0) return -1;
    if (!*SPEC(d)->name) return fail(c, v, "name is empty; expected a short experiment name");
    return 0;
}

static int f_description(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_string(c, v, w, &SPEC(d)->description);
}

static int f_interval(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    int64_t ns;
    if (get_duration(c, v, w, false, &ns) < 0) return -1;
    if (ns < JB_SPEC_INTERVAL_MIN_NS || ns > JB_SPEC_INTERVAL_MAX_NS)
        return fail(c, v, "interval %s is out of range; expected 1ms .. 60s", v->str);
    SPEC(d)->interval_ns = ns;
    return 0;
}

static void source_names(const char **names, size_t *n, size_t cap)
{
    *n = 0;
    for (int i = 0; jb_source_drivers[i] && *n < cap; i++)
        names[(*n)++] = jb_source_drivers[i]->name;
}

static int check_source_name(ctx *c, const ynode *at, const char *name)
{
    if (jb_source_find(name)) return 0;
    const char *names[64];
    size_t n;
    source_names(names, &n, 64);
    return unknown_name(c, at, "source", " (`joulebench sources` lists them)", name, names, n);
}

static int f_sources(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec *s = d;
    if (v->kind == YN_SCALAR && !strcmp(v->str, "auto")) {
        s->sources_auto = true;
        return 0;
    }
    if (v->kind != YN_SEQ)
        return fail(c, v, "sources is %s; expected auto or a list of source names like [cpu, rapl]",
                    node_type(v));
    if (v->n == 0) return fail(c, v, "sources is an empty list; expected auto or source names");
    s->sources_auto = false;
    s->sources = xcalloc(v->n, sizeof *s->sources);
    for (size_t i = 0; i < v->n; i++) {
        const ynode *it = v->kids[i];
        if (want_scalar(c, it, "a source", "a source name") < 0) return -1;
        if (check_source_name(c, it, it->str) < 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->sources[j], it->str))
                return fail(c, it, "source '%s' is listed twice; expected each source once",
                            it->str);
        s->sources[s->n_sources++] = xstrdup(it->str);
    }
    return 0;
}

static int f_source_options(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec *s = d;
    if (check_map_shape(c, v, w, "a map like \"estimate.idle_w\": 10") < 0) return -1;
    s->source_opts = xcalloc(v->n / 2, sizeof *s->source_opts);
    for (size_t i = 0; i < v->n; i += 2) {
        const ynode *key = v->kids[i], *val = v->kids[i + 1];
        const char *dot = strchr(key->str, '.');
        if (!dot || dot == key->str || !dot[1])
            return fail(c, key,
                        "source option '%s' has no source; expected source.option, like "
                        "estimate.idle_w",
                        key->str);
        char src[64];
        snprintf(src, sizeof src, "%.*s", (int)(dot - key->str), key->str);
        if (check_source_name(c, key, src) < 0) return -1;
        char where[160];
        snprintf(where, sizeof where, "source option '%s'", key->str);
        if (want_scalar(c, val, where, "a number or a string") < 0) return -1;
        jb_source_opt *o = &s->source_opts[s->n_source_opts++];
        o->key = xstrdup(key->str);
        o->value = xstrdup(val->str);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* repetitions, baseline, idle                                        */

static int f_rep_scenario(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_intv(c, v, w, 1, JB_SPEC_MAX_REPS, &SPEC(d)->reps_scenario);
}

static int f_rep_baseline(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_intv(c, v, w, 0, JB_SPEC_MAX_REPS, &SPEC(d)->reps_baseline);
}

static int f_rep_idle(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_intv(c, v, w, 0, JB_SPEC_MAX_REPS, &SPEC(d)->reps_idle);
}

static int f_repetitions(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {
        {"scenario", f_rep_scenario}, {"baseline", f_rep_baseline}, {"idle", f_rep_idle}};
    return walk_map(c, v, w, f, JB_ARRAY_LEN(f), d);
}

static int f_baseline_duration(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, true, &SPEC(d)->baseline_ns);
}

static int f_baseline(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"duration", f_baseline_duration}};
    return walk_map(c, v, w, f, JB_ARRAY_LEN(f), d);
}

static int f_ready_marker(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    SPEC(d)->idle_ready = JB_READY_MARKER;
    return get_marker_name(c, v, w, &SPEC(d)->idle_ready_marker);
}

static int f_ready_delay(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    SPEC(d)->idle_ready = JB_READY_DELAY;
    return get_duration(c, v, w, false, &SPEC(d)->idle_ready_delay_ns);
}

static int f_idle_ready(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"marker", f_ready_marker}, {"delay", f_ready_delay}};
    if (walk_map(c, v, w, f, JB_ARRAY_LEN(f), d) < 0) return -1;
    if (v->n == 0) return fail(c, v, "%s is empty; expected {marker: NAME} or {delay: \"2s\"}", w);
    if (v->n > 2)
        return fail(c, v->kids[2], "%s has both marker and delay; expected one of them", w);
    return 0;
}

static int f_idle_command(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_cmd(c, v, w, &SPEC(d)->idle_command);
}

static int f_idle_duration(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, true, &SPEC(d)->idle_ns);
}

static int f_idle(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {
        {"command", f_idle_command}, {"ready", f_idle_ready}, {"duration", f_idle_duration}};
    if (walk_map(c, v, w, f, JB_ARRAY_LEN(f), d) < 0) return -1;
    if (!SPEC(d)->idle_command.argv)
        return fail(c, k,
                    "idle has no command; expected command: [program, args...] (the "
                    "software started but doing nothing)");
    SPEC(d)->has_idle = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* variants                                                           */

#define VARIANT(dst) ((jb_spec_variant *)(dst))

static int f_v_command(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_cmd(c, v, w, &VARIANT(d)->command);
}

static int f_v_description(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_string(c, v, w, &VARIANT(d)->description);
}

static int f_v_cwd(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    if (get_string(c, v, w, &VARIANT(d)->cwd) < 0) return -1;
    if (!*VARIANT(d)->cwd) return fail(c, v, "%s is empty; expected a directory", w);
    return 0;
}

static int f_v_timeout(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, false, &VARIANT(d)->timeout_ns);
}

static int f_v_env(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec_variant *var = d;
    if (check_map_shape(c, v, w, "a map of NAME: value") < 0) return -1;
    var->env = xcalloc(v->n / 2, sizeof *var->env);
    for (size_t i = 0; i < v->n; i += 2) {
        const ynode *key = v->kids[i], *val = v->kids[i + 1];
        if (!name_ok(key->str, "_", 255) || isdigit((unsigned char)key->str[0]))
            return fail(c, key,
                        "'%s' is not a valid environment variable name; expected letters, "
                        "digits and _, not starting with a digit",
                        key->str);
        char where[300];
        snprintf(where, sizeof where, "%s.%s", w, key->str);
        if (want_scalar(c, val, where, "a string (write \"\" for an empty value)") < 0) return -1;
        var->env[var->n_env].key = xstrdup(key->str);
        var->env[var->n_env++].value = xstrdup(val->str);
    }
    return 0;
}

static int parse_variant(ctx *c, const ynode *k, const ynode *v, jb_spec_variant *var)
{
    static const field f[] = {{"command", f_v_command},
                              {"env", f_v_env},
                              {"cwd", f_v_cwd},
                              {"timeout", f_v_timeout},
                              {"description", f_v_description}};
    var->name = xstrdup(k->str);
    var->line = k->line;
    if (!name_ok(k->str, "_.-", 64))
        return fail(c, k, "variant name '%s' is invalid; expected 1-64 of A-Z a-z 0-9 _ . -",
                    k->str);
    char where[128];
    snprintf(where, sizeof where, "variants.%s", k->str);
    if (walk_map(c, v, where, f, JB_ARRAY_LEN(f), var) < 0) return -1;
    if (!var->command.argv)
        return fail(c, k, "variant '%s' has no command; expected command: [program, args...]",
                    k->str);
    return 0;
}

static int f_variants(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec *s = d;
    if (check_map_shape(c, v, w, "a map of variant name: {command: [...]}") < 0) return -1;
    if (v->n == 0)
        return fail(c, v, "variants is empty; expected at least one variant with a command");
    s->variants = xcalloc(v->n / 2, sizeof *s->variants);
    for (size_t i = 0; i < v->n; i += 2) {
        jb_spec_variant *var = &s->variants[s->n_variants++];
        if (parse_variant(c, v->kids[i], v->kids[i + 1], var) < 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* order, seed, pilot, max_failures                                   */

static int f_order(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const char *const names[] = {"interleaved", "randomized", "blocked"};
    if (want_scalar(c, v, w, "interleaved, randomized or blocked") < 0) return -1;
    for (size_t i = 0; i < JB_ARRAY_LEN(names); i++)
        if (!strcmp(v->str, names[i])) {
            SPEC(d)->order = (jb_order)i;
            return 0;
        }
    const char *near = closest(v->str, names, JB_ARRAY_LEN(names));
    if (near)
        return fail(c, v,
                    "bad order '%s'; expected interleaved, randomized or blocked (did you "
                    "mean '%s'?)",
                    v->str, near);
    return fail(c, v, "bad order '%s'; expected interleaved, randomized or blocked", v->str);
}

static int f_seed(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    long long seed;
    if (get_int(c, v, w, 0, 4294967295LL, &seed) < 0) return -1;
    SPEC(d)->seed = (uint64_t)seed;
    SPEC(d)->has_seed = true;
    return 0;
}

static int f_pilot(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_bool(c, v, w, &SPEC(d)->pilot);
}

static int f_max_failures(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_intv(c, v, w, 0, 1000000000, &SPEC(d)->max_failures);
}

/* ------------------------------------------------------------------ */
/* setup                                                              */

static int f_drop_caches(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_bool(c, v, w, &SPEC(d)->drop_caches);
}

static int f_gpu_memory_check(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_bool(c, v, w, &SPEC(d)->gpu_memory_check);
}

static int f_reset(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_cmd(c, v, w, &SPEC(d)->reset);
}

static int f_q_threshold(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_number(c, v, w, 0, 100, &SPEC(d)->quiet_threshold);
}

static int f_q_window(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, false, &SPEC(d)->quiet_window_ns);
}

static int f_q_timeout(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, false, &SPEC(d)->quiet_timeout_ns);
}

static int f_q_on_timeout(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    if (want_scalar(c, v, w, "warn or fail") < 0) return -1;
    if (strcmp(v->str, "warn") && strcmp(v->str, "fail"))
        return fail(c, v, "%s is '%s'; expected warn or fail", w, v->str);
    SPEC(d)->quiet_fail = !strcmp(v->str, "fail");
    return 0;
}

static int f_quiet(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"threshold", f_q_threshold},
                              {"window", f_q_window},
                              {"timeout", f_q_timeout},
                              {"on_timeout", f_q_on_timeout}};
    if (v->kind == YN_SCALAR) return get_bool(c, v, w, &SPEC(d)->quiet);
    SPEC(d)->quiet = true;
    if (walk_map(c, v, w, f, JB_ARRAY_LEN(f), d) < 0) return -1;
    if (SPEC(d)->quiet_window_ns > SPEC(d)->quiet_timeout_ns)
        return fail(c, v,
                    "setup.quiet window is longer than its timeout; expected window <= "
                    "timeout");
    return 0;
}

static int f_cd_seconds(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    double sec;
    if (get_number(c, v, w, 0, 86400, &sec) < 0) return -1;
    SPEC(d)->cooldown = JB_COOLDOWN_FIXED;
    SPEC(d)->cooldown_ns = (int64_t)llround(sec * 1e9);
    return 0;
}

static int f_cd_until(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    if (want_scalar(c, v, w, "power or temperature") < 0) return -1;
    if (!strcmp(v->str, "power"))
        SPEC(d)->cooldown = JB_COOLDOWN_POWER;
    else if (!strcmp(v->str, "temperature"))
        SPEC(d)->cooldown = JB_COOLDOWN_TEMPERATURE;
    else
        return fail(c, v, "%s is '%s'; expected power or temperature", w, v->str);
    return 0;
}

static int f_cd_tolerance(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_number(c, v, w, 0, 1000, &SPEC(d)->cooldown_tolerance);
}

static int f_cd_max(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_duration(c, v, w, false, &SPEC(d)->cooldown_max_ns);
}

static int f_cooldown(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"seconds", f_cd_seconds},
                              {"until", f_cd_until},
                              {"tolerance", f_cd_tolerance},
                              {"max", f_cd_max}};
    if (walk_map(c, v, w, f, JB_ARRAY_LEN(f), d) < 0) return -1;
    const ynode *sec = map_key(v, "seconds"), *until = map_key(v, "until");
    const ynode *tol = map_key(v, "tolerance"), *max = map_key(v, "max");
    if (sec && (until || tol || max))
        return fail(c,
                    until ? until
                    : tol ? tol
                          : max,
                    "setup.cooldown mixes seconds with until/tolerance/max; expected {seconds: N} "
                    "or {until: power|temperature, tolerance: %%, max: duration}");
    if (!sec && !until)
        return fail(c, v,
                    "setup.cooldown has neither seconds nor until; expected {seconds: N} or "
                    "{until: power|temperature}");
    return 0;
}

static int f_setup(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"drop_caches", f_drop_caches},
                              {"reset", f_reset},
                              {"quiet", f_quiet},
                              {"cooldown", f_cooldown},
                              {"gpu_memory_check", f_gpu_memory_check}};
    return walk_map(c, v, w, f, JB_ARRAY_LEN(f), d);
}

/* ------------------------------------------------------------------ */
/* efficiency, carbon                                                 */

static int f_metrics(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec *s = d;
    if (v->kind != YN_SEQ)
        return fail(c, v, "%s is %s; expected a list of metric names like [val_accuracy]", w,
                    node_type(v));
    s->metrics = xcalloc(v->n, sizeof *s->metrics);
    for (size_t i = 0; i < v->n; i++) {
        char **slot = &s->metrics[s->n_metrics++]; /* counted first: freed on error */
        if (get_marker_name(c, v->kids[i], "a metric", slot) < 0) return -1;
    }
    return 0;
}

#define TARGET(dst) ((jb_spec_target *)(dst))

static int f_t_metric(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_marker_name(c, v, w, &TARGET(d)->metric);
}

static int f_t_threshold(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_number(c, v, w, -1e300, 1e300, &TARGET(d)->threshold);
}

static int f_t_epoch(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    TARGET(d)->kind = JB_TARGET_EPOCH;
    return get_intv(c, v, w, 0, 100000000, &TARGET(d)->epoch);
}

static int parse_target(ctx *c, const ynode *v, const char *where, jb_spec_target *t)
{
    static const field f[] = {
        {"metric", f_t_metric}, {"threshold", f_t_threshold}, {"epoch", f_t_epoch}};
    if (walk_map(c, v, where, f, JB_ARRAY_LEN(f), t) < 0) return -1;
    bool metric = map_get(v, "metric"), thr = map_get(v, "threshold"), ep = map_get(v, "epoch");
    if (ep && (metric || thr))
        return fail(c, v,
                    "a target mixes epoch with metric/threshold; expected {metric: NAME, "
                    "threshold: X} or {epoch: N}");
    if (ep) return 0;
    if (!metric || !thr)
        return fail(c, v,
                    "a target needs both metric and threshold; expected {metric: NAME, "
                    "threshold: X} or {epoch: N}");
    t->kind = JB_TARGET_METRIC;
    return 0;
}

static int f_targets(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    jb_spec *s = d;
    if (v->kind != YN_SEQ)
        return fail(c, v,
                    "%s is %s; expected a list like [{metric: val_accuracy, threshold: "
                    "0.85}, {epoch: 5}]",
                    w, node_type(v));
    s->targets = xcalloc(v->n, sizeof *s->targets);
    for (size_t i = 0; i < v->n; i++) {
        jb_spec_target *t = &s->targets[s->n_targets++];
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", w, i);
        if (parse_target(c, v->kids[i], where, t) < 0) return -1;
    }
    return 0;
}

static int f_efficiency(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"metrics", f_metrics}, {"targets", f_targets}};
    return walk_map(c, v, w, f, JB_ARRAY_LEN(f), d);
}

static int f_c_intensity(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_number(c, v, w, 0, 1e5, &SPEC(d)->carbon_intensity);
}

static int f_c_source(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    return get_string(c, v, w, &SPEC(d)->carbon_source);
}

static int f_carbon(ctx *c, const ynode *k, const ynode *v, const char *w, void *d)
{
    static const field f[] = {{"intensity", f_c_intensity}, {"source", f_c_source}};
    if (walk_map(c, v, w, f, JB_ARRAY_LEN(f), d) < 0) return -1;
    if (!map_get(v, "intensity"))
        return fail(c, k, "carbon has no intensity; expected intensity: g CO2e per kWh, like 380");
    SPEC(d)->has_carbon = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The whole spec.                                                    */

static const field top_fields[] = {
    {"name", f_name},
    {"description", f_description},
    {"interval", f_interval},
    {"sources", f_sources},
    {"source_options", f_source_options},
    {"repetitions", f_repetitions},
    {"baseline", f_baseline},
    {"idle", f_idle},
    {"variants", f_variants},
    {"order", f_order},
    {"seed", f_seed},
    {"setup", f_setup},
    {"efficiency", f_efficiency},
    {"carbon", f_carbon},
    {"pilot", f_pilot},
    {"max_failures", f_max_failures},
};

static void set_defaults(jb_spec *s)
{
    s->interval_ns = 100000000LL;
    s->sources_auto = true;
    s->reps_scenario = 30;
    s->reps_baseline = 10;
    s->reps_idle = 10;
    s->baseline_ns = JB_DURATION_AUTO;
    s->idle_ns = JB_DURATION_AUTO;
    s->order = JB_ORDER_INTERLEAVED;
    s->quiet_threshold = 10;
    s->quiet_window_ns = 5000000000LL;
    s->quiet_timeout_ns = 60000000000LL;
    s->cooldown_tolerance = 5;
    s->cooldown_max_ns = 60000000000LL;
    s->max_failures = -1;
}

/* Checks that need the whole spec: required keys, auto durations vs pilot. */
static int check_whole(ctx *c, const ynode *root)
{
    jb_spec *s = c->s;
    if (!s->name) return fail(c, root, "the spec has no name; expected name: a short title");
    if (!s->variants)
        return fail(c, root,
                    "the spec has no variants; expected variants: {NAME: {command: "
                    "[program, args...]}}");
    const ynode *pilot = map_get(root, "pilot");
    bool autos = (s->reps_baseline > 0 && s->baseline_ns == JB_DURATION_AUTO) ||
                 (s->has_idle && s->reps_idle > 0 && s->idle_ns == JB_DURATION_AUTO);
    if (pilot && !s->pilot && autos)
        return fail(c, pilot,
                    "pilot is false but a baseline or idle duration is auto; expected "
                    "pilot: true or fixed durations like \"30s\"");
    if (!pilot) s->pilot = autos;
    return 0;
}

static int validate(ctx *c, const ynode *root)
{
    if (!root || is_null(root))
        return fail(c, root, "the spec is empty; expected a map with at least name and variants");
    if (root->kind != YN_MAP)
        return fail(c, root, "the spec is %s; expected a map with name, variants, ...",
                    node_type(root));
    if (walk_map(c, root, "the spec", top_fields, JB_ARRAY_LEN(top_fields), c->s) < 0) return -1;
    return check_whole(c, root);
}

int jb_spec_parse(const char *text, size_t len, const char *path, jb_spec **out, jb_err *err)
{
    *out = NULL;
    if (!path) path = "<spec>";
    if (len > JB_SPEC_MAX_BYTES)
        return jb_errf(err, "%s: the spec is %zu bytes; expected at most %d (is it a spec?)", path,
                       len, JB_SPEC_MAX_BYTES);
    jb_spec *s = xcalloc(1, sizeof *s);
    set_defaults(s);
    s->path = xstrdup(path);
    s->text = xcalloc(len + 1, 1);
    memcpy(s->text, text, len);
    ctx c = {.path = path, .err = err, .s = s};
    ynode *root = NULL;
    int rc = tree_parse(&c, text, len, &root);
    if (rc == 0) rc = validate(&c, root);
    ynode_free(root);
    if (rc < 0) {
        jb_spec_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int jb_spec_load(const char *path, jb_spec **out, jb_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return jb_errf(err, "%s: cannot open the spec: %s; expected a readable YAML file", path,
                       strerror(errno));
    jb_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= JB_SPEC_MAX_BYTES)
        jb_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        jb_buf_free(&b);
        return jb_errf(err, "%s: read error; expected a readable YAML file", path);
    }
    int rc = jb_spec_parse(b.data ? b.data : "", b.len, path, out, err);
    jb_buf_free(&b);
    return rc;
}

static void cmd_free(jb_spec_cmd *c)
{
    for (size_t i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void jb_spec_free(jb_spec *s)
{
    if (!s) return;
    free(s->path);
    free(s->text);
    free(s->name);
    free(s->description);
    strv_free(s->sources, s->n_sources);
    for (int i = 0; i < s->n_source_opts; i++) {
        free((void *)s->source_opts[i].key);
        free((void *)s->source_opts[i].value);
    }
    free(s->source_opts);
    cmd_free(&s->idle_command);
    free(s->idle_ready_marker);
    for (size_t i = 0; i < s->n_variants; i++) {
        jb_spec_variant *v = &s->variants[i];
        free(v->name);
        free(v->description);
        cmd_free(&v->command);
        for (size_t j = 0; j < v->n_env; j++)
            free(v->env[j].key), free(v->env[j].value);
        free(v->env);
        free(v->cwd);
    }
    free(s->variants);
    cmd_free(&s->reset);
    strv_free(s->metrics, s->n_metrics);
    for (size_t i = 0; i < s->n_targets; i++)
        free(s->targets[i].metric);
    free(s->targets);
    free(s->carbon_source);
    free(s);
}

bool jb_spec_has_auto(const jb_spec *s)
{
    return s->baseline_ns == JB_DURATION_AUTO || (s->has_idle && s->idle_ns == JB_DURATION_AUTO);
}

int jb_spec_variant_index(const jb_spec *s, const char *name)
{
    for (size_t i = 0; i < s->n_variants; i++)
        if (!strcmp(s->variants[i].name, name)) return (int)i;
    return -1;
}

const char *jb_phase_name(jb_phase p)
{
    switch (p) {
    case JB_PHASE_BASELINE:
        return "baseline";
    case JB_PHASE_IDLE:
        return "idle";
    case JB_PHASE_SCENARIO:
        return "scenario";
    }
    return "?";
}

const char *jb_order_name(jb_order o)
{
    switch (o) {
    case JB_ORDER_INTERLEAVED:
        return "interleaved";
    case JB_ORDER_RANDOMIZED:
        return "randomized";
    case JB_ORDER_BLOCKED:
        return "blocked";
    }
    return "?";
}

void jb_spec_argv_json(const jb_spec_cmd *cmd, jb_buf *out)
{
    jb_buf_append(out, "[", 1);
    for (size_t i = 0; i < cmd->argc; i++) {
        jb_buf_append(out, i ? ",\"" : "\"", i ? 2 : 1);
        for (const unsigned char *p = (const unsigned char *)cmd->argv[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                jb_buf_printf(out, "\\%c", *p);
            else if (*p < 0x20)
                jb_buf_printf(out, "\\u%04x", *p);
            else
                jb_buf_append(out, (const char *)p, 1);
        }
        jb_buf_append(out, "\"", 1);
    }
    jb_buf_append(out, "]", 1);
}

/* ------------------------------------------------------------------ */
/* The plan.                                                          */

uint64_t jb_plan_rand(uint64_t *state)
{
    /* SplitMix64 (Steele, Lea, Flood 2014), the seeding generator of xoshiro. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias: reject the 2^64 mod n lowest values. */
static uint64_t rand_below(uint64_t *state, uint64_t n)
{
    uint64_t threshold = (0 - n) % n, r;
    do
        r = jb_plan_rand(state);
    while (r < threshold);
    return r % n;
}

static int idle_reps(const jb_spec *s)
{
    return s->has_idle ? s->reps_idle : 0;
}

static void plan_add(jb_plan_run *runs, size_t *n, jb_phase phase, int variant, int rep)
{
    runs[*n] = (jb_plan_run){.phase = phase, .variant = variant, .rep = rep, .seq = (int)*n + 1};
    (*n)++;
}

static void plan_blocked(const jb_spec *s, jb_plan_run *runs, size_t *n)
{
    for (int r = 1; r <= s->reps_baseline; r++)
        plan_add(runs, n, JB_PHASE_BASELINE, -1, r);
    for (int r = 1; r <= idle_reps(s); r++)
        plan_add(runs, n, JB_PHASE_IDLE, -1, r);
    for (size_t v = 0; v < s->n_variants; v++)
        for (int r = 1; r <= s->reps_scenario; r++)
            plan_add(runs, n, JB_PHASE_SCENARIO, (int)v, r);
}

/* Is rep `next` (of total) of a spread phase due in round r of rounds? */
static bool due(int next, int total, int rounds, int r)
{
    return next <= total && 1 + (int)((int64_t)(next - 1) * rounds / total) == r;
}

static void plan_interleaved(const jb_spec *s, jb_plan_run *runs, size_t *n)
{
    int B = s->reps_baseline, I = idle_reps(s), S = s->reps_scenario;
    int rounds = S > B ? S : B;
    if (I > rounds) rounds = I;
    int nb = 1, ni = 1;
    for (int r = 1; r <= rounds; r++) {
        if (due(nb, B, rounds, r)) plan_add(runs, n, JB_PHASE_BASELINE, -1, nb++);
        if (due(ni, I, rounds, r)) plan_add(runs, n, JB_PHASE_IDLE, -1, ni++);
        for (size_t v = 0; r <= S && v < s->n_variants; v++)
            plan_add(runs, n, JB_PHASE_SCENARIO, (int)v, r);
    }
}

/* After a shuffle: seq in order, reps numbered chronologically per group. */
static void plan_renumber(const jb_spec *s, jb_plan_run *runs, size_t n)
{
    int *count = xcalloc(s->n_variants + 2, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        size_t g = runs[i].phase == JB_PHASE_SCENARIO ? 2 + (size_t)runs[i].variant
                                                      : (size_t)runs[i].phase;
        runs[i].rep = ++count[g];
        runs[i].seq = (int)i + 1;
    }
    free(count);
}

static void plan_randomized(const jb_spec *s, jb_plan_run *runs, size_t *n)
{
    plan_blocked(s, runs, n);
    uint64_t state = s->seed;
    for (size_t i = *n; i > 1; i--) {
        size_t j = (size_t)rand_below(&state, i);
        jb_plan_run t = runs[i - 1];
        runs[i - 1] = runs[j];
        runs[j] = t;
    }
    plan_renumber(s, runs, *n);
}

int jb_plan_build(const jb_spec *s, jb_plan_run **runs, size_t *n, jb_err *err)
{
    *runs = NULL;
    *n = 0;
    uint64_t total = (uint64_t)s->reps_baseline + (uint64_t)idle_reps(s) +
                     (uint64_t)s->reps_scenario * s->n_variants;
    if (total > MAX_PLAN_RUNS)
        return jb_errf(err, "%s: the plan has %llu runs; expected at most %d (lower repetitions)",
                       s->path, (unsigned long long)total, MAX_PLAN_RUNS);
    jb_plan_run *r = xcalloc((size_t)total, sizeof *r);
    size_t k = 0;
    if (s->order == JB_ORDER_BLOCKED)
        plan_blocked(s, r, &k);
    else if (s->order == JB_ORDER_RANDOMIZED)
        plan_randomized(s, r, &k);
    else
        plan_interleaved(s, r, &k);
    *runs = r;
    *n = k;
    return 0;
}

/* ---- expected duration ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return -1; /* unbounded stays unbounded */
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median of the known scenario guesses, or 0 when none is known. */
static int64_t median_guess(const jb_spec *s, const int64_t *guess)
{
    if (!guess || !s->n_variants) return 0;
    int64_t *g = xcalloc(s->n_variants, sizeof *g);
    size_t k = 0;
    for (size_t v = 0; v < s->n_variants; v++)
        if (guess[v] > 0) g[k++] = guess[v];
    int64_t m = 0;
    if (k) {
        qsort(g, k, sizeof *g, cmp_i64);
        m = k % 2 ? g[k / 2] : g[k / 2 - 1] / 2 + g[k / 2] / 2;
    }
    free(g);
    return m;
}

/* The longest scenario timeout, or -1 if any variant has none. */
static int64_t max_timeout(const jb_spec *s)
{
    int64_t m = 0;
    for (size_t v = 0; v < s->n_variants; v++) {
        if (s->variants[v].timeout_ns <= 0) return -1;
        if (s->variants[v].timeout_ns > m) m = s->variants[v].timeout_ns;
    }
    return m;
}

typedef struct run_time {
    int64_t expected; /* 0 and unknown=true when not known */
    int64_t upper;    /* -1 unbounded */
    bool unknown;
} run_time;

static run_time fixed_phase_time(const jb_spec *s, int64_t dur, int64_t median)
{
    if (dur != JB_DURATION_AUTO) return (run_time){dur, dur, false};
    return (run_time){median, max_timeout(s), median == 0};
}

static run_time run_duration(const jb_spec *s, const jb_plan_run *r, const int64_t *guess,
                             int64_t median)
{
    if (r->phase == JB_PHASE_BASELINE) return fixed_phase_time(s, s->baseline_ns, median);
    if (r->phase == JB_PHASE_IDLE) {
        run_time t = fixed_phase_time(s, s->idle_ns, median);
        if (s->idle_ready == JB_READY_DELAY) {
            t.expected += s->idle_ready_delay_ns;
            t.upper = sat_add(t.upper, s->idle_ready_delay_ns);
        }
        if (s->idle_ready == JB_READY_MARKER) t.upper = sat_add(t.upper, JB_IDLE_READY_TIMEOUT_NS);
        return t;
    }
    const jb_spec_variant *v = &s->variants[r->variant];
    int64_t g = guess && guess[r->variant] > 0 ? guess[r->variant] : 0;
    int64_t up = v->timeout_ns > 0 ? v->timeout_ns : -1;
    return (run_time){g, up, g == 0};
}

/* Waiting before a run: the quiet check and the cooldown. */
static run_time pre_run_time(const jb_spec *s)
{
    run_time t = {0, 0, false};
    if (s->quiet) t.expected += s->quiet_window_ns, t.upper += s->quiet_timeout_ns;
    if (s->cooldown == JB_COOLDOWN_FIXED) t.expected += s->cooldown_ns, t.upper += s->cooldown_ns;
    if (s->cooldown == JB_COOLDOWN_POWER || s->cooldown == JB_COOLDOWN_TEMPERATURE)
        t.upper += s->cooldown_max_ns;
    return t;
}

static void est_add(jb_plan_estimate *e, run_time t)
{
    e->expected_ns =
        t.expected > INT64_MAX - e->expected_ns ? INT64_MAX : e->expected_ns + t.expected;
    e->upper_ns = sat_add(e->upper_ns, t.upper);
    if (t.unknown) e->n_unknown++;
}

void jb_plan_estimate_time(const jb_spec *s, const jb_plan_run *runs, size_t n,
                           const int64_t *scenario_ns, jb_plan_estimate *out)
{
    *out = (jb_plan_estimate){0};
    int64_t median = median_guess(s, scenario_ns);
    run_time pre = pre_run_time(s);
    if (s->pilot) {
        for (size_t v = 0; v < s->n_variants; v++) {
            jb_plan_run p = {.phase = JB_PHASE_SCENARIO, .variant = (int)v};
            est_add(out, run_duration(s, &p, scenario_ns, median));
            est_add(out, pre);
        }
        out->n_pilot = s->n_variants;
    }
    for (size_t i = 0; i < n; i++) {
        est_add(out, run_duration(s, &runs[i], scenario_ns, median));
        est_add(out, pre);
    }
}

/* ---- the --dry-run text ---- */

static void fmt_ns(char *out, size_t cap, int64_t ns)
{
    if (ns < 0) {
        snprintf(out, cap, "auto");
        return;
    }
    double sec = (double)ns / 1e9;
    if (sec < 1)
        snprintf(out, cap, "%.0f ms", sec * 1e3);
    else if (sec < 60)
        snprintf(out, cap, "%.3g s", sec);
    else if (sec < 3600)
        snprintf(out, cap, "%d min %02d s", (int)(sec / 60), (int)fmod(sec, 60));
    else
        snprintf(out, cap, "%d h %02d min", (int)(sec / 3600), (int)fmod(sec / 60, 60));
}

static void describe_cmd(jb_buf *out, const jb_spec_cmd *cmd)
{
    jb_spec_argv_json(cmd, out);
}

static void describe_controls(const jb_spec *s, jb_buf *out)
{
    char a[32], b[32], m[32];
    jb_buf_printf(out, "controls:\n  drop_caches: %s\n", s->drop_caches ? "yes" : "no");
    jb_buf_printf(out, "  reset: ");
    if (s->reset.argv)
        describe_cmd(out, &s->reset);
    else
        jb_buf_printf(out, "none");
    fmt_ns(a, sizeof a, s->quiet_window_ns);
    fmt_ns(b, sizeof b, s->quiet_timeout_ns);
    if (s->quiet)
        jb_buf_printf(out, "\n  quiet: CPU below %g %% for %s (give up after %s: %s)\n",
                      s->quiet_threshold, a, b, s->quiet_fail ? "fail" : "warn");
    else
        jb_buf_printf(out, "\n  quiet: no\n");
    fmt_ns(a, sizeof a, s->cooldown_ns);
    fmt_ns(m, sizeof m, s->cooldown_max_ns);
    if (s->cooldown == JB_COOLDOWN_FIXED)
        jb_buf_printf(out, "  cooldown: %s\n", a);
    else if (s->cooldown == JB_COOLDOWN_NONE)
        jb_buf_printf(out, "  cooldown: no\n");
    else
        jb_buf_printf(out, "  cooldown: until %s is within %g %% of baseline (at most %s)\n",
                      s->cooldown == JB_COOLDOWN_POWER ? "power" : "temperature",
                      s->cooldown_tolerance, m);
    jb_buf_printf(out, "  gpu_memory_check: %s\n", s->gpu_memory_check ? "yes" : "no");
    if (s->has_seed)
        jb_buf_printf(out, "  seed: %llu\n", (unsigned long long)s->seed);
    else
        jb_buf_printf(out, "  seed: none given\n");
}

static void describe_header(const jb_spec *s, jb_buf *out)
{
    char iv[32], bl[32], id[32];
    fmt_ns(iv, sizeof iv, s->interval_ns);
    fmt_ns(bl, sizeof bl, s->baseline_ns);
    fmt_ns(id, sizeof id, s->idle_ns);
    jb_buf_printf(out, "experiment: %s\n", s->name);
    jb_buf_printf(out, "interval: %s, sources: ", iv);
    if (s->sources_auto) jb_buf_printf(out, "auto");
    for (size_t i = 0; i < s->n_sources; i++)
        jb_buf_printf(out, "%s%s", i ? ", " : "", s->sources[i]);
    jb_buf_printf(out, "\norder: %s\n", jb_order_name(s->order));
    jb_buf_printf(out, "baseline: %d x %s\n", s->reps_baseline, bl);
    if (s->has_idle) {
        jb_buf_printf(out, "idle: %d x %s, command ", s->reps_idle, id);
        describe_cmd(out, &s->idle_command);
        jb_buf_printf(out, "\n");
    } else {
        jb_buf_printf(out, "idle: none (no idle command)\n");
    }
    for (size_t v = 0; v < s->n_variants; v++) {
        jb_buf_printf(out, "variant %s: %d x ", s->variants[v].name, s->reps_scenario);
        describe_cmd(out, &s->variants[v].command);
        jb_buf_printf(out, "\n");
    }
}

void jb_plan_describe(const jb_spec *s, const jb_plan_run *runs, size_t n,
                      const jb_plan_estimate *est, jb_buf *out)
{
    describe_header(s, out);
    describe_controls(s, out);
    if (s->pilot)
        jb_buf_printf(out,
                      "pilot: %zu run(s), one per variant, before the plan (for auto "
                      "durations)\n",
                      s->n_variants);
    jb_buf_printf(out, "runs: %zu\n  %5s  %-8s  %-20s  %s\n", n, "seq", "phase", "variant", "rep");
    for (size_t i = 0; i < n; i++) {
        const jb_plan_run *r = &runs[i];
        jb_buf_printf(out, "  %5d  %-8s  %-20s  %d\n", r->seq, jb_phase_name(r->phase),
                      r->variant >= 0 ? s->variants[r->variant].name : "-", r->rep);
    }
    if (!est) return;
    char e[32], u[32];
    fmt_ns(e, sizeof e, est->expected_ns);
    fmt_ns(u, sizeof u, est->upper_ns);
    jb_buf_printf(out, "expected time: %s", e);
    if (est->n_unknown)
        jb_buf_printf(out, " + %zu run(s) of unknown length (no earlier timing)", est->n_unknown);
    if (est->upper_ns >= 0)
        jb_buf_printf(out, "; at most %s\n", u);
    else
        jb_buf_printf(out, "; no upper bound (a variant has no timeout, or a duration is "
                           "auto without one: set variant timeouts for a bound)\n");
}
