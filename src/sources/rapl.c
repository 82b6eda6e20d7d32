/*
 * rapl.c — Intel and AMD RAPL energy through powercap
 * (/sys/class/powercap/intel-rapl:N[:M], ids in hex). Every zone and subzone
 * becomes an energy_counter channel in joules ("rapl/package-0",
 * "rapl/package-0/core", "rapl/psys"), accumulated across wraparound into a
 * 64-bit total.
 *
 * Wraparound: energy_uj runs from 0 to max_energy_range_uj and starts again at
 * 0, so one wrap adds (max_energy_range_uj + 1) µJ. At high power a wrap
 * comes within minutes; max_poll_ns() asks the sampler to read at least twice
 * per wrap period (assuming up to 1 kW per zone), whatever the interval.
 *
 * Headline roles: packages and DRAM add up (package excludes DRAM); core,
 * uncore and gpu subzones are parts of their package; when a psys zone exists
 * it covers the packages, so psys is the total and all else a part.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAPL_MAX_ZONES 64
#define RAPL_ASSUMED_MAX_W 1000.0

typedef struct rapl_zone {
    int fd;
    unsigned long long range_uj; /* max_energy_range_uj */
    unsigned long long last_uj;
    unsigned long long total_uj; /* 64-bit monotone since open */
} rapl_zone;

typedef struct rapl_state {
    int n;
    rapl_zone z[RAPL_MAX_ZONES];
    char buf[64];
} rapl_state;

typedef struct zone_info {
    char dir[64];   /* "intel-rapl:0:1" */
    char label[96]; /* "package-0/core" */
    bool sub, psys;
} zone_info;

static int read_ull(const char *root, const char *dir, const char *file, unsigned long long *v)
{
    char rel[256], buf[64];
    snprintf(rel, sizeof rel, "/sys/class/powercap/%s/%s", dir, file);
    if (jb_read_file(root, rel, buf, sizeof buf) < 0) return -1;
    const char *p = buf;
    if (*p < '0' || *p > '9') {
        errno = EINVAL;
        return -1;
    }
    *v = jb_parse_ull(&p);
    return 0;
}

static void read_name(const char *root, const char *dir, char *out, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "/sys/class/powercap/%s/name", dir);
    if (jb_read_file(root, rel, out, cap) < 0) snprintf(out, cap, "%s", dir);
    out[strcspn(out, "\n")] = 0;
}

static int cmp_zone(const void *a, const void *b)
{
    return strcmp(((const zone_info *)a)->dir, ((const zone_info *)b)->dir);
}

/* List intel-rapl zones (Intel and AMD both use this control type). */
static int list_zones(const char *root, zone_info *zi, int cap)
{
    char full[4096];
    jb_path(full, sizeof full, root, "/sys/class/powercap");
    DIR *d = opendir(full);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < cap) {
        if (strncmp(de->d_name, "intel-rapl:", 11)) continue;
        zone_info *z = &zi[n];
        snprintf(z->dir, sizeof z->dir, "%s", de->d_name);
        z->sub = strchr(de->d_name + 11, ':') != NULL;
        n++;
    }
    closedir(d);
    qsort(zi, (size_t)n, sizeof *zi, cmp_zone);
    /* Labels: subzones are prefixed by their parent's name. */
    for (int i = 0; i < n; i++) {
        char name[64];
        read_name(root, zi[i].dir, name, sizeof name);
        zi[i].psys = !strcmp(name, "psys");
        if (!zi[i].sub) {
            snprintf(zi[i].label, sizeof zi[i].label, "%s", name);
            continue;
        }
        char parent[64];
        snprintf(parent, sizeof parent, "%s", zi[i].dir);
        *strrchr(parent, ':') = 0;
        char pname[64];
        read_name(root, parent, pname, sizeof pname);
        snprintf(zi[i].label, sizeof zi[i].label, "%s/%s", pname, name);
    }
    return n;
}

static int rapl_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    zone_info zi[RAPL_MAX_ZONES];
    int n = list_zones(env->root, zi, RAPL_MAX_ZONES);
    if (n <= 0) {
        snprintf(reason, rcap, "no RAPL zones in /sys/class/powercap");
        snprintf(fix, fcap,
                 "needs an Intel (Sandy Bridge+) or AMD (Zen+) CPU with the "
                 "intel_rapl_common/intel_rapl_msr kernel modules loaded "
                 "(modprobe intel_rapl_msr); VMs usually do not expose RAPL");
        return 0;
    }
    unsigned long long v;
    if (read_ull(env->root, zi[0].dir, "energy_uj", &v) < 0) {
        if (errno == EACCES) {
            snprintf(reason, rcap,
                     "/sys/class/powercap/%s/energy_uj is readable by root only "
                     "(since CVE-2020-8694)",
                     zi[0].dir);
            snprintf(fix, fcap,
                     "run as root, or grant read access with a udev rule, e.g. "
                     "SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chmod "
                     "g+r /sys%%p/energy_uj\" plus a group, or a tmpfiles.d entry");
        } else {
            jb_src_explain_access("/sys/class/powercap/*/energy_uj", errno, reason, rcap, fix,
                                  fcap);
        }
        return 0;
    }
    return 1;
}

