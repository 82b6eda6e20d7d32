/*
 * test_sources.c — the built-in usage sources and powercap RAPL on fake
 * /proc and /sys trees: exact parsing, the wrapping RAPL counter accumulated
 * to the µJ, roles, probe explanations, the estimator's model and labels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>

#include "source.h"
#include "testutil.h"

extern const jb_source_driver jb_src_cpu, jb_src_memory, jb_src_disk, jb_src_net, jb_src_rapl,
    jb_src_estimate, jb_src_process;

static jb_source_env env_for(const jb_source_opt *opts, int n)
{
    jb_source_env e = {
        .root = tu_root, .interval_ns = 100000000, .self_pid = 1, .opts = opts, .nopts = n};
    return e;
}

static int teardown(void **st)
{
    tu_rm_root();
    return 0;
}

static const char *stat_text(unsigned u, unsigned sys, unsigned idle, unsigned iow)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "cpu  %u 0 %u %u %u 0 0 0 0 0\ncpu0 %u 0 %u %u %u 0 0 0 0 0\n"
             "cpu1 0 0 0 %u 0 0 0 0 0 0\nintr 1 2 3\nctxt 5\n",
             u, sys, idle, iow, u, sys, idle / 2, iow, idle / 2);
    return buf;
}

static void test_cpu_percentages(void **st)
{
    tu_make_root("cpu");
    tu_put("/proc/stat", stat_text(100, 50, 1000, 10));
    jb_source_opt o[] = {{"cpu.per_core", "1"}};
    jb_source_env e = env_for(o, 1);
    char r[512], f[512];
    assert_int_equal(jb_src_cpu.probe(&e, r, sizeof r, f, sizeof f), 1);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_cpu.open(&e, &s, &ch, &err), 0);
    assert_int_equal(ch.n, 6); /* total user system iowait core0 core1 */
    assert_string_equal(ch.ch[0].name, "cpu/total");
    /* +60 user, +20 system, +100 idle, +20 iowait: total 200 ticks */
    tu_put("/proc/stat", stat_text(160, 70, 1100, 30));
    double v[8];
    uint8_t ok[8];
    assert_int_equal(jb_src_cpu.read(s, 0, v, ok), 0);
    assert_true(ok[0] && ok[3]);
    assert_float_equal(v[0], 40.0, 1e-9); /* 80 busy of 200 */
    assert_float_equal(v[1], 30.0, 1e-9);
    assert_float_equal(v[2], 10.0, 1e-9);
    assert_float_equal(v[3], 10.0, 1e-9);
    jb_src_cpu.close(s);
}

static void test_cpu_garbage_is_gap(void **st)
{
    tu_make_root("cpu2");
    tu_put("/proc/stat", stat_text(1, 1, 1, 1));
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_cpu.open(&e, &s, &ch, &err), 0);
    tu_put("/proc/stat", "garbage\n");
    double v[8];
    uint8_t ok[8] = {1, 1, 1, 1};
    assert_int_equal(jb_src_cpu.read(s, 0, v, ok), -1);
    assert_int_equal(ok[0], 0);
    jb_src_cpu.close(s);
}

static void test_memory(void **st)
{
    tu_make_root("mem");
    tu_put("/proc/meminfo", "MemTotal:       1000 kB\nMemFree:  100 kB\nMemAvailable:    "
                            "400 kB\nBuffers: 1 kB\nSwapTotal:  50 kB\nSwapFree:  20 kB\n");
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_memory.open(&e, &s, &ch, &err), 0);
    double v[3];
    uint8_t ok[3];
    assert_int_equal(jb_src_memory.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 600 * 1024.0, 0);
    assert_float_equal(v[1], 400 * 1024.0, 0);
    assert_float_equal(v[2], 30 * 1024.0, 0);
    jb_src_memory.close(s);
}

/* The early-stopping meminfo scan against a plain one: the machine's own
 * /proc/meminfo, keys in another order, look-alike keys, a missing key. */
static unsigned long long naive_kb(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, n)) return strtoull(p + n, NULL, 10);
    return 0;
}

static void test_meminfo_parser(void **st)
{
    (void)st;
    char real[16384];
    FILE *f = fopen("/proc/meminfo", "r");
    assert_non_null(f);
    size_t n = fread(real, 1, sizeof real - 1, f);
    fclose(f);
    real[n] = 0;
    const char *texts[] = {
        real,
        "SwapFree: 7 kB\nSwapCached: 99 kB\nMemTotalX: 5 kB\nMemTotal: 1 kB\n"
        "SwapTotal: 8 kB\nMemAvailable: 3 kB\nMemFree: 2 kB\n",
        "MemTotal: 10 kB\nMemTotal: 11 kB\nSwapFree: 4 kB\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        jb_meminfo m;
        jb_parse_meminfo(texts[i], &m);
        const char *keys[] = {"MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:"};
        unsigned long long got[] = {m.total, m.available, m.swap_total, m.swap_free};
        int present = 0;
        for (int k = 0; k < 4; k++) {
            assert_int_equal(got[k], naive_kb(texts[i], keys[k]) * 1024ULL);
            present += strstr(texts[i], keys[k]) != NULL;
        }
        assert_int_equal(m.found, present);
    }
}

