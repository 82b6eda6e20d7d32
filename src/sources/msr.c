/*
 * msr.c — RAPL energy counters read straight from the model-specific
 * registers (/dev/cpu/N/msr, pread at the register address; needs root or
 * CAP_SYS_RAWIO and the `msr` kernel module). Useful where powercap is absent
 * or locked down differently.
 *
 * Intel: unit register 0x606 (energy unit = 1/2^bits12:8 J); energy status
 * 0x611 package, 0x639 PP0 (cores), 0x641 PP1 (client GPU/uncore), 0x619
 * DRAM, 0x64D platform (psys). AMD family 17h/19h/1Ah and Hygon 18h: unit
 * 0xC0010299, per-core 0xC001029A (summed per package), package 0xC001029B.
 * Only bits 31:0 count. One CPU per package is read (topology from sysfs).
 *
 * Unit quirks (Linux arch/x86/events/rapl.c, drivers/powercap/
 * intel_rapl_common.c): DRAM uses a fixed 2^-16 J on Haswell-EP, Broadwell-EP/
 * DE, Skylake-X, Ice Lake-X/D and Xeon Phi (KNL/KNM); Sapphire Rapids and later
 * servers take the DRAM unit from 0x606 (which reports 2^-14 J = 61 µJ there)
 * and use a fixed 1 J psys unit.
 *
 * Each 32-bit counter is accumulated into a 64-bit total on every read (the
 * delta is taken modulo 2^32), so values are monotone joules since open().
 * max_poll_ns() returns half the shortest wrap period at MSR_ASSUMED_MAX_W.
 *
 * Roles: package and DRAM add up (TOTAL); cores, uncore and psys overlap the
 * package (PART) and are never summed into the headline.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSR_MAX_CPUS 4096
#define MSR_MAX_PKGS 64
#define MSR_MAX_COUNTERS 1024
#define MSR_MAX_CHANS 256
#define MSR_ASSUMED_MAX_W 1000.0 /* per counter, for the wrap period */

enum { VENDOR_NONE, VENDOR_INTEL, VENDOR_AMD };

typedef struct cpu_id {
    int vendor;
    unsigned family, model;
} cpu_id;

typedef struct msr_counter {
    int fd;
    uint32_t reg;
    uint32_t last;
    uint64_t total; /* accumulated counts */
} msr_counter;

typedef struct msr_chan {
    double unit_j;
    int first, n; /* counters summed into this channel */
} msr_chan;

typedef struct msr_state {
    int nfds;
    int fds[MSR_MAX_COUNTERS];
    int ncnt;
    msr_counter cnt[MSR_MAX_COUNTERS];
    int nch;
    msr_chan ch[MSR_MAX_CHANS];
} msr_state;

typedef struct topo_cpu {
    int cpu, pkg, core;
} topo_cpu;

/* ---- CPU identification and topology ---------------------------------- */

static unsigned cpuinfo_field(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);
    if (!p || !(p = strchr(p, ':'))) return 0;
    return (unsigned)strtoul(p + 1, NULL, 10);
}

static int read_cpu_id(const char *root, cpu_id *id)
{
    char buf[8192];
    memset(id, 0, sizeof *id);
    if (jb_read_file(root, "/proc/cpuinfo", buf, sizeof buf) < 0) return -1;
    if (strstr(buf, "GenuineIntel"))
        id->vendor = VENDOR_INTEL;
    else if (strstr(buf, "AuthenticAMD") || strstr(buf, "HygonGenuine"))
        id->vendor = VENDOR_AMD;
    id->family = cpuinfo_field(buf, "\ncpu family");
    id->model = cpuinfo_field(buf, "\nmodel\t");
    if (!id->model) id->model = cpuinfo_field(buf, "\nmodel ");
    return 0;
}

static bool amd_has_rapl(const cpu_id *id)
{
    return id->family == 0x17 || id->family == 0x18 || id->family == 0x19 || id->family == 0x1A;
}

/* Fixed 2^-16 J DRAM unit (Linux model_hsx / rapl_defaults_hsw_server). */
static bool intel_dram_fixed_unit(const cpu_id *id)
{
    static const unsigned models[] = {0x3F, 0x4F, 0x56, 0x55, 0x6A, 0x6C, 0x57, 0x85};
    if (id->family != 6) return false;
    for (unsigned i = 0; i < JB_ARRAY_LEN(models); i++)
        if (id->model == models[i]) return true;
    return false;
}

