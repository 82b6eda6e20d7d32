/*
 * test_spec.c — the experiment spec parser and plan builder (src/spec.c).
 *
 * Malformed specs live in tests/fixtures/specs/bad/ (one .yml each), each starting with
 * "# expect: LINE:COL: message prefix"; the test loads every one and checks the
 * error is exactly "<path>:" followed by that prefix. Good specs are checked
 * field by field, plans for each order, the time estimate, the example specs,
 * and a fuzz loop feeds mutated and truncated specs (never a crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spec.h"

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *top(void)
{
    const char *t = getenv("JB_TOP");
    return t && *t ? t : ".";
}

static void fixture(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/tests/fixtures/specs/%s", top(), rel);
}

static jb_spec *load_ok(const char *rel)
{
    char path[4096];
    fixture(path, sizeof path, rel);
    jb_spec *s = NULL;
    jb_err err = {{0}};
    int rc = jb_spec_load(path, &s, &err);
    if (rc != 0) fail_msg("%s: %s", rel, err.msg);
    return s;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    jb_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        jb_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

/* ---- malformed specs ---- */

static void check_bad(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    const char *tag = "# expect: ";
    if (strncmp(text, tag, strlen(tag))) fail_msg("%s has no '# expect: ' first line", path);
    char expect[512];
    size_t el = strcspn(text + strlen(tag), "\n");
    snprintf(expect, sizeof expect, "%.*s", (int)el, text + strlen(tag));
    free(text);

    jb_spec *s = NULL;
    jb_err err = {{0}};
    int rc = jb_spec_load(path, &s, &err);
    if (rc == 0) fail_msg("%s parsed but should fail with: %s", path, expect);
    assert_null(s);
    size_t pl = strlen(path);
    if (strncmp(err.msg, path, pl) || err.msg[pl] != ':' ||
        strncmp(err.msg + pl + 1, expect, strlen(expect)))
        fail_msg("%s\n  expected: %s\n  got:      %s", path, expect, err.msg);
    assert_non_null(strchr(err.msg, ';')); /* "what is wrong; what is expected" */
}

static void test_bad_specs(void **state)
{
    char pattern[4096];
    fixture(pattern, sizeof pattern, "bad/*.yml");
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 15);
    for (size_t i = 0; i < g.gl_pathc; i++)
        check_bad(g.gl_pathv[i]);
    globfree(&g);
}