static void test_disk_whole_disks_only(void **st)
{
    tu_make_root("disk");
    tu_put("/sys/block/sda/size", "1\n");
    tu_put("/sys/block/nvme0n1/size", "1\n");
    tu_put("/sys/block/loop0/size", "1\n");
    const char *ds = "   8       0 sda 10 0 100 0 20 0 200 0 0 0 0\n"
                     "   8       1 sda1 10 0 100 0 20 0 200 0 0 0 0\n"
                     " 259       0 nvme0n1 1 0 8 0 2 0 16 0 0 0 0\n"
                     " 259       1 nvme0n1p1 1 0 8 0 2 0 16 0 0 0 0\n"
                     "   7       0 loop0 5 0 1000 0 5 0 1000 0 0 0 0\n";
    tu_put("/proc/diskstats", ds);
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_disk.open(&e, &s, &ch, &err), 0);
    double v[2];
    uint8_t ok[2];
    assert_int_equal(jb_src_disk.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], (100 + 8) * 512.0, 0);
    assert_float_equal(v[1], (200 + 16) * 512.0, 0);
    jb_src_disk.close(s);
}

static void test_net_skips_lo(void **st)
{
    tu_make_root("net");
    tu_put("/proc/net/dev",
           "Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
           "packets errs drop fifo colls carrier compressed\n"
           "    lo: 5000      50    0    0    0     0          0         0     5000      50"
           "    0    0    0     0       0          0\n"
           "  eth0: 1234      10    0    0    0     0          0         0      999       9"
           "    0    0    0     0       0          0\n"
           " wlan0:   66       1    0    0    0     0          0         0       11       1"
           "    0    0    0     0       0          0\n");
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_net.open(&e, &s, &ch, &err), 0);
    double v[2];
    uint8_t ok[2];
    assert_int_equal(jb_src_net.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 1300, 0);
    assert_float_equal(v[1], 1010, 0);
    jb_src_net.close(s);
    jb_source_opt o[] = {{"net.interfaces", "wlan0"}};
    e = env_for(o, 1);
    ch.n = 0;
    assert_int_equal(jb_src_net.open(&e, &s, &ch, &err), 0);
    assert_int_equal(jb_src_net.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 66, 0);
    jb_src_net.close(s);
}

#define PC "/sys/class/powercap/"

static void put_u(const char *rel, unsigned long long v)
{
    char b[64];
    snprintf(b, sizeof b, "%llu\n", v);
    tu_put(rel, b);
}

static void make_rapl_tree(unsigned long long range)
{
    tu_put(PC "intel-rapl:0/name", "package-0\n");
    put_u(PC "intel-rapl:0/max_energy_range_uj", range);
    put_u(PC "intel-rapl:0/energy_uj", range - 5);
    tu_put(PC "intel-rapl:0:0/name", "core\n");
    put_u(PC "intel-rapl:0:0/max_energy_range_uj", range);
    put_u(PC "intel-rapl:0:0/energy_uj", 0);
    tu_put(PC "intel-rapl:0:1/name", "dram\n");
    put_u(PC "intel-rapl:0:1/max_energy_range_uj", range);
    put_u(PC "intel-rapl:0:1/energy_uj", 0);
    tu_put(PC "intel-rapl:a/name", "package-10\n"); /* zone ids are hex */
    put_u(PC "intel-rapl:a/max_energy_range_uj", range);
    put_u(PC "intel-rapl:a/energy_uj", 7);
}

/* A counter that wraps several times during the test: the 64-bit total is
 * exact to the µJ (one wrap adds max_energy_range_uj + 1). */
