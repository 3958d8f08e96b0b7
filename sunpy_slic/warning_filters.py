"""
Warnings and reader threads: silencing warnings in one thread without silencing them in all.

`warnings.catch_warnings` changes the warning filters of the whole process and puts back what it
found on exit. Two threads inside it at once can put back each other's filters: a reader thread
that silenced sunpy's header warnings could leave them silenced for the rest of the session, or
swallow a `~sunpy_slic.exceptions.SlicWarning` another thread raised meanwhile.

So code that silences warnings uses `quiet`, and the thread that runs reader threads wraps them
in `collected`: while it is active every warning of every thread is gathered instead of shown,
those raised inside `quiet` blocks are dropped, and the rest are issued again, in that thread and
under the filters in force, when the block ends. Outside `collected`, `quiet` is an ordinary
``catch_warnings`` + ``simplefilter("ignore")``.
"""

import contextlib
import threading
import warnings

from sunpy import log as sunpy_log

__all__ = ["collected", "quiet", "quiet_sunpy_log"]

_state = threading.local()
_lock = threading.Lock()
_active = [0]  # `collected` blocks running in this process


@contextlib.contextmanager
def quiet():
    """Silence the warnings raised in this block, in this thread only."""
    if _active[0]:
        _state.quiet = getattr(_state, "quiet", 0) + 1
        try:
            yield
        finally:
            _state.quiet -= 1
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield


@contextlib.contextmanager
def collected():
    """
    Gather the warnings of all threads in this block; issue again those not silenced by `quiet`.

    They are issued when the block ends without an exception (with one, the exception is what
    matters and they are dropped), in the order they were raised.

    Examples
    --------
    >>> import threading, warnings
    >>> from sunpy_slic.warning_filters import collected, quiet
    >>> def read():
    ...     with quiet():
    ...         warnings.warn("header noise")
    ...     warnings.warn("worth knowing")
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     with collected():
    ...         t = threading.Thread(target=read); t.start(); t.join()
    >>> [str(w.message) for w in seen]
    ['worth knowing']
    """
    caught = []

    def show(message, category, filename, lineno, file=None, line=None):
        if not getattr(_state, "quiet", 0):
            caught.append((message, category, filename, lineno))

    with _lock:
        _active[0] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            yield
    finally:
        with _lock:
            _active[0] -= 1
    for message, category, filename, lineno in caught:
        warnings.warn_explicit(message, category, filename, lineno)


@contextlib.contextmanager
def quiet_sunpy_log(level="WARNING"):
    """
    Hide sunpy's log messages below ``level`` in this block (its INFO notes about assumed metadata,
    given once per map and per overlay drawn, are noise in a loop over maps).

    Examples
    --------
    >>> from sunpy import log
    >>> from sunpy_slic.warning_filters import quiet_sunpy_log
    >>> before = log.level
    >>> with quiet_sunpy_log():
    ...     log.info("not shown")
    >>> log.level == before
    True
    """
    old = sunpy_log.level
    sunpy_log.setLevel(level)
    try:
        yield
    finally:
        sunpy_log.setLevel(old)
