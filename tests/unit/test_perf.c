/*
 * test_perf.c — the perf source: sysfs discovery on a fake PMU tree (type,
 * events, scale, unit, cpumask) with a stand-in for perf_event_open that
 * records the attributes and hands back pipes carrying 64-bit counts; the
 * probe's explanation when the kernel refuses; and the real syscall on this
 * machine, skipped visibly where the power PMU or the permission is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const jb_source_driver jb_src_perf;
extern long (*jb_perf_event_open_hook)(struct perf_event_attr *, pid_t, int, int, unsigned long);
int jb_perf_parse_event(const char *text, uint64_t *config);

typedef struct fake_counter {
    uint32_t type;
    uint64_t config;
    int cpu, pid;
    int rd, wr;
} fake_counter;
static fake_counter fakes[32];
static int nfakes;
static int fake_errno;

static long fake_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                      unsigned long flags)
{
    if (fake_errno) {
        errno = fake_errno;
        return -1;
    }
    int p[2];
    if (nfakes >= (int)(sizeof fakes / sizeof fakes[0]) || pipe(p) < 0) {
        errno = EMFILE;
        return -1;
    }
    fakes[nfakes] = (fake_counter){attr->type, attr->config, cpu, pid, p[0], p[1]};
    nfakes++;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    return p[0];
}

#define PMU "/sys/bus/event_source/devices/power"

static int setup(void **st)
{
    tu_make_root("perf");
    tu_put(PMU "/type", "17\n");
    tu_put(PMU "/cpumask", "0,2\n");
    tu_put(PMU "/events/energy-pkg", "event=0x02\n");
    tu_put(PMU "/events/energy-pkg.scale", "2.3283064365386962890625e-10\n");
    tu_put(PMU "/events/energy-pkg.unit", "Joules\n");
    tu_put(PMU "/events/energy-cores", "event=0x01\n");
    tu_put(PMU "/events/energy-cores.scale", "2.3283064365386962890625e-10\n");
    tu_put(PMU "/events/energy-cores.unit", "Joules\n");
    tu_put(PMU "/events/energy-ram", "event=0x03\n");
    tu_put(PMU "/events/energy-ram.scale", "1.52587890625e-05\n"); /* 2^-16 */
    tu_put(PMU "/events/energy-ram.unit", "Joules\n");
    tu_put(PMU "/events/energy-psys", "event=0x05\n");
    tu_put(PMU "/events/energy-psys.scale", "2.3283064365386962890625e-10\n");
    tu_put(PMU "/events/energy-bad", "umask=0x3\n"); /* not an event spec: skipped */
    tu_put(PMU "/events/cycles", "event=0x3c\n");    /* not an energy event */
    tu_put("/proc/sys/kernel/perf_event_paranoid", "2\n");
    nfakes = 0;
    fake_errno = 0;
    jb_perf_event_open_hook = fake_open;
    return 0;
}

static int teardown(void **st)
{
    for (int i = 0; i < nfakes; i++)
        close(fakes[i].wr);
    tu_rm_root();
    return 0;
}

static fake_counter *fake_for(uint64_t config, int cpu)
{
    for (int i = 0; i < nfakes; i++)
        if (fakes[i].config == config && fakes[i].cpu == cpu) return &fakes[i];
    fail_msg("no counter opened for config %llu cpu %d", (unsigned long long)config, cpu);
    return NULL;
}

static void push(uint64_t config, int cpu, uint64_t count)
{
    assert_int_equal(write(fake_for(config, cpu)->wr, &count, 8), 8);
}

static void test_discovery_and_scale(void **st)
{
    jb_source_env env = {.root = tu_root};
    char reason[512], fix[512];
    assert_int_equal(jb_src_perf.probe(&env, reason, sizeof reason, fix, sizeof fix), 1);
    for (int i = 0; i < nfakes; i++)
        close(fakes[i].wr), close(fakes[i].rd);
    nfakes = 0;

    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    assert_int_equal(jb_src_perf.open(&env, &state, &ch, &err), 0);
    /* cores, pkg, ram on both packages; psys once */
    assert_int_equal(ch.n, 7);
    assert_int_equal(nfakes, 7);
    for (int i = 0; i < nfakes; i++) {
        assert_int_equal(fakes[i].type, 17);
        assert_int_equal(fakes[i].pid, -1);
        assert_true(fakes[i].cpu == 0 || fakes[i].cpu == 2);
    }
    int pkg0 = tu_find(&ch, "perf/package-0"), pkg1 = tu_find(&ch, "perf/package-1"),
        core0 = tu_find(&ch, "perf/core-0"), ram1 = tu_find(&ch, "perf/dram-1"),
        psys = tu_find(&ch, "perf/psys");
    assert_true(pkg0 >= 0 && pkg1 >= 0 && core0 >= 0 && ram1 >= 0 && psys >= 0);
    assert_int_equal(ch.ch[pkg0].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[ram1].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[core0].role, JB_ROLE_PART);
    assert_int_equal(ch.ch[psys].role, JB_ROLE_PART);
    assert_int_equal(ch.ch[pkg0].kind, JB_KIND_ENERGY_COUNTER);

    for (int i = 0; i < nfakes; i++)
        push(fakes[i].config, fakes[i].cpu, 0);
    double v[16];
    uint8_t ok[16];
    assert_int_equal(jb_src_perf.read(state, 0, v, ok), 0);
    for (int i = 0; i < ch.n; i++)
        assert_true(ok[i] && v[i] == 0.0);

    for (int i = 0; i < nfakes; i++)
        if (!(fakes[i].config == 2 && fakes[i].cpu == 0)) push(fakes[i].config, fakes[i].cpu, 1);
    push(0x02, 0, 5ULL << 32);
    assert_int_equal(jb_src_perf.read(state, 0, v, ok), 0);
    assert_true(v[pkg0] == 5.0);
    assert_true(v[ram1] == 0x1p-16); /* ram's own scale */
    assert_true(v[pkg1] == 0x1p-32);
    /* nothing to read (a non-blocking fake with no data): gaps, -1 */
    assert_int_equal(jb_src_perf.read(state, 0, v, ok), -1);
    for (int i = 0; i < ch.n; i++)
        assert_false(ok[i]);
    jb_src_perf.close(state);
}

