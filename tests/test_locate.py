"""The location's evidence test and necessity contrast, and the band-to-bin spreading used by
the synthesis guard."""

import numpy as np
import pytest

import cleantake
from cleantake.errors import ParameterError
from cleantake.locate import evidence_ratio, evidence_threshold, necessity_contrast, necessity_threshold
from cleantake.spectral import StftConfig, band_matrix, bands_to_bins


def _templates(n_bands, n, rng, width):
    """Unit-sum templates: smooth broadband (interference-like) for large ``width``,
    a few narrow peaks (harmonic, music-like) for small ``width``."""
    f = np.arange(n_bands)[:, None]
    W = np.zeros((n_bands, n))
    for j in range(n):
        for c in rng.choice(n_bands, size=3 if width < 3 else 1, replace=False):
            W[:, j] += np.exp(-0.5 * ((f[:, 0] - c) / width) ** 2)
    return (W / W.sum(axis=0)).astype(np.float32)


@pytest.fixture(scope="module")
def dictionaries():
    rng = np.random.default_rng(0)
    return _templates(64, 8, rng, width=12.0), _templates(64, 20, rng, width=0.7), rng


def test_evidence_high_for_interference_low_for_music(dictionaries):
    W_i, W_m, rng = dictionaries
    H = rng.gamma(2.0, 1.0, size=(W_i.shape[1], 30)).astype(np.float32)
    noise = np.float32(1e-3)
    R_int = W_i @ H + noise
    R_mus = W_m @ rng.gamma(2.0, 1.0, size=(W_m.shape[1], 30)).astype(np.float32) + noise
    e_int = evidence_ratio(R_int, W_i, W_m)
    e_mus = evidence_ratio(R_mus, W_i, W_m)
    assert e_int > 4.0 > e_mus
    assert e_mus < 1.0  # music templates explain music better than interference templates do


def test_evidence_scale_invariant(dictionaries):
    W_i, W_m, rng = dictionaries
    R = W_i @ rng.gamma(2.0, 1.0, size=(W_i.shape[1], 10)).astype(np.float32) + 1e-3
    # KL divergence scales linearly with the data, so the ratio does not change with level.
    assert evidence_ratio(100 * R, W_i, W_m) == pytest.approx(evidence_ratio(R, W_i, W_m), rel=0.05)


@pytest.mark.parametrize("sr,n_bands", [(22050, 64), (44100, 128), (48000, 40)])
def test_bands_to_bins_keeps_constants_and_range(sr, n_bands):
    cfg = StftConfig(sr)
    P = band_matrix(cfg, n_bands)
    const = bands_to_bins(np.full((n_bands, 3), 0.7, np.float32), P)
    assert const.shape == (cfg.n_freq, 3)
    np.testing.assert_allclose(const, 0.7, rtol=1e-5)
    rng = np.random.default_rng(1)
    B = rng.uniform(0, 1, (n_bands, 5)).astype(np.float32)
    S = bands_to_bins(B, P)
    assert S.min() >= 0 and S.max() <= 1 + 1e-6


def test_bands_to_bins_is_local():
    cfg = StftConfig(44100)
    P = band_matrix(cfg, 128)
    B = np.zeros((128, 1), np.float32)
    B[100] = 1.0
    S = bands_to_bins(B, P)[:, 0]
    hz = cfg.freqs()[S > 0]
    centre = cfg.freqs()[np.argmax(P[100])]
    assert hz.min() > centre / 2 and hz.max() < centre * 2


@pytest.mark.parametrize("name", ["evidence", "nmf_guard", "nmf_guard_marked", "necessity_contrast", "quiet_evidence", "confirm_quiet"])
def test_new_settings_refuse_negative(name):
    with pytest.raises(ParameterError, match=name):
        cleantake.Cleaner("any", **{name: -1.0})


