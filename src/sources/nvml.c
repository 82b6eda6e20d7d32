/*
 * nvml.c — NVIDIA GPU energy, power and usage through NVML, loaded with
 * dlopen at run time (no header or library needed to build). The library is
 * "libnvidia-ml.so.1", or option nvml.library=PATH, or $JOULEBENCH_NVML_LIB
 * (the tests point it at a fake built from tests/fakes/fake_nvml.c).
 *
 * Per GPU <i> (NVML index, PCI order):
 *   nvml/<i>/energy       J  energy_counter  nvmlDeviceGetTotalEnergyConsumption
 *                                            (mJ since driver load; Volta+),
 *                                            relative to open; role total
 *   nvml/<i>/power        W  power           nvmlDeviceGetPowerUsage; role total
 *                                            when there is no counter (the
 *                                            analysis integrates it), else part
 *                                            (shown for comparison, never summed)
 *   nvml/<i>/util_gpu, util_memory (%), memory_used, memory_total (B),
 *   temperature (°C), power_limit (W)        gauges, where supported
 * The energy/power channel meta says which method gives the GPU's energy
 * ({"method":"counter"} or {"method":"power-integrated"}) and the shortest
 * window the reading can resolve ("min_window_ms"): the counter updates every
 * 20-100 ms, and the power reading is a 1 s average on Ampere and later
 * (REFERENCE.md, NVML section). A counter that reads 0 at open is not trusted
 * (never report 0 J silently): that GPU falls back to power.
 *
 * CUDA_VISIBLE_DEVICES: the channels keep NVML's numbering; the meta adds
 * "cuda":k for a GPU the workload sees as CUDA device k (GPU-UUID entries are
 * exact; integer entries assume CUDA_DEVICE_ORDER=PCI_BUS_ID, else the meta
 * says "cuda_order":"assumed-pci"). Option nvml.devices=visible measures only
 * those GPUs.
 *
 * A call that returns GPU_IS_LOST marks the GPU lost: its channels read as
 * gaps (ok=0) from then on and the other GPUs go on. read() makes only NVML
 * calls (ioctls into the driver, typically tens of µs each).
 */
#include "source.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_DEFAULT_LIB "libnvidia-ml.so.1"
#define NVML_MAX_GPUS 16
#define NVML_MAX_CH_PER_GPU 8

/* nvmlReturn_t values used here (nvml.h). */
enum {
    NV_SUCCESS = 0,
    NV_NOT_SUPPORTED = 3,
    NV_NO_PERMISSION = 4,
    NV_NOT_FOUND = 6,
    NV_DRIVER_NOT_LOADED = 9,
    NV_FUNCTION_NOT_FOUND = 13,
    NV_GPU_IS_LOST = 15,
};

typedef struct nvml_dev_st *nvml_dev;
typedef struct {
    unsigned gpu, memory;
} nvml_util;
typedef struct {
    unsigned long long total, free, used;
} nvml_mem;

typedef struct nvml_api {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    const char *(*error_string)(int);
    int (*count)(unsigned *);
    int (*handle)(unsigned, nvml_dev *);
    int (*name)(nvml_dev, char *, unsigned);
    int (*uuid)(nvml_dev, char *, unsigned);
    int (*energy)(nvml_dev, unsigned long long *);
    int (*power)(nvml_dev, unsigned *);
    int (*util)(nvml_dev, nvml_util *);
    int (*mem)(nvml_dev, nvml_mem *);
    int (*temp)(nvml_dev, int, unsigned *);
    int (*arch)(nvml_dev, unsigned *);
    int (*limit)(nvml_dev, unsigned *);
} nvml_api;

/* What one channel of a GPU reads. */
typedef enum {
    RD_ENERGY,
    RD_POWER,
    RD_UTIL_GPU,
    RD_UTIL_MEM,
    RD_MEM_USED,
    RD_MEM_TOTAL,
    RD_TEMP,
    RD_LIMIT,
} nvml_reading;

typedef struct nvml_gpu {
    nvml_dev dev;
    unsigned index;
    char name[96];
    char uuid[96];
    unsigned arch;
    int cuda; /* CUDA device number, -1 when not visible / unknown */
    bool has_counter;
    bool lost;
    unsigned long long base_mj;
    nvml_util util; /* this read's utilisation and memory, shared by two channels */
    nvml_mem mem;
    int util_rc, mem_rc;
    int nch;
    nvml_reading rd[NVML_MAX_CH_PER_GPU];
} nvml_gpu;

