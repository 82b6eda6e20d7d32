/*
 * test_placement.c — the whole recording path (sampler thread, recorder,
 * writer, store, analysis) against a fake energy counter whose value is a
 * known function of wall-clock time: zero until T, then rising at 1000 J/s.
 * A workload sends markers at known times; the action energies prove that a
 * marker sent at t is placed within 1 ms of t, and back-to-back actions
 * covering the run add up to the run's energy within 0.5 %. The counter stops
 * at the end of the last action, so the process's exit (slow under the
 * sanitizers) adds no energy outside the actions.
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

#include "actions.h"
#include "analysis.h"
#include "measure.h"

#define RATE_W 1000.0

static int64_t g_ramp_start_real; /* T */
static int64_t g_ramp_end_real;   /* the meter stops counting when the last action ends */

static double ramp_energy(int64_t real_ns)
{
    if (real_ns > g_ramp_end_real) real_ns = g_ramp_end_real;
    return real_ns <= g_ramp_start_real ? 0 : RATE_W * (double)(real_ns - g_ramp_start_real) / 1e9;
}

static int fake_probe(const jb_source_env *e, char *r, size_t rc, char *f, size_t fc)
{
    return 1;
}
static int fake_open(const jb_source_env *e, void **s, jb_channel_list *ch, jb_err *err)
{
    jb_channel_add(ch, "fake/ramp", "J", JB_KIND_ENERGY_COUNTER, JB_ROLE_TOTAL, false);
    *s = NULL;
    return 0;
}
static int fake_read(void *s, int64_t now_mono, double *v, uint8_t *ok)
{
    v[0] = ramp_energy(now_mono + jb_clock_offset_ns());
    ok[0] = 1;
    return 0;
}
static void fake_close(void *s) {}

/* family "cpu" so the headline picks it */
static const jb_source_driver fake_drv = {.name = "rapl",
                                          .is_power = true,
                                          .family = "cpu",
                                          .probe = fake_probe,
                                          .open = fake_open,
                                          .read = fake_read,
                                          .close = fake_close};

/* The energy the analysis attributes to action `name`; *truth is what the
 * meter really counted between the times the workload stamped on the begin
 * and end markers, *late the larger lateness of those stamps against the
 * planned times (the workload may be scheduled late on a loaded machine). */
static double action_energy(jb_store *st, int64_t run_id, int64_t chan, const char *name,
                            int64_t plan_begin, int64_t plan_end, double *truth, double *late_ms)
{
    jb_marker *mk;
    size_t n;
    jb_err err;
    assert_int_equal(jb_load_markers(st, run_id, &mk, &n, &err), 0);
    jb_actions a;
    assert_int_equal(jb_actions_build(mk, n, INT64_MAX / 2, &a, &err), 0);
    jb_series s;
    assert_int_equal(jb_series_load(st, chan, &s, &err), 0);
    double e = NAN;
    for (size_t i = 0; i < a.n; i++)
        if (!strcmp(a.actions[i].name, name)) {
            e = jb_series_energy(&s, JB_KIND_ENERGY_COUNTER, a.actions[i].begin_ns,
                                 a.actions[i].end_ns, NULL);
            *truth = ramp_energy(a.actions[i].end_ns) - ramp_energy(a.actions[i].begin_ns);
            double lb = (a.actions[i].begin_ns - plan_begin) / 1e6;
            double le = (a.actions[i].end_ns - plan_end) / 1e6;
            *late_ms = lb > le ? lb : le;
        }
    jb_series_free(&s);
    jb_actions_free(&a);
    free(mk);
    return e;
}

/* A fresh store in a temporary file (its path in db) and a meter of one
 * test driver sampled every interval_ns. */
static void open_store_and_meter(char *db, jb_store *st, jb_meter *m, const jb_source_driver *drv,
                                 int64_t interval_ns)
{
    jb_err err;
    int fd = mkstemp(db);
    assert_true(fd >= 0);
    close(fd);
    unlink(db);
    assert_int_equal(jb_store_open(st, db, false, &err), 0);
    memset(m, 0, sizeof *m);
    m->env.root = "/";
    m->env.interval_ns = interval_ns;
    m->src[0].drv = drv;
    assert_int_equal(drv->open(&m->env, &m->src[0].state, &m->ch, &err), 0);
    m->src[0].n = m->ch.n;
    m->nsrc = 1;
}

/* Run argv as scenario run 1 of experiment 1 on meter m; it must be stored. */
static jb_run_result run_scenario(jb_store *st, jb_meter *m, char **argv)
{
    jb_run_spec rs = {.info = {.experiment_id = 1,
                               .phase = "scenario",
                               .rep = 1,
                               .seq = 1,
                               .interval_ns = m->env.interval_ns},
                      .argv = argv};
    jb_run_result rr;
    jb_err err;
    assert_int_equal(jb_run_one(st, m, &rs, &rr, &err), 0);
    return rr;
}

