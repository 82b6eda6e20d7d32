/*
 * test_oscar.c — OSCAR compatibility: the three parsers on the committed
 * fixtures (tests/fixtures/oscar, with every quirk of real files) and on
 * hand-written snippets, OSCAR's energy rule against hand-computed sums and
 * against the fixture generator's independent sums (expected.txt), the import
 * (one transaction: a bad file leaves the store untouched), and export →
 * import round trips: exact for imported data, within the 1 s resampling
 * error for 10 Hz measured data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "analysis.h"
#include "oscar.h"
#include "store.h"
#include "testutil.h"

#define NS 1000000000LL

static char fx[512];
static const jb_oscar_tz TZ_ENV = {false, 0};

static const char *fixture(const char *name)
{
    static char path[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", fx, name);
    return path[k];
}

static char *slurp(const char *path, size_t *len)
{
    char *t;
    jb_err err;
    assert_int_equal(jb_oscar_read_file(path, &t, len, &err), 0);
    return t;
}

static int64_t local_ns(int h, int m, int s, int ms)
{
    int64_t t;
    assert_int_equal(jb_oscar_local_to_ns(&TZ_ENV, 2022, 9, 22, h, m, s, ms, &t), 0);
    return t;
}

/* ---- action log ---- */

static void test_log_fixture_quirks(void **state)
{
    size_t len;
    char *text = slurp(fixture("scenario_log.csv"), &len);
    jb_oscar_log log;
    jb_err err;
    assert_int_equal(jb_oscar_parse_log("scenario_log.csv", text, len, &TZ_ENV, &log, &err), 0);
    assert_int_equal(log.n, 3);
    const jb_oscar_run *r = &log.runs[0];
    assert_int_equal(r->start_ns, local_ns(9, 0, 0, 500));
    assert_int_equal(r->stop_ns, local_ns(9, 0, 30, 500));
    assert_int_equal(r->nactions, 3);
    assert_string_equal(r->actions[0].name, "preprocessing"); /* written " preprocessing " */
    assert_string_equal(r->actions[2].name, "validation");
    /* ".98" is 98 ms, ".45" 45 ms, then ".216" in the same second */
    assert_int_equal(r->actions[0].begin_ns, local_ns(9, 0, 1, 98));
    assert_int_equal(r->actions[0].end_ns, local_ns(9, 0, 5, 45));
    assert_int_equal(r->actions[1].begin_ns, local_ns(9, 0, 5, 216));
    assert_int_equal(r->actions[1].end_ns, local_ns(9, 0, 25, 7));
    assert_int_equal(r->start_line, 1);
    assert_int_equal(r->stop_line, 8);
    jb_oscar_log_free(&log);
    free(text);
    /* an action without stopAction stays open (end -1) */
    text = slurp(fixture("idle_log.csv"), &len);
    assert_int_equal(jb_oscar_parse_log("idle_log.csv", text, len, &TZ_ENV, &log, &err), 0);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.runs[1].nactions, 1);
    assert_int_equal(log.runs[1].actions[0].end_ns, -1);
    jb_oscar_log_free(&log);
    free(text);
}

static void expect_log_error(const char *text, const char *where, const char *what)
{
    jb_oscar_log log;
    jb_err err = {{0}};
    assert_int_equal(jb_oscar_parse_log("a.csv", text, strlen(text), &TZ_ENV, &log, &err), -1);
    if (!strstr(err.msg, where) || !strstr(err.msg, what))
        fail_msg("for %s: got '%s', expected '%s' and '%s'", text, err.msg, where, what);
    assert_null(log.runs);
}

