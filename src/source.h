/*
 * source.h — the one interface every measurement source implements.
 *
 * A source (src/sources/<name>.c) is a small driver, like a collectd plugin:
 * probe() says whether it is usable here (with a reason and a fix when not),
 * open() creates its state and declares its channels, read() fills one value
 * per channel, close() frees. Drivers are listed in src/sources/registry.c;
 * adding a source means one new file and one registry line.
 *
 * Every path a driver reads goes through env->root (jb_path), so tests run the
 * real parsers on fake /proc and /sys trees. read() runs on the sampling
 * thread: it must not allocate, log or block; keep files open and pread them.
 */
#ifndef JB_SOURCE_H
#define JB_SOURCE_H

#include "jb.h"

#include <sys/types.h>

typedef enum {
    JB_KIND_ENERGY_COUNTER = 0, /* cumulative joules, wrap already corrected */
    JB_KIND_POWER = 1,          /* watts; integrated with the trapezoid rule */
    JB_KIND_GAUGE = 2,          /* a level: %, bytes in use, °C */
    JB_KIND_COUNTER = 3,        /* cumulative non-energy: bytes, CPU seconds */
} jb_channel_kind;

const char *jb_kind_name(jb_channel_kind k);
int jb_kind_parse(const char *s, jb_channel_kind *k);

/* Headline roles for power channels: the headline total never sums channels
 * that overlap. Within one source, channels with role JB_ROLE_TOTAL are
 * summed (e.g. package-0 + package-1 + dram-0); JB_ROLE_PART channels are
 * contained in a total (cores in package) and never summed. Across sources the
 * one with the widest scope wins (wall > psys > gpu+cpu packages...), see
 * headline.c. */
typedef enum {
    JB_ROLE_NONE = 0,  /* not a power/energy channel */
    JB_ROLE_TOTAL = 1, /* adds to the source's total */
    JB_ROLE_PART = 2,  /* contained in another channel of the same source */
} jb_role;

/* Scope of a power source, widest first: used to pick the headline. */
typedef enum {
    JB_SCOPE_NONE = 0,
    JB_SCOPE_COMPONENT = 1, /* CPU packages, DRAM, one GPU: add across kinds */
    JB_SCOPE_PLATFORM = 2,  /* psys: covers CPU packages (not GPUs) */
    JB_SCOPE_WALL = 3,      /* a wall meter covers everything */
} jb_scope;

typedef struct jb_channel_def {
    char name[64]; /* "rapl/package-0", "cpu/total" — source prefix included */
    char unit[16]; /* "J", "W", "%", "B", "s" */
    jb_channel_kind kind;
    bool estimated; /* model-based, never shown as measured */
    jb_role role;
    char meta[256]; /* optional JSON object with details (zone path, GPU name) */
} jb_channel_def;

#define JB_MAX_CHANNELS 256

typedef struct jb_channel_list {
    jb_channel_def ch[JB_MAX_CHANNELS];
    int n;
} jb_channel_list;

/* Add a channel; returns its index or -1 when full. */
int jb_channel_add(jb_channel_list *l, const char *name, const char *unit, jb_channel_kind kind,
                   jb_role role, bool estimated);

/* Per-source options from the command line or spec ("estimate.idle_w=10"). */
typedef struct jb_source_opt {
    const char *key;
    const char *value;
} jb_source_opt;

typedef struct jb_source_env {
    const char *root;    /* root for /proc and /sys; "/" normally */
    int64_t interval_ns; /* sampling interval */
    pid_t target_pid;    /* workload root process (0 until started) */
    pid_t self_pid;      /* the recorder's own pid (subreaper of the tree) */
    const jb_source_opt *opts;
    int nopts;
} jb_source_env;

/* Look up a source option "key" (without the "source." prefix) or NULL. */
const char *jb_source_opt_get(const jb_source_env *env, const char *source, const char *key);

