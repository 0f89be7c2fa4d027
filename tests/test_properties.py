"""Property-based tests (hypothesis) of the I/O layer and of the whole pipeline.

Random lengths, channel counts, sample rates, sample values and levels go through
``cleantake.io`` (write -> read, streaming) and through ``cleantake.clean``. The properties:

* nothing but cleantake's own errors (:class:`CleantakeError`) ever escapes;
* outputs have the input's shape (length and channels);
* ``cleaned + removed == input``;
* what is written is read back exactly (float) or clipped into range without wrap-around
  (integer subtypes).

The runs are derandomized so CI is reproducible; set CLEANTAKE_HYPOTHESIS_RANDOM=1 to explore
new examples locally and CLEANTAKE_HYPOTHESIS_SCALE=10 for ten times as many.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cleantake
from cleantake import io as cio
from cleantake.errors import CleantakeError

_RANDOM = os.environ.get("CLEANTAKE_HYPOTHESIS_RANDOM") == "1"
_SCALE = max(1, int(os.environ.get("CLEANTAKE_HYPOTHESIS_SCALE", "1")))  # more examples
common = settings(
    deadline=None,
    derandomize=not _RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

SAMPLERATES = st.one_of(
    st.sampled_from([8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000]),
    st.integers(cio.MIN_SAMPLERATE, cio.MAX_SAMPLERATE),
)
CHANNELS = st.integers(1, cio.MAX_CHANNELS)
KINDS = ("noise", "silence", "dc", "sine", "impulses", "square", "decaying")


@st.composite
def signals(draw, max_seconds: float = 0.6, max_level_db: float = 20.0):
    """(audio (n, C) float64, samplerate): a random kind of signal at a random level."""
    sr = draw(SAMPLERATES)
    channels = draw(CHANNELS)
    # from a single sample up to max_seconds; a quarter shorter than one analysis window
    window = int(0.046 * sr)  # default analysis window: shorter inputs are returned unchanged
    if draw(st.sampled_from(["long", "long", "long", "short"])) == "short" or max_seconds * sr <= window:
        n = draw(st.integers(1, window))
    else:
        n = draw(st.integers(window + 1, int(max_seconds * sr)))
    kind = draw(st.sampled_from(KINDS))
    level_db = draw(st.floats(-200.0, max_level_db))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / sr
    if kind == "noise":
        x = rng.standard_normal((n, channels)) * 0.3
    elif kind == "silence":
        x = np.zeros((n, channels))
    elif kind == "dc":
        x = np.full((n, channels), rng.uniform(-1, 1))
    elif kind == "sine":
        x = np.sin(2 * np.pi * rng.uniform(20, sr / 2) * t + rng.uniform(0, 6, channels))
    elif kind == "impulses":
        x = np.zeros((n, channels))
        idx = rng.integers(0, n, size=max(1, n // 1000))
        x[idx] = rng.uniform(-1, 1, (idx.size, channels))
    elif kind == "square":
        x = np.sign(np.sin(2 * np.pi * rng.uniform(20, 2000) * t)) * np.ones(channels)
    else:
        x = rng.standard_normal((n, channels)) * np.exp(-t * rng.uniform(1, 50))
    x = x * 10.0 ** (level_db / 20.0)
    seconds = n / sr
    event(f"length {'< 46 ms' if seconds < 0.046 else '46-200 ms' if seconds < 0.2 else '>= 200 ms'}")
    event(f"channels {channels}")
    event(f"kind {kind}")
    if channels > 1 and draw(st.booleans()):
        x[:, draw(st.integers(0, channels - 1))] = 0.0  # a dead channel
    return np.ascontiguousarray(x, dtype=np.float64), sr


def raw_arrays(max_len: int = 64):
    """Small arrays of arbitrary finite values (subnormals, huge, exact full scale ...)."""
    return st.integers(1, cio.MAX_CHANNELS).flatmap(lambda c: hnp.arrays(
        np.float64, st.tuples(st.integers(1, max_len), st.just(c)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=True)))


# ======================================================================================
# I/O layer
# ======================================================================================


@settings(common, max_examples=40 * _SCALE)
@given(sig=signals(max_seconds=0.2), subtype=st.sampled_from(["FLOAT", "DOUBLE"]),
       ext=st.sampled_from(["wav", "w64", "aiff", "caf"]))
def test_float_outputs_read_back_exactly(tmp_path_factory, sig, subtype, ext):
    x, sr = sig
    out = tmp_path_factory.mktemp("p") / f"o.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float subtypes are never clipped
        cio.write_audio(out, x, sr, subtype=subtype, clip="clip")
    y, info = cio.read_audio(out)
    assert y.shape == x.shape and info.samplerate == sr and info.subtype == subtype
    expect = x.astype(np.float32).astype(np.float64) if subtype == "FLOAT" else x
    np.testing.assert_array_equal(y, expect)


@settings(common, max_examples=40 * _SCALE)
@given(x=raw_arrays(), sr=SAMPLERATES, subtype=st.sampled_from(["PCM_16", "PCM_24", "PCM_32", "PCM_U8"]),
       ext=st.sampled_from(["wav", "flac", "aiff"]))
def test_integer_outputs_clip_without_wraparound(tmp_path_factory, x, sr, subtype, ext):
    if ext == "flac" and subtype in ("PCM_32", "PCM_U8"):
        subtype = "PCM_24"
    if ext == "aiff" and subtype == "PCM_U8":
        ext = "wav"  # refused for AIFF, see test_io.test_eight_bit_aiff_refused
    if ext == "flac" and sr > 65535 and sr % 10:
        ext = "wav"  # FLAC cannot store such rates: refused, see test_io
    out = tmp_path_factory.mktemp("p") / f"o.{ext}"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cio.write_audio(out, x, sr, subtype=subtype, clip="clip")
    y, info = cio.read_audio(out)
    assert y.shape == x.shape and info.subtype == subtype
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8}[subtype]
    lsb = 2.0 ** -(bits - 1)
    expect = np.clip(x, -1.0, 1.0 - lsb)
    assert np.all(np.abs(y - expect) <= lsb * 1.0001)  # within one step: no wrap-around
    n_over = int(np.count_nonzero((x < -1.0) | (x > 1.0 - lsb)))
    clip_warnings = [w for w in rec if issubclass(w.category, cio.ClippingWarning)]
    if n_over:
        assert len(clip_warnings) == 1 and f"{n_over} sample" in str(clip_warnings[0].message)
    else:
        assert not clip_warnings


@settings(common, max_examples=30 * _SCALE)
@given(x=raw_arrays(), clip=st.sampled_from(list(cio.CLIP_POLICIES) + ["wrap", ""]),
       subtype=st.sampled_from([None, "PCM_16", "FLOAT", "VORBIS", "ULAW", "bogus"]),
       ext=st.sampled_from(["wav", "flac", "ogg", "txt"]))
def test_writer_raises_only_cleantake_errors(tmp_path_factory, x, clip, subtype, ext):
    folder = tmp_path_factory.mktemp("p")
    out = folder / f"o.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cio.write_audio(out, x, 44100, subtype=subtype, clip=clip)
        except CleantakeError:
            assert not out.exists()
        else:
            assert cio.read_audio(out)[0].shape == x.shape
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


@settings(common, max_examples=30 * _SCALE)
@given(sig=signals(max_seconds=0.3), block_s=st.floats(0.001, 0.5),
       overlap_frac=st.floats(0.0, 0.95))
def test_iter_blocks_rebuilds_the_file(tmp_path_factory, sig, block_s, overlap_frac):
    x, sr = sig
    x = np.clip(np.round(x * 32768) / 32768, -1, 1 - 2**-15)
    src = tmp_path_factory.mktemp("p") / "i.wav"
    cio.write_audio(src, x, sr, subtype="PCM_16")
    rebuilt = np.full_like(x, np.nan)
    for start, block in cio.iter_blocks(src, block_s=block_s, overlap_s=block_s * overlap_frac):
        rebuilt[start:start + len(block)] = block
    np.testing.assert_array_equal(rebuilt, x)


@settings(common, max_examples=25 * _SCALE)
@given(data=st.binary(min_size=0, max_size=2000), header=st.sampled_from(
    [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS", b"ID3", b"FORM\x00\x00\x00\x00AIFF"]))
def test_reader_raises_only_cleantake_errors_on_garbage(tmp_path_factory, data, header):
    p = tmp_path_factory.mktemp("p") / "garbage.wav"
    p.write_bytes(header + data)
    try:
        y, info = cio.read_audio(p)
    except CleantakeError:
        return
    # if libsndfile accepts it, the result must still honour the contract
    assert y.ndim == 2 and y.shape == (info.frames, info.channels) and np.all(np.isfinite(y))


# ======================================================================================
# Pipeline (cleantake.clean)
# ======================================================================================

_CLEANERS: dict = {}


def _cleaner(method: str) -> cleantake.Cleaner:
    if method not in _CLEANERS:
        _CLEANERS[method] = cleantake.Cleaner("any", method=method)
    return _CLEANERS[method]


def _check_result(x: np.ndarray, res, sr: int) -> None:
    assert res.cleaned.shape == x.shape and res.removed.shape == x.shape
    assert res.cleaned.dtype == np.float64 and res.removed.dtype == np.float64
    assert np.all(np.isfinite(res.cleaned)) and np.all(np.isfinite(res.removed))
    scale = max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    np.testing.assert_allclose(res.cleaned + res.removed, x, rtol=0, atol=1e-9 * scale)
    assert res.sr == sr
    for e in res.events:
        assert 0.0 <= e.start_s <= e.end_s <= x.shape[0] / sr + 1e-6


@settings(common, max_examples=25 * _SCALE)
@given(sig=signals(max_seconds=0.6), mono=st.booleans(),
       method=st.sampled_from(["proposed", "proposed", "nmf", "kam"]))
def test_clean_shape_and_sum_property(sig, mono, method):
    x, sr = sig
    if mono:
        x = x[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too-short inputs warn; tested in test_cli_errors
        res = _cleaner(method).clean(x, sr)  # valid input: no exception at all
    _check_result(x, res, sr)


@settings(common, max_examples=20 * _SCALE)
@given(x=raw_arrays(max_len=4000), sr=SAMPLERATES)
def test_clean_arbitrary_values(x, sr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _cleaner("proposed").clean(x, sr)  # any finite values at any scale are valid
    _check_result(x, res, sr)


@settings(common, max_examples=15 * _SCALE)
@given(x=raw_arrays(max_len=2000), sr=SAMPLERATES,
       bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.floats(0, 1))
def test_clean_refuses_non_finite_with_cleantake_error(x, sr, bad, where):
    x = x.copy()
    x[int(where * (len(x) - 1)), 0] = bad
    with pytest.raises(CleantakeError):
        _cleaner("proposed").clean(x, sr)


@settings(common, max_examples=10 * _SCALE)
@given(sig=signals(max_seconds=0.5, max_level_db=-1.0),
       fmt=st.sampled_from([("wav", "PCM_16"), ("flac", "PCM_24"), ("wav", "FLOAT")]))
def test_clean_file_outputs_sum_to_the_input_file(tmp_path_factory, sig, fmt):
    """Through files: cleaned file + removed file == input file (same grid, same length)."""
    from cleantake.files import clean_file

    x, sr = sig
    ext, subtype = fmt
    if ext == "flac" and sr > 65535 and sr % 10:
        ext = "w64"
    folder = tmp_path_factory.mktemp("p")
    src = folder / f"in.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cio.write_audio(src, x, sr, subtype=subtype)
    audio, _ = cio.read_audio(src)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clean_file(src, folder / f"out.{ext}", removed_path=folder / f"rem.{ext}",
                   cleaner=_cleaner("proposed"))
    cleaned, ci = cio.read_audio(folder / f"out.{ext}")
    removed, ri = cio.read_audio(folder / f"rem.{ext}")
    assert cleaned.shape == removed.shape == audio.shape
    assert ci.subtype == ri.subtype == subtype
    # cleaned + removed == input on every sample, except where an output had to be clipped to
    # full scale; such a sample is always reported (ClippingWarning), never silent.
    tol = 1e-6 * max(1.0, float(np.abs(audio).max())) if subtype == "FLOAT" else 0.0
    off = np.abs(cleaned + removed - audio) > tol
    if off.any():
        rng = cio.full_scale_range(subtype)
        assert rng is not None, "a float output never clips, so the sum must hold everywhere"
        lo, hi = rng
        at_full_scale = (cleaned <= lo) | (cleaned >= hi) | (removed <= lo) | (removed >= hi)
        assert at_full_scale[off].all()
        assert any(issubclass(w.category, cio.ClippingWarning) for w in rec)


@settings(common, max_examples=12 * _SCALE)
@given(sig=signals(max_seconds=0.5, max_level_db=0.0),
       fmt=st.sampled_from([("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"),
                            ("flac", "PCM_24"), ("aiff", "PCM_16")]))
def test_file_to_file_keeps_length_channels_rate_and_format(tmp_path_factory, sig, fmt):
    """Input file -> read -> clean -> write like the input -> read: same shape, rate, format."""
    x, sr = sig
    ext, subtype = fmt
    if ext == "flac" and sr > 65535 and sr % 10:
        ext = "w64"  # FLAC cannot store such rates: refused, see test_io
    folder = tmp_path_factory.mktemp("p")
    src = folder / f"in.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cio.write_audio(src, x, sr, subtype=subtype)
    before = src.read_bytes()
    audio, info = cio.read_audio(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _cleaner("proposed").clean(audio, info.samplerate)
        out = folder / f"out.{ext}"
        cio.check_output(src, out, overwrite=False)
        cio.write_audio(out, res.cleaned, info.samplerate, like=info)
    y, oinfo = cio.read_audio(out)
    assert y.shape == audio.shape
    assert (oinfo.samplerate, oinfo.channels, oinfo.subtype) == (sr, info.channels, subtype)
    assert src.read_bytes() == before  # input untouched


@settings(common, max_examples=6 * _SCALE)
@given(sig=signals(max_seconds=0.5))
def test_clean_is_deterministic(sig):
    x, sr = sig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cleantake.clean(x, sr)
        b = cleantake.clean(x.copy(), sr)
    np.testing.assert_array_equal(a.cleaned, b.cleaned)
    assert [e.to_dict() for e in a.events] == [e.to_dict() for e in b.events]
