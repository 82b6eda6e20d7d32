/*
 * test_nvml.c — the nvml source against the fake libnvidia-ml.so.1
 * (tests/fakes/fake_nvml.c, built to $BUILD/tests/fake/). The fake serves a
 * constant power per GPU and an energy counter that is exactly power × time
 * on a virtual clock the test sets, so the true energy is known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "testutil.h"

extern const jb_source_driver jb_src_nvml;

static char fake_path[PATH_MAX];
static void *fake;
static void (*set_clock)(long long);
static int (*init_count)(void);

typedef struct fixture {
    jb_source_opt opts[4];
    jb_source_env env;
    jb_channel_list ch;
    void *state;
    double v[JB_MAX_CHANNELS];
    uint8_t ok[JB_MAX_CHANNELS];
} fixture;

static int group_setup(void **st)
{
    const char *b = getenv("BUILD");
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/tests/fake/libnvidia-ml.so.1", b && *b ? b : "build");
    if (!realpath(rel, fake_path)) {
        fprintf(stderr, "fake NVML not built: %s (run make unit-bins)\n", rel);
        return -1;
    }
    fake = dlopen(fake_path, RTLD_NOW);
    if (!fake) return -1;
    *(void **)&set_clock = dlsym(fake, "fake_nvml_set_clock_ms");
    *(void **)&init_count = dlsym(fake, "fake_nvml_init_count");
    return set_clock && init_count ? 0 : -1;
    (void)st;
}

static int group_teardown(void **st)
{
    dlclose(fake);
    (void)st;
    return 0;
}

static int setup(void **st)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    f.opts[0] = (jb_source_opt){"nvml.library", fake_path};
    f.env = (jb_source_env){.root = "/", .interval_ns = 100000000, .opts = f.opts, .nopts = 1};
    const char *vars[] = {"FAKE_NVML_MODE",     "FAKE_NVML_GPUS",          "FAKE_NVML_POWER_W",
                          "FAKE_NVML_LOST_GPU", "FAKE_NVML_LOST_AFTER_MS", "CUDA_VISIBLE_DEVICES",
                          "CUDA_DEVICE_ORDER",  "JOULEBENCH_NVML_LIB"};
    for (size_t i = 0; i < JB_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
    set_clock(0);
    *st = &f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    if (f->state) jb_src_nvml.close(f->state);
    f->state = NULL;
    assert_int_equal(init_count(), 0); /* every nvmlInit_v2 was shut down */
    return 0;
}

static int find(const fixture *f, const char *name)
{
    return tu_find(&f->ch, name);
}

static void open_ok(fixture *f)
{
    tu_open_ok(&jb_src_nvml, &f->env, &f->state, &f->ch);
}

static void read_at(fixture *f, long long ms, int want_rc)
{
    set_clock(ms);
    assert_int_equal(jb_src_nvml.read(f->state, ms * 1000000LL, f->v, f->ok), want_rc);
}

/* The meta must be valid JSON; returns a string member (static copy) or "". */
static const char *meta_str(const fixture *f, int i, const char *key)
{
    static char out[128];
    json_object *o = json_tokener_parse(f->ch.ch[i].meta);
    assert_non_null(o);
    json_object *m;
    out[0] = 0;
    if (json_object_object_get_ex(o, key, &m))
        snprintf(out, sizeof out, "%s", json_object_get_string(m));
    json_object_put(o);
    return out;
}

