/*
 * test_recorder.c — the marker recorder (src/recorder.c) fed by the real
 * client library (lib/joulebench.c) over a real unix datagram socket:
 * lifecycle, markers from another thread and a forked child, a flood of
 * 100 000 markers, malformed datagrams interleaved with valid ones, the cap on
 * kept bad texts, the client's no-op and drop paths, and the receive thread's
 * napping: paced markers do not wake it once each, an idle recorder sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "joulebench.h"
#include "marker.h"
#include "recorder.h"

typedef struct got {
    jb_marker *m;
    size_t n, cap;
    size_t nbad;
    char last_reason[64];
    char last_raw[600];
    size_t last_rawlen;
} got;

static void on_ok(void *ctx, const jb_marker *m)
{
    got *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->m = realloc(g->m, g->cap * sizeof *g->m);
    }
    g->m[g->n++] = *m;
}

static void on_bad(void *ctx, int64_t recv_ns, const char *reason, const char *raw, size_t len)
{
    got *g = ctx;
    g->nbad++;
    snprintf(g->last_reason, sizeof g->last_reason, "%s", reason);
    memcpy(g->last_raw, raw, len);
    g->last_rawlen = len;
    assert_true(recv_ns > 0);
}

static jb_recorder *start_and_point_client(void)
{
    jb_recorder *r;
    jb_err err;
    if (jb_recorder_start(&r, &err)) fail_msg("%s", err.msg);
    setenv("JOULEBENCH_SOCKET", jb_recorder_socket_path(r), 1);
    jb_client_reset();
    return r;
}

static void test_lifecycle(void **state)
{
    jb_recorder *r = start_and_point_client();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", jb_recorder_socket_path(r));
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    *strrchr(dir, '/') = 0;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    jb_recorder_stop(r);
    jb_recorder_stop(r); /* idempotent */
    assert_int_equal(stat(jb_recorder_socket_path(r), &st), -1);
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(jb_recorder_drain(r, on_ok, on_bad, NULL), 0);
    jb_recorder_free(r);
    jb_recorder_free(NULL);
}

static void test_bad_tmpdir(void **state)
{
    jb_recorder *r;
    jb_err err;
    setenv("TMPDIR", "/nonexistent/joulebench-test", 1);
    assert_int_equal(jb_recorder_start(&r, &err), -1);
    assert_null(r);
    assert_non_null(strstr(err.msg, "TMPDIR"));
    unsetenv("TMPDIR");
}

static void *send_some(void *arg)
{
    (void)arg;
    jb_begin("train", JB_NO_INDEX);
    jb_begin("epoch", 1);
    jb_metric("val_accuracy", 1, 0.8731);
    jb_end("epoch", 1);
    jb_event("checkpoint");
    jb_end("train", JB_NO_INDEX);
    return NULL;
}

static void test_client_thread(void **state)
{
    jb_recorder *r = start_and_point_client();
    assert_true(jb_enabled());
    int64_t before = jb_real_ns();
    pthread_t t;
    pthread_create(&t, NULL, send_some, NULL);
    pthread_join(t, NULL);
    int64_t after = jb_real_ns();
    jb_recorder_stop(r);
    got g = {0};
    assert_int_equal(jb_recorder_drain(r, on_ok, on_bad, &g), 6);
    assert_int_equal(g.n, 6);
    const char *kinds[] = {"begin", "begin", "metric", "end", "event", "end"};
    const char *names[] = {"train", "epoch", "val_accuracy", "epoch", "checkpoint", "train"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(g.m[i].kind, kinds[i]);
        assert_string_equal(g.m[i].name, names[i]);
        assert_int_equal(g.m[i].pid, getpid());
        assert_true(g.m[i].t_ns >= before && g.m[i].t_ns <= after);
        /* received after it was sent (allow the clock offset's small error) */
        assert_true(g.m[i].recv_ns >= g.m[i].t_ns - 1000000);
        assert_true(g.m[i].recv_ns - g.m[i].t_ns < 1000000000);
    }
    assert_false(g.m[0].has_index);
    assert_true(g.m[1].has_index && g.m[1].index == 1);
    assert_true(g.m[2].has_value && g.m[2].value == 0.8731);
    uint64_t valid, bad;
    jb_recorder_counts(r, &valid, &bad);
    assert_int_equal(valid, 6);
    assert_int_equal(bad, 0);
    assert_int_equal(jb_dropped(), 0);
    free(g.m);
    jb_recorder_free(r);
}

