import numpy as np
import pytest

from cleantake.errors import ParameterError
from cleantake.nmf import beta_divergence, learn_nmf, semi_nmf


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    W = rng.random((64, 6)).astype(np.float32)
    H = rng.random((6, 400)).astype(np.float32) ** 4
    V = W @ H + 0.01 * rng.random((64, 400)).astype(np.float32)
    return V, rng.random((64, 4)).astype(np.float32)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_objective_never_increases(data, beta):
    V, Wf = data
    res = semi_nmf(V, Wf, n_free=5, beta=beta, n_iter=40, tol=0, track=True)
    obj = np.array(res.objective)
    assert obj.size == 40
    assert np.all(np.diff(obj) <= 1e-5 * obj[0]), np.diff(obj).max()
    assert obj[-1] < obj[0]


def test_fixed_dictionary_not_modified(data):
    V, Wf = data
    before = Wf.copy()
    res = semi_nmf(V, Wf, n_free=5, n_iter=20)
    np.testing.assert_array_equal(Wf, before)
    np.testing.assert_array_equal(res.W[:, :4], before)
    assert res.n_fixed == 4


def test_float32_and_deterministic(data):
    V, Wf = data
    a = semi_nmf(V, Wf, n_free=3, n_iter=15, random_state=7)
    b = semi_nmf(V, Wf, n_free=3, n_iter=15, random_state=7)
    assert a.W.dtype == np.float32 and a.H.dtype == np.float32
    np.testing.assert_array_equal(a.H, b.H)


def test_fixed_templates_explain_their_own_sound():
    # Data made of the fixed templates are explained mostly by them; the same data seen
    # through unrelated fixed templates are explained mostly by the free part.
    rng = np.random.default_rng(0)
    Wf = rng.random((40, 3)).astype(np.float32) ** 3
    Wf /= Wf.sum(0)
    V = Wf @ (rng.random((3, 200)).astype(np.float32) * 10)
    other = rng.random((40, 3)).astype(np.float32) ** 3

    def share(W):
        res = semi_nmf(V, W, n_free=2, n_iter=200)
        return res.fixed_part.sum() / (res.fixed_part.sum() + res.free_part.sum())

    own, foreign = share(Wf), share(other)
    assert own > 0.6 and foreign < 0.4 and own > 2 * foreign


def test_objective_matches_definition():
    V = np.array([[1.0, 2.0]], np.float32)
    L = np.array([[2.0, 2.0]], np.float32)
    assert beta_divergence(V, L, 1) == pytest.approx(1 * np.log(0.5) - 1 + 2, rel=1e-6)
    assert beta_divergence(V, L, 2) == pytest.approx(0.5, rel=1e-6)


def test_bad_input_refused():
    with pytest.raises(ParameterError, match="non-negative"):
        semi_nmf(-np.ones((3, 3)), None, n_free=1)
    with pytest.raises(ParameterError, match="frequency rows"):
        semi_nmf(np.ones((3, 3)), np.ones((4, 2)), n_free=1)
    with pytest.raises(ParameterError, match="beta"):
        semi_nmf(np.ones((3, 3)), None, n_free=1, beta=3)


def test_learn_nmf_unit_sum_columns(data):
    W = learn_nmf(data[0], 4, n_iter=60)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-4)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_threads_do_not_change_the_result(data, beta):
    """Frames are split in fixed blocks; threads only change who computes which block."""
    V, Wf = data
    one = semi_nmf(V, Wf, n_free=5, beta=beta, n_iter=25, block_frames=64, threads=1, track=True)
    three = semi_nmf(V, Wf, n_free=5, beta=beta, n_iter=25, block_frames=64, threads=3, track=True)
    np.testing.assert_array_equal(one.H, three.H)
    np.testing.assert_array_equal(one.W, three.W)
    assert one.objective == three.objective
    # Blocks change the sums' rounding only.
    whole = semi_nmf(V, Wf, n_free=5, beta=beta, n_iter=25, block_frames=10_000)
    np.testing.assert_allclose(whole.W @ whole.H, one.W @ one.H, rtol=1e-3, atol=1e-5)


def test_objective_recorded_per_iteration_matches_the_model(data):
    V, Wf = data
    res = semi_nmf(V, Wf, n_free=5, n_iter=7, tol=0, track=True, block_frames=100)
    assert len(res.objective) == 7 and res.n_iter == 7
    assert res.objective[-1] == pytest.approx(beta_divergence(V, res.W @ res.H, 1.0), rel=1e-5)


def test_starting_activations_are_where_the_fit_starts(data):
    """``H_init`` is the start: from a fit's own templates and activations the objective starts
    at that fit's level (not at a random start's) and never increases from there."""
    V, Wf = data
    first = semi_nmf(V, Wf, n_free=5, n_iter=60, tol=0)
    start = beta_divergence(V, first.W @ first.H, 1.0)
    again = semi_nmf(V, Wf, n_free=5, n_iter=10, tol=0, W_free_init=first.W[:, 4:], H_init=first.H, track=True)
    cold = semi_nmf(V, Wf, n_free=5, n_iter=10, tol=0, W_free_init=first.W[:, 4:], track=True)
    obj = np.array(again.objective)
    assert obj[0] <= start * (1 + 1e-5) and obj[0] < cold.objective[0]
    assert np.all(np.diff(obj) <= 1e-5 * obj[0])
    with pytest.raises(ParameterError, match="starting activations must have shape"):
        semi_nmf(V, Wf, n_free=5, n_iter=5, H_init=first.H[:, :10])
    with pytest.raises(ParameterError, match="finite and non-negative"):
        semi_nmf(V, Wf, n_free=5, n_iter=5, H_init=-first.H)
