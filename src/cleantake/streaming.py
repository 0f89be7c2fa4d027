"""Long recordings in blocks: bounded memory, whole-file-quality joins, never truncated.

:func:`clean_file_streaming` reads a file in overlapping blocks (:func:`cleantake.io.iter_blocks`),
cleans every block with a :class:`~cleantake.pipeline.Cleaner`, joins the *removed* parts
of consecutive blocks in their overlap and writes ``cleaned = input - removed`` (and the
removed part) progressively with :class:`~cleantake.io.AtomicAudioWriter`. Blocks are cleaned
by ``workers`` threads at once and joined in order: at most ``workers + 1`` blocks are held in
memory, whatever the length of the file.

How blocks are joined
    The method removes nothing away from the located events (the removed part is exactly
    zero there). In the overlap of two blocks the join is therefore made at a sample where
    *both* blocks removed nothing, the one nearest the middle of the overlap: there the two
    blocks agree exactly, so the switch from one to the other is seamless and each event is
    taken whole from one block, the one that saw it away from its edges. Only when no such
    sample exists (an event or two that together cover the whole overlap) are the two
    removed parts cross-faded over the overlap with a raised-cosine (sin^2) ramp, whose
    weights sum to one. Events are taken from the first block when they start before the
    join and from the second otherwise; events that then touch or overlap across the join
    are merged into one.

The last block is extended backwards to a full block (the samples come from the previous
block, already in memory), so no part of the file is analysed with less context than a
block.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import io as _io
from .errors import ParameterError
from .locate import Event

__all__ = ["clean_file_streaming", "locate_file_streaming", "join_removed", "merge_events", "default_workers"]

Progress = Callable[[float], None] | None


def join_removed(r_a: np.ndarray, r_b: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Join the removed parts of two blocks over their common samples.

    Parameters
    ----------
    r_a, r_b : np.ndarray [shape=(n_overlap, n_channels)], float
        What the earlier block (``r_a``) and the later block (``r_b``) removed over the
        samples both of them cover.

    Returns
    -------
    joined : np.ndarray [shape=(n_overlap, n_channels)], float64
        ``r_a`` before the join and ``r_b`` from it on (or their cross-fade).
    cut : int
        Index (in samples, within the overlap) of the join: events starting before it come
        from the earlier block, the others from the later one.
    crossfaded : bool
        True when no sample had both parts zero and a cross-fade was used.
    """
    n = r_a.shape[0]
    if r_b.shape != r_a.shape:
        raise ParameterError(f"overlaps differ in shape: {r_a.shape} and {r_b.shape}")
    if n == 0:
        return np.zeros_like(r_a, dtype=np.float64), 0, False
    both_zero = ~(np.any(r_a != 0, axis=1) | np.any(r_b != 0, axis=1))
    zeros = np.flatnonzero(both_zero)
    centre = n // 2
    if zeros.size:
        cut = int(zeros[np.argmin(np.abs(zeros - centre))])
        joined = np.concatenate([r_a[:cut], r_b[cut:]]).astype(np.float64, copy=False)
        return joined, cut, False
    # sin^2 ramp over the whole overlap: weights of the two blocks sum to 1 at every sample.
    w = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n)[:, None] ** 2
    return (1.0 - w) * r_a + w * r_b, centre, True


def merge_events(first: list[Event], second: list[Event], *, join_s: float) -> list[Event]:
    """Events of two consecutive blocks (already in file time), without duplicates.

    Parameters
    ----------
    first, second : list of Event
        Events of the earlier and the later block, times in seconds from the file start.
    join_s : float
        Time of the join: events of ``first`` that start before it and events of ``second``
        that end after it are kept.

    Returns
    -------
    list of Event
        Sorted by start; events that overlap (the same event seen by both blocks, each up
        to its own edge) are merged into one spanning both, with the label of the more
        confident one and the higher confidence.
    """
    kept = sorted([e for e in first if e.start_s < join_s] + [e for e in second if e.end_s > join_s],
                  key=lambda e: (e.start_s, e.end_s))
    out: list[Event] = []
    for e in kept:
        if out and e.start_s < out[-1].end_s:
            p = out[-1]
            best = p if p.confidence >= e.confidence else e
            out[-1] = Event(p.start_s, max(p.end_s, e.end_s), best.label, max(p.confidence, e.confidence))
        else:
            out.append(e)
    return out


