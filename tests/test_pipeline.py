"""Properties of the method end to end, and its outcome on real corpus mixtures."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import organ

import cleantake
from cleantake.detector import CLASSES
from cleantake.errors import ParameterError

SR = 22050
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _music(seconds=6.0, sr=SR, seed=0):
    """Repeating organ-like notes (:func:`conftest.organ`): every frame has similar frames elsewhere."""
    return organ(seconds, sr, seed)


def _burst(sr=SR, seed=1, length=0.3):
    rng = np.random.default_rng(seed)
    n = int(length * sr)
    return rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * sr)) * 0.3


def _mixture():
    x = _music()
    b = _burst()
    n0 = int(3.1 * SR)
    y = x.copy()
    y[n0 : n0 + b.size] += b
    return y, x, (3.1, 3.1 + b.size / SR)


@pytest.fixture(scope="module")
def mixed():
    return _mixture()


@pytest.fixture(scope="module")
def result(mixed):
    return cleantake.clean(mixed[0], SR, interference="any")


def test_burst_located(result, mixed):
    _, _, (t0, t1) = mixed
    assert any(ev.start_s < t1 and ev.end_s > t0 for ev in result.events)
    for ev in result.events:
        assert ev.label in CLASSES + ("unknown",)  # the detector's class, or unknown
        assert 0 <= ev.start_s < ev.end_s <= 6.0 and 0 <= ev.confidence <= 1


@pytest.mark.parametrize("name", ["cough", "door", "creak", "scream", "drop"])
def test_single_class_dictionary_labels_its_events(name):
    from cleantake.locate import event_label

    assert event_label(cleantake.Cleaner(name).dictionary) == name
    assert event_label(cleantake.Cleaner("any").dictionary) == "interference"


def test_cleaned_plus_removed_is_input(result, mixed):
    np.testing.assert_allclose(result.cleaned + result.removed, mixed[0], atol=1e-12)
    assert result.cleaned.shape == mixed[0].shape


def test_outside_events_output_equals_input(result, mixed):
    y = mixed[0]
    keep = np.ones(y.size, bool)
    # An event changes samples within half its longest repair window (plus a hop and the ramp).
    margin = cleantake.Settings().reach_s(SR)
    assert margin < 0.2
    for ev in result.events:
        keep[max(0, int((ev.start_s - margin) * SR)) : int((ev.end_s + margin) * SR)] = False
    assert keep.sum() > 0.5 * y.size
    np.testing.assert_array_equal(result.cleaned[keep], y[keep])


def test_removal_reduces_interference(result, mixed):
    y, x, (t0, t1) = mixed
    a, b = int(t0 * SR), int(t1 * SR)
    err_before = np.sum((y[a:b] - x[a:b]) ** 2)
    err_after = np.sum((result.cleaned[a:b] - x[a:b]) ** 2)
    assert err_after < 0.5 * err_before


def test_stereo_shares_one_mask(mixed):
    y = mixed[0]
    st = np.stack([y, 0.5 * y], axis=1)
    res = cleantake.clean(st, SR)
    assert res.cleaned.shape == st.shape
    # One mask for both channels: the removed parts are in the channels' own ratio.
    np.testing.assert_allclose(res.removed[:, 1], 0.5 * res.removed[:, 0], atol=1e-9)
    assert np.abs(res.removed).max() > 0


def test_many_channels_and_mono_stays_mono(mixed):
    y = mixed[0]
    four = np.stack([y, y, -y, 0.1 * y], axis=1)
    assert cleantake.clean(four, SR).cleaned.shape == four.shape
    assert cleantake.clean(y, SR).cleaned.ndim == 1


def test_strength(mixed):
    y = mixed[0]
    zero = cleantake.clean(y, SR, strength=0.0)
    np.testing.assert_array_equal(zero.cleaned, y)
    half = cleantake.clean(y, SR, strength=0.5)
    full = cleantake.clean(y, SR, strength=1.0)
    e_half, e_full = np.sum(half.removed**2), np.sum(full.removed**2)
    assert 0 < e_half < e_full
    np.testing.assert_allclose(half.removed, 0.5 * full.removed, atol=1e-7)
    with pytest.raises(ParameterError, match="strength"):
        cleantake.clean(y, SR, strength=3)


def test_silence_and_clean_music_unchanged():
    z = np.zeros(SR * 2)
    res = cleantake.clean(z, SR)
    assert res.events == [] and np.array_equal(res.cleaned, z)
    x = _music(seed=3)
    res = cleantake.clean(x, SR)
    assert res.events == []
    np.testing.assert_array_equal(res.cleaned, x)


def test_clean_music_the_networks_rule_out_comes_back_unanalysed_and_bit_identical(monkeypatch):
    """Corpus stems the detector's networks rule out (locate.Screen): no NMF analysis, the
    input returned bit for bit, alone and as blocks of a longer recording."""
    import soundfile as sf

    import cleantake.pipeline as P

    paths = sorted((CORPUS / "music" / "stems").glob("*.flac"))[:4]
    if not paths:
        pytest.skip(f"no corpus at {CORPUS}")
    c = cleantake.Cleaner("any")
    screened = []
    for p in paths:
        x, sr = sf.read(p)
        res = c.clean(x, sr, block_s=None)
        if res.stats.get("screened"):
            screened.append(x)
            assert res.events == [] and res.candidates == [] and not res.removed.any()
            assert np.array_equal(res.cleaned, x)
    assert screened, "none of the first corpus stems was screened"

    calls = []
    analyse = P.analyse

    def counted(*a, **k):
        calls.append(1)
        return analyse(*a, **k)

    monkeypatch.setattr(P, "analyse", counted)
    x = screened[0]
    res = c.clean(x, sr, block_s=8.0, overlap_s=2.0)  # 20 s in blocks
    assert res.stats["blocks"] >= 2 and res.stats["screened_blocks"] >= 1
    assert len(calls) == res.stats["blocks"] - res.stats["screened_blocks"]
    assert np.array_equal(res.cleaned, x)
    # Stereo mixes with each channel also located alone (channel_confidence): screened only
    # when the mix and every channel are ruled out; then nothing at all is analysed.
    cc = cleantake.Cleaner("any", channel_confidence=0.7)
    n_screened = 0
    for p in sorted((CORPUS / "music" / "mixes").glob("*.flac"))[:10]:
        x, sr = sf.read(p)
        calls.clear()
        res = cc.clean(x, sr, block_s=None)
        if res.stats.get("screened"):
            n_screened += 1
            assert not calls and np.array_equal(res.cleaned, x) and res.events == []
        else:
            assert 1 <= len(calls) <= 3  # the mix, and the channels not ruled out
    assert n_screened, "none of the first corpus mixes was screened"


@pytest.mark.parametrize("method", ["nmf", "kam"])
def test_baselines_sum_to_input(mixed, method):
    y = mixed[0]
    res = cleantake.clean(y, SR, method=method)
    np.testing.assert_allclose(res.cleaned + res.removed, y, atol=1e-12)
    assert np.abs(res.removed).max() > 0


def test_cleaner_reusable_and_picklable(mixed):
    c = cleantake.Cleaner("cough")
    c2 = pickle.loads(pickle.dumps(c))
    a, b = c.clean(mixed[0], SR), c2.clean(mixed[0], SR)
    np.testing.assert_array_equal(a.cleaned, b.cleaned)
    assert c.locate(mixed[0], SR) == a.events


def test_bad_arguments():
    with pytest.raises(ParameterError, match="method"):
        cleantake.Cleaner(method="magic")
    with pytest.raises(ParameterError, match="unknown setting"):
        cleantake.Cleaner(kk=3)
    with pytest.raises(ParameterError, match="shape"):
        cleantake.clean(np.zeros((2, 2, 2)), SR)


# --- real audio from the corpus --------------------------------------------------------------

def _corpus_mixture(entry):
    import soundfile as sf

    m, sr = sf.read(CORPUS / entry["music"], dtype="float64", always_2d=True)
    y = m.copy()
    for ev in entry["events"]:
        e, _ = sf.read(CORPUS / ev["path"], dtype="float64")
        n0 = round(ev["onset_s"] * sr)
        y[n0 : n0 + len(e)] += ev["gain"] * np.outer(e, ev.get("pan", [1.0]))
    return y, m, sr


def _corpus_entries() -> list[dict]:
    """The corpus's mixture recipes; the test is skipped without the corpus."""
    if not (CORPUS / "mixtures.json").is_file():
        pytest.skip("corpus not found beside the repository")
    return json.loads((CORPUS / "mixtures.json").read_text())["mixtures"]


