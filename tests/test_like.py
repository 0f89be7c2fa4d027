"""Learning the interference from one marked example (``like=``) and ``interference="none"``."""

from pathlib import Path

import numpy as np
import pytest
from conftest import organ

import cleantake
from cleantake.dictionaries import resolve_dictionary
from cleantake.errors import ParameterError

SR = 22050
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _music(seconds=10.0, sr=SR, seed=0):
    """Repeating organ-like notes (:func:`conftest.organ`): every frame has similar frames elsewhere."""
    return organ(seconds, sr, seed)


def _ring(seed, sr=SR, length=0.4):
    """A bell-like interference: inharmonic partials far from the music's, with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(length * sr)) / sr
    env = np.exp(-t / 0.15) * np.minimum(1, t * 400)
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in (1870.0, 2730.0, 3810.0))
    return 0.15 * env * (x + 0.3 * rng.standard_normal(t.size))


ONSETS = (2.1, 7.3)


def _with_rings(x, onsets):
    """``x`` with a ring (:func:`_ring`, a different one each) at every onset (seconds), and
    their spans in seconds."""
    y = x.copy()
    spans = []
    for i, t0 in enumerate(onsets):
        b = _ring(i)
        n0 = int(t0 * SR)
        y[n0:n0 + b.size] += b
        spans.append((n0 / SR, (n0 + b.size) / SR))
    return y, spans


@pytest.fixture(scope="module")
def mixed():
    x = _music()
    y, spans = _with_rings(x, ONSETS)
    return y, x, spans


@pytest.fixture(scope="module")
def result(mixed):
    y, _, spans = mixed
    return cleantake.clean(y, SR, interference="none", like=[spans[0]])


def _energy(a, t0, t1):
    return float(np.sum(a[int(t0 * SR):int(t1 * SR)] ** 2))


def test_marked_example_is_removed(result, mixed):
    y, x, spans = mixed
    a, b = spans[0]
    before = _energy(y - x, a, b)
    after = _energy(result.cleaned - x, a, b)
    assert after < 0.25 * before  # at least 6 dB less error than the mixture in the marked span


def test_the_other_copy_is_found_and_removed(result, mixed):
    y, x, spans = mixed
    a, b = spans[1]
    assert any(e.start_s < b and a < e.end_s for e in result.events)
    assert _energy(result.cleaned - x, a, b) < 0.25 * _energy(y - x, a, b)


def test_nothing_else_is_found(result, mixed):
    _, _, spans = mixed
    for e in result.events:
        assert any(e.start_s < b and a < e.end_s for a, b in spans), e


def test_clean_stretch_far_from_anything_similar_is_bit_identical(result, mixed):
    y, _, _ = mixed
    a, b = int(4.0 * SR), int(6.0 * SR)
    assert np.array_equal(result.cleaned[a:b], y[a:b])
    assert not np.any(result.removed[a:b])


def test_deterministic(result, mixed):
    y, _, spans = mixed
    again = cleantake.Cleaner("none").clean(y, SR, like=[spans[0]])
    assert np.array_equal(again.cleaned, result.cleaned)
    assert again.events == result.events


def test_locate_with_like_gives_the_events_of_clean(result, mixed):
    y, _, spans = mixed
    assert cleantake.Cleaner("none").locate(y, SR, like=[spans[0]]) == result.events


def test_any_with_like_keeps_the_automatic_events(mixed):
    """``any`` + like: the events are the union of the automatic location and the matches."""
    y, _, spans = mixed
    c = cleantake.Cleaner("any")
    auto = c.locate(y, SR)
    both = c.locate(y, SR, like=[spans[0]])
    for e in auto:
        assert any(f.start_s < e.end_s and e.start_s < f.end_s for f in both)
    assert any(f.start_s < spans[0][1] and spans[0][0] < f.end_s for f in both)


def test_none_is_an_empty_dictionary():
    d = resolve_dictionary("none")
    assert d.rank == 0 and d.name == "none"


def test_none_without_spans_is_refused():
    y = _music(2.0)
    with pytest.raises(ParameterError, match="-i none needs --like or --events"):
        cleantake.clean(y, SR, interference="none")
    with pytest.raises(ParameterError, match="-i none needs --like or --events"):
        cleantake.Cleaner("none").locate(y, SR)


def test_none_with_events_repairs_them(mixed):
    y, x, spans = mixed
    res = cleantake.clean(y, SR, interference="none", events=[spans[0]])
    a, b = spans[0]
    assert _energy(res.cleaned - x, a, b) < 0.5 * _energy(y - x, a, b)
    outside = np.ones(y.size, bool)
    outside[int(a * SR):int(np.ceil(b * SR))] = False
    assert np.array_equal(res.cleaned[outside], y[outside])


def test_guard_of_marked_spans_acts_on_them_only_with_learned_templates(mixed):
    """nmf_guard_marked is the guard at the user's spans with -i none: weaker there, more of
    the marked sound is removed (never anything outside the spans); with a class dictionary
    (``any``) it changes nothing."""
    y, _, spans = mixed
    a, b = spans[0]
    strong = cleantake.Cleaner("none", nmf_guard_marked=0.5).clean(y, SR, events=[spans[0]])
    weak = cleantake.Cleaner("none", nmf_guard_marked=0.1).clean(y, SR, events=[spans[0]])
    assert not np.array_equal(strong.removed, weak.removed)
    assert _energy(weak.removed, a, b) > _energy(strong.removed, a, b)
    outside = np.ones(y.size, bool)
    outside[int(a * SR):int(np.ceil(b * SR))] = False
    assert not weak.removed[outside].any()
    same = [cleantake.Cleaner("any", nmf_guard_marked=g).clean(y, SR, events=[spans[0]]).cleaned for g in (0.5, 0.1)]
    assert np.array_equal(*same)


def test_guard_of_marked_spans_leaves_what_the_finder_found(mixed):
    """With like=, only the marked example's frames take nmf_guard_marked: the copy the finder
    found is repaired exactly as with the usual guard."""
    y, _, spans = mixed
    a, b = spans[1]
    runs = [cleantake.clean(y, SR, interference="none", like=[spans[0]], nmf_guard_marked=g) for g in (0.5, 0.1)]
    assert [(e.start_s, e.end_s) for e in runs[0].events] == [(e.start_s, e.end_s) for e in runs[1].events]
    assert any(e.start_s < b and a < e.end_s for e in runs[0].events)  # the copy was found
    assert np.array_equal(runs[0].removed[int(a * SR):int(b * SR)], runs[1].removed[int(a * SR):int(b * SR)])
    a0, b0 = spans[0]
    assert _energy(runs[1].removed, a0, b0) > _energy(runs[0].removed, a0, b0)


@pytest.mark.parametrize("name", ["none", "any"])
def test_like_events_at_further_windows_are_the_mean_of_the_repairs_at_each_window(mixed, name):
    """What like= finds (and, with a dictionary, locates) is repaired as given spans are, at
    span_windows_ms (by default 92 and 184 ms besides the analysis's 46): the mean of the
    repair at the analysis's STFT and one at each further window, ``3 R(92, 184) = 2 R(92) +
    2 R(184) - R()``, with the same events; nothing changes away from them, ``cleaned + removed
    == input``; located_windows_ms (the automatic path's) does not act on it."""
    y, x, spans = mixed

    def run(windows, **kw):
        return cleantake.Cleaner(name, span_windows_ms=windows, **kw).clean(y, SR, like=[spans[0]])

    one, both, r92, r184 = run(()), run((92.0, 184.0)), run((92.0,)), run((184.0,))
    both_settings = cleantake.Cleaner(name, span_windows_ms=(92.0, 184.0), located_windows_ms=()).settings
    np.testing.assert_array_equal(cleantake.Cleaner(name).clean(y, SR, like=[spans[0]]).removed, both.removed)
    np.testing.assert_array_equal(run((), located_windows_ms=(92.0, 184.0)).removed, one.removed)
    assert any(e.start_s < spans[1][1] and spans[1][0] < e.end_s for e in one.events)  # the copy was found
    assert both.events == one.events == r92.events == r184.events
    np.testing.assert_allclose(3 * both.removed, 2 * r92.removed + 2 * r184.removed - one.removed, rtol=0,
                               atol=1e-9)
    assert not np.allclose(r92.removed, one.removed, atol=1e-6)
    reach = both_settings.reach_s(SR, like=True)  # half a 184-ms window, its hop and the ramp
    far = np.ones(y.size, bool)
    for e in both.events:
        far[max(0, int((e.start_s - reach) * SR)):int((e.end_s + reach) * SR)] = False
    assert not np.any(both.removed[far])
    np.testing.assert_array_equal(y - both.removed, both.cleaned)
    # Still removed at least as well as at one resolution (6 dB under the mixture's error).
    for a, b in spans:
        assert _energy(both.cleaned - x, a, b) < 0.25 * _energy(y - x, a, b)


def test_like_further_windows_keep_the_marked_guard_on_the_example_only(mixed):
    """At the further windows too, with -i none only the marked example's frames take
    nmf_guard_marked: the copy the finder found is repaired as with the usual guard, and the
    weaker guard removes more of the example at every resolution (so at least about as much
    more as at one resolution, not a third of it, as if only the first STFT's repair took it)."""
    y, _, spans = mixed
    a0, b0 = spans[0]

    def more(windows):
        runs = [cleantake.clean(y, SR, interference="none", like=[spans[0]], nmf_guard_marked=g,
                                span_windows_ms=windows) for g in (0.5, 0.1)]
        a, b = spans[1]
        assert np.array_equal(runs[0].removed[int(a * SR):int(b * SR)], runs[1].removed[int(a * SR):int(b * SR)])
        return _energy(runs[1].removed, a0, b0) - _energy(runs[0].removed, a0, b0)

    one, three = more(()), more((92.0, 184.0))
    assert one > 0 and three > 0.75 * one


@pytest.mark.parametrize("span, words", [
    ((3.0, 2.0), "reversed"),
    ((2.0, 2.0), "no length"),
    ((9.0, 12.0), "after the end of the recording"),
    ((-1.0, 0.5), "before the start of the recording"),
    ((2.1, 2.11), "at least one analysis window"),
])
def test_bad_like_spans_are_refused_in_seconds(mixed, span, words):
    y = mixed[0][: int(10.0 * SR)]
    with pytest.raises(ParameterError, match=words) as info:
        cleantake.clean(y, SR, interference="none", like=[span])
    assert " s" in str(info.value)


def test_short_span_message_gives_the_minimum_in_seconds(mixed):
    cfg = cleantake.Settings().stft_config(SR)
    with pytest.raises(ParameterError, match=f"{cfg.win_length / SR:.3f} s"):
        cleantake.clean(mixed[0], SR, interference="none", like=[(2.1, 2.11)])


def test_silent_like_span_is_refused(mixed):
    y = mixed[0].copy()
    y[int(5.0 * SR):int(6.0 * SR)] = 0.0
    with pytest.raises(ParameterError, match="silent.*nothing to learn|nothing to learn"):
        cleantake.clean(y, SR, interference="none", like=[(5.2, 5.8)])


def test_like_overlapping_keep_is_refused(mixed):
    y, _, spans = mixed
    a, b = spans[0]
    with pytest.raises(ParameterError, match="keep"):
        cleantake.clean(y, SR, interference="none", like=[(a, b)], keep=[(a + 0.1, b + 1.0)])


def test_like_and_events_together_are_refused(mixed):
    y, _, spans = mixed
    with pytest.raises(ParameterError, match="not both"):
        cleantake.clean(y, SR, interference="none", like=[spans[0]], events=[spans[1]])


def test_keep_drops_a_found_event(mixed):
    y, _, spans = mixed
    a, b = spans[1]
    res = cleantake.clean(y, SR, interference="none", like=[spans[0]], keep=[(a - 0.2, b + 0.2)])
    assert not any(e.start_s < b and a < e.end_s for e in res.events)
    assert np.array_equal(res.cleaned[int((a - 0.2) * SR):int((b + 0.2) * SR)],
                          y[int((a - 0.2) * SR):int((b + 0.2) * SR)])


def test_a_like_model_learned_from_the_same_audio_gives_the_same_result(result, mixed):
    """Learning first (``learn_like``) and cleaning with the model is what ``like=`` does."""
    y, _, spans = mixed
    c = cleantake.Cleaner("none")
    model = c.learn_like(y, SR, [spans[0]])
    again = c.clean(y, SR, like=[spans[0]], like_model=model)
    assert again.events == result.events
    assert np.array_equal(again.cleaned, result.cleaned)
    assert c.locate(y, SR, like=[spans[0]], like_model=model) == result.events


def test_a_like_model_holds_the_example_as_the_scores_of_the_whole_recording_measure_it(mixed):
    """``learn_like_model`` estimates the music only around the marked frames: the model's
    reference (the marked frames' own similarity, which its level and prototype shape) is what
    ``like_scores`` measures with the music estimated at every frame."""
    from cleantake.like import LikeParams, learn_like_model, like_scores, span_frames
    from cleantake.locate import Event

    y, _, spans = mixed
    c = cleantake.Cleaner("none")
    x = y[None, :]
    example = [Event(spans[0][0], spans[0][1], "like", 1.0)]
    # the mean prototype: the marked frames' similarity to their mean spectrum is below 1, and
    # its median moves if any of them, or a frame around them, is scored otherwise
    p = LikeParams(prototype="mean")
    model, ana = learn_like_model(x, SR, example, first=c.analyse(x, SR), base=c.dictionary, settings=c.settings,
                                  params=p)
    marked = span_frames(example, ana.cfg, ana.n_frames)
    sim, _, _, reference = like_scores(ana, marked, settings=c.settings, context_ms=p.context_ms,
                                       prototype=p.prototype)
    assert model.reference == reference
    assert 0.5 < reference < 1.0 and sim[marked].min() > 0


def test_a_like_model_needs_no_first_analysis_but_learning_does(mixed):
    """With a model nothing is learned, so ``locate_like`` takes no first analysis (the Cleaner
    then makes none with ``-i none``) and finds what it finds with one; without a model it
    needs one to learn from."""
    from cleantake.like import learn_like_model, locate_like
    from cleantake.locate import Event

    y, _, spans = mixed
    c = cleantake.Cleaner("none")
    x = y[None, :]
    first = c.analyse(x, SR)
    example = [Event(spans[0][0], spans[0][1], "like", 1.0)]
    model, _ = learn_like_model(x, SR, example, first=first, base=c.dictionary, settings=c.settings)
    kw = dict(base=c.dictionary, settings=c.settings, model=model)
    with_first, without = locate_like(x, SR, example, first=first, **kw), locate_like(x, SR, example, first=None, **kw)
    assert without.events == with_first.events and len(without.events) == 2
    np.testing.assert_array_equal(without.frames, with_first.frames)
    with pytest.raises(ParameterError, match="first analysis"):
        locate_like(x, SR, example, first=None, base=c.dictionary, settings=c.settings)


def test_a_like_model_finds_the_interference_in_a_stretch_without_the_example(mixed):
    """A stretch of the recording that does not hold the marked example (a block of a long
    file) still finds and removes the copy, and marks nothing itself."""
    y, x, spans = mixed
    c = cleantake.Cleaner("none")
    model = c.learn_like(y, SR, [spans[0]])
    t0 = 4.5
    part = y[int(t0 * SR):]
    res = c.clean(part, SR, like_model=model)
    a, b = spans[1][0] - t0, spans[1][1] - t0
    assert any(e.start_s < b and a < e.end_s for e in res.events)
    assert all(e.start_s < b and a < e.end_s for e in res.events)  # nothing else
    ref = x[int(t0 * SR):]
    assert _energy(res.cleaned - ref, a, b) < 0.25 * _energy(part - ref, a, b)
    with pytest.raises(ParameterError, match="not both"):
        c.clean(part, SR, like_model=model, events=[(a, b)])


def test_like_on_a_file_cleaned_in_blocks_finds_copies_in_every_block(tmp_path):
    """A file longer than two blocks: the example is learned once from the stretch around it
    and the copies in the other blocks are found and removed; the file's own clean stretches
    stay bit-identical."""
    import soundfile as sf

    from cleantake.files import clean_file, locate_file

    x = _music(30.0, seed=3)
    y, spans = _with_rings(x, (2.1, 13.3, 26.2))
    src = tmp_path / "long.wav"
    sf.write(src, y, SR, subtype="FLOAT")
    c = cleantake.Cleaner("none")
    res = clean_file(src, tmp_path / "out.wav", cleaner=c, like=[spans[0]], block_s=8.0, overlap_s=2.0)
    assert res.stats["blocks"] >= 4
    for a, b in spans:
        assert any(e.start_s < b and a < e.end_s for e in res.events), (a, b)
    for e in res.events:
        assert any(e.start_s < b and a < e.end_s for a, b in spans), e
    out, _ = sf.read(tmp_path / "out.wav")
    for a, b in spans[1:]:
        assert _energy(out - x, a, b) < 0.25 * _energy(y - x, a, b)
    quiet = slice(int(6.0 * SR), int(11.0 * SR))
    assert np.array_equal(out[quiet], y[quiet].astype(np.float32).astype(np.float64))
    found = locate_file(src, cleaner=c, like=[spans[0]], block_s=8.0, overlap_s=2.0).events
    # locate joins blocks in the middle of their overlap, clean where both removed nothing:
    # the same events, up to where a merged event is cut.
    assert [t for e in found for t in (e.start_s, e.end_s)] == pytest.approx(
        [t for e in res.events for t in (e.start_s, e.end_s)], abs=0.002)


def test_like_params_set_the_finder_of_clean_locate_learn_and_the_block_path(mixed, tmp_path):
    """``Cleaner(like_params=...)`` is the finder every like path uses: a similarity no frame can
    reach finds nothing but the marked example, in a whole recording, through a model learned
    beforehand and in a file cleaned in blocks; the default is ``LikeParams()``."""
    import soundfile as sf

    from cleantake.files import clean_file

    y, _, spans = mixed
    strict = cleantake.LikeParams(similarity=2.0, grow_similarity=None, review_similarity=None)

    def misses_the_copy(events):
        return [(e.start_s, e.end_s) for e in events if e.start_s < spans[1][1] and spans[1][0] < e.end_s] == []

    assert not misses_the_copy(cleantake.Cleaner("none").locate(y, SR, like=[spans[0]]))  # the copy is found...
    c = cleantake.Cleaner("none", like_params=strict)
    assert misses_the_copy(c.locate(y, SR, like=[spans[0]]))  # ... but not by a finder that takes nothing
    res = c.clean(y, SR, like=[spans[0]])
    assert misses_the_copy(res.events) and len(res.events) == 1
    assert misses_the_copy(c.clean(y, SR, like=[spans[0]], like_model=c.learn_like(y, SR, [spans[0]])).events)
    assert misses_the_copy(cleantake.clean(y, SR, interference="none", like=[spans[0]], like_params=strict).events)
    assert c.with_settings(strength=0.5).like_params == strict
    assert c.with_settings(like_params=None).like_params == cleantake.LikeParams()
    src = tmp_path / "long.wav"
    long_y, long_spans = _with_rings(_music(30.0, seed=3), (2.1, 13.3, 26.2))
    sf.write(src, long_y, SR, subtype="FLOAT")
    blocks = clean_file(src, tmp_path / "out.wav", cleaner=c, like=[long_spans[0]], block_s=8.0, overlap_s=2.0)
    assert blocks.stats["blocks"] >= 4
    assert [(e.start_s, e.end_s) for e in blocks.events] == [
        pytest.approx(long_spans[0], abs=0.03)]  # the example alone, in the block that holds it
    with pytest.raises(ParameterError, match="like_params must be"):
        cleantake.Cleaner("none", like_params={"similarity": 0.5})


def test_like_examples_spread_over_more_than_two_blocks_are_refused_in_seconds(tmp_path):
    import soundfile as sf

    from cleantake.files import clean_file

    src = tmp_path / "long.wav"
    sr = 8000
    sf.write(src, _music(130.0, sr=sr), sr, subtype="FLOAT")
    # Examples are learned from the 120 s around them (LIKE_WINDOW_S), whatever the block length.
    with pytest.raises(ParameterError, match=r"longer than 16 s .*within 120 s.*2\.000 s to 125\.500 s"):
        clean_file(src, tmp_path / "out.wav", cleaner=cleantake.Cleaner("none"), like=[(2.0, 2.5), (125.0, 125.5)],
                   block_s=8.0, overlap_s=2.0)
    assert not (tmp_path / "out.wav").exists()


def test_a_like_span_with_nothing_to_learn_in_a_long_file_is_refused_in_file_time(tmp_path):
    import soundfile as sf

    from cleantake.files import clean_file

    y = _music(30.0)
    y[int(20.0 * SR):int(21.0 * SR)] = 0.0
    src = tmp_path / "long.wav"
    sf.write(src, y, SR, subtype="FLOAT")
    with pytest.raises(ParameterError, match=r"20\.2 s to 20\.8 s.*silent"):
        clean_file(src, tmp_path / "out.wav", cleaner=cleantake.Cleaner("none"), like=[(20.2, 20.8)],
                   block_s=8.0, overlap_s=2.0)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "mixtures.json").is_file(), reason="corpus not available")
