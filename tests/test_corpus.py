"""The cross-validation folds: grouped by source, disjoint, deterministic, by the corpus's level rule."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cleantake import corpus as C
from cleantake.errors import ParameterError
from cleantake.corpus import build_mixture

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not (CORPUS / "metadata.csv").is_file(), reason=f"corpus absent at {CORPUS}")


def _paths(recipes):
    return {p for r in recipes for p in [r["music"]] + [e["path"] for e in r["events"]]}


def test_every_group_lies_in_one_fold():
    folds = C.assign_folds(CORPUS)
    by_group = {}
    for f in C.corpus_files(CORPUS):
        by_group.setdefault((f.kind == "interference", f.group), set()).add(folds[f.path])
    assert all(len(v) == 1 for v in by_group.values())
    # every fold has music and interference, and the five cough voices are spread over the folds
    assert set(folds.values()) == set(range(5))
    coughs = [folds[f.path] for f in C.corpus_files(CORPUS) if f.label == "cough"]
    assert len(set(coughs)) == len(coughs) == 5


def test_test_and_train_parts_share_no_file_and_no_group():
    files = {f.path: f for f in C.corpus_files(CORPUS)}
    test = C.cv_recipes(CORPUS, 1, sets=("stems", "mixes", "clean"))
    train = C.cv_recipes(CORPUS, 1, part="train", sets=("stems", "clean"), levels={"stems": (0,)})
    assert test and train
    assert not _paths(test) & _paths(train)
    # (a package may give both interference and music: flare-game's screams and its soundtrack
    # are different sources, so groups are compared within interference and within music)
    def groups(recipes):
        return {(files[p].kind == "interference", files[p].group) for p in _paths(recipes)}

    assert not groups(test) & groups(train)
    # ids say which part a recipe is from
    assert all(r["id"].endswith("__f1t") for r in test) and all(r["id"].endswith("__f1train") for r in train)
    assert len({r["id"] for r in test + train}) == len(test) + len(train)


def test_recipes_are_deterministic_and_seeded():
    a = C.cv_recipes(CORPUS, 2, sets=("stems",))
    assert a == C.cv_recipes(CORPUS, 2, sets=("stems",))
    assert a != C.cv_recipes(CORPUS, 2, sets=("stems",), seed=1)


def test_recipes_follow_the_corpus_rules():
    recipes = C.cv_recipes(CORPUS, 0, sets=("mixes",), levels={"mixes": (-9,)})
    for r in recipes[:6]:
        y, m, d, sr = build_mixture(CORPUS, r)
        spans = []
        for ev in r["events"]:
            n0 = int(round(ev["onset_s"] * sr))
            L = sf.info(str(CORPUS / ev["path"])).frames
            assert n0 >= sr and n0 + L <= m.shape[0] - sr  # >= 1 s from both edges
            level = 10 * np.log10(np.sum(d[n0:n0 + L] ** 2) / np.sum(m[n0:n0 + L] ** 2))
            assert level == pytest.approx(-9, abs=0.01)
            assert len(ev["pan"]) == 2
            spans.append((n0, n0 + L))
        spans.sort()
        assert all(b1 + 0.25 * sr <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))


def test_bad_arguments_are_refused():
    with pytest.raises(ParameterError, match="fold"):
        C.cv_recipes(CORPUS, 5)
    with pytest.raises(ParameterError, match="part"):
        C.cv_recipes(CORPUS, 0, part="dev")
    with pytest.raises(ParameterError, match="n_folds"):
        C.assign_folds(CORPUS, 1)


def test_hall_keeps_the_energy_and_pan_and_carries_a_tail():
    rng = np.random.default_rng(0)
    sr = 44100
    dry = np.zeros((3 * sr, 2))
    dry[sr // 2: sr // 2 + sr // 10] = rng.standard_normal((sr // 10, 2)) * [1.0, 0.5]  # 0.1 s, panned left
    wet = C.in_hall(dry, sr, 1.8, -6.0, seed=1)
    assert wet.shape == dry.shape
    energy = lambda a: np.sum(a**2, axis=0)  # noqa: E731
    # the event's energy and its pan stay those of the recipe (its tail is not cut here)
    np.testing.assert_allclose(energy(wet), energy(dry), rtol=0.1)
    # most of it now lies after the dry span (direct sound 20 %, the tail the rest)
    after = energy(wet[sr // 2 + sr // 10:]) / energy(wet)
    assert np.all(after > 0.4) and np.all(after < 0.9)
    # the tails of the two channels are decorrelated; the same seed gives the same hall
    tail = wet[sr:]
    assert abs(np.corrcoef(tail[:, 0], tail[:, 1])[0, 1]) < 0.2
    np.testing.assert_array_equal(wet, C.in_hall(dry, sr, 1.8, -6.0, seed=1))
    with pytest.raises(ParameterError, match="rt60"):
        C.in_hall(dry, sr, 0.0, -6.0, seed=1)
