"""The two baselines of the paper, for comparison with the proposed method.

``nmf``: semi-supervised NMF on every bin with a soft mask on every frame; ``kam``: classic
KAM, kNN on the mixture for every frame, no location.
"""

from __future__ import annotations

import numpy as np

from . import kam as _kam
from .analysis import BandTemplates
from .dictionaries import Dictionary
from .locate import event_label, events_from_share
from .masking import soft_mask
from .nmf import interference_share, semi_nmf
from .repair import synthesize
from .settings import Settings
from .spectral import StftConfig

__all__ = ["kam_baseline", "nmf_baseline"]


def kam_baseline(X: np.ndarray, V: np.ndarray, templates: BandTemplates, cfg: StftConfig, n_samples: int, *,
                 settings: Settings) -> np.ndarray:
    """Classic KAM: every frame's music is the median of its k nearest frames of the mixture.

    Parameters
    ----------
    X : np.ndarray [shape=(C, F, T)], complex
        STFT of the recording.
    V : np.ndarray [shape=(F, T)]
        Mean magnitude over channels.
    templates : BandTemplates
        Only its band matrix ``P`` is used (the features are band magnitudes).
    cfg : StftConfig
    n_samples : int
    settings : Settings

    Returns
    -------
    removed : np.ndarray [shape=(C, n_samples)], float64
    """
    s = settings
    n_frames = V.shape[1]
    Vb = templates.P @ V
    ctx = s.counts(cfg).context
    Fm = _kam.context_features(Vb, context=0, compress=float(Vb.mean()) * 0.1 + 1e-12)
    q = np.arange(n_frames)
    est, _ = _kam.kam_estimate(V, Fm, q, k=s.k, context=ctx, min_separation=ctx)
    Sm = np.minimum(est, V)
    M = soft_mask(Sm, V - Sm, power=s.mask_power)
    return synthesize(X, M, q, np.ones(n_frames, np.float32), cfg, n_samples, strength=s.strength)


def nmf_baseline(X: np.ndarray, V: np.ndarray, templates: BandTemplates, cfg: StftConfig, n_samples: int, *,
                 settings: Settings, dictionary: Dictionary, threads: int = 1) -> tuple[np.ndarray, list]:
    """Semi-supervised NMF on every bin; the music's soft mask on every frame.

    Parameters are those of :func:`kam_baseline` (``templates.W`` is used), plus the
    ``dictionary`` (its β and classes) and the NMF's ``threads``.

    Returns
    -------
    removed : np.ndarray [shape=(C, n_samples)], float64
    events : list of Event
        Runs of frames whose interference share passes ``threshold`` (no other test).
    """
    s = settings
    n_frames = V.shape[1]
    res = semi_nmf(V, templates.W, n_free=s.music_rank, n_iter=s.n_iter, beta=dictionary.beta, threads=threads)
    M = soft_mask(res.free_part, res.fixed_part, power=s.mask_power)
    events = events_from_share(interference_share(res.fixed_part, res.free_part), res.fixed_part.sum(axis=0),
                               (res.fixed_part + res.free_part).sum(axis=0), settings=s, cfg=cfg,
                               n_samples=n_samples, label=event_label(dictionary))
    q = np.arange(n_frames)
    return synthesize(X, M, q, np.ones(n_frames, np.float32), cfg, n_samples, strength=s.strength), events
