"""joulebench.py -- tell a running joulebench recorder what a Python workload is doing.

One stdlib-only file. A workload marks its actions (preprocessing, each epoch, validation,
classification) and reports model metrics (loss, val_accuracy, ...); `joulebench measure`
attributes energy and resource use to each action and puts the metrics next to it.

How it fits: the recorder creates a private directory with a unix datagram socket and passes
its path in the environment variable JOULEBENCH_SOCKET. Every call here sends one datagram,
one line of the v1 wire format (see shared/DESIGN.md):

    v1 <unix_ns> <pid> begin|end|event <name> [<index>]
    v1 <unix_ns> <pid> metric <name> [<index>] <value>

Without JOULEBENCH_SOCKET every call returns True at once and makes no system call, so an
instrumented script runs unchanged outside joulebench. Sends do not block (MSG_DONTWAIT);
when the recorder's queue is full a call waits for room at most JOULEBENCH_SEND_WAIT_US
microseconds (default 10000, 0 turns waiting off), then drops the marker and counts it
(dropped()); after one such timeout later calls drop at once until a send succeeds again, so
a stuck recorder slows the workload by one wait at most (as libjoulebench does). Names must match
[A-Za-z0-9_.:/-]{1,64}, indexes are integers, metric values finite numbers; anything else is
refused (the call returns False and invalid() counts it). All calls are thread-safe and
survive fork() (the child sends with its own pid).

Plain calls:

    import joulebench
    joulebench.begin("preprocessing"); ...; joulebench.end("preprocessing")
    joulebench.event("checkpoint-saved")
    joulebench.metric("val_accuracy", 0.873, index=3)

Context manager and decorator (end is sent even when the block raises):

    with joulebench.action("epoch", 3):
        ...

    @joulebench.action("preprocessing")      # or @joulebench.action_decorator("preprocessing")
    def load_data(): ...

Keras (tf.keras or keras 3; also works duck-typed in any Keras-like fit loop):

    model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[joulebench.KerasCallback()])

sends actions fit, epoch <e> (with train <e> and validation <e> inside), evaluate, predict,
and every numeric value of Keras' logs (loss, accuracy, val_loss, val_accuracy, ...) as a
metric with the epoch index. Epoch indexes start at 1, like Keras' "Epoch 1/10" progress line
(KerasCallback(first_epoch=0) gives Keras' own 0-based numbers).

PyTorch training loop pattern (the same actions and metrics as the C trainer):

    import joulebench
    with joulebench.action("preprocessing"):
        train_loader, val_loader = make_loaders()
    for epoch in range(1, epochs + 1):
        with joulebench.action("epoch", epoch):
            with joulebench.action("train", epoch):
                loss, acc = train_one_epoch(model, train_loader)
            with joulebench.action("validation", epoch):
                val_loss, val_acc = evaluate(model, val_loader)
        joulebench.metrics({"loss": loss, "accuracy": acc,
                            "val_loss": val_loss, "val_accuracy": val_acc}, index=epoch)
    with joulebench.action("classification"):
        predictions = predict(model, test_loader)

Metric values may be Python numbers, numpy scalars or 0-dim torch tensors (anything float()
accepts); call .item() yourself on tensors that live on a GPU to choose when it synchronises.
"""

import contextlib
import functools
import math
import operator
import os
import re
import select
import socket
import threading
import time

__all__ = [
    "begin",
    "end",
    "event",
    "metric",
    "metrics",
    "action",
    "action_decorator",
    "KerasCallback",
    "enabled",
    "dropped",
    "invalid",
    "reconfigure",
]

ENV_SOCKET = "JOULEBENCH_SOCKET"
ENV_WAIT = "JOULEBENCH_SEND_WAIT_US"
_NAME_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,64}\Z")
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.:/-]")

_lock = threading.Lock()
_path = os.environ.get(ENV_SOCKET) or None
_sock = None
_pid = os.getpid()
_dropped = 0
_invalid = 0
_degraded = False  # the last wait for room timed out: drop at once until a send succeeds


def _wait_from_env():
    """JOULEBENCH_SEND_WAIT_US in seconds: default 10 ms, capped at 1 s, like libjoulebench."""
    text = os.environ.get(ENV_WAIT, "")
    try:
        us = int(text, 10)
    except ValueError:
        us = -1
    return 0.01 if us < 0 else min(us, 1000000) / 1e6


_wait_s = _wait_from_env()


