/*
 * test_analysis.c — energy over windows (trapezoid of a known synthetic power
 * profile within 0.1 %, counter interpolation, gaps), the headline rule
 * (no overlapping channels summed), and the store's safety nets (newer
 * schema refused, dangling runs marked aborted, corrupt files reported).
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
#include <unistd.h>

#include "analysis.h"
#include "store.h"

static void fill(jb_series *s, size_t n)
{
    s->n = n;
    s->t = calloc(n, sizeof *s->t);
    s->v = calloc(n, sizeof *s->v);
}

/* P(t) = 50 + 30 sin(2π t / 7 s) sampled every 100 ms for 60 s, with jitter. */
static void test_trapezoid_known_profile(void **st)
{
    jb_series s = {0};
    fill(&s, 601);
    srand(3);
    for (size_t i = 0; i < s.n; i++) {
        double jitter = (i && i + 1 < s.n) ? ((double)rand() / RAND_MAX - 0.5) * 0.01 : 0;
        double t = i * 0.1 + jitter;
        s.t[i] = (int64_t)llround(t * 1e9) + 1000000000000LL;
        s.v[i] = 50 + 30 * sin(2 * M_PI * t / 7.0);
    }
    int64_t a = s.t[0] + 1234567890LL, b = s.t[0] + 55432100000LL; /* partial ends */
    double ta = (a - s.t[0]) / 1e9, tb = (b - s.t[0]) / 1e9;
    double truth = 50 * (tb - ta) -
                   30 * 7.0 / (2 * M_PI) * (cos(2 * M_PI * tb / 7.0) - cos(2 * M_PI * ta / 7.0));
    bool clamped;
    double e = jb_series_energy(&s, JB_KIND_POWER, a, b, &clamped);
    assert_false(clamped);
    assert_true(fabs(e - truth) / truth < 0.001);
    /* mean power over the same window */
    assert_true(fabs(jb_series_mean(&s, a, b) - truth / (tb - ta)) / (truth / (tb - ta)) < 0.001);
    jb_series_free(&s);
}

static void test_counter_interpolated(void **st)
{
    jb_series s = {0};
    fill(&s, 3);
    s.t[0] = 0, s.v[0] = 100;
    s.t[1] = 1000000000, s.v[1] = 110; /* 10 W */
    s.t[2] = 2000000000, s.v[2] = 130; /* 20 W */
    bool clamped;
    /* [0.5 s, 1.5 s] = 5 J + 10 J */
    assert_float_equal(
        jb_series_energy(&s, JB_KIND_ENERGY_COUNTER, 500000000, 1500000000, &clamped), 15.0, 1e-9);
    assert_false(clamped);
    assert_float_equal(jb_series_peak(&s, JB_KIND_ENERGY_COUNTER, 0, 2000000000), 20.0, 1e-9);
    jb_series_energy(&s, JB_KIND_ENERGY_COUNTER, -5, 1500000000, &clamped);
    assert_true(clamped);
    jb_series_free(&s);
    jb_series one = {0};
    fill(&one, 1);
    assert_true(isnan(jb_series_energy(&one, JB_KIND_POWER, 0, 1, NULL)));
    jb_series_free(&one);
}

static jb_chan_summary chan(const char *src, const char *name, jb_role role, double e, bool est)
{
    jb_chan_summary c;
    memset(&c, 0, sizeof c);
    snprintf(c.source, sizeof c.source, "%s", src);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.kind = JB_KIND_ENERGY_COUNTER;
    c.role = role;
    c.energy_j = e;
    c.estimated = est;
    return c;
}

