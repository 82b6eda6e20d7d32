"""py_bench.py -- cost of one python/joulebench.py marker call, with and without a recorder.

With a listener: a separate process plays the recorder (receives and counts datagrams) and
this process times joulebench.metric() and begin()/end() calls in batches; it reports the
mean and the median/p99 of the per-batch means, and checks that every marker arrived.
Without JOULEBENCH_SOCKET: times the same calls next to an empty Python function call,
which is the floor of any call. Issue 3's target: <= 50 us per call with the listener.

    /usr/bin/python3 bench/markers/py_bench.py [--calls N] [--json]

Prints a readable table, or one JSON object with --json (used by tests/e2e/python.bats).
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import joulebench  # noqa: E402

BATCH = 100


def recorder(path, ready_w, count_w):
    """Child process: receive datagrams until b"STOP", then report how many came."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    os.write(ready_w, b"1")
    n = 0
    while True:
        data = server.recv(4096)
        if data == b"STOP":
            break
        n += 1
    os.write(count_w, str(n).encode())
    os._exit(0)


def time_batches(call, calls):
    """Per-call time in ns of each batch of BATCH calls."""
    out = []
    for _ in range(max(1, calls // BATCH)):
        t0 = time.perf_counter_ns()
        for i in range(BATCH):
            call(i)
        out.append((time.perf_counter_ns() - t0) / BATCH)
    return out


def summary(per_call_ns):
    ordered = sorted(per_call_ns)
    return {
        "mean_us": statistics.fmean(per_call_ns) / 1000,
        "median_us": statistics.median(per_call_ns) / 1000,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000,
    }


def begin_end(i):
    joulebench.begin("epoch", i)
    joulebench.end("epoch", i)


def metric(i):
    joulebench.metric("val_accuracy", 0.8731, i)


def empty(i):
    pass


def with_listener(calls):
    tmp = tempfile.mkdtemp(prefix="jb-bench-")
    path = os.path.join(tmp, "markers.sock")
    ready_r, ready_w = os.pipe()
    count_r, count_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        recorder(path, ready_w, count_w)
    os.read(ready_r, 1)
    joulebench.reconfigure(path)
    dropped0 = joulebench.dropped()
    result = {
        "metric": summary(time_batches(metric, calls)),
        "begin_end_pair": summary(time_batches(begin_end, calls)),
    }
    sent = 3 * (calls // BATCH) * BATCH
    stopper = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stopper.sendto(b"STOP", path)
    received = int(os.read(count_r, 32))
    os.waitpid(pid, 0)
    os.unlink(path)
    os.rmdir(tmp)
    result.update(sent=sent, received=received, dropped=joulebench.dropped() - dropped0)
    result["per_call_us"] = max(result["metric"]["mean_us"], result["begin_end_pair"]["mean_us"] / 2)
    return result


def without_variable(calls):
    os.environ.pop(joulebench.ENV_SOCKET, None)
    joulebench.reconfigure()
    assert not joulebench.enabled()
    return {
        "metric": summary(time_batches(metric, calls)),
        "empty_function": summary(time_batches(empty, calls)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    listening = with_listener(args.calls)
    disabled = without_variable(args.calls)
    report = {"python": sys.version.split()[0], "calls": args.calls,
              "with_listener": listening, "without_variable": disabled}
    if args.json:
        print(json.dumps(report))
        return 0
    print("python/joulebench.py marker cost (%d calls, Python %s)" % (args.calls, report["python"]))
    print("  with listener:  metric %.2f us/call (median %.2f, p99 %.2f); begin+end pair %.2f us"
          % (listening["metric"]["mean_us"], listening["metric"]["median_us"],
             listening["metric"]["p99_us"], listening["begin_end_pair"]["mean_us"]))
    print("                  %d sent, %d received, %d dropped"
          % (listening["sent"], listening["received"], listening["dropped"]))
    print("  no variable:    metric %.3f us/call; an empty function call %.3f us"
          % (disabled["metric"]["mean_us"], disabled["empty_function"]["mean_us"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