def reconfigure(path=None):
    """Re-read JOULEBENCH_SOCKET (or use path) and forget the current socket.

    Only needed when a program changes the variable after importing this module."""
    global _path, _sock, _wait_s, _degraded
    with _lock:
        if _sock is not None:
            _sock.close()
        _sock = None
        _path = path if path is not None else (os.environ.get(ENV_SOCKET) or None)
        _wait_s = _wait_from_env()
        _degraded = False


def enabled():
    """True when JOULEBENCH_SOCKET is set, i.e. markers are being sent."""
    return _path is not None


def dropped():
    """Markers that were valid but could not be sent (socket full, recorder gone)."""
    return _dropped


def invalid():
    """Markers refused before sending: bad name, bad index, NaN/inf or non-numeric value."""
    return _invalid


def begin(name, index=None):
    """Mark the start of action `name` (optionally with an integer index, e.g. the epoch)."""
    if _path is None:
        return True
    return _send("begin", name, index, None)


def end(name, index=None):
    """Mark the end of action `name`; use the same index as its begin()."""
    if _path is None:
        return True
    return _send("end", name, index, None)


def event(name):
    """Mark an instant (a checkpoint written, a phase switched)."""
    if _path is None:
        return True
    return _send("event", name, None, None)


def metric(name, value, index=None):
    """Report a model metric (e.g. val_accuracy of epoch `index`). NaN/inf are refused."""
    if _path is None:
        return True
    return _send("metric", name, index, value)


def metrics(values, index=None):
    """Report every numeric entry of a mapping as a metric; True when all were sent.

    Keys are made valid names (other characters become '_', cut to 64); non-numeric
    values are skipped without counting."""
    if _path is None:
        return True
    ok = True
    for key, value in values.items():
        number = _as_number(value)
        if number is None:
            continue
        ok = _send("metric", _clean_name(key), index, number) and ok
    return ok


class action(contextlib.ContextDecorator):
    """An action: `with action("epoch", 3): ...` or `@action("preprocessing")`.

    Sends begin on entry and end on exit (also when the block raises). As a decorator
    every call of the function is one action. `@action` without arguments names the
    action after the function."""

    __slots__ = ("name", "index")

    def __new__(cls, name=None, index=None):
        if callable(name):  # bare @joulebench.action
            return cls(name.__name__)(name)
        return super().__new__(cls)

    def __init__(self, name, index=None):
        self.name = name
        self.index = index

    def __enter__(self):
        begin(self.name, self.index)
        return self

    def __exit__(self, *exc):
        end(self.name, self.index)
        return False

    def __repr__(self):
        return "joulebench.action(%r, %r)" % (self.name, self.index)


def action_decorator(name, index=None):
    """Decorator form of action: every call of the decorated function is one action."""

    def wrap(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with action(name, index):
                return func(*args, **kwargs)

        return run

    return wrap


class KerasCallback:
    """A Keras callback sending joulebench markers; see the module docstring.

    Subclasses keras.callbacks.Callback (keras 3, else tf.keras) when one can be imported
    at construction time; otherwise it is a duck-typed callback with every hook Keras calls.
    `names` overrides action names: keys fit, epoch, train, validation, evaluate, predict.
    Per-batch hooks are left to the base class, so Keras keeps its fast path."""

    _ACTIONS = {
        "fit": "fit",
        "epoch": "epoch",
        "train": "train",
        "validation": "validation",
        "evaluate": "evaluate",
        "predict": "predict",
    }

    def __new__(cls, *args, **kwargs):
        if cls is KerasCallback:
            cls = _callback_class()
        return super().__new__(cls)

    def __init__(self, first_epoch=1, names=None):
        super().__init__()
        self.first_epoch = int(first_epoch)
        self.names = dict(self._ACTIONS)
        self.names.update(names or {})
        self._in_fit = False
        self._epoch = None
        self._train_open = False

    def on_train_begin(self, logs=None):
        self._in_fit = True
        begin(self.names["fit"])

    def on_train_end(self, logs=None):
        self._close_train()
        self._in_fit = False
        end(self.names["fit"])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch) + self.first_epoch
        begin(self.names["epoch"], self._epoch)
        begin(self.names["train"], self._epoch)
        self._train_open = True

    def on_epoch_end(self, epoch, logs=None):
        index = int(epoch) + self.first_epoch
        self._close_train()
        end(self.names["epoch"], index)
        if logs:
            metrics(logs, index)
        self._epoch = None

    def on_test_begin(self, logs=None):
        if self._in_fit and self._epoch is not None:
            self._close_train()
            begin(self.names["validation"], self._epoch)
        else:
            begin(self.names["evaluate"])

    def on_test_end(self, logs=None):
        if self._in_fit and self._epoch is not None:
            # Keras repeats these values as val_* in on_epoch_end's logs.
            end(self.names["validation"], self._epoch)
        else:
            end(self.names["evaluate"])
            if logs:
                metrics({"test_" + str(k): v for k, v in logs.items()})

    def on_predict_begin(self, logs=None):
        begin(self.names["predict"])

    def on_predict_end(self, logs=None):
        end(self.names["predict"])

    def _close_train(self):
        if self._train_open:
            self._train_open = False
            end(self.names["train"], self._epoch)