static void test_missing_file(void **state)
{
    jb_spec *s = NULL;
    jb_err err = {{0}};
    assert_int_equal(jb_spec_load("/nonexistent/x.yml", &s, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/x.yml: cannot open the spec"));
}

static void test_too_big(void **state)
{
    size_t len = JB_SPEC_MAX_BYTES + 10;
    char *text = malloc(len);
    memset(text, '#', len);
    jb_spec *s = NULL;
    jb_err err = {{0}};
    assert_int_equal(jb_spec_parse(text, len, "big.yml", &s, &err), -1);
    assert_non_null(strstr(err.msg, "big.yml: the spec is"));
    free(text);
}

/* ---- good specs ---- */

static void test_full_spec(void **state)
{
    jb_spec *s = load_ok("good/full.yml");
    assert_string_equal(s->name, "flowers-full");
    assert_string_equal(s->description, "Own CNN vs MobileNetV2");
    assert_true(s->interval_ns == 250000000LL);
    assert_false(s->sources_auto);
    assert_int_equal(s->n_sources, 1);
    assert_string_equal(s->sources[0], "cpu");
    assert_int_equal(s->n_source_opts, 2);
    assert_string_equal(s->source_opts[0].key, "cpu.per_core");
    assert_string_equal(s->source_opts[0].value, "1");
    assert_string_equal(s->source_opts[1].key, "cpu.label");
    assert_string_equal(s->source_opts[1].value, "total");
    assert_int_equal(s->reps_scenario, 4);
    assert_int_equal(s->reps_baseline, 2);
    assert_int_equal(s->reps_idle, 3);
    assert_true(s->baseline_ns == 90000000000LL);
    assert_true(s->has_idle);
    assert_int_equal(s->idle_command.argc, 3);
    assert_string_equal(s->idle_command.argv[0], "python3");
    assert_string_equal(s->idle_command.argv[2], "import time; time.sleep(100)");
    assert_null(s->idle_command.argv[3]);
    assert_int_equal(s->idle_ready, JB_READY_MARKER);
    assert_string_equal(s->idle_ready_marker, "model_loaded");
    assert_true(s->idle_ns == 20000000000LL);

    assert_int_equal(s->n_variants, 2);
    const jb_spec_variant *a = &s->variants[0], *b = &s->variants[1];
    assert_string_equal(a->name, "own_cnn");
    assert_string_equal(a->description, "tutorial CNN");
    assert_int_equal(a->command.argc, 5);
    assert_string_equal(a->command.argv[4], "5");
    assert_null(a->command.argv[5]);
    assert_int_equal(a->n_env, 2);
    assert_string_equal(a->env[0].key, "OMP_NUM_THREADS");
    assert_string_equal(a->env[0].value, "2");
    assert_string_equal(a->env[1].key, "TF_CPP_MIN_LOG_LEVEL");
    assert_string_equal(a->env[1].value, "3");
    assert_string_equal(a->cwd, "/tmp");
    assert_true(a->timeout_ns == 600000000000LL);
    assert_int_equal(a->line, 17);
    assert_string_equal(b->name, "mobilenet-v2.a");
    assert_null(b->description);
    assert_null(b->cwd);
    assert_int_equal(b->n_env, 0);
    assert_true(b->timeout_ns == 0);
    assert_int_equal(jb_spec_variant_index(s, "mobilenet-v2.a"), 1);
    assert_int_equal(jb_spec_variant_index(s, "nope"), -1);

    assert_int_equal(s->order, JB_ORDER_RANDOMIZED);
    assert_true(s->has_seed);
    assert_true(s->seed == 4242);
    assert_true(s->drop_caches);
    assert_int_equal(s->reset.argc, 4);
    assert_string_equal(s->reset.argv[3], "models/");
    assert_true(s->quiet);
    assert_true(s->quiet_threshold == 7.5);
    assert_true(s->quiet_window_ns == 3000000000LL);
    assert_true(s->quiet_timeout_ns == 30000000000LL);
    assert_true(s->quiet_fail);
    assert_int_equal(s->cooldown, JB_COOLDOWN_TEMPERATURE);
    assert_true(s->cooldown_tolerance == 3);
    assert_true(s->cooldown_max_ns == 120000000000LL);
    assert_true(s->gpu_memory_check);

    assert_int_equal(s->n_metrics, 3);
    assert_string_equal(s->metrics[2], "val_correct");
    assert_int_equal(s->n_targets, 2);
    assert_int_equal(s->targets[0].kind, JB_TARGET_METRIC);
    assert_string_equal(s->targets[0].metric, "val_accuracy");
    assert_true(s->targets[0].threshold == 0.85);
    assert_int_equal(s->targets[1].kind, JB_TARGET_EPOCH);
    assert_int_equal(s->targets[1].epoch, 5);
    assert_true(s->has_carbon);
    assert_true(s->carbon_intensity == 380);
    assert_string_equal(s->carbon_source, "UBA 2023 German mix");
    assert_true(s->pilot);
    assert_int_equal(s->max_failures, 3);
    assert_non_null(strstr(s->text, "name: flowers-full"));
    jb_spec_free(s);
}

static void test_minimal_defaults(void **state)
{
    jb_spec *s = load_ok("good/minimal.yml");
    assert_string_equal(s->name, "minimal");
    assert_null(s->description);
    assert_true(s->interval_ns == 100000000LL);
    assert_true(s->sources_auto);
    assert_int_equal(s->n_sources, 0);
    assert_int_equal(s->reps_scenario, 30);
    assert_int_equal(s->reps_baseline, 10);
    assert_int_equal(s->reps_idle, 10);
    assert_true(s->baseline_ns == JB_DURATION_AUTO);
    assert_false(s->has_idle);
    assert_true(jb_spec_has_auto(s));
    assert_true(s->pilot); /* auto baseline needs a pilot */
    assert_int_equal(s->order, JB_ORDER_INTERLEAVED);
    assert_false(s->has_seed);
    assert_false(s->drop_caches);
    assert_null(s->reset.argv);
    assert_false(s->quiet);
    assert_true(s->quiet_threshold == 10);
    assert_int_equal(s->cooldown, JB_COOLDOWN_NONE);
    assert_false(s->has_carbon);
    assert_int_equal(s->max_failures, -1);
    assert_int_equal(s->variants[0].command.argc, 2);
    jb_spec_free(s);
}

static void test_fixed_spec(void **state)
{
    jb_spec *s = load_ok("good/fixed.yml");
    assert_true(s->interval_ns == 1000000000LL);
    assert_true(s->sources_auto);
    assert_int_equal(s->idle_ready, JB_READY_DELAY);
    assert_true(s->idle_ready_delay_ns == 500000000LL);
    assert_false(jb_spec_has_auto(s));
    assert_false(s->pilot);
    assert_true(s->quiet);
    assert_true(s->quiet_window_ns == 5000000000LL); /* defaults with quiet: true */
    assert_int_equal(s->cooldown, JB_COOLDOWN_FIXED);
    assert_true(s->cooldown_ns == 1500000000LL);
    assert_int_equal(s->order, JB_ORDER_BLOCKED);
    jb_spec_free(s);
}

static void test_examples_parse(void **state)
{
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/examples/*.yml", top());
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) skip();
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        jb_spec *s = NULL;
        jb_err err = {{0}};
        if (jb_spec_load(g.gl_pathv[i], &s, &err)) fail_msg("%s", err.msg);
        jb_plan_run *runs;
        size_t n;
        assert_int_equal(jb_plan_build(s, &runs, &n, &err), 0);
        assert_true(n > 0);
        free(runs);
        jb_spec_free(s);
    }
    globfree(&g);
}

static jb_spec *spec_text(const char *text)
{
    jb_spec *s = NULL;
    jb_err err = {{0}};
    if (jb_spec_parse(text, strlen(text), "inline.yml", &s, &err)) fail_msg("%s", err.msg);
    return s;
}

static int parse_err(const char *text, jb_err *err)
{
    jb_spec *s = NULL;
    int rc = jb_spec_parse(text, strlen(text), "x.yml", &s, err);
    jb_spec_free(s);
    return rc;
}

static void test_scalars_and_anchors(void **state)
{
    jb_err err = {{0}};
    /* quoted numbers are strings: an error where a number is expected */
    assert_int_equal(parse_err("name: t\nvariants: {a: {command: [x]}}\nseed: \"42\"\n", &err), -1);
    assert_non_null(strstr(err.msg, "x.yml:3:7: seed is '42', not a whole number"));
    /* anchors without aliases are harmless; numbers and booleans in argv are text */
    jb_spec *s = spec_text("name: &n t\nvariants: {a: {command: [sleep, 1, true, 0x10]}}\n"
                           "source_options: {estimate.idle_w: 12.5}\n");
    assert_string_equal(s->name, "t");
    assert_int_equal(s->variants[0].command.argc, 4);
    assert_string_equal(s->variants[0].command.argv[1], "1");
    assert_string_equal(s->variants[0].command.argv[2], "true");
    assert_string_equal(s->variants[0].command.argv[3], "0x10");
    /* source options plug straight into a source environment */
    jb_source_env env = {.opts = s->source_opts, .nopts = s->n_source_opts};
    assert_string_equal(jb_source_opt_get(&env, "estimate", "idle_w"), "12.5");
    jb_spec_free(s);
    /* an empty argument inside argv is kept; a null one is an error */
    s = spec_text("name: t\nvariants: {a: {command: [x, \"\"]}}\n");
    assert_int_equal(s->variants[0].command.argc, 2);
    assert_string_equal(s->variants[0].command.argv[1], "");
    jb_spec_free(s);
    assert_int_equal(parse_err("name: t\nvariants: {a: {command: [x, ~]}}\n", &err), -1);
    assert_non_null(strstr(err.msg, "x.yml:2:29: variants.a.command argument 2 is an empty value"));
}

static void test_argv_json(void **state)
{
    char *argv[] = {"py", "say \"hi\"\\", "a\nb", NULL};
    jb_spec_cmd c = {argv, 3};
    jb_buf b = {0};
    jb_spec_argv_json(&c, &b);
    assert_string_equal(b.data, "[\"py\",\"say \\\"hi\\\"\\\\\",\"a\\u000ab\"]");
    jb_buf_free(&b);
}

/* ---- plans ---- */

static const char *plan_spec(const char *order, int scen, int base, int idle)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "name: p\norder: %s\nseed: 7\nrepetitions: {scenario: %d, baseline: %d, idle: %d}\n"
             "baseline: {duration: 1s}\nidle: {command: [sleep, '9'], duration: 1s}\n"
             "variants:\n  A: {command: [a]}\n  B: {command: [b]}\n",
             order, scen, base, idle);
    return buf;
}

