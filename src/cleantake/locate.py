"""Interference location: NMF activations → affected frames → events with times.

The interference share of frame ``t`` is the part of the NMF model that the fixed
(interference) templates explain, ``r(t) = Σ_f Λ_i(f, t) / Σ_f (Λ_i + Λ_m)(f, t)``.
Frames whose share passes a threshold and whose interference is not negligibly quiet are
candidates; runs of candidates (small gaps bridged) become events. An event is kept only if
what would be removed there is explained much better by the interference templates than by
the recording's music templates (:func:`evidence_ratio`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from . import kam as _kam
from .analysis import Analysis
from .detector import (ACTIVATION_CLASSES, detect_events, highest_confidence, interference_probabilities,
                       load_model, model_network_probability, reads_stereo, smoothed_probability)
from .masking import dilate, segments
from .nmf import beta_divergence_frames, interference_share, semi_nmf
from .repair import MusicEstimate, music_estimate
from .settings import Settings

if TYPE_CHECKING:
    from .dictionaries import Dictionary

__all__ = [
    "Event", "overlaps_any", "interference_share", "candidate_frames", "evidence_ratio", "segments", "dilate", "segments_to_events",
    "Location", "locate_events", "chosen_locator", "learned_location", "Screen", "screen", "add_channel_events", "trim_spans",
    "necessity_threshold", "necessity_contrast", "evidence_threshold", "size_share",
    "event_label", "events_from_share", "EVIDENCE_RANK", "CONTRAST_NEIGHBOURS", "STAGES",
]

#: Size of the dictionary (templates) that Settings.evidence and Settings.necessity_floor were
#: measured with (``any``); smaller dictionaries scale them (:func:`size_share`).
EVIDENCE_RANK = 60
#: Neighbours the necessity contrast compares a frame with (Settings.necessity_contrast).
CONTRAST_NEIGHBOURS = 8
#: Stages of :func:`locate_events`, in order, as recorded in ``Location.trace``.
STAGES = ("share", "necessity", "edge", "novelty", "length", "confirm", "evidence", "grown")


@dataclass(frozen=True)
class Event:
    """One located interference event.

    Attributes
    ----------
    start_s, end_s : float
        Span in seconds from the start of the recording (``0 <= start_s < end_s``).
    label : str
        Interference class (the dictionary atom group that explains it best), e.g. ``"cough"``.
    confidence : float in [0, 1]
        How sure the detector is.
    strength : float in [0, 1]
        How strongly the span is repaired, times the Cleaner's strength (for spans given to
        ``Cleaner.clean(events=...)``; located events have 1).
    """

    start_s: float
    end_s: float
    label: str
    confidence: float
    strength: float = 1.0

    def to_dict(self) -> dict:
        """The fields as a dict; ``strength`` only when it is not 1 (as label files hold
        located events, whose strength is always 1)."""
        d = asdict(self)
        if d["strength"] == 1.0:
            del d["strength"]
        return d


def overlaps_any(span, spans) -> bool:
    """Whether ``span`` overlaps any of ``spans`` (each with ``start_s`` and ``end_s`` in
    seconds; spans that only touch do not overlap)."""
    return any(span.start_s < k.end_s and k.start_s < span.end_s for k in spans)


def candidate_frames(
    share: np.ndarray, level: np.ndarray, *, threshold: float, floor_db: float, ref_level: float | None = None
) -> np.ndarray:
    """Frames where the interference share exceeds ``threshold`` and is not negligibly quiet.

    Parameters
    ----------
    share : np.ndarray [shape=(n_frames,)]
        From :func:`interference_share`.
    level : np.ndarray [shape=(n_frames,)]
        Interference magnitude per frame (e.g. ``L_i.sum(0)``).
    threshold : float in (0, 1)
    floor_db : float
        Frames whose interference level lies more than this many dB below ``ref_level``
        are ignored.
    ref_level : float, optional
        Reference level; by default the 95th percentile of the total level is not known
        here, so the maximum of ``level`` is used.

    Returns
    -------
    np.ndarray [shape=(n_frames,)], bool
    """
    ref = float(np.max(level)) if ref_level is None else float(ref_level)
    if ref <= 0:
        return np.zeros(share.shape, bool)
    return (share > threshold) & (level > ref * 10.0 ** (-floor_db / 20.0))


def evidence_ratio(R: np.ndarray, W_interference: np.ndarray, W_music: np.ndarray, *, beta: float = 1.0,
                   n_iter: int = 30) -> float:
    """How much better interference templates explain a sound than music templates do.

    Both sets of templates are fitted alone (activations only) to ``R``, what would be
    removed on the frames of one event; the ratio of the β-divergences left is returned.
    A removed part made of interference is explained by the interference templates and
    badly by the recording's music templates (ratio well above 1); a musical sound that the
    neighbours failed to predict (a new note, a drum hit) is explained by the music
    templates too (ratio near 1).

    Parameters
    ----------
    R : np.ndarray [shape=(n_bands, n_frames)], non-negative
        Band-pooled magnitudes of the part to test.
    W_interference : np.ndarray [shape=(n_bands, n_i)]
        Interference templates (the fixed part of the NMF).
    W_music : np.ndarray [shape=(n_bands, n_m)]
        Music templates learned from the recording (the free part).
    beta : float in [0, 2]
        β of the divergence (that of the dictionary).
    n_iter : int >= 1
        Iterations of each fit.

    Returns
    -------
    float >= 0
        ``D(R | music fit) / D(R | interference fit)``.
    """
    Rb = np.asarray(R, dtype=np.float32) + np.float32(1e-9)
    d = []
    for W in (W_interference, W_music):
        fit = semi_nmf(Rb, W, n_free=0, n_iter=n_iter, beta=beta, tol=0)
        d.append(float(beta_divergence_frames(Rb, fit.W @ fit.H, beta).sum()))
    return d[1] / max(d[0], 1e-20)


def segments_to_events(
    segs: list[tuple[int, int]],
    *,
    frame_times: np.ndarray,
    hop_s: float,
    duration_s: float,
    labels: list[str],
    confidences: list[float],
) -> list[Event]:
    """Convert frame runs to :class:`Event` objects in seconds, clipped to the recording."""
    out = []
    for (s, e), lab, conf in zip(segs, labels, confidences):
        t0 = max(0.0, float(frame_times[s]) - hop_s / 2)
        t1 = min(duration_s, float(frame_times[e - 1]) + hop_s / 2)
        if t1 > t0:
            out.append(Event(round(t0, 6), round(t1, 6), lab, float(np.clip(conf, 0.0, 1.0))))
    return out


# -- the location stage ------------------------------------------------------------------


def size_share(dictionary: "Dictionary") -> float:
    """The dictionary's size as a share of the one the thresholds were measured with:
    ``min(1, n_templates / EVIDENCE_RANK)`` (1 for ``any``, 0.2 for a class preset)."""
    return min(1.0, dictionary.rank / EVIDENCE_RANK)


def event_label(dictionary: "Dictionary") -> str:
    """Label of located events: the dictionary's class, or ``"interference"`` for a
    dictionary of several classes (such as ``any``).

    Telling the classes of ``any`` apart was measured and is not reliable: on the dev
    corpus's quick-subset stems mixtures, the class with the most activation energy was
    right for about a third of the located events (chance a fifth), and per-class refits or
    spectral nearest neighbours did no better (BENCHMARKS.md). A guess shown as a class
    would mislead; a single-class preset (``-i cough``) labels its events.
    """
    classes = dictionary.classes
    return str(classes[0]) if len(classes) == 1 else "interference"


def evidence_threshold(settings: Settings, dictionary: "Dictionary", ratio: float | None = None) -> float:
    """The evidence threshold for this dictionary: ``ratio`` (default ``settings.evidence``)
    scaled by its size.

    ``evidence`` was measured with the bundled ``any`` dictionary (60 templates). Fewer
    interference templates fit any sound less well, so the same ratio would reject true
    events (BENCHMARKS.md). The threshold is therefore ``ratio * min(1, n_templates / 60)``.
    """
    ratio = settings.evidence if ratio is None else ratio
    return float(ratio) * size_share(dictionary)


def necessity_threshold(gain: np.ndarray, *, settings: Settings, dictionary: "Dictionary") -> float:
    """Necessity threshold of one recording, relative to its own gains.

    Parameters
    ----------
    gain : np.ndarray [shape=(n_frames,)]
        Per-frame necessity gain (``Analysis.gain``).
    settings : Settings
    dictionary : Dictionary

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
    events are smaller. Scaled in proportion to the size the presets found about twice as
    many events but put false ones on more clean clips; the square root kept most of the
    gain with fewer (BENCHMARKS.md §2f). The necessity contrast still starts at the unscaled
    ``necessity_floor``, which kept false events down.
    """
    s = settings
    if gain.size == 0:
        return float(s.necessity)
    med = float(np.median(gain))
    spread = 1.4826 * float(np.median(np.abs(gain - med)))
    floor = s.necessity_floor * float(np.sqrt(size_share(dictionary)))
    return float(min(s.necessity, max(floor, med + s.necessity_mads * spread)))


def necessity_contrast(gain: np.ndarray, frames: np.ndarray, F: np.ndarray, *, context: int,
                       contrast: float) -> np.ndarray:
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
        Per-frame necessity gain (``Analysis.gain``).
    frames : np.ndarray [shape=(n_frames,)], bool
        Frames to test.
    F : np.ndarray [shape=(n_features, n_frames)]
        Features of the kNN search (``Analysis.Fm``).
    context : int
        Frames of context on each side compared by the search; neighbours are at least
        this far from the frame.
    contrast : float
        ``Settings.necessity_contrast``.

    Returns
    -------
    np.ndarray [shape=(n_frames,)], bool
        True at the tested frames whose gain is more than ``contrast`` times the median gain
        of their neighbours.
    """
    out = np.zeros(gain.shape, bool)
    q = np.flatnonzero(frames)
    if q.size == 0:
        return out
    idx = _kam.knn_frames(F, q, k=CONTRAST_NEIGHBOURS, context=context, min_separation=context)
    ref = np.median(gain[idx], axis=1)
    out[q] = gain[q] > contrast * np.maximum(ref, 0.0)
    return out


