"""From a file to a file: what ``cleantake clean`` and ``cleantake inspect`` do.

:func:`clean_file` and :func:`locate_file` share one path:

1. **Pre-flight** (:func:`preflight`): every option and output is checked before the input
   is read: the optional packages asked for (matplotlib for a report), the label format,
   the report folder, every output path (not the input, not existing without
   ``overwrite``, folder writable, all different), the output formats (a lossy input
   subtype such as MP3 maps to the container's natural PCM, see :func:`cleantake.io.output_format`)
   and the number of workers. Temporary files of an earlier killed run are removed then.
   Nothing is written when something is refused.
2. **One rule for long and short**: a recording longer than ``2 * block_s`` is read and
   cleaned in overlapping blocks of ``block_s`` seconds (memory bounded by the block
   length); a shorter one is one block. Both go through :func:`cleantake.streaming.clean_blocks`.
3. **One writer**: the cleaned part is rounded onto the output's sample grid and clipped as
   the writer clips it, and the removed part is the rest of the input, so ``cleaned +
   removed == input`` sample-exactly for integer outputs. Outputs are written to hidden
   temporary files and renamed into place only when complete.
4. Labels, then the report (drawn from the arrays in memory for one block, from the files
   as written, read back piece by piece, for blocks).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import remove_stale_temp_files
from .errors import AudioWriteError, ParameterError
from .io import (AtomicAudioWriter, AudioInfo, FileSamples, block_sizes, check_output, full_scale_range,
                 on_output_grid, output_format, probe, read_audio)
from .labels import LABEL_FORMATS, check_spans, write_labels
from .like import LikeModel, merge_like_models
from .optional import require
from .report import write_report
from .streaming import (STREAM_BLOCK_S, STREAM_OVERLAP_S, block_count, check_blocks, clean_blocks, file_blocks,
                        in_blocks, learn_like_for_blocks, locate_blocks)
from .threads import check_workers

__all__ = [
    "STREAM_BLOCK_S",
    "STREAM_OVERLAP_S",
    "FileResult",
    "FilePlan",
    "preflight",
    "clean_file",
    "locate_file",
    "learn_like_file",
]

Progress = Callable[[float], None] | None


@dataclass
class FileResult:
    """Summary of :func:`clean_file` / :func:`locate_file`.

    Attributes
    ----------
    events : list of Event
        Located (and, for :func:`clean_file`, removed) interference, seconds from the start.
    duration_s : float
        Length of the input in seconds.
    sr : int
        Sample rate in Hz.
    channels : int
    output, removed_output, labels_output, candidates_output, report_output : Path or None
        Files written.
    stats : dict
        ``"blocks"``, ``"crossfaded_joins"``, ``"screened_blocks"`` and ``"seconds"`` (per
        stage, summed over blocks, plus ``"read"`` and ``"write"``) for :func:`clean_file`
        (see :func:`cleantake.streaming.clean_blocks`).
    candidates : list of Event
        Events the detector was less sure of (``CleanResult.candidates``): not removed,
        listed unticked in the report for review, not in the label file.
    input_format, output_format : tuple of (str, str) or None
        The input's and the cleaned output's libsndfile container and subtype (e.g.
        ``("FLAC", "PCM_24")``); ``output_format`` None for :func:`locate_file`.
    copied : bool
        Nothing was removed and the output is a byte-for-byte copy of the input file.
    """

    events: list
    duration_s: float
    sr: int
    channels: int
    output: Path | None = None
    removed_output: Path | None = None
    labels_output: Path | None = None
    report_output: Path | None = None
    candidates_output: Path | None = None
    stats: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)
    input_format: tuple[str, str] | None = None
    output_format: tuple[str, str] | None = None
    copied: bool = False


@dataclass(frozen=True)
class FilePlan:
    """What :func:`preflight` decided: the input and each output's container and subtype.

    Attributes
    ----------
    info : AudioInfo
        The input.
    output_format, removed_format : tuple of (format, subtype) or None
        libsndfile container and subtype of the cleaned and removed outputs.
    workers : int or None
        Blocks cleaned at once (checked).
    """

    info: AudioInfo
    output_format: tuple[str, str] | None
    removed_format: tuple[str, str] | None
    workers: int | None


def _check_labels_path(path) -> None:
    ext = Path(path).suffix.lower()
    if ext not in LABEL_FORMATS:
        raise ParameterError(
            f"labels {str(path)!r}: unknown extension {ext or '(none)'!r}; use one of "
            f"{', '.join(sorted(LABEL_FORMATS))} (.txt = Audacity label track)")


def _check_report_dir(path) -> None:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise AudioWriteError(f"report folder {str(p)!r} is a file, not a folder")
    parent = p.parent if str(p.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise AudioWriteError(f"report folder {str(p)!r}: {str(parent)!r} is a file, not a folder")


def preflight(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    *,
    removed_path: str | os.PathLike | None = None,
    labels_path: str | os.PathLike | None = None,
    report_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    subtype: str | None = None,
    clip: str = "clip",
    workers: int | None = None,
    candidates_path: str | os.PathLike | None = None,
) -> FilePlan:
    """Check every option and output of :func:`clean_file` / :func:`locate_file` before work.

    Parameters are those of :func:`clean_file` (``output_path`` None: only locating).

    Returns
    -------
    FilePlan

    Raises
    ------
    MissingDependencyError
        A report is asked for and matplotlib is not installed.
    ParameterError
        Unknown label extension, bad subtype or clip policy, bad ``workers``, two outputs
        naming the same file.
    AudioWriteError
        An output that is the input, exists without ``overwrite``, or lies in a missing or
        unwritable folder; an unwritable format; a report folder that is a file.
    AudioReadError
        The input is missing, not audio, truncated or unsupported.
    """
    if workers is not None:
        workers = check_workers(workers)
    if report_dir is not None:
        require("matplotlib.figure", extra="report")
        _check_report_dir(report_dir)
    for p in (labels_path, candidates_path):
        if p is not None:
            _check_labels_path(p)
    outputs = [p for p in (output_path, removed_path, labels_path, candidates_path) if p is not None]
    if len({os.path.realpath(p) for p in outputs}) != len(outputs):
        raise ParameterError("the output, removed, labels and candidates paths must all be different files")
    for p in outputs:
        check_output(input_path, p, overwrite=overwrite)
    info = probe(input_path)
    fmt = rfmt = None
    if output_path is not None:
        fmt = output_format(output_path, like=info, subtype=subtype, clip=clip)
    if removed_path is not None:
        rfmt = output_format(removed_path, like=info, subtype=subtype, clip=clip)
    for p in outputs:  # what a killed earlier run left beside these outputs
        remove_stale_temp_files(p)
    return FilePlan(info, fmt, rfmt, workers)


def _checked_spans(spans: Sequence | None, info: AudioInfo, name: str) -> list | None:
    """Spans of ``events``/``keep`` checked against the recording (seconds), before any work.

    Events and their strengths pass through unchanged (checking keeps their type); a span
    outside the recording, reversed, empty, with a strength outside 0..1 or overlapping
    another is refused with a message in seconds.
    """
    if spans is None:
        return None
    spans = list(spans)
    checked = check_spans(spans, duration_s=info.duration_s, name=name)
    if name in ("keep", "like"):  # music to keep, examples to learn from: plain (start_s, end_s)
        return [(sp.start_s, sp.end_s) for sp in checked]
    return spans


def _stamp(path) -> tuple[int, int, int] | None:
    """Identity, size and modification time of a file (whether it is still the one that was
    read); None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _like_model(cleaner, input_path, like: list | None, keep: list | None, info: AudioInfo, block_s: float,
                given: LikeModel | None = None, events: list | None = None):
    """What the examples teach: ``given`` (learned in another recording), merged with what the
    ``like`` spans of this one teach when both are given; or, for a recording cleaned in
    blocks with ``like`` alone, what its marked examples teach
    (:func:`cleantake.streaming.learn_like_for_blocks`, reading the stretch around them from
    the file). None for a one-block recording with ``like`` alone (it learns from itself) or
    without either."""
    if given is not None:
        if events is not None:
            raise ParameterError("give like_model (an example learned from another recording) or events, not both")
        if not isinstance(given, LikeModel):
            raise ParameterError(f"like_model must be a cleantake.like.LikeModel (load_like_model reads one "
                                 f"from a file), got {type(given).__name__}")
        if like is None:
            return given
    elif like is None or not in_blocks(info.frames, info.samplerate, block_s):
        return None
    own = _learn_in_file(cleaner, input_path, info, like, keep, block_s)
    return own if given is None else merge_like_models([own, given])