static int rapl_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    zone_info zi[RAPL_MAX_ZONES];
    int n = list_zones(env->root, zi, RAPL_MAX_ZONES);
    if (n <= 0) return jb_errf(err, "rapl: no zones under %s/sys/class/powercap", env->root);
    bool has_psys = false;
    for (int i = 0; i < n; i++)
        has_psys |= zi[i].psys;
    rapl_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "rapl: out of memory");
    for (int i = 0; i < n; i++) {
        rapl_zone *z = &s->z[s->n];
        char rel[256];
        if (read_ull(env->root, zi[i].dir, "max_energy_range_uj", &z->range_uj) < 0)
            z->range_uj = 0;
        snprintf(rel, sizeof rel, "/sys/class/powercap/%s/energy_uj", zi[i].dir);
        z->fd = jb_src_open_file(env, rel, err);
        if (z->fd < 0) {
            for (int k = 0; k < s->n; k++)
                close(s->z[k].fd);
            free(s);
            return -1;
        }
        if (jb_src_pread_all(z->fd, s->buf, sizeof s->buf) <= 0) {
            jb_errf(err, "%s%s: cannot read", env->root, rel);
            for (int k = 0; k <= s->n; k++)
                close(s->z[k].fd);
            free(s);
            return -1;
        }
        const char *p = s->buf;
        z->last_uj = jb_parse_ull(&p);
        char name[128];
        snprintf(name, sizeof name, "rapl/%s", zi[i].label);
        bool is_dram = strstr(zi[i].label, "dram") != NULL;
        jb_role role = has_psys ? (zi[i].psys ? JB_ROLE_TOTAL : JB_ROLE_PART)
                                : ((!zi[i].sub || is_dram) ? JB_ROLE_TOTAL : JB_ROLE_PART);
        int c = jb_channel_add(ch, name, "J", JB_KIND_ENERGY_COUNTER, role, false);
        if (c >= 0)
            snprintf(ch->ch[c].meta, sizeof ch->ch[c].meta,
                     "{\"zone\":\"%s\",\"max_energy_range_uj\":%llu}", zi[i].dir, z->range_uj);
        s->n++;
    }
    *state = s;
    return 0;
}

static int rapl_read(void *state, int64_t now_ns, double *v, uint8_t *ok)
{
    rapl_state *s = state;
    int good = 0;
    (void)now_ns;
    for (int i = 0; i < s->n; i++) {
        rapl_zone *z = &s->z[i];
        ok[i] = 0;
        if (jb_src_pread_all(z->fd, s->buf, sizeof s->buf) <= 0) continue;
        const char *p = s->buf;
        unsigned long long cur = jb_parse_ull(&p);
        if (cur >= z->last_uj)
            z->total_uj += cur - z->last_uj;
        else if (z->range_uj)
            z->total_uj += (z->range_uj - z->last_uj) + 1 + cur;
        z->last_uj = cur;
        v[i] = (double)z->total_uj * 1e-6;
        ok[i] = 1;
        good++;
    }
    return good ? 0 : -1;
}

static int64_t rapl_max_poll_ns(void *state)
{
    rapl_state *s = state;
    unsigned long long min_range = 0;
    for (int i = 0; i < s->n; i++)
        if (s->z[i].range_uj && (!min_range || s->z[i].range_uj < min_range))
            min_range = s->z[i].range_uj;
    if (!min_range) return 0;
    double wrap_s = (double)min_range * 1e-6 / RAPL_ASSUMED_MAX_W;
    return (int64_t)(wrap_s / 2 * 1e9);
}

static void rapl_close(void *state)
{
    rapl_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        close(s->z[i].fd);
    free(s);
}

const jb_source_driver jb_src_rapl = {
    .name = "rapl",
    .description = "CPU package/core/DRAM/psys energy from powercap RAPL (Intel, AMD)",
    .is_power = true,
    .in_default = true,
    .scope = JB_SCOPE_COMPONENT,
    .family = "cpu",
    .probe = rapl_probe,
    .open = rapl_open,
    .read = rapl_read,
    .close = rapl_close,
    .max_poll_ns = rapl_max_poll_ns,
};