#define FLOOD 100000

static void *flood(void *arg)
{
    int *rejected = arg;
    for (int i = 0; i < FLOOD; i++)
        if ((i % 2 ? jb_end("step", i / 2) : jb_begin("step", i / 2)) != 0) (*rejected)++;
    return NULL;
}

static void test_flood(void **state)
{
    /* A generous wait for room: this machine's two cores are shared, and the
     * receive thread may be descheduled for longer than the 10 ms default. */
    setenv("JOULEBENCH_SEND_WAIT_US", "500000", 1);
    jb_recorder *r = start_and_point_client();
    got g = {0};
    int rejected = 0;
    int64_t t0 = jb_mono_ns();
    pthread_t t;
    pthread_create(&t, NULL, flood, &rejected);
    pthread_join(t, NULL);
    unsetenv("JOULEBENCH_SEND_WAIT_US");
    double secs = (double)(jb_mono_ns() - t0) / 1e9;
    jb_recorder_stop(r);
    jb_recorder_drain(r, on_ok, on_bad, &g);
    uint64_t dropped = jb_dropped();
    print_message("flood: %d markers in %.3f s (%.0f/s), received %zu, client dropped %llu\n",
                  FLOOD, secs, FLOOD / secs, g.n, (unsigned long long)dropped);
    /* everything the client did not count as dropped arrived, in order */
    assert_int_equal(g.n + dropped, FLOOD);
    assert_int_equal((uint64_t)rejected, dropped);
    assert_int_equal(g.nbad, 0);
    assert_int_equal(jb_recorder_overflow(r), 0);
    /* the client waits briefly for room, so a flood loses nothing */
    assert_int_equal(dropped, 0);
    for (size_t i = 0; i < g.n; i++) {
        assert_int_equal(g.m[i].index, (int64_t)i / 2);
        if (i) assert_true(g.m[i].t_ns >= g.m[i - 1].t_ns);
    }
    free(g.m);
    jb_recorder_free(r);
}

/* Send raw datagrams (blocking, so none is lost on the way). */
static void raw_send(int fd, const char *path, const void *buf, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    ssize_t n;
    do
        n = sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
    while (n < 0 && errno == EINTR);
    assert_int_equal(n, (ssize_t)len);
}

static void test_bad_interleaved(void **state)
{
    jb_recorder *r = start_and_point_client();
    const char *path = jb_recorder_socket_path(r);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    char big[2000];
    memset(big, 'x', sizeof big);
    memcpy(big, "v1 1 1 begin ", 13);
    const char *bad_lines[] = {
        "v2 1 1 begin x",
        "v1 1 1 metric x nan",
        "v1 1 1 metric x inf",
        "v1 1 1 begin bad!name",
        "v1 1 1 begin x 1 2",
        "",
        "hello",
    };
    srand(99);
    size_t nbad = 0, nvalid = 0, round = 0;
    got g = {0};
    for (round = 0; round < 300; round++) {
        char line[128];
        int n = jb_marker_format(line, sizeof line, 1000 + (int64_t)round, 77, "begin", "ok",
                                 (int64_t)round, 0);
        raw_send(fd, path, line, (size_t)n);
        nvalid++;
        switch (round % 4) {
        case 0:
            raw_send(fd, path, bad_lines[round / 4 % 7], strlen(bad_lines[round / 4 % 7]));
            break;
        case 1: {
            unsigned char noise[300];
            for (size_t k = 0; k < sizeof noise; k++)
                noise[k] = (unsigned char)rand();
            noise[0] = 0; /* never accidentally valid */
            raw_send(fd, path, noise, 1 + (size_t)rand() % sizeof noise);
            break;
        }
        case 2:
            raw_send(fd, path, big, round % 8 == 2 ? sizeof big : 513);
            break;
        case 3:
            raw_send(fd, path, "v1 1 1 begin x\0y", 16);
            break;
        }
        nbad++;
        if (round % 50 == 0) jb_recorder_drain(r, on_ok, on_bad, &g); /* drains while running */
    }
    close(fd);
    jb_recorder_stop(r);
    jb_recorder_drain(r, on_ok, on_bad, &g);
    assert_int_equal(g.n, nvalid);
    assert_int_equal(g.nbad, nbad);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.m[i].index, (int64_t)i);
    uint64_t valid, bad;
    jb_recorder_counts(r, &valid, &bad);
    assert_int_equal(valid, nvalid);
    assert_int_equal(bad, nbad);
    /* the last one was the NUL case: reason and raw text kept */
    assert_string_equal(g.last_reason, "NUL byte");
    assert_int_equal(g.last_rawlen, 16);
    assert_memory_equal(g.last_raw, "v1 1 1 begin x\0y", 16);
    free(g.m);
    jb_recorder_free(r);
}

