#!/bin/sh
# bench/overhead/run.sh — sampling overhead of `joulebench measure` (issue 2,
# "Overhead"), side by side with its peers, in one run: joulebench (usage
# sources, the same without the process source, and the default `auto` set),
# collectd (cpu, memory, disk, interface + csv into a temp dir), a Python
# psutil sampler, and bench/overhead/floor.c (only reads and parses the same
# /proc files: the floor). Each runs alone, one after the other, at each
# interval; for each we read the sampler process's OWN CPU time (never the
# system-wide /proc/stat) after a warm-up and again SECONDS later:
#   - utime+stime of /proc/PID/stat (clock ticks, 10 ms steps), and
#   - the sum over its threads of /proc/PID/task/*/schedstat field 1
#     (sum_exec_runtime, ns): the same CPU time at ns resolution, which the
#     ratios use (at 0.3 % of a core, 20 s are only 6 ticks).
# For joulebench the thread named jb-sampler (the sampling thread alone, no
# store writer) is also shown. Wake-up lateness (jitter) comes from
# joulebench's own run quality (--json) and from floor.c.
# Needs `make all`. Usage: bench/overhead/run.sh [SECONDS]   (default 20)
#   env INTERVALS="100 10" (ms), WARMUP=2 (s), ROUNDS=1, BUILD=build,
#   SAMPLERS="floor floorproc usage noproc auto collectd psutil" (which rows to run;
#   floorproc = the floor plus a sleeping process's /proc files, the fair floor for
#   the default sources, which include the process tree),
#   JB=path/to/joulebench (another build, e.g. for a before/after comparison),
#   RESULTS=FILE (also keep the raw per-round rows there)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
secs=${1:-20}
warm=${WARMUP:-2}
intervals=${INTERVALS:-100 10}
rounds=${ROUNDS:-1}
py=/usr/bin/python3
cd "$top"
jb=${JB:-$top/$build/joulebench}
samplers=${SAMPLERS:-floor floorproc usage noproc auto collectd psutil}
want() { case " $samplers " in *" $1 "*) return 0 ;; esac; return 1; }
[ -x "$jb" ] || { echo "run 'make all' first ($jb missing)" >&2; exit 1; }
tmp=$(mktemp -d)
cleanup() { [ -z "${bgpid:-}" ] || kill "$bgpid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
${CC:-cc} -std=c17 -O2 -Wall -Wextra -o "$tmp/floor" bench/overhead/floor.c

have_collectd=1
[ -x /usr/sbin/collectd ] || { have_collectd=0; echo "collectd: not installed (apt-get install collectd-core), skipped" >&2; }
have_psutil=1
$py -c 'import psutil' 2>/dev/null || { have_psutil=0; echo "psutil: not installed (apt-get install python3-psutil), skipped" >&2; }

ticks=$(getconf CLK_TCK)
now_ns() { date +%s%N; }
# "utime+stime ticks" of PID, and the sum of its threads' sum_exec_runtime (ns).
stat_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
sched_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# sum_exec_runtime (ns) of PID's thread named jb-sampler, or - if none.
sampler_ns() {
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = jb-sampler ] && { cut -d' ' -f1 "$t/schedstat"; return; }
    done
    echo -
}

# window NAME INTERVAL PID: sample PID's own CPU time over SECONDS after WARMUP;
# appends a result line to $tmp/results (jitter filled in by the caller).
window() {
    sleep "$warm"
    t0=$(now_ns); k0=$(stat_ticks "$3"); s0=$(sched_ns "$3"); l0=$(load1); a0=$(sampler_ns "$3")
    sleep "$secs"
    t1=$(now_ns); k1=$(stat_ticks "$3"); s1=$(sched_ns "$3"); l1=$(load1); a1=$(sampler_ns "$3")
    awk -v n="$1" -v iv="$2" -v t0="$t0" -v t1="$t1" -v k0="$k0" -v k1="$k1" -v s0="$s0" \
        -v s1="$s1" -v hz="$ticks" -v l0="$l0" -v l1="$l1" -v a0="$a0" -v a1="$a1" 'BEGIN {
        w = (t1 - t0) / 1e9
        th = (a0 == "-" || a1 == "-") ? "-" : sprintf("%.4f", (a1 - a0) / 1e9 / w * 100)
        printf "%s\t%s\t%.4f\t%.4f\t%.2f\t%.2f\t%s\n", n, iv, (k1 - k0) / hz / w * 100,
            (s1 - s0) / 1e9 / w * 100, w, (l0 + l1) / 2, th }' >> "$tmp/window"
}
record() { # NAME INTERVAL JITTER(p50 p99 max or "- - -")
    tail -1 "$tmp/window" | awk -v j="$3" 'BEGIN { FS = OFS = "\t" } { split(j, a, " ");
        print $1, $2, $3, $4, $5, $6, a[1], a[2], a[3], $7 }' >> "$tmp/results"
}
total=$((warm + secs + 1))

