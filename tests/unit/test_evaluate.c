/*
 * test_evaluate.c — the experiment evaluation on a synthetic store built here
 * with constant-power runs, so every expected number is computed by hand:
 * energies, group means and SDs, software-induced energy in both forms, the
 * load-generation check, efficiency, energy to target, comparisons and the
 * bad-input cases (no runs, no power channel, no baseline, all failed,
 * corrupt file, garbage targets).
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

#include "evaluate.h"
#include "store.h"

static char path[256];
static int64_t t_next = 1700000000000000000LL;
static int run_id, chan_id;

static void sql(jb_store *st, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    jb_err e;
    if (jb_store_exec(st, buf, &e)) fail_msg("%s: %s", buf, e.msg);
}

static void open_new(jb_store *st)
{
    snprintf(path, sizeof path, "/tmp/jb_eval_%d.db", (int)getpid());
    unlink(path);
    jb_err e;
    assert_int_equal(jb_store_open(st, path, false, &e), 0);
    sql(st, "INSERT INTO host(id,hostname,cpu_model,cores,ram_bytes,os,jb_version) "
            "VALUES(1,'box','TestCPU',4,8000000000,'Debian 12','0.1.0')");
    sql(st, "INSERT INTO experiment(id,host_id,name,kind,status) VALUES(1,1,'t','experiment',"
            "'done')");
    run_id = chan_id = 0;
}

/* A run of T seconds at constant power P (W), sampled at 10 Hz as a power
 * channel (power=true) or a cumulative energy counter. */
static int add_run(jb_store *st, const char *variant, const char *phase, int rep, double P,
                   double T, const char *status, bool power, bool counter)
{
    int64_t start = t_next, end = start + (int64_t)(T * 1e9);
    t_next = end + 3000000000LL;
    run_id++;
    sql(st,
        "INSERT INTO run(id,experiment_id,variant,phase,rep,seq,start_ns,end_ns,exit_code,status,"
        "interval_ns) VALUES(%d,1,'%s','%s',%d,%d,%lld,%lld,0,'%s',100000000)",
        run_id, variant, phase, rep, run_id, (long long)start, (long long)end, status);
    sql(st, "BEGIN");
    if (power) {
        chan_id++;
        sql(st,
            "INSERT INTO channel(id,run_id,source,name,unit,kind,estimated,role) "
            "VALUES(%d,%d,'rapl','rapl/package-0','%s','%s',0,1)",
            chan_id, run_id, counter ? "J" : "W", counter ? "energy_counter" : "power");
        for (int i = 0; i <= (int)(T * 10); i++)
            sql(st, "INSERT INTO sample VALUES(%d,%lld,%.17g)", chan_id,
                (long long)(start + i * 100000000LL), counter ? 1000 + P * i * 0.1 : P);
    }
    chan_id++;
    sql(st,
        "INSERT INTO channel(id,run_id,source,name,unit,kind,estimated,role) "
        "VALUES(%d,%d,'cpu','cpu/total','%%','gauge',0,0)",
        chan_id, run_id);
    for (int i = 0; i <= (int)(T * 10); i++)
        sql(st, "INSERT INTO sample VALUES(%d,%lld,%g)", chan_id,
            (long long)(start + i * 100000000LL), P);
    sql(st, "COMMIT");
    return run_id;
}

static void add_epochs(jb_store *st, int run, double T, int n, double acc0)
{
    int64_t start = 0;
    sqlite3_stmt *q;
    sqlite3_prepare_v2(st->db, "SELECT start_ns FROM run WHERE id=?", -1, &q, NULL);
    sqlite3_bind_int(q, 1, run);
    if (sqlite3_step(q) == SQLITE_ROW) start = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    for (int k = 1; k <= n; k++) {
        int64_t b = start + (int64_t)((k - 1) * T / n * 1e9),
                e = start + (int64_t)(k * T / n * 1e9);
        sql(st, "INSERT INTO marker(run_id,t_ns,kind,name,idx) VALUES(%d,%lld,'begin','epoch',%d)",
            run, (long long)b, k);
        sql(st, "INSERT INTO marker(run_id,t_ns,kind,name,idx) VALUES(%d,%lld,'end','epoch',%d)",
            run, (long long)e, k);
        sql(st,
            "INSERT INTO marker(run_id,t_ns,kind,name,idx,value) "
            "VALUES(%d,%lld,'metric','acc',%d,%g)",
            run, (long long)e, k, acc0 + 0.1 * k);
    }
}