static void test_rapl_wraps_exact(void **st)
{
    tu_make_root("rapl");
    const unsigned long long range = 262143328850ULL;
    make_rapl_tree(range);
    jb_source_env e = env_for(NULL, 0);
    char r[512], f[512];
    assert_int_equal(jb_src_rapl.probe(&e, r, sizeof r, f, sizeof f), 1);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_rapl.open(&e, &s, &ch, &err), 0);
    assert_int_equal(ch.n, 4);
    assert_string_equal(ch.ch[0].name, "rapl/package-0");
    assert_string_equal(ch.ch[1].name, "rapl/package-0/core");
    assert_string_equal(ch.ch[2].name, "rapl/package-0/dram");
    assert_string_equal(ch.ch[3].name, "rapl/package-10");
    assert_int_equal(ch.ch[0].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[1].role, JB_ROLE_PART);
    assert_int_equal(ch.ch[2].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[0].kind, JB_KIND_ENERGY_COUNTER);
    /* wrap period must be respected whatever the interval */
    assert_true(jb_src_rapl.max_poll_ns(s) > 0);
    unsigned long long cur = range - 5, truth = 0;
    double v[4];
    uint8_t ok[4];
    srand(7);
    for (int step = 0; step < 40; step++) {
        /* advance by up to 0.45 of the range so a wrap comes every few steps */
        unsigned long long inc = (unsigned long long)((double)rand() / RAND_MAX * 0.45 * range);
        truth += inc;
        cur = (cur + inc) % (range + 1);
        put_u(PC "intel-rapl:0/energy_uj", cur);
        assert_int_equal(jb_src_rapl.read(s, 0, v, ok), 0);
        assert_true(ok[0]);
        /* exact to the µJ: compare in µJ as integers */
        assert_int_equal((long long)llround(v[0] * 1e6), (long long)truth);
    }
    assert_true(truth > 5 * range); /* several wraps happened */
    jb_src_rapl.close(s);
}

static void test_rapl_psys_is_total(void **st)
{
    tu_make_root("rapl2");
    make_rapl_tree(1000000);
    tu_put(PC "intel-rapl:1/name", "psys\n");
    put_u(PC "intel-rapl:1/max_energy_range_uj", 1000000);
    put_u(PC "intel-rapl:1/energy_uj", 1);
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_rapl.open(&e, &s, &ch, &err), 0);
    for (int i = 0; i < ch.n; i++)
        assert_int_equal(ch.ch[i].role,
                         strcmp(ch.ch[i].name, "rapl/psys") ? JB_ROLE_PART : JB_ROLE_TOTAL);
    jb_src_rapl.close(s);
}

static void test_rapl_unreadable_explained(void **st)
{
    tu_make_root("rapl3");
    tu_put(PC "intel-rapl:0/name", "package-0\n");
    char dir[512];
    snprintf(dir, sizeof dir, "%s" PC "intel-rapl:0/energy_uj", tu_root);
    mkdir(dir, 0700); /* unreadable as a number even for root */
    jb_source_env e = env_for(NULL, 0);
    char r[512], f[512];
    assert_int_equal(jb_src_rapl.probe(&e, r, sizeof r, f, sizeof f), 0);
    assert_non_null(strstr(r, "energy_uj"));
    assert_true(strlen(f) > 10);
    tu_rm_root();
    tu_make_root("rapl4");
    assert_int_equal(jb_src_rapl.probe(&e, r, sizeof r, f, sizeof f), 0);
    assert_non_null(strstr(r, "no RAPL zones"));
}

static void test_estimate_model_and_label(void **st)
{
    tu_make_root("est");
    tu_put("/proc/stat", stat_text(0, 0, 0, 0));
    tu_put("/proc/meminfo", "MemTotal: 4194304 kB\nMemAvailable: 2097152 kB\n");
    jb_source_opt o[] = {
        {"estimate.idle_w", "10"}, {"estimate.max_w", "50"}, {"estimate.dram_w_per_gib", "0.5"}};
    jb_source_env e = env_for(o, 3);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_estimate.open(&e, &s, &ch, &err), 0);
    assert_int_equal(ch.n, 2);
    assert_true(ch.ch[0].estimated && ch.ch[1].estimated);
    assert_int_equal(ch.ch[0].kind, JB_KIND_POWER);
    tu_put("/proc/stat", stat_text(25, 25, 150, 0)); /* 25 % busy */
    double v[2];
    uint8_t ok[2];
    assert_int_equal(jb_src_estimate.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 10 + 40 * 0.25, 1e-9);
    assert_float_equal(v[1], 0.5 * 2.0, 1e-9); /* 2 GiB used */
    jb_src_estimate.close(s);
    jb_source_opt bad[] = {{"estimate.idle_w", "20"}, {"estimate.max_w", "5"}};
    e = env_for(bad, 2);
    ch.n = 0;
    assert_int_equal(jb_src_estimate.open(&e, &s, &ch, &err), -1);
    assert_non_null(strstr(err.msg, "max_w"));
}

/* Process tree on a fake /proc: self (pid 1) -> target 10 -> child 11;
 * 11 exits and its time moves into 10's cutime: the total never drops. */
static void put_proc(int pid, int ppid, unsigned ut, unsigned st_, unsigned cut, unsigned rss,
                     unsigned long long wr, const char *children)
{
    char stat[512];
    snprintf(stat, sizeof stat,
             "%d (a (b) c) S %d 1 1 0 -1 0 0 0 0 0 %u %u %u 0 20 0 1 0 100 1000 5\n", pid, ppid, ut,
             st_, cut);
    tu_put_proc(pid, stat, rss, 0, wr, children);
}

