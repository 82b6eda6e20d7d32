/*
 * oscar.c — the OSCAR file parsers (action log, GridVis power, collectl
 * hardware), OSCAR's energy rule, and the import of those files into a store
 * (see oscar.h; export is in oscar_export.c). Parsers take the whole file in
 * memory and never trust it: every line is checked, every error names
 * file:line, what is wrong and what to do, and garbage never crashes them
 * (tests/unit/test_oscar_fuzz.c).
 */
#include "oscar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NS 1000000000LL
#define MAX_LINE 65536
#define MAX_FIELDS 256

const jb_oscar_hw_column jb_oscar_hw_columns[JB_OSCAR_HW_N] = {
    [JB_OSCAR_HW_CPU_TOTAL] = {"[CPU]Totl%", "cpu/total", "%", false, 1},
    [JB_OSCAR_HW_CPU_USER] = {"[CPU]User%", "cpu/user", "%", false, 1},
    [JB_OSCAR_HW_CPU_SYS] = {"[CPU]Sys%", "cpu/system", "%", false, 1},
    [JB_OSCAR_HW_CPU_WAIT] = {"[CPU]Wait%", "cpu/iowait", "%", false, 1},
    [JB_OSCAR_HW_MEM_USED] = {"[MEM]Used", "memory/used", "B", false, 1024},
    [JB_OSCAR_HW_SWAP_USED] = {"[MEM]SwapUsed", "memory/swap_used", "B", false, 1024},
    [JB_OSCAR_HW_DSK_READ] = {"[DSK]ReadKBTot", "disk/read", "B", true, 1024},
    [JB_OSCAR_HW_DSK_WRITE] = {"[DSK]WriteKBTot", "disk/written", "B", true, 1024},
    [JB_OSCAR_HW_NET_RX] = {"[NET]RxKBTot", "net/received", "B", true, 1024},
    [JB_OSCAR_HW_NET_TX] = {"[NET]TxKBTot", "net/sent", "B", true, 1024},
};

/* ---- time ---- */

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int jb_oscar_local_to_ns(const jb_oscar_tz *tz, int year, int mon, int day, int hour, int min,
                         int sec, int ms, int64_t *out)
{
    if (year < 1971 || year > 2200 || mon < 1 || mon > 12 || day < 1 ||
        day > days_in_month(year, mon) || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
        sec > 59 || ms < 0 || ms > 999)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec,
                    .tm_isdst = -1};
    time_t t = tz && tz->fixed ? timegm(&tm) - (time_t)tz->offset_s : mktime(&tm);
    if (t == (time_t)-1) return -1;
    *out = (int64_t)t * NS + (int64_t)ms * 1000000;
    return 0;
}

int jb_oscar_parse_utc_offset(const char *s, int64_t *offset_s)
{
    int sign = 1;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s)) return -1;
    int h = 0, m = 0, ok = 0;
    char rest;
    if (strchr(s, ':'))
        ok = sscanf(s, "%2d:%2d%c", &h, &m, &rest) == 2;
    else if (strlen(s) == 4)
        ok = sscanf(s, "%2d%2d%c", &h, &m, &rest) == 2;
    else if (strlen(s) <= 2)
        ok = sscanf(s, "%2d%c", &h, &rest) == 1;
    if (!ok || h < 0 || h > 14 || m < 0 || m > 59) return -1;
    *offset_s = sign * (h * 3600 + m * 60);
    return 0;
}

void jb_oscar_ns_to_local(const jb_oscar_tz *tz, int64_t ns, int *year, int *mon, int *day,
                          int *hour, int *min, int *sec, int *ms)
{
    int64_t s = ns / NS, rem = ns % NS;
    if (rem < 0) {
        rem += NS;
        s--;
    }
    struct tm tm;
    time_t t = (time_t)s;
    if (tz && tz->fixed) {
        t += (time_t)tz->offset_s;
        gmtime_r(&t, &tm);
    } else {
        localtime_r(&t, &tm);
    }
    *year = tm.tm_year + 1900;
    *mon = tm.tm_mon + 1;
    *day = tm.tm_mday;
    *hour = tm.tm_hour;
    *min = tm.tm_min;
    *sec = tm.tm_sec;
    *ms = (int)(rem / 1000000);
}

