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

from . import kam as _kam
from . import locate as _loc
from .dictionaries import Dictionary, resolve_dictionary
from .errors import ParameterError
from .masking import apply_strength, frame_weights, soft_mask
from .nmf import beta_divergence_frames, semi_nmf
from .spectral import StftConfig, band_matrix, bands_to_bins, istft, istft_columns, stft
from .threads import single_threaded_blas as _single_threaded_blas
from .threads import threads_for_recording as _recording_threads

__all__ = ["Settings", "CleanResult", "Cleaner", "clean", "METHODS"]

METHODS = ("proposed", "nmf", "kam")
#: Size of the dictionary (templates) that Settings.evidence and Settings.necessity_floor were
#: measured with (``any``); smaller dictionaries scale them (Cleaner._size_share).
EVIDENCE_RANK = 60
#: Neighbours the necessity contrast compares a frame with (Settings.necessity_contrast).
CONTRAST_NEIGHBOURS = 8
Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class Settings:
    """Parameters of the method. Defaults chosen by measurement (see BENCHMARKS.md).

    Attributes
    ----------
    window_ms, hop_ms : float
        STFT window and hop in milliseconds.
    n_bands : int
        Log-frequency bands the NMF and the kNN search work on (the masks use every bin).
    music_rank : int
        Number of music templates learned from the recording.
    n_iter : int
        NMF iterations.
    threshold : float in (0, 1)
        Interference share of the NMF model above which a frame is a candidate.
    floor_db : float
        Candidates quieter than this many dB below the loudest interference frame are ignored.
    min_event_ms, max_gap_ms, pad_ms, ramp_ms : float
        Shortest event kept (before padding); longest gap bridged inside an event; how far
        each event is extended on both sides; length of the raised-cosine ramp around it.
    k : int
        Neighbours selected by the KAM kernel.
    context_ms : float
        Temporal context on each side of a frame compared by the kernel.
    novelty : float in [0, 1]
        A candidate frame is affected when its interference share times its novelty (the
        fraction of its energy that its k nearest frames do not explain) passes this.
    edge_ms : float
        No event starts within this many ms of either end of the recording (or block): a
        recording cut in the middle of a sound looks novel there.
    necessity : float >= 0
        A candidate frame must be explained worse without the interference templates: the
        per-frame divergence of the music templates alone minus that of the joint model,
        per unit of magnitude (the necessity gain), must exceed a threshold. This is the
        highest the threshold gets.
    necessity_floor : float >= 0
        The lowest the threshold gets. Within these bounds the threshold of a recording is
        ``median + necessity_mads * σ`` of its frames' necessity gains (σ = 1.4826 × median
        absolute deviation): music the templates explain everywhere equally well (most
        recordings) keeps a low threshold, so quiet thuds and screams are found; music whose
        gain varies a lot (drums, noisy sounds) keeps ``necessity``. The value is for a
        dictionary of 60 templates (``any``); a smaller dictionary explains any sound less
        well, so its floor is this times the square root of its share of 60 (0.16 for the
        12-template class presets; see :meth:`Cleaner._necessity_threshold`).
    necessity_mads : float >= 0
        See ``necessity_floor``.
    necessity_contrast : float >= 0
        A candidate frame under the recording's threshold (and above ``necessity_floor``)
        is necessary all the same if its necessity gain is more than this many times the
        median gain of the 8 frames whose NMF music estimate, with context, is most similar:
        a drum kit's hits are explained as poorly as each other, a thud among them is not.
        0 turns it off.
    confirm : float in [0, 1]
        An event is kept only if KAM removes at least this fraction of its energy
        (music that repeats elsewhere in the recording is explained by its neighbours and so
        not removed), or at least ``confirm_quiet`` on stronger evidence.
    confirm_quiet : float in [0, 1]
        An event that KAM removes less than ``confirm`` but at least this fraction of is
        kept if its evidence ratio reaches ``quiet_evidence``: interference 6 dB under the
        music is only a fifth of the mixture's energy there, so even its perfect removal
        takes less than ``confirm``. ``confirm`` or more turns this off.
    quiet_evidence : float >= 0
        Evidence ratio such quiet events need (see ``evidence``; scaled like it by the
        dictionary's size). Without the evidence test (``evidence`` 0) they are not kept.
    hysteresis : float >= 0
        A kept event takes in the frames around it (gaps up to ``max_gap_ms`` bridged) whose
        interference share passes ``threshold`` and whose necessity gain passes this fraction
        of the recording's threshold: the quieter first burst of a cough, the tail of a
        creak. 1 (or more) turns it off.
    evidence : float >= 0
        An event is kept only if what KAM would remove there is explained this many times
        better (in β-divergence) by the interference templates alone than by the
        recording's music templates alone (:func:`cleantake.locate.evidence_ratio`): a
        musical sound the neighbours failed to predict is explained by the music templates
        too. The value is for a dictionary of 60 templates (``any``); smaller dictionaries use
        it in proportion to their size. 0 turns the test off.
    mask_power : float
        Exponent of the soft masks.
    nmf_guard : float >= 0
        Inside events, KAM's estimate of the interference (mixture minus the neighbours'
        median) is multiplied by the NMF interference share of each band raised to this
        power before the mask is formed, so bands the interference templates do not explain
        keep their music. 0 uses KAM alone.
    strength : float in [0, 1]
        0 = no change, 1 = full removal.
    """

    window_ms: float = 46.0
    hop_ms: float = 11.5
    n_bands: int = 128
    music_rank: int = 80
    n_iter: int = 60
    threshold: float = 0.2
    floor_db: float = 30.0
    min_event_ms: float = 80.0
    max_gap_ms: float = 250.0
    pad_ms: float = 50.0
    ramp_ms: float = 35.0
    k: int = 4
    context_ms: float = 46.0
    confirm: float = 0.2
    confirm_quiet: float = 0.1
    quiet_evidence: float = 7.0
    necessity: float = 1.0
    necessity_floor: float = 0.35
    necessity_mads: float = 20.0
    evidence: float = 3.5
    nmf_guard: float = 0.5
    hysteresis: float = 0.5
    necessity_contrast: float = 5.0
    edge_ms: float = 250.0
    novelty: float = 0.05
    mask_power: float = 2.0
    strength: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            ("strength", 0.0 <= self.strength <= 1.0, "between 0 (no change) and 1 (full removal)"),
            ("threshold", 0.0 < self.threshold < 1.0, "strictly between 0 and 1"),
            ("confirm", 0.0 <= self.confirm <= 1.0, "between 0 and 1"),
            ("confirm_quiet", 0.0 <= self.confirm_quiet <= 1.0, "between 0 and 1"),
            ("novelty", 0.0 <= self.novelty <= 1.0, "between 0 and 1"),
            ("k", 1 <= self.k <= 1000, "from 1 to 1000 frames"),
            ("music_rank", 1 <= self.music_rank <= 500, "from 1 to 500"),
            ("n_iter", 1 <= self.n_iter <= 10000, "from 1 to 10000"),
            ("n_bands", 8 <= self.n_bands <= 4096, "from 8 to 4096"),
            ("mask_power", 0.0 < self.mask_power <= 10.0, "in (0, 10]"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ParameterError(f"{name} must be {allowed}, got {getattr(self, name)}")
        for name in ("min_event_ms", "max_gap_ms", "pad_ms", "ramp_ms", "context_ms", "floor_db", "edge_ms",
                     "necessity", "necessity_floor", "necessity_mads", "evidence", "nmf_guard", "hysteresis",
                     "necessity_contrast", "quiet_evidence"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")

    def stft_config(self, sr: int) -> StftConfig:
        return StftConfig(int(sr), self.window_ms, self.hop_ms)

    def frames(self, ms: float, cfg: StftConfig) -> int:
        """Milliseconds to a whole number of hops."""
        return int(round(ms / 1000.0 / cfg.frame_seconds))


@dataclass
class CleanResult:
    """What :func:`clean` returns.

    Attributes
    ----------
    cleaned : np.ndarray [shape like the input], float64
        The music with the interference removed.
    removed : np.ndarray [shape like the input], float64
        What was removed; ``cleaned + removed`` equals the input.
    events : list of Event
        Located interference, in seconds.
    sr : int
        Sample rate in Hz.
    """

    cleaned: np.ndarray
    removed: np.ndarray
    events: list
    sr: int
    stats: dict = field(default_factory=dict)


def _as_channels_first(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(audio)
    if a.ndim not in (1, 2):
        raise ParameterError(f"audio must have shape (n_samples,) or (n_samples, n_channels), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise ParameterError(f"audio must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    mono = a.ndim == 1
    x = a[None, :] if mono else a.T
    if x.shape[0] < 1:
        raise ParameterError("audio has no channels")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=0))[0]
        raise ParameterError(f"audio contains NaN or infinite samples (first at sample {bad})")
    return x, mono


class Cleaner:
    """Removes one class of interference with fixed settings; reuse it for many recordings.

    BLAS runs single-threaded inside the method (its matrices are small; BLAS threads made the
    NMF 3-5x slower on a loaded 2-core machine). Parallelism is the method's own: the NMF
    works on fixed blocks of frames in up to 4 threads (:data:`recording_threads`), and long
    files are cleaned in parallel blocks (:func:`clean_file`); results are bit-identical
    whatever the thread count.

    Parameters
    ----------
    interference : str, Path or Dictionary
        A bundled preset (``"any"``, ``"cough"``, ``"door"``, ``"creak"``, ``"scream"``,
        ``"drop"``), a dictionary file made by ``cleantake learn``, or a Dictionary.
    method : {"proposed", "nmf", "kam"}
        ``proposed``: NMF + location + KAM on the NMF music estimate (the default);
        ``nmf``: semi-supervised NMF with a soft mask on every frame (the paper's baseline);
        ``kam``: classic KAM, kNN on the mixture for every frame, no location.
    strength : float in [0, 1]
        0 = no change, 1 = full removal.
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

    def __init__(
        self,
        interference: str | Path | Dictionary = "any",
        *,
        method: str = "proposed",
        strength: float = 1.0,
        **params,
    ) -> None:
        if method not in METHODS:
            raise ParameterError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
        unknown = set(params) - set(Settings.__dataclass_fields__)
        if unknown:
            raise ParameterError(
                f"unknown setting(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(Settings.__dataclass_fields__)}"
            )
        self.method = method
        self.settings = Settings(strength=strength, **params)
        self.dictionary = resolve_dictionary(interference)
        self._cache: dict = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def with_settings(self, **params) -> "Cleaner":
        """A copy with some settings changed (the dictionary is shared)."""
        new = object.__new__(Cleaner)
        new.method = params.pop("method", self.method)
        new.settings = replace(self.settings, **params)
        new.dictionary = self.dictionary
        new._cache = {}
        return new

    # -- helpers ---------------------------------------------------------------------------
    def _templates(self, cfg: StftConfig) -> tuple[np.ndarray, np.ndarray]:
        key = (cfg.sr, cfg.n_fft, self.settings.n_bands)
        if key not in self._cache:
            W = self.dictionary.templates_for(cfg)
            n_bands = min(self.settings.n_bands, cfg.n_freq)
            P = band_matrix(cfg, n_bands)
            Wb = P @ W
            Wb /= np.maximum(Wb.sum(axis=0, keepdims=True), 1e-12)
            self._cache[key] = (W, P, Wb.astype(np.float32))
        return self._cache[key]

    # -- public ----------------------------------------------------------------------------
    def clean(self, audio: np.ndarray, sr: int, *, progress: Progress = None) -> CleanResult:
        """Remove the interference from ``audio``.

        Parameters
        ----------
        audio : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
            The recording, float (any scale) or integer samples.
        sr : int
            Sample rate in Hz.
        progress : callable(float), optional
            Called with the completed fraction (0 to 1).

        Returns
        -------
        CleanResult
            ``cleaned`` and ``removed`` have the input's shape; ``cleaned + removed == audio``.

        Notes
        -----
        The whole recording is analysed at once: peak memory grows by about 0.27 GB per
        minute of 44.1-kHz stereo (measured on 1 and 3 minutes). For files longer than a few
        minutes use :func:`clean_file`, which works in blocks in bounded memory.
        """
        x, mono = _as_channels_first(audio)
        cfg = self.settings.stft_config(sr)
        n = x.shape[1]
        if n < cfg.win_length:
            warnings.warn(
                f"recording is {n / sr:.3f} s long, shorter than one analysis window "
                f"({cfg.win_length / sr:.3f} s); returned unchanged",
                stacklevel=2,
            )
            return self._result(x, np.zeros_like(x), [], sr, mono, {})
        with _single_threaded_blas():
            removed, events, stats = self._process(x, sr, cfg, progress)
        return self._result(x, removed, events, sr, mono, stats)

    def locate(self, audio: np.ndarray, sr: int, *, progress: Progress = None) -> list:
        """Only locate the interference: a list of events, no audio."""
        x, _ = _as_channels_first(audio)
        cfg = self.settings.stft_config(sr)
        if x.shape[1] < cfg.win_length:
            return []
        m = self if self.method == "proposed" else self.with_settings(method="proposed")
        with _single_threaded_blas():
            return m._process(x, sr, cfg, progress, locate_only=True)[1]

    def _result(self, x, removed, events, sr, mono, stats) -> CleanResult:
        cleaned = x - removed
        if mono:
            return CleanResult(cleaned[0], removed[0], events, int(sr), stats)
        return CleanResult(cleaned.T.copy(), removed.T.copy(), events, int(sr), stats)

    def _process(self, x: np.ndarray, sr: int, cfg: StftConfig, progress: Progress, locate_only: bool = False):
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

        X = stft(x, cfg, workers=_recording_threads())  # (C, F, T)
        A = np.abs(X)
        V = A.mean(axis=0)  # (F, T): one analysis for all channels
        n_frames = V.shape[1]
        report(0.15, "stft")
        W, P, Wb = self._templates(cfg)
        stats: dict = {"n_frames": n_frames, "seconds": seconds}

        if self.method == "kam":
            Vb = P @ V
            ctx = s.frames(s.context_ms, cfg)
            Fm = _kam.context_features(Vb, context=0, compress=float(Vb.mean()) * 0.1 + 1e-12)
            q = np.arange(n_frames)
            est, _ = _kam.kam_estimate(V, Fm, q, k=s.k, context=ctx, min_separation=ctx)
            Sm = np.minimum(est, V)
            M = soft_mask(Sm, V - Sm, power=s.mask_power)
            report(0.8)
            every = np.arange(n_frames)
            return self._synth(X, M, every, np.ones(n_frames, np.float32), cfg, x.shape[1]), [], stats

        if self.method == "nmf":
            res = semi_nmf(V, W, n_free=s.music_rank, n_iter=s.n_iter, beta=self.dictionary.beta,
                           threads=_recording_threads())
            report(0.7)
            M = soft_mask(res.free_part, res.fixed_part, power=s.mask_power)
            events = self._events_from_share(res, cfg, x.shape[1], sr)
            every = np.arange(n_frames)
            return self._synth(X, M, every, np.ones(n_frames, np.float32), cfg, x.shape[1]), events, stats

        # proposed
        ana = self._nmf_stage(V, P, Wb)
        report(0.55, "nmf")
        return self._kam_stage(ana, X, V, cfg, x, sr, stats, report, locate_only)

    def _nmf_stage(self, V: np.ndarray, P: np.ndarray, Wb: np.ndarray) -> dict:
        """Semi-supervised NMF on the band-pooled mean magnitude; shares per frame."""
        s = self.settings
        Vb = P @ V
        threads = _recording_threads()
        res = semi_nmf(Vb, Wb, n_free=s.music_rank, n_iter=s.n_iter, beta=self.dictionary.beta, threads=threads)
        L_i, L_m = res.fixed_part, res.free_part
        # How much worse is each frame explained without the interference templates? Refit
        # the activations of the music templates alone and compare per-frame divergences:
        # frames the music templates explain as well on their own are not interference,
        # however much of them the joint fit happened to give to the interference templates.
        alone = semi_nmf(Vb, res.W[:, res.n_fixed:], n_free=0, n_iter=max(10, s.n_iter // 3),
                         beta=self.dictionary.beta, tol=0, threads=threads)
        d_joint = beta_divergence_frames(Vb, L_i + L_m, self.dictionary.beta)
        d_alone = beta_divergence_frames(Vb, alone.W @ alone.H, self.dictionary.beta)
        gain = (d_alone - d_joint) / np.maximum(Vb.sum(axis=0, dtype=np.float64), 1e-12)
        return {
            "res": res,
            "P": P,
            "Wb": Wb,
            "L_m": L_m,
            "gain": gain.astype(np.float32),
            "share": _loc.interference_share(L_i, L_m),
            "level_i": L_i.sum(axis=0),
            "ref": float(np.percentile(Vb.sum(axis=0), 99)),
        }

    def _necessity_threshold(self, gain: np.ndarray) -> float:
        """Necessity threshold of one recording, relative to its own gains.

        Parameters
        ----------
        gain : np.ndarray [shape=(n_frames,)]
            Per-frame necessity gain (see :class:`Settings`).

        Returns
        -------
        float
            ``median + necessity_mads * 1.4826 * MAD`` of ``gain``, clipped to
            ``[floor, necessity]`` (``necessity`` if the floor is above it), where ``floor`` is
            ``necessity_floor * sqrt(min(1, n_templates / 60))``.

        Notes
        -----
        The floor was measured with ``any`` (60 templates). A class preset's 12 templates
        explain its own class less well than the 60 do, so the necessity gains of real
        events are smaller: at the floor of 0.35 the ``cough`` preset found 56 of 143 corpus
        coughs and ``drop`` 24 of 135 drops (``any``: 124 and 86). Scaled in proportion to the
        size (0.07) the presets found about twice as many but put events on 3-5 of 57 clean
        clips; the square root (0.16) kept most of the gain with 1-4 (BENCHMARKS.md §2f). The
        necessity contrast still starts at the unscaled ``necessity_floor``, which kept false
        events down.
        """
        s = self.settings
        if gain.size == 0:
            return float(s.necessity)
        med = float(np.median(gain))
        spread = 1.4826 * float(np.median(np.abs(gain - med)))
        floor = s.necessity_floor * float(np.sqrt(self._size_share()))
        return float(min(s.necessity, max(floor, med + s.necessity_mads * spread)))

    def _kam_stage(self, ana: dict, X, V, cfg, x, sr, stats, report, locate_only):
        """Candidates → KAM on them → events → removed signal."""
        s = self.settings
        n_frames = V.shape[1]
        res, L_m, share = ana["res"], ana["L_m"], ana["share"]
        cand = _loc.candidate_frames(share, ana["level_i"], threshold=s.threshold, floor_db=s.floor_db,
                                     ref_level=ana["ref"])
        # Diagnostics (benchmarks/misses.py): which frames pass each stage of the location,
        # recorded only when the caller puts a "trace" dict in stats.
        trace = stats.get("trace")

        def mark(stage: str, frames: np.ndarray) -> None:
            if trace is not None:
                trace[stage] = frames.copy()

        mark("share", cand)
        by_share = cand.copy()
        # Recordings often start or end in the middle of a sound (a cut), which looks like
        # nothing else in the recording: frames within edge_ms of either end never start an
        # event (padding may still reach them), and frames whose window reaches past an end
        # (attenuated copies) are never used as neighbours.
        centres = (np.arange(n_frames) + cfg.first_frame) * cfg.hop_length
        half = cfg.win_length // 2
        partial = (centres - half < 0) | (centres + half > x.shape[1])
        edge = int(round(s.edge_ms / 1000.0 * sr))
        inner = (centres - half >= edge) & (centres + half <= x.shape[1] - edge)
        ctx = s.frames(s.context_ms, cfg)
        # Features of the kNN searches: compressed band magnitudes of the NMF music estimate.
        Fm = _kam.context_features(L_m, context=0, compress=float(L_m.mean()) * 0.1 + 1e-12)
        # Necessity relative to the recording (quiet interference passes where the music
        # alone is explained evenly well), never above the absolute one; or relative to the
        # frames of the most similar music (see _necessity_contrast).
        necessity = self._necessity_threshold(ana["gain"])
        necessary = ana["gain"] > necessity
        if s.necessity_contrast > 0:
            below = cand & inner & ~necessary & (ana["gain"] > s.necessity_floor)
            necessary |= below & self._necessity_contrast(ana["gain"], below, Fm, ctx)
        cand &= necessary
        mark("necessity", cand)
        stats["necessity"] = float(necessity)
        cand &= inner
        mark("edge", cand)
        pad = s.frames(s.pad_ms, cfg)
        ramp = s.frames(s.ramp_ms, cfg)
        stats["candidate_frames"] = int(cand.sum())
        if not cand.any():
            report(1.0)
            return np.zeros_like(x), [], stats
        # KAM on every candidate frame (and the margins an event may grow into): the music
        # there is the median of the k frames whose NMF music estimate, with context, is
        # nearest; candidate frames are not used as neighbours.
        def music_at(frames: np.ndarray, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # KAM's music estimate at the frames (never above the mixture) and its soft mask.
            est, _ = _kam.kam_estimate(V, Fm, frames, k=s.k, context=ctx, exclude=exclude | partial,
                                       min_separation=ctx)
            S = np.minimum(est, V[:, frames])
            return S, soft_mask(S, V[:, frames] - S, power=s.mask_power)

        queries_mask = _loc.dilate(cand, pad + ramp + s.frames(s.max_gap_ms, cfg))
        q = np.flatnonzero(queries_mask)
        Sm, Mq = music_at(q, _loc.dilate(cand, ctx))
        report(0.8, "kam")
        Vq = V[:, q]
        removed_e = ((Vq * (1 - Mq)) ** 2).sum(axis=0)
        total_e = (Vq**2).sum(axis=0)
        novelty = np.zeros(n_frames, np.float32)
        novelty[q] = removed_e / np.maximum(total_e, 1e-20)
        # A frame has interference if the NMF attributes it to the interference templates
        # AND the music found elsewhere in the recording does not explain it (novelty).
        score = share * novelty
        act = cand & (score > s.novelty)
        segs = _loc.segments(act, max_gap=s.frames(s.max_gap_ms, cfg),
                             min_len=max(1, s.frames(s.min_event_ms, cfg)))
        active = np.zeros(n_frames, bool)
        for a, b in segs:
            active[a:b] = True
        mark("novelty", act)
        mark("length", active)
        active = _loc.dilate(active, pad)
        pos = np.full(n_frames, -1)
        pos[q] = np.arange(q.size)
        kept_active = np.zeros(n_frames, bool)
        confirmed = np.zeros(n_frames, bool)
        ev_segs, labels, confs = [], [], []
        all_segs = _loc.segments(active)
        for a, b in all_segs:
            cols = pos[a:b]
            frac = float(removed_e[cols].sum() / max(total_e[cols].sum(), 1e-20))
            # A quiet event (-6 dB under the music is a fifth of the mixture's energy) can
            # have less removed than confirm; it is kept only on stronger evidence.
            quiet = frac < s.confirm
            if frac < min(s.confirm, s.confirm_quiet) or (quiet and s.evidence <= 0):
                continue
            confirmed[a:b] = True
            if s.evidence > 0:
                # What KAM would remove must look like interference: explained much better by
                # the interference templates than by the recording's own music templates.
                res_b = ana["P"] @ (Vq[:, cols] * (1 - Mq[:, cols]))
                need = self._evidence_threshold(s.quiet_evidence if quiet else s.evidence)
                if _loc.evidence_ratio(res_b, ana["Wb"], res.W[:, res.n_fixed:], beta=self.dictionary.beta) < need:
                    continue
            kept_active[a:b] = True
            ev_segs.append((a, b))
            labels.append(self._label())
            confs.append(float(np.clip(np.sqrt(np.max(score[a:b]) / max(4 * s.novelty, 1e-6)), 0, 1)))
        mark("confirm", confirmed)
        mark("evidence", kept_active)
        if s.hysteresis < 1 and ev_segs:
            # A kept event takes in the frames around it (gaps up to max_gap bridged) that the
            # interference templates explain and that pass a lower necessity threshold: the
            # quieter burst of a cough, the tail of a creak.
            weak = by_share & inner & (ana["gain"] > s.hysteresis * necessity)
            weak = _loc.dilate(weak, pad)
            conf_at = np.zeros(n_frames, np.float32)
            for (a, b), c in zip(ev_segs, confs):
                conf_at[a:b] = c
            grown = np.zeros(n_frames, bool)
            ev_segs, confs = [], []
            for a, b in _loc.segments(kept_active | weak, max_gap=s.frames(s.max_gap_ms, cfg)):
                if kept_active[a:b].any():
                    grown[a:b] = True
                    ev_segs.append((a, b))
                    confs.append(float(conf_at[a:b].max()))
            kept_active = grown
            labels = [self._label() for _ in ev_segs]
        stats["events_before_confirm"] = len(all_segs)
        mark("grown", kept_active)
        events = _loc.segments_to_events(
            ev_segs, frame_times=cfg.frame_times(n_frames), hop_s=cfg.frame_seconds,
            duration_s=x.shape[1] / sr, labels=labels, confidences=confs,
        )
        if locate_only or not kept_active.any():
            report(1.0)
            return np.zeros_like(x), events, stats
        w = frame_weights(kept_active, ramp=ramp)
        more = np.flatnonzero((w > 0) & ~queries_mask)
        if more.size:
            # Growth can reach past the frames KAM was first run on (a cough's quieter first
            # burst before its onset): estimate the music there too, with the kept events
            # excluded from the neighbours, rather than leave part of an event unmasked.
            S2, M2 = music_at(more, _loc.dilate(cand | kept_active, ctx))
            order = np.argsort(np.concatenate([q, more]), kind="stable")
            q = np.concatenate([q, more])[order]
            Vq = V[:, q]
            Sm = np.concatenate([Sm, S2], axis=1)[:, order]
            Mq = np.concatenate([Mq, M2], axis=1)[:, order]
        keep = w[q] > 0  # KAM frames inside a kept event or its ramp
        if s.nmf_guard <= 0:
            Mk = Mq[:, keep]
        else:
            # KAM's shortfall (mixture minus the neighbours' median) is taken for interference
            # only as far as the NMF model gives that band to the interference templates:
            # a note the neighbours lack, where the music templates explain the sound, stays.
            qk = q[keep]
            L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, qk]
            r_b = L_i / np.maximum(L_i + L_m[:, qk], 1e-12)
            Sk = Sm[:, keep]
            Mk = soft_mask(Sk, (Vq[:, keep] - Sk) * bands_to_bins(r_b, ana["P"]) ** s.nmf_guard,
                           power=s.mask_power)
        removed = self._synth(X, Mk, q[keep], w[q[keep]], cfg, x.shape[1])
        report(1.0, "synthesis")
        return removed, events, stats

    def _necessity_contrast(self, gain: np.ndarray, frames: np.ndarray, F: np.ndarray, context: int) -> np.ndarray:
        """Which of ``frames`` are necessary against the frames of the most similar music.

        Music the templates explain poorly everywhere (a drum kit's hits, a distorted guitar)
        spreads the necessity gains of a recording, so its relative threshold reaches the cap
        and a thud or a scream under it is missed. Compared with the
        ``CONTRAST_NEIGHBOURS`` frames whose NMF music estimate (with context) is nearest,
        such a frame stands out: the hits like it are explained as poorly as it is, the
        interference is not.

        Parameters
        ----------
        gain : np.ndarray [shape=(n_frames,)]
            Per-frame necessity gain (see :class:`Settings`).
        frames : np.ndarray [shape=(n_frames,)], bool
            Frames to test.
        F : np.ndarray [shape=(n_features, n_frames)]
            Features of the kNN search (see :func:`cleantake.kam.knn_frames`).
        context : int
            Frames of context on each side compared by the search; neighbours are at least
            this far from the frame.

        Returns
        -------
        np.ndarray [shape=(n_frames,)], bool
            True at the tested frames whose gain is more than ``necessity_contrast`` times
            the median gain of their neighbours.
        """
        out = np.zeros(gain.shape, bool)
        q = np.flatnonzero(frames)
        if q.size == 0:
            return out
        idx = _kam.knn_frames(F, q, k=CONTRAST_NEIGHBOURS, context=context, min_separation=context)
        ref = np.median(gain[idx], axis=1)
        out[q] = gain[q] > self.settings.necessity_contrast * np.maximum(ref, 0.0)
        return out

    def _evidence_threshold(self, ratio: float | None = None) -> float:
        """The evidence threshold for this dictionary: ``ratio`` (default ``evidence``)
        scaled by its size.

        ``evidence`` was measured with the bundled ``any`` dictionary (60 templates). Fewer
        interference templates fit any sound less well, so the same ratio would reject true
        events: with the 12-template ``cough`` preset, ``evidence`` 4 kept 6 of 143 corpus
        coughs that it finds without the test (52). The threshold is therefore
        ``ratio * min(1, n_templates / 60)``.
        """
        ratio = self.settings.evidence if ratio is None else ratio
        return float(ratio) * self._size_share()

    def _size_share(self) -> float:
        """This dictionary's size as a share of the one the thresholds were measured with:
        ``min(1, n_templates / EVIDENCE_RANK)`` (1 for ``any``, 0.2 for a class preset)."""
        return min(1.0, self.dictionary.rank / EVIDENCE_RANK)

    def _label(self) -> str:
        """Label of located events: the dictionary's class, or ``"interference"`` for a
        dictionary of several classes (such as ``any``).

        Telling the classes of ``any`` apart was measured and is not reliable: on the dev
        corpus's quick-subset stems mixtures, the class with the most activation energy was
        right for 36 of 113 located events (32 %, chance 20 %), and per-class refits or
        spectral nearest neighbours did no better (BENCHMARKS.md). A guess shown as a class
        would mislead; a single-class preset (``-i cough``) labels its events.
        """
        classes = self.dictionary.classes
        return str(classes[0]) if len(classes) == 1 else "interference"

    def _events_from_share(self, res, cfg, n_samples, sr):
        s = self.settings
        share = _loc.interference_share(res.fixed_part, res.free_part)
        level = res.fixed_part.sum(axis=0)
        total = (res.fixed_part + res.free_part).sum(axis=0)
        cand = _loc.candidate_frames(share, level, threshold=s.threshold, floor_db=s.floor_db,
                                     ref_level=float(np.percentile(total, 99)))
        segs = _loc.segments(cand, max_gap=s.frames(s.max_gap_ms, cfg), min_len=max(1, s.frames(s.min_event_ms, cfg)))
        return _loc.segments_to_events(
            segs, frame_times=cfg.frame_times(res.H.shape[1]), hop_s=cfg.frame_seconds,
            duration_s=n_samples / sr, labels=[self._label() for _ in segs],
            confidences=[float(share[a:b].mean()) for a, b in segs],
        )

    def _synth(self, X: np.ndarray, M: np.ndarray, cols: np.ndarray, w: np.ndarray, cfg: StftConfig,
               n: int) -> np.ndarray:
        """Removed part in the time domain: ISTFT of ``(1 - mask) X``.

        ``M`` [shape=(n_freq, len(cols))] is the music mask on the frames ``cols`` (the mask
        is 1, nothing removed, on every other frame) and ``w`` [shape=(len(cols),)] their
        weights; only those frames are masked and transformed back.
        """
        R_mask = (1.0 - apply_strength(M, self.settings.strength)) * w[None, :]
        if cols.size > X.shape[-1] // 2:  # most frames (the baselines): one whole inverse
            R = np.zeros(X.shape, X.dtype)
            R[:, :, cols] = X[:, :, cols] * R_mask[None]
            return istft(R, cfg, n)
        return istft_columns(X[:, :, cols] * R_mask[None], cols, cfg, n)


def clean(
    audio: np.ndarray,
    sr: int,
    *,
    interference: str | Path | Dictionary = "any",
    method: str = "proposed",
    strength: float = 1.0,
    progress: Progress = None,
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
        Preset name (``"any"``, ``"cough"``, ``"door"``, ``"creak"``, ``"scream"``, ``"drop"``)
        or a dictionary file.
    method : {"proposed", "nmf", "kam"}
    strength : float in [0, 1]
    progress : callable(float), optional
    **params
        Fields of :class:`Settings`.

    Returns
    -------
    CleanResult

    See Also
    --------
    Cleaner : the same, for many recordings with the dictionaries loaded once.
    """
    return Cleaner(interference, method=method, strength=strength, **params).clean(audio, sr, progress=progress)