/* Sapphire Rapids and later servers: fixed 1 J psys unit. */
static bool intel_psys_1j(const cpu_id *id)
{
    static const unsigned models[] = {0x8F, 0xCF, 0xAD, 0xAE, 0xAF};
    if (id->family != 6) return false;
    for (unsigned i = 0; i < JB_ARRAY_LEN(models); i++)
        if (id->model == models[i]) return true;
    return false;
}

static int topo_value(const char *root, int cpu, const char *file)
{
    char path[256], buf[32];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, file);
    if (jb_read_file(root, path, buf, sizeof buf) <= 0) return -1;
    return atoi(buf);
}

static int cmp_cpu(const void *a, const void *b)
{
    return ((const topo_cpu *)a)->cpu - ((const topo_cpu *)b)->cpu;
}

/* All CPUs with their package and core ids, sorted by CPU number. A machine
 * without topology files counts as one package with CPU 0. */
static int read_topology(const char *root, topo_cpu *out, int cap)
{
    char dir[4096];
    jb_path(dir, sizeof dir, root, "/sys/devices/system/cpu");
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap) {
        int cpu;
        char extra;
        if (sscanf(e->d_name, "cpu%d%c", &cpu, &extra) != 1 || cpu < 0) continue;
        int pkg = topo_value(root, cpu, "physical_package_id");
        if (pkg < 0) continue;
        out[n].cpu = cpu;
        out[n].pkg = pkg;
        out[n].core = topo_value(root, cpu, "core_id");
        n++;
    }
    if (d) closedir(d);
    if (n == 0) {
        out[0] = (topo_cpu){0, 0, 0};
        n = 1;
    }
    qsort(out, (size_t)n, sizeof *out, cmp_cpu);
    return n;
}

/* ---- register access ---------------------------------------------------- */

static int msr_read(int fd, uint32_t reg, uint64_t *v)
{
    uint8_t b[8];
    if (pread(fd, b, sizeof b, (off_t)reg) != (ssize_t)sizeof b) return -1;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | b[i]; /* little-endian */
    *v = x;
    return 0;
}

static int open_msr(const char *root, int cpu, int *err_no)
{
    char rel[64], path[4096];
    snprintf(rel, sizeof rel, "/dev/cpu/%d/msr", cpu);
    jb_path(path, sizeof path, root, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && err_no) *err_no = errno;
    return fd;
}

/* ---- building the channel set ----------------------------------------- */

typedef struct builder {
    msr_state *s;
    jb_channel_list *chans;
    cpu_id id;
    double energy_unit;
} builder;

static int add_counter(msr_state *s, int fd, uint32_t reg)
{
    uint64_t v;
    if (s->ncnt >= MSR_MAX_COUNTERS || msr_read(fd, reg, &v) < 0) return -1;
    msr_counter *c = &s->cnt[s->ncnt++];
    c->fd = fd;
    c->reg = reg;
    c->last = (uint32_t)v;
    c->total = 0;
    return 0;
}

static void add_channel(builder *b, const char *name, jb_role role, double unit, int first,
                        uint32_t reg, int cpu)
{
    msr_state *s = b->s;
    if (s->nch >= MSR_MAX_CHANS || s->ncnt == first) return;
    int idx = jb_channel_add(b->chans, name, "J", JB_KIND_ENERGY_COUNTER, role, false);
    if (idx < 0) {
        s->ncnt = first;
        return;
    }
    snprintf(b->chans->ch[idx].meta, sizeof b->chans->ch[idx].meta,
             "{\"msr\":\"0x%X\",\"cpu\":%d,\"unit_j\":%.10g,\"counters\":%d}", reg, cpu, unit,
             s->ncnt - first);
    s->ch[s->nch++] = (msr_chan){unit, first, s->ncnt - first};
}

/* One Intel domain on one package: skipped when the register cannot be read
 * (unsupported MSRs fail with EIO) and, for psys, when it reads 0. */
static void intel_domain(builder *b, int fd, int cpu, uint32_t reg, const char *name, jb_role role,
                         double unit)
{
    uint64_t v;
    if (msr_read(fd, reg, &v) < 0) return;
    if (reg == 0x64D && (uint32_t)v == 0) return;
    int first = b->s->ncnt;
    if (add_counter(b->s, fd, reg) == 0) add_channel(b, name, role, unit, first, reg, cpu);
}

