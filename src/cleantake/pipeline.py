"""The method end to end: one function (:func:`clean`) and one object (:class:`Cleaner`).

Audio handed to the API has soundfile's layout, ``(n_samples,)`` or ``(n_samples,
n_channels)``; spectrograms inside are ``(n_channels, n_freq, n_frames)``. All channels share
one analysis (the mean magnitude over channels) and therefore one mask: stereo images stay
where they were.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .analysis import Analysis, BandTemplates, analyse, band_templates, reanalyse, spectrogram
from .baselines import kam_baseline, nmf_baseline
from .dictionaries import Dictionary, resolve_dictionary
from .errors import ParameterError
from .io import block_sizes
from .labels import check_spans
from .like import LikeModel, LikeParams, check_like, learn_like_model, locate_like, spans_analysis, with_like
from .locate import (Event, add_channel_events, chosen_locator, dilate, locate_events, overlaps_any, screen,
                     trim_spans)
from .masking import segments
from .repair import repair
from .settings import FrameCounts, Settings, check_names
from .spectral import StftConfig
from .streaming import (STREAM_BLOCK_S, STREAM_OVERLAP_S, array_blocks, block_count, check_blocks, clean_blocks,
                        in_blocks, learn_like_for_blocks, locate_blocks)
from .threads import single_threaded_blas as _single_threaded_blas
from .threads import threads_for_recording as _recording_threads

__all__ = ["Settings", "CleanResult", "Cleaner", "clean", "repair_at_windows", "METHODS"]

METHODS = ("proposed", "nmf", "kam")
Progress = Callable[[float], None] | None


@dataclass
class CleanResult:
    """What :func:`clean` returns.

    Attributes
    ----------
    cleaned : np.ndarray [shape like the input], float64
        The music with the interference removed, computed as ``input - removed`` (in
        float64), so ``input - removed == cleaned`` exactly and ``cleaned + removed`` equals
        the input to within one float64 rounding (exactly wherever ``removed`` is 0, such as
        outside every event).
    removed : np.ndarray [shape like the input], float64
        What was removed.
    events : list of Event
        Located interference (or the spans given to ``events=``), in seconds.
    sr : int
        Sample rate in Hz.
    stats : dict
        About the run (empty when the recording is shorter than one window): ``n_frames``
        (STFT frames), ``seconds`` (wall seconds per stage: ``analysis``, ``location``,
        ``repair``), and from the location ``necessity`` (the recording's necessity
        threshold), ``candidate_frames`` and ``events_before_confirm`` (see
        :class:`cleantake.locate.Location`); ``screened`` (True) when the detector's networks
        ruled every event out before the NMF analysis (:func:`cleantake.locate.screen`), which
        was then not made. A recording cleaned in blocks has instead ``seconds`` summed over
        blocks (with ``read`` and ``write``: taking the blocks and joining them), ``blocks``,
        ``crossfaded_joins`` and ``screened_blocks`` (:func:`cleantake.streaming.clean_blocks`).
    candidates : list of Event
        Events the learned detector was less sure of: confidence from
        ``Settings.review_level`` up to ``Settings.sensitivity``, in seconds. Never
        repaired; for the user to review (the report lists them unticked) and pass back as
        ``events=`` if they are interference. With ``like=``: the like finder's candidates
        (``LikeParams.review_similarity``; their confidence is their highest similarity to
        the example), and with a dictionary the detector's too. Empty with the threshold
        stack and with ``events=``.
    """

    cleaned: np.ndarray
    removed: np.ndarray
    events: list
    sr: int
    stats: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)


#: Key under which ``Cleaner._process`` hands the located candidates to ``clean``/``locate``
#: (taken out of the run's stats before they are returned).
_CANDIDATES = "review_candidates"

#: Most channels an array handed to the API may have (more is taken for the wrong layout).
MAX_CHANNELS = 64


def _as_channels_first(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(audio)
    if a.ndim not in (1, 2):
        raise ParameterError(f"audio must have shape (n_samples,) or (n_samples, n_channels), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise ParameterError(f"audio must be numeric, got dtype {a.dtype}")
    if a.ndim == 2 and a.shape[1] > MAX_CHANNELS:
        raise ParameterError(
            f"audio of shape {a.shape} would have {a.shape[1]} channels of {a.shape[0]} samples: the layout "
            f"is (n_samples,) or (n_samples, n_channels) with at most {MAX_CHANNELS} channels; for a "
            f"(n_channels, n_samples) array (librosa's layout) pass audio.T"
        )
    a = a.astype(np.float64, copy=False)
    mono = a.ndim == 1
    x = a[None, :] if mono else a.T
    if x.shape[0] < 1:
        raise ParameterError("audio has no channels")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=0))[0]
        raise ParameterError(f"audio contains NaN or infinite samples (first at sample {bad})")
    return x, mono


def check_sr(sr) -> int:
    """``sr`` as an int if it is a whole number of Hz from 1 to 768000 (44100.0 is fine),
    else ParameterError."""
    ok = not isinstance(sr, bool) and isinstance(sr, (int, float, np.integer, np.floating))
    if not ok or not np.isfinite(sr) or sr != int(sr) or not 1 <= sr <= 768000:
        raise ParameterError(f"sample rate must be a whole number of Hz from 1 to 768000, got {sr!r}")
    return int(sr)


def _spans(spans, n_samples: int, sr: int, what: str, *, with_strength: bool) -> list[Event]:
    """User spans (``(start_s, end_s)``, ``(start_s, end_s, strength)``, Span or Event) as
    Events in time order, checked by :func:`cleantake.labels.check_spans` (Events given keep
    their label and confidence; the others are labelled ``"marked"``). ``keep`` and ``like``
    spans (``with_strength=False``) take no strength."""
    spans = list(spans)
    if not with_strength:
        for i, sp in enumerate(spans, 1):
            if isinstance(sp, Event) or not isinstance(sp, (tuple, list)):
                continue
            if len(sp) == 3 and sp[2] != 1.0:
                raise ParameterError(f"{what} {i}: a {what} span is (start_s, end_s) in seconds, with no "
                                     f"strength; got {sp!r}")
    given = {(ev.start_s, ev.end_s): ev for ev in spans if isinstance(ev, Event)}
    return [given.get((sp.start_s, sp.end_s)) or Event(sp.start_s, sp.end_s, "marked", 1.0, sp.strength)
            for sp in check_spans(spans, duration_s=n_samples / sr, name=what)]


def _span_mask(spans: list[Event], n_samples: int, sr: int, fade: int, *, strength: bool) -> np.ndarray:
    """Sample weights: inside each span its strength (or 1), with raised-cosine fades of
    ``fade`` samples inside its edges; exactly 0 outside every span."""
    m = np.zeros(n_samples)
    for e in spans:
        a = int(np.floor(e.start_s * sr))
        b = min(n_samples, int(np.ceil(e.end_s * sr)))
        n = b - a
        w = np.ones(n)
        f = min(fade, n // 2)
        if f > 0:
            ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(f) + 1) / (f + 1)))
            w[:f] = ramp
            w[n - f:] = ramp[::-1]
        m[a:b] = w * (e.strength if strength else 1.0)
    return m


def _span_frames(spans: list[Event], cfg: StftConfig, n_frames: int) -> np.ndarray:
    """Frames whose centre lies in a span, plus the frame nearest each span's middle (so a
    span shorter than a hop still has one)."""
    t = cfg.frame_times(n_frames)
    out = np.zeros(n_frames, bool)
    for e in spans:
        out |= (t >= e.start_s) & (t < e.end_s)
        out[int(np.argmin(np.abs(t - 0.5 * (e.start_s + e.end_s))))] = True
    return out


def _covering(event: Event, others: list[Event]) -> Event:
    """``event`` widened to cover ``others``: from the earliest start to the latest end among them."""
    if not others:
        return event
    return replace(event, start_s=min(event.start_s, *(o.start_s for o in others)),
                   end_s=max(event.end_s, *(o.end_s for o in others)))


class Cleaner:
    """Removes one class of interference with fixed settings; reuse it for many recordings.

    BLAS runs single-threaded inside the method (its matrices are small; BLAS threads made the
    NMF 3-5x slower on a loaded 2-core machine). Parallelism is the method's own: the NMF
    works on fixed blocks of frames in up to 4 threads (:data:`recording_threads`), and long
    files are cleaned in parallel blocks (:func:`clean_file`); results are bit-identical
    whatever the thread count.

    The ``proposed`` method is three public stages, usable on their own:
    :func:`cleantake.analysis.analyse` → :func:`cleantake.locate.locate_events` →
    :func:`cleantake.repair.repair`. Before the NMF analysis, the learned detector's networks
    read the STFT (:func:`cleantake.locate.screen`); a recording or block where they bound
    every event's confidence under what an event or a candidate for review needs is returned
    as it is, without the analysis (``stats["screened"]``): an exact bound, so the events,
    the candidates and the output are those the analysis would have given.

    Parameters
    ----------
    interference : str, Path or Dictionary
        A bundled preset (``"any"``, ``"cough"``, ``"door"``, ``"creak"``, ``"scream"``,
        ``"drop"``), ``"none"`` (no templates: :meth:`clean` then needs ``like=`` or
        ``events=``), a dictionary file made by ``cleantake learn``, or a Dictionary.
    method : {"proposed", "nmf", "kam"}
        ``proposed``: NMF + location + KAM on the NMF music estimate (the default);
        ``nmf``: semi-supervised NMF with a soft mask on every frame (the paper's baseline);
        ``kam``: classic KAM, kNN on the mixture for every frame, no location.
    strength : float in [0, 1]
        0 = no change, 1 = full removal.
    like_params : LikeParams, optional
        How ``like=`` examples are learned and looked for (:class:`cleantake.like.LikeParams`:
        the finder's thresholds, the templates learned, the candidates for review). Default:
        ``LikeParams()``, the choice cross-validated in ``benchmarks/like.py``.
    **params
        Any field of :class:`Settings`.

    Examples
    --------
    >>> import numpy as np, cleantake
    >>> c = cleantake.Cleaner("cough")
    >>> res = c.clean(np.zeros(44100), 44100)
    >>> res.events
    []
    """

    #: :meth:`clean` and :meth:`locate` cut an array longer than ``2 * block_s`` into blocks
    #: themselves; :mod:`cleantake.streaming` hands them the blocks it cuts with ``block_s=None``
    #: (each analysed whole).
    cuts_blocks = True

    def __init__(
        self,
        interference: str | Path | Dictionary = "any",
        *,
        method: str = "proposed",
        strength: float = 1.0,
        like_params: LikeParams | None = None,
        **params,
    ) -> None:
        _check_method(method)
        check_names(params)
        self.method = method
        self.settings = Settings(strength=strength, **params)
        self.like_params = _check_like_params(like_params)
        self.dictionary = resolve_dictionary(interference)
        self._cache: dict = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def with_settings(self, **params) -> "Cleaner":
        """A copy with some settings (or ``method``, or ``like_params``) changed, checked like a
        new Cleaner (ParameterError on an unknown name or a bad value); the dictionary is shared."""
        new = object.__new__(Cleaner)
        new.method = params.pop("method", self.method)
        _check_method(new.method)
        new.like_params = _check_like_params(params.pop("like_params", self.like_params))
        new.settings = self.settings.replace(**params)
        new.dictionary = self.dictionary
        new._cache = {}
        return new

    def templates(self, cfg: StftConfig) -> BandTemplates:
        """The dictionary's templates for the STFT ``cfg`` (computed once per sample rate)."""
        key = (cfg.sr, cfg.n_fft, self.settings.n_bands)
        if key not in self._cache:
            self._cache[key] = band_templates(self.dictionary, cfg, self.settings.n_bands)
        return self._cache[key]

    def analyse(self, x: np.ndarray, sr: int, *, stft_pair: tuple[np.ndarray, np.ndarray] | None = None) -> Analysis:
        """:func:`cleantake.analysis.analyse` with this Cleaner's dictionary and settings;
        ``x`` is ``(n_channels, n_samples)`` float64 (``stft_pair``: its ``spectrogram``, if
        made). BLAS single-threaded, as in :meth:`clean` (so that the band templates it caches
        are those :meth:`clean` would make)."""
        cfg = self.settings.stft_config(sr)
        with _single_threaded_blas():
            return analyse(x, sr, dictionary=self.dictionary, settings=self.settings, threads=_recording_threads(),
                           templates=self.templates(cfg), stft_pair=stft_pair)

    # -- public ----------------------------------------------------------------------------
    def clean(self, audio: np.ndarray, sr: int, *, events=None, keep=None, like=None,
              like_model: LikeModel | None = None, progress: Progress = None,
              block_s: float | None = STREAM_BLOCK_S, overlap_s: float = STREAM_OVERLAP_S) -> CleanResult:
        """Remove the interference from ``audio``.

        Parameters
        ----------
        audio : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
            The recording, float (any scale) or integer samples; at most ``MAX_CHANNELS``
            (64) channels (for librosa's ``(n_channels, n_samples)`` layout pass ``audio.T``).
        sr : int
            Sample rate in Hz, a whole number from 1 to 768000.
        events : sequence, optional
            Spans to repair instead of locating any: ``(start_s, end_s)``,
            ``(start_s, end_s, strength)`` or :class:`Event` (its ``strength``), in seconds,
            inside the recording, not overlapping. Exactly these are repaired (by
            :func:`cleantake.repair.repair`), each at its strength times the Cleaner's;
            outside them the output equals the input sample for sample (what is removed is
            faded in and out over ``span_fade_ms`` inside each span's edges). Only with the
            ``proposed`` method.
        keep : sequence of (start_s, end_s), optional
            Spans of music that must not be touched: located events overlapping one are
            dropped, and nothing is removed inside them (the output equals the input there;
            what is removed next to them is faded out over ``ramp_ms`` outside them). Their
            frames still serve as neighbours of KAM: they are known to be music.
        like : sequence of (start_s, end_s) or Event, optional
            Example(s) of the interference in this recording, at least one analysis window
            long each, not silent, not overlapping each other or a ``keep`` span: templates
            are learned from what the rest of the recording does not explain there, and
            every event like them is found and removed, the marked ones included
            (:func:`cleantake.like.locate_like`). With the ``"none"`` dictionary only what
            was marked is used; with another the learned templates are added to it and its
            own located events are removed too. Not with ``events=``; only with the
            ``proposed`` method.
        like_model : LikeModel, optional
            The example already learned from another stretch of the same recording, or from
            another recording (:meth:`learn_like`, :func:`cleantake.like.load_like_model`):
            every event like it is found and removed here, and ``like`` (which may then be
            empty or None) only says which spans of ``audio`` were marked, to repair them as
            such. How :func:`cleantake.files.clean_file` cleans a long file
            in blocks with ``like``.
        progress : callable(float), optional
            Called with the completed fraction (0 to 1).
        block_s, overlap_s : float
            A recording longer than ``2 * block_s`` seconds is cleaned in overlapping blocks
            of ``block_s`` seconds (``overlap_s`` in common), exactly as
            :func:`cleantake.files.clean_file` and the command line clean a file
            (:func:`cleantake.streaming.clean_blocks`): the same events and samples, memory
            bounded by the block length, blocks in parallel threads. ``block_s=None``
            analyses the whole recording at once, however long. With ``like`` on a recording
            in blocks the examples are learned once from the 120 s around them
            (:data:`cleantake.streaming.LIKE_WINDOW_S`; they must lie within that of each
            other).

        Returns
        -------
        CleanResult
            ``cleaned`` and ``removed`` have the input's shape; ``audio - removed == cleaned``
            exactly (in float64) and ``cleaned + removed`` equals ``audio`` to within one
            float64 rounding (exactly where nothing is removed).

        Raises
        ------
        ParameterError
            On a bad array layout, sample rate or span (the message gives the span in seconds).

        Notes
        -----
        One block (a recording up to ``2 * block_s`` long, or ``block_s=None``) is analysed
        at once: its peak memory grows by about 0.25 GB per minute of 44.1-kHz stereo
        (measured on 1, 3 and 5 minutes). In blocks the analysis holds about 0.1 GB per
        20-s stereo block being cleaned, besides the input and the two outputs. On long
        full mixes the blocks also measured better than one analysis of the whole
        (BENCHMARKS.md 0a, session 14). For files, :func:`cleantake.files.clean_file` never
        holds the recording in memory.
        """
        x, mono = _as_channels_first(audio)
        sr = check_sr(sr)
        if block_s is not None:
            check_blocks(block_s, overlap_s)
        n = x.shape[1]
        marked = None if events is None else _spans(events, n, sr, "events", with_strength=True)
        kept = [] if keep is None else _spans(keep, n, sr, "keep", with_strength=False)
        if marked is not None and self.method != "proposed":
            raise ParameterError(f"events= works with the proposed method only, not {self.method!r}")
        cfg = self.settings.stft_config(sr)
        examples = self._check_like(like, x, sr, cfg, kept, marked=marked, model=like_model)
        if in_blocks(n, sr, block_s):
            return self._clean_in_blocks(x, mono, sr, progress, block_s, overlap_s, marked=marked, kept=kept,
                                         like=examples, like_model=like_model)
        if marked is not None and not marked and not examples:
            # Nothing to repair (e.g. a block of a long file with no given span): the output is
            # the input, and no analysis is needed to know it.
            if progress is not None:
                progress(1.0)
            return self._result(x, np.zeros_like(x), [], sr, mono, {"seconds": {}})
        if n < cfg.win_length:
            warnings.warn(
                f"recording is {n / sr:.3f} s long, shorter than one analysis window "
                f"({cfg.win_length / sr:.3f} s); returned unchanged",
                stacklevel=2,
            )
            return self._result(x, np.zeros_like(x), [] if marked is None else marked, sr, mono, {})
        with _single_threaded_blas():
            removed, found, stats = self._process(x, sr, cfg, progress, marked=marked, kept=kept, like=examples,
                                                  like_model=like_model)
        candidates = stats.pop(_CANDIDATES, [])
        return self._result(x, removed, found, sr, mono, stats, candidates)

    def locate(self, audio: np.ndarray, sr: int, *, keep=None, like=None, like_model: LikeModel | None = None,
               progress: Progress = None, return_candidates: bool = False,
               block_s: float | None = STREAM_BLOCK_S, overlap_s: float = STREAM_OVERLAP_S):
        """Only locate the interference: a list of events, no audio (``keep``, ``like``,
        ``like_model``, ``block_s`` and ``overlap_s`` as in :meth:`clean`: the events
        :meth:`clean` would remove; the ``proposed`` method's location whatever ``method``
        is).

        With ``return_candidates=True``: ``(events, candidates)``, the candidates as
        :attr:`CleanResult.candidates`."""
        x, _ = _as_channels_first(audio)
        sr = check_sr(sr)
        if block_s is not None:
            check_blocks(block_s, overlap_s)
        kept = [] if keep is None else _spans(keep, x.shape[1], sr, "keep", with_strength=False)
        cfg = self.settings.stft_config(sr)
        m = self if self.method == "proposed" else self.with_settings(method="proposed")
        examples = m._check_like(like, x, sr, cfg, kept, model=like_model)
        if in_blocks(x.shape[1], sr, block_s):
            audio2 = x.T
            if examples and like_model is None:
                like_model = learn_like_for_blocks(m, lambda a, b: audio2[a:b], examples, kept, x.shape[1], sr,
                                                   block_s)
            cands: list = []
            found = locate_blocks(array_blocks(audio2, sr, block_s, overlap_s), cleaner=m, sr=sr,
                                  n_total=x.shape[1], keep=kept or None, like=examples, like_model=like_model,
                                  progress=progress, candidates=cands if return_candidates else None)
            found = sorted(found, key=lambda e: (e.start_s, e.end_s))
            if progress is not None:
                progress(1.0)
            return (found, cands) if return_candidates else found
        if x.shape[1] < cfg.win_length:
            return ([], []) if return_candidates else []
        with _single_threaded_blas():
            _, found, stats = m._process(x, sr, cfg, progress, kept=kept, like=examples, like_model=like_model,
                                         locate_only=True)
        return (found, stats.get(_CANDIDATES, [])) if return_candidates else found

    def learn_like(self, audio: np.ndarray, sr: int, like, *, keep=None, offset_s: float = 0.0) -> LikeModel:
        """Learn the interference from example(s) marked in ``audio``, to find it elsewhere in
        the same recording or in others (``clean(..., like_model=...)`` on other stretches of it,
        or on other recordings; :func:`cleantake.like.save_like_model` keeps it in a file).

        Parameters
        ----------
        audio : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
            A stretch of the recording that holds the marked spans, with music around them
            (a minute or two: the example is what the rest of it does not explain).
        sr : int
        like : sequence of (start_s, end_s) or Event
            The marked spans, in seconds from the start of ``audio`` (as ``clean(like=...)``).
        keep : sequence of (start_s, end_s), optional
            Music to keep (a marked span may not overlap one).
        offset_s : float
            Where ``audio`` starts in the recording: error messages give the spans' times in
            the recording (``like`` and ``keep`` stay in ``audio``'s time).

        Returns
        -------
        LikeModel

        Raises
        ------
        ParameterError
            As ``clean(like=...)``: a span outside ``audio``, too short, silent, or holding
            nothing the music does not explain.
        """
        x, _ = _as_channels_first(audio)
        sr = check_sr(sr)
        kept = [] if keep is None else _spans(keep, x.shape[1], sr, "keep", with_strength=False)
        cfg = self.settings.stft_config(sr)
        m = self if self.method == "proposed" else self.with_settings(method="proposed")
        if like is None:
            raise ParameterError("learn_like needs like=: the marked example(s) to learn from")
        examples = m._check_like(like, x, sr, cfg, kept, offset_s=offset_s)
        with _single_threaded_blas():
            ana = m.analyse(x, sr)
            model, _ = learn_like_model(x, sr, examples, first=ana, base=m.dictionary, settings=m.settings,
                                        params=m.like_params, threads=_recording_threads(), offset_s=offset_s)
        return model

    def _clean_in_blocks(self, x: np.ndarray, mono: bool, sr: int, progress: Progress, block_s: float,
                         overlap_s: float, *, marked, kept, like, like_model) -> CleanResult:
        """:meth:`clean` of a recording longer than ``2 * block_s``: in overlapping blocks
        (:func:`cleantake.streaming.clean_blocks`), the spans checked on the whole."""
        audio = x.T  # (n_samples, n_channels), as the blocks are handed on
        n = audio.shape[0]
        if like and like_model is None:
            like_model = learn_like_for_blocks(self, lambda a, b: audio[a:b], like, kept, n, sr, block_s)
        removed = np.zeros_like(audio)
        done = {"n": 0}

        def emit(_x: np.ndarray, r: np.ndarray) -> None:
            removed[done["n"]:done["n"] + r.shape[0]] = r
            done["n"] += r.shape[0]

        block_n, overlap_n = block_sizes(sr, block_s, overlap_s)
        stats: dict = {}
        candidates: list = []
        found = clean_blocks(array_blocks(audio, sr, block_s, overlap_s), cleaner=self, sr=sr,
                             n_total=n, n_blocks=block_count(n, block_n, overlap_n), emit=emit, events=marked,
                             keep=kept or None, like=like, like_model=like_model, progress=progress,
                             stats=stats, candidates=candidates)
        if progress is not None:
            progress(1.0)
        return self._result(x, removed.T, found, sr, mono, stats, candidates)

    def _check_like(self, like, x: np.ndarray, sr: int, cfg: StftConfig, kept: list, *, marked=None,
                    model: LikeModel | None = None, offset_s: float = 0.0):
        """The ``like`` spans as checked Events (None if not given); refuses the empty
        dictionary without ``like`` or ``events``. With ``model`` (learned elsewhere) the
        spans only say what is marked here: none is fine, and a span cut at an end of
        ``audio`` need not be an example on its own."""
        if model is not None:
            if marked is not None:
                raise ParameterError("give like_model= (examples learned elsewhere) or events= (regions to "
                                     "repair), not both")
            if self.method != "proposed":
                raise ParameterError(f"like_model= (--like-model) works with the proposed method only, not "
                                     f"{self.method!r}")
            return [] if like is None else _spans(like, x.shape[1], sr, "like", with_strength=False)
        if like is None:
            if self.dictionary.rank == 0 and marked is None:
                raise ParameterError(
                    f"the interference dictionary {self.dictionary.name!r} has no templates: it needs spans, like= "
                    "(examples to learn from) or events= (regions to repair) (-i none needs --like or --events)")
            return None
        if marked is not None:
            raise ParameterError("give like= (examples to learn from) or events= (regions to repair), not both")
        if self.method != "proposed":
            raise ParameterError(f"like= (--like) works with the proposed method only, not {self.method!r}")
        examples = _spans(like, x.shape[1], sr, "like", with_strength=False)
        if not examples:
            raise ParameterError("like= holds no span: give at least one (start_s, end_s) example")
        check_like(examples, x, sr, cfg, keep=kept, offset_s=offset_s)
        return examples

    def _result(self, x, removed, events, sr, mono, stats, candidates=()) -> CleanResult:
        cleaned = x - removed
        if mono:
            return CleanResult(cleaned[0], removed[0], events, int(sr), stats, list(candidates))
        return CleanResult(cleaned.T.copy(), removed.T.copy(), events, int(sr), stats, list(candidates))

    def _process(self, x: np.ndarray, sr: int, cfg: StftConfig, progress: Progress, *, marked=None, kept=(),
                 like=None, like_model: LikeModel | None = None, locate_only: bool = False):
        s = self.settings
        user_report = progress or (lambda f: None)
        clock = {"t": time.perf_counter()}
        seconds: dict = {}

        def report(frac: float, stage: str | None = None) -> None:
            if stage is not None:
                now = time.perf_counter()
                seconds[stage] = seconds.get(stage, 0.0) + now - clock["t"]
                clock["t"] = now
            user_report(frac)

        n = x.shape[1]
        if self.method != "proposed":
            t = self.templates(cfg)
            X, V = spectrogram(x, cfg, threads=_recording_threads())
            report(0.15, "analysis")
            stats: dict = {"n_frames": V.shape[1], "seconds": seconds}
            if self.method == "kam":
                removed, found = kam_baseline(X, V, t, cfg, n, settings=s), []
            else:
                removed, found = nmf_baseline(X, V, t, cfg, n, settings=s, dictionary=self.dictionary,
                                              threads=_recording_threads())
            report(1.0, "repair")
            return self._outside_keep(removed, kept, sr, cfg), found, stats

        # With a like= model and no dictionary (a block of a long file cleaned with -i none
        # --like), nothing reads the analysis with the empty dictionary: the finder analyses the
        # block with the learned templates, the detector with its own. (Given spans always get it.)
        skip = marked is None and like is not None and like_model is not None and not self.dictionary.rank
        stats = {"n_frames": cfg.n_frames(n), "seconds": seconds}
        by_channel = s.channel_confidence > 0 and x.shape[0] > 1 and chosen_locator(s, self.dictionary) == "learned"
        screened, channels = None, []
        if marked is None and like is None:
            # The detector's networks read the STFT first: where they rule every event out
            # (locate.Screen.rules_out, an exact bound), the location could find nothing
            # whatever the NMF analysis held, and the analysis is not made.
            stft_pair = spectrogram(x, cfg, threads=_recording_threads())
            report(0.2, "analysis")
            screened = screen(*stft_pair, cfg, settings=s, dictionary=self.dictionary)
            if by_channel:
                # Each channel is located on its own too (Settings.channel_confidence), unless
                # its networks rule out every event it could add (Screen.adds_nothing).
                for c in range(x.shape[0]):
                    pair = spectrogram(x[c:c + 1], cfg, threads=_recording_threads())
                    sc = screen(*pair, cfg, settings=s, dictionary=self.dictionary)
                    if sc is None or not sc.adds_nothing(s):
                        channels.append((c, pair, sc))
            report(0.3, "location")
            if screened is not None and screened.rules_out(s) and not channels:
                stats.update(screened=True, detector_events=0)
                report(1.0)
                return np.zeros_like(x), [], stats
            ana = self.analyse(x, sr, stft_pair=stft_pair)
        else:
            ana = None if skip else self.analyse(x, sr)
        report(0.55, "analysis")
        fc = s.counts(cfg)
        if marked is not None:
            # The spans repaired at the analysis's STFT and, with a dictionary, again at each
            # window of Settings.span_windows_ms; what they remove is averaged. Each further
            # analysis starts from this one's NMF (analysis.reanalyse: _REFIT iterations).
            # With Settings.trim_spans each span is repaired only where the detector hears its
            # event (the spans as given still bound what changes, below).
            spans = trim_spans(ana, marked, settings=s, dictionary=self.dictionary) if s.trim_spans else marked
            removed = self._repair_spans(x, sr, spans, ana, s)
            windows = _fitting(s.span_settings(), sr, n) if self.dictionary.rank else []
            for sw in windows:
                further = _further(ana, x, sr, sw, self.templates, _recording_threads())
                removed += self._repair_spans(x, sr, spans, further, sw)
            removed /= 1 + len(windows)
            report(0.9, "repair")
            # Each span's own strength, and exactly nothing removed outside the spans.
            removed *= _span_mask(marked, n, sr, fc.span_fade, strength=True)[None]
            report(1.0)
            return self._outside_keep(removed, kept, sr, cfg), list(marked), stats
        if like is not None:
            return self._process_like(x, sr, ana, like, kept, stats, report, locate_only, like_model)
        loc = locate_events(ana, settings=s, dictionary=self.dictionary, screened=screened)
        if channels:
            # Each channel located on its own too (Settings.channel_confidence), but those whose
            # networks ruled out every event they could add.
            alone = [locate_events(self.analyse(x[c:c + 1], sr, stft_pair=pair), settings=s,
                                   dictionary=self.dictionary, screened=sc) for c, pair, sc in channels]
            loc = add_channel_events(loc, alone, confidence=s.channel_confidence,
                                     frame_times=cfg.frame_times(ana.n_frames), context=fc.context)
        stats.update(loc.stats)
        frames, found = loc.frames, loc.events
        stats[_CANDIDATES] = [e for e in loc.candidates if not overlaps_any(e, kept)]
        if kept:
            # Located events overlapping a keep span are dropped.
            keep_frames = _span_frames(kept, cfg, ana.n_frames)
            frames = frames.copy()
            segs = [(a, b) for a, b in loc.segments if not keep_frames[a:b].any()]
            for a, b in loc.segments:
                if keep_frames[a:b].any():
                    frames[a:b] = False
            found = [e for e in found if not overlaps_any(e, kept)]
            stats["dropped_by_keep"] = len(loc.segments) - len(segs)
        report(0.8, "location")
        if locate_only or not frames.any():
            report(1.0)
            return np.zeros_like(x), found, stats
        removed = repair(ana, frames, settings=s, exclude=loc.exclude, music=loc.music)
        windows = s.span_settings(located=True)
        if windows:
            # The located frames repaired again at each window of Settings.located_windows_ms,
            # as given spans are; what they remove is averaged.
            removed = repair_at_windows(x, sr, ana, frames, removed, windows=windows, exclude=loc.exclude,
                                        templates=self.templates, threads=_recording_threads())
        report(1.0, "repair")
        return self._outside_keep(removed, kept, sr, cfg), found, stats

    def _repair_spans(self, x: np.ndarray, sr: int, marked: list[Event], ana: Analysis,
                      s: Settings) -> np.ndarray:
        """What the repair removes at the given spans ``marked`` with the analysis ``ana``
        (made with settings ``s``): ``(n_channels, n_samples)``, not yet cut to the spans."""
        frames = _span_frames(marked, ana.cfg, ana.n_frames)
        if not self.dictionary.rank:
            # ``none``: the templates are learned from the spans themselves (as for like=).
            ana = spans_analysis(x, sr, frames, first=ana, settings=s, threads=_recording_threads())
        # With ``none`` every template was learned from these marks: the user's spans get
        # the guard for marked interference (Settings.nmf_guard_marked).
        return repair(ana, frames, settings=s, marked=None if self.dictionary.rank else frames)

    def _process_like(self, x, sr, ana, like, kept, stats, report, locate_only, model=None):
        """Learn from the ``like`` spans (or take ``model``), find the events like them (and,
        with a non-empty dictionary, locate its own), and repair them all."""
        s = self.settings
        lk = locate_like(x, sr, like, first=ana, base=self.dictionary, settings=s, params=self.like_params,
                         threads=_recording_threads(), model=model)
        ana = lk.analysis if ana is None else ana  # (the same STFT either way)
        stats.update(lk.stats)
        frames, found = lk.frames.copy(), list(lk.events)
        candidates = list(lk.candidates)
        exclude = dilate(frames, s.counts(ana.cfg).context)
        if self.dictionary.rank:  # the union with the dictionary's own location
            loc = locate_events(ana, settings=s, dictionary=self.dictionary)
            stats.update(loc.stats)
            frames |= loc.frames
            exclude |= loc.exclude
            # A located event that overlaps an event like the example is repaired with it (its
            # frames are in the union): the listed event covers both spans.
            like_events = found
            found = [_covering(e, [o for o in loc.events if overlaps_any(o, [e])]) for e in like_events]
            found += [e for e in loc.events if not overlaps_any(e, like_events)]
            found.sort(key=lambda e: e.start_s)
            candidates = sorted(candidates + loc.candidates, key=lambda e: e.start_s)
        # A candidate is never an event already found, nor inside a keep span.
        stats[_CANDIDATES] = [c for c in candidates if not overlaps_any(c, found) and not overlaps_any(c, kept)]
        if kept:
            keep_frames = _span_frames(kept, ana.cfg, ana.n_frames)
            for a, b in segments(frames):
                if keep_frames[a:b].any():
                    frames[a:b] = False
            found = [e for e in found if not overlaps_any(e, kept)]
        report(0.8, "location")
        if locate_only or not frames.any():
            report(1.0)
            return np.zeros_like(x), found, stats
        # With ``none`` the marked examples get the guard for marked interference; what the
        # finder found keeps the usual one (Settings.nmf_guard_marked).
        marked = None if self.dictionary.rank else _span_frames(like, ana.cfg, ana.n_frames) & frames
        removed = repair(lk.analysis, frames, settings=s, exclude=exclude, marked=marked)
        windows = s.span_settings()
        if windows:
            # What the user pointed at and what is like it, as given spans: repaired again at each
            # window of Settings.span_windows_ms, from the analysis with the learned templates;
            # what they remove is averaged.
            learned = with_like(lk.learned, self.dictionary)
            removed = repair_at_windows(x, sr, lk.analysis, frames, removed, windows=windows, exclude=exclude,
                                        templates=lambda cfg: band_templates(learned, cfg, s.n_bands),
                                        marked=None if self.dictionary.rank else list(like),
                                        threads=_recording_threads())
        report(1.0, "repair")
        return self._outside_keep(removed, kept, sr, ana.cfg), found, stats

    def _outside_keep(self, removed: np.ndarray, kept: list, sr: int, cfg: StftConfig) -> np.ndarray:
        """``removed``, exactly 0 inside the keep spans and faded out over ``ramp_ms`` outside them."""
        if not kept:
            return removed
        fade = _ramp_samples(self.settings.counts(cfg), cfg)
        n = removed.shape[1]
        grown = [Event(max(0.0, k.start_s - fade / sr), min(n / sr, k.end_s + fade / sr), k.label, 1.0) for k in kept]
        # Merge the grown spans so that fades of neighbouring keep spans do not overlap.
        merged: list[Event] = []
        for g in sorted(grown, key=lambda e: e.start_s):
            if merged and g.start_s <= merged[-1].end_s:
                merged[-1] = Event(merged[-1].start_s, max(merged[-1].end_s, g.end_s), g.label, 1.0)
            else:
                merged.append(g)
        inside = np.zeros(n)
        for k in kept:
            inside[int(np.floor(k.start_s * sr)):min(n, int(np.ceil(k.end_s * sr)))] = 1.0
        m = np.maximum(_span_mask(merged, n, sr, fade, strength=False), inside)
        return removed * (1.0 - m)[None]


def _fitting(windows: list[Settings], sr: int, n: int) -> list[Settings]:
    """The further resolutions whose window fits in a recording of ``n`` samples."""
    return [sw for sw in windows if sw.stft_config(sr).win_length <= n]


def _further(ana: Analysis, x: np.ndarray, sr: int, sw: Settings, templates: Callable[[StftConfig], BandTemplates],
             threads: int) -> Analysis:
    """The analysis at the further resolution ``sw`` (one of ``Settings.span_settings``),
    started from ``ana``'s NMF (``reanalyse``, ``_REFIT`` iterations)."""
    return reanalyse(ana, x, sw, templates=templates(sw.stft_config(sr)), n_iter=_REFIT, threads=threads)


def repair_at_windows(x: np.ndarray, sr: int, ana: Analysis, frames: np.ndarray, removed: np.ndarray, *,
                      windows: list[Settings], templates: Callable[[StftConfig], BandTemplates],
                      exclude: np.ndarray | None = None, marked: list[Event] | None = None,
                      threads: int = 1) -> np.ndarray:
    """The repair of ``frames`` averaged over further STFT resolutions, as the located events
    (``Settings.located_windows_ms``) and what ``like=`` finds (``Settings.span_windows_ms``)
    are repaired.

    Each run of ``frames`` becomes a time span (its frames' centres, half a hop either side);
    at each of ``windows`` the recording is analysed again from ``ana``'s NMF
    (:func:`cleantake.analysis.reanalyse`, ``_REFIT`` iterations), the spans' frames there are
    repaired (:func:`cleantake.repair.repair`), a frame excluded from the neighbours where
    ``exclude``'s frame at or just after its centre is (besides the spans and their context),
    and what is removed is the mean of ``removed`` and these repairs.

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
        The recording ``ana`` analyses.
    sr : int
        Sample rate in Hz.
    ana : Analysis
    frames : np.ndarray [shape=(ana.n_frames,)], bool
        The frames repaired at ``ana``'s STFT.
    removed : np.ndarray [shape=(n_channels, n_samples)]
        What their repair at ``ana``'s STFT removes.
    windows : list of Settings
        One per further resolution (``Settings.span_settings``); a window longer than the
        recording is left out (with none left, what is returned equals ``removed``).
    templates : callable
        The band templates at an STFT (:func:`cleantake.analysis.band_templates` of the
        dictionary ``ana`` was made with).
    exclude : np.ndarray [shape=(ana.n_frames,)], bool, optional
        Frames of ``ana`` never used as neighbours.
    marked : list of Event, optional
        Spans (seconds) whose repaired frames get the guard for marked interference
        (``repair(marked=...)``), as at ``ana``'s STFT.
    threads : int
        Threads of the further analyses.

    Returns
    -------
    np.ndarray [shape=(n_channels, n_samples)], float64
    """
    t = ana.cfg.frame_times(ana.n_frames)
    half = ana.cfg.hop_length / sr / 2
    spans = [Event(t[a] - half, t[b - 1] + half, "located", 1.0) for a, b in segments(frames)]
    windows = _fitting(windows, sr, x.shape[1])
    for sw in windows:
        other = _further(ana, x, sr, sw, templates, threads)
        fr = _span_frames(spans, other.cfg, other.n_frames)
        ex = None
        if exclude is not None:
            at = np.clip(np.searchsorted(t, other.cfg.frame_times(other.n_frames)), 0, t.size - 1)
            ex = exclude[at] | dilate(fr, sw.counts(other.cfg).context)
        mk = None if marked is None else _span_frames(marked, other.cfg, other.n_frames) & fr
        removed = removed + repair(other, fr, settings=sw, exclude=ex, marked=mk)
    return removed / (1 + len(windows))


#: Iterations of each further analysis's NMF from the first one's (``analysis.reanalyse``):
#: 20 measured as good as a full new analysis (60 from a random start) for a fraction of the
#: time (REPAIR.md, session 35).
_REFIT = 20


def _ramp_samples(fc: FrameCounts, cfg: StftConfig) -> int:
    """The ramp of the settings in samples (at least one hop)."""
    return max(1, fc.ramp) * cfg.hop_length


def _check_like_params(like_params) -> LikeParams:
    """``like_params``, or ``LikeParams()`` for None; ParameterError for anything else."""
    if like_params is None:
        return LikeParams()
    if not isinstance(like_params, LikeParams):
        raise ParameterError(f"like_params must be a cleantake.like.LikeParams or None, got "
                             f"{type(like_params).__name__}")
    return like_params


def _check_method(method) -> None:
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")


def clean(
    audio: np.ndarray,
    sr: int,
    *,
    interference: str | Path | Dictionary = "any",
    method: str = "proposed",
    strength: float = 1.0,
    events=None,
    keep=None,
    like=None,
    like_params: LikeParams | None = None,
    progress: Progress = None,
    block_s: float | None = STREAM_BLOCK_S,
    overlap_s: float = STREAM_OVERLAP_S,
    **params,
) -> CleanResult:
    """Remove transient interference from a music recording.

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
        The recording (soundfile's layout), any float scale.
    sr : int
        Sample rate in Hz.
    interference : str, Path or Dictionary
        Preset name (``"any"``, ``"cough"``, ``"door"``, ``"creak"``, ``"scream"``, ``"drop"``),
        ``"none"`` (no templates: only what ``like=`` marks, or the ``events=`` spans) or a
        dictionary file.
    method : {"proposed", "nmf", "kam"}
    strength : float in [0, 1]
    events : sequence of spans, optional
        Repair exactly these instead of locating (see :meth:`Cleaner.clean`).
    keep : sequence of (start_s, end_s), optional
        Spans left untouched (see :meth:`Cleaner.clean`).
    like : sequence of (start_s, end_s), optional
        Examples of the interference to learn from; every event like them is removed (see
        :meth:`Cleaner.clean`). ``interference="none"`` uses only these.
    like_params : LikeParams, optional
        How ``like`` examples are learned and looked for (see :class:`Cleaner`).
    progress : callable(float), optional
    block_s, overlap_s : float
        A recording longer than ``2 * block_s`` seconds is cleaned in overlapping blocks, as
        the command line cleans a file; ``block_s=None``: analysed whole (see
        :meth:`Cleaner.clean`).
    **params
        Fields of :class:`Settings`.

    Returns
    -------
    CleanResult

    See Also
    --------
    Cleaner : the same, for many recordings with the dictionaries loaded once.
    """
    return Cleaner(interference, method=method, strength=strength, like_params=like_params, **params).clean(
        audio, sr, events=events, keep=keep, like=like, progress=progress, block_s=block_s, overlap_s=overlap_s)
