/*
 * test_command.c — the command source with stand-in meters: `cat` on a FIFO
 * the test writes to (a streaming child whose lines arrive exactly when the
 * test says), `echo` / `sh -c` / `sleep` for per-sample runs. Covers watts and
 * joules modes, bad lines as counted gaps, stale values, counter restarts,
 * timeouts, a child that exits, options and probe explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const jb_source_driver jb_src_command;
int jb_command_parse_value(const char *line, double *v);
unsigned long jb_command_bad_lines(void *state);

static char dir[256], fifo[300], catcmd[400];

static int setup(void **st)
{
    snprintf(dir, sizeof dir, "/tmp/jb_cmd_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/meter", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(catcmd, sizeof catcmd, "cat %s", fifo);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **st)
{
    unlink(fifo);
    return rmdir(dir);
}

typedef struct src {
    void *state;
    jb_channel_list ch;
} src;

static void open_with(src *s, const jb_source_opt *opts, int n)
{
    jb_source_env env = {.root = "/", .interval_ns = 100000000, .opts = opts, .nopts = n};
    jb_err err;
    memset(s, 0, sizeof *s);
    if (jb_src_command.open(&env, &s->state, &s->ch, &err)) fail_msg("%s", err.msg);
}

/* Poll read() until ok == want_ok (and the value, when ok), at most 3 s. */
static double wait_for(src *s, int want_ok, double want)
{
    for (int i = 0; i < 300; i++) {
        double v = -1;
        uint8_t ok = 0;
        int rc = jb_src_command.read(s->state, jb_mono_ns(), &v, &ok);
        assert_int_equal(rc, ok ? 0 : -1);
        if (ok == want_ok && (!ok || v == want)) return v;
        usleep(10000);
    }
    fail_msg("no reading with ok=%d value %g within 3 s", want_ok, want);
    return 0;
}

