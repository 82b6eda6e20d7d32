/*
 * marker.c — the recorder's parser for v1 marker datagrams (marker.h).
 *
 * The input is whatever arrived on the socket: any bytes, any length. The
 * parser works on (buf, len) without assuming a NUL, copies at most
 * JB_MARKER_MAX_LEN bytes, and answers with a short reason that ends up in the
 * store's bad_marker table next to the raw text. The formatter and the name
 * check it shares with the clients are in lib/joulebench.c.
 */
#include "marker.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 8

static int reject(char *why, size_t whycap, const char *reason)
{
    if (why && whycap) snprintf(why, whycap, "%s", reason);
    return -1;
}

/* Parse a whole token as a decimal int64 (optional '-' when signed). */
static int parse_int(const char *s, bool allow_negative, int64_t *out)
{
    bool neg = false;
    if (*s == '-' && allow_negative) {
        neg = true;
        s++;
    }
    if (!*s) return -1;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static bool looks_non_finite(const char *s)
{
    return strcasestr(s, "nan") || strcasestr(s, "inf");
}

/* A decimal double: digits, sign, '.', exponent; finite. Returns 0, -1 bad
 * number, -2 non-finite. */
static int parse_value(const char *s, double *out)
{
    if (looks_non_finite(s)) return -2;
    if (strspn(s, "0123456789+-.eE") != strlen(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return -1;
    if (!isfinite(v)) return -2;
    *out = v;
    return 0;
}

/* Split the line in place at runs of spaces. Returns the token count, or
 * MAX_TOKENS + 1 when there are too many. */
static int split(char *line, char **tok)
{
    int n = 0;
    for (char *p = line; *p;) {
        while (*p == ' ')
            *p++ = 0;
        if (!*p) break;
        if (n == MAX_TOKENS) return MAX_TOKENS + 1;
        tok[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static int check_bytes(const char *buf, size_t len, char *why, size_t whycap)
{
    if (len == 0) return reject(why, whycap, "empty datagram");
    if (len > JB_MARKER_MAX_LEN) return reject(why, whycap, "too long (over 512 bytes)");
    if (memchr(buf, 0, len)) return reject(why, whycap, "NUL byte");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n' && i == len - 1) break;
        if (c < 0x20 || c >= 0x7f) return reject(why, whycap, "control or non-ASCII byte");
    }
    return 0;
}

/* The tokens after the name: index for begin/end/event; [index] value for metric. */
static int parse_tail(jb_marker *m, char **rest, int nrest, char *why, size_t whycap)
{
    bool metric = !strcmp(m->kind, "metric");
    int max = metric ? 2 : 1;
    if (metric && nrest == 0) return reject(why, whycap, "metric without a value");
    if (nrest > max) return reject(why, whycap, "extra tokens");
    int nidx = metric ? nrest - 1 : nrest;
    if (nidx == 1) {
        if (parse_int(rest[0], true, &m->index)) return reject(why, whycap, "bad index");
        m->has_index = true;
    }
    if (metric) {
        int rc = parse_value(rest[nrest - 1], &m->value);
        if (rc == -2) return reject(why, whycap, "non-finite value");
        if (rc) return reject(why, whycap, "bad value");
        m->has_value = true;
    }
    return 0;
}

int jb_marker_parse(const char *buf, size_t len, jb_marker *m, char *why, size_t whycap)
{
    if (check_bytes(buf, len, why, whycap)) return -1;
    char line[JB_MARKER_MAX_LEN + 1];
    memcpy(line, buf, len);
    line[len] = 0;
    if (line[len - 1] == '\n') line[len - 1] = 0;

    char *tok[MAX_TOKENS];
    int n = split(line, tok);
    if (n > MAX_TOKENS) return reject(why, whycap, "extra tokens");
    if (n == 0 || strcmp(tok[0], "v1")) return reject(why, whycap, "wrong version (want v1)");
    if (n < 5) return reject(why, whycap, "missing fields");

    memset(m, 0, sizeof *m);
    if (parse_int(tok[1], false, &m->t_ns)) return reject(why, whycap, "bad timestamp");
    if (parse_int(tok[2], false, &m->pid) || m->pid <= 0 || m->pid > INT32_MAX)
        return reject(why, whycap, "bad pid");
    if (!jb_marker_kind_ok(tok[3])) return reject(why, whycap, "bad kind");
    snprintf(m->kind, sizeof m->kind, "%s", tok[3]);
    if (!jb_marker_name_ok(tok[4])) return reject(why, whycap, "bad name");
    snprintf(m->name, sizeof m->name, "%s", tok[4]);
    return parse_tail(m, tok + 5, n - 5, why, whycap);
}