/* ---- lines and fields ---- */

typedef struct line_reader {
    const char *path, *p, *end;
    int line; /* number of the line last returned (1-based) */
    char *buf;
} line_reader;

static void lr_init(line_reader *lr, const char *path, const char *text, size_t len)
{
    memset(lr, 0, sizeof *lr);
    lr->path = path;
    lr->p = text;
    lr->end = text + len;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) lr->p += 3; /* UTF-8 BOM */
}

static bool is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return false;
    return true;
}

/* The next non-blank line (CR/LF stripped) in *out: 1, 0 at the end, -1 on error. */
static int lr_next(line_reader *lr, char **out, jb_err *err)
{
    while (lr->p < lr->end) {
        const char *nl = memchr(lr->p, '\n', (size_t)(lr->end - lr->p));
        size_t n = nl ? (size_t)(nl - lr->p) : (size_t)(lr->end - lr->p);
        const char *start = lr->p;
        lr->p = nl ? nl + 1 : lr->end;
        lr->line++;
        if (n > MAX_LINE)
            return jb_errf(err, "%s:%d: line longer than %d bytes; is this the right file?",
                           lr->path, lr->line, MAX_LINE);
        if (memchr(start, 0, n))
            return jb_errf(err,
                           "%s:%d: NUL byte in the line; this looks like a binary file, "
                           "give the CSV text export",
                           lr->path, lr->line);
        free(lr->buf);
        lr->buf = malloc(n + 1);
        if (!lr->buf) return jb_errf(err, "%s: out of memory", lr->path);
        memcpy(lr->buf, start, n);
        lr->buf[n] = 0;
        while (n && (lr->buf[n - 1] == '\r'))
            lr->buf[--n] = 0;
        if (is_blank(lr->buf)) continue;
        *out = lr->buf;
        return 1;
    }
    return 0;
}

static void lr_free(line_reader *lr)
{
    free(lr->buf);
    lr->buf = NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '"')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Split at ';' in place, trimming each field. Returns the number of fields. */
static int split_fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *semi = strchr(p, ';');
        if (semi) *semi = 0;
        f[n++] = trim(p);
        if (!semi) break;
        p = semi + 1;
    }
    return n;
}

/* Parse a number with a decimal comma or point ("11,051", "1.234,5", "-3").
 * 0 ok, 1 empty, -1 not a number. */
static int parse_num(const char *s, double *out)
{
    if (!*s) return 1;
    char buf[64];
    size_t n = 0;
    bool comma = strchr(s, ',') != NULL;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (comma && c == '.') continue; /* thousands separator next to a decimal comma */
        if (c == ',') c = '.';
        if (!(isdigit((unsigned char)c) || c == '.' || c == '-' || c == '+' || c == 'e' ||
              c == 'E'))
            return -1;
        if (n + 1 >= sizeof buf) return -1;
        buf[n++] = c;
    }
    buf[n] = 0;
    if (!isdigit((unsigned char)buf[0]) && !(buf[0] == '-' || buf[0] == '+' || buf[0] == '.'))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Read 1..maxd digits at *p into *v. */
static bool read_uint(const char **p, int maxd, int *v)
{
    int n = 0, x = 0;
    while (isdigit((unsigned char)**p) && n < maxd) {
        x = x * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (!n || isdigit((unsigned char)**p)) return false;
    *v = x;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c) return false;
    (*p)++;
    return true;
}

/* "HH:MM:SS[.d...]": the digits after the dot are an integer count of
 * milliseconds (a quirk of some OSCAR writers: "07.98" is 98 ms). */
static bool read_clock(const char **p, int *h, int *mi, int *s, int *ms)
{
    *ms = 0;
    if (!read_uint(p, 2, h) || !expect(p, ':') || !read_uint(p, 2, mi) || !expect(p, ':') ||
        !read_uint(p, 2, s))
        return false;
    if (**p == '.' || **p == ',') {
        (*p)++;
        if (!read_uint(p, 3, ms)) return false;
    }
    return true;
}

static bool at_end(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return !*p;
}