typedef struct nvml_state {
    nvml_api api;
    int ngpu;
    nvml_gpu gpu[NVML_MAX_GPUS];
    bool cuda_order_assumed;
} nvml_state;

static const char *nvml_library(const jb_source_env *env)
{
    const char *p = jb_source_opt_get(env, "nvml", "library");
    if (!p || !*p) p = getenv("JOULEBENCH_NVML_LIB");
    return p && *p ? p : NVML_DEFAULT_LIB;
}

static const char *nvml_arch_name(unsigned a)
{
    static const char *const names[] = {"?",      "?",      "Kepler",   "Maxwell",
                                        "Pascal", "Volta",  "Turing",   "Ampere",
                                        "Ada",    "Hopper", "Blackwell"};
    return a < JB_ARRAY_LEN(names) ? names[a] : "unknown";
}

static const char *nvml_strerror(const nvml_api *a, int rc)
{
    const char *s = a->error_string ? a->error_string(rc) : NULL;
    return s ? s : "unknown error";
}

/* dlopen + dlsym. Required symbols missing → -1 with a reason. */
static int nvml_load(nvml_api *a, const char *path, jb_err *err)
{
    memset(a, 0, sizeof *a);
    a->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!a->lib) {
        const char *why = dlerror();
        if (!why || strstr(why, "No such file"))
            return jb_errf(err, "%s not found (no NVIDIA driver)", path);
        return jb_errf(err, "%s cannot be loaded: %s", path, why);
    }
#define SYM(field, sym) *(void **)&a->field = dlsym(a->lib, sym)
    SYM(init, "nvmlInit_v2");
    SYM(shutdown, "nvmlShutdown");
    SYM(error_string, "nvmlErrorString");
    SYM(count, "nvmlDeviceGetCount_v2");
    SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
    SYM(name, "nvmlDeviceGetName");
    SYM(uuid, "nvmlDeviceGetUUID");
    SYM(energy, "nvmlDeviceGetTotalEnergyConsumption");
    SYM(power, "nvmlDeviceGetPowerUsage");
    SYM(util, "nvmlDeviceGetUtilizationRates");
    SYM(mem, "nvmlDeviceGetMemoryInfo");
    SYM(temp, "nvmlDeviceGetTemperature");
    SYM(arch, "nvmlDeviceGetArchitecture");
    SYM(limit, "nvmlDeviceGetEnforcedPowerLimit");
#undef SYM
    if (!a->init || !a->shutdown || !a->count || !a->handle) {
        dlclose(a->lib);
        a->lib = NULL;
        return jb_errf(err,
                       "%s: not an NVML library (nvmlInit_v2/nvmlDeviceGetCount_v2 missing); "
                       "point nvml.library= at libnvidia-ml.so.1 of the installed driver",
                       path);
    }
    return 0;
}

static void nvml_unload(nvml_api *a)
{
    if (a->lib) dlclose(a->lib);
    a->lib = NULL;
}

/* The reason and fix for a failed nvmlInit_v2 / count. */
static void nvml_explain(const nvml_api *a, const char *what, int rc, char *reason, size_t rcap,
                         char *fix, size_t fcap)
{
    snprintf(reason, rcap, "NVML: %s: %s (%d)", what, nvml_strerror(a, rc), rc);
    switch (rc) {
    case NV_NO_PERMISSION:
        snprintf(reason, rcap, "NVML: no permission (%s)", what);
        snprintf(fix, fcap,
                 "grant access to /dev/nvidia* (add your user to the group owning "
                 "them, often 'video'), or run joulebench as root");
        break;
    case NV_DRIVER_NOT_LOADED:
        snprintf(fix, fcap,
                 "load the NVIDIA kernel driver (modprobe nvidia) and check that "
                 "nvidia-smi works");
        break;
    default:
        snprintf(fix, fcap,
                 "check that nvidia-smi works; library and kernel driver versions "
                 "must match (reboot after a driver upgrade)");
    }
}

/* Looks for NVML index idx (and its UUID) in CUDA_VISIBLE_DEVICES; returns the
 * CUDA device number or -1. *by_index is set when an integer entry matched. */
