"""Recordings in blocks: bounded memory, whole-file-quality joins, for any cleaner.

:func:`clean_blocks` cleans a sequence of overlapping blocks (such as :func:`file_blocks`
reads from a file) with any cleaner that has the :class:`cleantake.Cleaner` interface
(``clean(audio, sr, progress=...)`` returning ``removed`` and ``events``), joins the
*removed* parts of consecutive blocks in their overlap and hands every finished stretch of
samples, in order, to a callback (:mod:`cleantake.files` writes them). Blocks are cleaned
by ``workers`` threads at once and joined in order: at most ``workers + 1`` blocks are held
in memory, whatever the length of the recording. :func:`locate_blocks` does the same for
``locate`` (events only). A recording short enough to be analysed whole is one block.

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
import dataclasses
import functools
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import ParameterError
from .io import block_sizes, iter_blocks
from .locate import Event, overlaps_any
from .threads import check_workers, default_jobs, recording_threads

__all__ = [
    "STREAM_BLOCK_S",
    "STREAM_OVERLAP_S",
    "LIKE_WINDOW_S",
    "clean_blocks",
    "locate_blocks",
    "join_like_clean",
    "file_blocks",
    "array_blocks",
    "in_blocks",
    "like_window",
    "learn_like_for_blocks",
    "block_count",
    "check_blocks",
    "spans_in_block",
    "join_removed",
    "merge_events",
    "shift_events",
]

Progress = Callable[[float], None] | None
Span = tuple | Event

#: Recordings longer than twice this (seconds) are cleaned in overlapping blocks of this length:
#: 20 s, close to the 10-30 s the detector was trained and cross-validated on; on long
#: recordings it found more events with fewer false ones than 60-s blocks (BENCHMARKS.md 0a,
#: session 15).
STREAM_BLOCK_S = 20.0
#: Overlap of consecutive blocks (seconds); more than the longest interference event.
STREAM_OVERLAP_S = 4.0
#: The stretch of a recording cleaned in blocks from which ``like`` examples are learned
#: (seconds; two blocks if they are longer): the music around them that explains the rest.
LIKE_WINDOW_S = 120.0


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


def join_like_clean(first: list[Event], second: list[Event], *, start: int, n_overlap: int, sr: int,
                    reach_s: float | None) -> float:
    """Where :func:`clean_blocks` would join two consecutive blocks, from their events alone
    (seconds): what :func:`locate_blocks` joins the events at, so that ``inspect`` lists the
    events ``clean`` keeps.

    :func:`join_removed` cuts at the sample nearest the middle of the overlap where neither
    block removed anything; nothing is removed farther than ``reach_s`` from an event
    (``Settings.reach_s``), so that sample is taken as the one nearest the middle farther
    than ``reach_s`` (and a sample) from every event of both blocks, or the middle itself
    when there is none (the blocks are then cross-faded).

    Parameters
    ----------
    first, second : list of Event
        The earlier and the later block's own events, in the recording's time (seconds).
    start : int
        First sample of the overlap (the later block's first) in the recording.
    n_overlap : int
        Samples both blocks cover.
    sr : int
        Sample rate in Hz.
    reach_s : float or None
        How far beyond an event a block may remove something; None: the middle of the
        overlap (a cleaner whose reach is not known).

    Returns
    -------
    float
        The join, in seconds from the start of the recording.
    """
    centre = n_overlap // 2
    if reach_s is None or n_overlap <= 0:
        return (start + centre) / sr
    t = (start + np.arange(n_overlap)) / sr
    busy = np.zeros(n_overlap, bool)
    margin = reach_s + 1.0 / sr
    for e in (*first, *second):
        if e.end_s + margin >= t[0] and e.start_s - margin <= t[-1]:
            busy |= (t >= e.start_s - margin) & (t <= e.end_s + margin)
    free = np.flatnonzero(~busy)
    cut = int(free[np.argmin(np.abs(free - centre))]) if free.size else centre
    return (start + cut) / sr


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
        to its own edge) are merged into one spanning both, with the label (and strength) of
        the more confident one and the higher confidence.
    """
    kept = sorted([e for e in first if e.start_s < join_s] + [e for e in second if e.end_s > join_s],
                  key=lambda e: (e.start_s, e.end_s))
    out: list[Event] = []
    for e in kept:
        if out and e.start_s < out[-1].end_s:
            p = out[-1]
            best = p if p.confidence >= e.confidence else e
            out[-1] = dataclasses.replace(best, start_s=p.start_s, end_s=max(p.end_s, e.end_s),
                                          confidence=max(p.confidence, e.confidence))
        else:
            out.append(e)
    return out


def apart_from(candidates: list[Event], events: list[Event]) -> list[Event]:
    """The ``candidates`` that overlap none of ``events`` (a candidate of one block that the
    other block kept as an event is that event)."""
    return [c for c in candidates if not overlaps_any(c, events)]


def shift_events(events: list, offset_s: float, duration_s: float) -> list[Event]:
    """``events`` of a block starting ``offset_s`` seconds into a recording of ``duration_s``
    seconds, in the recording's time (rounded to the microsecond, cut at its end; events left
    empty dropped)."""
    out = []
    for e in events:
        s = round(e.start_s + offset_s, 6)
        t = round(min(e.end_s + offset_s, duration_s), 6)
        if t > s:
            out.append(dataclasses.replace(e, start_s=s, end_s=t))
    return out


def check_blocks(block_s: float, overlap_s: float) -> None:
    """Refuse block and overlap lengths (seconds) unless ``block_s > 2 * overlap_s > 0``."""
    for name, v in (("block_s", block_s), ("overlap_s", overlap_s)):
        if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ParameterError(f"{name} must be a finite number of seconds, got {v!r}")
    if not overlap_s > 0 or not block_s > 2 * overlap_s:
        raise ParameterError(
            f"need block_s > 2 x overlap_s > 0 (seconds), got block_s={block_s}, overlap_s={overlap_s}")


def in_blocks(n_total: int, sr: int, block_s: float | None) -> bool:
    """The long/short rule: a recording of ``n_total`` samples longer than ``2 * block_s``
    seconds is cleaned in blocks, a shorter one (or any with ``block_s`` None) as one."""
    return block_s is not None and n_total > 2 * block_s * sr


def file_blocks(input_path: str | Path, block_s: float, overlap_s: float,
                sr: int) -> Iterator[tuple[int, np.ndarray]]:
    """Overlapping blocks of a file, for :func:`clean_blocks` and :func:`locate_blocks`.

    Parameters
    ----------
    input_path : str or Path
    block_s, overlap_s : float
        Block and overlap lengths in seconds (see :func:`cleantake.io.iter_blocks`).
    sr : int
        The file's sample rate in Hz.

    Yields
    ------
    start : int
        Index in samples of the block's first sample in the file.
    block : np.ndarray [shape=(n, n_channels)], float64
        The blocks of :func:`cleantake.io.iter_blocks`, except that the short last block is
        extended backwards to a full block with samples of the previous one (nothing is
        analysed with less context than a block), but not before the end of the previous
        block's own overlap, where the join before it may lie.
    """
    block_n, overlap_n = block_sizes(sr, block_s, overlap_s)
    yield from _last_extended(iter_blocks(input_path, block_s=block_s, overlap_s=overlap_s), block_n, overlap_n)


def array_blocks(audio: np.ndarray, sr: int, block_s: float,
                 overlap_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """The blocks :func:`file_blocks` reads from a file, taken from an array in memory.

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples, n_channels)]
    sr : int
        Sample rate in Hz.
    block_s, overlap_s : float
        Block and overlap lengths in seconds.

    Yields
    ------
    start : int
        Index in samples of the block's first sample.
    block : np.ndarray [shape=(n, n_channels)]
        A view of ``audio``: the same blocks, extended last block included, as
        :func:`file_blocks` yields for the same samples in a file.
    """
    check_blocks(block_s, overlap_s)
    block_n, overlap_n = block_sizes(sr, block_s, overlap_s)
    n_total = audio.shape[0]

    def plain() -> Iterator[tuple[int, np.ndarray]]:
        start = 0
        while True:
            end = min(n_total, start + block_n)
            yield start, audio[start:end]
            if end >= n_total:
                return
            start += block_n - overlap_n

    yield from _last_extended(plain(), block_n, overlap_n)


def _last_extended(blocks: Iterable[tuple[int, np.ndarray]], block_n: int,
                   overlap_n: int) -> Iterator[tuple[int, np.ndarray]]:
    """``blocks`` with a short last block extended backwards (see :func:`file_blocks`)."""
    prev = None
    for start, block in blocks:
        end = start + block.shape[0]
        if prev is not None and block.shape[0] < block_n:
            p_start, p_block = prev
            new_start = max(p_start + overlap_n, end - block_n)
            if new_start < start:
                block = np.concatenate([p_block[new_start - p_start: start - p_start], block])
                start = new_start
        yield start, block
        prev = (start, block)


def _pairs(spans: Sequence[Span]) -> list[tuple[float, float]]:
    """Spans (tuples or Events) as ``(start_s, end_s)`` pairs."""
    return [(e.start_s, e.end_s) if isinstance(e, Event) else (float(e[0]), float(e[1])) for e in spans]


def like_window(like: Sequence[Span], n_total: int, sr: int, block_s: float) -> tuple[int, int]:
    """Where to learn the marked examples of a recording cleaned in blocks: the
    :data:`LIKE_WINDOW_S` seconds around them (``2 * block_s`` if that is longer), or the
    whole recording if it is shorter.

    Parameters
    ----------
    like : sequence of (start_s, end_s) or Event
        The marked examples, in seconds of the recording (checked, not empty).
    n_total : int
        Length of the recording in samples.
    sr : int
        Sample rate in Hz.
    block_s : float
        The block length in seconds.

    Returns
    -------
    start, stop : int
        The window in samples of the recording.

    Raises
    ------
    ParameterError
        If the examples are spread over more than the window (the message gives their times).
    """
    window = max(LIKE_WINDOW_S, 2 * block_s)
    spans = _pairs(like)
    first, last = min(a for a, _ in spans), max(b for _, b in spans)
    if last - first > window:
        raise ParameterError(
            f"like: on a recording longer than {2 * block_s:g} s (cleaned in blocks) the marked examples must lie "
            f"within {window:g} s of each other (they are learned from the music around them); these run from "
            f"{first:.3f} s to {last:.3f} s. Mark examples closer together, or clean the parts apart")
    duration_s = n_total / sr
    start = int(round(max(0.0, min(0.5 * (first + last) - 0.5 * window, duration_s - window)) * sr))
    return start, min(n_total, start + int(round(window * sr)))


def learn_like_for_blocks(cleaner, read: Callable[[int, int], np.ndarray], like: Sequence[Span],
                          keep: Sequence[Span] | None, n_total: int, sr: int, block_s: float):
    """What the marked examples of a recording cleaned in blocks teach, learned once from the
    stretch :func:`like_window` gives, for every block to look for (``like_model=``).

    Parameters
    ----------
    cleaner : cleantake.Cleaner or alike
        Learns (``cleaner.learn_like(audio, sr, like, keep=..., offset_s=...)``).
    read : callable(start, stop) -> np.ndarray [shape=(stop - start, n_channels)]
        The recording's samples ``start:stop``.
    like : sequence of (start_s, end_s) or Event
        The marked examples in seconds of the recording (checked, not empty).
    keep : sequence of spans, optional
        Music to keep, in seconds of the recording.
    n_total, sr, block_s
        Length of the recording (samples), sample rate (Hz), block length (s).

    Returns
    -------
    LikeModel

    Raises
    ------
    ParameterError
        Examples spread too far apart (:func:`like_window`), a cleaner that cannot learn, or
        what ``learn_like`` refuses (times in the recording).
    """
    learn = getattr(cleaner, "learn_like", None)
    if learn is None:
        raise ParameterError("like: this cleaner cannot learn from examples (it has no learn_like)")
    start, stop = like_window(like, n_total, sr, block_s)
    t0, n_window = start / sr, (stop - start) / sr
    spans = _pairs(like)
    marks = [(max(0.0, a - t0), min(n_window, b - t0)) for a, b in spans]
    kept = spans_in_block(keep, t0, stop / sr) if keep else None
    return learn(read(start, stop), sr, marks, keep=kept, offset_s=t0)


def block_count(n_total: int, block_n: int, overlap_n: int) -> int:
    """Number of blocks :func:`file_blocks` yields for ``n_total`` samples (at least 1)."""
    return 1 + max(0, math.ceil((n_total - block_n) / (block_n - overlap_n)))



def spans_in_block(spans: Sequence[Span] | None, start_s: float, end_s: float) -> list | None:
    """Spans in file time shifted to block time (``start_s`` becomes 0) and cut to the block.

    Parameters
    ----------
    spans : sequence of (start_s, end_s), (start_s, end_s, strength) or Event, or None
        Times in seconds from the start of the file.
    start_s, end_s : float
        The block's first and last instant in file time (seconds).

    Returns
    -------
    list or None
        The spans that overlap the block, each of the same kind as given (tuples keep their
        extra items, events their label and confidence); None when ``spans`` is None.
    """
    if spans is None:
        return None
    out = []
    for sp in spans:
        if isinstance(sp, Event):
            a, b, rest = sp.start_s, sp.end_s, None
        else:
            a, b, *rest = sp
        a, b = max(float(a), start_s) - start_s, min(float(b), end_s) - start_s
        if b <= a:
            continue
        out.append(dataclasses.replace(sp, start_s=a, end_s=b) if rest is None else (a, b, *rest))
    return out


def _whole(cleaner) -> dict:
    """What makes ``cleaner`` analyse each block it is handed whole: ``block_s=None`` for a
    cleaner that would cut a long array into blocks itself (``cuts_blocks``, as
    :class:`cleantake.Cleaner`), nothing for another."""
    return {"block_s": None} if getattr(cleaner, "cuts_blocks", False) else {}


def _span_kwargs(name: str, spans, start: int, n: int, sr: int) -> dict:
    return {} if spans is None else {name: spans_in_block(spans, start / sr, (start + n) / sr)}


def _like_kwargs(like, like_model, start: int, n: int, sr: int) -> dict:
    """``like=`` for one block, and ``like_model=`` when the example was learned beforehand
    (then every block gets its marked spans, possibly none)."""
    if like_model is None:
        return _span_kwargs("like", like, start, n, sr)
    return {"like": spans_in_block(like or [], start / sr, (start + n) / sr), "like_model": like_model}


def _in_order(blocks: Iterable[tuple[int, np.ndarray]], work: Callable[[int, int, np.ndarray], object],
              n_workers: int, pooled: bool) -> Iterator[tuple[int, np.ndarray, object]]:
    """``(start, block, work(i, start, block))`` for the blocks, in their order.

    With ``pooled`` the work runs in ``n_workers`` threads (the method's numpy work releases the
    GIL), one block more than the workers in flight: blocks are joined in order, so a worker
    that finishes a block while an earlier one is still at work starts the next at once instead
    of waiting for the join (an hour of stereo cleaned: 86 -> 82.5 s on two cores, the same CPU
    time; BENCHMARKS.md 3, session 39). Close the generator (``contextlib.closing``) to stop:
    the blocks not started are cancelled, those started finish first.
    """
    source = enumerate(blocks)
    pending: collections.deque = collections.deque()
    with contextlib.ExitStack() as stack:
        if pooled:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="cleantake"))
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)

        def submit_next() -> None:
            nxt = next(source, None)
            if nxt is not None:
                i, (start, block) = nxt
                pending.append((start, block, pool.submit(work, i, start, block) if pooled
                                else work(i, start, block)))

        for _ in range(n_workers + 1 if pooled and n_workers > 1 else 1):
            submit_next()
        while pending:
            start, block, fut = pending.popleft()
            res = fut.result() if pooled else fut
            submit_next()
            yield start, block, res