def test_corpus_copies_of_one_interference_are_found():
    """One corpus interference file at two places in a corpus stem: marking one finds the other."""
    from cleantake.evaluate import build_mixture

    import soundfile as sf

    path = "interference/eval/phone/" + sorted(p.name for p in (CORPUS / "interference/eval/phone").iterdir())[0]
    n = sf.info(str(CORPUS / path)).frames
    entry = {"id": "like-test", "music": "music/stems/stem_001.flac",
             "events": [{"path": path, "onset_s": 3.0, "gain": 0.3}, {"path": path, "onset_s": 12.0, "gain": 0.3}]}
    y, m, _, sr = build_mixture(CORPUS, entry)
    res = cleantake.clean(y, sr, interference="none", like=[(3.0, 3.0 + n / sr)])
    assert any(e.start_s < 12.0 + n / sr and 12.0 < e.end_s for e in res.events)
    copy = slice(int(12.0 * sr), int(12.0 * sr) + n)
    assert np.any(res.removed[copy])  # the copy is repaired (how well is the repair's matter)
    far = slice(int(7.0 * sr), int(9.5 * sr))  # nothing like it there, beyond any growth (the example: 1.9 s)
    assert np.array_equal(res.cleaned[far], y[far])


def test_finder_with_the_detector_needs_both_likeness_and_probability():
    from cleantake.like import LikeParams, like_frames
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 400
    sim = np.zeros(T, np.float32)
    sim[100:130] = 1.0  # like the example, and likely interference -> found
    sim[250:280] = 1.0  # like the example, but the detector says music -> not found
    nov = np.full(T, 0.9, np.float32)  # novelty no longer decides
    prob = np.zeros(T)
    prob[100:130] = 0.8
    prob[300:330] = 0.9  # likely interference, unlike the example -> not found
    elig = np.ones(T, bool)
    params = LikeParams(similarity=0.9, detector=0.5, relative=False)
    found = like_frames(sim, nov, elig, reference=1.0, counts=counts, min_event=4, params=params, probability=prob)
    assert found[100:130].all() and not found[250:280].any() and not found[300:330].any()
    with pytest.raises(ParameterError, match="detector"):
        like_frames(sim, nov, elig, reference=1.0, counts=counts, min_event=4, params=params)
    with pytest.raises(ParameterError, match="probability from 0 to 1"):
        LikeParams(detector=1.5)


