/*
 * stats.c — implementation of stats.h: descriptive statistics, Shapiro–Wilk
 * (Royston's AS R94), Welch's t, Mann–Whitney U (exact and asymptotic),
 * effect sizes, Fieller's CI for a relative difference, Holm, software-induced
 * energy with propagated uncertainty, and the report's plain sentences.
 *
 * The analysis calls these on the per-run values it has read from the store;
 * nothing here knows about runs or channels. Reference values computed with
 * scipy live in tests/fixtures/stats/reference.h (tools/make_stats_fixtures.py).
 */
#include "stats.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- input checks and small helpers ------------------------------------ */

static int check_values(const char *what, const double *x, size_t n, size_t min_n, jb_err *err)
{
    if (!x && n > 0) return jb_errf(err, "stats: %s: no values given (NULL array)", what);
    if (n < min_n)
        return jb_errf(err, "stats: %s needs at least %zu values, got %zu; collect more runs", what,
                       min_n, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return jb_errf(err,
                           "stats: %s: value %zu of %zu is %s; repair or exclude that run "
                           "before computing statistics",
                           what, i + 1, n, isnan(x[i]) ? "NaN" : "infinite");
    return 0;
}

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n;
    /* One correction pass keeps the mean exact to rounding for large offsets. */
    double c = 0;
    for (size_t i = 0; i < n; i++)
        c += x[i] - m;
    return m + c / (double)n;
}

/* Sample variance (divisor n−1), two-pass; NaN when n < 2. */
static double var_of(const double *x, size_t n)
{
    if (n < 2) return NAN;
    double m = mean_of(x, n), ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return ss / (double)(n - 1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, size_t n, jb_err *err)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) {
        jb_errf(err, "stats: out of memory sorting %zu values", n);
        return NULL;
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

static double quantile_sorted(const double *s, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return s[n - 1];
    return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

double jb_stats_t_quantile(double p, double df)
{
    if (isnan(df) || df <= 0 || isnan(p)) return NAN;
    if (isinf(df) || df > 1e7) return gsl_cdf_ugaussian_Pinv(p);
    return gsl_cdf_tdist_Pinv(p, df);
}

/* Two-sided p of a t statistic. */
static double t_two_sided(double t, double df)
{
    if (isnan(t) || isnan(df) || df <= 0) return NAN;
    double q =
        (isinf(df) || df > 1e7) ? gsl_cdf_ugaussian_Q(fabs(t)) : gsl_cdf_tdist_Q(fabs(t), df);
    return fmin(1.0, 2 * q);
}

/* Welch–Satterthwaite df of va + vb (variances of means from samples of na, nb). */
static double welch_df(double va, size_t na, double vb, size_t nb)
{
    double den = va * va / (double)(na - 1) + vb * vb / (double)(nb - 1);
    if (den == 0) return INFINITY;
    return (va + vb) * (va + vb) / den;
}

static void fill_estimate(jb_estimate *e, double value, double va, size_t na, double vb, size_t nb)
{
    e->value = value;
    e->se = sqrt(va + vb);
    e->df = (na >= 2 && nb >= 2) ? welch_df(va, na, vb, nb) : NAN;
    double t = jb_stats_t_quantile(0.5 + JB_STATS_CONF / 2, e->df);
    e->ci_lo = value - t * e->se;
    e->ci_hi = value + t * e->se;
}

/* ---- descriptive -------------------------------------------------------- */

int jb_stats_quantile(const double *x, size_t n, double p, double *out, jb_err *err)
{
    if (check_values("quantile", x, n, 1, err)) return -1;
    if (!(p >= 0 && p <= 1))
        return jb_errf(err, "stats: quantile level %g is outside [0, 1]; give a fraction", p);
    double *s = sorted_copy(x, n, err);
    if (!s) return -1;
    *out = quantile_sorted(s, n, p);
    free(s);
    return 0;
}

static void flag_outliers(const double *x, size_t n, double lo, double hi, unsigned char *mask,
                          size_t *count)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        int out = x[i] < lo || x[i] > hi;
        if (mask) mask[i] = (unsigned char)out;
        c += (size_t)out;
    }
    if (count) *count = c;
}

int jb_stats_tukey(const double *x, size_t n, unsigned char *mask, size_t *count, jb_err *err)
{
    jb_desc d;
    if (jb_stats_describe(x, n, &d, err)) return -1;
    flag_outliers(x, n, d.lo_fence, d.hi_fence, mask, count);
    return 0;
}

