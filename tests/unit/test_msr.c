/*
 * test_msr.c — the msr source against fake /dev/cpu/N/msr files: regular
 * files where the offset is the register address and each register holds an
 * 8-byte little-endian value. Checks units, the DRAM/psys quirks, AMD per-core
 * sums, wraparound into exact 64-bit joules, gaps and probe explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const jb_source_driver jb_src_msr;

static void set_msr(int cpu, uint32_t reg, uint64_t v)
{
    char rel[64], path[1024];
    snprintf(rel, sizeof rel, "/dev/cpu/%d/msr", cpu);
    int fd = open(tu_path(path, sizeof path, rel), O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    assert_int_equal(pwrite(fd, b, 8, (off_t)reg), 8);
    close(fd);
}

static void add_cpu(int cpu, int pkg, int core)
{
    char rel[128], v[16];
    snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    snprintf(v, sizeof v, "%d\n", pkg);
    tu_put(rel, v);
    snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
    snprintf(v, sizeof v, "%d\n", core);
    tu_put(rel, v);
}

static void set_cpuinfo(const char *vendor, int family, int model)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: %d\n"
             "model name\t: Test CPU\n\n",
             vendor, family, model);
    tu_put("/proc/cpuinfo", buf);
}

/* An Intel family-6 CPU of this model: CPU 0 (package 0, core 0) and its
 * energy unit register (2^-14 J). */
static void intel_cpu0(int model)
{
    set_cpuinfo("GenuineIntel", 6, model);
    add_cpu(0, 0, 0);
    set_msr(0, 0x606, 0x000A0E03);
}

static int setup(void **st)
{
    tu_make_root("msr");
    return 0;
}

static int teardown(void **st)
{
    tu_rm_root();
    return 0;
}

typedef struct opened {
    void *state;
    jb_channel_list chans;
} opened;

static void open_src(opened *o)
{
    jb_source_env env = {.root = tu_root, .interval_ns = 100000000};
    memset(o, 0, sizeof *o);
    tu_open_ok(&jb_src_msr, &env, &o->state, &o->chans);
}

static int find(const opened *o, const char *name)
{
    return tu_find(&o->chans, name);
}

static void read_all(opened *o, double *v, uint8_t *ok)
{
    assert_int_equal(jb_src_msr.read(o->state, 0, v, ok), 0);
}

/* Intel client part: all five domains, a wrap on the package counter. */
static void test_intel_client_wrap(void **st)
{
    intel_cpu0(0x9E);
    add_cpu(1, 0, 1);
    set_msr(0, 0x611, 0xFFFFFF00);
    set_msr(0, 0x639, 1000);
    set_msr(0, 0x641, 5);
    set_msr(0, 0x619, 7);
    set_msr(0, 0x64D, 0xFFFFFFF0ULL | (0xABCDULL << 32)); /* upper bits ignored */
    opened o;
    open_src(&o);
    assert_int_equal(o.chans.n, 5);
    int pkg = find(&o, "msr/package-0"), core = find(&o, "msr/core-0"),
        unc = find(&o, "msr/uncore-0"), dram = find(&o, "msr/dram-0"), psys = find(&o, "msr/psys");
    assert_true(pkg >= 0 && core >= 0 && unc >= 0 && dram >= 0 && psys >= 0);
    assert_int_equal(o.chans.ch[pkg].role, JB_ROLE_TOTAL);
    assert_int_equal(o.chans.ch[dram].role, JB_ROLE_TOTAL);
    assert_int_equal(o.chans.ch[core].role, JB_ROLE_PART);
    assert_int_equal(o.chans.ch[psys].role, JB_ROLE_PART);
    assert_int_equal(o.chans.ch[pkg].kind, JB_KIND_ENERGY_COUNTER);
    assert_string_equal(o.chans.ch[pkg].unit, "J");

    double v[8];
    uint8_t ok[8];
    read_all(&o, v, ok);
    assert_true(v[pkg] == 0.0);
    set_msr(0, 0x611, 0x100);                       /* wrapped: +0x200 counts */
    set_msr(0, 0x639, 1000 + 16384);                /* +1 J */
    set_msr(0, 0x64D, 0x10ULL | (0x1234ULL << 32)); /* wrapped: +0x20 counts */
    set_msr(0, 0x619, 7 + 3 * 16384);               /* +3 J at the register unit */
    read_all(&o, v, ok);
    assert_true(ok[pkg] && ok[core] && ok[psys] && ok[dram]);
    assert_true(v[pkg] == 512.0 / 16384.0);
    assert_true(v[core] == 1.0);
    assert_true(v[psys] == 32.0 / 16384.0);
    assert_true(v[dram] == 3.0);
    /* Half the wrap period at 1000 W: 2^32 * 2^-14 / 1000 / 2 s. */
    assert_int_equal(jb_src_msr.max_poll_ns(o.state), (int64_t)(262144.0 / 1000 / 2 * 1e9));
    jb_src_msr.close(o.state);
}

