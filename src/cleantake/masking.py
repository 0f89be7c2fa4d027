"""Soft (Wiener-like) masks and how strongly they are applied.

Shapes: magnitudes ``(..., n_freq, n_frames)``; a frame weight ``(n_frames,)``.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["soft_mask", "frame_weights", "apply_strength", "segments", "dilate"]


def soft_mask(target: np.ndarray, other: np.ndarray, *, power: float = 2.0) -> np.ndarray:
    """Wiener-like mask ``target^p / (target^p + other^p)``.

    Parameters
    ----------
    target, other : np.ndarray, non-negative, broadcastable
        Magnitude estimates of the wanted part (music) and the unwanted part.
    power : float > 0
        2 gives the Wiener filter for magnitude estimates, 1 a magnitude ratio.

    Returns
    -------
    M : np.ndarray, float32, values in [0, 1]
        Where both estimates are zero the mask is 1 (keep the mixture).
    """
    if power <= 0:
        raise ParameterError(f"mask power must be > 0, got {power}")
    t = np.asarray(target, dtype=np.float32)
    o = np.asarray(other, dtype=np.float32)
    if power == 2:
        tp, op = t * t, o * o
    elif power == 1:
        tp, op = t, o
    else:
        tp, op = t**power, o**power
    den = tp + op
    with np.errstate(invalid="ignore", divide="ignore"):
        M = np.where(den > 0, tp / np.where(den > 0, den, 1), 1.0)
    return np.clip(M, 0.0, 1.0).astype(np.float32)


def frame_weights(active: np.ndarray, *, ramp: int) -> np.ndarray:
    """Weights in [0, 1] per frame: 1 inside events, 0 far from them, raised-cosine ramps.

    Parameters
    ----------
    active : np.ndarray [shape=(n_frames,)], bool
        Frames inside located events.
    ramp : int >= 0
        Ramp length in frames on each side of every event (outside the event).

    Returns
    -------
    w : np.ndarray [shape=(n_frames,)], float32
    """
    a = np.asarray(active, dtype=bool)
    w = a.astype(np.float32)
    if ramp <= 0 or not a.any():
        return w
    n = a.size
    idx = np.flatnonzero(a)
    # Distance (in frames) of every frame to the nearest active frame.
    pos = np.arange(n)
    j = np.searchsorted(idx, pos)
    left = np.where(j > 0, pos - idx[np.maximum(j - 1, 0)], n)
    right = np.where(j < idx.size, idx[np.minimum(j, idx.size - 1)] - pos, n)
    dist = np.minimum(left, right).astype(np.float32)
    taper = 0.5 * (1 + np.cos(np.pi * dist / (ramp + 1)))
    return np.where(dist == 0, 1.0, np.where(dist <= ramp, taper, 0.0)).astype(np.float32)


def apply_strength(mask: np.ndarray, strength: float) -> np.ndarray:
    """Blend a music mask with 1: ``1 - strength * (1 - mask)``.

    ``strength`` 0 leaves the mixture unchanged, 1 applies the mask fully.
    """
    if not 0.0 <= strength <= 1.0:
        raise ParameterError(f"strength must be between 0 (no change) and 1 (full removal), got {strength}")
    return (1.0 - np.float32(strength) * (1.0 - mask)).astype(np.float32)


def dilate(active: np.ndarray, before: int, after: int | None = None) -> np.ndarray:
    """Extend every active run by ``before`` frames earlier and ``after`` frames later.

    Parameters
    ----------
    active : np.ndarray [shape=(T,)], bool
    before : int >= 0
    after : int >= 0, optional
        Default ``before``.

    Returns
    -------
    np.ndarray [shape=(T,)], bool
        A new array (``active`` is not changed).
    """
    after = before if after is None else after
    a = np.asarray(active, dtype=bool)
    out = a.copy()
    for s in range(1, before + 1):
        out[:-s] |= a[s:]
    for s in range(1, after + 1):
        out[s:] |= a[:-s]
    return out


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