int jb_stats_describe(const double *x, size_t n, jb_desc *out, jb_err *err)
{
    if (check_values("describe", x, n, 1, err)) return -1;
    double *s = sorted_copy(x, n, err);
    if (!s) return -1;
    jb_desc d = {.n = n};
    d.mean = mean_of(x, n);
    d.sd = sqrt(var_of(x, n));
    d.se = d.sd / sqrt((double)n);
    double t = n >= 2 ? jb_stats_t_quantile(0.5 + JB_STATS_CONF / 2, (double)(n - 1)) : NAN;
    d.ci_lo = d.mean - t * d.se;
    d.ci_hi = d.mean + t * d.se;
    d.min = s[0];
    d.max = s[n - 1];
    d.range = d.max - d.min;
    d.median = quantile_sorted(s, n, 0.5);
    d.q1 = quantile_sorted(s, n, 0.25);
    d.q3 = quantile_sorted(s, n, 0.75);
    d.iqr = d.q3 - d.q1;
    d.cv = d.mean != 0 ? d.sd / fabs(d.mean) : NAN;
    d.lo_fence = d.q1 - 1.5 * d.iqr;
    d.hi_fence = d.q3 + 1.5 * d.iqr;
    flag_outliers(x, n, d.lo_fence, d.hi_fence, NULL, &d.n_outliers);
    d.sw_w = d.sw_p = NAN;
    if (n >= 3 && n <= 5000 && d.range > 0) {
        jb_err ignored;
        if (jb_stats_shapiro(x, n, &d.sw_w, &d.sw_p, &ignored)) d.sw_w = d.sw_p = NAN;
    }
    free(s);
    *out = d;
    return 0;
}

int jb_stats_ratio(const double *num, const double *den, size_t n, jb_desc *out, jb_err *err)
{
    if (check_values("ratio (numerator)", num, n, 1, err)) return -1;
    if (check_values("ratio (denominator)", den, n, 1, err)) return -1;
    double *r = malloc(n * sizeof *r);
    if (!r) return jb_errf(err, "stats: out of memory for %zu ratios", n);
    for (size_t i = 0; i < n; i++) {
        if (den[i] <= 0) {
            free(r);
            return jb_errf(err,
                           "stats: ratio: run %zu has a denominator of %g (energy <= 0), so a "
                           "metric per Wh is undefined; use gross energy or exclude that run",
                           i + 1, den[i]);
        }
        r[i] = num[i] / den[i];
    }
    int rc = jb_stats_describe(r, n, out, err);
    free(r);
    return rc;
}

/* ---- Shapiro–Wilk: Royston (1995), Applied Statistics algorithm AS R94 ---- */

/* Polynomial c[0] + c[1]x + ... + c[nord-1]x^(nord-1) (AS 181.2 "poly"). */
static double poly(const double *c, int nord, double x)
{
    double r = c[0];
    if (nord > 1) {
        double p = x * c[nord - 1];
        for (int j = nord - 2; j > 0; j--)
            p = (p + c[j]) * x;
        r += p;
    }
    return r;
}

/* The coefficients a[1..n/2] (a[0] unused) of AS R94. */
static void swilk_coefficients(size_t n, double *a)
{
    static const double c1[6] = {0., .221157, -.147981, -2.07119, 4.434685, -2.706056};
    static const double c2[6] = {0., .042981, -.293762, -1.752461, 5.682633, -3.582633};
    size_t nn2 = n / 2;
    if (n == 3) {
        a[1] = M_SQRT1_2;
        return;
    }
    double an = (double)n, an25 = an + .25, summ2 = 0;
    for (size_t i = 1; i <= nn2; i++) {
        a[i] = gsl_cdf_ugaussian_Pinv(((double)i - .375) / an25);
        summ2 += a[i] * a[i];
    }
    summ2 *= 2;
    double ssumm2 = sqrt(summ2), rsn = 1. / sqrt(an);
    double a1 = poly(c1, 6, rsn) - a[1] / ssumm2, fac;
    size_t i1;
    if (n > 5) {
        i1 = 3;
        double a2 = -a[2] / ssumm2 + poly(c2, 6, rsn);
        fac = sqrt((summ2 - 2. * a[1] * a[1] - 2. * a[2] * a[2]) /
                   (1. - 2. * a1 * a1 - 2. * a2 * a2));
        a[2] = a2;
    } else {
        i1 = 2;
        fac = sqrt((summ2 - 2. * a[1] * a[1]) / (1. - 2. * a1 * a1));
    }
    a[1] = a1;
    for (size_t i = i1; i <= nn2; i++)
        a[i] /= -fac;
}

