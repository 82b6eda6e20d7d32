/*
 * controls.c — the reproducibility controls and the system snapshot of
 * controls.h. Each control returns a JSON record of what it did; nothing here
 * decides whether an experiment goes on (experiment.c does).
 */
#include "controls.h"
#include "source.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

json_object *jb_control_new(const char *status, const char *reason)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(status));
    if (reason) json_object_object_add(o, "reason", json_object_new_string(reason));
    return o;
}

json_object *jb_json_num(double v, int digits)
{
    if (!isfinite(v)) return NULL;
    char txt[64];
    snprintf(txt, sizeof txt, "%.*g", digits, v);
    return json_object_new_double_s(strtod(txt, NULL), txt);
}

bool jb_sleep_interruptible(int64_t ns)
{
    int64_t until = jb_mono_ns() + ns;
    while (!jb_workload_interrupted()) {
        int64_t left = until - jb_mono_ns();
        if (left <= 0) return false;
        if (left > 50000000) left = 50000000;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* ---- seed ---- */

void jb_seed_env_make(jb_seed_env *e, uint64_t seed)
{
    snprintf(e->text[0], sizeof e->text[0], "JOULEBENCH_SEED=%llu", (unsigned long long)seed);
    snprintf(e->text[1], sizeof e->text[1], "PYTHONHASHSEED=%llu", (unsigned long long)seed);
    snprintf(e->text[2], sizeof e->text[2], "TF_DETERMINISTIC_OPS=1");
    snprintf(e->text[3], sizeof e->text[3], "CUBLAS_WORKSPACE_CONFIG=:4096:8");
    for (int i = 0; i < JB_SEED_ENV_N; i++)
        e->env[i] = e->text[i];
    e->env[JB_SEED_ENV_N] = NULL;
}

/* ---- drop caches ---- */

json_object *jb_drop_caches(const char *root)
{
    if (geteuid() != 0)
        return jb_control_new("skipped", "not root (run joulebench as root to drop the page "
                                         "cache before each run)");
    sync();
    char path[4096];
    jb_path(path, sizeof path, root, "/proc/sys/vm/drop_caches");
    FILE *f = fopen(path, "w");
    if (!f) {
        char why[4200];
        snprintf(why, sizeof why, "cannot open %s: %s", path, strerror(errno));
        return jb_control_new("failed", why);
    }
    int ok = fputs("3\n", f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok) {
        char why[4200];
        snprintf(why, sizeof why, "cannot write %s: %s", path, strerror(errno));
        return jb_control_new("failed", why);
    }
    return jb_control_new("applied", NULL);
}

/* ---- reset command ---- */

static json_object *argv_json_array(char *const *argv)
{
    json_object *a = json_object_new_array();
    for (char *const *p = argv; *p; p++)
        json_object_array_add(a, json_object_new_string(*p));
    return a;
}

json_object *jb_reset_run(char *const *argv, int64_t timeout_ns, bool *ok)
{
    jb_workload w;
    jb_workload_opts wo = {.argv = argv, .capture_stderr_tail = true, .new_process_group = true};
    jb_err err;
    *ok = false;
    if (jb_workload_spawn(&w, &wo, &err)) return jb_control_new("failed", err.msg);
    jb_workload_wait(&w, timeout_ns);
    jb_workload_reap(&w);
    json_object *o;
    if (w.exec_failed) {
        char why[512];
        snprintf(why, sizeof why, "cannot run %s: %s", argv[0], strerror(w.exec_errno));
        o = jb_control_new("failed", why);
    } else if (w.timed_out || w.exit_code != 0) {
        char why[128];
        snprintf(why, sizeof why, w.timed_out ? "timed out" : "exit status %d", w.exit_code);
        o = jb_control_new("failed", why);
        if (w.tail_len) json_object_object_add(o, "stderr_tail", json_object_new_string(w.tail));
    } else {
        o = jb_control_new("applied", NULL);
        *ok = true;
    }
    json_object_object_add(o, "command", argv_json_array(argv));
    json_object_object_add(o, "exit_code", json_object_new_int(w.exit_code));
    return o;
}

/* ---- CPU load and processes ---- */

int jb_cpu_times_read(const char *root, jb_cpu_load *t)
{
    char buf[512];
    if (jb_read_file(root, "/proc/stat", buf, sizeof buf) < 0) return -1;
    if (strncmp(buf, "cpu ", 4)) return -1;
    const char *p = buf + 4;
    int fields = 0; /* user nice system idle at least */
    for (const char *q = p; *q && *q != '\n'; q++)
        if (isdigit((unsigned char)*q) && (q == p || q[-1] == ' '))
            fields++;
        else if (*q != ' ' && !isdigit((unsigned char)*q))
            return -1;
    if (fields < 4) return -1;
    jb_cpu_times ct; /* the parser the cpu source uses (source.h) */
    jb_parse_cpu_times(p, &ct);
    t->total = jb_cpu_total(&ct);
    t->busy = jb_cpu_busy(&ct);
    return 0;
}

/* Fields of /proc/PID/stat after the command name: state is field 3. */
static int parse_stat(const char *buf, char *comm, size_t ccap, unsigned long long *ticks,
                      unsigned long long *start)
{
    const char *l = strchr(buf, '('), *r = strrchr(buf, ')');
    if (!l || !r || r < l) return -1;
    size_t n = (size_t)(r - l - 1);
    if (comm) {
        if (n >= ccap) n = ccap - 1;
        memcpy(comm, l + 1, n);
        comm[n] = 0;
    }
    const char *p = r + 1;
    unsigned long long f[23] = {0};
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p) return -1;
        if (field >= 4) f[field] = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    *ticks = f[14] + f[15];
    if (start) *start = f[22];
    return 0;
}

unsigned long long jb_proc_ticks(const char *root, pid_t pid)
{
    char rel[64], buf[1024];
    snprintf(rel, sizeof rel, "/proc/%d/stat", (int)pid);
    unsigned long long ticks = 0;
    if (jb_read_file(root, rel, buf, sizeof buf) < 0) return 0;
    if (parse_stat(buf, NULL, 0, &ticks, NULL)) return 0;
    return ticks;
}

double jb_cpu_busy_pct(const jb_cpu_load *a, const jb_cpu_load *b, unsigned long long self_ticks)
{
    if (b->total <= a->total) return NAN;
    double total = (double)(b->total - a->total);
    double busy = b->busy >= a->busy ? (double)(b->busy - a->busy) : 0;
    busy -= (double)self_ticks;
    double pct = 100.0 * busy / total;
    return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

int jb_proc_table_read(const char *root, jb_proc_table *t)
{
    memset(t, 0, sizeof *t);
    char dir[4096];
    jb_path(dir, sizeof dir, root, "/proc");
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        char rel[300], buf[1024];
        snprintf(rel, sizeof rel, "/proc/%s/stat", de->d_name);
        if (jb_read_file(root, rel, buf, sizeof buf) < 0) continue;
        jb_proc_entry e = {.pid = (pid_t)atoi(de->d_name)};
        if (parse_stat(buf, e.comm, sizeof e.comm, &e.ticks, &e.start_tick)) continue;
        if (t->n == cap) {
            cap = cap ? cap * 2 : 256;
            jb_proc_entry *ne = realloc(t->e, cap * sizeof *ne);
            if (!ne) break;
            t->e = ne;
        }
        t->e[t->n++] = e;
    }
    closedir(d);
    t->mono_ns = jb_mono_ns();
    return 0;
}

void jb_proc_table_free(jb_proc_table *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

static const jb_proc_entry *find_proc(const jb_proc_table *t, const jb_proc_entry *like)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].pid == like->pid && t->e[i].start_tick == like->start_tick) return &t->e[i];
    return NULL;
}