/* Every (phase, variant) group has reps 1..k in execution order; seq is 1..n. */
static void check_plan_invariants(const jb_spec *s, const jb_plan_run *r, size_t n)
{
    int count[8] = {0};
    assert_int_equal(
        n, (size_t)(s->reps_baseline + s->reps_idle + s->reps_scenario * (int)s->n_variants));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].seq, (int)i + 1);
        int g = r[i].phase == JB_PHASE_SCENARIO ? 2 + r[i].variant : (int)r[i].phase;
        if (r[i].phase != JB_PHASE_SCENARIO) assert_int_equal(r[i].variant, -1);
        assert_int_equal(r[i].rep, ++count[g]);
    }
    assert_int_equal(count[0], s->reps_baseline);
    assert_int_equal(count[1], s->reps_idle);
    for (size_t v = 0; v < s->n_variants; v++)
        assert_int_equal(count[2 + v], s->reps_scenario);
}

static void test_plan_interleaved(void **state)
{
    jb_spec *s = spec_text(plan_spec("interleaved", 3, 3, 3));
    jb_plan_run *r;
    size_t n;
    jb_err err;
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    check_plan_invariants(s, r, n);
    /* rounds: baseline k, idle k, A k, B k */
    const jb_phase ph[] = {JB_PHASE_BASELINE, JB_PHASE_IDLE, JB_PHASE_SCENARIO, JB_PHASE_SCENARIO};
    const int var[] = {-1, -1, 0, 1};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].phase, ph[i % 4]);
        assert_int_equal(r[i].variant, var[i % 4]);
        assert_int_equal(r[i].rep, (int)i / 4 + 1);
    }
    free(r);
    jb_spec_free(s);

    /* 10 scenario rounds, 5 baselines, 2 idles: spread, not bunched at the start. */
    s = spec_text(plan_spec("interleaved", 10, 5, 2));
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    check_plan_invariants(s, r, n);
    int round = 0, base_rounds[5], nb = 0, idle_rounds[2], ni = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].phase == JB_PHASE_SCENARIO && r[i].variant == 0) round++;
        if (r[i].phase == JB_PHASE_BASELINE) base_rounds[nb++] = round + 1;
        if (r[i].phase == JB_PHASE_IDLE) idle_rounds[ni++] = round + 1;
    }
    const int want_b[] = {1, 3, 5, 7, 9};
    for (int i = 0; i < 5; i++)
        assert_int_equal(base_rounds[i], want_b[i]);
    assert_int_equal(idle_rounds[0], 1);
    assert_int_equal(idle_rounds[1], 6);
    assert_int_equal(r[0].phase, JB_PHASE_BASELINE);
    assert_int_equal(r[n - 1].phase, JB_PHASE_SCENARIO);
    free(r);
    jb_spec_free(s);

    /* More baselines than scenario reps: the extra rounds hold only baselines. */
    s = spec_text(plan_spec("interleaved", 1, 3, 0));
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    check_plan_invariants(s, r, n);
    assert_int_equal(n, 5);
    assert_int_equal(r[3].phase, JB_PHASE_BASELINE);
    assert_int_equal(r[4].phase, JB_PHASE_BASELINE);
    free(r);
    jb_spec_free(s);
}