static void evaluate(jb_eval *ev, const jb_eval_opts *o)
{
    jb_store st;
    jb_err e;
    assert_int_equal(jb_store_open(&st, path, true, &e), 0);
    int rc = jb_evaluate(&st, o, ev, &e);
    if (rc) fail_msg("%s", e.msg);
    jb_store_close(&st);
}

static bool has_warning(const jb_eval *ev, const char *part)
{
    for (size_t i = 0; i < ev->nwarnings; i++)
        if (strstr(ev->warnings[i], part)) return true;
    return false;
}

static double mean_of(const jb_eval *ev, const char *variant, const char *phase, const char *key)
{
    const jb_eval_group *g = jb_eval_group_find(ev, variant, phase);
    assert_non_null(g);
    const jb_eval_stat *s = jb_eval_stat_find(g, key);
    assert_non_null(s);
    return s->d.mean;
}

/* baseline 9/10/11 W × 10 s; a 30/32/34 W × 10 s (+1 failed); b 20/21/22 W × 20 s. */
static void build_main(void)
{
    jb_store st;
    open_new(&st);
    double pb[] = {9, 10, 11}, pa[] = {30, 32, 34}, pbv[] = {20, 21, 22};
    for (int i = 0; i < 3; i++) {
        add_run(&st, "", "baseline", i + 1, pb[i], 10, "ok", true, false);
        int r = add_run(&st, "a", "scenario", i + 1, pa[i], 10, "ok", true, true);
        add_epochs(&st, r, 10, 2, 0.6);
        r = add_run(&st, "b", "scenario", i + 1, pbv[i], 20, "ok", true, false);
        add_epochs(&st, r, 20, 4, 0.5);
    }
    add_run(&st, "a", "scenario", 4, 100, 10, "failed", true, true);
    jb_store_close(&st);
}

