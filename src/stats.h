/*
 * stats.h — the statistics the analysis and the reports use: descriptive
 * statistics per group, Shapiro–Wilk, two-group comparisons (Welch, Mann–
 * Whitney, effect sizes, relative difference with a CI), Holm adjustment,
 * software-induced energy with its propagated uncertainty, efficiency ratios,
 * and the plain sentences of the report.
 *
 * Pure functions on double arrays: no I/O, no global state. Distributions
 * come from GSL. Every function that can fail returns -1 and fills a jb_err
 * (NaN or infinite input, too few values); 0 on success. Results that are
 * undefined for valid input (the SD of one value, Shapiro–Wilk of constant
 * data) are NaN, never made up. Confidence intervals are two-sided 95 %.
 *
 * Reference values: tests/fixtures/stats/reference.h, computed with scipy by
 * tools/make_stats_fixtures.py (see the note at the top of that file).
 */
#ifndef JB_STATS_H
#define JB_STATS_H

#include "jb.h"

#include <stddef.h>

#define JB_STATS_CONF 0.95 /* confidence level of every interval */

/* Descriptive statistics of one group (one variant × phase × quantity). */
typedef struct jb_desc {
    size_t n;
    double mean;
    double sd;           /* sample SD, divisor n−1; NaN when n < 2 */
    double se;           /* sd / √n */
    double ci_lo, ci_hi; /* mean ± t(0.975, n−1)·se; NaN when n < 2 */
    double median, min, max, range;
    double q1, q3, iqr;        /* quantiles of type 7 (R's default, numpy's "linear") */
    double cv;                 /* sd / |mean| as a fraction (not %); NaN when mean is 0 */
    double sw_w, sw_p;         /* Shapiro–Wilk; NaN when n < 3, n > 5000 or all values equal */
    double lo_fence, hi_fence; /* Tukey fences q1 − 1.5·iqr, q3 + 1.5·iqr */
    size_t n_outliers;         /* values strictly outside the fences */
} jb_desc;

/* Fill out with the descriptive statistics of x[0..n-1] (n ≥ 1, all finite).
 * x is not modified. */
int jb_stats_describe(const double *x, size_t n, jb_desc *out, jb_err *err);

/* The p-quantile (0 ≤ p ≤ 1) of x[0..n-1], type 7 / numpy "linear":
 * h = (n−1)p, q = x(⌊h⌋) + (h−⌊h⌋)(x(⌊h⌋+1) − x(⌊h⌋)) on the sorted values. */
int jb_stats_quantile(const double *x, size_t n, double p, double *out, jb_err *err);

/* Tukey's rule: mask[i] = 1 where x[i] lies strictly outside
 * [q1 − 1.5·IQR, q3 + 1.5·IQR], else 0. Outliers are flagged, never removed.
 * *count (may be NULL) receives the number flagged. */
int jb_stats_tukey(const double *x, size_t n, unsigned char *mask, size_t *count, jb_err *err);

/* Shapiro–Wilk W and its p value, Royston (1995) algorithm AS R94 (as in R's
 * shapiro.test and scipy.stats.shapiro); 3 ≤ n ≤ 5000, values not all equal. */
int jb_stats_shapiro(const double *x, size_t n, double *w, double *p, jb_err *err);

/* The p-quantile of Student's t with df degrees of freedom (df > 0; df = inf
 * gives the normal quantile). */
double jb_stats_t_quantile(double p, double df);

/* Welch's unequal-variance t-test of x against y (scipy's ttest_ind(x, y,
 * equal_var=False)): t = (mean x − mean y) / se, Welch–Satterthwaite df,
 * two-sided p. Needs nx, ny ≥ 2 and not both groups constant. */
typedef struct jb_welch {
    double diff; /* mean x − mean y */
    double se;   /* √(sx²/nx + sy²/ny) */
    double t, df, p;
} jb_welch;
int jb_stats_welch(const double *x, size_t nx, const double *y, size_t ny, jb_welch *out,
                   jb_err *err);

/* Mann–Whitney U test, two-sided, as scipy.stats.mannwhitneyu(x, y).
 * AUTO follows scipy's rule: exact null distribution when there are no ties
 * and min(nx, ny) ≤ 8, normal approximation with tie and continuity
 * correction otherwise (scipy 1.10's rule; checked in its source). The exact
 * table has nx·ny/2 + 1 entries: above 4 million AUTO uses the approximation
 * and EXACT is refused, as it is when there are ties. */
typedef enum { JB_MWU_AUTO = 0, JB_MWU_EXACT, JB_MWU_ASYMPTOTIC } jb_mwu_method;
typedef struct jb_mwu {
    double u;  /* U of x: pairs with x > y, ties counting ½ */
    double p;  /* two-sided */
    double z;  /* standardised statistic (asymptotic only, else NaN) */
    int exact; /* 1 when the exact distribution was used */
    int ties;  /* 1 when the pooled sample has ties */
} jb_mwu;
int jb_stats_mannwhitney(const double *x, size_t nx, const double *y, size_t ny,
                         jb_mwu_method method, jb_mwu *out, jb_err *err);

/* "exact" or "normal approximation (tie- and continuity-corrected)". */
const char *jb_stats_mwu_method_name(const jb_mwu *m);

