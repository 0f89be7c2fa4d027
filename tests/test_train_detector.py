"""scripts/train_detector.py: its options and where each seed's training mixtures go (the fits
themselves take minutes and are measured in benchmarks/DETECTOR.md, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(not (CORPUS / "metadata.csv").is_file(), reason=f"corpus absent at {CORPUS}")]


def _script():
    return load_script("scripts/train_detector.py")


def test_each_seed_trains_on_its_own_mixtures_and_all_share_the_test_recordings(tmp_path, monkeypatch):
    td = _script()
    # (the held-out recipes of a fold take a minute to list; two stand for them)
    monkeypatch.setattr(td, "test_subset", lambda corpus, k, every: [{"id": f"a{k}"}, {"id": f"b{k}"}])
    one = td.make_jobs(CORPUS, tmp_path, 2, 3, 40, 0)
    two = td.make_jobs(CORPUS, tmp_path, 2, 3, 40, [0, 2])
    test = [j for j in one if j["kind"] == "test"]
    assert test and test == [j for j in two if j["kind"] == "test"]
    train1 = [j for j in one if j["kind"] == "train"]
    assert train1 == [j for j in two if j["kind"] == "train" and j["seed"] == 0]  # seed 0 as before
    assert all(Path(j["out"]).is_relative_to(tmp_path / "train") for j in train1)
    train2 = [j for j in two if j["kind"] == "train" and j["seed"] == 2]
    assert len(train2) == len(train1) == 5 * 2 + 3
    assert all(Path(j["out"]).is_relative_to(tmp_path / "seed2" / "train") for j in train2)
    # the same recipes (fold, index), drawn with the other seed
    assert [(j["fold"], j["i"]) for j in train2] == [(j["fold"], j["i"]) for j in train1]


def test_a_loud_seed_has_its_own_mixtures_and_only_their_levels_differ(tmp_path, monkeypatch):
    """``--loud-seed``: a seed's augmented mixtures with every event at +6 to +18 dB (a cough into
    a quiet passage) go to a cache of their own; the same draw at the usual levels differs from
    them in its events' gains alone."""
    import numpy as np

    td = _script()
    monkeypatch.setattr(td, "test_subset", lambda corpus, k, every: [{"id": f"a{k}"}])
    jobs = td.make_jobs(CORPUS, tmp_path, 1, 1, 40, [0, 4], loud_seeds=(4,))
    loud = [j for j in jobs if j["kind"] == "train" and j["seed"] == 4]
    assert loud and all(j["levels"] == list(td.LOUD_LEVELS) for j in loud)
    assert all(Path(j["out"]).is_relative_to(tmp_path / "seed4_loud" / "train") for j in loud)
    assert all("levels" not in j for j in jobs if j["kind"] == "train" and j["seed"] == 0)
    checked = 0
    for i in range(6):
        mix_l, ev_l, meta_l = td.training_recipe(CORPUS, 1, i, 4, levels=td.LOUD_LEVELS)
        mix_p, ev_p, meta_p = td.training_recipe(CORPUS, 1, i, 4)
        assert meta_l == meta_p and [(a, c) for a, _, c in ev_l] == [(a, c) for a, _, c in ev_p]
        music = mix_p - sum(np.pad(e, ((0, 0), (a, mix_p.shape[1] - a - e.shape[1]))) for a, e, _ in ev_p) \
            if ev_p else mix_p
        for (a, el, _), (_, ep, _) in zip(ev_l, ev_p):
            span = music[:, a:a + ep.shape[1]]
            level = 10 * np.log10(np.sum(el**2) / np.sum(span**2))
            assert td.LOUD_LEVELS[0] - 1e-6 <= level <= td.LOUD_LEVELS[1] + 1e-6
            ratio = el / np.where(ep == 0, 1.0, ep)
            assert np.allclose(ratio[ep != 0], ratio[ep != 0].flat[0])  # the same sound, another gain
            checked += 1
    assert checked >= 3