def _shifted(events: list, offset_s: float, duration_s: float) -> list[Event]:
    out = []
    for e in events:
        s = round(e.start_s + offset_s, 6)
        t = round(min(e.end_s + offset_s, duration_s), 6)
        if t > s:
            out.append(Event(s, t, e.label, e.confidence))
    return out


def _check_blocks(block_s: float, overlap_s: float) -> None:
    for name, v in (("block_s", block_s), ("overlap_s", overlap_s)):
        if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ParameterError(f"{name} must be a finite number of seconds, got {v!r}")
    if not overlap_s > 0 or not block_s > 2 * overlap_s:
        raise ParameterError(
            f"need block_s > 2 x overlap_s > 0 (seconds), got block_s={block_s}, overlap_s={overlap_s}")


def _full_blocks(input_path, block_s: float, overlap_s: float, sr: int):
    """``(start, block)`` of a file (:func:`cleantake.io.iter_blocks`), the short last block
    extended backwards to a full block with samples of the previous one (nothing is analysed
    with less context than a block), but not before the end of the previous block's own
    overlap, where the join before it may lie."""
    block_n, overlap_n = _io.block_sizes(sr, block_s, overlap_s)
    prev = None
    for start, block in _io.iter_blocks(input_path, block_s=block_s, overlap_s=overlap_s):
        end = start + block.shape[0]
        if prev is not None and block.shape[0] < block_n:
            p_start, p_block = prev
            new_start = max(p_start + overlap_n, end - block_n)
            if new_start < start:
                block = np.concatenate([p_block[new_start - p_start: start - p_start], block])
                start = new_start
        yield start, block
        prev = (start, block)


def locate_file_streaming(
    input_path: str | Path,
    *,
    cleaner,
    block_s: float = 60.0,
    overlap_s: float = 4.0,
    progress: Progress = None,
) -> tuple[list[Event], _io.AudioInfo]:
    """Locate the interference of a long file block by block (``cleantake inspect``), in
    memory bounded by the block size; no audio is written.

    Blocks are those of :func:`clean_file_streaming`. Consecutive blocks are joined in the
    middle of their overlap: events starting before it come from the earlier block, the
    others from the later one, and an event seen by both is merged into one
    (:func:`merge_events`).

    Parameters
    ----------
    input_path : str or Path
    cleaner : cleantake.Cleaner
        Locates in every block (``cleaner.locate(block, sr)``).
    block_s, overlap_s : float
        As :func:`clean_file_streaming`.
    progress : callable(float), optional
        Called with the completed fraction (by samples, 0 to 1).

    Returns
    -------
    events : list of Event
        Times in seconds from the start of the file.
    info : cleantake.io.AudioInfo
    """
    _check_blocks(block_s, overlap_s)
    info = _io.probe(input_path)
    sr, n_total = info.samplerate, info.frames
    duration_s = n_total / sr
    events: list[Event] = []
    prev_end = None
    for start, block in _full_blocks(input_path, block_s, overlap_s, sr):
        ev = _shifted(cleaner.locate(block, sr), start / sr, duration_s)
        if prev_end is None:
            events = ev
        else:
            events = merge_events(events, ev, join_s=(start + prev_end) / 2 / sr)
        prev_end = start + block.shape[0]
        if progress is not None:
            progress(prev_end / max(n_total, 1))
    return events, info


def default_workers() -> int:
    """Blocks cleaned at once by default: the CPUs this process may use, at most 4."""
    from .pipeline import usable_cpus

    return min(4, usable_cpus())