class _DuckCallback:
    """What keras.callbacks.Callback provides, for use without Keras."""

    def __init__(self):
        self.model = None
        self.params = {}
        self.validation_data = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def _noop(self, *args, **kwargs):
        pass

    on_batch_begin = on_batch_end = _noop
    on_train_batch_begin = on_train_batch_end = _noop
    on_test_batch_begin = on_test_batch_end = _noop
    on_predict_batch_begin = on_predict_batch_end = _noop


_keras_classes = {}


def _callback_class():
    """KerasCallback on keras.callbacks.Callback, or on _DuckCallback without Keras."""
    base = _keras_base() or _DuckCallback
    with _lock:
        cls = _keras_classes.get(base)
        if cls is None:
            cls = type("KerasCallback", (KerasCallback, base), {"__module__": __name__})
            _keras_classes[base] = cls
        return cls


def _keras_base():
    if _keras_bases:
        return _keras_bases[0]
    base = _import_keras_base()
    _keras_bases.append(base)
    return base


_keras_bases = []


def _import_keras_base():
    for modname in ("keras", "tensorflow.keras"):
        try:
            mod = __import__(modname, fromlist=["callbacks"])
            return mod.callbacks.Callback
        except Exception:  # not installed, or broken backend: stay duck-typed
            continue
    return None


def _clean_name(key):
    name = _BAD_NAME_CHARS.sub("_", str(key))[:64]
    return name or "_"


def _as_number(value):
    if isinstance(value, (str, bytes)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _format(kind, name, index, value):
    """The datagram for one marker, or None when the marker is invalid."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return None
    line = "v1 %d %d %s %s" % (time.time_ns(), _pid, kind, name)
    if index is not None:
        try:
            if isinstance(index, bool):
                return None
            line += " %d" % operator.index(index)
        except TypeError:
            return None
    if kind == "metric":
        number = _as_number(value)
        if number is None or not math.isfinite(number):
            return None
        line += " " + repr(number)
    return line.encode("ascii")


def _send(kind, name, index, value):
    global _invalid, _degraded
    data = _format(kind, name, index, value)
    if data is None:
        with _lock:
            _invalid += 1
        return False
    sock = _sock or _connect()
    if sock is not None:
        try:
            sock.send(data, socket.MSG_DONTWAIT)
            if _degraded:
                _degraded = False
            return True
        except BlockingIOError:
            if _wait_s > 0 and not _degraded and _send_after_wait(sock, data):
                return True
        except OSError:
            _disconnect(sock)  # recorder gone or restarted: reconnect next time
    _count_drop()
    return False


def _send_after_wait(sock, data):
    """Wait at most _wait_s for room in the recorder's queue and send; False on timeout.

    Linux queues only net.unix.max_dgram_qlen (often 10) datagrams per receiving socket, so
    a burst (the metrics of one epoch) can find it full while the recorder's thread waits
    for a CPU that the training threads occupy. A bounded wait keeps those markers."""
    global _degraded
    deadline = time.monotonic() + _wait_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select((), (sock,), (), left)[1]:
            _degraded = True
            return False
        try:
            sock.send(data, socket.MSG_DONTWAIT)
            return True
        except BlockingIOError:
            continue
        except OSError:
            return False


def _connect():
    global _sock
    with _lock:
        if _sock is None and _path is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                s.connect(_path)
            except OSError:
                s.close()
                return None
            _sock = s
        return _sock


def _disconnect(sock):
    global _sock
    with _lock:
        if _sock is sock:
            _sock = None
            sock.close()


def _count_drop():
    global _dropped
    with _lock:
        _dropped += 1


def _after_fork_in_child():
    global _pid, _lock
    _pid = os.getpid()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
