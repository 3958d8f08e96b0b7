"""
Reading ahead in threads: results in input order, never more than a few ahead of the consumer.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor

from sunpy_slic.warning_filters import collected

__all__ = ["prefetch"]


def prefetch(fn, calls, num_workers):
    """
    Yield ``fn(*args)`` for each ``args`` of ``calls``, in order, computed up to ``2 * num_workers`` ahead.

    With more than one worker and one call, the calls run in a thread pool while the consumer works
    on earlier results (memory stays bounded however many calls there are); warnings raised in the
    threads are gathered and given in this thread (`sunpy_slic.warning_filters.collected`). An exception
    of a call is raised when its result is reached.

    Examples
    --------
    >>> from sunpy_slic.prefetch import prefetch
    >>> list(prefetch(pow, [(2, 3), (3, 2), (10, 0)], num_workers=2))
    [8, 9, 1]
    """
    calls = list(calls)
    if num_workers <= 1 or len(calls) <= 1:
        for args in calls:
            yield fn(*args)
        return

    with collected(), ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="slic-read") as pool:
        pending = deque()
        for args in calls:
            pending.append(pool.submit(fn, *args))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