static void test_counter_exact_energy(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_GPUS", "2", 1);
    setenv("FAKE_NVML_POWER_W", "150", 1);
    open_ok(f);
    int e0 = find(f, "nvml/0/energy"), e1 = find(f, "nvml/1/energy");
    int p0 = find(f, "nvml/0/power");
    assert_true(e0 >= 0 && e1 >= 0 && p0 >= 0);
    assert_int_equal(f->ch.ch[e0].kind, JB_KIND_ENERGY_COUNTER);
    assert_string_equal(f->ch.ch[e0].unit, "J");
    assert_int_equal(f->ch.ch[e0].role, JB_ROLE_TOTAL);
    assert_int_equal(f->ch.ch[p0].role, JB_ROLE_PART); /* never summed with the counter */
    assert_string_equal(meta_str(f, e0, "method"), "counter");
    assert_string_equal(meta_str(f, e0, "min_window_ms"), "100");
    assert_string_equal(meta_str(f, e0, "arch"), "Hopper");
    assert_string_equal(meta_str(f, e0, "gpu"), "NVIDIA Fake H100 0"); /* quotes dropped */
    read_at(f, 2000, 0);
    assert_true(f->ok[e0] && f->ok[e1] && f->ok[p0]);
    assert_float_equal(f->v[e0], 300.0, 1e-9); /* 150 W × 2 s */
    assert_float_equal(f->v[e1], 320.0, 1e-9); /* 160 W × 2 s */
    assert_float_equal(f->v[p0], 150.0, 1e-9);
    read_at(f, 2500, 0);
    assert_float_equal(f->v[e0], 375.0, 1e-9);
    assert_float_equal(f->v[find(f, "nvml/1/util_gpu")], 51, 0);
    assert_float_equal(f->v[find(f, "nvml/0/util_memory")], 20, 0);
    assert_float_equal(f->v[find(f, "nvml/1/memory_used")], 2.0 * (1 << 30), 0);
    assert_float_equal(f->v[find(f, "nvml/0/memory_total")], 80.0 * (1 << 30), 0);
    assert_float_equal(f->v[find(f, "nvml/1/temperature")], 41, 0);
    assert_float_equal(f->v[find(f, "nvml/0/power_limit")], 700, 0);
    assert_string_equal(f->ch.ch[find(f, "nvml/0/temperature")].unit, "°C");
    jb_buf b = {0};
    jb_src_nvml.host_info(f->state, &b);
    assert_non_null(strstr(b.data, "gpu0.name=NVIDIA Fake \"H100\" 0\n"));
    assert_non_null(strstr(b.data, "gpu1.arch=Hopper\n"));
    assert_non_null(strstr(b.data, "gpu1.energy=counter\n"));
    jb_buf_free(&b);
}

/* No counter: power is the GPU's total, and no energy channel pretends 0 J. */
static void assert_power_fallback(fixture *f, const char *watts)
{
    open_ok(f);
    int p0 = find(f, "nvml/0/power");
    assert_true(p0 >= 0);
    assert_int_equal(find(f, "nvml/0/energy"), -1);
    for (int i = 0; i < f->ch.n; i++)
        assert_int_not_equal(f->ch.ch[i].kind, JB_KIND_ENERGY_COUNTER);
    assert_int_equal(f->ch.ch[p0].kind, JB_KIND_POWER);
    assert_int_equal(f->ch.ch[p0].role, JB_ROLE_TOTAL);
    assert_string_equal(meta_str(f, p0, "method"), "power-integrated");
    read_at(f, 1000, 0);
    assert_true(f->ok[p0]);
    assert_float_equal(f->v[p0], atof(watts), 1e-9);
    jb_buf b = {0};
    jb_src_nvml.host_info(f->state, &b);
    assert_non_null(strstr(b.data, "gpu0.energy=power-integrated\n"));
    jb_buf_free(&b);
}

static void test_power_fallback(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "power", 1);
    setenv("FAKE_NVML_POWER_W", "87.5", 1);
    assert_power_fallback(f, "87.5");
    assert_string_equal(meta_str(f, find(f, "nvml/0/power"), "arch"), "Pascal");
}

static void test_zero_counter_not_trusted(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "zero", 1);
    assert_power_fallback(f, "100");
}

static void test_probe_ok(void **st)
{
    fixture *f = *st;
    char reason[256] = "", fix[256] = "";
    assert_int_equal(jb_src_nvml.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 1);
}

static void test_no_permission(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "noperm", 1);
    tu_assert_unusable(&jb_src_nvml, &f->env, &f->state, &f->ch, "NVML: no permission",
                       "/dev/nvidia", "no permission");
}

static void test_driver_not_loaded(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "nodriver", 1);
    tu_assert_unusable(&jb_src_nvml, &f->env, &f->state, &f->ch, "Driver Not Loaded",
                       "modprobe nvidia", "Driver Not Loaded");
}