@dataclass
class Location:
    """What :func:`locate_events` found.

    Attributes
    ----------
    frames : np.ndarray [shape=(T,)], bool
        Frames of the kept events (after growth); the repair works on these.
    segments : list of (int, int)
        The kept events as frame ranges ``[a, b)``.
    events : list of Event
        The same in seconds.
    trace : dict of str to np.ndarray [shape=(T,)], bool
        Frames that pass each stage (keys :data:`STAGES`, in order; a stage not reached is
        missing): what ``benchmarks/misses.py`` follows.
    stats : dict
        ``necessity`` (the recording's necessity threshold), ``candidate_frames`` (frames
        past the edge stage), ``events_before_confirm`` (runs tested by the confirm stage).
    music : MusicEstimate or None
        KAM's music estimates the location made (reused by the repair).
    exclude : np.ndarray [shape=(T,)], bool
        Frames the repair must not use as neighbours where it makes new estimates.
    candidates : list of Event
        Events the learned detector found with a confidence from ``Settings.review_level``
        up to (not including) ``Settings.sensitivity``, in seconds: for the user to review,
        never repaired (empty with the threshold stack).
    """

    frames: np.ndarray
    segments: list
    events: list
    trace: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    music: MusicEstimate | None = None
    exclude: np.ndarray | None = None
    candidates: list = field(default_factory=list)


