/*
 * perf.c — RAPL energy through the perf `power` PMU (perf_event_open). The
 * kernel keeps a 64-bit count, so no wrap handling is needed here.
 *
 * Discovery is pure sysfs under env->root: the PMU type id from
 * /sys/bus/event_source/devices/power/type, events from .../events/energy-*
 * ("event=0x02"), their .scale (2^-32 J) and .unit ("Joules"), and the CPUs to
 * open on from .../power/cpumask (one CPU per package; "0" or "0,28"). One
 * counter per event and package, pid = -1 (system-wide), which needs root,
 * CAP_PERFMON or kernel.perf_event_paranoid <= 0.
 *
 * The syscall goes through jb_perf_event_open_hook so tests can stand in for
 * the kernel; production code never changes it.
 *
 * Roles as for RAPL: pkg and ram add up (TOTAL); cores, gpu and psys overlap
 * the package (PART).
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PERF_PMU "/sys/bus/event_source/devices/power"
#define PERF_MAX_EVENTS 8
#define PERF_MAX_PKGS 64

static long sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                                unsigned long flags)
{
    return syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

long (*jb_perf_event_open_hook)(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                                unsigned long flags) = sys_perf_event_open;

typedef struct perf_event_def {
    char name[32]; /* "energy-pkg" */
    uint64_t config;
    double scale;
} perf_event_def;

typedef struct perf_pmu {
    int type;
    int nev;
    perf_event_def ev[PERF_MAX_EVENTS];
    int ncpu;
    int cpus[PERF_MAX_PKGS];
} perf_pmu;

typedef struct perf_state {
    int n;
    int fds[PERF_MAX_EVENTS * PERF_MAX_PKGS];
    double scale[PERF_MAX_EVENTS * PERF_MAX_PKGS];
} perf_state;

/* "event=0x02" (possibly with other comma-separated terms we do not need).
 * Returns 0 and the config, or -1 for text that is not an event spec. */
int jb_perf_parse_event(const char *text, uint64_t *config)
{
    const char *p = strstr(text, "event=");
    if (!p || (p != text && p[-1] != ',')) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 6, &end, 0);
    if (end == p + 6 || errno) return -1;
    if (*end && *end != ',' && *end != '\n' && *end != ' ') return -1;
    *config = v;
    return 0;
}

/* "0,28" or "0-1,4" → the first CPU of each listed range. */
static int parse_cpumask(const char *s, int *cpus, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0) break;
        cpus[n++] = (int)v;
        s = end;
        if (*s == '-') { /* a range means several packages only in one case: skip the rest */
            strtol(s + 1, &end, 10);
            s = end;
        }
        if (*s != ',') break;
        s++;
    }
    return n;
}

static int read_attr(const char *root, const char *rel, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, PERF_PMU "/%s", rel);
    ssize_t n = jb_read_file(root, path, buf, cap);
    if (n < 0) return -1;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    return strcmp(((const perf_event_def *)a)->name, ((const perf_event_def *)b)->name);
}

/* Read the PMU description from sysfs. -1 with errno when there is none. */
static int scan_pmu(const char *root, perf_pmu *pmu)
{
    char buf[256], dir[4096];
    memset(pmu, 0, sizeof *pmu);
    if (read_attr(root, "type", buf, sizeof buf) < 0) return -1;
    pmu->type = atoi(buf);
    jb_path(dir, sizeof dir, root, PERF_PMU "/events");
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) && pmu->nev < PERF_MAX_EVENTS) {
        if (strncmp(e->d_name, "energy-", 7) || strchr(e->d_name, '.') ||
            strlen(e->d_name) >= sizeof pmu->ev[0].name)
            continue;
        perf_event_def *ev = &pmu->ev[pmu->nev];
        char rel[128];
        snprintf(rel, sizeof rel, "events/%s", e->d_name);
        if (read_attr(root, rel, buf, sizeof buf) < 0 || jb_perf_parse_event(buf, &ev->config))
            continue;
        snprintf(rel, sizeof rel, "events/%s.scale", e->d_name);
        ev->scale = read_attr(root, rel, buf, sizeof buf) == 0 ? strtod(buf, NULL) : 0;
        if (!(ev->scale > 0 && ev->scale < 1)) ev->scale = 0x1p-32; /* kernel's fixed unit */
        snprintf(rel, sizeof rel, "events/%s.unit", e->d_name);
        if (read_attr(root, rel, buf, sizeof buf) == 0 && strcmp(buf, "Joules")) continue;
        snprintf(ev->name, sizeof ev->name, "%s", e->d_name);
        pmu->nev++;
    }
    closedir(d);
    qsort(pmu->ev, (size_t)pmu->nev, sizeof pmu->ev[0], cmp_event);
    if (read_attr(root, "cpumask", buf, sizeof buf) == 0)
        pmu->ncpu = parse_cpumask(buf, pmu->cpus, PERF_MAX_PKGS);
    if (pmu->ncpu == 0) pmu->cpus[pmu->ncpu++] = 0;
    return 0;
}