/* Coefficient of the i-th smallest value (0-based): −a, 0 in the middle, +a. */
static double swilk_coef(const double *a, size_t n, size_t i)
{
    size_t j = n - 1 - i;
    if (i == j) return 0;
    return i < j ? -a[1 + i] : a[1 + j];
}

/* p value of W (w1 = 1 − W) for n ≥ 4, Royston's normalising transforms. */
static double swilk_p(size_t n, double w1)
{
    static const double g[2] = {-2.273, .459};
    static const double c3[4] = {.544, -.39978, .025054, -6.714e-4};
    static const double c4[4] = {1.3822, -.77857, .062767, -.0020322};
    static const double c5[4] = {-1.5861, -.31082, -.083751, .0038915};
    static const double c6[3] = {-.4803, -.082676, .0030302};
    double an = (double)n, y = log(w1), m, s;
    if (n <= 11) {
        double gamma = poly(g, 2, an);
        if (y >= gamma) return 1e-99; /* W far below anything plausible */
        y = -log(gamma - y);
        m = poly(c3, 4, an);
        s = exp(poly(c4, 4, an));
    } else {
        double xx = log(an);
        m = poly(c5, 4, xx);
        s = exp(poly(c6, 3, xx));
    }
    return gsl_cdf_gaussian_Q(y - m, s);
}

int jb_stats_shapiro(const double *x, size_t n, double *w, double *p, jb_err *err)
{
    if (check_values("Shapiro-Wilk", x, n, 3, err)) return -1;
    if (n > 5000)
        return jb_errf(err,
                       "stats: Shapiro-Wilk is valid for n <= 5000, got %zu; test a "
                       "random subsample or judge normality from a Q-Q plot",
                       n);
    double *s = sorted_copy(x, n, err);
    if (!s) return -1;
    double range = s[n - 1] - s[0];
    if (!(range > 0)) {
        free(s);
        return jb_errf(err,
                       "stats: Shapiro-Wilk: all %zu values are equal, so normality "
                       "cannot be tested (W undefined)",
                       n);
    }
    double *a = malloc((n / 2 + 1) * sizeof *a);
    if (!a) {
        free(s);
        return jb_errf(err, "stats: out of memory for Shapiro-Wilk coefficients");
    }
    swilk_coefficients(n, a);
    /* W as the squared correlation of the scaled data with the coefficients. */
    /* Centring on a middle value (as scipy does) changes nothing but rounding. */
    double sa = 0, sx = 0, med = s[n / 2];
    for (size_t i = 0; i < n; i++) {
        sa += swilk_coef(a, n, i);
        sx += (s[i] - med) / range;
    }
    sa /= (double)n;
    sx /= (double)n;
    double ssa = 0, ssx = 0, sax = 0;
    for (size_t i = 0; i < n; i++) {
        double asa = swilk_coef(a, n, i) - sa, xsx = (s[i] - med) / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    free(a);
    free(s);
    /* w1 = 1 − W, computed so that W close to 1 keeps its precision. */
    double ssassx = sqrt(ssa * ssx);
    double w1 = fmax(0., (ssassx - sax) * (ssassx + sax) / (ssa * ssx)); /* ≥ 0 despite rounding */
    *w = 1. - w1;
    if (n == 3) { /* exact: p = 6/π (asin √W − π/3) */
        *p = fmax(0., 1.90985931710274 * (asin(sqrt(*w)) - 1.04719755119660));
        return 0;
    }
    *p = swilk_p(n, w1);
    return 0;
}

/* ---- Welch, effect sizes, relative difference --------------------------- */

int jb_stats_welch(const double *x, size_t nx, const double *y, size_t ny, jb_welch *out,
                   jb_err *err)
{
    if (check_values("Welch t-test (first group)", x, nx, 2, err)) return -1;
    if (check_values("Welch t-test (second group)", y, ny, 2, err)) return -1;
    double vx = var_of(x, nx) / (double)nx, vy = var_of(y, ny) / (double)ny;
    if (vx + vy == 0)
        return jb_errf(err, "stats: Welch t-test: both groups are constant (SD 0), so t is "
                            "undefined; compare the values directly");
    out->diff = mean_of(x, nx) - mean_of(y, ny);
    out->se = sqrt(vx + vy);
    out->t = out->diff / out->se;
    out->df = welch_df(vx, nx, vy, ny);
    out->p = t_two_sided(out->t, out->df);
    return 0;
}

int jb_stats_cohen(const double *x, size_t nx, const double *y, size_t ny, double *d, double *g,
                   jb_err *err)
{
    if (check_values("Cohen's d (first group)", x, nx, 2, err)) return -1;
    if (check_values("Cohen's d (second group)", y, ny, 2, err)) return -1;
    double df = (double)(nx + ny - 2);
    double pooled = ((double)(nx - 1) * var_of(x, nx) + (double)(ny - 1) * var_of(y, ny)) / df;
    if (pooled == 0)
        return jb_errf(err, "stats: Cohen's d: both groups are constant (pooled SD 0), so the "
                            "effect size is undefined");
    double dd = (mean_of(x, nx) - mean_of(y, ny)) / sqrt(pooled);
    double j = exp(lgamma(df / 2) - 0.5 * log(df / 2) - lgamma((df - 1) / 2));
    if (d) *d = dd;
    if (g) *g = dd * j;
    return 0;
}

/* Average ranks (1-based, ties get their mean rank) of v[0..n-1]; returns
 * Σ(t³ − t) over tie groups in *tie_term. */
typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    return cmp_double(&((const ranked *)a)->v, &((const ranked *)b)->v);
}