static void test_bad_cap(void **state)
{
    jb_recorder *r = start_and_point_client();
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 0; i < JB_RECORDER_MAX_BAD_KEPT + 500; i++)
        raw_send(fd, jb_recorder_socket_path(r), "garbage", 7);
    raw_send(fd, jb_recorder_socket_path(r), "v1 1 1 event after", 18);
    close(fd);
    jb_recorder_stop(r);
    got g = {0};
    jb_recorder_drain(r, on_ok, on_bad, &g);
    uint64_t valid, bad;
    jb_recorder_counts(r, &valid, &bad);
    assert_int_equal(bad, JB_RECORDER_MAX_BAD_KEPT + 500);
    assert_int_equal(g.nbad, JB_RECORDER_MAX_BAD_KEPT);
    assert_int_equal(g.n, 1);
    assert_int_equal(valid, 1);
    free(g.m);
    jb_recorder_free(r);
}

static void test_fork_pid(void **state)
{
    jb_recorder *r = start_and_point_client();
    jb_event("parent_before"); /* opens the socket before the fork */
    pid_t child = fork();
    if (child == 0) _exit(jb_event("child") == 0 ? 0 : 1);
    int st;
    waitpid(child, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    jb_event("parent_after");
    jb_recorder_stop(r);
    got g = {0};
    jb_recorder_drain(r, on_ok, on_bad, &g);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.m[1].name, "child");
    assert_int_equal(g.m[1].pid, child);
    assert_int_equal(g.m[0].pid, getpid());
    assert_int_equal(g.m[2].pid, getpid());
    free(g.m);
    jb_recorder_free(r);
}

/* Times the recorder's receive thread was scheduled so far: the third field
 * of /proc/self/task/TID/schedstat, summed over the threads other than main
 * (the only other thread while these tests run is the receive thread). */
static unsigned long long recorder_wakeups(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    unsigned long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == getpid()) continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long run_ns, wait_ns, slices;
        if (fscanf(f, "%llu %llu %llu", &run_ns, &wait_ns, &slices) == 3) sum += slices;
        fclose(f);
    }
    closedir(d);
    return sum;
}

static void spin_us(int us)
{
    int64_t until = jb_mono_ns() + us * 1000LL;
    while (jb_mono_ns() < until) {
    }
}

