/*
 * test_modbus.c — the modbus source against tests/helpers/modbus_sim, a
 * Modbus TCP meter on 127.0.0.1 serving the Janitza map with a known power
 * profile. Over 5 s the trapezoid integral of the sampled power must be
 * within 1 % of the profile's true energy, and the energy register must match
 * the true energy to its float32 resolution; a meter that stops answering
 * leaves bounded gaps and the source reconnects when it answers again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

extern const jb_source_driver jb_src_modbus;
double jb_modbus_decode(const uint16_t *r, int type, bool little_word_order);

typedef struct sim {
    pid_t pid;
    int port;
    int64_t t0_ns;
    char port_s[16];
} sim;

static void sim_start(sim *s, const char *const *args)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512];
    snprintf(path, sizeof path, "%s/tests/helpers/modbus_sim", build);
    if (access(path, X_OK)) fail_msg("%s missing: build it with `make unit-bins`", path);
    int p[2];
    assert_int_equal(pipe(p), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        const char *argv[16] = {path};
        int n = 1;
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        dup2(p[1], 1);
        close(p[0]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    long long t0 = 0;
    if (fscanf(f, "port=%d t0_ns=%lld", &s->port, &t0) != 2) fail_msg("modbus_sim did not start");
    fclose(f);
    s->t0_ns = t0;
    snprintf(s->port_s, sizeof s->port_s, "%d", s->port);
}

static void sim_stop(sim *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

/* The sine profile of modbus_sim: P = 100 + 40 sin(pi t). */
static double true_energy(const sim *s, int64_t ns)
{
    double t = (double)(ns - s->t0_ns) / 1e9;
    return 100 * t + 40 / M_PI * (1 - cos(M_PI * t));
}

static int find(const jb_channel_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->ch[i].name, name)) return i;
    return -1;
}

static void sleep_until(int64_t ns)
{
    int64_t d = ns - jb_mono_ns();
    if (d > 0) usleep((useconds_t)(d / 1000));
}