def test_finder_detector_slope_and_peak():
    from cleantake.like import LikeParams, like_frames
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 400
    sim = np.zeros(T, np.float32)
    sim[100:130] = 0.8  # sure detector: found even with the slope
    sim[250:280] = 0.8  # unsure detector: the slope asks 0.6 + 1.0 * 0.4 = 1.0 of it -> not found
    nov = np.zeros(T, np.float32)
    prob = np.zeros(T)
    prob[100:130] = 0.95
    prob[250:280] = 0.6
    elig = np.ones(T, bool)
    kw = dict(reference=1.0, counts=counts, min_event=4, probability=prob)
    plain = like_frames(sim, nov, elig, params=LikeParams(similarity=0.6, detector=0.5, relative=False), **kw)
    assert plain[100:130].all() and plain[250:280].all()
    sloped = like_frames(sim, nov, elig, params=LikeParams(similarity=0.6, detector=0.5, relative=False,
                                                           detector_slope=1.0), **kw)
    assert sloped[100:130].all() and not sloped[250:280].any()
    peaked = like_frames(sim, nov, elig, params=LikeParams(similarity=0.6, detector=0.5, relative=False,
                                                           detector_peak=0.9), **kw)
    assert peaked[100:130].all() and not peaked[250:280].any()  # that run never reaches 0.9
    with pytest.raises(ParameterError, match="detector_peak"):
        LikeParams(detector_peak=1.5)
    with pytest.raises(ParameterError, match="detector_slope"):
        LikeParams(detector_slope=-0.1)


