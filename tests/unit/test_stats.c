/*
 * test_stats.c — src/stats.c against reference values computed once with
 * scipy (tests/fixtures/stats/reference.h, made by tools/make_stats_fixtures.py),
 * plus edge cases (n < 3, constant data, NaN/inf input), brute-force checks of
 * the exact Mann–Whitney distribution, and a garbage-input run of every function.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fixtures/stats/reference.h"
#include "stats.h"

/* |got − want| ≤ rel·|want| + abs, with NaN equal to NaN. */
static void near_(double got, double want, double rel, double abs_tol, const char *what,
                  const char *name, int line)
{
    if (isnan(want) && isnan(got)) return;
    double tol = rel * fabs(want) + abs_tol;
    if (!(fabs(got - want) <= tol)) {
        print_error("%s (%s): got %.17g, want %.17g (tol %.3g)\n", what, name, got, want, tol);
        _fail(__FILE__, line);
    }
}
#define NEAR(got, want, rel, abs, what, name) near_(got, want, rel, abs, what, name, __LINE__)

static const ref_desc *find_vec(const char *name)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_DESC); i++)
        if (strcmp(REF_DESC[i].name, name) == 0) return &REF_DESC[i];
    fail_msg("no reference vector %s", name);
    return NULL;
}

/* ---- against scipy ------------------------------------------------------ */

static void test_describe_matches_scipy(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_DESC); i++) {
        const ref_desc *r = &REF_DESC[i];
        jb_desc d;
        jb_err err = {{0}};
        assert_int_equal(jb_stats_describe(r->x, r->n, &d, &err), 0);
        assert_int_equal(d.n, r->n);
        NEAR(d.mean, r->mean, 1e-12, 1e-12, "mean", r->name);
        NEAR(d.sd, r->sd, 1e-9, 1e-12, "sd", r->name);
        NEAR(d.se, r->se, 1e-9, 1e-12, "se", r->name);
        /* scipy 1.10's t.ppf is good to ~5e-9 relative (qt(.975, 39) is
         * 2.0226909200367611 by mpmath; GSL agrees, scipy says 2.0226909117),
         * so the half-width is compared to 1e-8 of itself. */
        NEAR(d.ci_lo, r->ci_lo, 1e-12, 1e-8 * 3 * r->se + 1e-12, "ci_lo", r->name);
        NEAR(d.ci_hi, r->ci_hi, 1e-12, 1e-8 * 3 * r->se + 1e-12, "ci_hi", r->name);
        NEAR(d.median, r->median, 1e-12, 0, "median", r->name);
        NEAR(d.min, r->min, 0, 0, "min", r->name);
        NEAR(d.max, r->max, 0, 0, "max", r->name);
        NEAR(d.range, r->max - r->min, 1e-12, 0, "range", r->name);
        NEAR(d.q1, r->q1, 1e-12, 1e-12, "q1", r->name);
        NEAR(d.q3, r->q3, 1e-12, 1e-12, "q3", r->name);
        NEAR(d.iqr, r->q3 - r->q1, 1e-9, 1e-12, "iqr", r->name);
        NEAR(d.cv, r->cv, 1e-9, 1e-15, "cv", r->name);
        /* scipy's swilk is single precision: W to 1e-4, p to 1e-3 relative. */
        NEAR(d.sw_w, r->sw_w, 0, 1e-4, "Shapiro-Wilk W", r->name);
        NEAR(d.sw_p, r->sw_p, 1e-3, 1e-6, "Shapiro-Wilk p", r->name);
        size_t flagged = 0;
        for (size_t k = 0; k < r->n; k++)
            flagged += r->mask[k];
        assert_int_equal(d.n_outliers, flagged);
    }
}

static void test_tukey_mask_matches_reference(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_DESC); i++) {
        const ref_desc *r = &REF_DESC[i];
        unsigned char *mask = malloc(r->n);
        size_t count = 99;
        assert_int_equal(jb_stats_tukey(r->x, r->n, mask, &count, NULL), 0);
        assert_memory_equal(mask, r->mask, r->n);
        free(mask);
    }
    /* The vector built with two planted outliers flags exactly those two. */
    const ref_desc *o = find_vec("outliers15");
    unsigned char mask[15];
    size_t count;
    assert_int_equal(jb_stats_tukey(o->x, o->n, mask, &count, NULL), 0);
    assert_int_equal(count, 2);
    assert_int_equal(mask[13], 1);
    assert_int_equal(mask[14], 1);
}

