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


@pytest.mark.parametrize("argv,match", [
    (["--seed", "0,x"], "whole numbers separated by commas"),
    (["--seed", "1,1"], "distinct seeds"),
    (["--seed", "-1"], "distinct seeds of 0 or more"),
    (["--seed", "0,1", "--combine", "average", "--models", "hgb,mlp"], "not the MLP"),
])
def test_bad_seeds_are_refused_before_anything_is_written(tmp_path, capsys, argv, match):
    td = _script()
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit) as exc:
        td.main(argv + ["--corpus", str(CORPUS), "--cache", str(cache), "--stage", "fit",
                        "--fold-models", str(tmp_path / "folds"), "--out", str(tmp_path / "det.npz")])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
    assert not cache.exists() and not (tmp_path / "folds").exists() and not (tmp_path / "det.npz").exists()
