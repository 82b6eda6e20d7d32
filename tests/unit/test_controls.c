/*
 * test_controls.c — the reproducibility controls and the system snapshot
 * (src/controls.c) on fake /proc and /sys trees: CPU busy %, process table
 * and top processes (delta and lifetime), the quiet wait (a thread plays a
 * busy then idle machine through a fake /proc/stat), drop_caches into a fake
 * file, the reset command, the seed variables, the snapshot fields, the GPU
 * memory check against the fake NVML, and garbage /proc files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "controls.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", root, rel);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    rename(tmp, path); /* atomic: a reader never sees half a file */
}

static void put_stat(int pid, const char *comm, unsigned long long ut, unsigned long long st,
                     unsigned long long start)
{
    char rel[64], text[512];
    snprintf(rel, sizeof rel, "/proc/%d/stat", pid);
    snprintf(text, sizeof text,
             "%d (%s) S 1 %d %d 0 -1 4194560 100 0 0 0 %llu %llu 0 0 20 0 1 0 %llu 1000 10 "
             "18446744073709551615\n",
             pid, comm, pid, pid, ut, st, start);
    put(rel, text);
}

static int setup(void **state)
{
    snprintf(root, sizeof root, "%s/jbctl-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_cpu_times_and_busy(void **state)
{
    put("/proc/stat", "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
    jb_cpu_load a, b;
    assert_int_equal(jb_cpu_times_read(root, &a), 0);
    assert_true(a.total == 1000);
    assert_true(a.busy == 150);
    /* 400 ticks pass, 100 busy (25 %), 20 of them joulebench's own */
    put("/proc/stat", "cpu  180 0 70 1090 60 0 0 0 0 0\n");
    assert_int_equal(jb_cpu_times_read(root, &b), 0);
    assert_true(fabs(jb_cpu_busy_pct(&a, &b, 0) - 25.0) < 1e-9);
    assert_true(fabs(jb_cpu_busy_pct(&a, &b, 20) - 20.0) < 1e-9);
    assert_true(jb_cpu_busy_pct(&a, &b, 1000) == 0.0); /* clamped */
    assert_true(isnan(jb_cpu_busy_pct(&b, &a, 0)));    /* no time passed */
    /* guest time is inside user: not counted twice */
    put("/proc/stat", "cpu  100 0 0 100 0 0 0 0 100 0\n");
    assert_int_equal(jb_cpu_times_read(root, &a), 0);
    assert_true(a.total == 200);
}

static void test_garbage_proc_files(void **state)
{
    jb_cpu_load t;
    const char *bad[] = {"",
                         "cpu",
                         "cpu0 1 2 3 4\n",
                         "intr 1 2\n",
                         "cpu  x y z\n",
                         "cpu  1 2\n",
                         "\xff\xfe garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("/proc/stat", bad[i]);
        assert_int_equal(jb_cpu_times_read(root, &t), -1);
    }
    /* random and truncated stat lines never crash the process table */
    srand(7);
    char text[256];
    for (int k = 0; k < 300; k++) {
        size_t n = (size_t)(rand() % 200);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)(rand() % 96 + 32);
        text[n] = 0;
        if (k % 3 == 0)
            snprintf(text, sizeof text, "42 (x%.*s", (int)(rand() % 40),
                     "1 2 3 4 5 6 7 8 9 10 11 12");
        put("/proc/42/stat", text);
        jb_proc_table pt;
        assert_int_equal(jb_proc_table_read(root, &pt), 0);
        jb_proc_table_free(&pt);
        (void)jb_proc_ticks(root, 42);
    }
    put("/proc/42/stat", "42 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12\n"); /* short */
    assert_true(jb_proc_ticks(root, 42) == 0);
    assert_true(jb_proc_ticks(root, 99999) == 0); /* missing */
}

static void test_top_procs(void **state)
{
    long hz = sysconf(_SC_CLK_TCK);
    put("/proc/uptime", "1000.00 1500.00\n");
    /* lifetime: started at 900 s (100 s ago): 50 s of CPU = 50 % */
    put_stat(10, "trainer", (unsigned long long)(40 * hz), (unsigned long long)(10 * hz),
             (unsigned long long)(900 * hz));
    put_stat(11, "idle one", 0, 0, (unsigned long long)(10 * hz));
    put_stat(12, "busy (x)", (unsigned long long)(90 * hz), 0, (unsigned long long)(900 * hz));
    put_stat(13, "self", (unsigned long long)(99 * hz), 0, (unsigned long long)(900 * hz));
    jb_proc_table t0;
    assert_int_equal(jb_proc_table_read(root, &t0), 0);
    assert_int_equal((int)t0.n, 4);
    jb_top_proc top[5];
    size_t n = jb_top_procs(root, NULL, &t0, 13, top, 5);
    assert_int_equal((int)n, 2); /* idle one has no CPU, self is skipped */
    assert_int_equal(top[0].pid, 12);
    assert_string_equal(top[0].comm, "busy (x)"); /* ')' inside the name */
    assert_true(fabs(top[0].cpu_pct - 90.0) < 0.01);
    assert_int_equal(top[1].pid, 10);
    assert_true(fabs(top[1].cpu_pct - 50.0) < 0.01);
    /* delta: over 2 s, trainer used 1 s (50 %), busy used nothing */
    jb_proc_table t1;
    assert_int_equal(jb_proc_table_read(root, &t1), 0);
    for (size_t i = 0; i < t1.n; i++)
        if (t1.e[i].pid == 10) t1.e[i].ticks += (unsigned long long)hz;
    t1.mono_ns = t0.mono_ns + 2000000000LL;
    n = jb_top_procs(root, &t0, &t1, 13, top, 1);
    assert_int_equal((int)n, 1);
    assert_int_equal(top[0].pid, 10);
    assert_true(fabs(top[0].cpu_pct - 50.0) < 0.01);
    jb_proc_table_free(&t0);
    jb_proc_table_free(&t1);
}

/* A fake machine: busy (50 %) for busy_ms, then idle; /proc/stat every 20 ms. */
typedef struct fake_cpu {
    int busy_ms;
    volatile int stop;
} fake_cpu;

static void *cpu_thread(void *arg)
{
    fake_cpu *f = arg;
    unsigned long long busy = 0, idle = 0;
    for (int ms = 0; !f->stop; ms += 20) {
        if (ms < f->busy_ms)
            busy += 2, idle += 2;
        else
            idle += 4;
        char text[128];
        snprintf(text, sizeof text, "cpu  %llu 0 0 %llu 0 0 0 0 0 0\n", busy, idle);
        put("/proc/stat", text);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_quiet_wait(void **state)
{
    put("/proc/stat", "cpu  0 0 0 0 0 0 0 0 0 0\n");
    put_stat(12, "hog", 100, 0, 1);
    fake_cpu f = {.busy_ms = 400};
    pthread_t th;
    pthread_create(&th, NULL, cpu_thread, &f);
    jb_quiet_opts o = {.root = root,
                       .threshold_pct = 10,
                       .window_ns = 200000000LL,
                       .timeout_ns = 3000000000LL,
                       .poll_ns = 50000000LL,
                       .self = 99999};
    jb_quiet_result r;
    int64_t t0 = jb_mono_ns();
    assert_int_equal(jb_quiet_wait(&o, &r, NULL), 0);
    int64_t took = jb_mono_ns() - t0;
    assert_true(r.quiet);
    assert_true(r.max_pct >= 40); /* saw the busy phase */
    assert_true(r.last_pct < 10);
    assert_true(took >= 550000000LL); /* 400 ms busy + 200 ms window (less a poll) */
    json_object *j = jb_quiet_json(&o, &r, true);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "applied");
    json_object_put(j);

    /* always busy: timeout, fail, and the busiest process named */
    f.stop = 1;
    pthread_join(th, NULL);
    fake_cpu g = {.busy_ms = 1 << 30};
    pthread_create(&th, NULL, cpu_thread, &g);
    o.timeout_ns = 400000000LL;
    assert_int_equal(jb_quiet_wait(&o, &r, NULL), 0);
    g.stop = 1;
    pthread_join(th, NULL);
    assert_false(r.quiet);
    assert_true(r.waited_ns >= 400000000LL && r.waited_ns < 1500000000LL);
    j = jb_quiet_json(&o, &r, true);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "failed");
    assert_non_null(
        strstr(json_object_get_string(json_object_object_get(j, "reason")), "CPU not below 10 %"));
    json_object_put(j);
    j = jb_quiet_json(&o, &r, false);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "warning");
    json_object_put(j);

    /* no /proc/stat: an error naming the file */
    jb_quiet_opts bad = o;
    bad.root = "/nonexistent-root";
    jb_err err;
    assert_int_equal(jb_quiet_wait(&bad, &r, &err), -1);
    assert_non_null(strstr(err.msg, "/proc/stat"));
}

static void test_drop_caches(void **state)
{
    put("/proc/sys/vm/drop_caches", "0\n");
    json_object *j = jb_drop_caches(root);
    const char *st = json_object_get_string(json_object_object_get(j, "status"));
    char buf[16];
    if (geteuid() == 0) {
        assert_string_equal(st, "applied");
        assert_true(jb_read_file(root, "/proc/sys/vm/drop_caches", buf, sizeof buf) > 0);
        assert_string_equal(buf, "3\n");
    } else {
        assert_string_equal(st, "skipped");
        assert_non_null(
            strstr(json_object_get_string(json_object_object_get(j, "reason")), "not root"));
    }
    json_object_put(j);
    if (geteuid() == 0) { /* no such file under the root: failed, with the path */
        char missing[300];
        snprintf(missing, sizeof missing, "%s/none", root);
        j = jb_drop_caches(missing);
        assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "failed");
        assert_non_null(strstr(json_object_get_string(json_object_object_get(j, "reason")),
                               "/none/proc/sys/vm/drop_caches"));
        json_object_put(j);
    }
}