static void test_shapiro_exact_cases(void **state)
{
    /* n = 3 has an exact p; an evenly spaced triple has W = 1 and p = 1. */
    double even[3] = {1, 2, 3}, w, p;
    assert_int_equal(jb_stats_shapiro(even, 3, &w, &p, NULL), 0);
    NEAR(w, 1.0, 0, 1e-12, "W", "1,2,3");
    NEAR(p, 1.0, 0, 1e-9, "p", "1,2,3");
    /* W is invariant to shift and scale. */
    const ref_desc *r = find_vec("normal30");
    double y[30], w2, p2;
    for (int i = 0; i < 30; i++)
        y[i] = 1e6 + 1e-3 * r->x[i];
    assert_int_equal(jb_stats_shapiro(r->x, 30, &w, &p, NULL), 0);
    assert_int_equal(jb_stats_shapiro(y, 30, &w2, &p2, NULL), 0);
    NEAR(w2, w, 0, 1e-9, "W shifted", "normal30");
    NEAR(p2, p, 1e-6, 0, "p shifted", "normal30");
}

static void test_compare_matches_scipy(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_CMP); i++) {
        const ref_cmp *r = &REF_CMP[i];
        const ref_desc *a = find_vec(r->a), *b = find_vec(r->b);
        char name[80];
        snprintf(name, sizeof name, "%s vs %s", r->b, r->a);
        jb_compare c;
        jb_err err = {{0}};
        assert_int_equal(jb_stats_compare(a->x, a->n, b->x, b->n, &c, &err), 0);
        assert_int_equal(c.have & (JB_CMP_WELCH | JB_CMP_MWU | JB_CMP_COHEN | JB_CMP_CLIFF),
                         JB_CMP_WELCH | JB_CMP_MWU | JB_CMP_COHEN | JB_CMP_CLIFF);
        NEAR(c.welch.t, r->welch_t, 1e-9, 1e-12, "welch t", name);
        NEAR(c.welch.df, r->welch_df, 1e-9, 0, "welch df", name);
        NEAR(c.welch.p, r->welch_p, 1e-6, 1e-300, "welch p", name);
        NEAR(c.mwu.u, r->mwu_u, 0, 0, "U", name);
        assert_int_equal(c.mwu.exact, r->mwu_exact);
        NEAR(c.mwu.p, r->mwu_p, r->mwu_exact ? 1e-9 : 1e-6, 1e-15, "MWU p", name);
        NEAR(c.cohen_d, r->cohen_d, 1e-9, 1e-12, "Cohen's d", name);
        NEAR(c.hedges_g, r->hedges_g, 1e-9, 1e-12, "Hedges' g", name);
        NEAR(c.cliff_delta, r->cliff, 1e-12, 1e-15, "Cliff's delta", name);
        NEAR(c.rel.pct, r->rel_pct, 1e-9, 1e-9, "relative difference", name);
        assert_int_equal(c.rel.bounded, r->rel_bounded);
        NEAR(c.rel.lo_pct, r->rel_lo, 1e-7, 1e-7, "rel CI lo", name);
        NEAR(c.rel.hi_pct, r->rel_hi, 1e-7, 1e-7, "rel CI hi", name);
    }
}

static void test_mwu_forced_methods_match_scipy(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_MWU); i++) {
        const ref_mwu *r = &REF_MWU[i];
        const ref_desc *x = find_vec(r->x), *y = find_vec(r->y);
        jb_mwu m;
        jb_err err = {{0}};
        jb_mwu_method meth = r->exact ? JB_MWU_EXACT : JB_MWU_ASYMPTOTIC;
        assert_int_equal(jb_stats_mannwhitney(x->x, x->n, y->x, y->n, meth, &m, &err), 0);
        assert_int_equal(m.exact, r->exact);
        NEAR(m.u, r->u, 0, 0, "U", r->x);
        NEAR(m.p, r->p, r->exact ? 1e-9 : 1e-6, 1e-15, "p", r->x);
        assert_string_equal(jb_stats_mwu_method_name(&m), r->exact
                                                              ? "exact"
                                                              : "normal approximation (tie- and "
                                                                "continuity-corrected)");
    }
}