def test_finder_grows_found_runs_over_similar_frames_but_finds_no_new_event():
    from cleantake.like import LikeParams, like_frames
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 400
    sim = np.zeros(T, np.float32)
    sim[100:160] = 0.7  # like the example throughout; the detector sure only of its onset
    sim[250:280] = 0.7  # like the example, the detector never sure -> no event, grown or not
    nov = np.zeros(T, np.float32)
    prob = np.zeros(T)
    prob[100:110] = 0.9
    elig = np.ones(T, bool)
    kw = dict(reference=1.0, counts=counts, min_event=4, probability=prob)
    base = dict(similarity=0.6, detector=0.5, relative=False)
    plain = like_frames(sim, nov, elig, params=LikeParams(**base, grow_similarity=None), **kw)
    grown = like_frames(sim, nov, elig, params=LikeParams(**base, grow_similarity=0.5), **kw)
    held = like_frames(sim, nov, elig, params=LikeParams(**base, grow_similarity=0.5, grow_detector=0.5), **kw)
    assert plain[100:110].all() and not plain[140:160].any()
    assert grown[100:160].all() and not grown[250:280].any()
    assert np.array_equal(held, plain)  # no frame past the onset is probable enough to join
    short = like_frames(sim, nov, elig, params=LikeParams(**base, grow_similarity=0.5), max_grow=20, **kw)
    assert short[100:130].all() and not short[130 + counts.pad:160].any()  # 20 frames past the run at most
    with pytest.raises(ParameterError, match="grow_similarity"):
        LikeParams(grow_similarity=0.0)


