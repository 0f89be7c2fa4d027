"""Kernel Additive Modelling: proximity kernels (k nearest frames with temporal context) and
robust statistics over the frames they select.

Spectrogram shapes follow librosa, ``(n_freq, n_frames)``; a feature matrix has shape
``(n_features, n_frames)``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import ParameterError

__all__ = ["context_features", "knn_frames", "knn_frames_contexts", "median_over", "mean_over", "STATISTICS", "statistic_over", "kam_estimate"]


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


def _padded(A: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """``A`` edge-padded by ``context`` frames, and the cumulative sum (float64, a leading 0)
    of its columns' squared norms: the squared norm of frame ``t`` stacked with ``c <= context``
    frames on both sides (a column of ``context_features(A, context=c)``) is
    ``cum[t + context + c + 1] - cum[t + context - c]``."""
    P = np.pad(A, ((0, 0), (context, context)), mode="edge") if context else A
    return P, np.concatenate([[0.0], np.cumsum(np.einsum("ij,ij->j", P, P, dtype=np.float64))])


def _context_dots(P: np.ndarray, queries: np.ndarray, contexts: list[int], pad: int) -> np.ndarray:
    """Dot products of context-stacked frames without stacking them, for several contexts.

    With ``F = context_features(A, context=c)`` and ``P`` = ``A`` edge-padded by ``pad >= c``,
    ``F[:, q] . F[:, t]`` is the sum over ``d = -c..c`` of ``P[:, q + pad + d] . P[:, t + pad + d]``
    (a smaller padding is the larger one's middle: both repeat the edge frames), so one Gram
    matrix of single frames, summed along its diagonals, replaces a product ``2c + 1`` times
    larger; and the contexts, taken from the smallest up, share that matrix and each other's
    partial sums (``2 max(c) + 1`` diagonals added in all, not the sum of ``2c + 1``).

    Returns
    -------
    dots : np.ndarray [shape=(len(contexts), n_queries, n_frames)], float32
    """
    n = P.shape[1] - 2 * pad
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    # Queries come in runs of consecutive frames (events): per run, the Gram matrix of the
    # padded frames its windows touch, then shifted views of it added up.
    dots = np.empty((len(contexts), queries.size, n), np.float32)
    breaks = np.flatnonzero(np.diff(queries) != 1) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, queries.size]):
        q0, m = int(queries[a]), int(b - a)
        G = P[:, q0 : q0 + m + 2 * pad].T @ P  # (m + 2 pad, n + 2 pad)

        def diagonal(d: int) -> np.ndarray:
            return G[pad + d : pad + d + m, pad + d : pad + d + n]

        c = contexts[order[0]]
        out = dots[order[0], a:b]
        np.copyto(out, diagonal(-c))
        for d in range(-c + 1, c + 1):
            out += diagonal(d)
        for i in order[1:]:
            np.copyto(dots[i, a:b], out)
            out = dots[i, a:b]
            for d in range(c + 1, contexts[i] + 1):
                out += diagonal(-d)
                out += diagonal(d)
            c = contexts[i]
    return dots


def knn_frames(
    F: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    context: int = 0,
    exclude: np.ndarray | None = None,
    min_separation: int = 0,
    max_block_bytes: int = 16 * 2**20,
) -> np.ndarray:
    """Indices of the ``k`` frames nearest to each query frame (squared Euclidean distance).

    With ``context = c`` the kernel compares sequences of ``2c + 1`` frames centred on the
    query and the candidate (exactly the distance between columns of
    ``context_features(F, context=c)``), computed from one Gram matrix of single frames
    summed along its diagonals: ``2c + 1`` times fewer flops than stacking. Distances use
    BLAS (``|a|^2 + |b|^2 - 2 a.b``) on blocks of queries.

    Parameters
    ----------
    F : np.ndarray [shape=(n_features, n_frames)]
        Per-frame features (for example compressed band magnitudes of the NMF music estimate).
    queries : np.ndarray [shape=(n_queries,)], int
        Frames to find neighbours for.
    k : int >= 1
        Neighbours per query.
    context : int >= 0
        Frames on each side compared along with each frame (edges padded by repetition).
    exclude : np.ndarray [shape=(n_frames,)], bool, optional
        Frames never selected as neighbours (e.g. frames with interference). If fewer than
        ``k`` frames remain for a query, excluded frames are used as a last resort.
    min_separation : int >= 0
        A query's own frame and frames within this many frames of it are never selected.
    max_block_bytes : int
        Memory for one block of the distance matrix; blocks of queries are sized from it and
        the number of frames, so memory does not grow with the recording.

    Returns
    -------
    idx : np.ndarray [shape=(n_queries, k)], int64
        Neighbours, nearest first.
    """
    return knn_frames_contexts(F, queries, k=k, contexts=[context], excludes=[exclude],
                               min_separations=[min_separation], max_block_bytes=max_block_bytes)[0]


def knn_frames_contexts(
    F: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    contexts: list[int],
    excludes: list[np.ndarray | None] | None = None,
    min_separations: list[int] | None = None,
    max_block_bytes: int = 16 * 2**20,
    threads: int = 1,
) -> list[np.ndarray]:
    """:func:`knn_frames` with several contexts over the same features, in one pass.

    The same neighbours as one :func:`knn_frames` call per context (up to the order in which
    float32 products are added), at about the cost of the largest context alone: the contexts
    share one Gram matrix and each other's diagonal sums.

    Parameters
    ----------
    F, queries, k, max_block_bytes : see :func:`knn_frames`.
    contexts : list of int >= 0
        One kernel per context (frames on each side).
    excludes : list of (np.ndarray [shape=(n_frames,)], bool, or None), optional
        Each kernel's ``exclude`` (default: none).
    min_separations : list of int >= 0, optional
        Each kernel's ``min_separation`` (default 0).
    threads : int >= 1
        Blocks of queries searched at once, in threads (the same neighbours for any number;
        memory is ``threads`` blocks of ``max_block_bytes``). Worth it where BLAS is held to
        one thread, as it is while cleantake's method runs.

    Returns
    -------
    list of np.ndarray [shape=(n_queries, k)], int64
        Each context's neighbours, nearest first, in the order of ``contexts``.
    """
    contexts = [int(c) for c in contexts]
    n_ctx = len(contexts)
    excludes = [None] * n_ctx if excludes is None else list(excludes)
    min_separations = [0] * n_ctx if min_separations is None else [int(m) for m in min_separations]
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    if n_ctx == 0 or len(excludes) != n_ctx or len(min_separations) != n_ctx:
        raise ParameterError(f"give at least one context, and one exclude and min_separation for each "
                             f"({n_ctx} contexts, {len(excludes)} excludes, {len(min_separations)} separations)")
    if min(contexts) < 0:
        raise ParameterError(f"context must be >= 0 frames, got {min(contexts)}")
    F = np.asarray(F, dtype=np.float32)
    n = F.shape[1]
    queries = np.asarray(queries, dtype=np.int64)
    if queries.size == 0:
        return [np.zeros((0, k), np.int64) for _ in contexts]
    k_eff = min(k, n)
    big = np.float32(np.finfo(np.float32).max / 4)
    penalties = []
    for exclude in excludes:
        penalty = np.zeros(n, np.float32)
        if exclude is not None:
            penalty[np.asarray(exclude, bool)] = big / 2
        penalties.append(penalty)
    pad = max(contexts)
    P, cum = _padded(F, pad)
    # Each context's |b|^2 of every candidate frame, plus its penalty.
    offsets_d = [(cum[pad + c + 1 : pad + c + 1 + n] - cum[pad - c : pad - c + n]).astype(np.float32) + penalty
                 for c, penalty in zip(contexts, penalties)]
    out = [np.empty((queries.size, k_eff), np.int64) for _ in contexts]
    # One block holds every context's dot products and one distance matrix besides.
    chunk = int(np.clip(max_block_bytes // (4 * n * (n_ctx + 2)), 16, 4096))

    def block(s: int) -> None:
        q = queries[s : s + chunk]
        dots = _context_dots(P, q, contexts, pad)
        for i in range(n_ctx):
            D = dots[i]
            D *= -2.0
            D += offsets_d[i][None, :]
            # The query's own frame and its neighbours within min_separation.
            offsets = np.arange(-min_separations[i], min_separations[i] + 1)[None, :]
            cols = np.clip(q[:, None] + offsets, 0, n - 1)
            D[np.arange(q.size)[:, None], cols] = big
            out[i][s : s + chunk] = _k_smallest(D, k_eff) if k_eff < n else np.argsort(D, axis=1)

    starts = range(0, queries.size, chunk)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=min(int(threads), len(starts))) as ex:
            list(ex.map(block, starts))  # list(): raise any error here
    else:
        for s in starts:
            block(s)
    return out


def _k_smallest(D: np.ndarray, k: int, group: int = 32) -> np.ndarray:
    """Column indices of the ``k`` smallest entries of every row of ``D``, smallest first.

    The k smallest entries of a row lie in the ``k`` groups of ``group`` columns with the
    smallest minima (any other group's entries are all beaten by those k minima), so a
    full-row partition is only needed over the group minima, ``group`` times fewer values.
    Group ``g`` holds the columns ``g, g + G, g + 2G, ...`` (``G`` groups), so that its minimum
    is taken across contiguous rows; the last ``n mod group`` columns are always candidates.
    """
    n_rows, n = D.shape
    n_groups = n // group
    if n_groups <= k:
        part = np.argpartition(D, k - 1, axis=1)[:, :k]
    else:
        full = n_groups * group
        mins = D[:, :full].reshape(n_rows, group, n_groups).min(axis=1)
        best = np.argpartition(mins, k - 1, axis=1)[:, :k]  # (rows, k) groups
        cand = (best[:, :, None] + n_groups * np.arange(group)[None, None, :]).reshape(n_rows, -1)
        if full < n:
            cand = np.concatenate([cand, np.broadcast_to(np.arange(full, n), (n_rows, n - full))], axis=1)
        vals = np.take_along_axis(D, cand, axis=1)
        sel = np.argpartition(vals, k - 1, axis=1)[:, :k]
        part = np.take_along_axis(cand, sel, axis=1)
    order = np.take_along_axis(D, part, axis=1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


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
    k = idx.shape[1] if idx.ndim == 2 else 0
    for s in range(0, idx.shape[0], chunk):
        rows = idx[s : s + chunk]
        if k == 4:  # the detector's novelty: a sorting network, equal to np.median bit for bit
            a, b, c, d = (St[rows[:, j]] for j in range(4))
            lo = np.maximum(np.minimum(a, b), np.minimum(c, d))  # the 2nd smallest of the four
            hi = np.minimum(np.maximum(a, b), np.maximum(c, d))  # the 3rd smallest
            out[s : s + chunk] = (lo + hi) / np.float32(2)
        else:
            out[s : s + chunk] = np.median(St[rows], axis=1)
    return np.moveaxis(out, 0, -1)


def mean_over(S: np.ndarray, idx: np.ndarray, *, chunk: int = 256) -> np.ndarray:
    """Mean over selected frames (same shapes as :func:`median_over`).

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_freq, n_frames)]
        Magnitude spectrogram(s).
    idx : np.ndarray [shape=(n_queries, k)], int
        Selected frames for each query.

    Returns
    -------
    M : np.ndarray [shape=(..., n_freq, n_queries)], float32
    """
    S = np.asarray(S, dtype=np.float32)
    idx = np.asarray(idx)
    St = np.ascontiguousarray(np.moveaxis(S, -1, 0))
    out = np.empty((idx.shape[0],) + St.shape[1:], np.float32)
    for s in range(0, idx.shape[0], chunk):
        out[s : s + chunk] = St[idx[s : s + chunk]].mean(axis=1)
    return np.moveaxis(out, 0, -1)


#: Statistics over the selected frames that :func:`statistic_over` knows.
STATISTICS = ("median", "mean")


def statistic_over(S: np.ndarray, idx: np.ndarray, statistic: str = "median") -> np.ndarray:
    """:func:`median_over` or :func:`mean_over`, by name (one of :data:`STATISTICS`)."""
    if statistic == "median":
        return median_over(S, idx)
    if statistic == "mean":
        return mean_over(S, idx)
    raise ParameterError(f"unknown statistic {statistic!r}: use one of {', '.join(STATISTICS)}")


def kam_estimate(
    V: np.ndarray,
    F: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    context: int = 0,
    exclude: np.ndarray | None = None,
    min_separation: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Music estimate at the query frames: median of ``V`` over the k nearest frames in ``F``.

    Parameters
    ----------
    V : np.ndarray [shape=(..., n_freq, n_frames)]
        Magnitudes to take the median of (the mixture's).
    F : np.ndarray [shape=(n_features, n_frames)]
        Per-frame features the neighbours are searched on (the NMF music estimate).
    queries, k, context, exclude, min_separation : see :func:`knn_frames`.

    Returns
    -------
    estimate : np.ndarray [shape=(..., n_freq, n_queries)], float32
    idx : np.ndarray [shape=(n_queries, k)]
    """
    idx = knn_frames(F, queries, k=k, context=context, exclude=exclude, min_separation=min_separation)
    return median_over(V, idx), idx