static double uptime_s(const char *root)
{
    char buf[128];
    if (jb_read_file(root, "/proc/uptime", buf, sizeof buf) < 0) return NAN;
    return strtod(buf, NULL);
}

static void insert_top(jb_top_proc *out, size_t k, size_t *n, const jb_top_proc *p)
{
    size_t i = *n < k ? (*n)++ : k;
    if (i == k) {
        if (p->cpu_pct <= out[k - 1].cpu_pct) return;
        i = k - 1;
    }
    while (i > 0 && out[i - 1].cpu_pct < p->cpu_pct) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = *p;
}

size_t jb_top_procs(const char *root, const jb_proc_table *before, const jb_proc_table *after,
                    pid_t skip_pid, jb_top_proc *out, size_t k)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    double up = before ? 0 : uptime_s(root);
    double span = before ? (double)(after->mono_ns - before->mono_ns) / 1e9 : 0;
    size_t n = 0;
    if (!k || (!before && !isfinite(up)) || (before && span <= 0)) return 0;
    for (size_t i = 0; i < after->n; i++) {
        const jb_proc_entry *e = &after->e[i];
        if (e->pid == skip_pid) continue;
        double pct;
        if (before) {
            const jb_proc_entry *b = find_proc(before, e);
            unsigned long long d = b && e->ticks >= b->ticks ? e->ticks - b->ticks : e->ticks;
            pct = 100.0 * (double)d / (double)hz / span;
        } else {
            double life = up - (double)e->start_tick / (double)hz;
            if (life <= 0) continue;
            pct = 100.0 * (double)e->ticks / (double)hz / life;
        }
        if (pct <= 0) continue;
        jb_top_proc p = {.pid = e->pid, .cpu_pct = pct};
        snprintf(p.comm, sizeof p.comm, "%s", e->comm);
        insert_top(out, k, &n, &p);
    }
    return n;
}