def test_finder_keeps_runs_as_short_as_a_short_example_only_when_asked():
    from cleantake.like import LikeParams, like_frames
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 300
    sim = np.zeros(T, np.float32)
    sim[100:106] = 0.9  # a clap-like run of 6 frames
    prob = np.zeros(T)
    prob[100:106] = 0.9
    elig = np.ones(T, bool)
    kw = dict(reference=1.0, counts=counts, min_event=14, probability=prob)
    base = dict(similarity=0.6, detector=0.5, relative=False, grow_similarity=None, short_similarity=None)
    plain = LikeParams(**base, min_event_example=None)
    assert not like_frames(sim, np.zeros(T), elig, params=plain, max_grow=8, **kw).any()
    relaxed = LikeParams(**base, min_event_example=0.75)
    assert like_frames(sim, np.zeros(T), elig, params=relaxed, max_grow=8, **kw)[100:106].all()  # 6 of 8 frames
    assert not like_frames(sim, np.zeros(T), elig, params=relaxed, max_grow=10, **kw).any()  # needs 8 frames
    assert not like_frames(sim, np.zeros(T), elig, params=relaxed, **kw).any()  # example length unknown
    with pytest.raises(ParameterError, match="min_event_example"):
        LikeParams(min_event_example=0.0)


def test_finder_keeps_a_short_run_only_if_it_is_plainly_like_the_example_and_not_music():
    from cleantake.like import LikeParams, like_frames
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 400
    sim = np.zeros(T, np.float32)
    prob = np.zeros(T)
    sim[100:106], prob[100:106] = 0.9, 0.95  # short, like the example, the detector sure
    sim[200:206], prob[200:206] = 0.9, 0.8  # short, like the example, the detector not sure enough
    sim[300:306], prob[300:306] = 0.65, 0.95  # short, the detector sure, too little like the example
    elig = np.ones(T, bool)
    kw = dict(reference=1.0, counts=counts, min_event=14, probability=prob)
    base = dict(similarity=0.6, detector=0.5, relative=False, grow_similarity=None)
    plain = LikeParams(**base, short_similarity=None)
    rescue = LikeParams(**base, short_similarity=0.8, short_detector=0.9)
    assert not like_frames(sim, np.zeros(T), elig, params=plain, **kw).any()
    short = like_frames(sim, np.zeros(T), elig, params=rescue, **kw)
    assert short[100:106].all() and not short[200:206].any() and not short[300:306].any()
    assert not short[:100 - counts.pad].any() and not short[106 + counts.pad:200].any()
    # a long run is kept as before, whatever the short-run test
    sim[100:130], prob[100:130] = 0.65, 0.6
    long_ = like_frames(sim, np.zeros(T), elig, params=rescue, **kw)
    np.testing.assert_array_equal(long_[:150], like_frames(sim, np.zeros(T), elig, params=plain, **kw)[:150])
    assert long_[100:130].all()
    with pytest.raises(ParameterError, match="short_similarity"):
        LikeParams(short_similarity=0.0)
    with pytest.raises(ParameterError, match="short_detector"):
        LikeParams(short_detector=1.5)


