"""Learn the interference from an example marked in the recording, and find the rest of it.

The user marks one or more spans (``like=``) holding an example of the interference. What
is there that the music does not explain is the mixture's magnitude minus KAM's music
estimate at the marked frames, whose neighbours come from the recording's other frames
(:func:`example_residual`). A few NMF templates learned on that residual, in the STFT's full
resolution like :func:`cleantake.dictionaries.learn_dictionary`, form a
:class:`~cleantake.dictionaries.Dictionary` (:func:`learn_like`). The recording is analysed
again with those templates fixed (alone, or added to the bundled dictionary), so that its
NMF music estimate, on which KAM chooses neighbours, holds little of the interference. Every
stretch where the learned detector says interference (or, without it, the music estimate
leaves a real part of the energy) and what the music estimate leaves looks like what it
leaves in the marked spans (similar spectrum) is another event, grown over the adjacent
frames that stay similar (:func:`find_like`); all of them, the marked ones included, are
repaired.

The thresholds (:class:`LikeParams`) were chosen by grouped cross-validation on the
development corpus (``benchmarks/like.py``, ``benchmarks/LIKE.md``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .analysis import Analysis, analyse
from .detector import ACTIVATION_CLASSES, interference_probabilities, load_model, smoothed_probability
from .atomic import atomic_file
from .dictionaries import FORMAT as DICTIONARY_FORMAT
from .dictionaries import (LIKE_MODEL_FORMAT, Dictionary, combine, dictionary_from_arrays, empty_dictionary,
                           resolve_dictionary)
from .errors import DictionaryError, ParameterError
from .locate import Event, dilate, overlaps_any, segments, segments_to_events
from .nmf import learn_nmf
from .repair import music_estimate, repair_music_estimate
from .settings import FrameCounts, Settings
from .spectral import StftConfig

__all__ = [
    "LIKE_LABEL", "LikeParams", "LikeResult", "span_frames", "check_like", "example_residual", "learn_like",
    "with_like", "like_scores", "like_frames", "find_like", "learn_from_spans", "locate_like",
    "spans_analysis", "detector_probability", "longest_run", "LikeModel", "learn_like_model", "like_events",
    "save_like_model", "load_like_model", "merge_like_models", "LIKE_MODEL_VERSION",
]

#: Label of the templates learned from the marked spans and of the events they find.
LIKE_LABEL = "like"


@dataclass(frozen=True)
class LikeParams:
    """Parameters of learning from marked spans and of the finder.

    The defaults of ``similarity``, ``min_event_ms``, ``relative``, ``prototype``,
    ``detector``, ``detector_slope``, ``detector_peak``, ``grow_similarity``,
    ``grow_detector``, ``short_similarity`` and ``short_detector`` are the choice of
    ``benchmarks/like.py`` (cross-fitted protocol) on the test parts of all five grouped folds
    pooled, each recording scored by a detector that never heard it: the most events found on
    the 20-s recordings among the points with at most 0.1 false events per 20-s recording and
    at most 0.3 false events per minute (the same rate) on the four-minute full mixes of
    ``benchmarks/like_long.py``, cleaned in blocks as the command line cleans a file
    (``--long``, session 49). The held-out measurement of that procedure, each fold choosing
    on the other folds only, is in ``benchmarks/LIKE.md`` ("Session 49"): against session 43's
    choice, made on the 20-s recordings alone, half the false events on 20-s recordings
    (0.04 per recording) and a fifth fewer on the long mixes, 1-5 points fewer events found,
    the same NSDR. ``novelty`` (used only with ``detector=None``) is session 7's.

    Attributes
    ----------
    rank : int >= 1
        Templates learned from the marked spans' residual (fewer if they hold fewer frames).
    similarity : float in (0, 2]
        A frame is part of an event where what the music does not explain there looks like
        what it does not explain in the marked spans: the cosine of their spectra
        (:func:`like_scores`), averaged over ``context_ms`` on both sides, is at least this...
    novelty : float in [0, 1]
        ... and where the music estimate leaves at least this fraction of the frame's energy
        (averaged likewise).
    context_ms : float >= 0
        Temporal context of the similarity on each side, in milliseconds.
    min_event_ms : float >= 0
        Shortest run of matching frames kept as an event (before padding).
    min_event_example : float > 0 or None
        If set, the shortest run is at most this fraction of the example's length (the
        longest marked run) when that is shorter than ``min_event_ms``: a clap of 0.15 s
        marked as the example can find other claps. None: ``min_event_ms`` alone.
    min_residual : float in [0, 1)
        The marked spans are refused as an example if what the music does not explain there
        carries less than this fraction of their energy.
    passes : int >= 1
        Rounds of learning (:func:`learn_from_spans`).
    repair_residual : bool
        Rounds after the first learn from the residual under the repair's music estimate
        (:func:`example_residual` with ``repair_estimate``) rather than the location's. On
        for the spans of ``-i none --events`` (:func:`spans_analysis`: +0.3 dB on the grouped
        folds' test parts), off for ``--like``, where it gained 0.2 dB on 20-s recordings but
        found fewer events with more false ones on four-minute mixes (``benchmarks/LIKE.md``,
        session 33).
    prototype : {"mean", "nearest"}
        What the similarity compares a frame with (:func:`like_scores`).
    relative : bool
        Thresholds on the similarity relative to the marked frames' own and on the novelty
        above the recording's median (:func:`like_frames`), rather than on their values.
    detector : float in [0, 1] or None
        If set, a frame must also be likely interference by the learned detector (its frame
        probability, smoothed, at least this; :func:`detector_probability`) instead of
        passing the novelty test: the detector says what does not belong to the music, the
        similarity says it is like the example.
    detector_slope : float >= 0
        With ``detector``: the similarity a frame needs rises where the detector is less sure,
        to ``similarity + detector_slope * (1 - probability)``.
    detector_peak : float in [0, 1] or None
        With ``detector``: a run of matching frames is kept only if the detector's probability
        reaches at least this somewhere in it (``detector`` then admits the run's frames, this
        admits the run).
    grow_similarity : float in (0, 2] or None
        If set, each run found grows over the adjacent eligible frames (gaps up to
        ``max_gap_ms`` bridged) whose similarity is at least this and, with ``detector``,
        whose probability is at least ``grow_detector``, by at most the longest marked span's
        length on each side: an event the detector is sure of only in part (a ring's onsets)
        is covered where it stays like the example. Growing adds no new event.
    grow_detector : float in [0, 1]
        The probability a frame needs to join a growing run (with ``detector`` only).
    short_similarity : float in (0, 2] or None
        With ``detector``: a run of matching frames shorter than the shortest run kept is
        still an event if its mean similarity is at least this and the detector's
        probability reaches ``short_detector`` in it (a clap or a footstep shorter than
        ``min_event_ms``, plainly like the example and plainly not music). None: short runs
        are dropped. Chosen with looser frame tests on 20-s recordings alone (sessions 47 and
        48) it made more false events on four-minute full mixes; the default (0.65 with 0.8,
        session 49) was chosen with the long mixes' false events limited as well.
    short_detector : float in [0, 1]
        The probability a short run must reach somewhere (with ``short_similarity``).
    review_similarity : float in (0, 2] or None
        With ``detector``: runs of at least ``review_min_event_ms`` whose frames have at
        least this similarity and at least ``review_detector`` probability, and that overlap
        no event found and no marked span, are *candidates for review*: not repaired, listed
        for the user to accept (``LikeResult.candidates``). None: no candidates. The default
        (0.3 with 0.7 and 80 ms: the detector's probability decides, the similarity hardly) is
        the choice of ``benchmarks/like.py --review`` on every fold's tuning recordings pooled,
        under a budget of 2 candidates per minute, made again for session 49's finder (with
        it session 32's 0.55 with 0.5 listed 2.3 per minute on 20-s recordings and 3.1 on
        four-minute mixes; ``benchmarks/LIKE.md``, "Session 49").
    review_detector : float in [0, 1]
    review_min_event_ms : float >= 0
    """

    rank: int = 4
    similarity: float = 0.8
    novelty: float = 0.3
    context_ms: float = 46.0
    min_event_ms: float = 160.0
    min_event_example: float | None = None
    min_residual: float = 0.01
    passes: int = 2
    repair_residual: bool = False
    relative: bool = False
    prototype: str = "nearest"
    detector: float | None = 0.6
    detector_slope: float = 0.0
    detector_peak: float | None = None
    grow_similarity: float | None = 0.5
    grow_detector: float = 0.0
    short_similarity: float | None = 0.65
    short_detector: float = 0.8
    review_similarity: float | None = 0.3
    review_detector: float = 0.7
    review_min_event_ms: float = 80.0

    def __post_init__(self) -> None:
        if not 1 <= self.rank <= 64:
            raise ParameterError(f"rank must be from 1 to 64 templates, got {self.rank}")
        if not 0.0 < self.similarity <= 2.0:
            raise ParameterError(f"similarity must be in (0, 2], got {self.similarity}")
        if not 0.0 <= self.novelty <= 1.0:
            raise ParameterError(f"novelty must be between 0 and 1, got {self.novelty}")
        if self.prototype not in ("mean", "nearest"):
            raise ParameterError(f"prototype must be 'mean' or 'nearest', got {self.prototype!r}")
        if not 1 <= self.passes <= 10:
            raise ParameterError(f"passes must be from 1 to 10, got {self.passes}")
        if self.detector is not None and not 0.0 <= self.detector <= 1.0:
            raise ParameterError(f"detector must be a probability from 0 to 1 or None, got {self.detector}")
        if self.detector_peak is not None and not 0.0 <= self.detector_peak <= 1.0:
            raise ParameterError(f"detector_peak must be a probability from 0 to 1 or None, got {self.detector_peak}")
        if self.grow_similarity is not None and not 0.0 < self.grow_similarity <= 2.0:
            raise ParameterError(f"grow_similarity must be in (0, 2] or None, got {self.grow_similarity}")
        if not 0.0 <= self.grow_detector <= 1.0:
            raise ParameterError(f"grow_detector must be a probability from 0 to 1, got {self.grow_detector}")
        if self.short_similarity is not None and not 0.0 < self.short_similarity <= 2.0:
            raise ParameterError(f"short_similarity must be in (0, 2] or None, got {self.short_similarity}")
        if not 0.0 <= self.short_detector <= 1.0:
            raise ParameterError(f"short_detector must be a probability from 0 to 1, got {self.short_detector}")
        if self.review_similarity is not None and not 0.0 < self.review_similarity <= 2.0:
            raise ParameterError(f"review_similarity must be in (0, 2] or None, got {self.review_similarity}")
        if not 0.0 <= self.review_detector <= 1.0:
            raise ParameterError(f"review_detector must be a probability from 0 to 1, got {self.review_detector}")
        if self.detector_slope < 0:
            raise ParameterError(f"detector_slope must be >= 0, got {self.detector_slope}")
        if not 0.0 <= self.min_residual < 1.0:
            raise ParameterError(f"min_residual must be in [0, 1), got {self.min_residual}")
        if self.min_event_example is not None and not 0.0 < self.min_event_example <= 10.0:
            raise ParameterError(f"min_event_example must be in (0, 10] or None, got {self.min_event_example}")
        for name in ("context_ms", "min_event_ms", "review_min_event_ms"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class LikeResult:
    """What :func:`locate_like` found.

    Attributes
    ----------
    analysis : Analysis
        The recording analysed with the learned templates fixed (first ``learned.rank``
        interference templates), and the base dictionary's after them.
    learned : Dictionary
        Templates learned from the marked spans (label :data:`LIKE_LABEL`).
    frames : np.ndarray [shape=(T,)], bool
        Frames to repair: the marked spans' frames and those of every event found.
    found : np.ndarray [shape=(T,)], bool
        Frames of the events found outside the marked spans.
    events : list of Event
        The marked spans and the events found, in time order (found events only where they
        do not overlap a marked span).
    similarity, novelty : np.ndarray [shape=(T,)], float32
        :func:`like_scores` per frame.
    stats : dict
        ``like_reference`` (median similarity of the marked frames to their own mean),
        ``like_residual`` (fraction of the marked frames' energy the music does not explain),
        ``like_found`` (events found besides the marked ones).
    candidates : list of Event
        Candidates for review (``LikeParams.review_similarity``), confidence their highest
        similarity as for the events found; never repaired.
    """

    analysis: Analysis
    learned: Dictionary
    frames: np.ndarray
    found: np.ndarray
    events: list
    similarity: np.ndarray
    novelty: np.ndarray
    stats: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)


@dataclass(frozen=True)
class LikeModel:
    """What was learned from the marked example(s), to look for the interference anywhere in
    the same recording, including stretches analysed apart from the example (the blocks of a
    long file), or in other recordings (:func:`save_like_model`; ``benchmarks/LIKE.md``,
    "Session 51", measures that): :func:`learn_like_model` makes it, :func:`locate_like` takes it.

    Attributes
    ----------
    learned : Dictionary
        Templates learned from the marked spans (label :data:`LIKE_LABEL`).
    level : float
        Compression level of the residual's bands (:func:`like_scores`: a tenth of the marked
        frames' mean), in the units of the analysis's band magnitudes.
    prototype : np.ndarray [shape=(B,)], float32
        Mean over the marked frames of their compressed residual bands (what the similarity
        compares each frame with).
    marked_bands : np.ndarray [shape=(B, n)], float32
        The marked frames' compressed residual bands (for ``LikeParams.prototype="nearest"``).
    reference : float
        Median similarity of the marked frames to the prototype (:func:`like_scores`).
    longest : int
        Longest marked run in frames (the finder's neighbours are at least this far away and
        an event grows by at most this much).
    residual_share : float
        Fraction of the marked frames' energy the music did not explain.
    source : dict
        Where it was learned (``file``, ``samplerate``, ``spans`` in seconds, as
        :func:`cleantake.files.learn_like_file` fills it; ``merged``: the sources of a
        :func:`merge_like_models` model), kept by :func:`save_like_model`; empty if unknown.
    """

    learned: Dictionary
    level: float
    prototype: np.ndarray
    marked_bands: np.ndarray
    reference: float
    longest: int
    residual_share: float
    source: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """Where it was learned, for people: ``take3.wav 72.300-72.950 s`` (``; ``-joined for
        a merged model)."""
        return _origin(self.source or {})


def _origin(src: dict) -> str:
    if "merged" in src:
        return "; ".join(_origin(part) for part in src["merged"])
    spans = ", ".join(f"{a:.3f}-{b:.3f} s" for a, b in src.get("spans", []))
    return " ".join(str(p) for p in (src.get("file"), spans) if p) or "an unknown recording"


#: Version of a like model file (:func:`save_like_model`; its ``format`` field is
#: :data:`cleantake.dictionaries.LIKE_MODEL_FORMAT`).
LIKE_MODEL_VERSION = 1


def save_like_model(model: LikeModel, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write ``model`` to ``path`` (``.npz``), atomically, to look for the example in other
    recordings (:func:`load_like_model`; ``cleantake learn --like``, ``clean --like-model``).

    Parameters
    ----------
    model : LikeModel
    path : str or path-like
        ``.npz`` is appended if missing.
    overwrite : bool
        Replace an existing file (otherwise refused).

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {"format": LIKE_MODEL_FORMAT, "version": LIKE_MODEL_VERSION, "dictionary": model.learned.metadata(),
            "level": float(model.level), "reference": float(model.reference), "longest": int(model.longest),
            "residual_share": float(model.residual_share), "source": dict(model.source)}
    with atomic_file(path, "wb", overwrite=overwrite, error=DictionaryError, what="like model") as fh:
        np.savez_compressed(fh, W=model.learned.W.astype(np.float32),
                            prototype=np.asarray(model.prototype, np.float32),
                            marked_bands=np.asarray(model.marked_bands, np.float32), meta=np.array(json.dumps(meta)))
    return path


def merge_like_models(models: Sequence[LikeModel]) -> LikeModel:
    """One model that looks for the examples of several (learned in different recordings, or
    different stretches), as if they had been marked together.

    As :func:`learn_like_model` measures several marked spans at once: the learned templates
    side by side (on the first model's frequency grid), the compression level the mean over
    all marked frames (each model's level is a tenth of its marked frames' mean residual), the
    marked frames' bands compressed again with that level, the prototype their mean, the
    longest run the longest of all. The reference (the marked frames' own similarity, read
    only with ``LikeParams.relative``) is the lowest of the models'.

    Parameters
    ----------
    models : sequence of LikeModel
        At least one; learned with the same window and hop.

    Returns
    -------
    LikeModel
        ``models[0]`` itself for one; ``source`` lists the sources.

    Raises
    ------
    ParameterError
        No model, or models learned with different windows, hops or band counts.
    """
    models = list(models)
    if not models:
        raise ParameterError("nothing to merge: give at least one like model")
    if len(models) == 1:
        return models[0]
    first = models[0]
    for m in models[1:]:
        a, b = first.learned.stft, m.learned.stft
        if (a.window_ms, a.hop_ms) != (b.window_ms, b.hop_ms) or m.prototype.shape != first.prototype.shape:
            raise ParameterError(
                f"like models learned with other analyses cannot be looked for together ({m.origin}: "
                f"{b.window_ms:g}-ms windows, {m.prototype.shape[0]} bands; {first.origin}: {a.window_ms:g} ms, "
                f"{first.prototype.shape[0]} bands)")
    n = np.array([m.marked_bands.shape[1] for m in models], float)
    level = float((n * np.array([m.level for m in models])).sum() / n.sum())
    # each model's bands are log1p(R / its level): back to R, then compressed with the common level
    bands = np.concatenate([np.log1p(m.level * np.expm1(np.asarray(m.marked_bands, np.float64)) / level)
                            for m in models], axis=1).astype(np.float32)
    grid = first.learned.stft
    learned = Dictionary(W=np.concatenate([m.learned.templates_for(grid) for m in models], axis=1),
                         labels=[lab for m in models for lab in m.learned.labels], name=LIKE_LABEL, stft=grid,
                         beta=first.learned.beta, meta={"parts": [m.origin for m in models]})
    share = float((n * np.array([m.residual_share for m in models])).sum() / n.sum())
    return LikeModel(learned=learned, level=level, prototype=bands.mean(axis=1), marked_bands=bands,
                     reference=float(min(m.reference for m in models)), longest=max(int(m.longest) for m in models),
                     residual_share=share, source={"merged": [dict(m.source) for m in models]})


def load_like_model(path: str | os.PathLike[str]) -> LikeModel:
    """Read a like model written by :func:`save_like_model`, checking it.

    Raises
    ------
    DictionaryError
        A missing file, not a like model (a dictionary file says so: it goes to ``-i``), an
        unsupported version, or arrays that do not match each other.
    """
    path = Path(path)
    if not path.is_file():
        raise DictionaryError(f"like model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: np.asarray(z[k], np.float32) for k in ("W", "prototype", "marked_bands") if k in z}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise DictionaryError(f"{path} is not a cleantake like model (expected an .npz written by "
                              "`cleantake learn --like`)") from exc
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt == DICTIONARY_FORMAT:
        raise DictionaryError(f"{path} is an interference dictionary, not a like model: give it to -i")
    if fmt != LIKE_MODEL_FORMAT:
        raise DictionaryError(f"{path} is not a cleantake like model (format field is {fmt!r})")
    if meta.get("version") != LIKE_MODEL_VERSION:
        raise DictionaryError(f"{path} is a version {meta.get('version')} like model; this cleantake reads "
                              f"version {LIKE_MODEL_VERSION}. Learn it again with `cleantake learn --like`.")
    if len(arrays) != 3:
        raise DictionaryError(f"{path}: damaged like model (arrays missing)")
    try:
        learned = dictionary_from_arrays(arrays["W"], meta["dictionary"], path)
        level, reference = float(meta["level"]), float(meta["reference"])
        longest, share = int(meta["longest"]), float(meta["residual_share"])
        source = dict(meta.get("source", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise DictionaryError(f"{path}: damaged metadata ({exc})") from exc
    proto, bands = arrays["prototype"], arrays["marked_bands"]
    if (proto.ndim != 1 or bands.ndim != 2 or bands.shape[0] != proto.shape[0] or not bands.shape[1]
            or not all(np.all(np.isfinite(a)) for a in (proto, bands)) or not (np.isfinite(level) and level > 0)
            or longest < 1):
        raise DictionaryError(f"{path}: damaged like model (prototype {proto.shape}, marked bands {bands.shape})")
    return LikeModel(learned=learned, level=level, prototype=proto, marked_bands=bands, reference=reference,
                     longest=longest, residual_share=share, source=source)


def span_frames(spans, cfg: StftConfig, n_frames: int) -> np.ndarray:
    """Frames whose centre lies in one of ``spans`` (Events or ``(start_s, end_s)``), plus the
    frame nearest each span's middle.

    Returns
    -------
    np.ndarray [shape=(n_frames,)], bool
    """
    t = cfg.frame_times(n_frames)
    out = np.zeros(n_frames, bool)
    for e in spans:
        a, b = (e.start_s, e.end_s) if isinstance(e, Event) else (float(e[0]), float(e[1]))
        out |= (t >= a) & (t < b)
        out[int(np.argmin(np.abs(t - 0.5 * (a + b))))] = True
    return out


def _in_recording(t: float, offset_s: float) -> float:
    """A time ``t`` of a stretch starting ``offset_s`` into the recording, in the recording's
    time (for messages; unchanged when the stretch is the recording)."""
    return round(t + offset_s, 6) if offset_s else t


def check_like(spans: list[Event], x: np.ndarray, sr: int, cfg: StftConfig, *, keep=(),
               offset_s: float = 0.0) -> None:
    """Refuse marked spans there is nothing to learn from (ParameterError, in seconds).

    Parameters
    ----------
    spans : list of Event
        The marked spans, already checked to lie inside the recording, in order, not
        overlapping.
    x : np.ndarray [shape=(n_channels, n_samples)]
    sr : int
    cfg : StftConfig
    keep : sequence of Event
        Spans of music to keep: a marked span may not overlap one.
    offset_s : float
        Where ``x`` starts in the recording: the messages give times in the recording.
    """
    win_s = cfg.win_length / sr

    def at(t: float) -> float:
        return _in_recording(t, offset_s)

    level = float(np.mean(x**2)) if x.size else 0.0
    for i, e in enumerate(spans):
        if e.end_s - e.start_s < win_s:
            raise ParameterError(
                f"like span {i + 1} ({at(e.start_s)} s to {at(e.end_s)} s) is {e.end_s - e.start_s:.3f} s long: "
                f"an example to learn from must be at least one analysis window, {win_s:.3f} s")
        for k in keep:
            if e.start_s < k.end_s and k.start_s < e.end_s:
                raise ParameterError(
                    f"like span {i + 1} ({at(e.start_s)} s to {at(e.end_s)} s) overlaps the keep span "
                    f"{at(k.start_s)} s to {at(k.end_s)} s: "
                    "a region cannot be both an example of interference and music to keep")
        a, b = int(np.floor(e.start_s * sr)), int(np.ceil(e.end_s * sr))
        seg = x[:, a:b]
        if not np.any(seg) or float(np.mean(seg**2)) < 1e-8 * level:
            raise ParameterError(
                f"like span {i + 1} ({at(e.start_s)} s to {at(e.end_s)} s) is silent: there is nothing to learn "
                "from; mark a region where the interference sounds")


def example_residual(ana: Analysis, marked: np.ndarray, *, settings: Settings, repair_estimate: bool = False
                     ) -> np.ndarray:
    """What the music does not explain at the marked frames.

    Parameters
    ----------
    ana : Analysis
    marked : np.ndarray [shape=(T,)], bool
        The marked frames.
    settings : Settings
    repair_estimate : bool
        ``S`` is the repair's music estimate (its kernels, ``repair_k`` and
        ``repair_statistic``) instead of the location's one kernel. :func:`learn_from_spans`
        asks for it from its second round on (``LikeParams.repair_residual``), on the
        analysis made with the templates learned in the first.

    Returns
    -------
    np.ndarray [shape=(F, n)], float32
        ``max(V - S, 0)`` at the ``n`` marked frames (in order) that are not partial, ``S``
        being KAM's music estimate with neighbours at least ``context_ms`` from any marked
        frame.
    """
    q = np.flatnonzero(marked & ~ana.partial)
    if q.size == 0:
        q = np.flatnonzero(marked)
    ctx = settings.counts(ana.cfg).context
    if repair_estimate:
        est = repair_music_estimate(ana, q, settings=settings, exclude=dilate(marked, ctx), with_mask=False)
    else:
        est = music_estimate(ana, q, settings=settings, exclude=dilate(marked, ctx), with_mask=False)
    return np.maximum(ana.V[:, q] - est.S, 0.0).astype(np.float32)


def learn_like(residual: np.ndarray, cfg: StftConfig, *, rank: int = 4, beta: float = 1.0,
               random_state: int = 0) -> Dictionary:
    """NMF templates of an example's residual, as a Dictionary.

    Parameters
    ----------
    residual : np.ndarray [shape=(cfg.n_freq, n)]
        :func:`example_residual`.
    cfg : StftConfig
        The recording's STFT (the dictionary's grid).
    rank : int
        Templates to learn (at most the number of frames that carry sound).
    beta, random_state : see :func:`cleantake.nmf.semi_nmf`.

    Returns
    -------
    Dictionary
        ``min(rank, frames)`` templates labelled :data:`LIKE_LABEL`.
    """
    e = residual.sum(axis=0)
    R = residual[:, e > 1e-3 * max(float(e.max()), 1e-30)] if e.size else residual
    r = int(min(rank, R.shape[1]))
    if r < 1:
        raise ParameterError("the marked spans hold no sound that the music does not explain")
    W = learn_nmf(R, r, beta=beta, n_iter=200, random_state=random_state)
    return Dictionary(W=W, labels=[LIKE_LABEL] * r, name=LIKE_LABEL, stft=cfg, beta=beta,
                      meta={"frames": int(R.shape[1])})


def with_like(learned: Dictionary, base: Dictionary) -> Dictionary:
    """The learned templates first, then ``base``'s resampled to the learned grid (``base``
    may be empty: then only the learned ones)."""
    if base.rank == 0:
        return learned
    b = Dictionary(W=base.templates_for(learned.stft), labels=list(base.labels), name=base.name,
                   stft=learned.stft, beta=learned.beta, meta=dict(base.meta))
    return combine([learned, b], f"{LIKE_LABEL}+{base.name}")


def like_scores(ana: Analysis, marked: np.ndarray, *, settings: Settings, context_ms: float = 46.0,
                prototype: str = "mean", model: LikeModel | None = None, threads: int = 1
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """What the finder decides on, per frame: how much of the frame the music does not
    explain (novelty) and how much that part looks like the example's (similarity).

    The music at every frame is estimated as the repair estimates it (the
    ``repair_statistic`` of the mixture over the ``repair_k`` nearest frames of each of the
    repair's kernels, :func:`cleantake.repair.repair_kernels`, on the NMF music estimate),
    among frames at least as far away as the longest marked run (and 0.5 s): a sustained
    sound (a ring, a phrase, applause) is not explained by its own other frames. What is
    left, in log-compressed bands, is compared with the example's by the cosine of their
    spectra, both averaged over ``context_ms`` on each side.

    Parameters
    ----------
    ana : Analysis
        Analysed with the learned templates fixed (:func:`learn_from_spans`), so that the NMF
        music estimate the neighbours are chosen on holds little of the interference.
    marked : np.ndarray [shape=(T,)], bool
    settings : Settings
        ``floor_db``, ``pad_ms``, ``ramp_ms``, ``context_ms`` and the repair's kernels
        (``repair_compress``, ``repair_context_ms``, ``repair_k``, ``repair_statistic``) are
        used.
    context_ms : float
        Context of both scores (``LikeParams.context_ms``).
    prototype : {"mean", "nearest"}
        Compare each frame with the mean of the marked frames' spectra, or take its highest
        cosine with any single marked frame (``LikeParams.prototype``).
    model : LikeModel, optional
        The example learned elsewhere in the recording (:func:`learn_like_model`): its level,
        prototype, reference and longest run are used instead of the marked frames' here
        (``marked`` may then be empty; marked frames are still neither neighbours nor
        eligible).
    threads : int >= 1
        Threads for the music estimate's neighbour search (the same scores for any number).

    Returns
    -------
    similarity : np.ndarray [shape=(T,)], float32 in [0, 1]
        Cosine between the frame's residual spectrum (log-compressed bands) and the mean of
        the marked frames'.
    novelty : np.ndarray [shape=(T,)], float32 in [0, 1]
        Fraction of the frame's energy the music estimate leaves.
    eligible : np.ndarray [shape=(T,)], bool
        Frames that may become events: inside the recording's edges, away from the marked
        spans (by ``pad_ms + ramp_ms``), and not negligibly quiet (``floor_db``).
    reference : float
        Median similarity of the marked frames themselves.
    """
    sim, novelty, eligible, reference, _ = _like_scores(ana, marked, settings=settings, context_ms=context_ms,
                                                        prototype=prototype, model=model, threads=threads)
    return sim, novelty, eligible, reference


def _like_scores(ana: Analysis, marked: np.ndarray, *, settings: Settings, context_ms: float, prototype: str,
                 model: LikeModel | None, threads: int = 1, shape_only: bool = False):
    """:func:`like_scores`, and the example's shape ``(level, prototype, marked_bands,
    reference, longest)`` as measured here (``model``'s own when it is given).

    With ``shape_only`` (for :func:`learn_like_model`, which keeps the shape alone) the music is
    estimated only at the marked frames and ``context_ms`` around them, all the shape reads:
    the same shape, and scores that mean nothing elsewhere."""
    s = settings
    fc = s.counts(ana.cfg)
    T = ana.n_frames
    runs = segments(marked)
    longest = max((b - a for a, b in runs), default=1) if model is None else max(int(model.longest), 1)
    sep = max(longest, s.frames(500.0, ana.cfg), fc.context)
    sep = min(sep, max(fc.context, T // 4))
    at = np.flatnonzero(dilate(marked, s.frames(context_ms, ana.cfg))) if shape_only else np.arange(T)
    S = repair_music_estimate(ana, at, settings=s, exclude=dilate(marked, fc.context),
                              min_separation=sep, threads=threads, with_mask=False).S
    if shape_only:  # nothing left anywhere else (those scores are not read)
        full = ana.V.copy()
        full[:, at] = S
        S = full
    D = ana.V - S
    novelty = (D**2).sum(axis=0) / np.maximum((ana.V**2).sum(axis=0), 1e-20)
    Rb = ana.P @ D
    if model is None:
        q = marked & ~ana.partial
        q = q if q.any() else marked
        level = float(Rb[:, q].mean()) * 0.1 + 1e-12
    else:
        level = float(model.level)
    L = np.log1p(Rb / level)
    norms = np.maximum(np.linalg.norm(L, axis=0), 1e-12)
    if model is None:
        marked_bands, ex = L[:, q], L[:, q].mean(axis=1)
    else:
        marked_bands, ex = np.asarray(model.marked_bands), np.asarray(model.prototype)
    if prototype == "nearest":
        E = marked_bands / np.maximum(np.linalg.norm(marked_bands, axis=0), 1e-12)
        sim = (E.T @ (L / norms)).max(axis=0)
    else:
        sim = (ex @ L) / (norms * max(float(np.linalg.norm(ex)), 1e-12))
    ctx = s.frames(context_ms, ana.cfg)
    if ctx > 0:
        w = np.ones(2 * ctx + 1) / (2 * ctx + 1)
        sim = np.convolve(np.pad(sim, ctx, mode="edge"), w, mode="valid")
        novelty = np.convolve(np.pad(novelty, ctx, mode="edge"), w, mode="valid")
    loud = Rb.sum(axis=0) > ana.ref * 10.0 ** (-s.floor_db / 20.0)
    eligible = loud & ana.inner & ~dilate(marked, fc.pad + fc.ramp)
    reference = float(np.median(sim[q])) if model is None else float(model.reference)
    shape = (level, ex, marked_bands, reference, longest_run(marked) if model is None else int(model.longest))
    return sim.astype(np.float32), novelty.astype(np.float32), eligible, reference, shape


def like_frames(similarity: np.ndarray, novelty: np.ndarray, eligible: np.ndarray, *, reference: float,
                counts: FrameCounts, min_event: int, params: LikeParams,
                probability: np.ndarray | None = None, max_grow: int | None = None) -> np.ndarray:
    """The finder's decision: runs of eligible frames whose similarity and novelty pass the
    thresholds of ``params`` (gaps up to ``counts.max_gap`` bridged, at least ``min_event``
    frames), padded by ``counts.pad``.

    Parameters
    ----------
    similarity, novelty, eligible : np.ndarray [shape=(T,)]
        :func:`like_scores`.
    reference : float
        The marked frames' median similarity (:func:`like_scores`).
    counts : FrameCounts
    min_event : int
        Shortest run in frames.
    params : LikeParams
        With ``relative``, similarity is divided by ``reference`` and novelty is taken above
        its median over the eligible frames before the thresholds are applied.
    probability : np.ndarray [shape=(T,)], optional
        The detector's smoothed frame probability (:func:`detector_probability`); needed
        when ``params.detector`` is set, which then replaces the novelty test (with
        ``params.detector_slope``, ``params.detector_peak``, ``params.grow_detector`` and
        ``params.short_similarity``, see :class:`LikeParams`).
    max_grow : int, optional
        The example's length in frames (:func:`find_like` passes the longest marked run): with
        ``params.grow_similarity`` a run grows by at most this on each side (default
        unlimited); with ``params.min_event_example`` the shortest run is at most that
        fraction of it.

    Returns
    -------
    np.ndarray [shape=(T,)], bool
    """
    sim, nov = similarity, novelty
    if params.relative:
        sim = sim / max(reference, 1e-6)
        nov = nov - (float(np.median(nov[eligible])) if eligible.any() else 0.0)
    if params.detector is not None:
        if probability is None:
            raise ParameterError("LikeParams.detector is set but no detector probability was given")
        prob = np.asarray(probability)
        act = (eligible & (sim >= params.similarity + params.detector_slope * (1.0 - prob))
               & (prob >= params.detector))
    else:
        prob = None
        act = eligible & (sim >= params.similarity) & (nov >= params.novelty)
    if params.min_event_example is not None and max_grow:
        min_event = min(min_event, int(round(params.min_event_example * max_grow)))
    found = np.zeros(act.shape, bool)
    short = prob is not None and params.short_similarity is not None
    for a, b in segments(act, max_gap=counts.max_gap, min_len=1 if short else max(1, min_event)):
        if prob is not None and params.detector_peak is not None and prob[a:b].max() < params.detector_peak:
            continue
        if b - a < min_event and not (short and sim[a:b][act[a:b]].mean() >= params.short_similarity
                                      and prob[a:b].max() >= params.short_detector):
            continue
        found[a:b] = True
    if params.grow_similarity is not None and found.any():
        weak = eligible & (sim >= params.grow_similarity)
        if prob is not None:
            weak &= prob >= params.grow_detector
        reach = dilate(found, max_grow) if max_grow is not None else np.ones_like(found)
        for a, b in segments(weak | found, max_gap=counts.max_gap):
            if found[a:b].any():
                found[a:b] |= reach[a:b]
    return dilate(found, counts.pad)


def review_runs(similarity: np.ndarray, novelty: np.ndarray, eligible: np.ndarray, taken: np.ndarray, *,
                reference: float, counts: FrameCounts, min_event: int, params: LikeParams,
                probability: np.ndarray) -> list[tuple[int, int]]:
    """The candidates for review: runs of :func:`like_frames` with ``review_similarity`` and
    ``review_detector`` for thresholds (no growing, at least ``min_event`` frames, padded)
    that overlap no frame of ``taken`` (the events found and the marked spans).

    Returns
    -------
    list of (int, int)
        Frame ranges ``[a, b)``.
    """
    loose = dataclasses.replace(params, similarity=params.review_similarity, detector=params.review_detector,
                                detector_slope=0.0, detector_peak=None, grow_similarity=None)
    runs = like_frames(similarity, novelty, eligible, reference=reference, counts=counts, min_event=min_event,
                       params=loose, probability=probability)
    return [(a, b) for a, b in segments(runs) if not taken[a:b].any()]


def find_like(ana: Analysis, marked: np.ndarray, *, settings: Settings, params: LikeParams | None = None,
              probability: np.ndarray | None = None, model: LikeModel | None = None, threads: int = 1
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, list[tuple[int, int]]]:
    """Frames like the marked ones: similar share of the learned templates, and not music.

    Parameters
    ----------
    ana : Analysis
        Analysed with the learned templates fixed (:func:`learn_from_spans`).
    marked : np.ndarray [shape=(T,)], bool
    settings : Settings
    params : LikeParams, optional
    probability : np.ndarray [shape=(T,)], optional
        With ``params.detector``: :func:`detector_probability`.
    model : LikeModel, optional
        The example learned elsewhere in the recording (see :func:`like_scores`).
    threads : int >= 1
        See :func:`like_scores`.

    Returns
    -------
    found : np.ndarray [shape=(T,)], bool
        Frames of the events found (padded by ``pad_ms``), away from the marked spans.
    similarity, novelty : np.ndarray [shape=(T,)], float32
        :func:`like_scores`.
    reference : float
    review : list of (int, int)
        Frame ranges of the candidates for review (:func:`review_runs`; empty without
        ``params.review_similarity`` or ``params.detector``).
    """
    p = params or LikeParams()
    sim, nov, eligible, ref = like_scores(ana, marked, settings=settings, context_ms=p.context_ms,
                                          prototype=p.prototype, model=model, threads=threads)
    counts = settings.counts(ana.cfg)
    found = like_frames(sim, nov, eligible, reference=ref, counts=counts,
                        min_event=settings.frames(p.min_event_ms, ana.cfg), params=p, probability=probability,
                        max_grow=longest_run(marked) if model is None else int(model.longest))
    review = []
    if p.review_similarity is not None and p.detector is not None:
        review = review_runs(sim, nov, eligible, found | marked, reference=ref, counts=counts,
                             min_event=settings.frames(p.review_min_event_ms, ana.cfg), params=p,
                             probability=probability)
    return found, sim, nov, ref, review


def longest_run(frames: np.ndarray) -> int:
    """Length in frames of the longest run of ``frames`` (0 if none)."""
    return max((b - a for a, b in segments(frames)), default=0)


def detector_probability(x: np.ndarray, sr: int, *, first: Analysis | None, base: Dictionary, settings: Settings,
                         threads: int = 1, model=None, dictionary: Dictionary | None = None) -> np.ndarray:
    """The learned detector's frame probability of interference, smoothed as its events are.

    The detector reads an analysis made with a dictionary of all five core classes (the
    bundled ``any``, which it was trained with): ``first`` if ``base`` is one, else (or
    without ``first``) the recording analysed again with ``dictionary`` (default: the bundled
    ``any``).

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
    sr : int
    first : Analysis or None
        The recording analysed with ``base``.
    base : Dictionary
    settings : Settings
    threads : int
    model : DetectorModel or path, optional
        Default: ``settings.detector`` or the shipped model.
    dictionary : Dictionary, optional
        The dictionary the model was trained with (default: the bundled ``any``).

    Returns
    -------
    np.ndarray [shape=(T,)], float64 in [0, 1]
    """
    if first is not None and set(ACTIVATION_CLASSES) <= set(base.labels):
        ana = first
    else:
        ana = analyse(x, sr, dictionary=dictionary if dictionary is not None else resolve_dictionary("any"),
                      settings=settings, threads=threads)
    model = load_model(model if model is not None else settings.detector)
    return smoothed_probability(interference_probabilities(ana, model)[0], model)


def learn_from_spans(x: np.ndarray, sr: int, marked: np.ndarray, *, first: Analysis, base: Dictionary,
                     settings: Settings, params: LikeParams | None = None, threads: int = 1,
                     spans=(), offset_s: float = 0.0) -> tuple[Dictionary, Analysis, float]:
    """Learn templates from the marked frames' residual, in ``params.passes`` rounds.

    Each round takes the residual under the music estimate of the latest analysis
    (:func:`example_residual`), learns templates from it (:func:`learn_like`) and analyses
    the recording again with them fixed before ``base``'s: the NMF music estimate, on which
    KAM chooses neighbours, then holds less of the interference, so the next residual holds
    more of it. The first round's estimate is the location's (one kernel); with
    ``params.repair_residual`` the later rounds' is the repair's (its eight kernels).

    Returns
    -------
    learned : Dictionary
    analysis : Analysis
        The last analysis (with ``learned``).
    residual_share : float
        Fraction of the marked frames' energy in the first residual.

    Raises
    ------
    ParameterError
        If the first residual carries less than ``params.min_residual`` of the energy.
    """
    p = params or LikeParams()
    ana = first
    q = marked & ~first.partial
    total = float((first.V[:, q if q.any() else marked] ** 2).sum())
    resid = 0.0
    for i in range(p.passes):
        R = example_residual(ana, marked, settings=settings, repair_estimate=p.repair_residual and i > 0)
        if i == 0:
            resid = float((R**2).sum()) / max(total, 1e-30)
            if resid < p.min_residual:
                where = ", ".join(f"{_in_recording(e.start_s, offset_s)} s to {_in_recording(e.end_s, offset_s)} s"
                                  for e in spans) or "marked"
                raise ParameterError(
                    f"nothing to learn from in the like span(s) {where}: the rest of the recording explains "
                    f"{100 * (1 - resid):.1f} % of their energy; mark a region where the interference sounds")
        learned = learn_like(R, first.cfg, rank=p.rank, beta=first.beta)
        ana = analyse(x, sr, dictionary=with_like(learned, base), settings=settings, threads=threads)
    return learned, ana, resid


def learn_like_model(x: np.ndarray, sr: int, spans: list[Event], *, first: Analysis, base: Dictionary,
                     settings: Settings, params: LikeParams | None = None, threads: int = 1,
                     offset_s: float = 0.0) -> tuple[LikeModel, Analysis]:
    """Learn the example(s) marked in ``x`` as a :class:`LikeModel`, to look for the
    interference in other stretches of the same recording or in other recordings
    (:func:`locate_like` with ``model=``).

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
        A stretch of the recording holding the marked spans, with music around them (the
        residual is what the rest of this stretch does not explain).
    sr : int
    spans : list of Event
        The marked spans in ``x``'s time (checked by the caller, :func:`check_like`).
    first : Analysis
        ``x`` analysed with ``base``.
    base : Dictionary
    settings : Settings
    params : LikeParams, optional
    threads : int
    offset_s : float
        Where ``x`` starts in the recording (for the times in messages).

    Returns
    -------
    model : LikeModel
    analysis : Analysis
        ``x`` analysed with the learned templates before ``base``'s.

    Raises
    ------
    ParameterError
        If the music explains (nearly) everything in the marked spans.
    """
    p = params or LikeParams()
    marked = span_frames(spans, first.cfg, first.n_frames)
    learned, ana, resid = learn_from_spans(x, sr, marked, first=first, base=base, settings=settings, params=p,
                                           threads=threads, spans=spans, offset_s=offset_s)
    *_, (level, ex, bands, ref, longest) = _like_scores(ana, marked, settings=settings, context_ms=p.context_ms,
                                                         prototype=p.prototype, model=None, threads=threads,
                                                         shape_only=True)
    model = LikeModel(learned=learned, level=level, prototype=np.array(ex), marked_bands=np.array(bands),
                      reference=ref, longest=int(longest), residual_share=resid)
    return model, ana


def spans_analysis(x: np.ndarray, sr: int, frames: np.ndarray, *, first: Analysis, settings: Settings,
                   threads: int = 1) -> Analysis:
    """The analysis the repair of given spans uses with the empty dictionary (``none``):
    the recording analysed with templates learned from the spans' frames
    (:func:`learn_from_spans`, its second round from the residual under the repair's music
    estimate: ``LikeParams.repair_residual``), or ``first`` if the spans hold nothing the music does not
    explain (then the repair's NMF guard removes nothing).

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
    sr : int
    frames : np.ndarray [shape=(T,)], bool
        The spans' frames.
    first : Analysis
        The recording analysed with the empty dictionary.
    settings : Settings
    threads : int

    Returns
    -------
    Analysis
    """
    try:
        _, ana, _ = learn_from_spans(x, sr, frames, first=first, base=empty_dictionary(first.cfg),
            settings=settings, params=LikeParams(min_residual=0.0, repair_residual=True), threads=threads)
    except ParameterError:
        return first
    return ana


def like_events(found: np.ndarray, similarity: np.ndarray, spans, *, frame_times: np.ndarray, hop_s: float,
                duration_s: float) -> list[Event]:
    """The events of :func:`locate_like`: the marked spans, and the runs of ``found`` that overlap
    none of them (confidence: their highest similarity), in time order.

    Parameters
    ----------
    found : np.ndarray [shape=(T,)], bool
        Frames of the events found (:func:`find_like`).
    similarity : np.ndarray [shape=(T,)]
        :func:`like_scores`.
    spans : sequence of Event
        The marked spans (seconds), listed with confidence 1.
    frame_times : np.ndarray [shape=(T,)]
        Frame centres in seconds.
    hop_s, duration_s : float
        Hop and recording length in seconds.

    Returns
    -------
    list of Event
        Labelled :data:`LIKE_LABEL`.
    """
    segs = segments(found)
    found_events = segments_to_events(
        segs, frame_times=frame_times, hop_s=hop_s, duration_s=duration_s, labels=[LIKE_LABEL] * len(segs),
        confidences=[float(np.clip(similarity[a:b].max(), 0, 1)) for a, b in segs])
    marked_events = [Event(e.start_s, e.end_s, LIKE_LABEL, 1.0) for e in spans]
    found_events = [e for e in found_events if not overlaps_any(e, marked_events)]
    return sorted(marked_events + found_events, key=lambda e: e.start_s)


def _check_model_fits(model: LikeModel, cfg: StftConfig, settings: Settings) -> None:
    """ParameterError unless ``model`` was learned with the analysis ``cfg`` and ``settings``
    use (the same window and hop in milliseconds, the same bands; the sample rate may differ)."""
    got, bands = model.learned.stft, min(settings.n_bands, cfg.n_freq)
    if (got.window_ms, got.hop_ms) != (cfg.window_ms, cfg.hop_ms) or model.prototype.shape[0] != bands:
        raise ParameterError(
            f"the like model was learned with {got.window_ms:g}-ms windows, {got.hop_ms:g}-ms hops and "
            f"{model.prototype.shape[0]} bands; this analysis uses {cfg.window_ms:g} ms, {cfg.hop_ms:g} ms and "
            f"{bands}: learn it again with the same settings")


def locate_like(
    x: np.ndarray,
    sr: int,
    spans: list[Event],
    *,
    first: Analysis | None,
    base: Dictionary,
    settings: Settings,
    params: LikeParams | None = None,
    threads: int = 1,
    probability: np.ndarray | None = None,
    model: LikeModel | None = None,
) -> LikeResult:
    """Learn the interference from the marked spans and find every event like it.

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
    sr : int
    spans : list of Event
        The marked spans (checked by the caller: inside the recording, in order, not
        overlapping; :func:`check_like`).
    first : Analysis or None
        The recording analysed with ``base`` (its music estimate at the marked frames gives
        the residual learned from). None only with ``model`` (nothing to learn here): the
        detector then analyses the recording with its own dictionary.
    base : Dictionary
        The Cleaner's dictionary (empty for ``"none"``); its templates stay in the second
        analysis after the learned ones.
    settings : Settings
    params : LikeParams, optional
    threads : int
    probability : np.ndarray [shape=(T,)], optional
        With ``params.detector``: the detector's frame probability (computed here with the
        bundled ``any`` dictionary if not given; :func:`detector_probability`).
    model : LikeModel, optional
        The example already learned, from this stretch, another of the same recording or
        another recording (:func:`learn_like_model`): nothing is learned here, ``spans`` are only the marked
        spans that fall in ``x`` (they may be none, or cut at its ends) and are repaired as
        marked.

    Returns
    -------
    LikeResult

    Raises
    ------
    ParameterError
        If the music explains (nearly) everything in the marked spans.
    """
    p = params or LikeParams()
    if model is None:
        if first is None:
            raise ParameterError("locate_like needs the first analysis to learn from the marked spans")
        marked = span_frames(spans, first.cfg, first.n_frames) if spans else np.zeros(first.n_frames, bool)
        learned, ana, resid = learn_from_spans(x, sr, marked, first=first, base=base, settings=settings, params=p,
                                               threads=threads, spans=spans)
    else:
        learned, resid = model.learned, model.residual_share
        _check_model_fits(model, settings.stft_config(sr), settings)
        ana = analyse(x, sr, dictionary=with_like(learned, base), settings=settings, threads=threads)
        marked = span_frames(spans, ana.cfg, ana.n_frames) if spans else np.zeros(ana.n_frames, bool)
    cfg = ana.cfg
    if p.detector is not None and probability is None:
        probability = detector_probability(x, sr, first=first, base=base, settings=settings, threads=threads)
    found, sim, nov, ref, review = find_like(ana, marked, settings=settings, params=p, probability=probability,
                                             model=model, threads=threads)
    frames = found | marked
    n_frames = ana.n_frames
    events = like_events(found, sim, spans, frame_times=cfg.frame_times(n_frames), hop_s=cfg.frame_seconds,
                         duration_s=x.shape[1] / sr)
    stats = {"like_reference": ref, "like_residual": resid, "like_found": len(events) - len(spans)}
    candidates = segments_to_events(
        review, frame_times=cfg.frame_times(n_frames), hop_s=cfg.frame_seconds, duration_s=x.shape[1] / sr,
        labels=[LIKE_LABEL] * len(review), confidences=[float(np.clip(sim[a:b].max(), 0, 1)) for a, b in review])
    return LikeResult(ana, learned, frames, found, events, sim, nov, stats, candidates)
