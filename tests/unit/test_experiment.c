/*
 * test_experiment.c — the experiment runner's pieces (src/experiment.c):
 * the median used for auto durations, which runs count as done on resume,
 * a whole small experiment through jb_experiment_run() with the terminal
 * progress line captured, the dry run, and the errors for a bad spec and
 * an empty store to resume.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "%s/jbexp-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *b = calloc((size_t)n + 1, 1);
    rewind(f);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    return b;
}

static void test_median(void **state)
{
    int64_t a[] = {300, 0, 100, -1, 200};
    assert_true(jb_median_ns(a, 5) == 200);
    int64_t b[] = {400, 100};
    assert_true(jb_median_ns(b, 2) == 250);
    int64_t c[] = {0, -5};
    assert_true(jb_median_ns(c, 2) == 0);
    assert_true(jb_median_ns(NULL, 0) == 0);
}

static const char SPEC[] = "name: unit\n"
                           "interval: 50ms\n"
                           "sources: [cpu]\n"
                           "repetitions: {scenario: 2, baseline: 1}\n"
                           "baseline: {duration: 0.1s}\n"
                           "variants:\n"
                           "  ok: {command: [true]}\n"
                           "  bad: {command: [sh, -c, 'exit 7']}\n"
                           "order: blocked\n"
                           "seed: 11\n";

static void test_run_and_done(void **state)
{
    char spec[512], db[512];
    snprintf(spec, sizeof spec, "%s/s.yml", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    write_file(spec, SPEC);
    FILE *prog = tmpfile();
    jb_experiment_opts o = {
        .spec_path = spec, .store_path = db, .max_failures = -1, .progress = prog, .tty = 1};
    jb_experiment_result r;
    jb_err err;
    assert_int_equal(jb_experiment_run(&o, &r, &err), 0);
    assert_int_equal(r.exit_code, 1); /* done, with failed runs */
    assert_string_equal(r.status, "done");
    assert_int_equal((int)r.planned, 5);
    assert_int_equal((int)r.ok, 3);
    assert_int_equal((int)r.failed, 2);
    assert_int_equal(r.max_failures, JB_DEFAULT_MAX_FAILURES);
    char *out = slurp(prog);
    fclose(prog);
    /* one updating line per run, failures on lines of their own */
    assert_non_null(strstr(out, "\r\033[K[1/5] baseline - rep 1 | elapsed "));
    assert_non_null(strstr(out, "\r\033[K[5/5] scenario bad rep 2 |"));
    assert_non_null(strstr(out, "run 4/5 scenario bad rep 1: failed"));
    assert_null(strstr(out, "run 2/5 scenario ok")); /* ok runs are not logged on a tty */
    free(out);

    jb_store st;
    assert_int_equal(jb_store_open(&st, db, true, &err), 0);
    jb_done_run *done;
    size_t n;
    assert_int_equal(jb_experiment_done_runs(&st, r.experiment_id, &done, &n, &err), 0);
    assert_int_equal((int)n, 5);
    jb_spec *s;
    assert_int_equal(jb_spec_load(spec, &s, &err), 0);
    jb_plan_run *plan;
    size_t np;
    assert_int_equal(jb_plan_build(s, &plan, &np, &err), 0);
    for (size_t i = 0; i < np; i++)
        assert_true(jb_plan_run_done(s, &plan[i], done, n));
    jb_plan_run other = plan[np - 1];
    other.rep = 3;
    assert_false(jb_plan_run_done(s, &other, done, n));
    other = plan[0];
    other.phase = JB_PHASE_IDLE;
    assert_false(jb_plan_run_done(s, &other, done, n));
    free(plan);
    free(done);
    jb_spec_free(s);
    jb_store_close(&st);

    /* nothing left to resume */
    o = (jb_experiment_opts){.store_path = db, .resume = true, .max_failures = -1, .tty = 0};
    assert_int_equal(jb_experiment_run(&o, &r, &err), -1);
    assert_int_equal(r.exit_code, JB_EXIT_DATA);
    assert_non_null(strstr(err.msg, "no unfinished experiment to resume"));

    /* --max-failures 0: the first failure stops it */
    o = (jb_experiment_opts){
        .spec_path = spec, .store_path = db, .max_failures = 0, .tty = 0, .progress = tmpfile()};
    assert_int_equal(jb_experiment_run(&o, &r, &err), 0);
    fclose(o.progress);
    assert_int_equal(r.exit_code, 2);
    assert_true(r.too_many_failures);
    assert_string_equal(r.status, "failed");
    assert_int_equal((int)(r.ok + r.failed), 4); /* baseline, ok x2, then bad rep 1 */
}

static void test_dry_run_and_errors(void **state)
{
    char spec[512], db[512];
    snprintf(spec, sizeof spec, "%s/s.yml", dir);
    snprintf(db, sizeof db, "%s/none.db", dir);
    write_file(spec, SPEC);
    FILE *prog = tmpfile();
    jb_experiment_opts o = {.spec_path = spec,
                            .store_path = db,
                            .dry_run = true,
                            .max_failures = 4,
                            .progress = prog,
                            .tty = 0};
    jb_experiment_result r;
    jb_err err;
    assert_int_equal(jb_experiment_run(&o, &r, &err), 0);
    char *out = slurp(prog);
    fclose(prog);
    assert_non_null(strstr(out, "experiment: unit"));
    assert_non_null(strstr(out, "runs: 5"));
    assert_non_null(strstr(out, "max failures: 4"));
    assert_null(strstr(out, "picks one")); /* the seed is given */
    free(out);
    assert_int_not_equal(access(db, F_OK), 0); /* a dry run writes no store */

    write_file(spec, "name: x\nvariants: {}\n");
    o.dry_run = false;
    assert_int_equal(jb_experiment_run(&o, &r, &err), -1);
    assert_int_equal(r.exit_code, JB_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "s.yml:2:11: variants is empty"));
    assert_int_not_equal(access(db, F_OK), 0);

    /* a store that is not a store */
    write_file(spec, SPEC);
    write_file(db, "this is not sqlite, just text long enough to look like a header ...");
    o.store_path = db;
    assert_int_equal(jb_experiment_run(&o, &r, &err), -1);
    assert_int_equal(r.exit_code, JB_EXIT_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median),
        cmocka_unit_test_setup_teardown(test_run_and_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