static json_object *top_json(const jb_top_proc *top, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "pid", json_object_new_int(top[i].pid));
        json_object_object_add(o, "comm", json_object_new_string(top[i].comm));
        json_object_object_add(o, "cpu_pct", jb_json_num(top[i].cpu_pct, 3));
        json_object_array_add(a, o);
    }
    return a;
}

/* ---- quiet system ---- */

int jb_quiet_wait(const jb_quiet_opts *o, jb_quiet_result *r, jb_err *err)
{
    memset(r, 0, sizeof *r);
    int64_t poll = o->poll_ns > 0 ? o->poll_ns : 250000000LL;
    jb_cpu_load prev, cur;
    if (jb_cpu_times_read(o->root, &prev))
        return jb_errf(err,
                       "%s/proc/stat: cannot read the CPU times for the quiet check; "
                       "check --root / JOULEBENCH_ROOT",
                       strcmp(o->root ? o->root : "/", "/") ? o->root : "");
    jb_proc_table t0;
    bool have_t0 = jb_proc_table_read(o->root, &t0) == 0;
    unsigned long long self_prev = jb_proc_ticks(o->root, o->self);
    int64_t start = jb_mono_ns(), quiet_since = start;
    r->last_pct = NAN;
    for (;;) {
        if (jb_sleep_interruptible(poll)) {
            r->interrupted = true;
            break;
        }
        int64_t now = jb_mono_ns();
        if (jb_cpu_times_read(o->root, &cur) == 0) {
            unsigned long long self = jb_proc_ticks(o->root, o->self);
            double pct = jb_cpu_busy_pct(&prev, &cur, self >= self_prev ? self - self_prev : 0);
            self_prev = self;
            prev = cur;
            if (isfinite(pct)) {
                r->last_pct = pct;
                if (pct > r->max_pct) r->max_pct = pct;
                if (pct >= o->threshold_pct) quiet_since = now;
            }
        }
        r->waited_ns = now - start;
        if (now - quiet_since >= o->window_ns && isfinite(r->last_pct)) {
            r->quiet = true;
            break;
        }
        if (r->waited_ns >= o->timeout_ns) break;
    }
    if (!r->quiet && !r->interrupted && have_t0) {
        jb_proc_table t1;
        if (jb_proc_table_read(o->root, &t1) == 0) {
            r->ntop = jb_top_procs(o->root, &t0, &t1, o->self, r->top, JB_ARRAY_LEN(r->top));
            jb_proc_table_free(&t1);
        }
    }
    if (have_t0) jb_proc_table_free(&t0);
    return 0;
}