static void test_headline_never_sums_overlaps(void **st)
{
    jb_run_summary *rs = calloc(1, sizeof *rs);
    rs->ch[rs->nch++] = chan("rapl", "rapl/package-0", JB_ROLE_TOTAL, 100, false);
    rs->ch[rs->nch++] = chan("rapl", "rapl/package-0/core", JB_ROLE_PART, 80, false);
    rs->ch[rs->nch++] = chan("rapl", "rapl/package-0/dram", JB_ROLE_TOTAL, 10, false);
    rs->ch[rs->nch++] = chan("estimate", "estimate/cpu", JB_ROLE_TOTAL, 999, true);
    jb_pick_headline(rs);
    assert_float_equal(rs->headline_j, 110, 1e-9);
    assert_false(rs->headline_estimated);
    assert_false(rs->ch[1].headline);
    /* a wall meter beats the components */
    rs->ch[rs->nch++] = chan("modbus", "modbus/sum", JB_ROLE_TOTAL, 150, false);
    jb_pick_headline(rs);
    assert_float_equal(rs->headline_j, 150, 1e-9);
    /* only the estimate: used, and flagged */
    rs->nch = 0;
    rs->ch[rs->nch++] = chan("estimate", "estimate/cpu", JB_ROLE_TOTAL, 42, true);
    jb_pick_headline(rs);
    assert_float_equal(rs->headline_j, 42, 1e-9);
    assert_true(rs->headline_estimated);
    free(rs);
}

static void tmp_db(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/jb_store_%d_%ld.db", (int)getpid(), random());
}

static void rm_db(const char *p)
{
    char b[300];
    unlink(p);
    snprintf(b, sizeof b, "%s-wal", p);
    unlink(b);
    snprintf(b, sizeof b, "%s-shm", p);
    unlink(b);
}

static int count_rows(jb_store *s, const char *sql)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    return n;
}

static void test_store_newer_schema_refused(void **st)
{
    char p[256];
    tmp_db(p, sizeof p);
    jb_store s;
    jb_err err;
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    assert_int_equal(
        jb_store_exec(&s, "UPDATE meta SET value='99' WHERE key='schema_version'", &err), 0);
    jb_store_close(&s);
    assert_int_equal(jb_store_open(&s, p, true, &err), -1);
    assert_non_null(strstr(err.msg, "schema version 99"));
    assert_non_null(strstr(err.msg, "upgrade"));
    rm_db(p);
}

static void test_store_dangling_run_marked(void **st)
{
    char p[256];
    tmp_db(p, sizeof p);
    jb_store s;
    jb_err err;
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    jb_run_info ri = {.experiment_id = 1, .phase = "scenario", .rep = 1, .seq = 1};
    int64_t run = jb_store_add_run(&s, &ri, 1000, &err);
    assert_true(run > 0);
    /* pretend the recorder was a pid that no longer exists */
    assert_int_equal(jb_store_exec(&s, "UPDATE run SET recorder_pid=999999999", &err), 0);
    jb_store_close(&s);
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(s.db, "SELECT status, note FROM run", -1, &q, NULL);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal(jb_col_text(q, 0), "aborted");
    assert_non_null(strstr(jb_col_text(q, 1), "recorder died"));
    sqlite3_finalize(q);
    /* a live recorder's run is left alone */
    run = jb_store_add_run(&s, &ri, 2000, &err);
    jb_store_close(&s);
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    sqlite3_prepare_v2(s.db, "SELECT status FROM run WHERE id=?", -1, &q, NULL);
    sqlite3_bind_int64(q, 1, run);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal(jb_col_text(q, 0), "running");
    sqlite3_finalize(q);
    jb_store_close(&s);
    rm_db(p);
}

/* Rows a killed recorder left staged in sample_recent: a read-only reader
 * sees them merged in time order with those already in sample; reopening
 * for writing moves them into sample. */
