/*
 * hwmon.c — power and energy sensors from /sys/class/hwmon/hwmon<K>/:
 * power<N>_input (µW; power<N>_average where a driver such as acpi_power_meter
 * has no _input) become power channels in W, energy<N>_input (µJ, 64-bit)
 * become energy counters in J. Channels are named
 * "hwmon/<name>/<label>" from the device's `name` file and power<N>_label
 * (spaces turned into '_'; "power1" when there is no label); a second device
 * with the same name gets "-hwmon<K>" appended.
 *
 * Files are opened once and re-read with pread. An energy counter that goes
 * backwards (driver reload, 32-bit firmware counter) is accumulated so the
 * channel stays monotone.
 *
 * Roles: hwmon sensors overlap in ways only the user knows (a board sensor,
 * the GPU, the CPU socket), so every channel is JB_ROLE_PART unless named in
 * option hwmon.total (comma-separated channel names, e.g.
 * "hwmon/amdgpu/PPT,hwmon/power_meter/power1"); those are summed.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HWMON_MAX 128
#define HWMON_DIR "/sys/class/hwmon"

typedef struct hwmon_chan {
    int fd;
    bool energy;
    uint64_t last, offset; /* energy: raw µJ and accumulated resets */
} hwmon_chan;

typedef struct hwmon_state {
    int n;
    hwmon_chan ch[HWMON_MAX];
} hwmon_state;

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            *s = '_';
}

/* A sensor file name "power1_input" → type "power", index 1, kind "input". */
static bool parse_sensor(const char *f, const char *type, int *index, const char **kind)
{
    size_t tl = strlen(type);
    if (strncmp(f, type, tl) || f[tl] < '0' || f[tl] > '9') return false;
    char *end;
    long i = strtol(f + tl, &end, 10);
    if (*end != '_' || i < 0 || i > 9999) return false;
    *index = (int)i;
    *kind = end + 1;
    return true;
}

static int read_value(int fd, unsigned long long *v)
{
    char buf[48], *end;
    if (jb_src_pread_all(fd, buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9') return -1;
    errno = 0;
    *v = strtoull(buf, &end, 10);
    return (errno == 0 && (*end == 0 || *end == '\n')) ? 0 : -1;
}

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n)) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

typedef struct scan_ctx {
    const jb_source_env *env;
    hwmon_state *s; /* NULL: only count */
    jb_channel_list *chans;
    int found;
} scan_ctx;

static bool has_file(const char *dir, const char *file)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

static void add_sensor(scan_ctx *c, const char *dev, const char *devdir, const char *devname,
                       const char *type, int index, const char *file)
{
    c->found++;
    if (!c->s || c->s->n >= HWMON_MAX) return;
    char rel[512], label[64], name[64];
    snprintf(rel, sizeof rel, HWMON_DIR "/%s/%s%d_label", dev, type, index);
    if (jb_read_file(c->env->root, rel, label, sizeof label) > 0)
        trim(label);
    else
        snprintf(label, sizeof label, "%s%d", type, index);
    sanitize(label);
    snprintf(name, sizeof name, "hwmon/%s/%s", devname, label);
    for (int i = 0; i < c->chans->n; i++)
        if (!strcmp(c->chans->ch[i].name, name)) {
            snprintf(name, sizeof name, "hwmon/%s/%s-%s", devname, label, dev);
            break;
        }
    snprintf(rel, sizeof rel, HWMON_DIR "/%s/%s", dev, file);
    int fd = jb_src_open_file(c->env, rel, NULL);
    if (fd < 0) return;
    bool energy = !strcmp(type, "energy");
    const char *total = jb_source_opt_get(c->env, "hwmon", "total");
    int idx = jb_channel_add(c->chans, name, energy ? "J" : "W",
                             energy ? JB_KIND_ENERGY_COUNTER : JB_KIND_POWER,
                             in_list(total, name) ? JB_ROLE_TOTAL : JB_ROLE_PART, false);
    if (idx < 0) {
        close(fd);
        return;
    }
    snprintf(c->chans->ch[idx].meta, sizeof c->chans->ch[idx].meta,
             "{\"path\":\"%s/%s\",\"device\":\"%s\"}", devdir, file, devname);
    hwmon_chan *h = &c->s->ch[c->s->n++];
    *h = (hwmon_chan){.fd = fd, .energy = energy};
    unsigned long long v;
    if (energy && read_value(fd, &v) == 0) h->last = v;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of one hwmon device in name order, so channel order is stable. */
static void scan_device(scan_ctx *c, const char *dev)
{
    char devdir[4096], rel[512], devname[64];
    snprintf(rel, sizeof rel, HWMON_DIR "/%s", dev);
    jb_path(devdir, sizeof devdir, c->env->root, rel);
    snprintf(rel, sizeof rel, HWMON_DIR "/%s/name", dev);
    if (jb_read_file(c->env->root, rel, devname, sizeof devname) > 0)
        trim(devname);
    else
        snprintf(devname, sizeof devname, "%s", dev);
    sanitize(devname);
    DIR *d = opendir(devdir);
    if (!d) return;
    char *files[512];
    int nf = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nf < 512)
        files[nf++] = strdup(e->d_name);
    closedir(d);
    qsort(files, (size_t)nf, sizeof files[0], cmp_str);
    for (int i = 0; i < nf; i++) {
        int index;
        const char *kind;
        if (!files[i]) continue;
        if (parse_sensor(files[i], "power", &index, &kind)) {
            char input[64];
            snprintf(input, sizeof input, "power%d_input", index);
            if (!strcmp(kind, "input") || (!strcmp(kind, "average") && !has_file(devdir, input)))
                add_sensor(c, dev, devdir, devname, "power", index, files[i]);
        } else if (parse_sensor(files[i], "energy", &index, &kind) && !strcmp(kind, "input")) {
            add_sensor(c, dev, devdir, devname, "energy", index, files[i]);
        }
    }
    for (int i = 0; i < nf; i++)
        free(files[i]);
}