/* Cohen's d = (mean x − mean y) / pooled SD (pooled with n−1 weights) and
 * Hedges' g = d · J(df), J(df) = Γ(df/2) / (√(df/2) Γ((df−1)/2)), df = nx+ny−2
 * (the exact small-sample correction). Either output may be NULL. */
int jb_stats_cohen(const double *x, size_t nx, const double *y, size_t ny, double *d, double *g,
                   jb_err *err);

/* Cliff's delta = (#(x > y) − #(x < y)) / (nx·ny), in [−1, 1]. */
int jb_stats_cliff(const double *x, size_t nx, const double *y, size_t ny, double *delta,
                   jb_err *err);

/* Relative difference of means, b against reference a: 100·(mean b / mean a − 1) %,
 * with a 95 % CI by Fieller's theorem for the ratio of two independent means
 * (the t quantile at the Welch–Satterthwaite df of mean b − R·mean a, evaluated
 * at R = mean b / mean a). When mean a is not clearly non-zero (t²·se_a² ≥
 * mean_a²) the interval is unbounded: bounded = 0 and lo/hi are NaN. */
typedef struct jb_reldiff {
    double ratio; /* mean b / mean a */
    double pct;   /* 100·(ratio − 1) */
    double lo_pct, hi_pct;
    double df;
    int bounded;
} jb_reldiff;
int jb_stats_reldiff(const double *a, size_t na, const double *b, size_t nb, jb_reldiff *out,
                     jb_err *err);

/* Holm's step-down adjustment of m p values (as R's p.adjust(p, "holm")):
 * sorted ascending, adj(i) = max over j ≤ i of min(1, (m − j + 1)·p(j)).
 * adj may be the same array as p. */
int jb_stats_holm(const double *p, size_t m, double *adj, jb_err *err);

/* An estimate with its standard error, df and 95 % CI (value ± t(df)·se). */
typedef struct jb_estimate {
    double value, se, df, ci_lo, ci_hi;
} jb_estimate;

/* Software-induced energy, power-based (the default; works when run lengths
 * differ): S_i = E_i − P̄_b·T_i, with E in J, T in s, P in W (or Wh, h, W).
 *   per_run[i] = S_i, per_run_se[i] = T_i · s_Pb/√nb  (baseline uncertainty)
 *   mean: S̄ with se² = s_S²/n + T̄²·s_Pb²/nb (run-to-run scatter plus the
 *         shared baseline mean, delta method), Welch–Satterthwaite df.
 * Terms that need n ≥ 2 or nb ≥ 2 are NaN otherwise. per_run, per_run_se and
 * mean may each be NULL. Negative values are returned as they are. */
int jb_stats_sie_power(const double *e_run, const double *t_run, size_t n, const double *p_base,
                       size_t nb, double *per_run, double *per_run_se, jb_estimate *mean,
                       jb_err *err);

/* Software-induced energy, OSCAR form (equal-length runs): S_i = E_i − Ē_b.
 *   per_run_se[i] = s_Eb/√nb; mean: S̄ = Ē − Ē_b with se² = s_E²/n + s_Eb²/nb,
 *   Welch–Satterthwaite df. */
int jb_stats_sie_oscar(const double *e_run, size_t n, const double *e_base, size_t nb,
                       double *per_run, double *per_run_se, jb_estimate *mean, jb_err *err);

/* Efficiency factor (metric per Wh): descriptive statistics (mean and t CI
 * included) of the per-run ratios num[i] / den[i]. Every den[i] must be > 0. */
int jb_stats_ratio(const double *num, const double *den, size_t n, jb_desc *out, jb_err *err);

/* Everything the report says about one pair of groups, b against reference a.
 * Signs: positive t, d, g, delta and pct mean b is larger than a.
 * A part that is undefined for these data (both groups constant, say) is NaN
 * and its bit in `have` is clear; `note` then says why. */
enum {
    JB_CMP_WELCH = 1,
    JB_CMP_MWU = 2,
    JB_CMP_COHEN = 4,
    JB_CMP_CLIFF = 8,
    JB_CMP_RELDIFF = 16,
};
typedef struct jb_compare {
    jb_desc a, b;
    jb_welch welch; /* of b against a */
    jb_mwu mwu;     /* u is the U of b */
    double cohen_d, hedges_g, cliff_delta;
    jb_reldiff rel;
    unsigned have;
    char note[512]; /* why a part is missing; "" when all are there */
} jb_compare;
int jb_stats_compare(const double *a, size_t na, const double *b, size_t nb, jb_compare *out,
                     jb_err *err);

/* Format a p value the way every report does: "p < 0.001", else "p = 0.042"
 * (three decimals); "p = n/a" for NaN. */
void jb_stats_fmt_p(char *out, size_t cap, double p);

/* One plain sentence comparing b against a, e.g.
 * "mobilenetv2-transfer used 61 % less energy than own-cnn (95 % CI 57–65 %), p < 0.001".
 * verb ("used") and quantity ("energy") are the caller's words; p is whichever
 * p value the caller reports (Welch, Holm-adjusted, ...). */
void jb_stats_sentence(char *out, size_t cap, const char *name_b, const char *name_a,
                       const char *verb, const char *quantity, const jb_reldiff *rel, double p);

#endif