/* 5 s of a sine profile sampled every 50 ms. */
static void test_energy_over_5s(void **st)
{
    sim s;
    const char *args[] = {"--profile", "sine", "--energy-offset", "1000", NULL};
    sim_start(&s, args);
    jb_source_opt opts[] = {
        {"modbus.port", s.port_s}, {"modbus.channels", "l1,l2,l3,sum"}, {"modbus.energy", "1"}};
    jb_source_env env = {.root = "/", .interval_ns = 50000000, .opts = opts, .nopts = 3};
    char reason[256], fix[256];
    assert_int_equal(jb_src_modbus.probe(&env, reason, sizeof reason, fix, sizeof fix), 1);
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    if (jb_src_modbus.open(&env, &state, &ch, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ch.n, 5);
    int sum = find(&ch, "modbus/sum"), en = find(&ch, "modbus/energy"), l1 = find(&ch, "modbus/l1"),
        l2 = find(&ch, "modbus/l2"), l3 = find(&ch, "modbus/l3");
    assert_true(sum >= 0 && en >= 0 && l1 >= 0 && l2 >= 0 && l3 >= 0);
    assert_int_equal(ch.ch[en].kind, JB_KIND_ENERGY_COUNTER);
    assert_int_equal(ch.ch[en].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[sum].role, JB_ROLE_PART);
    assert_int_equal(ch.ch[sum].kind, JB_KIND_POWER);

    enum { N = 101 };
    static double t[N], p[N], e[N];
    static int64_t before[N], after[N];
    int64_t start = jb_mono_ns();
    for (int i = 0; i < N; i++) {
        sleep_until(start + (int64_t)i * 50000000);
        double v[8];
        uint8_t ok[8];
        before[i] = jb_mono_ns();
        assert_int_equal(jb_src_modbus.read(state, before[i], v, ok), 0);
        after[i] = jb_mono_ns();
        for (int k = 0; k < ch.n; k++)
            assert_true(ok[k]);
        t[i] = (double)(before[i] + after[i]) / 2e9;
        p[i] = v[sum];
        e[i] = v[en];
        assert_true(fabs(v[l1] + v[l2] + v[l3] - v[sum]) < 1e-4 * v[sum]);
        assert_true(fabs(v[l2] - 0.5 * v[sum]) < 1e-4 * v[sum]);
    }
    jb_src_modbus.close(state);
    sim_stop(&s);

    double trap = 0;
    for (int i = 1; i < N; i++)
        trap += (p[i] + p[i - 1]) / 2 * (t[i] - t[i - 1]);
    double truth = true_energy(&s, (before[N - 1] + after[N - 1]) / 2) -
                   true_energy(&s, (before[0] + after[0]) / 2);
    print_message("5 s sine profile: trapezoid %.3f J, true %.3f J (%.3f %%)\n", trap, truth,
                  100 * (trap - truth) / truth);
    assert_true(fabs(trap - truth) < 0.01 * truth);

    /* The register: its sample time lies between before and after, and its
     * value is float32 Wh (one step at ~1000 Wh is 2^-14 Wh = 0.22 J). */
    float last_wh = (float)(e[N - 1] / 3600);
    double step_j = ((double)nextafterf(last_wh, INFINITY) - last_wh) * 3600;
    double reg = e[N - 1] - e[0];
    double lo = true_energy(&s, before[N - 1]) - true_energy(&s, after[0]) - 2 * step_j;
    double hi = true_energy(&s, after[N - 1]) - true_energy(&s, before[0]) + 2 * step_j;
    print_message("energy register: %.3f J, true within [%.3f, %.3f] J (step %.3f J)\n", reg, lo,
                  hi, step_j);
    assert_true(reg >= lo && reg <= hi);
}

/* A meter that hangs for 1.5 s: gaps while it hangs, every read bounded by
 * the timeout, readings again after it recovers (reconnect). */
static void test_meter_stops_answering(void **st)
{
    sim s;
    const char *args[] = {"--profile", "constant", "--stop-after", "0.8", "--stop-for",
                          "1.5",       NULL};
    sim_start(&s, args);
    jb_source_opt opts[] = {{"modbus.port", s.port_s}, {"modbus.timeout_ms", "100"}};
    jb_source_env env = {.root = "/", .interval_ns = 100000000, .opts = opts, .nopts = 2};
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    if (jb_src_modbus.open(&env, &state, &ch, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ch.n, 2); /* sum + energy */
    int ok_before = 0, gaps = 0, ok_after = 0;
    int64_t longest = 0, start = jb_mono_ns();
    for (int i = 0; i < 40; i++) {
        sleep_until(start + (int64_t)i * 100000000);
        double v[2];
        uint8_t ok[2];
        int64_t a = jb_mono_ns();
        int rc = jb_src_modbus.read(state, a, v, ok);
        int64_t d = jb_mono_ns() - a;
        if (d > longest) longest = d;
        double t = (double)(a - s.t0_ns) / 1e9;
        if (rc == 0 && ok[0] && ok[1]) {
            assert_true(v[0] == 100.0);
            if (t < 0.8) ok_before++;
            if (t > 2.3) ok_after++;
        } else {
            assert_false(ok[0]);
            gaps++;
        }
    }
    jb_src_modbus.close(state);
    sim_stop(&s);
    print_message("ok before %d, gaps %d, ok after %d, longest read %.0f ms\n", ok_before, gaps,
                  ok_after, longest / 1e6);
    assert_true(ok_before >= 5);
    assert_true(gaps >= 8);
    assert_true(ok_after >= 5);
    assert_true(longest < 350000000); /* timeout 100 ms: bounded */
}

/* A custom map on input registers (function 04): power + energy. */
static void test_custom_map(void **st)
{
    sim s;
    const char *args[] = {"--profile", "ramp", NULL};
    sim_start(&s, args);
    jb_source_opt opts[] = {{"modbus.port", s.port_s},        {"modbus.map", "custom"},
                            {"modbus.function", "4"},         {"modbus.power.address", "19022"},
                            {"modbus.power.scale", "2"},      {"modbus.energy.address", "19068"},
                            {"modbus.energy.type", "float32"}};
    jb_source_env env = {.root = "/", .opts = opts, .nopts = 7};
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    if (jb_src_modbus.open(&env, &state, &ch, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ch.n, 2);
    int pw = find(&ch, "modbus/power"), en = find(&ch, "modbus/energy");
    assert_true(pw >= 0 && en >= 0);
    double v[2];
    uint8_t ok[2];
    int64_t a = jb_mono_ns();
    assert_int_equal(jb_src_modbus.read(state, a, v, ok), 0);
    int64_t b = jb_mono_ns();
    double ta = (double)(a - s.t0_ns) / 1e9, tb = (double)(b - s.t0_ns) / 1e9;
    /* L2 is half the total; scale 2 gives the total, 50 + 20 t */
    assert_true(v[pw] >= 50 + 20 * ta - 1e-3 && v[pw] <= 50 + 20 * tb + 1e-3);
    assert_true(v[en] >= 50 * ta + 10 * ta * ta - 1e-3 && v[en] <= 50 * tb + 10 * tb * tb + 1e-3);
    jb_src_modbus.close(state);
    sim_stop(&s);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_probe_and_bad_options(void **st)
{
    char port[16], reason[256], fix[256];
    snprintf(port, sizeof port, "%d", closed_port());
    jb_source_opt opts[] = {{"modbus.port", port}};
    jb_source_env env = {.root = "/", .opts = opts, .nopts = 1};
    assert_int_equal(jb_src_modbus.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "no Modbus TCP meter at 127.0.0.1:"));
    assert_non_null(strstr(fix, "modbus.host"));
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    assert_int_equal(jb_src_modbus.open(&env, &state, &ch, &err), -1);
    assert_non_null(strstr(err.msg, "cannot connect"));

    static const char *const bad[][2] = {
        {"modbus.map", "siemens"}, {"modbus.channels", "l4"},  {"modbus.port", "70000"},
        {"modbus.unit", "x"},      {"modbus.timeout_ms", "0"}, {"modbus.function", "16"},
        {"modbus.map", "custom"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jb_source_opt o[] = {{bad[i][0], bad[i][1]}};
        jb_source_env e = {.root = "/", .opts = o, .nopts = 1};
        assert_int_equal(jb_src_modbus.open(&e, &state, &ch, &err), -1);
        assert_non_null(strstr(err.msg, "modbus."));
        assert_int_equal(jb_src_modbus.probe(&e, reason, sizeof reason, fix, sizeof fix), 0);
    }
    jb_source_opt c[] = {
        {"modbus.map", "custom"}, {"modbus.power.address", "1"}, {"modbus.power.type", "int64"}};
    jb_source_env e = {.root = "/", .opts = c, .nopts = 3};
    assert_int_equal(jb_src_modbus.open(&e, &state, &ch, &err), -1);
    assert_non_null(strstr(err.msg, "power.type"));
}

static void test_decode(void **st)
{
    float f = 1234.5f;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t big[2] = {(uint16_t)(u >> 16), (uint16_t)u},
             little[2] = {(uint16_t)u, (uint16_t)(u >> 16)};
    assert_true(jb_modbus_decode(big, 0, false) == 1234.5);
    assert_true(jb_modbus_decode(little, 0, true) == 1234.5);
    uint16_t neg[1] = {0xFFFE};
    assert_true(jb_modbus_decode(neg, 1, false) == -2);
    assert_true(jb_modbus_decode(neg, 2, false) == 65534);
    uint16_t w[2] = {0x0001, 0x0002};
    assert_true(jb_modbus_decode(w, 4, false) == 65538);
    assert_true(jb_modbus_decode(w, 4, true) == 131073);
    uint16_t m[2] = {0xFFFF, 0xFFFF};
    assert_true(jb_modbus_decode(m, 3, false) == -1);
    srand(5);
    for (int i = 0; i < 100000; i++) {
        uint16_t r[2] = {(uint16_t)rand(), (uint16_t)rand()};
        double v = jb_modbus_decode(r, rand() % 5, rand() % 2);
        (void)v; /* NaN/inf are possible for float32; the driver turns them into gaps */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),         cmocka_unit_test(test_probe_and_bad_options),
        cmocka_unit_test(test_custom_map),     cmocka_unit_test(test_meter_stops_answering),
        cmocka_unit_test(test_energy_over_5s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