static void test_reset_and_seed(void **state)
{
    char *ok_argv[] = {"sh", "-c", "exit 0", NULL};
    bool ok = false;
    json_object *j = jb_reset_run(ok_argv, 0, &ok);
    assert_true(ok);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "applied");
    json_object_put(j);
    char *bad_argv[] = {"sh", "-c", "echo model missing >&2; exit 5", NULL};
    j = jb_reset_run(bad_argv, 0, &ok);
    assert_false(ok);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "status")), "failed");
    assert_int_equal(json_object_get_int(json_object_object_get(j, "exit_code")), 5);
    assert_non_null(
        strstr(json_object_get_string(json_object_object_get(j, "stderr_tail")), "model missing"));
    json_object_put(j);
    char *none_argv[] = {"/nonexistent/reset-tool", NULL};
    j = jb_reset_run(none_argv, 0, &ok);
    assert_false(ok);
    assert_non_null(strstr(json_object_get_string(json_object_object_get(j, "reason")),
                           "cannot run /nonexistent/reset-tool"));
    json_object_put(j);
    char *slow_argv[] = {"sleep", "5", NULL};
    int64_t t0 = jb_mono_ns();
    j = jb_reset_run(slow_argv, 100000000LL, &ok);
    assert_false(ok);
    assert_true(jb_mono_ns() - t0 < 3000000000LL);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "reason")), "timed out");
    json_object_put(j);

    jb_seed_env e;
    jb_seed_env_make(&e, 4294967295ULL);
    assert_string_equal(e.env[0], "JOULEBENCH_SEED=4294967295");
    assert_string_equal(e.env[1], "PYTHONHASHSEED=4294967295");
    assert_string_equal(e.env[2], "TF_DETERMINISTIC_OPS=1");
    assert_string_equal(e.env[3], "CUBLAS_WORKSPACE_CONFIG=:4096:8");
    assert_null(e.env[4]);
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v)) return "absent";
    return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";
}

