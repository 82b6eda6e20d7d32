/*
 * test_shared_read.c — one read of /proc/stat (and /proc/meminfo) per sample,
 * shared by the sources that parse it: inside jb_src_sample_begin/end the
 * cpu and estimate sources see the same text even if the file changes in
 * between (and the second read costs no system call); outside a sample, and
 * in the next sample, every read is fresh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>

#include "source.h"
#include "testutil.h"

extern const jb_source_driver jb_src_cpu, jb_src_estimate;

static const char *stat_text(unsigned user, unsigned idle)
{
    static char b[256];
    snprintf(b, sizeof b, "cpu  %u 0 0 %u 0 0 0 0 0 0\ncpu0 %u 0 0 %u 0 0 0 0 0 0\nintr 1\n", user,
             idle, user, idle);
    return b;
}

static int setup(void **st)
{
    tu_make_root("shared");
    return 0;
}

static int teardown(void **st)
{
    tu_rm_root();
    return 0;
}

static void test_helper_reads_once_per_sample(void **st)
{
    tu_put("/proc/stat", "first\n");
    jb_source_env e = {.root = tu_root};
    jb_err err;
    int a = jb_src_open_file(&e, "/proc/stat", &err), b = jb_src_open_file(&e, "/proc/stat", &err);
    assert_true(a >= 0 && b >= 0);
    char ba[64], bb[64];
    jb_src_sample_begin();
    assert_int_equal(jb_src_pread_shared(a, tu_root, "/proc/stat", ba, sizeof ba), 6);
    tu_put("/proc/stat", "second\n");
    close(b); /* the second reader's descriptor is not even used */
    assert_int_equal(jb_src_pread_shared(b, tu_root, "/proc/stat", bb, sizeof bb), 6);
    assert_string_equal(bb, "first\n");
    char small[4];
    assert_int_equal(jb_src_pread_shared(b, tu_root, "/proc/stat", small, sizeof small), 3);
    assert_string_equal(small, "fir");
    jb_src_sample_end();
    /* outside a sample: fresh */
    assert_int_equal(jb_src_pread_shared(a, tu_root, "/proc/stat", ba, sizeof ba), 7);
    assert_string_equal(ba, "second\n");
    /* the next sample reads anew */
    tu_put("/proc/stat", "third\n");
    jb_src_sample_begin();
    assert_int_equal(jb_src_pread_shared(a, tu_root, "/proc/stat", ba, sizeof ba), 6);
    assert_string_equal(ba, "third\n");
    /* another root is another file */
    assert_int_equal(jb_src_pread_shared(a, "/elsewhere", "/proc/stat", bb, sizeof bb), 6);
    jb_src_sample_end();
    close(a);
}

/* One read for a file generated whole; a full buffer falls back to reading
 * on (and stops at the buffer's end); empty and unreadable files. */
static void test_pread_whole(void **st)
{
    tu_put("/f", "0123456789\n");
    tu_put("/empty", "");
    jb_source_env e = {.root = tu_root};
    jb_err err;
    int fd = jb_src_open_file(&e, "/f", &err), ef = jb_src_open_file(&e, "/empty", &err);
    char b[64], small[5];
    assert_int_equal(jb_src_pread_whole(fd, b, sizeof b), 11);
    assert_string_equal(b, "0123456789\n");
    assert_int_equal(jb_src_pread_whole(fd, small, sizeof small), 4);
    assert_string_equal(small, "0123");
    assert_int_equal(jb_src_pread_whole(ef, b, sizeof b), 0);
    assert_string_equal(b, "");
    assert_int_equal(jb_src_pread_whole(fd, b, 0), -1);
    close(fd);
    close(ef);
    assert_int_equal(jb_src_pread_whole(fd, b, sizeof b), -1);
    /* the real /proc/stat in one read equals a read to the end */
    int a = open("/proc/stat", O_RDONLY), c = open("/proc/stat", O_RDONLY);
    static char x[65536], y[65536];
    assert_true(jb_src_pread_whole(a, x, sizeof x) > 0);
    assert_true(jb_src_pread_all(c, y, sizeof y) > 0);
    assert_int_equal(strncmp(x, "cpu ", 4), 0);
    int lx = 0, ly = 0; /* same lines; only counters differ */
    for (char *p = x; *p; p++)
        lx += *p == '\n';
    for (char *p = y; *p; p++)
        ly += *p == '\n';
    assert_int_equal(lx, ly);
    assert_int_equal(x[strlen(x) - 1], '\n');
    close(a);
    close(c);
}

/* cpu then estimate in one sample: both use the same /proc/stat text. */
static void test_cpu_and_estimate_agree(void **st)
{
    tu_put("/proc/stat", stat_text(0, 0));
    jb_source_env e = {.root = tu_root, .interval_ns = 10000000};
    jb_channel_list ch = {0};
    void *cpu, *est;
    jb_err err;
    assert_int_equal(jb_src_cpu.open(&e, &cpu, &ch, &err), 0);
    assert_int_equal(jb_src_estimate.open(&e, &est, &ch, &err), 0);
    double v[8];
    uint8_t ok[8];
    tu_put("/proc/stat", stat_text(25, 75)); /* 25 % busy */
    jb_src_sample_begin();
    assert_int_equal(jb_src_cpu.read(cpu, 1, v, ok), 0);
    tu_put("/proc/stat", stat_text(125, 75)); /* would be 62.5 % for a fresh read */
    assert_int_equal(jb_src_estimate.read(est, 1, v + 4, ok + 4), 0);
    jb_src_sample_end();
    assert_float_equal(v[0], 25.0, 1e-9);
    assert_float_equal(v[4], 10 + 55 * 0.25, 1e-9);
    /* next sample: both see the new text (100 % busy since the last one) */
    jb_src_sample_begin();
    assert_int_equal(jb_src_estimate.read(est, 2, v + 4, ok + 4), 0);
    assert_int_equal(jb_src_cpu.read(cpu, 2, v, ok), 0);
    jb_src_sample_end();
    assert_float_equal(v[0], 100.0, 1e-9);
    assert_float_equal(v[4], 65.0, 1e-9);
    jb_src_cpu.close(cpu);
    jb_src_estimate.close(est);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_helper_reads_once_per_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_and_estimate_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pread_whole, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