def _sdr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2))


@pytest.mark.corpus
@pytest.mark.slow
def test_proposed_improves_each_core_class_and_beats_nmf():
    """On the quick-subset 0-dB stems mixtures (5 per class), the proposed method raises SDR
    for every core class on average, and beats semi-supervised NMF alone (a smoke test: the
    shipped dictionary and detector have heard these recordings)."""
    entries = _corpus_entries()
    by_class, vs_nmf = {}, {"proposed": [], "nmf": []}
    for cls in ("cough", "door", "creak", "scream", "drop"):
        picked = [e for e in entries if e["set"] == "stems" and e["class"] == cls and e["level_db"] == 0
                  and e["subset"] == "quick"]
        assert len(picked) >= 5
        gains = []
        for i, e in enumerate(picked[:5]):
            y, m, sr = _corpus_mixture(e)
            res = cleantake.clean(y, sr)
            gains.append(_sdr(m, res.cleaned) - _sdr(m, y))
            # No large loss. Not "never a loss": on stem_012 drop the learned locator finds and
            # repairs the drop (+6.5 dB alone) but puts a false event (confidence 0.64) on the
            # music at 17.5 s, which costs 4 dB: -2.5 dB in all. False events on music are the
            # open part of issue 15 (BENCHMARKS.md section 0a).
            assert gains[-1] > -3.0, (e["id"], gains[-1])
            if i == 0:  # the slower NMF baseline on one mixture per class
                vs_nmf["proposed"].append(gains[-1])
                nmf = cleantake.clean(y, sr, method="nmf")
                vs_nmf["nmf"].append(_sdr(m, nmf.cleaned) - _sdr(m, y))
        by_class[cls] = float(np.mean(gains))
    assert all(v > 0 for v in by_class.values()), by_class
    assert np.mean(vs_nmf["proposed"]) > np.mean(vs_nmf["nmf"]), vs_nmf


