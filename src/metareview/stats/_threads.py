"""A pool of threads for the kernel's chunks (numpy computes without Python's global lock).

Used by :func:`metareview.batch` and :func:`metareview.rma_batch`: each chunk of
meta-analyses is fitted on its own, so the results do not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Inline:
    """The little of ThreadPoolExecutor that the kernel uses, run in the calling thread."""

    def __enter__(self) -> Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def map(self, fn: Callable[[Any], Any], items: Any) -> Any:
        return map(fn, items)


def thread_pool(threads: int | None, tasks: int | None = None) -> ThreadPoolExecutor | Inline:
    """A pool of ``threads`` threads (default: the CPUs), or the calling thread alone when
    one thread (or one task) is enough."""
    count = max(1, threads or cpus())
    if tasks is not None:
        count = min(count, max(tasks, 1))
    return ThreadPoolExecutor(count) if count > 1 else Inline()