def locate_blocks(blocks: Iterable[tuple[int, np.ndarray]], *, cleaner, sr: int, n_total: int,
                  keep: Sequence[Span] | None = None, like: Sequence[Span] | None = None,
                  like_model=None, progress: Progress = None, candidates: list | None = None,
                  workers: int | None = None) -> list[Event]:
    """Locate the interference of a recording given in overlapping blocks.

    Consecutive blocks are joined where :func:`clean_blocks` would join them
    (:func:`join_like_clean`: near the middle of their overlap, away from both blocks' events
    by the cleaner's ``settings.reach_s``; in the middle for a cleaner without settings):
    events starting before it come from the earlier block, the others from the later one, and
    an event seen by both is merged into one (:func:`merge_events`).

    Parameters
    ----------
    blocks : iterable of (start, block)
        ``start`` in samples from the start of the recording, ``block`` of shape
        ``(n, n_channels)`` (e.g. :func:`file_blocks`, or ``[(0, audio)]``).
    cleaner : cleantake.Cleaner or alike
        Locates in every block (``cleaner.locate(block, sr, progress=...)``).
    sr : int
        Sample rate in Hz.
    n_total : int
        Length of the recording in samples.
    keep : sequence of spans, optional
        Spans in seconds of the recording to leave alone, passed on (cut to each block) as
        ``cleaner.locate(..., keep=...)``.
    like, like_model : optional
        The marked example(s) in seconds of the recording, and what was learned from them
        (:meth:`cleantake.Cleaner.learn_like`): every block looks for events like them, and
        repairs the marked spans that fall in it (``cleaner.locate(..., like=...,
        like_model=...)``). ``like`` without ``like_model``: passed on cut to each block.
    progress : callable(float), optional
        Called with the completed fraction (by samples, 0 to 1, non-decreasing).
    candidates : list, optional
        Filled with the candidates for review (``cleaner.locate(..., return_candidates=True)``),
        joined as the events are and without those that overlap an event.
    workers : int, optional
        Blocks located at the same time, in threads, as :func:`clean_blocks` cleans them
        (default: the CPUs this process may use, at most 4); the events do not depend on it.

    Returns
    -------
    list of Event
        Times in seconds from the start of the recording.
    """
    n_workers = default_jobs() if workers is None else check_workers(workers)
    duration_s = n_total / sr
    events: list[Event] = []
    cands: list[Event] = []
    prev_end = None
    prev_own: list[Event] = []
    settings = getattr(cleaner, "settings", None)
    reach_s = settings.reach_s(sr, like=bool(like)) if hasattr(settings, "reach_s") else None
    user_report = progress or (lambda f: None)
    # Several blocks: located in ``n_workers`` pool threads, each block's own work single-threaded
    # when several run at once (as clean_blocks). One block: in this thread, with the recording's
    # threads.
    source = iter(blocks)
    head = list(itertools.islice(source, 2))
    pooled = len(head) > 1
    parallel = pooled and n_workers > 1
    # Progress by samples: each block's new samples (from the previous block's end on), done as
    # far as its own progress says; reported non-decreasing.
    spans: list[tuple[int, int]] = []
    done_samples: dict[int, float] = {}
    lock = threading.Lock()
    reported = {"f": 0.0}

    def advance(i: int, f: float) -> None:
        a, b = spans[i]
        with lock:
            done_samples[i] = max(0.0, min(1.0, f)) * (b - a)
            reported["f"] = max(reported["f"], sum(done_samples.values()) / max(n_total, 1))
            user_report(reported["f"])

    def spanned() -> Iterator[tuple[int, np.ndarray]]:
        for start, block in itertools.chain(head, source):  # read (and spanned) in order
            spans.append((spans[-1][1] if spans else 0, start + block.shape[0]))
            yield start, block

    def locate_block(i: int, start: int, block: np.ndarray):
        kw = {**_span_kwargs("keep", keep, start, block.shape[0], sr),
              **_like_kwargs(like, like_model, start, block.shape[0], sr), **_whole(cleaner)}
        token = recording_threads.set(1 if parallel else None)
        try:
            cb = functools.partial(advance, i)
            if candidates is None:
                return cleaner.locate(block, sr, progress=cb, **kw), []
            return cleaner.locate(block, sr, progress=cb, return_candidates=True, **kw)
        finally:
            recording_threads.reset(token)

    with contextlib.closing(_in_order(spanned(), locate_block, n_workers, pooled)) as results:
        for i, (start, block, (found, below)) in enumerate(results):
            advance(i, 1.0)
            ev = shift_events(found, start / sr, duration_s)
            cv = shift_events(below, start / sr, duration_s)
            if prev_end is None:
                events, cands = ev, cv
            else:
                # Joined where clean_blocks would join the removed parts (join_like_clean).
                join_s = join_like_clean(prev_own, ev, start=start, n_overlap=prev_end - start, sr=sr,
                                         reach_s=reach_s)
                events = merge_events(events, ev, join_s=join_s)
                cands = merge_events(cands, cv, join_s=join_s)
            prev_end = start + block.shape[0]
            prev_own = ev
    if candidates is not None:
        candidates[:] = apart_from(cands, events)
    return events