/* Action log: "YYYY-M-D HH:MM:SS.mmm". */
static bool parse_log_time(const char *s, const jb_oscar_tz *tz, int64_t *ns)
{
    int y, mo, d, h, mi, sec, ms;
    const char *p = s;
    if (!read_uint(&p, 4, &y) || !expect(&p, '-') || !read_uint(&p, 2, &mo) || !expect(&p, '-') ||
        !read_uint(&p, 2, &d))
        return false;
    if (*p != ' ' && *p != 'T') return false;
    while (*p == ' ' || *p == 'T')
        p++;
    if (!read_clock(&p, &h, &mi, &sec, &ms) || !at_end(p)) return false;
    return jb_oscar_local_to_ns(tz, y, mo, d, h, mi, sec, ms, ns) == 0;
}

/* GridVis: "22.09.22, 09:00:01" (two- or four-digit year). */
static bool parse_gridvis_time(const char *s, const jb_oscar_tz *tz, int64_t *ns)
{
    int y, mo, d, h, mi, sec, ms;
    const char *p = s;
    const char *ys;
    if (!read_uint(&p, 2, &d) || !expect(&p, '.') || !read_uint(&p, 2, &mo) || !expect(&p, '.'))
        return false;
    ys = p;
    if (!read_uint(&p, 4, &y)) return false;
    if (p - ys == 2)
        y += 2000;
    else if (p - ys != 4)
        return false;
    if (*p == ',') p++;
    if (*p != ' ') return false;
    while (*p == ' ')
        p++;
    if (!read_clock(&p, &h, &mi, &sec, &ms) || !at_end(p)) return false;
    return jb_oscar_local_to_ns(tz, y, mo, d, h, mi, sec, ms, ns) == 0;
}

/* collectl (reformatted): "22.09.2022 09:02:40"; also collectl's own
 * "20220922 09:02:40" and "2022-09-22 09:02:40". */
static bool parse_collectl_time(const char *s, const jb_oscar_tz *tz, int64_t *ns)
{
    int y, mo, d, h, mi, sec, ms;
    const char *p = s;
    size_t nd = strspn(s, "0123456789");
    if (nd == 8) {
        int v;
        if (!read_uint(&p, 8, &v)) return false;
        y = v / 10000;
        mo = v / 100 % 100;
        d = v % 100;
    } else if (nd == 4) {
        if (!read_uint(&p, 4, &y) || !expect(&p, '-') || !read_uint(&p, 2, &mo) ||
            !expect(&p, '-') || !read_uint(&p, 2, &d))
            return false;
    } else {
        if (!read_uint(&p, 2, &d) || !expect(&p, '.') || !read_uint(&p, 2, &mo) ||
            !expect(&p, '.') || !read_uint(&p, 4, &y))
            return false;
        if (y < 100) y += 2000;
    }
    if (*p != ' ' && *p != ';') return false;
    while (*p == ' ' || *p == ';')
        p++;
    if (!read_clock(&p, &h, &mi, &sec, &ms) || !at_end(p)) return false;
    return jb_oscar_local_to_ns(tz, y, mo, d, h, mi, sec, ms, ns) == 0;
}

