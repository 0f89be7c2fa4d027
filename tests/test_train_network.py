"""scripts/train_network.py: the augmentation of the network's input planes while training (the
training itself takes minutes and is measured in benchmarks/DETECTOR.md, not here)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_script

from cleantake.detector import NETWORK_BANDS


def _script():
    return load_script("scripts/train_network.py")


def _batch(seed: int = 0, n: int = 64, frames: int = 50) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2, NETWORK_BANDS, frames)).astype(np.float32)


def test_eq_changes_only_the_level_plane_by_a_smooth_curve_the_same_in_every_frame():
    tn = _script()
    X = _batch()
    Y = tn.augment_planes(X.copy(), np.random.default_rng(1), ("eq",))
    np.testing.assert_array_equal(Y[:, 0], X[:, 0])  # plane 0 subtracts each band's median: untouched
    d = Y[:, 1] - X[:, 1]
    np.testing.assert_allclose(d, d[:, :, :1].repeat(d.shape[2], axis=2), atol=1e-5)  # constant over frames
    curve = d[:, :, 0]
    assert np.abs(curve).max() <= tn.EQ_TILT + tn.EQ_BUMP + 1e-5
    assert np.ptp(curve, axis=1).mean() > 0.1  # it does change the balance
    # smooth: neighbouring bands move together far more than the curve's range
    assert np.abs(np.diff(curve, axis=1)).max() < 0.25 * np.ptp(curve, axis=1).max()


def test_mask_sets_a_few_adjacent_bands_to_zero_in_about_half_the_crops():
    tn = _script()
    X = _batch(n=400)
    Y = tn.augment_planes(X.copy(), np.random.default_rng(2), ("mask",))
    masked = 0
    for x, y in zip(X, Y):
        bands = np.flatnonzero(np.any(y != x, axis=(0, 2)))
        if bands.size == 0:
            continue
        masked += 1
        assert 1 <= bands.size <= tn.MASK_BANDS and np.all(np.diff(bands) == 1)
        assert np.all(y[:, bands] == 0.0)
    assert 0.4 < masked / len(X) < 0.6


def test_augmentation_is_deterministic_for_its_generator_and_none_leaves_the_batch():
    tn = _script()
    X = _batch()
    a = tn.augment_planes(X.copy(), np.random.default_rng(3))
    b = tn.augment_planes(X.copy(), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, X)
    np.testing.assert_array_equal(tn.augment_planes(X.copy(), np.random.default_rng(3), ()), X)


def test_an_unknown_augmentation_is_refused_before_any_data_is_made(tmp_path, capsys):
    tn = _script()
    with pytest.raises(SystemExit, match="unknown.*allowed: eq, mask"):
        tn.main(["--augment", "eq,flip", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("bad", ["", "1,2,x", "1,0,4", "-1"])
def test_dilations_that_are_not_positive_whole_numbers_are_refused_before_any_data_is_made(tmp_path, bad):
    tn = _script()
    with pytest.raises(SystemExit, match="--dilations: give positive whole numbers"):
        tn.main(["--dilations", bad, "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert not any(tmp_path.iterdir())


def test_the_default_output_folder_names_every_choice_so_variants_never_share_one():
    tn = _script()
    names = {tn.default_out(a, s, w, d).name for a, s, w, d in [
        (("mask",), 0, (), tn.DILATIONS), ((), 0, (), tn.DILATIONS), ((), 1, (), tn.DILATIONS),
        ((), 0, ("cough",), tn.DILATIONS), ((), 0, (), (1, 2, 4, 8, 16, 32)), ((), 1, (), (1, 2, 4, 8, 16, 32))]}
    assert names == {"networks_mask", "networks", "networks_s1", "networks_without_cough",
                     "networks_d1-2-4-8-16-32", "networks_s1_d1-2-4-8-16-32"}


def test_a_network_saved_over_a_placeholder_link_replaces_the_link_not_the_linked_file(tmp_path):
    from cleantake.detector import ConvNet, network_from_arrays

    tn = _script()
    rng = np.random.default_rng(5)
    conv = tuple((rng.standard_normal((c, ci, 3, 3)).astype(np.float32), np.zeros(c, np.float32))
                 for ci, c in zip((2,) + tn.WIDTHS[:-1], tn.WIDTHS))
    c_in = tn.WIDTHS[-1] * (NETWORK_BANDS >> len(tn.WIDTHS))
    temporal = ((rng.standard_normal((3, c_in, 5)).astype(np.float32), np.zeros(3, np.float32), 1),)
    net = ConvNet(conv, temporal, (np.ones(3, np.float32), 0.0))
    other = tmp_path / "other.npz"
    other.write_bytes(b"another directory's network")
    link = tmp_path / "final.npz"
    link.symlink_to(other)
    tn.save_network(net, link)
    assert other.read_bytes() == b"another directory's network"
    assert not link.is_symlink()
    with np.load(link) as z:
        back = network_from_arrays({n: z[n] for n in z.files})
    np.testing.assert_array_equal(back.temporal[0][0], net.temporal[0][0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.npz", "other.npz"]


def test_all_frames_planes_differ_from_the_library_s_only_where_frames_are_digitally_silent():
    """--planes all rebuilds the networks trained before session 44: the same planes as the
    library's wherever every frame sounds; with digital silence they keep its frames in the
    mean and medians (so the music's planes shift), the library's do not."""
    from cleantake.detector import network_planes

    tn = _script()
    rng = np.random.default_rng(3)
    bands = rng.uniform(0.5, 2.0, (NETWORK_BANDS, 120))
    np.testing.assert_allclose(tn.planes_of_all_frames(bands), network_planes(bands), rtol=0, atol=1e-6)
    silent = np.concatenate([np.zeros((NETWORK_BANDS, 60)), bands], axis=1)
    old, new = tn.planes_of_all_frames(silent), network_planes(silent)
    np.testing.assert_allclose(new[:, :, 60:], network_planes(bands), rtol=0, atol=1e-5)  # silence ignored
    assert (old[:, :, 60:] - new[:, :, 60:]).min() > 0.1  # silence pulls every median down: music looks louder
    assert tn.PLANES["sounding"] is network_planes


def test_an_unknown_class_to_leave_out_is_refused_before_any_data_is_made(tmp_path):
    tn = _script()
    with pytest.raises(SystemExit, match="--without: unknown.*allowed: cough"):
        tn.main(["--without", "cough,kazoo", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert not any(tmp_path.iterdir())


def test_the_classes_of_the_training_mixtures_are_the_recipe_s_and_are_read_back_from_the_cache(tmp_path,
                                                                                                monkeypatch):
    """--without drops a training mixture by the classes its recipe drew: built once, then read
    back from the cache rather than built again."""
    tn = _script()
    calls = []

    def recipe(corpus, k, i, seed):
        calls.append((k, i, seed))
        return None, [], {"classes": ["cough", "door"][: i % 3]}

    monkeypatch.setattr(tn, "training_recipe", recipe)
    first = tn.recipe_classes(tmp_path, tmp_path / "cache", 2, 5, 1, jobs=1)
    assert first == [[], ["cough"], ["cough", "door"], [], ["cough"]]
    assert calls == [(2, i, tn.RECIPE_SEED + 1) for i in range(5)]
    monkeypatch.setattr(tn, "training_recipe", None)  # a second call must not build anything
    assert tn.recipe_classes(tmp_path, tmp_path / "cache", 2, 5, 1, jobs=1) == first
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["classes_f2_s1_n5.json"]