def chosen_locator(settings: Settings, dictionary: "Dictionary") -> str:
    """The locator ``settings.locator`` means with ``dictionary``: ``"learned"`` or ``"stack"``.

    ``"auto"`` is ``"learned"`` when the dictionary holds templates of every class whose
    activations the detector reads (:data:`cleantake.detector.ACTIVATION_CLASSES`, the five
    core classes, as the bundled ``any`` does), and ``"stack"`` otherwise: the detector was
    trained on analyses made with such a dictionary, and a single-class preset must keep
    only events of its class, which the stack's evidence test does.
    """
    if settings.locator != "auto":
        return settings.locator
    return "learned" if set(ACTIVATION_CLASSES) <= set(dictionary.labels) else "stack"


@dataclass(frozen=True)
class Screen:
    """What the learned detector's networks say of a recording before its NMF analysis
    (:func:`screen`).

    Attributes
    ----------
    stereo : bool
        Whether the detector reads the recording with its stereo networks
        (:func:`cleantake.detector.reads_stereo`).
    network : np.ndarray [shape=(T,)], float64 in [0, 1]
        The networks' probability of interference in each frame
        (:func:`cleantake.detector.model_network_probability`).
    ceiling : float in [0, 1]
        The highest confidence any event of the recording can reach, whatever the analysis
        holds (:func:`cleantake.detector.highest_confidence`).
    """

    stereo: bool
    network: np.ndarray
    ceiling: float

    def rules_out(self, settings: Settings) -> bool:
        """Whether the learned location (:func:`learned_location`) can find no event and no
        candidate for review at ``settings`` (``sensitivity``, ``review_level``) in the
        recording: its analysis need not be made, and nothing is removed from it."""
        return self.ceiling < min(settings.sensitivity, settings.review_level)

    def adds_nothing(self, settings: Settings) -> bool:
        """For one channel of a recording located alone (``Settings.channel_confidence``):
        whether none of its events can reach the confidence :func:`add_channel_events` needs
        (``channel_confidence``, and ``sensitivity`` to be an event at all)."""
        return self.ceiling < max(settings.sensitivity, settings.channel_confidence)