static void test_paced_and_idle(void **state)
{
    if (access("/proc/self/task", R_OK)) skip();
    setenv("JOULEBENCH_SEND_WAIT_US", "500000", 1); /* a loaded 2-core machine: see test_flood */
    jb_recorder *r = start_and_point_client();
    /* markers 20 us apart: the thread naps and takes several per wakeup */
    enum { PACED = 4000, SPARSE = 100, BURSTS = 20, BURST = 40 };
    unsigned long long w0 = recorder_wakeups();
    for (int i = 0; i < PACED; i++) {
        spin_us(20);
        assert_int_equal(jb_metric("loss", i, 0.5), 0);
    }
    unsigned long long paced_wakeups = recorder_wakeups() - w0;
    /* then sparser ones, and bursts longer than the kernel queue (10) into a nap */
    for (int i = 0; i < SPARSE; i++) {
        spin_us(300);
        assert_int_equal(jb_event("sparse"), 0);
    }
    for (int b = 0; b < BURSTS; b++) {
        spin_us(200);
        for (int i = 0; i < BURST; i++)
            assert_int_equal(jb_begin("burst", b * BURST + i), 0);
    }
    unsetenv("JOULEBENCH_SEND_WAIT_US");
    /* idle: after at most IDLE_BLOCK_US of naps the thread blocks on the socket */
    struct timespec settle = {.tv_nsec = 20000000}, idle = {.tv_nsec = 300000000};
    nanosleep(&settle, NULL);
    unsigned long long w1 = recorder_wakeups();
    nanosleep(&idle, NULL);
    unsigned long long idle_wakeups = recorder_wakeups() - w1;
    jb_recorder_stop(r);
    got g = {0};
    jb_recorder_drain(r, on_ok, on_bad, &g);
    print_message("paced: %d markers woke the recorder %llu times; idle 300 ms: %llu\n", PACED,
                  paced_wakeups, idle_wakeups);
    assert_int_equal(jb_dropped(), 0);
    assert_int_equal(g.n, PACED + SPARSE + BURSTS * BURST);
    for (size_t i = 0; i < PACED; i++)
        assert_int_equal(g.m[i].index, (int64_t)i);
    for (size_t i = 0; i < BURSTS * BURST; i++)
        assert_int_equal(g.m[PACED + SPARSE + i].index, (int64_t)i);
    assert_true(paced_wakeups < PACED / 2); /* blocking on the socket: about one per marker */
    assert_true(idle_wakeups <= 3);         /* napping at 500 us: 600 */
    free(g.m);
    jb_recorder_free(r);
}

static void test_client_disabled(void **state)
{
    unsetenv("JOULEBENCH_SOCKET");
    jb_client_reset();
    assert_false(jb_enabled());
    assert_int_equal(jb_begin("x", 1), 0);
    assert_int_equal(jb_metric("x", 1, 0.0 / 0.0), 0); /* not even validated: no-op */
    assert_int_equal(jb_dropped(), 0);
    setenv("JOULEBENCH_SOCKET", "", 1);
    jb_client_reset();
    assert_false(jb_enabled());
}

static void test_client_drops_and_invalid(void **state)
{
    setenv("JOULEBENCH_SOCKET", "/nonexistent/joulebench/markers.sock", 1);
    jb_client_reset();
    assert_true(jb_enabled());
    errno = 1234;
    assert_int_equal(jb_begin("x", 1), -1);
    assert_int_equal(errno, 1234); /* the workload's errno is left alone */
    assert_int_equal(jb_event("y"), -1);
    assert_int_equal(jb_dropped(), 2);
    assert_int_equal(jb_begin("bad name", 1), -1); /* invalid: refused, not a drop */
    assert_int_equal(jb_metric("m", 1, 1.0 / 0.0), -1);
    assert_int_equal(jb_dropped(), 2);

    /* the recorder went away during the run */
    jb_recorder *r = start_and_point_client();
    assert_int_equal(jb_event("one"), 0);
    jb_recorder_stop(r);
    assert_int_equal(jb_event("two"), -1);
    assert_int_equal(jb_dropped(), 1);
    jb_recorder_free(r);
    unsetenv("JOULEBENCH_SOCKET");
    jb_client_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),       cmocka_unit_test(test_bad_tmpdir),
        cmocka_unit_test(test_client_thread),   cmocka_unit_test(test_flood),
        cmocka_unit_test(test_bad_interleaved), cmocka_unit_test(test_bad_cap),
        cmocka_unit_test(test_fork_pid),        cmocka_unit_test(test_paced_and_idle),
        cmocka_unit_test(test_client_disabled), cmocka_unit_test(test_client_drops_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