static void fmt_local(const jb_oscar_tz *tz, int64_t ns, char *out, size_t cap)
{
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(tz, ns, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03d", y, mo, d, h, mi, s, ms);
}

/* ---- growable arrays ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* ---- action log ---- */

typedef struct log_state {
    const char *path;
    const jb_oscar_tz *tz;
    jb_oscar_log *log;
    size_t run_cap, act_cap;
    bool open;
    int open_line;
    int64_t last_t;
    int last_line;
    size_t stack[64]; /* open actions of the current run */
    int depth;
} log_state;

static int log_start_run(log_state *ls, int line, int64_t t, jb_err *err)
{
    if (ls->open)
        return jb_errf(err,
                       "%s:%d: startTestrun while the testrun started at line %d is still "
                       "open; add the missing stopTestrun",
                       ls->path, line, ls->open_line);
    jb_oscar_log *log = ls->log;
    if (grow((void **)&log->runs, &ls->run_cap, log->n + 1, sizeof *log->runs))
        return jb_errf(err, "%s: out of memory", ls->path);
    jb_oscar_run *r = &log->runs[log->n++];
    memset(r, 0, sizeof *r);
    r->start_ns = t;
    r->start_line = line;
    ls->act_cap = 0;
    ls->open = true;
    ls->open_line = line;
    ls->depth = 0;
    return 0;
}

static int log_stop_run(log_state *ls, int line, int64_t t, jb_err *err)
{
    if (!ls->open)
        return jb_errf(err,
                       "%s:%d: stopTestrun without a startTestrun before it; add the "
                       "startTestrun line or remove this one",
                       ls->path, line);
    jb_oscar_run *r = &ls->log->runs[ls->log->n - 1];
    r->stop_ns = t;
    r->stop_line = line;
    ls->open = false;
    return 0; /* actions still open keep end_ns -1: the analysis flags them */
}

static int log_start_action(log_state *ls, int line, int64_t t, const char *name, jb_err *err)
{
    if (!ls->open)
        return jb_errf(err,
                       "%s:%d: startAction outside a testrun; actions must lie between "
                       "startTestrun and stopTestrun",
                       ls->path, line);
    if (!*name)
        return jb_errf(err,
                       "%s:%d: startAction without a name; write "
                       "'<time>;startAction;<name>'",
                       ls->path, line);
    if (strlen(name) > 64)
        return jb_errf(err, "%s:%d: action name longer than 64 characters; shorten it", ls->path,
                       line);
    if (ls->depth >= (int)JB_ARRAY_LEN(ls->stack))
        return jb_errf(err, "%s:%d: more than %d nested actions open; a stopAction is missing",
                       ls->path, line, (int)JB_ARRAY_LEN(ls->stack));
    jb_oscar_run *r = &ls->log->runs[ls->log->n - 1];
    if (grow((void **)&r->actions, &ls->act_cap, r->nactions + 1, sizeof *r->actions))
        return jb_errf(err, "%s: out of memory", ls->path);
    jb_oscar_action *a = &r->actions[r->nactions];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->begin_ns = t;
    a->end_ns = -1;
    ls->stack[ls->depth++] = r->nactions++;
    return 0;
}

/* stopAction closes the innermost open action, or with a name the innermost
 * open one of that name. */
static int log_stop_action(log_state *ls, int line, int64_t t, const char *name, jb_err *err)
{
    if (!ls->open || ls->depth == 0)
        return jb_errf(err,
                       "%s:%d: stopAction without an open action; add the startAction "
                       "line or remove this one",
                       ls->path, line);
    jb_oscar_run *r = &ls->log->runs[ls->log->n - 1];
    int k = ls->depth - 1;
    if (*name)
        while (k >= 0 && strcmp(r->actions[ls->stack[k]].name, name))
            k--;
    if (k < 0)
        return jb_errf(err, "%s:%d: stopAction for '%s', but no action of that name is open",
                       ls->path, line, name);
    r->actions[ls->stack[k]].end_ns = t;
    memmove(&ls->stack[k], &ls->stack[k + 1], (size_t)(ls->depth - k - 1) * sizeof ls->stack[0]);
    ls->depth--;
    return 0;
}

static int log_line(log_state *ls, int line, char *text, jb_err *err)
{
    char *f[MAX_FIELDS];
    int nf = split_fields(text, f, MAX_FIELDS);
    while (nf > 1 && !*f[nf - 1])
        nf--; /* a trailing ';' */
    int64_t t;
    if (!parse_log_time(f[0], ls->tz, &t))
        return jb_errf(err,
                       "%s:%d: '%.40s' is not a time like '2022-9-22 09:05:07.216' "
                       "(YYYY-M-D HH:MM:SS.mmm)",
                       ls->path, line, f[0]);
    if (nf < 2)
        return jb_errf(err,
                       "%s:%d: no event after the time; expected "
                       "startTestrun, stopTestrun, startAction;<name> or stopAction",
                       ls->path, line);
    if (ls->last_line && t < ls->last_t) {
        char a[40], b[40];
        fmt_local(ls->tz, t, a, sizeof a);
        fmt_local(ls->tz, ls->last_t, b, sizeof b);
        return jb_errf(err,
                       "%s:%d: time goes backwards (%s after %s at line %d); the log "
                       "must be in time order",
                       ls->path, line, a, b, ls->last_line);
    }
    ls->last_t = t;
    ls->last_line = line;
    const char *ev = f[1], *name = nf > 2 ? f[2] : "";
    if (nf > 3)
        return jb_errf(err,
                       "%s:%d: %d fields, expected at most 3 (time;event;name); is the "
                       "name containing a ';'?",
                       ls->path, line, nf);
    if (!strcasecmp(ev, "startTestrun")) return log_start_run(ls, line, t, err);
    if (!strcasecmp(ev, "stopTestrun")) return log_stop_run(ls, line, t, err);
    if (!strcasecmp(ev, "startAction")) return log_start_action(ls, line, t, name, err);
    if (!strcasecmp(ev, "stopAction")) return log_stop_action(ls, line, t, name, err);
    return jb_errf(err,
                   "%s:%d: unknown event '%.40s'; expected startTestrun, stopTestrun, "
                   "startAction or stopAction",
                   ls->path, line, ev);
}

int jb_oscar_parse_log(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                       jb_oscar_log *log, jb_err *err)
{
    memset(log, 0, sizeof *log);
    log_state ls = {.path = path, .tz = tz, .log = log};
    line_reader lr;
    lr_init(&lr, path, text, len);
    char *line;
    int rc;
    while ((rc = lr_next(&lr, &line, err)) == 1)
        if (log_line(&ls, lr.line, line, err)) {
            rc = -1;
            break;
        }
    lr_free(&lr);
    if (rc == 0 && ls.open)
        rc = jb_errf(err,
                     "%s:%d: the testrun started here has no stopTestrun (file "
                     "truncated?); add it or remove the incomplete run",
                     path, ls.open_line);
    if (rc == 0 && log->n == 0)
        rc = jb_errf(err, "%s: no startTestrun/stopTestrun pair; is this an OSCAR action log?",
                     path);
    if (rc) jb_oscar_log_free(log);
    return rc ? -1 : 0;
}

void jb_oscar_log_free(jb_oscar_log *log)
{
    for (size_t i = 0; i < log->n; i++)
        free(log->runs[i].actions);
    free(log->runs);
    memset(log, 0, sizeof *log);
}

/* ---- GridVis power ---- */

typedef struct power_cols {
    int time, avg;
} power_cols;

static int power_header(const char *path, int line, char *text, power_cols *c, jb_oscar_power *p,
                        jb_err *err)
{
    char *f[MAX_FIELDS];
    int nf = split_fields(text, f, MAX_FIELDS);
    c->time = c->avg = -1;
    for (int i = 0; i < nf; i++) {
        if (c->time < 0 && (!strcasecmp(f[i], "Zeit") || !strcasecmp(f[i], "Time")))
            c->time = i;
        else if (c->avg < 0 && strcasestr(f[i], "avg"))
            c->avg = i;
    }
    if (c->time < 0)
        return jb_errf(err,
                       "%s:%d: no 'Zeit' column in the header; expected the GridVis "
                       "header 'Nummer;Zeit;Wert 1-avg[W];...'",
                       path, line);
    if (c->avg < 0) c->avg = c->time + 1;
    if (c->avg >= nf)
        return jb_errf(err,
                       "%s:%d: no value column after 'Zeit'; expected "
                       "'Nummer;Zeit;Wert 1-avg[W];...'",
                       path, line);
    snprintf(p->column, sizeof p->column, "%s", f[c->avg]);
    return 0;
}

static int power_row(const char *path, int line, char *text, const power_cols *c,
                     const jb_oscar_tz *tz, jb_oscar_power *p, size_t *cap, jb_err *err)
{
    char *f[MAX_FIELDS];
    int nf = split_fields(text, f, MAX_FIELDS);
    if (nf <= c->avg || nf <= c->time)
        return jb_errf(err, "%s:%d: %d fields, expected at least %d (Nummer;Zeit;avg;...)", path,
                       line, nf, (c->avg > c->time ? c->avg : c->time) + 1);
    int64_t t;
    if (!parse_gridvis_time(f[c->time], tz, &t))
        return jb_errf(err,
                       "%s:%d: '%.40s' is not a GridVis time like '22.09.22, 09:00:01' "
                       "(DD.MM.YY, HH:MM:SS)",
                       path, line, f[c->time]);
    double w;
    int r = parse_num(f[c->avg], &w);
    if (r < 0)
        return jb_errf(err,
                       "%s:%d: power '%.40s' is not a number (decimal comma, e.g. "
                       "11,051)",
                       path, line, f[c->avg]);
    if (r == 1) w = NAN;
    size_t cap_t = *cap, cap_w = *cap;
    if (grow((void **)&p->t, &cap_t, p->n + 1, sizeof *p->t) ||
        grow((void **)&p->w, &cap_w, p->n + 1, sizeof *p->w))
        return jb_errf(err, "%s: out of memory", path);
    *cap = cap_t < cap_w ? cap_t : cap_w;
    p->t[p->n] = t;
    p->w[p->n++] = w;
    return 0;
}

int jb_oscar_parse_power(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                         jb_oscar_power *p, jb_err *err)
{
    memset(p, 0, sizeof *p);
    line_reader lr;
    lr_init(&lr, path, text, len);
    char *line;
    int rc, state = 0; /* 0 title, 1 header, 2 rows */
    size_t cap = 0;
    power_cols cols = {-1, -1};
    while ((rc = lr_next(&lr, &line, err)) == 1) {
        if (state == 0 && strncasecmp(trim(line), "Nummer", 6)) {
            snprintf(p->title, sizeof p->title, "%s", trim(line));
            state = 1;
            continue;
        }
        if (state < 2) {
            rc = power_header(path, lr.line, line, &cols, p, err);
            state = 2;
        } else {
            rc = power_row(path, lr.line, line, &cols, tz, p, &cap, err);
        }
        if (rc) break;
    }
    lr_free(&lr);
    if (rc == 0 && p->n == 0)
        rc = jb_errf(err,
                     "%s: no power rows; expected a GridVis export (title line, header "
                     "'Nummer;Zeit;Wert 1-avg[W];...', rows)",
                     path);
    if (rc) jb_oscar_power_free(p);
    return rc ? -1 : 0;
}

void jb_oscar_power_free(jb_oscar_power *p)
{
    free(p->t);
    free(p->w);
    memset(p, 0, sizeof *p);
}

/* ---- collectl hardware ---- */

typedef struct hw_cols {
    int date, time; /* time -1: date and time in one field */
    int col[JB_OSCAR_HW_N];
    int nf;
} hw_cols;

static int hw_header(const char *path, int line, char *text, hw_cols *c, jb_err *err)
{
    char *f[MAX_FIELDS];
    int nf = split_fields(text, f, MAX_FIELDS);
    const char *first = f[0][0] == '#' ? f[0] + 1 : f[0];
    c->date = 0;
    c->time = -1;
    c->nf = nf;
    if (!strcasecmp(first, "Date") && nf > 1 && !strcasecmp(f[1], "Time")) c->time = 1;
    int found = 0;
    for (int k = 0; k < JB_OSCAR_HW_N; k++) {
        c->col[k] = -1;
        for (int i = 1; i < nf; i++)
            if (!strcasecmp(f[i], jb_oscar_hw_columns[k].header)) {
                c->col[k] = i;
                found++;
                break;
            }
    }
    if (!found)
        return jb_errf(err,
                       "%s:%d: none of the collectl columns [CPU]Totl%%, [MEM]Used, "
                       "[NET]RxKBTot, [DSK]ReadKBTot found in the header; is this a "
                       "collectl -P file?",
                       path, line);
    return 0;
}

static int hw_row(const char *path, int line, char *text, const hw_cols *c, const jb_oscar_tz *tz,
                  jb_oscar_hw *hw, size_t *cap, jb_err *err)
{
    char *f[MAX_FIELDS];
    int nf = split_fields(text, f, MAX_FIELDS);
    while (nf > 1 && nf > c->nf && !*f[nf - 1])
        nf--;
    char when[128];
    if (c->time > 0) {
        if (nf < 2) return jb_errf(err, "%s:%d: no time field", path, line);
        snprintf(when, sizeof when, "%.60s %.60s", f[0], f[1]);
    } else {
        snprintf(when, sizeof when, "%.100s", f[0]);
    }
    int64_t t;
    if (!parse_collectl_time(when, tz, &t))
        return jb_errf(err, "%s:%d: '%.40s' is not a time like '22.09.2022 09:02:40'", path, line,
                       when);
    if (hw->n && t < hw->t[hw->n - 1])
        return jb_errf(err, "%s:%d: time goes backwards; the hardware log must be in time order",
                       path, line);
    size_t c1 = *cap, c2 = *cap;
    if (grow((void **)&hw->t, &c1, hw->n + 1, sizeof *hw->t) ||
        grow((void **)&hw->v, &c2, hw->n + 1, sizeof *hw->v * JB_OSCAR_HW_N))
        return jb_errf(err, "%s: out of memory", path);
    *cap = c1 < c2 ? c1 : c2;
    double *v = &hw->v[hw->n * JB_OSCAR_HW_N];
    for (int k = 0; k < JB_OSCAR_HW_N; k++) {
        v[k] = NAN;
        int i = c->col[k];
        if (i < 0) continue;
        if (i >= nf)
            return jb_errf(err,
                           "%s:%d: %d fields, but the header has %s in field %d (line "
                           "truncated?)",
                           path, line, nf, jb_oscar_hw_columns[k].header, i + 1);
        int r = parse_num(f[i], &v[k]);
        if (r < 0)
            return jb_errf(err, "%s:%d: %s value '%.40s' is not a number", path, line,
                           jb_oscar_hw_columns[k].header, f[i]);
        if (r == 1)
            v[k] = NAN;
        else
            hw->present[k] = true;
    }
    hw->t[hw->n++] = t;
    return 0;
}

int jb_oscar_parse_hardware(const char *path, const char *text, size_t len, const jb_oscar_tz *tz,
                            jb_oscar_hw *hw, jb_err *err)
{
    memset(hw, 0, sizeof *hw);
    line_reader lr;
    lr_init(&lr, path, text, len);
    char *line;
    int rc;
    bool header = false;
    size_t cap = 0;
    hw_cols cols;
    while ((rc = lr_next(&lr, &line, err)) == 1) {
        char *l = trim(line);
        if (!header) {
            const char *h = l[0] == '#' ? l + 1 : l;
            if (l[0] == '#' && strncasecmp(h, "Date", 4)) continue; /* collectl comments */
            if (strncasecmp(h, "Date", 4)) {
                rc = jb_errf(err,
                             "%s:%d: expected the collectl header 'Date Time;[CPU]User%%;"
                             "...' before the rows",
                             path, lr.line);
                break;
            }
            rc = hw_header(path, lr.line, l, &cols, err);
            header = true;
        } else {
            rc = hw_row(path, lr.line, l, &cols, tz, hw, &cap, err);
        }
        if (rc) break;
    }
    lr_free(&lr);
    if (rc == 0 && !header)
        rc = jb_errf(err,
                     "%s: empty; expected a collectl CSV with the header "
                     "'Date Time;[CPU]User%%;...'",
                     path);
    if (rc) jb_oscar_hw_free(hw);
    return rc ? -1 : 0;
}

void jb_oscar_hw_free(jb_oscar_hw *hw)
{
    free(hw->t);
    free(hw->v);
    memset(hw, 0, sizeof *hw);
}

/* ---- OSCAR's energy ---- */

double jb_oscar_energy_wh(const int64_t *t_ns, const double *p_w, size_t n, int64_t start_ns,
                          int64_t stop_ns, size_t *rows)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t_ns[i] < start_ns || t_ns[i] > stop_ns || isnan(p_w[i])) continue;
        sum += p_w[i];
        k++;
    }
    if (rows) *rows = k;
    return sum / 3600.0;
}

int jb_oscar_run_energy(jb_store *st, int64_t run_id, double *wh, int64_t *rows, jb_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT energy_wh, rows FROM oscar_run WHERE run_id=?", -1, &q,
                           NULL) != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(st->db), "no such table")) return 0;
        return jb_errf(err, "%s: %s", st->path, sqlite3_errmsg(st->db));
    }
    sqlite3_bind_int64(q, 1, run_id);
    int found = 0;
    if (sqlite3_step(q) == SQLITE_ROW) {
        if (wh) *wh = sqlite3_column_double(q, 0);
        if (rows) *rows = sqlite3_column_int64(q, 1);
        found = 1;
    }
    sqlite3_finalize(q);
    return found;
}

int jb_oscar_read_file(const char *path, char **text, size_t *len, jb_err *err)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return jb_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > (1LL << 30)) {
        fclose(f);
        return jb_errf(err, "%s: not a regular file of at most 1 GiB", path);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return jb_errf(err, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return jb_errf(err, "%s: read error", path);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return 0;
}
