/*
 * estimate.c — a model, not a meter: CPU power = idle + (max − idle) ×
 * utilisation (from /proc/stat), plus optionally DRAM power = W per GiB ×
 * memory in use. Used only when no power source can be read. Every channel is
 * flagged estimated, and every figure derived from it is labelled so.
 *
 * Parameters (options estimate.KEY=VALUE, or a file given by estimate.config
 * or $JOULEBENCH_ESTIMATE_CONFIG with KEY=VALUE lines):
 *   idle_w         CPU power at 0 % (default 10 W)
 *   max_w          CPU power at 100 % of all cores (default 65 W, a common desktop TDP)
 *   dram_w_per_gib DRAM power per GiB in use (default 0 = no DRAM channel;
 *                  0.375 W/GiB is a commonly used figure)
 */
#include "source.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct est_state {
    int stat_fd, mem_fd;
    const char *root;
    double idle_w, max_w, dram_w_per_gib;
    unsigned long long prev_busy, prev_total;
    char buf[4096];
} est_state;

#define EST_DEFAULT_IDLE_W 10.0
#define EST_DEFAULT_MAX_W 65.0

static int read_busy_total(est_state *s, unsigned long long *busy, unsigned long long *total)
{
    if (jb_src_pread_shared(s->stat_fd, s->root, "/proc/stat", s->buf, sizeof s->buf) <= 0)
        return -1;
    if (strncmp(s->buf, "cpu ", 4)) return -1;
    jb_cpu_times t;
    jb_parse_cpu_times(s->buf + 4, &t);
    *busy = jb_cpu_busy(&t);
    *total = jb_cpu_total(&t);
    return 0;
}

static int config_value(const char *file, const char *key, double *out)
{
    char buf[4096];
    if (!file || jb_read_file(NULL, file, buf, sizeof buf) < 0) return -1;
    size_t kl = strlen(key);
    for (const char *p = buf; *p; p = jb_next_line(p)) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, kl) && (p[kl] == '=' || p[kl] == ' ')) {
            const char *v = strchr(p, '=');
            if (v) {
                *out = strtod(v + 1, NULL);
                return 0;
            }
        }
    }
    return -1;
}

/* Option beats config file beats default. Returns -1 on a bad value. */
static int param(const jb_source_env *env, const char *key, double def, double *out, jb_err *err)
{
    const char *file = jb_source_opt_get(env, "estimate", "config");
    if (!file) file = getenv("JOULEBENCH_ESTIMATE_CONFIG");
    *out = def;
    config_value(file, key, out);
    const char *v = jb_source_opt_get(env, "estimate", key);
    if (v) {
        char *end;
        *out = strtod(v, &end);
        if (end == v || *end) return jb_errf(err, "estimate.%s=%s: not a number", key, v);
    }
    if (!isfinite(*out) || *out < 0)
        return jb_errf(err, "estimate.%s: %g is not a valid non-negative number", key, *out);
    return 0;
}

static int est_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    char buf[256];
    if (jb_read_file(env->root, "/proc/stat", buf, sizeof buf) < 0) {
        jb_src_explain_access("/proc/stat", errno, reason, rcap, fix, fcap);
        return 0;
    }
    return 1;
}

static int est_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    est_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "estimate: out of memory");
    s->mem_fd = -1;
    s->root = env->root;
    if (param(env, "idle_w", EST_DEFAULT_IDLE_W, &s->idle_w, err) ||
        param(env, "max_w", EST_DEFAULT_MAX_W, &s->max_w, err) ||
        param(env, "dram_w_per_gib", 0, &s->dram_w_per_gib, err)) {
        free(s);
        return -1;
    }
    if (s->max_w < s->idle_w) {
        jb_errf(err,
                "estimate: max_w (%g) is below idle_w (%g); set "
                "estimate.max_w >= estimate.idle_w",
                s->max_w, s->idle_w);
        free(s);
        return -1;
    }
    s->stat_fd = jb_src_open_file(env, "/proc/stat", err);
    if (s->stat_fd < 0 || read_busy_total(s, &s->prev_busy, &s->prev_total)) {
        if (s->stat_fd >= 0) close(s->stat_fd);
        free(s);
        return jb_errf(err, "estimate: cannot read %s/proc/stat", env->root);
    }
    int c = jb_channel_add(ch, "estimate/cpu", "W", JB_KIND_POWER, JB_ROLE_TOTAL, true);
    snprintf(ch->ch[c].meta, sizeof ch->ch[c].meta,
             "{\"model\":\"idle+(max-idle)*util\",\"idle_w\":%g,\"max_w\":%g}", s->idle_w,
             s->max_w);
    if (s->dram_w_per_gib > 0) {
        s->mem_fd = jb_src_open_file(env, "/proc/meminfo", err);
        if (s->mem_fd < 0) {
            close(s->stat_fd);
            free(s);
            return -1;
        }
        c = jb_channel_add(ch, "estimate/dram", "W", JB_KIND_POWER, JB_ROLE_TOTAL, true);
        snprintf(ch->ch[c].meta, sizeof ch->ch[c].meta,
                 "{\"model\":\"w_per_gib*used\",\"dram_w_per_gib\":%g}", s->dram_w_per_gib);
    }
    *state = s;
    return 0;
}

static double mem_used_gib(est_state *s)
{
    if (jb_src_pread_shared(s->mem_fd, s->root, "/proc/meminfo", s->buf, sizeof s->buf) <= 0)
        return NAN;
    jb_meminfo m;
    jb_parse_meminfo(s->buf, &m);
    return (double)(m.total - m.available) / (1024.0 * 1024.0 * 1024.0);
}

static int est_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    est_state *s = state;
    unsigned long long busy, total;
    (void)now_ns;
    ok[0] = 0;
    if (read_busy_total(s, &busy, &total) == 0) {
        double dt = (double)(total - s->prev_total);
        double util = dt > 0 ? (double)(busy - s->prev_busy) / dt : 0;
        v[0] = s->idle_w + (s->max_w - s->idle_w) * util;
        ok[0] = 1;
        s->prev_busy = busy;
        s->prev_total = total;
    }
    if (s->mem_fd >= 0) {
        double gib = mem_used_gib(s);
        v[1] = s->dram_w_per_gib * gib;
        ok[1] = isfinite(gib);
    }
    return ok[0] ? 0 : -1;
}

static void est_close(void *state)
{
    est_state *s = state;
    if (!s) return;
    close(s->stat_fd);
    if (s->mem_fd >= 0) close(s->mem_fd);
    free(s);
}

const jb_source_driver jb_src_estimate = {
    .name = "estimate",
    .description = "ESTIMATED CPU (and DRAM) power from utilisation; used only when no meter "
                   "is readable",
    .is_power = true,
    .in_default = false,
    .scope = JB_SCOPE_COMPONENT,
    .family = "estimate",
    .probe = est_probe,
    .open = est_open,
    .read = est_read,
    .close = est_close,
};
