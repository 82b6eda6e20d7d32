/*
 * test_nvsmi.c — the nvidia-smi source against the fake tests/fakes/nvidia-smi
 * (a shell script speaking the same two queries): enumeration, live
 * streaming of a known profile, [N/A]/[Not Supported] gaps, replayed fixture
 * and random garbage, a child that dies, a missing driver or executable, and
 * the child stopped and reaped on close (no zombie, no orphan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source.h"
#include "testutil.h"

extern const jb_source_driver jb_src_nvsmi;

static char fake_smi[PATH_MAX], fixtures[PATH_MAX];

typedef struct fixture {
    jb_source_opt opts[4];
    jb_source_env env;
    jb_channel_list ch;
    void *state;
    char dir[64], args[128];
    double v[JB_MAX_CHANNELS];
    uint8_t ok[JB_MAX_CHANNELS];
} fixture;

static int group_setup(void **st)
{
    char rel[PATH_MAX];
    if (!realpath(tu_top_path(rel, sizeof rel, "tests/fakes/nvidia-smi"), fake_smi)) return -1;
    if (!realpath(tu_top_path(rel, sizeof rel, "tests/fixtures/nvidia-smi"), fixtures)) return -1;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    (void)st;
    return 0;
}

static int setup(void **st)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/jb-nvsmi-XXXXXX");
    if (!mkdtemp(f.dir)) return -1;
    snprintf(f.args, sizeof f.args, "%s/args", f.dir);
    f.opts[0] = (jb_source_opt){"nvidia-smi.path", fake_smi};
    f.env = (jb_source_env){.root = "/", .interval_ns = 50000000, .opts = f.opts, .nopts = 1};
    const char *vars[] = {"FAKE_SMI_GPUS", "FAKE_SMI_MODE", "FAKE_SMI_REPLAY", "FAKE_SMI_DIE_AFTER",
                          "JOULEBENCH_NVIDIA_SMI"};
    for (size_t i = 0; i < JB_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
    setenv("FAKE_SMI_ARGS", f.args, 1);
    *st = &f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    if (f->state) jb_src_nvsmi.close(f->state);
    f->state = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int find(const fixture *f, const char *name)
{
    return tu_find(&f->ch, name);
}

static void open_ok(fixture *f)
{
    tu_open_ok(&jb_src_nvsmi, &f->env, &f->state, &f->ch);
}

static int do_read(fixture *f)
{
    return jb_src_nvsmi.read(f->state, jb_mono_ns(), f->v, f->ok);
}

/* The pid of the streaming child (the last "pid" line the fake wrote). */
static pid_t stream_pid(const fixture *f)
{
    FILE *fp = fopen(f->args, "r");
    assert_non_null(fp);
    char line[512];
    pid_t pid = 0;
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, "pid ", 4)) pid = (pid_t)atoi(line + 4);
    fclose(fp);
    return pid;
}

static bool args_contain(const fixture *f, const char *want)
{
    FILE *fp = fopen(f->args, "r");
    assert_non_null(fp);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = 0;
        if (!strcmp(line, want)) found = true;
    }
    fclose(fp);
    return found;
}

/* After close: the child is reaped (not a zombie of ours) and its whole
 * process group is gone (no orphan left streaming). The test process is a
 * subreaper, as the recorder is, so orphans of the fake script (its `sleep`)
 * come back to us to be reaped. */
static void assert_stopped(pid_t pid)
{
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        gone = kill(-pid, 0) < 0 && errno == ESRCH;
        if (!gone) usleep(5000);
    }
    assert_true(gone);
}