static void test_marker_placement(void **state)
{
    char db[] = "/tmp/jb_place_XXXXXX";
    jb_store st;
    jb_meter m;
    jb_err err;
    open_store_and_meter(db, &st, &m, &fake_drv, 1000000); /* 1 ms */

    int64_t now = jb_real_ns();
    g_ramp_start_real = now + 400000000LL;
    char t[6][32];
    int64_t times[6] = {now + 150000000LL,               /* begin a        */
                        g_ramp_start_real + 50000000LL,  /* end a: 50 ms after T */
                        g_ramp_start_real + 50000000LL,  /* begin b (back to back) */
                        g_ramp_start_real + 250000000LL, /* end b */
                        g_ramp_start_real + 250000000LL, /* begin c */
                        g_ramp_start_real + 2000000000LL};
    g_ramp_end_real = times[5];
    for (int i = 0; i < 6; i++)
        snprintf(t[i], sizeof t[i], "%lld", (long long)times[i]);
    char helper[512];
    snprintf(helper, sizeof helper, "%s/tests/helpers/mark_at",
             getenv("BUILD") ? getenv("BUILD") : "build");
    char *argv[] = {helper, "begin", "a",  t[0],    "end", "a",  t[1],  "begin", "b",  t[2],
                    "end",  "b",     t[3], "begin", "c",   t[4], "end", "c",     t[5], NULL};
    jb_run_result rr = run_scenario(&st, &m, argv);
    assert_string_equal(rr.status, "ok");
    sqlite3_stmt *q;
    assert_int_equal(
        sqlite3_prepare_v2(st.db, "SELECT id FROM channel WHERE run_id=?", -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(q, 1, rr.run_id);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t chan = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    /* a ends 50 ms into the ramp: about 50 J; 1 ms of misplacement would be 1 J.
     * The truth is taken at the times stamped on the markers, so a workload
     * woken late on a loaded machine does not count as misplacement. */
    const char *names[] = {"a", "b", "c"};
    double actions_j = 0;
    for (int k = 0; k < 3; k++) {
        double truth = NAN, late = NAN;
        double e = action_energy(&st, rr.run_id, chan, names[k], times[2 * k], times[2 * k + 1],
                                 &truth, &late);
        print_message("%s: %.3f J attributed, %.3f J counted between its markers (markers "
                      "%.2f ms after plan)\n",
                      names[k], e, truth, late);
        assert_true(late >= 0 && late < 100); /* the markers really came from mark_at */
        assert_true(fabs(e - truth) < 1.0);
        actions_j += e;
    }
    /* back-to-back actions covering the run add up to the run's energy */
    jb_run_summary *sum = malloc(sizeof *sum);
    assert_int_equal(jb_run_summarize(&st, rr.run_id, sum, &err), 0);
    assert_true(sum->has_headline);
    print_message("run %.3f J, actions %.3f J\n", sum->headline_j, actions_j);
    assert_true(fabs(sum->headline_j - (actions_j)) <= 0.005 * sum->headline_j);
    free(sum);
    jb_store_close(&st);
    unlink(db);
}

/* Two channels: one stays at 42, one counts. The writer stores the constant
 * stretch as its first and last sample (plus one per commit), and every
 * figure computed from the store is unchanged. */
static int two_open(const jb_source_env *e, void **s, jb_channel_list *ch, jb_err *err)
{
    jb_channel_add(ch, "fake/const", "B", JB_KIND_GAUGE, JB_ROLE_NONE, false);
    jb_channel_add(ch, "fake/count", "B", JB_KIND_COUNTER, JB_ROLE_NONE, false);
    *s = NULL;
    return 0;
}
static int two_read(void *s, int64_t now_mono, double *v, uint8_t *ok)
{
    v[0] = 42;
    v[1] = (double)now_mono;
    ok[0] = ok[1] = 1;
    return 0;
}
static const jb_source_driver two_drv = {
    .name = "fake", .probe = fake_probe, .open = two_open, .read = two_read, .close = fake_close};

static int64_t count_samples(jb_store *st, int64_t run, const char *name, int64_t *first,
                             int64_t *last)
{
    sqlite3_stmt *q;
    sqlite3_prepare_v2(st->db,
                       "SELECT count(*), min(s.t_ns), max(s.t_ns) FROM sample s JOIN channel c "
                       "ON c.id=s.channel_id WHERE c.run_id=? AND c.name=?",
                       -1, &q, NULL);
    sqlite3_bind_int64(q, 1, run);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    *first = sqlite3_column_int64(q, 1);
    *last = sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    return n;
}

static void test_constant_stretch_compressed(void **state)
{
    char db[] = "/tmp/jb_rle_XXXXXX";
    jb_store st;
    jb_meter m;
    jb_err err;
    open_store_and_meter(db, &st, &m, &two_drv, 5000000); /* 5 ms */
    char *argv[] = {"sleep", "1.5", NULL};
    jb_run_result rr = run_scenario(&st, &m, argv);
    int64_t f0, l0, f1, l1;
    int64_t nconst = count_samples(&st, rr.run_id, "fake/const", &f0, &l0);
    int64_t ncount = count_samples(&st, rr.run_id, "fake/count", &f1, &l1);
    print_message("constant channel: %lld rows, counting channel: %lld rows (%llu samples)\n",
                  (long long)nconst, (long long)ncount, (unsigned long long)rr.q.samples);
    assert_true(ncount >= 200);
    assert_true(nconst <= 8); /* first, last, one per commit (~1 s) */
    assert_int_equal(f0, f1); /* the stretch still spans the whole run */
    assert_int_equal(l0, l1);
    jb_run_summary *sum = malloc(sizeof *sum);
    assert_int_equal(jb_run_summarize(&st, rr.run_id, sum, &err), 0);
    for (int i = 0; i < sum->nch; i++)
        if (!strcmp(sum->ch[i].name, "fake/const")) {
            assert_float_equal(sum->ch[i].mean, 42.0, 1e-9);
            assert_float_equal(sum->ch[i].peak, 42.0, 0);
        }
    free(sum);
    jb_store_close(&st);
    unlink(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_marker_placement),
                                       cmocka_unit_test(test_constant_stretch_compressed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