static void test_log_errors(void **state)
{
    expect_log_error("2022-9-22 09:00:00.000;stopTestrun\n", "a.csv:1:", "without a start");
    expect_log_error("2022-9-22 09:00:00.000;startTestrun\n\n2022-9-22 09:00:01.000;"
                     "startTestrun\n",
                     "a.csv:3:", "line 1 is still open");
    expect_log_error("2022-9-22 09:00:00.000;startAction;x\n", "a.csv:1:", "outside a testrun");
    expect_log_error("2022-9-22 09:00:00.000;startTestrun\n2022-9-22 09:00:00.5;stopAction\n",
                     "a.csv:2:", "without an open action");
    expect_log_error("2022-9-22 09:00:00.000;startTestrun\n2022-9-22 09:00:01.000;jump\n",
                     "a.csv:2:", "unknown event 'jump'");
    expect_log_error("22.09.2022 09:00:00;startTestrun\n", "a.csv:1:", "not a time");
    expect_log_error("2022-9-31 09:00:00.000;startTestrun\n", "a.csv:1:", "not a time");
    expect_log_error("2022-9-22 09:00:00.1234;startTestrun\n", "a.csv:1:", "not a time");
    expect_log_error("2022-9-22 09:00:01.000;startTestrun\n2022-9-22 09:00:00.999;"
                     "stopTestrun\n",
                     "a.csv:2:", "backwards");
    expect_log_error("2022-9-22 09:00:01.000;startTestrun\n", "a.csv:1:", "no stopTestrun");
    expect_log_error("\xEF\xBB\xBF\r\n\r\n", "a.csv", "no startTestrun");
    expect_log_error("2022-9-22 09:00:00.000;startTestrun\n2022-9-22 09:00:01.000;startAction\n",
                     "a.csv:2:", "without a name");
    expect_log_error("2022-9-22 09:00:00.000;startTestrun\n2022-9-22 09:00:00.5;startAction;y\n"
                     "2022-9-22 09:00:01.000;stopAction;x\n",
                     "a.csv:3:", "no action of that name");
}

static void test_log_named_stop_and_nesting(void **state)
{
    const char *t = "2022-9-22 09:00:00.000;startTestrun\n"
                    "2022-9-22 09:00:01.000;startAction;epoch\n"
                    "2022-9-22 09:00:02.000;startAction;validation\n"
                    "2022-9-22 09:00:03.000;stopAction;epoch\n"
                    "2022-9-22 09:00:04.000;stopAction\n"
                    "2022-9-22 09:00:05.000;stopTestrun;\n";
    jb_oscar_log log;
    jb_err err;
    assert_int_equal(jb_oscar_parse_log("n.csv", t, strlen(t), &TZ_ENV, &log, &err), 0);
    assert_int_equal(log.runs[0].nactions, 2);
    assert_int_equal(log.runs[0].actions[0].end_ns, local_ns(9, 0, 3, 0));
    assert_int_equal(log.runs[0].actions[1].end_ns, local_ns(9, 0, 4, 0));
    jb_oscar_log_free(&log);
}

/* The TZ environment and a fixed offset agree (Berlin is UTC+2 in September,
 * UTC+1 in January). */