def test_location_trace_stages_narrow_and_end_in_the_events(mixed):
    """The diagnostic trace (benchmarks/misses.py) reports each stage's frames: every stage
    keeps a subset of the previous one, and what passes the last stage is what the events span."""
    from cleantake.analysis import analyse
    from cleantake.locate import locate_events

    y = mixed[0][None, :]
    cl = cleantake.Cleaner("any", locator="stack")
    ana = analyse(y, SR, dictionary=cl.dictionary, settings=cl.settings)
    loc = locate_events(ana, settings=cl.settings, dictionary=cl.dictionary)
    cfg, V, events, tr = ana.cfg, ana.V, loc.events, loc.trace
    assert events and tr["evidence"].any()
    for wider, narrower in [("share", "necessity"), ("necessity", "edge"), ("edge", "novelty"),
                            ("confirm", "evidence")]:
        assert not (tr[narrower] & ~tr[wider]).any(), (wider, narrower)
    # Runs long enough are made of novelty frames (gaps bridged), and confirmed events lie in them.
    assert tr["novelty"][tr["length"]].any() and not (tr["length"] & ~np.convolve(
        tr["novelty"], np.ones(2 * cl.settings.frames(cl.settings.max_gap_ms, cfg) + 1), "same").astype(bool)).any()
    t = cfg.frame_times(V.shape[1])
    assert not (tr["evidence"] & ~tr["grown"]).any()  # hysteresis only adds frames
    kept = t[tr["grown"]]
    assert all(any(ev.start_s - 0.02 <= tk <= ev.end_s + 0.02 for ev in events) for tk in kept)