/* energy-pkg → "package", with its role; unknown events keep their name. */
static const char *domain_of(const char *event, jb_role *role)
{
    static const struct {
        const char *event, *domain;
        jb_role role;
    } map[] = {
        {"energy-pkg", "package", JB_ROLE_TOTAL}, {"energy-ram", "dram", JB_ROLE_TOTAL},
        {"energy-cores", "core", JB_ROLE_PART},   {"energy-gpu", "uncore", JB_ROLE_PART},
        {"energy-psys", "psys", JB_ROLE_PART},
    };
    for (unsigned i = 0; i < JB_ARRAY_LEN(map); i++)
        if (!strcmp(event, map[i].event)) {
            *role = map[i].role;
            return map[i].domain;
        }
    *role = JB_ROLE_PART;
    return event + 7;
}

static int open_counter(const perf_pmu *pmu, const perf_event_def *ev, int cpu)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = (uint32_t)pmu->type;
    attr.config = ev->config;
    return (int)jb_perf_event_open_hook(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static void explain_denied(const char *root, int errnum, char *reason, size_t rcap, char *fix,
                           size_t fcap)
{
    char buf[32] = "?";
    if (jb_read_file(root, "/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf) > 0)
        buf[strcspn(buf, "\n")] = 0;
    snprintf(reason, rcap,
             "perf_event_open on the power PMU failed: %s "
             "(kernel.perf_event_paranoid = %s)",
             strerror(errnum), buf);
    if (errnum == EACCES || errnum == EPERM)
        snprintf(fix, fcap,
                 "system-wide counters need root, CAP_PERFMON (sudo setcap "
                 "cap_perfmon=ep joulebench) or sudo sysctl "
                 "kernel.perf_event_paranoid=0");
    else
        snprintf(fix, fcap,
                 "the power PMU exists but refused the event: try the rapl or msr "
                 "source");
}

static void perf_close(void *state)
{
    perf_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        close(s->fds[i]);
    free(s);
}

static int perf_open(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err)
{
    perf_pmu pmu;
    if (scan_pmu(env->root, &pmu) < 0 || pmu.nev == 0)
        return jb_errf(err,
                       "perf: %s" PERF_PMU ": no RAPL power PMU with energy events; use the "
                       "rapl or msr source",
                       env->root);
    perf_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "perf: out of memory");
    for (int e = 0; e < pmu.nev; e++)
        for (int p = 0; p < pmu.ncpu; p++) {
            const perf_event_def *ev = &pmu.ev[e];
            jb_role role;
            const char *dom = domain_of(ev->name, &role);
            if (!strcmp(dom, "psys") && p > 0) continue; /* one platform counter */
            int fd = open_counter(&pmu, ev, pmu.cpus[p]);
            if (fd < 0) {
                int e2 = errno;
                char reason[256], fix[256];
                explain_denied(env->root, e2, reason, sizeof reason, fix, sizeof fix);
                perf_close(s);
                return jb_errf(err, "perf: %s (%s on cpu %d): %s", reason, ev->name, pmu.cpus[p],
                               fix);
            }
            char name[64];
            if (!strcmp(dom, "psys"))
                snprintf(name, sizeof name, "perf/psys");
            else
                snprintf(name, sizeof name, "perf/%s-%d", dom, p);
            int idx = jb_channel_add(chans, name, "J", JB_KIND_ENERGY_COUNTER, role, false);
            if (idx < 0) {
                close(fd);
                continue;
            }
            snprintf(chans->ch[idx].meta, sizeof chans->ch[idx].meta,
                     "{\"event\":\"%s\",\"config\":%llu,\"cpu\":%d,\"scale\":%.17g}", ev->name,
                     (unsigned long long)ev->config, pmu.cpus[p], ev->scale);
            s->fds[s->n] = fd;
            s->scale[s->n++] = ev->scale;
        }
    *state = s;
    return 0;
}

static int perf_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    perf_state *s = state;
    int good = 0;
    (void)now_ns;
    for (int i = 0; i < s->n; i++) {
        uint64_t count;
        ok[i] = read(s->fds[i], &count, sizeof count) == (ssize_t)sizeof count;
        if (ok[i]) values[i] = (double)count * s->scale[i];
        good += ok[i];
    }
    return good ? 0 : -1;
}

static int perf_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    perf_pmu pmu;
    int found = scan_pmu(env->root, &pmu) == 0;
    if (!found || pmu.nev == 0) {
        snprintf(reason, rcap, PERF_PMU ": %s",
                 found ? "the power PMU lists no energy-* events" : "no RAPL power PMU");
        snprintf(fix, fcap,
                 "this CPU, kernel or VM does not expose RAPL to perf "
                 "(CONFIG_PERF_EVENTS_INTEL_RAPL; VMs usually hide it): use a wall "
                 "meter (modbus, command) or the estimate source");
        return 0;
    }
    int fd = open_counter(&pmu, &pmu.ev[0], pmu.cpus[0]);
    if (fd < 0) {
        explain_denied(env->root, errno, reason, rcap, fix, fcap);
        return 0;
    }
    close(fd);
    return 1;
}

const jb_source_driver jb_src_perf = {
    .name = "perf",
    .description = "RAPL energy through the perf power PMU (energy-pkg, -cores, -ram, -psys)",
    .is_power = true,
    .in_default = true,
    .scope = JB_SCOPE_COMPONENT,
    .family = "cpu",
    .probe = perf_probe,
    .open = perf_open,
    .read = perf_read,
    .close = perf_close,
};