static void test_denied_is_explained(void **st)
{
    jb_source_env env = {.root = tu_root};
    fake_errno = EACCES;
    void *state;
    jb_channel_list ch = {0};
    tu_assert_unusable(&jb_src_perf, &env, &state, &ch, "perf_event_paranoid = 2", "CAP_PERFMON",
                       "CAP_PERFMON");
}

static void test_missing_pmu(void **st)
{
    tu_rm(PMU "/type");
    jb_source_env env = {.root = tu_root};
    char reason[512], fix[512];
    assert_int_equal(jb_src_perf.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "no RAPL power PMU"));
    assert_true(strlen(fix) > 20);
    assert_int_equal(nfakes, 0);
}

static void test_parse_event_garbage(void **st)
{
    uint64_t c = 0;
    assert_int_equal(jb_perf_parse_event("event=0x02", &c), 0);
    assert_int_equal(c, 2);
    assert_int_equal(jb_perf_parse_event("event=0x05,umask=0x1\n", &c), 0);
    assert_int_equal(c, 5);
    assert_int_equal(jb_perf_parse_event("xevent=0x02", &c), -1);
    assert_int_equal(jb_perf_parse_event("event=", &c), -1);
    assert_int_equal(jb_perf_parse_event("event=0x2z", &c), -1);
    srand(3);
    char buf[64];
    for (int i = 0; i < 20000; i++) {
        int n = rand() % 63;
        for (int k = 0; k < n; k++)
            buf[k] = "event=0x12,\n z"[rand() % 14];
        buf[n] = 0;
        jb_perf_parse_event(buf, &c);
    }
    /* truncated and random sysfs files: open either works or explains */
    for (int i = 0; i < 50; i++) {
        int n = rand() % 20;
        for (int k = 0; k < n; k++)
            buf[k] = (char)(1 + rand() % 255);
        buf[n] = 0;
        tu_put(PMU "/events/energy-pkg", buf);
        tu_put(PMU "/events/energy-pkg.scale", buf);
        tu_put(PMU "/cpumask", buf);
        jb_source_env env = {.root = tu_root};
        void *state;
        jb_channel_list ch = {0};
        jb_err err;
        if (jb_src_perf.open(&env, &state, &ch, &err) == 0) jb_src_perf.close(state);
        for (int k = 0; k < nfakes; k++)
            close(fakes[k].wr);
        nfakes = 0;
    }
}

/* The real kernel: a visible skip where this machine cannot do it. */
static long (*real_hook)(struct perf_event_attr *, pid_t, int, int, unsigned long);

static void test_real_syscall(void **st)
{
    jb_perf_event_open_hook = real_hook;
    jb_source_env env = {.root = "/"};
    char reason[512], fix[512];
    if (!jb_src_perf.probe(&env, reason, sizeof reason, fix, sizeof fix)) {
        print_message("perf not usable here: %s; fix: %s\n", reason, fix);
        skip();
    }
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    if (jb_src_perf.open(&env, &state, &ch, &err)) fail_msg("%s", err.msg);
    double a[64], b[64];
    uint8_t oka[64], okb[64];
    assert_int_equal(jb_src_perf.read(state, 0, a, oka), 0);
    usleep(100000);
    assert_int_equal(jb_src_perf.read(state, 0, b, okb), 0);
    for (int i = 0; i < ch.n; i++) {
        assert_true(oka[i] && okb[i] && b[i] >= a[i]);
        print_message("%s: %.3f J in 100 ms\n", ch.ch[i].name, b[i] - a[i]);
    }
    jb_src_perf.close(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_discovery_and_scale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_is_explained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_pmu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_event_garbage, setup, teardown),
        cmocka_unit_test(test_real_syscall),
    };
    real_hook = jb_perf_event_open_hook;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
