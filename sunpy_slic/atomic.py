"""
Atomic file writes: a file is either the old one or the complete new one, never half-written.

Every file sunpy-slic writes (weights, checkpoints, dataset stores, results) goes through here.
The data are written to a hidden temporary file in the same folder (``.NAME.PID.tmp``), flushed to
disk, then renamed over the target with `os.replace`, which is atomic on POSIX and Windows. A run
killed mid-write leaves only a stale temporary file, which readers ignore.
"""

import os
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_bytes", "tmp_name"]


def tmp_name(path):
    """Return the temporary name used while writing ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path, write):
    """Write ``path`` by calling ``write(binary_file)`` on a temporary file, then renaming it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))