static void test_timezone(void **state)
{
    jb_oscar_tz cest = {true, 7200}, cet = {true, 3600};
    int64_t a, b;
    assert_int_equal(jb_oscar_local_to_ns(&TZ_ENV, 2022, 9, 22, 9, 0, 0, 5, &a), 0);
    assert_int_equal(jb_oscar_local_to_ns(&cest, 2022, 9, 22, 9, 0, 0, 5, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(a, 1663830000005000000LL);
    assert_int_equal(jb_oscar_local_to_ns(&TZ_ENV, 2022, 1, 10, 9, 0, 0, 0, &a), 0);
    assert_int_equal(jb_oscar_local_to_ns(&cet, 2022, 1, 10, 9, 0, 0, 0, &b), 0);
    assert_int_equal(a, b);
    int y, mo, d, h, mi, s, ms;
    jb_oscar_ns_to_local(&cest, 1663830000005000000LL, &y, &mo, &d, &h, &mi, &s, &ms);
    assert_true(y == 2022 && mo == 9 && d == 22 && h == 9 && mi == 0 && s == 0 && ms == 5);
    int64_t off;
    assert_int_equal(jb_oscar_parse_utc_offset("+02:00", &off), 0);
    assert_int_equal(off, 7200);
    assert_int_equal(jb_oscar_parse_utc_offset("-0530", &off), 0);
    assert_int_equal(off, -19800);
    assert_int_equal(jb_oscar_parse_utc_offset("1", &off), 0);
    assert_int_equal(off, 3600);
    assert_int_equal(jb_oscar_parse_utc_offset("+-2", &off), -1);
    assert_int_equal(jb_oscar_parse_utc_offset("2h", &off), -1);
    assert_int_equal(jb_oscar_parse_utc_offset("+25", &off), -1);
}

/* ---- power ---- */

static void test_power_quirks(void **state)
{
    const char *t = "\xEF\xBB\xBFWert 1 : Wirkleistung L2 (1s) [UMG604]\r\n"
                    "Nummer;Zeit;Wert 1-avg[W];Wert 1-min[W];Wert 1-max[W];\r\n"
                    "\r\n"
                    "32401;22.09.22, 09:00:01;11,051;10,964;11,156;\r\n"
                    "32402; 22.09.22, 09:00:02 ;1.234,5;1,0;2,0;\r\n"
                    "32403;22.09.22, 09:00:03;;;;\r\n"
                    "32404;22.09.2022, 09:00:04;\"12.5\";;;";
    jb_oscar_power p;
    jb_err err;
    assert_int_equal(jb_oscar_parse_power("p.csv", t, strlen(t), &TZ_ENV, &p, &err), 0);
    assert_string_equal(p.title, "Wert 1 : Wirkleistung L2 (1s) [UMG604]");
    assert_string_equal(p.column, "Wert 1-avg[W]");
    assert_int_equal(p.n, 4);
    assert_int_equal(p.t[0], local_ns(9, 0, 1, 0));
    assert_true(p.w[0] == 11.051);
    assert_true(p.w[1] == 1234.5);
    assert_true(isnan(p.w[2]));
    assert_int_equal(p.t[3], local_ns(9, 0, 4, 0));
    assert_true(p.w[3] == 12.5);
    jb_oscar_power_free(&p);
}

static void expect_power_error(const char *text, const char *where, const char *what)
{
    jb_oscar_power p;
    jb_err err = {{0}};
    assert_int_equal(jb_oscar_parse_power("p.csv", text, strlen(text), &TZ_ENV, &p, &err), -1);
    if (!strstr(err.msg, where) || !strstr(err.msg, what))
        fail_msg("got '%s', expected '%s' and '%s'", err.msg, where, what);
}

static void test_power_errors(void **state)
{
    const char *h = "T\nNummer;Zeit;Wert 1-avg[W];\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s1;22.09.22, 09:00:01;11,0x5;\n", h);
    expect_power_error(buf, "p.csv:3:", "not a number");
    snprintf(buf, sizeof buf, "%s1;22.09.22 09-00-01;11,05;\n", h);
    expect_power_error(buf, "p.csv:3:", "not a GridVis time");
    snprintf(buf, sizeof buf, "%s1;31.02.22, 09:00:01;11,05;\n", h);
    expect_power_error(buf, "p.csv:3:", "not a GridVis time");
    snprintf(buf, sizeof buf, "%s1;22.09.22, 09:00:01;nan;\n", h);
    expect_power_error(buf, "p.csv:3:", "not a number");
    snprintf(buf, sizeof buf, "%s1\n", h);
    expect_power_error(buf, "p.csv:3:", "fields");
    expect_power_error("T\nNummer;Uhrzeit;W\n", "p.csv:2:", "no 'Zeit' column");
    expect_power_error(h, "p.csv", "no power rows");
}

/* ---- hardware ---- */

static void test_hardware_fixture(void **state)
{
    size_t len;
    char *text = slurp(fixture("hardware.csv"), &len);
    jb_oscar_hw hw;
    jb_err err;
    assert_int_equal(jb_oscar_parse_hardware("hw.csv", text, len, &TZ_ENV, &hw, &err), 0);
    free(text);
    assert_int_equal(hw.n, 551); /* 08:59:50 .. 09:09:00 */
    assert_int_equal(hw.t[0], local_ns(8, 59, 50, 0));
    for (int k = 0; k < JB_OSCAR_HW_N; k++)
        assert_true(hw.present[k]);
    const double *v = &hw.v[0];
    assert_true(v[JB_OSCAR_HW_CPU_TOTAL] == v[JB_OSCAR_HW_CPU_USER] + v[JB_OSCAR_HW_CPU_SYS]);
    assert_true(v[JB_OSCAR_HW_MEM_USED] > 3.5e6 && v[JB_OSCAR_HW_MEM_USED] < 3.6e6);
    jb_oscar_hw_free(&hw);
}

static void test_hardware_collectl_native(void **state)
{
    /* collectl's own -P layout: comment lines, '#Date;Time', yyyymmdd */
    const char *t = "################ collectl\n"
                    "#Date;Time;[CPU]User%;[CPU]Totl%;[NET]RxKBTot\n"
                    "20220922;09:00:01;10;12;100\n"
                    "20220922;09:00:02;20;25,5;\n"
                    "20220922;09:00:04;30;33;50\n";
    jb_oscar_hw hw;
    jb_err err;
    assert_int_equal(jb_oscar_parse_hardware("c.csv", t, strlen(t), &TZ_ENV, &hw, &err), 0);
    assert_int_equal(hw.n, 3);
    assert_true(hw.present[JB_OSCAR_HW_CPU_TOTAL] && hw.present[JB_OSCAR_HW_NET_RX]);
    assert_false(hw.present[JB_OSCAR_HW_MEM_USED]);
    assert_true(hw.v[1 * JB_OSCAR_HW_N + JB_OSCAR_HW_CPU_TOTAL] == 25.5);
    assert_true(isnan(hw.v[1 * JB_OSCAR_HW_N + JB_OSCAR_HW_NET_RX]));
    assert_int_equal(hw.t[2], local_ns(9, 0, 4, 0));
    jb_oscar_hw_free(&hw);

    const char *bad[][3] = {
        {"Date Time;[CPU]Totl%\n22.09.2022 09:00:02;1\n22.09.2022 09:00:01;1\n",
         "c.csv:3:", "backwards"},
        {"Date Time;[CPU]Totl%;[MEM]Used\n22.09.2022 09:00:02;1\n", "c.csv:2:", "truncated"},
        {"Date Time;[CPU]Totl%\n22.09.2022 09:00:02;x\n", "c.csv:2:", "not a number"},
        {"Date Time;foo;bar\n", "c.csv:1:", "none of the collectl columns"},
        {"22.09.2022 09:00:02;1\n", "c.csv:1:", "header"},
    };
    for (size_t i = 0; i < JB_ARRAY_LEN(bad); i++) {
        jb_err e = {{0}};
        assert_int_equal(
            jb_oscar_parse_hardware("c.csv", bad[i][0], strlen(bad[i][0]), &TZ_ENV, &hw, &e), -1);
        if (!strstr(e.msg, bad[i][1]) || !strstr(e.msg, bad[i][2]))
            fail_msg("case %zu: '%s'", i, e.msg);
    }
}

/* ---- OSCAR's energy ---- */

static void test_energy_hand_computed(void **state)
{
    /* rows 09:00:00 .. 09:00:05, run [00.500, 04.000]: rows 01, 02, 03, 04
     * count (stop inclusive): 11 + 12.5 + 13 + 14 = 50.5 W·s = 0.0140277… Wh;
     * with a gap at 03: 37.5 W·s */
    int64_t t[6];
    double w[6] = {10, 11, 12.5, 13, 14, 15};
    for (int i = 0; i < 6; i++)
        t[i] = local_ns(9, 0, i, 0);
    size_t rows;
    double e = jb_oscar_energy_wh(t, w, 6, local_ns(9, 0, 0, 500), local_ns(9, 0, 4, 0), &rows);
    assert_int_equal(rows, 4);
    assert_true(fabs(e - 50.5 / 3600) < 1e-15);
    w[3] = NAN;
    e = jb_oscar_energy_wh(t, w, 6, local_ns(9, 0, 0, 500), local_ns(9, 0, 4, 0), &rows);
    assert_int_equal(rows, 3);
    assert_true(fabs(e - 37.5 / 3600) < 1e-15);
    /* a run between two rows has none */
    e = jb_oscar_energy_wh(t, w, 6, local_ns(9, 0, 1, 1), local_ns(9, 0, 1, 999), &rows);
    assert_int_equal(rows, 0);
    assert_true(e == 0);
}

/* ---- import ---- */

static char *fxdup(const char *name)
{
    return strdup(fixture(name));
}

static jb_oscar_import_opts fixture_opts(void)
{
    jb_oscar_import_opts o;
    memset(&o, 0, sizeof o);
    o.scenario =
        (jb_oscar_files){fxdup("scenario_log.csv"), fxdup("power.csv"), fxdup("hardware.csv")};
    o.baseline =
        (jb_oscar_files){fxdup("baseline_log.csv"), fxdup("power.csv"), fxdup("hardware.csv")};
    o.idle = (jb_oscar_files){fxdup("idle_log.csv"), fxdup("power.csv"), NULL};
    o.variant = "own-cnn";
    return o;
}

static void opts_free(jb_oscar_import_opts *o)
{
    jb_oscar_files *f[3] = {&o->scenario, &o->baseline, &o->idle};
    for (int i = 0; i < 3; i++) {
        free((char *)f[i]->log);
        free((char *)f[i]->power);
        free((char *)f[i]->hardware);
    }
}

static int64_t count(jb_store *st, const char *sql)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &q, NULL), SQLITE_OK);
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return n;
}

