"""marker_sink.py -- a stand-in for the joulebench recorder's marker socket, for tests.

Binds a unix datagram socket in a private temp directory, runs a command with
JOULEBENCH_SOCKET pointing at it, collects every datagram and prints them, one per line,
after the command exits; exits with the command's status. Used by tests/e2e/python.bats
to check the exact lines python/joulebench.py sends.

    marker_sink.py [--raw] [--no-read] -- COMMAND [ARG...]

By default the timestamp and pid fields are checked and replaced: TS when the timestamp
lies within the command's run (else BADTS), PID when it is the command's pid (else
OTHERPID), so tests can compare whole lines. --raw prints datagrams unchanged.
--no-read receives nothing until the command exits (a recorder that has stalled).
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main(argv):
    raw = "--raw" in argv[: argv.index("--")]
    no_read = "--no-read" in argv[: argv.index("--")]
    command = argv[argv.index("--") + 1 :]
    with tempfile.TemporaryDirectory(prefix="jb-sink-") as tmp:
        os.chmod(tmp, 0o700)
        path = os.path.join(tmp, "markers.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        server.bind(path)
        received = []
        stop = threading.Event()
        reader = threading.Thread(target=drain, args=(server, received, stop))
        if not no_read:
            reader.start()
        env = dict(os.environ, JOULEBENCH_SOCKET=path)
        t0 = time.time_ns()
        child = subprocess.Popen(command, env=env)
        status = child.wait()
        t1 = time.time_ns()
        stop.set()
        if not no_read:
            reader.join()
        drain_now(server, received)
        server.close()
    for data in received:
        print(data.decode("ascii", "backslashreplace") if raw else normalise(data, t0, t1, child.pid))
    return status


def drain(server, received, stop):
    server.settimeout(0.05)
    while not stop.is_set():
        try:
            received.append(server.recv(65536))
        except socket.timeout:
            continue
    drain_now(server, received)


def drain_now(server, received):
    server.setblocking(False)
    while True:
        try:
            received.append(server.recv(65536))
        except BlockingIOError:
            return


def normalise(data, t0, t1, pid):
    fields = data.decode("ascii", "backslashreplace").split(" ")
    if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
        fields[1] = "TS" if t0 <= int(fields[1]) <= t1 else "BADTS"
        fields[2] = "PID" if int(fields[2]) == pid else "OTHERPID"
    return " ".join(fields)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
