#!/usr/bin/python3
"""make_stats_fixtures.py — reference values for src/stats.c, computed with
Debian's scipy/numpy and written as the C header tests/fixtures/stats/reference.h
that tests/unit/test_stats.c compares against.

Run:  /usr/bin/python3 tools/make_stats_fixtures.py > tests/fixtures/stats/reference.h

Input vectors are drawn once from numpy's RandomState with fixed seeds and
written with full precision (repr), so C reads exactly the same doubles.
scipy gives: describe-type statistics, Shapiro-Wilk, Welch's t, Mann-Whitney
U (scipy's 'auto' rule, and forced 'exact'/'asymptotic'), t quantiles.
Formulas scipy has no function for (Hedges' g with the exact J, Cliff's delta,
Fieller's CI, Holm, software-induced energy) are computed here independently
of the C code, from their textbook definitions.
"""
import datetime
import sys

import numpy as np
import scipy
from scipy import special, stats

CONF = 0.95


def vectors():
    """Named input vectors: normal, skewed, ties, small n = 3..12, n = 30, 100, ..."""
    v = {}
    rs = np.random.RandomState(20241127)
    v["normal30"] = rs.normal(100.0, 5.0, 30)
    v["normal30b"] = rs.normal(92.0, 7.0, 30)
    v["normal100"] = rs.normal(3.1, 0.2, 100)
    v["lognormal30"] = rs.lognormal(1.0, 0.8, 30)
    v["exponential50"] = rs.exponential(2.0, 50)
    v["ties20"] = np.round(rs.normal(10.0, 2.0, 20))
    v["ties25"] = np.round(rs.normal(11.0, 2.0, 25))
    for n in range(3, 13):
        v["small%d" % n] = rs.normal(50.0, 10.0, n)
    v["small7b"] = rs.normal(60.0, 10.0, 7)
    v["outliers15"] = np.concatenate([rs.normal(10.0, 1.0, 13), [25.0, -4.0]])
    v["bigoffset30"] = 1e9 + rs.normal(0.0, 1.0, 30)
    v["normal1000"] = rs.normal(0.0, 1.0, 1000)
    v["uniform500"] = rs.uniform(0.0, 1.0, 500)
    v["separated6"] = np.arange(6, dtype=float) + 100.0
    v["separated8"] = np.arange(8, dtype=float) + 0.5
    v["mid12"] = rs.normal(0.0, 1.0, 12)
    v["mid15"] = rs.normal(0.5, 1.0, 15)
    v["mid20a"] = rs.normal(0.0, 1.0, 20)
    v["mid20b"] = rs.normal(0.8, 1.0, 20)
    v["tiny3"] = rs.normal(0.0, 1.0, 3)
    v["long40"] = rs.normal(0.3, 1.0, 40)
    return v


def tcrit(df):
    return stats.t.ppf(0.5 + CONF / 2, df)


def describe(x):
    n = len(x)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1))
    se = sd / np.sqrt(n)
    t = tcrit(n - 1)
    q1, med, q3 = (float(np.quantile(x, p)) for p in (0.25, 0.5, 0.75))  # numpy 'linear' = R type 7
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    mask = [int(xi < lo or xi > hi) for xi in x]
    sw = stats.shapiro(x) if n >= 3 else (float("nan"), float("nan"))
    return dict(n=n, mean=mean, sd=sd, se=se, ci_lo=mean - t * se, ci_hi=mean + t * se,
                median=med, min=float(np.min(x)), max=float(np.max(x)), q1=q1, q3=q3,
                cv=sd / abs(mean), sw_w=float(sw[0]), sw_p=float(sw[1]), mask=mask)


def hedges_j(df):
    return np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))


def fieller(a, b):
    """CI of mean(b)/mean(a) by Fieller, t at the Welch df of mean b - R mean a."""
    ma, mb = np.mean(a), np.mean(b)
    qa, qb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    r = mb / ma
    df = (qb + r * r * qa) ** 2 / (qb ** 2 / (len(b) - 1) + (r * r * qa) ** 2 / (len(a) - 1))
    t = tcrit(df)
    # roots of (ma^2 - t^2 qa) R^2 - 2 ma mb R + (mb^2 - t^2 qb) = 0
    A, B, C = ma * ma - t * t * qa, -2 * ma * mb, mb * mb - t * t * qb
    if A <= 0:
        return r, float("nan"), float("nan"), 0
    roots = np.sort(np.roots([A, B, C]).real)
    return r, 100 * (roots[0] - 1), 100 * (roots[1] - 1), 1