run_jb() { # NAME INTERVAL SOURCES
    rm -f "$tmp/jb.db" "$tmp/jb.db-wal" "$tmp/jb.db-shm" "$tmp/jb.json"
    "$jb" measure -q -s "$3" -i "${2}ms" -o "$tmp/jb.db" --json "$tmp/jb.json" -- \
        sleep "$total" & bgpid=$!
    window "$1" "$2" "$bgpid"
    wait "$bgpid"; bgpid=
    j=$($py -c 'import json,sys; q=json.load(open(sys.argv[1]))["sampling"]
print(q["jitter_p50_us"], q["jitter_p99_us"], q["jitter_max_us"])' "$tmp/jb.json")
    record "$1" "$2" "$j"
}
run_floor() {
    "$tmp/floor" "$1" "$total" > "$tmp/floor.out" & bgpid=$!
    window floor "$1" "$bgpid"
    wait "$bgpid"; bgpid=
    j=$(sed -e 's/.*jitter_p50_us=\([^ ]*\) jitter_p99_us=\([^ ]*\) jitter_max_us=\([^ ]*\).*/\1 \2 \3/' "$tmp/floor.out")
    record floor "$1" "$j"
}
run_floor_proc() { # the floor plus the files the process source reads for one process
    sleep $((total + 5)) & sp=$!
    "$tmp/floor" "$1" "$total" "$sp" > "$tmp/floor.out" & bgpid=$!
    window "floor +process" "$1" "$bgpid"
    wait "$bgpid"; bgpid=
    kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null || true
    j=$(sed -e 's/.*jitter_p50_us=\([^ ]*\) jitter_p99_us=\([^ ]*\) jitter_max_us=\([^ ]*\).*/\1 \2 \3/' "$tmp/floor.out")
    record "floor +process" "$1" "$j"
}
run_collectd() {
    mkdir -p "$tmp/collectd"
    sed -e "s|@INTERVAL@|$(awk -v i="$1" 'BEGIN { print i / 1000 }')|" -e "s|@DIR@|$tmp/collectd|g" \
        bench/overhead/collectd.conf.in > "$tmp/collectd.conf"
    /usr/sbin/collectd -f -C "$tmp/collectd.conf" > "$tmp/collectd.log" 2>&1 & bgpid=$!
    window collectd "$1" "$bgpid"
    kill "$bgpid"; wait "$bgpid" || true; bgpid=
    rm -rf "$tmp/collectd"
    record collectd "$1" "- - -"
}
run_psutil() {
    $py bench/overhead/psutil_sampler.py "$1" "$total" > /dev/null & bgpid=$!
    window psutil "$1" "$bgpid"
    wait "$bgpid"; bgpid=
    record psutil "$1" "- - -"
}

echo "joulebench: $jb"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)   window ${secs} s after ${warm} s warm-up, ${rounds} round(s)"
: > "$tmp/results"
r=0
while [ "$r" -lt "$rounds" ]; do
    r=$((r + 1))
    for iv in $intervals; do
        ! want floor || run_floor "$iv"
        ! want floorproc || run_floor_proc "$iv"
        ! want usage || run_jb "joulebench usage" "$iv" cpu,memory,disk,net,process
        ! want noproc || run_jb "joulebench usage -process" "$iv" cpu,memory,disk,net
        ! want auto || run_jb "joulebench auto" "$iv" auto
        ! want collectd || [ "$have_collectd" = 0 ] || run_collectd "$iv"
        ! want psutil || [ "$have_psutil" = 0 ] || run_psutil "$iv"
    done
done
echo "load average at end:   $(cut -d' ' -f1-3 /proc/loadavg)"
echo
[ -z "${RESULTS:-}" ] || cp "$tmp/results" "$RESULTS"
$py bench/overhead/summary.py "$tmp/results"
