/*
 * test_hwmon.c — the hwmon source on a fake /sys/class/hwmon tree: µW power
 * and µJ energy inputs, labels, the power*_average fallback, duplicate device
 * names, energy counter restarts kept monotone, hwmon.total roles, garbage
 * values as gaps, and probe explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const jb_source_driver jb_src_hwmon;

#define H "/sys/class/hwmon/"

static int setup(void **st)
{
    tu_make_root("hwmon");
    tu_put(H "hwmon0/name", "k10temp\n");
    tu_put(H "hwmon0/temp1_input", "45000\n"); /* not power: ignored */
    tu_put(H "hwmon1/name", "amdgpu\n");
    tu_put(H "hwmon1/power1_input", "35000000\n");
    tu_put(H "hwmon1/power1_label", "PPT\n");
    tu_put(H "hwmon1/power1_cap", "200000000\n"); /* not an input */
    tu_put(H "hwmon2/name", "power_meter\n");
    tu_put(H "hwmon2/power1_average", "123456789\n"); /* acpi_power_meter style */
    tu_put(H "hwmon3/name", "amd_energy\n");
    tu_put(H "hwmon3/energy1_input", "18446744073000000000\n"); /* near 2^64 µJ */
    tu_put(H "hwmon3/energy1_label", "Esocket 0\n");
    tu_put(H "hwmon4/name", "amdgpu\n"); /* second GPU, same name */
    tu_put(H "hwmon4/power1_input", "1000000\n");
    tu_put(H "hwmon4/power1_label", "PPT\n");
    return 0;
}

static int teardown(void **st)
{
    tu_rm_root();
    return 0;
}

static void test_channels_and_values(void **st)
{
    jb_source_opt opts[] = {{"hwmon.total", "hwmon/power_meter/power1"}};
    jb_source_env env = {.root = tu_root, .opts = opts, .nopts = 1};
    char reason[256], fix[256];
    assert_int_equal(jb_src_hwmon.probe(&env, reason, sizeof reason, fix, sizeof fix), 1);
    void *state;
    jb_channel_list ch = {0};
    jb_err err;
    assert_int_equal(jb_src_hwmon.open(&env, &state, &ch, &err), 0);
    assert_int_equal(ch.n, 4);
    int gpu = tu_find(&ch, "hwmon/amdgpu/PPT"), gpu2 = tu_find(&ch, "hwmon/amdgpu/PPT-hwmon4"),
        meter = tu_find(&ch, "hwmon/power_meter/power1"),
        sock = tu_find(&ch, "hwmon/amd_energy/Esocket_0");
    assert_true(gpu >= 0 && gpu2 >= 0 && meter >= 0 && sock >= 0);
    assert_int_equal(ch.ch[gpu].kind, JB_KIND_POWER);
    assert_string_equal(ch.ch[gpu].unit, "W");
    assert_int_equal(ch.ch[sock].kind, JB_KIND_ENERGY_COUNTER);
    assert_string_equal(ch.ch[sock].unit, "J");
    assert_int_equal(ch.ch[meter].role, JB_ROLE_TOTAL);
    assert_int_equal(ch.ch[gpu].role, JB_ROLE_PART);

    double v[8];
    uint8_t ok[8];
    assert_int_equal(jb_src_hwmon.read(state, 0, v, ok), 0);
    assert_true(v[gpu] == 35.0);
    assert_true(v[gpu2] == 1.0);
    assert_true(v[meter] == 123.456789);
    assert_true(v[sock] == 18446744073000000000.0 / 1e6);

    /* the energy counter restarts at 0 (driver reload): stays monotone */
    tu_put(H "hwmon3/energy1_input", "2000000\n");
    tu_put(H "hwmon1/power1_input", "40500000\n");
    assert_int_equal(jb_src_hwmon.read(state, 0, v, ok), 0);
    assert_true(v[gpu] == 40.5);
    assert_true(v[sock] == (18446744073000000000.0 + 2000000.0) / 1e6);

    /* garbage and empty values: gaps for those channels only */
    tu_put(H "hwmon1/power1_input", "N/A\n");
    tu_put(H "hwmon3/energy1_input", "");
    assert_int_equal(jb_src_hwmon.read(state, 0, v, ok), 0);
    assert_false(ok[gpu]);
    assert_false(ok[sock]);
    assert_true(ok[meter] && ok[gpu2]);
    jb_src_hwmon.close(state);
}

static void test_probe_explains(void **st)
{
    jb_source_env env = {.root = tu_root};
    tu_rm(H "hwmon1");
    tu_rm(H "hwmon2");
    tu_rm(H "hwmon3");
    tu_rm(H "hwmon4");
    void *state;
    jb_channel_list ch = {0};
    tu_assert_unusable(&jb_src_hwmon, &env, &state, &ch, "no power or energy sensor", NULL,
                       "hwmon");
    assert_true(strlen(tu_fix) > 10);

    tu_rm("/sys");
    char reason[256] = "", fix[256] = "";
    assert_int_equal(jb_src_hwmon.probe(&env, reason, sizeof reason, fix, sizeof fix), 0);
    assert_non_null(strstr(reason, "/sys/class/hwmon"));
}

/* random file names and contents: no crash, values parsed or gaps */
static void test_garbage_tree(void **st)
{
    srand(11);
    for (int r = 0; r < 100; r++) {
        char name[64], val[40];
        snprintf(name, sizeof name, H "hwmon9/%s%d_%s", rand() % 2 ? "power" : "energy",
                 rand() % 20000 - 100, rand() % 3 ? "input" : "average");
        int n = rand() % 39;
        for (int i = 0; i < n; i++)
            val[i] = (char)(1 + rand() % 255);
        val[n] = 0;
        tu_put(name, val);
        tu_put(H "hwmon9/name", val);
        jb_source_env env = {.root = tu_root};
        void *state;
        jb_channel_list *ch = calloc(1, sizeof *ch);
        jb_err err;
        if (jb_src_hwmon.open(&env, &state, ch, &err) == 0) {
            double v[JB_MAX_CHANNELS];
            uint8_t ok[JB_MAX_CHANNELS];
            jb_src_hwmon.read(state, 0, v, ok);
            for (int i = 0; i < ch->n; i++)
                assert_true(strlen(ch->ch[i].name) > 6 && !strchr(ch->ch[i].name + 6, ' '));
            jb_src_hwmon.close(state);
        }
        free(ch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_channels_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_explains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
