"""Parameters of the method (:class:`Settings`) and their durations in frames (:class:`FrameCounts`).

Durations are given in milliseconds; :meth:`Settings.counts` turns them into frames of one
recording's STFT once, so every stage uses the same whole numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ParameterError
from .spectral import StftConfig

__all__ = ["Settings", "FrameCounts", "check_names", "parse_assignments", "LOCATORS", "STEREO_MODELS"]

#: Ways to locate interference (:attr:`Settings.locator`).
LOCATORS = ("auto", "learned", "stack")
#: How two or more channels are repaired (``Settings.stereo_model``).
STEREO_MODELS = ("auto", "spatial", "diffuse", "mask")


def check_names(params: dict) -> None:
    """ParameterError if a key of ``params`` is not a field of :class:`Settings`."""
    unknown = set(params) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ParameterError(
            f"unknown setting(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(Settings.__dataclass_fields__)}"
        )


def parse_assignments(items) -> dict:
    """``NAME=VALUE`` texts (as benchmarks and scripts take them on the command line) as settings.

    Parameters
    ----------
    items : iterable of str
        Each ``NAME=VALUE`` with NAME a field of :class:`Settings`; the value is converted to the
        type of the field's default (a field whose default is None takes the text; one whose
        default is a tuple takes numbers separated by commas, ``repair_context_ms=46,92``, or
        ``none`` for no number where that is allowed, ``span_windows_ms=none``; one whose default is
        a bool takes ``true`` or ``false``).

    Returns
    -------
    dict
        ``{name: value}``, checked: ``Settings(**result)`` is valid.

    Raises
    ------
    ParameterError
        An item without ``=`` or a value, an unknown name, a value of the wrong type or out of
        its range.
    """
    out: dict = {}
    for item in items:
        name, _, text = str(item).partition("=")
        if not text:
            raise ParameterError(f"{item!r}: expected NAME=VALUE")
        check_names({name: None})
        default = getattr(Settings(), name)
        try:
            if isinstance(default, tuple):  # comma-separated numbers
                out[name] = () if text.strip().lower() == "none" else tuple(float(v) for v in text.split(","))
            elif isinstance(default, bool):  # bool("false") would be True
                word = text.strip().lower()
                if word not in ("true", "false"):
                    raise ValueError(word)
                out[name] = word == "true"
            else:
                out[name] = text if default is None else type(default)(text)
        except ValueError:
            kind = {int: "a whole number", float: "a number", tuple: "numbers separated by commas",
                    bool: "true or false"}.get(
                type(default), type(default).__name__)
            raise ParameterError(f"{item!r}: {name} takes {kind}, got {text!r}") from None
    Settings(**out)
    return out


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
        well, so its floor is this times the square root of its share of 60 (0.45 times it for
        the 12-template class presets; see :func:`cleantake.locate.necessity_threshold`).
    necessity_mads : float >= 0
        See ``necessity_floor``.
    necessity_contrast : float >= 0
        A candidate frame under the recording's threshold (and above ``necessity_floor``)
        is necessary all the same if its necessity gain is more than this many times the
        median gain of the ``cleantake.locate.CONTRAST_NEIGHBOURS`` frames whose NMF music
        estimate, with context, is most similar: a drum kit's hits are explained as poorly
        as each other, a thud among them is not.
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
    nmf_guard_marked : float >= 0
        ``nmf_guard`` at the frames the user marked as interference (``events=``, and the
        ``like=`` examples) when every interference template was learned from those marks
        (``-i none``): a few templates learned from one example explain less of each band
        than a class dictionary does, and the full guard then keeps part of a sound the user
        said is interference. Events the like finder found keep ``nmf_guard``.
    nmf_guard_release_db : float
        Where a repaired event's mixture is this many decibels or more above KAM's estimate of
        the music under it (the energy over each run of repaired frames, ramps included, over
        the estimate's), the guard is released there: its power falls linearly to 0 over the
        next ``nmf_guard_release_width_db``. A sound that much louder than the music is taken
        in every band, even where the recording's own music templates explain it (an NMF
        fitted to a recording with a loud cough lends its music templates to the cough).
        ``inf`` keeps the guard at every level.
    nmf_guard_release_width_db : float > 0
    strength : float in [0, 1]
        0 = no change, 1 = full removal.
    repair_compress : float > 0, or a tuple of them
        The repair's kernels compare ``log1p(L_m / c)`` of the NMF music estimate ``L_m``,
        with ``c`` each of these times the recording's mean ``L_m``
        (:func:`cleantake.repair.repair_kernels`); the location's kernel uses 0.1
        (``Analysis.Fm``). Larger: closer to comparing magnitudes, so the loud partials decide
        which frames are neighbours. A single number is taken as a tuple of one.
    repair_context_ms : float >= 0, or a tuple of them
        Temporal context of the repair's kernels (each compares sequences of frames this long
        on both sides). The repair has one kernel for each pair of a compression and a context
        (default 2 x 4 = 8), takes the ``repair_k`` nearest frames in each, and estimates the
        music from all of them together: kernels that disagree about which frames resemble
        the one to repair average out each other's mistakes (+0.3 dB with the true spans given
        over one kernel, benchmarks/REPAIR.md, session 31). A single number is a tuple of one.
    repair_k : int >= 1
        Neighbours taken in each of the repair's kernels (the location uses ``k``).
    repair_statistic : {"median", "mean"}
        Statistic of the mixture's magnitudes over the frames selected by all the repair's
        kernels (a frame selected by two kernels counts twice) that is the repair's music
        estimate (the location always takes the median). These repair settings and the fade
        below were chosen on grouped cross-validation (benchmarks/REPAIR.md).
    stereo_model : {"auto", "spatial", "diffuse", "mask"}
        With two or more channels: ``spatial`` removes a multichannel Wiener estimate of the
        interference (the music with the recording's own spatial covariance per bin, each
        event's interference from one direction, :func:`cleantake.repair.spatial_interference`;
        chosen over ``mask`` in REPAIR.md, session 10); ``diffuse`` the same with part of each
        event reaching the channels uncorrelated, as a hall's reverberation does (the share its
        channels' coherence leaves out); ``auto`` (default) gives that diffuse part only to the
        events whose measured share is at least ``repair.DIFFUSE_SHARE["auto"]`` (0.3, chosen
        on the train part of the grouped folds: most dry events measure under 0.15, most
        events heard in a hall 0.4-0.9), so an event from one place is repaired as by
        ``spatial`` and one heard in a reverberant hall as by ``diffuse`` (held out, REPAIR.md
        session 22: +2.4 / +1.4 dB at 0 / -6 dB in a hall with the spans given; on the corpus's
        dry stereo mixes one event of 95 changes with the spans given, and located -0.05 dB);
        ``mask`` applies one soft mask from the channels' mean magnitude to every channel.
        One channel: always the mask.
    span_fade_ms : float >= 0
        Given spans (``events=``): what is removed fades in and out over this long inside
        each span's edges (at least one sample), so nothing changes outside a span and its
        edges do not click; the interference at a span's very start is removed.
    span_windows_ms : tuple of float, each in [5, 500]
        Given spans (``events=``) are repaired at the analysis's STFT (``window_ms``) and
        again at each of these windows (hop a quarter of the window), each time with an
        analysis at that STFT whose NMF starts from the first analysis's
        (:func:`cleantake.analysis.reanalyse`; of each block, for a long file); what is
        removed is the mean of these repairs. Each resolution's neighbours err elsewhere, and
        the mean errs less: ``(92, 184)`` (default), chosen on the train parts of the grouped
        folds, gains 0.3-0.6 dB on held-out stems and 0.8-1.1 dB on stereo mixes
        (``benchmarks/REPAIR.md``, sessions 34-35) for about 1.6x the time of the given-spans
        path. A window longer than the recording, or equal to ``window_ms``, is left out
        (and a repeated one counts once); ``()``: the analysis's STFT alone. Given spans with
        the empty dictionary (``none``, templates learned from the spans themselves): the
        analysis's STFT alone always, where the further windows gained nothing measurable.
        What ``like=`` finds like the user's example (and, with a dictionary, what is located
        beside it) is repaired the same way, at these windows: ``-i none`` with the first event
        as the example, the same events found either way, +0.34 dB (se 0.09) on the 141
        held-out ``stems_extra`` recordings with fold detectors (``benchmarks/like.py``) and
        +0.45 dB (se 0.05; stems +0.27 to +0.43, stereo mixes +0.67 / +0.87) on the dev
        corpus's own mixtures (``evaluate --given first``), for 1.0-1.25 times the time of
        ``-i none --like`` (``benchmarks/LIKE.md``, session 37). Events the tool
        locates on its own are repaired at the windows of ``located_windows_ms``.
    trim_spans : bool
        Given spans (``events=``) are first trimmed at both ends to the event the learned
        detector hears inside them (:func:`cleantake.locate.trim_spans`): for hand marks
        looser than the event, whose slack the repair would otherwise rebuild from the
        neighbours. A span the detector does not hear is repaired whole; nothing outside a
        span changes either way, and the events reported are the spans as given. Off by
        default (``--events`` repairs exactly what is marked; ``clean --trim-spans`` turns it
        on). Held out on stems (``benchmarks/REPAIR.md``, session 36): marks 0.5 s too long
        +0.47 dB (they lose 1.07 untrimmed), 0.25 s too long +0.10, exact marks -0.26: for
        marks drawn roughly. Only with the learned locator (a dictionary of the five core
        classes, as ``any``); otherwise a no-op.
    located_windows_ms : tuple of float, each in [5, 500]
        The same for the events the tool locates (the automatic path; ``like=`` follows
        ``span_windows_ms``): each located run of frames is repaired again, as a span, at
        each of these windows (an analysis from the first one's NMF, as above; the location's
        excluded frames carried over by time) and what is removed is the mean. ``(184,)``
        (default since session 39; chosen among 92, 184 and both on the train parts, session
        38): against the analysis's STFT alone (``()``, ``clean --resolutions spans``) +0.30 /
        +0.33 / +0.36 dB on held-out stems at 0 / -3 / -6 dB and +0.57 / +0.38 dB on stereo
        mixes at 0 / -6 dB, every fold better, the same events found (``benchmarks/REPAIR.md``,
        sessions 38 and 39), for about 1.2 times the automatic path's time (an hour of stereo
        about 83 s on two cores, BENCHMARKS.md 3). ``(92, 184)`` (``clean --resolutions all``)
        gains at most 0.05 dB more held out, for about 1.4 times the time of ``()`` (the hour
        98.5 s against 72.4).
    locator : {"auto", "learned", "stack"}
        How the interference is located: ``learned``, the detector learned from the corpus
        (:mod:`cleantake.detector`: gradient-boosted trees on per-frame features of the
        analysis, with a calibrated confidence and a class label or ``unknown`` per event;
        the thresholds above are then unused); ``stack``, the thresholds above; ``auto``
        (the default), ``learned`` when the dictionary holds templates of all five core
        classes (as the bundled ``any``, which the detector was trained with, does), else
        ``stack`` (a single-class preset, a learned or marked-example dictionary). Chosen by
        grouped cross-validation (BENCHMARKS.md section 0).
    sensitivity : float in [0, 1]
        With the learned locator: the confidence (calibrated probability that an event is
        real) an event needs to be kept. Lower finds more events and more false ones.
    review_level : float in [0, 1]
        With the learned locator: events below ``sensitivity`` but with at least this
        confidence are returned as *candidates* (``CleanResult.candidates``), never
        repaired, and listed unticked in the report so that the user can accept the real
        ones (``clean --events``). At or above ``sensitivity``: no candidates. 0.3: the
        lowest level that keeps the held-out folds' clean music under 2 candidates per minute
        with the shipped detector (0.25 until session 20's detector); on the two CV samples it
        brings 81.9 % of the events within reach of a review instead of the 72.3 % found, for
        1.8 candidates per minute of clean music (``benchmarks/DETECTOR.md``, "Candidates for
        review" and "Seeds pooled").
    channel_confidence : float in [0, 1]
        With two or more channels and the learned locator: 0 (default) locates in the
        channels' mean magnitude only; above 0, each channel is also analysed and located on
        its own, and the events a channel finds with at least this confidence where the mean
        found none are added (a quiet event panned to one side stands out more in its own
        channel). Analyses a stereo recording three times (2.4 times the default's wall
        time on 10 minutes). 0.7, fixed before it was measured, on 237 held-out stereo
        mixes: +0.34 dB NSDR at -6 dB, +0.03 at 0 dB, 13 more events found of 481 for 5
        more false ones; with the events heard in a reverberant hall +0.73 / +0.41 dB at 0 /
        -6 dB (benchmarks/DETECTOR.md, session 29). Without ``like=`` and
        ``events=`` only (with ``like=`` the location beside the finder is the mean's).
    max_event_ms : float > 0
        With the learned locator: an event the detector cuts longer than this is returned as
        a candidate for review (whatever its confidence), not repaired. The detector learned
        from interference of at most 4 s (the corpus's longest), stretched and reverberated
        by its augmentation to about 6 s; a run much longer than that is music standing out
        from the rest of the recording (seen on minutes of varied music analysed at once: a
        16-s "event"; in 20-s blocks, 4-s "events" where the instruments change), not one
        transient sound, and repairing it would replace music. 3 s (6 s until session 15):
        no event in the cross-validation recordings is longer than 2.9 s, and on long
        recordings cleaned in 20-s blocks the 3-s cap was the leave-one-fold-out choice
        (``BENCHMARKS.md`` 0a, session 15).
    detector : str or None
        With ``locator="learned"``: a model file made by ``scripts/train_detector.py``
        (None: the shipped one, trained with the bundled ``any`` dictionary; a model is only
        meaningful with the dictionary it was trained with).
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
    nmf_guard_marked: float = 0.25
    nmf_guard_release_db: float = float("inf")
    nmf_guard_release_width_db: float = 6.0
    hysteresis: float = 0.5
    necessity_contrast: float = 5.0
    edge_ms: float = 250.0
    novelty: float = 0.05
    mask_power: float = 2.0
    strength: float = 1.0
    repair_compress: tuple[float, ...] = (1.0, 10.0)
    repair_context_ms: tuple[float, ...] = (23.0, 46.0, 92.0, 184.0)
    repair_k: int = 2
    repair_statistic: str = "mean"
    stereo_model: str = "auto"
    span_fade_ms: float = 2.0
    span_windows_ms: tuple[float, ...] = (92.0, 184.0)
    located_windows_ms: tuple[float, ...] = (184.0,)
    trim_spans: bool = False
    locator: str = "auto"
    sensitivity: float = 0.5
    review_level: float = 0.3
    max_event_ms: float = 3000.0
    channel_confidence: float = 0.0
    detector: str | None = None

    def __post_init__(self) -> None:
        # A number: a tuple of one.
        for name in ("repair_compress", "repair_context_ms", "span_windows_ms", "located_windows_ms"):
            value = getattr(self, name)
            items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
            try:
                object.__setattr__(self, name, tuple(float(v) for v in items))
            except (TypeError, ValueError):
                raise ParameterError(f"{name} must be a number or a tuple of numbers, got {value!r}") from None
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
            ("repair_compress", 1 <= len(self.repair_compress) <= 16
             and all(0.0 < c <= 1000.0 for c in self.repair_compress), "1 to 16 numbers in (0, 1000]"),
            ("repair_context_ms", 1 <= len(self.repair_context_ms) <= 16
             and all(0.0 <= c <= 2000.0 for c in self.repair_context_ms), "1 to 16 durations from 0 to 2000 ms"),
            ("repair_k", 1 <= self.repair_k <= 1000, "from 1 to 1000 frames"),
            ("span_windows_ms", len(self.span_windows_ms) <= 8 and all(5.0 <= w <= 500.0 for w in self.span_windows_ms),
             "0 to 8 STFT windows from 5 to 500 ms"),
            ("located_windows_ms", len(self.located_windows_ms) <= 8
             and all(5.0 <= w <= 500.0 for w in self.located_windows_ms), "0 to 8 STFT windows from 5 to 500 ms"),
            ("repair_statistic", self.repair_statistic in ("median", "mean"), "'median' or 'mean'"),
            ("stereo_model", self.stereo_model in STEREO_MODELS, " or ".join(repr(x) for x in STEREO_MODELS)),
            ("locator", self.locator in LOCATORS, " or ".join(repr(x) for x in LOCATORS)),
            ("sensitivity", 0.0 <= self.sensitivity <= 1.0, "between 0 and 1 (a confidence)"),
            ("review_level", 0.0 <= self.review_level <= 1.0, "between 0 and 1 (a confidence)"),
            ("max_event_ms", self.max_event_ms > 0, "positive (milliseconds)"),
            ("nmf_guard_release_width_db", self.nmf_guard_release_width_db > 0, "positive (decibels)"),
            ("nmf_guard_release_db", not math.isnan(self.nmf_guard_release_db),
             "a number of decibels (inf: never released)"),
            ("channel_confidence", 0.0 <= self.channel_confidence <= 1.0,
             "between 0 (off) and 1 (a confidence)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ParameterError(f"{name} must be {allowed}, got {getattr(self, name)}")
        for name in ("min_event_ms", "max_gap_ms", "pad_ms", "ramp_ms", "context_ms", "floor_db", "edge_ms",
                     "necessity", "necessity_floor", "necessity_mads", "evidence", "nmf_guard", "nmf_guard_marked",
                     "hysteresis",
                     "necessity_contrast", "quiet_evidence", "span_fade_ms"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")

    def stft_config(self, sr: int) -> StftConfig:
        """The STFT of this recording's sample rate ``sr`` (Hz)."""
        return StftConfig(int(sr), self.window_ms, self.hop_ms)

    def span_settings(self, located: bool = False) -> list["Settings"]:
        """These settings with the STFT of each window of ``span_windows_ms`` (of
        ``located_windows_ms`` with ``located``), hop a quarter of the window: the further
        analyses at which given (located) spans are repaired. A window equal to the analysis's
        own (``window_ms``) is left out: the spans are repaired there already."""
        windows = self.located_windows_ms if located else self.span_windows_ms
        return [self.replace(window_ms=w, hop_ms=w / 4, span_windows_ms=(), located_windows_ms=())
                for w in dict.fromkeys(windows) if w != self.window_ms]

    def frames(self, ms: float, cfg: StftConfig) -> int:
        """Milliseconds to a whole number of hops."""
        return int(round(ms / 1000.0 / cfg.frame_seconds))

    def reach_s(self, sr: int, like: bool = False) -> float:
        """How far beyond a located event (seconds) the output may differ from the input:
        half the longest STFT window its frames are repaired at (``window_ms`` and
        ``located_windows_ms``; with ``like``, for the events found like an example, also
        ``span_windows_ms``), plus the ramp and one hop at that STFT. Farther from every
        event the output is the input, sample for sample (0.18 s by default: the 184-ms
        window's half, its 46-ms hop and ramp). Given spans (``events=``) change nothing
        outside themselves."""
        worst = 0.0
        for s in (self, *self.span_settings(located=True), *(self.span_settings() if like else ())):
            cfg = s.stft_config(sr)
            worst = max(worst, (cfg.win_length / 2 + (s.counts(cfg).ramp + 1) * cfg.hop_length) / sr)
        return worst

    def counts(self, cfg: StftConfig) -> "FrameCounts":
        """The durations of these settings in frames (and samples) of ``cfg``."""
        return FrameCounts.of(self, cfg)

    def replace(self, **params) -> "Settings":
        """A copy with some fields changed, checked like a new one.

        Raises
        ------
        ParameterError
            If a name is not a field of Settings, or a value is out of range.
        """
        check_names(params)
        return dataclasses.replace(self, **params)