static void import_fixture(jb_store *st, const char *db)
{
    jb_err err;
    unlink(db);
    assert_int_equal(jb_store_open(st, db, false, &err), 0);
    jb_oscar_import_opts o = fixture_opts();
    jb_oscar_import_result res;
    if (jb_oscar_import(st, &o, &res, &err)) fail_msg("%s", err.msg);
    opts_free(&o);
    assert_int_equal(res.runs[0], 3);
    assert_int_equal(res.runs[1], 2);
    assert_int_equal(res.runs[2], 2);
    assert_int_equal(res.markers, 19); /* 3 x 3 pairs + one begin without stopAction */
}

static void test_import_fixture(void **state)
{
    jb_store st;
    tu_make_root("oscar_imp");
    char db[300];
    snprintf(db, sizeof db, "%s/o.db", tu_root);
    import_fixture(&st, db);
    /* OSCAR energies equal the generator's own sums (expected.txt) */
    FILE *f = fopen(fixture("expected.txt"), "r");
    assert_non_null(f);
    char line[256], phase[16], a[16], b[16];
    int rows, k = 0;
    double sum, wh;
    const char *order[] = {"scenario", "baseline", "idle"};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        assert_int_equal(sscanf(line, "%15s %15s %15s %d %lf %lf", phase, a, b, &rows, &sum, &wh),
                         6);
        /* runs were inserted in time order, and expected.txt is in time order too */
        int64_t run_id = ++k;
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT phase='%s' FROM run WHERE id=%lld", phase,
                 (long long)run_id);
        assert_int_equal(count(&st, sql), 1);
        double got;
        int64_t got_rows;
        jb_err err;
        assert_int_equal(jb_oscar_run_energy(&st, run_id, &got, &got_rows, &err), 1);
        assert_int_equal(got_rows, rows);
        assert_true(fabs(got - sum / 3600) < 1e-12);
        /* the analysis' trapezoid differs from Σ P/3600 only at the edges:
         * at most 1.5 s of the largest power (< 60 W in the fixture) */
        jb_run_summary *rs = malloc(sizeof *rs);
        assert_int_equal(jb_run_summarize(&st, run_id, rs, &err), 0);
        assert_true(rs->has_headline);
        assert_string_equal(rs->headline_desc, "gridvis/power");
        assert_true(fabs(rs->headline_j / 3600 - got) < 1.5 * 60 / 3600);
        if (!strcmp(phase, "scenario")) {
            assert_true(rs->cpu_pct > 40 && rs->cpu_pct < 75);
            assert_true(rs->mem_used_mean_b > 4.6e6 * 1024 && rs->mem_used_mean_b < 4.71e6 * 1024);
            /* 250..300 KB/s for 30 s */
            assert_true(rs->net_rx_b > 250.0 * 1024 * 29 && rs->net_rx_b < 300.0 * 1024 * 31);
        }
        free(rs);
    }
    fclose(f);
    assert_int_equal(k, 7);
    (void)order;
    assert_int_equal(count(&st, "SELECT count(*) FROM run WHERE variant='own-cnn'"), 3);
    assert_int_equal(count(&st, "SELECT count(*) FROM run WHERE variant='' AND status='ok'"), 4);
    assert_int_equal(count(&st, "SELECT count(*) FROM experiment WHERE kind='import'"), 1);
    /* a power file of 20 minutes: only rows within runs (±2 s) are kept */
    assert_true(count(&st, "SELECT count(*) FROM sample s JOIN channel c ON c.id=s.channel_id "
                           "WHERE c.name='gridvis/power'") < 7 * 35);
    /* actions: names trimmed, the idle one without stopAction flagged open */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(st.db,
                                        "SELECT t_ns, recv_ns, pid, kind, name FROM marker WHERE "
                                        "run_id=7 ORDER BY t_ns",
                                        -1, &q, NULL),
                     SQLITE_OK);
    jb_marker m[4];
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n < 4) {
        memset(&m[n], 0, sizeof m[n]);
        m[n].t_ns = sqlite3_column_int64(q, 0);
        snprintf(m[n].kind, sizeof m[n].kind, "%s", jb_col_text(q, 3));
        snprintf(m[n].name, sizeof m[n].name, "%s", jb_col_text(q, 4));
        n++;
    }
    sqlite3_finalize(q);
    assert_int_equal(n, 1);
    jb_actions acts;
    jb_err err;
    assert_int_equal(jb_actions_build(m, n, local_ns(9, 8, 10, 750), &acts, &err), 0);
    assert_int_equal(acts.n, 1);
    assert_string_equal(acts.actions[0].name, "idle wait");
    assert_true(acts.actions[0].flags & JB_ACTION_OPEN_AT_END);
    jb_actions_free(&acts);
    assert_int_equal(
        count(&st, "SELECT count(*) FROM marker WHERE name IN ('preprocessing','validation')"), 12);
    jb_store_close(&st);
    tu_rm_root();
}