static void test_holm_matches_reference(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_HOLM); i++) {
        double adj[12];
        assert_int_equal(jb_stats_holm(REF_HOLM[i].p, REF_HOLM[i].m, adj, NULL), 0);
        for (size_t k = 0; k < REF_HOLM[i].m; k++)
            NEAR(adj[k], REF_HOLM[i].adj[k], 1e-12, 1e-15, "holm", "vector");
    }
    /* Worked by hand: sorted 0.005·4, 0.01·3, 0.03·2, max(0.04·1, 0.06). */
    double p[4] = {0.01, 0.04, 0.03, 0.005};
    assert_int_equal(jb_stats_holm(p, 4, p, NULL), 0); /* in place */
    NEAR(p[0], 0.03, 1e-12, 0, "holm", "hand");
    NEAR(p[1], 0.06, 1e-12, 0, "holm", "hand");
    NEAR(p[2], 0.06, 1e-12, 0, "holm", "hand");
    NEAR(p[3], 0.02, 1e-12, 0, "holm", "hand");
}

static void test_t_quantile_matches_scipy(void **state)
{
    for (size_t i = 0; i < JB_ARRAY_LEN(REF_TQ); i++)
        NEAR(jb_stats_t_quantile(REF_TQ[i][0], REF_TQ[i][1]), REF_TQ[i][2], 1e-8, 0, "t", "q");
    NEAR(jb_stats_t_quantile(0.975, INFINITY), 1.959963984540054, 1e-12, 0, "z", "inf");
    assert_true(isnan(jb_stats_t_quantile(0.975, 0)));
    assert_true(isnan(jb_stats_t_quantile(0.975, NAN)));
}

static void test_software_induced_energy(void **state)
{
    double run[30], run_se[30];
    jb_estimate m;
    jb_err err = {{0}};
    assert_int_equal(
        jb_stats_sie_power(ref_sie_e, ref_sie_t, 30, ref_sie_pb, 10, run, run_se, &m, &err), 0);
    for (int i = 0; i < 30; i++) {
        NEAR(run[i], ref_sie_power_run[i], 1e-12, 1e-9, "S_i", "power");
        NEAR(run_se[i], ref_sie_power_run_se[i], 1e-12, 1e-12, "se(S_i)", "power");
    }
    const double *want = ref_sie_power_mean;
    NEAR(m.value, want[0], 1e-12, 1e-9, "mean", "power");
    NEAR(m.se, want[1], 1e-9, 0, "se", "power");
    NEAR(m.df, want[2], 1e-9, 0, "df", "power");
    NEAR(m.ci_lo, want[3], 1e-9, 1e-9, "ci lo", "power");
    NEAR(m.ci_hi, want[4], 1e-9, 1e-9, "ci hi", "power");

    assert_int_equal(jb_stats_sie_oscar(ref_sie_e, 30, ref_sie_eb, 10, run, run_se, &m, &err), 0);
    want = ref_sie_oscar_mean;
    NEAR(m.value, want[0], 1e-12, 1e-9, "mean", "oscar");
    NEAR(m.se, want[1], 1e-9, 0, "se", "oscar");
    NEAR(m.df, want[2], 1e-9, 0, "df", "oscar");
    NEAR(m.ci_lo, want[3], 1e-9, 1e-9, "ci lo", "oscar");
    NEAR(m.ci_hi, want[4], 1e-9, 1e-9, "ci hi", "oscar");
    NEAR(run_se[0], ref_sie_oscar_run_se, 1e-12, 0, "run se", "oscar");

    /* A noiseless baseline leaves only the run-to-run scatter. */
    double flat[3] = {10, 10, 10}, e[3] = {110, 130, 120}, t[3] = {10, 10, 10};
    assert_int_equal(jb_stats_sie_power(e, t, 3, flat, 3, run, run_se, &m, &err), 0);
    NEAR(m.value, 20, 1e-12, 0, "mean", "flat");
    NEAR(m.se, 10 / sqrt(3), 1e-12, 0, "se", "flat");
    NEAR(run_se[1], 0, 0, 0, "run se", "flat");
    /* Negative software-induced energy is kept, not clipped. */
    double low[2] = {50, 60}, tt[2] = {10, 10};
    assert_int_equal(jb_stats_sie_power(low, tt, 2, flat, 3, run, NULL, NULL, &err), 0);
    NEAR(run[0], -50, 0, 0, "negative", "low");
}