#: The repair's time-frequency resolutions by name (``clean --resolutions``, ``evaluate
#: --resolutions``) and the settings each sets: ``default`` none (given spans and what ``like=``
#: finds at three resolutions, 46, 92 and 184 ms; located events at two, 46 and 184 ms);
#: ``spans`` located events at one (``located_windows_ms=()``, the default until session 38);
#: ``all`` located events at three too; ``one`` everything at one (the fastest).
RESOLUTIONS: dict[str, dict] = {
    "default": {},
    "spans": {"located_windows_ms": ()},
    "all": {"located_windows_ms": Settings.span_windows_ms},
    "one": {"span_windows_ms": (), "located_windows_ms": ()},
}


@dataclass(frozen=True)
class FrameCounts:
    """The durations of :class:`Settings` for one STFT, in whole frames (hops) or samples.

    Attributes
    ----------
    max_gap : int
        ``max_gap_ms`` in frames.
    min_event : int >= 1
        ``min_event_ms`` in frames, at least 1.
    pad, ramp, context : int
        ``pad_ms``, ``ramp_ms``, ``context_ms`` in frames.
    edge : int
        ``edge_ms`` in samples.
    span_fade : int >= 1
        ``span_fade_ms`` in samples, at least 1.
    """

    max_gap: int
    min_event: int
    pad: int
    ramp: int
    context: int
    edge: int
    span_fade: int = 1

    @classmethod
    def of(cls, s: Settings, cfg: StftConfig) -> "FrameCounts":
        """The counts of settings ``s`` for the STFT ``cfg``."""
        return cls(
            max_gap=s.frames(s.max_gap_ms, cfg),
            min_event=max(1, s.frames(s.min_event_ms, cfg)),
            pad=s.frames(s.pad_ms, cfg),
            ramp=s.frames(s.ramp_ms, cfg),
            context=s.frames(s.context_ms, cfg),
            edge=int(round(s.edge_ms / 1000.0 * cfg.sr)),
            span_fade=max(1, int(round(s.span_fade_ms / 1000.0 * cfg.sr))),
        )