json_object *jb_quiet_json(const jb_quiet_opts *o, const jb_quiet_result *r, bool fail_on_timeout)
{
    json_object *j;
    if (r->interrupted)
        j = jb_control_new("skipped", "interrupted");
    else if (r->quiet)
        j = jb_control_new("applied", NULL);
    else {
        char why[160];
        snprintf(why, sizeof why, "CPU not below %g %% for %.3g s within %.3g s", o->threshold_pct,
                 (double)o->window_ns / 1e9, (double)o->timeout_ns / 1e9);
        j = jb_control_new(fail_on_timeout ? "failed" : "warning", why);
        json_object_object_add(j, "top", top_json(r->top, r->ntop));
    }
    json_object_object_add(j, "waited_s", jb_json_num((double)r->waited_ns / 1e9, 4));
    if (isfinite(r->last_pct)) json_object_object_add(j, "cpu_pct", jb_json_num(r->last_pct, 3));
    json_object_object_add(j, "threshold_pct", jb_json_num(o->threshold_pct, 6));
    return j;
}

/* ---- GPU memory (NVML) ---- */

#define GPU_MAX 16
typedef struct nvml_mem {
    unsigned long long total, free, used;
} nvml_mem;

struct jb_gpu_check {
    void *lib;
    int (*shutdown)(void);
    int (*get_handle)(unsigned, void **);
    int (*get_mem)(void *, nvml_mem *);
    int (*get_procs)(void *, unsigned *, void *); /* optional */
    unsigned n;
    void *dev[GPU_MAX];
    unsigned long long base[GPU_MAX];
};

static int gpu_read_used(jb_gpu_check *g, unsigned long long *used)
{
    for (unsigned i = 0; i < g->n; i++) {
        nvml_mem m;
        if (g->get_mem(g->dev[i], &m)) return -1;
        used[i] = m.used;
    }
    return 0;
}

jb_gpu_check *jb_gpu_check_open(const char *library, char *why, size_t cap)
{
    const char *path = library && *library ? library : getenv("JOULEBENCH_NVML_LIB");
    if (!path || !*path) path = "libnvidia-ml.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, cap, "no NVML (%s not loadable)", path);
        return NULL;
    }
    jb_gpu_check *g = calloc(1, sizeof *g);
    if (!g) {
        dlclose(lib);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
    int (*count)(unsigned *) = (int (*)(unsigned *))dlsym(lib, "nvmlDeviceGetCount_v2");
    g->lib = lib;
    g->shutdown = (int (*)(void))dlsym(lib, "nvmlShutdown");
    g->get_handle = (int (*)(unsigned, void **))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    g->get_mem = (int (*)(void *, nvml_mem *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
    g->get_procs =
        (int (*)(void *, unsigned *, void *))dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!init || !count || !g->shutdown || !g->get_handle || !g->get_mem) {
        snprintf(why, cap, "no NVML (%s lacks the memory functions)", path);
    } else if (init() != 0) {
        snprintf(why, cap, "no NVML (nvmlInit_v2 failed: no driver or no permission)");
    } else if (count(&g->n) != 0 || g->n == 0) {
        snprintf(why, cap, "no GPU found by NVML");
        g->shutdown();
    } else {
        if (g->n > GPU_MAX) g->n = GPU_MAX;
        int bad = 0;
        for (unsigned i = 0; i < g->n; i++)
            bad |= g->get_handle(i, &g->dev[i]) != 0;
        if (!bad && gpu_read_used(g, g->base) == 0) return g;
        snprintf(why, cap, "NVML cannot read the GPUs' memory");
        g->shutdown();
    }
    dlclose(lib);
    free(g);
    return NULL;
}

/* Compute processes on GPU i: nvmlDeviceGetComputeRunningProcesses_v3 with
 * room for none answers INSUFFICIENT_SIZE (7) and the count. -1 unknown. */
static int gpu_procs(jb_gpu_check *g, unsigned i)
{
    if (!g->get_procs) return -1;
    unsigned n = 0;
    int rc = g->get_procs(g->dev[i], &n, NULL);
    if (rc == 0) return 0;
    return rc == 7 ? (int)n : -1;
}

json_object *jb_gpu_check_run(jb_gpu_check *g, int64_t max_wait_ns, unsigned long long tolerance_b)
{
    unsigned long long used[GPU_MAX];
    int64_t start = jb_mono_ns();
    bool back = false;
    for (;;) {
        if (gpu_read_used(g, used)) return jb_control_new("failed", "NVML memory read failed");
        back = true;
        for (unsigned i = 0; i < g->n; i++)
            back &= used[i] <= g->base[i] + tolerance_b;
        if (back || jb_mono_ns() - start >= max_wait_ns) break;
        if (jb_sleep_interruptible(250000000LL)) break;
    }
    int foreign = 0, unknown = 0;
    for (unsigned i = 0; i < g->n; i++) {
        int p = gpu_procs(g, i);
        if (p < 0)
            unknown = 1;
        else
            foreign += p;
    }
    json_object *o;
    if (!back)
        o = jb_control_new("warning", "GPU memory above its level at the experiment's start");
    else if (foreign)
        o = jb_control_new("warning", "other compute processes on the GPU");
    else
        o = jb_control_new("applied", NULL);
    json_object *u = json_object_new_array(), *b = json_object_new_array();
    for (unsigned i = 0; i < g->n; i++) {
        json_object_array_add(u, json_object_new_int64((int64_t)(used[i] >> 20)));
        json_object_array_add(b, json_object_new_int64((int64_t)(g->base[i] >> 20)));
    }
    json_object_object_add(o, "used_mib", u);
    json_object_object_add(o, "baseline_mib", b);
    json_object_object_add(o, "foreign_processes", unknown ? NULL : json_object_new_int(foreign));
    json_object_object_add(o, "waited_s", jb_json_num((double)(jb_mono_ns() - start) / 1e9, 4));
    return o;
}

void jb_gpu_check_close(jb_gpu_check *g)
{
    if (!g) return;
    g->shutdown();
    dlclose(g->lib);
    free(g);
}

/* ---- snapshot ---- */

static json_object *first_word(const char *root, const char *path)
{
    char buf[256];
    if (jb_read_file(root, path, buf, sizeof buf) < 0) return NULL;
    buf[strcspn(buf, " \n")] = 0;
    return json_object_new_string(buf);
}

/* turbo on/off: intel_pstate/no_turbo (inverted), else cpufreq/boost. */
static json_object *turbo(const char *root)
{
    char buf[32];
    if (jb_read_file(root, "/sys/devices/system/cpu/intel_pstate/no_turbo", buf, sizeof buf) >= 0)
        return json_object_new_boolean(atoi(buf) == 0);
    if (jb_read_file(root, "/sys/devices/system/cpu/cpufreq/boost", buf, sizeof buf) >= 0)
        return json_object_new_boolean(atoi(buf) != 0);
    return NULL;
}

static json_object *smt(const char *root)
{
    char buf[32];
    if (jb_read_file(root, "/sys/devices/system/cpu/smt/active", buf, sizeof buf) < 0) return NULL;
    return json_object_new_boolean(atoi(buf) != 0);
}

static long long meminfo_kb(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);
    return p ? atoll(p + strlen(key)) : -1;
}

