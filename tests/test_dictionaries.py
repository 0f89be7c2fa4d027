import json

import numpy as np
import pytest

from cleantake.dictionaries import (
    PRESETS,
    Dictionary,
    combine,
    learn_dictionary,
    load_dictionary,
    resolve_dictionary,
    save_dictionary,
)
from cleantake.errors import DictionaryError
from cleantake.spectral import StftConfig


def _toy(sr=16000, name="knock"):
    rng = np.random.default_rng(0)
    clicks = [rng.standard_normal(sr // 4) * np.exp(-np.arange(sr // 4) / 300) for _ in range(3)]
    return learn_dictionary(clicks, sr, name=name, rank=4, n_iter=50)


def test_roundtrip(tmp_path):
    d = _toy()
    p = save_dictionary(d, tmp_path / "knock.npz")
    e = load_dictionary(p)
    np.testing.assert_array_equal(e.W, d.W)
    assert e.labels == ["knock"] * 4 and e.name == "knock" and e.stft == d.stft


def test_version_mismatch_refused(tmp_path):
    d = _toy()
    meta = d.metadata()
    meta["version"] = 99
    p = tmp_path / "v99.npz"
    np.savez(p, W=d.W, meta=np.array(json.dumps(meta)))
    with pytest.raises(DictionaryError, match="version 99"):
        load_dictionary(p)


def test_wrong_kind_refused(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, something=np.zeros(3))
    with pytest.raises(DictionaryError, match="not a cleantake dictionary"):
        load_dictionary(p)
    q = tmp_path / "text.npz"
    q.write_text("hello")
    with pytest.raises(DictionaryError, match="not a cleantake dictionary"):
        load_dictionary(q)


def test_shape_mismatch_refused(tmp_path):
    d = _toy()
    p = tmp_path / "bad.npz"
    np.savez(p, W=d.W[:-3], meta=np.array(json.dumps(d.metadata())))
    with pytest.raises(DictionaryError, match="do not match"):
        load_dictionary(p)


def test_unknown_name_lists_presets():
    with pytest.raises(DictionaryError) as info:
        resolve_dictionary("sneeze")
    for name in PRESETS:
        assert name in str(info.value)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name):
    d = resolve_dictionary(name)
    assert d.rank >= 1 and np.all(d.W >= 0)
    if name == "any":
        assert set(d.classes) == {"cough", "door", "creak", "scream", "drop"}
    else:
        assert d.classes == [name]


def test_templates_follow_other_sample_rates():
    d = _toy(sr=16000)
    for sr in (8000, 44100):
        W = d.templates_for(StftConfig(sr))
        assert W.shape == (StftConfig(sr).n_freq, d.rank)
        np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-4)
    # Above the dictionary's Nyquist (8 kHz) nothing is known: zero weight.
    W = d.templates_for(StftConfig(44100))
    assert np.all(W[StftConfig(44100).freqs() > 8100] == 0)


def test_combine_keeps_labels():
    a, b = _toy(name="a"), _toy(name="b")
    c = combine([a, b], "ab")
    assert c.labels == ["a"] * 4 + ["b"] * 4 and isinstance(c, Dictionary)
