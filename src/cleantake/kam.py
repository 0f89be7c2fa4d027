"""Kernel Additive Modelling: proximity kernels (k nearest frames with temporal context) and
robust statistics over the frames they select.

Spectrogram shapes follow librosa, ``(n_freq, n_frames)``; a feature matrix has shape
``(n_features, n_frames)``.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["context_features", "knn_frames", "median_over", "kam_estimate"]


def context_features(S: np.ndarray, *, context: int, compress: float | None = None) -> np.ndarray:
    """Stack each frame with its ``context`` neighbours on both sides.

    Parameters
    ----------
    S : np.ndarray [shape=(n_feat, n_frames)], non-negative
        Per-frame features (for example pooled magnitudes of the NMF music estimate).
    context : int >= 0
        Frames on each side; the kernel then compares sequences of ``2 * context + 1`` frames.
    compress : float or None
        If given, features are ``log1p(S / compress)`` (a loudness-like compression, with
        ``compress`` the level in the units of ``S`` where compression sets in).

    Returns
    -------
    F : np.ndarray [shape=(n_feat * (2 * context + 1), n_frames)], float32
        Edges are padded by repeating the first and last frame.
    """
    if context < 0:
        raise ParameterError(f"context must be >= 0 frames, got {context}")
    A = np.asarray(S, dtype=np.float32)
    if compress is not None:
        A = np.log1p(A / np.float32(compress))
    if context == 0:
        return np.ascontiguousarray(A)
    n = A.shape[1]
    P = np.pad(A, ((0, 0), (context, context)), mode="edge")
    return np.concatenate([P[:, i : i + n] for i in range(2 * context + 1)], axis=0)


def knn_frames(
    F: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    exclude: np.ndarray | None = None,
    min_separation: int = 0,
    chunk: int = 2048,
) -> np.ndarray:
    """Indices of the ``k`` frames nearest to each query frame (squared Euclidean distance).

    Distances are computed with one matrix product per chunk of queries
    (``|a|^2 + |b|^2 - 2 a.b``), so the cost is ``n_queries x n_frames x n_features`` flops
    and memory ``chunk x n_frames``.

    Parameters
    ----------
    F : np.ndarray [shape=(n_features, n_frames)]
        Features (see :func:`context_features`).
    queries : np.ndarray [shape=(n_queries,)], int
        Frames to find neighbours for.
    k : int >= 1
        Neighbours per query.
    exclude : np.ndarray [shape=(n_frames,)], bool, optional
        Frames never selected as neighbours (e.g. frames with interference). If fewer than
        ``k`` frames remain for a query, excluded frames are used as a last resort.
    min_separation : int >= 0
        A query's own frame and frames within this many frames of it are never selected.

    Returns
    -------
    idx : np.ndarray [shape=(n_queries, k)], int64
        Neighbours, nearest first.
    """
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    F = np.asarray(F, dtype=np.float32)
    n = F.shape[1]
    queries = np.asarray(queries, dtype=np.int64)
    if queries.size == 0:
        return np.zeros((0, k), np.int64)
    k_eff = min(k, n)
    norms = np.einsum("ij,ij->j", F, F)
    penalty = np.zeros(n, np.float32)
    big = np.float32(np.finfo(np.float32).max / 4)
    if exclude is not None:
        penalty[np.asarray(exclude, bool)] = big / 2
    out = np.empty((queries.size, k_eff), np.int64)
    frames = np.arange(n)
    for s in range(0, queries.size, chunk):
        q = queries[s : s + chunk]
        D = norms[None, :] - 2.0 * (F[:, q].T @ F) + penalty[None, :]
        # The query's own frame and its neighbours within min_separation.
        cols = np.clip(q[:, None] + np.arange(-min_separation, min_separation + 1)[None, :], 0, n - 1)
        D[np.arange(q.size)[:, None], cols] = big
        if k_eff < n:
            part = np.argpartition(D, k_eff - 1, axis=1)[:, :k_eff]
        else:
            part = np.broadcast_to(frames, D.shape).copy()
        order = np.take_along_axis(D, part, axis=1).argsort(axis=1)
        out[s : s + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def median_over(S: np.ndarray, idx: np.ndarray, *, chunk: int = 256) -> np.ndarray:
    """Median over selected frames: the robust statistic of KAM.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_freq, n_frames)]
        Magnitude spectrogram(s).
    idx : np.ndarray [shape=(n_queries, k)], int
        Selected frames for each query (from :func:`knn_frames`).

    Returns
    -------
    M : np.ndarray [shape=(..., n_freq, n_queries)], float32
    """
    S = np.asarray(S, dtype=np.float32)
    idx = np.asarray(idx)
    # Frames as contiguous rows, gathered in chunks of queries: memory O(chunk x k x n_freq)
    # however many frames are affected.
    St = np.ascontiguousarray(np.moveaxis(S, -1, 0))  # (n_frames, ..., n_freq)
    out = np.empty((idx.shape[0],) + St.shape[1:], np.float32)
    for s in range(0, idx.shape[0], chunk):
        out[s : s + chunk] = np.median(St[idx[s : s + chunk]], axis=1)
    return np.moveaxis(out, 0, -1)


def kam_estimate(
    V: np.ndarray,
    F: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    exclude: np.ndarray | None = None,
    min_separation: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Music estimate at the query frames: median of ``V`` over the k nearest frames in ``F``.

    Parameters
    ----------
    V : np.ndarray [shape=(..., n_freq, n_frames)]
        Magnitudes to take the median of (the mixture's).
    F : np.ndarray [shape=(n_features, n_frames)]
        Features the neighbours are searched on (the NMF music estimate with context).
    queries, k, exclude, min_separation : see :func:`knn_frames`.

    Returns
    -------
    estimate : np.ndarray [shape=(..., n_freq, n_queries)], float32
    idx : np.ndarray [shape=(n_queries, k)]
    """
    idx = knn_frames(F, queries, k=k, exclude=exclude, min_separation=min_separation)
    return median_over(V, idx), idx