def screen(X: np.ndarray, V: np.ndarray, cfg, *, settings: Settings, dictionary: "Dictionary") -> Screen | None:
    """The learned detector's networks read a recording from its STFT alone, before the NMF
    analysis: where they bound every event's confidence under what an event or a candidate
    needs (:meth:`Screen.rules_out`), the location finds nothing whatever the analysis holds.

    Parameters
    ----------
    X : np.ndarray [shape=(n_channels, n_freq, T)], complex
        STFT of the channels (:func:`cleantake.analysis.spectrogram`).
    V : np.ndarray [shape=(n_freq, T)]
        Their mean magnitude (the same).
    cfg : StftConfig
        Their STFT (``settings.stft_config(sr)``).
    settings : Settings
    dictionary : Dictionary
        The dictionary the analysis would be made with (:func:`chosen_locator`).

    Returns
    -------
    Screen or None
        None when the location is not the learned detector's, or its model has no networks.
        Give it to :func:`locate_events` with the analysis of the same STFT: the networks are
        not read twice.
    """
    if chosen_locator(settings, dictionary) != "learned":
        return None
    model = load_model(settings.detector)
    stereo = reads_stereo(X, model)
    network = model_network_probability(V, cfg, model, stereo=stereo)
    if network is None:
        return None
    return Screen(stereo, network, highest_confidence(network, model, stereo=stereo))


def learned_location(ana: Analysis, *, settings: Settings, model=None, screened: Screen | None = None) -> Location:
    """The location by the learned detector (``Settings.locator == "learned"``).

    Parameters
    ----------
    ana : Analysis
        Made with the dictionary the detector was trained with (the bundled ``any``).
    settings : Settings
        ``sensitivity`` is the confidence an event needs.
    model : DetectorModel or path, optional
        Default: the shipped model (see :func:`cleantake.detector.detect_events`).
    screened : Screen, optional
        :func:`screen` of the same STFT with the same model, if made (its networks' reading
        is used, not made again).

    Returns
    -------
    Location
        Events labelled with their most likely class or ``unknown``, their confidence a
        calibrated probability; ``trace["learned"]`` holds the kept frames; ``candidates``
        the events from ``review_level`` up to ``sensitivity``, and those longer than
        ``max_event_ms`` whatever their confidence.
    """
    fc = settings.counts(ana.cfg)
    # Each run of frames is judged on its own, so the events at or above the sensitivity are
    # the same whatever the lower level the candidates are cut at.
    more = {} if screened is None else {"stereo": screened.stereo, "network": screened.network}
    cut = detect_events(ana, model=model, threshold=min(settings.sensitivity, settings.review_level), **more)
    # An event far longer than any interference the detector learned from is music that stands
    # out, not a transient: listed for review, never repaired (Settings.max_event_ms).
    longest = settings.max_event_ms / 1000.0 / ana.cfg.frame_seconds
    keep = [d.confidence >= settings.sensitivity and d.end_frame - d.start_frame <= longest for d in cut]
    found = [d for d, k in zip(cut, keep) if k]
    below = [d for d, k in zip(cut, keep) if not k]
    frames = np.zeros(ana.n_frames, bool)
    segs = []
    for d in found:
        frames[d.start_frame:d.end_frame] = True
        segs.append((int(d.start_frame), int(d.end_frame)))
    times = dict(frame_times=ana.cfg.frame_times(ana.n_frames), hop_s=ana.cfg.frame_seconds,
                 duration_s=ana.n_samples / ana.sr)
    events = segments_to_events(segs, **times, labels=[d.label for d in found],
                                confidences=[d.confidence for d in found])
    candidates = segments_to_events([(int(d.start_frame), int(d.end_frame)) for d in below], **times,
                                    labels=[d.label for d in below], confidences=[d.confidence for d in below])
    return Location(frames, segs, events, {"learned": frames.copy()},
                    {"detector_events": len(found)}, None,
                    dilate(frames, fc.context), candidates)