def _learn_in_file(cleaner, input_path, info: AudioInfo, like: list, keep: list | None, block_s: float) -> LikeModel:
    """The examples ``like`` (checked spans) learned from the stretch around them, read from the
    file (:func:`cleantake.streaming.learn_like_for_blocks`), with ``source`` naming them."""
    sr = info.samplerate

    def read(start: int, stop: int) -> np.ndarray:
        return read_audio(input_path, start_s=start / sr, stop_s=stop / sr)[0]

    model = learn_like_for_blocks(cleaner, read, like, keep, info.frames, sr, block_s)
    return dataclasses.replace(model, source={"file": Path(input_path).name, "samplerate": sr,
                                              "spans": [[float(a), float(b)] for a, b in like]})


def learn_like_file(input_path: str | os.PathLike, *, cleaner, like: Sequence, keep: Sequence | None = None,
                    block_s: float = STREAM_BLOCK_S) -> LikeModel:
    """Learn the interference marked in a file, to look for it in other recordings
    (``cleantake learn --like``; :func:`clean_file` and :func:`locate_file` take the result as
    ``like_model=``, :func:`cleantake.like.save_like_model` writes it).

    Parameters
    ----------
    input_path : str or path-like
    cleaner : cleantake.Cleaner
        Learns (``cleaner.learn_like``), with its settings and dictionary (the model is then
        used with the same settings; ``Cleaner("none")`` learns only what was marked).
    like : sequence of spans
        The marked examples in seconds, as :func:`clean_file`'s ``like`` (within 120 s of each
        other on a recording longer than ``2 * block_s``: they are learned from the 120 s
        around them, as the file's own blocks would be).
    keep : sequence of spans, optional
        Music in the stretch learned from that must not be taken for the example.
    block_s : float
        As :func:`clean_file`.

    Returns
    -------
    LikeModel
        With ``source`` naming the file and the spans.

    Raises
    ------
    AudioReadError, ParameterError
        An unreadable input; a span outside the recording, too short, silent, or holding
        nothing the music does not explain (times in seconds).
    """
    if like is None or not list(like):
        raise ParameterError("learning from a recording needs at least one marked example (--like SPAN)")
    info = probe(input_path)
    return _learn_in_file(cleaner, input_path, info, _checked_spans(like, info, "like"),
                          _checked_spans(keep, info, "keep"), block_s)