static void test_plan_blocked(void **state)
{
    jb_spec *s = spec_text(plan_spec("blocked", 3, 2, 2));
    jb_plan_run *r;
    size_t n;
    jb_err err;
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    check_plan_invariants(s, r, n);
    const char *want = "BBIIAAAbbb"; /* B=baseline I=idle A=variant 0 b=variant 1 */
    for (size_t i = 0; i < n; i++) {
        char got = r[i].phase == JB_PHASE_BASELINE ? 'B'
                   : r[i].phase == JB_PHASE_IDLE   ? 'I'
                   : r[i].variant == 0             ? 'A'
                                                   : 'b';
        assert_int_equal(got, want[i]);
    }
    free(r);
    jb_spec_free(s);
}

static char *plan_signature(const char *text)
{
    jb_spec *s = spec_text(text);
    jb_plan_run *r;
    size_t n;
    jb_err err;
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    check_plan_invariants(s, r, n);
    char *sig = calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++)
        sig[i] = r[i].phase == JB_PHASE_SCENARIO ? (char)('A' + r[i].variant) : "bi"[r[i].phase];
    free(r);
    jb_spec_free(s);
    return sig;
}

static void test_plan_randomized(void **state)
{
    char *a = plan_signature(plan_spec("randomized", 10, 5, 5));
    char *b = plan_signature(plan_spec("randomized", 10, 5, 5));
    char *blocked = plan_signature(plan_spec("blocked", 10, 5, 5));
    assert_string_equal(a, b); /* same seed, same plan */
    assert_string_not_equal(a, blocked);
    char other[1024];
    snprintf(other, sizeof other, "%s", plan_spec("randomized", 10, 5, 5));
    char *p = strstr(other, "seed: 7");
    p[6] = '8';
    char *c = plan_signature(other);
    assert_string_not_equal(a, c); /* another seed, another plan */
    /* Same multiset of runs in every order. */
    int ca[256] = {0}, cb[256] = {0};
    for (char *q = a; *q; q++)
        ca[(unsigned char)*q]++;
    for (char *q = blocked; *q; q++)
        cb[(unsigned char)*q]++;
    assert_memory_equal(ca, cb, sizeof ca);
    free(a);
    free(b);
    free(c);
    free(blocked);
}