@pytest.mark.corpus
def test_quiet_event_kept_on_strong_evidence_only():
    """A cough 6 dB under the music, of which KAM removes less than ``confirm``, is kept
    because its evidence is strong, and only then: not with the quiet path off, not when the
    quiet evidence asked for is out of reach, and not without the evidence test (the stack;
    the learned locator has none of these thresholds)."""
    entries = {e["id"]: e for e in _corpus_entries()}
    e = entries["stem_019__cough__-6dB"]
    y, m, sr = _corpus_mixture(e)
    y, m = y[:, 0], m[:, 0]

    def found(**params):
        events = cleantake.Cleaner("any", locator="stack", **params).locate(y, sr)
        return [ev for ev in events for t in e["events"] if ev.start_s <= t["onset_s"] + 0.2 <= ev.end_s]

    assert found()
    stack = cleantake.Cleaner("any", locator="stack")
    off = stack.with_settings(confirm_quiet=0.2)
    for cl_off in (off, stack.with_settings(quiet_evidence=1e9), stack.with_settings(evidence=0.0)):
        n_quiet = len(found()) - len([ev for ev in cl_off.locate(y, sr) for t in e["events"]
                                      if ev.start_s <= t["onset_s"] + 0.2 <= ev.end_s])
        assert n_quiet > 0
    res_on, res_off = stack.clean(y, sr), off.clean(y, sr)
    assert _sdr(m, res_on.cleaned) > _sdr(m, res_off.cleaned) + 0.5
    np.testing.assert_allclose(res_on.cleaned + res_on.removed, y, rtol=0, atol=1e-12)


@pytest.mark.corpus
def test_class_preset_finds_a_cough_its_small_dictionary_explains_less_well():
    """``-i cough`` (12 templates) finds a real cough because its necessity floor is scaled
    to the dictionary: at a floor of 0.35, as for ``any``'s 60 templates, it is missed."""
    entries = {e["id"]: e for e in _corpus_entries()}
    e = entries["stem_013__cough__+0dB"]
    y, m, sr = _corpus_mixture(e)
    y, m = y[:, 0], m[:, 0]
    (t,) = e["events"]

    def hits(events):
        return [ev for ev in events if ev.start_s <= t["onset_s"] + 0.1 <= ev.end_s]

    res = cleantake.clean(y, sr, interference="cough")
    assert len(hits(res.events)) == 1 and len(res.events) == 1 and res.events[0].label == "cough"
    assert res.stats["necessity"] == pytest.approx(0.35 * np.sqrt(12 / 60))
    assert _sdr(m, res.cleaned) > _sdr(m, y) + 5.0
    np.testing.assert_allclose(res.cleaned + res.removed, y, rtol=0, atol=1e-12)
    unscaled = cleantake.Cleaner("cough", necessity_floor=0.35 / np.sqrt(12 / 60))
    assert not hits(unscaled.locate(y, sr))


def test_no_given_span_returns_the_input_without_analysis(monkeypatch):
    """events=[] (a block of a long file with no given span): nothing repaired, nothing analysed."""
    import cleantake.pipeline as P

    x = _music(3.0)

    def no_analysis(*a, **k):
        raise AssertionError("analysed a recording with nothing to repair")

    monkeypatch.setattr(P, "analyse", no_analysis)
    res = cleantake.Cleaner("any").clean(x, SR, events=[])
    assert res.events == [] and np.array_equal(res.cleaned, x) and not res.removed.any()


def test_channel_location_only_adds_what_a_channel_finds_alone(mixed):
    """A quiet burst in one channel only: the channels' mean misses it, the channel alone
    finds it. Each channel located on its own too (Settings.channel_confidence) keeps every
    event of the default and adds only events a channel's own location has, sure enough;
    mono is untouched by the setting."""
    y, x, (t0, t1) = mixed
    st = np.stack([x + 0.2 * (y - x), x], axis=1)
    plain = cleantake.Cleaner("any").clean(st, SR)
    ch = cleantake.Cleaner("any", channel_confidence=0.7)
    both = ch.clean(st, SR)
    alone = [e for c in range(2) for e in cleantake.Cleaner("any").locate(st[:, c], SR)]
    assert not any(e.start_s < t1 and e.end_s > t0 for e in plain.events)
    assert any(e.start_s < t1 and e.end_s > t0 for e in both.events)
    assert set(plain.events) <= set(both.events)
    assert all(e in alone and e.confidence >= 0.7 for e in set(both.events) - set(plain.events))
    np.testing.assert_allclose(both.cleaned + both.removed, st, atol=1e-12)
    mono = ch.clean(y, SR)
    np.testing.assert_array_equal(mono.cleaned, cleantake.Cleaner("any").clean(y, SR).cleaned)