def _run_info(cleaner, input_path, outputs: Sequence, *, events_from: str | None) -> dict:
    """What the report records of the run (see :func:`cleantake.report.write_report`)."""
    settings = getattr(cleaner, "settings", None)
    dictionary = getattr(cleaner, "dictionary", None)
    info = {"input": str(input_path), "outputs": [str(p) for p in outputs if p is not None]}
    if getattr(cleaner, "method", None) is not None:
        info["method"] = cleaner.method
    if dictionary is not None:
        info["interference"] = getattr(dictionary, "name", str(dictionary))
    if settings is not None and dataclasses.is_dataclass(settings):
        info["strength"] = float(settings.strength)
        info["settings"] = {k: v for k, v in dataclasses.asdict(settings).items() if k != "strength"}
    if events_from is not None:
        info["events_from"] = events_from
    return info


def clean_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    cleaner,
    removed_path: str | os.PathLike | None = None,
    labels_path: str | os.PathLike | None = None,
    candidates_path: str | os.PathLike | None = None,
    overwrite: bool = False,
    subtype: str | None = None,
    clip: str = "clip",
    report_dir: str | os.PathLike | None = None,
    report_name: str | None = None,
    progress: Progress = None,
    workers: int | None = None,
    events: Sequence | None = None,
    keep: Sequence | None = None,
    like: Sequence | None = None,
    like_model: LikeModel | None = None,
    block_s: float = STREAM_BLOCK_S,
    overlap_s: float = STREAM_OVERLAP_S,
) -> FileResult:
    """Clean one audio file into another, safely (what ``cleantake clean`` does).

    The output keeps the input's sample rate, channel count, channel layout, length and
    (unless ``subtype`` is given) sample format; where nothing is removed and the output has
    the input's format and subtype, it is a byte-for-byte copy of the input file (a lossy
    input is not encoded again). Every output is written to a temporary file and renamed into
    place; the input is never modified; existing outputs are kept unless ``overwrite``.

    Parameters
    ----------
    input_path, output_path : str or path-like
    cleaner : cleantake.Cleaner
        Does the work (``cleaner.clean(block, sr, progress=...)``).
    removed_path : str or path-like, optional
        Also write the removed interference here (``cleaned + removed == input``).
    labels_path : str or path-like, optional
        Write the located events (Audacity labels ``.txt``; ``.json`` / ``.csv``).
    candidates_path : str or path-like, optional
        Write the candidates for review (not repaired; ``FileResult.candidates``) in the same
        formats: a second label track to review in Audacity, whose real events can be moved to
        the events' track and repaired with ``--events``.
    overwrite : bool
        Replace existing outputs.
    subtype : str, optional
        Output sample format (soundfile subtype such as ``"PCM_24"``, ``"FLOAT"``).
    clip : {"clip", "error", "float"}
        What to do with samples beyond full scale (see :mod:`cleantake.io`).
    report_dir : str or path-like, optional
        Write an HTML report there.
    report_name : str, optional
        File name of the report in ``report_dir`` (default: derived from the input's name;
        see :func:`cleantake.report.report_filename`).
    progress : callable(float), optional
        Called with the completed fraction (0 to 1, non-decreasing, 1 at the end).
    workers : int, optional
        Blocks cleaned at a time (1 to 256; default: the CPUs, at most 4). The output does
        not depend on it.
    events : sequence of spans, optional
        Spans in seconds to remove instead of locating: ``(start_s, end_s)``, ``(start_s,
        end_s, strength)`` or Event; passed on (cut to each block) as
        ``cleaner.clean(..., events=...)``.
    keep : sequence of spans, optional
        Spans in seconds never to touch, passed on as ``cleaner.clean(..., keep=...)``.
    like : sequence of spans, optional
        Spans in seconds that hold examples of the interference: it is learned from them and
        every similar event is removed (``cleaner.clean(..., like=...)``). On a recording
        cleaned in blocks the examples are learned once, from the 120 s around them
        (:data:`cleantake.streaming.LIKE_WINDOW_S`, or ``2 * block_s`` if longer; they must
        lie within that of each other), and every block looks for
        events like them (``Cleaner.learn_like``, ``like_model=``).
    like_model : LikeModel, optional
        An example learned from another recording (:func:`learn_like_file`,
        :func:`cleantake.like.load_like_model`): every event like it is found and removed
        (with the cleaner's own dictionary's events too, unless it is ``"none"``). With
        ``like`` too, the examples marked here are learned and looked for together with it
        (:func:`cleantake.like.merge_like_models`). Not with ``events``.
    block_s, overlap_s : float
        Recordings longer than ``2 * block_s`` seconds are cleaned in blocks of ``block_s``
        seconds overlapping by ``overlap_s`` (``block_s > 2 * overlap_s > 0``; see
        :mod:`cleantake.streaming`). Longer blocks give the method more music to compare each
        event with; memory grows with them, not with the file.

    Returns
    -------
    FileResult

    Raises
    ------
    CleantakeError
        Everything :func:`preflight` refuses (before the input is read), an unreadable
        input, a failed write (no partial output is ever left).
    """
    check_blocks(block_s, overlap_s)
    plan = preflight(input_path, output_path, removed_path=removed_path, labels_path=labels_path,
                     candidates_path=candidates_path,
                     report_dir=report_dir, overwrite=overwrite, subtype=subtype, clip=clip,
                     workers=workers)
    info = plan.info
    events = _checked_spans(events, info, "events")
    keep = _checked_spans(keep, info, "keep")
    like = _checked_spans(like, info, "like")
    if events is not None and getattr(cleaner, "method", "proposed") != "proposed":
        raise ParameterError(f"given events are repaired by the proposed method only, not {cleaner.method!r}")
    for name, given in (("like= (--like)", like), ("like_model= (--like-model)", like_model)):
        if given is not None and getattr(cleaner, "method", "proposed") != "proposed":  # before any work
            raise ParameterError(f"{name} works with the proposed method only, not {cleaner.method!r}")
    stamp = _stamp(input_path)  # before any sample is read: a copy is made only of the file that was cleaned
    like_model = _like_model(cleaner, input_path, like, keep, info, block_s, given=like_model, events=events)
    sr, n_total = info.samplerate, info.frames
    fmt, st = plan.output_format
    rng = full_scale_range(st)
    user_progress = progress or (lambda f: None)
    clean_progress = user_progress if report_dir is None else (lambda f: user_progress(0.9 * f))
    blocked = in_blocks(n_total, sr, block_s)
    kept: dict[str, np.ndarray] = {}
    out = FileResult([], info.duration_s, sr, info.channels, input_format=(info.format, info.subtype),
                     output_format=(fmt, st))
    with contextlib.ExitStack() as stack:
        w_clean = stack.enter_context(AtomicAudioWriter(
            output_path, samplerate=sr, channels=info.channels, format=fmt, subtype=st,
            overwrite=overwrite, clip=clip, frames=n_total, like=info))
        w_rem = None
        if removed_path is not None:
            rfmt, rst = plan.removed_format
            w_rem = stack.enter_context(AtomicAudioWriter(
                removed_path, samplerate=sr, channels=info.channels, format=rfmt, subtype=rst,
                overwrite=overwrite, clip=clip, frames=n_total, like=info))

        removed_any, rem_nonzero = [False], [False]
        # The output may yet be the input file itself (nothing removed, same format), which
        # clips nothing: a --clip error refusal waits until something is removed.
        copy_may_be = (fmt, st) == (info.format, info.subtype)
        w_clean.hold_clip_errors = copy_may_be

        def emit(x: np.ndarray, r: np.ndarray) -> None:
            """Write the finished samples ``x`` (input) with removed part ``r``."""
            if not removed_any[0] and np.any(r):
                removed_any[0] = True
                w_clean.release_clip_errors()
            cleaned = on_output_grid(x - r, st)
            w_clean.write(cleaned)
            # What the cleaned file holds after any clipping: the removed file is the rest.
            written = cleaned if rng is None else np.clip(cleaned, *rng)
            if w_rem is not None:
                rem = x - written
                rem_nonzero[0] = rem_nonzero[0] or bool(np.any(rem))
                w_rem.write(rem)
            if not blocked:  # one block, in memory anyway: the report is drawn from it
                kept["audio"], kept["cleaned"] = x, written

        if blocked:
            block_n, overlap_n = block_sizes(sr, block_s, overlap_s)
            blocks = file_blocks(input_path, block_s, overlap_s, sr)
            n_blocks = block_count(n_total, block_n, overlap_n)
        else:
            audio, info = read_audio(input_path)
            blocks, n_blocks = [(0, audio)], 1
        out.events = clean_blocks(blocks, cleaner=cleaner, sr=sr, n_total=n_total, n_blocks=n_blocks,
                                  emit=emit, events=events, keep=keep, like=like, like_model=like_model,
                                  progress=clean_progress,
                                  workers=plan.workers, stats=out.stats, candidates=out.candidates)
        if not removed_any[0] and copy_may_be and _stamp(input_path) == stamp:
            # Nothing removed, same format: the input file itself, not a new encoding of it
            # (which a lossy input would lose quality to); unless the file changed meanwhile.
            w_clean.copy_instead(input_path)
            out.copied = True
            if w_rem is not None and rem_nonzero[0]:
                # Only what clipping would have cut (a lossy input decoded past full scale),
                # which the copy keeps: nothing was removed.
                w_rem.silence_instead()
    out.output = Path(output_path)
    out.removed_output = Path(removed_path) if removed_path is not None else None
    if labels_path is not None:
        out.labels_output = write_labels(labels_path, out.events, duration_s=out.duration_s,
                                         source=input_path, sr=sr)
    if candidates_path is not None:
        out.candidates_output = write_labels(candidates_path, out.candidates, duration_s=out.duration_s,
                                             source=input_path, sr=sr)
    if report_dir is not None:
        if blocked:  # the files as written, read back piece by piece: bounded memory
            src = FileSamples(input_path)
            # A lossy output (MP3) may decode to a few samples more or less than the input.
            cleaned = FileSamples(output_path, length=src.shape[0])
            removed = (FileSamples(removed_path, length=src.shape[0]) if removed_path is not None
                       else FileSamples(input_path, minus=cleaned))
        else:
            src, cleaned = kept["audio"], kept["cleaned"]
            removed = src - cleaned
        run_info = _run_info(cleaner, input_path, [output_path, removed_path, labels_path, candidates_path],
                             events_from=None if events is None else "the given spans")
        if like is not None:
            run_info["command"] = "like " + ", ".join(f"{a:.3f}-{b:.3f} s" for a, b in like)
        elif like_model is not None:
            run_info["command"] = "like model learned from " + like_model.origin
        out.report_output = write_report(report_dir, src, sr, cleaned=cleaned, removed=removed,
                                         events=out.events, title=Path(input_path).name,
                                         source_path=input_path, filename=report_name, run_info=run_info,
                                         candidates=out.candidates)
    user_progress(1.0)
    return out


