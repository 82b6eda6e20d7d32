#!/bin/sh
# bench/markers/run.sh — marker call overhead (issue 3), C and Python side by
# side under the same listener: the real recorder (src/recorder.c) in another
# process (tests/helpers/marker_sink), as in `joulebench measure`.
#   1. C library without JOULEBENCH_SOCKET, then under the recorder
#      (bench_c.c: burst, calls 20 us / 4 us / 1 ms apart, recorder CPU)
#   2. Python client under the same recorder, same spacings (py_bench.py
#      --listener env), then with py_bench's own forked recv() listener
#   3. wake_bench.c: why — the same datagram to receivers that block, recv or nap
# Needs `make all unit-bins`. Usage: bench/markers/run.sh [CALLS]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
calls=${1:-100000}
cd "$top"
[ -f "$build/libjoulebench.a" ] && [ -x "$build/tests/helpers/marker_sink" ] ||
    { echo "run 'make all unit-bins' first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c17 -O2 -Iinclude -o "$tmp/bench_c" bench/markers/bench_c.c \
    "$build/libjoulebench.a" -pthread
${CC:-cc} -std=c17 -O2 -o "$tmp/wake_bench" bench/markers/wake_bench.c

echo "machine: $(nproc) CPUs, $(uname -r), net.unix.max_dgram_qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
env -u JOULEBENCH_SOCKET "$tmp/bench_c" "$calls"
"$build/tests/helpers/marker_sink" -o "$tmp/markers.txt" -- "$tmp/bench_c" "$calls"
echo "  recorder received (library and bare-send datagrams): $(tail -1 "$tmp/markers.txt")"

if [ -f bench/markers/py_bench.py ] && command -v python3 >/dev/null; then
    echo
    pycalls=$((calls / 5))
    "$build/tests/helpers/marker_sink" -o "$tmp/py.txt" -- \
        python3 bench/markers/py_bench.py --calls "$pycalls" --listener env --paced-us 20 4 1000
    echo "  recorder received: $(tail -1 "$tmp/py.txt")"
    python3 bench/markers/py_bench.py --calls "$pycalls" --paced-us 20
fi
echo
"$tmp/wake_bench" $((calls / 20))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