/* A bad baseline file after a good measurement: the error names file:line and
 * the store holds nothing of the import. */
static void test_import_rolls_back(void **state)
{
    tu_make_root("oscar_rb");
    tu_put("/bad_log.csv", "2022-9-22 09:05:00.250;startTestrun\n"
                           "2022-9-22 09:05:30.250;stopTestrun\n"
                           "2022-9-22 09:05:31.250;stopTestrun\n");
    char db[300], bad[300];
    snprintf(db, sizeof db, "%s/o.db", tu_root);
    snprintf(bad, sizeof bad, "%s/bad_log.csv", tu_root);
    jb_store st;
    jb_err err;
    assert_int_equal(jb_store_open(&st, db, false, &err), 0);
    jb_oscar_import_opts o = fixture_opts();
    free((char *)o.baseline.log);
    o.baseline.log = strdup(bad);
    jb_oscar_import_result res;
    assert_int_equal(jb_oscar_import(&st, &o, &res, &err), -1);
    assert_non_null(strstr(err.msg, "bad_log.csv:3:"));
    assert_int_equal(count(&st, "SELECT count(*) FROM run"), 0);
    assert_int_equal(count(&st, "SELECT count(*) FROM experiment"), 0);
    /* a power file of another day: no rows within the runs */
    tu_put("/other_day.csv", "T\nNummer;Zeit;Wert 1-avg[W]\n1;23.09.22, 09:00:01;10\n");
    free((char *)o.baseline.log);
    o.baseline.log = strdup(fixture("baseline_log.csv"));
    free((char *)o.idle.power);
    snprintf(bad, sizeof bad, "%s/other_day.csv", tu_root);
    o.idle.power = strdup(bad);
    assert_int_equal(jb_oscar_import(&st, &o, &res, &err), -1);
    assert_non_null(strstr(err.msg, "idle_log.csv:1:"));
    assert_non_null(strstr(err.msg, "time-zone"));
    assert_int_equal(count(&st, "SELECT count(*) FROM sample"), 0);
    /* the store still works: the good import goes through afterwards */
    free((char *)o.idle.power);
    o.idle.power = strdup(fixture("power.csv"));
    assert_int_equal(jb_oscar_import(&st, &o, &res, &err), 0);
    /* and a second variant can join the same experiment */
    o.experiment_id = res.experiment_id;
    o.variant = "mobilenet";
    free((char *)o.baseline.log);
    free((char *)o.idle.log);
    o.baseline.log = o.idle.log = NULL;
    assert_int_equal(jb_oscar_import(&st, &o, &res, &err), 0);
    assert_int_equal(count(&st, "SELECT count(*) FROM run WHERE experiment_id=1"), 10);
    assert_int_equal(count(&st, "SELECT max(rep) FROM run WHERE variant='mobilenet'"), 3);
    assert_int_equal(count(&st, "SELECT max(seq) FROM run"), 10);
    opts_free(&o);
    jb_store_close(&st);
    tu_rm_root();
}

