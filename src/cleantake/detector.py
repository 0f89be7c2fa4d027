"""Interference detection learned from data: per-frame features -> probabilities -> events.

The location stage used to be a stack of hand-tuned thresholds on what the NMF analysis
computes. This module replaces it by a small model trained on augmented corpus mixtures
(``scripts/train_detector.py``, chosen by grouped cross-validation; see
``benchmarks/DETECTOR.md``):

1. :func:`frame_features` turns the analysis of one recording into per-frame features that
   are comparable across recordings (each relative to the recording's own distribution), with
   temporal context;
2. a model stored as arrays in ``presets/detector.npz`` and evaluated here in numpy (a
   multilayer perceptron, or an ensemble of gradient-boosted trees exported from
   scikit-learn: :class:`TreeEnsemble`) gives each frame the probability that it holds
   interference, and a second one the probability of each interference class; the shipped
   model also holds small convolutional networks on the mixture's band spectrogram
   (:class:`ConvNet`, trained by ``scripts/train_network.py`` with several seeds and pooled
   by their mean logit), whose frame probability is averaged with the trees'
   (:func:`interference_probabilities`);
3. :func:`detect_events` smooths the probabilities, cuts events with hysteresis, and gives
   each event a calibrated confidence (isotonic calibration fitted on held-out folds) and a
   class label (``"unknown"`` when no class is likely enough).

The networks need only the STFT: :func:`highest_confidence` bounds every event's confidence
from their probability alone, with the trees' taken at their largest, so that a recording
they rule out need not be analysed (:func:`cleantake.locate.screen`; the bound is exact, the
events found are the same).

Only these attributes of the analysis are read: ``cfg`` (StftConfig), ``V`` (F, T), ``X``
(C, F, T; with a stereo network, whether its channels differ: :func:`channels_differ`),
``P`` (B, F), ``Vb`` (B, T), ``Wb`` (B, n_fixed), ``nmf`` (with ``W``, ``H``, ``n_fixed``),
``labels`` (class of every interference template), ``L_i``, ``L_m`` (B, T), ``gain``,
``share``, ``level_i`` (T,), ``ref``, ``partial``, ``inner`` (T,) and ``Fm`` (kNN features).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import CleantakeError, ParameterError
from .kam import kam_estimate
from .masking import segments
from .spectral import ANALYSIS_FMAX_HZ, StftConfig, band_matrix

__all__ = [
    "CLASSES", "ACTIVATION_CLASSES", "FEATURE_NAMES", "FEATURES_VERSION", "NETWORK_BANDS", "DetectorModel",
    "TreeEnsemble", "ConvNet", "DetectedEvent", "DetectorError", "load_model", "save_model", "frame_features",
    "frame_probabilities", "channels_differ", "DUAL_MONO_DB", "SOUNDING_DB", "network_bands", "network_planes", "network_logits", "network_probability",
    "network_arrays", "network_from_arrays", "interference_probabilities", "average_models",
    "smoothed_probability", "detect_events", "events_from_probabilities", "reads_stereo",
    "model_network_probability", "highest_confidence",
]

#: Log-spaced frequency bands of the network's input (:func:`network_bands`).
NETWORK_BANDS = 64

#: Version of :func:`frame_features`' definition, for caches of computed features: 2 since
#: session 19 (the recording's medians leave out silent frames; the spectral statistics stop
#: at 22.05 kHz, which changes nothing at 44.1 kHz); features cached with another version are
#: not mixed with these (``scripts/train_detector.py`` refuses such a cache).
FEATURES_VERSION = 2
#: Interference classes the model knows (the corpus's core and extra classes).
CLASSES = ("cough", "door", "creak", "scream", "drop", "clap", "footsteps", "phone", "laugh", "speech")
#: Classes whose NMF activation share is a feature (those of the bundled dictionaries).
ACTIVATION_CLASSES = ("cough", "door", "creak", "scream", "drop")
#: Lowest frequency (Hz) any feature looks at: DC and sub-audio content never drive a feature
#: (the Hann window's main lobe spreads a DC offset over the first two bins, 0 and 21.5 Hz at
#: 44.1 kHz with 46-ms windows, so the limit sits above them).
FMIN_HZ = 50.0
#: Coarse bands (log-spaced) of the spectral profile of what KAM would remove.
N_PROFILE = 8
#: KAM settings of the novelty feature (as the method's defaults: k = 4, 46 ms of context).
KAM_K = 4
KAM_CONTEXT = 4
#: Half-widths (frames) of the temporal context windows.
CONTEXT_SHORT = 3
CONTEXT_LONG = 8

_BASE = (
    "share", "share_z", "gain", "gain_z", "novelty", "novelty_z", "score", "level", "level_i", "flux_z",
    "flatness", "flatness_d", "centroid_d", "residual_fit", "residual_level",
) + tuple(f"act_{c}" for c in ACTIVATION_CLASSES)
_PROFILE = tuple(f"profile_{j}" for j in range(N_PROFILE))
#: Names of the columns of :func:`frame_features`, in order.
FEATURE_NAMES = (
    _BASE
    + tuple(f"{n}_max{CONTEXT_SHORT}" for n in _BASE)
    + tuple(f"{n}_mean{CONTEXT_LONG}" for n in _BASE)
    + tuple(f"{n}_delta" for n in _BASE)
    + _PROFILE
)


class DetectorError(CleantakeError):
    """The detector model file is missing or does not fit this version."""


# ------------------------------------------------------------------------------------------
# features
# ------------------------------------------------------------------------------------------
def _robust_z(v: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(v - median) / (1.4826 MAD), median and MAD over the ``active`` frames, compressed with
    asinh so that no value dominates."""
    med = float(np.median(v[active]))
    mad = 1.4826 * float(np.median(np.abs(v[active] - med)))
    scale = max(mad, 1e-3 * (abs(med) + 1e-6), 1e-9)
    return np.arcsinh((v - med) / scale)


