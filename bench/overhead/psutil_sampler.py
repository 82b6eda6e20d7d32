#!/usr/bin/python3
"""psutil_sampler.py — the Python peer for bench/overhead/run.sh.

Samples the same data as joulebench's cpu, memory, disk and net sources with
psutil (Debian python3-psutil) on absolute monotonic deadlines, keeps the
latest values in memory and writes nothing. Usage: psutil_sampler.py
INTERVAL_MS SECONDS.
"""
import sys
import time

import psutil


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: psutil_sampler.py INTERVAL_MS SECONDS")
    step = float(sys.argv[1]) / 1000.0
    end = time.monotonic() + float(sys.argv[2])
    latest = None
    nxt = time.monotonic() + step
    samples = 0
    while nxt < end:
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        latest = (psutil.cpu_times(), psutil.virtual_memory(), psutil.swap_memory(),
                  psutil.disk_io_counters(), psutil.net_io_counters())
        samples += 1
        nxt += step
        now = time.monotonic()
        if now > nxt:  # skip missed deadlines, like the C samplers
            nxt += (int((now - nxt) / step) + 1) * step
    print("samples=%d last_cpu_user=%.2f" % (samples, latest[0].user if latest else -1))


if __name__ == "__main__":
    main()