/* ---- export ---- */

static void export_files(jb_store *st, const char *dir, const jb_oscar_tz *tz)
{
    jb_err err;
    jb_buf w = {0};
    if (jb_oscar_export(st, 1, dir, tz, &w, &err)) fail_msg("%s", err.msg);
    jb_buf_free(&w);
}

static void import_dir(jb_store *st, const char *dir, const char *variant, const char *db,
                       const jb_oscar_tz *tz, bool idle)
{
    char p[9][400];
    const char *what[3] = {"actions", "power", "hardware"};
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof p[i], "%s/%s_scenario_%s.csv", dir, variant, what[i]);
        snprintf(p[3 + i], sizeof p[3 + i], "%s/baseline_%s.csv", dir, what[i]);
        snprintf(p[6 + i], sizeof p[6 + i], "%s/idle_%s.csv", dir, what[i]);
    }
    jb_oscar_import_opts o;
    memset(&o, 0, sizeof o);
    o.scenario = (jb_oscar_files){p[0], p[1], p[2]};
    o.baseline = (jb_oscar_files){p[3], p[4], p[5]};
    if (idle) o.idle = (jb_oscar_files){p[6], p[7], NULL};
    o.variant = variant;
    o.tz = *tz;
    jb_err err;
    unlink(db);
    assert_int_equal(jb_store_open(st, db, false, &err), 0);
    jb_oscar_import_result res;
    if (jb_oscar_import(st, &o, &res, &err)) fail_msg("%s", err.msg);
}