def test_review_runs_are_the_looser_rule_away_from_the_events():
    from cleantake.like import LikeParams, like_frames, review_runs
    from cleantake.settings import Settings

    cfg = Settings().stft_config(SR)
    counts = Settings().counts(cfg)
    T = 500
    sim = np.zeros(T, np.float32)
    prob = np.zeros(T)
    sim[100:140], prob[100:140] = 0.9, 0.95  # an event: like the example and sure
    sim[250:270], prob[250:270] = 0.7, 0.9  # less like it, the detector sure: a candidate
    sim[350:370], prob[350:370] = 0.9, 0.3  # like it, the detector unsure: neither
    sim[141:150], prob[141:150] = 0.7, 0.9  # next to the event: part of it, not a candidate
    elig = np.ones(T, bool)
    nov = np.zeros(T, np.float32)
    rule = dict(similarity=0.8, detector=0.7, grow_similarity=None, review_similarity=0.65)
    p = LikeParams(**rule, review_detector=0.5)
    kw = dict(reference=1.0, counts=counts, probability=prob)
    found = like_frames(sim, nov, elig, min_event=4, params=p, **kw)
    runs = review_runs(sim, nov, elig, found, min_event=4, params=p, **kw)
    assert found[100:140].all() and not found[250:270].any()
    assert len(runs) == 1 and runs[0][0] <= 250 and runs[0][1] >= 270 and runs[0][1] < 350
    strict = LikeParams(**rule, review_detector=0.95)
    assert review_runs(sim, nov, elig, found, min_event=4, params=strict, **kw) == []
    with pytest.raises(ParameterError, match="review_similarity"):
        LikeParams(review_similarity=0.0)


def test_like_candidates_are_listed_never_repaired(mixed):
    """A short burst of another sound (50 ms): the detector is sure of it for too short a run
    to be an event like the example, so it is a candidate for review: listed, nothing removed
    there. (Short runs off: the default's rule for them takes this burst, whose residual has a
    cosine of 0.86 with the ring's, as an event; and the review rule's detector level at 0.5:
    the detector is less sure of this synthetic burst than the default's 0.7.)"""
    from conftest import burst

    y, _, spans = mixed
    z = y.copy()
    b = burst(SR, level=0.3, length_s=0.05)
    n0 = int(5.0 * SR)
    z[n0:n0 + b.size] += b if z.ndim == 1 else b[:, None]
    params = cleantake.LikeParams(short_similarity=None, review_detector=0.5)
    res = cleantake.clean(z, SR, interference="none", like=[spans[0]], like_params=params)
    assert [round(c.start_s) for c in res.candidates] == [5]
    for c in res.candidates:
        assert c.label == "like" and not any(c.start_s < e.end_s and e.start_s < c.end_s for e in res.events)
        a, b = int(c.start_s * SR), int(c.end_s * SR)
        assert not np.asarray(res.removed)[a:b].any()
    c = cleantake.Cleaner("none", like_params=params)
    assert c.locate(z, SR, like=[spans[0]], return_candidates=True)[1] == res.candidates


