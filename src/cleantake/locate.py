"""Interference location: NMF activations → affected frames → events with times.

The interference share of frame ``t`` is the part of the NMF model that the fixed
(interference) templates explain, ``r(t) = Σ_f Λ_i(f, t) / Σ_f (Λ_i + Λ_m)(f, t)``.
Frames whose share passes a threshold and whose interference is not negligibly quiet are
candidates; runs of candidates (small gaps bridged) become events. An event is kept only if
what would be removed there is explained much better by the interference templates than by
the recording's music templates (:func:`evidence_ratio`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .nmf import beta_divergence_frames, semi_nmf

__all__ = [
    "Event", "interference_share", "candidate_frames", "evidence_ratio", "segments", "dilate", "segments_to_events",
]


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
    """

    start_s: float
    end_s: float
    label: str
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def interference_share(L_i: np.ndarray, L_m: np.ndarray) -> np.ndarray:
    """Per-frame share of the model explained by the interference part.

    Parameters
    ----------
    L_i, L_m : np.ndarray [shape=(n_freq, n_frames)]
        NMF models of interference (``W_i H_i``) and music (``W_m H_m``).

    Returns
    -------
    r : np.ndarray [shape=(n_frames,)], float32 in [0, 1]
    """
    ei = L_i.sum(axis=0, dtype=np.float64)
    em = L_m.sum(axis=0, dtype=np.float64)
    tot = ei + em
    return np.where(tot > 0, ei / np.where(tot > 0, tot, 1.0), 0.0).astype(np.float32)


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


def segments(active: np.ndarray, *, max_gap: int = 0, min_len: int = 1) -> list[tuple[int, int]]:
    """Runs of active frames as ``(start, stop)`` pairs (stop exclusive).

    Runs separated by at most ``max_gap`` inactive frames are merged; runs shorter than
    ``min_len`` frames are dropped.
    """
    a = np.asarray(active, dtype=bool)
    if not a.any():
        return []
    d = np.diff(np.concatenate([[0], a.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    merged: list[list[int]] = []
    for s, e in zip(starts, stops):
        if merged and s - merged[-1][1] <= max_gap:
            merged[-1][1] = int(e)
        else:
            merged.append([int(s), int(e)])
    return [(s, e) for s, e in merged if e - s >= min_len]


def dilate(active: np.ndarray, before: int, after: int | None = None) -> np.ndarray:
    """Extend every active run by ``before`` frames earlier and ``after`` frames later."""
    after = before if after is None else after
    a = np.asarray(active, dtype=bool)
    out = a.copy()
    for s in range(1, before + 1):
        out[:-s] |= a[s:]
    for s in range(1, after + 1):
        out[s:] |= a[:-s]
    return out


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
