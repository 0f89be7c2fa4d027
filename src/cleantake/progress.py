"""Progress of a long run: a bar with the time left on a terminal, plain lines elsewhere (logs,
nohup, CI), for `cleantake clean`, `inspect` and `batch`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

__all__ = ["Progress", "LINE_EVERY_S", "format_duration"]

#: Seconds between two plain progress lines when stderr is not a terminal (logs, nohup, CI).
LINE_EVERY_S = 10.0


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (e.g. ``72`` -> ``"1:12"``)."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Show a completed fraction: call it with 0..1, then :meth:`close`.

    On a terminal a tqdm bar shows the percentage, the time elapsed and the time left.
    Elsewhere a line ``cleantake: NAME: 45% (1:12 elapsed, ~1:28 left)`` is printed every
    ``every_s`` seconds (nothing for runs shorter than that).

    Parameters
    ----------
    name : str
        What is being done (the input's file name).
    quiet : bool
        Show nothing.
    stream : text file, optional
        Where to show it (default ``sys.stderr``).
    every_s : float, optional
        Seconds between plain lines (default :data:`LINE_EVERY_S`).
    clock : callable, optional
        Seconds since some instant (default ``time.monotonic``; tests pass their own).
    """

    def __init__(self, name: str, *, quiet: bool = False, stream: TextIO | None = None,
                 every_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.stream = sys.stderr if stream is None else stream
        self.every_s = float(LINE_EVERY_S if every_s is None else every_s)
        self.clock = clock
        self.t0 = clock()
        self.last_line = self.t0
        self.bar = None
        self.enabled = not quiet
        if self.enabled and self.stream.isatty():
            self.bar = tqdm(total=100, desc=name, unit="%", leave=False, file=self.stream,
                            bar_format="{l_bar}{bar}| {elapsed} elapsed, {remaining} left")

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        f = min(max(float(fraction), 0.0), 1.0)
        if self.bar is not None:
            step = int(round(100 * f)) - self.bar.n
            if step > 0:  # update() feeds tqdm's rate estimate, hence the time left
                self.bar.update(step)
            return
        now = self.clock()
        if now - self.last_line < self.every_s or f >= 1.0:
            return
        self.last_line = now
        elapsed = now - self.t0
        left = f"~{format_duration(elapsed * (1 - f) / f)} left" if f > 0.005 else "time left unknown"
        print(f"cleantake: {self.name}: {100 * f:.0f}% ({format_duration(elapsed)} elapsed, {left})",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar (nothing to do for plain lines)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
