/*
 * fake_nvml.c — a stand-in libnvidia-ml.so.1 for the tests: the NVML entry
 * points the nvml source resolves with dlsym, serving a known profile so the
 * tests know the true energy. Built by the Makefile into
 * $(BUILD)/tests/fake/libnvidia-ml.so.1.
 *
 * Driven by environment variables read at nvmlInit_v2():
 *   FAKE_NVML_MODE   counter (default) | power (energy counter NOT_SUPPORTED,
 *                    Pascal) | zero (counter "works" but reads 0) | noperm
 *                    (init → NO_PERMISSION) | nodriver (init → DRIVER_NOT_LOADED)
 *                    | lost (GPU FAKE_NVML_LOST_GPU, default the last, returns
 *                    GPU_IS_LOST from FAKE_NVML_LOST_AFTER_MS, default 1000)
 *   FAKE_NVML_GPUS   number of GPUs (default 1)
 *   FAKE_NVML_POWER_W  power of GPU 0 in W (default 100); GPU i draws +10 W·i
 * Profile of GPU i: constant power P_i; energy counter = 1000000 + 7·i mJ +
 * P_i · t (W·ms = mJ), where t is ms since nvmlInit_v2 on the real monotonic
 * clock, or the virtual clock once a test calls fake_nvml_set_clock_ms().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX 16

typedef struct nvmlDevice_st {
    unsigned idx;
} fake_dev;

typedef struct {
    unsigned gpu, memory;
} fake_util;
typedef struct {
    unsigned long long total, free, used;
} fake_mem;

static fake_dev devs[FAKE_MAX];
static char mode[32] = "counter";
static unsigned ngpu = 1;
static double power_w = 100;
static long long lost_after_ms = 1000;
static unsigned lost_gpu;
static int inits;
static long long t0_ms;
static int virtual_clock;
static long long virtual_ms;

static long long real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long now_ms(void)
{
    return virtual_clock ? virtual_ms : real_ms() - t0_ms;
}

/* Test controls, found with dlsym on the same handle. */
void fake_nvml_set_clock_ms(long long ms)
{
    virtual_clock = 1;
    virtual_ms = ms;
}
int fake_nvml_init_count(void)
{
    return inits;
}

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

int nvmlInit_v2(void)
{
    snprintf(mode, sizeof mode, "%s", env_or("FAKE_NVML_MODE", "counter"));
    ngpu = (unsigned)atoi(env_or("FAKE_NVML_GPUS", "1"));
    if (ngpu > FAKE_MAX) ngpu = FAKE_MAX;
    power_w = atof(env_or("FAKE_NVML_POWER_W", "100"));
    lost_after_ms = atoll(env_or("FAKE_NVML_LOST_AFTER_MS", "1000"));
    lost_gpu = (unsigned)atoi(env_or("FAKE_NVML_LOST_GPU", "-1"));
    if (lost_gpu >= ngpu) lost_gpu = ngpu ? ngpu - 1 : 0;
    if (!strcmp(mode, "noperm")) return 4;
    if (!strcmp(mode, "nodriver")) return 9;
    for (unsigned i = 0; i < FAKE_MAX; i++)
        devs[i].idx = i;
    if (!inits++) t0_ms = real_ms();
    return 0;
}

int nvmlShutdown(void)
{
    if (inits <= 0) return 1; /* UNINITIALIZED */
    inits--;
    return 0;
}

const char *nvmlErrorString(int rc)
{
    switch (rc) {
    case 0:
        return "Success";
    case 3:
        return "Not Supported";
    case 4:
        return "Insufficient Permissions";
    case 9:
        return "Driver Not Loaded";
    case 15:
        return "GPU is lost";
    default:
        return "Unknown Error";
    }
}

/* 0 when dev may be used, else the nvmlReturn_t to give back. */
static int check(const fake_dev *d)
{
    if (inits <= 0) return 1;
    if (!d || d->idx >= ngpu) return 2;
    if (!strcmp(mode, "lost") && d->idx == lost_gpu && now_ms() >= lost_after_ms) return 15;
    return 0;
}

static double gpu_power(unsigned i)
{
    return power_w + 10.0 * i;
}

int nvmlDeviceGetCount_v2(unsigned *n)
{
    if (inits <= 0) return 1;
    *n = ngpu;
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, fake_dev **d)
{
    if (inits <= 0) return 1;
    if (i >= ngpu) return 2;
    *d = &devs[i];
    return 0;
}

int nvmlDeviceGetName(fake_dev *d, char *name, unsigned len)
{
    int rc = check(d);
    if (!rc) snprintf(name, len, "NVIDIA Fake \"H100\" %u", d->idx);
    return rc;
}

int nvmlDeviceGetUUID(fake_dev *d, char *uuid, unsigned len)
{
    int rc = check(d);
    if (!rc) snprintf(uuid, len, "GPU-0000000%u-fake-4000-8000-00000000000%u", d->idx, d->idx);
    return rc;
}

int nvmlDeviceGetArchitecture(fake_dev *d, unsigned *arch)
{
    int rc = check(d);
    if (!rc) *arch = !strcmp(mode, "power") ? 4 : 9; /* Pascal / Hopper */
    return rc;
}

int nvmlDeviceGetTotalEnergyConsumption(fake_dev *d, unsigned long long *mj)
{
    int rc = check(d);
    if (rc) return rc;
    if (!strcmp(mode, "power")) return 3;
    if (!strcmp(mode, "zero")) {
        *mj = 0;
        return 0;
    }
    *mj = 1000000ULL + 7ULL * d->idx + (unsigned long long)(gpu_power(d->idx) * (double)now_ms());
    return 0;
}

int nvmlDeviceGetPowerUsage(fake_dev *d, unsigned *mw)
{
    int rc = check(d);
    if (!rc) *mw = (unsigned)(gpu_power(d->idx) * 1000.0 + 0.5);
    return rc;
}

int nvmlDeviceGetUtilizationRates(fake_dev *d, fake_util *u)
{
    int rc = check(d);
    if (!rc) {
        u->gpu = 50 + d->idx;
        u->memory = 20 + d->idx;
    }
    return rc;
}

int nvmlDeviceGetMemoryInfo(fake_dev *d, fake_mem *m)
{
    int rc = check(d);
    if (!rc) {
        m->total = 80ULL << 30;
        m->used = (1ULL << 30) * (d->idx + 1);
        m->free = m->total - m->used;
    }
    return rc;
}

int nvmlDeviceGetTemperature(fake_dev *d, int sensor, unsigned *t)
{
    int rc = check(d);
    if (!rc && sensor != 0) return 2;
    if (!rc) *t = 40 + d->idx;
    return rc;
}

int nvmlDeviceGetEnforcedPowerLimit(fake_dev *d, unsigned *mw)
{
    int rc = check(d);
    if (!rc) *mw = 700000;
    return rc;
}