/* Haswell-EP: fixed 2^-16 J DRAM unit, two packages read on their first CPU. */
static void test_haswell_ep_dram_quirk_two_packages(void **st)
{
    set_cpuinfo("GenuineIntel", 6, 0x3F);
    add_cpu(0, 0, 0);
    add_cpu(1, 1, 0);
    add_cpu(2, 0, 1);
    add_cpu(3, 1, 1);
    for (int cpu = 0; cpu < 2; cpu++) {
        set_msr(cpu, 0x606, 0x000A0E03);
        set_msr(cpu, 0x611, 100);
        set_msr(cpu, 0x619, 200);
        set_msr(cpu, 0x639, 300); /* file ends here: PP1 and psys absent */
    }
    opened o;
    open_src(&o);
    assert_int_equal(o.chans.n, 6);
    assert_int_equal(find(&o, "msr/psys"), -1);
    assert_int_equal(find(&o, "msr/uncore-0"), -1);
    int d0 = find(&o, "msr/dram-0"), d1 = find(&o, "msr/dram-1"), p1 = find(&o, "msr/package-1");
    assert_true(d0 >= 0 && d1 >= 0 && p1 >= 0);
    double v[8];
    uint8_t ok[8];
    read_all(&o, v, ok);
    set_msr(0, 0x619, 200 + 65536);     /* 1 J at 2^-16, not 4 J at 2^-14 */
    set_msr(1, 0x619, 200 + 2 * 65536); /* package 1 read from CPU 1 */
    set_msr(1, 0x611, 100 + 16384);
    read_all(&o, v, ok);
    assert_true(v[d0] == 1.0);
    assert_true(v[d1] == 2.0);
    assert_true(v[p1] == 1.0);
    jb_src_msr.close(o.state);
}

/* Sapphire Rapids: psys counts in 1 J; DRAM follows the unit register. */
static void test_spr_psys_unit(void **st)
{
    intel_cpu0(0x8F);
    set_msr(0, 0x611, 1);
    set_msr(0, 0x619, 1);
    set_msr(0, 0x64D, 10);
    opened o;
    open_src(&o);
    int psys = find(&o, "msr/psys"), dram = find(&o, "msr/dram-0");
    assert_true(psys >= 0 && dram >= 0);
    double v[8];
    uint8_t ok[8];
    read_all(&o, v, ok);
    set_msr(0, 0x64D, 17);
    set_msr(0, 0x619, 1 + 16384);
    read_all(&o, v, ok);
    assert_true(v[psys] == 7.0);
    assert_true(v[dram] == 1.0);
    jb_src_msr.close(o.state);
}

/* AMD Zen: package counter and per-core counters summed once per core.
 * In a fake MSR file neighbouring registers overlap (0xC001029A's 8 bytes
 * cover 0xC001029B), exactly as offsets work on the real device: CPU 0's
 * core counter therefore reads as its own low byte plus the package
 * counter's low 3 bytes, and the unit register 0xC0010299 reads its energy
 * unit (bits 12:8) from that same low byte (0xF0 & 0x1F = 16: 2^-16 J). */
static void set_byte(int cpu, uint32_t reg, uint8_t b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/dev/cpu/%d/msr", tu_root, cpu);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)reg), 1);
    close(fd);
}

static void test_amd_core_sum(void **st)
{
    set_cpuinfo("AuthenticAMD", 25, 1);
    /* 4 CPUs, 2 cores with SMT siblings (0,2 on core 0; 1,3 on core 1). */
    add_cpu(0, 0, 0);
    add_cpu(1, 0, 1);
    add_cpu(2, 0, 0);
    add_cpu(3, 0, 1);
    set_msr(0, 0xC0010299, 0x000A1003); /* energy unit 2^-16 J */
    set_msr(0, 0xC001029B, 0xFFFF0000);
    set_byte(0, 0xC001029A, 0xF0); /* core 0 counter = 0xFF0000F0 */
    set_msr(1, 0xC001029A, 10);
    set_msr(2, 0xC001029A, 999999); /* sibling of core 0: must be ignored */
    set_msr(3, 0xC001029A, 999999);
    opened o;
    open_src(&o);
    assert_int_equal(o.chans.n, 2);
    int pkg = find(&o, "msr/package-0"), core = find(&o, "msr/core-0");
    assert_true(pkg >= 0 && core >= 0);
    double v[4];
    uint8_t ok[4];
    read_all(&o, v, ok);
    set_msr(0, 0xC001029B, 0x00010000);     /* wrap: +0x20000 counts = 2 J */
    set_byte(0, 0xC001029A, 0xF0);          /* core 0 = 0x010000F0: wrap, +512 J */
    set_msr(1, 0xC001029A, 10 + 3 * 65536); /* +3 J */
    set_msr(2, 0xC001029A, 0);
    read_all(&o, v, ok);
    assert_true(ok[pkg] && ok[core]);
    assert_true(v[pkg] == 2.0);
    assert_true(v[core] == 515.0);
    jb_src_msr.close(o.state);
}