def clean_file_streaming(
    input_path: str | Path,
    output_path: str | Path,
    *,
    cleaner,
    removed_path: str | Path | None = None,
    overwrite: bool = False,
    subtype: str | None = None,
    clip: str = "clip",
    block_s: float = 60.0,
    overlap_s: float = 4.0,
    progress: Progress = None,
    stats: dict | None = None,
    workers: int | None = None,
) -> tuple[list[Event], _io.AudioInfo]:
    """Clean a long audio file block by block, in memory bounded by the block size.

    The outputs are what :func:`cleantake.pipeline.clean_file` writes for a whole file: same
    sample rate, channels, length and (unless ``subtype``) sample format; written to a
    temporary file and renamed into place only when complete; ``cleaned + removed == input``
    sample-exactly for integer outputs (the cleaned part is rounded onto the output's sample
    grid and clipped as the writer clips it; the removed part is the rest).

    Parameters
    ----------
    input_path, output_path : str or Path
        Input recording and cleaned output.
    cleaner : cleantake.Cleaner
        Does the work on every block (``cleaner.clean(block, sr)``).
    removed_path : str or Path, optional
        Also write the removed part here.
    overwrite : bool
        Replace existing outputs.
    subtype : str, optional
        Output sample format (soundfile subtype such as ``"PCM_24"``); default: the input's.
    clip : {"clip", "error", "float"}
        Full-scale policy (see :mod:`cleantake.io`).
    block_s : float
        Block length in seconds (> 2 x ``overlap_s``); memory grows with it, not with the file.
        Longer blocks give the method more music to compare each event with.
    overlap_s : float
        Overlap of consecutive blocks in seconds (> 0). Blocks are joined where neither
        removed anything, so this should exceed the longest interference event (4 s covers
        coughs, slams and drops).
    progress : callable(float), optional
        Called with the completed fraction (by samples, 0 to 1, non-decreasing).
    workers : int, optional
        Blocks cleaned at the same time, in threads (default: the CPUs this process may use,
        at most 4). Memory grows with it (about 0.3 GB per minute-long stereo block at 44.1
        kHz); the output does not depend on it.
    stats : dict, optional
        Filled with ``"seconds"`` (per-stage seconds summed over blocks, plus ``"read"`` and
        ``"write"``), ``"blocks"`` and ``"crossfaded_joins"``.

    Returns
    -------
    events : list of Event
        Located interference, times in seconds from the start of the file.
    info : cleantake.io.AudioInfo
        The input's description.

    Raises
    ------
    ParameterError
        For invalid block sizes or output options.
    AudioReadError, AudioWriteError
        As :func:`cleantake.pipeline.clean_file`; no partial output is ever left.
    """
    _check_blocks(block_s, overlap_s)
    from .pipeline import check_workers

    n_workers = default_workers() if workers is None else check_workers(workers)
    outputs = [p for p in (output_path, removed_path) if p is not None]
    for p in outputs:
        _io.check_output(input_path, p, overwrite=overwrite)
    if len({str(Path(p).resolve()) for p in outputs}) != len(outputs):
        raise ParameterError("the output and removed paths must be different files")
    info = _io.probe(input_path)
    fmt, st = _io.output_format(output_path, like=info, subtype=subtype, clip=clip)
    if removed_path is not None:
        rfmt, rst = _io.output_format(removed_path, like=info, subtype=subtype, clip=clip)
    sr, n_total = info.samplerate, info.frames
    duration_s = n_total / sr
    block_n, overlap_n = _io.block_sizes(sr, block_s, overlap_s)
    rng = _io.full_scale_range(st)
    from .pipeline import _on_output_grid, recording_threads

    seconds: dict[str, float] = {}
    counts = {"blocks": 0, "crossfaded_joins": 0}
    user_report = progress or (lambda f: None)
    done = {"f": 0.0}

    def report(f: float) -> None:
        f = min(1.0, max(done["f"], f))
        done["f"] = f
        user_report(f)

    def add_time(stage: str, t0: float) -> float:
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - t0
        return now

    events: list[Event] = []
    with contextlib.ExitStack() as stack:
        w_clean = stack.enter_context(_io.AtomicAudioWriter(
            output_path, samplerate=sr, channels=info.channels, format=fmt, subtype=st,
            overwrite=overwrite, clip=clip, frames=n_total))
        w_rem = None
        if removed_path is not None:
            w_rem = stack.enter_context(_io.AtomicAudioWriter(
                removed_path, samplerate=sr, channels=info.channels, format=rfmt, subtype=rst,
                overwrite=overwrite, clip=clip, frames=n_total))

        def emit(x: np.ndarray, r: np.ndarray) -> None:
            """Write the finished samples ``x`` (input) with removed part ``r``."""
            t0 = time.perf_counter()
            cleaned = _on_output_grid(x - r, st)
            w_clean.write(cleaned)
            if w_rem is not None:
                written = cleaned if rng is None else np.clip(cleaned, *rng)
                w_rem.write(x - written)
            add_time("write", t0)

        def blocks():
            t0 = time.perf_counter()
            for start, block in _full_blocks(input_path, block_s, overlap_s, sr):
                add_time("read", t0)
                yield start, block
                t0 = time.perf_counter()

        # Progress: the completed fraction of every block, weighted by its length.
        n_blocks = 1 + max(0, math.ceil((n_total - block_n) / (block_n - overlap_n)))
        weight = 1.0 / (n_blocks * block_n)
        frac: dict[int, float] = {}
        frac_lock = threading.Lock()

        def block_progress(i: int, n: int) -> Callable[[float], None]:
            def cb(f: float) -> None:
                with frac_lock:
                    frac[i] = f * n
                    report(0.97 * weight * sum(frac.values()))
            return cb

        def clean_block(i: int, block: np.ndarray):
            # Parallelism is across blocks: one thread for each block's own NMF.
            token = recording_threads.set(1 if n_workers > 1 else None)
            try:
                return cleaner.clean(block, sr, progress=block_progress(i, block.shape[0]))
            finally:
                recording_threads.reset(token)

        # Blocks are cleaned by ``workers`` threads (the method's numpy work releases the
        # GIL) and joined strictly in order. State carried from one block to the next: the
        # previous block's samples and removed part from ``prev_start`` on (not yet written).
        prev_start = 0
        prev_x: np.ndarray | None = None
        prev_r: np.ndarray | None = None
        source = enumerate(blocks())
        pending: collections.deque = collections.deque()
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="cleantake"))
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)

        def submit_next() -> None:
            nxt = next(source, None)
            if nxt is not None:
                i, (start, block) = nxt
                pending.append((start, block, pool.submit(clean_block, i, block)))

        for _ in range(n_workers):
            submit_next()
        while pending:
            start, block, fut = pending.popleft()
            res = fut.result()
            submit_next()
            for k, v in res.stats.get("seconds", {}).items():
                seconds[k] = seconds.get(k, 0.0) + v
            counts["blocks"] += 1
            r = res.removed.reshape(block.shape)
            ev = _shifted(res.events, start / sr, duration_s)
            if prev_x is None:
                events = ev
            else:
                # Overlap: [start, prev_end). Write the previous block up to the join, keep
                # the current block from the join on.
                n_ov = prev_start + prev_x.shape[0] - start
                off = start - prev_start
                joined, cut, faded = join_removed(prev_r[off:], r[:n_ov])
                counts["crossfaded_joins"] += int(faded)
                emit(prev_x[:off], prev_r[:off])
                emit(block[:cut], joined[:cut])
                r = r.copy()
                r[:n_ov] = joined
                # ``events`` holds the previous blocks' events; those at or after this join
                # are replaced by this block's.
                events = merge_events(events, ev, join_s=(start + cut) / sr)
                # From here on only the part of this block after the join is pending.
                block, r, start = block[cut:], r[cut:], start + cut
            prev_start, prev_x, prev_r = start, block, r
        if prev_x is not None:
            emit(prev_x, prev_r)
    report(1.0)
    if stats is not None:
        stats["seconds"] = seconds
        stats.update(counts)
    return events, info