def clean_blocks(
    blocks: Iterable[tuple[int, np.ndarray]],
    *,
    cleaner,
    sr: int,
    n_total: int,
    n_blocks: int,
    emit: Callable[[np.ndarray, np.ndarray], None],
    events: Sequence[Span] | None = None,
    keep: Sequence[Span] | None = None,
    like: Sequence[Span] | None = None,
    like_model=None,
    progress: Progress = None,
    workers: int | None = None,
    stats: dict | None = None,
    candidates: list | None = None,
) -> list[Event]:
    """Clean a recording given in overlapping blocks; hand the finished samples on in order.

    Parameters
    ----------
    blocks : iterable of (start, block)
        ``start`` in samples from the start of the recording, ``block`` of shape
        ``(n, n_channels)``; consecutive blocks overlap (e.g. :func:`file_blocks`). A single
        block ``[(0, audio)]`` is the whole recording analysed at once.
    cleaner : cleantake.Cleaner or alike
        Does the work on every block (``cleaner.clean(block, sr, progress=...)``).
    sr : int
        Sample rate in Hz.
    n_total : int
        Length of the recording in samples.
    n_blocks : int
        Number of blocks (for progress and to know whether to use threads).
    emit : callable(x, r)
        Called, in order, with every finished stretch of input samples ``x`` and the part
        ``r`` removed from them (both ``(n, n_channels)``); together the calls cover the
        recording exactly once.
    events, keep : sequence of spans, optional
        Spans in seconds of the recording (``(start_s, end_s)``, ``(start_s, end_s,
        strength)`` or Event) passed on, shifted and cut to each block, as
        ``cleaner.clean(..., events=..., keep=...)``. None: not passed.
    like : sequence of spans, optional
        Examples of the interference (seconds in file time), passed on cut to each block as
        ``cleaner.clean(..., like=...)``. A block without an example learns nothing from them:
        for several blocks pass ``like_model`` too.
    like_model : LikeModel, optional
        What was learned from the examples (:meth:`cleantake.Cleaner.learn_like`, on a stretch
        of the recording around them): every block finds the events like them and repairs
        the marked spans that fall in it (``cleaner.clean(..., like=..., like_model=...)``).
    progress : callable(float), optional
        Called with the completed fraction (by samples, non-decreasing, at most 0.97: the
        caller says when it is done).
    workers : int, optional
        Blocks cleaned at the same time, in threads (default: the CPUs this process may use,
        at most 4); one block more than these is read ahead and queued. Memory grows with it
        (about 0.1 GB per 20-s stereo block at 44.1 kHz); the output does not depend on it.
    stats : dict, optional
        Filled with ``"seconds"`` (per-stage seconds summed over blocks, plus ``"read"`` and
        ``"write"``), ``"blocks"``, ``"crossfaded_joins"`` and ``"screened_blocks"`` (blocks
        whose NMF analysis was not needed: ``CleanResult.stats["screened"]``).
    candidates : list, optional
        Filled with the candidates for review (``CleanResult.candidates``), joined as the
        events are and without those that overlap an event.

    Returns
    -------
    list of Event
        Located interference, times in seconds from the start of the recording.
    """
    n_workers = default_jobs() if workers is None else check_workers(workers)
    duration_s = n_total / sr
    seconds: dict[str, float] = {}
    counts = {"blocks": 0, "crossfaded_joins": 0, "screened_blocks": 0}
    user_report = progress or (lambda f: None)
    done = {"f": 0.0}
    # Several blocks: cleaned in ``n_workers`` pool threads (even one), each block's own work
    # single-threaded when several run at once. One block: in this thread, with the
    # recording's threads (Ctrl-C then stops the work at once).
    pooled = n_blocks > 1
    parallel = pooled and n_workers > 1

    def report(f: float) -> None:
        f = min(1.0, max(done["f"], f))
        done["f"] = f
        user_report(f)

    def add_time(stage: str, t0: float) -> float:
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - t0
        return now

    def timed_emit(x: np.ndarray, r: np.ndarray) -> None:
        t0 = time.perf_counter()
        emit(x, r)
        add_time("write", t0)

    def timed_blocks():
        t0 = time.perf_counter()
        for start, block in blocks:
            add_time("read", t0)
            yield start, block
            t0 = time.perf_counter()

    # Progress: the completed fraction of every block, weighted by its length.
    frac: dict[int, float] = {}
    frac_lock = threading.Lock()
    total_weight = {"n": None}

    def block_progress(i: int, n: int) -> Callable[[float], None]:
        if total_weight["n"] is None:  # every block is as long as the first (the last is extended)
            total_weight["n"] = n_blocks * n
        weight = 1.0 / total_weight["n"]

        def cb(f: float) -> None:
            with frac_lock:
                frac[i] = f * n
                report(0.97 * weight * sum(frac.values()))
        return cb

    def clean_block(i: int, start: int, block: np.ndarray):
        kw = _span_kwargs("events", events, start, block.shape[0], sr)
        kw.update(_span_kwargs("keep", keep, start, block.shape[0], sr))
        kw.update(_like_kwargs(like, like_model, start, block.shape[0], sr))
        kw.update(_whole(cleaner))
        # Parallelism is across blocks: one thread for each block's own NMF.
        token = recording_threads.set(1 if parallel else None)
        try:
            return cleaner.clean(block, sr, progress=block_progress(i, block.shape[0]), **kw)
        finally:
            recording_threads.reset(token)

    found: list[Event] = []
    below: list[Event] = []
    # Blocks are cleaned by ``workers`` threads and joined strictly in order. State carried from
    # one block to the next: the previous block's samples and removed part from ``prev_start``
    # on (not yet emitted).
    prev_start = 0
    prev_x: np.ndarray | None = None
    prev_r: np.ndarray | None = None
    with contextlib.closing(_in_order(timed_blocks(), clean_block, n_workers, pooled)) as results:
        for start, block, res in results:
            for k, v in res.stats.get("seconds", {}).items():
                seconds[k] = seconds.get(k, 0.0) + v
            counts["blocks"] += 1
            counts["screened_blocks"] += int(bool(res.stats.get("screened")))
            r = res.removed.reshape(block.shape)
            ev = shift_events(res.events, start / sr, duration_s)
            cv = shift_events(getattr(res, "candidates", []), start / sr, duration_s)
            if prev_x is None:
                found, below = ev, cv
            else:
                # Overlap: [start, prev_end). Emit the previous block up to the join, keep
                # the current block from the join on.
                n_ov = prev_start + prev_x.shape[0] - start
                off = start - prev_start
                joined, cut, faded = join_removed(prev_r[off:], r[:n_ov])
                counts["crossfaded_joins"] += int(faded)
                timed_emit(prev_x[:off], prev_r[:off])
                timed_emit(block[:cut], joined[:cut])
                r = r.copy()
                r[:n_ov] = joined
                # ``found`` holds the previous blocks' events; those at or after this join
                # are replaced by this block's.
                found = merge_events(found, ev, join_s=(start + cut) / sr)
                below = merge_events(below, cv, join_s=(start + cut) / sr)
                # From here on only the part of this block after the join is pending.
                block, r, start = block[cut:], r[cut:], start + cut
            prev_start, prev_x, prev_r = start, block, r
        if prev_x is not None:
            timed_emit(prev_x, prev_r)
    if stats is not None:
        stats["seconds"] = seconds
        stats.update(counts)
    if candidates is not None:
        candidates[:] = apart_from(below, found)
    return found