static void test_streaming_profile(void **st)
{
    fixture *f = *st;
    /* A descriptor of the recorder without O_CLOEXEC must not reach the child. */
    assert_int_equal(dup2(0, 57), 57);
    setenv("FAKE_SMI_CHECK_FD", "57", 1);
    open_ok(f);
    close(57);
    unsetenv("FAKE_SMI_CHECK_FD");
    assert_false(args_contain(f, "inherited fd 57"));
    assert_int_equal(f->ch.n, 12); /* 2 GPUs × 6 */
    int p0 = find(f, "nvidia-smi/0/power"), p1 = find(f, "nvidia-smi/1/power");
    assert_true(p0 >= 0 && p1 >= 0);
    assert_int_equal(f->ch.ch[p0].kind, JB_KIND_POWER);
    assert_int_equal(f->ch.ch[p0].role, JB_ROLE_TOTAL);
    assert_string_equal(f->ch.ch[p0].unit, "W");
    assert_non_null(strstr(f->ch.ch[p0].meta, "\"gpu\":\"NVIDIA Fake GPU 0\""));
    assert_non_null(strstr(f->ch.ch[p0].meta, "\"lms\":100"));
    /* argv as specified, no shell; interval 50 ms is raised to 100 ms. */
    assert_true(args_contain(f, "--query-gpu=timestamp,index,power.draw,utilization.gpu,"
                                "utilization.memory,memory.used,memory.total,temperature.gpu"));
    assert_true(args_contain(f, "--format=csv,noheader,nounits"));
    assert_true(args_contain(f, "-lms"));
    assert_true(args_contain(f, "100"));
    /* open() waited for the first batch: data at once. */
    assert_int_equal(do_read(f), 0);
    assert_true(f->ok[p0]);
    double first = f->v[p0];
    assert_true(first >= 100 && first == (int)first);
    assert_float_equal(f->v[find(f, "nvidia-smi/0/util_gpu")], 50, 0);
    assert_float_equal(f->v[find(f, "nvidia-smi/0/memory_used")], 1024.0 * 1048576, 0);
    assert_float_equal(f->v[find(f, "nvidia-smi/0/memory_total")], 81559.0 * 1048576, 0);
    assert_float_equal(f->v[find(f, "nvidia-smi/0/temperature")], 40, 0);
    assert_true(f->ok[find(f, "nvidia-smi/1/util_gpu")]);
    assert_false(f->ok[find(f, "nvidia-smi/1/util_memory")]); /* [N/A] */
    assert_false(f->ok[find(f, "nvidia-smi/1/temperature")]); /* [Not Supported] */
    if (f->ok[p1]) assert_float_equal(f->v[p1], 110, 0);
    /* Lines keep arriving: the latest value grows with the profile. */
    usleep(450000);
    assert_int_equal(do_read(f), 0);
    assert_true(f->ok[p0]);
    assert_true(f->v[p0] >= first + 2);
    pid_t pid = stream_pid(f);
    jb_src_nvsmi.close(f->state);
    f->state = NULL;
    assert_stopped(pid);
}

static void test_replay_fixture(void **st)
{
    fixture *f = *st;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/stream.csv", fixtures);
    setenv("FAKE_SMI_REPLAY", path, 1);
    f->opts[1] = (jb_source_opt){"nvidia-smi.interval_ms", "250"};
    f->env.nopts = 2;
    open_ok(f);
    assert_true(args_contain(f, "250"));
    usleep(20000);
    assert_int_equal(do_read(f), 0);
    struct {
        const char *ch;
        int ok;
        double v;
    } want[] = {
        {"nvidia-smi/0/power", 1, 251.25},
        {"nvidia-smi/0/util_gpu", 1, 98},
        {"nvidia-smi/0/util_memory", 1, 46},
        {"nvidia-smi/0/memory_used", 1, 30001.0 * 1048576},
        {"nvidia-smi/0/temperature", 1, 67},
        {"nvidia-smi/1/power", 1, 80},
        {"nvidia-smi/1/util_gpu", 1, 13},
        {"nvidia-smi/1/util_memory", 0, 0},
        {"nvidia-smi/1/memory_used", 1, 501.0 * 1048576},
        {"nvidia-smi/1/temperature", 0, 0},
    };
    for (size_t i = 0; i < JB_ARRAY_LEN(want); i++) {
        int c = find(f, want[i].ch);
        assert_true(c >= 0);
        assert_int_equal(f->ok[c], want[i].ok);
        if (want[i].ok) assert_float_equal(f->v[c], want[i].v, 1e-9);
    }
    /* Nothing new for longer than 5 intervals + 1 s: stale values are gaps. */
    assert_int_equal(jb_src_nvsmi.read(f->state, jb_mono_ns() + 3000000000LL, f->v, f->ok), -1);
    for (int i = 0; i < f->ch.n; i++)
        assert_int_equal(f->ok[i], 0);
    pid_t pid = stream_pid(f);
    jb_src_nvsmi.close(f->state);
    f->state = NULL;
    assert_stopped(pid); /* the fake's `sleep` grandchild went with the group */
}