static void test_prng_reference(void **state)
{
    /* SplitMix64 reference values for seed 0 (Vigna's splitmix64.c). */
    uint64_t st = 0;
    assert_true(jb_plan_rand(&st) == 0xe220a8397b1dcdafULL);
    assert_true(jb_plan_rand(&st) == 0x6e789e6aa1b965f4ULL);
    assert_true(jb_plan_rand(&st) == 0x06c45d188009454fULL);
}

static void test_plan_shuffle_uniform(void **state)
{
    /* Position of variant A's single run among 4 runs over 4000 seeds: each
     * position about 1000 times (a biased shuffle would skew this). */
    int hist[4] = {0};
    for (int seed = 0; seed < 4000; seed++) {
        char text[512];
        snprintf(text, sizeof text,
                 "name: u\norder: randomized\nseed: %d\nrepetitions: {scenario: 1, baseline: 0}\n"
                 "variants: {A: {command: [a]}, B: {command: [b]}, C: {command: [c]}, D: "
                 "{command: [d]}}\n",
                 seed);
        jb_spec *s = spec_text(text);
        jb_plan_run *r;
        size_t n;
        jb_err err;
        assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++)
            if (r[i].variant == 0) hist[i]++;
        free(r);
        jb_spec_free(s);
    }
    for (int i = 0; i < 4; i++)
        assert_in_range(hist[i], 880, 1120);
}

/* ---- estimate and dry-run text ---- */

static void test_estimate(void **state)
{
    jb_spec *s = load_ok("good/fixed.yml");
    jb_plan_run *r;
    size_t n;
    jb_err err;
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    assert_int_equal(n, 10); /* 2 baseline + 2 idle + 3 x 2 scenario */
    jb_plan_estimate e;
    const int64_t guess[] = {1000000000LL, 2000000000LL};
    jb_plan_estimate_time(s, r, n, guess, &e);
    /* per run: quiet window 5 s + cooldown 1.5 s; baseline 2 s; idle 0.5 + 2 s;
     * scenario 1 s (A) and 2 s (B). */
    int64_t want = 10 * 6500000000LL + 2 * 2000000000LL + 2 * 2500000000LL + 3 * 1000000000LL +
                   3 * 2000000000LL;
    assert_true(e.expected_ns == want);
    assert_int_equal(e.n_unknown, 0);
    assert_int_equal(e.n_pilot, 0);
    /* upper: quiet timeout 60 s + cooldown 1.5 s; scenarios at their timeouts 5 s / 10 s */
    int64_t up = 10 * 61500000000LL + 2 * 2000000000LL + 2 * 2500000000LL + 3 * 5000000000LL +
                 3 * 10000000000LL;
    assert_true(e.upper_ns == up);

    jb_plan_estimate_time(s, r, n, NULL, &e);
    assert_int_equal(e.n_unknown, 6);
    assert_true(e.upper_ns == up);

    jb_buf b = {0};
    jb_plan_describe(s, r, n, &e, &b);
    assert_non_null(strstr(b.data, "experiment: fixed"));
    assert_non_null(strstr(b.data, "order: blocked"));
    assert_non_null(strstr(b.data, "runs: 10"));
    assert_non_null(strstr(b.data, "6 run(s) of unknown length"));
    assert_non_null(strstr(b.data, "cooldown: 1.5 s"));
    jb_buf_free(&b);
    free(r);
    jb_spec_free(s);

    /* auto durations: pilot runs and the median guess. */
    s = spec_text("name: a\nrepetitions: {scenario: 2, baseline: 1}\n"
                  "variants: {A: {command: [a]}, B: {command: [b]}, C: {command: [c]}}\n");
    assert_int_equal(jb_plan_build(s, &r, &n, &err), 0);
    const int64_t g3[] = {3000000000LL, 1000000000LL, 5000000000LL};
    jb_plan_estimate_time(s, r, n, g3, &e);
    assert_int_equal(e.n_pilot, 3);
    /* pilot 9 s + baseline median 3 s + scenarios 2 x 9 s */
    assert_true(e.expected_ns == 9000000000LL + 3000000000LL + 18000000000LL);
    assert_true(e.upper_ns == -1);
    free(r);
    jb_spec_free(s);
}