/* Many reads with random increments (each below one wrap): exact totals. */
static void test_many_wraps_exact(void **st)
{
    intel_cpu0(0x55);
    uint32_t raw = 0xF0000000u;
    set_msr(0, 0x611, raw);
    opened o;
    open_src(&o);
    double v[8];
    uint8_t ok[8];
    uint64_t expect = 0;
    srand(42);
    for (int i = 0; i < 2000; i++) {
        uint32_t inc = ((uint32_t)rand() << 8 ^ (uint32_t)rand()) & 0x7FFFFFFF;
        raw += inc;
        expect += inc;
        set_msr(0, 0x611, raw);
        read_all(&o, v, ok);
    }
    assert_true(expect > (1ULL << 32) * 100); /* went through many wraps */
    assert_true(v[find(&o, "msr/package-0")] == (double)expect / 16384.0);
    jb_src_msr.close(o.state);
}

/* A register that can no longer be read is a gap, not a crash. */
static void test_read_failure_is_gap(void **st)
{
    intel_cpu0(0x9E);
    set_msr(0, 0x611, 5);
    opened o;
    open_src(&o);
    assert_int_equal(o.chans.n, 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", tu_root);
    assert_int_equal(truncate(path, 0x611), 0);
    double v[1];
    uint8_t ok[1] = {1};
    assert_int_equal(jb_src_msr.read(o.state, 0, v, ok), -1);
    assert_int_equal(ok[0], 0);
    jb_src_msr.close(o.state);
}

static void test_probe_explains(void **st)
{
    jb_source_env env = {.root = tu_root};
    char reason[512] = "", fix[512] = "";
    set_cpuinfo("GenuineIntel", 6, 0x9E);
    add_cpu(0, 0, 0);
    assert_int_equal(jb_src_msr.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "/dev/cpu/0/msr"));
    assert_non_null(strstr(fix, "modprobe msr"));

    set_msr(0, 0x10, 1); /* msr file exists but has no unit register */
    assert_int_equal(jb_src_msr.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "0x606"));

    set_msr(0, 0x606, 0x000A0E03);
    assert_int_equal(jb_src_msr.probe(&env, reason, sizeof reason, fix, sizeof fix), 1);

    set_cpuinfo("ARM", 8, 1);
    void *state = NULL;
    jb_channel_list chans = {0};
    tu_assert_unusable(&jb_src_msr, &env, &state, &chans, NULL, NULL, "cpuinfo");
    assert_true(strlen(tu_fix) > 10);
}

/* Garbage /proc/cpuinfo and topology files: errors or channels, no crash. */
static void test_garbage_inputs(void **st)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        char junk[600];
        size_t n = (size_t)(rand() % (int)(sizeof junk - 1));
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)(1 + rand() % 255);
        junk[n] = 0;
        if (round % 2) memcpy(junk, "vendor_id: GenuineIntel\ncpu family: ", 36 < n ? 36 : n);
        tu_put("/proc/cpuinfo", junk);
        tu_put("/sys/devices/system/cpu/cpu0/topology/physical_package_id", junk + n / 2);
        set_msr(0, 0x606, (uint64_t)rand() << 32 | (uint64_t)rand());
        set_msr(0, 0x611, (uint64_t)rand());
        jb_source_env env = {.root = tu_root};
        jb_err err;
        void *state = NULL;
        jb_channel_list chans = {0};
        char reason[256], fix[256];
        jb_src_msr.probe(&env, reason, sizeof reason, fix, sizeof fix);
        if (jb_src_msr.open(&env, &state, &chans, &err) == 0) {
            double v[JB_MAX_CHANNELS];
            uint8_t ok[JB_MAX_CHANNELS];
            jb_src_msr.read(state, 0, v, ok);
            assert_true(jb_src_msr.max_poll_ns(state) > 0);
            jb_src_msr.close(state);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intel_client_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_haswell_ep_dram_quirk_two_packages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spr_psys_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amd_core_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_wraps_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_failure_is_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_explains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_inputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