static void test_process_tree(void **st)
{
    tu_make_root("proc");
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    put_proc(1, 0, 0, 0, 0, 0, 0, "10 ");
    put_proc(10, 1, 100, 0, 0, 10, 1000, "11 ");
    put_proc(11, 10, 50, 50, 0, 20, 500, "");
    jb_source_env e = env_for(NULL, 0);
    jb_channel_list ch = {0};
    void *s;
    jb_err err;
    assert_int_equal(jb_src_process.open(&e, &s, &ch, &err), 0);
    jb_src_process.set_target(s, 10);
    double v[5];
    uint8_t ok[5];
    assert_int_equal(jb_src_process.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 200.0 / tck, 1e-9);
    assert_float_equal(v[1], 30.0 * page, 0);
    assert_float_equal(v[3], 1500, 0);
    assert_float_equal(v[4], 2, 0);
    /* 11 exits; 10 reaped it: cutime/cstime and io move into 10 */
    tu_rm("/proc/11");
    put_proc(10, 1, 120, 0, 100, 10, 1500, "");
    assert_int_equal(jb_src_process.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 220.0 / tck, 1e-9);
    assert_float_equal(v[3], 1500, 0);
    assert_float_equal(v[4], 1, 0);
    /* 10 exits and is reaped by us: its last values are kept */
    tu_rm("/proc/10");
    put_proc(1, 0, 0, 0, 0, 0, 0, "");
    assert_int_equal(jb_src_process.read(s, 0, v, ok), 0);
    assert_float_equal(v[0], 220.0 / tck, 1e-9);
    assert_float_equal(v[3], 1500, 0);
    assert_float_equal(v[4], 0, 0);
    jb_src_process.close(s);
}

/* Garbage, truncations and huge numbers in every /proc file the usage
 * sources parse: they may report gaps, never crash or read out of bounds. */
static void test_parsers_survive_garbage(void **st)
{
    tu_make_root("fuzz");
    const char *files[] = {"/proc/stat", "/proc/meminfo", "/proc/diskstats", "/proc/net/dev"};
    const char *seeds[] = {
        "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n",
        "MemTotal: 100 kB\nMemAvailable: 50 kB\nSwapTotal: 1 kB\nSwapFree: 1 kB\n",
        "   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
        "h1\nh2\n eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"};
    const jb_source_driver *drv[] = {&jb_src_cpu, &jb_src_memory, &jb_src_disk, &jb_src_net,
                                     &jb_src_estimate};
    srand(11);
    for (int round = 0; round < 400; round++) {
        for (int f = 0; f < 4; f++) {
            char buf[512];
            size_t n = strlen(seeds[f]);
            memcpy(buf, seeds[f], n + 1);
            int muts = rand() % 6;
            for (int k = 0; k < muts; k++) {
                size_t at = (size_t)rand() % n;
                buf[at] = (char)(rand() % 3 ? "0123456789 :\n-"[rand() % 15] : rand() % 256);
            }
            if (rand() % 4 == 0) buf[(size_t)rand() % (n + 1)] = 0; /* truncate */
            if (rand() % 10 == 0) strcpy(buf, "cpu  99999999999999999999999999 1\n");
            tu_put(files[f], buf);
        }
        for (size_t d = 0; d < JB_ARRAY_LEN(drv); d++) {
            jb_source_env e = env_for(NULL, 0);
            jb_channel_list ch = {0};
            void *s = NULL;
            jb_err err;
            if (drv[d]->open(&e, &s, &ch, &err)) continue;
            double v[JB_MAX_CHANNELS];
            uint8_t ok[JB_MAX_CHANNELS];
            drv[d]->read(s, 0, v, ok);
            drv[d]->read(s, 0, v, ok);
            drv[d]->close(s);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cpu_percentages, teardown),
        cmocka_unit_test_teardown(test_cpu_garbage_is_gap, teardown),
        cmocka_unit_test_teardown(test_memory, teardown),
        cmocka_unit_test(test_meminfo_parser),
        cmocka_unit_test_teardown(test_disk_whole_disks_only, teardown),
        cmocka_unit_test_teardown(test_net_skips_lo, teardown),
        cmocka_unit_test_teardown(test_rapl_wraps_exact, teardown),
        cmocka_unit_test_teardown(test_rapl_psys_is_total, teardown),
        cmocka_unit_test_teardown(test_rapl_unreadable_explained, teardown),
        cmocka_unit_test_teardown(test_estimate_model_and_label, teardown),
        cmocka_unit_test_teardown(test_process_tree, teardown),
        cmocka_unit_test_teardown(test_parsers_survive_garbage, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