def locate_file(
    input_path: str | os.PathLike,
    *,
    cleaner,
    labels_path: str | os.PathLike | None = None,
    candidates_path: str | os.PathLike | None = None,
    report_dir: str | os.PathLike | None = None,
    report_name: str | None = None,
    overwrite: bool = False,
    keep: Sequence | None = None,
    like: Sequence | None = None,
    like_model: LikeModel | None = None,
    progress: Progress = None,
    block_s: float = STREAM_BLOCK_S,
    overlap_s: float = STREAM_OVERLAP_S,
    workers: int | None = None,
) -> FileResult:
    """Locate the interference of a file without writing audio (``cleantake inspect``).

    Same pre-flight and long/short rule as :func:`clean_file`: a recording longer than
    ``2 * block_s`` is located block by block in bounded memory (events seen by two blocks
    are merged, see :func:`cleantake.streaming.locate_blocks`).

    Parameters
    ----------
    input_path : str or path-like
    cleaner : cleantake.Cleaner
        Locates (``cleaner.locate(block, sr, progress=..., return_candidates=True)``).
    labels_path, candidates_path, report_dir, report_name, overwrite, progress, block_s, overlap_s
        As :func:`clean_file`.
    keep : sequence of spans, optional
        Spans in seconds never to report, passed on as ``cleaner.locate(..., keep=...)``.
    like : sequence of spans, optional
        As :func:`clean_file`: what ``clean`` would find from these examples.
    like_model : LikeModel, optional
        As :func:`clean_file`: what ``clean`` would find like an example learned elsewhere.
    workers : int, optional
        Blocks located at the same time (:func:`cleantake.streaming.locate_blocks`; default: the
        CPUs this process may use, at most 4); the events do not depend on it.

    Returns
    -------
    FileResult
        ``events`` sorted by start; ``output`` and ``removed_output`` are None.
    """
    check_blocks(block_s, overlap_s)
    plan = preflight(input_path, labels_path=labels_path, candidates_path=candidates_path, report_dir=report_dir,
                     overwrite=overwrite, workers=workers)
    info = plan.info
    keep = _checked_spans(keep, info, "keep")
    like = _checked_spans(like, info, "like")
    like_model = _like_model(cleaner, input_path, like, keep, info, block_s, given=like_model)
    sr, n_total = info.samplerate, info.frames
    user_progress = progress or (lambda f: None)
    locate_progress = user_progress if report_dir is None else (lambda f: user_progress(0.9 * f))
    if in_blocks(n_total, sr, block_s):
        blocks = file_blocks(input_path, block_s, overlap_s, sr)
        audio = FileSamples(input_path)
    else:
        audio, info = read_audio(input_path)
        blocks = [(0, audio)]
    candidates: list = []
    events = locate_blocks(blocks, cleaner=cleaner, sr=sr, n_total=n_total, keep=keep, like=like,
                           like_model=like_model, progress=locate_progress, candidates=candidates,
                           workers=plan.workers)
    events = sorted(events, key=lambda e: (e.start_s, e.end_s))
    out = FileResult(events, info.duration_s, sr, info.channels, candidates=candidates,
                     input_format=(info.format, info.subtype))
    if labels_path is not None:
        out.labels_output = write_labels(labels_path, events, duration_s=out.duration_s,
                                         source=str(input_path), sr=sr)
    if candidates_path is not None:
        out.candidates_output = write_labels(candidates_path, candidates, duration_s=out.duration_s,
                                             source=str(input_path), sr=sr)
    if report_dir is not None:
        out.report_output = write_report(report_dir, audio, sr, cleaned=None, removed=None, events=events,
                                         title=Path(input_path).name, source_path=input_path,
                                         filename=report_name,
                                         run_info=_run_info(cleaner, input_path, [labels_path, candidates_path],
                                                            events_from=None),
                                         candidates=candidates)
    user_progress(1.0)
    return out