def test_calibration_recordings_are_the_held_out_ones_not_already_tested(tmp_path, monkeypatch):
    td = _script()
    # every ``every``-th of four held-out recipes of a fold stands for test_subset
    monkeypatch.setattr(td, "test_subset", lambda corpus, k, every: [{"id": f"r{k}_{i}"} for i in range(4)][::every])
    plain = td.make_jobs(CORPUS, tmp_path, 1, 1, 2, 0)
    more = td.make_jobs(CORPUS, tmp_path, 1, 1, 2, 0, calib_every=1)
    assert not [j for j in plain if j["kind"] == "calib"]
    assert [j for j in more if j["kind"] != "calib"] == plain  # the rest unchanged: nothing else trains on them
    for k in range(5):
        test = {j["entry"]["id"] for j in more if j["kind"] == "test" and j["fold"] == k}
        calib = {j["entry"]["id"] for j in more if j["kind"] == "calib" and j["fold"] == k}
        assert test == {f"r{k}_0", f"r{k}_2"} and calib == {f"r{k}_1", f"r{k}_3"}
    # analysed as the fold's held-out recordings are, into the same place
    assert {Path(j["out"]).parent for j in more if j["kind"] == "calib"} == \
        {Path(j["out"]).parent for j in more if j["kind"] == "test"}


@pytest.mark.parametrize("argv,match", [
    (["--seed", "0,x"], "whole numbers separated by commas"),
    (["--seed", "1,1"], "distinct seeds"),
    (["--seed", "-1"], "distinct seeds of 0 or more"),
    (["--seed", "0,1", "--combine", "average", "--models", "hgb,mlp"], "not the MLP"),
    (["--seed", "0,1,2", "--combine", "average", "--pool-size", "2", "--models", "hgb"], "divides the 3 seeds"),
    (["--seed", "0,1", "--pool-size", "0", "--combine", "average", "--models", "hgb"], "1 or more"),
    (["--seed", "0,1", "--pool-size", "2", "--models", "hgb"], "give --combine average"),
    (["--calibration", "by-kind"], "needs --stereo-network"),
    (["--calib-every", "-1"], "0 for none"),
    (["--seed", "0,4", "--loud-seed", "4"], "none of them in --seed"),
    (["--loud-seed", "5,x"], "whole numbers separated by commas"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, argv, match):
    td = _script()
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit) as exc:
        td.main(argv + ["--corpus", str(CORPUS), "--cache", str(cache), "--stage", "fit",
                        "--fold-models", str(tmp_path / "folds"), "--out", str(tmp_path / "det.npz")])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
    assert not cache.exists() and not (tmp_path / "folds").exists() and not (tmp_path / "det.npz").exists()


def test_average_of_pools_pools_consecutive_seeds_and_averages_the_groups(monkeypatch):
    import argparse

    import cleantake.detector

    td = _script()
    fits = []
    monkeypatch.setattr(td, "fit_models",
                        lambda items, kind, seed, cls, neg: fits.append((items, seed, neg)) or (seed,))
    monkeypatch.setattr(td, "_model", lambda *parts: ("model", parts))
    monkeypatch.setattr(cleantake.detector, "average_models", lambda models: ("average", models))
    by_seed = {s: [f"mix{s}"] for s in range(6)}
    args = argparse.Namespace(combine="average", pool_size=3, class_model="logreg")
    out = td.fit_detector(by_seed, ["shared"], "hgb", args)
    assert [f[0] for f in fits] == [["mix0", "mix1", "mix2", "shared"], ["mix3", "mix4", "mix5", "shared"]]
    assert [f[1] for f in fits] == [0, 3]                       # each pool drawn with its first seed
    assert [f[2] for f in fits] == [3 * td.MAX_NEGATIVES] * 2   # as many negatives per seed as one fit
    assert out == ("average", [("model", (0,)), ("model", (3,))])
    fits.clear()
    pooled = td.fit_detector(by_seed, ["shared"], "hgb", argparse.Namespace(combine="pool", class_model="logreg"))
    assert pooled == ("model", (0,)) and len(fits) == 1 and len(fits[0][0]) == 7


def test_a_matched_threshold_finds_the_most_within_the_references_false_alarms():
    td = _script()

    def row(s, conf, real):
        return {"set": s, "conf": conf, "real": real}

    # the reference at 0.5: one false event over four recordings, one of two clean touched
    reference = [row("clean", [0.6], [False]), row("clean", [], []), row("stems", [0.9, 0.4], [True, False]),
                 row("mixes", [0.55], [True])]
    assert td.false_alarms(reference, 0.5) == (0.25, 0.5)
    # the candidate's false events sit at 0.62 and 0.3: from 0.31 up one is left (0.25 per recording)
    rows = [row("clean", [0.62], [False]), row("clean", [0.3], [False]), row("stems", [0.7, 0.2], [True, True]),
            row("mixes", [0.35], [True])]
    t = td.matched_threshold(rows, reference, 0.5)
    assert t == 0.31
    f, c = td.false_alarms(rows, t)
    assert f <= 0.25 and c <= 0.5
    assert td.false_alarms(rows, t - 0.01)[0] > 0.25