/* Random bytes, long lines, NULs and partial lines: no crash, and a valid
 * line after the garbage is still parsed. */
static void test_garbage_survives(void **st)
{
    fixture *f = *st;
    char path[128];
    snprintf(path, sizeof path, "%s/garbage.csv", f->dir);
    setenv("FAKE_SMI_REPLAY", path, 1);
    setenv("FAKE_SMI_GPUS", "1", 1);
    const char alphabet[] = "0123456789,.- []NA/\t\r\nSupportedx\0";
    for (unsigned seed = 1; seed <= 8; seed++) {
        srand(seed);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        for (int i = 0; i < 400; i++) {
            int len = rand() % (i % 50 == 0 ? 3000 : 80);
            for (int j = 0; j < len; j++)
                fputc(alphabet[rand() % (sizeof alphabet - 1)], fp);
            if (rand() % 3 == 0) fputs(", 0, 7.5, 1, 2, 3, 4, 5", fp);
            fputc('\n', fp);
        }
        fputs("\n2025/11/27 10:00:00.000, 0, 123.25, 9, 8, 7, 6, 5\n", fp);
        fclose(fp);
        f->ch.n = 0;
        open_ok(f);
        usleep(20000);
        do_read(f);
        int p0 = find(f, "nvidia-smi/0/power");
        assert_true(f->ok[p0]);
        assert_float_equal(f->v[p0], 123.25, 0);
        assert_float_equal(f->v[find(f, "nvidia-smi/0/temperature")], 5, 0);
        jb_src_nvsmi.close(f->state);
        f->state = NULL;
    }
}

static void test_child_dies(void **st)
{
    fixture *f = *st;
    setenv("FAKE_SMI_MODE", "die", 1);
    setenv("FAKE_SMI_DIE_AFTER", "2", 1);
    open_ok(f);
    usleep(600000);
    assert_int_equal(do_read(f), -1); /* EOF: every channel is a gap */
    for (int i = 0; i < f->ch.n; i++)
        assert_int_equal(f->ok[i], 0);
    pid_t pid = stream_pid(f);
    jb_src_nvsmi.close(f->state);
    f->state = NULL;
    assert_stopped(pid);
}

/* A child that ignores SIGTERM is killed after 1 s and reaped. */
static void test_stubborn_child_killed(void **st)
{
    fixture *f = *st;
    setenv("FAKE_SMI_MODE", "stubborn", 1);
    open_ok(f);
    assert_int_equal(do_read(f), 0);
    pid_t pid = stream_pid(f);
    int64_t t0 = jb_mono_ns();
    jb_src_nvsmi.close(f->state);
    f->state = NULL;
    int64_t took = jb_mono_ns() - t0;
    assert_true(took >= 900000000LL && took < 3000000000LL);
    assert_stopped(pid);
}

static void test_no_driver(void **st)
{
    fixture *f = *st;
    setenv("FAKE_SMI_MODE", "nodriver", 1);
    tu_assert_unusable(&jb_src_nvsmi, &f->env, &f->state, &f->ch,
                       "couldn't communicate with the NVIDIA driver", "driver",
                       "couldn't communicate");
    assert_non_null(strstr(tu_reason, "exit 9"));
}

static void test_missing_executable(void **st)
{
    fixture *f = *st;
    char reason[512] = "", fix[256] = "";
    f->opts[0].value = "/nonexistent/nvidia-smi";
    assert_int_equal(jb_src_nvsmi.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "/nonexistent/nvidia-smi"));
    assert_non_null(strstr(fix, "nvidia-smi.path"));
    /* The environment variable is used when no option is given. */
    f->env.nopts = 0;
    setenv("JOULEBENCH_NVIDIA_SMI", fake_smi, 1);
    assert_int_equal(jb_src_nvsmi.probe(&f->env, reason, sizeof reason, fix, sizeof fix), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_streaming_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_fixture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stubborn_child_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_executable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