def compare(a, b):
    """b against reference a, signs as in jb_stats_compare."""
    w = stats.ttest_ind(b, a, equal_var=False)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    wdf = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    m = stats.mannwhitneyu(b, a, alternative="two-sided", method="auto")
    ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
    exact = int(not ties and (len(a) <= 8 or len(b) <= 8))
    df = len(a) + len(b) - 2
    sp = np.sqrt(((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / df)
    d = (np.mean(b) - np.mean(a)) / sp
    diffs = np.sign(np.subtract.outer(b, a))
    r, lo, hi, bounded = fieller(a, b)
    return dict(welch_t=w.statistic, welch_df=wdf, welch_p=w.pvalue, mwu_u=m.statistic,
                mwu_p=m.pvalue, mwu_exact=exact, cohen_d=d, hedges_g=d * hedges_j(df),
                cliff=diffs.mean(), rel_pct=100 * (r - 1), rel_lo=lo, rel_hi=hi,
                rel_bounded=bounded)


def holm(p):
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return out


def sie_power(e, t, pb):
    n, nb = len(e), len(pb)
    pbar = np.mean(pb)
    se_pb = np.std(pb, ddof=1) / np.sqrt(nb)
    s = e - pbar * t
    va = np.var(s, ddof=1) / n
    vb = np.mean(t) ** 2 * se_pb ** 2
    df = (va + vb) ** 2 / (va ** 2 / (n - 1) + vb ** 2 / (nb - 1))
    se = np.sqrt(va + vb)
    return s, t * se_pb, np.mean(s), se, df, np.mean(s) - tcrit(df) * se, np.mean(s) + tcrit(df) * se


def sie_oscar(e, eb):
    n, nb = len(e), len(eb)
    va, vb = np.var(e, ddof=1) / n, np.var(eb, ddof=1) / nb
    df = (va + vb) ** 2 / (va ** 2 / (n - 1) + vb ** 2 / (nb - 1))
    se = np.sqrt(va + vb)
    m = np.mean(e) - np.mean(eb)
    return m, se, df, m - tcrit(df) * se, m + tcrit(df) * se


def c(v):
    """A double as a C literal that reads back exactly."""
    v = float(v)
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(v)


def arr(name, xs, ctype="double"):
    body = ", ".join(c(x) if ctype == "double" else str(int(x)) for x in xs)
    return "static const %s %s[] = {%s};\n" % (ctype, name, body)


def main():
    out = sys.stdout.write
    out("/*\n * reference.h — GENERATED, do not edit. Reference values for tests/unit/test_stats.c.\n")
    out(" * Command: /usr/bin/python3 tools/make_stats_fixtures.py > tests/fixtures/stats/reference.h\n")
    out(" * scipy %s, numpy %s, Python %s, generated %s.\n" % (
        scipy.__version__, np.__version__, sys.version.split()[0],
        datetime.date.today().isoformat()))
    out(" * Comparisons are 'b against reference a': welch = ttest_ind(b, a, equal_var=False),\n")
    out(" * mwu = mannwhitneyu(b, a, method='auto') (U of b), d/g/cliff/rel positive when b > a.\n */\n")
    out("#ifndef JB_STATS_REFERENCE_H\n#define JB_STATS_REFERENCE_H\n#include <math.h>\n#include <stddef.h>\n\n")
    v = vectors()
    names = list(v)
    for k in names:
        out(arr("ref_x_" + k, v[k]))
        out(arr("ref_mask_" + k, describe(v[k])["mask"], "unsigned char"))
    out("\ntypedef struct {\n    const char *name;\n    size_t n;\n    const double *x;\n"
        "    const unsigned char *mask;\n"
        "    double mean, sd, se, ci_lo, ci_hi, median, min, max, q1, q3, cv, sw_w, sw_p;\n"
        "} ref_desc;\n\nstatic const ref_desc REF_DESC[] = {\n")
    for k in names:
        d = describe(v[k])
        out('    {"%s", %d, ref_x_%s, ref_mask_%s, %s},\n' % (
            k, d["n"], k, k, ", ".join(c(d[f]) for f in (
                "mean", "sd", "se", "ci_lo", "ci_hi", "median", "min", "max", "q1", "q3", "cv",
                "sw_w", "sw_p"))))
    out("};\n\n")

    pairs = [("normal30", "normal30b"), ("normal30b", "normal30"), ("normal30", "lognormal30"),
             ("ties20", "ties25"), ("small5", "small7b"), ("small7", "small7b"),
             ("separated6", "separated8"), ("small8", "normal30"), ("normal100", "normal30"),
             ("exponential50", "lognormal30"), ("mid12", "mid15"), ("mid20a", "mid20b"),
             ("small3", "small4"), ("tiny3", "small3"), ("outliers15", "normal30b")]
    out("typedef struct {\n    const char *a, *b;\n"
        "    double welch_t, welch_df, welch_p, mwu_u, mwu_p;\n    int mwu_exact;\n"
        "    double cohen_d, hedges_g, cliff, rel_pct, rel_lo, rel_hi;\n    int rel_bounded;\n"
        "} ref_cmp;\n\nstatic const ref_cmp REF_CMP[] = {\n")
    for a, b in pairs:
        r = compare(v[a], v[b])
        out('    {"%s", "%s", %s, %s, %s, %s, %s, %d, %s, %s, %s, %s, %s, %s, %d},\n' % (
            a, b, c(r["welch_t"]), c(r["welch_df"]), c(r["welch_p"]), c(r["mwu_u"]),
            c(r["mwu_p"]), r["mwu_exact"], c(r["cohen_d"]), c(r["hedges_g"]), c(r["cliff"]),
            c(r["rel_pct"]), c(r["rel_lo"]), c(r["rel_hi"]), r["rel_bounded"]))
    out("};\n\n")

    # Forced methods for Mann-Whitney (x, y as scipy's order; U of x).
    forced = [("mid12", "mid15", "exact"), ("mid20a", "mid20b", "exact"),
              ("small3", "long40", "exact"), ("separated8", "mid20a", "exact"),
              ("small10", "small11", "exact"), ("mid12", "mid15", "asymptotic"),
              ("small5", "small7b", "asymptotic"), ("ties20", "ties25", "asymptotic")]
    out("typedef struct {\n    const char *x, *y;\n    int exact;\n    double u, p;\n} ref_mwu;\n\n"
        "static const ref_mwu REF_MWU[] = {\n")
    for x, y, meth in forced:
        m = stats.mannwhitneyu(v[x], v[y], alternative="two-sided", method=meth)
        out('    {"%s", "%s", %d, %s, %s},\n' % (x, y, int(meth == "exact"), c(m.statistic),
                                              c(m.pvalue)))
    out("};\n\n")

    holms = [[0.01, 0.04, 0.03, 0.005], [0.2, 0.0001, 0.5, 0.03, 0.03, 0.9, 0.011],
             list(np.random.RandomState(7).uniform(0, 0.2, 12))]
    out("typedef struct {\n    size_t m;\n    double p[12], adj[12];\n} ref_holm;\n\n"
        "static const ref_holm REF_HOLM[] = {\n")
    for p in holms:
        out("    {%d, {%s}, {%s}},\n" % (len(p), ", ".join(c(x) for x in p),
                                        ", ".join(c(x) for x in holm(p))))
    out("};\n\n")

    out("/* t quantiles: {p, df, scipy.stats.t.ppf(p, df)} */\nstatic const double REF_TQ[][3] = {\n")
    for p, df in [(0.975, 1), (0.975, 2), (0.975, 4.5), (0.975, 29), (0.975, 99), (0.025, 7),
                  (0.995, 12.3), (0.9, 1000)]:
        out("    {%s, %s, %s},\n" % (c(p), c(df), c(stats.t.ppf(p, df))))
    out("};\n\n")

    # Software-induced energy: scenario runs of different lengths, 10 baseline runs.
    rs = np.random.RandomState(99)
    t = rs.uniform(580, 620, 30)
    e = 35.0 * t + rs.normal(0, 300, 30)  # J: ~35 W average
    pb = rs.normal(11.0, 0.4, 10)  # W
    eb = pb * 600 + rs.normal(0, 50, 10)  # J of equal-length baseline runs
    s, s_se, m, se, df, lo, hi = sie_power(e, t, pb)
    out(arr("ref_sie_e", e) + arr("ref_sie_t", t) + arr("ref_sie_pb", pb) + arr("ref_sie_eb", eb))
    out(arr("ref_sie_power_run", s) + arr("ref_sie_power_run_se", s_se))
    out("/* {value, se, df, ci_lo, ci_hi} */\n")
    out("static const double ref_sie_power_mean[5] = {%s};\n" % ", ".join(
        c(x) for x in (m, se, df, lo, hi)))
    out("static const double ref_sie_oscar_mean[5] = {%s};\n" % ", ".join(
        c(x) for x in sie_oscar(e, eb)))
    out("static const double ref_sie_oscar_run_se = %s;\n\n" % c(np.std(eb, ddof=1) / np.sqrt(10)))

    # Efficiency factor: accuracy per Wh.
    acc = rs.uniform(0.80, 0.88, 30)
    wh = e / 3600
    ratio = acc / wh
    out(arr("ref_eff_acc", acc) + arr("ref_eff_wh", wh))
    rd = describe(ratio)
    out("/* {mean, ci_lo, ci_hi} of acc/Wh */\nstatic const double ref_eff[3] = {%s, %s, %s};\n\n"
        % (c(rd["mean"]), c(rd["ci_lo"]), c(rd["ci_hi"])))
    out("#endif\n")


if __name__ == "__main__":
    main()
