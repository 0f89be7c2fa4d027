"""How many threads and processes cleantake uses, decided in one place.

- :func:`usable_cpus`: the CPUs this process may run on (its affinity, not the machine's).
- :func:`default_jobs`: what ``-j/--jobs`` means when not given: the usable CPUs, at most
  :data:`DEFAULT_MAX_JOBS`. :func:`check_jobs` checks a given value (1 to :data:`MAX_JOBS`).
- :data:`recording_threads` / :func:`threads_for_recording`: threads the work on one
  recording may use (FFTs, NMF blocks); blocks cleaned in parallel set it to 1.
- :func:`single_threaded_blas`: BLAS limited to one thread while any thread runs the method.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import threadpoolctl
from threadpoolctl import threadpool_limits

from .errors import ParameterError

__all__ = [
    "MAX_JOBS",
    "DEFAULT_MAX_JOBS",
    "usable_cpus",
    "default_jobs",
    "check_jobs",
    "check_workers",
    "parse_jobs",
    "recording_threads",
    "threads_for_recording",
    "single_threaded_blas",
]

#: Highest ``-j/--jobs`` (and ``workers``) accepted.
MAX_JOBS = 256
#: ``-j/--jobs`` by default: the usable CPUs, but at most this many.
DEFAULT_MAX_JOBS = 4


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_jobs() -> int:
    """Parallel jobs when none is given: the usable CPUs, at most :data:`DEFAULT_MAX_JOBS`."""
    return min(DEFAULT_MAX_JOBS, usable_cpus())


def check_jobs(jobs, name: str = "jobs") -> int:
    """``jobs`` as an int if it is a whole number from 1 to :data:`MAX_JOBS`.

    Raises
    ------
    ParameterError
        Otherwise (also for ``bool``, floats and strings); the message names ``name``.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or not 1 <= jobs <= MAX_JOBS:
        raise ParameterError(f"{name} must be a whole number from 1 to {MAX_JOBS}, got {jobs!r}")
    return int(jobs)


def parse_jobs(text: str) -> int:
    """``-j/--jobs N`` on a command line: :func:`check_jobs` as an argparse ``type``.

    Every subcommand with ``-j`` (``clean``, ``batch``, ``evaluate``) uses it, so the option
    is checked the same way everywhere.

    Raises
    ------
    argparse.ArgumentTypeError
        Not a whole number from 1 to :data:`MAX_JOBS` (argparse turns it into exit code 2).
    """
    try:
        return check_jobs(int(text))
    except (ValueError, ParameterError):
        raise argparse.ArgumentTypeError(
            f"jobs must be a whole number from 1 to {MAX_JOBS}, got {text!r}") from None


def check_workers(workers) -> int:
    """:func:`check_jobs` for the ``workers`` argument (blocks cleaned at once)."""
    return check_jobs(workers, "workers")


#: Threads the work on one recording may use (NMF blocks, FFTs; None: :func:`default_jobs`).
#: Blocks of a long file cleaned in parallel set it to 1 for their own thread.
recording_threads: ContextVar[int | None] = ContextVar("recording_threads", default=None)


def threads_for_recording() -> int:
    """The current value of :data:`recording_threads` (None -> :func:`default_jobs`)."""
    n = recording_threads.get()
    return default_jobs() if n is None else n


_blas_lock = threading.Lock()
_blas_state: dict = {"users": 0, "limiter": None}


def _release_blas_control() -> None:
    """Let any thread set OpenBLAS's (process-wide) thread count next.

    Recent threadpoolctl (3.8 here) lets one thread at a time change OpenBLAS's thread
    count: the first that sets it, until it leaves a ``with threadpool_limits(...)`` block;
    from any other thread the change silently does nothing. :func:`single_threaded_blas`
    sets the limit in whichever thread enters first and restores it in whichever leaves
    last, without ``with``, so it hands the control back around each change. (Older
    threadpoolctl has no such rule and no such method.)
    """
    controller = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(controller, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Single-threaded BLAS while any thread runs the method (re-entrant, thread-safe).

    threadpoolctl's limit is process-wide: the first thread in sets it, the last one out
    restores it, whichever threads those are (blocks cleaned in parallel threads, a
    ``like=`` example learned in the calling thread and then looked for in worker threads).
    Without it, BLAS's own threads run beside cleantake's and oversubscribe the cores.
    """
    with _blas_lock:
        if _blas_state["users"] == 0:
            _release_blas_control()
            _blas_state["limiter"] = threadpool_limits(1, user_api="blas")
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0:
                _release_blas_control()
                _blas_state["limiter"].restore_original_limits()
                _release_blas_control()
                _blas_state["limiter"] = None