static void build_intel(builder *b, int fd, int cpu, int pkg)
{
    char name[64];
    double u = b->energy_unit;
    double dram = intel_dram_fixed_unit(&b->id) ? 1.0 / 65536.0 : u;
    snprintf(name, sizeof name, "msr/package-%d", pkg);
    intel_domain(b, fd, cpu, 0x611, name, JB_ROLE_TOTAL, u);
    snprintf(name, sizeof name, "msr/core-%d", pkg);
    intel_domain(b, fd, cpu, 0x639, name, JB_ROLE_PART, u);
    snprintf(name, sizeof name, "msr/uncore-%d", pkg);
    intel_domain(b, fd, cpu, 0x641, name, JB_ROLE_PART, u);
    snprintf(name, sizeof name, "msr/dram-%d", pkg);
    intel_domain(b, fd, cpu, 0x619, name, JB_ROLE_TOTAL, dram);
    if (pkg == 0) /* psys is one platform-wide counter */
        intel_domain(b, fd, cpu, 0x64D, "msr/psys", JB_ROLE_PART, intel_psys_1j(&b->id) ? 1.0 : u);
}

/* AMD: package counter plus the sum of one per-core counter per physical
 * core (SMT siblings share it and are read once). */
static void build_amd(builder *b, const char *root, int fd, int cpu, int pkg, const topo_cpu *topo,
                      int ntopo)
{
    char name[64];
    msr_state *s = b->s;
    snprintf(name, sizeof name, "msr/package-%d", pkg);
    int first = s->ncnt;
    if (add_counter(s, fd, 0xC001029B) == 0)
        add_channel(b, name, JB_ROLE_TOTAL, b->energy_unit, first, 0xC001029B, cpu);
    first = s->ncnt;
    for (int i = 0; i < ntopo; i++) {
        if (topo[i].pkg != pkg) continue;
        bool seen = false;
        for (int j = 0; j < i; j++)
            if (topo[j].pkg == pkg && topo[j].core == topo[i].core) seen = true;
        if (seen || s->nfds >= MSR_MAX_COUNTERS) continue;
        int cfd = topo[i].cpu == cpu ? fd : open_msr(root, topo[i].cpu, NULL);
        if (cfd < 0) continue;
        if (cfd != fd) s->fds[s->nfds++] = cfd;
        if (add_counter(s, cfd, 0xC001029A) < 0) {
            s->ncnt = first; /* a core we cannot read: drop the whole sum */
            break;
        }
    }
    snprintf(name, sizeof name, "msr/core-%d", pkg);
    add_channel(b, name, JB_ROLE_PART, b->energy_unit, first, 0xC001029A, cpu);
}

static void msr_close(void *state)
{
    msr_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    free(s);
}

static int unit_register(const cpu_id *id)
{
    return id->vendor == VENDOR_AMD ? (int)0xC0010299 : 0x606;
}

static int msr_open(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err)
{
    cpu_id id;
    if (read_cpu_id(env->root, &id) < 0 || id.vendor == VENDOR_NONE ||
        (id.vendor == VENDOR_AMD && !amd_has_rapl(&id)))
        return jb_errf(err,
                       "msr: %s/proc/cpuinfo: not an Intel or AMD (family 17h+) CPU with "
                       "RAPL; use another power source",
                       env->root);
    topo_cpu *topo = calloc(MSR_MAX_CPUS, sizeof *topo);
    msr_state *s = calloc(1, sizeof *s);
    if (!s || !topo) {
        free(topo);
        free(s);
        return jb_errf(err, "msr: out of memory");
    }
    int ntopo = read_topology(env->root, topo, MSR_MAX_CPUS);
    builder b = {.s = s, .chans = chans, .id = id};
    int done_pkgs[MSR_MAX_PKGS], npkgs = 0, first_errno = 0;
    for (int i = 0; i < ntopo && npkgs < MSR_MAX_PKGS; i++) {
        bool seen = false;
        for (int j = 0; j < npkgs; j++)
            seen |= done_pkgs[j] == topo[i].pkg;
        if (seen) continue;
        done_pkgs[npkgs++] = topo[i].pkg;
        int fd = open_msr(env->root, topo[i].cpu, &first_errno);
        if (fd < 0) continue;
        s->fds[s->nfds++] = fd;
        uint64_t units;
        if (msr_read(fd, (uint32_t)unit_register(&id), &units) < 0) continue;
        b.energy_unit = 1.0 / (double)(1ULL << ((units >> 8) & 0x1F));
        if (id.vendor == VENDOR_INTEL)
            build_intel(&b, fd, topo[i].cpu, topo[i].pkg);
        else
            build_amd(&b, env->root, fd, topo[i].cpu, topo[i].pkg, topo, ntopo);
    }
    int cpu0 = topo[0].cpu;
    free(topo);
    if (s->nch == 0) {
        msr_close(s);
        return jb_errf(err,
                       "msr: %s/dev/cpu/%d/msr: no readable RAPL register (%s); load the "
                       "msr module (modprobe msr) and run as root or with CAP_SYS_RAWIO",
                       env->root, cpu0, first_errno ? strerror(first_errno) : "EIO");
    }
    *state = s;
    return 0;
}