static void test_group_numbers(void **state)
{
    build_main();
    jb_eval ev;
    jb_eval_opts o = {0};
    o.targets[o.ntargets++] = "epoch:2";
    o.targets[o.ntargets++] = "acc>=0.85";
    o.carbon_g_per_kwh = 400;
    evaluate(&ev, &o);
    assert_int_equal(ev.n_runs, 10);
    assert_int_equal(ev.n_ok, 9);
    assert_int_equal(ev.ngroups, 3);
    assert_string_equal(ev.groups[0].phase, "baseline");
    /* energy: a = 300, 320, 340 J; b = 400, 420, 440 J */
    assert_float_equal(mean_of(&ev, "a", "scenario", "energy_wh"), 320.0 / 3600, 1e-9);
    assert_float_equal(mean_of(&ev, "b", "scenario", "energy_wh"), 420.0 / 3600, 1e-9);
    const jb_eval_stat *s =
        jb_eval_stat_find(jb_eval_group_find(&ev, "a", "scenario"), "energy_wh");
    assert_int_equal(s->d.n, 3);
    assert_float_equal(s->d.sd, 20.0 / 3600, 1e-9);
    assert_float_equal(mean_of(&ev, "b", "scenario", "mean_power_w"), 21, 1e-9);
    assert_float_equal(mean_of(&ev, "b", "scenario", "duration_s"), 20, 1e-9);
    assert_float_equal(mean_of(&ev, "b", "scenario", "cpu_pct"), 21, 1e-9);
    /* software-induced, power-based: E − 10 W · T → a 200,220,240 J; b 200,220,240 J */
    const jb_eval_group *a = jb_eval_group_find(&ev, "a", "scenario");
    const jb_eval_group *b = jb_eval_group_find(&ev, "b", "scenario");
    assert_true(a->has_sie && b->has_sie);
    assert_float_equal(a->sie_power.value, 220.0 / 3600, 1e-9);
    assert_float_equal(b->sie_power.value, 220.0 / 3600, 1e-9);
    /* se² = s_S²/n + T̄²·s_Pb²/nb, in Wh: s_S = 20 J, T = 20 s, s_Pb = 1 W */
    double se_b = sqrt(pow(20.0 / 3600, 2) / 3 + pow(20.0 / 3600, 2) * 1.0 / 3);
    assert_float_equal(b->sie_power.se, se_b, 1e-9);
    /* OSCAR form: E − mean E_baseline (100 J): a 220 J; b 320 J, flagged as unequal length */
    assert_float_equal(a->sie_oscar.value, 220.0 / 3600, 1e-9);
    assert_float_equal(b->sie_oscar.value, 320.0 / 3600, 1e-9);
    assert_true(a->sie_oscar_equal_length);
    assert_false(b->sie_oscar_equal_length);
    assert_true(has_warning(&ev, "b: runs differ in length"));
    /* load check: SD across runs at each second: a 2 W, b 1 W, baseline 1 W */
    assert_float_equal(a->load_sd_w, 2, 1e-6);
    assert_float_equal(b->load_sd_w, 1, 1e-6);
    assert_int_equal(a->n_mean_ps, 10);
    assert_float_equal(a->mean_ps[5], 32, 1e-4);
    /* efficiency: acc final a 0.8, b 0.9; per Wh gross = acc / (E/3600) per run */
    assert_float_equal(mean_of(&ev, "a", "scenario", "acc"), 0.8, 1e-12);
    double eff = (0.8 / (300.0 / 3600) + 0.8 / (320.0 / 3600) + 0.8 / (340.0 / 3600)) / 3;
    assert_float_equal(mean_of(&ev, "a", "scenario", "acc_per_wh"), eff, 1e-9);
    double eff_sie = (0.9 / (200.0 / 3600) + 0.9 / (220.0 / 3600) + 0.9 / (240.0 / 3600)) / 3;
    assert_float_equal(mean_of(&ev, "b", "scenario", "acc_per_wh_sie"), eff_sie, 1e-9);
    /* targets: epoch 2 = whole a run (10 s), half a b run; acc >= 0.85: b reaches 0.9 at
     * epoch 4 (end), a never (0.8) */
    assert_int_equal(a->target_reached[0], 3);
    assert_float_equal(a->target_wh[0].mean, 320.0 / 3600, 1e-6);
    assert_float_equal(b->target_wh[0].mean, 210.0 / 3600, 1e-6);
    assert_int_equal(a->target_never[1], 3);
    assert_int_equal(b->target_reached[1], 3);
    assert_float_equal(b->target_wh[1].mean, 420.0 / 3600, 1e-3);
    /* epochs: b epoch 3 cumulative = 3/4 of the run */
    assert_int_equal(b->nep, 4);
    assert_float_equal(b->ep[2].cumulative_j, 315, 1e-3);
    assert_float_equal(b->ep[2].metric[0], 0.8, 1e-12);
    /* carbon: 320 J = 8.889e-5 kWh × 400 g/kWh */
    assert_float_equal(a->carbon_g_mean, 320.0 / 3.6e6 * 400, 1e-9);
    /* Blue Angel CPU: base 10 %, load 32 % → net 22, factor 22/90, effective 22+22/9 */
    assert_true(a->nutil >= 1);
    assert_string_equal(a->util[0].resource, "cpu");
    assert_float_equal(a->util[0].net, 22, 1e-9);
    assert_float_equal(a->util[0].alloc, 22.0 / 90, 1e-9);
    assert_float_equal(a->util[0].utilisation, (22 + 22.0 / 90 * 10) * 10, 1e-6);
    /* failed run: left out and warned about */
    assert_int_equal(a->n_failed, 1);
    assert_true(has_warning(&ev, "failed or aborted"));
    /* comparisons: energy, software-induced, duration, then the metric and the
     * metric per Wh, for the one pair; Holm over all 5 */
    assert_int_equal(ev.ncmps, 5);
    assert_string_equal(ev.cmps[3].key, "acc");
    assert_string_equal(ev.cmps[4].key, "acc_per_wh");
    assert_non_null(strstr(ev.cmps[3].sentence, "reached"));
    const jb_eval_cmp *c = &ev.cmps[0];
    assert_string_equal(c->key, "energy_wh");
    assert_true(c->ok);
    assert_float_equal(c->c.rel.pct, 100 * (420.0 / 320 - 1), 1e-9);
    assert_true(c->p_holm >= c->c.welch.p);
    assert_non_null(strstr(c->sentence, "b used 31 % more energy than a"));
    jb_eval_free(&ev);
    unlink(path);
}