def trim_spans(ana: Analysis, spans: Sequence[Event], *, settings: Settings,
               dictionary: "Dictionary") -> list[Event]:
    """Given spans trimmed at both ends to the event the learned detector hears inside them.

    Each span keeps the frames from the first to the last whose smoothed probability
    (:func:`cleantake.detector.smoothed_probability`) is above the detector's ``low`` level,
    padded by its ``pad`` frames as its own events are, within the span. A span where the
    detector is nowhere surer than its ``high`` level (an event it does not hear: the reason a
    user marks one), or shorter than two frames, is kept whole, as is every span when the
    settings do not locate with the detector with this dictionary (:func:`chosen_locator` is
    not ``"learned"``).

    Parameters
    ----------
    ana : Analysis
        Of the recording the spans are in, made with the dictionary the detector was trained
        with (``settings.detector``'s).
    spans : sequence of Event
        Times in seconds of ``ana``'s recording.
    settings : Settings
    dictionary : Dictionary
        The one ``ana`` was made with.

    Returns
    -------
    list of Event
        One per span, in order, each inside its span (label, confidence and strength kept).
    """
    spans = list(spans)
    if not spans or chosen_locator(settings, dictionary) != "learned":
        return spans
    model = load_model(settings.detector)
    p = smoothed_probability(interference_probabilities(ana, model)[0], model)
    st = model.settings
    low, high, pad = st.get("low", 0.3), st.get("high", 0.5), int(st.get("pad", 4))
    t = ana.cfg.frame_times(ana.n_frames)
    half = ana.cfg.frame_seconds / 2
    out = []
    for e in spans:
        idx = np.flatnonzero((t >= e.start_s) & (t < e.end_s))
        if idx.size < 2 or p[idx].max() <= high:
            out.append(e)
            continue
        heard = idx[p[idx] > low]
        a, b = max(idx[0], heard[0] - pad), min(idx[-1], heard[-1] + pad)
        out.append(Event(max(e.start_s, float(t[a]) - half), min(e.end_s, float(t[b]) + half), e.label,
                         e.confidence, e.strength))
    return out


