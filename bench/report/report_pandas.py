#!/usr/bin/python3
"""report_pandas.py — the pandas baseline for bench/report/run.sh: computes
from a joulebench store what `joulebench report` computes for it: per run the
headline energy (RAPL package + DRAM + GPU energy counters, interpolated at
the run bounds), mean power, CPU and memory means (time-weighted), disk and
network totals; per variant x phase n, mean, SD, SE, 95 % CI (t), median,
min, max, range, IQR, CV, Shapiro-Wilk W and p; software-induced energy
(E - mean baseline power x T); Welch's t-test between the variants.
Reads the samples run by run (pd.read_sql_query), as a careful pandas user
would: loading all 21.6 M rows at once needs several GB.

usage: report_pandas.py STORE.db OUT.csv   (per-run energies, for the check)
"""
import sqlite3
import sys

import numpy as np
import pandas as pd
from scipy import stats

HEADLINE = ("rapl/package-0", "rapl/dram-0", "nvml/0/energy")


def run_summary(con, run):
    start, end = run.start_ns, run.end_ns
    chans = pd.read_sql_query("SELECT id, name, kind FROM channel WHERE run_id=?", con,
                              params=(int(run.id),))
    s = pd.read_sql_query(
        "SELECT s.channel_id, s.t_ns, s.value FROM sample s JOIN channel c ON c.id=s.channel_id"
        " WHERE c.run_id=? ORDER BY s.channel_id, s.t_ns", con, params=(int(run.id),))
    out = {"run_id": run.id, "variant": run.variant, "phase": run.phase,
           "duration_s": (end - start) / 1e9}
    energy = 0.0
    for cid, g in s.dropna().groupby("channel_id"):
        ch = chans[chans.id == cid].iloc[0]
        t = g.t_ns.to_numpy(dtype=np.float64)
        v = g.value.to_numpy()
        if ch.kind in ("energy_counter", "counter"):
            delta = np.interp(end, t, v) - np.interp(start, t, v)
            if ch["name"] in HEADLINE:
                energy += delta
            out[ch["name"]] = delta
        else:
            inside = (t >= start) & (t <= end)
            out[ch["name"]] = np.trapz(v[inside], t[inside]) / (t[inside][-1] - t[inside][0])
    out["energy_j"] = energy
    out["mean_power_w"] = energy / out["duration_s"]
    return out


def describe(x):
    x = np.asarray(x, dtype=float)
    n = len(x)
    mean, sd = x.mean(), x.std(ddof=1) if n > 1 else float("nan")
    se = sd / np.sqrt(n)
    half = stats.t.ppf(0.975, n - 1) * se if n > 1 else float("nan")
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    w, p = stats.shapiro(x) if n >= 3 else (float("nan"), float("nan"))
    return dict(n=n, mean=mean, sd=sd, se=se, ci_lo=mean - half, ci_hi=mean + half, median=med,
                min=x.min(), max=x.max(), range=x.max() - x.min(), iqr=q3 - q1,
                cv=sd / mean if mean else float("nan"), shapiro_w=w, shapiro_p=p)


def main():
    con = sqlite3.connect(sys.argv[1])
    exp = pd.read_sql_query("SELECT max(id) AS id FROM experiment", con).id[0]
    runs = pd.read_sql_query("SELECT id, variant, phase, start_ns, end_ns FROM run "
                             "WHERE experiment_id=? AND status='ok' ORDER BY id", con,
                             params=(int(exp),))
    per_run = pd.DataFrame([run_summary(con, r) for r in runs.itertuples()])
    base = per_run[per_run.phase == "baseline"]
    p_base = (base.energy_j / base.duration_s).mean()
    per_run["sie_power_j"] = np.where(per_run.phase == "baseline", np.nan,
                                      per_run.energy_j - p_base * per_run.duration_s)
    rows = []
    for (variant, phase), g in per_run.groupby(["variant", "phase"]):
        for col in ("energy_j", "duration_s", "mean_power_w", "sie_power_j", "cpu/total",
                    "memory/used", "disk/read", "net/received"):
            x = g[col].dropna()
            if len(x):
                rows.append(dict(variant=variant, phase=phase, quantity=col, **describe(x)))
    table = pd.DataFrame(rows)
    variants = sorted(v for v in per_run.variant.unique() if v)
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            ea = per_run[per_run.variant == a].energy_j
            eb = per_run[per_run.variant == b].energy_j
            t, p = stats.ttest_ind(ea, eb, equal_var=False)
            print("%s vs %s: Welch t=%.3f p=%.3g" % (a, b, t, p))
    print(table[table.quantity == "energy_j"][["variant", "phase", "n", "mean", "sd", "median",
                                               "iqr", "shapiro_p"]].to_string(index=False))
    per_run[["run_id", "variant", "phase", "energy_j"]].to_csv(sys.argv[2], index=False)


main()
