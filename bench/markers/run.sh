#!/bin/sh
# bench/markers/run.sh — marker call overhead (issue 3): the C library without
# JOULEBENCH_SOCKET and with a real recorder listening in another process
# (tests/helpers/marker_sink), then the Python client (py_bench.py) if present.
# Needs `make all unit-bins`. Usage: bench/markers/run.sh [CALLS]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
calls=${1:-200000}
cd "$top"
[ -f "$build/libjoulebench.a" ] && [ -x "$build/tests/helpers/marker_sink" ] ||
    { echo "run 'make all unit-bins' first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c17 -O2 -Iinclude -o "$tmp/bench_c" bench/markers/bench_c.c \
    "$build/libjoulebench.a" -pthread

echo "machine: $(nproc) CPUs, $(uname -r), net.unix.max_dgram_qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo '?')"
env -u JOULEBENCH_SOCKET "$tmp/bench_c" "$calls"
"$build/tests/helpers/marker_sink" -o "$tmp/markers.txt" -- "$tmp/bench_c" "$calls"
echo "  recorder received (library and bare-send datagrams): $(tail -1 "$tmp/markers.txt")"

if [ -f bench/markers/py_bench.py ] && command -v python3 >/dev/null; then
    echo
    python3 bench/markers/py_bench.py
fi