static int scan(scan_ctx *c)
{
    char dir[4096];
    jb_path(dir, sizeof dir, c->env->root, HWMON_DIR);
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *devs[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (!strncmp(e->d_name, "hwmon", 5)) devs[n++] = strdup(e->d_name);
    closedir(d);
    qsort(devs, (size_t)n, sizeof devs[0], cmp_str);
    for (int i = 0; i < n; i++) {
        if (devs[i]) scan_device(c, devs[i]);
        free(devs[i]);
    }
    return 0;
}

static void hwmon_close(void *state)
{
    hwmon_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        close(s->ch[i].fd);
    free(s);
}

static int hwmon_open(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err)
{
    hwmon_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "hwmon: out of memory");
    scan_ctx c = {.env = env, .s = s, .chans = chans};
    if (scan(&c) < 0 || s->n == 0) {
        hwmon_close(s);
        return jb_errf(err,
                       "hwmon: %s" HWMON_DIR ": no readable power*_input or energy*_input "
                       "sensor; use another power source",
                       env->root);
    }
    *state = s;
    return 0;
}

static int hwmon_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    hwmon_state *s = state;
    int good = 0;
    (void)now_ns;
    for (int i = 0; i < s->n; i++) {
        hwmon_chan *h = &s->ch[i];
        unsigned long long v;
        ok[i] = read_value(h->fd, &v) == 0;
        if (!ok[i]) continue;
        good++;
        if (!h->energy) {
            values[i] = (double)v / 1e6;
            continue;
        }
        if (v < h->last) h->offset += h->last; /* counter restarted from 0 */
        h->last = v;
        values[i] = (double)(h->offset + v) / 1e6;
    }
    return good ? 0 : -1;
}

static int hwmon_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    jb_channel_list *tmp = calloc(1, sizeof *tmp);
    hwmon_state *s = calloc(1, sizeof *s);
    scan_ctx c = {.env = env, .s = s, .chans = tmp};
    int rc = tmp && s ? scan(&c) : -1;
    int e = errno;
    int usable = s ? s->n : 0;
    hwmon_close(s);
    free(tmp);
    if (rc < 0) {
        jb_src_explain_access(HWMON_DIR, e, reason, rcap, fix, fcap);
        return 0;
    }
    if (usable == 0) {
        snprintf(reason, rcap, HWMON_DIR ": %s",
                 c.found ? "power/energy sensors not readable" : "no power or energy sensor");
        snprintf(fix, fcap,
                 c.found ? "run as root or grant read access to the hwmon files"
                         : "no driver here reports power (amdgpu, acpi_power_meter, "
                           "amd_energy...): use another power source");
        return 0;
    }
    return 1;
}

const jb_source_driver jb_src_hwmon = {
    .name = "hwmon",
    .description = "power (µW) and energy (µJ) sensors from /sys/class/hwmon",
    .is_power = true,
    .in_default = true,
    .scope = JB_SCOPE_COMPONENT,
    .family = "hwmon",
    .probe = hwmon_probe,
    .open = hwmon_open,
    .read = hwmon_read,
    .close = hwmon_close,
};