/* Imported 1 Hz data go out unchanged: import → export → import is exact. */
static void test_export_imported_exact(void **state)
{
    tu_make_root("oscar_rt");
    char db[300], db2[300], dir[300];
    snprintf(db, sizeof db, "%s/a.db", tu_root);
    snprintf(db2, sizeof db2, "%s/b.db", tu_root);
    snprintf(dir, sizeof dir, "%s/out", tu_root);
    jb_store a, b;
    import_fixture(&a, db);
    export_files(&a, dir, &TZ_ENV);
    import_dir(&b, dir, "own-cnn", db2, &TZ_ENV, true);
    for (int64_t id = 1; id <= 7; id++) {
        double ea, eb;
        int64_t ra, rb;
        jb_err err;
        assert_int_equal(jb_oscar_run_energy(&a, id, &ea, &ra, &err), 1);
        assert_int_equal(jb_oscar_run_energy(&b, id, &eb, &rb, &err), 1);
        assert_true(ea == eb);
        assert_int_equal(ra, rb);
    }
    assert_int_equal(count(&b, "SELECT count(*) FROM marker"), 19);
    assert_int_equal(count(&a, "SELECT sum(t_ns) FROM marker"),
                     count(&b, "SELECT sum(t_ns) FROM marker"));
    /* the gap (empty cell) survives as an empty cell */
    assert_int_equal(count(&b, "SELECT count(*) FROM sample WHERE value IS NULL"), 1);
    jb_store_close(&a);
    jb_store_close(&b);
    tu_rm_root();
}

/* A measured store (10 Hz RAPL-like energy counter, starts off the second)
 * exported and imported again: the re-imported OSCAR energies equal the sum of
 * the exported rows exactly, and the original energy within the 1 s
 * resampling error (the partial seconds at both ends) plus rounding. */
