/*
 * cpu.c — system CPU utilisation from /proc/stat: total, user, system and
 * iowait as % of all cores over each sampling interval (gauges), optionally
 * one "cpu/coreN" channel per core (option cpu.per_core=1).
 *
 * /proc/stat counts USER_HZ ticks (10 ms), so a % over a 10 ms window is
 * coarse (steps of 100 %/cores); means over a run are exact.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_MAX_CORES 128

typedef struct cpu_state {
    int fd;
    const char *root;
    bool per_core;
    int ncores;
    jb_cpu_times prev_all, prev_core[CPU_MAX_CORES];
    char buf[65536];
} cpu_state;

/* Reads /proc/stat into all (and per-core times when cores is not NULL);
 * returns cores seen or -1. */
static int read_stat(cpu_state *s, jb_cpu_times *all, jb_cpu_times *cores)
{
    if (jb_src_pread_shared(s->fd, s->root, "/proc/stat", s->buf, sizeof s->buf) <= 0) return -1;
    const char *p = s->buf;
    if (strncmp(p, "cpu ", 4)) return -1;
    p = jb_parse_cpu_times(p + 4, all);
    int n = 0;
    while (cores && !strncmp(p, "cpu", 3) && p[3] >= '0' && p[3] <= '9' && n < CPU_MAX_CORES) {
        p += 3;
        jb_parse_ull(&p); /* core number */
        p = jb_parse_cpu_times(p, &cores[n++]);
    }
    return n;
}

static double pct(unsigned long long part, unsigned long long total)
{
    return total ? 100.0 * (double)part / (double)total : 0.0;
}

static int cpu_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    char buf[256];
    if (jb_read_file(env->root, "/proc/stat", buf, sizeof buf) < 0 || strncmp(buf, "cpu ", 4)) {
        jb_src_explain_access("/proc/stat", errno ? errno : EINVAL, reason, rcap, fix, fcap);
        return 0;
    }
    return 1;
}

static int cpu_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "cpu: out of memory");
    s->fd = jb_src_open_file(env, "/proc/stat", err);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    const char *pc = jb_source_opt_get(env, "cpu", "per_core");
    s->per_core = pc && strcmp(pc, "0") && strcmp(pc, "false");
    s->root = env->root;
    s->ncores = read_stat(s, &s->prev_all, s->prev_core);
    if (s->ncores < 0) {
        close(s->fd);
        free(s);
        return jb_errf(err, "%s/proc/stat: unexpected format (no 'cpu ' line)", env->root);
    }
    jb_channel_add(ch, "cpu/total", "%", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "cpu/user", "%", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "cpu/system", "%", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "cpu/iowait", "%", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    if (s->per_core)
        for (int i = 0; i < s->ncores; i++) {
            char name[32];
            snprintf(name, sizeof name, "cpu/core%d", i);
            jb_channel_add(ch, name, "%", JB_KIND_GAUGE, JB_ROLE_NONE, false);
        }
    *state = s;
    return 0;
}

static int cpu_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    cpu_state *s = state;
    jb_cpu_times all, cores[CPU_MAX_CORES];
    int n = read_stat(s, &all, s->per_core ? cores : NULL);
    int nch = 4 + (s->per_core ? s->ncores : 0);
    if (n < 0) {
        memset(ok, 0, (size_t)nch);
        return -1;
    }
    unsigned long long db = jb_cpu_busy(&all) - jb_cpu_busy(&s->prev_all);
    unsigned long long total = jb_cpu_total(&all) - jb_cpu_total(&s->prev_all);
    v[0] = pct(db, total);
    v[1] = pct((all.user + all.nice) - (s->prev_all.user + s->prev_all.nice), total);
    v[2] = pct((all.system + all.irq + all.softirq) -
                   (s->prev_all.system + s->prev_all.irq + s->prev_all.softirq),
               total);
    v[3] = pct(all.iowait - s->prev_all.iowait, total);
    memset(ok, 1, 4);
    s->prev_all = all;
    if (s->per_core)
        for (int i = 0; i < s->ncores; i++) {
            jb_cpu_times *c = &cores[i], *p = &s->prev_core[i];
            ok[4 + i] = i < n;
            if (i >= n) continue;
            v[4 + i] = pct(jb_cpu_busy(c) - jb_cpu_busy(p), jb_cpu_total(c) - jb_cpu_total(p));
            *p = *c;
        }
    (void)now_ns;
    return 0;
}

static void cpu_close(void *state)
{
    cpu_state *s = state;
    if (!s) return;
    close(s->fd);
    free(s);
}

const jb_source_driver jb_src_cpu = {
    .name = "cpu",
    .description = "system CPU utilisation from /proc/stat (total, user, system, iowait)",
    .in_default = true,
    .probe = cpu_probe,
    .open = cpu_open,
    .read = cpu_read,
    .close = cpu_close,
};