static void test_compare_option_and_outputs(void **state)
{
    build_main();
    jb_eval ev;
    jb_eval_opts o = {.compare = {"b", "a"}};
    evaluate(&ev, &o);
    assert_true(ev.ncmps >= 1);
    assert_string_equal(ev.cmps[0].b, "a"); /* a against reference b */
    /* every writer produces output mentioning the variants */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    jb_report_text(f, &ev);
    jb_report_markdown(f, &ev);
    assert_int_equal(jb_report_json(f, &ev), 0);
    assert_int_equal(jb_report_html(f, &ev), 0);
    fclose(f);
    assert_non_null(strstr(buf, "## Comparisons"));
    assert_non_null(strstr(buf, "\"comparisons\""));
    assert_non_null(strstr(buf, "<section id=\"power\">"));
    free(buf);
    jb_eval_free(&ev);
    unlink(path);
}

static void test_bad_inputs(void **state)
{
    jb_store st;
    jb_eval ev;
    jb_eval_opts o = {0};
    /* empty experiment */
    open_new(&st);
    jb_store_close(&st);
    evaluate(&ev, &o);
    assert_int_equal(ev.nruns, 0);
    assert_true(has_warning(&ev, "no runs"));
    jb_eval_free(&ev);
    /* no power channel, no baseline */
    open_new(&st);
    add_run(&st, "x", "scenario", 1, 5, 3, "ok", false, false);
    add_run(&st, "x", "scenario", 2, 6, 3, "ok", false, false);
    jb_store_close(&st);
    evaluate(&ev, &o);
    assert_true(has_warning(&ev, "no power or energy channel"));
    assert_true(has_warning(&ev, "no usable baseline"));
    assert_float_equal(mean_of(&ev, "x", "scenario", "duration_s"), 3, 1e-9);
    assert_null(jb_eval_stat_find(jb_eval_group_find(&ev, "x", "scenario"), "energy_wh"));
    jb_eval_free(&ev);
    /* all failed */
    open_new(&st);
    add_run(&st, "x", "scenario", 1, 5, 3, "failed", true, false);
    add_run(&st, "", "baseline", 1, 5, 3, "aborted", true, false);
    jb_store_close(&st);
    evaluate(&ev, &o);
    assert_int_equal(ev.n_ok, 0);
    assert_true(has_warning(&ev, "all 2 runs failed"));
    jb_eval_free(&ev);
    /* a missing experiment id is an error */
    jb_err e;
    assert_int_equal(jb_store_open(&st, path, true, &e), 0);
    o.experiment_id = 99;
    assert_int_equal(jb_evaluate(&st, &o, &ev, &e), -1);
    assert_non_null(strstr(e.msg, "no experiment with id 99"));
    jb_store_close(&st);
    /* a corrupt file is refused by the store */
    FILE *f = fopen(path, "w");
    fputs("this is not sqlite at all, just some text that is long enough to look like a header", f);
    fclose(f);
    assert_int_equal(jb_store_open(&st, path, true, &e), -1);
    unlink(path);
}

static void test_parse_target_fuzz(void **state)
{
    jb_eval_target t;
    jb_err e;
    assert_int_equal(jb_eval_parse_target("epoch:5", &t, &e), 0);
    assert_true(t.is_epoch);
    assert_int_equal(t.epoch, 5);
    assert_int_equal(jb_eval_parse_target("val_accuracy>=0.8", &t, &e), 0);
    assert_string_equal(t.metric, "val_accuracy");
    assert_float_equal(t.threshold, 0.8, 1e-12);
    const char *bad[] = {"",      "epoch:",  "epoch:x", "epoch:-1", ">=3",
                         "acc>=", "acc>=1x", "acc",     "acc>=nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(jb_eval_parse_target(bad[i], &t, &e), -1);
    srand(7);
    char buf[80];
    for (int k = 0; k < 20000; k++) {
        size_t n = (size_t)rand() % (sizeof buf - 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(1 + rand() % 255);
        buf[n] = 0;
        if (k % 3 == 0 && n > 8) memcpy(buf, "epoch:", 6);
        if (k % 3 == 1 && n > 8) memcpy(buf + n / 2, ">=", 2);
        jb_eval_parse_target(buf, &t, &e); /* must not crash; ASan checks bounds */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_numbers),
        cmocka_unit_test(test_compare_option_and_outputs),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_parse_target_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