static int rank_pooled(const double *x, size_t nx, const double *y, size_t ny, double *rank,
                       double *tie_term, jb_err *err)
{
    size_t n = nx + ny;
    ranked *r = malloc(n * sizeof *r);
    if (!r) return jb_errf(err, "stats: out of memory ranking %zu values", n);
    for (size_t i = 0; i < n; i++)
        r[i] = (ranked){i < nx ? x[i] : y[i - nx], i};
    qsort(r, n, sizeof *r, cmp_ranked);
    double tt = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v)
            j++;
        double avg = (double)(i + j) / 2 + 1, t = (double)(j - i + 1);
        for (size_t k = i; k <= j; k++)
            rank[r[k].i] = avg;
        tt += t * t * t - t;
        i = j + 1;
    }
    free(r);
    *tie_term = tt;
    return 0;
}

/* U of x (pairs x > y, ties ½) and the tie term of the pooled sample. */
static int u_statistic(const double *x, size_t nx, const double *y, size_t ny, double *u,
                       double *tie_term, jb_err *err)
{
    double *rank = malloc((nx + ny) * sizeof *rank);
    if (!rank) return jb_errf(err, "stats: out of memory ranking %zu values", nx + ny);
    if (rank_pooled(x, nx, y, ny, rank, tie_term, err)) {
        free(rank);
        return -1;
    }
    double r1 = 0;
    for (size_t i = 0; i < nx; i++)
        r1 += rank[i];
    free(rank);
    *u = r1 - (double)nx * (double)(nx + 1) / 2;
    return 0;
}

int jb_stats_cliff(const double *x, size_t nx, const double *y, size_t ny, double *delta,
                   jb_err *err)
{
    if (check_values("Cliff's delta (first group)", x, nx, 1, err)) return -1;
    if (check_values("Cliff's delta (second group)", y, ny, 1, err)) return -1;
    double u, tt;
    if (u_statistic(x, nx, y, ny, &u, &tt, err)) return -1;
    *delta = 2 * u / ((double)nx * (double)ny) - 1;
    return 0;
}

int jb_stats_reldiff(const double *a, size_t na, const double *b, size_t nb, jb_reldiff *out,
                     jb_err *err)
{
    if (check_values("relative difference (reference group)", a, na, 2, err)) return -1;
    if (check_values("relative difference (compared group)", b, nb, 2, err)) return -1;
    double ma = mean_of(a, na), mb = mean_of(b, nb);
    if (ma == 0)
        return jb_errf(err, "stats: relative difference: the reference group's mean is 0, so "
                            "a difference in %% is undefined; report the absolute difference");
    double qa = var_of(a, na) / (double)na, qb = var_of(b, nb) / (double)nb;
    double r = mb / ma;
    out->ratio = r;
    out->pct = 100 * (r - 1);
    out->df = welch_df(r * r * qa, na, qb, nb);
    double t = jb_stats_t_quantile(0.5 + JB_STATS_CONF / 2, out->df);
    /* Fieller: the R with (mb − R·ma)² ≤ t²(qb + R²qa). */
    double den = ma * ma - t * t * qa;
    out->bounded = den > 0;
    out->lo_pct = out->hi_pct = NAN;
    if (out->bounded) {
        double disc = ma * ma * qb + mb * mb * qa - t * t * qa * qb;
        double half = t * sqrt(fmax(0, disc));
        out->lo_pct = 100 * ((ma * mb - half) / den - 1);
        out->hi_pct = 100 * ((ma * mb + half) / den - 1);
    }
    return 0;
}

