"""The repair: at given frames, KAM's music estimate, a soft mask, and the removed signal.

The music at a frame is a robust statistic (``Settings.repair_statistic``) of the mixture's
magnitudes over the ``k`` frames whose NMF music estimate (with ``context_ms`` of context on
both sides) is nearest (:func:`music_estimate`); the kernel compares log-compressed NMF music
estimates (:func:`repair_features`, compression from ``Settings.repair_compress``). The
automatic path (:func:`cleantake.locate.locate_events`) and spans marked by the user go through
the same :func:`repair`. The location makes its own estimates with the analysis's features
(``Analysis.Fm``) and the median; the repair reuses them only where its settings make the same
ones (see ``benchmarks/REPAIR.md`` for why they differ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kam as _kam
from .analysis import Analysis
from .masking import apply_strength, frame_weights, soft_mask
from .settings import Settings
from .spectral import StftConfig, bands_to_bins, istft, istft_columns

__all__ = ["MusicEstimate", "repair_features", "music_estimate", "synthesize", "repair"]


@dataclass
class MusicEstimate:
    """KAM's music estimate at some frames.

    Attributes
    ----------
    frames : np.ndarray [shape=(n,)], int, increasing
        The frames.
    S : np.ndarray [shape=(F, n)], float32
        Music magnitude at them (never above the mixture's ``V``).
    M : np.ndarray [shape=(F, n)], float32 in [0, 1]
        Soft music mask ``soft_mask(S, V - S)``.
    """

    frames: np.ndarray
    S: np.ndarray
    M: np.ndarray

    def merge(self, other: "MusicEstimate") -> "MusicEstimate":
        """Both estimates, in frame order (``other`` must not repeat a frame of this one)."""
        q = np.concatenate([self.frames, other.frames])
        order = np.argsort(q, kind="stable")
        return MusicEstimate(q[order], np.concatenate([self.S, other.S], axis=1)[:, order],
                             np.concatenate([self.M, other.M], axis=1)[:, order])


def repair_features(ana: Analysis, settings: Settings) -> np.ndarray:
    """Features the repair's kernel compares: ``log1p(L_m / c)`` with ``c`` =
    ``Settings.repair_compress`` times the mean of the NMF music estimate ``ana.L_m``.

    Returns
    -------
    np.ndarray [shape=(B, T)], float32
        ``ana.Fm`` itself when ``repair_compress`` is 0.1 (the analysis's compression).
    """
    c = float(settings.repair_compress)
    if c == 0.1:
        return ana.Fm
    return _kam.context_features(ana.L_m, context=0, compress=float(ana.L_m.mean()) * c + 1e-12)


def music_estimate(ana: Analysis, frames: np.ndarray, *, settings: Settings,
                   exclude: np.ndarray | None = None, features: np.ndarray | None = None,
                   statistic: str = "median") -> MusicEstimate:
    """KAM's music estimate at ``frames``.

    Parameters
    ----------
    ana : Analysis
    frames : np.ndarray [shape=(n,)], int
        Frames to estimate, increasing.
    settings : Settings
        ``k``, ``context_ms`` and ``mask_power`` are used.
    exclude : np.ndarray [shape=(T,)], bool, optional
        Frames never used as neighbours (besides the partial frames at the ends,
        ``ana.partial``, which never are).
    features : np.ndarray [shape=(B, T)], optional
        What the kernel compares (default ``ana.Fm``, the location's; the repair passes
        :func:`repair_features`).
    statistic : {"median", "mean"}
        Of the mixture's magnitudes over the selected frames
        (:func:`cleantake.kam.statistic_over`).

    Returns
    -------
    MusicEstimate
    """
    s = settings
    ctx = s.counts(ana.cfg).context
    ex = ana.partial if exclude is None else (np.asarray(exclude, bool) | ana.partial)
    frames = np.asarray(frames, dtype=np.intp)
    F = ana.Fm if features is None else features
    idx = _kam.knn_frames(F, frames, k=s.k, context=ctx, exclude=ex, min_separation=ctx)
    S = np.minimum(_kam.statistic_over(ana.V, idx, statistic), ana.V[:, frames])
    return MusicEstimate(frames, S, soft_mask(S, ana.V[:, frames] - S, power=s.mask_power))


def synthesize(X: np.ndarray, M: np.ndarray, cols: np.ndarray, w: np.ndarray, cfg: StftConfig, n_samples: int,
               *, strength: float) -> np.ndarray:
    """Removed part in the time domain: ISTFT of ``(1 - mask) X``.

    Parameters
    ----------
    X : np.ndarray [shape=(C, F, T)], complex
        STFT of the recording.
    M : np.ndarray [shape=(F, len(cols))], float32 in [0, 1]
        Music mask on the frames ``cols``; on every other frame it is 1 (nothing removed),
        and only the frames ``cols`` are transformed back.
    cols : np.ndarray [shape=(n,)], int, increasing
    w : np.ndarray [shape=(n,)]
        Weight of each of those frames in [0, 1] (multiplies what is removed).
    cfg : StftConfig
    n_samples : int
    strength : float in [0, 1]
        :func:`cleantake.masking.apply_strength` of the mask.

    Returns
    -------
    np.ndarray [shape=(C, n_samples)], float64
    """
    R_mask = (1.0 - apply_strength(M, strength)) * w[None, :]
    if cols.size > X.shape[-1] // 2:  # most frames (the baselines): one whole inverse
        R = np.zeros(X.shape, X.dtype)
        R[:, :, cols] = X[:, :, cols] * R_mask[None]
        return istft(R, cfg, n_samples)
    return istft_columns(X[:, :, cols] * R_mask[None], cols, cfg, n_samples)


def repair(
    ana: Analysis,
    frames: np.ndarray,
    *,
    settings: Settings,
    weights: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    music: MusicEstimate | None = None,
) -> np.ndarray:
    """What to remove at ``frames``: KAM's estimate of the interference, synthesised.

    At every frame to repair (``frames`` and the ``ramp_ms`` ramps around them) the music is
    KAM's statistic (``repair_statistic``) of the mixture over the nearest frames in the
    features :func:`repair_features` (:func:`music_estimate`); what the mixture has beyond
    it is taken for interference only as far as the NMF model gives each band to the
    interference templates (``Settings.nmf_guard``); a soft mask of power ``mask_power``,
    blended by ``Settings.strength`` and weighted per frame, is applied to the STFT and the
    removed part is transformed back.

    Parameters
    ----------
    ana : Analysis
    frames : np.ndarray [shape=(T,)], bool
        Frames to repair.
    settings : Settings
    weights : np.ndarray [shape=(T,)], optional
        Weight per frame in [0, 1] of what is removed (default: 1 on ``frames`` with
        raised-cosine ramps of ``ramp_ms`` outside them, :func:`cleantake.masking.frame_weights`).
        Frames with weight 0 are not repaired.
    exclude : np.ndarray [shape=(T,)], bool, optional
        Frames never used as neighbours (default: ``frames`` and ``context_ms`` around them).
    music : MusicEstimate, optional
        Estimates already made (by the location, with ``Analysis.Fm`` and the median); used
        at the frames they cover, in place of new ones with ``exclude``, if the settings'
        ``repair_compress`` (0.1) and ``repair_statistic`` ("median") make the same ones;
        otherwise every frame is estimated anew with ``exclude``.

    Returns
    -------
    removed : np.ndarray [shape=(C, n_samples)], float64
        Zero wherever no repaired frame's window reaches.
    """
    s = settings
    frames = np.asarray(frames, dtype=bool)
    fc = s.counts(ana.cfg)
    C = ana.X.shape[0]
    w = frame_weights(frames, ramp=fc.ramp) if weights is None else np.asarray(weights, np.float32)
    if not (w > 0).any():
        return np.zeros((C, ana.n_samples))
    if exclude is None:  # the frames and their context on both sides
        exclude = np.convolve(frames, np.ones(2 * fc.context + 1), mode="same") > 0
    F = repair_features(ana, s)
    if music is not None and not (F is ana.Fm and s.repair_statistic == "median"):
        music = None  # the location's estimates are not the ones these settings make
    if music is None:
        est = music_estimate(ana, np.flatnonzero(w > 0), settings=s, exclude=exclude, features=F,
                             statistic=s.repair_statistic)
    else:
        covered = np.zeros(w.shape, bool)
        covered[music.frames] = True
        more = np.flatnonzero((w > 0) & ~covered)
        # Growth can reach past the frames KAM was first run on (a cough's quieter first
        # burst before its onset): estimate the music there too, with ``exclude``.
        est = music.merge(music_estimate(ana, more, settings=s, exclude=exclude)) if more.size else music
    q = est.frames
    keep = w[q] > 0  # estimated frames inside a repaired span or its ramp
    if s.nmf_guard <= 0:
        Mk = est.M[:, keep]
    else:
        # KAM's shortfall (mixture minus the neighbours' median) is taken for interference
        # only as far as the NMF model gives that band to the interference templates:
        # a note the neighbours lack, where the music templates explain the sound, stays.
        res = ana.nmf
        qk = q[keep]
        L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, qk]
        r_b = L_i / np.maximum(L_i + ana.L_m[:, qk], 1e-12)
        Sk = est.S[:, keep]
        Mk = soft_mask(Sk, (ana.V[:, qk] - Sk) * bands_to_bins(r_b, ana.P) ** s.nmf_guard, power=s.mask_power)
    return synthesize(ana.X, Mk, q[keep], w[q[keep]], ana.cfg, ana.n_samples, strength=s.strength)