def test_guard_and_evidence_keep_the_sum():
    """With and without the guard and the evidence test, cleaned + removed == input, and the
    guard only ever removes less in the spectral domain (its mask is never below KAM's)."""
    sr = 22050
    rng = np.random.default_rng(3)
    t = np.arange(6 * sr) / sr
    x = 0.1 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    n0 = 3 * sr
    burst = 0.3 * rng.standard_normal(sr // 4) * np.exp(-np.arange(sr // 4) / (0.05 * sr))
    y = x.copy()
    y[n0:n0 + burst.size] += burst
    on = cleantake.clean(y, sr, interference="any")
    off = cleantake.Cleaner("any", nmf_guard=0.0, evidence=0.0).clean(y, sr)
    for r in (on, off):
        np.testing.assert_allclose(r.cleaned + r.removed, y, rtol=0, atol=1e-12)
    assert on.events and off.events
    assert 0 < np.sum(on.removed**2) <= np.sum(off.removed**2) * 1.05


def test_evidence_threshold_scales_with_the_dictionary():
    full = cleantake.Cleaner("any")
    one = cleantake.Cleaner("cough")
    assert evidence_threshold(full.settings, full.dictionary) == pytest.approx(full.settings.evidence)
    assert evidence_threshold(one.settings, one.dictionary) == pytest.approx(
        full.settings.evidence * one.dictionary.rank / 60)
    assert evidence_threshold(cleantake.Settings(evidence=0.0), one.dictionary) == 0.0


def test_necessity_floor_scales_with_the_square_root_of_the_dictionary():
    gain = np.zeros(500)  # a recording explained evenly well everywhere: the floor decides
    s = cleantake.Settings()
    full, one = cleantake.Cleaner("any").dictionary, cleantake.Cleaner("cough").dictionary
    assert necessity_threshold(gain, settings=s, dictionary=full) == pytest.approx(s.necessity_floor)
    assert necessity_threshold(gain, settings=s, dictionary=one) == pytest.approx(
        s.necessity_floor * np.sqrt(one.rank / 60))
    # Spread gains still lift the threshold to the cap, whatever the dictionary.
    wide = np.random.default_rng(0).exponential(1.0, 500)
    assert (necessity_threshold(wide, settings=s, dictionary=one)
            == necessity_threshold(wide, settings=s, dictionary=full) == s.necessity)


def test_necessity_contrast_compares_with_similar_music():
    """A frame stands out only against the frames of similar music: among hits that are all
    explained poorly (high gains) a hit is not necessary, a thud among quiet frames is."""
    rng = np.random.default_rng(5)
    n = 400
    F = np.zeros((2, n), np.float32)
    hits = np.zeros(n, bool)
    hits[::10] = True  # a drum kit: a hit every 10th frame, all alike, all with high gains
    F[0, hits] = 1.0
    F[1, ~hits] = 1.0
    F += 0.01 * rng.standard_normal(F.shape).astype(np.float32)
    gain = np.where(hits, 0.9, 0.1).astype(np.float32)
    thud = 205  # not a hit: its music is like the quiet frames', its gain like a hit's
    gain[thud] = 0.9
    test = np.zeros(n, bool)
    test[[thud, 200, 210]] = True
    c = cleantake.Settings().necessity_contrast
    out = necessity_contrast(gain, test, F, context=2, contrast=c)
    assert out[thud] and not out[200] and not out[210]
    assert not out[~test].any()
    assert not necessity_contrast(gain, np.zeros(n, bool), F, context=2, contrast=c).any()


def test_candidates_are_the_events_below_the_sensitivity(corpus):
    """Candidates for review: what the detector cut below ``sensitivity`` down to ``review_level``,
    never repaired; the events and the output do not depend on the review level."""
    from conftest import corpus_mixtures

    from cleantake.corpus import build_mixture

    # The calibration's knots are coarse, so which mixture has events of three confidences or
    # more depends on the shipped model: the first of these that has (one is enough).
    wanted = ("stem_001__drop__-6dB", "stem_002__scream__-3dB", "stem_002__drop__-3dB")
    confs: list[float] = []
    for entry in (e for e in corpus_mixtures(corpus) if e["id"] in wanted):
        y, _, _, sr = build_mixture(str(corpus), entry)
        every = cleantake.Cleaner("any", sensitivity=0.0).locate(y, sr)
        confs = sorted({e.confidence for e in every})
        if len(confs) >= 3:
            break
    assert len(confs) >= 3, f"none of {wanted} has events of three confidences or more"
    sens = confs[-1]  # the surest events stay events, the others become candidates
    level = (confs[0] + confs[1]) / 2  # a review level between the two least sure
    low = cleantake.Cleaner("any", sensitivity=sens, review_level=0.0).clean(y, sr)
    assert low.events and low.candidates
    assert all(e.confidence >= sens for e in low.events) and all(c.confidence < sens for c in low.candidates)
    assert sorted(low.events + low.candidates, key=lambda e: e.start_s) == every
    mid = cleantake.Cleaner("any", sensitivity=sens, review_level=level).clean(y, sr)
    assert mid.candidates == [c for c in low.candidates if c.confidence >= level] != low.candidates
    assert mid.candidates  # and some are kept
    none = cleantake.Cleaner("any", sensitivity=sens, review_level=sens).clean(y, sr)
    assert none.candidates == []
    for other in (mid, none):
        assert other.events == low.events and np.array_equal(other.cleaned, low.cleaned)
    # The stack (a single-class preset) has no calibrated confidence: no candidates.
    assert cleantake.Cleaner("door", review_level=0.0).clean(y, sr).candidates == []


def test_events_longer_than_max_event_are_candidates_never_repaired(corpus):
    """An event longer than ``max_event_ms`` is listed for review whatever its confidence, and
    nothing is removed there; shorter ones are unaffected."""
    from conftest import corpus_mixtures

    from cleantake.corpus import build_mixture

    entry = next(e for e in corpus_mixtures(corpus) if e["id"] == "stem_001__drop__-6dB")
    y, _, _, sr = build_mixture(str(corpus), entry)
    ref = cleantake.Cleaner("any", review_level=1.0).clean(y, sr)
    assert ref.events and not ref.candidates
    lengths = sorted(e.end_s - e.start_s for e in ref.events)
    cap = 0.5 * (lengths[0] + lengths[-1]) if lengths[0] < lengths[-1] else 0.9 * lengths[0]
    res = cleantake.Cleaner("any", review_level=1.0, max_event_ms=1000.0 * cap).clean(y, sr)
    assert res.events == [e for e in ref.events if e.end_s - e.start_s <= cap]
    assert res.candidates == [e for e in ref.events if e.end_s - e.start_s > cap] != []
    for c in res.candidates:
        a, b = int(c.start_s * sr), int(c.end_s * sr)
        assert not np.any(res.removed[a:b])
    with pytest.raises(ParameterError, match="max_event_ms must be positive"):
        cleantake.Settings(max_event_ms=0.0)


def _loc(spans, times, conf=0.9, candidates=()):
    """A Location with events over ``spans`` (frame ranges) on frames centred at ``times``."""
    from cleantake.locate import Event, Location, dilate

    frames = np.zeros(times.size, bool)
    events = []
    for a, b in spans:
        frames[a:b] = True
        events.append(Event(round(times[a] - 0.005, 6), round(times[b - 1] + 0.005, 6), "unknown", conf))
    return Location(frames, list(spans), events, {}, {}, None, dilate(frames, 2), list(candidates))


def test_channel_events_are_added_only_where_the_mean_found_none_and_sure_enough():
    from cleantake.locate import Event, add_channel_events

    times = np.arange(100) * 0.01 + 0.005
    cand = Event(0.61, 0.64, "unknown", 0.3)
    loc = _loc([(10, 20)], times, candidates=[cand, Event(0.9, 0.95, "unknown", 0.3)])
    left = _loc([(15, 25), (60, 70)], times, conf=0.8)      # overlaps the mean's event / new
    right = _loc([(40, 45)], times, conf=0.6)                 # new but not sure enough
    out = add_channel_events(loc, [left, right], confidence=0.7, frame_times=times, context=2)
    assert out.segments == [(10, 20), (60, 70)]
    assert out.events == [loc.events[0], left.events[1]]
    assert out.frames.sum() == 20 and out.frames[60:70].all() and not out.frames[40:45].any()
    assert out.stats["channel_events"] == 1 and out.trace["channels"].sum() == 10
    assert out.exclude[58:72].all() and loc.exclude[10:20].all() and out.exclude[8:22].all()
    assert out.candidates == [loc.candidates[1]]               # the one inside the added event is gone
    # nothing sure enough: the location itself
    assert add_channel_events(loc, [right], confidence=0.7, frame_times=times, context=2) is loc
    # a second channel's event on frames the first one's already took is not added twice
    twice = add_channel_events(loc, [left, left], confidence=0.7, frame_times=times, context=2)
    assert twice.segments == out.segments