static void test_library_missing(void **st)
{
    fixture *f = *st;
    char reason[512] = "", fix[256] = "";
    f->opts[0].value = "/nonexistent/libnvidia-ml.so.1";
    assert_int_equal(jb_src_nvml.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_string_equal(reason, "/nonexistent/libnvidia-ml.so.1 not found (no NVIDIA driver)");
    assert_non_null(strstr(fix, "nvml.library="));
    /* The environment variable is honoured when no option is given. */
    f->env.nopts = 0;
    setenv("JOULEBENCH_NVML_LIB", "/nonexistent/other.so", 1);
    assert_int_equal(jb_src_nvml.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "/nonexistent/other.so not found"));
    setenv("JOULEBENCH_NVML_LIB", fake_path, 1);
    assert_int_equal(jb_src_nvml.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 1);
    /* A library that is not NVML at all. */
    setenv("JOULEBENCH_NVML_LIB", "libm.so.6", 1);
    assert_int_equal(jb_src_nvml.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "not an NVML library"));
}

static void test_gpu_lost_mid_run(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "lost", 1);
    setenv("FAKE_NVML_GPUS", "2", 1);
    setenv("FAKE_NVML_LOST_GPU", "1", 1);
    setenv("FAKE_NVML_LOST_AFTER_MS", "1000", 1);
    open_ok(f);
    int e0 = find(f, "nvml/0/energy"), e1 = find(f, "nvml/1/energy");
    read_at(f, 500, 0);
    assert_true(f->ok[e0] && f->ok[e1]);
    assert_float_equal(f->v[e1], 55.0, 1e-9); /* 110 W × 0.5 s */
    read_at(f, 1500, 0);
    assert_true(f->ok[e0]);
    assert_float_equal(f->v[e0], 150.0, 1e-9);
    for (int i = 0; i < f->ch.n; i++)
        if (!strncmp(f->ch.ch[i].name, "nvml/1/", 7)) assert_int_equal(f->ok[i], 0);
    read_at(f, 3000, 0);
    assert_float_equal(f->v[e0], 300.0, 1e-9);
    assert_int_equal(f->ok[e1], 0);
}

static void test_only_gpu_lost(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_MODE", "lost", 1);
    setenv("FAKE_NVML_LOST_AFTER_MS", "200", 1);
    open_ok(f);
    read_at(f, 100, 0);
    read_at(f, 300, -1); /* nothing readable: a gap in every channel, no crash */
    for (int i = 0; i < f->ch.n; i++)
        assert_int_equal(f->ok[i], 0);
}

static void test_cuda_visible_devices(void **st)
{
    fixture *f = *st;
    setenv("FAKE_NVML_GPUS", "3", 1);
    /* CUDA device 0 is NVML GPU 2 (by UUID prefix), CUDA device 1 is GPU 0. */
    setenv("CUDA_VISIBLE_DEVICES", "GPU-00000002-fake,0", 1);
    open_ok(f);
    assert_string_equal(meta_str(f, find(f, "nvml/2/energy"), "cuda"), "0");
    assert_string_equal(meta_str(f, find(f, "nvml/0/energy"), "cuda"), "1");
    assert_string_equal(meta_str(f, find(f, "nvml/1/energy"), "cuda"), "");
    assert_string_equal(meta_str(f, find(f, "nvml/0/energy"), "cuda_order"), "assumed-pci");
    jb_src_nvml.close(f->state);
    f->state = NULL;
    /* Only the visible GPUs, in PCI order as stated. */
    f->ch.n = 0;
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
    f->opts[1] = (jb_source_opt){"nvml.devices", "visible"};
    f->env.nopts = 2;
    open_ok(f);
    assert_true(find(f, "nvml/0/energy") >= 0 && find(f, "nvml/2/energy") >= 0);
    assert_int_equal(find(f, "nvml/1/energy"), -1);
    assert_string_equal(meta_str(f, find(f, "nvml/0/energy"), "cuda_order"), "");
    jb_src_nvml.close(f->state);
    f->state = NULL;
    /* None of ours visible: a clear error. */
    f->ch.n = 0;
    setenv("CUDA_VISIBLE_DEVICES", "7", 1);
    jb_err err = {{0}};
    assert_int_equal(jb_src_nvml.open(&f->env, &f->state, &f->ch, &err), -1);
    assert_non_null(strstr(err.msg, "CUDA_VISIBLE_DEVICES"));
    assert_int_equal(f->ch.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_exact_energy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_counter_not_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_permission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_not_loaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_lost_mid_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_gpu_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cuda_visible_devices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