@pytest.mark.slow
def test_like_on_a_long_array_is_learned_once_and_cleaned_in_blocks_as_its_file(tmp_path):
    """``clean(like=...)`` on an array longer than two blocks: learned from the stretch
    around the example, every block looks for copies, as ``clean_file`` does on the file."""
    import soundfile as sf

    from cleantake.files import clean_file

    x = _music(30.0, seed=3)
    y, spans = _with_rings(x, (2.1, 13.3, 26.2))
    y = y.astype(np.float32).astype(np.float64)
    src = tmp_path / "long.wav"
    sf.write(src, y, SR, subtype="FLOAT")
    c = cleantake.Cleaner("none")
    kw = {"like": [spans[0]], "block_s": 8.0, "overlap_s": 2.0}
    api = c.clean(y, SR, **kw)
    assert api.stats["blocks"] >= 4
    res = clean_file(src, tmp_path / "out.wav", cleaner=c, **kw)
    assert api.events == res.events and len(api.events) == 3
    out, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert np.array_equal(out, api.cleaned.astype(np.float32))
    found = c.locate(y, SR, **kw)  # joined in the overlaps' middle: the same events up to a merged one's cut
    assert [t for e in found for t in (e.start_s, e.end_s)] == pytest.approx(
        [t for e in api.events for t in (e.start_s, e.end_s)], abs=0.002)
    long = _music(130.0, sr=8000)
    with pytest.raises(ParameterError, match="within 120 s of each other"):
        c.clean(long, 8000, like=[(2.0, 2.5), (125.0, 125.5)], block_s=8.0, overlap_s=2.0)


@pytest.mark.parametrize("repair_estimate", [False, True])
def test_example_residual_keeps_the_marked_sound_once_templates_hold_it(mixed, repair_estimate):
    """What learn_from_spans's later rounds learn from: on the analysis made with templates
    learned from the marked ring, the residual at its frames (under the location's or the
    repair's music estimate, neighbours kept away from the marks) holds nearly all the energy
    the ring adds there, and never more than the mixture."""
    from cleantake.analysis import analyse
    from cleantake.like import example_residual, learn_from_spans, span_frames

    y, x, spans = mixed
    s = cleantake.Settings()
    none = resolve_dictionary("none")
    first = analyse(y[None], SR, dictionary=none, settings=s)
    music = analyse(x[None], SR, dictionary=none, settings=s)
    marked = span_frames([cleantake.Event(*spans[0], "like", 1.0)], first.cfg, first.n_frames)
    q = np.flatnonzero(marked & ~first.partial)
    ring = np.maximum(first.V[:, q] ** 2 - music.V[:, q] ** 2, 0).sum()
    _, ana, _ = learn_from_spans(y[None], SR, marked, first=first, base=none, settings=s)
    R = example_residual(ana, marked, settings=s, repair_estimate=repair_estimate)
    assert R.shape == (first.V.shape[0], q.size)
    assert (R >= 0).all() and (R <= ana.V[:, q] + 1e-6).all()
    assert (R**2).sum() > 0.9 * ring


# ------------------------------------------------------------- a like model for other recordings


def test_a_like_model_learned_in_one_file_finds_the_interference_in_others(tmp_path):
    """``learn_like_file`` on the recording with the marked example; ``save_like_model`` /
    ``load_like_model``; ``clean_file(..., like_model=...)`` on another recording (other
    notes, 6 dB quieter, another sample rate) finds and removes its rings and nothing else,
    and on a recording without any returns the input file itself."""
    import soundfile as sf
    import soxr

    from cleantake.files import clean_file, learn_like_file, locate_file
    from cleantake.like import load_like_model, save_like_model

    y, spans = _with_rings(_music(10.0, seed=1), (2.1,))
    sf.write(tmp_path / "take1.wav", y, SR, subtype="PCM_24")
    c = cleantake.Cleaner("none")
    model = learn_like_file(tmp_path / "take1.wav", cleaner=c, like=[spans[0]])
    assert model.source == {"file": "take1.wav", "samplerate": SR, "spans": [list(spans[0])]}
    path = save_like_model(model, tmp_path / "ring")
    assert path.name == "ring.npz"
    loaded = load_like_model(path)
    assert loaded.source == model.source and loaded.longest == model.longest
    np.testing.assert_allclose(loaded.prototype, model.prototype, rtol=1e-6)

    x2 = 0.5 * _music(12.0, seed=5)
    y2, spans2 = _with_rings(x2, (3.4, 9.0))
    for sr in (SR, 32000):
        audio = y2 if sr == SR else soxr.resample(y2, SR, sr)
        src = tmp_path / f"take2_{sr}.wav"
        sf.write(src, audio, sr, subtype="FLOAT")
        res = clean_file(src, tmp_path / f"out_{sr}.wav", cleaner=c, like_model=loaded)
        for a, b in spans2:
            assert any(e.start_s < b and a < e.end_s for e in res.events), (sr, a, b)
        assert all(any(e.start_s < b and a < e.end_s for a, b in spans2) for e in res.events), res.events
        assert [(e.start_s, e.end_s) for e in locate_file(src, cleaner=c, like_model=loaded).events] == [
            (e.start_s, e.end_s) for e in res.events]
        if sr == SR:
            out, _ = sf.read(tmp_path / f"out_{sr}.wav")
            for a, b in spans2:
                assert _energy(out - x2, a, b) < 0.25 * _energy(y2 - x2, a, b)
    # the same model, in memory or read back, gives the same samples
    direct = c.clean(y2, SR, like_model=model).cleaned
    np.testing.assert_array_equal(c.clean(y2, SR, like_model=loaded).cleaned, direct)
    sf.write(tmp_path / "clean.wav", _music(8.0, seed=7), SR, subtype="PCM_16")
    res = clean_file(tmp_path / "clean.wav", tmp_path / "clean_out.wav", cleaner=c, like_model=loaded)
    assert res.events == [] and res.copied
    assert (tmp_path / "clean_out.wav").read_bytes() == (tmp_path / "clean.wav").read_bytes()
    with pytest.raises(ParameterError, match="not both"):
        clean_file(src, tmp_path / "x.wav", cleaner=c, like_model=loaded, events=[(1.0, 1.5)])
    assert not (tmp_path / "x.wav").exists()
    # one of this recording's own events marked too: learned here and looked for with the model
    both = clean_file(tmp_path / f"take2_{SR}.wav", tmp_path / "both.wav", cleaner=c, like_model=loaded,
                      like=[spans2[0]])
    assert [(e.start_s, e.end_s, e.confidence) for e in both.events][0] == (*spans2[0], 1.0)
    assert any(e.start_s < spans2[1][1] and spans2[1][0] < e.end_s for e in both.events)


