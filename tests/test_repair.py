"""The user's control of the repair: Cleaner.clean(events=..., keep=...), and the checks of
its inputs (spans, array layout, sample rate)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cleantake
from cleantake import Event
from cleantake.errors import ParameterError

from test_pipeline import SR, _mixture


@pytest.fixture(scope="module")
def mixed():
    return _mixture()


@pytest.fixture(scope="module")
def cleaner():
    return cleantake.Cleaner("any")


def _outside(spans, n):
    m = np.ones(n, bool)
    for a, b, *_ in spans:
        m[int(np.floor(a * SR)):int(np.ceil(b * SR))] = False
    return m


def test_marked_spans_only_are_repaired(mixed, cleaner):
    y, x, (t0, t1) = mixed
    spans = [(t0 - 0.05, t1 + 0.05), (1.0, 1.2, 0.5)]
    res = cleaner.clean(y, SR, events=spans)
    out = _outside(spans, y.size)
    np.testing.assert_array_equal(res.cleaned[out], y[out])
    assert not res.removed[out].any()
    assert [(e.start_s, e.end_s, e.label, e.strength) for e in res.events] == [
        (1.0, 1.2, "marked", 0.5), (t0 - 0.05, t1 + 0.05, "marked", 1.0)]
    # The burst is removed: the output is closer to the music than the input was there.
    a, b = int(t0 * SR), int(t1 * SR)
    assert np.sum((res.cleaned[a:b] - x[a:b]) ** 2) < 0.5 * np.sum((y[a:b] - x[a:b]) ** 2)


def test_marked_spans_at_both_ends_of_the_file_are_repaired(mixed, cleaner):
    # The automatic location ignores the first and last quarter second (Settings.edge_ms); a
    # span the user marks there is repaired all the same (the README's advice for such events).
    _, x, _ = mixed
    n, k = x.size, int(0.2 * SR)
    y = x.copy()
    noise = np.random.default_rng(3).normal(0, 0.3, (2, k))
    y[:k] += noise[0]
    y[-k:] += noise[1]
    res = cleaner.clean(y, SR, events=[(0.0, k / SR), ((n - k) / SR, n / SR)])
    for part in (slice(0, k), slice(n - k, n)):
        burst = y[part] - x[part]
        assert np.sum(res.removed[part] ** 2) > 0.5 * np.sum(burst ** 2)
        assert np.sum((res.cleaned[part] - x[part]) ** 2) < 0.5 * np.sum(burst ** 2)
    inside = slice(int(0.5 * SR), n - int(0.5 * SR))
    np.testing.assert_array_equal(res.cleaned[inside], y[inside])


def test_marked_span_strength_zero_returns_the_input(mixed, cleaner):
    y = mixed[0]
    res = cleaner.clean(y, SR, events=[(2.0, 4.0, 0.0)])
    np.testing.assert_array_equal(res.cleaned, y)
    zero = cleantake.Cleaner("any", strength=0.0).clean(y, SR, events=[(2.0, 4.0)])
    np.testing.assert_array_equal(zero.cleaned, y)


def test_marked_events_keep_their_label_and_stereo(mixed, cleaner):
    y, _, (t0, t1) = mixed
    st2 = np.stack([y, 0.5 * y], axis=1)
    ev = Event(t0, t1, "cough", 0.9)
    res = cleaner.clean(st2, SR, events=[ev])
    assert res.events == [ev] and res.cleaned.shape == st2.shape
    np.testing.assert_allclose(res.removed[:, 1], 0.5 * res.removed[:, 0], atol=1e-9)


def test_keep_span_is_untouched_and_drops_its_events(mixed, cleaner):
    y, _, (t0, t1) = mixed
    base = cleaner.clean(y, SR)
    assert base.events
    keep = [(t0 - 0.1, t1 + 0.1)]
    res = cleaner.clean(y, SR, keep=keep)
    inside = ~_outside(keep, y.size)
    np.testing.assert_array_equal(res.cleaned[inside], y[inside])
    assert not res.removed[inside].any()
    assert not any(e.start_s < keep[0][1] and keep[0][0] < e.end_s for e in res.events)
    assert len(res.events) < len(base.events)
    assert cleaner.locate(y, SR, keep=keep) == res.events


def test_keep_elsewhere_changes_nothing_far_from_it(mixed, cleaner):
    y, _, _ = mixed
    base = cleaner.clean(y, SR)
    res = cleaner.clean(y, SR, keep=[(0.5, 0.8)])
    assert res.events == base.events
    far = np.ones(y.size, bool)
    far[: int(1.0 * SR)] = False
    np.testing.assert_array_equal(res.removed[far], base.removed[far])


@pytest.mark.parametrize("spans, words", [
    ([(5.0, 7.0)], "after the end of the recording"),
    ([(-0.5, 1.0)], "before the start of the recording"),
    ([(2.0, 1.0)], "reversed"),
    ([(1.0, 1.0)], "no length"),
    ([(1.0, 2.0), (1.5, 2.5)], "overlap"),
    ([(1.0, 2.0, 1.5)], "strength"),
    ([(1.0, 2.0, -0.1)], "strength"),
    ([("a", 2.0)], "numbers"),
    ([(1.0,)], "start_s, end_s"),
    ([3.0], "start_s, end_s"),
])
def test_bad_spans_are_refused_in_seconds(mixed, cleaner, spans, words):
    y = mixed[0][: 3 * SR]
    with pytest.raises(ParameterError, match=words) as e:
        cleaner.clean(y, SR, events=spans)
    first = spans[0]
    if isinstance(first, tuple) and isinstance(first[0], float) and len(first) > 1:
        assert " s" in str(e.value)


def test_bad_keep_is_refused(mixed, cleaner):
    y = mixed[0][: 3 * SR]
    with pytest.raises(ParameterError, match="keep"):
        cleaner.clean(y, SR, keep=[(0.0, 9.0)])
    with pytest.raises(ParameterError, match="keep"):
        cleaner.clean(y, SR, keep=[(0.0, 1.0, 0.5)])


def test_marked_spans_need_the_proposed_method(mixed):
    with pytest.raises(ParameterError, match="proposed"):
        cleantake.Cleaner(method="nmf").clean(mixed[0], SR, events=[(1.0, 2.0)])


def test_channels_first_layout_is_refused_with_a_hint():
    x = np.zeros((2, SR))
    with pytest.raises(ParameterError, match=r"\.T"):
        cleantake.clean(x, SR)
    with pytest.raises(ParameterError, match="n_samples, n_channels"):
        cleantake.clean(np.zeros((1000, 65)), SR)
    assert cleantake.clean(x.T, SR).cleaned.shape == (SR, 2)


@pytest.mark.parametrize("sr", [0, -44100, 44100.5, 800000, float("nan"), "44100", True])
def test_bad_sample_rate_is_refused(sr):
    with pytest.raises(ParameterError, match="sample rate"):
        cleantake.clean(np.zeros(4096), sr)


def test_whole_float_sample_rate_is_accepted():
    assert cleantake.clean(np.zeros(4096), 22050.0).sr == 22050


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(1e-3, 1e3), start=st.floats(0.0, 5.0), length=st.floats(0.01, 0.9))
def test_cleaned_is_input_minus_removed_exactly(scale, start, length):
    """``audio - removed == cleaned`` exactly; ``cleaned + removed`` is within one rounding."""
    y = _mixture()[0] * scale
    res = cleantake.Cleaner("any").clean(y, SR, events=[(start, start + length)])
    np.testing.assert_array_equal(y - res.removed, res.cleaned)
    err = np.abs(res.cleaned + res.removed - y)
    assert np.all(err <= np.spacing(np.maximum(np.abs(y), np.abs(res.cleaned))))


# -- the repair's own kernel, statistic and span fade (benchmarks/REPAIR.md) ----------------
@pytest.fixture(scope="module")
def analysed(mixed, cleaner):
    y = mixed[0]
    return cleaner.analyse(y[None, :], SR)


@settings(max_examples=20, deadline=None)
@given(start=st.integers(0, 400), length=st.integers(1, 60), k=st.integers(1, 12),
       compress=st.sampled_from([0.1, 0.3, 1.0, 10.0, (1.0, 10.0)]),
       context=st.sampled_from([0.0, 46.0, (23.0, 46.0, 92.0, 184.0)]),
       statistic=st.sampled_from(["median", "mean"]), power=st.sampled_from([1.0, 2.0, 3.0]))
def test_music_estimate_stays_under_the_mixture_and_masks_in_unit_range(analysed, start, length, k, compress, context,
                                                                        statistic, power):
    from cleantake.repair import music_estimate, repair_kernels

    ana = analysed
    s = cleantake.Settings(repair_k=k, repair_compress=compress, repair_context_ms=context,
                           repair_statistic=statistic, mask_power=power)
    frames = np.arange(start, min(start + length, ana.n_frames))
    est = music_estimate(ana, frames, settings=s, kernels=repair_kernels(ana, s), k=k, statistic=statistic)
    assert est.S.shape == est.M.shape == (ana.V.shape[0], frames.size)
    assert np.all(est.S >= 0) and np.all(est.S <= ana.V[:, frames])
    assert np.all((est.M >= 0) & (est.M <= 1))


def test_repair_kernels_pair_every_compression_with_every_context(analysed):
    from cleantake.repair import repair_kernels

    one = repair_kernels(analysed, cleantake.Settings(repair_compress=0.1, repair_context_ms=46.0))
    assert len(one) == 1 and one[0][0] is analysed.Fm and one[0][1] == 4  # 46 ms at an 11.5-ms hop
    kernels = repair_kernels(analysed, cleantake.Settings(repair_compress=(1.0, 10.0),
                                                          repair_context_ms=(23.0, 46.0, 92.0)))
    assert [c for _, c in kernels] == [2, 4, 8, 2, 4, 8]
    assert kernels[0][0] is kernels[2][0] and kernels[0][0].shape == analysed.Fm.shape
    assert not np.array_equal(kernels[0][0], kernels[3][0]) and not np.array_equal(kernels[0][0], analysed.Fm)


def test_several_kernels_pool_their_neighbours(analysed):
    """The estimate of several kernels is the statistic over the k nearest frames of each
    (with the mean: the mean of each kernel's own mean), and a kernel with more context than
    ``context_ms`` keeps its neighbours that much further from the excluded frames."""
    from cleantake.kam import knn_frames, statistic_over
    from cleantake.repair import music_estimate, repair_kernels

    ana = analysed
    s = cleantake.Settings(repair_compress=(1.0, 10.0), repair_context_ms=(23.0, 184.0), repair_statistic="mean")
    kernels = repair_kernels(ana, s)
    ctx = s.counts(ana.cfg).context
    exclude = np.zeros(ana.n_frames, bool)
    exclude[200:240] = True
    frames = np.arange(205, 235)
    got = music_estimate(ana, frames, settings=s, kernels=kernels, k=2, statistic="mean", exclude=exclude)
    idx = []
    for F, kc in kernels:
        widened = exclude.copy()
        widened[200 - max(0, kc - ctx):240 + max(0, kc - ctx)] = True
        i = knn_frames(F, frames, k=2, context=kc, exclude=widened | ana.partial, min_separation=kc)
        assert not widened[i].any()
        idx.append(i)
    pooled = np.concatenate(idx, axis=1)
    np.testing.assert_array_equal(got.S, np.minimum(statistic_over(ana.V, pooled, "mean"), ana.V[:, frames]))
    np.testing.assert_allclose(statistic_over(ana.V, pooled, "mean"),
                               np.mean([statistic_over(ana.V, i, "mean") for i in idx], axis=0), rtol=1e-5)
    with pytest.raises(ParameterError, match="features or kernels"):
        music_estimate(ana, frames, settings=s, kernels=kernels, features=ana.Fm)


def test_min_separation_keeps_neighbours_away_from_the_frame(analysed):
    """``min_separation`` (the like finder's half second) keeps every kernel's neighbours at
    least that far from the frame estimated; a kernel's own context stays the floor."""
    from cleantake.kam import knn_frames, statistic_over
    from cleantake.repair import music_estimate, repair_kernels

    ana = analysed
    s = cleantake.Settings(repair_compress=(1.0,), repair_context_ms=(23.0, 184.0), repair_statistic="mean")
    kernels = repair_kernels(ana, s)
    frames = np.arange(100, 140)
    sep = 200
    # without it, some of the nearest frames lie within ``sep`` (so the test can fail)
    plain = [knn_frames(F, frames, k=2, context=kc, exclude=ana.partial, min_separation=kc) for F, kc in kernels]
    assert any((np.abs(i - frames[:, None]) <= sep).any() for i in plain)
    got = music_estimate(ana, frames, settings=s, kernels=kernels, k=2, statistic="mean", min_separation=sep)
    idx = [knn_frames(F, frames, k=2, context=kc, exclude=ana.partial, min_separation=max(sep, kc))
           for F, kc in kernels]
    for i in idx:
        assert (np.abs(i - frames[:, None]) > sep).all()
    pooled = np.concatenate(idx, axis=1)
    np.testing.assert_array_equal(got.S, np.minimum(statistic_over(ana.V, pooled, "mean"), ana.V[:, frames]))


def test_statistics_over_neighbours():
    from cleantake.kam import mean_over, median_over, statistic_over

    rng = np.random.default_rng(0)
    S = rng.random((2, 5, 30)).astype(np.float32)
    idx = rng.integers(0, 30, size=(7, 4))
    np.testing.assert_allclose(mean_over(S, idx), S[..., idx].mean(axis=-1), rtol=1e-6)
    np.testing.assert_array_equal(statistic_over(S, idx, "median"), median_over(S, idx))
    with pytest.raises(ParameterError, match="median, mean"):
        statistic_over(S, idx, "mode")


@pytest.mark.parametrize("params, words", [
    ({"repair_statistic": "mode"}, "repair_statistic"),
    ({"repair_compress": 0.0}, "repair_compress"),
    ({"repair_compress": ()}, "repair_compress"),
    ({"repair_context_ms": (46.0, -1.0)}, "repair_context_ms"),
    ({"repair_context_ms": "long"}, "repair_context_ms"),
    ({"repair_k": 0}, "repair_k"),
    ({"span_fade_ms": -1.0}, "span_fade_ms"),
    ({"nmf_guard_release_width_db": 0.0}, "nmf_guard_release_width_db"),
    ({"nmf_guard_release_db": float("nan")}, "nmf_guard_release_db"),
    ({"span_windows_ms": (92.0, 600.0)}, "span_windows_ms"),
    ({"span_windows_ms": 2.0}, "span_windows_ms"),
    ({"span_windows_ms": "long"}, "span_windows_ms"),
])
def test_bad_repair_settings_are_refused(params, words):
    with pytest.raises(ParameterError, match=words):
        cleantake.Cleaner("any", **params)


def test_location_does_not_depend_on_the_repair_settings(mixed, cleaner):
    """The repair's kernel and statistic change what is removed, never which events are found;
    nothing is removed farther from an event than its longest repair window reaches (half the
    window, beyond the event's frames and their fade)."""
    y = mixed[0]
    old = cleaner.with_settings(repair_compress=0.1, repair_statistic="median")
    a, b = cleaner.clean(y, SR), old.clean(y, SR)
    assert a.events == b.events and a.events
    reach = cleaner.settings.reach_s(SR)
    outside = np.ones(y.size, bool)
    for e in a.events:
        outside[max(0, int((e.start_s - reach) * SR)):int((e.end_s + reach) * SR)] = False
    assert not a.removed[outside].any() and not b.removed[outside].any()


def test_old_repair_settings_reuse_the_location_estimates(mixed, cleaner, analysed):
    """With the location's kernel and median the repair reuses its estimates: the same removed
    signal as estimating every frame anew with the location's exclusion."""
    from cleantake.locate import locate_events
    from cleantake.repair import repair

    s = cleaner.settings.replace(repair_compress=0.1, repair_statistic="median", repair_context_ms=46.0, repair_k=4)
    loc = locate_events(analysed, settings=s, dictionary=cleaner.dictionary)
    assert loc.frames.any()
    with_music = repair(analysed, loc.frames, settings=s, exclude=loc.exclude, music=loc.music)
    # New settings: the location's estimates are not used (they are not the ones they make).
    s_new = cleaner.settings
    r1 = repair(analysed, loc.frames, settings=s_new, exclude=loc.exclude, music=loc.music)
    r2 = repair(analysed, loc.frames, settings=s_new, exclude=loc.exclude)
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(r1, with_music)


@settings(max_examples=8, deadline=None)
@given(fade_ms=st.floats(0.0, 30.0))
def test_span_fade_only_changes_the_edges_of_each_span(mixed, fade_ms):
    """A given span's removed part fades in and out over span_fade_ms inside its edges: outside
    those edges it is the same whatever the fade, and inside them never larger."""
    y, _, (t0, t1) = mixed
    span = (t0, t1)
    a = _removed_with_fade(y, span, 60.0)
    b = _removed_with_fade(y, span, fade_ms)
    i0, i1 = int(np.floor(t0 * SR)), int(np.ceil(t1 * SR))
    f = int(round(0.060 * SR))
    np.testing.assert_array_equal(a[i0 + f:i1 - f], b[i0 + f:i1 - f])
    assert not a[:i0].any() and not b[:i0].any() and not b[i1:].any()
    assert np.all(np.abs(b[i0:i1]) >= np.abs(a[i0:i1]) - 1e-12)
    # Most of what is removed right at the start survives a short fade.
    head = slice(i0, i0 + int(0.03 * SR))
    if fade_ms <= 5.0:
        assert np.sum(b[head] ** 2) > np.sum(a[head] ** 2)


def _removed_with_fade(y, span, fade_ms):
    return cleantake.Cleaner("any", span_fade_ms=fade_ms).clean(y, SR, events=[span]).removed


@pytest.mark.parametrize("model", ["auto", "spatial", "diffuse"])
def test_spatial_repair_takes_a_panned_burst_from_its_side(mixed, model):
    """Stereo music (the right channel at 0.7 of the left) with a burst in the left channel
    only: the spatial repair, with or without a diffuse part (whose share is measured on
    nothing but the right channel's misfit here), leaves the right channel nearly as it is and
    cleans the left closer to the music than one mask for both channels does."""
    y, x, (t0, t1) = mixed
    stereo = np.stack([y, 0.7 * x], axis=1)
    music = np.stack([x, 0.7 * x], axis=1)
    span = [(t0 - 0.02, t1 + 0.02)]
    a, b = int(span[0][0] * SR), int(span[0][1] * SR)
    spatial = cleantake.Cleaner("any", stereo_model=model).clean(stereo, SR, events=span)
    mask = cleantake.Cleaner("any", stereo_model="mask").clean(stereo, SR, events=span)
    err = lambda res: np.sum((res.cleaned[a:b] - music[a:b]) ** 2, axis=0)  # noqa: E731
    assert np.sum(spatial.removed[:, 1] ** 2) < 0.05 * np.sum(mask.removed[:, 1] ** 2)
    assert err(spatial)[0] < 0.5 * err(mask)[0]
    assert err(spatial)[0] < 0.01 * np.sum((y[a:b] - x[a:b]) ** 2)
    np.testing.assert_allclose(spatial.cleaned + spatial.removed, stereo, atol=1e-12)


def test_stereo_model_is_checked():
    with pytest.raises(ParameterError, match="stereo_model must be 'auto' or 'spatial' or 'diffuse' or 'mask'"):
        cleantake.Cleaner("any", stereo_model="wiener")


@pytest.mark.parametrize("rate,lag", [(44100, 30), (96000, 67)])
def test_spatial_repair_follows_a_burst_that_reaches_one_channel_later(mixed, rate, lag):
    """As a spaced microphone pair hears it: the burst reaches the right channel 0.7 ms later
    (30 samples at 44.1 kHz; 67 at 96 kHz, off the 44.1-kHz grid the delay search starts from)
    and quieter. The steering vector's delay follows it: both channels end closer to the music
    than with one mask."""
    import soxr

    y, x, (t0, t1) = mixed
    if rate != SR:
        y, x = soxr.resample(y, SR, rate), soxr.resample(x, SR, rate)
    burst = y - x
    late = np.zeros_like(burst)
    late[lag:] = 0.6 * burst[:-lag]
    stereo = np.stack([y, 0.7 * x + late], axis=1)
    music = np.stack([x, 0.7 * x], axis=1)
    span = [(t0 - 0.02, t1 + 0.02)]
    a, b = int(span[0][0] * rate), int(span[0][1] * rate)
    err = {m: np.sum((cleantake.Cleaner("any", stereo_model=m).clean(stereo, rate, events=span).cleaned[a:b]
                      - music[a:b]) ** 2, axis=0) for m in ("spatial", "mask")}
    before = np.sum((stereo[a:b] - music[a:b]) ** 2, axis=0)
    assert np.all(err["spatial"] < 0.5 * err["mask"])
    assert np.all(err["spatial"] < 0.01 * before)


@pytest.mark.parametrize("diffuse", [None, 0.0])
@pytest.mark.parametrize("channels", [2, 3])
def test_spatial_estimate_does_not_depend_on_its_chunks(channels, diffuse):
    from cleantake.repair import spatial_interference

    rng = np.random.default_rng(3)
    n_freq, T = 65, 400
    X = (rng.normal(size=(channels, n_freq, T)) + 1j * rng.normal(size=(channels, n_freq, T))).astype(np.complex64)
    frames = np.r_[20:45, 100:101, 230:300]
    power = np.abs(rng.normal(size=(n_freq, frames.size))) * channels
    shortfall = np.abs(rng.normal(size=(n_freq, frames.size)))
    reference = np.ones(T, bool)
    reference[frames] = False
    freqs = np.linspace(0, 8000, n_freq)
    whole = spatial_interference(X, frames, power, shortfall, reference, freqs, diffuse=diffuse)
    pieces = spatial_interference(X, frames, power, shortfall, reference, freqs, chunk=7, diffuse=diffuse)
    assert whole.shape == (channels, n_freq, frames.size) and np.all(np.isfinite(whole))
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-6)
    if diffuse is not None:  # independent noise in every channel: each run has a diffuse part
        assert not np.allclose(whole, spatial_interference(X, frames, power, shortfall, reference, freqs))


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_spatial_estimate_reads_the_music_only_at_its_reference_frames(channels):
    """The music's spatial covariance comes from the reference frames alone: what the other
    frames hold (here: anything, loud) changes nothing at the frames estimated."""
    from cleantake.repair import spatial_interference

    rng = np.random.default_rng(11)
    n_freq, T = 33, 300
    X = (rng.normal(size=(channels, n_freq, T)) + 1j * rng.normal(size=(channels, n_freq, T))).astype(np.complex64)
    frames = np.arange(120, 150)
    power = np.abs(rng.normal(size=(n_freq, frames.size))) * channels
    shortfall = np.abs(rng.normal(size=(n_freq, frames.size)))
    reference = np.ones(T, bool)
    reference[100:170] = False  # the event's frames and some around them
    freqs = np.linspace(0, 8000, n_freq)
    est = spatial_interference(X, frames, power, shortfall, reference, freqs)
    other = X.copy()
    other[:, :, 100:120] = 50 * rng.normal(size=(channels, n_freq, 20))
    other[:, :, 150:170] = 0
    np.testing.assert_array_equal(spatial_interference(other, frames, power, shortfall, reference, freqs), est)
    # ... and what the reference frames hold does change it (with more than one channel)
    moved = X.copy()
    moved[:, :, :100] *= np.arange(1, channels + 1)[:, None, None]
    assert channels == 1 or not np.allclose(spatial_interference(moved, frames, power, shortfall, reference, freqs),
                                            est)


def test_spatial_estimate_never_exceeds_the_mixture_in_a_bin():
    """A diffuse burst (independent in each channel) is not one direction: the estimate is
    capped at the mixture's magnitude in every channel and bin."""
    from cleantake.repair import spatial_interference

    rng = np.random.default_rng(5)
    n_freq, T = 65, 300
    X = (rng.normal(size=(2, n_freq, T)) + 1j * rng.normal(size=(2, n_freq, T))).astype(np.complex64)
    frames = np.arange(100, 160)
    X[:, :, frames] *= 20  # loud, and independent in the two channels
    power = np.full((n_freq, frames.size), 2.0)
    shortfall = np.abs(X[:, :, frames]).mean(axis=0)
    reference = np.ones(T, bool)
    reference[frames] = False
    est = spatial_interference(X, frames, power, shortfall, reference, np.linspace(0, 8000, n_freq))
    assert np.all(np.abs(est) <= np.abs(X[:, :, frames]) * (1 + 1e-5) + 1e-6)
    assert np.abs(est).sum() > 0.3 * np.abs(X[:, :, frames]).sum()


def test_diffuse_model_takes_a_decorrelated_burst_the_one_direction_model_leaves(mixed):
    """A burst that reaches the two channels as independent noise (a hall's reverberant tail):
    the one-direction model cannot take it from both channels, the diffuse one takes most of it;
    cleaned + removed is still the input."""
    y, x, (t0, t1) = mixed
    burst = y - x
    other = np.random.default_rng(5).standard_normal(burst.size) * np.std(burst)
    other *= np.abs(burst) > 0  # the same support, another waveform
    stereo = np.stack([y, 0.7 * x + 0.8 * other], axis=1)
    music = np.stack([x, 0.7 * x], axis=1)
    span = [(t0 - 0.02, t1 + 0.02)]
    a, b = int(span[0][0] * SR), int(span[0][1] * SR)
    res = {m: cleantake.Cleaner("any", stereo_model=m).clean(stereo, SR, events=span) for m in ("spatial", "diffuse")}
    err = {m: np.sum((r.cleaned[a:b] - music[a:b]) ** 2) for m, r in res.items()}
    assert err["diffuse"] < 0.7 * err["spatial"], err
    np.testing.assert_allclose(res["diffuse"].cleaned + res["diffuse"].removed, stereo, atol=1e-12)


@pytest.mark.parametrize("kind", ["panned", "decorrelated"])
def test_auto_stereo_model_gives_the_diffuse_part_only_to_an_incoherent_event(mixed, kind):
    """``auto`` measures each event's diffuse share: a burst from one place (panned: the same
    waveform in both channels) is repaired exactly as by the one-direction model, a burst that
    reaches the channels as independent noise (a hall's tail) exactly as by the diffuse one."""
    y, x, (t0, t1) = mixed
    burst = y - x
    if kind == "panned":
        second = 0.7 * x + 0.6 * burst
    else:
        other = np.random.default_rng(5).standard_normal(burst.size) * np.std(burst)
        second = 0.7 * x + 0.8 * other * (np.abs(burst) > 0)
    stereo = np.stack([y, second], axis=1)
    span = [(t0 - 0.02, t1 + 0.02)]
    res = {m: cleantake.Cleaner("any", stereo_model=m).clean(stereo, SR, events=span).removed
           for m in ("auto", "spatial", "diffuse")}
    same, other_model = ("spatial", "diffuse") if kind == "panned" else ("diffuse", "spatial")
    np.testing.assert_array_equal(res["auto"], res[same])
    assert not np.array_equal(res["auto"], res[other_model])


def _removed_at(y, spans, window_ms):
    """What the repair of ``spans`` removes at one STFT alone (no further windows)."""
    return cleantake.Cleaner("any", window_ms=window_ms, hop_ms=window_ms / 4, span_windows_ms=()).clean(
        y, SR, events=spans).removed


def _removed_with(y, spans, windows):
    return cleantake.Cleaner("any", span_windows_ms=windows).clean(y, SR, events=spans).removed


@pytest.mark.parametrize("seconds", [None, 0.15])
def test_given_spans_are_the_mean_of_the_repairs_at_each_window(mixed, seconds):
    """With span_windows_ms (92 and 184 ms, the measured choice), a given span's repair is the
    mean of the repair at the analysis's STFT and one repair at each further window, each made
    on its own: ``3 R(92, 184) = 2 R(92) + 2 R(184) - R()``. A window longer than the recording
    is left out (0.15 s: the 184-ms window)."""
    y, _, (t0, t1) = mixed
    spans = [(t0, t1), (1.0, 1.3)]
    if seconds is not None:
        a = int(t0 * SR)
        y, spans = y[a:a + int(seconds * SR)], [(0.02, 0.1)]
    res = cleantake.Cleaner("any", span_windows_ms=(92.0, 184.0)).clean(y, SR, events=spans)
    one = _removed_at(y, spans, 46.0)
    r92, r184 = _removed_with(y, spans, (92.0,)), _removed_with(y, spans, (184.0,))
    if seconds is None:
        np.testing.assert_allclose(3 * res.removed, 2 * r92 + 2 * r184 - one, rtol=0, atol=1e-9)
        # Each further window changes what is removed.
        assert not np.allclose(r92, one, atol=1e-6) and not np.allclose(r184, r92, atol=1e-6)
    else:
        np.testing.assert_array_equal(r184, one)
        np.testing.assert_allclose(res.removed, r92, rtol=0, atol=1e-12)
        assert not np.allclose(r92, one, atol=1e-6)
    assert np.abs(res.removed).max() > 0
    np.testing.assert_array_equal(y - res.removed, res.cleaned)


def test_no_further_windows_is_the_analysis_stft_alone(mixed):
    """``span_windows_ms=()`` is the repair at the analysis's STFT (46 ms) alone; the default
    adds the measured 92 and 184-ms windows."""
    y, _, (t0, t1) = mixed
    assert cleantake.Settings().span_windows_ms == (92.0, 184.0)
    one = cleantake.Cleaner("any", span_windows_ms=()).clean(y, SR, events=[(t0, t1)])
    np.testing.assert_array_equal(one.removed, _removed_at(y, [(t0, t1)], 46.0))
    default = cleantake.Cleaner("any").clean(y, SR, events=[(t0, t1)])
    np.testing.assert_array_equal(default.removed, _removed_with(y, [(t0, t1)], (92.0, 184.0)))
    assert not np.allclose(default.removed, one.removed, atol=1e-6)


def test_spans_learned_without_a_dictionary_use_the_analysis_stft_alone(mixed):
    """With ``none`` the templates are learned from the spans, and the further windows are
    not used (they gained nothing measurable there: REPAIR.md, session 34)."""
    y, _, (t0, t1) = mixed
    spans = [(t0, t1)]
    default = cleantake.Cleaner("none").clean(y, SR, events=spans).removed
    assert cleantake.Settings().span_windows_ms
    np.testing.assert_array_equal(default, cleantake.Cleaner("none", span_windows_ms=()).clean(
        y, SR, events=spans).removed)
    assert np.abs(default).max() > 0


def test_the_analysis_window_is_not_repaired_twice(mixed):
    """A further window equal to the analysis's own, or given twice, adds no second repair
    there: the mean is over distinct resolutions."""
    y, _, (t0, t1) = mixed
    spans = [(t0, t1)]
    assert [s.window_ms for s in cleantake.Settings(span_windows_ms=(46.0, 92.0, 92.0)).span_settings()] == [92.0]
    np.testing.assert_array_equal(_removed_with(y, spans, (46.0, 92.0, 92.0)), _removed_with(y, spans, (92.0,)))
    np.testing.assert_array_equal(_removed_with(y, spans, (46.0,)), _removed_at(y, spans, 46.0))


def _located_with(y, windows):
    return cleantake.Cleaner("any", located_windows_ms=windows).clean(y, SR)


@pytest.mark.parametrize("channels", [1, 2])
def test_located_events_at_further_windows_are_the_mean_of_the_repairs_at_each_window(mixed, channels):
    """With located_windows_ms the located events are repaired as given spans are: the mean
    of the repair at the analysis's STFT and one repair at each further window,
    ``3 R(92, 184) = 2 R(92) + 2 R(184) - R()``, with the same events found; nothing changes
    away from them, and ``cleaned + removed == input``."""
    y, x, (t0, t1) = mixed
    if channels == 2:
        y = np.stack([y, 0.6 * x + 0.8 * (y - x)], axis=1)
    one = _located_with(y, ())
    assert one.events and all(e.start_s < t1 and e.end_s > t0 for e in one.events)
    both, r92, r184 = (_located_with(y, w) for w in ((92.0, 184.0), (92.0,), (184.0,)))
    assert both.events == one.events == r92.events
    # the default: the located events at the analysis's STFT and at 184 ms
    assert cleantake.Settings().located_windows_ms == (184.0,)
    np.testing.assert_array_equal(cleantake.Cleaner("any").clean(y, SR).removed, r184.removed)
    np.testing.assert_allclose(3 * both.removed, 2 * r92.removed + 2 * r184.removed - one.removed, rtol=0,
                               atol=1e-9)
    assert not np.allclose(r92.removed, one.removed, atol=1e-6) and not np.allclose(r184.removed, r92.removed,
                                                                                    atol=1e-6)
    # Outside the events (and a 184-ms window with the repair's ramp around them) nothing changes.
    reach = 0.184 + 0.035
    far = np.ones(len(y), bool)
    for e in both.events:
        far[max(0, int((e.start_s - reach) * SR)):int((e.end_s + reach) * SR)] = False
    assert not np.any(both.removed[far])
    np.testing.assert_array_equal(y - both.removed, both.cleaned)


@pytest.mark.parametrize("windows", [(92.0, 184.0), (184.0,)])
def test_located_further_windows_leave_clean_music_bit_identical(mixed, windows):
    """Where nothing is located, the further windows change nothing: the output is the input."""
    _, x, _ = mixed
    res = _located_with(x, windows)
    assert res.events == []
    np.testing.assert_array_equal(res.cleaned, x)
    assert not res.removed.any()


def test_located_windows_are_checked():
    """located_windows_ms takes 0 to 8 windows from 5 to 500 ms, as span_windows_ms."""
    with pytest.raises(ParameterError, match="located_windows_ms"):
        cleantake.Cleaner("any", located_windows_ms=(92.0, 600.0))
    assert [s.window_ms for s in cleantake.Settings(located_windows_ms=(46.0, 92.0)).span_settings(located=True)] \
        == [92.0]


def test_trimmed_spans_are_repaired_where_the_detector_hears_the_event(mixed):
    """With trim_spans a loose mark is repaired only around the event the detector hears in it
    (what is removed equals the repair of the trimmed span given exactly), nothing changes
    outside the mark, the events reported are the marks as given, and ``cleaned + removed ==
    input``; a mark over music alone, where the detector hears nothing, is repaired whole."""
    from cleantake.locate import trim_spans

    y, x, (t0, t1) = mixed
    loose = [(t0 - 0.5, t1 + 0.5)]
    cl = cleantake.Cleaner("any", trim_spans=True)
    ana = cl.analyse(y[:, None].T if y.ndim == 1 else y.T, SR)
    (tr,) = trim_spans(ana, [Event(*loose[0], "marked", 1.0)], settings=cl.settings, dictionary=cl.dictionary)
    # Inside the mark, at least half a second shorter, and still over most of the burst.
    assert loose[0][0] <= tr.start_s < tr.end_s <= loose[0][1]
    assert (tr.end_s - tr.start_s) < (loose[0][1] - loose[0][0]) - 0.5
    assert min(tr.end_s, t1) - max(tr.start_s, t0) >= 0.8 * (t1 - t0)
    res = cl.clean(y, SR, events=loose)
    assert [(e.start_s, e.end_s) for e in res.events] == [loose[0]]
    # Inside the trimmed span what is removed is the repair of the trimmed span given exactly
    # (at its edges the trim keeps the repair's ramp, where an exact mark fades out)...
    exact = cleantake.Cleaner("any").clean(y, SR, events=[(tr.start_s, tr.end_s)]).removed
    inner = slice(int((tr.start_s + 0.01) * SR), int((tr.end_s - 0.01) * SR))
    np.testing.assert_array_equal(res.removed[inner], exact[inner])
    # ... and nothing is removed beyond the repair's reach from it (ramp and half a 184-ms window).
    assert not np.any(res.removed[_outside([(tr.start_s - 0.2, tr.end_s + 0.2)], len(y))])
    assert not np.allclose(res.removed, cleantake.Cleaner("any").clean(y, SR, events=loose).removed, atol=1e-6)
    np.testing.assert_array_equal(y - res.removed, res.cleaned)
    assert not np.any(res.removed[_outside(loose, len(y))])
    # Music alone: the detector hears nothing there, the mark is repaired whole.
    quiet = [(1.0, 1.6)]
    np.testing.assert_array_equal(cl.clean(y, SR, events=quiet).removed,
                                  cleantake.Cleaner("any").clean(y, SR, events=quiet).removed)


def test_trimmed_spans_need_the_learned_locator(mixed):
    """A single-class preset locates with the stack, not the detector: trim_spans changes nothing."""
    y, _, (t0, t1) = mixed
    loose = [(t0 - 0.5, t1 + 0.5)]
    np.testing.assert_array_equal(cleantake.Cleaner("door", trim_spans=True).clean(y, SR, events=loose).removed,
                                  cleantake.Cleaner("door").clean(y, SR, events=loose).removed)


@pytest.mark.corpus
def test_released_guard_takes_more_of_a_loud_cough_and_only_where_it_is_loud():
    """``nmf_guard_release_db``: a corpus cough 12 dB over its recipe's level, its true spans
    given. The NMF fitted to that recording lends music templates to the cough, so the guard
    keeps part of it; released where a frame is that much louder than its music estimate, more
    is removed (never less), the cleaned music is closer to the true music, and nothing changes
    outside the spans."""
    from test_pipeline import CORPUS

    from cleantake import corpus as C

    if not (CORPUS / "metadata.csv").is_file():
        pytest.skip("corpus not found beside the repository")
    rec = next(r for r in C.cv_recipes(CORPUS, 1, sets=("stems",)) if r["class"] == "cough" and r["level_db"] == 0)
    mix, music, inter, sr = C.build_mixture(CORPUS, rec)
    spans = C.event_spans(CORPUS, rec)
    y = (music + inter * 10 ** (12 / 20))[:, 0]
    held = cleantake.Cleaner("any").clean(y, sr, events=spans)
    released = cleantake.Cleaner("any", nmf_guard_release_db=6.0).clean(y, sr, events=spans)
    np.testing.assert_allclose(released.cleaned + released.removed, y, rtol=0, atol=1e-12)
    inside = np.zeros(y.size, bool)
    for a, b in spans:
        inside[int(np.floor(a * sr)):int(np.ceil(b * sr))] = True
    assert np.sum(released.removed[inside] ** 2) > 1.02 * np.sum(held.removed[inside] ** 2)
    np.testing.assert_array_equal(released.removed[~inside], 0.0)

    def sdr(out):
        return 10 * np.log10(np.sum(music[:, 0] ** 2) / np.sum((out - music[:, 0]) ** 2))
    assert sdr(released.cleaned) > sdr(held.cleaned) + 1.0