/* ---- Mann–Whitney U ----------------------------------------------------- */

/* P(U ≤ k) under H0 for sample sizes m, n without ties: the coefficients of
 * the Gaussian binomial [m+n choose m]_q = Π (1 − q^(n+i)) / (1 − q^i), i=1..m,
 * truncated at q^k (each coefficient only depends on lower ones, so the tail
 * counts are exact integers), divided by C(m+n, m). */
static int mwu_exact_cdf(size_t m, size_t n, size_t k, double *cdf, jb_err *err)
{
    if (m > n) {
        size_t t = m;
        m = n;
        n = t;
    }
    double *c = calloc(k + 1, sizeof *c);
    if (!c) return jb_errf(err, "stats: out of memory for the exact U distribution (%zu)", k);
    c[0] = 1;
    for (size_t i = 1; i <= m; i++) {
        for (size_t j = k; j >= n + i && k >= n + i; j--) { /* × (1 − q^(n+i)), downwards */
            c[j] -= c[j - n - i];
            if (j == n + i) break;
        }
        for (size_t j = i; j <= k; j++)
            c[j] += c[j - i]; /* ÷ (1 − q^i), upwards */
    }
    double sum = 0;
    for (size_t j = 0; j <= k; j++)
        sum += c[j];
    free(c);
    double lchoose =
        lgamma((double)(m + n + 1)) - lgamma((double)(m + 1)) - lgamma((double)(n + 1));
    *cdf = sum * exp(-lchoose);
    return 0;
}

const char *jb_stats_mwu_method_name(const jb_mwu *m)
{
    return m->exact ? "exact" : "normal approximation (tie- and continuity-corrected)";
}

#define MWU_EXACT_MAX_CELLS 4000000.0 /* mn/2 cap: 32 MB table; AUTO falls back above */

int jb_stats_mannwhitney(const double *x, size_t nx, const double *y, size_t ny,
                         jb_mwu_method method, jb_mwu *out, jb_err *err)
{
    if (check_values("Mann-Whitney U (first group)", x, nx, 1, err)) return -1;
    if (check_values("Mann-Whitney U (second group)", y, ny, 1, err)) return -1;
    double u1, tt;
    if (u_statistic(x, nx, y, ny, &u1, &tt, err)) return -1;
    double mn = (double)nx * (double)ny, n = (double)(nx + ny);
    double umax = fmax(u1, mn - u1);
    out->u = u1;
    out->ties = tt > 0;
    out->z = NAN;
    int exact = method == JB_MWU_EXACT || (method == JB_MWU_AUTO && !out->ties &&
                                           (nx <= 8 || ny <= 8) && mn / 2 < MWU_EXACT_MAX_CELLS);
    if (exact && mn / 2 >= MWU_EXACT_MAX_CELLS)
        return jb_errf(err,
                       "stats: Mann-Whitney U: the exact distribution for %zu x %zu values is "
                       "too large to tabulate; use the normal approximation",
                       nx, ny);
    if (exact && out->ties)
        return jb_errf(err, "stats: Mann-Whitney U: the exact distribution assumes no ties, but "
                            "the data have ties; use the normal approximation");
    out->exact = exact;
    if (exact) {
        double cdf = NAN;
        if (mwu_exact_cdf(nx, ny, (size_t)llround(mn - umax), &cdf, err)) return -1;
        out->p = fmin(1.0, 2 * cdf);
        return 0;
    }
    double s = sqrt(mn / 12 * ((n + 1) - tt / (n * (n - 1))));
    double num = umax - mn / 2 - 0.5;
    if (s == 0) { /* every value equal: no evidence of any difference */
        out->p = 1;
        return 0;
    }
    out->z = num / s;
    out->p = fmin(1.0, 2 * gsl_cdf_ugaussian_Q(out->z));
    return 0;
}

