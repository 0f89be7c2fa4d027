import numpy as np
import pytest

from cleantake.errors import ParameterError
from cleantake.spectral import StftConfig, band_matrix, istft, stft


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000, 96000, 192000])
def test_stft_roundtrip_any_rate(sr):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, sr // 3 + 17))
    cfg = StftConfig(sr)
    X = stft(x, cfg)
    assert X.shape == (2, cfg.n_freq, cfg.n_frames(x.shape[-1]))
    y = istft(X, cfg, x.shape[-1])
    np.testing.assert_allclose(y, x, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 44100 // 3 + 17), (5000,), (3, 1100)])
def test_stft_offset_is_the_offset_taken_out_first_bit_for_bit(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 0.3 + 0.01
    offset = rng.standard_normal(shape[:-1]) * 0.01
    cfg = StftConfig(44100)
    X = stft(x, cfg, workers=1, offset=offset)
    assert X.dtype == np.complex64
    np.testing.assert_array_equal(X, stft(x - np.asarray(offset)[..., None], cfg, workers=1))
    # without an offset, float64 and integer input are rounded to float32 as before
    np.testing.assert_array_equal(stft(x, cfg, workers=1), stft(x.astype(np.float32), cfg, workers=1))
    ints = (x * 1000).astype(np.int16)
    np.testing.assert_array_equal(stft(ints, cfg, workers=1), stft(ints.astype(np.float32), cfg, workers=1))


def test_sizes_in_ms_give_same_seconds_at_every_rate():
    a, b = StftConfig(44100), StftConfig(96000)
    assert abs(a.win_length / a.sr - b.win_length / b.sr) < 1e-3
    assert abs(a.frame_seconds - b.frame_seconds) < 1e-4


def test_frame_times_match_centres():
    cfg = StftConfig(16000)
    x = np.zeros(16000)
    x[8000] = 1.0  # impulse at 0.5 s
    X = np.abs(stft(x, cfg))
    t = cfg.frame_times(X.shape[-1])
    assert abs(t[np.argmax(X.sum(axis=0))] - 0.5) <= cfg.frame_seconds


def test_bad_sizes_refused():
    with pytest.raises(ParameterError, match="hop"):
        StftConfig(44100, window_ms=20, hop_ms=15)
    with pytest.raises(ParameterError, match="window"):
        StftConfig(44100, window_ms=1)


def test_band_matrix_covers_every_bin():
    cfg = StftConfig(44100)
    P = band_matrix(cfg, 128)
    assert P.shape == (128, cfg.n_freq)
    assert (P >= 0).all() and (P.sum(axis=0) > 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("sr,hop_ms", [(44100, 11.5), (22050, 23.0), (8000, 11.5), (48000, 5.0)])
def test_istft_columns_equals_istft_of_sparse_spectrogram(sr, hop_ms):
    """Transforming back only the non-zero frames gives the whole inverse (frames at both ends
    included, where windows reach past the signal)."""
    from cleantake.spectral import istft_columns

    cfg = StftConfig(sr, 46.0, hop_ms)
    x = np.random.default_rng(1).standard_normal((2, int(2.5 * sr)))
    X = stft(x, cfg)
    T = X.shape[-1]
    cols = np.r_[0:3, 30:61, 62, T - 5:T]
    Z = np.zeros_like(X)
    Z[..., cols] = X[..., cols]
    full = istft(Z, cfg, x.shape[-1])
    part = istft_columns(X[..., cols], cols, cfg, x.shape[-1])
    assert part.shape == full.shape
    np.testing.assert_allclose(part, full, rtol=0, atol=1e-6 * np.abs(full).max())
    start = (np.arange(T) + cfg.first_frame) * cfg.hop_length - cfg.win_length // 2  # first sample of each frame
    gap = part[:, max(start[2] + cfg.win_length, 0): start[30]]  # reached by none of the given frames
    assert gap.size and not gap.any()
    empty = istft_columns(X[..., :0], np.arange(0), cfg, x.shape[-1])
    assert empty.shape == full.shape and not empty.any()


# Sizes that exercise the framing: the default at several rates, odd and even hop counts per
# window, a hop of half the window, windows whose length is and is not a power of two.
_FRAMINGS = [(44100, 46.0, 11.5), (48000, 46.0, 11.5), (22050, 23.0, 11.5), (8000, 46.0, 23.0),
             (96000, 20.0, 5.0), (16000, 64.0, 16.0), (44100, 93.0, 7.0)]


@pytest.mark.parametrize("sr,window_ms,hop_ms", _FRAMINGS)
def test_framing_is_scipys_short_time_fft(sr, window_ms, hop_ms):
    """The framing computed without scipy.signal (which takes most of a short file's run time
    to import) is ShortTimeFFT's: the same first and last frames for every length, and the same
    transforms (the inverse to 1e-12, so the same dual window)."""
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    cfg = StftConfig(sr, window_ms, hop_ms)
    ref = ShortTimeFFT(hann(cfg.win_length, sym=False), hop=cfg.hop_length, fs=sr, mfft=cfg.n_fft,
                       fft_mode="onesided", scale_to=None)
    assert cfg.first_frame == ref.p_min
    half = cfg.win_length - cfg.win_length // 2
    for n in [half, half + 1, cfg.hop_length * 7, cfg.hop_length * 7 + 1, sr, sr + 3, 3 * sr - 1]:
        assert cfg.n_frames(n) == ref.p_max(n) - ref.p_min, n
    x = np.random.default_rng(2).standard_normal((2, sr // 2 + 11))
    X = stft(x, cfg)
    Xr = ref.stft(x, axis=-1)
    assert X.shape == Xr.shape
    np.testing.assert_allclose(X, Xr, rtol=0, atol=1e-5 * np.abs(Xr).max())  # ours in float32
    Xd = X.astype(np.complex128)
    np.testing.assert_allclose(istft(Xd, cfg, x.shape[-1]), ref.istft(Xd, k1=x.shape[-1]), rtol=0, atol=1e-12)


def test_istft_over_several_chunks_of_frames_is_scipys():
    """The inverse works through the frames a few hundred at a time: over several chunks and a
    partial last one, for two channels at once, it is ShortTimeFFT's inverse."""
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    sr = 8000
    cfg = StftConfig(sr)
    ref = ShortTimeFFT(hann(cfg.win_length, sym=False), hop=cfg.hop_length, fs=sr, mfft=cfg.n_fft,
                       fft_mode="onesided", scale_to=None)
    x = np.random.default_rng(5).standard_normal((2, 1300 * cfg.hop_length + 17))
    X = stft(x, cfg).astype(np.complex128)
    assert X.shape[-1] > 2 * 512
    y = istft(X, cfg, x.shape[-1])
    np.testing.assert_allclose(y, ref.istft(X, k1=x.shape[-1]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-5)


def test_too_short_for_one_frame_refused():
    cfg = StftConfig(44100)
    with pytest.raises(ParameterError, match="half the analysis window"):
        cfg.n_frames(cfg.win_length // 2 - 1)


def test_istft_of_fewer_frames_than_the_length_needs_pads_with_silence():
    cfg = StftConfig(22050)
    x = np.random.default_rng(3).standard_normal(22050)
    X = stft(x, cfg)
    y = istft(X[..., : X.shape[-1] // 2], cfg, x.shape[-1])
    Z = X.copy()
    Z[..., X.shape[-1] // 2:] = 0
    np.testing.assert_allclose(y, istft(Z, cfg, x.shape[-1]), rtol=0, atol=1e-12)
    assert not y[-cfg.win_length:].any()


@pytest.mark.parametrize("sr", [48000, 96000, 192000])
def test_band_matrix_above_fmax_is_kept_out_of_the_bands_but_mapped_back(sr):
    from cleantake.spectral import ANALYSIS_FMAX_HZ, bands_to_bins

    cfg = StftConfig(sr)
    P = band_matrix(cfg, 128, fmax=ANALYSIS_FMAX_HZ)
    f = cfg.freqs()
    above = f > ANALYSIS_FMAX_HZ + sr / cfg.n_fft
    assert above.any() and (P.sum(axis=0) > 0).all()
    # Content above the limit all but misses the bands: a flat spectrum there alone pools to
    # less than -60 dB of the same level below it.
    hi, lo = above.astype(np.float32)[:, None], (~above).astype(np.float32)[:, None]
    assert float((P @ hi).max()) < 1e-3 * float((P @ lo).min())
    # ... but every bin there gets the top band's value back.
    B = np.linspace(0.1, 0.9, 128, dtype=np.float32)[:, None]
    np.testing.assert_allclose(bands_to_bins(B, P)[above, 0], B[-1, 0], rtol=1e-5)
    # The band centres are those of 44.1 kHz: the top band peaks at the limit.
    assert abs(f[np.argmax(P[-1])] - ANALYSIS_FMAX_HZ) <= sr / cfg.n_fft


def test_band_matrix_at_the_limit_is_unchanged():
    from cleantake.spectral import ANALYSIS_FMAX_HZ

    cfg = StftConfig(44100)
    np.testing.assert_array_equal(band_matrix(cfg, 128, fmax=ANALYSIS_FMAX_HZ), band_matrix(cfg, 128))