def add_channel_events(loc: Location, channels: Sequence[Location], *, confidence: float,
                       frame_times: np.ndarray, context: int) -> Location:
    """``loc`` with the events each channel found on its own where ``loc`` has none.

    Parameters
    ----------
    loc : Location
        The location in the channels' mean magnitude (:func:`locate_events` of the recording).
    channels : sequence of Location
        The location of each channel analysed alone, on the same frames (same length, rate
        and STFT).
    confidence : float in [0, 1]
        Confidence a channel's event needs to be added.
    frame_times : np.ndarray [shape=(T,)]
        Centre of every frame in seconds (``cfg.frame_times(T)``): an event covers the frames
        whose centres lie in its span.
    context : int
        Frames on each side of an added event that the repair must not take as neighbours
        (``Settings.counts(cfg).context``).

    Returns
    -------
    Location
        Events and segments in time order: ``loc``'s, then each channel's events at or above
        ``confidence`` that overlap none of the frames kept so far (the first channel's
        first); candidates that overlap an added event are dropped; ``trace["channels"]``
        holds the added frames and ``stats["channel_events"]`` their number. ``music`` is
        ``loc``'s (the repair estimates the added frames itself). ``loc`` itself when
        nothing is added.
    """
    t = np.asarray(frame_times, np.float64)
    frames = loc.frames.copy()
    added = np.zeros_like(frames)
    segs: list[tuple[int, int]] = []
    new: list[Event] = []
    for ch in channels:
        for ev in ch.events:
            idx = np.flatnonzero((t >= ev.start_s - 1e-6) & (t <= ev.end_s + 1e-6))
            if ev.confidence < confidence or not idx.size or frames[idx[0]:idx[-1] + 1].any():
                continue
            a, b = int(idx[0]), int(idx[-1]) + 1
            frames[a:b] = True
            added[a:b] = True
            segs.append((a, b))
            new.append(ev)
    if not new:
        return loc
    exclude = dilate(added, context) if loc.exclude is None else loc.exclude | dilate(added, context)
    return Location(frames, sorted(list(loc.segments) + segs),
                    sorted(list(loc.events) + new, key=lambda e: (e.start_s, e.end_s)),
                    {**loc.trace, "channels": added},
                    {**loc.stats, "channel_events": len(new)}, loc.music, exclude,
                    [c for c in loc.candidates if not overlaps_any(c, new)])


