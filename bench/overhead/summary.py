#!/usr/bin/python3
"""summary.py — turns bench/overhead/run.sh's result rows into one Markdown
table: per interval and sampler, the median over rounds of its own CPU time as
% of one core (schedstat ns and utime+stime ticks), the ratio to the floor
(schedstat), joulebench's sampling thread alone (jb-sampler), the wake-up
lateness where known, and the load average during the window. Input rows
(tab-separated): name interval pct_ticks pct_sched wall_s load1
jitter_p50_us jitter_p99_us jitter_max_us [pct_sampler_thread].
"""
import statistics
import sys

TARGET = 1.25


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def reference(name, rows, iv):
    """The floor a row is compared with: rows that read the process tree
    (every joulebench row but "-process") against "floor +process" when it
    was run, everything else against the plain floor."""
    reads_proc = name.startswith("joulebench") and "-process" not in name
    if reads_proc and (iv, "floor +process") in rows:
        return "floor +process"
    return "floor"


def main():
    rows = {}
    order = []
    with open(sys.argv[1]) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 9:
                p.append("-")
            if len(p) != 10:
                continue
            key = (int(p[1]), p[0])
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append([num(x) for x in p[2:]])

    def med(key, i):
        vals = [r[i] for r in rows.get(key, []) if r[i] is not None]
        return statistics.median(vals) if vals else None

    print("| interval | sampler | CPU % of one core (schedstat) | (utime+stime) "
          "| × its floor | sampling thread alone (× floor) | jitter p50 / p99 / max µs "
          "| load avg | rounds |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in order:
        iv, name = key
        sched, tick = med(key, 1), med(key, 0)
        floor = med((iv, reference(name, rows, iv)), 1)
        ratio = sched / floor if floor and sched is not None else None
        verdict = ""
        if name.startswith("joulebench") and ratio is not None:
            verdict = " ok" if ratio <= TARGET else " over"
        j = [med(key, i) for i in (4, 5, 6)]
        jit = " / ".join("%.0f" % x for x in j) if None not in j else "–"
        thr = med(key, 7)
        thr_s = "%.3f (%.2f)" % (thr, thr / floor) if thr is not None and floor else "–"
        print("| %d ms | %s | %.3f | %.2f | %s%s | %s | %s | %.1f | %d |" % (
            iv, name, sched, tick, "%.2f" % ratio if ratio is not None else "–", verdict,
            thr_s, jit, med(key, 3), len(rows[key])))
    print("\nTarget: joulebench ≤ %.2f × floor at each interval; jitter p99 ≤ 1000 µs "
          "at 10 ms on an idle machine. Rows that read the process tree are compared "
          "with \"floor +process\" when it ran, the others with \"floor\"." % TARGET)


if __name__ == "__main__":
    main()