static void test_efficiency_ratio(void **state)
{
    jb_desc d;
    assert_int_equal(jb_stats_ratio(ref_eff_acc, ref_eff_wh, 30, &d, NULL), 0);
    NEAR(d.mean, ref_eff[0], 1e-12, 0, "mean", "acc/Wh");
    NEAR(d.ci_lo, ref_eff[1], 1e-9, 0, "ci lo", "acc/Wh");
    NEAR(d.ci_hi, ref_eff[2], 1e-9, 0, "ci hi", "acc/Wh");
    double num[2] = {1, 2}, den[2] = {1, 0};
    jb_err err = {{0}};
    assert_int_equal(jb_stats_ratio(num, den, 2, &d, &err), -1);
    assert_non_null(strstr(err.msg, "run 2"));
}

/* ---- exact Mann–Whitney against brute force ----------------------------- */

/* Count the ways of choosing m of m+n ranks whose U (pairs above the other
 * group) is ≤ k, by enumerating every subset. */
static double brute_cdf(int m, int n, int k)
{
    int tot = m + n;
    double ways = 0, all = 0;
    for (uint32_t mask = 0; mask < (1u << tot); mask++) {
        if (__builtin_popcount(mask) != m) continue;
        int u = 0, below = 0; /* members of the other group below */
        for (int i = 0; i < tot; i++) {
            if (mask & (1u << i))
                u += below;
            else
                below++;
        }
        all++;
        ways += u <= k;
    }
    return ways / all;
}