def locate_events(ana: Analysis, *, settings: Settings, dictionary: "Dictionary",
                  screened: Screen | None = None) -> Location:
    """Find the frames with interference: candidates, necessity, edge, KAM novelty, length,
    confirmation, evidence, growth (the stages are described by :class:`Settings`).

    Parameters
    ----------
    ana : Analysis
    settings : Settings
    dictionary : Dictionary
        The dictionary ``ana`` was made with (its size scales the thresholds; its classes
        label the events).
    screened : Screen, optional
        :func:`screen` of ``ana``'s STFT, if made (read by the learned detector).

    Returns
    -------
    Location
    """
    if chosen_locator(settings, dictionary) == "learned":
        return learned_location(ana, settings=settings, model=settings.detector, screened=screened)
    s = settings
    fc = s.counts(ana.cfg)
    n_frames = ana.n_frames
    V, share, gain = ana.V, ana.share, ana.gain
    res = ana.nmf
    trace: dict = {}
    stats: dict = {}
    label = event_label(dictionary)

    def nothing(cand: np.ndarray) -> Location:
        return Location(np.zeros(n_frames, bool), [], [], trace, stats, None, dilate(cand, fc.context))

    cand = candidate_frames(share, ana.level_i, threshold=s.threshold, floor_db=s.floor_db, ref_level=ana.ref)
    trace["share"] = cand.copy()
    by_share = cand.copy()
    ctx = fc.context
    # Necessity relative to the recording (quiet interference passes where the music
    # alone is explained evenly well), never above the absolute one; or relative to the
    # frames of the most similar music (see necessity_contrast).
    necessity = necessity_threshold(gain, settings=s, dictionary=dictionary)
    necessary = gain > necessity
    if s.necessity_contrast > 0:
        below = cand & ana.inner & ~necessary & (gain > s.necessity_floor)
        necessary |= below & necessity_contrast(gain, below, ana.Fm, context=ctx, contrast=s.necessity_contrast)
    cand &= necessary
    trace["necessity"] = cand.copy()
    stats["necessity"] = float(necessity)
    # Recordings often start or end in the middle of a sound (a cut), which looks like
    # nothing else in the recording: frames within edge_ms of either end never start an
    # event (padding may still reach them).
    cand &= ana.inner
    trace["edge"] = cand.copy()
    stats["candidate_frames"] = int(cand.sum())
    if not cand.any():
        return nothing(cand)
    # KAM on every candidate frame (and the margins an event may grow into): the music
    # there is the median of the k frames whose NMF music estimate, with context, is
    # nearest; candidate frames are not used as neighbours.
    queries_mask = dilate(cand, fc.pad + fc.ramp + fc.max_gap)
    q = np.flatnonzero(queries_mask)
    est = music_estimate(ana, q, settings=s, exclude=dilate(cand, ctx))
    Vq = V[:, q]
    Mq = est.M
    removed_e = ((Vq * (1 - Mq)) ** 2).sum(axis=0)
    total_e = (Vq**2).sum(axis=0)
    novelty = np.zeros(n_frames, np.float32)
    novelty[q] = removed_e / np.maximum(total_e, 1e-20)
    # A frame has interference if the NMF attributes it to the interference templates
    # AND the music found elsewhere in the recording does not explain it (novelty).
    score = share * novelty
    act = cand & (score > s.novelty)
    segs = segments(act, max_gap=fc.max_gap, min_len=fc.min_event)
    active = np.zeros(n_frames, bool)
    for a, b in segs:
        active[a:b] = True
    trace["novelty"] = act.copy()
    trace["length"] = active.copy()
    active = dilate(active, fc.pad)
    pos = np.full(n_frames, -1)
    pos[q] = np.arange(q.size)
    kept_active = np.zeros(n_frames, bool)
    confirmed = np.zeros(n_frames, bool)
    ev_segs, confs = [], []
    all_segs = segments(active)
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
            res_b = ana.P @ (Vq[:, cols] * (1 - Mq[:, cols]))
            need = evidence_threshold(s, dictionary, s.quiet_evidence if quiet else s.evidence)
            if evidence_ratio(res_b, ana.Wb, res.W[:, res.n_fixed:], beta=ana.beta) < need:
                continue
        kept_active[a:b] = True
        ev_segs.append((a, b))
        confs.append(float(np.clip(np.sqrt(np.max(score[a:b]) / max(4 * s.novelty, 1e-6)), 0, 1)))
    trace["confirm"] = confirmed
    trace["evidence"] = kept_active.copy()
    if s.hysteresis < 1 and ev_segs:
        # A kept event takes in the frames around it (gaps up to max_gap bridged) that the
        # interference templates explain and that pass a lower necessity threshold: the
        # quieter burst of a cough, the tail of a creak.
        weak = by_share & ana.inner & (gain > s.hysteresis * necessity)
        weak = dilate(weak, fc.pad)
        conf_at = np.zeros(n_frames, np.float32)
        for (a, b), c in zip(ev_segs, confs):
            conf_at[a:b] = c
        grown = np.zeros(n_frames, bool)
        ev_segs, confs = [], []
        for a, b in segments(kept_active | weak, max_gap=fc.max_gap):
            if kept_active[a:b].any():
                grown[a:b] = True
                ev_segs.append((a, b))
                confs.append(float(conf_at[a:b].max()))
        kept_active = grown
    stats["events_before_confirm"] = len(all_segs)
    trace["grown"] = kept_active.copy()
    events = segments_to_events(
        ev_segs, frame_times=ana.cfg.frame_times(n_frames), hop_s=ana.cfg.frame_seconds,
        duration_s=ana.n_samples / ana.sr, labels=[label for _ in ev_segs], confidences=confs,
    )
    # Frames the repair estimates beyond those above (growth past the first KAM frames)
    # exclude the kept events from their neighbours too.
    return Location(kept_active, ev_segs, events, trace, stats, est, dilate(cand | kept_active, ctx))


def events_from_share(ana_share: np.ndarray, level: np.ndarray, total: np.ndarray, *, settings: Settings,
                      cfg, n_samples: int, label: str) -> list[Event]:
    """Events of the NMF baseline: runs of candidate frames by interference share alone.

    Parameters
    ----------
    ana_share, level, total : np.ndarray [shape=(T,)]
        Interference share, interference level and total model level per frame.
    settings : Settings
    cfg : StftConfig
    n_samples : int
    label : str

    Returns
    -------
    list of Event
    """
    s = settings
    fc = s.counts(cfg)
    cand = candidate_frames(ana_share, level, threshold=s.threshold, floor_db=s.floor_db,
                            ref_level=float(np.percentile(total, 99)))
    segs = segments(cand, max_gap=fc.max_gap, min_len=fc.min_event)
    return segments_to_events(
        segs, frame_times=cfg.frame_times(len(ana_share)), hop_s=cfg.frame_seconds,
        duration_s=n_samples / cfg.sr, labels=[label for _ in segs],
        confidences=[float(ana_share[a:b].mean()) for a, b in segs],
    )