static int nvml_cuda_number(const char *cvd, unsigned idx, const char *uuid, bool *by_index)
{
    int k = 0;
    for (const char *p = cvd; p && *p; k++) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        char tok[128];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
        p += n + (p[n] == ',');
        char *end;
        long v = strtol(tok, &end, 10);
        if (end != tok && (*end == 0 || *end == ' ')) {
            if (v < 0) return -1; /* CUDA stops at the first invalid entry */
            if ((unsigned long)v == idx) {
                *by_index = true;
                return k;
            }
        } else if (!strncmp(tok, "GPU-", 4) || !strncmp(tok, "MIG-", 4)) {
            /* A unique prefix of the UUID selects the GPU, as CUDA does. */
            size_t tl = strcspn(tok, " ");
            if (!strncmp(tok, "GPU-", 4) && *uuid && tl > 4 && !strncmp(uuid, tok, tl)) return k;
        } else {
            return -1;
        }
    }
    return -1;
}

/* Appends one channel with its meta; records what it reads. */
static int nvml_add(jb_channel_list *ch, nvml_gpu *g, nvml_reading rd, const char *leaf,
                    const char *unit, jb_channel_kind kind, jb_role role, const char *meta)
{
    char name[64];
    snprintf(name, sizeof name, "nvml/%u/%s", g->index, leaf);
    int i = jb_channel_add(ch, name, unit, kind, role, false);
    if (i < 0) return -1;
    snprintf(ch->ch[i].meta, sizeof ch->ch[i].meta, "%s", meta ? meta : "");
    g->rd[g->nch++] = rd;
    return 0;
}

/* A JSON-safe copy of a device name (drops quotes, backslashes, controls). */
static void nvml_json_safe(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++)
        if ((unsigned char)*in >= 0x20 && *in != '"' && *in != '\\') out[o++] = *in;
    out[o] = 0;
}

/* Power meta: the 1 s average on Ampere+ (except GA100) bounds the window. */
static int nvml_power_window_ms(const nvml_gpu *g)
{
    return g->arch >= 7 && !strstr(g->name, "A100") ? 1000 : 100;
}

static void nvml_gpu_meta(const nvml_state *s, const nvml_gpu *g, const char *method, int win_ms,
                          char *out, size_t cap)
{
    char nm[64], cuda[48] = "";
    nvml_json_safe(nm, sizeof nm, g->name);
    if (g->cuda >= 0)
        snprintf(cuda, sizeof cuda, ",\"cuda\":%d%s", g->cuda,
                 s->cuda_order_assumed ? ",\"cuda_order\":\"assumed-pci\"" : "");
    snprintf(out, cap, "{\"method\":\"%s\",\"min_window_ms\":%d,\"gpu\":\"%s\",\"arch\":\"%s\"%s}",
             method, win_ms, nm, nvml_arch_name(g->arch), cuda);
}