def test_a_like_model_file_is_checked_and_told_apart_from_a_dictionary(mixed, tmp_path):
    import json

    from cleantake.dictionaries import load_dictionary, save_dictionary
    from cleantake.errors import DictionaryError
    from cleantake.like import load_like_model, save_like_model

    y, _, spans = mixed
    c = cleantake.Cleaner("none")
    model = c.learn_like(y, SR, [spans[0]])
    good = save_like_model(model, tmp_path / "m.npz")
    with pytest.raises(DictionaryError, match="a like model .*--like-model"):
        load_dictionary(good)
    d = save_dictionary(resolve_dictionary("cough"), tmp_path / "d.npz")
    with pytest.raises(DictionaryError, match="an interference dictionary, not a like model: give it to -i"):
        load_like_model(d)
    with pytest.raises(DictionaryError, match="not found"):
        load_like_model(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DictionaryError, match="not a cleantake like model"):
        load_like_model(tmp_path / "junk.npz")
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))

    def variant(name, **change):
        a = dict(arrays)
        m = dict(meta, **{k: v for k, v in change.items() if k != "arrays"})
        a.update(change.get("arrays", {}))
        a["meta"] = np.array(json.dumps(m))
        np.savez(tmp_path / name, **a)
        return tmp_path / name

    with pytest.raises(DictionaryError, match="version 2 like model"):
        load_like_model(variant("v2.npz", version=2))
    with pytest.raises(DictionaryError, match="damaged like model"):
        load_like_model(variant("short.npz", arrays={"prototype": arrays["prototype"][:5]}))
    with pytest.raises(DictionaryError, match="damaged"):
        load_like_model(variant("level.npz", level=-1.0))
    with pytest.raises(DictionaryError, match="damaged metadata"):
        load_like_model(variant("dict.npz", dictionary="garbage"))
    # a model is used only with the analysis it was learned with
    other = cleantake.Cleaner("none", window_ms=92.0)
    with pytest.raises(ParameterError, match="learned with 46-ms windows.*uses 92 ms"):
        other.clean(y, SR, like_model=load_like_model(good))


def test_like_models_merged_are_looked_for_together(tmp_path):
    """``merge_like_models``: one model is itself; the marked frames of every model kept, each
    compressed again with the common level (the residual they stand for unchanged); the
    merged model finds what each finds; models of other analyses refused."""
    from conftest import burst

    from cleantake.like import merge_like_models

    def put(x, sig, t):
        n0 = int(t * SR)
        y = x.copy()
        y[n0:n0 + sig.size] += sig
        return y, (n0 / SR, (n0 + sig.size) / SR)

    c = cleantake.Cleaner("none")
    r1, s1 = put(_music(10.0, seed=1), _ring(0), 3.0)
    r2, s2 = put(0.5 * _music(10.0, seed=2), burst(SR, seed=3, level=0.1), 4.0)
    ma, mb = c.learn_like(r1, SR, [s1]), c.learn_like(r2, SR, [s2])
    assert merge_like_models([ma]) is ma
    m = merge_like_models([ma, mb])
    na, nb = ma.marked_bands.shape[1], mb.marked_bands.shape[1]
    assert m.marked_bands.shape == (ma.prototype.size, na + nb)
    assert m.level == pytest.approx((na * ma.level + nb * mb.level) / (na + nb))
    for part, own in ((m.marked_bands[:, :na], ma), (m.marked_bands[:, na:], mb)):
        np.testing.assert_allclose(m.level * np.expm1(part.astype(np.float64)),
                                   own.level * np.expm1(own.marked_bands.astype(np.float64)), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(m.prototype, m.marked_bands.mean(axis=1), rtol=1e-6)
    assert m.learned.rank == ma.learned.rank + mb.learned.rank and m.longest == max(ma.longest, mb.longest)
    assert merge_like_models([ma, ma]).level == pytest.approx(ma.level)
    r3, t1 = put(_music(12.0, seed=5), _ring(1), 3.0)
    r3, t2 = put(r3, burst(SR, seed=7, level=0.1), 8.0)
    found = c.locate(r3, SR, like_model=m)
    for a, b in (t1, t2):
        assert any(e.start_s < b and a < e.end_s for e in found), (a, b, found)
    assert all(any(e.start_s < b and a < e.end_s for a, b in (t1, t2)) for e in found)
    other = cleantake.Cleaner("none", window_ms=92.0).learn_like(r1, SR, [s1])
    with pytest.raises(ParameterError, match="cannot be looked for together"):
        merge_like_models([ma, other])
    with pytest.raises(ParameterError, match="at least one"):
        merge_like_models([])