static void test_store_staged_rows(void **st)
{
    char p[256];
    tmp_db(p, sizeof p);
    jb_store s;
    jb_err err;
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    jb_store_ins ins;
    assert_int_equal(jb_store_ins_prepare(&s, &ins, &err), 0);
    assert_int_equal(jb_store_ins_begin(&ins, &err), 0);
    for (int i = 0; i < 10; i++) /* 0..4 moved, 5..9 staged; channel 8 is another */
        assert_int_equal(jb_store_ins_stage(&ins, 7, 1000 + i, i * 2.0, true), 0);
    assert_int_equal(jb_store_ins_stage(&ins, 8, 1003, 99, true), 0);
    assert_int_equal(
        jb_store_exec(&s, "DELETE FROM sample_recent WHERE channel_id=7 AND t_ns>=1005", &err), 0);
    assert_int_equal(jb_store_ins_move(&ins, &err), 0);
    for (int i = 9; i >= 5; i--) /* out of order on purpose */
        assert_int_equal(jb_store_ins_stage(&ins, 7, 1000 + i, i * 2.0, true), 0);
    assert_int_equal(jb_store_ins_commit(&ins, &err), 0);
    jb_store_ins_finalize(&ins);
    jb_store_close(&s);

    assert_int_equal(jb_store_open(&s, p, true, &err), 0);
    assert_int_equal(count_rows(&s, "SELECT count(*) FROM sample_recent"), 5);
    jb_series ser;
    assert_int_equal(jb_series_load(&s, 7, &ser, &err), 0);
    assert_int_equal(ser.n, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ser.t[i], 1000 + i);
        assert_float_equal(ser.v[i], i * 2.0, 0);
    }
    jb_series_free(&ser);
    jb_store_close(&s);

    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    assert_int_equal(count_rows(&s, "SELECT count(*) FROM sample_recent"), 0);
    assert_int_equal(count_rows(&s, "SELECT count(*) FROM sample WHERE channel_id=7"), 10);
    assert_int_equal(jb_series_load(&s, 7, &ser, &err), 0);
    assert_int_equal(ser.n, 10);
    assert_int_equal(ser.t[9], 1009);
    jb_series_free(&ser);
    jb_store_close(&s);
    rm_db(p);
}

/* A version 1 store (no sample_recent) is read as it is and upgraded when
 * opened for writing. */
static void test_store_version1(void **st)
{
    char p[256];
    tmp_db(p, sizeof p);
    jb_store s;
    jb_err err;
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    assert_int_equal(jb_store_exec(&s,
                                   "DROP TABLE sample_recent; UPDATE meta SET value='1' WHERE "
                                   "key='schema_version'; INSERT INTO sample VALUES(3,10,1.5),"
                                   "(3,20,2.5)",
                                   &err),
                     0);
    jb_store_close(&s);
    assert_int_equal(jb_store_open(&s, p, true, &err), 0);
    jb_series ser;
    assert_int_equal(jb_series_load(&s, 3, &ser, &err), 0);
    assert_int_equal(ser.n, 2);
    jb_series_free(&ser);
    jb_store_close(&s);
    assert_int_equal(jb_store_open(&s, p, false, &err), 0);
    assert_int_equal(count_rows(&s, "SELECT count(*) FROM sample_recent"), 0);
    assert_int_equal(count_rows(&s, "SELECT value FROM meta WHERE key='schema_version'"),
                     JB_SCHEMA_VERSION);
    jb_store_close(&s);
    rm_db(p);
}

static void test_store_corrupt_file(void **st)
{
    char p[256];
    tmp_db(p, sizeof p);
    FILE *f = fopen(p, "w");
    fputs("this is not a database, just some text that is long enough to look like one....", f);
    fclose(f);
    jb_store s;
    jb_err err;
    assert_int_equal(jb_store_open(&s, p, true, &err), -1);
    assert_non_null(strstr(err.msg, p));
    assert_int_equal(jb_store_open(&s, "/nonexistent/dir/x.db", true, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.db"));
    rm_db(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trapezoid_known_profile),
        cmocka_unit_test(test_counter_interpolated),
        cmocka_unit_test(test_headline_never_sums_overlaps),
        cmocka_unit_test(test_store_newer_schema_refused),
        cmocka_unit_test(test_store_dangling_run_marked),
        cmocka_unit_test(test_store_staged_rows),
        cmocka_unit_test(test_store_version1),
        cmocka_unit_test(test_store_corrupt_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
