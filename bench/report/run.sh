#!/bin/sh
# bench/report/run.sh — times `joulebench report` on a store of 30 runs × 1 h ×
# 10 Hz × 20 channels (21.6 M samples, built by gen.c, ~1 GB, kept out of git
# under $BUILD/bench-report/) next to the equivalent pandas script
# (report_pandas.py), in the same run; prints wall time, CPU time (steadier on
# a shared machine) and peak RSS (/usr/bin/time -v), and checks that both give
# the same per-run energies.
# Needs `make all`, python3-pandas, python3-scipy.
# Usage: bench/report/run.sh [RUNS SECONDS HZ]   (default 30 3600 10)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
runs=${1:-30}; secs=${2:-3600}; hz=${3:-10}
cd "$top"
[ -x "$build/joulebench" ] || { echo "run 'make all' first" >&2; exit 1; }
out="$build/bench-report"
mkdir -p "$out"
db="$out/report-$runs-$secs-$hz.db"
${CC:-cc} -std=c17 -O2 -D_GNU_SOURCE -Isrc -Iinclude -o "$out/gen" bench/report/gen.c \
    "$build/src/store.o" "$build/src/util.o" "$build/src/source.o" \
    $(pkg-config --libs sqlite3) -lm
if [ ! -s "$db" ]; then
    echo "generating $db ($runs runs x $secs s x $hz Hz x 20 channels)..."
    /usr/bin/time -f "  generated in %e s, peak RSS %M KB" "$out/gen" "$db" "$runs" "$secs" "$hz"
fi
echo "store: $(sqlite3 "$db" 'SELECT count(*) FROM sample') samples, $(du -m "$db" | cut -f1) MB"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
cat "$db" > /dev/null  # both tools start with the file in the page cache

measure() { # label, command...
    label=$1; shift
    /usr/bin/time -v "$@" > "$out/$label.out" 2> "$out/$label.time" || {
        cat "$out/$label.out" "$out/$label.time" >&2; exit 1; }
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/$label.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/$label.time")
    secs_=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$out/$label.time")
    printf '%-12s wall %8.2f s   CPU %8.2f s   peak RSS %8.1f MB\n' "$label" "$secs_" "$cpu" \
        "$(echo "$rss" | awk '{print $1/1024}')"
    eval "wall_$label=$secs_; cpu_$label=$cpu; rss_$label=$rss"
}

rm -rf "$out/csv"
measure joulebench "$build/joulebench" report "$db" --csv "$out/csv"
measure pandas /usr/bin/python3 bench/report/report_pandas.py "$db" "$out/pandas_runs.csv"
awk -v a="$wall_pandas" -v b="$wall_joulebench" -v c="$cpu_pandas" -v d="$cpu_joulebench" \
    'BEGIN { printf "speed-up: %.1fx wall, %.1fx CPU time (target >= 5x)\n", a / b, c / d }'
awk -v r="$rss_joulebench" 'BEGIN { printf "joulebench peak RSS: %.0f MB (target < 1024 MB)\n", r / 1024 }'

# Same per-run energies? (joulebench runs.csv vs the pandas CSV, by run id)
/usr/bin/python3 - "$out/csv/runs.csv" "$out/pandas_runs.csv" <<'PY'
import csv, sys
jb = {r["run_id"]: float(r["energy_j"]) for r in csv.DictReader(open(sys.argv[1]))}
pd = {r["run_id"]: float(r["energy_j"]) for r in csv.DictReader(open(sys.argv[2]))}
assert jb.keys() == pd.keys(), "different runs"
worst = max(abs(jb[k] - pd[k]) / abs(pd[k]) for k in jb)
print("per-run energies: %d runs, max relative difference %.2e" % (len(jb), worst))
sys.exit(0 if worst < 1e-6 else 1)
PY