static void test_mwu_exact_matches_enumeration(void **state)
{
    int sizes[][2] = {{3, 4}, {4, 5}, {5, 5}, {2, 9}, {6, 7}, {1, 8}};
    for (size_t s = 0; s < JB_ARRAY_LEN(sizes); s++) {
        int m = sizes[s][0], n = sizes[s][1];
        double x[16], y[16];
        /* x takes ranks so that U of x runs through every value 0..mn. */
        for (int shift = 0; shift <= n; shift++) {
            for (int i = 0; i < n; i++)
                y[i] = i;
            for (int i = 0; i < m; i++)
                x[i] = (i < m - 1 ? -1 - i : shift - 0.5);
            jb_mwu r;
            assert_int_equal(
                jb_stats_mannwhitney(x, (size_t)m, y, (size_t)n, JB_MWU_EXACT, &r, NULL), 0);
            int u = (int)r.u, k = u < m * n - u ? u : m * n - u;
            double want = fmin(1.0, 2 * brute_cdf(m, n, k));
            NEAR(r.p, want, 1e-12, 1e-15, "exact p", "enumeration");
        }
    }
    /* Complete separation of 6 and 8: p = 2 / C(14, 6) = 2/3003. */
    double a[6] = {1, 2, 3, 4, 5, 6}, b[8] = {7, 8, 9, 10, 11, 12, 13, 14};
    jb_mwu r;
    assert_int_equal(jb_stats_mannwhitney(a, 6, b, 8, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 1);
    NEAR(r.u, 0, 0, 0, "U", "separated");
    NEAR(r.p, 2.0 / 3003.0, 1e-12, 0, "p", "separated");
}

static void test_mwu_auto_rule(void **state)
{
    const ref_desc *s8 = find_vec("small8"), *s9 = find_vec("small9");
    const ref_desc *n30 = find_vec("normal30"), *ties = find_vec("ties20");
    jb_mwu r;
    assert_int_equal(jb_stats_mannwhitney(s8->x, 8, n30->x, 30, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 1); /* one group ≤ 8, no ties */
    assert_int_equal(jb_stats_mannwhitney(s9->x, 9, n30->x, 30, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 0); /* both > 8 */
    assert_false(isnan(r.z));
    assert_int_equal(jb_stats_mannwhitney(s8->x, 8, ties->x, 20, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 0); /* ties */
    assert_int_equal(r.ties, 1);
    jb_err err = {{0}};
    assert_int_equal(jb_stats_mannwhitney(s8->x, 8, ties->x, 20, JB_MWU_EXACT, &r, &err), -1);
    assert_non_null(strstr(err.msg, "ties"));
    /* An exact table too large to hold is refused, and AUTO falls back. */
    size_t big = 8000;
    double *x = malloc(big * sizeof *x), y[8] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5};
    for (size_t i = 0; i < big; i++)
        x[i] = (double)i;
    assert_int_equal(jb_stats_mannwhitney(x, big, y, 8, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 1); /* 8 × 8000: still tabulated */
    double *x2 = realloc(x, 1000001 * sizeof *x);
    assert_non_null(x2);
    x = x2;
    for (size_t i = 0; i < 1000001; i++)
        x[i] = (double)i + 0.25;
    assert_int_equal(jb_stats_mannwhitney(x, 1000001, y, 8, JB_MWU_AUTO, &r, NULL), 0);
    assert_int_equal(r.exact, 0);
    assert_int_equal(jb_stats_mannwhitney(x, 1000001, y, 8, JB_MWU_EXACT, &r, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    free(x);
}

/* ---- effect sizes, relative difference ---------------------------------- */

static void test_hedges_correction_close_to_approximation(void **state)
{
    const ref_desc *a = find_vec("small5"), *b = find_vec("small7b");
    double d, g;
    assert_int_equal(jb_stats_cohen(b->x, b->n, a->x, a->n, &d, &g, NULL), 0);
    double df = (double)(a->n + b->n - 2);
    NEAR(g / d, 1 - 3 / (4 * df - 1), 1e-3, 0, "J", "approximation");
    assert_true(fabs(g) < fabs(d));
}

static void test_fieller_close_to_delta_method_for_precise_means(void **state)
{
    /* Tiny scatter around 100 and 80: the ratio CI is ≈ the delta-method one. */
    double a[10], b[10];
    for (int i = 0; i < 10; i++) {
        a[i] = 100 + 0.01 * (i - 4.5);
        b[i] = 80 + 0.02 * ((i * 7) % 10 - 4.5);
    }
    jb_reldiff r;
    assert_int_equal(jb_stats_reldiff(a, 10, b, 10, &r, NULL), 0);
    NEAR(r.pct, -20, 1e-9, 1e-9, "pct", "precise");
    assert_true(r.bounded);
    assert_true(r.lo_pct < -20 && r.hi_pct > -20);
    /* Delta method: R ± t·R·√(qa/ma² + qb/mb²), same t. */
    jb_desc da, db;
    assert_int_equal(jb_stats_describe(a, 10, &da, NULL), 0);
    assert_int_equal(jb_stats_describe(b, 10, &db, NULL), 0);
    double R = db.mean / da.mean, t = jb_stats_t_quantile(0.975, r.df);
    double half = 100 * t * R *
                  sqrt(da.se * da.se / (da.mean * da.mean) + db.se * db.se / (db.mean * db.mean));
    NEAR(r.lo_pct, r.pct - half, 0, 1e-3 * half, "Fieller lo vs delta", "precise");
    NEAR(r.hi_pct, r.pct + half, 0, 1e-3 * half, "Fieller hi vs delta", "precise");
    /* A reference mean indistinguishable from 0 gives an unbounded interval. */
    double z[4] = {-1, 1, -2, 2.1}, w[4] = {5, 6, 7, 8};
    assert_int_equal(jb_stats_reldiff(z, 4, w, 4, &r, NULL), 0);
    assert_false(r.bounded);
    assert_true(isnan(r.lo_pct) && isnan(r.hi_pct));
    double zero[2] = {-1, 1};
    jb_err err = {{0}};
    assert_int_equal(jb_stats_reldiff(zero, 2, w, 4, &r, &err), -1);
    assert_non_null(strstr(err.msg, "mean is 0"));
}

/* ---- edge cases ----------------------------------------------------------- */

static void test_edge_small_n(void **state)
{
    jb_desc d;
    jb_err err = {{0}};
    double one = 4.2, two[2] = {1, 3};
    assert_int_equal(jb_stats_describe(&one, 0, &d, &err), -1);
    assert_non_null(strstr(err.msg, "at least 1"));
    assert_int_equal(jb_stats_describe(&one, 1, &d, &err), 0);
    NEAR(d.mean, 4.2, 0, 0, "mean", "n=1");
    NEAR(d.median, 4.2, 0, 0, "median", "n=1");
    assert_true(isnan(d.sd) && isnan(d.se) && isnan(d.ci_lo) && isnan(d.cv));
    assert_true(isnan(d.sw_w) && isnan(d.sw_p));
    assert_int_equal(jb_stats_describe(two, 2, &d, &err), 0);
    NEAR(d.sd, sqrt(2), 1e-12, 0, "sd", "n=2");
    NEAR(d.ci_hi, 2 + 12.706204736174707, 1e-9, 0, "ci", "n=2");
    assert_true(isnan(d.sw_w));
    double w, p;
    assert_int_equal(jb_stats_shapiro(two, 2, &w, &p, &err), -1);
    assert_non_null(strstr(err.msg, "at least 3"));
    jb_welch t;
    assert_int_equal(jb_stats_welch(&one, 1, two, 2, &t, &err), -1);
    jb_compare c;
    assert_int_equal(jb_stats_compare(&one, 1, two, 2, &c, &err), -1);
}

static void test_edge_constant_data(void **state)
{
    double k[5] = {7, 7, 7, 7, 7}, k2[5] = {9, 9, 9, 9, 9};
    jb_desc d;
    jb_err err = {{0}};
    assert_int_equal(jb_stats_describe(k, 5, &d, &err), 0);
    NEAR(d.sd, 0, 0, 0, "sd", "constant");
    NEAR(d.cv, 0, 0, 0, "cv", "constant");
    NEAR(d.ci_lo, 7, 0, 0, "ci", "constant");
    NEAR(d.iqr, 0, 0, 0, "iqr", "constant");
    assert_int_equal(d.n_outliers, 0);
    assert_true(isnan(d.sw_w) && isnan(d.sw_p));
    double w, p;
    assert_int_equal(jb_stats_shapiro(k, 5, &w, &p, &err), -1);
    assert_non_null(strstr(err.msg, "equal"));
    jb_welch t;
    assert_int_equal(jb_stats_welch(k, 5, k2, 5, &t, &err), -1);
    assert_non_null(strstr(err.msg, "constant"));
    /* The comparison still reports what is defined, and says what is not. */
    jb_compare c;
    assert_int_equal(jb_stats_compare(k, 5, k2, 5, &c, &err), 0);
    assert_false(c.have & JB_CMP_WELCH);
    assert_false(c.have & JB_CMP_COHEN);
    assert_true(c.have & JB_CMP_MWU);
    assert_true(c.have & JB_CMP_CLIFF);
    assert_true(c.have & JB_CMP_RELDIFF);
    NEAR(c.cliff_delta, 1, 0, 0, "cliff", "constant");
    NEAR(c.rel.pct, 100.0 * 2 / 7, 1e-12, 0, "rel", "constant");
    NEAR(c.rel.lo_pct, c.rel.pct, 1e-12, 0, "rel lo", "constant");
    assert_true(isnan(c.welch.p));
    assert_non_null(strstr(c.note, "constant"));
    /* All ten values equal: MWU sees no difference at all. */
    jb_mwu m;
    assert_int_equal(jb_stats_mannwhitney(k, 5, k, 5, JB_MWU_AUTO, &m, &err), 0);
    NEAR(m.p, 1, 0, 0, "p", "all equal");
}

static void test_edge_nan_and_inf_rejected(void **state)
{
    double bad[4] = {1, NAN, 3, 4}, inf[4] = {1, 2, INFINITY, 4}, ok[4] = {1, 2, 3, 5};
    jb_err err = {{0}};
    jb_desc d;
    assert_int_equal(jb_stats_describe(bad, 4, &d, &err), -1);
    assert_non_null(strstr(err.msg, "value 2 of 4 is NaN"));
    assert_int_equal(jb_stats_describe(inf, 4, &d, &err), -1);
    assert_non_null(strstr(err.msg, "infinite"));
    double w, p, q;
    assert_int_equal(jb_stats_shapiro(bad, 4, &w, &p, &err), -1);
    assert_int_equal(jb_stats_quantile(bad, 4, 0.5, &q, &err), -1);
    assert_int_equal(jb_stats_quantile(ok, 4, 1.5, &q, &err), -1);
    jb_welch t;
    assert_int_equal(jb_stats_welch(ok, 4, bad, 4, &t, &err), -1);
    jb_mwu m;
    assert_int_equal(jb_stats_mannwhitney(bad, 4, ok, 4, JB_MWU_AUTO, &m, &err), -1);
    assert_int_equal(jb_stats_cohen(ok, 4, inf, 4, &w, &p, &err), -1);
    assert_int_equal(jb_stats_cliff(ok, 4, bad, 4, &w, &err), -1);
    jb_reldiff r;
    assert_int_equal(jb_stats_reldiff(bad, 4, ok, 4, &r, &err), -1);
    double adj[4], pv[4] = {0.1, NAN, 0.2, 0.3}, pr[2] = {0.1, 1.5};
    assert_int_equal(jb_stats_holm(pv, 4, adj, &err), -1);
    assert_int_equal(jb_stats_holm(pr, 2, adj, &err), -1);
    assert_non_null(strstr(err.msg, "outside [0, 1]"));
    jb_estimate e;
    assert_int_equal(jb_stats_sie_power(ok, bad, 4, ok, 4, NULL, NULL, &e, &err), -1);
    assert_int_equal(jb_stats_sie_oscar(ok, 4, inf, 4, NULL, NULL, &e, &err), -1);
    assert_int_equal(jb_stats_ratio(ok, bad, 4, &d, &err), -1);
    jb_compare c;
    assert_int_equal(jb_stats_compare(ok, 4, bad, 4, &c, &err), -1);
}

static void test_shapiro_limits(void **state)
{
    size_t n = 5001;
    double *x = malloc(n * sizeof *x), w, p;
    for (size_t i = 0; i < n; i++)
        x[i] = sin((double)i) * 3 + (double)(i % 17);
    jb_err err = {{0}};
    assert_int_equal(jb_stats_shapiro(x, n, &w, &p, &err), -1);
    assert_non_null(strstr(err.msg, "5000"));
    assert_int_equal(jb_stats_shapiro(x, 5000, &w, &p, &err), 0);
    assert_true(w > 0 && w <= 1 && p >= 0 && p <= 1);
    free(x);
}

/* ---- sentences ------------------------------------------------------------ */

static void test_p_formatting(void **state)
{
    char s[32];
    jb_stats_fmt_p(s, sizeof s, 0.0004);
    assert_string_equal(s, "p < 0.001");
    jb_stats_fmt_p(s, sizeof s, 0.001);
    assert_string_equal(s, "p = 0.001");
    jb_stats_fmt_p(s, sizeof s, 0.04249);
    assert_string_equal(s, "p = 0.042");
    jb_stats_fmt_p(s, sizeof s, 1);
    assert_string_equal(s, "p = 1.000");
    jb_stats_fmt_p(s, sizeof s, NAN);
    assert_string_equal(s, "p = n/a");
}

static void test_sentence(void **state)
{
    char s[256];
    jb_reldiff r = {.ratio = 0.39, .pct = -61.2, .lo_pct = -65.1, .hi_pct = -57.3, .bounded = 1};
    jb_stats_sentence(s, sizeof s, "mobilenetv2-transfer", "own-cnn", "used", "energy", &r, 1e-5);
    assert_string_equal(s, "mobilenetv2-transfer used 61 % less energy than own-cnn "
                           "(95 % CI 57\u201365 %), p < 0.001");
    r = (jb_reldiff){.pct = 3.04, .lo_pct = -2.2, .hi_pct = 8.4, .bounded = 1};
    jb_stats_sentence(s, sizeof s, "b", "a", "took", "time", &r, 0.3124);
    assert_string_equal(s, "b took 3.0 % more time than a (95 % CI 2.2 % less to 8.4 % more), "
                           "p = 0.312");
    r = (jb_reldiff){.pct = 150, .lo_pct = NAN, .hi_pct = NAN, .bounded = 0};
    jb_stats_sentence(s, sizeof s, "b", "a", "used", "energy", &r, 0.02);
    assert_string_equal(s, "b used 150 % more energy than a (95 % CI unbounded), p = 0.020");
    r = (jb_reldiff){.pct = 0.01, .lo_pct = -1, .hi_pct = 1, .bounded = 1};
    jb_stats_sentence(s, sizeof s, "b", "a", "used", "energy", &r, 0.99);
    assert_string_equal(s, "b used as much energy as a (95 % CI 1.0 % less to 1.0 % more), "
                           "p = 0.990");
    /* Small output buffers truncate, never overflow. */
    char tiny[8];
    jb_stats_sentence(tiny, sizeof tiny, "b", "a", "used", "energy", &r, 0.99);
    assert_int_equal(strlen(tiny), 7);
}

static void test_sentence_from_real_comparison(void **state)
{
    const ref_desc *a = find_vec("normal30"), *b = find_vec("normal30b");
    jb_compare c;
    assert_int_equal(jb_stats_compare(a->x, a->n, b->x, b->n, &c, NULL), 0);
    char s[256];
    jb_stats_sentence(s, sizeof s, "b", "a", "used", "energy", &c.rel, c.welch.p);
    /* From the scipy reference: −8.88 % (−11.69 to −5.99), p = 1.4e-7. */
    assert_string_equal(s, "b used 8.9 % less energy than a (95 % CI 6.0\u201312 %), p < 0.001");
}

/* ---- garbage in ----------------------------------------------------------- */

static double garbage_double(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = *st >> 11;
    switch (r % 6) {
    case 0: {
        double d;
        uint64_t bits = *st ^ (*st << 17);
        memcpy(&d, &bits, sizeof d); /* any bit pattern: NaN, inf, subnormal */
        return d;
    }
    case 1:
        return (double)(r % 5); /* many ties */
    case 2:
        return (double)(r % 1000) * 1e300; /* huge */
    case 3:
        return (double)(r % 1000) * 1e-300; /* tiny */
    default:
        return (double)(r % 100000) / 977.0 - 50;
    }
}

static void test_garbage_input_never_crashes(void **state)
{
    uint64_t st = 12345;
    double x[64], y[64], out[64];
    unsigned char mask[64];
    for (int round = 0; round < 3000; round++) {
        size_t nx = (size_t)(st >> 40) % 40, ny = (size_t)(st >> 20) % 40;
        for (size_t i = 0; i < 64; i++) {
            x[i] = garbage_double(&st);
            y[i] = garbage_double(&st);
        }
        jb_err err = {{0}};
        jb_desc d;
        jb_welch t;
        jb_mwu m;
        jb_reldiff r;
        jb_compare c;
        jb_estimate e;
        double a, b;
        if (jb_stats_describe(x, nx, &d, &err) == 0)
            assert_true(d.min <= d.max);
        else
            assert_true(err.msg[0] != 0);
        (void)jb_stats_tukey(x, nx, mask, NULL, &err);
        if (jb_stats_shapiro(x, nx, &a, &b, &err) == 0) assert_true(!(b < 0) && !(b > 1));
        (void)jb_stats_welch(x, nx, y, ny, &t, &err);
        if (jb_stats_mannwhitney(x, nx, y, ny, JB_MWU_AUTO, &m, &err) == 0)
            assert_true(m.p >= 0 && m.p <= 1);
        (void)jb_stats_cohen(x, nx, y, ny, &a, &b, &err);
        if (jb_stats_cliff(x, nx, y, ny, &a, &err) == 0) assert_true(a >= -1 && a <= 1);
        (void)jb_stats_reldiff(x, nx, y, ny, &r, &err);
        (void)jb_stats_compare(x, nx, y, ny, &c, &err);
        (void)jb_stats_holm(x, nx, out, &err);
        (void)jb_stats_sie_power(x, y, nx, y, ny, out, NULL, &e, &err);
        (void)jb_stats_sie_oscar(x, nx, y, ny, out, out, &e, &err);
        (void)jb_stats_ratio(x, y, nx, &d, &err);
        char s[128];
        jb_stats_sentence(s, sizeof s, "b", "a", "used", "energy", &r, x[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_matches_scipy),
        cmocka_unit_test(test_tukey_mask_matches_reference),
        cmocka_unit_test(test_shapiro_exact_cases),
        cmocka_unit_test(test_compare_matches_scipy),
        cmocka_unit_test(test_mwu_forced_methods_match_scipy),
        cmocka_unit_test(test_holm_matches_reference),
        cmocka_unit_test(test_t_quantile_matches_scipy),
        cmocka_unit_test(test_software_induced_energy),
        cmocka_unit_test(test_efficiency_ratio),
        cmocka_unit_test(test_mwu_exact_matches_enumeration),
        cmocka_unit_test(test_mwu_auto_rule),
        cmocka_unit_test(test_hedges_correction_close_to_approximation),
        cmocka_unit_test(test_fieller_close_to_delta_method_for_precise_means),
        cmocka_unit_test(test_edge_small_n),
        cmocka_unit_test(test_edge_constant_data),
        cmocka_unit_test(test_edge_nan_and_inf_rejected),
        cmocka_unit_test(test_shapiro_limits),
        cmocka_unit_test(test_p_formatting),
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_sentence_from_real_comparison),
        cmocka_unit_test(test_garbage_input_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