def _running(v: np.ndarray, half: int, how: str) -> np.ndarray:
    """Max or mean of ``v`` over ``t - half .. t + half`` (edges repeat the end values)."""
    p = np.pad(v, half, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(p, 2 * half + 1)
    return win.max(axis=1) if how == "max" else win.mean(axis=1)


def _delta(v: np.ndarray, lag: int = 2) -> np.ndarray:
    p = np.pad(v, lag, mode="edge")
    return p[2 * lag:] - p[:-2 * lag]


def _profile_bands(freqs: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    f = freqs[lo]
    edges = np.geomspace(max(FMIN_HZ, float(f[0])), float(f[-1]) + 1.0, N_PROFILE + 1)
    return [np.flatnonzero(lo)[(f >= a) & (f < b)] for a, b in zip(edges[:-1], edges[1:])]



def _spectral_stats(V: np.ndarray, S: np.ndarray, lo: np.ndarray, freqs: np.ndarray, P: np.ndarray,
                    chunk: int = 256) -> dict[str, np.ndarray]:
    """Per-frame sums over the spectrogram that :func:`frame_features` needs, a few hundred
    frames at a time, so that no temporary as large as the spectrogram is ever made (they
    cost more in memory traffic than in arithmetic).

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)], float32
        Mixture magnitudes.
    S : np.ndarray [shape=(n_freq, n_frames)], float32, S <= V
        KAM's estimate of the music (``V`` itself where there is none).
    lo : np.ndarray [shape=(n_freq,)], bool
        Bins the statistics look at: from :data:`FMIN_HZ` to
        :data:`cleantake.spectral.ANALYSIS_FMAX_HZ` (one contiguous run).
    freqs : np.ndarray [shape=(n_freq,)]
        Bin frequencies in Hz.
    P : np.ndarray [shape=(n_bands, n_freq)], float32
        Band pooling of the analysis.

    Returns
    -------
    dict of np.ndarray
        ``e_mix`` (energy), ``removed_lo`` (energy of the Wiener estimate of what KAM would
        remove), ``log_mean`` and ``mean`` (of the floored log magnitude and of the floored
        magnitude), ``flux`` (mean positive change of the log magnitude from the previous
        frame, 0 at the first), ``centroid_num`` and ``centroid_den``: shape (n_frames,),
        the bins ``lo`` only; ``profile`` (n_frames, N_PROFILE) the removed energy per coarse
        band; ``removed_bands`` (n_bands, n_frames), float32, the band-pooled magnitude
        KAM would remove.
    """
    eps = 1e-12
    n_frames = V.shape[1]
    i0 = int(np.flatnonzero(lo)[0])
    i1 = int(np.flatnonzero(lo)[-1]) + 1
    if not lo[i0:i1].all():
        raise ParameterError("the bins the detector looks at must be one contiguous run")
    band = slice(i0, i1)
    floor = 1e-3 * float(V[band].mean()) + eps
    fl = freqs[band, None]
    bands = _profile_bands(freqs, lo)
    out = {k: np.empty(n_frames) for k in ("e_mix", "removed_lo", "log_mean", "mean", "flux", "centroid_num",
                                            "centroid_den")}
    out["profile"] = np.zeros((n_frames, N_PROFILE))
    out["removed_bands"] = np.empty((P.shape[0], n_frames), np.float32)
    prev_log = None
    for a in range(0, n_frames, chunk):
        b = min(n_frames, a + chunk)
        Vd = V[:, a:b].astype(np.float64)
        V2 = Vd ** 2
        S2 = S[:, a:b].astype(np.float64) ** 2
        R2 = np.maximum(V2 - S2, 0.0)  # energy KAM would remove (Wiener sense)
        removed = (Vd * (1 - S2 / np.maximum(S2 + R2, eps))) ** 2
        out["e_mix"][a:b] = V2[band].sum(axis=0)
        out["removed_lo"][a:b] = removed[band].sum(axis=0)
        out["removed_bands"][:, a:b] = P @ np.sqrt(R2).astype(np.float32)
        for j, bins in enumerate(bands):
            if bins.size:
                out["profile"][a:b, j] = removed[bins].sum(axis=0)
        Vl = Vd[band]
        logV = np.log(Vl + floor)
        out["log_mean"][a:b] = logV.mean(axis=0)
        out["mean"][a:b] = (Vl + floor).mean(axis=0)
        steps = np.diff(logV if prev_log is None else np.concatenate([prev_log, logV], axis=1), axis=1)
        out["flux"][a + (prev_log is None):b] = np.maximum(steps, 0).mean(axis=0)
        prev_log = logV[:, -1:]
        out["centroid_num"][a:b] = (Vl * fl).sum(axis=0)
        out["centroid_den"][a:b] = Vl.sum(axis=0)
    out["flux"][0] = 0.0
    return out


#: Frames more than this many dB under a recording's loudest are digital silence: the
#: features (:func:`frame_features`) and the network's planes (:func:`network_planes`) take
#: the recording's own reference (medians, mean) over the other frames only.
SOUNDING_DB = 100.0


def frame_features(ana, *, version: int = FEATURES_VERSION) -> np.ndarray:
    """Per-frame features of one analysed recording.

    Every feature is either bounded (shares, fractions) or taken relative to the recording's
    own distribution (minus its median, over its MAD; levels in dB re. its median), so that
    they compare across recordings; bins below :data:`FMIN_HZ` are never used.

    Parameters
    ----------
    ana : Analysis
        The NMF analysis of the recording (see the module docstring for the attributes read).
    version : {1, 2}
        Definition of the features: 2 (:data:`FEATURES_VERSION`, what the library uses) takes
        the recording's medians and robust spreads over its sounding frames (those less than
        100 dB under the loudest); 1 over every frame, as the
        features the shipped model was trained on (``scripts/train_detector.py
        --features-version 1`` rebuilds it). They differ where a recording has frames of digital
        silence, and slightly in every recording, whose first frame (one sample in its window)
        counts as silent.

    Returns
    -------
    np.ndarray [shape=(n_frames, len(FEATURE_NAMES))], float32
        Columns in the order of :data:`FEATURE_NAMES`: 20 base features (interference share,
        necessity gain, KAM novelty, their product, mixture and interference level, spectral
        flux, flatness and centroid change, how much better the interference templates than
        the music templates fit what KAM would remove, its level, and the activation share
        of each core class), their maximum over +-3 frames, their mean over +-8 frames, their
        change over 4 frames, and the log spectral profile (8 bands) of what KAM would remove.
        No NaN or infinity.
    """
    if version not in (1, 2):
        raise ParameterError(f"features version must be 1 or 2, got {version!r}")
    V = np.asarray(ana.V, dtype=np.float32)
    n_frames = V.shape[1]
    if n_frames == 0:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)
    eps = 1e-12
    freqs = ana.cfg.freqs()
    lo = (freqs >= FMIN_HZ) & (freqs <= ANALYSIS_FMAX_HZ)

    share = np.asarray(ana.share, np.float64)
    gain = np.asarray(ana.gain, np.float64)
    Lb = np.asarray(ana.L_i, np.float64).sum(axis=0) + np.asarray(ana.L_m, np.float64).sum(axis=0)
    level_i = np.log10(np.asarray(ana.level_i, np.float64) / max(float(ana.ref), eps) + 1e-6) / 2.0

    # KAM novelty: the share of each frame's energy that its k nearest frames (searched on the
    # NMF music estimate, with context) do not explain.
    q = np.arange(n_frames)
    exclude = np.asarray(ana.partial, bool)
    if (~exclude).sum() > 2 * KAM_CONTEXT + KAM_K + 1:
        est, _ = kam_estimate(V, np.asarray(ana.Fm), q, k=KAM_K, context=KAM_CONTEXT, exclude=exclude,
                              min_separation=KAM_CONTEXT)
        S = np.minimum(est, V)
    else:
        S = V
    st = _spectral_stats(V, S, lo, freqs, np.asarray(ana.P, np.float32))
    e_mix = st["e_mix"]
    tiny = 10.0 ** (-SOUNDING_DB / 10) * max(float(e_mix.max()), 1e-30)
    # The recording's own reference (medians, robust z) is taken over the frames that are not
    # silent (more than 100 dB under the loudest): seconds of digital silence before or after
    # the music would otherwise shift every median and make ordinary music stand out.
    active = e_mix > tiny
    if version == 1 or active.sum() < 2 * CONTEXT_LONG + 1:
        active = np.ones(n_frames, bool)
    level_db = 10 * np.log10(e_mix + tiny)
    level_ref = np.median(level_db[active])
    level = (level_db - level_ref) / 10.0
    novelty = st["removed_lo"] / np.maximum(e_mix, eps)
    residual_level = (10 * np.log10(st["removed_lo"] + tiny) - level_ref) / 10.0

    # Does the interference model or the music model fit the shape of what would be removed?
    # Best cosine similarity of its band profile with any interference template minus with any
    # music template.
    Rb = st["removed_bands"]
    Rn = Rb / np.maximum(np.linalg.norm(Rb, axis=0, keepdims=True), eps)
    W = np.asarray(ana.nmf.W, np.float32)
    n_fixed = int(ana.nmf.n_fixed)
    Wn = W / np.maximum(np.linalg.norm(W, axis=0, keepdims=True), eps)
    cos_i = (Wn[:, :n_fixed].T @ Rn).max(axis=0) if n_fixed else np.zeros(n_frames)
    cos_m = (Wn[:, n_fixed:].T @ Rn).max(axis=0) if W.shape[1] > n_fixed else np.zeros(n_frames)
    residual_fit = cos_i - cos_m

    # Spectral flux, flatness and centroid of the mixture (bins from FMIN_HZ to ANALYSIS_FMAX_HZ).
    flux = st["flux"]
    flat = np.exp(st["log_mean"]) / np.maximum(st["mean"], eps)
    cen = np.log2(st["centroid_num"] / np.maximum(st["centroid_den"], eps) + 1.0)

    # Activation share of each core class (templates are normalised per band column, so the
    # class's modelled magnitude is its templates' column sums times their activations).
    H = np.asarray(ana.nmf.H, np.float64)[:n_fixed]
    colsum = np.asarray(ana.Wb, np.float64).sum(axis=0)[:n_fixed]
    labels = np.asarray(list(ana.labels)[:n_fixed])
    acts = []
    for c in ACTIVATION_CLASSES:
        sel = labels == c
        m = (colsum[sel] @ H[sel]) if sel.any() else np.zeros(n_frames)
        acts.append(m / np.maximum(Lb, eps))

    base = [
        share, _robust_z(share, active), np.arcsinh(gain * 10.0), _robust_z(gain, active), novelty,
        _robust_z(novelty, active), share * novelty, level, level_i, _robust_z(flux, active), flat,
        flat - np.median(flat[active]), cen - np.median(cen[active]),
        residual_fit, residual_level, *acts,
    ]
    base = np.stack([np.asarray(b, np.float64) for b in base], axis=1)  # (T, n_base)
    cols = [base]
    cols.append(np.stack([_running(base[:, j], CONTEXT_SHORT, "max") for j in range(base.shape[1])], axis=1))
    cols.append(np.stack([_running(base[:, j], CONTEXT_LONG, "mean") for j in range(base.shape[1])], axis=1))
    cols.append(np.stack([_delta(base[:, j]) for j in range(base.shape[1])], axis=1))
    # Spectral profile of what would be removed, smoothed over +-3 frames, as log shares.
    prof = st["profile"]
    prof = np.stack([_running(prof[:, j], CONTEXT_SHORT, "mean") for j in range(N_PROFILE)], axis=1)
    prof = np.log10(prof / np.maximum(prof.sum(axis=1, keepdims=True), eps) + 1e-4)
    cols.append(prof)
    out = np.concatenate(cols, axis=1)
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(out, -1e3, 1e3).astype(np.float32)


@lru_cache(maxsize=8)
def _network_pool(cfg: StftConfig) -> np.ndarray:
    return band_matrix(cfg, NETWORK_BANDS, fmax=ANALYSIS_FMAX_HZ)


def network_bands(V: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """The network's input before normalisation: a magnitude spectrogram pooled into bands.

    Parameters
    ----------
    V : np.ndarray [shape=(cfg.n_freq, n_frames)]
        Magnitude spectrogram (the analysis's ``V``: the mean magnitude over channels).
    cfg : StftConfig
        Its STFT; it needs at least :data:`NETWORK_BANDS` frequency bins.

    Returns
    -------
    np.ndarray [shape=(NETWORK_BANDS, n_frames)], float32
        ``V`` pooled by triangular bands spaced evenly in log frequency from 40 Hz to
        :data:`cleantake.spectral.ANALYSIS_FMAX_HZ` (:func:`cleantake.spectral.band_matrix`),
        so that the bands are the same at every sample rate from 44.1 kHz up.
    """
    return (_network_pool(cfg) @ np.asarray(V, np.float32)).astype(np.float32)


# ------------------------------------------------------------------------------------------
# model
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TreeEnsemble:
    """Additive ensemble of binary decision trees (gradient boosting), as flat node arrays.

    Every tree adds the value of the leaf a frame reaches to one output column (its logit);
    a frame goes to ``left`` where ``x[feature] <= threshold``, to ``right`` otherwise.

    Attributes
    ----------
    feature : np.ndarray [shape=(n_nodes,)], int32
        Feature tested at each node (-1 at leaves).
    threshold : np.ndarray [shape=(n_nodes,)], float64
        Split value (in standardised feature units).
    left, right : np.ndarray [shape=(n_nodes,)], int32
        Children, as indices into the node arrays (a leaf points to itself).
    value : np.ndarray [shape=(n_nodes,)], float64
        Leaf values (0 at inner nodes).
    roots : np.ndarray [shape=(n_trees,)], int32
        First node of each tree.
    output : np.ndarray [shape=(n_trees,)], int32
        Output column each tree adds to.
    baseline : np.ndarray [shape=(n_outputs,)], float64
        Logits before any tree.
    depth : int
        Longest root-to-leaf path (number of splits).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    output: np.ndarray
    baseline: np.ndarray
    depth: int

    _ARRAYS = ("feature", "threshold", "left", "right", "value", "roots", "output", "baseline")

    def __post_init__(self) -> None:
        leaf = self.feature < 0
        # The walk: a leaf tests feature 0 against +inf and is its own child both ways, so
        # a frame at a leaf stays there with no branch.
        object.__setattr__(self, "_walk_feature", np.where(leaf, 0, self.feature).astype(np.intp))
        object.__setattr__(self, "_walk_threshold", np.where(leaf, np.inf, self.threshold).astype(np.float64))
        object.__setattr__(self, "_walk_child", np.stack([self.left, self.right], axis=1).ravel().astype(np.intp))
        # Depth of every tree (children have higher indices than their parent in each tree),
        # and the trees deepest first, so that step s walks only the trees deeper than s.
        node_depth = np.zeros(self.feature.size, np.intp)
        for _ in range(int(self.depth)):
            inner = np.flatnonzero(~leaf)
            node_depth[self.left[inner]] = node_depth[inner] + 1
            node_depth[self.right[inner]] = node_depth[inner] + 1
        starts = np.asarray(self.roots, np.intp)
        tree_depth = np.maximum.reduceat(node_depth, starts) if starts.size else starts
        order = np.argsort(-tree_depth, kind="stable")
        object.__setattr__(self, "_walk_order", order)
        object.__setattr__(self, "_walk_active", [int((tree_depth > s_).sum()) for s_ in range(int(self.depth))])

    def logits(self, Z: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Raw scores of ``Z`` [shape=(n_frames, n_features)] -> [shape=(n_frames, n_outputs)].

        Frames are walked through all trees at once, ``chunk`` frames at a time (memory:
        about ``chunk * n_trees * 40`` bytes).
        """
        Z = np.ascontiguousarray(Z, np.float64)
        n, d = Z.shape
        out = np.tile(self.baseline, (n, 1))
        feat, thr, child = self._walk_feature, self._walk_threshold, self._walk_child
        roots = np.asarray(self.roots, np.intp)[self._walk_order]
        output = np.asarray(self.output)[self._walk_order]
        cols = [np.flatnonzero(output == o) for o in range(self.baseline.size)]
        for a in range(0, n, chunk):
            z = Z[a:a + chunk].ravel()
            m = min(chunk, n - a)
            offset = (np.arange(m, dtype=np.intp) * d)[:, None]
            node = np.broadcast_to(roots, (m, roots.size)).copy()
            for active in self._walk_active:
                nd = node[:, :active]
                right = z[offset + feat[nd]] > thr[nd]
                node[:, :active] = child[2 * nd + right]
            leaf = self.value[node]
            for o, c in enumerate(cols):
                out[a:a + m, o] += leaf[:, c].sum(axis=1)
        return out


@dataclass(frozen=True)
class ConvNet:
    """A small convolutional network on the log band spectrogram, one logit per frame.

    3x3 convolutions over (band, frame), each followed by a ReLU and a 2:1 maximum over
    bands, turn the input planes (:func:`network_planes`) into features per frame; dilated
    convolutions over frames (ReLU) and a 1x1 output give the logit (the shipped network:
    four of each, ``scripts/train_network.py``). Batch
    normalisation is folded into the weights. Every convolution is "same" (zero padding):
    frame ``t``'s logit reads frames ``t - reach .. t + reach``.

    Attributes
    ----------
    conv : tuple of (W, b)
        ``W`` [shape=(c_out, c_in, 3, 3)], ``b`` [shape=(c_out,)], float32.
    temporal : tuple of (W, b, dilation)
        ``W`` [shape=(c_out, c_in, k)] with ``k`` odd, ``b`` [shape=(c_out,)], dilation in frames.
    out : (W, b)
        ``W`` [shape=(c_in,)], ``b`` float.
    """

    conv: tuple
    temporal: tuple
    out: tuple

    @property
    def reach(self) -> int:
        """Frames of context on each side of the frame scored."""
        return len(self.conv) + sum(d * (W.shape[2] // 2) for W, _, d in self.temporal)

    @property
    def n_weights(self) -> int:
        """Weights and biases, all layers."""
        return int(sum(W.size + b.size for W, b in self.conv) + sum(W.size + b.size for W, b, _ in self.temporal)
                   + self.out[0].size + 1)


def network_planes(bands: np.ndarray) -> np.ndarray:
    """The network's input planes from :func:`network_bands`, independent of the level.

    Parameters
    ----------
    bands : np.ndarray [shape=(NETWORK_BANDS, n_frames)]

    Returns
    -------
    np.ndarray [shape=(2, NETWORK_BANDS, n_frames)], float32
        The natural log of the bands (floored at a thousandth of their mean), minus each
        band's median over the frames (plane 0) and minus the median of all (plane 1). The
        mean and the medians are taken over the sounding frames (those within 100 dB of the
        loudest), as the trees' features are: seconds of digital silence around the music
        would otherwise pull the medians down and make all the music look loud (session 44:
        5 s of silence before and after cost the stereo mixes 2.7 dB). Without digital
        silence every frame sounds and nothing changes.
    """
    B = np.asarray(bands, np.float64)
    if not B.size:
        return np.zeros((2,) + B.shape, np.float32)
    e = B.sum(axis=0)
    sounding = e > 10.0 ** (-SOUNDING_DB / 20) * float(e.max())  # magnitudes
    if sounding.sum() < 2:
        sounding[:] = True
    S = B[:, sounding]
    L = np.log(B + 1e-3 * float(S.mean()) + 1e-12)
    Ls = L[:, sounding]
    return np.stack([L - np.median(Ls, axis=1, keepdims=True), L - np.median(Ls)]).astype(np.float32)


def _columns(x: np.ndarray, offsets: list[tuple[int, int]], pad: tuple[int, int]) -> np.ndarray:
    """im2col: ``x`` [shape=(C, F, T)] zero-padded by ``pad`` (bands, frames) -> rows
    ``(c, offset)`` in that order [shape=(C * len(offsets), F * T)]."""
    C, F, T = x.shape
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    return np.stack([xp[:, i:i + F, j:j + T] for i, j in offsets], axis=1).reshape(C * len(offsets), F * T)


def network_logits(planes: np.ndarray, net: ConvNet) -> np.ndarray:
    """Forward pass of ``net`` (numpy, float32).

    Parameters
    ----------
    planes : np.ndarray [shape=(2, NETWORK_BANDS, n_frames)]
        From :func:`network_planes`.
    net : ConvNet

    Returns
    -------
    np.ndarray [shape=(n_frames,)], float32
    """
    h = np.asarray(planes, np.float32)
    T = h.shape[2]
    if T == 0:
        return np.zeros(0, np.float32)
    square = [(i, j) for i in range(3) for j in range(3)]
    for W, b in net.conv:
        co = W.shape[0]
        F = h.shape[1]
        y = W.reshape(co, -1) @ _columns(h, square, (1, 1)) + b[:, None]
        y = np.maximum(y, 0.0).reshape(co, F // 2, 2, T)
        h = y.max(axis=2)
    h = h.reshape(-1, T)
    for W, b, d in net.temporal:
        k = W.shape[2]
        offs = [(0, d * j) for j in range(k)]
        y = W.reshape(W.shape[0], -1) @ _columns(h[:, None, :], offs, (0, d * (k // 2))) + b[:, None]
        h = np.maximum(y, 0.0)
    W, b = net.out
    return (W @ h + b).astype(np.float32)


def network_probability(bands: np.ndarray, nets: ConvNet | Sequence[ConvNet]) -> np.ndarray:
    """Probability that each frame holds interference, by the network(s) alone.

    Parameters
    ----------
    bands : np.ndarray [shape=(NETWORK_BANDS, n_frames)]
        From :func:`network_bands`.
    nets : ConvNet, or sequence of ConvNet
        Several networks (a pool: one recipe trained with different seeds) give the sigmoid
        of their mean logit.

    Returns
    -------
    np.ndarray [shape=(n_frames,)], float64 in [0, 1]
    """
    nets = (nets,) if isinstance(nets, ConvNet) else tuple(nets)
    if not nets:
        raise DetectorError("no network to evaluate")
    planes = network_planes(bands)
    z = np.zeros(planes.shape[-1])
    for net in nets:
        if net.conv and net.conv[0][0].shape[1] != planes.shape[0]:
            raise DetectorError(f"this network reads {net.conv[0][0].shape[1]} input planes, got {planes.shape[0]}")
        z += network_logits(planes, net).astype(np.float64)
    z /= len(nets)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


@dataclass(frozen=True)
class DetectorModel:
    """A trained detector (see ``scripts/train_detector.py``).

    Attributes
    ----------
    mean, scale : np.ndarray [shape=(n_features,)]
        Standardisation of the features.
    det_layers : tuple of (W, b), or TreeEnsemble
        Frame detector: an MLP (ReLU hidden layers) or a tree ensemble, with one logistic
        output.
    cls_layers : tuple of (W, b), or TreeEnsemble
        Class model (softmax over ``classes``), an MLP or a tree ensemble.
    classes : tuple of str
    calib_x, calib_y : np.ndarray
        Isotonic calibration of event scores: confidence = interp(score, calib_x, calib_y).
    settings : dict
        Event settings: ``high``/``low`` hysteresis thresholds on the smoothed frame
        probability, ``smooth`` (frames), ``min_len``, ``pad`` and ``max_gap`` (frames at
        11.5 ms hops), ``threshold`` (default confidence an event needs), ``unknown`` (class
        probability under which the label is ``"unknown"``).
    feature_names : tuple of str
    networks : tuple of ConvNet
        Networks on the band spectrogram (one recipe, several training seeds) whose pooled
        frame probability (:func:`network_probability`: the sigmoid of their mean logit) is
        averaged with the detector's (:func:`interference_probabilities`); empty: the
        detector's alone.
    stereo_networks : tuple of ConvNet
        Networks of the same inputs used instead of ``networks`` on recordings of two or more
        channels that differ (:func:`channels_differ`; the shipped model: ``networks`` trained
        with frequency masking, these without; ``scripts/train_network.py``); empty:
        ``networks`` on every recording. Needs ``networks``.
    stereo_calib_x, stereo_calib_y : np.ndarray [shape=(n_knots,)], optional
        Calibration of the events of recordings read by ``stereo_networks``, fitted on those
        alone (``scripts/train_detector.py --calibration by-kind``); empty (the default):
        ``calib_x``, ``calib_y`` calibrate every event. See :meth:`calibration`.
    """

    mean: np.ndarray
    scale: np.ndarray
    det_layers: tuple
    cls_layers: tuple
    classes: tuple
    calib_x: np.ndarray
    calib_y: np.ndarray
    settings: dict = field(default_factory=dict)
    feature_names: tuple = FEATURE_NAMES
    networks: tuple[ConvNet, ...] = ()
    stereo_networks: tuple[ConvNet, ...] = ()
    stereo_calib_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stereo_calib_y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.stereo_networks and not self.networks:
            raise DetectorError("a detector model with stereo networks needs networks for mono recordings too")
        if np.size(self.stereo_calib_x) != np.size(self.stereo_calib_y):
            raise DetectorError("a detector model's stereo calibration needs as many scores as confidences")
        if np.size(self.stereo_calib_x) and not self.stereo_networks:
            raise DetectorError("a detector model with a stereo calibration needs stereo networks")

    def calibration(self, stereo: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The isotonic calibration (knots: scores, confidences) of a recording's events.

        Parameters
        ----------
        stereo : bool
            Whether the recording is read by the stereo networks (:func:`reads_stereo`).

        Returns
        -------
        x, y : np.ndarray [shape=(n_knots,)]
            Confidence = ``np.interp(score, x, y)``: the stereo calibration for a stereo
            recording where the model has one, ``calib_x``, ``calib_y`` otherwise.
        """
        if stereo and np.size(self.stereo_calib_x):
            return self.stereo_calib_x, self.stereo_calib_y
        return self.calib_x, self.calib_y


def _default_path() -> Path:
    return Path(str(resources.files("cleantake") / "presets" / "detector.npz"))


def save_model(model: DetectorModel, path: str | Path) -> Path:
    """Write ``model`` to an ``.npz`` file (arrays only; no pickle)."""
    arrays = {"mean": model.mean, "scale": model.scale, "calib_x": model.calib_x, "calib_y": model.calib_y,
              "classes": np.array(model.classes), "feature_names": np.array(model.feature_names),
              "settings_keys": np.array(sorted(model.settings)),
              "settings_values": np.array([float(model.settings[k]) for k in sorted(model.settings)])}
    if np.size(model.stereo_calib_x):
        arrays["stereo_calib_x"], arrays["stereo_calib_y"] = model.stereo_calib_x, model.stereo_calib_y
    for name, layers in (("det", model.det_layers), ("cls", model.cls_layers)):
        if isinstance(layers, TreeEnsemble):
            arrays[f"{name}_trees_depth"] = np.array(layers.depth)
            for a in TreeEnsemble._ARRAYS:
                arrays[f"{name}_trees_{a}"] = getattr(layers, a)
            continue
        arrays[f"{name}_n"] = np.array(len(layers))
        for i, (W, b) in enumerate(layers):
            arrays[f"{name}_W{i}"] = np.asarray(W, np.float32)
            arrays[f"{name}_b{i}"] = np.asarray(b, np.float32)
    for kind, nets in (("net", model.networks), ("stereo_net", model.stereo_networks)):
        for j, net in enumerate(nets):
            arrays.update(network_arrays(net, prefix=_member_prefix(kind, j)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def _member_prefix(kind: str, j: int) -> str:
    """Prefix of the ``j``-th network of a pool in a model file: ``net``, ``net1``, ``net2``...
    (``stereo_net``, ``stereo_net1``... for the stereo pool), so that a file of one network per
    kind reads as before pooling."""
    return kind if j == 0 else f"{kind}{j}"


def _pool_from_arrays(d: dict, kind: str) -> tuple[ConvNet, ...]:
    """Every network of the pool ``kind`` (``net`` or ``stereo_net``) stored in ``d``."""
    nets: list[ConvNet] = []
    while (net := network_from_arrays(d, _member_prefix(kind, len(nets)))) is not None:
        nets.append(net)
    return tuple(nets)


def network_arrays(net: ConvNet, prefix: str = "net") -> dict[str, np.ndarray]:
    """``net`` as named arrays (``<prefix>_*``), as :func:`save_model` stores it (``net`` for
    the first network of the pool, ``net1``, ``net2``... for the others, ``stereo_net``... for
    the stereo pool)."""
    p = prefix
    arrays = {f"{p}_n_conv": np.array(len(net.conv)), f"{p}_n_temporal": np.array(len(net.temporal)),
              f"{p}_out_W": np.asarray(net.out[0], np.float32), f"{p}_out_b": np.asarray(net.out[1], np.float32)}
    for i, (W, b) in enumerate(net.conv):
        arrays[f"{p}_conv{i}_W"], arrays[f"{p}_conv{i}_b"] = np.asarray(W, np.float32), np.asarray(b, np.float32)
    for i, (W, b, d) in enumerate(net.temporal):
        arrays[f"{p}_temporal{i}_W"], arrays[f"{p}_temporal{i}_b"] = np.asarray(W, np.float32), np.asarray(b, np.float32)
        arrays[f"{p}_temporal{i}_dilation"] = np.array(int(d))
    return arrays


def network_from_arrays(d: dict, prefix: str = "net") -> ConvNet | None:
    """The network stored by :func:`network_arrays` under ``prefix`` in ``d``, or None if there is none."""
    p = prefix
    if f"{p}_n_conv" not in d:
        return None
    conv = tuple((d[f"{p}_conv{i}_W"], d[f"{p}_conv{i}_b"]) for i in range(int(d[f"{p}_n_conv"])))
    temporal = tuple((d[f"{p}_temporal{i}_W"], d[f"{p}_temporal{i}_b"], int(d[f"{p}_temporal{i}_dilation"]))
                     for i in range(int(d[f"{p}_n_temporal"])))
    return ConvNet(conv, temporal, (d[f"{p}_out_W"], float(d[f"{p}_out_b"])))


@lru_cache(maxsize=4)
def _load(path: str) -> DetectorModel:
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DetectorError(f"cannot read the detector model {path}: {exc}") from exc
    names = tuple(str(n) for n in d["feature_names"])
    if names != FEATURE_NAMES:
        raise DetectorError(f"the detector model {path} was trained on other features; retrain it "
                            "with scripts/train_detector.py")

    def layers(name: str) -> tuple | TreeEnsemble:
        if f"{name}_trees_depth" in d:
            return TreeEnsemble(**{a: d[f"{name}_trees_{a}"] for a in TreeEnsemble._ARRAYS},
                                depth=int(d[f"{name}_trees_depth"]))
        return tuple((d[f"{name}_W{i}"], d[f"{name}_b{i}"]) for i in range(int(d[f"{name}_n"])))

    settings = {str(k): float(v) for k, v in zip(d["settings_keys"], d["settings_values"])}
    return DetectorModel(d["mean"], d["scale"], layers("det"), layers("cls"), tuple(str(c) for c in d["classes"]),
                         d["calib_x"], d["calib_y"], settings, names, _pool_from_arrays(d, "net"),
                         _pool_from_arrays(d, "stereo_net"), d.get("stereo_calib_x", np.zeros(0)),
                         d.get("stereo_calib_y", np.zeros(0)))


def load_model(path: str | Path | None = None) -> DetectorModel:
    """The detector model at ``path`` (default: the one shipped in ``cleantake/presets``)."""
    return _load(str(Path(path) if path is not None else _default_path()))


def _mlp(Z: np.ndarray, layers: tuple | TreeEnsemble) -> np.ndarray:
    if isinstance(layers, TreeEnsemble):
        return layers.logits(Z)
    h = Z
    for i, (W, b) in enumerate(layers):
        h = h @ W + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def _trees_in(trees: TreeEnsemble, shift: np.ndarray, stretch: np.ndarray) -> TreeEnsemble:
    """``trees``, which split on ``shift + stretch * z`` (stretch > 0), as splits on ``z``."""
    inner = trees.feature >= 0
    f = np.where(inner, trees.feature, 0)
    thr = np.where(inner, (trees.threshold - shift[f]) / stretch[f], 0.0)
    return TreeEnsemble(trees.feature, thr, trees.left, trees.right, trees.value, trees.roots, trees.output,
                        trees.baseline, trees.depth)


def _average_layers(members: list, shifts: list, stretches: list) -> tuple | TreeEnsemble:
    """The average of the members' raw outputs, on the first member's standardised features.

    Member ``j`` sees ``z_j = shift_j + stretch_j * z`` where ``z`` is the common standardised
    feature vector; tree ensembles are concatenated (leaf values divided by the number of
    members), single linear layers are combined in closed form.
    """
    n = len(members)
    if all(isinstance(m, TreeEnsemble) for m in members):
        parts = [_trees_in(m, sh, st) for m, sh, st in zip(members, shifts, stretches)]
        offsets = np.cumsum([0] + [p.feature.size for p in parts[:-1]])
        return TreeEnsemble(
            np.concatenate([p.feature for p in parts]),
            np.concatenate([p.threshold for p in parts]),
            np.concatenate([p.left + o for p, o in zip(parts, offsets)]).astype(np.int32),
            np.concatenate([p.right + o for p, o in zip(parts, offsets)]).astype(np.int32),
            np.concatenate([p.value / n for p in parts]),
            np.concatenate([p.roots + o for p, o in zip(parts, offsets)]).astype(np.int32),
            np.concatenate([p.output for p in parts]).astype(np.int32),
            np.mean([p.baseline for p in parts], axis=0),
            max(int(p.depth) for p in parts))
    if all(not isinstance(m, TreeEnsemble) and len(m) == 1 for m in members):
        W = sum(np.asarray(m[0][0], np.float64) * st[:, None] for m, st in zip(members, stretches)) / n
        b = sum(np.asarray(m[0][1], np.float64) + sh @ np.asarray(m[0][0], np.float64)
                for m, sh in zip(members, shifts)) / n
        return ((W, b),)
    raise DetectorError("only tree ensembles, or single linear layers, can be averaged")


def average_models(models: list[DetectorModel], *, calib_x: np.ndarray | None = None,
                   calib_y: np.ndarray | None = None, settings: dict | None = None) -> DetectorModel:
    """One model whose outputs (logits) are the average of ``models``' (an ensemble).

    Parameters
    ----------
    models : list of DetectorModel
        Trained on the same features and classes (for example with different seeds); their
        frame detectors are tree ensembles and their class models tree ensembles or single
        linear layers.
    calib_x, calib_y : np.ndarray, optional
        Calibration of the ensemble's event scores (default: the first model's; an average
        of scores is not calibrated by its members' calibrations, so refit it).
    settings : dict, optional
        Event settings (default: the first model's).

    Returns
    -------
    DetectorModel
        Standardised as the first model; ``frame_probabilities`` gives the sigmoid (softmax)
        of the members' mean logit, up to rounding at split values. Its network is the first
        model's (the trees are averaged, not the networks).
    """
    if not models:
        raise DetectorError("no models to average")
    first = models[0]
    for m in models[1:]:
        if m.feature_names != first.feature_names or m.classes != first.classes:
            raise DetectorError("the models to average were trained on other features or classes")
    # z_j = (x - mean_j) / scale_j = shift_j + stretch_j * z, with z = (x - mean) / scale.
    shifts = [(first.mean - m.mean) / m.scale for m in models]
    stretches = [first.scale / m.scale for m in models]
    return DetectorModel(first.mean, first.scale,
                         _average_layers([m.det_layers for m in models], shifts, stretches),
                         _average_layers([m.cls_layers for m in models], shifts, stretches),
                         first.classes,
                         first.calib_x if calib_x is None else np.asarray(calib_x, np.float64),
                         first.calib_y if calib_y is None else np.asarray(calib_y, np.float64),
                         dict(first.settings if settings is None else settings), first.feature_names,
                         first.networks, first.stereo_networks)


def frame_probabilities(features: np.ndarray, model: DetectorModel, bands: np.ndarray | None = None, *,
                        stereo: bool = False, network: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frame probabilities of interference and of each class.

    Parameters
    ----------
    features : np.ndarray [shape=(n_frames, n_features)]
        From :func:`frame_features`.
    model : DetectorModel
    bands : np.ndarray [shape=(NETWORK_BANDS, n_frames)], optional
        From :func:`network_bands`; needed when the model has networks, whose pooled
        probability is then averaged with the trees'.
    stereo : bool, default False
        Whether the recording has two or more channels that differ (:func:`channels_differ`):
        the model's stereo networks, if it has any, are then used instead of its networks.
    network : np.ndarray [shape=(n_frames,)], optional
        :func:`model_network_probability` of the same recording with the same ``stereo``,
        when the caller has it already (``bands`` is then not read).

    Returns
    -------
    p : np.ndarray [shape=(n_frames,)], float64 in [0, 1]
        Probability that the frame holds interference.
    class_probs : np.ndarray [shape=(n_frames, len(model.classes))], rows summing to 1
        Probability of each class if it does.
    """
    Z = (np.asarray(features, np.float64) - model.mean) / model.scale
    logit = _mlp(Z, model.det_layers)[:, 0]
    p = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
    if model.networks:
        if network is None:
            if bands is None:
                raise DetectorError("this detector model has a network: give the band spectrogram (network_bands)")
            if np.shape(bands)[1] != p.size:
                raise DetectorError(f"bands cover {np.shape(bands)[1]} frames, the features {p.size}")
            nets = model.stereo_networks if stereo and model.stereo_networks else model.networks
            network = network_probability(bands, nets)
        elif np.shape(network) != p.shape:
            raise DetectorError(f"the network's probability covers {np.size(network)} frames, the features {p.size}")
        p = 0.5 * (p + np.asarray(network, np.float64))
    s = _mlp(Z, model.cls_layers)
    s = np.exp(s - s.max(axis=1, keepdims=True))
    return p, s / s.sum(axis=1, keepdims=True)


def interference_probabilities(ana, model: DetectorModel, *, stereo: bool | None = None,
                               network: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frame probabilities of interference and of each class in an analysed recording.

    The detector's probability (:func:`frame_probabilities` on :func:`frame_features`),
    averaged with its networks' (:func:`network_probability` on :func:`network_bands` of the
    analysis's ``V``) where the model has any; on a recording of two channels or more that
    differ (:func:`channels_differ`: not dual mono), with its stereo networks' where it has
    any (a multichannel recording is a mix, not a single instrument's stem, and the networks
    read the channels' mean magnitude either way).

    Parameters
    ----------
    ana : Analysis
        The NMF analysis of the recording (see the module docstring).
    model : DetectorModel
    stereo : bool, optional
        :func:`reads_stereo` of ``ana`` and ``model``, when the caller has it already (it
        reads the whole STFT); default: asked here.
    network : np.ndarray [shape=(n_frames,)], optional
        :func:`model_network_probability` of ``ana.V`` with the same ``stereo``, when the
        caller has it already (as :func:`cleantake.locate.screen` does).

    Returns
    -------
    p : np.ndarray [shape=(n_frames,)], float64 in [0, 1]
    class_probs : np.ndarray [shape=(n_frames, len(model.classes))], rows summing to 1
    """
    stereo = reads_stereo(ana, model) if stereo is None else bool(stereo)
    if network is None and model.networks:
        network = model_network_probability(ana.V, ana.cfg, model, stereo=stereo)
    return frame_probabilities(frame_features(ana), model, stereo=stereo, network=network)


def model_network_probability(V: np.ndarray, cfg: StftConfig, model: DetectorModel, *,
                              stereo: bool) -> np.ndarray | None:
    """The probability of interference by the model's networks alone (the pool that
    :func:`frame_probabilities` reads: its stereo networks when ``stereo`` and it has any).

    It needs only the STFT, not the NMF analysis, so it can be had before the analysis.

    Parameters
    ----------
    V : np.ndarray [shape=(cfg.n_freq, n_frames)]
        Magnitude spectrogram (the analysis's ``V``: the mean magnitude over channels).
    cfg : StftConfig
    model : DetectorModel
    stereo : bool
        :func:`reads_stereo` of the recording.

    Returns
    -------
    np.ndarray [shape=(n_frames,)], float64 in [0, 1], or None
        None when the model has no networks.
    """
    if not model.networks:
        return None
    nets = model.stereo_networks if stereo and model.stereo_networks else model.networks
    return network_probability(network_bands(V, cfg), nets)


def highest_confidence(network: np.ndarray, model: DetectorModel, *, stereo: bool) -> float:
    """The highest confidence any event of a recording can have, from its networks alone.

    A frame's probability is the mean of the trees' and the networks'
    (:func:`frame_probabilities`); with the trees' taken at their largest (1), no smoothed
    frame probability can exceed ``(1 + max smoothed network probability) / 2``, so no
    event's score, nor (the calibration being read at it) its confidence, can exceed what
    this returns. An exact bound, not an estimate: where it lies under the confidence an
    event needs, :func:`detect_events` finds none in the recording whatever its analysis
    holds, and the analysis need not be made.

    Parameters
    ----------
    network : np.ndarray [shape=(n_frames,)]
        :func:`model_network_probability` of the recording.
    model : DetectorModel
    stereo : bool
        :func:`reads_stereo` of the recording (which calibration applies).

    Returns
    -------
    float in [0, 1]
        0 when no smoothed frame probability can pass the model's ``high`` level.
    """
    network = np.asarray(network, np.float64)
    if not network.size:
        return 0.0
    # 1e-9: the running mean of the averaged probabilities and this sum round differently.
    top = 0.5 * (1.0 + float(smoothed_probability(network, model).max())) + 1e-9
    if top <= model.settings.get("high", 0.5) - 1e-9:
        return 0.0
    calib_x, calib_y = model.calibration(stereo)
    # The calibration is isotonic (non-decreasing); its largest value up to ``top`` is read
    # all the same, so that the bound holds for any calibration.
    at = np.append(np.asarray(calib_x, np.float64)[np.asarray(calib_x) <= top], top)
    return float(np.clip(np.max(np.interp(at, calib_x, calib_y)), 0.0, 1.0))


def reads_stereo(ana, model: DetectorModel) -> bool:
    """Whether ``model`` reads the analysed recording with its stereo networks (and
    calibrates its events with its stereo calibration, :meth:`DetectorModel.calibration`):
    it has stereo networks, and the recording's channels differ (:func:`channels_differ`).

    Parameters
    ----------
    ana : Analysis, or np.ndarray [shape=(n_channels, n_freq, n_frames)], complex
        The analysis, or the STFT of its channels (its ``X``) when it is asked before the
        analysis is made (:func:`cleantake.locate.screen`).
    model : DetectorModel

    Returns
    -------
    bool
    """
    X = ana if isinstance(ana, np.ndarray) else ana.X
    return bool(model.stereo_networks) and channels_differ(X)


#: How far below the channels' common part what sets them apart must stay for a recording of
#: several channels to count as mono (dual mono): -40 dB, a hundredth in amplitude. A choice,
#: not tuned: the corpus's stereo mixes lie far above it and a dual-mono file far below.
DUAL_MONO_DB = -40.0


def channels_differ(X: np.ndarray, floor_db: float = DUAL_MONO_DB) -> bool:
    """Whether a recording has two channels or more that are not one signal repeated.

    Parameters
    ----------
    X : np.ndarray [shape=(n_channels, n_freq, n_frames)], complex
        STFT of the channels (the analysis's ``X``).
    floor_db : float
        The channels differ when the energy of each channel's difference from their mean,
        summed, exceeds this many dB re. the energy of their mean times the channel count.

    Returns
    -------
    bool
        False for one channel, for identical channels (a mono recording stored as stereo) and
        for channels that differ by less than ``floor_db``; True otherwise. The detector reads
        its stereo network only when True: a dual-mono file is a mono recording.
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[0] < 2:
        return False
    common = apart = 0.0
    for a in range(0, X.shape[2], 256):  # a few MB at a time, not copies of the whole STFT
        x = X[:, :, a:a + 256]
        mid = x.mean(axis=0)
        common += x.shape[0] * float(np.sum(mid.real ** 2 + mid.imag ** 2))
        d = x - mid
        apart += float(np.sum(d.real ** 2 + d.imag ** 2))
    return apart > 10.0 ** (floor_db / 10.0) * common


# ------------------------------------------------------------------------------------------
# events
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DetectedEvent:
    """One detected event.

    Attributes
    ----------
    start_frame, end_frame : int
        Frames ``start_frame <= t < end_frame`` (padding included).
    confidence : float in [0, 1]
        Calibrated probability that the event is real interference.
    label : str
        Most likely class, or ``"unknown"`` when no class is likely enough.
    class_probs : dict of str to float
        Probability of each class (summing to 1).
    score : float
        Uncalibrated event score (mean of the two highest smoothed frame probabilities).
    """

    start_frame: int
    end_frame: int
    confidence: float
    label: str
    class_probs: dict
    score: float


def smoothed_probability(p: np.ndarray, model: DetectorModel) -> np.ndarray:
    """Frame probabilities averaged over the model's ``smooth`` frames on each side, as
    events are cut from them (:func:`events_from_probabilities`)."""
    half = int(model.settings.get("smooth", 1))
    return _running(p, half, "mean") if half > 0 and p.size else p


def event_score(p: np.ndarray) -> float:
    """Score of an event from its smoothed frame probabilities (mean of the top two)."""
    top = np.sort(p)[-2:]
    return float(top.mean())


def events_from_probabilities(
    p: np.ndarray,
    class_probs: np.ndarray,
    model: DetectorModel,
    *,
    threshold: float | None = None,
    inner: np.ndarray | None = None,
    stereo: bool = False,
) -> list[DetectedEvent]:
    """Frame probabilities -> events (see :func:`detect_events`); ``stereo``: the recording
    is read by the stereo networks (:func:`reads_stereo`), whose calibration then applies."""
    st = model.settings
    threshold = st.get("threshold", 0.5) if threshold is None else float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"threshold must be a probability from 0 to 1, got {threshold}")
    n = p.size
    ps = smoothed_probability(p, model)
    high, low = st.get("high", 0.5), st.get("low", 0.3)
    ok = ps > low
    if inner is not None:
        ok &= np.asarray(inner, bool)
    out = []
    calib_x, calib_y = model.calibration(stereo)
    pad, min_len = int(st.get("pad", 4)), int(st.get("min_len", 4))
    for a, b in segments(ok, max_gap=int(st.get("max_gap", 4))):
        if b - a < min_len or ps[a:b].max() <= high:
            continue
        score = event_score(ps[a:b])
        conf = float(np.clip(np.interp(score, calib_x, calib_y), 0.0, 1.0))
        if conf < threshold:
            continue
        w = p[a:b]
        cp = (class_probs[a:b] * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-12)
        j = int(np.argmax(cp))
        label = model.classes[j] if cp[j] >= st.get("unknown", 0.0) else "unknown"
        out.append(DetectedEvent(max(0, a - pad), min(n, b + pad), conf, label,
                                 {c: float(v) for c, v in zip(model.classes, cp)}, score))
    return out


def detect_events(ana, *, model: DetectorModel | str | Path | None = None, threshold: float | None = None,
                  stereo: bool | None = None, network: np.ndarray | None = None) -> list[DetectedEvent]:
    """Find interference events in an analysed recording.

    Parameters
    ----------
    ana : Analysis
        The NMF analysis of the recording (see the module docstring).
    model : DetectorModel or path, optional
        Default: the shipped model (``cleantake/presets/detector.npz``), trained with the
        bundled ``any`` dictionary.
    threshold : float in [0, 1], optional
        Confidence (calibrated probability that an event is real) an event needs to be
        returned; lower finds more events and more false ones. Default: the model's.
    stereo : bool, optional
        :func:`reads_stereo` of ``ana`` and ``model``, if the caller has it; default: asked here.
    network : np.ndarray [shape=(n_frames,)], optional
        :func:`model_network_probability` of ``ana.V``, if the caller has it.

    Returns
    -------
    list of DetectedEvent
        In time order; frames are those of ``ana`` (``ana.cfg.frame_times``).
    """
    if not isinstance(model, DetectorModel):
        model = load_model(model)
    stereo = reads_stereo(ana, model) if stereo is None else bool(stereo)  # once: it reads the whole STFT
    p, cp = interference_probabilities(ana, model, stereo=stereo, network=network)
    return events_from_probabilities(p, cp, model, threshold=threshold, inner=getattr(ana, "inner", None),
                                     stereo=stereo)