static void say(int fd, const char *text)
{
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void test_streaming_watts(void **st)
{
    jb_source_opt o[] = {{"command.cmd", catcmd}};
    src s;
    open_with(&s, o, 1);
    assert_int_equal(s.ch.n, 1);
    assert_string_equal(s.ch.ch[0].name, "command/power");
    assert_string_equal(s.ch.ch[0].unit, "W");
    assert_int_equal(s.ch.ch[0].kind, JB_KIND_POWER);
    assert_int_equal(s.ch.ch[0].role, JB_ROLE_TOTAL);
    int w = open(fifo, O_WRONLY); /* cat has it open for reading */
    assert_true(w >= 0);
    wait_for(&s, 0, 0); /* nothing printed yet: a gap */
    say(w, "100\n");
    wait_for(&s, 1, 100);
    say(w, "  250.5 \n12"); /* the latest complete line wins; "12" not yet */
    wait_for(&s, 1, 250.5);
    say(w, "5\nnot a number\n");
    wait_for(&s, 0, 0);
    assert_int_equal(jb_command_bad_lines(s.state), 1);
    say(w, "nan\n1e999\n\n");
    say(w, "42\n");
    wait_for(&s, 1, 42);
    assert_int_equal(jb_command_bad_lines(s.state), 4);
    close(w); /* the meter command exits: gaps from now on */
    wait_for(&s, 0, 0);
    jb_src_command.close(s.state);
}

static void test_streaming_joules_and_stale(void **st)
{
    jb_source_opt o[] = {{"command.cmd", catcmd},
                         {"command.mode", "joules"},
                         {"command.stale", "300ms"},
                         {"command.name", "ipmi"}};
    src s;
    open_with(&s, o, 4);
    assert_string_equal(s.ch.ch[0].name, "command/ipmi");
    assert_int_equal(s.ch.ch[0].kind, JB_KIND_ENERGY_COUNTER);
    int w = open(fifo, O_WRONLY);
    say(w, "1000\n");
    wait_for(&s, 1, 1000);
    say(w, "1500\n");
    wait_for(&s, 1, 1500);
    say(w, "20\n"); /* the meter's counter restarted */
    wait_for(&s, 1, 1520);
    usleep(400000); /* nothing new for longer than stale: a gap */
    wait_for(&s, 0, 0);
    say(w, "30\n");
    wait_for(&s, 1, 1530);
    close(w);
    jb_src_command.close(s.state);
}

static void test_per_sample(void **st)
{
    jb_source_opt o[] = {{"command.cmd", "echo 42.5"}, {"command.per_sample", "1"}};
    src s;
    open_with(&s, o, 2);
    for (int i = 0; i < 3; i++)
        wait_for(&s, 1, 42.5);
    jb_src_command.close(s.state);

    jb_source_opt j[] = {{"command.cmd", "[\"sh\", \"-c\", \"printf '%s' 3.25\"]"},
                         {"command.per_sample", "1"}};
    open_with(&s, j, 2);
    wait_for(&s, 1, 3.25); /* JSON argv with blanks; no final newline */
    jb_src_command.close(s.state);

    jb_source_opt t[] = {
        {"command.cmd", "sleep 5"}, {"command.per_sample", "1"}, {"command.timeout_ms", "150"}};
    open_with(&s, t, 3);
    double v;
    uint8_t ok = 1;
    int64_t a = jb_mono_ns();
    assert_int_equal(jb_src_command.read(s.state, a, &v, &ok), -1);
    int64_t took = jb_mono_ns() - a;
    assert_false(ok);
    assert_true(took < 1000000000); /* killed after the timeout, not 5 s */
    jb_src_command.close(s.state);
}

static void test_options_and_probe(void **st)
{
    char reason[512], fix[512];
    jb_source_env env = {.root = "/"};
    assert_int_equal(jb_src_command.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "command.cmd"));
    assert_non_null(strstr(fix, "command.cmd"));

    jb_source_opt missing[] = {{"command.cmd", "/no/such/meter --watts"}};
    jb_source_env e1 = {.root = "/", .opts = missing, .nopts = 1};
    assert_int_equal(jb_src_command.probe(&e1, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "/no/such/meter"));
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    assert_int_equal(jb_src_command.open(&e1, &state, &ch, &err), -1);
    assert_non_null(strstr(err.msg, "cannot run"));

    jb_source_opt good[] = {{"command.cmd", "cat"}};
    jb_source_env e2 = {.root = "/", .opts = good, .nopts = 1};
    assert_int_equal(jb_src_command.probe(&e2, reason, sizeof reason, fix, sizeof fix), 1);

    static const char *const bad[][2] = {
        {"command.mode", "amps"},  {"command.timeout_ms", "0"},        {"command.stale", "soon"},
        {"command.cmd", "[1, 2]"}, {"command.cmd", "[\"unterminated"}, {"command.cmd", "   "}};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jb_source_opt o[] = {{"command.cmd", "cat"}, {bad[i][0], bad[i][1]}};
        jb_source_env e = {.root = "/", .opts = o, .nopts = 2};
        assert_int_equal(jb_src_command.open(&e, &state, &ch, &err), -1);
        assert_non_null(strstr(err.msg, "command"));
    }
}

static void test_parse_garbage(void **st)
{
    double v;
    assert_int_equal(jb_command_parse_value(" 12.5\r", &v), 0);
    assert_true(v == 12.5);
    assert_int_equal(jb_command_parse_value("12.5 W", &v), -1);
    assert_int_equal(jb_command_parse_value("inf", &v), -1);
    assert_int_equal(jb_command_parse_value("", &v), -1);
    srand(9);
    char buf[64];
    for (int i = 0; i < 50000; i++) {
        int n = rand() % 63;
        for (int k = 0; k < n; k++)
            buf[k] = "0123456789.eE+- \tnaix"[rand() % 21];
        buf[n] = 0;
        if (jb_command_parse_value(buf, &v) == 0) assert_true(v == v);
    }
    /* random bytes and an over-long line through a real streaming child */
    jb_source_opt o[] = {{"command.cmd", catcmd}};
    src s;
    open_with(&s, o, 1);
    int w = open(fifo, O_WRONLY);
    char junk[10000];
    for (size_t k = 0; k < sizeof junk; k++)
        junk[k] = (char)(1 + rand() % 255);
    junk[sizeof junk - 1] = 0;
    say(w, junk);
    say(w, "\n7\n");
    wait_for(&s, 1, 7);
    assert_true(jb_command_bad_lines(s.state) >= 2);
    close(w);
    jb_src_command.close(s.state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_streaming_watts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_joules_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_and_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