static json_object *swap_used(const char *root)
{
    char buf[8192];
    if (jb_read_file(root, "/proc/meminfo", buf, sizeof buf) < 0) return NULL;
    long long total = meminfo_kb(buf, "SwapTotal:"), free_kb = meminfo_kb(buf, "SwapFree:");
    if (total < 0 || free_kb < 0) return NULL;
    return json_object_new_int64((total - free_kb) * 1024);
}

static json_object *loadavg(const char *root)
{
    char buf[256];
    double l[3];
    if (jb_read_file(root, "/proc/loadavg", buf, sizeof buf) < 0 ||
        sscanf(buf, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
        return NULL;
    json_object *a = json_object_new_array();
    for (int i = 0; i < 3; i++)
        json_object_array_add(a, jb_json_num(l[i], 4));
    return a;
}

json_object *jb_snapshot(const char *root, pid_t self)
{
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "governor", first_word(root, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
    json_object_object_add(o, "turbo", turbo(root));
    json_object_object_add(o, "smt", smt(root));
    json_object_object_add(o, "swap_used_bytes", swap_used(root));
    json_object_object_add(o, "loadavg", loadavg(root));
    jb_proc_table t;
    jb_top_proc top[5];
    size_t n = 0;
    if (jb_proc_table_read(root, &t) == 0) {
        n = jb_top_procs(root, NULL, &t, self, top, 5);
        jb_proc_table_free(&t);
    }
    json_object_object_add(o, "top", top_json(top, n));
    return o;
}
