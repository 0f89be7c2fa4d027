"""The KAM kernels: k nearest frames with temporal context, and the median over them."""

import numpy as np
import pytest

from cleantake import kam
from cleantake.errors import ParameterError


def _exact_distances(F, q):
    F = F.astype(np.float64)
    return ((F[:, q][:, :, None] - F[:, None, :]) ** 2).sum(axis=0)  # (n_queries, n_frames)


@pytest.mark.parametrize("context", [0, 1, 4])
def test_knn_with_context_finds_the_nearest_stacked_frames(context):
    """Neighbours found without stacking are the nearest columns of context_features: the
    k-th returned distance equals the true k-th smallest (exact float64 distances)."""
    rng = np.random.default_rng(context)
    A = rng.gamma(1.0, 1.0, (12, 700)).astype(np.float32)
    q = np.r_[0:2, 100:160, 400, 650:700]
    exclude = np.zeros(700, bool)
    exclude[90:170] = True
    k, sep = 5, 3
    idx = kam.knn_frames(A, q, k=k, context=context, exclude=exclude, min_separation=sep)
    assert idx.shape == (q.size, k)
    D = _exact_distances(kam.context_features(A, context=context), q)
    banned = exclude[None, :] | (np.abs(np.arange(700)[None, :] - q[:, None]) <= sep)
    D_ok = np.where(banned, np.inf, D)
    for i in range(q.size):
        assert not banned[i, idx[i]].any()
        got = D[i, idx[i]]
        assert np.all(np.diff(got) >= -1e-6 * got.max())  # nearest first
        np.testing.assert_allclose(got, np.sort(D_ok[i])[:k], rtol=1e-4)


def test_knn_small_blocks_give_the_same_neighbours():
    rng = np.random.default_rng(1)
    A = rng.gamma(1.0, 1.0, (8, 500)).astype(np.float32)
    q = np.arange(0, 500, 3)
    a = kam.knn_frames(A, q, k=4, context=2)
    b = kam.knn_frames(A, q, k=4, context=2, max_block_bytes=1)  # blocks of 16 queries
    np.testing.assert_array_equal(a, b)


def test_several_contexts_in_one_search_find_each_contexts_nearest():
    """knn_frames_contexts: every context (given out of order, one twice) with its own exclusion
    and separation gets the nearest columns of its own context_features, as knn_frames would."""
    rng = np.random.default_rng(7)
    A = rng.gamma(1.0, 1.0, (10, 600)).astype(np.float32)
    q = np.r_[0:3, 200:260, 597:600]
    contexts = [4, 0, 2, 2, 7]
    excludes = [None, np.arange(600) % 5 == 0, np.zeros(600, bool), np.arange(600) >= 500, None]
    seps = [4, 0, 6, 2, 9]
    got = kam.knn_frames_contexts(A, q, k=3, contexts=contexts, excludes=excludes, min_separations=seps,
                                  max_block_bytes=1)  # blocks of 16 queries
    assert len(got) == len(contexts)
    for c, ex, sep, idx in zip(contexts, excludes, seps, got):
        D = _exact_distances(kam.context_features(A, context=c), q)
        banned = np.abs(np.arange(600)[None, :] - q[:, None]) <= sep
        if ex is not None:
            banned |= ex[None, :]
        D_ok = np.where(banned, np.inf, D)
        for i in range(q.size):
            assert not banned[i, idx[i]].any()
            np.testing.assert_allclose(D[i, idx[i]], np.sort(D_ok[i])[:3], rtol=1e-4)
        np.testing.assert_array_equal(idx, kam.knn_frames(A, q, k=3, context=c, exclude=ex, min_separation=sep))
    threaded = kam.knn_frames_contexts(A, q, k=3, contexts=contexts, excludes=excludes, min_separations=seps,
                                       max_block_bytes=1, threads=3)  # 5 blocks over 3 threads
    for a, b in zip(got, threaded):
        np.testing.assert_array_equal(a, b)


def test_several_contexts_refuse_mismatched_lists():
    A = np.ones((3, 50), np.float32)
    with pytest.raises(ParameterError, match="one exclude and min_separation for each"):
        kam.knn_frames_contexts(A, np.array([1]), k=1, contexts=[1, 2], min_separations=[1])
    with pytest.raises(ParameterError, match="context must be"):
        kam.knn_frames_contexts(A, np.array([1]), k=1, contexts=[1, -1])


def test_k_smallest_matches_sorting():
    rng = np.random.default_rng(2)
    for n in (5, 31, 32, 33, 1000):
        D = rng.standard_normal((7, n)).astype(np.float32)
        for k in (1, 3, 5):
            got = kam._k_smallest(D, k)
            np.testing.assert_array_equal(got, np.argsort(D, axis=1, kind="stable")[:, :k])


def test_excluded_frames_are_a_last_resort():
    A = np.arange(20, dtype=np.float32)[None, :]
    exclude = np.ones(20, bool)
    exclude[[3, 15]] = False
    idx = kam.knn_frames(A, np.array([10]), k=4, exclude=exclude)
    assert set(idx[0, :2]) == {3, 15}  # the allowed frames first, however far
    assert 10 not in idx[0]  # the query itself never


def test_median_over_neighbours():
    S = np.stack([np.arange(10.0), 10 - np.arange(10.0)])  # (2 bins, 10 frames)
    idx = np.array([[1, 2, 9], [0, 0, 5]])
    M = kam.median_over(S, idx)
    np.testing.assert_array_equal(M, [[2, 0], [8, 10]])


def test_bad_parameters_refused():
    A = np.ones((3, 10), np.float32)
    with pytest.raises(ParameterError, match="k must be"):
        kam.knn_frames(A, np.array([1]), k=0)
    with pytest.raises(ParameterError, match="context"):
        kam.knn_frames(A, np.array([1]), k=1, context=-1)


@pytest.mark.parametrize("k", [1, 3, 4, 5])
def test_median_over_is_numpys_median_bit_for_bit(k):
    rng = np.random.default_rng(k)
    S = rng.gamma(0.5, size=(2, 65, 300)).astype(np.float32)
    S[..., 7] = S[..., 8]  # tied values
    idx = rng.integers(0, 300, (300, k))
    idx[:, -1] = idx[:, 0]  # a frame selected twice
    want = np.moveaxis(np.median(np.moveaxis(S, -1, 0)[idx], axis=1), 0, -1)
    np.testing.assert_array_equal(kam.median_over(S, idx, chunk=64), want)