/* ---- Holm ---------------------------------------------------------------- */

typedef struct {
    double p;
    size_t i;
} indexed_p;

static int cmp_indexed_p(const void *a, const void *b)
{
    const indexed_p *x = a, *y = b;
    if (x->p != y->p) return cmp_double(&x->p, &y->p);
    return (x->i > y->i) - (x->i < y->i);
}

int jb_stats_holm(const double *p, size_t m, double *adj, jb_err *err)
{
    if (m == 0) return 0;
    if (check_values("Holm adjustment", p, m, 1, err)) return -1;
    for (size_t i = 0; i < m; i++)
        if (p[i] < 0 || p[i] > 1)
            return jb_errf(err, "stats: Holm adjustment: p value %zu is %g, outside [0, 1]", i + 1,
                           p[i]);
    indexed_p *s = malloc(m * sizeof *s);
    if (!s) return jb_errf(err, "stats: out of memory adjusting %zu p values", m);
    for (size_t i = 0; i < m; i++)
        s[i] = (indexed_p){p[i], i};
    qsort(s, m, sizeof *s, cmp_indexed_p);
    double running = 0;
    for (size_t j = 0; j < m; j++) {
        running = fmax(running, fmin(1.0, (double)(m - j) * s[j].p));
        adj[s[j].i] = running;
    }
    free(s);
    return 0;
}

/* ---- software-induced energy -------------------------------------------- */

int jb_stats_sie_power(const double *e_run, const double *t_run, size_t n, const double *p_base,
                       size_t nb, double *per_run, double *per_run_se, jb_estimate *mean,
                       jb_err *err)
{
    if (check_values("software-induced energy (run energies)", e_run, n, 1, err)) return -1;
    if (check_values("software-induced energy (run durations)", t_run, n, 1, err)) return -1;
    if (check_values("software-induced energy (baseline powers)", p_base, nb, 1, err)) return -1;
    double *s = calloc(n, sizeof *s);
    if (!s) return jb_errf(err, "stats: out of memory for %zu runs", n);
    double pb = mean_of(p_base, nb), se_pb = sqrt(var_of(p_base, nb) / (double)nb);
    for (size_t i = 0; i < n; i++) {
        s[i] = e_run[i] - pb * t_run[i];
        if (per_run) per_run[i] = s[i];
        if (per_run_se) per_run_se[i] = t_run[i] * se_pb;
    }
    if (mean) {
        double tbar = mean_of(t_run, n);
        fill_estimate(mean, mean_of(s, n), var_of(s, n) / (double)n, n, tbar * tbar * se_pb * se_pb,
                      nb);
    }
    free(s);
    return 0;
}

int jb_stats_sie_oscar(const double *e_run, size_t n, const double *e_base, size_t nb,
                       double *per_run, double *per_run_se, jb_estimate *mean, jb_err *err)
{
    if (check_values("software-induced energy (run energies)", e_run, n, 1, err)) return -1;
    if (check_values("software-induced energy (baseline energies)", e_base, nb, 1, err)) return -1;
    double eb = mean_of(e_base, nb), vb = var_of(e_base, nb) / (double)nb;
    for (size_t i = 0; i < n; i++) {
        if (per_run) per_run[i] = e_run[i] - eb;
        if (per_run_se) per_run_se[i] = sqrt(vb);
    }
    if (mean) fill_estimate(mean, mean_of(e_run, n) - eb, var_of(e_run, n) / (double)n, n, vb, nb);
    return 0;
}

/* ---- comparison and sentences ------------------------------------------- */

static void add_note(jb_compare *c, const jb_err *e)
{
    size_t len = strlen(c->note), cap = sizeof c->note;
    if (len && len + 2 < cap) {
        memcpy(c->note + len, "; ", 2);
        len += 2;
    }
    size_t add = strlen(e->msg);
    if (add > cap - 1 - len) add = cap - 1 - len; /* truncate, never overflow */
    memcpy(c->note + len, e->msg, add);
    c->note[len + add] = 0;
}