/* ---- fuzz ---- */

static uint64_t rng = 0x1234;

static size_t rnd(size_t n)
{
    return (size_t)(jb_plan_rand(&rng) % n);
}

static void mutate(char *t, size_t *len)
{
    static const char junk[] = " :-[]{}\"'\t\n#&*!|>%@`,?0a.";
    switch (rnd(5)) {
    case 0: /* truncate */
        *len = rnd(*len + 1);
        break;
    case 1: /* overwrite a byte */
        if (*len) t[rnd(*len)] = junk[rnd(sizeof junk - 1)];
        break;
    case 2: /* random byte */
        if (*len) t[rnd(*len)] = (char)rnd(256);
        break;
    case 3: /* delete a run of bytes */
        if (*len > 4) {
            size_t at = rnd(*len - 4), k = 1 + rnd(4);
            memmove(t + at, t + at + k, *len - at - k);
            *len -= k;
        }
        break;
    default: /* duplicate a line-sized chunk */
        if (*len > 40 && *len < 8000) {
            size_t at = rnd(*len - 40);
            memmove(t + at + 40, t + at, *len - at);
            *len += 40;
        }
    }
}

static int fuzz_ok, fuzz_rejected;

static void fuzz_one(const char *base, size_t blen, int rounds)
{
    char *t = malloc(blen + 4096);
    for (int i = 0; i < rounds; i++) {
        memcpy(t, base, blen);
        size_t len = blen;
        int muts = 1 + (int)rnd(4);
        for (int m = 0; m < muts; m++)
            mutate(t, &len);
        jb_spec *s = NULL;
        jb_err err = {{0}};
        if (jb_spec_parse(t, len, "fuzz.yml", &s, &err) == 0) {
            /* still a valid spec: it must plan */
            jb_plan_run *r;
            size_t n;
            if (jb_plan_build(s, &r, &n, &err) == 0) free(r);
            jb_spec_free(s);
            fuzz_ok++;
        } else {
            assert_null(s);
            int line = 0, col = 0;
            if (sscanf(err.msg, "fuzz.yml:%d:%d: ", &line, &col) != 2)
                assert_non_null(strstr(err.msg, "fuzz.yml: "));
            assert_true(line >= 0 && col >= 0);
            assert_non_null(strchr(err.msg, ';'));
            fuzz_rejected++;
        }
    }
    free(t);
}

static void test_fuzz(void **state)
{
    const char *names[] = {"good/full.yml", "good/fixed.yml", "good/minimal.yml"};
    const char *env = getenv("JB_FUZZ_ROUNDS"); /* for a long run by hand */
    int rounds = env ? atoi(env) : 3000;
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        fixture(path, sizeof path, names[i]);
        size_t len;
        char *text = slurp(path, &len);
        fuzz_one(text, len, rounds);
        free(text);
    }
    print_message("fuzz: %d mutated specs parsed, %d rejected\n", fuzz_ok, fuzz_rejected);
    assert_true(fuzz_rejected > fuzz_ok / 4); /* the mutations do reach the error paths */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_full_spec),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_fixed_spec),
        cmocka_unit_test(test_examples_parse),
        cmocka_unit_test(test_argv_json),
        cmocka_unit_test(test_scalars_and_anchors),
        cmocka_unit_test(test_plan_interleaved),
        cmocka_unit_test(test_plan_blocked),
        cmocka_unit_test(test_plan_randomized),
        cmocka_unit_test(test_prng_reference),
        cmocka_unit_test(test_plan_shuffle_uniform),
        cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
