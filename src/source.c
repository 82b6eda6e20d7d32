/*
 * source.c — helpers shared by all source drivers (channel lists, kinds,
 * options). The drivers themselves live in src/sources/.
 */
#include "source.h"

#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {"energy_counter", "power", "gauge", "counter"};

const char *jb_kind_name(jb_channel_kind k)
{
    return (unsigned)k < JB_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

int jb_kind_parse(const char *s, jb_channel_kind *k)
{
    for (unsigned i = 0; i < JB_ARRAY_LEN(kind_names); i++)
        if (!strcmp(s, kind_names[i])) {
            *k = (jb_channel_kind)i;
            return 0;
        }
    return -1;
}

int jb_channel_add(jb_channel_list *l, const char *name, const char *unit, jb_channel_kind kind,
                   jb_role role, bool estimated)
{
    if (l->n >= JB_MAX_CHANNELS) return -1;
    jb_channel_def *c = &l->ch[l->n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->unit, sizeof c->unit, "%s", unit);
    c->kind = kind;
    c->role = role;
    c->estimated = estimated;
    return l->n++;
}

const char *jb_source_opt_get(const jb_source_env *env, const char *source, const char *key)
{
    size_t sl = strlen(source);
    for (int i = env->nopts - 1; i >= 0; i--) {
        const char *k = env->opts[i].key;
        if (!strncmp(k, source, sl) && k[sl] == '.' && !strcmp(k + sl + 1, key))
            return env->opts[i].value;
    }
    return NULL;
}

int jb_src_open_file(const jb_source_env *env, const char *path, jb_err *err)
{
    char full[4096];
    jb_path(full, sizeof full, env->root, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jb_errf(err, "%s: cannot open: %s%s", full, strerror(errno),
                       errno == EACCES ? " (run as root or grant read access)" : "");
    return fd;
}

ssize_t jb_src_pread_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = pread(fd, buf + len, cap - 1 - len, (off_t)len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    return (ssize_t)len;
}

/* Texts read during the current sample (thread-local: each sampling thread
 * brackets its own samples). */
typedef struct shared_text {
    uint64_t gen;
    const char *root, *path, *text;
    size_t len;
} shared_text;

static _Thread_local uint64_t sample_gen;
static _Thread_local bool in_sample;
static _Thread_local shared_text shared[4];

void jb_src_sample_begin(void)
{
    sample_gen++;
    in_sample = true;
}

void jb_src_sample_end(void)
{
    in_sample = false;
}

static shared_text *shared_find(const char *root, const char *path)
{
    for (unsigned i = 0; i < JB_ARRAY_LEN(shared); i++)
        if (shared[i].gen == sample_gen && !strcmp(shared[i].root, root) &&
            !strcmp(shared[i].path, path))
            return &shared[i];
    return NULL;
}

ssize_t jb_src_pread_shared(int fd, const char *root, const char *path, char *buf, size_t cap)
{
    if (!in_sample || !cap) return jb_src_pread_whole(fd, buf, cap);
    shared_text *t = shared_find(root, path);
    if (t) {
        size_t n = t->len < cap - 1 ? t->len : cap - 1;
        memcpy(buf, t->text, n);
        buf[n] = 0;
        return (ssize_t)n;
    }
    ssize_t n = jb_src_pread_whole(fd, buf, cap);
    if (n <= 0) return n;
    for (unsigned i = 0; i < JB_ARRAY_LEN(shared); i++)
        if (shared[i].gen != sample_gen) {
            shared[i] = (shared_text){sample_gen, root, path, buf, (size_t)n};
            break;
        }
    return n;
}

ssize_t jb_src_pread_whole(int fd, char *buf, size_t cap)
{
    if (!cap) return -1;
    ssize_t n;
    do
        n = pread(fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if ((size_t)n == cap - 1) return jb_src_pread_all(fd, buf, cap); /* full: maybe more */
    buf[n] = 0;
    return n;
}

unsigned long long jb_parse_ull(const char **pp)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    unsigned long long v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (unsigned)(*p++ - '0');
    while (*p == ' ' || *p == '\t')
        p++;
    *pp = p;
    return v;
}

const char *jb_next_line(const char *p)
{
    const char *e = strchr(p, '\n');
    return e ? e + 1 : p + strlen(p);
}

void jb_src_explain_access(const char *path, int errnum, char *reason, size_t rcap, char *fix,
                           size_t fcap)
{
    snprintf(reason, rcap, "%s: %s", path, strerror(errnum));
    if (errnum == EACCES)
        snprintf(fix, fcap,
                 "run joulebench as root, or grant read access to %s to your group "
                 "(udev rule or tmpfiles.d entry)",
                 path);
    else if (errnum == ENOENT)
        snprintf(fix, fcap,
                 "this machine does not provide %s (no such hardware or driver; "
                 "in a VM the host does not pass it through)",
                 path);
    else
        snprintf(fix, fcap, "check that %s is readable", path);
}

const char *jb_parse_cpu_times(const char *p, jb_cpu_times *t)
{
    t->user = jb_parse_ull(&p);
    t->nice = jb_parse_ull(&p);
    t->system = jb_parse_ull(&p);
    t->idle = jb_parse_ull(&p);
    t->iowait = jb_parse_ull(&p);
    t->irq = jb_parse_ull(&p);
    t->softirq = jb_parse_ull(&p);
    t->steal = jb_parse_ull(&p);
    return jb_next_line(p);
}

unsigned long long jb_cpu_busy(const jb_cpu_times *t)
{
    return t->user + t->nice + t->system + t->irq + t->softirq + t->steal;
}

unsigned long long jb_cpu_total(const jb_cpu_times *t)
{
    return jb_cpu_busy(t) + t->idle + t->iowait;
}

/* The four keys come early in /proc/meminfo (Swap* by line ~16 of ~55):
 * the scan stops once it has them, and only lines starting with 'M' or 'S'
 * are compared. */
void jb_parse_meminfo(const char *p, jb_meminfo *m)
{
    static const char *const keys[] = {"MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:"};
    memset(m, 0, sizeof *m);
    unsigned long long *const dst[] = {&m->total, &m->available, &m->swap_total, &m->swap_free};
    unsigned seen = 0;
    for (; *p && m->found < 4; p = jb_next_line(p)) {
        if (*p != 'M' && *p != 'S') continue;
        for (unsigned k = 0; k < JB_ARRAY_LEN(keys); k++) {
            size_t len = strlen(keys[k]);
            if ((seen & (1u << k)) || strncmp(p, keys[k], len)) continue;
            const char *q = p + len;
            *dst[k] = jb_parse_ull(&q) * 1024ULL; /* values are in kB */
            seen |= 1u << k;
            m->found++;
            break;
        }
    }
}