int jb_stats_compare(const double *a, size_t na, const double *b, size_t nb, jb_compare *out,
                     jb_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_values("comparison (reference group)", a, na, 2, err)) return -1;
    if (check_values("comparison (compared group)", b, nb, 2, err)) return -1;
    if (jb_stats_describe(a, na, &out->a, err) || jb_stats_describe(b, nb, &out->b, err)) return -1;
    jb_err e;
    out->welch = (jb_welch){NAN, NAN, NAN, NAN, NAN};
    out->cohen_d = out->hedges_g = out->cliff_delta = NAN;
    out->rel = (jb_reldiff){NAN, NAN, NAN, NAN, NAN, 0};
    if (jb_stats_welch(b, nb, a, na, &out->welch, &e) == 0)
        out->have |= JB_CMP_WELCH;
    else
        add_note(out, &e);
    if (jb_stats_mannwhitney(b, nb, a, na, JB_MWU_AUTO, &out->mwu, &e) == 0)
        out->have |= JB_CMP_MWU;
    else
        add_note(out, &e);
    if (jb_stats_cohen(b, nb, a, na, &out->cohen_d, &out->hedges_g, &e) == 0)
        out->have |= JB_CMP_COHEN;
    else
        add_note(out, &e);
    if (jb_stats_cliff(b, nb, a, na, &out->cliff_delta, &e) == 0)
        out->have |= JB_CMP_CLIFF;
    else
        add_note(out, &e);
    if (jb_stats_reldiff(a, na, b, nb, &out->rel, &e) == 0)
        out->have |= JB_CMP_RELDIFF;
    else
        add_note(out, &e);
    return 0;
}

void jb_stats_fmt_p(char *out, size_t cap, double p)
{
    if (isnan(p))
        snprintf(out, cap, "p = n/a");
    else if (p < 0.001)
        snprintf(out, cap, "p < 0.001");
    else
        snprintf(out, cap, "p = %.3f", p);
}

/* A percentage as people write it: whole numbers from 10 up, one decimal below. */
static void fmt_pct(char *out, size_t cap, double v)
{
    if (fabs(v) >= 1e6)
        snprintf(out, cap, "%.3g", v);
    else if (fabs(v) >= 9.95)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.1f", v);
}

/* "(95 % CI 57–65 %)" in the direction of the estimate (sign > 0: more, < 0: less). */
static void fmt_ci(char *out, size_t cap, const jb_reldiff *r, int sign)
{
    char lo[32], hi[32];
    if (!r->bounded || isnan(r->lo_pct)) {
        snprintf(out, cap, "95 %% CI unbounded");
        return;
    }
    if (sign != 0 && r->lo_pct * sign > 0 && r->hi_pct * sign > 0) {
        double a = fabs(r->lo_pct), b = fabs(r->hi_pct);
        fmt_pct(lo, sizeof lo, fmin(a, b));
        fmt_pct(hi, sizeof hi, fmax(a, b));
        snprintf(out, cap, "95 %% CI %s\u2013%s %%", lo, hi);
        return;
    }
    /* The interval includes no difference: spell out both ends. */
    fmt_pct(lo, sizeof lo, fabs(r->lo_pct));
    fmt_pct(hi, sizeof hi, fabs(r->hi_pct));
    snprintf(out, cap, "95 %% CI %s %% %s to %s %% %s", lo, r->lo_pct < 0 ? "less" : "more", hi,
             r->hi_pct < 0 ? "less" : "more");
}

void jb_stats_sentence(char *out, size_t cap, const char *name_b, const char *name_a,
                       const char *verb, const char *quantity, const jb_reldiff *rel, double p)
{
    char ps[32], ci[96];
    jb_stats_fmt_p(ps, sizeof ps, p);
    if (!rel || isnan(rel->pct)) {
        snprintf(out, cap, "%s and %s: no relative difference of %s can be given, %s", name_b,
                 name_a, quantity, ps);
        return;
    }
    char rounded[32];
    fmt_pct(rounded, sizeof rounded, fabs(rel->pct));
    int sign = rel->pct > 0 ? 1 : rel->pct < 0 ? -1 : 0;
    if (strtod(rounded, NULL) == 0) sign = 0;
    fmt_ci(ci, sizeof ci, rel, sign);
    if (sign == 0) {
        snprintf(out, cap, "%s %s as much %s as %s (%s), %s", name_b, verb, quantity, name_a, ci,
                 ps);
        return;
    }
    snprintf(out, cap, "%s %s %s %% %s %s than %s (%s), %s", name_b, verb, rounded,
             sign < 0 ? "less" : "more", quantity, name_a, ci, ps);
}