typedef struct jb_source_driver {
    const char *name;        /* "cpu", "rapl", ... */
    const char *description; /* one line for `joulebench sources` */
    bool is_power;           /* produces energy/power channels */
    bool in_default;         /* part of the default/auto set */
    jb_scope scope;          /* for power sources */
    /* What a power source measures, so two interfaces to the same meter are
     * never summed: "cpu" (rapl, msr, perf), "gpu" (nvml, nvidia-smi),
     * "wall" (modbus, command), "hwmon", "estimate". See headline.c. */
    const char *family;
    /* 1 usable, 0 not (reason and how-to-fix filled in). */
    int (*probe)(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap);
    /* Create state, append channels. -1 with err on failure. */
    int (*open)(const jb_source_env *env, void **state, jb_channel_list *chans, jb_err *err);
    /* Fill values[i] for this source's channels (in open order); set ok[i]=0
     * for a channel that could not be read this time (a gap). now_ns is the
     * monotonic sample time. Returns 0, or -1 if nothing could be read. */
    int (*read)(void *state, int64_t now_ns, double *values, uint8_t *ok);
    void (*close)(void *state);
    /* Optional: the workload started (process tree sources). */
    void (*set_target)(void *state, pid_t pid);
    /* Optional: the longest safe time between reads (counter wrap), 0 = any. */
    int64_t (*max_poll_ns)(void *state);
    /* Optional: extra host info as "key=value\n" lines (GPU names...). */
    void (*host_info)(void *state, jb_buf *out);
} jb_source_driver;

/* The registry (src/sources/registry.c). */
extern const jb_source_driver *const jb_source_drivers[];
const jb_source_driver *jb_source_find(const char *name);

/* Helpers for drivers (source.c): open a file under env->root once, re-read
 * it with pread on every sample (no allocation), parse numbers in place. */
int jb_src_open_file(const jb_source_env *env, const char *path, jb_err *err);
ssize_t jb_src_pread_all(int fd, char *buf, size_t cap);
/* The same for files the kernel generates whole in one go (procfs
 * single_open files: /proc/stat, /proc/meminfo, /proc/PID/stat|statm|io;
 * regular files): a read that does not fill buf is the end, so the extra read
 * that would only return 0 is skipped. Not for record-by-record files
 * (/proc/diskstats, /proc/net/dev, children lists): they may answer short. */
ssize_t jb_src_pread_whole(int fd, char *buf, size_t cap);
/* One read of a file per sample, shared by the sources that parse it (cpu and
 * estimate both read /proc/stat). The sampler brackets each sample with
 * jb_src_sample_begin/end (per thread); inside, the first jb_src_pread_shared
 * of (root, path) reads fd into buf and later calls copy that text (the first
 * reader's buf must stay unchanged until the sample ends). Outside a sample
 * it is jb_src_pread_whole (so: for files generated whole only). */
void jb_src_sample_begin(void);
void jb_src_sample_end(void);
ssize_t jb_src_pread_shared(int fd, const char *root, const char *path, char *buf, size_t cap);
/* Parse an unsigned decimal at *p, advancing past it and leading blanks. */
unsigned long long jb_parse_ull(const char **p);
/* Skip to the character after the next '\n' (or to the end). */
const char *jb_next_line(const char *p);
/* /proc/stat's aggregate or per-core line, after "cpu " / "cpuN ": the
 * counters in USER_HZ ticks. Shared by the cpu and estimate sources. */
typedef struct jb_cpu_times {
    unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
} jb_cpu_times;
/* Parse the counters at p; returns the start of the next line. */
const char *jb_parse_cpu_times(const char *p, jb_cpu_times *t);
unsigned long long jb_cpu_busy(const jb_cpu_times *t);  /* all but idle and iowait */
unsigned long long jb_cpu_total(const jb_cpu_times *t); /* busy + idle + iowait */

/* The /proc/meminfo fields joulebench uses, in bytes; found counts them. */
typedef struct jb_meminfo {
    unsigned long long total, available, swap_total, swap_free;
    int found;
} jb_meminfo;
void jb_parse_meminfo(const char *text, jb_meminfo *m);

/* The standard "cannot read" probe explanation for a path. */
void jb_src_explain_access(const char *path, int errnum, char *reason, size_t rcap, char *fix,
                           size_t fcap);
#endif
