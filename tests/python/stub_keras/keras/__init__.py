"""Stand-in for keras 3 (tests only): just keras.callbacks.Callback with keras 3's shape."""
from . import callbacks  # noqa: F401