static void test_export_measured_roundtrip(void **state)
{
    tu_make_root("oscar_meas");
    char db[300], db2[300], dir[300];
    snprintf(db, sizeof db, "%s/m.db", tu_root);
    snprintf(db2, sizeof db2, "%s/r.db", tu_root);
    snprintf(dir, sizeof dir, "%s/out", tu_root);
    jb_store st;
    jb_err err;
    assert_int_equal(jb_store_open(&st, db, false, &err), 0);
    int64_t host = jb_store_add_host(&st, "/", "", &err);
    int64_t exp = jb_store_add_experiment(&st, host, "m", NULL, NULL, "experiment", &err);
    assert_int_equal(exp, 1);
    jb_store_ins ins;
    assert_int_equal(jb_store_ins_prepare(&st, &ins, &err), 0);
    const char *phases[3] = {"scenario", "scenario", "baseline"};
    int64_t t0 = 1700000000LL * NS + 123456789;
    int64_t starts[3], ends[3];
    double pmax = 0;
    for (int r = 0; r < 3; r++) {
        jb_run_info ri = {.experiment_id = exp,
                          .variant = r < 2 ? "cnn" : "",
                          .phase = phases[r],
                          .rep = r < 2 ? r + 1 : 1,
                          .seq = r + 1,
                          .command_json = "[]",
                          .interval_ns = NS / 10};
        starts[r] = t0 + r * 100 * NS + r * 7777777;
        ends[r] = starts[r] + 40 * NS + 345678901;
        int64_t id = jb_store_add_run(&st, &ri, starts[r], &err);
        assert_true(id > 0);
        jb_channel_def e = {.name = "rapl/package-0",
                            .unit = "J",
                            .kind = JB_KIND_ENERGY_COUNTER,
                            .role = JB_ROLE_TOTAL};
        jb_channel_def c = {.name = "cpu/total", .unit = "%", .kind = JB_KIND_GAUGE};
        int64_t ce = jb_store_add_channel(&st, id, "rapl", &e, &err);
        int64_t cc = jb_store_add_channel(&st, id, "cpu", &c, &err);
        double energy = 1000;
        for (int64_t t = starts[r] - NS / 10; t <= ends[r] + NS / 10; t += NS / 10) {
            double sec = (double)(t - starts[r]) / 1e9;
            double p = (r < 2 ? 30 : 12) + 8 * sin(sec / 3.0) + (r < 2 && sec > 10 ? 15 : 0);
            if (p > pmax) pmax = p;
            energy += p * 0.1;
            assert_int_equal(jb_store_ins_sample(&ins, ce, t, energy, true), 0);
            assert_int_equal(jb_store_ins_sample(&ins, cc, t, 50 + 10 * sin(sec), true), 0);
        }
        jb_marker m = {.t_ns = starts[r] + 2 * NS + 5000000,
                       .kind = "begin",
                       .name = "epoch",
                       .has_index = true,
                       .index = 1};
        assert_int_equal(jb_store_ins_marker(&ins, id, &m), 0);
        m.t_ns = starts[r] + 30 * NS;
        snprintf(m.kind, sizeof m.kind, "end");
        assert_int_equal(jb_store_ins_marker(&ins, id, &m), 0);
        assert_int_equal(jb_store_finish_run(&st, id, ends[r], 0, "ok", NULL, &err), 0);
    }
    jb_store_ins_finalize(&ins);
    jb_oscar_tz utc = {true, 0};
    export_files(&st, dir, &utc);
    jb_store b;
    import_dir(&b, dir, "cnn", db2, &utc, false);
    char pp[400];
    for (int r = 0; r < 3; r++) {
        int64_t id = r + 1;
        /* the exported rows, summed here */
        snprintf(pp, sizeof pp, "%s/%s_power.csv", dir, r < 2 ? "cnn_scenario" : "baseline");
        size_t len;
        char *text = slurp(pp, &len);
        jb_oscar_power p;
        assert_int_equal(jb_oscar_parse_power(pp, text, len, &utc, &p, &err), 0);
        free(text);
        double sum = 0;
        int nrows = 0;
        for (size_t i = 0; i < p.n; i++)
            if (p.t[i] >= starts[r] && p.t[i] <= ends[r]) {
                sum += p.w[i];
                nrows++;
            }
        jb_oscar_power_free(&p);
        /* whole seconds T with start <= T-1, T <= end */
        int want = (int)((ends[r] / NS * NS - (starts[r] / NS + 1) * NS) / NS);
        assert_int_equal(nrows, want);
        double wh;
        int64_t rows;
        /* re-imported runs are in time order: ids 1, 2, 3 as in the original */
        assert_int_equal(jb_oscar_run_energy(&b, id, &wh, &rows, &err), 1);
        assert_int_equal(rows, want);
        assert_true(wh == sum / 3600);
        /* against the original energy */
        jb_run_summary *rs = malloc(sizeof *rs);
        assert_int_equal(jb_run_summarize(&st, id, rs, &err), 0);
        double orig_wh = rs->headline_j / 3600;
        double lost_s = (double)(ends[r] - starts[r]) / 1e9 - want; /* partial seconds */
        double bound = (lost_s * pmax + want * 0.0005) / 3600;
        if (!(fabs(wh - orig_wh) <= bound))
            fail_msg("run %d: %.9f Wh vs %.9f Wh, bound %.9f", r, wh, orig_wh, bound);
        /* mean power per second matches closely (the resampling keeps the level) */
        assert_true(fabs(wh * 3600 / want - rs->headline_j / rs->duration_s) < 1.0);
        free(rs);
        /* markers: begin/end at the same millisecond */
        assert_int_equal(count(&b, "SELECT count(*) FROM marker WHERE name='epoch 1'"), 6);
    }
    jb_store_close(&b);
    jb_store_close(&st);
    tu_rm_root();
}

int main(void)
{
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    tu_top_path(fx, sizeof fx, "tests/fixtures/oscar");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_fixture_quirks),
        cmocka_unit_test(test_log_errors),
        cmocka_unit_test(test_log_named_stop_and_nesting),
        cmocka_unit_test(test_timezone),
        cmocka_unit_test(test_power_quirks),
        cmocka_unit_test(test_power_errors),
        cmocka_unit_test(test_hardware_fixture),
        cmocka_unit_test(test_hardware_collectl_native),
        cmocka_unit_test(test_energy_hand_computed),
        cmocka_unit_test(test_import_fixture),
        cmocka_unit_test(test_import_rolls_back),
        cmocka_unit_test(test_export_imported_exact),
        cmocka_unit_test(test_export_measured_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