/* Decides counter vs power and declares the GPU's channels. */
static int nvml_open_gpu(nvml_state *s, nvml_gpu *g, jb_channel_list *ch, jb_err *err)
{
    nvml_api *a = &s->api;
    unsigned u;
    unsigned long long mj = 0;
    nvml_util ut;
    nvml_mem m;
    g->has_counter = a->energy && a->energy(g->dev, &mj) == NV_SUCCESS && mj > 0;
    g->base_mj = mj;
    bool has_power = a->power && a->power(g->dev, &u) == NV_SUCCESS;
    if (!g->has_counter && !has_power)
        return jb_errf(err,
                       "nvml: GPU %u (%s): neither the energy counter nor the power reading "
                       "is available; use the nvidia-smi source or a wall meter",
                       g->index, g->name);
    char meta[256];
    int rc = 0;
    if (g->has_counter) {
        nvml_gpu_meta(s, g, "counter", 100, meta, sizeof meta);
        rc |=
            nvml_add(ch, g, RD_ENERGY, "energy", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_TOTAL, meta);
    }
    if (has_power) {
        nvml_gpu_meta(s, g, g->has_counter ? "power-sensor" : "power-integrated",
                      nvml_power_window_ms(g), meta, sizeof meta);
        rc |= nvml_add(ch, g, RD_POWER, "power", "W", JB_KIND_POWER,
                       g->has_counter ? JB_ROLE_PART : JB_ROLE_TOTAL, meta);
    }
    if (a->util && a->util(g->dev, &ut) == NV_SUCCESS) {
        rc |= nvml_add(ch, g, RD_UTIL_GPU, "util_gpu", "%", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
        rc |= nvml_add(ch, g, RD_UTIL_MEM, "util_memory", "%", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
    }
    if (a->mem && a->mem(g->dev, &m) == NV_SUCCESS) {
        rc |= nvml_add(ch, g, RD_MEM_USED, "memory_used", "B", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
        rc |= nvml_add(ch, g, RD_MEM_TOTAL, "memory_total", "B", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
    }
    if (a->temp && a->temp(g->dev, 0, &u) == NV_SUCCESS)
        rc |= nvml_add(ch, g, RD_TEMP, "temperature", "°C", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
    if (a->limit && a->limit(g->dev, &u) == NV_SUCCESS)
        rc |= nvml_add(ch, g, RD_LIMIT, "power_limit", "W", JB_KIND_GAUGE, JB_ROLE_NONE, NULL);
    if (rc) return jb_errf(err, "nvml: too many channels (limit %d)", JB_MAX_CHANNELS);
    return 0;
}

/* Fills name, UUID, architecture and CUDA number of GPU idx. */
static int nvml_describe(nvml_state *s, nvml_gpu *g, unsigned idx, const char *cvd, jb_err *err)
{
    nvml_api *a = &s->api;
    int rc = a->handle(idx, &g->dev);
    if (rc != NV_SUCCESS)
        return jb_errf(err,
                       "nvml: GPU %u: nvmlDeviceGetHandleByIndex_v2: %s (%d); check "
                       "nvidia-smi (a GPU may have fallen off the bus)",
                       idx, nvml_strerror(a, rc), rc);
    g->index = idx;
    if (!a->name || a->name(g->dev, g->name, sizeof g->name) != NV_SUCCESS)
        snprintf(g->name, sizeof g->name, "NVIDIA GPU %u", idx);
    g->name[sizeof g->name - 1] = 0;
    if (!a->uuid || a->uuid(g->dev, g->uuid, sizeof g->uuid) != NV_SUCCESS) g->uuid[0] = 0;
    g->uuid[sizeof g->uuid - 1] = 0;
    if (!a->arch || a->arch(g->dev, &g->arch) != NV_SUCCESS) g->arch = 0;
    bool by_index = !cvd;
    g->cuda = cvd ? nvml_cuda_number(cvd, idx, g->uuid, &by_index) : (int)idx;
    const char *order = getenv("CUDA_DEVICE_ORDER");
    if (by_index && (!order || strcmp(order, "PCI_BUS_ID"))) s->cuda_order_assumed = true;
    return 0;
}

static int nvml_open(const jb_source_env *env, void **state, jb_channel_list *ch, jb_err *err)
{
    nvml_state *s = calloc(1, sizeof *s);
    if (!s) return jb_errf(err, "nvml: out of memory");
    if (nvml_load(&s->api, nvml_library(env), err) < 0) {
        free(s);
        return -1;
    }
    nvml_api *a = &s->api;
    char reason[256], fix[256];
    unsigned n = 0;
    int rc = a->init();
    if (rc == NV_SUCCESS) {
        rc = a->count(&n);
        if (rc != NV_SUCCESS) a->shutdown();
    }
    if (rc != NV_SUCCESS) {
        nvml_explain(a, "nvmlInit_v2", rc, reason, sizeof reason, fix, sizeof fix);
        nvml_unload(a);
        free(s);
        return jb_errf(err, "%s; %s", reason, fix);
    }
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    const char *devs = jb_source_opt_get(env, "nvml", "devices");
    bool visible_only = devs && !strcmp(devs, "visible") && cvd;
    int first = ch->n;
    for (unsigned i = 0; i < n && s->ngpu < NVML_MAX_GPUS; i++) {
        nvml_gpu *g = &s->gpu[s->ngpu];
        if (nvml_describe(s, g, i, cvd, err) < 0) goto fail;
        if (visible_only && g->cuda < 0) continue;
        if (nvml_open_gpu(s, g, ch, err) < 0) goto fail;
        s->ngpu++;
    }
    if (!s->ngpu) {
        jb_errf(err, "nvml: no NVIDIA GPU found%s; check nvidia-smi",
                visible_only ? " among CUDA_VISIBLE_DEVICES" : "");
        goto fail;
    }
    *state = s;
    return 0;
fail:
    ch->n = first;
    a->shutdown();
    nvml_unload(a);
    free(s);
    return -1;
}

/* One reading; returns an nvmlReturn_t. */
static int nvml_read_one(const nvml_api *a, nvml_gpu *g, nvml_reading rd, double *v)
{
    unsigned u = 0;
    unsigned long long mj = 0;
    int rc;
    switch (rd) {
    case RD_ENERGY:
        rc = a->energy(g->dev, &mj);
        *v = ((double)mj - (double)g->base_mj) / 1000.0;
        return rc;
    case RD_POWER:
        rc = a->power(g->dev, &u);
        *v = u / 1000.0;
        return rc;
    case RD_UTIL_GPU: /* one call serves both: util_memory follows util_gpu */
        g->util_rc = a->util(g->dev, &g->util);
        *v = g->util.gpu;
        return g->util_rc;
    case RD_UTIL_MEM:
        *v = g->util.memory;
        return g->util_rc;
    case RD_MEM_USED: /* likewise memory_total follows memory_used */
        g->mem_rc = a->mem(g->dev, &g->mem);
        *v = (double)g->mem.used;
        return g->mem_rc;
    case RD_MEM_TOTAL:
        *v = (double)g->mem.total;
        return g->mem_rc;
    case RD_TEMP:
        rc = a->temp(g->dev, 0, &u);
        *v = u;
        return rc;
    case RD_LIMIT:
        rc = a->limit(g->dev, &u);
        *v = u / 1000.0;
        return rc;
    }
    return NV_NOT_SUPPORTED;
}

static int nvml_read(void *state, int64_t now_ns, double *values, uint8_t *ok)
{
    nvml_state *s = state;
    int k = 0, good = 0;
    for (int gi = 0; gi < s->ngpu; gi++) {
        nvml_gpu *g = &s->gpu[gi];
        for (int c = 0; c < g->nch; c++, k++) {
            ok[k] = 0;
            values[k] = 0;
            if (g->lost) continue;
            int rc = nvml_read_one(&s->api, g, g->rd[c], &values[k]);
            if (rc == NV_GPU_IS_LOST) g->lost = true;
            /* A counter below its base would be a reset: a gap, not negative J. */
            ok[k] = rc == NV_SUCCESS && values[k] >= 0;
            good += ok[k];
        }
    }
    (void)now_ns;
    return good ? 0 : -1;
}

static void nvml_close(void *state)
{
    nvml_state *s = state;
    if (!s) return;
    s->api.shutdown();
    nvml_unload(&s->api);
    free(s);
}

static void nvml_host_info(void *state, jb_buf *out)
{
    nvml_state *s = state;
    for (int i = 0; i < s->ngpu; i++) {
        const nvml_gpu *g = &s->gpu[i];
        jb_buf_printf(out, "gpu%u.name=%s\ngpu%u.arch=%s\n", g->index, g->name, g->index,
                      nvml_arch_name(g->arch));
        if (g->uuid[0]) jb_buf_printf(out, "gpu%u.uuid=%s\n", g->index, g->uuid);
        jb_buf_printf(out, "gpu%u.energy=%s\n", g->index,
                      g->has_counter ? "counter" : "power-integrated");
        if (g->cuda >= 0) jb_buf_printf(out, "gpu%u.cuda=%d\n", g->index, g->cuda);
    }
}

static int nvml_probe(const jb_source_env *env, char *reason, size_t rcap, char *fix, size_t fcap)
{
    nvml_api a;
    jb_err err;
    const char *path = nvml_library(env);
    if (nvml_load(&a, path, &err) < 0) {
        snprintf(reason, rcap, "%s", err.msg);
        snprintf(fix, fcap,
                 "install the NVIDIA driver (it ships %s), or set nvml.library=PATH "
                 "or JOULEBENCH_NVML_LIB to where it is",
                 NVML_DEFAULT_LIB);
        return 0;
    }
    unsigned n = 0;
    int rc = a.init();
    if (rc == NV_SUCCESS) {
        rc = a.count(&n);
        if (rc != NV_SUCCESS) {
            nvml_explain(&a, "nvmlDeviceGetCount_v2", rc, reason, rcap, fix, fcap);
        } else if (n == 0) {
            snprintf(reason, rcap, "NVML: no NVIDIA GPU found");
            snprintf(fix, fcap,
                     "check nvidia-smi -L; in a container, pass the GPUs through "
                     "(--gpus all)");
            rc = NV_NOT_FOUND;
        }
        a.shutdown();
    } else {
        nvml_explain(&a, "nvmlInit_v2", rc, reason, rcap, fix, fcap);
    }
    nvml_unload(&a);
    return rc == NV_SUCCESS;
}

const jb_source_driver jb_src_nvml = {
    .name = "nvml",
    .description = "NVIDIA GPUs via NVML: energy counter (Volta+) or power, utilisation, memory, "
                   "temperature",
    .is_power = true,
    .in_default = true,
    .scope = JB_SCOPE_COMPONENT,
    .family = "gpu",
    .probe = nvml_probe,
    .open = nvml_open,
    .read = nvml_read,
    .close = nvml_close,
    .host_info = nvml_host_info,
};
