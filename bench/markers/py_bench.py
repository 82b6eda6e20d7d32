"""py_bench.py -- cost of one python/joulebench.py marker call, with and without a recorder.

With a listener: a separate process plays the recorder (receives and counts datagrams) and
this process times joulebench.metric() and begin()/end() calls in batches; it reports the
mean and the median/p99 of the per-batch means, and checks that every marker arrived.
Without JOULEBENCH_SOCKET: times the same calls next to an empty Python function call,
which is the floor of any call. Issue 3's target: <= 50 us per call with the listener.

    /usr/bin/python3 bench/markers/py_bench.py [--calls N] [--json] [--listener fork|env]
                                               [--paced-us US ...]

--listener env uses the recorder already named by JOULEBENCH_SOCKET (bench/markers/run.sh
runs this under tests/helpers/marker_sink, the real recorder, as it does the C bench) instead
of forking the plain recv() loop below; it cannot count what arrived, the sink does.
--paced-us times single metric calls spaced US microseconds apart (busy-waiting between them,
as bench_c.c does), reporting mean, median and p99 of the single calls.

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


def time_paced(calls, spacing_us):
    """Per-call time in ns of single metric calls spaced spacing_us apart."""
    out = []
    clock = time.perf_counter_ns
    for i in range(calls):
        until = clock() + spacing_us * 1000
        while clock() < until:
            pass
        t0 = clock()
        joulebench.metric("val_accuracy", 0.8731, i)
        out.append(clock() - t0)
    return out


def timed_rows(calls, paced):
    """The rows measured with a recorder listening: back-to-back metric and
    begin+end batches, then calls paced `us` apart; and how many were sent."""
    result = {
        "metric": summary(time_batches(metric, calls)),
        "begin_end_pair": summary(time_batches(begin_end, calls)),
    }
    for us in paced:
        result["paced_%d_us" % us] = summary(time_paced(calls // 10, us))
    return result, 3 * (calls // BATCH) * BATCH + len(paced) * (calls // 10)


def with_env_listener(calls, paced):
    joulebench.reconfigure()
    assert joulebench.enabled(), "--listener env needs JOULEBENCH_SOCKET"
    dropped0 = joulebench.dropped()
    result, sent = timed_rows(calls, paced)
    result.update(sent=sent, received=-1, dropped=joulebench.dropped() - dropped0)
    result["per_call_us"] = max(result["metric"]["mean_us"], result["begin_end_pair"]["mean_us"] / 2)
    return result


def with_listener(calls, paced=()):
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
    result, sent = timed_rows(calls, paced)
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
    parser.add_argument("--listener", choices=("fork", "env"), default="fork")
    parser.add_argument("--paced-us", type=int, nargs="*", default=[])
    args = parser.parse_args()
    if args.listener == "env":
        listening = with_env_listener(args.calls, args.paced_us)
    else:
        listening = with_listener(args.calls, args.paced_us)
    disabled = without_variable(args.calls)
    report = {"python": sys.version.split()[0], "calls": args.calls,
              "with_listener": listening, "without_variable": disabled}
    if args.json:
        print(json.dumps(report))
        return 0
    print("python/joulebench.py marker cost (%d calls, Python %s, listener: %s)"
          % (args.calls, report["python"],
             "real recorder (JOULEBENCH_SOCKET)" if args.listener == "env" else "forked recv() loop"))
    print("  with listener:  metric %.2f us/call (median %.2f, p99 %.2f); begin+end pair %.2f us"
          % (listening["metric"]["mean_us"], listening["metric"]["median_us"],
             listening["metric"]["p99_us"], listening["begin_end_pair"]["mean_us"]))
    for us in args.paced_us:
        p = listening["paced_%d_us" % us]
        print("  paced %4d us apart: metric mean %.2f us, median %.2f, p99 %.2f"
              % (us, p["mean_us"], p["median_us"], p["p99_us"]))
    print("                  %d sent, %s received, %d dropped"
          % (listening["sent"], listening["received"] if listening["received"] >= 0 else "(see sink)",
             listening["dropped"]))
    print("  no variable:    metric %.3f us/call; an empty function call %.3f us"
          % (disabled["metric"]["mean_us"], disabled["empty_function"]["mean_us"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
