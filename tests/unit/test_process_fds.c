/*
 * test_process_fds.c — the process source's cheap sampling path (kept
 * descriptors, orphans found among known processes, task scan of
 * multi-threaded processes) on fake /proc trees: the totals stay right when
 * processes exit, are re-parented, or a pid's files are replaced, and the
 * source never holds more descriptors than its budget or leaks any.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>

#include "source.h"
#include "testutil.h"

extern const jb_source_driver jb_src_process;

static long tck, page;

static void put_proc(int pid, int ppid, unsigned ut, unsigned cut, int threads, unsigned rss,
                     unsigned long long wr, const char *children)
{
    char stat[512];
    snprintf(stat, sizeof stat,
             "%d (x) y) R %d 1 1 0 -1 0 0 0 0 0 %u 0 %u 0 20 -5 %d 0 100 1000 7\n", pid, ppid, ut,
             cut, threads);
    tu_put_proc(pid, stat, rss, 3, wr, children);
}

static void rm_proc(int pid)
{
    char rel[64];
    snprintf(rel, sizeof rel, "/proc/%d", pid);
    tu_rm(rel);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void *open_src(int target)
{
    jb_source_env e = {.root = tu_root, .interval_ns = 10000000, .self_pid = 1};
    jb_channel_list ch = {0};
    void *s = NULL;
    jb_err err;
    assert_int_equal(jb_src_process.open(&e, &s, &ch, &err), 0);
    assert_int_equal(ch.n, 5);
    jb_src_process.set_target(s, target);
    return s;
}

static void sample(void *s, double v[5])
{
    uint8_t ok[5];
    assert_int_equal(jb_src_process.read(s, 0, v, ok), 0);
    for (int i = 0; i < 5; i++)
        assert_true(ok[i]);
}

static int setup(void **st)
{
    tck = sysconf(_SC_CLK_TCK);
    page = sysconf(_SC_PAGESIZE);
    tu_make_root("procfd");
    return 0;
}

static int teardown(void **st)
{
    tu_rm_root();
    return 0;
}

/* 1 (us) -> 10 -> 11 -> 12; 11 exits, 10 reaps it, 12 is re-parented to us.
 * Our own children file is never consulted (it does not even exist). */
static void test_orphan_found_among_known(void **st)
{
    put_proc(10, 1, 100, 0, 1, 1, 10, "11 ");
    put_proc(11, 10, 20, 0, 1, 2, 20, "12 ");
    put_proc(12, 11, 3, 0, 1, 4, 30, "");
    void *s = open_src(10);
    double v[5];
    sample(s, v);
    assert_float_equal(v[0], 123.0 / tck, 1e-9);
    assert_float_equal(v[1], 7.0 * page, 0);
    assert_float_equal(v[3], 60, 0);
    assert_float_equal(v[4], 3, 0);
    rm_proc(11);
    put_proc(10, 1, 100, 25, 1, 1, 10 + 20, ""); /* 11's time and io move into 10 */
    put_proc(12, 1, 5, 0, 1, 4, 30, "");
    sample(s, v);
    assert_float_equal(v[0], 130.0 / tck, 1e-9);
    assert_float_equal(v[3], 60, 0);
    assert_float_equal(v[4], 2, 0);
    /* the orphan exits; we reaped it, so what it did is kept */
    rm_proc(12);
    sample(s, v);
    assert_float_equal(v[0], 130.0 / tck, 1e-9);
    assert_float_equal(v[3], 60, 0);
    assert_float_equal(v[4], 1, 0);
    jb_src_process.close(s);
}

/* A multi-threaded process: its children are listed per thread. */
static void test_children_of_other_threads(void **st)
{
    put_proc(10, 1, 1, 0, 2, 1, 0, "");
    tu_put("/proc/10/task/13/children", "11 ");
    put_proc(11, 10, 2, 0, 1, 1, 0, "");
    void *s = open_src(10);
    double v[5];
    sample(s, v);
    assert_float_equal(v[0], 3.0 / tck, 1e-9);
    assert_float_equal(v[4], 2, 0);
    jb_src_process.close(s);
}

/* Files replaced under a kept descriptor (a fake tree's pid reuse) are read anew. */
static void test_replaced_files_are_reopened(void **st)
{
    put_proc(10, 1, 1, 0, 1, 1, 0, "11 ");
    put_proc(11, 10, 2, 0, 1, 1, 5, "");
    void *s = open_src(10);
    double v[5];
    sample(s, v);
    assert_float_equal(v[3], 5, 0);
    rm_proc(11);
    put_proc(11, 10, 9, 0, 1, 3, 50, "");
    sample(s, v);
    assert_float_equal(v[0], 10.0 / tck, 1e-9);
    assert_float_equal(v[1], 4.0 * page, 0);
    assert_float_equal(v[3], 50, 0);
    jb_src_process.close(s);
}

/* 150 processes need 600 files: the source keeps at most its budget open,
 * still counts every process, and close() releases everything. */
static void test_descriptor_budget(void **st)
{
    char kids[2048] = "";
    for (int i = 0; i < 150; i++) {
        size_t l = strlen(kids);
        snprintf(kids + l, sizeof kids - l, "%d ", 100 + i);
        put_proc(100 + i, 10, 1, 0, 1, 1, 1, "");
    }
    put_proc(10, 1, 0, 0, 1, 0, 0, kids);
    int before = open_fds();
    void *s = open_src(10);
    double v[5];
    for (int round = 0; round < 3; round++) {
        sample(s, v);
        assert_float_equal(v[0], 150.0 / tck, 1e-9);
        assert_float_equal(v[3], 150, 0);
        assert_float_equal(v[4], 151, 0);
        int held = open_fds() - before;
        assert_true(held > 100);
        assert_true(held <= 400);
    }
    jb_src_process.close(s);
    assert_int_equal(open_fds(), before);
}

/* Garbage and truncated stat files are gaps in the tree, never crashes. */
static void test_garbage_stat(void **st)
{
    static const char *bad[] = {"",         ")",
                                "10 (x",    "10 (x) ",
                                "10 (x) R", "10 (x) R 1 2 3",
                                "\n\n\n",   "10 (x) R -1 -2 -3 -4 -5 -6 -7 -8 -9 -10 -11 -12"};
    put_proc(10, 1, 4, 0, 1, 1, 0, "11 ");
    void *s = open_src(10);
    double v[5];
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_put("/proc/11/stat", bad[i]);
        sample(s, v);
        assert_true(v[4] >= 1 && v[4] <= 2);
    }
    srand(7);
    char junk[300];
    for (int i = 0; i < 200; i++) {
        int n = rand() % (int)sizeof junk;
        for (int k = 0; k < n - 1; k++)
            junk[k] = (char)(1 + rand() % 255);
        junk[n > 0 ? n - 1 : 0] = 0;
        tu_put("/proc/11/stat", junk);
        tu_put("/proc/10/task/10/children", i % 2 ? junk : "11 ");
        uint8_t ok[5];
        assert_int_equal(jb_src_process.read(s, 0, v, ok), 0);
    }
    jb_src_process.close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_orphan_found_among_known, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_of_other_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_files_are_reopened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_stat, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