static void test_snapshot(void **state)
{
    put("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
    put("/sys/devices/system/cpu/intel_pstate/no_turbo", "1\n");
    put("/sys/devices/system/cpu/smt/active", "1\n");
    put("/proc/meminfo", "MemTotal: 1000 kB\nSwapTotal:     2048 kB\nSwapFree:      1024 kB\n");
    put("/proc/loadavg", "0.50 1.25 2.00 1/100 4242\n");
    put("/proc/uptime", "1000.00 1500.00\n");
    long hz = sysconf(_SC_CLK_TCK);
    put_stat(10, "trainer", (unsigned long long)(40 * hz), (unsigned long long)(10 * hz),
             (unsigned long long)(900 * hz));
    put_stat(13, "joulebench", (unsigned long long)(99 * hz), 0, (unsigned long long)(900 * hz));
    json_object *s = jb_snapshot(root, 13);
    assert_string_equal(jstr(s, "governor"), "\"performance\"");
    assert_string_equal(jstr(s, "turbo"), "false");
    assert_string_equal(jstr(s, "smt"), "true");
    assert_string_equal(jstr(s, "swap_used_bytes"), "1048576");
    assert_string_equal(jstr(s, "loadavg"), "[0.5,1.25,2]");
    /* the top list leaves joulebench itself out */
    assert_string_equal(jstr(s, "top"), "[{\"pid\":10,\"comm\":\"trainer\",\"cpu_pct\":50}]");
    json_object_put(s);
    /* AMD / acpi-cpufreq: boost instead of no_turbo; nothing else readable */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/sys' '%s/proc'", root, root);
    assert_int_equal(system(cmd), 0);
    put("/sys/devices/system/cpu/cpufreq/boost", "1\n");
    s = jb_snapshot(root, 13);
    assert_string_equal(jstr(s, "turbo"), "true");
    assert_string_equal(jstr(s, "governor"), "null");
    assert_string_equal(jstr(s, "smt"), "null");
    assert_string_equal(jstr(s, "loadavg"), "null");
    assert_string_equal(jstr(s, "top"), "[]");
    json_object_put(s);
}

static void test_gpu_memory_check(void **state)
{
    char why[256];
    assert_null(jb_gpu_check_open("/nonexistent/libnvidia-ml.so.1", why, sizeof why));
    assert_non_null(strstr(why, "no NVML"));
    char lib[512];
    const char *b = getenv("BUILD");
    snprintf(lib, sizeof lib, "%s/%s/tests/fake/libnvidia-ml.so.1",
             getenv("JB_TOP") ? getenv("JB_TOP") : ".", b && *b ? b : "build");
    if (access(lib, R_OK) != 0) skip();
    setenv("FAKE_NVML_GPUS", "2", 1);
    setenv("FAKE_NVML_MODE", "counter", 1);
    jb_gpu_check *g = jb_gpu_check_open(lib, why, sizeof why);
    assert_non_null(g);
    json_object *j = jb_gpu_check_run(g, 0, 0);
    assert_string_equal(jstr(j, "status"), "\"applied\"");
    assert_string_equal(jstr(j, "used_mib"), "[1024,2048]"); /* the fake: (i+1) GiB */
    assert_string_equal(jstr(j, "baseline_mib"), "[1024,2048]");
    json_object_put(j);
    jb_gpu_check_close(g);
    setenv("FAKE_NVML_MODE", "nodriver", 1);
    assert_null(jb_gpu_check_open(lib, why, sizeof why));
    assert_non_null(strstr(why, "nvmlInit_v2 failed"));
    unsetenv("FAKE_NVML_MODE");
    unsetenv("FAKE_NVML_GPUS");
}

static void test_json_num(void **state)
{
    json_object *n = jb_json_num(69.299999999999997, 3);
    assert_string_equal(json_object_to_json_string(n), "69.3");
    json_object_put(n);
    assert_null(jb_json_num(NAN, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu_times_and_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_proc_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_procs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_seed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_memory_check, setup, teardown),
        cmocka_unit_test(test_json_num),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