static int msr_read_values(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    msr_state *s = state;
    int good = 0;
    (void)now_ns;
    for (int c = 0; c < s->nch; c++) {
        msr_chan *ch = &s->ch[c];
        uint64_t sum = 0;
        ok[c] = 1;
        for (int i = ch->first; i < ch->first + ch->n; i++) {
            msr_counter *k = &s->cnt[i];
            uint64_t v;
            if (msr_read(k->fd, k->reg, &v) < 0) {
                ok[c] = 0;
                continue;
            }
            k->total += (uint32_t)((uint32_t)v - k->last); /* modulo 2^32: one wrap */
            k->last = (uint32_t)v;
            sum += k->total;
        }
        values[c] = (double)sum * ch->unit_j;
        good += ok[c];
    }
    return good ? 0 : -1;
}

static int64_t msr_max_poll_ns(void *state)
{
    msr_state *s = state;
    double shortest = 0;
    for (int c = 0; c < s->nch; c++) {
        double wrap_s = 4294967296.0 * s->ch[c].unit_j / MSR_ASSUMED_MAX_W;
        if (shortest == 0 || wrap_s < shortest) shortest = wrap_s;
    }
    return (int64_t)(shortest / 2 * 1e9);
}

static int msr_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    cpu_id id;
    if (read_cpu_id(env->root, &id) < 0) {
        jb_src_explain_access("/proc/cpuinfo", errno, reason, rcap, fix, fcap);
        return 0;
    }
    if (id.vendor == VENDOR_NONE || (id.vendor == VENDOR_AMD && !amd_has_rapl(&id))) {
        snprintf(reason, rcap, "CPU is not Intel or AMD family 17h+/Hygon: no RAPL MSRs");
        snprintf(fix, fcap, "use a wall meter (modbus, command) or the estimate source");
        return 0;
    }
    int e = 0;
    int fd = open_msr(env->root, 0, &e);
    if (fd < 0) {
        snprintf(reason, rcap, "/dev/cpu/0/msr: %s", strerror(e));
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            snprintf(fix, fcap,
                     "load the msr module: sudo modprobe msr (add msr to "
                     "/etc/modules-load.d to keep it)");
        else
            snprintf(fix, fcap,
                     "run as root, or give joulebench CAP_SYS_RAWIO "
                     "(sudo setcap cap_sys_rawio=ep joulebench) and read access to "
                     "/dev/cpu/*/msr");
        return 0;
    }
    uint64_t v;
    int rc = msr_read(fd, (uint32_t)unit_register(&id), &v);
    e = errno;
    close(fd);
    if (rc < 0) {
        snprintf(reason, rcap, "/dev/cpu/0/msr: RAPL unit register 0x%X unreadable (%s)",
                 (unsigned)unit_register(&id), strerror(e));
        snprintf(fix, fcap,
                 "this CPU or hypervisor does not expose RAPL MSRs; try the rapl "
                 "(powercap) or perf source, or a wall meter");
        return 0;
    }
    return 1;
}

const jb_source_driver jb_src_msr = {
    .name = "msr",
    .description = "RAPL energy counters from /dev/cpu/N/msr (Intel and AMD; root)",
    .is_power = true,
    .in_default = true,
    .scope = JB_SCOPE_COMPONENT,
    .family = "cpu",
    .probe = msr_probe,
    .open = msr_open,
    .read = msr_read_values,
    .close = msr_close,
    .max_poll_ns = msr_max_poll_ns,
};
