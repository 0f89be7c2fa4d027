"""Signals of a command-line run: SIGTERM and SIGHUP end it like Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["termination_as_interrupt"]


class termination_as_interrupt:
    """Context manager: SIGTERM and SIGHUP raise ``KeyboardInterrupt`` while it is active.

    By default ``kill`` (SIGTERM) or closing the terminal (SIGHUP) ends Python without running
    ``finally``/``__exit__`` code, which leaves a writer's hidden ``.part`` file behind (never
    a partial output). Inside this context they are handled like Ctrl-C, so temporary files
    are removed. Only effective in the main thread; a no-op elsewhere.

    Examples
    --------
    >>> with termination_as_interrupt():  # doctest: +SKIP
    ...     return args.func(args)
    """

    _SIGNALS = ("SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self._old: dict[int, Any] = {}

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    def __enter__(self) -> termination_as_interrupt:
        if threading.current_thread() is threading.main_thread():
            for name in self._SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._raise)
        return self

    def __exit__(self, *exc: Any) -> bool:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        return False
